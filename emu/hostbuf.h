/*
 * A bounded byte FIFO from a vCPU thread to the main thread's event loop.
 * The producer (a device on a vCPU thread) appends and the eventfd wakes the
 * loop; when the FIFO is full the producer waits for room, which slows the
 * guest instead of losing its output. The consumer never blocks.
 */
#ifndef VMDBG_HOSTBUF_H
#define VMDBG_HOSTBUF_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hostbuf {
	pthread_mutex_t lock;
	pthread_cond_t room;
	uint8_t *data;
	size_t cap, head, len;
	int event_fd;      /* readable when bytes are waiting */
	bool closed;       /* consumer gone: producers stop waiting and discard */
	uint64_t total_in, total_out;
};

int hostbuf_init(struct hostbuf *hb, size_t cap);
void hostbuf_free(struct hostbuf *hb);

/* Append LEN bytes, waiting for room as needed (returns at once when closed). */
void hostbuf_put(struct hostbuf *hb, const void *buf, size_t len);
/* Take up to MAX bytes; returns how many. Clears the eventfd when empty. */
size_t hostbuf_take(struct hostbuf *hb, void *buf, size_t max);
/* Stop waiting producers (at the end of the run). */
void hostbuf_close(struct hostbuf *hb);

#endif
