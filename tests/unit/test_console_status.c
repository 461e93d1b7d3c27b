/* The console's side of the status state machine: what DRIVER_OK and rejected writes do. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vq_harness.h"


static void test_driver_ok_without_multiport_warns(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_NO_MULTIPORT, 16);
	assert_int_equal(vqh_status(h), 0xf);
	assert_true(vqh_log_contains(h, "without VIRTIO_CONSOLE_F_MULTIPORT"));
}

static void test_driver_ok_with_multiport_is_quiet(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	assert_int_equal(h->log_warns, 0);
	assert_int_equal(h->log_errors, 0);
}

static void test_each_accepted_status_write_is_an_event(void **state)
{
	struct vqh *h = *state;
	uint32_t seen[8];
	unsigned n = 0;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	for (unsigned i = 0; i < h->nr_events && n < 8; i++)
		if (h->events[i].kind == CONSOLE_EV_STATUS)
			seen[n++] = h->events[i].new_status;
	assert_int_equal(n, 4);
	assert_int_equal(seen[0], 1);
	assert_int_equal(seen[1], 3);
	assert_int_equal(seen[2], 0xb);
	assert_int_equal(seen[3], 0xf);
}

static void test_rejected_status_write_changes_nothing_and_is_counted(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;
	unsigned events;

	vqh_wr32(h, VIRTIO_MMIO_STATUS, 1);
	events = vqh_count_events(h, CONSOLE_EV_STATUS);
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 1 | 4); /* DRIVER_OK before DRIVER */
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0x41);  /* reserved NEEDS_RESET bit from the driver */
	assert_int_equal(vqh_status(h), 1);
	assert_int_equal(vqh_count_events(h, CONSOLE_EV_STATUS), events);
	console_snapshot(h->con, &s);
	assert_int_equal(s.status_rejects, 2);
	assert_int_equal(h->log_warns, 2);
	assert_true(vqh_log_contains(h, "rejected"));
}

static void test_failed_keeps_the_device_answering(void **state)
{
	struct vqh *h = *state;

	vqh_wr32(h, VIRTIO_MMIO_STATUS, 1);
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 1 | 0x80);
	assert_int_equal(vqh_status(h), 0x81);
	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(vqh_status(h), 0);
	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	assert_int_equal(vqh_status(h), 0xf);
}

static void test_driver_ok_delivers_port0_before_control(void **state)
{
	struct vqh *h = *state;
	unsigned irq_q[4], n = 0;

	vqh_to_features_ok(h, VQH_FEATURES_ALL);
	for (unsigned q = 0; q < 8; q++)
		vqh_setup_queue(h, q, 16);
	vqh_post_rx(h, 0, 16);
	vqh_ctl_post(h, 1, 16);
	console_port_send(h->con, 0, "a", 1);
	console_ctl_send(h->con, 0, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL);
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0xf);
	for (unsigned i = 0; i < h->nr_events && n < 4; i++)
		if (h->events[i].kind == CONSOLE_EV_IRQ)
			irq_q[n++] = (unsigned)h->events[i].queue;
	assert_int_equal(n, 2);
	assert_int_equal(irq_q[0], 0);
	assert_int_equal(irq_q[1], CONSOLE_Q_CTRL_RX);
}

static void test_driver_ok_does_not_deliver_ports_1_and_2(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;

	vqh_to_features_ok(h, VQH_FEATURES_ALL);
	for (unsigned q = 0; q < 8; q++)
		vqh_setup_queue(h, q, 16);
	vqh_post_rx(h, 4, 16);
	console_port_send(h->con, 1, "b", 1);
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0xf);
	console_snapshot(h->con, &s);
	assert_int_equal(s.port[1].pending_rx, 1);
	assert_int_equal(vqh_used_idx(h, 4), 0);
}

static void test_notify_events_name_the_queue(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_notify(h, 5);
	vqh_notify(h, 9); /* no such queue: nothing */
	assert_int_equal(vqh_count_events(h, CONSOLE_EV_NOTIFY), 1);
	assert_int_equal(h->events[h->nr_events - 1].queue, 5);
}

static void test_strict_mode_flag_reaches_the_transport(void **state)
{
	struct vqh *h = *state;
	struct console_snapshot s;

	console_set_strict(h->con, true);
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 1);
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 1);
	console_snapshot(h->con, &s);
	assert_true(s.strict);
	assert_int_equal(s.status_rejects, 0);
	assert_int_equal(s.status, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, vqh_setup, vqh_teardown)
		T(test_driver_ok_without_multiport_warns),
		T(test_driver_ok_with_multiport_is_quiet),
		T(test_each_accepted_status_write_is_an_event),
		T(test_rejected_status_write_changes_nothing_and_is_counted),
		T(test_failed_keeps_the_device_answering),
		T(test_driver_ok_delivers_port0_before_control),
		T(test_driver_ok_does_not_deliver_ports_1_and_2),
		T(test_notify_events_name_the_queue),
		T(test_strict_mode_flag_reaches_the_transport),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
