/*
 * x86 disassembly for `x/i` and for `bt` in a function's prologue. Capstone is used here
 * and nowhere else. The syntax is AT&T, gdb's and objdump's default, so a listing reads
 * the same as the kernel developer's `objdump -d vmlinux` and gdb's `x/i` beside it.
 */
#ifndef VMDBG_DISASM_H
#define VMDBG_DISASM_H

#include <stdbool.h>
#include <stdint.h>

#include "insn.h"
#include "symbols.h"

/* Most lines `x/Ni` lists at once. */
#define DISASM_MAX_COUNT 4096

/* Up to LEN bytes of guest memory at ADDR into DST; returns the length of the readable prefix. */
typedef uint64_t (*disasm_read_fn)(void *opaque, uint64_t addr, void *dst, uint64_t len);

struct disasm_line {
	uint64_t addr;
	uint8_t bytes[INSN_MAX_LEN];
	unsigned len;		  /* bytes used: 1 for "(bad)" */
	bool bad;		  /* not an instruction: "(bad)"; the next line is one byte on */
	char text[160];		  /* mnemonic and operands: "movq   %rsp,%rbp" */
	char symbol[128];	  /* "tg_loop+0x4", or "" when no symbol covers addr */
	bool has_target;	  /* a direct jmp, jcc, loop or call */
	uint64_t target;
	char target_symbol[128];  /* "tg_break_here", or "" */
	bool has_ref;		  /* a RIP-relative memory operand */
	uint64_t ref;		  /* the address it names */
	char ref_symbol[128];
};

struct disasm {
	struct disasm_line *lines;
	unsigned nr;
	uint64_t next;	       /* the address after the last line */
	/* The listing ended before COUNT lines: the byte at unreadable_at cannot be read. */
	bool unreadable;
	uint64_t unreadable_at;
};

/*
 * Disassemble COUNT (1..DISASM_MAX_COUNT) instructions at ADDR for a CPU in MODE_BITS (16,
 * 32 or 64) mode, reading memory through READ, naming addresses from SYMS (may be NULL).
 * Returns 0 (OUT->nr may be 0 when ADDR itself cannot be read), -EINVAL, -ENOMEM, or -EIO
 * when Capstone cannot start. Free OUT with disasm_free.
 */
int disasm_build(disasm_read_fn read, void *opaque, const struct symtab *syms, int mode_bits,
		 uint64_t addr, unsigned count, struct disasm *out);
void disasm_free(struct disasm *d);

/*
 * Where the return address is while RIP stands in the function starting at FUNC before
 * its frame is made (64-bit code): *RSP_OFF is 0 from FUNC up to `push %rbp` (past
 * endbr64, nops and a call to __fentry__, which leave the stack as it was) and at a `ret`,
 * 8 after `push %rbp` up to `mov %rsp,%rbp`. RBP then still holds the caller's frame.
 * Returns 0, or -ENOENT when the frame is made or the code before RIP moved the stack some
 * other way (the frame-pointer chain is right then, or nothing is), -EIO when the code
 * cannot be read or decoded.
 */
int disasm_ra_offset(disasm_read_fn read, void *opaque, uint64_t func, uint64_t rip,
		     unsigned *rsp_off);

/*
 * At a function's first instructions, before `mov %rsp,%rbp` has made its frame, at a `ret`,
 * and in a leaf that makes none, rbp still holds the caller's frame: a frame-pointer walk
 * would skip the caller itself. True, with *RA its return address read from the stack (RSP +
 * disasm_ra_offset), when RIP is in a code symbol of SYMS at most MAX_OFF bytes in and *RA is
 * in code too (an exception's entry point has no return address there).
 */
bool disasm_ra_on_stack(disasm_read_fn read, void *opaque, const struct symtab *syms,
			uint64_t rip, uint64_t rsp, uint64_t max_off, uint64_t *ra);

#endif
