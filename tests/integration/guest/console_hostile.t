#!/usr/bin/env bash
# The test guest misbehaves on purpose (bad=...): vmdbg must report the bad ring or message,
# stay alive, keep the other ports working, and end in bounded time with exit 0.
source "$(dirname "$0")/../lib.sh"
plan 31
CLIENT="$(dirname "$0")/console_client.py"

bad() { # bad NAME WARNING-REGEX
	local name=$1 warn=$2 out=$TMP/bad-$1 t0=$SECONDS
	run_vm "$out" 40 --kernel "$TEST_GUEST" --port 2:file:"$TMP/p2-$name" --append "mode=vcon bad=$name"
	is "$RC" 0 "bad=$name: the guest powers off normally (exit 0)"
	like "$out" "$warn" "bad=$name: vmdbg reports it"
	like "$out" "tg: vcon bad=$name survived" "bad=$name: the guest carries on"
	like "$out" 'tg: vcon alive port [12] tx bytes=4096' "bad=$name: another port still moves data"
	ok $((SECONDS - t0 > 30)) "bad=$name: bounded time ($((SECONDS - t0)) s)"
}

bad loop 'virtqueue port1 tx: descriptor chain from head [0-9]+ is longer than the queue size 256 \(a loop\)'
bad oob 'port 1 tx: descriptor 0x7ff000000000\+4096 is outside guest RAM'
bad wild-idx 'virtqueue port1 tx: avail idx 1000 is 1000 ahead'
bad bad-ctl 'PORT_READY for port 7, which does not exist'
like "$TMP/bad-bad-ctl" 'repeated DEVICE_READY ignored' "bad-ctl: repeated DEVICE_READY reported"
bad bad-status 'status write 0x7 .*rejected'
like "$TMP/bad-bad-status" 'two bits at once: 0x0 -> wrote 0x3, read 0x0' "bad-status: two bits at once leave status 0"

# Zero-length chains while the host has data waiting: returned empty, nothing lost.
head -c 20000 /dev/urandom >"$TMP/zf"
OUT=$TMP/zero
start_vm "$OUT" --kernel "$TEST_GUEST" --port 2:unix:"$TMP/z.sock" --append "mode=vcon bad=zero-flood expect=20000 count=4"
wait_for "$OUT" 'tg: vcon zero-flood: port 2 rx' 30
timeout 40 python3 "$CLIENT" "$TMP/z.sock" --send "$TMP/zf" --timeout 35 >/dev/null
wait_for "$OUT" 'guest powered off' 30
ok $? "zero-flood: runs to power-off"
stop_vm
like "$OUT" 'tg: vcon zero-flood returned=1024 chains nonzero=0' "zero-flood: 4 rounds of 256 empty chains came back empty"
want=$(python3 -c "import sys, zlib; print('0x%08x' % zlib.crc32(open(sys.argv[1], 'rb').read()))" "$TMP/zf")
like "$OUT" "tg: vcon port 2 rx bytes=20000 crc=$want" "zero-flood: every host byte arrives afterwards, intact"
like "$OUT" 'tg: vcon alive port 1 tx bytes=4096' "zero-flood: port 1 still works"
done_testing
