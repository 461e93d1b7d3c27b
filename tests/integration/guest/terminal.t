#!/usr/bin/env bash
# The shared terminal's escapes and --virtio-cmdline, with the test guest; piped input to
# COM1 that outruns the guest is held, not dropped.
source "$(dirname "$0")/../lib.sh"
plan 11

# C-a h lists the keys, C-a x ends the session (exit 0) while the guest still runs.
start_vm "$TMP/keys" --kernel "$TEST_GUEST" --append "mode=loop"
wait_for "$TMP/keys" 'tg: alive' 30
printf '\001h' >&"$VM_IN_FD"
wait_for "$TMP/keys" 'C-a x +exit vmdbg' 10
ok $? "C-a h lists the keys"
printf '\001x' >&"$VM_IN_FD"
for i in $(seq 50); do kill -0 "$VM_PID" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$VM_PID" 2>/dev/null
ok $? "C-a x ends the session"
wait "$VM_PID"
is "$?" 0 "... with exit 0"
like "$TMP/keys" 'quit \(C-a x\)' "... and says why the run ended"
exec {VM_IN_FD}>&-

# --virtio-cmdline: the console's window on the kernel command line, for kernels without ACPI.
run_vm "$TMP/cmd" 30 --kernel "$TEST_GUEST" --append "mode=hello" --virtio-cmdline
is "$RC" 0 "--virtio-cmdline: the guest boots and powers off"
like "$TMP/cmd" '^tg: cmdline: mode=hello virtio_mmio.device=4K@0xd0000000:5' "the guest's command line names the window and GSI 5"

# A C-a typed twice reaches the guest as one C-a (the echo mode prints what it reads).
start_vm "$TMP/ca" --kernel "$TEST_GUEST" --append "mode=echo"
wait_for "$TMP/ca" 'tg: echo ready' 30
printf 'a\001\001b\rquit\r' >&"$VM_IN_FD"
wait_for "$TMP/ca" 'guest powered off' 30
ok $? "echo mode ends after 'quit'"
stop_vm
like "$TMP/ca" $'A\001B' "C-a C-a sends one C-a to the guest"
unlike "$TMP/ca" 'KVM cannot emulate|triple fault' "no crash"
# 20,000 bytes piped at once into the echo guest (it takes them at its own pace): all arrive
# (vmdbg read a full COM1 input as the end of stdin and dropped the rest), then `quit`.
{ head -c 20000 /dev/zero | tr '\0' x; printf '\rquit\r'; } >"$TMP/big.in"
timeout -k 5 60 "$VMDBG" --kernel "$TEST_GUEST" --port 0:null --append "mode=echo" <"$TMP/big.in" \
	>"$TMP/big" 2>&1
is "$?" 0 "piped input: the guest reads every byte and its 'quit' powers it off (exit 0)"
is "$(guest_text "$TMP/big" | tr -cd X | wc -c)" 20000 "... all 20000 bytes echoed, none dropped"
done_testing
