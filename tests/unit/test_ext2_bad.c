/*
 * Host tests of the ext2 driver on damaged images and failing devices:
 * a bad superblock or group descriptor refuses the mount (-EINVAL with
 * a reason); a bad directory record, block pointer, inode size or flag,
 * a block owned twice, or a '..' loop gives -EIO from the call that
 * meets it, never a crash (the sanitizers watch); a device that fails
 * gives -EIO. Also checks that e2fsck -fn, which every other test
 * trusts, does see damage.
 */
#include "ext2img.h"
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROOT  EXT2_ROOT_INO
#define RCRED (&ext2img_root)

/* An image with /f (3 KiB), /d/g and /a/b. */
static bool make(struct ext2img *im)
{
	char data[3072];

	memset(data, 'z', sizeof(data));
	return ext2img_begin(im) && ext2img_file(im, "f", data, sizeof(data)) &&
	       ext2img_dir(im, "d") && ext2img_file(im, "d/g", "g", 1) &&
	       ext2img_dir(im, "a") && ext2img_dir(im, "a/b") &&
	       ext2img_mkfs(im, "-b 1024 -d SRC", "2M");
}

/* A number debugfs prints after word in the output of cmd. */
static long debugfs_number(struct ext2img *im, const char *cmd, const char *word)
{
	char *out = ext2img_debugfs(im, cmd);
	char *at = out ? strstr(out, word) : NULL;
	long v = at ? strtol(at + strlen(word), NULL, 0) : -1;

	free(out);
	return v;
}

/* Writes len bytes at byte offset at of the image. */
static bool poke(struct ext2img *im, long at, const void *bytes, size_t len)
{
	FILE *f = fopen(im->img, "r+b");
	bool ok = f && fseek(f, at, SEEK_SET) == 0 && fwrite(bytes, 1, len, f) == len;

	if (f)
		fclose(f);
	return ok;
}

TEST(ext2_fsck_sees_damage)
{
	struct ext2img im;

	ASSERT(make(&im));
	EXPECT(ext2img_fsck(&im));
	ASSERT_EQ(ext2img_run(&im, "debugfs -w -R 'sif /f links_count 5' IMG", true), 0);
	EXPECT_NE(ext2img_run(&im, "e2fsck -fn IMG", false), 0);
	ext2img_end(&im);
}

static void bad_super(const char *field, const char *value, int want)
{
	struct ext2img im;
	char cmd[128];

	ASSERT(make(&im));
	snprintf(cmd, sizeof(cmd), "debugfs -w -R 'ssv %s %s' IMG", field, value);
	ASSERT_EQ(ext2img_run(&im, cmd, true), 0);
	EXPECT_EQ(ext2img_mount_err(&im, false, 0), want);
	EXPECT(im.why[0] != '\0');
	unit_diag("%s=%s: %s", field, value, im.why);
	ext2img_end(&im);
}

TEST(ext2_bad_superblock)
{
	struct ext2img im;

	ASSERT(make(&im));
	ASSERT(poke(&im, 1024 + 56, "\x34\x12", 2)); /* s_magic */
	EXPECT_EQ(ext2img_mount_err(&im, false, 0), -EINVAL);
	EXPECT(strstr(im.why, "magic") != NULL);
	ext2img_end(&im);
	bad_super("log_block_size", "3", -EOPNOTSUPP);
	bad_super("log_block_size", "9", -EINVAL);
	bad_super("blocks_per_group", "0", -EINVAL);
	bad_super("inodes_per_group", "0", -EINVAL);
	bad_super("inodes_count", "7", -EINVAL);
	bad_super("blocks_count", "9999999", -EINVAL);
	bad_super("first_data_block", "0", -EINVAL);
	bad_super("inode_size", "100", -EINVAL);
	bad_super("first_ino", "3", -EINVAL);
	bad_super("rev_level", "7", -EINVAL);
}

TEST(ext2_bad_group_descriptor)
{
	struct ext2img im;

	ASSERT(make(&im));
	ASSERT_EQ(ext2img_run(&im, "debugfs -w -R 'set_bg 0 inode_table 5000' IMG", true),
		  0);
	EXPECT_EQ(ext2img_mount_err(&im, false, 0), -EINVAL);
	EXPECT(strstr(im.why, "group descriptor") != NULL);
	ASSERT_EQ(ext2img_run(&im, "debugfs -w -R 'set_bg 0 block_bitmap 1' IMG", true),
		  0);
	EXPECT_EQ(ext2img_mount_err(&im, false, 0), -EINVAL);
	ext2img_end(&im);
}

TEST(ext2_bad_inodes)
{
	struct ext2img im;
	char buf[64];
	long blk0;

	ASSERT(make(&im));
	blk0 = debugfs_number(&im, "bmap /f 0", "\n");
	ASSERT(ext2img_run(&im, "debugfs -w -R 'sif /f block[1] 99999999' IMG", true) ==
	       0);
	ASSERT(ext2img_run(&im, "debugfs -w -R 'sif /d size 1000' IMG", true) == 0);
	ASSERT(ext2img_run(&im, "debugfs -w -R 'sif /d/g flags 0x80000' IMG", true) == 0);
	ASSERT(ext2img_mount(&im, false));
	EXPECT_EQ(ext2_read(im.fs, RCRED, ROOT, "/f", 0, buf, 10, NULL), 10);
	EXPECT_EQ(ext2_read(im.fs, RCRED, ROOT, "/f", 1024, buf, 10, NULL), -EIO);
	EXPECT_EQ(ext2_write(im.fs, RCRED, ROOT, "/f", 1500, "x", 1, NULL), -EIO);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/d", 0, 0, NULL), -EIO);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/d/g", 0, 0, NULL), -EIO);
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/d/new", 0644, 0, NULL), -EIO);
	EXPECT(ext2img_unmount(&im));
	ext2img_end(&im);
	/* Two pointers to one block: the second free is refused. */
	ASSERT(make(&im));
	{
		char cmd[96];

		snprintf(cmd, sizeof(cmd), "debugfs -w -R 'sif /f block[2] %ld' IMG",
			 blk0);
		ASSERT(blk0 > 0 && ext2img_run(&im, cmd, true) == 0);
	}
	ASSERT(ext2img_mount(&im, false));
	EXPECT_EQ(ext2_unlink(im.fs, RCRED, ROOT, "/f"), -EIO);
	EXPECT(ext2img_unmount(&im));
	ext2img_end(&im);
}

TEST(ext2_bad_directory_blocks)
{
	struct ext2img im;
	long blk, ino_b;
	uint16_t rec = 1; /* rec_len below the minimum */
	uint32_t self;

	ASSERT(make(&im));
	/* /a/b's '..' names /a/b itself: a loop for rename's subtree walk. */
	blk = debugfs_number(&im, "bmap /a/b 0", "\n");
	ino_b = debugfs_number(&im, "stat /a/b", "Inode: ");
	ASSERT(blk > 0 && ino_b > 0);
	self = (uint32_t)ino_b;
	ASSERT(poke(&im, blk * 1024 + 12, &self, 4));
	/* /d's first block: a bad rec_len after '.'. */
	blk = debugfs_number(&im, "bmap /d 0", "\n");
	ASSERT(blk > 0 && poke(&im, blk * 1024 + 12 + 4, &rec, 2));
	ASSERT(ext2img_mount(&im, false));
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/d/g", 0, 0, NULL), -EIO);
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/q", 0755, NULL), 0);
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/q", "/a/b/q"), -EIO);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/a/b/../../f", 0, 0, NULL), -ENOENT);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/q", 0, 0, NULL), 0);
	{
		uint8_t buf[512];
		uint64_t cookie = 0;
		bool eof;

		EXPECT_EQ(ext2_getdents(im.fs, RCRED, ROOT, "/d", &cookie, buf,
					sizeof(buf), &eof),
			  -EIO);
	}
	EXPECT(ext2img_unmount(&im));
	ext2img_end(&im);
}

TEST(ext2_device_errors)
{
	struct ext2img im;
	char buf[16];

	ASSERT(make(&im));
	/* Failing from the start: the mount cannot read the superblock. */
	ASSERT_EQ(fileblk_open(&im.fb, im.img, false), 0);
	im.fb.fail_after = 0;
	EXPECT_EQ(ext2_mount(&im.fb.bd, NULL, &im.fs, im.why, sizeof(im.why)), -EIO);
	fileblk_close(&im.fb);
	/* Failing later: every call reports -EIO, unmount too. */
	for (long n = 0; n < 12; n++) {
		ASSERT_EQ(ext2img_mount_err(&im, false, 16 * 1024), 0);
		im.fb.fail_after = n;
		ext2_read(im.fs, RCRED, ROOT, "/f", 0, buf, sizeof(buf), NULL);
		ext2_create(im.fs, RCRED, ROOT, "/d/n", 0644, 0, NULL);
		ext2_write(im.fs, RCRED, ROOT, "/d/n", 0, buf, sizeof(buf), NULL);
		ext2_mkdir(im.fs, RCRED, ROOT, "/a/b/c", 0755, NULL);
		EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/a/b/c", 0, 0, NULL) == 0 ||
				  im.fb.fail_after == 0,
			  1);
		EXPECT_NE(ext2_unmount(im.fs), 0);
		im.fs = NULL;
		fileblk_close(&im.fb);
	}
	ext2img_end(&im);
}
