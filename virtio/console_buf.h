/*
 * A growable byte FIFO for the console's per-port buffers (pending host
 * input, captured guest output). The bytes waiting are always contiguous at
 * cbuf_data(), so a whole run can be scattered into guest buffers at once.
 */
#ifndef VMDBG_CONSOLE_BUF_H
#define VMDBG_CONSOLE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct cbuf {
	uint8_t *data;
	size_t start, len, cap;
};

void cbuf_free(struct cbuf *b);
/* 0 or -ENOMEM (nothing appended). */
int cbuf_append(struct cbuf *b, const void *src, size_t len);
/* Drop N bytes from the front (N <= len). */
void cbuf_consume(struct cbuf *b, size_t n);
/* Take up to MAX bytes from the front into DST; returns how many. */
size_t cbuf_take(struct cbuf *b, void *dst, size_t max);
void cbuf_clear(struct cbuf *b);

static inline const uint8_t *cbuf_data(const struct cbuf *b)
{
	return b->data + b->start;
}

#endif
