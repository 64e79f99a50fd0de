/*
 * Host tests of the ext2 driver's namespace calls (scomponent/ext2_ops.c,
 * ext2_dir.c, ext2_path.c): create, mkdir, unlink, rmdir, rename, link,
 * symlink with their rename(2)-style rules and link counts; big
 * directories and getdents paging with cookies; htree directories;
 * permissions (other users, groups, sticky directories, setattr rules);
 * path errors ('..' above the root, ELOOP, ENAMETOOLONG, ENOTDIR) and
 * export roots; refused ext3/ext4 images and read-only mounts. Each test
 * ends with e2fsck -fn on the image.
 */
#include "ext2img.h"
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROOT  EXT2_ROOT_INO
#define RCRED (&ext2img_root)
#define UCRED (&ext2img_user)

static bool fresh(struct ext2img *im, const char *opts, const char *size)
{
	return ext2img_begin(im) && ext2img_mkfs(im, opts, size) &&
	       ext2img_mount(im, false);
}

static void finish(struct ext2img *im)
{
	EXPECT(ext2img_unmount(im));
	EXPECT(ext2img_fsck(im));
	ext2img_end(im);
}

static uint32_t nlink(struct ext2_fs *fs, const char *path)
{
	struct fs_attr a;

	if (ext2_stat(fs, RCRED, ROOT, path, FS_NOFOLLOW, 0, &a))
		return 0;
	return a.nlink;
}

static uint64_t ino_of(struct ext2_fs *fs, const char *path)
{
	struct fs_attr a;

	if (ext2_stat(fs, RCRED, ROOT, path, FS_NOFOLLOW, 0, &a))
		return 0;
	return a.ino;
}

static int put(struct ext2_fs *fs, const char *path, const char *text)
{
	int r = ext2_create(fs, RCRED, ROOT, path, 0644, FS_TRUNC, NULL);

	if (r)
		return r;
	r = ext2_write(fs, RCRED, ROOT, path, 0, text, (uint32_t)strlen(text), NULL);
	return r < 0 ? r : 0;
}

static bool has_text_at(struct ext2_fs *fs, uint32_t root, const char *path,
			const char *text)
{
	char buf[256] = {0};
	int n = ext2_read(fs, RCRED, root, path, 0, buf, sizeof(buf) - 1, NULL);

	return n == (int)strlen(text) && strcmp(buf, text) == 0;
}

static bool has_text(struct ext2_fs *fs, const char *path, const char *text)
{
	return has_text_at(fs, ROOT, path, text);
}

TEST(ext2_create_mkdir_unlink)
{
	struct ext2img im;
	struct fs_attr a;
	struct fs_statfs before, after;

	ASSERT(fresh(&im, "-b 1024", "4M"));
	EXPECT_EQ(ext2_statfs(im.fs, &before), 0);
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/a", 0755, &a), 0);
	EXPECT_EQ(a.nlink, 2u);
	EXPECT_EQ(a.mode, FS_S_IFDIR | 0755);
	EXPECT_EQ(a.size, 1024u);
	EXPECT_EQ(a.mtime, EXT2IMG_NOW);
	EXPECT_EQ(nlink(im.fs, "/"), 4u); /* ., .., lost+found/.., a/.. */
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/a", 0755, NULL), -EEXIST);
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/a/b", 0700, NULL), 0);
	EXPECT_EQ(nlink(im.fs, "/a"), 3u);
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/a/f", 0600, FS_EXCL, &a), 0);
	EXPECT_EQ(a.mode, FS_S_IFREG | 0600);
	EXPECT_EQ(a.nlink, 1u);
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/a/f", 0600, FS_EXCL, NULL), -EEXIST);
	EXPECT_EQ(put(im.fs, "/a/f", "contents"), 0);
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/a/f", 0600, 0, &a), 0);
	EXPECT_EQ(a.size, 8u); /* opened, not truncated */
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/a/f", 0600, FS_TRUNC, &a), 0);
	EXPECT_EQ(a.size, 0u);
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/a", 0600, 0, NULL), -EISDIR);
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/", 0600, 0, NULL), -EISDIR);
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/nodir/f", 0600, 0, NULL), -ENOENT);
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/a/f/g", 0600, 0, NULL), -ENOTDIR);
	EXPECT_EQ(ext2_unlink(im.fs, RCRED, ROOT, "/a/b"), -EISDIR);
	EXPECT_EQ(ext2_rmdir(im.fs, RCRED, ROOT, "/a"), -ENOTEMPTY);
	EXPECT_EQ(ext2_rmdir(im.fs, RCRED, ROOT, "/a/f"), -ENOTDIR);
	EXPECT_EQ(ext2_rmdir(im.fs, RCRED, ROOT, "/a/."), -EINVAL);
	EXPECT_EQ(ext2_rmdir(im.fs, RCRED, ROOT, "/"), -EBUSY);
	EXPECT_EQ(ext2_unlink(im.fs, RCRED, ROOT, "/a/missing"), -ENOENT);
	EXPECT_EQ(ext2_rmdir(im.fs, RCRED, ROOT, "/a/b"), 0);
	EXPECT_EQ(nlink(im.fs, "/a"), 2u);
	EXPECT_EQ(ext2_unlink(im.fs, RCRED, ROOT, "/a/f"), 0);
	EXPECT_EQ(ext2_rmdir(im.fs, RCRED, ROOT, "/a"), 0);
	EXPECT_EQ(nlink(im.fs, "/"), 3u);
	EXPECT_EQ(ext2_statfs(im.fs, &after), 0);
	EXPECT_EQ(after.bfree, before.bfree);
	EXPECT_EQ(after.ffree, before.ffree);
	finish(&im);
}

/* Two lives of one inode number have different generations (ext2 gives
 * the number just freed to the next new file), which stat reports, the
 * disk keeps (debugfs agrees, after a remount too) and e2fsck accepts;
 * a link, a rename, a write keep the generation. */
TEST(ext2_generation_per_life)
{
	struct fs_attr a, b, c, d;
	struct ext2img im;
	char cmd[160];

	ASSERT(fresh(&im, "-b 1024", "4M"));
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/a", 0644, FS_EXCL, &a), 0);
	EXPECT_EQ(put(im.fs, "/a", "first life"), 0);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/a", 0, 0, &d), 0);
	EXPECT(d.ino == a.ino && d.gen == a.gen);
	EXPECT_EQ(ext2_unlink(im.fs, RCRED, ROOT, "/a"), 0);
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/b", 0644, FS_EXCL, &b), 0);
	EXPECT_EQ(b.ino, a.ino);
	EXPECT_NE(b.gen, a.gen);
	EXPECT_EQ(ext2_unlink(im.fs, RCRED, ROOT, "/b"), 0);
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/c", 0755, &c), 0); /* a directory too */
	EXPECT_EQ(c.ino, a.ino);
	EXPECT(c.gen != a.gen && c.gen != b.gen);
	EXPECT_EQ(ext2_rmdir(im.fs, RCRED, ROOT, "/c"), 0);
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/e", 0644, FS_EXCL, &d), 0);
	EXPECT_EQ(d.ino, a.ino);
	EXPECT(d.gen != a.gen && d.gen != b.gen && d.gen != c.gen);
	EXPECT_EQ(put(im.fs, "/e", "fourth life"), 0);
	EXPECT_EQ(ext2_link(im.fs, RCRED, ROOT, "/e", "/f", &b), 0);
	EXPECT_EQ(b.gen, d.gen);
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/e", "/g"), 0);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/g", 0, 0, &b), 0);
	EXPECT(b.ino == d.ino && b.gen == d.gen);
	EXPECT(ext2img_unmount(&im));
	ASSERT(ext2img_mount(&im, false));
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/f", 0, 0, &b), 0);
	EXPECT(b.ino == d.ino && b.gen == d.gen);
	EXPECT(ext2img_unmount(&im));
	snprintf(cmd, sizeof(cmd), "debugfs -R 'stat /g' IMG 2>/dev/null | grep -q 'Generation: %u '",
		 d.gen);
	EXPECT_EQ(ext2img_run(&im, cmd, true), 0);
	ASSERT(ext2img_mount(&im, false));
	finish(&im);
}

TEST(ext2_links_and_symlinks)
{
	struct ext2img im;
	struct fs_attr a;
	char buf[300], longt[200];

	memset(longt, 'y', sizeof(longt) - 1);
	longt[sizeof(longt) - 1] = '\0';
	longt[0] = '/';
	ASSERT(fresh(&im, "-b 1024", "4M"));
	EXPECT_EQ(put(im.fs, "/f", "data"), 0);
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/d", 0755, NULL), 0);
	EXPECT_EQ(ext2_link(im.fs, RCRED, ROOT, "/f", "/d/g", &a), 0);
	EXPECT_EQ(a.nlink, 2u);
	EXPECT(has_text(im.fs, "/d/g", "data"));
	EXPECT_EQ(ext2_link(im.fs, RCRED, ROOT, "/d", "/d2", NULL), -EPERM);
	EXPECT_EQ(ext2_link(im.fs, RCRED, ROOT, "/f", "/d/g", NULL), -EEXIST);
	EXPECT_EQ(ext2_link(im.fs, RCRED, ROOT, "/nope", "/x", NULL), -ENOENT);
	EXPECT_EQ(ext2_symlink(im.fs, RCRED, ROOT, "../f", "/d/fast", &a), 0);
	EXPECT_EQ(a.mode, FS_S_IFLNK | 0777);
	EXPECT_EQ(a.size, 4u);
	EXPECT_EQ(a.blocks, 0u);
	EXPECT(has_text(im.fs, "/d/fast", "data"));
	EXPECT_EQ(ext2_symlink(im.fs, RCRED, ROOT, longt, "/slow", &a), 0);
	EXPECT_EQ(a.blocks, 2u);
	EXPECT_EQ(ext2_readlink(im.fs, RCRED, ROOT, "/slow", buf, sizeof(buf)),
		  (int)strlen(longt));
	EXPECT_STREQ(buf, longt);
	EXPECT_EQ(ext2_readlink(im.fs, RCRED, ROOT, "/f", buf, sizeof(buf)), -EINVAL);
	EXPECT_EQ(ext2_symlink(im.fs, RCRED, ROOT, "", "/empty", NULL), -ENOENT);
	EXPECT_EQ(ext2_symlink(im.fs, RCRED, ROOT, "x", "/f", NULL), -EEXIST);
	/* A link to a symlink is a link to the symlink itself. */
	EXPECT_EQ(ext2_link(im.fs, RCRED, ROOT, "/d/fast", "/fast2", &a), 0);
	EXPECT_EQ(a.mode & FS_S_IFMT, FS_S_IFLNK);
	EXPECT_EQ(ext2_unlink(im.fs, RCRED, ROOT, "/f"), 0);
	EXPECT_EQ(nlink(im.fs, "/d/g"), 1u);
	EXPECT(has_text(im.fs, "/d/g", "data"));
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/d/fast", 0, 0, &a),
		  -ENOENT); /* dangling */
	/* create through a dangling symlink: refused, not made. */
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/d/fast", 0644, 0, NULL), -ENOENT);
	EXPECT_EQ(ext2_unlink(im.fs, RCRED, ROOT, "/d/fast"), 0);
	EXPECT_EQ(nlink(im.fs, "/fast2"), 1u);
	finish(&im);
}

TEST(ext2_rename_rules)
{
	struct ext2img im;
	struct fs_statfs st0, st1;

	ASSERT(fresh(&im, "-b 1024", "4M"));
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/x", 0755, NULL), 0);
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/y", 0755, NULL), 0);
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/x/sub", 0755, NULL), 0);
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/x/sub/deep", 0755, NULL), 0);
	EXPECT_EQ(put(im.fs, "/x/f", "one"), 0);
	EXPECT_EQ(put(im.fs, "/y/g", "two"), 0);
	/* Files: within a directory, across, over another file. */
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/x/f", "/x/f2"), 0);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/x/f", 0, 0, NULL), -ENOENT);
	EXPECT(has_text(im.fs, "/x/f2", "one"));
	EXPECT_EQ(ext2_statfs(im.fs, &st0), 0);
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/x/f2", "/y/g"), 0);
	EXPECT(has_text(im.fs, "/y/g", "one"));
	EXPECT_EQ(ext2_statfs(im.fs, &st1), 0);
	EXPECT_EQ(st1.ffree, st0.ffree + 1); /* the old /y/g is gone */
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/y/g", "/y/g"), 0);
	/* Type rules. */
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/y/g", "/x/sub"), -EISDIR);
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/x/sub", "/y/g"), -ENOTDIR);
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/x", "/y"), -ENOTEMPTY);
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/x", "/x/sub/deep/in"), -EINVAL);
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/x", "/x/sub/deep"), -EINVAL);
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/x/sub", "/x/sub/deep/in"), -EINVAL);
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/x/..", "/q"), -EINVAL);
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/", "/q"), -EBUSY);
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/missing", "/q"), -ENOENT);
	/* A directory moves: '..' and both parents' link counts follow. */
	EXPECT_EQ(nlink(im.fs, "/x"), 3u);
	EXPECT_EQ(nlink(im.fs, "/y"), 2u);
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/x/sub", "/y/moved"), 0);
	EXPECT_EQ(nlink(im.fs, "/x"), 2u);
	EXPECT_EQ(nlink(im.fs, "/y"), 3u);
	EXPECT_EQ(ino_of(im.fs, "/y/moved/.."), ino_of(im.fs, "/y"));
	EXPECT_EQ(ino_of(im.fs, "/y/moved/deep/../.."), ino_of(im.fs, "/y"));
	/* Over an empty directory, across parents. */
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/x/empty", 0755, NULL), 0);
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/y/moved/deep", "/x/empty"), 0);
	EXPECT_EQ(nlink(im.fs, "/x"), 3u);
	EXPECT_EQ(nlink(im.fs, "/y/moved"), 2u);
	EXPECT_EQ(ino_of(im.fs, "/x/empty/.."), ino_of(im.fs, "/x"));
	/* Over an empty directory in the same parent. */
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/x/e2", 0755, NULL), 0);
	EXPECT_EQ(nlink(im.fs, "/x"), 4u);
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/x/empty", "/x/e2"), 0);
	EXPECT_EQ(nlink(im.fs, "/x"), 3u);
	/* A hard link pair: rename of one name onto the other is a no-op. */
	EXPECT_EQ(ext2_link(im.fs, RCRED, ROOT, "/y/g", "/y/h", NULL), 0);
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/y/g", "/y/h"), 0);
	EXPECT_EQ(nlink(im.fs, "/y/h"), 2u);
	finish(&im);
}

/* --- Big directories and getdents ---------------------------------------- */

struct seen {
	unsigned count[1000];
	unsigned dots, other;
};

/* Parses one getdents buffer, checking the record layout. */
static void parse_dents(const uint8_t *buf, int n, struct seen *s, uint64_t *last_off)
{
	int at = 0;

	while (at < n) {
		uint64_t ino;
		int64_t off;
		uint16_t reclen;
		const char *name = (const char *)buf + at + 19;
		unsigned k;
		bool dot;

		memcpy(&ino, buf + at, 8);
		memcpy(&off, buf + at + 8, 8);
		memcpy(&reclen, buf + at + 16, 2);
		if (!EXPECT(reclen % 8 == 0 && reclen >= 24 && at + reclen <= n &&
			    strlen(name) + 20 <= reclen && ino != 0))
			return;
		*last_off = (uint64_t)off;
		dot = !strcmp(name, ".") || !strcmp(name, "..");
		EXPECT_EQ(buf[at + 18], dot ? FS_DT_DIR : FS_DT_REG);
		if (dot)
			s->dots++;
		else if (sscanf(name, "entry-with-a-longer-name-%u", &k) == 1 && k < 1000)
			s->count[k]++;
		else
			s->other++;
		at += reclen;
	}
}

/* Lists /d from cookie with cap-byte pages into s; returns pages. */
static int list_all(struct ext2_fs *fs, size_t cap, uint64_t cookie, struct seen *s)
{
	uint8_t *buf = malloc(cap);
	bool eof = false;
	int pages = 0;

	while (!eof && pages < 10000) {
		uint64_t last = 0;
		int n = ext2_getdents(fs, RCRED, ROOT, "/d", &cookie, buf, cap, &eof);

		if (!EXPECT(n > 0 || (n == 0 && eof)))
			break;
		parse_dents(buf, n, s, &last);
		if (n > 0)
			EXPECT_EQ(last, cookie);
		pages++;
	}
	free(buf);
	return pages;
}

TEST(ext2_big_directory)
{
	struct ext2img im;
	struct seen *s = calloc(1, sizeof(*s));
	char path[80];
	uint64_t cookie = 0;
	uint8_t small[16];
	bool eof;
	struct fs_attr a;

	ASSERT(fresh(&im, "-b 1024 -N 1200", "8M"));
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/d", 0755, NULL), 0);
	for (int i = 0; i < 600; i++) {
		snprintf(path, sizeof(path), "/d/entry-with-a-longer-name-%u", i);
		EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, path, 0644, FS_EXCL, NULL), 0);
	}
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/d", 0, 0, &a), 0);
	EXPECT_GT(a.size, 20u * 1024);
	/* Small pages and big ones see every entry once. */
	EXPECT_GT(list_all(im.fs, 256, 0, s), 100);
	EXPECT_EQ(s->dots, 2u);
	EXPECT_EQ(s->other, 0u);
	for (int i = 0; i < 600; i++)
		EXPECT_EQ(s->count[i], 1u);
	memset(s, 0, sizeof(*s));
	EXPECT_LE(list_all(im.fs, FS_DIRENT_BYTES, 0, s), 10);
	for (int i = 0; i < 600; i++)
		EXPECT_EQ(s->count[i], 1u);
	EXPECT_EQ(ext2_getdents(im.fs, RCRED, ROOT, "/d", &cookie, small, sizeof(small),
				&eof),
		  -EINVAL);
	/* Remove every other entry; a walk resumed from a cookie taken before
	 * sees each survivor after it once, and no removed one. */
	{
		uint8_t page[512];
		uint64_t mid = 0;
		int n = ext2_getdents(im.fs, RCRED, ROOT, "/d", &mid, page, sizeof(page),
				      &eof);

		EXPECT_GT(n, 0);
		for (int i = 0; i < 600; i += 2) {
			snprintf(path, sizeof(path), "/d/entry-with-a-longer-name-%u", i);
			EXPECT_EQ(ext2_unlink(im.fs, RCRED, ROOT, path), 0);
		}
		memset(s, 0, sizeof(*s));
		list_all(im.fs, 300, mid, s);
		for (int i = 0; i < 600; i++)
			EXPECT_LE(s->count[i], (unsigned)(i % 2));
		EXPECT_GT(s->count[599], 0u);
	}
	/* Refill: freed records are reused, the directory does not grow. */
	{
		struct fs_attr b;

		for (int i = 0; i < 600; i += 2) {
			snprintf(path, sizeof(path), "/d/entry-with-a-longer-name-%u", i);
			EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, path, 0644, FS_EXCL,
					      NULL),
				  0);
		}
		EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/d", 0, 0, &b), 0);
		EXPECT_EQ(b.size, a.size);
	}
	EXPECT_EQ(ext2_rmdir(im.fs, RCRED, ROOT, "/d"), -ENOTEMPTY);
	free(s);
	finish(&im);
}

/* Directories indexed by e2fsck -D read as linear ones; a change drops
 * the index flag and e2fsck stays happy. */
TEST(ext2_htree_directory)
{
	struct ext2img im;
	char name[80], *out;
	struct fs_attr a;

	ASSERT(ext2img_begin(&im));
	ASSERT(ext2img_dir(&im, "h"));
	for (int i = 0; i < 400; i++) {
		snprintf(name, sizeof(name), "h/entry-with-a-longer-name-%u", i);
		ASSERT(ext2img_file(&im, name, "x", 1));
	}
	ASSERT(ext2img_mkfs(&im, "-b 1024 -d SRC", "8M"));
	EXPECT_LE(ext2img_run(&im, "e2fsck -fyD IMG", true), 1);
	out = ext2img_debugfs(&im, "stat /h");
	EXPECT(out && strstr(out, "Flags: 0x1000"));
	free(out);
	ASSERT(ext2img_mount(&im, false));
	for (int i = 0; i < 400; i += 7) {
		snprintf(name, sizeof(name), "/h/entry-with-a-longer-name-%u", i);
		EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, name, 0, 0, &a), 0);
	}
	EXPECT_EQ(ext2_unlink(im.fs, RCRED, ROOT, "/h/entry-with-a-longer-name-5"), 0);
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/h/new", 0644, 0, NULL), 0);
	EXPECT(ext2img_unmount(&im));
	EXPECT(ext2img_fsck(&im));
	out = ext2img_debugfs(&im, "stat /h");
	EXPECT(out && strstr(out, "Flags: 0x0"));
	free(out);
	ext2img_end(&im);
}

/* --- Permissions ---------------------------------------------------------- */

TEST(ext2_permissions)
{
	struct ext2img im;
	struct fs_cred other = {.uid = 1001, .gid = 1001};
	struct fs_cred grp = {.uid = 1002, .gid = 1002, .ngroups = 1, .groups = {50}};
	struct fs_attr a;
	char buf[16];

	ASSERT(fresh(&im, "-b 1024", "4M"));
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/priv", 0700, NULL), 0);
	EXPECT_EQ(put(im.fs, "/priv/x", "secret"), 0);
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/pub", 0755, NULL), 0);
	EXPECT_EQ(put(im.fs, "/pub/f", "public"), 0);
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/tmp", 01777, NULL), 0);
	/* Search permission on the path, read/write on the file. */
	EXPECT_EQ(ext2_stat(im.fs, UCRED, ROOT, "/priv/x", 0, 0, &a), -EACCES);
	EXPECT_EQ(ext2_getdents(im.fs, UCRED, ROOT, "/priv", &(uint64_t){0}, buf,
				sizeof(buf), &(bool){0}),
		  -EACCES);
	EXPECT_EQ(ext2_read(im.fs, UCRED, ROOT, "/pub/f", 0, buf, sizeof(buf), NULL), 6);
	EXPECT_EQ(ext2_write(im.fs, UCRED, ROOT, "/pub/f", 0, "x", 1, NULL), -EACCES);
	EXPECT_EQ(ext2_truncate(im.fs, UCRED, ROOT, "/pub/f", 0, NULL), -EACCES);
	EXPECT_EQ(ext2_create(im.fs, UCRED, ROOT, "/pub/new", 0644, 0, NULL), -EACCES);
	EXPECT_EQ(ext2_unlink(im.fs, UCRED, ROOT, "/pub/f"), -EACCES);
	EXPECT_EQ(ext2_stat(im.fs, UCRED, ROOT, "/pub/f", 0, FS_MAY_READ, NULL), 0);
	EXPECT_EQ(ext2_stat(im.fs, UCRED, ROOT, "/pub/f", 0, FS_MAY_WRITE, NULL),
		  -EACCES);
	/* Root: everything but executing a file without x bits. */
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/priv/x", 0, FS_MAY_WRITE | FS_MAY_READ,
			    NULL),
		  0);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/pub/f", 0, FS_MAY_EXEC, NULL), -EACCES);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/priv", 0, FS_MAY_EXEC, NULL), 0);
	/* Groups. */
	EXPECT_EQ(ext2_setattr(im.fs, RCRED, ROOT, "/pub/f", 0, FS_SET_GID | FS_SET_MODE,
			       0640, 0, 50, 0, 0, &a),
		  0);
	EXPECT_EQ(a.gid, 50u);
	EXPECT_EQ(ext2_read(im.fs, &grp, ROOT, "/pub/f", 0, buf, sizeof(buf), NULL), 6);
	EXPECT_EQ(ext2_read(im.fs, UCRED, ROOT, "/pub/f", 0, buf, sizeof(buf), NULL),
		  -EACCES);
	/* setattr: only the owner (or root) changes mode and times; only root
	 * gives a file away; an owner may pick one of its groups. */
	EXPECT_EQ(ext2_create(im.fs, UCRED, ROOT, "/tmp/mine", 04755, 0, &a), 0);
	EXPECT_EQ(a.uid, 1000u);
	EXPECT_EQ(a.gid, 1000u);
	EXPECT_EQ(ext2_setattr(im.fs, &other, ROOT, "/tmp/mine", 0, FS_SET_MODE, 0777, 0,
			       0, 0, 0, NULL),
		  -EPERM);
	EXPECT_EQ(ext2_setattr(im.fs, &other, ROOT, "/tmp/mine", 0, FS_SET_MTIME, 0, 0, 0,
			       0, 5, NULL),
		  -EPERM);
	EXPECT_EQ(ext2_setattr(im.fs, UCRED, ROOT, "/tmp/mine", 0, FS_SET_UID, 0, 1001, 0,
			       0, 0, NULL),
		  -EPERM);
	EXPECT_EQ(ext2_setattr(im.fs, UCRED, ROOT, "/tmp/mine", 0, FS_SET_GID, 0, 0, 50,
			       0, 0, NULL),
		  -EPERM);
	EXPECT_EQ(ext2_setattr(im.fs, UCRED, ROOT, "/tmp/mine", 0,
			       FS_SET_MODE | FS_SET_ATIME | FS_SET_MTIME, 0700, 0, 0, 11,
			       22, &a),
		  0);
	EXPECT_EQ(a.mode, FS_S_IFREG | 0700);
	EXPECT_EQ(a.atime, 11);
	EXPECT_EQ(a.mtime, 22);
	EXPECT_EQ(a.ctime, EXT2IMG_NOW);
	EXPECT_EQ(ext2_setattr(im.fs, RCRED, ROOT, "/tmp/mine", 0, FS_SET_MODE, 0, 0, 0,
			       0, 0, NULL),
		  0);
	EXPECT_EQ(ext2_setattr(im.fs, RCRED, ROOT, "/tmp/mine", 0, FS_SET_MODE, 06755, 0,
			       0, 0, 0, NULL),
		  0);
	/* chown clears set-ID bits; a write by the owner does too. */
	EXPECT_EQ(ext2_setattr(im.fs, RCRED, ROOT, "/tmp/mine", 0, FS_SET_UID, 0, 1001, 0,
			       0, 0, &a),
		  0);
	EXPECT_EQ(a.mode, FS_S_IFREG | 0755);
	EXPECT_EQ(ext2_setattr(im.fs, RCRED, ROOT, "/tmp/mine", 0,
			       FS_SET_MODE | FS_SET_UID, 04777, 1000, 0, 0, 0, NULL),
		  0);
	EXPECT_EQ(ext2_write(im.fs, UCRED, ROOT, "/tmp/mine", 0, "x", 1, &a), 1);
	EXPECT_EQ(a.mode, FS_S_IFREG | 0777);
	/* Sticky /tmp: only the owner of the file (or of /tmp, or root)
	 * removes or renames it. */
	EXPECT_EQ(ext2_unlink(im.fs, &other, ROOT, "/tmp/mine"), -EPERM);
	EXPECT_EQ(ext2_rename(im.fs, &other, ROOT, "/tmp/mine", "/tmp/theirs"), -EPERM);
	EXPECT_EQ(ext2_create(im.fs, &other, ROOT, "/tmp/o", 0644, 0, NULL), 0);
	EXPECT_EQ(ext2_rename(im.fs, UCRED, ROOT, "/tmp/mine", "/tmp/o"), -EPERM);
	EXPECT_EQ(ext2_rename(im.fs, UCRED, ROOT, "/tmp/mine", "/tmp/renamed"), 0);
	EXPECT_EQ(ext2_unlink(im.fs, UCRED, ROOT, "/tmp/renamed"), 0);
	EXPECT_EQ(ext2_unlink(im.fs, RCRED, ROOT, "/tmp/o"), 0);
	/* Set-group-ID directories hand their group down. */
	EXPECT_EQ(ext2_setattr(im.fs, RCRED, ROOT, "/pub", 0, FS_SET_MODE | FS_SET_GID,
			       02777, 0, 50, 0, 0, NULL),
		  0);
	EXPECT_EQ(ext2_mkdir(im.fs, UCRED, ROOT, "/pub/sg", 0755, &a), 0);
	EXPECT_EQ(a.gid, 50u);
	EXPECT_EQ(a.mode, FS_S_IFDIR | 02755);
	finish(&im);
}

/* --- Paths ------------------------------------------------------------------ */

TEST(ext2_path_rules)
{
	struct ext2img im;
	char longname[300], longpath[FS_PATH_MAX + 10];
	struct fs_attr a;
	uint32_t export;

	memset(longname, 'n', sizeof(longname));
	longname[0] = '/';
	longname[257] = '\0';
	memset(longpath, 'p', sizeof(longpath));
	longpath[0] = '/';
	longpath[FS_PATH_MAX + 5] = '\0';
	ASSERT(fresh(&im, "-b 1024", "4M"));
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/a", 0755, NULL), 0);
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/a/b", 0755, NULL), 0);
	EXPECT_EQ(put(im.fs, "/a/b/f", "in b"), 0);
	EXPECT_EQ(put(im.fs, "/top", "top"), 0);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/..", 0, 0, &a), -EACCES);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/a/../..", 0, 0, &a), -EACCES);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "//a/./b/../b//f", 0, 0, &a), 0);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "a/b", 0, 0, &a), -EINVAL);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, longname, 0, 0, &a), -ENAMETOOLONG);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, longpath, 0, 0, &a), -EINVAL);
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, longname, 0644, 0, &a), -ENAMETOOLONG);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/top/x", 0, 0, &a), -ENOTDIR);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/top/", 0, 0, &a), -ENOTDIR);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/a/b/", 0, 0, &a), 0);
	/* Symlink loops and depth. */
	EXPECT_EQ(ext2_symlink(im.fs, RCRED, ROOT, "l2", "/l1", NULL), 0);
	EXPECT_EQ(ext2_symlink(im.fs, RCRED, ROOT, "l1", "/l2", NULL), 0);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/l1", 0, 0, &a), -ELOOP);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/l1", FS_NOFOLLOW, 0, &a), 0);
	EXPECT_EQ(ext2_symlink(im.fs, RCRED, ROOT, "a/b", "/s1", NULL), 0);
	EXPECT_EQ(ext2_symlink(im.fs, RCRED, ROOT, "/s1/f", "/s2", NULL), 0);
	EXPECT(has_text(im.fs, "/s2", "in b"));
	EXPECT_EQ(ext2_symlink(im.fs, RCRED, ROOT, "../..", "/a/b/up2", NULL), 0);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/a/b/up2/top", 0, 0, &a), 0);
	EXPECT_EQ(ext2_symlink(im.fs, RCRED, ROOT, "../../..", "/a/b/up3", NULL), 0);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/a/b/up3/top", 0, 0, &a), -EACCES);
	/* An export root: "/" is /a, ".." stops there, absolute links
	 * start there. */
	EXPECT_EQ(ext2_resolve_dir(im.fs, RCRED, ROOT, "/a", &export), 0);
	EXPECT_EQ(ext2_resolve_dir(im.fs, RCRED, ROOT, "/top", &export), -ENOTDIR);
	EXPECT_EQ(ext2_resolve_dir(im.fs, RCRED, ROOT, "/s1/..", &export), 0);
	EXPECT_EQ(export, ino_of(im.fs, "/a"));
	EXPECT_EQ(ext2_stat(im.fs, RCRED, export, "/b/f", 0, 0, &a), 0);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, export, "/..", 0, 0, &a), -EACCES);
	EXPECT_EQ(ext2_symlink(im.fs, RCRED, ROOT, "..", "/a/b/up1", NULL), 0);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, export, "/b/up1", 0, 0, &a), 0); /* is /a */
	EXPECT_EQ(a.ino, export);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, export, "/b/up2", 0, 0, &a), -EACCES);
	EXPECT_EQ(ext2_symlink(im.fs, RCRED, export, "/b/f", "/abs", NULL), 0);
	EXPECT(has_text_at(im.fs, export, "/abs", "in b")); /* /b/f from the export */
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/a/abs", 0, 0, &a), -ENOENT);
	EXPECT_EQ(ext2_rmdir(im.fs, RCRED, export, "/"), -EBUSY);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, 0, "/", 0, 0, &a), -EINVAL);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, (uint32_t)ino_of(im.fs, "/top"), "/", 0, 0, &a),
		  -ENOTDIR);
	finish(&im);
}

/* --- Features and read-only mounts ----------------------------------------- */

static void refused(const char *type, const char *opts, const char *words)
{
	struct ext2img im;
	char cmd[160];

	ASSERT(ext2img_begin(&im));
	snprintf(cmd, sizeof(cmd), "mke2fs -q -t %s %s -F IMG 8M", type, opts);
	ASSERT_EQ(ext2img_run(&im, cmd, true), 0);
	EXPECT_EQ(ext2img_mount_err(&im, false, 0), -EOPNOTSUPP);
	for (const char *w = words; *w; w += strlen(w) + 1)
		EXPECT(strstr(im.why, w) != NULL);
	unit_diag("%s %s: %s", type, opts, im.why);
	ext2img_end(&im);
}

TEST(ext2_refuses_ext3_ext4)
{
	refused("ext4", "", "has_journal\0extent\0mke2fs -t ext2\0");
	refused("ext3", "", "has_journal\0");
	refused("ext4", "-O ^has_journal", "extent\0flex_bg\0");
	refused("ext2", "-O meta_bg,^resize_inode", "meta_bg\0");
}

TEST(ext2_read_only)
{
	struct ext2img im;
	char buf[16];

	ASSERT(ext2img_begin(&im));
	ASSERT(ext2img_file(&im, "f", "hello", 5));
	ASSERT(ext2img_mkfs(&im, "-b 1024 -d SRC", "4M"));
	ASSERT(ext2img_mount(&im, true));
	EXPECT_EQ(ext2_read(im.fs, RCRED, ROOT, "/f", 0, buf, sizeof(buf), NULL), 5);
	EXPECT_EQ(ext2_write(im.fs, RCRED, ROOT, "/f", 0, "x", 1, NULL), -EROFS);
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/g", 0644, 0, NULL), -EROFS);
	EXPECT_EQ(ext2_mkdir(im.fs, RCRED, ROOT, "/d", 0755, NULL), -EROFS);
	EXPECT_EQ(ext2_unlink(im.fs, RCRED, ROOT, "/f"), -EROFS);
	EXPECT_EQ(ext2_rename(im.fs, RCRED, ROOT, "/f", "/g"), -EROFS);
	EXPECT_EQ(ext2_truncate(im.fs, RCRED, ROOT, "/f", 0, NULL), -EROFS);
	EXPECT_EQ(ext2_setattr(im.fs, RCRED, ROOT, "/f", 0, FS_SET_MODE, 0600, 0, 0, 0, 0,
			       NULL),
		  -EROFS);
	EXPECT_EQ(ext2_stat(im.fs, RCRED, ROOT, "/f", 0, FS_MAY_WRITE, NULL), -EROFS);
	EXPECT_EQ(ext2_sync(im.fs), 0);
	EXPECT(ext2img_unmount(&im));
	/* Unknown RO_COMPAT features: mounted read-only, and said so. */
	ASSERT_EQ(ext2img_run(&im, "tune2fs -O huge_file IMG", true), 0);
	ASSERT(ext2img_mount(&im, false));
	EXPECT(strstr(im.why, "read-only") && strstr(im.why, "huge_file"));
	EXPECT_EQ(ext2_create(im.fs, RCRED, ROOT, "/g", 0644, 0, NULL), -EROFS);
	EXPECT_EQ(ext2_read(im.fs, RCRED, ROOT, "/f", 0, buf, sizeof(buf), NULL), 5);
	EXPECT(ext2img_unmount(&im));
	/* A read-only device. */
	ASSERT_EQ(ext2img_run(&im, "tune2fs -O ^huge_file IMG", true), 0);
	ASSERT_EQ(fileblk_open(&im.fb, im.img, true), 0);
	ASSERT_EQ(ext2_mount(&im.fb.bd, NULL, &im.fs, im.why, sizeof(im.why)), 0);
	EXPECT(strstr(im.why, "read-only") != NULL);
	EXPECT_EQ(ext2_unlink(im.fs, RCRED, ROOT, "/f"), -EROFS);
	EXPECT(ext2img_unmount(&im));
	EXPECT(ext2img_fsck(&im));
	ext2img_end(&im);
}
