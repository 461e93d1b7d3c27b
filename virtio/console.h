/*
 * The three-port multiport virtio-console (virtio 1.2 §5.3) behind the
 * virtio-mmio transport, as docs/console.md describes it; in short:
 *
 * - Device ID 3, features VERSION_1 | CONSOLE_F_MULTIPORT, config
 *   {cols 0, rows 0, max_nr_ports 3, emerg_wr 0}, 8 queues of up to 256:
 *   q0/q1 port 0 rx/tx, q2/q3 control rx/tx, port N >= 1 rx 2+2N, tx 3+2N.
 *   Ports: 0 "ktstr-console" (the console port, hvc0), 1 "ktstr-bulk",
 *   2 "ktstr-stats".
 * - Transmit (guest -> host, notify on 1/5/7): needs DRIVER_OK (and
 *   MULTIPORT for ports 1-2); at most 32 KiB read per descriptor, chains used
 *   with length 0, a call stops after the chain that brings it to 256 KiB.
 *   Only real bytes raise the interrupt and wake the host reader (host_wake
 *   group 0 for ports 0 and 1, group 1 for port 2).
 * - Receive (host -> guest): pending bytes wait without bound until DRIVER_OK,
 *   MULTIPORT and guest-open (ports 1-2) and a ready queue let them through;
 *   at most 64 chains per call (empty chains count); a torn write returns that
 *   chain with length 0, keeps the bytes and stops; interrupt only when a byte
 *   was delivered.
 * - Control: guest -> host (q3) at most 32 chains per call; DEVICE_READY,
 *   PORT_READY and PORT_OPEN handled as docs/console.md's table says; host -> guest
 *   (q2) one message per chain, PORT_NAME = header + name + NUL.
 * - Reset captures already-published tx chains into the host buffers (no
 *   interrupt, no host wake), keeps those buffers, clears everything else.
 *
 * vmdbg's additions to the reference behaviour:
 * - Host backpressure: while a port's host tx buffer holds
 *   CONSOLE_TX_HIGH_WATER bytes or more, its tx chains are left in the ring
 *   (the guest writer blocks, nothing is dropped); console_port_drain() that
 *   takes the buffer below the mark processes the tx queue again. Tx capture
 *   at reset ignores the mark, so a rebooting guest's last frames still land.
 * - No call pops more chains than the queue size, even if another vCPU keeps
 *   refilling the ring.
 * - Tx polling (console_tx_poll, driven by cli/ports.c): while a port streams bulk output
 *   the device sets VRING_USED_F_NO_NOTIFY on its tx ring and the host walks the ring on a
 *   timer instead of a notify per chain (same caps, interrupts and wake-ups per walk).
 * - A queue the guest corrupts (descriptor loop, `next` out of range, avail
 *   index too far ahead, ring outside RAM) is stopped and reported (see
 *   virtqueue.h); the device and its other queues carry on.
 * - Strict-spec mode (console_set_strict) switches on the transport's strict
 *   rules (mmio.h). Tx chains stay used with length 0 in both modes: virtio
 *   1.2 §2.7.8 defines the used length as the bytes written into the
 *   device-writable part, which a tx chain does not have.
 *
 * Threads: every entry point takes the transport's lock. The callbacks
 * (raise_irq, host_wake, on_event) run with it held: they must not call back
 * into this API (write an eventfd, record, return).
 */
#ifndef VMDBG_CONSOLE_H
#define VMDBG_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emu/guest_mem.h"
#include "virtio/console_buf.h"
#include "virtio/mmio.h"
#include "virtio/virtio_ids.h"
#include "virtio/virtqueue.h"

#define CONSOLE_NR_PORTS 3
#define CONSOLE_NR_QUEUES (2 + 2 * CONSOLE_NR_PORTS)
#define CONSOLE_QUEUE_NUM_MAX 256
#define CONSOLE_CONFIG_SIZE 12

/* Queue indices. */
#define CONSOLE_Q_PORT0_RX 0
#define CONSOLE_Q_PORT0_TX 1
#define CONSOLE_Q_CTRL_RX 2 /* c_ivq: host -> guest control */
#define CONSOLE_Q_CTRL_TX 3 /* c_ovq: guest -> host control */

/* Per-call limits (docs/console.md, "Data paths" and "Hostile guests"). */
#define CONSOLE_TX_DESC_MAX (32 * 1024)
#define CONSOLE_TX_PER_CALL_MAX (256 * 1024)
#define CONSOLE_RX_CHAINS_PER_CALL 64
#define CONSOLE_CTL_CHAINS_PER_CALL 32
/* vmdbg's host-side bound (see above). */
#define CONSOLE_TX_HIGH_WATER (1024 * 1024)

#define CONSOLE_CTL_NAME_MAX 255   /* bytes of a PORT_NAME payload, NUL excluded */
#define CONSOLE_CTL_OUT_MAX 128    /* host -> guest messages waiting */
#define CONSOLE_CTL_LOG_SIZE 1024  /* entries kept by the control-message log */
#define CONSOLE_CTL_LOG_NAME 32    /* name bytes kept per log entry */

/* Wake bytes (host -> guest on port 0). */
#define CONSOLE_WAKE_DUMP 0xD1
#define CONSOLE_WAKE_SHUTDOWN 0xD3
#define CONSOLE_WAKE_BPF_WRITE_DONE 0xBF
#define CONSOLE_WAKE_ACCESSOR_READY 0xAC

/* host_wake groups. */
#define CONSOLE_WAKE_GROUP_CONSOLE 0 /* ports 0 and 1 */
#define CONSOLE_WAKE_GROUP_STATS 1   /* port 2 */

static inline unsigned console_rx_queue(unsigned port)
{
	return port == 0 ? CONSOLE_Q_PORT0_RX : 2 + 2 * port;
}

static inline unsigned console_tx_queue(unsigned port)
{
	return port == 0 ? CONSOLE_Q_PORT0_TX : 3 + 2 * port;
}

struct console_port {
	const char *name;
	struct cbuf pending_rx; /* host -> guest, waiting for guest buffers */
	struct cbuf host_tx;    /* guest -> host, waiting for the host reader */
	bool guest_open;        /* last PORT_OPEN from the guest */
	bool readied;           /* PORT_READY(1) seen this lifecycle */
	bool tx_throttled;      /* tx chains left in the ring at the high-water mark */
	uint64_t tx_bytes, tx_chains, tx_dropped; /* dropped: past 32 KiB or unreadable */
	uint64_t rx_bytes, rx_chains, rx_torn;
	uint64_t host_wakes, throttle_events;
};

struct console_ctl_msg {
	uint32_t id;
	uint16_t event, value;
	bool has_name;
	uint16_t name_len;
	char name[CONSOLE_CTL_NAME_MAX + 1];
};

enum console_ctl_dir {
	CONSOLE_CTL_FROM_GUEST, /* q3 */
	CONSOLE_CTL_TO_GUEST,   /* q2, logged when written into a guest buffer */
};

struct console_ctl_log_entry {
	uint64_t seq;      /* 1, 2, ... over the whole run */
	uint64_t time_ns;  /* CLOCK_MONOTONIC */
	enum console_ctl_dir dir;
	uint32_t id;
	uint16_t event, value;
	uint16_t len;      /* bytes on the wire */
	char name[CONSOLE_CTL_LOG_NAME + 1]; /* PORT_NAME payload, truncated */
	const char *note;  /* what the device made of it ("repeat ignored", ...), or "" */
};

enum console_event_kind {
	CONSOLE_EV_CTL_FROM_GUEST, /* id/event/value; note says what the device did */
	CONSOLE_EV_CTL_TO_GUEST,   /* id/event/value, delivered into a guest buffer */
	CONSOLE_EV_STATUS,         /* old_status -> new_status (new 0: reset) */
	CONSOLE_EV_NOTIFY,         /* queue */
	CONSOLE_EV_IRQ,            /* queue */
	CONSOLE_EV_VQ_BROKEN,      /* queue; note = reason */
};

struct console_event {
	enum console_event_kind kind;
	int port;      /* -1 when not about a port */
	int queue;     /* -1 when not about a queue */
	uint32_t id;
	uint16_t event, value;
	uint32_t old_status, new_status;
	const char *note;
};

struct console_snapshot {
	uint32_t status, interrupt_status;
	uint64_t device_features, driver_features;
	bool multiport, device_ready, strict;
	uint64_t irqs_raised, status_rejects, resets;
	struct {
		const char *name;
		bool guest_open, readied, tx_throttled;
		size_t pending_rx, host_tx;
		uint64_t tx_bytes, tx_chains, tx_dropped, rx_bytes, rx_chains, rx_torn;
		uint64_t host_wakes, throttle_events;
	} port[CONSOLE_NR_PORTS];
	struct vq_snapshot vq[CONSOLE_NR_QUEUES];
	unsigned ctl_out_len;
	struct console_ctl_msg ctl_out[8]; /* the first waiting messages */
	uint64_t ctl_log_seq;              /* newest log entry's seq */
};

struct console {
	struct virtio_mmio mmio; /* its lock is the device lock; bus opaque = &mmio */
	const struct guest_mem *gm;
	struct console_port port[CONSOLE_NR_PORTS];
	bool device_ready;

	struct console_ctl_msg ctl_out[CONSOLE_CTL_OUT_MAX]; /* FIFO ring */
	unsigned ctl_out_head, ctl_out_len;

	struct console_ctl_log_entry ctl_log[CONSOLE_CTL_LOG_SIZE];
	uint64_t ctl_log_seq;

	struct vq_chain chain; /* scratch, under the lock */

	void (*host_wake)(void *opaque, int wake_group);
	void *host_wake_opaque;
	void (*on_event)(void *opaque, const struct console_event *ev);
	void *event_opaque;
};

/* 0 or -errno. GM must outlive the device. Wire the callbacks below before the guest runs. */
int console_init(struct console *c, const struct guest_mem *gm);
/*
 * A machine reset (vmdbg's --reboot) or the end of a run, the vCPUs paused: the device resets
 * as if the driver wrote Status 0 (the tx chains the guest published are captured, host
 * buffers kept), then the host readers of captured bytes are woken.
 */
void console_machine_reset(struct console *c);
void console_free(struct console *c);

static inline void console_set_irq(struct console *c, void (*raise_irq)(void *), void *opaque)
{
	c->mmio.raise_irq = raise_irq;
	c->mmio.irq_opaque = opaque;
}

void console_set_strict(struct console *c, bool strict);

/* Host input for PORT: queued without bound, delivered as far as the gates allow. 0, -EINVAL, -ENOMEM. */
int console_port_send(struct console *c, unsigned port, const void *buf, size_t len);
/* Take up to MAX bytes of the port's guest output. Returns bytes taken or -EINVAL. */
long console_port_drain(struct console *c, unsigned port, void *buf, size_t max);
/*
 * Queue any control message for the guest (out-of-range ids, repeats and
 * unknown events included: this is for testing drivers) and try delivery.
 * NAME (or NULL) is appended after the header with its NUL, as PORT_NAME is.
 * 0, -ENAMETOOLONG, -ENOSPC (CONSOLE_CTL_OUT_MAX waiting).
 */
int console_ctl_send(struct console *c, uint32_t id, uint16_t event, uint16_t value,
		     const char *name);
/*
 * The same, and *BEFORE_READY tells whether the driver had not sent DEVICE_READY yet when
 * the message was queued: then it reaches the driver ahead of the handshake (before the
 * device's PORT_ADDs), which is a legitimate experiment but rarely the one meant.
 */
int console_ctl_inject(struct console *c, uint32_t id, uint16_t event, uint16_t value,
		       const char *name, bool *before_ready);
/* One wake byte into port 0's input. */
int console_wake(struct console *c, uint8_t byte);
/* "dump", "shutdown", ... or NULL for a byte with no meaning. */
const char *console_wake_name(uint8_t byte);
/* Process queue Q as if the guest had kicked it (not counted as a notify). 0 or -EINVAL. */
int console_notify(struct console *c, unsigned q);

/*
 * Tx polling, vmdbg's addition, driven by the host event loop while a port streams bulk
 * output: START sets VRING_USED_F_NO_NOTIFY on the port's tx ring, so the driver stops
 * notifying; each call then walks the ring exactly as a notify would (same caps, same
 * interrupt and host wake). A call that finds nothing returns CONSOLE_POLL_IDLE, or with
 * MAY_STOP clears the flag again (re-checking the ring afterwards, so no chain is
 * stranded) and returns CONSOLE_POLL_STOP; so does a held-back (high-water) port, whose
 * host reader restarts tx as before. Reset clears the flag.
 * Returns CONSOLE_POLL_STOP (flag clear: stop calling), CONSOLE_POLL_KEEP (bytes moved),
 * CONSOLE_POLL_BUSY (the per-call cap was hit: call again soon), CONSOLE_POLL_IDLE, or
 * -EINVAL.
 */
#define CONSOLE_POLL_STOP 0
#define CONSOLE_POLL_KEEP 1
#define CONSOLE_POLL_BUSY 2
#define CONSOLE_POLL_IDLE 3
int console_tx_poll(struct console *c, unsigned port, bool start, bool may_stop);

void console_snapshot(struct console *c, struct console_snapshot *snap);
/*
 * Copy the newest log entries with seq > AFTER (oldest first), at most MAX.
 * Returns how many were copied.
 */
size_t console_ctl_log_read(struct console *c, uint64_t after, struct console_ctl_log_entry *out,
			    size_t max);
/* The newest log entry's seq (vCPU threads append under the device lock). */
uint64_t console_ctl_log_newest(struct console *c);

/* "DEVICE_READY", ... or NULL for an unknown event. */
const char *console_ctl_event_name(uint16_t event);

#endif
