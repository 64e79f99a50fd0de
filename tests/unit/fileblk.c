/*
 * Host block devices for tests and fuzzers: see fileblk.h.
 *
 * Requests of one batch run in order, synchronously; the contract leaves
 * the order open, so nothing may depend on it.
 */
#include "fileblk.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* buf, or segs whose pieces add up to count sectors. */
static bool mem_ok(const struct fileblk *fb, const struct blk_req *r)
{
	size_t sum = 0;

	if (r->buf)
		return true;
	if (!r->segs || r->nsegs == 0 || r->nsegs > fb->bd.max_segs)
		return false;
	for (uint32_t i = 0; i < r->nsegs; i++) {
		if (!r->segs[i].buf || r->segs[i].len == 0 ||
		    r->segs[i].len % BLK_SECTOR_SIZE)
			return false;
		sum += r->segs[i].len;
	}
	return sum == (size_t)r->count * BLK_SECTOR_SIZE;
}

static int check_req(struct fileblk *fb, const struct blk_req *r)
{
	if (r->count == 0 || r->count > fb->bd.max_sectors || !mem_ok(fb, r) ||
	    r->sector >= fb->bd.nsectors || r->count > fb->bd.nsectors - r->sector)
		return -EINVAL;
	if (r->write && fb->bd.read_only)
		return -EROFS;
	if (fb->fail_after == 0)
		return -EIO;
	if (fb->fail_after > 0)
		fb->fail_after--;
	return 0;
}

/* One piece: len bytes of buf at byte at of the device. */
static int do_piece(struct fileblk *fb, bool write, void *buf, size_t len, uint64_t at)
{
	ssize_t n;

	if (fb->mem) {
		if (write)
			memcpy(fb->mem + at, buf, len);
		else
			memcpy(buf, fb->mem + at, len);
		return 0;
	}
	n = write ? pwrite(fb->fd, buf, len, (off_t)at)
		  : pread(fb->fd, buf, len, (off_t)at);
	return n == (ssize_t)len ? 0 : -EIO;
}

static int do_req(struct fileblk *fb, struct blk_req *r)
{
	uint64_t at = r->sector * BLK_SECTOR_SIZE;
	int err = 0;

	if (r->buf)
		return do_piece(fb, r->write, r->buf, (size_t)r->count * BLK_SECTOR_SIZE,
				at);
	fb->scattered++;
	for (uint32_t i = 0; !err && i < r->nsegs; i++) {
		err = do_piece(fb, r->write, r->segs[i].buf, r->segs[i].len, at);
		at += r->segs[i].len;
	}
	return err;
}

static int submit(struct blkdev *bd, struct blk_req *reqs, unsigned n)
{
	struct fileblk *fb = bd->priv;
	int first = 0;

	fb->batches++;
	if (n > fb->max_batch_seen)
		fb->max_batch_seen = n;
	for (unsigned i = 0; i < n; i++) {
		struct blk_req *r = &reqs[i];

		r->status = check_req(fb, r);
		if (!r->status)
			r->status = do_req(fb, r);
		if (!r->status && r->write) {
			fb->writes++;
			fb->write_sectors += r->count;
		} else if (!r->status) {
			fb->reads++;
		}
		if (r->status && !first)
			first = r->status;
	}
	return first;
}

static int flush(struct blkdev *bd)
{
	struct fileblk *fb = bd->priv;

	fb->flushes++;
	if (fb->fail_after == 0)
		return -EIO;
	if (fb->fd >= 0 && fsync(fb->fd))
		return -EIO;
	return 0;
}

static void init(struct fileblk *fb, uint64_t bytes, bool read_only)
{
	fb->bd.name = fb->mem ? "mem" : "image";
	fb->bd.nsectors = bytes / BLK_SECTOR_SIZE;
	fb->bd.max_sectors = 256;
	fb->bd.max_batch = 16;
	fb->bd.max_segs = 32;
	fb->bd.read_only = read_only;
	fb->bd.submit = submit;
	fb->bd.flush = flush;
	fb->bd.priv = fb;
	fb->fail_after = -1;
}

int fileblk_open(struct fileblk *fb, const char *path, bool read_only)
{
	struct stat st;

	memset(fb, 0, sizeof(*fb));
	fb->fd = open(path, read_only ? O_RDONLY : O_RDWR);
	if (fb->fd < 0)
		return -errno;
	if (fstat(fb->fd, &st)) {
		int err = -errno;

		close(fb->fd);
		return err;
	}
	init(fb, (uint64_t)st.st_size, read_only);
	return 0;
}

void fileblk_close(struct fileblk *fb)
{
	if (fb->fd >= 0)
		close(fb->fd);
	fb->fd = -1;
}

void memblk_init(struct fileblk *fb, uint8_t *mem, size_t size, bool read_only)
{
	memset(fb, 0, sizeof(*fb));
	fb->fd = -1;
	fb->mem = mem;
	init(fb, size, read_only);
}
