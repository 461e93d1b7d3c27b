#!/usr/bin/env bash
# One owner of run control (issue 14's session): while gdb holds a stop, `monitor resume`
# and the REPL's `resume` and `step` are refused with one line naming gdb's command, so
# gdb's view (`info threads`) stays true and nothing waits on a running vCPU; after gdb
# detaches they work again and the run still ends on SIGTERM with its exit status. The same
# for a snapshot load (refused from the REPL, done from gdb's `monitor` with a word on gdb's
# caches, told to a running gdb) and a REPL pause while gdb runs (gdb gets it as a stop).
source "$(dirname "$0")/../lib.sh"
plan 14
command -v gdb >/dev/null || { for i in $(seq 14); do skip "gdb not installed"; done; exit 0; }

ELF=$TEST_GUEST
PORT=$((20000 + RANDOM % 20000))
if kvm_lacks hw-breakpoint; then BP="break"; kvm_lacks sw-breakpoint && BP=; else BP="hbreak"; fi
[[ -n $BP ]] || { for i in $(seq 14); do skip "no breakpoint this KVM reports: $KVM_LACKS_WHY"; done; exit 0; }

start_vm "$TMP/vm" --kernel "$ELF" --cpus 2 --append "mode=loop" --gdb "tcp:$PORT" --gdb-wait --repl
wait_for "$TMP/vm" "gdb: listening" 10 || diag "vmdbg did not listen"
# The order of the issue's session: a resume behind gdb's back, then gdb reads the threads.
# The REPL's second load and its pause come once gdb's continue runs the guest (a new tick).
timeout -k 5 40 gdb -batch -nx -ex 'set pagination off' -ex "target remote 127.0.0.1:$PORT" \
	-ex "$BP tg_break_here" -ex 'continue' -ex 'delete' -ex 'monitor resume' -ex 'info threads' \
	-ex 'monitor info cpus' -ex 'monitor step' \
	-ex "monitor snapshot save $TMP/g.snap" \
	-ex "shell printf 'snapshot load $TMP/g.snap\\n' >$VM_IN; sleep 1" \
	-ex "monitor snapshot load $TMP/g.snap" \
	-ex "shell n=\$(grep -c '^tg: alive' $TMP/vm); (until [ \$(grep -c '^tg: alive' $TMP/vm) -gt \$n ]
		do sleep 0.2; done; printf 'snapshot load $TMP/g.snap\\n' >$VM_IN
		until grep -q '^loaded' $TMP/vm; do sleep 0.2; done; printf 'pause\\n' >$VM_IN) &" \
	-ex 'continue' -ex 'info threads' -ex 'detach' "$ELF" >"$TMP/gdb" 2>&1
RC_GDB=$?
is "$RC_GDB" 0 "the gdb session ends by itself (no wedge, no timeout)"
like "$TMP/gdb" '^resume: gdb \(127\.0\.0\.1:[0-9]+\) holds this stop; use gdb.s `continue`' \
	"monitor resume is refused, naming gdb's continue"
like "$TMP/gdb" '^step: gdb \(127\.0\.0\.1:[0-9]+\) holds this stop; use gdb.s `stepi`' \
	"monitor step is refused, naming gdb's stepi"
unlike "$TMP/gdb" 'Ignoring packet error|Invalid hex digit|Can.t detach' "gdb sees no protocol error"
like "$TMP/gdb" 'Thread 1 .*vCPU 0 stopped.* tg_break_here' "info threads still shows the stop gdb holds"
# monitor info cpus agrees with gdb: every vCPU stopped, none running.
grep -a -E '^[ *] CPU #[0-9]+: ' "$TMP/gdb" | grep -v -E 'running' | grep -c . | grep -qx 2
ok $? "monitor info cpus agrees: both vCPUs stopped" || diag "$(grep -a 'CPU #' "$TMP/gdb")"

like "$TMP/vm" '^snapshot load: gdb \(127\.0\.0\.1:[0-9]+\) holds this stop; load from gdb' \
	"the REPL's snapshot load is refused while gdb holds the stop"
like "$TMP/gdb" '^loaded .*g\.snap: ' "monitor snapshot load loads while gdb holds the stop"
like "$TMP/gdb" '^gdb still shows .*`maint flush register-cache`' "... and says how gdb reads the loaded machine"
like "$TMP/gdb" "^vmdbg: snapshot $TMP/g\.snap loaded: registers, memory and devices replaced" \
	"a running gdb is told of a snapshot loaded under it"
like "$TMP/gdb" '^vmdbg: stopped on vmdbg.s `pause` command' "the REPL's pause is a stop gdb receives"
[[ $(grep -c 'vCPU [01] stopped' "$TMP/gdb") -ge 4 ]] && like "$TMP/vm" '^paused: .*gdb holds this stop' \
	"... and holds: gdb's threads are stopped, the REPL says gdb owns the stop"

# gdb detached: run control is the REPL's again.
wait_for "$TMP/vm" "debugger detached|gdb: .*detached" 10
printf 'pause\nresume\n' >&"$VM_IN_FD"
wait_for "$TMP/vm" '^running' 10
ok $? "after gdb detaches, the REPL's pause and resume work"
stop_vm
is "$RC" 0 "SIGTERM ends the run with exit 0 (nothing waits on a running vCPU)"
done_testing
