#!/usr/bin/env bash
# Build the Linux guests into build/guest/ from Debian packages only, installing nothing
# into the host's /boot (see DESIGN.md "The guests" and PLATFORM.md):
#   vmlinux bzImage System.map config       kernel built from linux-source-6.1 with
#                                           tinyconfig + scripts/guest.config
#   stock/vmlinux stock/bzImage stock/System.map
#                                           Debian's cloud kernel, unmodified; vmlinux is
#                                           cut out of the bzImage (for the PVH entry)
#   stock/modules/lib/modules/<version>/    its virtio modules, with depmod's files
#   initramfs.cpio.gz                       busybox /init and /idle, serves both kernels
#   initramfs.cpio                          the same, uncompressed (cheaper to unpack on PVM)
# Every output is cached under build/guest/ by the versions and hashes that make it; a
# warm run only checks the stamps.
set -euo pipefail

# Bump a recipe number when its step's commands change, so old caches are rebuilt.
RECIPE_KERNEL=2
RECIPE_STOCK=1
RECIPE_INITRAMFS=1

usage() {
	cat <<EOF
usage: scripts/mkguest.sh [--kernel-only | --stock-only | --initramfs-only]
Builds the Linux guests into build/guest/ (cached by package versions and source hashes).
  --kernel-only     only the kernel built from linux-source-6.1 (vmlinux, bzImage, ...)
  --stock-only      only Debian's cloud kernel (stock/vmlinux, stock/bzImage, modules)
  --initramfs-only  only initramfs.cpio.gz (and the stock modules it carries)
  -h, --help        this text
EOF
}

die() {
	echo "mkguest: error: $*" >&2
	exit 1
}

# The last lines of a step's log and then one line naming what failed.
die_log() {
	local log=$1
	shift
	tail -n 25 "$log" >&2 || true
	die "$* (full log: $log)"
}

want_kernel=1 want_stock=1 want_initramfs=1
case "${1:-}" in
"") ;;
--kernel-only) want_stock=0 want_initramfs=0 ;;
--stock-only) want_kernel=0 want_initramfs=0 ;;
--initramfs-only) want_kernel=0 want_stock=0 ;;
-h | --help)
	usage
	exit 0
	;;
*) die "unknown option '$1' (see --help)" ;;
esac
[[ $# -le 1 ]] || die "only one option at a time, got: $*"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/guestlib.sh
source scripts/guestlib.sh
export LC_ALL=C
OUT=build/guest
mkdir -p "$OUT"

SUDO=
[[ $(id -u) -eq 0 ]] || SUDO=sudo

scripts/deps.sh guest || die "scripts/deps.sh guest could not install the build dependencies"

# Two builds sharing build/guest (make check and a developer's make guest) wait for each
# other instead of interleaving their writes.
exec 9>"$OUT/.lock"
flock 9

elapsed() {
	local s=$((SECONDS - $1))
	if ((s >= 60)); then
		printf '%dm%02ds' $((s / 60)) $((s % 60))
	else
		printf '%ds' "$s"
	fi
}

# stamp_ok NAME KEY FILE...: the step's stamp records KEY and all its outputs exist.
stamp_ok() {
	local stamp="$OUT/.$1.stamp" key=$2 f
	shift 2
	[[ -f $stamp && "$(cat "$stamp")" == "$key" ]] || return 1
	for f in "$@"; do
		[[ -s $OUT/$f ]] || return 1
	done
}

pkg_version() {
	dpkg-query -W -f='${Version}' "$1" 2>/dev/null || die "package $1 is not installed (scripts/deps.sh guest)"
}

# has_pvh_note ELF: Linux's PVH entry is the Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY (18).
has_pvh_note() {
	readelf -n "$1" 2>/dev/null | grep -Eq '^[[:space:]]*Xen[[:space:]]+0x[0-9a-f]+[[:space:]].*(\(0x0*12\)|PHYS32_ENTRY)'
}

is_elf64() {
	[[ "$(head -c 5 "$1" | od -An -tx1 | tr -d ' \n')" == 7f454c4602 ]]
}

# ---------------------------------------------------------------------------------------
# 1. The kernel built from Debian's linux-source-6.1.

# check_config FRAGMENT CONFIG: every option the fragment sets has that value in the
# final config (kconfig drops options with unmet dependencies without a word). As in
# kconfig, the fragment's last line for an option wins.
check_config() {
	local fragment=$1 config=$2 line sym val got
	local -a order=() bad=()
	local -A want=()
	while IFS= read -r line; do
		if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
			sym=${BASH_REMATCH[1]} val=${BASH_REMATCH[2]}
		elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set ]]; then
			sym=${BASH_REMATCH[1]} val=n
		else
			continue
		fi
		[[ -n ${want[$sym]:-} ]] || order+=("$sym")
		want[$sym]=$val
	done <"$fragment"
	for sym in "${order[@]}"; do
		got=$(sed -n "s/^$sym=//p" "$config")
		[[ ${got:-n} == "${want[$sym]}" ]] || bad+=("$sym (wanted ${want[$sym]}, got ${got:-n})")
	done
	if ((${#bad[@]})); then
		local list
		list=$(printf '%s, ' "${bad[@]}")
		die "kernel config lacks what scripts/guest.config asks for (unmet dependencies?): ${list%, }; see $config"
	fi
}

build_kernel() {
	local t0=$SECONDS
	local tarball=/usr/src/linux-source-6.1.tar.xz
	local srcver cfghash key
	srcver=$(pkg_version linux-source-6.1)
	[[ -r $tarball ]] || die "$tarball is missing (package linux-source-6.1 $srcver)"
	cfghash=$(sha256sum scripts/guest.config | cut -d' ' -f1)
	key="recipe=$RECIPE_KERNEL linux-source-6.1=$srcver guest.config=$cfghash"
	if stamp_ok kernel "$key" vmlinux bzImage System.map config; then
		echo "mkguest: kernel     cached   $(elapsed "$t0")  linux-source-6.1 $srcver, guest.config ${cfghash:0:12}"
		return
	fi
	rm -f "$OUT/.kernel.stamp"

	local src=$OUT/src/linux-source-6.1 log=$OUT/kernel-build.log
	: >"$log"
	if [[ ! -f $OUT/src/.unpacked || "$(cat "$OUT/src/.unpacked")" != "$srcver" ]]; then
		rm -rf "$OUT/src"
		mkdir -p "$OUT/src"
		tar -xJf "$tarball" -C "$OUT/src" >>"$log" 2>&1 || die_log "$log" "cannot unpack $tarball"
		[[ -d $src ]] || die "$tarball did not unpack into $src"
		echo "$srcver" >"$OUT/src/.unpacked"
	fi

	# ARCH=x86_64, not x86: allnoconfig under ARCH=x86 would turn 64BIT off.
	# KCFLAGS keeps static functions called once (handle_control_message, add_port's
	# helpers) out of line, so the driver's functions exist as symbols to break on; the
	# code itself is Debian's, unpatched.
	local kmake=(make -C "$src" ARCH=x86_64 KCFLAGS=-fno-inline-functions-called-once)
	{
		"${kmake[@]}" tinyconfig &&
			"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" scripts/guest.config &&
			"${kmake[@]}" olddefconfig
	} >>"$log" 2>&1 || die_log "$log" "kernel configuration failed"
	check_config scripts/guest.config "$src/.config"

	"${kmake[@]}" -j"$(nproc)" bzImage vmlinux >>"$log" 2>&1 || die_log "$log" "kernel build failed"
	has_pvh_note "$src/vmlinux" || die "$src/vmlinux has no PVH note (XEN_ELFNOTE_PHYS32_ENTRY): is CONFIG_PVH on?"

	cp "$src/vmlinux" "$OUT/vmlinux"
	cp "$src/arch/x86/boot/bzImage" "$OUT/bzImage"
	cp "$src/System.map" "$OUT/System.map"
	cp "$src/.config" "$OUT/config"
	echo "$key" >"$OUT/.kernel.stamp"
	echo "mkguest: kernel     built    $(elapsed "$t0")  linux-source-6.1 $srcver -> $OUT/{vmlinux,bzImage,System.map,config}"
}

# ---------------------------------------------------------------------------------------
# 2. Debian's cloud kernel, unmodified.

resolve_stock_pkg() { resolve_image_pkg cloud-amd64; }

apt_updated=0
apt_update_once() {
	((apt_updated)) && return 1
	apt_updated=1
	echo "mkguest: apt-get update (looking for Debian's cloud kernel)"
	$SUDO apt-get update -qq >&2 || die "apt-get update failed"
}

# extract_vmlinux BZIMAGE OUT: the setup header (Documentation/x86/boot.rst) locates the
# compressed payload; Debian compresses it with LZ4 (legacy frame format).
extract_vmlinux() {
	local bz=$1 out=$2 setup_sects poff plen start magic
	u8() { od -An -tu1 -j "$1" -N1 "$bz" | tr -d ' '; }
	u32() { od -An -tu4 -j "$1" -N4 "$bz" | tr -d ' '; }
	[[ "$(od -An -c -j $((0x202)) -N4 "$bz" | tr -d ' ')" == HdrS ]] || die "$bz is not a bzImage (no HdrS setup header)"
	setup_sects=$(u8 $((0x1f1)))
	((setup_sects)) || setup_sects=4
	poff=$(u32 $((0x248)))
	plen=$(u32 $((0x24c)))
	start=$(((setup_sects + 1) * 512 + poff))
	magic=$(od -An -tx1 -j "$start" -N4 "$bz" | tr -d ' \n')
	[[ $magic == 02214c18 ]] || die "$bz: payload at $start is not LZ4 legacy (magic $magic); only LZ4 is handled"
	# The payload ends with the decompressed size (le32) that the boot decompressor reads;
	# to lz4 it would look like another block header.
	local want
	want=$(od -An -tu4 -j $((start + plen - 4)) -N4 "$bz" | tr -d ' ')
	dd if="$bz" bs=1M iflag=skip_bytes,count_bytes skip="$start" count=$((plen - 4)) status=none |
		lz4 -dc >"$out" 2>/dev/null ||
		die "$bz: lz4 could not decompress the payload ($plen bytes at $start)"
	is_elf64 "$out" || die "$bz: the decompressed payload is not a 64-bit ELF"
	[[ $(stat -c %s "$out") -eq $want ]] || die "$bz: decompressed $(stat -c %s "$out") bytes, header says $want"
	has_pvh_note "$out" || die "$out (from $bz) has no PVH note (XEN_ELFNOTE_PHYS32_ENTRY)"
}

# pvh_entry ELF: the physical entry address in its XEN_ELFNOTE_PHYS32_ENTRY note, in hex.
pvh_entry() {
	readelf -n "$1" | grep -A1 -E '^[[:space:]]*Xen[[:space:]].*\(0x0*12\)' |
		sed -nE 's/^[[:space:]]*description data: ([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2}).*/\4\3\2\1/p'
}

build_stock() {
	local t0=$SECONDS pkg ver key
	pkg=$(resolve_stock_pkg)
	if [[ -z $pkg ]]; then
		apt_update_once || true
		pkg=$(resolve_stock_pkg)
	fi
	[[ -n $pkg ]] || die "no linux-image-6.1.0-*-cloud-amd64 package: 'apt-cache depends linux-image-cloud-amd64' names none"
	ver=$(candidate_version "$pkg")
	[[ -n $ver ]] || die "apt-cache show $pkg gives no version"
	key="recipe=$RECIPE_STOCK $pkg=$ver"
	if stamp_ok stock "$key" stock/vmlinux stock/bzImage stock/System.map stock/kernel.release; then
		echo "mkguest: stock      cached   $(elapsed "$t0")  $pkg $ver"
		return
	fi
	rm -f "$OUT/.stock.stamp"

	local tmp=$OUT/stock.tmp
	rm -rf "$tmp" "$OUT/stock"
	mkdir -p "$tmp/root" "$OUT/stock"
	# The image's own boot/System.map is a one-line placeholder ("The real System.map is
	# in the linux-image-<version>-dbg package"), so the symbols come from -dbg.
	local dbgpkg=${pkg%-unsigned}-dbg
	mkdir -p "$tmp/dbg"
	if ! apt_download "$tmp" "$pkg" "$ver"; then
		# The lists may name a version the mirror no longer has.
		apt_update_once || die_log "$tmp/download.log" "apt-get download $pkg=$ver failed"
		pkg=$(resolve_stock_pkg)
		ver=$(candidate_version "$pkg")
		dbgpkg=${pkg%-unsigned}-dbg
		key="recipe=$RECIPE_STOCK $pkg=$ver"
		apt_download "$tmp" "$pkg" "$ver" || die_log "$tmp/download.log" "apt-get download $pkg=$ver failed"
	fi
	apt_download "$tmp/dbg" "$dbgpkg" "$ver" || die_log "$tmp/dbg/download.log" "apt-get download $dbgpkg=$ver failed"
	local deb dbgdeb
	deb=$(find "$tmp" -maxdepth 1 -name '*.deb' -print -quit)
	dbgdeb=$(find "$tmp/dbg" -maxdepth 1 -name '*.deb' -print -quit)
	[[ -n $deb && -n $dbgdeb ]] || die "apt-get download $pkg $dbgpkg left no .deb in $tmp"
	dpkg-deb -x "$deb" "$tmp/root" || die "dpkg-deb -x $deb failed"
	# Only System.map: the rest of -dbg is 1.7 GB of DWARF. tar stops at the first match,
	# so dpkg-deb's broken pipe is expected; the file's presence is the test.
	mkdir -p "$tmp/dbg/root"
	(set +o pipefail; dpkg-deb --fsys-tarfile "$dbgdeb" 2>/dev/null |
		tar -x -C "$tmp/dbg/root" --occurrence=1 --wildcards './usr/lib/debug/boot/System.map-*') || true

	local vmlinuz kver moddir
	vmlinuz=$(find "$tmp/root/boot" -name 'vmlinuz-*' -print -quit)
	[[ -n $vmlinuz ]] || die "$deb has no boot/vmlinuz-*"
	kver=${vmlinuz##*/vmlinuz-}
	local map=$tmp/dbg/root/usr/lib/debug/boot/System.map-$kver
	[[ -s $map ]] || die "$dbgdeb has no usr/lib/debug/boot/System.map-$kver"
	cp "$vmlinuz" "$OUT/stock/bzImage"
	cp "$map" "$OUT/stock/System.map"
	extract_vmlinux "$OUT/stock/bzImage" "$OUT/stock/vmlinux"
	# The map must describe this vmlinux: its PVH entry is pvh_start_xen's physical address.
	local entry sym
	entry=$(pvh_entry "$OUT/stock/vmlinux")
	sym=$(sed -nE 's/^([0-9a-f]+) [Tt] pvh_start_xen$/\1/p' "$OUT/stock/System.map")
	if [[ -z $entry || -z $sym ]] || (((0x$sym - 0xffffffff80000000) != 0x$entry)); then
		die "stock/System.map does not match stock/vmlinux (pvh_start_xen ${sym:-missing}, PVH entry 0x${entry:-missing})"
	fi

	moddir=$tmp/root/lib/modules/$kver
	[[ -d $moddir ]] || moddir=$tmp/root/usr/lib/modules/$kver
	[[ -d $moddir ]] || die "$deb has no lib/modules/$kver"
	local mdest=$OUT/stock/modules/lib/modules/$kver
	mkdir -p "$mdest"
	copy_modules "$moddir" "$mdest" virtio_ring virtio virtio_mmio virtio_console
	local f
	for f in modules.builtin modules.builtin.modinfo modules.order; do
		[[ ! -f $moddir/$f ]] || cp "$moddir/$f" "$mdest/"
	done
	depmod -b "$OUT/stock/modules" "$kver" || die "depmod -b $OUT/stock/modules $kver failed"
	[[ -s $mdest/modules.dep ]] || die "depmod wrote no $mdest/modules.dep"
	echo "$kver" >"$OUT/stock/kernel.release"

	rm -rf "$tmp"
	echo "$key" >"$OUT/.stock.stamp"
	echo "mkguest: stock      built    $(elapsed "$t0")  $pkg $ver ($kver) -> $OUT/stock/{vmlinux,bzImage,System.map,modules}"
}

# ---------------------------------------------------------------------------------------
# 3. The initramfs.

build_initramfs() {
	local t0=$SECONDS
	[[ -f $OUT/stock/kernel.release ]] || die "initramfs: $OUT/stock is missing (run scripts/mkguest.sh --stock-only)"
	local kver bbver srchash key stockkey
	kver=$(cat "$OUT/stock/kernel.release")
	[[ -s $OUT/stock/modules/lib/modules/$kver/modules.dep ]] ||
		die "initramfs: $OUT/stock/modules/lib/modules/$kver/modules.dep is missing (remove $OUT/.stock.stamp)"
	stockkey=$(cat "$OUT/.stock.stamp")
	bbver=$(pkg_version busybox-static)
	srchash=$(cd scripts/initramfs && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
	key="recipe=$RECIPE_INITRAMFS busybox-static=$bbver modules=[$stockkey] sources=$srchash"
	if stamp_ok initramfs "$key" initramfs.cpio.gz initramfs.cpio; then
		echo "mkguest: initramfs  cached   $(elapsed "$t0")  busybox-static $bbver, modules $kver"
		return
	fi
	rm -f "$OUT/.initramfs.stamp"

	local stage=$OUT/initramfs.tmp
	rm -rf "$stage"
	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc,lib/modules}
	stage_busybox "$stage"
	[[ -L $stage/bin/sh ]] || die "initramfs: /bin/busybox has no sh applet"
	install -m 0755 scripts/initramfs/init "$stage/init"

	# The same /idle that vmdbg carries and appends to a user's initrd on PVM: one recipe,
	# scripts/initramfs/idle.mk (it also checks that /idle has no system call in it).
	make -s --no-print-directory build/idle || die "initramfs: cannot build build/idle (scripts/initramfs/idle.mk)"
	install -m 0755 build/idle "$stage/idle"

	cp -a "$OUT/stock/modules/lib/modules/$kver" "$stage/lib/modules/"

	cpio_pos=0 cpio_ino=0
	cpio_tree "$stage" >"$OUT/initramfs.cpio" || die "initramfs: cannot write the cpio archive"
	gzip -9n <"$OUT/initramfs.cpio" >"$OUT/initramfs.cpio.gz.tmp"
	mv "$OUT/initramfs.cpio.gz.tmp" "$OUT/initramfs.cpio.gz"
	# The uncompressed copy is what vmdbg boots on PVM: inflating gzip is emulated
	# instruction by instruction there and costs the boot about a minute.
	rm -rf "$stage"
	echo "$key" >"$OUT/.initramfs.stamp"
	echo "mkguest: initramfs  built    $(elapsed "$t0")  busybox-static $bbver, modules $kver -> $OUT/initramfs.cpio.gz"
}

((want_kernel)) && build_kernel
# The initramfs carries the stock kernel's modules, so it needs that step (cached or not).
((want_stock || want_initramfs)) && build_stock
((want_initramfs)) && build_initramfs
exit 0
