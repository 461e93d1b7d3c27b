/* vCPU threads: creation, boot registers, the KVM_RUN loop and its exits. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpuid.h"
#include "debug.h"
#include "insn.h"
#include "layout.h"
#include "log.h"
#include "profile.h"
#include "vm.h"
#include "vm_reboot.h"
#include "x86_state.h"

#define MSR_IA32_MISC_ENABLE 0x000001a0
#define MSR_IA32_MISC_ENABLE_FAST_STRING 1ULL


int vcpu_init(struct vm *vm, int id)
{
	struct vcpu *v = &vm->vcpus[id];
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[1];
	} msrs = { .hdr.nmsrs = 1, .e[0] = { .index = MSR_IA32_MISC_ENABLE,
					     .data = MSR_IA32_MISC_ENABLE_FAST_STRING } };

	v->vm = vm;
	v->id = id;
	v->stats_fd = -1;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (v->fd < 0)
		return -errno;
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return -errno;
	}
	cpuid_set_apic_id(vm->cpuid, id, vm->ncpus);
	if (ioctl(v->fd, KVM_SET_CPUID2, vm->cpuid) < 0)
		return -errno;
	if (ioctl(v->fd, KVM_SET_MSRS, &msrs) < 0)
		log_debug("cpu%d: KVM_SET_MSRS: %s", id, strerror(errno));
	vcpu_stats_open(v);
	return 0;
}

int vcpu_setup_boot(struct vcpu *v, const struct boot_info *boot)
{
	struct kvm_sregs s;
	struct kvm_regs r = { .rflags = 0x2, .rip = boot->entry };
	bool long_mode = boot->mode != BOOT_PVH;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	/* Selectors match the GDT the loader wrote at LAYOUT_BOOT_GDT. */
	x86_flat_protected_mode(&s, long_mode ? 0x10 : 0x08, long_mode, 0x18, LAYOUT_BOOT_GDT, 4);
	if (long_mode) {
		s.cr3 = boot->page_tables;
		s.cr4 = X86_CR4_PAE;
		s.cr0 |= X86_CR0_PG;
		s.efer = EFER_LME | EFER_LMA;
		r.rsi = boot->boot_data;
	} else {
		r.rbx = boot->boot_data;
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
		return -errno;
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	return 0;
}

/* --- exits ------------------------------------------------------------------ */

/* Tracing asks which vCPU (and RIP) caused a device event from inside the device's code. */
static __thread struct vcpu *current_vcpu;

struct vcpu *vcpu_current(void)
{
	return current_vcpu;
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			vm_io_trace(v, false, run->io.port, data, run->io.size, true);
		if (!bus_access(&v->vm->pio, run->io.port, data, run->io.size,
				run->io.direction == KVM_EXIT_IO_OUT))
			log_debug("cpu%d: %s port 0x%x (no device)", v->id,
				  run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
				  run->io.port);
		if (run->io.direction == KVM_EXIT_IO_IN)
			vm_io_trace(v, false, run->io.port, data, run->io.size, false);
	}
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	if (run->mmio.len > 8)
		return;
	if (!bus_access(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
			run->mmio.is_write))
		log_debug("cpu%d: mmio %s 0x%llx (no device)", v->id,
			  run->mmio.is_write ? "write" : "read",
			  (unsigned long long)run->mmio.phys_addr);
	vm_io_trace(v, true, run->mmio.phys_addr, run->mmio.data, run->mmio.len, run->mmio.is_write);
}

static void report_crash(struct vcpu *v, const char *what)
{
	char regs[4096], *save;

	vm_format_regs(v->vm, v->id, regs, sizeof(regs));
	/* Through the main thread, after the guest's last console bytes (log_writer). */
	log_line("vmdbg: %s", what);
	for (char *line = strtok_r(regs, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_line("  %s", line);
	vm_end(v->vm, VM_END_CRASH, "%s", what);
}

/* Each kind of completed instruction is announced once, then only counted. */
static uint32_t announced_kinds;

static int complete_insn(struct vcpu *v, const uint8_t *bytes, unsigned n, char *what,
			 size_t whatlen)
{
	struct insn_cpu cpu = { 0 };
	struct insn insn;
	char desc[128], sym[160];
	int r;

	if (ioctl(v->fd, KVM_GET_REGS, &cpu.regs) < 0 || ioctl(v->fd, KVM_GET_SREGS, &cpu.sregs) < 0 ||
	    ioctl(v->fd, KVM_GET_FPU, &cpu.fpu) < 0)
		return -errno;
	insn_decode(bytes, n, insn_mode_bits(&cpu.sregs), &insn);
	insn_format(&insn, bytes, desc, sizeof(desc));
	symtab_format(&v->vm->syms, cpu.regs.rip, sym, sizeof(sym));
	snprintf(what, whatlen, "vCPU %d: KVM cannot emulate %s at 0x%llx <%s>", v->id, desc,
		 (unsigned long long)cpu.regs.rip, sym);
	if (!insn.completable)
		return -ENOTSUP;
	r = insn_complete(&insn, &cpu, &v->vm->mem);
	if (r) {
		snprintf(what + strlen(what), whatlen - strlen(what), " (completing it failed: %s)",
			 strerror(-r));
		return r;
	}
	if (cpu.fpu_dirty && ioctl(v->fd, KVM_SET_FPU, &cpu.fpu) < 0)
		return -errno;
	if (ioctl(v->fd, KVM_SET_REGS, &cpu.regs) < 0)
		return -errno;
	if (cpu.inject_bp) {
		struct kvm_vcpu_events ev;

		if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
			return -errno;
		ev.exception.injected = 1;
		ev.exception.nr = 3;
		ev.exception.has_error_code = 0;
		ev.exception.error_code = 0;
		if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
			return -errno;
	}
	v->emulated++;
	v->last_completed = insn.name;
	if (insn.kind < 32 && !(__atomic_fetch_or(&announced_kinds, 1u << insn.kind,
						   __ATOMIC_RELAXED) & (1u << insn.kind)))
		log_info("cpu%d: completed %s at <%s> in userspace (PVM cannot emulate it)", v->id,
			 insn.name, sym);
	return 0;
}

static void handle_internal_error(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char what[512];

	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		unsigned n = run->emulation_failure.insn_size;

		if (n > sizeof(run->emulation_failure.insn_bytes))
			n = sizeof(run->emulation_failure.insn_bytes);
		/* On PVM our own int3 breakpoints arrive here, not as KVM_EXIT_DEBUG (debug.c). */
		if (n >= 1 && run->emulation_failure.insn_bytes[0] == 0xcc && debug_handle_int3(v)) {
			v->last_exit_what = "breakpoint";
			return;
		}
		if (complete_insn(v, run->emulation_failure.insn_bytes, n, what, sizeof(what)) == 0) {
			debug_insn_completed(v);
			return;
		}
		report_crash(v, what);
		return;
	}
	snprintf(what, sizeof(what), "vCPU %d: KVM internal error, suberror %u%s", v->id,
		 run->internal.suberror,
		 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
			 ? " (emulation failure, no instruction bytes)"
			 : "");
	report_crash(v, what);
}

static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char what[256];

	v->exits++;
	v->last_exit_reason = run->exit_reason;
	v->last_exit_what = NULL;
	v->last_completed = NULL;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		return true;
	case KVM_EXIT_DEBUG: /* breakpoints, watchpoints, steps: emu/debug.c */
		return debug_handle_exit(v);
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; treat as a pause point. */
		return true;
	case KVM_EXIT_SHUTDOWN:
		snprintf(what, sizeof(what), "vCPU %d: triple fault (KVM_EXIT_SHUTDOWN)", v->id);
		report_crash(v, what);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		handle_internal_error(v);
		return !vm_ended(v->vm);
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "vCPU %d: VM entry failed, reason 0x%llx", v->id,
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		report_crash(v, what);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) {
			vm_end(v->vm, VM_END_POWEROFF, "guest shut down");
		} else if (run->system_event.type == KVM_SYSTEM_EVENT_RESET && v->vm->cfg.reboot) {
			vm_reboot_request(v->vm);
			return true;
		} else if (run->system_event.type == KVM_SYSTEM_EVENT_RESET) {
			vm_end(v->vm, VM_END_POWEROFF, "guest asked for a reset; vmdbg ends the run "
			       "instead (--reboot boots it again)");
		} else {
			snprintf(what, sizeof(what), "vCPU %d: system event %u", v->id,
				 run->system_event.type);
			report_crash(v, what);
		}
		return false;
	default:
		snprintf(what, sizeof(what), "vCPU %d: unexpected KVM exit reason %u", v->id,
			 run->exit_reason);
		report_crash(v, what);
		return false;
	}
}

/*
 * An IN or MMIO read is finished by the next KVM_RUN: until then the vCPU's
 * registers do not hold the value read. Entering with immediate_exit set
 * completes it and returns at once, so a paused vCPU's state is whole (a
 * snapshot, gdb's `g`) and no completion is pending across a restore.
 */
static void complete_pending_io(struct vcpu *v)
{
	uint32_t why = v->run->exit_reason;

	if (why != KVM_EXIT_IO && why != KVM_EXIT_MMIO)
		return;
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (ioctl(v->fd, KVM_RUN, 0) == 0 || (errno != EINTR && errno != EAGAIN))
		log_debug("cpu%d: completing an I/O exit before parking: %s", v->id,
			  strerror(errno));
	v->run->exit_reason = KVM_EXIT_INTR;
}

/* Park while a pause is requested; false when the run is over. */
static bool wait_while_paused(struct vcpu *v)
{
	struct vm *vm = v->vm;

	pthread_mutex_lock(&vm->lock);
	/* debug_vcpu_held: a vCPU gdb leaves stopped while others run (debug.c). */
	while ((vm->pause_depth > 0 || debug_vcpu_held(v)) && !vm->ending) {
		if (!v->parked) {
			complete_pending_io(v);
			v->parked = true;
			pthread_cond_broadcast(&vm->cond);
			/* The guest must not count the pause as a soft lockup. */
			if (ioctl(v->fd, KVM_KVMCLOCK_CTRL, 0) < 0 && errno != EINVAL)
				log_debug("cpu%d: KVM_KVMCLOCK_CTRL: %s", v->id, strerror(errno));
		}
		pthread_cond_wait(&vm->cond, &vm->lock);
	}
	if (v->parked && !vm->ending)
		v->unparks++;
	v->parked = vm->ending;
	if (vm->ending)
		pthread_cond_broadcast(&vm->cond);
	/* Cleared under the lock, before KVM_RUN: a kick after this point still lands. */
	if (!vm->ending)
		__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vm->lock);
	return !vm_ended(vm);
}

void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	current_vcpu = v;
	while (wait_while_paused(v)) {
		/* A watchpoint emulated by stepping runs one vCPU at a time (debug.c). */
		bool serial = debug_serial_begin(v);
		bool go_on;
		int r;

		/* After wait_while_paused cleared immediate_exit: a profiler kick still lands. */
		profile_vcpu_entry(v);
		__atomic_store_n(&v->in_run, true, __ATOMIC_RELAXED);
		r = ioctl(v->fd, KVM_RUN, 0);
		__atomic_store_n(&v->in_run, false, __ATOMIC_RELAXED);
		if (r < 0) {
			debug_serial_end(v, serial);
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_err("cpu%d: KVM_RUN: %s", v->id, strerror(errno));
			vm_end(v->vm, VM_END_CRASH, "vCPU %d: KVM_RUN failed: %s", v->id,
			       strerror(errno));
			break;
		}
		go_on = handle_exit(v);
		debug_serial_end(v, serial);
		if (!go_on)
			break;
	}
	pthread_mutex_lock(&v->vm->lock);
	v->parked = true;
	pthread_cond_broadcast(&v->vm->cond);
	pthread_mutex_unlock(&v->vm->lock);
	return NULL;
}
