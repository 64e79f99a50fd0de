/*
 * kmalloc, kzalloc and kfree for kernel code compiled into the host unit
 * tests and fuzzers (scomponent/bcache.c, scomponent/ext2_*.c): the host's
 * malloc, so AddressSanitizer sees every allocation and LeakSanitizer
 * every leak. Poisoning and size classes are the kernel's business
 * (kernel/kmalloc.c) and are not modelled.
 */
#include <kernel/mm.h>
#include <stdlib.h>

void *kmalloc(size_t size)
{
	return malloc(size ? size : 1);
}

void *kzalloc(size_t size)
{
	return calloc(1, size ? size : 1);
}

void kfree(void *p)
{
	free(p);
}
