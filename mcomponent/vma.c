/*
 * VMA trees (interface and contract: mcomponent/vma.h).
 *
 * An AVL tree keyed by start, without parent pointers: insertion and
 * deletion are recursive and rebalance on the way back up (the depth is
 * at most ~1.44 log2(n), so a few dozen frames for any realistic count);
 * "next" and "previous" are searches from the root by address. Because
 * ranges never overlap, the operations below change a VMA's start or end
 * in place whenever the new value stays between its neighbours: the order
 * by start, and so the tree, stays valid without a remove and reinsert.
 *
 * Every operation that may need new nodes (splits) allocates them before
 * it changes anything, so -ENOMEM leaves the tree as it was.
 *
 * File VMAs: whoever moves a VMA's start moves its pgoff with it
 * (set_start), a split takes a file reference for the new half, and
 * every freed VMA drops its own (free_vma).
 */
#include "vma.h"

#include <kernel/errno.h>
#include <kernel/mm.h>

/* ---- files ----------------------------------------------------------------------- */

void vma_file_get(struct vma_file *f)
{
	if (f)
		__atomic_fetch_add(&f->refs, 1, __ATOMIC_RELAXED);
}

void vma_file_put(struct vma_file *f)
{
	if (!f || __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	if (f->release)
		f->release(f);
	else
		kfree(f);
}

/* Moves v's start to start (inside or just below v), its file offset
 * with it. */
static void set_start(struct vma *v, uint64_t start)
{
	if (v->file)
		v->pgoff = v->pgoff + start - v->start;
	v->start = start;
}

static void free_vma(struct vma *v)
{
	vma_file_put(v->file);
	kfree(v);
}

/* ---- AVL machinery --------------------------------------------------------------- */

static int height(const struct vma *v)
{
	return v ? v->height : 0;
}

static void fix_height(struct vma *v)
{
	int l = height(v->left), r = height(v->right);

	v->height = (l > r ? l : r) + 1;
}

static struct vma *rotate_right(struct vma *v)
{
	struct vma *l = v->left;

	v->left = l->right;
	l->right = v;
	fix_height(v);
	fix_height(l);
	return l;
}

static struct vma *rotate_left(struct vma *v)
{
	struct vma *r = v->right;

	v->right = r->left;
	r->left = v;
	fix_height(v);
	fix_height(r);
	return r;
}

/* Restores the AVL balance at v (children balanced); returns the new root. */
static struct vma *balance(struct vma *v)
{
	int bf;

	fix_height(v);
	bf = height(v->left) - height(v->right);
	if (bf > 1) {
		if (height(v->left->left) < height(v->left->right))
			v->left = rotate_left(v->left);
		return rotate_right(v);
	}
	if (bf < -1) {
		if (height(v->right->right) < height(v->right->left))
			v->right = rotate_right(v->right);
		return rotate_left(v);
	}
	return v;
}

static struct vma *node_insert(struct vma *root, struct vma *n)
{
	if (!root) {
		n->left = n->right = NULL;
		n->height = 1;
		return n;
	}
	if (n->start < root->start)
		root->left = node_insert(root->left, n);
	else
		root->right = node_insert(root->right, n);
	return balance(root);
}

/* Unlinks the minimum of the subtree into *min; returns the new root. */
static struct vma *node_take_min(struct vma *root, struct vma **min)
{
	if (!root->left) {
		*min = root;
		return root->right;
	}
	root->left = node_take_min(root->left, min);
	return balance(root);
}

/* Unlinks the node whose start is key (it must exist). */
static struct vma *node_delete(struct vma *root, uint64_t key)
{
	struct vma *min;

	if (!root)
		return NULL;
	if (key < root->start) {
		root->left = node_delete(root->left, key);
	} else if (key > root->start) {
		root->right = node_delete(root->right, key);
	} else {
		if (!root->left || !root->right)
			return root->left ? root->left : root->right;
		root->right = node_take_min(root->right, &min);
		min->left = root->left;
		min->right = root->right;
		return balance(min);
	}
	return balance(root);
}

static void tree_add(struct vma_tree *t, struct vma *n)
{
	t->root = node_insert(t->root, n);
	t->count++;
}

static void tree_del(struct vma_tree *t, struct vma *v)
{
	t->root = node_delete(t->root, v->start);
	t->count--;
	free_vma(v);
}

/* ---- lookups --------------------------------------------------------------------- */

struct vma *vma_find(const struct vma_tree *t, uint64_t addr)
{
	struct vma *v = t->root;

	while (v) {
		if (addr < v->start)
			v = v->left;
		else if (addr >= v->end)
			v = v->right;
		else
			return v;
	}
	return NULL;
}

struct vma *vma_first_from(const struct vma_tree *t, uint64_t addr)
{
	struct vma *v = t->root, *best = NULL;

	while (v) {
		if (v->end > addr) {
			best = v;
			v = v->left;
		} else {
			v = v->right;
		}
	}
	return best;
}

struct vma *vma_last_below(const struct vma_tree *t, uint64_t addr)
{
	struct vma *v = t->root, *best = NULL;

	while (v) {
		if (v->start < addr) {
			best = v;
			v = v->right;
		} else {
			v = v->left;
		}
	}
	return best;
}

struct vma *vma_next(const struct vma_tree *t, const struct vma *v)
{
	return vma_first_from(t, v->end);
}

static bool range_ok(uint64_t start, uint64_t end)
{
	return start < end && !(start % VMA_PAGE) && !(end % VMA_PAGE);
}

bool vma_range_free(const struct vma_tree *t, uint64_t start, uint64_t end)
{
	struct vma *v = vma_first_from(t, start);

	return !v || v->start >= end;
}

bool vma_range_covered(const struct vma_tree *t, uint64_t start, uint64_t end)
{
	uint64_t at = start;

	for (struct vma *v = vma_first_from(t, start); v && at < end; v = vma_next(t, v)) {
		if (v->start > at)
			return false;
		at = v->end;
	}
	return at >= end;
}

/* Whether lo and hi (hi starting where lo ends) may be one VMA: equal
 * prot and flags, and the same file at contiguous offsets. */
static bool same_kind(const struct vma *lo, const struct vma *hi)
{
	if (lo->prot != hi->prot || lo->flags != hi->flags || lo->file != hi->file)
		return false;
	return !lo->file || hi->pgoff == lo->pgoff + (lo->end - lo->start);
}

/* ---- changes --------------------------------------------------------------------- */

int vma_insert_file(struct vma_tree *t, uint64_t start, uint64_t end, uint32_t prot,
		    uint32_t flags, struct vma_file *file, uint64_t pgoff)
{
	struct vma key = {.start = start, .end = end, .prot = prot, .flags = flags,
			  .file = file, .pgoff = file ? pgoff : 0};
	struct vma *prev, *next, *n;

	if (!range_ok(start, end))
		return -EINVAL;
	if (!vma_range_free(t, start, end))
		return -EEXIST;
	prev = vma_last_below(t, start);
	next = vma_first_from(t, end);
	if (prev && (prev->end != start || !same_kind(prev, &key)))
		prev = NULL;
	if (next && (next->start != end || !same_kind(&key, next)))
		next = NULL;
	if (prev && next) {
		prev->end = next->end;
		tree_del(t, next);
	} else if (prev) {
		prev->end = end;
	} else if (next) {
		set_start(next, start); /* stays above prev: the range was free */
	} else {
		n = kmalloc(sizeof(*n));
		if (!n)
			return -ENOMEM;
		*n = key;
		vma_file_get(file);
		tree_add(t, n);
	}
	return 0;
}

int vma_insert(struct vma_tree *t, uint64_t start, uint64_t end, uint32_t prot,
	       uint32_t flags)
{
	return vma_insert_file(t, start, end, prot, flags, NULL, 0);
}

/* Cuts v in two at addr (v->start < addr < v->end) with the spare node n. */
static void split_with(struct vma_tree *t, struct vma *v, uint64_t addr, struct vma *n)
{
	*n = *v;
	set_start(n, addr);
	vma_file_get(n->file);
	v->end = addr;
	tree_add(t, n);
}

int vma_remove(struct vma_tree *t, uint64_t start, uint64_t end)
{
	struct vma *v, *next, *n;

	if (!range_ok(start, end))
		return -EINVAL;
	v = vma_first_from(t, start);
	if (v && v->start < start && v->end > end) {
		n = kmalloc(sizeof(*n));
		if (!n)
			return -ENOMEM;
		split_with(t, v, end, n);
		v->end = start;
		return 0;
	}
	while (v && v->start < end) {
		next = vma_next(t, v);
		if (v->start < start)
			v->end = start;
		else if (v->end > end)
			set_start(v, end);
		else
			tree_del(t, v);
		v = next;
	}
	return 0;
}

/* Merges the touching equal VMAs from the one holding or below start up to
 * the one holding or above end. */
static void merge_around(struct vma_tree *t, uint64_t start, uint64_t end)
{
	struct vma *v = vma_last_below(t, start), *n;

	if (!v)
		v = vma_first_from(t, start);
	while (v && v->start <= end) {
		n = vma_next(t, v);
		if (n && n->start == v->end && same_kind(v, n)) {
			v->end = n->end;
			tree_del(t, n);
		} else {
			v = n;
		}
	}
}

int vma_protect(struct vma_tree *t, uint64_t start, uint64_t end, uint32_t prot)
{
	struct vma *spare[2], *v;
	unsigned used = 0;

	if (!range_ok(start, end))
		return -EINVAL;
	if (!vma_range_covered(t, start, end))
		return -ENOMEM;
	spare[0] = kmalloc(sizeof(struct vma));
	spare[1] = kmalloc(sizeof(struct vma));
	if (!spare[0] || !spare[1]) {
		kfree(spare[0]);
		kfree(spare[1]);
		return -ENOMEM;
	}
	v = vma_find(t, start);
	if (v->start < start && v->prot != prot)
		split_with(t, v, start, spare[used++]);
	v = vma_find(t, end - 1);
	if (v->end > end && v->prot != prot)
		split_with(t, v, end, spare[used++]);
	for (v = vma_find(t, start); v && v->start < end; v = vma_next(t, v))
		v->prot = prot;
	while (used < 2)
		kfree(spare[used++]);
	merge_around(t, start, end);
	return 0;
}

int vma_gap_search(uint64_t len, uint64_t low, uint64_t high, vma_last_below_fn last_below,
		   const void *ctx, uint64_t *out)
{
	uint64_t top = high, bottom;
	const struct vma *v;

	for (v = last_below(ctx, top);; v = last_below(ctx, top)) {
		bottom = v && v->end > low ? v->end : low;
		if (top > bottom && top - bottom >= len) {
			*out = top - len;
			return 0;
		}
		if (!v || v->start <= low)
			return -ENOMEM;
		top = v->start;
	}
}

static const struct vma *tree_last_below(const void *tree, uint64_t addr)
{
	return vma_last_below(tree, addr);
}

int vma_find_gap(const struct vma_tree *t, uint64_t len, uint64_t low, uint64_t high,
		 uint64_t *out)
{
	if (!len || len % VMA_PAGE || low % VMA_PAGE || high % VMA_PAGE || low >= high)
		return -EINVAL;
	return vma_gap_search(len, low, high, tree_last_below, t, out);
}

static void clear_subtree(struct vma *v)
{
	while (v) {
		struct vma *r = v->right;

		clear_subtree(v->left);
		free_vma(v);
		v = r;
	}
}

void vma_tree_clear(struct vma_tree *t)
{
	clear_subtree(t->root);
	vma_tree_init(t);
}

/* Height of the subtree if it is a valid AVL tree of ranges inside
 * [lo, hi), else -1; counts its nodes into *n. */
static int check_subtree(const struct vma *v, uint64_t lo, uint64_t hi, size_t *n)
{
	int l, r;

	if (!v)
		return 0;
	if (!range_ok(v->start, v->end) || v->start < lo || v->end > hi)
		return -1;
	l = check_subtree(v->left, lo, v->start, n);
	r = check_subtree(v->right, v->end, hi, n);
	if (l < 0 || r < 0 || l - r > 1 || r - l > 1 || v->height != (l > r ? l : r) + 1)
		return -1;
	(*n)++;
	return v->height;
}

int vma_tree_check(const struct vma_tree *t)
{
	size_t n = 0;
	const struct vma *v;

	if (check_subtree(t->root, 0, UINT64_MAX, &n) < 0 || n != t->count)
		return -EINVAL;
	for (v = vma_first_from(t, 0); v; v = vma_next(t, v)) {
		const struct vma *nx = vma_next(t, v);

		if (nx && nx->start == v->end && same_kind(v, nx))
			return -EINVAL; /* unmerged neighbours */
	}
	return 0;
}
