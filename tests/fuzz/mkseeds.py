#!/usr/bin/env python3
"""Write the seed corpus of every fuzz target into tests/fuzz/corpus/<target>/.

Run from the repository root: python3 tests/fuzz/mkseeds.py. The files are
checked in; this script is how they were made and how to remake them.
"""
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- console: u16 RAM-prefix length, RAM bytes, then ops (see fuzz_console.c) ---
OP_RD, OP_WR, OP_NOTIFY, OP_CNOTIFY, OP_SEND, OP_DRAIN, OP_CTL, OP_WAKE, OP_INIT = range(9)
OP_DESC, OP_PUBLISH, OP_RAM, OP_LOG, OP_STATUS, OP_CHAIN, OP_STRICT, OP_GCTL = range(9, 17)


def con_init(feat_choice=0, size_log=6, driver_ok=True):
    k = feat_choice | (0 if driver_ok else 0x40)
    return bytes([OP_INIT, k, size_log])


def con_chain(q, bufs, notify=True):
    """bufs: list of (len, write, data)."""
    how = sum(1 << i for i, b in enumerate(bufs) if b[1]) | (0x80 if notify else 0)
    out = bytes([OP_CHAIN, q, len(bufs) - 1, how])
    for ln, write, data in bufs:
        out += struct.pack("<H", ln)
        if not write:
            out += (data or b"\0" * ln)[:ln].ljust(ln, b"\0")
    return out


def con_gctl(pid, event, value):
    return bytes([OP_GCTL, pid, event, value])


handshake = con_init()
for _ in range(8):
    handshake += con_chain(2, [(64, True, None)], notify=False)
handshake += bytes([OP_NOTIFY, 2])
handshake += con_gctl(0xff, 0, 1)  # DEVICE_READY
for p in range(3):
    handshake += con_gctl(p, 3, 1)  # PORT_READY
handshake += con_gctl(0, 6, 1)  # PORT_OPEN
put("console", "handshake", b"\0\0" + handshake)
traffic = handshake + con_gctl(1, 6, 1)
traffic += con_chain(1, [(12, False, b"hello, host\n")])
traffic += con_chain(5, [(8, False, b"bulkdata"), (4, False, b"more")])
traffic += bytes([OP_DRAIN, 0]) + struct.pack("<H", 4096)
traffic += bytes([OP_DRAIN, 1]) + struct.pack("<H", 4096)
traffic += con_chain(4, [(32, True, None)], notify=True)
traffic += bytes([OP_SEND, 1, 5]) + b"hello"
traffic += bytes([OP_CTL, 0, 1, 7]) + struct.pack("<HH", 0, 5) + b"name1"
traffic += bytes([OP_WAKE, 0xD1, OP_LOG]) + struct.pack("<H", 0) + bytes([15])
traffic += bytes([OP_STATUS, 0])  # reset with tx captured
put("console", "traffic", b"\0\0" + traffic)
regs = b""
for off in range(0, 0x110, 4):
    regs += bytes([OP_RD]) + struct.pack("<H", off) + bytes([2])
regs += bytes([OP_RD]) + struct.pack("<H", 0x100) + bytes([0])
regs += bytes([OP_WR]) + struct.pack("<HQ", 0x70, 1) + bytes([2])
regs += bytes([OP_WR]) + struct.pack("<HQ", 0x70, 3) + bytes([1])
put("console", "registers", b"\0\0" + regs)
# A descriptor loop on port 0 tx, then a wild avail index.
hostile = con_init() + bytes([OP_DESC, 1, 0, 0]) + struct.pack("<H", 0) + bytes([0]) + \
    struct.pack("<H", 16) + bytes([1]) + struct.pack("<H", 0)
hostile += bytes([OP_PUBLISH, 1]) + struct.pack("<H", 0) + bytes([OP_NOTIFY, 1])
hostile += bytes([OP_RAM]) + struct.pack("<I", 0x10000 + 5 * 0x4000 + 0x1000 + 2) + bytes([2, 0xff, 0x7f])
hostile += bytes([OP_NOTIFY, 5, OP_NOTIFY, 9, OP_CNOTIFY, 8])
put("console", "hostile", b"\0\0" + hostile)

# --- virtqueue: num_max log2, size, 3 gpas (k<200: u16), RAM prefix, ops ---
def vq_gpa(g):
    return bytes([0]) + struct.pack("<H", g)


vq = bytes([8]) + struct.pack("<H", 16) + vq_gpa(0x1000) + vq_gpa(0x2000) + vq_gpa(0x3000)
vq += struct.pack("<H", 0)
body = b""
for i in range(3):  # descriptors 0->1->2, the last device-writable
    body += bytes([8]) + struct.pack("<H", i) + vq_gpa(0x8000 + 0x100 * i) + bytes([0]) + \
        struct.pack("<H", 64) + bytes([1 if i < 2 else 2]) + struct.pack("<H", i + 1)
body += bytes([9]) + struct.pack("<H", 0)      # publish head 0
body += bytes([1])                              # pop, keep
body += bytes([2]) + struct.pack("<HH", 512, 0)  # gather
body += bytes([3]) + struct.pack("<H", 100)     # scatter
body += bytes([4]) + struct.pack("<HI", 0, 64)  # push
body += bytes([11, 6]) + vq_gpa(0x1000) + vq_gpa(0x2000) + vq_gpa(0x3000) + bytes([5, 1])
put("virtqueue", "chain", vq + body)
loop = vq + bytes([8]) + struct.pack("<H", 0) + vq_gpa(0x8000) + bytes([0]) + \
    struct.pack("<H", 8) + bytes([1]) + struct.pack("<H", 0) + bytes([9]) + struct.pack("<H", 0) + bytes([0, 0])
put("virtqueue", "loop", loop)

# --- rsp: flags (vCPUs-1), chunk size, then gdb's bytes (checksums fixed by the harness) ---
def pkt(s):
    b = s.encode() if isinstance(s, str) else s
    return b"$" + b + b"#" + b"%02x" % (sum(b) & 0xFF)


session = [
    "qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;exec-events+;vContSupported+;QThreadEvents+;no-resumed+;xmlRegisters=i386",
    "vMustReplyEmpty", "QStartNoAckMode", "Hgp0.0", "qXfer:features:read:target.xml:0,ffb",
    "qTStatus", "?", "qfThreadInfo", "qsThreadInfo", "qAttached", "Hc-1", "qC", "g", "p10",
    "m1000,10", "mffffffff81000000,40", "x1000,20", "qOffsets", "Z0,ffffffff81000010,1",
    "z0,ffffffff81000010,1", "Z2,1008,8", "vCont?", "vCont;s:1", "vCont;c", "c", "s",
    "qRcmd,696e666f20627265616b73", "qXfer:memory-map:read::0,400", "T2", "Hg2", "D",
]
put("rsp", "gdb-session", bytes([1, 0]) + b"+".join(pkt(s) for s in session))
put("rsp", "registers", bytes([1, 0]) + pkt("g") + b"+" + pkt("G" + "00" * 560) + pkt("P10=efbeadde00000000") + pkt("p0"))
put("rsp", "memory-write", bytes([0, 1]) + pkt("M1000,4:deadbeef") + pkt(b"X1004,2:}\x03}\x04") + pkt("m1000,8"))
put("rsp", "interrupt-and-kill", bytes([2, 0]) + pkt("c") + b"\x03" + pkt("qRcmd,6b61736c72") + pkt("k"))
put("rsp", "rle-and-nak", bytes([0x40, 0]) + b"$a*\x22#00-+" + pkt("m1000,10") + b"-")

# --- repl: byte 0 bit 0 = JSON output, then lines ---
lines = [
    "help", "help vq dump", "vq list", "vq dump 3", "vq dump 0 ring", "port list", "port dump 1 rx",
    "port send 1 hello", "port send 2 hex:00ff", "ctl send PORT_ADD 1", "ctl send PORT_NAME 1 1",
    "wake dump", "wake 0xd3", "notify 3", "irq vring", "irq config", "handshake", "virtio",
    "get status", "get port.1.pending_rx", "assert ctl.waiting == 1", "xp/4xb 0x1000",
    "xp/2xg 0x1000", "writepmem 0x1000 41424344", "xp/1s 0x1000", "x/4i $rip", "regs", "step",
    "pause", "continue", "break-on ctl PORT_READY 1", "break-on list", "break-on delete 1",
    "trace on ctl,vq", "trace off all", "echo \"a b\\x41\" 'c'", "sleep 1", "wait console foo 1s",
    "source scripts/examples/handshake.vmdbg", "sym 0x1000", "# a comment", "", "quit",
]
put("repl", "commands", b"\0" + "\n".join(lines).encode() + b"\n")
put("repl", "commands-json", b"\1" + "\n".join(lines).encode() + b"\n")
put("repl", "json-prefix", b"\0" + b"json vq list\njson port list\njson get status\njson help wake\njson handshake\n")

# --- frames: cap index, 8 chunk seeds, stream ---
def frame(tag, payload, pad=0, crc=None):
    t = struct.unpack(">I", tag)[0]
    c = zlib.crc32(payload) & 0xFFFFFFFF if crc is None else crc
    return struct.pack("<IIII", t, len(payload), c, pad) + payload


stream = frame(b"SRDY", b"") + frame(b"SOUT", b"hello from the guest\n") + \
    frame(b"EXIT", struct.pack("<I", 0)) + frame(b"DMSG", bytes(range(256)))
put("frames", "valid", bytes([0]) + bytes([3, 7, 1, 200, 16, 5, 0x90, 2]) + stream)
put("frames", "bad-crc-pad", bytes([0]) + bytes([1] * 8) + frame(b"TEST", b"x" * 40, pad=7, crc=1) + frame(b"LIFE", b"ok"))
put("frames", "oversize", bytes([3]) + bytes([5] * 8) + frame(b"CRSH", b"y" * 100) + frame(b"EXIT", b"\0\0\0\0"))
put("frames", "partial", bytes([4]) + bytes([9] * 8) + frame(b"PMET", b"z" * 500)[:300])

# --- loader: flags (1 initrd, 2 long cmdline, 4 rsdp), then the kernel file ---
def elf64(entry, load, payload, pvh=None):
    phnum = 2 if pvh is not None else 1
    ehsize, phsize = 64, 56
    data_off = ehsize + phsize * phnum
    note = b""
    if pvh is not None:
        note = struct.pack("<III", 4, 4, 18) + b"Xen\0" + struct.pack("<I", pvh)
    code_off = data_off + len(note)
    eh = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    eh += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, ehsize, 0, 0, ehsize, phsize, phnum, 64, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 1, 7, code_off, load, load, len(payload), len(payload) + 0x1000, 0x1000)
    if pvh is not None:
        ph += struct.pack("<IIQQQQQQ", 4, 4, data_off, 0, 0, len(note), len(note), 4)
    return eh + ph + note + payload


code = b"\xf4\xeb\xfd" + b"\x90" * 61
put("loader", "elf64", bytes([0]) + elf64(0x100000, 0x100000, code))
put("loader", "elf64-pvh-initrd", bytes([1]) + elf64(0x100000, 0x100000, code, pvh=0x100000))


def bzimage(version=0x20F, setup_sects=4, payload=4096):
    setup = (setup_sects + 1) * 512
    img = bytearray(setup + payload)
    img[0x1F1] = setup_sects
    struct.pack_into("<I", img, 0x1F4, payload // 16)
    struct.pack_into("<H", img, 0x1FA, 0xFFFF)
    struct.pack_into("<H", img, 0x1FE, 0xAA55)
    img[0x200] = 0xEB
    img[0x201] = 0x66  # header ends at 0x268
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, version)
    img[0x211] = 0x01  # LOADED_HIGH
    struct.pack_into("<I", img, 0x214, 0x100000)
    struct.pack_into("<I", img, 0x22C, 0x7FFFFFFF)
    struct.pack_into("<I", img, 0x230, 0x200000)
    img[0x234] = 1
    struct.pack_into("<H", img, 0x236, 0x1)  # XLF_KERNEL_64
    struct.pack_into("<I", img, 0x238, 2048)
    struct.pack_into("<Q", img, 0x258, 0x100000)
    struct.pack_into("<I", img, 0x260, 0x200000)
    for i in range(payload):
        img[setup + i] = (i * 13) & 0xFF
    return bytes(img)


put("loader", "bzimage", bytes([0]) + bzimage())
put("loader", "bzimage-initrd-cmdline", bytes([3]) + bzimage(version=0x20C, setup_sects=1))
put("loader", "bzimage-old", bytes([0]) + bzimage(version=0x204))
