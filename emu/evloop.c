#include "evloop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

int evloop_init(struct evloop *l)
{
	memset(l, 0, sizeof(*l));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -errno : 0;
}

void evloop_free(struct evloop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_cb cb, void *opaque)
{
	for (int i = 0; i < EVLOOP_MAX; i++) {
		struct evloop_entry *e = &l->entries[i];
		struct epoll_event ev = { .events = events, .data.u32 = (uint32_t)i };

		if (e->used)
			continue;
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
		*e = (struct evloop_entry){ fd, cb, opaque, true };
		return 0;
	}
	return -ENOSPC;
}

int evloop_mod(struct evloop *l, int fd, uint32_t events)
{
	for (int i = 0; i < EVLOOP_MAX; i++) {
		struct epoll_event ev = { .events = events, .data.u32 = (uint32_t)i };

		if (l->entries[i].used && l->entries[i].fd == fd)
			return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
	}
	return -ENOENT;
}

void evloop_del(struct evloop *l, int fd)
{
	for (int i = 0; i < EVLOOP_MAX; i++) {
		if (l->entries[i].used && l->entries[i].fd == fd) {
			epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
			l->entries[i].used = false;
		}
	}
}

int evloop_run_once(struct evloop *l, int timeout_ms)
{
	struct epoll_event evs[16];
	int n = epoll_wait(l->epfd, evs, 16, timeout_ms), ran = 0;

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct evloop_entry *e = &l->entries[evs[i].data.u32];

		/* A callback may have removed a later entry in this batch. */
		if (!e->used)
			continue;
		e->cb(e->opaque, e->fd, evs[i].events);
		ran++;
	}
	return ran;
}
