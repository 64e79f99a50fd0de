/*
 * Tests of the block cache (scomponent/bcache.c) on an in-memory device
 * whose submit is wrapped to record every batch: hits and misses, data
 * written back in batches before metadata, eviction of dirty buffers in
 * that order, prefetch in one batch, forget, pinning limits, errors
 * (blocks past the device, failed reads), and reads and writes past the
 * cache (bcache_read_direct/bcache_write_direct), and reads without the
 * owner's lock (bcache_ticket/bcache_fetch/bcache_settle).
 */
#include "../../scomponent/bcache.h"
#include "fileblk.h"
#include "unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BS	1024
#define NBLOCKS 64

struct trace {
	struct fileblk fb;
	int (*inner)(struct blkdev *, struct blk_req *, unsigned);
	unsigned nbatches;
	unsigned batch_size[64];
	bool batch_write[64];
	uint64_t first_sector[64];
	/* Per block: the batch that last wrote it (+1; 0: never). */
	unsigned wrote_in[NBLOCKS];
	uint8_t disk[NBLOCKS * BS];
};

static int traced_submit(struct blkdev *bd, struct blk_req *reqs, unsigned n)
{
	struct trace *t = (struct trace *)bd; /* fb is the first member */
	unsigned b = t->nbatches < 64 ? t->nbatches : 63;

	t->batch_size[b] = n;
	t->batch_write[b] = n && reqs[0].write;
	t->first_sector[b] = n ? reqs[0].sector : 0;
	for (unsigned i = 0; i < n; i++)
		for (uint64_t s = reqs[i].sector; s < reqs[i].sector + reqs[i].count; s += 2)
			if (reqs[i].write && s / 2 < NBLOCKS)
				t->wrote_in[s / 2] = t->nbatches + 1;
	t->nbatches++;
	return t->inner(bd, reqs, n);
}

static struct trace *trace_new(void)
{
	struct trace *t = calloc(1, sizeof(*t));

	for (unsigned i = 0; i < NBLOCKS; i++)
		memset(t->disk + i * BS, (int)i, BS);
	memblk_init(&t->fb, t->disk, sizeof(t->disk), false);
	t->inner = t->fb.bd.submit;
	t->fb.bd.submit = traced_submit;
	t->fb.bd.priv = &t->fb;
	return t;
}

TEST(bcache_hits_and_errors)
{
	struct trace *t = trace_new();
	struct bcache *bc = bcache_create(&t->fb.bd, BS, 8);
	struct bcache_buf *b, *pins[8];
	struct bcache_stats st;

	ASSERT(bc != NULL);
	EXPECT_EQ(bcache_nblocks(bc), (uint64_t)NBLOCKS);
	EXPECT_EQ(bcache_get(bc, 5, BCACHE_READ, &b), 0);
	EXPECT_EQ(b->data[0], 5);
	bcache_put(bc, b);
	EXPECT_EQ(bcache_get(bc, 5, BCACHE_READ, &b), 0);
	bcache_put(bc, b);
	bcache_get_stats(bc, &st);
	EXPECT_EQ(st.hits, 1u);
	EXPECT_EQ(st.misses, 1u);
	EXPECT_EQ(bcache_get(bc, NBLOCKS, BCACHE_READ, &b), -EIO);
	EXPECT(b == NULL);
	/* Every buffer pinned: no room. */
	for (unsigned i = 0; i < 8; i++)
		EXPECT_EQ(bcache_get(bc, i, BCACHE_READ, &pins[i]), 0);
	EXPECT_EQ(bcache_get(bc, 20, BCACHE_READ, &b), -ENOMEM);
	for (unsigned i = 0; i < 8; i++)
		bcache_put(bc, pins[i]);
	/* A failed read leaves nothing behind; the next get reads again. */
	t->fb.fail_after = 0;
	EXPECT_EQ(bcache_get(bc, 30, BCACHE_READ, &b), -EIO);
	t->fb.fail_after = -1;
	EXPECT_EQ(bcache_get(bc, 30, BCACHE_READ, &b), 0);
	EXPECT_EQ(b->data[100], 30);
	bcache_put(bc, b);
	/* ZERO fills, NOREAD does not read. */
	EXPECT_EQ(bcache_get(bc, 31, BCACHE_ZERO, &b), 0);
	EXPECT_EQ(b->data[7], 0);
	bcache_put(bc, b);
	bcache_get_stats(bc, &st);
	EXPECT_EQ(bcache_get(bc, 32, BCACHE_NOREAD, &b), 0);
	bcache_put(bc, b);
	{
		struct bcache_stats st2;

		bcache_get_stats(bc, &st2);
		EXPECT_EQ(st2.reads, st.reads);
	}
	bcache_destroy(bc);
	free(t);
}

TEST(bcache_writeback_order)
{
	struct trace *t = trace_new();
	struct bcache *bc = bcache_create(&t->fb.bd, BS, 16);
	struct bcache_buf *b;

	ASSERT(bc != NULL);
	t->fb.bd.max_batch = 4;
	t->fb.bd.max_segs = 4;
	/* Metadata dirtied first, data after: data still goes first. */
	for (unsigned i = 0; i < 3; i++) {
		EXPECT_EQ(bcache_get(bc, 40 + i, BCACHE_READ, &b), 0);
		b->data[0] = 0xee;
		bcache_dirty(bc, b, BCACHE_META);
		bcache_put(bc, b);
	}
	for (unsigned i = 0; i < 10; i++) {
		EXPECT_EQ(bcache_get(bc, 10 - i, BCACHE_ZERO, &b), 0);
		b->data[1] = 0xdd;
		bcache_dirty(bc, b, BCACHE_DATA);
		bcache_put(bc, b);
	}
	EXPECT_EQ(bcache_dirty_count(bc), 13u);
	t->nbatches = 0;
	EXPECT_EQ(bcache_sync(bc), 0);
	EXPECT_EQ(bcache_dirty_count(bc), 0u);
	EXPECT_EQ(t->fb.flushes, 1u);
	/* 10 neighbouring data blocks (sorted) as requests of at most 4
	 * pieces, 4+4+2, in one batch; then the 3 metadata blocks as one. */
	EXPECT_EQ(t->nbatches, 2u);
	EXPECT_EQ(t->batch_size[0], 3u);
	EXPECT_EQ(t->batch_size[1], 1u);
	EXPECT_EQ(t->first_sector[0], 2u); /* block 1 */
	EXPECT_EQ(t->fb.scattered, 4u);
	for (unsigned i = 1; i <= 10; i++)
		EXPECT_EQ(t->wrote_in[i], 1u);
	for (unsigned i = 40; i < 43; i++)
		EXPECT_EQ(t->wrote_in[i], 2u);
	EXPECT_EQ(t->disk[1 * BS + 1], 0xdd);
	EXPECT_EQ(t->disk[40 * BS], 0xee);
	/* Forget: a dirty freed block is never written. */
	EXPECT_EQ(bcache_get(bc, 50, BCACHE_READ, &b), 0);
	b->data[0] = 0xaa;
	bcache_dirty(bc, b, BCACHE_DATA);
	bcache_put(bc, b);
	bcache_forget(bc, 50);
	EXPECT_EQ(bcache_sync(bc), 0);
	EXPECT_EQ(t->disk[50 * BS], 50);
	bcache_destroy(bc);
	free(t);
}

TEST(bcache_eviction_and_prefetch)
{
	struct trace *t = trace_new();
	struct bcache *bc = bcache_create(&t->fb.bd, BS, 8);
	struct bcache_buf *b;
	uint64_t want[6] = {20, 21, 22, 23, 24, 25};

	ASSERT(bc != NULL);
	/* Fill the cache with dirty data and metadata, then miss: the data
	 * is written back to make room, metadata stays cached. */
	for (unsigned i = 0; i < 8; i++) {
		EXPECT_EQ(bcache_get(bc, i, BCACHE_READ, &b), 0);
		b->data[0] = 0x80 | (uint8_t)i;
		bcache_dirty(bc, b, i < 2 ? BCACHE_META : BCACHE_DATA);
		bcache_put(bc, b);
	}
	EXPECT_EQ(bcache_get(bc, 9, BCACHE_READ, &b), 0);
	bcache_put(bc, b);
	for (unsigned i = 2; i < 8; i++)
		EXPECT_EQ(t->disk[i * BS], 0x80 | i);
	EXPECT_EQ(t->disk[0], 0);
	EXPECT_EQ(bcache_dirty_count(bc), 2u);
	/* Prefetch reads the missing blocks in one batch; neighbours on
	 * disk come in one scattered request. */
	t->nbatches = 0;
	EXPECT_EQ(bcache_prefetch(bc, want, 4), 4u);
	EXPECT_EQ(t->nbatches, 1u);
	EXPECT_EQ(t->batch_size[0], 1u);
	EXPECT_EQ(bcache_get(bc, 22, BCACHE_READ, &b), 0);
	EXPECT_EQ(b->data[0], 22);
	bcache_put(bc, b);
	EXPECT_EQ(t->nbatches, 1u);
	EXPECT_EQ(bcache_sync(bc), 0);
	EXPECT_EQ(t->disk[0], 0x80);
	bcache_destroy(bc);
	free(t);
}

TEST(bcache_direct)
{
	struct trace *t = trace_new();
	struct bcache *bc = bcache_create(&t->fb.bd, BS, 8);
	uint64_t blks[] = {10, 11, 12, 0, 14, 15, 16, 17, 18, 63};
	uint64_t wblks[] = {11, 20, 21};
	uint8_t *buf = malloc(10 * BS);
	struct bcache_buf *b;
	struct bcache_stats st;

	ASSERT(bc != NULL && buf != NULL);
	t->fb.bd.max_batch = 4;
	t->fb.bd.max_sectors = 3 * BS / 512; /* runs of 3 blocks at most */
	/* 11 cached and dirty: its cached copy is the one to read. */
	EXPECT_EQ(bcache_get(bc, 11, BCACHE_READ, &b), 0);
	memset(b->data, 0xd1, BS);
	bcache_dirty(bc, b, BCACHE_DATA);
	bcache_put(bc, b);
	t->nbatches = 0;
	memset(buf, 0x77, 10 * BS);
	EXPECT_EQ(bcache_read_direct(bc, blks, 10, buf, 0), 0);
	for (unsigned i = 0; i < 10; i++) {
		uint8_t want = blks[i] == 11 ? 0xd1 : (uint8_t)blks[i];

		EXPECT_EQ(buf[i * BS], want);
		EXPECT_EQ(buf[i * BS + BS - 1], want);
	}
	/* Runs [10] [12] [14 15 16] [17 18] [63]: batches of 4 and 1, each
	 * request one piece of memory. */
	EXPECT_EQ(t->nbatches, 2u);
	EXPECT_EQ(t->batch_size[0], 4u);
	EXPECT_EQ(t->batch_size[1], 1u);
	EXPECT_EQ(t->first_sector[1], 63u * 2);
	EXPECT_EQ(t->fb.scattered, 0u);
	bcache_get_stats(bc, &st);
	EXPECT_EQ(st.direct, 8u);
	EXPECT_EQ(st.hits, 1u);
	/* Nothing read that way is cached. */
	EXPECT_EQ(bcache_get(bc, 15, BCACHE_READ, &b), 0);
	bcache_put(bc, b);
	bcache_get_stats(bc, &st);
	EXPECT_EQ(st.misses, 2u);
	/* Writes: cached 11 is updated in the cache (written at sync), 20 and
	 * 21 go to the disk at once, as one request. */
	memset(buf, 0x5a, 3 * BS);
	t->nbatches = 0;
	EXPECT_EQ(bcache_write_direct(bc, wblks, 3, buf, 0), 0);
	EXPECT_EQ(t->nbatches, 1u);
	EXPECT_EQ(t->batch_size[0], 1u);
	EXPECT_EQ(t->disk[20 * BS], 0x5a);
	EXPECT_EQ(t->disk[21 * BS + BS - 1], 0x5a);
	EXPECT_EQ(t->disk[11 * BS], 11);
	EXPECT_EQ(bcache_dirty_count(bc), 1u);
	EXPECT_EQ(bcache_sync(bc), 0);
	EXPECT_EQ(t->disk[11 * BS], 0x5a);
	/* Errors: past the device, a write to block 0, a failing device. */
	blks[0] = NBLOCKS;
	EXPECT_EQ(bcache_read_direct(bc, blks, 1, buf, 0), -EIO);
	wblks[0] = 0;
	EXPECT_EQ(bcache_write_direct(bc, wblks, 1, buf, 0), -EIO);
	t->fb.fail_after = 0;
	EXPECT_EQ(bcache_read_direct(bc, &blks[4], 2, buf, 0), -EIO);
	t->fb.fail_after = -1;
	free(buf);
	bcache_destroy(bc);
	free(t);
}

/* Fetch, then settle with what happened in between. */
TEST(bcache_fetch_settle)
{
	struct trace *t = trace_new();
	struct bcache *bc = bcache_create(&t->fb.bd, BS, 8);
	uint64_t blks[] = {30, 31, 40}, bad[] = {30, 0};
	uint8_t *buf = malloc(3 * BS);
	struct bcache_ticket tk;
	struct bcache_buf *b;
	struct bcache_stats st;

	ASSERT(bc != NULL && buf != NULL);
	/* Nothing happened meanwhile: the bytes are good, and cached after. */
	bcache_ticket(bc, &tk);
	EXPECT(!bcache_holds(bc, 30) && !bcache_holds(bc, 40));
	t->nbatches = 0;
	EXPECT_EQ(bcache_fetch(bc, blks, 3, buf), 0);
	EXPECT_EQ(t->nbatches, 1u);
	EXPECT_EQ(t->batch_size[0], 2u); /* [30 31] [40] */
	EXPECT_EQ(buf[0], 30);
	EXPECT_EQ(buf[BS + BS - 1], 31);
	EXPECT_EQ(buf[2 * BS], 40);
	EXPECT(!bcache_holds(bc, 30)); /* the fetch itself caches nothing */
	EXPECT_EQ(bcache_settle(bc, &tk, blks, 3, buf), 0);
	EXPECT(bcache_holds(bc, 30) && bcache_holds(bc, 31) && bcache_holds(bc, 40));
	t->nbatches = 0;
	EXPECT_EQ(bcache_get(bc, 31, BCACHE_READ, &b), 0);
	EXPECT_EQ(b->data[5], 31);
	bcache_put(bc, b);
	EXPECT_EQ(t->nbatches, 0u);
	/* Data written meanwhile: good bytes, but not cached (the device may
	 * have a newer copy than the one fetched). */
	bcache_forget(bc, 40);
	bcache_ticket(bc, &tk);
	EXPECT_EQ(bcache_fetch(bc, &blks[2], 1, buf), 0);
	EXPECT_EQ(bcache_get(bc, 5, BCACHE_READ, &b), 0);
	bcache_dirty(bc, b, BCACHE_DATA);
	bcache_put(bc, b);
	EXPECT_EQ(bcache_settle(bc, &tk, &blks[2], 1, buf), 0);
	EXPECT(!bcache_holds(bc, 40));
	/* A block freed meanwhile: the bytes may be another file's. */
	bcache_ticket(bc, &tk);
	EXPECT_EQ(bcache_fetch(bc, &blks[2], 1, buf), 0);
	bcache_forget(bc, 40);
	EXPECT_EQ(bcache_settle(bc, &tk, &blks[2], 1, buf), -EAGAIN);
	EXPECT(!bcache_holds(bc, 40));
	/* Bad lists, and a failing device. */
	EXPECT_EQ(bcache_fetch(bc, bad, 2, buf), -EINVAL);
	bad[1] = NBLOCKS;
	EXPECT_EQ(bcache_fetch(bc, bad, 2, buf), -EINVAL);
	EXPECT_EQ(bcache_fetch(bc, blks, BCACHE_FETCH_MAX + 1, buf), -EINVAL);
	t->fb.fail_after = 0;
	EXPECT_EQ(bcache_fetch(bc, blks, 1, buf), -EIO);
	t->fb.fail_after = -1;
	bcache_get_stats(bc, &st);
	EXPECT_EQ(st.fetched, 5u);
	EXPECT_EQ(st.settled, 3u);
	EXPECT_EQ(st.refetch, 1u);
	free(buf);
	bcache_destroy(bc);
	free(t);
}
