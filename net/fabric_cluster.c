/*
 * Cluster tests of the fabric stack (ivshmem, verbs, RPC) against the real
 * fabricd, run by tests/cluster/fabric_test.py on three or more VMs booted
 * with `ktest=cluster:fabric_ peers=A,B,C`. They live in the cluster table
 * (KTEST_CLUSTER), which a plain `ktest` boot never runs.
 *
 * Every node runs the same tests in the same order; what a node does
 * depends on its place in peers= (its successor and predecessor on the
 * ring of members, or "first"/"second" for two-party tests).
 *
 * Synchronisation with the host: ktest_cluster_sync(NAME) is a barrier of
 * all nodes at which the host does what NAME stands for (injecting or
 * clearing a fault through fabricd's control socket). A sync that times
 * out fails the test that asked; nothing waits forever. Every test makes
 * its syncs even after a failure, so that the nodes stay in step.
 */
#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/time.h>
#include <lib/string.h>
#include <net/rpc.h>
#include <net/verbs.h>

#define SYNC_TIMEOUT_NS (120 * NS_PER_S)
#define WAIT_NS		(5 * NS_PER_S)
#define RAW_QPN		0 /* the raw verbs tests' QP */
#define MR_BYTES	(64 * 1024)
#define MSG_BYTES	3000

/* State shared by the tests of one boot (set up by fabric_00_up). */
static struct {
	struct verbs_dev *dev;
	struct rpc_node *rn;
	struct verbs_qp *qp;	  /* RAW_QPN, connected to the successor */
	struct verbs_buf mrbuf;	  /* what others write and read here */
	struct verbs_mr mr;	  /* over mrbuf, remote read and write */
	struct verbs_buf scratch; /* local source and destination */
	unsigned me;		  /* index in peers= */
	uint16_t succ, pred;	  /* ring neighbours */
	uint64_t pred_offset;	  /* the predecessor's MR, learnt by SEND */
	uint32_t pred_key;
	bool up;
} cl;

static bool cluster_sync(const char *name)
{
	return ktest_cluster_sync(name, SYNC_TIMEOUT_NS);
}

static uint16_t member(unsigned i)
{
	return kconfig.peers[i % kconfig.npeers];
}

static void pattern(void *p, size_t n, uint32_t seed)
{
	uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 31 + i * 13 + (i >> 8));
}

static bool pattern_ok(const void *p, size_t n, uint32_t seed)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != (uint8_t)(seed * 31 + i * 13 + (i >> 8)))
			return false;
	return true;
}

/* Completions of the raw QP that arrived while waiting for another. */
static struct verbs_wc stash[8];
static unsigned nstash;

static void stash_put(const struct verbs_wc *wc)
{
	if (nstash < sizeof(stash) / sizeof(stash[0]))
		stash[nstash++] = *wc;
	else
		printk_raw("# dropped completion %s wr_id %llu\n",
			   fab_opcode_name(wc->opcode), (unsigned long long)wc->wr_id);
}

static bool stash_take(uint8_t opcode, uint64_t wr_id, bool any_id, struct verbs_wc *wc)
{
	for (unsigned i = 0; i < nstash; i++) {
		if (stash[i].opcode == opcode && (any_id || stash[i].wr_id == wr_id)) {
			*wc = stash[i];
			stash[i] = stash[--nstash];
			return true;
		}
	}
	return false;
}

/* Waits for a completion of opcode (and wr_id unless any_id). */
static bool raw_wait(uint8_t opcode, uint64_t wr_id, bool any_id, struct verbs_wc *wc)
{
	if (stash_take(opcode, wr_id, any_id, wc))
		return true;
	while (verbs_wait(cl.qp, wc, WAIT_NS) == 0) {
		if (wc->opcode == opcode && (any_id || wc->wr_id == wr_id))
			return true;
		stash_put(wc);
	}
	return false;
}

/* Posts wr to node and waits for its own completion; returns the status. */
static int raw_post(uint16_t node, uint16_t qpn, const struct verbs_wr *wr,
		    struct verbs_wc *wc)
{
	int err = verbs_post_to(cl.qp, node, qpn, wr);

	if (err)
		return err;
	if (!raw_wait(wr->opcode, wr->wr_id, false, wc))
		return 1; /* no completion: distinct from every errno */
	return wc->status;
}

static bool raw_wait_for(uint8_t opcode, struct verbs_wc *wc)
{
	return raw_wait(opcode, 0, true, wc);
}

KTEST_CLUSTER(fabric_00_up)
{
	int err;

	KT_ASSERT(kconfig.npeers >= 2);
	for (cl.me = 0; cl.me < kconfig.npeers && member(cl.me) != kconfig.node_id;
	     cl.me++)
		;
	KT_ASSERT(cl.me < kconfig.npeers);
	cl.succ = member(cl.me + 1);
	cl.pred = member(cl.me + kconfig.npeers - 1);
	err = verbs_open(&cl.dev);
	KT_EXPECT_EQ(err, 0);
	if (err)
		return;
	KT_EXPECT_EQ(verbs_node_id(cl.dev), kconfig.node_id);
	KT_EXPECT(verbs_generation(cl.dev) >= 1);
	KT_ASSERT(rpc_open(&cl.rn) == 0);
	KT_ASSERT(verbs_qp_create(cl.dev, RAW_QPN, NULL, NULL, &cl.qp) == 0);
	/* RECV_IMM from the successor (it writes to us) comes to this QP. */
	verbs_qp_connect(cl.qp, cl.succ, RAW_QPN);
	KT_ASSERT(verbs_buf_alloc(cl.dev, MR_BYTES, &cl.mrbuf) == 0);
	KT_ASSERT(verbs_buf_alloc(cl.dev, MR_BYTES, &cl.scratch) == 0);
	KT_ASSERT(verbs_reg_mr(cl.dev, cl.mrbuf.offset, MR_BYTES,
			       FAB_ACCESS_REMOTE_READ | FAB_ACCESS_REMOTE_WRITE,
			       &cl.mr) == 0);
	printk_raw("# node %u (member %u of %u), generation %u, successor %u\n",
		   kconfig.node_id, cl.me, kconfig.npeers, verbs_generation(cl.dev),
		   cl.succ);
	cl.up = KT_EXPECT(cluster_sync("up"));
}

/* SEND/RECV around the ring; the payload carries our MR's description. */
KTEST_CLUSTER(fabric_10_verbs_send_recv)
{
	struct verbs_buf in = cl.scratch;
	struct verbs_mr_card card = {VERBS_MR_CARD_MAGIC, cl.mr.offset, cl.mr.key, 0, 0};
	struct verbs_wr wr = {.wr_id = 1, .opcode = FAB_OP_SEND, .length = MSG_BYTES};
	struct verbs_wc wc;
	const struct verbs_mr_card *got;

	KT_ASSERT(cl.up);
	card.node = (uint16_t)kconfig.node_id;
	/* receive into scratch[32K..], send from scratch[0..] */
	in.offset += MR_BYTES / 2;
	in.va = (uint8_t *)in.va + MR_BYTES / 2;
	memset(in.va, 0, MSG_BYTES + 64);
	KT_ASSERT(verbs_post_recv(cl.qp, in.offset, MSG_BYTES + 64,
				  verbs_local_key(cl.dev), 500) == 0);
	KT_ASSERT(cluster_sync("verbs-recv-posted"));
	/* from here on nothing returns early: the next sync is in the next test */
	pattern(cl.scratch.va, MSG_BYTES, kconfig.node_id);
	memcpy(cl.scratch.va, &card, sizeof(card));
	wr.local_offset = cl.scratch.offset;
	wr.local_key = verbs_local_key(cl.dev);
	wr.imm = 0x5e0d0000 | kconfig.node_id;
	KT_EXPECT_EQ(raw_post(cl.succ, RAW_QPN, &wr, &wc), 0);
	if (!KT_EXPECT(raw_wait_for(FAB_OP_RECV, &wc)))
		return;
	KT_EXPECT_EQ(wc.status, 0);
	KT_EXPECT_EQ(wc.wr_id, 500);
	KT_EXPECT_EQ(wc.byte_len, MSG_BYTES);
	KT_EXPECT_EQ(wc.src_node, cl.pred);
	KT_EXPECT_EQ(wc.src_qpn, RAW_QPN);
	KT_EXPECT_EQ(wc.imm, 0x5e0d0000u | cl.pred);
	got = in.va;
	KT_EXPECT_EQ(got->magic, VERBS_MR_CARD_MAGIC);
	KT_EXPECT_EQ(got->node, cl.pred);
	/* the bytes after the card follow the sender's pattern */
	{
		uint8_t *expect = kmalloc(MSG_BYTES);

		KT_ASSERT(expect != NULL);
		pattern(expect, MSG_BYTES, cl.pred);
		KT_EXPECT(memcmp(expect + sizeof(card), (uint8_t *)in.va + sizeof(card),
				 MSG_BYTES - sizeof(card)) == 0);
		kfree(expect);
	}
	cl.pred_offset = got->offset;
	cl.pred_key = got->key;
}

/* WRITE into the predecessor's MR, READ it back; check what the successor
 * wrote into ours. */
KTEST_CLUSTER(fabric_11_verbs_write_read)
{
	struct verbs_wr wr = {.wr_id = 2, .opcode = FAB_OP_WRITE, .length = 8192};
	uint8_t *back = (uint8_t *)cl.scratch.va + 16384;
	struct verbs_wc wc;

	if (!KT_EXPECT(cl.up && cl.pred_key)) {
		cluster_sync("verbs-written"); /* stay in step with the others */
		return;
	}
	pattern(cl.scratch.va, 8192, 100 + kconfig.node_id);
	wr.local_offset = cl.scratch.offset;
	wr.local_key = verbs_local_key(cl.dev);
	wr.remote_key = cl.pred_key;
	wr.remote_offset = cl.pred_offset;
	KT_EXPECT_EQ(raw_post(cl.pred, RAW_QPN, &wr, &wc), 0);

	memset(back, 0, 8192);
	wr.wr_id = 3;
	wr.opcode = FAB_OP_READ;
	wr.local_offset = cl.scratch.offset + 16384;
	KT_EXPECT_EQ(raw_post(cl.pred, RAW_QPN, &wr, &wc), 0);
	KT_EXPECT_EQ(wc.byte_len, 8192);
	KT_EXPECT(pattern_ok(back, 8192, 100 + kconfig.node_id));

	KT_ASSERT(cluster_sync("verbs-written"));
	KT_EXPECT(pattern_ok(cl.mrbuf.va, 8192, 100 + cl.succ));
}

/* WRITE_IMM into the predecessor; receive the successor's. */
KTEST_CLUSTER(fabric_12_verbs_write_imm)
{
	struct verbs_wr wr = {.wr_id = 4, .opcode = FAB_OP_WRITE_IMM, .length = 4096};
	struct verbs_wc wc;

	KT_ASSERT(cl.up && cl.pred_key);
	pattern(cl.scratch.va, 4096, 200 + kconfig.node_id);
	wr.local_offset = cl.scratch.offset;
	wr.local_key = verbs_local_key(cl.dev);
	wr.remote_key = cl.pred_key;
	wr.remote_offset = cl.pred_offset + 8192;
	wr.imm = 0xf00d0000 | kconfig.node_id;
	KT_EXPECT_EQ(raw_post(cl.pred, RAW_QPN, &wr, &wc), 0);
	KT_ASSERT(raw_wait_for(FAB_OP_RECV_IMM, &wc));
	KT_EXPECT_EQ(wc.status, 0);
	KT_EXPECT_EQ(wc.imm, 0xf00d0000u | cl.succ);
	KT_EXPECT_EQ(wc.src_node, cl.succ);
	KT_EXPECT_EQ(wc.byte_len, 4096);
	KT_EXPECT_EQ(wc.remote_offset, cl.mr.offset + 8192);
	KT_EXPECT(pattern_ok((uint8_t *)cl.mrbuf.va + 8192, 4096, 200 + cl.succ));
}

/* Out-of-bounds and wrong-key accesses are refused with error completions,
 * leave the target untouched, and fabricd keeps serving everyone. */
KTEST_CLUSTER(fabric_13_verbs_bad_access)
{
	struct verbs_wr wr = {.opcode = FAB_OP_WRITE, .length = 256};
	volatile struct fab_window_hdr *hdr;
	struct msg_echo e = {42}, er;
	uint64_t errors_before;
	struct verbs_wc wc;
	const uint8_t *tail;
	bool clean = true;

	if (!KT_EXPECT(cl.up && cl.pred_key)) {
		cluster_sync("bad-access-done");
		return;
	}
	hdr = verbs_window_hdr(cl.dev);
	errors_before = hdr->errors;
	pattern(cl.scratch.va, 4096, 7);
	wr.local_offset = cl.scratch.offset;
	wr.local_key = verbs_local_key(cl.dev);

	wr.wr_id = 10; /* wrong key (right slot, another tag) */
	wr.remote_key = cl.pred_key ^ 0x100;
	wr.remote_offset = cl.pred_offset + 16384;
	KT_EXPECT_EQ(raw_post(cl.pred, RAW_QPN, &wr, &wc), -EACCES);
	wr.wr_id = 11; /* past the end of the MR */
	wr.remote_key = cl.pred_key;
	wr.remote_offset = cl.pred_offset + MR_BYTES - 128;
	KT_EXPECT_EQ(raw_post(cl.pred, RAW_QPN, &wr, &wc), -EACCES);
	wr.wr_id = 12; /* way out: the target's control page and beyond */
	wr.remote_offset = 0;
	KT_EXPECT_EQ(raw_post(cl.pred, RAW_QPN, &wr, &wc), -EACCES);
	wr.remote_offset = ~0ull - 64;
	KT_EXPECT_EQ(raw_post(cl.pred, RAW_QPN, &wr, &wc), -EACCES);
	wr.wr_id = 13; /* a READ of the same */
	wr.opcode = FAB_OP_READ;
	KT_EXPECT_EQ(raw_post(cl.pred, RAW_QPN, &wr, &wc), -EACCES);
	wr.wr_id = 14; /* our own key wrong */
	wr.opcode = FAB_OP_WRITE;
	wr.remote_offset = cl.pred_offset + 16384;
	wr.local_key = verbs_local_key(cl.dev) ^ 0x100;
	KT_EXPECT_EQ(raw_post(cl.pred, RAW_QPN, &wr, &wc), -EFAULT);
	wr.local_key = verbs_local_key(cl.dev);
	wr.wr_id = 15; /* our source outside our window */
	wr.local_offset = ~0ull - 4096;
	KT_EXPECT_EQ(raw_post(cl.pred, RAW_QPN, &wr, &wc), -EFAULT);
	wr.local_offset = cl.scratch.offset;
	wr.wr_id = 16; /* SEND to a QP with no receive buffer */
	wr.opcode = FAB_OP_SEND;
	KT_EXPECT_EQ(raw_post(cl.pred, 15, &wr, &wc), -ENOBUFS);
	wr.wr_id = 17; /* a QP number out of range */
	KT_EXPECT_EQ(raw_post(cl.pred, 99, &wr, &wc), -EINVAL);
	wr.wr_id = 18; /* a node that does not exist */
	KT_EXPECT_EQ(raw_post(FAB_MAX_NODES - 1, RAW_QPN, &wr, &wc), -EHOSTUNREACH);
	KT_EXPECT(hdr->errors > errors_before);
	printk_raw("# fabricd counted %llu malformed requests from us\n",
		   (unsigned long long)(hdr->errors - errors_before));

	/* Still served, and nothing landed where it must not. */
	KT_EXPECT_EQ(rpc_call(cl.rn, cl.pred, MSG_RPC_ECHO, &e, sizeof(e), &er,
			      sizeof(er), WAIT_NS),
		     0);
	KT_ASSERT(cluster_sync("bad-access-done"));
	tail = (const uint8_t *)cl.mrbuf.va + 16384;
	for (size_t i = 0; i < MR_BYTES - 16384; i++)
		clean &= tail[i] == 0;
	KT_EXPECT(clean);
}

/* ---- RPC -------------------------------------------------------------------------- */

static int echo(uint16_t node, uint64_t v, uint64_t timeout)
{
	struct msg_echo q = {v}, r = {0};
	int err = rpc_call(cl.rn, node, MSG_RPC_ECHO, &q, sizeof(q), &r, sizeof(r),
			   timeout);

	if (!err && r.value != v)
		return -EPROTO;
	return err;
}

static int counter(uint16_t node, unsigned op, int64_t delta, int64_t *value,
		   uint64_t timeout)
{
	struct msg_counter q = {.slot = kconfig.node_id % MSG_COUNTER_SLOTS,
				.delta = delta};
	struct msg_counter_value r = {0};
	int err = rpc_call(cl.rn, node, op, &q, sizeof(q), &r, sizeof(r), timeout);

	*value = r.value;
	return err;
}

static void print_stats(const char *when)
{
	struct rpc_stats s;
	struct verbs_stats v;

	rpc_get_stats(cl.rn, &s);
	verbs_get_stats(cl.dev, &v);
	printk_raw("# rpc stats %s: calls=%llu ok=%llu timeouts=%llu errors=%llu "
		   "resends=%llu "
		   "rnr=%llu unreachable=%llu late=%llu served=%llu duplicates=%llu "
		   "bad=%llu reply_errors=%llu\n",
		   when, (unsigned long long)s.calls, (unsigned long long)s.ok,
		   (unsigned long long)s.timeouts, (unsigned long long)s.errors,
		   (unsigned long long)s.resends, (unsigned long long)s.rnr_retries,
		   (unsigned long long)s.unreachable_retries,
		   (unsigned long long)s.late_replies, (unsigned long long)s.served,
		   (unsigned long long)s.duplicates, (unsigned long long)s.bad_requests,
		   (unsigned long long)s.reply_errors);
	printk_raw("# verbs stats %s: posted=%llu doorbells=%llu completions=%llu "
		   "interrupts=%llu sleeps=%llu unexpected=%llu sq_full=%llu\n",
		   when, (unsigned long long)v.posted, (unsigned long long)v.doorbells,
		   (unsigned long long)v.completions, (unsigned long long)v.interrupts,
		   (unsigned long long)v.sleeps, (unsigned long long)v.unexpected,
		   (unsigned long long)v.sq_full);
}

KTEST_CLUSTER(fabric_20_rpc_calls)
{
	struct msg_bulk *q = kmalloc(sizeof(*q)), *r = kmalloc(sizeof(*r));
	int64_t v;

	KT_ASSERT(cl.up && q && r);
	for (unsigned i = 1; i < kconfig.npeers; i++) {
		uint16_t node = member(cl.me + i);

		KT_EXPECT_EQ(echo(node, 0xabc0000 + node, WAIT_NS), 0);
		q->cookie = node;
		pattern(q->data, sizeof(q->data), node);
		KT_EXPECT_EQ(rpc_call(cl.rn, node, MSG_RPC_BULK, q, sizeof(*q), r,
				      sizeof(*r), WAIT_NS),
			     0);
		KT_EXPECT_EQ(r->cookie, node + 1u);
		KT_EXPECT(pattern_ok(r->data, sizeof(r->data), node));
		KT_EXPECT_EQ(counter(node, MSG_RPC_COUNTER_GET, 0, &v, WAIT_NS), 0);
		KT_EXPECT_EQ(v, 0);
		KT_EXPECT(rpc_peer_generation(cl.rn, node) >= 1);
	}
	kfree(q);
	kfree(r);
}

struct worker {
	unsigned index, calls;
	int failures;
};

static void echo_worker(void *arg)
{
	struct worker *w = arg;

	for (unsigned i = 0; i < w->calls; i++) {
		uint16_t node = member(cl.me + 1 + (w->index + i) % (kconfig.npeers - 1));

		if (echo(node, (uint64_t)w->index << 32 | i, 10 * NS_PER_S))
			w->failures++;
	}
}

/* Several calls in flight at once from one node. */
KTEST_CLUSTER(fabric_21_rpc_concurrent)
{
	enum { N = 8 };
	struct worker w[N];
	struct thread *t[N];

	KT_ASSERT(cl.up);
	for (unsigned i = 0; i < N; i++) {
		w[i] = (struct worker){i, 40, 0};
		t[i] = thread_create("fab-echo", echo_worker, &w[i], false);
	}
	for (unsigned i = 0; i < N; i++) {
		if (!KT_EXPECT(t[i] != NULL))
			continue;
		thread_join(t[i]);
		KT_EXPECT_EQ(w[i].failures, 0);
	}
	KT_EXPECT(cluster_sync("concurrent-done"));
}

/*
 * Under a fault: n echo calls (all must succeed: retried) and m counter
 * additions on every other member (each succeeds or times out). Then,
 * fault cleared, each server's counter for us must have grown by at
 * least the successes and at most successes + timeouts; with exact, by
 * the successes exactly.
 */
static void faulty_run(struct ktest_ctx *kt, const char *fault, unsigned n, unsigned m,
		       uint64_t add_timeout, bool exact)
{
	unsigned peers = kconfig.npeers - 1, ok[RPC_MAX_PEERS] = {0},
		 lost[RPC_MAX_PEERS] = {0};
	int64_t start[RPC_MAX_PEERS], v;
	char done[32];
	unsigned echo_fail = 0;

	for (unsigned i = 0; i < peers; i++)
		KT_EXPECT_EQ(counter(member(cl.me + 1 + i), MSG_RPC_COUNTER_GET, 0,
				     &start[i], WAIT_NS),
			     0);
	KT_ASSERT(cluster_sync(fault));
	for (unsigned k = 0; k < n; k++)
		echo_fail += echo(member(cl.me + 1 + k % peers), k, 10 * NS_PER_S) != 0;
	for (unsigned k = 0; k < m; k++) {
		unsigned i = k % peers;
		int err = counter(member(cl.me + 1 + i), MSG_RPC_COUNTER_ADD, 1, &v,
				  add_timeout);

		if (!err)
			ok[i]++;
		else if (err == -ETIMEDOUT)
			lost[i]++;
		else
			KT_EXPECT_EQ(err, 0);
	}
	KT_EXPECT_EQ(echo_fail, 0);
	print_stats(fault);
	memcpy(done, fault, strlen(fault));
	memcpy(done + strlen(fault), "-done", 6);
	KT_ASSERT(cluster_sync(done));
	thread_sleep_ns(300 * NS_PER_MS); /* delayed requests arrive */
	for (unsigned i = 0; i < peers; i++) {
		int64_t grew;

		KT_EXPECT_EQ(counter(member(cl.me + 1 + i), MSG_RPC_COUNTER_GET, 0, &v,
				     WAIT_NS),
			     0);
		grew = v - start[i];
		printk_raw("# %s: node %u counter grew %lld: %u ok, %u timed out\n",
			   fault, member(cl.me + 1 + i), (long long)grew, ok[i], lost[i]);
		KT_EXPECT(grew >= ok[i]);
		KT_EXPECT(grew <= ok[i] + lost[i]);
		if (exact)
			KT_EXPECT_EQ(grew, ok[i]);
	}
}

KTEST_CLUSTER(fabric_22_rpc_drop)
{
	KT_ASSERT(cl.up);
	faulty_run(kt, "drop", 300, 150, 400 * NS_PER_MS, false);
}

KTEST_CLUSTER(fabric_23_rpc_duplicate)
{
	KT_ASSERT(cl.up);
	faulty_run(kt, "duplicate", 100, 100, 5 * NS_PER_S, true);
}

KTEST_CLUSTER(fabric_24_rpc_delay)
{
	KT_ASSERT(cl.up);
	faulty_run(kt, "delay", 100, 60, 5 * NS_PER_S, true);
}

/*
 * Members 0 and 1 are partitioned from each other: their calls to each
 * other time out (promptly, nothing hangs) while calls to the others
 * work; after the heal everything works again.
 */
KTEST_CLUSTER(fabric_25_rpc_partition)
{
	uint16_t other = cl.me == 0 ? member(1) : cl.me == 1 ? member(0) : 0;
	uint64_t t0;
	int64_t v;

	KT_ASSERT(cl.up);
	KT_ASSERT(cluster_sync("partition"));
	if (other) {
		t0 = clock_ns();
		KT_EXPECT_EQ(echo(other, 1, 500 * NS_PER_MS), -ETIMEDOUT);
		KT_EXPECT(clock_ns() - t0 < 2 * NS_PER_S);
		KT_EXPECT_EQ(counter(other, MSG_RPC_COUNTER_ADD, 1, &v, 300 * NS_PER_MS),
			     -ETIMEDOUT);
	}
	for (unsigned i = 1; i < kconfig.npeers; i++)
		if (member(cl.me + i) != other)
			KT_EXPECT_EQ(echo(member(cl.me + i), 2, WAIT_NS), 0);
	KT_ASSERT(cluster_sync("partition-done"));
	for (unsigned i = 1; i < kconfig.npeers; i++)
		KT_EXPECT_EQ(echo(member(cl.me + i), 3, WAIT_NS), 0);
	print_stats("partition");
}

/*
 * A real restart: the host kills member 2's VM at the "restart" barrier and
 * boots it again (with `ktest=cluster:reborn_`, so it only serves). The
 * others keep calling it: first nothing answers (unreachable, then RNR
 * until its RPC is up, all retried within each call), then exactly one
 * "peer restarted" (-ECONNRESET: it did not run the request), then calls
 * work with its new generation.
 */
KTEST_CLUSTER(fabric_30_peer_restart)
{
	uint16_t victim;
	uint64_t deadline;
	uint32_t gen;
	int err;

	KT_ASSERT(cl.up && kconfig.npeers >= 3);
	victim = member(2);
	if (kconfig.node_id == victim) {
		cluster_sync("restart"); /* killed in here */
		printk_raw("# still alive after the restart barrier\n");
		KT_EXPECT(false);
		return;
	}
	KT_EXPECT_EQ(echo(victim, 5, WAIT_NS), 0);
	gen = rpc_peer_generation(cl.rn, victim);
	KT_EXPECT(gen >= 1);
	KT_ASSERT(cluster_sync("restart"));
	deadline = clock_ns() + 90 * NS_PER_S;
	do
		err = echo(victim, 6, NS_PER_S);
	while (err == -ETIMEDOUT && clock_ns() < deadline);
	KT_EXPECT_EQ(err, -ECONNRESET);
	KT_EXPECT(rpc_peer_generation(cl.rn, victim) > gen);
	printk_raw("# node %u restarted: generation %u -> %u\n", victim, gen,
		   rpc_peer_generation(cl.rn, victim));
	KT_EXPECT_EQ(echo(victim, 7, WAIT_NS), 0);
	KT_EXPECT(cluster_sync("restart-done"));
}

/* The restarted member's only test: serve until the others are done. */
KTEST_CLUSTER(reborn_serve)
{
	struct rpc_node *rn;
	struct verbs_dev *dev;

	KT_ASSERT(verbs_open(&dev) == 0);
	KT_EXPECT(verbs_generation(dev) >= 2);
	KT_ASSERT(rpc_open(&rn) == 0);
	printk_raw("# reborn as generation %u\n", verbs_generation(dev));
	KT_EXPECT(cluster_sync("restart-done"));
	KT_EXPECT(cluster_sync("done"));
}

KTEST_CLUSTER(fabric_99_done)
{
	KT_ASSERT(cl.up);
	print_stats("end");
	KT_EXPECT(cluster_sync("done"));
}
