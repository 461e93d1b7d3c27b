#!/usr/bin/env bash
# Console throughput with the same test guest driver: vmdbg's virtio-console against QEMU
# microvm's virtio-serial-device, guest->host on port 1 and host->guest on port 2.
#   tests/bench/console_bench.sh [BYTES [RX_BYTES]]   (defaults 64 MiB and 16 MiB)
#   CONSOLE_BENCH_RUNS   runs per VMM and direction, alternating (default 3)
#   CONSOLE_BENCH_ARGS   extra guest keys for both VMMs (tests/guest/README.md, vcon-bench)
#   CONSOLE_BENCH_CELLS  which rows (default "tx:kick=each tx:kick=reuse rx:")
# The guest measures (TSC cycles) and counts its own QueueNotify writes, the kicks the
# device's VRING_USED_F_NO_NOTIFY spared ("suppressed") and its interrupts (mode=vcon-bench).
# MB/s = bytes / (cycles / host TSC rate): the guest's own TSC calibration can be thrown off
# by a busy host. Guest->host output is checked byte for byte against the guest's pattern.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VMDBG=${VMDBG:-$ROOT/build/vmdbg}
ELF=${TEST_GUEST:-$ROOT/build/test-guest.elf}
QEMU=${QEMU:-qemu-system-x86_64}
BYTES=${1:-$((64 << 20))}
RX_BYTES=${2:-$((16 << 20))}
RUNS=${CONSOLE_BENCH_RUNS:-3}
GARGS=${CONSOLE_BENCH_ARGS:-}
SEED=1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The stream the guest writes (README: byte i = pattern[i % 65536], seed 1), and what the
# host feeds it: the same pattern.
python3 - "$TMP/pattern" "$SEED" <<'PY'
import sys
seed = int(sys.argv[2])
open(sys.argv[1], "wb").write(bytes(((j * 7 + (j >> 8) * 13 + seed) & 0xff) for j in range(65536)))
PY
python3 -c 'import sys; p=open(sys.argv[1],"rb").read(); n=int(sys.argv[2]); open(sys.argv[3],"wb").write((p*(n//len(p)+1))[:n])' \
	"$TMP/pattern" "$RX_BYTES" "$TMP/rx.data"

TSC_KHZ=$(dmesg 2>/dev/null | sed -nE 's/.*tsc: Refined TSC clocksource calibration: ([0-9]+)\.([0-9]{3}).*/\1\2/p' | tail -1)
[[ -n $TSC_KHZ ]] || TSC_KHZ=$(dmesg 2>/dev/null | sed -nE 's/.*tsc: Detected ([0-9]+)\.([0-9]{3}) MHz.*/\1\2/p' | tail -1)

# feed SOCK OUT: once the guest says it is ready in OUT (its probe resets the device, which
# drops earlier input), connect to the unix socket, send the rx data, read until closed.
feed() {
	local i
	for ((i = 0; i < 600; i++)); do
		grep -qa 'vcon bench rx ready' "$2" 2>/dev/null && break
		sleep 0.1
	done
	python3 - "$1" "$TMP/rx.data" <<'PY'
import socket, sys, time, threading
s = socket.socket(socket.AF_UNIX)
for _ in range(400):
    try:
        s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.05)
def drain():
    try:
        while s.recv(65536): pass
    except OSError: pass
threading.Thread(target=drain, daemon=True).start()
try:
    s.sendall(open(sys.argv[2], "rb").read())
    time.sleep(30)
except OSError:
    pass
PY
}

# result OUT [DATA]: "MB/s notifies/MiB suppressed/MiB irqs/MiB check" from the guest's
# bench line (DATA: the host's copy of a guest->host stream, checked), or "failed".
result() {
	local l
	l=$(tr -d '\r' <"$1" | grep -m1 -E '^tg: vcon bench (tx|rx) port=') || { echo "failed - - - -"; return; }
	python3 - "$l" "${TSC_KHZ:-0}" "$TMP/pattern" "${2:-}" <<'PY'
import re, sys
line, khz, pat, data = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
f = dict(re.findall(r'(\w+)=([0-9.]+)', line))
b, cyc = int(f["bytes"]), int(f["cycles"])
us = cyc * 1000 / khz if khz else float(f["us"])
mib = b / (1 << 20)
check = "-"
if data:
    p = open(pat, "rb").read()
    got = open(data, "rb").read()
    want = (p * (b // len(p) + 1))[:b]
    check = "ok" if got == want else "BAD(%d of %d bytes)" % (len(got), b)
print("%.1f %.2f %.2f %.2f %s" % (b / us if us else 0, int(f["notifies"]) / mib,
      int(f.get("suppressed", 0)) / mib, int(f["irqs"]) / mib, check))
PY
}

run_vmdbg() { # DIR [GUEST-KEYS]
	local out=$TMP/vmdbg.$1 GARGS="$GARGS ${2:-}"
	rm -f "$TMP/v1"
	if [[ $1 == tx ]]; then
		timeout 120 "$VMDBG" --kernel "$ELF" --port 1:file:"$TMP/v1" \
			--append "mode=vcon-bench bytes=$BYTES port=1 seed=$SEED $GARGS" </dev/null >"$out" 2>&1
		result "$out" "$TMP/v1"
	else
		timeout 120 "$VMDBG" --kernel "$ELF" --port 2:unix:"$TMP/v2.sock" \
			--append "mode=vcon-bench dir=rx bytes=$RX_BYTES port=2 $GARGS" </dev/null >"$out" 2>&1 &
		local pid=$!
		feed "$TMP/v2.sock" "$out" &
		local fpid=$!
		wait "$pid"
		kill "$fpid" 2>/dev/null
		result "$out"
	fi
}

QEMU_ACCEL=kvm
qemu_args() {
	local cpu=()
	[[ $QEMU_ACCEL == kvm ]] && cpu=(-cpu qemu64)
	echo "-M microvm -accel $QEMU_ACCEL ${cpu[*]} -m 128M -smp 1 -display none -monitor none"
}

run_qemu() { # DIR [GUEST-KEYS]
	local out=$TMP/qemu.$1 c2 append GARGS="$GARGS ${2:-}"
	rm -f "$TMP/q1"
	if [[ $1 == tx ]]; then
		c2="null,id=c2"
		append="mode=vcon-bench port=1 bytes=$BYTES seed=$SEED $GARGS"
	else
		c2="socket,id=c2,path=$TMP/q2.sock,server=on,wait=off"
		append="mode=vcon-bench dir=rx port=2 bytes=$RX_BYTES $GARGS"
	fi
	# shellcheck disable=SC2046
	timeout 120 "$QEMU" $(qemu_args) -serial stdio -no-reboot -kernel "$ELF" -append "$append" \
		-device virtio-serial-device,max_ports=3 \
		-chardev null,id=c0 -device virtconsole,chardev=c0,name=ktstr-console,nr=0 \
		-chardev file,id=c1,path="$TMP/q1" -device virtserialport,chardev=c1,name=ktstr-bulk,nr=1 \
		-chardev "$c2" -device virtserialport,chardev=c2,name=ktstr-stats,nr=2 \
		</dev/null >"$out" 2>&1 &
	local pid=$! fpid=
	if [[ $1 == rx ]]; then feed "$TMP/q2.sock" "$out" & fpid=$!; fi
	wait "$pid"
	[[ -n $fpid ]] && kill "$fpid" 2>/dev/null
	if [[ $1 == tx ]]; then result "$out" "$TMP/q1"; else result "$out"; fi
}

command -v "$QEMU" >/dev/null || { echo "console_bench: $QEMU not found (scripts/deps.sh bench)" >&2; exit 2; }
# QEMU on this KVM: the test guest boots with -cpu qemu64; fall back to TCG if it does not.
if ! timeout 30 "$QEMU" -M microvm -accel kvm -cpu qemu64 -m 64M -display none -monitor none \
	-serial stdio -no-reboot -kernel "$ELF" -append mode=hello </dev/null 2>&1 | grep -q 'tg: done'; then
	QEMU_ACCEL=tcg
fi

# summary FILE: "median min max" of MB/s, the medians of the other columns, and the checks.
summary() {
	python3 - "$1" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip() and not l.startswith("failed")]
if not rows:
    print("failed - - - - - -"); sys.exit()
med = lambda xs: sorted(xs)[(len(xs) - 1) // 2] if len(xs) % 2 else sum(sorted(xs)[len(xs) // 2 - 1:len(xs) // 2 + 1]) / 2
col = lambda k: [float(r[k]) for r in rows]
bad = [r[4] for r in rows if r[4] not in ("ok", "-")]
check = "BAD" if bad else rows[0][4]
print("%.1f %.1f %.1f %.2f %.2f %.2f %s" % (med(col(0)), min(col(0)), max(col(0)), med(col(1)), med(col(2)), med(col(3)), check))
PY
}

echo "console throughput, test guest (mode=vcon-bench${GARGS:+ $GARGS}), $RUNS runs per cell" \
	"alternating, host TSC ${TSC_KHZ:-?} kHz; tx $((BYTES >> 20)) MiB, rx $((RX_BYTES >> 20)) MiB"
printf '| %-32s | %9s | %8s | %15s | %10s | %10s | %8s | %-7s |\n' \
	"direction, VMM" bytes "MB/s" "min..max" "notify/MiB" "suppr./MiB" "irq/MiB" check
printf '|%s|\n' "----------------------------------|-----------|----------|-----------------|------------|------------|----------|---------"
# Cells: guest->host with the Linux-like writer (a kmalloc'd buffer per chain, tg_vq_add,
# a kick per chain), the same with a pre-built descriptor ring (kick=reuse: still a kick
# per chain, less guest bookkeeping), and host->guest.
for cell in ${CONSOLE_BENCH_CELLS:-tx:kick=each tx:kick=reuse rx:}; do
	dir=${cell%%:*} keys=${cell#*:}
	what=$([[ $dir == tx ]] && echo "guest->host p1 $keys" || echo "host->guest p2")
	nbytes=$([[ $dir == tx ]] && echo "$BYTES" || echo "$RX_BYTES")
	: >"$TMP/r.vmdbg" && : >"$TMP/r.qemu"
	for ((r = 0; r < RUNS; r++)); do
		run_vmdbg "$dir" "$keys" >>"$TMP/r.vmdbg"
		run_qemu "$dir" "$keys" >>"$TMP/r.qemu"
	done
	read -r v_mb v_lo v_hi v_n v_s v_i v_c <<<"$(summary "$TMP/r.vmdbg")"
	read -r q_mb q_lo q_hi q_n q_s q_i q_c <<<"$(summary "$TMP/r.qemu")"
	printf '| %-32s | %9s | %8s | %15s | %10s | %10s | %8s | %-7s |\n' \
		"vmdbg $what" "$nbytes" "$v_mb" "$v_lo..$v_hi" "$v_n" "$v_s" "$v_i" "$v_c"
	printf '| %-32s | %9s | %8s | %15s | %10s | %10s | %8s | %-7s |\n' \
		"QEMU ($QEMU_ACCEL) $what" "$nbytes" "$q_mb" "$q_lo..$q_hi" "$q_n" "$q_s" "$q_i" "$q_c"
	if [[ $v_mb != failed && $q_mb != failed ]]; then
		# Ratio of the medians, and run by run (each vmdbg run against the QEMU run after it).
		ratios=$(paste -d' ' <(cut -d' ' -f1 "$TMP/r.vmdbg") <(cut -d' ' -f1 "$TMP/r.qemu") |
			awk '$1 != "failed" && $2 != "failed" && $2 > 0 { printf "%s%.2f", (NR > 1 ? " " : ""), $1 / $2 }')
		awk -v a="$v_mb" -v b="$q_mb" -v r="$ratios" \
			'BEGIN { printf "| %-32s | %9s | %7.2fx | per run: %s (target >= 1.5x)\n", "  ratio vmdbg/QEMU", "", a / b, r }'
	fi
done
