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

_tap_plan=0
plan() { _tap_plan=$1; echo "1..$1"; }
tap_cleanup() {
	local p
	for p in "${_tap_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	# A failed test keeps its files (vmdbg's output, the guest's console) for a look.
	# VMDBG_TEST_KEEP (set by scripts/hwkvm.sh, whose L1 has its /tmp in memory) is a folder
	# that outlives the run: the files are moved there, sockets and FIFOs left out (over
	# L1's 9p share, creating one made QEMU call the client compromised and end L1).
	if ((_tap_failed)) && [[ -n ${VMDBG_TEST_KEEP:-} ]] && mkdir -p "$VMDBG_TEST_KEEP" &&
		find "$TMP" \( -type s -o -type p \) -delete 2>/dev/null &&
		cp -r "$TMP" "$VMDBG_TEST_KEEP/" 2>/dev/null; then
		rm -rf "$TMP"
		TMP=$VMDBG_TEST_KEEP/${TMP##*/}
	fi
	if ((_tap_failed)); then echo "# failed: this test's files are kept in $TMP" >&2; else rm -rf "$TMP"; fi
}
# To stderr, as Test::More does: prove shows it without -v, so a failure explains itself in
# every tier's log (the hwkvm tier's L1 keeps no other trace of it).
diag() { local l; while IFS= read -r l; do echo "# $l"; done <<<"$*" >&2; }
ok() { # ok CONDITION-EXIT-STATUS NAME
	local st=$1; shift
	_tap_n=$((_tap_n + 1))
	if [[ $st -eq 0 ]]; then echo "ok $_tap_n - $*"; else
		echo "not ok $_tap_n - $*"
		echo "#   Failed test $_tap_n - $*" >&2
		_tap_failed=1
	fi
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

# run_vm OUT TIMEOUT ARGS...: run vmdbg to its end with stdin from /dev/null; sets RC. OUT.lf is
# OUT without the CRs of the guest's serial line ends, for line-anchored patterns.
run_vm() {
	local out=$1 t=$2; shift 2
	timeout -k 5 "$t" "$VMDBG" "$@" </dev/null >"$out" 2>&1
	RC=$?
	tr -d '\r' <"$out" >"$out.lf"
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

# guest_text FILE: vmdbg's output with its own message lines taken out. vmdbg writes a message
# at once but the guest's COM1 bytes when its main thread drains them, so a message can land
# inside a guest line the guest had already finished ("tg: loop running" + a notice + " with
# ..."); without the messages the guest's lines are whole again.
guest_text() { perl -0pe 's/vmdbg: [^\n]*\n//g' "$1" 2>/dev/null; }

# wait_for [--guest] FILE REGEX SECONDS: poll until FILE (with --guest: its guest_text)
# matches or the time is up (returns 1).
wait_for() {
	local match=_file_matches
	[[ $1 == --guest ]] && { match=_guest_matches; shift; }
	local file=$1 re=$2 t=$3 end=$((SECONDS + $3))
	while ((SECONDS < end)); do
		"$match" "$file" "$re" && return 0
		if [[ -n ${VM_PID:-} ]] && ! kill -0 "$VM_PID" 2>/dev/null; then
			"$match" "$file" "$re" && return 0
			return 1
		fi
		sleep 0.2
	done
	return 1
}
_file_matches() { grep -Eq -- "$2" "$1" 2>/dev/null; }
# -c, not -q: grep leaving early would fail the pipe (pipefail) with perl's SIGPIPE.
_guest_matches() { guest_text "$1" | grep -Ec -- "$2" >/dev/null; }

# tg_alive [FILE]: the last N of the test guest's "tg: alive N" lines in FILE ($TMP/vm).
tg_alive() { tr -d '\r' <"${1:-$TMP/vm}" | grep -aoE '^tg: alive [0-9]+' | tail -n 1 | awk '{ print $3 + 0 }'; }

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

# kvm_lacks CAP: 0, with KVM_LACKS_WHY set to the probe's own line ("sw-breakpoint: no (the
# guest took #BP itself: ...)"), when `vmdbg --probe-kvm` says CAP (sw-breakpoint,
# hw-breakpoint, watchpoint, single-step) does not reach vmdbg on this KVM; 1 when it does
# (or the probe could not run: vmdbg then inserts breakpoints unchecked). Probed once per
# test. Checks that need int3 exits or debug-register hits skip with
#   if kvm_lacks sw-breakpoint; then skip "what: $KVM_LACKS_WHY"; else ...; fi
# VMDBG_PROBE_KVM_OUTPUT names a file whose text stands in for the probe's, to walk the skip
# paths on a KVM that has everything.
KVM_LACKS_WHY=
kvm_lacks() {
	if [[ -z ${_kvm_probe_out+set} ]]; then
		if [[ -n ${VMDBG_PROBE_KVM_OUTPUT:-} ]]; then
			_kvm_probe_out=$(cat "$VMDBG_PROBE_KVM_OUTPUT")
		else
			_kvm_probe_out=$("$VMDBG" --probe-kvm 2>&1)
		fi
	fi
	local line
	line=$(grep -m1 -E "^$1: (yes|no)" <<<"$_kvm_probe_out")
	[[ -n $line ]] || diag "kvm_lacks: vmdbg --probe-kvm has no '$1' line; taken as there"
	[[ $line == "$1: no"* ]] || return 1
	KVM_LACKS_WHY=$line
	return 0
}

# skip_rest REASON: every check left in the plan is skipped with REASON; the test ends.
skip_rest() {
	while ((_tap_n < _tap_plan)); do skip "$1"; done
	done_testing
}

# guest_type TEXT: type TEXT and a carriage return into the guest's COM1 (a background
# vmdbg's stdin, start_vm), as a person at the shell on ttyS0 would. The shell echoes TEXT:
# wait for a marker the command computes (echo done-$((1+1)) and wait for done-2).
# A vmdbg that has ended makes the write fail, not SIGPIPE end the test.
guest_type() { (trap '' PIPE; printf '%s\r' "$1" >&"$VM_IN_FD") 2>/dev/null; }

# sock_open NAME PATH: a two-way connection to a console port's unix socket (--port
# N:unix:PATH); write to the fd in ${NAME}_FD, what arrives lands in $TMP/NAME.out.
sock_open() {
	local name=$1 path=$2 fifo=$TMP/$1.in fd
	mkfifo "$fifo"
	socat "UNIX-CONNECT:$path" - <"$fifo" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	_tap_pids+=($!)
	exec {fd}>"$fifo"
	printf -v "${name}_FD" '%s' "$fd"
}

# linux_snapshot NAME VMDBG-ARGS...: a snapshot of the Linux guest taken when a vCPU first
# reaches virtcons_probe (the console driver's handshake is still to come), booted once per
# machine and kept in $GUEST_DIR/snapshots keyed by the kernel, the initramfs, the vmdbg
# binary, what the KVM can do (--probe-kvm) and the boot arguments. The boot ends at its
# snapshot (--snapshot-exit: the rest of the boot is what every restore runs); its console log
# (and COM2's) are kept beside it. Sets LINUX_SNAP, LINUX_SNAP_LOG,
# LINUX_SNAP_COM2 and LINUX_SNAP_FRESH (1: this call booted). Returns 1 if the boot failed,
# 3 (nothing booted, LINUX_SNAP_WHY says why) where KVM does not report the debug-register
# breakpoint --snapshot-at-symbol stops on (kvm_lacks): callers skip what needs the snapshot.
linux_snapshot() {
	local name=$1; shift
	if kvm_lacks hw-breakpoint; then
		LINUX_SNAP_WHY="the boot's snapshot at virtcons_probe (--snapshot-at-symbol, a debug-register breakpoint): $KVM_LACKS_WHY"
		return 3
	fi
	local dir=$GUEST_DIR/snapshots key
	mkdir -p "$dir"
	# The binary, not just its version (a rebuilt vmdbg may boot differently), and what the
	# KVM can do (a snapshot belongs to the KVM it was taken on).
	key=$({ sha256sum "$LINUX_KERNEL" "$LINUX_INITRD" "$VMDBG" | cut -d' ' -f1; "$VMDBG" --probe-kvm 2>&1 |
		grep -E '^[a-z-]+: (yes|no)' | cut -d' ' -f1,2; echo "$*"; } |
		sha256sum | cut -c1-16)
	LINUX_SNAP=$dir/$name-$key.snap
	LINUX_SNAP_LOG=$dir/$name-$key.log
	LINUX_SNAP_COM2=$dir/$name-$key.com2
	LINUX_SNAP_FRESH=0
	(
		flock 9
		[[ -s $LINUX_SNAP && -s $LINUX_SNAP_LOG ]] && exit 0
		rm -f "$dir/$name"-*.snap "$dir/$name"-*.log "$dir/$name"-*.com2
		timeout -k 5 $((${LINUX_BOOT_TIMEOUT:-900} + 60)) "$VMDBG" --kernel "$LINUX_KERNEL" \
			--initrd "$LINUX_INITRD" --serial2 file:"$LINUX_SNAP_COM2.tmp" "$@" \
			--snapshot-at-symbol virtcons_probe --snapshot-file "$LINUX_SNAP.tmp" \
			--snapshot-exit </dev/null >"$LINUX_SNAP_LOG.tmp" 2>&1
		local rc=$?
		[[ $rc -eq 0 && -s $LINUX_SNAP.tmp ]] || { cat "$LINUX_SNAP_LOG.tmp" >&2; exit 1; }
		mv "$LINUX_SNAP_COM2.tmp" "$LINUX_SNAP_COM2"
		mv "$LINUX_SNAP_LOG.tmp" "$LINUX_SNAP_LOG"
		mv "$LINUX_SNAP.tmp" "$LINUX_SNAP"
		exit 2
	) 9>"$dir/.$name.lock"
	case $? in
	0) return 0 ;;
	2) LINUX_SNAP_FRESH=1; return 0 ;;
	*) return 1 ;;
	esac
}

# The boot every Linux test but console.t restores (2 vCPUs, COM2 as a console as well).
LINUX_BOOT_ARGS=(--cpus 2 --mem 256M --append "console=ttyS1 earlyprintk=serial,ttyS0,115200,keep")
linux_boot_snapshot() { linux_snapshot boot "${LINUX_BOOT_ARGS[@]}"; }
# console.t's: 1 vCPU, hvc0 as a console, the gzip initramfs (why: console.t).
linux_console_snapshot() {
	LINUX_INITRD=$GUEST_DIR/initramfs.cpio.gz linux_snapshot console --cpus 1 --append "console=ttyS0 console=hvc0 rdinit=/idle"
}
