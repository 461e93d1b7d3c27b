#!/usr/bin/env bash
# vmdbg --probe-kvm runs this KVM's guest debugging in a throw-away VM and prints one line
# per capability, then the KVM_CAP values vmdbg uses. Nothing here expects a given answer:
# on PVM the four debug capabilities say yes (the int3 as an emulation failure, watchpoints by
# single-stepping) and guest-syscall no (guest user space cannot make system calls); on QEMU
# TCG's nested SVM int3 and the debug registers say no, guest-syscall yes. (vmdbg acts on
# guest-syscall by adding rdinit=/idle: linux/user_initramfs.t and the user-space tests.) What is checked is the
# format and that vmdbg acts on it: break, hbreak and watch on the test guest are accepted
# and hit exactly where the probe says yes, and refused, naming the probe's finding, where
# it says no; `info kvm` (text and --json) tells the same.
source "$(dirname "$0")/../lib.sh"
plan 13

start=$SECONDS
"$VMDBG" --probe-kvm >"$TMP/probe" 2>"$TMP/probe.err"
RC=$?
is "$RC" 0 "--probe-kvm exits 0"
diag "$(cat "$TMP/probe")"
diag "probed in $((SECONDS - start))s"
CAPS=(sw-breakpoint hw-breakpoint watchpoint single-step guest-syscall)
is "$(grep -E '^[a-z-]+: (yes|no)' "$TMP/probe" | cut -d: -f1 | tr '\n' ' ')" "${CAPS[*]} " \
	"one line per capability, in order: ${CAPS[*]}"
# yes, yes (how KVM reported it), or no (what happened instead): never a bare no.
bad=$(grep -E '^[a-z-]+: ' "$TMP/probe" | grep -vE '^(KVM_|[a-z-]+: (yes|yes \(.+\)|no \(.+\))$)')
is "$bad" "" "each capability line is 'yes', 'yes (how)' or 'no (what happened instead)'"
like "$TMP/probe" '^KVM_GET_API_VERSION: 12$' "the KVM API version is shown"
like "$TMP/probe" '^KVM_CAP_SET_GUEST_DEBUG2: 0x[0-9a-f]+$' "... and the KVM_CAP values vmdbg uses (the guest-debug mask in hex)"
bad=$(grep -vE '^([a-z-]+: (yes|no).*|KVM_GET_API_VERSION: [0-9]+|KVM_CAP_[A-Z0-9_]+: (0x[0-9a-f]+|[0-9]+))$' "$TMP/probe")
is "$bad$(cat "$TMP/probe.err")" "" "nothing else on stdout or stderr"

# The REPL acts on its own probe: CMD is accepted and hits when CAP is yes, else the script
# stops at CMD with the probe's own words. The run's `info kvm` says what its probe found
# (the step-cost test behind watch-by-step is timed, so a loaded host can tip it either way
# between two runs). Set once the guest runs its loop (a watch set before the guest's page
# tables exist is translated too early to see its writes).
acts_on() {
	local cap=$1 cmd=$2 name=$3 why line
	printf '%s\n' 'info kvm' 'wait console "tg: loop running" 20s' "$cmd" 'wait stop 20s' 'echo MARK hit' 'delete 1' \
		'resume' 'wait console "tg: alive 2" 20s' 'echo MARK running' >"$TMP/$name.vmdbg"
	run_vm "$TMP/$name" 60 --kernel "$TEST_GUEST" --cpus 2 --append "mode=loop" --script "$TMP/$name.vmdbg"
	line=$(grep -a -m1 -E "^$cap: (yes|no)" "$TMP/$name.lf")
	if [[ $line == "$cap: no"* ]]; then
		KVM_LACKS_WHY=$line
		why=${KVM_LACKS_WHY#"$cap: no ("}
		why=${why%)}
		# A measured step cost in the finding differs from run to run: compare without it.
		[[ $RC -eq 1 ]] && grep -qF "${cmd%% *}: this KVM does not report" "$TMP/$name.lf" &&
			sed -E 's/[0-9]+ us/N us/g' "$TMP/$name.lf" | grep -qF "(probed: $(sed -E 's/[0-9]+ us/N us/g' <<<"$why"))"
		ok $? "$cap is no: \`$cmd\` is refused with the probe's finding ($KVM_LACKS_WHY)" ||
			diag "$(tail -n 5 "$TMP/$name.lf")"
	else
		[[ $RC -eq 0 ]] && grep -q '^MARK hit' "$TMP/$name.lf" && grep -q '^MARK running' "$TMP/$name.lf"
		ok $? "$cap is yes: \`$cmd\` is accepted, hits, and the guest runs on once it is deleted" ||
			diag "$(tail -n 5 "$TMP/$name.lf")"
	fi
}
acts_on sw-breakpoint "break tg_break_here" sw
acts_on hw-breakpoint "hbreak tg_break_here" hw
acts_on watchpoint "watch tg_counter 8" watch

printf '%s\n' 'info kvm' 'quit' >"$TMP/info.vmdbg"
run_vm "$TMP/info" 30 --kernel "$TEST_GUEST" --append "mode=loop" --script "$TMP/info.vmdbg"
is "$RC" 0 "info kvm runs in a script"
# Watching by single-step depends on a timed step cost: two runs on a loaded host (or under
# TSan) can fall on either side of the limit, so that answer is compared as "timed" only.
caps_of() { grep -E '^[a-z-]+: (yes|no)' "$1" | sed -E 's/^watchpoint: (yes|no) \(.*(single-step|stepping).*/watchpoint: timed/; s/ \(.*//'; }
is "$(caps_of "$TMP/info.lf")" "$(caps_of "$TMP/probe")" "info kvm tells what --probe-kvm told"
run_vm "$TMP/json" 30 --json --kernel "$TEST_GUEST" --append "mode=loop" --script "$TMP/info.vmdbg"
python3 - "$TMP/json.lf" "$TMP/probe" >"$TMP/json.check" 2>&1 <<'PY'
import json, re, sys
text = open(sys.argv[2]).read()
want = {m.group(1): m.group(2) == "yes" for m in re.finditer(r"^([a-z-]+): (yes|no)", text, re.M)}
timed = re.search(r"^watchpoint: (yes|no) \(.*(single-step|stepping)", text, re.M)
for line in open(sys.argv[1]):
    if '"capabilities"' in line:
        caps = json.loads(line)["return"]["capabilities"]
        got = {k: v["works"] for k, v in caps.items()}
        if timed or caps["watchpoint"]["by_single_step"]:
            got.pop("watchpoint", None), want.pop("watchpoint", None)
        print("same" if got == want else "differ: %s vs %s" % (got, want))
        assert all(isinstance(v["why"], str) for v in caps.values())
        assert isinstance(caps["watchpoint"]["by_single_step"], bool)
        break
else:
    print("no JSON reply with capabilities")
PY
is "$(cat "$TMP/json.check")" same "info kvm in --json mode: one object per capability (works, why), matching"

# /dev/kvm that is no KVM (/dev/null bound over it, in a private mount namespace): exit 2, one line.
if unshare -m true 2>/dev/null; then
	unshare -m sh -c 'mount --bind /dev/null /dev/kvm && exec "$0" --probe-kvm' "$VMDBG" \
		>"$TMP/nokvm" 2>"$TMP/nokvm.err"
	RC=$?
	[[ $RC -eq 2 && ! -s $TMP/nokvm && $(wc -l <"$TMP/nokvm.err") -eq 1 ]] &&
		grep -q '^vmdbg: cannot probe KVM: ' "$TMP/nokvm.err"
	ok $? "a /dev/kvm that is not KVM: exit 2 with one line ($(cat "$TMP/nokvm.err"))"
else
	skip "a /dev/kvm that is not KVM: no private mount namespace here (unshare -m)"
fi
done_testing
