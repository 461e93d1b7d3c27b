/*
 * The one command table (docs/repl.md) behind the REPL, scripts (--script,
 * `source`) and gdb's `monitor`. A command line is parsed (quotes, escapes,
 * `#` comments), matched against the table (aliases included) and run; its
 * output goes into a struct cmd_out as text or, with `--json` or the `json`
 * prefix, as one QMP-style JSON object: {"return": ...} or
 * {"error": {"class": "GenericError", "desc": "..."}}.
 *
 * The parser, the table and every command's argument checks need no KVM:
 * a session whose VM has no vCPUs (unit tests) gets clear errors, never a
 * crash.
 */
#ifndef VMDBG_CMD_H
#define VMDBG_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct session;

/* Results of cmd_exec. */
#define CMD_OK 0
#define CMD_FAIL 1 /* an assert or wait failed: a script exits 1 */
#define CMD_QUIT 2 /* `quit`: the caller ends the run */
#define CMD_WAIT 3 /* the command waits (wait, sleep, source): see cmd_wait_* */
#define CMD_ERR 4  /* bad usage or an operation that failed: message in the output */

#define CMD_JSON_DEPTH 32

/* Output of one command: text, or one JSON document. */
struct cmd_out {
	char *buf;
	size_t len, cap;
	bool json;
	/* JSON writer state */
	int depth;
	bool first[CMD_JSON_DEPTH];
	char close[CMD_JSON_DEPTH];
	bool after_key;
};

void cmd_out_init(struct cmd_out *o, bool json);
void cmd_out_reset(struct cmd_out *o);
void cmd_out_free(struct cmd_out *o);
void cmd_printf(struct cmd_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cmd_write(struct cmd_out *o, const char *s, size_t len);

/* A tiny JSON writer into a cmd_out. KEY is NULL inside arrays and at the top. */
void jw_obj(struct cmd_out *o, const char *key);
void jw_arr(struct cmd_out *o, const char *key);
void jw_end(struct cmd_out *o); /* closes the innermost object or array */
void jw_str(struct cmd_out *o, const char *key, const char *val);
void jw_strn(struct cmd_out *o, const char *key, const char *val, size_t len);
void jw_u64(struct cmd_out *o, const char *key, uint64_t val);
void jw_i64(struct cmd_out *o, const char *key, int64_t val);
void jw_bool(struct cmd_out *o, const char *key, bool val);
void jw_null(struct cmd_out *o, const char *key);
void jw_dbl(struct cmd_out *o, const char *key, double val);

/*
 * Split LINE into words: blanks separate, '...' is literal, "..." takes
 * \n \t \r \\ \" \xNN, a '#' that starts a word ends the line. Returns the
 * number of words (ARGV entries point into BUF), or -EINVAL with ERR set
 * (an unterminated quote, too many words).
 */
int cmd_split(const char *line, char *buf, size_t buflen, char **argv, int max, char *err,
	      size_t errlen);

/*
 * Run one command line against S. Empty lines and comments return CMD_OK
 * with no output. The output is written to OUT (its json flag chooses the
 * format unless the line starts with `json`).
 */
int cmd_exec(struct session *s, const char *line, struct cmd_out *out);

/* Help for NAME (a command or a group), or the whole list; false: no such command. */
bool cmd_help(struct cmd_out *o, const char *name);

/*
 * Completion candidates for the word being typed (TEXT) given the line
 * before it (BEFORE). Fills up to MAX malloc'd strings into OUT and returns
 * their count. S may be NULL (no symbols then).
 */
int cmd_complete(struct session *s, const char *before, const char *text, char **out, int max);

/* Installs s->on_console_output / s->on_device_event for waits, traces and break-on. */
void cmd_session_init(struct session *s);
/* Free what cmd_session_init made (safe when it was never called). */
void cmd_session_free(struct session *s);

/* gdb `monitor`: run one command, malloc'd text output (never NULL). */
void cmd_monitor(void *session, const char *line, char **out);
/* A gdb attached (gdb_on_attach): its stop replaces the break-on pauses the REPL held. */
void cmd_gdb_attached(void *session);

/*
 * The wait a command (wait, sleep, source) left pending after CMD_WAIT:
 * the command layer re-checks it on every console output, device event,
 * debug stop and timer, and then calls DONE (once) with CMD_OK or CMD_FAIL
 * and a message. Cancel drops it without calling DONE.
 */
typedef void (*cmd_wait_done_fn)(struct session *s, void *opaque, int result, const char *msg);
void cmd_wait_set_done(struct session *s, cmd_wait_done_fn fn, void *opaque);
bool cmd_wait_pending(struct session *s);
void cmd_wait_cancel(struct session *s);

/* Where a script runner reports what its nested `source` does; see script.h. */
struct cmd_state;
struct cmd_state *cmd_state_of(struct session *s);
/* The machine rebooted (--reboot): the next `handshake` looks at the new boot only. */
void cmd_note_reboot(struct session *s);
/*
 * A snapshot was loaded (`snapshot load`, --restore): `ctl log` and the trace show a
 * `--- snapshot loaded PATH ---` line there, and `handshake` looks at what follows.
 */
void cmd_note_snapshot_loaded(struct session *s, const char *path);

/*
 * --profile FILE: create FILE before the machine is built, start the profile once its vCPUs
 * run (each 0, or -EINVAL with ERR set); at the end
 * of the run stop it and write FILE, folded stacks or an SVG by its suffix (0, or -EINVAL);
 * MSG gets the line that says what was written, or why not.
 */
int cmd_profile_run_check(const char *path, char *err, size_t errlen);
int cmd_profile_run_start(struct session *s, const char *path, char *err, size_t errlen);
int cmd_profile_run_end(struct session *s, const char *path, char *msg, size_t n);

#endif
