#!/usr/bin/env bash
# A reboot mid-stream loses no published frame (docs/console.md, "Reset (Status ← 0)").
# The test guest (mode=vcon-reset) streams sequence-numbered frames on port 1, publishes some
# into the tx ring WITHOUT a notify, resets the device (Status <- 0) as a rebooting kernel
# does, probes it again from scratch and sends the rest. The host file must hold every
# sequence number once, in order, each with a good CRC.
source "$(dirname "$0")/../lib.sh"
plan 17

# decode FILE FRAMES: "ok" when FILE is exactly FRAMES frames with sequence numbers
# 0..FRAMES-1 in order, good CRCs, pad 0, TEST frames then one EXIT; else what is wrong.
decode() {
	python3 - "$1" "$2" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
want = int(sys.argv[2])
TEST, EXIT = 0x54455354, 0x45584954
seqs, errs, off = [], [], 0
while off + 16 <= len(data):
    typ, length, crc, pad = struct.unpack_from('<IIII', data, off)
    payload = data[off + 16:off + 16 + length]
    if len(payload) < length or length < 4:
        errs.append('frame at %d: truncated (length %d, %d bytes left)' % (off, length, len(payload)))
        break
    seq = struct.unpack_from('<I', payload)[0]
    if zlib.crc32(payload) != crc:
        errs.append('seq %d: bad crc' % seq)
    if pad:
        errs.append('seq %d: pad %#x' % (seq, pad))
    if typ != (EXIT if seq == want - 1 else TEST):
        errs.append('seq %d: type %#x' % (seq, typ))
    seqs.append(seq)
    off += 16 + length
if off != len(data):
    errs.append('%d stray bytes at the end' % (len(data) - off))
if seqs != list(range(want)):
    missing = sorted(set(range(want)) - set(seqs))
    dups = sorted({s for s in seqs if seqs.count(s) > 1})
    errs.append('seqs %s (missing %s, duplicated %s)' % (seqs, missing, dups))
print('ok' if not errs else '; '.join(errs))
EOF
}

file_crc() { python3 -c "import sys, zlib; print('0x%08x' % zlib.crc32(open(sys.argv[1], 'rb').read()))" "$1"; }

# --- reset in the middle: 16 frames sent, 8 held, reset, re-probe, 8 more ------------------
OUT=$TMP/mid
run_vm "$OUT" 60 --kernel "$TEST_GUEST" --port 1:file:"$TMP/mid.p1" --trace mmio:"$TMP/mid.trace" \
	--append "mode=vcon-reset frames=32 reset_at=16 held=8"
is "$RC" 0 "mid-stream reset: the guest powers off normally (exit 0)"
like "$OUT" '^tg: vcon reset: frames 16\.\.24 published on port 1 tx without notify' \
	"the guest holds frames 16-23 unnotified"
like "$OUT" '^tg: vcon reset status=0x0 port 1 tx held=8 returned=8 irqs=0' \
	"the reset returns the 8 held chains as used, raises no interrupt"
like "$OUT" '^tg: vcon reset: probed again' "the guest probes the device again after the reset"
is "$(decode "$TMP/mid.p1" 32)" ok "every frame 0-31 arrives once, in order, with a good CRC"
line=$(grep -aoE 'tg: vcon port 1 reset frames=32 bytes=[0-9]+ crc=0x[0-9a-f]+' "$OUT")
is "$line" "tg: vcon port 1 reset frames=32 bytes=$(stat -c %s "$TMP/mid.p1") crc=$(file_crc "$TMP/mid.p1")" \
	"the host file is byte for byte the guest's stream"
unlike "$OUT" 'vmdbg: warning: .*(virtio|port|queue|frame)' "no warning from vmdbg about the device or its ports"
like "$TMP/mid.trace" 'status 0xf -> 0x0 \(0 \(reset\)\)' "the trace shows the reset from DRIVER_OK"
# Port 1 tx is queue 5: the held frames must never have been notified, or the test proves nothing.
notifies=$(awk 'BEGIN { r = 0 } /status 0xf -> 0x0/ { r = 1 } /QueueNotify = 0x5 / { n[r]++ }
	END { print n[0] + 0, n[1] + 0 }' "$TMP/mid.trace")
is "$notifies" "16 8" "port 1 tx notified once per frame before the reset (16) and after (8), never for the held ones"

# --- reset with the last frames held: nothing follows to wake the host reader --------------
OUT=$TMP/end
run_vm "$OUT" 60 --kernel "$TEST_GUEST" --port 1:file:"$TMP/end.p1" \
	--append "mode=vcon-reset frames=20 reset_at=12 held=8"
is "$RC" 0 "reset at the end: exit 0"
like "$OUT" '^tg: vcon reset status=0x0 port 1 tx held=8 returned=8 irqs=0' \
	"the 8 held chains (the EXIT frame among them) are returned as used"
is "$(decode "$TMP/end.p1" 20)" ok "the held last frames still reach the file by power-off"
unlike "$OUT" 'vmdbg: warning: .*(virtio|port|queue|frame)' "no warning from vmdbg about the device or its ports"

# --- reset before any notify: the whole stream so far was held -----------------------------
OUT=$TMP/start
run_vm "$OUT" 60 --kernel "$TEST_GUEST" --port 1:file:"$TMP/start.p1" \
	--append "mode=vcon-reset frames=12 reset_at=0 held=6"
is "$RC" 0 "reset before any notify: exit 0"
like "$OUT" '^tg: vcon reset status=0x0 port 1 tx held=6 returned=6 irqs=0' \
	"the 6 held chains are returned as used"
is "$(decode "$TMP/start.p1" 12)" ok "frames 0-11 arrive once, in order"
unlike "$OUT" 'vmdbg: warning: .*(virtio|port|queue|frame)' "no warning from vmdbg about the device or its ports"
done_testing
