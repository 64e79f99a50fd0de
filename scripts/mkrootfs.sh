#!/bin/sh
# The root file system tree of the default cluster's storage node
# (configs/default.yaml names it as its disk's dir, @build/rootfs; `make
# rootfs` runs this, and `tessera up` makes it first). mke2fs -d turns the
# tree into s1's ext2 image. tests/cluster/abi_test.py makes its disk
# with this script too, so the ABI layer tests the default disk's userland.
#
#   mkrootfs.sh OUT [PROGRAM...] [--abi FILE...]
#
# OUT/bin gets the static test programs named (tests/user/, mode 0755)
# and busybox: Debian's static build ($BUSYBOX, default /bin/busybox, the
# package busybox-static) as /bin/busybox, with a symbolic link
# /bin/APPLET -> busybox for every applet it has (/bin/sh among them),
# except where a test program already has the name; and GNU bash
# ($BASH_STATIC, default /bin/bash-static, the package bash-static) as
# /bin/bash. For dynamically linked programs, OUT/lib and OUT/lib64 get
# this host's dynamic loaders and the libraries the dynamic test
# programs need, where those programs look for them (the loaders' paths
# and their links as on Debian): musl's (/lib/ld-musl-x86_64.so.1 ->
# x86_64-linux-musl/libc.so, loader and libc in one; $MUSL_LIBC, default
# /lib/x86_64-linux-musl/libc.so, the package musl) and glibc's
# (/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
# and libc.so.6 beside it, in a directory of glibc's built-in search path;
# $GLIBC_LIB, default /lib/x86_64-linux-gnu). The FILEs after
# --abi (the Linux ABI tests, tests/abi/: programs and busybox scripts)
# go to OUT/abi, mode 0755. OUT/etc gets motd, passwd and group (root
# only), OUT/tmp is an empty directory (mode 1777), OUT/dev, OUT/proc and
# OUT/sys empty directories where the processor serves its devices,
# /proc and /sys (pcomponent/file.h). The tree is built next to OUT and
# renamed into place, so OUT is never half made.
set -eu
out=$1
shift
busybox=${BUSYBOX:-/bin/busybox}
bash_static=${BASH_STATIC:-/bin/bash-static}
tmp=$out.tmp
rm -rf "$tmp"
mkdir -p "$tmp/bin" "$tmp/etc" "$tmp/tmp" "$tmp/abi" "$tmp/dev" "$tmp/proc" "$tmp/sys" \
	"$tmp/root"
chmod 1777 "$tmp/tmp"
chmod 0700 "$tmp/root"
dest=bin
for f in "$@"; do
	if [ "$f" = --abi ]; then
		dest=abi
		continue
	fi
	install -m 0755 "$f" "$tmp/$dest/"
done
if [ ! -x "$busybox" ]; then
	echo "mkrootfs.sh: $busybox is missing (Debian package busybox-static; make deps)" >&2
	exit 1
fi
if [ ! -x "$bash_static" ]; then
	echo "mkrootfs.sh: $bash_static is missing (Debian package bash-static; make deps)" >&2
	exit 1
fi
musl_libc=${MUSL_LIBC:-/lib/x86_64-linux-musl/libc.so}
glibc_lib=${GLIBC_LIB:-/lib/x86_64-linux-gnu}
for lib in "$musl_libc" "$glibc_lib/ld-linux-x86-64.so.2" "$glibc_lib/libc.so.6"; do
	if [ ! -f "$lib" ]; then
		echo "mkrootfs.sh: $lib is missing (Debian packages musl, libc6; make deps)" >&2
		exit 1
	fi
done
install -m 0755 "$busybox" "$tmp/bin/busybox"
install -m 0755 "$bash_static" "$tmp/bin/bash"
for applet in $("$busybox" --list); do
	[ -e "$tmp/bin/$applet" ] || [ -L "$tmp/bin/$applet" ] || ln -s busybox "$tmp/bin/$applet"
done
mkdir -p "$tmp/lib/x86_64-linux-musl" "$tmp/lib/x86_64-linux-gnu" "$tmp/lib64"
install -m 0755 "$musl_libc" "$tmp/lib/x86_64-linux-musl/libc.so"
ln -s x86_64-linux-musl/libc.so "$tmp/lib/ld-musl-x86_64.so.1"
install -m 0755 "$glibc_lib/ld-linux-x86-64.so.2" "$glibc_lib/libc.so.6" \
	"$tmp/lib/x86_64-linux-gnu/"
ln -s /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$tmp/lib64/ld-linux-x86-64.so.2"
# --- exec tests (helper hx): exectest's bad executables in /etc/exectest
for prog in "$@"; do
	case $prog in
	*/exectest) sh "$(dirname "$0")/mkexecfiles.sh" "$tmp/etc/exectest" "$prog" ;;
	esac
done
# --- end of exec tests
cat > "$tmp/etc/motd" <<'MOTD'
Tessera: this file system lives on the storage node s1 and is served over
the fabric. /bin holds busybox and static Linux test programs; try
  tessera run -- /bin/memtest 16 2
  tessera run -- /bin/sh -c 'ls /bin | wc -l'
MOTD
cat > "$tmp/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
PASSWD
cat > "$tmp/etc/group" <<'GROUP'
root:x:0:
GROUP
rm -rf "$out"
mv "$tmp" "$out"
