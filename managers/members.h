/*
 * The global managers' member table and placement policies
 * (managers/members.c): portable code, no locks and no clock of its own
 * (the caller passes the time and holds its lock), so the host unit tests
 * run it (tests/unit/test_members.c). The protocol and the policies are
 * described in include/proto/manager.h; managers/managers.c serves them.
 */
#ifndef MANAGERS_MEMBERS_H
#define MANAGERS_MEMBERS_H

#include <proto/manager.h>
#include <stdbool.h>
#include <stdint.h>

struct member {
	uint16_t node; /* 0: free slot */
	uint8_t role;
	uint8_t state; /* enum mgr_member_state */
	uint32_t generation;
	uint64_t heard_ms; /* time of the last heartbeat */
	struct mgr_heartbeat hb; /* the last heartbeat */
	uint64_t frames_charged; /* GMM placements since that heartbeat */
};

struct members {
	struct member m[MGR_MAX_MEMBERS];
	uint64_t rng; /* xorshift state for power of two choices */
};

/* What members_heartbeat saw, for the caller's log. */
enum members_event {
	MEMBERS_SAME,	   /* a known member, nothing changed */
	MEMBERS_JOINED,	   /* first heartbeat */
	MEMBERS_RESTARTED, /* a new generation */
	MEMBERS_BACK,	   /* SUSPECT or DOWN before, UP again */
	MEMBERS_FULL,	   /* no slot left: not recorded */
	MEMBERS_BAD,	   /* a heartbeat with impossible fields: not recorded */
};

void members_init(struct members *ms, uint64_t seed);
/* Records a heartbeat of node (generation gen) at now_ms. */
enum members_event members_heartbeat(struct members *ms, uint16_t node, uint32_t gen,
				     const struct mgr_heartbeat *hb, uint64_t now_ms);
/* Moves silent members to SUSPECT or DOWN. Calls changed(node, state)
 * for each change (may be NULL). */
void members_age(struct members *ms, uint64_t now_ms,
		 void (*changed)(void *ctx, uint16_t node, unsigned state), void *ctx);
/* The member node, or NULL. */
struct member *members_find(struct members *ms, uint16_t node);
unsigned members_count(const struct members *ms);

/* GPM, GMM (which charges the winner), GSM. Return the chosen node, or
 * -EHOSTUNREACH (no candidate UP with the right role; GSM: node unknown
 * or without a storage node), -EINVAL (a malformed candidate list). */
int members_place_process(struct members *ms, const struct mgr_place_req *rq);
int members_place_vregion(struct members *ms, const struct mgr_place_req *rq);
int members_storage_of(struct members *ms, uint16_t node);

#endif
