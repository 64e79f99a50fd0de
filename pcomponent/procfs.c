/*
 * /proc and /sys of the processor (pcomponent/procfs.h).
 *
 * Nothing is kept between opens: an open parses the path, makes the
 * whole text of a file (or the entry list of a directory) into a
 * kmalloc'd buffer, and the file reads from that snapshot until it is
 * closed. Two file kinds, both read only: text (read, stat as a regular
 * file of size 0, as Linux's /proc says) and directory (getdents64 over
 * the list; "." and ".." first). Links are not files: readlink gives
 * their text and open follows them (file_open of the target; an fd's
 * link without a path, a pipe, opens the same open file).
 *
 * The tree:
 *   /proc                   self, the pids of this processor's processes,
 *                           the node files below, sys
 *   /proc/self              link to the caller's pid
 *   /proc/PID/              exe and cwd links, fd/ (the caller's own
 *                           process only: another process's fd table may
 *                           go away under us; EACCES), cmdline, comm,
 *                           stat (Linux's 52 fields: the ones ps reads are
 *                           real, the CPU times 0: no accounting yet),
 *                           status, mounts
 *   /proc/meminfo           the vNode's memory nodes' frames (MEM_STATS,
 *                           sysproc_memory): MemTotal, MemFree, and
 *                           MemAvailable = MemFree
 *   /proc/cpuinfo           one block per online CPU of this node, vendor
 *                           and model name from CPUID
 *   /proc/uptime, loadavg   seconds since boot (idle 0); loads 0 (none
 *                           kept), running/total processes, the last pid
 *   /proc/mounts            the storage node's ext2 as /, proc, sysfs
 *   /proc/version, filesystems, sys/kernel/{ostype,osrelease,hostname,
 *                           pid_max}
 *   /sys/devices/system/cpu/{online,possible,present}  "0-N"
 *   /proc/PID/maps          the home's VMAs (MEM_MAPS): ranges, rights,
 *                           the executable's path on its segments, [heap],
 *                           [stack]; offsets, devices and inodes 0
 *   /proc/PID/task/         one directory per thread (its tid), ascending
 *   /proc/PID/task/TID/     the pid directory's files but task/, for the
 *                           process, except that stat's and status's pid
 *                           is TID (the name, state and the rest are the
 *                           process's: threads have no name of their own
 *                           here, and every one shows R)
 * Another process's facts come from process_snapshot (copied under the
 * table lock); inode numbers are a hash of the path.
 */
#include "procfs.h"

#include "file.h"
#include "process.h"
#include "sysproc.h"

#include <arch/cpu.h>
#include <kernel/config.h>
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/time.h>
#include <kernel/uspace.h>
#include <lib/printf.h>
#include <lib/string.h>
#include <proto/msg.h>
#include <stdarg.h>

#define PFS_NAME_MAX   24
#define CLOCK_TICKS    100 /* per second: AT_CLKTCK */
#define PFS_TEXT_FIRST 1024
#define MAPS_NAME_COLUMN 73 /* where Linux starts a maps line's path */

/* ---- text buffers ------------------------------------------------------------------ */

struct pfs_text {
	char *buf; /* kmalloc'd; NULL until the first byte */
	size_t len, cap;
	bool oom; /* a growth failed: the open answers ENOMEM */
};

static void pt_grow(struct pfs_text *t, size_t need)
{
	size_t cap = t->cap ? t->cap : PFS_TEXT_FIRST;
	char *nb;

	while (cap < need)
		cap *= 2;
	nb = kmalloc(cap);
	if (!nb) {
		t->oom = true;
		return;
	}
	if (t->len)
		memcpy(nb, t->buf, t->len);
	kfree(t->buf);
	t->buf = nb;
	t->cap = cap;
}

static void pt_bytes(struct pfs_text *t, const void *src, size_t n)
{
	if (t->oom)
		return;
	if (t->len + n > t->cap)
		pt_grow(t, t->len + n);
	if (t->oom)
		return;
	memcpy(t->buf + t->len, src, n);
	t->len += n;
}

__attribute__((format(printf, 2, 3))) static void pt_printf(struct pfs_text *t,
							     const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		pt_bytes(t, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* ---- directory lists ------------------------------------------------------------------ */

struct pfs_dirent {
	char name[PFS_NAME_MAX];
	uint8_t type; /* FS_DT_* */
	uint64_t ino;
};

struct pfs_dir {
	unsigned n, cap;
	struct pfs_dirent *e; /* kmalloc'd */
	bool oom;
};

static uint64_t pfs_ino(const char *dir, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (const char *c = dir; *c; c++)
		h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
	if (name) {
		h = (h ^ '/') * 0x100000001b3ull;
		for (const char *c = name; *c; c++)
			h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
	}
	return (h & 0x7fffffffffffull) | 1; /* never 0: readdir skips those */
}

static void pd_add(struct pfs_dir *d, const char *dir, const char *name, uint8_t type)
{
	if (d->oom)
		return;
	if (d->n == d->cap) {
		unsigned cap = d->cap ? d->cap * 2 : 32;
		struct pfs_dirent *ne = kmalloc(sizeof(*ne) * cap);

		if (!ne) {
			d->oom = true;
			return;
		}
		if (d->n)
			memcpy(ne, d->e, sizeof(*ne) * d->n);
		kfree(d->e);
		d->e = ne;
		d->cap = cap;
	}
	strlcpy(d->e[d->n].name, name, PFS_NAME_MAX);
	d->e[d->n].type = type;
	d->e[d->n].ino = pfs_ino(dir, name);
	d->n++;
}

/* ---- the tree ---------------------------------------------------------------------- */

enum pfs_kind { PFS_DIR, PFS_TEXT, PFS_LINK };

struct pfs_ctx {
	struct process *caller;
	const struct process_snap *snap; /* per-pid nodes: the process's */
	uint32_t tid;			 /* under /proc/PID/task/TID: TID; else 0 */
};

typedef void (*pfs_gen)(const struct pfs_ctx *c, struct pfs_text *t);

/* A node of the fixed part of the tree (full path) or of a pid's
 * directory (name under /proc/PID). */
struct pfs_node {
	const char *name;
	enum pfs_kind kind;
	pfs_gen gen; /* PFS_TEXT */
};

/* ---- node files ---- */

static void gen_meminfo(const struct pfs_ctx *c, struct pfs_text *t)
{
	uint64_t total, free;

	sysproc_memory(&total, &free);
	pt_printf(t, "MemTotal:       %8llu kB\n", (unsigned long long)(total >> 10));
	pt_printf(t, "MemFree:        %8llu kB\n", (unsigned long long)(free >> 10));
	pt_printf(t, "MemAvailable:   %8llu kB\n", (unsigned long long)(free >> 10));
	pt_printf(t, "Buffers:        %8u kB\nCached:         %8u kB\n", 0, 0);
	pt_printf(t, "SwapTotal:      %8u kB\nSwapFree:       %8u kB\n", 0, 0);
}

/* The 48-byte brand string of CPUID 0x80000002..4, trimmed. */
static void cpu_model(char *out, size_t cap)
{
	uint32_t r[12], max, d;

	cpuid(0x80000000, 0, &max, &d, &d, &d);
	if (max < 0x80000004) {
		strlcpy(out, "unknown", cap);
		return;
	}
	for (uint32_t i = 0; i < 3; i++)
		cpuid(0x80000002 + i, 0, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2],
		      &r[4 * i + 3]);
	memcpy(out, r, cap < 48 ? cap : 48);
	out[cap < 49 ? cap - 1 : 48] = '\0';
	while (*out == ' ')
		memmove(out, out + 1, strlen(out));
}

static void gen_cpuinfo(const struct pfs_ctx *c, struct pfs_text *t)
{
	uint32_t v[4], a, b, cc, d;
	char vendor[13], model[49];

	cpuid(0, 0, &v[0], &v[1], &v[2], &v[3]);
	memcpy(vendor, &v[1], 4);
	memcpy(vendor + 4, &v[3], 4);
	memcpy(vendor + 8, &v[2], 4);
	vendor[12] = '\0';
	cpuid(1, 0, &a, &b, &cc, &d);
	cpu_model(model, sizeof(model));
	for (unsigned i = 0; i < cpu_count && i < MAX_CPUS; i++) {
		if (!cpus[i].online)
			continue;
		pt_printf(t, "processor\t: %u\nvendor_id\t: %s\n", i, vendor);
		pt_printf(t, "cpu family\t: %u\nmodel\t\t: %u\nmodel name\t: %s\n",
			  ((a >> 8) & 0xf) + ((a >> 20) & 0xff), ((a >> 4) & 0xf) | ((a >> 12) & 0xf0),
			  model);
		pt_printf(t, "stepping\t: %u\napicid\t\t: %u\nfpu\t\t: yes\n\n", a & 0xf,
			  cpus[i].apic_id);
	}
}

static void gen_uptime(const struct pfs_ctx *c, struct pfs_text *t)
{
	uint64_t cs = clock_ns() / (NS_PER_S / 100);

	pt_printf(t, "%llu.%02llu 0.00\n", (unsigned long long)(cs / 100),
		  (unsigned long long)(cs % 100));
}

static void gen_loadavg(const struct pfs_ctx *c, struct pfs_text *t)
{
	unsigned running;
	uint64_t started;

	process_counts(&running, &started);
	pt_printf(t, "0.00 0.00 0.00 %u/%u %llu\n", running ? 1 : 0, running,
		  (unsigned long long)started); /* pids count from 1, never reused */
}

static void gen_mounts(const struct pfs_ctx *c, struct pfs_text *t)
{
	pt_printf(t, "storage%u / ext2 rw 0 0\n", kconfig.storage_id);
	pt_printf(t, "proc /proc proc rw 0 0\nsysfs /sys sysfs ro 0 0\n");
}

static void gen_version(const struct pfs_ctx *c, struct pfs_text *t)
{
	pt_printf(t, "Tessera version 6.1.0-tessera-" TESSERA_VERSION
		     " (#1 Tessera splitkernel)\n");
}

static void gen_filesystems(const struct pfs_ctx *c, struct pfs_text *t)
{
	pt_printf(t, "nodev\tproc\nnodev\tsysfs\n\text2\n");
}

static void gen_ostype(const struct pfs_ctx *c, struct pfs_text *t)
{
	pt_printf(t, "Tessera\n");
}

static void gen_osrelease(const struct pfs_ctx *c, struct pfs_text *t)
{
	pt_printf(t, "6.1.0-tessera-" TESSERA_VERSION "\n");
}

static void gen_hostname(const struct pfs_ctx *c, struct pfs_text *t)
{
	pt_printf(t, "%s\n", kconfig.name);
}

static void gen_pid_max(const struct pfs_ctx *c, struct pfs_text *t)
{
	pt_printf(t, "4194304\n");
}

/* "0-N" of the CPUs in mask (contiguous from 0 on this machine). */
static void gen_cpu_range(struct pfs_text *t, uint64_t mask)
{
	unsigned top = 0;

	for (unsigned i = 0; i < 64; i++)
		if (mask & (1ull << i))
			top = i;
	if (top)
		pt_printf(t, "0-%u\n", top);
	else
		pt_printf(t, "0\n");
}

static void gen_cpu_online(const struct pfs_ctx *c, struct pfs_text *t)
{
	gen_cpu_range(t, sysproc_cpu_mask());
}

static void gen_cpu_possible(const struct pfs_ctx *c, struct pfs_text *t)
{
	unsigned n = cpu_count < MAX_CPUS ? cpu_count : MAX_CPUS;

	gen_cpu_range(t, n ? (n >= 64 ? ~0ull : (1ull << n) - 1) : 1);
}

static const struct pfs_node fixed_nodes[] = {
	{"/proc", PFS_DIR, NULL},
	{"/proc/meminfo", PFS_TEXT, gen_meminfo},
	{"/proc/cpuinfo", PFS_TEXT, gen_cpuinfo},
	{"/proc/uptime", PFS_TEXT, gen_uptime},
	{"/proc/loadavg", PFS_TEXT, gen_loadavg},
	{"/proc/mounts", PFS_TEXT, gen_mounts},
	{"/proc/version", PFS_TEXT, gen_version},
	{"/proc/filesystems", PFS_TEXT, gen_filesystems},
	{"/proc/sys", PFS_DIR, NULL},
	{"/proc/sys/kernel", PFS_DIR, NULL},
	{"/proc/sys/kernel/ostype", PFS_TEXT, gen_ostype},
	{"/proc/sys/kernel/osrelease", PFS_TEXT, gen_osrelease},
	{"/proc/sys/kernel/hostname", PFS_TEXT, gen_hostname},
	{"/proc/sys/kernel/pid_max", PFS_TEXT, gen_pid_max},
	{"/sys", PFS_DIR, NULL},
	{"/sys/devices", PFS_DIR, NULL},
	{"/sys/devices/system", PFS_DIR, NULL},
	{"/sys/devices/system/cpu", PFS_DIR, NULL},
	{"/sys/devices/system/cpu/online", PFS_TEXT, gen_cpu_online},
	{"/sys/devices/system/cpu/possible", PFS_TEXT, gen_cpu_possible},
	{"/sys/devices/system/cpu/present", PFS_TEXT, gen_cpu_possible},
};
#define NFIXED (sizeof(fixed_nodes) / sizeof(fixed_nodes[0]))

/* ---- per-process files ---- */

static char state_letter(const struct process_snap *s)
{
	return s->state == PROCESS_ZOMBIE ? 'Z' : 'R';
}

/* The thread count shown: a zombie, with none left, shows 1, as Linux. */
static unsigned snap_threads(const struct process_snap *s)
{
	return s->nthreads ? s->nthreads : 1;
}

static void gen_cmdline(const struct pfs_ctx *c, struct pfs_text *t)
{
	pt_bytes(t, c->snap->info.cmdline, c->snap->info.cmdline_len);
}

/* The pid a per-process file shows: a thread's tid in its task/ entry. */
static uint32_t ctx_pid(const struct pfs_ctx *c)
{
	return c->tid ? c->tid : c->snap->pid;
}

/* The name under /proc/PID (the process's) or /proc/PID/task/TID (the
 * thread's own if it set one, else the process's). */
static const char *ctx_comm(const struct pfs_ctx *c)
{
	for (unsigned i = 0; c->tid && i < c->snap->nthreads && i < PROCESS_MAX_THREADS; i++)
		if (c->snap->tids[i] == c->tid && c->snap->thread_comm[i][0])
			return c->snap->thread_comm[i];
	return c->snap->info.comm;
}

static void gen_comm(const struct pfs_ctx *c, struct pfs_text *t)
{
	pt_printf(t, "%s\n", ctx_comm(c));
}

/* Linux's /proc/PID/stat: 52 fields (proc(5)). */
static void gen_stat(const struct pfs_ctx *c, struct pfs_text *t)
{
	const struct process_snap *s = c->snap;
	uint64_t start = s->info.start_ns / (NS_PER_S / CLOCK_TICKS);

	pt_printf(t, "%u (%s) %c %u %u %u 0 -1 4194560 0 0 0 0 ", ctx_pid(c), ctx_comm(c),
		  state_letter(s), s->ppid, s->pgid, s->sid);
	/* utime stime cutime cstime priority nice num_threads itrealvalue */
	pt_printf(t, "0 0 0 0 20 0 %u 0 %llu ", snap_threads(s),
		  (unsigned long long)start);
	/* vsize rss rsslim startcode endcode startstack kstkesp kstkeip */
	pt_printf(t, "%llu 0 18446744073709551615 0 0 0 0 0 ",
		  (unsigned long long)(s->brk - s->brk_start));
	/* signal blocked sigignore sigcatch wchan nswap cnswap exit_signal
	 * processor rt_priority policy delayacct guest cguest */
	pt_printf(t, "0 0 0 0 0 0 0 17 0 0 0 0 0 0 ");
	/* start_data end_data start_brk arg_start arg_end env_start env_end
	 * exit_code */
	pt_printf(t, "0 0 %llu 0 0 0 0 0\n", (unsigned long long)s->brk_start);
}

static void gen_status(const struct pfs_ctx *c, struct pfs_text *t)
{
	const struct process_snap *s = c->snap;
	bool self = s->pid == c->caller->pid;

	pt_printf(t, "Name:\t%s\n", ctx_comm(c));
	if (self)
		pt_printf(t, "Umask:\t%04o\n", c->caller->fs.umask);
	pt_printf(t, "State:\t%c (%s)\n", state_letter(s),
		  s->state == PROCESS_ZOMBIE ? "zombie" : "running");
	pt_printf(t, "Tgid:\t%u\nNgid:\t0\nPid:\t%u\nPPid:\t%u\nTracerPid:\t0\n", s->pid,
		  ctx_pid(c), s->ppid);
	pt_printf(t, "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t%u\nGroups:\t\n", FD_MAX);
	pt_printf(t, "NSpid:\t%u\nNSpgid:\t%u\nNSsid:\t%u\n", ctx_pid(c), s->pgid, s->sid);
	pt_printf(t, "Threads:\t%u\nCpus_allowed_list:\t", snap_threads(s));
	gen_cpu_online(c, t);
}

/* One /proc/PID/maps line for [start, end) of kind with prot; a file
 * mapping (path: its file) with its offset, device (as stat(2) says it)
 * and inode. Exec maps an image's file pages as file mappings too; only
 * an eagerly loaded image (the memory node's self tests) has segments of
 * kind image, shown with the executable's path and 0 for those. */
static void maps_line(const struct pfs_ctx *c, struct pfs_text *t,
		      const struct mem_map_entry *e, const char *path)
{
	const char *name = e->kind & MEM_MAP_FILE    ? path
			   : e->kind == MEM_MAP_IMAGE ? c->snap->exe
			   : e->kind == MEM_MAP_HEAP  ? "[heap]"
			   : e->kind == MEM_MAP_STACK ? "[stack]"
						      : path; /* shared anonymous: its name */
	uint64_t dev = e->kind & MEM_MAP_FILE ? file_st_dev(path) : 0;
	size_t before = t->len;

	pt_printf(t, "%08llx-%08llx %c%c%c%c %08llx %02x:%02x %llu",
		  (unsigned long long)e->start, (unsigned long long)e->end,
		  e->prot & MEM_PROT_READ ? 'r' : '-', e->prot & MEM_PROT_WRITE ? 'w' : '-',
		  e->prot & MEM_PROT_EXEC ? 'x' : '-', e->kind & MEM_MAP_SHARED ? 's' : 'p',
		  (unsigned long long)e->offset, (unsigned)((dev >> 8) & 0xfff),
		  (unsigned)((dev & 0xff) | ((dev >> 12) & 0xfff00)),
		  (unsigned long long)e->ino);
	if (name[0])
		pt_printf(t, "%*s%s", (int)(t->len - before < MAPS_NAME_COLUMN
						  ? MAPS_NAME_COLUMN - (t->len - before) : 1),
			  "", name);
	pt_printf(t, "\n");
}

/* Whether e continues cur (the piece of one mapping in the next vRegion). */
static bool maps_continues(const struct mem_map_entry *cur, const char *cur_path,
			   const struct mem_map_entry *e, const char *path)
{
	if (cur->end != e->start || cur->prot != e->prot || cur->kind != e->kind)
		return false;
	return !(e->kind & MEM_MAP_FILE) ||
	       (e->offset == cur->offset + (cur->end - cur->start) && e->ino == cur->ino &&
		!strcmp(path, cur_path));
}

/* The path of a MEM_MAPS entry ("" if none or malformed). */
static const char *maps_path(const struct mem_maps *rp, const struct mem_map_entry *e)
{
	uint32_t len = rp->names_len < MEM_MAPS_NAMES ? rp->names_len : MEM_MAPS_NAMES;

	if (!e->name || e->name > len || !memchr(rp->names + e->name - 1, 0, len - e->name + 1))
		return "";
	return rp->names + e->name - 1;
}

/* Linux's /proc/PID/maps from the home's VMAs (MEM_MAPS), the pieces of
 * one mapping in consecutive vRegions joined again. Empty if the home
 * does not answer. */
/* gen_maps's walk: the mapping being joined, written when the next one
 * does not continue it. */
struct maps_walk {
	const struct pfs_ctx *c;
	struct pfs_text *t;
	struct mem_map_entry cur; /* end 0: none yet */
	char *cur_path;		  /* FS_PATH_MAX bytes */
};

static int maps_entry(void *ctx, const struct mem_maps *rp, const struct mem_map_entry *e)
{
	struct maps_walk *w = ctx;
	const char *path = maps_path(rp, e);

	if (maps_continues(&w->cur, w->cur_path, e, path)) {
		w->cur.end = e->end;
		return 0;
	}
	if (w->cur.end)
		maps_line(w->c, w->t, &w->cur, w->cur_path);
	w->cur = *e;
	strlcpy(w->cur_path, path, FS_PATH_MAX);
	return 0;
}

static void gen_maps(const struct pfs_ctx *c, struct pfs_text *t)
{
	struct maps_walk w = {.c = c, .t = t, .cur_path = kmalloc(FS_PATH_MAX)};
	int err = w.cur_path ? process_maps_each(c->snap->home, c->snap->mm_pid, maps_entry, &w)
			     : -ENOMEM;

	if (w.cur.end)
		maps_line(c, t, &w.cur, w.cur_path);
	if (err)
		pr_warn("procfs: maps of pid %u from node %u: %s", c->snap->pid, c->snap->home,
			errno_name(err));
	kfree(w.cur_path);
}

static const struct pfs_node pid_nodes[] = {
	{"exe", PFS_LINK, NULL},	     {"cwd", PFS_LINK, NULL},
	{"fd", PFS_DIR, NULL},		     {"cmdline", PFS_TEXT, gen_cmdline},
	{"comm", PFS_TEXT, gen_comm},	     {"stat", PFS_TEXT, gen_stat},
	{"status", PFS_TEXT, gen_status},    {"mounts", PFS_TEXT, gen_mounts},
	{"maps", PFS_TEXT, gen_maps},	     {"task", PFS_DIR, NULL},
};
#define NPID (sizeof(pid_nodes) / sizeof(pid_nodes[0]))

/* ---- lookup ------------------------------------------------------------------------ */

/* What a path names. */
struct pfs_where {
	enum pfs_kind kind;
	const struct pfs_node *node; /* fixed or pid node; NULL: /proc/PID, fd/N, self,
					task/TID */
	uint32_t pid;		     /* per-pid paths; 0 otherwise */
	uint32_t tid;		     /* under /proc/PID/task/TID: TID (the pid node
					is then the thread's); 0 otherwise */
	bool self_link;		     /* /proc/self itself */
	int fd;			     /* /proc/PID/fd/N: N; else -1 */
};

/* A decimal number of at most 9 digits ending at *end ('\0' or '/'). */
static bool parse_number(const char *s, uint32_t *out, const char **end)
{
	uint32_t v = 0;
	unsigned n = 0;

	while (s[n] >= '0' && s[n] <= '9' && n < 10)
		v = v * 10 + (uint32_t)(s[n++] - '0');
	if (!n || n > 9 || (s[n] && s[n] != '/') || (n > 1 && s[0] == '0'))
		return false;
	*out = v;
	*end = s + n;
	return true;
}

static int lookup_pid_part(const char *rest, struct pfs_where *w);

/* What follows "/proc/PID/task" (rest: "" or "/TID..."): the task
 * directory, or a thread's directory (as a pid's, without task/). Whether
 * TID is one of PID's threads is pfs_snap's to check. */
static int lookup_task_part(const char *rest, struct pfs_where *w)
{
	const char *end;

	if (w->tid)
		return -ENOENT; /* a thread's directory has no task/ */
	if (!*rest)
		return 0; /* the task directory itself */
	if (!parse_number(rest + 1, &w->tid, &end) || !w->tid)
		return -ENOENT;
	w->node = NULL;
	w->kind = PFS_DIR;
	return lookup_pid_part(end, w);
}

/* The pid directory's part of a path: rest is what follows "/proc/PID"
 * (or "/proc/PID/task/TID", w->tid set). */
static int lookup_pid_part(const char *rest, struct pfs_where *w)
{
	const char *end;
	uint32_t fd;

	if (!*rest) {
		w->kind = PFS_DIR;
		return 0;
	}
	rest++; /* the '/' */
	for (unsigned i = 0; i < NPID; i++) {
		size_t n = strlen(pid_nodes[i].name);

		if (strncmp(rest, pid_nodes[i].name, n) || (rest[n] && rest[n] != '/'))
			continue;
		w->node = &pid_nodes[i];
		w->kind = pid_nodes[i].kind;
		if (!strcmp(pid_nodes[i].name, "task"))
			return lookup_task_part(rest + n, w);
		if (!rest[n])
			return 0;
		/* only fd/ has children: fd/N */
		if (strcmp(pid_nodes[i].name, "fd") || !parse_number(rest + n + 1, &fd, &end) ||
		    *end || fd >= FD_MAX)
			return -ENOENT;
		w->node = NULL;
		w->kind = PFS_LINK;
		w->fd = (int)fd;
		return 0;
	}
	return -ENOENT;
}

/* Parses path for p; -ENOENT for names that are not there. A process
 * that exists is checked by the caller (process_snapshot). */
static int pfs_lookup(struct process *p, const char *path, struct pfs_where *w)
{
	const char *end;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	for (unsigned i = 0; i < NFIXED; i++) {
		if (!strcmp(path, fixed_nodes[i].name)) {
			w->node = &fixed_nodes[i];
			w->kind = fixed_nodes[i].kind;
			return 0;
		}
	}
	if (strncmp(path, "/proc/", 6))
		return -ENOENT;
	path += 6;
	if (!strncmp(path, "self", 4) && (!path[4] || path[4] == '/')) {
		w->pid = p->pid;
		if (!path[4]) {
			w->self_link = true;
			w->kind = PFS_LINK;
			return 0;
		}
		return lookup_pid_part(path + 4, w);
	}
	if (!parse_number(path, &w->pid, &end) || !w->pid)
		return -ENOENT;
	return lookup_pid_part(end, w);
}

/* ---- links ---------------------------------------------------------------------------- */

/* The text of the link w names into buf (cap bytes, NUL-ended); its
 * length or a negative errno. */
static long link_text(struct process *p, const struct pfs_where *w,
		      const struct process_snap *s, char *buf, size_t cap)
{
	struct file *f;
	size_t n;

	if (w->self_link) {
		n = (size_t)snprintf(buf, cap, "%u", p->pid);
	} else if (w->fd >= 0) {
		if (s->pid != p->pid)
			return -EACCES;
		f = fd_get(p->files, w->fd);
		if (!f)
			return -ENOENT;
		if (f->path)
			n = strlcpy(buf, f->path, cap);
		else /* a pipe or another file without a path */
			n = (size_t)snprintf(buf, cap, "pipe:[%llu]",
					     (unsigned long long)pfs_ino("pipe", NULL) ^
						     ((uint64_t)(uintptr_t)f >> 4));
		file_put(f);
	} else if (!strcmp(w->node->name, "exe")) {
		n = strlcpy(buf, s->exe, cap);
	} else {
		n = strlcpy(buf, s->cwd, cap);
	}
	return n >= cap ? (long)cap - 1 : (long)n;
}

/* Whether tid is one of s's threads. */
static bool snap_has_thread(const struct process_snap *s, uint32_t tid)
{
	for (unsigned i = 0; i < s->nthreads && i < PROCESS_MAX_THREADS; i++)
		if (s->tids[i] == tid)
			return true;
	return false;
}

/* The snapshot of w's process into *s (kmalloc'd), or -ENOENT (no such
 * process, or no such thread of it). */
static int pfs_snap(const struct pfs_where *w, struct process_snap **s)
{
	*s = NULL;
	if (!w->pid)
		return 0;
	*s = kmalloc(sizeof(**s));
	if (!*s)
		return -ENOMEM;
	if (process_snapshot(w->pid, *s) || (w->tid && !snap_has_thread(*s, w->tid))) {
		kfree(*s);
		*s = NULL;
		return -ENOENT;
	}
	return 0;
}

long procfs_readlink(struct process *p, const char *path, char *buf, size_t cap)
{
	struct process_snap *s;
	struct pfs_where w;
	long n;
	int err = pfs_lookup(p, path, &w);

	if (!err)
		err = pfs_snap(&w, &s);
	if (err)
		return err;
	if (w.kind != PFS_LINK)
		n = -EINVAL;
	else
		n = link_text(p, &w, s, buf, cap);
	kfree(s);
	return n;
}

/* ---- the file kinds ---------------------------------------------------------------- */

static long text_read(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos)
{
	struct pfs_text *t = f->priv;
	size_t n;

	if (*pos >= t->len)
		return 0;
	n = t->len - *pos < len ? t->len - (size_t)*pos : len;
	if (copy_to_user(ubuf, t->buf + *pos, n))
		return -EFAULT;
	*pos += n;
	return (long)n;
}

static int text_stat(struct file *f, struct fs_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->ino = pfs_ino(f->path, NULL);
	attr->mode = FS_S_IFREG | 0444;
	attr->nlink = 1;
	attr->blksize = 1024;
	return 0;
}

static void text_release(struct file *f)
{
	struct pfs_text *t = f->priv;

	kfree(t->buf);
	kfree(t);
}

static const struct file_ops pfs_text_ops = {
	.read = text_read,
	.stat = text_stat,
	.release = text_release,
};

static long dir_read(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos)
{
	return -EISDIR;
}

/* linux_dirent64: d_ino, d_off, d_reclen, d_type, then the name; the
 * record padded to 8 bytes. */
static size_t dirent_record(const struct pfs_dirent *e, uint64_t next, uint8_t *rec)
{
	size_t nlen = strlen(e->name), reclen = (19 + nlen + 1 + 7) & ~(size_t)7;
	uint16_t rl = (uint16_t)reclen;

	memset(rec, 0, reclen);
	memcpy(rec, &e->ino, 8);
	memcpy(rec + 8, &next, 8);
	memcpy(rec + 16, &rl, 2);
	rec[18] = e->type;
	memcpy(rec + 19, e->name, nlen);
	return reclen;
}

static long dir_getdents(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos)
{
	struct pfs_dir *d = f->priv;
	uint8_t rec[19 + PFS_NAME_MAX + 8];
	size_t done = 0;

	while (*pos < d->n) {
		size_t reclen = dirent_record(&d->e[*pos], *pos + 1, rec);

		if (done + reclen > len)
			break;
		if (copy_to_user(ubuf + done, rec, reclen))
			return done ? (long)done : -EFAULT;
		done += reclen;
		(*pos)++;
	}
	if (!done && *pos < d->n)
		return -EINVAL; /* not even one record fits */
	return (long)done;
}

static int dir_stat(struct file *f, struct fs_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->ino = pfs_ino(f->path, NULL);
	attr->mode = FS_S_IFDIR | 0555;
	attr->nlink = 2;
	attr->blksize = 1024;
	return 0;
}

static void dir_release(struct file *f)
{
	struct pfs_dir *d = f->priv;

	kfree(d->e);
	kfree(d);
}

static const struct file_ops pfs_dir_ops = {
	.read = dir_read,
	.getdents = dir_getdents,
	.stat = dir_stat,
	.release = dir_release,
};

/* ---- making the snapshots ------------------------------------------------------------ */

/* The entries of the fixed directory path (its fixed children). */
static void list_fixed(const char *path, struct pfs_dir *d)
{
	size_t n = strlen(path);

	for (unsigned i = 0; i < NFIXED; i++) {
		const char *name = fixed_nodes[i].name;

		if (strncmp(name, path, n) || name[n] != '/' || strchr(name + n + 1, '/'))
			continue;
		pd_add(d, path, name + n + 1,
		       fixed_nodes[i].kind == PFS_DIR ? FS_DT_DIR : FS_DT_REG);
	}
}

static void list_proc(const char *path, struct pfs_dir *d)
{
	uint32_t pids[PROCESS_MAX];
	unsigned n = process_pids(pids, PROCESS_MAX);
	char name[16];

	pd_add(d, path, "self", FS_DT_LNK);
	for (unsigned i = 0; i < n && i < PROCESS_MAX; i++) {
		snprintf(name, sizeof(name), "%u", pids[i]);
		pd_add(d, path, name, FS_DT_DIR);
	}
}

static void list_fds(struct process *p, const char *path, struct pfs_dir *d)
{
	char name[16];

	for (int fd = 0; fd < FD_MAX; fd++) {
		struct file *f = fd_get(p->files, fd);

		if (!f)
			continue;
		file_put(f);
		snprintf(name, sizeof(name), "%d", fd);
		pd_add(d, path, name, FS_DT_LNK);
	}
}

/* The task directory: one entry per thread. */
static void list_tasks(const struct process_snap *s, const char *path, struct pfs_dir *d)
{
	char name[16];

	for (unsigned i = 0; i < s->nthreads && i < PROCESS_MAX_THREADS; i++) {
		snprintf(name, sizeof(name), "%u", s->tids[i]);
		pd_add(d, path, name, FS_DT_DIR);
	}
}

/* A pid's directory, or a thread's (task: false), which has no task/. */
static void list_pid(const char *path, bool task, struct pfs_dir *d)
{
	for (unsigned i = 0; i < NPID; i++) {
		const struct pfs_node *n = &pid_nodes[i];

		if (!task && !strcmp(n->name, "task"))
			continue;
		pd_add(d, path, n->name,
		       n->kind == PFS_DIR ? FS_DT_DIR : n->kind == PFS_LINK ? FS_DT_LNK : FS_DT_REG);
	}
}

/* The directory w names, listed into d. */
static int make_dir(struct process *p, const char *path, const struct pfs_where *w,
		    const struct process_snap *s, struct pfs_dir *d)
{
	pd_add(d, path, ".", FS_DT_DIR);
	pd_add(d, path, "..", FS_DT_DIR);
	if (!w->pid) {
		list_fixed(path, d);
		if (!strcmp(path, "/proc"))
			list_proc(path, d);
	} else if (w->node && !strcmp(w->node->name, "task")) {
		list_tasks(s, path, d);
	} else if (w->node) { /* fd/ */
		if (s->pid != p->pid)
			return -EACCES; /* another fd table may go away under us */
		list_fds(p, path, d);
	} else {
		list_pid(path, !w->tid, d);
	}
	return d->oom ? -ENOMEM : 0;
}

static int open_dir(struct process *p, const char *path, const struct pfs_where *w,
		    const struct process_snap *s, unsigned flags, struct file **out)
{
	struct pfs_dir *d = kzalloc(sizeof(*d));
	int err = d ? make_dir(p, path, w, s, d) : -ENOMEM;

	if (!err) {
		*out = file_alloc(&pfs_dir_ops, flags, path, d);
		if (!*out)
			err = -ENOMEM;
	}
	if (err && d) {
		kfree(d->e);
		kfree(d);
	}
	return err;
}

static int open_text(struct process *p, const char *path, const struct pfs_where *w,
		     const struct process_snap *s, unsigned flags, struct file **out)
{
	struct pfs_ctx c = {.caller = p, .snap = s, .tid = w->tid};
	struct pfs_text *t = kzalloc(sizeof(*t));
	int err = 0;

	if (!t)
		return -ENOMEM;
	w->node->gen(&c, t);
	if (t->oom)
		err = -ENOMEM;
	if (!err) {
		*out = file_alloc(&pfs_text_ops, flags, path, t);
		if (!*out)
			err = -ENOMEM;
	}
	if (err) {
		kfree(t->buf);
		kfree(t);
	}
	return err;
}

/* Follows the link w: its target opened as any path, or, for an fd
 * without a path, the same open file. */
static int open_link(struct process *p, const struct pfs_where *w,
		     const struct process_snap *s, unsigned flags, struct file **out)
{
	char *target = kmalloc(FS_PATH_MAX);
	long n;
	int err;

	if (!target)
		return -ENOMEM;
	n = link_text(p, w, s, target, FS_PATH_MAX);
	if (n < 0) {
		err = (int)n;
	} else if (w->self_link) {
		char dir[24];

		snprintf(dir, sizeof(dir), "/proc/%s", target);
		err = procfs_open(p, dir, flags, out);
	} else if (target[0] == '/') {
		err = file_open(p, AT_FDCWD, target, flags, 0, out);
	} else {
		*out = fd_get(p->files, w->fd); /* a pipe: the same open file */
		err = *out ? 0 : -ENOENT;
	}
	kfree(target);
	return err;
}

int procfs_open(struct process *p, const char *path, unsigned flags, struct file **out)
{
	struct process_snap *s;
	struct pfs_where w;
	int err = pfs_lookup(p, path, &w);

	if (!err)
		err = pfs_snap(&w, &s);
	if (err)
		return err;
	if (w.kind == PFS_LINK) {
		err = open_link(p, &w, s, flags, out);
	} else if (w.kind == PFS_DIR) {
		err = (flags & O_ACCMODE) != O_RDONLY ? -EISDIR
						       : open_dir(p, path, &w, s, flags, out);
	} else if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC))) {
		err = -EACCES;
	} else if (flags & O_DIRECTORY) {
		err = -ENOTDIR;
	} else {
		err = open_text(p, path, &w, s, flags, out);
	}
	kfree(s);
	return err;
}

/* ---- self tests ------------------------------------------------------------------------ */

#include <kernel/ktest.h>

static bool ktest_contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (!strncmp(hay, needle, n))
			return true;
	return false;
}

/* The text of path (a text file) for p, NUL-ended in buf. */
static int ktest_text(struct process *p, const char *path, char *buf, size_t cap)
{
	struct file *f;
	struct pfs_text *t;
	int err = procfs_open(p, path, O_RDONLY, &f);

	if (err)
		return err;
	t = f->priv;
	if (f->ops != &pfs_text_ops || t->len >= cap) {
		file_put(f);
		return -EINVAL;
	}
	memcpy(buf, t->buf, t->len);
	buf[t->len] = '\0';
	file_put(f);
	return 0;
}

/* True if the directory path lists name with type. */
static bool ktest_lists(struct process *p, const char *path, const char *name, uint8_t type)
{
	struct file *f;
	struct pfs_dir *d;
	bool found = false;

	if (procfs_open(p, path, O_RDONLY | O_DIRECTORY, &f))
		return false;
	d = f->priv;
	for (unsigned i = 0; i < d->n; i++)
		found |= !strcmp(d->e[i].name, name) && d->e[i].type == type;
	file_put(f);
	return found;
}

/* /proc/PID/task of p (pidname: its pid) with a second thread in slot 1
 * (a tid no process has), which is gone again afterwards. */
static void ktest_task(struct ktest_ctx *kt, struct process *p, const char *pidname,
		       char *buf, size_t cap)
{
	uint32_t tid = p->pid + 100000;
	char path[64], want[64], tidname[16];
	struct file *f;

	spin_lock(&p->tlock);
	p->threads[1].tid = tid;
	p->nthreads++;
	spin_unlock(&p->tlock);
	snprintf(tidname, sizeof(tidname), "%u", tid);
	KT_EXPECT(ktest_lists(p, "/proc/self/task", pidname, FS_DT_DIR));
	KT_EXPECT(ktest_lists(p, "/proc/self/task", tidname, FS_DT_DIR));
	snprintf(path, sizeof(path), "/proc/self/task/%u", tid);
	KT_EXPECT(ktest_lists(p, path, "stat", FS_DT_REG));
	KT_EXPECT(!ktest_lists(p, path, "task", FS_DT_DIR)); /* none in a thread's */
	KT_EXPECT(ktest_lists(p, "/proc/self", "task", FS_DT_DIR));
	snprintf(path, sizeof(path), "/proc/self/task/%u/stat", tid);
	KT_EXPECT_EQ(ktest_text(p, path, buf, cap), 0);
	snprintf(want, sizeof(want), "%u (sh) R 0 ", tid);
	KT_EXPECT(!strncmp(buf, want, strlen(want)));
	snprintf(path, sizeof(path), "/proc/%s/task/%u/status", pidname, tid);
	KT_EXPECT_EQ(ktest_text(p, path, buf, cap), 0);
	snprintf(want, sizeof(want), "\nTgid:\t%u\nNgid:\t0\nPid:\t%u\n", p->pid, tid);
	KT_EXPECT(ktest_contains(buf, want));
	KT_EXPECT(ktest_contains(buf, "\nThreads:\t2\n"));
	snprintf(path, sizeof(path), "/proc/self/task/%u/comm", tid);
	KT_EXPECT_EQ(ktest_text(p, path, buf, cap), 0);
	KT_EXPECT(!strcmp(buf, "sh\n"));
	snprintf(path, sizeof(path), "/proc/self/task/%u/exe", tid);
	KT_EXPECT_EQ(procfs_readlink(p, path, buf, cap), 12);
	snprintf(path, sizeof(path), "/proc/self/task/%u/task", tid);
	KT_EXPECT_EQ(procfs_open(p, path, O_RDONLY, &f), -ENOENT);
	snprintf(path, sizeof(path), "/proc/self/task/%u/stat", tid + 1);
	KT_EXPECT_EQ(procfs_open(p, path, O_RDONLY, &f), -ENOENT); /* not a thread of it */
	KT_EXPECT_EQ(procfs_open(p, "/proc/self/task/x", O_RDONLY, &f), -ENOENT);

	spin_lock(&p->tlock);
	p->threads[1].tid = 0;
	p->nthreads--;
	spin_unlock(&p->tlock);
	KT_EXPECT(!ktest_lists(p, "/proc/self/task", tidname, FS_DT_DIR));
	KT_EXPECT_EQ(procfs_open(p, path, O_RDONLY, &f), -ENOENT);
}

static void ktest_exit(void *arg)
{
	process_exit(arg, PROCESS_EXITED(0));
}

KTEST(procfs_tree)
{
	static struct process_family fam;
	static char buf[1024];
	char want[64], pidname[16];
	struct process *p;
	struct thread *t;
	struct file *f;

	memset(&fam, 0, sizeof(fam));
	p = process_ktest_add(&fam, NULL);
	KT_ASSERT(p != NULL);
	fam.root_pid = p->pid;
	strlcpy(p->exe, "/bin/busybox", sizeof(p->exe));
	strlcpy(p->fs.cwd, "/tmp", sizeof(p->fs.cwd));
	strlcpy(p->info.comm, "sh", sizeof(p->info.comm));
	memcpy(p->info.cmdline, "sh\0-c\0", 6);
	p->info.cmdline_len = 6;
	snprintf(pidname, sizeof(pidname), "%u", p->pid);

	/* links */
	KT_EXPECT_EQ(procfs_readlink(p, "/proc/self", buf, sizeof(buf)), (long)strlen(pidname));
	KT_EXPECT(!strcmp(buf, pidname));
	KT_EXPECT_EQ(procfs_readlink(p, "/proc/self/exe", buf, sizeof(buf)), 12);
	KT_EXPECT(!strcmp(buf, "/bin/busybox"));
	snprintf(want, sizeof(want), "/proc/%u/cwd", p->pid);
	KT_EXPECT_EQ(procfs_readlink(p, want, buf, sizeof(buf)), 4);
	KT_EXPECT(!strcmp(buf, "/tmp"));
	KT_EXPECT_EQ(procfs_readlink(p, "/proc/self/exe", buf, 5), 4); /* truncated */
	KT_EXPECT(!strcmp(buf, "/bin"));
	KT_EXPECT_EQ(procfs_readlink(p, "/proc/meminfo", buf, sizeof(buf)), -EINVAL);
	KT_EXPECT_EQ(procfs_readlink(p, "/proc/nothing", buf, sizeof(buf)), -ENOENT);
	KT_EXPECT_EQ(procfs_readlink(p, "/proc/999999/exe", buf, sizeof(buf)), -ENOENT);
	KT_EXPECT_EQ(procfs_readlink(p, "/proc/01/exe", buf, sizeof(buf)), -ENOENT);

	/* per-process text */
	KT_EXPECT_EQ(ktest_text(p, "/proc/self/stat", buf, sizeof(buf)), 0);
	snprintf(want, sizeof(want), "%u (sh) R 0 %u %u 0 -1 ", p->pid, p->pgid, p->sid);
	KT_EXPECT(!strncmp(buf, want, strlen(want)));
	{
		unsigned fields = 1;

		for (char *c = buf; *c; c++)
			fields += *c == ' ';
		KT_EXPECT_EQ(fields, 52);
	}
	KT_EXPECT_EQ(ktest_text(p, "/proc/self/status", buf, sizeof(buf)), 0);
	KT_EXPECT(!strncmp(buf, "Name:\tsh\n", 9));
	snprintf(want, sizeof(want), "\nPid:\t%u\nPPid:\t0\n", p->pid);
	KT_EXPECT(ktest_contains(buf, want));
	KT_EXPECT_EQ(ktest_text(p, "/proc/self/cmdline", buf, sizeof(buf)), 0);
	KT_EXPECT(!strcmp(buf, "sh") && !strcmp(buf + 3, "-c"));
	KT_EXPECT_EQ(ktest_text(p, "/proc/self/comm", buf, sizeof(buf)), 0);
	KT_EXPECT(!strcmp(buf, "sh\n"));

	/* threads: a second one, in a slot of its own for the test */
	ktest_task(kt, p, pidname, buf, sizeof(buf));

	/* node text */
	KT_EXPECT_EQ(ktest_text(p, "/sys/devices/system/cpu/online", buf, sizeof(buf)), 0);
	if (cpus_online() > 1)
		snprintf(want, sizeof(want), "0-%u\n", cpus_online() - 1);
	else
		strlcpy(want, "0\n", sizeof(want));
	KT_EXPECT(!strcmp(buf, want));
	KT_EXPECT_EQ(ktest_text(p, "/proc/cpuinfo", buf, sizeof(buf)), 0);
	KT_EXPECT(!strncmp(buf, "processor\t: 0\nvendor_id\t: ", 26));
	KT_EXPECT_EQ(ktest_text(p, "/proc/mounts", buf, sizeof(buf)), 0);
	KT_EXPECT(ktest_contains(buf, " / ext2 rw 0 0\n"));
	KT_EXPECT_EQ(ktest_text(p, "/proc/sys/kernel/ostype", buf, sizeof(buf)), 0);
	KT_EXPECT(!strcmp(buf, "Tessera\n"));

	/* directories */
	KT_EXPECT(ktest_lists(p, "/proc", pidname, FS_DT_DIR));
	KT_EXPECT(ktest_lists(p, "/proc", "self", FS_DT_LNK));
	KT_EXPECT(ktest_lists(p, "/proc", "meminfo", FS_DT_REG));
	KT_EXPECT(ktest_lists(p, "/proc", "sys", FS_DT_DIR));
	KT_EXPECT(!ktest_lists(p, "/proc", "kernel", FS_DT_DIR)); /* a grandchild */
	KT_EXPECT(ktest_lists(p, "/proc/self", "exe", FS_DT_LNK)); /* self followed */
	KT_EXPECT(ktest_lists(p, "/sys/devices/system/cpu", "online", FS_DT_REG));
	KT_EXPECT(ktest_lists(p, "/sys", "..", FS_DT_DIR));

	/* refusals */
	KT_EXPECT_EQ(procfs_open(p, "/proc/meminfo", O_WRONLY, &f), -EACCES);
	KT_EXPECT_EQ(procfs_open(p, "/proc", O_RDWR, &f), -EISDIR);
	KT_EXPECT_EQ(procfs_open(p, "/proc/uptime", O_RDONLY | O_DIRECTORY, &f), -ENOTDIR);
	KT_EXPECT_EQ(procfs_open(p, "/proc/self/nothing", O_RDONLY, &f), -ENOENT);
	KT_EXPECT_EQ(procfs_open(p, "/proc/self/fd/x", O_RDONLY, &f), -ENOENT);
	KT_EXPECT_EQ(procfs_open(p, "/sys/nothing", O_RDONLY, &f), -ENOENT);

	t = thread_create("procfs-ktest", ktest_exit, p, false);
	KT_ASSERT(t != NULL);
	process_family_wait(&fam);
	thread_join(t);
	/* gone: its pid is no longer found */
	p = kzalloc(sizeof(*p)); /* a caller that is not in the table */
	KT_ASSERT(p != NULL);
	snprintf(want, sizeof(want), "/proc/%s/exe", pidname);
	KT_EXPECT_EQ(procfs_readlink(p, want, buf, sizeof(buf)), -ENOENT);
	KT_EXPECT(!ktest_lists(p, "/proc", pidname, FS_DT_DIR));
	kfree(p);
}
