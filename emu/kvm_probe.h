/*
 * What this KVM's guest debugging really does, found by running it: a throw-away VM
 * (its own KVM_CREATE_VM, one vCPU per probe, a few pages of RAM, no irqchip so HLT
 * exits to vmdbg) runs tiny snippets in 32-bit flat protected mode with paging off
 * and each debug feature armed through KVM_SET_GUEST_DEBUG. Nested KVMs exist where
 * int3 is not intercepted or the debug registers never fire (QEMU TCG's SVM): only
 * running it tells, never the CPU model, vendor or module name.
 */
#ifndef VMDBG_KVM_PROBE_H
#define VMDBG_KVM_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum kvm_probe_cap {
	KVM_PROBE_SW_BREAKPOINT, /* int3 + KVM_GUESTDBG_USE_SW_BP exits as #BP */
	KVM_PROBE_HW_BREAKPOINT, /* DR0 execution breakpoint + KVM_GUESTDBG_USE_HW_BP exits as #DB */
	KVM_PROBE_WATCHPOINT,    /* DR1 data write breakpoint exits as #DB */
	KVM_PROBE_SINGLE_STEP,   /* KVM_GUESTDBG_SINGLESTEP exits after one instruction */
	KVM_PROBE_GUEST_SYSCALL, /* a CPL 3 syscall enters LSTAR at CPL 0 (PVM: no guest user space) */
	KVM_PROBE_NR
};

struct kvm_probe_finding {
	bool works;
	/* No: what happened instead. Yes: empty, or how KVM reported it when not as asked. */
	char why[192];
};

/* What a breakpoint needs KVM to report (kvm_probe_check). */
enum kvm_probe_bp {
	KVM_PROBE_BP_INT3,   /* software breakpoint */
	KVM_PROBE_BP_EXEC,   /* debug-register execution breakpoint */
	KVM_PROBE_BP_WRITE,  /* write watchpoint */
	KVM_PROBE_BP_ACCESS, /* read/write watchpoint */
};

/* The KVM_CHECK_EXTENSION answers vmdbg relies on, shown beside the findings. */
struct kvm_probe_ext {
	const char *name;
	int value;
	bool mask; /* a bit mask (KVM_CAP_SET_GUEST_DEBUG2: the KVM_GUESTDBG_* bits), shown in hex */
};

#define KVM_PROBE_MAX_EXT 8

struct kvm_probe {
	int err;            /* 0, or -errno when the probe VM could not be set up */
	char err_what[192]; /* which step failed, with the errno's text */
	int api_version;
	struct kvm_probe_finding cap[KVM_PROBE_NR];
	/*
	 * Data breakpoints do not fire but single-step works (PVM emulates kernel code and
	 * its emulator ignores them): vmdbg watches writes by stepping and comparing, so
	 * cap[KVM_PROBE_WATCHPOINT] says yes, its why keeps what the debug register did.
	 */
	bool watch_by_step;
	int64_t step_ns; /* wall time of one single-step exit, measured over a few */
	struct kvm_probe_ext ext[KVM_PROBE_MAX_EXT];
	int n_ext;
};

/* "sw-breakpoint", "hw-breakpoint", "watchpoint", "single-step", "guest-syscall". */
const char *kvm_probe_cap_name(enum kvm_probe_cap cap);

/*
 * Run every probe on KVM_FD (an open /dev/kvm) and fill OUT. Each probe is bounded by
 * about a second of wall time. Returns 0, or OUT->err when nothing could be probed.
 */
int kvm_probe_run(int kvm_fd, struct kvm_probe *out);

/*
 * Data breakpoints that do not fire are stood in for by single-stepping, where a step is
 * cheap (PVM: ~10 us); where it is not (nested SVM under TCG: milliseconds) the
 * watchpoint stays no, its why saying what a step costs. kvm_probe_run applies it.
 */
void kvm_probe_watch_rule(struct kvm_probe *p);

/*
 * Run only probe CAP on KVM_FD (in its own throw-away VM) and fill F: what vm.c needs before
 * a boot. Returns 0, or -errno (F->why says which step) when the probe VM could not be made.
 */
int kvm_probe_one(int kvm_fd, enum kvm_probe_cap cap, struct kvm_probe_finding *f);

/*
 * 0 when a breakpoint of kind BP can work on the probed KVM (or P could not probe), else
 * -EOPNOTSUPP with WHY holding one line that names the probe's finding and what the
 * breakpoint would do ("this KVM does not report int3 to vmdbg (probed: ...); ...").
 */
int kvm_probe_check(const struct kvm_probe *p, enum kvm_probe_bp bp, char *why, size_t size);

/*
 * One "name: yes|no (why)" line per capability (one "kvm: cannot probe: ..." line when
 * P->err), then "KVM_GET_API_VERSION: N" and one "KVM_CAP_...: value" line per extension.
 * Returns bytes written.
 */
size_t kvm_probe_format(const struct kvm_probe *p, char *buf, size_t size);

#endif
