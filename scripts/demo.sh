#!/bin/sh
# The demo of `make run`: boots the default cluster with the tessera CLI,
# runs busybox and a Linux test program on its vNode as one would on a
# Linux box, shows where things ran, then takes the cluster down (KEEP=1
# leaves it up for more `tessera` commands, e.g. `tessera shell`).
#
#   demo.sh TESSERA MANIFEST
#
# s1's disk is made afresh by `tessera up --new-disks` from build/rootfs
# (`make rootfs`, scripts/mkrootfs.sh: busybox and its applets in /bin,
# the test programs), so the demo always starts from the same disk. Every
# step runs even if one before failed and says how it ended; the demo's
# exit status is 1 if any step failed.
set -u
tessera=$1
manifest=$2
failed=0

step() {
	printf '\n$ tessera %s\n' "$*"
	"$tessera" "$@"
	status=$?
	[ "$status" = 0 ] || { echo "(exit $status)"; failed=1; }
}

# Down on every way out unless asked to keep it; the cluster's logs stay.
finish() {
	if [ "${KEEP:-0}" = 1 ] && [ "$failed" = 0 ]; then
		printf '\nThe cluster stays up: try `%s shell`; stop it with `%s down`.\n' \
			"$tessera" "$tessera"
	else
		"$tessera" down
	fi
	exit "$failed"
}
trap finish EXIT
trap 'failed=130; exit 130' INT TERM

"$tessera" up --new-disks "$manifest" || { failed=1; exit 1; }
step run -- /bin/uname -a
step run -- /bin/ls /
# A pipeline: four processes on p1 joined by pipes, their memory on m1.
step run -- /bin/sh -c 'ls /bin | sort | head -n 3; echo "$(ls /bin | wc -l) programs in /bin"'
# Files on s1 (ext2 on its virtio disk, served over the fabric) through
# the shell: write, checksum, archive, list.
step run -- /bin/sh -c 'mkdir -p /tmp/demo && seq 1 10000 > /tmp/demo/n && md5sum /tmp/demo/n'
step run -- /bin/sh -c 'cd /tmp && tar czf demo.tgz demo && ls -l demo.tgz | awk "{ print \$5, \$9 }"'
step run -- /bin/df -h /
# Memory stress with a checksum: 16 MiB through p1's 4 MiB ExCache, every
# page written back to m1 and fetched again; then p1's ExCache counters
# (the processor's `excache` builtin) and the cluster's figures.
step run -- /bin/memtest 16 2
step run -- excache
step status
