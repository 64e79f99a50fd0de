/*
 * fabricd's execution engine (see exec.h): rings, transfers, completions
 * on windows in memory. Every function first reads and checks what it
 * needs from the window (decode), and only then writes (act).
 *
 * Memory ordering with the guest (include/proto/fabric.h): guest indices
 * are loaded with acquire before the entries they cover are read;
 * fabricd's indices are stored with release after the entries they
 * publish are written; the sleep flags use a full barrier between the
 * flag and the other side's index.
 */
#include "exec.h"

#include "check.h"

#include <string.h>

static struct fab_window_hdr *hdr_of(struct fab_node *n)
{
	return (struct fab_window_hdr *)n->win;
}

static uint32_t load_guest(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_own(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

void fab_snapshot(void *dst, const volatile void *src, size_t n)
{
	memcpy(dst, (const void *)src, n);
	__asm__ volatile("" ::: "memory");
}

/* Counts a corrupt guest index once per distinct bad value. */
static void note_bad_index(struct fab_node *n, uint64_t *last, uint32_t value,
			   const char *what)
{
	if (*last == value)
		return;
	*last = value;
	n->errors++;
	__atomic_store_n(&hdr_of(n)->errors, n->errors, __ATOMIC_RELAXED);
	if (n->bad_index)
		n->bad_index(n->bad_index_ctx, n, what, value);
}

static void write_header(struct fab_node *n)
{
	struct fab_window_hdr *h = hdr_of(n);

	h->version = FAB_VERSION;
	h->node_id = n->id;
	h->generation = n->generation;
	h->window_size = n->size;
	store_own(&h->magic, FAB_MAGIC);
}

static void reset_state(struct fab_node *n)
{
	n->sq_head = 0;
	n->cq_tail = 0;
	memset(n->rq_head, 0, sizeof(n->rq_head));
	n->cq_reserved = 0;
	n->cq_dirty = false;
	n->cq_blocked = false;
	n->bad_sq_tail = FAB_NO_BAD;
	n->bad_cq_head = FAB_NO_BAD;
	for (unsigned q = 0; q < FAB_MAX_QPS; q++)
		n->bad_rq_tail[q] = FAB_NO_BAD;
	n->errors = 0;
	n->why = NULL;
}

void fab_node_init(struct fab_node *n, uint16_t id, void *win, uint64_t size)
{
	fab_bad_index_fn *hook = n->bad_index;
	void *ctx = n->bad_index_ctx;

	memset(n, 0, sizeof(*n));
	n->bad_index = hook;
	n->bad_index_ctx = ctx;
	n->id = id;
	n->win = win;
	n->size = size;
	reset_state(n);
	write_header(n);
}

void fab_node_attach(struct fab_node *n)
{
	n->generation++;
	reset_state(n);
	n->attached = true;
	write_header(n);
}

void fab_node_detach(struct fab_node *n)
{
	n->attached = false;
	n->cq_reserved = 0;
	n->cq_dirty = false;
	n->cq_blocked = false;
}

/* --- completion queue --------------------------------------------------- */

/*
 * CQ slots in use (tail - head), or FAB_CQ_ENTRIES (no room) if the
 * guest's cq_head is corrupt.
 */
static uint32_t cq_used(struct fab_node *n)
{
	uint32_t head = load_guest(&hdr_of(n)->cq_head), used;

	if (!fab_ring_used(head, n->cq_tail, FAB_CQ_ENTRIES, &used)) {
		note_bad_index(n, &n->bad_cq_head, head, "cq_head");
		return FAB_CQ_ENTRIES;
	}
	n->bad_cq_head = FAB_NO_BAD;
	return used;
}

/* CQ slots neither used nor reserved. */
static uint32_t cq_room(struct fab_node *n)
{
	uint32_t taken = cq_used(n) + n->cq_reserved;

	return taken >= FAB_CQ_ENTRIES ? 0 : FAB_CQ_ENTRIES - taken;
}

/*
 * Writes c on n's CQ. A reserved completion may use any free slot; an
 * unreserved one (a target's RECV) only a slot nobody reserved. If the
 * guest moved cq_head backwards the CQE is lost and counted as an error,
 * rather than overwriting one it has not consumed.
 */
static void cq_push(struct fab_node *n, const struct fab_cqe *c, bool reserved)
{
	uint32_t used = cq_used(n);
	uint32_t limit = FAB_CQ_ENTRIES - (reserved ? 0 : n->cq_reserved);
	struct fab_cqe *slot;

	if (n->cq_reserved > FAB_CQ_ENTRIES || used >= limit) {
		n->errors++;
		__atomic_store_n(&hdr_of(n)->errors, n->errors, __ATOMIC_RELAXED);
		return;
	}
	slot = (struct fab_cqe *)(n->win + FAB_CQ_OFFSET) + n->cq_tail % FAB_CQ_ENTRIES;
	memcpy(slot, c, sizeof(*c));
	n->cq_tail++;
	store_own(&hdr_of(n)->cq_tail, n->cq_tail);
	n->cq_dirty = true;
}

/* --- send queue ---------------------------------------------------------- */

/* WQEs posted and not yet taken; 0 if sq_tail is corrupt. */
static uint32_t sq_posted(struct fab_node *n)
{
	uint32_t tail = load_guest(&hdr_of(n)->sq_tail), used;

	if (!fab_ring_used(n->sq_head, tail, FAB_SQ_ENTRIES, &used)) {
		note_bad_index(n, &n->bad_sq_tail, tail, "sq_tail");
		return 0;
	}
	n->bad_sq_tail = FAB_NO_BAD;
	return used;
}

bool fab_sq_ready(struct fab_node *n)
{
	return n->attached && sq_posted(n) > 0 && cq_room(n) > 0;
}

enum fab_take fab_sq_take(struct fab_node *n, struct fab_wqe *w)
{
	const struct fab_wqe *slot;

	if (!n->attached || sq_posted(n) == 0)
		return FAB_TAKE_EMPTY;
	if (cq_room(n) == 0) {
		n->cq_blocked = true;
		return FAB_TAKE_CQ_FULL;
	}
	n->cq_blocked = false;
	slot = (const struct fab_wqe *)(n->win + FAB_SQ_OFFSET) +
	       n->sq_head % FAB_SQ_ENTRIES;
	fab_snapshot(w, slot, sizeof(*w));
	n->sq_head++;
	store_own(&hdr_of(n)->sq_head, n->sq_head);
	n->cq_reserved++;
	n->ops++;
	return FAB_TAKE_OK;
}

/* --- memory regions ------------------------------------------------------ */

static void mr_snapshot(struct fab_node *n, uint32_t key, struct fab_mr *mr)
{
	const struct fab_mr *table = (const struct fab_mr *)(n->win + FAB_MR_OFFSET);

	fab_snapshot(mr, &table[FAB_MR_SLOT(key)], sizeof(*mr));
}

static const char *verdict_why(enum fab_mr_verdict v, bool local)
{
	switch (v) {
	case FAB_MR_BAD_KEY:
		return local ? "local key: no such MR (or the MR is outside the data "
			       "area)"
			     : "remote key: no such MR (or the MR is outside the data "
			       "area)";
	case FAB_MR_BAD_RIGHTS:
		return local ? "local key: rights missing" : "remote key: rights missing";
	case FAB_MR_BAD_RANGE:
		return local ? "local key: range outside the MR"
			     : "remote key: range outside the MR";
	default:
		return NULL;
	}
}

/* Checks len bytes at off of n through key with rights need. */
static enum fab_mr_verdict mr_access(struct fab_node *n, uint32_t key, uint64_t off,
				     uint64_t len, uint32_t need)
{
	struct fab_mr mr;

	mr_snapshot(n, key, &mr);
	return fab_mr_check(&mr, key, off, len, need, n->size);
}

/* What fab_wqe_check found wrong, by its status. */
static const char *wqe_why(enum fab_status st)
{
	switch (st) {
	case FAB_ST_LOCAL_ERR:
		return "unknown opcode or flags";
	case FAB_ST_LENGTH:
		return "length above FAB_MAX_MSG";
	case FAB_ST_BAD_QP:
		return "queue pair number out of range";
	default:
		return "node id out of range";
	}
}

enum fab_status fab_exec_local_check(struct fab_node *src, const struct fab_wqe *w)
{
	enum fab_status st = fab_wqe_check(w);
	enum fab_mr_verdict v;

	if (st != FAB_ST_OK) {
		src->why = wqe_why(st);
		return st;
	}
	v = mr_access(src, w->local_key, w->local_offset, w->length,
		      fab_wqe_local_access(w));
	if (v != FAB_MR_OK) {
		src->why = verdict_why(v, true);
		return FAB_ST_LOCAL_ERR;
	}
	return FAB_ST_OK;
}

/* --- transfers ----------------------------------------------------------- */

/* A target's completion: RECV reports the receive queue used (qpn =
 * dst_qpn), RECV_IMM, which uses none, the sender's QP in both fields. */
static struct fab_cqe target_cqe(const struct fab_wqe *w, uint16_t src_node, uint8_t op)
{
	struct fab_cqe c;

	memset(&c, 0, sizeof(c));
	c.opcode = op;
	c.status = FAB_ST_OK;
	c.src_node = src_node;
	c.src_qpn = w->src_qpn;
	c.qpn = op == FAB_OP_RECV ? w->dst_qpn : w->src_qpn;
	c.imm = w->imm;
	return c;
}

/* Takes the next receive buffer of dst's queue q into *r (not consumed).
 * False if none is posted or rq_tail is corrupt. */
static bool rq_peek(struct fab_node *dst, unsigned q, struct fab_rqe *r)
{
	uint32_t tail = load_guest(&hdr_of(dst)->rq_tail[q]), used;
	const struct fab_rqe *slot;

	if (!fab_ring_used(dst->rq_head[q], tail, FAB_RQ_ENTRIES, &used)) {
		note_bad_index(dst, &dst->bad_rq_tail[q], tail, "rq_tail");
		return false;
	}
	dst->bad_rq_tail[q] = FAB_NO_BAD;
	if (used == 0)
		return false;
	slot = (const struct fab_rqe *)(dst->win + FAB_RQ_OFFSET) + q * FAB_RQ_ENTRIES +
	       dst->rq_head[q] % FAB_RQ_ENTRIES;
	fab_snapshot(r, slot, sizeof(*r));
	return true;
}

static void rq_consume(struct fab_node *dst, unsigned q)
{
	dst->rq_head[q]++;
	store_own(&hdr_of(dst)->rq_head[q], dst->rq_head[q]);
}

/*
 * A receive buffer that fails its checks is the target's own error: it is
 * consumed (else it would block the queue for good), the target gets an
 * error RECV completion for it and an error count, and the sender
 * REMOTE_ACCESS.
 */
static enum fab_status send_bad_rqe(struct fab_node *src, struct fab_node *dst,
				    const struct fab_wqe *w, const struct fab_rqe *r)
{
	struct fab_cqe c = target_cqe(w, src->id, FAB_OP_RECV);

	c.wr_id = r->wr_id;
	c.status = FAB_ST_LOCAL_ERR;
	rq_consume(dst, w->dst_qpn);
	cq_push(dst, &c, false);
	dst->errors++;
	__atomic_store_n(&hdr_of(dst)->errors, dst->errors, __ATOMIC_RELAXED);
	src->why = "target's receive buffer is invalid";
	return FAB_ST_REMOTE_ACCESS;
}

static enum fab_status exec_send(struct fab_node *src, struct fab_node *dst,
				 const struct fab_wqe *w)
{
	unsigned q = w->dst_qpn; /* < FAB_MAX_QPS: fab_wqe_check */
	struct fab_rqe r;
	struct fab_mr mr;
	struct fab_cqe c;

	if (cq_room(dst) == 0 || !rq_peek(dst, q, &r)) {
		src->why = "receiver not ready";
		return FAB_ST_RNR;
	}
	mr_snapshot(dst, r.key, &mr);
	if (fab_rqe_check(&r, &mr, dst->size) != FAB_MR_OK)
		return send_bad_rqe(src, dst, w, &r);
	if (w->length > r.length) {
		src->why = "message longer than the receive buffer";
		return FAB_ST_LENGTH;
	}
	memmove(dst->win + r.offset, src->win + w->local_offset, w->length);
	rq_consume(dst, q);
	c = target_cqe(w, src->id, FAB_OP_RECV);
	c.wr_id = r.wr_id;
	c.byte_len = w->length;
	c.remote_offset = r.offset;
	cq_push(dst, &c, false);
	return FAB_ST_OK;
}

/* WRITE, READ and WRITE_IMM: the remote side goes through remote_key. */
static enum fab_status exec_rdma(struct fab_node *src, struct fab_node *dst,
				 const struct fab_wqe *w)
{
	enum fab_mr_verdict v = mr_access(dst, w->remote_key, w->remote_offset, w->length,
					  fab_wqe_remote_access(w));
	struct fab_cqe c;

	if (v != FAB_MR_OK) {
		src->why = verdict_why(v, false);
		return FAB_ST_REMOTE_ACCESS;
	}
	if (w->opcode == FAB_OP_WRITE_IMM && cq_room(dst) == 0) {
		src->why = "target's completion queue is full";
		return FAB_ST_RNR;
	}
	if (w->opcode == FAB_OP_READ) {
		memmove(src->win + w->local_offset, dst->win + w->remote_offset,
			w->length);
		return FAB_ST_OK;
	}
	memmove(dst->win + w->remote_offset, src->win + w->local_offset, w->length);
	if (w->opcode == FAB_OP_WRITE_IMM) {
		c = target_cqe(w, src->id, FAB_OP_RECV_IMM);
		c.byte_len = w->length;
		c.remote_offset = w->remote_offset;
		cq_push(dst, &c, false);
	}
	return FAB_ST_OK;
}

enum fab_status fab_exec_transfer(struct fab_node *src, struct fab_node *dst,
				  const struct fab_wqe *w)
{
	enum fab_status st = fab_exec_local_check(src, w);

	if (st != FAB_ST_OK)
		return st;
	if (w->opcode == FAB_OP_SEND)
		return exec_send(src, dst, w);
	return exec_rdma(src, dst, w);
}

bool fab_status_is_malformed(enum fab_status st)
{
	return st == FAB_ST_LOCAL_ERR || st == FAB_ST_REMOTE_ACCESS ||
	       st == FAB_ST_LENGTH || st == FAB_ST_BAD_QP;
}

void fab_forget(struct fab_node *src)
{
	if (src->cq_reserved)
		src->cq_reserved--;
}

void fab_complete(struct fab_node *src, const struct fab_wqe *w, enum fab_status st)
{
	struct fab_cqe c;

	if (fab_status_is_malformed(st)) {
		src->errors++;
		__atomic_store_n(&hdr_of(src)->errors, src->errors, __ATOMIC_RELAXED);
	}
	if (st == FAB_ST_OK)
		src->bytes += w->length;
	if (st == FAB_ST_OK && !(w->flags & FAB_WQE_SIGNALED)) {
		fab_forget(src);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.wr_id = w->wr_id;
	c.opcode = w->opcode;
	c.status = (uint8_t)st;
	c.src_node = w->dst_node; /* the peer */
	c.src_qpn = w->dst_qpn;
	c.qpn = w->src_qpn;
	c.byte_len = st == FAB_ST_OK ? w->length : 0;
	cq_push(src, &c, true);
	fab_forget(src);
}

/* --- sleeping and interrupts --------------------------------------------- */

void fab_set_fabricd_sleeping(struct fab_node *n, bool sleeping)
{
	__atomic_store_n(&hdr_of(n)->fabricd_sleeping, sleeping ? 1u : 0u,
			 __ATOMIC_RELAXED);
}

bool fab_irq_wanted(struct fab_node *n)
{
	if (!n->cq_dirty)
		return false;
	n->cq_dirty = false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&hdr_of(n)->guest_sleeping, __ATOMIC_RELAXED) != 0;
}
