#!/usr/bin/env bash
# Backpressure: the guest writes 8 MiB on port 2 to a host reader that takes its time.
# Everything arrives in order, and vmdbg's memory stays bounded (the guest is held back).
source "$(dirname "$0")/../lib.sh"
plan 8
CLIENT="$(dirname "$0")/console_client.py"
N=$((8 << 20))

OUT=$TMP/bp
start_vm "$OUT" --kernel "$TEST_GUEST" --port 2:unix:"$TMP/p2.sock" --port 1:null \
	--append "mode=vcon bytes=$N seed=9 timeout=60 linger=8"
# 64 KiB every 20 ms: about 3 MB/s, far below what the guest can write.
timeout 60 python3 "$CLIENT" "$TMP/p2.sock" --out "$TMP/p2" --read-chunk 65536 --read-sleep 0.02 \
	--timeout 55 >/dev/null &
cpid=$!
hwm=0
while kill -0 "$cpid" 2>/dev/null; do
	h=$(awk '/^VmHWM/ {print $2}' "/proc/$VM_PID/status" 2>/dev/null) && [[ -n $h ]] && hwm=$h
	sleep 0.2
done
wait_for "$OUT" 'guest powered off' 30
ok $? "8 MiB to a slow reader: the guest finishes and powers off"
stop_vm
is "$RC" 0 "vmdbg exits 0"
is "$(stat -c %s "$TMP/p2" 2>/dev/null)" "$N" "every byte arrives"
python3 -c "
import sys
p = bytes(((j * 7 + (j >> 8) * 13 + 9) & 0xff) for j in range(65536))
d = open(sys.argv[1], 'rb').read()
sys.exit(0 if d == p * (len(d) // 65536) and len(d) == $N else 1)" "$TMP/p2"
ok $? "in order, byte for byte"
like "$OUT" "tg: vcon port 2 tx bytes=$N crc=none" "the guest reports its 8 MiB written"
# Guest RAM is 256 MiB but the guest touches ~25 MiB of it; the device holds back at 1 MiB.
ok $((hwm == 0 || hwm > 120 * 1024)) "vmdbg's peak RSS stays bounded (${hwm} KiB < 120 MiB)"

# The same without linger: the guest powers off as soon as its last chain is used, while
# vmdbg still holds bytes for the slow reader. They must reach it before vmdbg exits.
OUT=$TMP/bp2
start_vm "$OUT" --kernel "$TEST_GUEST" --port 2:unix:"$TMP/q2.sock" --port 1:null \
	--append "mode=vcon bytes=$N seed=9 timeout=60"
timeout 60 python3 "$CLIENT" "$TMP/q2.sock" --out "$TMP/q2" --read-chunk 65536 --read-sleep 0.02 \
	--timeout 55 >/dev/null
wait_for "$OUT" 'guest powered off' 30
ok $? "no linger: the guest powers off"
stop_vm
got=$(stat -c %s "$TMP/q2" 2>/dev/null)
is "$got" "$N" "no linger: held bytes reach the reader before vmdbg exits"
done_testing
