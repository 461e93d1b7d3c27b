#!/usr/bin/env bash
# Console throughput with the same test guest driver: vmdbg's virtio-console against QEMU
# microvm's virtio-serial-device, guest->host on port 1 and host->guest on port 2.
#   tests/bench/console_bench.sh [BYTES]      (default 64 MiB)
# The guest measures (TSC) and counts its own notifies and interrupts (mode=vcon-bench).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VMDBG=${VMDBG:-$ROOT/build/vmdbg}
ELF=${TEST_GUEST:-$ROOT/build/test-guest.elf}
QEMU=${QEMU:-qemu-system-x86_64}
BYTES=${1:-$((64 << 20))}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
head -c "$BYTES" /dev/zero | tr '\0' 'x' >"$TMP/rx.data"

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

# result FILE: "MB/s notifies/MiB irqs/MiB" from the guest's bench line, or "failed".
result() {
	local l
	l=$(tr -d '\r' <"$1" | grep -m1 -E '^tg: vcon bench (tx|rx) port=') || { echo "failed - -"; return; }
	sed -E 's/.*MBps=([0-9.]+) .*notifies_per_mib=([0-9]+) irqs_per_mib=([0-9]+).*/\1 \2 \3/' <<<"$l"
}

run_vmdbg() { # DIR
	local out=$TMP/vmdbg.$1
	if [[ $1 == tx ]]; then
		timeout 120 "$VMDBG" --kernel "$ELF" --port 1:file:"$TMP/v1" \
			--append "mode=vcon-bench bytes=$BYTES port=1" </dev/null >"$out" 2>&1
	else
		timeout 120 "$VMDBG" --kernel "$ELF" --port 2:unix:"$TMP/v2.sock" \
			--append "mode=vcon-bench dir=rx bytes=$BYTES port=2" </dev/null >"$out" 2>&1 &
		local pid=$!
		feed "$TMP/v2.sock" "$out" &
		local fpid=$!
		wait "$pid"
		kill "$fpid" 2>/dev/null
	fi
	result "$out"
}

QEMU_ACCEL=kvm
qemu_args() {
	local cpu=()
	[[ $QEMU_ACCEL == kvm ]] && cpu=(-cpu qemu64)
	echo "-M microvm -accel $QEMU_ACCEL ${cpu[*]} -m 128M -smp 1 -display none -monitor none"
}

run_qemu() { # DIR
	local out=$TMP/qemu.$1 c2
	if [[ $1 == tx ]]; then c2="null,id=c2"; else c2="socket,id=c2,path=$TMP/q2.sock,server=on,wait=off"; fi
	# shellcheck disable=SC2046
	timeout 120 "$QEMU" $(qemu_args) -serial stdio -no-reboot -kernel "$ELF" \
		-append "mode=vcon-bench $([[ $1 == rx ]] && echo dir=rx port=2 || echo port=1) bytes=$BYTES" \
		-device virtio-serial-device,max_ports=3 \
		-chardev null,id=c0 -device virtconsole,chardev=c0,name=ktstr-console,nr=0 \
		-chardev file,id=c1,path="$TMP/q1" -device virtserialport,chardev=c1,name=ktstr-bulk,nr=1 \
		-chardev "$c2" -device virtserialport,chardev=c2,name=ktstr-stats,nr=2 \
		</dev/null >"$out" 2>&1 &
	local pid=$! fpid=
	if [[ $1 == rx ]]; then feed "$TMP/q2.sock" "$out" & fpid=$!; fi
	wait "$pid"
	[[ -n $fpid ]] && kill "$fpid" 2>/dev/null
	result "$out"
}

command -v "$QEMU" >/dev/null || { echo "console_bench: $QEMU not found (scripts/deps.sh bench)" >&2; exit 2; }
# QEMU on this KVM: the test guest boots with -cpu qemu64; fall back to TCG if it does not.
if ! timeout 30 "$QEMU" -M microvm -accel kvm -cpu qemu64 -m 64M -display none -monitor none \
	-serial stdio -no-reboot -kernel "$ELF" -append mode=hello </dev/null 2>&1 | grep -q 'tg: done'; then
	QEMU_ACCEL=tcg
fi

printf '%-34s %10s %14s %12s\n' "console, $((BYTES >> 20)) MiB, test guest" "MB/s" "notifies/MiB" "irqs/MiB"
for dir in tx rx; do
	what=$([[ $dir == tx ]] && echo "guest->host port 1" || echo "host->guest port 2")
	read -r v_mb v_n v_i <<<"$(run_vmdbg $dir)"
	read -r q_mb q_n q_i <<<"$(run_qemu $dir)"
	printf '%-34s %10s %14s %12s\n' "vmdbg  $what" "$v_mb" "$v_n" "$v_i"
	printf '%-34s %10s %14s %12s\n' "QEMU ($QEMU_ACCEL) $what" "$q_mb" "$q_n" "$q_i"
	if [[ $v_mb != failed && $q_mb != failed ]]; then
		awk -v a="$v_mb" -v b="$q_mb" -v w="$what" 'BEGIN { printf "%-34s %9.2fx  (target >= 1.5x)\n", "  ratio " w, a / b }'
	fi
done
