/*
 * The machine: one KVM VM, its RAM, vCPU threads, in-kernel irqchip and PIT,
 * the port-I/O and MMIO buses, the UARTs and the ACPI power registers. This
 * is the API the layers above (virtio wiring, REPL, gdb stub) use; they never
 * issue KVM ioctls themselves.
 */
#ifndef VMDBG_VM_H
#define VMDBG_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "acpi.h"
#include "bus.h"
#include "guest_mem.h"
#include "hostbuf.h"
#include "kernel_id.h"
#include "loader.h"
#include "pm.h"
#include "symbols.h"
#include "uart.h"

#define VM_MAX_CPUS 64
#define VM_DEFAULT_MEM (256ULL << 20)

struct vm_config {
	const char *kernel;
	const char *initrd;
	const char *append;        /* NULL: vmdbg's default command line */
	uint64_t mem_size;
	int ncpus;
	const char *cpuid_filter;  /* "-cx16,-xsave" or NULL */
	bool virtio_cmdline;       /* append virtio_mmio.device= for each window */
	const char *serial2_path;  /* COM2 output file or NULL */
	bool pvm_workarounds;      /* add clearcpuid=/rdinit= on PVM (default true) */
	bool stop_on_crash;        /* keep the VM paused after a crash instead of exiting */
	bool reboot;               /* a guest reboot resets the machine (vm_reboot.c), not ends the run */
};

enum vcpu_state { VCPU_RUNNING, VCPU_PAUSED, VCPU_HALTED, VCPU_STOPPED };

/* KVM's per-vCPU counters vmdbg reads (emu/vcpu_stats.c). */
enum vcpu_stat { VCPU_STAT_EXITS, VCPU_STAT_HALT_EXITS, VCPU_STAT_INSN_EMULATION, VCPU_STAT_NR };

struct vcpu {
	struct vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	/* Protected by vm->lock. */
	bool parked;
	bool in_run; /* in the KVM_RUN ioctl (atomic: read by a pause that timed out) */
	uint64_t unparks; /* times it left a pause to run again (resume, step) */
	uint32_t last_exit_reason;
	/*
	 * What vmdbg made of that exit where KVM's reason misleads (on PVM a breakpoint is an
	 * "internal error"): a static phrase ("breakpoint", "step", ...) or NULL, and the
	 * instruction vmdbg completed in userspace (NULL if none). Written by the vCPU thread.
	 */
	const char *last_exit_what;
	const char *last_completed;
	uint64_t exits;             /* exits that reached vmdbg (KVM counts all: vm_vcpu_stat) */
	uint64_t emulated;          /* instructions completed in userspace */
	int stats_fd;               /* KVM_GET_STATS_FD, -1 without one */
	uint64_t stats_off[VCPU_STAT_NR]; /* each counter's file offset, 0: not offered */
};

/* Why the run ended; maps to the exit status (see README). */
enum vm_end {
	VM_END_NONE = -1,
	VM_END_POWEROFF = 0,     /* guest powered off: exit 0 */
	VM_END_USER = 0,         /* Ctrl-A X, quit, SIGTERM: exit 0 */
	VM_END_CRASH = 3,        /* triple fault, internal error, panic: exit 3 */
};

struct snap_file;

struct vm_mmio_dev {
	uint64_t base;
	uint32_t size;
	uint32_t gsi;
	int irqfd;                 /* eventfd bound to GSI through KVM_IRQFD */
};

typedef void (*vm_io_trace_fn)(void *opaque, int cpu, bool is_mmio, uint64_t addr,
			       const void *data, unsigned len, bool is_write);

struct vm {
	struct vm_config cfg;
	int kvm_fd, vm_fd;
	int run_size;
	bool on_pvm;
	struct guest_mem mem;
	struct bus pio, mmio;
	struct boot_info boot;
	char *cmdline;
	/* Absolute (realpath at start, as given when missing): what a snapshot records. */
	char *kernel_path, *initrd_path;
	char kernel_id[KERNEL_ID_MAX]; /* kernel_id.h; "" unknown (an older snapshot's kernel) */
	bool initrd_idle;          /* vmdbg added rdinit=/idle: /idle goes after the initrd */
	/* Can guest user space make system calls here? Probed (kvm_probe.h) before a Linux boot with an initrd. */
	enum { VM_SYSCALL_UNPROBED, VM_SYSCALL_WORKS, VM_SYSCALL_FAILS } guest_syscall;
	char guest_syscall_why[192];
	struct symtab syms;        /* from the kernel ELF when it has a .symtab */
	struct debug *debug;       /* gdb/REPL debug state (emu/debug.c), NULL until used */
	struct profile *prof;      /* the guest profiler (emu/profile.c), NULL until used */

	int ncpus;
	struct vcpu vcpus[VM_MAX_CPUS];
	struct kvm_cpuid2 *cpuid;  /* the filtered supported set */

	struct uart *com1, *com2;
	int com2_fd;
	struct pm pm;
	struct hostbuf console_out;  /* COM1 bytes for the terminal (main thread drains) */

	int nr_mmio;
	struct vm_mmio_dev mmio_devs[ACPI_MAX_MMIO_DEVS];

	/* Pause/resume and the end of the run. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int pause_depth;           /* > 0: every vCPU parks */
	bool ending;
	int end_status;            /* enum vm_end, set once */
	char end_reason[256];
	int event_fd;              /* written when the run ends or a vCPU stops (main loop wakes) */
	uint64_t start_ns;

	/* Warm reboot (--reboot, emu/vm_reboot.c). */
	struct snap_file *power_on; /* the vCPUs, irqchip, PIT and UARTs before the first instruction */
	int reboot_requested;       /* set by a vCPU thread, taken by the main loop (atomic) */
	unsigned reboots;

	/* Tracing: called on the vCPU thread for every port-I/O / MMIO access (NULL: off).
	 * Set with vm_set_io_trace: vCPU threads read it while the main thread changes it. */
	vm_io_trace_fn io_trace;
	void *io_trace_opaque;
};

/* Build the machine: RAM, devices, ACPI, kernel. ERR gets a one-line reason. */
int vm_create(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen);

/*
 * Add a virtio-mmio style device at the next free window (before vm_load, whose ACPI
 * tables describe it).
 * Returns its index; *IRQFD receives an eventfd that raises its GSI (edge).
 */
int vm_add_mmio_device(struct vm *vm, const struct bus_dev_ops *ops, void *opaque,
		       const char *name, int *irqfd);

/* Write the ACPI tables, load the kernel and its boot structures (nothing runs yet). */
int vm_load(struct vm *vm, char *err, size_t errlen);
/* vm_load's part that writes guest RAM (the tables, kernel, initrd, boot structures). */
int vm_load_images(struct vm *vm, char *err, size_t errlen);
/* Create the vCPUs (unless vm_create_vcpus did) and start their threads: the guest runs. */
int vm_start(struct vm *vm, char *err, size_t errlen);
/* Create the vCPUs without starting them; RESTORING keeps the CPUID table as it is. */
int vm_create_vcpus(struct vm *vm, bool restoring, char *err, size_t errlen);
/* Kernel symbols from the ELF's .symtab or a System.map beside it (cfg.kernel). */
void vm_load_symbols(struct vm *vm);
/*
 * Record the kernel and initrd as absolute paths, and the kernel's id unless one is set
 * (a restore sets the snapshot's first). Without cfg.kernel (a restored snapshot's kernel
 * is missing) SAVED_PATH is kept, so a later snapshot still names it.
 */
void vm_note_kernel(struct vm *vm, const char *saved_path);
void vm_destroy(struct vm *vm);

/* Pause every vCPU and wait until each has parked; nests. Resume undoes one pause. */
/* How long a pause waits for a vCPU to park before it goes on without it. */
#define VM_PARK_TIMEOUT_MS 5000
/* Stop every vCPU and wait until each has parked (bounded: -ETIMEDOUT, said in a warning). */
int vm_pause(struct vm *vm);
/* Wait (bounded, as vm_pause) until every vCPU but the caller's own has parked. */
int vm_wait_parked(struct vm *vm);
/*
 * Whether CPU is parked (or not started, or the caller itself): its ioctls cannot block.
 * A vCPU asked to stop is waited for (bounded); a running one answers false at once.
 */
bool vm_vcpu_stopped(struct vm *vm, int cpu);
/* A vCPU ioctl: -EBUSY instead of blocking when that vCPU is running; else ioctl's result. */
int vm_vcpu_ioctl(struct vm *vm, int cpu, unsigned long req, void *arg);
int vm_resume(struct vm *vm);
bool vm_is_paused(struct vm *vm);
/* How often CPU has left a pause to run again: unchanged, it has not run since the last look. */
uint64_t vm_vcpu_unparks(struct vm *vm, int cpu);
/*
 * Ask every vCPU to park without waiting for it: safe from a vCPU thread
 * (a device-event breakpoint stops the machine at the moment of the event;
 * the calling vCPU parks when its exit is done). Undo with vm_resume.
 */
void vm_request_pause(struct vm *vm);
/* Install (or, with FN NULL, remove) the port-I/O / MMIO trace hook; any thread. */
void vm_set_io_trace(struct vm *vm, vm_io_trace_fn fn, void *opaque);
/* On a vCPU thread: pass one access to the trace hook, if any. */
void vm_io_trace(struct vcpu *v, bool is_mmio, uint64_t addr, const void *data, unsigned len,
		 bool is_write);

/* End the run with STATUS (enum vm_end) and a reason; the first call wins. */
void vm_end(struct vm *vm, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool vm_ended(struct vm *vm);

/* vCPU state (the vCPU should be paused; each call is one KVM ioctl). */
int vm_get_regs(struct vm *vm, int cpu, struct kvm_regs *regs);
int vm_set_regs(struct vm *vm, int cpu, const struct kvm_regs *regs);
int vm_get_sregs(struct vm *vm, int cpu, struct kvm_sregs *sregs);
int vm_set_sregs(struct vm *vm, int cpu, const struct kvm_sregs *sregs);

/* KVM's multiprocessing state of CPU (KVM_MP_STATE_*): halted, waiting for SIPI, ... */
int vm_get_mp_state(struct vm *vm, int cpu, uint32_t *mp_state);
/* KVM's own counter WHICH of CPU, live (no pause needed); -ENOTSUP on a KVM without stats. */
int vm_vcpu_stat(struct vm *vm, int cpu, enum vcpu_stat which, uint64_t *val);

/* Print every register of CPU in the style of QEMU's `info registers`. */
void vm_format_regs(struct vm *vm, int cpu, char *buf, size_t size);

/* Nanoseconds since vm_create. */
uint64_t vm_uptime_ns(const struct vm *vm);
uint64_t now_ns(void);

/* Internal to emu/: the vCPU thread and boot register setup (vcpu.c). */
int vcpu_init(struct vm *vm, int id);
int vcpu_setup_boot(struct vcpu *vcpu, const struct boot_info *boot);
void *vcpu_thread(void *arg);
void vcpu_kick(struct vcpu *vcpu);
void vcpu_stats_open(struct vcpu *vcpu);
/* The vCPU whose thread calls this (its exit is being handled), or NULL on any other thread. */
struct vcpu *vcpu_current(void);

#endif
