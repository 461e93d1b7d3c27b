#!/usr/bin/env bash
# Guest user space against the real driver, in one boot of the kernel built from source:
# the initramfs's shell over ttyS0, the three ports named in sysfs, 64 MiB from a guest
# process through /dev/vport0p1 to a host file (checksummed), port 2 both ways with the
# host's unix socket, a shell on hvc0 driven through port 0's backend, SysRq through hvc0,
# a raw-mode hvc0 reader seeing each wake byte (sent with gdb's `monitor wake`, in a gdb
# session that also reads registers and memory and steps), then power-off from the guest.
# Where guest user space cannot make system calls (PVM: the probe says so) it skips.
source "$(dirname "$0")/../lib.sh"
plan 20
kvm_lacks guest-syscall && skip_rest "guest user space is needed: $KVM_LACKS_WHY"

PORT=$((20000 + RANDOM % 20000))
T=${LINUX_BOOT_TIMEOUT:-300}
start=$SECONDS
start_vm "$TMP/vm" --kernel "$LINUX_KERNEL" --initrd "$LINUX_INITRD" --cpus 2 --mem 512M \
	--append "console=hvc0 console=ttyS0 vmdbg.run=shell" --gdb "tcp:$PORT" \
	--snapshot-at 'vmdbg-guest: ready' --snapshot-file "$TMP/ready.snap" \
	--port 0:unix:"$TMP/p0.sock" --port 1:file:"$TMP/p1" --port 2:unix:"$TMP/p2.sock"
wait_for "$TMP/vm" 'vmdbg-guest: ready uptime=' "$T"
ok $? "the initramfs's /init runs and prints its ready marker ($((SECONDS - start))s)"
sleep 1
guest_type 'echo round-$((40+2))-trip'
wait_for "$TMP/vm" 'round-42-trip' 60
ok $? "a command typed on the host runs in the ttyS0 shell and its output comes back"

guest_type 'for p in /sys/class/virtio-ports/vport0p*; do echo "vport ${p##*/} $(cat $p/name)"; done; echo names-$((6*7))-listed'
wait_for "$TMP/vm" 'names-42-listed' 60
grep -q 'vport vport0p0 ktstr-console' "$TMP/vm.lf" 2>/dev/null || tr -d '\r' <"$TMP/vm" >"$TMP/vm.lf"
grep -q 'vport vport0p1 ktstr-bulk' "$TMP/vm.lf" && grep -q 'vport vport0p2 ktstr-stats' "$TMP/vm.lf"
ok $? "the driver names the ports from PORT_NAME: vport0p1 ktstr-bulk, vport0p2 ktstr-stats" ||
	diag "$(grep 'vport ' "$TMP/vm.lf")"

# 64 MiB from a guest process: the guest prints the checksum of what it wrote.
guest_type 'dd if=/dev/urandom of=/tmp/blob bs=1M count=64 2>/dev/null; echo "guest-sum $(sha256sum </tmp/blob)"; cat /tmp/blob >/dev/vport0p1; echo p1-$?-written'
wait_for "$TMP/vm" 'p1-0-written' 600
want=$((64 << 20))
end=$((SECONDS + 120))
while (($(stat -c %s "$TMP/p1" 2>/dev/null || echo 0) < want && SECONDS < end)); do sleep 0.5; done
is "$(stat -c %s "$TMP/p1")" "$want" "64 MiB written by a guest process to /dev/vport0p1 reach the host file"
tr -d '\r' <"$TMP/vm" >"$TMP/vm.lf"
guest_sum=$(sed -nE 's/^guest-sum ([0-9a-f]{64}).*/\1/p' "$TMP/vm.lf" | head -n 1)
host_sum=$(sha256sum <"$TMP/p1" | cut -d' ' -f1)
is "$host_sum" "${guest_sum:-none}" "... byte for byte (sha256 on both sides)"
guest_type 'rm /tmp/blob'

# Port 2 both ways: a guest reader takes the host's line, a guest writer answers.
sock_open p2 "$TMP/p2.sock"
sleep 1
guest_type 'head -n 1 </dev/vport0p2 | sed "s/^/guest-got: /"; echo g2h-$((2*21)) >/dev/vport0p2'
sleep 2
printf 'h2g-%s\n' "$$" >&"$p2_FD"
wait_for "$TMP/vm" "guest-got: h2g-$$" 60
ok $? "port 2: a line from the host's unix socket reaches a guest reader"
wait_for "$TMP/p2.out" '^g2h-42$' 60
ok $? "port 2: a guest writer's line reaches the host's unix socket"

# A shell on hvc0, driven through port 0's unix socket.
sock_open p0 "$TMP/p0.sock"
guest_type "setsid sh -c 'exec sh -i </dev/hvc0 >/dev/hvc0 2>&1' &"
sleep 2
printf 'echo hvc-$((6*7))-shell\n' >&"$p0_FD"
wait_for "$TMP/p0.out" 'hvc-42-shell' 60
ok $? "a shell on hvc0 runs commands sent through port 0 and answers there"
# Ctrl-O then a key is SysRq on the hvc console; the help goes to every console.
printf '\017h' >&"$p0_FD"
wait_for "$TMP/vm" 'sysrq: HELP' 60
ok $? "Ctrl-O h through port 0 makes the kernel print its SysRq help"
printf 'exit\n' >&"$p0_FD"
sleep 1

# A raw-mode reader of hvc0 (as the guest agent of the console spec reads wake bytes).
guest_type '(stty raw -echo; echo wake-reader-$((2*2)) >/dev/ttyS0; head -c 3 | od -An -tx1 | sed "s/^/wake-bytes:/" >/dev/ttyS0) </dev/hvc0 &'
wait_for "$TMP/vm" 'wake-reader-4' 60
sleep 1
gdb -batch -nx -ex 'set pagination off' -ex 'set confirm off' \
	-ex "target remote 127.0.0.1:$PORT" -ex 'echo MARK attached\n' \
	-ex 'info registers rip rsp' -ex 'x/2gx $sp' -ex 'stepi' -ex 'echo MARK stepped\n' -ex 'info registers rip' \
	-ex 'monitor wake dump' -ex 'monitor wake bpf-done' -ex 'monitor wake shutdown' \
	-ex 'detach' -ex 'echo MARK detached\n' "$LINUX_KERNEL" >"$TMP/gdb" 2>&1 </dev/null
like "$TMP/gdb" '^MARK attached' "gdb attaches to the running Linux guest"
like "$TMP/gdb" '^0x[0-9a-f]+:[[:space:]]+0x[0-9a-f]+[[:space:]]+0x[0-9a-f]+' "gdb reads registers and stack memory"
rip_before=$(grep -m1 -E '^rip ' "$TMP/gdb" | awk '{print $2}')
rip_after=$(sed -n '/^MARK stepped/,$p' "$TMP/gdb" | grep -m1 -E '^rip ' | awk '{print $2}')
[[ -n $rip_before && -n $rip_after && $rip_before != "$rip_after" ]]
ok $? "gdb stepi moves the vCPU on ($rip_before -> $rip_after)" || diag "$(cat "$TMP/gdb")"
like "$TMP/gdb" '^MARK detached' "gdb detaches"
wait_for "$TMP/vm" 'wake-bytes: d1 bf d3' 60
ok $? "the raw hvc0 reader gets the three wake bytes in order (0xd1 0xbf 0xd3)" ||
	diag "$(grep -a 'wake' "$TMP/vm" | tail -n 3)"

guest_type 'poweroff -f'
wait_for "$TMP/vm" 'guest powered off' 120
ok $? "poweroff -f in the guest reaches ACPI S5"
wait "$VM_PID"
is "$?" 0 "vmdbg exits 0 after the guest's power-off"
unlike "$TMP/vm" 'Kernel panic|Oops|BUG:|KVM cannot emulate|segfault' "no panic, oops or crash on the way"

like "$TMP/vm" "snapshot saved to .* at the console's match" "a snapshot was saved when the ready marker was printed"
start_vm "$TMP/restored" --restore "$TMP/ready.snap" --port 0:null --port 2:null
sleep 2
guest_type 'echo restored-$((1+2))-shell'
wait_for "$TMP/restored" 'restored-3-shell' 120
ok $? "restored at the ready marker, the guest's shell runs commands again"
guest_type 'poweroff -f'
wait_for "$TMP/restored" 'guest powered off' 120
ok $? "the restored guest powers off" || diag "$(tail -n 5 "$TMP/restored")"
done_testing
