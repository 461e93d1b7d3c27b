/* Warm reboot: the power-on state kept as a RAM-less snapshot, applied on the guest's reset. */
#include "vm_reboot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "debug.h"
#include "log.h"
#include "vm_snap.h"

/*
 * The power-on state is written with the snapshot code (every vCPU's KVM state, the irqchip,
 * PIT and UARTs) to a file in TMPDIR that is mapped and unlinked at once: one format, one
 * set of save and restore paths, and nothing left behind.
 */
int vm_reboot_prepare(struct vm *vm, char *err, size_t errlen)
{
	const char *dir = getenv("TMPDIR");
	struct snap_writer w;
	char path[512];
	int r;

	if (vm->power_on)
		return 0;
	snprintf(path, sizeof(path), "%s/vmdbg-power-on.%d.snap", dir && *dir ? dir : "/tmp",
		 (int)getpid());
	r = snap_write_begin(&w, path);
	if (r) {
		snprintf(err, errlen, "--reboot: cannot create %s: %s", path, strerror(-r));
		return r;
	}
	r = vm_snap_save_power_on(vm, &w, err, errlen);
	if (r) {
		snap_write_abort(&w);
		return r;
	}
	r = snap_write_finish(&w);
	if (r) {
		snprintf(err, errlen, "--reboot: cannot write %s: %s", path, strerror(-r));
		return r;
	}
	vm->power_on = malloc(sizeof(*vm->power_on));
	r = vm->power_on ? snap_open(vm->power_on, path, err, errlen) : -ENOMEM;
	unlink(path);
	if (r) {
		free(vm->power_on);
		vm->power_on = NULL;
		if (r == -ENOMEM)
			snprintf(err, errlen, "out of memory");
	}
	return r;
}

void vm_reboot_request(struct vm *vm)
{
	/* One pause per request: a second reset write before the reboot changes nothing. */
	if (!__atomic_exchange_n(&vm->reboot_requested, 1, __ATOMIC_ACQ_REL))
		vm_request_pause(vm);
}

bool vm_reboot_take(struct vm *vm)
{
	return __atomic_exchange_n(&vm->reboot_requested, 0, __ATOMIC_ACQ_REL);
}

int vm_reboot(struct vm *vm, char *err, size_t errlen)
{
	int r;

	if (!vm->power_on)
		return snprintf(err, errlen, "no power-on state was kept"), -ENOENT;
	if (!vm->cfg.kernel)
		return snprintf(err, errlen, "no kernel to boot again (the snapshot's is not readable)"),
		       -ENOENT;
	r = vm_snap_restore_power_on(vm, vm->power_on, err, errlen);
	if (r)
		return r;
	r = vm_load_images(vm, err, errlen);
	if (r)
		return r;
	r = vcpu_setup_boot(&vm->vcpus[0], &vm->boot);
	if (r)
		return snprintf(err, errlen, "cannot set the boot vCPU's registers: %s", strerror(-r)),
		       r;
	/* The kernel's text was written again: put the int3 bytes of breakpoints back. */
	debug_reinsert_sw(vm);
	vm->reboots++;
	return 0;
}

void vm_reboot_free(struct vm *vm)
{
	if (!vm->power_on)
		return;
	snap_close(vm->power_on);
	free(vm->power_on);
	vm->power_on = NULL;
}
