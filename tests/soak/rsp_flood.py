#!/usr/bin/env python3
"""A hostile gdb remote-protocol client for the soak tests: connect, flood, disconnect.

rsp_flood.py PORT --count N --counter ADDR --bp ADDR --text ADDR [--seed S] [--timeout SEC]
             [--variants DIGITS] [--z0-refused]

N times: connect to 127.0.0.1:PORT, send a burst of packets chosen by the round (queries,
registers, memory reads, breakpoints then continue, Ctrl-C, garbage, bad checksums, an
oversized packet, a packet cut off in the middle), read the replies of the ones that must
be answered and check them, then close abruptly (half of the time with a TCP reset). A
connection refused as busy ($E.vmdbg: a gdb client is attached...: the stub has not yet seen
the last close) is retried.
Prints one key=value line:
  rounds= packets= answered= bad_replies= busy_retries= resets= closed_by_stub= secs=
and the first bad replies on stderr. Exit 0 when every round connected.
"""
import argparse, os, random, socket, struct, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import rsp_wire  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("--count", type=int, default=1000)
ap.add_argument("--counter", type=lambda x: int(x, 0), required=True)
ap.add_argument("--bp", type=lambda x: int(x, 0), required=True)
ap.add_argument("--text", type=lambda x: int(x, 0), required=True)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--timeout", type=float, default=600)
ap.add_argument("--variants", default="01234567", help="the bursts to use (digits 0-7), in turn")
ap.add_argument("--z0-refused", action="store_true",
                help="this KVM does not report int3 (vmdbg --probe-kvm): Z0 must get an error reply")
a = ap.parse_args()
rnd = random.Random(a.seed)

pkt = rsp_wire.frame

class Busy(Exception):
    pass

class Conn:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", a.port), timeout=10)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.sent = 0

    def send(self, p):
        self.s.sendall(pkt(p))
        self.sent += 1

    def raw(self, b):
        """Bytes that are not one well-formed packet (counted as one packet sent)."""
        self.s.sendall(b)
        self.sent += 1

    def recv(self):
        """The next packet's payload (acks skipped, run-length encoding undone)."""
        while True:
            p, self.buf = rsp_wire.take(self.buf)
            if p is not None:
                return p
            d = self.s.recv(1 << 20)
            if not d:
                raise EOFError("connection closed by the stub")
            self.buf += d

    def cmd(self, p):
        self.send(p)
        r = self.recv()
        self.s.sendall(b"+")
        return r

    def close(self, reset):
        if reset:  # RST instead of FIN: the abrupt end of a killed debugger
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.s.close()

stats = dict(rounds=0, packets=0, answered=0, bad_replies=0, busy_retries=0, resets=0, closed_by_stub=0)
bad = []

def expect(ok, what, got):
    stats["answered"] += 1
    if not ok:
        stats["bad_replies"] += 1
        if len(bad) < 10:
            bad.append("round %d: %s: got %r" % (stats["rounds"], what, got[:80]))

def burst(c, r):
    """One connection's traffic; the round number picks the variant."""
    v = int(a.variants[r % len(a.variants)])
    try:
        q = c.cmd(b"qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386")
    except (EOFError, ConnectionResetError, BrokenPipeError):
        raise Busy()  # closed before the first reply: refused as busy
    if q == b"E10" or q.startswith(b"E.vmdbg: a gdb client is attached"):
        raise Busy()
    expect(q.startswith(b"PacketSize="), "qSupported", q)
    if r % 3 == 0:
        expect(c.cmd(b"QStartNoAckMode") == b"OK", "QStartNoAckMode", b"")
    s = c.cmd(b"?")
    expect(s[:1] in (b"T", b"S"), "? stop reply", s)
    if v == 0:  # registers and memory
        g = c.cmd(b"g")
        expect(len(g) >= 16 * 16 and not g.startswith(b"E"), "g", g)
        m = c.cmd(b"m%x,8" % a.counter)
        expect(len(m) == 16, "m tg_counter", m)
        m = c.cmd(b"m%x,1000" % a.text)
        expect(len(m) == 0x2000, "m .text 4 KiB", m)
    elif v == 1:  # threads, then cut off in the middle of a packet
        for p in (b"qfThreadInfo", b"qsThreadInfo", b"qC", b"Hg2", b"p10", b"Hg1", b"qAttached"):
            c.send(p)
        c.raw(b"$m%x,40#" % a.counter)  # checksum missing: cut mid-packet
    elif v == 2:  # a breakpoint, continue, then vanish while the VM runs
        z = c.cmd(b"Z0,%x,1" % a.bp)
        # Refused: an error, never the empty reply (gdb would then write the int3 itself).
        expect(z[:1] == b"E" and len(z) == 3 if a.z0_refused else z == b"OK", "Z0", z)
        c.send(b"vCont;c")
        if rnd.random() < 0.5:
            time.sleep(0.002)
            c.raw(b"\x03")  # Ctrl-C; the stop reply may or may not come before the close
    elif v == 3:  # garbage, bad checksums, junk escapes
        c.raw(b"garbage\x00\xff}}}#$$##" + b"$g#00" + bytes(rnd.randrange(256) for _ in range(200)))
        c.send(b"qC")
    elif v == 4:  # an oversized packet, then an unterminated one
        c.raw(b"$X%x,1:" % a.counter + b"A" * rnd.choice((1000, 70000, 200000)))
    elif v == 5:  # hardware breakpoint and watchpoint left set at the close
        c.send(b"Z1,%x,1" % a.bp)
        c.send(b"Z2,%x,8" % a.counter)
        c.send(b"c")
    elif v == 6:  # many small reads without waiting for the replies
        for i in range(64):
            c.send(b"m%x,%x" % (a.text + 64 * i, 64))
    else:  # single steps and a detach
        for _ in range(4):
            c.send(b"vCont;s:1")
            try:
                c.recv()
            except (EOFError, OSError):
                break
        c.send(b"D")

t0 = time.time()
for r in range(a.count):
    if time.time() - t0 > a.timeout:
        break
    while True:
        c = Conn()
        try:
            burst(c, r)
            break
        except (EOFError, ConnectionResetError, BrokenPipeError) as e:
            stats["closed_by_stub"] += 1
            if len(bad) < 10:
                bad.append("round %d: the stub closed the connection: %s" % (r, e))
            break
        except Busy as e:
            # An E reply then close: the stub has not processed the last close yet.
            stats["busy_retries"] += 1
            stats["packets"] += c.sent
            c.close(False)
            if stats["busy_retries"] > 10 * a.count:
                sys.exit("rsp_flood: the stub keeps refusing connections (%s)" % e)
            time.sleep(0.01)
        except socket.timeout:
            stats["bad_replies"] += 1
            bad.append("round %d: no reply within 10 s" % r)
            break
    stats["packets"] += c.sent
    reset = rnd.random() < 0.5
    stats["resets"] += reset
    c.close(reset)
    stats["rounds"] += 1
    time.sleep(rnd.random() * 0.005)  # let the VM run a little between debuggers
for b in bad:
    print(b, file=sys.stderr)
print(" ".join("%s=%d" % kv for kv in stats.items()) + " secs=%.1f" % (time.time() - t0))
sys.exit(0 if stats["rounds"] == a.count else 1)
