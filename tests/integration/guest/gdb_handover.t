#!/usr/bin/env bash
# Run control handed between the REPL, break-on stops and gdb, one step at a time with a small
# remote-protocol client (gdb_handover.py says which sequences, all reported by the control soak):
# a break-on stop then an attach, a REPL step under gdb's continue, a continue into a break-on
# after `monitor snapshot load`, an attach to a REPL-paused VM, a resume into a break-on.
source "$(dirname "$0")/../lib.sh"
plan 15
timeout -k 5 60 python3 "$(dirname "$0")/gdb_handover.py" "$VMDBG" "$TEST_GUEST" "$TMP" >"$TMP/tap" 2>&1
rc=$?
n=0
while IFS= read -r line; do
	case $line in
	"ok "* | "not ok "*) n=$((n + 1)); ok "$([[ $line == ok* ]]; echo $?)" "${line#*- }" ;;
	*) diag "$line" ;;
	esac
done <"$TMP/tap"
((n == 15)) || diag "the client ran $n of 15 checks (exit $rc): $(tail -n 5 "$TMP/tap")"
done_testing
