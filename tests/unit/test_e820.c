/* e820_build: the RAM map the zero page and PVH's memmap hand to the kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "emu/guest_mem.h"
#include "emu/layout.h"
#include "emu/loader.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* e820_build only looks at sizes: no host memory needed for large guests. */
static struct guest_mem fake_mem(uint64_t size)
{
	struct guest_mem gm = {
		.host = NULL,
		.size = size,
		.low_size = size < LAYOUT_RAM_HOLE_START ? size : LAYOUT_RAM_HOLE_START,
	};
	return gm;
}

static void expect_entry(const struct e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	assert_int_equal(e->addr, addr);
	assert_int_equal(e->size, size);
	assert_int_equal(e->type, type);
}

static void expect_low(const struct e820_entry *e, uint64_t low)
{
	expect_entry(&e[0], 0, LAYOUT_EBDA_START, E820_RAM);
	expect_entry(&e[1], LAYOUT_EBDA_START, LAYOUT_BIOS_END - LAYOUT_EBDA_START, E820_RESERVED);
	expect_entry(&e[2], LAYOUT_BIOS_END, low - LAYOUT_BIOS_END, E820_RAM);
}

static void test_16m_with_real_buffer(void **state)
{
	struct e820_entry e[8];
	struct guest_mem gm;
	void *buf = calloc(1, 16 * MiB);

	assert_non_null(buf);
	gm_init_buf(&gm, buf, 16 * MiB);
	assert_int_equal(e820_build(&gm, e, 8), 3);
	expect_low(e, 16 * MiB);
	free(buf);
}

static void test_256m(void **state)
{
	struct guest_mem gm = fake_mem(256 * MiB);
	struct e820_entry e[8];

	assert_int_equal(e820_build(&gm, e, 8), 3);
	expect_low(e, 256 * MiB);
}

static void test_3g_exactly_has_no_high_ram(void **state)
{
	struct guest_mem gm = fake_mem(3 * GiB);
	struct e820_entry e[8];

	assert_int_equal(e820_build(&gm, e, 8), 3);
	expect_low(e, LAYOUT_RAM_HOLE_START);
}

static void test_4g_moves_1g_above_the_hole(void **state)
{
	struct guest_mem gm = fake_mem(4 * GiB);
	struct e820_entry e[8];

	assert_int_equal(e820_build(&gm, e, 8), 4);
	expect_low(e, LAYOUT_RAM_HOLE_START);
	expect_entry(&e[3], LAYOUT_RAM_HIGH_START, 1 * GiB, E820_RAM);
}

static void test_5g(void **state)
{
	struct guest_mem gm = fake_mem(5 * GiB);
	struct e820_entry e[8];
	uint64_t ram = 0;

	assert_int_equal(e820_build(&gm, e, 8), 4);
	expect_low(e, LAYOUT_RAM_HOLE_START);
	expect_entry(&e[3], LAYOUT_RAM_HIGH_START, 2 * GiB, E820_RAM);
	/* All RAM is described once, except what backs the reserved EBDA-to-1 MiB window. */
	for (int i = 0; i < 4; i++)
		if (e[i].type == E820_RAM)
			ram += e[i].size;
	assert_int_equal(ram, 5 * GiB - (LAYOUT_BIOS_END - LAYOUT_EBDA_START));
}

static void test_entries_sorted_and_disjoint(void **state)
{
	const uint64_t sizes[] = { 16 * MiB, 3 * GiB + 4096, 4 * GiB, 5 * GiB, 64 * GiB };

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct guest_mem gm = fake_mem(sizes[s]);
		struct e820_entry e[8];
		int n = e820_build(&gm, e, 8);

		assert_true(n >= 3);
		for (int i = 1; i < n; i++)
			assert_true(e[i - 1].addr + e[i - 1].size <= e[i].addr);
		for (int i = 0; i < n; i++)
			assert_true(e[i].size > 0);
	}
}

static void test_tiny_ram(void **state)
{
	struct e820_entry e[8];
	struct guest_mem gm = fake_mem(256 * 1024);
	int n = e820_build(&gm, e, 8);

	/* 256 KiB: RAM up to its end, the BIOS area reserved, nothing past 1 MiB. */
	assert_int_equal(n, 2);
	expect_entry(&e[0], 0, 256 * 1024, E820_RAM);
	expect_entry(&e[1], LAYOUT_EBDA_START, LAYOUT_BIOS_END - LAYOUT_EBDA_START, E820_RESERVED);

	gm = fake_mem(1 * MiB);
	n = e820_build(&gm, e, 8);
	assert_int_equal(n, 2);
	expect_entry(&e[0], 0, LAYOUT_EBDA_START, E820_RAM);

	gm = fake_mem(1 * MiB + 4096);
	n = e820_build(&gm, e, 8);
	assert_int_equal(n, 3);
	expect_entry(&e[2], LAYOUT_BIOS_END, 4096, E820_RAM);
}

static void test_respects_max(void **state)
{
	struct guest_mem gm = fake_mem(5 * GiB);
	struct e820_entry e[4] = { 0 };
	struct e820_entry guard = { .addr = 0x1234 };

	assert_int_equal(e820_build(&gm, e, 2), 2);
	expect_entry(&e[0], 0, LAYOUT_EBDA_START, E820_RAM);
	expect_entry(&e[1], LAYOUT_EBDA_START, LAYOUT_BIOS_END - LAYOUT_EBDA_START, E820_RESERVED);
	assert_int_equal(e[2].size, 0);
	assert_int_equal(e820_build(&gm, &guard, 0), 0);
	assert_int_equal(guard.addr, 0x1234);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_16m_with_real_buffer),
		cmocka_unit_test(test_256m),
		cmocka_unit_test(test_3g_exactly_has_no_high_ram),
		cmocka_unit_test(test_4g_moves_1g_above_the_hole),
		cmocka_unit_test(test_5g),
		cmocka_unit_test(test_entries_sorted_and_disjoint),
		cmocka_unit_test(test_tiny_ram),
		cmocka_unit_test(test_respects_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
