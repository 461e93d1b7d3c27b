/* The small machine pieces: guest memory windows, buses, CPUID filtering, host buffers,
 * the terminal's Ctrl-A escapes and the panic watcher. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/panic_watch.h"
#include "cli/term.h"
#include "emu/bus.h"
#include "emu/cpuid.h"
#include "emu/guest_mem.h"
#include "emu/hostbuf.h"
#include "emu/layout.h"

static void gm_windows_small(void **state)
{
	static uint8_t ram[1 << 20];
	struct guest_mem gm;
	uint8_t b[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	gm_init_buf(&gm, ram, sizeof(ram));
	assert_int_equal(gm.low_size, sizeof(ram));
	assert_int_equal(gm_high_size(&gm), 0);
	assert_int_equal(gm_end(&gm), sizeof(ram));
	assert_ptr_equal(gm_ptr(&gm, 0, 1), ram);
	assert_ptr_equal(gm_ptr(&gm, sizeof(ram) - 8, 8), ram + sizeof(ram) - 8);
	assert_null(gm_ptr(&gm, sizeof(ram) - 7, 8));
	assert_null(gm_ptr(&gm, sizeof(ram), 0 + 1));
	assert_null(gm_ptr(&gm, 0, UINT64_MAX));
	assert_null(gm_ptr(&gm, UINT64_MAX, 2));
	assert_int_equal(gm_write(&gm, 100, b, 8), 0);
	assert_memory_equal(ram + 100, b, 8);
	assert_int_equal(gm_write(&gm, sizeof(ram) - 4, b, 8), -EFAULT);
	assert_int_equal(ram[sizeof(ram) - 4], 0); /* nothing written on failure */
	assert_int_equal(gm_read(&gm, sizeof(ram) - 4, b, 8), -EFAULT);
}

/* 5 GiB of RAM: 3 GiB at 0, 2 GiB at 4 GiB; the hole is not RAM. */
static void gm_windows_above_hole(void **state)
{
	struct guest_mem gm;

	gm_init_buf(&gm, (void *)0x1000, 5ULL << 30);
	assert_int_equal(gm.low_size, LAYOUT_RAM_HOLE_START);
	assert_int_equal(gm_high_size(&gm), 2ULL << 30);
	assert_int_equal(gm_end(&gm), LAYOUT_RAM_HIGH_START + (2ULL << 30));
	assert_true(gm_is_ram(&gm, LAYOUT_RAM_HOLE_START - 1, 1));
	assert_false(gm_is_ram(&gm, LAYOUT_RAM_HOLE_START, 1));
	assert_false(gm_is_ram(&gm, LAYOUT_RAM_HOLE_START - 1, 2)); /* crosses into the hole */
	assert_false(gm_is_ram(&gm, LAYOUT_MMIO_START, 4));
	assert_ptr_equal(gm_ptr(&gm, LAYOUT_RAM_HIGH_START, 1),
			 (uint8_t *)0x1000 + LAYOUT_RAM_HOLE_START);
	assert_true(gm_is_ram(&gm, LAYOUT_RAM_HIGH_START + (2ULL << 30) - 1, 1));
	assert_false(gm_is_ram(&gm, LAYOUT_RAM_HIGH_START + (2ULL << 30), 1));
	assert_false(gm_is_ram(&gm, LAYOUT_RAM_HIGH_START + 1, UINT64_MAX));
}

static uint64_t last_off, last_val;
static unsigned writes;

static void dev_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	memset(data, (int)(uintptr_t)opaque, len);
	last_off = off;
}

static void dev_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
	last_off = off;
	last_val = 0;
	memcpy(&last_val, data, len);
	writes++;
}

static const struct bus_dev_ops dev_ops = { dev_read, dev_write };

static void bus_routing(void **state)
{
	struct bus bus = { .name = "test" };
	uint32_t v = 0x12345678;
	uint8_t b[4];

	assert_int_equal(bus_register(&bus, 0x3f8, 8, &dev_ops, (void *)0x11, "a"), 0);
	assert_int_equal(bus_register(&bus, 0x2f8, 8, &dev_ops, (void *)0x22, "b"), 0);
	assert_int_equal(bus_register(&bus, 0x3fc, 8, &dev_ops, NULL, "overlap"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x100, 0, &dev_ops, NULL, "empty"), -EINVAL);
	assert_true(bus_access(&bus, 0x3fb, b, 1, false));
	assert_int_equal(last_off, 3);
	assert_int_equal(b[0], 0x11);
	assert_true(bus_access(&bus, 0x2f9, &v, 4, true));
	assert_int_equal(last_off, 1);
	assert_int_equal(last_val, 0x12345678);
	/* Nobody owns 0x80: reads float high, writes vanish. */
	writes = 0;
	assert_false(bus_access(&bus, 0x80, b, 4, false));
	assert_int_equal(b[0] & b[1] & b[2] & b[3], 0xff);
	assert_false(bus_access(&bus, 0x80, &v, 4, true));
	assert_int_equal(writes, 0);
	assert_string_equal(bus_find(&bus, 0x2ff)->name, "b");
	assert_null(bus_find(&bus, 0x300));
}

static void bus_full(void **state)
{
	struct bus bus = { .name = "test" };

	for (int i = 0; i < BUS_MAX_RANGES; i++)
		assert_int_equal(bus_register(&bus, i * 16, 16, &dev_ops, NULL, "x"), 0);
	assert_int_equal(bus_register(&bus, 0x10000, 16, &dev_ops, NULL, "x"), -ENOSPC);
}

static struct kvm_cpuid2 *make_cpuid(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 4 * sizeof(c->entries[0]));

	c->nent = 4;
	c->entries[0] = (struct kvm_cpuid_entry2){ .function = 1, .ecx = 0xffffffff,
						    .edx = 0xffffffff, .ebx = 0x00010800 };
	c->entries[1] = (struct kvm_cpuid_entry2){ .function = 7, .index = 0,
						    .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
						    .ebx = 0xffffffff };
	c->entries[2] = (struct kvm_cpuid_entry2){ .function = 7, .index = 1,
						    .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
						    .ebx = 0xffffffff };
	c->entries[3] = (struct kvm_cpuid_entry2){ .function = 0xb, .edx = 0 };
	return c;
}

static void cpuid_filtering(void **state)
{
	struct kvm_cpuid2 *c = make_cpuid();
	char err[512];

	assert_int_equal(cpuid_filter(c, "-cx16,-smap,popcnt", err, sizeof(err)), 0);
	assert_int_equal(c->entries[0].ecx & (1u << 13), 0);
	assert_int_equal(c->entries[0].ecx & (1u << 23), 0);
	assert_int_not_equal(c->entries[0].ecx & (1u << 26), 0); /* xsave untouched */
	assert_int_equal(c->entries[1].ebx & (1u << 20), 0);
	assert_int_equal(c->entries[2].ebx, 0xffffffff);         /* leaf 7.1 untouched */
	assert_int_equal(cpuid_filter(c, "-xsave", err, sizeof(err)), 0);
	/* XSAVE gone takes OSXSAVE and AVX with it. */
	assert_int_equal(c->entries[0].ecx & ((1u << 26) | (1u << 27) | (1u << 28)), 0);
	assert_int_equal(cpuid_filter(c, "-bogus", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown feature 'bogus'"));
	assert_int_equal(cpuid_filter(c, "-cx16,,-smap", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty feature name"));
	free(c);
}

static void cpuid_apic_ids(void **state)
{
	struct kvm_cpuid2 *c = make_cpuid();

	cpuid_set_apic_id(c, 3, 4);
	assert_int_equal(c->entries[0].ebx >> 24, 3);
	assert_int_equal((c->entries[0].ebx >> 16) & 0xff, 4);
	assert_int_equal(c->entries[0].ebx & 0xffff, 0x0800); /* brand/clflush kept */
	assert_int_equal(c->entries[3].edx, 3);
	cpuid_set_apic_id(c, 0, 4);
	assert_int_equal(c->entries[0].ebx >> 24, 0);
	free(c);
}

/* Hardware KVM's table as KVM_GET_SUPPORTED_CPUID gives it: hypervisor and TSC-deadline clear. */
static void cpuid_vmm_bits(void **state)
{
	struct kvm_cpuid2 *c = make_cpuid();
	char err[512];

	c->entries[0].ecx = (1u << 5) | (1u << 13); /* vmx, cx16 */
	cpuid_complete(c, false);
	assert_int_equal(c->entries[0].ecx, (1u << 31) | (1u << 13));
	cpuid_complete(c, true);
	assert_int_equal(c->entries[0].ecx, (1u << 31) | (1u << 24) | (1u << 13));
	/* A user's filter comes after and wins. */
	assert_int_equal(cpuid_filter(c, "-hypervisor,-tsc_deadline_timer", err, sizeof(err)), 0);
	assert_int_equal(c->entries[0].ecx, 1u << 13);
	free(c);
}

static void hostbuf_fifo(void **state)
{
	struct hostbuf hb;
	char out[16];

	assert_int_equal(hostbuf_init(&hb, 8), 0);
	hostbuf_put(&hb, "abcde", 5);
	assert_int_equal(hostbuf_take(&hb, out, 3), 3);
	assert_memory_equal(out, "abc", 3);
	hostbuf_put(&hb, "fghijk", 6); /* wraps around the end of the ring */
	assert_int_equal(hostbuf_take(&hb, out, sizeof(out)), 8);
	assert_memory_equal(out, "defghijk", 8);
	assert_int_equal(hostbuf_take(&hb, out, sizeof(out)), 0);
	assert_int_equal(hb.total_in, 11);
	assert_int_equal(hb.total_out, 11);
	/* Closed: a producer with no room returns instead of waiting forever. */
	hostbuf_put(&hb, "12345678", 8);
	hostbuf_close(&hb);
	hostbuf_put(&hb, "more", 4);
	assert_int_equal(hostbuf_take(&hb, out, sizeof(out)), 8);
	hostbuf_free(&hb);
}

static void term_escapes(void **state)
{
	struct term_escape esc = { 0 };
	enum term_action a;
	uint8_t out[16];
	size_t used, n;

	n = term_filter(&esc, (const uint8_t *)"ab", 2, out, &a, &used);
	assert_int_equal(n, 2);
	assert_int_equal(a, TERM_NONE);
	assert_int_equal(used, 2);
	n = term_filter(&esc, (const uint8_t *)"a\001xzz", 5, out, &a, &used);
	assert_int_equal(n, 1);
	assert_int_equal(a, TERM_QUIT);
	assert_int_equal(used, 3); /* the bytes after the command are left */
	n = term_filter(&esc, (const uint8_t *)"\001\001", 2, out, &a, &used);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 1);
	/* An escape split across two reads. */
	n = term_filter(&esc, (const uint8_t *)"\001", 1, out, &a, &used);
	assert_int_equal(n, 0);
	assert_int_equal(a, TERM_NONE);
	n = term_filter(&esc, (const uint8_t *)"h", 1, out, &a, &used);
	assert_int_equal(a, TERM_HELP);
	n = term_filter(&esc, (const uint8_t *)"\001c", 2, out, &a, &used);
	assert_int_equal(a, TERM_SWITCH);
	n = term_filter(&esc, (const uint8_t *)"\001qz", 3, out, &a, &used);
	assert_int_equal(a, TERM_NONE);
	assert_int_equal(n, 1); /* unknown escape dropped, 'z' passes */
	assert_int_equal(out[0], 'z');
}

static void panic_detection(void **state)
{
	struct panic_watch w = { 0 };
	const char *a = "[  1.0] Kernel pa", *b = "nic - not syncing: VFS\n";

	assert_false(panic_watch_feed(&w, (const uint8_t *)"Kernel panic!", 13));
	assert_false(panic_watch_feed(&w, (const uint8_t *)a, strlen(a)));
	assert_true(panic_watch_feed(&w, (const uint8_t *)b, strlen(b)));
	w.matched = 0;
	assert_true(panic_watch_feed(&w, (const uint8_t *)"KKernel panic - not syncing", 27));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gm_windows_small), cmocka_unit_test(gm_windows_above_hole),
		cmocka_unit_test(bus_routing),      cmocka_unit_test(bus_full),
		cmocka_unit_test(cpuid_filtering),  cmocka_unit_test(cpuid_apic_ids),
		cmocka_unit_test(cpuid_vmm_bits),
		cmocka_unit_test(hostbuf_fifo),     cmocka_unit_test(term_escapes),
		cmocka_unit_test(panic_detection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
