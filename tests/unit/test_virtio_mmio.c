/* The virtio-mmio transport's register and status rules, with a recording fake device. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emu/guest_mem.h"
#include "emu/log.h"
#include "virtio/mmio.h"
#include "virtio/virtio_ids.h"

#define S_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRV (S_ACK | VIRTIO_CONFIG_S_DRIVER)
#define S_FEAT (S_DRV | VIRTIO_CONFIG_S_FEATURES_OK)
#define S_OK (S_FEAT | VIRTIO_CONFIG_S_DRIVER_OK)
#define FAILED VIRTIO_CONFIG_S_FAILED
#define RAM (16u << 20)

struct fake {
	struct virtio_mmio t;
	uint8_t *ram;
	struct guest_mem gm;
	unsigned notifies[8], bad_notifies;
	unsigned resets, status_calls, irqs;
	uint32_t status_at_reset, last_old, last_new;
	bool ready_at_reset;
};

static unsigned warns;

static void sink(enum log_level l, const char *m)
{
	if (l <= LOG_WARN)
		warns++;
}

static void f_config_read(void *dev, uint32_t off, void *data, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		((uint8_t *)data)[i] = (uint8_t)(0x10 + off + i);
}

static void f_notify(void *dev, unsigned q)
{
	struct fake *f = dev;

	if (q < 8)
		f->notifies[q]++;
	else
		f->bad_notifies++;
}

static void f_reset(void *dev)
{
	struct fake *f = dev;

	f->resets++;
	f->status_at_reset = f->t.status;
	f->ready_at_reset = f->t.vqs[0].ready;
}

static void f_status(void *dev, uint32_t old, uint32_t new)
{
	struct fake *f = dev;

	f->status_calls++;
	f->last_old = old;
	f->last_new = new;
}

static void f_irq(void *opaque)
{
	((struct fake *)opaque)->irqs++;
}

static const struct virtio_dev_ops fake_ops = {
	.name = "fake",
	.device_id = 42,
	.vendor_id = 0x1af4,
	.device_features = (1ull << VIRTIO_F_VERSION_1) | 0x3,
	.num_queues = 2,
	.queue_num_max = 256,
	.config_size = 8,
	.config_read = f_config_read,
	.queue_notify = f_notify,
	.reset = f_reset,
	.status_changed = f_status,
};

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	f->ram = calloc(1, RAM);
	gm_init_buf(&f->gm, f->ram, RAM);
	assert_int_equal(virtio_mmio_init(&f->t, &f->gm, &fake_ops, f), 0);
	f->t.raise_irq = f_irq;
	f->t.irq_opaque = f;
	log_sink = sink;
	warns = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	virtio_mmio_destroy(&f->t);
	free(f->ram);
	free(f);
	return 0;
}

static uint32_t rd(struct fake *f, uint64_t off)
{
	uint32_t v;

	virtio_mmio_bus_ops.read(&f->t, off, &v, 4);
	return v;
}

static void wr(struct fake *f, uint64_t off, uint32_t v)
{
	virtio_mmio_bus_ops.write(&f->t, off, &v, 4);
}

static void to_status(struct fake *f, uint32_t s)
{
	static const uint32_t steps[] = { S_ACK, S_DRV, S_FEAT, S_OK };

	for (unsigned i = 0; i < 4 && (steps[i] & s) == steps[i]; i++)
		wr(f, VIRTIO_MMIO_STATUS, steps[i]);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), s);
}

static void test_identity_registers_come_from_ops(void **state)
{
	struct fake *f = *state;

	assert_int_equal(rd(f, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(f, VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), 42);
	assert_int_equal(rd(f, VIRTIO_MMIO_VENDOR_ID), 0x1af4);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), 0);
}

static void test_init_rejects_bad_ops(void **state)
{
	struct virtio_mmio t;
	struct virtio_dev_ops ops = fake_ops;

	ops.num_queues = VIRTIO_MMIO_MAX_QUEUES + 1;
	assert_int_equal(virtio_mmio_init(&t, NULL, &ops, NULL), -EINVAL);
	assert_int_equal(virtio_mmio_init(&t, NULL, NULL, NULL), -EINVAL);
}

static void test_register_reads_of_other_widths_are_all_ones(void **state)
{
	struct fake *f = *state;
	uint8_t b[8];

	for (unsigned len = 1; len <= 8; len++) {
		if (len == 4)
			continue;
		memset(b, 0, sizeof(b));
		virtio_mmio_bus_ops.read(&f->t, VIRTIO_MMIO_MAGIC_VALUE, b, len);
		for (unsigned i = 0; i < len; i++)
			assert_int_equal(b[i], 0xff);
	}
}

static void test_config_reads_any_width_and_past_end_is_all_ones(void **state)
{
	struct fake *f = *state;
	uint8_t b[8];

	virtio_mmio_bus_ops.read(&f->t, 0x101, b, 1);
	assert_int_equal(b[0], 0x11);
	virtio_mmio_bus_ops.read(&f->t, 0x102, b, 2);
	assert_int_equal(b[0], 0x12);
	assert_int_equal(b[1], 0x13);
	virtio_mmio_bus_ops.read(&f->t, 0x100, b, 8);
	assert_int_equal(b[7], 0x17);
	virtio_mmio_bus_ops.read(&f->t, 0x105, b, 4); /* 5 + 4 > 8 */
	assert_memory_equal(b, "\xff\xff\xff\xff", 4);
	/* Past config space: an ordinary unknown register. */
	assert_int_equal(rd(f, 0x108), 0);
}

static void test_config_write_is_ignored_with_a_warning(void **state)
{
	struct fake *f = *state;
	uint8_t b[4];

	wr(f, 0x100, 0x12345678);
	assert_int_equal(warns, 1);
	virtio_mmio_bus_ops.read(&f->t, 0x100, b, 4);
	assert_int_equal(b[0], 0x10);
	assert_int_equal(f->t.ignored_writes, 1);
}

static void test_device_features_pages(void **state)
{
	struct fake *f = *state;

	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 0x3);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 1);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0xffffffff);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 0);
}

static void write_features(struct fake *f, uint64_t v)
{
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)v);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(v >> 32));
}

static void test_driver_features_only_between_driver_and_features_ok(void **state)
{
	struct fake *f = *state;

	write_features(f, 0x1111);
	assert_int_equal(f->t.driver_features, 0);
	to_status(f, S_ACK);
	write_features(f, 0x1111);
	assert_int_equal(f->t.driver_features, 0);
	to_status(f, S_DRV);
	/* No subset check in the default device: anything the driver writes is kept. */
	write_features(f, 0xCAFEBABEDEADBEEFull);
	assert_int_equal(f->t.driver_features, 0xCAFEBABEDEADBEEFull);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	assert_int_equal(f->t.driver_features, 0xCAFEBABEDEADBEEFull);
	to_status(f, S_FEAT);
	write_features(f, 0x3);
	assert_int_equal(f->t.driver_features, 0xCAFEBABEDEADBEEFull);
	/* Write-only: reads 0. */
	assert_int_equal(rd(f, VIRTIO_MMIO_DRIVER_FEATURES), 0);
}

static void test_queue_num_max_and_ready_by_queue_sel(void **state)
{
	struct fake *f = *state;

	for (uint32_t q = 0; q < 2; q++) {
		wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
		assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	}
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 99);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
}

static void setup_queue(struct fake *f, uint32_t q)
{
	wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 16);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x2000);
	wr(f, VIRTIO_MMIO_QUEUE_USED_LOW, 0x3000);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
}

static void test_queue_registers_only_in_the_setup_window(void **state)
{
	struct fake *f = *state;

	to_status(f, S_DRV);
	setup_queue(f, 0);
	assert_false(f->t.vqs[0].ready);
	assert_int_equal(f->t.vqs[0].desc_gpa, 0);
	assert_int_equal(f->t.vqs[0].size, 256);
	to_status(f, S_FEAT);
	setup_queue(f, 0);
	assert_true(f->t.vqs[0].ready);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
	assert_int_equal(f->t.vqs[0].desc_gpa, 0x1000);
	assert_int_equal(f->t.vqs[0].avail_gpa, 0x2000);
	assert_int_equal(f->t.vqs[0].used_gpa, 0x3000);
	assert_int_equal(f->t.vqs[0].size, 16);
	/* The address registers are write-only. */
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_DESC_LOW), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM), 0);
	wr(f, VIRTIO_MMIO_STATUS, S_OK);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 64);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x8000);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(f->t.vqs[0].size, 16);
	assert_int_equal(f->t.vqs[0].desc_gpa, 0x1000);
	assert_true(f->t.vqs[0].ready);
}

static void test_queue_address_high_halves_combine(void **state)
{
	struct fake *f = *state;

	to_status(f, S_FEAT);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0x1);
	wr(f, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0x2);
	wr(f, VIRTIO_MMIO_QUEUE_USED_HIGH, 0x3);
	assert_int_equal(f->t.vqs[1].desc_gpa, 0x100001000ull);
	assert_int_equal(f->t.vqs[1].avail_gpa, 0x200000000ull);
	assert_int_equal(f->t.vqs[1].used_gpa, 0x300000000ull);
}

static void test_queue_num_must_be_power_of_two_up_to_max(void **state)
{
	struct fake *f = *state;
	static const uint32_t bad[] = { 0, 3, 100, 512, 0x80000000u };

	to_status(f, S_FEAT);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		warns = 0;
		wr(f, VIRTIO_MMIO_QUEUE_NUM, bad[i]);
		assert_int_equal(f->t.vqs[0].size, 256);
		assert_int_equal(warns, 1);
	}
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 128);
	assert_int_equal(f->t.vqs[0].size, 128);
}

static void test_queue_sel_out_of_range_ignores_queue_writes(void **state)
{
	struct fake *f = *state;

	to_status(f, S_FEAT);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 8);
	assert_int_equal(f->t.queue_sel, 8); /* QueueSel itself is always accepted */
	setup_queue(f, 99);
	assert_false(f->t.vqs[0].ready);
	assert_false(f->t.vqs[1].ready);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
}

static void test_unknown_and_write_only_registers_read_zero(void **state)
{
	struct fake *f = *state;
	static const uint64_t regs[] = { 0x300, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_MMIO_INTERRUPT_ACK,
					 VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_QUEUE_SEL,
					 0x0b0, 0x0ffc, 0x028, 0x040 };

	wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		assert_int_equal(rd(f, regs[i]), 0);
}

static void test_unknown_register_write_is_ignored(void **state)
{
	struct fake *f = *state;

	wr(f, 0x300, 0xffffffff);
	wr(f, 0x0ac, 0xffffffff);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(f->t.ignored_writes, 2);
}

static void test_narrow_writes_are_ignored(void **state)
{
	struct fake *f = *state;
	uint16_t s = S_ACK;
	uint8_t b = 1;
	uint64_t q = S_ACK;

	virtio_mmio_bus_ops.write(&f->t, VIRTIO_MMIO_STATUS, &s, 2);
	virtio_mmio_bus_ops.write(&f->t, VIRTIO_MMIO_STATUS, &b, 1);
	virtio_mmio_bus_ops.write(&f->t, VIRTIO_MMIO_STATUS, &q, 8);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(f->status_calls, 0);
}

static void test_status_accepts_the_linux_sequence(void **state)
{
	struct fake *f = *state;

	to_status(f, S_OK);
	assert_int_equal(f->status_calls, 4);
	assert_int_equal(f->last_old, S_FEAT);
	assert_int_equal(f->last_new, S_OK);
	assert_int_equal(f->t.status_rejects, 0);
}

/* Each case: reach FROM, write VAL, expect the status to stay at FROM. */
static void expect_rejected(struct fake *f, uint32_t from, uint32_t val)
{
	unsigned calls;

	wr(f, VIRTIO_MMIO_STATUS, 0);
	to_status(f, from);
	calls = f->status_calls;
	warns = 0;
	wr(f, VIRTIO_MMIO_STATUS, val);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), from);
	assert_int_equal(f->status_calls, calls);
	assert_int_equal(warns, 1);
	assert_int_equal(f->t.last_rejected_status, val);
}

static void test_status_skipping_a_step_is_rejected(void **state)
{
	struct fake *f = *state;

	expect_rejected(f, 0, VIRTIO_CONFIG_S_DRIVER);
	expect_rejected(f, 0, VIRTIO_CONFIG_S_FEATURES_OK);
	expect_rejected(f, S_ACK, S_ACK | VIRTIO_CONFIG_S_FEATURES_OK);
	expect_rejected(f, S_DRV, S_DRV | VIRTIO_CONFIG_S_DRIVER_OK); /* jump to DRIVER_OK */
}

static void test_status_clearing_a_bit_is_rejected(void **state)
{
	struct fake *f = *state;

	expect_rejected(f, S_ACK, VIRTIO_CONFIG_S_DRIVER);
	expect_rejected(f, S_DRV, S_ACK);
	expect_rejected(f, S_OK, S_FEAT);
	expect_rejected(f, S_OK, S_FEAT & ~VIRTIO_CONFIG_S_DRIVER);
}

static void test_status_same_value_rewrite_is_rejected(void **state)
{
	struct fake *f = *state;

	expect_rejected(f, S_ACK, S_ACK);
	expect_rejected(f, S_OK, S_OK);
}

static void test_status_two_bits_at_once_are_rejected(void **state)
{
	struct fake *f = *state;

	expect_rejected(f, 0, S_DRV);
	expect_rejected(f, S_ACK, S_FEAT);
	expect_rejected(f, S_DRV, S_OK);
}

static void test_status_reserved_bits_are_rejected(void **state)
{
	struct fake *f = *state;

	expect_rejected(f, 0, 0x10);
	expect_rejected(f, S_ACK, S_ACK | 0x10);
	expect_rejected(f, S_ACK, S_ACK | 0x40);
	expect_rejected(f, S_ACK, S_ACK | 0x100);
}

static void test_status_failed_alone_is_accepted_in_every_state(void **state)
{
	struct fake *f = *state;
	static const uint32_t states[] = { 0, S_ACK, S_DRV, S_FEAT, S_OK };

	for (unsigned i = 0; i < 5; i++) {
		wr(f, VIRTIO_MMIO_STATUS, 0);
		to_status(f, states[i]);
		wr(f, VIRTIO_MMIO_STATUS, states[i] | FAILED);
		assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), states[i] | FAILED);
		assert_int_equal(f->last_new, states[i] | FAILED);
	}
	/* After FAILED the driver must reset: further steps are refused. */
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, FAILED);
	warns = 0;
	wr(f, VIRTIO_MMIO_STATUS, FAILED | S_ACK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), FAILED);
	assert_int_equal(warns, 1);
}

static void test_status_failed_with_another_new_bit_is_rejected(void **state)
{
	struct fake *f = *state;

	expect_rejected(f, 0, S_ACK | FAILED);
	expect_rejected(f, S_ACK, S_ACK | FAILED | 0x10);
	expect_rejected(f, S_DRV, S_FEAT | FAILED);
}

static void test_reset_calls_device_first_then_clears_everything(void **state)
{
	struct fake *f = *state;

	to_status(f, S_FEAT);
	setup_queue(f, 0);
	write_features(f, 0); /* ignored after FEATURES_OK */
	wr(f, VIRTIO_MMIO_STATUS, S_OK);
	f->t.interrupt_status = 1;
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(f->resets, 1);
	assert_int_equal(f->status_at_reset, S_OK);
	assert_true(f->ready_at_reset);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(f->t.device_features_sel, 0);
	assert_int_equal(f->t.driver_features_sel, 0);
	assert_int_equal(f->t.queue_sel, 0);
	assert_int_equal(f->t.driver_features, 0);
	assert_false(f->t.vqs[0].ready);
	assert_int_equal(f->t.vqs[0].size, 256);
	assert_int_equal(f->t.vqs[0].desc_gpa, 0);
	/* A fresh handshake works again. */
	to_status(f, S_OK);
}

static void test_interrupt_ack_clears_only_written_bits(void **state)
{
	struct fake *f = *state;

	f->t.interrupt_status = VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG;
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 3);
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
}

static void test_signal_sets_vring_bit_and_raises_irq(void **state)
{
	struct fake *f = *state;
	uint16_t flags = VRING_AVAIL_F_NO_INTERRUPT;

	to_status(f, S_FEAT);
	setup_queue(f, 0);
	virtio_mmio_lock(&f->t);
	assert_true(virtio_mmio_signal(&f->t, 0));
	virtio_mmio_unlock(&f->t);
	assert_int_equal(f->irqs, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, 1);
	memcpy(f->ram + 0x2000, &flags, 2);
	virtio_mmio_lock(&f->t);
	assert_false(virtio_mmio_signal(&f->t, 0));
	assert_false(virtio_mmio_signal(&f->t, 7)); /* no such queue */
	virtio_mmio_unlock(&f->t);
	assert_int_equal(f->irqs, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

static void test_queue_notify_names_a_queue(void **state)
{
	struct fake *f = *state;

	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 2);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0xffff);
	assert_int_equal(f->notifies[1], 2);
	assert_int_equal(f->bad_notifies, 0);
	assert_int_equal(f->t.vqs[1].notifies, 2);
}

static void test_strict_mode_allows_status_rewrite(void **state)
{
	struct fake *f = *state;

	f->t.strict = true;
	to_status(f, S_ACK);
	warns = 0;
	wr(f, VIRTIO_MMIO_STATUS, S_ACK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), S_ACK);
	assert_int_equal(warns, 0);
	assert_int_equal(f->t.status_rejects, 0);
}

static void test_strict_mode_refuses_features_not_offered(void **state)
{
	struct fake *f = *state;

	f->t.strict = true;
	to_status(f, S_DRV);
	write_features(f, (1ull << VIRTIO_F_VERSION_1) | (1ull << 40));
	wr(f, VIRTIO_MMIO_STATUS, S_FEAT);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), S_DRV);
	write_features(f, 0x1); /* no VERSION_1 */
	wr(f, VIRTIO_MMIO_STATUS, S_FEAT);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), S_DRV);
	write_features(f, (1ull << VIRTIO_F_VERSION_1) | 1);
	wr(f, VIRTIO_MMIO_STATUS, S_FEAT);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), S_FEAT);
}

static void test_default_mode_accepts_unoffered_features(void **state)
{
	struct fake *f = *state;

	to_status(f, S_DRV);
	write_features(f, 1ull << 40);
	wr(f, VIRTIO_MMIO_STATUS, S_FEAT);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), S_FEAT);
}

static void test_status_string_names_bits(void **state)
{
	char b[80];

	assert_string_equal(virtio_status_str(S_OK, b, sizeof(b)),
			    "ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK");
	assert_string_equal(virtio_status_str(0x81 | 0x10, b, sizeof(b)), "ACKNOWLEDGE|FAILED|0x10");
	assert_string_equal(virtio_status_str(0, b, sizeof(b)), "0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_identity_registers_come_from_ops),
		T(test_init_rejects_bad_ops),
		T(test_register_reads_of_other_widths_are_all_ones),
		T(test_config_reads_any_width_and_past_end_is_all_ones),
		T(test_config_write_is_ignored_with_a_warning),
		T(test_device_features_pages),
		T(test_driver_features_only_between_driver_and_features_ok),
		T(test_queue_num_max_and_ready_by_queue_sel),
		T(test_queue_registers_only_in_the_setup_window),
		T(test_queue_address_high_halves_combine),
		T(test_queue_num_must_be_power_of_two_up_to_max),
		T(test_queue_sel_out_of_range_ignores_queue_writes),
		T(test_unknown_and_write_only_registers_read_zero),
		T(test_unknown_register_write_is_ignored),
		T(test_narrow_writes_are_ignored),
		T(test_status_accepts_the_linux_sequence),
		T(test_status_skipping_a_step_is_rejected),
		T(test_status_clearing_a_bit_is_rejected),
		T(test_status_same_value_rewrite_is_rejected),
		T(test_status_two_bits_at_once_are_rejected),
		T(test_status_reserved_bits_are_rejected),
		T(test_status_failed_alone_is_accepted_in_every_state),
		T(test_status_failed_with_another_new_bit_is_rejected),
		T(test_reset_calls_device_first_then_clears_everything),
		T(test_interrupt_ack_clears_only_written_bits),
		T(test_signal_sets_vring_bit_and_raises_irq),
		T(test_queue_notify_names_a_queue),
		T(test_strict_mode_allows_status_rewrite),
		T(test_strict_mode_refuses_features_not_offered),
		T(test_default_mode_accepts_unoffered_features),
		T(test_status_string_names_bits),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
