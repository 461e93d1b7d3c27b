#!/usr/bin/env bash
# The reference: `make install` puts the man page beside the binary, it renders without a
# warning and lists every option of --help and every command of `help`; the README's options
# table and command reference are exactly what vmdbg prints (README "Commands").
source "$(dirname "$0")/../lib.sh"
plan 20

# Install what the build made (-o: never rebuild here, whichever flavour the tier built).
dest=$TMP/dest
make -s -C "$ROOT" -o build/vmdbg -o build/vmdbg.1 install DESTDIR="$dest" PREFIX=/usr \
	>"$TMP/install" 2>&1
is "$?" 0 "make install DESTDIR PREFIX=/usr" || diag "$(cat "$TMP/install")"
man1=$dest/usr/share/man/man1/vmdbg.1
ok "$([[ -x $dest/usr/bin/vmdbg ]]; echo $?)" "the binary is in bin/"
ok "$([[ -f $man1 ]]; echo $?)" "the man page is in share/man/man1/"
"$VMDBG" --reference man >"$TMP/vmdbg.1" 2>&1
cmp -s "$man1" "$TMP/vmdbg.1"
ok $? "the installed man page is what this vmdbg prints (build/vmdbg.1 is up to date)"

# groff's warnings (-ww: all of them), then man's own rendering as a reader gets it.
groff -man -ww -z "$man1" >"$TMP/groff" 2>&1
ok $? "groff -man -ww renders it"
is "$(wc -c <"$TMP/groff")" 0 "groff: no warnings" || diag "$(head -5 "$TMP/groff")"
LC_ALL=C.UTF-8 MANWIDTH=250 man --warnings --nh --nj -l "$man1" 2>"$TMP/man.err" |
	sed 's/\xe2\x88\x92/-/g; s/\xe2\x80\x90/-/g' >"$TMP/man.txt"
ok $? "man -l renders it"
is "$(wc -c <"$TMP/man.err")" 0 "man -l: no warnings" || diag "$(head -5 "$TMP/man.err")"

# Every option --help shows is a tag of OPTIONS ("  --kernel FILE", "  -v, --verbose").
"$VMDBG" --help >"$TMP/help"
grep -oE '^  (-[a-z], )?--[a-z0-9-]+' "$TMP/help" | sed 's/^  //' >"$TMP/help.opts"
missing=
while IFS= read -r o; do
	grep -qE "^ +$o( |\$)" "$TMP/man.txt" || missing+=" $o"
done <"$TMP/help.opts"
ok "$([[ $(wc -l <"$TMP/help.opts") -gt 25 && -z $missing ]]; echo $?)" \
	"the man page lists every option of --help" || diag "missing:$missing"
grep -qE -- '--trace .*pio' "$TMP/help"
ok $? "--help's --trace names pio"

# Every command `help` knows (its JSON, from a script) is a tag of COMMANDS, syntax and all.
printf 'json help\nquit\n' >"$TMP/help.vmdbg"
run_vm "$TMP/vm" 30 --kernel "$TEST_GUEST" --append "mode=loop" --script "$TMP/help.vmdbg"
grep -aoE '\{"return":\[\{"name":"help".*' "$TMP/vm.lf" |
	python3 -c 'import json, sys; [print(c["syntax"]) for c in json.loads(sys.stdin.readline())["return"]]' \
		>"$TMP/syntax"
ok "$([[ $(wc -l <"$TMP/syntax") -gt 50 ]]; echo $?)" "help's JSON lists the commands" ||
	diag "$(tail -5 "$TMP/vm")"
missing=
while IFS= read -r s; do
	# a tag on its own line, or (a short one) followed by its text on the same line
	awk -v s="       $s" 'index($0, s) == 1 && substr($0, length(s) + 1, 1) ~ /^ ?$/ { f = 1 }
		END { exit !f }' "$TMP/man.txt" || missing+=" [$s]"
done <"$TMP/syntax"
ok "$([[ -z $missing ]]; echo $?)" "the man page lists every command of help" || diag "missing:$missing"
missing=
while IFS= read -r s; do
	grep -qF -- "- \`$s\`: " "$ROOT/README.md" || missing+=" [$s]"
done <"$TMP/syntax"
ok "$([[ -z $missing ]]; echo $?)" "the README lists every command of help" || diag "missing:$missing"
grep -qE '^EXIT STATUS' "$TMP/man.txt" && grep -qE '^       2 +bad usage or setup' "$TMP/man.txt"
ok $? "the man page has the exit statuses"

# The README's generated parts are what vmdbg prints; a command added without README text is
# caught, and the check says how to fix it.
"$ROOT/scripts/readme-ref.sh" --check "$VMDBG" "$ROOT/README.md" >"$TMP/check" 2>&1
ok $? "the README's options table and command reference are what vmdbg prints" ||
	diag "$(tail -15 "$TMP/check")"
grep -v -- '- `wait stop \[TIMEOUT\]`' "$ROOT/README.md" >"$TMP/README.md"
"$ROOT/scripts/readme-ref.sh" --check "$VMDBG" "$TMP/README.md" >"$TMP/check" 2>&1
is "$?" 1 "a README without one command's text fails the check"
like "$TMP/check" "run 'make readme'" "the check says how to regenerate"
like "$TMP/check" '^\+- `wait stop \[TIMEOUT\]`' "the check shows the missing text"

# Bad input: one line, exit 2.
timeout 10 "$VMDBG" --reference pdf >"$TMP/bad" 2>&1
is "$?:$(grep -c . "$TMP/bad")" "2:1" "--reference pdf: exit 2, one line"
like "$TMP/bad" "^vmdbg: --reference 'pdf': expected one of man,options.md,commands.md,exits.md" \
	"--reference pdf: names the formats"
done_testing
