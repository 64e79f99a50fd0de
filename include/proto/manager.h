/*
 * The global managers' protocol (DESIGN.md section 1): membership and
 * coarse placement, served by the global node (managers/). Opcodes MGR_*
 * are in messages.def.
 *
 * Membership. Every other node names the global node with manager=ID on
 * its command line and sends MGR_HEARTBEAT about once a second from its
 * status thread (kernel/status.c); the first heartbeat registers it. A
 * heartbeat carries the node's role, its storage node and its load: what
 * the placement policies read. A member silent for MGR_SUSPECT_MS is
 * SUSPECT, for MGR_DOWN_MS DOWN; a heartbeat with a new generation is a
 * restart (logged) and brings it back UP.
 *
 * Placement (policies are simple now and meant to be replaced):
 *   GPM  MGR_PLACE_PROCESS: of the candidate processors that are UP, the
 *        one running the fewest user threads (ties: the lowest id).
 *   GMM  MGR_PLACE_VREGION: of the candidate memory nodes that are UP, the
 *        one with the most free frames; with more than two candidates,
 *        power of two choices (two drawn at random, the freer one wins).
 *        Each answer lowers the winner's free-frame estimate by a
 *        vRegion's worth of charge (MGR_VREGION_CHARGE_FRAMES) until its
 *        next heartbeat, so a burst does not all land on one node. Asked
 *        by a home for the owner of a new vRegion (vregion: its index),
 *        and by a processor for a new program's home (pid 0, vregion 0:
 *        the home's first vRegions are placed with it), among the
 *        vNode's memory nodes. The client: net/mgr_client.c.
 *   GSM  MGR_STORAGE_OF: the storage node of a node's vNode, as that node
 *        registered it (its storage= word).
 * No candidate UP, or an unknown node: -EHOSTUNREACH.
 */
#ifndef PROTO_MANAGER_H
#define PROTO_MANAGER_H

#include <stdint.h>

#define MGR_MAX_CANDIDATES	   16
#define MGR_MAX_MEMBERS		   16
#define MGR_HEARTBEAT_MS	   1000
#define MGR_SUSPECT_MS		   3000
#define MGR_DOWN_MS		   10000
#define MGR_VREGION_CHARGE_FRAMES  256 /* 1 MiB of expected use per vRegion placed */

enum mgr_member_state {
	MGR_UNKNOWN = 0, /* never heard from */
	MGR_UP,
	MGR_SUSPECT,
	MGR_DOWN,
};

/* MGR_HEARTBEAT. role: 'p', 'm', 's' (the role letter). */
struct mgr_heartbeat {
	uint8_t role;
	uint8_t reserved0; /* 0 */
	uint16_t storage;  /* its storage= node, 0: none */
	uint32_t cpus;
	uint64_t mem_total_kib;
	uint64_t mem_free_kib;
	uint64_t frames_total;	/* memory nodes: page frames for processes */
	uint64_t frames_free;
	uint32_t user_threads;	/* processors: runnable or running user threads */
	uint32_t processes;	/* processors and memory nodes */
	uint64_t uptime_ms;
};
_Static_assert(sizeof(struct mgr_heartbeat) == 56, "mgr_heartbeat wire size");

struct mgr_heartbeat_reply {
	uint32_t members; /* known to the manager, any state */
	uint32_t period_ms; /* when to send the next one */
};
_Static_assert(sizeof(struct mgr_heartbeat_reply) == 8, "mgr_heartbeat_reply wire size");

/* MGR_PLACE_PROCESS and MGR_PLACE_VREGION: pick one of the candidates.
 * n: 1..MGR_MAX_CANDIDATES used entries of nodes (others 0). pid and
 * vregion describe what is placed (for the log and later policies). */
struct mgr_place_req {
	uint32_t n;
	uint32_t pid;
	uint64_t vregion;
	uint16_t nodes[MGR_MAX_CANDIDATES];
};
_Static_assert(sizeof(struct mgr_place_req) == 48, "mgr_place_req wire size");

/* MGR_STORAGE_OF: which storage node serves node's vNode. */
struct mgr_node_req {
	uint32_t node;
	uint32_t reserved; /* 0 */
};
_Static_assert(sizeof(struct mgr_node_req) == 8, "mgr_node_req wire size");

struct mgr_node_reply {
	uint32_t node;
	uint32_t reserved; /* 0 */
};
_Static_assert(sizeof(struct mgr_node_reply) == 8, "mgr_node_reply wire size");

/* MGR_MEMBERS (request: struct mgr_node_req, node 0): the member table. */
struct mgr_member {
	uint16_t node;
	uint8_t role;
	uint8_t state; /* enum mgr_member_state */
	uint32_t generation;
	uint32_t ms_since_heard;
	uint32_t user_threads;
	uint64_t frames_free;
};
_Static_assert(sizeof(struct mgr_member) == 24, "mgr_member wire size");

struct mgr_members {
	uint32_t n;
	uint32_t reserved; /* 0 */
	struct mgr_member m[MGR_MAX_MEMBERS];
};
_Static_assert(sizeof(struct mgr_members) == 8 + 24 * MGR_MAX_MEMBERS,
	       "mgr_members wire size");

#endif
