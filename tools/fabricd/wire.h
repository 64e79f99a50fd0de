/*
 * fabricd's fabric (tools/fabricd/wire.c): the set of nodes, the directed
 * links between them with their wire model (latency, bandwidth) and
 * injected faults (drop, delay, duplicate, partition, failed nodes), the
 * transfers in flight, and fab_step, which takes work requests off every
 * send queue and runs each transfer when the wire delivers it.
 *
 * Links are directed: link (A, B) carries the work requests that node A
 * posts with dst_node B (for a READ the data flows back, but it is still
 * A's request on link (A, B)). Per link, transfers are delivered in the
 * order they were posted, and a fenced one (FAB_WQE_FENCE) runs only if
 * every WQE posted on its link since the previous fenced one completed OK.
 *
 * No I/O and no clock: callers pass the time in nanoseconds, so the
 * fuzzer runs the whole engine in memory. Random choices come from one
 * seeded PRNG (fab_rand), drawn only where a fault fraction is non-zero,
 * so a run repeats with the same seed and the same traffic.
 */
#ifndef FABRICD_WIRE_H
#define FABRICD_WIRE_H

#include "exec.h"

#include <stdbool.h>
#include <stdint.h>

#define FAB_NAME_MAX 32 /* node names, with the NUL */

/* A transfer on the wire: a taken WQE waiting for its delivery time. */
struct fab_xfer {
	struct fab_wqe wqe;
	uint64_t due_ns;  /* delivery (execution) time */
	uint32_t src_gen; /* generations when posted: a restart in between */
	uint32_t dst_gen; /* makes the transfer stale */
	uint16_t src;
	uint8_t copies; /* executions at the target: 1, or 2 if duplicated */
	bool dropped;	/* lost on the wire: never executed */
	bool fail_after; /* a WQE on its link posted after it failed at once:
			    its delivery breaks the link's fence window */
	struct fab_xfer *next;
};

/* Wire model of a link; 0 means none (no added latency, no bandwidth cap).
 * Bandwidths other than 0 are at least FAB_MIN_GBPS (1 Mb/s). */
#define FAB_MIN_GBPS	0.001
#define FAB_MAX_GBPS	1e6
#define FAB_WIRE_MAX_NS 1000000000000000ull /* cap of one transfer's wire time */

struct fab_wire {
	uint64_t latency_ns;
	double bandwidth_gbps;
};

struct fab_link {
	struct fab_wire wire;
	/* faults (reset by fab_reset_faults) */
	double drop;	   /* fraction of transfers lost */
	double dup;	   /* fraction executed twice */
	double delay_frac; /* fraction delayed by delay_ns more */
	uint64_t delay_ns;
	bool partitioned;
	/* state */
	bool fence_broken; /* a WQE since the last fenced one failed (FAB_WQE_FENCE) */
	uint64_t free_at_ns;	      /* last delivery time handed out on this link */
	struct fab_xfer *head, *tail; /* in flight, in due order */
	unsigned queued;
	/* statistics */
	uint64_t ops, bytes, drops, dups, delayed;
};

struct fab_port {
	bool present; /* configured on the command line */
	bool failed;  /* `fail NODE`: every transfer to or from it is UNREACHABLE */
	char name[FAB_NAME_MAX];
	struct fab_node node;
	struct fab_xfer *pool; /* FAB_CQ_ENTRIES transfers: one per CQ reservation */
	struct fab_xfer *free_list;
	/* the guest's status page (control.c fab_status_sample): the last
	 * heartbeat seen and when it changed; reset at each attach */
	bool hb_known;
	uint32_t hb_last;
	uint64_t hb_changed_ns;
};

/*
 * Called for every completion with an error status (why: what failed),
 * for logs. May be NULL.
 */
typedef void fab_trace_fn(void *ctx, const struct fab_node *src, const struct fab_wqe *w,
			  enum fab_status st);

struct fab_fabric {
	struct fab_port port[FAB_MAX_NODES];
	struct fab_link link[FAB_MAX_NODES][FAB_MAX_NODES]; /* [src][dst] */
	uint16_t active[FAB_MAX_NODES * FAB_MAX_NODES]; /* links with transfers queued */
	unsigned nactive;
	uint64_t seed;
	uint64_t rng;
	fab_trace_fn *trace;
	void *trace_ctx;
	uint64_t status_now_ns; /* time of the last fab_status_sample */
};

/* A fabric without nodes; the PRNG seeded with seed. NULL if out of memory. */
struct fab_fabric *fab_fabric_new(uint64_t seed);

/* Frees f and its transfer pools (not the windows). */
void fab_fabric_free(struct fab_fabric *f);

/* Makes f a fabric without nodes again, seeded with seed, keeping its
 * memory (for fuzzers, which build a fabric per input). */
void fab_fabric_reset(struct fab_fabric *f, uint64_t seed);

/*
 * Adds node id (1..FAB_MAX_NODES-1) called name with the zeroed window win
 * of size bytes; every link from or to it gets the wire model w. Names are
 * [A-Za-z_][A-Za-z0-9_-]*, shorter than FAB_NAME_MAX, not "control".
 * Returns 0, or -1 if the id is taken or out of range, the name invalid or
 * taken, or memory ran out.
 */
int fab_add_node(struct fab_fabric *f, uint16_t id, const char *name, void *win,
		 uint64_t size, struct fab_wire w);

/* The node id named name, or a decimal id; 0 if none is present. */
uint16_t fab_node_lookup(const struct fab_fabric *f, const char *name);

/* A VM attached to node id (the caller zeroed its window). Forgets the
 * heartbeat seen from its previous VM. */
void fab_attach(struct fab_fabric *f, uint16_t id);

/* The VM of node id went away: drops its transfers in flight (no
 * completions: nobody is there to read them) and detaches it. */
void fab_detach(struct fab_fabric *f, uint16_t id);

/*
 * One round of work at time now_ns: runs the transfers due, then takes up
 * to a fixed budget of WQEs from each attached node's SQ (round robin) and
 * posts them. Returns the number of transfers run and WQEs taken.
 */
unsigned fab_step(struct fab_fabric *f, uint64_t now_ns);

/* True if a WQE could be taken now (for the re-check before sleeping). */
bool fab_has_work(struct fab_fabric *f);

/* Delivery time of the earliest transfer in flight; UINT64_MAX if none. */
uint64_t fab_next_due(const struct fab_fabric *f);

/* True if some node's SQ is stopped by its full CQ (fabricd then wakes up
 * periodically to see whether the guest drained it). */
bool fab_any_blocked(const struct fab_fabric *f);

/* Sets fabricd_sleeping in every attached window, then a full barrier. */
void fab_set_sleeping(struct fab_fabric *f, bool sleeping);

/* Clears every injected fault (drop, delay, duplicate, partition, failed
 * nodes); wire models stay. */
void fab_reset_faults(struct fab_fabric *f);

/* Next PRNG value (xorshift64*), and a uniform double in [0, 1). */
uint64_t fab_rand(struct fab_fabric *f);
double fab_rand_unit(struct fab_fabric *f);

/* Wire preset by name ("ib56": 56 Gb/s, 1.5 us); false if unknown. */
bool fab_wire_preset(const char *name, struct fab_wire *w);

#endif
