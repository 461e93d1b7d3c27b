#!/usr/bin/env bash
# The guest profiler against the test guest's mode=profile, which spends ~60% of its time in
# tg_prof_hot, ~30% in tg_prof_warm (called from tg_prof_warm_caller) and ~10% in tg_prof_rest
# on every CPU: the report's shares within 10 points, the per-vCPU split, folded stacks that
# parse and hold the known caller;callee, an SVG that parses as XML, --profile for a whole
# run, the gdb monitor path, and bad input.
source "$(dirname "$0")/../lib.sh"
plan 39

TOL=10
# Shares and counts out of a `json profile report`, checked by python (stdin: the JSON line).
report_py() {
	python3 -c '
import json, sys
r = json.loads(sys.stdin.readline())["return"]
def share(t, f):
    return sum(x["percent"] for x in t["functions"] if x["function"] == f)
'"$1"
}

# --- the REPL's commands in a script, 2 vCPUs -------------------------------------------------
cat >"$TMP/p.vmdbg" <<EOS
wait console "tg: profile running" 30s
profile start
sleep 3s
profile stop
echo MARK text
profile report 5
echo MARK json
json profile report 5
profile folded "$TMP/p.folded"
profile svg "$TMP/p.svg"
profile start 500 1
sleep 1s
profile stop
echo MARK one
json profile report 3
EOS
run_vm "$TMP/p" 90 --kernel "$TEST_GUEST" --cpus 2 --append "mode=profile" --script "$TMP/p.vmdbg"
is "$RC" 0 "the profiling script runs to its end" || diag "$(tail -n 20 "$TMP/p.lf")"
like "$TMP/p.lf" '^profile: 1000 Hz on 2 vCPUs, ran [0-9.]+ s: [0-9]+ samples of [0-9]+ wanted' "report: rate, vCPUs, samples taken of wanted"
like "$TMP/p.lf" '^overhead: sampling took [0-9.]+ ms of [0-9.]+ s vCPU time \([0-9.]+%\)' "report: the sampler's own overhead"
like "$TMP/p.lf" '^ +[0-9.]+ +[0-9]+  kernel  tg_prof_hot$' "report: tg_prof_hot in kernel mode"
like "$TMP/p.lf" '^vCPU 0: [0-9]+ samples' "report: vCPU 0's own table"
like "$TMP/p.lf" '^vCPU 1: [0-9]+ samples' "report: vCPU 1's own table"

J=$(awk '/^MARK json/ { getline; print; exit }' "$TMP/p.lf")
shares=$(report_py 'print(round(share(r["total"], "tg_prof_hot")), round(share(r["total"], "tg_prof_warm")), round(share(r["total"], "tg_prof_rest")))' <<<"$J")
# Every sample stops the vCPU it lands on, and that time is the guest's too (its TSC runs
# on). Where sampling is dear (the profiler's own overhead figure above 5%: the nested SVM
# KVM, ~0.4 ms a kick and ~9%, against ~1% on PVM) it skews the shares toward the longest
# window, measured 70-79% for a 60% function: the tolerance doubles there, the order holds.
over=$(report_py 'print(round(r["overhead"]["percent"]))' <<<"$J")
if ((${over:-0} > 5)); then
	TOL=$((TOL * 2))
	diag "the sampler's overhead is ${over}%: the shares' tolerance is +-$TOL"
fi
diag "total shares hot warm rest: $shares (want 60 30 10 +-$TOL)"
read -r hot warm rest <<<"$shares"
ok $(( hot >= 60 - TOL && hot <= 60 + TOL ? 0 : 1 )) "tg_prof_hot has ~60% of the samples ($hot%)"
ok $(( warm >= 30 - TOL && warm <= 30 + TOL ? 0 : 1 )) "tg_prof_warm has ~30% of the samples ($warm%)"
ok $(( rest >= 0 && rest <= 10 + TOL ? 0 : 1 )) "tg_prof_rest has ~10% of the samples ($rest%)"
ok $(( hot > warm && warm > rest ? 0 : 1 )) "the shares keep the guest's order: hot > warm > rest"
report_py '
cpus = r["cpus"]
assert [c["cpu"] for c in cpus] == [0, 1], cpus
assert sum(c["samples"] for c in cpus) == r["total"]["samples"] == r["taken"]
for c in cpus:
    assert c["samples"] > 100 and c["taken"] <= c["wanted"], c
    assert c["functions"][0]["function"] == "tg_prof_hot", c["functions"][0]
    assert all(f["mode"] == "kernel" for f in c["functions"])
' <<<"$J"
ok $? "JSON: per-vCPU tables that add up to the total, tg_prof_hot on top of each"
report_py 'assert 0 <= r["overhead"]["percent"] < 50 and r["wanted"] >= r["taken"] > 500, r' <<<"$J"
ok $? "JSON: overhead and samples wanted/taken"

# Folded stacks: "frame;frame;leaf N" lines, counts adding up to the samples taken.
taken=$(report_py 'print(r["taken"])' <<<"$J")
grep -Evq '^[^ ;]+(;[^ ;]+)* [0-9]+$' "$TMP/p.folded"
ok $(( $? == 1 ? 0 : 1 )) "every folded line is 'a;b;c N'" || diag "$(head -n 5 "$TMP/p.folded")"
is "$(awk '{ n += $NF } END { print n }' "$TMP/p.folded")" "$taken" "the folded counts add up to the samples taken"
like "$TMP/p.folded" ';tg_prof_run;tg_prof_warm_caller;tg_prof_warm [0-9]+$' "folded: the known caller;callee stack"
like "$TMP/p.folded" '^tg_image_start;tg_main;tg_prof_run;tg_prof_hot [0-9]+$' "folded: the BSP's whole stack from its entry"
like "$TMP/p.folded" '^tg_ap_start64;tg_ap_main;tg_ap_work;tg_prof_run;tg_prof_hot [0-9]+$' "folded: an AP's whole stack from its entry"
unlike "$TMP/p.folded" '(tg_main|tg_ap_work);tg_prof_(hot|warm|rest|warm_caller) |tg_prof_run;tg_prof_warm ' "folded: no stack skips a caller (a sample in a prologue names it from the stack)"
python3 -c '
import sys, xml.etree.ElementTree as E
root = E.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
titles = [t.text for t in root.iter(ns + "title")]
assert any(t.startswith("tg_prof_hot (") for t in titles), titles[:5]
assert any(t.startswith("all (") for t in titles)
assert len(list(root.iter(ns + "rect"))) > 5
' "$TMP/p.svg"
ok $? "the SVG parses as XML: frames with titles, tg_prof_hot among them"

J1=$(awk '/^MARK one/ { getline; print; exit }' "$TMP/p.lf")
report_py 'assert r["hz"] == 500 and [c["cpu"] for c in r["cpus"]] == [1] and r["taken"] > 50, r' <<<"$J1"
ok $? "profile start 500 1: vCPU 1 alone at 500 Hz"

# --- --profile FILE for a whole run -------------------------------------------------------------
run_vm "$TMP/run" 60 --kernel "$TEST_GUEST" --cpus 2 --append "mode=profile ms=1500" --profile "$TMP/run.folded"
is "$RC" 0 "--profile: the run ends as the guest's power-off says"
like "$TMP/run.lf" '^vmdbg: folded: [0-9]+ stacks of [0-9]+ samples written to ' "--profile: says what it wrote"
like "$TMP/run.folded" ';tg_prof_warm_caller;tg_prof_warm [0-9]+$' "--profile: folded stacks of the whole run"
run_vm "$TMP/runsvg" 60 --kernel "$TEST_GUEST" --append "mode=profile ms=800" --profile "$TMP/run.svg"
is "$RC" 0 "--profile FILE.svg: exit 0"
python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$TMP/run.svg"
ok $? "--profile FILE.svg writes a flame graph that parses as XML"

# --- gdb's monitor ------------------------------------------------------------------------------
if ! command -v gdb >/dev/null; then
	for i in 1 2 3; do skip "gdb not installed"; done
else
	PORT=$((20000 + RANDOM % 20000))
	start_vm "$TMP/vm" --kernel "$TEST_GUEST" --cpus 2 --append "mode=profile" --gdb "tcp:$PORT"
	wait_for --guest "$TMP/vm" "tg: profile running" 30
	gdbm() { timeout -k 5 60 gdb -batch -nx -ex "target remote 127.0.0.1:$PORT" "$@" "$TEST_GUEST" >>"$TMP/gdb" 2>&1; }
	gdbm -ex 'monitor profile start 1000' -ex detach
	sleep 2
	gdbm -ex 'monitor profile stop' -ex 'monitor profile report 3' -ex 'monitor profile stop' -ex detach
	like "$TMP/gdb" '^profiling every vCPU at 1000 Hz' "monitor profile start"
	like "$TMP/gdb" '^ +[0-9.]+ +[0-9]+  kernel  tg_prof_hot$' "monitor profile report names the hot function"
	like "$TMP/gdb" 'profile stop: no profile is running' "monitor profile stop twice: the second says why"
	stop_vm
fi

# --- bad input: one clear line, the right status, no crash --------------------------------------
bad() { # bad NAME STATUS REGEX SCRIPT-LINE...
	local name=$1 st=$2 re=$3; shift 3
	printf '%s\n' "$@" >"$TMP/bad.vmdbg"
	run_vm "$TMP/bad" 30 --kernel "$TEST_GUEST" --append "mode=profile ms=3000" --script "$TMP/bad.vmdbg"
	is "$RC" "$st" "$name: exit $st"
	like "$TMP/bad.lf" "$re" "$name: says what is wrong"
}
bad "bad HZ" 2 "bad.vmdbg:1: profile start: HZ 'lots' is not a rate from 1 to 10000" 'profile start lots'
bad "stop without start" 1 'bad.vmdbg:1: profile stop: no profile is running' 'profile stop'
bad "report without a profile" 1 'bad.vmdbg:1: profile report: no profile taken yet' 'profile report'
bad "unwritable folded FILE" 1 "bad.vmdbg:3: profile folded: cannot write '/nonexistent-dir/p.folded': No such file or directory" \
	'profile start' 'sleep 200ms' 'profile folded /nonexistent-dir/p.folded'
timeout -k 5 30 "$VMDBG" --kernel "$TEST_GUEST" --profile /nonexistent-dir/p.folded </dev/null >"$TMP/out" 2>&1
is "$?" 2 "--profile with an unwritable FILE: exit 2"
like "$TMP/out" "^vmdbg: --profile /nonexistent-dir/p.folded: cannot write it: No such file or directory" "--profile with an unwritable FILE: says so"
is "$(grep -c . "$TMP/out")" 1 "--profile with an unwritable FILE: one line, before the guest starts"
done_testing
