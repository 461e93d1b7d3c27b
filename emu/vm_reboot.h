/*
 * Warm reboot (--reboot): when the guest asks for a reset (the FADT's RESET_REG, or KVM's
 * reset system event), the machine goes back to its power-on state and boots the same
 * kernel, initrd and command line again, as QEMU's system_reset and a real machine do:
 * RAM is kept (only what the loader writes changes), every vCPU, the irqchip, the PIT and
 * the UARTs are as they were before the first instruction, the virtio devices reset (the
 * console captures the tx chains the guest had published, and keeps every host buffer),
 * breakpoints and the gdb connection stay. Without --reboot a reboot ends the run.
 */
#ifndef VMDBG_VM_REBOOT_H
#define VMDBG_VM_REBOOT_H

#include <stdbool.h>
#include <stddef.h>

#include "vm.h"

/*
 * Keep the power-on state: called once the vCPUs exist and before they are given their
 * boot or restored state. 0, or -errno with ERR.
 */
int vm_reboot_prepare(struct vm *vm, char *err, size_t errlen);

/* From a vCPU thread: the guest asked for a reset. Every vCPU parks; the main loop reboots. */
void vm_reboot_request(struct vm *vm);

/* Main loop: whether a reboot was asked for (and take the request). */
bool vm_reboot_take(struct vm *vm);

/*
 * The machine must be paused (vm_pause) and its devices already reset. Puts the vCPUs,
 * irqchip, PIT and UARTs back to power-on, loads the kernel again, points the boot vCPU at
 * its entry and puts software breakpoints back. 0, or -errno with ERR.
 */
int vm_reboot(struct vm *vm, char *err, size_t errlen);

void vm_reboot_free(struct vm *vm);

#endif
