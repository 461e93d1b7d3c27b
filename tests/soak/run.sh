#!/usr/bin/env bash
# The soak tier: every tests/soak/*.t under prove (about 5 minutes on the PVM test machine),
# then the one-line figures (`# soak: ...`) each test printed. Exit status: prove's.
# usage: tests/soak/run.sh [-jN]   (N files side by side; make check gives one per core)
cd "$(dirname "$0")/../.." || exit 2
log=$(mktemp "${TMPDIR:-/tmp}/vmdbg-soak.XXXXXX")
trap 'rm -f "$log"' EXIT
# Verbose for the figures, but only failures, diagnostics and timings on the terminal.
prove ${1:+"$1"} --timer -v tests/soak/*.t 2>&1 | tee "$log" | grep --line-buffered -vE '^(ok [0-9]|# soak:)'
rc=${PIPESTATUS[0]}
echo "--- soak figures"
grep -E '^# soak:' "$log"
exit "$rc"
