/*
 * `info cpus` and `get cpu.N.state`: each vCPU's state in the words a kernel developer
 * uses (wait-for-sipi, halted, at breakpoint 2), what vmdbg made of its last exit, and
 * KVM's live exit count. One struct per vCPU, printed as text or JSON.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_priv.h"
#include "emu/debug.h"
#include "emu/srcline.h"
#include "session.h"

struct cpu_info {
	int cpu;
	bool paused;           /* parked by a pause: `pause`, gdb, break-on, a debugger stop */
	bool have_mp;
	uint32_t mp_state;     /* KVM_MP_STATE_* */
	bool not_started;      /* an AP waiting for INIT/SIPI: its registers mean nothing yet */
	char state[48];
	int breakpoint;        /* the REPL's number of the breakpoint it is at, else 0 */
	char last_exit[64];
	uint64_t exits;        /* KVM's count of every exit (live), or vmdbg's when KVM has none */
	bool exits_from_kvm;
	uint64_t vmdbg_exits;  /* exits KVM passed to vmdbg (port I/O, MMIO, debug, ...) */
	uint64_t completed;    /* instructions vmdbg completed in userspace */
	uint64_t rip;
	char sym[160];
	struct src_loc loc;    /* rip's source line (file NULL: none) */
	const char *mode;
	int cpl;
};

static const char *exit_name(uint32_t r)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "unknown",	      [KVM_EXIT_EXCEPTION] = "exception",
		[KVM_EXIT_IO] = "io",		      [KVM_EXIT_HYPERCALL] = "hypercall",
		[KVM_EXIT_DEBUG] = "debug",	      [KVM_EXIT_HLT] = "hlt",
		[KVM_EXIT_MMIO] = "mmio",	      [KVM_EXIT_IRQ_WINDOW_OPEN] = "irq_window_open",
		[KVM_EXIT_SHUTDOWN] = "shutdown",     [KVM_EXIT_FAIL_ENTRY] = "fail_entry",
		[KVM_EXIT_INTR] = "intr",	      [KVM_EXIT_SET_TPR] = "set_tpr",
		[KVM_EXIT_TPR_ACCESS] = "tpr_access", [KVM_EXIT_INTERNAL_ERROR] = "internal_error",
		[KVM_EXIT_SYSTEM_EVENT] = "system_event",
	};

	return r < sizeof(names) / sizeof(names[0]) && names[r] ? names[r] : "other";
}

static const char *cpu_mode(const struct kvm_sregs *sr)
{
	if (!(sr->cr0 & 1))
		return "real";
	if (sr->efer & (1u << 10))
		return sr->cs.l ? "long" : "compat";
	return "protected";
}

/* The REPL's number of the breakpoint or watchpoint at ADDR (0: not the REPL's: gdb's). */
static int repl_bp_number(const struct cmd_state *cs, uint64_t addr, bool watch)
{
	for (int i = 0; i < CMD_MAX_BPS; i++)
		if (cs->bps[i].used && cs->bps[i].addr == addr && (cs->bps[i].kind >= 2) == watch)
			return cs->bps[i].num;
	return 0;
}

/* The stop CPU is at, in words; false when it only parked with the others. */
static bool stop_words(struct cmd_ctx *c, struct cpu_info *ci)
{
	struct debug_event ev;
	bool watch;

	if (!debug_cpu_stop(&c->s->vm, ci->cpu, &ev))
		return false;
	switch (ev.reason) {
	case DEBUG_STOP_SWBREAK:
	case DEBUG_STOP_HWBREAK:
	case DEBUG_STOP_WATCH:
	case DEBUG_STOP_AWATCH:
		watch = ev.reason == DEBUG_STOP_WATCH || ev.reason == DEBUG_STOP_AWATCH;
		ci->breakpoint = repl_bp_number(c->cs, ev.addr, watch);
		if (ci->breakpoint)
			snprintf(ci->state, sizeof(ci->state), "at %s %d", watch ? "watchpoint" : "breakpoint",
				 ci->breakpoint);
		else
			snprintf(ci->state, sizeof(ci->state), "at gdb %s", watch ? "watchpoint" : "breakpoint");
		return true;
	case DEBUG_STOP_STEP:
		snprintf(ci->state, sizeof(ci->state), "stepped");
		return true;
	case DEBUG_STOP_TRAP:
		snprintf(ci->state, sizeof(ci->state), "at #DB");
		return true;
	default:
		return false;
	}
}

/* The VM paused by the caller (a brief pause); PAUSED: someone else holds it paused too. */
static void cpu_info(struct cmd_ctx *c, int cpu, bool paused, struct cpu_info *ci)
{
	struct vm *vm = &c->s->vm;
	const struct vcpu *v = &vm->vcpus[cpu];
	struct kvm_regs r = { 0 };
	struct kvm_sregs sr = { 0 };
	bool halted;

	*ci = (struct cpu_info){ .cpu = cpu, .paused = paused };
	ci->have_mp = vm_get_mp_state(vm, cpu, &ci->mp_state) == 0;
	halted = ci->have_mp && ci->mp_state == KVM_MP_STATE_HALTED;
	/* An AP before the guest's INIT-SIPI-SIPI sits at the reset vector in real mode. */
	ci->not_started = ci->have_mp && (ci->mp_state == KVM_MP_STATE_UNINITIALIZED ||
					  ci->mp_state == KVM_MP_STATE_INIT_RECEIVED);
	if (ci->not_started)
		snprintf(ci->state, sizeof(ci->state), "wait-for-sipi");
	else if (!stop_words(c, ci))
		snprintf(ci->state, sizeof(ci->state), "%s",
			 paused ? (halted ? "paused (halted)" : "paused") : halted ? "halted" : "running");

	ci->exits_from_kvm = vm_vcpu_stat(vm, cpu, VCPU_STAT_EXITS, &ci->exits) == 0;
	if (!ci->exits_from_kvm)
		ci->exits = v->exits;
	ci->vmdbg_exits = v->exits;
	ci->completed = v->emulated;
	if (v->last_completed)
		snprintf(ci->last_exit, sizeof(ci->last_exit), "completed %s in userspace",
			 v->last_completed);
	else
		snprintf(ci->last_exit, sizeof(ci->last_exit), "%s",
			 v->last_exit_what ? v->last_exit_what
			 : v->exits	   ? exit_name(v->last_exit_reason)
					   : "none");

	vm_get_regs(vm, cpu, &r);
	vm_get_sregs(vm, cpu, &sr);
	ci->rip = r.rip;
	ci->mode = cpu_mode(&sr);
	ci->cpl = sr.cs.selector & 3;
	if (!ci->not_started)
		symtab_format(&vm->syms, r.rip, ci->sym, sizeof(ci->sym));
}

static const char *mp_state_name(uint32_t s)
{
	static const char *const names[] = {
		[KVM_MP_STATE_RUNNABLE] = "runnable",	    [KVM_MP_STATE_UNINITIALIZED] = "uninitialized",
		[KVM_MP_STATE_INIT_RECEIVED] = "init_received", [KVM_MP_STATE_HALTED] = "halted",
		[KVM_MP_STATE_SIPI_RECEIVED] = "sipi_received",
	};

	return s < sizeof(names) / sizeof(names[0]) && names[s] ? names[s] : "other";
}

static bool paused_by_others(struct vm *vm)
{
	bool paused;

	/* Paused by someone other than the caller's brief pause? */
	pthread_mutex_lock(&vm->lock);
	paused = vm->pause_depth > 1;
	pthread_mutex_unlock(&vm->lock);
	return paused;
}

int cmd_cpu_state(struct cmd_ctx *c, int cpu, char *buf, size_t n)
{
	struct cpu_info ci;

	cmd_pause_brief(c);
	cpu_info(c, cpu, paused_by_others(&c->s->vm), &ci);
	cmd_resume_brief(c);
	snprintf(buf, n, "%s", ci.state);
	return 0;
}

static void print_json(struct cmd_ctx *c, const struct cpu_info *ci)
{
	jw_obj(c->out, NULL);
	jw_i64(c->out, "cpu-index", ci->cpu);
	jw_bool(c->out, "current", ci->cpu == c->cs->cur_cpu);
	jw_str(c->out, "state", ci->state);
	jw_bool(c->out, "paused", ci->paused);
	jw_bool(c->out, "halted", ci->have_mp && ci->mp_state == KVM_MP_STATE_HALTED);
	jw_str(c->out, "mp_state", ci->have_mp ? mp_state_name(ci->mp_state) : "");
	if (ci->breakpoint)
		jw_i64(c->out, "breakpoint", ci->breakpoint);
	jw_str(c->out, "last_exit", ci->last_exit);
	jw_u64(c->out, "exits", ci->exits);
	jw_bool(c->out, "exits_from_kvm", ci->exits_from_kvm);
	jw_u64(c->out, "vmdbg_exits", ci->vmdbg_exits);
	jw_u64(c->out, "completed_in_userspace", ci->completed);
	jw_u64(c->out, "rip", ci->rip);
	jw_str(c->out, "symbol", ci->sym);
	cmd_src_json(c, &ci->loc);
	jw_str(c->out, "mode", ci->mode);
	jw_i64(c->out, "cpl", ci->cpl);
	jw_end(c->out);
}

static void print_text(struct cmd_ctx *c, const struct cpu_info *ci)
{
	char at[600];

	cmd_src_text(&ci->loc, at, sizeof(at));
	OUT("%c CPU #%d: %-15s ", ci->cpu == c->cs->cur_cpu ? '*' : ' ', ci->cpu, ci->state);
	if (ci->not_started)
		OUT("(an AP the guest has not started: %s)",
		    ci->mp_state == KVM_MP_STATE_UNINITIALIZED ? "no INIT yet" : "INIT taken, no SIPI yet");
	else
		OUT("rip=0x%016" PRIx64 " %s%s mode=%s cpl=%d", ci->rip, ci->sym, at, ci->mode, ci->cpl);
	OUT(" exits=%" PRIu64, ci->exits);
	if (ci->exits_from_kvm)
		OUT(" (%" PRIu64 " to vmdbg)", ci->vmdbg_exits);
	OUT(" last exit: %s\n", ci->last_exit);
}

int cmd_info_cpus(struct cmd_ctx *c)
{
	struct vm *vm = &c->s->vm;
	struct cpu_info *ci = calloc(vm->ncpus > 0 ? vm->ncpus : 1, sizeof(*ci));
	bool paused;

	if (!ci)
		return cmd_error(c, "info cpus: out of memory");
	cmd_pause_brief(c);
	paused = paused_by_others(vm);
	for (int i = 0; i < vm->ncpus; i++)
		cpu_info(c, i, paused, &ci[i]);
	cmd_resume_brief(c);
	/* The lines after the pause: the first lookup opens the DWARF. */
	for (int i = 0; i < vm->ncpus; i++)
		if (!ci[i].not_started)
			cmd_src_lookup(c->s, ci[i].rip, false, &ci[i].loc);
	if (c->json)
		jw_arr(c->out, NULL);
	for (int i = 0; i < vm->ncpus; i++) {
		if (c->json)
			print_json(c, &ci[i]);
		else
			print_text(c, &ci[i]);
	}
	if (c->json)
		jw_end(c->out);
	free(ci);
	return CMD_OK;
}
