/*
 * Process-information system calls (pcomponent/sysproc.h), with Linux's
 * numbers, structures and errors.
 *
 * Choices written down here:
 *  - Limits are recorded per process (fork copies them, execve keeps
 *    them) and reported back, but only RLIMIT_NOFILE is a real limit (the
 *    fd table has FD_MAX slots: a higher one is EPERM, as Linux's
 *    nr_open); the others are not enforced.
 *  - No CPU time is accounted per process yet: getrusage's and times'
 *    times are 0 (times' return value, the clock ticks since boot, is
 *    right: 100 per second, AT_CLKTCK).
 *  - sysinfo: uptime since boot, loads 0 (no load average is kept), RAM
 *    the frames of the vNode's memory nodes (sysproc_memory), no swap,
 *    procs the processes of this processor.
 *  - Affinity: the mask of this node's online CPUs; sched_setaffinity
 *    accepts a mask holding at least one of them and pins nothing.
 *  - prctl: PR_SET_NAME / PR_GET_NAME only (per thread: the first
 *    thread's name is the process's); everything else EINVAL.
 *  - set_robust_list records the list; a leaving thread's is walked by
 *    futex_exit_robust (process.c's thread exit).
 *  - Credentials: the set*id and group calls decode their arguments
 *    (uid_t: the low 32 bits; (uid_t)-1 keeps an id) and apply one of
 *    cred.h's rules to the process's ids under its threads lock, so all
 *    its threads share them (libc's per-thread set*id broadcast only
 *    repeats the change). setgroups takes at most CRED_NGROUPS (32)
 *    groups (Linux: 65536): more is EINVAL, after the privilege check.
 *  - membarrier: the common commands are accepted and return at once;
 *    the process's threads on other CPUs are not sent an IPI (x86's
 *    ordering and the scheduler's locks at each switch are all they
 *    get), enough for what musl and glibc use it for (nothing in a
 *    static program's common paths).
 */
#include "sysproc.h"

#include "exec.h"
#include "file.h"
#include "process.h"

#include <kernel/config.h>
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/status.h>
#include <kernel/time.h>
#include <kernel/uspace.h>
#include <lib/string.h>
#include <net/rpc.h>
#include <proto/mem.h>
#include <proto/msg.h>

#define STATS_TIMEOUT_NS (2 * NS_PER_S)
#define CLOCK_TICKS	 100 /* per second: AT_CLKTCK, times() */
#define RLIMIT_NOFILE	 7
#define RUSAGE_SELF	 0
#define RUSAGE_CHILDREN	 (-1)
#define RUSAGE_THREAD	 1
#define PR_SET_NAME	 15
#define PR_GET_NAME	 16
#define ROBUST_LIST_HEAD 24 /* sizeof(struct robust_list_head) */

#define MEMBARRIER_CMD_QUERY			  0
#define MEMBARRIER_CMD_GLOBAL			  (1 << 0)
#define MEMBARRIER_CMD_GLOBAL_EXPEDITED		  (1 << 1)
#define MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED  (1 << 2)
#define MEMBARRIER_CMD_PRIVATE_EXPEDITED	  (1 << 3)
#define MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED (1 << 4)
#define MEMBARRIER_SUPPORTED                                                             \
	(MEMBARRIER_CMD_GLOBAL | MEMBARRIER_CMD_GLOBAL_EXPEDITED |                       \
	 MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED | MEMBARRIER_CMD_PRIVATE_EXPEDITED |   \
	 MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)

/* struct sysinfo, x86-64 (112 bytes). */
struct k_sysinfo {
	int64_t uptime;
	uint64_t loads[3];
	uint64_t totalram, freeram, sharedram, bufferram, totalswap, freeswap;
	uint16_t procs, pad;
	uint32_t pad2;
	uint64_t totalhigh, freehigh;
	uint32_t mem_unit;
	uint32_t pad3;
};
_Static_assert(sizeof(struct k_sysinfo) == 112, "struct sysinfo size");

#define RUSAGE_SIZE 144

/* ---- node facts -------------------------------------------------------------------- */

void sysproc_memory(uint64_t *total, uint64_t *free)
{
	struct rpc_node *rn = status_rpc();

	*total = *free = 0;
	for (unsigned i = 0; rn && i < kconfig.nmemories; i++) {
		struct mem_pid_req rq = {0};
		struct mem_stats st;

		if (rpc_call(rn, kconfig.memory_ids[i], MSG_MEM_STATS, &rq, sizeof(rq), &st,
			     sizeof(st), STATS_TIMEOUT_NS))
			continue;
		if (st.frames_free > st.frames_total)
			continue; /* decode: nonsense from the node */
		*total += st.frames_total * MEM_PAGE_SIZE;
		*free += st.frames_free * MEM_PAGE_SIZE;
	}
}

uint64_t sysproc_cpu_mask(void)
{
	uint64_t mask = 0;

	for (unsigned i = 0; i < cpu_count && i < MAX_CPUS; i++)
		if (cpus[i].online)
			mask |= 1ull << i;
	return mask;
}

/* ---- execve -------------------------------------------------------------------------- */

long sys_execve(struct process *p, const uint64_t *a)
{
	return exec_execve(p, AT_FDCWD, a[0], a[1], a[2], 0);
}

/* execveat(dirfd, path, argv, envp, flags) */
long sys_execveat(struct process *p, const uint64_t *a)
{
	return exec_execve(p, (int)a[0], a[1], a[2], a[3], (int)a[4]);
}

/* ---- limits -------------------------------------------------------------------------- */

/* Checks and records lim for resource r of p. */
static int rlimit_set(struct process *p, unsigned r, const struct process_rlimit *lim)
{
	if (lim->cur > lim->max)
		return -EINVAL;
	if (r == RLIMIT_NOFILE && lim->max > FD_MAX)
		return -EPERM;
	p->info.rlim[r] = *lim;
	return 0;
}

long sys_getrlimit(struct process *p, const uint64_t *a)
{
	if (a[0] >= PROCESS_RLIMITS)
		return -EINVAL;
	return copy_to_user(a[1], &p->info.rlim[a[0]], sizeof(struct process_rlimit));
}

long sys_setrlimit(struct process *p, const uint64_t *a)
{
	struct process_rlimit lim;

	if (a[0] >= PROCESS_RLIMITS)
		return -EINVAL;
	if (copy_from_user(&lim, a[1], sizeof(lim)))
		return -EFAULT;
	return rlimit_set(p, (unsigned)a[0], &lim);
}

/* prlimit64(pid, resource, new, old): another process's limits can be
 * read (from its snapshot), not changed. */
long sys_prlimit64(struct process *p, const uint64_t *a)
{
	uint32_t pid = (uint32_t)a[0];
	struct process_rlimit lim, old;
	struct process_snap *snap;
	unsigned r = (unsigned)a[1];

	if (a[1] >= PROCESS_RLIMITS)
		return -EINVAL;
	if ((int32_t)pid < 0)
		return -ESRCH;
	if (a[2] && copy_from_user(&lim, a[2], sizeof(lim)))
		return -EFAULT;
	if (pid == 0 || pid == p->pid) {
		old = p->info.rlim[r];
		if (a[2]) {
			int err = rlimit_set(p, r, &lim);

			if (err)
				return err;
		}
	} else {
		snap = kmalloc(sizeof(*snap));
		if (!snap)
			return -ENOMEM;
		if (process_snapshot(pid, snap)) {
			kfree(snap);
			return -ESRCH;
		}
		old = snap->info.rlim[r];
		kfree(snap);
		if (a[2])
			return -EPERM;
	}
	return a[3] ? copy_to_user(a[3], &old, sizeof(old)) : 0;
}

/* ---- usage and time ---------------------------------------------------------------- */

long sys_getrusage(struct process *p, const uint64_t *a)
{
	uint8_t ru[RUSAGE_SIZE];
	int32_t who = (int32_t)a[0];

	if (who != RUSAGE_SELF && who != RUSAGE_CHILDREN && who != RUSAGE_THREAD)
		return -EINVAL;
	memset(ru, 0, sizeof(ru));
	return copy_to_user(a[1], ru, sizeof(ru));
}

long sys_times(struct process *p, const uint64_t *a)
{
	uint64_t tms[4] = {0}; /* utime, stime, cutime, cstime */

	if (a[0] && copy_to_user(a[0], tms, sizeof(tms)))
		return -EFAULT;
	return (long)(clock_ns() / (NS_PER_S / CLOCK_TICKS));
}

long sys_sysinfo(struct process *p, const uint64_t *a)
{
	struct k_sysinfo si;
	uint64_t started;
	unsigned running;

	memset(&si, 0, sizeof(si));
	si.uptime = (int64_t)(clock_ns() / NS_PER_S);
	sysproc_memory(&si.totalram, &si.freeram);
	process_counts(&running, &started);
	si.procs = (uint16_t)running;
	si.mem_unit = 1;
	return copy_to_user(a[0], &si, sizeof(si));
}

/* ---- scheduling ---------------------------------------------------------------------- */

/* pid 0 or a process of this processor: 0, else -ESRCH. */
static int pid_check(struct process *p, uint64_t pid)
{
	struct process_snap *snap;
	int err;

	if (pid == 0 || pid == p->pid)
		return 0;
	if ((int32_t)pid < 0)
		return -EINVAL;
	snap = kmalloc(sizeof(*snap));
	if (!snap)
		return -ENOMEM;
	err = process_snapshot((uint32_t)pid, snap);
	kfree(snap);
	return err;
}

long sys_sched_getscheduler(struct process *p, const uint64_t *a)
{
	int err = pid_check(p, a[0]);

	return err ? err : 0; /* SCHED_OTHER */
}

long sys_sched_getparam(struct process *p, const uint64_t *a)
{
	int32_t prio = 0;
	int err = pid_check(p, a[0]);

	if (err)
		return err;
	return copy_to_user(a[1], &prio, sizeof(prio));
}

/* sched_getaffinity(pid, len, mask): len must hold a whole number of
 * longs covering MAX_CPUS; returns the bytes written (Linux's). */
long sys_sched_getaffinity(struct process *p, const uint64_t *a)
{
	uint64_t mask = sysproc_cpu_mask();
	int err = pid_check(p, a[0]);

	if (err)
		return err;
	if (a[1] < sizeof(mask) || (a[1] & (sizeof(mask) - 1)))
		return -EINVAL;
	if (copy_to_user(a[2], &mask, sizeof(mask)))
		return -EFAULT;
	return sizeof(mask);
}

long sys_sched_setaffinity(struct process *p, const uint64_t *a)
{
	uint64_t mask = 0;
	int err = pid_check(p, a[0]);

	if (err)
		return err;
	if (copy_from_user(&mask, a[2], a[1] < sizeof(mask) ? a[1] : sizeof(mask)))
		return -EFAULT;
	return mask & sysproc_cpu_mask() ? 0 : -EINVAL;
}

long sys_getcpu(struct process *p, const uint64_t *a)
{
	uint32_t cpu = this_cpu()->id, node = 0;

	if (a[0] && copy_to_user(a[0], &cpu, sizeof(cpu)))
		return -EFAULT;
	if (a[1] && copy_to_user(a[1], &node, sizeof(node)))
		return -EFAULT;
	return 0;
}

long sys_membarrier(struct process *p, const uint64_t *a)
{
	if (a[1])
		return -EINVAL; /* flags: MEMBARRIER_CMD_FLAG_CPU only with rseq */
	if (a[0] == MEMBARRIER_CMD_QUERY)
		return MEMBARRIER_SUPPORTED;
	if (a[0] & ~(uint64_t)MEMBARRIER_SUPPORTED || (a[0] & (a[0] - 1)))
		return -EINVAL; /* one command at a time */
	return 0;
}

/* ---- names and robust lists ------------------------------------------------------- */

/* The calling thread's name: the first thread's is the process's (what
 * /proc/PID/comm shows, as Linux's thread group leader's), another's its
 * own once it set one. */
static void thread_name_set(struct process *p, const char *name)
{
	struct pthread_info *self = process_self(p);

	spin_lock(&p->tlock);
	if (self->tid == p->pid) {
		memset(p->info.comm, 0, sizeof(p->info.comm));
		strlcpy(p->info.comm, name, sizeof(p->info.comm));
	} else {
		memset(self->comm, 0, sizeof(self->comm));
		strlcpy(self->comm, name, sizeof(self->comm));
	}
	spin_unlock(&p->tlock);
}

static void thread_name_get(struct process *p, char name[PROCESS_COMM_LEN])
{
	struct pthread_info *self = process_self(p);

	spin_lock(&p->tlock);
	memcpy(name, self->comm[0] ? self->comm : p->info.comm, PROCESS_COMM_LEN);
	spin_unlock(&p->tlock);
}

long sys_prctl(struct process *p, const uint64_t *a)
{
	char name[PROCESS_COMM_LEN];

	switch (a[0]) {
	case PR_SET_NAME: {
		/* Linux copies at most 15 bytes and cuts there */
		long n = strncpy_from_user(name, a[1], sizeof(name));

		if (n == -EFAULT)
			return -EFAULT;
		if (n == -ENAMETOOLONG) { /* no NUL in 16 bytes: take 15 */
			if (copy_from_user(name, a[1], sizeof(name) - 1))
				return -EFAULT;
		}
		name[sizeof(name) - 1] = '\0';
		thread_name_set(p, name);
		return 0;
	}
	case PR_GET_NAME:
		thread_name_get(p, name);
		return copy_to_user(a[1], name, sizeof(name));
	default:
		return -EINVAL;
	}
}

long sys_set_robust_list(struct process *p, const uint64_t *a)
{
	if (a[1] != ROBUST_LIST_HEAD)
		return -EINVAL;
	process_self(p)->robust_list = a[0];
	process_self(p)->robust_len = a[1];
	return 0;
}

/* get_robust_list(pid, head_ptr, len_ptr): the calling thread's only. */
long sys_get_robust_list(struct process *p, const uint64_t *a)
{
	struct pthread_info *self = process_self(p);

	if (a[0] && a[0] != self->tid)
		return -ESRCH;
	if (copy_to_user(a[2], &self->robust_len, sizeof(uint64_t)))
		return -EFAULT;
	return copy_to_user(a[1], &self->robust_list, sizeof(uint64_t));
}

/* ---- credentials ------------------------------------------------------------------- */

long sys_getuid(struct process *p, const uint64_t *a)
{
	struct cred c;

	process_cred(p, &c);
	return c.uid;
}

long sys_geteuid(struct process *p, const uint64_t *a)
{
	struct cred c;

	process_cred(p, &c);
	return c.euid;
}

long sys_getgid(struct process *p, const uint64_t *a)
{
	struct cred c;

	process_cred(p, &c);
	return c.gid;
}

long sys_getegid(struct process *p, const uint64_t *a)
{
	struct cred c;

	process_cred(p, &c);
	return c.egid;
}

/* The cred.c rules as process_cred_change takes them (ids: the
 * arguments in order). */
static long rule_setuid(struct cred *c, const uint32_t *ids)
{
	return cred_setuid(c, ids[0]);
}

static long rule_setgid(struct cred *c, const uint32_t *ids)
{
	return cred_setgid(c, ids[0]);
}

static long rule_setreuid(struct cred *c, const uint32_t *ids)
{
	return cred_setreuid(c, ids[0], ids[1]);
}

static long rule_setregid(struct cred *c, const uint32_t *ids)
{
	return cred_setregid(c, ids[0], ids[1]);
}

static long rule_setresuid(struct cred *c, const uint32_t *ids)
{
	return cred_setresuid(c, ids[0], ids[1], ids[2]);
}

static long rule_setresgid(struct cred *c, const uint32_t *ids)
{
	return cred_setresgid(c, ids[0], ids[1], ids[2]);
}

static long rule_setfsuid(struct cred *c, const uint32_t *ids)
{
	return cred_setfsuid(c, ids[0]);
}

static long rule_setfsgid(struct cred *c, const uint32_t *ids)
{
	return cred_setfsgid(c, ids[0]);
}

/* ids[0]: the count, then the groups */
static long rule_setgroups(struct cred *c, const uint32_t *ids)
{
	return cred_setgroups(c, ids + 1, ids[0]);
}

/* The set*id calls: up to three uid_t arguments (the low 32 bits, as
 * Linux's uid_t parameters), then the rule. */
static long set_ids(struct process *p, const uint64_t *a, unsigned n,
		    long (*rule)(struct cred *c, const uint32_t *ids))
{
	uint32_t ids[3];

	for (unsigned i = 0; i < n; i++)
		ids[i] = (uint32_t)a[i];
	return process_cred_change(p, rule, ids);
}

long sys_setuid(struct process *p, const uint64_t *a)
{
	return set_ids(p, a, 1, rule_setuid);
}

long sys_setgid(struct process *p, const uint64_t *a)
{
	return set_ids(p, a, 1, rule_setgid);
}

long sys_setreuid(struct process *p, const uint64_t *a)
{
	return set_ids(p, a, 2, rule_setreuid);
}

long sys_setregid(struct process *p, const uint64_t *a)
{
	return set_ids(p, a, 2, rule_setregid);
}

long sys_setresuid(struct process *p, const uint64_t *a)
{
	return set_ids(p, a, 3, rule_setresuid);
}

long sys_setresgid(struct process *p, const uint64_t *a)
{
	return set_ids(p, a, 3, rule_setresgid);
}

long sys_setfsuid(struct process *p, const uint64_t *a)
{
	return set_ids(p, a, 1, rule_setfsuid);
}

long sys_setfsgid(struct process *p, const uint64_t *a)
{
	return set_ids(p, a, 1, rule_setfsgid);
}

/* getresuid/getresgid(r, e, s): the three ids to user memory. */
static long get_res(uint64_t ur, uint64_t ue, uint64_t us, uint32_t r, uint32_t e, uint32_t s)
{
	if (copy_to_user(ur, &r, sizeof(r)) || copy_to_user(ue, &e, sizeof(e)) ||
	    copy_to_user(us, &s, sizeof(s)))
		return -EFAULT;
	return 0;
}

long sys_getresuid(struct process *p, const uint64_t *a)
{
	struct cred c;

	process_cred(p, &c);
	return get_res(a[0], a[1], a[2], c.uid, c.euid, c.suid);
}

long sys_getresgid(struct process *p, const uint64_t *a)
{
	struct cred c;

	process_cred(p, &c);
	return get_res(a[0], a[1], a[2], c.gid, c.egid, c.sgid);
}

/* getgroups(size, list): size 0 asks for the count only */
long sys_getgroups(struct process *p, const uint64_t *a)
{
	int32_t size = (int32_t)a[0];
	struct cred c;

	if (size < 0)
		return -EINVAL;
	process_cred(p, &c);
	if (!size)
		return c.ngroups;
	if ((uint32_t)size < c.ngroups)
		return -EINVAL;
	if (copy_to_user(a[1], c.groups, c.ngroups * sizeof(c.groups[0])))
		return -EFAULT;
	return c.ngroups;
}

/* setgroups(size, list): more than CRED_NGROUPS is EINVAL (Linux's
 * NGROUPS_MAX is 65536), after the privilege check, as Linux orders
 * them */
long sys_setgroups(struct process *p, const uint64_t *a)
{
	uint32_t ids[1 + CRED_NGROUPS];
	uint32_t n = (uint32_t)a[0]; /* a negative int: huge, EINVAL */

	ids[0] = n;
	if (n <= CRED_NGROUPS && n && copy_from_user(ids + 1, a[1], n * sizeof(ids[1])))
		return -EFAULT;
	return process_cred_change(p, rule_setgroups, ids);
}
