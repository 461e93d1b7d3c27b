#!/usr/bin/env bash
# gdb stub figures, vmdbg next to QEMU's gdbstub on the same test guest:
# stepi/s (gdb batch loop), `dump binary memory` MB/s, trivial packet round trip.
# Usage: tests/bench/gdb_bench.sh [VMDBG] [GUEST]
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VMDBG=${1:-${VMDBG:-$ROOT/build/vmdbg}}
GUEST=${2:-${TEST_GUEST:-$ROOT/build/test-guest.elf}}
STEPS=${STEPS:-500}
DUMP=${DUMP:-$((4 << 20))}
TMP=$(mktemp -d); PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

measure() { # measure PORT -> "stepi/s MB/s rtt_us" (or "- - -")
	local port=$1
	timeout 300 gdb -batch -nx -ex 'set pagination off' -ex "target remote 127.0.0.1:$port" \
		-ex 'python
import gdb, time, socket
n = '"$STEPS"'
t = time.time()
for i in range(n): gdb.execute("stepi", to_string=True)
steps = n / (time.time() - t)
t = time.time()
gdb.execute("dump binary memory '"$TMP"'/dump 0x100000 0x100000+'"$DUMP"'")
mbs = '"$DUMP"' / (time.time() - t) / 1e6
t = time.time()
for i in range(200): gdb.execute("maint packet qC", to_string=True)
rtt = (time.time() - t) / 200 * 1e6
print("RESULT %.0f %.1f %.0f" % (steps, mbs, rtt))
' -ex 'kill' "$GUEST" 2>&1 | awk '/^RESULT/ {print $2, $3, $4; f=1} END {if (!f) print "- - -"}'
}

row() { printf '%-34s %10s %10s %12s\n' "$@"; }
row "gdb stub" "stepi/s" "dump MB/s" "rtt (us)"

PORT=$((20000 + RANDOM % 20000))
"$VMDBG" --kernel "$GUEST" --cpus 2 --append "mode=loop" --gdb "tcp:$PORT" </dev/null >"$TMP/vmdbg.log" 2>&1 &
PIDS+=($!); sleep 1.5
read -r s m r < <(measure "$PORT"); row "vmdbg (this KVM)" "$s" "$m" "$r"

for accel in tcg kvm; do
	PORT=$((20000 + RANDOM % 20000))
	qemu-system-x86_64 -M microvm -accel $accel -smp 2 -m 256M -nographic -no-reboot \
		-kernel "$GUEST" -append "mode=loop" -gdb "tcp:127.0.0.1:$PORT" -S \
		</dev/null >"$TMP/qemu-$accel.log" 2>&1 &
	PIDS+=($!); sleep 1.5
	if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
		row "QEMU microvm -accel $accel" "died" "-" "-"
		echo "  ($(head -c 200 "$TMP/qemu-$accel.log" | tr '\n' ' '))"
		continue
	fi
	read -r s m r < <(measure "$PORT"); row "QEMU microvm -accel $accel" "$s" "$m" "$r"
done
