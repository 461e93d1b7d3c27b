#!/usr/bin/env bash
# A guest reboot (the FADT's RESET_REG) in the middle of a framed stream on console port 1
# (the test guest's mode=vcon-reboot, tests/soak/README.md). Without --reboot the run ends,
# and every frame the guest published before it (the held, never-notified ones too) reaches
# the port's backend once: the final drain. With --reboot the machine resets and boots the
# same kernel again with RAM kept: the guest knows it is its second boot, the handshake runs
# again, a breakpoint set in the kernel text survives the reload, and the whole stream
# arrives once, in order. --restore plus --reboot: a restored machine reboots too. A gdb
# waiting on its continue is told of the reboot.
source "$(dirname "$0")/../lib.sh"
plan 21

K=256 A=128 H=8 P=32752 SEED=13
ARGS="mode=vcon-reboot frames=$K reboot_at=$A held=$H payload=$P seed=$SEED timeout=60"
CHECK="$(dirname "$0")/../../soak/reboot_frames.py"
frames() { python3 "$CHECK" "$1" --frames "$K" --before $((A + H)) --payload "$P" --seed "$SEED"; }
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" "$2"; }

# --- without --reboot: the run ends, nothing published is lost --------------------------
run_vm "$TMP/end" 60 --kernel "$TEST_GUEST" --port 1:file:"$TMP/end.p1" --port 2:null --append "$ARGS"
is "$RC" 0 "without --reboot a guest reboot ends the run (exit 0)"
like "$TMP/end" 'guest asked for a reboot \(ACPI reset register\); vmdbg ends the run instead \(--reboot boots it again\)' \
	"the end names the reboot and the option that would have followed it"
frames "$TMP/end.p1" >"$TMP/end.check"
is "$(kv frames "$TMP/end.check") $(kv before_ok "$TMP/end.check") $(kv duplicated "$TMP/end.check") $(kv stray "$TMP/end.check")" \
	"$((A + H)) 1 0 0" "every frame published before the reboot arrives once, the $H never notified too (final drain)" ||
	diag "$(cat "$TMP/end.check")"
like "$TMP/end" "boot 1 sent frames=$((A + H)) bytes=[0-9]+ crc=$(kv crc "$TMP/end.check")" \
	"the guest's CRC of what it sent equals the host's"

# --- with --reboot: a second boot, breakpoints kept, the stream whole ---------------------
# The stops need an int3 (boot 2's tg_vcon_reboot_main) and a debug register (tg_poweroff)
# that KVM reports (kvm_lacks: the probe's finding); without one, its checks are skipped and
# the rest of the run goes on without that stop.
SW_WHY= HW_WHY=
kvm_lacks sw-breakpoint && SW_WHY=$KVM_LACKS_WHY
kvm_lacks hw-breakpoint && HW_WHY=$KVM_LACKS_WHY
{
	echo 'wait console "tg: vcon reboot: frames [0-9.]+ published" 30s'
	[[ -z $SW_WHY ]] && printf '%s\n' 'break tg_vcon_reboot_main' 'wait stop 30s' \
		'echo MARK second-boot-stopped' 'get cpu.0.rip' 'delete 1'
	[[ -z $HW_WHY ]] && echo 'hbreak tg_poweroff'
	[[ -z $SW_WHY ]] && echo 'resume'
	[[ -z $HW_WHY ]] && printf '%s\n' 'wait stop 60s' 'echo MARK stopped-before-poweroff' \
		'handshake' 'ctl log'
	# The script's end ends the run: without that stop, it waits for the stream's last line.
	[[ -n $HW_WHY ]] && echo 'wait console "tg: vcon port 1 reboot frames=.* crc=0x[0-9a-f]{8}" 60s'
} >"$TMP/s.vmdbg"
run_vm "$TMP/rb" 90 --kernel "$TEST_GUEST" --reboot --script "$TMP/s.vmdbg" \
	--port 1:file:"$TMP/rb.p1" --port 2:null --append "$ARGS"
is "$RC" 0 "with --reboot the script runs to its end (exit 0)"
like "$TMP/rb.lf" '^vmdbg: guest reboot 1: machine reset, kernel loaded again, RAM kept$' "vmdbg reports the reboot"
is "$(grep -c '^tg: hello from the test guest' "$TMP/rb.lf")" 2 "the guest booted twice"
like "$TMP/rb.lf" "^tg: vcon reboot plan .* boot=2\$" "RAM was kept: the second boot found the first one's marker"
if [[ -n $SW_WHY ]]; then
	skip "a breakpoint set during boot 1 stops boot 2: $SW_WHY"
	skip "... at tg_vcon_reboot_main: $SW_WHY"
else
	like "$TMP/rb.lf" 'MARK second-boot-stopped' "a breakpoint set during boot 1 stops boot 2: put back over the reloaded kernel"
	addr=$(nm "$TEST_GUEST" | awk '$3 == "tg_vcon_reboot_main" { sub(/^0+/, "", $1); print $1 }')
	like "$TMP/rb.lf" "^[0-9]+ \\(0x$addr\\)\$" "... at tg_vcon_reboot_main"
fi
if [[ -n $HW_WHY ]]; then
	for what in "the control log at a stop before power-off" "a hardware breakpoint before power-off" \
		"handshake at a stop before power-off"; do
		skip "$what: $HW_WHY"
	done
else
	[[ $(grep -c 'guest->host DEVICE_READY' "$TMP/rb.lf") -eq 2 ]]
	ok $? "the control log holds both boots' DEVICE_READY"
	like "$TMP/rb.lf" 'MARK stopped-before-poweroff' "a hardware breakpoint holds boot 2 before its power-off"
	like "$TMP/rb.lf" '^3 of 3 ports ready' "handshake after the reboot: the new boot's handshake is complete"
fi
frames "$TMP/rb.p1" >"$TMP/rb.check"
is "$(kv frames "$TMP/rb.check") $(kv lost "$TMP/rb.check") $(kv duplicated "$TMP/rb.check") $(kv in_order "$TMP/rb.check") $(kv stray "$TMP/rb.check")" \
	"$K 0 0 1 0" "the whole stream arrives once and in order across the reboot" || diag "$(cat "$TMP/rb.check")"
is "$(kv bad_crc "$TMP/rb.check") $(kv bad_boot "$TMP/rb.check")" "0 0" "every frame's CRC and boot number are right"
like "$TMP/rb.lf" "^tg: vcon port 1 reboot frames=$K bytes=[0-9]+ crc=$(kv crc "$TMP/rb.check")\$" \
	"the guest's CRC of the whole stream equals the host's"

# --- --restore with --reboot ---------------------------------------------------------------
run_vm "$TMP/snap" 60 --kernel "$TEST_GUEST" --port 1:null --port 2:null --append "$ARGS" \
	--snapshot-at 'tg: vcon handshake done' --snapshot-file "$TMP/a.snap" --snapshot-exit
[[ $RC -eq 0 && -s $TMP/a.snap ]]
ok $? "a snapshot is taken in the middle of boot 1"
run_vm "$TMP/rs" 60 --restore "$TMP/a.snap" --reboot --port 1:file:"$TMP/rs.p1" --port 2:null
like "$TMP/rs.lf" '^vmdbg: guest reboot 1: ' "restored with --reboot, the machine reboots"
like "$TMP/rs.lf" '^tg: done' "... boots the snapshot's kernel again and the guest finishes"
is "$RC" 0 "... and powers off (exit 0)"

# --- a gdb that continued is told -----------------------------------------------------------
if command -v gdb >/dev/null; then
	PORT=$((20000 + RANDOM % 20000))
	start_vm "$TMP/g" --kernel "$TEST_GUEST" --reboot --gdb "tcp:$PORT" --gdb-wait --port 1:null \
		--port 2:null --append "$ARGS"
	wait_for "$TMP/g" "gdb: listening" 10
	timeout -k 5 90 gdb -batch -nx -ex "target remote 127.0.0.1:$PORT" -ex continue "$TEST_GUEST" \
		>"$TMP/g.gdb" 2>&1
	like "$TMP/g.gdb" '^vmdbg: guest reboot 1: machine reset, kernel loaded again$' \
		"gdb, running the guest, is told of its reboot (an O packet)"
	stop_vm
else
	skip "gdb not installed"
fi
done_testing
