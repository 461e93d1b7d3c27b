#include "virtio/console.h"

#include <errno.h>
#include <string.h>

#include "emu/log.h"
#include "virtio/console_priv.h"

static const char *const port_names[CONSOLE_NR_PORTS] = {
	"ktstr-console",
	"ktstr-bulk",
	"ktstr-stats",
};

static const char *const queue_names[CONSOLE_NR_QUEUES] = {
	"port0 rx", "port0 tx", "control rx", "control tx",
	"port1 rx", "port1 tx", "port2 rx",   "port2 tx",
};

void con_emit(struct console *c, const struct console_event *ev)
{
	if (c->on_event)
		c->on_event(c->event_opaque, ev);
}

int con_pop(struct console *c, unsigned q)
{
	struct virtqueue *vq = &c->mmio.vqs[q];
	bool was_broken = vq->broken;
	int r = vq_pop(vq, &c->chain);

	if (r < 0 && !was_broken)
		con_emit(c, &(struct console_event){ .kind = CONSOLE_EV_VQ_BROKEN, .port = -1,
						     .queue = (int)q, .note = vq->broken_reason });
	return r;
}

void con_signal(struct console *c, unsigned q)
{
	if (virtio_mmio_signal(&c->mmio, q))
		con_emit(c, &(struct console_event){ .kind = CONSOLE_EV_IRQ, .port = -1,
						     .queue = (int)q });
}

static void host_wake(struct console *c, unsigned port)
{
	c->port[port].host_wakes++;
	if (c->host_wake)
		c->host_wake(c->host_wake_opaque,
			     port == 2 ? CONSOLE_WAKE_GROUP_STATS : CONSOLE_WAKE_GROUP_CONSOLE);
}

/*
 * Guest -> host. CAPTURE is the reset-time walk: no interrupt, no host wake,
 * and the high-water mark does not hold back a rebooting guest's last words.
 */
static void process_tx(struct console *c, unsigned port, bool capture)
{
	struct console_port *p = &c->port[port];
	unsigned q = console_tx_queue(port);
	struct virtqueue *vq = &c->mmio.vqs[q];
	struct vq_chain *ch = &c->chain;
	size_t total = 0;
	unsigned chains = 0;
	bool had_data = false;

	if (!virtio_mmio_driver_ok(&c->mmio) || (port && !con_multiport(c)))
		return;
	if (p->host_tx.len < CONSOLE_TX_HIGH_WATER)
		p->tx_throttled = false;
	while (total < CONSOLE_TX_PER_CALL_MAX && chains < vq->size) {
		if (!capture && p->host_tx.len >= CONSOLE_TX_HIGH_WATER) {
			if (!p->tx_throttled) {
				p->tx_throttled = true;
				p->throttle_events++;
				log_debug("virtio-console: port %u: host buffer at %zu bytes, tx waits for the host reader",
					  port, p->host_tx.len);
			}
			break;
		}
		if (con_pop(c, q) <= 0)
			break;
		chains++;
		for (unsigned i = 0; i < ch->n; i++) {
			const struct vq_seg *s = &ch->seg[i];
			uint32_t n = s->len > CONSOLE_TX_DESC_MAX ? CONSOLE_TX_DESC_MAX : s->len;
			const void *src;

			if (s->write)
				continue;
			p->tx_dropped += s->len - n;
			if (n == 0)
				continue;
			src = gm_ptr(c->gm, s->addr, n);
			if (!src) {
				p->tx_dropped += n;
				log_warn("virtio-console: port %u tx: descriptor %#llx+%u is outside guest RAM, dropped",
					 port, (unsigned long long)s->addr, n);
				continue;
			}
			if (cbuf_append(&p->host_tx, src, n)) {
				p->tx_dropped += n;
				log_err("virtio-console: port %u tx: out of memory, %u bytes dropped",
					port, n);
				continue;
			}
			total += n;
			p->tx_bytes += n;
			had_data = true;
		}
		p->tx_chains++;
		if (vq_push(vq, ch->head, 0))
			break;
	}
	if (had_data && !capture) {
		con_signal(c, q);
		host_wake(c, port);
	}
}

void con_deliver_rx(struct console *c, unsigned port)
{
	struct console_port *p = &c->port[port];
	unsigned q = console_rx_queue(port);
	struct virtqueue *vq = &c->mmio.vqs[q];
	unsigned chains = 0, cap = CONSOLE_RX_CHAINS_PER_CALL;
	size_t total = 0;

	if (!p->pending_rx.len || !virtio_mmio_driver_ok(&c->mmio))
		return;
	if (port && (!con_multiport(c) || !p->guest_open))
		return;
	if (!vq->ready)
		return;
	if (cap > vq->size)
		cap = vq->size;
	while (p->pending_rx.len && chains < cap) {
		size_t written;

		if (con_pop(c, q) <= 0)
			break;
		chains++;
		if (vq_chain_scatter(vq, &c->chain, cbuf_data(&p->pending_rx), p->pending_rx.len,
				     &written)) {
			/* Nothing counts as delivered: the guest gets the chain back empty. */
			p->rx_torn++;
			log_warn("virtio-console: port %u rx: write into guest buffer failed after %zu bytes (torn); chain %u returned empty, bytes kept",
				 port, written, c->chain.head);
			vq_push(vq, c->chain.head, 0);
			break;
		}
		if (vq_push(vq, c->chain.head, (uint32_t)written))
			break;
		cbuf_consume(&p->pending_rx, written);
		total += written;
		p->rx_bytes += written;
		p->rx_chains++;
	}
	if (total)
		con_signal(c, q);
}

static void dispatch_queue(struct console *c, unsigned q)
{
	switch (q) {
	case CONSOLE_Q_CTRL_RX:
		con_deliver_ctl(c);
		break;
	case CONSOLE_Q_CTRL_TX:
		con_process_ctl_tx(c);
		break;
	default:
		if (q % 2 == 0)
			con_deliver_rx(c, q == 0 ? 0 : (q - 2) / 2);
		else
			process_tx(c, q == 1 ? 0 : (q - 3) / 2, false);
		break;
	}
}

/* --- transport ops (lock held) --- */

static void op_config_read(void *dev, uint32_t offset, void *data, unsigned len)
{
	/* struct virtio_console_config: cols, rows (no F_SIZE), max_nr_ports, emerg_wr. */
	static const uint8_t config[CONSOLE_CONFIG_SIZE] = { 0, 0, 0, 0, CONSOLE_NR_PORTS, 0, 0, 0 };

	memcpy(data, config + offset, len);
}

static void op_queue_notify(void *dev, unsigned q)
{
	struct console *c = dev;

	con_emit(c, &(struct console_event){ .kind = CONSOLE_EV_NOTIFY, .port = -1,
					     .queue = (int)q });
	dispatch_queue(c, q);
}

static void op_reset(void *dev)
{
	struct console *c = dev;

	con_emit(c, &(struct console_event){ .kind = CONSOLE_EV_STATUS, .port = -1, .queue = -1,
					     .old_status = c->mmio.status, .new_status = 0 });
	/* Before the rings go away: frames published just before a reboot must survive. */
	for (unsigned port = 0; port < CONSOLE_NR_PORTS; port++) {
		struct virtqueue *vq = &c->mmio.vqs[console_tx_queue(port)];

		/* A tx poll in progress ends here; the next driver must start out notifying. */
		if (vq->ready && !vq->broken)
			vq_set_no_notify(vq, false);
		process_tx(c, port, true);
	}
	for (unsigned port = 0; port < CONSOLE_NR_PORTS; port++) {
		struct console_port *p = &c->port[port];

		cbuf_clear(&p->pending_rx);
		p->guest_open = false;
		p->readied = false;
		p->tx_throttled = false;
	}
	con_ctl_reset(c);
}

static void op_status_changed(void *dev, uint32_t old, uint32_t new)
{
	struct console *c = dev;

	con_emit(c, &(struct console_event){ .kind = CONSOLE_EV_STATUS, .port = -1, .queue = -1,
					     .old_status = old, .new_status = new });
	if (!(new & VIRTIO_CONFIG_S_DRIVER_OK) || (old & VIRTIO_CONFIG_S_DRIVER_OK))
		return;
	if (!con_multiport(c))
		log_warn("virtio-console: DRIVER_OK without VIRTIO_CONSOLE_F_MULTIPORT: only port 0 works, no control queue");
	con_deliver_rx(c, 0);
	con_deliver_ctl(c);
}

static const struct virtio_dev_ops console_ops = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.vendor_id = 0,
	.device_features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_CONSOLE_F_MULTIPORT),
	.num_queues = CONSOLE_NR_QUEUES,
	.queue_num_max = CONSOLE_QUEUE_NUM_MAX,
	.queue_names = queue_names,
	.config_size = CONSOLE_CONFIG_SIZE,
	.config_read = op_config_read,
	.queue_notify = op_queue_notify,
	.reset = op_reset,
	.status_changed = op_status_changed,
};

/* --- host API --- */

void console_machine_reset(struct console *c)
{
	uint32_t zero = 0;
	bool wake[CONSOLE_NR_PORTS];

	virtio_mmio_write(&c->mmio, VIRTIO_MMIO_STATUS, &zero, sizeof(zero));
	virtio_mmio_lock(&c->mmio);
	for (unsigned i = 0; i < CONSOLE_NR_PORTS; i++)
		wake[i] = c->port[i].host_tx.len > 0;
	virtio_mmio_unlock(&c->mmio);
	/* Unlike the guest's own reset, the host is told: the captured bytes are its to read. */
	for (unsigned i = 0; i < CONSOLE_NR_PORTS; i++)
		if (wake[i])
			host_wake(c, i);
}

int console_init(struct console *c, const struct guest_mem *gm)
{
	int err;

	memset(c, 0, sizeof(*c));
	err = virtio_mmio_init(&c->mmio, gm, &console_ops, c);
	if (err)
		return err;
	c->gm = gm;
	for (unsigned port = 0; port < CONSOLE_NR_PORTS; port++)
		c->port[port].name = port_names[port];
	return 0;
}

void console_free(struct console *c)
{
	for (unsigned port = 0; port < CONSOLE_NR_PORTS; port++) {
		cbuf_free(&c->port[port].pending_rx);
		cbuf_free(&c->port[port].host_tx);
	}
	virtio_mmio_destroy(&c->mmio);
}

void console_set_strict(struct console *c, bool strict)
{
	virtio_mmio_lock(&c->mmio);
	c->mmio.strict = strict;
	virtio_mmio_unlock(&c->mmio);
}

int console_port_send(struct console *c, unsigned port, const void *buf, size_t len)
{
	int err;

	if (port >= CONSOLE_NR_PORTS)
		return -EINVAL;
	virtio_mmio_lock(&c->mmio);
	err = cbuf_append(&c->port[port].pending_rx, buf, len);
	if (!err)
		con_deliver_rx(c, port);
	virtio_mmio_unlock(&c->mmio);
	return err;
}

long console_port_drain(struct console *c, unsigned port, void *buf, size_t max)
{
	struct console_port *p;
	size_t n;

	if (port >= CONSOLE_NR_PORTS)
		return -EINVAL;
	p = &c->port[port];
	virtio_mmio_lock(&c->mmio);
	n = cbuf_take(&p->host_tx, buf, max);
	if (p->tx_throttled && p->host_tx.len < CONSOLE_TX_HIGH_WATER)
		process_tx(c, port, false);
	virtio_mmio_unlock(&c->mmio);
	return (long)n;
}

int console_ctl_send(struct console *c, uint32_t id, uint16_t event, uint16_t value,
		     const char *name)
{
	bool before_ready;

	return console_ctl_inject(c, id, event, value, name, &before_ready);
}

int console_ctl_inject(struct console *c, uint32_t id, uint16_t event, uint16_t value,
		       const char *name, bool *before_ready)
{
	int err;

	virtio_mmio_lock(&c->mmio);
	/* Read with the queueing, under the lock: the device's PORT_ADDs follow it or not. */
	*before_ready = !c->device_ready;
	err = con_ctl_queue(c, id, event, value, name);
	if (!err)
		con_deliver_ctl(c);
	virtio_mmio_unlock(&c->mmio);
	return err;
}

int console_wake(struct console *c, uint8_t byte)
{
	return console_port_send(c, 0, &byte, 1);
}

const char *console_wake_name(uint8_t byte)
{
	switch (byte) {
	case CONSOLE_WAKE_DUMP:
		return "dump";
	case CONSOLE_WAKE_SHUTDOWN:
		return "shutdown";
	case CONSOLE_WAKE_BPF_WRITE_DONE:
		return "bpf-write-done";
	case CONSOLE_WAKE_ACCESSOR_READY:
		return "accessor-ready";
	default:
		return NULL;
	}
}

int console_notify(struct console *c, unsigned q)
{
	if (q >= CONSOLE_NR_QUEUES)
		return -EINVAL;
	virtio_mmio_lock(&c->mmio);
	dispatch_queue(c, q);
	virtio_mmio_unlock(&c->mmio);
	return 0;
}

int console_tx_poll(struct console *c, unsigned port, bool start, bool may_stop)
{
	struct console_port *p;
	struct virtqueue *vq;
	uint64_t moved;
	int r = CONSOLE_POLL_STOP;

	if (port >= CONSOLE_NR_PORTS)
		return -EINVAL;
	p = &c->port[port];
	vq = &c->mmio.vqs[console_tx_queue(port)];
	virtio_mmio_lock(&c->mmio);
	if (!virtio_mmio_driver_ok(&c->mmio) || (port && !con_multiport(c)) || !vq->ready ||
	    vq->broken)
		goto out;
	if (start && vq_set_no_notify(vq, true))
		goto out;
	moved = p->tx_bytes;
	process_tx(c, port, false);
	moved = p->tx_bytes - moved;
	if (moved >= CONSOLE_TX_PER_CALL_MAX) {
		r = CONSOLE_POLL_BUSY;
	} else if (moved || start) {
		r = CONSOLE_POLL_KEEP;
	} else if (!may_stop && !p->tx_throttled) {
		r = CONSOLE_POLL_IDLE;
	} else if (vq_set_no_notify(vq, false) == 0 && !p->tx_throttled && vq_avail_pending(vq)) {
		/* Published after the walk above, while the driver still saw the flag. */
		if (vq_set_no_notify(vq, true) == 0)
			r = CONSOLE_POLL_KEEP;
	}
out:
	virtio_mmio_unlock(&c->mmio);
	return r;
}

void console_snapshot(struct console *c, struct console_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	virtio_mmio_lock(&c->mmio);
	s->status = c->mmio.status;
	s->interrupt_status = virtio_mmio_interrupt_status(&c->mmio);
	s->device_features = console_ops.device_features;
	s->driver_features = c->mmio.driver_features;
	s->multiport = con_multiport(c);
	s->device_ready = c->device_ready;
	s->strict = c->mmio.strict;
	s->irqs_raised = c->mmio.irqs_raised;
	s->status_rejects = c->mmio.status_rejects;
	s->resets = c->mmio.resets;
	for (unsigned i = 0; i < CONSOLE_NR_PORTS; i++) {
		const struct console_port *p = &c->port[i];

		s->port[i].name = p->name;
		s->port[i].guest_open = p->guest_open;
		s->port[i].readied = p->readied;
		s->port[i].tx_throttled = p->tx_throttled;
		s->port[i].pending_rx = p->pending_rx.len;
		s->port[i].host_tx = p->host_tx.len;
		s->port[i].tx_bytes = p->tx_bytes;
		s->port[i].tx_chains = p->tx_chains;
		s->port[i].tx_dropped = p->tx_dropped;
		s->port[i].rx_bytes = p->rx_bytes;
		s->port[i].rx_chains = p->rx_chains;
		s->port[i].rx_torn = p->rx_torn;
		s->port[i].host_wakes = p->host_wakes;
		s->port[i].throttle_events = p->throttle_events;
	}
	for (unsigned q = 0; q < CONSOLE_NR_QUEUES; q++)
		vq_snapshot(&c->mmio.vqs[q], &s->vq[q]);
	s->ctl_out_len = c->ctl_out_len;
	for (unsigned i = 0; i < c->ctl_out_len && i < sizeof(s->ctl_out) / sizeof(s->ctl_out[0]); i++)
		s->ctl_out[i] = c->ctl_out[(c->ctl_out_head + i) % CONSOLE_CTL_OUT_MAX];
	s->ctl_log_seq = c->ctl_log_seq;
	virtio_mmio_unlock(&c->mmio);
}
