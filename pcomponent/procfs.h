/*
 * /proc and /sys of the processor (pcomponent/procfs.c): read-only text
 * files made when they are opened (a snapshot: reads see what was true
 * at the open), and the symbolic links /proc/self/exe, /proc/self/cwd,
 * /proc/self/fd/N ("self" or p's pid). file.c's open, stat and readlink
 * send every path under "/proc" and "/sys" here.
 */
#ifndef PCOMPONENT_PROCFS_H
#define PCOMPONENT_PROCFS_H

#include <stddef.h>

struct file;
struct process;

/* Opens path (absolute, normalised, under /proc or /sys) for p, read
 * only (-EACCES for a write; -EISDIR for O_WRONLY on a directory);
 * -ENOENT for names it does not have. A link is followed. */
int procfs_open(struct process *p, const char *path, unsigned flags, struct file **out);
/* The text of the link path into buf (cap bytes, NUL-ended); its length,
 * -EINVAL if path is not a link, -ENOENT if it does not exist. */
long procfs_readlink(struct process *p, const char *path, char *buf, size_t cap);

#endif
