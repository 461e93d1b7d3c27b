/*
 * The machine's part of a snapshot (file format: snapfile.h): configuration,
 * CPUID, sparse RAM, every vCPU's KVM state, the in-kernel irqchip, PIT and
 * kvmclock, and the UARTs. Devices on the virtio-mmio bus save their own
 * sections (virtio/console_snap.c).
 */
#ifndef VMDBG_VM_SNAP_H
#define VMDBG_VM_SNAP_H

#include "snapfile.h"
#include "vm.h"

/* What a snapshot says the machine was: enough to rebuild it (--restore). */
struct vm_snap_config {
	uint64_t mem_size;
	uint32_t ncpus;
	uint32_t nr_mmio;
	char kernel[1024], initrd[1024]; /* absolute since kernel ids; older files: as given */
	char kernel_id[KERNEL_ID_MAX];   /* "build-id HEX" or "sha256 HEX"; "" in older files */
	char cmdline[4096];
	char version[64];   /* vmdbg that wrote it */
	bool pvm_workarounds;
	bool initrd_idle;   /* vmdbg appended its /idle to the initrd (a reboot does again) */
};

struct vm_snap_stats {
	uint64_t ram_bytes;     /* bytes of RAM written (pages not all zero) */
	uint64_t ram_total;
	uint64_t file_bytes;
	uint64_t msrs;          /* MSRs saved per vCPU */
};

/* The machine must be paused. Writes CONF, CPID, RAM, VCPU x n, IRQC, PIT2, CLCK, UART x 2. */
int vm_snap_save(struct vm *vm, struct snap_writer *w, struct vm_snap_stats *st, char *err,
		 size_t errlen);

/*
 * A reboot's starting point (emu/vm_reboot.c): CONF, CPID, every vCPU, IRQC, PIT2, CLCK and
 * the UARTs, no RAM. vm_snap_restore_power_on puts the vCPUs, irqchip, PIT and UARTs back
 * and leaves RAM and kvmclock alone (a warm reset keeps memory, and time goes on).
 */
int vm_snap_save_power_on(struct vm *vm, struct snap_writer *w, char *err, size_t errlen);
int vm_snap_restore_power_on(struct vm *vm, const struct snap_file *f, char *err, size_t errlen);

/* Read CONF (and check it is sane). 0 or -EINVAL with ERR. */
int vm_snap_read_config(const struct snap_file *f, struct vm_snap_config *cfg, char *err,
			size_t errlen);

/*
 * Check that F can be restored into VM (same memory size, vCPUs and devices,
 * every section present and well formed) without changing anything.
 */
int vm_snap_check(struct vm *vm, const struct snap_file *f, char *err, size_t errlen);

/*
 * Restore F (checked by vm_snap_check) into VM, whose vCPUs exist and are
 * paused (or not started). Software breakpoints are put back over the new RAM.
 */
int vm_snap_restore(struct vm *vm, const struct snap_file *f, char *err, size_t errlen);

/*
 * Build a machine for --restore: like vm_load, but the CPUID table, command
 * line and symbols come from the snapshot, and the vCPUs are created and
 * given their saved state; vm_start then only starts their threads.
 */
int vm_restore_load(struct vm *vm, const struct snap_file *f, char *err, size_t errlen);

/* The KVM-free parts, also used by the unit tests over fake guest memory. */
void vm_snap_save_config(struct vm *vm, struct snap_writer *w);
/* BUF: a scratch buffer of 1 MiB. */
void vm_snap_save_ram(struct vm *vm, struct snap_writer *w, struct vm_snap_stats *st, uint8_t *buf);
int vm_snap_check_ram(struct vm *vm, const struct snap_section *s, char *err, size_t errlen);
void vm_snap_restore_ram(struct vm *vm, const struct snap_section *s);

/* Field keys, for tests that build sections by hand. */
enum { VM_SNAP_VCPU_REGS = 1, VM_SNAP_VCPU_XSAVE, VM_SNAP_VCPU_FPU, VM_SNAP_VCPU_XCRS,
       VM_SNAP_VCPU_SREGS, VM_SNAP_VCPU_MSRS, VM_SNAP_VCPU_MP_STATE, VM_SNAP_VCPU_LAPIC,
       VM_SNAP_VCPU_EVENTS, VM_SNAP_VCPU_DEBUGREGS };
#define VM_SNAP_ONE_FIELD 1

#endif
