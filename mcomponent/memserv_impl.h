/*
 * The memory service's internals, shared by its parts: memserv.c (the
 * service, the process table, RDMA and the handlers of MISS, FLUSH,
 * MMAP, MUNMAP, MPROTECT, BRK, EXIT, STATS) and exec.c (MEM_EXEC: the
 * ELF loader). Not for other files: the interface is memserv.h.
 */
#ifndef MCOMPONENT_MEMSERV_IMPL_H
#define MCOMPONENT_MEMSERV_IMPL_H

#include "aspace.h"
#include "frames.h"
#include "memserv.h"

#include <kernel/wait.h>
#include <stdbool.h>
#include <stdint.h>

#define MEMSERV_ZOMBIES 8 /* frames of RDMA READs that timed out */

struct mem_proc {
	uint16_t node; /* 0: free slot */
	uint32_t pid;
	struct aspace *as;
};

/* A frame whose RDMA READ timed out, freed at its late completion. */
struct mem_zombie {
	uint64_t wr_id; /* 0: free slot */
	uint32_t frame;
};

struct memserv {
	struct rpc_node *rn; /* set at start: the services table's key */
	struct verbs_dev *dev;
	uint16_t storage; /* the file server of MEM_EXEC (0: none) */
	struct frame_pool frames;

	/* A binary semaphore (a completion with one token): held around
	 * every use of the process table, of an address space and of the
	 * RDMA state below (handlers sleep in RDMA waits with it held). */
	struct completion lock;
	struct mem_proc procs[MEMSERV_MAX_PROCS]; /* under lock */
	struct verbs_qp *qp;			  /* under lock */
	uint64_t wr_seq;			  /* under lock */
	struct mem_zombie zombies[MEMSERV_ZOMBIES]; /* under lock */
	uint64_t lost_frames; /* under lock: zombies that found no slot */

	uint64_t rand_state; /* atomic: AT_RANDOM's generator */
	struct mem_stats stats; /* counters updated atomically */
	bool warned_no_storage;
};

void memserv_lock(struct memserv *ms);
void memserv_unlock(struct memserv *ms);
/* The service of rn, or NULL. */
struct memserv *memserv_of(struct rpc_node *rn);
/* Installs as for (node, pid) (lock held), replacing and destroying any
 * old one. Returns 0, or -ENOMEM (table full: as is not taken). */
int memserv_install(struct memserv *ms, uint16_t node, uint32_t pid, struct aspace *as);
/* 16 bytes for AT_RANDOM (not cryptographic: clock and a counter mixed). */
void memserv_random(struct memserv *ms, uint8_t out[16]);
void memserv_count(uint64_t *counter, uint64_t n);

/* Where MEM_EXEC reads the executable: read(ctx, offset, buf, len)
 * returns the bytes read (fewer only at the end) or an errno. */
struct exec_source {
	long (*read)(void *ctx, uint64_t offset, void *buf, size_t len);
	void *ctx;
	uint64_t size;
};

/* Decodes rq (everything but the file): 0, -EINVAL or -E2BIG. */
int exec_decode(const struct mem_exec_req *rq);
/* Builds pid's new address space from src and installs it for (node,
 * pid); fills *rp. The old one stays until the new one is complete. */
int exec_build(struct memserv *ms, uint16_t node, const struct mem_exec_req *rq,
	       const struct exec_source *src, struct mem_exec_reply *rp);

#endif
