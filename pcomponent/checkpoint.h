/*
 * checkpoint_process (pcomponent/checkpoint.c): LegoOS's system call 666,
 * served at LegoOS's number: the calling process's image as an ELF core
 * file, core.PID in its working directory.
 */
#ifndef PCOMPONENT_CHECKPOINT_H
#define PCOMPONENT_CHECKPOINT_H

#include <stdint.h>

struct process;

/* checkpoint_process(pid): pid 0 or the caller's. Returns 0, -EPERM
 * (another process), -ENOMEM, -E2BIG (more than 512 mappings), the file
 * layer's errors (-EACCES, -ENOSPC, ...) or the home's. */
long sys_checkpoint_process(struct process *p, const uint64_t *a);

#endif
