/*
 * fabricd's fabric: links, wire model, faults and the step function (see
 * wire.h).
 *
 * Life of a work request:
 *   1. fab_sq_take copies it off the requester's SQ, reserving a CQ slot.
 *   2. post: the requester-side checks (exec.c) and reachability; a
 *      failure completes it at once. Otherwise the link's faults are drawn
 *      and its delivery time computed:
 *          due = max(now + latency [+ delay], link.free_at) + bytes / bandwidth
 *      link.free_at = due, so deliveries on a link never overtake.
 *   3. deliver, at due (at once if due <= now and nothing is queued ahead):
 *      a fenced WQE whose link's fence window saw a failure is flushed;
 *      else reachability again, then fab_exec_transfer (which checks every
 *      key and range again) once, or twice if duplicated, or not at all if
 *      dropped; then the requester's completion.
 *
 * Fences. A link's fence window is the WQEs posted on it since its last
 * fenced one; fence_broken says one of them failed. Deliveries come in
 * posting order, so a failure at delivery breaks the window at once; a
 * WQE that fails in step 2, though, completes before the transfers
 * posted ahead of it are delivered, so its failure is attached to the
 * last of them (fail_after) and breaks the window right after that one's
 * delivery: a fenced WQE sees exactly the failures posted before it.
 * A transfer in flight holds one fab_xfer of its requester's pool; there
 * are as many as CQ slots, and each in-flight WQE holds a CQ reservation,
 * so the pool cannot run dry.
 */
#include "wire.h"

#include "check.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define STEP_BUDGET 16 /* WQEs taken per node per step: fairness */

uint64_t fab_rand(struct fab_fabric *f)
{
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 0x2545F4914F6CDD1Dull;
}

double fab_rand_unit(struct fab_fabric *f)
{
	return (double)(fab_rand(f) >> 11) * (1.0 / 9007199254740992.0);
}

/* True with probability frac; draws from the PRNG only if 0 < frac < 1. */
static bool chance(struct fab_fabric *f, double frac)
{
	if (frac <= 0)
		return false;
	if (frac >= 1)
		return true;
	return fab_rand_unit(f) < frac;
}

bool fab_wire_preset(const char *name, struct fab_wire *w)
{
	if (strcmp(name, "ib56") == 0) {
		w->latency_ns = 1500;
		w->bandwidth_gbps = 56;
		return true;
	}
	if (strcmp(name, "none") == 0) {
		w->latency_ns = 0;
		w->bandwidth_gbps = 0;
		return true;
	}
	return false;
}

static void seed_rng(struct fab_fabric *f, uint64_t seed)
{
	f->seed = seed;
	/* splitmix64 of the seed: any seed, even 0, gives a non-zero state */
	seed += 0x9E3779B97F4A7C15ull;
	seed = (seed ^ (seed >> 30)) * 0xBF58476D1CE4E5B9ull;
	seed = (seed ^ (seed >> 27)) * 0x94D049BB133111EBull;
	f->rng = (seed ^ (seed >> 31)) | 1;
}

struct fab_fabric *fab_fabric_new(uint64_t seed)
{
	struct fab_fabric *f = calloc(1, sizeof(*f));

	if (f)
		seed_rng(f, seed);
	return f;
}

void fab_fabric_free(struct fab_fabric *f)
{
	if (!f)
		return;
	for (unsigned i = 0; i < FAB_MAX_NODES; i++)
		free(f->port[i].pool);
	free(f);
}

void fab_fabric_reset(struct fab_fabric *f, uint64_t seed)
{
	struct fab_xfer *pools[FAB_MAX_NODES];

	for (unsigned i = 0; i < FAB_MAX_NODES; i++)
		pools[i] = f->port[i].pool;
	memset(f, 0, sizeof(*f));
	for (unsigned i = 0; i < FAB_MAX_NODES; i++)
		f->port[i].pool = pools[i];
	seed_rng(f, seed);
}

/* Names: a letter or '_', then letters, digits, '_' and '-' (so that they
 * need no quoting in JSON or file names and never look like an id). */
static bool name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= FAB_NAME_MAX || strcmp(name, "control") == 0)
		return false;
	if (!isalpha((unsigned char)name[0]) && name[0] != '_')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
			return false;
	return true;
}

static void pool_reset(struct fab_port *p)
{
	p->free_list = NULL;
	for (unsigned i = 0; i < FAB_CQ_ENTRIES; i++) {
		p->pool[i].next = p->free_list;
		p->free_list = &p->pool[i];
	}
}

int fab_add_node(struct fab_fabric *f, uint16_t id, const char *name, void *win,
		 uint64_t size, struct fab_wire w)
{
	struct fab_port *p;

	if (id == 0 || id >= FAB_MAX_NODES || f->port[id].present || !name_ok(name) ||
	    fab_node_lookup(f, name))
		return -1;
	p = &f->port[id];
	if (!p->pool)
		p->pool = calloc(FAB_CQ_ENTRIES, sizeof(*p->pool));
	if (!p->pool)
		return -1;
	pool_reset(p);
	p->present = true;
	strcpy(p->name, name);
	fab_node_init(&p->node, id, win, size);
	for (unsigned i = 0; i < FAB_MAX_NODES; i++) {
		f->link[id][i].wire = w;
		f->link[i][id].wire = w;
	}
	return 0;
}

uint16_t fab_node_lookup(const struct fab_fabric *f, const char *name)
{
	char *end;
	unsigned long id;

	for (unsigned i = 1; i < FAB_MAX_NODES; i++)
		if (f->port[i].present && strcmp(f->port[i].name, name) == 0)
			return (uint16_t)i;
	if (name[0] < '0' || name[0] > '9')
		return 0;
	id = strtoul(name, &end, 10);
	if (*end || id == 0 || id >= FAB_MAX_NODES || !f->port[id].present)
		return 0;
	return (uint16_t)id;
}

/* --- link queues ---------------------------------------------------------- */

static struct fab_link *link_at(struct fab_fabric *f, unsigned index)
{
	return &f->link[index / FAB_MAX_NODES][index % FAB_MAX_NODES];
}

static void xfer_free(struct fab_fabric *f, struct fab_xfer *x)
{
	struct fab_port *p = &f->port[x->src];

	x->next = p->free_list;
	p->free_list = x;
}

static void enqueue(struct fab_fabric *f, uint16_t src, uint16_t dst, struct fab_xfer *x)
{
	struct fab_link *l = &f->link[src][dst];

	x->next = NULL;
	if (l->tail)
		l->tail->next = x;
	else
		l->head = x;
	l->tail = x;
	if (l->queued++ == 0)
		f->active[f->nactive++] = (uint16_t)(src * FAB_MAX_NODES + dst);
}

static struct fab_xfer *dequeue(struct fab_link *l)
{
	struct fab_xfer *x = l->head;

	l->head = x->next;
	if (!l->head)
		l->tail = NULL;
	l->queued--;
	return x;
}

/* Removes entry k of the active list (its link's queue is empty). */
static void deactivate(struct fab_fabric *f, unsigned k)
{
	f->active[k] = f->active[--f->nactive];
}

/* --- reachability and delivery ------------------------------------------- */

/*
 * Whether src can reach dst now; dst_gen, if not 0, must still be dst's
 * generation. Sets the requester's why if not.
 */
static enum fab_status reach(struct fab_fabric *f, uint16_t src, uint16_t dst,
			     uint32_t dst_gen)
{
	struct fab_port *d = &f->port[dst];
	const char *why = NULL;

	if (!d->present)
		why = "no such node";
	else if (!d->node.attached)
		why = "target not connected";
	else if (d->failed || f->port[src].failed)
		why = "node failed (fault injection)";
	else if (f->link[src][dst].partitioned)
		why = "link partitioned (fault injection)";
	else if (dst_gen && d->node.generation != dst_gen)
		why = "target restarted";
	if (!why)
		return FAB_ST_OK;
	f->port[src].node.why = why;
	return FAB_ST_UNREACHABLE;
}

static void complete(struct fab_fabric *f, struct fab_node *src, const struct fab_wqe *w,
		     enum fab_status st)
{
	if (st != FAB_ST_OK && f->trace)
		f->trace(f->trace_ctx, src, w, st);
	src->why = NULL;
	fab_complete(src, w, st);
}

/*
 * A WQE of src to dst failed when posted (step 2): breaks the fence
 * window of link (src, dst) behind the transfers posted ahead of it.
 * dst may be out of range (then there is no link).
 */
static void fence_fail_posted(struct fab_fabric *f, uint16_t src, uint16_t dst)
{
	struct fab_link *l;

	if (dst == 0 || dst >= FAB_MAX_NODES)
		return;
	l = &f->link[src][dst];
	if (l->tail)
		l->tail->fail_after = true;
	else
		l->fence_broken = true;
}

/* A fenced w on l: true (and the window starts again) if it may run. */
static bool fence_pass(struct fab_link *l)
{
	bool ok = !l->fence_broken;

	l->fence_broken = false;
	return ok;
}

/* Runs x (its time has come) and completes it. */
static void deliver(struct fab_fabric *f, const struct fab_xfer *x)
{
	struct fab_node *src = &f->port[x->src].node;
	const struct fab_wqe *w = &x->wqe;
	struct fab_link *l = &f->link[x->src][w->dst_node];
	bool fenced = w->flags & FAB_WQE_FENCE;
	enum fab_status st;

	if (!src->attached || src->generation != x->src_gen)
		return; /* the requester went away: nobody to complete to */
	if (fenced && !fence_pass(l)) {
		src->why = "fenced behind a failed transfer on its link";
		st = FAB_ST_FLUSHED;
		goto done;
	}
	st = reach(f, x->src, w->dst_node, x->dst_gen);
	if (st == FAB_ST_OK && x->dropped) {
		/* A lost READ cannot be reported as done: the data is missing. */
		st = w->opcode == FAB_OP_READ ? FAB_ST_UNREACHABLE : FAB_ST_OK;
		if (st != FAB_ST_OK)
			src->why = "dropped by fault injection";
	} else if (st == FAB_ST_OK) {
		struct fab_node *dst = &f->port[w->dst_node].node;

		st = fab_exec_transfer(src, dst, w);
		for (unsigned i = 1; i < x->copies; i++) {
			const char *why = src->why;

			fab_exec_transfer(src, dst, w); /* the duplicate: status unseen */
			src->why = why;
		}
	}
	if (st != FAB_ST_OK && !fenced)
		l->fence_broken = true;
done:
	if (x->fail_after)
		l->fence_broken = true;
	complete(f, src, w, st);
}

/* Serialisation time of len bytes on w, in ns (at most FAB_WIRE_MAX_NS). */
static uint64_t wire_ns(const struct fab_wire *w, uint32_t len)
{
	double ns;

	if (!(w->bandwidth_gbps > 0))
		return 0;
	ns = (double)len * 8.0 / w->bandwidth_gbps;
	return ns < (double)FAB_WIRE_MAX_NS ? (uint64_t)ns : FAB_WIRE_MAX_NS;
}

/* Draws l's faults for x and computes its delivery time. */
static void schedule(struct fab_fabric *f, struct fab_link *l, struct fab_xfer *x,
		     uint64_t now)
{
	uint64_t start = now + l->wire.latency_ns;

	x->dropped = chance(f, l->drop);
	x->copies = !x->dropped && chance(f, l->dup) ? 2 : 1;
	if (l->delay_ns && chance(f, l->delay_frac)) {
		start += l->delay_ns;
		l->delayed++;
	}
	if (start < l->free_at_ns)
		start = l->free_at_ns;
	x->due_ns = start + wire_ns(&l->wire, x->wqe.length);
	l->free_at_ns = x->due_ns;
	l->ops++;
	l->bytes += x->wqe.length;
	l->drops += x->dropped;
	l->dups += x->copies > 1;
}

/* A WQE just taken from src's SQ: checks, then onto the wire. */
static void post(struct fab_fabric *f, uint16_t src, const struct fab_wqe *w,
		 uint64_t now)
{
	struct fab_port *p = &f->port[src];
	struct fab_xfer tmp, *x;
	enum fab_status st;
	struct fab_link *l;

	st = fab_exec_local_check(&p->node, w);
	if (st == FAB_ST_OK)
		st = reach(f, src, w->dst_node, 0);
	if (st != FAB_ST_OK) {
		fence_fail_posted(f, src, w->dst_node);
		complete(f, &p->node, w, st);
		return;
	}
	l = &f->link[src][w->dst_node];
	memset(&tmp, 0, sizeof(tmp));
	tmp.wqe = *w;
	tmp.src = src;
	tmp.src_gen = p->node.generation;
	tmp.dst_gen = f->port[w->dst_node].node.generation;
	schedule(f, l, &tmp, now);
	if (!l->queued && tmp.due_ns <= now) {
		deliver(f, &tmp); /* nothing ahead of it and no wire delay */
		return;
	}
	x = p->free_list;
	if (!x) { /* cannot happen: one transfer per CQ reservation */
		fence_fail_posted(f, src, w->dst_node);
		complete(f, &p->node, w, FAB_ST_UNREACHABLE);
		return;
	}
	p->free_list = x->next;
	*x = tmp;
	enqueue(f, src, w->dst_node, x);
}

/* Runs every transfer due at now; returns how many. */
static unsigned run_due(struct fab_fabric *f, uint64_t now)
{
	unsigned done = 0, k = 0;

	while (k < f->nactive) {
		struct fab_link *l = link_at(f, f->active[k]);

		while (l->head && l->head->due_ns <= now) {
			struct fab_xfer *x = dequeue(l);

			deliver(f, x);
			xfer_free(f, x);
			done++;
		}
		if (l->queued == 0)
			deactivate(f, k);
		else
			k++;
	}
	return done;
}

unsigned fab_step(struct fab_fabric *f, uint64_t now_ns)
{
	unsigned done = run_due(f, now_ns);
	struct fab_wqe w;

	for (unsigned id = 1; id < FAB_MAX_NODES; id++) {
		struct fab_port *p = &f->port[id];

		if (!p->present || !p->node.attached)
			continue;
		for (unsigned k = 0; k < STEP_BUDGET; k++) {
			if (fab_sq_take(&p->node, &w) != FAB_TAKE_OK)
				break;
			post(f, (uint16_t)id, &w, now_ns);
			done++;
		}
	}
	return done;
}

bool fab_has_work(struct fab_fabric *f)
{
	for (unsigned id = 1; id < FAB_MAX_NODES; id++)
		if (f->port[id].present && fab_sq_ready(&f->port[id].node))
			return true;
	return false;
}

uint64_t fab_next_due(const struct fab_fabric *f)
{
	uint64_t next = UINT64_MAX;

	for (unsigned k = 0; k < f->nactive; k++) {
		const struct fab_link *l = &f->link[f->active[k] / FAB_MAX_NODES]
						   [f->active[k] % FAB_MAX_NODES];

		if (l->head && l->head->due_ns < next)
			next = l->head->due_ns;
	}
	return next;
}

bool fab_any_blocked(const struct fab_fabric *f)
{
	for (unsigned id = 1; id < FAB_MAX_NODES; id++)
		if (f->port[id].present && f->port[id].node.attached &&
		    f->port[id].node.cq_blocked)
			return true;
	return false;
}

void fab_set_sleeping(struct fab_fabric *f, bool sleeping)
{
	for (unsigned id = 1; id < FAB_MAX_NODES; id++)
		if (f->port[id].present && f->port[id].node.attached)
			fab_set_fabricd_sleeping(&f->port[id].node, sleeping);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void fab_attach(struct fab_fabric *f, uint16_t id)
{
	fab_detach(f, id); /* drops anything left from before */
	fab_node_attach(&f->port[id].node);
	f->port[id].hb_known = false;
}

void fab_detach(struct fab_fabric *f, uint16_t id)
{
	struct fab_port *p = &f->port[id];
	unsigned k = 0;

	/* Every queue of links (id, *) holds only id's transfers. */
	while (k < f->nactive) {
		unsigned index = f->active[k];
		struct fab_link *l = link_at(f, index);

		if (index / FAB_MAX_NODES != id) {
			k++;
			continue;
		}
		while (l->head)
			dequeue(l);
		deactivate(f, k);
	}
	for (unsigned b = 0; b < FAB_MAX_NODES; b++)
		f->link[id][b].fence_broken = false; /* its windows went with it */
	pool_reset(p);
	fab_node_detach(&p->node);
}

void fab_reset_faults(struct fab_fabric *f)
{
	for (unsigned a = 0; a < FAB_MAX_NODES; a++) {
		f->port[a].failed = false;
		for (unsigned b = 0; b < FAB_MAX_NODES; b++) {
			struct fab_link *l = &f->link[a][b];

			l->drop = l->dup = l->delay_frac = 0;
			l->delay_ns = 0;
			l->partitioned = false;
		}
	}
}
