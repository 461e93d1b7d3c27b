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
tier() {
	local name=$1; shift
	[[ -z $only || $only == "$name" ]] || return 0
	local start=$SECONDS
	echo "=== tier $name"
	if "$@"; then
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
exit $failed
