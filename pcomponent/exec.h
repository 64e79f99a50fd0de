/*
 * Program images of the processor's processes (pcomponent/exec.c): the
 * first image of a process `run` starts, and execve/execveat, which
 * replace the image of a running process in place (same pid, home,
 * family, fd table minus its close-on-exec fds).
 */
#ifndef PCOMPONENT_EXEC_H
#define PCOMPONENT_EXEC_H

#include <stdint.h>

struct process;

/*
 * The first image of p (a process `run` starts: pid, home and family
 * set, no uspace yet): MEM_EXEC of path (absolute) with argv[0..argc)
 * and the default environment on p's home; sets p->entry, sp, brk,
 * p->exe (path with its symbolic links followed) and p->info (name,
 * command line, start time, default limits). Returns 0 or
 * the error (the home may hold a space anyway after a timeout: the
 * caller sends MEM_EXIT).
 */
int exec_start(struct process *p, const char *path, int argc, char **argv);

/*
 * execveat(dirfd, upath, uargv, uenvp, flags) for p, the calling process
 * in a syscall (p->threads[0].tf set): copies the strings from user
 * space, resolves the path ("/proc/self/exe" and other /proc links are
 * followed), asks the home for the new image, and on success makes p run
 * it: ExCache state reset, close-on-exec fds closed, handled signals
 * back to their default, the trap frame rewritten to enter the image
 * (every general register 0), FPU/SSE state clean, FS base 0. Returns
 * 0 (the syscall then "returns" into the new image) or a negative errno
 * with the old image intact: -EFAULT, -E2BIG (strings beyond
 * MEM_EXEC_STRINGS), -ENAMETOOLONG, -EINVAL (flags), -ENOENT, -EACCES,
 * -ENOEXEC, -ENOMEM, or the home's error. A MEM_EXEC that timed out may
 * have replaced the image on the home: the process is killed (SIGKILL),
 * as Linux kills a process whose exec fails past the point of no return.
 * Sleeps.
 */
long exec_execve(struct process *p, int dirfd, uint64_t upath, uint64_t uargv, uint64_t uenvp,
		 int flags);

/* Linux's default limits for a process `run` starts (exec_start). */
void exec_default_rlimits(struct process *p);

#endif
