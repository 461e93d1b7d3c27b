/*
 * The device side of a split virtqueue (virtio 1.2 §2.7) in guest memory.
 *
 * Every ring, descriptor and buffer access goes through emu/guest_mem.h, and
 * every number read from the guest is treated as hostile. When the guest
 * breaks the ring protocol (a descriptor loop, a `next` index past the table,
 * an avail index running more than the queue size ahead, a ring outside RAM
 * or misaligned, an indirect descriptor that was never offered) the queue is
 * marked broken: the reason is logged once and kept in `broken_reason`, and
 * every later pop or push fails with -EIO until the queue is reset or set up
 * again. Nothing here loops more than the queue size per call.
 *
 * Not thread-safe on its own: the owning device's lock covers every call.
 * EVENT_IDX is not supported (the devices here do not offer it); the
 * driver's VRING_AVAIL_F_NO_INTERRUPT is honoured by vq_should_signal().
 */
#ifndef VMDBG_VIRTQUEUE_H
#define VMDBG_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emu/guest_mem.h"

#define VQ_MAX_SIZE 256
#define VQ_REASON_MAX 160

struct virtqueue {
	const struct guest_mem *gm;
	const char *name;      /* for messages, e.g. "port0 tx" */
	uint16_t num_max;      /* QueueNumMax */
	uint16_t size;         /* QueueNum (defaults to num_max) */
	bool ready;            /* QueueReady */
	uint64_t desc_gpa;     /* QueueDesc: descriptor table */
	uint64_t avail_gpa;    /* QueueDriver: available ring */
	uint64_t used_gpa;     /* QueueDevice: used ring */
	uint16_t last_avail_idx; /* next avail ring entry the device will take */
	uint16_t used_idx;       /* the device's copy of used->idx */

	/* Counters survive a reset: they describe the whole run. */
	uint32_t inuse;        /* chains popped and not yet returned */
	uint64_t popped, used; /* chains taken / returned */
	uint64_t notifies;     /* QueueNotify writes naming this queue */
	uint64_t interrupts;   /* used-buffer notifications sent */
	uint64_t suppressed;   /* ... skipped because of VRING_AVAIL_F_NO_INTERRUPT */
	uint64_t errors;       /* protocol violations seen (each also logged) */

	bool broken;
	char broken_reason[VQ_REASON_MAX];
};

/* One descriptor of a chain, as the guest wrote it (not yet validated as RAM). */
struct vq_seg {
	uint64_t addr;
	uint32_t len;
	bool write; /* device-writable (VRING_DESC_F_WRITE) */
};

/* A chain popped from the available ring: at most VQ_MAX_SIZE descriptors. */
struct vq_chain {
	uint16_t head;
	uint16_t n;
	struct vq_seg seg[VQ_MAX_SIZE];
};

/* A plain copy of a queue's state for the REPL; ring fields read live from guest memory. */
struct vq_snapshot {
	uint16_t num_max, size;
	bool ready, broken;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail_idx, used_idx;
	bool rings_readable;   /* the guest_* fields below are valid */
	uint16_t guest_avail_idx, guest_avail_flags, guest_used_idx, guest_used_flags;
	uint16_t pending;      /* guest_avail_idx - last_avail_idx */
	uint32_t inuse;
	uint64_t popped, used, notifies, interrupts, suppressed, errors;
	char broken_reason[VQ_REASON_MAX];
};

void vq_init(struct virtqueue *vq, const struct guest_mem *gm, uint16_t num_max, const char *name);
/* Back to the power-on state: not ready, addresses and indices 0, size = num_max, not broken. */
void vq_reset(struct virtqueue *vq);
/* QueueNum: a power of two, 1..num_max. 0 or -EINVAL (nothing changed). */
int vq_set_size(struct virtqueue *vq, uint32_t num);
/* QueueReady. Enabling checks the rings (RAM, alignment) and marks the queue broken if bad. */
void vq_set_ready(struct virtqueue *vq, bool ready);

/*
 * Take the next available chain. Returns 1 with *CH filled, 0 when nothing is
 * available or the queue is not ready, -EIO when the queue is (or just became)
 * broken. A failed pop consumes nothing.
 */
int vq_pop(struct virtqueue *vq, struct vq_chain *ch);
/* Return chain HEAD with LEN bytes written into it. 0 or -EIO. */
int vq_push(struct virtqueue *vq, uint16_t head, uint32_t len);
/* Whether the driver wants a used-buffer notification now (counts it either way). */
bool vq_should_signal(struct virtqueue *vq);

/*
 * The device's VRING_USED_F_NO_NOTIFY (§2.7.10): set while the device polls the ring, so the
 * driver skips its notifies. Followed by a full fence. 0, or -EIO (queue not usable).
 */
int vq_set_no_notify(struct virtqueue *vq, bool on);
/* Whether the driver has published chains the device has not taken yet. */
bool vq_avail_pending(const struct virtqueue *vq);
/* Mark broken with a reason (logged once; later calls only count). */
void vq_set_broken(struct virtqueue *vq, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sum of the lengths of the device-readable / device-writable descriptors. */
uint64_t vq_chain_readable(const struct vq_chain *ch);
uint64_t vq_chain_writable(const struct vq_chain *ch);

/*
 * Copy up to MAX bytes out of the chain's device-readable descriptors, in
 * order, taking at most PER_SEG_MAX bytes from each (0: no per-descriptor cap).
 * Returns the bytes copied; *FAULTED (optional) is set when a descriptor's
 * range was not RAM (that descriptor was skipped, later ones still read).
 */
size_t vq_chain_gather(const struct virtqueue *vq, const struct vq_chain *ch, void *dst, size_t max,
		       uint32_t per_seg_max, bool *faulted);

/*
 * Scatter LEN bytes into the chain's device-writable descriptors, in order.
 * *WRITTEN gets the bytes stored (less than LEN when the chain is too small).
 * Returns 0, or -EFAULT when a descriptor's range was not RAM: the write is
 * "torn" and *WRITTEN counts only the bytes stored before that descriptor.
 */
int vq_chain_scatter(const struct virtqueue *vq, const struct vq_chain *ch, const void *src,
		     size_t len, size_t *written);

void vq_snapshot(const struct virtqueue *vq, struct vq_snapshot *snap);

#endif
