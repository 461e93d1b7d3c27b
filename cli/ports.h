/*
 * Host backends of the console's three ports (--port N:...). Guest output
 * leaves the device through console_port_drain() when the device's wake-up
 * eventfd fires; host input enters through console_port_send(). A backend
 * that cannot take bytes (a slow socket reader) stops the draining, so the
 * device's high-water mark holds the guest back: nothing is dropped, no vCPU
 * thread ever waits on a host file descriptor.
 *
 * A unix socket with no client takes nothing: the guest's bytes wait in the
 * device (and then in the guest) until a client connects.
 *
 * Defaults: port 0 stdio (hvc0 shares the terminal with COM1), port 1 kept in
 * memory for inspection (and decoded as frames), port 2 a unix socket.
 *
 * COM1 (--serial) uses the same backends. Its bytes come from the session (which drains
 * the UART's host buffer and records them) rather than from the device, and a UART cannot
 * hold the guest back without stalling a vCPU: a socket with no client keeps the newest
 * PORT_PENDING_MAX bytes for the next client instead, and says how many older ones it lost.
 */
#ifndef VMDBG_PORTS_H
#define VMDBG_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emu/evloop.h"
#include "options.h"
#include "virtio/console.h"
#include "virtio/frames.h"

#define PORT_KEEP_MAX (64u << 20)     /* bytes of a kept stream held for inspection */
#define PORT_PENDING_MAX (1u << 20)   /* bytes waiting for a slow backend before draining stops */
#define PORT_SERIAL (-1)
#define PORT_SERIAL_CHUNK 8192         /* most COM1 bytes the session hands over at once */

enum port_kind { PORT_KIND_STDIO, PORT_KIND_FILE, PORT_KIND_UNIX, PORT_KIND_NULL, PORT_KIND_KEEP };

struct ports;

struct port_backend {
	struct ports *ports;
	int id;            /* console port; PORT_SERIAL for COM1 */
	bool serial;
	bool input_held;   /* COM1 has no room for a client's bytes: not reading them */
	uint64_t lost;     /* COM1 bytes dropped while no client was connected */
	char label[8];     /* "port N" or "COM1", for messages */
	enum port_kind kind;
	char *path;
	int fd;            /* file, or the unix socket's client; -1 none */
	int listen_fd;     /* unix socket */
	uint8_t *pending;  /* drained from the device, not yet written to fd */
	size_t pending_len;
	uint8_t *kept;     /* KEEP: the newest PORT_KEEP_MAX bytes of the stream */
	size_t kept_len, kept_cap;
	uint64_t total_out, total_in;
	bool host_open;    /* a reader is attached (stdio, file, client connected, keep) */
};

struct ports {
	struct console *console;
	struct evloop *loop;
	int wake_fd[2];    /* CONSOLE_WAKE_GROUP_CONSOLE, CONSOLE_WAKE_GROUP_STATS */
	struct port_backend port[CONSOLE_NR_PORTS];
	struct frame_decoder frames; /* port 1's stream, for `port frames` */
	uint64_t frames_seen;
	/* Where stdio backends write (the terminal); the session prints guest output there. */
	void (*stdio_out)(void *opaque, int port, const uint8_t *buf, size_t len);
	bool (*stdio_room)(void *opaque); /* the terminal takes more now (else: pull later) */
	void *stdio_opaque;
	/* COM1's backend (--serial); the session's hooks take the opaque above. */
	struct port_backend serial;
	void (*serial_room)(void *opaque);        /* the backend takes output again */
	size_t (*serial_input_room)(void *opaque); /* bytes COM1's input can take now */
	void (*serial_input)(void *opaque, const uint8_t *buf, size_t len);
};

/* Set up the backends from OPTS (NULL entries mean the defaults); ERR gets one line. */
int ports_init(struct ports *p, struct console *c, struct evloop *loop,
	       const struct port_opt opts[CONSOLE_NR_PORTS], char *err, size_t errlen);
void ports_free(struct ports *p);

/* The device's host_wake callback (runs under the device lock: only writes an eventfd). */
void ports_host_wake(void *opaque, int group);

/*
 * At the end of a run: hand every byte the guest published to its backend,
 * waiting up to TIMEOUT_MS for slow readers (a socket reader still reading).
 */
void ports_flush(struct ports *p, int timeout_ms);

/* COM1's backend from OPT (PORT_DEFAULT: stdio); ERR gets one line. Before ports_init. */
int ports_serial_init(struct ports *p, struct evloop *loop, const struct port_opt *opt, char *err,
		      size_t errlen);
/* COM1 output for a file, unix or null backend. */
void ports_serial_output(struct ports *p, const uint8_t *buf, size_t len);
/* The backend can take more COM1 output now (else serial_room is called when it can). */
bool ports_serial_room(const struct ports *p);
/* COM1's input has room again: read the client's bytes. */
void ports_serial_input_resume(struct ports *p);

/* Bring in what the stdio ports' devices hold (before a message that must follow it). */
void ports_drain_stdio(struct ports *p);

/* Typed bytes for the ports whose backend is stdio. */
void ports_stdio_input(struct ports *p, const uint8_t *buf, size_t len);

/* "kept", "file:PATH", "unix:PATH (client connected)", ... */
void ports_describe(const struct ports *p, int port, char *buf, size_t size);

#endif
