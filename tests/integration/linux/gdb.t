#!/usr/bin/env bash
# The gdb stub against the Linux guest built from source (vmlinux symbols, no DWARF), restored
# from the boot's snapshot at virtcons_probe (lib.sh: linux_snapshot), in one gdb batch
# session: hardware and software breakpoints on the virtio-console driver's functions hit
# during its handshake on a real thread, `bt` unwinds through the driver's
# frames, both vCPUs are threads, `monitor` reaches the REPL (ctl log) and the stub (kaslr),
# and a continue with the breakpoints gone lets the boot run to init; Ctrl-C then stops it.
source "$(dirname "$0")/../lib.sh"
plan 27

KERNEL=$LINUX_KERNEL
INITRD=$LINUX_INITRD
T=${LINUX_BOOT_TIMEOUT:-600}
PORT=$((20000 + RANDOM % 20000))
command -v gdb >/dev/null || { for i in $(seq 26); do skip "gdb not installed"; done; exit 0; }

# The compiler may have cloned a function (add_port.isra.0): break on the name it has.
sym() { nm "$KERNEL" | awk -v n="$1" '$3 == n || index($3, n ".") == 1 { print $3; exit }'; }
HCM=$(sym handle_control_message)
ADD_PORT=$(sym add_port)
[[ -n $HCM && -n $ADD_PORT ]]
ok $? "vmlinux has handle_control_message ($HCM) and add_port ($ADD_PORT)" ||
	diag "rebuild the kernel with scripts/mkguest.sh (-fno-inline-functions-called-once)"

linux_boot_snapshot
rc=$?
# The rest restores that snapshot and sets an int3 in the driver (kvm_lacks: the probe's finding).
((rc == 3)) && skip_rest "$LINUX_SNAP_WHY"
kvm_lacks sw-breakpoint && skip_rest "break $HCM (int3) in the restored guest: $KVM_LACKS_WHY"
ok $rc "the Linux guest's snapshot at virtcons_probe is there (booted once per machine)"
start=$SECONDS
start_vm "$TMP/vm" --restore "$LINUX_SNAP" --gdb "tcp:$PORT" --gdb-wait
wait_for "$TMP/vm" "gdb: listening" 20
ok $? "vmdbg listens for gdb and holds the restored vCPUs"

# Everything is set at attach, with the vCPUs held where the snapshot left them: one of
# them at virtcons_probe, before the driver's handshake.
gdb -batch -nx -ex 'set pagination off' -ex 'set confirm off' -ex 'set width 0' \
	-ex "target remote 127.0.0.1:$PORT" \
	-ex 'echo MARK attach\n' -ex 'info threads' -ex 'monitor kaslr' -ex "x/2i '$HCM'" \
	-ex 'thread apply all bt' \
	-ex "break $HCM" -ex "hbreak $ADD_PORT" -ex 'continue' \
	-ex 'echo MARK hcm\n' -ex 'info threads' -ex 'bt' -ex 'x/i $pc' -ex 'info registers rip' \
	-ex 'monitor ctl log' -ex 'python gdb.execute("monitor bt %d" % (gdb.selected_thread().num - 1))' \
	-ex 'continue' \
	-ex 'echo MARK add_port\n' -ex 'info threads' -ex 'bt' -ex 'x/i $pc' \
	-ex 'delete' -ex 'echo MARK continue\n' -ex 'continue' \
	-ex 'echo MARK interrupted\n' -ex 'info threads' -ex 'monitor ctl log' -ex 'detach' \
	"$KERNEL" >"$TMP/gdb" 2>&1 &
GDB_PID=$!
_tap_pids+=("$GDB_PID")

# The boot finishes while gdb waits in its last continue; then Ctrl-C (SIGINT to gdb) stops it.
end=$((SECONDS + T))  # not wait_for: a gdb that ended early must not cost the whole timeout
until grep -q '^MARK continue' "$TMP/gdb" || ! kill -0 "$GDB_PID" 2>/dev/null || ((SECONDS > end)); do
	sleep 0.5
done
grep -q '^MARK continue' "$TMP/gdb"
ok $? "the session reaches its last continue (breakpoints hit, then deleted)"
wait_for "$TMP/vm" 'Run /(init|idle) as init process' "$T"
ok $? "with gdb's breakpoints deleted, continue lets the boot finish (init runs)"
diag "restore to init under gdb: $((SECONDS - start))s"
sleep 1
kill -INT "$GDB_PID" 2>/dev/null
for i in $(seq 300); do kill -0 "$GDB_PID" 2>/dev/null || break; sleep 0.2; done
kill -0 "$GDB_PID" 2>/dev/null && { kill -9 "$GDB_PID"; diag "gdb did not end; killed"; }
wait "$GDB_PID" 2>/dev/null
cp "$TMP/gdb" "${LINUX_GDB_LOG:-/dev/null}" 2>/dev/null

# Print the section of gdb's output between MARK A and the next MARK.
section() { awk -v m="MARK $1" '$0 == m { on = 1; next } /^MARK / { on = 0 } on' "$TMP/gdb"; }
section attach >"$TMP/attach"
section hcm >"$TMP/hcm"
section add_port >"$TMP/add"
section interrupted >"$TMP/int"

# gdb prints a clone as "name.constprop" in frames and "name.constprop.0" in x/i: match the stem.
HCM_RE="handle_control_message[.a-z0-9]*"
ADD_RE="add_port[.a-z0-9]*"
like "$TMP/attach" '^\* 1 +Thread 1 \(vCPU 0 stopped' "at attach (--gdb-wait) thread 1 is vCPU 0, stopped"
like "$TMP/attach" '^  2 +Thread 2 \(vCPU 1 ' "info threads lists vCPU 1 as thread 2"
like "$TMP/attach" "^ +0x[0-9a-f]+ <$HCM_RE(\\+0)?>:[[:space:]]+push +%rbp" \
	"kernel text reads through the restored page tables (x/2i)"
like "$TMP/attach" '^#0 +0x[0-9a-f]+ in virtcons_probe' "a restored vCPU stands at virtcons_probe"
like "$TMP/attach" '^#[1-9][0-9]* .* in virtio_dev_probe' "bt at virtcons_probe unwinds into virtio_dev_probe"
like "$TMP/attach" '^kaslr: slide 0x0$' "monitor kaslr: slide 0 (nokaslr kernel), from MSR_LSTAR"

# The software breakpoint: the first control message handled.
hcm_thread=$(sed -nE "s/^Thread ([0-9]+) hit Breakpoint 1, 0x[0-9a-f]+ in $HCM_RE .*/\\1/p" "$TMP/gdb" | head -1)
[[ $hcm_thread == 1 || $hcm_thread == 2 ]]
ok $? "break $HCM (int3) hits on a vCPU's thread (thread ${hcm_thread:-none})"
like "$TMP/hcm" "^\\* ${hcm_thread:-X} +Thread ${hcm_thread:-X} \\(vCPU $((${hcm_thread:-1} - 1)) stopped, 64-bit, CPL 0" \
	"info threads marks the hitting thread as current, 64-bit kernel mode"
is "$(grep -cE '^[* ] +[0-9]+ +Thread [0-9]+ \(vCPU' "$TMP/hcm")" 2 "info threads lists both vCPUs"
like "$TMP/hcm" "^#0 .* in $HCM_RE " "bt frame 0 is $HCM"
like "$TMP/hcm" '^#1 .* in control_work_handler ' "gdb's bt unwinds into control_work_handler (the driver's work item)"
like "$TMP/hcm" "^=> 0x[0-9a-f]+ <$HCM_RE\\+[0-9]+>:" "x/i \$pc disassembles inside $HCM"
like "$TMP/hcm" "^rip +0x[0-9a-f]+ +0x[0-9a-f]+ <$HCM_RE\\+[0-9]+>" "info registers rip is inside $HCM"
like "$TMP/hcm" 'guest->host DEVICE_READY' "monitor ctl log shows the driver's DEVICE_READY"
like "$TMP/hcm" 'host->guest PORT_ADD id=0 .*consumed by the guest' "... and the PORT_ADD being handled"
like "$TMP/hcm" '^#[0-9]+ +0x[0-9a-f]+ in (process_one_work|worker_thread)' \
	"monitor bt (vmdbg's frame-pointer walk) continues into the workqueue"

# The hardware breakpoint: add_port, called from handle_control_message for PORT_ADD.
add_thread=$(sed -nE "s/^Thread ([0-9]+) hit Breakpoint 2, 0x[0-9a-f]+ in $ADD_RE .*/\\1/p" "$TMP/gdb" | head -1)
[[ $add_thread == 1 || $add_thread == 2 ]]
ok $? "hbreak $ADD_PORT (debug register) hits on a vCPU's thread (thread ${add_thread:-none})"
like "$TMP/add" "^\\* ${add_thread:-X} +Thread ${add_thread:-X} \\(vCPU $((${add_thread:-1} - 1)) stopped" \
	"info threads marks that thread as current"
like "$TMP/add" "^#1 .* in $HCM_RE " "bt at $ADD_PORT shows its caller $HCM"
like "$TMP/add" '^#2 .* in control_work_handler ' "... and control_work_handler"
like "$TMP/int" '^\* [12] +Thread [12] \(vCPU [01] stopped' "Ctrl-C after the boot stops the VM and names a thread"
unlike "$TMP/vm" 'Kernel panic|KVM cannot emulate|BUG:|Oops' "no panic, oops or unhandled instruction in the guest"
diag "whole test: $((SECONDS - start))s"
stop_vm
done_testing
