#include "virtio/mmio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "emu/log.h"
#include "virtio/virtio_ids.h"

#define S_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRV (S_ACK | VIRTIO_CONFIG_S_DRIVER)
#define S_FEAT (S_DRV | VIRTIO_CONFIG_S_FEATURES_OK)
#define S_OK (S_FEAT | VIRTIO_CONFIG_S_DRIVER_OK)

int virtio_mmio_init(struct virtio_mmio *t, const struct guest_mem *gm,
		     const struct virtio_dev_ops *ops, void *dev)
{
	int err;

	memset(t, 0, sizeof(*t));
	if (!ops || ops->num_queues > VIRTIO_MMIO_MAX_QUEUES || ops->queue_num_max > VQ_MAX_SIZE)
		return -EINVAL;
	err = pthread_mutex_init(&t->lock, NULL);
	if (err)
		return -err;
	t->ops = ops;
	t->dev = dev;
	t->gm = gm;
	for (unsigned q = 0; q < ops->num_queues; q++)
		vq_init(&t->vqs[q], gm, ops->queue_num_max,
			ops->queue_names ? ops->queue_names[q] : NULL);
	return 0;
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	pthread_mutex_destroy(&t->lock);
}

void virtio_mmio_lock(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
}

void virtio_mmio_unlock(struct virtio_mmio *t)
{
	pthread_mutex_unlock(&t->lock);
}

const char *virtio_status_str(uint32_t status, char *buf, unsigned size)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} bits[] = {
		{ VIRTIO_CONFIG_S_ACKNOWLEDGE, "ACKNOWLEDGE" }, { VIRTIO_CONFIG_S_DRIVER, "DRIVER" },
		{ VIRTIO_CONFIG_S_FEATURES_OK, "FEATURES_OK" }, { VIRTIO_CONFIG_S_DRIVER_OK, "DRIVER_OK" },
		{ VIRTIO_CONFIG_S_NEEDS_RESET, "NEEDS_RESET" }, { VIRTIO_CONFIG_S_FAILED, "FAILED" },
	};
	unsigned off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		if (!(status & bits[i].bit))
			continue;
		off += snprintf(buf + off, off < size ? size - off : 0, "%s%s", off ? "|" : "",
				bits[i].name);
		status &= ~bits[i].bit;
	}
	if (status)
		off += snprintf(buf + off, off < size ? size - off : 0, "%s%#x", off ? "|" : "", status);
	if (!off)
		snprintf(buf, size, "0");
	return buf;
}

static struct virtqueue *selected_vq(struct virtio_mmio *t)
{
	return t->queue_sel < t->ops->num_queues ? &t->vqs[t->queue_sel] : NULL;
}

static void put_le32(void *data, uint32_t v)
{
	uint8_t *p = data;

	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const void *data)
{
	const uint8_t *p = data;

	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t reg_read(struct virtio_mmio *t, uint64_t off)
{
	struct virtqueue *vq = selected_vq(t);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return VIRTIO_MMIO_VERSION_MODERN;
	case VIRTIO_MMIO_DEVICE_ID:
		return t->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return t->ops->vendor_id;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (t->device_features_sel == 0)
			return (uint32_t)t->ops->device_features;
		if (t->device_features_sel == 1)
			return (uint32_t)(t->ops->device_features >> 32);
		return 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return vq ? vq->num_max : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return vq ? vq->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return virtio_mmio_interrupt_status(t);
	case VIRTIO_MMIO_STATUS:
		return t->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return 0;
	default:
		return 0;
	}
}

static void locked_read(struct virtio_mmio *t, uint64_t off, void *data, unsigned len)
{
	uint32_t cfg = t->ops->config_size;

	if (off >= VIRTIO_MMIO_CONFIG && off - VIRTIO_MMIO_CONFIG < cfg) {
		uint32_t o = (uint32_t)(off - VIRTIO_MMIO_CONFIG);

		if (len > cfg - o || !t->ops->config_read)
			memset(data, 0xff, len);
		else
			t->ops->config_read(t->dev, o, data, len);
		return;
	}
	if (len != 4) {
		memset(data, 0xff, len);
		return;
	}
	put_le32(data, reg_read(t, off));
}

static bool queue_config_allowed(struct virtio_mmio *t, const char *reg)
{
	char sb[80];

	if ((t->status & S_FEAT) == S_FEAT && !(t->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    t->queue_sel < t->ops->num_queues)
		return true;
	t->ignored_writes++;
	log_debug("%s: %s write ignored (status %s, QueueSel %u)", t->ops->name, reg,
		  virtio_status_str(t->status, sb, sizeof(sb)), t->queue_sel);
	return false;
}

static void set_addr_half(uint64_t *addr, bool high, uint32_t val)
{
	if (high)
		*addr = (*addr & 0xffffffffull) | (uint64_t)val << 32;
	else
		*addr = (*addr & ~0xffffffffull) | val;
}

static void device_reset(struct virtio_mmio *t)
{
	if (t->ops->reset)
		t->ops->reset(t->dev);
	t->status = 0;
	__atomic_store_n(&t->interrupt_status, 0, __ATOMIC_RELEASE);
	t->queue_sel = 0;
	t->device_features_sel = 0;
	t->driver_features_sel = 0;
	t->driver_features = 0;
	for (unsigned q = 0; q < t->ops->num_queues; q++)
		vq_reset(&t->vqs[q]);
	t->resets++;
}

static void reject_status(struct virtio_mmio *t, uint32_t val, const char *why)
{
	char a[80], b[80];

	t->status_rejects++;
	t->last_rejected_status = val;
	log_warn("%s: status write %#x (%s) rejected in state %#x (%s): %s", t->ops->name, val,
		 virtio_status_str(val, a, sizeof(a)), t->status,
		 virtio_status_str(t->status, b, sizeof(b)), why);
}

/* Strict mode only: what virtio 1.2 §2.2.2 lets a device refuse at FEATURES_OK. */
static const char *strict_features_problem(struct virtio_mmio *t)
{
	if (t->driver_features & ~t->ops->device_features)
		return "driver accepted features the device did not offer";
	if (!virtio_mmio_negotiated(t, VIRTIO_F_VERSION_1))
		return "driver did not accept VERSION_1";
	return NULL;
}

static void set_status(struct virtio_mmio *t, uint32_t val)
{
	uint32_t old = t->status, new_bits = val & ~old;
	uint32_t need;

	if ((val & old) != old) {
		reject_status(t, val, "a status write may not clear a set bit");
		return;
	}
	if (new_bits == VIRTIO_CONFIG_S_FAILED) {
		log_warn("%s: driver set FAILED", t->ops->name);
		goto accept;
	}
	switch (new_bits) {
	case 0:
		if (t->strict)
			return;
		reject_status(t, val, "same-value rewrite");
		return;
	case VIRTIO_CONFIG_S_ACKNOWLEDGE:
		need = 0;
		break;
	case VIRTIO_CONFIG_S_DRIVER:
		need = S_ACK;
		break;
	case VIRTIO_CONFIG_S_FEATURES_OK:
		need = S_DRV;
		break;
	case VIRTIO_CONFIG_S_DRIVER_OK:
		need = S_FEAT;
		break;
	default:
		reject_status(t, val, "exactly one new bit per write, in order ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK (FAILED alone is always allowed)");
		return;
	}
	if (old != need) {
		reject_status(t, val, "out of order: ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK");
		return;
	}
	if (new_bits == VIRTIO_CONFIG_S_FEATURES_OK && t->strict) {
		const char *why = strict_features_problem(t);

		if (why) {
			reject_status(t, val, why);
			return;
		}
	}
accept:
	t->status = val;
	if (t->ops->status_changed)
		t->ops->status_changed(t->dev, old, val);
}

static void locked_write(struct virtio_mmio *t, uint64_t off, const void *data, unsigned len)
{
	struct virtqueue *vq = selected_vq(t);
	uint32_t val;

	if (off >= VIRTIO_MMIO_CONFIG && off - VIRTIO_MMIO_CONFIG < t->ops->config_size) {
		if (t->ops->config_write && len <= t->ops->config_size - (off - VIRTIO_MMIO_CONFIG)) {
			t->ops->config_write(t->dev, (uint32_t)(off - VIRTIO_MMIO_CONFIG), data, len);
			return;
		}
		t->ignored_writes++;
		log_warn("%s: write to read-only config space at %#llx ignored", t->ops->name,
			 (unsigned long long)off);
		return;
	}
	if (len != 4) {
		t->ignored_writes++;
		log_debug("%s: %u-byte write at %#llx ignored (registers are 4 bytes wide)",
			  t->ops->name, len, (unsigned long long)off);
		return;
	}
	val = get_le32(data);
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->device_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->driver_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (!(t->status & VIRTIO_CONFIG_S_DRIVER) || (t->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
			t->ignored_writes++;
			log_debug("%s: DriverFeatures write ignored outside DRIVER..FEATURES_OK",
				  t->ops->name);
			break;
		}
		if (t->driver_features_sel == 0)
			t->driver_features = (t->driver_features & ~0xffffffffull) | val;
		else if (t->driver_features_sel == 1)
			t->driver_features = (t->driver_features & 0xffffffffull) | (uint64_t)val << 32;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (!queue_config_allowed(t, "QueueNum"))
			break;
		if (vq_set_size(vq, val)) {
			t->ignored_writes++;
			log_warn("%s: queue %u: QueueNum %u rejected (must be a power of two, 1..%u)",
				 t->ops->name, t->queue_sel, val, vq->num_max);
		}
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (queue_config_allowed(t, "QueueReady"))
			vq_set_ready(vq, val == 1);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (queue_config_allowed(t, "QueueDesc"))
			set_addr_half(&vq->desc_gpa, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		if (queue_config_allowed(t, "QueueDriver"))
			set_addr_half(&vq->avail_gpa, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if (queue_config_allowed(t, "QueueDevice"))
			set_addr_half(&vq->used_gpa, off == VIRTIO_MMIO_QUEUE_USED_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		if (val >= t->ops->num_queues) {
			log_debug("%s: QueueNotify %u names no queue", t->ops->name, val);
			break;
		}
		t->vqs[val].notifies++;
		if (t->ops->queue_notify)
			t->ops->queue_notify(t->dev, val);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK: /* virtio_mmio_write's lock-free path; kept for direct calls */
		__atomic_and_fetch(&t->interrupt_status, ~val, __ATOMIC_ACQ_REL);
		break;
	case VIRTIO_MMIO_STATUS:
		if (val == 0)
			device_reset(t);
		else
			set_status(t, val);
		break;
	default:
		t->ignored_writes++;
		log_debug("%s: write %#x to %#llx ignored", t->ops->name, val, (unsigned long long)off);
		break;
	}
}

void virtio_mmio_read(struct virtio_mmio *t, uint64_t offset, void *data, unsigned len)
{
	/*
	 * The interrupt handler's registers skip the lock: a host thread may hold it for a whole
	 * tx walk, and the vCPU that takes the interrupt that walk raised must not wait for it.
	 */
	if (offset == VIRTIO_MMIO_INTERRUPT_STATUS && len == 4) {
		put_le32(data, virtio_mmio_interrupt_status(t));
		return;
	}
	pthread_mutex_lock(&t->lock);
	locked_read(t, offset, data, len);
	pthread_mutex_unlock(&t->lock);
}

uint32_t virtio_mmio_interrupt_status(struct virtio_mmio *t)
{
	return __atomic_load_n(&t->interrupt_status, __ATOMIC_ACQUIRE);
}

void virtio_mmio_write(struct virtio_mmio *t, uint64_t offset, const void *data, unsigned len)
{
	if (offset == VIRTIO_MMIO_INTERRUPT_ACK && len == 4) {
		__atomic_and_fetch(&t->interrupt_status, ~get_le32(data), __ATOMIC_ACQ_REL);
		return;
	}
	pthread_mutex_lock(&t->lock);
	locked_write(t, offset, data, len);
	pthread_mutex_unlock(&t->lock);
}

static void bus_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	virtio_mmio_read(opaque, offset, data, len);
}

static void bus_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	virtio_mmio_write(opaque, offset, data, len);
}

const struct bus_dev_ops virtio_mmio_bus_ops = {
	.read = bus_read,
	.write = bus_write,
};

bool virtio_mmio_signal(struct virtio_mmio *t, unsigned q)
{
	if (q >= t->ops->num_queues || !vq_should_signal(&t->vqs[q]))
		return false;
	__atomic_or_fetch(&t->interrupt_status, VIRTIO_MMIO_INT_VRING, __ATOMIC_ACQ_REL);
	t->irqs_raised++;
	if (t->raise_irq)
		t->raise_irq(t->irq_opaque);
	return true;
}
