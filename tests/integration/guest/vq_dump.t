#!/usr/bin/env bash
# `vq dump Q` is a summary of what is in flight, not the whole queue: the indices, both
# rings' idx, the chains the guest published that the device has not taken (one line each,
# the first 16) and how many the device holds. A part names what to see (desc, avail and
# used show only the slots the guest wrote), `all` is the full dump, and JSON stays complete.
source "$(dirname "$0")/../lib.sh"
plan 10

cat >"$TMP/s.vmdbg" <<'EOF2'
wait console "tg: vcon handshake done" 20s
sleep 500
echo MARK summary
vq dump 4
echo MARK used
vq dump 3 used
echo MARK desc
vq dump 3 desc
echo MARK all
vq dump 4 all
echo MARK json
json vq dump 4
echo MARK end
EOF2
run_vm "$TMP/out" 60 --kernel "$TEST_GUEST" --append "mode=vcon-stay" --script "$TMP/s.vmdbg"
section() { sed -n "/^MARK $1\$/,/^MARK/p" "$TMP/out.lf" | grep -v '^tg: '; }
section summary >"$TMP/summary"
section used >"$TMP/used"
section desc >"$TMP/desc"
section all >"$TMP/all"
section json >"$TMP/json"

# Port 1's rx queue: the guest posted 256 receive buffers, the host sent nothing.
like "$TMP/summary" '^  outstanding chains \(avail idx 256 - last_avail_idx 0 = 256\):$' \
	"the summary counts the chains in flight"
is "$(grep -c '^    avail\[[0-9]*\] -> head [0-9]*: 1 desc, 4096 bytes device-writable, first at 0x' "$TMP/summary")" 16 \
	"... lists the first 16, one line each"
like "$TMP/summary" '^    \.\.\. 240 more \(`vq dump 4 chains` walks each' "... and says how many more and where to see them"
like "$TMP/summary" '^  taken by the device, not yet returned: 0 chain\(s\)$' "... and how many the device holds"
n=$(wc -l <"$TMP/summary")
((n < 40)); ok $? "the summary is short ($n lines), with no descriptor table or ring slots"
# Control tx: the guest sent a few messages, each returned.
like "$TMP/used" '^  used ring: flags 0x[0-9a-f]+ idx [1-9][0-9]* avail_event' "vq dump Q used: the used ring's header"
like "$TMP/used" '^    \(slots [1-9][0-9]*\.\.255 not written yet: `vq dump 3 all` shows every slot\)$' \
	"... only the slots written so far, not 256"
like "$TMP/desc" '^    \([0-9]+ empty descriptors \(addr 0, len 0\) not shown' "vq dump Q desc leaves the empty descriptors out"
is "$(grep -cE '^ +[0-9]+ addr 0x[0-9a-f]+ len +[0-9]+ flags' "$TMP/all")" 256 "vq dump Q all: every descriptor"
python3 - "$TMP/json" <<'PY'
import json, sys
doc = json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][0])["return"]
assert len(doc["desc"]) == 256 and len(doc["avail"]["ring"]) == 256 and len(doc["used"]["ring"]) == 256
assert len(doc["chains"]) == 256
PY
ok $? "json vq dump Q is complete: every descriptor, every ring slot, every chain"
done_testing
