#!/usr/bin/env bash
# vmdbg next to QEMU (-accel kvm) on the same hardware-style KVM, the one place here where
# both run: inside L1 of scripts/hwkvm.sh (kvm_amd under QEMU TCG's emulated AMD SVM).
# scripts/bench.sh's part hwkvm starts it there:
#   scripts/hwkvm.sh --timeout 1200 -- tests/bench/hwkvm_bench.sh
# Figures, each VMM booting the same files, runs interleaved (the order swaps every run):
#   Linux (build/guest/vmlinux + initramfs.cpio, 1 vCPU, 256M): process start to
#   'Run /init as init process' on the serial console, and to the process's exit after the
#   guest's power-off; the test guest (build/test-guest.elf): start to its first line
#   and to its exit after power-off.
#   BENCH_HWKVM_RUNS  runs per VMM and guest (default 5)
# Prints a markdown table: median (min–max) and the ratio of the medians, vmdbg/QEMU.
# Exit status 2 with one line when /dev/kvm or a file it needs is missing.
set -uo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
# shellcheck source=tests/bench/lib.sh
source tests/bench/lib.sh

RUNS=${BENCH_HWKVM_RUNS:-5}
VMDBG=build/vmdbg
QEMU=${QEMU:-qemu-system-x86_64}
K=build/guest/vmlinux
I=build/guest/initramfs.cpio
ELF=build/test-guest.elf
# The same arguments for both VMMs; the initramfs's /init powers off at once.
APPEND="console=ttyS0 vmdbg.run=poweroff"
TG_APPEND="mode=hello cpus=1 ticks=1"
LINUX_LIMIT=120 TG_LIMIT=30

[[ -c /dev/kvm ]] || { echo "hwkvm bench: /dev/kvm is missing (it runs inside scripts/hwkvm.sh's L1)"; exit 2; }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "hwkvm bench: BENCH_HWKVM_RUNS='$RUNS' is not a positive number"; exit 2; }
for f in "$VMDBG" "$K" "$I" "$ELF"; do
	[[ -r $f ]] || { echo "hwkvm bench: $f is missing (make; scripts/mkguest.sh)"; exit 2; }
done
command -v "$QEMU" >/dev/null || { echo "hwkvm bench: $QEMU is missing (scripts/deps.sh bench)"; exit 2; }

# Logs on L1's tmpfs: polling a file on the 9p share would cost a round trip per read.
# The last run of each kind is kept in build/bench/hwkvm/ for a look afterwards, and every
# run that gave no figure as fail-KIND-VMM-rRUN.log.
TMP=$(mktemp -d)
KEEP=build/bench/hwkvm
mkdir -p "$KEEP"
rm -f "$KEEP"/*.log
trap 'cp "$TMP"/*.log "$KEEP"/ 2>/dev/null; rm -rf "$TMP"' EXIT

# QEMU's machine: microvm with its ACPI tables (GED power-off, as vmdbg's hardware-reduced
# FADT) and a virtio-mmio console like vmdbg's, the serial port on stdio.
qemu_common=(-M "microvm,acpi=on" -accel kvm -cpu host -smp 1 -no-reboot)
vmdbg_linux=("$VMDBG" --kernel "$K" --initrd "$I" --cpus 1 --mem 256M --append "$APPEND")
qemu_linux=("$QEMU" "${qemu_common[@]}" -m 256M -nographic
	-device virtio-serial-device -chardev "null,id=vcon" -device "virtconsole,chardev=vcon"
	-kernel "$K" -initrd "$I" -append "$APPEND")
vmdbg_tg=("$VMDBG" --kernel "$ELF" --cpus 1 --mem 64M --append "$TG_APPEND")
qemu_tg=("$QEMU" "${qemu_common[@]}" -m 64M -display none -monitor none -serial stdio
	-kernel "$ELF" -append "$TG_APPEND")

# Results, one word per run: the seconds, or why the run does not count. r: the run.
declare -A res
r=0
add() { res[$1]+="$2 "; }

# linux VMM: one boot; a run counts for exit only if the guest powered off (status 0 and
# the kernel's 'reboot: Power down').
linux() {
	local vm=$1 log=$TMP/linux-$1.log cmd out init ended rc
	[[ $vm == vmdbg ]] && cmd=("${vmdbg_linux[@]}") || cmd=("${qemu_linux[@]}")
	out=$(time_to_line -e "$log" "$LINUX_LIMIT" 'Run /init as init process' "${cmd[@]}")
	read -r init ended rc <<<"$out"
	if [[ $ended != hung ]] && { ((rc != 0)) || ! grep -qa 'reboot: Power down' "$log"; }; then
		ended=status=$rc
	fi
	add "init-$vm" "$init"
	add "exit-$vm" "$ended"
	if [[ $init$ended =~ [a-z] ]]; then cp "$log" "$KEEP/fail-linux-$vm-r$r.log"; fi
}

# tg VMM: the test guest, start to its first line, and to its exit after power-off.
tg() {
	local vm=$1 log=$TMP/tg-$1.log cmd out first ended rc
	[[ $vm == vmdbg ]] && cmd=("${vmdbg_tg[@]}") || cmd=("${qemu_tg[@]}")
	out=$(time_to_line -e "$log" "$TG_LIMIT" 'tg: hello from the test guest' "${cmd[@]}")
	read -r first ended rc <<<"$out"
	[[ $ended != hung ]] && ((rc != 0)) && ended=status=$rc
	add "tg-$vm" "$first"
	add "tgexit-$vm" "$ended"
	if [[ $first$ended =~ [a-z] ]]; then cp "$log" "$KEEP/fail-tg-$vm-r$r.log"; fi
}

# One untimed start of each first: the binaries, their libraries, QEMU's firmware and the
# guests come over 9p the first time, which would weigh on the first run only.
cat "$K" "$I" "$ELF" >/dev/null
tg vmdbg
tg qemu
res=()

for ((r = 1; r <= RUNS; r++)); do # r names the failed runs' logs
	if ((r % 2)); then order="vmdbg qemu"; else order="qemu vmdbg"; fi
	for vm in $order; do linux "$vm"; done
	for vm in $order; do tg "$vm"; done
done

# cell KEY: CELL = "median (min–max)" of the runs that gave a figure, "(k of N)" when some
# did not, "—" when none did; MED = the median (empty for none), for the ratio; WHY = the
# runs without a figure, counted by reason (died: no line; hung: still running at the
# limit; status=N: ended without a power-off).
cell() {
	local x ok=() bad=() mn mx
	for x in ${res[$1]}; do
		[[ $x =~ ^[0-9.]+$ ]] && ok+=("$x") || bad+=("$x")
	done
	MED='' WHY=''
	((${#bad[@]})) &&
		WHY=$(printf '%s\n' "${bad[@]}" | sort | uniq -c | awk '{printf "%s%s×%s", (NR > 1 ? ", " : ""), $2, $1}')
	if ((${#ok[@]} == 0)); then
		CELL="—"
		return
	fi
	MED=$(printf '%s\n' "${ok[@]}" | median)
	read -r mn mx < <(printf '%s\n' "${ok[@]}" | minmax)
	CELL=$(printf '%.2f (%.2f–%.2f)' "$MED" "$mn" "$mx")
	((${#bad[@]})) && CELL+=" (${#ok[@]} of $RUNS)"
}

# pad WIDTH TEXT: TEXT and spaces to WIDTH characters (printf's widths count bytes).
pad() {
	local LC_ALL=C.UTF-8
	local s=$2 n
	n=${#s}
	printf '%s%*s' "$s" $(($1 > n ? $1 - n : 0)) ''
}

row() { # row LABEL KEY
	local v q vm qm vw qw ratio="—"
	cell "$2-vmdbg"; v=$CELL vm=$MED vw=$WHY
	cell "$2-qemu"; q=$CELL qm=$MED qw=$WHY
	[[ -n $vm && -n $qm ]] && ratio=$(awk -v a="$vm" -v b="$qm" 'BEGIN{printf "%.2fx", a/b}')
	printf '| %-41s | %s | %s | %s |\n' "$1" "$(pad 24 "$v")" "$(pad 24 "$q")" "$(pad 10 "$ratio")"
	[[ -n $vw ]] && notes+=("vmdbg, $1: runs without a figure: $vw (logs: $KEEP/fail-*)")
	[[ -n $qw ]] && notes+=("QEMU, $1: runs without a figure: $qw (logs: $KEEP/fail-*)")
}

notes=()
echo "## Hardware-style KVM (nested AMD SVM, kvm_amd in L1 under QEMU TCG): vmdbg next to QEMU -accel kvm, seconds, $RUNS runs each, interleaved"
printf '| %-41s | %-24s | %-24s | %-10s |\n' figure vmdbg QEMU vmdbg/QEMU
printf '|%s|\n' "-------------------------------------------|--------------------------|--------------------------|------------"
row "Linux: start to 'Run /init'" init
row "Linux: start to exit after power-off" exit
row "test guest: start to its first line" tg
row "test guest: start to exit after power-off" tgexit
echo "Median (min–max). Linux: $K + $I, 1 vCPU, 256M, '$APPEND'; test guest: $ELF '$TG_APPEND', 1 vCPU, 64M."
echo "QEMU $("$QEMU" --version | sed -n '1s/.*version \([^ ]*\).*/\1/p'): -M microvm,acpi=on (ACPI power-off via GED)" \
	"-cpu host -smp 1, a virtio-serial-device with a virtconsole (as vmdbg's virtio-mmio console), serial on stdio."
echo "L1: Linux $(uname -r), $(nproc) vCPUs; time from the fork to the line in the output file (polled every ${BENCH_POLL:-0.02} s) or to the exit; one untimed start of each VMM first."
for n in "${notes[@]}"; do echo "$n"; done
echo "target: vmdbg <= 1.0x QEMU on both"
