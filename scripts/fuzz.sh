#!/usr/bin/env bash
# Run the libFuzzer targets built by tests/fuzz/fuzz.mk (see tests/fuzz/README.md).
#   scripts/fuzz.sh run SECONDS TARGET...      fuzz each target for SECONDS, one after another
#   scripts/fuzz.sh regress 0 TARGET...        replay corpus/ and regress/ once, no fuzzing
#   FUZZ_RUNS=N scripts/fuzz.sh run SECONDS ...  also stop a target after N executions
# Fuzzing works on a copy of the corpus in build/fuzz/corpus/<target>; a crash
# leaves its input in tests/fuzz/regress/<target>/ (the regression suite).
# Prints one line per target and exits 1 when any target crashed.
set -uo pipefail

mode=${1:?usage: fuzz.sh run|regress SECONDS TARGET...}
secs=${2:?usage: fuzz.sh run|regress SECONDS TARGET...}
shift 2
FZ=build/fuzz
failed=0
# Quiet, symbolized reports; leaks are checked (the harnesses free what they make).
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for t in "$@"; do
	bin=$FZ/fuzz_$t
	seeds=tests/fuzz/corpus/$t
	regress=tests/fuzz/regress/$t
	log=$FZ/log/$t.log
	mkdir -p "$FZ/log" "$regress"
	[[ -x $bin ]] || { echo "fuzz.sh: $bin is not built" >&2; exit 2; }
	if [[ $mode == regress ]]; then
		inputs=$(find "$seeds" "$regress" -type f ! -name '.*' 2>/dev/null | sort)
		n=$(printf '%s\n' "$inputs" | grep -c . || true)
		if [[ $n -eq 0 ]]; then
			printf '%-10s no inputs\n' "$t"
			continue
		fi
		start=$(date +%s%N)
		# shellcheck disable=SC2086 # one argument per input file
		if "$bin" -runs=1 -timeout=25 $inputs >"$log" 2>&1; then
			ms=$((($(date +%s%N) - start) / 1000000))
			printf '%-10s %4d inputs replayed, ok (%d ms)\n' "$t" "$n" "$ms"
		else
			printf '%-10s FAILED replaying its inputs; see %s\n' "$t" "$log"
			grep -a -m2 -E 'invariant violated|ERROR: |runtime error' "$log" | sed 's/^/           /'
			failed=1
		fi
		continue
	fi
	work=$FZ/corpus/$t
	mkdir -p "$work"
	cp -n "$seeds"/* "$work"/ 2>/dev/null || true
	before=$(find "$regress" -type f | wc -l)
	start=$SECONDS
	nice -n 10 "$bin" -max_total_time="$secs" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} -timeout=25 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$regress/" "$work" "$seeds" \
		>"$log" 2>&1
	rc=$?
	after=$(find "$regress" -type f | wc -l)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	corpus=$(find "$work" -type f | wc -l)
	crashes=$((after - before))
	printf '%-10s %10s execs %7s exec/s %6d corpus %3d crashes  (%ss)\n' "$t" "${execs:-?}" \
		"${rate:-?}" "$corpus" "$crashes" "$((SECONDS - start))"
	if [[ $rc -ne 0 || $crashes -gt 0 ]]; then
		failed=1
		grep -a -m3 -E 'ERROR|invariant|runtime error|Test unit written' "$log" | sed 's/^/           /'
	fi
done
exit $failed
