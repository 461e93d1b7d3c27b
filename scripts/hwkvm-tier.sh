#!/usr/bin/env bash
# The hwkvm tier of make check: integration tests inside L1, the nested SVM KVM of
# scripts/hwkvm.sh, each test file under prove.
#
# The emulated machine itself is not fully reliable (QEMU's SVM under TCG, measured here:
# 7.2 often, 10.0 seldom): L1 sometimes panics or wedges, and a nested vCPU now and then
# triple-faults with no cause in the guest. So:
#  - a test that runs longer than HWKVM_TEST_LIMIT seconds (default 360; the slowest,
#    quiet_stops.t with its three holds, takes about 160) has wedged L1, and so
#    has an L1 whose 5-second heartbeat stopped for 120 s:
#    L1 is ended;
#  - when L1 ends, the results so far are kept and L1 starts again for the tests left; the
#    test it died under runs once more; if L1 dies under it twice, the test could not be
#    run here: that is said in a line of its own and does not fail the tier (the emulator
#    failed, not the test);
#  - a test that fails runs again in the same L1, up to three runs; the tier passes it only
#    if a run passes, and says so. Earlier runs' output stays in the log, TAP counts quoted.
#    A Linux test whose every run failed with its guest's vCPU triple-faulting (no cause in
#    the guest: the emulator's) is reported NOT RUN, like one under which L1 died twice.
# usage: scripts/hwkvm-tier.sh TEST.t...     (from the project's top folder)
#        HWKVM_TIMEOUT: seconds for one L1 (default 3000: the whole tier runs in one)
set -uo pipefail

# The state is a folder of whole files, each written at once (appending over L1's 9p
# mount proved unreliable): NAME.runs (times started), NAME.status, NAME.rerun, and
# current (the test running now; its age is what the watchdog reads).
key() { echo "${1//\//_}"; }

if [[ ${1:-} == --in-l1 ]]; then
	# Inside L1: run each test that has no status yet.
	state=$2
	shift 2
	# quiet_stops.t holds the Linux guest three times: 40 s here (PVM's tier: 60 s) is still
	# twice the thresholds of the warnings it checks for (RCU stall 21 s, soft lockup 20 s).
	export LINUX_QUIET_HOLD_MS=${LINUX_QUIET_HOLD_MS:-40000}
	# L1's pulse for the watchdog: a wedged L1 stops it long before a test's time limit.
	while :; do : >"$state/heartbeat"; sleep 5; done &
	hb=$!
	trap 'kill "$hb" 2>/dev/null' EXIT
	for t in "$@"; do
		k=$(key "$t")
		[[ -e $state/$k.status ]] && continue
		echo $(($(cat "$state/$k.runs" 2>/dev/null || echo 0) + 1)) >"$state/$k.runs"
		echo "$t" >"$state/current"
		sync
		# Up to three runs; only the last is counted by make check's tally: the earlier
		# ones are quoted.
		for run in 1 2 3; do
			: >"$state/started"
			prove --timer "$t" >"$state/out" 2>&1
			st=$?
			# A Linux guest's vCPU triple-faulting for no reason of the guest's is the
			# emulator's doing (seen again and again here): the run proves nothing.
			if ((st)) && [[ $t == */linux/* && -n ${VMDBG_TEST_KEEP:-} && -n $(find "$VMDBG_TEST_KEEP" \
				-newer "$state/started" -type f -name 'vm*' \
				-exec grep -l 'triple fault (KVM_EXIT_SHUTDOWN)' {} + 2>/dev/null) ]]; then
				st=shutdown
			fi
			[[ $st != 0 && $run -lt 3 ]] || break
			sed -e "s/^/run $run| /" -e 's/Files=/files=/; s/Tests: /tests: /' "$state/out"
			echo "hwkvm-tier: $t failed; running it again (the nested KVM is emulated)"
			: >"$state/$k.rerun"
			echo "$t" >"$state/current"
		done
		if [[ $st == shutdown ]]; then
			sed -e "s/^/run $run| /" -e 's/Files=/files=/; s/Tests: /tests: /' "$state/out"
		else
			cat "$state/out"
		fi
		echo "$st" >"$state/$k.status"
		rm -f "$state/current"
		sync
	done
	exit 0
fi

cd "$(dirname "$0")/.."
(($#)) || { echo "hwkvm-tier: no test given" >&2; exit 2; }
project=$PWD
state=build/hwkvm/tier.state
limit=${HWKVM_TEST_LIMIT:-360}
# L1 touches state/heartbeat every 5 s; this long without it (a loaded L1 still does it within
# seconds) means L1 itself has stopped.
HEARTBEAT_LIMIT=120
mkdir -p build/hwkvm
rm -rf build/hwkvm/run.* "$state"
mkdir -p "$state"

# watchdog PID: while L1 (hwkvm.sh, PID) runs, end it when one test has run past the limit.
watchdog() {
	local pid=$1 age
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		[[ -e $state/current ]] || continue
		now=$(date +%s)
		age=$((now - $(stat -c %Y "$state/current" 2>/dev/null || echo "$now")))
		pulse=$((now - $(stat -c %Y "$state/heartbeat" 2>/dev/null || echo "$now")))
		if ((age > limit || pulse > HEARTBEAT_LIMIT)); then
			if ((age > limit)); then
				echo "hwkvm-tier: $(cat "$state/current") still running after ${limit}s: L1 has wedged; ending it"
			else
				echo "hwkvm-tier: L1 has given no sign of life for ${pulse}s (during $(cat "$state/current")): wedged; ending it"
			fi
			pkill -TERM -f "hwkvm.run=$project/build/hwkvm/run" 2>/dev/null
			return
		fi
	done
}

for attempt in 1 2 3 4 5 6; do
	scripts/hwkvm.sh --timeout "${HWKVM_TIMEOUT:-3000}" -- "$0" --in-l1 "$state" "$@" &
	pid=$!
	watchdog "$pid" &
	wpid=$!
	wait "$pid"
	rc=$?
	kill "$wpid" 2>/dev/null
	wait "$wpid" 2>/dev/null
	rm -f "$state/current"
	left=()
	for t in "$@"; do [[ -e $state/$(key "$t").status ]] || left+=("$t"); done
	((${#left[@]})) || break
	# The test L1 died under: once more in a fresh L1, then it counts as failed.
	dead=${left[0]}
	k=$(key "$dead")
	if (($(cat "$state/$k.runs" 2>/dev/null || echo 0) >= 2)); then
		echo "hwkvm-tier: L1 ended twice while $dead ran (hwkvm.sh exit $rc): not run here"
		echo died >"$state/$k.status"
		((${#left[@]} > 1)) || break
	else
		echo "hwkvm-tier: L1 ended while $dead ran (hwkvm.sh exit $rc); starting L1 again for ${#left[@]} test(s)"
	fi
done
failed=0
for t in "$@"; do
	k=$(key "$t")
	st=$(cat "$state/$k.status" 2>/dev/null)
	if [[ $st == died ]]; then
		echo "hwkvm-tier: $t NOT RUN: the emulated L1 died under it twice (see above)"
		continue
	fi
	if [[ $st == shutdown ]]; then
		echo "hwkvm-tier: $t NOT RUN: in each of three runs a nested vCPU of its Linux guest triple-faulted (the emulator; see above)"
		continue
	fi
	[[ ${st:-1} == 0 ]] || { echo "hwkvm-tier: $t: ${st:+exit }${st:-no result}"; failed=1; }
	[[ -e $state/$k.rerun && ${st:-1} == 0 ]] && echo "hwkvm-tier: $t passed after a failed run (see above)"
done
exit $failed
