/* Finding the event frame a single step left TF in (emu/stepframe.c), on made-up stacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "emu/stepframe.h"

#define TF (1ULL << 8)
#define IF (1ULL << 9)
#define RF (1ULL << 16)

static const struct stepframe before = {
	.armed = true, .vector = 32, .rip = 0xffffffff8010cff7ULL, .cs = 0x10,
	.rflags = 0x202, .rsp = 0xffffffff8011ac00ULL, .ss = 0x18,
};

/* A stack as seen after the step: PUSHED qwords of the handler, then the 64-bit frame. */
static size_t stack(uint64_t *q, size_t pushed, uint64_t rip, uint64_t rflags)
{
	size_t n = 0;

	for (size_t i = 0; i < pushed; i++)
		q[n++] = 0x1111 * (i + 1);
	q[n++] = rip;
	q[n++] = 0x10;
	q[n++] = rflags;
	q[n++] = before.rsp;
	q[n++] = 0x18;
	q[n++] = 0xdead; /* the interrupted code's stack */
	return n;
}

static void test_injected_interrupt_frame(void **state)
{
	uint64_t q[16];
	size_t n = stack(q, 2, before.rip, before.rflags | TF);

	(void)state;
	assert_int_equal(stepframe_find(q, n, &before), 4); /* RFLAGS after RIP and CS */
	assert_int_equal(stepframe_find(q, stack(q, 0, before.rip, before.rflags | TF), &before), 2);
}

static void test_trap_frame_rip_after(void **state)
{
	uint64_t q[16];

	(void)state;
	/* int3 / INT n: the frame holds the next instruction, at most 15 bytes on. */
	assert_int_equal(stepframe_find(q, stack(q, 1, before.rip + 1, before.rflags | TF), &before), 3);
	assert_int_equal(stepframe_find(q, stack(q, 1, before.rip + 15, before.rflags | TF), &before), 3);
	assert_int_equal(stepframe_find(q, stack(q, 1, before.rip + 16, before.rflags | TF), &before), -1);
	assert_int_equal(stepframe_find(q, stack(q, 1, before.rip - 1, before.rflags | TF), &before), -1);
}

static void test_rf_ignored(void **state)
{
	uint64_t q[16];

	(void)state;
	assert_int_equal(stepframe_find(q, stack(q, 1, before.rip, before.rflags | TF | RF), &before), 3);
}

static void test_no_tf_no_match(void **state)
{
	uint64_t q[16];

	(void)state;
	/* Nothing leaked: the frame's TF is clear, there is nothing to clear. */
	assert_int_equal(stepframe_find(q, stack(q, 1, before.rip, before.rflags), &before), -1);
	/* Other flags differ: not this step's frame. */
	assert_int_equal(stepframe_find(q, stack(q, 1, before.rip, (before.rflags & ~IF) | TF), &before), -1);
}

static void test_other_fields_must_match(void **state)
{
	uint64_t q[16];
	size_t n;

	(void)state;
	n = stack(q, 1, before.rip, before.rflags | TF);
	q[2] = 0x33; /* CS */
	assert_int_equal(stepframe_find(q, n, &before), -1);
	n = stack(q, 1, before.rip, before.rflags | TF);
	q[4] = before.rsp - 8; /* RSP */
	assert_int_equal(stepframe_find(q, n, &before), -1);
	n = stack(q, 1, before.rip, before.rflags | TF);
	q[5] = 0x2b; /* SS */
	assert_int_equal(stepframe_find(q, n, &before), -1);
	/* Selector bits above 16 (the CPU leaves them undefined) are ignored. */
	n = stack(q, 1, before.rip, before.rflags | TF);
	q[2] |= 0xabcd0000ULL;
	q[5] |= 0x12340000ULL;
	assert_int_equal(stepframe_find(q, n, &before), 3);
}

static void test_short_reads(void **state)
{
	uint64_t q[16];
	size_t n = stack(q, 3, before.rip, before.rflags | TF);

	(void)state;
	assert_int_equal(stepframe_find(q, 0, &before), -1);
	assert_int_equal(stepframe_find(q, 7, &before), -1); /* SS cut off: no whole frame */
	assert_int_equal(stepframe_find(q, 8, &before), 5);
	assert_int_equal(stepframe_find(q, n, &before), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_injected_interrupt_frame),
		cmocka_unit_test(test_trap_frame_rip_after),
		cmocka_unit_test(test_rf_ignored),
		cmocka_unit_test(test_no_tf_no_match),
		cmocka_unit_test(test_other_fields_must_match),
		cmocka_unit_test(test_short_reads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
