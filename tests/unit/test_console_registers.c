/* The console's identity, features, config space and register widths as a driver sees them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vq_harness.h"


static void test_identity_is_virtio_mmio_v2_console(void **state)
{
	struct vqh *h = *state;

	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_DEVICE_ID), 3);
	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_VENDOR_ID), 0);
	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_CONFIG_GENERATION), 0);
	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_STATUS), 0);
}

static void test_features_are_exactly_version1_and_multiport(void **state)
{
	struct vqh *h = *state;
	uint64_t f;

	vqh_wr32(h, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f = vqh_rd32(h, VIRTIO_MMIO_DEVICE_FEATURES);
	vqh_wr32(h, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f |= (uint64_t)vqh_rd32(h, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	assert_int_equal(f, (1ull << 32) | (1ull << 1));
	/* In particular none of these: */
	assert_false(f & (1ull << VIRTIO_CONSOLE_F_SIZE));
	assert_false(f & (1ull << VIRTIO_CONSOLE_F_EMERG_WRITE));
	assert_false(f & (1ull << VIRTIO_F_EVENT_IDX));
	assert_false(f & (1ull << VIRTIO_F_INDIRECT_DESC));
	vqh_wr32(h, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_DEVICE_FEATURES), 0);
}

static void test_config_max_nr_ports_is_3_at_offset_4(void **state)
{
	struct vqh *h = *state;
	uint8_t b[2];

	assert_int_equal(vqh_rd32(h, 0x104), 3);
	vqh_read(h, 0x104, b, 1);
	assert_int_equal(b[0], 3);
	vqh_read(h, 0x104, b, 2);
	assert_int_equal(b[0] | b[1] << 8, 3);
}

static void test_config_cols_rows_and_emerg_wr_are_zero(void **state)
{
	struct vqh *h = *state;
	uint8_t b[2];

	assert_int_equal(vqh_rd32(h, 0x100), 0);
	vqh_read(h, 0x100, b, 1);
	assert_int_equal(b[0], 0);
	vqh_read(h, 0x102, b, 2);
	assert_int_equal(b[0] | b[1], 0);
	assert_int_equal(vqh_rd32(h, 0x108), 0);
}

static void test_config_read_past_byte_12_is_all_ones(void **state)
{
	struct vqh *h = *state;
	uint8_t b[8];

	vqh_read(h, 0x109, b, 4);
	assert_memory_equal(b, "\xff\xff\xff\xff", 4);
	vqh_read(h, 0x10a, b, 4);
	assert_memory_equal(b, "\xff\xff\xff\xff", 4);
	vqh_read(h, 0x108, b, 8);
	assert_memory_equal(b, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	vqh_read(h, 0x100, b, 8); /* cols, rows, max_nr_ports */
	assert_memory_equal(b, "\0\0\0\0\3\0\0\0", 8);
	vqh_read(h, 0x10b, b, 1);
	assert_int_equal(b[0], 0);
}

static void test_config_write_is_ignored(void **state)
{
	struct vqh *h = *state;
	uint8_t one = 99;

	vqh_wr32(h, 0x104, 99);
	vqh_write(h, 0x104, &one, 1);
	assert_int_equal(vqh_rd32(h, 0x104), 3);
	assert_true(vqh_log_contains(h, "config space"));
}

static void test_queue_num_max_is_256_for_eight_queues(void **state)
{
	struct vqh *h = *state;

	for (uint32_t q = 0; q < 8; q++) {
		vqh_wr32(h, VIRTIO_MMIO_QUEUE_SEL, q);
		assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
		assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_QUEUE_READY), 0);
	}
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_SEL, 8);
	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_SEL, 99);
	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_QUEUE_READY), 0);
}

static void test_non_4_byte_register_reads_are_all_ones(void **state)
{
	struct vqh *h = *state;
	uint8_t b[8];
	static const unsigned widths[] = { 1, 2, 3, 8 };

	for (unsigned i = 0; i < 4; i++) {
		memset(b, 0, sizeof(b));
		vqh_read(h, VIRTIO_MMIO_VERSION, b, widths[i]);
		for (unsigned j = 0; j < widths[i]; j++)
			assert_int_equal(b[j], 0xff);
	}
	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_VERSION), 2);
}

static void test_unknown_offset_reads_zero(void **state)
{
	struct vqh *h = *state;

	assert_int_equal(vqh_rd32(h, 0x300), 0);
	assert_int_equal(vqh_rd32(h, 0x10c), 0);
	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_QUEUE_NOTIFY), 0);
}

static void test_queue_setup_after_driver_ok_is_ignored(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_SEL, 8);
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_SEL, 1);
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_NUM, 64);
	assert_int_equal(h->con->mmio.vqs[1].size, 16);
	for (unsigned q = 0; q < 8; q++) {
		vqh_wr32(h, VIRTIO_MMIO_QUEUE_SEL, q);
		assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_QUEUE_READY), 1);
	}
}

static void test_host_api_rejects_bad_port_and_queue(void **state)
{
	struct vqh *h = *state;
	uint8_t b[4];

	assert_int_equal(console_port_send(h->con, 3, "x", 1), -EINVAL);
	assert_int_equal(console_port_drain(h->con, 3, b, sizeof(b)), -EINVAL);
	assert_int_equal(console_notify(h->con, 8), -EINVAL);
	for (unsigned p = 0; p < 3; p++)
		assert_int_equal(console_port_drain(h->con, p, b, sizeof(b)), 0);
}

static void test_snapshot_names_ports_and_state(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	console_snapshot(h->con, &s);
	assert_string_equal(s.port[0].name, "ktstr-console");
	assert_string_equal(s.port[1].name, "ktstr-bulk");
	assert_string_equal(s.port[2].name, "ktstr-stats");
	assert_int_equal(s.status, 0xf);
	assert_true(s.multiport);
	assert_int_equal(s.device_features, VQH_FEATURES_ALL);
	assert_int_equal(s.vq[5].size, 16);
	assert_true(s.vq[5].ready);
	assert_int_equal(s.vq[5].desc_gpa, VQH_RING_BASE + 5 * VQH_RING_STRIDE);
}

static void test_queue_mapping_for_ports(void **state)
{
	assert_int_equal(console_rx_queue(0), 0);
	assert_int_equal(console_tx_queue(0), 1);
	assert_int_equal(console_rx_queue(1), 4);
	assert_int_equal(console_tx_queue(1), 5);
	assert_int_equal(console_rx_queue(2), 6);
	assert_int_equal(console_tx_queue(2), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, vqh_setup, vqh_teardown)
		T(test_identity_is_virtio_mmio_v2_console),
		T(test_features_are_exactly_version1_and_multiport),
		T(test_config_max_nr_ports_is_3_at_offset_4),
		T(test_config_cols_rows_and_emerg_wr_are_zero),
		T(test_config_read_past_byte_12_is_all_ones),
		T(test_config_write_is_ignored),
		T(test_queue_num_max_is_256_for_eight_queues),
		T(test_non_4_byte_register_reads_are_all_ones),
		T(test_unknown_offset_reads_zero),
		T(test_queue_setup_after_driver_ok_is_ignored),
		T(test_host_api_rejects_bad_port_and_queue),
		T(test_snapshot_names_ports_and_state),
		T(test_queue_mapping_for_ports),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
