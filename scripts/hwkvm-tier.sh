#!/usr/bin/env bash
# The hwkvm tier of make check: integration tests inside L1, the nested SVM KVM of
# scripts/hwkvm.sh, each test file under prove. The emulated L1 itself sometimes wedges or
# panics (a soft lockup in its KVM, seen a few times in tens of runs; L1's kernel is told to
# panic then, which ends QEMU): the results written so far are kept, L1 is started again for
# the tests not yet run, and the test that was running when L1 died runs once more. A test
# whose L1 died twice fails, as does any test that fails in a healthy L1.
# usage: scripts/hwkvm-tier.sh TEST.t...     (from the project's top folder)
#        HWKVM_TIMEOUT: seconds for one L1 (default 1800)
set -uo pipefail

if [[ ${1:-} == --in-l1 ]]; then
	# Inside L1: run each test not yet in STATE, recording "running" first, then its status.
	state=$2
	shift 2
	for t in "$@"; do
		grep -qxF "$t done" "$state" 2>/dev/null && continue
		echo "$t running" >>"$state"
		prove --timer "$t"
		echo "$t $?" >>"$state"
		echo "$t done" >>"$state"
		sync
	done
	exit 0
fi

cd "$(dirname "$0")/.."
(($#)) || { echo "hwkvm-tier: no test given" >&2; exit 2; }
state=build/hwkvm/tier.state
mkdir -p build/hwkvm
: >"$state"
for attempt in 1 2 3 4 5; do
	scripts/hwkvm.sh --timeout "${HWKVM_TIMEOUT:-1800}" -- "$0" --in-l1 "$state" "$@"
	rc=$?
	left=()
	for t in "$@"; do grep -qxF "$t done" "$state" || left+=("$t"); done
	((${#left[@]})) || break
	# The test L1 died under: once more in a fresh L1, then it counts as failed.
	dead=${left[0]}
	if (($(grep -cxF "$dead running" "$state") >= 2)); then
		echo "hwkvm-tier: L1 ended twice while $dead ran (hwkvm.sh exit $rc): counted as failed"
		{ echo "$dead 1"; echo "$dead done"; } >>"$state"
	else
		echo "hwkvm-tier: L1 ended while $dead ran (hwkvm.sh exit $rc); starting L1 again for ${#left[@]} test(s)"
	fi
done
failed=0
for t in "$@"; do
	st=$(grep -E "^$t [0-9]+$" "$state" | tail -n 1 | cut -d' ' -f2)
	[[ ${st:-1} == 0 ]] || { echo "hwkvm-tier: $t: ${st:+exit }${st:-no result}"; failed=1; }
done
exit $failed
