#!/usr/bin/env bash
# REPL benchmark (issue 4): pause-all / resume latency with 1, 2 and 8 vCPUs through vmdbg's
# REPL, next to QEMU's stop/cont through HMP and QMP on the same test guest, and the time of
# `vq dump` of a full 256-entry queue. The work is in repl_bench.py; this wrapper bounds it.
# Usage: tests/bench/repl_bench.sh [VMDBG] [GUEST]
#   REPL_ROUNDS (200) pause/resume rounds per configuration, REPL_DUMP_ROUNDS (50),
#   REPL_CPUS (1,2,8), REPL_LIMIT (900 s for the whole run)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VMDBG=${1:-${VMDBG:-$ROOT/build/vmdbg}}
GUEST=${2:-${TEST_GUEST:-$ROOT/build/test-guest.elf}}
PID=
trap '[[ -n $PID ]] && kill -TERM "$PID" 2>/dev/null; wait 2>/dev/null' EXIT INT TERM

if ! command -v python3 >/dev/null; then
	echo "## REPL pause/resume and vq dump"
	echo "skipped: python3 not found"
	exit 0
fi
for f in "$VMDBG" "$GUEST"; do
	if [[ ! -r $f ]]; then
		echo "## REPL pause/resume and vq dump"
		echo "skipped: $f missing (run make)"
		exit 0
	fi
done
# timeout sends TERM first: repl_bench.py then quits vmdbg and kills QEMU before exiting.
timeout -k 10 "${REPL_LIMIT:-900}" python3 "$ROOT/tests/bench/repl_bench.py" \
	--vmdbg "$VMDBG" --guest "$GUEST" --rounds "${REPL_ROUNDS:-200}" \
	--dump-rounds "${REPL_DUMP_ROUNDS:-50}" --cpus "${REPL_CPUS:-1,2,8}" &
PID=$!
wait "$PID"
rc=$?
PID=
((rc == 124)) && echo "repl bench: stopped after ${REPL_LIMIT:-900} s"
exit 0
