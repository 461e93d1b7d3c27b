/*
 * Hostile guests: every guest-controlled number is untrusted. Each case must
 * end with the device alive, the work bounded, and the problem reported.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vq_harness.h"

#define KiB 1024u


/* The device still works: registers answer and an untouched port still carries data. */
static void assert_alive(struct vqh *h, unsigned good_port)
{
	char out[8];

	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	vqh_guest_write(h, good_port, "ok", 2);
	assert_int_equal(vqh_drain(h, good_port, out, sizeof(out)), 2);
	assert_memory_equal(out, "ok", 2);
}

static const char *broken_reason(struct vqh *h, unsigned q, struct console_snapshot *s)
{
	console_snapshot(h->con, s);
	return s->vq[q].broken ? s->vq[q].broken_reason : NULL;
}

static void test_descriptor_loop_stops_the_queue_and_is_reported(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;
	unsigned warns;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_set_desc(h, 5, 0, VQH_DATA_BASE, 8, VRING_DESC_F_NEXT, 1);
	vqh_set_desc(h, 5, 1, VQH_DATA_BASE, 8, VRING_DESC_F_NEXT, 0);
	vqh_publish(h, 5, 0);
	vqh_notify(h, 5);
	assert_non_null(strstr(broken_reason(h, 5, &s), "loop"));
	assert_int_equal(vqh_count_events(h, CONSOLE_EV_VQ_BROKEN), 1);
	assert_int_equal(h->events[h->nr_events - 1].queue, 5);
	assert_int_equal(s.port[1].host_tx, 0);
	assert_int_equal(vqh_used_idx(h, 5), 0);
	warns = h->log_warns;
	vqh_notify(h, 5); /* fails fast, logs nothing new */
	assert_int_equal(h->log_warns, warns);
	assert_alive(h, 2);
}

static void test_next_out_of_range_on_rx_is_reported(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_set_desc(h, 0, 0, VQH_DATA_BASE, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0xffff);
	vqh_publish(h, 0, 0);
	console_port_send(h->con, 0, "kept", 4);
	assert_non_null(strstr(broken_reason(h, 0, &s), "next 65535"));
	assert_int_equal(s.port[0].pending_rx, 4);
	assert_alive(h, 1);
}

static void test_huge_tx_length_is_capped_not_allocated(void **state)
{
	struct vqh *h = *state;
	struct vqh_buf b[2] = { { .addr = VQH_DATA_BASE, .len = 0xffffffffu },
				{ .addr = VQH_MEM_SIZE - 16, .len = 0xffffffffu } };
	struct console_snapshot s;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_add_chain(h, 1, b, 2);
	vqh_notify(h, 1);
	console_snapshot(h->con, &s);
	/* First descriptor: 32 KiB read. Second: 32 KiB would run past RAM, dropped. */
	assert_int_equal(s.port[0].host_tx, 32 * KiB);
	assert_int_equal(vqh_used_idx(h, 1), 1);
	assert_false(s.vq[1].broken);
	assert_true(vqh_log_contains(h, "outside guest RAM"));
}

static void test_huge_rx_length_writes_only_what_is_pending(void **state)
{
	struct vqh *h = *state;
	struct vqh_buf b = { .addr = VQH_DATA_BASE, .len = 0xffffffffu, .write = true };
	uint32_t id, len;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	memset(vqh_host(h, VQH_DATA_BASE), 0x55, 16);
	vqh_add_chain(h, 0, &b, 1);
	console_port_send(h->con, 0, "abc", 3);
	vqh_used_elem(h, 0, 0, &id, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(vqh_host(h, VQH_DATA_BASE), "abc\x55", 4);
}

static void test_rx_buffer_past_ram_is_torn_not_fatal(void **state)
{
	struct vqh *h = *state;
	struct vqh_buf b = { .addr = 0xfffffffffffff000ull, .len = 4096, .write = true };
	struct console_snapshot s;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_add_chain(h, 0, &b, 1);
	console_port_send(h->con, 0, "xyz", 3);
	console_snapshot(h->con, &s);
	assert_int_equal(s.port[0].rx_torn, 1);
	assert_int_equal(s.port[0].pending_rx, 3);
	assert_false(s.vq[0].broken);
	assert_alive(h, 0);
}

static void test_control_message_past_ram_is_ignored(void **state)
{
	struct vqh *h = *state;
	struct vqh_buf b = { .addr = VQH_UNMAPPED, .len = 8 };

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_add_chain(h, CONSOLE_Q_CTRL_TX, &b, 1);
	vqh_notify(h, CONSOLE_Q_CTRL_TX);
	assert_int_equal(vqh_used_idx(h, CONSOLE_Q_CTRL_TX), 1);
	assert_false(h->con->device_ready);
	assert_true(vqh_log_contains(h, "0 readable bytes"));
}

static void test_avail_idx_far_ahead_is_a_broken_driver(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_set_avail_idx(h, CONSOLE_Q_CTRL_TX, 1000);
	vqh_notify(h, CONSOLE_Q_CTRL_TX);
	assert_non_null(strstr(broken_reason(h, CONSOLE_Q_CTRL_TX, &s), "ahead"));
	assert_int_equal(s.vq[CONSOLE_Q_CTRL_TX].last_avail_idx, 0);
	assert_false(s.device_ready);
	assert_alive(h, 0);
}

static void test_avail_idx_going_backwards_is_a_broken_driver(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_guest_write(h, 2, "a", 1);
	vqh_set_avail_idx(h, 7, 0); /* one less than the device already took */
	vqh_notify(h, 7);
	assert_non_null(broken_reason(h, 7, &s));
	assert_alive(h, 1);
}

static void test_queue_addresses_outside_ram_are_reported_at_ready(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;

	vqh_to_features_ok(h, VQH_FEATURES_ALL);
	for (unsigned q = 0; q < 8; q++)
		vqh_setup_queue(h, q, 16);
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_SEL, 7);
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_READY, 0);
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0xfffff000u);
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_READY, 1);
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0xf);
	assert_non_null(strstr(broken_reason(h, 7, &s), "outside guest RAM"));
	vqh_notify(h, 7);
	assert_int_equal(console_notify(h->con, 7), 0);
	assert_int_equal(s.port[2].host_tx, 0);
	assert_alive(h, 0);
}

static void test_flood_of_empty_tx_chains_is_bounded_and_silent(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;

	vqh_init_device(h, VQH_FEATURES_ALL, 256);
	for (int i = 0; i < 256; i++) {
		struct vqh_buf b = { .len = 0 };

		vqh_add_chain(h, 5, &b, 1);
	}
	vqh_notify(h, 5);
	console_snapshot(h->con, &s);
	assert_int_equal(vqh_used_idx(h, 5), 256);
	assert_int_equal(s.vq[5].popped, 256);
	assert_int_equal(h->irqs, 0);
	assert_int_equal(h->wakes[0], 0);
}

static void test_longest_legal_chain_is_bounded_by_queue_size(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;
	uint64_t buf;

	vqh_init_device(h, VQH_FEATURES_ALL, 256);
	buf = vqh_alloc(h, 32 * KiB);
	for (uint16_t i = 0; i < 256; i++)
		vqh_set_desc(h, 7, i, buf, 0xffffffffu, i < 255 ? VRING_DESC_F_NEXT : 0, i + 1);
	vqh_publish(h, 7, 0);
	vqh_notify(h, 7);
	console_snapshot(h->con, &s);
	assert_int_equal(s.port[2].host_tx, 256ull * 32 * KiB); /* 8 MiB: the most one chain can carry */
	assert_false(s.vq[7].broken);
}

static void test_indirect_descriptor_is_refused(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_set_desc(h, 1, 0, VQH_DATA_BASE, 16, VRING_DESC_F_INDIRECT, 0);
	vqh_publish(h, 1, 0);
	vqh_notify(h, 1);
	assert_non_null(strstr(broken_reason(h, 1, &s), "indirect"));
	assert_alive(h, 2);
}

static void test_broken_queue_recovers_after_reset(void **state)
{
	struct vqh *h = *state;
	char out[8];

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_set_avail_idx(h, 1, 500);
	vqh_notify(h, 1);
	assert_true(h->con->mmio.vqs[1].broken);
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0);
	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	assert_false(h->con->mmio.vqs[1].broken);
	vqh_guest_write(h, 0, "back", 4);
	assert_int_equal(vqh_drain(h, 0, out, sizeof(out)), 4);
}

static void test_hostile_status_and_notify_values(void **state)
{
	struct vqh *h = *state;
	static const uint32_t junk[] = { 0xffffffff, 0x80000000, 0x7f, 0x100, 0x20 };

	for (unsigned i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		vqh_wr32(h, VIRTIO_MMIO_STATUS, junk[i]);
		vqh_wr32(h, VIRTIO_MMIO_QUEUE_NOTIFY, junk[i]);
		vqh_wr32(h, VIRTIO_MMIO_QUEUE_SEL, junk[i]);
		vqh_wr32(h, VIRTIO_MMIO_QUEUE_NUM, junk[i]);
	}
	assert_int_equal(vqh_status(h), 0);
	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	assert_int_equal(vqh_status(h), 0xf);
}

static void test_tiny_queue_sizes_work(void **state)
{
	struct vqh *h = *state;
	char out[8];
	uint64_t buf;

	vqh_init_device(h, VQH_FEATURES_ALL, 1);
	for (int i = 0; i < 3; i++) {
		vqh_guest_write(h, 0, "1", 1);
		buf = vqh_post_rx(h, 0, 4);
		console_port_send(h->con, 0, "r", 1);
		assert_int_equal(*(char *)vqh_host(h, buf), 'r');
	}
	assert_int_equal(vqh_drain(h, 0, out, sizeof(out)), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, vqh_setup, vqh_teardown)
		T(test_descriptor_loop_stops_the_queue_and_is_reported),
		T(test_next_out_of_range_on_rx_is_reported),
		T(test_huge_tx_length_is_capped_not_allocated),
		T(test_huge_rx_length_writes_only_what_is_pending),
		T(test_rx_buffer_past_ram_is_torn_not_fatal),
		T(test_control_message_past_ram_is_ignored),
		T(test_avail_idx_far_ahead_is_a_broken_driver),
		T(test_avail_idx_going_backwards_is_a_broken_driver),
		T(test_queue_addresses_outside_ram_are_reported_at_ready),
		T(test_flood_of_empty_tx_chains_is_bounded_and_silent),
		T(test_longest_legal_chain_is_bounded_by_queue_size),
		T(test_indirect_descriptor_is_refused),
		T(test_broken_queue_recovers_after_reset),
		T(test_hostile_status_and_notify_values),
		T(test_tiny_queue_sizes_work),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
