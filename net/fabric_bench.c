/*
 * The fabric benchmark, guest side: RPC round-trip latency (8-byte
 * RPC_ECHO, 4 KiB RPC_BULK: median and p99) and 4 KiB RPC_BULK throughput
 * at queue depth 1 and 16, measured with clock_ns() by the caller.
 * scripts/bench_fabric.py boots two VMs with `ktest=cluster:bench_fabric`
 * and reads the "# bench: ..." lines; member 0 of peers= measures, member
 * 1 serves, every other member just waits. A benchmark, not a test: it
 * fails only if it cannot run at all (calls failing).
 */
#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/time.h>
#include <lib/sort.h>
#include <lib/string.h>
#include <net/rpc.h>

#define BENCH_RTT_CALLS	 2000
#define BENCH_BULK_CALLS 1000
#define BENCH_TPUT_NS	 (2 * NS_PER_S)
#define BENCH_DEPTH	 16
#define BENCH_TIMEOUT_NS (5 * NS_PER_S)

/* The measuring phases, in order (scripts/bench_fabric.py has the list). */
static const char *const bench_phases[] = {"warmup", "rtt_8B", "rtt_4KiB", "tput_qd1",
					     "tput_qd16"};
#define BENCH_PHASES (sizeof(bench_phases) / sizeof(bench_phases[0]))

static bool bench_sync(const char *name)
{
	return ktest_cluster_sync(name, 120 * NS_PER_S);
}

/*
 * What waking up cost during a phase, per node: doorbells rung (fabricd
 * asleep), interrupts taken and CQ-thread sleeps, as counts. Each is a
 * host thread wakeup; unlike the times, they hardly depend on host load.
 */
static struct verbs_stats phase_base;
static struct rpc_stats phase_rpc_base;
static struct rpc_node *phase_rn;

static void phase_begin(void)
{
	struct verbs_dev *dev;

	if (verbs_open(&dev) == 0)
		verbs_get_stats(dev, &phase_base);
	if (rpc_open(&phase_rn) == 0)
		rpc_get_stats(phase_rn, &phase_rpc_base);
}

static void phase_report(const char *phase)
{
	struct verbs_stats st;
	struct rpc_stats rs = {0};
	struct verbs_dev *dev;

	if (verbs_open(&dev) || !phase_rn)
		return;
	verbs_get_stats(dev, &st);
	rpc_get_stats(phase_rn, &rs);
	printk_raw("# bench: wakeups_%s_n%u posted=%llu doorbells=%llu interrupts=%llu "
		   "sleeps=%llu rnr=%llu\n",
		   phase, kconfig.node_id, (unsigned long long)(st.posted - phase_base.posted),
		   (unsigned long long)(st.doorbells - phase_base.doorbells),
		   (unsigned long long)(st.interrupts - phase_base.interrupts),
		   (unsigned long long)(st.sleeps - phase_base.sleeps),
		   (unsigned long long)(rs.rnr_retries - phase_rpc_base.rnr_retries));
	phase_base = st;
	phase_rpc_base = rs;
}

/* The caller's end of a phase: it reports, then meets the others. */
static bool phase_end(const char *phase)
{
	phase_report(phase);
	return bench_sync(phase);
}

static void report_rtt(const char *what, uint64_t *ns, unsigned n)
{
	sort_u64(ns, n);
	printk_raw("# bench: %s median_ns=%llu p99_ns=%llu min_ns=%llu n=%u\n", what,
		   (unsigned long long)ns[n / 2], (unsigned long long)ns[n * 99 / 100],
		   (unsigned long long)ns[0], n);
}

struct bulk_job {
	struct rpc_node *rn;
	uint16_t server;
	uint64_t until;
	unsigned ops, failures;
	struct msg_bulk *q, *r;
};

static int bulk_once(struct bulk_job *j)
{
	j->q->cookie++;
	return rpc_call(j->rn, j->server, MSG_RPC_BULK, j->q, sizeof(*j->q), j->r,
			sizeof(*j->r), BENCH_TIMEOUT_NS);
}

static void bulk_loop(void *arg)
{
	struct bulk_job *j = arg;

	while (clock_ns() < j->until) {
		if (bulk_once(j))
			j->failures++;
		else
			j->ops++;
	}
}

/* depth threads of back-to-back 4 KiB calls for BENCH_TPUT_NS. */
static unsigned throughput(struct ktest_ctx *kt, struct rpc_node *rn, uint16_t server,
			   unsigned depth)
{
	struct bulk_job jobs[BENCH_DEPTH];
	struct thread *t[BENCH_DEPTH];
	uint64_t start, until, elapsed;
	unsigned ops = 0, failures = 0;

	start = clock_ns();
	until = start + BENCH_TPUT_NS;
	for (unsigned i = 0; i < depth; i++) {
		jobs[i] = (struct bulk_job){rn, server, until, 0, 0, NULL, NULL};
		jobs[i].q = kzalloc(sizeof(struct msg_bulk));
		jobs[i].r = kzalloc(sizeof(struct msg_bulk));
		t[i] = jobs[i].q && jobs[i].r
			       ? thread_create("bench-bulk", bulk_loop, &jobs[i], false)
			       : NULL;
	}
	for (unsigned i = 0; i < depth; i++) {
		if (t[i])
			thread_join(t[i]);
		else
			failures++;
		ops += jobs[i].ops;
		failures += jobs[i].failures;
		kfree(jobs[i].q);
		kfree(jobs[i].r);
	}
	elapsed = clock_ns() - start;
	KT_EXPECT_EQ(failures, 0);
	printk_raw("# bench: tput_4KiB_qd%u ops=%u elapsed_ns=%llu MiBps=%llu\n", depth,
		   ops, (unsigned long long)elapsed,
		   (unsigned long long)((uint64_t)ops * MSG_BULK_BYTES * NS_PER_S /
						elapsed >>
					20));
	return ops;
}

static void measure(struct ktest_ctx *kt, struct rpc_node *rn, uint16_t server)
{
	uint64_t *ns = kmalloc(BENCH_RTT_CALLS * sizeof(uint64_t));
	struct bulk_job j = {rn,
			     server,
			     0,
			     0,
			     0,
			     kzalloc(sizeof(struct msg_bulk)),
			     kzalloc(sizeof(struct msg_bulk))};
	struct msg_echo q = {0}, r;
	unsigned bad = 0;

	if (!KT_EXPECT(ns && j.q && j.r))
		goto free;
	for (unsigned i = 0; i < 200; i++) /* warm up */
		bad += rpc_call(rn, server, MSG_RPC_ECHO, &q, sizeof(q), &r, sizeof(r),
				BENCH_TIMEOUT_NS) != 0;
	phase_end("warmup");
	for (unsigned i = 0; i < BENCH_RTT_CALLS; i++) {
		uint64_t t0 = clock_ns();

		q.value = i;
		bad += rpc_call(rn, server, MSG_RPC_ECHO, &q, sizeof(q), &r, sizeof(r),
				BENCH_TIMEOUT_NS) != 0;
		ns[i] = clock_ns() - t0;
	}
	report_rtt("rtt_8B", ns, BENCH_RTT_CALLS);
	phase_end("rtt_8B");
	for (unsigned i = 0; i < BENCH_BULK_CALLS; i++) {
		uint64_t t0 = clock_ns();

		bad += bulk_once(&j) != 0;
		ns[i] = clock_ns() - t0;
	}
	report_rtt("rtt_4KiB", ns, BENCH_BULK_CALLS);
	phase_end("rtt_4KiB");
	KT_EXPECT_EQ(bad, 0);
	throughput(kt, rn, server, 1);
	phase_end("tput_qd1");
	throughput(kt, rn, server, BENCH_DEPTH);
	phase_end("tput_qd16");
free:
	kfree(ns);
	kfree(j.q);
	kfree(j.r);
}

/*
 * The fabric alone, without RPC or any thread switch: 8-byte SEND
 * ping-pong on raw QP 0, both sides polling the completion queue in the
 * measuring thread (bounded: BENCH_PP_ROUNDS round trips, each with a
 * deadline). The client also times clock_ns() itself, the ruler of every
 * number here.
 */
#define BENCH_PP_ROUNDS 1000

static bool pp_wait(struct verbs_dev *dev, struct verbs_qp *qp, uint8_t opcode,
		    struct verbs_wc *wc)
{
	uint64_t deadline = clock_ns() + BENCH_TIMEOUT_NS;

	for (unsigned i = 1;; i++) {
		verbs_poll_cq(dev);
		while (verbs_poll(qp, wc, 1) == 1)
			if (wc->opcode == opcode)
				return wc->status == 0;
		__asm__ volatile("pause");
		if (i % 256 == 0 && clock_ns() >= deadline)
			return false;
	}
}

/*
 * One-sided: 8-byte RDMA READs by this node from its own window, polled.
 * No other guest is involved, so this is the cost of the guest <-> fabricd
 * path alone (post, doorbell if fabricd sleeps, execution, completion).
 */
static void self_read(struct ktest_ctx *kt, struct verbs_dev *dev, struct verbs_qp *qp,
		      const struct verbs_buf *buf, uint64_t *ns)
{
	struct verbs_wr wr = {.opcode = FAB_OP_READ, .length = 8};
	struct verbs_mr mr;
	struct verbs_wc wc;
	unsigned done = 0;

	if (!KT_EXPECT(verbs_reg_mr(dev, buf->offset, 1024, FAB_ACCESS_REMOTE_READ, &mr) == 0))
		return;
	wr.local_offset = buf->offset + 1024;
	wr.local_key = verbs_local_key(dev);
	wr.remote_key = mr.key;
	wr.remote_offset = buf->offset;
	verbs_qp_connect(qp, verbs_node_id(dev), verbs_qp_num(qp));
	for (unsigned i = 0; i < BENCH_PP_ROUNDS; i++) {
		uint64_t t0 = clock_ns();

		if (verbs_post(qp, &wr) || !pp_wait(dev, qp, FAB_OP_READ, &wc))
			break;
		ns[i] = clock_ns() - t0;
		done++;
	}
	KT_EXPECT_EQ(done, BENCH_PP_ROUNDS);
	if (done == BENCH_PP_ROUNDS)
		report_rtt("self_read_8B_polled", ns, BENCH_PP_ROUNDS);
	verbs_dereg_mr(dev, &mr);
}

static void pingpong(struct ktest_ctx *kt, uint16_t peer, bool client)
{
	struct verbs_wr wr = {.opcode = FAB_OP_SEND, .length = 8};
	struct verbs_dev *dev;
	struct verbs_qp *qp;
	struct verbs_buf buf;
	struct verbs_wc wc;
	uint64_t *ns = NULL;
	unsigned done = 0;

	KT_ASSERT(verbs_open(&dev) == 0);
	KT_ASSERT(verbs_qp_create(dev, 0, NULL, NULL, &qp) == 0);
	verbs_qp_connect(qp, peer, 0);
	if (!KT_EXPECT(verbs_buf_alloc(dev, 4096, &buf) == 0))
		goto destroy;
	wr.local_offset = buf.offset;
	wr.local_key = verbs_local_key(dev);
	ns = kmalloc(BENCH_PP_ROUNDS * sizeof(*ns));
	if (!KT_EXPECT(ns != NULL))
		goto free;
	verbs_post_recv(qp, buf.offset + 2048, 64, verbs_local_key(dev), 1);
	if (!KT_EXPECT(bench_sync("pingpong")))
		goto free;
	for (unsigned i = 0; i < BENCH_PP_ROUNDS; i++) {
		uint64_t t0 = clock_ns();

		if (client &&
		    (verbs_post(qp, &wr) || !pp_wait(dev, qp, FAB_OP_SEND, &wc)))
			break;
		if (!pp_wait(dev, qp, FAB_OP_RECV, &wc))
			break;
		verbs_post_recv(qp, buf.offset + 2048, 64, verbs_local_key(dev), 1);
		if (!client &&
		    (verbs_post(qp, &wr) || !pp_wait(dev, qp, FAB_OP_SEND, &wc)))
			break;
		ns[i] = clock_ns() - t0;
		done++;
	}
	KT_EXPECT_EQ(done, BENCH_PP_ROUNDS);
	if (client && done == BENCH_PP_ROUNDS) {
		uint64_t t0 = clock_ns();

		for (unsigned i = 0; i < 1000; i++)
			clock_ns();
		printk_raw("# bench: clock_read ns=%llu\n",
			   (unsigned long long)((clock_ns() - t0) / 1000));
		report_rtt("pingpong_8B_polled", ns, BENCH_PP_ROUNDS);
		self_read(kt, dev, qp, &buf, ns);
	}
free:
	/* buf stays allocated: a receive buffer is still posted in it, and
	 * the contract cannot take it back (include/net/verbs.h) */
	kfree(ns);
destroy:
	verbs_qp_destroy(qp);
}

KTEST_CLUSTER(bench_fabric_rpc)
{
	struct rpc_node *rn;
	unsigned me;

	KT_ASSERT(kconfig.npeers >= 2);
	for (me = 0; me < kconfig.npeers && kconfig.peers[me] != kconfig.node_id; me++)
		;
	KT_ASSERT(rpc_open(&rn) == 0);
	if (me < 2)
		pingpong(kt, kconfig.peers[1 - me], me == 0);
	else
		KT_EXPECT(bench_sync("pingpong"));
	KT_ASSERT(bench_sync("bench-start"));
	phase_begin();
	if (me == 0) {
		measure(kt, rn, kconfig.peers[1]);
	} else {
		/* the server's counts are read when the caller ended the
		 * phase (give or take the next phase's first call) */
		for (unsigned i = 0; i < BENCH_PHASES; i++) {
			KT_EXPECT(bench_sync(bench_phases[i]));
			if (me == 1)
				phase_report(bench_phases[i]);
		}
	}
	KT_EXPECT(bench_sync("bench-done"));
}
