/* Saving and restoring the virtio-mmio transport, its queues and the console's ports. */
#include "console_snap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console_priv.h"

/* Plain, fixed-width copies of the device state: the file never holds pointers. */
struct snap_transport {
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint32_t status, interrupt_status, last_rejected_status;
	uint64_t driver_features;
	uint64_t irqs_raised, status_rejects, ignored_writes, resets;
};

struct snap_vq {
	uint16_t num_max, size, last_avail_idx, used_idx;
	uint8_t ready, broken, pad[2];
	uint32_t inuse;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint64_t popped, used, notifies, interrupts, suppressed, errors;
	char broken_reason[VQ_REASON_MAX];
};

struct snap_port {
	uint8_t guest_open, readied, tx_throttled, pad;
	uint64_t tx_bytes, tx_chains, tx_dropped, rx_bytes, rx_chains, rx_torn;
	uint64_t host_wakes, throttle_events;
};

/* VIRT fields. */
enum { VIRT_TRANSPORT = 1, VIRT_NR_QUEUES, VIRT_QUEUE0 = 100 };
/* VCON fields. */
enum { VCON_DEVICE_READY = 1, VCON_NR_PORTS, VCON_CTL_OUT, VCON_PORT0 = 100,
       VCON_PENDING_RX0 = 200, VCON_HOST_TX0 = 300 };

static void save_vq(struct snap_writer *w, const struct virtqueue *vq, uint32_t key)
{
	struct snap_vq s = {
		.num_max = vq->num_max, .size = vq->size, .last_avail_idx = vq->last_avail_idx,
		.used_idx = vq->used_idx, .ready = vq->ready, .broken = vq->broken,
		.inuse = vq->inuse, .desc_gpa = vq->desc_gpa, .avail_gpa = vq->avail_gpa,
		.used_gpa = vq->used_gpa, .popped = vq->popped, .used = vq->used,
		.notifies = vq->notifies, .interrupts = vq->interrupts,
		.suppressed = vq->suppressed, .errors = vq->errors,
	};

	memcpy(s.broken_reason, vq->broken_reason, sizeof(s.broken_reason));
	snap_field(w, key, &s, sizeof(s));
}

void console_snap_save(struct console *c, struct snap_writer *w, uint32_t index)
{
	struct virtio_mmio *t = &c->mmio;
	uint32_t nq = CONSOLE_NR_QUEUES, np = CONSOLE_NR_PORTS;
	uint8_t ready;
	struct console_ctl_msg *msgs;

	virtio_mmio_lock(t);
	struct snap_transport tr = {
		.device_features_sel = t->device_features_sel,
		.driver_features_sel = t->driver_features_sel, .queue_sel = t->queue_sel,
		.status = t->status, .interrupt_status = virtio_mmio_interrupt_status(t),
		.last_rejected_status = t->last_rejected_status,
		.driver_features = t->driver_features, .irqs_raised = t->irqs_raised,
		.status_rejects = t->status_rejects, .ignored_writes = t->ignored_writes,
		.resets = t->resets,
	};

	snap_section_begin(w, SNAP_VIRTIO, index);
	snap_field(w, VIRT_TRANSPORT, &tr, sizeof(tr));
	snap_field(w, VIRT_NR_QUEUES, &nq, sizeof(nq));
	for (unsigned q = 0; q < nq; q++)
		save_vq(w, &t->vqs[q], VIRT_QUEUE0 + q);
	snap_section_end(w);

	snap_section_begin(w, SNAP_CONSOLE, index);
	ready = c->device_ready;
	snap_field(w, VCON_DEVICE_READY, &ready, sizeof(ready));
	snap_field(w, VCON_NR_PORTS, &np, sizeof(np));
	for (unsigned i = 0; i < np; i++) {
		const struct console_port *p = &c->port[i];
		struct snap_port sp = {
			.guest_open = p->guest_open, .readied = p->readied,
			.tx_throttled = p->tx_throttled, .tx_bytes = p->tx_bytes,
			.tx_chains = p->tx_chains, .tx_dropped = p->tx_dropped,
			.rx_bytes = p->rx_bytes, .rx_chains = p->rx_chains, .rx_torn = p->rx_torn,
			.host_wakes = p->host_wakes, .throttle_events = p->throttle_events,
		};

		snap_field(w, VCON_PORT0 + i, &sp, sizeof(sp));
		snap_field(w, VCON_PENDING_RX0 + i, cbuf_data(&p->pending_rx),
			   (uint32_t)p->pending_rx.len);
		snap_field(w, VCON_HOST_TX0 + i, cbuf_data(&p->host_tx), (uint32_t)p->host_tx.len);
	}
	/* The waiting control messages, oldest first. */
	msgs = calloc(c->ctl_out_len ? c->ctl_out_len : 1, sizeof(*msgs));
	if (msgs) {
		for (unsigned i = 0; i < c->ctl_out_len; i++)
			msgs[i] = c->ctl_out[(c->ctl_out_head + i) % CONSOLE_CTL_OUT_MAX];
		snap_field(w, VCON_CTL_OUT, msgs, (uint32_t)(c->ctl_out_len * sizeof(*msgs)));
		free(msgs);
	} else {
		w->err = w->err ? w->err : -ENOMEM;
	}
	snap_section_end(w);
	virtio_mmio_unlock(t);
}

static int bad(char *err, size_t errlen, const char *what, uint32_t index)
{
	snprintf(err, errlen, "the snapshot's virtio device %u: %s", index, what);
	return -EINVAL;
}

static bool vq_ok(const struct snap_vq *s, const struct virtqueue *vq)
{
	return s->num_max == vq->num_max && s->size >= 1 && s->size <= s->num_max &&
	       !(s->size & (s->size - 1)) && s->ready <= 1 && s->broken <= 1 &&
	       s->inuse <= s->size && memchr(s->broken_reason, 0, sizeof(s->broken_reason));
}

int console_snap_check(struct console *c, const struct snap_file *f, uint32_t index, char *err,
		       size_t errlen)
{
	const struct snap_section *v = snap_find(f, SNAP_VIRTIO, index);
	const struct snap_section *k = snap_find(f, SNAP_CONSOLE, index);
	struct snap_transport tr;
	uint32_t n, len;
	uint8_t ready;
	const struct console_ctl_msg *msgs;

	if (!v || !k || !snap_fields_ok(v) || !snap_fields_ok(k))
		return bad(err, errlen, "no console state (VIRT and VCON sections)", index);
	if (snap_get_exact(v, VIRT_TRANSPORT, &tr, sizeof(tr)) ||
	    snap_get_exact(v, VIRT_NR_QUEUES, &n, sizeof(n)) || n != CONSOLE_NR_QUEUES)
		return bad(err, errlen, "transport state malformed or not a 3-port console", index);
	if (tr.queue_sel >= 0x10000 || tr.status > 0xff)
		return bad(err, errlen, "transport registers out of range", index);
	for (unsigned q = 0; q < CONSOLE_NR_QUEUES; q++) {
		struct snap_vq s;

		if (snap_get_exact(v, VIRT_QUEUE0 + q, &s, sizeof(s)) || !vq_ok(&s, &c->mmio.vqs[q]))
			return bad(err, errlen, "a virtqueue's state is malformed", index);
	}
	if (snap_get_exact(k, VCON_DEVICE_READY, &ready, sizeof(ready)) || ready > 1 ||
	    snap_get_exact(k, VCON_NR_PORTS, &n, sizeof(n)) || n != CONSOLE_NR_PORTS)
		return bad(err, errlen, "console state malformed or not 3 ports", index);
	for (unsigned i = 0; i < CONSOLE_NR_PORTS; i++) {
		struct snap_port sp;

		if (snap_get_exact(k, VCON_PORT0 + i, &sp, sizeof(sp)) ||
		    !snap_get(k, VCON_PENDING_RX0 + i, &len) || !snap_get(k, VCON_HOST_TX0 + i, &len))
			return bad(err, errlen, "a port's state is missing", index);
	}
	msgs = snap_get(k, VCON_CTL_OUT, &len);
	if (!msgs || len % sizeof(*msgs) || len / sizeof(*msgs) > CONSOLE_CTL_OUT_MAX)
		return bad(err, errlen, "the outbound control queue is malformed", index);
	for (unsigned i = 0; i < len / sizeof(*msgs); i++) {
		struct console_ctl_msg m;

		memcpy(&m, (const uint8_t *)msgs + i * sizeof(m), sizeof(m));
		if (m.name_len > CONSOLE_CTL_NAME_MAX)
			return bad(err, errlen, "a waiting control message is malformed", index);
	}
	return 0;
}

static void restore_vq(struct virtqueue *vq, const struct snap_vq *s)
{
	vq->size = s->size;
	vq->ready = s->ready;
	vq->desc_gpa = s->desc_gpa;
	vq->avail_gpa = s->avail_gpa;
	vq->used_gpa = s->used_gpa;
	vq->last_avail_idx = s->last_avail_idx;
	vq->used_idx = s->used_idx;
	vq->inuse = s->inuse;
	vq->popped = s->popped;
	vq->used = s->used;
	vq->notifies = s->notifies;
	vq->interrupts = s->interrupts;
	vq->suppressed = s->suppressed;
	vq->errors = s->errors;
	vq->broken = s->broken;
	memcpy(vq->broken_reason, s->broken_reason, sizeof(vq->broken_reason));
}

static int set_buf(struct cbuf *b, const struct snap_section *k, uint32_t key)
{
	uint32_t len;
	const void *p = snap_get(k, key, &len);

	cbuf_clear(b);
	return len ? cbuf_append(b, p, len) : 0;
}

int console_snap_restore(struct console *c, const struct snap_file *f, uint32_t index)
{
	const struct snap_section *v = snap_find(f, SNAP_VIRTIO, index);
	const struct snap_section *k = snap_find(f, SNAP_CONSOLE, index);
	struct virtio_mmio *t = &c->mmio;
	struct snap_transport tr;
	uint32_t len;
	uint8_t ready;
	const uint8_t *msgs;
	bool wake[CONSOLE_NR_PORTS] = { false };
	int r = 0;

	virtio_mmio_lock(t);
	snap_get_exact(v, VIRT_TRANSPORT, &tr, sizeof(tr));
	t->device_features_sel = tr.device_features_sel;
	t->driver_features_sel = tr.driver_features_sel;
	t->queue_sel = tr.queue_sel;
	t->status = tr.status;
	__atomic_store_n(&t->interrupt_status, tr.interrupt_status, __ATOMIC_SEQ_CST);
	t->last_rejected_status = tr.last_rejected_status;
	t->driver_features = tr.driver_features;
	t->irqs_raised = tr.irqs_raised;
	t->status_rejects = tr.status_rejects;
	t->ignored_writes = tr.ignored_writes;
	t->resets = tr.resets;
	for (unsigned q = 0; q < CONSOLE_NR_QUEUES; q++) {
		struct snap_vq s;

		snap_get_exact(v, VIRT_QUEUE0 + q, &s, sizeof(s));
		restore_vq(&t->vqs[q], &s);
	}
	snap_get_exact(k, VCON_DEVICE_READY, &ready, sizeof(ready));
	c->device_ready = ready;
	for (unsigned i = 0; i < CONSOLE_NR_PORTS; i++) {
		struct console_port *p = &c->port[i];
		struct snap_port sp;

		snap_get_exact(k, VCON_PORT0 + i, &sp, sizeof(sp));
		p->guest_open = sp.guest_open;
		p->readied = sp.readied;
		p->tx_throttled = sp.tx_throttled;
		p->tx_bytes = sp.tx_bytes;
		p->tx_chains = sp.tx_chains;
		p->tx_dropped = sp.tx_dropped;
		p->rx_bytes = sp.rx_bytes;
		p->rx_chains = sp.rx_chains;
		p->rx_torn = sp.rx_torn;
		p->host_wakes = sp.host_wakes;
		p->throttle_events = sp.throttle_events;
		if (set_buf(&p->pending_rx, k, VCON_PENDING_RX0 + i) ||
		    set_buf(&p->host_tx, k, VCON_HOST_TX0 + i))
			r = -ENOMEM;
		wake[i] = p->host_tx.len > 0;
	}
	/*
	 * The saved rings may carry VRING_USED_F_NO_NOTIFY from a host that was polling a
	 * port's tx ring (console_tx_poll); nothing polls it now, so the driver must notify.
	 */
	for (unsigned i = 0; i < CONSOLE_NR_PORTS; i++) {
		struct virtqueue *vq = &t->vqs[console_tx_queue(i)];

		if (vq->ready && !vq->broken)
			vq_set_no_notify(vq, false);
	}
	msgs = snap_get(k, VCON_CTL_OUT, &len);
	c->ctl_out_head = 0;
	c->ctl_out_len = len / sizeof(struct console_ctl_msg);
	memcpy(c->ctl_out, msgs, len);
	virtio_mmio_unlock(t);
	/* Output the guest published before the save is the host's to read again. */
	for (unsigned i = 0; i < CONSOLE_NR_PORTS; i++)
		if (wake[i] && c->host_wake)
			c->host_wake(c->host_wake_opaque, i == 2 ? CONSOLE_WAKE_GROUP_STATS
								  : CONSOLE_WAKE_GROUP_CONSOLE);
	return r;
}

int console_snap_describe(const struct snap_file *f, uint32_t index, uint64_t host_tx[],
			  uint64_t pending_rx[], uint64_t tx_bytes[])
{
	const struct snap_section *k = snap_find(f, SNAP_CONSOLE, index);
	uint32_t len;

	if (!k || !snap_fields_ok(k))
		return -ENOENT;
	for (unsigned i = 0; i < CONSOLE_NR_PORTS; i++) {
		struct snap_port sp = { 0 };

		host_tx[i] = snap_get(k, VCON_HOST_TX0 + i, &len) ? len : 0;
		pending_rx[i] = snap_get(k, VCON_PENDING_RX0 + i, &len) ? len : 0;
		snap_get_exact(k, VCON_PORT0 + i, &sp, sizeof(sp));
		tx_bytes[i] = sp.tx_bytes;
	}
	return 0;
}
