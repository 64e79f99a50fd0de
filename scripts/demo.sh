#!/bin/sh
# The demo of `make run`: boots a cluster with the tessera CLI, runs a few
# programs on its vNode, shows the cluster's status, then takes it down
# (KEEP=1 leaves it up for more `tessera` commands).
#
#   demo.sh TESSERA MANIFEST
#
# The programs are the processor kernel's builtins (docs/cli.md,
# `tessera run -- help`) and static Linux programs from s1's disk, which
# `tessera up --new-disks` makes afresh from build/rootfs (`make rootfs`)
# each time, so the demo always starts from the same disk.
set -eu
tessera=$1
manifest=$2

step() {
	printf '\n$ tessera %s\n' "$*"
	"$tessera" "$@"
}

# Down on every way out unless asked to keep it; the cluster's logs stay.
finish() {
	status=$?
	if [ "${KEEP:-0}" = 1 ] && [ "$status" = 0 ]; then
		printf '\nThe cluster stays up: try `%s run -- help`; stop it with `%s down`.\n' \
			"$tessera" "$tessera"
	else
		"$tessera" down
	fi
	exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

step up --new-disks "$manifest"
step run -- uname -a
step run -- nodes
step run -- ping m1 5
step run -- meminfo
# Files on the vNode's storage node s1 (ext2 on its virtio disk, served
# over the fabric): a directory, a 4 MiB file and its checksum, the listing.
step run -- mkdir -p /demo
step run -- write /demo/data 4M 7
step run -- sum /demo/data
step run -- ls -l /demo
step run -- df
# A Linux program with its memory on m1: 16 MiB through p1's 4 MiB ExCache,
# every page written back and fetched again; then p1's ExCache counters.
step run -- /bin/memtest 16 2
step run -- excache
step inject partition p1 m1
step run -- ping m1 1 || echo "(exit $?: the partition holds, as asked)"
step inject heal p1 m1
step run -- ping m1 1
step status
