/* The split virtqueue on its own: pop/push, barriers' visible effects, hostile rings. */
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
#include "virtio/virtio_ids.h"
#include "virtio/virtqueue.h"

#define RAM (16u << 20)
#define DESC 0x1000
#define AVAIL 0x3000
#define USED 0x4000

struct fx {
	uint8_t *ram;
	struct guest_mem gm;
	struct virtqueue vq;
	struct vq_chain ch;
};

static unsigned warns;

static void sink(enum log_level l, const char *m)
{
	if (l <= LOG_WARN)
		warns++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->ram = calloc(1, RAM);
	gm_init_buf(&f->gm, f->ram, RAM);
	vq_init(&f->vq, &f->gm, 256, "test");
	vq_set_size(&f->vq, 16);
	f->vq.desc_gpa = DESC;
	f->vq.avail_gpa = AVAIL;
	f->vq.used_gpa = USED;
	log_sink = sink;
	warns = 0;
	vq_set_ready(&f->vq, true);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	free(f->ram);
	free(f);
	return 0;
}

static void desc(struct fx *f, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = f->ram + DESC + 16u * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void avail_set(struct fx *f, uint16_t pos, uint16_t head)
{
	memcpy(f->ram + AVAIL + 4 + 2u * pos, &head, 2);
}

static void avail_idx(struct fx *f, uint16_t idx)
{
	memcpy(f->ram + AVAIL + 2, &idx, 2);
}

static uint16_t used_idx(struct fx *f)
{
	uint16_t v;

	memcpy(&v, f->ram + USED + 2, 2);
	return v;
}

static void test_pop_empty_ring_returns_zero(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vq_pop(&f->vq, &f->ch), 0);
	assert_false(f->vq.broken);
}

static void test_pop_not_ready_returns_zero(void **state)
{
	struct fx *f = *state;

	desc(f, 0, 0x10000, 8, 0, 0);
	avail_set(f, 0, 0);
	avail_idx(f, 1);
	vq_set_ready(&f->vq, false);
	assert_int_equal(vq_pop(&f->vq, &f->ch), 0);
	assert_int_equal(f->vq.last_avail_idx, 0);
}

static void test_pop_chain_fields_in_order(void **state)
{
	struct fx *f = *state;

	desc(f, 3, 0x10000, 100, VRING_DESC_F_NEXT, 7);
	desc(f, 7, 0x20000, 200, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	desc(f, 1, 0x30000, 300, VRING_DESC_F_WRITE, 0);
	avail_set(f, 0, 3);
	avail_idx(f, 1);
	assert_int_equal(vq_pop(&f->vq, &f->ch), 1);
	assert_int_equal(f->ch.head, 3);
	assert_int_equal(f->ch.n, 3);
	assert_int_equal(f->ch.seg[0].addr, 0x10000);
	assert_int_equal(f->ch.seg[0].len, 100);
	assert_false(f->ch.seg[0].write);
	assert_int_equal(f->ch.seg[1].addr, 0x20000);
	assert_true(f->ch.seg[1].write);
	assert_int_equal(f->ch.seg[2].len, 300);
	assert_int_equal(vq_chain_readable(&f->ch), 100);
	assert_int_equal(vq_chain_writable(&f->ch), 500);
	assert_int_equal(f->vq.last_avail_idx, 1);
	assert_int_equal(f->vq.inuse, 1);
	assert_int_equal(vq_pop(&f->vq, &f->ch), 0);
}

static void test_push_writes_used_element_then_idx(void **state)
{
	struct fx *f = *state;
	uint32_t elem[2];

	desc(f, 5, 0x10000, 8, 0, 0);
	avail_set(f, 0, 5);
	avail_idx(f, 1);
	assert_int_equal(vq_pop(&f->vq, &f->ch), 1);
	assert_int_equal(vq_push(&f->vq, f->ch.head, 42), 0);
	memcpy(elem, f->ram + USED + 4, 8);
	assert_int_equal(elem[0], 5);
	assert_int_equal(elem[1], 42);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(f->vq.inuse, 0);
	assert_int_equal(f->vq.used, 1);
}

static void test_indices_wrap_at_65536(void **state)
{
	struct fx *f = *state;

	f->vq.last_avail_idx = 65535;
	f->vq.used_idx = 65535;
	desc(f, 0, 0x10000, 8, 0, 0);
	desc(f, 1, 0x10000, 8, 0, 0);
	avail_set(f, 65535 % 16, 0);
	avail_set(f, 0, 1);
	avail_idx(f, 1); /* 65535 + 2, wrapped */
	assert_int_equal(vq_pop(&f->vq, &f->ch), 1);
	assert_int_equal(f->ch.head, 0);
	assert_int_equal(vq_push(&f->vq, 0, 0), 0);
	assert_int_equal(vq_pop(&f->vq, &f->ch), 1);
	assert_int_equal(f->ch.head, 1);
	assert_int_equal(vq_push(&f->vq, 1, 0), 0);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(vq_pop(&f->vq, &f->ch), 0);
	assert_false(f->vq.broken);
}

static void test_chain_of_exactly_queue_size_is_accepted(void **state)
{
	struct fx *f = *state;

	for (uint16_t i = 0; i < 16; i++)
		desc(f, i, 0x10000, 1, i < 15 ? VRING_DESC_F_NEXT : 0, i + 1);
	avail_set(f, 0, 0);
	avail_idx(f, 1);
	assert_int_equal(vq_pop(&f->vq, &f->ch), 1);
	assert_int_equal(f->ch.n, 16);
}

static void test_descriptor_loop_breaks_queue_once(void **state)
{
	struct fx *f = *state;

	desc(f, 0, 0x10000, 8, VRING_DESC_F_NEXT, 1);
	desc(f, 1, 0x10000, 8, VRING_DESC_F_NEXT, 0);
	avail_set(f, 0, 0);
	avail_idx(f, 1);
	assert_int_equal(vq_pop(&f->vq, &f->ch), -EIO);
	assert_true(f->vq.broken);
	assert_non_null(strstr(f->vq.broken_reason, "loop"));
	assert_int_equal(f->vq.last_avail_idx, 0);
	assert_int_equal(warns, 1);
	/* Later calls fail fast and do not log again. */
	assert_int_equal(vq_pop(&f->vq, &f->ch), -EIO);
	assert_int_equal(vq_push(&f->vq, 0, 0), -EIO);
	assert_int_equal(warns, 1);
	assert_int_equal(used_idx(f), 0);
}

static void test_next_out_of_range_breaks_queue(void **state)
{
	struct fx *f = *state;

	desc(f, 2, 0x10000, 8, VRING_DESC_F_NEXT, 16);
	avail_set(f, 0, 2);
	avail_idx(f, 1);
	assert_int_equal(vq_pop(&f->vq, &f->ch), -EIO);
	assert_non_null(strstr(f->vq.broken_reason, "next 16"));
}

static void test_head_out_of_range_breaks_queue(void **state)
{
	struct fx *f = *state;

	avail_set(f, 0, 999);
	avail_idx(f, 1);
	assert_int_equal(vq_pop(&f->vq, &f->ch), -EIO);
	assert_non_null(strstr(f->vq.broken_reason, "head 999"));
}

static void test_avail_idx_far_ahead_breaks_queue(void **state)
{
	struct fx *f = *state;

	avail_idx(f, 17); /* 17 > size 16 */
	assert_int_equal(vq_pop(&f->vq, &f->ch), -EIO);
	assert_non_null(strstr(f->vq.broken_reason, "ahead"));
	assert_int_equal(f->vq.last_avail_idx, 0);
}

static void test_avail_idx_exactly_size_ahead_is_fine(void **state)
{
	struct fx *f = *state;

	for (uint16_t i = 0; i < 16; i++) {
		desc(f, i, 0x10000, 1, 0, 0);
		avail_set(f, i, i);
	}
	avail_idx(f, 16);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(vq_pop(&f->vq, &f->ch), 1);
		assert_int_equal(vq_push(&f->vq, f->ch.head, 0), 0);
	}
	assert_int_equal(vq_pop(&f->vq, &f->ch), 0);
}

static void test_rings_outside_ram_break_at_ready(void **state)
{
	struct fx *f = *state;

	vq_set_ready(&f->vq, false);
	f->vq.used_gpa = RAM - 8; /* the used ring runs past the end */
	vq_set_ready(&f->vq, true);
	assert_true(f->vq.broken);
	assert_non_null(strstr(f->vq.broken_reason, "used ring"));
	assert_int_equal(vq_pop(&f->vq, &f->ch), -EIO);

	vq_set_ready(&f->vq, false);
	assert_false(f->vq.broken);
	f->vq.used_gpa = USED;
	f->vq.desc_gpa = 0xFFFFFFFFFFFFFFF0ull; /* sums must not wrap */
	vq_set_ready(&f->vq, true);
	assert_true(f->vq.broken);
	assert_non_null(strstr(f->vq.broken_reason, "descriptor table"));
}

static void test_misaligned_ring_breaks_queue(void **state)
{
	struct fx *f = *state;

	vq_set_ready(&f->vq, false);
	f->vq.avail_gpa = AVAIL + 1;
	vq_set_ready(&f->vq, true);
	assert_true(f->vq.broken);
	assert_non_null(strstr(f->vq.broken_reason, "misaligned"));
}

static void test_indirect_descriptor_breaks_queue(void **state)
{
	struct fx *f = *state;

	desc(f, 0, 0x10000, 16, VRING_DESC_F_INDIRECT, 0);
	avail_set(f, 0, 0);
	avail_idx(f, 1);
	assert_int_equal(vq_pop(&f->vq, &f->ch), -EIO);
	assert_non_null(strstr(f->vq.broken_reason, "indirect"));
}

static void test_reset_clears_broken_and_indices(void **state)
{
	struct fx *f = *state;

	avail_idx(f, 100);
	assert_int_equal(vq_pop(&f->vq, &f->ch), -EIO);
	vq_reset(&f->vq);
	assert_false(f->vq.broken);
	assert_false(f->vq.ready);
	assert_int_equal(f->vq.size, 256);
	assert_int_equal(f->vq.last_avail_idx, 0);
	assert_int_equal(f->vq.desc_gpa, 0);
	assert_int_equal(f->vq.errors, 1); /* counters describe the whole run */
}

static void test_set_size_accepts_powers_of_two_up_to_max(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vq_set_size(&f->vq, 0), -EINVAL);
	assert_int_equal(vq_set_size(&f->vq, 3), -EINVAL);
	assert_int_equal(vq_set_size(&f->vq, 512), -EINVAL);
	assert_int_equal(vq_set_size(&f->vq, 0x10000 + 16), -EINVAL);
	assert_int_equal(f->vq.size, 16);
	assert_int_equal(vq_set_size(&f->vq, 1), 0);
	assert_int_equal(vq_set_size(&f->vq, 256), 0);
	assert_int_equal(f->vq.size, 256);
}

static void test_no_interrupt_flag_suppresses_signal(void **state)
{
	struct fx *f = *state;
	uint16_t flags = VRING_AVAIL_F_NO_INTERRUPT;

	assert_true(vq_should_signal(&f->vq));
	memcpy(f->ram + AVAIL, &flags, 2);
	assert_false(vq_should_signal(&f->vq));
	assert_int_equal(f->vq.interrupts, 1);
	assert_int_equal(f->vq.suppressed, 1);
}

static void test_scatter_reports_torn_write(void **state)
{
	struct fx *f = *state;
	uint8_t src[64];
	size_t written = 99;

	memset(src, 0xAB, sizeof(src));
	desc(f, 0, 0x10000, 32, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	desc(f, 1, RAM + 0x1000, 32, VRING_DESC_F_WRITE, 0);
	avail_set(f, 0, 0);
	avail_idx(f, 1);
	assert_int_equal(vq_pop(&f->vq, &f->ch), 1);
	assert_int_equal(vq_chain_scatter(&f->vq, &f->ch, src, sizeof(src), &written), -EFAULT);
	assert_int_equal(written, 32);
	assert_int_equal(f->ram[0x10000 + 31], 0xAB);
}

static void test_scatter_stops_when_chain_is_full(void **state)
{
	struct fx *f = *state;
	uint8_t src[100];
	size_t written;

	for (int i = 0; i < 100; i++)
		src[i] = (uint8_t)i;
	desc(f, 0, 0x10000, 10, VRING_DESC_F_NEXT, 1);   /* readable: skipped */
	desc(f, 1, 0x20000, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	desc(f, 2, 0x30000, 40, VRING_DESC_F_WRITE, 0);
	avail_set(f, 0, 0);
	avail_idx(f, 1);
	assert_int_equal(vq_pop(&f->vq, &f->ch), 1);
	assert_int_equal(vq_chain_scatter(&f->vq, &f->ch, src, sizeof(src), &written), 0);
	assert_int_equal(written, 40);
	assert_memory_equal(f->ram + 0x30000, src, 40);
	assert_int_equal(f->ram[0x10000], 0);
}

static void test_gather_caps_each_descriptor_and_skips_faults(void **state)
{
	struct fx *f = *state;
	uint8_t dst[64];
	bool faulted;

	memset(f->ram + 0x10000, 'a', 16);
	memset(f->ram + 0x20000, 'b', 16);
	desc(f, 0, 0x10000, 16, VRING_DESC_F_NEXT, 1);
	desc(f, 1, RAM, 16, VRING_DESC_F_NEXT, 2);
	desc(f, 2, 0x40000, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
	desc(f, 3, 0x20000, 16, 0, 0);
	avail_set(f, 0, 0);
	avail_idx(f, 1);
	assert_int_equal(vq_pop(&f->vq, &f->ch), 1);
	assert_int_equal(vq_chain_gather(&f->vq, &f->ch, dst, sizeof(dst), 4, &faulted), 8);
	assert_true(faulted);
	assert_memory_equal(dst, "aaaabbbb", 8);
	assert_int_equal(vq_chain_gather(&f->vq, &f->ch, dst, 20, 0, &faulted), 20);
}

static void test_snapshot_reads_guest_indices(void **state)
{
	struct fx *f = *state;
	struct vq_snapshot s;

	desc(f, 0, 0x10000, 8, 0, 0);
	avail_set(f, 0, 0);
	avail_set(f, 1, 0);
	avail_idx(f, 2);
	assert_int_equal(vq_pop(&f->vq, &f->ch), 1);
	vq_push(&f->vq, 0, 0);
	vq_snapshot(&f->vq, &s);
	assert_true(s.ready);
	assert_true(s.rings_readable);
	assert_int_equal(s.size, 16);
	assert_int_equal(s.guest_avail_idx, 2);
	assert_int_equal(s.last_avail_idx, 1);
	assert_int_equal(s.pending, 1);
	assert_int_equal(s.guest_used_idx, 1);
	assert_int_equal(s.popped, 1);
	assert_int_equal(s.desc_gpa, DESC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_pop_empty_ring_returns_zero),
		T(test_pop_not_ready_returns_zero),
		T(test_pop_chain_fields_in_order),
		T(test_push_writes_used_element_then_idx),
		T(test_indices_wrap_at_65536),
		T(test_chain_of_exactly_queue_size_is_accepted),
		T(test_descriptor_loop_breaks_queue_once),
		T(test_next_out_of_range_breaks_queue),
		T(test_head_out_of_range_breaks_queue),
		T(test_avail_idx_far_ahead_breaks_queue),
		T(test_avail_idx_exactly_size_ahead_is_fine),
		T(test_rings_outside_ram_break_at_ready),
		T(test_misaligned_ring_breaks_queue),
		T(test_indirect_descriptor_breaks_queue),
		T(test_reset_clears_broken_and_indices),
		T(test_set_size_accepts_powers_of_two_up_to_max),
		T(test_no_interrupt_flag_suppresses_signal),
		T(test_scatter_reports_torn_write),
		T(test_scatter_stops_when_chain_is_full),
		T(test_gather_caps_each_descriptor_and_skips_faults),
		T(test_snapshot_reads_guest_indices),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
