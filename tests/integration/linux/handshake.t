#!/usr/bin/env bash
# One scripted session against the real Linux driver (kernel built from source), restored
# from the boot's snapshot at virtcons_probe (lib.sh: linux_snapshot): break-on PORT_READY(1) stops every vCPU with the message in q3's used ring;
# after resuming, `handshake` shows every port ready and no violation; CONSOLE_PORT 1 is
# answered by PORT_OPEN(1,1); a duplicate PORT_ADD by a new PORT_READY(1,1); wake and
# port 0 bytes show up in the vq and port dumps.
source "$(dirname "$0")/../lib.sh"
plan 12

KERNEL=$GUEST_DIR/vmlinux
INITRD=$LINUX_INITRD
T=${LINUX_BOOT_TIMEOUT:-900}
cat >"$TMP/s.vmdbg" <<EOS
symbols load $KERNEL
break-on ctl PORT_READY 1
wait stop ${T}s
echo "MARK stopped-at-port-ready-1"
assert paused == 1
info cpus
bt
vq dump 3 used
break-on delete all
resume
wait port 2 ready 5m
wait port 0 open 5m
sleep 2000
echo "MARK handshake"
handshake
ctl send CONSOLE_PORT 1 1
wait ctl PORT_OPEN 1 2m
echo "MARK console-port-answered"
ctl send PORT_ADD 1 1
wait ctl PORT_READY 1 2m
echo "MARK duplicate-port-add-answered"
wake dump
port send 0 "\x0fh"
sleep 3000
echo "MARK dumps"
vq dump 0 used
port list
ctl log
EOS
linux_boot_snapshot || { (($? == 3)) && skip_rest "$LINUX_SNAP_WHY"; echo "Bail out! no Linux snapshot: the boot failed"; exit 1; }
start=$SECONDS
run_vm "$TMP/out" $((T + 600)) --restore "$LINUX_SNAP" --script "$TMP/s.vmdbg"
cp "$TMP/out" "${LINUX_HANDSHAKE_LOG:-/dev/null}" 2>/dev/null
diag "scripted Linux session from the restore: $((SECONDS - start))s"
is "$RC" 0 "the scripted session against the Linux driver passes (exit 0)"
like "$TMP/out" 'MARK stopped-at-port-ready-1' "break-on ctl PORT_READY 1 stops the VM"
like "$TMP/out" 'break-on 1: ctl guest->host PORT_READY id=1 value=1' "the stop names the event"
like "$TMP/out" 'paused .*(handle_control|virtio|vring|mmio|notify|iowrite|add_port|send_control)' "info cpus at the stop shows the guest in the driver's path"
like "$TMP/out" 'used ring: flags 0x[0-9a-f]+ idx [1-9]' "vq dump 3 shows the guest's messages in the used ring"
like "$TMP/out" '^3 of 3 ports ready' "handshake: every port ready"
like "$TMP/out" '^no violations' "handshake: no violation"
like "$TMP/out" 'MARK console-port-answered' "CONSOLE_PORT 1 is answered by PORT_OPEN(1,1)"
like "$TMP/out" 'guest->host PORT_OPEN id=1 value=1' "the control log has the guest's PORT_OPEN(1,1)"
like "$TMP/out" 'MARK duplicate-port-add-answered' "a duplicate PORT_ADD(1) is answered by PORT_READY(1,1)"
like "$TMP/out" 'wake byte 0xd1 \(dump\) queued' "wake queues its byte"
like "$TMP/out" '^ +0 ktstr-console .* [1-9][0-9]* stdio$' "port 0 counts received bytes"
done_testing
