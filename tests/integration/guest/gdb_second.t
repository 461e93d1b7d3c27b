#!/usr/bin/env bash
# One gdb at a time: a second client is refused with a reply it shows ("Remote failure
# reply: E.vmdbg: a gdb client is attached already (from ADDR)...") and one line on
# vmdbg's side naming its address, instead of a silent reset. A raw client that sends
# nothing gets the same refusal after 2 s; the first gdb is not disturbed.
source "$(dirname "$0")/../lib.sh"
plan 7
command -v gdb >/dev/null || { for i in $(seq 7); do skip "gdb not installed"; done; exit 0; }

ELF=$TEST_GUEST
PORT=$((20000 + RANDOM % 20000))
gdbrun() { # gdbrun OUT gdb-args...
	local out=$1; shift
	timeout -k 5 30 gdb -batch -nx -ex 'set pagination off' -ex 'set confirm off' \
		-ex "target remote 127.0.0.1:$PORT" "$@" "$ELF" >"$out" 2>&1
}

# mode=echo never starts the AP: gdb's thread list names its state too.
start_vm "$TMP/vm" --kernel "$ELF" --cpus 2 --append "mode=echo" --gdb "tcp:$PORT" --gdb-wait
wait_for "$TMP/vm" "gdb: listening" 10 || diag "vmdbg did not listen"
# The first gdb stays attached until the raw client below has had its refusal (2 s of silence
# + a margin for a slow nested KVM); detached earlier, it would leave the raw client attached.
gdbrun "$TMP/first" -ex 'info threads' -ex 'shell sleep 15' -ex 'info threads' -ex 'detach' &
first=$!
wait_for "$TMP/vm" "gdb: debugger attached from 127\\.0\\.0\\.1:[0-9]+" 10
ok $? "the first gdb attaches (vmdbg names its address)"

t0=$SECONDS
gdbrun "$TMP/second" -ex 'info threads'
took=$((SECONDS - t0))
like "$TMP/second" 'Remote failure reply: E\.vmdbg: a gdb client is attached already \(from 127\.0\.0\.1:[0-9]+\); one at a time' \
	"the second gdb shows why it was refused"
((took < 10)); ok $? "... at once, no hang (${took}s)"
like "$TMP/vm" '^vmdbg: .*gdb: refused a second gdb client from 127\.0\.0\.1:[0-9]+: one is attached already \(from 127\.0\.0\.1:[0-9]+\)' \
	"vmdbg prints one line naming the refused client and the attached one"

# A raw client that sends nothing: the refusal comes after 2 s, then the close.
python3 - "$PORT" >"$TMP/raw" 2>&1 <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(8)
t0, data = time.time(), b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print("got %r after %.1fs" % (data, time.time() - t0))
PY
like "$TMP/raw" "^got b'\\\$E\\.vmdbg: a gdb client is attached already \\(from 127\\.0\\.0\\.1:[0-9]+\\); one at a time#[0-9a-f]{2}' after [0-5]\\.[0-9]s$" \
	"a raw client that sends nothing gets the refusal packet and a close"

wait "$first"
like "$TMP/first" '^  2 +Thread 2 \(vCPU 1 stopped, wait-for-sipi \(not started by the guest\)\)' \
	"the first gdb's thread list: an AP before its SIPI is wait-for-sipi"
[[ $(grep -c 'Thread 2 (vCPU 1' "$TMP/first") -eq 2 ]] && grep -q 'detached\]' "$TMP/first" && ! grep -Eq 'Remote (failure|connection closed|communication)' "$TMP/first"
ok $? "the first gdb's session went on undisturbed"
stop_vm
done_testing
