/*
 * What vmdbg writes on stdout and stderr, whole lines at a time. The guest console (COM1
 * and each stdio port: one source each) and vmdbg's own messages share the terminal; a
 * line one source has begun is finished before another source's bytes go out. Bytes that
 * would land inside another source's unfinished line wait, in order, until that line
 * ends, the VM stops (it cannot end it then), or its source has been quiet for
 * TERMOUT_HOLD_MS (a shell prompt waiting for input): then a newline ends it first.
 *
 * stdout and stderr share one line only when they are the same file (a terminal, 2>&1);
 * otherwise each keeps its own. Main thread only, except termout_post. A stream that does
 * not take its bytes queues them (struct termout_queue): the main thread never blocks.
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
	struct termout *t;
	int owner;          /* source whose line is unfinished, -1 none */
	bool mid_line;      /* the last byte written was not '\n' (also after a forced end) */
	int last_src, last_fd;
	uint64_t owner_at;  /* when the owner last wrote */
	struct termout_chunk *head, **tail; /* held back, oldest first */
	size_t held;
};

/*
 * Bytes a stream's reader has not taken yet (a stalled terminal, a pipe nobody reads): the
 * main thread never blocks on them. Guest output stops being drained while a queue is past
 * TERMOUT_QUEUE_HIGH (the device's and the UART's buffers then hold the guest back); vmdbg's
 * own messages queue up to TERMOUT_QUEUE_MAX, the rest is counted and said when it moves.
 */
#define TERMOUT_QUEUE_HIGH (64u << 10)
#define TERMOUT_QUEUE_MAX (16u << 20)
/* At the end of the run a reader gets this long without taking a byte before the rest goes. */
#define TERMOUT_FINAL_WAIT_MS 10000

struct termout_queue {
	struct termout *t;
	int fd;        /* the non-blocking writer: the stream reopened (FIFO, tty) or itself */
	bool own_fd;   /* fd was opened here */
	bool sock;     /* a socket: send(MSG_DONTWAIT) */
	bool watched;  /* waiting for EPOLLOUT */
	uint8_t *buf;
	size_t len, cap;
	uint64_t dropped;
};

struct termout {
	struct termout_line line[2]; /* stdout's, stderr's (line[0] for both when shared) */
	struct termout_queue q[2];   /* the same way */
	int stop_fd; /* readable: stop waiting for a reader at the end (the signalfd), -1 none */
	int final_wait_ms; /* TERMOUT_FINAL_WAIT_MS, less for a run a signal ended */
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
/*
 * At the end of the run: everything posted and held goes out now, waiting for a slow
 * reader while it takes bytes (TERMOUT_FINAL_WAIT_MS without one, or stop_fd, ends that).
 */
void termout_flush(struct termout *t);
/* The streams take guest output now (no queue past TERMOUT_QUEUE_HIGH). */
bool termout_room(const struct termout *t);

#endif
