/*
 * Tx polling (console_tx_poll): VRING_USED_F_NO_NOTIFY while the host polls, the same caps,
 * interrupts and wake-ups as a notify, and the flag cleared (without stranding a chain) when
 * polling ends, at reset, and for a held-back port. Also the lock-free interrupt registers.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vq_harness.h"

#define KiB 1024u

static uint16_t post_tx(struct vqh *h, unsigned port, uint32_t len, uint8_t fill)
{
	struct vqh_buf b = { .len = len };
	uint16_t head = vqh_add_chain(h, console_tx_queue(port), &b, 1);

	memset(vqh_host(h, b.addr), fill, len);
	return head;
}

static uint16_t used_flags(struct vqh *h, unsigned q)
{
	uint16_t f;

	memcpy(&f, vqh_host(h, h->q[q].used), 2);
	return f;
}

static size_t host_len(struct vqh *h, unsigned port)
{
	struct console_snapshot s;

	console_snapshot(h->con, &s);
	return s.port[port].host_tx;
}

static void test_start_sets_no_notify_and_takes_what_is_there(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	post_tx(h, 1, 1000, 0x11);
	assert_int_equal(console_tx_poll(h->con, 1, true, false), CONSOLE_POLL_KEEP);
	assert_int_equal(used_flags(h, 5) & VRING_USED_F_NO_NOTIFY, VRING_USED_F_NO_NOTIFY);
	assert_int_equal(vqh_used_idx(h, 5), 1);
	assert_int_equal(host_len(h, 1), 1000);
	assert_int_equal(h->irqs, 1);
	assert_int_equal(h->wakes[CONSOLE_WAKE_GROUP_CONSOLE], 1);
	/* Other queues are left alone. */
	assert_int_equal(used_flags(h, 7), 0);
	assert_int_equal(used_flags(h, 1), 0);
}

static void test_tick_keeps_the_per_call_cap(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	assert_int_equal(console_tx_poll(h->con, 1, true, false), CONSOLE_POLL_KEEP);
	for (int i = 0; i < 9; i++)
		post_tx(h, 1, 32 * KiB, (uint8_t)i);
	assert_int_equal(console_tx_poll(h->con, 1, false, false), CONSOLE_POLL_BUSY);
	assert_int_equal(vqh_used_idx(h, 5), 8);
	assert_int_equal(host_len(h, 1), 256 * KiB);
	assert_int_equal(h->irqs, 1);
	assert_int_equal(console_tx_poll(h->con, 1, false, false), CONSOLE_POLL_KEEP);
	assert_int_equal(vqh_used_idx(h, 5), 9);
	assert_int_equal(h->irqs, 2);
	/* Ticks count as device calls, not as guest notifies. */
	assert_int_equal(vqh_count_events(h, CONSOLE_EV_NOTIFY), 0);
}

static void test_empty_tick_idles_then_stops_and_clears_the_flag(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	assert_int_equal(console_tx_poll(h->con, 1, true, false), CONSOLE_POLL_KEEP);
	assert_int_equal(console_tx_poll(h->con, 1, false, false), CONSOLE_POLL_IDLE);
	assert_int_equal(used_flags(h, 5) & VRING_USED_F_NO_NOTIFY, VRING_USED_F_NO_NOTIFY);
	assert_int_equal(console_tx_poll(h->con, 1, false, true), CONSOLE_POLL_STOP);
	assert_int_equal(used_flags(h, 5), 0);
	assert_int_equal(h->irqs, 0);
	assert_int_equal(h->wakes[0] + h->wakes[1], 0);
	/* Notifies work as before once polling stopped. */
	vqh_guest_write(h, 1, "after", 5);
	assert_int_equal(host_len(h, 1), 5);
}

static void test_stop_with_a_chain_pending_keeps_polling(void **state)
{
	struct vqh *h = *state;
	struct vqh_buf b = { .len = 100 };

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	assert_int_equal(console_tx_poll(h->con, 1, true, false), CONSOLE_POLL_KEEP);
	/* Published after the last tick while the flag was set: stopping must not strand it. */
	vqh_add_chain(h, 5, &b, 1);
	assert_int_equal(console_tx_poll(h->con, 1, false, true), CONSOLE_POLL_KEEP);
	assert_int_equal(vqh_used_idx(h, 5), 1);
	assert_int_equal(used_flags(h, 5) & VRING_USED_F_NO_NOTIFY, VRING_USED_F_NO_NOTIFY);
	assert_int_equal(console_tx_poll(h->con, 1, false, true), CONSOLE_POLL_STOP);
	assert_int_equal(used_flags(h, 5), 0);
}

static void test_held_back_port_stops_polling(void **state)
{
	struct vqh *h = *state;
	unsigned n = CONSOLE_TX_HIGH_WATER / (32 * KiB);

	vqh_init_device(h, VQH_FEATURES_ALL, 256);
	for (unsigned i = 0; i < n; i++)
		post_tx(h, 1, 32 * KiB, (uint8_t)i);
	assert_int_equal(console_tx_poll(h->con, 1, true, false), CONSOLE_POLL_BUSY);
	while (console_tx_poll(h->con, 1, false, false) == CONSOLE_POLL_BUSY)
		;
	assert_int_equal(host_len(h, 1), CONSOLE_TX_HIGH_WATER);
	post_tx(h, 1, 100, 0x22);
	/* At the high-water mark: the chain stays, the flag goes, notifies are back. */
	assert_int_equal(console_tx_poll(h->con, 1, false, false), CONSOLE_POLL_STOP);
	assert_int_equal(used_flags(h, 5), 0);
	assert_int_equal(vqh_used_idx(h, 5), n);
}

static void test_reset_clears_the_flag_and_polling_stops(void **state)
{
	struct vqh *h = *state;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	assert_int_equal(console_tx_poll(h->con, 1, true, false), CONSOLE_POLL_KEEP);
	post_tx(h, 1, 64, 0x33);
	vqh_wr32(h, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(used_flags(h, 5), 0);
	/* The reset captured the published chain, as without polling. */
	assert_int_equal(host_len(h, 1), 64);
	assert_int_equal(console_tx_poll(h->con, 1, false, false), CONSOLE_POLL_STOP);
}

static void test_poll_gates_and_bad_port(void **state)
{
	struct vqh *h = *state;

	assert_int_equal(console_tx_poll(h->con, 3, true, false), -EINVAL);
	/* Before DRIVER_OK. */
	assert_int_equal(console_tx_poll(h->con, 1, true, false), CONSOLE_POLL_STOP);
	vqh_init_device(h, VQH_FEATURES_NO_MULTIPORT, 16);
	assert_int_equal(console_tx_poll(h->con, 1, true, false), CONSOLE_POLL_STOP);
	assert_int_equal(used_flags(h, 5), 0);
	assert_int_equal(console_tx_poll(h->con, 0, true, false), CONSOLE_POLL_KEEP);
	assert_int_equal(used_flags(h, 1), VRING_USED_F_NO_NOTIFY);
}

static pthread_barrier_t lock_held, reads_done;

static void *hold_lock(void *arg)
{
	struct vqh *h = arg;

	virtio_mmio_lock(&h->con->mmio);
	pthread_barrier_wait(&lock_held);
	pthread_barrier_wait(&reads_done);
	virtio_mmio_unlock(&h->con->mmio);
	return NULL;
}

static void test_interrupt_registers_do_not_wait_for_the_device_lock(void **state)
{
	struct vqh *h = *state;
	uint16_t w = 0;
	pthread_t t;

	vqh_init_device(h, VQH_FEATURES_ALL, 16);
	vqh_guest_write(h, 1, "x", 1);
	pthread_barrier_init(&lock_held, NULL, 2);
	pthread_barrier_init(&reads_done, NULL, 2);
	assert_int_equal(pthread_create(&t, NULL, hold_lock, h), 0);
	pthread_barrier_wait(&lock_held);
	/* Another thread holds the lock (a host tx walk); a regression hangs: alarm fails it. */
	alarm(10);
	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	vqh_wr32(h, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	alarm(0);
	pthread_barrier_wait(&reads_done);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&lock_held);
	pthread_barrier_destroy(&reads_done);
	/* Other widths keep the width rule (all 0xff), through the locked path. */
	vqh_read(h, VIRTIO_MMIO_INTERRUPT_STATUS, &w, 2);
	assert_int_equal(w, 0xffff);
	/* A new signal after the ACK sets the bit again. */
	vqh_guest_write(h, 1, "y", 1);
	assert_int_equal(vqh_rd32(h, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, vqh_setup, vqh_teardown)
		T(test_start_sets_no_notify_and_takes_what_is_there),
		T(test_tick_keeps_the_per_call_cap),
		T(test_empty_tick_idles_then_stops_and_clears_the_flag),
		T(test_stop_with_a_chain_pending_keeps_polling),
		T(test_held_back_port_stops_polling),
		T(test_reset_clears_the_flag_and_polling_stops),
		T(test_poll_gates_and_bad_port),
		T(test_interrupt_registers_do_not_wait_for_the_device_lock),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
