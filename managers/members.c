/*
 * The member table and placement policies of the global managers
 * (managers/members.h, include/proto/manager.h). A small fixed table: a
 * cluster has at most MGR_MAX_MEMBERS nodes (the RPC peers= limit), so
 * linear scans are the simplest correct choice.
 */
#include "members.h"
#include <kernel/errno.h>
#include <lib/sort.h>
#include <lib/string.h>

void members_init(struct members *ms, uint64_t seed)
{
	memset(ms, 0, sizeof(*ms));
	ms->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

struct member *members_find(struct members *ms, uint16_t node)
{
	for (unsigned i = 0; i < MGR_MAX_MEMBERS; i++)
		if (node && ms->m[i].node == node)
			return &ms->m[i];
	return NULL;
}

unsigned members_count(const struct members *ms)
{
	unsigned n = 0;

	for (unsigned i = 0; i < MGR_MAX_MEMBERS; i++)
		n += ms->m[i].node != 0;
	return n;
}

static bool heartbeat_ok(uint16_t node, const struct mgr_heartbeat *hb)
{
	return node != 0 && (hb->role == 'p' || hb->role == 'm' || hb->role == 's') &&
	       hb->reserved0 == 0 && hb->frames_free <= hb->frames_total &&
	       hb->mem_free_kib <= hb->mem_total_kib;
}

enum members_event members_heartbeat(struct members *ms, uint16_t node, uint32_t gen,
				     const struct mgr_heartbeat *hb, uint64_t now_ms)
{
	struct member *m = members_find(ms, node);
	enum members_event ev = MEMBERS_SAME;

	if (!heartbeat_ok(node, hb))
		return MEMBERS_BAD;
	if (!m) {
		for (unsigned i = 0; i < MGR_MAX_MEMBERS && !m; i++)
			if (!ms->m[i].node)
				m = &ms->m[i];
		if (!m)
			return MEMBERS_FULL;
		ev = MEMBERS_JOINED;
	} else if (m->generation != gen) {
		ev = MEMBERS_RESTARTED;
	} else if (m->state != MGR_UP) {
		ev = MEMBERS_BACK;
	}
	m->node = node;
	m->role = hb->role;
	m->state = MGR_UP;
	m->generation = gen;
	m->heard_ms = now_ms;
	m->hb = *hb;
	m->frames_charged = 0;
	return ev;
}

void members_age(struct members *ms, uint64_t now_ms,
		 void (*changed)(void *ctx, uint16_t node, unsigned state), void *ctx)
{
	for (unsigned i = 0; i < MGR_MAX_MEMBERS; i++) {
		struct member *m = &ms->m[i];
		uint64_t silent = now_ms > m->heard_ms ? now_ms - m->heard_ms : 0;
		unsigned state = m->state;

		if (!m->node)
			continue;
		if (silent >= MGR_DOWN_MS)
			state = MGR_DOWN;
		else if (silent >= MGR_SUSPECT_MS && state == MGR_UP)
			state = MGR_SUSPECT;
		if (state != m->state) {
			m->state = (uint8_t)state;
			if (changed)
				changed(ctx, m->node, state);
		}
	}
}

/* The candidates of rq that are UP members with role; -EINVAL if the
 * list itself is malformed. */
static int candidates(struct members *ms, const struct mgr_place_req *rq, uint8_t role,
		      struct member **out)
{
	unsigned n = 0;

	if (rq->n == 0 || rq->n > MGR_MAX_CANDIDATES)
		return -EINVAL;
	for (unsigned i = 0; i < MGR_MAX_CANDIDATES; i++) {
		struct member *m;

		if (i >= rq->n) {
			if (rq->nodes[i])
				return -EINVAL;
			continue;
		}
		m = members_find(ms, rq->nodes[i]);
		if (m && m->role == role && m->state == MGR_UP)
			out[n++] = m;
	}
	return (int)n;
}

int members_place_process(struct members *ms, const struct mgr_place_req *rq)
{
	struct member *c[MGR_MAX_CANDIDATES], *best = NULL;
	int n = candidates(ms, rq, 'p', c);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++)
		if (!best || c[i]->hb.user_threads < best->hb.user_threads ||
		    (c[i]->hb.user_threads == best->hb.user_threads &&
		     c[i]->node < best->node))
			best = c[i];
	return best ? best->node : -EHOSTUNREACH;
}

static uint64_t frames_left(const struct member *m)
{
	return m->hb.frames_free > m->frames_charged ? m->hb.frames_free - m->frames_charged
						     : 0;
}

/* The freer of a and b (ties: the lower id). */
static struct member *freer(struct member *a, struct member *b)
{
	if (frames_left(a) != frames_left(b))
		return frames_left(a) > frames_left(b) ? a : b;
	return a->node < b->node ? a : b;
}

int members_place_vregion(struct members *ms, const struct mgr_place_req *rq)
{
	struct member *c[MGR_MAX_CANDIDATES], *best;
	int n = candidates(ms, rq, 'm', c);

	if (n < 0)
		return n;
	if (n == 0)
		return -EHOSTUNREACH;
	if (n <= 2) {
		best = freer(c[0], c[n - 1]);
	} else {
		unsigned i = (unsigned)(xorshift64(&ms->rng) % (uint64_t)n);
		unsigned j = (unsigned)(xorshift64(&ms->rng) % (uint64_t)(n - 1));

		best = freer(c[i], c[j >= i ? j + 1 : j]);
	}
	best->frames_charged += MGR_VREGION_CHARGE_FRAMES;
	return best->node;
}

int members_storage_of(struct members *ms, uint16_t node)
{
	struct member *m = members_find(ms, node);

	if (!m || !m->hb.storage)
		return -EHOSTUNREACH;
	return m->hb.storage;
}
