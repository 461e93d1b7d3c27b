#!/usr/bin/env bash
# The ThreadSanitizer tier: the unit and guest tiers again with `make SANITIZE=thread`.
# Every vmdbg process writes its reports to build/tsan/report.PID (and exits 66, failing its
# test); any report fails the tier and is printed whole.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=$PWD/build/tsan
rm -rf "$dir" && mkdir -p "$dir"
export TSAN_OPTIONS="log_path=$dir/report second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
scripts/sanitized.sh thread
r=$?
reports=("$dir"/report.*)
if [[ -e ${reports[0]} ]]; then
	cat "${reports[@]}"
	echo "tsan: ${#reports[@]} vmdbg process(es) reported races (above; kept in $dir)"
	r=1
fi
exit $r
