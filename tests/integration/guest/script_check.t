#!/usr/bin/env bash
# Scripts are checked whole before the guest starts: a mistake on any line (unknown
# command, argument count, number, duration, event or status name, regex, queue, port,
# vCPU, register, symbol) exits 2 with FILE:LINE before the guest runs an instruction;
# `--check-script FILE` does only that, without KVM or a kernel. The example scripts and
# any script kept under tests/ pass it, so they cannot rot.
source "$(dirname "$0")/../lib.sh"

scripts=("$ROOT"/scripts/examples/*.vmdbg)
mapfile -t -O ${#scripts[@]} scripts < <(find "$ROOT/tests" -name '*.vmdbg' | sort)
plan $((${#scripts[@]} + 22))

for f in "${scripts[@]}"; do
	"$VMDBG" --check-script "$f" --kernel "$TEST_GUEST" >"$TMP/out" 2>&1
	is "$?" 0 "--check-script ${f#"$ROOT"/} passes" || diag "$(cat "$TMP/out")"
done

# --check-script: no KVM work, no kernel needed.
printf 'echo fine\nwait ctl PORT_OPEN 1 10s\nassert port.1.guest_open == 1\n' >"$TMP/good.vmdbg"
"$VMDBG" --check-script "$TMP/good.vmdbg" >"$TMP/good" 2>&1
is "$?" 0 "--check-script of a good script exits 0 without --kernel"
like "$TMP/good" 'good.vmdbg: 3 command\(s\), no mistakes found' "... and says what it checked"

# (Line 1 would let the guest run a while if lines were only checked when reached.)
printf 'wait console "tg: loop running" 20s\necho start\nasert status == 1\n' >"$TMP/typo.vmdbg"
"$VMDBG" --check-script "$TMP/typo.vmdbg" >"$TMP/typo" 2>&1
is "$?" 2 "--check-script of a script with a typo exits 2"
like "$TMP/typo" "^$TMP/typo.vmdbg:3: unknown command 'asert' \(try \`help\`\)$" "... naming FILE:LINE first and the mistake"

"$VMDBG" --check-script "$TMP/nonexistent.vmdbg" >"$TMP/missing" 2>&1
is "$?" 2 "--check-script of a missing file exits 2"
like "$TMP/missing" 'nonexistent.vmdbg: No such file or directory' "... naming the file"

# --script: the same check, before the guest runs (the test guest prints "tg:" first thing).
run_vm "$TMP/run" 60 --kernel "$TEST_GUEST" --append "mode=loop" --script "$TMP/typo.vmdbg"
is "$RC" 2 "--script with a typo on line 3 exits 2 (not 1, a failed assert's)"
like "$TMP/run" "typo.vmdbg:3: unknown command 'asert'" "... with FILE:LINE"
unlike "$TMP/run.lf" '^tg: ' "... before the guest ran an instruction (no line from it)"
unlike "$TMP/run.lf" '^start$' "... and before the script's first line ran"

# Each kind of mistake, at its line.
mistake() { # LINE-TEXT WANT-REGEX NAME [VMDBG-ARGS...]
	local text=$1 want=$2 name=$3; shift 3
	printf 'echo one\n%s\n' "$text" >"$TMP/m.vmdbg"
	"$VMDBG" --check-script "$TMP/m.vmdbg" "$@" >"$TMP/m" 2>&1
	local rc=$?
	grep -Eq -- "^$TMP/m.vmdbg:2: $want" "$TMP/m" && [[ $rc -eq 2 ]]
	ok $? "$name" || diag "exit $rc: $(cat "$TMP/m")"
}
mistake 'wait console "ready" 30q' "wait console: timeout '30q' has an unknown unit" "a bad timeout"
mistake 'wait ctl PORT_OPN 1' "wait ctl: unknown control event 'PORT_OPN'" "an unknown control event"
mistake 'break-on status DRIVR_OK' "break-on: unknown status bit 'DRIVR_OK'" "an unknown status bit"
mistake 'wait console "tg: (vcon" 5s' "wait console: bad regex" "a bad regex"
mistake 'vq dump 8' "vq dump: queue 8 does not exist \(device has 8\)" "a queue the device does not have"
mistake 'regs 2' "regs: vCPU 2 does not exist \(the VM has 2\)" "a vCPU past --cpus" --cpus 2
mistake 'assert port.1.guest_open == yes' "assert: port.1.guest_open is a number, 'yes' is not" "a text value for a number"
mistake 'hbreak tg_break_her' "hbreak: no symbol 'tg_break_her'" "a symbol the kernel does not have (--kernel)" --kernel "$TEST_GUEST"
mistake 'port send 1' "port send: missing arguments" "a missing argument"
mistake 'source nonexistent.vmdbg' "source: nonexistent.vmdbg: No such file" "a sourced file that does not exist"
mistake 'json' "json: which command" "a json prefix without a command"

# A script that can be read only once (a pipe) is checked and then run from what the check read.
printf 'echo piped-one\necho piped-two\nquit\n' |
	"$VMDBG" --kernel "$TEST_GUEST" --append mode=loop --script /dev/stdin >"$TMP/pipe" 2>&1
grep -q '^piped-one' "$TMP/pipe" && grep -q '^piped-two' "$TMP/pipe"
ok $? "--script /dev/stdin from a pipe is checked, then run whole" || diag "$(tail -5 "$TMP/pipe")"
done_testing
