/* Guest-debug capabilities of this KVM, measured in a throw-away VM (see kvm_probe.h). */
#include "kvm_probe.h"
#include "x86_state.h"

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Guest-physical layout of the probe VM: every byte not listed is hlt. */
#define PROBE_MEM_SIZE 0x8000
#define PROBE_GDT 0x0000
#define PROBE_GDT64 0x0100
#define PROBE_CODE 0x1000
#define PROBE_DATA 0x2000
#define PROBE_STACK_TOP 0x4000
#define PROBE_PML4 0x5000 /* long mode: 2 MiB identity map, user-accessible */
#define PROBE_PDPT 0x6000
#define PROBE_PD 0x7000
#define PROBE_TIMEOUT_NS 1000000000LL
#define PROBE_KICK_NS 100000000LL /* the watchdog fires again until KVM_RUN returns */
#define PROBE_MAX_RUNS 8
#define PROBE_STEPS 32 /* single-steps timed */
/* Above this a step, watching writes by single-stepping every vCPU stalls the guest. */
#define WATCH_STEP_MAX_NS 100000LL /* PVM: 10-15 us; nested SVM under TCG: ~300 us */

#define HLT 0xf4
#define BP_VECTOR 3
#define DB_VECTOR 1
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_SFMASK 0xc0000084
#define PTE_P 0x1ULL
#define PTE_RW 0x2ULL
#define PTE_US 0x4ULL
#define PTE_PS 0x80ULL
/* Selectors as Linux lays out its GDT for SYSCALL/SYSRET (STAR). */
#define SEL_KERNEL_CS 0x08
#define SEL_USER_BASE 0x18 /* SYSRET: user SS = base + 8, 64-bit user CS = base + 16 */
#define SEL_USER_DS (0x20 | 3)
#define SEL_USER_CS (0x28 | 3)
#define DR6_B(n) (1ULL << (n))
#define DR7_FIXED 0x600ULL /* GE and the reserved bit 10, as debug.c sets them */
#define DR7_L(n) (1ULL << ((n) * 2))
#define DR7_RW_WRITE(n) (1ULL << (16 + (n) * 4))
#define DR7_LEN_4(n) (3ULL << (18 + (n) * 4))

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

struct probe_vm {
	int kvm_fd, vm_fd, run_size, next_id;
	uint8_t *mem;
	timer_t timer; /* the watchdog (a kernel timer id: 0 is a valid one) */
	bool has_timer;
	int64_t step_ns; /* what one single-step exit took (probe_single_step) */
};

/* How one snippet ended. */
struct probe_exit {
	int err;          /* -errno of a failed ioctl (what names it) */
	const char *what;
	bool timed_out;
	uint32_t reason;  /* KVM_EXIT_* */
	uint64_t rip;
	struct kvm_debug_exit_arch debug;
	uint32_t suberror;
	uint8_t insn0;    /* first instruction byte of an emulation failure */
	bool has_insn;
	uint16_t cs;      /* CS selector at the exit: its low bits are the CPL */
	unsigned steps;   /* KVM_EXIT_DEBUGs taken in a row (snippet.steps) */
	int64_t ns;       /* wall time of those */
};

struct snippet {
	const uint8_t *code;
	size_t len;
	uint32_t eax;
	struct kvm_guest_debug dbg;
	bool user64; /* start at CPL 3 in long mode with SYSCALL set up, not 32-bit flat */
	unsigned steps; /* run on after a KVM_EXIT_DEBUG, up to this many, timing them */
};

static const char *const cap_names[KVM_PROBE_NR] = {
	[KVM_PROBE_SW_BREAKPOINT] = "sw-breakpoint",
	[KVM_PROBE_HW_BREAKPOINT] = "hw-breakpoint",
	[KVM_PROBE_WATCHPOINT] = "watchpoint",
	[KVM_PROBE_SINGLE_STEP] = "single-step",
	[KVM_PROBE_GUEST_SYSCALL] = "guest-syscall",
};

const char *kvm_probe_cap_name(enum kvm_probe_cap cap)
{
	return cap >= 0 && cap < KVM_PROBE_NR ? cap_names[cap] : "?";
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The watchdog's signal only has to interrupt KVM_RUN (vm.c kicks vCPUs with it too). */
static void kick_handler(int sig)
{
}

/* -errno of the step that just failed, named in WHAT. */
static int step_failed(char *what, size_t whatlen, const char *step)
{
	int e = errno;

	snprintf(what, whatlen, "%s: %s", step, strerror(e));
	return -e;
}

static int setup_vm(struct probe_vm *p, char *what, size_t whatlen)
{
	/* Null, flat 4 GiB code (0x08) and data (0x10): what setup_vcpu loads into the segments. */
	static const uint64_t gdt[3] = { 0, 0x00cf9a000000ffffULL, 0x00cf92000000ffffULL };
	/* null, kernel CS64, kernel DS, user CS32, user DS, user CS64 */
	static const uint64_t gdt64[6] = { 0, 0x00af9a000000ffffULL, 0x00cf92000000ffffULL,
					   0x00cffa000000ffffULL, 0x00cff2000000ffffULL,
					   0x00affa000000ffffULL };
	struct kvm_userspace_memory_region region = { .slot = 0,
						      .guest_phys_addr = 0,
						      .memory_size = PROBE_MEM_SIZE };
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGUSR1 };
	struct sigaction old;

	p->vm_fd = -1;
	p->mem = MAP_FAILED;
	p->has_timer = false;
	do
		p->vm_fd = ioctl(p->kvm_fd, KVM_CREATE_VM, 0);
	while (p->vm_fd < 0 && errno == EINTR);
	if (p->vm_fd < 0)
		return step_failed(what, whatlen, "KVM_CREATE_VM");
	p->run_size = ioctl(p->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (p->run_size <= 0)
		return step_failed(what, whatlen, "KVM_GET_VCPU_MMAP_SIZE");
	p->mem = mmap(NULL, PROBE_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	if (p->mem == MAP_FAILED)
		return step_failed(what, whatlen, "probe memory");
	/* Anything that goes astray meets a hlt: an exit, never a run-away guest. */
	memset(p->mem, HLT, PROBE_MEM_SIZE);
	memcpy(p->mem + PROBE_GDT, gdt, sizeof(gdt));
	memcpy(p->mem + PROBE_GDT64, gdt64, sizeof(gdt64));
	{
		uint64_t e[3] = { PROBE_PDPT | PTE_P | PTE_RW | PTE_US,
				  PROBE_PD | PTE_P | PTE_RW | PTE_US, PTE_P | PTE_RW | PTE_US | PTE_PS };

		memset(p->mem + PROBE_PML4, 0, PROBE_MEM_SIZE - PROBE_PML4);
		memcpy(p->mem + PROBE_PML4, &e[0], 8);
		memcpy(p->mem + PROBE_PDPT, &e[1], 8);
		memcpy(p->mem + PROBE_PD, &e[2], 8);
	}
	region.userspace_addr = (uint64_t)(uintptr_t)p->mem;
	if (ioctl(p->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return step_failed(what, whatlen, "KVM_SET_USER_MEMORY_REGION");

	if (sigaction(SIGUSR1, NULL, &old) == 0 &&
	    (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN)) {
		struct sigaction sa = { .sa_handler = kick_handler };

		sigaction(SIGUSR1, &sa, NULL);
	}
	sev.sigev_notify_thread_id = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, &p->timer) < 0)
		return step_failed(what, whatlen, "timer_create");
	p->has_timer = true;
	return 0;
}

static void free_vm(struct probe_vm *p)
{
	if (p->has_timer)
		timer_delete(p->timer);
	if (p->mem != MAP_FAILED)
		munmap(p->mem, PROBE_MEM_SIZE);
	if (p->vm_fd >= 0)
		close(p->vm_fd);
}

/*
 * Long mode at CPL 3 with SYSCALL enabled and LSTAR at PROBE_DATA (all hlt): what a Linux
 * process does on its first system call. Paging maps the first 2 MiB for user and kernel.
 */
static int setup_user64(int fd, struct kvm_sregs *s, struct probe_exit *ex)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[3];
	} msrs = { .hdr.nmsrs = 3,
		   .e = { { .index = MSR_STAR,
			    .data = ((uint64_t)SEL_USER_BASE << 48) | ((uint64_t)SEL_KERNEL_CS << 32) },
			  { .index = MSR_LSTAR, .data = PROBE_DATA },
			  { .index = MSR_SFMASK, .data = 0 } } };

	s->cs = (struct kvm_segment){ .limit = 0xffffffff, .selector = SEL_USER_CS, .type = 0xb,
				      .present = 1, .dpl = 3, .s = 1, .l = 1, .g = 1 };
	s->ss = (struct kvm_segment){ .limit = 0xffffffff, .selector = SEL_USER_DS, .type = 0x3,
				      .present = 1, .dpl = 3, .db = 1, .s = 1, .g = 1 };
	s->ds = s->es = s->fs = s->gs = s->ss;
	s->gdt.base = PROBE_GDT64;
	s->gdt.limit = 6 * 8 - 1;
	s->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
	s->cr3 = PROBE_PML4;
	s->cr4 = X86_CR4_PAE;
	s->efer = EFER_SCE | EFER_LME | EFER_LMA;
	if (ioctl(fd, KVM_SET_MSRS, &msrs) != 3)
		return ex->what = "KVM_SET_MSRS (STAR, LSTAR, SFMASK)", errno ? -errno : -EIO;
	return 0;
}

/* 32-bit flat protected mode, paging off, as PVH enters; IDT limit 0: any exception triple-faults. */
static int setup_vcpu(struct probe_vm *p, int fd, const struct snippet *sn, struct probe_exit *ex)
{
	struct kvm_sregs s;
	struct kvm_regs r = { .rflags = 0x2, .rip = PROBE_CODE, .rsp = PROBE_STACK_TOP,
			      .rax = sn->eax };
	int err;

	if (ioctl(fd, KVM_GET_SREGS, &s) < 0)
		return ex->what = "KVM_GET_SREGS", -errno;
	x86_flat_protected_mode(&s, 0x08, false, 0x10, PROBE_GDT, 3);
	if (sn->user64 && (err = setup_user64(fd, &s, ex)))
		return err;
	if (ioctl(fd, KVM_SET_SREGS, &s) < 0)
		return ex->what = "KVM_SET_SREGS", -errno;
	if (ioctl(fd, KVM_SET_REGS, &r) < 0)
		return ex->what = "KVM_SET_REGS", -errno;
	if (ioctl(fd, KVM_SET_GUEST_DEBUG, &sn->dbg) < 0)
		return ex->what = "KVM_SET_GUEST_DEBUG", -errno;
	return 0;
}

static void arm_timer(struct probe_vm *p, int64_t ns)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL },
		.it_interval = { .tv_nsec = ns ? PROBE_KICK_NS : 0 },
	};

	timer_settime(p->timer, 0, &its, NULL);
}

/* KVM_RUN until the first real exit, bounded by PROBE_TIMEOUT_NS of wall time. */
static void run_vcpu(struct probe_vm *p, int fd, struct kvm_run *run, struct probe_exit *ex)
{
	int64_t deadline = now_ns() + PROBE_TIMEOUT_NS;
	sigset_t usr1, old;
	int r = -1;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &usr1, &old);
	for (int i = 0; i < PROBE_MAX_RUNS && now_ns() < deadline; i++) {
		arm_timer(p, deadline - now_ns() > 0 ? deadline - now_ns() : 1);
		r = ioctl(fd, KVM_RUN, 0);
		arm_timer(p, 0);
		if (r == 0 || (errno != EINTR && errno != EAGAIN))
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0 && errno != EINTR && errno != EAGAIN) {
		ex->err = -errno;
		ex->what = "KVM_RUN";
		return;
	}
	if (r < 0) {
		ex->timed_out = true;
		return;
	}
	ex->reason = run->exit_reason;
	if (ex->reason == KVM_EXIT_DEBUG)
		ex->debug = run->debug.arch;
	if (ex->reason == KVM_EXIT_INTERNAL_ERROR) {
		ex->suberror = run->internal.suberror;
		ex->has_insn = run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
			       (run->emulation_failure.flags &
				KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
			       run->emulation_failure.insn_size > 0;
		ex->insn0 = ex->has_insn ? run->emulation_failure.insn_bytes[0] : 0;
	}
	{
		struct kvm_regs regs;
		struct kvm_sregs sregs;

		if (ioctl(fd, KVM_GET_REGS, &regs) == 0)
			ex->rip = regs.rip;
		if (ioctl(fd, KVM_GET_SREGS, &sregs) == 0)
			ex->cs = sregs.cs.selector;
	}
}

/* One snippet on a fresh vCPU: a vCPU that triple-faulted is never reused. */
static void run_snippet(struct probe_vm *p, const struct snippet *sn, struct probe_exit *ex)
{
	struct kvm_run *run;
	int fd;

	memset(ex, 0, sizeof(*ex));
	memset(p->mem + PROBE_CODE, HLT, PROBE_DATA - PROBE_CODE);
	memset(p->mem + PROBE_DATA, HLT, PROBE_STACK_TOP - PROBE_DATA);
	memcpy(p->mem + PROBE_CODE, sn->code, sn->len);
	fd = ioctl(p->vm_fd, KVM_CREATE_VCPU, p->next_id++);
	if (fd < 0) {
		ex->err = -errno;
		ex->what = "KVM_CREATE_VCPU";
		return;
	}
	run = mmap(NULL, p->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (run == MAP_FAILED) {
		ex->err = -errno;
		ex->what = "mmap of kvm_run";
		close(fd);
		return;
	}
	ex->err = setup_vcpu(p, fd, sn, ex);
	if (!ex->err)
		run_vcpu(p, fd, run, ex);
	if (sn->steps && !ex->err && !ex->timed_out && ex->reason == KVM_EXIT_DEBUG) {
		struct probe_exit next = *ex;
		int64_t t0 = now_ns();

		while (++ex->steps < sn->steps && !next.err && !next.timed_out &&
		       next.reason == KVM_EXIT_DEBUG)
			run_vcpu(p, fd, run, &next);
		ex->ns = now_ns() - t0;
	}
	munmap(run, p->run_size);
	close(fd);
}

/* "what happened": the exit in KVM's words, for a finding's reason. */
static void describe_exit(const struct probe_exit *ex, char *buf, size_t size)
{
	switch (ex->reason) {
	case KVM_EXIT_SHUTDOWN:
		snprintf(buf, size, "the vCPU triple-faulted (KVM_EXIT_SHUTDOWN)");
		break;
	case KVM_EXIT_HLT:
		snprintf(buf, size, "the vCPU ran on to a hlt (KVM_EXIT_HLT at 0x%llx)",
			 (unsigned long long)ex->rip - 1);
		break;
	case KVM_EXIT_DEBUG:
		snprintf(buf, size, "KVM_EXIT_DEBUG with exception %u at 0x%llx (DR6 0x%llx)",
			 ex->debug.exception, (unsigned long long)ex->debug.pc,
			 (unsigned long long)ex->debug.dr6);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		if (ex->has_insn)
			snprintf(buf, size,
				 "KVM_EXIT_INTERNAL_ERROR (emulation failure at 0x%llx, byte 0x%02x)",
				 (unsigned long long)ex->rip, ex->insn0);
		else
			snprintf(buf, size, "KVM_EXIT_INTERNAL_ERROR (suberror %u)", ex->suberror);
		break;
	default:
		snprintf(buf, size, "KVM exit reason %u at 0x%llx", ex->reason,
			 (unsigned long long)ex->rip);
	}
}

/* No exit of the expected kind: say what came instead. Returns false for the caller. */
static bool failed(struct kvm_probe_finding *f, const struct probe_exit *ex, const char *prefix,
		   const char *expected)
{
	char what[128];

	if (ex->err) {
		snprintf(f->why, sizeof(f->why), "%s: %s", ex->what, strerror(-ex->err));
		return false;
	}
	if (ex->timed_out) {
		snprintf(f->why, sizeof(f->why), "no exit within %lld s",
			 PROBE_TIMEOUT_NS / 1000000000LL);
		return false;
	}
	describe_exit(ex, what, sizeof(what));
	snprintf(f->why, sizeof(f->why), "%s%s instead of %s", prefix, what, expected);
	return false;
}

static bool debug_exit_at(const struct probe_exit *ex, unsigned vector, uint64_t pc)
{
	return !ex->err && !ex->timed_out && ex->reason == KVM_EXIT_DEBUG &&
	       ex->debug.exception == vector && ex->debug.pc == pc;
}

static bool probe_sw_breakpoint(struct probe_vm *p, struct kvm_probe_finding *f)
{
	static const uint8_t code[] = { 0x90, 0xcc, HLT }; /* nop; int3 */
	const uint64_t at = PROBE_CODE + 1;
	struct snippet sn = { .code = code, .len = sizeof(code), .eax = 0,
			      .dbg = { .control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP } };
	struct probe_exit ex;

	run_snippet(p, &sn, &ex);
	if (debug_exit_at(&ex, BP_VECTOR, at))
		return true;
	/* PVM's emulator hands int3 to the VMM this way; vcpu.c takes it as the breakpoint. */
	if (!ex.err && !ex.timed_out && ex.reason == KVM_EXIT_INTERNAL_ERROR && ex.has_insn &&
	    ex.insn0 == 0xcc && ex.rip == at) {
		snprintf(f->why, sizeof(f->why), "as an emulation failure at the int3, not #BP");
		return true;
	}
	return failed(f, &ex, ex.reason == KVM_EXIT_SHUTDOWN ? "the guest took #BP itself: " : "",
		      "KVM_EXIT_DEBUG (#BP)");
}

static bool probe_hw_breakpoint(struct probe_vm *p, struct kvm_probe_finding *f)
{
	static const uint8_t code[] = { 0x90, 0x90, HLT }; /* DR0 on the second nop */
	const uint64_t at = PROBE_CODE + 1;
	struct snippet sn = { .code = code, .len = sizeof(code), .eax = 0,
			      .dbg = { .control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP } };
	struct probe_exit ex;

	sn.dbg.arch.debugreg[0] = at;
	sn.dbg.arch.debugreg[7] = DR7_FIXED | DR7_L(0);
	run_snippet(p, &sn, &ex);
	if (debug_exit_at(&ex, DB_VECTOR, at) && (ex.debug.dr6 & DR6_B(0)))
		return true;
	return failed(f, &ex, ex.reason == KVM_EXIT_HLT ? "DR0 did not fire: " : "",
		      "KVM_EXIT_DEBUG (#DB, DR6.B0)");
}

static bool probe_watchpoint(struct probe_vm *p, struct kvm_probe_finding *f)
{
	/* mov [PROBE_DATA], eax; a data breakpoint traps after the store */
	static const uint8_t code[] = { 0xa3, PROBE_DATA & 0xff, (PROBE_DATA >> 8) & 0xff, 0, 0,
					HLT };
	struct snippet sn = { .code = code, .len = sizeof(code), .eax = 0x12345678,
			      .dbg = { .control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP } };
	struct probe_exit ex;

	sn.dbg.arch.debugreg[1] = PROBE_DATA;
	sn.dbg.arch.debugreg[7] = DR7_FIXED | DR7_L(1) | DR7_RW_WRITE(1) | DR7_LEN_4(1);
	run_snippet(p, &sn, &ex);
	if (debug_exit_at(&ex, DB_VECTOR, PROBE_CODE + 5) && (ex.debug.dr6 & DR6_B(1)))
		return true;
	return failed(f, &ex, ex.reason == KVM_EXIT_HLT ? "DR1 did not fire on a write: " : "",
		      "KVM_EXIT_DEBUG (#DB, DR6.B1)");
}

/* Also what a step costs: watching by stepping is only worth it where steps are cheap. */
static bool probe_single_step(struct probe_vm *p, struct kvm_probe_finding *f)
{
	uint8_t code[PROBE_STEPS + 1];
	struct snippet sn = { .code = code, .len = sizeof(code), .eax = 0, .steps = PROBE_STEPS,
			      .dbg = { .control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP } };
	struct probe_exit ex;

	memset(code, 0x90, PROBE_STEPS); /* nops, then hlt */
	code[PROBE_STEPS] = HLT;
	run_snippet(p, &sn, &ex);
	if (!debug_exit_at(&ex, DB_VECTOR, PROBE_CODE + 1))
		return failed(f, &ex, "", "KVM_EXIT_DEBUG (#DB) after the nop");
	p->step_ns = ex.steps ? ex.ns / ex.steps : 0;
	return true;
}

/*
 * PVM runs guest kernels but not their user space: there a CPL 3 syscall reaches LSTAR
 * without leaving user mode (PLATFORM.md), so the hlt there faults and the vCPU
 * triple-faults. Elsewhere it is a plain KVM_EXIT_HLT at CPL 0.
 */
static bool probe_guest_syscall(struct probe_vm *p, struct kvm_probe_finding *f)
{
	static const uint8_t code[] = { 0x0f, 0x05, HLT }; /* syscall */
	struct snippet sn = { .code = code, .len = sizeof(code), .user64 = true };
	struct probe_exit ex;

	run_snippet(p, &sn, &ex);
	if (!ex.err && !ex.timed_out && ex.reason == KVM_EXIT_HLT && ex.rip == PROBE_DATA + 1 &&
	    (ex.cs & 3) == 0)
		return true;
	if (!ex.err && !ex.timed_out && ex.reason == KVM_EXIT_HLT && ex.rip == PROBE_DATA + 1)
		snprintf(f->why, sizeof(f->why),
			 "a syscall at CPL 3 reached LSTAR still at CPL %u (CS 0x%x)", ex.cs & 3,
			 ex.cs);
	else
		failed(f, &ex, "a syscall at CPL 3 did not reach LSTAR at CPL 0: ",
		       "KVM_EXIT_HLT at LSTAR");
	return false;
}

static bool (*const probes[KVM_PROBE_NR])(struct probe_vm *, struct kvm_probe_finding *) = {
	[KVM_PROBE_SW_BREAKPOINT] = probe_sw_breakpoint,
	[KVM_PROBE_HW_BREAKPOINT] = probe_hw_breakpoint,
	[KVM_PROBE_WATCHPOINT] = probe_watchpoint,
	[KVM_PROBE_SINGLE_STEP] = probe_single_step,
	[KVM_PROBE_GUEST_SYSCALL] = probe_guest_syscall,
};

static void check_extensions(int kvm_fd, struct kvm_probe *out)
{
	static const struct {
		const char *name;
		int cap;
		bool mask;
	} caps[] = {
		{ "KVM_CAP_SET_GUEST_DEBUG", KVM_CAP_SET_GUEST_DEBUG, false },
		{ "KVM_CAP_SET_GUEST_DEBUG2", KVM_CAP_SET_GUEST_DEBUG2, true },
		{ "KVM_CAP_IMMEDIATE_EXIT", KVM_CAP_IMMEDIATE_EXIT, false },
		{ "KVM_CAP_IRQCHIP", KVM_CAP_IRQCHIP, false },
		{ "KVM_CAP_PIT2", KVM_CAP_PIT2, false },
		{ "KVM_CAP_IRQFD", KVM_CAP_IRQFD, false },
		{ "KVM_CAP_XSAVE2", KVM_CAP_XSAVE2, false },
		{ "KVM_CAP_MAX_VCPUS", KVM_CAP_MAX_VCPUS, false },
	};
	_Static_assert(sizeof(caps) / sizeof(caps[0]) <= KVM_PROBE_MAX_EXT, "ext[] too small");

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		int v = ioctl(kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap);

		out->ext[out->n_ext++] =
			(struct kvm_probe_ext){ caps[i].name, v < 0 ? 0 : v, caps[i].mask };
	}
}

int kvm_probe_run(int kvm_fd, struct kvm_probe *out)
{
	struct probe_vm p = { .kvm_fd = kvm_fd };

	memset(out, 0, sizeof(*out));
	out->api_version = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);
	check_extensions(kvm_fd, out);
	out->err = setup_vm(&p, out->err_what, sizeof(out->err_what));
	for (int i = 0; !out->err && i < KVM_PROBE_NR; i++)
		out->cap[i].works = probes[i](&p, &out->cap[i]);
	out->step_ns = p.step_ns;
	free_vm(&p);
	kvm_probe_watch_rule(out);
	return out->err;
}

void kvm_probe_watch_rule(struct kvm_probe *p)
{
	struct kvm_probe_finding *w = &p->cap[KVM_PROBE_WATCHPOINT];
	size_t len;

	if (p->err || w->works || !p->cap[KVM_PROBE_SINGLE_STEP].works)
		return;
	if (p->step_ns <= WATCH_STEP_MAX_NS) {
		p->watch_by_step = w->works = true;
		return;
	}
	len = strlen(w->why);
	snprintf(w->why + len, sizeof(w->why) - len,
		 "; a single-step costs %lld us here, too slow to watch by stepping",
		 (long long)(p->step_ns / 1000));
}

int kvm_probe_one(int kvm_fd, enum kvm_probe_cap cap, struct kvm_probe_finding *f)
{
	struct probe_vm p = { .kvm_fd = kvm_fd };
	int err;

	memset(f, 0, sizeof(*f));
	if (cap < 0 || cap >= KVM_PROBE_NR)
		return -EINVAL;
	err = setup_vm(&p, f->why, sizeof(f->why));
	if (!err)
		f->works = probes[cap](&p, f);
	free_vm(&p);
	return err;
}

int kvm_probe_check(const struct kvm_probe *p, enum kvm_probe_bp bp, char *why, size_t size)
{
	const struct kvm_probe_finding *sw = &p->cap[KVM_PROBE_SW_BREAKPOINT];
	const struct kvm_probe_finding *hw = &p->cap[KVM_PROBE_HW_BREAKPOINT];
	const struct kvm_probe_finding *w = &p->cap[KVM_PROBE_WATCHPOINT];

	/* Nothing probed: insert as vmdbg always did rather than refuse everything. */
	if (p->err)
		return 0;
	switch (bp) {
	case KVM_PROBE_BP_INT3:
		if (sw->works)
			return 0;
		snprintf(why, size, "this KVM does not report int3 to vmdbg (probed: %s); a software "
			 "breakpoint would crash the guest", sw->why);
		break;
	case KVM_PROBE_BP_EXEC:
		if (hw->works)
			return 0;
		snprintf(why, size, "this KVM does not report debug-register breakpoints to vmdbg "
			 "(probed: %s); a hardware breakpoint would never fire", hw->why);
		break;
	case KVM_PROBE_BP_WRITE:
		if (w->works)
			return 0;
		snprintf(why, size, "this KVM does not report data breakpoints to vmdbg (probed: %s); "
			 "a watchpoint would never fire", w->why);
		break;
	case KVM_PROBE_BP_ACCESS:
		if (w->works && !p->watch_by_step)
			return 0;
		snprintf(why, size, "this KVM does not report data breakpoints to vmdbg (probed: %s); %s",
			 w->why, p->watch_by_step ? "vmdbg watches writes by single-stepping, which "
						    "cannot see reads"
						  : "a watchpoint would never fire");
		break;
	default:
		return -EINVAL;
	}
	return -EOPNOTSUPP;
}

size_t kvm_probe_format(const struct kvm_probe *p, char *buf, size_t size)
{
	size_t off = 0;

#define OUT(...) (off += snprintf(buf + off, off < size ? size - off : 0, __VA_ARGS__))
	if (size)
		buf[0] = 0;
	if (p->err) {
		OUT("kvm: cannot probe: %s\n", p->err_what);
	} else {
		for (int i = 0; i < KVM_PROBE_NR; i++) {
			const struct kvm_probe_finding *f = &p->cap[i];
			bool by_step = i == KVM_PROBE_WATCHPOINT && p->watch_by_step;

			OUT("%s: %s", cap_names[i], f->works ? "yes" : "no");
			if (by_step)
				OUT(" (writes only, by single-stepping: %s)\n", f->why);
			else if (i == KVM_PROBE_SINGLE_STEP && f->works && p->step_ns)
				OUT(" (%lld us a step)\n", (long long)(p->step_ns / 1000));
			else if (f->why[0])
				OUT(" (%s)\n", f->why);
			else
				OUT("\n");
		}
	}
	OUT("KVM_GET_API_VERSION: %d\n", p->api_version);
	for (int i = 0; i < p->n_ext; i++)
		OUT(p->ext[i].mask ? "%s: 0x%x\n" : "%s: %d\n", p->ext[i].name, p->ext[i].value);
#undef OUT
	return off < size ? off : size ? size - 1 : 0;
}
