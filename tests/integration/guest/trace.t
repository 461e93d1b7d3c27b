#!/usr/bin/env bash
# --trace from the command line: the REPL's trace, on from the first instruction.
source "$(dirname "$0")/../lib.sh"
plan 6

run_vm "$TMP/out" 60 --kernel "$TEST_GUEST" --append "mode=vcon" --trace ctl,mmio:"$TMP/trace"
is "$RC" 0 "--trace ctl,mmio:FILE: the run ends normally"
like "$TMP/trace" '^[0-9]+\.[0-9]+ ctl guest->host DEVICE_READY' "guest->host control messages are logged with a timestamp"
like "$TMP/trace" 'ctl host->guest PORT_NAME id=1 value=1' "host->guest control messages are logged"
like "$TMP/trace" 'mmio' "MMIO accesses are logged"
run_vm "$TMP/bad" 30 --kernel "$TEST_GUEST" --append "mode=hello" --trace ctl:/nonexistent/dir/trace
is "$RC" 2 "an unwritable trace file is a setup error (exit 2)"
like "$TMP/bad" "^vmdbg: --trace .*/nonexistent/dir/trace" "... named in the message"
done_testing
