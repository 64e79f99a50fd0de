/*
 * Where the kernel images and fabricd come from, and bringing them up to
 * date before `up`.
 *
 * The tessera binary lives at BUILDDIR/tools/tessera (mk/tessera.mk), so
 * /proc/self/exe names the build directory; the source tree (SRCROOT) is
 * the nearest directory above BUILDDIR that holds a Makefile and
 * mk/tessera.mk. `up` runs `make -C SRCROOT BUILD=BUILDDIR` for just the
 * images the manifest's roles need and fabricd (make decides what is
 * stale), with BUILD relative to SRCROOT when it lies inside, as the
 * Makefile's own dependency files name it. A binary copied away from any
 * source tree still works with the images next to it, without building.
 */
#define _GNU_SOURCE
#include "tessera.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char role_letter[] = {
	[MF_PROCESSOR] = 'p',
	[MF_MEMORY] = 'm',
	[MF_STORAGE] = 's',
	[MF_GLOBAL] = 'g',
};

/* Cuts the last component off path (in place); false if there is none. */
static bool dir_up(char *path)
{
	char *slash = strrchr(path, '/');

	if (!slash || slash == path)
		return false;
	*slash = '\0';
	return true;
}

static bool is_source_root(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	return snprintf(path, sizeof(path), "%s/mk/tessera.mk", dir) <
		       (int)sizeof(path) &&
	       stat(path, &st) == 0 &&
	       snprintf(path, sizeof(path), "%s/Makefile", dir) < (int)sizeof(path) &&
	       stat(path, &st) == 0;
}

int build_locate(struct build_paths *b)
{
	char dir[PATH_MAX];
	size_t n;

	memset(b, 0, sizeof(*b));
	if (!realpath("/proc/self/exe", b->build) || !dir_up(b->build) ||
	    !dir_up(b->build)) {
		msg_errno("cannot find the tessera binary's build directory");
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", b->build);
	while (dir_up(dir)) {
		if (is_source_root(dir)) {
			snprintf(b->src, sizeof(b->src), "%s", dir);
			break;
		}
	}
	n = strlen(b->src);
	if (n && strncmp(b->build, b->src, n) == 0 && b->build[n] == '/')
		snprintf(b->make_build, sizeof(b->make_build), "%s", b->build + n + 1);
	else
		snprintf(b->make_build, sizeof(b->make_build), "%s", b->build);
	return 0;
}

int build_image(const struct build_paths *b, enum mf_role role, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/tessera-%c.elf", b->build, role_letter[role]);

	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int build_fabricd(const struct build_paths *b, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/tools/fabricd", b->build);

	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* The make targets (relative to BUILD=) of everything m needs. */
const char *build_product(const char *p)
{
	size_t n = strlen(MF_BUILD_PREFIX);

	return strncmp(p, MF_BUILD_PREFIX, n) == 0 ? p + n : NULL;
}

static void make_targets(const struct build_paths *b, const struct manifest *m,
			 struct strv *argv)
{
	bool seen[4] = {false};

	for (unsigned i = 0; i < m->nnodes; i++) {
		const struct mf_node *n = &m->nodes[i];
		const char *product = build_product(n->disk_dir);

		if (!seen[n->role])
			strv_add(argv, "%s/tessera-%c.elf", b->make_build,
				 role_letter[n->role]);
		seen[n->role] = true;
		if (product)
			strv_add(argv, "%s/%s", b->make_build, product);
	}
	strv_add(argv, "%s/tools/fabricd", b->make_build);
}

/* Without a source tree: every needed file must already be there. */
static int check_present(const struct build_paths *b, const struct manifest *m)
{
	char path[PATH_MAX];
	int r = 0;

	for (unsigned i = 0; i < m->nnodes; i++) {
		if (build_image(b, m->nodes[i].role, path, sizeof(path)) < 0 ||
		    access(path, R_OK) < 0) {
			msg_errno("%s", path);
			r = -1;
		}
	}
	if (build_fabricd(b, path, sizeof(path)) < 0 || access(path, X_OK) < 0) {
		msg_errno("%s", path);
		r = -1;
	}
	if (r < 0)
		msg("no source tree above %s to build them in", b->build);
	return r;
}

/* Copies f (from its start) to stderr. */
static void show_output(FILE *f)
{
	char buf[4096];
	size_t n;

	rewind(f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
}

/* Waits for make; kills it if we are interrupted. Returns its exit status,
 * or -1 if it did not exit normally. */
static int wait_make(pid_t pid)
{
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, 0);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return -1;
		if (ts_signal)
			kill(pid, SIGTERM);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int build_make(const struct build_paths *b, const struct manifest *m)
{
	char out_path[PATH_MAX], line[2048];
	struct strv argv = {0};
	FILE *out = NULL;
	int status = -1, fd;
	pid_t pid;

	if (!b->src[0])
		return check_present(b, m);
	strv_add(&argv, "/usr/bin/env");
	strv_add(&argv, "make");
	strv_add(&argv, "--no-print-directory");
	strv_add(&argv, "-C");
	strv_add(&argv, "%s", b->src);
	strv_add(&argv, "BUILD=%s", b->make_build);
	make_targets(b, m, &argv);
	if (argv.oom)
		goto free_argv;
	snprintf(out_path, sizeof(out_path), "/tmp/tessera-make-XXXXXX");
	fd = mkostemp(out_path, O_CLOEXEC);
	out = fd < 0 ? NULL : fdopen(fd, "r");
	if (!out) {
		msg_errno("cannot create a temporary file %s", out_path);
		if (fd >= 0)
			close(fd);
		goto free_argv;
	}
	pid = proc_spawn(argv.v, b->src, out_path, true);
	if (pid < 0)
		msg_errno("cannot run make");
	else
		status = wait_make(pid);
	if (status != 0 && pid >= 0 && !ts_signal) {
		show_output(out);
		msg("building failed: %s", strv_join(&argv, line, sizeof(line)));
	}
	fclose(out);
	unlink(out_path);
free_argv:
	strv_free(&argv);
	return status == 0 ? 0 : -1;
}
