/* The command table on a session without KVM, for unit tests: fake guest RAM, a console, an
 * event loop; commands run through cmd_exec and leave their output in f->out. */
#ifndef VMDBG_TESTS_CMD_FIXTURE_H
#define VMDBG_TESTS_CMD_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/cmd_priv.h"
#include "cli/session.h"

struct cmd_fixture {
	struct session *s;
	void *ram;
	struct cmd_out out;
};

static inline struct cmd_fixture *cmd_fixture_new(size_t ram)
{
	struct cmd_fixture *f = calloc(1, sizeof(*f));

	f->s = calloc(1, sizeof(*f->s));
	f->ram = calloc(1, ram);
	gm_init_buf(&f->s->vm.mem, f->ram, ram);
	pthread_mutex_init(&f->s->vm.lock, NULL);
	pthread_cond_init(&f->s->vm.cond, NULL);
	f->s->vm.end_status = VM_END_NONE;
	assert_int_equal(console_init(&f->s->console, &f->s->vm.mem), 0);
	assert_int_equal(evloop_init(&f->s->loop), 0);
	f->s->history = malloc(SESSION_HISTORY_CAP);
	f->s->exit_status = -1;
	cmd_session_init(f->s);
	cmd_out_init(&f->out, false);
	return f;
}

static inline void cmd_fixture_free(struct cmd_fixture *f)
{
	cmd_out_free(&f->out);
	cmd_session_free(f->s);
	symtab_free(&f->s->vm.syms);
	console_free(&f->s->console);
	evloop_free(&f->s->loop);
	free(f->s->history);
	free(f->s);
	free(f->ram);
	free(f);
}

/* Run LINE; return its result and leave the output in f->out. */
static inline int cmd_fixture_run(struct cmd_fixture *f, const char *line)
{
	cmd_out_reset(&f->out);
	return cmd_exec(f->s, line, &f->out);
}

/* LINE (run on the fixture `f` in scope) returns RES and prints SUBSTR. */
#define EXPECT(line, res, substr)                                                             \
	do {                                                                                  \
		int _r = cmd_fixture_run(f, line);                                            \
		if (_r != (res) || !f->out.buf || !strstr(f->out.buf, substr))                \
			fail_msg("'%s': got %d \"%s\", want %d and \"%s\"", line, _r,         \
				 f->out.buf ? f->out.buf : "", res, substr);                  \
	} while (0)

#endif
