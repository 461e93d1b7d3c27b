#!/usr/bin/env bash
# info cpus names each vCPU's state as a kernel developer would: an AP the guest has not
# started is wait-for-sipi (not "running" at the reset vector in real mode), a vCPU in HLT is
# halted, the vCPU that hit a REPL breakpoint is "at breakpoint N" with its last exit named
# "breakpoint" (on PVM KVM reports it as an internal error), a step over the guest's own int3
# says what happened to it, and exits= is KVM's live count (most exits never reach vmdbg).
source "$(dirname "$0")/../lib.sh"
plan 14

# mode=echo starts no AP and the BSP waits in HLT for COM1 input.
cat >"$TMP/echo.vmdbg" <<'EOF2'
wait console "tg: echo ready" 20s
sleep 300
info cpus
get cpu.1.state
get cpu.0.state
sleep 100
get cpu.0.state
sleep 100
get cpu.0.state
EOF2
run_vm "$TMP/echo" 30 --kernel "$TEST_GUEST" --cpus 2 --append "mode=echo" --script "$TMP/echo.vmdbg"
like "$TMP/echo.lf" '^  CPU #1: wait-for-sipi +\(an AP the guest has not started: no INIT yet\) exits=0' \
	"an AP before its INIT/SIPI is wait-for-sipi"
unlike "$TMP/echo.lf" 'CPU #1: .*(rip=|mode=real)' "... with no reset-vector RIP or real mode shown for it"
like "$TMP/echo.lf" '^\* CPU #0: halted +rip=0x[0-9a-f]+ tg_' "a vCPU in HLT is halted"
like "$TMP/echo.lf" '^wait-for-sipi$' "get cpu.1.state says wait-for-sipi"
# The idle vCPU wakes for its timer ticks (slowly under a nested KVM): one of three reads
# 100 ms apart finds it in HLT, and none says anything but halted or running.
like "$TMP/echo.lf" '^halted$' "get cpu.0.state says halted"
unlike "$TMP/echo.lf" '^(paused|stepped|at .*)$' "... or running, never a stop"

# mode=loop: both CPUs spin; the second does no port I/O, so only KVM sees its exits.
cat >"$TMP/loop.vmdbg" <<'EOF2'
wait console "tg: alive 1" 20s
echo MARK first
info cpus
sleep 1000
echo MARK second
info cpus
break tg_break_here
wait stop 20s
echo MARK stop
info cpus
json info cpus
sym $rip
delete 1
EOF2
run_vm "$TMP/loop" 60 --kernel "$TEST_GUEST" --cpus 2 --append "mode=loop" --script "$TMP/loop.vmdbg"
exits_of() { # exits_of MARK CPU
	sed -n "/^MARK $1\$/,/^MARK/p" "$TMP/loop.lf" | sed -n "s/^.\\{1\\} CPU #$2: .* exits=\\([0-9]*\\).*/\\1/p" | head -1
}
a0=$(exits_of first 0) b0=$(exits_of second 0) a1=$(exits_of first 1) b1=$(exits_of second 1)
[[ -n $a0 && -n $b0 && $b0 -gt $a0 ]]
ok $? "exits= of CPU 0 grows while the guest runs ($a0 -> $b0)"
[[ -n $a1 && -n $b1 && $b1 -gt $a1 ]]
ok $? "exits= of CPU 1, which makes no port I/O, grows too: KVM's count, live ($a1 -> $b1)"
like "$TMP/loop.lf" '^. CPU #[01]: running +rip=.* exits=[0-9]+ \([0-9]+ to vmdbg\) last exit: ' \
	"the exits that reached vmdbg are shown apart"
if kvm_lacks sw-breakpoint; then
	skip "at breakpoint: $KVM_LACKS_WHY"
	skip "last exit of a breakpoint: $KVM_LACKS_WHY"
else
	like "$TMP/loop.lf" '^\* CPU #0: at breakpoint 1 +rip=0x[0-9a-f]+ tg_break_here at ([^ ]*/)?tests/guest/main\.c:[0-9]+ mode=.*last exit: breakpoint$' \
		"the vCPU that hit breakpoint 1 is 'at breakpoint 1' at its source line, its last exit 'breakpoint'"
	unlike "$TMP/loop.lf" 'internal_error' "... never internal_error"
fi
if kvm_lacks sw-breakpoint; then
	skip "sym \$rip at a breakpoint: $KVM_LACKS_WHY"
else
	like "$TMP/loop.lf" '^\$rip = 0xffffffff[0-9a-f]{8} = tg_break_here \([A-Za-z], size [0-9]+\) at ([^ ]*/)?tests/guest/main\.c:[0-9]+ \(cpu 0\)$' \
		"sym \$rip: the register's value first, then the symbol it is in and its source line"
fi
if kvm_lacks sw-breakpoint; then
	skip "json info cpus at a breakpoint: $KVM_LACKS_WHY"
else
	like "$TMP/loop.lf" '"state":"at breakpoint 1".*"breakpoint":1,"last_exit":"breakpoint","exits":[0-9]+,"exits_from_kvm":true' \
		"json info cpus carries the same words and the breakpoint's number"
fi

# The guest's own int3 (softint=1: tg_int_here is a nop, then int3), stepped over.
cat >"$TMP/int3.vmdbg" <<'EOF2'
wait console "with an int3" 20s
break tg_int_here
wait stop 20s
step
step
info cpus
delete 1
EOF2
if kvm_lacks sw-breakpoint; then
	skip "stepping to the guest's int3: $KVM_LACKS_WHY"
else
	run_vm "$TMP/int3" 60 --kernel "$TEST_GUEST" --append "mode=loop softint=1" --script "$TMP/int3.vmdbg"
	# PVM cannot emulate int3: vmdbg completes it; a hardware KVM reports it as a debug exit.
	like "$TMP/int3.lf" '^\* CPU #0: stepped +rip=0x[0-9a-f]+ tg_int_here\+0x2 .*last exit: (completed int3 in userspace|the guest.s own int3, delivered to it)$' \
		"a step over the guest's int3: 'stepped', and the last exit says what became of the int3"
fi
done_testing
