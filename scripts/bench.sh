#!/usr/bin/env bash
# make bench: figures measured side by side in one run. The machine is shared and has
# 2 cores: read the ratios, not the absolute times.
#   BENCH_LINUX_RUNS   boots of the Linux guest per VMM (default 3)
#   BENCH_EXITS        exits per exit-cost run (default 200000)
#   BENCH_ONLY         run only the named part: exits, linux, console, gdb, repl, snapshot,
#                      hwkvm (vmdbg next to QEMU -accel kvm inside scripts/hwkvm.sh's L1)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=build/bench
mkdir -p "$B"
scripts/deps.sh build test bench >/dev/null
RUNS=${BENCH_LINUX_RUNS:-3}
EXITS=${BENCH_EXITS:-200000}
only=${BENCH_ONLY:-}
want() { [[ -z $only || $only == "$1" ]]; }

# median, minmax, time_to_init
# shellcheck source=tests/bench/lib.sh
source tests/bench/lib.sh

# --- exit round trips: vmdbg with a bare ELF, next to the smallest KVM program
exit_bench() {
	gcc -O2 -Wall -o "$B/kvm_floor" tests/bench/kvm_floor.c || return 1
	for m in pio mmio; do
		for n in 0 "$EXITS"; do
			gcc -nostdlib -static -no-pie -Wl,-Ttext-segment=0x200000 -Wl,--build-id=none \
				-DEXITS="$n" $([[ $m == mmio ]] && echo -DMMIO) tests/bench/exitloop.S -o "$B/exit-$m-$n.elf" || return 1
		done
	done
	echo "## Exit round trip (ns per exit, median of 5; floor = a minimal KVM loop, no devices)"
	printf '| %-5s | %12s | %12s | %8s |\n' exit vmdbg floor ratio
	printf '|%s|\n' "-------|--------------|--------------|----------"
	for m in pio mmio; do
		local v=() f=()
		for i in 1 2 3 4 5; do
			local t0 t1
			t0=$(date +%s%N); build/vmdbg --kernel "$B/exit-$m-0.elf" </dev/null >/dev/null 2>&1; t1=$(date +%s%N)
			local base=$((t1 - t0))
			t0=$(date +%s%N); build/vmdbg --kernel "$B/exit-$m-$EXITS.elf" </dev/null >/dev/null 2>&1; t1=$(date +%s%N)
			v+=($(( (t1 - t0 - base) / EXITS )))
			f+=($("$B/kvm_floor" "$m" "$EXITS" | sed 's/.*ns_per_exit=//'))
		done
		local vm fm
		vm=$(printf '%s\n' "${v[@]}" | median)
		fm=$(printf '%s\n' "${f[@]}" | median)
		printf '| %-5s | %12s | %12s | %8s |\n' "$m" "$vm" "$fm" "$(awk -v a="$vm" -v b="$fm" 'BEGIN{printf "%.2f", a/b}')"
	done
	echo "target: vmdbg within 10% of the floor (ratio <= 1.10)"
}

# --- Linux: start to "Run /init" (the kernel built from source, PVH, 1 vCPU)
linux_bench() {
	scripts/mkguest.sh --kernel-only >/dev/null || scripts/mkguest.sh >/dev/null || return 1
	local K=build/guest/vmlinux I=build/guest/initramfs.cpio v=() t=() kvm
	local args="console=ttyS0 rdinit=/idle"
	for i in $(seq "$RUNS"); do
		v+=($(time_to_init "$B/linux-vmdbg.log" build/vmdbg --kernel $K --initrd $I --cpus 1))
		t+=($(LINUX_LIMIT=120 time_to_init "$B/linux-tcg.log" qemu-system-x86_64 -M microvm,acpi=off -accel tcg \
			-m 256M -nographic -no-reboot -kernel $K -initrd $I -append "$args"))
	done
	kvm=$(LINUX_LIMIT=600 time_to_init "$B/linux-qemu-kvm.log" qemu-system-x86_64 -M microvm,acpi=off -accel kvm -cpu qemu64 \
		-m 256M -nographic -no-reboot -kernel $K -initrd $I -append "$args")
	echo
	echo "## Linux (built from linux-source-6.1): start to 'Run /init', seconds, $RUNS runs"
	printf '| %-30s | %8s | %8s | %8s |\n' VMM min median max
	printf '|%s|\n' "--------------------------------|----------|----------|----------"
	row() { local name=$1; shift; local ok=() x
		for x in "$@"; do [[ $x == died ]] || ok+=("$x"); done
		if ((${#ok[@]} == 0)); then printf '| %-30s | %8s | %8s | %8s |\n' "$name" died - -; return; fi
		read -r mn mx < <(printf '%s\n' "${ok[@]}" | minmax)
		printf '| %-30s | %8s | %8s | %8s |\n' "$name" "$mn" "$(printf '%s\n' "${ok[@]}" | median)" "$mx"; }
	row "vmdbg on this KVM (PVM)" "${v[@]}"
	row "QEMU microvm, TCG" "${t[@]}"
	row "QEMU microvm on this KVM" "$kvm"
	if [[ $kvm == died ]]; then
		echo "QEMU on this KVM (-cpu qemu64, no workarounds): no init within 600 s;" \
			"its error: $(grep -m1 -iE 'emulation failure|internal error|failed to|error:' "$B/linux-qemu-kvm.log" | cut -c1-160)"
		echo "  its last kernel line: $(grep -E '^\[' "$B/linux-qemu-kvm.log" | tail -1 | cut -c1-120)"
	fi
	echo "vmdbg's run completes: $(grep -E 'completed (int3|fwait)' "$B/linux-vmdbg.log" | sed 's/^vmdbg: //' | tr '\n' ';')"
}

# --- the same guests under vmdbg and QEMU -accel kvm on a hardware-style KVM: inside L1
# (scripts/hwkvm.sh), the one place here where both run. The table comes from inside.
hwkvm_bench() {
	scripts/mkguest.sh >/dev/null || return 1
	echo
	scripts/hwkvm.sh --timeout 1200 -- tests/bench/hwkvm_bench.sh
	case $? in
	0) ;;
	124) echo "hwkvm: no table: L1 timed out after 1200 s" ;;
	*) echo "hwkvm: no table (see the lines above)" ;;
	esac
}

echo "# vmdbg benchmarks ($(date -u +%F), $(nproc) cores, $(uname -r))"
want exits && exit_bench
want linux && linux_bench
for extra in tests/bench/*_bench.sh; do
	[[ -e $extra ]] || continue
	name=$(basename "$extra" _bench.sh)
	[[ $name == hwkvm ]] && continue # runs inside L1, below
	want "$name" && { echo; bash "$extra"; }
done
want hwkvm && hwkvm_bench
exit 0
