/* Software x86 page walks over page tables built in fake guest memory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emu/guest_mem.h"
#include "emu/pagewalk.h"
#include "tests/unit/pw_builder.h"

#define MEM_SIZE  (16ULL << 20)
#define TABLES_AT 0x100000ULL
#define P_RW_US	  (PW_PTE_P | PW_PTE_RW | PW_PTE_US)

static int setup4(void **state)
{
	struct pwb *b = calloc(1, sizeof(*b));

	pwb_init(b, MEM_SIZE, TABLES_AT, 4);
	*state = b;
	return 0;
}

static int setup5(void **state)
{
	struct pwb *b = calloc(1, sizeof(*b));

	pwb_init(b, MEM_SIZE, TABLES_AT, 5);
	*state = b;
	return 0;
}

static int teardown(void **state)
{
	pwb_free(*state);
	free(*state);
	return 0;
}

static void test_paging_off_is_identity(void **state)
{
	struct pwb *b = *state;
	struct pw_ctx ctx = {.cr0 = 1, .cr3 = 0xdead000};
	struct pw_result res;

	assert_int_equal(pw_translate(&b->gm, &ctx, 0x123456, &res), 0);
	assert_int_equal(res.gpa, 0x123456);
	assert_int_equal(res.nr_levels, 0);
	assert_null(res.fault);
	assert_true(res.writable);
}

static void test_4level_4k(void **state)
{
	struct pwb *b = *state;
	struct pw_ctx ctx = pwb_ctx(b);
	struct pw_result res;
	uint64_t gva = 0xffffffff81234000ULL;
	int i;

	pwb_map(b, gva, 0x345000, 1, PW_PTE_P | PW_PTE_RW);
	assert_int_equal(pw_translate(&b->gm, &ctx, gva + 0x567, &res), 0);
	assert_int_equal(res.gpa, 0x345567);
	assert_int_equal(res.page_size, 0x1000);
	assert_int_equal(res.nr_levels, 4);
	assert_true(res.writable);
	assert_false(res.user); /* the leaf lacks U/S */
	assert_false(res.nx);
	assert_null(res.fault);
	for (i = 0; i < 4; i++) {
		int level = 4 - i;

		assert_int_equal(res.levels[i].level, level);
		assert_ptr_equal(b->gm.host + res.levels[i].entry_gpa,
				 pwb_walk_entry(b, gva, level));
		assert_int_equal(res.levels[i].entry, *pwb_walk_entry(b, gva, level));
	}
	assert_int_equal(res.levels[0].entry_gpa, b->root + ((gva >> 39) & 0x1ff) * 8);
	/* A neighbouring page is not mapped. */
	assert_int_equal(pw_translate(&b->gm, &ctx, gva + 0x1000, &res), -EFAULT);
	assert_string_equal(res.fault, "PTE not present");
}

static void test_4level_2m_ignores_pat_bit(void **state)
{
	struct pwb *b = *state;
	struct pw_ctx ctx = pwb_ctx(b);
	struct pw_result res;

	/* Bit 12 of a large-page entry is PAT, not an address bit. */
	pwb_map(b, 0x40000000, 0x600000 | (1ULL << 12), 2, P_RW_US);
	assert_int_equal(pw_translate(&b->gm, &ctx, 0x40012345, &res), 0);
	assert_int_equal(res.gpa, 0x612345);
	assert_int_equal(res.page_size, 2ULL << 20);
	assert_int_equal(res.nr_levels, 3);
	assert_int_equal(res.levels[2].level, 2);
	assert_true(res.user);
}

static void test_4level_1g(void **state)
{
	struct pwb *b = *state;
	struct pw_ctx ctx = pwb_ctx(b);
	struct pw_result res;

	pwb_map(b, 0x7f8040000000ULL, 0x140000000ULL, 3, P_RW_US);
	assert_int_equal(pw_translate(&b->gm, &ctx, 0x7f8040000000ULL + 0x3456789, &res), 0);
	assert_int_equal(res.gpa, 0x140000000ULL + 0x3456789);
	assert_int_equal(res.page_size, 1ULL << 30);
	assert_int_equal(res.nr_levels, 2);
}

static void test_permissions_accumulate(void **state)
{
	struct pwb *b = *state;
	struct pw_ctx ctx = pwb_ctx(b);
	struct pw_result res;
	uint64_t gva = 0x400000;

	pwb_map(b, gva, 0x200000, 1, P_RW_US | PW_PTE_NX);
	assert_int_equal(pw_translate(&b->gm, &ctx, gva, &res), 0);
	assert_true(res.writable);
	assert_true(res.user);
	assert_true(res.nx);

	/* R/W and U/S off at the PDPTE remove them whatever the leaf says. */
	*pwb_walk_entry(b, gva, 3) &= ~(PW_PTE_RW | PW_PTE_US);
	assert_int_equal(pw_translate(&b->gm, &ctx, gva, &res), 0);
	assert_false(res.writable);
	assert_false(res.user);

	/* Without EFER.NXE bit 63 means nothing. */
	ctx.efer &= ~PW_EFER_NXE;
	assert_int_equal(pw_translate(&b->gm, &ctx, gva, &res), 0);
	assert_false(res.nx);
}

static void test_not_present_names_level(void **state)
{
	static const char *const expect[] = {NULL, "PTE not present", "PDE not present",
					     "PDPTE not present", "PML4E not present"};
	struct pwb *b = *state;
	struct pw_ctx ctx = pwb_ctx(b);
	struct pw_result res;
	uint64_t gva = 0xffff888000042000ULL;
	int level;

	pwb_map(b, gva, 0x42000, 1, P_RW_US);
	for (level = 4; level >= 1; level--) {
		uint64_t *e = pwb_walk_entry(b, gva, level);

		*e &= ~PW_PTE_P;
		assert_int_equal(pw_translate(&b->gm, &ctx, gva, &res), -EFAULT);
		assert_string_equal(res.fault, expect[level]);
		assert_int_equal(res.nr_levels, 5 - level);
		*e |= PW_PTE_P;
	}
	assert_int_equal(pw_translate(&b->gm, &ctx, gva, &res), 0);
	assert_int_equal(res.gpa, 0x42000);
}

static void test_5level(void **state)
{
	struct pwb *b = *state;
	struct pw_ctx ctx = pwb_ctx(b);
	struct pw_result res;
	uint64_t gva = 0xff11000000001000ULL;
	/* Bit 47 set with bits 63:48 clear: canonical only with 57-bit addresses. */
	uint64_t wide = 0x0000800000003000ULL;

	pwb_map(b, gva, 0x7000, 1, P_RW_US);
	pwb_map(b, wide, 0x8000, 1, P_RW_US);
	assert_int_equal(pw_translate(&b->gm, &ctx, gva + 0x10, &res), 0);
	assert_int_equal(res.gpa, 0x7010);
	assert_int_equal(res.nr_levels, 5);
	assert_int_equal(res.levels[0].level, 5);
	assert_int_equal(pw_translate(&b->gm, &ctx, wide, &res), 0);
	assert_int_equal(res.gpa, 0x8000);

	*pwb_walk_entry(b, gva, 5) &= ~PW_PTE_P;
	assert_int_equal(pw_translate(&b->gm, &ctx, gva, &res), -EFAULT);
	assert_string_equal(res.fault, "PML5E not present");

	assert_int_equal(pw_translate(&b->gm, &ctx, 0x0100000000000000ULL, &res), -EFAULT);
	assert_string_equal(res.fault, "non-canonical address");
}

static void test_non_canonical(void **state)
{
	struct pwb *b = *state;
	struct pw_ctx ctx = pwb_ctx(b);
	struct pw_result res;

	pwb_map(b, 0x3000, 0x3000, 1, P_RW_US);
	assert_int_equal(pw_translate(&b->gm, &ctx, 0x0000800000003000ULL, &res), -EFAULT);
	assert_string_equal(res.fault, "non-canonical address");
	assert_int_equal(res.nr_levels, 0);
	assert_int_equal(pw_translate(&b->gm, &ctx, 0xffff7fffffffffffULL, &res), -EFAULT);
	assert_int_equal(pw_translate(&b->gm, &ctx, 0x3000, &res), 0);
}

static void test_table_outside_ram(void **state)
{
	struct pwb *b = *state;
	struct pw_ctx ctx = pwb_ctx(b);
	struct pw_result res;
	uint64_t gva = 0x5000;

	pwb_map(b, gva, 0x5000, 1, P_RW_US);
	*pwb_walk_entry(b, gva, 3) = 0x80000000ULL | P_RW_US; /* the PD would be past RAM */
	assert_int_equal(pw_translate(&b->gm, &ctx, gva, &res), -EIO);
	assert_string_equal(res.fault, "page table at 0x80000000 is not RAM");

	ctx.cr3 = 0xfee00000ULL; /* the LAPIC page */
	assert_int_equal(pw_translate(&b->gm, &ctx, gva, &res), -EIO);
	assert_string_equal(res.fault, "page table at 0xfee00000 is not RAM");
}

static void test_pae_32bit(void **state)
{
	struct pwb *b = *state;
	uint64_t pdpt = 0x200020, pd = 0x201000, pt = 0x202000;
	struct pw_ctx ctx = {
		.cr0 = PW_CR0_PG | 1,
		.cr3 = pdpt | 0x18, /* PWT|PCD are not address bits */
		.cr4 = PW_CR4_PAE,
		.efer = PW_EFER_NXE,
	};
	struct pw_result res;

	/* gva 0xc0123456: PDPTE 3, PDE 0, PTE 0x123. gva 0xc0400000: PDE 2, a 2 MiB page. */
	*(uint64_t *)(b->gm.host + pdpt + 3 * 8) = pd | PW_PTE_P;
	*(uint64_t *)(b->gm.host + pd + 0 * 8) = pt | P_RW_US;
	*(uint64_t *)(b->gm.host + pt + 0x123 * 8) = 0x345000 | PW_PTE_P | PW_PTE_NX;
	*(uint64_t *)(b->gm.host + pd + 2 * 8) = 0xa00000 | P_RW_US | PW_PTE_PS;

	assert_int_equal(pw_translate(&b->gm, &ctx, 0xc0123456, &res), 0);
	assert_int_equal(res.gpa, 0x345456);
	assert_int_equal(res.nr_levels, 3);
	assert_int_equal(res.levels[0].entry_gpa, pdpt + 3 * 8);
	assert_false(res.writable);
	assert_true(res.nx);
	/* Long-mode upper bits are not part of a 32-bit linear address. */
	assert_int_equal(pw_translate(&b->gm, &ctx, 0xc0400000 + 0x1234, &res), 0);
	assert_int_equal(res.gpa, 0xa01234);
	assert_int_equal(res.page_size, 2ULL << 20);
	assert_int_equal(pw_translate(&b->gm, &ctx, 0x00123456, &res), -EFAULT);
	assert_string_equal(res.fault, "PDPTE not present");
}

static void test_legacy_32bit_pse(void **state)
{
	struct pwb *b = *state;
	uint64_t pd = 0x300000, pt = 0x301000;
	struct pw_ctx ctx = {.cr0 = PW_CR0_PG | 1, .cr3 = pd, .cr4 = PW_CR4_PSE};
	struct pw_result res;
	uint32_t *pde = (uint32_t *)(b->gm.host + pd);
	uint32_t *pte = (uint32_t *)(b->gm.host + pt);

	pde[0xc0400000 >> 22] = 0x00800000 | 0x87;	       /* 4 MiB page, P|RW|US|PS */
	pde[0xc0800000 >> 22] = 0x00800000 | (1 << 13) | 0x83; /* PSE-36: +4 GiB */
	pde[0x00400000 >> 22] = pt | 0x07;
	pte[0x5] = 0x00345000 | 0x05; /* read-only */

	assert_int_equal(pw_translate(&b->gm, &ctx, 0xc0412345, &res), 0);
	assert_int_equal(res.gpa, 0x812345);
	assert_int_equal(res.page_size, 4ULL << 20);
	assert_int_equal(res.nr_levels, 1);
	assert_int_equal(res.levels[0].entry, 0x00800087);
	assert_int_equal(pw_translate(&b->gm, &ctx, 0xc0800010, &res), 0);
	assert_int_equal(res.gpa, 0x100800010ULL);
	assert_int_equal(pw_translate(&b->gm, &ctx, 0x00405678, &res), 0);
	assert_int_equal(res.gpa, 0x345678);
	assert_int_equal(res.nr_levels, 2);
	assert_false(res.writable);
	assert_true(res.user);
	assert_int_equal(pw_translate(&b->gm, &ctx, 0x00406000, &res), -EFAULT);
	assert_string_equal(res.fault, "PTE not present");
	assert_int_equal(pw_translate(&b->gm, &ctx, 0x01000000, &res), -EFAULT);
	assert_string_equal(res.fault, "PDE not present");

	/* Without CR4.PSE the PS bit is ignored: the PDE names a page table. */
	ctx.cr4 = 0;
	assert_int_equal(pw_translate(&b->gm, &ctx, 0xc0400000, &res), -EFAULT);
	assert_string_equal(res.fault, "PTE not present");
	assert_int_equal(res.nr_levels, 2);
	assert_int_equal(res.levels[1].entry_gpa, 0x800000);
}

static void test_read_virt_stops_at_unmapped_page(void **state)
{
	struct pwb *b = *state;
	struct pw_ctx ctx = pwb_ctx(b);
	uint8_t out[64], expect[64];
	uint64_t gva = 0xffffc90000000000ULL;
	unsigned i;

	/* Two virtually adjacent pages on non-adjacent frames, then a hole. */
	pwb_map(b, gva, 0x500000, 1, P_RW_US);
	pwb_map(b, gva + 0x1000, 0x400000, 1, P_RW_US);
	for (i = 0; i < 16; i++) {
		b->gm.host[0x500ff0 + i] = (uint8_t)i;
		b->gm.host[0x400000 + i] = (uint8_t)(0x80 + i);
	}
	memset(out, 0xee, sizeof(out));
	assert_int_equal(pw_read_virt(&b->gm, &ctx, gva + 0xff0, out, 32), 32);
	for (i = 0; i < 16; i++) {
		expect[i] = (uint8_t)i;
		expect[16 + i] = (uint8_t)(0x80 + i);
	}
	assert_memory_equal(out, expect, 32);

	assert_int_equal(pw_read_virt(&b->gm, &ctx, gva + 0x1ff8, out, 64), 8);
	assert_int_equal(pw_read_virt(&b->gm, &ctx, gva + 0x2000, out, 64), 0);
	assert_int_equal(pw_read_virt(&b->gm, &ctx, gva, out, 0), 0);

	memset(expect, 0x5a, sizeof(expect));
	assert_int_equal(pw_write_virt(&b->gm, &ctx, gva + 0x1ff0, expect, 64), 16);
	for (i = 0; i < 16; i++)
		assert_int_equal(b->gm.host[0x400ff0 + i], 0x5a);
	assert_int_equal(b->gm.host[0x400fef], 0);

	/* A mapped page whose frame is not RAM reads as nothing. */
	pwb_map(b, gva + 0x3000, 0xd0000000ULL, 1, P_RW_US);
	assert_int_equal(pw_read_virt(&b->gm, &ctx, gva + 0x3000, out, 4), 0);

	/* With paging off a read past the end of RAM stops there. */
	ctx.cr0 = 1;
	assert_int_equal(pw_read_virt(&b->gm, &ctx, MEM_SIZE - 5, out, 64), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_paging_off_is_identity, setup4, teardown),
		cmocka_unit_test_setup_teardown(test_4level_4k, setup4, teardown),
		cmocka_unit_test_setup_teardown(test_4level_2m_ignores_pat_bit, setup4, teardown),
		cmocka_unit_test_setup_teardown(test_4level_1g, setup4, teardown),
		cmocka_unit_test_setup_teardown(test_permissions_accumulate, setup4, teardown),
		cmocka_unit_test_setup_teardown(test_not_present_names_level, setup4, teardown),
		cmocka_unit_test_setup_teardown(test_5level, setup5, teardown),
		cmocka_unit_test_setup_teardown(test_non_canonical, setup4, teardown),
		cmocka_unit_test_setup_teardown(test_table_outside_ram, setup4, teardown),
		cmocka_unit_test_setup_teardown(test_pae_32bit, setup4, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_32bit_pse, setup4, teardown),
		cmocka_unit_test_setup_teardown(test_read_virt_stops_at_unmapped_page, setup4,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
