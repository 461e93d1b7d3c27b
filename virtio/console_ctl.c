/* The control queues: the multiport handshake (virtio 1.2 §5.3.6.2) and its log. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "emu/log.h"
#include "virtio/console_priv.h"

const char *console_ctl_event_name(uint16_t event)
{
	static const char *const names[] = {
		[VIRTIO_CONSOLE_DEVICE_READY] = "DEVICE_READY", [VIRTIO_CONSOLE_PORT_ADD] = "PORT_ADD",
		[VIRTIO_CONSOLE_PORT_REMOVE] = "PORT_REMOVE",   [VIRTIO_CONSOLE_PORT_READY] = "PORT_READY",
		[VIRTIO_CONSOLE_CONSOLE_PORT] = "CONSOLE_PORT", [VIRTIO_CONSOLE_RESIZE] = "RESIZE",
		[VIRTIO_CONSOLE_PORT_OPEN] = "PORT_OPEN",       [VIRTIO_CONSOLE_PORT_NAME] = "PORT_NAME",
	};

	return event < sizeof(names) / sizeof(names[0]) ? names[event] : NULL;
}

static void ctl_log(struct console *c, enum console_ctl_dir dir, uint32_t id, uint16_t event,
		    uint16_t value, const char *name, unsigned name_len, unsigned wire_len,
		    const char *note)
{
	struct console_ctl_log_entry *e = &c->ctl_log[c->ctl_log_seq % CONSOLE_CTL_LOG_SIZE];
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	memset(e, 0, sizeof(*e));
	e->seq = ++c->ctl_log_seq;
	e->time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	e->dir = dir;
	e->id = id;
	e->event = event;
	e->value = value;
	e->len = (uint16_t)wire_len;
	if (name) {
		if (name_len > CONSOLE_CTL_LOG_NAME)
			name_len = CONSOLE_CTL_LOG_NAME;
		memcpy(e->name, name, name_len);
	}
	e->note = note ? note : "";
	con_emit(c, &(struct console_event){
			    .kind = dir == CONSOLE_CTL_FROM_GUEST ? CONSOLE_EV_CTL_FROM_GUEST
								  : CONSOLE_EV_CTL_TO_GUEST,
			    .port = id < CONSOLE_NR_PORTS ? (int)id : -1,
			    .queue = dir == CONSOLE_CTL_FROM_GUEST ? CONSOLE_Q_CTRL_TX : CONSOLE_Q_CTRL_RX,
			    .id = id,
			    .event = event,
			    .value = value,
			    .note = e->note,
		    });
}

size_t console_ctl_log_read(struct console *c, uint64_t after, struct console_ctl_log_entry *out,
			    size_t max)
{
	uint64_t newest, first, oldest_kept;
	size_t n = 0;

	virtio_mmio_lock(&c->mmio);
	newest = c->ctl_log_seq;
	oldest_kept = newest > CONSOLE_CTL_LOG_SIZE ? newest - CONSOLE_CTL_LOG_SIZE + 1 : 1;
	first = after + 1 > oldest_kept ? after + 1 : oldest_kept;
	if (max && newest >= first && newest - first + 1 > max)
		first = newest - max + 1;
	for (uint64_t s = first; max && s <= newest; s++)
		out[n++] = c->ctl_log[(s - 1) % CONSOLE_CTL_LOG_SIZE];
	virtio_mmio_unlock(&c->mmio);
	return n;
}

uint64_t console_ctl_log_newest(struct console *c)
{
	uint64_t seq;

	virtio_mmio_lock(&c->mmio);
	seq = c->ctl_log_seq;
	virtio_mmio_unlock(&c->mmio);
	return seq;
}

int con_ctl_queue(struct console *c, uint32_t id, uint16_t event, uint16_t value,
		  const char *name)
{
	struct console_ctl_msg *m;
	size_t name_len = name ? strlen(name) : 0;

	if (name_len > CONSOLE_CTL_NAME_MAX)
		return -ENAMETOOLONG;
	if (c->ctl_out_len == CONSOLE_CTL_OUT_MAX) {
		log_warn("virtio-console: control queue full (%u messages waiting for the guest); %s(%u, %u) not queued",
			 CONSOLE_CTL_OUT_MAX, console_ctl_event_name(event) ?: "?", id, value);
		return -ENOSPC;
	}
	m = &c->ctl_out[(c->ctl_out_head + c->ctl_out_len) % CONSOLE_CTL_OUT_MAX];
	memset(m, 0, sizeof(*m));
	m->id = id;
	m->event = event;
	m->value = value;
	if (name) {
		m->has_name = true;
		m->name_len = (uint16_t)name_len;
		memcpy(m->name, name, name_len);
	}
	c->ctl_out_len++;
	return 0;
}

void con_ctl_reset(struct console *c)
{
	c->ctl_out_head = 0;
	c->ctl_out_len = 0;
	c->device_ready = false;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Wire form: le32 id, le16 event, le16 value, then name bytes and a NUL when there is a name. */
static size_t ctl_encode(const struct console_ctl_msg *m, uint8_t *buf)
{
	size_t len = VIRTIO_CONSOLE_CONTROL_SIZE;

	put_le(buf, m->id, 4);
	put_le(buf + 4, m->event, 2);
	put_le(buf + 6, m->value, 2);
	if (m->has_name) {
		memcpy(buf + len, m->name, m->name_len);
		len += m->name_len;
		buf[len++] = '\0';
	}
	return len;
}

void con_deliver_ctl(struct console *c)
{
	struct virtqueue *vq = &c->mmio.vqs[CONSOLE_Q_CTRL_RX];
	uint8_t wire[VIRTIO_CONSOLE_CONTROL_SIZE + CONSOLE_CTL_NAME_MAX + 1];
	bool returned = false;
	unsigned chains = 0;

	if (!c->ctl_out_len || !virtio_mmio_driver_ok(&c->mmio) || !con_multiport(c) || !vq->ready)
		return;
	while (c->ctl_out_len && chains < vq->size) {
		const struct console_ctl_msg *m = &c->ctl_out[c->ctl_out_head];
		size_t len = ctl_encode(m, wire), written;
		struct vq_chain *ch = &c->chain;

		if (con_pop(c, CONSOLE_Q_CTRL_RX) <= 0)
			break;
		chains++;
		if (vq_chain_writable(ch) < len) {
			log_warn("virtio-console: control rx chain %u holds %llu bytes, %s needs %zu; returned empty, message kept",
				 ch->head, (unsigned long long)vq_chain_writable(ch),
				 console_ctl_event_name(m->event) ?: "message", len);
			returned |= vq_push(vq, ch->head, 0) == 0;
			continue;
		}
		if (vq_chain_scatter(vq, ch, wire, len, &written)) {
			log_warn("virtio-console: control rx chain %u: write failed after %zu bytes (torn); returned empty, message kept",
				 ch->head, written);
			returned |= vq_push(vq, ch->head, 0) == 0;
			break;
		}
		if (vq_push(vq, ch->head, (uint32_t)len))
			break;
		returned = true;
		ctl_log(c, CONSOLE_CTL_TO_GUEST, m->id, m->event, m->value,
			m->has_name ? m->name : NULL, m->name_len, (unsigned)len, "");
		c->ctl_out_head = (c->ctl_out_head + 1) % CONSOLE_CTL_OUT_MAX;
		c->ctl_out_len--;
	}
	if (returned)
		con_signal(c, CONSOLE_Q_CTRL_RX);
}

/* One guest -> host message; returns what the device made of it, for the log. */
static const char *handle_event(struct console *c, uint32_t id, uint16_t event, uint16_t value)
{
	struct console_port *p;
	bool was_open;

	switch (event) {
	case VIRTIO_CONSOLE_DEVICE_READY:
		if (value != 1) {
			log_warn("virtio-console: DEVICE_READY with value %u ignored", value);
			return "value != 1: ignored";
		}
		if (c->device_ready) {
			log_warn("virtio-console: repeated DEVICE_READY ignored");
			return "repeat: ignored";
		}
		c->device_ready = true;
		for (unsigned port = 0; port < CONSOLE_NR_PORTS; port++)
			con_ctl_queue(c, port, VIRTIO_CONSOLE_PORT_ADD, 1, NULL);
		return "PORT_ADD queued for every port";
	case VIRTIO_CONSOLE_PORT_READY:
		if (value == 0) {
			log_err("virtio-console: guest reports add_port failure for port %u", id);
			return "add_port failure";
		}
		if (value != 1) {
			log_warn("virtio-console: PORT_READY(%u) with value %u ignored", id, value);
			return "value != 1: ignored";
		}
		if (id >= CONSOLE_NR_PORTS) {
			log_warn("virtio-console: PORT_READY for port %u, which does not exist", id);
			return "no such port: ignored";
		}
		p = &c->port[id];
		if (p->readied) {
			log_warn("virtio-console: repeated PORT_READY for port %u ignored", id);
			return "repeat: ignored";
		}
		p->readied = true;
		/* QEMU's order: the name exists before anything opens the port. */
		if (id == 0)
			con_ctl_queue(c, id, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL);
		con_ctl_queue(c, id, VIRTIO_CONSOLE_PORT_NAME, 1, p->name);
		con_ctl_queue(c, id, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL);
		return id == 0 ? "CONSOLE_PORT, PORT_NAME, PORT_OPEN queued"
			       : "PORT_NAME, PORT_OPEN queued";
	case VIRTIO_CONSOLE_PORT_OPEN:
		if (id >= CONSOLE_NR_PORTS) {
			log_warn("virtio-console: PORT_OPEN for port %u, which does not exist", id);
			return "no such port: ignored";
		}
		p = &c->port[id];
		was_open = p->guest_open;
		p->guest_open = value == 1;
		if (!was_open && p->guest_open && id != 0)
			con_deliver_rx(c, id);
		return p->guest_open ? "port opened" : "port closed";
	default:
		log_debug("virtio-console: guest sent %s (%u) for port %u, value %u: ignored",
			  console_ctl_event_name(event) ?: "unknown event", event, id, value);
		return console_ctl_event_name(event) ? "not a guest message: ignored"
						     : "unknown event: ignored";
	}
}

void con_process_ctl_tx(struct console *c)
{
	struct virtqueue *vq = &c->mmio.vqs[CONSOLE_Q_CTRL_TX];
	struct {
		uint32_t id;
		uint16_t event, value;
	} ev[CONSOLE_CTL_CHAINS_PER_CALL];
	unsigned n = 0, chains = 0;
	bool returned = false;

	if (!virtio_mmio_driver_ok(&c->mmio) || !con_multiport(c))
		return;
	while (chains < CONSOLE_CTL_CHAINS_PER_CALL && chains < vq->size) {
		uint8_t b[VIRTIO_CONSOLE_CONTROL_SIZE];
		size_t got;

		if (con_pop(c, CONSOLE_Q_CTRL_TX) <= 0)
			break;
		chains++;
		got = vq_chain_gather(vq, &c->chain, b, sizeof(b), 0, NULL);
		if (got == sizeof(b)) {
			ev[n].id = b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
				   (uint32_t)b[3] << 24;
			ev[n].event = (uint16_t)(b[4] | b[5] << 8);
			ev[n].value = (uint16_t)(b[6] | b[7] << 8);
			n++;
		} else {
			log_warn("virtio-console: control tx chain %u carries %zu readable bytes, not %d; ignored",
				 c->chain.head, got, VIRTIO_CONSOLE_CONTROL_SIZE);
		}
		if (vq_push(vq, c->chain.head, 0) == 0)
			returned = true;
	}
	for (unsigned i = 0; i < n; i++) {
		const char *note = handle_event(c, ev[i].id, ev[i].event, ev[i].value);

		ctl_log(c, CONSOLE_CTL_FROM_GUEST, ev[i].id, ev[i].event, ev[i].value, NULL, 0,
			VIRTIO_CONSOLE_CONTROL_SIZE, note);
	}
	if (returned)
		con_signal(c, CONSOLE_Q_CTRL_TX);
	con_deliver_ctl(c);
}
