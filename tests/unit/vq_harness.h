/*
 * Unit-test harness for virtio devices: fake guest RAM, split rings built in
 * it the way a driver builds them, and register accesses through the
 * transport's bus ops, the way a vCPU's MMIO exits arrive.
 *
 * Layout of the fake guest (VQH_MEM_SIZE bytes): queue q's descriptor table
 * at VQH_RING_BASE + q * 0x4000, its available ring 0x1000 later, its used
 * ring 0x2000 later; data buffers from VQH_DATA_BASE, bump-allocated.
 */
#ifndef VMDBG_VQ_HARNESS_H
#define VMDBG_VQ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emu/guest_mem.h"
#include "emu/log.h"
#include "virtio/console.h"

#define VQH_MEM_SIZE (32ull << 20)
#define VQH_RING_BASE 0x10000ull
#define VQH_RING_STRIDE 0x4000ull
#define VQH_DATA_BASE 0x100000ull
#define VQH_UNMAPPED (VQH_MEM_SIZE + 0x100000ull) /* past the end of RAM */
#define VQH_FEATURES_ALL ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_CONSOLE_F_MULTIPORT))
#define VQH_FEATURES_NO_MULTIPORT (1ull << VIRTIO_F_VERSION_1)
#define VQH_MAX_EVENTS 512

struct vqh_queue {
	uint64_t desc, avail, used;
	uint16_t size;
	uint16_t avail_idx;     /* driver's next avail->idx */
	uint16_t next_desc;     /* next free descriptor (wraps) */
	uint16_t last_used;     /* used entries the test has consumed */
};

/* One buffer of a chain: ADDR 0 allocates LEN bytes (filled from DATA when given). */
struct vqh_buf {
	uint64_t addr;
	uint32_t len;
	bool write;
	const void *data;
};

struct vqh {
	uint8_t *ram;
	struct guest_mem gm;
	struct console *con;
	struct vqh_queue q[CONSOLE_NR_QUEUES];
	uint64_t data_next;

	unsigned irqs;           /* raise_irq calls */
	unsigned wakes[2];       /* host_wake calls per group */
	struct console_event events[VQH_MAX_EVENTS];
	unsigned nr_events;
	unsigned log_warns, log_errors;
	char last_log[1024];
};

/* Allocate RAM and a console with every callback counted. Returns NULL on failure. */
struct vqh *vqh_new(void);
void vqh_free(struct vqh *h);

/* Register access through virtio_mmio_bus_ops. */
uint32_t vqh_rd32(struct vqh *h, uint64_t off);
void vqh_wr32(struct vqh *h, uint64_t off, uint32_t val);
void vqh_read(struct vqh *h, uint64_t off, void *buf, unsigned len);
void vqh_write(struct vqh *h, uint64_t off, const void *buf, unsigned len);
uint32_t vqh_status(struct vqh *h);

/* Handshake pieces, as Linux's virtio_mmio + virtio_console drivers do them. */
void vqh_to_features_ok(struct vqh *h, uint64_t features);
void vqh_setup_queue(struct vqh *h, unsigned q, uint16_t size);
/* ACK, DRIVER, FEATURES, FEATURES_OK, all 8 queues of SIZE, DRIVER_OK. */
void vqh_init_device(struct vqh *h, uint64_t features, uint16_t size);

uint64_t vqh_alloc(struct vqh *h, uint64_t len);
void *vqh_host(struct vqh *h, uint64_t gpa);

/* Build a chain from BUFS (linked with NEXT) and publish it; returns the head. No notify. */
uint16_t vqh_add_chain(struct vqh *h, unsigned q, struct vqh_buf *bufs, unsigned n);
/* Write a raw descriptor I of queue Q. */
void vqh_set_desc(struct vqh *h, unsigned q, uint16_t i, uint64_t addr, uint32_t len,
		  uint16_t flags, uint16_t next);
/* Publish HEAD in the avail ring (and bump avail->idx). */
void vqh_publish(struct vqh *h, unsigned q, uint16_t head);
void vqh_set_avail_idx(struct vqh *h, unsigned q, uint16_t idx);
void vqh_set_avail_flags(struct vqh *h, unsigned q, uint16_t flags);
void vqh_notify(struct vqh *h, unsigned q);

uint16_t vqh_used_idx(struct vqh *h, unsigned q);
/* Used entry I (ring position I % size). */
void vqh_used_elem(struct vqh *h, unsigned q, uint16_t i, uint32_t *id, uint32_t *len);

/* Guest tx: one readable buffer with DATA on port's tx queue, then notify. Returns the head. */
uint16_t vqh_guest_write(struct vqh *h, unsigned port, const void *data, uint32_t len);
/* Guest rx buffer of LEN bytes on queue Q (no notify); returns its GPA. */
uint64_t vqh_post_rx(struct vqh *h, unsigned q, uint32_t len);
/* Guest -> host control message on q3, then notify. */
void vqh_ctl_send(struct vqh *h, uint32_t id, uint16_t event, uint16_t value);

/*
 * Post N control rx buffers of LEN bytes on q2 (no notify). Buffers are
 * remembered so vqh_ctl_recv() can read the device's answers in order.
 */
void vqh_ctl_post(struct vqh *h, unsigned n, uint32_t len);
/*
 * Next host -> guest control message from the used ring of q2 (skipping
 * chains returned empty when SKIP_EMPTY). Returns the used length, or -1
 * when none is left. NAME (may be NULL) receives up to 256 bytes after the header.
 */
int vqh_ctl_recv(struct vqh *h, uint32_t *id, uint16_t *event, uint16_t *value, char *name,
		 bool skip_empty);

/* Host tx buffer contents of PORT into BUF (up to MAX); returns bytes. */
size_t vqh_drain(struct vqh *h, unsigned port, void *buf, size_t max);
/* Number of recorded events of KIND. */
unsigned vqh_count_events(struct vqh *h, enum console_event_kind kind);
bool vqh_log_contains(struct vqh *h, const char *needle);
void vqh_log_reset(struct vqh *h);

/* Full Linux-like handshake: init, ctl buffers, DEVICE_READY, PORT_READY x3, PORT_OPEN(0). */
void vqh_handshake(struct vqh *h);

/* cmocka fixtures: *state is a fresh vqh_new() harness, freed afterwards. */
int vqh_setup(void **state);
int vqh_teardown(void **state);

#endif
