#!/usr/bin/env bash
# --repl with commands piped in (or a file): one command a line, each answer whole, no
# prompt or echo in the output, a `wait` holds the next line back, and the end of input
# ends the session as `quit` does once the last command is done.
source "$(dirname "$0")/../lib.sh"
plan 17
export HOME=$TMP

printf 'info cpus\nport list\nquit\n' |
	timeout -k 5 60 "$VMDBG" --kernel "$TEST_GUEST" --append "mode=loop" --repl >"$TMP/pipe" 2>&1
is "$?" 0 "piped commands ending in quit exit 0"
like "$TMP/pipe" '^\* CPU #0: (running|halted|paused)' "info cpus answers whole"
like "$TMP/pipe" '^  id name +console readied' "port list answers whole"
is "$(grep -cE '^ +[0-2] ktstr-' "$TMP/pipe")" 3 "... with its three ports"
unlike "$TMP/pipe" "unknown command" "no line is taken a character at a time"
unlike "$TMP/pipe" '\(vmdbg\)' "no prompt in the output"
unlike "$TMP/pipe" 'C-a c switches' "no banner about terminal keys"
[[ ! -e $TMP/.vmdbg_history ]]
ok $? "piped commands are not written to ~/.vmdbg_history"

# No quit: the end of input ends the session once the wait before it is over.
printf 'wait console "tg: loop running" 30s\necho after-the-wait\nbogus-command\nget cpus' |
	timeout -k 5 60 "$VMDBG" --kernel "$TEST_GUEST" --append "mode=loop" --repl >"$TMP/eof" 2>&1
is "$?" 0 "a pipe ending without quit exits 0"
like "$TMP/eof" 'vmdbg: end of input \(exit 0' "... saying the input ended"
# (The match may end mid-line: the line before it is the one sure to be out first.)
tr -d '\r' <"$TMP/eof" | grep -E '^(tg: cpus up=1 of 1|after-the-wait)$' >"$TMP/order"
is "$(paste -sd, "$TMP/order")" "tg: cpus up=1 of 1,after-the-wait" "the line after a wait runs once it matched"
like "$TMP/eof" '^tg: loop running' "the guest's last line is printed at the end, unfinished or not"
like "$TMP/eof" "^unknown command 'bogus-command'" "a mistake is reported and the session goes on"
like "$TMP/eof" '^1$' "... to the last line, even without a newline"

# A file as stdin (epoll refuses regular files): the same.
printf 'get cpus\necho from-a-file\n' >"$TMP/cmds"
timeout -k 5 60 "$VMDBG" --kernel "$TEST_GUEST" --append "mode=loop" --cpus 2 --repl <"$TMP/cmds" >"$TMP/file" 2>&1
is "$?" 0 "commands from a file exit 0 at its end"
like "$TMP/file" '^2$' "... answered in order"
like "$TMP/file" '^from-a-file$' "... every line"
done_testing
