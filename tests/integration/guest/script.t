#!/usr/bin/env bash
# --script against the test guest's virtio-console driver (mode=vcon-stay): the example
# scripts pass, injections reach the guest, a wait times out with exit 1 and file:line.
source "$(dirname "$0")/../lib.sh"
plan 18

EX=$ROOT/scripts/examples
for f in handshake port1-ready-rings bad-ctl closed-port-pending wake-bytes; do
	run_vm "$TMP/$f" 60 --kernel "$TEST_GUEST" --append "mode=vcon-stay" --script "$EX/$f.vmdbg"
	is "$RC" 0 "example $f.vmdbg passes under --script" || diag "$(tail -n 20 "$TMP/$f")"
done
like "$TMP/handshake" '^no violations' "handshake.vmdbg: no violation in a correct handshake"
like "$TMP/handshake" 'guest->host PORT_READY id=2 value=1' "handshake.vmdbg: the control log is printed"
like "$TMP/port1-ready-rings" 'break-on 1: ctl guest->host PORT_READY id=1' "break-on reports the event"
like "$TMP/bad-ctl" 'tg: vcon port 1 already added' "a duplicate PORT_ADD reaches the guest's driver"
like "$TMP/bad-ctl" 'tg: vcon ctl invalid index 7 dropped' "an out-of-range PORT_OPEN reaches the guest, which drops it"

cat >"$TMP/inject.vmdbg" <<'EOS'
wait port 2 ready 30s
ctl send CONSOLE_PORT 2 1
wait ctl PORT_OPEN 2 10s
port send 2 "hello port two"
wait console 'tg: vcon port 2 rx 14 bytes "hello port two"' 10s
ctl send PORT_OPEN 1 0
wait console 'tg: vcon ctl in PORT_OPEN id=1 value=0' 10s
json get port.2.guest_open
EOS
run_vm "$TMP/inject" 60 --kernel "$TEST_GUEST" --append "mode=vcon-stay" --script "$TMP/inject.vmdbg"
is "$RC" 0 "injection script passes"
like "$TMP/inject" 'tg: vcon port 2 rx 14 bytes "hello port two"' "port send 2 is read by the guest"
like "$TMP/inject" 'tg: vcon ctl in PORT_OPEN id=1 value=0' "ctl send PORT_OPEN 1 0 is seen by the guest"
like "$TMP/inject" '^\{"return":\{"path":"port.2.guest_open","value":1\}\}' "json get prints a QMP-style object"

printf 'echo start\nwait console "this never appears" 300ms\necho unreachable\n' >"$TMP/timeout.vmdbg"
run_vm "$TMP/timeout" 60 --kernel "$TEST_GUEST" --append "mode=loop" --script "$TMP/timeout.vmdbg"
is "$RC" 1 "a wait that times out exits 1"
like "$TMP/timeout" 'timeout.vmdbg:2: wait: timed out waiting for console output matching /this never appears/' "the failure names file:line and the reason"
unlike "$TMP/timeout" '^unreachable' "nothing runs after the failure"

printf 'assert status == 99\n' >"$TMP/assert.vmdbg"
run_vm "$TMP/assert" 60 --kernel "$TEST_GUEST" --append "mode=loop" --script "$TMP/assert.vmdbg"
like "$TMP/assert" 'assert.vmdbg:1: assert failed: status == 99: status is 0' "a failed assert prints both sides (exit $RC)"
done_testing
