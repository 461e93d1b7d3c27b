/* TF leaked into an event frame by a single step: see stepframe.h. */
#include "stepframe.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include "debug.h"
#include "log.h"
#include "vm.h"

#define RFLAGS_TF (1ULL << 8)
#define RFLAGS_RF (1ULL << 16)

/* The 64-bit mode frame, lowest address first: RIP, CS, RFLAGS, RSP, SS. */
int stepframe_find(const uint64_t *q, size_t n, const struct stepframe *sf)
{
	const uint64_t ignore = RFLAGS_TF | RFLAGS_RF;

	for (size_t k = 0; k + 5 <= n; k++)
		if (q[k] - sf->rip <= 15 && (q[k + 1] & 0xffff) == sf->cs && (q[k + 2] & RFLAGS_TF) &&
		    (q[k + 2] & ~ignore) == (sf->rflags & ~ignore) && q[k + 3] == sf->rsp &&
		    (q[k + 4] & 0xffff) == sf->ss)
			return (int)k + 2;
	return -1;
}

void stepframe_arm(struct stepframe *sf, struct vm *vm, int cpu, bool any)
{
	bool injected;
	struct kvm_vcpu_events ev;
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	sf->armed = false;
	if (ioctl(vm->vcpus[cpu].fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return;
	injected = ev.interrupt.injected || ev.nmi.injected || ev.exception.injected;
	if (!injected && !any)
		return;
	/* Only 64-bit mode frames are recognised; a guest that sets TF itself keeps it. */
	if (vm_get_regs(vm, cpu, &regs) || vm_get_sregs(vm, cpu, &sregs) || !sregs.cs.l ||
	    (regs.rflags & RFLAGS_TF))
		return;
	*sf = (struct stepframe){
		.armed = true,
		.vector = !injected              ? -1
			  : ev.exception.injected ? ev.exception.nr
			  : ev.nmi.injected       ? 2
						  : ev.interrupt.nr,
		.rip = regs.rip,
		.cs = sregs.cs.selector,
		.rflags = regs.rflags,
		.rsp = regs.rsp,
		.ss = sregs.ss.selector,
	};
}

void stepframe_settle(struct stepframe *sf, struct vm *vm, int cpu)
{
	uint64_t q[STEPFRAME_SCAN / 8], got, flags;
	struct kvm_regs regs;
	int k;

	if (!sf->armed || vm_get_regs(vm, cpu, &regs))
		return;
	if (regs.rip == sf->rip && regs.rsp == sf->rsp)
		return; /* not run yet: an injected event is delivered at the next entry */
	sf->armed = false;
	/* A delivery pushes at least five qwords or switches stacks; anything else pushed less. */
	if (regs.rsp + 40 > sf->rsp && regs.rsp <= sf->rsp + 4096)
		return;
	got = debug_read_virt(vm, cpu, regs.rsp, q, sizeof(q));
	k = stepframe_find(q, got / 8, sf);
	if (k < 0) {
		if (sf->vector < 0)
			return; /* a prologue's sub or a stack switch: no event */
		log_warn("cpu%d: a step delivered vector %d; its frame was not found above rsp "
			 "0x%llx, so the guest may take a stray #DB when the handler returns",
			 cpu, sf->vector, (unsigned long long)regs.rsp);
		return;
	}
	flags = q[k] & ~RFLAGS_TF;
	if (debug_write_virt(vm, cpu, regs.rsp + 8 * (uint64_t)k, &flags, 8) != 8)
		log_warn("cpu%d: cannot clear TF in a step's event frame at 0x%llx", cpu,
			 (unsigned long long)(regs.rsp + 8 * (uint64_t)k));
	else if (sf->vector < 0)
		log_debug("cpu%d: the stepped instruction raised an event; TF cleared in its frame", cpu);
	else
		log_debug("cpu%d: the step delivered vector %d; TF cleared in its frame", cpu, sf->vector);
}
