/*
 * Block devices for the host tests and fuzzers of the storage code
 * (struct blkdev of include/kernel/blkdev.h).
 *
 * fileblk_open: an image file, read and written with pread/pwrite, flush
 * is fsync. memblk_init: a byte array in memory (the fuzzer's disk), flush
 * does nothing. Both check every request as the contract says (range and
 * size: -EINVAL; writes to a read-only device: -EROFS), count what they
 * did, and can be told to fail: after fail_after more requests succeed,
 * every later one fails with -EIO (fail_after < 0: never).
 */
#ifndef UNIT_FILEBLK_H
#define UNIT_FILEBLK_H

#include <kernel/blkdev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fileblk {
	struct blkdev bd; /* first: &fb->bd is what the file system gets */
	int fd;		  /* the image file, or -1 */
	uint8_t *mem;	  /* memblk: the disk */
	long fail_after;  /* requests until failures start; < 0: never */
	unsigned long reads, writes, flushes, batches, max_batch_seen;
	unsigned long scattered; /* requests with segs */
	unsigned long write_sectors;
};

/* Opens path as a device (max_batch 16, max_sectors 256). Returns 0 or
 * -errno. */
int fileblk_open(struct fileblk *fb, const char *path, bool read_only);
void fileblk_close(struct fileblk *fb);

/* A device over mem[0..size) (size: a multiple of 512). */
void memblk_init(struct fileblk *fb, uint8_t *mem, size_t size, bool read_only);

#endif
