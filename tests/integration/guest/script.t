#!/usr/bin/env bash
# --script against the test guest's virtio-console driver (mode=vcon-stay): the example
# scripts pass, injections reach the guest, a wait times out with exit 1 and file:line.
source "$(dirname "$0")/../lib.sh"
plan 26

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

# x/Ni disassembles: the bytes of each instruction as objdump reads them from the ELF; with no
# address it starts at the vCPU's pc (marked =>), and goes on after the last listing while the
# vCPU has not run since.
objdump_insns() { # ADDR N: "addr bytes" of N instructions from ADDR, as objdump decodes the ELF
	objdump -d --insn-width=15 --start-address="0x$1" --stop-address=$((0x$1 + 16 * $2)) "$TEST_GUEST" |
		awk -F'\t' '/^ *[0-9a-f]+:\t/ && NF >= 3 { a = $1; sub(/^ */, "", a); sub(/:$/, "", a); b = $2; sub(/ +$/, "", b); print a, b }' |
		head -n "$2"
}
x_insns() { # SECTION: "addr bytes" of each x/i line after `echo MARK SECTION`
	awk -v m="MARK $1" '$0 == m { on = 1; next } /^MARK / { on = 0 } on' "$TMP/x.lf" |
		sed -n 's/^\(=>\|  \) 0x\([0-9a-f]*\)[^:]*:\t\([0-9a-f ]*\)\t.*/\2 \3/p'
}
section() { awk -v m="MARK $1" '$0 == m { on = 1; next } /^MARK / { on = 0 } on' "$TMP/x.lf"; }
bp=$(nm "$TEST_GUEST" | awk '$3 == "tg_break_here" { print $1 }')
call=$(objdump -d "$TEST_GUEST" | awk '/call.*<tg_break_here>$/ { a = $1; sub(/:$/, "", a); print a; exit }')
cat >"$TMP/x.vmdbg" <<EOS
wait console "tg: alive 1" 20s
pause
get cpu.0.rip
echo MARK pc
x/3i
echo MARK on
x/2i
echo MARK repause
pause
x/1i
resume
sleep 200
pause
get cpu.0.rip
echo MARK again
x/2i
echo MARK bp
x/4i tg_break_here
echo MARK call
json x/1i 0x$call
echo MARK end
EOS
run_vm "$TMP/x" 60 --kernel "$TEST_GUEST" --append "mode=loop" --script "$TMP/x.vmdbg"
is "$RC" 0 "the x/i script passes" || diag "$(tail -n 20 "$TMP/x")"
is "$(x_insns bp)" "$(objdump_insns "$bp" 4)" "x/4i tg_break_here: each instruction's address and bytes as objdump decodes them"
like "$TMP/x.lf" "^(=>|  ) 0x$bp <tg_break_here>:"$'\t'"c3"$'\t'"retq\$" "x/i names the symbol and prints bytes and instruction, gdb's x/i with /r"
rip=$(sed -n 's/^[0-9]* (0x\([0-9a-f]*\))$/\1/p' "$TMP/x.lf" | head -n 1)
rip2=$(sed -n 's/^[0-9]* (0x\([0-9a-f]*\))$/\1/p' "$TMP/x.lf" | sed -n 2p)
first=$(section pc | head -n 1)
[[ -n $rip && $(section pc | grep -c .) -eq 3 && $first == "=> 0x$(printf %016x $((16#$rip)))"* ]]
ok $? "x/3i with no address after a pause: 3 instructions from the pc, marked =>" || diag "rip $rip, first line: $first"
# The listing goes on where the last ended: the third line's address plus its length.
last=$(x_insns pc | tail -n 1)
want=$(printf %016x $((16#${last%% *} + $(wc -w <<<"${last#* }"))))
[[ -n $last && $(x_insns on | head -n 1) == "$want "* && $(section on | grep -c '^=>') -eq 0 ]]
ok $? "x/2i again, nothing run since: on after the last listing (0x$want), no =>" || diag "$(section on)"
[[ $(section repause | grep -c "^=> 0x$(printf %016x $((16#$rip)))") -eq 1 ]]
ok $? "a pause, even with nothing run: x/1i starts at the pc again" || diag "$(section repause)"
first=$(section again | head -n 1)
[[ -n $rip2 && $first == "=> 0x$(printf %016x $((16#$rip2)))"* ]]
ok $? "after resume and pause, x/2i starts at the new pc again" || diag "rip $rip2, first line: $first"
json=$(section call)
callbytes=$(objdump_insns "$call" 1)
[[ $json == *'"bytes":"'"${callbytes#* }"'"'* && $json == *'"target_symbol":"tg_break_here"'* &&
	$json == *'"symbol":"tg_loop+0x'* && $json == *"\"target\":$(printf %u $((16#$bp)))"* ]]
ok $? "json x/1i of tg_loop's call: bytes, symbol, target and its symbol" || diag "$json"

printf 'assert status == 99\n' >"$TMP/assert.vmdbg"
run_vm "$TMP/assert" 60 --kernel "$TEST_GUEST" --append "mode=loop" --script "$TMP/assert.vmdbg"
like "$TMP/assert" 'assert.vmdbg:1: assert failed: status == 99: status is 0' "a failed assert prints both sides (exit $RC)"
done_testing
