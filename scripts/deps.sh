#!/usr/bin/env bash
# Install the Debian packages a vmdbg task needs, and only those missing.
#   scripts/deps.sh build   compiler and libraries (make, make check)
#   scripts/deps.sh guest   what scripts/mkguest.sh needs to build the Linux guests
#   scripts/deps.sh test    what the integration tests drive (gdb, prove, tmux; groff and man
#                           render the man page)
#   scripts/deps.sh bench   what make bench compares against (QEMU)
#   scripts/deps.sh fuzz    clang with libFuzzer
#   scripts/deps.sh hwkvm   what scripts/hwkvm.sh needs to boot L1, the nested-KVM machine
#   scripts/deps.sh --packages NAME...   these packages (hwkvm.sh: its own QEMU's libraries)
set -euo pipefail

declare -A SETS=(
	[build]="gcc make pkg-config libelf-dev libreadline-dev libcmocka-dev zlib1g-dev libcapstone-dev libdw-dev"
	[guest]="linux-source-6.1 flex bison bc libssl-dev libelf-dev busybox-static lz4 cpio xz-utils kmod gcc make"
	[test]="gdb perl tmux python3 socat groff-base man-db"
	[bench]="qemu-system-x86 socat bc python3"
	[fuzz]="clang libclang-rt-14-dev llvm"
	[hwkvm]="busybox-static kmod xz-utils"
)

want=()
if [[ ${1:-} == --packages ]]; then
	shift
	SETS[--packages]="$*"
	set -- --packages
fi
for set in "${@:-build}"; do
	[[ -n "${SETS[$set]:-}" ]] || { echo "deps.sh: unknown set '$set' (build, guest, test, bench, fuzz, hwkvm)" >&2; exit 2; }
	for pkg in ${SETS[$set]}; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || want+=("$pkg")
	done
done
[[ ${#want[@]} -eq 0 ]] && exit 0

echo "deps.sh: installing ${want[*]}"
SUDO=
[[ $(id -u) -eq 0 ]] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when an install is needed, and only once a day.
if [[ ! -e /var/lib/apt/lists/lock ]] || ! find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 | grep -q .; then
	$SUDO apt-get update -qq
fi
if ! $SUDO apt-get install -y -qq --no-install-recommends "${want[@]}"; then
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${want[@]}"
fi
