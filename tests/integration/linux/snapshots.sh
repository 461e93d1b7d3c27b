#!/usr/bin/env bash
# The Linux tier's two boots to a snapshot at virtcons_probe (lib.sh: linux_boot_snapshot,
# linux_console_snapshot), side by side before its tests: on PVM each boot keeps about one
# core busy with emulated guest code, and one after the other they took 13 of the tier's 25
# minutes on CI. The tests then find both cached; a boot that fails here is tried again,
# and reported, by the test that needs it. Always exits 0.
source "$(dirname "$0")/../lib.sh"
t0=$SECONDS
err=$GUEST_DIR/snapshots
mkdir -p "$err"
boot() { # boot NAME FUNCTION (in the background: lib.sh's cleanup is the parent's)
	trap - EXIT
	"$2" >/dev/null 2>"$err/$1.err"
	case $? in
	0) echo "linux snapshots: $1 ready ($((SECONDS - t0))s$( ((LINUX_SNAP_FRESH)) || echo ", cached"))" ;;
	3) echo "linux snapshots: $1 not made: $LINUX_SNAP_WHY" ;;
	*) echo "linux snapshots: $1 boot failed ($((SECONDS - t0))s; its test boots again):"
	   tail -n 5 "$err/$1.err" ;;
	esac
}
boot boot linux_boot_snapshot &
boot console linux_console_snapshot &
wait
exit 0
