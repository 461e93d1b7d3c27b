/*
 * The main thread's event loop (epoll): every file descriptor the session
 * watches — terminal, guest output, gdb sockets, port backends, signals,
 * timers — registers a callback here. No thread busy-polls.
 */
#ifndef VMDBG_EVLOOP_H
#define VMDBG_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*evloop_cb)(void *opaque, int fd, uint32_t events);

#define EVLOOP_MAX 64

struct evloop {
	int epfd;
	struct evloop_entry {
		int fd;
		evloop_cb cb;
		void *opaque;
		bool used;
	} entries[EVLOOP_MAX];
};

int evloop_init(struct evloop *l);
void evloop_free(struct evloop *l);
/* EVENTS: EPOLLIN / EPOLLOUT mask. Returns 0 or -errno. */
int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_cb cb, void *opaque);
int evloop_mod(struct evloop *l, int fd, uint32_t events);
void evloop_del(struct evloop *l, int fd);
/* Wait up to TIMEOUT_MS (-1: forever) and run the callbacks; returns how many ran. */
int evloop_run_once(struct evloop *l, int timeout_ms);

#endif
