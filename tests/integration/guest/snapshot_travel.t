#!/usr/bin/env bash
# Snapshots travel: saved with a relative --kernel, restored from another directory with
# its symbols; a snapshot saved after that restore names the same absolute kernel and
# build id; a kernel with another build id is refused with one line (exit 2), --kernel
# names a kernel that moved; `ctl log` and the trace mark where a snapshot load began
# another timeline; an injection before the driver's DEVICE_READY is sent and says so.
source "$(dirname "$0")/../lib.sh"
plan 24

mkdir -p "$TMP/k" "$TMP/elsewhere"
cp "$TEST_GUEST" "$TMP/k/guest.elf"
ID=$(readelf -n "$TEST_GUEST" | sed -n 's/.*Build ID: \([0-9a-f]*\)$/\1/p')
[[ -n $ID ]]
ok $? "the test guest has a GNU build id ($ID)"
# The same kernel with another build id: one byte of the note flipped.
python3 - "$TMP/k/guest.elf" "$TMP/other.elf" "$ID" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
i = b.find(bytes.fromhex(sys.argv[3]))
b[i] ^= 0xff
open(sys.argv[2], 'wb').write(b)
EOF
OTHER=$(readelf -n "$TMP/other.elf" | sed -n 's/.*Build ID: \([0-9a-f]*\)$/\1/p')

# --- saved with a relative path, when the driver sets DRIVER_OK (before DEVICE_READY) ---
cat >"$TMP/k/save.vmdbg" <<'EOF'
break-on status DRIVER_OK
wait stop 20s
snapshot save early.snap
snapshot info early.snap
ctl send CONSOLE_PORT 1 1
json ctl send CONSOLE_PORT 1 1
quit
EOF
cd "$TMP/k" || exit 1
run_vm "$TMP/save" 60 --kernel guest.elf --append "mode=vcon bytes=1000" --script save.vmdbg
cd "$TMP/elsewhere" || exit 1
is "$RC" 0 "saved with --kernel guest.elf (relative) at DRIVER_OK"
like "$TMP/save.lf" "^kernel:  $TMP/k/guest.elf \(build-id $ID\)\$" "snapshot info: the kernel's absolute path and build id"
like "$TMP/save.lf" '^queued CONSOLE_PORT id=1 value=1 \(the driver has not sent DEVICE_READY yet: it gets this ahead of the handshake' \
	"ctl send before DEVICE_READY is queued and says so"
like "$TMP/save.lf" '"before_device_ready":true' "... in JSON too"

# --- restored from another directory: symbols; rewound: the marker ----------------------
cat >"$TMP/elsewhere/restore.vmdbg" <<'EOF'
sym tg_break_here
info cpus
wait console "tg: vcon handshake done" 20s
ctl send PORT_OPEN 1 1
pause
snapshot load ../k/early.snap
ctl log
json ctl log
snapshot save again.snap
snapshot info again.snap
quit
EOF
run_vm "$TMP/restore" 60 --restore ../k/early.snap --trace ctl:"$TMP/trace.log" --script restore.vmdbg
is "$RC" 0 "restored from another directory, rewound, saved again"
like "$TMP/restore.lf" '^0xffffffff[0-9a-f]+ tg_break_here \(T' "the restored session has the kernel's symbols (sym)"
like "$TMP/restore.lf" '^\* CPU #0: .* rip=0x[0-9a-f]+ [A-Za-z_][A-Za-z0-9_.]*(\+0x[0-9a-f]+)?( at [^ ]+:[0-9]+( \([^)]* inlined at [^ ]+:[0-9]+\))?)? mode=' "info cpus names the vCPU's function (and its source line, and where it was inlined)"
unlike "$TMP/restore.lf" 'not readable' "the kernel was found by its absolute path"
like "$TMP/restore.lf" '^queued PORT_OPEN id=1 value=1$' "ctl send after the handshake: no note"
like "$TMP/restore.lf" "^kernel:  $TMP/k/guest.elf \\(build-id $ID\\)\$" \
	"a snapshot saved after the restore names the same absolute kernel and build id"
# The control log: the --restore marker first, the handshake, then the load's marker last.
python3 - "$TMP/restore.lf" <<'EOF'
import sys
lines = [l.rstrip('\n') for l in open(sys.argv[1])]
start = lines.index('control messages (time since start, s):')
log = []
for l in lines[start + 1:]:
    if not l.startswith('  '):
        break
    log.append(l)
mark = '  --- snapshot loaded ../k/early.snap ---'
ok = (len(log) > 3 and log[0] == mark and log[-1] == mark and
      log[-2].startswith('  #') and sum(l == mark for l in log) == 2)
if not ok:
    print('# ' + '\n# '.join(log))
sys.exit(0 if ok else 1)
EOF
ok $? "ctl log: a '--- snapshot loaded ---' line where --restore began and after the last message before the load"
python3 - "$TMP/restore.lf" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    if l.startswith('{"return":{"messages"'):
        m = json.loads(l)['return']['messages']
        marks = [i for i, e in enumerate(m) if 'marker' in e]
        ok = (marks == [0, len(m) - 1] and m[-1]['marker'] == 'snapshot loaded' and
              m[-1]['file'] == '../k/early.snap' and m[-1]['after_seq'] == m[-2]['seq'])
        sys.exit(0 if ok else 1)
sys.exit(1)
EOF
ok $? "json ctl log: the marker objects in sequence, after_seq the message before"
python3 - "$TMP/trace.log" <<'EOF'
import sys
lines = [l.split(' ', 1)[1].rstrip('\n') for l in open(sys.argv[1])]
mark = '--- snapshot loaded ../k/early.snap ---'
ok = lines[0] == mark and lines[-1] == mark and lines.count(mark) == 2 and \
     any('DEVICE_READY' in l for l in lines)
sys.exit(0 if ok else 1)
EOF
ok $? "the trace file marks --restore and the load the same way" || diag "$(cat "$TMP/trace.log")"

# --- the kernel: moved, missing, another build id ---------------------------------------
mv "$TMP/k/guest.elf" "$TMP/moved.elf"
run_vm "$TMP/missing" 30 --restore ../k/early.snap --script restore.vmdbg
like "$TMP/missing.lf" "^vmdbg: the snapshot's kernel $TMP/k/guest.elf is not readable: no symbols \(--kernel FILE names it\)\$" \
	"a missing kernel is named in one line; the restore goes on without symbols"
printf '%s\n' 'snapshot save nosym.snap' 'snapshot info nosym.snap' quit >"$TMP/elsewhere/nosym.vmdbg"
run_vm "$TMP/nosym" 30 --restore ../k/early.snap --script nosym.vmdbg
like "$TMP/nosym.lf" "^kernel:  $TMP/k/guest.elf \\(build-id $ID\\)\$" \
	"saved without the kernel at hand, a snapshot still names it (never 'kernel: ?')"
run_vm "$TMP/moved" 30 --restore ../k/early.snap --kernel ../moved.elf --script restore.vmdbg
like "$TMP/moved.lf" '^0xffffffff[0-9a-f]+ tg_break_here \(T' "--kernel names a kernel that moved: symbols again"
like "$TMP/moved.lf" "^kernel:  $TMP/moved.elf \\(build-id $ID\\)\$" "... and later snapshots record where it is now"
run_vm "$TMP/bad" 30 --restore ../k/early.snap --kernel ../other.elf
is "$RC" 2 "--kernel with another build id is refused (exit 2)"
is "$(grep -c . "$TMP/bad")" 1 "... in one line"
like "$TMP/bad" "^vmdbg: --kernel ../other.elf is not the snapshot's kernel: it has build-id $OTHER, the snapshot was saved with build-id $ID \($TMP/k/guest.elf\)\$" \
	"... naming both build ids"
cp "$TMP/other.elf" "$TMP/k/guest.elf"
run_vm "$TMP/changed" 30 --restore ../k/early.snap
[[ $RC -eq 2 ]] && grep -q "^vmdbg: the snapshot's kernel $TMP/k/guest.elf has changed: it has build-id $OTHER, the snapshot was saved with build-id $ID" "$TMP/changed"
ok $? "a kernel rebuilt at the recorded path is refused too (exit 2)" || diag "$(cat "$TMP/changed")"
# A session running another kernel refuses to load the snapshot (an error, the run goes on).
printf '%s\n' 'snapshot load ../k/early.snap' >"$TMP/elsewhere/load.vmdbg"
run_vm "$TMP/load" 30 --kernel ../other.elf --append "mode=vcon bytes=1000" --script load.vmdbg
is "$RC" 1 "snapshot load of another kernel's snapshot fails the script"
like "$TMP/load.lf" "snapshot load: the snapshot was saved with another kernel: $TMP/k/guest.elf \(build-id $ID\); this session's kernel $TMP/other.elf has build-id $OTHER" \
	"... naming both kernels and build ids"

done_testing
