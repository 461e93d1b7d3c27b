#!/usr/bin/env bash
# Snapshots with the test guest: save mid-run and the restored guest continues exactly
# (its counter and registers as they were, its `tg: alive N` lines without a gap), rewind
# in the same process again and again with breakpoints kept, --snapshot-at and
# --snapshot-at-symbol, a console transfer saved mid-stream delivering every byte once,
# and every bad file refused with one line and exit 2 before anything is restored.
source "$(dirname "$0")/../lib.sh"
plan 43

ELF=$TEST_GUEST
PORT=$((20000 + RANDOM % 20000))

alive_list() { tr -d '\r' <"$1" | sed -n 's/.*tg: alive \([0-9]*\)$/\1/p' | tr '\n' ' '; }

# --- save mid-run, then resume it in a new process -----------------------------------
cat >"$TMP/save.vmdbg" <<EOF
wait console "tg: alive 3" 20s
pause
x/1gx tg_counter
get cpu.0.rip
snapshot save $TMP/a.snap
snapshot info $TMP/a.snap
quit
EOF
run_vm "$TMP/run1" 60 --kernel "$ELF" --cpus 2 --append "mode=loop" --script "$TMP/save.vmdbg"
is "$RC" 0 "a script saves a snapshot of a paused machine and quits"
like "$TMP/run1" "^saved $TMP/a.snap: [0-9.]+ MiB of 256 MiB RAM, 2 vCPU\(s\)" "snapshot save reports RAM, vCPUs and time"
like "$TMP/run1" '^  section RAM  0 +[0-9]+ bytes' "snapshot info lists the sections"
like "$TMP/run1" '^machine: 256 MiB, 2 vCPU\(s\), 1 virtio device' "snapshot info names the machine"
size=$(stat -c %s "$TMP/a.snap")
((size < 4 * 1024 * 1024))
ok $? "a 256 MiB guest that touched ~1.5 MiB makes a small file ($size bytes): only written pages"
counter=$(sed -n 's/^0x[0-9a-f]*: *\(0x[0-9a-f]*\)$/\1/p' "$TMP/run1.lf" | head -1)
rip=$(sed -n 's/^[0-9]* (\(0x[0-9a-f]*\))$/\1/p' "$TMP/run1.lf" | head -1)
[[ -n $counter && -n $rip ]]
ok $? "the saved tg_counter ($counter) and RIP ($rip) were read"

gdbrun() {
	local out=$1; shift
	timeout -k 5 60 gdb -batch -nx -ex 'set pagination off' -ex 'set confirm off' \
		-ex "target remote 127.0.0.1:$PORT" "$@" "$ELF" >"$out" 2>&1
}
start_vm "$TMP/run2" --restore "$TMP/a.snap" --gdb "tcp:$PORT" --gdb-wait
wait_for "$TMP/run2" "gdb: listening" 10
ok $? "--restore with --gdb-wait holds the restored vCPUs for gdb"
gdbrun "$TMP/g2" -ex 'x/gx &tg_counter' -ex 'p/x $pc' -ex "monitor snapshot save $TMP/g.snap" -ex 'detach'
like "$TMP/g2" "<tg_counter>:[[:space:]]+$counter\$" "the restored tg_counter is the saved one, before any instruction ran"
like "$TMP/g2" "^\\\$1 = 0x0*${rip#0x}\$" "the restored RIP is the saved one"
like "$TMP/g2" "saved $TMP/g.snap" "gdb's monitor saves a snapshot too"
wait_for "$TMP/run2" "tg: alive 7" 20
ok $? "the restored guest runs on"
stop_vm
before=$(alive_list "$TMP/run1")
after=$(alive_list "$TMP/run2")
first=${after%% *}
[[ " $before " == *" $((first - 1)) "* && $first -ge 4 && $first -le 5 ]]
ok $? "the counter continues from the save: before [$before], after [$after]"
python3 - "$after" <<'EOF'
import sys
n = [int(x) for x in sys.argv[1].split()]
sys.exit(0 if n and n == list(range(n[0], n[0] + len(n))) else 1)
EOF
ok $? "after the restore no alive line is missing or repeated"

# --- rewind in the same process, repeatedly, breakpoints kept -------------------------
cat >"$TMP/rewind.vmdbg" <<EOF
wait console "tg: alive 2" 20s
snapshot save $TMP/b.snap
wait console "tg: alive 4" 20s
snapshot load $TMP/b.snap
wait console "tg: alive 3" 20s
echo rewound-once
snapshot load $TMP/b.snap
wait console "tg: alive 3" 20s
echo rewound-twice
EOF
# A debug-register breakpoint across a load, where KVM reports one (kvm_lacks: the probe's finding).
HW_WHY=
if kvm_lacks hw-breakpoint; then HW_WHY=$KVM_LACKS_WHY; else
	printf '%s\n' 'hbreak tg_break_here' 'wait stop 10s' "snapshot load $TMP/b.snap" 'resume' \
		'wait stop 10s' 'get cpu.0.rip' 'sym tg_break_here' >>"$TMP/rewind.vmdbg"
fi
echo "snapshot load $TMP/missing.snap" >>"$TMP/rewind.vmdbg"
run_vm "$TMP/rw" 60 --kernel "$ELF" --cpus 2 --append "mode=loop" --script "$TMP/rewind.vmdbg"
like "$TMP/rw" '^loaded .*b.snap: ' "snapshot load reports what it loaded"
# A wait matches as soon as the text is there: a load can cut the guest's line before its
# newline, and the restored guest's next line then follows on the same line.
[[ $(perl -ne '$n += () = /tg: alive 3(?![0-9])/g; END { print $n + 0 }' "$TMP/rw.lf") -ge 3 ]]
ok $? "after each load the guest repeats from the saved point (alive 3 printed 3 times)"
like "$TMP/rw" 'rewound-twice' "a snapshot loads as often as wanted"
if [[ -n $HW_WHY ]]; then skip "a breakpoint set before a load: $HW_WHY"; else
	like "$TMP/rw" 'Breakpoint 1, cpu [01] at 0x[0-9a-f]+ tg_break_here' "a breakpoint set before a load still stops the guest after it"
fi
like "$TMP/rw" "snapshot load: cannot open snapshot $TMP/missing.snap" "a missing file is named"
is "$RC" 1 "a failed load fails the script"

# --- vCPUs halted on their TSC-deadline timers wake up after a restore -----------------
# Both CPUs sleep in HLT between one-shot TSC-deadline ticks (as an idle Linux CPU does);
# the restore must re-arm each deadline, or a halted vCPU never wakes again.
cat >"$TMP/dl.vmdbg" <<EOF
wait console "tg: cpus up=2 of 2" 20s
sleep 300
pause
snapshot save $TMP/dl.snap
quit
EOF
run_vm "$TMP/dl1" 60 --kernel "$ELF" --cpus 2 --append "mode=hello timer=deadline ticks=3000" \
	--script "$TMP/dl.vmdbg"
! grep -q 'tg: done' "$TMP/dl1" && [[ $RC -eq 0 && -s $TMP/dl.snap ]]
ok $? "saved while both vCPUs sleep between TSC-deadline ticks"
run_vm "$TMP/dl2" 30 --restore "$TMP/dl.snap"
like "$TMP/dl2" '^tg: cpu 0 ticks=3000[^ ]*$' "restored, the boot CPU's deadline timer fires again: all its ticks taken"
like "$TMP/dl2" '^tg: cpu 1 ticks=3000[^ ]*$' "... and the other CPU's: no vCPU stays halted"
is "$RC" 0 "the restored guest finishes and powers off (exit 0)"

# --- every bad file is refused whole, with one line and exit 2 -----------------------
refuse() { # refuse FILE REGEX NAME
	run_vm "$TMP/bad" 20 --restore "$1"
	[[ $RC -eq 2 ]] && grep -Eq -- "$2" "$TMP/bad" && ! grep -q "tg: " "$TMP/bad"
	ok $? "$3" || diag "$(cat "$TMP/bad")"
}
head -c $((size / 2)) "$TMP/a.snap" >"$TMP/trunc.snap"
refuse "$TMP/trunc.snap" "vmdbg: .*trunc.snap: truncated snapshot" "a truncated snapshot is refused (exit 2)"
cp "$TMP/a.snap" "$TMP/flip.snap"
printf '\xff' | dd of="$TMP/flip.snap" bs=1 seek=$((size - 100)) conv=notrunc status=none
refuse "$TMP/flip.snap" "vmdbg: .*corrupted snapshot: section '[A-Z ]{4}' [0-9]+ fails its checksum" "a corrupted section is refused"
cp "$TMP/a.snap" "$TMP/ver.snap"
python3 - "$TMP/ver.snap" <<'EOF'
import struct, sys, zlib
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
struct.pack_into('<I', b, 8, 99)
struct.pack_into('<I', b, 28, zlib.crc32(bytes(b[:28])))
open(p, 'wb').write(b)
EOF
refuse "$TMP/ver.snap" "snapshot format version 99, this vmdbg reads version 1" "a wrong version is refused"
refuse "$ELF" "not a vmdbg snapshot" "a file that is not a snapshot is refused"
refuse "$TMP/none.snap" "cannot open snapshot .*none.snap: No such file" "a missing snapshot is named"
run_vm "$TMP/bad" 10 --restore "$TMP/a.snap" --mem 512M
[[ $RC -eq 2 ]] && grep -q -- "--restore: --initrd, --append, --mem" "$TMP/bad"
ok $? "--restore with --mem is refused: the machine comes from the snapshot"
run_vm "$TMP/bad" 10 --kernel "$ELF" --snapshot-exit
[[ $RC -eq 2 ]] && grep -q -- "need --snapshot-at" "$TMP/bad"
ok $? "--snapshot-exit without --snapshot-at is refused"
run_vm "$TMP/bad" 10 --kernel "$ELF" --snapshot-at '(' --snapshot-exit
[[ $RC -eq 2 ]] && grep -q -- "--snapshot-at '(':" "$TMP/bad"
ok $? "a bad --snapshot-at regex is refused"

# A bad file given to `snapshot load` leaves the running guest as it was.
cat >"$TMP/badload.vmdbg" <<EOF
wait console "tg: alive 2" 20s
snapshot load $TMP/trunc.snap
EOF
run_vm "$TMP/bl" 30 --kernel "$ELF" --append "mode=loop" --script "$TMP/badload.vmdbg"
like "$TMP/bl" "snapshot load: .*truncated snapshot" "snapshot load names what is wrong with the file"
unlike "$TMP/bl" "^loaded " "nothing is loaded from a bad file"

# --- --snapshot-at REGEX and --snapshot-at-symbol SYM ----------------------------------
run_vm "$TMP/at" 30 --kernel "$ELF" --append "mode=loop" --snapshot-at 'alive 2$' \
	--snapshot-file "$TMP/at.snap" --snapshot-exit
is "$RC" 0 "--snapshot-at ... --snapshot-exit ends the run with 0 once saved"
like "$TMP/at" "snapshot saved to $TMP/at.snap at the console's match" "--snapshot-at says where it saved"
run_vm "$TMP/at2" 30 --restore "$TMP/at.snap" --snapshot-at 'alive 4$' --snapshot-file "$TMP/at2.snap" --snapshot-exit
[[ $(alive_list "$TMP/at2") == "3 4 " ]]
ok $? "restored from the match on 'alive 2', the guest prints alive 3 next: [$(alive_list "$TMP/at2")]"
# --snapshot-at-symbol stops on a debug-register breakpoint.
if [[ -n $HW_WHY ]]; then
	skip "--snapshot-at-symbol: $HW_WHY"
	skip "the snapshot's vCPU 0 at the symbol: $HW_WHY"
else
	run_vm "$TMP/sym" 30 --kernel "$ELF" --append "mode=loop" --snapshot-at-symbol tg_break_here \
		--snapshot-file "$TMP/sym.snap" --snapshot-exit
	like "$TMP/sym" "snapshot saved to $TMP/sym.snap at vCPU 0 reaching tg_break_here" "--snapshot-at-symbol saves when a vCPU reaches the symbol"
	echo 'get cpu.0.rip' >"$TMP/rip.vmdbg"
	echo 'sym tg_break_here' >>"$TMP/rip.vmdbg"
	start_vm "$TMP/sym2" --restore "$TMP/sym.snap" --gdb "tcp:$PORT" --gdb-wait
	wait_for "$TMP/sym2" "gdb: listening" 10
	gdbrun "$TMP/g3" -ex 'p $pc' -ex 'detach'
	stop_vm
	like "$TMP/g3" '<tg_break_here>' "the snapshot's vCPU 0 stands at the symbol"
fi
run_vm "$TMP/bad" 10 --kernel "$ELF" --append "mode=loop" --snapshot-at-symbol no_such_symbol
[[ $RC -eq 2 ]] && grep -q "no symbol 'no_such_symbol'" "$TMP/bad"
ok $? "an unknown --snapshot-at-symbol is refused"

# --- a console transfer saved mid-stream delivers every byte once ---------------------
# Port 1 on a socket nobody reads: the device holds 1 MiB and the guest waits (backpressure).
N=$((2 * 1024 * 1024))  # the device holds 1 MiB: the save is in the middle
cat >"$TMP/mid.vmdbg" <<EOF
wait console "tg: vcon handshake done" 20s
sleep 500
snapshot save $TMP/c.snap
snapshot info $TMP/c.snap
quit
EOF
run_vm "$TMP/mid" 60 --kernel "$ELF" --port 1:unix:"$TMP/nobody.sock" \
	--append "mode=vcon bytes=$N seed=5 crc_max=4194304 timeout=300" --script "$TMP/mid.vmdbg"
like "$TMP/mid" '^port 1: guest wrote [0-9]+ bytes, [0-9]+ not read by the host yet' "snapshot info shows port 1's unread output"
held=$(sed -n 's/^port 1: guest wrote [0-9]* bytes, \([0-9]*\) not read.*/\1/p' "$TMP/mid")
((held >= 512 * 1024 && held < N))
ok $? "the save caught the stream in the middle, $held bytes held by the device"
# The guest's own pattern and CRC code is emulated on PVM: the rest of the stream takes ~30 s
# on an idle host, over a minute on a loaded one. The run ends as soon as the guest is done.
printf '%s\n' 'wait console "tg: vcon port 1 tx bytes=[0-9]+ crc=0x[0-9a-f]{8}" 240s' quit >"$TMP/mid2.vmdbg"
run_vm "$TMP/mid2" 260 --restore "$TMP/c.snap" --port 1:file:"$TMP/c.out" --port 2:null --script "$TMP/mid2.vmdbg"
like "$TMP/mid2" "tg: vcon port 1 tx bytes=$N crc=0x[0-9a-f]+" "the restored guest finishes the transfer"
crc=$(sed -n "s/.*tg: vcon port 1 tx bytes=$N crc=\(0x[0-9a-f]*\).*/\1/p" "$TMP/mid2.lf")
python3 - "$TMP/c.out" "$N" "$crc" <<'EOF'
import sys, zlib
data = open(sys.argv[1], 'rb').read()
n, crc = int(sys.argv[2]), int(sys.argv[3], 16)
want = bytes(((j * 7 + (j >> 8) * 13 + 5) & 0xff) for j in (i % 65536 for i in range(n)))
ok = data == want and zlib.crc32(data) == crc
if not ok:
    print('# got %d bytes, want %d; first difference at %s' % (len(data), n,
          next((i for i in range(min(len(data), n)) if data[i] != want[i]), min(len(data), n))))
sys.exit(0 if ok else 1)
EOF
ok $? "every byte of the stream arrives once, in order, after the restore (CRC as the guest computed it)"

done_testing
