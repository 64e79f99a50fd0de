/*
 * A stand-in storage node for the memory node's self tests
 * (bcache_ktest.c, memserv_ktest.c): one file of at most FILE_CAP bytes
 * in kernel memory, inode INO, served to a buffer cache through
 * bcache_set_backend(bc, &mf_ops, &m). It counts the reads and writes it
 * serves, so a test can tell a cache hit from a miss and see what
 * reached "the disk" (m.data, m.size). Its generation (m.gen) is the
 * file's life: a test that changes it has made a new file under the same
 * inode number, and exact reads and writes of another generation get
 * -ESTALE, as from a storage node. Header only: ktest images only.
 */
#ifndef MCOMPONENT_KTEST_FILE_H
#define MCOMPONENT_KTEST_FILE_H

#include "bcache.h"

#include <kernel/errno.h>
#include <lib/string.h>
#include <net/verbs.h>

#define FILE_CAP (256u << 10) /* the stand-in file's largest size */
#define INO	 12

struct mem_file {
	struct verbs_dev *dev; /* whose window the cache's win_offsets are in */
	uint8_t *data;	       /* FILE_CAP bytes */
	uint64_t size;
	uint32_t gen;	/* the file's generation */
	unsigned reads, writes;
};

static void attr_of(struct mem_file *m, struct fs_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->ino = INO;
	attr->gen = m->gen;
	attr->size = m->size;
	attr->mode = FS_S_IFREG | 0644;
}

static uint8_t *win(struct mem_file *m, uint64_t win_offset)
{
	return (uint8_t *)verbs_window_hdr(m->dev) + win_offset;
}

/* An exact request for another life of the file: the storage node's
 * -ESTALE. */
static bool mf_stale(const struct mem_file *m, const struct bcache_file *f)
{
	return f->exact && (f->ino != INO || f->gen != m->gen);
}

static long mf_read(void *ctx, const struct bcache_file *f, uint64_t offset,
		    uint64_t win_offset, size_t len, struct fs_attr *attr)
{
	struct mem_file *m = ctx;
	size_t n = offset >= m->size ? 0 : m->size - offset < len ? m->size - offset : len;

	if (mf_stale(m, f))
		return -ESTALE;
	m->reads++;
	memcpy(win(m, win_offset), m->data + offset, n);
	attr_of(m, attr);
	return (long)n;
}

static long mf_write(void *ctx, const struct bcache_file *f, uint64_t offset,
		     uint64_t win_offset, size_t len, struct fs_attr *attr)
{
	struct mem_file *m = ctx;

	if (mf_stale(m, f))
		return -ESTALE;
	if (offset + len > FILE_CAP)
		return -EFBIG;
	m->writes++;
	if (offset > m->size)
		memset(m->data + m->size, 0, offset - m->size);
	memcpy(m->data + offset, win(m, win_offset), len);
	if (offset + len > m->size)
		m->size = offset + len;
	attr_of(m, attr);
	return (long)len;
}

static int mf_truncate(void *ctx, const struct bcache_file *f, uint64_t size,
		       struct fs_attr *attr)
{
	struct mem_file *m = ctx;

	if (size > FILE_CAP)
		return -EFBIG;
	if (size > m->size)
		memset(m->data + m->size, 0, size - m->size);
	m->size = size;
	attr_of(m, attr);
	return 0;
}

static int mf_stat(void *ctx, const struct bcache_file *f, struct fs_attr *attr)
{
	attr_of(ctx, attr);
	return 0;
}

static const struct bcache_backend mf_ops = {
	.read = mf_read, .write = mf_write, .truncate = mf_truncate, .stat = mf_stat};

#endif
