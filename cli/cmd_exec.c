/* Execution, registers and breakpoints: pause, resume, step, info cpus, regs, bt, break... */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd_priv.h"
#include "emu/debug.h"
#include "emu/disasm.h"
#include "emu/kvm_probe.h"
#include "emu/pagewalk.h"
#include "emu/srcline.h"
#include "gdbstub/gdbstub.h"
#include "session.h"

/* Take the break-on pauses over as one debugger stop, so step and resume have one owner. */
static void adopt_break_on_cs(struct cmd_state *cs)
{
	cmd_flush_notices(cs);
	if (cs->bo_refs <= 0)
		return;
	debug_stop_all(&cs->s->vm);
	while (cs->bo_refs > 0) {
		vm_resume(&cs->s->vm);
		cs->bo_refs--;
	}
}

static void adopt_break_on(struct cmd_ctx *c)
{
	adopt_break_on_cs(c->cs);
}

/*
 * Without this a break-on stop that came before gdb kept its pause reference: gdb held a stop
 * whose `continue` and `stepi` could not run the guest, and waited for ever.
 */
void cmd_gdb_attached(void *session)
{
	struct cmd_state *cs = cmd_state_of(session);

	if (cs)
		adopt_break_on_cs(cs);
}

static int cmd_pause(struct cmd_ctx *c)
{
	if (c->argc && strcmp(c->argv[0], "all")) {
		int cpu;

		if (arg_cpu(c, c->argv[0], &cpu))
			return CMD_ERR;
	}
	if (c->check)
		return CMD_OK;
	c->cs->x_here.valid = false;
	adopt_break_on(c);
	if (debug_stop_all(&c->s->vm))
		return cmd_error(c, "pause: cannot stop the vCPUs: %s", strerror(ENOMEM));
	/* A gdb waiting on its continue gets this stop as its own (else it waits for ever). */
	bool to_gdb = gdb_report_event_stop(c->s->gdb, 0, "vmdbg's `pause` command");

	if (c->json) {
		jw_obj(c->out, NULL);
		jw_bool(c->out, "paused", true);
		jw_bool(c->out, "gdb_holds_stop", to_gdb);
		jw_end(c->out);
	} else {
		OUT("paused: all %d vCPU(s) parked%s%s\n", c->s->vm.ncpus,
		    c->argc && strcmp(c->argv[0], "all") ? " (stops are all-stop)" : "",
		    to_gdb ? "; gdb holds this stop (its `continue` resumes)" : "");
	}
	return CMD_OK;
}

/*
 * Run control has one owner at a time: while gdb holds a stop, a resume or step from the
 * REPL, a script or gdb's own `monitor` would run the guest behind gdb's back (its view of
 * the threads goes stale), so it is refused with the gdb command that does it.
 */
static int refused_while_gdb_holds(struct cmd_ctx *c, const char *what, const char *gdb_cmd)
{
	char peer[64];

	if (!gdb_holds_stop(c->s->gdb, peer, sizeof(peer)))
		return 0;
	return cmd_error(c, "%s: gdb (%s) holds this stop; use gdb's `%s` (or `detach`, which lets the "
			 "guest run and gives run control back)", what, peer, gdb_cmd);
}

/* Whether a vCPU left the pause since UNPARKS was read: the guest ran. */
static bool ran_since(struct vm *vm, const uint64_t *unparks)
{
	for (int i = 0; i < vm->ncpus; i++)
		if (vm_vcpu_unparks(vm, i) != unparks[i])
			return true;
	return false;
}

int cmd_resume_all(struct cmd_ctx *c, bool quiet)
{
	struct vm *vm = &c->s->vm;
	uint64_t unparks[VM_MAX_CPUS];
	int r = 0;
	bool was = vm_is_paused(vm);

	if (refused_while_gdb_holds(c, "resume", "continue"))
		return CMD_ERR;
	c->cs->x_here.valid = false;

	/*
	 * A script can resume before the event loop has turned the current stop into its
	 * notice; taken now, that stop is not mistaken for another vCPU's pending one.
	 */
	if (debug_is_stopped(vm))
		cmd_take_debug_stop(c->cs);
	cmd_flush_notices(c->cs);
	for (int i = 0; i < vm->ncpus; i++)
		unparks[i] = vm_vcpu_unparks(vm, i);
	while (c->cs->bo_refs > 0) {
		vm_resume(vm);
		c->cs->bo_refs--;
	}
	if (debug_is_stopped(vm))
		r = debug_resume_over_sw(vm, NULL);
	if (r < 0)
		return cmd_error(c, "resume: %s", strerror(-r));
	if (quiet)
		return CMD_OK;
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_bool(c->out, "running", r == 0 && !vm_is_paused(vm));
		jw_end(c->out);
	} else if (r == 1) {
		OUT("resume: a pending stop event keeps the VM stopped (see `info cpus`)\n");
	} else if (!was) {
		OUT("resume: the VM was already running\n");
	} else if (vm_is_paused(vm) && !debug_is_stopped(vm) && !ran_since(vm, unparks)) {
		/*
		 * (A debugger stop already means the guest ran on to its next breakpoint; so does a
		 * vCPU that left the pause: a break-on it ran into at once reports itself.)
		 */
		OUT("resume: still paused (another pause holder: gdb or a running command)\n");
	} else {
		OUT("running\n");
	}
	return CMD_OK;
}

static int cmd_resume(struct cmd_ctx *c)
{
	if (c->argc && strcmp(c->argv[0], "all")) {
		int cpu;

		if (arg_cpu(c, c->argv[0], &cpu))
			return CMD_ERR;
	}
	if (c->check)
		return CMD_OK;
	return cmd_resume_all(c, false);
}

static void where(struct cmd_ctx *c, int cpu, uint64_t *rip, char *sym, size_t n)
{
	struct kvm_regs r;

	*rip = 0;
	if (vm_get_regs(&c->s->vm, cpu, &r) == 0)
		*rip = r.rip;
	symtab_format(&c->s->vm.syms, *rip, sym, n);
}

static int cmd_step(struct cmd_ctx *c)
{
	struct vm *vm = &c->s->vm;
	enum debug_action acts[VM_MAX_CPUS];
	uint64_t n = 1, rip = 0, done = 0;
	int cpu = c->cs->cur_cpu, i = 0;
	char sym[160];

	if (c->argc == 2) {
		if (arg_cpu(c, c->argv[0], &cpu) || arg_u64(c, "step: count", c->argv[1], &n))
			return CMD_ERR;
	} else if (c->argc == 1) {
		/* One number: a count, as in gdb's `stepi N`; CPU first needs two. */
		if (arg_u64(c, "step: count", c->argv[0], &n))
			return CMD_ERR;
	} else if (arg_cpu(c, NULL, &cpu)) {
		return CMD_ERR;
	}
	(void)i;
	if (n == 0 || n > 1000000)
		return cmd_error(c, "step: count %llu out of range (1..1000000)", (unsigned long long)n);
	if (c->check)
		return CMD_OK;
	if (refused_while_gdb_holds(c, "step", "stepi"))
		return CMD_ERR;
	c->cs->x_here.valid = false;
	adopt_break_on(c);
	if (debug_stop_all(vm))
		return cmd_error(c, "step: cannot stop the vCPUs");
	for (done = 0; done < n; done++) {
		struct debug_event ev;
		uint64_t t0 = now_ns();
		int r;

		for (int k = 0; k < vm->ncpus; k++)
			acts[k] = k == cpu ? DEBUG_ACT_STEP : DEBUG_ACT_STOP;
		debug_clear_events(vm);
		r = debug_resume_over_sw(vm, acts);
		if (r < 0)
			return cmd_error(c, "step: cpu %d: %s", cpu, strerror(-r));
		while (!debug_is_stopped(vm) && now_ns() - t0 < 2000000000ULL) {
			struct timespec ts = { 0, 20000 };

			nanosleep(&ts, NULL);
		}
		if (!debug_is_stopped(vm)) {
			debug_stop_all(vm);
			where(c, cpu, &rip, sym, sizeof(sym));
			return cmd_error(c, "step: cpu %d did not finish a step within 2s (halted? at %s)",
					 cpu, sym);
		}
		debug_wait_stopped(vm);
		while (debug_take_event(vm, &ev)) {
			/* Drain: a breakpoint hit while stepping ends the step early. */
			if (ev.reason != DEBUG_STOP_STEP && ev.reason != DEBUG_STOP_INTERRUPT) {
				done = n;
				break;
			}
		}
	}
	where(c, cpu, &rip, sym, sizeof(sym));
	/*
	 * gdb holding a stop refused the step above, so an attached gdb was running the guest: the
	 * step's stop becomes its own, as a pause's does (else it waits for ever on a stopped VM).
	 */
	bool to_gdb = gdb_report_event_stop(c->s->gdb, cpu, "vmdbg's `step` command");

	if (c->json) {
		jw_obj(c->out, NULL);
		jw_i64(c->out, "cpu", cpu);
		jw_bool(c->out, "gdb_holds_stop", to_gdb);
		jw_u64(c->out, "steps", n);
		jw_u64(c->out, "rip", rip);
		jw_str(c->out, "symbol", sym);
		jw_end(c->out);
	} else {
		OUT("cpu %d: 0x%016" PRIx64 " %s%s\n", cpu, rip, sym,
		    to_gdb ? "; gdb holds this stop (its `continue` resumes)" : "");
	}
	return CMD_OK;
}

static int cmd_quit(struct cmd_ctx *c)
{
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_end(c->out);
	}
	return CMD_QUIT;
}

static int cmd_cpu(struct cmd_ctx *c)
{
	int cpu;

	if (arg_cpu(c, c->argv[0], &cpu))
		return CMD_ERR;
	c->cs->cur_cpu = cpu; /* a check follows it too: later defaults are checked against it */
	if (c->check)
		return CMD_OK;
	if (!c->json)
		OUT("current CPU: %d\n", cpu);
	return CMD_OK;
}

static int cmd_regs(struct cmd_ctx *c)
{
	char buf[8192];
	int cpu;
	struct kvm_regs r;
	struct kvm_sregs sr;

	if (arg_cpu(c, c->argc ? c->argv[0] : NULL, &cpu))
		return CMD_ERR;
	if (c->check)
		return CMD_OK;
	cmd_pause_brief(c);
	if (c->json) {
		vm_get_regs(&c->s->vm, cpu, &r);
		vm_get_sregs(&c->s->vm, cpu, &sr);
		jw_obj(c->out, NULL);
		jw_i64(c->out, "cpu", cpu);
#define R(n) jw_u64(c->out, #n, r.n)
		R(rax); R(rbx); R(rcx); R(rdx); R(rsi); R(rdi); R(rbp); R(rsp);
		R(r8); R(r9); R(r10); R(r11); R(r12); R(r13); R(r14); R(r15); R(rip); R(rflags);
#undef R
#define S(n) jw_u64(c->out, #n, sr.n)
		S(cr0); S(cr2); S(cr3); S(cr4); S(cr8); S(efer);
#undef S
		jw_u64(c->out, "cs", sr.cs.selector);
		jw_u64(c->out, "ss", sr.ss.selector);
		jw_u64(c->out, "fs_base", sr.fs.base);
		jw_u64(c->out, "gs_base", sr.gs.base);
		jw_u64(c->out, "gdt_base", sr.gdt.base);
		jw_u64(c->out, "idt_base", sr.idt.base);
		jw_end(c->out);
	} else {
		vm_format_regs(&c->s->vm, cpu, buf, sizeof(buf));
		OUT("%s", buf);
	}
	cmd_resume_brief(c);
	return CMD_OK;
}

/*
 * Every register name $reg, `get cpu.N.REG`, `set reg` and `sym $reg` take: one table for
 * parsing, the error messages and tab completion. pc, sp and eflags are aliases.
 */
static const struct reg_def {
	const char *name;
	bool sreg;     /* in struct kvm_sregs, else struct kvm_regs */
	size_t off;
} reg_defs[] = {
#define R(n) { #n, false, offsetof(struct kvm_regs, n) }
#define S(n) { #n, true, offsetof(struct kvm_sregs, n) }
	R(rax), R(rbx), R(rcx), R(rdx), R(rsi), R(rdi), R(rsp), R(rbp), R(r8), R(r9), R(r10),
	R(r11), R(r12), R(r13), R(r14), R(r15), R(rip), R(rflags), S(cr0), S(cr2), S(cr3),
	S(cr4), S(cr8), S(efer),
	{ "pc", false, offsetof(struct kvm_regs, rip) },
	{ "sp", false, offsetof(struct kvm_regs, rsp) },
	{ "eflags", false, offsetof(struct kvm_regs, rflags) },
#undef R
#undef S
};
#define NR_REG_DEFS (sizeof(reg_defs) / sizeof(reg_defs[0]))

static const struct reg_def *reg_def(const char *name)
{
	for (size_t i = 0; i < NR_REG_DEFS; i++)
		if (!strcasecmp(name, reg_defs[i].name))
			return &reg_defs[i];
	return NULL;
}

const char *cmd_reg_name(int i)
{
	return i >= 0 && (size_t)i < NR_REG_DEFS ? reg_defs[i].name : NULL;
}

bool cmd_reg_known(const char *name)
{
	return reg_def(name) != NULL;
}

static __u64 *reg_ptr(const struct reg_def *d, struct kvm_regs *r, struct kvm_sregs *sr)
{
	return (__u64 *)((char *)(d->sreg ? (void *)sr : (void *)r) + d->off);
}

/* Register value by name for $reg and get cpu.N.reg (the VM paused by the caller). */
int cmd_read_reg(struct session *s, int cpu, const char *name, uint64_t *val)
{
	const struct reg_def *d = reg_def(name);
	struct kvm_regs r;
	struct kvm_sregs sr;

	if (!d)
		return -ENOENT;
	if (vm_get_regs(&s->vm, cpu, &r) || vm_get_sregs(&s->vm, cpu, &sr))
		return -EIO;
	*val = *reg_ptr(d, &r, &sr);
	return 0;
}

static int cmd_set_reg(struct cmd_ctx *c)
{
	const char *assign = c->argv[c->argc - 1];
	char name[32];
	const char *eq = strchr(assign, '=');
	const struct reg_def *d;
	uint64_t v;
	int cpu, r = 0;
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	if (arg_cpu(c, c->argc == 2 ? c->argv[0] : NULL, &cpu))
		return CMD_ERR;
	if (!eq || eq == assign || (size_t)(eq - assign) >= sizeof(name))
		return cmd_error(c, "set reg: '%s' is not NAME=VALUE", assign);
	snprintf(name, sizeof(name), "%.*s", (int)(eq - assign), assign);
	if (!parse_number(eq + 1, &v))
		return cmd_error(c, "set reg: value '%s' is not a number", eq + 1);
	if (!(d = reg_def(name)))
		return cmd_error(c, "set reg: unknown register '%s' (%s)", name, CMD_REG_LIST);
	if (c->check)
		return CMD_OK;
	cmd_pause_brief(c);
	r = d->sreg ? vm_get_sregs(&c->s->vm, cpu, &sregs) : vm_get_regs(&c->s->vm, cpu, &regs);
	if (!r) {
		*reg_ptr(d, &regs, &sregs) = v;
		r = d->sreg ? vm_set_sregs(&c->s->vm, cpu, &sregs) : vm_set_regs(&c->s->vm, cpu, &regs);
	}
	cmd_resume_brief(c);
	if (r)
		return cmd_error(c, "set reg: cpu %d %s: %s", cpu, name, strerror(-r));
	if (!c->json)
		OUT("cpu %d: %s = 0x%llx\n", cpu, name, (unsigned long long)v);
	return CMD_OK;
}

/* Where the frame-pointer walk would skip the caller (disasm_ra_on_stack): bt's frame #1. */
static bool ra_on_stack(struct cmd_ctx *c, int cpu, const struct kvm_regs *r, uint64_t *ra)
{
	struct cmd_mem_src src = { c->s, cpu, false };

	return disasm_ra_on_stack(cmd_mem_read, &src, &c->s->vm.syms, r->rip, r->rsp, UINT64_MAX, ra);
}

/* One frame of `bt`: walked while the VM is paused, its line looked up after. */
struct bt_frame {
	uint64_t pc;
	char sym[160];
	struct src_loc loc;
};
#define BT_MAX_FRAMES 64

static int cmd_bt(struct cmd_ctx *c)
{
	struct kvm_regs r;
	struct kvm_sregs sr;
	struct pw_ctx ctx;
	struct bt_frame *f;
	int cpu, n = 0;
	uint64_t fp, pc;

	if (arg_cpu(c, c->argc ? c->argv[0] : NULL, &cpu))
		return CMD_ERR;
	if (c->check)
		return CMD_OK;
	f = calloc(BT_MAX_FRAMES, sizeof(*f));
	if (!f)
		return cmd_error(c, "bt: out of memory");
	cmd_pause_brief(c);
	vm_get_regs(&c->s->vm, cpu, &r);
	vm_get_sregs(&c->s->vm, cpu, &sr);
	ctx = (struct pw_ctx){ sr.cr0, sr.cr3, sr.cr4, sr.efer };
	pc = r.rip;
	fp = r.rbp;
	while (n < BT_MAX_FRAMES) {
		uint64_t frame[2];

		f[n++].pc = pc;
		if (n == 1 && ra_on_stack(c, cpu, &r, &pc))
			continue; /* the caller; rbp is its frame */
		if (!fp || (fp & 7) || pw_read_virt(&c->s->vm.mem, &ctx, fp, frame, 16) != 16 ||
		    frame[1] == 0 || frame[0] <= fp)
			break;
		pc = frame[1];
		fp = frame[0];
	}
	cmd_resume_brief(c);

	/* The DWARF is read with the guest running again: its first use opens it. */
	for (int i = 0; i < n; i++) {
		symtab_format(&c->s->vm.syms, f[i].pc, f[i].sym, sizeof(f[i].sym));
		cmd_src_lookup(c->s, f[i].pc, i > 0, &f[i].loc);
	}
	if (c->json)
		jw_arr(c->out, NULL);
	for (int i = 0; i < n; i++) {
		char at[600];

		if (c->json) {
			jw_obj(c->out, NULL);
			jw_i64(c->out, "level", i);
			jw_u64(c->out, "pc", f[i].pc);
			jw_str(c->out, "symbol", f[i].sym);
			cmd_src_json(c, &f[i].loc);
			jw_end(c->out);
		} else {
			cmd_src_text(&f[i].loc, at, sizeof(at));
			OUT("#%-2d 0x%016llx in %s%s\n", i, (unsigned long long)f[i].pc, f[i].sym, at);
		}
	}
	if (c->json)
		jw_end(c->out);
	free(f);
	return CMD_OK;
}

/* --- breakpoints ---------------------------------------------------------------------- */

/* The stop's event becomes a `Breakpoint N, ...` notice (REPL breakpoints only). */
void cmd_take_debug_stop(struct cmd_state *cs)
{
	struct debug_event ev;
	bool ours = false;

	cs->x_here.valid = false;
	for (int i = 0; i < CMD_MAX_BPS; i++)
		ours |= cs->bps[i].used;
	/* With no REPL breakpoint the stop belongs to gdb: leave its event alone. */
	if (ours && debug_take_event(&cs->s->vm, &ev)) {
		struct src_loc loc;
		char sym[160], at[600];
		int num = 0;

		for (int i = 0; i < CMD_MAX_BPS; i++)
			if (cs->bps[i].used && cs->bps[i].addr == ev.addr)
				num = cs->bps[i].num;
		symtab_format(&cs->s->vm.syms, ev.pc, sym, sizeof(sym));
		cmd_src_lookup(cs->s, ev.pc, false, &loc);
		cmd_src_text(&loc, at, sizeof(at));
		cmd_notice(cs, "%s %d, cpu %d at 0x%016llx %s%s (all vCPUs stopped; `resume` continues)",
			   ev.reason == DEBUG_STOP_WATCH || ev.reason == DEBUG_STOP_AWATCH ? "Watchpoint"
											  : "Breakpoint",
			   num, ev.cpu, (unsigned long long)ev.pc, sym, at);
	}
}

static void on_debug_stop(void *opaque)
{
	struct cmd_state *cs = opaque;

	cmd_take_debug_stop(cs);
	cmd_wait_check(cs);
}

void cmd_debug_listen(struct cmd_state *cs)
{
	if (cs->debug_listening || debug_init(&cs->s->vm))
		return;
	debug_attach_evloop(&cs->s->vm, &cs->s->loop);
	debug_add_listener(&cs->s->vm, on_debug_stop, cs);
	cs->debug_listening = true;
}

static struct repl_bp *bp_slot(struct cmd_ctx *c)
{
	for (int i = 0; i < CMD_MAX_BPS; i++)
		if (!c->cs->bps[i].used)
			return &c->cs->bps[i];
	return NULL;
}

/* struct repl_bp's kind 1-3 in debug.h's terms. */
static enum debug_hw_type hw_type_of(int kind)
{
	return kind == 1 ? DEBUG_HW_EXEC : kind == 2 ? DEBUG_HW_WRITE : DEBUG_HW_ACCESS;
}

static int bp_insert(struct cmd_ctx *c, int kind, uint64_t addr, uint64_t len)
{
	struct repl_bp *b = bp_slot(c);
	struct src_loc loc = { 0 };
	int r;
	char sym[128], at[600];

	if (!b)
		return cmd_error(c, "%s: the REPL holds %d breakpoints already", c->def->name,
				 CMD_MAX_BPS);
	cmd_debug_listen(c->cs);
	if (kind == 0) {
		cmd_pause_brief(c);
		r = debug_sw_insert(&c->s->vm, c->cs->cur_cpu, addr, DEBUG_OWNER_REPL);
		cmd_resume_brief(c);
	} else {
		r = debug_hw_insert(&c->s->vm, hw_type_of(kind), addr, len, DEBUG_OWNER_REPL);
	}
	if (r == -EFAULT)
		return cmd_error(c, "%s: 0x%llx is not mapped on cpu %d", c->def->name,
				 (unsigned long long)addr, c->cs->cur_cpu);
	if (r == -ENOSPC)
		return cmd_error(c, "%s: no free slot (%s)", c->def->name,
				 kind ? "all four debug registers are in use" : "breakpoint table full");
	if (r == -EINVAL)
		return cmd_error(c, "%s: length %llu at 0x%llx is not 1, 2, 4 or 8 and aligned",
				 c->def->name, (unsigned long long)len, (unsigned long long)addr);
	if (r == -EOPNOTSUPP) {
		char why[512];

		debug_refusal(&c->s->vm, kind != 0, hw_type_of(kind), why, sizeof(why));
		return cmd_error(c, "%s: %s", c->def->name, why);
	}
	if (r)
		return cmd_error(c, "%s: %s", c->def->name, strerror(-r));
	symtab_format(&c->s->vm.syms, addr, sym, sizeof(sym));
	*b = (struct repl_bp){ .used = true, .num = c->cs->bp_next++, .kind = kind, .addr = addr,
			       .len = len };
	snprintf(b->desc, sizeof(b->desc), "%.95s", sym);
	/* Code has a line; a watched variable's address does not. */
	if (kind < 2)
		cmd_src_lookup(c->s, addr, false, &loc);
	cmd_src_text(&loc, at, sizeof(at));
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_i64(c->out, "number", b->num);
		jw_u64(c->out, "addr", addr);
		jw_str(c->out, "symbol", sym);
		cmd_src_json(c, &loc);
		jw_end(c->out);
	} else {
		static const char *const what[] = { "Breakpoint", "Hardware breakpoint",
						    "Watchpoint (write)", "Watchpoint (access)" };
		OUT("%s %d at 0x%016llx %s%s\n", what[kind], b->num, (unsigned long long)addr, sym, at);
	}
	return CMD_OK;
}

static int cmd_break(struct cmd_ctx *c)
{
	uint64_t a;

	if (arg_addr(c, c->argv[0], &a))
		return CMD_ERR;
	if (c->check)
		return CMD_OK;
	return bp_insert(c, strcmp(c->def->name, "hbreak") ? 0 : 1, a, 1);
}

static int cmd_watch(struct cmd_ctx *c)
{
	uint64_t a, len;
	int kind = 2;

	if (arg_addr(c, c->argv[0], &a) || arg_u64(c, "watch: LEN", c->argv[1], &len))
		return CMD_ERR;
	if (c->argc == 3) {
		if (!strcmp(c->argv[2], "rw"))
			kind = 3;
		else if (strcmp(c->argv[2], "w"))
			return cmd_error(c, "watch: mode '%s' is not w or rw", c->argv[2]);
	}
	if (c->check)
		return CMD_OK;
	return bp_insert(c, kind, a, len);
}

static int cmd_delete(struct cmd_ctx *c)
{
	uint64_t n;
	int r;

	if (arg_u64(c, "delete: N", c->argv[0], &n))
		return CMD_ERR;
	if (c->check)
		return CMD_OK; /* which breakpoints exist is known only while it runs */
	for (int i = 0; i < CMD_MAX_BPS; i++) {
		struct repl_bp *b = &c->cs->bps[i];

		if (!b->used || (uint64_t)b->num != n)
			continue;
		if (b->kind == 0) {
			cmd_pause_brief(c);
			r = debug_sw_remove(&c->s->vm, c->cs->cur_cpu, b->addr, DEBUG_OWNER_REPL);
			cmd_resume_brief(c);
		} else {
			r = debug_hw_remove(&c->s->vm, hw_type_of(b->kind), b->addr, b->len,
					    DEBUG_OWNER_REPL);
		}
		b->used = false;
		if (r)
			return cmd_error(c, "delete: breakpoint %llu: %s", (unsigned long long)n,
					 strerror(-r));
		if (!c->json)
			OUT("deleted %llu\n", (unsigned long long)n);
		return CMD_OK;
	}
	return cmd_error(c, "delete: no breakpoint %llu (see `info breaks`)", (unsigned long long)n);
}

static int cmd_info_breaks(struct cmd_ctx *c)
{
	char buf[4096];
	static const char *const kinds[] = { "break", "hbreak", "watch", "awatch" };

	if (c->json) {
		jw_arr(c->out, NULL);
		for (int i = 0; i < CMD_MAX_BPS; i++) {
			struct repl_bp *b = &c->cs->bps[i];

			if (!b->used)
				continue;
			jw_obj(c->out, NULL);
			jw_i64(c->out, "number", b->num);
			jw_str(c->out, "type", kinds[b->kind]);
			jw_u64(c->out, "addr", b->addr);
			jw_u64(c->out, "len", b->len);
			jw_str(c->out, "symbol", b->desc);
			jw_end(c->out);
		}
		jw_end(c->out);
		return CMD_OK;
	}
	OUT("Num Type    Address            Len What\n");
	for (int i = 0; i < CMD_MAX_BPS; i++) {
		struct repl_bp *b = &c->cs->bps[i];

		if (b->used)
			OUT("%-3d %-7s 0x%016llx %-3llu %s\n", b->num, kinds[b->kind],
			    (unsigned long long)b->addr, (unsigned long long)b->len, b->desc);
	}
	if (c->s->vm.debug) {
		debug_format_breaks(&c->s->vm, buf, sizeof(buf));
		OUT("All holders (REPL and gdb):\n%s", buf);
	}
	return CMD_OK;
}

static int cmd_info_kvm(struct cmd_ctx *c)
{
	const struct kvm_probe *p = debug_kvm_probe(&c->s->vm);
	char buf[2048];

	if (!p)
		return cmd_error(c, "info kvm: %s", strerror(ENOMEM));
	if (!c->json) {
		kvm_probe_format(p, buf, sizeof(buf));
		OUT("%s", buf);
		return CMD_OK;
	}
	jw_obj(c->out, NULL);
	if (p->err) {
		jw_str(c->out, "error", p->err_what);
	} else {
		jw_obj(c->out, "capabilities");
		for (int i = 0; i < KVM_PROBE_NR; i++) {
			jw_obj(c->out, kvm_probe_cap_name(i));
			jw_bool(c->out, "works", p->cap[i].works);
			if (i == KVM_PROBE_WATCHPOINT)
				jw_bool(c->out, "by_single_step", p->watch_by_step);
			jw_str(c->out, "why", p->cap[i].why);
			jw_end(c->out);
		}
		jw_end(c->out);
	}
	jw_i64(c->out, "api_version", p->api_version);
	jw_obj(c->out, "extensions");
	for (int i = 0; i < p->n_ext; i++)
		jw_i64(c->out, p->ext[i].name, p->ext[i].value);
	jw_end(c->out);
	jw_end(c->out);
	return CMD_OK;
}

const struct cmd_def cmd_exec_table[] = {
	{ "pause", "stop", "pause [CPU|all]", "stop every vCPU (all-stop); returns once all are parked",
	  "pause", "    Ctrl-C at the prompt does the same.", 0, 1, "cpu", CMD_F_VM | CMD_F_CHECK, cmd_pause },
	{ "resume", "cont|c|continue", "resume [CPU|all]",
	  "resume the guest (drops pauses from `pause`, break-on and breakpoints)", "resume", NULL, 0,
	  1, "cpu", CMD_F_VM | CMD_F_CHECK, cmd_resume },
	{ "step", "stepi|si", "step [CPU] [N]",
	  "single-step N instructions (default 1) with interrupts blocked; print where it landed",
	  "step 0 10", "    `step N` steps the current CPU. An empty line repeats it.", 0, 2, "cpu",
	  CMD_F_VM | CMD_F_REPEAT | CMD_F_CHECK, cmd_step },
	{ "info cpus", NULL, "info cpus",
	  "per vCPU: state, RIP and symbol, mode, CPL, exits, what the last exit was",
	  "info cpus",
	  "    States: running, halted (in HLT), wait-for-sipi (an AP the guest has not started),\n"
	  "    paused, paused (halted), at breakpoint N / at watchpoint N (the REPL's numbers;\n"
	  "    `at gdb breakpoint` for gdb's), stepped. exits= is KVM's own count of every exit, live;\n"
	  "    the part that reached vmdbg follows in parentheses. The last exit is named by what\n"
	  "    vmdbg made of it: io, mmio, breakpoint, step, `completed int3 in userspace` (an\n"
	  "    instruction PVM cannot emulate), ... A brief pause reads the registers. With the\n"
	  "    kernel's DWARF the RIP's source line follows its symbol (` at FILE:LINE`).",
	  0, 0, NULL, CMD_F_VM, cmd_info_cpus },
	{ "cpu", NULL, "cpu CPU", "set the current vCPU (the default for regs, x, bt, step, ...)",
	  "cpu 1", NULL, 1, 1, "cpu", CMD_F_VM | CMD_F_CHECK, cmd_cpu },
	{ "quit", "q|exit", "quit", "end the session (the guest is stopped)", "quit", NULL, 0, 0, NULL,
	  0, cmd_quit },
	{ "regs", "info registers", "regs [CPU]",
	  "every register: general, RIP/RFLAGS, segments, GDT/IDT, CRs, EFER, DRs, FS/GS bases",
	  "regs 0", NULL, 0, 1, "cpu", CMD_F_VM | CMD_F_CHECK, cmd_regs },
	{ "set reg", NULL, "set reg [CPU] NAME=VALUE", "write one register (GPRs, rip, rflags, CRs, efer)",
	  "set reg 0 rax=0x1234", NULL, 1, 2, "cpu regset|regset", CMD_F_VM | CMD_F_CHECK, cmd_set_reg },
	{ "bt", "backtrace", "bt [CPU]", "frame-pointer backtrace with symbols and source lines", "bt 0",
	  "    At a function's first instructions, before `mov %rsp,%rbp` has made its frame, and at\n"
	  "    a `ret`, frame #1 is the return address on the stack: rbp is still the caller's frame.\n"
	  "    With the kernel's DWARF each frame ends ` at FILE:LINE` (a caller's: the line of its\n"
	  "    call), and `(FUNC inlined at FILE:LINE)` inside an inlined function (see `list`).",
	  0, 1,
	  "cpu", CMD_F_VM | CMD_F_CHECK, cmd_bt },
	{ "break", "b", "break ADDR", "software breakpoint (int3) at a virtual address or symbol",
	  "break handle_control_message", "    Shares slots with the gdb stub; a hit stops every vCPU.",
	  1, 1, "sym", CMD_F_VM | CMD_F_CHECK, cmd_break },
	{ "hbreak", NULL, "hbreak ADDR", "hardware breakpoint (a debug register)", "hbreak tg_break_here",
	  NULL, 1, 1, "sym", CMD_F_VM | CMD_F_CHECK, cmd_break },
	{ "watch", NULL, "watch ADDR LEN [w|rw]",
	  "watchpoint on writes (w, default) or reads and writes (rw); LEN 1, 2, 4 or 8",
	  "watch tg_counter 8 w", NULL, 2, 3, "sym||words:w,rw", CMD_F_VM | CMD_F_CHECK, cmd_watch },
	{ "delete", "d", "delete N", "remove breakpoint or watchpoint N", "delete 1", NULL, 1, 1, NULL,
	  CMD_F_VM | CMD_F_CHECK, cmd_delete },
	{ "info breaks", "info break|info breakpoints|info watchpoints", "info breaks",
	  "breakpoints and watchpoints (the REPL's, then every holder's slots)", "info breaks", NULL, 0,
	  0, NULL, 0, cmd_info_breaks },
	{ "info kvm", NULL, "info kvm",
	  "what this KVM reports of guest debugging (int3, debug registers, single-step), probed",
	  "info kvm",
	  "    Probed once, in a throw-away VM, at the first breakpoint or this command; break,\n"
	  "    hbreak and watch are refused where it says no (vmdbg --probe-kvm prints the same).",
	  0, 0, NULL, CMD_F_VM, cmd_info_kvm },
};
const int cmd_exec_count = sizeof(cmd_exec_table) / sizeof(cmd_exec_table[0]);
