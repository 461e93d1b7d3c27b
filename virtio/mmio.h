/*
 * The virtio-mmio transport, version 2 (virtio 1.2 §4.2.2), with the device
 * behind an ops table.
 *
 * Register rules (docs/console.md, "Register access" and "Status and reset";
 * they are transport rules, so they hold for any device put behind this
 * table):
 * - Config space (0x100 + config_size) accepts reads of any width; a read
 *   that runs past its end returns all 0xff. Config writes are ignored.
 * - Elsewhere only 4-byte accesses count: other widths read as all 0xff and
 *   writes of other widths are ignored. Unknown and write-only registers read 0.
 * - DriverFeatures is accepted only while DRIVER is set and FEATURES_OK is not.
 * - QueueNum/QueueReady/Queue{Desc,Driver,Device}{Low,High} are accepted only
 *   while status holds ACK|DRIVER|FEATURES_OK and not DRIVER_OK, and only for
 *   QueueSel < num_queues; QueueNum must be a power of two in 1..QueueNumMax.
 * - Status: 0 resets (ops->reset first, while the rings are still valid, then
 *   registers and queues). Otherwise a write never clears a set bit and adds
 *   exactly one bit, in the order ACK, DRIVER, FEATURES_OK, DRIVER_OK; FAILED
 *   alone is accepted in any state. Rejected writes are logged and counted.
 * - Signalling (virtio_mmio_signal) sets InterruptStatus bit 0 and calls
 *   raise_irq (the machine wires it to an irqfd: edge, no resample), unless
 *   the driver set VRING_AVAIL_F_NO_INTERRUPT on that queue.
 *
 * Strict-spec mode (`strict`, off by default) reads virtio 1.2 literally where
 * the default device does not: FEATURES_OK is refused when the driver accepted
 * a feature that was not offered or did not accept VERSION_1, and rewriting
 * the current status is a harmless no-op instead of a rejected write.
 *
 * Locking: one mutex per transport. Every bus access takes it, except 4-byte reads of
 * InterruptStatus and writes of InterruptACK (atomic on interrupt_status, so a vCPU's
 * interrupt handler never waits behind a host thread's ring walk); the device's
 * host-side API takes it through virtio_mmio_lock(). The ops and raise_irq
 * are called with it held and must not call back into locking functions.
 */
#ifndef VMDBG_VIRTIO_MMIO_H
#define VMDBG_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "emu/bus.h"
#include "emu/guest_mem.h"
#include "virtio/virtqueue.h"

#define VIRTIO_MMIO_MAX_QUEUES 16

struct virtio_dev_ops {
	const char *name;
	uint32_t device_id, vendor_id;
	uint64_t device_features;
	unsigned num_queues;              /* <= VIRTIO_MMIO_MAX_QUEUES */
	uint16_t queue_num_max;           /* <= VQ_MAX_SIZE */
	const char *const *queue_names;   /* num_queues names, or NULL */
	uint32_t config_size;             /* bytes of config space at 0x100 */

	/* OFFSET + LEN <= config_size (the transport checks). */
	void (*config_read)(void *dev, uint32_t offset, void *data, unsigned len);
	/* NULL: config space is read-only and writes are ignored with a warning. */
	void (*config_write)(void *dev, uint32_t offset, const void *data, unsigned len);
	/* QueueNotify with a value < num_queues (already counted on the queue). */
	void (*queue_notify)(void *dev, unsigned q);
	/* Status <- 0, before the transport clears its registers and queues. */
	void (*reset)(void *dev);
	/* An accepted non-zero status write. */
	void (*status_changed)(void *dev, uint32_t old_status, uint32_t new_status);
};

struct virtio_mmio {
	pthread_mutex_t lock;
	const struct virtio_dev_ops *ops;
	void *dev;
	const struct guest_mem *gm;
	struct virtqueue vqs[VIRTIO_MMIO_MAX_QUEUES];

	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint64_t driver_features;
	uint32_t status;
	uint32_t interrupt_status;
	bool strict;

	void (*raise_irq)(void *opaque);
	void *irq_opaque;

	/* Diagnostics for the REPL. */
	uint64_t irqs_raised;
	uint64_t status_rejects;
	uint32_t last_rejected_status;
	uint64_t ignored_writes; /* writes dropped by a width or window rule */
	uint64_t resets;
};

/* 0 or -EINVAL (bad ops table), -errno from pthread. */
int virtio_mmio_init(struct virtio_mmio *t, const struct guest_mem *gm,
		     const struct virtio_dev_ops *ops, void *dev);
void virtio_mmio_destroy(struct virtio_mmio *t);

void virtio_mmio_lock(struct virtio_mmio *t);
/* InterruptStatus, read as the guest would: it changes outside the lock (ACK, raise). */
uint32_t virtio_mmio_interrupt_status(struct virtio_mmio *t);
void virtio_mmio_unlock(struct virtio_mmio *t);

/* One guest access at OFFSET in the window (takes the lock). */
void virtio_mmio_read(struct virtio_mmio *t, uint64_t offset, void *data, unsigned len);
void virtio_mmio_write(struct virtio_mmio *t, uint64_t offset, const void *data, unsigned len);

/* opaque = struct virtio_mmio *. */
extern const struct bus_dev_ops virtio_mmio_bus_ops;

/* Lock held. Used-buffer notification for queue Q; returns whether raise_irq was called. */
bool virtio_mmio_signal(struct virtio_mmio *t, unsigned q);

/* Lock held. */
static inline bool virtio_mmio_driver_ok(const struct virtio_mmio *t)
{
	return t->status & 4u; /* VIRTIO_CONFIG_S_DRIVER_OK */
}

static inline bool virtio_mmio_negotiated(const struct virtio_mmio *t, unsigned bit)
{
	return bit < 64 && (t->driver_features >> bit) & 1;
}

/* "ACKNOWLEDGE|DRIVER|..." for messages; BUF of at least 80 bytes. */
const char *virtio_status_str(uint32_t status, char *buf, unsigned size);

#endif
