/*
 * RPC over verbs (include/net/rpc.h for the model, include/proto/rpc.h for
 * the wire). This file has three parts: the per-opcode table generated
 * from messages.def, the caller side (pending calls keyed by tag), and the
 * server side (receive slots, one server thread and an optional worker
 * pool, duplicate cache).
 *
 * Caller. A call takes a slot of the pending table (RPC_MAX_PENDING, each
 * with a request and a reply buffer in the window, allocated once). The
 * tag is the slot index in its low 8 bits and a running number above, so
 * a reply for an earlier use of the slot does not match. The reply buffer
 * is registered for the duration of one call (REMOTE_WRITE, a fresh key)
 * and deregistered by whichever comes first: the reply (CQ thread) or
 * the end of the call. The caller sleeps on the slot's completion, which
 * the CQ thread signals for the reply and for failed SENDs only (a
 * successful SEND is no news), and decodes the reply itself. Right after
 * sending, a node's only call in flight polls the completion queue
 * itself (call_spin) for its peer's poll window, so a reply within it
 * costs no interrupt and no thread switch. The window is per peer (a
 * memory node answers sooner than a storage node reading its disk) and
 * adapts by the policy of kernel/pollwin.h (also the CQ thread's) between
 * RPC_POLL_MIN_NS and RPC_POLL_MAX_NS, taught only by calls that
 * outlasted it (call_adapt): a reply that came while polling cost
 * nothing however long the window. A slot is reused only once every SEND
 * from its request buffer has completed, or a second after its call
 * ended (a SEND that never completes must not pin it forever).
 *
 * Server. Each peer has RPC_RECV_DEPTH receive slots: a request buffer
 * posted on the peer's QP and a reply staging buffer. A slot cycles
 * POSTED (fabricd may fill it) -> QUEUED (for the server thread or the
 * pool) -> REPLYING (its reply WRITE_IMM is out) -> POSTED again when that
 * WRITE completes (any status) or, for a reply that never completes, when
 * the server thread reaps it after RPC_REAP_NS. Not reposting until the
 * reply is out is the flow control: a peer that sends faster than we serve
 * gets RNR. Whoever serves a slot decodes before it acts (envelope,
 * msg_header_check, sender, generations, duplicates), then runs the
 * handler. A handler that replies early (rpc_reply_behind: the reply
 * fenced behind its own transfer to the caller) puts its slot in EARLY
 * while it still runs: the reply's completion is then only noted, and
 * the serving thread settles the slot when the handler is done
 * (serve_early_end: reposted, or the final reply sent the usual way).
 *
 * Worker pool (rpc_serve_pool). The CQ thread routes each arrival by the
 * opcode in its header (only a routing hint: the worker decodes it all
 * again) to the server thread's queue or, for opcodes in the pool's range,
 * to the pool's queue, and wakes one thread of that side: a request costs
 * one wake-up either way, and the serial path no more than before. The
 * pool's threads serve requests exactly as the server thread does
 * (serve_one), several at once. What they share is the peer's duplicate
 * cache and client generation, under the peer's dedup_lock. A cached
 * operation takes its cache entry when it starts (marked running) and
 * fills it when it ends, so a copy of a request that is still running
 * (a resend, a duplicated SEND served by another worker) finds the entry
 * and is dropped: the original's reply goes to the same tag and reply
 * key, so it answers the copy too. Reaping stays with the server thread.
 *
 * Locks: rn->lock (pending table, peer generations), rn->srv.lock (the
 * server queue, receive slot states, the pool's routing), rn->pool.wq.lock
 * (the pool's queue) and each peer's dedup_lock (its duplicate cache and
 * client generation) are leaves except for the verbs calls made under
 * rn->lock (verbs_dereg_mr), which take only verbs leaf locks.
 */
#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/pollwin.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/wait.h>
#include <lib/string.h>
#include <net/rpc.h>
#include <proto/rpc.h>

#define RPC_FIRST_RESEND_NS   (50 * NS_PER_MS) /* idempotent: resend after */
#define RPC_MAX_RESEND_NS     (800 * NS_PER_MS)
#define RPC_FIRST_BACKOFF_NS  (20 * NS_PER_US) /* after RNR / unreachable */
#define RPC_MAX_BACKOFF_NS    (5 * NS_PER_MS)
#define RPC_REUSE_NS	      NS_PER_S	     /* slot reuse with a SEND outstanding */
#define RPC_REAP_NS	      (2 * NS_PER_S) /* reply WRITE without completion */
#define RPC_SERVER_TICK_NS    (500 * NS_PER_MS)
#define RPC_REPLY_RNR_RETRIES 8
#define RPC_POLL_MIN_NS	      (20 * NS_PER_US) /* the caller's poll window: */
#define RPC_POLL_MAX_NS	      NS_PER_MS	       /* bounds (kernel/pollwin.h) */
#define RPC_SERVED_EARLY      UINT32_MAX /* serve(): the reply is handled */

/* wr_id kinds (top byte) */
#define WR_CALL	 (1ull << 56) /* SEND of a request: low 32 bits = tag */
#define WR_RECV	 (2ull << 56) /* receive slot: low 16 bits = slot index */
#define WR_REPLY (3ull << 56) /* reply WRITE_IMM: low 16 bits = slot index */
#define WR_KIND	 (0xffull << 56)

_Static_assert(RPC_MAX_PENDING <= 256, "tags keep the slot in 8 bits");

static unsigned tag_slot(uint32_t tag)
{
	return tag % 256;
}
_Static_assert(RPC_RECV_DEPTH <= FAB_RQ_ENTRIES, "receive slots fit the ring");
/* At most RPC_RECV_DEPTH requests of a peer run at once: a free entry for
 * the next one always exists. */
_Static_assert(RPC_RECV_DEPTH < RPC_DEDUP_ENTRIES, "running entries leave room");

/* ---- the opcode table ----------------------------------------------------- */

typedef int (*rpc_fn)(struct rpc_ctx *ctx, const void *req, void *reply);

struct rpc_op {
	unsigned opcode;
	const char *name;
	uint32_t req_size, rep_size;
	int idempotent;
	rpc_fn fn;
};

/* One thunk per opcode, typed by messages.def; -ENOSYS where this image
 * defines no handler (the weak symbol is then 0). */
#define MSG(name, op, req, rep, idem)                                                    \
	static int rpc_thunk_##name(struct rpc_ctx *ctx, const void *q, void *p)         \
	{                                                                                \
		if (!rpc_handle_##name)                                                  \
			return -ENOSYS;                                                  \
		return rpc_handle_##name(ctx, q, p);                                     \
	}
#include <proto/messages.def>
#undef MSG

static const struct rpc_op rpc_ops[] = {
#define MSG(name, op, req, rep, idem)                                                    \
	{op, #name, sizeof(req), sizeof(rep), idem, rpc_thunk_##name},
#include <proto/messages.def>
#undef MSG
};

/* Replies of non-idempotent operations are cached: they must be small. */
#define MSG(name, op, req, rep, idem)                                                    \
	_Static_assert((idem) || sizeof(rep) <= RPC_CACHED_REPLY_MAX,                    \
		       #name ": non-idempotent reply too big to cache");
#include <proto/messages.def>
#undef MSG
#define RPC_REQ_BYTES(req)                                                               \
	(sizeof(struct rpc_envelope) + sizeof(struct msg_header) + sizeof(req))
#define RPC_REP_BYTES(rep) (sizeof(struct msg_header) + sizeof(rep))
#define MSG(name, op, req, rep, idem)                                                    \
	_Static_assert(RPC_REQ_BYTES(req) <= RPC_MAX_REQUEST,                            \
		       #name ": request too big");                                       \
	_Static_assert(RPC_REP_BYTES(rep) <= RPC_MAX_REPLY, #name ": reply too big");
#include <proto/messages.def>
#undef MSG

static const struct rpc_op *op_lookup(unsigned opcode)
{
	for (size_t i = 0; i < sizeof(rpc_ops) / sizeof(rpc_ops[0]); i++)
		if (rpc_ops[i].opcode == opcode)
			return &rpc_ops[i];
	return NULL;
}

/* ---- state ------------------------------------------------------------------ */

enum call_state { CALL_FREE, CALL_WAITING, CALL_DONE };

struct rpc_call {
	unsigned index;
	struct rpc_peer *peer;	  /* under rn->lock */
	uint32_t tag;		  /* under rn->lock; 0 while free */
	enum call_state state;	  /* under rn->lock */
	unsigned sends_out;	  /* under rn->lock: SENDs without completion */
	bool send_failed;	  /* under rn->lock */
	int send_status;	  /* under rn->lock */
	uint32_t reply_bytes;	  /* under rn->lock */
	uint64_t ended_at;	  /* under rn->lock */
	uint64_t replied_at;	  /* under rn->lock: when CALL_DONE was set */
	struct verbs_mr reply_mr; /* under rn->lock */
	struct verbs_buf req, reply;
	struct completion event;
};

enum rslot_state {
	RSLOT_IDLE,
	RSLOT_POSTED,
	RSLOT_QUEUED,
	RSLOT_EARLY, /* served; its reply is out ahead of the handler's end */
	RSLOT_REPLYING,
};

struct rpc_rslot {
	struct rpc_peer *peer;
	unsigned index;
	enum rslot_state state; /* under rn->srv.lock */
	uint32_t len;		/* under rn->srv.lock: bytes received */
	uint64_t since;		/* under rn->srv.lock: REPLYING since */
	struct list_node link;	/* in rn->queue or rn->pool.queue while QUEUED */
	struct verbs_buf in, out;
	struct verbs_wr reply; /* the reply WRITE_IMM while REPLYING or EARLY */
	unsigned rnr_left;     /* resends left if the caller's CQ is full */
	/* rpc_reply_behind's reply: how it completed, for the serving thread */
	bool early_done;	  /* under rn->srv.lock */
	int early_status;	  /* under rn->srv.lock */
	struct completion early_event; /* signalled when early_done is set */
};

/* The request a handler serves (rpc_ctx.serving), for rpc_reply_behind. */
struct rpc_serving {
	struct rpc_rslot *rs;
	const struct rpc_envelope *env;
	const struct rpc_op *op;
	bool early; /* rpc_reply_behind posted the reply */
};

/* A cached reply, or the place of one whose request is running. */
struct dedup_entry {
	bool valid;
	bool running; /* taken by a request being served; no reply yet */
	uint32_t generation;
	uint64_t seq;
	uint32_t len;
	uint8_t reply[sizeof(struct msg_header) + RPC_CACHED_REPLY_MAX];
};

struct rpc_peer {
	struct rpc_node *rn;
	uint16_t node;
	struct verbs_qp *qp;
	uint32_t server_gen; /* under rn->lock: its generation, 0 unknown */
	struct pollwin reply_poll; /* callers poll this long for its replies */
	struct rpc_rslot rslots[RPC_RECV_DEPTH];
	struct spinlock dedup_lock;
	uint32_t client_gen;	    /* under dedup_lock */
	struct dedup_entry *dedup;  /* under dedup_lock: RPC_DEDUP_ENTRIES, a ring */
	unsigned dedup_next;	    /* under dedup_lock */
	uint64_t dedup_evicted_seq; /* under dedup_lock: highest seq pushed out */
};

/* The worker pool (rpc_serve_pool); all zero while there is none. */
struct rpc_pool {
	struct waitq wq;	/* its lock guards queue and stopping */
	struct list_node queue; /* QUEUED slots for the workers */
	bool stopping;
	unsigned nthreads; /* written by rpc_serve_pool and rpc_stop only */
	struct thread *threads[RPC_MAX_WORKERS];
};

struct rpc_node {
	struct verbs_dev *dev;
	uint16_t self;
	uint32_t generation;
	unsigned npeers;
	struct rpc_peer peers[RPC_MAX_PEERS];

	struct spinlock lock;
	struct rpc_call calls[RPC_MAX_PENDING];
	uint32_t next_tag; /* under lock */
	uint64_t next_seq; /* atomic */
	bool spinning;	   /* atomic: a caller polls the CQ (call_spin) */
	unsigned calls_out; /* atomic: calls between call_get and call_put */

	struct waitq srv; /* its lock guards queue, slot states, pool_* */
	struct list_node queue;
	struct thread *server;
	volatile bool stopping;
	bool pool_claimed;		/* under srv.lock: rpc_serve_pool ran */
	bool pool_active;		/* under srv.lock: route to the pool */
	unsigned pool_nranges;		/* under srv.lock: its opcodes, */
	struct {
		uint16_t first, last;	/* ranges of them, inclusive */
	} pool_range[RPC_POOL_RANGES];
	struct rpc_pool pool;

	struct rpc_stats stats;
};

static struct spinlock open_lock = SPINLOCK_INIT("rpc-open");
static struct rpc_node *node_rpc; /* under open_lock */

static void stat_add(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

uint16_t rpc_node_id(const struct rpc_node *rn)
{
	return rn->self;
}

void rpc_get_stats(const struct rpc_node *rn, struct rpc_stats *st)
{
	*st = rn->stats;
}

static struct rpc_peer *peer_of(struct rpc_node *rn, uint16_t node)
{
	for (unsigned i = 0; i < rn->npeers; i++)
		if (rn->peers[i].node == node)
			return &rn->peers[i];
	return NULL;
}

uint32_t rpc_peer_generation(struct rpc_node *rn, uint16_t node)
{
	struct rpc_peer *p = peer_of(rn, node);
	uint32_t gen;

	if (!p)
		return 0;
	spin_lock(&rn->lock);
	gen = p->server_gen;
	spin_unlock(&rn->lock);
	return gen;
}

/* ---- server: receive slots ------------------------------------------------- */

static void rslot_post(struct rpc_rslot *rs)
{
	struct rpc_node *rn = rs->peer->rn;
	int err;

	spin_lock(&rn->srv.lock);
	rs->state = RSLOT_POSTED;
	spin_unlock(&rn->srv.lock);
	err = verbs_post_recv(rs->peer->qp, rs->in.offset, RPC_MAX_REQUEST,
			      verbs_local_key(rn->dev), WR_RECV | rs->index);
	if (err) {
		/* Cannot happen: a slot is posted at most once at a time. */
		pr_warn("rpc: cannot post a receive buffer for node %u (%d)",
			rs->peer->node, err);
		spin_lock(&rn->srv.lock);
		rs->state = RSLOT_IDLE;
		spin_unlock(&rn->srv.lock);
	}
}

/*
 * The opcode a received request claims, for routing only (whoever serves
 * it checks the header); 0 if it is too short to have one.
 */
static unsigned rslot_opcode(const struct rpc_rslot *rs, uint32_t len)
{
	struct msg_header h;

	if (len < sizeof(struct rpc_envelope) + sizeof(h) || len > RPC_MAX_REQUEST)
		return 0;
	memcpy(&h, (const uint8_t *)rs->in.va + sizeof(struct rpc_envelope), sizeof(h));
	return h.opcode;
}

/* Is opcode one of the pool's? Caller holds rn->srv.lock. */
static bool pool_serves_locked(const struct rpc_node *rn, unsigned opcode)
{
	for (unsigned i = 0; i < rn->pool_nranges; i++)
		if (opcode >= rn->pool_range[i].first && opcode <= rn->pool_range[i].last)
			return true;
	return false;
}

/* CQ thread: a request arrived in slot rs; queue it for its server. */
static void rslot_received(struct rpc_rslot *rs, const struct verbs_wc *wc)
{
	struct rpc_node *rn = rs->peer->rn;
	unsigned opcode;
	bool pooled;

	if (wc->status) {
		/* The buffer was not filled; give it back. */
		stat_add(&rn->stats.bad_requests);
		rslot_post(rs);
		return;
	}
	opcode = rslot_opcode(rs, wc->byte_len);
	spin_lock(&rn->srv.lock);
	rs->state = RSLOT_QUEUED;
	rs->len = wc->byte_len;
	pooled = rn->pool_active && pool_serves_locked(rn, opcode);
	if (!pooled) {
		list_push_back(&rn->queue, &rs->link);
		waitq_wake_one_locked(&rn->srv);
	}
	spin_unlock(&rn->srv.lock);
	if (pooled) {
		spin_lock(&rn->pool.wq.lock);
		list_push_back(&rn->pool.queue, &rs->link);
		waitq_wake_one_locked(&rn->pool.wq);
		spin_unlock(&rn->pool.wq.lock);
	}
}

/* Takes slot rs back from REPLYING; false if someone else did already. */
static bool rslot_claim_replying(struct rpc_rslot *rs)
{
	struct rpc_node *rn = rs->peer->rn;
	bool mine;

	spin_lock(&rn->srv.lock);
	mine = rs->state == RSLOT_REPLYING;
	if (mine)
		rs->state = RSLOT_IDLE;
	spin_unlock(&rn->srv.lock);
	return mine;
}

/* Hands the completion of an early reply (state EARLY) to the thread
 * serving rs; false if rs is not EARLY (any more). */
static bool rslot_early_done(struct rpc_rslot *rs, int status)
{
	struct rpc_node *rn = rs->peer->rn;
	bool early;

	spin_lock(&rn->srv.lock);
	early = rs->state == RSLOT_EARLY;
	if (early) {
		rs->early_done = true;
		rs->early_status = status;
		complete(&rs->early_event);
	}
	spin_unlock(&rn->srv.lock);
	return early;
}

/* CQ thread: the reply WRITE_IMM of slot rs completed. */
static void rslot_replied(struct rpc_rslot *rs, const struct verbs_wc *wc)
{
	struct rpc_node *rn = rs->peer->rn;
	bool mine;

	spin_lock(&rn->srv.lock);
	/* else the reaper took it */
	mine = rs->state == RSLOT_REPLYING || rs->state == RSLOT_EARLY;
	spin_unlock(&rn->srv.lock);
	if (!mine)
		return;
	/* RNR: the caller's CQ was full and nothing was written; the caller
	 * may not resend (not idempotent), so we do, a few times. A fenced
	 * reply got past its fence to be refused so: no fence again. */
	if (wc->status == -ENOBUFS && rs->rnr_left) {
		rs->rnr_left--;
		rs->reply.fenced = false;
		if (!verbs_post(rs->peer->qp, &rs->reply))
			return;
	}
	if (rslot_early_done(rs, wc->status))
		return;
	if (!rslot_claim_replying(rs))
		return; /* the reaper took it meanwhile */
	if (wc->status)
		stat_add(&rn->stats.reply_errors);
	rslot_post(rs);
}

/* ---- caller: completions ------------------------------------------------------ */

/* CQ thread: a SEND of a request completed. */
static void call_sent(struct rpc_node *rn, uint32_t tag, const struct verbs_wc *wc)
{
	struct rpc_call *c;

	if (tag_slot(tag) >= RPC_MAX_PENDING)
		return;
	c = &rn->calls[tag_slot(tag)];
	spin_lock(&rn->lock);
	if (c->sends_out)
		c->sends_out--;
	if (wc->status && c->tag == tag && c->state == CALL_WAITING) {
		c->send_failed = true;
		c->send_status = wc->status;
		complete(&c->event);
	}
	spin_unlock(&rn->lock);
}

/* CQ thread: a reply landed (RECV_IMM, imm = tag). */
static void call_replied(struct rpc_peer *p, const struct verbs_wc *wc)
{
	struct rpc_node *rn = p->rn;
	uint32_t tag = wc->imm;
	struct rpc_call *c;
	bool ok;

	if (tag_slot(tag) >= RPC_MAX_PENDING) {
		stat_add(&rn->stats.late_replies);
		return;
	}
	c = &rn->calls[tag_slot(tag)];
	spin_lock(&rn->lock);
	ok = c->tag == tag && c->state == CALL_WAITING && c->peer == p &&
	     wc->remote_offset == c->reply.offset && wc->byte_len <= c->reply.size;
	if (ok) {
		c->state = CALL_DONE;
		c->replied_at = clock_ns();
		c->reply_bytes = wc->byte_len;
		/* No second write may land while the caller decodes. */
		verbs_dereg_mr(rn->dev, &c->reply_mr);
		complete(&c->event);
	}
	spin_unlock(&rn->lock);
	if (!ok)
		stat_add(&rn->stats.late_replies);
}

/* Every completion of a peer's QP (CQ thread). */
static void rpc_qp_handler(struct verbs_qp *qp, const struct verbs_wc *wc, void *arg)
{
	struct rpc_peer *p = arg;
	unsigned idx = (unsigned)(wc->wr_id & 0xffff);

	switch (wc->opcode) {
	case FAB_OP_SEND:
		if ((wc->wr_id & WR_KIND) == WR_CALL)
			call_sent(p->rn, (uint32_t)wc->wr_id, wc);
		break;
	case FAB_OP_RECV:
		if ((wc->wr_id & WR_KIND) == WR_RECV && idx < RPC_RECV_DEPTH)
			rslot_received(&p->rslots[idx], wc);
		break;
	case FAB_OP_WRITE_IMM:
		if ((wc->wr_id & WR_KIND) == WR_REPLY && idx < RPC_RECV_DEPTH)
			rslot_replied(&p->rslots[idx], wc);
		break;
	case FAB_OP_RECV_IMM:
		call_replied(p, wc);
		break;
	default:
		break;
	}
}

/* ---- server: serving one request ------------------------------------------------ */

/*
 * Whether duplicates of op are answered from the reply cache rather than
 * run again: every operation whose reply fits, idempotent or not. An
 * idempotent request may be resent while it is still queued or being
 * served (the caller resends after RPC_FIRST_RESEND_NS), so copies of it
 * reach us after we answered it, when the call may be over. Running such
 * a copy is not harmless: a request may name memory of the caller by key
 * (FS_WRITE RDMA-READs its data from the caller's window, FS_READ
 * RDMA-WRITEs into it) that the caller reuses once the call returns, and
 * deregistering a key does not stop a transfer fabricd has already
 * checked. A late FS_WRITE copy thus wrote the caller's next MiB, being
 * filled at that moment, over the file. The same reply, which the caller
 * ignores unless it still waits, is always right. Idempotent operations
 * with replies too big to cache (FS_GETDENTS, FS_READLINK) carry all they
 * need in the messages and still run again.
 */
static bool op_cached(const struct rpc_op *op)
{
	return !op->idempotent || op->rep_size <= RPC_CACHED_REPLY_MAX;
}

static struct dedup_entry *dedup_find(struct rpc_peer *p, uint32_t gen, uint64_t seq)
{
	for (unsigned i = 0; i < RPC_DEDUP_ENTRIES; i++) {
		struct dedup_entry *e = &p->dedup[i];

		if (e->valid && e->generation == gen && e->seq == seq)
			return e;
	}
	return NULL;
}

/* Takes the next entry of the ring that no running request holds for
 * request (gen, seq), marked running (p->dedup_lock held). */
static void dedup_take(struct rpc_peer *p, uint32_t gen, uint64_t seq)
{
	struct dedup_entry *e = NULL;

	/* Fewer running entries than entries (RPC_RECV_DEPTH): one is free. */
	for (unsigned i = 0; i < RPC_DEDUP_ENTRIES; i++) {
		e = &p->dedup[p->dedup_next++ % RPC_DEDUP_ENTRIES];
		if (!e->running)
			break;
	}
	if (e->valid && !e->running && e->generation == gen &&
	    e->seq > p->dedup_evicted_seq)
		p->dedup_evicted_seq = e->seq;
	e->valid = true;
	e->running = true;
	e->generation = gen;
	e->seq = seq;
	e->len = 0;
}

/* Stores the reply of request (gen, seq) in the entry it took, unless a
 * restart of the caller (dedup_reset) dropped it meanwhile. */
static void dedup_finish(struct rpc_peer *p, uint32_t gen, uint64_t seq,
			 const void *reply, uint32_t len)
{
	struct dedup_entry *e;

	spin_lock(&p->dedup_lock);
	e = dedup_find(p, gen, seq);
	if (e && e->running) {
		e->running = false;
		if (len <= sizeof(e->reply)) {
			e->len = len;
			memcpy(e->reply, reply, len);
		} else {
			e->valid = false; /* excluded at build time */
		}
	}
	spin_unlock(&p->dedup_lock);
}

static void dedup_reset(struct rpc_peer *p)
{
	memset(p->dedup, 0, RPC_DEDUP_ENTRIES * sizeof(struct dedup_entry));
	p->dedup_next = 0;
	p->dedup_evicted_seq = 0;
}

enum dedup_verdict {
	DEDUP_RUN,    /* run the handler (a cached operation took its entry) */
	DEDUP_ANSWER, /* the answer is staged: a cached reply or an error */
	DEDUP_DROP,   /* a copy of a request still running: no answer */
};

/*
 * The generation and duplicate checks of request h (operation op) from
 * peer p, in one step under p->dedup_lock: several threads may serve p's
 * requests at once. For DEDUP_ANSWER the reply is staged in rh and *len.
 */
static enum dedup_verdict dedup_admit(struct rpc_peer *p, const struct rpc_op *op,
				      const struct msg_header *h, struct msg_header *rh,
				      uint32_t *len)
{
	struct rpc_node *rn = p->rn;
	enum dedup_verdict v = DEDUP_ANSWER;
	struct dedup_entry *d;

	*len = sizeof(*rh);
	spin_lock(&p->dedup_lock);
	if (h->src_generation < p->client_gen) {
		stat_add(&rn->stats.bad_requests);
		rh->status = -ESTALE; /* from an earlier life of the caller */
		goto unlock;
	}
	if (h->src_generation > p->client_gen) {
		p->client_gen = h->src_generation; /* the caller restarted */
		dedup_reset(p);
	}
	d = op_cached(op) ? dedup_find(p, h->src_generation, h->seq) : NULL;
	if (d && d->running) {
		stat_add(&rn->stats.duplicates_running);
		v = DEDUP_DROP;
	} else if (d) {
		stat_add(&rn->stats.duplicates);
		memcpy(rh, d->reply, d->len);
		*len = d->len;
	} else if (op_cached(op) && !op->idempotent && h->seq <= p->dedup_evicted_seq) {
		/* Maybe run already, and forgotten: do not risk it. (An
		 * idempotent one runs: its caller may still wait.) */
		rh->status = -ESTALE;
	} else {
		if (op_cached(op))
			dedup_take(p, h->src_generation, h->seq);
		v = DEDUP_RUN;
	}
unlock:
	spin_unlock(&p->dedup_lock);
	return v;
}

/* Sets up rs->reply: the WRITE_IMM of the len bytes staged in rs->out to
 * where env asks. */
static void reply_wr(struct rpc_rslot *rs, const struct rpc_envelope *env, uint32_t len)
{
	struct rpc_node *rn = rs->peer->rn;

	rs->reply = (struct verbs_wr){
		.wr_id = WR_REPLY | rs->index,
		.opcode = FAB_OP_WRITE_IMM,
		.length = len,
		.local_offset = rs->out.offset,
		.local_key = verbs_local_key(rn->dev),
		.remote_key = env->reply_key,
		.remote_offset = env->reply_offset,
		.imm = env->tag,
	};
	rs->rnr_left = RPC_REPLY_RNR_RETRIES;
}

/* Sends the reply staged in rs->out (len bytes) as env asks. */
static void send_reply(struct rpc_rslot *rs, const struct rpc_envelope *env, uint32_t len)
{
	struct rpc_node *rn = rs->peer->rn;

	reply_wr(rs, env, len);
	spin_lock(&rn->srv.lock);
	rs->state = RSLOT_REPLYING;
	rs->since = clock_ns();
	spin_unlock(&rn->srv.lock);
	if (verbs_post(rs->peer->qp, &rs->reply) && rslot_claim_replying(rs)) {
		stat_add(&rn->stats.reply_errors);
		rslot_post(rs);
	}
}

/* Reads the envelope of the request in rs; false if there is no usable
 * one (nowhere to send a reply). */
static bool serve_envelope(const struct rpc_rslot *rs, struct rpc_envelope *env)
{
	if (rs->len < sizeof(*env) + sizeof(struct msg_header) ||
	    rs->len > RPC_MAX_REQUEST)
		return false;
	memcpy(env, rs->in.va, sizeof(*env));
	return env->magic == RPC_MAGIC && env->reply_len >= sizeof(struct msg_header);
}

/* The checks of request header h (mlen message bytes at msg) that need no
 * shared state: 0 or the error to answer with. */
static int serve_check(struct rpc_peer *p, const struct rpc_envelope *env,
		       const struct msg_header *h, const void *msg, uint32_t mlen)
{
	int status = msg_header_check(msg, mlen);

	if (!status && (h->flags & MSG_F_REPLY))
		status = -EBADMSG;
	if (!status && h->src_node != p->node)
		status = -EPERM; /* claims to be another node */
	if (!status && env->expect_generation &&
	    env->expect_generation != p->rn->generation)
		status = -ECONNRESET; /* we restarted since the caller knew us */
	return status;
}

int rpc_reply_behind(struct rpc_ctx *ctx, struct verbs_qp *qp, uint16_t qpn,
		     const struct verbs_wr *wr)
{
	struct rpc_serving *sv = ctx->serving;
	struct rpc_rslot *rs;
	struct rpc_node *rn;
	struct msg_header *rh;
	struct verbs_chain_link chain[2];
	uint32_t len;
	int err;

	if (!sv || sv->early)
		return -EBUSY;
	rs = sv->rs;
	rn = rs->peer->rn;
	rh = rs->out.va;
	len = (uint32_t)sizeof(*rh) + sv->op->rep_size;
	if (len > sv->env->reply_len)
		return -EMSGSIZE; /* serve() answers that at the end */
	rh->status = 0;
	rh->length = len;
	reply_wr(rs, sv->env, len);
	rs->reply.fenced = true;
	spin_lock(&rn->srv.lock);
	rs->state = RSLOT_EARLY;
	rs->early_done = false;
	spin_unlock(&rn->srv.lock);
	chain[0] = (struct verbs_chain_link){qp, ctx->src_node, qpn, wr};
	chain[1] = (struct verbs_chain_link){rs->peer->qp, 0, 0, &rs->reply};
	err = verbs_post_chain(chain, 2);
	spin_lock(&rn->srv.lock);
	if (err)
		rs->state = RSLOT_QUEUED; /* nothing went out */
	spin_unlock(&rn->srv.lock);
	sv->early = !err;
	if (!err)
		stat_add(&rn->stats.early_replies);
	return err;
}

/*
 * The end of a request whose handler (status) sent its reply early with
 * rpc_reply_behind: waits for that reply's completion, then decides the
 * final reply, caches it and, if the early one did not arrive, sends it
 * (unfenced). rs->out is not touched while the early reply may be read.
 */
static void serve_early_end(struct rpc_rslot *rs, const struct rpc_envelope *env,
			    const struct rpc_op *op, const struct msg_header *h, int status)
{
	struct rpc_node *rn = rs->peer->rn;
	struct msg_header *rh = rs->out.va, err_reply = *rh;
	const void *final = rh;
	uint32_t len = rh->length;
	bool done;
	int early;

	wait_for_completion_timeout(&rs->early_event, RPC_REAP_NS);
	spin_lock(&rn->srv.lock);
	done = rs->early_done;
	early = rs->early_status;
	rs->state = done ? RSLOT_IDLE : RSLOT_REPLYING; /* else: to the reaper */
	rs->since = clock_ns();
	rs->early_event.done = 0; /* a completion after the timeout, if any */
	spin_unlock(&rn->srv.lock);
	if (status && !(done && !early)) {
		/* The handler failed and the early reply is not known to have
		 * arrived (flushed, if its transfer failed): the error stands. */
		err_reply.status = status;
		err_reply.length = sizeof(err_reply);
		final = &err_reply;
		len = sizeof(err_reply);
	}
	if (op_cached(op))
		dedup_finish(rs->peer, h->src_generation, h->seq, final, len);
	if (!done)
		return;
	if (!early) {
		rslot_post(rs);
		return;
	}
	stat_add(&rn->stats.early_resends);
	memmove(rh, final, len);
	send_reply(rs, env, len);
}

/*
 * Decodes and serves the request in rs (the server thread or a worker).
 * Fills rs->out with the reply header (and payload) and returns its
 * length, or 0 when no reply is to be sent: no usable envelope, or a copy
 * of a request that is still running; RPC_SERVED_EARLY if the handler
 * sent its reply itself (rpc_reply_behind) and everything is done.
 */
static uint32_t serve(struct rpc_rslot *rs, struct rpc_envelope *env)
{
	struct rpc_peer *p = rs->peer;
	struct rpc_node *rn = p->rn;
	const uint8_t *in = rs->in.va;
	struct msg_header h, *rh = rs->out.va;
	const struct rpc_op *op;
	uint32_t rlen;
	struct rpc_serving sv = {.rs = rs, .env = env};
	struct rpc_ctx ctx;
	int status;

	if (!serve_envelope(rs, env)) {
		stat_add(&rn->stats.bad_requests);
		return 0;
	}
	memcpy(&h, in + sizeof(*env), sizeof(h));
	msg_header_init(rh, h.opcode, 0, rn->self, rn->generation, h.seq);
	rh->flags = MSG_F_REPLY;
	status = serve_check(p, env, &h, in + sizeof(*env),
			     rs->len - (uint32_t)sizeof(*env));
	if (status) {
		stat_add(&rn->stats.bad_requests);
		rh->status = status;
		return sizeof(*rh);
	}
	op = op_lookup(h.opcode); /* known: msg_header_check passed */
	switch (dedup_admit(p, op, &h, rh, &rlen)) {
	case DEDUP_ANSWER:
		return rlen;
	case DEDUP_DROP:
		return 0;
	case DEDUP_RUN:
		break;
	}
	ctx.rn = rn;
	ctx.src_node = p->node;
	ctx.src_generation = h.src_generation;
	ctx.seq = h.seq;
	ctx.serving = &sv;
	sv.op = op;
	/* a handler sets the fields it answers; the rest goes out zero, never
	 * what an earlier reply left in the buffer */
	memset(rh + 1, 0, op->rep_size);
	status = op->fn(&ctx, in + sizeof(*env) + sizeof(h), rh + 1);
	stat_add(&rn->stats.served);
	if (sv.early) {
		serve_early_end(rs, env, op, &h, status);
		return RPC_SERVED_EARLY;
	}
	rlen = (uint32_t)sizeof(*rh) + (status ? 0 : op->rep_size);
	if (rlen > env->reply_len) {
		status = -EMSGSIZE;
		rlen = sizeof(*rh);
	}
	rh->status = status;
	rh->length = rlen;
	if (op_cached(op))
		dedup_finish(p, h.src_generation, h.seq, rh, rlen);
	return rlen;
}

/* Serves the request queued in rs and sends its reply, or gives the slot
 * back when there is none (the server thread or a worker). */
static void serve_one(struct rpc_rslot *rs)
{
	struct rpc_envelope env;
	uint32_t len = serve(rs, &env);

	if (len == RPC_SERVED_EARLY)
		return;
	if (len)
		send_reply(rs, &env, len);
	else
		rslot_post(rs);
}

/* Gives back slots whose reply WRITE never completed (server thread). */
static void reap(struct rpc_node *rn)
{
	uint64_t now = clock_ns();

	for (unsigned i = 0; i < rn->npeers; i++) {
		for (unsigned j = 0; j < RPC_RECV_DEPTH; j++) {
			struct rpc_rslot *rs = &rn->peers[i].rslots[j];
			bool stuck;

			spin_lock(&rn->srv.lock);
			stuck = rs->state == RSLOT_REPLYING &&
				now - rs->since > RPC_REAP_NS;
			if (stuck)
				rs->state = RSLOT_IDLE; /* ours, not the CQ thread's */
			spin_unlock(&rn->srv.lock);
			if (stuck) {
				stat_add(&rn->stats.reply_errors);
				rslot_post(rs);
			}
		}
	}
}

static void server_main(void *arg)
{
	struct rpc_node *rn = arg;
	uint64_t last_reap = clock_ns();

	for (;;) {
		struct rpc_rslot *rs = NULL;
		struct list_node *n;

		spin_lock(&rn->srv.lock);
		while (!rn->stopping && list_empty(&rn->queue) &&
		       clock_ns() - last_reap < RPC_SERVER_TICK_NS)
			waitq_wait_locked(&rn->srv, last_reap + RPC_SERVER_TICK_NS);
		n = list_pop_front(&rn->queue);
		if (n)
			rs = list_entry(n, struct rpc_rslot, link);
		spin_unlock(&rn->srv.lock);
		if (rn->stopping)
			break;
		if (clock_ns() - last_reap >= RPC_SERVER_TICK_NS) {
			reap(rn);
			last_reap = clock_ns();
		}
		if (rs)
			serve_one(rs);
	}
}

/* ---- server: the worker pool ----------------------------------------------------- */

static void worker_main(void *arg)
{
	struct rpc_node *rn = arg;
	struct rpc_pool *pl = &rn->pool;

	for (;;) {
		struct list_node *n = NULL;

		spin_lock(&pl->wq.lock);
		while (!pl->stopping && list_empty(&pl->queue))
			waitq_wait_locked(&pl->wq, 0);
		if (!pl->stopping)
			n = list_pop_front(&pl->queue);
		spin_unlock(&pl->wq.lock);
		if (!n)
			return;
		serve_one(list_entry(n, struct rpc_rslot, link));
	}
}

/* Stops and joins the pool's threads (each finishes its request first). */
static void pool_stop(struct rpc_node *rn)
{
	struct rpc_pool *pl = &rn->pool;

	spin_lock(&pl->wq.lock);
	pl->stopping = true;
	waitq_wake_all_locked(&pl->wq);
	spin_unlock(&pl->wq.lock);
	for (unsigned i = 0; i < pl->nthreads; i++)
		thread_join(pl->threads[i]);
	pl->nthreads = 0;
	spin_lock(&pl->wq.lock);
	pl->stopping = false;
	spin_unlock(&pl->wq.lock);
}

int rpc_pool_add_range(struct rpc_node *rn, unsigned first, unsigned last)
{
	int err = 0;

	if (first > last || last > 0xffff)
		return -EINVAL;
	spin_lock(&rn->srv.lock);
	if (!rn->pool_active)
		err = -ENOENT;
	else if (rn->pool_nranges == RPC_POOL_RANGES)
		err = -ENOSPC;
	else
		rn->pool_range[rn->pool_nranges++] = (typeof(rn->pool_range[0])){
			(uint16_t)first, (uint16_t)last};
	spin_unlock(&rn->srv.lock);
	return err;
}

int rpc_serve_pool(struct rpc_node *rn, unsigned first, unsigned last, unsigned nthreads)
{
	struct rpc_pool *pl = &rn->pool;
	bool busy;

	if (first > last || last > 0xffff || !nthreads || nthreads > RPC_MAX_WORKERS)
		return -EINVAL;
	spin_lock(&rn->srv.lock);
	busy = rn->pool_claimed;
	rn->pool_claimed = true;
	spin_unlock(&rn->srv.lock);
	if (busy)
		return -EBUSY;
	for (unsigned i = 0; i < nthreads; i++) {
		pl->threads[i] = thread_create("rpc-worker", worker_main, rn, false);
		if (!pl->threads[i])
			goto stop_threads;
		pl->nthreads = i + 1;
	}
	spin_lock(&rn->srv.lock);
	rn->pool_range[0].first = (uint16_t)first;
	rn->pool_range[0].last = (uint16_t)last;
	rn->pool_nranges = 1;
	rn->pool_active = true;
	spin_unlock(&rn->srv.lock);
	return 0;
stop_threads:
	pool_stop(rn);
	spin_lock(&rn->srv.lock);
	rn->pool_claimed = false;
	spin_unlock(&rn->srv.lock);
	return -ENOMEM;
}

/* ---- caller: rpc_call ------------------------------------------------------------- */

static struct rpc_call *call_get(struct rpc_node *rn, struct rpc_peer *p,
				 uint64_t deadline)
{
	for (;;) {
		uint64_t now = clock_ns();
		struct rpc_call *c = NULL;

		spin_lock(&rn->lock);
		for (unsigned i = 0; i < RPC_MAX_PENDING; i++) {
			struct rpc_call *x = &rn->calls[i];

			if (x->state == CALL_FREE &&
			    (!x->sends_out || now - x->ended_at > RPC_REUSE_NS)) {
				c = x;
				break;
			}
		}
		if (c) {
			uint32_t run = rn->next_tag++ & 0xffffff;

			if (!run)
				run = rn->next_tag++ & 0xffffff;
			c->tag = run << 8 | c->index;
			c->state = CALL_WAITING;
			__atomic_add_fetch(&rn->calls_out, 1, __ATOMIC_RELAXED);
			c->peer = p;
			c->sends_out = 0;
			c->send_failed = false;
			c->reply_bytes = 0;
		}
		spin_unlock(&rn->lock);
		if (c || now >= deadline)
			return c;
		thread_sleep_ns(NS_PER_MS);
	}
}

static void call_put(struct rpc_node *rn, struct rpc_call *c)
{
	spin_lock(&rn->lock);
	verbs_dereg_mr(rn->dev, &c->reply_mr);
	c->state = CALL_FREE;
	__atomic_sub_fetch(&rn->calls_out, 1, __ATOMIC_RELAXED);
	c->tag = 0;
	c->ended_at = clock_ns();
	spin_unlock(&rn->lock);
	/* Drop a stale signal (a failed SEND after the reply) so the next
	 * call starts clean. */
	spin_lock(&c->event.wq.lock);
	c->event.done = 0;
	spin_unlock(&c->event.wq.lock);
}

static int call_send(struct rpc_node *rn, struct rpc_call *c, uint32_t len)
{
	struct verbs_wr wr = {
		.opcode = FAB_OP_SEND,
		.length = len,
		.local_offset = c->req.offset,
		.local_key = verbs_local_key(rn->dev),
	};
	int err;

	spin_lock(&rn->lock);
	wr.wr_id = WR_CALL | c->tag;
	wr.imm = c->tag;
	c->sends_out++;
	spin_unlock(&rn->lock);
	err = verbs_post(c->peer->qp, &wr);
	if (err) {
		spin_lock(&rn->lock);
		c->sends_out--;
		spin_unlock(&rn->lock);
	}
	return err;
}

static bool call_settled(struct rpc_node *rn, struct rpc_call *c)
{
	bool settled;

	spin_lock(&rn->lock);
	settled = c->state == CALL_DONE || c->send_failed;
	spin_unlock(&rn->lock);
	return settled;
}

/*
 * Hybrid waiting, caller side: right after sending, poll the completion
 * queue ourselves for the peer's poll window (a reply within it then
 * costs no interrupt and no thread switch), then sleep on the call's
 * completion. Returns true when the call outlasted the window it polled
 * (*start: when polling began), so the reply's delay is news for the
 * window (call_adapt); false when it settled while polling, or did not
 * poll (other calls were out, or another caller was polling already).
 */
static bool call_spin(struct rpc_node *rn, struct rpc_call *c, uint64_t until,
		      uint64_t *start)
{
	uint64_t end;
	bool settled;

	/* Only the node's one call polls: with others out, their replies
	 * keep coming anyway, and polling would take the host CPU that
	 * fabricd and the peers need to make them (depth-8 storage reads: 25%
	 * more per second without it). */
	if (__atomic_load_n(&rn->calls_out, __ATOMIC_RELAXED) > 1)
		return false;
	/* One poller per node is enough: it dispatches everyone's replies. */
	if (__atomic_exchange_n(&rn->spinning, true, __ATOMIC_ACQUIRE))
		return false;
	*start = clock_ns();
	end = *start + pollwin_ns(&c->peer->reply_poll);
	if (end > until)
		end = until;
	verbs_poll_begin(rn->dev);
	while (!(settled = call_settled(rn, c)) && clock_ns() < end) {
		if (!verbs_poll_cq(rn->dev))
			thread_yield(); /* let others on this CPU run meanwhile */
	}
	verbs_poll_end(rn->dev);
	__atomic_store_n(&rn->spinning, false, __ATOMIC_RELEASE);
	if (settled)
		stat_add(&rn->stats.poll_hits);
	return !settled;
}

/*
 * A call that outlasted its poll window (from start) has ended with err:
 * its reply's delay adapts the peer's window. A reply is news whatever
 * its status; a timeout means no reply came; a failed SEND says nothing
 * about the peer's replies.
 */
static void call_adapt(struct rpc_node *rn, struct rpc_call *c, uint64_t start, int err)
{
	uint64_t replied_at;
	bool done;

	spin_lock(&rn->lock);
	done = c->state == CALL_DONE;
	replied_at = c->replied_at;
	spin_unlock(&rn->lock);
	stat_add(&rn->stats.poll_misses);
	if (done)
		pollwin_slept(&c->peer->reply_poll,
			      replied_at > start ? replied_at - start : 0, true);
	else if (err == -ETIMEDOUT)
		pollwin_slept(&c->peer->reply_poll, 0, false);
}

/* Checks the reply in c->reply (caller thread, after CALL_DONE). */
static int call_decode(struct rpc_node *rn, struct rpc_call *c, const struct rpc_op *op,
		       uint64_t seq, void *reply, size_t reply_len)
{
	struct rpc_peer *p = c->peer;
	struct msg_header h;
	int err;

	err = msg_header_check(c->reply.va, c->reply_bytes);
	if (err)
		return -EPROTO;
	memcpy(&h, c->reply.va, sizeof(h));
	if (!(h.flags & MSG_F_REPLY) || h.opcode != op->opcode || h.seq != seq ||
	    h.src_node != p->node)
		return -EPROTO;
	spin_lock(&rn->lock);
	if (h.status == -ECONNRESET || !p->server_gen)
		p->server_gen = h.src_generation;
	spin_unlock(&rn->lock);
	if (h.status > 0)
		return -EPROTO;
	if (h.status < 0)
		return h.status;
	memcpy(reply, (const uint8_t *)c->reply.va + sizeof(h), reply_len);
	return 0;
}

int rpc_call(struct rpc_node *rn, uint16_t node, unsigned opcode, const void *req,
	     size_t req_len, void *reply, size_t reply_len, uint64_t timeout_ns)
{
	const struct rpc_op *op = op_lookup(opcode);
	uint64_t deadline = clock_ns() + timeout_ns, resend_after = RPC_FIRST_RESEND_NS;
	uint64_t backoff = RPC_FIRST_BACKOFF_NS, next_resend, seq, polled_at = 0;
	bool outlasted = false;
	struct rpc_envelope *env;
	struct msg_header *h;
	struct rpc_peer *p;
	struct rpc_call *c;
	uint32_t len;
	int err;

	if (!op || req_len != op->req_size || reply_len != op->rep_size)
		return -EINVAL;
	p = peer_of(rn, node);
	if (!p)
		return -EHOSTUNREACH;
	stat_add(&rn->stats.calls);
	c = call_get(rn, p, deadline);
	if (!c) {
		stat_add(&rn->stats.timeouts);
		return -ETIMEDOUT;
	}
	seq = __atomic_add_fetch(&rn->next_seq, 1, __ATOMIC_RELAXED);
	env = c->req.va;
	h = (struct msg_header *)(env + 1);
	len = (uint32_t)(sizeof(*env) + sizeof(*h) + req_len);
	msg_header_init(h, opcode, req_len, rn->self, rn->generation, seq);
	memcpy(h + 1, req, req_len);

	spin_lock(&rn->lock);
	err = verbs_reg_mr(rn->dev, c->reply.offset, c->reply.size,
			   FAB_ACCESS_REMOTE_WRITE, &c->reply_mr);
	env->magic = RPC_MAGIC;
	env->tag = c->tag;
	env->reply_offset = c->reply.offset;
	env->reply_key = c->reply_mr.key;
	env->reply_len = (uint32_t)(sizeof(*h) + reply_len);
	env->expect_generation = p->server_gen;
	env->reserved = 0;
	spin_unlock(&rn->lock);
	if (err)
		goto out;

	err = call_send(rn, c, len);
	next_resend = clock_ns() + resend_after;
	if (!err)
		outlasted = call_spin(rn, c, deadline, &polled_at);
	for (;;) {
		uint64_t now = clock_ns(),
			 until = next_resend < deadline ? next_resend : deadline;
		enum call_state state;
		bool failed;
		int st;

		if (!err && now < until && !call_settled(rn, c))
			wait_for_completion_timeout(&c->event, until - now);
		spin_lock(&rn->lock);
		state = c->state;
		failed = c->send_failed;
		st = c->send_status;
		c->send_failed = false;
		spin_unlock(&rn->lock);
		now = clock_ns();
		if (state == CALL_DONE) {
			err = call_decode(rn, c, op, seq, reply, reply_len);
			break;
		}
		if (now >= deadline) {
			err = -ETIMEDOUT;
			break;
		}
		if (failed || err) {
			int why = err ? err : st;

			/* Refused, so not delivered: sending again is safe. */
			if (why != -ENOBUFS && why != -EHOSTUNREACH && why != -EAGAIN) {
				/* a local or protocol error: no use retrying */
				err = why;
				break;
			}
			stat_add(why == -ENOBUFS ? &rn->stats.rnr_retries
						 : &rn->stats.unreachable_retries);
			thread_sleep_ns(backoff < deadline - now ? backoff
								 : deadline - now);
			backoff = backoff * 2 < RPC_MAX_BACKOFF_NS ? backoff * 2
								   : RPC_MAX_BACKOFF_NS;
			err = call_send(rn, c, len);
			continue;
		}
		if (now >= next_resend) {
			if (op->idempotent) {
				stat_add(&rn->stats.resends);
				err = call_send(rn, c, len);
				resend_after = resend_after * 2 < RPC_MAX_RESEND_NS
						       ? resend_after * 2
						       : RPC_MAX_RESEND_NS;
				next_resend = now + resend_after;
			} else {
				next_resend = deadline;
			}
		}
	}
	if (outlasted)
		call_adapt(rn, c, polled_at, err);
out:
	call_put(rn, c);
	if (!err)
		stat_add(&rn->stats.ok);
	else if (err == -ETIMEDOUT)
		stat_add(&rn->stats.timeouts);
	else
		stat_add(&rn->stats.errors);
	return err;
}

/* ---- setup ----------------------------------------------------------------------------
 */

static void free_node(struct rpc_node *rn)
{
	for (unsigned i = 0; i < rn->npeers; i++) {
		struct rpc_peer *p = &rn->peers[i];

		if (p->qp)
			verbs_qp_destroy(p->qp);
		for (unsigned j = 0; j < RPC_RECV_DEPTH; j++) {
			verbs_buf_free(rn->dev, &p->rslots[j].in);
			verbs_buf_free(rn->dev, &p->rslots[j].out);
		}
		kfree(p->dedup);
	}
	for (unsigned i = 0; i < RPC_MAX_PENDING; i++) {
		verbs_dereg_mr(rn->dev, &rn->calls[i].reply_mr);
		verbs_buf_free(rn->dev, &rn->calls[i].req);
		verbs_buf_free(rn->dev, &rn->calls[i].reply);
	}
	kfree(rn);
}

static int setup_peer(struct rpc_node *rn, unsigned i, uint16_t node, unsigned self_idx)
{
	struct rpc_peer *p = &rn->peers[i];
	int err;

	p->rn = rn;
	p->node = node;
	pollwin_init(&p->reply_poll, RPC_POLL_MIN_NS, RPC_POLL_MAX_NS);
	spin_init(&p->dedup_lock, "rpc-dedup");
	p->dedup = kzalloc(RPC_DEDUP_ENTRIES * sizeof(struct dedup_entry));
	if (!p->dedup)
		return -ENOMEM;
	for (unsigned j = 0; j < RPC_RECV_DEPTH; j++) {
		struct rpc_rslot *rs = &p->rslots[j];

		rs->peer = p;
		rs->index = j;
		list_init(&rs->link);
		completion_init(&rs->early_event);
		err = verbs_buf_alloc(rn->dev, RPC_MAX_REQUEST, &rs->in);
		if (!err)
			err = verbs_buf_alloc(rn->dev, RPC_MAX_REPLY, &rs->out);
		if (err)
			return err;
	}
	err = verbs_qp_create(rn->dev, RPC_QP_BASE + i, rpc_qp_handler, p, &p->qp);
	if (err)
		return err;
	verbs_qp_connect(p->qp, node, RPC_QP_BASE + self_idx);
	for (unsigned j = 0; j < RPC_RECV_DEPTH; j++)
		rslot_post(&p->rslots[j]);
	return 0;
}

int rpc_start(struct verbs_dev *dev, const uint16_t *peers, unsigned npeers,
	      struct rpc_node **out)
{
	struct rpc_node *rn;
	unsigned self_idx = npeers;
	int err;

	for (unsigned i = 0; i < npeers; i++)
		if (peers[i] == verbs_node_id(dev))
			self_idx = i;
	if (npeers > RPC_MAX_PEERS || self_idx == npeers)
		return -EINVAL;
	rn = kzalloc(sizeof(*rn));
	if (!rn)
		return -ENOMEM;
	rn->dev = dev;
	rn->self = verbs_node_id(dev);
	rn->generation = verbs_generation(dev);
	rn->next_tag = 1;
	spin_init(&rn->lock, "rpc");
	waitq_init(&rn->srv, "rpc-server");
	list_init(&rn->queue);
	waitq_init(&rn->pool.wq, "rpc-pool");
	list_init(&rn->pool.queue);
	for (unsigned i = 0; i < RPC_MAX_PENDING; i++) {
		struct rpc_call *c = &rn->calls[i];

		c->index = i;
		completion_init(&c->event);
		err = verbs_buf_alloc(dev, RPC_MAX_REQUEST, &c->req);
		if (!err)
			err = verbs_buf_alloc(dev, RPC_MAX_REPLY, &c->reply);
		if (err)
			goto free;
	}
	for (unsigned i = 0; i < npeers; i++) {
		rn->npeers = i + 1;
		err = setup_peer(rn, i, peers[i], self_idx);
		if (err)
			goto free;
	}
	rn->server = thread_create("rpc-server", server_main, rn, false);
	if (!rn->server) {
		err = -ENOMEM;
		goto free;
	}
	*out = rn;
	return 0;
free:
	free_node(rn);
	return err;
}

void rpc_stop(struct rpc_node *rn)
{
	spin_lock(&rn->srv.lock);
	rn->stopping = true;
	waitq_wake_all_locked(&rn->srv);
	spin_unlock(&rn->srv.lock);
	thread_join(rn->server);
	pool_stop(rn);
	free_node(rn);
}

int rpc_open(struct rpc_node **out)
{
	static int open_err;
	uint16_t peers[KCONFIG_MAX_PEERS];
	struct verbs_dev *dev;
	int err;

	spin_lock(&open_lock);
	if (!node_rpc && !open_err) {
		open_err = verbs_open(&dev);
		for (unsigned i = 0; i < kconfig.npeers; i++)
			peers[i] = kconfig.peers[i];
		if (!open_err)
			open_err = rpc_start(dev, peers, kconfig.npeers, &node_rpc);
		if (open_err)
			pr_err("rpc: cannot start (error %d; peers= has %u ids)",
			       open_err, kconfig.npeers);
		else
			pr_info("rpc: node %u serving %u peer(s)", node_rpc->self,
				node_rpc->npeers);
	}
	err = open_err;
	if (!err)
		*out = node_rpc;
	spin_unlock(&open_lock);
	return err;
}
