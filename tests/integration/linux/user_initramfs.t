#!/usr/bin/env bash
# A user's own initramfs on PVM. It has no /idle, so when vmdbg adds rdinit=/idle (guest
# user space cannot make system calls here: PLATFORM.md) it appends its own /idle to the
# initrd as a second cpio archive (emu/initrd_idle.c). One boot of the kernel built from
# source with a gzip'd archive holding only an /init script, of a length that is not a
# multiple of 4 so the appended archive needs padding, run until PID 1 starts, then ended.
# Where the probe finds that guest user space makes system calls (vmdbg then adds no
# rdinit=/idle) it skips.
source "$(dirname "$0")/../lib.sh"
plan 7

root=$TMP/root
mkdir -p "$root/dev"
for pad in '' x xx xxx xxxx xxxxx xxxxxx xxxxxxx; do
	printf '#!/bin/sh\n# a user initramfs without /idle%s\necho user-init-ran\nexec /bin/sh\n' "$pad" >"$root/init"
	chmod 755 "$root/init"
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -9n >"$TMP/user.cpio.gz"
	(($(stat -c %s "$TMP/user.cpio.gz") % 4)) && break
done
size=$(stat -c %s "$TMP/user.cpio.gz")
kvm_lacks guest-syscall || skip_rest "guest user space makes system calls on this KVM (the probe says guest-syscall: yes), so vmdbg adds no rdinit=/idle and appends nothing"
names=$(gzip -dc "$TMP/user.cpio.gz" | cpio -t --quiet | tr '\n' ' ')
[[ " $names" == *" init "* && " $names" != *" idle "* ]] && ((size % 4))
ok $? "the user's initramfs: gzip'd, $size bytes, holds: $names(no /idle)"

start=$SECONDS
start_vm "$TMP/linux" --kernel "$LINUX_KERNEL" --initrd "$TMP/user.cpio.gz" --cpus 1 --mem 128M
# vmdbg says what it adds to the command line before the guest's first instruction.
wait_for "$TMP/linux" 'Linux version' 120
like "$TMP/linux" "adding 'rdinit=/idle'.*cannot make system calls on this KVM \\(probed: .*vmdbg's own /idle.*appended to the initrd as a second cpio archive" \
	"vmdbg says PID 1 is its own /idle, appended to the initrd as a second cpio archive"
wait_for "$TMP/linux" 'Run /idle as init process|Kernel panic' 300
like "$TMP/linux" 'Run /idle as init process' "the kernel unpacks both archives and runs /idle ($((SECONDS - start))s)"
sleep 3
kill -0 "$VM_PID" 2>/dev/null
ok $? "the guest stays up on vmdbg's /idle"
unlike "$TMP/linux" 'Kernel panic|Initramfs unpacking failed|Failed to execute|VFS: Unable to mount root|KVM cannot emulate' \
	"no panic, no complaint from the initramfs unpacker"
unlike "$TMP/linux" 'user-init-ran' "the user's /init did not run"
stop_vm
is "$RC" 0 "ending the run with SIGTERM exits 0"
done_testing
