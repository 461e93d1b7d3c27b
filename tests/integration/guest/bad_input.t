#!/usr/bin/env bash
# Bad command lines and files: one clear line, exit 2, never a crash.
source "$(dirname "$0")/../lib.sh"
plan 38

check() { # check REGEX NAME ARGS...: exit 2, one line of error matching REGEX
	local re=$1 name=$2; shift 2
	timeout -k 5 30 "$VMDBG" "$@" </dev/null >"$TMP/out" 2>&1
	local rc=$?
	is "$rc" 2 "$name: exit 2"
	like "$TMP/out" "^vmdbg: .*$re" "$name: says what is wrong"
	is "$(grep -c . "$TMP/out")" 1 "$name: one line"
}

: >"$TMP/empty"
head -c 100 "$TEST_GUEST" >"$TMP/truncated"
printf 'just some text\n' >"$TMP/text"
head -c $((300 << 20)) /dev/zero >"$TMP/bigrd" 2>/dev/null || truncate -s 300M "$TMP/bigrd"

check "No such file" "missing kernel" --kernel "$TMP/nope"
check "empty" "empty kernel" --kernel "$TMP/empty"
check "truncated|too short|bad ELF|cannot read" "truncated ELF" --kernel "$TMP/truncated"
check "not an ELF or bzImage" "a text file as kernel" --kernel "$TMP/text"
check "does not fit" "initrd larger than RAM" --kernel "$TEST_GUEST" --initrd "$TMP/bigrd" --mem 64M
check "initrd.*No such file" "missing initrd" --kernel "$TEST_GUEST" --initrd "$TMP/nope"
check "--mem 'lots'" "bad --mem" --kernel "$TEST_GUEST" --mem lots
check "--cpus '0'" "--cpus 0" --kernel "$TEST_GUEST" --cpus 0
check "unknown option '--frobnicate'" "unknown flag" --kernel "$TEST_GUEST" --frobnicate
check "no kernel" "no --kernel" --cpus 2
check "unknown feature 'nosuch'" "bad --cpuid" --kernel "$TEST_GUEST" --cpuid -nosuch
check "--port '5:stdio'" "bad --port" --kernel "$TEST_GUEST" --port 5:stdio

# No /dev/kvm: a private mount namespace hides it.
if unshare -m true 2>/dev/null; then
	unshare -m bash -c "mount -t tmpfs none /dev && exec '$VMDBG' --kernel '$TEST_GUEST'" </dev/null >"$TMP/out" 2>&1
	is "$?" 2 "no /dev/kvm: exit 2"
	like "$TMP/out" "^vmdbg: cannot open /dev/kvm" "no /dev/kvm: says so"
else
	skip "unshare -m is not allowed here (needs root)"
	skip "unshare -m is not allowed here (needs root)"
fi
done_testing
