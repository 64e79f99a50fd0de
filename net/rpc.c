/*
 * RPC over verbs (include/net/rpc.h for the model, include/proto/rpc.h for
 * the wire). This file has three parts: the per-opcode table generated
 * from messages.def, the caller side (pending calls keyed by tag), and the
 * server side (receive slots, one server thread, duplicate cache).
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
 * sending, one caller at a time polls the completion queue itself for a
 * short while (call_spin), so a quick reply costs no interrupt and no
 * thread switch. A slot is
 * reused only once every SEND from its request buffer has completed, or
 * a second after its call ended (a SEND that never completes must not
 * pin it forever).
 *
 * Server. Each peer has RPC_RECV_DEPTH receive slots: a request buffer
 * posted on the peer's QP and a reply staging buffer. A slot cycles
 * POSTED (fabricd may fill it) -> QUEUED (for the server thread) ->
 * REPLYING (its reply WRITE_IMM is out) -> POSTED again when that WRITE
 * completes (any status) or, for a reply that never completes, when the
 * server thread reaps it after RPC_REAP_NS. Not reposting until the reply
 * is out is the flow control: a peer that sends faster than we serve gets
 * RNR. The server thread decodes before it acts (envelope, msg_header_check,
 * sender, generations, duplicates), then runs the handler.
 *
 * Locks: rn->lock (pending table, peer generations) and rn->srv.lock
 * (the server queue and receive slot states) are leaves except for the
 * verbs calls made under rn->lock (verbs_dereg_mr), which take only verbs
 * leaf locks. The duplicate cache and client generations belong to the
 * server thread alone.
 */
#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
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
#define RPC_SPIN_NS	      (150 * NS_PER_US) /* poll for the reply first */

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
	struct verbs_mr reply_mr; /* under rn->lock */
	struct verbs_buf req, reply;
	struct completion event;
};

enum rslot_state { RSLOT_IDLE, RSLOT_POSTED, RSLOT_QUEUED, RSLOT_REPLYING };

struct rpc_rslot {
	struct rpc_peer *peer;
	unsigned index;
	enum rslot_state state; /* under rn->srv.lock */
	uint32_t len;		/* under rn->srv.lock: bytes received */
	uint64_t since;		/* under rn->srv.lock: REPLYING since */
	struct list_node link;	/* in rn->queue while QUEUED */
	struct verbs_buf in, out;
	struct verbs_wr reply; /* the reply WRITE_IMM while REPLYING */
	unsigned rnr_left;     /* resends left if the caller's CQ is full */
};

struct dedup_entry {
	bool valid;
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
	struct rpc_rslot rslots[RPC_RECV_DEPTH];
	/* server thread only: */
	uint32_t client_gen;
	struct dedup_entry *dedup; /* RPC_DEDUP_ENTRIES, a ring */
	unsigned dedup_next;
	uint64_t dedup_evicted_seq; /* highest seq pushed out of the ring */
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

	struct waitq srv; /* its lock guards queue and slot states */
	struct list_node queue;
	struct thread *server;
	volatile bool stopping;

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

/* CQ thread: a request arrived in slot rs. */
static void rslot_received(struct rpc_rslot *rs, const struct verbs_wc *wc)
{
	struct rpc_node *rn = rs->peer->rn;

	if (wc->status) {
		/* The buffer was not filled; give it back. */
		stat_add(&rn->stats.bad_requests);
		rslot_post(rs);
		return;
	}
	spin_lock(&rn->srv.lock);
	rs->state = RSLOT_QUEUED;
	rs->len = wc->byte_len;
	list_push_back(&rn->queue, &rs->link);
	waitq_wake_one_locked(&rn->srv);
	spin_unlock(&rn->srv.lock);
}

/* CQ thread: the reply WRITE_IMM of slot rs completed. */
static void rslot_replied(struct rpc_rslot *rs, const struct verbs_wc *wc)
{
	struct rpc_node *rn = rs->peer->rn;
	bool mine;

	spin_lock(&rn->srv.lock);
	mine = rs->state == RSLOT_REPLYING; /* else the reaper took it */
	spin_unlock(&rn->srv.lock);
	if (!mine)
		return;
	/* RNR: the caller's CQ was full and nothing was written; the caller
	 * may not resend (not idempotent), so we do, a few times. */
	if (wc->status == -ENOBUFS && rs->rnr_left) {
		rs->rnr_left--;
		if (!verbs_post(rs->peer->qp, &rs->reply))
			return;
	}
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

static void dedup_store(struct rpc_peer *p, uint32_t gen, uint64_t seq, const void *reply,
			uint32_t len)
{
	struct dedup_entry *e = &p->dedup[p->dedup_next++ % RPC_DEDUP_ENTRIES];

	if (len > sizeof(e->reply))
		return; /* excluded at build time */
	if (e->valid && e->generation == gen && e->seq > p->dedup_evicted_seq)
		p->dedup_evicted_seq = e->seq;
	e->valid = true;
	e->generation = gen;
	e->seq = seq;
	e->len = len;
	memcpy(e->reply, reply, len);
}

static void dedup_reset(struct rpc_peer *p)
{
	memset(p->dedup, 0, RPC_DEDUP_ENTRIES * sizeof(struct dedup_entry));
	p->dedup_next = 0;
	p->dedup_evicted_seq = 0;
}

/* Sends the reply staged in rs->out (len bytes) as env asks. */
static void send_reply(struct rpc_rslot *rs, const struct rpc_envelope *env, uint32_t len)
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
	spin_lock(&rn->srv.lock);
	rs->state = RSLOT_REPLYING;
	rs->since = clock_ns();
	spin_unlock(&rn->srv.lock);
	if (verbs_post(rs->peer->qp, &rs->reply)) {
		stat_add(&rn->stats.reply_errors);
		rslot_post(rs);
	}
}

/*
 * Decodes and serves the request in rs (server thread). Fills rs->out
 * with the reply header (and payload) and returns its length, or 0 when
 * no reply can be sent (no usable envelope).
 */
static uint32_t serve(struct rpc_rslot *rs, struct rpc_envelope *env)
{
	struct rpc_peer *p = rs->peer;
	struct rpc_node *rn = p->rn;
	const uint8_t *in = rs->in.va;
	struct msg_header h, *rh = rs->out.va;
	uint32_t mlen, rlen;
	const struct rpc_op *op;
	struct dedup_entry *d;
	struct rpc_ctx ctx;
	int status;

	if (rs->len < sizeof(*env) + sizeof(h) || rs->len > RPC_MAX_REQUEST)
		return 0;
	memcpy(env, in, sizeof(*env));
	if (env->magic != RPC_MAGIC || env->reply_len < sizeof(h))
		return 0;
	mlen = rs->len - (uint32_t)sizeof(*env);
	memcpy(&h, in + sizeof(*env), sizeof(h));
	msg_header_init(rh, h.opcode, 0, rn->self, rn->generation, h.seq);
	rh->flags = MSG_F_REPLY;

	status = msg_header_check(in + sizeof(*env), mlen);
	if (!status && (h.flags & MSG_F_REPLY))
		status = -EBADMSG;
	if (!status && h.src_node != p->node)
		status = -EPERM; /* claims to be another node */
	if (!status && env->expect_generation && env->expect_generation != rn->generation)
		status = -ECONNRESET; /* we restarted since the caller knew us */
	if (!status && h.src_generation < p->client_gen)
		status = -ESTALE; /* from an earlier life of the caller */
	if (status) {
		stat_add(&rn->stats.bad_requests);
		rh->status = status;
		return sizeof(*rh);
	}
	if (h.src_generation > p->client_gen) {
		p->client_gen = h.src_generation; /* the caller restarted */
		dedup_reset(p);
	}

	op = op_lookup(h.opcode); /* known: msg_header_check passed */
	if (op_cached(op)) {
		d = dedup_find(p, h.src_generation, h.seq);
		if (d) {
			stat_add(&rn->stats.duplicates);
			memcpy(rh, d->reply, d->len);
			return d->len;
		}
		if (!op->idempotent && h.seq <= p->dedup_evicted_seq) {
			/* Maybe run already, and forgotten: do not risk it.
			 * (An idempotent one runs: its caller may still wait.) */
			rh->status = -ESTALE;
			return sizeof(*rh);
		}
	}
	ctx.rn = rn;
	ctx.src_node = p->node;
	ctx.src_generation = h.src_generation;
	ctx.seq = h.seq;
	status = op->fn(&ctx, in + sizeof(*env) + sizeof(h), rh + 1);
	stat_add(&rn->stats.served);
	rlen = (uint32_t)sizeof(*rh) + (status ? 0 : op->rep_size);
	if (rlen > env->reply_len) {
		status = -EMSGSIZE;
		rlen = sizeof(*rh);
	}
	rh->status = status;
	rh->length = rlen;
	if (op_cached(op))
		dedup_store(p, h.src_generation, h.seq, rh, rlen);
	return rlen;
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
		struct rpc_envelope env;
		struct rpc_rslot *rs = NULL;
		struct list_node *n;
		uint32_t len;

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
		if (!rs)
			continue;
		len = serve(rs, &env);
		if (len) {
			send_reply(rs, &env, len);
		} else {
			stat_add(&rn->stats.bad_requests);
			rslot_post(rs);
		}
	}
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
 * queue ourselves for up to RPC_SPIN_NS (a fast reply then costs no
 * interrupt and no thread switch), then sleep on the call's completion.
 */
static void call_spin(struct rpc_node *rn, struct rpc_call *c, uint64_t until)
{
	uint64_t end = clock_ns() + RPC_SPIN_NS;

	/* One poller per node is enough: it dispatches everyone's replies. */
	if (__atomic_exchange_n(&rn->spinning, true, __ATOMIC_ACQUIRE))
		return;
	if (end > until)
		end = until;
	verbs_poll_begin(rn->dev);
	while (!call_settled(rn, c) && clock_ns() < end) {
		if (!verbs_poll_cq(rn->dev))
			thread_yield(); /* let others on this CPU run meanwhile */
	}
	verbs_poll_end(rn->dev);
	__atomic_store_n(&rn->spinning, false, __ATOMIC_RELEASE);
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
	uint64_t backoff = RPC_FIRST_BACKOFF_NS, next_resend, seq;
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
		call_spin(rn, c, deadline);
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
	p->dedup = kzalloc(RPC_DEDUP_ENTRIES * sizeof(struct dedup_entry));
	if (!p->dedup)
		return -ENOMEM;
	for (unsigned j = 0; j < RPC_RECV_DEPTH; j++) {
		struct rpc_rslot *rs = &p->rslots[j];

		rs->peer = p;
		rs->index = j;
		list_init(&rs->link);
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
