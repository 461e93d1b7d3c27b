/* Symbol tables: System.map text, an ELF .symtab (this test binary), lookups, slides. */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "emu/symbols.h"
#include "scratch.h"


static const char system_map[] = "ffffffff81000000 T _text\n"
				 "ffffffff81000000 T startup_64\n"
				 "this is not a symbol line\n"
				 "ffffffff81000040 t secondary_startup_64\n"
				 "zzzz T bad_address\n"
				 "ffffffff81000100 T do_one\n"
				 "ffffffff81000100 T do_one\n" /* duplicate line */
				 "ffffffff81000200 D some_data\n"
				 "0000000000000000 D __per_cpu_start\n"
				 "                 U undefined_thing\n"
				 "ffffffff81000300 T\n"
				 "ffffffff81000380 TT two_letter_type\n"
				 "12345678901234567890 T too_long_address\n"
				 "\n"
				 "ffffffff81000400 T last_sym\t[some_module]\n";

static void expect_at(const struct symtab *st, uint64_t addr, const char *name, uint64_t off)
{
	uint64_t o = ~0ULL;
	const struct symbol *s = symtab_lookup_addr(st, addr, &o);

	if (!s)
		fail_msg("0x%llx: no symbol, expected %s", (unsigned long long)addr, name);
	assert_string_equal(s->name, name);
	assert_int_equal(o, off);
}

static void test_system_map(void **state)
{
	struct symtab st;
	char err[256] = "", buf[128];
	uint64_t addr;

	symtab_init(&st);
	assert_int_equal(
		symtab_load(&st, scratch_file(NULL, system_map, strlen(system_map)), err, sizeof(err)), 6);
	assert_int_equal(st.nr, 6);
	assert_non_null(strstr(st.path, scratch_dir));

	/* Two names at one address: the one a backtrace should show wins; both resolve. */
	expect_at(&st, 0xffffffff81000000, "startup_64", 0);
	expect_at(&st, 0xffffffff81000050, "secondary_startup_64", 0x10);
	expect_at(&st, 0xffffffff810001ff, "do_one", 0xff);
	expect_at(&st, 0xffffffff81000210, "some_data", 0x10);
	expect_at(&st, 0xffffffff81000410, "last_sym", 0x10);
	assert_null(symtab_lookup_addr(&st, 0xffffffff80ffffff, NULL));
	/* An unsized last symbol does not swallow everything above it. */
	assert_null(symtab_lookup_addr(&st, 0xffffffff81000400 + SYMTAB_UNSIZED_MAX, NULL));
	expect_at(&st, 0xffffffff81000400 + SYMTAB_UNSIZED_MAX - 1, "last_sym",
		  SYMTAB_UNSIZED_MAX - 1);

	assert_int_equal(symtab_lookup_name(&st, "_text", &addr), 0);
	assert_int_equal(addr, 0xffffffff81000000);
	assert_int_equal(symtab_lookup_name(&st, "startup_64", &addr), 0);
	assert_int_equal(addr, 0xffffffff81000000);
	assert_int_equal(symtab_lookup_name(&st, "last_sym", &addr), 0);
	assert_int_equal(addr, 0xffffffff81000400);
	assert_int_equal(symtab_lookup_name(&st, "some_data", &addr), 0);
	assert_int_equal(addr, 0xffffffff81000200);
	assert_int_equal(symtab_lookup_name(&st, "bad_address", &addr), -ENOENT);
	assert_int_equal(symtab_lookup_name(&st, "__per_cpu_start", &addr), -ENOENT);
	assert_int_equal(symtab_lookup_name(&st, "two_letter_type", &addr), -ENOENT);
	assert_int_equal(symtab_lookup_name(&st, "too_long_address", &addr), -ENOENT);
	assert_int_equal(symtab_lookup_name(&st, "do_on", &addr), -ENOENT);

	assert_int_equal(symtab_lookup_addr(&st, 0xffffffff81000100, NULL)->type, 'T');
	assert_int_equal(symtab_lookup_addr(&st, 0xffffffff81000040, NULL)->type, 't');
	assert_int_equal(symtab_lookup_addr(&st, 0xffffffff81000200, NULL)->type, 'D');
	assert_int_equal(symtab_lookup_addr(&st, 0xffffffff81000200, NULL)->size, 0);

	symtab_format(&st, 0xffffffff81000100, buf, sizeof(buf));
	assert_string_equal(buf, "do_one");
	symtab_format(&st, 0xffffffff8100011f, buf, sizeof(buf));
	assert_string_equal(buf, "do_one+0x1f");
	symtab_format(&st, 0xffffffff80000000, buf, sizeof(buf));
	assert_string_equal(buf, "0xffffffff80000000");
	symtab_free(&st);
}

static void test_slide(void **state)
{
	struct symtab st;
	char err[256], buf[128];
	uint64_t addr;

	symtab_init(&st);
	st.slide = 0x1e00000; /* a KASLR slide: kept across a load */
	assert_true(symtab_load(&st, scratch_file(NULL, system_map, strlen(system_map)), err, sizeof(err)) >
		    0);
	assert_int_equal(st.slide, 0x1e00000);
	expect_at(&st, 0xffffffff82e00104, "do_one", 4);
	assert_null(symtab_lookup_addr(&st, 0xffffffff81000104, NULL));
	assert_int_equal(symtab_lookup_name(&st, "do_one", &addr), 0);
	assert_int_equal(addr, 0xffffffff82e00100);
	symtab_format(&st, 0xffffffff82e00041, buf, sizeof(buf));
	assert_string_equal(buf, "secondary_startup_64+0x1");

	st.slide = -0x1000000;
	expect_at(&st, 0xffffffff80000100, "do_one", 0);
	symtab_free(&st);
}

static void test_reload_replaces(void **state)
{
	static const char other[] = "ffffffff90000000 T other_fn\n";
	static const char junk[] = "nothing here\n\x01\x02\x03 binary junk\n";
	struct symtab st;
	char err[256];
	uint64_t addr;

	symtab_init(&st);
	assert_int_equal(
		symtab_load(&st, scratch_file(NULL, system_map, strlen(system_map)), err, sizeof(err)), 6);
	assert_int_equal(symtab_load(&st, scratch_file(NULL, other, strlen(other)), err, sizeof(err)), 1);
	assert_int_equal(symtab_lookup_name(&st, "do_one", &addr), -ENOENT);
	assert_int_equal(symtab_lookup_name(&st, "other_fn", &addr), 0);

	/* A failed load keeps what was there. */
	assert_true(symtab_load(&st, scratch_file(NULL, junk, sizeof(junk) - 1), err, sizeof(err)) < 0);
	assert_int_equal(symtab_lookup_name(&st, "other_fn", &addr), 0);
	symtab_free(&st);
}

static void test_bad_files(void **state)
{
	static const char junk[] = "nothing here\nffffffff81000000\n\x01\x02\x03\n";
	struct symtab st;
	char err[256], path[160], want[256];
	Elf64_Ehdr eh;

	symtab_init(&st);
	snprintf(path, sizeof(path), "%s", scratch_path("absent"));
	snprintf(want, sizeof(want), "symbols '%s': No such file or directory", path);
	assert_int_equal(symtab_load(&st, path, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, want);

	const char *p = scratch_file(NULL, junk, sizeof(junk) - 1);
	snprintf(want, sizeof(want), "symbols '%s': not an ELF or System.map", p);
	assert_true(symtab_load(&st, p, err, sizeof(err)) < 0);
	assert_string_equal(err, want);

	p = scratch_file(NULL, "", 0);
	assert_true(symtab_load(&st, p, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "not an ELF or System.map"));

	/* An ELF with no sections at all: as stripped as it gets. */
	memset(&eh, 0, sizeof(eh));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_ehsize = sizeof(eh);
	assert_true(symtab_load(&st, scratch_file(NULL, &eh, sizeof(eh)), err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "no .symtab"));

	/* A truncated ELF header. */
	assert_true(symtab_load(&st, scratch_file(NULL, &eh, 20), err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "symbols '"));
	assert_int_equal(st.nr, 0);
	symtab_free(&st);
}

__attribute__((noinline)) static int symtest_local_function(int x)
{
	return x * 3 + 1;
}

int symtest_global_object[64] = { 1 };

static void test_elf_symtab_of_this_binary(void **state)
{
	struct symtab st;
	char err[256], buf[256];
	uint64_t link, addr;
	const struct symbol *s;
	uint64_t off;

	assert_int_equal(symtest_local_function(2), 7);
	symtab_init(&st);
	assert_true(symtab_load(&st, "/proc/self/exe", err, sizeof(err)) > 10);

	/* A PIE runs wherever it was mapped: the slide is its load bias. */
	assert_int_equal(symtab_lookup_name(&st, "test_elf_symtab_of_this_binary", &link), 0);
	st.slide = (int64_t)((uintptr_t)test_elf_symtab_of_this_binary - link);

	s = symtab_lookup_addr(&st, (uintptr_t)test_elf_symtab_of_this_binary + 5, &off);
	assert_non_null(s);
	assert_string_equal(s->name, "test_elf_symtab_of_this_binary");
	assert_int_equal(off, 5);
	assert_int_equal(s->type, 't');
	assert_true(s->size > 5);
	/* Past its size, the function is not blamed. */
	s = symtab_lookup_addr(&st, (uintptr_t)test_elf_symtab_of_this_binary + s->size, &off);
	assert_true(!s || strcmp(s->name, "test_elf_symtab_of_this_binary") != 0);

	s = symtab_lookup_addr(&st, (uintptr_t)symtest_local_function, &off);
	assert_non_null(s);
	assert_string_equal(s->name, "symtest_local_function");
	assert_int_equal(s->type, 't');

	s = symtab_lookup_addr(&st, (uintptr_t)&symtest_global_object[10], &off);
	assert_non_null(s);
	assert_string_equal(s->name, "symtest_global_object");
	assert_int_equal(s->type, 'D');
	assert_int_equal(s->size, sizeof(symtest_global_object));
	assert_int_equal(off, 10 * sizeof(int));

	assert_int_equal(symtab_lookup_name(&st, "main", &addr), 0);
	assert_int_equal(symtab_lookup_addr(&st, addr, NULL)->type, 'T');
	symtab_format(&st, addr + 0x10, buf, sizeof(buf));
	assert_string_equal(buf, "main+0x10");
	symtab_free(&st);
}

/* The size rules, on a table built by hand. */
static void test_sized_lookup_rules(void **state)
{
	struct symbol syms[] = {
		{ .addr = 0x1000, .size = 0x20, .type = 'T', .name = "a" },
		{ .addr = 0x1040, .size = 0, .type = 't', .name = "b_label" },
		{ .addr = 0x1080, .size = 0x10, .type = 'T', .name = "c" },
		{ .addr = 0x2000, .size = 0x8, .type = 'T', .name = "x" },
		{ .addr = 0x2000, .size = 0x100, .type = 'D', .name = "y" },
	};
	struct symtab st = { .syms = syms, .nr = 5 };
	char buf[64];

	expect_at(&st, 0x1000, "a", 0);
	expect_at(&st, 0x101f, "a", 0x1f);
	assert_null(symtab_lookup_addr(&st, 0x1020, NULL)); /* padding after a */
	assert_null(symtab_lookup_addr(&st, 0xfff, NULL));
	expect_at(&st, 0x1050, "b_label", 0x10);
	expect_at(&st, 0x107f, "b_label", 0x3f);
	expect_at(&st, 0x1085, "c", 5);
	assert_null(symtab_lookup_addr(&st, 0x1090, NULL));
	expect_at(&st, 0x2004, "x", 4);
	expect_at(&st, 0x2010, "y", 0x10); /* x is too small, y at the same address covers it */
	assert_null(symtab_lookup_addr(&st, 0x2100, NULL));
	symtab_format(&st, 0x1090, buf, sizeof(buf));
	assert_string_equal(buf, "0x1090");
}

static void test_empty_table(void **state)
{
	struct symtab st;
	char buf[32];
	uint64_t addr;

	symtab_init(&st);
	assert_null(symtab_lookup_addr(&st, 0x1234, NULL));
	assert_int_equal(symtab_lookup_name(&st, "x", &addr), -ENOENT);
	symtab_format(&st, 0x1234, buf, sizeof(buf));
	assert_string_equal(buf, "0x1234");
	symtab_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_system_map),
		cmocka_unit_test(test_slide),
		cmocka_unit_test(test_reload_replaces),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_elf_symtab_of_this_binary),
		cmocka_unit_test(test_sized_lookup_rules),
		cmocka_unit_test(test_empty_table),
	};

	return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
