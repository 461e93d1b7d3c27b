#!/usr/bin/env bash
# Quiet stops (issue 14): the Linux guest held at a breakpoint, at a device-event break-on and
# at a pause, each for a minute or more, then resumed, runs on to init and beyond without an
# RCU-stall or soft-lockup warning (vmdbg tells KVM of each stop, KVMCLOCK_CTRL on every vCPU, and
# Linux's watchdogs then know the host stopped it). A driver maintainer would read such a
# warning, naming the driver's function, as a bug in the driver. Restored from the boot's
# snapshot at virtcons_probe. Each hold is 60 s in make check, three times the longest
# threshold of the warnings a held guest would print (RCU stall 21 s, soft lockup 20 s): 120 s
# holds made the test take 8.6 minutes of the tier. LINUX_QUIET_HOLD_MS=120000 holds 120 s.
source "$(dirname "$0")/../lib.sh"
plan 7

KERNEL=$GUEST_DIR/vmlinux
HOLD=${LINUX_QUIET_HOLD_MS:-60000}
T=${LINUX_BOOT_TIMEOUT:-900}
HCM=$(nm "$KERNEL" | awk '$3 == "handle_control_message" || index($3, "handle_control_message.") == 1 { print $3; exit }')
linux_boot_snapshot || { (($? == 3)) && skip_rest "$LINUX_SNAP_WHY"; echo "Bail out! no Linux snapshot: the boot failed"; exit 1; }
kvm_lacks hw-breakpoint && skip_rest "a hardware breakpoint in the driver: $KVM_LACKS_WHY"
cat >"$TMP/s.vmdbg" <<EOS
hbreak $HCM
wait stop ${T}s
echo MARK held at a breakpoint
sleep $HOLD
delete 1
resume
break-on ctl PORT_READY 1
wait stop ${T}s
echo MARK held at a break-on
sleep $HOLD
break-on delete all
resume
wait console "Run /(init|idle) as init process" ${T}s
pause
echo MARK held at a pause
sleep $HOLD
resume
sleep 30000
echo MARK ran 30 s after the last hold
EOS
start=$SECONDS
run_vm "$TMP/out" $((3 * HOLD / 1000 + 2 * T)) --restore "$LINUX_SNAP" --script "$TMP/s.vmdbg"
diag "three holds of $((HOLD / 1000)) s and the runs between them: $((SECONDS - start))s"
is "$RC" 0 "the session runs to its end (exit 0)"
like "$TMP/out" 'MARK held at a breakpoint' "held $((HOLD / 1000)) s at a breakpoint in $HCM"
like "$TMP/out" 'MARK held at a break-on' "... at break-on ctl PORT_READY 1"
like "$TMP/out" 'MARK held at a pause' "... at a pause after init started"
like "$TMP/out" 'MARK ran 30 s after the last hold' "the guest ran on 30 s after the last one"
unlike "$TMP/out" 'rcu: INFO|self-detected stall|detected stalls|rcu_.*stall' "no RCU-stall warning"
unlike "$TMP/out" 'soft lockup|BUG: workqueue lockup|hung_task|blocked for more than' "no soft-lockup, workqueue-lockup or hung-task warning"
done_testing
