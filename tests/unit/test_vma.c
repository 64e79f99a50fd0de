/*
 * Tests of the VMA tree (mcomponent/vma.c): edge cases of insert, remove
 * (munmap splits), protect (mprotect splits and merges) and gap search,
 * then many random operations checked page by page against a reference
 * model (an array with each page's prot and flags) and the tree's own
 * invariant check (AVL balance, order, no overlap, no unmerged
 * neighbours); file VMAs: offsets kept through cuts, splits and merges,
 * no merge across files or offset gaps, one file reference per VMA, and
 * a file's release function called once, at its last reference.
 */
#include "../../mcomponent/vma.h"
#include "unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define P(n) ((uint64_t)(n) * VMA_PAGE)

static unsigned count_vmas(const struct vma_tree *t)
{
	unsigned n = 0;

	for (struct vma *v = vma_first_from(t, 0); v; v = vma_next(t, v))
		n++;
	return n;
}

TEST(vma_insert_merge_and_errors)
{
	struct vma_tree t;
	struct vma *v;

	vma_tree_init(&t);
	EXPECT_EQ(vma_insert(&t, P(1), P(1), 1, 0), -EINVAL);
	EXPECT_EQ(vma_insert(&t, P(1) + 1, P(2), 1, 0), -EINVAL);
	EXPECT_EQ(vma_insert(&t, P(2), P(1), 1, 0), -EINVAL);
	EXPECT_EQ(vma_insert(&t, P(10), P(20), 3, 0), 0);
	EXPECT_EQ(vma_insert(&t, P(19), P(21), 3, 0), -EEXIST);
	EXPECT_EQ(vma_insert(&t, P(5), P(11), 3, 0), -EEXIST);
	EXPECT_EQ(vma_insert(&t, P(12), P(13), 3, 0), -EEXIST);
	/* touching, same kind: merged on both sides */
	EXPECT_EQ(vma_insert(&t, P(20), P(30), 3, 0), 0);
	EXPECT_EQ(vma_insert(&t, P(5), P(10), 3, 0), 0);
	EXPECT_EQ(t.count, 1u);
	v = vma_find(&t, P(29));
	ASSERT(v != NULL);
	EXPECT_EQ(v->start, P(5));
	EXPECT_EQ(v->end, P(30));
	/* touching, other prot or flags: separate */
	EXPECT_EQ(vma_insert(&t, P(30), P(31), 1, 0), 0);
	EXPECT_EQ(vma_insert(&t, P(4), P(5), 3, 7), 0);
	EXPECT_EQ(t.count, 3u);
	/* a hole filled between two equal VMAs merges all three */
	EXPECT_EQ(vma_insert(&t, P(40), P(41), 1, 0), 0);
	EXPECT_EQ(vma_insert(&t, P(31), P(40), 1, 0), 0);
	EXPECT_EQ(t.count, 3u);
	EXPECT(vma_find(&t, P(41)) == NULL);
	EXPECT(vma_find(&t, P(3)) == NULL);
	EXPECT_EQ(vma_find(&t, P(40) + 5)->start, P(30));
	EXPECT_EQ(vma_tree_check(&t), 0);
	vma_tree_clear(&t);
	EXPECT_EQ(t.count, 0u);
	EXPECT(t.root == NULL);
}

TEST(vma_file_offsets_and_refs)
{
	struct vma_file *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct vma_tree t;
	struct vma *v;

	a->refs = 1; /* the test's own */
	b->refs = 1;
	vma_tree_init(&t);
	EXPECT_EQ(vma_insert_file(&t, P(10), P(20), 1, 0x10, a, P(100)), 0);
	EXPECT_EQ(a->refs, 2u);
	/* contiguous offset of the same file: merged, no new reference */
	EXPECT_EQ(vma_insert_file(&t, P(20), P(22), 1, 0x10, a, P(110)), 0);
	EXPECT_EQ(count_vmas(&t), 1u);
	EXPECT_EQ(a->refs, 2u);
	/* below, contiguous: merged by moving the start and its offset */
	EXPECT_EQ(vma_insert_file(&t, P(8), P(10), 1, 0x10, a, P(98)), 0);
	v = vma_find(&t, P(8));
	EXPECT_EQ(v->start, P(8));
	EXPECT_EQ(v->pgoff, P(98));
	EXPECT_EQ(count_vmas(&t), 1u);
	/* an offset gap, another file, an anonymous neighbour: never merged */
	EXPECT_EQ(vma_insert_file(&t, P(22), P(23), 1, 0x10, a, P(200)), 0);
	EXPECT_EQ(vma_insert_file(&t, P(23), P(24), 1, 0x10, b, P(115)), 0);
	EXPECT_EQ(vma_insert(&t, P(24), P(25), 1, 0x10), 0);
	EXPECT_EQ(count_vmas(&t), 4u);
	EXPECT_EQ(a->refs, 3u);
	EXPECT_EQ(b->refs, 2u);
	EXPECT_EQ(vma_tree_check(&t), 0);
	/* a hole punched in the middle: two VMAs, offsets right, two refs */
	EXPECT_EQ(vma_remove(&t, P(12), P(14)), 0);
	v = vma_find(&t, P(14));
	EXPECT_EQ(v->start, P(14));
	EXPECT_EQ(v->pgoff, P(104));
	EXPECT_EQ(vma_find(&t, P(8))->pgoff, P(98));
	EXPECT_EQ(a->refs, 4u);
	/* the head cut: the offset moves with the start */
	EXPECT_EQ(vma_remove(&t, P(14), P(16)), 0);
	EXPECT_EQ(vma_find(&t, P(16))->pgoff, P(106));
	/* mprotect splits keep offsets and merge back */
	EXPECT_EQ(vma_protect(&t, P(17), P(18), 3), 0);
	EXPECT_EQ(vma_find(&t, P(17))->pgoff, P(107));
	EXPECT_EQ(vma_find(&t, P(18))->pgoff, P(108));
	EXPECT_EQ(a->refs, 6u);
	EXPECT_EQ(vma_protect(&t, P(17), P(18), 1), 0);
	EXPECT_EQ(a->refs, 4u);
	EXPECT_EQ(vma_tree_check(&t), 0);
	vma_tree_clear(&t);
	EXPECT_EQ(a->refs, 1u);
	EXPECT_EQ(b->refs, 1u);
	vma_file_put(a); /* the last: freed (ASan would see a leak otherwise) */
	vma_file_put(b);
}

static int released; /* calls of count_release */

static void count_release(struct vma_file *f)
{
	released++;
	free(f);
}

/* A file with a release function (a shared memory object's): called at
 * the last reference only, whatever the splits and merges before it. */
TEST(vma_file_release)
{
	struct vma_file *f = calloc(1, sizeof(*f));
	struct vma_tree t;

	f->refs = 1;
	f->release = count_release;
	released = 0;
	vma_tree_init(&t);
	EXPECT_EQ(vma_insert_file(&t, P(10), P(20), 3, 0x28, f, 0), 0);
	vma_file_put(f); /* the creator's: the VMA keeps it */
	EXPECT_EQ(released, 0);
	EXPECT_EQ(vma_remove(&t, P(12), P(13)), 0); /* split: two references */
	EXPECT_EQ(f->refs, 2u);
	EXPECT_EQ(vma_remove(&t, P(10), P(12)), 0);
	EXPECT_EQ(released, 0);
	EXPECT_EQ(f->refs, 1u);
	EXPECT_EQ(vma_find(&t, P(13))->pgoff, P(3));
	EXPECT_EQ(vma_remove(&t, P(13), P(20)), 0);
	EXPECT_EQ(released, 1);
	EXPECT_EQ(t.count, 0u);
}

TEST(vma_remove_splits)
{
	struct vma_tree t;

	vma_tree_init(&t);
	ASSERT_EQ(vma_insert(&t, P(10), P(20), 3, 0), 0);
	EXPECT_EQ(vma_remove(&t, P(12), P(12)), -EINVAL);
	/* strictly inside: two pieces */
	EXPECT_EQ(vma_remove(&t, P(12), P(14)), 0);
	EXPECT_EQ(t.count, 2u);
	EXPECT_EQ(vma_find(&t, P(11))->end, P(12));
	EXPECT_EQ(vma_find(&t, P(14))->start, P(14));
	EXPECT(vma_find(&t, P(13)) == NULL);
	/* across both, with holes: tail of one, head of the other */
	EXPECT_EQ(vma_remove(&t, P(11), P(15)), 0);
	EXPECT_EQ(vma_find(&t, P(10))->end, P(11));
	EXPECT_EQ(vma_find(&t, P(15))->start, P(15));
	/* nothing there: fine */
	EXPECT_EQ(vma_remove(&t, P(100), P(200)), 0);
	/* all of it */
	EXPECT_EQ(vma_remove(&t, P(0), P(100)), 0);
	EXPECT_EQ(t.count, 0u);
	EXPECT_EQ(vma_tree_check(&t), 0);
}

TEST(vma_protect_split_merge)
{
	struct vma_tree t;
	struct vma *v;

	vma_tree_init(&t);
	ASSERT_EQ(vma_insert(&t, P(10), P(20), 3, 0), 0);
	EXPECT_EQ(vma_protect(&t, P(12), P(14), 1), 0);
	EXPECT_EQ(t.count, 3u);
	v = vma_find(&t, P(12));
	EXPECT_EQ(v->start, P(12));
	EXPECT_EQ(v->end, P(14));
	EXPECT_EQ(v->prot, 1u);
	/* back to 3: one VMA again */
	EXPECT_EQ(vma_protect(&t, P(12), P(14), 3), 0);
	EXPECT_EQ(t.count, 1u);
	/* a hole in the range: -ENOMEM, nothing changed */
	ASSERT_EQ(vma_insert(&t, P(21), P(25), 3, 0), 0);
	EXPECT_EQ(vma_protect(&t, P(15), P(22), 1), -ENOMEM);
	EXPECT_EQ(vma_find(&t, P(15))->prot, 3u);
	EXPECT_EQ(t.count, 2u);
	/* the whole of one VMA and the head of the next */
	ASSERT_EQ(vma_insert(&t, P(20), P(21), 3, 5), 0);
	EXPECT_EQ(vma_protect(&t, P(10), P(22), 0), 0);
	EXPECT_EQ(vma_find(&t, P(10))->end, P(20));
	EXPECT_EQ(vma_find(&t, P(20))->end, P(21));
	EXPECT_EQ(vma_find(&t, P(21))->end, P(22));
	EXPECT_EQ(vma_find(&t, P(22))->prot, 3u);
	EXPECT_EQ(vma_tree_check(&t), 0);
	vma_tree_clear(&t);
}

TEST(vma_gap_top_down)
{
	struct vma_tree t;
	uint64_t a = 0;

	vma_tree_init(&t);
	EXPECT_EQ(vma_find_gap(&t, P(4), P(0), P(100), &a), 0);
	EXPECT_EQ(a, P(96));
	EXPECT_EQ(vma_find_gap(&t, 0, P(0), P(100), &a), -EINVAL);
	EXPECT_EQ(vma_find_gap(&t, 5, P(0), P(100), &a), -EINVAL);
	EXPECT_EQ(vma_find_gap(&t, P(101), P(0), P(100), &a), -ENOMEM);
	ASSERT_EQ(vma_insert(&t, P(90), P(100), 1, 0), 0);
	ASSERT_EQ(vma_insert(&t, P(80), P(88), 2, 0), 0);
	EXPECT_EQ(vma_find_gap(&t, P(2), P(0), P(100), &a), 0);
	EXPECT_EQ(a, P(88));
	EXPECT_EQ(vma_find_gap(&t, P(3), P(0), P(100), &a), 0);
	EXPECT_EQ(a, P(77));
	/* a VMA straddling high */
	EXPECT_EQ(vma_find_gap(&t, P(1), P(0), P(95), &a), 0);
	EXPECT_EQ(a, P(89));
	/* low bound respected */
	EXPECT_EQ(vma_find_gap(&t, P(3), P(78), P(100), &a), -ENOMEM);
	EXPECT_EQ(vma_find_gap(&t, P(2), P(78), P(100), &a), 0);
	EXPECT_EQ(a, P(88));
	vma_tree_clear(&t);
}

/* ---- random operations against a page model -------------------------------------- */

#define NPAGES 192

struct model {
	int prot[NPAGES]; /* -1: unmapped */
	uint32_t flags[NPAGES];
};

static bool model_free(const struct model *m, unsigned a, unsigned b)
{
	for (unsigned i = a; i < b; i++)
		if (m->prot[i] >= 0)
			return false;
	return true;
}

static bool model_covered(const struct model *m, unsigned a, unsigned b)
{
	for (unsigned i = a; i < b; i++)
		if (m->prot[i] < 0)
			return false;
	return true;
}

/* Minimal number of VMAs for the model: runs of equal (prot, flags). */
static unsigned model_runs(const struct model *m)
{
	unsigned n = 0;

	for (unsigned i = 0; i < NPAGES; i++)
		if (m->prot[i] >= 0 && (i == 0 || m->prot[i - 1] != m->prot[i] ||
					m->flags[i - 1] != m->flags[i]))
			n++;
	return n;
}

static bool same_as_model(const struct vma_tree *t, const struct model *m)
{
	for (unsigned i = 0; i < NPAGES; i++) {
		const struct vma *v = vma_find(t, P(i));

		if (m->prot[i] < 0 ? v != NULL
				   : !v || v->prot != (uint32_t)m->prot[i] ||
					     v->flags != m->flags[i])
			return false;
	}
	return vma_find(t, P(NPAGES)) == NULL && t->count == model_runs(m) &&
	       count_vmas(t) == t->count;
}

static int model_gap(const struct model *m, unsigned len, unsigned lo, unsigned hi)
{
	for (int a = (int)hi - (int)len; a >= (int)lo; a--)
		if (model_free(m, (unsigned)a, (unsigned)a + len))
			return a;
	return -1;
}

static void random_step(struct unit_rng *r, struct vma_tree *t, struct model *m)
{
	unsigned a = (unsigned)unit_rand_below(r, NPAGES);
	unsigned b = a + 1 + (unsigned)unit_rand_below(r, 24);
	int prot = (int)unit_rand_below(r, 3);
	uint32_t flags = (uint32_t)unit_rand_below(r, 2);
	uint64_t got = 0;
	int gap;

	if (b > NPAGES)
		b = NPAGES;
	switch (unit_rand_below(r, 4)) {
	case 0:
		EXPECT_EQ(vma_insert(t, P(a), P(b), (uint32_t)prot, flags),
			  model_free(m, a, b) ? 0 : -EEXIST);
		if (model_free(m, a, b))
			for (unsigned i = a; i < b; i++) {
				m->prot[i] = prot;
				m->flags[i] = flags;
			}
		break;
	case 1:
		EXPECT_EQ(vma_remove(t, P(a), P(b)), 0);
		for (unsigned i = a; i < b; i++)
			m->prot[i] = -1;
		break;
	case 2:
		EXPECT_EQ(vma_protect(t, P(a), P(b), (uint32_t)prot),
			  model_covered(m, a, b) ? 0 : -ENOMEM);
		if (model_covered(m, a, b))
			for (unsigned i = a; i < b; i++)
				m->prot[i] = prot;
		break;
	default:
		gap = model_gap(m, b - a, a / 2, NPAGES);
		EXPECT_EQ(vma_find_gap(t, P(b - a), P(a / 2), P(NPAGES), &got),
			  gap < 0 ? -ENOMEM : 0);
		if (gap >= 0)
			EXPECT_EQ(got, P(gap));
		EXPECT_EQ(vma_range_free(t, P(a), P(b)), model_free(m, a, b));
		EXPECT_EQ(vma_range_covered(t, P(a), P(b)), model_covered(m, a, b));
	}
}

TEST(vma_random_against_model)
{
	struct unit_rng r = {0x5eed1234abcdull};
	struct vma_tree t;
	struct model m;

	vma_tree_init(&t);
	for (unsigned i = 0; i < NPAGES; i++)
		m.prot[i] = -1;
	memset(m.flags, 0, sizeof(m.flags));
	for (unsigned step = 0; step < 20000 && !unit_failed(); step++) {
		random_step(&r, &t, &m);
		if (!EXPECT_EQ(vma_tree_check(&t), 0) || !EXPECT(same_as_model(&t, &m)))
			unit_diag("diverged at step %u", step);
	}
	vma_tree_clear(&t);
}

/* Many VMAs: the tree stays balanced (height bound) and lookups work. */
TEST(vma_many_balanced)
{
	struct vma_tree t;
	unsigned n = 4096;

	vma_tree_init(&t);
	for (unsigned i = 0; i < n; i++)
		ASSERT_EQ(vma_insert(&t, P(2 * i), P(2 * i + 1), i & 1, 0), 0);
	EXPECT_EQ(t.count, n);
	EXPECT_LE(t.root->height, 18); /* 1.44 log2(4096) ~ 17.3 */
	EXPECT_EQ(vma_tree_check(&t), 0);
	for (unsigned i = 0; i < n; i++)
		EXPECT_EQ(vma_find(&t, P(2 * i))->start, P(2 * i));
	for (unsigned i = 0; i < n; i += 2)
		ASSERT_EQ(vma_remove(&t, P(2 * i), P(2 * i + 1)), 0);
	EXPECT_EQ(t.count, n / 2);
	EXPECT_EQ(vma_tree_check(&t), 0);
	vma_tree_clear(&t);
}
