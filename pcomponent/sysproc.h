/*
 * The process-information system calls of the processor (pcomponent/
 * sysproc.c): execve, limits, usage, affinity, names, and the node facts
 * sysinfo and /proc share. syscall.c's table points at the handlers.
 */
#ifndef PCOMPONENT_SYSPROC_H
#define PCOMPONENT_SYSPROC_H

#include <stdint.h>

struct process;

long sys_execve(struct process *p, const uint64_t *a);
long sys_execveat(struct process *p, const uint64_t *a);
long sys_getrlimit(struct process *p, const uint64_t *a);
long sys_getrusage(struct process *p, const uint64_t *a);
long sys_sysinfo(struct process *p, const uint64_t *a);
long sys_times(struct process *p, const uint64_t *a);
long sys_sched_getparam(struct process *p, const uint64_t *a);
long sys_sched_getscheduler(struct process *p, const uint64_t *a);
long sys_prctl(struct process *p, const uint64_t *a);
long sys_setrlimit(struct process *p, const uint64_t *a);
long sys_sched_setaffinity(struct process *p, const uint64_t *a);
long sys_sched_getaffinity(struct process *p, const uint64_t *a);
long sys_set_robust_list(struct process *p, const uint64_t *a);
long sys_get_robust_list(struct process *p, const uint64_t *a);
long sys_prlimit64(struct process *p, const uint64_t *a);
long sys_getcpu(struct process *p, const uint64_t *a);
long sys_membarrier(struct process *p, const uint64_t *a);

/* Credentials (the rules: cred.h). */
long sys_getuid(struct process *p, const uint64_t *a);
long sys_geteuid(struct process *p, const uint64_t *a);
long sys_getgid(struct process *p, const uint64_t *a);
long sys_getegid(struct process *p, const uint64_t *a);
long sys_setuid(struct process *p, const uint64_t *a);
long sys_setgid(struct process *p, const uint64_t *a);
long sys_setreuid(struct process *p, const uint64_t *a);
long sys_setregid(struct process *p, const uint64_t *a);
long sys_setresuid(struct process *p, const uint64_t *a);
long sys_setresgid(struct process *p, const uint64_t *a);
long sys_getresuid(struct process *p, const uint64_t *a);
long sys_getresgid(struct process *p, const uint64_t *a);
long sys_setfsuid(struct process *p, const uint64_t *a);
long sys_setfsgid(struct process *p, const uint64_t *a);
long sys_getgroups(struct process *p, const uint64_t *a);
long sys_setgroups(struct process *p, const uint64_t *a);

/*
 * Memory of the vNode, for sysinfo and /proc/meminfo: the frames of its
 * memory nodes (kconfig's memory=, MEM_STATS with pid 0 to each), in
 * bytes. Nodes that do not answer count as nothing. Sleeps.
 */
void sysproc_memory(uint64_t *total, uint64_t *free);

/* Online CPUs of this node as a mask (bit i: cpus[i]). */
uint64_t sysproc_cpu_mask(void);

#endif
