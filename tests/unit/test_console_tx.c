/* Guest -> host transmit: routing, caps, gates, interrupts, host wake-ups, backpressure. */
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


/* A one-descriptor chain of LEN bytes of FILL on PORT's tx queue (no notify). */
static uint16_t post_tx(struct vqh *h, unsigned port, uint32_t len, uint8_t fill)
{
	struct vqh_buf b = { .len = len };
	uint16_t head;

	head = vqh_add_chain(h, console_tx_queue(port), &b, 1);
	memset(vqh_host(h, b.addr), fill, len);
	return head;
}

static size_t host_len(struct vqh *h, unsigned port)
{
	struct console_snapshot s;

	console_snapshot(h->con, &s);
	return s.port[port].host_tx;
}

static void test_port0_tx_lands_in_port0_buffer(void **state)
{
	struct vqh *h = *state;
	char out[64];
	uint32_t id, len;
	uint16_t head;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	head = vqh_guest_write(h, 0, "hello, hvc0", 11);
	assert_int_equal(vqh_used_idx(h, 1), 1);
	vqh_used_elem(h, 1, 0, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 0); /* tx chains are returned with length 0 */
	assert_int_equal(h->irqs, 1);
	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	assert_int_equal(h->wakes[0], 1);
	assert_int_equal(h->wakes[1], 0);
	assert_int_equal(vqh_drain(h, 0, out, sizeof(out)), 11);
	assert_memory_equal(out, "hello, hvc0", 11);
	assert_int_equal(vqh_drain(h, 0, out, sizeof(out)), 0);
}

static void test_each_port_routes_to_its_own_buffer(void **state)
{
	struct vqh *h = *state;
	char out[16];

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_guest_write(h, 1, "bulk", 4);
	vqh_guest_write(h, 2, "stats", 5);
	vqh_guest_write(h, 0, "cons", 4);
	assert_int_equal(vqh_drain(h, 0, out, sizeof(out)), 4);
	assert_memory_equal(out, "cons", 4);
	assert_int_equal(vqh_drain(h, 1, out, sizeof(out)), 4);
	assert_memory_equal(out, "bulk", 4);
	assert_int_equal(vqh_drain(h, 2, out, sizeof(out)), 5);
	assert_memory_equal(out, "stats", 5);
	assert_int_equal(vqh_used_idx(h, 5), 1);
	assert_int_equal(vqh_used_idx(h, 7), 1);
	assert_int_equal(h->irqs, 3);
}

static void test_port1_wakes_console_group_port2_wakes_stats_group(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_guest_write(h, 1, "x", 1);
	assert_int_equal(h->wakes[CONSOLE_WAKE_GROUP_CONSOLE], 1);
	assert_int_equal(h->wakes[CONSOLE_WAKE_GROUP_STATS], 0);
	vqh_guest_write(h, 2, "y", 1);
	assert_int_equal(h->wakes[CONSOLE_WAKE_GROUP_CONSOLE], 1);
	assert_int_equal(h->wakes[CONSOLE_WAKE_GROUP_STATS], 1);
}

static void test_multi_descriptor_chain_concatenates_in_order(void **state)
{
	struct vqh *h = *state;
	struct vqh_buf b[4];
	uint8_t data[4][4096], *out = malloc(16384);

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	for (int i = 0; i < 4; i++) {
		memset(data[i], 'A' + i, sizeof(data[i]));
		b[i] = (struct vqh_buf){ .len = 4096, .data = data[i] };
	}
	vqh_add_chain(h, 5, b, 4);
	vqh_notify(h, 5);
	assert_int_equal(vqh_used_idx(h, 5), 1);
	assert_int_equal(vqh_drain(h, 1, out, 16384), 16384);
	for (int i = 0; i < 4; i++)
		assert_memory_equal(out + 4096 * i, data[i], 4096);
	free(out);
}

static void test_descriptor_over_32k_yields_only_32k(void **state)
{
	struct vqh *h = *state;
	uint8_t *out = malloc(64 * KiB);
	struct console_snapshot s;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	for (unsigned port = 1; port <= 2; port++) {
		struct vqh_buf b = { .len = 64 * KiB };

		vqh_add_chain(h, console_tx_queue(port), &b, 1);
		for (uint32_t i = 0; i < 64 * KiB; i++)
			((uint8_t *)vqh_host(h, b.addr))[i] = (uint8_t)(i / 1024);
		vqh_notify(h, console_tx_queue(port));
		assert_int_equal(vqh_drain(h, port, out, 64 * KiB), 32 * KiB);
		assert_memory_equal(out, vqh_host(h, b.addr), 32 * KiB);
	}
	console_snapshot(h->con, &s);
	assert_int_equal(s.port[1].tx_dropped, 32 * KiB);
	free(out);
}

static void test_nine_32k_chains_drain_as_eight_then_one(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	for (int i = 0; i < 9; i++)
		post_tx(h, 1, 32 * KiB, (uint8_t)i);
	vqh_notify(h, 5);
	assert_int_equal(vqh_used_idx(h, 5), 8);
	assert_int_equal(host_len(h, 1), 256 * KiB);
	assert_int_equal(h->irqs, 1);
	vqh_notify(h, 5);
	assert_int_equal(vqh_used_idx(h, 5), 9);
	assert_int_equal(host_len(h, 1), 288 * KiB);
}

static void test_per_call_cap_is_checked_after_each_chain(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	/* 100 KiB chains: 100, 200, 300 -> the third brings the call past 256 KiB and is kept. */
	for (int i = 0; i < 4; i++) {
		struct vqh_buf b[4] = { { .len = 32 * KiB }, { .len = 32 * KiB }, { .len = 32 * KiB },
					{ .len = 4 * KiB } };

		vqh_add_chain(h, 1, b, 4);
	}
	vqh_notify(h, 1);
	assert_int_equal(vqh_used_idx(h, 1), 3);
	assert_int_equal(host_len(h, 0), 300 * KiB);
}

static void test_tx_needs_driver_ok(void **state)
{
	struct vqh *h = *state;

	vqh_to_features_ok(h, VQH_FEATURES_ALL);
	for (unsigned q = 0; q < 8; q++)
		vqh_setup_queue(h, q, 16);
	vqh_guest_write(h, 0, "early", 5);
	vqh_guest_write(h, 1, "early", 5);
	assert_int_equal(vqh_used_idx(h, 1), 0);
	assert_int_equal(vqh_used_idx(h, 5), 0);
	assert_int_equal(host_len(h, 0), 0);
	assert_int_equal(h->irqs, 0);
	assert_int_equal(h->wakes[0], 0);
	/* The chains are still there once the driver is ready. */
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0xf);
	vqh_notify(h, 1);
	assert_int_equal(vqh_used_idx(h, 1), 1);
	assert_int_equal(host_len(h, 0), 5);
}

static void test_ports_1_and_2_tx_need_multiport(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_NO_MULTIPORT, 16);
	vqh_guest_write(h, 1, "bulk", 4);
	vqh_guest_write(h, 2, "stats", 5);
	assert_int_equal(vqh_used_idx(h, 5), 0);
	assert_int_equal(vqh_used_idx(h, 7), 0);
	assert_int_equal(host_len(h, 1) + host_len(h, 2), 0);
	/* Port 0 does not need it. */
	vqh_guest_write(h, 0, "cons", 4);
	assert_int_equal(host_len(h, 0), 4);
}

static void test_zero_length_chain_is_used_without_interrupt_or_wake(void **state)
{
	struct vqh *h = *state;
	struct vqh_buf b = { .len = 0 };

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_add_chain(h, 5, &b, 1);
	vqh_notify(h, 5);
	assert_int_equal(vqh_used_idx(h, 5), 1);
	assert_int_equal(h->irqs, 0);
	assert_int_equal(h->wakes[0], 0);
}

static void test_empty_notify_wakes_nobody(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_notify(h, 1);
	vqh_notify(h, 5);
	vqh_notify(h, 7);
	assert_int_equal(h->irqs, 0);
	assert_int_equal(h->wakes[0] + h->wakes[1], 0);
}

static void test_device_writable_descriptors_are_not_transmitted(void **state)
{
	struct vqh *h = *state;
	struct vqh_buf b[2] = { { .len = 3, .data = "abc" }, { .len = 3, .data = "xyz", .write = true } };
	char out[8];

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_add_chain(h, 7, b, 2);
	vqh_notify(h, 7);
	assert_int_equal(vqh_drain(h, 2, out, sizeof(out)), 3);
	assert_memory_equal(out, "abc", 3);
}

static void test_descriptor_outside_ram_is_dropped_rest_kept(void **state)
{
	struct vqh *h = *state;
	struct vqh_buf b[3] = { { .len = 2, .data = "ab" },
				{ .addr = VQH_UNMAPPED, .len = 100 },
				{ .len = 2, .data = "cd" } };
	char out[8];
	struct console_snapshot s;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_add_chain(h, 1, b, 3);
	vqh_notify(h, 1);
	assert_int_equal(vqh_used_idx(h, 1), 1);
	assert_int_equal(vqh_drain(h, 0, out, sizeof(out)), 4);
	assert_memory_equal(out, "abcd", 4);
	assert_true(vqh_log_contains(h, "outside guest RAM"));
	console_snapshot(h->con, &s);
	assert_int_equal(s.port[0].tx_dropped, 100);
	assert_false(s.vq[1].broken);
}

static void test_no_interrupt_flag_suppresses_the_irq_not_the_wake(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_set_avail_flags(h, 1, VRING_AVAIL_F_NO_INTERRUPT);
	vqh_guest_write(h, 0, "quiet", 5);
	assert_int_equal(vqh_used_idx(h, 1), 1);
	assert_int_equal(h->irqs, 0);
	assert_int_equal(h->wakes[0], 1);
}

static void test_console_notify_processes_tx_without_a_kick(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	post_tx(h, 1, 10, 'z');
	assert_int_equal(console_notify(h->con, 5), 0);
	assert_int_equal(host_len(h, 1), 10);
	console_snapshot(h->con, &s);
	assert_int_equal(s.vq[5].notifies, 0); /* not a guest notify */
	assert_int_equal(s.port[1].tx_chains, 1);
}

/* Fill PORT's host buffer to the high-water mark with 32 KiB chains. */
static void fill_to_high_water(struct vqh *h, unsigned port)
{
	unsigned q = console_tx_queue(port);

	for (unsigned i = 0; i < CONSOLE_TX_HIGH_WATER / (32 * KiB); i++) {
		post_tx(h, port, 32 * KiB, 'h');
		if (i % 8 == 7)
			vqh_notify(h, q);
	}
	assert_int_equal(host_len(h, port), CONSOLE_TX_HIGH_WATER);
}

static void test_full_host_buffer_leaves_chains_in_the_ring(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;
	uint16_t used;

	vqh_init_device(h, VQH_FEATURES_ALL, 256);
	fill_to_high_water(h, 1);
	used = vqh_used_idx(h, 5);
	post_tx(h, 1, 100, 'x');
	vqh_notify(h, 5);
	assert_int_equal(vqh_used_idx(h, 5), used);
	assert_int_equal(host_len(h, 1), CONSOLE_TX_HIGH_WATER);
	console_snapshot(h->con, &s);
	assert_true(s.port[1].tx_throttled);
	assert_int_equal(s.vq[5].pending, 1);
	assert_int_equal(s.port[1].throttle_events, 1);
	/* Another notify changes nothing and counts no new throttle event. */
	vqh_notify(h, 5);
	console_snapshot(h->con, &s);
	assert_int_equal(s.port[1].throttle_events, 1);
}

static void test_draining_below_high_water_resumes_tx(void **state)
{
	struct vqh *h = *state;
	uint8_t *sink = malloc(CONSOLE_TX_HIGH_WATER);
	unsigned irqs, wakes;
	uint16_t used;

	vqh_init_device(h, VQH_FEATURES_ALL, 256);
	fill_to_high_water(h, 1);
	used = vqh_used_idx(h, 5);
	post_tx(h, 1, 100, 'x');
	vqh_notify(h, 5);
	irqs = h->irqs;
	wakes = h->wakes[0];
	assert_int_equal(vqh_drain(h, 1, sink, 64 * KiB), 64 * KiB);
	assert_int_equal(vqh_used_idx(h, 5), (uint16_t)(used + 1));
	assert_int_equal(host_len(h, 1), CONSOLE_TX_HIGH_WATER - 64 * KiB + 100);
	assert_int_equal(h->irqs, irqs + 1);
	assert_int_equal(h->wakes[0], wakes + 1);
	/* Nothing was lost: everything drains in order, ending with the late chain. */
	assert_int_equal(vqh_drain(h, 1, sink, CONSOLE_TX_HIGH_WATER),
			 CONSOLE_TX_HIGH_WATER - 64 * KiB + 100);
	assert_int_equal(sink[CONSOLE_TX_HIGH_WATER - 64 * KiB + 99], 'x');
	free(sink);
}

static void test_high_water_is_per_port(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_ALL, 256);
	fill_to_high_water(h, 0);
	vqh_guest_write(h, 2, "still flowing", 13);
	assert_int_equal(host_len(h, 2), 13);
	vqh_guest_write(h, 1, "also", 4);
	assert_int_equal(host_len(h, 1), 4);
}

static void test_tx_counters_and_irq_per_notify(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	for (int i = 0; i < 3; i++)
		vqh_guest_write(h, 2, "abcd", 4);
	console_snapshot(h->con, &s);
	assert_int_equal(s.port[2].tx_bytes, 12);
	assert_int_equal(s.port[2].tx_chains, 3);
	assert_int_equal(s.vq[7].notifies, 3);
	assert_int_equal(s.vq[7].interrupts, 3);
	assert_int_equal(h->irqs, 3);
	assert_int_equal(s.port[2].host_wakes, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, vqh_setup, vqh_teardown)
		T(test_port0_tx_lands_in_port0_buffer),
		T(test_each_port_routes_to_its_own_buffer),
		T(test_port1_wakes_console_group_port2_wakes_stats_group),
		T(test_multi_descriptor_chain_concatenates_in_order),
		T(test_descriptor_over_32k_yields_only_32k),
		T(test_nine_32k_chains_drain_as_eight_then_one),
		T(test_per_call_cap_is_checked_after_each_chain),
		T(test_tx_needs_driver_ok),
		T(test_ports_1_and_2_tx_need_multiport),
		T(test_zero_length_chain_is_used_without_interrupt_or_wake),
		T(test_empty_notify_wakes_nobody),
		T(test_device_writable_descriptors_are_not_transmitted),
		T(test_descriptor_outside_ram_is_dropped_rest_kept),
		T(test_no_interrupt_flag_suppresses_the_irq_not_the_wake),
		T(test_console_notify_processes_tx_without_a_kick),
		T(test_full_host_buffer_leaves_chains_in_the_ring),
		T(test_draining_below_high_water_resumes_tx),
		T(test_high_water_is_per_port),
		T(test_tx_counters_and_irq_per_notify),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
