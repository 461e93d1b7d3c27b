/*
 * Instructions this KVM (PVM) cannot emulate. When KVM_RUN returns
 * KVM_EXIT_INTERNAL_ERROR / KVM_INTERNAL_ERROR_EMULATION with the failing
 * bytes, vmdbg decodes them here, names the instruction, and completes the
 * ones it knows against the vCPU state, so the guest goes on.
 */
#ifndef VMDBG_INSN_H
#define VMDBG_INSN_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"

/* The architectural maximum: longer byte strings are #GP on hardware. */
#define INSN_MAX_LEN 15

enum insn_kind {
	INSN_UNKNOWN,
	INSN_INT3,	 /* advance RIP, inject #BP (the kernel's int3 self-test) */
	INSN_FWAIT,	 /* no pending x87 exception: advance RIP */
	INSN_LDMXCSR,	 /* load MXCSR from m32 into the FPU state */
	INSN_STMXCSR,	 /* store MXCSR to m32 */
	INSN_CLAC,	 /* clear RFLAGS.AC */
	INSN_STAC,	 /* set RFLAGS.AC */
	INSN_POPCNT,	 /* completed; clearcpuid=popcnt also avoids it */
	INSN_CMPXCHG16B, /* not completed: clearcpuid=cx16 */
	INSN_XRSTOR,	 /* not completed: clearcpuid=xsave (xrstor, xrstors) */
	INSN_XSAVE,	 /* family of xsave/xsaveopt/xsavec/xsaves */
	INSN_CMPXCHG8B,	 /* not completed */
	INSN_FXSAVE,	 /* not completed */
	INSN_FXRSTOR,	 /* not completed */
	INSN_FENCE,	 /* lfence/mfence/sfence: nothing to do but advance RIP */
	INSN_RDPKRU,	 /* not completed */
	INSN_WRPKRU,	 /* not completed */
	INSN_UD2,	 /* the guest's own BUG(): never completed */
	INSN_LSL,	 /* load segment limit: Linux's paranoid_entry reads the CPU number with it */
	INSN_SSE_MOV,	 /* movd/movq between a GPR or memory and an XMM/MMX register: named only */
};

/* Segment numbers in seg_override (x86 encoding order). */
enum insn_seg { INSN_SEG_ES, INSN_SEG_CS, INSN_SEG_SS, INSN_SEG_DS, INSN_SEG_FS, INSN_SEG_GS };

struct insn {
	enum insn_kind kind;
	const char *name; /* mnemonic, e.g. "ldmxcsr" */
	unsigned len;	  /* total length in bytes, prefixes included; 0 when unknown */
	unsigned nbytes;  /* bytes given to insn_decode (at most INSN_MAX_LEN) */
	bool completable; /* vmdbg can finish it in userspace */
	int mode_bits;	  /* 16, 32 or 64: the CPU mode it was decoded for */
	int op_size;	  /* operand size in bytes: 2, 4 or 8 */
	bool lock, rep, repne;
	uint8_t rex; /* 0 when absent */
	/* ModRM fields as encoded (0..7; -1 without ModRM). */
	int mod, reg, rm;
	/* The ModRM operands as full register numbers, REX applied (-1 when absent). */
	int reg_num;	/* ModRM.reg | REX.R */
	int rm_reg_num; /* ModRM.rm | REX.B when mod == 3 */
	/* Memory operand (ModRM with mod != 3). */
	bool has_mem;
	/*
	 * Register numbers in x86 encoding order (RAX=0, RCX=1, RDX=2, RBX=3,
	 * RSP=4, RBP=5, RSI=6, RDI=7, R8..R15=8..15; insn_gpr maps them onto
	 * struct kvm_regs); -1 when absent. scale is 1, 2, 4 or 8.
	 */
	int base_reg, index_reg, scale;
	int64_t disp;
	bool rip_relative;
	int seg_override; /* -1 none, else enum insn_seg */
	int addr_size;	  /* 8, 4 or 2 */
};

/*
 * Decode the instruction at BYTES (N valid bytes, never read beyond) for a
 * CPU in MODE_BITS (16, 32 or 64) mode. Returns 0, or -EINVAL with OUT
 * describing an INSN_UNKNOWN named "unknown" of length 0.
 */
int insn_decode(const uint8_t *bytes, unsigned n, int cpu_mode_bits, struct insn *out);

/* The mode (16, 32 or 64) a vCPU with these segment and control registers decodes in. */
int insn_mode_bits(const struct kvm_sregs *s);

/* The vCPU state insn_complete works on; vcpu.c fills it and writes back what is marked dirty. */
struct insn_cpu {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	bool regs_dirty, fpu_dirty;
	bool inject_bp; /* inject #BP (vector 3) as a software exception after RIP moved */
};

/* The kvm_regs field for register NUM in x86 encoding order (0..15), or NULL. */
uint64_t *insn_gpr(struct kvm_regs *regs, int num);

/*
 * Linear address of INSN's memory operand for CPU (RIP-relative forms are
 * relative to the next instruction). Returns 0 or -EINVAL without one.
 */
int insn_mem_addr(const struct insn *insn, const struct insn_cpu *cpu, uint64_t *linear);

/*
 * Finish INSN against CPU (guest memory through GM and the vCPU's page
 * tables). Returns 0 when RIP was advanced and the state is ready to write
 * back; -ENOTSUP when the instruction cannot be completed (unknown, not
 * implemented, or the guest would take an exception the caller should
 * report: fwait with a pending unmasked x87 exception, clac/stac outside
 * CPL 0); -EFAULT when a memory operand is not mapped, not RAM, or not
 * accessible; -EINVAL when ldmxcsr would load reserved MXCSR bits (#GP on
 * hardware). On error CPU is left unchanged.
 */
int insn_complete(const struct insn *insn, struct insn_cpu *cpu, const struct guest_mem *gm);

/*
 * "ldmxcsr (0f ae 55 fc)": the mnemonic followed by its bytes (all the
 * bytes given to insn_decode when unknown). Always NUL-terminates (SIZE > 0).
 */
void insn_format(const struct insn *insn, const uint8_t *bytes, char *buf, unsigned size);

#endif
