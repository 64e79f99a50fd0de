/*
 * checkpoint_process (LegoOS's call 666, pcomponent/checkpoint.h): the
 * calling process's image, written as an ELF core file, so that the state
 * of a program on a vNode can be looked at on the host (`gdb PROG core`,
 * `readelf -n`) or kept beside the results of a run.
 *
 * The file is "core.PID" in the process's working directory on the
 * storage node (made or truncated, mode 0600, with the process's
 * credentials), as Linux names core files with core_pattern core.%p:
 *
 *   ELF header     ET_CORE, x86-64
 *   program headers  one PT_NOTE, then one PT_LOAD per mapping (the
 *                  home's VMAs, MEM_MAPS, the pieces of a mapping in
 *                  consecutive vRegions kept apart)
 *   notes          NT_PRSTATUS (the calling thread's registers at the
 *                  system call, its pid, ppid, process group, session,
 *                  blocked signals), NT_PRPSINFO (state, name, command
 *                  line, ids)
 *   segments       each readable mapping's bytes, page aligned; pages the
 *                  process cannot read (a file mapping past its end) as
 *                  zeros; a mapping without PROT_READ has no bytes
 *                  (p_filesz 0), as in Linux's core files
 *
 * The bytes are read as the process itself would read them
 * (copy_from_user: through the ExCache, from the memory nodes), so the
 * file is what the process saw at the call. Only the caller (pid 0 or its
 * own) can be checkpointed: another process's memory is not reachable
 * from here (EPERM); only the calling thread's registers are written. A
 * checkpoint cannot be restored yet: that waits for recovery.
 */
#include "checkpoint.h"

#include "file.h"
#include "process.h"
#include "signal.h"

#include <arch/trap.h>

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/uspace.h>
#include <lib/printf.h>
#include <lib/string.h>
#include <proto/msg.h>

#define CORE_CHUNK (64u << 10) /* bytes of a mapping read at a time */
#define CORE_PAGE  MEM_PAGE_SIZE
#define CORE_NOTE_NAME "CORE"

/* ELF's values (the ELF and System V ABI specifications). */
#define ET_CORE	    4
#define EM_X86_64   62
#define PT_LOAD	    1
#define PT_NOTE	    4
#define PF_X	    1
#define PF_W	    2
#define PF_R	    4
#define NT_PRSTATUS 1
#define NT_PRPSINFO 3

struct elf64_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
_Static_assert(sizeof(struct elf64_ehdr) == 64, "Elf64_Ehdr");

struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
_Static_assert(sizeof(struct elf64_phdr) == 56, "Elf64_Phdr");

struct elf64_nhdr {
	uint32_t namesz, descsz, type;
};

/* Linux's x86-64 struct elf_prstatus; pr_reg is struct user_regs_struct. */
struct core_prstatus {
	int32_t si_signo, si_code, si_errno;
	int16_t cursig, pad0;
	uint64_t sigpend, sighold;
	int32_t pid, ppid, pgrp, sid;
	uint64_t times[8]; /* utime, stime, cutime, cstime: all 0 (no accounting) */
	uint64_t reg[27];
	int32_t fpvalid, pad1;
};
_Static_assert(sizeof(struct core_prstatus) == 336, "elf_prstatus");

/* Linux's x86-64 struct elf_prpsinfo. */
struct core_prpsinfo {
	char state, sname, zomb, nice;
	uint32_t pad0;
	uint64_t flag;
	uint32_t uid, gid;
	int32_t pid, ppid, pgrp, sid;
	char fname[16];
	char psargs[80];
};
_Static_assert(sizeof(struct core_prpsinfo) == 136, "elf_prpsinfo");

/* A note as the file holds it: header, "CORE\0" padded to 8, desc (a
 * multiple of 4 bytes here, as notes are aligned). */
#define NOTE_SIZE(desc)	 (sizeof(struct elf64_nhdr) + 8 + (desc))
#define CORE_NOTES_SIZE	 (NOTE_SIZE(sizeof(struct core_prstatus)) + \
			  NOTE_SIZE(sizeof(struct core_prpsinfo)))

/* The mappings to write: the home's VMAs, at most CORE_MAX_MAPS. */
#define CORE_MAX_MAPS 512

struct core_map {
	uint64_t start, end;
	uint32_t prot;
};

struct core {
	struct process *p;
	struct file *f;
	uint64_t pos;
	struct core_map *maps;
	unsigned nmaps;
	uint8_t *buf; /* CORE_CHUNK bytes */
};

/* ---- what to write ---------------------------------------------------------------- */

/* process_maps_each's callback: one more of c->maps. */
static int core_add_map(void *ctx, const struct mem_maps *rp, const struct mem_map_entry *e)
{
	struct core *c = ctx;

	(void)rp;
	if (c->nmaps == CORE_MAX_MAPS)
		return -E2BIG;
	c->maps[c->nmaps++] = (struct core_map){e->start, e->end, e->prot};
	return 0;
}

/* c->maps from the home's VMAs, in address order (of the space the
 * process uses: a vfork child's is its parent's). */
static int core_collect_maps(struct core *c)
{
	struct process *mm = process_mm(c->p);

	return process_maps_each(mm->home, mm->pid, core_add_map, c);
}

static uint32_t core_pflags(uint32_t prot)
{
	return (prot & MEM_PROT_READ ? PF_R : 0) | (prot & MEM_PROT_WRITE ? PF_W : 0) |
	       (prot & MEM_PROT_EXEC ? PF_X : 0);
}

/* The bytes of map in the file: all of it if readable, else none. */
static uint64_t core_filesz(const struct core_map *m)
{
	return m->prot & MEM_PROT_READ ? m->end - m->start : 0;
}

static void core_fill_status(const struct process_snap *sn, const struct trap_frame *tf,
			     int64_t sysno, uint64_t blocked, struct core_prstatus *st)
{
	const uint64_t r[27] = {
		tf->r15, tf->r14, tf->r13, tf->r12, tf->rbp, tf->rbx, tf->r11, tf->r10, tf->r9,
		tf->r8,	 tf->rax, tf->rcx, tf->rdx, tf->rsi, tf->rdi, (uint64_t)sysno /* orig_rax */,
		tf->rip, tf->cs, tf->rflags, tf->rsp, tf->ss, user_fs_base(),
	}; /* gs_base, ds, es, fs, gs: 0 */

	st->pid = (int32_t)sn->pid;
	st->ppid = (int32_t)sn->ppid;
	st->pgrp = (int32_t)sn->pgid;
	st->sid = (int32_t)sn->sid;
	st->sighold = blocked;
	memcpy(st->reg, r, sizeof(r));
}

static void core_fill_info(const struct process_snap *sn, struct core_prpsinfo *in)
{
	size_t n = sn->info.cmdline_len;

	in->sname = 'R';
	in->uid = sn->cred.uid;
	in->gid = sn->cred.gid;
	in->pid = (int32_t)sn->pid;
	in->ppid = (int32_t)sn->ppid;
	in->pgrp = (int32_t)sn->pgid;
	in->sid = (int32_t)sn->sid;
	strlcpy(in->fname, sn->info.comm, sizeof(in->fname));
	if (n > sizeof(in->psargs) - 1)
		n = sizeof(in->psargs) - 1;
	memcpy(in->psargs, sn->info.cmdline, n);
	for (size_t i = 0; i < n; i++)
		if (!in->psargs[i])
			in->psargs[i] = ' '; /* argv's NULs, as Linux shows them */
}

/* Appends a note (type, desc of len bytes) to buf at *off. */
static void core_note(uint8_t *buf, size_t *off, uint32_t type, const void *desc, size_t len)
{
	const struct elf64_nhdr h = {.namesz = sizeof(CORE_NOTE_NAME), .descsz = (uint32_t)len,
				     .type = type};
	const char name[8] = CORE_NOTE_NAME;

	memcpy(buf + *off, &h, sizeof(h));
	memcpy(buf + *off + sizeof(h), name, sizeof(name));
	memcpy(buf + *off + sizeof(h) + sizeof(name), desc, len);
	*off += NOTE_SIZE(len);
}

/* The two notes into buf (CORE_NOTES_SIZE bytes). */
static int core_make_notes(struct core *c, const struct trap_frame *tf, uint8_t *buf)
{
	struct process_snap *sn = kmalloc(sizeof(*sn));
	struct core_prstatus st = {0};
	struct core_prpsinfo in = {0};
	size_t off = 0;
	int err = sn ? process_snapshot(c->p->pid, sn) : -ENOMEM;

	if (!err) {
		core_fill_status(sn, tf, process_self(c->p)->sysno, signal_blocked(c->p), &st);
		core_fill_info(sn, &in);
		core_note(buf, &off, NT_PRSTATUS, &st, sizeof(st));
		core_note(buf, &off, NT_PRPSINFO, &in, sizeof(in));
	}
	kfree(sn);
	return err;
}

/* ---- writing ---------------------------------------------------------------------- */

static int core_write(struct core *c, const void *kb, size_t len)
{
	long r = file_write_kernel(c->f, kb, len, &c->pos);

	return r < 0 ? (int)r : (size_t)r == len ? 0 : -EIO;
}

/* Zeros up to the next multiple of CORE_PAGE. */
static int core_pad(struct core *c)
{
	size_t n = (size_t)(-c->pos % CORE_PAGE);

	memset(c->buf, 0, n);
	return n ? core_write(c, c->buf, n) : 0;
}

/* The header, the program headers and the notes; segments start at the
 * next page, one after the other. */
static int core_write_headers(struct core *c, const struct trap_frame *tf)
{
	size_t phsize = (1 + c->nmaps) * sizeof(struct elf64_phdr);
	uint64_t notes_at = sizeof(struct elf64_ehdr) + phsize;
	uint64_t data_at = (notes_at + CORE_NOTES_SIZE + CORE_PAGE - 1) &
			   ~(uint64_t)(CORE_PAGE - 1);
	struct elf64_ehdr eh = {
		.ident = {0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* LSB */, 1 /* current */},
		.type = ET_CORE,
		.machine = EM_X86_64,
		.version = 1,
		.phoff = sizeof(struct elf64_ehdr),
		.ehsize = sizeof(struct elf64_ehdr),
		.phentsize = sizeof(struct elf64_phdr),
		.phnum = (uint16_t)(1 + c->nmaps),
	};
	struct elf64_phdr *ph = kzalloc(phsize);
	uint8_t *notes = kzalloc(CORE_NOTES_SIZE);
	int err = ph && notes ? 0 : -ENOMEM;

	if (!err)
		err = core_make_notes(c, tf, notes);
	if (!err) {
		ph[0] = (struct elf64_phdr){.type = PT_NOTE, .offset = notes_at,
					    .filesz = CORE_NOTES_SIZE, .align = 4};
		for (unsigned i = 0; i < c->nmaps; i++) {
			const struct core_map *m = &c->maps[i];

			ph[1 + i] = (struct elf64_phdr){
				.type = PT_LOAD, .flags = core_pflags(m->prot), .offset = data_at,
				.vaddr = m->start, .filesz = core_filesz(m),
				.memsz = m->end - m->start, .align = CORE_PAGE};
			data_at += core_filesz(m);
		}
		err = core_write(c, &eh, sizeof(eh)) ?: core_write(c, ph, phsize)
						     ?: core_write(c, notes, CORE_NOTES_SIZE);
	}
	kfree(ph);
	kfree(notes);
	return err;
}

/* n bytes of user memory at va into c->buf; a page the process cannot
 * read gives zeros. */
static void core_read_user(struct core *c, uint64_t va, size_t n)
{
	if (!copy_from_user(c->buf, va, n))
		return;
	for (size_t off = 0; off < n; off += CORE_PAGE)
		if (copy_from_user(c->buf + off, va + off, CORE_PAGE))
			memset(c->buf + off, 0, CORE_PAGE);
}

static int core_write_segments(struct core *c)
{
	int err = core_pad(c);

	for (unsigned i = 0; !err && i < c->nmaps; i++) {
		const struct core_map *m = &c->maps[i];

		for (uint64_t va = m->start; !err && va < m->start + core_filesz(m);
		     va += CORE_CHUNK) {
			size_t n = m->end - va < CORE_CHUNK ? (size_t)(m->end - va) : CORE_CHUNK;

			core_read_user(c, va, n);
			err = core_write(c, c->buf, n);
		}
	}
	return err;
}

/* ---- the system call ---------------------------------------------------------------- */

/* The calling process's core file, opened for writing (truncated). */
static int core_open(struct process *p, struct file **out)
{
	char name[24];

	snprintf(name, sizeof(name), "core.%u", p->pid);
	return file_open(p, AT_FDCWD, name, O_WRONLY | O_CREAT | O_TRUNC, 0600, out);
}

long sys_checkpoint_process(struct process *p, const uint64_t *a)
{
	struct pthread_info *self = process_self(p);
	struct core c = {.p = p};
	int err;

	if ((uint32_t)a[0] != 0 && (uint32_t)a[0] != p->pid)
		return -EPERM; /* another process's memory is not ours to read */
	c.maps = kmalloc(CORE_MAX_MAPS * sizeof(*c.maps));
	c.buf = kmalloc(CORE_CHUNK);
	err = c.maps && c.buf ? 0 : -ENOMEM;
	if (!err)
		err = core_collect_maps(&c);
	if (!err)
		err = core_open(p, &c.f);
	if (!err) {
		err = core_write_headers(&c, self->tf) ?: core_write_segments(&c);
		file_put(c.f);
	}
	kfree(c.buf);
	kfree(c.maps);
	return err;
}
