#!/bin/sh
# The root file system tree of the default cluster's storage node
# (configs/default.yaml names it as its disk's dir, @build/rootfs; `make
# rootfs` runs this, and `tessera up` makes it first). mke2fs -d turns the
# tree into s1's ext2 image.
#
#   mkrootfs.sh OUT PROGRAM...
#
# OUT/bin gets the static test programs named (tests/user/, mode 0755),
# OUT/etc/motd a greeting, OUT/tmp an empty directory (mode 1777). The
# tree is built next to OUT and renamed into place, so OUT is never half
# made.
set -eu
out=$1
shift
tmp=$out.tmp
rm -rf "$tmp"
mkdir -p "$tmp/bin" "$tmp/etc" "$tmp/tmp"
chmod 1777 "$tmp/tmp"
for prog in "$@"; do
	install -m 0755 "$prog" "$tmp/bin/"
done
# --- exec tests (helper hx): exectest's bad executables in /etc/exectest
for prog in "$@"; do
	case $prog in
	*/exectest) sh "$(dirname "$0")/mkexecfiles.sh" "$tmp/etc/exectest" "$prog" ;;
	esac
done
# --- end of exec tests
cat > "$tmp/etc/motd" <<'MOTD'
Tessera: this file system lives on the storage node s1 and is served over
the fabric. /bin holds static Linux test programs; try
  tessera run -- /bin/memtest 16 2
MOTD
rm -rf "$out"
mv "$tmp" "$out"
