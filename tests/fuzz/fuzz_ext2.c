/*
 * libFuzzer target for the ext2 driver (scomponent/ext2*.c and the block
 * cache), whose input is a disk image: anything a storage node is handed.
 *
 * The input is a small image, run-length encoded so that real mke2fs
 * images fit in libFuzzer's -max_len (tests/fuzz/mkseeds_ext2.py writes
 * seeds in this form):
 *
 *   byte 0   flags: bits 0-1 image size 64 KiB << n; bit 2 read-only mount
 *   then     records: c < 0x80: c + 1 literal bytes follow;
 *            c >= 0x80: ((c & 0x7f) << 8 | next) + 1 copies of the byte
 *            after that; the image's rest stays zero
 *
 * The image is mounted on the in-memory block device (tests/unit/
 * fileblk.c) with a small cache, so eviction and write-back run too.
 * Then a fixed sequence: walk everything reachable from the root
 * (getdents in small pages, stat, read the start and a later part of each
 * file, readlink), change the tree (create, write across the indirect
 * boundary, truncate, mkdir, link, symlink, rename of files and
 * directories, also over existing names, unlink, rmdir, setattr), statfs, sync, unmount;
 * then mount the result again and walk it once more. Results are checked where the
 * contract makes promises (read lengths, getdents record layout, link
 * targets); the sanitizers watch the rest.
 */
#include "../../scomponent/ext2.h"
#include "../unit/fileblk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VISITS 48
#define MAX_PAGES  64

static const struct fs_cred root_cred = {0};
static const struct fs_cred user_cred = {
	.uid = 1000, .gid = 1000, .ngroups = 1, .groups = {100}};

static int64_t fixed_now(void)
{
	return 1700000000;
}

static size_t decode(const uint8_t *in, size_t n, uint8_t *img, size_t size)
{
	size_t i = 1, o = 0;

	while (i < n && o < size) {
		uint8_t c = in[i++];

		if (c < 0x80) {
			size_t len = (size_t)c + 1;

			for (size_t k = 0; k < len && i < n && o < size; k++)
				img[o++] = in[i++];
		} else {
			size_t len;

			if (i + 1 >= n)
				break;
			len = ((size_t)(c & 0x7f) << 8 | in[i]) + 1;
			memset(img + o, in[i + 1], len < size - o ? len : size - o);
			o += len < size - o ? len : size - o;
			i += 2;
		}
	}
	return o;
}

struct walk {
	struct ext2_fs *fs;
	char paths[MAX_VISITS][128];
	unsigned n, next;
	char file[128]; /* a regular file found, for the changes */
	char dir[128];	/* a directory found below the root */
};

static void check_dirents(const uint8_t *buf, int n, size_t cap)
{
	int at = 0;

	if (n < 0)
		return;
	if ((size_t)n > cap)
		abort();
	while (at < n) {
		uint16_t reclen;

		if (n - at < 24)
			abort();
		memcpy(&reclen, buf + at + 16, 2);
		if (reclen < 24 || reclen % 8 || reclen > n - at ||
		    !memchr(buf + at + 19, 0, reclen - 19))
			abort();
		at += reclen;
	}
}

static void visit_file(struct walk *w, const char *path, const struct fs_attr *a)
{
	static uint8_t buf[8192];
	uint64_t far = a->size > 70000 ? 70000 : a->size / 2;
	int n;

	n = ext2_read(w->fs, &root_cred, EXT2_ROOT_INO, path, 0, buf, sizeof(buf), NULL);
	if (n > (int)sizeof(buf))
		abort();
	n = ext2_read(w->fs, &user_cred, EXT2_ROOT_INO, path, far, buf, 3000, NULL);
	if (n > 3000)
		abort();
	/* past the cache, as the file server's big reads (bmap_run) */
	n = ext2_read_direct(w->fs, &root_cred, EXT2_ROOT_INO, path, 100, buf, 0,
			     sizeof(buf), NULL);
	if (n > (int)sizeof(buf))
		abort();
	if (!w->file[0])
		snprintf(w->file, sizeof(w->file), "%s", path);
}

static void visit_link(struct walk *w, const char *path)
{
	char target[FS_PATH_MAX];
	int n = ext2_readlink(w->fs, &root_cred, EXT2_ROOT_INO, path, target,
			      sizeof(target));

	if (n >= 0 && (n >= (int)sizeof(target) || target[n] != '\0'))
		abort();
	ext2_stat(w->fs, &root_cred, EXT2_ROOT_INO, path, 0, FS_MAY_READ, NULL);
}

/* Queues the entries of directory path. */
static void list_dir(struct walk *w, const char *path)
{
	static uint8_t buf[320];
	uint64_t cookie = 0;
	bool eof = false;

	for (int page = 0; page < MAX_PAGES && !eof; page++) {
		int n = ext2_getdents(w->fs, &root_cred, EXT2_ROOT_INO, path, &cookie,
				      buf, sizeof(buf), &eof);

		check_dirents(buf, n, sizeof(buf));
		if (n <= 0)
			break;
		for (int at = 0; at < n;) {
			uint16_t reclen;
			const char *name = (const char *)buf + at + 19;

			memcpy(&reclen, buf + at + 16, 2);
			at += reclen;
			if (!strcmp(name, ".") || !strcmp(name, "..") ||
			    w->n >= MAX_VISITS)
				continue;
			snprintf(w->paths[w->n++], sizeof(w->paths[0]), "%s/%.100s",
				 strcmp(path, "/") ? path : "", name);
		}
	}
}

static void walk_all(struct walk *w)
{
	struct fs_attr a;

	memset(w->paths, 0, sizeof(w->paths));
	w->n = w->next = 0;
	w->file[0] = w->dir[0] = '\0';
	list_dir(w, "/");
	while (w->next < w->n) {
		const char *p = w->paths[w->next++];

		if (ext2_stat(w->fs, &root_cred, EXT2_ROOT_INO, p, FS_NOFOLLOW, 0, &a))
			continue;
		switch (a.mode & FS_S_IFMT) {
		case FS_S_IFDIR:
			if (!w->dir[0])
				snprintf(w->dir, sizeof(w->dir), "%s", p);
			list_dir(w, p);
			break;
		case FS_S_IFREG:
			visit_file(w, p, &a);
			break;
		case FS_S_IFLNK:
			visit_link(w, p);
			break;
		}
	}
}

static void change_tree(struct walk *w)
{
	static uint8_t data[6000];
	const struct fs_cred *rc = &root_cred;
	struct ext2_fs *fs = w->fs;
	struct fs_statfs st;
	char to[160];

	memset(data, 'w', sizeof(data));
	ext2_create(fs, rc, EXT2_ROOT_INO, "/fz", 0644, 0, NULL);
	ext2_write(fs, rc, EXT2_ROOT_INO, "/fz", 0, data, sizeof(data), NULL);
	ext2_write(fs, rc, EXT2_ROOT_INO, "/fz", 12 * 1024 - 100, data, 300, NULL);
	ext2_truncate(fs, rc, EXT2_ROOT_INO, "/fz", 3000, NULL);
	ext2_mkdir(fs, rc, EXT2_ROOT_INO, "/fzd", 0755, NULL);
	ext2_rename(fs, rc, EXT2_ROOT_INO, "/fz", "/fzd/f");
	ext2_link(fs, rc, EXT2_ROOT_INO, "/fzd/f", "/fzl", NULL);
	ext2_symlink(fs, rc, EXT2_ROOT_INO, "fzd/f", "/fzs", NULL);
	memset(to, 'q', 100); /* a slow symlink */
	to[100] = '\0';
	ext2_symlink(fs, rc, EXT2_ROOT_INO, to, "/fzq", NULL);
	if (w->file[0]) {
		ext2_write(fs, rc, EXT2_ROOT_INO, w->file, 10, data, 100, NULL);
		ext2_write_direct(fs, rc, EXT2_ROOT_INO, w->file, 4096, data, 0,
				  sizeof(data), NULL);
		ext2_truncate(fs, rc, EXT2_ROOT_INO, w->file, 1, NULL);
		ext2_setattr(fs, &user_cred, EXT2_ROOT_INO, w->file, 0, FS_SET_MODE, 0600,
			     0, 0, 0, 0, NULL);
		snprintf(to, sizeof(to), "/fzd/moved");
		ext2_rename(fs, rc, EXT2_ROOT_INO, w->file, to);
		ext2_unlink(fs, rc, EXT2_ROOT_INO, to);
	}
	if (w->dir[0]) {
		snprintf(to, sizeof(to), "%s/fzsub", w->dir);
		ext2_mkdir(fs, rc, EXT2_ROOT_INO, to, 0700, NULL);
		ext2_rename(fs, rc, EXT2_ROOT_INO, "/fzd", to);
		ext2_rename(fs, rc, EXT2_ROOT_INO, w->dir, "/fzd2");
		ext2_rmdir(fs, rc, EXT2_ROOT_INO, "/fzd2");
	}
	ext2_mkdir(fs, rc, EXT2_ROOT_INO, "/fze", 0755, NULL);
	ext2_rename(fs, rc, EXT2_ROOT_INO, "/fzs", "/fzq");  /* over a name */
	ext2_rename(fs, rc, EXT2_ROOT_INO, "/fze", "/fzd2"); /* over a directory */
	ext2_unlink(fs, rc, EXT2_ROOT_INO, "/fzl");
	ext2_rmdir(fs, rc, EXT2_ROOT_INO, "/lost+found");
	ext2_statfs(fs, &st);
	ext2_sync(fs);
}

static bool mount(struct fileblk *fb, uint8_t *img, size_t size, bool ro,
		  struct ext2_fs **fs)
{
	struct ext2_mount_opts o = {
		.cache_bytes = 16 * 1024, .read_only = ro, .now = fixed_now};
	char why[160];

	memblk_init(fb, img, size, false);
	return ext2_mount(&fb->bd, &o, fs, why, sizeof(why)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct walk w;
	struct fileblk fb;
	size_t img_size;
	uint8_t *img;
	bool ro;

	if (size < 2)
		return 0;
	img_size = (size_t)64 * 1024 << (data[0] & 3);
	ro = data[0] & 4;
	img = calloc(1, img_size);
	if (!img)
		return 0;
	decode(data, size, img, img_size);
	if (mount(&fb, img, img_size, ro, &w.fs)) {
		walk_all(&w);
		if (!ro)
			change_tree(&w);
		ext2_unmount(w.fs);
		if (mount(&fb, img, img_size, true, &w.fs)) {
			walk_all(&w);
			ext2_unmount(w.fs);
		}
	}
	free(img);
	return 0;
}
