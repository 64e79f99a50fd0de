/*
 * Page frames (interface: mcomponent/frames.h).
 *
 * The free stack holds every free frame number once; frames are handed
 * out from its top, so the most recently freed (still warm in the CPU
 * cache) go first. Reference counts sit in a parallel array under the
 * same lock; a frame leaves the stack with count 1 and goes back when
 * frame_put takes the count to 0 (poisoned first, outside the lock: the
 * frame is then on neither side, owned by the thread freeing it). A put
 * of a free frame (a frame freed twice) is a bug of this node: logged and
 * ignored, never a panic.
 */
#include "frames.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <lib/string.h>

int frame_pool_init(struct frame_pool *fp, struct verbs_dev *dev, uint64_t bytes)
{
	uint64_t n = bytes / FRAME_SIZE;
	int err;

	memset(fp, 0, sizeof(*fp));
	if (n == 0 || n >= FRAME_NONE)
		return -EINVAL;
	fp->free_stack = kmalloc(n * sizeof(uint32_t));
	fp->refs = kzalloc(n * sizeof(uint32_t));
	err = fp->free_stack && fp->refs ? 0 : -ENOMEM;
	if (!err)
		err = verbs_buf_alloc(dev, n * FRAME_SIZE, &fp->area);
	if (err) {
		kfree(fp->free_stack);
		kfree(fp->refs);
		fp->free_stack = NULL;
		fp->refs = NULL;
		return err;
	}
	spin_init(&fp->lock, "frames");
	fp->dev = dev;
	fp->nframes = (uint32_t)n;
	for (uint32_t i = 0; i < fp->nframes; i++)
		fp->free_stack[i] = fp->nframes - 1 - i; /* frame 0 on top */
	fp->nfree = fp->nframes;
	memset(fp->area.va, PAGE_POISON, fp->area.size);
	return 0;
}

void frame_pool_destroy(struct frame_pool *fp)
{
	if (!fp->free_stack)
		return;
	if (fp->nfree != fp->nframes)
		pr_err("frames: pool destroyed with %u of %u frames in use; window "
		       "buffer kept",
		       fp->nframes - fp->nfree, fp->nframes);
	else
		verbs_buf_free(fp->dev, &fp->area);
	kfree(fp->free_stack);
	kfree(fp->refs);
	memset(fp, 0, sizeof(*fp));
}

uint32_t frame_alloc(struct frame_pool *fp)
{
	uint32_t f = FRAME_NONE;

	spin_lock(&fp->lock);
	if (fp->nfree) {
		f = fp->free_stack[--fp->nfree];
		fp->refs[f] = 1;
	}
	spin_unlock(&fp->lock);
	return f;
}

void frame_ref(struct frame_pool *fp, uint32_t f)
{
	if (f >= fp->nframes) {
		pr_err("frames: reference to frame %u outside the pool", f);
		return;
	}
	spin_lock(&fp->lock);
	if (fp->refs[f] && fp->refs[f] < UINT32_MAX)
		fp->refs[f]++;
	else
		pr_err("frames: reference to frame %u with %u references", f, fp->refs[f]);
	spin_unlock(&fp->lock);
}

uint32_t frame_put(struct frame_pool *fp, uint32_t f)
{
	uint32_t left;

	if (f >= fp->nframes) {
		pr_err("frames: free of frame %u outside the pool", f);
		return 0;
	}
	spin_lock(&fp->lock);
	if (!fp->refs[f]) {
		spin_unlock(&fp->lock);
		pr_err("frames: frame %u freed twice", f);
		return 0;
	}
	left = --fp->refs[f];
	spin_unlock(&fp->lock);
	if (left)
		return left;
	memset(frame_va(fp, f), PAGE_POISON, FRAME_SIZE);
	spin_lock(&fp->lock);
	fp->free_stack[fp->nfree++] = f; /* refs 0 and off the stack: room */
	spin_unlock(&fp->lock);
	return 0;
}

void frame_free(struct frame_pool *fp, uint32_t f)
{
	frame_put(fp, f);
}

uint32_t frame_refs(struct frame_pool *fp, uint32_t f)
{
	uint32_t n = 0;

	if (f < fp->nframes) {
		spin_lock(&fp->lock);
		n = fp->refs[f];
		spin_unlock(&fp->lock);
	}
	return n;
}

uint32_t frame_free_count(struct frame_pool *fp)
{
	return __atomic_load_n(&fp->nfree, __ATOMIC_RELAXED);
}
