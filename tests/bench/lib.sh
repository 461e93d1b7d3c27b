# shellcheck shell=bash
# Helpers shared by scripts/bench.sh and tests/bench/*_bench.sh (sourced; bash).
#
# The waits poll the output file without starting processes (bash's read and test
# builtins, EPOCHREALTIME for the clock): inside scripts/hwkvm.sh's L1 every fork and exec
# runs under QEMU's TCG, and a grep plus a sleep per poll would cost more than the figure
# being taken and take CPU from the VMM under test.

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
minmax() { sort -g | awk 'NR==1{min=$1} {max=$1} END {printf "%s %s", min, max}'; }

# now_ns: wall-clock nanoseconds, as `date +%s%N` gives them, into NOW_NS (a variable, so
# that no subshell is needed; bash 5's EPOCHREALTIME needs no process either).
now_ns() {
	if [[ -n ${EPOCHREALTIME:-} ]]; then
		local t=${EPOCHREALTIME/[.,]/}
		NOW_NS=$((10#$t * 1000))
	else
		NOW_NS=$(date +%s%N)
	fi
}

# secs_since VAR START_NS: seconds from START_NS to now, three decimals, into VAR.
secs_since() {
	now_ns
	local ms=$(((NOW_NS - $2) / 1000000))
	printf -v "$1" '%d.%03d' $((ms / 1000)) $((ms % 1000))
}

# A sleep without a process: a read on a pipe that nobody writes to times out.
exec {_bench_nap_fd}<> <(:)
bench_nap() { read -r -t "$1" -u "$_bench_nap_fd" _ 2>/dev/null || true; }

# time_to_line [-e] LOG LIMIT ERE CMD...: runs CMD (stdin /dev/null, stdout and stderr to
# LOG) and prints the seconds from its start until a line of LOG matches ERE (bash =~),
# or "died" when CMD ends or LIMIT seconds pass first. CMD is then killed; with -e it is
# left to end by itself (within LIMIT of its start) and two more words follow: the seconds
# until it exited, or "hung" (killed at LIMIT), and its exit status. BENCH_POLL: poll
# period (default 0.02 s).
time_to_line() {
	local to_exit=0
	[[ $1 == -e ]] && { to_exit=1; shift; }
	local log=$1 limit=$2 re=$3
	shift 3
	local start pid fd line part='' seen=died ended=hung deadline alive poll=${BENCH_POLL:-0.02}
	: >"$log"
	exec {fd}<"$log"
	now_ns
	start=$NOW_NS deadline=$((NOW_NS + limit * 1000000000))
	"$@" </dev/null >"$log" 2>&1 {fd}<&- {_bench_nap_fd}<&- &
	pid=$!
	while :; do
		alive=0
		kill -0 "$pid" 2>/dev/null && alive=1
		# Whole lines; a line still being written is kept and joined with its rest.
		while IFS= read -r -u "$fd" line; do
			line=$part$line part=
			[[ $line =~ $re ]] && { secs_since seen "$start"; break 2; }
		done
		part+=$line
		[[ -n $part && $part =~ $re ]] && { secs_since seen "$start"; break; }
		now_ns
		((alive && NOW_NS < deadline)) || break
		bench_nap "$poll"
	done
	exec {fd}<&-
	if ((!to_exit)); then
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		echo "$seen"
		return 0
	fi
	while :; do
		kill -0 "$pid" 2>/dev/null || { secs_since ended "$start"; break; }
		now_ns
		((NOW_NS < deadline)) || break
		bench_nap "$poll"
	done
	[[ $ended == hung ]] && kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "$seen $ended $?"
}

# time_to_init LOG CMD...: seconds from start until the kernel runs init, or "died"
# (LINUX_LIMIT seconds at most, default 600). One decimal.
time_to_init() {
	local log=$1 t ms
	shift
	t=$(time_to_line "$log" "${LINUX_LIMIT:-600}" 'Run /(init|idle) as init process' "$@")
	[[ $t == died ]] && { echo died; return 0; }
	ms=$((10#${t/./} + 50))
	echo "$((ms / 1000)).$((ms % 1000 / 100))"
}
