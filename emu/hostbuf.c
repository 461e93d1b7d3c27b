#include "hostbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int hostbuf_init(struct hostbuf *hb, size_t cap)
{
	memset(hb, 0, sizeof(*hb));
	hb->data = malloc(cap);
	if (!hb->data)
		return -ENOMEM;
	hb->cap = cap;
	hb->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (hb->event_fd < 0) {
		free(hb->data);
		return -errno;
	}
	pthread_mutex_init(&hb->lock, NULL);
	pthread_cond_init(&hb->room, NULL);
	return 0;
}

void hostbuf_free(struct hostbuf *hb)
{
	if (!hb->data)
		return;
	close(hb->event_fd);
	free(hb->data);
	pthread_mutex_destroy(&hb->lock);
	pthread_cond_destroy(&hb->room);
	memset(hb, 0, sizeof(*hb));
}

void hostbuf_put(struct hostbuf *hb, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t one = 1;

	pthread_mutex_lock(&hb->lock);
	while (len && !hb->closed) {
		size_t tail, n;

		while (hb->len == hb->cap && !hb->closed)
			pthread_cond_wait(&hb->room, &hb->lock);
		if (hb->closed)
			break;
		tail = (hb->head + hb->len) % hb->cap;
		n = hb->cap - hb->len;
		if (n > hb->cap - tail)
			n = hb->cap - tail;
		if (n > len)
			n = len;
		memcpy(hb->data + tail, p, n);
		hb->len += n;
		hb->total_in += n;
		p += n;
		len -= n;
		if (write(hb->event_fd, &one, sizeof(one)) < 0) {
			/* The counter saturating still leaves the fd readable. */
		}
	}
	pthread_mutex_unlock(&hb->lock);
}

size_t hostbuf_take(struct hostbuf *hb, void *buf, size_t max)
{
	uint8_t *p = buf;
	size_t got = 0;
	uint64_t v;

	pthread_mutex_lock(&hb->lock);
	while (got < max && hb->len) {
		size_t n = hb->cap - hb->head;

		if (n > hb->len)
			n = hb->len;
		if (n > max - got)
			n = max - got;
		memcpy(p + got, hb->data + hb->head, n);
		hb->head = (hb->head + n) % hb->cap;
		hb->len -= n;
		got += n;
	}
	hb->total_out += got;
	if (hb->len == 0 && read(hb->event_fd, &v, sizeof(v)) < 0) {
		/* Already clear. */
	}
	if (got)
		pthread_cond_broadcast(&hb->room);
	pthread_mutex_unlock(&hb->lock);
	return got;
}

void hostbuf_close(struct hostbuf *hb)
{
	pthread_mutex_lock(&hb->lock);
	hb->closed = true;
	pthread_cond_broadcast(&hb->room);
	pthread_mutex_unlock(&hb->lock);
}
