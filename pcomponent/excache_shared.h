/*
 * Shared ranges (pcomponent/excache_shared.c): the MAP_SHARED mappings of
 * one process, as the ExCache needs them to make processes that map the
 * same shared page use the same line (pcomponent/excache.c, top
 * comment). Each range says which shared object its pages belong to (a
 * key: the file's inode and generation for a file, a processor-wide
 * number for MAP_SHARED|MAP_ANONYMOUS memory), at which page of the object it
 * starts, and its prot. Portable: no locks, no kernel services, no arch
 * headers; the host tests drive it (tests/unit/test_excache_shared.c),
 * the kernel calls it under the process's ec.lock.
 *
 * Unlike fresh ranges (excache_fresh.h), a shared range must never be
 * forgotten: a page of a forgotten one would be cached as the process's
 * private copy, which other processes' stores never reach. So a change
 * that needs more entries than the array has fails (-1), leaving the
 * set as it was, and the system call fails with ENOMEM before it
 * changes anything (excache_shared_room), as Linux's do when a process
 * reaches its vm.max_map_count.
 *
 * The set is an array of at most cap ranges, sorted by start, never
 * overlapping, each page aligned and non-empty. Ranges never merge (two
 * neighbours are different mappings, even of one object).
 */
#ifndef PCOMPONENT_EXCACHE_SHARED_H
#define PCOMPONENT_EXCACHE_SHARED_H

#include <stdint.h>

/* Shared object keys: bit 63 set, so that no key is a pid (the key of a
 * private ExCache line, pcomponent/excache_set.h); bit 62 tells
 * anonymous memory's numbers from files' identities. */
#define EXSH_KEY_SHARED (1ull << 63)
#define EXSH_KEY_ANON	(1ull << 62)
#define EXSH_GEN_BITS	30 /* of a file's generation in its key */

/* The key of the file with inode ino of generation gen (the storage
 * node's: every mappable file is on the root's device; its inode numbers
 * are ext2's, 32 bits): the pair, as the memory node names the file's
 * shared object, so that a new file given the number of an unlinked one
 * (ext2 reuses them at once, with the next generation) never meets the
 * old one's lines. The generation's low 30 bits: two lives of one
 * number share a key only 2^30 lives apart. */
static inline uint64_t exsh_file_key(uint64_t ino, uint32_t gen)
{
	uint64_t g = gen & ((1u << EXSH_GEN_BITS) - 1);

	return EXSH_KEY_SHARED | g << 32 | (uint32_t)ino;
}

/* The key of the n-th MAP_SHARED|MAP_ANONYMOUS mapping made on this
 * processor. */
static inline uint64_t exsh_anon_key(uint64_t n)
{
	return EXSH_KEY_SHARED | EXSH_KEY_ANON | (n & (EXSH_KEY_ANON - 1));
}

/* A MAP_SHARED mapping [start, end) of pages pgoff.. of object key. */
struct excache_shared {
	uint64_t start, end; /* page aligned; end > start */
	uint64_t key;	     /* the shared object (EXSH_KEY_SHARED set) */
	uint64_t pgoff;	     /* the object's page at start */
	uint32_t prot;	     /* the mapping's PROT_* */
};

/* Index of the range holding va, or -1. */
int exsh_find(const struct excache_shared *r, unsigned n, uint64_t va);

/* The byte offset in its object of the page holding va, which r[i]
 * holds. */
uint64_t exsh_offset(const struct excache_shared *r, uint64_t va);

/*
 * Entries a change of [start, end) needs beyond the n in use: one per
 * range that one of the two ends cuts in two. A change fits if n + this
 * (+ 1 for an add) is at most cap.
 */
unsigned exsh_splits(const struct excache_shared *r, unsigned n, uint64_t start,
		     uint64_t end);

/*
 * Changes of r[0..*n) (capacity cap); start and end page aligned, start <
 * end. Each returns 0, or -1 if it does not fit (the set unchanged).
 * exsh_add makes [start, end) a range of key from page pgoff with prot
 * (replacing what was there); exsh_remove takes [start, end) out of every
 * range (cutting, splitting); exsh_protect gives [start, end)'s parts of
 * ranges prot.
 */
int exsh_add(struct excache_shared *r, unsigned *n, unsigned cap, uint64_t start,
	     uint64_t end, uint64_t key, uint64_t pgoff, uint32_t prot);
int exsh_remove(struct excache_shared *r, unsigned *n, unsigned cap, uint64_t start,
		uint64_t end);
int exsh_protect(struct excache_shared *r, unsigned *n, unsigned cap, uint64_t start,
		 uint64_t end, uint32_t prot);

#endif
