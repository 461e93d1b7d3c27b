#include "virtio/virtqueue.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "emu/log.h"
#include "virtio/virtio_ids.h"

/* Split-ring layout (§2.7): 16-byte descriptors; avail {flags, idx, ring[size]}; used {flags, idx, {id, len}[size]}. */
#define VQ_DESC_SIZE 16
#define VQ_AVAIL_RING 4
#define VQ_USED_RING 4
#define VQ_USED_ELEM 8

struct vring_desc_le {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

void vq_init(struct virtqueue *vq, const struct guest_mem *gm, uint16_t num_max, const char *name)
{
	memset(vq, 0, sizeof(*vq));
	vq->gm = gm;
	vq->name = name ? name : "vq";
	vq->num_max = num_max > VQ_MAX_SIZE ? VQ_MAX_SIZE : num_max;
	vq->size = vq->num_max;
}

void vq_reset(struct virtqueue *vq)
{
	vq->size = vq->num_max;
	vq->ready = false;
	vq->desc_gpa = vq->avail_gpa = vq->used_gpa = 0;
	vq->last_avail_idx = vq->used_idx = 0;
	vq->inuse = 0;
	vq->broken = false;
	vq->broken_reason[0] = '\0';
}

int vq_set_size(struct virtqueue *vq, uint32_t num)
{
	if (num == 0 || num > vq->num_max || (num & (num - 1)))
		return -EINVAL;
	vq->size = (uint16_t)num;
	return 0;
}

void vq_set_broken(struct virtqueue *vq, const char *fmt, ...)
{
	va_list ap;

	vq->errors++;
	if (vq->broken)
		return;
	vq->broken = true;
	va_start(ap, fmt);
	vsnprintf(vq->broken_reason, sizeof(vq->broken_reason), fmt, ap);
	va_end(ap);
	log_warn("virtqueue %s: %s; queue stopped until reset", vq->name, vq->broken_reason);
}

static uint64_t avail_bytes(const struct virtqueue *vq)
{
	return VQ_AVAIL_RING + 2ull * vq->size;
}

static uint64_t used_bytes(const struct virtqueue *vq)
{
	return VQ_USED_RING + (uint64_t)VQ_USED_ELEM * vq->size;
}

/* The three rings must be RAM and aligned as §2.7 requires (16, 2, 4). */
static int vq_check_rings(struct virtqueue *vq)
{
	if (vq->size == 0) {
		vq_set_broken(vq, "queue size is 0");
		return -EIO;
	}
	if (vq->desc_gpa % 16 || vq->avail_gpa % 2 || vq->used_gpa % 4) {
		vq_set_broken(vq, "misaligned ring (desc %#llx avail %#llx used %#llx)",
			      (unsigned long long)vq->desc_gpa, (unsigned long long)vq->avail_gpa,
			      (unsigned long long)vq->used_gpa);
		return -EIO;
	}
	if (!gm_is_ram(vq->gm, vq->desc_gpa, (uint64_t)VQ_DESC_SIZE * vq->size)) {
		vq_set_broken(vq, "descriptor table %#llx+%u is outside guest RAM",
			      (unsigned long long)vq->desc_gpa, VQ_DESC_SIZE * vq->size);
		return -EIO;
	}
	if (!gm_is_ram(vq->gm, vq->avail_gpa, avail_bytes(vq))) {
		vq_set_broken(vq, "available ring %#llx+%llu is outside guest RAM",
			      (unsigned long long)vq->avail_gpa,
			      (unsigned long long)avail_bytes(vq));
		return -EIO;
	}
	if (!gm_is_ram(vq->gm, vq->used_gpa, used_bytes(vq))) {
		vq_set_broken(vq, "used ring %#llx+%llu is outside guest RAM",
			      (unsigned long long)vq->used_gpa, (unsigned long long)used_bytes(vq));
		return -EIO;
	}
	return 0;
}

void vq_set_ready(struct virtqueue *vq, bool ready)
{
	vq->ready = ready;
	if (!ready) {
		vq->broken = false;
		vq->broken_reason[0] = '\0';
		return;
	}
	vq_check_rings(vq);
}

/* The ring pointers were checked (RAM, alignment) by vq_check_rings(). */
static uint16_t *avail_field(const struct virtqueue *vq, uint64_t off)
{
	return gm_ptr(vq->gm, vq->avail_gpa + off, 2);
}

static uint16_t read_avail_idx(const struct virtqueue *vq)
{
	return __atomic_load_n(avail_field(vq, 2), __ATOMIC_RELAXED);
}

int vq_pop(struct virtqueue *vq, struct vq_chain *ch)
{
	uint16_t avail_idx, pending, head, i;
	unsigned n = 0;

	if (!vq->ready)
		return 0;
	if (vq->broken || vq_check_rings(vq))
		return -EIO;
	avail_idx = read_avail_idx(vq);
	pending = (uint16_t)(avail_idx - vq->last_avail_idx);
	if (pending == 0)
		return 0;
	if (pending > vq->size) {
		vq_set_broken(vq, "avail idx %u is %u ahead of last_avail_idx %u (queue size %u)",
			      avail_idx, pending, vq->last_avail_idx, vq->size);
		return -EIO;
	}
	/* Read the ring entry and descriptors only after seeing idx (§2.7.13). */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head = __atomic_load_n(avail_field(vq, VQ_AVAIL_RING + 2ull * (vq->last_avail_idx % vq->size)),
			       __ATOMIC_RELAXED);
	if (head >= vq->size) {
		vq_set_broken(vq, "avail ring[%u] names head %u >= queue size %u",
			      vq->last_avail_idx % vq->size, head, vq->size);
		return -EIO;
	}
	for (i = head;; ) {
		struct vring_desc_le d;

		if (n >= vq->size) {
			vq_set_broken(vq, "descriptor chain from head %u is longer than the queue size %u (a loop)",
				      head, vq->size);
			return -EIO;
		}
		memcpy(&d, gm_ptr(vq->gm, vq->desc_gpa + (uint64_t)VQ_DESC_SIZE * i, VQ_DESC_SIZE),
		       sizeof(d));
		if (d.flags & VRING_DESC_F_INDIRECT) {
			vq_set_broken(vq, "descriptor %u is indirect, which was not offered", i);
			return -EIO;
		}
		ch->seg[n].addr = d.addr;
		ch->seg[n].len = d.len;
		ch->seg[n].write = d.flags & VRING_DESC_F_WRITE;
		n++;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		if (d.next >= vq->size) {
			vq_set_broken(vq, "descriptor %u: next %u >= queue size %u", i, d.next, vq->size);
			return -EIO;
		}
		i = d.next;
	}
	ch->head = head;
	ch->n = (uint16_t)n;
	vq->last_avail_idx++;
	vq->inuse++;
	vq->popped++;
	return 1;
}

int vq_push(struct virtqueue *vq, uint16_t head, uint32_t len)
{
	uint32_t elem[2] = { head, len };
	uint16_t *idx;

	if (!vq->ready || vq->broken || vq_check_rings(vq))
		return -EIO;
	memcpy(gm_ptr(vq->gm, vq->used_gpa + VQ_USED_RING + (uint64_t)VQ_USED_ELEM * (vq->used_idx % vq->size),
		      VQ_USED_ELEM),
	       elem, sizeof(elem));
	vq->used_idx++;
	/* The element must be visible before the index that publishes it (§2.7.14). */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	idx = gm_ptr(vq->gm, vq->used_gpa + 2, 2);
	__atomic_store_n(idx, vq->used_idx, __ATOMIC_RELAXED);
	if (vq->inuse)
		vq->inuse--;
	vq->used++;
	return 0;
}

int vq_set_no_notify(struct virtqueue *vq, bool on)
{
	uint16_t *flags;

	if (!vq->ready || vq->broken || vq_check_rings(vq))
		return -EIO;
	flags = gm_ptr(vq->gm, vq->used_gpa, 2);
	__atomic_store_n(flags, on ? VRING_USED_F_NO_NOTIFY : 0, __ATOMIC_RELAXED);
	/* The flag must be visible before the caller looks at avail->idx again (§2.7.10). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return 0;
}

bool vq_avail_pending(const struct virtqueue *vq)
{
	if (!vq->ready || vq->broken || !gm_is_ram(vq->gm, vq->avail_gpa, 4) || vq->avail_gpa % 2)
		return false;
	return read_avail_idx(vq) != vq->last_avail_idx;
}

bool vq_should_signal(struct virtqueue *vq)
{
	uint16_t flags = 0;

	/* used->idx must be visible before we look at the driver's suppression flag. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->ready && !vq->broken && gm_is_ram(vq->gm, vq->avail_gpa, 2) && vq->avail_gpa % 2 == 0)
		flags = __atomic_load_n(avail_field(vq, 0), __ATOMIC_RELAXED);
	if (flags & VRING_AVAIL_F_NO_INTERRUPT) {
		vq->suppressed++;
		return false;
	}
	vq->interrupts++;
	return true;
}

uint64_t vq_chain_readable(const struct vq_chain *ch)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < ch->n; i++)
		if (!ch->seg[i].write)
			sum += ch->seg[i].len;
	return sum;
}

uint64_t vq_chain_writable(const struct vq_chain *ch)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < ch->n; i++)
		if (ch->seg[i].write)
			sum += ch->seg[i].len;
	return sum;
}

size_t vq_chain_gather(const struct virtqueue *vq, const struct vq_chain *ch, void *dst, size_t max,
		       uint32_t per_seg_max, bool *faulted)
{
	size_t done = 0;

	if (faulted)
		*faulted = false;
	for (unsigned i = 0; i < ch->n && done < max; i++) {
		const struct vq_seg *s = &ch->seg[i];
		uint64_t n = s->len;
		const void *p;

		if (s->write || n == 0)
			continue;
		if (per_seg_max && n > per_seg_max)
			n = per_seg_max;
		if (n > max - done)
			n = max - done;
		p = gm_ptr(vq->gm, s->addr, n);
		if (!p) {
			if (faulted)
				*faulted = true;
			continue;
		}
		memcpy((uint8_t *)dst + done, p, n);
		done += n;
	}
	return done;
}

int vq_chain_scatter(const struct virtqueue *vq, const struct vq_chain *ch, const void *src,
		     size_t len, size_t *written)
{
	size_t done = 0;

	for (unsigned i = 0; i < ch->n && done < len; i++) {
		const struct vq_seg *s = &ch->seg[i];
		uint64_t n = s->len;
		void *p;

		if (!s->write || n == 0)
			continue;
		if (n > len - done)
			n = len - done;
		p = gm_ptr(vq->gm, s->addr, n);
		if (!p) {
			*written = done;
			return -EFAULT;
		}
		memcpy(p, (const uint8_t *)src + done, n);
		done += n;
	}
	*written = done;
	return 0;
}

void vq_snapshot(const struct virtqueue *vq, struct vq_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->num_max = vq->num_max;
	s->size = vq->size;
	s->ready = vq->ready;
	s->broken = vq->broken;
	s->desc_gpa = vq->desc_gpa;
	s->avail_gpa = vq->avail_gpa;
	s->used_gpa = vq->used_gpa;
	s->last_avail_idx = vq->last_avail_idx;
	s->used_idx = vq->used_idx;
	s->inuse = vq->inuse;
	s->popped = vq->popped;
	s->used = vq->used;
	s->notifies = vq->notifies;
	s->interrupts = vq->interrupts;
	s->suppressed = vq->suppressed;
	s->errors = vq->errors;
	memcpy(s->broken_reason, vq->broken_reason, sizeof(s->broken_reason));
	if (vq->avail_gpa % 2 == 0 && vq->used_gpa % 4 == 0 && gm_is_ram(vq->gm, vq->avail_gpa, 4) &&
	    gm_is_ram(vq->gm, vq->used_gpa, 4)) {
		uint16_t a[2], u[2];

		gm_read(vq->gm, vq->avail_gpa, a, sizeof(a));
		gm_read(vq->gm, vq->used_gpa, u, sizeof(u));
		s->rings_readable = true;
		s->guest_avail_flags = a[0];
		s->guest_avail_idx = a[1];
		s->guest_used_flags = u[0];
		s->guest_used_idx = u[1];
		s->pending = (uint16_t)(a[1] - vq->last_avail_idx);
	}
}
