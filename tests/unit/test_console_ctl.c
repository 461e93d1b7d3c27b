/* The control queues: the multiport handshake, every event and its repeats, wire forms, the log. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vq_harness.h"

struct msg {
	uint32_t id;
	uint16_t event, value;
	int len;
	char name[257];
};

static int setup(void **state)
{
	struct vqh *h = vqh_new();

	if (!h)
		return -1;
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	vqh_free(*state);
	return 0;
}

/* Initialised device with 32 control buffers of 64 bytes posted. */
static struct vqh *ready(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_ALL, 64);
	vqh_ctl_post(h, 32, 64);
	return h;
}

static unsigned recv_all(struct vqh *h, struct msg *m, unsigned max)
{
	unsigned n = 0;

	while (n < max) {
		int len = vqh_ctl_recv(h, &m[n].id, &m[n].event, &m[n].value, m[n].name, true);

		if (len < 0)
			break;
		m[n++].len = len;
	}
	return n;
}

static void expect(const struct msg *m, uint32_t id, uint16_t event, uint16_t value)
{
	assert_int_equal(m->id, id);
	assert_int_equal(m->event, event);
	assert_int_equal(m->value, value);
}

static void test_device_ready_queues_port_add_for_each_port(void **state)
{
	struct vqh *h = ready(state);
	struct msg m[8];

	vqh_ctl_send(h, VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	assert_int_equal(recv_all(h, m, 8), 3);
	for (uint32_t p = 0; p < 3; p++) {
		expect(&m[p], p, VIRTIO_CONSOLE_PORT_ADD, 1);
		assert_int_equal(m[p].len, 8);
	}
	assert_true(h->con->device_ready);
}

/*
 * A host message injected before the driver's DEVICE_READY is queued and delivered all the
 * same (an experiment), and the injector learns that it came ahead of the handshake.
 */
static void test_injection_before_device_ready_is_sent_and_said(void **state)
{
	struct vqh *h = ready(state);
	struct msg m[8];
	bool before;

	assert_int_equal(console_ctl_inject(h->con, 1, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL, &before), 0);
	assert_true(before);
	assert_int_equal(recv_all(h, m, 8), 1);
	expect(&m[0], 1, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
	vqh_ctl_send(h, VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	assert_int_equal(recv_all(h, m, 8), 3);
	assert_int_equal(console_ctl_inject(h->con, 1, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL, &before), 0);
	assert_false(before);
	/* A driver reset starts the handshake over. */
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(console_ctl_inject(h->con, 1, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL, &before), 0);
	assert_true(before);
}

static void test_device_ready_id_is_ignored(void **state)
{
	struct vqh *h = ready(state);
	struct msg m[8];

	vqh_ctl_send(h, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
	assert_int_equal(recv_all(h, m, 8), 3);
}

static void test_device_ready_repeat_is_ignored(void **state)
{
	struct vqh *h = ready(state);
	struct msg m[8];

	vqh_ctl_send(h, VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	vqh_ctl_send(h, VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	assert_int_equal(recv_all(h, m, 8), 3);
	assert_true(vqh_log_contains(h, "repeated DEVICE_READY"));
}

static void test_device_ready_with_other_values_is_ignored(void **state)
{
	struct vqh *h = ready(state);
	struct msg m[8];

	vqh_ctl_send(h, VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 0);
	vqh_ctl_send(h, VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 2);
	assert_int_equal(recv_all(h, m, 8), 0);
	assert_false(h->con->device_ready);
	vqh_ctl_send(h, VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	assert_int_equal(recv_all(h, m, 8), 3);
}

static void test_port_ready_port0_announces_console_name_open(void **state)
{
	struct vqh *h = ready(state);
	struct msg m[8];

	vqh_ctl_send(h, 0, VIRTIO_CONSOLE_PORT_READY, 1);
	assert_int_equal(recv_all(h, m, 8), 3);
	expect(&m[0], 0, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
	expect(&m[1], 0, VIRTIO_CONSOLE_PORT_NAME, 1);
	assert_string_equal(m[1].name, "ktstr-console");
	assert_int_equal(m[1].len, 22);
	expect(&m[2], 0, VIRTIO_CONSOLE_PORT_OPEN, 1);
	assert_true(h->con->port[0].readied);
}

static void test_port_ready_port1_and_port2_name_then_open(void **state)
{
	struct vqh *h = ready(state);
	struct msg m[8];

	vqh_ctl_send(h, 1, VIRTIO_CONSOLE_PORT_READY, 1);
	assert_int_equal(recv_all(h, m, 8), 2);
	expect(&m[0], 1, VIRTIO_CONSOLE_PORT_NAME, 1);
	assert_string_equal(m[0].name, "ktstr-bulk");
	assert_int_equal(m[0].len, 19);
	expect(&m[1], 1, VIRTIO_CONSOLE_PORT_OPEN, 1);
	vqh_ctl_send(h, 2, VIRTIO_CONSOLE_PORT_READY, 1);
	assert_int_equal(recv_all(h, m, 8), 2);
	expect(&m[0], 2, VIRTIO_CONSOLE_PORT_NAME, 1);
	assert_string_equal(m[0].name, "ktstr-stats");
	assert_int_equal(m[0].len, 20);
	expect(&m[1], 2, VIRTIO_CONSOLE_PORT_OPEN, 1);
}

static void test_port_name_wire_bytes_end_with_nul(void **state)
{
	struct vqh *h = ready(state);
	uint32_t head, len;
	const uint8_t *p;
	static const uint8_t want[20] = { 2, 0, 0, 0, 7, 0, 1, 0, 'k', 't', 's', 't', 'r', '-',
					  's', 't', 'a', 't', 's', 0 };

	memset(vqh_host(h, VQH_DATA_BASE), 0xEE, 64 * 32);
	vqh_ctl_send(h, 2, VIRTIO_CONSOLE_PORT_READY, 1);
	vqh_used_elem(h, CONSOLE_Q_CTRL_RX, 0, &head, &len);
	assert_int_equal(len, 20);
	p = vqh_host(h, VQH_DATA_BASE + 64ull * head);
	assert_memory_equal(p, want, 20);
	assert_int_equal(p[20], 0xEE); /* nothing past the NUL */
}

static void test_port_ready_repeat_is_ignored_per_port(void **state)
{
	struct vqh *h = ready(state);
	struct msg m[16];

	vqh_ctl_send(h, 0, VIRTIO_CONSOLE_PORT_READY, 1);
	vqh_ctl_send(h, 0, VIRTIO_CONSOLE_PORT_READY, 1);
	assert_int_equal(recv_all(h, m, 16), 3);
	vqh_ctl_send(h, 1, VIRTIO_CONSOLE_PORT_READY, 1);
	vqh_ctl_send(h, 1, VIRTIO_CONSOLE_PORT_READY, 1);
	assert_int_equal(recv_all(h, m, 16), 2);
	vqh_ctl_send(h, 2, VIRTIO_CONSOLE_PORT_READY, 1);
	vqh_ctl_send(h, 2, VIRTIO_CONSOLE_PORT_READY, 1);
	assert_int_equal(recv_all(h, m, 16), 2);
}

static void test_port_ready_is_per_port_not_global(void **state)
{
	struct vqh *h = ready(state);
	struct msg m[16];

	vqh_ctl_send(h, 0, VIRTIO_CONSOLE_PORT_READY, 1);
	vqh_ctl_send(h, 1, VIRTIO_CONSOLE_PORT_READY, 1);
	assert_int_equal(recv_all(h, m, 16), 5);
}

static void test_port_ready_value_zero_is_add_port_failure_and_retryable(void **state)
{
	struct vqh *h = ready(state);
	struct msg m[8];

	vqh_ctl_send(h, 1, VIRTIO_CONSOLE_PORT_READY, 0);
	assert_int_equal(recv_all(h, m, 8), 0);
	assert_false(h->con->port[1].readied);
	assert_true(vqh_log_contains(h, "add_port failure"));
	assert_int_equal(h->log_errors, 1);
	vqh_ctl_send(h, 0, VIRTIO_CONSOLE_PORT_READY, 0);
	vqh_ctl_send(h, 0, VIRTIO_CONSOLE_PORT_READY, 1);
	assert_int_equal(recv_all(h, m, 8), 3);
}

static void test_port_ready_other_value_is_ignored(void **state)
{
	struct vqh *h = ready(state);
	struct msg m[8];

	vqh_ctl_send(h, 2, VIRTIO_CONSOLE_PORT_READY, 7);
	assert_int_equal(recv_all(h, m, 8), 0);
	assert_false(h->con->port[2].readied);
}

static void test_port_ready_out_of_range_id_changes_nothing(void **state)
{
	struct vqh *h = ready(state);
	struct msg m[8];
	struct console_snapshot before, after;

	console_snapshot(h->con, &before);
	vqh_ctl_send(h, 3, VIRTIO_CONSOLE_PORT_READY, 1);
	vqh_ctl_send(h, 99, VIRTIO_CONSOLE_PORT_READY, 1);
	vqh_ctl_send(h, VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_PORT_READY, 1);
	assert_int_equal(recv_all(h, m, 8), 0);
	console_snapshot(h->con, &after);
	for (int p = 0; p < 3; p++)
		assert_false(after.port[p].readied);
	assert_true(vqh_log_contains(h, "does not exist"));
}

static void test_port_open_tracks_guest_state(void **state)
{
	struct vqh *h = ready(state);

	for (uint32_t p = 0; p < 3; p++) {
		vqh_ctl_send(h, p, VIRTIO_CONSOLE_PORT_OPEN, 1);
		assert_true(h->con->port[p].guest_open);
		vqh_ctl_send(h, p, VIRTIO_CONSOLE_PORT_OPEN, 0);
		assert_false(h->con->port[p].guest_open);
		vqh_ctl_send(h, p, VIRTIO_CONSOLE_PORT_OPEN, 1);
		vqh_ctl_send(h, p, VIRTIO_CONSOLE_PORT_OPEN, 2); /* opened = (value == 1) */
		assert_false(h->con->port[p].guest_open);
	}
}

static void test_port_open_out_of_range_id_is_ignored(void **state)
{
	struct vqh *h = ready(state);

	vqh_ctl_send(h, 3, VIRTIO_CONSOLE_PORT_OPEN, 1);
	vqh_ctl_send(h, VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_PORT_OPEN, 1);
	for (int p = 0; p < 3; p++)
		assert_false(h->con->port[p].guest_open);
	assert_int_equal(vqh_used_idx(h, CONSOLE_Q_CTRL_TX), 2);
}

static void test_host_side_events_from_guest_are_absorbed(void **state)
{
	struct vqh *h = ready(state);
	struct msg m[8];
	static const uint16_t evs[] = { VIRTIO_CONSOLE_PORT_ADD, VIRTIO_CONSOLE_PORT_REMOVE,
					VIRTIO_CONSOLE_CONSOLE_PORT, VIRTIO_CONSOLE_RESIZE,
					VIRTIO_CONSOLE_PORT_NAME, 0xBEEF, 8, 0xffff };

	for (unsigned i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		vqh_ctl_send(h, 1, evs[i], 1);
	assert_int_equal(recv_all(h, m, 8), 0);
	assert_false(h->con->device_ready);
	for (int p = 0; p < 3; p++) {
		assert_false(h->con->port[p].readied);
		assert_false(h->con->port[p].guest_open);
	}
	assert_int_equal(vqh_used_idx(h, CONSOLE_Q_CTRL_TX), 8);
}

static void test_control_tx_chain_is_used_with_length_zero(void **state)
{
	struct vqh *h = ready(state);
	uint8_t bytes[8] = { 2, 0, 0, 0, 6, 0, 1, 0 };
	struct vqh_buf b = { .len = 8, .data = bytes };
	uint32_t id, len;

	vqh_add_chain(h, CONSOLE_Q_CTRL_TX, &b, 1);
	vqh_notify(h, CONSOLE_Q_CTRL_TX);
	assert_int_equal(vqh_used_idx(h, CONSOLE_Q_CTRL_TX), 1);
	vqh_used_elem(h, CONSOLE_Q_CTRL_TX, 0, &id, &len);
	assert_int_equal(len, 0);
	assert_true(h->con->port[2].guest_open);
	assert_int_equal(h->irqs, 1);
}

static void test_control_message_split_across_descriptors(void **state)
{
	struct vqh *h = ready(state);
	uint8_t a[4] = { 1, 0, 0, 0 }, b6[6] = { 6, 0, 1, 0, 0xAA, 0xBB };
	struct vqh_buf b[3] = { { .len = 4, .data = a },
				{ .len = 4, .write = true },
				{ .len = 6, .data = b6 } };

	vqh_add_chain(h, CONSOLE_Q_CTRL_TX, b, 3);
	vqh_notify(h, CONSOLE_Q_CTRL_TX);
	assert_true(h->con->port[1].guest_open);
}

static void test_short_control_chain_is_returned_and_ignored(void **state)
{
	struct vqh *h = ready(state);
	uint8_t bytes[6] = { 0xff, 0xff, 0xff, 0xff, 0, 0 };
	struct vqh_buf b = { .len = 6, .data = bytes };
	struct msg m[4];

	vqh_add_chain(h, CONSOLE_Q_CTRL_TX, &b, 1);
	vqh_notify(h, CONSOLE_Q_CTRL_TX);
	assert_int_equal(vqh_used_idx(h, CONSOLE_Q_CTRL_TX), 1);
	assert_false(h->con->device_ready);
	assert_int_equal(recv_all(h, m, 4), 0);
	assert_true(vqh_log_contains(h, "6 readable bytes"));
}

static void test_control_tx_takes_at_most_32_chains_per_call(void **state)
{
	struct vqh *h = ready(state);
	uint8_t bytes[8] = { 0, 0, 0, 0, 6, 0, 1, 0 };

	for (int i = 0; i < 40; i++) {
		struct vqh_buf b = { .len = 8, .data = bytes };

		vqh_add_chain(h, CONSOLE_Q_CTRL_TX, &b, 1);
	}
	vqh_notify(h, CONSOLE_Q_CTRL_TX);
	assert_int_equal(vqh_used_idx(h, CONSOLE_Q_CTRL_TX), 32);
	vqh_notify(h, CONSOLE_Q_CTRL_TX);
	assert_int_equal(vqh_used_idx(h, CONSOLE_Q_CTRL_TX), 40);
}

static void test_control_tx_needs_driver_ok_and_multiport(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_NO_MULTIPORT, 16);
	vqh_ctl_send(h, VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	assert_int_equal(vqh_used_idx(h, CONSOLE_Q_CTRL_TX), 0);
	assert_false(h->con->device_ready);
	assert_true(vqh_log_contains(h, "without VIRTIO_CONSOLE_F_MULTIPORT"));
}

static void test_too_small_control_buffer_is_skipped_not_fatal(void **state)
{
	struct vqh *h = *state;
	struct msg m[4];
	uint32_t id, len;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_ctl_post(h, 1, 16); /* PORT_NAME(0) needs 22 */
	vqh_ctl_post(h, 1, 64);
	assert_int_equal(console_ctl_send(h->con, 0, VIRTIO_CONSOLE_PORT_NAME, 1, "ktstr-console"), 0);
	assert_int_equal(vqh_used_idx(h, CONSOLE_Q_CTRL_RX), 2);
	vqh_used_elem(h, CONSOLE_Q_CTRL_RX, 0, &id, &len);
	assert_int_equal(len, 0);
	assert_int_equal(recv_all(h, m, 4), 1);
	assert_int_equal(m[0].len, 22);
	assert_string_equal(m[0].name, "ktstr-console");
	assert_int_equal(h->irqs, 1);
}

static void test_torn_control_write_keeps_the_message(void **state)
{
	struct vqh *h = *state;
	struct vqh_buf b[2] = { { .len = 4, .write = true },
				{ .addr = VQH_UNMAPPED, .len = 60, .write = true } };
	struct msg m[4];
	uint32_t id, len;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_add_chain(h, CONSOLE_Q_CTRL_RX, b, 2);
	vqh_ctl_post(h, 1, 64);
	console_ctl_send(h->con, 1, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL);
	assert_int_equal(vqh_used_idx(h, CONSOLE_Q_CTRL_RX), 1); /* stopped at the torn chain */
	vqh_used_elem(h, CONSOLE_Q_CTRL_RX, 0, &id, &len);
	assert_int_equal(len, 0);
	assert_int_equal(h->con->ctl_out_len, 1);
	vqh_notify(h, CONSOLE_Q_CTRL_RX);
	assert_int_equal(recv_all(h, m, 4), 1);
	expect(&m[0], 1, VIRTIO_CONSOLE_PORT_OPEN, 1);
}

static void test_control_messages_wait_for_buffers(void **state)
{
	struct vqh *h = *state;
	struct msg m[8];

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_ctl_send(h, VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	assert_int_equal(h->con->ctl_out_len, 3);
	vqh_ctl_post(h, 2, 64);
	vqh_notify(h, CONSOLE_Q_CTRL_RX);
	assert_int_equal(recv_all(h, m, 8), 2);
	vqh_ctl_post(h, 2, 64);
	vqh_notify(h, CONSOLE_Q_CTRL_RX);
	assert_int_equal(recv_all(h, m, 8), 1);
	expect(&m[0], 2, VIRTIO_CONSOLE_PORT_ADD, 1);
	assert_int_equal(h->con->ctl_out_len, 0);
}

static void test_driver_ok_delivers_queued_control_messages(void **state)
{
	struct vqh *h = *state;
	struct msg m[4];

	vqh_to_features_ok(h, VQH_FEATURES_ALL);
	for (unsigned q = 0; q < 8; q++)
		vqh_setup_queue(h, q, 16);
	vqh_ctl_post(h, 2, 64);
	console_ctl_send(h->con, 1, VIRTIO_CONSOLE_PORT_ADD, 1, NULL);
	assert_int_equal(vqh_used_idx(h, CONSOLE_Q_CTRL_RX), 0);
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0xf);
	assert_int_equal(recv_all(h, m, 4), 1);
	expect(&m[0], 1, VIRTIO_CONSOLE_PORT_ADD, 1);
}

static void test_host_can_send_any_control_message(void **state)
{
	struct vqh *h = ready(state);
	struct msg m[8];
	char longname[CONSOLE_CTL_NAME_MAX + 2];

	assert_int_equal(console_ctl_send(h->con, 7, VIRTIO_CONSOLE_PORT_ADD, 1, NULL), 0);
	assert_int_equal(console_ctl_send(h->con, 7, VIRTIO_CONSOLE_PORT_ADD, 1, NULL), 0);
	assert_int_equal(console_ctl_send(h->con, 0, 0x1234, 0, NULL), 0);
	assert_int_equal(console_ctl_send(h->con, 1, VIRTIO_CONSOLE_PORT_NAME, 1, "custom"), 0);
	assert_int_equal(console_ctl_send(h->con, 1, VIRTIO_CONSOLE_PORT_NAME, 1, ""), 0);
	assert_int_equal(recv_all(h, m, 8), 5);
	expect(&m[0], 7, VIRTIO_CONSOLE_PORT_ADD, 1);
	expect(&m[1], 7, VIRTIO_CONSOLE_PORT_ADD, 1);
	expect(&m[2], 0, 0x1234, 0);
	assert_string_equal(m[3].name, "custom");
	assert_int_equal(m[3].len, 8 + 6 + 1);
	assert_int_equal(m[4].len, 9);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(console_ctl_send(h->con, 1, VIRTIO_CONSOLE_PORT_NAME, 1, longname),
			 -ENAMETOOLONG);
}

static void test_outbound_control_queue_is_bounded(void **state)
{
	struct vqh *h = *state;
	int err = 0;
	unsigned n = 0;

	vqh_init_device(h, VQH_FEATURES_ALL, 16); /* no control buffers: nothing drains */
	while (n < 1000 && !(err = console_ctl_send(h->con, 0, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL)))
		n++;
	assert_int_equal(err, -ENOSPC);
	assert_int_equal(n, CONSOLE_CTL_OUT_MAX);
}

static void test_full_handshake_sequence(void **state)
{
	struct vqh *h = *state;
	struct msg m[16];

	vqh_handshake(h);
	assert_int_equal(recv_all(h, m, 16), 10);
	for (uint32_t p = 0; p < 3; p++)
		expect(&m[p], p, VIRTIO_CONSOLE_PORT_ADD, 1);
	expect(&m[3], 0, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
	expect(&m[4], 0, VIRTIO_CONSOLE_PORT_NAME, 1);
	expect(&m[5], 0, VIRTIO_CONSOLE_PORT_OPEN, 1);
	expect(&m[6], 1, VIRTIO_CONSOLE_PORT_NAME, 1);
	expect(&m[7], 1, VIRTIO_CONSOLE_PORT_OPEN, 1);
	expect(&m[8], 2, VIRTIO_CONSOLE_PORT_NAME, 1);
	expect(&m[9], 2, VIRTIO_CONSOLE_PORT_OPEN, 1);
	assert_true(h->con->port[0].guest_open);
	assert_false(h->con->port[1].guest_open);
	assert_true(h->con->port[2].readied);
}

static void test_control_log_records_both_directions(void **state)
{
	struct vqh *h = *state;
	struct console_ctl_log_entry e[32];
	size_t n;

	vqh_handshake(h);
	n = console_ctl_log_read(h->con, 0, e, 32);
	/* 5 from the guest (DEVICE_READY, 3x PORT_READY, PORT_OPEN) + 10 to it. */
	assert_int_equal(n, 15);
	assert_int_equal(e[0].seq, 1);
	assert_int_equal(e[0].dir, CONSOLE_CTL_FROM_GUEST);
	assert_int_equal(e[0].event, VIRTIO_CONSOLE_DEVICE_READY);
	assert_int_equal(e[0].id, VIRTIO_CONSOLE_BAD_ID);
	assert_non_null(strstr(e[0].note, "PORT_ADD"));
	assert_int_equal(e[1].dir, CONSOLE_CTL_TO_GUEST);
	assert_int_equal(e[1].event, VIRTIO_CONSOLE_PORT_ADD);
	for (size_t i = 1; i < n; i++) {
		assert_int_equal(e[i].seq, e[i - 1].seq + 1);
		assert_true(e[i].time_ns >= e[i - 1].time_ns);
	}
	/* Only what came after a given seq. */
	assert_int_equal(console_ctl_log_read(h->con, 13, e, 32), 2);
	assert_int_equal(e[0].seq, 14);
	assert_int_equal(console_ctl_log_read(h->con, 15, e, 32), 0);
	assert_int_equal(vqh_count_events(h, CONSOLE_EV_CTL_FROM_GUEST), 5);
	assert_int_equal(vqh_count_events(h, CONSOLE_EV_CTL_TO_GUEST), 10);
}

static void test_control_log_keeps_the_newest_entries(void **state)
{
	struct vqh *h = ready(state);
	struct console_ctl_log_entry *e = calloc(CONSOLE_CTL_LOG_SIZE + 8, sizeof(*e));
	size_t n;

	for (int i = 0; i < CONSOLE_CTL_LOG_SIZE + 100; i++)
		vqh_ctl_send(h, 1, VIRTIO_CONSOLE_PORT_OPEN, (uint16_t)(i & 1));
	n = console_ctl_log_read(h->con, 0, e, CONSOLE_CTL_LOG_SIZE + 8);
	assert_int_equal(n, CONSOLE_CTL_LOG_SIZE);
	assert_int_equal(e[n - 1].seq, CONSOLE_CTL_LOG_SIZE + 100);
	assert_int_equal(e[0].seq, 101);
	n = console_ctl_log_read(h->con, 0, e, 4);
	assert_int_equal(n, 4);
	assert_int_equal(e[3].seq, CONSOLE_CTL_LOG_SIZE + 100);
	free(e);
}

static void test_event_names(void **state)
{
	assert_string_equal(console_ctl_event_name(VIRTIO_CONSOLE_DEVICE_READY), "DEVICE_READY");
	assert_string_equal(console_ctl_event_name(VIRTIO_CONSOLE_PORT_NAME), "PORT_NAME");
	assert_null(console_ctl_event_name(8));
	assert_null(console_ctl_event_name(0xffff));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_device_ready_queues_port_add_for_each_port),
		T(test_injection_before_device_ready_is_sent_and_said),
		T(test_device_ready_id_is_ignored),
		T(test_device_ready_repeat_is_ignored),
		T(test_device_ready_with_other_values_is_ignored),
		T(test_port_ready_port0_announces_console_name_open),
		T(test_port_ready_port1_and_port2_name_then_open),
		T(test_port_name_wire_bytes_end_with_nul),
		T(test_port_ready_repeat_is_ignored_per_port),
		T(test_port_ready_is_per_port_not_global),
		T(test_port_ready_value_zero_is_add_port_failure_and_retryable),
		T(test_port_ready_other_value_is_ignored),
		T(test_port_ready_out_of_range_id_changes_nothing),
		T(test_port_open_tracks_guest_state),
		T(test_port_open_out_of_range_id_is_ignored),
		T(test_host_side_events_from_guest_are_absorbed),
		T(test_control_tx_chain_is_used_with_length_zero),
		T(test_control_message_split_across_descriptors),
		T(test_short_control_chain_is_returned_and_ignored),
		T(test_control_tx_takes_at_most_32_chains_per_call),
		T(test_control_tx_needs_driver_ok_and_multiport),
		T(test_too_small_control_buffer_is_skipped_not_fatal),
		T(test_torn_control_write_keeps_the_message),
		T(test_control_messages_wait_for_buffers),
		T(test_driver_ok_delivers_queued_control_messages),
		T(test_host_can_send_any_control_message),
		T(test_outbound_control_queue_is_bounded),
		T(test_full_handshake_sequence),
		T(test_control_log_records_both_directions),
		T(test_control_log_keeps_the_newest_entries),
		T(test_event_names),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
