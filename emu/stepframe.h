/*
 * A single step that delivers an event can leak TF into the event's frame.
 *
 * KVM_GUESTDBG_SINGLESTEP works by setting RFLAGS.TF in the guest, so the frame of an event
 * the step delivers saves RFLAGS with TF set: an event KVM had injected before the step
 * began (a kick landed between the injection and the entry; it is delivered at the next
 * entry whatever KVM_GUESTDBG_BLOCKIRQ says), or an exception or INT n the stepped
 * instruction raised. Hardware VMX runs the handler untraced and its IRET consumes the TF
 * inside the same step; PVM ends the step inside the handler (measured), so once the
 * debugger stops stepping the handler's IRET restores TF and the guest takes a #DB it never
 * asked for (the gdb soak's test guest died of it under load). A step records where the
 * vCPU was; when it ends on a new stack frame, the event frame (RIP, CS, RFLAGS, RSP, SS
 * as 64-bit mode pushes them) is looked for just above the new stack pointer and TF is
 * cleared in it.
 */
#ifndef VMDBG_EMU_STEPFRAME_H
#define VMDBG_EMU_STEPFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

struct stepframe {
	bool armed;
	int vector;      /* of the event injected before the step, or -1 */
	uint64_t rip, cs, rflags, rsp, ss;
};

/* How far above the stack pointer after the step the frame is looked for (bytes). */
#define STEPFRAME_SCAN 512

/*
 * Index in Q (N qwords read upwards from the stack pointer) of the saved RFLAGS of the
 * frame an event delivered during SF's step pushed, or -1: saved RIP at the step's RIP or
 * up to one instruction (15 bytes) after it (a trap or INT n), CS, RFLAGS as before with
 * TF set, RSP and SS as before. Pure: unit-tested.
 */
int stepframe_find(const uint64_t *q, size_t n, const struct stepframe *sf);

/*
 * Before a step of CPU (parked): arm SF when an event is injected (it will be delivered),
 * or for ANY step (a debugger's step: the instruction itself may raise one).
 */
void stepframe_arm(struct stepframe *sf, struct vm *vm, int cpu, bool any);

/*
 * After CPU ran (its own thread, or parked): if SF is armed and the vCPU's stack pointer
 * moved as an event delivery moves it, clear TF in the event's frame. Disarms SF unless
 * the vCPU did not move at all (the injected event is still waiting).
 */
void stepframe_settle(struct stepframe *sf, struct vm *vm, int cpu);

#endif
