#!/usr/bin/env bash
# The virtio-console with the test guest's driver: the full handshake, data both ways on
# every port with checksums, framed output on port 1, wake bytes on port 0.
source "$(dirname "$0")/../lib.sh"
plan 30
CLIENT="$(dirname "$0")/console_client.py"

# pattern SEED BYTES OUT: the guest's stream (tests/guest/vcon_modes.c) rebuilt on the host.
pattern() {
	python3 -c "
import sys
seed, n = int(sys.argv[1]), int(sys.argv[2])
p = bytes(((j * 7 + (j >> 8) * 13 + seed) & 0xff) for j in range(65536))
sys.stdout.buffer.write((p * (n // 65536 + 1))[:n])" "$1" "$2" >"$3"
}
crc() { python3 -c "import sys, zlib; print('0x%08x' % zlib.crc32(open(sys.argv[1], 'rb').read()))" "$1"; }

# --- handshake and data both ways -------------------------------------------------------
head -c 5000 /dev/urandom >"$TMP/to_guest"
OUT=$TMP/vcon
start_vm "$OUT" --kernel "$TEST_GUEST" --port 1:file:"$TMP/p1" --port 2:unix:"$TMP/p2.sock" \
	--append "mode=vcon bytes=100000 expect=5000 seed=3"
# The guest's probe resets the device, which drops host input queued before it
# (docs/console.md, "Reset (Status ← 0)"): send
# once the guest waits for it. It writes port 2 only after that, so the client sees it all.
wait_for "$OUT" 'tg: vcon port 2 rx waiting' 30
timeout 40 python3 "$CLIENT" "$TMP/p2.sock" --send "$TMP/to_guest" --out "$TMP/p2" --timeout 30 \
	>/dev/null
wait_for "$OUT" 'guest powered off' 30
ok $? "mode=vcon runs to power-off"
stop_vm
is "$RC" 0 "vmdbg exits 0"
tr -d '\r' <"$OUT" >"$OUT.lf"
# Every control message in the order Linux's driver and the device exchange them.
grep -oE '^tg: vcon ctl (in|out) [A-Z_]+ id=[0-9]+ value=[0-9]+' "$OUT.lf" | head -17 >"$TMP/ctl"
cat >"$TMP/ctl.want" <<'W'
tg: vcon ctl out DEVICE_READY id=4294967295 value=1
tg: vcon ctl in PORT_ADD id=0 value=1
tg: vcon ctl out PORT_READY id=0 value=1
tg: vcon ctl in PORT_ADD id=1 value=1
tg: vcon ctl out PORT_READY id=1 value=1
tg: vcon ctl in PORT_ADD id=2 value=1
tg: vcon ctl out PORT_READY id=2 value=1
tg: vcon ctl in CONSOLE_PORT id=0 value=1
tg: vcon ctl out PORT_OPEN id=0 value=1
tg: vcon ctl in PORT_NAME id=0 value=1
tg: vcon ctl in PORT_OPEN id=0 value=1
tg: vcon ctl in PORT_NAME id=1 value=1
tg: vcon ctl in PORT_OPEN id=1 value=1
tg: vcon ctl in PORT_NAME id=2 value=1
tg: vcon ctl in PORT_OPEN id=2 value=1
tg: vcon ctl out PORT_OPEN id=1 value=1
tg: vcon ctl out PORT_OPEN id=2 value=1
W
diff -u "$TMP/ctl.want" "$TMP/ctl" >"$TMP/ctl.diff"
ok $? "the handshake's control messages come in Linux's order" || diag "$(cat "$TMP/ctl.diff")"
like "$OUT.lf" '^tg: vcon features=0x100000002 ok status=0xb$' "VERSION_1|MULTIPORT negotiated, FEATURES_OK stuck"
like "$OUT.lf" '^tg: vcon config max_nr_ports=3 multiport=1$' "config space says 3 ports"
like "$OUT.lf" '^tg: vcon queues=8 num=256$' "8 queues of 256"
like "$OUT.lf" '^tg: vcon port 0 name=ktstr-console len=14 nul$' "port 0 name with its NUL"
like "$OUT.lf" '^tg: vcon port 1 name=ktstr-bulk len=11 nul$' "port 1 name"
like "$OUT.lf" '^tg: vcon port 2 name=ktstr-stats len=12 nul$' "port 2 name"
like "$OUT.lf" '^tg: vcon handshake done ports=3$' "handshake done with 3 ports"
# Port 0 shares the terminal with COM1: its line may land inside a COM1 line the guest was
# still printing (seen under load), so it is not anchored.
like "$OUT.lf" 'vcon: hello on port 0$' "port 0 output reaches vmdbg's stdout"
pattern 3 100000 "$TMP/want"
cmp -s "$TMP/want" "$TMP/p1"
ok $? "port 1: the 100000-byte stream arrives in the file byte for byte"
like "$OUT.lf" "^tg: vcon port 1 tx bytes=100000 crc=$(crc "$TMP/want")\$" "port 1: guest CRC equals the host's"
cmp -s "$TMP/want" "$TMP/p2"
ok $? "port 2: the stream arrives on the unix socket byte for byte"
like "$OUT.lf" "^tg: vcon port 2 tx bytes=100000 crc=$(crc "$TMP/p2")\$" "port 2 tx: guest CRC equals the host's"
like "$OUT.lf" "^tg: vcon port 2 rx bytes=5000 crc=$(crc "$TMP/to_guest")\$" "port 2 rx: host bytes reach the guest intact"
unlike "$OUT.lf" 'virtqueue .* stopped|rejected' "no queue broken, no status write rejected"

# --- framed output on port 1 ------------------------------------------------------------
run_vm "$TMP/fr" 40 --kernel "$TEST_GUEST" --port 1:file:"$TMP/f1" --append "mode=vcon frames=40 bytes=1000"
is "$RC" 0 "frames=40: exit 0"
python3 - "$TMP/f1" >"$TMP/fr.check" <<'PY'
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
off, n, bad, tags = 0, 0, 0, []
while off + 16 <= len(d):
    t, ln, c, pad = struct.unpack_from("<IIII", d, off)
    pl = d[off + 16: off + 16 + ln]
    bad += zlib.crc32(pl) != c or pad != 0 or len(pl) != ln
    tags.append(t.to_bytes(4, "big").decode())
    off += 16 + ln
    n += 1
print(n, bad, off == len(d), tags[0], tags[-1], "0x%08x" % zlib.crc32(d), len(d))
PY
read -r nfr nbad whole first last fcrc flen <"$TMP/fr.check"
is "$nfr $nbad $whole" "40 0 True" "port 1: 40 frames, every CRC right, no stray bytes"
is "$first $last" "TEST EXIT" "frame tags TEST ... EXIT"
like "$TMP/fr" "^tg: vcon port 1 frames=40 bytes=$flen crc=$fcrc" "frame stream CRC equals the guest's"

# --- wake bytes on port 0, through a unix socket ----------------------------------------
OUT=$TMP/wake
printf '\xd1\xd3\xbf\xac' >"$TMP/wake.bytes"
start_vm "$OUT" --kernel "$TEST_GUEST" --port 0:unix:"$TMP/p0.sock" --append "mode=vcon-wake count=4 timeout=20"
wait_for "$OUT" 'tg: vcon wake ready' 20
timeout 30 python3 "$CLIENT" "$TMP/p0.sock" --send "$TMP/wake.bytes" --timeout 25 >/dev/null
wait_for "$OUT" 'guest powered off' 25
ok $? "vcon-wake powers off after 4 bytes"
stop_vm
like "$OUT" 'tg: vcon wake 0xd1 dump' "wake byte 0xD1 (dump) arrives"
like "$OUT" 'tg: vcon wake 0xd3 shutdown' "wake byte 0xD3 (shutdown) arrives"
like "$OUT" 'tg: vcon wake 0xbf bpf-write-done' "wake byte 0xBF arrives"
like "$OUT" 'tg: vcon wake 0xac accessor-ready' "wake byte 0xAC arrives"
like "$OUT" 'tg: vcon wake done count=4\b' "all four, in time"

# --- wake bytes typed on the terminal (stdio backend: COM1 and port 0) --------------------
OUT=$TMP/wake2
start_vm "$OUT" --kernel "$TEST_GUEST" --append "mode=vcon-wake count=2 timeout=20"
wait_for "$OUT" 'tg: vcon wake ready' 20
printf '\xd1\xac' >&"$VM_IN_FD"
wait_for "$OUT" 'guest powered off' 25
ok $? "stdio: vcon-wake powers off after 2 bytes"
stop_vm
like "$OUT" 'tg: vcon wake 0xd1 dump' "stdio: 0xD1 reaches port 0"
like "$OUT" 'tg: vcon wake 0xac accessor-ready' "stdio: 0xAC reaches port 0"
done_testing
