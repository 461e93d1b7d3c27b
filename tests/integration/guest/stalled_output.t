#!/usr/bin/env bash
# A terminal (or pipe) that stops reading never wedges vmdbg: the main thread queues what the
# reader has not taken and holds the guest's output back (the UART then holds the guest), so
# SIGQUIT still answers and SIGTERM still ends the run; a slow reader gets every byte.
source "$(dirname "$0")/../lib.sh"
plan 6

{ head -c 20000 /dev/zero | tr '\0' x; printf '\rquit\r'; } >"$TMP/big.in"
# stalled|slow: stdout a 4 KiB pipe; stalled: never read (signals sent), slow: read late.
run_piped() {
	timeout -k 5 90 python3 - "$1" "$VMDBG" "$TEST_GUEST" "$TMP" <<'PY'
import fcntl, os, signal, subprocess, sys, time
how, vmdbg, guest, tmp = sys.argv[1:]
r, w = os.pipe()
fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ: the smallest pipe fills first
err = open(f"{tmp}/{how}.err", "wb")
p = subprocess.Popen([vmdbg, "--kernel", guest, "--port", "0:null", "--append", "mode=echo"],
                     stdin=open(f"{tmp}/big.in", "rb"), stdout=w, stderr=err)
os.close(w)

def wait_err(pat, limit):
    end = time.time() + limit
    while time.time() < end:
        if pat in open(f"{tmp}/{how}.err", "rb").read():
            return True
        time.sleep(0.1)
    return False

if how == "stalled":
    time.sleep(4)  # the guest, echoing, has filled the pipe by now (and is not done)
    t = time.time()
    p.send_signal(signal.SIGQUIT)
    print("quit_answered", int(wait_err(b"SIGQUIT: state", 10)), "after %.1fs" % (time.time() - t))
    t = time.time()
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "hung"
    print("term_rc", rc, "after %.1fs" % (time.time() - t))
else:
    time.sleep(4)
    data = b""
    while (b := os.read(r, 1000)):
        data += b
        time.sleep(0.001)
    print("slow_rc", p.wait(), "echoed", data.count(b"X"), "quit", int(b"tg: echo quit" in data))
PY
}
run_piped stalled >"$TMP/stalled.res"
like "$TMP/stalled.res" '^quit_answered 1 ' "SIGQUIT answers while the terminal takes nothing" ||
	diag "$(cat "$TMP/stalled.res")"
like "$TMP/stalled.err" '^  RIP=' "... with every vCPU's registers"
like "$TMP/stalled.res" '^term_rc 0 after [0-4]\.' "SIGTERM ends that run at once, exit 0" ||
	diag "$(cat "$TMP/stalled.res")"
like "$TMP/stalled.err" 'terminated by signal 15' "... saying why"
run_piped slow >"$TMP/slow.res"
like "$TMP/slow.res" '^slow_rc 0 ' "a reader that comes late: the guest finishes (exit 0)" ||
	diag "$(cat "$TMP/slow.res")"
like "$TMP/slow.res" ' echoed 20000 quit 1$' "... and it gets every byte the guest wrote" ||
	diag "$(cat "$TMP/slow.res")"
done_testing
