#!/usr/bin/env bash
# One boot of the kernel built from Debian's linux-source-6.1 (PVH, 2 vCPUs):
# through its whole init, both vCPUs from the ACPI MADT, the right memory size,
# the ACPI tables in its log; it then idles on /idle until the test ends the run.
source "$(dirname "$0")/../lib.sh"
plan 14

KERNEL=$LINUX_KERNEL
INITRD=$LINUX_INITRD
BOOT_TIMEOUT=${LINUX_BOOT_TIMEOUT:-900}

start=$SECONDS
start_vm "$TMP/linux" --kernel "$KERNEL" --initrd "$INITRD" --cpus 2 --mem 256M \
	--serial2 file:"$TMP/com2" --append "console=ttyS1 earlyprintk=serial,ttyS0,115200,keep"
wait_for "$TMP/linux" 'Run /(init|idle) as init process' "$BOOT_TIMEOUT"
ok $? "the kernel runs its whole init and starts /init"
boot_s=$((SECONDS - start))
diag "boot to 'Run /init': ${boot_s}s (vmdbg start to the kernel's message)"
like "$TMP/linux" 'Linux version 6\.1' "the guest is Linux 6.1"
like "$TMP/linux" 'ACPI: (RSDP|XSDT) ' "the kernel lists the ACPI tables"
like "$TMP/linux" 'ACPI: FACP ' "... the FADT"
like "$TMP/linux" 'ACPI: APIC ' "... the MADT"
like "$TMP/linux" 'ACPI: DSDT ' "... the DSDT"
like "$TMP/linux" '(smp: Brought up 1 node, 2 CPUs|smpboot: Total of 2 processors activated)' "both vCPUs are brought up through the MADT"
like "$TMP/linux" 'Memory: [0-9]+K/26[0-9]{4}K available' "the kernel sees 256 MiB of RAM"
like "$TMP/linux" "adding 'rdinit=/idle'" "vmdbg says why PID 1 is /idle on PVM"

# PID 1 is a pause loop: the kernel stays up, nothing panics.
sleep 5
kill -0 "$VM_PID" 2>/dev/null
ok $? "the guest stays up on /idle"
unlike "$TMP/linux" 'Kernel panic|KVM cannot emulate' "no panic and no unhandled instruction"
like "$TMP/linux" 'ttyS1 at I/O 0x2f8 .*16550A' "the kernel finds COM2, a 16550A at 0x2f8"
like "$TMP/com2" 'Run /(init|idle) as init process' "--serial2 file: the kernel's console on ttyS1 lands in the file"
stop_vm
is "$RC" 0 "ending the run with SIGTERM exits 0"
diag "user-space checks (ready marker, a shell over ttyS0, power-off from the guest) cannot run on this KVM: guest user space cannot make system calls under PVM (see PLATFORM.md); the test guest covers the same paths"
done_testing
