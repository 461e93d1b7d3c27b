/*
 * Scripts: `--script FILE` and `source FILE`. Commands run on the main
 * thread as a state machine: a `wait` registers its condition and a timeout
 * and the runner continues when the condition holds, so the event loop is
 * never blocked.
 *
 * The end of a --script run:
 * - a command fails (assert, wait timeout, any command error): the file and
 *   line and the reason are printed, vmdbg exits 1 (the guest is stopped);
 * - every command succeeded and the last one was `resume` (or `cont`, `c`):
 *   the guest keeps running and the run ends as the guest ends it (power-off:
 *   exit 0), or with Ctrl-A X / SIGTERM;
 * - every command succeeded otherwise: the guest is stopped and vmdbg exits 0;
 * - with --repl as well, the prompt takes over when the script ends well.
 * While a script runs, a run ended by the guest (power-off, crash) counts as
 * a failed script: exit 1.
 */
#ifndef VMDBG_SCRIPT_H
#define VMDBG_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

struct session;
struct options;

/*
 * Check script PATH whole without running it (--check-script, and --script before the
 * guest starts): every line's command, argument count and every argument its command
 * can judge without the guest (numbers, durations, event and status names, queues,
 * ports, vCPUs against --cpus, regexes, register names, symbols when --kernel has
 * them), following `source`. Returns the number of commands, -EINVAL with ERR as
 * "FILE:LINE: what is wrong", or -ENOENT with ERR naming the unreadable file.
 */
int script_check(const struct options *o, const char *path, char *err, size_t errlen);
/* The same a line at a time (the fuzzer): a stand-in machine from O, one line, free. */
struct script_check;
struct script_check *script_check_new(const struct options *o);
int script_check_line(struct script_check *k, const char *line, char *err, size_t errlen);
void script_check_free(struct script_check *k);
/* --script: read PATH now (ERR gets a one-line reason), run it once the guest starts. */
int script_start(struct session *s, const char *path, char *err, size_t errlen);
/* Whether a script (or a `source`) is running. */
bool script_active(struct session *s);
/* Abandon any running script (quit). */
void script_free(struct session *s);

#endif
