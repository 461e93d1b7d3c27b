#!/usr/bin/env bash
# --trace from the command line: the REPL's trace, on from the first instruction.
source "$(dirname "$0")/../lib.sh"
plan 10

run_vm "$TMP/out" 60 --kernel "$TEST_GUEST" --append "mode=vcon" --trace ctl,mmio,vq,pio:"$TMP/trace"
is "$RC" 0 "--trace ctl,mmio:FILE: the run ends normally"
like "$TMP/trace" '^[0-9]+\.[0-9]+ ctl guest->host DEVICE_READY' "guest->host control messages are logged with a timestamp"
like "$TMP/trace" 'ctl host->guest PORT_NAME id=1 value=1' "host->guest control messages are logged"
like "$TMP/trace" 'mmio' "MMIO accesses are logged"
# Where in the guest: the RIP and symbol of the vCPU whose access caused the event.
like "$TMP/trace" '^[0-9.]+ cpu0 mmio write 0xd0000050 QueueNotify = 0x[0-9a-f]+ \(4\) rip=0xffffffff[0-9a-f]+ tg_vq_kick\+0x[0-9a-f]+$' \
	"an MMIO line ends with the guest RIP and symbol+offset that made the access"
like "$TMP/trace" '^[0-9.]+ cpu0 pio out 0x3f[89b] = 0x[0-9a-f]+ \(1\) rip=0xffffffff[0-9a-f]+ tg_[a-z_]+\+0x[0-9a-f]+$' \
	"so does a port I/O line"
like "$TMP/trace" '^[0-9.]+ notify q[0-9] cpu0 rip=0xffffffff[0-9a-f]+ tg_vq_kick\+0x[0-9a-f]+$' \
	"a notify names the vCPU and where it kicked"
like "$TMP/trace" '^[0-9.]+ ctl guest->host DEVICE_READY .* cpu0 rip=0xffffffff[0-9a-f]+ tg_vq_kick\+0x[0-9a-f]+$' \
	"a control message the guest's kick delivered names that kick"
run_vm "$TMP/bad" 30 --kernel "$TEST_GUEST" --append "mode=hello" --trace ctl:/nonexistent/dir/trace
is "$RC" 2 "an unwritable trace file is a setup error (exit 2)"
like "$TMP/bad" "^vmdbg: --trace .*/nonexistent/dir/trace" "... named in the message"
done_testing
