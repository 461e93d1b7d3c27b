/*
 * The virtio-console device behind its virtio-mmio transport, as a guest
 * driver and the host side would drive it, over 1 MiB of fuzzed guest RAM.
 *
 * Input: a u16 count of bytes copied to RAM at GPA 0, those bytes, then
 * operations (one opcode byte each, arguments after it): register reads and
 * writes of any offset and width, QueueNotify on every queue (and past the
 * last), the host-side API (port input, drain, control messages, wake bytes,
 * snapshots, strict mode), and driver helpers that build descriptor chains
 * and publish them (so the fuzzer reaches DRIVER_OK traffic quickly).
 *
 * Invariants, after every operation: no pointer outside RAM (fuzz_common.c);
 * bounded work (RAM lookups per operation); each port's host tx buffer grows
 * by at most one call's worth per operation and never from at or above the
 * high-water mark except by the reset capture; pending input never exceeds
 * what the host sent; the control queue stays under its cap; every queue has
 * at most `size` chains in flight; events name real ports and queues; the
 * snapshot agrees with the device.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "virtio/console.h"

#define RAM_SIZE (1u << 20)
#define RING_BASE 0x10000u
#define RING_STRIDE 0x4000u
#define DATA_BASE 0x40000u
/* One call of process_tx: under 256 KiB, then at most one whole chain. */
#define TX_GROWTH_MAX ((uint64_t)CONSOLE_TX_PER_CALL_MAX + (uint64_t)VQ_MAX_SIZE * CONSOLE_TX_DESC_MAX)
#define WORK_MAX (1u << 20)

static struct guest_mem gm;
static struct console con;
static uint64_t sent[CONSOLE_NR_PORTS];
static unsigned irqs, wakes;
static uint16_t next_desc[CONSOLE_NR_QUEUES];
static uint64_t data_next;

static void on_irq(void *opaque)
{
	irqs++;
}

static void on_wake(void *opaque, int group)
{
	FZ_CHECK(group == CONSOLE_WAKE_GROUP_CONSOLE || group == CONSOLE_WAKE_GROUP_STATS,
		 "host_wake group %d", group);
	wakes++;
}

static void on_event(void *opaque, const struct console_event *ev)
{
	FZ_CHECK(ev->port >= -1 && ev->port < CONSOLE_NR_PORTS, "event port %d", ev->port);
	FZ_CHECK(ev->queue >= -1 && ev->queue < CONSOLE_NR_QUEUES, "event queue %d", ev->queue);
	FZ_CHECK(ev->kind != CONSOLE_EV_VQ_BROKEN || (ev->note && ev->queue >= 0),
		 "broken-queue event without a queue or reason");
}

static void reg_write32(uint64_t off, uint32_t v)
{
	virtio_mmio_bus_ops.write(&con.mmio, off, &v, 4);
}

static uint64_t ring_desc(unsigned q)
{
	return RING_BASE + (uint64_t)q * RING_STRIDE;
}

/* What Linux's virtio_mmio does, queues at fixed places, all of SIZE. */
static void driver_init(uint64_t features, uint16_t size, bool driver_ok)
{
	reg_write32(VIRTIO_MMIO_STATUS, 0);
	reg_write32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	reg_write32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	reg_write32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg_write32(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	reg_write32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_write32(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	reg_write32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
						 VIRTIO_CONFIG_S_FEATURES_OK);
	for (unsigned q = 0; q < CONSOLE_NR_QUEUES; q++) {
		uint64_t d = ring_desc(q);

		memset(gm.host + d, 0, RING_STRIDE);
		next_desc[q] = 0;
		reg_write32(VIRTIO_MMIO_QUEUE_SEL, q);
		reg_write32(VIRTIO_MMIO_QUEUE_NUM, size);
		reg_write32(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)d);
		reg_write32(VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		reg_write32(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)(d + 0x1000));
		reg_write32(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
		reg_write32(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)(d + 0x2000));
		reg_write32(VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
		reg_write32(VIRTIO_MMIO_QUEUE_READY, 1);
	}
	if (driver_ok)
		reg_write32(VIRTIO_MMIO_STATUS,
			    VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				    VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

static uint16_t qsize(unsigned q)
{
	uint16_t s = con.mmio.vqs[q].size;

	return s ? s : 1;
}

static void put_desc(unsigned q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t d[16];

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	gm_write(&gm, ring_desc(q) + 16ull * (i % qsize(q)), d, 16);
}

static void publish(unsigned q, uint16_t head)
{
	uint64_t avail = ring_desc(q) + 0x1000;
	uint16_t idx;

	memcpy(&idx, gm.host + avail + 2, 2);
	memcpy(gm.host + avail + 4 + 2 * (idx % qsize(q)), &head, 2);
	idx++;
	memcpy(gm.host + avail + 2, &idx, 2);
}

/* Bump-allocate LEN bytes of buffer space in the data area (wrapping). */
static uint64_t alloc(uint32_t len)
{
	uint64_t a;

	if (len > RAM_SIZE - DATA_BASE)
		len = RAM_SIZE - DATA_BASE;
	if (data_next + len > RAM_SIZE)
		data_next = DATA_BASE;
	a = data_next;
	data_next = (data_next + len + 15) & ~15ull;
	return a;
}

/* A chain of up to 4 buffers on queue Q, filled from the input, published, maybe notified. */
static void add_chain(struct fz_in *in)
{
	unsigned q = fz_u8(in) % CONSOLE_NR_QUEUES, n = 1 + fz_u8(in) % 4;
	uint8_t how = fz_u8(in);
	uint16_t head = next_desc[q] % qsize(q);

	for (unsigned i = 0; i < n; i++) {
		uint32_t len = fz_u16(in) % 4096;
		bool write = how & (1u << i);
		uint64_t a = alloc(len);
		size_t got;
		const uint8_t *p = write ? NULL : fz_bytes(in, len, &got);

		if (p)
			memcpy(gm.host + a, p, got);
		put_desc(q, (uint16_t)(head + i), a, len,
			 (write ? VRING_DESC_F_WRITE : 0) | (i + 1 < n ? VRING_DESC_F_NEXT : 0),
			 (uint16_t)((head + i + 1) % qsize(q)));
	}
	next_desc[q] = (uint16_t)((head + n) % qsize(q));
	publish(q, head);
	if (how & 0x80)
		reg_write32(VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

/* A guest -> host control message on q3, as the driver sends it. */
static void guest_ctl(struct fz_in *in)
{
	unsigned q = CONSOLE_Q_CTRL_TX;
	uint16_t head = next_desc[q] % qsize(q);
	uint8_t m[8];
	uint32_t id = fz_u8(in);
	uint16_t event = fz_u8(in) % 9, value = fz_u8(in) % 3;
	uint64_t a = alloc(8);

	if (id >= 0xf0)
		id = VIRTIO_CONSOLE_BAD_ID;
	else
		id %= 5;
	memcpy(m, &id, 4);
	memcpy(m + 4, &event, 2);
	memcpy(m + 6, &value, 2);
	memcpy(gm.host + a, m, 8);
	put_desc(q, head, a, 8, 0, 0);
	next_desc[q] = (uint16_t)((head + 1) % qsize(q));
	publish(q, head);
	reg_write32(VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

static void check_device(const size_t *tx_before, bool reset_possible)
{
	struct console_snapshot snap;

	FZ_CHECK(con.ctl_out_len <= CONSOLE_CTL_OUT_MAX, "%u control messages waiting",
		 con.ctl_out_len);
	for (unsigned p = 0; p < CONSOLE_NR_PORTS; p++) {
		size_t now = con.port[p].host_tx.len;

		FZ_CHECK(now <= tx_before[p] + TX_GROWTH_MAX * (reset_possible ? 2 : 1),
			 "port %u host tx grew from %zu to %zu in one operation", p, tx_before[p], now);
		FZ_CHECK(now <= tx_before[p] || tx_before[p] < CONSOLE_TX_HIGH_WATER || reset_possible,
			 "port %u host tx grew from %zu, at the high-water mark", p, tx_before[p]);
		FZ_CHECK(con.port[p].pending_rx.len <= sent[p] + 1024,
			 "port %u holds %zu pending bytes of %llu sent", p, con.port[p].pending_rx.len,
			 (unsigned long long)sent[p]);
	}
	for (unsigned q = 0; q < CONSOLE_NR_QUEUES; q++) {
		const struct virtqueue *vq = &con.mmio.vqs[q];

		FZ_CHECK(vq->inuse <= vq->size, "queue %u: %u chains in flight, size %u", q, vq->inuse,
			 vq->size);
	}
	console_snapshot(&con, &snap);
	for (unsigned p = 0; p < CONSOLE_NR_PORTS; p++)
		FZ_CHECK(snap.port[p].host_tx == con.port[p].host_tx.len &&
				 snap.port[p].pending_rx == con.port[p].pending_rx.len,
			 "snapshot of port %u disagrees", p);
	FZ_CHECK(snap.status == con.mmio.status, "snapshot status");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[70000];
	static struct console_ctl_log_entry log[16];
	static const unsigned widths[4] = { 1, 2, 4, 8 };
	struct fz_in in = { data, size };
	const uint8_t *p;
	size_t n;

	fz_quiet_logs();
	fz_ram_init(&gm, RAM_SIZE);
	p = fz_bytes(&in, fz_u16(&in), &n);
	memcpy(gm.host, p, n);
	FZ_CHECK(console_init(&con, &gm) == 0, "console_init");
	console_set_irq(&con, on_irq, NULL);
	con.host_wake = on_wake;
	con.on_event = on_event;
	memset(sent, 0, sizeof(sent));
	memset(next_desc, 0, sizeof(next_desc));
	data_next = DATA_BASE;
	irqs = wakes = 0;

	while (fz_left(&in)) {
		uint8_t op = fz_u8(&in);
		size_t tx_before[CONSOLE_NR_PORTS];
		bool reset_possible = false;
		int r;

		for (unsigned i = 0; i < CONSOLE_NR_PORTS; i++)
			tx_before[i] = con.port[i].host_tx.len;
		fz_gm_calls = 0;
		switch (op % 17) {
		case 0: { /* register read */
			uint64_t off = fz_u16(&in) % 0x200, v = 0;

			virtio_mmio_bus_ops.read(&con.mmio, off, &v, widths[fz_u8(&in) % 4]);
			break;
		}
		case 1: { /* register write */
			uint64_t off = fz_u16(&in) % 0x200, v = fz_u64(&in);

			virtio_mmio_bus_ops.write(&con.mmio, off, &v, widths[fz_u8(&in) % 4]);
			reset_possible = true; /* may be a Status write */
			break;
		}
		case 2:
			reg_write32(VIRTIO_MMIO_QUEUE_NOTIFY, fz_u8(&in) % (CONSOLE_NR_QUEUES + 2));
			break;
		case 3:
			r = console_notify(&con, fz_u8(&in) % (CONSOLE_NR_QUEUES + 2));
			FZ_CHECK(r == 0 || r == -EINVAL, "console_notify returned %d", r);
			break;
		case 4: { /* host input */
			unsigned port = fz_u8(&in) % (CONSOLE_NR_PORTS + 1);

			p = fz_bytes(&in, fz_u8(&in), &n);
			r = console_port_send(&con, port, p, n);
			FZ_CHECK(port < CONSOLE_NR_PORTS ? r == 0 : r == -EINVAL, "port_send(%u) = %d",
				 port, r);
			if (port < CONSOLE_NR_PORTS)
				sent[port] += n;
			break;
		}
		case 5: { /* host reader drains */
			unsigned port = fz_u8(&in) % (CONSOLE_NR_PORTS + 1);
			size_t max = fz_u16(&in);
			long got;

			if (max > sizeof(buf))
				max = sizeof(buf);
			got = console_port_drain(&con, port, buf, max);
			FZ_CHECK(port < CONSOLE_NR_PORTS ? got >= 0 && (size_t)got <= max : got == -EINVAL,
				 "drain(%u, %zu) = %ld", port, max, got);
			if (port < CONSOLE_NR_PORTS)
				tx_before[port] -= (size_t)got;
			break;
		}
		case 6: { /* control message to the guest */
			uint32_t id = fz_u8(&in) < 240 ? fz_u8(&in) % 4 : fz_u32(&in);
			uint16_t event = fz_u8(&in) % 10, value = fz_u16(&in);
			char name[300];

			p = fz_bytes(&in, fz_u16(&in) % 300, &n);
			memcpy(name, p, n);
			name[n] = '\0';
			r = console_ctl_send(&con, id, event, value, n ? name : NULL);
			FZ_CHECK(r == 0 || r == -ENAMETOOLONG || r == -ENOSPC, "ctl_send = %d", r);
			FZ_CHECK(r != -ENAMETOOLONG || strlen(name) > CONSOLE_CTL_NAME_MAX,
				 "name of %zu bytes refused", strlen(name));
			break;
		}
		case 7:
			console_wake(&con, fz_u8(&in));
			sent[0]++;
			break;
		case 8: { /* the driver's init sequence */
			static const uint64_t feats[4] = { 3ull << 32 | 2, 1ull << 32 | 2, 1ull << 32, 0 };
			uint8_t k = fz_u8(&in);

			driver_init(k < 252 ? feats[k % 4] : fz_u64(&in), (uint16_t)(1u << (fz_u8(&in) % 9)),
				    !(k & 0x40));
			reset_possible = true;
			break;
		}
		case 9: { /* a raw descriptor */
			unsigned q = fz_u8(&in) % CONSOLE_NR_QUEUES;
			uint16_t i = fz_u8(&in);
			uint64_t addr = fz_u8(&in) < 230 ? DATA_BASE + fz_u16(&in) * 8ull : fz_u64(&in);
			uint32_t len = fz_u8(&in) < 230 ? fz_u16(&in) : fz_u32(&in);
			uint16_t flags = fz_u8(&in) & 7, next = fz_u16(&in) % 300;

			put_desc(q, i, addr, len, flags, next);
			break;
		}
		case 10:
			publish(fz_u8(&in) % CONSOLE_NR_QUEUES, fz_u16(&in) % 300);
			break;
		case 11: { /* raw RAM write (the rings included) */
			uint32_t off = fz_u32(&in) % RAM_SIZE;

			p = fz_bytes(&in, fz_u8(&in), &n);
			gm_write(&gm, off, p, n);
			break;
		}
		case 12: {
			size_t got = console_ctl_log_read(&con, fz_u16(&in), log, 1 + fz_u8(&in) % 16);

			FZ_CHECK(got <= 16, "ctl_log_read gave %zu", got);
			for (size_t i = 1; i < got; i++)
				FZ_CHECK(log[i].seq > log[i - 1].seq, "log out of order");
			break;
		}
		case 13: /* a status write, one step of the state machine (or a reset) */
			reg_write32(VIRTIO_MMIO_STATUS, fz_u8(&in));
			reset_possible = true;
			break;
		case 14:
			add_chain(&in);
			break;
		case 15:
			console_set_strict(&con, fz_u8(&in) & 1);
			break;
		case 16:
			guest_ctl(&in);
			break;
		}
		FZ_CHECK(fz_gm_calls <= WORK_MAX, "operation %u made %llu RAM lookups", op % 17,
			 (unsigned long long)fz_gm_calls);
		check_device(tx_before, reset_possible);
	}
	console_free(&con);
	return 0;
}
