/*
 * Scratch ext2 images for the host tests: see ext2img.h.
 *
 * Commands run through /bin/sh with their output captured in a file of
 * the image's directory, shown as KTAP diagnostics when they fail.
 */
#include "ext2img.h"

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const struct fs_cred ext2img_root = {0};
const struct fs_cred ext2img_user = {.uid = 1000, .gid = 1000};

/* Directories of images not ended yet, removed at exit: a test that
 * stops at a failed ASSERT leaves nothing behind. */
static char pending[16][64];

static void remove_dir(const char *dir)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		unit_diag("cannot remove %s", dir);
}

static void remove_pending(void)
{
	for (unsigned i = 0; i < 16; i++)
		if (pending[i][0])
			remove_dir(pending[i]);
}

static void track(const char *dir, bool add)
{
	static bool registered;

	if (!registered && add)
		registered = atexit(remove_pending) == 0;
	for (unsigned i = 0; i < 16; i++) {
		if (add && !pending[i][0]) {
			snprintf(pending[i], sizeof(pending[i]), "%s", dir);
			return;
		}
		if (!add && !strcmp(pending[i], dir)) {
			pending[i][0] = '\0';
			return;
		}
	}
}

static int64_t fixed_now(void)
{
	return EXT2IMG_NOW;
}

bool ext2img_begin(struct ext2img *im)
{
	const char *path = getenv("PATH");
	char newpath[4096];

	memset(im, 0, sizeof(*im));
	im->fb.fd = -1;
	snprintf(newpath, sizeof(newpath), "/usr/sbin:/sbin:%s",
		 path ? path : "/usr/bin:/bin");
	setenv("PATH", newpath, 1);
	strcpy(im->dir, "/tmp/tessera-ext2-XXXXXX");
	if (!mkdtemp(im->dir))
		return false;
	track(im->dir, true);
	snprintf(im->img, sizeof(im->img), "%s/img", im->dir);
	snprintf(im->src, sizeof(im->src), "%s/src", im->dir);
	return mkdir(im->src, 0755) == 0;
}

void ext2img_end(struct ext2img *im)
{
	if (im->fs)
		ext2_unmount(im->fs);
	im->fs = NULL;
	fileblk_close(&im->fb);
	if (im->dir[0]) {
		remove_dir(im->dir);
		track(im->dir, false);
	}
	im->dir[0] = '\0';
}

static void src_path(struct ext2img *im, const char *rel, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", im->src, rel);
}

bool ext2img_file(struct ext2img *im, const char *rel, const void *data, size_t len)
{
	char p[512];
	FILE *f;
	bool ok;

	src_path(im, rel, p, sizeof(p));
	f = fopen(p, "wb");
	if (!f)
		return false;
	ok = fwrite(data, 1, len, f) == len;
	return fclose(f) == 0 && ok;
}

bool ext2img_dir(struct ext2img *im, const char *rel)
{
	char p[512];

	src_path(im, rel, p, sizeof(p));
	return mkdir(p, 0755) == 0;
}

bool ext2img_symlink(struct ext2img *im, const char *target, const char *rel)
{
	char p[512];

	src_path(im, rel, p, sizeof(p));
	return symlink(target, p) == 0;
}

/* cmd with IMG and SRC replaced. */
static void expand(struct ext2img *im, const char *cmd, char *out, size_t len)
{
	size_t o = 0;

	while (*cmd && o + 1 < len) {
		const char *rep = NULL;

		if (!strncmp(cmd, "IMG", 3))
			rep = im->img;
		else if (!strncmp(cmd, "SRC", 3))
			rep = im->src;
		if (rep) {
			o += (size_t)snprintf(out + o, len - o, "%s", rep);
			cmd += 3;
		} else {
			out[o++] = *cmd++;
		}
	}
	out[o < len ? o : len - 1] = '\0';
}

static void show_file(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && n++ < 60) {
		line[strcspn(line, "\n")] = '\0';
		unit_diag("  %s", line);
	}
	fclose(f);
}

int ext2img_run(struct ext2img *im, const char *cmd, bool show)
{
	char full[2048], line[2400], out[128];
	int st;

	expand(im, cmd, full, sizeof(full));
	snprintf(out, sizeof(out), "%s/out.txt", im->dir);
	snprintf(line, sizeof(line), "(%s) >'%s' 2>&1", full, out);
	st = system(line);
	st = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	if (st && show) {
		unit_diag("'%s' exited %d:", full, st);
		show_file(out);
	}
	return st;
}

bool ext2img_mkfs(struct ext2img *im, const char *opts, const char *size)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "mke2fs -q -t ext2 %s -F IMG %s", opts, size);
	return ext2img_run(im, cmd, true) == 0;
}

int ext2img_mount_err(struct ext2img *im, bool read_only, size_t cache_bytes)
{
	struct ext2_mount_opts o = {
		.cache_bytes = cache_bytes,
		.read_only = read_only,
		.now = fixed_now,
	};
	int err = fileblk_open(&im->fb, im->img, false);

	if (err)
		return err;
	err = ext2_mount(&im->fb.bd, &o, &im->fs, im->why, sizeof(im->why));
	if (err)
		fileblk_close(&im->fb);
	return err;
}

bool ext2img_mount(struct ext2img *im, bool read_only)
{
	int err = ext2img_mount_err(im, read_only, 0);

	if (err)
		unit_diag("mount: %d (%s)", err, im->why);
	return err == 0;
}

bool ext2img_unmount(struct ext2img *im)
{
	int err = ext2_unmount(im->fs);

	im->fs = NULL;
	fileblk_close(&im->fb);
	if (err)
		unit_diag("unmount: %d", err);
	return err == 0;
}

bool ext2img_fsck(struct ext2img *im)
{
	return ext2img_run(im, "e2fsck -fn IMG", true) == 0;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = (cap + 4096) * 2);

			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t m = fread(buf + n, 1, 4096, f);

		n += m;
		if (m == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

void *ext2img_cat(struct ext2img *im, const char *path, size_t *len)
{
	char cmd[600], out[128];

	snprintf(out, sizeof(out), "%s/cat.bin", im->dir);
	snprintf(cmd, sizeof(cmd), "debugfs -R 'dump %s %s' IMG", path, out);
	unlink(out);
	if (ext2img_run(im, cmd, true))
		return NULL;
	return read_all(out, len);
}

char *ext2img_debugfs(struct ext2img *im, const char *dcmd)
{
	char cmd[600], out[128];
	size_t len;

	snprintf(cmd, sizeof(cmd), "debugfs -R '%s' IMG", dcmd);
	if (ext2img_run(im, cmd, true))
		return NULL;
	snprintf(out, sizeof(out), "%s/out.txt", im->dir);
	return read_all(out, &len);
}

void ext2img_fill(void *buf, size_t len, unsigned seed, size_t at)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++) {
		uint64_t x = (at + i) * 0x9E3779B97F4A7C15ull ^
			     (uint64_t)seed * 0xBF58476D1CE4E5B9ull;

		x ^= x >> 29;
		p[i] = (uint8_t)(x * 0x94D049BB133111EBull >> 56);
	}
}
