#!/usr/bin/env bash
# Soak (issue 14, item 4): SOAK_CTL_OPS (10000) random run-control operations, seeded by
# SOAK_CTL_SEED (default 14, printed; the same seed replays the same operations), against the
# test guest in mode=vcon-soak (2 vCPUs), which moves checksummed, numbered records both ways
# on console ports 0, 1 and 2. A gdb remote-protocol client (continue, Ctrl-C, stepi, Z0/Z1/Z2
# and their removal, monitor commands, detach and attach again) and vmdbg's REPL on a pipe
# (pause, resume, step, break-on, snapshot save and load, port send, ctl send, trace on/off)
# take turns, and a real gdb -batch attaches at the start, the middle and the end
# (tests/soak/control_soak.py says what is checked after each operation). A failure prints the
# seed and the last 20 operations.
source "$(dirname "$0")/../integration/lib.sh"
plan 6
DRIVER="$(dirname "$0")/control_soak.py"
SEED=${SOAK_CTL_SEED:-14}
OPS=${SOAK_CTL_OPS:-10000}
t0=$SECONDS
command -v gdb >/dev/null || skip_rest "gdb not installed (the soak runs a real gdb at three points)"

# Breakpoints this KVM cannot report are refused: the client then checks the refusal instead.
REFUSED=()
kvm_lacks sw-breakpoint && { REFUSED+=(--z0-refused); diag "Z0 checked as refused: $KVM_LACKS_WHY"; }
kvm_lacks hw-breakpoint && { REFUSED+=(--z1-refused); diag "Z1 checked as refused: $KVM_LACKS_WHY"; }
kvm_lacks watchpoint && { REFUSED+=(--z2-refused); diag "Z2 checked as refused: $KVM_LACKS_WHY"; }
# SOAK_CTL_WATCH=1 adds gdb's watch (Z2): on PVM a continue with it set can hang while vCPU 1
# halts (watch-stepping holds interrupts; an open finding, tests/soak/README.md).
[[ ${SOAK_CTL_WATCH:-0} == 1 ]] && REFUSED+=(--watch)
diag "seed $SEED, $OPS operations (SOAK_CTL_SEED=$SEED SOAK_CTL_OPS=$OPS repeats this run)"

timeout -k 5 900 python3 "$DRIVER" --vmdbg "$VMDBG" --elf "$TEST_GUEST" --tmp "$TMP" --seed "$SEED" \
	--ops "$OPS" "${REFUSED[@]}" >"$TMP/driver" 2>&1
drc=$?
kv() { sed -n "s/^result .*\\b$1=\\([^ ]*\\).*/\\1/p" "$TMP/driver"; }
is "$drc $(kv ok)" "0 1" "$OPS random operations, every answer in time and as documented (seed $SEED)" ||
	diag "$(grep -v '^counts ' "$TMP/driver" | tail -n 30)"
is "$(kv ops)" "$OPS" "every operation ran"
is "$(kv real_gdb)" 3 "a real gdb attached at the start, the middle and the end"
g2h=$(kv g2h_records)
[[ -n $g2h && ! $g2h =~ (^|,)0(,|$) ]]
ok $? "records went guest -> host on every port ($g2h), each byte checked" || diag "$(tail -n 5 "$TMP/driver")"
unlike "$TMP/repl.log" 'AddressSanitizer|runtime error|internal error|guest crashed|killed by gdb' \
	"no crash, no sanitizer report, nothing ended the VM"
unlike "$TMP/com1" 'tg: exception' "no stray exception in the guest" 2>/dev/null
counts=$(sed -n 's/^counts //p' "$TMP/driver")
echo "# soak: control $(kv ops) ops ($counts), seed $SEED, $(kv loads) loads $(kv saves) saves, records g2h $g2h h2g $(kv h2g_records), $(kv busy) busy reattaches, $((SECONDS - t0)) s"
done_testing
