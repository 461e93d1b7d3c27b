#!/usr/bin/env python3
"""Slow host reader of a vmdbg console port's unix socket, for the soak tests.

stream_reader.py SOCKET --bytes N [--seed S] [--chunk C] [--sleep SEC] [--stall-every B]
                 [--stall SEC] [--pid PID] [--rss-every SEC] [--timeout SEC]

Connects (retrying until the socket exists) and reads until the peer closes, N bytes past
what is expected arrive, or the timeout passes: C bytes per read, SEC seconds of sleep after
each read, and a longer stall every B bytes, so the device's high-water mark is hit over and
over. Checks every byte on the fly against the test guest's stream (tests/guest/README.md:
byte i = ((j*7 + (j>>8)*13 + seed) & 0xff), j = i % 65536), computes the CRC-32 (zlib) of
what arrived and of what should have, and samples VmRSS of PID. Prints one key=value line:
  received= expected= crc= want_crc= first_bad= bad_blocks= rss_max_kib= rss_first_kib=
  rss_early_max_kib= rss_late_max_kib= samples= secs= mbps=
first_bad is -1 when every byte matched; bad_blocks counts 32 KiB blocks that differ.
"""
import argparse, socket, sys, time, zlib

ap = argparse.ArgumentParser()
ap.add_argument("sock")
ap.add_argument("--bytes", type=int, required=True)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--chunk", type=int, default=65536)
ap.add_argument("--sleep", type=float, default=0.0)
ap.add_argument("--stall-every", type=int, default=0)
ap.add_argument("--stall", type=float, default=0.0)
ap.add_argument("--pid", type=int, default=0)
ap.add_argument("--rss-every", type=float, default=0.5)
ap.add_argument("--timeout", type=float, default=600.0)
a = ap.parse_args()

PERIOD = 65536
pat = bytes(((j * 7 + (j >> 8) * 13 + a.seed) & 0xff) for j in range(PERIOD))
pat2 = pat * 2  # any window of up to PERIOD bytes starting anywhere is contiguous

def rss_kib():
    try:
        with open("/proc/%d/status" % a.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1

# The expected CRC, computed from the pattern alone (independent of the transfer).
want_crc, left = 0, a.bytes
whole = zlib.crc32(pat)
while left:
    n = min(left, PERIOD)
    want_crc = zlib.crc32(pat[:n], want_crc) if n < PERIOD else zlib.crc32(pat, want_crc)
    left -= n

end = time.time() + a.timeout
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
while True:
    try:
        s.connect(a.sock)
        break
    except OSError:
        if time.time() > end:
            sys.exit("stream_reader: cannot connect to %s" % a.sock)
        time.sleep(0.05)
s.settimeout(0.5)

got, crc, first_bad, bad_blocks, last_bad_block = 0, 0, -1, 0, -1
rss = []  # (time, kib)
t0 = time.time()
next_rss = t0
next_stall = a.stall_every or 0
while time.time() < end:
    now = time.time()
    if a.pid and now >= next_rss:
        r = rss_kib()
        if r >= 0:
            rss.append((now - t0, r))
        next_rss = now + a.rss_every
    try:
        d = s.recv(a.chunk)
    except socket.timeout:
        continue
    except OSError:
        break
    if not d:
        break
    crc = zlib.crc32(d, crc)
    off = 0
    while off < len(d):  # compare in pieces that never straddle a period boundary
        pos = (got + off) % PERIOD
        n = min(len(d) - off, PERIOD - pos)
        piece = d[off:off + n]
        if piece != pat[pos:pos + n]:
            i = next(k for k in range(n) if piece[k] != pat[pos + k])
            if first_bad < 0:
                first_bad = got + off + i
            blk = (got + off + i) >> 15
            if blk != last_bad_block:
                bad_blocks += 1
                last_bad_block = blk
        off += n
    got += len(d)
    if got > a.bytes + (1 << 20):
        break
    if a.sleep:
        time.sleep(a.sleep)
    if a.stall_every and got >= next_stall:
        time.sleep(a.stall)
        next_stall += a.stall_every
secs = time.time() - t0
vals = [r for _, r in rss]
half = [r for t, r in rss if t >= secs / 2]
early = [r for t, r in rss if t < secs / 4]
print("received=%d expected=%d crc=0x%08x want_crc=0x%08x first_bad=%d bad_blocks=%d "
      "rss_max_kib=%d rss_first_kib=%d rss_early_max_kib=%d rss_late_max_kib=%d samples=%d "
      "secs=%.1f mbps=%.2f" % (
          got, a.bytes, crc, want_crc, first_bad, bad_blocks, max(vals, default=-1),
          vals[0] if vals else -1, max(early, default=-1), max(half, default=-1), len(vals),
          secs, got / secs / 1e6 if secs else 0))
