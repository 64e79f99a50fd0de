/*
 * Host tests of the ext2 driver's data paths (scomponent/ext2*.c) on
 * images made by mke2fs: reading what mke2fs -d wrote (small, large
 * with double indirect blocks, sparse, fast and slow symlinks, hard
 * links) at block sizes 1, 2 and 4 KiB; writing, growing and shrinking
 * across every indirect boundary (triple indirect included); a random
 * sequence of writes and truncates against a model; filling the disk;
 * revision 0 and filetype-less images; several block groups; reads in
 * three steps (ext2_read_begin/fetch/end: the file service's reads that
 * wait for the disk unlocked) with blocks cached, dirty, holes, freed or
 * written between the steps. Every test
 * ends with e2fsck -fn on the image, and content checks go through
 * debugfs or a second mount. Namespace and permission tests are in
 * test_ext2_ns.c.
 */
#include "ext2img.h"
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROOT	EXT2_ROOT_INO
#define RCRED	(&ext2img_root)
#define BIG_LEN (400 * 1024) /* > 12 + 256 blocks of 1 KiB: double indirect */

/* Reads all of path through ext2_read in chunks; malloc'd. */
static uint8_t *read_whole(struct ext2_fs *fs, const char *path, size_t size)
{
	uint8_t *buf = malloc(size + 1);
	size_t done = 0;

	while (buf && done < size) {
		uint32_t n = size - done > 65536 ? 65536 : (uint32_t)(size - done);
		int r = ext2_read(fs, RCRED, ROOT, path, done, buf + done, n, NULL);

		if (r <= 0) {
			unit_diag("read %s at %zu: %d", path, done, r);
			free(buf);
			return NULL;
		}
		done += (size_t)r;
	}
	return buf;
}

static bool same_file(struct ext2_fs *fs, const char *path, const void *want, size_t len)
{
	struct fs_attr a;
	uint8_t *got;
	bool ok;

	if (ext2_stat(fs, RCRED, ROOT, path, 0, 0, &a) || a.size != len) {
		unit_diag("%s: size %llu, want %zu", path, (unsigned long long)a.size,
			  len);
		return false;
	}
	got = read_whole(fs, path, len);
	ok = got && memcmp(got, want, len) == 0;
	free(got);
	return ok;
}

/* The source tree every read test uses. */
static bool make_tree(struct ext2img *im, uint8_t *big)
{
	char slow[101];
	bool ok = true;

	memset(slow, 'x', 100);
	slow[100] = '\0';
	memcpy(slow, "sub/", 4);
	ext2img_fill(big, BIG_LEN, 7, 0);
	ok &= ext2img_file(im, "small", "hello, ext2\n", 12);
	ok &= ext2img_file(im, "big", big, BIG_LEN);
	ok &= ext2img_dir(im, "sub");
	ok &= ext2img_file(im, "sub/inner", "inner\n", 6);
	ok &= ext2img_symlink(im, "small", "fast");
	ok &= ext2img_symlink(im, slow, "slow");
	ok &= ext2img_run(im, "ln SRC/big SRC/big2", true) == 0;
	/* Sparse: 3 MiB with data at 0, 1 MiB and the end. */
	ok &= ext2img_run(im,
			  "truncate -s 3M SRC/sparse && printf A | dd of=SRC/sparse bs=1 "
			  "seek=1048576 conv=notrunc status=none",
			  true) == 0;
	return ok;
}

static void check_tree(struct ext2_fs *fs, const uint8_t *big)
{
	struct fs_attr a, b;
	char target[200];
	uint8_t byte = 0;

	EXPECT(same_file(fs, "/small", "hello, ext2\n", 12));
	EXPECT(same_file(fs, "/big", big, BIG_LEN));
	EXPECT(same_file(fs, "/sub/inner", "inner\n", 6));
	EXPECT(same_file(fs, "/fast", "hello, ext2\n", 12)); /* followed */
	EXPECT_EQ(ext2_stat(fs, RCRED, ROOT, "/big", 0, 0, &a), 0);
	EXPECT_EQ(ext2_stat(fs, RCRED, ROOT, "/big2", 0, 0, &b), 0);
	EXPECT_EQ(a.ino, b.ino);
	EXPECT_EQ(a.nlink, 2u);
	EXPECT_EQ(a.mode & FS_S_IFMT, FS_S_IFREG);
	EXPECT_GE(a.blocks * 512, (uint64_t)BIG_LEN);
	EXPECT_EQ(ext2_readlink(fs, RCRED, ROOT, "/fast", target, sizeof(target)), 5);
	EXPECT_STREQ(target, "small");
	EXPECT_EQ(ext2_readlink(fs, RCRED, ROOT, "/slow", target, sizeof(target)), 100);
	EXPECT_EQ(memcmp(target, "sub/xxx", 7), 0);
	EXPECT_EQ(ext2_readlink(fs, RCRED, ROOT, "/slow", target, 50), -ENAMETOOLONG);
	EXPECT_EQ(ext2_stat(fs, RCRED, ROOT, "/slow", FS_NOFOLLOW, 0, &a), 0);
	EXPECT_EQ(a.mode & FS_S_IFMT, FS_S_IFLNK);
	EXPECT_EQ(ext2_stat(fs, RCRED, ROOT, "/slow", 0, 0, &a), -ENOENT);
	EXPECT_EQ(ext2_stat(fs, RCRED, ROOT, "/sparse", 0, 0, &a), 0);
	EXPECT_EQ(a.size, 3u << 20);
	EXPECT_LT(a.blocks, 64u); /* a few blocks, not 3 MiB */
	EXPECT_EQ(ext2_read(fs, RCRED, ROOT, "/sparse", 1048576, &byte, 1, NULL), 1);
	EXPECT_EQ(byte, 'A');
	EXPECT_EQ(ext2_read(fs, RCRED, ROOT, "/sparse", 2000000, &byte, 1, NULL), 1);
	EXPECT_EQ(byte, 0);
	EXPECT_EQ(ext2_read(fs, RCRED, ROOT, "/sparse", 3u << 20, &byte, 1, NULL), 0);
	EXPECT_EQ(ext2_read(fs, RCRED, ROOT, "/sub", 0, &byte, 1, NULL), -EISDIR);
}

static void read_test(const char *opts)
{
	struct ext2img im;
	uint8_t *big = malloc(BIG_LEN);

	ASSERT(big && ext2img_begin(&im));
	if (make_tree(&im, big) && ext2img_mkfs(&im, opts, "8M") &&
	    ext2img_mount(&im, false)) {
		check_tree(im.fs, big);
		EXPECT(ext2img_unmount(&im));
		EXPECT(ext2img_fsck(&im));
	} else {
		EXPECT(false);
	}
	ext2img_end(&im);
	free(big);
}

TEST(ext2_read_mkfs_1k)
{
	read_test("-b 1024 -d SRC");
}

TEST(ext2_read_mkfs_2k)
{
	read_test("-b 2048 -d SRC");
}

TEST(ext2_read_mkfs_4k)
{
	read_test("-b 4096 -d SRC");
}

TEST(ext2_read_rev0_nofiletype)
{
	read_test("-b 1024 -r 0 -d SRC");
	read_test("-b 1024 -O ^filetype -d SRC");
}

/* --- Writing across indirect boundaries --------------------------------- */

static void expect_range(struct ext2_fs *fs, const char *path, uint64_t at, size_t len,
			 unsigned seed)
{
	uint8_t *want = malloc(len), *got = malloc(len);

	ext2img_fill(want, len, seed, at);
	EXPECT_EQ(ext2_read(fs, RCRED, ROOT, path, at, got, (uint32_t)len, NULL),
		  (int)len);
	EXPECT(memcmp(want, got, len) == 0);
	free(want);
	free(got);
}

static void write_range(struct ext2_fs *fs, const char *path, uint64_t at, size_t len,
			unsigned seed)
{
	uint8_t *data = malloc(len);

	ext2img_fill(data, len, seed, at);
	EXPECT_EQ(ext2_write(fs, RCRED, ROOT, path, at, data, (uint32_t)len, NULL),
		  (int)len);
	free(data);
}

static uint64_t free_blocks(struct ext2_fs *fs)
{
	struct fs_statfs st;

	EXPECT_EQ(ext2_statfs(fs, &st), 0);
	return st.bfree;
}

static void boundaries_test(unsigned bs)
{
	uint64_t apb = bs / 4, b0 = 12, b1 = 12 + apb, b2 = 12 + apb + apb * apb;
	uint64_t edges[] = {b0, b1, b2};
	struct ext2img im;
	char opts[32];
	struct fs_attr a;
	uint64_t before;

	snprintf(opts, sizeof(opts), "-b %u", bs);
	ASSERT(ext2img_begin(&im));
	ASSERT(ext2img_mkfs(&im, opts, "16M") && ext2img_mount(&im, false));
	before = free_blocks(im.fs);
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/f", 0644, FS_EXCL, &a), 0);
	/* A run straddling each boundary (the last: triple indirect). */
	for (unsigned i = 0; i < 3; i++)
		write_range(im.fs, "/f", edges[i] * bs - 3000, 6000 + bs, 10 + i);
	for (unsigned i = 0; i < 3; i++)
		expect_range(im.fs, "/f", edges[i] * bs - 3000, 6000 + bs, 10 + i);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/f", 0, 0, &a), 0);
	EXPECT_EQ(a.size, b2 * bs + 3000 + bs);
	/* 3 direct + 1 ind + (dind + ind) + (tind + dind + ind), data blocks. */
	EXPECT_EQ(before - free_blocks(im.fs), a.blocks / (bs / 512));
	/* Shrink into the double indirect range, then the single, then 0. */
	EXPECT_EQ(ext2_truncate(im.fs, RCRED, ROOT, "/f", b1 * bs + 10, &a), 0);
	expect_range(im.fs, "/f", edges[1] * bs - 3000, 3010, 11);
	EXPECT_EQ(ext2_truncate(im.fs, RCRED, ROOT, "/f", b0 * bs + 1, &a), 0);
	EXPECT_EQ(ext2_truncate(im.fs, RCRED, ROOT, "/f", b1 * bs, &a), 0); /* hole */
	expect_range(im.fs, "/f", edges[0] * bs - 3000, 3001, 10);
	{
		uint8_t z[64] = {1}, zero[64] = {0};

		EXPECT_EQ(ext2_read(im.fs, RCRED, ROOT, "/f", b0 * bs + 1, z, 64, NULL),
			  64);
		EXPECT(memcmp(z, zero, 64) == 0);
	}
	EXPECT(ext2img_unmount(&im));
	EXPECT(ext2img_fsck(&im));
	ASSERT(ext2img_mount(&im, false));
	expect_range(im.fs, "/f", edges[0] * bs - 3000, 3001, 10);
	EXPECT_EQ(ext2_truncate(im.fs, RCRED, ROOT, "/f", 0, &a), 0);
	EXPECT_EQ(a.blocks, 0u);
	EXPECT_EQ(free_blocks(im.fs), before);
	EXPECT(ext2img_unmount(&im));
	EXPECT(ext2img_fsck(&im));
	ext2img_end(&im);
}

TEST(ext2_write_boundaries_1k)
{
	boundaries_test(1024);
}

TEST(ext2_write_boundaries_4k)
{
	boundaries_test(4096);
}

/* --- Random writes and truncates against a model ------------------------- */

#define MODEL_MAX (1536 * 1024)

struct model {
	uint8_t *data;
	size_t size;
};

static void model_op(struct ext2_fs *fs, struct model *m, struct unit_rng *r)
{
	unsigned kind = (unsigned)unit_rand_below(r, 10);
	/* Half the reads and writes past the cache, as the file server makes
	 * big ones (the host's memory needs no physical address: 0). */
	bool direct = unit_rand_below(r, 2);

	if (kind < 6) {
		size_t at = unit_rand_below(r, MODEL_MAX - 70000);
		size_t len = 1 + unit_rand_below(r, kind < 3 ? 600 : 65536);
		uint8_t *buf = malloc(len);

		ext2img_fill(buf, len, (unsigned)unit_rand(r), 0);
		EXPECT_EQ(direct ? ext2_write_direct(fs, RCRED, ROOT, "/m", at, buf, 0,
						     (uint32_t)len, NULL)
				 : ext2_write(fs, RCRED, ROOT, "/m", at, buf,
					      (uint32_t)len, NULL),
			  (int)len);
		if (at > m->size)
			memset(m->data + m->size, 0, at - m->size);
		memcpy(m->data + at, buf, len);
		if (at + len > m->size)
			m->size = at + len;
		free(buf);
	} else if (kind < 8) {
		size_t size = unit_rand_below(r, MODEL_MAX);

		EXPECT_EQ(ext2_truncate(fs, RCRED, ROOT, "/m", size, NULL), 0);
		if (size > m->size)
			memset(m->data + m->size, 0, size - m->size);
		m->size = size;
	} else {
		size_t at = unit_rand_below(r, MODEL_MAX);
		size_t len = 1 + unit_rand_below(r, 100000);
		size_t want =
			at >= m->size ? 0 : (m->size - at < len ? m->size - at : len);
		uint8_t *buf = malloc(len);

		EXPECT_EQ(direct ? ext2_read_direct(fs, RCRED, ROOT, "/m", at, buf, 0,
						    (uint32_t)len, NULL)
				 : ext2_read(fs, RCRED, ROOT, "/m", at, buf,
					     (uint32_t)len, NULL),
			  (int)want);
		EXPECT(memcmp(buf, m->data + at, want) == 0);
		free(buf);
	}
}

static void model_test(unsigned bs, uint64_t seed)
{
	struct unit_rng r = {seed};
	struct model m = {calloc(1, MODEL_MAX), 0};
	struct ext2img im;
	char opts[32];
	size_t len;
	uint8_t *img_copy;

	snprintf(opts, sizeof(opts), "-b %u", bs);
	ASSERT(ext2img_begin(&im));
	ASSERT(ext2img_mkfs(&im, opts, "12M"));
	/* A small cache: write-back under pressure, eviction, prefetch. */
	ASSERT_EQ(ext2img_mount_err(&im, false, 64 * 1024), 0);
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/m", 0644, 0, NULL), 0);
	for (int i = 0; i < 300 && !unit_failed(); i++) {
		model_op(im.fs, &m, &r);
		if (i % 100 == 99) {
			EXPECT(ext2img_unmount(&im));
			EXPECT(ext2img_mount(&im, false));
		}
	}
	EXPECT(same_file(im.fs, "/m", m.data, m.size));
	EXPECT(ext2img_unmount(&im));
	EXPECT(ext2img_fsck(&im));
	img_copy = ext2img_cat(&im, "/m", &len);
	EXPECT(img_copy && len == m.size && memcmp(img_copy, m.data, len) == 0);
	free(img_copy);
	free(m.data);
	ext2img_end(&im);
}

TEST(ext2_random_writes_1k)
{
	model_test(1024, 0x1234);
}

TEST(ext2_random_writes_4k)
{
	model_test(4096, 0x9876);
}

/* --- Full disk ------------------------------------------------------------ */

TEST(ext2_fill_disk)
{
	struct ext2img im;
	uint8_t *chunk = malloc(65536);
	uint64_t before, ffree;
	struct fs_statfs st;
	char name[32];
	int r = 0, files = 0;
	uint64_t at = 0;

	ext2img_fill(chunk, 65536, 3, 0);
	ASSERT(ext2img_begin(&im));
	ASSERT(ext2img_mkfs(&im, "-b 1024 -N 64", "2M") && ext2img_mount(&im, false));
	EXPECT_EQ(ext2_statfs(im.fs, &st), 0);
	before = st.bfree;
	ffree = st.ffree;
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/fill", 0644, 0, NULL), 0);
	while ((r = ext2_write(im.fs, RCRED, ROOT, "/fill", at, chunk, 65536, NULL)) ==
	       65536)
		at += 65536;
	EXPECT_EQ(r, -ENOSPC);
	/* Small writes take what is left, then fail too. */
	while ((r = ext2_write(im.fs, RCRED, ROOT, "/fill", at, chunk, 1000, NULL)) ==
	       1000)
		at += 1000;
	EXPECT_EQ(r, -ENOSPC);
	/* The failed write kept the prefix that fit (the last block's rest). */
	{
		struct fs_attr a;

		EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/fill", 0, 0, &a), 0);
		EXPECT(a.size >= at && a.size < at + 1000);
		at = a.size;
	}
	EXPECT_EQ(ext2_statfs(im.fs, &st), 0);
	EXPECT_EQ(st.bfree, 0u);
	/* Inodes run out too (no blocks for new directories' blocks). */
	for (files = 0; files < 100; files++) {
		snprintf(name, sizeof(name), "/e%d", files);
		r = ext2_create(im.fs, RCRED, ROOT, name, 0644, 0, NULL);
		if (r)
			break;
	}
	EXPECT(r == -ENOSPC);
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/nodir", 0755, NULL), -ENOSPC);
	EXPECT(ext2img_unmount(&im));
	EXPECT(ext2img_fsck(&im));
	{
		size_t len;
		uint8_t *got = ext2img_cat(&im, "/fill", &len);

		EXPECT(got != NULL);
		EXPECT_EQ(len, at);
		EXPECT(got && memcmp(got, chunk, 65536) == 0);
		free(got);
	}
	ASSERT(ext2img_mount(&im, false));
	EXPECT_EQ(ext2_unlink(im.fs, RCRED, ROOT, "/fill"), 0);
	for (int i = 0; i < files; i++) {
		snprintf(name, sizeof(name), "/e%d", i);
		EXPECT_EQ(ext2_unlink(im.fs, RCRED, ROOT, name), 0);
	}
	EXPECT_EQ(ext2_statfs(im.fs, &st), 0);
	EXPECT_EQ(st.ffree, ffree);
	EXPECT_LE(before - st.bfree, 1u); /* maybe one more root directory block */
	EXPECT(ext2img_unmount(&im));
	EXPECT(ext2img_fsck(&im));
	ext2img_end(&im);
	free(chunk);
}

/* Non-root users stop at the blocks reserved for root. */
TEST(ext2_reserved_blocks)
{
	struct ext2img im;
	uint8_t *chunk = calloc(1, 16384);
	struct fs_statfs st;
	uint64_t at = 0;
	int r;

	ASSERT(ext2img_begin(&im));
	ASSERT(ext2img_mkfs(&im, "-b 1024 -m 20", "1M") && ext2img_mount(&im, false));
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/u", 0777, NULL), 0);
	EXPECT_EQ(ext2_create(im.fs, &ext2img_user, ROOT, "/u/f", 0644, 0, NULL), 0);
	while ((r = ext2_write(im.fs, &ext2img_user, ROOT, "/u/f", at, chunk, 16384,
			       NULL)) > 0)
		at += (uint64_t)r;
	EXPECT_EQ(r, -ENOSPC);
	EXPECT_EQ(ext2_statfs(im.fs, &st), 0);
	EXPECT_GT(st.bfree, 100u);
	EXPECT_EQ(st.bavail, 0u);
	/* Root may go on. */
	EXPECT_EQ(ext2_write(im.fs, RCRED, ROOT, "/u/f", at, chunk, 16384, NULL), 16384);
	EXPECT(ext2img_unmount(&im));
	EXPECT(ext2img_fsck(&im));
	ext2img_end(&im);
	free(chunk);
}

/* --- Several block groups --------------------------------------------------- */

TEST(ext2_many_groups)
{
	struct ext2img im;
	char path[64];
	struct fs_attr a;
	size_t len = 2 << 20;
	uint8_t *data = malloc(len);

	ASSERT(ext2img_begin(&im));
	/* 1 KiB blocks, 2048 blocks per group: 20 groups, sparse backups. */
	ASSERT(ext2img_mkfs(&im, "-b 1024 -g 2048", "40M") && ext2img_mount(&im, false));
	for (int d = 0; d < 6; d++) {
		snprintf(path, sizeof(path), "/d%d", d);
		EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, path, 0755, NULL), 0);
		for (int f = 0; f < 2; f++) {
			snprintf(path, sizeof(path), "/d%d/f%d", d, f);
			ext2img_fill(data, len, (unsigned)(d * 10 + f), 0);
			EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, path, 0644, 0, NULL),
				  0);
			for (size_t at = 0; at < len; at += FS_IO_MAX)
				EXPECT_EQ(ext2_write(im.fs, RCRED, ROOT, path, at,
						     data + at, FS_IO_MAX, NULL),
					  (int)FS_IO_MAX);
		}
	}
	EXPECT(ext2img_unmount(&im));
	EXPECT(ext2img_fsck(&im));
	ASSERT(ext2img_mount(&im, true));
	for (int d = 0; d < 6; d++) {
		snprintf(path, sizeof(path), "/d%d/f1", d);
		ext2img_fill(data, len, (unsigned)(d * 10 + 1), 0);
		EXPECT(same_file(im.fs, path, data, len));
		EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, path, 0, 0, &a), 0);
	}
	/* Directories spread over the groups. */
	{
		uint64_t g0 = 0, other = 0;

		for (int d = 0; d < 6; d++) {
			snprintf(path, sizeof(path), "/d%d", d);
			EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, path, 0, 0, &a), 0);
			if (a.ino <= 512) /* inodes per group at this size */
				g0++;
			else
				other++;
		}
		EXPECT_GT(other, 0u);
	}
	EXPECT(ext2img_unmount(&im));
	ext2img_end(&im);
	free(data);
}

/* --- Large files, extended attribute blocks ----------------------------- */

TEST(ext2_large_file)
{
	struct ext2img im;
	uint64_t at = 3ull << 30; /* past 2 GiB: needs large_file */
	struct fs_attr a;
	char *out;

	ASSERT(ext2img_begin(&im));
	ASSERT(ext2img_mkfs(&im, "-b 1024 -O ^large_file", "4M") &&
	       ext2img_mount(&im, false));
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/big", 0644, 0, NULL), 0);
	write_range(im.fs, "/big", at, 5000, 1);
	expect_range(im.fs, "/big", at, 5000, 1);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/big", 0, 0, &a), 0);
	EXPECT_EQ(a.size, at + 5000);
	EXPECT_EQ(ext2_write(im.fs, RCRED, ROOT, "/big", 1ull << 40, "x", 1, NULL),
		  -EFBIG);
	EXPECT(ext2img_unmount(&im));
	EXPECT(ext2img_fsck(&im));
	out = ext2img_debugfs(&im, "features");
	EXPECT(out && strstr(out, "large_file"));
	free(out);
	ext2img_end(&im);
	/* Revision 0 has no large_file: 2 GiB - 1 is the limit. */
	ASSERT(ext2img_begin(&im));
	ASSERT(ext2img_mkfs(&im, "-b 1024 -r 0", "4M") && ext2img_mount(&im, false));
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/big", 0644, 0, NULL), 0);
	EXPECT_EQ(ext2_write(im.fs, RCRED, ROOT, "/big", 0x7fffffffull, "x", 1, NULL),
		  -EFBIG);
	EXPECT_EQ(ext2_truncate(im.fs, RCRED, ROOT, "/big", 1ull << 31, NULL), -EFBIG);
	EXPECT_EQ(ext2_write(im.fs, RCRED, ROOT, "/big", 0x7ffffffeull, "x", 1, NULL), 1);
	EXPECT(ext2img_unmount(&im));
	EXPECT(ext2img_fsck(&im));
	ext2img_end(&im);
}

TEST(ext2_xattr_block_released)
{
	struct ext2img im;
	char cmd[512], value[301];
	struct fs_attr a;
	uint64_t before;

	memset(value, 'v', 300);
	value[300] = '\0';
	ASSERT(ext2img_begin(&im));
	ASSERT(ext2img_file(&im, "f", "abc", 3));
	ASSERT(ext2img_mkfs(&im, "-b 1024 -d SRC", "4M"));
	snprintf(cmd, sizeof(cmd), "debugfs -w -R 'ea_set /f user.big %s' IMG", value);
	ASSERT_EQ(ext2img_run(&im, cmd, true), 0);
	ASSERT(ext2img_mount(&im, false));
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/f", 0, 0, &a), 0);
	EXPECT_EQ(a.blocks, 4u); /* data + xattr block */
	before = free_blocks(im.fs);
	EXPECT_EQ(ext2_truncate(im.fs, RCRED, ROOT, "/f", 0, &a), 0);
	EXPECT_EQ(a.blocks, 2u);
	EXPECT_EQ(ext2_link(im.fs, RCRED, ROOT, "/f", "/g", NULL), 0);
	EXPECT_EQ(ext2_unlink(im.fs, RCRED, ROOT, "/f"), 0);
	EXPECT_EQ(free_blocks(im.fs), before + 1);
	EXPECT_EQ(ext2_unlink(im.fs, RCRED, ROOT, "/g"), 0);
	EXPECT_EQ(free_blocks(im.fs), before + 2);
	EXPECT(ext2img_unmount(&im));
	EXPECT(ext2img_fsck(&im));
	ext2img_end(&im);
}

/* --- Reads in three steps ---------------------------------------------- */

/* ext2_read_begin, ext2_read_fetch, ext2_read_end of len bytes at at;
 * *fetched: the blocks that went to the disk. */
static int split_read(struct ext2_fs *fs, const char *path, uint64_t at, void *buf,
		      uint32_t len, unsigned *fetched)
{
	struct ext2_split_read sr;
	int n = ext2_read_begin(fs, RCRED, ROOT, path, at, buf, len, NULL, &sr), err, end;

	if (n < 0)
		return n;
	*fetched = sr.n;
	err = ext2_read_fetch(fs, &sr, buf);
	end = ext2_read_end(fs, &sr);
	return err ? err : end ? end : n;
}

static bool remount(struct ext2img *im)
{
	return ext2img_unmount(im) && ext2img_mount(im, false);
}

static void split_test(unsigned bs)
{
	uint32_t alen = 2 * bs + EXT2_SPLIT_MAX + 100, at = bs - 100, len = EXT2_SPLIT_MAX;
	uint8_t *a = malloc(alen), *b = malloc(bs), *got = malloc(len), *want = malloc(len);
	struct ext2_split_read sr;
	struct ext2img im;
	unsigned fetched = 99;
	char opts[32];

	ASSERT(a && b && got && want && ext2img_begin(&im));
	ext2img_fill(a, alen, 1, 0);
	ext2img_fill(b, bs, 2, 0);
	ASSERT(ext2img_file(&im, "a", a, alen) && ext2img_file(&im, "b", b, bs) &&
	       ext2img_file(&im, "c", b, bs));
	snprintf(opts, sizeof(opts), "-b %u -d SRC", bs);
	ASSERT(ext2img_mkfs(&im, opts, "8M") && ext2img_mount(&im, false));

	/* Nothing cached: every block spanned is fetched; then cached. */
	EXPECT_EQ(split_read(im.fs, "/a", at, got, len, &fetched), (int)len);
	EXPECT_EQ(fetched, (at + len - 1) / bs - at / bs + 1);
	EXPECT(memcmp(got, a + at, len) == 0);
	memset(got, 0, len);
	EXPECT_EQ(split_read(im.fs, "/a", at, got, len, &fetched), (int)len);
	EXPECT_EQ(fetched, 0u);
	EXPECT(memcmp(got, a + at, len) == 0);

	/* A dirty cached block is newer than the disk: it comes from the
	 * cache, its uncached neighbour from the disk. */
	ASSERT(remount(&im));
	memset(a + 2 * bs + 5, 0xee, 10);
	EXPECT_EQ(ext2_write(im.fs, RCRED, ROOT, "/a", 2 * bs + 5, a + 2 * bs + 5, 10, NULL),
		  10);
	EXPECT_EQ(split_read(im.fs, "/a", 2 * bs - 50, got, 100, &fetched), 100);
	EXPECT_EQ(fetched, 1u);
	EXPECT(memcmp(got, a + 2 * bs - 50, 100) == 0);

	/* A block freed (and perhaps given to another file, on disk) between
	 * begin and fetch: the bytes must not be used. */
	ASSERT(remount(&im));
	EXPECT_EQ(ext2_read_begin(im.fs, RCRED, ROOT, "/c", 0, got, 100, NULL, &sr), 100);
	EXPECT_EQ(sr.n, 1u);
	EXPECT_EQ(ext2_truncate(im.fs, RCRED, ROOT, "/c", 0, NULL), 0);
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/d", 0600, 0, NULL), 0);
	memset(want, 0x3c, bs < len ? bs : len);
	EXPECT_EQ(ext2_write(im.fs, RCRED, ROOT, "/d", 0, want, bs < len ? bs : len, NULL),
		  (int)(bs < len ? bs : len));
	EXPECT_EQ(ext2_sync(im.fs), 0);
	EXPECT_EQ(ext2_read_fetch(im.fs, &sr, got), 0);
	EXPECT_EQ(ext2_read_end(im.fs, &sr), -EAGAIN);
	EXPECT_EQ(ext2_read(im.fs, RCRED, ROOT, "/c", 0, got, 100, NULL), 0);

	/* Data written elsewhere meanwhile: the bytes are good, but not cached
	 * (the disk may hold a newer copy than the one fetched). */
	ASSERT(remount(&im));
	EXPECT_EQ(ext2_read_begin(im.fs, RCRED, ROOT, "/b", 0, got, 100, NULL, &sr), 100);
	EXPECT_EQ(sr.n, 1u);
	EXPECT_EQ(ext2_write(im.fs, RCRED, ROOT, "/a", 0, "zz", 2, NULL), 2);
	EXPECT_EQ(ext2_read_fetch(im.fs, &sr, got), 0);
	EXPECT_EQ(ext2_read_end(im.fs, &sr), 0);
	EXPECT(memcmp(got, b, 100) == 0);
	EXPECT_EQ(split_read(im.fs, "/b", 0, got, 100, &fetched), 100);
	EXPECT_EQ(fetched, 1u);

	/* Holes read as zeroes, fetching nothing; the end of the file; errors. */
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/s", 0644, 0, NULL), 0);
	EXPECT_EQ(ext2_truncate(im.fs, RCRED, ROOT, "/s", 2 * bs + len, NULL), 0);
	memset(got, 1, len);
	memset(want, 0, len);
	EXPECT_EQ(split_read(im.fs, "/s", 10, got, len, &fetched), (int)len);
	EXPECT_EQ(fetched, 0u);
	EXPECT(memcmp(got, want, len) == 0);
	EXPECT_EQ(split_read(im.fs, "/b", bs - 10, got, 100, &fetched), 10);
	EXPECT_EQ(split_read(im.fs, "/b", bs, got, 100, &fetched), 0);
	EXPECT_EQ(ext2_read_begin(im.fs, RCRED, ROOT, "/a", 0, got, len + 1, NULL, &sr),
		  -EINVAL);
	EXPECT_EQ(ext2_read_begin(im.fs, RCRED, ROOT, "/nope", 0, got, 1, NULL, &sr), -ENOENT);
	EXPECT_EQ(ext2_read_begin(im.fs, RCRED, ROOT, "/", 0, got, 1, NULL, &sr), -EISDIR);
	EXPECT(ext2img_unmount(&im));
	EXPECT(ext2img_fsck(&im));
	ext2img_end(&im);
	free(a);
	free(b);
	free(got);
	free(want);
}

TEST(ext2_split_read_1k)
{
	split_test(1024);
}

TEST(ext2_split_read_4k)
{
	split_test(4096);
}
