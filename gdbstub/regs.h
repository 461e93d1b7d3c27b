/* gdb's x86-64 register numbering (the target description's regnums) over KVM vCPU state. */
#ifndef VMDBG_GDB_REGS_H
#define VMDBG_GDB_REGS_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

struct gdb_cpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	uint64_t kernel_gs_base;
	uint8_t seg_dirty;  /* bit per selector (cs ss ds es fs gs) written by gdb */
	uint8_t dirty;      /* GDB_DIRTY_* */
};

#define GDB_DIRTY_REGS 1
#define GDB_DIRTY_SREGS 2
#define GDB_DIRTY_FPU 4
#define GDB_DIRTY_MSR 8

#define GDB_NUM_REGS 66
#define GDB_REG_RBP 6
#define GDB_REG_RSP 7
#define GDB_REG_RIP 16

int gdb_reg_size(int regnum); /* bytes, or -1 for no such register */
/* Target-byte-order value of REGNUM into OUT (gdb_reg_size bytes). */
void gdb_reg_get(const struct gdb_cpu_state *st, int regnum, uint8_t *out);
void gdb_reg_set(struct gdb_cpu_state *st, int regnum, const uint8_t *in);
/* Bytes of the whole 'g' block. */
size_t gdb_regs_block_size(void);

int gdb_regs_load(struct vm *vm, int cpu, struct gdb_cpu_state *st);
/* Write back what gdb changed; a selector write reloads its hidden part from the GDT. */
int gdb_regs_store(struct vm *vm, int cpu, struct gdb_cpu_state *st);

/* The target description and the memory map (static text). */
const char *gdb_target_xml(void);
#endif
