#!/usr/bin/env bash
# Run a command under hardware-style KVM: inside "L1", a Debian Linux with kvm_amd booted
# by QEMU's software emulator (TCG), which emulates an AMD CPU with SVM and nested paging
# (see PLATFORM.md's last section). Everything comes from Debian's packages: QEMU,
# busybox-static and Debian's generic kernel (linux-image-amd64, downloaded and unpacked
# under build/hwkvm/, never installed into the host's /boot), cached by package version.
#
# Inside L1 the host's root is the root (read-only, virtio-9p), the project tree is
# writable at the same path, /tmp, /run and HOME are tmpfs, /dev/kvm is kvm_amd's, and the
# command runs in the current directory with the caller's PATH and a few variables.
#
# usage: scripts/hwkvm.sh [--timeout SECONDS] [--cpus N] [--mem SIZE] [--check] -- COMMAND [ARG...]
# Exit status: the command's; 124 when the time limit ended L1; 2 with one line when
# something needed is missing or L1 did not come up.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: scripts/hwkvm.sh [OPTIONS] [--] COMMAND [ARG...]
Runs COMMAND inside a nested hardware-style KVM (Debian's kernel with kvm_amd under
QEMU TCG's emulated AMD SVM) and exits with its status.
  --timeout SECONDS  end L1 after this long (default 1800); exit 124
  --cpus N           L1's CPUs (default: the host's, at most 4)
  --mem SIZE         L1's memory, as QEMU's -m takes it (default 4G)
  --prepare          only fetch and build what L1 needs (cached), run nothing
  -h, --help         this text
Environment passed through: PATH, TERM, CI, V, SANITIZE, VMDBG_*, CHECK_*, and any names
listed in HWKVM_ENV (space separated).
EOF
}

die() {
	echo "hwkvm: error: $*" >&2
	exit 2
}

timeout_s=1800 cpus= mem=4G prepare_only=0
while (($#)); do
	case $1 in
	--timeout) timeout_s=${2:?--timeout needs SECONDS}; shift 2 ;;
	--cpus) cpus=${2:?--cpus needs N}; shift 2 ;;
	--mem) mem=${2:?--mem needs SIZE}; shift 2 ;;
	--prepare) prepare_only=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) die "unknown option '$1' (see --help)" ;;
	*) break ;;
	esac
done
[[ $timeout_s =~ ^[0-9]+$ && $timeout_s -gt 0 ]] || die "--timeout: '$timeout_s' is not a positive number of seconds"
((prepare_only)) || (($#)) || die "no command given (see --help)"
# Two CPUs where there are two. With one, L1 wedged in the console tests: a nested guest
# spinning for its host (vmdbg, on the same L1 CPU) kept L1 from ever running it. With two,
# L1 sometimes panics instead (an interrupt taken in __svm_vcpu_run before the host's GS
# was back, most often under a Linux guest with two vCPUs): QEMU 7.2's emulation of SVM.
if [[ -z $cpus ]]; then
	cpus=$(nproc)
	((cpus <= 4)) || cpus=4
fi
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "--cpus: '$cpus' is not a positive number"

project=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cwd=$(pwd)
# The command runs where it was started, so that must be inside the writable project tree.
case $cwd/ in
"$project"/*) ;;
*) die "run it from inside the project tree ($project), not $cwd" ;;
esac
[[ $project != *[[:space:]]* ]] || die "the project's path has a space in it: '$project'"

cd "$project"
# shellcheck source=scripts/guestlib.sh
source scripts/guestlib.sh
export LC_ALL=C
OUT=build/hwkvm
mkdir -p "$OUT"

scripts/deps.sh hwkvm >&2 || die "scripts/deps.sh hwkvm could not install busybox-static, kmod, xz-utils"

# Modules L1 needs: the 9p shares over virtio-pci, and KVM for AMD SVM.
L1_MODULES="virtio_pci 9pnet_virtio 9p kvm_amd"
RECIPE=1

# --- L1's kernel: Debian's generic flavour (the cloud one lacks the 9p modules) ---------
prepare_kernel() {
	local pkg ver key
	pkg=$(resolve_image_pkg amd64)
	if [[ -z $pkg ]]; then
		apt-get update -qq >&2 || die "apt-get update failed"
		pkg=$(resolve_image_pkg amd64)
	fi
	[[ -n $pkg ]] || die "no linux-image-6.1.0-*-amd64 package: 'apt-cache depends linux-image-amd64' names none"
	ver=$(candidate_version "$pkg")
	[[ -n $ver ]] || die "apt-cache show $pkg gives no version"
	key="recipe=$RECIPE $pkg=$ver modules=$L1_MODULES"
	if [[ -f $OUT/.kernel.stamp && "$(cat "$OUT/.kernel.stamp")" == "$key" && -s $OUT/vmlinuz ]]; then
		return
	fi
	echo "hwkvm: fetching $pkg $ver for L1" >&2
	local tmp=$OUT/kernel.tmp kver moddir
	rm -rf "$tmp" "$OUT/modules" "$OUT/vmlinuz" "$OUT/.kernel.stamp"
	mkdir -p "$tmp/root"
	if ! apt_download "$tmp" "$pkg" "$ver"; then
		apt-get update -qq >&2 || die "apt-get update failed"
		pkg=$(resolve_image_pkg amd64)
		ver=$(candidate_version "$pkg")
		key="recipe=$RECIPE $pkg=$ver modules=$L1_MODULES"
		apt_download "$tmp" "$pkg" "$ver" || die "apt-get download $pkg=$ver failed (see $tmp/download.log)"
	fi
	dpkg-deb -x "$(find "$tmp" -maxdepth 1 -name '*.deb' -print -quit)" "$tmp/root" || die "dpkg-deb -x of $pkg failed"
	local vmlinuz
	vmlinuz=$(find "$tmp/root/boot" -name 'vmlinuz-*' -print -quit)
	[[ -n $vmlinuz ]] || die "$pkg has no boot/vmlinuz-*"
	kver=${vmlinuz##*/vmlinuz-}
	moddir=$tmp/root/lib/modules/$kver
	[[ -d $moddir ]] || die "$pkg has no lib/modules/$kver"
	# shellcheck disable=SC2086
	copy_modules "$moddir" "$OUT/modules/lib/modules/$kver" $L1_MODULES
	cp "$moddir"/modules.builtin* "$moddir"/modules.order "$OUT/modules/lib/modules/$kver/" 2>/dev/null || true
	depmod -b "$OUT/modules" "$kver" || die "depmod -b $OUT/modules $kver failed"
	cp "$vmlinuz" "$OUT/vmlinuz"
	echo "$kver" >"$OUT/kernel.release"
	rm -rf "$tmp"
	echo "$key" >"$OUT/.kernel.stamp"
}

# --- L1's initramfs: busybox, the modules and scripts/hwkvm-init ------------------------
prepare_initramfs() {
	local key bbver
	bbver=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null) || die "busybox-static is not installed"
	key="recipe=$RECIPE busybox-static=$bbver kernel=[$(cat "$OUT/.kernel.stamp")] init=$(sha256sum scripts/hwkvm-init | cut -c1-16)"
	if [[ -f $OUT/.initramfs.stamp && "$(cat "$OUT/.initramfs.stamp")" == "$key" && -s $OUT/initramfs.cpio ]]; then
		return
	fi
	local stage=$OUT/initramfs.tmp
	rm -rf "$stage"
	mkdir -p "$stage"/{dev,proc,sys,host,lib/modules}
	stage_busybox "$stage"
	install -m 0755 scripts/hwkvm-init "$stage/init"
	cp -a "$OUT/modules/lib/modules/." "$stage/lib/modules/"
	cpio_pos=0 cpio_ino=0 cpio_mtime=0
	cpio_tree "$stage" >"$OUT/initramfs.cpio" || die "cannot write $OUT/initramfs.cpio"
	rm -rf "$stage"
	echo "$key" >"$OUT/.initramfs.stamp"
}

# --- L1's emulator ----------------------------------------------------------------------
# QEMU 7.2 (bookworm's own) proved a poor host for nested SVM here: L1 panicked or wedged
# four to six times in each tier run, and debug registers never fired in the nested guest.
# QEMU 10.0 (trixie's own, bookworm-backports) runs the same tier without those failures,
# with working debug registers, and faster. So: the distribution's QEMU if it is 10 or
# newer, else the backport, downloaded and unpacked under build/hwkvm/qemu (never installed)
# with its libraries installed from the distribution. HWKVM_QEMU names another binary.
QEMU_MIN=10
# qemu_major VERSION: the upstream major of a Debian version such as 1:7.2+dfsg-7.
qemu_major() {
	local v=${1#*:}
	echo "${v%%.*}"
}

prepare_qemu() {
	if [[ -n ${HWKVM_QEMU:-} ]]; then
		[[ -x $HWKVM_QEMU ]] || die "HWKVM_QEMU: '$HWKVM_QEMU' is not an executable file"
		QEMU=("$HWKVM_QEMU")
		return
	fi
	local sys
	sys=$(candidate_version qemu-system-x86)
	if [[ -n $sys && $(qemu_major "$sys") -ge $QEMU_MIN ]]; then
		scripts/deps.sh --packages qemu-system-x86 >&2 || die "scripts/deps.sh could not install qemu-system-x86"
		QEMU=(qemu-system-x86_64)
		return
	fi
	local codename apt=$project/$OUT/apt dest=$project/$OUT/qemu ver key tmp
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[[ -n $codename ]] || die "/etc/os-release names no VERSION_CODENAME: cannot tell which backports suite has QEMU $QEMU_MIN"
	# A private apt state for the one suite: the host's sources and status stay untouched.
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${HWKVM_MIRROR:-http://deb.debian.org/debian} $codename-backports main" >"$apt/sources.list"
	: >"$apt/status"
	local -a aptopts=(-q -o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "Dir::State::Status=$apt/status")
	[[ $(id -u) -ne 0 ]] || aptopts+=(-o APT::Sandbox::User=root)
	if ! find "$apt/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 | grep -q .; then
		apt-get "${aptopts[@]}" update >"$apt/update.log" 2>&1 ||
			die "apt-get update of $codename-backports failed (see $apt/update.log); or set HWKVM_QEMU to a QEMU $QEMU_MIN binary"
	fi
	ver=$(apt-cache "${aptopts[@]}" show --no-all-versions qemu-system-x86 2>/dev/null | sed -n 's/^Version: //p' | head -n 1)
	[[ -n $ver ]] || die "$codename-backports has no qemu-system-x86 (need QEMU $QEMU_MIN or newer; or set HWKVM_QEMU)"
	[[ $(qemu_major "$ver") -ge $QEMU_MIN ]] || die "$codename-backports has qemu-system-x86 $ver, older than $QEMU_MIN (set HWKVM_QEMU)"
	key="qemu-system-x86=$ver"
	if [[ ! -f $dest/.stamp || "$(cat "$dest/.stamp")" != "$key" || ! -x $dest/usr/bin/qemu-system-x86_64 ]]; then
		echo "hwkvm: fetching QEMU $ver from $codename-backports for L1" >&2
		tmp=$project/$OUT/qemu.tmp
		rm -rf "$tmp" "$dest"
		mkdir -p "$tmp"
		(cd "$tmp" && apt-get "${aptopts[@]}" download "qemu-system-x86=$ver" "qemu-system-data=$ver") >"$tmp/download.log" 2>&1 ||
			die "apt-get download of QEMU $ver failed (see $tmp/download.log)"
		for deb in "$tmp"/*.deb; do
			dpkg-deb -x "$deb" "$dest" || die "dpkg-deb -x $deb failed"
		done
		# Its libraries and firmware come from the distribution; its own QEMU packages do not.
		dpkg-deb -f "$tmp"/qemu-system-x86_*.deb Depends | tr ',|' '\n\n' | sed -E 's/^ *//; s/[ :].*//' |
			grep -v '^qemu-' | sort -u >"$dest/.depends"
		rm -rf "$tmp"
		echo "$key" >"$dest/.stamp"
	fi
	# shellcheck disable=SC2046
	scripts/deps.sh --packages $(cat "$dest/.depends") >&2 || die "scripts/deps.sh could not install QEMU $ver's libraries"
	QEMU=("$dest/usr/bin/qemu-system-x86_64" -L "$dest/usr/share/qemu")
}

# Two runs sharing build/hwkvm wait for each other's preparation.
exec 9>"$OUT/.lock"
flock 9
prepare_qemu
prepare_kernel
prepare_initramfs
flock -u 9
((prepare_only)) && exit 0

# --- the run --------------------------------------------------------------------------
run=$(mktemp -d "$project/$OUT/run.XXXXXX")
trap 'rm -rf "$run"' EXIT
{
	echo "cd $(printf '%q' "$cwd") || exit 2"
	for v in PATH TERM CI V SANITIZE ${HWKVM_ENV:-} $(compgen -e | grep -E '^(VMDBG_|CHECK_)' || true); do
		[[ -n ${!v+x} ]] && echo "export $v=$(printf '%q' "${!v}")"
	done
	# A failed integration test keeps its files here: L1's /tmp ends with L1.
	echo "export VMDBG_TEST_KEEP=$(printf '%q' "$project/$OUT/failed")"
	printf '%q ' "$@"
	echo
	echo "echo \$? >$(printf '%q' "$run/rc")"
} >"$run/cmd.sh"

# L1's console carries kernel errors and the command's output; CRs from its tty go.
qemu=("${QEMU[@]}" -accel tcg,thread=multi -cpu max -smp "$cpus" -m "$mem" -M pc
	-display none -vga none -audio none -no-reboot -nic none -monitor none -serial stdio
	-kernel "$OUT/vmlinuz" -initrd "$OUT/initramfs.cpio"
	-append "console=ttyS0 quiet loglevel=3 panic=-1 softlockup_panic=1 sysctl.kernel.panic_on_rcu_stall=1 hwkvm.project=$project hwkvm.run=$run"
	-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
	-virtfs "local,path=$project,mount_tag=project,security_model=none,multidevs=remap")
start=$SECONDS
set +e
# A wedged L1 (softlockup_panic; panic_on_rcu_stall for an L1 CPU that never comes back
# from its nested guest, whose own lockup watchdog then cannot run) panics and, with
# panic=-1 and -no-reboot, ends QEMU.
# L1's console: the command's output, with the tty's CRs and the kernel's last word taken out.
timeout -k 10 "$timeout_s" "${qemu[@]}" </dev/null 2>"$run/qemu.err" |
	sed -u -e 's/\r$//' -e '/^\[ *[0-9.]*\] reboot: Power down$/d'
st=${PIPESTATUS[0]}
set -e
if ((st == 124 || st == 137)); then
	echo "hwkvm: timed out after ${timeout_s}s (L1 ended)" >&2
	exit 124
fi
if [[ -s $run/error ]]; then
	echo "hwkvm: error: L1: $(cat "$run/error")" >&2
	exit 2
fi
if [[ ! -s $run/rc ]]; then
	echo "hwkvm: error: L1 ended without the command's status (QEMU exit $st: $(tail -n 3 "$run/qemu.err" | tr '\n' ' '))" >&2
	exit 2
fi
rc=$(cat "$run/rc")
echo "hwkvm: exit $rc after $((SECONDS - start))s in L1" >&2
exit "$rc"
