#!/usr/bin/env bash
# The real Linux driver on vmdbg's console, kernel side only (PLATFORM.md): the kernel built
# from source with console=hvc0 (booted once per machine to a snapshot at virtcons_probe,
# lib.sh: linux_snapshot), restored with port 0 on a unix socket. The handshake
# makes hvc0; kernel messages printed after that leave through port 0's transmit queue
# (a host-injected PORT_ADD with an out-of-range id makes the driver warn), host bytes on
# port 0 reach the driver's receive queue, and CONSOLE_PORT for port 1 is answered.
source "$(dirname "$0")/../lib.sh"
plan 12

SOCK=$TMP/port0.sock
P0=$TMP/port0.out
# The host end of port 0: read everything into $P0; send $TMP/send's bytes once it appears.
cat >"$TMP/client.py" <<'PY'
import os, select, socket, sys, time
sock, out, trigger = sys.argv[1:4]
deadline = time.time() + 1200
while True:
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(sock); break
    except OSError:
        if time.time() > deadline: sys.exit(1)
        time.sleep(0.05)
sent = False
with open(out, "wb", buffering=0) as f:
    while time.time() < deadline:
        r, _, _ = select.select([s], [], [], 0.1)
        if r:
            data = s.recv(65536)
            if not data: break
            f.write(data)
        if not sent and os.path.exists(trigger):
            s.sendall(open(trigger, "rb").read()); sent = True
PY
cat >"$TMP/session.vmdbg" <<'EOF2'
# The console port is open once the driver has made hvc0 and answered PORT_OPEN(0, 1).
wait ctl PORT_OPEN 0 900s
handshake
assert port.0.guest_open == 1
# Out of range: the driver refuses it with a dev_warn, printed on every console.
ctl send PORT_ADD 5 1
wait console "out-of-bound id 5" 120s
# Port 1 becomes a console too: the driver allocates an hvc for it and opens it.
ctl send CONSOLE_PORT 1 1
wait ctl PORT_OPEN 1 120s
assert port.1.guest_open == 1
ctl log
echo console-script-done
resume
EOF2

linux_snapshot console --cpus 1 --append "console=ttyS0 console=hvc0 rdinit=/idle" ||
	{ echo "Bail out! no Linux snapshot: the boot failed"; exit 1; }
start=$SECONDS
start_vm "$TMP/linux" --restore "$LINUX_SNAP" --port 0:unix:"$SOCK" --script "$TMP/session.vmdbg"
python3 "$TMP/client.py" "$SOCK" "$P0" "$TMP/send" &
_tap_pids+=($!)
wait_for "$TMP/linux" 'printk: console \[hvc0\] enabled' "${LINUX_BOOT_TIMEOUT:-900}"
ok $? "the driver's handshake makes hvc0 and the kernel registers it as a console"
diag "hvc0 registered after $((SECONDS - start))s"
wait_for "$TMP/linux" 'console-script-done' 300
ok $? "the scripted session runs to its end"
like "$TMP/linux" '3 of 3 ports ready' "handshake: every port readied"
like "$TMP/linux" 'no violations' "handshake: no violation seen"
wait_for "$P0" 'out-of-bound id 5' 60
ok $? "a kernel message printed after hvc0 came up leaves through port 0's transmit queue"
like "$TMP/linux" 'Request for adding port with out-of-bound id 5' "... the driver refused the out-of-range PORT_ADD (seen on ttyS0 too)"
like "$TMP/linux" 'host->guest CONSOLE_PORT id=1 value=1' "the host's CONSOLE_PORT(1,1) reaches the driver"
like "$TMP/linux" 'guest->host PORT_OPEN id=1 value=1' "... which answers PORT_OPEN(1,1)"
# Linux 6.1 registers hvc0 (hvc_alloc -> register_console) before it puts the port on its
# console list, so the replay of the log buffer meets put_chars() with no port (-EPIPE) and
# is dropped: the port-0 stream starts after the replay.
if grep -q 'Linux version' "$P0"; then diag "port 0 carried the log buffer's replay"; else
	diag "port 0 did not carry the log buffer's replay: 6.1's virtio_console registers hvc0 before its port can be found"; fi

# Host -> guest on port 0: Ctrl-O h reaches the driver's receive queue. (The kernel acts
# on it as SysRq only while some process has hvc0 open, which needs user space.)
printf '\x0fh' >"$TMP/send"
sleep 3
kill -QUIT "$VM_PID"
wait_for "$TMP/linux" 'port 0 ktstr-console: .* rx 2 bytes' 30
ok $? "host bytes on port 0 are delivered into the guest's receive buffers"
if grep -q 'sysrq: HELP' "$P0"; then diag "the kernel answered Ctrl-O h with its SysRq help through hvc0"; else
	diag "no SysRq help: hvc only reads input while its tty is open, and on PVM no process can open it"; fi
unlike "$TMP/linux" 'Kernel panic|KVM cannot emulate' "no panic and no unhandled instruction"
kill -0 "$VM_PID" 2>/dev/null
ok $? "the guest is still up"
stop_vm
is "$RC" 0 "SIGTERM ends the run with exit 0"
done_testing
