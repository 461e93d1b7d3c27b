/*
 * The test guest's virtio-mmio transport and split virtqueues (virtio 1.2
 * §2.7 and §4.2), written to follow Linux's drivers/virtio/virtio_mmio.c and
 * virtio_ring.c step for step. Version 2 (modern) and version 1 (legacy,
 * QueuePFN) devices both work, so the same guest also runs on QEMU.
 *
 * Memory: rings and buffers come from tg_dma_alloc(), a bump allocator over
 * identity-mapped RAM above the guest image; what the device sees is the
 * physical address, which is the pointer itself.
 */
#ifndef TG_VIRTIO_H
#define TG_VIRTIO_H

#include "tg.h"

#define VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_GUEST_PAGE_SIZE 0x028 /* legacy */
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_ALIGN 0x03c /* legacy */
#define VIRTIO_MMIO_QUEUE_PFN 0x040   /* legacy */
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_AVAIL_LOW 0x090
#define VIRTIO_MMIO_QUEUE_AVAIL_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_USED_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_USED_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

#define VIRTIO_MMIO_MAGIC 0x74726976
#define VIRTIO_ID_CONSOLE 3

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_FAILED 0x80

#define VIRTIO_F_VERSION_1 32

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY 1

#define TG_VQ_MAX 256

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];
};

struct tg_vdev;

struct tg_vq {
	struct tg_vdev *dev;
	uint16_t index;
	uint16_t num; /* 0: not set up */
	struct vring_desc *desc;
	volatile struct vring_avail *avail;
	volatile struct vring_used *used;
	uint16_t free_head, num_free;
	uint16_t avail_idx;     /* next avail->idx we publish */
	uint16_t last_used_idx; /* next used entry we look at */
	void *token[TG_VQ_MAX]; /* per head */
	uint16_t chain_len[TG_VQ_MAX];
	uint64_t notifies, notify_suppressed, used_seen;
};

struct tg_vdev {
	uint64_t base;
	uint32_t version, device_id;
	uint32_t gsi;
	bool gsi_level, gsi_low; /* trigger mode and polarity from the DSDT */
	bool irq_on;             /* routed through the IOAPIC */
	int vector;
	uint64_t features; /* negotiated */
	volatile uint64_t irqs, irq_status_seen;
	volatile uint32_t irq_pending; /* set by the handler, cleared by waiters */
};

/* A segment of a chain: device-readable (out) or device-writable (in). */
struct tg_seg {
	void *addr;
	uint32_t len;
	bool write;
};

/* DMA-able memory: zeroed, aligned, physical == virtual. NULL when RAM runs out. */
void *tg_dma_alloc(uint64_t size, uint64_t align);

/* Where the device is: found by ACPI (LNRO0005), the command line, or a probe. */
int tg_virtio_find(uint32_t device_id, struct tg_vdev *dev);

uint32_t tg_vdev_read(struct tg_vdev *d, uint32_t off);
void tg_vdev_write(struct tg_vdev *d, uint32_t off, uint32_t v);
uint32_t tg_vdev_status(struct tg_vdev *d);
/* Linux's virtio_add_status: read, OR, write. */
void tg_vdev_add_status(struct tg_vdev *d, uint32_t bit);
uint64_t tg_vdev_device_features(struct tg_vdev *d);
void tg_vdev_write_driver_features(struct tg_vdev *d, uint64_t f);
int tg_vdev_setup_vq(struct tg_vdev *d, struct tg_vq *vq, unsigned index, unsigned num_want);
int tg_vdev_enable_irq(struct tg_vdev *d, int vector);

/*
 * Add a chain; publishing (avail->idx) happens in tg_vq_kick, or in tg_vq_publish alone.
 * TOKEN (not NULL) comes back from tg_vq_get_used. Returns the head, or -1 when the ring
 * has too few free descriptors.
 */
int tg_vq_add(struct tg_vq *vq, const struct tg_seg *segs, unsigned n, void *token);
void tg_vq_publish(struct tg_vq *vq);
/* Publish, then notify unless the device set VRING_USED_F_NO_NOTIFY. */
void tg_vq_kick(struct tg_vq *vq);
void tg_vq_notify(struct tg_vq *vq); /* unconditionally */
/* The next used chain's token (and its used length), or NULL. */
void *tg_vq_get_used(struct tg_vq *vq, uint32_t *len);
bool tg_vq_has_used(struct tg_vq *vq);
/* Suppress or allow used-buffer interrupts (VRING_AVAIL_F_NO_INTERRUPT). */
void tg_vq_set_no_interrupt(struct tg_vq *vq, bool off);

/* Idle until an interrupt or the fallback timer: call in every wait loop. */
void tg_virtio_idle(struct tg_vdev *d);

#endif
