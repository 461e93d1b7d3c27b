/* Host -> guest receive: gates, delivery, torn writes, the 64-chain cap, wake bytes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vq_harness.h"


static size_t pending(struct vqh *h, unsigned port)
{
	struct console_snapshot s;

	console_snapshot(h->con, &s);
	return s.port[port].pending_rx;
}

static void test_port0_rx_delivers_into_posted_buffer(void **state)
{
	struct vqh *h = *state;
	uint32_t id, len;
	uint64_t buf;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	buf = vqh_post_rx(h, 0, 64);
	assert_int_equal(console_port_send(h->con, 0, "hello", 5), 0);
	assert_int_equal(vqh_used_idx(h, 0), 1);
	vqh_used_elem(h, 0, 0, &id, &len);
	assert_int_equal(id, 0);
	assert_int_equal(len, 5);
	assert_memory_equal(vqh_host(h, buf), "hello", 5);
	assert_int_equal(pending(h, 0), 0);
	assert_int_equal(h->irqs, 1);
}

static void test_rx_waits_for_driver_ok_then_port0_flows(void **state)
{
	struct vqh *h = *state;
	uint64_t buf;

	vqh_to_features_ok(h, VQH_FEATURES_ALL);
	for (unsigned q = 0; q < 8; q++)
		vqh_setup_queue(h, q, 16);
	buf = vqh_post_rx(h, 0, 64);
	assert_int_equal(console_port_send(h->con, 0, "early", 5), 0);
	assert_int_equal(vqh_used_idx(h, 0), 0);
	assert_int_equal(pending(h, 0), 5);
	/* DRIVER_OK itself delivers port 0's pending input. */
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0xf);
	assert_int_equal(vqh_used_idx(h, 0), 1);
	assert_memory_equal(vqh_host(h, buf), "early", 5);
	assert_int_equal(pending(h, 0), 0);
}

static void test_port1_rx_waits_for_multiport(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_NO_MULTIPORT, 16);
	vqh_post_rx(h, 4, 64);
	h->con->port[1].guest_open = true; /* even if it were open */
	console_port_send(h->con, 1, "bulk", 4);
	assert_int_equal(vqh_used_idx(h, 4), 0);
	assert_int_equal(pending(h, 1), 4);
}

static void port_open_delivers_at_once(struct vqh *h, unsigned port)
{
	unsigned q = console_rx_queue(port);
	uint64_t buf;
	uint32_t id, len;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	buf = vqh_post_rx(h, q, 64);
	console_port_send(h->con, port, "request\n", 8);
	vqh_notify(h, q);
	assert_int_equal(vqh_used_idx(h, q), 0);
	assert_int_equal(pending(h, port), 8);
	vqh_ctl_send(h, port, VIRTIO_CONSOLE_PORT_OPEN, 1);
	assert_int_equal(vqh_used_idx(h, q), 1);
	vqh_used_elem(h, q, 0, &id, &len);
	assert_int_equal(len, 8);
	assert_memory_equal(vqh_host(h, buf), "request\n", 8);
	assert_int_equal(pending(h, port), 0);
}

static void test_port1_rx_waits_until_guest_opens_it(void **state)
{
	port_open_delivers_at_once(*state, 1);
}

static void test_port2_rx_waits_until_guest_opens_it(void **state)
{
	port_open_delivers_at_once(*state, 2);
}

static void test_closed_port_keeps_bytes(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_ctl_send(h, 2, VIRTIO_CONSOLE_PORT_OPEN, 1);
	vqh_ctl_send(h, 2, VIRTIO_CONSOLE_PORT_OPEN, 0);
	vqh_post_rx(h, 6, 64);
	console_port_send(h->con, 2, "later", 5);
	assert_int_equal(vqh_used_idx(h, 6), 0);
	assert_int_equal(pending(h, 2), 5);
}

static void test_port0_needs_no_open(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_NO_MULTIPORT, 16);
	vqh_post_rx(h, 0, 64);
	console_port_send(h->con, 0, "x", 1);
	assert_int_equal(vqh_used_idx(h, 0), 1);
}

static void test_rx_waits_for_a_ready_queue(void **state)
{
	struct vqh *h = *state;

	vqh_to_features_ok(h, VQH_FEATURES_ALL);
	for (unsigned q = 1; q < 8; q++)
		vqh_setup_queue(h, q, 16);
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0xf);
	console_port_send(h->con, 0, "kept", 4);
	assert_int_equal(pending(h, 0), 4);
	assert_int_equal(h->irqs, 0);
}

static void test_rx_refill_and_kick_delivers_pending(void **state)
{
	struct vqh *h = *state;
	uint64_t buf;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	console_port_send(h->con, 0, "waiting", 7);
	assert_int_equal(pending(h, 0), 7);
	buf = vqh_post_rx(h, 0, 64);
	vqh_notify(h, 0);
	assert_memory_equal(vqh_host(h, buf), "waiting", 7);
	assert_int_equal(pending(h, 0), 0);
}

static void test_rx_fills_descriptors_and_chains_in_order(void **state)
{
	struct vqh *h = *state;
	uint8_t data[100];
	uint64_t addr[4][2];
	uint32_t id, len;

	for (int i = 0; i < 100; i++)
		data[i] = (uint8_t)i;
	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	for (int c = 0; c < 4; c++) {
		struct vqh_buf b[2] = { { .len = 16, .write = true }, { .len = 16, .write = true } };

		vqh_add_chain(h, 0, b, 2);
		addr[c][0] = b[0].addr;
		addr[c][1] = b[1].addr;
	}
	console_port_send(h->con, 0, data, sizeof(data));
	assert_int_equal(vqh_used_idx(h, 0), 4);
	for (int c = 0; c < 4; c++) {
		vqh_used_elem(h, 0, c, &id, &len);
		assert_int_equal(len, c < 3 ? 32 : 4);
		assert_memory_equal(vqh_host(h, addr[c][0]), data + 32 * c, c < 3 ? 16 : 4);
		if (c < 3)
			assert_memory_equal(vqh_host(h, addr[c][1]), data + 32 * c + 16, 16);
	}
	assert_int_equal(h->irqs, 1);
}

static void test_empty_pending_notify_uses_nothing(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_post_rx(h, 0, 64);
	vqh_notify(h, 0);
	vqh_notify(h, 4);
	assert_int_equal(vqh_used_idx(h, 0), 0);
	assert_int_equal(h->irqs, 0);
}

/* A chain of 32 good bytes then a descriptor outside RAM. */
static uint64_t post_torn_chain(struct vqh *h, unsigned q)
{
	struct vqh_buf b[2] = { { .len = 32, .write = true },
				{ .addr = VQH_UNMAPPED, .len = 32, .write = true } };

	vqh_add_chain(h, q, b, 2);
	return b[0].addr;
}

static void test_torn_write_returns_chain_empty_and_keeps_bytes(void **state)
{
	struct vqh *h = *state;
	uint8_t data[64];
	uint32_t id, len;
	struct console_snapshot s;

	memset(data, 'T', sizeof(data));
	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_ctl_send(h, 1, VIRTIO_CONSOLE_PORT_OPEN, 1);
	post_torn_chain(h, 4);
	console_port_send(h->con, 1, data, sizeof(data));
	assert_int_equal(vqh_used_idx(h, 4), 1);
	vqh_used_elem(h, 4, 0, &id, &len);
	assert_int_equal(len, 0);
	assert_int_equal(pending(h, 1), 64);
	assert_int_equal(vqh_count_events(h, CONSOLE_EV_IRQ), 1); /* the control-queue one only */
	assert_true(vqh_log_contains(h, "torn"));
	console_snapshot(h->con, &s);
	assert_int_equal(s.port[1].rx_torn, 1);
	assert_false(s.vq[4].broken);
}

static void test_torn_write_stops_the_call(void **state)
{
	struct vqh *h = *state;
	uint8_t data[64];
	uint64_t good;

	for (int i = 0; i < 64; i++)
		data[i] = (uint8_t)(i + 1);
	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	post_torn_chain(h, 0);
	good = vqh_post_rx(h, 0, 32);
	console_port_send(h->con, 0, data, sizeof(data));
	assert_int_equal(vqh_used_idx(h, 0), 1);
	assert_int_equal(((uint8_t *)vqh_host(h, good))[0], 0);
	/* The next notify starts with the untouched good chain, from the first byte. */
	vqh_notify(h, 0);
	assert_int_equal(vqh_used_idx(h, 0), 2);
	assert_memory_equal(vqh_host(h, good), data, 32);
	assert_int_equal(pending(h, 0), 32);
}

static void test_torn_after_a_good_chain_still_interrupts(void **state)
{
	struct vqh *h = *state;
	uint8_t data[96];

	memset(data, 'g', sizeof(data));
	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_post_rx(h, 0, 32);
	post_torn_chain(h, 0);
	console_port_send(h->con, 0, data, sizeof(data));
	assert_int_equal(vqh_used_idx(h, 0), 2);
	assert_int_equal(h->irqs, 1);
	assert_int_equal(pending(h, 0), 64);
}

static void test_zero_capacity_chains_count_toward_the_64_cap(void **state)
{
	struct vqh *h = *state;
	uint64_t good;
	uint32_t id, len;

	vqh_init_device(h, VQH_FEATURES_ALL, 128);
	for (int i = 0; i < 70; i++) {
		struct vqh_buf b = { .len = 0, .write = true };

		vqh_add_chain(h, 0, &b, 1);
	}
	good = vqh_post_rx(h, 0, 8);
	console_port_send(h->con, 0, "x", 1);
	assert_int_equal(vqh_used_idx(h, 0), 64);
	vqh_used_elem(h, 0, 63, &id, &len);
	assert_int_equal(len, 0);
	assert_int_equal(pending(h, 0), 1);
	assert_int_equal(h->irqs, 0);
	vqh_notify(h, 0);
	assert_int_equal(vqh_used_idx(h, 0), 71);
	assert_int_equal(*(uint8_t *)vqh_host(h, good), 'x');
	assert_int_equal(h->irqs, 1);
}

static void test_chain_without_writable_descriptor_is_returned_empty(void **state)
{
	struct vqh *h = *state;
	struct vqh_buf b = { .len = 16 }; /* device-readable */
	uint32_t id, len;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_add_chain(h, 0, &b, 1);
	vqh_post_rx(h, 0, 16);
	console_port_send(h->con, 0, "ab", 2);
	assert_int_equal(vqh_used_idx(h, 0), 2);
	vqh_used_elem(h, 0, 0, &id, &len);
	assert_int_equal(len, 0);
	vqh_used_elem(h, 0, 1, &id, &len);
	assert_int_equal(len, 2);
}

static void test_64_chain_cap_with_data(void **state)
{
	struct vqh *h = *state;
	uint8_t data[100];

	memset(data, 'd', sizeof(data));
	vqh_init_device(h, VQH_FEATURES_ALL, 128);
	for (int i = 0; i < 70; i++)
		vqh_post_rx(h, 0, 1);
	console_port_send(h->con, 0, data, sizeof(data));
	assert_int_equal(vqh_used_idx(h, 0), 64);
	assert_int_equal(pending(h, 0), 36);
	vqh_notify(h, 0);
	assert_int_equal(vqh_used_idx(h, 0), 70);
	assert_int_equal(pending(h, 0), 30);
}

static void test_wake_byte_arrives_alone_on_port0(void **state)
{
	struct vqh *h = *state;
	uint64_t buf;
	uint32_t id, len;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	buf = vqh_post_rx(h, 0, 4096);
	assert_int_equal(console_wake(h->con, CONSOLE_WAKE_DUMP), 0);
	vqh_used_elem(h, 0, 0, &id, &len);
	assert_int_equal(len, 1);
	assert_int_equal(*(uint8_t *)vqh_host(h, buf), 0xD1);
	assert_string_equal(console_wake_name(0xD1), "dump");
	assert_string_equal(console_wake_name(0xD3), "shutdown");
	assert_string_equal(console_wake_name(0xBF), "bpf-write-done");
	assert_string_equal(console_wake_name(0xAC), "accessor-ready");
	assert_null(console_wake_name('a'));
}

static void test_wake_bytes_queue_until_buffers_arrive(void **state)
{
	struct vqh *h = *state;
	uint64_t buf;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	console_wake(h->con, CONSOLE_WAKE_BPF_WRITE_DONE);
	console_wake(h->con, CONSOLE_WAKE_ACCESSOR_READY);
	assert_int_equal(pending(h, 0), 2);
	buf = vqh_post_rx(h, 0, 16);
	vqh_notify(h, 0);
	assert_memory_equal(vqh_host(h, buf), "\xBF\xAC", 2);
}

static void test_rx_no_interrupt_flag_is_honoured(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_set_avail_flags(h, 0, VRING_AVAIL_F_NO_INTERRUPT);
	vqh_post_rx(h, 0, 16);
	console_port_send(h->con, 0, "q", 1);
	assert_int_equal(vqh_used_idx(h, 0), 1);
	assert_int_equal(h->irqs, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, vqh_setup, vqh_teardown)
		T(test_port0_rx_delivers_into_posted_buffer),
		T(test_rx_waits_for_driver_ok_then_port0_flows),
		T(test_port1_rx_waits_for_multiport),
		T(test_port1_rx_waits_until_guest_opens_it),
		T(test_port2_rx_waits_until_guest_opens_it),
		T(test_closed_port_keeps_bytes),
		T(test_port0_needs_no_open),
		T(test_rx_waits_for_a_ready_queue),
		T(test_rx_refill_and_kick_delivers_pending),
		T(test_rx_fills_descriptors_and_chains_in_order),
		T(test_empty_pending_notify_uses_nothing),
		T(test_torn_write_returns_chain_empty_and_keeps_bytes),
		T(test_torn_write_stops_the_call),
		T(test_torn_after_a_good_chain_still_interrupts),
		T(test_zero_capacity_chains_count_toward_the_64_cap),
		T(test_chain_without_writable_descriptor_is_returned_empty),
		T(test_64_chain_cap_with_data),
		T(test_wake_byte_arrives_alone_on_port0),
		T(test_wake_bytes_queue_until_buffers_arrive),
		T(test_rx_no_interrupt_flag_is_honoured),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
