/*
 * Self tests of the memory service (mcomponent/memserv.c, exec.c), in a
 * plain `ktest` boot of the memory image, on the loopback fabric
 * (include/net/loop_fabric.h): RPC and the server's RDMA run as on the
 * real fabric, between nodes that live in this kernel.
 *
 *   LOOP_M  the memory service (1 MiB of frames)
 *   LOOP_P  a processor: its "ExCache lines" are two pages of its window,
 *           registered for the server's READs and WRITEs
 *   LOOP_Q  another processor, which must not reach LOOP_P's processes;
 *           or the "home" that sends MEM_REGION to LOOP_M; or a second
 *           memory service, the owner of a vRegion whose home is LOOP_M
 *
 * memserv_hints_remap: madvise, msync and mremap of anonymous memory, and
 * MEM_MMAP_FILE's checks (file pages need a storage node: abi-test's
 * mmapfile covers them).
 *
 * Address spaces come from memserv_test_aspace (no storage node here),
 * or from memserv_test_exec with a small ELF image built in memory (and
 * memserv_test_exec_files with a dynamic one and its interpreter); the
 * exec through the file service is the cluster test's. Every test ends
 * with MEM_EXIT and checks that the frame count is back where it was.
 * The bed asks for a handler pool on LOOP_M (rpc_serve_pool); without
 * one (-ENOSYS) the handlers run one at a time, as the log says.
 */
#include "elf.h"
#include "ktest_file.h"
#include "memserv.h"
#include "ustack.h"

#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/time.h>
#include <lib/string.h>
#include <net/fs_client.h>
#include <net/loop_fabric.h>
#include <net/rpc.h>
#include <net/verbs.h>

#define BED_NODES 3
#define LOOP_M	  40
#define LOOP_P	  41
#define LOOP_Q	  42
#define CALL_NS	  (5 * NS_PER_S)
#define PID	  7
#define HEAP	  0x600000ull
#define PROT_RW	  (MEM_PROT_READ | MEM_PROT_WRITE)
#define MAP_PA	  0x22 /* MAP_PRIVATE | MAP_ANONYMOUS */

struct bed {
	struct loop_fabric *fab;
	struct rpc_node *rn[BED_NODES];
	struct memserv *ms;
	struct verbs_buf line; /* two lines in P's window */
	struct verbs_mr mr;
	uint32_t free0; /* frames free at the start */
};

static struct verbs_dev *dev_of(struct bed *b, uint16_t id)
{
	return loop_find(b->fab, id)->dev;
}

static void bed_down(struct bed *b)
{
	for (unsigned i = 0; i < BED_NODES; i++)
		if (b->rn[i])
			rpc_stop(b->rn[i]);
	if (b->ms)
		memserv_stop(b->ms);
	verbs_dereg_mr(dev_of(b, LOOP_P), &b->mr);
	verbs_buf_free(dev_of(b, LOOP_P), &b->line);
	loop_destroy(b->fab);
}

/* The bed with storage as the service's storage node (0: none). */
static bool bed_up_with(struct bed *b, uint16_t storage)
{
	static const uint16_t ids[BED_NODES] = {LOOP_M, LOOP_P, LOOP_Q};
	struct mem_stats st;
	int err;

	memset(b, 0, sizeof(*b));
	b->fab = loop_create(BED_NODES, LOOP_M, 1);
	if (!b->fab)
		return false;
	for (unsigned i = 0; i < BED_NODES; i++)
		if (rpc_start(b->fab->nodes[i].dev, ids, BED_NODES, &b->rn[i]))
			goto fail;
	err = memserv_pool(b->rn[0], 4);
	if (err)
		pr_info("memserv ktest: no pool on the loopback node (%s): one thread serves",
			errno_name(err));
	if (memserv_start(b->rn[0], dev_of(b, LOOP_M), 1 << 20, storage, &b->ms))
		goto fail;
	if (verbs_buf_alloc(dev_of(b, LOOP_P), 2 * 4096, &b->line) ||
	    verbs_reg_mr(dev_of(b, LOOP_P), b->line.offset, b->line.size,
			 FAB_ACCESS_REMOTE_READ | FAB_ACCESS_REMOTE_WRITE, &b->mr))
		goto fail;
	memserv_get_stats(b->ms, &st);
	b->free0 = (uint32_t)st.frames_free;
	return st.frames_total == 256 && st.frames_free == 256;
fail:
	bed_down(b);
	return false;
}

static bool bed_up(struct bed *b)
{
	return bed_up_with(b, 0);
}

static int call(struct bed *b, uint16_t from, unsigned op, const void *rq, size_t rq_len,
		void *rp, size_t rp_len)
{
	return rpc_call(b->rn[from - LOOP_M], LOOP_M, op, rq, rq_len, rp, rp_len, CALL_NS);
}

static int miss(struct bed *b, uint32_t pid, uint64_t va, uint32_t access, unsigned line,
		struct mem_miss_reply *rp)
{
	struct mem_miss_req rq = {.pid = pid, .access = access, .va = va,
				  .line_offset = b->line.offset + line * 4096ull,
				  .line_key = b->mr.key, .home = LOOP_M};

	memset(rp, 0xee, sizeof(*rp));
	return call(b, LOOP_P, MSG_MEM_MISS, &rq, sizeof(rq), rp, sizeof(*rp));
}

static int flush(struct bed *b, uint32_t pid, uint64_t va, unsigned line)
{
	struct mem_flush_req rq = {.pid = pid, .va = va, .line_key = b->mr.key,
				   .line_offset = b->line.offset + line * 4096ull,
				   .home = LOOP_M};
	struct mem_value rp;

	return call(b, LOOP_P, MSG_MEM_FLUSH, &rq, sizeof(rq), &rp, sizeof(rp));
}

/* A layout call (MEM_MMAP, MEM_MUNMAP, MEM_MPROTECT, ...) of pid; its
 * reply's value in *out if out. */
static int map_pid(struct bed *b, uint32_t pid, unsigned op, uint64_t addr, uint64_t len,
		   uint32_t prot, uint32_t flags, uint64_t *out)
{
	struct mem_map_req rq = {.pid = pid, .prot = prot, .flags = flags, .addr = addr,
				 .len = len};
	struct mem_value rp = {0};
	int err = call(b, LOOP_P, op, &rq, sizeof(rq), &rp, sizeof(rp));

	if (out)
		*out = rp.value;
	return err;
}

/* map_pid for PID. */
static int map_call(struct bed *b, unsigned op, uint64_t addr, uint64_t len, uint32_t prot,
		    uint32_t flags, uint64_t *out)
{
	return map_pid(b, PID, op, addr, len, prot, flags, out);
}

static uint64_t pid_call(struct bed *b, unsigned op, uint32_t pid, uint64_t addr, int *err)
{
	struct mem_pid_req rq = {.pid = pid, .addr = addr};
	struct mem_value rp = {0};

	*err = call(b, LOOP_P, op, &rq, sizeof(rq), &rp, sizeof(rp));
	return rp.value;
}

static uint8_t *line_va(struct bed *b, unsigned line)
{
	return (uint8_t *)b->line.va + line * 4096ull;
}

/* MEM_EXIT of PID and the frame count back at the start. */
static void end_process(struct ktest_ctx *kt, struct bed *b)
{
	struct mem_stats st;
	int err;

	pid_call(b, MSG_MEM_EXIT, PID, 0, &err);
	KT_EXPECT_EQ(err, 0);
	memserv_get_stats(b->ms, &st);
	KT_EXPECT_EQ(st.frames_free, b->free0);
	KT_EXPECT_EQ(st.processes, 0);
}

/* Misses of never-written pages, flush then miss, protection. */
KTEST(memserv_miss_flush)
{
	struct mem_miss_reply rp;
	struct mem_stats st;
	struct bed b;
	uint64_t a = 0;

	KT_ASSERT(bed_up(&b));
	KT_ASSERT(memserv_test_aspace(b.ms, LOOP_P, PID, HEAP) == 0);
	/* a stack page never written: ZERO, no transfer */
	memset(line_va(&b, 0), 0x55, 4096);
	KT_EXPECT_EQ(miss(&b, PID, MEM_STACK_TOP - 8, MEM_PROT_WRITE, 0, &rp), 0);
	KT_EXPECT_EQ(rp.flags, MEM_MISS_ZERO);
	KT_EXPECT_EQ(rp.prot, PROT_RW);
	KT_EXPECT_EQ(line_va(&b, 0)[0], 0x55);
	/* the processor writes the line and flushes it; a miss brings it back */
	for (unsigned i = 0; i < 4096; i++)
		line_va(&b, 0)[i] = (uint8_t)(i * 7);
	KT_EXPECT_EQ(flush(&b, PID, MEM_STACK_TOP - 4096, 0), 0);
	memset(line_va(&b, 1), 0, 4096);
	KT_EXPECT_EQ(miss(&b, PID, MEM_STACK_TOP - 100, MEM_PROT_READ, 1, &rp), 0);
	KT_EXPECT_EQ(rp.flags, 0);
	KT_EXPECT(memcmp(line_va(&b, 0), line_va(&b, 1), 4096) == 0);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.frames_free, b.free0 - 1);
	KT_EXPECT_EQ(st.flushes, 1);
	KT_EXPECT_EQ(st.misses, 2);
	KT_EXPECT_EQ(st.zero_misses, 1);
	/* a second flush of the page replaces its frame (no leak) */
	KT_EXPECT_EQ(flush(&b, PID, MEM_STACK_TOP - 4096, 1), 0);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.frames_free, b.free0 - 1);
	/* no VMA: -EFAULT; mmap PROT_READ: write -EACCES, read ZERO */
	KT_EXPECT_EQ(miss(&b, PID, 0x100000, MEM_PROT_READ, 0, &rp), -EFAULT);
	KT_EXPECT_EQ(flush(&b, PID, 0x100000, 0), -EFAULT);
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MMAP, 0, 3 * 4096, MEM_PROT_READ, MAP_PA, &a), 0);
	KT_EXPECT_EQ(a, MEM_MMAP_TOP - 3 * 4096);
	KT_EXPECT_EQ(miss(&b, PID, a + 5, MEM_PROT_WRITE, 0, &rp), -EACCES);
	KT_EXPECT_EQ(miss(&b, PID, a + 5, MEM_PROT_EXEC, 0, &rp), -EACCES);
	KT_EXPECT_EQ(miss(&b, PID, a + 5, MEM_PROT_READ, 0, &rp), 0);
	KT_EXPECT_EQ(rp.prot, MEM_PROT_READ);
	/* mprotect the middle page RW: write allowed there only */
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MPROTECT, a + 4096, 4096, PROT_RW, 0, NULL), 0);
	KT_EXPECT_EQ(miss(&b, PID, a + 4096, MEM_PROT_WRITE, 0, &rp), 0);
	KT_EXPECT_EQ(miss(&b, PID, a + 8192, MEM_PROT_WRITE, 0, &rp), -EACCES);
	KT_EXPECT_EQ(flush(&b, PID, a + 4096, 0), 0);
	/* munmap the middle page: its frame goes, misses get -EFAULT */
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MUNMAP, a + 4096, 4096, 0, 0, NULL), 0);
	KT_EXPECT_EQ(miss(&b, PID, a + 4096, MEM_PROT_READ, 0, &rp), -EFAULT);
	KT_EXPECT_EQ(miss(&b, PID, a, MEM_PROT_READ, 0, &rp), 0);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.frames_free, b.free0 - 1);
	/* another node cannot reach P's process */
	{
		struct mem_miss_req rq = {.pid = PID, .access = 1, .va = a,
					  .line_offset = b.line.offset, .line_key = b.mr.key,
					  .home = LOOP_M};

		KT_EXPECT_EQ(call(&b, LOOP_Q, MSG_MEM_MISS, &rq, sizeof(rq), &rp,
				  sizeof(rp)),
			     -ESRCH);
	}
	end_process(kt, &b);
	bed_down(&b);
}

/* A miss carrying a victim: stored before the line is overwritten. */
KTEST(memserv_victim)
{
	struct mem_miss_req rq;
	struct mem_miss_reply rp;
	struct bed b;
	uint64_t a = 0;

	KT_ASSERT(bed_up(&b));
	KT_ASSERT(memserv_test_aspace(b.ms, LOOP_P, PID, HEAP) == 0);
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MMAP, 0, 2 * 4096, PROT_RW, MAP_PA, &a), 0);
	/* page a is in line 0, dirty; page a + 4096 was flushed before */
	memset(line_va(&b, 0), 0xb2, 4096);
	KT_EXPECT_EQ(flush(&b, PID, a + 4096, 0), 0);
	memset(line_va(&b, 0), 0xa1, 4096);
	memset(&rq, 0, sizeof(rq));
	rq.pid = PID;
	rq.access = MEM_PROT_READ;
	rq.va = a + 4096;
	rq.line_offset = b.line.offset;
	rq.line_key = b.mr.key;
	rq.home = LOOP_M;
	rq.flags = MEM_MISS_VICTIM;
	rq.victim_pid = PID;
	rq.victim_va = a + 17;
	rq.victim_home = LOOP_M;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MISS, &rq, sizeof(rq), &rp, sizeof(rp)), 0);
	KT_EXPECT_EQ(rp.flags, 0);
	KT_EXPECT_EQ(line_va(&b, 0)[100], 0xb2);
	/* the victim came back */
	KT_EXPECT_EQ(miss(&b, PID, a, MEM_PROT_READ, 1, &rp), 0);
	KT_EXPECT_EQ(rp.flags, 0);
	KT_EXPECT_EQ(line_va(&b, 1)[4095], 0xa1);
	/* a victim whose VMA went is dropped, the miss still served */
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MUNMAP, a, 4096, 0, 0, NULL), 0);
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MISS, &rq, sizeof(rq), &rp, sizeof(rp)), 0);
	KT_EXPECT_EQ(miss(&b, PID, a, MEM_PROT_READ, 1, &rp), -EFAULT);
	end_process(kt, &b);
	bed_down(&b);
}

/* brk grows and shrinks as Linux's; mmap placement and flags. */
KTEST(memserv_brk_mmap)
{
	struct mem_miss_reply rp;
	struct mem_stats st;
	struct bed b;
	uint64_t a = 0, x = 0;
	int err;

	KT_ASSERT(bed_up(&b));
	KT_ASSERT(memserv_test_aspace(b.ms, LOOP_P, PID, HEAP) == 0);
	KT_EXPECT_EQ(pid_call(&b, MSG_MEM_BRK, PID, 0, &err), HEAP);
	KT_EXPECT_EQ(pid_call(&b, MSG_MEM_BRK, PID, HEAP - 1, &err), HEAP);
	KT_EXPECT_EQ(pid_call(&b, MSG_MEM_BRK, PID, HEAP + 10000, &err), HEAP + 10000);
	KT_EXPECT_EQ(err, 0);
	KT_EXPECT_EQ(miss(&b, PID, HEAP + 8192, MEM_PROT_WRITE, 0, &rp), 0);
	KT_EXPECT_EQ(miss(&b, PID, HEAP + 12288, MEM_PROT_READ, 0, &rp), -EFAULT);
	KT_EXPECT_EQ(flush(&b, PID, HEAP + 8192, 0), 0);
	KT_EXPECT_EQ(pid_call(&b, MSG_MEM_BRK, PID, HEAP + 4096, &err), HEAP + 4096);
	KT_EXPECT_EQ(miss(&b, PID, HEAP + 8192, MEM_PROT_READ, 0, &rp), -EFAULT);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.frames_free, b.free0); /* the shrink freed the frame */
	/* a fixed mapping right above the break stops it growing there */
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MMAP, HEAP + 16384, 4096, PROT_RW,
			      MAP_PA | 0x10 /* MAP_FIXED */, &a),
		     0);
	KT_EXPECT_EQ(a, HEAP + 16384);
	KT_EXPECT_EQ(pid_call(&b, MSG_MEM_BRK, PID, HEAP + 20000, &err), HEAP + 4096);
	/* MAP_FIXED_NOREPLACE over it: -EEXIST; a hint that is free is used */
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MMAP, HEAP + 16384, 4096, PROT_RW,
			      MAP_PA | 0x100000, &x),
		     -EEXIST);
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MMAP, 0x40000000 - 4096, 8192, PROT_RW, MAP_PA, &x),
		     0);
	KT_EXPECT_EQ(x, 0x40000000 - 4096); /* across a vRegion boundary */
	KT_EXPECT_EQ(miss(&b, PID, 0x40000000, MEM_PROT_WRITE, 0, &rp), 0);
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MPROTECT, x, 8192, MEM_PROT_READ, 0, NULL), 0);
	KT_EXPECT_EQ(miss(&b, PID, 0x40000000, MEM_PROT_WRITE, 0, &rp), -EACCES);
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MPROTECT, x, 3 * 4096, MEM_PROT_READ, 0, NULL),
		     -ENOMEM);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.vmas, 5); /* stack, heap, fixed, two vRegion pieces */
	end_process(kt, &b);
	bed_down(&b);
}

/* madvise, msync and mremap of anonymous memory; MEM_MMAP_FILE's checks
 * (this bed has no storage node: file pages are the cluster test's). */
KTEST(memserv_hints_remap)
{
	struct mem_mmap_file_req *fr = kzalloc(sizeof(*fr));
	struct mem_remap_req rr;
	struct mem_miss_reply rp;
	struct mem_value v = {0};
	struct mem_stats st;
	struct bed b;
	uint64_t a = 0, x = 0, n;

	KT_ASSERT(fr);
	KT_ASSERT(bed_up(&b));
	KT_ASSERT(memserv_test_aspace(b.ms, LOOP_P, PID, HEAP) == 0);
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MMAP, 0, 4 * 4096, PROT_RW, MAP_PA, &a), 0);
	memset(line_va(&b, 0), 0x31, 4096);
	KT_EXPECT_EQ(flush(&b, PID, a, 0), 0);
	memset(line_va(&b, 0), 0x32, 4096);
	KT_EXPECT_EQ(flush(&b, PID, a + 8192, 0), 0);
	/* MADV_DONTNEED of pages 1-2: page 2's frame goes, it reads zero */
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MADVISE, a + 4096, 8192, 0, 4, NULL), 0);
	KT_EXPECT_EQ(miss(&b, PID, a + 8192, MEM_PROT_READ, 1, &rp), 0);
	KT_EXPECT_EQ(rp.flags, MEM_MISS_ZERO);
	KT_EXPECT_EQ(miss(&b, PID, a, MEM_PROT_READ, 1, &rp), 0);
	KT_EXPECT_EQ(rp.flags, 0);
	KT_EXPECT_EQ(line_va(&b, 1)[7], 0x31);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.frames_free, b.free0 - 1);
	/* hints accepted; unknown advice or flags, unaligned: -EINVAL; a
	 * hole: -ENOMEM */
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MADVISE, a, 4 * 4096, 0, 2, NULL), 0);
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MADVISE, a, 4096, 0, 99, NULL), -EINVAL);
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MADVISE, a + 1, 4096, 0, 0, NULL), -EINVAL);
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MADVISE, a, 8 * 4096, 0, 0, NULL), -ENOMEM);
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MSYNC, a, 4 * 4096, 0, 4, NULL), 0);
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MSYNC, a, 4096, 0, 5, NULL), -EINVAL);
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MSYNC, a, 4096, MEM_PROT_READ, 4, NULL), -EINVAL);
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MSYNC, a, 8 * 4096, 0, 4, NULL), -ENOMEM);
	/* mremap: grow in place while the pages above are free */
	rr = (struct mem_remap_req){.pid = PID, .old_addr = a, .old_len = 4 * 4096,
				    .new_len = 5 * 4096};
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MREMAP, &rr, sizeof(rr), &v, sizeof(v)), 0);
	KT_EXPECT_EQ(v.value, a);
	KT_EXPECT_EQ(miss(&b, PID, a + 4 * 4096, MEM_PROT_WRITE, 1, &rp), 0);
	/* then blocked: -ENOMEM without MREMAP_MAYMOVE, a move with it (the
	 * frame moves, nothing is copied; the old range goes) */
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MMAP, a + 5 * 4096, 4096, PROT_RW, MAP_PA | 0x10, &x),
		     0);
	rr.old_len = 5 * 4096;
	rr.new_len = 64 * 4096;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MREMAP, &rr, sizeof(rr), &v, sizeof(v)), -ENOMEM);
	rr.flags = MEM_MREMAP_MAYMOVE;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MREMAP, &rr, sizeof(rr), &v, sizeof(v)), 0);
	n = v.value;
	KT_EXPECT(n != a && n % 4096 == 0);
	KT_EXPECT_EQ(miss(&b, PID, n + 5, MEM_PROT_READ, 1, &rp), 0);
	KT_EXPECT_EQ(rp.flags, 0);
	KT_EXPECT_EQ(line_va(&b, 1)[4095], 0x31);
	KT_EXPECT_EQ(miss(&b, PID, n + 63 * 4096, MEM_PROT_WRITE, 1, &rp), 0);
	KT_EXPECT_EQ(rp.flags, MEM_MISS_ZERO);
	KT_EXPECT_EQ(miss(&b, PID, a, MEM_PROT_READ, 1, &rp), -EFAULT);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.frames_free, b.free0 - 1);
	/* shrink: the tail unmapped, the address kept */
	rr = (struct mem_remap_req){.pid = PID, .old_addr = n, .old_len = 64 * 4096,
				    .new_len = 2 * 4096};
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MREMAP, &rr, sizeof(rr), &v, sizeof(v)), 0);
	KT_EXPECT_EQ(v.value, n);
	KT_EXPECT_EQ(miss(&b, PID, n + 2 * 4096, MEM_PROT_READ, 1, &rp), -EFAULT);
	/* mremap's errors */
	rr.flags = 8;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MREMAP, &rr, sizeof(rr), &v, sizeof(v)), -EINVAL);
	rr.flags = MEM_MREMAP_FIXED;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MREMAP, &rr, sizeof(rr), &v, sizeof(v)), -EINVAL);
	rr = (struct mem_remap_req){.pid = PID, .old_addr = n, .old_len = 3 * 4096,
				    .new_len = 4096};
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MREMAP, &rr, sizeof(rr), &v, sizeof(v)), -EFAULT);
	/* MEM_MMAP_FILE: offset, path and MAP_ANONYMOUS checked, then no
	 * storage node: -ENODEV */
	*fr = (struct mem_mmap_file_req){
		.map = {.pid = PID, .prot = MEM_PROT_READ, .flags = 0x2, .len = 4096},
		.offset = 100, .cred = {0}};
	strlcpy(fr->path, "/x", sizeof(fr->path));
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MMAP_FILE, fr, sizeof(*fr), &v, sizeof(v)),
		     -EINVAL);
	fr->offset = 0;
	fr->map.flags = MAP_PA;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MMAP_FILE, fr, sizeof(*fr), &v, sizeof(v)),
		     -EINVAL);
	fr->map.flags = 0x1; /* MAP_SHARED */
	fr->path[0] = 'x';
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MMAP_FILE, fr, sizeof(*fr), &v, sizeof(v)),
		     -EINVAL);
	fr->path[0] = '/';
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MMAP_FILE, fr, sizeof(*fr), &v, sizeof(v)),
		     -ENODEV);
	kfree(fr);
	end_process(kt, &b);
	bed_down(&b);
}

/* Every bad field gets its errno; the fixed request then succeeds. */
KTEST(memserv_bad_requests)
{
	struct mem_miss_req good = {0}, rq;
	struct mem_miss_reply rp;
	struct mem_map_req mr;
	struct mem_pid_req pr = {0};
	struct mem_stats st;
	struct mem_value v;
	struct bed b;
	int err;

	KT_ASSERT(bed_up(&b));
	KT_ASSERT(memserv_test_aspace(b.ms, LOOP_P, PID, HEAP) == 0);
	good.pid = PID;
	good.access = MEM_PROT_READ;
	good.va = MEM_STACK_TOP - 1;
	good.line_offset = b.line.offset;
	good.line_key = b.mr.key;
	good.home = LOOP_M;
#define MISS_WITH(field, value, want)                                                    \
	do {                                                                             \
		rq = good;                                                               \
		rq.field = value;                                                        \
		KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MISS, &rq, sizeof(rq), &rp,        \
				  sizeof(rp)),                                           \
			     (uint64_t)(want));                                          \
	} while (0)
	MISS_WITH(pid, PID + 1, -ESRCH);
	MISS_WITH(access, 0, -EINVAL);
	MISS_WITH(access, 3, -EINVAL);
	MISS_WITH(va, MEM_USER_TOP, -EFAULT);
	MISS_WITH(va, ~0ull, -EFAULT);
	MISS_WITH(line_offset, b.line.offset + 8, -EINVAL);
	MISS_WITH(line_offset, ~0ull & ~4095ull, -EINVAL);
	/* a page never written: no transfer, so a bad line is not noticed */
	MISS_WITH(line_offset, b.line.offset + 8192, 0);
	MISS_WITH(flags, 2, -EINVAL);
	MISS_WITH(victim_home, 1, -EINVAL);
	MISS_WITH(victim_pid, PID, -EINVAL); /* without MEM_MISS_VICTIM */
	MISS_WITH(victim_va, 4096, -EINVAL);
	/* once the page has a frame, the WRITE to a bad line is refused */
	KT_EXPECT_EQ(flush(&b, PID, good.va, 0), 0);
	MISS_WITH(line_offset, b.line.offset + 8192, -EFAULT); /* outside the MR */
	MISS_WITH(line_key, b.mr.key ^ 0x100, -EFAULT);
	MISS_WITH(home, 0, -EINVAL);
	MISS_WITH(victim_home, 0, 0);
	{
		struct mem_flush_req fr = {.pid = PID, .va = good.va, .line_key = 0,
					   .line_offset = b.line.offset, .home = LOOP_M};

		KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_FLUSH, &fr, sizeof(fr), &v, sizeof(v)),
			     -EFAULT); /* bad key: the page keeps its frame */
		fr.line_key = b.mr.key;
		fr.line_offset += 4;
		KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_FLUSH, &fr, sizeof(fr), &v, sizeof(v)),
			     -EINVAL);
	}
	/* mmap */
#define MMAP_WITH(field, value, want)                                                    \
	do {                                                                             \
		memset(&mr, 0, sizeof(mr));                                              \
		mr.pid = PID;                                                            \
		mr.prot = PROT_RW;                                                       \
		mr.flags = MAP_PA;                                                       \
		mr.len = 4096;                                                           \
		mr.field = value;                                                        \
		KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MMAP, &mr, sizeof(mr), &v,         \
				  sizeof(v)),                                            \
			     (uint64_t)(want));                                          \
	} while (0)
	MMAP_WITH(reserved, 1, -EINVAL);
	MMAP_WITH(prot, 8, -EINVAL);
	MMAP_WITH(len, 0, -EINVAL);
	MMAP_WITH(len, ~0ull, -ENOMEM);
	MMAP_WITH(flags, 0x21, 0);		/* MAP_SHARED: an object of its own */
	MMAP_WITH(flags, 0x02, -ENODEV);	/* a file mapping */
	MMAP_WITH(flags, 0x20, -EINVAL);	/* no type */
	MMAP_WITH(flags, MAP_PA | 0x100, -ENODEV); /* MAP_GROWSDOWN */
	MMAP_WITH(flags, MAP_PA | 0x10000000, -EINVAL);
	MMAP_WITH(flags, MAP_PA | 0x10, -EPERM); /* MAP_FIXED at 0 */
	MMAP_WITH(pid, PID + 1, -ESRCH);
	MMAP_WITH(reserved, 0, 0);
	memset(&mr, 0, sizeof(mr));
	mr.pid = PID;
	mr.flags = MAP_PA | 0x10;
	mr.len = 4096;
	mr.addr = 4096;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MMAP, &mr, sizeof(mr), &v, sizeof(v)), -EPERM);
	mr.addr = 0x10001;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MMAP, &mr, sizeof(mr), &v, sizeof(v)), -EINVAL);
	mr.addr = MEM_USER_TOP - 4096;
	mr.len = 8192;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MMAP, &mr, sizeof(mr), &v, sizeof(v)), -ENOMEM);
	/* munmap, mprotect */
	memset(&mr, 0, sizeof(mr));
	mr.pid = PID;
	mr.addr = 0x10001;
	mr.len = 4096;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MUNMAP, &mr, sizeof(mr), &v, sizeof(v)), -EINVAL);
	mr.addr = 0x10000;
	mr.len = 0;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MUNMAP, &mr, sizeof(mr), &v, sizeof(v)), -EINVAL);
	mr.len = ~0ull - 100;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MUNMAP, &mr, sizeof(mr), &v, sizeof(v)), -EINVAL);
	mr.len = 4096;
	mr.flags = 1;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MUNMAP, &mr, sizeof(mr), &v, sizeof(v)), -EINVAL);
	mr.flags = 0;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MUNMAP, &mr, sizeof(mr), &v, sizeof(v)), 0);
	mr.prot = 0x10;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MPROTECT, &mr, sizeof(mr), &v, sizeof(v)),
		     -EINVAL);
	mr.prot = MEM_PROT_READ;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MPROTECT, &mr, sizeof(mr), &v, sizeof(v)),
		     -ENOMEM); /* nothing mapped there */
	/* brk, exit, stats */
	pr.pid = PID;
	pr.reserved = 1;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_BRK, &pr, sizeof(pr), &v, sizeof(v)), -EINVAL);
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_EXIT, &pr, sizeof(pr), &v, sizeof(v)), -EINVAL);
	pr.reserved = 0;
	pr.addr = 1;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_EXIT, &pr, sizeof(pr), &v, sizeof(v)), -EINVAL);
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_STATS, &pr, sizeof(pr), &st, sizeof(st)),
		     -EINVAL);
	pr.pid = PID + 1;
	pr.addr = 0;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_EXIT, &pr, sizeof(pr), &v, sizeof(v)), -ESRCH);
	pr.pid = 0;
	KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_STATS, &pr, sizeof(pr), &st, sizeof(st)), 0);
	KT_EXPECT_EQ(st.processes, 1);
	KT_EXPECT_EQ(st.frames_total, 256);
	pid_call(&b, MSG_MEM_EXIT, PID, 0, &err);
	KT_EXPECT_EQ(err, 0);
	pid_call(&b, MSG_MEM_EXIT, PID, 0, &err);
	KT_EXPECT_EQ(err, -ESRCH);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.frames_free, b.free0);
	bed_down(&b);
}

/* ---- exec from an image in memory --------------------------------------------------- */

static void w64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* A static executable: R+X text at 0x400000 (headers and code, 0x1800
 * bytes), RW data at 0x402000 with 0x10 file bytes and bss to 0x404100. */
static void make_elf(uint8_t *f)
{
	static const uint8_t ident[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
	uint8_t *ph = f + 64;

	memset(f, 0, 0x3000);
	memcpy(f, ident, 16);
	f[16] = 2;  /* ET_EXEC */
	f[18] = 62; /* x86-64 */
	f[20] = 1;
	w64(f + 24, 0x401000);
	w64(f + 32, 64);
	f[52] = 64;
	f[54] = 56;
	f[56] = 2;
	w64(ph, 1 | (5ull << 32)); /* PT_LOAD, R+X */
	w64(ph + 8, 0);
	w64(ph + 16, 0x400000);
	w64(ph + 32, 0x1800);
	w64(ph + 40, 0x1800);
	w64(ph + 56, 1 | (6ull << 32)); /* PT_LOAD, R+W */
	w64(ph + 64, 0x2000);
	w64(ph + 72, 0x402000);
	w64(ph + 88, 0x10);
	w64(ph + 96, 0x2100);
	memset(f + 0x1000, 0xc3, 0x800); /* "code" */
	memset(f + 0x2000, 0xd4, 0x10);	 /* "data" */
	memset(f + 0x2010, 0xe5, 0x100); /* past filesz: must not show */
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* The MEM_EXEC request both exec tests start from: PID runs /bin/prog
 * with argv "prog arg1", envp "HOME=/", its memory on LOOP_M. */
static void exec_req_init(struct mem_exec_req *rq)
{
	static const char strings[] = "prog\0arg1\0HOME=/";

	rq->pid = PID;
	rq->argc = 2;
	rq->envc = 1;
	rq->strings_len = sizeof(strings);
	memcpy(rq->strings, strings, sizeof(strings));
	memcpy(rq->path, "/bin/prog", 10);
	rq->nmemory = 1;
	rq->memory[0] = LOOP_M;
}

KTEST(memserv_exec_image)
{
	struct mem_exec_req *rq = kzalloc(sizeof(*rq));
	uint8_t *file = kmalloc(0x3000);
	struct mem_exec_reply rp = {0};
	struct mem_miss_reply mp;
	struct mem_stats st;
	struct bed b;
	uint8_t *l;
	uint64_t sp_off;

	KT_ASSERT(rq && file);
	if (!KT_EXPECT(bed_up(&b))) {
		kfree(rq);
		kfree(file);
		return;
	}
	make_elf(file);
	exec_req_init(rq);
	rq->cred.uid = 1000;
	/* bad requests first: nothing installed */
	rq->argc = 3;
	KT_EXPECT_EQ(memserv_test_exec(b.ms, LOOP_P, rq, file, 0x3000, &rp), -EINVAL);
	rq->argc = 2;
	rq->path[0] = 'b';
	KT_EXPECT_EQ(memserv_test_exec(b.ms, LOOP_P, rq, file, 0x3000, &rp), -EINVAL);
	rq->path[0] = '/';
	KT_EXPECT_EQ(memserv_test_exec(b.ms, LOOP_P, rq, file, 0x1000, &rp), -ENOEXEC);
	/* the memory nodes: 1..8, none 0 or twice, the receiver among them */
	rq->nmemory = 0;
	KT_EXPECT_EQ(memserv_test_exec(b.ms, LOOP_P, rq, file, 0x3000, &rp), -EINVAL);
	rq->nmemory = MEM_MAX_NODES + 1;
	KT_EXPECT_EQ(memserv_test_exec(b.ms, LOOP_P, rq, file, 0x3000, &rp), -EINVAL);
	rq->nmemory = 2;
	rq->memory[0] = LOOP_Q;
	rq->memory[1] = LOOP_P;
	KT_EXPECT_EQ(memserv_test_exec(b.ms, LOOP_P, rq, file, 0x3000, &rp), -EINVAL);
	rq->memory[1] = LOOP_Q;
	KT_EXPECT_EQ(memserv_test_exec(b.ms, LOOP_P, rq, file, 0x3000, &rp), -EINVAL);
	rq->memory[1] = 0;
	KT_EXPECT_EQ(memserv_test_exec(b.ms, LOOP_P, rq, file, 0x3000, &rp), -EINVAL);
	rq->memory[1] = LOOP_M;
	rq->memory[2] = LOOP_P; /* past nmemory */
	KT_EXPECT_EQ(memserv_test_exec(b.ms, LOOP_P, rq, file, 0x3000, &rp), -EINVAL);
	rq->memory[2] = 0;
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.processes, 0);
	KT_EXPECT_EQ(st.frames_free, b.free0);

	KT_ASSERT(memserv_test_exec(b.ms, LOOP_P, rq, file, 0x3000, &rp) == 0);
	KT_EXPECT_EQ(rp.entry, 0x401000);
	KT_EXPECT_EQ(rp.brk, 0x405000);
	KT_EXPECT_EQ(rp.sp % 16, 0);
	KT_EXPECT(rp.sp < MEM_STACK_TOP && rp.sp > MEM_STACK_TOP - 4096);
	KT_EXPECT_EQ(rp.frames, 4); /* two text pages, one data page, one stack page */
	/* fresh: the data segment's bss pages, the stack below its page */
	KT_EXPECT_EQ(rp.nfresh, 2);
	KT_EXPECT_EQ(rp.fresh[0].start, 0x403000);
	KT_EXPECT_EQ(rp.fresh[0].end, 0x405000);
	KT_EXPECT_EQ(rp.fresh[0].prot, MEM_PROT_READ | MEM_PROT_WRITE);
	KT_EXPECT_EQ(rp.fresh[1].start, MEM_STACK_TOP - MEM_STACK_SIZE);
	KT_EXPECT_EQ(rp.fresh[1].end, MEM_STACK_TOP - 4096);
	/* text: R+X, the file's bytes */
	KT_EXPECT_EQ(miss(&b, PID, 0x401000, MEM_PROT_EXEC, 0, &mp), 0);
	KT_EXPECT_EQ(mp.prot, MEM_PROT_READ | MEM_PROT_EXEC);
	KT_EXPECT_EQ(line_va(&b, 0)[0x7ff], 0xc3);
	KT_EXPECT_EQ(miss(&b, PID, 0x401000, MEM_PROT_WRITE, 0, &mp), -EACCES);
	/* data: 0x10 bytes, then zeros; bss page beyond: ZERO */
	KT_EXPECT_EQ(miss(&b, PID, 0x402000, MEM_PROT_WRITE, 0, &mp), 0);
	l = line_va(&b, 0);
	KT_EXPECT_EQ(l[0xf], 0xd4);
	KT_EXPECT_EQ(l[0x10], 0);
	KT_EXPECT_EQ(l[0xfff], 0);
	KT_EXPECT_EQ(miss(&b, PID, 0x404000, MEM_PROT_WRITE, 0, &mp), 0);
	KT_EXPECT_EQ(mp.flags, MEM_MISS_ZERO);
	KT_EXPECT_EQ(miss(&b, PID, 0x405000, MEM_PROT_READ, 0, &mp), -EFAULT);
	/* the stack: argc, argv, envp, auxv */
	KT_EXPECT_EQ(miss(&b, PID, rp.sp, MEM_PROT_READ, 0, &mp), 0);
	sp_off = rp.sp & 4095;
	KT_EXPECT_EQ(rd64(l + sp_off), 2);
	KT_EXPECT_EQ(rd64(l + sp_off + 24), 0);	  /* argv NULL */
	KT_EXPECT_EQ(rd64(l + sp_off + 40), 0);	  /* envp NULL */
	KT_EXPECT_EQ(rd64(l + sp_off + 48), AT_PHDR);
	KT_EXPECT_EQ(rd64(l + sp_off + 56), 0x400040);
	KT_EXPECT(memcmp(l + (rd64(l + sp_off + 8) & 4095), "prog", 5) == 0);
	KT_EXPECT(memcmp(l + (rd64(l + sp_off + 32) & 4095), "HOME=/", 7) == 0);
	/* two memory nodes and a manager that cannot place (no GMM on Q):
	 * a new vRegion stays on the home, which serves its misses */
	{
		unsigned manager = kconfig.manager_id;
		uint64_t a = 0;

		kconfig.manager_id = LOOP_Q;
		KT_EXPECT_EQ(map_call(&b, MSG_MEM_MMAP, 0x80000000ull, 4096, PROT_RW, MAP_PA,
				      &a),
			     0);
		kconfig.manager_id = manager;
		KT_EXPECT_EQ(a, 0x80000000ull);
		KT_EXPECT_EQ(miss(&b, PID, a, MEM_PROT_WRITE, 0, &mp), 0);
		KT_EXPECT_EQ(mp.flags, MEM_MISS_ZERO);
		memserv_get_stats(b.ms, &st);
		KT_EXPECT_EQ(st.placed_away, 0);
	}
	/* exec again over it: the old space goes, the frames stay balanced */
	KT_EXPECT_EQ(memserv_test_exec(b.ms, LOOP_P, rq, file, 0x3000, &rp), 0);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.frames_free, b.free0 - 4);
	KT_EXPECT_EQ(st.execs, 2);
	end_process(kt, &b);
	bed_down(&b);
	kfree(rq);
	kfree(file);
}

/* ---- exec of a dynamic executable ------------------------------------------------------ */

#define LDSO	  "/lib/ld.so"
#define LDSO_BASE (ELF_INTERP_TOP - 0x5000) /* make_interp's top is 0x4100 */

/* make_elf's executable with a PT_INTERP naming interp (at file offset
 * 0x200, inside the text segment's bytes). */
static void make_dynamic(uint8_t *f, const char *interp)
{
	uint8_t *ph = f + 64 + 2 * 56;

	make_elf(f);
	f[56] = 3;
	w64(ph, 3 | (4ull << 32)); /* PT_INTERP, R */
	w64(ph + 8, 0x200);
	w64(ph + 16, 0x400200);
	w64(ph + 32, strlen(interp) + 1);
	w64(ph + 40, strlen(interp) + 1);
	memcpy(f + 0x200, interp, strlen(interp) + 1);
}

/* An interpreter: make_elf's layout as ET_DYN linked at 0 (text 0..0x1800
 * with its entry at 0x1000, data at 0x2000 with bss to 0x4100). */
static void make_interp(uint8_t *f)
{
	make_elf(f);
	f[16] = 3; /* ET_DYN */
	w64(f + 24, 0x1000);
	w64(f + 64 + 16, 0);
	w64(f + 64 + 56 + 16, 0x2000);
	memset(f + 0x1000, 0x90, 0x10); /* tell its text from the executable's */
}

/* The value of auxv entry type on the stack page l whose argc is at
 * sp_off (argc 2, envc 1: the auxv from the seventh word), or ~0. */
static uint64_t aux_of(const uint8_t *l, uint64_t sp_off, uint64_t type)
{
	for (uint64_t at = sp_off + 48; at + 16 <= 4096; at += 16) {
		if (rd64(l + at) == type)
			return rd64(l + at + 8);
		if (rd64(l + at) == AT_NULL)
			break;
	}
	return ~0ull;
}

/* Each interpreter refused before anything was installed. */
static void exec_bad_interps(struct ktest_ctx *kt, struct bed *b, struct mem_exec_req *rq,
			     uint8_t *exe, uint8_t *ld)
{
	struct memserv_test_file files[2] = {
		{.path = "/bin/prog", .data = exe, .size = 0x3000},
		{.path = LDSO, .data = ld, .size = 0x3000},
	};
	struct mem_exec_reply rp;
	struct mem_stats st;

	make_dynamic(exe, LDSO);
	/* no such file: its open error */
	KT_EXPECT_EQ(memserv_test_exec_files(b->ms, LOOP_P, rq, files, 1, &rp), -ENOENT);
	/* not an ELF, another machine, ET_EXEC, a PT_INTERP of its own, too short */
	memset(ld, 'x', 0x3000);
	KT_EXPECT_EQ(memserv_test_exec_files(b->ms, LOOP_P, rq, files, 2, &rp), -ELIBBAD);
	make_interp(ld);
	ld[18] = 183;
	KT_EXPECT_EQ(memserv_test_exec_files(b->ms, LOOP_P, rq, files, 2, &rp), -ELIBBAD);
	make_elf(ld);
	KT_EXPECT_EQ(memserv_test_exec_files(b->ms, LOOP_P, rq, files, 2, &rp), -ELIBBAD);
	make_dynamic(ld, LDSO);
	ld[16] = 3;
	KT_EXPECT_EQ(memserv_test_exec_files(b->ms, LOOP_P, rq, files, 2, &rp), -ELIBBAD);
	make_interp(ld);
	files[1].size = 40;
	KT_EXPECT_EQ(memserv_test_exec_files(b->ms, LOOP_P, rq, files, 2, &rp), -ELIBBAD);
	files[1].size = 0x3000;
	/* PT_INTERP relative, or without its NUL: the executable is bad */
	make_dynamic(exe, "lib/ld.so");
	KT_EXPECT_EQ(memserv_test_exec_files(b->ms, LOOP_P, rq, files, 2, &rp), -ENOEXEC);
	make_dynamic(exe, LDSO);
	exe[0x200 + strlen(LDSO)] = 'x';
	KT_EXPECT_EQ(memserv_test_exec_files(b->ms, LOOP_P, rq, files, 2, &rp), -ENOEXEC);
	memserv_get_stats(b->ms, &st);
	KT_EXPECT_EQ(st.processes, 0);
	KT_EXPECT_EQ(st.frames_free, b->free0);
}

KTEST(memserv_exec_dynamic)
{
	struct mem_exec_req *rq = kzalloc(sizeof(*rq));
	uint8_t *exe = kmalloc(0x3000), *ld = kmalloc(0x3000);
	struct memserv_test_file files[2] = {
		{.path = "/bin/prog", .data = exe, .size = 0x3000},
		{.path = LDSO, .data = ld, .size = 0x3000},
	};
	struct mem_exec_reply rp = {0};
	struct mem_miss_reply mp;
	struct mem_stats st;
	struct bed b;
	uint8_t *l;
	uint64_t sp_off;

	KT_ASSERT(rq && exe && ld);
	if (!KT_EXPECT(bed_up(&b))) {
		kfree(rq);
		kfree(exe);
		kfree(ld);
		return;
	}
	exec_req_init(rq);
	exec_bad_interps(kt, &b, rq, exe, ld);

	make_dynamic(exe, LDSO);
	make_interp(ld);
	KT_ASSERT(memserv_test_exec_files(b.ms, LOOP_P, rq, files, 2, &rp) == 0);
	KT_EXPECT_EQ(rp.entry, LDSO_BASE + 0x1000); /* the interpreter's */
	KT_EXPECT_EQ(rp.brk, 0x405000);		      /* after the executable */
	KT_EXPECT_EQ(rp.frames, 7); /* 4 as in memserv_exec_image, 2 + 1 of ld.so */
	/* fresh: both bss ranges and the stack */
	KT_EXPECT_EQ(rp.nfresh, 3);
	KT_EXPECT_EQ(rp.fresh[0].start, 0x403000);
	KT_EXPECT_EQ(rp.fresh[1].start, LDSO_BASE + 0x3000);
	KT_EXPECT_EQ(rp.fresh[1].end, LDSO_BASE + 0x5000);
	KT_EXPECT_EQ(rp.fresh[2].end, MEM_STACK_TOP - 4096);
	/* both images there: the interpreter's text, data, and bss */
	KT_EXPECT_EQ(miss(&b, PID, LDSO_BASE + 0x1000, MEM_PROT_EXEC, 0, &mp), 0);
	KT_EXPECT_EQ(mp.prot, MEM_PROT_READ | MEM_PROT_EXEC);
	KT_EXPECT_EQ(line_va(&b, 0)[0], 0x90);
	KT_EXPECT_EQ(line_va(&b, 0)[0x10], 0xc3);
	KT_EXPECT_EQ(miss(&b, PID, LDSO_BASE + 0x2000, MEM_PROT_WRITE, 0, &mp), 0);
	KT_EXPECT_EQ(line_va(&b, 0)[0xf], 0xd4);
	KT_EXPECT_EQ(line_va(&b, 0)[0x10], 0);
	KT_EXPECT_EQ(miss(&b, PID, LDSO_BASE + 0x5000, MEM_PROT_READ, 0, &mp), -EFAULT);
	KT_EXPECT_EQ(miss(&b, PID, 0x401000, MEM_PROT_EXEC, 0, &mp), 0);
	KT_EXPECT_EQ(line_va(&b, 0)[0], 0xc3);
	/* auxv: AT_BASE the interpreter's, AT_ENTRY and AT_PHDR the executable's */
	KT_EXPECT_EQ(miss(&b, PID, rp.sp, MEM_PROT_READ, 0, &mp), 0);
	l = line_va(&b, 0);
	sp_off = rp.sp & 4095;
	KT_EXPECT_EQ(aux_of(l, sp_off, AT_BASE), LDSO_BASE);
	KT_EXPECT_EQ(aux_of(l, sp_off, AT_ENTRY), 0x401000);
	KT_EXPECT_EQ(aux_of(l, sp_off, AT_PHDR), 0x400040);
	KT_EXPECT_EQ(aux_of(l, sp_off, AT_PHNUM), 3);
	/* a static exec over it: AT_BASE 0, the frames balanced */
	KT_EXPECT_EQ(memserv_test_exec(b.ms, LOOP_P, rq, ld, 0x3000, &rp), 0);
	KT_EXPECT_EQ(rp.entry, ELF_PIE_BIAS + 0x1000); /* ld.so run as a program */
	KT_EXPECT_EQ(miss(&b, PID, rp.sp, MEM_PROT_READ, 0, &mp), 0);
	KT_EXPECT_EQ(aux_of(line_va(&b, 0), rp.sp & 4095, AT_BASE), 0);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.frames_free, b.free0 - 4);
	end_process(kt, &b);
	bed_down(&b);
	kfree(rq);
	kfree(exe);
	kfree(ld);
}

/* ---- fork, remote vRegions, concurrency ---------------------------------------------- */

#define PID2	 8
#define CHILD	 9
#define VR_X	 0x40000000ull /* a vRegion the tests place elsewhere */

static int call_to(struct bed *b, uint16_t from, uint16_t to, unsigned op, const void *rq,
		   size_t rq_len, void *rp, size_t rp_len)
{
	return rpc_call(b->rn[from - LOOP_M], to, op, rq, rq_len, rp, rp_len, CALL_NS);
}

/* A miss or a flush from P to node to, naming home (0: to itself). */
static int miss_at(struct bed *b, uint16_t to, uint16_t home, uint32_t pid, uint64_t va,
		   uint32_t access, unsigned line, struct mem_miss_reply *rp)
{
	struct mem_miss_req rq = {.pid = pid, .access = access, .va = va,
				  .home = home ? home : to,
				  .line_offset = b->line.offset + line * 4096ull,
				  .line_key = b->mr.key};

	memset(rp, 0xee, sizeof(*rp));
	return call_to(b, LOOP_P, to, MSG_MEM_MISS, &rq, sizeof(rq), rp, sizeof(*rp));
}

static int flush_at(struct bed *b, uint16_t to, uint16_t home, uint32_t pid, uint64_t va,
		    unsigned line)
{
	struct mem_flush_req rq = {.pid = pid, .va = va, .home = home ? home : to,
				   .line_key = b->mr.key,
				   .line_offset = b->line.offset + line * 4096ull};
	struct mem_value rp;

	return call_to(b, LOOP_P, to, MSG_MEM_FLUSH, &rq, sizeof(rq), &rp, sizeof(rp));
}

static int fork_call(struct bed *b, uint32_t pid, uint32_t child, uint64_t *shared)
{
	struct mem_fork_req rq = {.pid = pid, .child_pid = child};
	struct mem_value rp = {0};
	int err = call(b, LOOP_P, MSG_MEM_FORK, &rq, sizeof(rq), &rp, sizeof(rp));

	if (shared)
		*shared = rp.value;
	return err;
}

/* MEM_REGION from node from (the "home") to LOOP_M. */
static int region(struct bed *b, uint16_t from, const struct mem_region_req *rq,
		  uint64_t *value)
{
	struct mem_value rp = {0};
	int err = call(b, from, MSG_MEM_REGION, rq, sizeof(*rq), &rp, sizeof(rp));

	if (value)
		*value = rp.value;
	return err;
}

/* Fills line with byte v, flushes it as page va of pid. */
static int put_page(struct bed *b, uint16_t to, uint16_t home, uint32_t pid, uint64_t va,
		    unsigned line, uint8_t v)
{
	memset(line_va(b, line), v, 4096);
	return flush_at(b, to, home, pid, va, line);
}

/* The first byte of page va of pid as a miss brings it into line 1
 * (0 for a ZERO answer), or -1 on an error. */
static int get_byte(struct bed *b, uint16_t to, uint16_t home, uint32_t pid, uint64_t va)
{
	struct mem_miss_reply rp;

	memset(line_va(b, 1), 0x11, 4096);
	if (miss_at(b, to, home, pid, va, MEM_PROT_READ, 1, &rp))
		return -1;
	if (rp.flags == MEM_MISS_ZERO)
		return 0;
	return rp.flags ? -1 : line_va(b, 1)[0];
}

static void exit_pid(struct ktest_ctx *kt, struct bed *b, uint32_t pid)
{
	int err;

	pid_call(b, MSG_MEM_EXIT, pid, 0, &err);
	KT_EXPECT_EQ(err, 0);
}

/* fork: the child sees the parent's pages; a store into either is its
 * own (copy-on-write); both exits give every frame back. */
KTEST(memserv_fork_cow)
{
	const uint64_t s = MEM_STACK_TOP - 4096;
	struct mem_stats st;
	struct bed b;
	uint64_t shared = 0, a = 0;
	int err;

	KT_ASSERT(bed_up(&b));
	KT_ASSERT(memserv_test_aspace(b.ms, LOOP_P, PID, HEAP) == 0);
	KT_EXPECT_EQ(pid_call(&b, MSG_MEM_BRK, PID, HEAP + 8192, &err), HEAP + 8192);
	KT_EXPECT_EQ(put_page(&b, LOOP_M, 0, PID, s, 0, 0xa1), 0);
	KT_EXPECT_EQ(put_page(&b, LOOP_M, LOOP_M, PID, HEAP, 0, 0xa2), 0);
	/* bad forks first */
	KT_EXPECT_EQ(fork_call(&b, PID, 0, NULL), -EINVAL);
	KT_EXPECT_EQ(fork_call(&b, PID, PID, NULL), -EINVAL);
	KT_EXPECT_EQ(fork_call(&b, PID + 100, CHILD, NULL), -ESRCH);
	KT_ASSERT(memserv_test_aspace(b.ms, LOOP_P, PID2, HEAP) == 0);
	KT_EXPECT_EQ(fork_call(&b, PID, PID2, NULL), -EEXIST);
	exit_pid(kt, &b, PID2);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.forks, 0);
	KT_EXPECT_EQ(st.frames_free, b.free0 - 2);
	/* the fork: two pages shared, no frame taken */
	KT_EXPECT_EQ(fork_call(&b, PID, CHILD, &shared), 0);
	KT_EXPECT_EQ(shared, 2);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.forks, 1);
	KT_EXPECT_EQ(st.processes, 2);
	KT_EXPECT_EQ(st.frames_free, b.free0 - 2);
	KT_EXPECT_EQ(memserv_test_frame_refs(b.ms, LOOP_P, CHILD, LOOP_M, s), 2);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, CHILD, s), 0xa1);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, CHILD, HEAP), 0xa2);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, CHILD, HEAP + 4096), 0); /* never written */
	KT_EXPECT_EQ(pid_call(&b, MSG_MEM_BRK, CHILD, 0, &err), HEAP + 8192);
	KT_EXPECT_EQ(fork_call(&b, PID, CHILD, NULL), -EEXIST);
	/* the child stores its stack page: its own frame; the parent's stays */
	KT_EXPECT_EQ(put_page(&b, LOOP_M, 0, CHILD, s, 0, 0xc1), 0);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, CHILD, s), 0xc1);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID, s), 0xa1);
	KT_EXPECT_EQ(memserv_test_frame_refs(b.ms, LOOP_P, PID, LOOP_M, s), 1);
	/* the parent stores its heap page, as a victim of a miss */
	{
		struct mem_miss_req rq = {.pid = PID, .access = MEM_PROT_READ, .va = s,
					  .line_offset = b.line.offset, .line_key = b.mr.key,
					  .flags = MEM_MISS_VICTIM, .victim_pid = PID,
					  .victim_va = HEAP, .home = LOOP_M,
					  .victim_home = LOOP_M};
		struct mem_miss_reply rp;

		memset(line_va(&b, 0), 0xb2, 4096);
		KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MISS, &rq, sizeof(rq), &rp, sizeof(rp)),
			     0);
	}
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID, HEAP), 0xb2);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, CHILD, HEAP), 0xa2);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.cow_copies, 2);
	KT_EXPECT_EQ(st.frames_free, b.free0 - 4);
	/* the child's mmap and munmap are its own */
	{
		struct mem_map_req mr = {.pid = CHILD, .prot = PROT_RW, .flags = MAP_PA,
					 .len = 4096};
		struct mem_value v;

		KT_EXPECT_EQ(call(&b, LOOP_P, MSG_MEM_MMAP, &mr, sizeof(mr), &v, sizeof(v)), 0);
		a = v.value;
	}
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID, a), -1); /* -EFAULT in the parent */
	/* exits: the parent's, then the child's; every frame back */
	exit_pid(kt, &b, PID);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, CHILD, HEAP), 0xa2);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.frames_free, b.free0 - 2);
	exit_pid(kt, &b, CHILD);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.frames_free, b.free0);
	KT_EXPECT_EQ(st.processes, 0);
	bed_down(&b);
}

/* MEM_REGION: every bad field; then a remote space that LOOP_Q ("the
 * home") keeps on LOOP_M for P's process, reached by misses and flushes
 * naming home LOOP_Q. */
KTEST(memserv_region_owner)
{
	const uint64_t x = VR_X + 0x10000;
	struct mem_region_req good = {.proc_node = LOOP_P, .op = MEM_REGION_MAP, .pid = PID,
				      .prot = PROT_RW, .vflags = 0x8 /* VMA_ANON */,
				      .start = x, .end = x + 3 * 4096};
	struct mem_region_req rq;
	struct mem_miss_reply mp;
	struct mem_stats st;
	struct bed b;
	uint64_t v = 0;

	KT_ASSERT(bed_up(&b));
#define REGION_WITH(field, value, want)                                                  \
	do {                                                                             \
		rq = good;                                                               \
		rq.field = value;                                                        \
		KT_EXPECT_EQ(region(&b, LOOP_Q, &rq, NULL), (uint64_t)(want));           \
	} while (0)
	REGION_WITH(proc_node, 0, -EINVAL);
	REGION_WITH(op, 0, -EINVAL);
	REGION_WITH(op, 6, -EINVAL);
	REGION_WITH(reserved, 1, -EINVAL);
	REGION_WITH(child_pid, 3, -EINVAL);
	REGION_WITH(prot, 8, -EINVAL);
	REGION_WITH(vflags, 0, -EINVAL);
	REGION_WITH(vflags, 0x10, -EINVAL);
	REGION_WITH(start, x + 1, -EINVAL);
	REGION_WITH(end, x, -EINVAL);
	REGION_WITH(start, 0, -EINVAL);		       /* below MEM_USER_BASE */
	REGION_WITH(end, VR_X + MEM_VREGION_SIZE + 4096, -EINVAL); /* two vRegions */
	REGION_WITH(end, MEM_USER_TOP + 4096, -EINVAL);
	rq = good;
	rq.op = MEM_REGION_UNMAP;
	KT_EXPECT_EQ(region(&b, LOOP_Q, &rq, NULL), -EINVAL); /* prot set */
	rq.prot = 0;
	rq.vflags = 0;
	KT_EXPECT_EQ(region(&b, LOOP_Q, &rq, NULL), 0); /* nothing held: fine */
	rq = (struct mem_region_req){.proc_node = LOOP_P, .op = MEM_REGION_FORK, .pid = PID};
	KT_EXPECT_EQ(region(&b, LOOP_Q, &rq, NULL), -EINVAL); /* no child */
	rq.child_pid = PID;
	KT_EXPECT_EQ(region(&b, LOOP_Q, &rq, NULL), -EINVAL);
	rq.child_pid = CHILD;
	rq.start = x;
	KT_EXPECT_EQ(region(&b, LOOP_Q, &rq, NULL), -EINVAL);
	rq = good;
	rq.op = MEM_REGION_PROTECT;
	rq.vflags = 0;
	KT_EXPECT_EQ(region(&b, LOOP_Q, &rq, NULL), -ENOMEM); /* nothing held */
	KT_EXPECT_EQ(region(&b, LOOP_M, &good, NULL), -EINVAL); /* from itself */
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.remote_vregions, 0);

	/* the remote space: map, then misses and flushes with home Q */
	KT_EXPECT_EQ(region(&b, LOOP_Q, &good, NULL), 0);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.remote_vregions, 1);
	KT_EXPECT_EQ(st.processes, 0); /* a remote space is not a process here */
	KT_EXPECT_EQ(miss_at(&b, LOOP_M, LOOP_M, PID, x, MEM_PROT_READ, 0, &mp), -ESRCH);
	KT_EXPECT_EQ(miss_at(&b, LOOP_M, LOOP_Q, PID, x, MEM_PROT_WRITE, 0, &mp), 0);
	KT_EXPECT_EQ(mp.flags, MEM_MISS_ZERO);
	KT_EXPECT_EQ(mp.prot, PROT_RW);
	KT_EXPECT_EQ(miss_at(&b, LOOP_M, LOOP_Q, PID, x + 3 * 4096, MEM_PROT_READ, 0, &mp),
		     -EFAULT);
	KT_EXPECT_EQ(put_page(&b, LOOP_M, LOOP_Q, PID, x, 0, 0x5a), 0);
	KT_EXPECT_EQ(put_page(&b, LOOP_M, LOOP_Q, PID, x + 4096, 0, 0x5b), 0);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, LOOP_Q, PID, x), 0x5a);
	KT_EXPECT_EQ(flush_at(&b, LOOP_M, 0, PID, x, 0), -ESRCH); /* no home space */
	/* protect, unmap a page (its frame goes) */
	rq = good;
	rq.op = MEM_REGION_PROTECT;
	rq.prot = MEM_PROT_READ;
	rq.vflags = 0;
	KT_EXPECT_EQ(region(&b, LOOP_Q, &rq, NULL), 0);
	KT_EXPECT_EQ(miss_at(&b, LOOP_M, LOOP_Q, PID, x, MEM_PROT_WRITE, 0, &mp), -EACCES);
	rq.op = MEM_REGION_UNMAP;
	rq.prot = 0;
	rq.start = x + 4096;
	rq.end = x + 2 * 4096;
	KT_EXPECT_EQ(region(&b, LOOP_Q, &rq, NULL), 0);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, LOOP_Q, PID, x + 4096), -1);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.frames_free, b.free0 - 1);
	/* fork of the remote part; the child's page is shared */
	rq = (struct mem_region_req){.proc_node = LOOP_P, .op = MEM_REGION_FORK, .pid = PID,
				     .child_pid = CHILD};
	KT_EXPECT_EQ(region(&b, LOOP_Q, &rq, NULL), 0);
	KT_EXPECT_EQ(region(&b, LOOP_Q, &rq, NULL), -EEXIST);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, LOOP_Q, CHILD, x), 0x5a);
	KT_EXPECT_EQ(memserv_test_frame_refs(b.ms, LOOP_P, CHILD, LOOP_Q, x), 2);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.remote_vregions, 2);
	KT_EXPECT_EQ(st.frames_free, b.free0 - 1);
	/* another processor cannot reach it */
	{
		struct mem_miss_req mq = {.pid = PID, .access = 1, .va = x, .home = LOOP_Q,
					  .line_offset = b.line.offset, .line_key = b.mr.key};

		KT_EXPECT_EQ(call(&b, LOOP_Q, MSG_MEM_MISS, &mq, sizeof(mq), &mp, sizeof(mp)),
			     -ESRCH);
	}
	/* exits: the parent's (1 page), the child's, one again (nothing held) */
	rq = (struct mem_region_req){.proc_node = LOOP_P, .op = MEM_REGION_EXIT, .pid = PID};
	KT_EXPECT_EQ(region(&b, LOOP_Q, &rq, &v), 0);
	KT_EXPECT_EQ(v, 1);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, LOOP_Q, CHILD, x), 0x5a);
	rq.pid = CHILD;
	KT_EXPECT_EQ(region(&b, LOOP_Q, &rq, &v), 0);
	KT_EXPECT_EQ(region(&b, LOOP_Q, &rq, &v), 0);
	KT_EXPECT_EQ(v, 0);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, LOOP_Q, CHILD, x), -1);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.frames_free, b.free0);
	KT_EXPECT_EQ(st.remote_vregions, 0);
	bed_down(&b);
}

/* A home (LOOP_M) with a vRegion owned by LOOP_Q: first without a service
 * on Q (the map is refused and undone), then with one: misses at the home
 * answer ELSEWHERE, the owner serves them, and mmap, munmap, fork and
 * exit reach the owner. */
KTEST(memserv_region_home)
{
	const uint64_t x = VR_X + 0x20000;
	struct memserv *q = NULL;
	struct mem_miss_reply mp;
	struct mem_stats st, qst;
	struct bed b;
	uint64_t a = 0;
	uint32_t q_free0;

	KT_ASSERT(bed_up(&b));
	KT_ASSERT(memserv_test_aspace(b.ms, LOOP_P, PID, HEAP) == 0);
	KT_EXPECT_EQ(memserv_test_place(b.ms, LOOP_P, PID, VR_X, LOOP_Q), 0);
	KT_EXPECT_EQ(memserv_test_place(b.ms, LOOP_P, PID, VR_X, LOOP_M), -EEXIST);
	/* no service on Q: the owner refuses, the home keeps no VMA */
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MMAP, x, 2 * 4096, PROT_RW, MAP_PA, &a), -ENODEV);
	KT_EXPECT_EQ(miss_at(&b, LOOP_M, 0, PID, x, MEM_PROT_READ, 0, &mp), -EFAULT);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.vmas, 1); /* the stack */
	/* a mapping across the vRegion's start: the home's piece is undone too */
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MMAP, VR_X - 4096, 2 * 4096, PROT_RW,
			      MAP_PA | 0x10, &a),
		     -ENODEV);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.vmas, 1);

	KT_ASSERT(memserv_start(b.rn[2], dev_of(&b, LOOP_Q), 1 << 20, 0, &q) == 0);
	memserv_get_stats(q, &qst);
	q_free0 = (uint32_t)qst.frames_free;
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MMAP, x, 2 * 4096, PROT_RW, MAP_PA, &a), 0);
	KT_EXPECT_EQ(a, x);
	memserv_get_stats(q, &qst);
	KT_EXPECT_EQ(qst.remote_vregions, 1);
	/* at the home: ELSEWHERE with the owner, prot 0, line untouched */
	memset(line_va(&b, 0), 0x77, 4096);
	KT_EXPECT_EQ(miss_at(&b, LOOP_M, 0, PID, x, MEM_PROT_WRITE, 0, &mp), 0);
	KT_EXPECT_EQ(mp.flags, MEM_MISS_ELSEWHERE);
	KT_EXPECT_EQ(mp.owner, LOOP_Q);
	KT_EXPECT_EQ(mp.prot, 0);
	KT_EXPECT_EQ(line_va(&b, 0)[5], 0x77);
	KT_EXPECT_EQ(flush_at(&b, LOOP_M, 0, PID, x, 0), -EFAULT); /* not the home's page */
	/* at the owner, naming the home */
	KT_EXPECT_EQ(miss_at(&b, LOOP_Q, LOOP_M, PID, x, MEM_PROT_WRITE, 0, &mp), 0);
	KT_EXPECT_EQ(mp.flags, MEM_MISS_ZERO);
	KT_EXPECT_EQ(put_page(&b, LOOP_Q, LOOP_M, PID, x, 0, 0x3c), 0);
	KT_EXPECT_EQ(get_byte(&b, LOOP_Q, LOOP_M, PID, x), 0x3c);
	/* mprotect reaches the owner */
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MPROTECT, x, 4096, MEM_PROT_READ, 0, NULL), 0);
	KT_EXPECT_EQ(miss_at(&b, LOOP_Q, LOOP_M, PID, x, MEM_PROT_WRITE, 0, &mp), -EACCES);
	/* fork: the owner copies its part */
	KT_EXPECT_EQ(fork_call(&b, PID, CHILD, NULL), 0);
	KT_EXPECT_EQ(miss_at(&b, LOOP_M, 0, CHILD, x, MEM_PROT_READ, 0, &mp), 0);
	KT_EXPECT_EQ(mp.flags, MEM_MISS_ELSEWHERE);
	KT_EXPECT_EQ(get_byte(&b, LOOP_Q, LOOP_M, CHILD, x), 0x3c);
	memserv_get_stats(q, &qst);
	KT_EXPECT_EQ(qst.remote_vregions, 2);
	KT_EXPECT_EQ(qst.frames_free, q_free0 - 1);
	/* munmap of the parent's page: gone at the owner, the child's stays */
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MUNMAP, x, 4096, 0, 0, NULL), 0);
	KT_EXPECT_EQ(miss_at(&b, LOOP_Q, LOOP_M, PID, x, MEM_PROT_READ, 0, &mp), -EFAULT);
	KT_EXPECT_EQ(miss_at(&b, LOOP_M, 0, PID, x, MEM_PROT_READ, 0, &mp), -EFAULT);
	KT_EXPECT_EQ(get_byte(&b, LOOP_Q, LOOP_M, CHILD, x), 0x3c);
	/* exits reach the owner: every frame back there */
	exit_pid(kt, &b, PID);
	exit_pid(kt, &b, CHILD);
	memserv_get_stats(q, &qst);
	KT_EXPECT_EQ(qst.remote_vregions, 0);
	KT_EXPECT_EQ(qst.frames_free, q_free0);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.frames_free, b.free0);
	KT_EXPECT_EQ(st.processes, 0);
	rpc_stop(b.rn[2]);
	b.rn[2] = NULL;
	memserv_stop(q);
	bed_down(&b);
}

/* Two processes' misses and flushes from two threads at once (in the
 * pool's threads if the node has rpc_serve_pool, else one at a time). */
struct conc_worker {
	struct bed *b;
	uint32_t pid;
	unsigned line;
	int result; /* 0, or the first failure's step (> 0) or errno */
};

static void conc_main(void *arg)
{
	struct conc_worker *w = arg;
	struct mem_miss_reply rp;

	w->result = 0;
	for (unsigned i = 0; i < 40 && !w->result; i++) {
		uint64_t va = MEM_STACK_TOP - 4096 * (1 + i % 8);
		uint8_t v = (uint8_t)(w->pid * 16 + i);

		memset(line_va(w->b, w->line), v, 4096);
		w->result = flush_at(w->b, LOOP_M, 0, w->pid, va, w->line);
		memset(line_va(w->b, w->line), 0, 4096);
		if (!w->result)
			w->result = miss_at(w->b, LOOP_M, 0, w->pid, va, MEM_PROT_READ,
					    w->line, &rp);
		if (!w->result && (rp.flags || line_va(w->b, w->line)[4095] != v))
			w->result = 1000 + (int)i;
	}
}

KTEST(memserv_two_processes)
{
	struct conc_worker w[2];
	struct thread *t[2];
	struct mem_stats st;
	struct bed b;

	KT_ASSERT(bed_up(&b));
	KT_ASSERT(memserv_test_aspace(b.ms, LOOP_P, PID, HEAP) == 0);
	KT_ASSERT(memserv_test_aspace(b.ms, LOOP_P, PID2, HEAP) == 0);
	for (unsigned i = 0; i < 2; i++) {
		w[i] = (struct conc_worker){.b = &b, .pid = i ? PID2 : PID, .line = i,
					    .result = -1};
		t[i] = thread_create("memserv-kt", conc_main, &w[i], false);
	}
	for (unsigned i = 0; i < 2; i++) {
		KT_ASSERT(t[i] != NULL);
		thread_join(t[i]);
		KT_EXPECT_EQ(w[i].result, 0);
	}
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.flushes, 80);
	KT_EXPECT_EQ(st.frames_free, b.free0 - 16);
	exit_pid(kt, &b, PID2);
	end_process(kt, &b);
	bed_down(&b);
}

/* ---- MAP_SHARED: one copy per page on the node --------------------------------------- */

#define MAP_SA	 0x21 /* MAP_SHARED | MAP_ANONYMOUS */
#define MAP_SHRD 0x01 /* MAP_SHARED (a file) */
#define MAP_PRIV 0x02 /* MAP_PRIVATE (a file) */

static int remap(struct bed *b, uint32_t pid, uint64_t old, uint64_t old_len,
		 uint64_t new_len, uint32_t flags, uint64_t to, uint64_t *out)
{
	struct mem_remap_req rq = {.pid = pid, .flags = flags, .old_addr = old,
				   .old_len = old_len, .new_len = new_len, .new_addr = to};
	struct mem_value rp = {0};
	int err = call(b, LOOP_P, MSG_MEM_MREMAP, &rq, sizeof(rq), &rp, sizeof(rp));

	*out = rp.value;
	return err;
}

static void shm_counts(struct bed *b, uint64_t *objects, uint64_t *pages)
{
	struct mem_stats st;

	memserv_get_stats(b->ms, &st);
	*objects = st.shm_objects;
	*pages = st.shm_pages;
}

/* The MEM_MAPS entry of pid at addr into *e (its name into name). */
static bool maps_entry(struct bed *b, uint32_t pid, uint64_t addr, struct mem_map_entry *e,
		       char *name, size_t name_len)
{
	struct mem_pid_req rq = {.pid = pid, .addr = addr};
	struct mem_maps *rp = kzalloc(sizeof(*rp));
	bool ok = rp && !call(b, LOOP_P, MSG_MEM_MAPS, &rq, sizeof(rq), rp, sizeof(*rp)) &&
		  rp->n && rp->e[0].start == addr;

	if (ok) {
		*e = rp->e[0];
		strlcpy(name, e->name ? rp->names + e->name - 1 : "", name_len);
	}
	kfree(rp);
	return ok;
}

/* MAP_SHARED | MAP_ANONYMOUS and fork: a store by either process is what
 * the other's next miss gets (no copy-on-write); prot is per VMA;
 * MADV_DONTNEED keeps the pages; mremap keeps the object; past its size
 * a miss is -ENXIO; the last exit frees every frame and the object. */
KTEST(memserv_shared_anon)
{
	struct mem_map_entry e = {0};
	struct mem_miss_reply rp;
	struct mem_stats st;
	struct bed b;
	uint64_t a = 0, m = 0, n = 0, objs, pages;
	char name[64] = "";

	KT_ASSERT(bed_up(&b));
	KT_ASSERT(memserv_test_aspace(b.ms, LOOP_P, PID, HEAP) == 0);
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MMAP, 0, 4 * 4096, PROT_RW, MAP_SA, &a), 0);
	shm_counts(&b, &objs, &pages);
	KT_EXPECT_EQ(objs, 1);
	KT_EXPECT_EQ(pages, 0);
	KT_EXPECT_EQ(miss(&b, PID, a, MEM_PROT_WRITE, 0, &rp), 0);
	KT_EXPECT_EQ(rp.flags, MEM_MISS_ZERO);
	KT_EXPECT(maps_entry(&b, PID, a, &e, name, sizeof(name)));
	KT_EXPECT_EQ(e.kind, MEM_MAP_ANON | MEM_MAP_SHARED);
	KT_EXPECT_EQ(e.offset, 0);
	KT_EXPECT(strcmp(name, "/dev/zero (deleted)") == 0);
	KT_EXPECT_EQ(put_page(&b, LOOP_M, 0, PID, a, 0, 0xa1), 0);
	KT_EXPECT_EQ(fork_call(&b, PID, CHILD, NULL), 0);
	/* the child sees the parent's page, and the parent the child's */
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, CHILD, a), 0xa1);
	KT_EXPECT_EQ(put_page(&b, LOOP_M, 0, CHILD, a + 4096, 0, 0xc2), 0);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID, a + 4096), 0xc2);
	KT_EXPECT_EQ(put_page(&b, LOOP_M, 0, CHILD, a, 0, 0xc1), 0);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID, a), 0xc1);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.cow_copies, 0);
	KT_EXPECT_EQ(st.frames_free, b.free0 - 2);
	KT_EXPECT_EQ(st.shm_pages, 2);
	/* prot is the VMA's: read-only in the child, still writable here */
	KT_EXPECT_EQ(map_pid(&b, CHILD, MSG_MEM_MPROTECT, a, 4096, MEM_PROT_READ, 0, NULL), 0);
	KT_EXPECT_EQ(miss(&b, CHILD, a, MEM_PROT_WRITE, 0, &rp), -EACCES);
	KT_EXPECT_EQ(miss(&b, PID, a, MEM_PROT_WRITE, 0, &rp), 0);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, CHILD, a + 4096), 0xc2); /* split VMA, same object */
	/* MADV_DONTNEED: the shared pages stay */
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MADVISE, a, 4 * 4096, 0, 4, NULL), 0);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID, a), 0xc1);
	/* mremap moves the parent's mapping with its object */
	KT_EXPECT_EQ(remap(&b, PID, a, 4 * 4096, 4 * 4096, MEM_MREMAP_MAYMOVE | MEM_MREMAP_FIXED,
			   a - 0x100000, &m),
		     0);
	KT_EXPECT_EQ(m, a - 0x100000);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID, m + 4096), 0xc2);
	KT_EXPECT_EQ(put_page(&b, LOOP_M, 0, PID, m + 2 * 4096, 0, 0xd3), 0);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, CHILD, a + 2 * 4096), 0xd3);
	/* grown past the object's 4 pages: those pages are a bus error */
	KT_EXPECT_EQ(remap(&b, PID, m, 4 * 4096, 6 * 4096, MEM_MREMAP_MAYMOVE, 0, &n), 0);
	KT_EXPECT_EQ(miss(&b, PID, n + 5 * 4096, MEM_PROT_READ, 0, &rp), -ENXIO);
	KT_EXPECT_EQ(flush(&b, PID, n + 5 * 4096, 0), -ENXIO);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID, n + 2 * 4096), 0xd3);
	/* a fixed address in a vRegion owned elsewhere: refused, nothing
	 * unmapped; a hint there: placed at home instead */
	KT_EXPECT_EQ(memserv_test_place(b.ms, LOOP_P, PID, VR_X, LOOP_Q), 0);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MMAP, VR_X + 0x20000, 4096, PROT_RW, MAP_SA | 0x10,
			      NULL),
		     -ENODEV);
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MMAP, VR_X + 0x20000, 4096, PROT_RW, MAP_SA, &n), 0);
	KT_EXPECT(n / MEM_VREGION_SIZE != VR_X / MEM_VREGION_SIZE);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID, n), 0); /* its own object: zeros */
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MUNMAP, n, 4096, 0, 0, NULL), 0);
	shm_counts(&b, &objs, &pages);
	KT_EXPECT_EQ(objs, 1);
	/* the child's munmap is its own; the parent's exit leaves the child's */
	KT_EXPECT_EQ(map_pid(&b, CHILD, MSG_MEM_MUNMAP, a + 3 * 4096, 4096, 0, 0, NULL), 0);
	KT_EXPECT_EQ(miss(&b, CHILD, a + 3 * 4096, MEM_PROT_READ, 0, &rp), -EFAULT);
	exit_pid(kt, &b, PID);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, CHILD, a + 2 * 4096), 0xd3);
	shm_counts(&b, &objs, &pages);
	KT_EXPECT_EQ(objs, 1);
	exit_pid(kt, &b, CHILD);
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.frames_free, b.free0);
	KT_EXPECT_EQ(st.shm_objects, 0);
	KT_EXPECT_EQ(st.shm_pages, 0);
	KT_EXPECT_EQ(st.processes, 0);
	bed_down(&b);
}

/* MEM_MMAP_FILE of the stand-in file of generation gen for pid. */
static int map_file_gen(struct bed *b, uint32_t pid, uint32_t flags, uint64_t offset,
			uint64_t len, uint32_t gen, uint64_t *out)
{
	struct mem_mmap_file_req *rq = kzalloc(sizeof(*rq));
	struct mem_value rp = {0};
	int err;

	if (!rq)
		return -ENOMEM;
	rq->map = (struct mem_map_req){.pid = pid, .prot = PROT_RW, .flags = flags, .len = len};
	rq->offset = offset;
	rq->ino = INO;
	rq->gen = gen;
	rq->cred = fsc_root;
	strlcpy(rq->path, "/f", sizeof(rq->path));
	err = call(b, LOOP_P, MSG_MEM_MMAP_FILE, rq, sizeof(*rq), &rp, sizeof(rp));
	kfree(rq);
	*out = rp.value;
	return err;
}

static int map_file(struct bed *b, uint32_t pid, uint32_t flags, uint64_t offset,
		    uint64_t len, uint64_t *out)
{
	return map_file_gen(b, pid, flags, offset, len, 0, out);
}

/* Whether the stand-in file's page index is all byte v. */
static bool file_page_is(const struct mem_file *m, uint64_t index, uint8_t v)
{
	for (unsigned i = 0; i < 4096; i++)
		if (m->data[index * 4096 + i] != v)
			return false;
	return true;
}

/* Two processes map one file MAP_SHARED: one object, a store by either
 * is the other's next miss; a MAP_PRIVATE mapping of the file does not
 * see it; msync, exit write it to the file (the buffer cache shows it);
 * after the last unmap a new mapping reads the file again. */
KTEST(memserv_shared_file)
{
	struct bcache_file bf = {.cred = &fsc_root, .path = "/f", .ino = INO};
	struct mem_file m = {0};
	struct mem_stats st;
	struct bed b;
	uint64_t a = 0, x = 0, pv = 0, objs, pages;
	uint8_t buf[16];

	KT_ASSERT(bed_up_with(&b, LOOP_Q));
	m.dev = dev_of(&b, LOOP_M);
	m.data = kzalloc(FILE_CAP);
	KT_ASSERT(m.data);
	m.size = 3 * 4096;
	memset(m.data, 0x10, 4096);
	memset(m.data + 4096, 0x11, 4096);
	memset(m.data + 8192, 0x12, 4096);
	bcache_set_backend(memserv_bcache(b.ms), &mf_ops, &m);
	KT_ASSERT(memserv_test_aspace(b.ms, LOOP_P, PID, HEAP) == 0);
	KT_ASSERT(memserv_test_aspace(b.ms, LOOP_P, PID2, HEAP) == 0);
	/* PID maps file pages 0-1, PID2 pages 1-2 (and 0-1 privately) */
	KT_EXPECT_EQ(map_file(&b, PID, MAP_SHRD, 0, 2 * 4096, &a), 0);
	KT_EXPECT_EQ(map_file(&b, PID2, MAP_SHRD, 4096, 2 * 4096, &x), 0);
	KT_EXPECT_EQ(map_file(&b, PID2, MAP_PRIV, 0, 2 * 4096, &pv), 0);
	shm_counts(&b, &objs, &pages);
	KT_EXPECT_EQ(objs, 1);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID, a + 4096), 0x11);
	/* PID stores file page 1: PID2's shared miss gets it, its private one not */
	KT_EXPECT_EQ(put_page(&b, LOOP_M, 0, PID, a + 4096, 0, 0xa5), 0);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID2, x), 0xa5);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID2, pv + 4096), 0x11);
	KT_EXPECT(file_page_is(&m, 1, 0x11)); /* not written back yet */
	shm_counts(&b, &objs, &pages);
	KT_EXPECT_EQ(pages, 1);
	/* PID2 stores file page 2; PID's msync writes page 1 only (its range) */
	KT_EXPECT_EQ(put_page(&b, LOOP_M, 0, PID2, x + 4096, 0, 0xb6), 0);
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MSYNC, a, 2 * 4096, 0, 4, NULL), 0);
	KT_EXPECT(file_page_is(&m, 1, 0xa5));
	KT_EXPECT(file_page_is(&m, 2, 0x12));
	KT_EXPECT_EQ(bcache_read(memserv_bcache(b.ms), &bf, 4096 + 100, buf, 16), 16);
	KT_EXPECT_EQ(buf[0], 0xa5);
	KT_EXPECT_EQ(map_pid(&b, PID2, MSG_MEM_MSYNC, x, 2 * 4096, 0, 4, NULL), 0);
	KT_EXPECT(file_page_is(&m, 2, 0xb6));
	/* a fork shares the object; the child's store reaches the file at its exit */
	KT_EXPECT_EQ(fork_call(&b, PID, CHILD, NULL), 0);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, CHILD, a + 4096), 0xa5);
	KT_EXPECT_EQ(put_page(&b, LOOP_M, 0, CHILD, a, 0, 0xc7), 0);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID, a), 0xc7);
	exit_pid(kt, &b, CHILD);
	KT_EXPECT(file_page_is(&m, 0, 0xc7));
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.cow_copies, 0);
	/* the last mapping goes: the object with it; a new one reads the file */
	exit_pid(kt, &b, PID);
	exit_pid(kt, &b, PID2);
	shm_counts(&b, &objs, &pages);
	KT_EXPECT_EQ(objs, 0);
	KT_EXPECT_EQ(pages, 0);
	KT_ASSERT(memserv_test_aspace(b.ms, LOOP_P, PID, HEAP) == 0);
	KT_EXPECT_EQ(map_file(&b, PID, MAP_SHRD, 0, 3 * 4096, &a), 0);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID, a), 0xc7);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID, a + 8192), 0xb6);
	exit_pid(kt, &b, PID);
	bcache_forget_all(memserv_bcache(b.ms));
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.frames_free, b.free0);
	KT_EXPECT_EQ(st.shm_objects, 0);
	bed_down(&b);
	kfree(m.data);
}

/* Two lives of one inode number (the file unlinked while mapped, a new
 * file given its number with the next generation) are two objects: the
 * new one's mapping reads the new file, not the old object's pages nor
 * the buffer cache's pages of the old life; the old mapping keeps its
 * pages, and its write-back (-ESTALE from the storage node) never lands
 * in the new file. */
KTEST(memserv_shared_file_generations)
{
	struct mem_file m = {0};
	struct mem_stats st;
	struct bed b;
	uint64_t a = 0, x = 0, y = 0, objs, pages;

	KT_ASSERT(bed_up_with(&b, LOOP_Q));
	m.dev = dev_of(&b, LOOP_M);
	m.data = kzalloc(FILE_CAP);
	KT_ASSERT(m.data);
	m.size = 4096;
	m.gen = 1;
	memset(m.data, 0x10, 4096);
	bcache_set_backend(memserv_bcache(b.ms), &mf_ops, &m);
	KT_ASSERT(memserv_test_aspace(b.ms, LOOP_P, PID, HEAP) == 0);
	KT_ASSERT(memserv_test_aspace(b.ms, LOOP_P, PID2, HEAP) == 0);
	KT_EXPECT_EQ(map_file_gen(&b, PID, MAP_SHRD, 0, 4096, 1, &a), 0);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID, a), 0x10); /* cached by the bcache too */
	KT_EXPECT_EQ(put_page(&b, LOOP_M, 0, PID, a, 0, 0xa1), 0);
	/* unlinked; a new file with its number and the next generation */
	m.gen = 2;
	memset(m.data, 0x20, 4096);
	KT_EXPECT_EQ(map_file_gen(&b, PID2, MAP_SHRD, 0, 4096, 2, &x), 0);
	shm_counts(&b, &objs, &pages);
	KT_EXPECT_EQ(objs, 2);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID2, x), 0x20);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID, a), 0xa1);
	KT_EXPECT_EQ(put_page(&b, LOOP_M, 0, PID2, x, 0, 0xb2), 0);
	KT_EXPECT_EQ(map_pid(&b, PID2, MSG_MEM_MSYNC, x, 4096, 0, 4, NULL), 0);
	KT_EXPECT(file_page_is(&m, 0, 0xb2));
	/* the old object's msync: nothing written, no error (the file is gone) */
	KT_EXPECT_EQ(map_call(&b, MSG_MEM_MSYNC, a, 4096, 0, 4, NULL), 0);
	KT_EXPECT(file_page_is(&m, 0, 0xb2));
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID, a), 0xa1);
	/* out of the table: a new mapping of the file gets the new object */
	KT_EXPECT_EQ(map_file_gen(&b, PID, MAP_SHRD, 0, 4096, 2, &y), 0);
	shm_counts(&b, &objs, &pages);
	KT_EXPECT_EQ(objs, 2);
	KT_EXPECT_EQ(get_byte(&b, LOOP_M, 0, PID, y), 0xb2);
	KT_EXPECT_EQ(put_page(&b, LOOP_M, 0, PID, a, 0, 0xa3), 0);
	exit_pid(kt, &b, PID); /* the old object's last reference: still nothing written */
	KT_EXPECT(file_page_is(&m, 0, 0xb2));
	exit_pid(kt, &b, PID2);
	shm_counts(&b, &objs, &pages);
	KT_EXPECT_EQ(objs, 0);
	KT_EXPECT_EQ(pages, 0);
	bcache_forget_all(memserv_bcache(b.ms));
	memserv_get_stats(b.ms, &st);
	KT_EXPECT_EQ(st.frames_free, b.free0);
	bed_down(&b);
	kfree(m.data);
}

/*
 * MEM_MISS's reply leaves fenced right behind the page's WRITE
 * (rpc_reply_behind). A failed transfer of another request to the same
 * node, posted before, flushes that reply too: the page did arrive, so
 * the reply is sent again and the miss succeeds with the data.
 */
KTEST(memserv_miss_reply_flushed_by_another_failure)
{
	struct verbs_wr bad = {.wr_id = 5, .opcode = FAB_OP_WRITE, .length = 64};
	struct rpc_stats before, after;
	struct mem_miss_reply rp;
	struct verbs_buf src;
	struct verbs_qp *qp;
	struct verbs_wc wc;
	struct bed b;

	KT_ASSERT(bed_up(&b));
	KT_ASSERT(memserv_test_aspace(b.ms, LOOP_P, PID, HEAP) == 0);
	KT_ASSERT(verbs_qp_create(dev_of(&b, LOOP_M), -1, NULL, NULL, &qp) == 0);
	KT_ASSERT(verbs_buf_alloc(dev_of(&b, LOOP_M), 4096, &src) == 0);
	for (unsigned i = 0; i < 4096; i++)
		line_va(&b, 0)[i] = (uint8_t)(i * 13);
	KT_EXPECT_EQ(flush(&b, PID, MEM_STACK_TOP - 4096, 0), 0);
	/* a plain miss: the early reply arrives */
	rpc_get_stats(b.rn[0], &before);
	memset(line_va(&b, 1), 0, 4096);
	KT_EXPECT_EQ(miss(&b, PID, MEM_STACK_TOP - 8, MEM_PROT_READ, 1, &rp), 0);
	KT_EXPECT(memcmp(line_va(&b, 0), line_va(&b, 1), 4096) == 0);
	rpc_get_stats(b.rn[0], &after);
	KT_EXPECT_EQ(after.early_replies - before.early_replies, 1);
	KT_EXPECT_EQ(after.early_resends - before.early_resends, 0);
	/* M's WRITE to P refused (bad key): the next fenced reply is flushed */
	bad.local_offset = src.offset;
	bad.local_key = verbs_local_key(dev_of(&b, LOOP_M));
	bad.remote_key = b.mr.key ^ 0x100;
	bad.remote_offset = b.line.offset;
	KT_EXPECT_EQ(verbs_post_to(qp, LOOP_P, 0, &bad), 0);
	KT_ASSERT(verbs_wait(qp, &wc, CALL_NS) == 0);
	KT_EXPECT_EQ(wc.status, -EACCES);
	memset(line_va(&b, 1), 0, 4096);
	KT_EXPECT_EQ(miss(&b, PID, MEM_STACK_TOP - 8, MEM_PROT_READ, 1, &rp), 0);
	KT_EXPECT_EQ(rp.flags, 0);
	KT_EXPECT_EQ(rp.prot, PROT_RW);
	KT_EXPECT(memcmp(line_va(&b, 0), line_va(&b, 1), 4096) == 0);
	rpc_get_stats(b.rn[0], &before);
	KT_EXPECT_EQ(before.early_replies - after.early_replies, 1);
	KT_EXPECT_EQ(before.early_resends - after.early_resends, 1);
	verbs_qp_destroy(qp);
	verbs_buf_free(dev_of(&b, LOOP_M), &src);
	end_process(kt, &b);
	bed_down(&b);
}
