/*
 * Remote procedure calls between nodes (net/rpc.c), in the spirit of
 * LegoOS's FIT, over the verbs layer (include/net/verbs.h). Wire format:
 * include/proto/rpc.h; message types: include/proto/messages.def.
 *
 * - Each pair of nodes has one QP per direction of service: node A's QP
 *   RPC_QP_BASE + index(B) in the peers= list is connected to B's QP
 *   RPC_QP_BASE + index(A). Requests from B land in receive buffers
 *   posted on it; when all are taken B gets RNR and retries with backoff,
 *   so a fast caller can never overwrite a request.
 * - The server writes the reply with WRITE_IMM straight into a buffer the
 *   caller registered for this call alone (a fresh key per call, dropped
 *   when the call ends, so a late reply can never land in reused memory);
 *   the immediate is the call's tag, which finds the pending call.
 * - Timeouts everywhere. Only idempotent operations (messages.def) are
 *   resent after a silent timeout; a SEND that fabricd refused (RNR,
 *   unreachable) was never delivered and is resent whatever the opcode,
 *   until the call's deadline.
 * - The server remembers the replies of recent requests by (source node,
 *   generation, seq) and answers a duplicate with the cached reply
 *   instead of executing it again: every non-idempotent request, and
 *   every idempotent one whose reply fits RPC_CACHED_REPLY_MAX (a late
 *   copy of an idempotent request may name caller memory that the caller
 *   has reused since, see op_cached in net/rpc.c).
 * - Generations: a request names the server generation the caller knows;
 *   a server with another one answers -ECONNRESET ("peer restarted")
 *   without executing, and the caller learns the new generation. A server
 *   seeing a caller's generation grow forgets the old incarnation's
 *   duplicate cache; requests from an older generation get -ESTALE.
 * - Server handlers come from messages.def: a node serves opcode NAME by
 *   defining rpc_handle_NAME (RPC_HANDLER below); other opcodes get
 *   -ENOSYS. One server thread runs them in arrival order, except the
 *   opcodes a node hands to a worker pool (rpc_serve_pool): those run in
 *   any of the pool's threads, several at once, in no particular order.
 */
#ifndef NET_RPC_H
#define NET_RPC_H

#include <net/verbs.h>
#include <proto/msg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RPC_QP_BASE	     1 /* QP 0 is left for raw verbs users */
#define RPC_MAX_PEERS	     (FAB_MAX_QPS - RPC_QP_BASE)
#define RPC_RECV_DEPTH	     16	  /* receive buffers per peer */
#define RPC_MAX_REQUEST	     8192 /* envelope + header + payload */
#define RPC_MAX_REPLY	     8192 /* header + payload */
#define RPC_MAX_PENDING	     64	  /* calls in flight per node */
#define RPC_DEDUP_ENTRIES    64	  /* cached replies per peer */
#define RPC_CACHED_REPLY_MAX 256  /* non-idempotent replies must fit */

struct rpc_node;

/* What a handler knows about the request it serves. */
struct rpc_ctx {
	struct rpc_node *rn;
	uint16_t src_node; /* checked against the fabric's word for it */
	uint32_t src_generation;
	uint64_t seq;
	void *serving; /* net/rpc.c's, for rpc_reply_behind */
};

/*
 * A server handler: decode (check every field of *req: the header, sizes
 * and the sender are checked already), then act, then fill *reply.
 * Returns 0, or a negative errno sent back as a typed error reply.
 */
#define MSG(name, op, req, rep, idem)                                                    \
	int rpc_handle_##name(struct rpc_ctx *ctx, const req *rq, rep *rp)               \
		__attribute__((weak));
#include <proto/messages.def>
#undef MSG
#define RPC_HANDLER(name, req, rep)                                                      \
	int rpc_handle_##name(struct rpc_ctx *ctx, const req *rq, rep *rp)

struct rpc_stats {
	uint64_t calls, ok, timeouts, errors; /* caller side */
	uint64_t resends;	      /* idempotent requests sent again after a timeout */
	uint64_t rnr_retries;	      /* SENDs refused with RNR and sent again */
	uint64_t unreachable_retries; /* SENDs refused as unreachable */
	uint64_t late_replies;	      /* replies for calls that had ended */
	uint64_t poll_hits;	      /* calls settled while their caller polled */
	uint64_t poll_misses;	      /* calls that outlasted the poll window */
	uint64_t served;	      /* server side: handlers run */
	uint64_t duplicates;	      /* duplicates answered from the reply cache */
	uint64_t duplicates_running;  /* copies of a request still running, dropped */
	uint64_t bad_requests;	      /* malformed, answered with an error or dropped */
	uint64_t reply_errors;	      /* reply WRITE_IMMs that failed */
	uint64_t early_replies;	      /* replies posted by rpc_reply_behind */
	uint64_t early_resends;	      /* of which did not arrive: answered again */
};

/*
 * The node's RPC service on the node's fabric device with the peers= list
 * of the command line, started on the first call (it stays up). Returns
 * 0 and sets *out, or the verbs_open error, -EINVAL (this node is not in
 * peers=, or more than RPC_MAX_PEERS), -ENOMEM.
 */
int rpc_open(struct rpc_node **out);

/*
 * RPC on any verbs device with the given member list (self tests use a
 * loopback device whose only member is itself). rpc_stop() waits for the
 * server thread and the worker pool's, frees everything and must not race
 * with calls.
 */
int rpc_start(struct verbs_dev *dev, const uint16_t *peers, unsigned npeers,
	      struct rpc_node **out);
void rpc_stop(struct rpc_node *rn);

/*
 * Calls opcode on node: req_len must be the opcode's request size and
 * reply_len its reply size (messages.def), else -EINVAL. Sleeps until the
 * reply or timeout_ns. Returns 0 with *reply filled, the server's error
 * (negative errno), -ETIMEDOUT (no reply in time: a non-idempotent
 * operation may or may not have run), -ECONNRESET (the server restarted
 * since this node last heard from it; it did not run the request),
 * -EHOSTUNREACH (node is not a member), -EPROTO (a malformed reply).
 * Thread context; any number of threads may call at once.
 */
int rpc_call(struct rpc_node *rn, uint16_t node, unsigned opcode, const void *req,
	     size_t req_len, void *reply, size_t reply_len, uint64_t timeout_ns);

/*
 * For a handler whose reply vouches for a transfer it makes into the
 * caller's memory (MEM_MISS: "the page is in your line"), so that the
 * caller has its reply without the handler first waiting for the
 * transfer's completion: posts wr on qp to the caller's node (queue qpn)
 * and, right behind it (verbs_post_chain), the reply as *rp holds it now
 * with status 0, fenced. The fabric delivers that reply only after wr
 * succeeded and flushes it if wr failed. The handler then waits for wr's
 * completion itself (keeping what wr reads until then) and leaves *rp
 * alone; what it returns decides the rest:
 *   0      the reply stands (sent again, unfenced, if a failure of
 *          another request to that node flushed it);
 *   error  sent as the typed error reply unless the early reply is known
 *          to have arrived (then wr did succeed: the caller has a good
 *          answer, and duplicates get that one).
 * Once per request. Returns 0 (posted), -EBUSY (called before, or not in
 * a handler), -EMSGSIZE (the reply does not fit the caller's buffer), or
 * verbs_post_chain's error; on an error nothing was posted.
 */
int rpc_reply_behind(struct rpc_ctx *ctx, struct verbs_qp *qp, uint16_t qpn,
		     const struct verbs_wr *wr);

/*
 * Serves opcodes first..last (inclusive) with a pool of nthreads threads
 * (1..RPC_MAX_WORKERS) instead of the server thread: their handlers must
 * be safe to run concurrently with each other and with the server
 * thread's. Duplicate detection holds as before (a copy of a request
 * still running is dropped, not run twice). One pool per node; call it
 * once, before requests for those opcodes can arrive (e.g. before the
 * service's handlers are bound). Returns 0, -EINVAL (bad range or
 * count), -EBUSY (a pool exists), -ENOMEM.
 */
#define RPC_MAX_WORKERS 8
int rpc_serve_pool(struct rpc_node *rn, unsigned first, unsigned last, unsigned nthreads);

/*
 * Hands opcodes first..last (inclusive) to the node's pool too, as
 * rpc_serve_pool's own range (at most RPC_POOL_RANGES ranges in all; the
 * same rule: before requests for them can arrive). Returns 0, -EINVAL
 * (bad range), -ENOENT (no pool), -ENOSPC (no room for another range).
 */
#define RPC_POOL_RANGES 4
int rpc_pool_add_range(struct rpc_node *rn, unsigned first, unsigned last);

/*
 * Test hooks of this node's RPC_SLEEP handler (net/rpc_services.c), for
 * the worker pool's ktests. rpc_sleep_hold(true) keeps every RPC_SLEEP
 * handler (running or to come) from returning after its ms until
 * rpc_sleep_hold(false), or at most 10 s. rpc_sleep_running returns how
 * many handlers run now, the most seen at once in *max_running (if not
 * NULL), and with reset starts that maximum again from now.
 */
void rpc_sleep_hold(bool hold);
unsigned rpc_sleep_running(unsigned *max_running, bool reset);

/*
 * One timed round trip of the RPC layer's own echo services to node
 * (net/rpc_services.c): a PING (16 bytes each way) if bulk is NULL, else
 * an RPC_BULK (a 4 KiB page each way, in bulk's buffers, checked on
 * return). For measuring the fabric (the ping builtin, the
 * tessera_fabric_ping system call). *ns is the time from before the call
 * to its return, set even on failure. Returns 0, rpc_call's error, or
 * -EPROTO (the echo does not match what was sent).
 */
struct rpc_ping_bulk {
	struct msg_bulk q, r;
};
int rpc_ping(struct rpc_node *rn, uint16_t node, struct rpc_ping_bulk *bulk,
	     uint64_t cookie, uint64_t timeout_ns, uint64_t *ns);

uint16_t rpc_node_id(const struct rpc_node *rn);
void rpc_get_stats(const struct rpc_node *rn, struct rpc_stats *st);
/* The generation of node as this node last heard it (0: never). */
uint32_t rpc_peer_generation(struct rpc_node *rn, uint16_t node);

#endif
