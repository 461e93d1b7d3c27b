/*
 * The virtio-console driver proper (vcon.h): probe, handshake, control
 * messages, port reads and writes. Output lines are a contract with
 * tests/integration/guest/console*.t (README.md lists them).
 */
#include "vcon.h"
#include "io.h"

struct vcon tg_vcon;

static const char *const event_names[] = {
	"DEVICE_READY", "PORT_ADD", "PORT_REMOVE", "PORT_READY",
	"CONSOLE_PORT", "RESIZE",   "PORT_OPEN",   "PORT_NAME",
};

const char *vcon_event_name(uint16_t ev)
{
	return ev < TG_ARRAY_SIZE(event_names) ? event_names[ev] : "UNKNOWN";
}

static struct tg_vq *rx_vq(struct vcon *v, unsigned id)
{
	return &v->vq[id == 0 ? 0 : 2 + 2 * id];
}

static struct tg_vq *tx_vq(struct vcon *v, unsigned id)
{
	return &v->vq[id == 0 ? 1 : 3 + 2 * id];
}

void vcon_idle(struct vcon *v)
{
	if (v->dev.irq_on)
		tg_virtio_idle(&v->dev);
	else
		cpu_relax();
}

/* add_inbuf: one buffer, one kick (Linux kicks on every add). */
static int add_inbuf(struct tg_vq *vq, void *buf, bool kick)
{
	struct tg_seg s = { buf, VCON_RXBUF, true };
	if (tg_vq_add(vq, &s, 1, buf) < 0)
		return -1;
	if (kick)
		tg_vq_kick(vq);
	return 0;
}

/* fill_queue: PAGE_SIZE buffers until the ring is full. */
static int fill_queue(struct tg_vq *vq)
{
	int n = 0;
	while (vq->num_free) {
		void *b = tg_dma_alloc(VCON_RXBUF, 64);
		if (!b || add_inbuf(vq, b, true) < 0)
			break;
		n++;
	}
	return n;
}

void vcon_fill_rx(struct vcon *v, unsigned id)
{
	fill_queue(v->port[id].rx);
}

int vcon_send_ctl(struct vcon *v, uint32_t id, uint16_t event, uint16_t value)
{
	struct tg_seg s = { v->ctl_out, 8, false };

	if (!v->multiport)
		return 0;
	memcpy(v->ctl_out, &id, 4);
	memcpy(v->ctl_out + 4, &event, 2);
	memcpy(v->ctl_out + 6, &value, 2);
	tg_printf("tg: vcon ctl out %s id=%u value=%u\n", vcon_event_name(event), id, value);
	if (tg_vq_add(v->c_ovq, &s, 1, v->ctl_out) < 0) {
		tg_printf("tg: vcon ctl out ring full\n");
		return -1;
	}
	tg_vq_kick(v->c_ovq);
	v->ctl_out_count++;
	/* c_ovq has no interrupt callback in Linux either: spin until the device used it. */
	uint64_t t0 = tg_now_us();
	while (!tg_vq_get_used(v->c_ovq, NULL)) {
		if (tg_now_us() - t0 > 5000000) {
			tg_printf("tg: vcon ctl out %s not returned by the device\n",
				  vcon_event_name(event));
			return -1;
		}
		cpu_relax();
	}
	return 0;
}

static void add_port(struct vcon *v, unsigned id)
{
	struct vcon_port *p = &v->port[id];

	p->added = true;
	p->rx = rx_vq(v, id);
	p->tx = tx_vq(v, id);
	/* Buffers stay in the ring across PORT_REMOVE (Linux: only virtcons_remove detaches them). */
	if (!p->filled) {
		int n = fill_queue(p->rx);
		p->filled = true;
		if (n == 0) {
			tg_printf("tg: vcon port %u: no rx buffers\n", id);
			vcon_send_ctl(v, id, VIRTIO_CONSOLE_PORT_READY, 0);
			return;
		}
	}
	if (!v->multiport) {
		p->console = p->guest_open = p->host_open = true;
		return;
	}
	vcon_send_ctl(v, id, VIRTIO_CONSOLE_PORT_READY, 1);
}

static void handle_ctl(struct vcon *v, const uint8_t *buf, uint32_t len)
{
	uint32_t id;
	uint16_t ev, val;

	if (len < 8) {
		tg_printf("tg: vcon ctl in short len=%u dropped\n", len);
		return;
	}
	memcpy(&id, buf, 4);
	memcpy(&ev, buf + 4, 2);
	memcpy(&val, buf + 6, 2);
	v->ctl_in_count++;
	if (ev < TG_ARRAY_SIZE(event_names))
		tg_printf("tg: vcon ctl in %s id=%u value=%u\n", event_names[ev], id, val);
	else
		tg_printf("tg: vcon ctl in EVENT_%u id=%u value=%u\n", ev, id, val);

	struct vcon_port *p = id < v->nports && v->port[id].added ? &v->port[id] : NULL;
	if (!p && ev != VIRTIO_CONSOLE_PORT_ADD) {
		tg_printf("tg: vcon ctl invalid index %u dropped\n", id);
		return;
	}
	switch (ev) {
	case VIRTIO_CONSOLE_PORT_ADD:
		if (p) {
			tg_printf("tg: vcon port %u already added\n", id);
			vcon_send_ctl(v, id, VIRTIO_CONSOLE_PORT_READY, 1);
		} else if (id >= v->max_nr_ports) {
			tg_printf("tg: vcon ctl PORT_ADD out-of-bound id %u max %u\n", id,
				  v->max_nr_ports - 1);
		} else if (id >= v->nports) {
			tg_printf("tg: vcon port %u beyond this driver's %u ports, ignored\n", id,
				  v->nports);
		} else {
			add_port(v, id);
		}
		break;
	case VIRTIO_CONSOLE_PORT_REMOVE:
		tg_printf("tg: vcon port %u removed\n", id);
		p->added = p->console = p->named = p->host_open = p->guest_open = false;
		break;
	case VIRTIO_CONSOLE_CONSOLE_PORT:
		if (!val || p->console)
			break;
		p->console = true;
		p->guest_open = true;
		tg_printf("tg: vcon port %u console\n", id);
		vcon_send_ctl(v, id, VIRTIO_CONSOLE_PORT_OPEN, 1);
		break;
	case VIRTIO_CONSOLE_RESIZE:
		if (len >= 12) {
			uint16_t cols, rows;
			memcpy(&cols, buf + 8, 2);
			memcpy(&rows, buf + 10, 2);
			tg_printf("tg: vcon port %u resize cols=%u rows=%u\n", id, cols, rows);
		}
		break;
	case VIRTIO_CONSOLE_PORT_OPEN:
		p->host_open = val != 0;
		tg_printf("tg: vcon port %u open=%u\n", id, p->host_open);
		break;
	case VIRTIO_CONSOLE_PORT_NAME: {
		if (p->named) {
			tg_printf("tg: vcon port %u already named %s\n", id, p->name);
			break;
		}
		uint32_t n = len - 8;
		if (n > sizeof(p->name) - 1)
			n = sizeof(p->name) - 1;
		memcpy(p->name, buf + 8, n);
		p->name[n] = '\0';
		p->named = true;
		bool nul = len > 8 && buf[len - 1] == 0;
		tg_printf("tg: vcon port %u name=%s len=%u%s\n", id, p->name, len - 8,
			  nul ? " nul" : "");
		break;
	}
	default:
		break;
	}
}

int vcon_poll_ctl(struct vcon *v)
{
	uint32_t len;
	uint8_t *buf;
	int n = 0;

	if (!v->multiport)
		return 0;
	while ((buf = tg_vq_get_used(v->c_ivq, &len))) {
		if (len > VCON_RXBUF)
			len = VCON_RXBUF;
		handle_ctl(v, buf, len);
		v->last_ctl_us = tg_now_us();
		if (add_inbuf(v->c_ivq, buf, true) < 0)
			tg_printf("tg: vcon error adding buffer to control queue\n");
		n++;
	}
	return n;
}

int vcon_probe(struct vcon *v, bool use_irq)
{
	struct tg_vdev *d = &v->dev;

	memset(v, 0, sizeof(*v));
	if (tg_virtio_find(VIRTIO_ID_CONSOLE, d) < 0) {
		tg_printf("tg: vcon no virtio console found\n");
		return -1;
	}
	d->version = tg_vdev_read(d, VIRTIO_MMIO_VERSION);
	d->device_id = tg_vdev_read(d, VIRTIO_MMIO_DEVICE_ID);
	tg_printf("tg: vcon device base=0x%lx version=%u device_id=%u vendor=0x%x\n", d->base,
		  d->version, d->device_id, tg_vdev_read(d, VIRTIO_MMIO_VENDOR_ID));
	if (d->version < 1 || d->version > 2) {
		tg_printf("tg: vcon version %u not supported\n", d->version);
		return -1;
	}
	if (d->version == 1)
		tg_vdev_write(d, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);

	/* virtio core: reset, ACKNOWLEDGE, DRIVER. */
	tg_vdev_write(d, VIRTIO_MMIO_STATUS, 0);
	tg_vdev_add_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	tg_vdev_add_status(d, VIRTIO_STATUS_DRIVER);
	uint64_t dev_f = tg_vdev_device_features(d);
	uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_CONSOLE_F_MULTIPORT);
	d->features = dev_f & want;
	tg_printf("tg: vcon device features=0x%lx driver features=0x%lx\n", dev_f, d->features);
	if (d->version == 2 && !(d->features & (1ull << VIRTIO_F_VERSION_1))) {
		tg_printf("tg: vcon version 2 device without VIRTIO_F_VERSION_1\n");
		tg_vdev_add_status(d, VIRTIO_STATUS_FAILED);
		return -1;
	}
	tg_vdev_write_driver_features(d, d->features);
	if (d->features & (1ull << VIRTIO_F_VERSION_1)) {
		tg_vdev_add_status(d, VIRTIO_STATUS_FEATURES_OK);
		uint32_t st = tg_vdev_status(d);
		if (!(st & VIRTIO_STATUS_FEATURES_OK)) {
			tg_printf("tg: vcon device refuses features: status=0x%x\n", st);
			tg_vdev_add_status(d, VIRTIO_STATUS_FAILED);
			return -1;
		}
	}
	tg_printf("tg: vcon features=0x%lx ok status=0x%x\n", d->features, tg_vdev_status(d));

	v->multiport = d->features & (1ull << VIRTIO_CONSOLE_F_MULTIPORT);
	v->max_nr_ports = 1;
	if (v->multiport) {
		v->max_nr_ports = tg_vdev_read(d, VIRTIO_MMIO_CONFIG + 4);
		if (v->max_nr_ports == 0 || v->max_nr_ports > 0x8000) {
			tg_printf("tg: vcon invalid max_nr_ports %u\n", v->max_nr_ports);
			return -1;
		}
	}
	v->nports = v->max_nr_ports < VCON_MAX_PORTS ? v->max_nr_ports : VCON_MAX_PORTS;
	tg_printf("tg: vcon config max_nr_ports=%u multiport=%u\n", v->max_nr_ports, v->multiport);

	/* find_vqs: the interrupt first, then every queue in order. */
	if (use_irq) {
		if (tg_vdev_enable_irq(d, VCON_VEC) == 0)
			tg_printf("tg: vcon irq gsi=%u %s vector=0x%x\n", d->gsi,
				  d->gsi_level ? "level" : "edge", VCON_VEC);
		else
			tg_printf("tg: vcon irq gsi=%u not routable, polling\n", d->gsi);
	} else {
		tg_printf("tg: vcon irq off, polling\n");
	}
	unsigned nq = v->multiport ? 2 * (v->nports + 1) : 2;
	for (unsigned q = 0; q < nq; q++) {
		if (tg_vdev_setup_vq(d, &v->vq[q], q, TG_VQ_MAX) < 0) {
			tg_printf("tg: vcon queue %u setup failed\n", q);
			return -1;
		}
	}
	tg_printf("tg: vcon queues=%u num=%u\n", nq, v->vq[0].num);
	v->c_ivq = &v->vq[2];
	v->c_ovq = &v->vq[3];

	/* virtio_device_ready: DRIVER_OK before any buffer is posted. */
	tg_vdev_add_status(d, VIRTIO_STATUS_DRIVER_OK);
	tg_printf("tg: vcon driver_ok status=0x%x\n", tg_vdev_status(d));
	v->ctl_out = tg_dma_alloc(64, 64);
	if (!v->multiport) {
		add_port(v, 0);
		return 0;
	}
	int n = fill_queue(v->c_ivq);
	tg_printf("tg: vcon control rx buffers=%d\n", n);
	return vcon_send_ctl(v, VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
}

static bool handshake_done(struct vcon *v, uint32_t want)
{
	uint32_t named = 0;
	for (uint32_t i = 0; i < v->nports; i++)
		if (v->port[i].added && (v->port[i].named || !v->multiport))
			named++;
	return named >= want;
}

int vcon_handshake(struct vcon *v, uint32_t want, uint64_t timeout_us)
{
	uint64_t t0 = tg_now_us();

	if (want > v->nports)
		want = v->nports;
	for (;;) {
		vcon_poll_ctl(v);
		if (handshake_done(v, want))
			break;
		uint64_t now = tg_now_us();
		/* Unnamed ports: take what came once the control queue stays quiet for 1 s. */
		if (v->last_ctl_us && now - v->last_ctl_us > 1000000)
			break;
		if (now - t0 > timeout_us) {
			tg_printf("tg: vcon handshake timeout\n");
			break;
		}
		vcon_idle(v);
	}
	/* The PORT_OPENs that follow the last PORT_NAME: give them a moment. */
	uint64_t t1 = tg_now_us();
	while (tg_now_us() - t1 < 20000) {
		vcon_poll_ctl(v);
		cpu_relax();
	}
	int added = 0;
	for (uint32_t i = 0; i < v->nports; i++) {
		struct vcon_port *p = &v->port[i];
		if (!p->added)
			continue;
		added++;
		tg_printf("tg: vcon port %u name=%s console=%u host_open=%u\n", i,
			  p->named ? p->name : "-", p->console, p->host_open);
	}
	tg_printf("tg: vcon handshake done ports=%d\n", added);
	return added;
}

void vcon_open_port(struct vcon *v, unsigned id, bool open)
{
	if (id >= v->nports || !v->port[id].added)
		return;
	v->port[id].guest_open = open;
	vcon_send_ctl(v, id, VIRTIO_CONSOLE_PORT_OPEN, open);
}

int vcon_reclaim_tx(struct vcon *v, unsigned id)
{
	int n = 0;
	while (tg_vq_get_used(v->port[id].tx, NULL))
		n++;
	return n;
}

int vcon_write(struct vcon *v, unsigned id, const void *buf, uint64_t len, uint32_t chunk)
{
	struct vcon_port *p = &v->port[id];
	const uint8_t *b = buf;
	uint64_t last = tg_now_us();

	if (!p->added || !p->tx)
		return -1;
	while (len) {
		vcon_reclaim_tx(v, id);
		if (!p->tx->num_free) {
			vcon_poll_ctl(v);
			if (tg_now_us() - last > 30000000) {
				tg_printf("tg: vcon port %u tx stuck: ring full for 30 s\n", id);
				return -1;
			}
			vcon_idle(v);
			continue;
		}
		uint32_t n = len < chunk ? (uint32_t)len : chunk;
		struct tg_seg s = { (void *)b, n, false };
		tg_vq_add(p->tx, &s, 1, (void *)b);
		tg_vq_kick(p->tx);
		b += n;
		len -= n;
		p->tx_bytes += n;
		last = tg_now_us();
	}
	/* Wait until the device has taken everything, so the caller may reuse BUF. */
	while (p->tx->num_free != p->tx->num) {
		vcon_reclaim_tx(v, id);
		if (p->tx->num_free == p->tx->num)
			break;
		if (tg_now_us() - last > 30000000) {
			tg_printf("tg: vcon port %u tx stuck: %u chains not returned\n", id,
				  p->tx->num - p->tx->num_free);
			return -1;
		}
		vcon_idle(v);
	}
	return 0;
}

uint32_t vcon_rx_peek(struct vcon *v, unsigned id, const uint8_t **ptr)
{
	struct vcon_port *p = &v->port[id];
	uint32_t len;

	if (!p->rx)
		return 0;
	while (!p->cur) {
		uint8_t *b = tg_vq_get_used(p->rx, &len);
		if (!b)
			return 0;
		if (len > VCON_RXBUF)
			len = VCON_RXBUF;
		if (len == 0) { /* nothing in it: straight back */
			add_inbuf(p->rx, b, true);
			continue;
		}
		p->cur = b;
		p->cur_len = len;
		p->cur_off = 0;
	}
	*ptr = p->cur + p->cur_off;
	return p->cur_len - p->cur_off;
}

void vcon_rx_done(struct vcon *v, unsigned id, uint32_t n, bool kick)
{
	struct vcon_port *p = &v->port[id];

	if (!p->cur)
		return;
	p->cur_off += n;
	p->rx_bytes += n;
	if (p->cur_off >= p->cur_len) {
		add_inbuf(p->rx, p->cur, kick);
		p->cur = NULL;
	}
}
