#!/usr/bin/env bash
# Debian's unmodified cloud kernel with user space: it finds the console only through ACPI
# (no virtio_mmio.device=, which it could not read anyway), /init loads virtio_mmio and
# virtio_console from the initramfs, the three ports are named in sysfs, data goes both
# ways on port 2 and out on port 1, and the guest powers off. Where guest user space cannot
# make system calls (PVM: the probe says so) it skips; the PVM tier boots this kernel
# kernel-side only (handshake.t).
source "$(dirname "$0")/../lib.sh"
plan 10
STOCK=$GUEST_DIR/stock/vmlinux
kvm_lacks guest-syscall && skip_rest "guest user space is needed: $KVM_LACKS_WHY"
T=${LINUX_BOOT_TIMEOUT:-300}

start=$SECONDS
start_vm "$TMP/vm" --kernel "$STOCK" --initrd "$LINUX_INITRD" --cpus 2 --mem 512M \
	--append "console=ttyS0 vmdbg.run=shell" \
	--port 0:null --port 1:file:"$TMP/p1" --port 2:unix:"$TMP/p2.sock"
wait_for "$TMP/vm" 'vmdbg-guest: ready uptime=' "$T"
ok $? "Debian's cloud kernel runs /init, which prints its ready marker ($((SECONDS - start))s)" ||
	diag "$(tail -n 20 "$TMP/vm")"
sleep 1
guest_type 'echo "mmio-cmdline=$(grep -c virtio_mmio.device= /proc/cmdline)"; ls /sys/bus/platform/drivers/virtio-mmio/ | grep LNRO; cut -d" " -f1 /proc/modules | sed "s/^/module: /"; echo listed-$((0+1))'
wait_for "$TMP/vm" 'listed-1' 60
tr -d '\r' <"$TMP/vm" >"$TMP/vm.lf"
like "$TMP/vm.lf" '^mmio-cmdline=0$' "the command line names no virtio-mmio device"
like "$TMP/vm.lf" '^LNRO0005:00$' "virtio_mmio is bound to LNRO0005:00, the device the DSDT describes"
grep -q '^module: virtio_console' "$TMP/vm.lf" && grep -q '^module: virtio_mmio' "$TMP/vm.lf"
ok $? "virtio_mmio and virtio_console were loaded as modules from the initramfs" ||
	diag "$(grep -E '^module:|cannot load' "$TMP/vm.lf")"
unlike "$TMP/vm.lf" 'cannot load module' "... with no module refused"
# The names arrive after the ports (PORT_NAME follows PORT_ADD): wait for them in the guest.
guest_type 'for i in $(seq 100); do [ $(cat /sys/class/virtio-ports/vport*/name 2>/dev/null | grep -c ktstr) -ge 3 ] && break; sleep 0.1; done; for p in /sys/class/virtio-ports/vport*; do echo "vport ${p##*/} $(cat $p/name)"; done; echo listed-$((1+1))'
wait_for "$TMP/vm" 'listed-2' 60
tr -d '\r' <"$TMP/vm" >"$TMP/vm.lf"
n=$(grep -cE '^vport vport[0-9]+p[0-2] ktstr-(console|bulk|stats)$' "$TMP/vm.lf")
is "$n" 3 "the three ports are named in sysfs (ktstr-console, ktstr-bulk, ktstr-stats)" ||
	diag "$(grep -a 'vport' "$TMP/vm.lf")"

guest_type 'echo stock-p1-$((3*3)) >/dev/vport0p1'
wait_for "$TMP/p1" '^stock-p1-9$' 60
ok $? "port 1: a guest process's line reaches the host file"
sock_open p2 "$TMP/p2.sock"
sleep 1
guest_type 'head -n 1 </dev/vport0p2 | sed "s/^/guest-got: /"; echo stock-g2h >/dev/vport0p2'
sleep 2
printf 'stock-h2g-%s\n' "$$" >&"$p2_FD"
wait_for "$TMP/vm" "guest-got: stock-h2g-$$" 60
ok $? "port 2: the host's line reaches a guest reader"
wait_for "$TMP/p2.out" '^stock-g2h$' 60
ok $? "port 2: a guest writer's line reaches the host"

guest_type 'poweroff -f'
wait "$VM_PID"
is "$?" 0 "poweroff -f in the guest ends the run with exit 0 (ACPI S5)"
done_testing
