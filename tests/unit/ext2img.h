/*
 * Scratch ext2 images for the ext2 host tests (tests/unit/test_ext2*.c):
 * made by mke2fs in a temporary directory, mounted through
 * scomponent/ext2.h on a fileblk, checked with e2fsck -fn, inspected with
 * debugfs, removed afterwards.
 *
 *	struct ext2img im;
 *	ASSERT(ext2img_begin(&im));
 *	ext2img_file(&im, "a.txt", "hello", 5);     // source tree for -d
 *	ASSERT(ext2img_mkfs(&im, "-b 1024 -d SRC", "8M"));
 *	ASSERT(ext2img_mount(&im, false));
 *	... ext2_*(im.fs, &ext2img_root, EXT2_ROOT_INO, ...) ...
 *	ASSERT(ext2img_unmount(&im));
 *	EXPECT(ext2img_fsck(&im));
 *	ext2img_end(&im);
 */
#ifndef UNIT_EXT2IMG_H
#define UNIT_EXT2IMG_H

#include "../../scomponent/ext2.h"
#include "fileblk.h"

#include <stdbool.h>
#include <stddef.h>

struct ext2img {
	char dir[64]; /* temporary directory, removed by ext2img_end */
	char img[96]; /* the image file */
	char src[96]; /* source tree for mke2fs -d */
	struct fileblk fb;
	struct ext2_fs *fs;
	char why[160]; /* the last mount's message */
};

extern const struct fs_cred ext2img_root; /* uid 0 */
extern const struct fs_cred ext2img_user; /* uid 1000, gid 1000 */

/* The time the tests' mounts use (a fixed date in 2023). */
#define EXT2IMG_NOW 1700000000

/* Makes the temporary directory and the empty source tree; puts
 * /usr/sbin and /sbin on PATH. */
bool ext2img_begin(struct ext2img *im);
/* rm -rf of the directory (unmounting first if still mounted). A test
 * that stops early (a failed ASSERT) has its directories removed at exit. */
void ext2img_end(struct ext2img *im);

/* Files of the source tree (paths relative to it). */
bool ext2img_file(struct ext2img *im, const char *rel, const void *data, size_t len);
bool ext2img_dir(struct ext2img *im, const char *rel);
bool ext2img_symlink(struct ext2img *im, const char *target, const char *rel);

/* mke2fs -q -t ext2 OPTS -F img SIZE; "SRC" in opts becomes the source
 * tree's path. */
bool ext2img_mkfs(struct ext2img *im, const char *opts, const char *size);
/* Runs a shell command line with "IMG" replaced by the image path;
 * returns its exit status (output to the test's diagnostics if it fails
 * and show). */
int ext2img_run(struct ext2img *im, const char *cmd, bool show);

/* Mounts / unmounts (ext2_unmount must return 0). */
bool ext2img_mount(struct ext2img *im, bool read_only);
int ext2img_mount_err(struct ext2img *im, bool read_only, size_t cache_bytes);
bool ext2img_unmount(struct ext2img *im);

/* e2fsck -fn on the image: true if it exits 0 (output shown if not). */
bool ext2img_fsck(struct ext2img *im);

/* debugfs -R 'cat PATH': a malloc'd copy of the file and its length, or
 * NULL. */
void *ext2img_cat(struct ext2img *im, const char *path, size_t *len);
/* debugfs -R CMD: its output (malloc'd, NUL-terminated) or NULL. */
char *ext2img_debugfs(struct ext2img *im, const char *cmd);

/* Deterministic test data: byte i of a stream seeded by seed. */
void ext2img_fill(void *buf, size_t len, unsigned seed, size_t at);

#endif
