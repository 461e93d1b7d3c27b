#!/usr/bin/env bash
# The unit and guest tiers with a sanitized vmdbg: scripts/sanitized.sh 1|thread (make's
# SANITIZE). Built apart, in build/asan or build/thread, so build/vmdbg stays the plain one
# the tiers running beside this one use. Exit status: 1 if either tier failed.
set -uo pipefail
cd "$(dirname "$0")/.."
case ${1:-} in
1) dir=build/asan ;;
thread) dir=build/thread ;;
*) echo "usage: scripts/sanitized.sh 1|thread" >&2; exit 2 ;;
esac
export VMDBG=$PWD/$dir/vmdbg
# One after the other: make would otherwise run the two tiers at once.
make --no-print-directory BUILD="$dir" SANITIZE="$1" check-unit
r=$?
make --no-print-directory BUILD="$dir" SANITIZE="$1" check-guest || r=1
exit $r
