#include "disasm.h"

#include <capstone/capstone.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How far into a function disasm_ra_offset decodes: prologues are a few instructions. */
#define RA_SCAN_MAX 4096

static int open_capstone(int mode_bits, csh *h)
{
	cs_mode mode = mode_bits == 16 ? CS_MODE_16 : mode_bits == 32 ? CS_MODE_32 : CS_MODE_64;

	if (cs_open(CS_ARCH_X86, mode, h) != CS_ERR_OK)
		return -EIO;
	if (cs_option(*h, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT) != CS_ERR_OK ||
	    cs_option(*h, CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK) {
		cs_close(h);
		return -EIO;
	}
	return 0;
}

/* "name+0x1f" for ADDR, or "" when no symbol covers it. */
static void name_of(const struct symtab *syms, uint64_t addr, char *buf, size_t n)
{
	uint64_t off;

	buf[0] = 0;
	if (syms && syms->nr && symtab_lookup_addr(syms, addr, &off))
		symtab_format(syms, addr, buf, n);
}

/* "movq   %rsp,%rbp": the mnemonic in gdb's column, operands without Capstone's ", ". */
static void format_text(const cs_insn *in, char *buf, size_t n)
{
	size_t len;

	if (!in->op_str[0]) {
		snprintf(buf, n, "%s", in->mnemonic);
		return;
	}
	len = (size_t)snprintf(buf, n, "%-6s ", in->mnemonic);
	for (const char *s = in->op_str; *s && len + 1 < n; s++) {
		if (s[0] == ',' && s[1] == ' ') {
			buf[len++] = ',';
			s++;
			continue;
		}
		buf[len++] = *s;
	}
	if (len < n)
		buf[len] = 0;
}

static void fill_line(csh h, const cs_insn *in, const struct symtab *syms, struct disasm_line *l)
{
	const cs_x86 *x = &in->detail->x86;

	l->len = in->size;
	memcpy(l->bytes, in->bytes, in->size);
	format_text(in, l->text, sizeof(l->text));
	if ((cs_insn_group(h, in, CS_GRP_JUMP) || cs_insn_group(h, in, CS_GRP_CALL)) &&
	    x->op_count == 1 && x->operands[0].type == X86_OP_IMM) {
		l->has_target = true;
		l->target = (uint64_t)x->operands[0].imm;
		name_of(syms, l->target, l->target_symbol, sizeof(l->target_symbol));
	}
	for (int i = 0; i < x->op_count; i++) {
		const cs_x86_op *op = &x->operands[i];

		if (op->type == X86_OP_MEM && op->mem.base == X86_REG_RIP &&
		    op->mem.index == X86_REG_INVALID) {
			l->has_ref = true;
			l->ref = in->address + in->size + (uint64_t)op->mem.disp;
			name_of(syms, l->ref, l->ref_symbol, sizeof(l->ref_symbol));
			break;
		}
	}
}

int disasm_build(disasm_read_fn read, void *opaque, const struct symtab *syms, int mode_bits,
		 uint64_t addr, unsigned count, struct disasm *out)
{
	uint64_t want, got, off = 0;
	uint8_t *buf;
	cs_insn *in;
	csh h;
	int r;

	memset(out, 0, sizeof(*out));
	out->next = addr;
	if (count == 0 || count > DISASM_MAX_COUNT)
		return -EINVAL;
	want = (uint64_t)count * INSN_MAX_LEN;
	buf = malloc(want);
	out->lines = calloc(count, sizeof(*out->lines));
	if (!buf || !out->lines) {
		free(buf);
		disasm_free(out);
		return -ENOMEM;
	}
	r = open_capstone(mode_bits, &h);
	if (r) {
		free(buf);
		disasm_free(out);
		return r;
	}
	in = cs_malloc(h);
	if (!in) {
		cs_close(&h);
		free(buf);
		disasm_free(out);
		return -ENOMEM;
	}
	got = read(opaque, addr, buf, want);
	if (got > want)
		got = want;
	while (out->nr < count) {
		struct disasm_line *l = &out->lines[out->nr];
		const uint8_t *p = buf + off;
		size_t left = got - off;
		uint64_t a = addr + off;

		bool decoded = left && cs_disasm_iter(h, &p, &left, &a, in);

		/* Out of bytes, or an instruction that may run on into what cannot be read. */
		if (!decoded && got < want && got - off < INSN_MAX_LEN) {
			out->unreadable = true;
			out->unreadable_at = addr + got;
			break;
		}
		l->addr = addr + off;
		name_of(syms, l->addr, l->symbol, sizeof(l->symbol));
		if (!decoded) {
			/* Capstone did not decode: one byte of "(bad)", as objdump and gdb print it. */
			l->bad = true;
			l->len = 1;
			l->bytes[0] = buf[off];
			snprintf(l->text, sizeof(l->text), "(bad)");
		} else {
			fill_line(h, in, syms, l);
		}
		off += l->len;
		out->nr++;
	}
	out->next = addr + off;
	cs_free(in, 1);
	cs_close(&h);
	free(buf);
	return 0;
}

void disasm_free(struct disasm *d)
{
	free(d->lines);
	d->lines = NULL;
	d->nr = 0;
}

static bool writes_reg(const cs_regs w, uint8_t nw, x86_reg reg)
{
	for (unsigned i = 0; i < nw; i++)
		if (w[i] == reg)
			return true;
	return false;
}

/* Whether the instruction writes the stack pointer or the frame pointer, at any width. */
static bool writes_stack_regs(const cs_regs w, uint8_t nw)
{
	static const x86_reg regs[] = { X86_REG_RSP, X86_REG_ESP, X86_REG_SP,
					X86_REG_RBP, X86_REG_EBP, X86_REG_BP };

	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		if (writes_reg(w, nw, regs[i]))
			return true;
	return false;
}

static bool is_ret(csh h, cs_insn *in, const uint8_t *code, size_t n, uint64_t addr)
{
	return cs_disasm_iter(h, &code, &n, &addr, in) && in->id == X86_INS_RET;
}

int disasm_ra_offset(disasm_read_fn read, void *opaque, uint64_t func, uint64_t rip,
		     unsigned *rsp_off)
{
	uint8_t code[RA_SCAN_MAX + INSN_MAX_LEN];
	uint64_t want, got, a = func;
	const uint8_t *p = code;
	unsigned off = 0;
	bool pushed_rbp = false;
	size_t left;
	cs_insn *in;
	csh h;
	int r = -ENOENT;

	if (rip < func || rip - func > RA_SCAN_MAX)
		return -ENOENT;
	want = rip - func + INSN_MAX_LEN;
	got = read(opaque, func, code, want);
	if (got <= rip - func)
		return -EIO;
	left = got;
	if (open_capstone(64, &h))
		return -EIO;
	in = cs_malloc(h);
	if (!in) {
		cs_close(&h);
		return -ENOMEM;
	}
	/* At a `ret` the frame is gone, whatever came before: [rsp] is the way back. */
	if (is_ret(h, in, code + (rip - func), got - (rip - func), rip)) {
		*rsp_off = 0;
		r = 0;
		goto out;
	}
	for (;;) {
		const cs_x86 *x;
		cs_regs rd, wr;
		uint8_t nrd, nwr;

		if (!cs_disasm_iter(h, &p, &left, &a, in) ||
		    cs_regs_access(h, in, rd, &nrd, wr, &nwr) != CS_ERR_OK) {
			r = -EIO;
			break;
		}
		if (in->address == rip) {
			*rsp_off = off;
			r = 0;
			break;
		}
		if (a > rip)
			break; /* RIP is not where an instruction starts: a guess would mislead */
		x = &in->detail->x86;
		if (in->id == X86_INS_PUSH && !pushed_rbp && x->op_count == 1 &&
		    x->operands[0].type == X86_OP_REG && x->operands[0].reg == X86_REG_RBP) {
			pushed_rbp = true;
			off = 8;
		} else if (in->id == X86_INS_MOV && pushed_rbp && writes_reg(wr, nwr, X86_REG_RBP) &&
			   nrd == 1 && rd[0] == X86_REG_RSP) {
			break; /* mov %rsp,%rbp: the frame is made */
		} else if (in->id != X86_INS_CALL && writes_stack_regs(wr, nwr)) {
			/* A call returned before RIP got here; anything else that moves the stack
			 * or rbp leaves the return address where this scan cannot tell. */
			break;
		}
	}
out:
	cs_free(in, 1);
	cs_close(&h);
	return r;
}

static bool is_code(const struct symbol *sym)
{
	return sym && sym->type && strchr("TtWw", sym->type);
}

bool disasm_ra_on_stack(disasm_read_fn read, void *opaque, const struct symtab *syms,
			uint64_t rip, uint64_t rsp, uint64_t max_off, uint64_t *ra)
{
	const struct symbol *fn, *caller;
	uint64_t off, caller_off;
	unsigned rsp_off;

	fn = symtab_lookup_addr(syms, rip, &off);
	if (!is_code(fn) || off > max_off || disasm_ra_offset(read, opaque, rip - off, rip, &rsp_off) ||
	    read(opaque, rsp + rsp_off, ra, sizeof(*ra)) != sizeof(*ra))
		return false;
	/* An entry point the CPU jumped to (an exception's) has no return address there. */
	caller = symtab_lookup_addr(syms, *ra, &caller_off);
	return is_code(caller);
}
