/*
 * virtio-mmio transport and split virtqueues for the test guest (see
 * virtio.h). Ordering follows Linux: the ring entry is written before
 * avail->idx (a compiler barrier is enough on x86, whose stores are ordered),
 * and a full barrier separates publishing avail->idx from reading the
 * device's VRING_USED_F_NO_NOTIFY flag (virtio_mb in virtqueue_kick_prepare).
 */
#include "virtio.h"
#include "io.h"

/* Above the image (which ends near 2.5 MiB) and below the smallest RAM the tests give (64 MiB). */
#define DMA_BASE (16ull << 20)
#define DMA_END (60ull << 20)
#define QEMU_MICROVM_VIRTIO_BASE 0xfeb00000ull
#define QEMU_MICROVM_VIRTIO_STRIDE 0x200
#define QEMU_MICROVM_VIRTIO_N 8
#define VMDBG_VIRTIO_BASE 0xd0000000ull
#define VMDBG_VIRTIO_GSI 5
#define LEGACY_PAGE 4096

static uint64_t dma_next = DMA_BASE;

void *tg_dma_alloc(uint64_t size, uint64_t align)
{
	uint64_t p = (dma_next + align - 1) & ~(align - 1);

	if (p + size > DMA_END || p + size < p)
		return NULL;
	/* Never handed out before, and RAM starts zeroed: no memset (it costs seconds where guest code is emulated). */
	dma_next = p + size;
	return (void *)p;
}

uint32_t tg_vdev_read(struct tg_vdev *d, uint32_t off)
{
	return mmio_read32(d->base + off);
}

void tg_vdev_write(struct tg_vdev *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->base + off, v);
}

static bool probe_at(uint64_t base, uint32_t device_id)
{
	return mmio_read32(base + VIRTIO_MMIO_MAGIC_VALUE) == VIRTIO_MMIO_MAGIC &&
	       mmio_read32(base + VIRTIO_MMIO_DEVICE_ID) == device_id;
}

/* "virtio_mmio.device=<size>@<base>:<irq>[:<id>]" words, as QEMU microvm appends without ACPI. */
static int find_cmdline(uint32_t device_id, struct tg_vdev *dev)
{
	const char *key = "virtio_mmio.device=";
	size_t klen = strlen(key);

	for (const char *p = tg_cmdline(); *p; p++) {
		if ((p != tg_cmdline() && p[-1] != ' ') || strncmp(p, key, klen))
			continue;
		const char *at = p + klen, *colon;
		while (*at && *at != '@' && *at != ' ')
			at++;
		if (*at != '@')
			continue;
		colon = at + 1;
		while (*colon && *colon != ':' && *colon != ' ')
			colon++;
		if (*colon != ':')
			continue;
		const char *end = colon + 1;
		while (*end && *end != ' ' && *end != ':')
			end++;
		uint64_t base, irq;
		if (tg_parse_u64(at + 1, colon - at - 1, &base) < 0 ||
		    tg_parse_u64(colon + 1, end - colon - 1, &irq) < 0)
			continue;
		if (base >= 0x100000000ull || !probe_at(base, device_id))
			continue;
		dev->base = base;
		dev->gsi = (uint32_t)irq;
		dev->gsi_level = true; /* Linux requests it level, active-high, as QEMU wires it */
		tg_printf("tg: virtio found by cmdline base=0x%lx gsi=%u\n", base, dev->gsi);
		return 0;
	}
	return -1;
}

int tg_virtio_find(uint32_t device_id, struct tg_vdev *dev)
{
	struct tg_acpi_dev ad;

	memset(dev, 0, sizeof(*dev));
	for (int i = 0; tg_acpi_find_hid("LNRO0005", i, &ad) == 0; i++) {
		if (ad.base >= 0x100000000ull || !probe_at(ad.base, device_id))
			continue;
		dev->base = ad.base;
		dev->gsi = ad.gsi;
		dev->gsi_level = ad.level;
		dev->gsi_low = ad.active_low;
		tg_printf("tg: virtio found by acpi LNRO0005 base=0x%lx size=0x%x gsi=%u %s%s\n",
			  ad.base, ad.size, ad.gsi, ad.level ? "level" : "edge",
			  ad.active_low ? " active-low" : "");
		return 0;
	}
	if (find_cmdline(device_id, dev) == 0)
		return 0;
	/* No description: vmdbg's fixed window, then QEMU microvm's transports (IRQ 5 + n). */
	if (probe_at(VMDBG_VIRTIO_BASE, device_id)) {
		dev->base = VMDBG_VIRTIO_BASE;
		dev->gsi = VMDBG_VIRTIO_GSI;
	} else {
		for (int n = 0; n < QEMU_MICROVM_VIRTIO_N && !dev->base; n++) {
			uint64_t b = QEMU_MICROVM_VIRTIO_BASE + (uint64_t)n * QEMU_MICROVM_VIRTIO_STRIDE;
			if (probe_at(b, device_id)) {
				dev->base = b;
				dev->gsi = 5 + n;
				dev->gsi_level = true;
			}
		}
	}
	if (!dev->base)
		return -1;
	tg_printf("tg: virtio found by probe base=0x%lx gsi=%u (guessed)\n", dev->base, dev->gsi);
	return 0;
}

uint32_t tg_vdev_status(struct tg_vdev *d)
{
	return tg_vdev_read(d, VIRTIO_MMIO_STATUS);
}

void tg_vdev_add_status(struct tg_vdev *d, uint32_t bit)
{
	tg_vdev_write(d, VIRTIO_MMIO_STATUS, tg_vdev_status(d) | bit);
}

uint64_t tg_vdev_device_features(struct tg_vdev *d)
{
	uint64_t f;

	tg_vdev_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f = (uint64_t)tg_vdev_read(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	tg_vdev_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f |= tg_vdev_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
	return f;
}

void tg_vdev_write_driver_features(struct tg_vdev *d, uint64_t f)
{
	tg_vdev_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	tg_vdev_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	tg_vdev_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	tg_vdev_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

/* Legacy layout (§2.7 "Legacy Interfaces"): avail right after desc, used on the next page. */
static uint64_t ring_bytes(unsigned num, uint64_t *avail_off, uint64_t *used_off)
{
	*avail_off = 16ull * num;
	*used_off = (*avail_off + 4 + 2ull * num + 2 + LEGACY_PAGE - 1) & ~(uint64_t)(LEGACY_PAGE - 1);
	return *used_off + 4 + 8ull * num + 2;
}

int tg_vdev_setup_vq(struct tg_vdev *d, struct tg_vq *vq, unsigned index, unsigned num_want)
{
	uint64_t avail_off, used_off;

	memset(vq, 0, sizeof(*vq));
	vq->dev = d;
	vq->index = (uint16_t)index;
	tg_vdev_write(d, VIRTIO_MMIO_QUEUE_SEL, index);
	if (d->version == 1 ? tg_vdev_read(d, VIRTIO_MMIO_QUEUE_PFN)
			    : tg_vdev_read(d, VIRTIO_MMIO_QUEUE_READY)) {
		tg_printf("tg: virtio queue %u already set up\n", index);
		return -1;
	}
	uint32_t max = tg_vdev_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (!max)
		return -1;
	unsigned num = num_want < max ? num_want : max;
	if (num > TG_VQ_MAX)
		num = TG_VQ_MAX;
	while (num & (num - 1)) /* split rings need a power of two */
		num &= num - 1;
	uint8_t *mem = tg_dma_alloc(ring_bytes(num, &avail_off, &used_off), LEGACY_PAGE);
	if (!mem)
		return -1;
	vq->num = (uint16_t)num;
	vq->desc = (struct vring_desc *)mem;
	vq->avail = (struct vring_avail *)(mem + avail_off);
	vq->used = (struct vring_used *)(mem + used_off);
	for (unsigned i = 0; i + 1 < num; i++)
		vq->desc[i].next = (uint16_t)(i + 1);
	vq->num_free = (uint16_t)num;

	tg_vdev_write(d, VIRTIO_MMIO_QUEUE_NUM, num);
	if (d->version == 1) {
		tg_vdev_write(d, VIRTIO_MMIO_QUEUE_ALIGN, LEGACY_PAGE);
		tg_vdev_write(d, VIRTIO_MMIO_QUEUE_PFN, (uint32_t)((uint64_t)mem / LEGACY_PAGE));
		return 0;
	}
	uint64_t a = (uint64_t)vq->desc, b = (uint64_t)vq->avail, c = (uint64_t)vq->used;
	tg_vdev_write(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)a);
	tg_vdev_write(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(a >> 32));
	tg_vdev_write(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)b);
	tg_vdev_write(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(b >> 32));
	tg_vdev_write(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)c);
	tg_vdev_write(d, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(c >> 32));
	tg_vdev_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return 0;
}

static struct tg_vdev *irq_dev; /* one virtio device takes interrupts */

/* vm_interrupt: read InterruptStatus, acknowledge exactly those bits, then look at the rings. */
static void vdev_irq(struct tg_regs *r)
{
	struct tg_vdev *d = irq_dev;

	if (d) {
		uint32_t st = tg_vdev_read(d, VIRTIO_MMIO_INTERRUPT_STATUS);
		if (st)
			tg_vdev_write(d, VIRTIO_MMIO_INTERRUPT_ACK, st);
		d->irqs++;
		d->irq_status_seen |= st;
		d->irq_pending = 1;
	}
	lapic_eoi();
}

int tg_vdev_enable_irq(struct tg_vdev *d, int vector)
{
	irq_dev = d;
	d->vector = vector;
	tg_set_irq_handler(vector, vdev_irq);
	if (tg_ioapic_route_gsi(d->gsi, vector, tg_cpus[0].apic_id, d->gsi_level, d->gsi_low) < 0)
		return -1;
	d->irq_on = true;
	return 0;
}

void tg_virtio_idle(struct tg_vdev *d)
{
	irq_disable();
	if (d->irq_pending) {
		d->irq_pending = 0;
		irq_enable();
		return;
	}
	safe_halt(); /* the device's interrupt or the fallback timer ends it */
	irq_disable();
	d->irq_pending = 0;
	irq_enable();
}

int tg_vq_add(struct tg_vq *vq, const struct tg_seg *segs, unsigned n, void *token)
{
	if (!n || n > vq->num_free || !token)
		return -1;
	uint16_t head = vq->free_head, i = head, prev = head;
	for (unsigned k = 0; k < n; k++) {
		struct vring_desc *dsc = &vq->desc[i];
		dsc->addr = (uint64_t)segs[k].addr;
		dsc->len = segs[k].len;
		dsc->flags = (segs[k].write ? VRING_DESC_F_WRITE : 0) | (k + 1 < n ? VRING_DESC_F_NEXT : 0);
		prev = i;
		i = dsc->next;
	}
	vq->free_head = i;
	/* The free list continues through `next`; the chain's last one must not name it. */
	vq->desc[prev].next = 0;
	vq->num_free -= (uint16_t)n;
	vq->token[head] = token;
	vq->chain_len[head] = (uint16_t)n;
	vq->avail->ring[vq->avail_idx % vq->num] = head;
	vq->avail_idx++;
	return head;
}

void tg_vq_publish(struct tg_vq *vq)
{
	barrier();
	__atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
}

void tg_vq_notify(struct tg_vq *vq)
{
	vq->notifies++;
	tg_vdev_write(vq->dev, VIRTIO_MMIO_QUEUE_NOTIFY, vq->index);
}

void tg_vq_kick(struct tg_vq *vq)
{
	tg_vq_publish(vq);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->used->flags & VRING_USED_F_NO_NOTIFY) {
		vq->notify_suppressed++;
		return;
	}
	tg_vq_notify(vq);
}

bool tg_vq_has_used(struct tg_vq *vq)
{
	return vq->num && __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) != vq->last_used_idx;
}

void *tg_vq_get_used(struct tg_vq *vq, uint32_t *len)
{
	if (!tg_vq_has_used(vq))
		return NULL;
	volatile struct vring_used_elem *e = &vq->used->ring[vq->last_used_idx % vq->num];
	uint32_t id = e->id;
	if (len)
		*len = e->len;
	vq->last_used_idx++;
	vq->used_seen++;
	if (id >= vq->num || !vq->chain_len[id]) {
		tg_printf("tg: virtio queue %u: device used bad head %u\n", vq->index, id);
		return NULL;
	}
	/* Give the chain's descriptors back to the free list. */
	uint16_t i = (uint16_t)id;
	for (unsigned k = 1; k < vq->chain_len[id]; k++)
		i = vq->desc[i].next;
	vq->desc[i].next = vq->free_head;
	vq->free_head = (uint16_t)id;
	vq->num_free += vq->chain_len[id];
	vq->chain_len[id] = 0;
	return vq->token[id];
}

void tg_vq_set_no_interrupt(struct tg_vq *vq, bool off)
{
	vq->avail->flags = off ? VRING_AVAIL_F_NO_INTERRUPT : 0;
}
