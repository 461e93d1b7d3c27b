#!/usr/bin/env bash
# A guest `reboot -f` in the middle of a port-1 stream, with --reboot: a guest process
# writes numbered lines (one write each) to /dev/vport0p1 tagged with the boot's id, the
# guest reboots under it, the machine boots again and the second boot streams too. The
# host file must hold whole lines only, each boot's numbers consecutive from 0, nothing lost
# in the middle or duplicated across the reset (tx chains published before it are captured).
# Where guest user space cannot make system calls (PVM: the probe says so) it skips.
source "$(dirname "$0")/../lib.sh"
plan 7
kvm_lacks guest-syscall && skip_rest "guest user space is needed: $KVM_LACKS_WHY"
T=${LINUX_BOOT_TIMEOUT:-300}

# No double quotes inside: the kernel's parser ends vmdbg.cmd's value at the next one.
cmd='b=$(cut -c1-8 /proc/sys/kernel/random/boot_id); echo stream-$b-start; (i=0; while :; do echo $b $i; i=$((i+1)); done) >/dev/vport0p1 & sleep 3; echo stream-$b-reboot; reboot -f'
start_vm "$TMP/vm" --kernel "$LINUX_KERNEL" --initrd "$LINUX_INITRD" --cpus 2 --mem 256M --reboot \
	--append "console=ttyS0 vmdbg.cmd=\"$cmd\"" --port 1:file:"$TMP/p1" --port 0:null --port 2:null
wait_for "$TMP/vm" 'stream-[0-9a-f]{8}-reboot' "$T"
ok $? "the first boot streams on port 1 and reboots under the writer"
first=$(grep -aoE 'stream-[0-9a-f]{8}-reboot' "$TMP/vm" | head -n 1 | cut -d- -f2)
wait_for "$TMP/vm" "stream-[0-9a-f]{8}-start(.|$)" 1
until (($(grep -acE 'stream-[0-9a-f]{8}-start' "$TMP/vm") >= 2)) || ! kill -0 "$VM_PID" 2>/dev/null; do
	((SECONDS < T + 60)) || break
	sleep 0.5
done
(($(grep -acE 'stream-[0-9a-f]{8}-start' "$TMP/vm") >= 2))
ok $? "the machine boots again and the second boot starts its stream" || diag "$(tail -n 20 "$TMP/vm")"
like "$TMP/vm" 'vmdbg: guest reboot 1: machine reset' "vmdbg says the guest rebooted and the machine was reset"
sleep 2
stop_vm
# Per boot id (mawk has no {8}): the numbers seen, in order; any line out of shape or out of sequence counts.
awk -v first="$first" '
	!/^[0-9a-f]+ [0-9]+$/ || length($1) != 8 { bad++; next }
	{ if ($2 != next_n[$1] + 0) seq[$1]++; next_n[$1] = $2 + 1; if (!($1 in order)) { order[$1] = ++nb } }
	END { printf "bad=%d boots=%d first_n=%d first_seq=%d second_n=%d second_seq=%d\n", bad, nb,
		next_n[first], seq[first], (nb > 1 ? 1 : 0) * total_other(), other_seq() }
	function total_other(  b, t) { for (b in next_n) if (b != first) t += next_n[b]; return t }
	function other_seq(  b, t) { for (b in seq) if (b != first) t += seq[b]; return t }
' "$TMP/p1" >"$TMP/check"
diag "$(cat "$TMP/check")"
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" "$TMP/check"; }
is "$(kv bad)" 0 "the host file holds whole '<boot> <n>' lines only (each write arrived whole)"
(($(kv first_n) > 100)) && [[ $(kv first_seq) == 0 ]]
ok $? "the first boot's $(kv first_n) lines arrive consecutive from 0: none lost or duplicated across the reset"
(($(kv boots) == 2 && $(kv second_n) > 0)) && [[ $(kv second_seq) == 0 ]]
ok $? "the second boot's stream arrives too, consecutive from 0"
is "$RC" 0 "vmdbg exits 0"
done_testing
