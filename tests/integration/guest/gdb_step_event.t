#!/usr/bin/env bash
# A single step that delivers an event must not leave TF in the event's frame. Stepping sets
# RFLAGS.TF, so the frame of an interrupt or exception the step delivers saves TF; on PVM the
# step ends inside the handler, and once the debugger stops stepping the handler's IRET
# restores TF: the guest takes a #DB it never asked for (the test guest prints "tg: exception
# 1" and halts that CPU). The test guest's tg_int_here (mode=loop softint=1, once per tick on
# the BSP) is a nop then the guest's own int3 (PVM cannot emulate INT n; vmdbg completes the
# int3 and injects #BP, whose handler returns): gdb and the REPL stepi through it, then let
# the guest run on. A step over the completed int3 must also end (KVM_SET_REGS drops the
# step's TF: without care the vCPU ran on unstepped and gdb waited forever).
source "$(dirname "$0")/../lib.sh"
plan 11

ELF=$TEST_GUEST
PORT=$((20000 + RANDOM % 20000))
soft() { # soft OUT: the value gdb printed for tg_soft_ints, last one
	sed -n 's/^soft_ints=\([0-9]*\)$/\1/p' "$1" | tail -n 1
}

# The stops at tg_int_here need a breakpoint KVM reports: an int3, else a debug register
# (kvm_lacks: the probe's finding). Without either, the checks that need them are skipped.
BREAK=break NO_BREAK=
if kvm_lacks sw-breakpoint; then
	NO_BREAK=$KVM_LACKS_WHY BREAK=hbreak
	kvm_lacks hw-breakpoint && NO_BREAK+="; $KVM_LACKS_WHY" BREAK=
fi

# Where a step over the guest's own int3 ends depends on who delivers its #BP. Where KVM
# reports the int3 (PVM: as an emulation failure) vmdbg completes it and injects #BP: the step
# ends at the ret after it, #BP pending. Where the guest takes #BP itself (the probe's "no"),
# the CPU clears TF for the handler and its IRET restores it: the step ends after the ret, at
# tg_loop's return site of the call.
INT_AT=$(nm "$ELF" | awk '$3 == "tg_int_here" { print $1 }' | sed 's/^0*//')
RET_AT=$(objdump -d --no-show-raw-insn "$ELF" | awk '/call.*<tg_int_here>/ { getline; sub(":", "", $1); print $1; exit }')
if kvm_lacks sw-breakpoint; then
	AFTER_INT3=$RET_AT AFTER_SYM="tg_loop+0x$(printf %x $((16#$RET_AT - 16#$(nm "$ELF" | awk '$3 == "tg_loop" { print $1 }'))))"
	OVER_INT3="after the #BP handler and the ret, in tg_loop (the guest took #BP itself)"
else
	AFTER_INT3=$(printf %x $((16#$INT_AT + 2))) AFTER_SYM=tg_int_here+0x2
	OVER_INT3="at the ret (#BP pending)"
fi
start_vm "$TMP/vm" --kernel "$ELF" --cpus 2 --append "mode=loop softint=1" --gdb "tcp:127.0.0.1:$PORT"
wait_for --guest "$TMP/vm" 'tg: loop running with an int3 each tick' 60
ok $? "the test guest runs tg_loop with its own int3 each tick"

# Five times: run to tg_int_here, stepi to the int3, over it, into #BP; run on (breakpoint kept).
if [[ -z $BREAK ]]; then
	skip "gdb: five rounds of continue to a breakpoint at tg_int_here: $NO_BREAK"
	skip "each round's steps through the int3: $NO_BREAK"
	skip "the guest runs on after those rounds: $NO_BREAK"
else
timeout -k 5 120 gdb -batch -nx -ex 'set pagination off' -ex "target remote 127.0.0.1:$PORT" \
	-ex "$BREAK *tg_int_here" -ex 'python
import gdb
for i in range(5):
    gdb.execute("continue", to_string=True)
    pcs = [int(gdb.parse_and_eval("$pc"))]
    for k in range(3):
        gdb.execute("stepi", to_string=True)
        pcs.append(int(gdb.parse_and_eval("$pc")))
    f = gdb.selected_frame()
    print("round %d: %s then %s" % (i, " ".join("%#x" % p for p in pcs), f.name() or "?"))
print("soft_ints=%d" % int(gdb.parse_and_eval("tg_soft_ints")))
' -ex 'delete' -ex 'detach' "$ELF" >"$TMP/gdb" 2>&1
[[ $(grep -c '^round [0-4]: ' "$TMP/gdb") -eq 5 ]]
ok $? "gdb: five rounds of continue to tg_int_here, then stepi x3, each step ending" ||
	diag "$(tail -n 20 "$TMP/gdb")"
printf -v want '^round [0-4]: 0x%x 0x%x 0x%x ' $((16#$INT_AT)) $((16#$INT_AT + 1)) $((16#$AFTER_INT3))
[[ $(grep -cE "$want" "$TMP/gdb") -eq 5 ]]
ok $? "each round: the nop, then the int3, then a step over the int3 ends $OVER_INT3" ||
	diag "$(grep '^round' "$TMP/gdb")"
s1=$(soft "$TMP/gdb")
a1=$(tg_alive)
wait_for "$TMP/vm" "tg: alive $((a1 + 2))\\b" 30
ok $? "after gdb detaches the guest runs on (tg: alive $a1 -> $((a1 + 2)))"
fi

PRE=$(grep -ac 'tg: exception' "$TMP/vm")
is "$PRE" 0 "no stray #DB in the guest after the gdb steps (no 'tg: exception')" ||
	diag "$(grep -a -A1 'tg: exception' "$TMP/vm" | head -n 4)"
timeout -k 5 60 gdb -batch -nx -ex 'set pagination off' -ex "target remote 127.0.0.1:$PORT" \
	-ex 'python print("soft_ints=%d" % int(gdb.parse_and_eval("tg_soft_ints")))' -ex 'detach' \
	"$ELF" >"$TMP/gdb2" 2>&1
s2=$(soft "$TMP/gdb2")
if [[ -z $BREAK ]]; then skip "tg_soft_ints after the rounds' steps: $NO_BREAK"; else
	[[ -n $s1 && -n $s2 ]] && ((s2 > s1))
	ok $? "the #BP handler keeps returning: tg_soft_ints $s1 -> $s2"
fi
stop_vm

# The REPL's step takes the same path: break, step to the int3, over it, into #BP, resume.
cat >"$TMP/s.vmdbg" <<SCRIPT
${BREAK:-break} tg_int_here
wait stop 20s
delete 1
step
step
get cpu.0.rip
step
resume
wait console "tg: alive 4" 30s
echo MARK resumed
SCRIPT
run_vm "$TMP/out" 90 --kernel "$ELF" --cpus 2 --append "mode=loop softint=1" --script "$TMP/s.vmdbg"
if [[ -z $BREAK ]]; then
	for what in "the script runs to its end" "break, step x3, resume" "a step over the guest's int3"; do
		skip "REPL: $what: $NO_BREAK"
	done
else
is "$RC" 0 "REPL: the script runs to its end (exit 0)"
like "$TMP/out.lf" '^MARK resumed$' "REPL: $BREAK, step x3 through the int3, resume: the guest runs on to tg: alive 4"
like "$TMP/out.lf" "^cpu 0: 0x0*$AFTER_INT3 ${AFTER_SYM/+/\\+}\$" "REPL: a step over the guest's int3 ends $OVER_INT3"
fi
unlike "$TMP/out.lf" 'tg: exception' "REPL: no stray #DB in the guest"
cat "$TMP/vm" "$TMP/out" >"$TMP/both"
unlike "$TMP/both" 'AddressSanitizer|runtime error|internal error|guest crashed' "no crash, no sanitizer report (gdb and REPL runs)"
done_testing
