#!/usr/bin/env python3
"""Host end of a vmdbg console port's unix socket, for the console*.t tests.

console_client.py SOCKET [--send FILE] [--out FILE] [--delay-read SECONDS]
                  [--read-chunk N] [--read-sleep SECONDS] [--timeout SECONDS]
Connects (retrying until the socket exists), sends FILE's bytes, then reads until the
peer closes or the timeout passes, optionally slowly (READ_CHUNK bytes every READ_SLEEP
seconds: a slow reader for backpressure tests). Received bytes go to --out.
"""
import argparse, socket, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("sock")
ap.add_argument("--send")
ap.add_argument("--send-after", type=float, default=0.0)
ap.add_argument("--out")
ap.add_argument("--read-chunk", type=int, default=65536)
ap.add_argument("--read-sleep", type=float, default=0.0)
ap.add_argument("--timeout", type=float, default=60.0)
a = ap.parse_args()

end = time.time() + a.timeout
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
while True:
    try:
        s.connect(a.sock)
        break
    except OSError:
        if time.time() > end:
            sys.exit("console_client: cannot connect to %s" % a.sock)
        time.sleep(0.05)
if a.send:
    time.sleep(a.send_after)
    s.sendall(open(a.send, "rb").read())
out = open(a.out, "wb") if a.out else None
s.settimeout(0.5)
total = 0
while time.time() < end:
    try:
        d = s.recv(a.read_chunk)
    except socket.timeout:
        continue
    except OSError:
        break
    if not d:
        break
    total += len(d)
    if out:
        out.write(d)
        out.flush()
    if a.read_sleep:
        time.sleep(a.read_sleep)
print(total)
