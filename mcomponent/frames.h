/*
 * Page frames of a memory node (mcomponent/frames.c): 4 KiB frames cut
 * from one buffer in the node's fabric window, so that the fabric can
 * move a page between a frame and a processor's ExCache line by RDMA
 * without a copy (DESIGN.md section 5).
 *
 * A pool is a stack of free frame numbers under a spinlock: alloc and
 * free are O(1) and safe from any thread (never from an interrupt).
 * Frames are reference counted, so that address spaces copied by fork
 * share pages copy-on-write (mcomponent/aspace.c): frame_alloc hands out
 * a frame with one reference, frame_ref adds one, frame_put drops one
 * and frees the frame when the last goes. A shared frame (more than one
 * reference) is never written: a store always takes a fresh frame.
 * Freed frames are poisoned with PAGE_POISON (DESIGN.md section 9), so
 * a page that should have been written before being handed out shows.
 * Frames are named by number (0 .. nframes-1); frame_offset() gives the
 * window offset that RDMA work requests take (with verbs_local_key).
 */
#ifndef MCOMPONENT_FRAMES_H
#define MCOMPONENT_FRAMES_H

#include <kernel/spinlock.h>
#include <net/verbs.h>
#include <stdint.h>

#define FRAME_SIZE 4096u
#define FRAME_NONE UINT32_MAX

struct frame_pool {
	struct verbs_dev *dev; /* set at init */
	struct verbs_buf area; /* the frames, FRAME_SIZE aligned */
	uint32_t nframes;      /* set at init */
	struct spinlock lock;
	uint32_t *free_stack; /* under lock: free frame numbers */
	uint32_t nfree;	      /* under lock */
	uint32_t *refs;	      /* under lock: references per frame (0: free) */
};

/*
 * Takes bytes (rounded down to whole frames, at least one) of dev's
 * window for frames. Returns 0, -EINVAL (less than a frame), -ENOMEM (no
 * such window buffer or no memory for the free stack).
 */
int frame_pool_init(struct frame_pool *fp, struct verbs_dev *dev, uint64_t bytes);
/* Gives the window buffer back. Every frame must be free (else a bug:
 * logged, and the buffer is kept). */
void frame_pool_destroy(struct frame_pool *fp);

/* A free frame (contents: poison) with one reference, or FRAME_NONE. */
uint32_t frame_alloc(struct frame_pool *fp);
/* Adds a reference to f (which must be allocated). */
void frame_ref(struct frame_pool *fp, uint32_t f);
/* Drops a reference to f (which must be allocated); the last one poisons
 * and frees it. Returns the references left (0: freed). */
uint32_t frame_put(struct frame_pool *fp, uint32_t f);
/* frame_put without the count: for a frame the caller alone holds. */
void frame_free(struct frame_pool *fp, uint32_t f);
/* The references to f now (0: free), for tests and logs. */
uint32_t frame_refs(struct frame_pool *fp, uint32_t f);
uint32_t frame_free_count(struct frame_pool *fp);

static inline void *frame_va(const struct frame_pool *fp, uint32_t f)
{
	return (uint8_t *)fp->area.va + (uint64_t)f * FRAME_SIZE;
}

static inline uint64_t frame_offset(const struct frame_pool *fp, uint32_t f)
{
	return fp->area.offset + (uint64_t)f * FRAME_SIZE;
}

#endif
