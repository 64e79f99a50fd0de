/*
 * MEM_EXEC: building a process's address space from a static ELF
 * executable (include/proto/mem.h; the service is memserv.c).
 *
 * Steps, all on a new address space that nobody else sees until the
 * last one, so a failed exec leaves the old address space intact:
 *   1. decode the request (flags, memory nodes, credentials, the path NUL-
 *      terminated and absolute, the strings as argc + envc NUL-ended
 *      strings of strings_len bytes);
 *   2. stat the file on the storage node with may-exec for the caller's
 *      credentials (the file service checks the x bit), a regular file;
 *   3. read the headers (at most EXEC_HEADERS_MAX bytes) and decode them
 *      (mcomponent/elf.c);
 *   4. for each PT_LOAD: a VMA with the segment's prot, and its file
 *      bytes read eagerly into frames (in EXEC_CHUNK pieces through one
 *      kernel buffer). The rest of the last file page is zero; bss pages
 *      past it get no frame (they read as zeros, like any page never
 *      written, and the reply names them as fresh: the processor zero-
 *      fills their misses with no message);
 *   5. the heap starts at the page after the highest segment; the stack
 *      VMA is MEM_STACK_SIZE below MEM_STACK_TOP, read-write, and its top
 *      pages get the initial stack (mcomponent/ustack.c); the pages below
 *      those are fresh too;
 *   6. install it for (node, pid), destroying the old one (whose remote
 *      vRegions' owners get MEM_REGION_EXIT first: memserv_install).
 * The vRegions exec makes are this node's; the request's memory nodes
 * are kept in the space as the candidates for later ones (memvm.c).
 * Eager loading suits static binaries of a few MiB; demand paging from
 * the file (a page cache on this node) is a later step.
 */
#include "elf.h"
#include "memserv_impl.h"
#include "ustack.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <lib/string.h>
#include <net/fs_client.h>

#define EXEC_HEADERS_MAX (64u << 10)  /* bytes of ELF + program headers */
#define EXEC_CHUNK	 (256u << 10) /* file bytes read at once */
#define EXEC_STACK_BUF	 (64u << 10)  /* the initial stack's most */

/*
 * The vNode's memory nodes: 1..MEM_MAX_NODES of them, none 0, none twice,
 * the receiver among them, the rest of the array 0.
 */
static int exec_decode_nodes(const struct mem_exec_req *rq, uint16_t self)
{
	bool self_seen = false;

	if (rq->nmemory > MEM_MAX_NODES)
		return -EINVAL;
	for (unsigned i = 0; i < MEM_MAX_NODES; i++) {
		if (i >= rq->nmemory) {
			if (rq->memory[i])
				return -EINVAL;
			continue;
		}
		if (!rq->memory[i])
			return -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (rq->memory[j] == rq->memory[i])
				return -EINVAL;
		self_seen |= rq->memory[i] == self;
	}
	return self_seen ? 0 : -EINVAL;
}

int exec_decode(const struct mem_exec_req *rq, uint16_t self)
{
	if (rq->flags || rq->cred.reserved || rq->cred.ngroups > FS_NGROUPS)
		return -EINVAL;
	if (exec_decode_nodes(rq, self))
		return -EINVAL;
	if (!memchr(rq->path, '\0', MEM_EXEC_PATH_MAX) || rq->path[0] != '/')
		return -EINVAL;
	if (rq->strings_len > MEM_EXEC_STRINGS)
		return -E2BIG;
	return ustack_check_strings(rq->strings, rq->strings_len, rq->argc, rq->envc);
}

/* Copies n bytes to the user addresses from va of as, allocating (zeroed)
 * frames for pages that have none. */
static int copy_to_pages(struct aspace *as, uint64_t va, const uint8_t *src, uint64_t n)
{
	while (n) {
		uint64_t in_page = va & (PAGE - 1), part = PAGE - in_page;
		uint32_t f = aspace_page(as, va);

		if (part > n)
			part = n;
		if (f == FRAME_NONE) {
			f = frame_alloc(as->fp);
			if (f == FRAME_NONE)
				return -ENOMEM;
			memset(frame_va(as->fp, f), 0, FRAME_SIZE);
			if (aspace_set_page(as, va, f) < 0) {
				frame_free(as->fp, f);
				return -ENOMEM;
			}
		}
		memcpy((uint8_t *)frame_va(as->fp, f) + in_page, src, part);
		va += part;
		src += part;
		n -= part;
	}
	return 0;
}

static int read_exact(const struct exec_source *src, uint64_t off, void *buf, size_t len)
{
	long n = src->read(src->ctx, off, buf, len);

	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EIO; /* the file shrank under us */
}

/* Names [start, end) in the reply as fresh (struct mem_fresh_range):
 * empty ranges are skipped, and so are ranges past MEM_EXEC_FRESH_MAX
 * (their misses then ask this node, which answers zero). */
static void add_fresh(struct mem_exec_reply *rp, uint64_t start, uint64_t end, uint32_t prot)
{
	if (start >= end || rp->nfresh == MEM_EXEC_FRESH_MAX)
		return;
	rp->fresh[rp->nfresh++] = (struct mem_fresh_range){.start = start, .end = end, .prot = prot};
}

static int load_segment(struct aspace *as, const struct exec_source *src,
			const struct elf_segment *s, uint8_t *chunk, struct mem_exec_reply *rp)
{
	int err = aspace_map(as, page_down(s->vaddr), page_up(s->vaddr + s->memsz), s->prot,
			     VMA_IMAGE);

	for (uint64_t done = 0; !err && done < s->filesz;) {
		uint64_t n = s->filesz - done < EXEC_CHUNK ? s->filesz - done : EXEC_CHUNK;

		err = read_exact(src, s->offset + done, chunk, n);
		if (!err)
			err = copy_to_pages(as, s->vaddr + done, chunk, n);
		done += n;
	}
	/* The segments' VMAs never share a page, so the pages past the file
	 * bytes' last one are this segment's alone, and got no frame. */
	if (!err)
		add_fresh(rp, page_up(s->vaddr + s->filesz), page_up(s->vaddr + s->memsz), s->prot);
	return err;
}

/* Steps 3 and 4: headers decoded into *img, segments loaded. */
static int load_image(struct aspace *as, const struct exec_source *src,
		      struct elf_image *img, uint8_t *chunk, struct mem_exec_reply *rp)
{
	size_t len = src->size < PAGE ? (size_t)src->size : PAGE;
	long need;
	int err;

	if (len < ELF_EHDR_SIZE)
		return -ENOEXEC;
	err = read_exact(src, 0, chunk, len);
	if (err)
		return err;
	need = elf_headers_size(chunk, len, src->size);
	if (need < 0 || need > (long)EXEC_HEADERS_MAX)
		return -ENOEXEC;
	if ((size_t)need > len) {
		len = (size_t)need;
		err = read_exact(src, 0, chunk, len);
		if (err)
			return err;
	}
	if (elf_decode(chunk, len, src->size, img))
		return -ENOEXEC;
	for (unsigned i = 0; i < img->nsegs && !err; i++)
		err = load_segment(as, src, &img->segs[i], chunk, rp);
	return err;
}

/* Step 5: heap, stack VMA and the initial stack; *sp set. */
static int make_stack(struct memserv *ms, struct aspace *as, const struct mem_exec_req *rq,
		      const struct elf_image *img, uint64_t *sp, struct mem_exec_reply *rp)
{
	struct ustack_info in = {
		.strings = rq->strings,
		.strings_len = rq->strings_len,
		.argc = rq->argc,
		.envc = rq->envc,
		.execfn = rq->path,
		.phdr = img->phdr,
		.phent = img->phentsize,
		.phnum = img->phnum,
		.entry = img->entry,
		.uid = rq->cred.uid,
		.euid = rq->cred.uid,
		.gid = rq->cred.gid,
		.egid = rq->cred.gid,
	};
	uint64_t base = MEM_STACK_TOP - EXEC_STACK_BUF, low;
	uint8_t *buf;
	int err;

	as->brk_start = as->brk = page_up(img->end);
	err = aspace_map(as, MEM_STACK_TOP - MEM_STACK_SIZE, MEM_STACK_TOP,
			 MEM_PROT_READ | MEM_PROT_WRITE, VMA_STACK);
	if (err)
		return err;
	buf = kmalloc(EXEC_STACK_BUF);
	if (!buf)
		return -ENOMEM;
	memserv_random(ms, in.random);
	err = ustack_build(buf, EXEC_STACK_BUF, MEM_STACK_TOP, &in, sp);
	if (!err) {
		low = page_down(*sp);
		err = copy_to_pages(as, low, buf + (low - base), MEM_STACK_TOP - low);
		add_fresh(rp, MEM_STACK_TOP - MEM_STACK_SIZE, low, MEM_PROT_READ | MEM_PROT_WRITE);
	}
	kfree(buf);
	return err;
}

int exec_build(struct memserv *ms, uint16_t node, const struct mem_exec_req *rq,
	       const struct exec_source *src, struct mem_exec_reply *rp)
{
	struct aspace *as = aspace_create(&ms->frames, ms->self);
	uint8_t *chunk = kmalloc(EXEC_CHUNK);
	struct elf_image *img = kmalloc(sizeof(*img));
	uint64_t sp = 0;
	int err = -ENOMEM;

	memset(rp, 0, sizeof(*rp));
	if (as && chunk && img) {
		as->nmemory = rq->nmemory;
		memcpy(as->memory, rq->memory, sizeof(as->memory));
		err = load_image(as, src, img, chunk, rp);
		if (!err)
			err = make_stack(ms, as, rq, img, &sp, rp);
	}
	kfree(chunk);
	if (!err) {
		rp->entry = img->entry;
		rp->sp = sp;
		rp->brk = as->brk;
		rp->frames = as->frames;
		err = memserv_install(ms, node, rq->pid, as);
	}
	kfree(img);
	if (err && as)
		aspace_destroy(as);
	if (!err)
		memserv_count(&ms->stats.execs, 1);
	return err;
}

/* ---- the file source: the storage node's file service ------------------------------ */

struct fs_source {
	uint16_t server;
	const struct fs_cred *cred;
	const char *path;
};

static long fs_read(void *ctx, uint64_t offset, void *buf, size_t len)
{
	struct fs_source *fs = ctx;

	return fsc_read(fs->server, fs->cred, fs->path, offset, buf, len);
}

RPC_HANDLER(MEM_EXEC, struct mem_exec_req, struct mem_exec_reply)
{
	struct memserv *ms = memserv_of(ctx->rn);
	struct fs_source fs;
	struct exec_source src = {.read = fs_read, .ctx = &fs};
	struct fs_attr attr;
	int err;

	if (!ms)
		return -ENODEV;
	err = exec_decode(rq, ms->self);
	if (err)
		return err;
	if (!ms->storage) {
		if (!ms->warned_no_storage)
			pr_warn("memory: no storage= node: every MEM_EXEC gets ENOENT");
		ms->warned_no_storage = true;
		return -ENOENT;
	}
	fs.server = ms->storage;
	fs.cred = &rq->cred;
	fs.path = rq->path;
	err = fsc_stat(fs.server, &rq->cred, rq->path, 0, FS_MAY_EXEC, &attr);
	if (err)
		return err;
	if ((attr.mode & FS_S_IFMT) != FS_S_IFREG)
		return -EACCES; /* as execve(2) for a directory or a device */
	src.size = attr.size;
	return exec_build(ms, ctx->src_node, rq, &src, rp);
}

/* ---- the self tests' source: an image in memory ------------------------------------ */

struct mem_source {
	const uint8_t *file;
	size_t size;
};

static long mem_read(void *ctx, uint64_t offset, void *buf, size_t len)
{
	struct mem_source *m = ctx;

	if (offset >= m->size)
		return 0;
	if (len > m->size - offset)
		len = m->size - offset;
	memcpy(buf, m->file + offset, len);
	return (long)len;
}

int memserv_test_exec(struct memserv *ms, uint16_t node, const struct mem_exec_req *rq,
		      const void *file, size_t size, struct mem_exec_reply *rp)
{
	struct mem_source m = {.file = file, .size = size};
	struct exec_source src = {.read = mem_read, .ctx = &m, .size = size};
	int err = exec_decode(rq, ms->self);

	return err ? err : exec_build(ms, node, rq, &src, rp);
}
