/* Status <- 0: tx capture before the rings go, what is kept and what is cleared. */
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


static void publish_tx(struct vqh *h, unsigned port, const char *s)
{
	struct vqh_buf b = { .len = (uint32_t)strlen(s), .data = s };

	vqh_add_chain(h, console_tx_queue(port), &b, 1);
}

static void test_reset_clears_state_but_keeps_host_tx_buffers(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;
	char out[16];

	vqh_handshake(h);
	vqh_ctl_send(h, 1, VIRTIO_CONSOLE_PORT_OPEN, 1);
	vqh_ctl_send(h, 2, VIRTIO_CONSOLE_PORT_OPEN, 1);
	for (unsigned p = 0; p < 3; p++) {
		vqh_guest_write(h, p, "out", 3);
		console_port_send(h->con, p, "in", 2); /* no rx buffers: stays pending */
	}
	console_ctl_send(h->con, 0, VIRTIO_CONSOLE_RESIZE, 0, NULL);
	console_ctl_send(h->con, 0, VIRTIO_CONSOLE_RESIZE, 0, NULL);
	vqh_wr32(h, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	vqh_wr32(h, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vqh_wr32(h, VIRTIO_MMIO_QUEUE_SEL, 5);
	assert_int_not_equal(vqh_rd32(h, VIRTIO_MMIO_INTERRUPT_STATUS), 0);

	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0);

	console_snapshot(h->con, &s);
	assert_int_equal(s.status, 0);
	assert_int_equal(s.interrupt_status, 0);
	assert_int_equal(s.driver_features, 0);
	assert_int_equal(h->con->mmio.device_features_sel, 0);
	assert_int_equal(h->con->mmio.driver_features_sel, 0);
	assert_int_equal(h->con->mmio.queue_sel, 0);
	assert_false(s.device_ready);
	assert_int_equal(s.ctl_out_len, 0);
	for (unsigned p = 0; p < 3; p++) {
		assert_int_equal(s.port[p].host_tx, 3);
		assert_int_equal(s.port[p].pending_rx, 0);
		assert_false(s.port[p].guest_open);
		assert_false(s.port[p].readied);
	}
	for (unsigned q = 0; q < 8; q++) {
		assert_false(s.vq[q].ready);
		assert_int_equal(s.vq[q].desc_gpa, 0);
		assert_int_equal(s.vq[q].last_avail_idx, 0);
	}
	assert_int_equal(s.resets, 1);
	assert_int_equal(vqh_drain(h, 2, out, sizeof(out)), 3);
}

static void test_reset_captures_published_tx_without_irq_or_wake(void **state)
{
	struct vqh *h = *state;
	unsigned irqs;
	char out[32];

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	publish_tx(h, 0, "last words");
	publish_tx(h, 1, "TIXE frame");
	publish_tx(h, 2, "{\"bye\":1}\n");
	irqs = h->irqs;
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(h->irqs, irqs);
	assert_int_equal(h->wakes[0] + h->wakes[1], 0);
	/* Returned to the guest as used, so its buffers are reclaimed. */
	assert_int_equal(vqh_used_idx(h, 1), 1);
	assert_int_equal(vqh_used_idx(h, 5), 1);
	assert_int_equal(vqh_used_idx(h, 7), 1);
	assert_int_equal(vqh_drain(h, 0, out, sizeof(out)), 10);
	assert_memory_equal(out, "last words", 10);
	assert_int_equal(vqh_drain(h, 1, out, sizeof(out)), 10);
	assert_memory_equal(out, "TIXE frame", 10);
	assert_int_equal(vqh_drain(h, 2, out, sizeof(out)), 10);
}

static void test_reset_capture_has_the_same_caps(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	for (int i = 0; i < 9; i++) {
		struct vqh_buf b = { .len = 64 * KiB };

		vqh_add_chain(h, 5, &b, 1);
	}
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0);
	console_snapshot(h->con, &s);
	assert_int_equal(s.port[1].host_tx, 256 * KiB); /* 8 chains of 32 KiB each */
	assert_int_equal(vqh_used_idx(h, 5), 8);
}

static void test_reset_capture_needs_driver_ok(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;

	vqh_to_features_ok(h, VQH_FEATURES_ALL);
	for (unsigned q = 0; q < 8; q++)
		vqh_setup_queue(h, q, 16);
	publish_tx(h, 0, "not yet");
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0);
	console_snapshot(h->con, &s);
	assert_int_equal(s.port[0].host_tx, 0);
	assert_int_equal(vqh_used_idx(h, 1), 0);
}

static void test_reset_capture_of_ports_1_2_needs_multiport(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;

	vqh_init_device(h, VQH_FEATURES_NO_MULTIPORT, 16);
	publish_tx(h, 0, "p0");
	publish_tx(h, 1, "p1");
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0);
	console_snapshot(h->con, &s);
	assert_int_equal(s.port[0].host_tx, 2);
	assert_int_equal(s.port[1].host_tx, 0);
}

static void test_reset_capture_ignores_the_high_water_mark(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;

	vqh_init_device(h, VQH_FEATURES_ALL, 256);
	for (unsigned i = 0; i < CONSOLE_TX_HIGH_WATER / (32 * KiB); i++) {
		struct vqh_buf b = { .len = 32 * KiB };

		vqh_add_chain(h, 5, &b, 1);
		if (i % 8 == 7)
			vqh_notify(h, 5);
	}
	publish_tx(h, 1, "EXIT");
	vqh_notify(h, 5);
	console_snapshot(h->con, &s);
	assert_true(s.port[1].tx_throttled);
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0);
	console_snapshot(h->con, &s);
	assert_int_equal(s.port[1].host_tx, CONSOLE_TX_HIGH_WATER + 4);
	assert_false(s.port[1].tx_throttled);
}

static void test_second_lifecycle_handshakes_again(void **state)
{
	struct vqh *h = *state;
	uint32_t id;
	uint16_t ev, val;
	unsigned n = 0;

	vqh_handshake(h);
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0);
	vqh_handshake(h); /* re-programs the rings from scratch */
	while (vqh_ctl_recv(h, &id, &ev, &val, NULL, true) >= 0)
		n++;
	assert_int_equal(n, 10);
	assert_true(h->con->device_ready);
	assert_true(h->con->port[0].guest_open);
}

static void test_tx_after_reset_is_a_no_op(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0);
	publish_tx(h, 1, "late");
	vqh_notify(h, 5);
	assert_int_equal(console_notify(h->con, 5), 0);
	console_snapshot(h->con, &s);
	assert_int_equal(s.port[1].host_tx, 0);
}

static void test_reset_is_reported_as_a_status_event(void **state)
{
	struct vqh *h = *state;
	const struct console_event *last = NULL;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0);
	for (unsigned i = 0; i < h->nr_events; i++)
		if (h->events[i].kind == CONSOLE_EV_STATUS)
			last = &h->events[i];
	assert_non_null(last);
	assert_int_equal(last->old_status, 0xf);
	assert_int_equal(last->new_status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, vqh_setup, vqh_teardown)
		T(test_reset_clears_state_but_keeps_host_tx_buffers),
		T(test_reset_captures_published_tx_without_irq_or_wake),
		T(test_reset_capture_has_the_same_caps),
		T(test_reset_capture_needs_driver_ok),
		T(test_reset_capture_of_ports_1_2_needs_multiport),
		T(test_reset_capture_ignores_the_high_water_mark),
		T(test_second_lifecycle_handshakes_again),
		T(test_tx_after_reset_is_a_no_op),
		T(test_reset_is_reported_as_a_status_event),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
