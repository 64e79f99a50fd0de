/*
 * The loopback fabric of the self tests: see include/net/loop_fabric.h.
 */
#include <arch/memlayout.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/spinlock.h>
#include <lib/string.h>
#include <net/loop_fabric.h>
#include <net/verbs.h>

struct loop_node *loop_find(struct loop_fabric *f, uint16_t id)
{
	for (unsigned i = 0; i < f->nnodes; i++)
		if (f->nodes[i].id == id)
			return &f->nodes[i];
	return NULL;
}

/* Checks key/rights/range against n's MR table; true if allowed. */
static bool loop_mr_ok(struct loop_node *n, uint32_t key, uint64_t off, uint64_t len,
		       uint32_t need)
{
	struct fab_mr mr;

	memcpy(&mr, n->win + FAB_MR_OFFSET + FAB_MR_SLOT(key) * sizeof(mr), sizeof(mr));
	if (!mr.length || mr.key != key || (mr.access & need) != need)
		return false;
	if (mr.offset < FAB_DATA_OFFSET || mr.offset > LOOP_WINDOW ||
	    mr.length > LOOP_WINDOW - mr.offset)
		return false;
	return off >= mr.offset && len <= mr.length && off - mr.offset <= mr.length - len;
}

static void loop_cqe(struct loop_node *n, const struct fab_cqe *c)
{
	struct fab_cqe *slot =
		(struct fab_cqe *)(n->win + FAB_CQ_OFFSET) + n->cq_tail % FAB_CQ_ENTRIES;

	*slot = *c;
	__atomic_store_n(&n->hdr->cq_tail, ++n->cq_tail, __ATOMIC_RELEASE);
	n->raise = true;
}

/* A SEND into t's receive queue qpn; returns the status. */
static uint8_t loop_deliver(struct loop_node *s, struct loop_node *t,
			    const struct fab_wqe *w)
{
	uint32_t tail = __atomic_load_n(&t->hdr->rq_tail[w->dst_qpn], __ATOMIC_ACQUIRE);
	struct fab_rqe r;
	struct fab_cqe c;

	if (tail == t->rq_head[w->dst_qpn])
		return FAB_ST_RNR;
	memcpy(&r,
	       t->win + FAB_RQ_OFFSET +
		       (w->dst_qpn * FAB_RQ_ENTRIES +
			t->rq_head[w->dst_qpn] % FAB_RQ_ENTRIES) *
			       sizeof(r),
	       sizeof(r));
	t->rq_head[w->dst_qpn]++;
	t->hdr->rq_head[w->dst_qpn] = t->rq_head[w->dst_qpn];
	memset(&c, 0, sizeof(c));
	c.wr_id = r.wr_id;
	c.opcode = FAB_OP_RECV;
	c.src_node = s->id;
	c.src_qpn = w->src_qpn;
	c.qpn = w->dst_qpn;
	c.imm = w->imm;
	if (!loop_mr_ok(t, r.key, r.offset, r.length, FAB_ACCESS_LOCAL_WRITE)) {
		c.status = FAB_ST_LOCAL_ERR;
		loop_cqe(t, &c);
		return FAB_ST_REMOTE_ACCESS;
	}
	if (w->length > r.length) {
		c.status = FAB_ST_LENGTH;
		loop_cqe(t, &c);
		return FAB_ST_LENGTH;
	}
	memmove(t->win + r.offset, s->win + w->local_offset, w->length);
	c.byte_len = w->length;
	loop_cqe(t, &c);
	return FAB_ST_OK;
}

/* Executes one WQE of s; returns false to drop it silently. */
static bool loop_run(struct loop_fabric *f, struct loop_node *s,
			 const struct fab_wqe *w, struct fab_cqe *done)
{
	uint32_t local_need = w->opcode == FAB_OP_READ ? FAB_ACCESS_LOCAL_WRITE : 0;
	struct loop_node *t = loop_find(f, w->dst_node);
	struct fab_cqe c;
	int copies = 1;

	memset(done, 0, sizeof(*done));
	done->wr_id = w->wr_id;
	done->opcode = w->opcode;
	done->qpn = w->src_qpn;
	done->byte_len = w->length;
	if (w->opcode < FAB_OP_SEND || w->opcode > FAB_OP_WRITE_IMM ||
	    (w->flags & ~FAB_WQE_FLAGS) ||
	    !loop_mr_ok(s, w->local_key, w->local_offset, w->length, local_need)) {
		done->status = FAB_ST_LOCAL_ERR;
		return true;
	}
	if (w->length > FAB_MAX_MSG) {
		done->status = FAB_ST_LENGTH;
		return true;
	}
	if (!t) {
		done->status = FAB_ST_UNREACHABLE;
		return true;
	}
	if (w->src_qpn >= FAB_MAX_QPS || w->dst_qpn >= FAB_MAX_QPS) {
		done->status = FAB_ST_BAD_QP;
		return true;
	}
	switch (w->opcode) {
	case FAB_OP_SEND:
		if (f->drop_sends) {
			f->drop_sends--;
			return false;
		}
		if (f->dup_sends) {
			f->dup_sends--;
			copies = 2;
		}
		while (copies--)
			done->status = loop_deliver(s, t, w);
		break;
	case FAB_OP_READ:
		if (!loop_mr_ok(t, w->remote_key, w->remote_offset, w->length,
				FAB_ACCESS_REMOTE_READ)) {
			done->status = FAB_ST_REMOTE_ACCESS;
			break;
		}
		memmove(s->win + w->local_offset, t->win + w->remote_offset, w->length);
		break;
	case FAB_OP_WRITE:
	case FAB_OP_WRITE_IMM:
		if (!loop_mr_ok(t, w->remote_key, w->remote_offset, w->length,
				FAB_ACCESS_REMOTE_WRITE)) {
			done->status = FAB_ST_REMOTE_ACCESS;
			break;
		}
		memmove(t->win + w->remote_offset, s->win + w->local_offset, w->length);
		if (w->opcode == FAB_OP_WRITE_IMM) {
			memset(&c, 0, sizeof(c));
			c.opcode = FAB_OP_RECV_IMM;
			c.src_node = s->id;
			c.src_qpn = w->src_qpn;
			c.qpn = w->src_qpn; /* fabric.h: RECV_IMM uses no queue */
			c.byte_len = w->length;
			c.imm = w->imm;
			c.remote_offset = w->remote_offset;
			loop_cqe(t, &c);
		}
		break;
	}
	return true;
}

/* loop_run inside the fence of link (s, target): returns false to drop
 * the WQE silently. */
static bool loop_execute(struct loop_fabric *f, struct loop_node *s,
			 const struct fab_wqe *w, struct fab_cqe *done)
{
	struct loop_node *t = loop_find(f, w->dst_node);
	bool *broken = t ? &s->fence_broken[t - f->nodes] : NULL;
	bool fenced = w->flags & FAB_WQE_FENCE, run;

	if (broken && fenced && *broken) {
		*broken = false;
		memset(done, 0, sizeof(*done));
		done->wr_id = w->wr_id;
		done->opcode = w->opcode;
		done->qpn = w->src_qpn;
		done->status = FAB_ST_FLUSHED;
		return true;
	}
	run = loop_run(f, s, w, done);
	if (broken && fenced)
		*broken = false;
	else if (broken && run && done->status)
		*broken = true;
	return run;
}

static void loop_doorbell(void *ctx)
{
	struct loop_node *s = ctx;
	struct loop_fabric *f = s->fab;

	spin_lock(&f->lock);
	for (;;) {
		uint32_t tail = __atomic_load_n(&s->hdr->sq_tail, __ATOMIC_ACQUIRE);
		struct fab_wqe w;
		struct fab_cqe done;

		if (tail == s->sq_head || tail - s->sq_head > FAB_SQ_ENTRIES)
			break;
		memcpy(&w,
		       s->win + FAB_SQ_OFFSET + (s->sq_head % FAB_SQ_ENTRIES) * sizeof(w),
		       sizeof(w));
		s->sq_head++;
		s->hdr->sq_head = s->sq_head;
		if (loop_execute(f, s, &w, &done) &&
		    (done.status || (w.flags & FAB_WQE_SIGNALED)))
			loop_cqe(s, &done);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < f->nnodes; i++) {
		struct loop_node *n = &f->nodes[i];

		if (n->raise && n->dev && n->hdr->guest_sleeping) {
			n->raise = false;
			verbs_interrupt(n->dev);
		}
	}
	spin_unlock(&f->lock);
}

struct loop_fabric *loop_create(unsigned n, uint16_t first_id, uint32_t generation)
{
	struct loop_fabric *f = kzalloc(sizeof(*f));

	if (!f || n > LOOP_MAX_NODES) {
		kfree(f);
		return NULL;
	}
	spin_init(&f->lock, "loop-fabric");
	for (unsigned i = 0; i < n; i++) {
		struct loop_node *ln = &f->nodes[i];
		struct verbs_hw hw;

		ln->fab = f;
		ln->id = (uint16_t)(first_id + i);
		ln->win = page_zalloc(LOOP_ORDER);
		if (!ln->win)
			goto fail;
		f->nnodes = i + 1;
		ln->hdr = (volatile struct fab_window_hdr *)ln->win;
		ln->hdr->magic = FAB_MAGIC;
		ln->hdr->version = FAB_VERSION;
		ln->hdr->node_id = ln->id;
		ln->hdr->generation = generation;
		ln->hdr->window_size = LOOP_WINDOW;
		ln->hdr->fabricd_sleeping = 1;
		hw.window = ln->win;
		hw.window_size = LOOP_WINDOW;
		hw.window_phys = virt_to_phys(ln->win);
		hw.doorbell = loop_doorbell;
		hw.ctx = ln;
		if (verbs_dev_create(&hw, &ln->dev))
			goto fail;
	}
	return f;
fail:
	for (unsigned i = 0; i < f->nnodes; i++) {
		if (f->nodes[i].dev)
			verbs_dev_destroy(f->nodes[i].dev);
		page_free(f->nodes[i].win, LOOP_ORDER);
	}
	kfree(f);
	return NULL;
}

void loop_destroy(struct loop_fabric *f)
{
	for (unsigned i = 0; i < f->nnodes; i++) {
		verbs_dev_destroy(f->nodes[i].dev);
		page_free(f->nodes[i].win, LOOP_ORDER);
	}
	kfree(f);
}

bool loop_restart(struct loop_fabric *f, unsigned i)
{
	struct loop_node *ln = &f->nodes[i];
	uint32_t gen = ln->hdr->generation + 1;
	struct verbs_hw hw = {ln->win, LOOP_WINDOW, virt_to_phys(ln->win), loop_doorbell, ln};

	struct verbs_dev *old = ln->dev;

	spin_lock(&f->lock);
	ln->dev = NULL; /* no more interrupts for it */
	spin_unlock(&f->lock);
	verbs_dev_destroy(old);
	spin_lock(&f->lock);
	memset(ln->win, 0, FAB_DATA_OFFSET);
	ln->sq_head = ln->cq_tail = 0;
	memset(ln->rq_head, 0, sizeof(ln->rq_head));
	memset(ln->fence_broken, 0, sizeof(ln->fence_broken));
	ln->hdr->magic = FAB_MAGIC;
	ln->hdr->version = FAB_VERSION;
	ln->hdr->node_id = ln->id;
	ln->hdr->generation = gen;
	ln->hdr->window_size = LOOP_WINDOW;
	ln->hdr->fabricd_sleeping = 1;
	spin_unlock(&f->lock);
	return verbs_dev_create(&hw, &ln->dev) == 0;
}
