/*
 * The terminal's writer (cli/termout.c): a line one source has begun is finished before
 * another's bytes go out; a stopped guest or a quiet line (a prompt) holds nothing back;
 * stdout and stderr share a line only when they are the same file; a message posted from
 * another thread follows the console bytes that came before it; a reader that stalls
 * never blocks the writer and loses nothing.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/termout.h"
#include "emu/evloop.h"
#include "emu/vm.h"

struct harness {
	struct evloop loop;
	struct termout t;
	bool running;
	const char *pull_bytes; /* COM1 bytes the next pull brings in */
	char path[2][64];
	int saved[2];
};

static struct harness h;

static void pull(void *opaque)
{
	if (h.pull_bytes) {
		termout_write(&h.t, TERMOUT_COM1, STDOUT_FILENO, h.pull_bytes, strlen(h.pull_bytes));
		h.pull_bytes = NULL;
	}
}

static bool running(void *opaque)
{
	return h.running;
}

/* stdout and stderr into temporary files (one file for both when SHARED). */
static void start(bool shared)
{
	memset(&h, 0, sizeof(h));
	h.running = true;
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 2; i++) {
		snprintf(h.path[i], sizeof(h.path[i]), "/tmp/test_termout.%d.%d", (int)getpid(), i);
		h.saved[i] = dup(i + 1);
	}
	for (int i = 0; i < 2; i++) {
		/* Shared: one open file on both, as 2>&1 makes it. */
		int fd = i && shared ? dup(STDOUT_FILENO)
				     : open(h.path[i], O_WRONLY | O_CREAT | O_TRUNC, 0600);

		assert_true(fd >= 0);
		dup2(fd, i + 1);
		close(fd);
	}
	assert_int_equal(evloop_init(&h.loop), 0);
	assert_int_equal(termout_init(&h.t, &h.loop, pull, running, NULL), 0);
}

/* What file WHICH (0: stdout's, 1: stderr's when not shared) holds so far. */
static char *read_back(int which)
{
	char *text = calloc(1, 4096);
	int fd = open(h.path[which], O_RDONLY);

	assert_true(fd >= 0 && read(fd, text, 4095) >= 0);
	close(fd);
	return text;
}

/* Back to the real stdout and stderr; what file WHICH got. */
static char *finish(int which)
{
	char *text;

	termout_free(&h.t);
	evloop_free(&h.loop);
	for (int i = 0; i < 2; i++) {
		dup2(h.saved[i], i + 1);
		close(h.saved[i]);
	}
	text = read_back(which);
	unlink(h.path[0]);
	unlink(h.path[1]);
	return text;
}

static void com1(const char *s)
{
	termout_write(&h.t, TERMOUT_COM1, STDOUT_FILENO, s, strlen(s));
}

static void message_waits_for_the_guest_line(void **state)
{
	char *got;

	start(true);
	com1("tg: ab");
	termout_text(&h.t, STDERR_FILENO, "vmdbg: note");
	com1("c\r\n");
	got = finish(0);
	assert_string_equal(got, "tg: abc\r\nvmdbg: note\n");
	free(got);
}

static void port_line_waits_for_com1(void **state)
{
	char *got;

	start(true);
	com1("tg: one");
	termout_write(&h.t, TERMOUT_PORT0, STDOUT_FILENO, "vcon: hello\r\n", 13);
	com1(" two\r\ntg: three");
	termout_write(&h.t, TERMOUT_PORT0, STDOUT_FILENO, "vcon: again\r\n", 13);
	com1("\r\n");
	got = finish(0);
	assert_string_equal(got, "tg: one two\r\nvcon: hello\r\ntg: three\r\nvcon: again\r\n");
	free(got);
}

static void stopped_guest_holds_nothing(void **state)
{
	char *got;

	start(true);
	h.running = false;
	com1("prompt# ");
	termout_text(&h.t, STDERR_FILENO, "vmdbg: stopped");
	got = finish(0);
	assert_string_equal(got, "prompt# \nvmdbg: stopped\n");
	free(got);
}

static void quiet_line_stops_holding(void **state)
{
	uint64_t t0 = now_ns();
	char *got;

	start(true);
	com1("prompt# ");
	termout_text(&h.t, STDERR_FILENO, "vmdbg: note");
	/* Held while the prompt's line may still go on... */
	evloop_run_once(&h.loop, 100);
	com1("ls");
	/* ...then out on a line of its own once it has been quiet for TERMOUT_HOLD_MS. */
	while (evloop_run_once(&h.loop, 2000) > 0 && now_ns() - t0 < 5000000000ULL) {
		if (!h.t.line[0].head)
			break;
	}
	assert_true(now_ns() - t0 >= TERMOUT_HOLD_MS * 1000000ULL);
	com1("\r\n");
	got = finish(0);
	assert_string_equal(got, "prompt# ls\nvmdbg: note\n\r\n");
	free(got);
}

static void separate_files_do_not_wait(void **state)
{
	char *out, *err;

	start(false);
	com1("tg: ab");
	termout_text(&h.t, STDERR_FILENO, "vmdbg: note");
	/* stderr is another file: its line is out already, and stdout gets no stray newline. */
	assert_null(h.t.line[1].head);
	com1("c\r\n");
	err = read_back(1);
	out = finish(0);
	assert_string_equal(err, "vmdbg: note\n");
	assert_string_equal(out, "tg: abc\r\n");
	free(out);
	free(err);
}

static void *poster_thread(void *arg)
{
	termout_post(arg, STDERR_FILENO, "vmdbg: cpu0: completed int3");
	return NULL;
}

static void posted_message_follows_earlier_bytes(void **state)
{
	pthread_t th;
	char *got;

	start(true);
	com1("tg: ab");
	/* The guest finished its line before the vCPU thread's message; the host has not read it. */
	h.pull_bytes = "c\r\n";
	pthread_create(&th, NULL, poster_thread, &h.t);
	pthread_join(th, NULL);
	evloop_run_once(&h.loop, 1000);
	got = finish(0);
	assert_string_equal(got, "tg: abc\r\nvmdbg: cpu0: completed int3\n");
	free(got);
}

static int pulls;

static void count_pull(void *opaque)
{
	pulls++;
}

/*
 * stdout a pipe nobody reads: writes return at once (the main thread never blocks), the
 * stream says it has no room for guest output past TERMOUT_QUEUE_HIGH, and once the reader
 * reads, every byte arrives in order and the guest's output is pulled in again.
 */
static void stalled_reader_queues_never_blocks(void **state)
{
	char line[64], *want = malloc(200000), *got = malloc(200000);
	size_t n = 0, have = 0;
	int p[2];

	memset(&h, 0, sizeof(h));
	fflush(stdout);
	h.saved[0] = dup(STDOUT_FILENO);
	assert_int_equal(pipe(p), 0);
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	dup2(p[1], STDOUT_FILENO);
	close(p[1]);
	assert_int_equal(evloop_init(&h.loop), 0);
	assert_int_equal(termout_init(&h.t, &h.loop, count_pull, NULL, NULL), 0);
	pulls = 0;
	alarm(20); /* a write that blocks fails the test instead of hanging it */
	for (int i = 0; n < TERMOUT_QUEUE_HIGH + 8192; i++) {
		int len = snprintf(line, sizeof(line), "tg: line %d\r\n", i);

		termout_write(&h.t, TERMOUT_COM1, STDOUT_FILENO, line, (size_t)len);
		memcpy(want + n, line, (size_t)len);
		n += (size_t)len;
	}
	alarm(0);
	assert_false(termout_room(&h.t));
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (int spins = 0; have < n && spins < 100000; spins++) {
		ssize_t r = read(p[0], got + have, n - have);

		if (r > 0)
			have += (size_t)r;
		evloop_run_once(&h.loop, 10);
	}
	assert_int_equal(have, n);
	assert_memory_equal(got, want, n);
	assert_true(termout_room(&h.t));
	assert_true(pulls > 0);
	termout_free(&h.t);
	evloop_free(&h.loop);
	dup2(h.saved[0], STDOUT_FILENO);
	close(h.saved[0]);
	close(p[0]);
	free(want);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(message_waits_for_the_guest_line),
		cmocka_unit_test(port_line_waits_for_com1),
		cmocka_unit_test(stopped_guest_holds_nothing),
		cmocka_unit_test(quiet_line_stops_holding),
		cmocka_unit_test(separate_files_do_not_wait),
		cmocka_unit_test(posted_message_follows_earlier_bytes),
		cmocka_unit_test(stalled_reader_queues_never_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
