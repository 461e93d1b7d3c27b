#!/usr/bin/env python3
"""Pause-all / resume latency of vmdbg's REPL next to QEMU's monitor, and `vq dump` time.

Every figure is one request -> reply round trip, timed by the client from the write of the
command to the end of its reply (the next prompt, or the QMP "return"):
  vmdbg   `pause` / `resume` typed into `--repl` through a pty (the gdb stub's qRcmd is
          all-stop: only accepted while the VM is already stopped, so it cannot time pause)
  QEMU    HMP `stop` / `cont` over a unix socket (text and prompt, as the REPL), and QMP
          {"execute":"stop"} / "cont" over a unix socket
Both `pause` and `stop` return once every vCPU is out of the guest. A cheap command on each
channel (`echo ok`, `info status`, `query-status`) gives the channel's own floor.
Prints markdown tables on stdout; exits 0 even when a side is skipped (says why).
"""
import argparse
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BOOT_LIMIT = 90.0  # s until the guest's first `tg: alive` / handshake line
CMD_LIMIT = 10.0  # s for one command's reply


class BenchError(Exception):
    pass


def now_ns():
    return time.perf_counter_ns()


class Pty:
    """vmdbg --repl under a pty, read until a marker then the prompt."""

    PROMPT = b"(vmdbg) "

    def __init__(self, argv, log_path):
        self.log = open(log_path, "wb")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        self.buf = b""

    def _read(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([self.fd], [], [], min(left, 0.5))
        if r:
            try:
                d = os.read(self.fd, 1 << 16)
            except OSError:
                d = b""
            if not d:
                raise BenchError("vmdbg exited (see log)")
            self.log.write(d)
            self.buf += d
        return True

    def wait_for(self, needle, limit):
        deadline = time.monotonic() + limit
        while needle not in self.buf:
            if not self._read(deadline):
                raise BenchError("no %r within %.0f s" % (needle, limit))

    def drain(self):
        while select.select([self.fd], [], [], 0)[0]:
            if not self._read(time.monotonic() + 0.1):
                break
        self.buf = b""

    def cmd(self, line, marker):
        """Send LINE, return (ns, reply bytes) once MARKER and then the prompt arrived."""
        self.drain()
        data = line.encode() + b"\n"
        deadline = time.monotonic() + CMD_LIMIT
        t0 = now_ns()
        os.write(self.fd, data)
        pos = -1
        while True:
            if pos < 0:
                pos = self.buf.find(marker)
            if pos >= 0:
                end = self.buf.find(self.PROMPT, pos)
                if end >= 0:
                    t1 = now_ns()
                    out = self.buf[pos:end]
                    self.buf = self.buf[end + len(self.PROMPT):]
                    return t1 - t0, out
            if not self._read(deadline):
                raise BenchError("`%s`: no %r then prompt within %.0f s: %r" %
                                 (line, marker, CMD_LIMIT, self.buf[-300:]))

    def close(self):
        try:
            os.write(self.fd, b"quit\n")
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                if os.waitpid(self.pid, os.WNOHANG)[0]:
                    self.pid = 0
                    break
                try:
                    self._read(time.monotonic() + 0.1)
                except BenchError:
                    pass
        except OSError:
            pass
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.pid = 0
        os.close(self.fd)
        self.log.close()


class Sock:
    def __init__(self, path, limit=10.0):
        deadline = time.monotonic() + limit
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() > deadline:
                    raise BenchError("cannot connect to %s" % path)
                time.sleep(0.05)
        self.s.settimeout(CMD_LIMIT)
        self.buf = b""

    def _read(self):
        try:
            d = self.s.recv(1 << 16)
        except socket.timeout:
            raise BenchError("no reply within %.0f s: %r" % (CMD_LIMIT, self.buf[-200:]))
        if not d:
            raise BenchError("QEMU closed the monitor")
        self.buf += d


class Hmp(Sock):
    PROMPT = b"(qemu) "

    def __init__(self, path):
        super().__init__(path)
        while not self.buf.endswith(self.PROMPT):
            self._read()
        self.buf = b""

    def cmd(self, line):
        # HMP's readline echoes the line, redrawn after each key, the last time as
        # LINE ESC[K CR LF: the reply and the prompt follow that.
        echo = line.encode() + b"\x1b[K\r\n"
        self.buf = b""
        t0 = now_ns()
        self.s.sendall(line.encode() + b"\n")
        while True:
            e = self.buf.find(echo)
            if e >= 0 and self.buf.endswith(self.PROMPT):
                t1 = now_ns()
                out = self.buf[e + len(echo):-len(self.PROMPT)]
                self.buf = b""
                return t1 - t0, out
            self._read()


class PtyHmp(Hmp):
    """QEMU's HMP on a pty chardev: the same kind of channel as vmdbg's REPL."""

    def __init__(self, path):
        import tty
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.buf = b""
        self.s = self
        self.cmd("info status")
        while select.select([self.fd], [], [], 0.2)[0]:  # anything QEMU wrote before we opened
            os.read(self.fd, 1 << 16)

    def sendall(self, data):
        os.write(self.fd, data)

    def _read(self):
        if not select.select([self.fd], [], [], CMD_LIMIT)[0]:
            raise BenchError("no reply within %.0f s: %r" % (CMD_LIMIT, self.buf[-200:]))
        self.buf += os.read(self.fd, 1 << 16)

    def close(self):
        os.close(self.fd)


class Qmp(Sock):
    def __init__(self, path):
        super().__init__(path)
        self._line()  # greeting
        self.n = 0
        self.cmd("qmp_capabilities")

    def _line(self):
        while b"\n" not in self.buf:
            self._read()
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name):
        self.n += 1
        t0 = now_ns()
        self.s.sendall(json.dumps({"execute": name, "id": self.n}).encode() + b"\n")
        while True:
            m = self._line()
            if m.get("id") == self.n:
                t1 = now_ns()
                if "error" in m:
                    raise BenchError("QMP %s: %s" % (name, m["error"]))
                return t1 - t0, m["return"]


def stats(ns):
    us = [x / 1000.0 for x in ns]
    return statistics.median(us), max(us)


class Side:
    """One request/reply channel to one VM: timed pause, resume and no-op, samples in ns."""

    def __init__(self, name, pause, resume, noop):
        self.name, self.pause, self.resume, self.noop = name, pause, resume, noop
        self.p, self.r, self.n = [], [], []

    def block(self, rounds):
        """pause, hold 2 ms, resume, let the vCPUs run 10 ms; a no-op command every round."""
        for _ in range(rounds):
            self.n.append(self.noop())
            self.p.append(self.pause())
            time.sleep(0.002)
            self.r.append(self.resume())
            time.sleep(0.010)

    def result(self):
        return stats(self.p), stats(self.r), stats(self.n)


def vmdbg_side(v, ncpus):
    def pause():
        return v.cmd("pause", b"paused: all %d vCPU(s) parked" % ncpus)[0]

    def resume():
        ns, out = v.cmd("resume", b"resume")  # the echo; the reply must be "running"
        if b"\nrunning" not in out:
            raise BenchError("resume did not resume: %r" % out)
        return ns

    return Side("vmdbg REPL `pause`/`resume` (pty)", pause, resume,
                lambda: v.cmd("echo ok", b"\nok")[0])


def qemu_sides(hp, h, q, accel):
    def hmp(mon, line, want=None):
        ns, out = mon.cmd(line)
        if want and want not in out:
            raise BenchError("HMP %s: %r" % (line, out))
        return ns

    return [Side("QEMU %s HMP `stop`/`cont` (pty)" % accel, lambda: hmp(hp, "stop"),
                 lambda: hmp(hp, "cont"), lambda: hmp(hp, "info status", b"running")),
            Side("QEMU %s HMP `stop`/`cont` (unix)" % accel, lambda: hmp(h, "stop"),
                 lambda: hmp(h, "cont"), lambda: hmp(h, "info status", b"running")),
            Side("QEMU %s QMP stop/cont (unix)" % accel, lambda: q.cmd("stop")[0],
                 lambda: q.cmd("cont")[0], lambda: q.cmd("query-status")[0])]


def bench_pause(a, ncpus, tmp):
    """Both VMs up at once, only one running at a time: blocks of rounds alternate between
    vmdbg and QEMU so that load from elsewhere on the host falls on both alike."""
    procs, v, sides, note, closers = [], None, [], None, []
    try:
        qp = None
        if a.qemu:
            for accel in ("kvm", "tcg"):
                try:
                    qp, d = start_qemu(a, ncpus, tmp, accel)
                    break
                except BenchError as e:
                    note = "%d vCPUs: %s" % (ncpus, e)
            if qp:
                procs.append(qp)
                h, q = Hmp(os.path.join(d, "hmp")), Qmp(os.path.join(d, "qmp"))
                ptys = [c["filename"] for c in q.cmd("query-chardev")[1] if c["label"] == "hmppty"]
                if not ptys or not ptys[0].startswith("pty:"):
                    raise BenchError("QEMU: no pty for the HMP monitor: %r" % ptys)
                hp = PtyHmp(ptys[0][4:])
                closers.append(hp.close)
                q.cmd("stop")
        argv = [a.vmdbg, "--kernel", a.guest, "--cpus", str(ncpus), "--append", "mode=loop",
                "--repl"]
        v = Pty(argv, os.path.join(tmp, "vmdbg-%d.log" % ncpus))
        v.wait_for(b"tg: alive 1", BOOT_LIMIT)
        v.wait_for(b"tg: cpus up=%d of %d" % (ncpus, ncpus), 1)
        vs = vmdbg_side(v, ncpus)
        sides = [vs]
        qs = qemu_sides(hp, h, q, accel) if qp else []
        sides += qs
        done, blk = 0, max(1, min(a.block, a.rounds))
        while done < a.rounds:
            k = min(blk, a.rounds - done)
            time.sleep(0.05)
            vs.block(k)
            if qs:
                vs.pause()
                q.cmd("cont")
                time.sleep(0.05)
                for s in qs:
                    s.block(k)
                q.cmd("stop")
                vs.resume()
            done += k
        if qs:
            ns, st = q.cmd("query-status")
            if st.get("status") != "paused":
                raise BenchError("QEMU status %r after the rounds" % st.get("status"))
        return [(s.name, s.result()) for s in sides], note
    finally:
        for c in closers:
            c()
        if v:
            v.close()
        for p in procs:
            stop_proc(p)


def start_qemu(a, ncpus, tmp, accel):
    d = os.path.join(tmp, "qemu-%s-%d" % (accel, ncpus))
    os.mkdir(d)
    cpu = ["-cpu", "qemu64"] if accel == "kvm" else []
    argv = [a.qemu, "-M", "microvm", "-accel", accel] + cpu + [
        "-smp", str(ncpus), "-m", "256M", "-display", "none", "-nodefaults", "-no-reboot",
        "-kernel", a.guest, "-append", "mode=loop",
        "-monitor", "unix:%s/hmp,server=on,wait=off" % d,
        "-qmp", "unix:%s/qmp,server=on,wait=off" % d,
        "-chardev", "pty,id=hmppty", "-mon", "chardev=hmppty,mode=readline",
        "-serial", "file:%s/serial" % d]
    err = open(os.path.join(d, "stderr"), "wb")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    serial = os.path.join(d, "serial")
    deadline = time.monotonic() + BOOT_LIMIT
    try:
        while time.monotonic() < deadline and p.poll() is None:
            if os.path.exists(serial):
                with open(serial, "rb") as f:
                    s = f.read()
                if b"tg: alive 1" in s:
                    if b"tg: cpus up=%d of %d" % (ncpus, ncpus) not in s:
                        break
                    p, ret = None, p
                    return ret, d
            time.sleep(0.1)
    finally:
        if p:
            stop_proc(p)
    with open(os.path.join(d, "stderr"), "rb") as f:
        why = f.read().decode(errors="replace").strip().splitlines()
    why = [l for l in why if "warning" not in l][:1] or ["the guest did not reach `tg: alive 1` "
                                                      "with all CPUs up"]
    raise BenchError("QEMU -accel %s: %s" % (accel, why[0][:160]))


def stop_proc(p):
    if p.poll() is None:
        p.kill()
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        pass


def bench_vq_dump(a, tmp):
    argv = [a.vmdbg, "--kernel", a.guest, "--cpus", "1", "--append", "mode=vcon-stay",
            "--repl"]
    v = Pty(argv, os.path.join(tmp, "vmdbg-vq.log"))
    try:
        v.wait_for(b"tg: vcon handshake done", BOOT_LIMIT)
        time.sleep(0.5)  # port rx buffers are posted after PORT_ADD, just after the handshake
        rows = []
        for q in a.vq:
            ns, out = v.cmd("vq dump %d all" % q, b"vq %d (" % q)
            m = re.search(rb"avail ring: flags \S+(?: \([^)]*\))? idx (\d+)", out)
            size = re.search(rb"size (\d+)", out)
            times = []
            for _ in range(a.dump_rounds):
                t, out2 = v.cmd("vq dump %d all" % q, b"vq %d (" % q)
                times.append(t)
            med, worst = stats(times)
            rows.append((q, out.split(b":", 1)[0].decode(), int(size.group(1)) if size else 0,
                         int(m.group(1)) if m else -1, len(out), out.count(b"\n"), med, worst))
        return rows
    finally:
        v.close()


def fmt(x):
    return "%.0f" % x if x >= 10 else "%.1f" % x


def main():
    # The finally blocks stop every process this script started, also on SIGTERM/SIGHUP.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(128 + sig))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vmdbg", default="build/vmdbg")
    ap.add_argument("--guest", default="build/test-guest.elf")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--block", type=int, default=20, help="rounds per side before switching")
    ap.add_argument("--dump-rounds", type=int, default=50)
    ap.add_argument("--cpus", default="1,2,8")
    ap.add_argument("--vq", default="0,2")
    a = ap.parse_args()
    a.vq = [int(x) for x in a.vq.split(",")]
    a.vmdbg = os.path.abspath(a.vmdbg)
    a.guest = os.path.abspath(a.guest)
    for f in (a.vmdbg, a.guest):
        if not os.access(f, os.R_OK):
            print("skipped: %s missing (run make)" % f)
            return 0
    qemu = shutil.which(a.qemu)
    tmp = tempfile.mkdtemp(prefix="repl-bench-")
    state = {"keep": False}
    try:
        with open(a.vmdbg, "rb") as f:
            if b"AddressSanitizer" in f.read():
                print("note: %s is a sanitizer build (make SANITIZE=1): its times are inflated" %
                      a.vmdbg)
        print("## Pause-all / resume round trip, µs (median / worst of %d rounds; test guest "
              "mode=loop)" % a.rounds)
        print("| vCPUs | channel | pause med | pause worst | resume med | resume worst "
              "| no-op med |")
        print("|---|---|---:|---:|---:|---:|---:|")
        notes = []
        summary = {}

        def row(n, name, res):
            (pm, pw), (rm, rw), (nm, _) = res
            print("| %d | %s | %s | %s | %s | %s | %s |" % (n, name, fmt(pm), fmt(pw), fmt(rm),
                                                            fmt(rw), fmt(nm)))
            key = "vmdbg" if name.startswith("vmdbg") else "QEMU" if "HMP" in name and "pty" in name \
                else name
            summary[(n, key)] = (pm, rm, nm)
            sys.stdout.flush()

        qemu_name, a.qemu = a.qemu, qemu
        for n in [int(x) for x in a.cpus.split(",")]:
            try:
                res, note = bench_pause(a, n, tmp)
                for name, r in res:
                    row(n, name, r)
                if note and not any(name.startswith("QEMU") for name, _ in res):
                    notes.append(note)
            except (BenchError, OSError, ValueError, KeyError) as e:
                state["keep"] = True
                print("| %d | failed: %s | | | | | |" % (n, str(e)[:200]))
        if not qemu:
            print("QEMU: skipped: %s not found (vmdbg rows only)" % qemu_name)
        for x in notes:
            print("note: " + x)
        print("no-op: `echo ok` (vmdbg), `info status` (HMP), `query-status` (QMP): the channel's "
              "own round trip.")

        print()
        print("## `vq dump` through the REPL (pty), mode=vcon-stay, µs over %d rounds" %
              a.dump_rounds)
        try:
            rows = bench_vq_dump(a, tmp)
            print("| queue | size | avail idx | output bytes | lines | median | worst |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            for q, name, size, idx, nbytes, lines, med, worst in rows:
                print("| %s | %d | %d | %d | %d | %s | %s |" % (name, size, idx, nbytes, lines,
                                                                fmt(med), fmt(worst)))
        except (BenchError, OSError, ValueError) as e:
            state["keep"] = True
            print("vq dump: failed: %s" % e)

        print()
        print("host load average at the end: %s (the machine is shared: blocks of %d rounds "
              "alternate between vmdbg and QEMU so both see the same load)" %
              (" ".join(open("/proc/loadavg").read().split()[:3]), a.block))
        interp = []
        for n in [int(x) for x in a.cpus.split(",")]:
            v = summary.get((n, "vmdbg"))
            q = summary.get((n, "QEMU"))
            if v and q:
                interp.append("%d vCPU%s: pause %.1fx, resume %.1fx QEMU HMP-over-pty's" %
                              (n, "s" if n > 1 else "", v[0] / q[0], v[1] / q[1]))
        slow = [n for n in [int(x) for x in a.cpus.split(",")]
                if summary.get((n, "vmdbg")) and summary.get((n, "QEMU")) and
                summary[(n, "vmdbg")][1] > 5 * summary[(n, "QEMU")][1]]
        if interp:
            print("vmdbg/QEMU over the same kind of channel, a pty (medians): " + "; ".join(interp) +
                  ". A pty hop costs more than a unix socket under load (the tty layer hands data "
                  "over through a kernel worker): compare QEMU's HMP rows. Times include each channel's "
                  "own round trip (no-op column); %d host cores: 8 busy vCPUs share them, so the "
                  "monitor thread waits for a core and the worst case is scheduling." % os.cpu_count())
        if slow:
            print("vmdbg's resume is slower (vCPUs: %s): its vCPU threads run as soon as they are "
                  "woken and take the host cores before the REPL writes its reply (with idle vCPUs, "
                  "e.g. mode=echo, it is as fast as pause); QEMU's vCPUs first wait for the lock "
                  "the monitor holds until it has answered." % ",".join(map(str, slow)))
    finally:
        if state["keep"]:
            print("logs kept in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
