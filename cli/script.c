/* The script runner (see script.h). */
#include "script.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cmd_priv.h"
#include "emu/log.h"
#include "emu/vm.h"
#include "options.h"
#include "session.h"

#define SCRIPT_MAX_DEPTH 16

struct script_frame {
	char *path;
	char **lines;
	int nlines, next;
};

struct script_runner {
	struct session *s;
	struct script_frame frames[SCRIPT_MAX_DEPTH];
	int depth;
	bool main;     /* --script: its end ends the run */
	bool running, waiting, done;
	bool last_resume;
	int kick_fd;
	char where[300]; /* file:line of the command being run */
};

static void frame_free(struct script_frame *f)
{
	for (int i = 0; i < f->nlines; i++)
		free(f->lines[i]);
	free(f->lines);
	free(f->path);
	memset(f, 0, sizeof(*f));
}

static int load(struct script_frame *f, const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	memset(f, 0, sizeof(*f));
	if (!fp)
		return snprintf(err, errlen, "script %s: %s", path, strerror(errno)), -errno;
	while ((n = getline(&line, &cap, fp)) >= 0) {
		char **nl = realloc(f->lines, sizeof(*nl) * (size_t)(f->nlines + 1));

		if (!nl)
			break;
		f->lines = nl;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		f->lines[f->nlines++] = strdup(line);
	}
	free(line);
	fclose(fp);
	f->path = strdup(path);
	return 0;
}

/*
 * A --script that is not a regular file (`--script /dev/stdin`, a fifo) can be read only
 * once: the check before the guest starts keeps its lines here for script_start.
 */
static struct script_frame read_once;

static bool regular_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static struct script_runner *runner(struct session *s)
{
	struct cmd_state *cs = cmd_state_of(s);

	return cs ? cs->script : NULL;
}

bool script_active(struct session *s)
{
	struct script_runner *r = runner(s);

	return r && !r->done && r->depth > 0;
}

static void finish(struct script_runner *r, bool ok, const char *msg)
{
	struct session *s = r->s;
	bool main = r->main;

	if (r->done)
		return;
	r->done = true;
	cmd_wait_cancel(s);
	while (r->depth > 0)
		frame_free(&r->frames[--r->depth]);
	if (!ok) {
		session_print(s, "%s: %s", r->where, msg);
		if (main) {
			s->exit_status = EXIT_SCRIPT_FAILED;
			vm_end(&s->vm, VM_END_USER, "script failed at %s", r->where);
			return;
		}
	} else if (main) {
		s->exit_status = -1;
		if (repl_active(s)) {
			repl_script_done(s);
		} else if (!r->last_resume) {
			vm_end(&s->vm, VM_END_USER, "script finished");
		}
		return;
	}
	if (repl_active(s))
		repl_script_done(s);
}

static void run(struct script_runner *r);

static void on_wait_done(struct session *s, void *opaque, int result, const char *msg)
{
	struct script_runner *r = opaque;

	r->waiting = false;
	if (result != CMD_OK) {
		finish(r, false, msg ? msg : "wait failed");
		return;
	}
	run(r);
}

static void run(struct script_runner *r)
{
	struct session *s = r->s;
	struct cmd_out out;

	if (r->running || r->done)
		return;
	r->running = true;
	cmd_out_init(&out, false);
	while (!r->done && !r->waiting && r->depth > 0 && !vm_ended(&s->vm)) {
		struct script_frame *f = &r->frames[r->depth - 1];
		const char *line;
		int depth, res;
		char first[16] = "";

		if (f->next >= f->nlines) {
			frame_free(f);
			r->depth--;
			continue;
		}
		line = f->lines[f->next++];
		snprintf(r->where, sizeof(r->where), "%s:%d", f->path, f->next);
		sscanf(line, " %15s", first);
		if (!first[0] || first[0] == '#')
			continue;
		r->last_resume = !strcmp(first, "resume") || !strcmp(first, "cont") ||
				 !strcmp(first, "c") || !strcmp(first, "continue");
		depth = r->depth;
		cmd_out_reset(&out);
		res = cmd_exec(s, line, &out);
		if (res == CMD_ERR || res == CMD_FAIL) {
			char msg[600];

			snprintf(msg, sizeof(msg), "%s", out.buf ? out.buf : "failed");
			if (msg[0] && msg[strlen(msg) - 1] == '\n')
				msg[strlen(msg) - 1] = 0;
			finish(r, false, msg);
			break;
		}
		if (out.len)
			cmd_emit(s, out.buf);
		if (res == CMD_QUIT) {
			finish(r, true, NULL);
			vm_end(&s->vm, VM_END_USER, "quit (script %s)", r->where);
			break;
		}
		if (res == CMD_WAIT && r->depth == depth) {
			r->waiting = true;
			cmd_wait_set_done(s, on_wait_done, r);
		}
	}
	cmd_out_free(&out);
	r->running = false;
	if (!r->done && !r->waiting && r->depth == 0)
		finish(r, true, NULL);
	else if (!r->done && !r->waiting && r->depth > 0 && !vm_ended(&s->vm))
		run(r); /* a wait completed while this loop ran */
}

static void on_kick(void *opaque, int fd, uint32_t events)
{
	struct script_runner *r = opaque;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* Spurious. */
	}
	evloop_del(&r->s->loop, fd);
	close(fd);
	r->kick_fd = -1;
	run(r);
}

static struct script_runner *runner_new(struct session *s, bool main)
{
	struct cmd_state *cs;
	struct script_runner *r;

	cmd_session_init(s);
	cs = cmd_state_of(s);
	r = cs->script;
	if (r && !r->done)
		return r;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return NULL;
		cs->script = r;
	}
	memset(r, 0, sizeof(*r));
	r->s = s;
	r->main = main;
	r->kick_fd = -1;
	return r;
}

static int kick(struct script_runner *r)
{
	struct itimerspec its = { .it_value = { 0, 1 } };

	r->kick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (r->kick_fd < 0)
		return -errno;
	timerfd_settime(r->kick_fd, 0, &its, NULL);
	return evloop_add(&r->s->loop, r->kick_fd, EPOLLIN, on_kick, r);
}

int script_start(struct session *s, const char *path, char *err, size_t errlen)
{
	struct script_runner *r = runner_new(s, true);
	int e;

	if (!r)
		return snprintf(err, errlen, "script: out of memory"), -ENOMEM;
	if (read_once.path && !strcmp(read_once.path, path)) {
		r->frames[0] = read_once;
		memset(&read_once, 0, sizeof(read_once));
	} else if ((e = load(&r->frames[0], path, err, errlen))) {
		return e;
	}
	r->depth = 1;
	/* A run the guest ends before the script does is a failed script. */
	s->exit_status = EXIT_SCRIPT_FAILED;
	return kick(r);
}

int script_source(struct cmd_ctx *c, const char *path)
{
	struct script_runner *r;
	char err[300];
	bool fresh;

	if (c->cs->in_monitor)
		return cmd_error(c, "source: not available from gdb's monitor");
	r = c->cs->script;
	fresh = !r || r->done || r->depth == 0;
	if (!fresh && r->depth >= SCRIPT_MAX_DEPTH)
		return cmd_error(c, "source: %s: nested more than %d deep", path, SCRIPT_MAX_DEPTH);
	if (fresh && !(r = runner_new(c->s, false)))
		return cmd_error(c, "source: out of memory");
	if (load(&r->frames[r->depth], path, err, sizeof(err)))
		return cmd_error(c, "source: %s", err + strlen("script "));
	r->depth++;
	if (fresh && kick(r))
		return cmd_error(c, "source: cannot schedule the script");
	return CMD_WAIT;
}

void script_free(struct session *s)
{
	struct script_runner *r = runner(s);

	if (!r)
		return;
	while (r->depth > 0)
		frame_free(&r->frames[--r->depth]);
	if (r->kick_fd >= 0) {
		evloop_del(&s->loop, r->kick_fd);
		close(r->kick_fd);
	}
	free(r);
	cmd_state_of(s)->script = NULL;
}

/* --- the check before the run (script.h) ------------------------------------------ */

struct script_check {
	struct session *s;   /* stand-in for the machine: vm.ncpus and vm.syms only */
	struct cmd_state *cs; /* the check's own: `cpu N` moves its current vCPU */
	int depth;
	bool located; /* the error already names a (sourced) file and line */
	int commands;
};

int script_check_line(struct script_check *k, const char *line, char *err, size_t errlen)
{
	k->located = false;
	return cmd_check_line(k->s, k->cs, k, line, err, errlen);
}

static int check_file(struct script_check *k, const char *path, char *err, size_t errlen)
{
	struct script_frame f;
	char msg[600];
	int e = load(&f, path, err, errlen);

	if (e)
		return e;
	k->depth++;
	for (int i = 0; i < f.nlines && !e; i++) {
		char first[16] = "";

		sscanf(f.lines[i], " %15s", first);
		if (!first[0] || first[0] == '#')
			continue;
		k->commands++;
		if (script_check_line(k, f.lines[i], msg, sizeof(msg))) {
			if (k->located)
				snprintf(err, errlen, "%s", msg);
			else
				snprintf(err, errlen, "%s:%d: %s", path, i + 1, msg);
			k->located = true;
			e = -EINVAL;
		}
	}
	k->depth--;
	if (!e && !k->depth && !regular_file(path)) {
		frame_free(&read_once);
		read_once = f;
	} else {
		frame_free(&f);
	}
	return e;
}

int script_check_source(struct cmd_ctx *c, const char *path)
{
	struct script_check *k = c->check;
	char err[600];

	/* The runner's rules: the same depth limit, the same message for an unreadable file. */
	if (k->depth >= SCRIPT_MAX_DEPTH)
		return cmd_error(c, "source: %s: nested more than %d deep", path, SCRIPT_MAX_DEPTH);
	if (!check_file(k, path, err, sizeof(err)))
		return CMD_OK;
	if (k->located)
		return cmd_error(c, "%s", err);
	return cmd_error(c, "source: %s", err + strlen("script "));
}

struct script_check *script_check_new(const struct options *o)
{
	struct script_check *k = calloc(1, sizeof(*k));
	enum log_level quiet;

	if (!k)
		return NULL;
	k->s = calloc(1, sizeof(*k->s));
	k->cs = calloc(1, sizeof(*k->cs));
	if (!k->s || !k->cs) {
		free(k->s);
		free(k->cs);
		free(k);
		return NULL;
	}
	/* vCPU numbers are checked where the count is known: a run's --cpus, or one given. */
	k->s->vm.ncpus = o->cpus_set || (!o->check_script && !o->restore) ? o->cpus : VM_MAX_CPUS;
	/* Symbol names where the kernel has them; a --restore without --kernel is not read. */
	symtab_init(&k->s->vm.syms);
	k->s->vm.cfg.kernel = o->kernel;
	quiet = log_threshold;
	log_threshold = LOG_WARN; /* "symbols from ..." is the run's to say */
	vm_load_symbols(&k->s->vm);
	log_threshold = quiet;
	k->cs->s = k->s;
	k->cs->timer_fd = k->cs->notice_fd = -1;
	pthread_mutex_init(&k->cs->lock, NULL);
	return k;
}

void script_check_free(struct script_check *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->cs->lock);
	symtab_free(&k->s->vm.syms);
	free(k->cs);
	free(k->s);
	free(k);
}

int script_check(const struct options *o, const char *path, char *err, size_t errlen)
{
	struct script_check *k = script_check_new(o);
	int e;

	if (!k)
		return snprintf(err, errlen, "script: out of memory"), -ENOMEM;
	e = check_file(k, path, err, errlen);
	if (e && e != -EINVAL)
		e = -ENOENT; /* unreadable: the message names the file, not a line */
	if (!e)
		e = k->commands;
	script_check_free(k);
	return e;
}
