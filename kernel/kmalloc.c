/*
 * kmalloc: power-of-two size classes from 16 to 2048 bytes, each served
 * from one-page slabs; larger requests get whole pages from the buddy.
 *
 * A slab page starts with struct slab; its free objects are chained through
 * their first word. Objects are never page aligned, so kfree() tells a big
 * allocation (page aligned) from a small one by the pointer alone. Freed
 * objects are poisoned except for that first word.
 */
#include <arch/memlayout.h>
#include <kernel/buddy.h>
#include <kernel/mm.h>
#include <kernel/panic.h>
#include <kernel/spinlock.h>
#include <lib/list.h>
#include <lib/string.h>

#define SLAB_MAGIC   0x51ab51ab
#define MIN_SHIFT    4 /* 16 bytes */
#define NCLASSES     8 /* 16 .. 2048 */
#define SLAB_HEADER  64 /* sizeof(struct slab) rounded to keep objects aligned */

struct slab {
	uint32_t magic;
	uint16_t cls;
	uint16_t nfree;
	void *free; /* chain of free objects */
	struct list_node link; /* in the class's partial list while nfree > 0 */
};
_Static_assert(sizeof(struct slab) <= SLAB_HEADER, "slab header");

struct size_class {
	size_t size;
	size_t per_slab;
	struct list_node partial; /* slabs with free objects */
};

static struct size_class classes[NCLASSES];
static struct spinlock kmalloc_lock = SPINLOCK_INIT("kmalloc");

static int class_for(size_t size)
{
	for (int c = 0; c < NCLASSES; c++)
		if (size <= ((size_t)1 << (MIN_SHIFT + c)))
			return c;
	return -1;
}

static struct slab *slab_new(int cls)
{
	struct size_class *sc = &classes[cls];
	struct slab *s = page_alloc(0);
	char *obj;

	if (!s)
		return NULL;
	s->magic = SLAB_MAGIC;
	s->cls = (uint16_t)cls;
	s->nfree = (uint16_t)sc->per_slab;
	s->free = NULL;
	obj = (char *)s + SLAB_HEADER;
	for (size_t i = 0; i < sc->per_slab; i++, obj += sc->size) {
		*(void **)obj = s->free;
		s->free = obj;
	}
	list_push_front(&sc->partial, &s->link);
	return s;
}

static void classes_init(void)
{
	for (int c = 0; c < NCLASSES; c++) {
		classes[c].size = (size_t)1 << (MIN_SHIFT + c);
		classes[c].per_slab = (PAGE_SIZE - SLAB_HEADER) / classes[c].size;
		list_init(&classes[c].partial);
	}
}

void *kmalloc(size_t size)
{
	int cls = class_for(size ? size : 1);
	struct size_class *sc;
	struct slab *s;
	void *obj;

	if (cls < 0)
		return page_alloc(buddy_order_for(size));

	spin_lock(&kmalloc_lock);
	if (classes[0].size == 0)
		classes_init();
	sc = &classes[cls];
	if (list_empty(&sc->partial) && !slab_new(cls)) {
		spin_unlock(&kmalloc_lock);
		return NULL;
	}
	s = list_entry(sc->partial.next, struct slab, link);
	obj = s->free;
	s->free = *(void **)obj;
	if (--s->nfree == 0)
		list_remove(&s->link);
	spin_unlock(&kmalloc_lock);
	return obj;
}

void *kzalloc(size_t size)
{
	void *p = kmalloc(size);

	if (p)
		memset(p, 0, size);
	return p;
}

void kfree(void *p)
{
	struct size_class *sc;
	struct slab *s;
	int order;

	if (!p)
		return;
	if (((uintptr_t)p & (PAGE_SIZE - 1)) == 0) {
		order = pmm_block_order(virt_to_phys(p));
		if (order < 0)
			panic("kfree(%p): not allocated", p);
		page_free(p, (unsigned)order);
		return;
	}

	s = (struct slab *)((uintptr_t)p & ~(uintptr_t)(PAGE_SIZE - 1));
	if (s->magic != SLAB_MAGIC || s->cls >= NCLASSES)
		panic("kfree(%p): not a kmalloc pointer", p);
	sc = &classes[s->cls];
	if (((uintptr_t)p - (uintptr_t)s - SLAB_HEADER) % sc->size)
		panic("kfree(%p): not the start of an object", p);

	memset(p, KMALLOC_POISON, sc->size);
	spin_lock(&kmalloc_lock);
	*(void **)p = s->free;
	s->free = p;
	if (s->nfree++ == 0)
		list_push_front(&sc->partial, &s->link);
	if (s->nfree == sc->per_slab) { /* empty: give the page back */
		list_remove(&s->link);
		s->magic = 0;
		spin_unlock(&kmalloc_lock);
		page_free(s, 0);
		return;
	}
	spin_unlock(&kmalloc_lock);
}
