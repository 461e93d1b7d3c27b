#!/usr/bin/env bash
# A device-event breakpoint set through gdb's monitor stops gdb too: an 'O' packet names
# the event and the stop lands where the guest kicked the control queue.
source "$(dirname "$0")/../lib.sh"
plan 5

PORT=$((20000 + RANDOM % 20000))
start_vm "$TMP/vm" --kernel "$TEST_GUEST" --cpus 2 --append "mode=vcon-stay" --gdb tcp:$PORT --gdb-wait
sleep 0.5
timeout -k 5 90 gdb -batch -nx "$TEST_GUEST" -ex "target remote :$PORT" \
	-ex 'monitor break-on ctl PORT_READY 1' -ex 'continue' -ex 'info threads' \
	-ex 'monitor ctl log' -ex 'kill' >"$TMP/gdb" 2>&1
like "$TMP/gdb" 'vmdbg: stopped on break-on 1: ctl guest->host PORT_READY id=1 value=1' "gdb prints the event that stopped the VM (O packet)"
like "$TMP/gdb" 'received signal SIGTRAP' "gdb sees a stop"
like "$TMP/gdb" 'in tg_vq_kick' "the stop is where the guest kicked the queue"
like "$TMP/gdb" 'guest->host PORT_READY id=1 value=1' "monitor ctl log shows the message"
unlike "$TMP/gdb" 'guest->host PORT_READY id=2' "nothing ran past the stop: PORT_READY for port 2 not sent yet"
stop_vm
done_testing
