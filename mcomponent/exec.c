/*
 * MEM_EXEC: building a process's address space from an ELF executable,
 * static or dynamic (include/proto/mem.h; the service is memserv.c).
 *
 * Steps, all on a new address space that nobody else sees until the
 * last one, so a failed exec leaves the old address space intact:
 *   1. decode the request (flags, memory nodes, credentials, the path NUL-
 *      terminated and absolute, the strings as argc + envc NUL-ended
 *      strings of strings_len bytes);
 *   2. open the file (struct exec_files: on the storage node, a stat
 *      with may-exec for the caller's credentials, so the file service
 *      checks the x bit; a regular file);
 *   3. read the headers (at most EXEC_HEADERS_MAX bytes) and decode them
 *      (mcomponent/elf.c);
 *   4. for each PT_LOAD, as Linux's loader maps it: its file pages a
 *      private file VMA with the segment's prot (memfile.c reads each at
 *      its first miss through the buffer cache), but for the page where
 *      the file bytes end inside a page, read here (in EXEC_CHUNK pieces
 *      through one kernel buffer) with the rest zero, since the file's
 *      bytes past filesz are other sections'. bss pages past it are an
 *      anonymous VMA with no frame (they read as zeros, like any page
 *      never written, and the reply names them as fresh: the processor
 *      zero-fills their misses with no message). Files with no buffer
 *      cache behind them (the self tests' images in memory: struct
 *      exec_files.lazy false) are read whole into frames instead, in one
 *      VMA of kind image per segment. A dynamic executable (one
 *      with PT_INTERP) then gets its interpreter the same way, steps 2
 *      to 4 for the path PT_INTERP names, read from the same storage
 *      node with the same credentials and decoded as ELF_INTERP (an
 *      ET_DYN without PT_INTERP, placed top-down below ELF_INTERP_TOP,
 *      where the libraries it maps itself follow); the process starts at
 *      the interpreter's entry with AT_BASE its bias, the executable's
 *      AT_PHDR and AT_ENTRY telling it what to link;
 *   5. the heap starts at the page after the executable's highest
 *      segment; the stack VMA is MEM_STACK_SIZE below MEM_STACK_TOP,
 *      read-write, and its top pages get the initial stack
 *      (mcomponent/ustack.c); the pages below those are fresh too;
 *   6. install it for (node, pid), destroying the old one (whose remote
 *      vRegions' owners get MEM_REGION_EXIT first: memserv_install).
 * The vRegions exec makes are this node's; the request's memory nodes
 * are kept in the space as the candidates for later ones (memvm.c).
 * So exec takes frames only for the initial stack and the last file page
 * of each segment; the rest of an image costs frames as it is touched,
 * and /proc/PID/maps shows each image's segments under its own path,
 * offset and inode (the file VMAs name them).
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

_Static_assert(ELF_INTERP_MAX <= MEM_EXEC_PATH_MAX, "an interpreter's path is a path");

/* What one exec decodes: the executable, its interpreter and the path
 * of that (kmalloc'd: too big for the stack). */
struct exec_work {
	struct elf_image exe, interp;
	char interp_path[ELF_INTERP_MAX];
};

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

/* One file MEM_EXEC reads: the executable or its interpreter. */
struct exec_file {
	const struct exec_files *fs;
	const char *path;
	uint64_t size;
	struct vma_file *file; /* lazy: the file its VMAs name (one reference); else NULL */
};

/* Step 2 for path: a regular file the caller (cred) may execute; *f to be
 * closed by exec_close once opened (0). */
static int exec_open(const struct exec_files *fs, const char *path, const struct fs_cred *cred,
		     struct exec_file *f)
{
	uint64_t ino = 0;
	int err = fs->open(fs->ctx, path, &f->size, &ino);

	f->fs = fs;
	f->path = path;
	f->file = NULL;
	if (err || !fs->lazy)
		return err;
	f->file = memfile_new(path, ino, 0, false, cred, fs->cache);
	return f->file ? 0 : -ENOMEM;
}

/* Drops the opener's reference to the file (its VMAs hold their own). */
static void exec_close(struct exec_file *f)
{
	vma_file_put(f->file);
	f->file = NULL;
}

static int read_exact(const struct exec_file *f, uint64_t off, void *buf, size_t len)
{
	long n = f->fs->read(f->fs->ctx, f->path, off, buf, len);

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

/* The file bytes [from, s->vaddr + s->filesz) of segment s read into
 * frames (the rest of the last page zero), in EXEC_CHUNK pieces. */
static int read_segment(struct aspace *as, const struct exec_file *f,
			const struct elf_segment *s, uint64_t from, uint8_t *chunk)
{
	uint64_t end = s->vaddr + s->filesz;
	int err = 0;

	while (!err && from < end) {
		uint64_t n = end - from < EXEC_CHUNK ? end - from : EXEC_CHUNK;

		/* from may lie below vaddr (the start of its page: lazy),
		 * where the file's bytes before the segment are */
		err = read_exact(f, s->offset + from - s->vaddr, chunk, n);
		if (!err)
			err = copy_to_pages(as, from, chunk, n);
		from += n;
	}
	return err;
}

/*
 * Step 4 for segment s, lazy: its file pages [page_down(vaddr),
 * page_up(vaddr + filesz)) one private file VMA (what mmap of the file
 * would make), read at their first miss but for the page where the file
 * bytes end inside a page: the file's bytes past filesz belong to other
 * sections, so that page is read here, its rest zero. The bss pages past
 * it are an anonymous VMA (as Linux shows them).
 */
static int map_segment(struct aspace *as, const struct exec_file *f,
		       const struct elf_segment *s, uint8_t *chunk)
{
	uint64_t start = page_down(s->vaddr), end = page_up(s->vaddr + s->memsz);
	uint64_t fend = s->filesz ? page_up(s->vaddr + s->filesz) : start; /* bss only: none */
	uint64_t tail = page_down(s->vaddr + s->filesz);
	int err = 0;

	if (start < fend)
		err = aspace_map_file(as, start, fend, s->prot, VMA_FILE, f->file,
				      page_down(s->offset));
	if (!err && tail < fend)
		err = read_segment(as, f, s, tail, chunk);
	if (!err && fend < end)
		err = aspace_map(as, fend, end, s->prot, VMA_ANON);
	return err;
}

/* Step 4 for segment s: its pages mapped (lazy files) or its file bytes
 * read into frames, one VMA; the bss pages named fresh. */
static int load_segment(struct aspace *as, const struct exec_file *f,
			const struct elf_segment *s, uint8_t *chunk, struct mem_exec_reply *rp)
{
	int err;

	if (f->file) {
		err = map_segment(as, f, s, chunk);
	} else {
		err = aspace_map(as, page_down(s->vaddr), page_up(s->vaddr + s->memsz), s->prot,
				 VMA_IMAGE);
		if (!err)
			err = read_segment(as, f, s, s->vaddr, chunk);
	}
	/* The segments' VMAs never share a page, so the pages past the file
	 * bytes' last one are this segment's alone, and got no frame. */
	if (!err)
		add_fresh(rp, page_up(s->vaddr + s->filesz), page_up(s->vaddr + s->memsz), s->prot);
	return err;
}

/* Step 3: the headers of f read into chunk and decoded into *img. */
static int decode_image(const struct exec_file *f, enum elf_role role, struct elf_image *img,
			uint8_t *chunk)
{
	size_t len = f->size < PAGE ? (size_t)f->size : PAGE;
	long need;
	int err;

	if (len < ELF_EHDR_SIZE)
		return -ENOEXEC;
	err = read_exact(f, 0, chunk, len);
	if (err)
		return err;
	need = elf_headers_size(chunk, len, f->size);
	if (need < 0 || need > (long)EXEC_HEADERS_MAX)
		return -ENOEXEC;
	if ((size_t)need > len) {
		len = (size_t)need;
		err = read_exact(f, 0, chunk, len);
		if (err)
			return err;
	}
	return elf_decode(chunk, len, f->size, role, img) ? -ENOEXEC : 0;
}

/* Step 4: the segments of a decoded image. */
static int load_segments(struct aspace *as, const struct exec_file *f,
			 const struct elf_image *img, uint8_t *chunk, struct mem_exec_reply *rp)
{
	int err = 0;

	for (unsigned i = 0; i < img->nsegs && !err; i++)
		err = load_segment(as, f, &img->segs[i], chunk, rp);
	return err;
}

/*
 * Step 4 for a dynamic executable (exe has a PT_INTERP): its path read
 * from exe's file, the interpreter opened with the same credentials,
 * decoded as ELF_INTERP into *in and loaded. Its open errors are its own
 * (-ENOENT, -EACCES, ...); a file that is no interpreter we run
 * -ELIBBAD, as Linux; a PT_INTERP path not NUL-terminated or relative,
 * or an executable reaching into the interpreter's pages, -ENOEXEC.
 */
static int load_interp(struct aspace *as, const struct exec_file *exe,
		       const struct elf_image *img, const struct fs_cred *cred,
		       struct exec_work *w, uint8_t *chunk, struct mem_exec_reply *rp)
{
	struct exec_file f;
	int err = read_exact(exe, img->interp_offset, w->interp_path, img->interp_size);

	if (err)
		return err;
	if (w->interp_path[img->interp_size - 1] != '\0' || w->interp_path[0] != '/')
		return -ENOEXEC;
	err = exec_open(exe->fs, w->interp_path, cred, &f);
	if (err)
		return err;
	err = decode_image(&f, ELF_INTERP, &w->interp, chunk);
	if (err == -ENOEXEC)
		err = -ELIBBAD;
	else if (!err && w->interp.start < page_up(img->end) &&
		 img->start < page_up(w->interp.end))
		err = -ENOEXEC;
	if (!err)
		err = load_segments(as, &f, &w->interp, chunk, rp);
	exec_close(&f);
	return err;
}

/* Steps 2 to 4: the executable (and its interpreter) loaded into as. */
static int load_images(struct aspace *as, const struct exec_files *fs,
		       const struct mem_exec_req *rq, struct exec_work *w, uint8_t *chunk,
		       struct mem_exec_reply *rp)
{
	struct exec_file f;
	int err = exec_open(fs, rq->path, &rq->cred, &f);

	if (err)
		return err;
	err = decode_image(&f, ELF_MAIN, &w->exe, chunk);
	if (!err)
		err = load_segments(as, &f, &w->exe, chunk, rp);
	if (!err && w->exe.interp_size)
		err = load_interp(as, &f, &w->exe, &rq->cred, w, chunk, rp);
	exec_close(&f);
	return err;
}

/* Step 5: heap, stack VMA and the initial stack; *sp set. base is the
 * interpreter's load address (AT_BASE; 0: none). */
static int make_stack(struct memserv *ms, struct aspace *as, const struct mem_exec_req *rq,
		      const struct elf_image *img, uint64_t base, uint64_t *sp,
		      struct mem_exec_reply *rp)
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
		.base = base,
		.uid = rq->cred.uid,
		.euid = rq->cred.uid,
		.gid = rq->cred.gid,
		.egid = rq->cred.gid,
	};
	uint64_t stack_base = MEM_STACK_TOP - EXEC_STACK_BUF, low;
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
		err = copy_to_pages(as, low, buf + (low - stack_base), MEM_STACK_TOP - low);
		add_fresh(rp, MEM_STACK_TOP - MEM_STACK_SIZE, low, MEM_PROT_READ | MEM_PROT_WRITE);
	}
	kfree(buf);
	return err;
}

int exec_build(struct memserv *ms, uint16_t node, const struct mem_exec_req *rq,
	       const struct exec_files *fs, struct mem_exec_reply *rp)
{
	struct aspace *as = aspace_create(&ms->frames, ms->self);
	uint8_t *chunk = kmalloc(EXEC_CHUNK);
	struct exec_work *w = kmalloc(sizeof(*w));
	bool dynamic = false;
	uint64_t sp = 0;
	int err = -ENOMEM;

	memset(rp, 0, sizeof(*rp));
	if (as && chunk && w) {
		as->nmemory = rq->nmemory;
		memcpy(as->memory, rq->memory, sizeof(as->memory));
		err = load_images(as, fs, rq, w, chunk, rp);
		dynamic = !err && w->exe.interp_size;
		if (!err)
			err = make_stack(ms, as, rq, &w->exe, dynamic ? w->interp.bias : 0, &sp, rp);
	}
	kfree(chunk);
	if (!err) {
		rp->entry = dynamic ? w->interp.entry : w->exe.entry;
		rp->sp = sp;
		rp->brk = as->brk;
		rp->frames = as->frames;
		err = memserv_install(ms, node, rq->pid, as);
	}
	kfree(w);
	if (err && as)
		aspace_destroy(as);
	if (!err)
		memserv_count(&ms->stats.execs, 1);
	return err;
}

/* ---- the files: the storage node's file service ------------------------------------ */

struct fs_files {
	uint16_t server;
	const struct fs_cred *cred;
};

static int fs_open(void *ctx, const char *path, uint64_t *size, uint64_t *ino)
{
	struct fs_files *fs = ctx;
	struct fs_attr attr;
	int err = fsc_stat(fs->server, fs->cred, path, 0, FS_MAY_EXEC, &attr);

	if (err)
		return err;
	if ((attr.mode & FS_S_IFMT) != FS_S_IFREG)
		return -EACCES; /* as execve(2) for a directory or a device */
	*size = attr.size;
	*ino = attr.ino;
	return 0;
}

static long fs_read(void *ctx, const char *path, uint64_t offset, void *buf, size_t len)
{
	struct fs_files *fs = ctx;

	return fsc_read(fs->server, fs->cred, path, offset, buf, len);
}

RPC_HANDLER(MEM_EXEC, struct mem_exec_req, struct mem_exec_reply)
{
	struct memserv *ms = memserv_of(ctx->rn);
	struct fs_files fs;
	struct exec_files files = {.open = fs_open, .read = fs_read, .ctx = &fs};
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
	files.lazy = memserv_bcache(ms) != NULL; /* memfile.c reads through it */
	files.cache = rq->memory[0];		 /* or the vNode's cache node's */
	return exec_build(ms, ctx->src_node, rq, &files, rp);
}

/* ---- the self tests' files: images in memory ---------------------------------------- */

struct mem_files {
	const struct memserv_test_file *files;
	unsigned n;
};

static const struct memserv_test_file *mem_find(void *ctx, const char *path)
{
	struct mem_files *m = ctx;

	for (unsigned i = 0; i < m->n; i++)
		if (!strcmp(m->files[i].path, path))
			return &m->files[i];
	return NULL;
}

static int mem_open(void *ctx, const char *path, uint64_t *size, uint64_t *ino)
{
	const struct memserv_test_file *f = mem_find(ctx, path);

	if (!f)
		return -ENOENT;
	*size = f->size;
	*ino = 0;
	return 0;
}

static long mem_read(void *ctx, const char *path, uint64_t offset, void *buf, size_t len)
{
	const struct memserv_test_file *f = mem_find(ctx, path);

	if (!f)
		return -ENOENT;
	if (offset >= f->size)
		return 0;
	if (len > f->size - offset)
		len = f->size - offset;
	memcpy(buf, (const uint8_t *)f->data + offset, len);
	return (long)len;
}

int memserv_test_exec_files(struct memserv *ms, uint16_t node, const struct mem_exec_req *rq,
			    const struct memserv_test_file *files, unsigned n,
			    struct mem_exec_reply *rp)
{
	struct mem_files m = {.files = files, .n = n};
	struct exec_files fs = {.open = mem_open, .read = mem_read, .ctx = &m};
	int err = exec_decode(rq, ms->self);

	return err ? err : exec_build(ms, node, rq, &fs, rp);
}

int memserv_test_exec(struct memserv *ms, uint16_t node, const struct mem_exec_req *rq,
		      const void *file, size_t size, struct mem_exec_reply *rp)
{
	struct memserv_test_file f = {.path = rq->path, .data = file, .size = size};

	return memserv_test_exec_files(ms, node, rq, &f, 1, rp);
}
