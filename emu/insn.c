#include "insn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "pagewalk.h"
#include "x86_state.h"

#define RFLAGS_CF (1ULL << 0)
#define RFLAGS_PF (1ULL << 2)
#define RFLAGS_AF (1ULL << 4)
#define RFLAGS_ZF (1ULL << 6)
#define RFLAGS_SF (1ULL << 7)
#define RFLAGS_OF (1ULL << 11)
#define RFLAGS_AC (1ULL << 18)

#define CR0_PE	 (1ULL << 0)
#define CR0_MP	 (1ULL << 1)
#define CR0_TS	 (1ULL << 3)
#define CR4_SMAP (1ULL << 21)

#define FSW_ES	       0x80
#define FPU_EXCEPTIONS 0x3f

/* MXCSR bits 16..31 are reserved (MXCSR_MASK 0xffff: DAZ is on every x86-64 CPU vmdbg targets). */
#define MXCSR_RESERVED 0xffff0000U

#define REX_W 8
#define REX_R 4
#define REX_X 2
#define REX_B 1

enum { GPR_RAX, GPR_RCX, GPR_RDX, GPR_RBX, GPR_RSP, GPR_RBP, GPR_RSI, GPR_RDI };

/* A cursor over the given bytes that refuses to go past N or INSN_MAX_LEN. */
struct insn_cursor {
	const uint8_t *bytes;
	unsigned n, pos;
};

static int cursor_next(struct insn_cursor *c, uint8_t *v)
{
	if (c->pos >= c->n)
		return -1;
	*v = c->bytes[c->pos++];
	return 0;
}

/* Little-endian signed displacement of SIZE (1, 2 or 4) bytes. */
static int cursor_disp(struct insn_cursor *c, unsigned size, int64_t *disp)
{
	uint32_t v = 0;
	uint8_t b;
	unsigned i;

	for (i = 0; i < size; i++) {
		if (cursor_next(c, &b))
			return -1;
		v |= (uint32_t)b << (8 * i);
	}
	if (size == 1)
		*disp = (int8_t)v;
	else if (size == 2)
		*disp = (int16_t)v;
	else
		*disp = (int32_t)v;
	return 0;
}

static int decode_modrm16(struct insn_cursor *c, struct insn *in)
{
	/* BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP, BX */
	static const int8_t base16[8] = {GPR_RBX, GPR_RBX, GPR_RBP, GPR_RBP,
					 GPR_RSI, GPR_RDI, GPR_RBP, GPR_RBX};
	static const int8_t index16[8] = {GPR_RSI, GPR_RDI, GPR_RSI, GPR_RDI, -1, -1, -1, -1};

	in->base_reg = base16[in->rm];
	in->index_reg = index16[in->rm];
	if (in->mod == 0 && in->rm == 6) {
		in->base_reg = -1;
		return cursor_disp(c, 2, &in->disp);
	}
	if (in->mod == 1)
		return cursor_disp(c, 1, &in->disp);
	if (in->mod == 2)
		return cursor_disp(c, 2, &in->disp);
	return 0;
}

static int decode_modrm(struct insn_cursor *c, struct insn *in)
{
	uint8_t m, sib;

	if (cursor_next(c, &m))
		return -1;
	in->mod = m >> 6;
	in->reg = (m >> 3) & 7;
	in->rm = m & 7;
	in->reg_num = in->reg | (in->rex & REX_R ? 8 : 0);
	if (in->mod == 3) {
		in->rm_reg_num = in->rm | (in->rex & REX_B ? 8 : 0);
		return 0;
	}
	in->has_mem = true;
	if (in->addr_size == 2)
		return decode_modrm16(c, in);

	if (in->rm == 4) {
		int index;

		if (cursor_next(c, &sib))
			return -1;
		in->scale = 1 << (sib >> 6);
		index = ((sib >> 3) & 7) | (in->rex & REX_X ? 8 : 0);
		in->index_reg = index == GPR_RSP ? -1 : index;
		if ((sib & 7) == 5 && in->mod == 0) {
			in->base_reg = -1;
			return cursor_disp(c, 4, &in->disp);
		}
		in->base_reg = (sib & 7) | (in->rex & REX_B ? 8 : 0);
	} else if (in->rm == 5 && in->mod == 0) {
		in->rip_relative = in->mode_bits == 64;
		return cursor_disp(c, 4, &in->disp);
	} else {
		in->base_reg = in->rm | (in->rex & REX_B ? 8 : 0);
	}
	if (in->mod == 1)
		return cursor_disp(c, 1, &in->disp);
	if (in->mod == 2)
		return cursor_disp(c, 4, &in->disp);
	return 0;
}

static void set_kind(struct insn *in, enum insn_kind kind, const char *name, bool completable)
{
	in->kind = kind;
	in->name = name;
	in->completable = completable;
}

/* 0F AE with a memory operand: the FXSAVE/XSAVE group and the MXCSR moves. */
static int decode_0f_ae_mem(struct insn *in, bool w)
{
	switch (in->reg) {
	case 0: set_kind(in, INSN_FXSAVE, w ? "fxsave64" : "fxsave", false); return 0;
	case 1: set_kind(in, INSN_FXRSTOR, w ? "fxrstor64" : "fxrstor", false); return 0;
	case 2: set_kind(in, INSN_LDMXCSR, "ldmxcsr", true); return 0;
	case 3: set_kind(in, INSN_STMXCSR, "stmxcsr", true); return 0;
	case 4: set_kind(in, INSN_XSAVE, w ? "xsave64" : "xsave", false); return 0;
	case 5: set_kind(in, INSN_XRSTOR, w ? "xrstor64" : "xrstor", false); return 0;
	case 6: set_kind(in, INSN_XSAVE, w ? "xsaveopt64" : "xsaveopt", false); return 0;
	}
	return -1;
}

static int decode_0f_c7_mem(struct insn *in, bool w, bool p66)
{
	if (p66 && in->reg != 1)
		return -1;
	switch (in->reg) {
	case 1:
		if (w)
			set_kind(in, INSN_CMPXCHG16B, "cmpxchg16b", false);
		else
			set_kind(in, INSN_CMPXCHG8B, "cmpxchg8b", false);
		return 0;
	case 3: set_kind(in, INSN_XRSTOR, w ? "xrstors64" : "xrstors", false); return 0;
	case 4: set_kind(in, INSN_XSAVE, w ? "xsavec64" : "xsavec", false); return 0;
	case 5: set_kind(in, INSN_XSAVE, w ? "xsaves64" : "xsaves", false); return 0;
	}
	return -1;
}

static int decode_0f(struct insn_cursor *c, struct insn *in, bool p66)
{
	bool w = in->rex & REX_W;
	bool simd_prefix = p66 || in->rep || in->repne;
	uint8_t op, m;

	if (cursor_next(c, &op))
		return -1;
	switch (op) {
	case 0x0b: set_kind(in, INSN_UD2, "ud2", false); return 0;
	case 0x01:
		if (simd_prefix || cursor_next(c, &m))
			return -1;
		if (m == 0xca)
			set_kind(in, INSN_CLAC, "clac", true);
		else if (m == 0xcb)
			set_kind(in, INSN_STAC, "stac", true);
		else if (m == 0xee)
			set_kind(in, INSN_RDPKRU, "rdpkru", false);
		else if (m == 0xef)
			set_kind(in, INSN_WRPKRU, "wrpkru", false);
		else
			return -1;
		return 0;
	case 0xae:
		/* With 66/F2/F3 this opcode is clwb, clflushopt, rdfsbase, ptwrite...: not ours. */
		if (simd_prefix || decode_modrm(c, in))
			return -1;
		if (in->mod != 3)
			return decode_0f_ae_mem(in, w);
		if (in->reg == 5)
			set_kind(in, INSN_FENCE, "lfence", true);
		else if (in->reg == 6)
			set_kind(in, INSN_FENCE, "mfence", true);
		else if (in->reg == 7)
			set_kind(in, INSN_FENCE, "sfence", true);
		else
			return -1;
		return 0;
	case 0xc7:
		if (in->rep || in->repne || decode_modrm(c, in) || in->mod == 3)
			return -1;
		return decode_0f_c7_mem(in, w, p66);
	case 0x6e:
	case 0x7e:
		/* 66 0F 6E/7E: movd/movq with an XMM register (without 66: MMX; F3 0F 7E: movq xmm). */
		if (in->repne || decode_modrm(c, in))
			return -1;
		set_kind(in, INSN_SSE_MOV, (w || in->rep) ? "movq" : "movd", false);
		return 0;
	case 0x03:
		if (in->rep || in->repne || decode_modrm(c, in))
			return -1;
		set_kind(in, INSN_LSL, "lsl", true);
		return 0;
	case 0xb8:
		/* Without F3 this is IA-64's jmpe. */
		if (!in->rep || decode_modrm(c, in))
			return -1;
		set_kind(in, INSN_POPCNT, "popcnt", true);
		return 0;
	}
	return -1;
}

static void insn_reset(struct insn *in, unsigned n, int mode_bits)
{
	memset(in, 0, sizeof(*in));
	in->kind = INSN_UNKNOWN;
	in->name = "unknown";
	in->nbytes = n < INSN_MAX_LEN ? n : INSN_MAX_LEN;
	in->mode_bits = mode_bits;
	in->mod = in->reg = in->rm = -1;
	in->reg_num = in->rm_reg_num = -1;
	in->base_reg = in->index_reg = -1;
	in->scale = 1;
	in->seg_override = -1;
}

int insn_mode_bits(const struct kvm_sregs *s)
{
	if ((s->efer & EFER_LMA) && s->cs.l)
		return 64;
	if (!(s->cr0 & X86_CR0_PE))
		return 16;
	return s->cs.db ? 32 : 16;
}

int insn_decode(const uint8_t *bytes, unsigned n, int cpu_mode_bits, struct insn *out)
{
	struct insn_cursor c = {.bytes = bytes, .n = bytes ? n : 0, .pos = 0};
	bool p66 = false, p67 = false;
	uint8_t b;
	int ret = -1;

	if (c.n > INSN_MAX_LEN)
		c.n = INSN_MAX_LEN;
	insn_reset(out, c.n, cpu_mode_bits);
	if (cpu_mode_bits != 16 && cpu_mode_bits != 32 && cpu_mode_bits != 64)
		return -EINVAL;

	for (;;) {
		if (cursor_next(&c, &b))
			goto unknown;
		/* A REX prefix counts only right before the opcode. */
		if (cpu_mode_bits == 64 && (b & 0xf0) == 0x40) {
			out->rex = b;
			continue;
		}
		switch (b) {
		case 0x66: p66 = true; break;
		case 0x67: p67 = true; break;
		case 0xf0: out->lock = true; break;
		case 0xf2:
			out->repne = true;
			out->rep = false;
			break;
		case 0xf3:
			out->rep = true;
			out->repne = false;
			break;
		case 0x26: out->seg_override = INSN_SEG_ES; break;
		case 0x2e: out->seg_override = INSN_SEG_CS; break;
		case 0x36: out->seg_override = INSN_SEG_SS; break;
		case 0x3e: out->seg_override = INSN_SEG_DS; break;
		case 0x64: out->seg_override = INSN_SEG_FS; break;
		case 0x65: out->seg_override = INSN_SEG_GS; break;
		default: goto opcode;
		}
		out->rex = 0;
	}
opcode:
	if (out->rex & REX_W)
		out->op_size = 8;
	else if (cpu_mode_bits == 16)
		out->op_size = p66 ? 4 : 2;
	else
		out->op_size = p66 ? 2 : 4;
	if (cpu_mode_bits == 64)
		out->addr_size = p67 ? 4 : 8;
	else if (cpu_mode_bits == 32)
		out->addr_size = p67 ? 2 : 4;
	else
		out->addr_size = p67 ? 4 : 2;

	switch (b) {
	case 0xcc:
		set_kind(out, INSN_INT3, "int3", true);
		ret = 0;
		break;
	case 0x9b:
		set_kind(out, INSN_FWAIT, "fwait", true);
		ret = 0;
		break;
	case 0x0f: ret = decode_0f(&c, out, p66); break;
	}
	if (ret == 0) {
		out->len = c.pos;
		/* A lock prefix on any of the completable ones is #UD on hardware. */
		if (out->lock)
			out->completable = false;
		return 0;
	}
unknown:
	insn_reset(out, c.n, cpu_mode_bits);
	return -EINVAL;
}

uint64_t *insn_gpr(struct kvm_regs *regs, int num)
{
	switch (num) {
	case 0: return (uint64_t *)&regs->rax;
	case 1: return (uint64_t *)&regs->rcx;
	case 2: return (uint64_t *)&regs->rdx;
	case 3: return (uint64_t *)&regs->rbx;
	case 4: return (uint64_t *)&regs->rsp;
	case 5: return (uint64_t *)&regs->rbp;
	case 6: return (uint64_t *)&regs->rsi;
	case 7: return (uint64_t *)&regs->rdi;
	case 8: return (uint64_t *)&regs->r8;
	case 9: return (uint64_t *)&regs->r9;
	case 10: return (uint64_t *)&regs->r10;
	case 11: return (uint64_t *)&regs->r11;
	case 12: return (uint64_t *)&regs->r12;
	case 13: return (uint64_t *)&regs->r13;
	case 14: return (uint64_t *)&regs->r14;
	case 15: return (uint64_t *)&regs->r15;
	}
	return NULL;
}

static uint64_t gpr_value(const struct insn_cpu *cpu, int num)
{
	uint64_t *r = insn_gpr((struct kvm_regs *)&cpu->regs, num);

	return r ? *r : 0;
}

static uint64_t seg_base(const struct kvm_sregs *s, int seg)
{
	switch (seg) {
	case INSN_SEG_ES: return s->es.base;
	case INSN_SEG_CS: return s->cs.base;
	case INSN_SEG_SS: return s->ss.base;
	case INSN_SEG_FS: return s->fs.base;
	case INSN_SEG_GS: return s->gs.base;
	}
	return s->ds.base;
}

static uint64_t size_mask(int bytes)
{
	return bytes >= 8 ? ~0ULL : (1ULL << (8 * bytes)) - 1;
}

int insn_mem_addr(const struct insn *insn, const struct insn_cpu *cpu, uint64_t *linear)
{
	uint64_t ea = (uint64_t)insn->disp;
	int seg = insn->seg_override;

	if (!insn->has_mem)
		return -EINVAL;
	if (insn->base_reg >= 0)
		ea += gpr_value(cpu, insn->base_reg);
	if (insn->index_reg >= 0)
		ea += gpr_value(cpu, insn->index_reg) * (uint64_t)insn->scale;
	if (insn->rip_relative)
		ea += cpu->regs.rip + insn->len;
	ea &= size_mask(insn->addr_size);

	if (seg < 0)
		seg = insn->base_reg == GPR_RSP || insn->base_reg == GPR_RBP ? INSN_SEG_SS
									     : INSN_SEG_DS;
	if (insn->mode_bits == 64) {
		/* Long mode ignores every segment base but FS's and GS's. */
		if (seg == INSN_SEG_FS || seg == INSN_SEG_GS)
			ea += seg_base(&cpu->sregs, seg);
	} else {
		/* Segment limits are not checked: the kernel's segments are flat. */
		ea = (ea + seg_base(&cpu->sregs, seg)) & 0xffffffffULL;
	}
	*linear = ea;
	return 0;
}

static int cpu_cpl(const struct insn_cpu *cpu)
{
	if (!(cpu->sregs.cr0 & CR0_PE))
		return 0;
	/* Like KVM: SS.DPL is the CPL (CS.DPL differs for conforming code). */
	return cpu->sregs.ss.dpl;
}

/*
 * Where the LEN bytes at LINEAR live in guest RAM, checked as the CPU checks
 * a data access (U/S, R/W with CR0.WP, SMAP), at most two pages.
 */
static int mem_locate(const struct insn_cpu *cpu, const struct guest_mem *gm, uint64_t linear,
		      unsigned len, bool write, uint64_t gpa[2], unsigned part[2])
{
	struct pw_ctx ctx = {
		.cr0 = cpu->sregs.cr0,
		.cr3 = cpu->sregs.cr3,
		.cr4 = cpu->sregs.cr4,
		.efer = cpu->sregs.efer,
	};
	bool user = cpu_cpl(cpu) == 3;
	bool paging = ctx.cr0 & PW_CR0_PG;
	unsigned i;

	part[0] = 0x1000 - (linear & 0xfff);
	if (part[0] > len)
		part[0] = len;
	part[1] = len - part[0];
	for (i = 0; i < 2 && part[i]; i++) {
		uint64_t va = linear + (i ? part[0] : 0);
		struct pw_result res;
		const char *why = NULL;

		if (pw_translate(gm, &ctx, va, &res))
			why = res.fault;
		else if (paging && user && !res.user)
			why = "supervisor page";
		else if (paging && write && !res.writable && (user || (ctx.cr0 & PW_CR0_WP)))
			why = "read-only page";
		else if (paging && !user && res.user && (ctx.cr4 & CR4_SMAP) &&
			 !(cpu->regs.rflags & RFLAGS_AC))
			why = "user page under SMAP";
		else if (!gm_is_ram(gm, res.gpa, part[i]))
			why = "not RAM";
		if (why) {
			log_debug("insn: operand at 0x%" PRIx64 ": %s", va, why);
			return -EFAULT;
		}
		gpa[i] = res.gpa;
	}
	return 0;
}

static int mem_read(const struct insn_cpu *cpu, const struct guest_mem *gm, uint64_t linear,
		    void *dst, unsigned len)
{
	uint64_t gpa[2];
	unsigned part[2];
	int ret = mem_locate(cpu, gm, linear, len, false, gpa, part);

	if (ret)
		return ret;
	if (gm_read(gm, gpa[0], dst, part[0]) ||
	    (part[1] && gm_read(gm, gpa[1], (uint8_t *)dst + part[0], part[1])))
		return -EFAULT;
	return 0;
}

/* Both pages are checked before either is written: no torn store on a fault. */
static int mem_write(const struct insn_cpu *cpu, const struct guest_mem *gm, uint64_t linear,
		     const void *src, unsigned len)
{
	uint64_t gpa[2];
	unsigned part[2];
	int ret = mem_locate(cpu, gm, linear, len, true, gpa, part);

	if (ret)
		return ret;
	if (gm_write(gm, gpa[0], src, part[0]) ||
	    (part[1] && gm_write(gm, gpa[1], (const uint8_t *)src + part[0], part[1])))
		return -EFAULT;
	return 0;
}

static void advance_rip(const struct insn *insn, struct insn_cpu *cpu)
{
	cpu->regs.rip += insn->len;
	if (insn->mode_bits != 64)
		cpu->regs.rip &= insn->mode_bits == 32 ? 0xffffffffULL : 0xffffULL;
	cpu->regs_dirty = true;
}

static int complete_mxcsr(const struct insn *insn, struct insn_cpu *cpu, const struct guest_mem *gm)
{
	uint64_t linear;
	uint32_t v;
	int ret;

	/* With CR0.TS the guest would take #NM first: its handler's business. */
	if (cpu->sregs.cr0 & CR0_TS)
		return -ENOTSUP;
	ret = insn_mem_addr(insn, cpu, &linear);
	if (ret)
		return -ENOTSUP;
	if (insn->kind == INSN_STMXCSR) {
		v = cpu->fpu.mxcsr;
		ret = mem_write(cpu, gm, linear, &v, sizeof(v));
		if (ret)
			return ret;
	} else {
		ret = mem_read(cpu, gm, linear, &v, sizeof(v));
		if (ret)
			return ret;
		if (v & MXCSR_RESERVED) {
			log_debug("insn: ldmxcsr of 0x%08x sets reserved bits", v);
			return -EINVAL;
		}
		cpu->fpu.mxcsr = v;
		cpu->fpu_dirty = true;
	}
	advance_rip(insn, cpu);
	return 0;
}

static int complete_popcnt(const struct insn *insn, struct insn_cpu *cpu,
			   const struct guest_mem *gm)
{
	uint64_t mask = size_mask(insn->op_size), src = 0, *dst, linear;
	int ret;

	dst = insn_gpr(&cpu->regs, insn->reg_num);
	if (!dst)
		return -ENOTSUP;
	if (insn->has_mem) {
		if (insn_mem_addr(insn, cpu, &linear))
			return -ENOTSUP;
		/* x86 is little-endian like every host vmdbg runs on. */
		ret = mem_read(cpu, gm, linear, &src, insn->op_size);
		if (ret)
			return ret;
	} else {
		src = gpr_value(cpu, insn->rm_reg_num);
	}
	src &= mask;
	if (insn->op_size == 2)
		*dst = (*dst & ~mask) | (uint64_t)__builtin_popcountll(src);
	else
		*dst = (uint64_t)__builtin_popcountll(src); /* a 32-bit result zero-extends */
	cpu->regs.rflags &=
		~(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF);
	if (!src)
		cpu->regs.rflags |= RFLAGS_ZF;
	advance_rip(insn, cpu);
	return 0;
}

/*
 * LSL (SDM Vol. 2A): ZF=1 and the byte-granular limit of the descriptor the
 * selector names when it is visible at max(CPL, RPL); otherwise ZF=0 and the
 * destination is left alone. Linux uses it on its per-CPU GDT_ENTRY_CPUNODE
 * segment to learn the CPU number in paranoid_entry.
 */
static int complete_lsl(const struct insn *insn, struct insn_cpu *cpu, const struct guest_mem *gm)
{
	uint64_t linear, desc, *dst = insn_gpr(&cpu->regs, insn->reg_num);
	uint16_t sel = 0;
	const struct kvm_dtable *gdt = &cpu->sregs.gdt;
	uint64_t base = gdt->base, limit = gdt->limit;
	unsigned type, dpl, rpl, cpl = (unsigned)cpu_cpl(cpu);
	bool valid;
	uint32_t seg_limit;
	int ret;

	if (!dst)
		return -ENOTSUP;
	if (insn->has_mem) {
		if (insn_mem_addr(insn, cpu, &linear))
			return -ENOTSUP;
		ret = mem_read(cpu, gm, linear, &sel, sizeof(sel));
		if (ret)
			return ret;
	} else {
		sel = (uint16_t)gpr_value(cpu, insn->rm_reg_num);
	}
	if (sel & 4) {
		base = cpu->sregs.ldt.base;
		limit = cpu->sregs.ldt.unusable ? 0 : cpu->sregs.ldt.limit;
	}
	valid = (sel & ~7u) != 0 || (sel & 4);
	if (valid && (uint64_t)(sel & ~7u) + 7 > limit)
		valid = false;
	if (valid) {
		ret = mem_read(cpu, gm, base + (sel & ~7u), &desc, sizeof(desc));
		if (ret)
			return ret;
		type = (desc >> 40) & 0xf;
		dpl = (desc >> 45) & 3;
		rpl = sel & 3;
		if (desc & (1ULL << 44)) {
			/* Code or data: conforming code is always visible. */
			bool conforming = (type & 0xc) == 0xc;

			valid = conforming || (dpl >= cpl && dpl >= rpl);
		} else {
			/* System: LDT and TSS descriptors only (64-bit mode: types 2, 9, 11). */
			valid = (type == 2 || type == 9 || type == 11 ||
				 (insn->mode_bits != 64 && (type == 1 || type == 3))) &&
				dpl >= cpl && dpl >= rpl;
		}
	}
	cpu->regs.rflags &= ~RFLAGS_ZF;
	if (valid) {
		seg_limit = (uint32_t)(desc & 0xffff) | (uint32_t)((desc >> 32) & 0xf0000);
		if (desc & (1ULL << 55))
			seg_limit = (seg_limit << 12) | 0xfff;
		if (insn->op_size == 2)
			*dst = (*dst & ~0xffffULL) | (seg_limit & 0xffff);
		else
			*dst = seg_limit; /* 32- and 64-bit forms zero-extend */
		cpu->regs.rflags |= RFLAGS_ZF;
	}
	advance_rip(insn, cpu);
	return 0;
}

int insn_complete(const struct insn *insn, struct insn_cpu *cpu, const struct guest_mem *gm)
{
	if (!insn->completable || !insn->len)
		return -ENOTSUP;
	switch (insn->kind) {
	case INSN_INT3:
		/* The caller injects #BP; the guest sees the trap after the int3, as on hardware.
		 */
		advance_rip(insn, cpu);
		cpu->inject_bp = true;
		return 0;
	case INSN_FWAIT:
		/* A pending unmasked x87 exception would be #MF: the guest's to handle. */
		if ((cpu->fpu.fsw & FSW_ES) && (cpu->fpu.fsw & ~cpu->fpu.fcw & FPU_EXCEPTIONS))
			return -ENOTSUP;
		if ((cpu->sregs.cr0 & (CR0_TS | CR0_MP)) == (CR0_TS | CR0_MP))
			return -ENOTSUP;
		advance_rip(insn, cpu);
		return 0;
	case INSN_LDMXCSR:
	case INSN_STMXCSR: return complete_mxcsr(insn, cpu, gm);
	case INSN_CLAC:
	case INSN_STAC:
		/* Outside CPL 0 they are #UD: report rather than pretend. */
		if (cpu_cpl(cpu) != 0)
			return -ENOTSUP;
		if (insn->kind == INSN_CLAC)
			cpu->regs.rflags &= ~RFLAGS_AC;
		else
			cpu->regs.rflags |= RFLAGS_AC;
		advance_rip(insn, cpu);
		return 0;
	case INSN_FENCE:
		/* The host's own ordering at the exit is stronger than any fence. */
		advance_rip(insn, cpu);
		return 0;
	case INSN_POPCNT: return complete_popcnt(insn, cpu, gm);
	case INSN_LSL: return complete_lsl(insn, cpu, gm);
	default: return -ENOTSUP;
	}
}

void insn_format(const struct insn *insn, const uint8_t *bytes, char *buf, unsigned size)
{
	unsigned count = insn->len ? insn->len : insn->nbytes;
	unsigned i;
	size_t used;
	int w;

	if (!size)
		return;
	if (!bytes)
		count = 0;
	w = snprintf(buf, size, "%s", insn->name ? insn->name : "unknown");
	used = w < 0 ? 0 : (size_t)w;
	for (i = 0; i < count && used < size; i++) {
		w = snprintf(buf + used, size - used, "%s%02x", i ? " " : " (", bytes[i]);
		used += w < 0 ? 0 : (size_t)w;
	}
	if (count && used < size)
		snprintf(buf + used, size - used, ")");
}
