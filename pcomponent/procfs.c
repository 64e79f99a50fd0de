/*
 * /proc and /sys of the processor (pcomponent/procfs.h). Nothing yet:
 * every name is missing.
 */
#include "procfs.h"

#include <kernel/errno.h>

int procfs_open(struct process *p, const char *path, unsigned flags, struct file **out)
{
	return -ENOENT;
}

long procfs_readlink(struct process *p, const char *path, char *buf, size_t cap)
{
	return -ENOENT;
}
