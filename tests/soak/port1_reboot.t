#!/usr/bin/env bash
# Soak: a machine reboot in the middle of a 64 MiB framed stream on console port 1, read by a
# slowish unix-socket reader. The test guest's mode=vcon-reboot (contract in
# tests/soak/README.md) sends frames 0..A-1 with a notify each, publishes A..A+H-1 without a
# notify, asks for a reboot (FADT RESET_REG), boots again, knows it is the second boot and
# sends frames A+H..K-1. Every frame published before the reboot (the held ones too) must
# arrive exactly once, the frames after it complete and not duplicated, all in order with
# good CRCs; the guest's CRCs of each half equal the host's. vmdbg runs with --reboot (without
# it a reboot ends the run). SOAK_REBOOT_FRAMES overrides K (32768 frames of 32 KiB: 1 GiB).
source "$(dirname "$0")/../integration/lib.sh"
NTESTS=13
CLIENT="$(dirname "$0")/../integration/guest/console_client.py"
CHECK="$(dirname "$0")/reboot_frames.py"
K=${SOAK_REBOOT_FRAMES:-32768}
A=$((K / 2)) H=8 P=32752 SEED=13
t0=$SECONDS

OUT=$TMP/vm
start_vm "$OUT" --kernel "$TEST_GUEST" --reboot --port 1:unix:"$TMP/p1.sock" --port 2:null \
	--append "mode=vcon-reboot frames=$K reboot_at=$A held=$H payload=$P seed=$SEED timeout=120"
# ~10 MB/s: the device's high-water mark is hit on both sides of the reboot.
timeout -k 5 900 python3 "$CLIENT" "$TMP/p1.sock" --out "$TMP/p1" --read-chunk 65536 \
	--read-sleep 0.005 --timeout 890 >/dev/null 2>"$TMP/client.err" &
cpid=$!
plan $NTESTS
wait_for "$OUT" "guest powered off|vmdbg ends the run|unknown mode 'vcon-reboot'" 900
wait_for "$OUT" 'guest powered off' 5
ok $? "the guest reboots mid-stream, boots again, finishes and powers off" ||
	diag "$(grep -aE 'reboot|vmdbg' "$OUT" | tail -n 10)"
wait "$cpid" 2>/dev/null
stop_vm
is "$RC" 0 "vmdbg exits 0"
tr -d '\r' <"$OUT" >"$OUT.lf"
is "$(grep -c '^tg: hello from the test guest' "$OUT.lf")" 2 "the guest booted twice (one reboot)"
like "$OUT.lf" "^tg: vcon reboot plan frames=$K reboot_at=$A held=$H payload=$P boot=2\$" \
	"the second boot knows it is the second"
like "$OUT.lf" "^tg: vcon reboot: frames $A\\.\\.$((A + H)) published on port 1 tx without notify" \
	"boot 1 leaves frames $A..$((A + H - 1)) published without a notify"
python3 "$CHECK" "$TMP/p1" --frames "$K" --before $((A + H)) --payload "$P" --seed "$SEED" >"$TMP/check"
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" "$TMP/check"; }
is "$(kv before_ok)" 1 "every frame published before the reboot (0..$((A + H - 1)), held ones too) arrived exactly once" ||
	diag "$(cat "$TMP/check")"
is "$(kv after_ok)" 1 "every frame after the reboot ($((A + H))..$((K - 1))) arrived exactly once" || diag "$(cat "$TMP/check")"
is "$(kv lost) $(kv duplicated) $(kv in_order) $(kv stray)" "0 0 1 0" "nothing lost, nothing duplicated, in order, no stray bytes"
is "$(kv bad_crc) $(kv bad_boot) $(kv bad_type) $(kv bad_payload)" "0 0 0 0" \
	"every frame's CRC, boot number, type (TEST..EXIT) and payload are right" || diag "$(kv first_error)"
like "$OUT.lf" "^tg: vcon reboot: boot 1 sent frames=$((A + H)) bytes=$(((A + H) * (16 + P))) crc=$(kv crc_before)\$" \
	"the guest's CRC of the boot-1 frames equals the host's"
like "$OUT.lf" "^tg: vcon reboot: boot 2 sent frames=$((K - A - H)) bytes=$(((K - A - H) * (16 + P))) crc=$(kv crc_after)\$" \
	"the guest's CRC of the boot-2 frames equals the host's"
like "$OUT.lf" "^tg: vcon port 1 reboot frames=$K bytes=$(kv bytes) crc=$(kv crc)\$" \
	"the whole stream's CRC equals the guest's"
unlike "$OUT.lf" 'vmdbg: warning: .*(virtio|queue|port 1)|AddressSanitizer|runtime error' \
	"no warning from vmdbg about the device or its ports, no crash"
echo "# soak: port1-reboot $(kv frames) of $K frames ($((A + H)) before the reboot, $H held), $(kv bytes) bytes, crc $([[ $(kv bad_crc) == 0 ]] && grep -q "^tg: vcon port 1 reboot frames=$K bytes=$(kv bytes) crc=$(kv crc)\$" "$OUT.lf" && echo ok || echo BAD), $(kv lost) lost, $(kv duplicated) duplicated, exit $RC, $((SECONDS - t0)) s"
done_testing
