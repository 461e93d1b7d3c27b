#!/usr/bin/env bash
# The user-space half of the Linux boot: the initramfs's ready marker, a shell
# round trip over ttyS0 and a power-off from the guest. Guest user space cannot
# make system calls on PVM (see PLATFORM.md), so there this test says so and
# skips; the test guest covers the same host paths (UART input with interrupts,
# ACPI power-off) in tests/integration/guest/boot.t.
source "$(dirname "$0")/../lib.sh"
plan 4

if [[ -d /sys/module/kvm_pvm ]]; then
	for what in "ready marker" "shell round trip over ttyS0" "power-off from the guest" "exit 0 after the guest's power-off"; do
		skip "$what: this KVM is PVM (/sys/module/kvm_pvm), where guest user space cannot make system calls"
	done
	done_testing
fi

start_vm "$TMP/linux" --kernel "$LINUX_KERNEL" --initrd "$LINUX_INITRD" --cpus 2 --append "console=ttyS0 vmdbg.run=shell"
wait_for "$TMP/linux" 'vmdbg-guest: ready uptime=' 600
ok $? "the initramfs's /init runs and prints the ready marker"
sleep 1
printf 'echo round-$((40+2))-trip\r' >&"$VM_IN_FD"
wait_for "$TMP/linux" 'round-42-trip' 60
ok $? "a shell command typed on the host runs in the guest and its output comes back"
printf 'poweroff -f\r' >&"$VM_IN_FD"
wait_for "$TMP/linux" 'guest powered off' 120
ok $? "poweroff in the guest reaches ACPI S5"
wait "$VM_PID"
is "$?" 0 "vmdbg exits 0 after the guest's power-off"
done_testing
