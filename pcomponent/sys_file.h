/*
 * The file system calls of the processor (pcomponent/sys_file.c), for
 * syscall.c's table. Each is a syscall_fn (syscall.h): the calling
 * process and the six arguments, the result or a negative errno.
 */
#ifndef PCOMPONENT_SYS_FILE_H
#define PCOMPONENT_SYS_FILE_H

#include "syscall.h"

#define SYS_FILE_CALLS(X)                                                                \
	X(read) X(write) X(open) X(close) X(stat) X(fstat) X(lstat) X(lseek) X(ioctl)    \
	X(pread64) X(pwrite64) X(readv) X(writev) X(access) X(dup) X(dup2) X(sendfile)  \
	X(fcntl) X(flock) X(fsync) X(fdatasync) X(truncate) X(ftruncate) X(getcwd) X(chdir)       \
	X(fchdir) X(rename) X(mkdir) X(rmdir) X(creat) X(link) X(unlink) X(symlink)      \
	X(readlink) X(chmod) X(fchmod) X(chown) X(fchown) X(lchown) X(umask) X(utime)    \
	X(statfs) X(fstatfs) X(sync) X(getdents) X(getdents64) X(utimes) X(openat)       \
	X(mkdirat) X(fchownat) X(newfstatat) X(unlinkat) X(renameat) X(linkat)           \
	X(symlinkat) X(readlinkat) X(fchmodat) X(faccessat) X(utimensat) X(dup3)         \
	X(preadv) X(pwritev) X(renameat2) X(statx) X(close_range) X(faccessat2)

#define SYS_FILE_DECLARE(name) long sys_##name(struct process *p, const uint64_t *a);
SYS_FILE_CALLS(SYS_FILE_DECLARE)
#undef SYS_FILE_DECLARE

#endif
