#!/usr/bin/env bash
# Replaying the real driver's handshake from one snapshot (taken when a vCPU reached
# virtcons_probe, lib.sh: linux_snapshot): restored, the whole handshake completes; then
# three times from the same snapshot, rewound in the same session with `snapshot load`,
# a different host injection each time, and each time the guest's own reaction to it.
source "$(dirname "$0")/../lib.sh"
plan 15

linux_boot_snapshot || { (($? == 3)) && skip_rest "$LINUX_SNAP_WHY"; echo "Bail out! no Linux snapshot: the boot failed"; exit 1; }
cat >"$TMP/s.vmdbg" <<EOS
wait ctl PORT_OPEN 0 300s
wait port 2 ready 120s
sleep 1000
echo "MARK round-1"
handshake
ctl send PORT_ADD 5 1
wait console "out-of-bound id 5" 120s
handshake
echo "MARK reaction-1"
snapshot load $LINUX_SNAP
wait ctl PORT_OPEN 0 300s
wait port 2 ready 120s
sleep 1000
echo "MARK round-2"
handshake
ctl send CONSOLE_PORT 1 1
wait ctl PORT_OPEN 1 120s
handshake
echo "MARK reaction-2"
snapshot load $LINUX_SNAP
wait ctl PORT_OPEN 0 300s
wait port 2 ready 120s
sleep 1000
echo "MARK round-3"
handshake
ctl send PORT_ADD 1 1
wait ctl PORT_READY 1 120s
sleep 500
handshake
echo "MARK reaction-3"
ctl log
EOS
start=$SECONDS
run_vm "$TMP/out" 900 --restore "$LINUX_SNAP" --script "$TMP/s.vmdbg"
diag "three handshakes from one snapshot: $((SECONDS - start))s"
is "$RC" 0 "the session runs to its end (exit 0)"
section() { awk -v a="MARK $1" -v b="MARK $2" '$0 == a { on = 1; next } $0 == b { on = 0 } on' "$TMP/out.lf"; }
section round-1 reaction-1 >"$TMP/r1"
section round-2 reaction-2 >"$TMP/r2"
section round-3 reaction-3 >"$TMP/r3"
like "$TMP/r1" '^3 of 3 ports ready' "restored at virtcons_probe, the driver's whole handshake completes"
like "$TMP/r1" 'Request for adding port with out-of-bound id 5' "injection 1, PORT_ADD(5): the driver refuses the out-of-range id"
like "$TMP/r1" 'VIOLATION: #[0-9]+ host->guest PORT_ADD id=5' "... and handshake names the injected violation"
like "$TMP/out" "^loaded $LINUX_SNAP: " "snapshot load rewinds the running session to virtcons_probe"
like "$TMP/r2" '^3 of 3 ports ready' "rewound, the handshake completes again"
like "$TMP/r2" '^ +1 sent +ready +sent +sent +sent +yes' "injection 2, CONSOLE_PORT(1): the driver opens port 1 (PORT_OPEN(1,1))"
unlike "$TMP/r2" 'out-of-bound id 5|VIOLATION' "... and nothing of round 1's injection is seen"
like "$TMP/r3" '^3 of 3 ports ready' "rewound a second time, the handshake completes again"
like "$TMP/r3" 'repeated PORT_READY for port 1' "injection 3, a duplicate PORT_ADD(1): the driver answers PORT_READY(1,1) again"
like "$TMP/r3" '^ +1 sent +ready +- +sent +sent +no' "... and port 1 is not a console this time"
[[ $(grep -c 'guest->host DEVICE_READY' "$TMP/out.lf") -ge 3 ]]
ok $? "the control log holds three DEVICE_READY: one handshake per replay"
unlike "$TMP/out" 'Kernel panic|KVM cannot emulate|BUG:|Oops' "no panic, oops or unhandled instruction in any replay"
# The guest's clock goes on from the save, however old the file: its timestamps stay
# within the boot log's last one plus this session's length (the TSC, which a restore
# cannot move on PVM, is not its clocksource), and no RCU stall is reported.
last_boot=$(tr -d '\r' <"$LINUX_SNAP_LOG" | sed -n 's/^\[ *\([0-9]*\)\.[0-9]*\].*/\1/p' | tail -1)
last_run=$(sed -n 's/^\[ *\([0-9]*\)\.[0-9]*\].*/\1/p' "$TMP/out.lf" | sort -n | tail -1)
[[ -n $last_boot && -n $last_run ]] && ((last_run <= last_boot + (SECONDS - start) + 30))
ok $? "the restored guest's clock does not jump (last timestamp ${last_run:-?}s, boot log's ${last_boot:-?}s, snapshot $(( $(date +%s) - $(stat -c %Y "$LINUX_SNAP") ))s old)"
unlike "$TMP/out" 'rcu: INFO|detected stall' "no RCU stall in any replay"
done_testing
