/*
 * What vmdbg writes on stdout and stderr, whole lines at a time. The guest console (COM1
 * and each stdio port: one source each) and vmdbg's own messages share the terminal; a
 * line one source has begun is finished before another source's bytes go out. Bytes that
 * would land inside another source's unfinished line wait, in order, until that line
 * ends, the VM stops (it cannot end it then), or its source has been quiet for
 * TERMOUT_HOLD_MS (a shell prompt waiting for input): then a newline ends it first.
 *
 * stdout and stderr share one line only when they are the same file (a terminal, 2>&1);
 * otherwise each keeps its own. Main thread only, except termout_post.
 */
#ifndef VMDBG_TERMOUT_H
#define VMDBG_TERMOUT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emu/evloop.h"

/* A quiet unfinished line stops holding others back. 500 ms split lines under ASan with CPU
 * hogs (every console byte is an exit, and load stretches the gaps); a prompt waits 2 s. */
#define TERMOUT_HOLD_MS 2000
#define TERMOUT_HOLD_MAX (1u << 20)  /* bytes held back before the unfinished line is ended */

/* Sources: COM1, console port N (TERMOUT_PORT0 + N), and vmdbg's messages. */
enum { TERMOUT_COM1, TERMOUT_PORT0, TERMOUT_MSG = TERMOUT_PORT0 + 3, TERMOUT_NSRC };

struct termout_chunk {
	struct termout_chunk *next;
	int src, fd;
	size_t len;
	uint8_t data[];
};

struct termout_line {
	int owner;          /* source whose line is unfinished, -1 none */
	bool mid_line;      /* the last byte written was not '\n' (also after a forced end) */
	int last_src, last_fd;
	uint64_t owner_at;  /* when the owner last wrote */
	struct termout_chunk *head, **tail; /* held back, oldest first */
	size_t held;
};

struct termout {
	struct termout_line line[2]; /* stdout's, stderr's (line[0] for both when shared) */
	bool shared;
	struct evloop *loop;
	int timer_fd, post_fd;
	uint64_t timer_at; /* the deadline timer_fd is armed for, 0: disarmed */
	/* Bring in what the console sources have (called before posted messages go out). */
	void (*pull)(void *opaque);
	/* The guest runs, so an unfinished line may still be ended by its source. */
	bool (*running)(void *opaque);
	void *opaque;
	pthread_mutex_t lock; /* posted */
	struct termout_chunk *posted, **posted_tail;
};

int termout_init(struct termout *t, struct evloop *loop, void (*pull)(void *),
		 bool (*running)(void *), void *opaque);
void termout_free(struct termout *t);

/* LEN bytes of SRC for FD (STDOUT_FILENO or STDERR_FILENO). */
void termout_write(struct termout *t, int src, int fd, const void *buf, size_t len);
/* One vmdbg message (TEXT: one or more lines; a final '\n' is added when missing). */
void termout_text(struct termout *t, int fd, const char *text);
/*
 * From any thread: a message that goes out from the main thread after the console bytes
 * the guest had produced before it (pull), so it never lands inside a guest line.
 */
void termout_post(struct termout *t, int fd, const char *text);
/* At the end of the run: everything posted and held goes out now. */
void termout_flush(struct termout *t);

#endif
