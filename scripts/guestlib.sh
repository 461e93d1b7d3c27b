# Shared by scripts/mkguest.sh and scripts/hwkvm.sh: Debian package downloads, module
# trees and a newc cpio writer. Source it; the caller defines die MESSAGE.

# resolve_image_pkg FLAVOUR: the versioned image package that linux-image-FLAVOUR
# (Debian's meta package, e.g. cloud-amd64 or amd64) currently points at.
resolve_image_pkg() {
	apt-cache depends "linux-image-$1" 2>/dev/null |
		sed -nE "s/^[[:space:]]*Depends:[[:space:]]*(linux-image-6\.1\.0-[0-9]+-$1(-unsigned)?)[[:space:]]*\$/\1/p" |
		head -n 1
}

# candidate_version PKG: the version apt would install of PKG (empty if none).
candidate_version() {
	apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n 1
}

# apt_download DIR PKG VERSION: the .deb into DIR, as whatever user runs this.
apt_download() {
	local -a dl=(apt-get download -q)
	# root's apt drops to the _apt user for downloads, which cannot write into build/.
	[[ $(id -u) -ne 0 ]] || dl+=(-o APT::Sandbox::User=root)
	(cd "$1" && "${dl[@]}" "$2=$3") >"$1/download.log" 2>&1
}

# copy_modules MODDIR DEST NAME...: the named modules and everything they depend on,
# uncompressed, at the same paths under DEST.
copy_modules() {
	local moddir=$1 dest=$2 name path rel deps dep
	shift 2
	local -a todo=("$@")
	local -A seen=()
	while ((${#todo[@]})); do
		name=${todo[0]}
		todo=("${todo[@]:1}")
		[[ -n ${seen[$name]:-} ]] && continue
		seen[$name]=1
		# Module names treat - and _ alike (kvm_amd is kvm-amd.ko).
		local pat=${name//[-_]/[-_]}
		path=$(find "$moddir/kernel" \( -name "$pat.ko" -o -name "$pat.ko.xz" -o -name "$pat.ko.zst" \) -print -quit)
		[[ -n $path ]] || die "module $name not found under $moddir"
		rel=${path#"$moddir"/}
		rel=${rel%.xz}
		rel=${rel%.zst}
		mkdir -p "$dest/$(dirname "$rel")"
		case $path in
		*.xz) xz -dc "$path" >"$dest/$rel" ;;
		*.zst) zstd -qdc "$path" >"$dest/$rel" ;;
		*) cp "$path" "$dest/$rel" ;;
		esac
		deps=$(modinfo -F depends "$dest/$rel")
		for dep in ${deps//,/ }; do
			todo+=("$dep")
		done
	done
}

# newc (cpio -H newc) writer: GNU cpio can only archive device nodes that exist, and
# making /dev/console with mknod would need root. All entries are owned by root with a
# fixed mtime so the archive depends only on its inputs.
cpio_pos=0 cpio_ino=0
cpio_mtime=${SOURCE_DATE_EPOCH:-0}

cpio_pad() {
	case $(((4 - cpio_pos % 4) % 4)) in
	1) printf '\0' ;;
	2) printf '\0\0' ;;
	3) printf '\0\0\0' ;;
	esac
	cpio_pos=$(((cpio_pos + 3) / 4 * 4))
}

# cpio_header NAME MODE SIZE NLINK RDEVMAJOR RDEVMINOR
cpio_header() {
	local namesize=$((${#1} + 1))
	cpio_ino=$((cpio_ino + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		"$cpio_ino" "$2" 0 0 "$4" "$cpio_mtime" "$3" 0 0 "$5" "$6" "$namesize" 0
	printf '%s\0' "$1"
	cpio_pos=$((cpio_pos + 110 + namesize))
	cpio_pad
}

# cpio_tree DIR: everything under DIR, parents first, then /dev/console and the trailer.
cpio_tree() {
	local dir=$1 type perm size path target
	while IFS=' ' read -r type perm size path target; do
		case $type in
		d) cpio_header "$path" $((0040000 | 0$perm)) 0 2 0 0 ;;
		f)
			cpio_header "$path" $((0100000 | 0$perm)) "$size" 1 0 0
			cat "$dir/$path"
			cpio_pos=$((cpio_pos + size))
			cpio_pad
			;;
		l)
			cpio_header "$path" $((0120000 | 0777)) "${#target}" 1 0 0
			printf '%s' "$target"
			cpio_pos=$((cpio_pos + ${#target}))
			cpio_pad
			;;
		*) die "initramfs: unexpected file type '$type' at $dir/$path" ;;
		esac
	done < <(cd "$dir" && find . -mindepth 1 -printf '%y %m %s %P %l\n' | sort -k4,4)
	# The kernel opens /dev/console for PID 1 before /init can mount devtmpfs.
	cpio_header dev/console $((0020000 | 0600)) 0 1 5 1
	cpio_header 'TRAILER!!!' 0 0 1 0 0
}

# stage_busybox STAGE: busybox-static at STAGE/bin/busybox and a link for each applet, made
# here rather than by `busybox --install` at boot (fewer system calls for a guest kernel
# that may not allow any).
stage_busybox() {
	local stage=$1 p
	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin}
	cp /bin/busybox "$stage/bin/busybox"
	for p in $(/bin/busybox --list-full); do
		[[ -e $stage/$p || -L $stage/$p ]] && continue
		mkdir -p "$stage/$(dirname "$p")"
		ln -s /bin/busybox "$stage/$p"
	done
}
