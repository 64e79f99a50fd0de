/*
 * A loopback fabric for self tests (net/loop_fabric.c): a stand-in for
 * fabricd inside the kernel, so that tests of verbs, RPC and the services
 * on top run in every plain `ktest` boot without an ivshmem device or a
 * cluster.
 *
 * It links up to LOOP_MAX_NODES windows in kernel memory (4 MiB each, set
 * up as fabricd would), each with a verbs device. Its doorbell runs
 * synchronously in the poster's thread: it executes every published WQE
 * against the target window with the checks fabric.h asks for (keys,
 * rights, ranges, receive buffers), writes the completions, and raises
 * the "interrupt" (verbs_interrupt) when the target's guest_sleeping says
 * so. It always claims to sleep (fabricd_sleeping = 1), so every post
 * rings. Fences (FAB_WQE_FENCE) as fabricd has them: per pair of nodes,
 * a fenced WQE is flushed if a WQE posted since the previous fenced one
 * failed. Faults: drop the next drop_sends SENDs silently, or deliver the
 * next dup_sends twice.
 *
 * It is deliberately small, not a second fabricd: no latency model, no
 * partitions. The real fabric is tested by the cluster tests
 * (net/fabric_cluster.c, tests/cluster/fabric_test.py).
 */
#ifndef NET_LOOP_FABRIC_H
#define NET_LOOP_FABRIC_H

#include <kernel/spinlock.h>
#include <net/verbs.h>
#include <stdbool.h>
#include <stdint.h>

#define LOOP_MAX_NODES 4
#define LOOP_ORDER     10 /* 4 MiB windows */
#define LOOP_WINDOW    (4096ull << LOOP_ORDER)

struct loop_fabric;

struct loop_node {
	struct loop_fabric *fab;
	uint16_t id;
	uint8_t *win;
	volatile struct fab_window_hdr *hdr;
	struct verbs_dev *dev;
	/* fabricd's private indices (under fab->lock) */
	uint32_t sq_head, cq_tail, rq_head[FAB_MAX_QPS];
	bool raise; /* CQEs written since the last interrupt check */
	bool fence_broken[LOOP_MAX_NODES]; /* per target index: a WQE to it
					      failed since its last fenced one */
};

struct loop_fabric {
	struct spinlock lock;
	struct loop_node nodes[LOOP_MAX_NODES];
	unsigned nnodes;
	unsigned drop_sends, dup_sends; /* faults, under lock */
};

/* A fabric of n nodes with ids first_id, first_id + 1, ..., each with its
 * device and the given generation; NULL if out of memory or n too big. */
struct loop_fabric *loop_create(unsigned n, uint16_t first_id, uint32_t generation);
/* Destroys the devices and frees the windows (QPs must be gone). */
void loop_destroy(struct loop_fabric *f);
/* Restarts node i: a new device on a cleared window, generation + 1. */
bool loop_restart(struct loop_fabric *f, unsigned i);
/* The node with this id, or NULL. */
struct loop_node *loop_find(struct loop_fabric *f, uint16_t id);

#endif
