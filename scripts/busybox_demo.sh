#!/bin/sh
# The busybox demo (`make run-busybox-demo`; to become `make run`'s once
# the processor runs busybox: issue 7): boots the default cluster with the
# tessera CLI, runs busybox on its vNode as one would on a Linux box, then
# takes the cluster down (KEEP=1 leaves it up).
#
#   busybox_demo.sh TESSERA MANIFEST
#
# s1's disk is made afresh (`tessera up --new-disks`) from build/rootfs
# (`make rootfs`: busybox and its applets in /bin, scripts/mkrootfs.sh).
# Every step runs even if one before failed, and says how it ended; the
# demo's exit status is 1 if any step failed.
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

finish() {
	if [ "${KEEP:-0}" = 1 ] && [ "$failed" = 0 ]; then
		printf '\nThe cluster stays up: try `%s run -- /bin/sh -c "ls -l /bin | head"`; stop it with `%s down`.\n' \
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
step run -- /bin/ls -l /
step run -- /bin/cat /etc/passwd
# A pipeline: four processes on p1 joined by pipes, their memory on m1.
step run -- /bin/sh -c 'ls /bin | sort | head -n 5'
step run -- /bin/sh -c 'ls /bin | wc -l'
# Files on s1 through the shell: write, checksum, archive, list.
step run -- /bin/sh -c 'mkdir -p /tmp/demo && seq 1 10000 > /tmp/demo/n && md5sum /tmp/demo/n'
step run -- /bin/sh -c 'cd /tmp && tar czf demo.tgz demo && ls -l demo.tgz | awk "{ print \$5, \$9 }"'
step run -- /bin/df -h /
# Memory stress with a checksum: 16 MiB through p1's 4 MiB ExCache, then
# p1's ExCache counters (the processor's `excache` builtin).
step run -- /bin/memtest 16 2
step run -- excache
step run -- /bin/sh -c 'ps; echo "processes listed above"'
