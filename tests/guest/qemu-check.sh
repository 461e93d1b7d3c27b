#!/usr/bin/env bash
# Boot the test guest in every mode under QEMU and check its output lines (TAP).
#   tests/guest/qemu-check.sh [ELF]        ELF defaults to build/test-guest.elf
#   ACCEL=kvm tests/guest/qemu-check.sh    use KVM (with -cpu qemu64) instead of TCG
#   MACHINES="microvm q35"                 which QEMU machines to try
set -uo pipefail

ELF=${1:-build/test-guest.elf}
ACCEL=${ACCEL:-tcg}
MACHINES=${MACHINES:-microvm q35}
QEMU=${QEMU:-qemu-system-x86_64}

command -v "$QEMU" >/dev/null ||
	{ echo "qemu-check: $QEMU not found (scripts/deps.sh bench)" >&2; exit 2; }
[[ -r $ELF ]] ||
	{ echo "qemu-check: $ELF not readable (make build/test-guest.elf)" >&2; exit 2; }

cpu_opt=()
[[ $ACCEL == kvm ]] && cpu_opt=(-cpu qemu64)
n=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# Emulated firmware (q35's SeaBIOS) is slow under this machine's KVM: stretch every limit.
slow=1
[[ $ACCEL == kvm ]] && slow=4

# run MACHINE SECONDS APPEND [STDIN-TEXT]: output in $out, QEMU's status in $rc. Input
# is sent once the guest says "tg: echo ready" (a UART drops what comes before its init).
run() {
	local machine=$1 secs=$(($2 * slow)) append=$3 input=${4:-}
	local fifo
	fifo=$(mktemp -u)
	mkfifo "$fifo"
	timeout "$secs" "$QEMU" -M "$machine" -accel "$ACCEL" "${cpu_opt[@]}" -smp 4 -m 64M \
		-display none -monitor none -serial stdio -no-reboot -kernel "$ELF" \
		-append "$append" <"$fifo" >"$out" 2>&1 &
	local pid=$!
	exec 3>"$fifo"
	rm -f "$fifo"
	if [[ -n $input ]]; then
		for ((i = 0; i < secs * 10; i++)); do
			grep -qa "tg: echo ready" "$out" && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		printf '%b' "$input" >&3
	fi
	wait "$pid"
	rc=$?
	exec 3>&-
	tr -d '\r' <"$out" >"$out.lf" && mv "$out.lf" "$out"
}

# check NAME CONDITION...: one TAP line; on failure the guest's output as diagnostics.
check() {
	local name=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"
		sed 's/^/# /' "$out"
		failed=$((failed + 1))
	fi
}

has() { grep -qaF -- "$1" "$out"; }
all() { for l in "$@"; do has "$l" || return 1; done; }

for m in $MACHINES; do
	run "$m" 60 "mode=hello ticks=20 bogus=1"
	check "$m hello powers off after every CPU's ticks" \
		all "tg: hello from the test guest" "tg: unknown option 'bogus=1' ignored" \
		"tg: acpi table APIC ok" "tg: acpi cpus=4" "tg: cpus up=4 of 4" \
		"tg: cpu 3 up apic=3" "tg: cpu 0 ticks=20" "tg: cpu 3 ticks=20" "tg: done"
	check "$m hello exits by power-off" test "$rc" -eq 0

	run "$m" 60 "mode=hello cpus=2"
	check "$m cpus=2 starts two CPUs" all "tg: cpus up=2 of 2" "tg: cpu 1 ticks=10"

	run "$m" 60 "mode=triple"
	check "$m triple faults" all "tg: triple fault now"
	check "$m triple ends the run" test "$rc" -eq 0

	run "$m" 6 "mode=panic"
	check "$m panic prints and halts" all "Kernel panic - not syncing: test guest panic"
	check "$m panic does not power off" test "$rc" -eq 124

	run "$m" 8 "mode=loop"
	check "$m loop stays alive" all "tg: loop running" "tg: alive 2"

	run "$m" 6 "mode=fault"
	check "$m fault reports the exception" all "tg: fault now" \
		"tg: exception 6 err=0x0 rip=0xffffffff"

	run "$m" 60 "mode=echo" 'hello, World\nquit\n'
	check "$m echo uppercases and quits" \
		all "tg: echo ready" "HELLO, WORLD" "QUIT" "tg: echo quit"
	check "$m echo exits by power-off" test "$rc" -eq 0
done

run microvm,acpi=off 10 "mode=hello"
check "microvm acpi=off runs on one CPU" \
	all "tg: acpi RSDP not found" "tg: cpus up=1 of 1" "tg: done"
check "microvm acpi=off reports no power-off" all "tg: poweroff unavailable"

echo "1..$n"
[[ $failed -eq 0 ]]
