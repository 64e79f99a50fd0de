/*
 * Self tests of the verbs and RPC layers on the loopback fabric
 * (include/net/loop_fabric.h), so that these run in every plain `ktest`
 * boot without an ivshmem device or a cluster. The real fabric is tested
 * by the cluster tests (net/fabric_cluster.c, tests/cluster/fabric_test.py).
 */
#include <drivers/ivshmem.h>
#include <drivers/pci.h>
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <lib/string.h>
#include <net/loop_fabric.h>
#include <net/rpc.h>
#include <net/verbs.h>

#define LOOP_NODES	2
#define LOOP_FIRST_NODE 7
#define LOOP_WAIT_NS	(NS_PER_S)

/* ---- verbs ------------------------------------------------------------------- */

/* A standalone boot has no fabric: everything says so, nothing breaks. */
KTEST(verbs_open_without_fabric_device)
{
	struct verbs_dev *dev = NULL;
	struct rpc_node *rn = NULL;

	if (pci_find(IVSHMEM_VENDOR, IVSHMEM_DEVICE, 0)) {
		KT_EXPECT_EQ(verbs_open(&dev), 0); /* booted with one after all */
		return;
	}
	KT_EXPECT_EQ(verbs_open(&dev), -ENODEV);
	KT_EXPECT_EQ(verbs_open(&dev), -ENODEV); /* and again, quietly */
	KT_EXPECT(dev == NULL);
	KT_EXPECT_EQ(rpc_open(&rn), -ENODEV);
	KT_EXPECT(rn == NULL);
}

static void fill(void *p, size_t n, uint8_t seed)
{
	uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i * 7);
}

KTEST(verbs_loop_send_recv)
{
	struct loop_fabric *f = loop_create(2, LOOP_FIRST_NODE, 1);
	struct verbs_dev *a, *b;
	struct verbs_qp *qa, *qb;
	struct verbs_buf src, dst;
	struct verbs_wc wc;
	struct verbs_wr wr = {
		.wr_id = 11, .opcode = FAB_OP_SEND, .length = 3000, .imm = 99};

	KT_ASSERT(f != NULL);
	a = f->nodes[0].dev;
	b = f->nodes[1].dev;
	KT_EXPECT_EQ(verbs_node_id(a), LOOP_FIRST_NODE);
	KT_ASSERT(verbs_qp_create(a, 2, NULL, NULL, &qa) == 0);
	KT_ASSERT(verbs_qp_create(b, 3, NULL, NULL, &qb) == 0);
	KT_EXPECT_EQ(verbs_qp_create(b, 3, NULL, NULL, &qb), -EBUSY);
	verbs_qp_connect(qa, verbs_node_id(b), 3);
	verbs_qp_connect(qb, verbs_node_id(a), 2);
	KT_ASSERT(verbs_buf_alloc(a, 4096, &src) == 0);
	KT_ASSERT(verbs_buf_alloc(b, 4096, &dst) == 0);
	fill(src.va, 4096, 5);
	KT_EXPECT_EQ(verbs_post_recv(qb, dst.offset, 4096, verbs_local_key(b), 77), 0);
	KT_EXPECT_EQ(verbs_recv_posted(qb), 1);
	wr.local_offset = src.offset;
	wr.local_key = verbs_local_key(a);
	KT_EXPECT_EQ(verbs_post(qa, &wr), 0);
	KT_ASSERT(verbs_wait(qa, &wc, LOOP_WAIT_NS) == 0);
	KT_EXPECT_EQ(wc.opcode, FAB_OP_SEND);
	KT_EXPECT_EQ(wc.status, 0);
	KT_EXPECT_EQ(wc.wr_id, 11);
	KT_ASSERT(verbs_wait(qb, &wc, LOOP_WAIT_NS) == 0);
	KT_EXPECT_EQ(wc.opcode, FAB_OP_RECV);
	KT_EXPECT_EQ(wc.wr_id, 77);
	KT_EXPECT_EQ(wc.byte_len, 3000);
	KT_EXPECT_EQ(wc.imm, 99);
	KT_EXPECT_EQ(wc.src_node, verbs_node_id(a));
	KT_EXPECT_EQ(wc.src_qpn, 2);
	KT_EXPECT(memcmp(src.va, dst.va, 3000) == 0);
	KT_EXPECT_EQ(((uint8_t *)dst.va)[3000], 0);

	/* No receive buffer: RNR, nothing written. */
	KT_EXPECT_EQ(verbs_post(qa, &wr), 0);
	KT_ASSERT(verbs_wait(qa, &wc, LOOP_WAIT_NS) == 0);
	KT_EXPECT_EQ(wc.status, -ENOBUFS);
	KT_EXPECT_EQ(wc.fab_status, FAB_ST_RNR);
	KT_EXPECT_EQ(verbs_poll(qb, &wc, 1), 0);

	/* Too long for the buffer. */
	KT_EXPECT_EQ(verbs_post_recv(qb, dst.offset, 100, verbs_local_key(b), 78), 0);
	KT_EXPECT_EQ(verbs_post(qa, &wr), 0);
	KT_ASSERT(verbs_wait(qa, &wc, LOOP_WAIT_NS) == 0);
	KT_EXPECT_EQ(wc.status, -EMSGSIZE);
	KT_ASSERT(verbs_wait(qb, &wc, LOOP_WAIT_NS) == 0);
	KT_EXPECT_EQ(wc.status, -EMSGSIZE);

	verbs_qp_destroy(qa);
	verbs_qp_destroy(qb);
	verbs_buf_free(a, &src);
	verbs_buf_free(b, &dst);
	loop_destroy(f);
}

KTEST(verbs_loop_write_read_imm)
{
	struct loop_fabric *f = loop_create(2, LOOP_FIRST_NODE, 1);
	struct verbs_dev *a, *b;
	struct verbs_qp *qa, *qb;
	struct verbs_buf la, rb;
	struct verbs_mr mr;
	struct verbs_wc wc;
	struct verbs_wr wr = {.length = 8192};

	KT_ASSERT(f != NULL);
	a = f->nodes[0].dev;
	b = f->nodes[1].dev;
	KT_ASSERT(verbs_qp_create(a, -1, NULL, NULL, &qa) == 0);
	KT_ASSERT(verbs_qp_create(b, -1, NULL, NULL, &qb) == 0);
	verbs_qp_connect(qa, verbs_node_id(b), verbs_qp_num(qb));
	verbs_qp_connect(qb, verbs_node_id(a), verbs_qp_num(qa));
	KT_ASSERT(verbs_buf_alloc(a, 16384, &la) == 0);
	KT_ASSERT(verbs_buf_alloc(b, 16384, &rb) == 0);
	KT_ASSERT(verbs_reg_mr(b, rb.offset, 16384,
			       FAB_ACCESS_REMOTE_READ | FAB_ACCESS_REMOTE_WRITE,
			       &mr) == 0);
	KT_EXPECT(mr.key != verbs_local_key(b));
	fill(la.va, 8192, 1);
	wr.local_offset = la.offset;
	wr.local_key = verbs_local_key(a);
	wr.remote_key = mr.key;

	wr.opcode = FAB_OP_WRITE;
	wr.remote_offset = rb.offset + 4096;
	KT_EXPECT_EQ(verbs_post(qa, &wr), 0);
	KT_ASSERT(verbs_wait(qa, &wc, LOOP_WAIT_NS) == 0);
	KT_EXPECT_EQ(wc.status, 0);
	KT_EXPECT(memcmp((uint8_t *)rb.va + 4096, la.va, 8192) == 0);

	fill((uint8_t *)rb.va, 4096, 200);
	wr.opcode = FAB_OP_READ;
	wr.remote_offset = rb.offset;
	wr.local_offset = la.offset + 8192;
	wr.length = 4096;
	KT_EXPECT_EQ(verbs_post(qa, &wr), 0);
	KT_ASSERT(verbs_wait(qa, &wc, LOOP_WAIT_NS) == 0);
	KT_EXPECT_EQ(wc.opcode, FAB_OP_READ);
	KT_EXPECT_EQ(wc.status, 0);
	KT_EXPECT(memcmp((uint8_t *)la.va + 8192, rb.va, 4096) == 0);

	wr.opcode = FAB_OP_WRITE_IMM;
	wr.local_offset = la.offset;
	wr.remote_offset = rb.offset + 12288;
	wr.imm = 0xabcd;
	KT_EXPECT_EQ(verbs_post(qa, &wr), 0);
	KT_ASSERT(verbs_wait(qa, &wc, LOOP_WAIT_NS) == 0);
	KT_EXPECT_EQ(wc.status, 0);
	KT_ASSERT(verbs_wait(qb, &wc, LOOP_WAIT_NS) == 0);
	KT_EXPECT_EQ(wc.opcode, FAB_OP_RECV_IMM);
	KT_EXPECT_EQ(wc.imm, 0xabcd);
	KT_EXPECT_EQ(wc.byte_len, 4096);
	KT_EXPECT_EQ(wc.remote_offset, rb.offset + 12288);
	KT_EXPECT(memcmp((uint8_t *)rb.va + 12288, la.va, 4096) == 0);

	verbs_dereg_mr(b, &mr);
	verbs_qp_destroy(qa);
	verbs_qp_destroy(qb);
	verbs_buf_free(a, &la);
	verbs_buf_free(b, &rb);
	loop_destroy(f);
}

/* Posts wr on qa and returns the completion's status (or 1: none). */
static int post_status(struct verbs_qp *qa, const struct verbs_wr *wr)
{
	struct verbs_wc wc;

	if (verbs_post(qa, wr))
		return 1;
	if (verbs_wait(qa, &wc, LOOP_WAIT_NS))
		return 1;
	return wc.status;
}

KTEST(verbs_loop_rejects_bad_access)
{
	struct loop_fabric *f = loop_create(2, LOOP_FIRST_NODE, 1);
	struct verbs_dev *a, *b;
	struct verbs_qp *qa;
	struct verbs_buf la, rb;
	struct verbs_mr ro, rw;
	struct verbs_wr wr = {.opcode = FAB_OP_WRITE, .length = 64};
	uint32_t stale;

	KT_ASSERT(f != NULL);
	a = f->nodes[0].dev;
	b = f->nodes[1].dev;
	KT_ASSERT(verbs_qp_create(a, 0, NULL, NULL, &qa) == 0);
	verbs_qp_connect(qa, verbs_node_id(b), 0);
	KT_ASSERT(verbs_buf_alloc(a, 4096, &la) == 0);
	KT_ASSERT(verbs_buf_alloc(b, 8192, &rb) == 0);
	KT_ASSERT(verbs_reg_mr(b, rb.offset, 4096, FAB_ACCESS_REMOTE_READ, &ro) == 0);
	KT_ASSERT(verbs_reg_mr(b, rb.offset, 4096, FAB_ACCESS_REMOTE_WRITE, &rw) == 0);
	wr.local_offset = la.offset;
	wr.local_key = verbs_local_key(a);

	wr.remote_key = rw.key;
	wr.remote_offset = rb.offset;
	KT_EXPECT_EQ(post_status(qa, &wr), 0);
	wr.remote_offset = rb.offset + 4096 - 32; /* runs past the MR */
	KT_EXPECT_EQ(post_status(qa, &wr), -EACCES);
	wr.remote_offset = rb.offset - 64; /* before it */
	KT_EXPECT_EQ(post_status(qa, &wr), -EACCES);
	wr.remote_offset = rb.offset;
	wr.remote_key = ro.key; /* no write right */
	KT_EXPECT_EQ(post_status(qa, &wr), -EACCES);
	wr.remote_key = rw.key ^ 0x100; /* right slot, wrong tag */
	KT_EXPECT_EQ(post_status(qa, &wr), -EACCES);
	stale = rw.key;
	verbs_dereg_mr(b, &rw);
	KT_EXPECT_EQ(verbs_reg_mr(b, rb.offset, 4096, FAB_ACCESS_REMOTE_WRITE, &rw), 0);
	KT_EXPECT(rw.key != stale);
	wr.remote_key = stale; /* slot reused: the old key must not work */
	KT_EXPECT_EQ(post_status(qa, &wr), -EACCES);
	wr.remote_key = rw.key;
	wr.local_key = verbs_local_key(a) ^ 0x100; /* our own key wrong */
	KT_EXPECT_EQ(post_status(qa, &wr), -EFAULT);
	wr.local_key = verbs_local_key(a);
	wr.local_offset = 0; /* our control page: in no MR */
	KT_EXPECT_EQ(post_status(qa, &wr), -EFAULT);
	wr.local_offset = la.offset;
	KT_EXPECT_EQ(verbs_post_to(qa, 3, 0, &wr), 0); /* no such node */
	{
		struct verbs_wc wc;

		KT_EXPECT(verbs_wait(qa, &wc, LOOP_WAIT_NS) == 0 &&
			  wc.status == -EHOSTUNREACH);
	}
	wr.opcode = 9;
	KT_EXPECT_EQ(verbs_post(qa, &wr), -EINVAL);
	{
		struct verbs_mr none;

		/* the control page and rings are never registrable */
		KT_EXPECT_EQ(verbs_reg_mr(b, 0, 4096, FAB_ACCESS_REMOTE_READ, &none),
			     -EINVAL);
	}

	verbs_dereg_mr(b, &ro);
	verbs_dereg_mr(b, &rw);
	verbs_qp_destroy(qa);
	verbs_buf_free(a, &la);
	verbs_buf_free(b, &rb);
	loop_destroy(f);
}

/* The status of the next completion of qp, which must be wr_id's; 1 if
 * none (or another) comes. */
static int next_status(struct verbs_qp *qp, uint64_t wr_id)
{
	struct verbs_wc wc;

	if (verbs_wait(qp, &wc, LOOP_WAIT_NS) || wc.wr_id != wr_id)
		return 1;
	return wc.status;
}

/*
 * verbs_post_chain and fences: a WRITE (QP 1) with a fenced SEND (QP 2)
 * right behind it in one chain. Behind a refused WRITE the SEND is
 * flushed (-ECANCELED) and never arrives; behind a good one it arrives
 * after the data. Chains of nothing, too many or two devices are refused.
 */
KTEST(verbs_loop_fenced_chain)
{
	struct loop_fabric *f = loop_create(2, LOOP_FIRST_NODE, 1);
	struct verbs_dev *a, *b;
	struct verbs_qp *qw, *qs, *qb;
	struct verbs_buf la, rb, inbox;
	struct verbs_mr rw;
	struct verbs_wr write = {.wr_id = 1, .opcode = FAB_OP_WRITE, .length = 4096};
	struct verbs_wr send = {.wr_id = 2, .opcode = FAB_OP_SEND, .length = 8,
				.fenced = true};
	struct verbs_chain_link chain[2];
	struct verbs_wc wc;

	KT_ASSERT(f != NULL);
	a = f->nodes[0].dev;
	b = f->nodes[1].dev;
	KT_ASSERT(verbs_qp_create(a, 1, NULL, NULL, &qw) == 0);
	KT_ASSERT(verbs_qp_create(a, 2, NULL, NULL, &qs) == 0);
	KT_ASSERT(verbs_qp_create(b, 3, NULL, NULL, &qb) == 0);
	verbs_qp_connect(qs, verbs_node_id(b), 3);
	KT_ASSERT(verbs_buf_alloc(a, 8192, &la) == 0);
	KT_ASSERT(verbs_buf_alloc(b, 4096, &rb) == 0);
	KT_ASSERT(verbs_buf_alloc(b, 4096, &inbox) == 0);
	KT_ASSERT(verbs_reg_mr(b, rb.offset, 4096, FAB_ACCESS_REMOTE_WRITE, &rw) == 0);
	fill(la.va, 8192, 3);
	write.local_offset = la.offset;
	write.local_key = send.local_key = verbs_local_key(a);
	write.remote_offset = rb.offset;
	send.local_offset = la.offset + 4096;
	KT_EXPECT_EQ(verbs_post_recv(qb, inbox.offset, 4096, verbs_local_key(b), 9), 0);
	chain[0] = (struct verbs_chain_link){qw, verbs_node_id(b), 0, &write};
	chain[1] = (struct verbs_chain_link){qs, 0, 0, &send}; /* connected peer */

	write.remote_key = rw.key ^ 0x100; /* refused */
	KT_EXPECT_EQ(verbs_post_chain(chain, 2), 0);
	KT_EXPECT_EQ(next_status(qw, 1), -EACCES);
	KT_ASSERT(verbs_wait(qs, &wc, LOOP_WAIT_NS) == 0);
	KT_EXPECT_EQ(wc.wr_id, 2);
	KT_EXPECT_EQ(wc.status, -ECANCELED);
	KT_EXPECT_EQ(wc.fab_status, FAB_ST_FLUSHED);
	KT_EXPECT_EQ(verbs_poll(qb, &wc, 1), 0);
	KT_EXPECT_EQ(verbs_recv_posted(qb), 1);

	write.remote_key = rw.key;
	KT_EXPECT_EQ(verbs_post_chain(chain, 2), 0);
	KT_EXPECT_EQ(next_status(qw, 1), 0);
	KT_EXPECT_EQ(next_status(qs, 2), 0);
	KT_ASSERT(verbs_wait(qb, &wc, LOOP_WAIT_NS) == 0);
	KT_EXPECT_EQ(wc.wr_id, 9);
	KT_EXPECT(memcmp(rb.va, la.va, 4096) == 0);
	KT_EXPECT(memcmp(inbox.va, (uint8_t *)la.va + 4096, 8) == 0);

	KT_EXPECT_EQ(verbs_post_chain(chain, 0), -EINVAL);
	KT_EXPECT_EQ(verbs_post_chain(chain, VERBS_CHAIN_MAX + 1), -EINVAL);
	chain[1].qp = qb; /* another device */
	KT_EXPECT_EQ(verbs_post_chain(chain, 2), -EINVAL);
	KT_EXPECT_EQ(verbs_poll(qw, &wc, 1), 0); /* nothing went out */

	verbs_dereg_mr(b, &rw);
	verbs_qp_destroy(qw);
	verbs_qp_destroy(qs);
	verbs_qp_destroy(qb);
	verbs_buf_free(a, &la);
	verbs_buf_free(b, &rb);
	verbs_buf_free(b, &inbox);
	loop_destroy(f);
}

KTEST(verbs_loop_buffers_coalesce)
{
	struct loop_fabric *f = loop_create(1, LOOP_FIRST_NODE, 1);
	struct verbs_buf big, parts[8];
	size_t all = LOOP_WINDOW - FAB_DATA_OFFSET;
	struct verbs_dev *d;

	KT_ASSERT(f != NULL);
	d = f->nodes[0].dev;
	KT_ASSERT(verbs_buf_alloc(d, all, &big) == 0);
	KT_EXPECT_EQ(big.offset, FAB_DATA_OFFSET);
	KT_EXPECT_EQ(verbs_buf_alloc(d, 64, &parts[0]), -ENOMEM);
	verbs_buf_free(d, &big);
	for (unsigned i = 0; i < 8; i++) {
		KT_ASSERT(verbs_buf_alloc(d, i % 2 ? 100 : 5000, &parts[i]) == 0);
		KT_EXPECT_EQ(parts[i].offset % (i % 2 ? 64 : 4096), 0);
	}
	for (unsigned i = 0; i < 8; i += 2)
		verbs_buf_free(d, &parts[i]);
	for (unsigned i = 1; i < 8; i += 2)
		verbs_buf_free(d, &parts[i]);
	KT_EXPECT_EQ(verbs_buf_alloc(d, all, &big), 0); /* all merged again */
	verbs_buf_free(d, &big);
	loop_destroy(f);
}

/* ---- RPC ------------------------------------------------------------------------ */

struct rpc_pair {
	struct loop_fabric *f;
	struct rpc_node *rn[2];
};

static bool pair_start(struct rpc_pair *p)
{
	uint16_t ids[2] = {LOOP_FIRST_NODE, LOOP_FIRST_NODE + 1};

	p->f = loop_create(2, LOOP_FIRST_NODE, 5);
	if (!p->f)
		return false;
	if (rpc_start(p->f->nodes[0].dev, ids, 2, &p->rn[0]) == 0) {
		if (rpc_start(p->f->nodes[1].dev, ids, 2, &p->rn[1]) == 0)
			return true;
		rpc_stop(p->rn[0]);
	}
	loop_destroy(p->f);
	return false;
}

static void pair_stop(struct rpc_pair *p)
{
	rpc_stop(p->rn[0]);
	rpc_stop(p->rn[1]);
	loop_destroy(p->f);
}

static int64_t counter_get(struct rpc_node *rn, uint16_t node, uint32_t slot)
{
	struct msg_counter rq = {.slot = slot};
	struct msg_counter_value v = {-1};

	if (rpc_call(rn, node, MSG_RPC_COUNTER_GET, &rq, sizeof(rq), &v, sizeof(v),
		     NS_PER_S))
		return -1;
	return v.value;
}

KTEST(rpc_loop_calls)
{
	struct rpc_pair p;
	struct msg_echo e = {0x1122334455667788ull}, er;
	struct msg_counter add = {.slot = 60, .delta = 5};
	struct msg_counter_value v;
	struct msg_bulk *bq = kmalloc(sizeof(*bq)), *br = kmalloc(sizeof(*br));
	uint16_t b = LOOP_FIRST_NODE + 1;
	int64_t before;

	KT_ASSERT(bq && br);
	KT_ASSERT(pair_start(&p));
	KT_EXPECT_EQ(rpc_call(p.rn[0], b, MSG_RPC_ECHO, &e, sizeof(e), &er, sizeof(er),
			      NS_PER_S),
		     0);
	KT_EXPECT_EQ(er.value, e.value);
	KT_EXPECT_EQ(rpc_peer_generation(p.rn[0], b), 5);
	/* to itself, too */
	KT_EXPECT_EQ(rpc_call(p.rn[0], LOOP_FIRST_NODE, MSG_RPC_ECHO, &e, sizeof(e), &er,
			      sizeof(er), NS_PER_S),
		     0);

	bq->cookie = 41;
	fill(bq->data, sizeof(bq->data), 3);
	memset(br, 0, sizeof(*br));
	KT_EXPECT_EQ(rpc_call(p.rn[0], b, MSG_RPC_BULK, bq, sizeof(*bq), br, sizeof(*br),
			      NS_PER_S),
		     0);
	KT_EXPECT_EQ(br->cookie, 42);
	KT_EXPECT(memcmp(bq->data, br->data, sizeof(br->data)) == 0);

	before = counter_get(p.rn[0], b, 60);
	KT_EXPECT_EQ(rpc_call(p.rn[0], b, MSG_RPC_COUNTER_ADD, &add, sizeof(add), &v,
			      sizeof(v), NS_PER_S),
		     0);
	KT_EXPECT_EQ(v.value, before + 5);
	KT_EXPECT_EQ(counter_get(p.rn[0], b, 60), before + 5);

	/* Typed errors: the server's decode refuses; the caller's too. */
	add.slot = 1000;
	KT_EXPECT_EQ(rpc_call(p.rn[0], b, MSG_RPC_COUNTER_ADD, &add, sizeof(add), &v,
			      sizeof(v), NS_PER_S),
		     -EINVAL);
	KT_EXPECT_EQ(rpc_call(p.rn[0], b, MSG_RPC_ECHO, &e, 4, &er, sizeof(er), NS_PER_S),
		     -EINVAL);
	KT_EXPECT_EQ(
		rpc_call(p.rn[0], b, 0x0fff, &e, sizeof(e), &er, sizeof(er), NS_PER_S),
		-EINVAL);
	KT_EXPECT_EQ(rpc_call(p.rn[0], 3, MSG_RPC_ECHO, &e, sizeof(e), &er, sizeof(er),
			      NS_PER_S),
		     -EHOSTUNREACH);
	pair_stop(&p);
	kfree(bq);
	kfree(br);
}

KTEST(rpc_loop_retry_and_duplicates)
{
	struct rpc_pair p;
	struct msg_echo e = {7}, er;
	struct msg_counter add = {.slot = 61, .delta = 1};
	struct msg_counter_value v;
	uint16_t b = LOOP_FIRST_NODE + 1;
	struct rpc_stats st;
	uint64_t served;
	int64_t before;

	KT_ASSERT(pair_start(&p));
	before = counter_get(p.rn[0], b, 61);

	/* A lost idempotent request is sent again. */
	p.f->drop_sends = 1;
	KT_EXPECT_EQ(rpc_call(p.rn[0], b, MSG_RPC_ECHO, &e, sizeof(e), &er, sizeof(er),
			      NS_PER_S),
		     0);
	rpc_get_stats(p.rn[0], &st);
	KT_EXPECT(st.resends >= 1);

	/* A lost non-idempotent one is not: the caller times out. */
	p.f->drop_sends = 1;
	KT_EXPECT_EQ(rpc_call(p.rn[0], b, MSG_RPC_COUNTER_ADD, &add, sizeof(add), &v,
			      sizeof(v), 200 * NS_PER_MS),
		     -ETIMEDOUT);
	KT_EXPECT_EQ(counter_get(p.rn[0], b, 61), before);

	/* A duplicated one runs once; the copy gets the cached reply. */
	p.f->dup_sends = 1;
	KT_EXPECT_EQ(rpc_call(p.rn[0], b, MSG_RPC_COUNTER_ADD, &add, sizeof(add), &v,
			      sizeof(v), NS_PER_S),
		     0);
	KT_EXPECT_EQ(v.value, before + 1);
	thread_sleep_ns(50 * NS_PER_MS); /* let the server see the copy */
	KT_EXPECT_EQ(counter_get(p.rn[0], b, 61), before + 1);
	rpc_get_stats(p.rn[1], &st);
	KT_EXPECT_EQ(st.duplicates, 1);

	/* So does a duplicated idempotent one with a cacheable reply: a copy
	 * may come after the call ended, when memory the request names (an
	 * FS_WRITE's data) is the caller's again. */
	served = st.served;
	p.f->dup_sends = 1;
	KT_EXPECT_EQ(rpc_call(p.rn[0], b, MSG_RPC_ECHO, &e, sizeof(e), &er, sizeof(er),
			      NS_PER_S),
		     0);
	/* The copy is served after the reply: wait for it (bounded). */
	for (uint64_t end = clock_ns() + 5 * NS_PER_S; clock_ns() < end;) {
		rpc_get_stats(p.rn[1], &st);
		if (st.duplicates >= 2)
			break;
		thread_sleep_ns(NS_PER_MS);
	}
	KT_EXPECT_EQ(st.served, served + 1);
	KT_EXPECT_EQ(st.duplicates, 2);
	pair_stop(&p);
}

struct sleeper {
	struct rpc_node *rn;
	int result;
};

static void sleeper_main(void *arg)
{
	struct sleeper *s = arg;
	struct msg_sleep q = {.ms = 20}, r;

	s->result = rpc_call(s->rn, LOOP_FIRST_NODE + 1, MSG_RPC_SLEEP, &q, sizeof(q), &r,
			     sizeof(r), 10 * NS_PER_S);
}

KTEST(rpc_loop_flow_control)
{
	enum { N = RPC_RECV_DEPTH + 8 };
	struct sleeper s[N];
	struct thread *t[N];
	struct rpc_pair p;
	struct rpc_stats st;

	KT_ASSERT(pair_start(&p));
	for (unsigned i = 0; i < N; i++) {
		s[i].rn = p.rn[0];
		s[i].result = 1;
		t[i] = thread_create("rpc-sleeper", sleeper_main, &s[i], false);
	}
	for (unsigned i = 0; i < N; i++) {
		if (t[i])
			thread_join(t[i]);
		KT_EXPECT_EQ(s[i].result, 0);
	}
	rpc_get_stats(p.rn[0], &st);
	KT_EXPECT(st.rnr_retries > 0); /* more callers than receive buffers */
	pair_stop(&p);
}

KTEST(rpc_loop_timeout_and_restart)
{
	struct rpc_pair p;
	struct msg_sleep q = {.ms = 300}, r;
	struct msg_echo e = {1}, er;
	uint16_t ids[2] = {LOOP_FIRST_NODE, LOOP_FIRST_NODE + 1};
	uint16_t b = LOOP_FIRST_NODE + 1;
	uint64_t t0 = clock_ns();

	KT_ASSERT(pair_start(&p));
	KT_EXPECT_EQ(rpc_call(p.rn[0], b, MSG_RPC_SLEEP, &q, sizeof(q), &r, sizeof(r),
			      100 * NS_PER_MS),
		     -ETIMEDOUT);
	KT_EXPECT(clock_ns() - t0 < 250 * NS_PER_MS);
	KT_EXPECT_EQ(rpc_call(p.rn[0], b, MSG_RPC_ECHO, &e, sizeof(e), &er, sizeof(er),
			      2 * NS_PER_S),
		     0);
	KT_EXPECT_EQ(rpc_peer_generation(p.rn[0], b), 5);

	/* Node b restarts: its next answer is "peer restarted", then calls
	 * work again with the new generation. */
	rpc_stop(p.rn[1]);
	KT_ASSERT(loop_restart(p.f, 1));
	KT_ASSERT(rpc_start(p.f->nodes[1].dev, ids, 2, &p.rn[1]) == 0);
	KT_EXPECT_EQ(rpc_call(p.rn[0], b, MSG_RPC_ECHO, &e, sizeof(e), &er, sizeof(er),
			      NS_PER_S),
		     -ECONNRESET);
	KT_EXPECT_EQ(rpc_peer_generation(p.rn[0], b), 6);
	KT_EXPECT_EQ(rpc_call(p.rn[0], b, MSG_RPC_ECHO, &e, sizeof(e), &er, sizeof(er),
			      NS_PER_S),
		     0);
	pair_stop(&p);
}

/* ---- RPC worker pool -------------------------------------------------------------- */

/*
 * Node b serves the RPC_* test opcodes with a pool; RPC_SLEEP's hold
 * (rpc_sleep_hold) keeps handlers running until the test lets them go, so
 * what runs at once is seen by counting, never by timing.
 */
#define POOL_FIRST   MSG_RPC_ECHO /* 0x1010..0x101f: the RPC_* test opcodes */
#define POOL_LAST    0x101f
#define POOL_WAIT_NS (5 * NS_PER_S)
#define POOL_CALL_NS (20 * NS_PER_S) /* longer than any hold */
#define POOL_CALLERS 8

struct pool_caller {
	struct rpc_node *rn;
	uint16_t node;
	unsigned opcode; /* MSG_RPC_SLEEP (ms 0) or MSG_RPC_COUNTER_ADD (+1) */
	unsigned calls;
	uint32_t slot;
	int result; /* 0, or the first error */
};

static void pool_caller_main(void *arg)
{
	struct pool_caller *c = arg;
	struct msg_counter add = {.slot = c->slot, .delta = 1};
	struct msg_counter_value v;
	struct msg_sleep q = {.ms = 0}, r;

	c->result = 0;
	for (unsigned i = 0; i < c->calls && !c->result; i++) {
		if (c->opcode == MSG_RPC_SLEEP)
			c->result = rpc_call(c->rn, c->node, MSG_RPC_SLEEP, &q, sizeof(q),
					     &r, sizeof(r), POOL_CALL_NS);
		else
			c->result = rpc_call(c->rn, c->node, MSG_RPC_COUNTER_ADD, &add,
					     sizeof(add), &v, sizeof(v), POOL_CALL_NS);
	}
}

/* Starts n callers of c's kind (c[i] filled by the caller but result). */
static void pool_callers_start(struct pool_caller *c, struct thread **t, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		c[i].result = 1;
		t[i] = thread_create("rpc-pool-caller", pool_caller_main, &c[i], false);
	}
}

/* Joins them; returns how many did not finish every call with 0. */
static unsigned pool_callers_join(struct pool_caller *c, struct thread **t, unsigned n)
{
	unsigned bad = 0;

	for (unsigned i = 0; i < n; i++) {
		if (t[i])
			thread_join(t[i]);
		bad += c[i].result != 0;
	}
	return bad;
}

static void pool_callers_init(struct pool_caller *c, unsigned n, struct rpc_node *rn,
			      uint16_t node, unsigned opcode, unsigned calls)
{
	for (unsigned i = 0; i < n; i++)
		c[i] = (struct pool_caller){rn, node, opcode, calls, 62, 1};
}

/* Waits (bounded) until want RPC_SLEEP handlers run; returns how many do. */
static unsigned pool_wait_running(unsigned want)
{
	uint64_t end = clock_ns() + POOL_WAIT_NS;
	unsigned now;

	while ((now = rpc_sleep_running(NULL, false)) < want && clock_ns() < end)
		thread_sleep_ns(NS_PER_MS);
	return now;
}

static uint64_t pool_dups(struct rpc_node *rn, bool running_only)
{
	struct rpc_stats st;

	rpc_get_stats(rn, &st);
	return st.duplicates_running + (running_only ? 0 : st.duplicates);
}

static uint64_t pool_served(struct rpc_node *rn)
{
	struct rpc_stats st;

	rpc_get_stats(rn, &st);
	return st.served;
}

KTEST(rpc_pool_arguments)
{
	struct rpc_pair p;
	struct msg_echo e = {3}, er;
	uint16_t b = LOOP_FIRST_NODE + 1;

	KT_ASSERT(pair_start(&p));
	KT_EXPECT_EQ(rpc_serve_pool(p.rn[1], 0x1011, 0x1010, 2), -EINVAL);
	KT_EXPECT_EQ(rpc_serve_pool(p.rn[1], POOL_FIRST, POOL_LAST, 0), -EINVAL);
	KT_EXPECT_EQ(rpc_serve_pool(p.rn[1], POOL_FIRST, POOL_LAST, RPC_MAX_WORKERS + 1),
		     -EINVAL);
	KT_EXPECT_EQ(rpc_serve_pool(p.rn[1], POOL_FIRST, 0x10000, 1), -EINVAL);
	KT_EXPECT_EQ(rpc_serve_pool(p.rn[1], POOL_FIRST, POOL_LAST, RPC_MAX_WORKERS), 0);
	KT_EXPECT_EQ(rpc_serve_pool(p.rn[1], 0x2000, 0x2000, 1), -EBUSY);
	KT_EXPECT_EQ(rpc_serve_pool(p.rn[1], POOL_FIRST, POOL_LAST, 1), -EBUSY);
	/* the pool serves; pair_stop stops its threads with the server's */
	KT_EXPECT_EQ(rpc_call(p.rn[0], b, MSG_RPC_ECHO, &e, sizeof(e), &er, sizeof(er),
			      NS_PER_S),
		     0);
	KT_EXPECT_EQ(er.value, 3);
	pair_stop(&p);
}

KTEST(rpc_pool_runs_requests_at_once)
{
	enum { WORKERS = 3, N = WORKERS + 1 };
	struct pool_caller c[N];
	struct thread *t[N];
	struct msg_ping ping = {.cookie = 99}, pr;
	uint16_t a = LOOP_FIRST_NODE, b = LOOP_FIRST_NODE + 1;
	unsigned max;
	struct rpc_pair p;

	KT_ASSERT(pair_start(&p));
	KT_ASSERT(rpc_serve_pool(p.rn[1], POOL_FIRST, POOL_LAST, WORKERS) == 0);

	/* Node a has no pool: its server thread runs one handler at a time. */
	rpc_sleep_hold(true);
	rpc_sleep_running(NULL, true);
	pool_callers_init(c, N, p.rn[1], a, MSG_RPC_SLEEP, 1);
	pool_callers_start(c, t, N);
	KT_EXPECT_EQ(pool_wait_running(1), 1);
	thread_sleep_ns(20 * NS_PER_MS); /* room for a wrong second one */
	rpc_sleep_hold(false);
	KT_EXPECT_EQ(pool_callers_join(c, t, N), 0);
	rpc_sleep_running(&max, true);
	KT_EXPECT_EQ(max, 1);

	/* Node b's pool: every worker busy, the fourth request waits. */
	rpc_sleep_hold(true);
	pool_callers_init(c, N, p.rn[0], b, MSG_RPC_SLEEP, 1);
	pool_callers_start(c, t, N);
	KT_EXPECT_EQ(pool_wait_running(WORKERS), WORKERS);
	/* The server thread still serves the other opcodes meanwhile. */
	KT_EXPECT_EQ(rpc_call(p.rn[0], b, MSG_PING, &ping, sizeof(ping), &pr, sizeof(pr),
			      NS_PER_S),
		     0);
	KT_EXPECT_EQ(pr.cookie, 99);
	KT_EXPECT_EQ(rpc_sleep_running(NULL, false), WORKERS); /* still held */
	rpc_sleep_hold(false);
	KT_EXPECT_EQ(pool_callers_join(c, t, N), 0);
	rpc_sleep_running(&max, true);
	KT_EXPECT_EQ(max, WORKERS); /* never more than the pool */
	pair_stop(&p);
}

KTEST(rpc_pool_copy_of_running_request_dropped)
{
	struct pool_caller c;
	struct thread *t;
	uint16_t b = LOOP_FIRST_NODE + 1;
	uint64_t served, dropped, end;
	unsigned max;
	struct rpc_pair p;

	KT_ASSERT(pair_start(&p));
	KT_ASSERT(rpc_serve_pool(p.rn[1], POOL_FIRST, POOL_LAST, 2) == 0);
	served = pool_served(p.rn[1]);
	dropped = pool_dups(p.rn[1], true);
	rpc_sleep_hold(true);
	rpc_sleep_running(NULL, true);
	spin_lock(&p.f->lock);
	p.f->dup_sends = 1; /* delivered twice: a free worker takes the copy */
	spin_unlock(&p.f->lock);
	pool_callers_init(&c, 1, p.rn[0], b, MSG_RPC_SLEEP, 1);
	pool_callers_start(&c, &t, 1);
	/* The original is held, so the copy cannot be answered from the
	 * cache: it must be dropped as running. */
	end = clock_ns() + POOL_WAIT_NS;
	while (pool_dups(p.rn[1], true) == dropped && clock_ns() < end)
		thread_sleep_ns(NS_PER_MS);
	KT_EXPECT_EQ(pool_dups(p.rn[1], true), dropped + 1);
	KT_EXPECT_EQ(rpc_sleep_running(NULL, false), 1);
	rpc_sleep_hold(false);
	KT_EXPECT_EQ(pool_callers_join(&c, &t, 1), 0);
	rpc_sleep_running(&max, true);
	KT_EXPECT_EQ(max, 1);
	KT_EXPECT_EQ(pool_served(p.rn[1]), served + 1);
	pair_stop(&p);
}

KTEST(rpc_pool_non_idempotent_once)
{
	enum { N = 4, CALLS = 20, DUPS = 40 };
	struct pool_caller c[N];
	struct thread *t[N];
	uint16_t b = LOOP_FIRST_NODE + 1;
	uint64_t served, dups, end;
	struct rpc_pair p;
	int64_t before;

	KT_ASSERT(pair_start(&p));
	KT_ASSERT(rpc_serve_pool(p.rn[1], POOL_FIRST, POOL_LAST, 3) == 0);
	before = counter_get(p.rn[0], b, 62);
	served = pool_served(p.rn[1]);
	dups = pool_dups(p.rn[1], false);
	spin_lock(&p.f->lock);
	p.f->dup_sends = DUPS; /* copies race their originals in the pool */
	spin_unlock(&p.f->lock);
	pool_callers_init(c, N, p.rn[0], b, MSG_RPC_COUNTER_ADD, CALLS);
	pool_callers_start(c, t, N);
	KT_EXPECT_EQ(pool_callers_join(c, t, N), 0);
	/* Copies served after their call returned: wait for them (bounded). */
	end = clock_ns() + POOL_WAIT_NS;
	while (pool_dups(p.rn[1], false) < dups + DUPS && clock_ns() < end)
		thread_sleep_ns(NS_PER_MS);
	KT_EXPECT(pool_dups(p.rn[1], false) >= dups + DUPS);
	KT_EXPECT_EQ(pool_served(p.rn[1]), served + N * CALLS); /* each ran once */
	KT_EXPECT_EQ(counter_get(p.rn[0], b, 62), before + N * CALLS);
	pair_stop(&p);
}

KTEST(rpc_pool_flow_control)
{
	enum { WORKERS = 2, N = RPC_RECV_DEPTH + 8 };
	struct pool_caller c[N];
	struct thread *t[N];
	uint16_t b = LOOP_FIRST_NODE + 1;
	struct rpc_stats st;
	struct rpc_pair p;
	uint64_t end;

	KT_ASSERT(pair_start(&p));
	KT_ASSERT(rpc_serve_pool(p.rn[1], POOL_FIRST, POOL_LAST, WORKERS) == 0);
	rpc_sleep_hold(true);
	pool_callers_init(c, N, p.rn[0], b, MSG_RPC_SLEEP, 1);
	pool_callers_start(c, t, N);
	/* Slots are reposted only once their reply is out: with every
	 * request held, the callers past RPC_RECV_DEPTH get RNR. Wait for
	 * both that and the workers to be in their handlers (an RNR can come
	 * before a worker has taken its first request). */
	end = clock_ns() + POOL_WAIT_NS;
	do {
		thread_sleep_ns(NS_PER_MS);
		rpc_get_stats(p.rn[0], &st);
	} while ((!st.rnr_retries || rpc_sleep_running(NULL, false) < WORKERS) &&
		 clock_ns() < end);
	KT_EXPECT(st.rnr_retries > 0);
	KT_EXPECT_EQ(rpc_sleep_running(NULL, false), WORKERS);
	rpc_sleep_hold(false);
	KT_EXPECT_EQ(pool_callers_join(c, t, N), 0);
	rpc_sleep_running(NULL, true);
	pair_stop(&p);
}
