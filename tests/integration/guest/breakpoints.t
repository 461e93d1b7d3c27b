#!/usr/bin/env bash
# REPL software breakpoints stay inserted across `resume` and `step`: vmdbg steps the stopped
# vCPU over its int3 alone (the original byte back, every other vCPU held), so each resume
# runs on to the next hit instead of trapping on the same int3 again, and `step` from a
# breakpoint executes the guest's own instruction. The test guest's tg_break_here is a bare
# `ret` called once per timer tick by tg_loop (mode=loop), which bumps tg_counter.
# The test guest has DWARF: the stop, `bt` and `list` name the source lines addr2line names.
source "$(dirname "$0")/../lib.sh"
plan 17
# Every check here is about an int3 breakpoint's hits.
kvm_lacks sw-breakpoint && skip_rest "REPL software breakpoints: $KVM_LACKS_WHY"

cat >"$TMP/s.vmdbg" <<'EOF'
break tg_break_here
wait stop 20s
bt
x/1i
list tg_break_here
x/1gx tg_counter
resume
wait stop 20s
x/1gx tg_counter
resume
wait stop 20s
x/1gx tg_counter
step
get cpu.0.rip
resume
wait stop 20s
echo MARK after-step
info breaks
delete 1
resume
wait console "tg: alive 3" 20s
echo MARK deleted
EOF
run_vm "$TMP/out" 60 --kernel "$TEST_GUEST" --cpus 2 --append "mode=loop" --script "$TMP/s.vmdbg"
is "$RC" 0 "the script runs to its end (exit 0)"
mapfile -t counts < <(sed -n 's/^0x[0-9a-f]*: *\(0x[0-9a-f]*\)$/\1/p' "$TMP/out.lf")
[[ ${#counts[@]} -eq 3 ]] && ((counts[0] < counts[1] && counts[1] < counts[2]))
ok $? "each resume runs on to the next hit: tg_counter ${counts[*]}"
[[ $(grep -c '^Breakpoint 1, cpu [01] at 0x[0-9a-f]* tg_break_here' "$TMP/out.lf") -ge 2 ]]
ok $? "the stops are reported as hits of breakpoint 1 at tg_break_here"
like "$TMP/out.lf" '^cpu 0: 0x[0-9a-f]+ tg_loop\+0x[0-9a-f]+$' "step from the breakpoint executes tg_break_here's ret: back in tg_loop"
ret_to=$(sed -n 's/^cpu 0: \(0x[0-9a-f]*\) tg_loop.*/\1/p' "$TMP/out.lf" | head -1)
like "$TMP/out.lf" "^[0-9]+ \\($ret_to\\)\$" "... and the vCPU's RIP is that address"
# At the function's first instruction rbp is still tg_loop's caller's frame: frame #1 is the
# return address on the stack, the instruction after tg_loop's call.
ret=$(objdump -d "$TEST_GUEST" | awk '/call.*<tg_break_here>$/ { getline; a = $1; sub(/:$/, "", a); print a; exit }')
# addr2line's FILE:LINE of an address, as vmdbg prints it: relative to the current directory.
src_of() { addr2line -e "$TEST_GUEST" "$1" | sed -e 's/ (discriminator [0-9]*)$//' -e "s|^$PWD/||"; }
bp=$(nm "$TEST_GUEST" | awk '$3 == "tg_break_here" { print $1 }')
bp_src=$(src_of "$bp")
call_src=$(src_of "$(printf '%x' $((0x$ret - 1)))") # a caller's line is its call's, before the return address
diag "tg_break_here at 0x$bp: $bp_src; its call in tg_loop: $call_src"
like "$TMP/out.lf" "^Breakpoint 1, cpu [01] at 0x0*$bp tg_break_here at $bp_src \\(all vCPUs stopped" \
	"the breakpoint stop names the source line addr2line gives ($bp_src)"
like "$TMP/out.lf" "^#0  0x0*$bp in tg_break_here at $bp_src\$" "bt frame #0 carries its file:line"
like "$TMP/out.lf" "^#1  0x$ret in tg_loop\+0x[0-9a-f]+ at $call_src\$" "bt at the breakpoint: frame #1 is the direct caller, tg_loop, at the call's return address, with the call's line"
# list FUNCTION: ten lines around the one that defines it, the pc's line marked.
def=$(grep -n 'void tg_break_here(' "$ROOT/tests/guest/main.c" | cut -d: -f1)
grep -qxF -- "   $def"$'\t'"$(sed -n "${def}p" "$ROOT/tests/guest/main.c")" "$TMP/out.lf"
ok $? "list tg_break_here prints line $def, the function's definition" || diag "$(grep -A11 '^tests/guest/main.c:' "$TMP/out.lf")"
like "$TMP/out.lf" "^=> ${bp_src##*:}"$'\t' "... and marks the pc's line (${bp_src##*:}) with =>"
byte=$(objdump -d --insn-width=15 --start-address=0x"$(nm "$TEST_GUEST" | awk '$3 == "tg_break_here" { print $1 }')" "$TEST_GUEST" |
	awk -F'\t' '/^ *[0-9a-f]+:\t/ && NF >= 3 { b = $2; sub(/ +$/, "", b); print b; exit }')
like "$TMP/out.lf" "^=> 0x[0-9a-f]+ <tg_break_here>:"$'\t'"$byte"$'\t' "x/1i at the breakpoint marks the pc and shows the guest's own bytes ($byte), not the int3"
like "$TMP/out.lf" 'MARK after-step' "resume after the step stops at the next hit"
like "$TMP/out.lf" '^1 +break +0x[0-9a-f]+ +1 +tg_break_here' "the breakpoint is still listed, inserted"
like "$TMP/out.lf" 'MARK deleted' "deleted, the guest runs freely again"
unlike "$TMP/out.lf" 'still paused' "no resume is left paused"

# The same guest with its DWARF's build directory renamed (same length, so the ELF stays
# whole): the lines are known, the source files are not there.
dir=$(readelf --debug-dump=info "$TEST_GUEST" 2>/dev/null | sed -n 's/.*DW_AT_comp_dir *: (.*): \(.*\)$/\1/p' | head -1)
gone=${dir%?}~
if [[ -z $dir || -e $gone ]]; then
	skip "list without the source tree: no comp_dir in $TEST_GUEST, or $gone exists"
	skip "... the script fails at that list"
else
	DIR=$dir GONE=$gone perl -0777 -pe 's/\Q$ENV{DIR}\E/$ENV{GONE}/g' "$TEST_GUEST" >"$TMP/moved.elf"
	printf 'list tg_break_here\necho MARK not-reached\n' >"$TMP/gone.vmdbg"
	run_vm "$TMP/gone" 30 --kernel "$TMP/moved.elf" --append "mode=loop" --script "$TMP/gone.vmdbg"
	like "$TMP/gone.lf" "list: source file $gone/tests/guest/main.c not found \\(line $def\\)\$" \
		"list without the source tree says which file is missing, and the line"
	[[ $RC -eq 1 ]] && ! grep -q 'MARK not-reached' "$TMP/gone.lf"
	ok $? "... as a failed command: the script stops there (exit $RC)"
fi
done_testing
