/*
 * The memory role: virtual address spaces, page frames, ELF loading and fork copy
 * (DESIGN.md section 1).
 *
 * This file defines this_role for the memory image (build/tessera-m.elf) and
 * the role's start-up, run in the boot thread once the kernel core is up:
 *
 *   1. come onto the fabric (kernel/status.c: RPC service and status page);
 *   2. the memory service (mcomponent/memserv.c, docs/memory.md): the
 *      processors' opcodes handed to a pool of MEMSERV_POOL_THREADS
 *      threads first (memserv_pool), while memserv_of() still finds
 *      no service (such requests get -ENODEV, as before the start); page
 *      frames take the window's data area but MEMORY_WINDOW_SPARE, which
 *      stays for the RPC layer's buffers (a few hundred KiB with a handful
 *      of peers), the buffer cache's staging buffers (about 0.5 MiB,
 *      bcache.c) and the file client's staging buffer (1 MiB while an
 *      exec reads a file); executables come from the storage= node, and
 *      the buffer cache holds its files in up to a quarter of the frames;
 *   3. say ready, with one line that sums it up:
 *        memory: 15360 frames (60 MiB) of the 64 MiB window, storage s1
 *
 * Without a fabric there is nobody to serve: the node still says ready.
 */
#include "memserv.h"

#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <kernel/printk.h>
#include <kernel/status.h>
#include <lib/string.h>
#include <net/verbs.h>
#include <proto/manager.h>

#define MEMORY_WINDOW_SPARE (4ull << 20)
#define MEMSERV_POOL_THREADS 4
#define MEMORY_FRAMES_MIN   (1ull << 20) /* below this, not worth serving */

static struct memserv *service; /* NULL: not serving */

/* The pool for the processors' opcodes; on failure they stay serial. */
static void memory_pool(void)
{
	int err = memserv_pool(status_rpc(), MEMSERV_POOL_THREADS);

	if (err)
		pr_warn("memory: no handler pool (%s): requests served one at a time",
			errno_name(err));
}

/* Frames: as much of the window as MEMORY_WINDOW_SPARE leaves, less 1 MiB
 * at a time if the window is more fragmented than that. Returns the
 * bytes taken, 0 if none. */
static uint64_t memory_serve(struct verbs_dev *dev)
{
	uint64_t window = verbs_window_hdr(dev)->window_size;
	uint64_t bytes = window > FAB_DATA_OFFSET + MEMORY_WINDOW_SPARE
				 ? window - FAB_DATA_OFFSET - MEMORY_WINDOW_SPARE
				 : 0;
	int err = -ENOMEM;

	bytes &= ~((1ull << 20) - 1);
	memory_pool(); /* before the service is bound: see the top comment */
	for (; bytes >= MEMORY_FRAMES_MIN; bytes -= 1ull << 20) {
		err = memserv_start(status_rpc(), dev, bytes, (uint16_t)kconfig.storage_id,
				    &service);
		if (err != -ENOMEM)
			break;
	}
	if (err) {
		pr_err("memory: cannot start the memory service (%s)", errno_name(err));
		service = NULL;
		return 0;
	}
	return bytes;
}

/* The memory figures of this node's heartbeats (kernel/status.c). */
static void memory_load(struct mgr_heartbeat *hb)
{
	struct mem_stats st;

	memserv_get_stats(service, &st);
	hb->frames_total = st.frames_total;
	hb->frames_free = st.frames_free;
	hb->processes = (uint32_t)st.processes;
}

static void mcomponent_start(void)
{
	struct verbs_dev *dev = NULL;
	uint64_t bytes = 0;
	char frames[32], window[32];

	if (kconfig.backup_id)
		pr_info("memory: backup node %u (replication is not built yet)",
			kconfig.backup_id);
	else
		pr_info("memory: no backup node (backup=ID; replication is not built "
			"yet)");
	status_start();
	if (!status_rpc() || verbs_open(&dev))
		pr_err("memory: no fabric RPC: not serving memory");
	else
		bytes = memory_serve(dev);
	if (bytes) {
		pr_info("memory: %llu frames (%s) of the %s window, storage %u%s",
			(unsigned long long)(bytes / 4096),
			kconfig_format_size(bytes, frames, sizeof(frames)),
			kconfig_format_size(verbs_window_hdr(dev)->window_size, window,
					    sizeof(window)),
			kconfig.storage_id,
			kconfig.storage_id ? "" : " (none: exec gets ENOENT)");
	}
	if (service)
		status_set_load_fn(memory_load);
	if (!service)
		status_ready("memory, not serving");
	else if (kconfig.backup_id)
		status_ready("memory, backup %u", kconfig.backup_id);
	else
		status_ready("memory");
}

const struct role this_role = {
	.id = ROLE_MEMORY,
	.name = "memory",
	.letter = 'm',
	.start = mcomponent_start,
};

KTEST(role_memory_identity)
{
	KT_EXPECT_EQ(this_role.id, ROLE_MEMORY);
	KT_EXPECT(strcmp(this_role.name, "memory") == 0);
	KT_EXPECT_EQ(kconfig.name[0], 'm');
}
