#!/usr/bin/env bash
# The test tiers of `make check`, each timed:
#   unit      cmocka unit tests (TAP through prove), no KVM
#   regress   every fuzz target replays its seed corpus and kept crash inputs (clang)
#   guest     integration tests against the freestanding test guest (seconds)
#   linux     integration tests against the Linux guest: one boot per machine to a
#             snapshot at virtcons_probe, then restores (see tests/integration/lib.sh)
#   hwkvm     the guest and Linux tiers again inside L1, a nested hardware-style KVM
#             (scripts/hwkvm.sh: kvm_amd under QEMU TCG), where guest user space runs
#   soak      1 GiB with a slow reader, 1000 gdb reconnects, 1000 pause/resume (minutes)
#   fuzz      every libFuzzer target for CHECK_FUZZ_SECONDS (default 20) seconds
#   sanitize  unit and guest tiers again with ASan and UBSan (make SANITIZE=1)
#   tsan      unit and guest tiers again with ThreadSanitizer (make SANITIZE=thread)
# usage: scripts/run-tests.sh [--only TIER] UNIT_BIN_DIR
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
if [[ -z $only || $only == regress || $only == fuzz ]]; then
	scripts/deps.sh fuzz >/dev/null || { echo "run-tests: cannot install clang for the fuzz targets" >&2; exit 2; }
fi
tier regress make --no-print-directory -f tests/fuzz/fuzz.mk fuzz-regress
# Test-guest files run side by side, one per core (CHECK_JOBS): each VM keeps about one core
# busy (measured here, 2 cores: the guest tier 271 s one at a time, 146 s two at a time).
# The Linux tier runs one file at a time: a PVM Linux boot alongside the guest tier took 334 s
# instead of 130 s (the emulated guest's cost grows far faster than its share of the cores).
jobs=${CHECK_JOBS:-$(nproc)}
tier guest prove -j"$jobs" --timer tests/integration/guest/*.t
tier linux bash -c 'scripts/mkguest.sh && prove -v --timer tests/integration/linux/*.t'
# Inside L1 each test runs as here (scripts/hwkvm-tier.sh: a fresh L1 if the emulated one dies).
# A sanitized build is checked here on this KVM only (make check SANITIZE=1|thread).
# Nothing runs beside it: tried, the other tiers slowed L1 two- to threefold and its
# emulated CPUs wedged more often, for no time saved.
[[ ${SANITIZE:-0} != 0 ]] ||
	tier hwkvm bash -c 'scripts/mkguest.sh >/dev/null && scripts/hwkvm-tier.sh tests/integration/guest/*.t tests/integration/linux/*.t'
[[ -n $only ]] || [[ ${SANITIZE:-0} != 0 ]] || {
	tier soak tests/soak/run.sh -j"$jobs"
	tier fuzz make --no-print-directory -f tests/fuzz/fuzz.mk fuzz FUZZ_SECONDS="${CHECK_FUZZ_SECONDS:-20}" FUZZ_JOBS="$jobs"
	tier sanitize scripts/sanitized.sh 1
	tier tsan scripts/tsan.sh
}

echo "=== summary"
printf '%s\n' "${summary[@]}"
# CI shows only the log's tail: name the failing files and test numbers here (prove's own report).
awk '/^Test Summary Report/ {on = 1; next} /^Files=/ {on = 0} on && !/^-+$/' "$log"
# prove's own counts, added over the tiers: "Files=N, Tests=T" and "Tests: T Failed: F".
total=$(grep -oE '^Files=[0-9]+, Tests=[0-9]+' "$log" | awk -F= '{s += $3} END {print s + 0}')
bad=$(grep -oE 'Tests: [0-9]+ Failed: [0-9]+' "$log" | awk '{s += $4} END {print s + 0}')
echo "tests: $((total - bad)) passed, $bad failed"
exit $failed
