#include "ports.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "emu/log.h"
#include "emu/vm.h"

static void port_try_flush(struct ports *p, struct port_backend *b);
static void port_drain(struct ports *p, struct port_backend *b);

void ports_host_wake(void *opaque, int group)
{
	struct ports *p = opaque;
	uint64_t one = 1;

	if (group >= 0 && group < 2 && write(p->wake_fd[group], &one, sizeof(one)) < 0) {
		/* Already signalled. */
	}
}

/*
 * Room for LEN more bytes in a window holding the newest MAX: BUF is cut to its last MAX
 * bytes and the oldest HELD bytes are dropped. Returns how many bytes were dropped.
 */
static size_t window_make_room(uint8_t *held, size_t *held_len, size_t max, const uint8_t **buf,
			       size_t *len)
{
	size_t dropped = 0;

	if (*len > max) {
		dropped = *len - max;
		*buf += dropped;
		*len = max;
	}
	if (*held_len + *len > max) {
		size_t drop = *held_len + *len - max;

		memmove(held, held + drop, *held_len - drop);
		*held_len -= drop;
		dropped += drop;
	}
	return dropped;
}

static void keep_bytes(struct port_backend *b, const uint8_t *buf, size_t len)
{
	window_make_room(b->kept, &b->kept_len, PORT_KEEP_MAX, &buf, &len);
	if (b->kept_len + len > b->kept_cap) {
		size_t cap = b->kept_cap ? b->kept_cap : 65536;
		uint8_t *n;

		while (cap < b->kept_len + len)
			cap *= 2;
		if (cap > PORT_KEEP_MAX)
			cap = PORT_KEEP_MAX;
		n = realloc(b->kept, cap);
		if (!n)
			return;
		b->kept = n;
		b->kept_cap = cap;
	}
	memcpy(b->kept + b->kept_len, buf, len);
	b->kept_len += len;
}

static void count_frame(const struct frame *f, void *opaque)
{
	struct ports *p = opaque;

	p->frames_seen++;
}

/* COM1 with no client: the newest PORT_PENDING_MAX bytes wait for the next one. */
static void serial_keep(struct port_backend *b, const uint8_t *buf, size_t len)
{
	b->lost += window_make_room(b->pending, &b->pending_len, PORT_PENDING_MAX, &buf, &len);
	memcpy(b->pending + b->pending_len, buf, len);
	b->pending_len += len;
}

/* Deliver drained bytes to the backend; what it cannot take now waits in pending. */
static void port_output(struct ports *p, struct port_backend *b, const uint8_t *buf, size_t len)
{
	b->total_out += len;
	if (b->id == 1)
		frames_feed(&p->frames, buf, len, count_frame, p);
	switch (b->kind) {
	case PORT_KIND_STDIO:
		p->stdio_out(p->stdio_opaque, b->id, buf, len);
		return;
	case PORT_KIND_NULL:
		return;
	case PORT_KIND_KEEP:
		keep_bytes(b, buf, len);
		return;
	case PORT_KIND_FILE:
	case PORT_KIND_UNIX:
		if (b->fd < 0 && b->serial && b->kind == PORT_KIND_UNIX) {
			serial_keep(b, buf, len);
			return;
		}
		if (b->fd < 0)
			return; /* no reader: guest output is discarded, as on a closed host end */
		if (!b->pending_len) {
			/* Nothing queued ahead: straight from BUF, and only the rest is copied. */
			ssize_t w;

			do
				w = write(b->fd, buf, len);
			while (w < 0 && errno == EINTR);
			if (w > 0) {
				buf += w;
				len -= (size_t)w;
			}
			if (!len)
				return;
		}
		memcpy(b->pending + b->pending_len, buf, len);
		b->pending_len += len;
		port_try_flush(p, b);
		return;
	}
}

static void port_drain(struct ports *p, struct port_backend *b)
{
	uint8_t buf[65536];
	long n;

	/*
	 * A socket with no client, or a backend with PORT_PENDING_MAX waiting, takes
	 * nothing: the bytes stay in the device, whose high-water mark then holds the
	 * guest writer back until a reader comes. Nothing is dropped.
	 */
	if (b->serial) {
		if (ports_serial_room(p) && p->serial_room)
			p->serial_room(p->stdio_opaque);
		return;
	}
	if (b->kind == PORT_KIND_UNIX && b->fd < 0)
		return;
	/* A terminal that takes nothing: the session pulls again once it does (termout). */
	while (b->pending_len + sizeof(buf) <= PORT_PENDING_MAX &&
	       (b->kind != PORT_KIND_STDIO || !p->stdio_room || p->stdio_room(p->stdio_opaque)) &&
	       (n = console_port_drain(p->console, b->id, buf, sizeof(buf))) > 0)
		port_output(p, b, buf, (size_t)n);
}

static void client_gone(struct ports *p, struct port_backend *b)
{
	evloop_del(p->loop, b->fd);
	close(b->fd);
	b->fd = -1;
	b->pending_len = 0;
	b->host_open = false;
	b->input_held = false;
	log_info("%s: unix socket client disconnected", b->label);
	/* COM1 held back for a slow client is kept for the next one now: no more waiting. */
	if (b->serial && p->serial_room)
		p->serial_room(p->stdio_opaque);
}

static void port_try_flush(struct ports *p, struct port_backend *b)
{
	size_t off = 0;

	while (off < b->pending_len) {
		ssize_t w = write(b->fd, b->pending + off, b->pending_len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			log_warn("%s: %s: %s", b->label, b->path, strerror(errno));
			if (b->kind == PORT_KIND_UNIX) {
				client_gone(p, b);
				return;
			}
			b->pending_len = 0;
			return;
		}
		off += (size_t)w;
	}
	memmove(b->pending, b->pending + off, b->pending_len - off);
	b->pending_len -= off;
	if (b->kind == PORT_KIND_UNIX)
		evloop_mod(p->loop, b->fd,
			   (b->input_held ? 0 : EPOLLIN) | (b->pending_len ? EPOLLOUT : 0));
}

/*
 * Tx polling (console_tx_poll): a wake-up that brings at least TX_POLL_MIN bytes marks a
 * bulk stream. The device then asks the driver not to notify and this timer walks the
 * ring instead: one walk (and at most one interrupt) per tick for many chains, and no
 * exit per chain for the guest, whose instructions are what cost most on an emulating KVM.
 * TX_POLL_IDLE_MAX empty ticks in a row end it (the device then clears the flag and looks at
 * the ring once more). One console per process, so the state is file-wide.
 */
#define TX_POLL_MIN (32 * 1024)
#define TX_POLL_NS 800000      /* after a tick below the per-call cap */
#define TX_POLL_BUSY_NS 50000  /* after a tick that hit it */
#define TX_POLL_IDLE_MAX 3     /* empty ticks in a row before notifies come back */
static int tx_poll_fd = -1;
static bool tx_polling[CONSOLE_NR_PORTS];
static unsigned tx_idle[CONSOLE_NR_PORTS];

static void tx_poll_arm(long ns)
{
	struct itimerspec its = { .it_value = { .tv_sec = 0, .tv_nsec = ns } };

	if (tx_poll_fd >= 0 && timerfd_settime(tx_poll_fd, 0, &its, NULL) < 0)
		log_warn("port tx poll timer: %s", strerror(errno));
}

static void on_tx_poll(void *opaque, int fd, uint32_t events)
{
	struct ports *p = opaque;
	uint64_t v;
	long next = 0;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* Disarmed since it fired. */
	}
	for (int i = 0; i < CONSOLE_NR_PORTS; i++) {
		int r;

		if (!tx_polling[i])
			continue;
		r = console_tx_poll(p->console, (unsigned)i, false, tx_idle[i] + 1 >= TX_POLL_IDLE_MAX);
		tx_idle[i] = r == CONSOLE_POLL_IDLE ? tx_idle[i] + 1 : 0;
		port_drain(p, &p->port[i]);
		if (r <= CONSOLE_POLL_STOP)
			tx_polling[i] = false;
		else if (r == CONSOLE_POLL_BUSY || !next)
			next = r == CONSOLE_POLL_BUSY ? TX_POLL_BUSY_NS : TX_POLL_NS;
	}
	tx_poll_arm(next);
}

static void on_wake(void *opaque, int fd, uint32_t events)
{
	struct ports *p = opaque;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* Spurious. */
	}
	for (int i = 0; i < CONSOLE_NR_PORTS; i++) {
		struct port_backend *b = &p->port[i];
		uint64_t before = b->total_out;

		if ((fd == p->wake_fd[1]) != (i == 2))
			continue;
		port_drain(p, b);
		if (tx_poll_fd >= 0 && !tx_polling[i] && b->total_out - before >= TX_POLL_MIN &&
		    console_tx_poll(p->console, (unsigned)i, true, false) > CONSOLE_POLL_STOP) {
			tx_polling[i] = true;
			tx_idle[i] = 0;
			port_drain(p, b);
			tx_poll_arm(TX_POLL_NS);
		}
	}
}

static void on_client(void *opaque, int fd, uint32_t events)
{
	struct port_backend *b = opaque;
	struct ports *p = b->ports;
	uint8_t buf[65536];
	size_t want = sizeof(buf);

	if (events & EPOLLOUT) {
		port_try_flush(p, b);
		if (b->fd < 0)
			return;
		port_drain(p, b); /* room again: take what the device held back */
	}
	if (b->serial && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		/* A UART takes a few bytes at a time: the client's bytes wait in its socket meanwhile. */
		want = p->serial_input_room(p->stdio_opaque);
		if (want > sizeof(buf))
			want = sizeof(buf);
		if (!want && !(events & (EPOLLHUP | EPOLLERR))) {
			b->input_held = true;
			evloop_mod(p->loop, fd, b->pending_len ? EPOLLOUT : 0);
			return;
		}
		if (!want) {
			client_gone(p, b); /* it left while the guest was not reading */
			return;
		}
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t n = read(fd, buf, want);

		if (n > 0) {
			b->total_in += (uint64_t)n;
			if (b->serial)
				p->serial_input(p->stdio_opaque, buf, (size_t)n);
			else
				console_port_send(p->console, b->id, buf, (size_t)n);
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			client_gone(p, b);
		}
	}
}

static void on_accept(void *opaque, int fd, uint32_t events)
{
	struct port_backend *b = opaque;
	struct ports *p = b->ports;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (c < 0)
		return;
	if (b->fd >= 0) {
		/* One client at a time: the newest replaces the old one. */
		client_gone(p, b);
	}
	b->fd = c;
	b->host_open = true;
	evloop_add(p->loop, c, EPOLLIN, on_client, b);
	if (b->lost)
		log_info("%s: unix socket client connected; %llu older bytes of output were dropped "
			 "while none was", b->label, (unsigned long long)b->lost);
	else
		log_info("%s: unix socket client connected", b->label);
	b->lost = 0;
	if (b->pending_len)
		port_try_flush(p, b); /* COM1's output from while no client was connected */
	if (b->fd >= 0)
		port_drain(p, b);
}

static int listen_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "unix socket path '%s' is too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		int e = errno;

		snprintf(err, errlen, "unix socket '%s': %s", path, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

/* Open B's backend from O (PORT_DEFAULT: DEF); FLAG names the option in errors. */
static int backend_open(struct ports *p, struct port_backend *b, const struct port_opt *o,
			enum port_kind def, const char *flag, char *err, size_t errlen)
{
	b->ports = p;
	b->fd = b->listen_fd = -1;
	switch (o->kind) {
	case PORT_DEFAULT: b->kind = def; break;
	case PORT_STDIO: b->kind = PORT_KIND_STDIO; break;
	case PORT_FILE: b->kind = PORT_KIND_FILE; break;
	case PORT_UNIX: b->kind = PORT_KIND_UNIX; break;
	case PORT_NULL: b->kind = PORT_KIND_NULL; break;
	}
	if (o->path)
		b->path = strdup(o->path);
	else if (b->kind == PORT_KIND_UNIX &&
		 asprintf(&b->path, "%s/vmdbg-%d-port%d.sock",
			  getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), b->id) < 0)
		b->path = NULL;
	if (b->kind == PORT_KIND_FILE || b->kind == PORT_KIND_UNIX) {
		b->pending = malloc(PORT_PENDING_MAX);
		if (!b->pending || !b->path)
			return -ENOMEM;
	}
	if (b->kind == PORT_KIND_FILE) {
		b->fd = open(b->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (b->fd < 0) {
			snprintf(err, errlen, "%sfile:%s: %s", flag, b->path, strerror(errno));
			return -errno;
		}
	} else if (b->kind == PORT_KIND_UNIX) {
		b->listen_fd = listen_unix(b->path, err, errlen);
		if (b->listen_fd < 0) {
			snprintf(err, errlen, "%sunix:%s: %s", flag, b->path, strerror(-b->listen_fd));
			return b->listen_fd;
		}
		evloop_add(p->loop, b->listen_fd, EPOLLIN, on_accept, b);
	}
	b->host_open = b->kind != PORT_KIND_UNIX && b->kind != PORT_KIND_NULL;
	return 0;
}

int ports_init(struct ports *p, struct console *c, struct evloop *loop,
	       const struct port_opt opts[CONSOLE_NR_PORTS], char *err, size_t errlen)
{
	static const enum port_kind defaults[CONSOLE_NR_PORTS] = { PORT_KIND_STDIO, PORT_KIND_KEEP,
								    PORT_KIND_UNIX };
	int r;

	p->console = c;
	p->loop = loop;
	/* Every descriptor closed by ports_free is -1 until it is opened. */
	p->wake_fd[0] = p->wake_fd[1] = -1;
	for (int i = 0; i < CONSOLE_NR_PORTS; i++)
		p->port[i].fd = p->port[i].listen_fd = -1;
	r = frames_init(&p->frames, 0);
	if (r)
		return r;
	for (int g = 0; g < 2; g++) {
		p->wake_fd[g] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (p->wake_fd[g] < 0 || evloop_add(loop, p->wake_fd[g], EPOLLIN, on_wake, p))
			return -errno;
	}
	c->host_wake = ports_host_wake;
	c->host_wake_opaque = p;
	memset(tx_polling, 0, sizeof(tx_polling));
	memset(tx_idle, 0, sizeof(tx_idle));
	tx_poll_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (tx_poll_fd >= 0 && evloop_add(loop, tx_poll_fd, EPOLLIN, on_tx_poll, p)) {
		close(tx_poll_fd);
		tx_poll_fd = -1;
	}
	if (tx_poll_fd < 0)
		log_warn("port tx polling off: no timer (%s)", strerror(errno));
	for (int i = 0; i < CONSOLE_NR_PORTS; i++) {
		struct port_backend *b = &p->port[i];
		char flag[16];

		b->id = i;
		snprintf(b->label, sizeof(b->label), "port %d", i);
		snprintf(flag, sizeof(flag), "--port %d:", i);
		r = backend_open(p, b, &opts[i], defaults[i], flag, err, errlen);
		if (r)
			return r;
		if (b->kind == PORT_KIND_UNIX)
			log_info("port %d (%s): unix socket %s", i, c->port[i].name, b->path);
	}
	return 0;
}

int ports_serial_init(struct ports *p, struct evloop *loop, const struct port_opt *opt, char *err,
		      size_t errlen)
{
	struct port_backend *b = &p->serial;
	int r;

	p->loop = loop;
	b->id = PORT_SERIAL;
	b->serial = true;
	snprintf(b->label, sizeof(b->label), "COM1");
	r = backend_open(p, b, opt, PORT_KIND_STDIO, "--serial ", err, errlen);
	if (!r && b->kind == PORT_KIND_UNIX)
		log_info("COM1: unix socket %s", b->path);
	return r;
}

static void backend_free(struct port_backend *b)
{
	if (b->fd >= 0)
		close(b->fd);
	if (b->listen_fd >= 0) {
		close(b->listen_fd);
		unlink(b->path);
	}
	free(b->path);
	free(b->pending);
	free(b->kept);
}

void ports_free(struct ports *p)
{
	if (p->serial.label[0])
		backend_free(&p->serial);
	if (!p->console)
		return; /* never set up */
	for (int i = 0; i < CONSOLE_NR_PORTS; i++)
		backend_free(&p->port[i]);
	for (int g = 0; g < 2; g++)
		if (p->wake_fd[g] >= 0)
			close(p->wake_fd[g]);
	if (tx_poll_fd >= 0) {
		evloop_del(p->loop, tx_poll_fd);
		close(tx_poll_fd);
		tx_poll_fd = -1;
	}
	frames_free(&p->frames);
}

void ports_flush(struct ports *p, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;

	for (int i = 0; i <= CONSOLE_NR_PORTS; i++) {
		struct port_backend *b = i < CONSOLE_NR_PORTS ? &p->port[i] : &p->serial;

		port_drain(p, b);
		while (b->fd >= 0 && b->pending_len && now_ns() < deadline) {
			struct pollfd pfd = { .fd = b->fd, .events = POLLOUT };
			int left = (int)((deadline - now_ns()) / 1000000ULL);

			if (poll(&pfd, 1, left > 0 ? left : 1) < 0 && errno != EINTR)
				break;
			port_try_flush(p, b);
			if (b->fd >= 0 && b->pending_len < PORT_PENDING_MAX / 2)
				port_drain(p, b);
		}
		if (b->pending_len && b->fd < 0)
			log_warn("%s: %zu bytes of guest output were never read: no client on %s",
				 b->label, b->pending_len, b->path);
		else if (b->pending_len)
			log_warn("%s: %zu bytes of guest output could not be written to %s in %d ms",
				 b->label, b->pending_len, b->path, timeout_ms);
	}
}

void ports_serial_output(struct ports *p, const uint8_t *buf, size_t len)
{
	port_output(p, &p->serial, buf, len);
}

bool ports_serial_room(const struct ports *p)
{
	const struct port_backend *b = &p->serial;

	/* A terminal that takes nothing: the session pulls again once it does (termout). */
	if (b->kind == PORT_KIND_STDIO)
		return !p->stdio_room || p->stdio_room(p->stdio_opaque);
	/* Without a client COM1's output is kept (trimmed), never held back. */
	if (b->kind != PORT_KIND_FILE && !(b->kind == PORT_KIND_UNIX && b->fd >= 0))
		return true;
	return b->pending_len + PORT_SERIAL_CHUNK <= PORT_PENDING_MAX;
}

void ports_serial_input_resume(struct ports *p)
{
	struct port_backend *b = &p->serial;

	if (b->fd >= 0 && b->input_held) {
		b->input_held = false;
		evloop_mod(p->loop, b->fd, EPOLLIN | (b->pending_len ? EPOLLOUT : 0));
	}
}

void ports_drain_stdio(struct ports *p)
{
	for (int i = 0; i < CONSOLE_NR_PORTS; i++)
		if (p->port[i].kind == PORT_KIND_STDIO)
			port_drain(p, &p->port[i]);
}

void ports_stdio_input(struct ports *p, const uint8_t *buf, size_t len)
{
	for (int i = 0; i < CONSOLE_NR_PORTS; i++)
		if (p->port[i].kind == PORT_KIND_STDIO) {
			p->port[i].total_in += len;
			console_port_send(p->console, i, buf, len);
		}
}

void ports_describe(const struct ports *p, int port, char *buf, size_t size)
{
	const struct port_backend *b = &p->port[port];

	switch (b->kind) {
	case PORT_KIND_STDIO: snprintf(buf, size, "stdio"); break;
	case PORT_KIND_NULL: snprintf(buf, size, "null"); break;
	case PORT_KIND_KEEP: snprintf(buf, size, "kept (%zu bytes)", b->kept_len); break;
	case PORT_KIND_FILE: snprintf(buf, size, "file:%s", b->path); break;
	case PORT_KIND_UNIX:
		snprintf(buf, size, "unix:%s (%s)", b->path,
			 b->fd >= 0 ? "client connected" : "no client");
		break;
	}
}
