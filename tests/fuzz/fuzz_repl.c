/*
 * The command table (cli/cmd.c and its groups) behind the REPL, scripts and
 * gdb `monitor`, run against a session whose VM has no vCPUs (as the unit
 * tests do): every command must parse its arguments and either work on the
 * device model or refuse cleanly.
 *
 * Input: byte 0 picks text or JSON output; the rest is command lines
 * separated by newlines. Each line also goes through completion.
 *
 * The file system is fenced: vmdbg's fopen() and open() are renamed to
 * fz_fopen() and fz_open() in this target's copy of the archive (fuzz.mk; not
 * libFuzzer's, which writes crash files), and while a command runs a file
 * opened for reading is a small fixed script, one opened for writing is
 * /dev/null (so `source`, `trace on ... FILE`, `symbols load` cannot read
 * devices or write into the tree).
 *
 * Each line is also checked as --check-script checks a script (cmd_check_line against a
 * machine-less stand-in): it must answer 0 or an error with a message, never touch the
 * machine (the stand-in has none) or crash.
 *
 * Invariants: the result is one of the CMD_* codes; an error has a message;
 * text output is NUL-terminated at its length; JSON output is one object
 * ({"return": ...} or {"error": ...}) with balanced brackets outside strings;
 * a pending wait can always be cancelled; output stays under 16 MiB.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/cmd_priv.h"
#include "cli/options.h"
#include "cli/script.h"
#include "cli/session.h"
#include "fuzz_common.h"

#define RAM_SIZE (2u << 20)

static bool fenced;
static const char fake_script[] = "echo sourced\nvq list\nget status\n";

/* vmdbg's fopen() and open() in this target (tests/fuzz/fuzz.mk renames them in its archive). */
FILE *fz_fopen(const char *path, const char *mode);
int fz_open(const char *path, int flags, ...);

FILE *fz_fopen(const char *path, const char *mode)
{
	if (!fenced)
		return fopen(path, mode);
	if (mode[0] == 'r' && !strchr(mode, '+'))
		return fmemopen((void *)fake_script, sizeof(fake_script) - 1, "r");
	return fopen("/dev/null", "w");
}

int fz_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	va_start(ap, flags);
	if (flags & O_CREAT)
		mode = va_arg(ap, mode_t);
	va_end(ap);
	if (!fenced)
		return open(path, flags, mode);
	return open("/dev/null", (flags & O_ACCMODE) | O_CLOEXEC);
}

/*
 * A strict JSON reader (RFC 8259 values); returns the position after the value or NULL.
 * Not coverage-instrumented: it reads every output byte (tens of KiB for `vq dump` or
 * `help`), which made it a quarter of the run, and its branches are no signal about vmdbg.
 */
#define FZ_UNTRACED __attribute__((no_sanitize("coverage")))

static const char *json_value(const char *p, const char *end, int depth);

FZ_UNTRACED static const char *json_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

FZ_UNTRACED static const char *json_string(const char *p, const char *end)
{
	if (p >= end || *p != '"')
		return NULL;
	for (p++; p < end; p++) {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '"')
			return p + 1;
		if (*p == '\\') {
			if (++p >= end)
				return NULL;
			if (*p == 'u') {
				for (int i = 0; i < 4; i++)
					if (++p >= end || !strchr("0123456789abcdefABCDEF", *p) || !*p)
						return NULL;
			} else if (!*p || !strchr("\"\\/bfnrt", *p)) {
				return NULL;
			}
		}
	}
	return NULL;
}

FZ_UNTRACED static const char *json_list(const char *p, const char *end, int depth, char close, bool keys)
{
	p = json_ws(p + 1, end);
	if (p < end && *p == close)
		return p + 1;
	for (;;) {
		if (keys) {
			p = json_string(json_ws(p, end), end);
			if (!p)
				return NULL;
			p = json_ws(p, end);
			if (p >= end || *p != ':')
				return NULL;
			p++;
		}
		p = json_value(p, end, depth + 1);
		if (!p)
			return NULL;
		p = json_ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		return p < end && *p == close ? p + 1 : NULL;
	}
}

FZ_UNTRACED static const char *json_value(const char *p, const char *end, int depth)
{
	p = json_ws(p, end);
	if (p >= end || depth > 64)
		return NULL;
	if (*p == '{')
		return json_list(p, end, depth, '}', true);
	if (*p == '[')
		return json_list(p, end, depth, ']', false);
	if (*p == '"')
		return json_string(p, end);
	for (const char *const *w = (const char *const[]){ "true", "false", "null", NULL }; *w; w++)
		if ((size_t)(end - p) >= strlen(*w) && !strncmp(p, *w, strlen(*w)))
			return p + strlen(*w);
	if (*p == '-' || (*p >= '0' && *p <= '9')) {
		char *e;

		strtod(p, &e);
		return e > p && e <= end ? e : NULL;
	}
	return NULL;
}

FZ_UNTRACED static void check_json(const char *s, size_t len)
{
	const char *end = s + len, *e;

	FZ_CHECK(!strncmp(s, "{\"return\":", 10) || !strncmp(s, "{\"error\":", 9),
		 "JSON output is neither return nor error: %.80s", s);
	e = json_value(s, end, 0);
	FZ_CHECK(e != NULL, "output is not JSON: %.200s", s);
	FZ_CHECK(json_ws(e, end) == end, "text after the JSON object: %.200s", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct session *s;
	static struct guest_mem gm;
	static char line[4096];
	static struct script_check *k;
	static char *history;
	struct cmd_out out;
	bool json;

	if (size < 1)
		return 0;
	fz_quiet_logs();
	json = data[0] & 1;
	data++;
	size--;
	if (!s)
		s = malloc(sizeof(*s));
	memset(s, 0, sizeof(*s));
	fz_ram_init_sparse(&gm, RAM_SIZE);
	s->vm.mem = gm;
	pthread_mutex_init(&s->vm.lock, NULL);
	pthread_cond_init(&s->vm.cond, NULL);
	s->vm.end_status = VM_END_NONE;
	FZ_CHECK(console_init(&s->console, &s->vm.mem) == 0, "console_init");
	FZ_CHECK(evloop_init(&s->loop) == 0, "evloop_init");
	/* One history buffer for the process: a session reads only its first history_len bytes. */
	if (!history)
		history = malloc(SESSION_HISTORY_CAP);
	s->history = history;
	s->exit_status = -1;
	cmd_session_init(s);
	cmd_out_init(&out, json);
	if (!k) {
		struct options o = { .check_script = "fuzz", .cpus = 1 };

		k = script_check_new(&o);
		FZ_CHECK(k != NULL, "script_check_new");
	}

	while (size) {
		const uint8_t *nl = memchr(data, '\n', size);
		size_t n = nl ? (size_t)(nl - data) : size;
		char *cands[16];
		int r, nc;

		memcpy(line, data, n < sizeof(line) ? n : sizeof(line) - 1);
		line[n < sizeof(line) ? n : sizeof(line) - 1] = '\0';
		data += n + (nl != NULL);
		size -= n + (nl != NULL);

		{
			char err[600] = "";

			fenced = true;
			r = script_check_line(k, line, err, sizeof(err));
			fenced = false;
			FZ_CHECK(r == 0 || (r == -EINVAL && err[0]), "check('%s') gave %d '%s'", line, r, err);
		}

		cmd_out_reset(&out);
		fenced = true;
		r = cmd_exec(s, line, &out);
		if (r == CMD_WAIT)
			cmd_wait_cancel(s);
		fenced = false;
		FZ_CHECK(r == CMD_OK || r == CMD_FAIL || r == CMD_QUIT || r == CMD_WAIT || r == CMD_ERR,
			 "cmd_exec('%s') returned %d", line, r);
		FZ_CHECK(!cmd_wait_pending(s), "a wait survived cancel");
		FZ_CHECK(out.len < (16u << 20), "'%s' printed %zu bytes", line, out.len);
		if (r == CMD_ERR)
			FZ_CHECK(out.buf && out.len, "'%s' failed without a message", line);
		if (out.buf) {
			FZ_CHECK(out.buf[out.len] == '\0', "output not NUL-terminated");
		}
		{
			const char *t = line + strspn(line, " \t");
			bool js = out.json || (!strncmp(t, "json", 4) && (!t[4] || t[4] == ' ' || t[4] == '\t'));

			/* Blank lines and comments print nothing, in either mode. */
			if (js && out.len && *t && *t != '#')
				check_json(out.buf, out.len);
		}

		/* Completion of the line's last word, given what precedes it. */
		{
			char *sp = strrchr(line, ' ');
			const char *text = sp ? sp + 1 : line;

			if (sp)
				*sp = '\0';
			nc = cmd_complete(s, sp ? line : "", text, cands, 16);
			FZ_CHECK(nc >= 0 && nc <= 16, "cmd_complete gave %d", nc);
			for (int i = 0; i < nc; i++)
				free(cands[i]);
		}
	}

	cmd_out_free(&out);
	cmd_session_free(s);
	console_free(&s->console);
	evloop_free(&s->loop);
	pthread_mutex_destroy(&s->vm.lock);
	pthread_cond_destroy(&s->vm.cond);
	return 0;
}
