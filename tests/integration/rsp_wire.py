"""The gdb remote protocol's wire format, for the tests' own RSP clients (gdb_handover.py,
tests/soak/rsp_flood.py, tests/soak/control_soak.py): one place for framing, checksums and
run-length decoding."""


def frame(payload):
    """PAYLOAD as a packet: $payload#checksum (the checksum is the bytes' sum mod 256, in hex)."""
    return b"$" + payload + b"#" + b"%02x" % (sum(payload) & 0xFF)


def take(buf):
    """(payload, rest): the first whole packet in BUF, acks before it skipped, run-length
    encoding undone; (None, BUF) while none is whole yet."""
    i = buf.find(b"$")
    j = buf.find(b"#", i) if i >= 0 else -1
    if i < 0 or j < 0 or len(buf) < j + 3:
        return None, buf
    return unrle(buf[i + 1:j]), buf[j + 3:]


def unrle(p):
    """Undo the stub's run-length encoding: X*N repeats X N-29 more times."""
    out, k = bytearray(), 0
    while k < len(p):
        if p[k:k + 1] == b"*" and out and k + 1 < len(p):
            out += bytes([out[-1]]) * (p[k + 1] - 29)
            k += 2
        else:
            out.append(p[k])
            k += 1
    return bytes(out)
