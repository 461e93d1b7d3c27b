/*
 * The interactive prompt (--repl): GNU readline's callback interface driven
 * by the session's event loop (no blocking readline()), history in
 * ~/.vmdbg_history, completion from the command table, guest output printed
 * above the prompt without garbling it. Keys at the prompt: Ctrl-C pauses the
 * guest (or interrupts a running wait/script), Ctrl-A C switches to the guest
 * console and back, Ctrl-A X quits, Ctrl-A H lists the keys, an empty line
 * repeats `step` or continues `x`.
 *
 * When stdin is not a terminal (a pipe, a file), there is no readline: each line is
 * one command, run in order as a script's are (a `wait` holds the next line back), but
 * a failing command is reported and the session goes on, as at the prompt. No prompt
 * and no echo are printed, so the output is each command's answer whole, with guest
 * lines and notices between them as whole lines; empty lines are skipped (no repeat);
 * nothing is added to the history. The end of input ends the session as `quit` does
 * (exit 0) once the last command is done.
 */
#ifndef VMDBG_REPL_H
#define VMDBG_REPL_H

struct session;

/* --repl: install readline on stdin; the prompt takes the focus. 0 or -errno. */
int repl_start(struct session *s);
/* stdin is readable and the prompt has the focus. */
void repl_on_stdin(struct session *s);
/* Ctrl-A C: switch between the guest console and the prompt. */
void repl_toggle(struct session *s);
/* Remove the prompt, save the history (the session restores the terminal). */
void repl_stop(struct session *s);

#endif
