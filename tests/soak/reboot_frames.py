#!/usr/bin/env python3
"""Check port 1's framed stream of the test guest's mode=vcon-reboot (tests/soak/README.md).

reboot_frames.py FILE --frames K --before F [--payload P] [--seed S]

FILE must be frames 0..K-1 exactly once each, in order: 16-byte header (type TEST, EXIT for
the last; length P; CRC-32 of the payload; pad 0), payload = u32 LE sequence number, u32 LE
boot number (1 for the F frames published before the reboot, 2 after), then the guest's
stream pattern. Prints one key=value line:
  frames= before_ok= after_ok= lost= duplicated= bad_crc= bad_boot= bad_type= bad_payload=
  stray= bytes= crc= crc_before= crc_after= first_error=
"""
import argparse, struct, zlib

ap = argparse.ArgumentParser()
ap.add_argument("file")
ap.add_argument("--frames", type=int, required=True)
ap.add_argument("--before", type=int, required=True)
ap.add_argument("--payload", type=int, default=0)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()

TEST, EXIT = 0x54455354, 0x45584954
pat = bytes(((j * 7 + (j >> 8) * 13 + a.seed) & 0xff) for j in range(65536))
data = memoryview(open(a.file, "rb").read())  # slices without copies (1 GiB streams)
seqs, off, split = [], 0, None
err = {k: 0 for k in ("bad_crc", "bad_boot", "bad_type", "bad_payload")}
first = "-"

def note(msg):
    global first
    if first == "-":
        first = msg.replace(" ", "_")

while off + 16 <= len(data):
    typ, length, crc, pad = struct.unpack_from("<IIII", data, off)
    payload = data[off + 16:off + 16 + length]
    if len(payload) < length or length < 8:
        note("truncated frame at %d (length %d)" % (off, length))
        break
    seq, boot = struct.unpack_from("<II", payload)
    if zlib.crc32(payload) != crc or pad:
        err["bad_crc"] += 1
        note("seq %d bad crc or pad" % seq)
    if boot != (1 if seq < a.before else 2):
        err["bad_boot"] += 1
        note("seq %d from boot %d" % (seq, boot))
    if typ != (EXIT if seq == a.frames - 1 else TEST):
        err["bad_type"] += 1
        note("seq %d type %#x" % (seq, typ))
    if (a.payload and length != a.payload) or payload[8:] != pat[:length - 8]:
        err["bad_payload"] += 1
        note("seq %d payload differs" % seq)
    seqs.append(seq)
    off += 16 + length
    if split is None and seq >= a.before:
        split = off - 16 - length
stray = len(data) - off
if split is None:
    split = off
count = {}
for s in seqs:
    count[s] = count.get(s, 0) + 1
lost = sum(1 for s in range(a.frames) if s not in count)
dup = sum(n - 1 for n in count.values()) + sum(1 for s in count if s >= a.frames)
if seqs != sorted(seqs):
    note("out of order")
before_ok = all(count.get(s) == 1 for s in range(a.before))
after_ok = all(count.get(s) == 1 for s in range(a.before, a.frames))
if lost or dup:
    note("lost %d duplicated %d" % (lost, dup))
print("frames=%d before_ok=%d after_ok=%d lost=%d duplicated=%d %s stray=%d bytes=%d "
      "crc=0x%08x crc_before=0x%08x crc_after=0x%08x in_order=%d first_error=%s" % (
          len(seqs), before_ok, after_ok, lost, dup,
          " ".join("%s=%d" % kv for kv in err.items()), stray, len(data), zlib.crc32(data[:off]),
          zlib.crc32(data[:split]), zlib.crc32(data[split:off]), seqs == sorted(seqs), first))
