/*
 * The fabric benchmark, guest side: RPC round-trip latency (8-byte
 * RPC_ECHO, 4 KiB RPC_BULK: median and p99) and 4 KiB RPC_BULK throughput
 * at queue depth 1 and 16, measured with clock_ns() by the caller; then
 * one-sided 4 KiB RDMA WRITE and READ throughput at depth 1 and 16
 * against the server's registered memory (ib_write_bw / ib_read_bw
 * style: the server's CPU takes no part), each phase checked for its data.
 * scripts/bench_fabric.py boots two VMs with `ktest=cluster:bench_fabric`
 * and reads the "# bench: ..." lines; member 0 of peers= measures, member
 * 1 serves, every other member just waits. A benchmark, not a test: it
 * fails only if it cannot run at all (calls failing) or data is wrong.
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
static const char *const bench_phases[] = {"warmup",	 "rtt_8B",    "rtt_4KiB",
					   "tput_qd1",	 "tput_qd16", "write_qd1",
					   "write_qd16", "read_qd1",  "read_qd16"};
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

/* Polls qp's completions (in this thread) for one of opcode, dropping
 * others, for at most BENCH_TIMEOUT_NS; true if it came and succeeded. */
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
 * The raw-verbs side, members 0 and 1 only: each one's QP 0, connected to
 * the other's. Set up by raw_up and kept to the end of the boot (a
 * receive buffer stays posted in buf, and the contract cannot take it
 * back: include/net/verbs.h). Used by one thread per node, the test's.
 */
#define BENCH_PP_ROUNDS	 1000
#define BENCH_PAGE	 4096
#define BENCH_REGION	 (BENCH_DEPTH * BENCH_PAGE)
#define BENCH_RECV_SLOT	 2048 /* where in buf messages are received */
#define BENCH_RECV_BYTES 64

static struct {
	struct verbs_dev *dev;
	struct verbs_qp *qp;	 /* QP 0 */
	uint16_t peer;		 /* the other member */
	struct verbs_buf buf;	 /* ping-pong and card messages */
	struct verbs_buf src;	 /* member 0: the pages it writes */
	struct verbs_buf dst;	 /* member 0: the pages it reads into */
	struct verbs_buf region; /* member 1: the pages member 0 writes and reads */
	struct verbs_mr mr;	 /* member 1: over region, remote read and write */
	uint64_t peer_offset;	 /* member 0: member 1's region, from its card */
	uint32_t peer_key;	 /* member 0: 0 until the card came */
} raw;

static uint8_t *raw_page(const struct verbs_buf *b, unsigned i)
{
	return (uint8_t *)b->va + (size_t)i * BENCH_PAGE;
}

/* Byte at (8 and up) of page i; bytes 0-7 hold the stamp a WRITE gives it. */
static uint8_t page_byte(unsigned i, unsigned at)
{
	return (uint8_t)(i * 37 + at * 7 + (at >> 8));
}

static void page_fill(uint8_t *p, unsigned i)
{
	for (unsigned at = 8; at < BENCH_PAGE; at++)
		p[at] = page_byte(i, at);
}

/* Member 1's own check: page i carries a stamp and page i's pattern. */
static bool page_ok(const uint8_t *p, unsigned i)
{
	uint64_t stamp;

	memcpy(&stamp, p, sizeof(stamp));
	for (unsigned at = 8; at < BENCH_PAGE; at++)
		if (p[at] != page_byte(i, at))
			return false;
	return stamp != 0;
}

static bool raw_up(struct ktest_ctx *kt, uint16_t peer, bool client)
{
	raw.peer = peer;
	if (!KT_EXPECT(verbs_open(&raw.dev) == 0) ||
	    !KT_EXPECT(verbs_qp_create(raw.dev, 0, NULL, NULL, &raw.qp) == 0))
		return false;
	verbs_qp_connect(raw.qp, peer, 0);
	if (!KT_EXPECT(verbs_buf_alloc(raw.dev, 4096, &raw.buf) == 0))
		return false;
	if (!client)
		return KT_EXPECT(
			verbs_buf_alloc(raw.dev, BENCH_REGION, &raw.region) == 0 &&
			verbs_reg_mr(raw.dev, raw.region.offset, BENCH_REGION,
				     FAB_ACCESS_REMOTE_READ | FAB_ACCESS_REMOTE_WRITE,
				     &raw.mr) == 0);
	if (!KT_EXPECT(verbs_buf_alloc(raw.dev, BENCH_REGION, &raw.src) == 0 &&
		       verbs_buf_alloc(raw.dev, BENCH_REGION, &raw.dst) == 0))
		return false;
	for (unsigned i = 0; i < BENCH_DEPTH; i++)
		page_fill(raw_page(&raw.src, i), i);
	return true;
}

static int raw_post_recv(void)
{
	return verbs_post_recv(raw.qp, raw.buf.offset + BENCH_RECV_SLOT, BENCH_RECV_BYTES,
			       verbs_local_key(raw.dev), 1);
}

/* One message from buf[0..length) to the peer's QP 0; waits for its
 * completion (polled). */
static bool raw_send(uint32_t length)
{
	struct verbs_wr wr = {.opcode = FAB_OP_SEND, .length = length};
	struct verbs_wc wc;

	wr.local_offset = raw.buf.offset;
	wr.local_key = verbs_local_key(raw.dev);
	return verbs_post_to(raw.qp, raw.peer, 0, &wr) == 0 &&
	       pp_wait(raw.dev, raw.qp, FAB_OP_SEND, &wc);
}

/*
 * Member 1 tells member 0 where its region is: a verbs_mr_card SENT into
 * the receive buffer member 0 posted before the barrier (as the cluster
 * tests pass theirs on); member 0 decodes it before it keeps the key.
 * Member 1's next completion is the SEND's, before any ping can come.
 */
static void card_exchange(struct ktest_ctx *kt, bool client)
{
	const struct verbs_mr_card *got =
		(const void *)((uint8_t *)raw.buf.va + BENCH_RECV_SLOT);
	struct verbs_mr_card card = {VERBS_MR_CARD_MAGIC, raw.mr.offset, raw.mr.key,
				     (uint16_t)kconfig.node_id, 0};
	struct verbs_wc wc;

	if (!client) {
		memcpy(raw.buf.va, &card, sizeof(card));
		KT_EXPECT(raw_send(sizeof(card)));
		return;
	}
	if (!KT_EXPECT(pp_wait(raw.dev, raw.qp, FAB_OP_RECV, &wc)))
		return;
	if (KT_EXPECT(wc.byte_len == sizeof(*got) && wc.src_node == raw.peer &&
		      got->magic == VERBS_MR_CARD_MAGIC && got->node == raw.peer &&
		      got->key != 0)) {
		raw.peer_offset = got->offset;
		raw.peer_key = got->key;
	}
	KT_EXPECT(raw_post_recv() == 0);
}

/*
 * One-sided: 8-byte RDMA READs by this node from its own window, polled.
 * No other guest is involved, so this is the cost of the guest <-> fabricd
 * path alone (post, doorbell if fabricd sleeps, execution, completion).
 */
static void self_read(struct ktest_ctx *kt, uint64_t *ns)
{
	struct verbs_wr wr = {.opcode = FAB_OP_READ, .length = 8};
	struct verbs_mr mr;
	struct verbs_wc wc;
	unsigned done = 0;

	if (!KT_EXPECT(verbs_reg_mr(raw.dev, raw.buf.offset, 1024, FAB_ACCESS_REMOTE_READ,
				    &mr) == 0))
		return;
	wr.local_offset = raw.buf.offset + 1024;
	wr.local_key = verbs_local_key(raw.dev);
	wr.remote_key = mr.key;
	wr.remote_offset = raw.buf.offset;
	for (unsigned i = 0; i < BENCH_PP_ROUNDS; i++) {
		uint64_t t0 = clock_ns();

		if (verbs_post_to(raw.qp, verbs_node_id(raw.dev), 0, &wr) ||
		    !pp_wait(raw.dev, raw.qp, FAB_OP_READ, &wc))
			break;
		ns[i] = clock_ns() - t0;
		done++;
	}
	KT_EXPECT_EQ(done, BENCH_PP_ROUNDS);
	if (done == BENCH_PP_ROUNDS)
		report_rtt("self_read_8B_polled", ns, BENCH_PP_ROUNDS);
	verbs_dereg_mr(raw.dev, &mr);
}

/*
 * The fabric alone, without RPC or any thread switch: 8-byte SEND
 * ping-pong on raw QP 0 (after the card), both sides polling the
 * completion queue in the measuring thread (bounded: BENCH_PP_ROUNDS
 * round trips, each with a deadline); the client sends first. The client
 * also times clock_ns() itself, the ruler of every number here.
 */
static void pingpong(struct ktest_ctx *kt, bool client)
{
	uint64_t *ns = kmalloc(BENCH_PP_ROUNDS * sizeof(*ns));
	struct verbs_wc wc;
	unsigned done = 0;

	if (!KT_EXPECT(ns != NULL))
		return;
	verbs_poll_begin(raw.dev); /* this thread polls: no interrupt per completion */
	for (unsigned i = 0; i < BENCH_PP_ROUNDS; i++) {
		uint64_t t0 = clock_ns();

		if (client && !raw_send(8))
			break;
		if (!pp_wait(raw.dev, raw.qp, FAB_OP_RECV, &wc))
			break;
		raw_post_recv();
		if (!client && !raw_send(8))
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
		self_read(kt, ns);
	}
	verbs_poll_end(raw.dev);
	kfree(ns);
}

/* Members 0 and 1: the raw QPs, the card, the ping-pong. */
static void raw_bench(struct ktest_ctx *kt, uint16_t peer, bool client)
{
	bool up = raw_up(kt, peer, client) && KT_EXPECT(raw_post_recv() == 0);

	if (!KT_EXPECT(bench_sync("pingpong")) || !up)
		return;
	card_exchange(kt, client);
	pingpong(kt, client);
}

/*
 * 4 KiB RDMA WRITE or READ throughput at a queue depth, the way perftest's
 * ib_write_bw and ib_read_bw measure it: member 0 keeps depth requests in
 * flight against member 1's region, whose CPU takes no part. Request i
 * moves page i (src page i to region page i, or region page i to dst page
 * i); as completions come in (polled, fabricd told not to interrupt),
 * their requests are posted again, up to VERBS_CHAIN_MAX per post, until
 * BENCH_TPUT_NS have passed; then the last ones drain.
 */
struct rdma_phase {
	uint8_t opcode; /* FAB_OP_WRITE or FAB_OP_READ */
	unsigned depth;
	uint64_t ops;	 /* requests completed without error */
	uint64_t errors; /* failed, lost, or never posted */
	uint64_t stamp;	 /* WRITE: the last stamp given to a page */
	uint64_t elapsed_ns;
	struct verbs_wr wr[BENCH_DEPTH]; /* wr[i] moves page i */
};

static void rdma_wr_init(struct verbs_wr *wr, uint8_t opcode, unsigned i)
{
	const struct verbs_buf *local = opcode == FAB_OP_WRITE ? &raw.src : &raw.dst;

	*wr = (struct verbs_wr){.wr_id = i,
				.opcode = opcode,
				.length = BENCH_PAGE,
				.local_offset = local->offset + (uint64_t)i * BENCH_PAGE,
				.local_key = verbs_local_key(raw.dev),
				.remote_key = raw.peer_key,
				.remote_offset =
					raw.peer_offset + (uint64_t)i * BENCH_PAGE};
}

/* Posts the requests of pages ids[0..n), chained; a WRITE's page gets a
 * new stamp first (no request of that page is in flight). Returns how
 * many were posted. */
static unsigned rdma_post(struct rdma_phase *ph, const unsigned *ids, unsigned n)
{
	struct verbs_chain_link c[VERBS_CHAIN_MAX];
	unsigned done = 0;

	while (done < n) {
		unsigned k = n - done < VERBS_CHAIN_MAX ? n - done : VERBS_CHAIN_MAX;

		for (unsigned i = 0; i < k; i++) {
			unsigned id = ids[done + i];

			if (ph->opcode == FAB_OP_WRITE) {
				ph->stamp++;
				memcpy(raw_page(&raw.src, id), &ph->stamp,
				       sizeof(ph->stamp));
			}
			c[i] = (struct verbs_chain_link){raw.qp, raw.peer, 0,
							 &ph->wr[id]};
		}
		if (verbs_post_chain(c, k))
			break;
		done += k;
	}
	return done;
}

/* Takes the completions there are; returns how many of the phase's came
 * and queues the good ones' pages in ids[*nids] for reposting if again. */
static unsigned rdma_reap(struct rdma_phase *ph, unsigned *ids, unsigned *nids,
			  bool again)
{
	struct verbs_wc wc[BENCH_DEPTH];
	unsigned got = 0;
	int n;

	verbs_poll_cq(raw.dev);
	n = verbs_poll(raw.qp, wc, BENCH_DEPTH);
	for (int j = 0; j < n; j++) {
		if (wc[j].opcode != ph->opcode || wc[j].wr_id >= ph->depth)
			continue; /* not this phase's */
		got++;
		if (wc[j].status) {
			ph->errors++;
			continue;
		}
		ph->ops++;
		if (again)
			ids[(*nids)++] = (unsigned)wc[j].wr_id;
	}
	return got;
}

static void rdma_run(struct rdma_phase *ph)
{
	unsigned ids[BENCH_DEPTH], nids, inflight, idle = 0;
	uint64_t start, until, last;

	for (unsigned i = 0; i < ph->depth; i++) {
		rdma_wr_init(&ph->wr[i], ph->opcode, i);
		ids[i] = i;
	}
	verbs_poll_begin(raw.dev);
	start = last = clock_ns();
	until = start + BENCH_TPUT_NS;
	inflight = rdma_post(ph, ids, ph->depth);
	ph->errors += ph->depth - inflight;
	while (inflight) {
		uint64_t now = clock_ns();
		unsigned got, posted;

		nids = 0;
		got = rdma_reap(ph, ids, &nids, now < until);
		if (!got) {
			__asm__ volatile("pause");
			if (++idle % 256 == 0 && now - last > BENCH_TIMEOUT_NS) {
				ph->errors += inflight; /* lost */
				break;
			}
			continue;
		}
		last = now;
		posted = rdma_post(ph, ids, nids);
		ph->errors += nids - posted;
		inflight = inflight - got + posted;
	}
	ph->elapsed_ns = clock_ns() - start;
	verbs_poll_end(raw.dev);
}

/*
 * Member 0's data check of a phase: region page i must now hold src page
 * i (the last stamp written): a WRITE phase's pages are read back into dst
 * first, a READ phase's are there already (dst was zeroed before it; the
 * region holds what the WRITE phases left, checked then).
 */
static bool rdma_verify(const struct rdma_phase *ph)
{
	struct verbs_wr wr;
	struct verbs_wc wc;

	if (ph->opcode == FAB_OP_WRITE) {
		memset(raw.dst.va, 0, BENCH_REGION);
		for (unsigned i = 0; i < ph->depth; i++) {
			rdma_wr_init(&wr, FAB_OP_READ, i);
			if (verbs_post_to(raw.qp, raw.peer, 0, &wr) ||
			    !pp_wait(raw.dev, raw.qp, FAB_OP_READ, &wc))
				return false;
		}
	}
	return memcmp(raw.dst.va, raw.src.va, (size_t)ph->depth * BENCH_PAGE) == 0;
}

static void rdma_phase(struct ktest_ctx *kt, uint8_t opcode, unsigned depth)
{
	struct rdma_phase ph = {.opcode = opcode, .depth = depth};
	bool ok;

	if (opcode == FAB_OP_READ)
		memset(raw.dst.va, 0, BENCH_REGION);
	rdma_run(&ph);
	ok = rdma_verify(&ph);
	KT_EXPECT_EQ(ph.errors, 0);
	KT_EXPECT(ok);
	printk_raw("# bench: rdma_%s_4KiB_qd%u ops=%llu elapsed_ns=%llu MiBps=%llu "
		   "errors=%llu verified=%d\n",
		   opcode == FAB_OP_WRITE ? "write" : "read", depth,
		   (unsigned long long)ph.ops, (unsigned long long)ph.elapsed_ns,
		   /* MiB/s: ops pages of BENCH_PAGE bytes per second */
		   (unsigned long long)(ph.ops * NS_PER_S / (ph.elapsed_ns ? ph.elapsed_ns : 1) /
					((1u << 20) / BENCH_PAGE)),
		   (unsigned long long)ph.errors, ok && !ph.errors);
}

/* Member 0, after the RPC phases: WRITE then READ, depth 1 then 16. */
static void rdma_measure(struct ktest_ctx *kt)
{
	static const struct {
		uint8_t opcode;
		unsigned depth;
		const char *phase;
	} runs[] = {{FAB_OP_WRITE, 1, "write_qd1"},
		    {FAB_OP_WRITE, BENCH_DEPTH, "write_qd16"},
		    {FAB_OP_READ, 1, "read_qd1"},
		    {FAB_OP_READ, BENCH_DEPTH, "read_qd16"}};

	for (unsigned i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		if (KT_EXPECT(raw.peer_key != 0))
			rdma_phase(kt, runs[i].opcode, runs[i].depth);
		phase_end(runs[i].phase);
	}
}

/* Member 1, once member 0's WRITE phases ended: every page of its region
 * was written (a stamp) with the page's pattern, seen in its own memory. */
static void region_check(struct ktest_ctx *kt)
{
	bool ok = raw.region.va != NULL;

	for (unsigned i = 0; ok && i < BENCH_DEPTH; i++)
		ok = page_ok(raw_page(&raw.region, i), i);
	KT_EXPECT(ok);
	printk_raw("# bench: rdma_region_n%u verified=%d\n", kconfig.node_id, ok);
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
		raw_bench(kt, kconfig.peers[1 - me], me == 0);
	else
		KT_EXPECT(bench_sync("pingpong"));
	KT_ASSERT(bench_sync("bench-start"));
	phase_begin();
	if (me == 0) {
		measure(kt, rn, kconfig.peers[1]);
		rdma_measure(kt);
	} else {
		/* the server's counts are read when the caller ended the
		 * phase (give or take the next phase's first call) */
		for (unsigned i = 0; i < BENCH_PHASES; i++) {
			KT_EXPECT(bench_sync(bench_phases[i]));
			if (me != 1)
				continue;
			phase_report(bench_phases[i]);
			if (!strcmp(bench_phases[i], "write_qd16"))
				region_check(kt);
		}
	}
	KT_EXPECT(bench_sync("bench-done"));
}
