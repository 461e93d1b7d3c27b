/* gdb register numbers over KVM vCPU state (see regs.h and target_xml.c). */
#include "regs.h"

#include <errno.h>
#include <string.h>

#include "emu/debug.h"
#include "emu/vm.h"

#define MSR_KERNEL_GS_BASE 0xc0000102

static const int8_t reg_sizes[GDB_NUM_REGS] = {
	8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,     /* rax..r15 */
	8, 4,                                               /* rip, eflags */
	4, 4, 4, 4, 4, 4,                                   /* cs ss ds es fs gs */
	10, 10, 10, 10, 10, 10, 10, 10,                     /* st0-7 */
	4, 4, 4, 4, 4, 4, 4, 4,                             /* fctrl..fop */
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, /* xmm0-15 */
	4,                                                  /* mxcsr */
	8, 8, 8,                                            /* fs_base gs_base k_gs_base */
	8, 8, 8, 8, 8, 8,                                   /* cr0 cr2 cr3 cr4 cr8 efer */
};

int gdb_reg_size(int regnum)
{
	return regnum >= 0 && regnum < GDB_NUM_REGS ? reg_sizes[regnum] : -1;
}

size_t gdb_regs_block_size(void)
{
	size_t n = 0;

	for (int i = 0; i < GDB_NUM_REGS; i++)
		n += (size_t)reg_sizes[i];
	return n;
}

static __u64 *gpr(struct kvm_regs *r, int n)
{
	__u64 *const order[16] = { &r->rax, &r->rbx, &r->rcx, &r->rdx, &r->rsi, &r->rdi,
				   &r->rbp, &r->rsp, &r->r8,  &r->r9,  &r->r10, &r->r11,
				   &r->r12, &r->r13, &r->r14, &r->r15 };
	return order[n];
}

static struct kvm_segment *seg(struct kvm_sregs *s, int n)
{
	struct kvm_segment *const order[6] = { &s->cs, &s->ss, &s->ds, &s->es, &s->fs, &s->gs };
	return order[n];
}

static __u64 *sysreg(struct gdb_cpu_state *st, int n)
{
	__u64 *const order[9] = { &st->sregs.fs.base, &st->sregs.gs.base,
				  (__u64 *)&st->kernel_gs_base, &st->sregs.cr0,
				  &st->sregs.cr2, &st->sregs.cr3, &st->sregs.cr4,
				  &st->sregs.cr8, &st->sregs.efer };
	return order[n];
}

/* The full x87 tag word from FXSAVE's abridged one: empty, or valid/zero/special by content. */
static uint32_t full_ftag(const struct kvm_fpu *f)
{
	uint32_t tag = 0;
	unsigned top = (f->fsw >> 11) & 7;

	for (int phys = 0; phys < 8; phys++) {
		const uint8_t *r = f->fpr[(phys - top) & 7];
		uint16_t exp = (uint16_t)((r[9] & 0x7f) << 8 | r[8]);
		uint64_t mant;
		uint32_t t;

		memcpy(&mant, r, 8);
		if (!(f->ftwx & (1u << phys)))
			t = 3;
		else if (exp == 0x7fff)
			t = 2;
		else if (exp == 0)
			t = mant ? 2 : 1;
		else
			t = (mant >> 63) ? 0 : 2;
		tag |= t << (2 * phys);
	}
	return tag;
}

static void put_le(uint8_t *out, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *in, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v |= (uint64_t)in[i] << (8 * i);
	return v;
}

void gdb_reg_get(const struct gdb_cpu_state *cst, int n, uint8_t *out)
{
	struct gdb_cpu_state *st = (struct gdb_cpu_state *)cst;
	const struct kvm_fpu *f = &st->fpu;

	if (n < 16)
		put_le(out, *gpr(&st->regs, n), 8);
	else if (n == 16)
		put_le(out, st->regs.rip, 8);
	else if (n == 17)
		put_le(out, st->regs.rflags, 4);
	else if (n < 24)
		put_le(out, seg(&st->sregs, n - 18)->selector, 4);
	else if (n < 32)
		memcpy(out, f->fpr[n - 24], 10);
	else if (n < 40) {
		uint32_t v[8] = { f->fcw, f->fsw, full_ftag(f), 0, (uint32_t)f->last_ip, 0,
				  (uint32_t)f->last_dp, f->last_opcode };
		put_le(out, v[n - 32], 4);
	} else if (n < 56)
		memcpy(out, f->xmm[n - 40], 16);
	else if (n == 56)
		put_le(out, f->mxcsr, 4);
	else if (n < GDB_NUM_REGS)
		put_le(out, *sysreg(st, n - 57), 8);
}

void gdb_reg_set(struct gdb_cpu_state *st, int n, const uint8_t *in)
{
	struct kvm_fpu *f = &st->fpu;

	if (n < 16) {
		*gpr(&st->regs, n) = get_le(in, 8);
		st->dirty |= GDB_DIRTY_REGS;
	} else if (n == 16) {
		st->regs.rip = get_le(in, 8);
		st->dirty |= GDB_DIRTY_REGS;
	} else if (n == 17) {
		st->regs.rflags = get_le(in, 4) | 2; /* bit 1 is always one */
		st->dirty |= GDB_DIRTY_REGS;
	} else if (n < 24) {
		uint16_t sel = (uint16_t)get_le(in, 4);

		if (seg(&st->sregs, n - 18)->selector != sel) {
			seg(&st->sregs, n - 18)->selector = sel;
			st->seg_dirty |= (uint8_t)(1u << (n - 18));
			st->dirty |= GDB_DIRTY_SREGS;
		}
	} else if (n < 32) {
		memcpy(f->fpr[n - 24], in, 10);
		st->dirty |= GDB_DIRTY_FPU;
	} else if (n < 40) {
		uint32_t v = (uint32_t)get_le(in, 4);

		switch (n - 32) {
		case 0: f->fcw = (uint16_t)v; break;
		case 1: f->fsw = (uint16_t)v; break;
		case 2: /* abridged: a register is valid unless its tag says empty */
			f->ftwx = 0;
			for (unsigned phys = 0; phys < 8; phys++)
				if (((v >> (2 * phys)) & 3) != 3)
					f->ftwx |= (uint8_t)(1u << phys);
			break;
		case 4: f->last_ip = v; break;
		case 6: f->last_dp = v; break;
		case 7: f->last_opcode = (uint16_t)v; break;
		default: break; /* fiseg/foseg do not exist in 64-bit FXSAVE */
		}
		st->dirty |= GDB_DIRTY_FPU;
	} else if (n < 56) {
		memcpy(f->xmm[n - 40], in, 16);
		st->dirty |= GDB_DIRTY_FPU;
	} else if (n == 56) {
		f->mxcsr = (uint32_t)get_le(in, 4);
		st->dirty |= GDB_DIRTY_FPU;
	} else if (n < GDB_NUM_REGS) {
		*sysreg(st, n - 57) = get_le(in, 8);
		st->dirty |= n == 59 ? GDB_DIRTY_MSR : GDB_DIRTY_SREGS;
	}
}

int gdb_regs_load(struct vm *vm, int cpu, struct gdb_cpu_state *st)
{
	int r;

	memset(st, 0, sizeof(*st));
	r = vm_get_regs(vm, cpu, &st->regs);
	if (!r)
		r = vm_get_sregs(vm, cpu, &st->sregs);
	if (!r)
		r = debug_get_fpu(vm, cpu, &st->fpu);
	if (!r && debug_get_msr(vm, cpu, MSR_KERNEL_GS_BASE, &st->kernel_gs_base))
		st->kernel_gs_base = 0;
	return r;
}

/* Load a segment's hidden part from its descriptor, as a mov to the selector would. */
static void load_segment(struct vm *vm, int cpu, struct kvm_sregs *s, int n)
{
	struct kvm_segment *sg = seg(s, n);
	uint16_t sel = sg->selector;
	uint8_t d[8];

	if ((sel & ~3u) == 0) {
		/* A null selector: unusable (cs/ss cannot be null; keep what was there). */
		if (n >= 2) {
			uint16_t keep = sel;

			memset(sg, 0, sizeof(*sg));
			sg->selector = keep;
			sg->unusable = 1;
		}
		return;
	}
	/* LDT selectors and descriptors past the GDT limit keep the old hidden part. */
	if ((sel & 4) || (uint32_t)(sel & ~7u) + 7 > s->gdt.limit ||
	    debug_read_virt(vm, cpu, s->gdt.base + (sel & ~7u), d, 8) != 8)
		return;
	sg->limit = (uint32_t)(d[0] | d[1] << 8 | (d[6] & 0xf) << 16);
	sg->base = (uint64_t)(d[2] | d[3] << 8 | d[4] << 16 | (uint32_t)d[7] << 24);
	sg->type = d[5] & 0xf;
	sg->s = (d[5] >> 4) & 1;
	sg->dpl = (d[5] >> 5) & 3;
	sg->present = (d[5] >> 7) & 1;
	sg->avl = (d[6] >> 4) & 1;
	sg->l = (d[6] >> 5) & 1;
	sg->db = (d[6] >> 6) & 1;
	sg->g = (d[6] >> 7) & 1;
	sg->unusable = !sg->present;
	if (sg->g)
		sg->limit = sg->limit << 12 | 0xfff;
}

int gdb_regs_store(struct vm *vm, int cpu, struct gdb_cpu_state *st)
{
	int r = 0;

	for (int n = 0; n < 6; n++)
		if (st->seg_dirty & (1u << n))
			load_segment(vm, cpu, &st->sregs, n);
	if (st->dirty & GDB_DIRTY_REGS)
		r = vm_set_regs(vm, cpu, &st->regs);
	if (!r && (st->dirty & GDB_DIRTY_SREGS))
		r = vm_set_sregs(vm, cpu, &st->sregs);
	if (!r && (st->dirty & GDB_DIRTY_FPU))
		r = debug_set_fpu(vm, cpu, &st->fpu);
	if (!r && (st->dirty & GDB_DIRTY_MSR))
		r = debug_set_msr(vm, cpu, MSR_KERNEL_GS_BASE, st->kernel_gs_base);
	st->dirty = 0;
	st->seg_dirty = 0;
	return r;
}
