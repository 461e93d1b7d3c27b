#!/usr/bin/env bash
# The interactive prompt in a real terminal (tmux): completion, history, Ctrl-C pausing the
# guest, Ctrl-A C switching between the prompt and the guest console, quit.
source "$(dirname "$0")/../lib.sh"
command -v tmux >/dev/null || { echo "1..0 # skip tmux is not installed"; exit 0; }
plan 15

S=vmdbg-repl-$$
export HOME=$TMP
screen() { tmux capture-pane -p -t "$S" -S -3000; }
wait_screen() { # REGEX SECONDS
	local end=$((SECONDS + $2))
	while ((SECONDS < end)); do
		screen | grep -Eq -- "$1" && return 0
		sleep 0.2
	done
	screen >"$TMP/screen.txt"
	diag "screen:"; diag "$(tail -n 15 "$TMP/screen.txt")"
	return 1
}
key() { tmux send-keys -t "$S" "$@"; }

tmux kill-session -t "$S" 2>/dev/null
tmux new-session -d -s "$S" -x 160 -y 50 \
	"HOME=${TMP} $VMDBG --kernel $TEST_GUEST --append 'mode=loop hz=100' --repl; echo VMDBG-EXIT=\$?; sleep 30"
trap 'tmux kill-session -t "$S" 2>/dev/null; tap_cleanup' EXIT

wait_screen '\(vmdbg\)' 20
ok $? "the prompt appears"

key 'info cp' Tab
wait_screen '\(vmdbg\) info cpus' 5
ok $? "Tab completes a command's sub-word (info cp -> info cpus)"
key Enter
wait_screen 'CPU #0: running' 5
ok $? "info cpus runs"

key 'ctl send PORT_RE' Tab Tab
wait_screen 'PORT_READY +PORT_REMOVE' 5
ok $? "Tab lists control event names"
key C-u

# get/assert paths complete from the tables `get` itself uses: every key, level by level.
key 'get po' Tab
wait_screen '\(vmdbg\) get port\.$' 5
ok $? "Tab completes a path's head without a space (get po -> get port.)"
key '1.rx_bu' Tab
wait_screen '\(vmdbg\) get port\.1\.rx_buffers *$' 5
ok $? "Tab completes every port key (port.1.rx_bu -> port.1.rx_buffers)"
key C-u
key 'get vq.3.' Tab Tab
wait_screen 'vq\.3\.guest_used_idx' 5 && wait_screen 'vq\.3\.shadow_avail_idx' 1
ok $? "Tab lists every vq key"
key C-u
key 'set reg rfl' Tab
wait_screen '\(vmdbg\) set reg rflags=$' 5
ok $? "set reg completes register names from the register table, with their ="
key C-u

key C-c
wait_screen 'paused: all 1 vCPU' 5
ok $? "Ctrl-C at the prompt pauses the guest"
key 'get paused' Enter
wait_screen '^1$' 5
ok $? "get paused says 1"
key 'resume' Enter
wait_screen '^running' 5
ok $? "resume"

key C-a c
wait_screen '\[guest console: C-a c returns' 5
ok $? "Ctrl-A C switches to the guest console"
key C-a c
wait_screen '\[vmdbg prompt' 5
ok $? "Ctrl-A C switches back to the prompt"

key Up
wait_screen '\(vmdbg\) resume$' 5
ok $? "Up recalls the history"
key C-u
key quit Enter
wait_screen 'VMDBG-EXIT=0' 10
grep -q '^info cpus *$' "$HOME/.vmdbg_history"
ok $? "quit exits 0 and the history is saved in ~/.vmdbg_history"
done_testing
