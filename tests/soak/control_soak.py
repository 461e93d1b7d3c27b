#!/usr/bin/env python3
"""The randomized control soak (issue 14, item 4): random run-control operations from a gdb
remote-protocol client and vmdbg's REPL against a test guest (mode=vcon-soak) that moves
checksummed records both ways on all three console ports.

control_soak.py --vmdbg PATH --elf PATH --tmp DIR [--seed S] [--ops N] [--z0-refused]
                [--z1-refused] [--z2-refused] [--gdb GDB]

The driver starts vmdbg itself (REPL on a pipe, COM1 to a file, a unix socket per port, the
stub on TCP), keeps a model of who owns run control (nobody, the REPL's pause, a break-on stop,
gdb holding a stop, gdb's continue) and after every operation checks that vmdbg answered within
a second, said what its documented rules say for that state (refusals word for word), that the
guest runs again after a resume or continue, and that gdb's and the REPL's views agree. Every
byte each port carries is checked against the deterministic record streams on the host, and the
guest's own counters (bad records, sequence gaps) are read from its memory. A real `gdb -batch`
attaches at the start, the middle and the end.

Prints `result ok=0|1 ops=N ...` and a `counts ...` line; on a failure, the seed, the reason and
the last 20 operations (each with what came back). The same seed replays the same operations.
"""
import argparse, bisect, collections, fcntl, json, os, random, re, select, socket, struct
import subprocess, sys, termios, threading, time, zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import rsp_wire  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--vmdbg", required=True)
ap.add_argument("--elf", required=True)
ap.add_argument("--tmp", required=True)
ap.add_argument("--seed", type=int, default=14)
ap.add_argument("--ops", type=int, default=10000)
ap.add_argument("--gdb", default="gdb")
ap.add_argument("--z0-refused", action="store_true", help="this KVM does not report int3")
ap.add_argument("--z1-refused", action="store_true", help="... nor debug-register breakpoints")
ap.add_argument("--z2-refused", action="store_true", help="... nor watchpoints")
ap.add_argument("--watch", action="store_true",
                help="use Z2 too: on PVM (watch by single-step, interrupts held) a continue with it set "
                     "can wait for ever while vCPU 1 sits in HLT (open finding, see the README)")
A = ap.parse_args()

REPLY_S = 1.0            # every answer within a second (issue 14)
PEER = r"127\.0\.0\.1:\d+"
MAGIC = 0x4B534754       # "TGSK", tests/guest/vcon_soak.c
TX_EVERY_MS = 10
KERNEL_BASE = 0xffffffff80000000


class SoakFail(Exception):
    pass


def sym(name):
    out = subprocess.run(["nm", A.elf], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[2] == name:
            return int(f[0], 16)
    raise SystemExit("no symbol %s in %s" % (name, A.elf))


TG_COUNTER, TG_BREAK_HERE, TG_SOAK = sym("tg_counter"), sym("tg_break_here"), sym("tg_soak")
TG_CPUS = sym("tg_cpus")  # struct tg_cpu: self, index, apic_id, online, ticks (at 24)
# struct tg_soak: magic, alive, tx_seq[3], rx_seq[3], rx_bad[3], rx_gaps[3], ctl_in, tx_blocked,
# gap_port, gap_want, gap_got
SOAK_WORDS = 19


# --- the record streams (tests/guest/vcon_soak.c) ----------------------------------------------

def record(port, d, seq):
    n = 8 + (seq * 37 + port * 11) % 120 if d == 0 else 1 + (seq * 53 + port * 17) % 200
    payload = bytes((seq * 131 + i * 7 + port * 29 + d * 71 + (i >> 3) * 3) & 0xFF for i in range(n))
    return struct.pack("<IBBHII", MAGIC, port, d, n, seq, zlib.crc32(payload)) + payload


class Stream:
    """Records 0, 1, ... of one port and direction, as one byte string grown on demand."""

    def __init__(self, port, d):
        self.port, self.d, self.buf, self.ends = port, d, bytearray(), []

    def upto(self, n):
        while len(self.buf) < n:
            self.buf += record(self.port, self.d, len(self.ends))
            self.ends.append(len(self.buf))

    def records_in(self, pos):
        """Whole records in the first POS bytes, and whether POS ends one."""
        self.upto(pos)
        k = bisect.bisect_right(self.ends, pos)
        return k, pos == 0 or (k > 0 and self.ends[k - 1] == pos)

    def record_end(self, seq):
        while len(self.ends) <= seq:
            self.upto(len(self.buf) + 1)
        return self.ends[seq]


class Reader(threading.Thread):
    """Guest -> host on one port: every byte compared with the stream at its place."""

    def __init__(self, port, sock):
        super().__init__(daemon=True)
        self.port, self.sock, self.stream = port, sock, Stream(port, 0)
        self.pos, self.total, self.error, self.lock = 0, 0, None, threading.Lock()

    def run(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.total += len(data)
                self.stream.upto(self.pos + len(data))
                want = self.stream.buf[self.pos:self.pos + len(data)]
                if want != data and not self.error:
                    i = next(k for k in range(len(data)) if data[k] != want[k])
                    self.error = "port %d guest->host byte %d: got 0x%02x, the stream has 0x%02x" % (
                        self.port, self.pos + i, data[i], want[i])
                self.pos += len(data)

    def rewind(self, to):
        # Past what this timeline sent is fine too: a snapshot saved before an earlier load comes
        # from a timeline since abandoned, and the stream is the same function of the offset.
        with self.lock:
            self.pos = to


class Writer(threading.Thread):
    """Host -> guest on port 1 through its socket, a record every 20 ms while enabled."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock, self.stream = sock, Stream(1, 1)
        self.pos, self.lock, self.on = 0, threading.Lock(), threading.Event()

    def run(self):
        while True:
            self.on.wait()
            with self.lock:
                if self.on.is_set():
                    k, _ = self.stream.records_in(self.pos)
                    end = self.stream.record_end(k)
                    try:
                        self.sock.sendall(self.stream.buf[self.pos:end])
                    except OSError:
                        return
                    self.pos = end
            time.sleep(0.02)

    def quiesce(self, deadline):
        """Stop writing and wait until vmdbg has read every byte (so POS is exact)."""
        self.on.clear()
        with self.lock:
            pass
        while True:
            q = struct.unpack("i", fcntl.ioctl(self.sock, termios.TIOCOUTQ, b"\0" * 4))[0]
            if q == 0:
                return
            if time.time() > deadline:
                raise SoakFail("port 1: vmdbg left %d host bytes unread in its socket for a second" % q)
            time.sleep(0.002)


# --- vmdbg: the REPL over a pipe -------------------------------------------------------------

# vmdbg's own messages, trace and break-on notices, and the guest's COM1 lines (the REPL shows
# the guest console at its prompt whatever COM1's backend): none is a command's answer.
ASYNC = re.compile(r"^(vmdbg: |tg: |trace \d|break-on \d+: .*all vCPUs stopped \(`resume` continues\)$)")


class Repl:
    def __init__(self, proc, log):
        self.proc, self.log, self.n = proc, log, 0
        self.lines, self.cv = collections.deque(), threading.Condition()
        self.async_lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.log.write(line + "\n")
            with self.cv:
                self.lines.append(line)
                self.cv.notify_all()
        with self.cv:
            self.lines.append(None)
            self.cv.notify_all()

    def _next(self, deadline):
        with self.cv:
            while not self.lines:
                left = deadline - time.time()
                if left <= 0:
                    return False
                self.cv.wait(left)
            return self.lines.popleft()

    def cmd(self, text, limit=REPLY_S):
        """Run TEXT; its reply lines (vmdbg's own messages and notices go to async_lines)."""
        self.n += 1
        mark = "@@%d" % self.n
        t0 = time.time()
        self.log.write(">>> %s\n" % text)
        try:
            self.proc.stdin.write(("%s\necho %s\n" % (text, mark)).encode())
            self.proc.stdin.flush()
        except OSError:
            raise SoakFail("vmdbg's stdin is closed (it ended?)")
        out = []
        while True:
            line = self._next(t0 + limit)
            if line is None:
                raise SoakFail("vmdbg ended during `%s`" % text)
            if line is False:
                raise SoakFail("`%s` got no whole answer within %.1f s (so far: %r)" % (text, limit, out))
            if line == mark:
                return out
            (self.async_lines if ASYNC.match(line) else out).append(line)

    def take_async(self):
        """
        Notices that came between commands. Everything queued now came outside a command: a
        line that is not a notice (the torn tail of a guest line a load rewound, "ttg: ...")
        is dropped, not left in front of the notices behind it.
        """
        with self.cv:
            more = []
            while self.lines and self.lines[0] is not None:
                line = self.lines.popleft()
                if ASYNC.match(line):
                    more.append(line)
        a, self.async_lines = self.async_lines + more, []
        return a


# --- gdb: a remote-protocol client that sends what gdb sends ---------------------------------

RSP_WIRE = collections.deque(maxlen=40)


class Gdb:
    def __init__(self, port):
        self.port, self.s, self.buf, self.no_ack, self.busy_retries = port, None, b"", False, 0
        self.wire = RSP_WIRE  # the last packets both ways, printed with a failure

    def connect(self):
        for _ in range(300):
            self.s = socket.create_connection(("127.0.0.1", self.port), timeout=REPLY_S)
            self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buf, self.no_ack = b"", False
            q, _ = self.cmd(b"qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;"
                            b"vfork-events+;exec-events+;vContSupported+;QThreadEvents+;no-resumed+;"
                            b"xmlRegisters=i386")
            if not q.startswith(b"E."):
                break
            # The stub has not yet seen the last client's close: refused, as documented.
            self.busy_retries += 1
            self.s.close()
            time.sleep(0.01)
        else:
            raise SoakFail("the stub refused gdb for 3 s after the last detach")
        if not q.startswith(b"PacketSize="):
            raise SoakFail("qSupported: %r" % q)
        r, _ = self.cmd(b"QStartNoAckMode")
        if r != b"OK":
            raise SoakFail("QStartNoAckMode: %r" % r)
        self.no_ack = True
        stop, _ = self.cmd(b"?")
        for p in (b"qfThreadInfo", b"qsThreadInfo", b"qAttached", b"Hg1"):
            self.cmd(p)
        return stop

    def send(self, p):
        self.wire.append("%.3f -> %s" % (time.time(), p[:60].decode("ascii", "replace")))
        self.s.sendall(rsp_wire.frame(p))

    def _packet(self, deadline):
        """The next packet's payload, or None at the deadline."""
        while True:
            p, self.buf = rsp_wire.take(self.buf)
            if p is not None:
                if not self.no_ack:
                    self.s.sendall(b"+")
                self.wire.append("%.3f <- %s" % (time.time(), p[:300].decode("ascii", "replace")))
                return p
            # Past the deadline one look without waiting: poll() must see what is on the wire.
            left = max(0.0, deadline - time.time())
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                return None
            d = self.s.recv(1 << 20)
            if not d:
                raise SoakFail("the stub closed the gdb connection")
            self.buf += d

    def reply(self, limit=REPLY_S, what="a reply"):
        """The next non-O packet and the O text before it."""
        deadline, text = time.time() + limit, ""
        while True:
            p = self._packet(deadline)
            if p is None:
                raise SoakFail("gdb: no %s within %.1f s" % (what, limit))
            if p[:1] == b"O" and p != b"OK":
                text += bytes.fromhex(p[1:].decode()).decode("utf-8", "replace")
                continue
            return p, text

    def cmd(self, p, limit=REPLY_S):
        self.send(p)
        return self.reply(limit, "reply to %s" % p[:30].decode())

    def poll(self):
        """A stop reply (and O text) already on the wire, else None."""
        p, text = None, ""
        while True:
            q = self._packet(time.time())
            if q is None:
                return p, text
            if q[:1] == b"O" and q != b"OK":
                text += bytes.fromhex(q[1:].decode()).decode("utf-8", "replace")
            else:
                p = q

    def monitor(self, text):
        r, out = self.cmd(b"qRcmd," + text.encode().hex().encode())
        if r != b"OK":
            raise SoakFail("monitor %s: %r" % (text, r))
        return out

    def close(self):
        self.s.close()
        self.s = None


def stop_rip(stop):
    m = re.search(rb"(?:^|;)10:([0-9a-f]{16});", stop)
    return int.from_bytes(bytes.fromhex(m.group(1).decode()), "little") if m else None


def g_rip(g):
    return int.from_bytes(bytes.fromhex(g[256:272].decode()), "little")


# --- the soak -------------------------------------------------------------------------------

class Soak:
    def __init__(self):
        self.rnd = random.Random(A.seed)
        self.tmp = A.tmp
        self.port = 20000 + (A.seed * 7919 + os.getpid()) % 20000
        self.hist = collections.deque(maxlen=20)
        self.counts = collections.Counter()
        self.gdb = None            # attached client
        self.gdb_running = False   # gdb waits for a stop reply
        self.repl_stop = False     # no gdb: stopped by pause or step
        self.bo_stop = False       # no gdb: stopped by a break-on (its own pause reference)
        self.zs = set()            # gdb's breakpoints: "0", "1", "2"
        self.sent = [0, 0, 0]      # host -> guest bytes through `port send` (index 1 unused)
        self.ctl_sent = 0
        self.snaps = {}
        self.trace_on = False
        self.bo_hit = False
        self.loads = self.saves = self.real_gdb = self.busy = 0
        self.com1 = os.path.join(self.tmp, "com1")
        self.t0 = time.time()

    # -- start-up ---------------------------------------------------------------------------

    def start(self):
        socks = [os.path.join(self.tmp, "p%d.sock" % i) for i in range(3)]
        args = [A.vmdbg, "--kernel", A.elf, "--cpus", "2", "--mem", "64M",
                "--append", "mode=vcon-soak tx_every=%d" % TX_EVERY_MS, "--repl",
                "--serial", "file:" + self.com1, "--gdb", "tcp:127.0.0.1:%d" % self.port]
        for i, p in enumerate(socks):
            args += ["--port", "%d:unix:%s" % (i, p)]
        self.log = open(os.path.join(self.tmp, "repl.log"), "w", buffering=1)
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.repl = Repl(self.proc, self.log)
        deadline = time.time() + 30
        while not all(os.path.exists(p) for p in socks):
            if time.time() > deadline or self.proc.poll() is not None:
                raise SoakFail("vmdbg did not open its port sockets")
            time.sleep(0.05)
        self.readers, conns = [], []
        for i, p in enumerate(socks):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(p)
            conns.append(s)
            self.readers.append(Reader(i, s))
            self.readers[-1].start()
        self.writer = Writer(conns[1])
        self.writer.start()
        while self.soak_words()[0] != MAGIC:
            if time.time() > deadline:
                raise SoakFail("the guest did not start its soak (see %s)" % self.com1)
            time.sleep(0.1)
        # Only now: the driver's probe resets the device, and a reset drops pending host input.
        self.writer.on.set()
        self.repl.take_async()

    # -- reading the guest and vmdbg ---------------------------------------------------------

    def x_words(self, addr, n, via_gdb=False):
        if via_gdb:
            r, _ = self.gdb.cmd(b"m%x,%x" % (addr, 8 * n))
            if len(r) != 16 * n:
                raise SoakFail("m 0x%x: %r" % (addr, r[:40]))
            return list(struct.unpack("<%dQ" % n, bytes.fromhex(r.decode())))
        out = self.repl.cmd("x/%dxg 0x%x" % (n, addr))
        words = [int(w, 16) for line in out for w in re.findall(r"\s(0x[0-9a-f]{16})\b", line.split(":", 1)[-1])]
        if len(words) != n:
            raise SoakFail("x/%dxg 0x%x: %r" % (n, addr, out))
        return words

    def soak_words(self, via_gdb=False):
        return self.x_words(TG_SOAK, SOAK_WORDS, via_gdb)

    def counter(self):
        return self.x_words(TG_COUNTER, 1)[0]

    def json(self, cmd):
        out = self.repl.cmd("json " + cmd)
        try:
            return json.loads("".join(l for l in out if l.startswith("{")))["return"]
        except (ValueError, KeyError):
            raise SoakFail("json %s: %r" % (cmd, out))

    def ports(self):
        return self.json("port list")

    def guest_fragments(self, out, keep):
        """
        Lines of OUT that are the tail of a guest COM1 line: a load rewinds a guest that was
        mid-line, and the REPL shows the guest console at its prompt, so the rest of a line can
        arrive alone. Only lines KEEP (a regex) does not match are taken for such tails.
        """
        if len(out) < 2:
            return out
        com1 = open(self.com1, errors="replace").read().replace("\r", "").splitlines()
        return [l for l in out if re.fullmatch(keep, l) or not any(c.endswith(l) for c in com1)]

    def get(self, path):
        out = self.guest_fragments(self.repl.cmd("get " + path), r"\d+ \(0x[0-9a-f]+\)|[01]")
        if len(out) != 1:
            raise SoakFail("get %s: %r" % (path, out))
        return out[0]

    def stopped(self):
        return self.gdb is not None and not self.gdb_running or self.repl_stop or self.bo_stop

    def expect(self, ok, what, got):
        if not ok:
            raise SoakFail("%s: got %r" % (what, got))

    def expect_line(self, out, regex, what):
        out = self.guest_fragments(out, regex)
        self.expect(len(out) == 1 and re.fullmatch(regex, out[0]), what, out)

    # -- async events: stop replies, break-on notices ----------------------------------------

    def take_events(self):
        for line in self.repl.take_async():
            if re.match(r"break-on \d+: ", line):
                self.on_break_on()
        if self.gdb is not None:
            stop, text = self.gdb.poll()
            if stop is not None:
                self.on_gdb_stop(stop)

    def on_break_on(self):
        # Handed to an attached gdb (cmd_flush_notices), else the REPL's until `resume`.
        if self.gdb is None:
            self.bo_stop = True
        self.bo_hit = True

    def on_gdb_stop(self, stop):
        self.expect(stop[:1] == b"T" and stop_rip(stop) is not None, "a stop reply", stop)
        if not self.gdb_running:
            raise SoakFail("a stop reply while gdb held a stop already: %r" % stop)
        self.gdb_running = False
        self.last_stop = stop

    def wait_gdb_stop(self, what):
        stop, _ = self.gdb.reply(REPLY_S, "stop reply after " + what)
        self.on_gdb_stop(stop)
        return stop

    # -- checks --------------------------------------------------------------------------------

    def check_runs(self, what):
        """After a resume or continue: the guest's heartbeat moves within a second."""
        c0, deadline = self.counter(), time.time() + REPLY_S
        while self.counter() == c0:
            if time.time() > deadline:
                stop = self.gdb.poll() if self.gdb is not None else None
                raise SoakFail("after %s the guest does not run: tg_counter stays %d (gdb got %r)" % (what, c0, stop))
            time.sleep(0.002)

    def check_views(self):
        """The REPL and gdb agree whether the vCPUs are stopped, and on where they stopped."""
        stopped = self.stopped()
        p = self.get("paused")
        self.expect(p == ("1" if stopped else "0"), "get paused (model: %s)" % self.state(), p)
        out = self.repl.cmd("info cpus")
        states = [m.group(1) for m in (re.match(r"^[ *] CPU #\d+: (\S+)", l) for l in out) if m]
        self.expect(len(states) == 2, "info cpus lists 2 vCPUs", out)
        running = [s in ("running", "halted", "wait-for-sipi") for s in states]
        self.expect(running == [not stopped] * 2, "info cpus states (model: %s)" % self.state(), out)
        if self.gdb is not None and not self.gdb_running:
            for cpu in (0, 1):
                r, _ = self.gdb.cmd(b"Hg%d" % (cpu + 1))
                g, _ = self.gdb.cmd(b"g")
                rip = int(self.get("cpu.%d.rip" % cpu).split()[0])
                self.expect(g_rip(g) == rip, "gdb's rip of thread %d equals the REPL's 0x%x" % (cpu + 1, rip),
                            hex(g_rip(g)))
            self.gdb.cmd(b"Hg1")
            self.counts["view-gdb"] += 1

    def check_data(self, final=False):
        for r in self.readers:
            if r.error:
                raise SoakFail(r.error)
        w = self.soak_words(via_gdb=self.gdb is not None and not self.gdb_running)
        bad, gaps = w[8:11], w[11:14]
        self.expect(bad == [0, 0, 0] and gaps == [0, 0, 0],
                    "the guest's host->guest checks (bad records, sequence gaps per port; records it "
                    "took %r, the host sent %r)" % (w[5:8], self.sent_records()), (bad, gaps))
        self.expect(w[14] <= self.ctl_sent, "control messages the guest got <= sent (%d)" % self.ctl_sent, w[14])

    def sent_records(self):
        return [self.send_stream[0].records_in(self.sent[0])[0],
                self.writer.stream.records_in(self.writer.pos)[0],
                self.send_stream[2].records_in(self.sent[2])[0]]

    def state(self):
        if self.gdb is not None:
            return "gdb running" if self.gdb_running else "gdb holds"
        return "break-on stop" if self.bo_stop else "REPL pause" if self.repl_stop else "running"

    # -- REPL operations -----------------------------------------------------------------------

    def op_pause(self):
        held = self.gdb is not None
        was_running = self.gdb_running
        out = self.repl.cmd("pause")
        self.take_events()
        if held:
            self.expect_line(out, r"paused: all 2 vCPU\(s\) parked; gdb holds this stop \(its `continue` resumes\)",
                             "pause with gdb attached")
            if was_running and self.gdb_running:
                stop = self.wait_gdb_stop("the REPL's pause")
        else:
            self.expect_line(out, r"paused: all 2 vCPU\(s\) parked", "pause")
            self.repl_stop, self.bo_stop = True, False

    def op_resume(self):
        out = self.repl.cmd("resume")
        self.take_events()
        if self.gdb is not None and not self.gdb_running:
            self.expect_line(out, r"resume: gdb \(%s\) holds this stop; use gdb's `continue` \(or `detach`, "
                             r"which lets the guest run and gives run control back\)" % PEER, "resume refused")
            return
        if self.gdb is None and (self.repl_stop or self.bo_stop):
            self.expect_line(out, r"running", "resume")
        else:
            self.expect_line(out, r"resume: the VM was already running", "resume while running")
        self.repl_stop = self.bo_stop = False
        self.check_runs("resume")

    def op_step(self):
        # vCPU 0 only: vCPU 1 sits in HLT, and a step (interrupts held) cannot leave it.
        cpu = 0
        n = self.rnd.choice((1, 1, 2, 5))
        gdb_ran = self.gdb_running
        out = self.repl.cmd("step %d %d" % (cpu, n))
        self.take_events()
        if self.gdb is not None and not gdb_ran:
            self.expect_line(out, r"step: gdb \(%s\) holds this stop; use gdb's `stepi` \(or `detach`, "
                             r"which lets the guest run and gives run control back\)" % PEER, "step refused")
            return
        held = r"; gdb holds this stop \(its `continue` resumes\)" if self.gdb is not None else ""
        self.expect_line(out, r"cpu %d: 0x[0-9a-f]{16} \S.*%s" % (cpu, held), "step %d %d" % (cpu, n))
        if self.gdb is not None:
            # gdb's continue was running the guest: the step's stop is gdb's now, as a pause's is.
            if self.gdb_running:
                self.wait_gdb_stop("the REPL's step")
        else:
            self.repl_stop, self.bo_stop = True, False

    def op_port_send(self, via_gdb=False):
        port = self.rnd.choice((0, 2))
        k, _ = self.send_stream[port].records_in(self.sent[port])
        rec = record(port, 1, k)
        cmd = "port send %d hex:%s" % (port, rec.hex())
        out = self.gdb.monitor(cmd).splitlines() if via_gdb else self.repl.cmd(cmd)
        self.expect_line(out, r"queued %d bytes for port %d" % (len(rec), port), cmd[:16])
        self.sent[port] += len(rec)

    def op_ctl_send(self, via_gdb=False):
        # Messages the guest's driver takes without changing a port: unknown events, a repeated
        # PORT_OPEN(1) for an open port, a RESIZE.
        ev, pid, val = self.rnd.choice(((99, 1, 1), (1234, 2, 7), ("PORT_OPEN", 1, 1),
                                        ("PORT_OPEN", 2, 1), ("RESIZE", 0, 1)))
        cmd = "ctl send %s %d %d" % (ev, pid, val)
        out = self.gdb.monitor(cmd).splitlines() if via_gdb else self.repl.cmd(cmd)
        out = self.guest_fragments(out, r"queued .*|\(virtio-console defines .*")
        name = ev if isinstance(ev, str) else r"event %d \(unknown\)" % ev
        self.expect(len(out) >= 1 and re.fullmatch(r"queued %s id=%d value=%d" % (name, pid, val), out[0]),
                    cmd, out)
        self.ctl_sent += 1

    def op_trace(self, via_gdb=False):
        if self.trace_on:
            cmd, want = "trace off", r"tracing: off"
        elif self.rnd.random() < 0.7:
            f = os.path.join(self.tmp, "trace.log")
            cmd, want = "trace on ctl,vq,irq %s" % f, r"tracing: ctl vq irq to %s" % re.escape(f)
        else:
            cmd, want = "trace on ctl", r"tracing: ctl"
        out = self.gdb.monitor(cmd).splitlines() if via_gdb else self.repl.cmd(cmd)
        self.expect_line(out, want, cmd)
        self.trace_on = not self.trace_on

    def op_break_on(self):
        """Arm a break-on on port 1's tx notifies, let the guest run into it, check the stop."""
        q = self.rnd.choice(("notify 5", "notify 7", "notify 1"))
        out = self.guest_fragments(self.repl.cmd("break-on " + q), r"break-on \d+: .*")
        self.expect(len(out) == 1 and re.fullmatch(r"break-on \d+: .* \(stops every vCPU\)", out[0]),
                    "break-on " + q, out)
        self.bo_hit = False
        if self.gdb is not None and not self.gdb_running:
            # gdb's own breakpoints would stop the guest first (a tick is 1 ms): gdb deletes them.
            for z in sorted(self.zs):
                r, _ = self.gdb.cmd(b"z%s,%x,%x" % (z.encode(), TG_COUNTER if z == "2" else TG_BREAK_HERE,
                                                    8 if z == "2" else 1))
                self.expect(r == b"OK", "z" + z, r)
            self.zs = set()
            self.gdb.send(b"vCont;c")
            self.gdb_running = True
        elif self.gdb is None and (self.repl_stop or self.bo_stop):
            # The guest reaches the break-on within microseconds: still `running` (it ran).
            self.expect_line(self.repl.cmd("resume"), r"running", "resume into the break-on")
            self.repl_stop = self.bo_stop = False
        deadline = time.time() + REPLY_S
        while not self.bo_hit:
            if time.time() > deadline:
                raise SoakFail("break-on %s: no stop within a second of running (%s; get paused %s)"
                               % (q, self.state(), self.get("paused")))
            time.sleep(0.002)
            self.take_events()
        if self.gdb is not None:
            if self.gdb_running:
                stop = self.wait_gdb_stop("the break-on")
        out = self.repl.cmd("break-on delete all")
        self.expect_line(out, r"deleted 1 break-on point", "break-on delete all")
        self.check_views()

    def quiesce_rx(self):
        self.writer.quiesce(time.time() + REPLY_S)

    def snapshot_save(self):
        slot = "s%d" % self.rnd.randrange(3)
        f = os.path.join(self.tmp, slot + ".snap")
        self.quiesce_rx()
        via_gdb = self.gdb is not None and not self.gdb_running and self.rnd.random() < 0.5
        cmd = "snapshot save " + f
        out = self.gdb.monitor(cmd).splitlines() if via_gdb else self.repl.cmd(cmd)
        self.take_events()
        out = self.guest_fragments(out, r"saved .*")
        self.expect(len(out) == 1 and out[0].startswith("saved %s: " % f), cmd, out)
        info = self.json("snapshot info " + f)
        # Where each stream stands in the snapshot: guest -> host, the bytes the device had given
        # its backend (what it still held is in the file and comes again); host -> guest, every
        # byte sent so far (the writer is quiet and vmdbg read its socket dry: all of them are
        # in the guest's RAM or the device's pending buffer, both in the file).
        self.snaps[slot] = dict(file=f, tx=[p["tx_bytes"] - p["host_tx"] for p in info["ports"]],
                                rx=[self.sent[0], self.writer.pos, self.sent[2]], ctl=self.ctl_sent)
        self.writer.on.set()
        self.saves += 1

    def snapshot_load(self):
        """
        Rewind the machine, and every stream check with it. A load replaces the guest's RAM and
        the device's buffers, so the guest writes again from where the snapshot stood and waits
        for what the host had sent by then. So that each byte's place stays exactly known (no
        "resynchronise somewhere" window that could hide a loss), the soak loads only a stopped
        machine whose output was all taken by the host and whose input writer is quiet: then the
        host's readers restart at the snapshot's positions (from `snapshot info`), checked to lie
        behind what they had received, and the writers at what was sent when it was saved, checked
        against vmdbg's own counters after the load (rx_bytes + pending_rx).
        """
        if not self.snaps:
            return self.snapshot_save()
        slot = self.rnd.choice(sorted(self.snaps))
        s = self.snaps[slot]
        if self.gdb is not None and self.gdb_running:
            self.gdb.s.sendall(b"\x03")
            self.wait_gdb_stop("Ctrl-C before a load")
        elif self.gdb is None and not (self.repl_stop or self.bo_stop):
            self.expect_line(self.repl.cmd("pause"), r"paused: all 2 vCPU\(s\) parked", "pause before a load")
            self.repl_stop = True
        self.quiesce_rx()
        deadline = time.time() + REPLY_S
        while True:
            ps = self.ports()
            if all(p["host_tx"] == 0 and self.readers[i].pos == p["tx_bytes"]
                   for i, p in enumerate(ps)):
                break
            if time.time() > deadline:
                raise SoakFail("a stopped guest's output did not all reach the host within a second: "
                               "device %r, host %r" % ([(p["tx_bytes"], p["host_tx"]) for p in ps],
                                                       [r.pos for r in self.readers]))
            time.sleep(0.005)
        # The readers move first: the restored device may send its held bytes at once.
        for i in range(3):
            self.readers[i].rewind(s["tx"][i])
        cmd = "snapshot load " + s["file"]
        if self.gdb is not None:
            out = self.guest_fragments(self.gdb.monitor(cmd).splitlines(), r"loaded .*|gdb still shows .*")
            self.expect(len(out) == 2 and out[0].startswith("loaded %s: " % s["file"]) and
                        "maint flush register-cache" in out[1], "monitor " + cmd, out)
        else:
            out = self.guest_fragments(self.repl.cmd(cmd), r"loaded .*")
            self.expect(len(out) == 1 and out[0].startswith("loaded %s: " % s["file"]), cmd, out)
        self.take_events()
        ps = self.ports()
        for i, p in enumerate(ps):
            self.expect(p["rx_bytes"] + p["pending_rx"] == s["rx"][i],
                        "port %d after the load: rx_bytes + pending_rx = the host bytes sent by the save (%d)"
                        % (i, s["rx"][i]), (p["rx_bytes"], p["pending_rx"]))
        self.sent[0], self.sent[2], self.ctl_sent = s["rx"][0], s["rx"][2], s["ctl"]
        with self.writer.lock:
            self.writer.pos = s["rx"][1]
        self.writer.on.set()
        self.loads += 1
        self.check_views()

    def op_load_refused(self):
        """gdb holds a stop: the REPL's load is refused (gdb would show the old machine)."""
        f = next(iter(self.snaps.values()))["file"]
        out = self.repl.cmd("snapshot load " + f)
        self.expect_line(out, r"snapshot load: gdb \(%s\) holds this stop; load from gdb \(`monitor snapshot "
                         r"load FILE`\) or `detach` it first" % PEER, "snapshot load refused")

    # -- gdb operations ------------------------------------------------------------------------

    def op_attach(self):
        self.gdb = Gdb(self.port)
        stop = self.gdb.connect()
        self.expect(stop[:1] == b"T", "? after attaching", stop)
        self.gdb_running, self.repl_stop, self.zs = False, False, set()
        # An attach stops every vCPU: gdb holds the stop, whatever held the VM before.
        self.bo_stop = False
        self.check_views()

    def op_detach(self):
        r, _ = self.gdb.cmd(b"D")
        self.expect(r == b"OK", "D", r)
        self.gdb.close()
        self.busy += self.gdb.busy_retries
        self.gdb, self.gdb_running, self.zs = None, False, set()
        self.check_runs("detach")

    def step_over_bp(self):
        """As gdb does: off a breakpoint at thread 1's pc, step with it out, put it back."""
        at = sorted(self.zs & {"0", "1"})
        if not at:
            return
        self.gdb.cmd(b"Hg1")
        g, _ = self.gdb.cmd(b"g")
        if g_rip(g) != TG_BREAK_HERE:
            return
        for z in at:
            self.expect(self.gdb.cmd(b"z%s,%x,1" % (z.encode(), TG_BREAK_HERE))[0] == b"OK", "z" + z, z)
        self.gdb.send(b"vCont;s:1")
        self.gdb_running = True
        stop = self.wait_gdb_stop("the step off a breakpoint")
        self.expect(stop[:3] == b"T05" and stop_rip(stop) != TG_BREAK_HERE, "a step off tg_break_here", stop)
        for z in at:
            self.expect(self.gdb.cmd(b"Z%s,%x,1" % (z.encode(), TG_BREAK_HERE))[0] == b"OK", "Z" + z, z)

    def op_continue(self):
        self.step_over_bp()
        self.gdb.send(b"vCont;c")
        self.gdb_running = True
        if self.zs:
            stop = self.wait_gdb_stop("continue with Z%s set" % ",".join(sorted(self.zs)))
            rip = stop_rip(stop)
            kinds = {b"swbreak:;": "0", b"hwbreak:;": "1", b"watch:": "2"}
            hit = [z for k, z in kinds.items() if k in stop]
            self.expect(len(hit) == 1 and hit[0] in self.zs, "the stop names a breakpoint gdb set", stop)
            if hit[0] != "2":
                self.expect(rip == TG_BREAK_HERE, "stopped at tg_break_here", hex(rip))
        else:
            self.check_runs("continue")

    def op_interrupt(self):
        self.gdb.s.sendall(b"\x03")
        stop = self.wait_gdb_stop("Ctrl-C")
        self.expect(stop[:3] in (b"T02", b"T05"), "Ctrl-C's stop reply", stop)

    def op_stepi(self):
        self.step_over_bp()
        # What gdb sends for stepi (all-stop, scheduler-locking off / on), and the legacy packet.
        how = self.rnd.choice((b"vCont;s:1;c", b"vCont;s:1", b"s"))
        if how == b"s":
            self.gdb.cmd(b"Hc1")
        self.gdb.send(how)
        self.gdb_running = True
        stop = self.wait_gdb_stop("stepi")
        self.expect(stop[:3] == b"T05", "stepi's stop reply", stop)

    def op_z(self):
        kind = self.rnd.choice(("0", "1", "2") if A.watch else ("0", "1", "1"))
        addr = TG_COUNTER if kind == "2" else TG_BREAK_HERE
        size = 8 if kind == "2" else 1
        insert = kind not in self.zs
        r, _ = self.gdb.cmd(b"%s%s,%x,%x" % (b"Z" if insert else b"z", kind.encode(), addr, size))
        refused = {"0": A.z0_refused, "1": A.z1_refused, "2": A.z2_refused}[kind]
        if insert and refused:
            self.expect(r[:1] == b"E", "Z%s refused on this KVM" % kind, r)
            return
        self.expect(r == b"OK", ("Z" if insert else "z") + kind, r)
        (self.zs.add if insert else self.zs.discard)(kind)

    def op_monitor(self):
        what = self.rnd.choice(("resume", "step", "pause", "info cpus", "rip", "counter", "port send",
                                "ctl send", "trace", "info breaks"))
        self.counts["monitor " + what] += 1
        if what == "resume":
            out = self.gdb.monitor("resume").splitlines()
            self.expect_line(out, r"resume: gdb \(%s\) holds this stop; use gdb's `continue` .*" % PEER,
                             "monitor resume refused")
        elif what == "step":
            out = self.gdb.monitor("step").splitlines()
            self.expect_line(out, r"step: gdb \(%s\) holds this stop; use gdb's `stepi` .*" % PEER,
                             "monitor step refused")
        elif what == "pause":
            out = self.gdb.monitor("pause").splitlines()
            self.expect_line(out, r"paused: all 2 vCPU\(s\) parked; gdb holds this stop \(its `continue` resumes\)",
                             "monitor pause")
        elif what == "info cpus":
            out = self.gdb.monitor("info cpus").splitlines()
            states = re.findall(r"(?m)^[ *] CPU #\d+: (\S+)", "\n".join(out))
            self.expect(len(states) == 2 and not any(s in ("running", "halted") for s in states),
                        "monitor info cpus: both stopped", out)
        elif what == "rip":
            self.gdb.cmd(b"Hg1")
            g, _ = self.gdb.cmd(b"g")
            out = self.gdb.monitor("get cpu.0.rip").splitlines()
            self.expect(len(out) == 1 and int(out[0].split()[0]) == g_rip(g), "monitor get cpu.0.rip equals g's rip",
                        (out, hex(g_rip(g))))
        elif what == "counter":
            a = self.x_words(TG_COUNTER, 1, via_gdb=True)[0]
            out = self.gdb.monitor("x/1xg 0x%x" % TG_COUNTER)
            self.expect(("0x%016x" % a) in out, "monitor x tg_counter equals m's 0x%x" % a, out)
        elif what == "port send":
            self.op_port_send(via_gdb=True)
        elif what == "ctl send":
            self.op_ctl_send(via_gdb=True)
        elif what == "trace":
            self.op_trace(via_gdb=True)
        else:
            out = self.gdb.monitor("info breaks")
            self.expect(("DR" in out) or ("no " in out.lower()) or out.strip() != "", "monitor info breaks", out)

    def op_real_gdb(self, when):
        """A real gdb -batch: registers, tg_counter, threads, and the REPL's view through monitor."""
        self.take_events()
        if self.gdb is not None and self.gdb_running:
            self.op_interrupt()
        if self.gdb is not None:
            self.op_detach()
        gdb_out = os.path.join(self.tmp, "gdb-%s.out" % when)
        with open(gdb_out, "w") as f:
            rc = subprocess.run([A.gdb, "-batch", "-nx", "-ex", "set pagination off",
                                 "-ex", "target remote 127.0.0.1:%d" % self.port,
                                 "-ex", "info registers rip", "-ex", "p/x $rip", "-ex", "p tg_counter",
                                 "-ex", "p tg_soak.rx_bad", "-ex", "info threads",
                                 "-ex", "monitor get cpu.0.rip", "-ex", "monitor info cpus",
                                 "-ex", "detach", A.elf], stdout=f, stderr=subprocess.STDOUT,
                                timeout=60).returncode
        text = open(gdb_out).read()
        self.expect(rc == 0, "gdb -batch (%s) exit status" % when, (rc, text[-500:]))
        m1 = re.search(r"(?m)^\$1 = (0x[0-9a-f]+)$", text)
        m2 = re.search(r"(?m)^\d+ \((0x[0-9a-f]+)\)$", text)
        self.expect(m1 and m2 and int(m1.group(1), 16) == int(m2.group(1), 16),
                    "real gdb's $rip equals `monitor get cpu.0.rip`", text[-800:])
        self.expect(re.search(r"(?m)^\$2 = [1-9]\d*$", text), "real gdb reads tg_counter", text[-800:])
        self.expect(re.search(r"(?m)^\$3 = \{0, 0, 0\}$", text), "real gdb reads tg_soak.rx_bad all 0", text[-800:])
        self.expect(re.search(r"Thread 1 .*stopped", text) and "Ignoring packet error" not in text,
                    "real gdb's threads", text[-800:])
        self.repl.take_async()
        self.repl_stop = self.bo_stop = False
        self.check_runs("real gdb's detach")
        self.real_gdb += 1

    # -- the random walk -----------------------------------------------------------------------

    def choices(self):
        """(weight, name) of every operation this state allows."""
        c = [(6, "port send"), (4, "ctl send"), (2, "trace"), (4, "view"), (1, "snapshot save")]
        if self.gdb is None:
            c += [(8, "pause"), (10, "resume"), (4, "step"), (6, "attach"), (1.5, "break-on"),
                  (1, "snapshot load")]
        elif self.gdb_running:
            c += [(8, "interrupt"), (4, "pause"), (2, "resume"), (2, "step"), (1, "break-on")]
        else:
            c += [(10, "continue"), (6, "stepi"), (6, "Z"), (8, "monitor"), (3, "detach"), (3, "resume"),
                  (2, "step"), (2, "pause"), (1, "break-on"), (1, "snapshot load")]
            if self.snaps:
                c.append((1, "load refused"))
        return c

    def run(self):
        self.send_stream = {0: Stream(0, 1), 2: Stream(2, 1)}
        self.start()
        self.op_real_gdb("start")
        ops = {"pause": self.op_pause, "resume": self.op_resume, "step": self.op_step,
               "port send": self.op_port_send, "ctl send": self.op_ctl_send, "trace": self.op_trace,
               "view": self.check_views, "snapshot save": self.snapshot_save,
               "snapshot load": self.snapshot_load, "break-on": self.op_break_on, "attach": self.op_attach,
               "detach": self.op_detach, "continue": self.op_continue, "interrupt": self.op_interrupt,
               "stepi": self.op_stepi, "Z": self.op_z, "monitor": self.op_monitor,
               "load refused": self.op_load_refused}
        for i in range(A.ops):
            if i == A.ops // 2:
                self.op_real_gdb("middle")
            self.take_events()
            c = self.choices()
            name = self.rnd.choices([n for _, n in c], [w for w, _ in c])[0]
            before, t = self.state(), time.time()
            self.hist.append([i, name, before, ""])
            ops[name]()
            self.hist[-1][3] = "%.0f ms -> %s" % ((time.time() - t) * 1000, self.state())
            self.counts[name] += 1
            if i % 100 == 99:
                self.check_data()
        self.finish()

    def finish(self):
        """Everything sent arrives, everything written is taken, every check in the guest holds."""
        self.op_real_gdb("end")
        self.take_events()
        if self.stopped():
            self.expect_line(self.repl.cmd("resume"), r"running", "resume at the end")
            self.repl_stop = self.bo_stop = False
        self.quiesce_rx()
        want_rx = self.sent_records()
        deadline = time.time() + 5
        while True:
            w = self.soak_words()
            if w[5:8] == want_rx and w[14] == self.ctl_sent:
                break
            if time.time() > deadline:
                raise SoakFail("at the end the guest checked %r records per port (want %r) and %d control "
                               "messages (want %d)" % (w[5:8], want_rx, w[14], self.ctl_sent))
            time.sleep(0.05)
        self.expect_line(self.repl.cmd("pause"), r"paused: all 2 vCPU\(s\) parked", "pause at the end")
        self.repl_stop = True
        deadline = time.time() + REPLY_S
        while True:
            ps, w = self.ports(), self.soak_words()
            got = [r.stream.records_in(r.pos) for r in self.readers]
            if all(p["host_tx"] == 0 and self.readers[i].pos == p["tx_bytes"] for i, p in enumerate(ps)) and \
                    [k for k, _ in got] == w[2:5] and all(whole for _, whole in got):
                break
            if time.time() > deadline:
                raise SoakFail("at the end the host has %r whole records per port, the guest wrote %r" %
                               (got, w[2:5]))
            time.sleep(0.01)
        self.check_data(final=True)
        self.final_words, self.final_ports = w, ps
        self.repl.cmd("resume")
        self.repl_stop = False


def main():
    s = Soak()
    ok, why = True, ""
    try:
        s.run()
    except SoakFail as e:
        ok, why = False, str(e)
    except Exception as e:  # a driver bug is reported like a failure, with the operations
        ok, why = False, "driver exception %s: %s" % (type(e).__name__, e)
    secs = time.time() - s.t0
    ops = sum(v for k, v in s.counts.items() if not k.startswith(("monitor ", "view-")))
    if not ok:
        # Whether the guest's timer still ticks (tx, tg_break_here and break-on stops need it),
        # whatever held the VM.
        try:
            look = []
            for _ in range(3):
                look.append("ticks %d counter %d rflags %s paused %s" % (
                    s.x_words(TG_CPUS + 24, 1)[0], s.counter(), s.get("cpu.0.rflags").split()[-1],
                    s.get("paused")))
                time.sleep(0.3)
            why += " [then: %s]" % "; ".join(look)
        except Exception as e:
            why += " [then: no look: %s]" % e
    if not ok and os.environ.get("SOAK_CTL_GDBDUMP"):
        ex = ["p log_session->vm.pause_depth", "p *log_session->vm.debug",
              "p *(struct cmd_state *)log_session->repl", "p *(struct gdbstub *)log_session->gdb", "thread apply all bt 8"]
        dump = subprocess.run(["gdb", "-batch", "-p", str(s.proc.pid)] + [a for e in ex for a in ("-ex", e)],
                              capture_output=True, text=True)
        open(os.path.join(A.tmp, "vmdbg-state"), "w").write(dump.stdout + dump.stderr)
    if not ok:
        print("FAILED (seed %d, SOAK_CTL_SEED=%d replays it): %s" % (A.seed, A.seed, why))
        print("last operations (index, op, state before, time -> state after):")
        for h in s.hist:
            print("  %5d %-14s %-14s %s" % tuple(h))
        print("last gdb packets (time, direction, packet):")
        for w in RSP_WIRE:
            print("  " + w)
    w = getattr(s, "final_words", None) or [0] * SOAK_WORDS
    print("counts " + " ".join("%s=%d" % (k.replace(" ", "-"), v) for k, v in sorted(s.counts.items())))
    print("result ok=%d ops=%d seed=%d secs=%.0f loads=%d saves=%d real_gdb=%d busy=%d "
          "g2h_records=%s h2g_records=%s g2h_bytes=%s" % (
              ok, ops, A.seed, secs, s.loads, s.saves, s.real_gdb, s.busy,
              ",".join(str(x) for x in w[2:5]), ",".join(str(x) for x in w[5:8]),
              ",".join(str(r.pos) for r in getattr(s, "readers", [])) or "0"))
    if getattr(s, "proc", None):
        try:
            s.proc.stdin.close()
        except OSError:
            pass
        try:
            s.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            s.proc.kill()
        print("vmdbg_exit=%d" % s.proc.wait())
    sys.exit(0 if ok else 1)


main()
