/* The disassembler behind `x/i` and `bt` (emu/disasm.c), on byte strings in a fake memory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "emu/disasm.h"
#include "scratch.h"

#define BASE 0xffffffff81000000ULL

/* Guest memory: BYTES at BASE, of which the first READABLE can be read. */
struct fake_mem {
	const uint8_t *bytes;
	uint64_t readable;
};

static uint64_t fake_read(void *opaque, uint64_t addr, void *dst, uint64_t len)
{
	const struct fake_mem *m = opaque;
	uint64_t off = addr - BASE, n;

	if (addr < BASE || off >= m->readable)
		return 0;
	n = m->readable - off < len ? m->readable - off : len;
	memcpy(dst, m->bytes + off, n);
	return n;
}

static const char system_map[] = "ffffffff81000000 T do_one\n"
				 "ffffffff81000100 T helper\n"
				 "ffffffff81000200 D some_data\n";

static void load_syms(struct symtab *st)
{
	char err[256] = "";

	symtab_init(st);
	assert_int_equal(
		symtab_load(st, scratch_file(NULL, system_map, strlen(system_map)), err, sizeof(err)), 3);
}

static void expect_line(const struct disasm_line *l, uint64_t addr, const char *bytes_hex,
			const char *text, const char *symbol)
{
	char hex[64] = "";

	for (unsigned i = 0; i < l->len; i++)
		snprintf(hex + strlen(hex), sizeof(hex) - strlen(hex), "%s%02x", i ? " " : "",
			 l->bytes[i]);
	assert_int_equal(l->addr, addr);
	assert_string_equal(hex, bytes_hex);
	assert_string_equal(l->text, text);
	assert_string_equal(l->symbol, symbol);
}

static void test_prologue_call_branch_ret(void **state)
{
	/* push %rbp; mov %rsp,%rbp; call helper; jne .+3; ret; mov some_data(%rip),%rax */
	static const uint8_t code[] = { 0x55, 0x48, 0x89, 0xe5, 0xe8, 0xf7, 0x00, 0x00, 0x00, 0x75,
					0x01, 0xc3, 0x48, 0x8b, 0x05, 0xed, 0x01, 0x00, 0x00 };
	struct fake_mem m = { code, sizeof(code) };
	struct symtab st;
	struct disasm d;

	(void)state;
	load_syms(&st);
	assert_int_equal(disasm_build(fake_read, &m, &st, 64, BASE, 6, &d), 0);
	assert_int_equal(d.nr, 6);
	expect_line(&d.lines[0], BASE, "55", "pushq  %rbp", "do_one");
	expect_line(&d.lines[1], BASE + 1, "48 89 e5", "movq   %rsp,%rbp", "do_one+0x1");
	expect_line(&d.lines[2], BASE + 4, "e8 f7 00 00 00", "callq  0xffffffff81000100", "do_one+0x4");
	expect_line(&d.lines[3], BASE + 9, "75 01", "jne    0xffffffff8100000c", "do_one+0x9");
	expect_line(&d.lines[4], BASE + 0xb, "c3", "retq", "do_one+0xb");
	expect_line(&d.lines[5], BASE + 0xc, "48 8b 05 ed 01 00 00", "movq   0x1ed(%rip),%rax",
		    "do_one+0xc");
	/* Direct branches name their target; nothing else has one. */
	assert_false(d.lines[0].has_target || d.lines[1].has_target || d.lines[4].has_target ||
		     d.lines[5].has_target);
	assert_true(d.lines[2].has_target);
	assert_int_equal(d.lines[2].target, BASE + 0x100);
	assert_string_equal(d.lines[2].target_symbol, "helper");
	assert_true(d.lines[3].has_target);
	assert_int_equal(d.lines[3].target, BASE + 0xc);
	assert_string_equal(d.lines[3].target_symbol, "do_one+0xc");
	/* A RIP-relative operand names the address it reads, after the instruction. */
	assert_true(d.lines[5].has_ref);
	assert_int_equal(d.lines[5].ref, BASE + 0x13 + 0x1ed);
	assert_string_equal(d.lines[5].ref_symbol, "some_data");
	assert_false(d.lines[2].has_ref);
	assert_int_equal(d.next, BASE + sizeof(code));
	assert_false(d.unreadable);
	disasm_free(&d);

	/* Without symbols the same listing has no names, only addresses. */
	assert_int_equal(disasm_build(fake_read, &m, NULL, 64, BASE, 3, &d), 0);
	assert_int_equal(d.nr, 3);
	assert_string_equal(d.lines[0].symbol, "");
	assert_true(d.lines[2].has_target);
	assert_string_equal(d.lines[2].target_symbol, "");
	disasm_free(&d);
	symtab_free(&st);
}

static void test_bad_bytes_advance_one(void **state)
{
	/* 0x06 (push %es) does not exist in 64-bit mode; ret follows it. */
	static const uint8_t code[] = { 0x06, 0xc3, 0x06, 0x06, 0x90, 0x90, 0x90, 0x90, 0x90,
					0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90 };
	struct fake_mem m = { code, sizeof(code) };
	struct disasm d;

	(void)state;
	assert_int_equal(disasm_build(fake_read, &m, NULL, 64, BASE, 5, &d), 0);
	assert_int_equal(d.nr, 5);
	expect_line(&d.lines[0], BASE, "06", "(bad)", "");
	assert_true(d.lines[0].bad);
	expect_line(&d.lines[1], BASE + 1, "c3", "retq", "");
	assert_false(d.lines[1].bad);
	expect_line(&d.lines[2], BASE + 2, "06", "(bad)", "");
	expect_line(&d.lines[3], BASE + 3, "06", "(bad)", "");
	expect_line(&d.lines[4], BASE + 4, "90", "nop", "");
	assert_false(d.unreadable);
	disasm_free(&d);

	/* The same byte in 32-bit mode is an instruction: the CPU's mode is honoured. */
	assert_int_equal(disasm_build(fake_read, &m, NULL, 32, BASE, 1, &d), 0);
	expect_line(&d.lines[0], BASE, "06", "pushl  %es", "");
	disasm_free(&d);
}

static void test_read_stops_midway(void **state)
{
	/* push %rbp; mov %rsp,%rbp; mov 0x8(%rdi),%rax, of which the last is cut after 2 bytes. */
	static const uint8_t code[] = { 0x55, 0x48, 0x89, 0xe5, 0x48, 0x8b, 0x47, 0x08 };
	struct fake_mem m = { code, 6 };
	struct disasm d;

	(void)state;
	assert_int_equal(disasm_build(fake_read, &m, NULL, 64, BASE, 4, &d), 0);
	assert_int_equal(d.nr, 2);
	expect_line(&d.lines[1], BASE + 1, "48 89 e5", "movq   %rsp,%rbp", "");
	assert_true(d.unreadable);
	assert_int_equal(d.unreadable_at, BASE + 6);
	assert_int_equal(d.next, BASE + 4);
	disasm_free(&d);

	/* What was asked for fits in what can be read: no complaint about what lies after. */
	assert_int_equal(disasm_build(fake_read, &m, NULL, 64, BASE, 2, &d), 0);
	assert_int_equal(d.nr, 2);
	assert_false(d.unreadable);
	disasm_free(&d);

	/* Memory ending exactly at an instruction's end. */
	m.readable = 4;
	assert_int_equal(disasm_build(fake_read, &m, NULL, 64, BASE, 3, &d), 0);
	assert_int_equal(d.nr, 2);
	assert_true(d.unreadable);
	assert_int_equal(d.unreadable_at, BASE + 4);
	disasm_free(&d);

	/* Nothing readable at all. */
	m.readable = 0;
	assert_int_equal(disasm_build(fake_read, &m, NULL, 64, BASE, 3, &d), 0);
	assert_int_equal(d.nr, 0);
	assert_true(d.unreadable);
	assert_int_equal(d.unreadable_at, BASE);
	assert_int_equal(d.next, BASE);
	disasm_free(&d);

	m.readable = sizeof(code);
	assert_int_equal(disasm_build(fake_read, &m, NULL, 64, BASE, 0, &d), -EINVAL);
	assert_int_equal(disasm_build(fake_read, &m, NULL, 64, BASE, DISASM_MAX_COUNT + 1, &d),
			 -EINVAL);
}

static int ra_at(const struct fake_mem *m, uint64_t rip_off, unsigned *off)
{
	*off = 99;
	return disasm_ra_offset(fake_read, (void *)m, BASE, BASE + rip_off, off);
}

static void test_return_address_in_prologue(void **state)
{
	/* endbr64; nopl 0x0(%rax,%rax,1) (__fentry__'s patched call); push %rbp; mov %rsp,%rbp;
	 * push %r14; pop %r14; pop %rbp; ret */
	static const uint8_t code[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x0f, 0x1f, 0x44, 0x00, 0x00,
					0x55, 0x48, 0x89, 0xe5, 0x41, 0x56, 0x41, 0x5e, 0x5d,
					0xc3, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
					0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc };
	struct fake_mem m = { code, sizeof(code) };
	unsigned off;

	(void)state;
	assert_int_equal(ra_at(&m, 0, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(ra_at(&m, 4, &off), 0); /* at the nop */
	assert_int_equal(off, 0);
	assert_int_equal(ra_at(&m, 9, &off), 0); /* at push %rbp */
	assert_int_equal(off, 0);
	assert_int_equal(ra_at(&m, 10, &off), 0); /* at mov %rsp,%rbp: rbp pushed */
	assert_int_equal(off, 8);
	assert_int_equal(ra_at(&m, 13, &off), -ENOENT); /* the frame is made: rbp's chain */
	assert_int_equal(ra_at(&m, 17, &off), -ENOENT); /* at pop %rbp */
	assert_int_equal(ra_at(&m, 18, &off), 0);	/* at ret: the frame is gone */
	assert_int_equal(off, 0);
	assert_int_equal(ra_at(&m, 2, &off), -ENOENT); /* not where an instruction starts */
	m.readable = 5;
	assert_int_equal(ra_at(&m, 9, &off), -EIO);
}

static void test_return_address_other_functions(void **state)
{
	/* A leaf without a frame: mov %rdi,%rax; add $0x1,%rax; ret */
	static const uint8_t leaf[] = { 0x48, 0x89, 0xf8, 0x48, 0x83, 0xc0, 0x01, 0xc3, 0xcc, 0xcc,
					0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
					0xcc, 0xcc, 0xcc, 0xcc };
	/* sub $0x18,%rsp; mov %rdi,(%rsp); add $0x18,%rsp; ret */
	static const uint8_t sub[] = { 0x48, 0x83, 0xec, 0x18, 0x48, 0x89, 0x3c, 0x24, 0x48, 0x83,
				       0xc4, 0x18, 0xc3, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
				       0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc };
	/* call __fentry__ (live ftrace); push %rbp; mov %rsp,%rbp */
	static const uint8_t fentry[] = { 0xe8, 0x00, 0x10, 0x00, 0x00, 0x55, 0x48, 0x89, 0xe5,
					  0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
					  0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc };
	/* xor %ebp,%ebp: rbp no longer the caller's frame */
	static const uint8_t clobber[] = { 0x31, 0xed, 0x90, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
					   0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc };
	struct fake_mem m = { leaf, sizeof(leaf) };
	unsigned off;

	(void)state;
	assert_int_equal(ra_at(&m, 3, &off), 0);
	assert_int_equal(off, 0);
	m = (struct fake_mem){ sub, sizeof(sub) };
	assert_int_equal(ra_at(&m, 0, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(ra_at(&m, 4, &off), -ENOENT); /* the stack moved by 0x18 */
	assert_int_equal(ra_at(&m, 12, &off), 0);      /* ret */
	assert_int_equal(off, 0);
	m = (struct fake_mem){ fentry, sizeof(fentry) };
	assert_int_equal(ra_at(&m, 5, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(ra_at(&m, 6, &off), 0);
	assert_int_equal(off, 8);
	m = (struct fake_mem){ clobber, sizeof(clobber) };
	assert_int_equal(ra_at(&m, 2, &off), -ENOENT);
	/* RIP before the function, or too far into it to scan. */
	assert_int_equal(disasm_ra_offset(fake_read, &m, BASE, BASE - 1, &off), -ENOENT);
	assert_int_equal(disasm_ra_offset(fake_read, &m, BASE, BASE + 0x100000, &off), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prologue_call_branch_ret),
		cmocka_unit_test(test_bad_bytes_advance_one),
		cmocka_unit_test(test_read_stops_midway),
		cmocka_unit_test(test_return_address_in_prologue),
		cmocka_unit_test(test_return_address_other_functions),
	};

	return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
