/*
 * The storage component's file service (scomponent/fileserv.c): the
 * server side of the file protocol (include/proto/file.h) over an ext2
 * file system (scomponent/ext2.h). Private to the storage role.
 *
 * A file service is bound to one RPC node and its fabric device: the
 * RPC_HANDLER(FS_...) functions of fileserv.c find the service of the
 * rpc_node that received the request, so the storage role's own service
 * (on the node's fabric, scomponent.c) and a self test's (on a loopback
 * fabric, fileserv_ktest.c) can exist side by side. A node without a
 * service answers every FS_* request with -ENODEV.
 */
#ifndef SCOMPONENT_FILESERV_H
#define SCOMPONENT_FILESERV_H

#include <kernel/config.h>
#include <net/rpc.h>
#include <net/verbs.h>
#include <stdint.h>

struct ext2_fs;
struct fileserv;

/* How long the server waits for one RDMA transfer of a request. */
#define FILESERV_RDMA_TIMEOUT_NS (2ull * 1000 * 1000 * 1000)
/* A file system with changes is synced after this long without a sync. */
#define FILESERV_SYNC_PERIOD_NS (2ull * 1000 * 1000 * 1000)

struct fileserv_stats {
	uint64_t requests;   /* FS_* handled, including refused ones */
	uint64_t refused;    /* failed their decode or export check */
	uint64_t errors;     /* any other error answer (ext2's, RDMA's) */
	uint64_t bytes_read; /* FS_READ data sent */
	uint64_t bytes_written;
	uint64_t rdma_faults; /* transfers that failed (-EFAULT answered) */
	uint64_t rdma_timeouts;
	uint64_t syncs; /* ext2_sync calls (requested and periodic) */
	/* Small reads (FS_READ_INLINE) that waited for the disk without
	 * fs_sem, the most of them at once, and how many of them had to
	 * read again (a block was freed meanwhile). */
	uint64_t unlocked_reads, most_unlocked, reads_again;
	/* FS_READs and FS_WRITEs past the block cache (the big ones), and
	 * where their time went: ext2 (the disk included) and the RDMA
	 * transfer. For the storage benchmark's diagnostics. */
	struct fileserv_timing {
		uint64_t count, fs_ns, rdma_ns;
	} big_reads, big_writes;
};

/*
 * Starts a file service for the requests that rn receives, moving data
 * with dev (rn's device). fs may be NULL: then every request that passes
 * its decode and export check is answered with fs_err (-ENODEV: no disk,
 * -EIO: the disk did not mount). exports[0..n) say which node sees which
 * directory; each is resolved now from the file system's root (a failure
 * is logged, and retried at that node's next request). Starts a thread
 * that syncs fs every FILESERV_SYNC_PERIOD_NS when something changed.
 * Returns 0 and sets *out, or -ENOMEM, -EBUSY (rn has a service already),
 * or a verbs error. The caller keeps fs mounted until fileserv_stop().
 * Thread context.
 */
int fileserv_start(struct rpc_node *rn, struct verbs_dev *dev, struct ext2_fs *fs,
		   int fs_err, const struct kconfig_export *exports, unsigned n,
		   struct fileserv **out);

/*
 * Syncs the file system one last time and frees the service. rn must
 * not serve requests any more (rpc_stop() first, or a node that never
 * stops). Thread context.
 */
void fileserv_stop(struct fileserv *fsv);

/* ext2_sync() under the service's lock (the storage node's `sync`). */
int fileserv_sync(struct fileserv *fsv);

/* The export root of node as resolved (0 if none or not resolved). */
uint32_t fileserv_export_ino(struct fileserv *fsv, uint16_t node);

void fileserv_get_stats(struct fileserv *fsv, struct fileserv_stats *st);

#endif
