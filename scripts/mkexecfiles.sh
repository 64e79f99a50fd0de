#!/bin/sh
# The bad executables tests/user/exectest.c tries to exec, each of which
# execve must refuse with ENOEXEC (scripts/mkrootfs.sh puts them in the
# root file system's /etc/exectest; on the host, make them anywhere and
# pass the directory to exectest).
#
#   mkexecfiles.sh DIR ELF
#
# ELF is any static x86-64 executable (exectest itself):
#   truncated-header  its first 40 bytes: the ELF header cut short
#   truncated-body    its first 8 KiB: headers whole, segments cut
#   wrong-machine     a copy with e_machine 183 (AArch64)
#   text              a text file without a #! line
#   garbage           4 KiB of pseudo-random bytes (fixed seed)
# All mode 0755, so the x bit is never the reason.
set -eu
dir=$1
elf=$2
mkdir -p "$dir"
head -c 40 "$elf" > "$dir/truncated-header"
head -c 8192 "$elf" > "$dir/truncated-body"
cp "$elf" "$dir/wrong-machine"
printf '\267\000' | dd of="$dir/wrong-machine" bs=1 seek=18 conv=notrunc status=none
printf 'echo this is a text file without a #! line\n' > "$dir/text"
LC_ALL=C awk 'BEGIN { srand(7); for (i = 0; i < 4096; i++) printf "%c", int(rand() * 255) + 1 }' \
	> "$dir/garbage"
chmod 0755 "$dir"/*
