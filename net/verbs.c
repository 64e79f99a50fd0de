/*
 * Verbs over the fabric window (include/net/verbs.h, include/proto/fabric.h).
 *
 * Rings. The send queue has one producer index (dev->sq_tail, published
 * to hdr->sq_tail) under sq_lock; fabricd publishes hdr->sq_head as it
 * consumes. Each QP's receive queue is the same with the QP's rq_lock.
 * Publishing is a release store of the index after the entry;
 * reading is an acquire load of the other side's index before the entries.
 * The completion queue has one consumer at a time: whoever holds the
 * draining flag (the CQ thread, or a waiter polling with verbs_poll_cq).
 *
 * Event suppression (the waiting protocol of fabric.h). Poster: publish
 * sq_tail, full barrier, read fabricd_sleeping, ring if set. CQ thread:
 * set guest_sleeping, full barrier, re-read cq_tail, block only if still
 * empty. fabricd does the mirror image, so one side always sees the
 * other's store: no wakeup is lost. The completion the interrupt signals
 * counts, so an interrupt that comes before the CQ thread blocks is not
 * lost either; the 100 ms timeout only bounds the damage of a broken
 * fabricd.
 *
 * Dispatch. Requester completions (SEND, WRITE, READ, WRITE_IMM) carry the
 * WQE's src_qpn in qpn; RECV carries the QP whose buffer was used; RECV_IMM
 * consumes no buffer, so it goes to the QP connected to (src_node,
 * src_qpn). Each QP has a handler (called here, in the CQ thread) or a
 * software CQ with a wait queue. fabricd is trusted to fill CQEs, but every
 * index in them is checked before use anyway.
 *
 * Window memory: the data area is handed out by a first-fit list of free
 * extents (a fixed array: no allocation while allocating). MR slots carry
 * a 24-bit tag in their keys (fabric.h: key & 0xff is the slot); the tag
 * advances at every registration and is never 0, so no key is 0.
 *
 * Pollers. A thread that polls the CQ itself (verbs_poll_begin/_end, the
 * RPC caller spinning for its reply) wants no interrupt: guest_sleeping
 * tells fabricd to raise MSI-X only while the CQ thread is asleep AND
 * nobody polls. Both sides store their own state, barrier, then read the
 * other's (cq_asleep vs pollers), so at least one of them sees that the
 * flag must go up when the last poller leaves a sleeping CQ thread; the
 * one that raises it re-checks the CQ afterwards, as the CQ thread always
 * did, so no completion waits for the 100 ms safety timeout.
 *
 * The CQ thread itself polls for a while after each completion before it
 * sleeps; how long adapts to how soon completions follow one another
 * (kernel/pollwin.h, bounds VERBS_SPIN_MIN_NS..VERBS_SPIN_MAX_NS).
 *
 * Handlers run with no verbs lock held (so they may post); a QP being
 * destroyed waits until the CQ thread is not dispatching to it.
 *
 * Locks, none nested in another and none held across a sleep: dev->qp_lock
 * (QP table, connections), qp->wq.lock (software CQ), qp->rq_lock,
 * dev->sq_lock, dev->mr_lock, dev->buf_lock.
 */
#include <drivers/ivshmem.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/pollwin.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/wait.h>
#include <lib/string.h>
#include <net/verbs.h>

#define VERBS_SWCQ_ENTRIES 512
#define VERBS_MAX_EXTENTS  128
#define VERBS_SPIN_MIN_NS  (20 * NS_PER_US)  /* poll at least this long after activity */
#define VERBS_SPIN_MAX_NS  (200 * NS_PER_US) /* and at most this long */
#define VERBS_SLEEP_NS	   (100 * NS_PER_MS) /* safety net for lost interrupts */
#define VERBS_SQ_WAIT_NS   (10 * NS_PER_MS)
#define VERBS_TAG_MASK	   0xffffffu

struct extent {
	uint64_t offset, size;
};

struct verbs_qp {
	struct verbs_dev *dev;
	uint16_t qpn;
	uint16_t peer_node, peer_qpn; /* under dev->qp_lock; 0: not connected */
	verbs_handler handler;	      /* fixed at creation */
	void *arg;

	struct spinlock rq_lock;
	uint32_t rq_tail; /* under rq_lock */

	struct waitq wq;       /* its lock guards the software CQ */
	struct verbs_wc *swcq; /* NULL with a handler */
	uint32_t swcq_head, swcq_tail;
};

struct verbs_dev {
	uint8_t *window;
	uint64_t window_phys; /* physical address of window[0] */
	uint64_t window_size;
	volatile struct fab_window_hdr *hdr;
	volatile struct fab_mr *mrs;
	volatile struct fab_wqe *sq;
	volatile struct fab_rqe *rq; /* [FAB_MAX_QPS][FAB_RQ_ENTRIES] */
	volatile struct fab_cqe *cq;
	uint16_t node_id;
	uint32_t generation;
	void (*doorbell)(void *ctx);
	void *ctx;

	struct spinlock sq_lock;
	uint32_t sq_tail; /* under sq_lock */

	uint32_t cq_head;      /* whoever holds draining */
	struct completion irq; /* signalled by verbs_interrupt */
	struct thread *cq_thread;
	volatile bool stopping;

	struct spinlock qp_lock;
	struct verbs_qp *qps[FAB_MAX_QPS]; /* under qp_lock */
	struct verbs_qp *dispatching;	   /* set under qp_lock by the drainer */
	bool draining; /* atomic: someone consumes the CQ (cq_try_drain) */
	/* Event suppression (see "Pollers" above): atomics. */
	unsigned pollers; /* threads between verbs_poll_begin and _end */
	bool cq_asleep;	  /* the CQ thread is (about to be) blocked */

	struct spinlock mr_lock;
	uint32_t mr_tag[FAB_MR_ENTRIES]; /* under mr_lock: last tag of each slot */
	bool mr_used[FAB_MR_ENTRIES];	 /* under mr_lock */
	struct verbs_mr local_mr;

	struct spinlock buf_lock;
	struct extent free_ext[VERBS_MAX_EXTENTS]; /* under buf_lock, by offset */
	unsigned nfree;

	struct verbs_stats stats;
};

static struct spinlock open_lock = SPINLOCK_INIT("verbs-open");
static struct verbs_dev *node_dev; /* under open_lock */
static int node_err;		   /* under open_lock; 0 and no node_dev: not tried */

/* ---- small helpers ------------------------------------------------------ */

static uint32_t load_acquire(volatile uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_release(volatile uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static void full_barrier(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void stat_add(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

int verbs_status_errno(unsigned fab_status)
{
	switch (fab_status) {
	case FAB_ST_OK:
		return 0;
	case FAB_ST_LOCAL_ERR:
		return -EFAULT;
	case FAB_ST_REMOTE_ACCESS:
		return -EACCES;
	case FAB_ST_RNR:
		return -ENOBUFS;
	case FAB_ST_LENGTH:
		return -EMSGSIZE;
	case FAB_ST_UNREACHABLE:
		return -EHOSTUNREACH;
	case FAB_ST_BAD_QP:
		return -EINVAL;
	case FAB_ST_FLUSHED:
		return -ECANCELED;
	default:
		return -EREMOTEIO;
	}
}

uint16_t verbs_node_id(const struct verbs_dev *dev)
{
	return dev->node_id;
}

uint64_t verbs_window_phys(const struct verbs_dev *dev, uint64_t offset)
{
	return dev->window_phys + offset;
}

uint32_t verbs_generation(const struct verbs_dev *dev)
{
	return dev->generation;
}

volatile struct fab_window_hdr *verbs_window_hdr(struct verbs_dev *dev)
{
	return dev->hdr;
}

void verbs_get_stats(const struct verbs_dev *dev, struct verbs_stats *st)
{
	*st = dev->stats;
}

void verbs_stats_add_since(struct verbs_stats *sum, const struct verbs_stats *before,
			   const struct verbs_stats *after)
{
	sum->posted += after->posted - before->posted;
	sum->doorbells += after->doorbells - before->doorbells;
	sum->sq_full += after->sq_full - before->sq_full;
	sum->completions += after->completions - before->completions;
	sum->interrupts += after->interrupts - before->interrupts;
	sum->sleeps += after->sleeps - before->sleeps;
	sum->unexpected += after->unexpected - before->unexpected;
	sum->swcq_overflows += after->swcq_overflows - before->swcq_overflows;
}

uint32_t verbs_local_key(const struct verbs_dev *dev)
{
	return dev->local_mr.key;
}

uint16_t verbs_qp_num(const struct verbs_qp *qp)
{
	return qp->qpn;
}

struct verbs_dev *verbs_qp_dev(const struct verbs_qp *qp)
{
	return qp->dev;
}

/* ---- the data area allocator -------------------------------------------- */

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

int verbs_buf_alloc(struct verbs_dev *dev, size_t size, struct verbs_buf *buf)
{
	uint64_t align = size >= 4096 ? 4096 : 64;
	uint64_t need = align_up(size ? size : 1, 64);

	spin_lock(&dev->buf_lock);
	for (unsigned i = 0; i < dev->nfree; i++) {
		struct extent *e = &dev->free_ext[i];
		uint64_t start = align_up(e->offset, align);
		uint64_t pad = start - e->offset;

		if (pad + need > e->size)
			continue;
		if (pad && dev->nfree == VERBS_MAX_EXTENTS)
			continue; /* no room to keep the padding free */
		if (pad) {
			/* keep [offset, start) free: split the extent */
			memmove(e + 1, e, (dev->nfree - i) * sizeof(*e));
			dev->nfree++;
			e->size = pad;
			e++;
			e->offset = start;
			e->size -= pad;
		}
		e->offset += need;
		e->size -= need;
		if (!e->size) {
			unsigned j = (unsigned)(e - dev->free_ext);

			memmove(e, e + 1, (dev->nfree - j - 1) * sizeof(*e));
			dev->nfree--;
		}
		spin_unlock(&dev->buf_lock);
		buf->offset = start;
		buf->size = size;
		buf->va = dev->window + start;
		memset(buf->va, 0, size);
		return 0;
	}
	spin_unlock(&dev->buf_lock);
	return -ENOMEM;
}

void verbs_buf_free(struct verbs_dev *dev, struct verbs_buf *buf)
{
	uint64_t off = buf->offset, len = align_up(buf->size ? buf->size : 1, 64);
	unsigned i;

	if (!buf->va)
		return;
	spin_lock(&dev->buf_lock);
	for (i = 0; i < dev->nfree && dev->free_ext[i].offset < off; i++)
		;
	if (i > 0 && dev->free_ext[i - 1].offset + dev->free_ext[i - 1].size == off) {
		dev->free_ext[i - 1].size += len; /* merge with the one before */
		if (i < dev->nfree && off + len == dev->free_ext[i].offset) {
			dev->free_ext[i - 1].size += dev->free_ext[i].size;
			memmove(&dev->free_ext[i], &dev->free_ext[i + 1],
				(dev->nfree - i - 1) * sizeof(struct extent));
			dev->nfree--;
		}
	} else if (i < dev->nfree && off + len == dev->free_ext[i].offset) {
		dev->free_ext[i].offset = off; /* merge with the one after */
		dev->free_ext[i].size += len;
	} else if (dev->nfree < VERBS_MAX_EXTENTS) {
		memmove(&dev->free_ext[i + 1], &dev->free_ext[i],
			(dev->nfree - i) * sizeof(struct extent));
		dev->free_ext[i].offset = off;
		dev->free_ext[i].size = len;
		dev->nfree++;
	} else {
		pr_warn("verbs: free-extent table full, %llu window bytes lost",
			(unsigned long long)len);
	}
	spin_unlock(&dev->buf_lock);
	memset(buf, 0, sizeof(*buf));
}

/* ---- memory regions ------------------------------------------------------- */

int verbs_reg_mr(struct verbs_dev *dev, uint64_t offset, uint64_t length, uint32_t access,
		 struct verbs_mr *mr)
{
	const uint32_t all =
		FAB_ACCESS_LOCAL_WRITE | FAB_ACCESS_REMOTE_READ | FAB_ACCESS_REMOTE_WRITE;
	volatile struct fab_mr *e;
	unsigned slot;
	uint32_t tag;

	if (!length || (access & ~all) || offset < FAB_DATA_OFFSET ||
	    offset > dev->window_size || length > dev->window_size - offset)
		return -EINVAL;
	spin_lock(&dev->mr_lock);
	for (slot = 0; slot < FAB_MR_ENTRIES && dev->mr_used[slot]; slot++)
		;
	if (slot == FAB_MR_ENTRIES) {
		spin_unlock(&dev->mr_lock);
		return -ENOSPC;
	}
	tag = (dev->mr_tag[slot] + 1) & VERBS_TAG_MASK;
	if (!tag)
		tag = 1;
	dev->mr_tag[slot] = tag;
	dev->mr_used[slot] = true;
	e = &dev->mrs[slot];
	e->offset = offset;
	e->key = tag << 8 | slot;
	e->access = access;
	/* length != 0 makes the slot live: it goes last */
	__atomic_store_n(&e->length, length, __ATOMIC_RELEASE);
	spin_unlock(&dev->mr_lock);
	mr->key = tag << 8 | slot;
	mr->access = access;
	mr->offset = offset;
	mr->length = length;
	return 0;
}

void verbs_dereg_mr(struct verbs_dev *dev, struct verbs_mr *mr)
{
	unsigned slot = FAB_MR_SLOT(mr->key);

	if (!mr->length)
		return;
	spin_lock(&dev->mr_lock);
	if (dev->mr_used[slot] && dev->mrs[slot].key == mr->key) {
		__atomic_store_n(&dev->mrs[slot].length, 0, __ATOMIC_RELEASE);
		dev->mrs[slot].key = 0;
		dev->mr_used[slot] = false;
	}
	spin_unlock(&dev->mr_lock);
	full_barrier();
	memset(mr, 0, sizeof(*mr));
}

/* ---- queue pairs ------------------------------------------------------------ */

int verbs_qp_create(struct verbs_dev *dev, int qpn, verbs_handler handler, void *arg,
		    struct verbs_qp **out)
{
	struct verbs_qp *qp;
	int err = 0;

	if (qpn >= FAB_MAX_QPS)
		return -EINVAL;
	qp = kzalloc(sizeof(*qp));
	if (!qp)
		return -ENOMEM;
	if (!handler) {
		qp->swcq = kmalloc(VERBS_SWCQ_ENTRIES * sizeof(struct verbs_wc));
		if (!qp->swcq) {
			kfree(qp);
			return -ENOMEM;
		}
	}
	qp->dev = dev;
	qp->handler = handler;
	qp->arg = arg;
	spin_init(&qp->rq_lock, "verbs-rq");
	waitq_init(&qp->wq, "verbs-qp");

	spin_lock(&dev->qp_lock);
	if (qpn < 0) {
		for (qpn = 0; qpn < FAB_MAX_QPS && dev->qps[qpn]; qpn++)
			;
		if (qpn == FAB_MAX_QPS)
			err = -ENOSPC;
	} else if (dev->qps[qpn]) {
		err = -EBUSY;
	}
	if (!err) {
		qp->qpn = (uint16_t)qpn;
		/* Continue where the previous user of this number stopped. */
		qp->rq_tail = dev->hdr->rq_tail[qpn];
		dev->qps[qpn] = qp;
	}
	spin_unlock(&dev->qp_lock);
	if (err) {
		kfree(qp->swcq);
		kfree(qp);
		return err;
	}
	*out = qp;
	return 0;
}

void verbs_qp_destroy(struct verbs_qp *qp)
{
	struct verbs_dev *dev;

	if (!qp)
		return;
	dev = qp->dev;
	spin_lock(&dev->qp_lock);
	dev->qps[qp->qpn] = NULL;
	spin_unlock(&dev->qp_lock);
	/* The CQ thread found QPs under qp_lock: once it is not dispatching
	 * to this one, it never will again. */
	while (__atomic_load_n(&dev->dispatching, __ATOMIC_ACQUIRE) == qp)
		thread_sleep_ns(100 * NS_PER_US);
	kfree(qp->swcq);
	kfree(qp);
}

void verbs_qp_connect(struct verbs_qp *qp, uint16_t node, uint16_t qpn)
{
	spin_lock(&qp->dev->qp_lock);
	qp->peer_node = node;
	qp->peer_qpn = node ? qpn : 0;
	spin_unlock(&qp->dev->qp_lock);
}

/* ---- posting ---------------------------------------------------------------- */

static bool wr_valid(const struct verbs_wr *wr)
{
	switch (wr->opcode) {
	case FAB_OP_SEND:
	case FAB_OP_WRITE:
	case FAB_OP_READ:
	case FAB_OP_WRITE_IMM:
		return wr->length <= FAB_MAX_MSG;
	default:
		return false;
	}
}

/* Room on the send queue for n more WQEs? Caller holds sq_lock. */
static bool sq_room_locked(struct verbs_dev *dev, unsigned n)
{
	uint32_t head = load_acquire(&dev->hdr->sq_head);

	return dev->sq_tail - head <= FAB_SQ_ENTRIES - n;
}

/* Writes one WQE (room checked) and publishes it; caller holds sq_lock. */
static void sq_put_locked(struct verbs_dev *dev, const struct verbs_chain_link *c)
{
	const struct verbs_wr *wr = c->wr;
	volatile struct fab_wqe *w = &dev->sq[dev->sq_tail % FAB_SQ_ENTRIES];

	w->wr_id = wr->wr_id;
	w->opcode = wr->opcode;
	w->flags = (wr->unsignaled ? 0 : FAB_WQE_SIGNALED) | (wr->fenced ? FAB_WQE_FENCE : 0);
	w->dst_node = c->node;
	w->src_qpn = c->qp->qpn;
	w->dst_qpn = c->qpn;
	w->imm = wr->imm;
	w->length = wr->length;
	w->local_offset = wr->local_offset;
	w->local_key = wr->local_key;
	w->remote_key = wr->remote_key;
	w->remote_offset = wr->remote_offset;
	w->reserved[0] = 0;
	w->reserved[1] = 0;
	store_release(&dev->hdr->sq_tail, ++dev->sq_tail);
}

/* After publishing work: wake fabricd if it says it sleeps. */
static void kick(struct verbs_dev *dev)
{
	full_barrier();
	if (__atomic_load_n(&dev->hdr->fabricd_sleeping, __ATOMIC_RELAXED)) {
		stat_add(&dev->stats.doorbells);
		dev->doorbell(dev->ctx);
	}
}

/* Checks a chain and fills in the connected peers of links with node 0
 * (into out); 0 or -EINVAL. */
static int chain_resolve(const struct verbs_chain_link *chain, unsigned n,
			 struct verbs_chain_link *out)
{
	if (!n || n > VERBS_CHAIN_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		struct verbs_qp *qp = chain[i].qp;

		out[i] = chain[i];
		if (!qp || qp->dev != chain[0].qp->dev || !wr_valid(chain[i].wr))
			return -EINVAL;
		if (!out[i].node) {
			spin_lock(&qp->dev->qp_lock);
			out[i].node = qp->peer_node;
			out[i].qpn = qp->peer_qpn;
			spin_unlock(&qp->dev->qp_lock);
		}
		if (!out[i].node)
			return -EINVAL;
	}
	return 0;
}

int verbs_post_chain(const struct verbs_chain_link *chain, unsigned n)
{
	struct verbs_chain_link c[VERBS_CHAIN_MAX];
	struct verbs_dev *dev;
	uint64_t deadline = 0;
	int err = chain_resolve(chain, n, c);

	if (err)
		return err;
	dev = c[0].qp->dev;
	for (;;) {
		bool ok;

		spin_lock(&dev->sq_lock);
		ok = sq_room_locked(dev, n);
		for (unsigned i = 0; ok && i < n; i++)
			sq_put_locked(dev, &c[i]);
		spin_unlock(&dev->sq_lock);
		if (ok)
			break;
		/* Full: fabricd is behind. Make sure it is awake, then wait. */
		stat_add(&dev->stats.sq_full);
		dev->doorbell(dev->ctx);
		if (!deadline)
			deadline = clock_ns() + VERBS_SQ_WAIT_NS;
		else if (clock_ns() > deadline)
			return -EAGAIN;
		thread_sleep_ns(50 * NS_PER_US);
	}
	__atomic_fetch_add(&dev->stats.posted, n, __ATOMIC_RELAXED);
	kick(dev);
	return 0;
}

int verbs_post_to(struct verbs_qp *qp, uint16_t node, uint16_t qpn,
		  const struct verbs_wr *wr)
{
	struct verbs_chain_link c = {qp, node, qpn, wr};

	if (!node)
		return -EINVAL;
	return verbs_post_chain(&c, 1);
}

int verbs_post(struct verbs_qp *qp, const struct verbs_wr *wr)
{
	struct verbs_chain_link c = {qp, 0, 0, wr};

	return verbs_post_chain(&c, 1);
}

int verbs_post_recv(struct verbs_qp *qp, uint64_t offset, uint32_t length, uint32_t key,
		    uint64_t wr_id)
{
	struct verbs_dev *dev = qp->dev;
	volatile struct fab_rqe *r;
	uint32_t head;

	spin_lock(&qp->rq_lock);
	head = load_acquire(&dev->hdr->rq_head[qp->qpn]);
	if (qp->rq_tail - head >= FAB_RQ_ENTRIES) {
		spin_unlock(&qp->rq_lock);
		return -ENOBUFS;
	}
	r = &dev->rq[qp->qpn * FAB_RQ_ENTRIES + qp->rq_tail % FAB_RQ_ENTRIES];
	r->wr_id = wr_id;
	r->offset = offset;
	r->length = length;
	r->key = key;
	r->reserved = 0;
	store_release(&dev->hdr->rq_tail[qp->qpn], ++qp->rq_tail);
	spin_unlock(&qp->rq_lock);
	return 0;
}

unsigned verbs_recv_posted(struct verbs_qp *qp)
{
	uint32_t head = load_acquire(&qp->dev->hdr->rq_head[qp->qpn]);
	uint32_t n;

	spin_lock(&qp->rq_lock);
	n = qp->rq_tail - head;
	spin_unlock(&qp->rq_lock);
	return n <= FAB_RQ_ENTRIES ? n : 0;
}

/* ---- completions ------------------------------------------------------------- */

int verbs_poll(struct verbs_qp *qp, struct verbs_wc *wc, int n)
{
	int got = 0;

	if (!qp->swcq)
		return 0;
	spin_lock(&qp->wq.lock);
	while (got < n && qp->swcq_head != qp->swcq_tail)
		wc[got++] = qp->swcq[qp->swcq_head++ % VERBS_SWCQ_ENTRIES];
	spin_unlock(&qp->wq.lock);
	return got;
}

int verbs_wait(struct verbs_qp *qp, struct verbs_wc *wc, uint64_t timeout_ns)
{
	uint64_t deadline = clock_ns() + timeout_ns;
	int err = -ETIMEDOUT;

	if (!qp->swcq)
		return -EINVAL;
	spin_lock(&qp->wq.lock);
	for (;;) {
		if (qp->swcq_head != qp->swcq_tail) {
			*wc = qp->swcq[qp->swcq_head++ % VERBS_SWCQ_ENTRIES];
			err = 0;
			break;
		}
		if (clock_ns() >= deadline || waitq_wait_locked(&qp->wq, deadline)) {
			if (qp->swcq_head == qp->swcq_tail)
				break;
		}
	}
	spin_unlock(&qp->wq.lock);
	return err;
}

/* Hands one completion to its QP (CQ thread, no lock held). */
static void deliver(struct verbs_dev *dev, struct verbs_qp *qp, const struct verbs_wc *wc)
{
	if (qp->handler) {
		qp->handler(qp, wc, qp->arg);
		return;
	}
	spin_lock(&qp->wq.lock);
	if (qp->swcq_tail - qp->swcq_head < VERBS_SWCQ_ENTRIES) {
		qp->swcq[qp->swcq_tail++ % VERBS_SWCQ_ENTRIES] = *wc;
		waitq_wake_all_locked(&qp->wq);
	} else {
		stat_add(&dev->stats.swcq_overflows);
	}
	spin_unlock(&qp->wq.lock);
}

static struct verbs_qp *qp_for_imm_locked(struct verbs_dev *dev, uint16_t node,
					  uint16_t qpn)
{
	for (unsigned i = 0; i < FAB_MAX_QPS; i++) {
		struct verbs_qp *qp = dev->qps[i];

		if (qp && qp->peer_node == node && qp->peer_qpn == qpn)
			return qp;
	}
	return NULL;
}

static void dispatch(struct verbs_dev *dev, const struct fab_cqe *c)
{
	struct verbs_wc wc = {
		.wr_id = c->wr_id,
		.status = verbs_status_errno(c->status),
		.fab_status = c->status,
		.opcode = c->opcode,
		.src_node = c->src_node,
		.src_qpn = c->src_qpn,
		.qpn = c->qpn,
		.byte_len = c->byte_len,
		.imm = c->imm,
		.remote_offset = c->remote_offset,
	};
	struct verbs_qp *qp = NULL;

	spin_lock(&dev->qp_lock);
	switch (c->opcode) {
	case FAB_OP_SEND:
	case FAB_OP_WRITE:
	case FAB_OP_READ:
	case FAB_OP_WRITE_IMM:
	case FAB_OP_RECV:
		if (c->qpn < FAB_MAX_QPS)
			qp = dev->qps[c->qpn];
		break;
	case FAB_OP_RECV_IMM:
		qp = qp_for_imm_locked(dev, c->src_node, c->src_qpn);
		break;
	}
	/* verbs_qp_destroy waits while dispatching names its QP. */
	__atomic_store_n(&dev->dispatching, qp, __ATOMIC_SEQ_CST);
	spin_unlock(&dev->qp_lock);
	if (qp) {
		deliver(dev, qp, &wc);
		__atomic_store_n(&dev->dispatching, NULL, __ATOMIC_RELEASE);
	} else {
		stat_add(&dev->stats.unexpected);
		pr_debug("verbs: completion %s status %u for no QP (qpn %u, from %u/%u)",
			 fab_opcode_name(c->opcode), c->status, c->qpn, c->src_node,
			 c->src_qpn);
	}
}

/* Consumes every completion fabricd has published; returns how many.
 * Caller owns dev->draining. */
static unsigned cq_drain(struct verbs_dev *dev)
{
	uint32_t tail = load_acquire(&dev->hdr->cq_tail);
	unsigned n = 0;

	if (tail - dev->cq_head > FAB_CQ_ENTRIES) {
		/* Impossible from a sane fabricd: skip to its tail. */
		stat_add(&dev->stats.unexpected);
		pr_warn("verbs: completion queue index jumped (head %u, tail %u)",
			dev->cq_head, tail);
		dev->cq_head = tail;
		store_release(&dev->hdr->cq_head, tail);
		return 0;
	}
	while (dev->cq_head != tail) {
		struct fab_cqe c;

		memcpy(&c, (const void *)&dev->cq[dev->cq_head % FAB_CQ_ENTRIES],
		       sizeof(c));
		dev->cq_head++;
		/* Free the slot before acting: a handler may post work whose
		 * completion needs it. */
		store_release(&dev->hdr->cq_head, dev->cq_head);
		stat_add(&dev->stats.completions);
		dispatch(dev, &c);
		n++;
	}
	return n;
}

static bool cq_empty(struct verbs_dev *dev)
{
	return load_acquire(&dev->hdr->cq_tail) == dev->cq_head;
}

/* Drains the CQ unless someone else is at it; returns CQEs consumed. */
static unsigned cq_try_drain(struct verbs_dev *dev)
{
	unsigned n;

	if (__atomic_exchange_n(&dev->draining, true, __ATOMIC_ACQUIRE))
		return 0;
	n = cq_drain(dev);
	__atomic_store_n(&dev->draining, false, __ATOMIC_RELEASE);
	return n;
}

int verbs_poll_cq(struct verbs_dev *dev)
{
	if (cq_empty(dev))
		return 0;
	return (int)cq_try_drain(dev);
}

void verbs_poll_begin(struct verbs_dev *dev)
{
	__atomic_add_fetch(&dev->pollers, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&dev->hdr->guest_sleeping, 0, __ATOMIC_RELAXED);
}

void verbs_poll_end(struct verbs_dev *dev)
{
	if (__atomic_sub_fetch(&dev->pollers, 1, __ATOMIC_SEQ_CST))
		return;
	if (!__atomic_load_n(&dev->cq_asleep, __ATOMIC_SEQ_CST))
		return; /* the CQ thread raises the flag when it goes to sleep */
	__atomic_store_n(&dev->hdr->guest_sleeping, 1, __ATOMIC_RELAXED);
	full_barrier();
	if (!cq_empty(dev))
		complete(&dev->irq); /* came in unannounced: wake the CQ thread */
}

static void cq_thread_main(void *arg)
{
	struct verbs_dev *dev = arg;
	uint64_t last = clock_ns();
	struct pollwin win;

	pollwin_init(&win, VERBS_SPIN_MIN_NS, VERBS_SPIN_MAX_NS);
	while (!dev->stopping) {
		bool woken = true;

		if (cq_try_drain(dev)) {
			last = clock_ns();
			continue;
		}
		if (clock_ns() - last < pollwin_ns(&win)) {
			thread_yield();
			continue;
		}
		__atomic_store_n(&dev->cq_asleep, true, __ATOMIC_SEQ_CST);
		if (!__atomic_load_n(&dev->pollers, __ATOMIC_SEQ_CST))
			__atomic_store_n(&dev->hdr->guest_sleeping, 1, __ATOMIC_RELAXED);
		full_barrier();
		if (cq_empty(dev) && !dev->stopping) {
			stat_add(&dev->stats.sleeps);
			woken = wait_for_completion_timeout(&dev->irq, VERBS_SLEEP_NS);
		}
		__atomic_store_n(&dev->cq_asleep, false, __ATOMIC_SEQ_CST);
		__atomic_store_n(&dev->hdr->guest_sleeping, 0, __ATOMIC_RELAXED);
		/* The wait began at the last completion (kernel/pollwin.h). */
		pollwin_slept(&win, clock_ns() - last, woken);
		last = clock_ns();
	}
}

void verbs_interrupt(struct verbs_dev *dev)
{
	stat_add(&dev->stats.interrupts);
	complete(&dev->irq);
}

static void verbs_irq(void *arg)
{
	verbs_interrupt(arg);
}

/* ---- devices ------------------------------------------------------------------ */

int verbs_dev_create(const struct verbs_hw *hw, struct verbs_dev **out)
{
	volatile struct fab_window_hdr *hdr = hw->window;
	struct verbs_dev *dev;
	int err;

	if (hw->window_size < FAB_MIN_WINDOW)
		return -EINVAL;
	if (hdr->magic != FAB_MAGIC || hdr->version != FAB_VERSION)
		return -EPROTO;
	if (hdr->window_size != hw->window_size)
		pr_warn("verbs: window header says %llu bytes, the device %llu",
			(unsigned long long)hdr->window_size,
			(unsigned long long)hw->window_size);
	dev = kzalloc(sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->window = hw->window;
	dev->window_phys = hw->window_phys;
	dev->window_size =
		hw->window_size < hdr->window_size ? hw->window_size : hdr->window_size;
	dev->hdr = hdr;
	dev->mrs = (volatile struct fab_mr *)(dev->window + FAB_MR_OFFSET);
	dev->sq = (volatile struct fab_wqe *)(dev->window + FAB_SQ_OFFSET);
	dev->rq = (volatile struct fab_rqe *)(dev->window + FAB_RQ_OFFSET);
	dev->cq = (volatile struct fab_cqe *)(dev->window + FAB_CQ_OFFSET);
	dev->node_id = hdr->node_id;
	dev->generation = hdr->generation;
	dev->doorbell = hw->doorbell;
	dev->ctx = hw->ctx;
	spin_init(&dev->sq_lock, "verbs-sq");
	spin_init(&dev->qp_lock, "verbs-qps");
	spin_init(&dev->mr_lock, "verbs-mr");
	spin_init(&dev->buf_lock, "verbs-buf");
	completion_init(&dev->irq);

	/* Start from fabricd's view of the rings (a fresh window: all 0). */
	dev->sq_tail = hdr->sq_head;
	hdr->sq_tail = dev->sq_tail;
	dev->cq_head = hdr->cq_tail;
	hdr->cq_head = dev->cq_head;
	hdr->guest_sleeping = 0;
	for (unsigned i = 0; i < FAB_MR_ENTRIES; i++)
		if (dev->mrs[i].length)
			dev->mrs[i].length = 0; /* nobody else's keys survive */

	dev->free_ext[0].offset = FAB_DATA_OFFSET;
	dev->free_ext[0].size = dev->window_size - FAB_DATA_OFFSET;
	dev->nfree = 1;
	err = verbs_reg_mr(dev, FAB_DATA_OFFSET, dev->window_size - FAB_DATA_OFFSET,
			   FAB_ACCESS_LOCAL_WRITE, &dev->local_mr);
	if (err)
		goto free_dev;

	dev->cq_thread = thread_create("fabric-cq", cq_thread_main, dev, false);
	if (!dev->cq_thread) {
		err = -ENOMEM;
		goto free_dev;
	}
	*out = dev;
	return 0;
free_dev:
	kfree(dev);
	return err;
}

void verbs_dev_destroy(struct verbs_dev *dev)
{
	dev->stopping = true;
	complete(&dev->irq);
	thread_join(dev->cq_thread);
	verbs_dereg_mr(dev, &dev->local_mr);
	kfree(dev);
}

static void ivshmem_ring(void *ctx)
{
	ivshmem_doorbell(ctx, 0, FAB_DOORBELL_VALUE);
}

/* First-time bring-up of the node's device; caller holds open_lock. */
static int open_locked(void)
{
	static struct ivshmem nic;
	struct verbs_hw hw;
	int err;

	err = ivshmem_probe(&nic);
	if (err)
		return err;
	hw.window = nic.window;
	hw.window_size = nic.window_size;
	hw.window_phys = nic.window_phys;
	hw.doorbell = ivshmem_ring;
	hw.ctx = &nic;
	err = verbs_dev_create(&hw, &node_dev);
	if (err) {
		pr_err("verbs: fabric window unusable (error %d)", err);
		return err;
	}
	if (node_dev->node_id != nic.position)
		pr_warn("verbs: window says node %u, ivshmem position %u",
			node_dev->node_id, nic.position);
	ivshmem_set_handler(verbs_irq, node_dev);
	pr_info("verbs: node %u generation %u, window %llu KiB", node_dev->node_id,
		node_dev->generation, (unsigned long long)(node_dev->window_size >> 10));
	return 0;
}

int verbs_open(struct verbs_dev **out)
{
	int err;

	spin_lock(&open_lock);
	if (!node_dev && !node_err)
		node_err = open_locked();
	err = node_err;
	if (!err)
		*out = node_dev;
	spin_unlock(&open_lock);
	return err;
}
