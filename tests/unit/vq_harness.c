#include "vq_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct vqh *vqh_current;
static char vqh_log_text[16384];
static size_t vqh_log_len;

static void vqh_sink(enum log_level level, const char *msg)
{
	size_t n = strlen(msg);

	if (!vqh_current)
		return;
	if (level == LOG_WARN)
		vqh_current->log_warns++;
	if (level == LOG_ERROR)
		vqh_current->log_errors++;
	snprintf(vqh_current->last_log, sizeof(vqh_current->last_log), "%s", msg);
	if (vqh_log_len + n + 2 > sizeof(vqh_log_text))
		vqh_log_len = 0;
	memcpy(vqh_log_text + vqh_log_len, msg, n);
	vqh_log_len += n;
	vqh_log_text[vqh_log_len++] = '\n';
	vqh_log_text[vqh_log_len] = '\0';
	if (getenv("VQH_VERBOSE"))
		fprintf(stderr, "[log %d] %s\n", level, msg);
}

static void vqh_raise_irq(void *opaque)
{
	((struct vqh *)opaque)->irqs++;
}

static void vqh_host_wake(void *opaque, int group)
{
	struct vqh *h = opaque;

	if (group >= 0 && group < 2)
		h->wakes[group]++;
}

static void vqh_on_event(void *opaque, const struct console_event *ev)
{
	struct vqh *h = opaque;

	if (h->nr_events < VQH_MAX_EVENTS)
		h->events[h->nr_events++] = *ev;
}

/* Head -> first buffer address, per queue, so answers can be found again. */
static uint64_t vqh_head_addr[CONSOLE_NR_QUEUES][VQ_MAX_SIZE];

struct vqh *vqh_new(void)
{
	struct vqh *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->ram = calloc(1, VQH_MEM_SIZE);
	h->con = calloc(1, sizeof(*h->con));
	if (!h->ram || !h->con) {
		free(h->ram);
		free(h->con);
		free(h);
		return NULL;
	}
	gm_init_buf(&h->gm, h->ram, VQH_MEM_SIZE);
	if (console_init(h->con, &h->gm)) {
		free(h->ram);
		free(h->con);
		free(h);
		return NULL;
	}
	console_set_irq(h->con, vqh_raise_irq, h);
	h->con->host_wake = vqh_host_wake;
	h->con->host_wake_opaque = h;
	h->con->on_event = vqh_on_event;
	h->con->event_opaque = h;
	h->data_next = VQH_DATA_BASE;
	for (unsigned q = 0; q < CONSOLE_NR_QUEUES; q++) {
		h->q[q].desc = VQH_RING_BASE + q * VQH_RING_STRIDE;
		h->q[q].avail = h->q[q].desc + 0x1000;
		h->q[q].used = h->q[q].desc + 0x2000;
	}
	memset(vqh_head_addr, 0, sizeof(vqh_head_addr));
	vqh_current = h;
	vqh_log_len = 0;
	vqh_log_text[0] = '\0';
	log_sink = vqh_sink;
	log_threshold = LOG_DEBUG;
	return h;
}

void vqh_free(struct vqh *h)
{
	if (!h)
		return;
	console_free(h->con);
	free(h->con);
	free(h->ram);
	if (vqh_current == h)
		vqh_current = NULL;
	free(h);
}

void vqh_read(struct vqh *h, uint64_t off, void *buf, unsigned len)
{
	virtio_mmio_bus_ops.read(&h->con->mmio, off, buf, len);
}

void vqh_write(struct vqh *h, uint64_t off, const void *buf, unsigned len)
{
	virtio_mmio_bus_ops.write(&h->con->mmio, off, buf, len);
}

uint32_t vqh_rd32(struct vqh *h, uint64_t off)
{
	uint8_t b[4];

	vqh_read(h, off, b, 4);
	return b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

void vqh_wr32(struct vqh *h, uint64_t off, uint32_t val)
{
	uint8_t b[4] = { (uint8_t)val, (uint8_t)(val >> 8), (uint8_t)(val >> 16),
			 (uint8_t)(val >> 24) };

	vqh_write(h, off, b, 4);
}

uint32_t vqh_status(struct vqh *h)
{
	return vqh_rd32(h, VIRTIO_MMIO_STATUS);
}

void vqh_to_features_ok(struct vqh *h, uint64_t features)
{
	vqh_wr32(h, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	vqh_wr32(h, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	vqh_wr32(h, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vqh_wr32(h, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	vqh_wr32(h, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vqh_wr32(h, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	vqh_wr32(h, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
						VIRTIO_CONFIG_S_FEATURES_OK);
}

void vqh_setup_queue(struct vqh *h, unsigned q, uint16_t size)
{
	struct vqh_queue *vq = &h->q[q];

	vq->size = size;
	vq->avail_idx = vq->next_desc = vq->last_used = 0;
	memset(vqh_host(h, vq->desc), 0, VQH_RING_STRIDE);
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_SEL, q);
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_NUM, size);
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)vq->desc);
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(vq->desc >> 32));
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)vq->avail);
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(vq->avail >> 32));
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)vq->used);
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(vq->used >> 32));
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_READY, 1);
}

void vqh_init_device(struct vqh *h, uint64_t features, uint16_t size)
{
	vqh_to_features_ok(h, features);
	for (unsigned q = 0; q < CONSOLE_NR_QUEUES; q++)
		vqh_setup_queue(h, q, size);
	vqh_wr32(h, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
						VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

uint64_t vqh_alloc(struct vqh *h, uint64_t len)
{
	uint64_t gpa = h->data_next;

	h->data_next = (h->data_next + len + 15) & ~15ull;
	if (h->data_next > VQH_MEM_SIZE) {
		fprintf(stderr, "vq_harness: fake guest RAM exhausted\n");
		abort();
	}
	return gpa;
}

void *vqh_host(struct vqh *h, uint64_t gpa)
{
	return h->ram + gpa;
}

static void put16(struct vqh *h, uint64_t gpa, uint16_t v)
{
	memcpy(vqh_host(h, gpa), &v, 2);
}

static uint16_t get16(struct vqh *h, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, vqh_host(h, gpa), 2);
	return v;
}

void vqh_set_desc(struct vqh *h, unsigned q, uint16_t i, uint64_t addr, uint32_t len,
		  uint16_t flags, uint16_t next)
{
	uint8_t *d = vqh_host(h, h->q[q].desc + 16ull * i);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

void vqh_publish(struct vqh *h, unsigned q, uint16_t head)
{
	struct vqh_queue *vq = &h->q[q];

	put16(h, vq->avail + 4 + 2ull * (vq->avail_idx % vq->size), head);
	vq->avail_idx++;
	put16(h, vq->avail + 2, vq->avail_idx);
}

void vqh_set_avail_idx(struct vqh *h, unsigned q, uint16_t idx)
{
	h->q[q].avail_idx = idx;
	put16(h, h->q[q].avail + 2, idx);
}

void vqh_set_avail_flags(struct vqh *h, unsigned q, uint16_t flags)
{
	put16(h, h->q[q].avail, flags);
}

uint16_t vqh_add_chain(struct vqh *h, unsigned q, struct vqh_buf *bufs, unsigned n)
{
	struct vqh_queue *vq = &h->q[q];
	uint16_t head = vq->next_desc % vq->size;

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % vq->size);
		uint16_t next = (uint16_t)((head + i + 1) % vq->size);
		uint16_t flags = (bufs[i].write ? VRING_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VRING_DESC_F_NEXT : 0);

		if (!bufs[i].addr) {
			bufs[i].addr = vqh_alloc(h, bufs[i].len ? bufs[i].len : 1);
			if (bufs[i].data)
				memcpy(vqh_host(h, bufs[i].addr), bufs[i].data, bufs[i].len);
		}
		vqh_set_desc(h, q, idx, bufs[i].addr, bufs[i].len, flags, next);
	}
	vq->next_desc = (uint16_t)((head + n) % vq->size);
	vqh_head_addr[q][head] = n ? bufs[0].addr : 0;
	vqh_publish(h, q, head);
	return head;
}

void vqh_notify(struct vqh *h, unsigned q)
{
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

uint16_t vqh_used_idx(struct vqh *h, unsigned q)
{
	return get16(h, h->q[q].used + 2);
}

void vqh_used_elem(struct vqh *h, unsigned q, uint16_t i, uint32_t *id, uint32_t *len)
{
	uint8_t *e = vqh_host(h, h->q[q].used + 4 + 8ull * (i % h->q[q].size));

	memcpy(id, e, 4);
	memcpy(len, e + 4, 4);
}

uint16_t vqh_guest_write(struct vqh *h, unsigned port, const void *data, uint32_t len)
{
	struct vqh_buf b = { .len = len, .data = data };
	unsigned q = console_tx_queue(port);
	uint16_t head = vqh_add_chain(h, q, &b, 1);

	vqh_notify(h, q);
	return head;
}

uint64_t vqh_post_rx(struct vqh *h, unsigned q, uint32_t len)
{
	struct vqh_buf b = { .len = len, .write = true };

	vqh_add_chain(h, q, &b, 1);
	return b.addr;
}

void vqh_ctl_send(struct vqh *h, uint32_t id, uint16_t event, uint16_t value)
{
	uint8_t m[8];
	struct vqh_buf b = { .len = 8, .data = m };

	memcpy(m, &id, 4);
	memcpy(m + 4, &event, 2);
	memcpy(m + 6, &value, 2);
	vqh_add_chain(h, CONSOLE_Q_CTRL_TX, &b, 1);
	vqh_notify(h, CONSOLE_Q_CTRL_TX);
}

void vqh_ctl_post(struct vqh *h, unsigned n, uint32_t len)
{
	for (unsigned i = 0; i < n; i++)
		vqh_post_rx(h, CONSOLE_Q_CTRL_RX, len);
}

int vqh_ctl_recv(struct vqh *h, uint32_t *id, uint16_t *event, uint16_t *value, char *name,
		 bool skip_empty)
{
	struct vqh_queue *vq = &h->q[CONSOLE_Q_CTRL_RX];

	while (vq->last_used != vqh_used_idx(h, CONSOLE_Q_CTRL_RX)) {
		uint32_t head, len;
		uint8_t *p;

		vqh_used_elem(h, CONSOLE_Q_CTRL_RX, vq->last_used++, &head, &len);
		if (len == 0 && skip_empty)
			continue;
		p = vqh_host(h, vqh_head_addr[CONSOLE_Q_CTRL_RX][head % VQ_MAX_SIZE]);
		memcpy(id, p, 4);
		memcpy(event, p + 4, 2);
		memcpy(value, p + 6, 2);
		if (name) {
			size_t n = len > 8 ? len - 8 : 0;

			if (n > 256)
				n = 256;
			memcpy(name, p + 8, n);
			name[n] = '\0';
		}
		return (int)len;
	}
	return -1;
}

size_t vqh_drain(struct vqh *h, unsigned port, void *buf, size_t max)
{
	long n = console_port_drain(h->con, port, buf, max);

	return n < 0 ? 0 : (size_t)n;
}

unsigned vqh_count_events(struct vqh *h, enum console_event_kind kind)
{
	unsigned n = 0;

	for (unsigned i = 0; i < h->nr_events; i++)
		n += h->events[i].kind == kind;
	return n;
}

bool vqh_log_contains(struct vqh *h, const char *needle)
{
	return strstr(vqh_log_text, needle) != NULL;
}

void vqh_log_reset(struct vqh *h)
{
	vqh_log_len = 0;
	vqh_log_text[0] = '\0';
	h->log_warns = h->log_errors = 0;
	h->last_log[0] = '\0';
}

void vqh_handshake(struct vqh *h)
{
	vqh_init_device(h, VQH_FEATURES_ALL, 64);
	vqh_ctl_post(h, 32, 64);
	vqh_notify(h, CONSOLE_Q_CTRL_RX);
	vqh_ctl_send(h, VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	for (uint32_t p = 0; p < CONSOLE_NR_PORTS; p++)
		vqh_ctl_send(h, p, VIRTIO_CONSOLE_PORT_READY, 1);
	vqh_ctl_send(h, 0, VIRTIO_CONSOLE_PORT_OPEN, 1);
}

int vqh_setup(void **state)
{
	*state = vqh_new();
	return *state ? 0 : -1;
}

int vqh_teardown(void **state)
{
	vqh_free(*state);
	return 0;
}
