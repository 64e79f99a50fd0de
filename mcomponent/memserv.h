/*
 * The memory service (mcomponent/memserv.c): the server side of the
 * memory protocol (include/proto/mem.h), private to the memory role.
 *
 * A memory service is bound to one RPC node and its fabric device, like
 * the file service (scomponent/fileserv.h): the RPC_HANDLER(MEM_...)
 * functions find the service of the rpc_node that received the request,
 * so the role's own service (mcomponent.c) and a self test's (on a
 * loopback fabric, memserv_ktest.c) can exist side by side. A node
 * without a service answers every MEM_* request with -ENODEV.
 */
#ifndef MCOMPONENT_MEMSERV_H
#define MCOMPONENT_MEMSERV_H

#include <net/rpc.h>
#include <net/verbs.h>
#include <proto/mem.h>
#include <stddef.h>
#include <stdint.h>

struct memserv;

/* How long the server waits for one RDMA transfer. */
#define MEMSERV_RDMA_TIMEOUT_NS (2ull * 1000 * 1000 * 1000)
/* Processes at once per service: the table holds twice as many address
 * spaces, home spaces and remote ones (vRegions placed here by other
 * homes) together. */
#define MEMSERV_MAX_PROCS 256

/*
 * Hands the processors' opcodes (MEM_* 0x1200-0x120f, BC_* 0x1220-0x122f,
 * include/proto/messages.def) to a pool of nthreads threads on rn
 * (rpc_serve_pool); MEM_REGION (0x1210) stays on the server thread, so a
 * pool thread waiting for another node's MEM_REGION answer never waits
 * for a pool. Call before memserv_start. Returns rpc_serve_pool's errors;
 * on failure the opcodes are served one at a time.
 */
int memserv_pool(struct rpc_node *rn, unsigned nthreads);

/*
 * Starts a memory service for the requests rn receives, with
 * frame_bytes of dev's window as page frames (dev is rn's device) and
 * storage (0: none) as the file server that MEM_EXEC reads executables
 * from and whose files the buffer cache (bcache.h: BC_*) holds, in up to
 * a BCACHE_FRAME_SHARE-th of the frames. Returns 0 and sets *out, or
 * -ENOMEM (no memory, or no window buffer of that size), -EBUSY (rn has a
 * service already), a verbs error. Thread context.
 */
int memserv_start(struct rpc_node *rn, struct verbs_dev *dev, uint64_t frame_bytes,
		  uint16_t storage, struct memserv **out);

/* Frees every address space and the service. rn must not serve requests
 * any more (rpc_stop() first, or a node that never stops). */
void memserv_stop(struct memserv *ms);

/* The figures MEM_STATS answers. */
void memserv_get_stats(struct memserv *ms, struct mem_stats *st);
/* The service's buffer cache (bcache.h), for other code of the node and
 * self tests. */
struct bcache *memserv_bcache(struct memserv *ms);

/*
 * Self tests only (memserv_ktest.c): an address space for (node, pid)
 * with just the stack VMA and the heap at brk_start (page aligned),
 * replacing any; or one built from an executable image in memory
 * (file, size) as MEM_EXEC would build it from a file. 0 or an errno.
 */
int memserv_test_aspace(struct memserv *ms, uint16_t node, uint32_t pid,
			uint64_t brk_start);
int memserv_test_exec(struct memserv *ms, uint16_t node, const struct mem_exec_req *rq,
		      const void *file, size_t size, struct mem_exec_reply *rp);
/* Self tests: the same from several files in memory, found by path (an
 * executable and the interpreter its PT_INTERP names); a path not among
 * them is -ENOENT. */
struct memserv_test_file {
	const char *path;
	const void *data;
	size_t size;
};
int memserv_test_exec_files(struct memserv *ms, uint16_t node, const struct mem_exec_req *rq,
			    const struct memserv_test_file *files, unsigned n,
			    struct mem_exec_reply *rp);
/* Self tests: makes the vRegion holding addr in the home space of (node,
 * pid) with owner (as a placement would); the references to the frame
 * of va's page in the space (node, pid, home) (0: no page). */
int memserv_test_place(struct memserv *ms, uint16_t node, uint32_t pid, uint64_t addr,
		       uint16_t owner);
uint32_t memserv_test_frame_refs(struct memserv *ms, uint16_t node, uint32_t pid,
				 uint16_t home, uint64_t va);

#endif
