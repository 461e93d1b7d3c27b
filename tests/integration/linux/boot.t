#!/usr/bin/env bash
# The kernel built from Debian's linux-source-6.1 (PVH, 2 vCPUs): booted once per machine
# to a snapshot taken when a vCPU reaches virtcons_probe (both vCPUs from the ACPI MADT, the
# right memory size, the ACPI tables in its log, COM2 found). The other Linux tests restore
# that snapshot instead of booting (see linux_snapshot in lib.sh); here a restore runs the
# rest of the boot, to init (COM2 a console), and idles until ended.
source "$(dirname "$0")/../lib.sh"
plan 17

start=$SECONDS
linux_boot_snapshot
rc=$?
# Every check here reads that boot's log or restores its snapshot.
((rc == 3)) && skip_rest "$LINUX_SNAP_WHY"
ok $rc "the Linux guest boots and a snapshot is taken at virtcons_probe"
if ((LINUX_SNAP_FRESH)); then
	diag "boot to the snapshot: $((SECONDS - start))s"
else
	diag "the boot's snapshot and log are cached ($LINUX_SNAP): this run checks that boot's log"
fi
LOG=$LINUX_SNAP_LOG
like "$LOG" 'Linux version 6\.1' "the guest is Linux 6.1"
like "$LOG" 'ACPI: (RSDP|XSDT) ' "the kernel lists the ACPI tables"
like "$LOG" 'ACPI: FACP ' "... the FADT"
like "$LOG" 'ACPI: APIC ' "... the MADT"
like "$LOG" 'ACPI: DSDT ' "... the DSDT"
like "$LOG" '(smp: Brought up 1 node, 2 CPUs|smpboot: Total of 2 processors activated)' "both vCPUs are brought up through the MADT"
like "$LOG" 'Memory: [0-9]+K/26[0-9]{4}K available' "the kernel sees 256 MiB of RAM"
if kvm_lacks guest-syscall; then
	like "$LOG" "adding 'rdinit=/idle'.*cannot make system calls on this KVM \\(probed: " \
		"vmdbg says why PID 1 is /idle: the probe found no guest system calls"
else
	unlike "$LOG" "adding 'rdinit=/idle'" "guest user space makes system calls here: vmdbg leaves PID 1 to the initramfs"
fi
like "$LOG" 'ttyS1 at I/O 0x2f8 .*16550A' "the kernel finds COM2, a 16550A at 0x2f8"
like "$LINUX_SNAP_COM2" 'ttyS1 at I/O 0x2f8' "--serial2 file: the kernel's console on ttyS1 lands in the file"
like "$LOG" "snapshot saved to .* at vCPU [01] reaching virtcons_probe" "the snapshot was taken at virtcons_probe"
unlike "$LOG" 'Kernel panic|KVM cannot emulate' "no panic and no unhandled instruction"

# Restored at virtcons_probe, the kernel finishes its init; PID 1 is a pause loop.
start=$SECONDS
start_vm "$TMP/linux" --restore "$LINUX_SNAP" --serial2 file:"$TMP/com2"
wait_for "$TMP/linux" 'Run /(init|idle) as init process' 300
ok $? "restored at virtcons_probe, the kernel runs its whole init and starts /init ($((SECONDS - start))s)"
like "$TMP/com2" 'Run /(init|idle) as init process' "--serial2 file given to the restore: the console on ttyS1 goes on in it"
sleep 5
kill -0 "$VM_PID" 2>/dev/null
ok $? "the guest stays up on /idle"
stop_vm
is "$RC" 0 "ending the run with SIGTERM exits 0"
diag "user-space checks (ready marker, a shell over ttyS0, power-off from the guest) cannot run on this KVM: guest user space cannot make system calls under PVM (see PLATFORM.md); the test guest covers the same paths"
done_testing
