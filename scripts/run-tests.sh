#!/usr/bin/env bash
# The test tiers of `make check`, each timed:
#   unit   cmocka unit tests (TAP through prove), no KVM
#   guest  integration tests against the freestanding test guest (seconds)
#   linux  integration tests against the Linux guests (minutes: few, batched boots)
# usage: scripts/run-tests.sh [--only unit|guest|linux] UNIT_BIN_DIR
set -uo pipefail
cd "$(dirname "$0")/.."

only=
if [[ ${1:-} == --only ]]; then only=$2; shift 2; fi
unit_dir=${1:?usage: run-tests.sh [--only TIER] UNIT_BIN_DIR}

scripts/deps.sh build test >/dev/null || { echo "run-tests: cannot install the test dependencies" >&2; exit 2; }

declare -a summary
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
tier() {
	local name=$1; shift
	[[ -z $only || $only == "$name" ]] || return 0
	local start=$SECONDS
	echo "=== tier $name"
	if "$@" 2>&1 | tee -a "$log"; (( PIPESTATUS[0] == 0 )); then
		summary+=("tier $name: ok ($((SECONDS - start))s)")
	else
		summary+=("tier $name: FAILED ($((SECONDS - start))s)")
		failed=1
	fi
}

# cmocka speaks TAP when asked; prove then runs unit and integration tests alike.
export CMOCKA_MESSAGE_OUTPUT=TAP
mapfile -t unit_tests < <(find "$unit_dir" -maxdepth 1 -type f -name 'test_*' ! -name '*.d' -perm -u+x | sort)
tier unit prove --exec '' --timer "${unit_tests[@]}"
tier guest prove --timer tests/integration/guest/*.t
tier linux bash -c 'scripts/mkguest.sh && prove -v --timer tests/integration/linux/*.t'

echo "=== summary"
printf '%s\n' "${summary[@]}"
# prove's own counts, added over the tiers: "Files=N, Tests=T" and "Tests: T Failed: F".
total=$(grep -oE '^Files=[0-9]+, Tests=[0-9]+' "$log" | awk -F= '{s += $3} END {print s + 0}')
bad=$(grep -oE 'Tests: [0-9]+ Failed: [0-9]+' "$log" | awk '{s += $4} END {print s + 0}')
echo "tests: $((total - bad)) passed, $bad failed"
exit $failed
