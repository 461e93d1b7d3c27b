#!/usr/bin/env bash
# Soak: 1 GiB from the test guest through console port 1 to a deliberately slow unix-socket
# reader. The guest writes >100 MB/s, the reader takes ~4 MB/s with a stall every 64 MiB, so
# the device's host-side high-water mark holds the guest back for the whole run. Every byte is
# checked against the guest's stream, the CRC-32 of what arrived equals the stream's, the
# guest reports the same byte count, and vmdbg's VmRSS (sampled every 0.5 s) stays bounded
# and does not grow. SOAK_P1_BYTES overrides the size (e.g. for a quick try).
source "$(dirname "$0")/../integration/lib.sh"
plan 9
READER="$(dirname "$0")/stream_reader.py"
N=${SOAK_P1_BYTES:-$((1 << 30))}
SEED=7
RSS_CAP_KIB=$((96 * 1024)) # vmdbg idles at ~5 MiB here; 1 GiB unthrottled would be far above
t0=$SECONDS

OUT=$TMP/vm
start_vm "$OUT" --kernel "$TEST_GUEST" --port 1:unix:"$TMP/p1.sock" --port 2:null \
	--append "mode=vcon bytes=$N seed=$SEED timeout=120"
# ~16 ms a 64 KiB read (about 4 MB/s) and a 1 s stall every 64 MiB.
nice -n 5 timeout -k 5 900 python3 "$READER" "$TMP/p1.sock" --bytes "$N" --seed "$SEED" \
	--chunk 65536 --sleep 0.012 --stall-every $((64 << 20)) --stall 1 --pid "$VM_PID" \
	--timeout 880 >"$TMP/reader" 2>&1
r=$(cat "$TMP/reader")
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" "$TMP/reader"; }
wait_for "$OUT" 'guest powered off' 120
ok $? "the guest writes $N bytes to the slow reader and powers off" || diag "$(grep -v 'frame ....' "$OUT" | tail -n 15)"
stop_vm
is "$RC" 0 "vmdbg exits 0"
is "$(kv received)" "$N" "the reader receives exactly $N bytes" || diag "$r"
is "$(kv first_bad)" -1 "every byte equals the guest's stream, in order (no chunk lost, duplicated or reordered)" || diag "$r"
is "$(kv crc)" "$(kv want_crc)" "CRC-32 of what arrived equals the stream's" || diag "$r"
tr -d '\r' <"$OUT" >"$OUT.lf"
line=$(grep -aoE "^tg: vcon port 1 tx bytes=[0-9]+ crc=(none|0x[0-9a-f]+)$" "$OUT.lf")
# The guest computes CRCs only up to crc_max (emulated CPU time); when it did, it must match.
gcrc=${line##*crc=}
[[ $gcrc == none ]] && gcrc=$(kv crc)
is "${line%% crc=*} $gcrc" "tg: vcon port 1 tx bytes=$N $(kv crc)" "the guest's byte count (and CRC if printed) equal the host's"
rmax=$(kv rss_max_kib) early=$(kv rss_early_max_kib) late=$(kv rss_late_max_kib)
ok $((rmax > 0 && rmax < RSS_CAP_KIB ? 0 : 1)) "vmdbg's VmRSS stays bounded (max $rmax KiB < $RSS_CAP_KIB KiB, $(kv samples) samples)"
ok $((late <= early + 16384 ? 0 : 1)) "vmdbg's VmRSS does not grow over the run (first quarter max $early KiB, second half max $late KiB)"
unlike "$OUT" 'tx stuck|vmdbg: (error|warning): .*(virtqueue|queue .* stopped|port 1 (backend|socket))' \
	"no stuck queue, no backend error"
secs=$((SECONDS - t0))
lost=$(( N > $(kv received) ? N - $(kv received) : 0 )) dup=$(( $(kv received) > N ? $(kv received) - N : 0 ))
[[ $(kv first_bad) == -1 ]] && c=ok || c="BAD at $(kv first_bad)"
echo "# soak: port1 $(kv received) bytes, crc $c ($(kv crc)), $lost lost, $dup duplicated, $secs s, reader $(kv mbps) MB/s, vmdbg VmRSS max $((rmax / 1024)) MiB"
done_testing
