#!/usr/bin/env bash
# The README's generated parts: the options table and the command reference are printed by
# vmdbg from the tables --help and `help` use (cli/reference.c), so they cannot drift. Each
# part sits between a begin line naming what prints it and an end line:
#   <!-- generated: vmdbg --reference FORMAT ... -->
#   <!-- end generated -->
# usage: scripts/readme-ref.sh [--check] VMDBG README
#   rewrites README's generated parts; with --check it changes nothing and exits 1 with the
#   difference and how to fix it when README is not what vmdbg prints.
set -euo pipefail

check=0
if [[ ${1:-} == --check ]]; then check=1; shift; fi
vmdbg=${1:?usage: readme-ref.sh [--check] VMDBG README}
readme=${2:?usage: readme-ref.sh [--check] VMDBG README}
new=$(mktemp)
trap 'rm -f "$new" "$new.part"' EXIT

begin='^<!-- generated: vmdbg --reference ([a-z.]+) '
parts=0 inside=0
while IFS= read -r line || [[ -n $line ]]; do
	if ((inside)); then
		[[ $line == '<!-- end generated -->' ]] || continue
		inside=0
	elif [[ $line =~ $begin ]]; then
		printf '%s\n\n' "$line"
		"$vmdbg" --reference "${BASH_REMATCH[1]}" >"$new.part" ||
			{ echo "readme-ref: '$vmdbg --reference ${BASH_REMATCH[1]}' failed" >&2; exit 2; }
		cat "$new.part"
		echo
		inside=1 parts=$((parts + 1))
		continue
	fi
	printf '%s\n' "$line"
done <"$readme" >"$new"
((!inside)) || { echo "readme-ref: $readme: a generated part has no '<!-- end generated -->' line" >&2; exit 2; }
((parts)) || { echo "readme-ref: $readme: no '<!-- generated: vmdbg --reference ...' line" >&2; exit 2; }

if ((check)); then
	diff -u "$readme" "$new" >&2 && exit 0
	echo "readme-ref: $readme's options table or command reference differs from what vmdbg prints" \
		"(above: - README, + vmdbg); run 'make readme' and commit README.md" >&2
	exit 1
fi
cmp -s "$readme" "$new" || cat "$new" >"$readme"
