#!/usr/bin/env bash
# Soak: a --script pauses and resumes every vCPU 1000 times while the test guest streams on
# console port 1 to a slow unix-socket reader and reads a host stream on port 2 (mode=vcon).
# Every byte on port 1 arrives once, in order (checked against the guest's stream, CRC-32
# compared); the guest's CRC of what it read on port 2 equals the host's; the transfer spans
# every cycle; vmdbg exits 0 when the guest powers off. SOAK_PAUSES overrides 1000.
source "$(dirname "$0")/../integration/lib.sh"
plan 11
READER="$(dirname "$0")/stream_reader.py"
CLIENT="$(dirname "$0")/../integration/guest/console_client.py"
CYCLES=${SOAK_PAUSES:-1000}
N=${SOAK_PAUSE_BYTES:-$((64 << 20))} # ~30 s at the reader's ~2 MB/s: twice the cycles' ~16 s
RX=262144                             # the guest's default crc_max: it prints a CRC
SEED=11
t0=$SECONDS

# The script language has no loop: write the 1000 pairs out. A cycle: pause (returns once
# every vCPU is parked), check it, hold it 3 ms, resume, let the guest run 10 ms.
{
	echo "wait port 1 open 2m"
	echo "echo soak: transfer started"
	for ((i = 1; i <= CYCLES; i++)); do
		echo "pause"
		echo "assert paused == 1"
		echo "sleep 3"
		echo "resume"
		echo "sleep 10"
	done
	# One line at the end only: script output can split a console line it lands in.
	echo "echo soak: cycle $CYCLES"
	echo "assert paused == 0"
	echo "resume"
} >"$TMP/soak.vmdbg"
head -c $RX /dev/urandom >"$TMP/to_guest"
RXCRC=$(python3 -c "import sys, zlib; print('0x%08x' % zlib.crc32(open(sys.argv[1], 'rb').read()))" "$TMP/to_guest")

OUT=$TMP/vm
start_vm "$OUT" --kernel "$TEST_GUEST" --port 1:unix:"$TMP/p1.sock" --port 2:unix:"$TMP/p2.sock" \
	--script "$TMP/soak.vmdbg" --append "mode=vcon bytes=$N expect=$RX seed=$SEED timeout=300 linger=2"
python3 "$READER" "$TMP/p1.sock" --bytes "$N" --seed "$SEED" --chunk 65536 --sleep 0.03 \
	--timeout 400 >"$TMP/reader" 2>&1 &
rpid=$!
# Port 2: the host's bytes once the guest waits for them (after port 1's stream), then the
# guest's own N bytes back, drained and dropped.
wait_for "$OUT" 'tg: vcon port 2 rx waiting' 400
timeout 400 python3 "$CLIENT" "$TMP/p2.sock" --send "$TMP/to_guest" --timeout 390 >/dev/null &
cpid=$!
wait_for "$OUT" 'guest powered off' 400
ok $? "the guest runs to power-off under $CYCLES pause/resume cycles" || diag "$(grep -v 'frame \.\.\.\.' "$OUT" | tail -n 15)"
wait "$rpid"
kill "$cpid" 2>/dev/null
wait "$cpid" 2>/dev/null
stop_vm
is "$RC" 0 "vmdbg exits 0 (script passed, guest powered off)"
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" "$TMP/reader"; }
tr -d '\r' <"$OUT" >"$OUT.lf"
is "$(kv received)" "$N" "port 1: exactly $N bytes arrive (nothing lost, nothing duplicated)" || diag "$(cat "$TMP/reader")"
is "$(kv first_bad)" -1 "port 1: every byte equals the guest's stream, in order" || diag "$(cat "$TMP/reader")"
is "$(kv crc)" "$(kv want_crc)" "port 1: CRC-32 of what arrived equals the stream's"
like "$OUT.lf" "^tg: vcon port 1 tx bytes=$N crc=" "port 1: the guest reports $N bytes written"
like "$OUT.lf" "^tg: vcon port 2 rx bytes=$RX crc=$RXCRC\$" "port 2: the guest's CRC of the host's $RX bytes equals the host's"
like "$OUT.lf" "^soak: cycle $CYCLES\$" "the script ran all $CYCLES pause/resume cycles"
# The cycles must overlap the transfer, or they prove nothing.
order=$(awk -v c="soak: cycle $CYCLES" '/^soak: transfer started$/ { printf "start " }
	$0 == c { printf "cycles " } /^tg: vcon port 1 tx bytes=/ { printf "done " }' "$OUT.lf")
is "$order" "start cycles done " "every cycle ran while port 1 was streaming"
unlike "$OUT.lf" 'failed at|assert failed|tx stuck|rx timed out|virtqueue .* stopped' "no script failure, no stuck queue"
unlike "$OUT.lf" 'AddressSanitizer|runtime error|internal error' "no crash"
secs=$((SECONDS - t0))
last=$(grep -aoE '^soak: cycle [0-9]+$' "$OUT.lf" | tail -n 1)
echo "# soak: pause/resume ${last#soak: cycle } cycles, port1 $(kv received) bytes, crc $([[ $(kv first_bad) == -1 && $(kv crc) == $(kv want_crc) ]] && echo ok || echo BAD), $(( N > $(kv received) ? N - $(kv received) : 0 )) lost, port2 rx crc $(grep -q "port 2 rx bytes=$RX crc=$RXCRC" "$OUT.lf" && echo ok || echo BAD), exit $RC, $secs s"
done_testing
