/*
 * Guest debugging on KVM: software breakpoints (int3 keyed by guest-physical
 * address, reference counted), the four debug registers shared by every vCPU
 * (hardware breakpoints and write/access watchpoints), single-step with
 * interrupts blocked, and all-stop events. The gdb stub and the REPL's
 * break/hbreak/watch/step both go through this API: it is the single owner of
 * breakpoint slots.
 *
 * Threads: every function here is for the main thread, except
 * debug_handle_exit() and debug_vcpu_held(), which vcpu.c calls.
 *
 * Stops: a vCPU that hits a breakpoint (or finishes a step) records a stop
 * event, takes one pause reference (vm->pause_depth) on behalf of the debugger
 * and kicks every other vCPU, so the whole VM stops. The main thread learns of
 * it through debug's eventfd (debug_attach_evloop), calls debug_wait_stopped()
 * and takes the event with debug_take_event(). debug_resume() drops the
 * reference again, unless a second event recorded meanwhile is still valid: then
 * the VM stays stopped and that event is signalled at once (never lost, never
 * stale).
 */
#ifndef VMDBG_DEBUG_H
#define VMDBG_DEBUG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vcpu;
struct evloop;
struct kvm_probe;

#define DEBUG_HW_SLOTS 4
#define DEBUG_MAX_SW_BPS 256

enum debug_hw_type { DEBUG_HW_EXEC, DEBUG_HW_WRITE, DEBUG_HW_ACCESS };

/* Who holds a breakpoint: shown by `info breaks`. */
enum debug_owner { DEBUG_OWNER_GDB, DEBUG_OWNER_REPL, DEBUG_OWNER_NR };

enum debug_stop_reason {
	DEBUG_STOP_NONE,
	DEBUG_STOP_SWBREAK,
	DEBUG_STOP_HWBREAK,
	DEBUG_STOP_WATCH,      /* write watchpoint: addr is the watched address */
	DEBUG_STOP_AWATCH,     /* access watchpoint */
	DEBUG_STOP_STEP,       /* single-step done */
	DEBUG_STOP_INTERRUPT,  /* debug_stop_all (Ctrl-C, attach, --gdb-wait) */
	DEBUG_STOP_TRAP,       /* a #DB that is none of the above */
};

struct debug_event {
	enum debug_stop_reason reason;
	int cpu;
	int slot;              /* hardware slot for HWBREAK/WATCH/AWATCH, else -1 */
	uint64_t addr;         /* watched address, or the breakpoint's address */
	uint64_t pc;           /* linear RIP at the stop */
};

/* For `info breaks`. */
struct debug_bp_info {
	bool hw;
	enum debug_hw_type type;  /* hw only */
	int slot;                 /* hw only */
	uint64_t addr;            /* virtual address as inserted */
	uint64_t gpa;             /* sw only */
	uint64_t len;
	unsigned refs[DEBUG_OWNER_NR];
};

/* Per-vCPU resume actions. */
enum debug_action { DEBUG_ACT_STOP, DEBUG_ACT_CONT, DEBUG_ACT_STEP };

typedef void (*debug_stop_fn)(void *opaque);

/* Create the debug state of VM on first use (main thread). Never fails but on ENOMEM. */
int debug_init(struct vm *vm);
void debug_free(struct vm *vm);

/* Register debug's eventfd with LOOP once; FN runs (main thread) whenever a vCPU stopped. */
int debug_attach_evloop(struct vm *vm, struct evloop *loop);
int debug_add_listener(struct vm *vm, debug_stop_fn fn, void *opaque);
void debug_remove_listener(struct vm *vm, debug_stop_fn fn, void *opaque);

/* Whether KVM can block interrupts while single-stepping (KVM_CAP_SET_GUEST_DEBUG2). */
bool debug_has_blockirq(struct vm *vm);

/*
 * What this KVM reports of guest debugging, probed in a throw-away VM on the first call
 * (the first breakpoint insertion) and kept; NULL only without memory.
 */
const struct kvm_probe *debug_kvm_probe(struct vm *vm);
/*
 * Why a breakpoint (HW false: software; else TYPE) was refused with -EOPNOTSUPP: one line
 * naming the probe's finding, for the edge to print after its own prefix. Returns 0 (WHY
 * empty) when this KVM can report it.
 */
int debug_refusal(struct vm *vm, bool hw, enum debug_hw_type type, char *why, size_t size);

/*
 * Software breakpoint at virtual ADDR, translated through CPU's page tables.
 * -EFAULT unmapped, -ENOSPC table full, -EOPNOTSUPP when this KVM does not report int3
 * (debug_refusal says why). Insert nests per owner.
 */
int debug_sw_insert(struct vm *vm, int cpu, uint64_t addr, enum debug_owner who);
int debug_sw_remove(struct vm *vm, int cpu, uint64_t addr, enum debug_owner who);

/*
 * Hardware breakpoint or watchpoint (LEN 1, 2, 4 or 8, naturally aligned; 1 for
 * EXEC). -ENOSPC when all four slots are taken, -EINVAL for a bad length,
 * -EOPNOTSUPP when this KVM would not report it (debug_refusal says why).
 */
int debug_hw_insert(struct vm *vm, enum debug_hw_type type, uint64_t addr, uint64_t len,
		    enum debug_owner who);
int debug_hw_remove(struct vm *vm, enum debug_hw_type type, uint64_t addr, uint64_t len,
		    enum debug_owner who);

/* Drop every breakpoint OWNER holds (gdb detach). */
void debug_remove_all(struct vm *vm, enum debug_owner who);

/* Fill up to MAX entries; returns how many there are. */
int debug_list(struct vm *vm, struct debug_bp_info *out, int max);

/* One line per breakpoint and the four slots, for `info breaks`. Returns bytes written. */
size_t debug_format_breaks(struct vm *vm, char *buf, size_t size);

/* Stop every vCPU (the debugger's pause reference) and wait until all have parked. */
int debug_stop_all(struct vm *vm);
/* Whether the debugger holds the VM stopped. */
bool debug_is_stopped(struct vm *vm);
/* Wait until every vCPU has parked (after a stop was signalled). */
void debug_wait_stopped(struct vm *vm);

/*
 * Take the oldest recorded stop event still valid; false when there is none.
 * A stop that was asked for (debug_stop_all) with nothing else pending gives
 * DEBUG_STOP_INTERRUPT on the CPU it names (first one).
 */
bool debug_take_event(struct vm *vm, struct debug_event *ev);
/* Take only a pending hardware-breakpoint stop at ADDR (leaves others to their owners). */
bool debug_take_event_at(struct vm *vm, uint64_t addr, struct debug_event *ev);

/*
 * Resume: ACTS[i] for each vCPU (NULL: every vCPU continues). A stepping vCPU
 * runs with KVM_GUESTDBG_SINGLESTEP (+BLOCKIRQ when available). Returns 1 when
 * a pending event kept the VM stopped (it has been signalled), 0 when the VM
 * runs, or -errno.
 */
int debug_resume(struct vm *vm, const enum debug_action *acts);
/*
 * debug_resume for a debugger that leaves its breakpoints inserted (the REPL): a vCPU
 * stopped on one of them first executes the guest's own instruction alone, so it does
 * not trap on the same int3 again. gdb removes its breakpoints before it continues and
 * uses debug_resume.
 */
int debug_resume_over_sw(struct vm *vm, const enum debug_action *acts);

/*
 * The stop CPU is at while the debugger holds the VM: its event not yet taken, or the one a
 * debugger took (until the VM runs again). False when CPU merely parked with the others.
 */
bool debug_cpu_stop(struct vm *vm, int cpu, struct debug_event *ev);
/* A stop reason in words: "breakpoint", "watchpoint", "step", ... */
const char *debug_stop_name(enum debug_stop_reason r);

/* Forget every pending event and stepping state (attach of a new debugger). */
void debug_clear_events(struct vm *vm);

/* Memory by virtual address through CPU's page tables; sw breakpoints read back as the
 * original bytes and writes over them update the saved bytes. Return the length of
 * the accessible prefix. */
/* Put the guest's own bytes back over any int3 in BUF, a copy of N bytes of RAM at GPA. */
void debug_hide_sw(struct vm *vm, uint64_t gpa, uint8_t *buf, uint64_t n);
/* After guest RAM was replaced (snapshot load): write every int3 again and re-arm the vCPUs. */
void debug_reinsert_sw(struct vm *vm);
uint64_t debug_read_virt(struct vm *vm, int cpu, uint64_t gva, void *dst, uint64_t len);
uint64_t debug_write_virt(struct vm *vm, int cpu, uint64_t gva, const void *src, uint64_t len);

/* KASLR slide: MSR_LSTAR of vCPU 0 minus the link address of entry_SYSCALL_64. */
int debug_kaslr_slide(struct vm *vm, int64_t *slide);

/* vCPU state beyond vm.h's regs/sregs (the vCPU should be parked). */
struct kvm_fpu;
int debug_get_fpu(struct vm *vm, int cpu, struct kvm_fpu *fpu);
int debug_set_fpu(struct vm *vm, int cpu, const struct kvm_fpu *fpu);
int debug_get_msr(struct vm *vm, int cpu, uint32_t index, uint64_t *val);
int debug_set_msr(struct vm *vm, int cpu, uint32_t index, uint64_t val);

/* --- for vcpu.c ---------------------------------------------------------- */

/* KVM_EXIT_DEBUG on V's thread: false ends the vCPU loop. */
bool debug_handle_exit(struct vcpu *v);
/*
 * An int3 KVM could not emulate (PVM reports our breakpoints as emulation
 * failures, not KVM_EXIT_DEBUG): true when it is one of ours and a stop was
 * recorded, false when the guest's own int3 must be completed as before.
 */
bool debug_handle_int3(struct vcpu *v);

/*
 * vCPU thread, after vmdbg finished an instruction for the guest (one PVM cannot emulate, or
 * the guest's own int3 re-delivered as #BP): KVM_SET_REGS moved RIP away from where KVM armed
 * a single step, which drops TF, so a stepping vCPU would run on unstepped. A debugger's step
 * ends there (reported as a step stop); a watch's stepping is armed again.
 */
void debug_insn_completed(struct vcpu *v);
/* Called with vm->lock held: V must stay parked though the VM is not paused. */
bool debug_vcpu_held(struct vcpu *v);
/*
 * Around one KVM_RUN and its exit: while a write watchpoint is emulated by
 * single-stepping (PVM), vCPUs step one at a time, so the vCPU that sees the
 * watched bytes change after its step is the one that wrote them.
 */
bool debug_serial_begin(struct vcpu *v);
void debug_serial_end(struct vcpu *v, bool held);

#endif
