/* The readline front end (see repl.h). */
#include "repl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "cmd_priv.h"
#include "emu/debug.h"
#include "script.h"
#include "session.h"

#define REPL_PROMPT "(vmdbg) "
#define REPL_HISTORY_MAX 1000
#define REPL_PIPE_MAX (16u << 20) /* unread piped input held at most */

struct repl_state {
	struct session *s;
	bool active;
	bool installed; /* the readline handler is installed (no command running) */
	bool busy;      /* a wait or a sourced script runs */
	bool esc;       /* Ctrl-A seen */
	uint8_t in[512];
	size_t in_len, in_pos;
	char partial[4096]; /* guest output line not yet ended */
	size_t partial_len;
	char histfile[512];
	/* stdin is not a terminal: whole lines, no readline (see repl.h). */
	bool lines;
	bool running_lines; /* lines_run is on the stack */
	bool eof;
	char *pending; /* input read but not run yet */
	size_t pending_len;
	int kick_fd; /* stdin that epoll refuses (a file, /dev/null): read once the loop runs */
};

static void lines_run(struct repl_state *r);

/* readline keeps global state: there is one prompt per process. */
static struct repl_state *the_repl;

static struct repl_state *rs_of(struct session *s)
{
	struct cmd_state *cs = cmd_state_of(s);

	return cs ? cs->repl : NULL;
}

bool repl_active(struct session *s)
{
	struct repl_state *r = rs_of(s);

	return r && r->active;
}

static void prep_noop(int meta)
{
	/* The session keeps the terminal raw: readline must not change it, only echo. */
	rl_tty_set_echoing(1);
}

static void deprep_noop(void)
{
}

static int repl_getc(FILE *f)
{
	struct repl_state *r = the_repl;
	unsigned char ch;

	if (r && r->in_pos < r->in_len)
		return r->in[r->in_pos++];
	/* readline wants more of a key sequence than arrived: wait for it. */
	if (read(STDIN_FILENO, &ch, 1) == 1)
		return ch;
	return EOF;
}

static void line_handler(char *line);

static void show_prompt(struct repl_state *r)
{
	if (!r->installed && !r->busy && r->s->prompt_focus) {
		rl_callback_handler_install(REPL_PROMPT, line_handler);
		r->installed = true;
	}
}

void repl_print(struct session *s, const char *text)
{
	struct repl_state *r = rs_of(s);
	bool shown = r && r->installed && s->prompt_focus;
	char *saved = NULL;
	int point = 0;

	if (shown) {
		saved = rl_copy_text(0, rl_end);
		point = rl_point;
		rl_save_prompt();
		rl_replace_line("", 0);
		rl_redisplay();
		fputs("\r", stdout);
	}
	fputs(text, stdout);
	if (*text && text[strlen(text) - 1] != '\n')
		fputs("\n", stdout);
	fflush(stdout);
	if (shown) {
		rl_restore_prompt();
		rl_replace_line(saved ? saved : "", 0);
		rl_point = point;
		rl_forced_update_display();
		free(saved);
	}
}

/* Guest output at the prompt: whole lines only, so the prompt never ends up mid-line. */
static void guest_lines(struct repl_state *r, const char *text)
{
	for (const char *p = text; *p; p++) {
		if (*p == '\r')
			continue;
		if (r->partial_len < sizeof(r->partial) - 2)
			r->partial[r->partial_len++] = *p;
		if (*p == '\n' || r->partial_len >= sizeof(r->partial) - 2) {
			r->partial[r->partial_len] = 0;
			repl_print(r->s, r->partial);
			r->partial_len = 0;
		}
	}
}

static void run_line(struct repl_state *r, const char *line)
{
	struct session *s = r->s;
	struct cmd_state *cs = cmd_state_of(s);
	struct cmd_out out;
	char rep[160];
	int res;

	if (!*line && cs->repeat[0]) {
		/* gdb's empty-line repeat: step again, or dump the memory after the last x. */
		if (!strcmp(cs->repeat, "x") || !strcmp(cs->repeat, "xp"))
			snprintf(rep, sizeof(rep), "%s%s 0x%llx", cs->repeat, cs->x_fmt,
				 (unsigned long long)cs->x_next);
		else
			snprintf(rep, sizeof(rep), "%s", cs->repeat);
		line = rep;
	}
	cmd_out_init(&out, false);
	res = cmd_exec(s, line, &out);
	if (out.len) {
		fputs(out.buf, stdout);
		fflush(stdout);
	}
	cmd_out_free(&out);
	if (res == CMD_QUIT) {
		vm_end(&s->vm, VM_END_USER, "quit");
		return;
	}
	if (res == CMD_WAIT)
		r->busy = true;
}

/* The prompt again, or in line mode the next line. */
static void next_input(struct repl_state *r)
{
	if (r->lines)
		lines_run(r);
	else
		show_prompt(r);
}

static void repl_wait_done(struct session *s, void *opaque, int result, const char *msg)
{
	struct repl_state *r = rs_of(s);

	if (msg)
		repl_print(s, msg);
	if (r) {
		r->busy = false;
		next_input(r);
	}
}

void repl_script_done(struct session *s)
{
	struct repl_state *r = rs_of(s);

	if (r && r->busy) {
		r->busy = false;
		next_input(r);
	}
}

/* A command that waits (wait, sleep, source) holds the input back until it is done. */
static void after_command(struct repl_state *r)
{
	if (r->busy && !script_active(r->s) && cmd_wait_pending(r->s))
		cmd_wait_set_done(r->s, repl_wait_done, NULL);
	else if (r->busy && !script_active(r->s) && !cmd_wait_pending(r->s))
		r->busy = false;
}

static void line_handler(char *line)
{
	struct repl_state *r = the_repl;

	if (!r)
		return;
	/* The handler is removed while the command runs: no prompt under its output. */
	rl_callback_handler_remove();
	r->installed = false;
	if (!line) {
		fputs("\n", stdout);
		vm_end(&r->s->vm, VM_END_USER, "end of input at the prompt");
		return;
	}
	if (*line) {
		HIST_ENTRY *last = history_length ? history_get(history_base + history_length - 1) : NULL;

		if (!last || strcmp(last->line, line))
			add_history(line);
	}
	run_line(r, line);
	free(line);
	after_command(r);
	show_prompt(r);
}

/* --- line mode: stdin is a pipe or a file ------------------------------------------ */

/* Run the complete lines read so far, one at a time; the end of input is a `quit`. */
static void lines_run(struct repl_state *r)
{
	struct session *s = r->s;

	if (r->running_lines)
		return; /* a wait done inside run_line: the loop below goes on */
	r->running_lines = true;
	while (!r->busy && !vm_ended(&s->vm)) {
		char *nl = memchr(r->pending, '\n', r->pending_len), *line;
		size_t len = nl ? (size_t)(nl - r->pending) : r->pending_len;

		if (!nl && (!r->eof || !r->pending_len))
			break;
		line = strndup(r->pending, len);
		r->pending_len -= nl ? len + 1 : len;
		memmove(r->pending, r->pending + (nl ? len + 1 : len), r->pending_len);
		if (!line)
			break;
		line[strcspn(line, "\r")] = 0;
		/* An empty line is nothing here: gdb's repeat is for a person at the prompt. */
		if (line[strspn(line, " \t")]) {
			run_line(r, line);
			after_command(r);
		}
		free(line);
	}
	r->running_lines = false;
	if (r->eof && !r->pending_len && !r->busy && !vm_ended(&s->vm))
		vm_end(&s->vm, VM_END_USER, "end of input");
}

/* Read what stdin has; false at its end. */
static bool lines_read(struct repl_state *r)
{
	char buf[4096];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	char *p;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	if (r->pending_len + (size_t)n > REPL_PIPE_MAX) {
		repl_print(r->s, "vmdbg: more than 16 MiB of commands wait to run: input ignored");
		return false;
	}
	p = realloc(r->pending, r->pending_len + (size_t)n);
	if (!p)
		return false;
	r->pending = p;
	memcpy(r->pending + r->pending_len, buf, (size_t)n);
	r->pending_len += (size_t)n;
	return true;
}

static void lines_input(struct repl_state *r)
{
	if (!lines_read(r)) {
		if (r->s->stdin_open)
			evloop_del(&r->s->loop, STDIN_FILENO);
		r->s->stdin_open = false;
		r->eof = true;
	}
	lines_run(r);
}

/* stdin epoll refuses (a regular file, /dev/null) never blocks: read it all once running. */
static void on_lines_kick(void *opaque, int fd, uint32_t events)
{
	struct repl_state *r = opaque;

	evloop_del(&r->s->loop, fd);
	close(fd);
	r->kick_fd = -1;
	while (lines_read(r))
		;
	r->eof = true;
	lines_run(r);
}

/* --- completion ------------------------------------------------------------------ */

static char **cands;
static int ncands, icand;

static char *cand_gen(const char *text, int state)
{
	if (icand < ncands)
		return strdup(cands[icand++]);
	return NULL;
}

static char **repl_complete(const char *text, int start, int end)
{
	struct repl_state *r = the_repl;
	char before[1024];

	rl_attempted_completion_over = 1;
	for (int i = 0; i < ncands; i++)
		free(cands[i]);
	free(cands);
	cands = calloc(256, sizeof(*cands));
	ncands = icand = 0;
	if (!cands || !r)
		return NULL;
	snprintf(before, sizeof(before), "%.*s", start, rl_line_buffer);
	ncands = cmd_complete(r->s, before, text, cands, 256);
	/* "port." or "rax=" is half a word: no space after it, the rest is typed next. */
	if (ncands == 1 && strchr(".=", cands[0][strlen(cands[0]) - 1]))
		rl_completion_append_character = '\0';
	return rl_completion_matches(text, cand_gen);
}

/* --- keys -------------------------------------------------------------------------- */

static void ctrl_c(struct repl_state *r)
{
	struct session *s = r->s;
	struct cmd_out out;

	if (r->busy) {
		cmd_wait_cancel(s);
		if (script_active(s))
			script_free(s);
		r->busy = false;
		repl_print(s, "interrupted");
		show_prompt(r);
		return;
	}
	if (r->installed) {
		rl_replace_line("", 0);
		rl_callback_handler_remove();
		r->installed = false;
		fputs("^C\n", stdout);
	}
	if (!vm_is_paused(&s->vm)) {
		cmd_out_init(&out, false);
		cmd_exec(s, "pause", &out);
		if (out.len)
			fputs(out.buf, stdout);
		cmd_out_free(&out);
	}
	fflush(stdout);
	show_prompt(r);
}

void repl_on_stdin(struct session *s)
{
	struct repl_state *r = rs_of(s);
	uint8_t buf[256];
	ssize_t n;

	if (!r)
		return;
	if (r->lines) {
		lines_input(r);
		return;
	}
	n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		evloop_del(&s->loop, STDIN_FILENO);
		s->stdin_open = false;
		if (!r->busy && !script_active(s))
			vm_end(&s->vm, VM_END_USER, "end of input at the prompt");
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		uint8_t ch = buf[i];

		if (r->esc) {
			r->esc = false;
			if (ch == 'c' || ch == 'C') {
				repl_toggle(s);
				if (!s->prompt_focus) {
					/* The rest is typed for the guest. */
					size_t rest = (size_t)(n - i - 1);

					session_terminal_input(s, buf + i + 1, rest);
					return;
				}
				continue;
			}
			if (ch == 'x' || ch == 'X') {
				vm_end(&s->vm, VM_END_USER, "quit (C-a x)");
				return;
			}
			if (ch == 'h' || ch == 'H' || ch == '?') {
				repl_print(s, term_help_text);
				continue;
			}
			if (ch != TERM_ESCAPE)
				continue;
		} else if (ch == TERM_ESCAPE) {
			r->esc = true;
			continue;
		}
		if (ch == 0x03) {
			ctrl_c(r);
			continue;
		}
		if (!r->installed)
			continue; /* a command or wait runs: typed bytes are dropped */
		r->in[0] = ch;
		r->in_len = 1;
		r->in_pos = 0;
		rl_callback_read_char();
		r->in_len = r->in_pos = 0;
	}
}

void repl_toggle(struct session *s)
{
	struct repl_state *r = rs_of(s);

	if (!r)
		return;
	if (s->prompt_focus) {
		if (r->installed) {
			rl_callback_handler_remove();
			r->installed = false;
			fputs("\n", stdout);
		}
		fputs("[guest console: C-a c returns to the vmdbg prompt]\n", stdout);
		fflush(stdout);
		s->prompt_focus = false;
	} else {
		s->prompt_focus = true;
		fputs("\n[vmdbg prompt: C-a c switches to the guest console]\n", stdout);
		fflush(stdout);
		show_prompt(r);
	}
}

int repl_start(struct session *s)
{
	struct cmd_state *cs;
	struct repl_state *r;
	const char *home = getenv("HOME");

	cmd_session_init(s);
	cs = cmd_state_of(s);
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->s = s;
	r->active = true;
	r->kick_fd = -1;
	cs->repl = r;
	the_repl = r;
	s->prompt_focus = true;
	if (!isatty(STDIN_FILENO)) {
		struct itimerspec its = { .it_value = { 0, 1 } };

		r->lines = true;
		if (script_active(s))
			r->busy = true;
		if (s->stdin_open)
			return 0;
		r->kick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (r->kick_fd < 0 || timerfd_settime(r->kick_fd, 0, &its, NULL) ||
		    evloop_add(&s->loop, r->kick_fd, EPOLLIN, on_lines_kick, r))
			return -errno;
		return 0;
	}
	snprintf(r->histfile, sizeof(r->histfile), "%s/.vmdbg_history", home ? home : ".");
	rl_readline_name = "vmdbg";
	rl_instream = stdin;
	rl_outstream = stdout;
	rl_prep_term_function = prep_noop;
	rl_deprep_term_function = deprep_noop;
	rl_getc_function = repl_getc;
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	rl_attempted_completion_function = repl_complete;
	rl_basic_word_break_characters = " \t";
	using_history();
	stifle_history(REPL_HISTORY_MAX);
	read_history(r->histfile);
	fputs("vmdbg: `help` lists the commands; C-a c switches to the guest console, C-a x quits\n",
	      stdout);
	if (script_active(s))
		r->busy = true;
	show_prompt(r);
	return 0;
}

void repl_stop(struct session *s)
{
	struct repl_state *r = rs_of(s);

	if (!r)
		return;
	if (r->installed)
		rl_callback_handler_remove();
	r->installed = false;
	r->active = false;
	if (r->kick_fd >= 0) {
		evloop_del(&s->loop, r->kick_fd);
		close(r->kick_fd);
	}
	/* The guest's last line, unfinished, is not lost with the prompt. */
	if (r->partial_len) {
		r->partial[r->partial_len] = 0;
		fputs(r->partial, stdout);
		fputs("\n", stdout);
	}
	free(r->pending);
	if (!r->lines) {
		/* Piped commands are not a person's history. */
		write_history(r->histfile);
		history_truncate_file(r->histfile, REPL_HISTORY_MAX);
		fputs("\n", stdout);
	}
	fflush(stdout);
	for (int i = 0; i < ncands; i++)
		free(cands[i]);
	free(cands);
	cands = NULL;
	ncands = 0;
	the_repl = NULL;
	cmd_state_of(s)->repl = NULL;
	free(r);
}

/* The console hook's way in: guest output at the prompt. */
void repl_guest_output(struct session *s, const char *text)
{
	struct repl_state *r = rs_of(s);

	if (r)
		guest_lines(r, text);
}
