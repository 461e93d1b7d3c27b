#include "termout.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "emu/vm.h"

static struct termout_queue *queue_of(struct termout *t, int fd)
{
	return &t->q[t->shared || fd != STDERR_FILENO ? 0 : 1];
}

/* What the reader takes now, without waiting; a reader gone (EPIPE) takes it all. */
static size_t try_write(struct termout_queue *q, const uint8_t *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t w = q->sock ? send(q->fd, p + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL)
				    : write(q->fd, p + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? off : len;
		}
		off += (size_t)w;
	}
	return off;
}

static void on_writable(void *opaque, int fd, uint32_t events);

static void queue_add(struct termout_queue *q, const uint8_t *p, size_t len)
{
	if (q->len + len > TERMOUT_QUEUE_MAX) {
		q->dropped += len;
		return;
	}
	if (q->len + len > q->cap) {
		size_t cap = q->cap ? q->cap : 65536;
		uint8_t *b;

		while (cap < q->len + len)
			cap *= 2;
		if (!(b = realloc(q->buf, cap))) {
			q->dropped += len;
			return;
		}
		q->buf = b;
		q->cap = cap;
	}
	memcpy(q->buf + q->len, p, len);
	q->len += len;
	if (!q->watched && q->t->loop && !evloop_add(q->t->loop, q->fd, EPOLLOUT, on_writable, q))
		q->watched = true;
}

static void out_write(struct termout *t, int fd, const uint8_t *p, size_t len)
{
	struct termout_queue *q = queue_of(t, fd);
	size_t n = q->len ? 0 : try_write(q, p, len);

	if (n < len)
		queue_add(q, p + n, len - n);
}

/* Write what the queue holds; true when it is empty. */
static bool queue_flush(struct termout_queue *q)
{
	size_t n = try_write(q, q->buf, q->len);

	memmove(q->buf, q->buf + n, q->len - n);
	q->len -= n;
	return !q->len;
}

static void on_writable(void *opaque, int fd, uint32_t events)
{
	struct termout_queue *q = opaque;
	struct termout *t = q->t;
	bool had_room = termout_room(t);

	if (queue_flush(q)) {
		evloop_del(t->loop, q->fd);
		q->watched = false;
	}
	if (!q->len && q->dropped) {
		char note[160];
		int n = snprintf(note, sizeof(note), "vmdbg: %llu bytes of vmdbg's messages were "
				 "dropped while this stream took no output\n",
				 (unsigned long long)q->dropped);

		q->dropped = 0;
		out_write(t, q == &t->q[0] ? STDOUT_FILENO : STDERR_FILENO, (const uint8_t *)note,
			  (size_t)n);
	}
	/* The guest's output waited for this: bring it in. */
	if (!had_room && termout_room(t) && t->pull)
		t->pull(t->opaque);
}

bool termout_room(const struct termout *t)
{
	return t->q[0].len < TERMOUT_QUEUE_HIGH && t->q[1].len < TERMOUT_QUEUE_HIGH;
}

/*
 * A writer that never blocks the main thread, without changing the stream's own open file
 * (a shell shares it): a FIFO or terminal is opened again, non-blocking; a socket is sent to
 * with MSG_DONTWAIT; anything else (a file, /dev/null) does not block.
 */
static void queue_init(struct termout *t, struct termout_queue *q, int fd)
{
	struct stat st;
	char path[64];

	q->t = t;
	q->fd = fd;
	if (fstat(fd, &st))
		return;
	if (S_ISSOCK(st.st_mode)) {
		q->sock = true;
		return;
	}
	if (!S_ISFIFO(st.st_mode) && !isatty(fd))
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int nb = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	if (nb >= 0) {
		q->fd = nb;
		q->own_fd = true;
	}
}

/* The end: wait for the reader while it takes bytes (bounded, and not past stop_fd). */
static void queue_final(struct termout *t, struct termout_queue *q)
{
	while (q->len && !queue_flush(q)) {
		struct pollfd p[2] = { { .fd = q->fd, .events = POLLOUT }, { .fd = t->stop_fd, .events = POLLIN } };

		if (poll(p, t->stop_fd >= 0 ? 2 : 1, t->final_wait_ms) <= 0 || (p[1].revents & POLLIN))
			break;
	}
	q->len = 0;
	if (q->watched)
		evloop_del(t->loop, q->fd);
	q->watched = false;
}

static void queue_free(struct termout_queue *q)
{
	if (q->own_fd)
		close(q->fd);
	free(q->buf);
	*q = (struct termout_queue){ .fd = -1 };
}

static struct termout_line *line_of(struct termout *t, int fd)
{
	return &t->line[t->shared || fd != STDERR_FILENO ? 0 : 1];
}

static struct termout_chunk *chunk_new(int src, int fd, const void *buf, size_t len)
{
	struct termout_chunk *c = malloc(sizeof(*c) + len);

	if (c) {
		c->next = NULL;
		c->src = src;
		c->fd = fd;
		c->len = len;
		memcpy(c->data, buf, len);
	}
	return c;
}

static void emit(struct termout_line *l, int src, int fd, const uint8_t *buf, size_t len)
{
	/* Only after a forced end: the unfinished line is ended on its own stream. */
	if (l->mid_line && l->last_src != src)
		out_write(l->t, l->last_fd, (const uint8_t *)"\n", 1);
	out_write(l->t, fd, buf, len);
	l->mid_line = buf[len - 1] != '\n';
	l->last_src = src;
	l->last_fd = fd;
	l->owner = l->mid_line ? src : -1;
	if (l->mid_line)
		l->owner_at = now_ns();
}

/* Up to and including BUF's first newline (all of it when none): what ends the line. */
static size_t line_len(const uint8_t *buf, size_t len)
{
	const uint8_t *nl = memchr(buf, '\n', len);

	return nl ? (size_t)(nl - buf) + 1 : len;
}

/* Send what no unfinished line holds back: the owner's own bytes, or, once none, the oldest. */
static void drain_held(struct termout_line *l)
{
	struct termout_chunk **pp = &l->head;

	while (*pp) {
		struct termout_chunk *c = *pp;
		size_t n;

		if (l->owner >= 0 && l->owner != c->src) {
			pp = &c->next;
			continue;
		}
		/* A line at a time, so what waits for this line's end goes right after it. */
		n = line_len(c->data, c->len);
		emit(l, c->src, c->fd, c->data, n);
		l->held -= n;
		if (n < c->len) {
			memmove(c->data, c->data + n, c->len - n);
			c->len -= n;
		} else {
			*pp = c->next;
			free(c);
		}
		/* A line just ended: what waited longest goes next. */
		if (l->owner < 0)
			pp = &l->head;
	}
	l->tail = &l->head;
	while (*l->tail)
		l->tail = &(*l->tail)->next;
}

static bool holds_src(const struct termout_line *l, int src)
{
	for (const struct termout_chunk *c = l->head; c; c = c->next)
		if (c->src == src)
			return true;
	return false;
}

static void end_owner(struct termout_line *l)
{
	l->owner = -1;
	drain_held(l);
}

static void arm_timer(struct termout *t)
{
	struct itimerspec its = { 0 };
	uint64_t first = 0;

	for (int i = 0; i < 2; i++) {
		const struct termout_line *l = &t->line[i];
		uint64_t at = l->owner_at + TERMOUT_HOLD_MS * 1000000ULL;

		if (l->head && l->owner >= 0 && (!first || at < first))
			first = at;
	}
	/* Every write lands here: ask the kernel only when the deadline changes. */
	if (first == t->timer_at)
		return;
	t->timer_at = first;
	if (first) {
		uint64_t now = now_ns(), d = first > now ? first - now : 1;

		its.it_value.tv_sec = d / 1000000000ULL;
		its.it_value.tv_nsec = d % 1000000000ULL;
	}
	if (t->timer_fd >= 0)
		timerfd_settime(t->timer_fd, 0, &its, NULL);
}

void termout_write(struct termout *t, int src, int fd, const void *buf, size_t len)
{
	struct termout_line *l = line_of(t, fd);
	struct termout_chunk *c;

	while (len && (l->owner < 0 || l->owner == src) && !holds_src(l, src)) {
		/* While others wait, a line at a time: they go right after this one's end. */
		size_t n = l->head ? line_len(buf, len) : len;

		emit(l, src, fd, buf, n);
		if (l->owner < 0)
			drain_held(l);
		buf = (const uint8_t *)buf + n;
		len -= n;
	}
	if (!len) {
		arm_timer(t);
		return;
	}
	c = chunk_new(src, fd, buf, len);
	if (!c) {
		end_owner(l);
		emit(l, src, fd, buf, len);
		return;
	}
	*l->tail = c;
	l->tail = &c->next;
	l->held += len;
	/* A stopped guest cannot end its line; nor should memory fill up waiting for it. */
	if (l->held > TERMOUT_HOLD_MAX || (t->running && !t->running(t->opaque)))
		end_owner(l);
	arm_timer(t);
}

void termout_text(struct termout *t, int fd, const char *text)
{
	size_t n = strlen(text);
	char *line;

	if (!n)
		return;
	if (text[n - 1] == '\n') {
		termout_write(t, TERMOUT_MSG, fd, text, n);
		return;
	}
	line = malloc(n + 1);
	if (!line)
		return;
	memcpy(line, text, n);
	line[n] = '\n';
	termout_write(t, TERMOUT_MSG, fd, line, n + 1);
	free(line);
}

void termout_post(struct termout *t, int fd, const char *text)
{
	size_t n = strlen(text);
	struct termout_chunk *c;
	uint64_t one = 1;

	if (!n || !(c = chunk_new(TERMOUT_MSG, fd, text, n + 1)))
		return;
	c->len = n; /* the copy keeps its NUL for termout_text */
	pthread_mutex_lock(&t->lock);
	*t->posted_tail = c;
	t->posted_tail = &c->next;
	pthread_mutex_unlock(&t->lock);
	if (write(t->post_fd, &one, sizeof(one)) < 0) {
		/* Already readable. */
	}
}

static void take_posted(struct termout *t)
{
	struct termout_chunk *c;
	uint64_t v;

	if (read(t->post_fd, &v, sizeof(v)) < 0) {
		/* Spurious. */
	}
	pthread_mutex_lock(&t->lock);
	c = t->posted;
	t->posted = NULL;
	t->posted_tail = &t->posted;
	pthread_mutex_unlock(&t->lock);
	if (!c)
		return;
	/* The guest bytes that came before these messages go first. */
	if (t->pull)
		t->pull(t->opaque);
	while (c) {
		struct termout_chunk *next = c->next;

		termout_text(t, c->fd, (const char *)c->data);
		free(c);
		c = next;
	}
}

static void on_post(void *opaque, int fd, uint32_t events)
{
	take_posted(opaque);
}

static void on_timer(void *opaque, int fd, uint32_t events)
{
	struct termout *t = opaque;
	uint64_t v, now;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* Disarmed since. */
	}
	t->timer_at = 0; /* a one-shot timer that fired is disarmed */
	/* The owner's next bytes may be waiting to be read: its line is not quiet then. */
	if (t->pull)
		t->pull(t->opaque);
	now = now_ns();
	for (int i = 0; i < 2; i++) {
		struct termout_line *l = &t->line[i];

		if (l->head && l->owner >= 0 &&
		    (now - l->owner_at >= TERMOUT_HOLD_MS * 1000000ULL ||
		     (t->running && !t->running(t->opaque))))
			end_owner(l);
	}
	arm_timer(t);
}

/* Same file: a terminal on both, or 2>&1. */
static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

int termout_init(struct termout *t, struct evloop *loop, void (*pull)(void *),
		 bool (*running)(void *), void *opaque)
{
	memset(t, 0, sizeof(*t));
	t->stop_fd = -1;
	t->final_wait_ms = TERMOUT_FINAL_WAIT_MS;
	for (int i = 0; i < 2; i++) {
		t->line[i].t = t;
		t->line[i].owner = t->line[i].last_src = -1;
		t->line[i].last_fd = i ? STDERR_FILENO : STDOUT_FILENO;
		t->line[i].tail = &t->line[i].head;
	}
	t->shared = same_file(STDOUT_FILENO, STDERR_FILENO);
	queue_init(t, &t->q[0], STDOUT_FILENO);
	queue_init(t, &t->q[1], STDERR_FILENO);
	t->loop = loop;
	t->pull = pull;
	t->running = running;
	t->opaque = opaque;
	t->posted_tail = &t->posted;
	pthread_mutex_init(&t->lock, NULL);
	t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	t->post_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->timer_fd < 0 || t->post_fd < 0 ||
	    evloop_add(loop, t->timer_fd, EPOLLIN, on_timer, t) ||
	    evloop_add(loop, t->post_fd, EPOLLIN, on_post, t))
		return -errno ? -errno : -ENOMEM;
	return 0;
}

void termout_flush(struct termout *t)
{
	if (!t->loop)
		return; /* never set up */
	if (t->post_fd >= 0)
		take_posted(t);
	for (int i = 0; i < 2; i++)
		end_owner(&t->line[i]);
	arm_timer(t);
	for (int i = 0; i < 2; i++)
		queue_final(t, &t->q[i]);
}

void termout_free(struct termout *t)
{
	if (!t->loop)
		return; /* never set up */
	for (int i = 0; i < 2; i++)
		while (t->line[i].head) {
			struct termout_chunk *c = t->line[i].head;

			t->line[i].head = c->next;
			free(c);
		}
	while (t->posted) {
		struct termout_chunk *c = t->posted;

		t->posted = c->next;
		free(c);
	}
	if (t->timer_fd >= 0) {
		evloop_del(t->loop, t->timer_fd);
		close(t->timer_fd);
	}
	if (t->post_fd >= 0) {
		evloop_del(t->loop, t->post_fd);
		close(t->post_fd);
	}
	for (int i = 0; i < 2; i++) {
		if (t->q[i].watched)
			evloop_del(t->loop, t->q[i].fd);
		queue_free(&t->q[i]);
	}
	pthread_mutex_destroy(&t->lock);
	t->loop = NULL;
}
