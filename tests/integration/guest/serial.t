#!/usr/bin/env bash
# COM1's backends (--serial), --json keeping stdout for JSON, and whole lines on a shared
# terminal: the guest's lines and vmdbg's own messages (vCPU-thread notices included) never
# cut into each other, even with CPU hogs running.
source "$(dirname "$0")/../lib.sh"
plan 43

# lines_whole FILE: every line (CRs dropped) is a whole test-guest line, a whole trace notice,
# a whole vmdbg message, a JSON result or empty; the others are printed.
GUEST_LINE='^tg: (hello from the test guest|cmdline: .*|mode [a-z-]+|acpi .*|calibrated by .*|cpu [0-9]+ up apic=[0-9]+|cpus up=[0-9]+ of [0-9]+|loop running.*|alive [0-9]+|virtio .*|vcon .*|done)$'
# A trace line ends with the guest RIP and symbol of the vCPU that caused it.
TRACE_LINE='^trace [0-9]+\.[0-9]{6} cpu[0-9]+ pio (out 0x[0-9a-f]+ = |in 0x[0-9a-f]+ -> )0x[0-9a-f]+ \([0-9]\) rip=0x[0-9a-f]+ [A-Za-z_][A-Za-z0-9_.]*\+0x[0-9a-f]+$'
lines_whole() {
	tr -d '\r' <"$1" | grep -avE -e "$GUEST_LINE" -e "$TRACE_LINE" -e '^vcon: hello on port 0$' \
		-e '^vmdbg: .*[^ ]$' -e '^  .*' -e '^\{.*\}$' -e '^done waiting$' -e '^$' >"$1.split"
	[[ ! -s $1.split ]]
}

# json_lines FILE: every line of FILE is one JSON value; prints how many.
json_lines() {
	python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1], "rb"):
    json.loads(line)
    n += 1
print(n)' "$1"
}

# --- --json: stdout carries JSON only, with a chatty guest and vCPU-thread notices ----------
cat >"$TMP/j.vmdbg" <<'EOS'
wait console "tg: alive 5" 60s
get console.bytes
info cpus
echo "not JSON unless --json"
EOS
timeout -k 5 90 "$VMDBG" --json --kernel "$TEST_GUEST" --append "mode=loop hz=10000" --trace pio \
	--script "$TMP/j.vmdbg" </dev/null >"$TMP/j.out" 2>"$TMP/j.err"
is "$?" 0 "--json --script with a chatty guest: exit 0"
n=$(json_lines "$TMP/j.out" 2>"$TMP/j.why")
is "$n" 4 "every stdout line parses as JSON, one per command" || diag "$(head -c 600 "$TMP/j.out"; cat "$TMP/j.why")"
tr -d '\r' <"$TMP/j.err" >"$TMP/j.err.lf"
like "$TMP/j.err.lf" '^tg: alive 5$' "the guest console goes to stderr"
like "$TMP/j.err.lf" '^trace [0-9.]+ cpu0 pio out 0x3f8' "trace notices go to stderr"
like "$TMP/j.err.lf" '^vmdbg: script finished' "vmdbg's messages go to stderr"
lines_whole "$TMP/j.err"
ok $? "stderr's lines are whole under --json" || diag "$(head -5 "$TMP/j.err.split")"

# Without --json the console keeps stdout (the default is unchanged).
timeout -k 5 30 "$VMDBG" --kernel "$TEST_GUEST" --append "mode=hello" </dev/null >"$TMP/d.out" 2>/dev/null
tr -d '\r' <"$TMP/d.out" >"$TMP/d.out.lf"
like "$TMP/d.out.lf" '^tg: done$' "without --json COM1 is on stdout"

# --- --serial file:PATH and null --------------------------------------------------------------
timeout -k 5 30 "$VMDBG" --kernel "$TEST_GUEST" --append "mode=hello" --serial file:"$TMP/com1" \
	</dev/null >"$TMP/f.out" 2>"$TMP/f.err"
is "$?" 0 "--serial file: the guest runs to power-off"
tr -d '\r' <"$TMP/com1" >"$TMP/com1.lf"
like "$TMP/com1.lf" '^tg: hello from the test guest$' "--serial file: COM1 output is in the file"
like "$TMP/com1.lf" '^tg: done$' "... to its last line"
unlike "$TMP/f.out" 'tg:' "... and not on stdout"
unlike "$TMP/f.err" 'tg:' "... nor on stderr"

printf 'wait console "tg: cpus up=1 of 1" 20s\necho seen\n' >"$TMP/n.vmdbg"
run_vm "$TMP/null" 30 --kernel "$TEST_GUEST" --append "mode=hello" --serial null --script "$TMP/n.vmdbg"
is "$RC" 0 "--serial null: exit 0"
unlike "$TMP/null" 'tg:' "--serial null: COM1 output goes nowhere"
like "$TMP/null.lf" '^seen$' "... but 'wait console' still sees it"

run_vm "$TMP/stdio" 30 --kernel "$TEST_GUEST" --append "mode=hello" --serial stdio
like "$TMP/stdio.lf" '^tg: done$' "--serial stdio: COM1 on the terminal, as by default"

# --json with --serial file: stderr has vmdbg's messages only.
printf 'get console.bytes\n' >"$TMP/jf.vmdbg"
timeout -k 5 30 "$VMDBG" --json --kernel "$TEST_GUEST" --append "mode=hello" --serial file:"$TMP/com1b" \
	--script "$TMP/jf.vmdbg" </dev/null >"$TMP/jf.out" 2>"$TMP/jf.err"
is "$(json_lines "$TMP/jf.out")" 1 "--json --serial file: stdout is the one JSON result"
unlike "$TMP/jf.err" 'tg:' "... stderr carries no guest line"

# --- --serial unix:PATH: a client reads and types; none; one that leaves -------------------
SOCK=$TMP/com1.sock
start_vm "$TMP/u" --kernel "$TEST_GUEST" --append "mode=echo" --serial unix:"$SOCK"
python3 - "$SOCK" "$TMP/u.client" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
end = time.time() + 30
while True:
    try:
        s.connect(sys.argv[1]); break
    except OSError:
        if time.time() > end: sys.exit("cannot connect")
        time.sleep(0.05)
got = b""
s.settimeout(1)
while time.time() < end:
    try:
        d = s.recv(4096)
    except socket.timeout:
        continue
    if not d: break
    got += d
    if b"tg: echo ready" in got and b"sent" not in got:
        s.sendall(b"hello com1\rquit\r"); got += b"\nsent\n"
open(sys.argv[2], "wb").write(got)
PY
wait_for "$TMP/u" 'guest powered off' 20
ok $? "--serial unix: the guest reads the client's bytes and powers off"
stop_vm
is "$RC" 0 "... exit 0"
tr -d '\r' <"$TMP/u.client" >"$TMP/u.client.lf"
like "$TMP/u.client.lf" '^tg: hello from the test guest$' "the client reads COM1 from the first line"
like "$TMP/u.client.lf" '^HELLO COM1$' "the client's bytes reach the guest (echoed uppercased)"
like "$TMP/u.client.lf" '^tg: done$' "... and it reads to the last line"
unlike "$TMP/u" 'tg:' "nothing of COM1 on vmdbg's stdout"

# No client at all: the guest is not held back; vmdbg says what was never read.
run_vm "$TMP/nc" 30 --kernel "$TEST_GUEST" --append "mode=hello" --serial unix:"$TMP/nc.sock"
is "$RC" 0 "--serial unix: with no client the guest still runs to power-off"
like "$TMP/nc.lf" '^vmdbg: warning: COM1: [0-9]+ bytes of guest output were never read: no client on ' \
	"... and vmdbg says the output was never read"

# A client that comes late gets what was printed before it; one that leaves does not stop the
# guest, and the next gets what came meanwhile.
# read_com1 SOCKET OUT N: connect, read until N "tg: alive" lines have come, leave.
read_com1() {
	timeout 30 python3 - "$@" <<'PY'
import re, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
got = b""
while len(re.findall(rb"tg: alive [0-9]+\r?\n", got)) < int(sys.argv[3]):
    d = s.recv(4096)
    if not d: break
    got += d
open(sys.argv[2], "wb").write(got)
PY
}
start_vm "$TMP/late" --kernel "$TEST_GUEST" --append "mode=loop" --serial unix:"$TMP/late.sock"
sleep 2
read_com1 "$TMP/late.sock" "$TMP/late1" 1
tr -d '\r' <"$TMP/late1" >"$TMP/late1.lf"
like "$TMP/late1.lf" '^tg: hello from the test guest$' "a late client first gets what COM1 printed before it came"
wait_for "$TMP/late" 'COM1: unix socket client disconnected' 10
ok $? "the client leaving is noticed"
sleep 1
read_com1 "$TMP/late.sock" "$TMP/late2" 2
ok $? "the guest ran on without a client; the next client reads on" || diag "$(tail -c 300 "$TMP/late2")"
first=$(tg_alive "$TMP/late1") second=$(tr -d '\r' <"$TMP/late2" | grep -aoE '^tg: alive [0-9]+' | head -n 1 | awk '{ print $3 }')
((second > first))
ok $? "the second client starts after the first one's last line ($first, then $second)"
stop_vm
is "$RC" 0 "SIGTERM ends it with exit 0"

# --- bad --serial values: one line, exit 2 --------------------------------------------------
for v in bogus file: unix: tcp:localhost:4444 "" file:/nonexistent/dir/com1; do
	timeout 10 "$VMDBG" --kernel "$TEST_GUEST" --serial "$v" </dev/null >"$TMP/bad.out" 2>"$TMP/bad.err"
	rc=$?
	[[ $rc -eq 2 && $(wc -l <"$TMP/bad.err") -eq 1 && ! -s $TMP/bad.out ]] &&
		grep -qE -- "--serial[ ']" "$TMP/bad.err"
	ok $? "--serial '$v': one line naming --serial, exit 2 (exit $rc: $(head -c 200 "$TMP/bad.err"))"
done
"$VMDBG" --kernel "$TEST_GUEST" --serial </dev/null >/dev/null 2>"$TMP/bad.err"
is "$?:$(cat "$TMP/bad.err")" "2:vmdbg: option '--serial' needs a value" "--serial without a value"
"$VMDBG" --help | tr -s ' \n' ' ' | grep -c -- '--serial BACKEND COM1.s backend: stdio .*file:PATH, unix:PATH .* or null' >/dev/null
ok $? "--help names --serial and its backends"

# --- lines never split: a chatty guest, a notice per I/O exit, CPU hogs ---------------------
# Three seconds of guest ticks give over a thousand notices; more only lengthened the run
# (past four minutes inside the nested KVM, where the hogs share two emulated CPUs).
hogs=()
for i in 1 2 3; do
	(while :; do :; done) &
	hogs+=($!)
	_tap_pids+=($!)
done
cat >"$TMP/load.vmdbg" <<'EOS'
wait console "tg: alive 3" 80s
echo done waiting
EOS
timeout -k 5 120 "$VMDBG" --kernel "$TEST_GUEST" --cpus 2 --append "mode=loop hz=10000 softint=1" \
	--trace pio --script "$TMP/load.vmdbg" </dev/null >"$TMP/load" 2>&1
rc=$?
# Port 0 and COM1 sharing the terminal: the port-0 line stays whole too.
timeout -k 5 60 "$VMDBG" --kernel "$TEST_GUEST" --port 1:null --port 2:null --trace pio \
	--append "mode=vcon bytes=4096" </dev/null >"$TMP/load0" 2>&1
rc0=$?
kill "${hogs[@]}" 2>/dev/null
wait "${hogs[@]}" 2>/dev/null
is "$rc:$rc0" "0:0" "both runs under load end with exit 0"
notices=$(grep -c '^trace ' "$TMP/load")
((notices > 500))
ok $? "vCPU threads sent many notices meanwhile ($notices)"
lines_whole "$TMP/load"
ok $? "every line is a whole guest line or a whole vmdbg message" ||
	diag "$(head -8 "$TMP/load.split")"
lines_whole "$TMP/load0" && tr -d '\r' <"$TMP/load0" | grep -ac '^vcon: hello on port 0$' >/dev/null
ok $? "port 0's line and COM1's lines stay whole" || diag "$(head -8 "$TMP/load0.split")"
done_testing
