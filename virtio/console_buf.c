#include "virtio/console_buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Memory kept after the buffer empties: enough for the usual burst, not a past flood. */
#define CBUF_KEEP (256 * 1024)

void cbuf_free(struct cbuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int cbuf_append(struct cbuf *b, const void *src, size_t len)
{
	if (len == 0)
		return 0;
	if (len > b->cap - b->start - b->len) {
		if (b->start && len <= b->cap - b->len) {
			memmove(b->data, b->data + b->start, b->len);
			b->start = 0;
		} else {
			size_t need = b->len + len, cap = b->cap ? b->cap : 4096;
			uint8_t *p;

			if (need < b->len)
				return -ENOMEM;
			while (cap < need) {
				if (cap > SIZE_MAX / 2)
					return -ENOMEM;
				cap *= 2;
			}
			p = malloc(cap);
			if (!p)
				return -ENOMEM;
			if (b->len)
				memcpy(p, b->data + b->start, b->len);
			free(b->data);
			b->data = p;
			b->cap = cap;
			b->start = 0;
		}
	}
	memcpy(b->data + b->start + b->len, src, len);
	b->len += len;
	return 0;
}

void cbuf_consume(struct cbuf *b, size_t n)
{
	if (n > b->len)
		n = b->len;
	b->start += n;
	b->len -= n;
	if (b->len == 0) {
		b->start = 0;
		if (b->cap > CBUF_KEEP) {
			free(b->data);
			b->data = NULL;
			b->cap = 0;
		}
	}
}

size_t cbuf_take(struct cbuf *b, void *dst, size_t max)
{
	size_t n = b->len < max ? b->len : max;

	if (n)
		memcpy(dst, b->data + b->start, n);
	cbuf_consume(b, n);
	return n;
}

void cbuf_clear(struct cbuf *b)
{
	cbuf_consume(b, b->len);
}
