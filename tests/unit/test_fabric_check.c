/*
 * Tests of fabricd's descriptor checks (tools/fabricd/check.c): ring
 * indices with wrap-around, range arithmetic at the edges of 64 bits
 * (against a 128-bit reference), MR validity and lookups (key, rights,
 * range, in that order), work request and receive buffer checks, window
 * sizes, and the status/opcode names.
 */
#include "unit.h"

#include <fabricd/check.h>
#include <string.h>

#define W      (1ull << 20) /* window size used by most tests */
#define D      FAB_DATA_OFFSET
#define ALL    (FAB_ACCESS_LOCAL_WRITE | FAB_ACCESS_REMOTE_READ | FAB_ACCESS_REMOTE_WRITE)
#define U64MAX 0xffffffffffffffffull

TEST(fabric_ring_used_counts_and_wraps)
{
	uint32_t used = 77;

	EXPECT(fab_ring_used(5, 5, 256, &used));
	EXPECT_EQ(used, 0u);
	EXPECT(fab_ring_used(5, 261, 256, &used));
	EXPECT_EQ(used, 256u);
	EXPECT(fab_ring_used(0xfffffff0u, 0x10u, 256, &used)); /* across 2^32 */
	EXPECT_EQ(used, 0x20u);
	used = 77;
	EXPECT_FALSE(fab_ring_used(5, 262, 256, &used)); /* one too many */
	EXPECT_FALSE(fab_ring_used(6, 5, 256, &used));	 /* tail behind head */
	EXPECT_FALSE(fab_ring_used(0, 0x80000000u, 1024, &used));
	EXPECT_EQ(used, 77u); /* untouched on failure */
}

TEST(fabric_range_within_edges)
{
	EXPECT(fab_range_within(D, 10, D, 10));
	EXPECT_FALSE(fab_range_within(D, 11, D, 10));
	EXPECT_FALSE(fab_range_within(D - 1, 1, D, 10));  /* starts below */
	EXPECT(fab_range_within(D + 10, 0, D, 10));	  /* empty, at the end */
	EXPECT_FALSE(fab_range_within(D + 11, 0, D, 10)); /* empty, past the end */
	EXPECT(fab_range_within(0, 0, 0, 0));
	EXPECT_FALSE(fab_range_within(0, 1, 0, 0));
	/* sums that would wrap around 2^64 */
	EXPECT_FALSE(fab_range_within(U64MAX - 0xfff, 0x2000, 0, W));
	EXPECT_FALSE(fab_range_within(D, U64MAX, D, W));
	EXPECT_FALSE(fab_range_within(U64MAX, 2, U64MAX - 10, 11));
	EXPECT(fab_range_within(U64MAX - 1, 1, U64MAX - 10, 10)); /* ends at 2^64 - 1 */
	EXPECT(fab_range_within(0, U64MAX, 0, U64MAX));
}

/* 128-bit reference: [off, off + len) inside [base, base + size). */
static bool ref_within(uint64_t off, uint64_t len, uint64_t base, uint64_t size)
{
	unsigned __int128 e = (unsigned __int128)off + len;
	unsigned __int128 be = (unsigned __int128)base + size;

	return off >= base && e <= be;
}

/* Mostly values near 0, near 2^64 and near each other. */
static uint64_t edgy(struct unit_rng *r, uint64_t near)
{
	switch (unit_rand_below(r, 5)) {
	case 0:
		return unit_rand_below(r, 64);
	case 1:
		return U64MAX - unit_rand_below(r, 64);
	case 2:
		return near + unit_rand_below(r, 64) - 32;
	case 3:
		return unit_rand(r) >> unit_rand_below(r, 64);
	default:
		return unit_rand(r);
	}
}

TEST(fabric_range_within_matches_reference)
{
	struct unit_rng r = {0x9e3779b97f4a7c15ull};

	for (unsigned i = 0; i < 200000; i++) {
		uint64_t base = edgy(&r, 0), size = edgy(&r, 0);
		uint64_t off = edgy(&r, base), len = edgy(&r, size);

		if (!EXPECT_EQ(fab_range_within(off, len, base, size),
			       ref_within(off, len, base, size))) {
			unit_diag("off %#llx len %#llx base %#llx size %#llx",
				  (unsigned long long)off, (unsigned long long)len,
				  (unsigned long long)base, (unsigned long long)size);
			return;
		}
	}
}

static struct fab_mr mr(uint64_t off, uint64_t len, uint32_t key, uint32_t access)
{
	struct fab_mr m;

	memset(&m, 0, sizeof(m));
	m.offset = off;
	m.length = len;
	m.key = key;
	m.access = access;
	return m;
}

TEST(fabric_mr_valid_only_in_the_data_area)
{
	struct fab_mr m = mr(D, 4096, 0x101, ALL);

	EXPECT(fab_mr_valid(&m, W));
	m = mr(D, W - D, 1, 0); /* the whole data area */
	EXPECT(fab_mr_valid(&m, W));
	m = mr(D, W - D + 1, 1, 0); /* one byte past the window */
	EXPECT_FALSE(fab_mr_valid(&m, W));
	m = mr(D, 0, 1, ALL); /* free slot */
	EXPECT_FALSE(fab_mr_valid(&m, W));
	m = mr(0, 4096, 1, ALL); /* control page */
	EXPECT_FALSE(fab_mr_valid(&m, W));
	m = mr(D - 1, 16, 1, ALL); /* reaches into the completion queue */
	EXPECT_FALSE(fab_mr_valid(&m, W));
	m = mr(U64MAX - 10, 100, 1, ALL); /* wraps */
	EXPECT_FALSE(fab_mr_valid(&m, W));
	m = mr(W, 1, 1, ALL);
	EXPECT_FALSE(fab_mr_valid(&m, W));
}

TEST(fabric_mr_check_key_rights_range)
{
	struct fab_mr m = mr(D + 0x1000, 0x1000, 0x3407, FAB_ACCESS_REMOTE_READ);

	EXPECT_EQ((int)fab_mr_check(&m, 0x3407, D + 0x1000, 0x1000,
				    FAB_ACCESS_REMOTE_READ, W),
		  FAB_MR_OK);
	EXPECT_EQ((int)fab_mr_check(&m, 0x3407, D + 0x1800, 0, 0, W), FAB_MR_OK);
	/* stale key of a reused slot: upper bits differ */
	EXPECT_EQ((int)fab_mr_check(&m, 0x3507, D + 0x1000, 1, 0, W), FAB_MR_BAD_KEY);
	EXPECT_EQ(
		(int)fab_mr_check(&m, 0x3407, D + 0x1000, 1, FAB_ACCESS_REMOTE_WRITE, W),
		FAB_MR_BAD_RIGHTS);
	EXPECT_EQ((int)fab_mr_check(&m, 0x3407, D + 0x1000, 1,
				    FAB_ACCESS_REMOTE_READ | FAB_ACCESS_LOCAL_WRITE, W),
		  FAB_MR_BAD_RIGHTS);
	EXPECT_EQ((int)fab_mr_check(&m, 0x3407, D + 0x1001, 0x1000, 0, W),
		  FAB_MR_BAD_RANGE);
	EXPECT_EQ((int)fab_mr_check(&m, 0x3407, D + 0xfff, 1, 0, W), FAB_MR_BAD_RANGE);
	EXPECT_EQ((int)fab_mr_check(&m, 0x3407, U64MAX, 2, 0, W), FAB_MR_BAD_RANGE);
	/* order: a bad key hides bad rights and range; bad rights hide the range */
	EXPECT_EQ((int)fab_mr_check(&m, 0x1, 0, U64MAX, FAB_ACCESS_REMOTE_WRITE, W),
		  FAB_MR_BAD_KEY);
	EXPECT_EQ((int)fab_mr_check(&m, 0x3407, 0, U64MAX, FAB_ACCESS_REMOTE_WRITE, W),
		  FAB_MR_BAD_RIGHTS);
	/* an all-zero slot never matches key 0 */
	m = mr(0, 0, 0, 0);
	EXPECT_EQ((int)fab_mr_check(&m, 0, 0, 0, 0, W), FAB_MR_BAD_KEY);
	/* an MR valid in a big window is invalid in a small one */
	m = mr(D, 2 * W, 0x10, ALL);
	EXPECT_EQ((int)fab_mr_check(&m, 0x10, D, 1, 0, 4 * W), FAB_MR_OK);
	EXPECT_EQ((int)fab_mr_check(&m, 0x10, D, 1, 0, W), FAB_MR_BAD_KEY);
}

static struct fab_wqe wqe(uint8_t op)
{
	struct fab_wqe w;

	memset(&w, 0, sizeof(w));
	w.opcode = op;
	w.flags = FAB_WQE_SIGNALED;
	w.dst_node = 2;
	w.length = 64;
	return w;
}

TEST(fabric_wqe_check_accepts_each_verb)
{
	const uint8_t ops[] = {FAB_OP_SEND, FAB_OP_WRITE, FAB_OP_READ, FAB_OP_WRITE_IMM};

	for (unsigned i = 0; i < sizeof(ops); i++) {
		struct fab_wqe w = wqe(ops[i]);

		EXPECT_EQ((int)fab_wqe_check(&w), FAB_ST_OK);
		w.flags = 0;
		w.length = FAB_MAX_MSG;
		w.dst_node = FAB_MAX_NODES - 1;
		w.src_qpn = FAB_MAX_QPS - 1;
		w.dst_qpn = FAB_MAX_QPS - 1;
		w.reserved[0] = w.reserved[1] = U64MAX; /* ignored */
		EXPECT_EQ((int)fab_wqe_check(&w), FAB_ST_OK);
	}
}

TEST(fabric_wqe_check_refuses_bad_fields)
{
	const uint8_t bad_ops[] = {0, 5, 15, FAB_OP_RECV, FAB_OP_RECV_IMM, 0xff};
	struct fab_wqe w;

	for (unsigned i = 0; i < sizeof(bad_ops); i++) {
		w = wqe(bad_ops[i]);
		EXPECT_EQ((int)fab_wqe_check(&w), FAB_ST_LOCAL_ERR);
	}
	w = wqe(FAB_OP_WRITE);
	w.flags = 0x4;
	EXPECT_EQ((int)fab_wqe_check(&w), FAB_ST_LOCAL_ERR);
	w.flags = FAB_WQE_SIGNALED | FAB_WQE_FENCE;
	EXPECT_EQ((int)fab_wqe_check(&w), FAB_ST_OK);
	w = wqe(FAB_OP_WRITE);
	w.length = FAB_MAX_MSG + 1;
	EXPECT_EQ((int)fab_wqe_check(&w), FAB_ST_LENGTH);
	w.length = 0xffffffffu;
	EXPECT_EQ((int)fab_wqe_check(&w), FAB_ST_LENGTH);
	w = wqe(FAB_OP_SEND);
	w.dst_qpn = FAB_MAX_QPS;
	EXPECT_EQ((int)fab_wqe_check(&w), FAB_ST_BAD_QP);
	w.opcode = FAB_OP_WRITE_IMM; /* dst_qpn unused: not checked */
	EXPECT_EQ((int)fab_wqe_check(&w), FAB_ST_OK);
	w.opcode = FAB_OP_WRITE;
	EXPECT_EQ((int)fab_wqe_check(&w), FAB_ST_OK);
	w.opcode = FAB_OP_READ;
	EXPECT_EQ((int)fab_wqe_check(&w), FAB_ST_OK);
	w.src_qpn = FAB_MAX_QPS;
	EXPECT_EQ((int)fab_wqe_check(&w), FAB_ST_BAD_QP);
	w = wqe(FAB_OP_READ);
	w.dst_node = 0;
	EXPECT_EQ((int)fab_wqe_check(&w), FAB_ST_UNREACHABLE);
	w.dst_node = FAB_MAX_NODES;
	EXPECT_EQ((int)fab_wqe_check(&w), FAB_ST_UNREACHABLE);
	w.dst_node = 0xffff;
	EXPECT_EQ((int)fab_wqe_check(&w), FAB_ST_UNREACHABLE);
	/* precedence: opcode, then length, then queue pairs, then node */
	w = wqe(0);
	w.length = U64MAX & 0xffffffffu;
	w.dst_node = 0;
	EXPECT_EQ((int)fab_wqe_check(&w), FAB_ST_LOCAL_ERR);
	w = wqe(FAB_OP_SEND);
	w.length = FAB_MAX_MSG + 1;
	w.dst_qpn = 99;
	EXPECT_EQ((int)fab_wqe_check(&w), FAB_ST_LENGTH);
	w.length = 1;
	w.dst_node = 0;
	EXPECT_EQ((int)fab_wqe_check(&w), FAB_ST_BAD_QP);
}

TEST(fabric_wqe_access_rights)
{
	struct fab_wqe s = wqe(FAB_OP_SEND), wr = wqe(FAB_OP_WRITE),
		       rd = wqe(FAB_OP_READ), wi = wqe(FAB_OP_WRITE_IMM);

	EXPECT_EQ(fab_wqe_local_access(&s), 0u);
	EXPECT_EQ(fab_wqe_local_access(&wr), 0u);
	EXPECT_EQ(fab_wqe_local_access(&wi), 0u);
	EXPECT_EQ(fab_wqe_local_access(&rd), (uint32_t)FAB_ACCESS_LOCAL_WRITE);
	EXPECT_EQ(fab_wqe_remote_access(&s), 0u);
	EXPECT_EQ(fab_wqe_remote_access(&wr), (uint32_t)FAB_ACCESS_REMOTE_WRITE);
	EXPECT_EQ(fab_wqe_remote_access(&wi), (uint32_t)FAB_ACCESS_REMOTE_WRITE);
	EXPECT_EQ(fab_wqe_remote_access(&rd), (uint32_t)FAB_ACCESS_REMOTE_READ);
	EXPECT_FALSE(fab_wqe_uses_remote_key(&s));
	EXPECT(fab_wqe_uses_remote_key(&wr));
	EXPECT(fab_wqe_uses_remote_key(&rd));
	EXPECT(fab_wqe_uses_remote_key(&wi));
}

TEST(fabric_rqe_check_needs_local_write)
{
	struct fab_rqe r;
	struct fab_mr m = mr(D, 0x2000, 0x22, FAB_ACCESS_LOCAL_WRITE);

	memset(&r, 0, sizeof(r));
	r.offset = D + 0x1000;
	r.length = 0x1000;
	r.key = 0x22;
	EXPECT_EQ((int)fab_rqe_check(&r, &m, W), FAB_MR_OK);
	r.length = 0x1001;
	EXPECT_EQ((int)fab_rqe_check(&r, &m, W), FAB_MR_BAD_RANGE);
	r.length = 0x1000;
	r.key = 0x122;
	EXPECT_EQ((int)fab_rqe_check(&r, &m, W), FAB_MR_BAD_KEY);
	r.key = 0x22;
	m.access = FAB_ACCESS_REMOTE_READ | FAB_ACCESS_REMOTE_WRITE;
	EXPECT_EQ((int)fab_rqe_check(&r, &m, W), FAB_MR_BAD_RIGHTS);
}

TEST(fabric_window_sizes)
{
	EXPECT(fab_window_size_ok(FAB_MIN_WINDOW));
	EXPECT(fab_window_size_ok(2 * FAB_MIN_WINDOW));
	EXPECT(fab_window_size_ok(1ull << 30));
	EXPECT(fab_window_size_ok(FAB_MAX_WINDOW));
	EXPECT_FALSE(fab_window_size_ok(0));
	EXPECT_FALSE(fab_window_size_ok(FAB_MIN_WINDOW / 2));
	EXPECT_FALSE(fab_window_size_ok(3 * FAB_MIN_WINDOW)); /* QEMU: BARs are 2^n */
	EXPECT_FALSE(fab_window_size_ok(FAB_MIN_WINDOW + 4096));
	EXPECT_FALSE(fab_window_size_ok(2 * FAB_MAX_WINDOW));
	EXPECT_FALSE(fab_window_size_ok(U64MAX));
}

TEST(fabric_names)
{
	EXPECT_STREQ(fab_status_name(FAB_ST_OK), "OK");
	EXPECT_STREQ(fab_status_name(FAB_ST_RNR), "RNR");
	EXPECT_STREQ(fab_status_name(FAB_ST_BAD_QP), "BAD_QP");
	EXPECT_STREQ(fab_status_name(FAB_ST_FLUSHED), "FLUSHED");
	EXPECT_STREQ(fab_status_name(8), "?");
	EXPECT_STREQ(fab_status_name(0xffffffffu), "?");
	EXPECT_STREQ(fab_opcode_name(FAB_OP_WRITE_IMM), "WRITE_IMM");
	EXPECT_STREQ(fab_opcode_name(FAB_OP_RECV), "RECV");
	EXPECT_STREQ(fab_opcode_name(0), "?");
}
