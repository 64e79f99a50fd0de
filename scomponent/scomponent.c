/*
 * The storage role: disks and the stateless ext2 file service (DESIGN.md section 1).
 *
 * This file defines this_role for the storage image (build/tessera-s.elf) and
 * the role's start-up, run in the boot thread once the kernel core is up:
 *
 *   1. come onto the fabric (kernel/status.c: RPC service and status page);
 *   2. the disk: the first virtio-blk device (drivers/virtio_blk.c), with
 *      the ext2 file system on it mounted (scomponent/ext2.c);
 *   3. the file service (scomponent/fileserv.c) for the nodes of exports=
 *      (written by `tessera up` from the manifest's vNodes and roots);
 *   4. say ready, with one line that sums it up:
 *        storage: vda 64 MiB ext2 (1 KiB blocks), exports p1:/ m1:/ p2:/vn2
 *
 * A missing or unusable disk is not fatal: the error is logged with its
 * reason (ext2_mount names it, e.g. an ext4 feature), the node still comes
 * up and answers every file request with -ENODEV (no disk) or -EIO (a disk
 * it cannot use). So is a missing fabric: then there is nobody to serve.
 * The file system syncs every FILESERV_SYNC_PERIOD_NS when it changed
 * (fileserv.c), besides FS_SYNC and FS_FSYNC.
 */
#include "ext2.h"
#include "fileserv.h"

#include <arch/memlayout.h>
#include <drivers/virtio_blk.h>
#include <kernel/blkdev.h>
#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/status.h>
#include <kernel/time.h>
#include <lib/printf.h>
#include <lib/string.h>
#include <net/verbs.h>

/* The block cache: a quarter of free memory, at most this. */
#define STORAGE_CACHE_MAX (32u << 20)

static struct blkdev *disk;	 /* set once at start */
static struct ext2_fs *disk_fs;	 /* NULL: not mounted */
static struct fileserv *service; /* NULL: not serving */

/* Probes virtio-blk 0 and mounts it; returns 0 or the errno that file
 * requests will get (-ENODEV: no disk, -EIO: a disk we cannot use). */
static int storage_mount(char *why, size_t why_len)
{
	struct ext2_mount_opts opts = {.now = wall_clock_s};
	size_t quarter = pmm_free_pages() * PAGE_SIZE / 4;
	int err = virtio_blk_probe(0, &disk);

	if (err) {
		snprintf(why, why_len, "no disk (virtio-blk: %s)", errno_name(err));
		disk = NULL;
		return -ENODEV;
	}
	opts.cache_bytes = quarter < STORAGE_CACHE_MAX ? quarter : STORAGE_CACHE_MAX;
	err = ext2_mount(disk, &opts, &disk_fs, why, why_len);
	if (err) {
		disk_fs = NULL;
		return -EIO;
	}
	return 0;
}

/* "p1:/ m1:/ p2:/vn2" into buf. */
static void exports_text(char *buf, size_t cap)
{
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < kconfig.nexports && o < cap; i++) {
		int idx = -1;
		char id[8];

		snprintf(id, sizeof(id), "%u", kconfig.exports[i].node);
		idx = kconfig_peer_find(&kconfig, id);
		o += (size_t)snprintf(buf + o, cap - o, "%s%s:%s", i ? " " : "",
				      idx >= 0 && kconfig.peer_names[idx][0]
					      ? kconfig.peer_names[idx]
					      : id,
				      kconfig.exports[i].path);
	}
}

static void scomponent_start(void)
{
	char why[160] = "", size[32], exports[512];
	struct verbs_dev *dev = NULL;
	struct fs_statfs st = {0};
	int fs_err, err;

	status_start();
	fs_err = storage_mount(why, sizeof(why));
	exports_text(exports, sizeof(exports));
	if (fs_err) {
		pr_err("storage: %s%s: file requests get %s", disk ? disk->name : "",
		       disk ? ": cannot mount ext2" : "", errno_name(fs_err));
		if (why[0])
			pr_err("storage: %s", why);
	} else {
		ext2_statfs(disk_fs, &st);
		pr_info("storage: %s %s ext2 (%u KiB blocks%s), exports %s", disk->name,
			kconfig_format_size(disk->nsectors * BLK_SECTOR_SIZE, size,
					    sizeof(size)),
			st.bsize / 1024, disk->read_only ? ", read-only" : "",
			kconfig.nexports ? exports : "none (no node may use the files)");
	}
	if (!status_rpc() || verbs_open(&dev)) {
		pr_err("storage: no fabric RPC: not serving files");
	} else {
		err = fileserv_start(status_rpc(), dev, disk_fs, fs_err, kconfig.exports,
				     kconfig.nexports, &service);
		if (err)
			pr_err("storage: cannot start the file service (%s)",
			       errno_name(err));
	}
	if (service && !fs_err)
		status_ready("storage, %s ext2, exports %s", disk->name,
			     kconfig.nexports ? exports : "none");
	else if (fs_err == -ENODEV)
		status_ready("storage, no disk");
	else
		status_ready("storage, %s", fs_err ? "disk unusable" : "not serving");
}

const struct role this_role = {
	.id = ROLE_STORAGE,
	.name = "storage",
	.letter = 's',
	.start = scomponent_start,
};

KTEST(role_storage_identity)
{
	KT_EXPECT_EQ(this_role.id, ROLE_STORAGE);
	KT_EXPECT(strcmp(this_role.name, "storage") == 0);
	KT_EXPECT_EQ(kconfig.name[0], 's');
}
