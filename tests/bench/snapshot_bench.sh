#!/usr/bin/env bash
# Snapshot figures: file size, save time, restore time and restore-to-running time, for the
# test guest and for the Linux guest at virtcons_probe, next to the Linux boot time (the
# boot that makes the cached snapshot, tests/integration/lib.sh: linux_snapshot).
# Usage: tests/bench/snapshot_bench.sh [VMDBG] [GUEST]
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export VMDBG=${1:-${VMDBG:-$ROOT/build/vmdbg}}
export TEST_GUEST=${2:-${TEST_GUEST:-$ROOT/build/test-guest.elf}}
source "$ROOT/tests/integration/lib.sh" >/dev/null
ms() { date +%s%3N; }

# Test guest: saved after its 3rd heartbeat; running again = its next heartbeat printed.
printf '%s\n' 'wait console "tg: alive 3" 20s' "snapshot save $TMP/tg.snap" 'quit' >"$TMP/s.vmdbg"
"$VMDBG" --kernel "$TEST_GUEST" --cpus 2 --append mode=loop --script "$TMP/s.vmdbg" </dev/null >"$TMP/tg.out" 2>&1
tg_save=$(sed -n 's/^saved .*, \([0-9]*\) ms$/\1/p' "$TMP/tg.out")
t0=$(ms)
printf '%s\n' 'wait console "tg: alive 4" 20s' 'quit' >"$TMP/r.vmdbg"
"$VMDBG" -v --restore "$TMP/tg.snap" --script "$TMP/r.vmdbg" </dev/null >"$TMP/tgr.out" 2>&1
tg_run=$(($(ms) - t0))
tg_restore=$(sed -n 's/.*restored .* in \([0-9]*\) ms$/\1/p' "$TMP/tgr.out")

# Linux at virtcons_probe: running again = the driver's PORT_OPEN(0) after the handshake.
start=$SECONDS
linux_boot_snapshot || { echo "snapshot bench: the Linux boot failed"; exit 1; }
boot="$((SECONDS - start)) s (this run)"
((LINUX_SNAP_FRESH)) || boot="cached; boot log: $(grep -o 'snapshot saved .*' "$LINUX_SNAP_LOG" | head -1)"
printf '%s\n' "snapshot save $TMP/lx.snap" 'wait ctl PORT_OPEN 0 300s' 'quit' >"$TMP/l.vmdbg"
t0=$(ms)
"$VMDBG" -v --restore "$LINUX_SNAP" --script "$TMP/l.vmdbg" </dev/null >"$TMP/lx.out" 2>&1
lx_run=$(($(ms) - t0))
lx_restore=$(sed -n 's/.*restored .* in \([0-9]*\) ms$/\1/p' "$TMP/lx.out")
lx_save=$(sed -n 's/^saved .*, \([0-9]*\) ms$/\1/p' "$TMP/lx.out")

printf '%-28s %10s %8s %10s %s\n' guest "file" "save" "restore" "restore to running"
printf '%-28s %9dK %6sms %8sms %sms (next heartbeat)\n' "test guest (2 vCPUs)" \
	$(($(stat -c %s "$TMP/tg.snap") / 1024)) "${tg_save:--}" "${tg_restore:--}" "$tg_run"
printf '%-28s %9dK %6sms %8sms %sms (handshake done: PORT_OPEN 0)\n' "Linux at virtcons_probe" \
	$(($(stat -c %s "$LINUX_SNAP") / 1024)) "${lx_save:--}" "${lx_restore:--}" "$lx_run"
echo "Linux boot to virtcons_probe and on to init: $boot"
