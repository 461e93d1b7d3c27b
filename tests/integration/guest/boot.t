#!/usr/bin/env bash
# The machine with the test guest: vCPUs, interrupts, ACPI power-off, crashes.
source "$(dirname "$0")/../lib.sh"
plan 21

run_vm "$TMP/one" 60 --kernel "$TEST_GUEST" --cpus 1 --append "mode=hello ticks=20"
is "$RC" 0 "1 vCPU: ACPI power-off ends the run with exit 0"
like "$TMP/one" '^tg: hello from the test guest' "1 vCPU: the guest prints on COM1"
like "$TMP/one" 'tg: acpi table FACP ok' "1 vCPU: the guest finds the FADT through the RSDP"
like "$TMP/one" 'tg: acpi table APIC ok' "1 vCPU: the guest finds the MADT"
like "$TMP/one" 'tg: cpus up=1 of 1' "1 vCPU: the MADT lists one CPU"
like "$TMP/one" 'tg: cpu 0 ticks=[0-9]+' "1 vCPU: timer interrupts arrive"
like "$TMP/one" 'guest powered off' "1 vCPU: vmdbg says why the run ended"

run_vm "$TMP/four" 60 --kernel "$TEST_GUEST" --cpus 4 --append "mode=hello ticks=20"
is "$RC" 0 "4 vCPUs: exit 0"
like "$TMP/four" 'tg: cpus up=4 of 4' "4 vCPUs: every AP comes up through INIT/SIPI"
for c in 0 1 2 3; do
	like "$TMP/four" "tg: cpu $c ticks=[1-9][0-9]*" "4 vCPUs: cpu $c takes timer interrupts"
done

run_vm "$TMP/triple" 60 --kernel "$TEST_GUEST" --append "mode=triple"
is "$RC" 3 "a triple fault exits 3"
like "$TMP/triple" 'triple fault' "the triple fault is named"
like "$TMP/triple" 'RIP=[0-9a-f]{16}' "the registers are printed"
like "$TMP/triple" 'CR3=' "control registers are printed"

run_vm "$TMP/panic" 60 --kernel "$TEST_GUEST" --append "mode=panic"
is "$RC" 3 "a guest 'Kernel panic' exits 3"
like "$TMP/panic" 'kernel panicked' "the panic is reported"

# Serial input: typed bytes reach the guest through the UART, with interrupts.
start_vm "$TMP/echo" --kernel "$TEST_GUEST" --append "mode=echo"
wait_for "$TMP/echo" 'tg: echo ready' 30
printf 'hello serial\rquit\r' >&"$VM_IN_FD"
wait_for "$TMP/echo" 'guest powered off' 30
ok $? "echo mode ends with power-off after 'quit'"
like "$TMP/echo" 'HELLO SERIAL' "host input reaches the guest and its answer comes back"
done_testing
