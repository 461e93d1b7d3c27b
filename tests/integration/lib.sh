# TAP helpers for the integration tests (bash). Source it, call plan N, then ok/is/like.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VMDBG=${VMDBG:-$ROOT/build/vmdbg}
TEST_GUEST=${TEST_GUEST:-$ROOT/build/test-guest.elf}
GUEST_DIR=${GUEST_DIR:-$ROOT/build/guest}
# The Linux guest built from source; the uncompressed initramfs unpacks a minute faster on PVM.
LINUX_KERNEL=${LINUX_KERNEL:-$GUEST_DIR/vmlinux}
LINUX_INITRD=${LINUX_INITRD:-$GUEST_DIR/initramfs.cpio}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vmdbg-test.XXXXXX")
trap 'tap_cleanup' EXIT
_tap_n=0
_tap_failed=0
_tap_pids=()

plan() { echo "1..$1"; }
tap_cleanup() {
	local p
	for p in "${_tap_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
diag() { local l; while IFS= read -r l; do echo "# $l"; done <<<"$*"; }
ok() { # ok CONDITION-EXIT-STATUS NAME
	local st=$1; shift
	_tap_n=$((_tap_n + 1))
	if [[ $st -eq 0 ]]; then echo "ok $_tap_n - $*"; else echo "not ok $_tap_n - $*"; _tap_failed=1; fi
	return "$st"
}
is() { # is GOT WANT NAME
	local got=$1 want=$2; shift 2
	[[ "$got" == "$want" ]]; ok $? "$*" || diag "got '$got', want '$want'"
}
like() { # like FILE REGEX NAME: FILE has a line matching the extended REGEX
	local file=$1 re=$2; shift 2
	grep -Eq -- "$re" "$file"; ok $? "$*" || { diag "no line matches /$re/ in $file:"; diag "$(tail -n 15 "$file")"; }
}
unlike() {
	local file=$1 re=$2; shift 2
	! grep -Eq -- "$re" "$file"; ok $? "$*" || diag "$(grep -E -- "$re" "$file" | head -5)"
}
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n # skip $*"; }

# run_vm OUT TIMEOUT ARGS...: run vmdbg to its end with stdin from /dev/null; sets RC.
run_vm() {
	local out=$1 t=$2; shift 2
	timeout -k 5 "$t" "$VMDBG" "$@" </dev/null >"$out" 2>&1
	RC=$?
}

# start_vm OUT ARGS...: vmdbg in the background (stdin from a fifo kept open); sets VM_PID, VM_IN.
start_vm() {
	local out=$1; shift
	VM_IN=$TMP/stdin.$RANDOM
	mkfifo "$VM_IN"
	"$VMDBG" "$@" <"$VM_IN" >"$out" 2>&1 &
	VM_PID=$!
	_tap_pids+=("$VM_PID")
	exec {VM_IN_FD}>"$VM_IN"
}

# wait_for FILE REGEX SECONDS: poll until FILE matches or the time is up (returns 1).
wait_for() {
	local file=$1 re=$2 t=$3 end=$((SECONDS + $3))
	while ((SECONDS < end)); do
		grep -Eq -- "$re" "$file" 2>/dev/null && return 0
		if [[ -n ${VM_PID:-} ]] && ! kill -0 "$VM_PID" 2>/dev/null; then
			grep -Eq -- "$re" "$file" 2>/dev/null && return 0
			return 1
		fi
		sleep 0.2
	done
	return 1
}

# stop_vm: end a background vmdbg with SIGTERM and collect its status in RC.
stop_vm() {
	kill -TERM "$VM_PID" 2>/dev/null
	local i
	for i in $(seq 50); do kill -0 "$VM_PID" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$VM_PID" 2>/dev/null
	wait "$VM_PID" 2>/dev/null
	RC=$?
	exec {VM_IN_FD}>&-
}

done_testing() { exit $_tap_failed; }
