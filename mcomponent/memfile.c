/*
 * File pages of the memory service: what stands between a file mapping
 * (MEM_MMAP_FILE, include/proto/mem.h) and its file.
 *
 * Two functions touch the file, and only they: memfile_fill reads one
 * page of a file into a frame (a file page at its first miss), and
 * memfile_write writes one page back (MAP_SHARED). Both go through the
 * buffer cache of the vNode's cache node, its first memory node (MEM_EXEC's
 * memory[0], kept in the file: vma_file.cache), so a mapping and the
 * processes' read() and write() (which the processor sends there) see
 * one file: this node's own cache (bcache.h) when it is that node, else
 * that node's through the buffer cache protocol (net/bc_client.h:
 * BC_READ, BC_WRITE), since a process's home is the global memory
 * manager's choice among the vNode's memory nodes and file mappings live
 * in vRegions the home owns (memvm.c). A cache node that does not serve
 * this node's storage node (-EXDEV) leaves the page to this node's own
 * cache. A node without a storage node (-ENODEV) has no files to map.
 * Everything else here decides
 * which pages: a private file VMA's page is read into the process's own
 * frame (memfile_page); a MAP_SHARED VMA's pages are its shared memory
 * object's (shmobj.h: one copy per file on this node, whatever process
 * maps it), and memfile_sync has the objects of the MAP_SHARED VMAs of a
 * range write back the pages stored since they were read or last
 * written.
 *
 * Choices, written down here:
 *  - a page is read once, at its first miss, and kept in its frame (the
 *    frame is the mapping's page cache): a later write() to the file is
 *    not seen by a page already read, and a MAP_SHARED store reaches the
 *    file (and so read()) at the next write-back: msync, munmap, exit,
 *    exec, or the object's last reference. Processes that map one file
 *    MAP_SHARED share its pages on this node: a store that reached the
 *    node (a flush or an eviction by the processor) is what the others'
 *    next misses get. A private mapping reads the file, so it sees such
 *    a store only once written back, and only in pages it has not read.
 *  - beyond the end of the file: the rest of the last page reads as
 *    zeros; a page wholly past the end answers -ENXIO (a bus error for
 *    the process). A write-back never extends the file: only the bytes
 *    below its size now are written (a stat per page: write-backs are
 *    rare and the sizes may change between them).
 *  - a write-back error is logged and the page stays dirty (a later
 *    write-back tries again); munmap and exit go on regardless, as Linux
 *    does when its page cache cannot write.
 *  - a file mapping names its file by (inode, generation) (exact): its
 *    pages are read and written only while its path still names that
 *    file, else -ESTALE (a write-back whose path names nothing any more
 *    too: the file was unlinked, or renamed, and a protocol that names
 *    files by path cannot reach it either way). ext2 gives an unlinked
 *    file's number to the next new file at once; Linux would go on
 *    writing to the unlinked inode, which no name reaches; here a
 *    MAP_SHARED object whose file is gone keeps its pages in memory for
 *    its mappers and writes nothing (shmobj.c), and never into a newer
 *    file of its path or number.
 */
#include "memserv_impl.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <lib/string.h>
#include <net/bc_client.h>
#include <net/fs_client.h>

static struct bcache_file cache_file(const struct vma_file *file)
{
	return (struct bcache_file){.cred = &file->cred,
				    .path = file->path,
				    .ino = file->ino,
				    .gen = file->gen,
				    .exact = file->exact};
}

/* The other node whose buffer cache file's pages go through, or 0 (this
 * node's own). */
static uint16_t remote_cache(const struct memserv *ms, const struct vma_file *file)
{
	uint16_t c = __atomic_load_n(&file->cache, __ATOMIC_ACQUIRE);

	return c != ms->self ? c : 0;
}

static struct bc_target cache_target(const struct memserv *ms, const struct vma_file *file)
{
	return (struct bc_target){.storage = ms->storage,
				  .cred = &file->cred,
				  .path = file->path,
				  .ino = file->ino,
				  .gen = file->gen,
				  .exact = file->exact};
}

/* One page of file at offset into page through the cache node: the bytes
 * read (the rest zeroed), -EXDEV if it does not cache our storage node. */
static long remote_read_page(struct memserv *ms, uint16_t cache, const struct vma_file *file,
			     uint64_t offset, uint8_t *page)
{
	struct bc_target t = cache_target(ms, file);
	long n = bcc_read(cache, &t, offset, page, PAGE);

	if (n >= 0)
		memset(page + n, 0, PAGE - (size_t)n);
	return n;
}

int memfile_fill(struct memserv *ms, const struct vma_file *file, uint64_t offset,
		 uint32_t f)
{
	struct bcache *bc = memserv_bcache(ms);
	struct bcache_file bf = cache_file(file);
	uint16_t cache = remote_cache(ms, file);
	long n = -EXDEV;

	if (cache && ms->storage)
		n = remote_read_page(ms, cache, file, offset, frame_va(&ms->frames, f));
	if (n == -EXDEV)
		n = bc ? bcache_read_page(bc, &bf, offset / PAGE, frame_va(&ms->frames, f))
		       : -ENODEV;
	if (n < 0)
		return (int)n;
	return n ? 0 : -ENXIO; /* 0: past the end of the file */
}

int memfile_write(struct memserv *ms, const struct vma_file *file, uint64_t offset,
		  uint32_t f)
{
	struct bcache *bc = memserv_bcache(ms);
	struct bcache_file bf = cache_file(file);
	struct bc_target t = cache_target(ms, file);
	uint16_t cache = ms->storage ? remote_cache(ms, file) : 0;
	struct fs_attr attr;
	uint64_t len;
	long n = -EXDEV;
	int err;

	if (cache) /* the storage node's answer, as this node's cache would ask */
		err = fsc_stat(ms->storage, &file->cred, file->path, 0, 0, &attr);
	else
		err = bc ? bcache_stat(bc, &bf, &attr) : -ENODEV;
	if (file->exact && (err == -ENOENT ||
			    (!err && (attr.ino != file->ino || attr.gen != file->gen))))
		err = -ESTALE; /* the path names nothing, or another file, now */
	if (err)
		return err;
	if (offset >= attr.size)
		return 0; /* truncated since: nothing of the page is in the file */
	len = attr.size - offset < PAGE ? attr.size - offset : PAGE;
	if (cache)
		n = bcc_write(cache, &t, offset, frame_va(&ms->frames, f), (size_t)len, false,
			      NULL);
	if (n == -EXDEV)
		n = bc ? bcache_write(bc, &bf, offset, frame_va(&ms->frames, f), (size_t)len,
				      false, NULL)
		       : -ENODEV;
	return n < 0 ? (int)n : 0;
}

int memfile_sync(struct memserv *ms, struct aspace *as, uint64_t start, uint64_t end)
{
	int first = 0;

	for (struct vma *v = aspace_vma_from(as, start); v && v->start < end;
	     v = aspace_vma_from(as, v->end)) {
		struct shm_obj *o = shm_of(v);
		uint64_t lo = v->start > start ? v->start : start;
		uint64_t hi = v->end < end ? v->end : end;
		int err;

		if (!o)
			continue;
		err = shm_sync(o, v->pgoff + (lo - v->start), v->pgoff + (hi - v->start));
		if (err && !first)
			first = err;
	}
	return first;
}

int memfile_page(struct memserv *ms, struct aspace *as, const struct vma *v, uint64_t va,
		 uint32_t *out)
{
	uint32_t f = frame_alloc(&ms->frames);
	int err;

	if (f == FRAME_NONE)
		return -ENOMEM;
	err = memfile_fill(ms, v->file, v->pgoff + (va - v->start), f);
	if (!err)
		err = aspace_set_page(as, va, f);
	if (err) {
		frame_free(&ms->frames, f);
		return err;
	}
	*out = f;
	return 0;
}

uint16_t memfile_cache_of(const struct aspace *as)
{
	return as->nmemory ? as->memory[0] : 0;
}

void memfile_set_cache(struct vma_file *file, uint16_t cache)
{
	uint16_t none = 0;

	__atomic_compare_exchange_n(&file->cache, &none, cache, false, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE);
}

struct vma_file *memfile_new(const char *path, uint64_t ino, uint32_t gen, bool exact,
			     const struct fs_cred *cred, uint16_t cache)
{
	struct vma_file *file = kzalloc(sizeof(*file));

	if (!file)
		return NULL;
	file->refs = 1; /* the caller's: it drops it once the VMAs took theirs */
	file->cache = cache;
	file->ino = ino;
	file->gen = gen;
	file->exact = exact;
	file->cred = *cred;
	strlcpy(file->path, path, sizeof(file->path));
	return file;
}
