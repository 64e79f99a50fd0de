/*
 * The run directory of a cluster and its state file (docs/cli.md, "Run
 * directory").
 *
 * `up` uses --run-dir, else $TESSERA_RUN_DIR, else ./run/CLUSTER, and in
 * that last case points the symlink ./run/current at it. Every other verb
 * uses --run-dir, else $TESSERA_RUN_DIR, else ./run/current.
 *
 * RUN/state lists what `up` started, rewritten (atomically) after every
 * process it starts, so a crash at any point leaves a true record:
 *
 *   tessera-state 1
 *   cluster NAME
 *   manifest PATH          the manifest `up` was given (absolute)
 *   build PATH             the build directory of the images
 *   started UNIXTIME
 *   fabricd fabricd PID START
 *   node NAME PID START    one per QEMU
 *
 * START is field 22 of /proc/PID/stat, so a pid the kernel gave to another
 * process meanwhile is never taken for ours.
 */
#define _GNU_SOURCE
#include "tessera.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int rundir_locate(const char *opt, char *out, size_t cap)
{
	const char *env = getenv("TESSERA_RUN_DIR");
	const char *dir = opt ? opt : env && *env ? env : CURRENT_LINK;

	if (snprintf(out, cap, "%s", dir) >= (int)cap) {
		msg("run directory path too long: %s", dir);
		return -1;
	}
	return 0;
}

int rundir_for_up(const char *opt, const char *cluster, char *out, size_t cap,
		  bool *is_default)
{
	const char *env = getenv("TESSERA_RUN_DIR");
	int n;

	*is_default = !opt && !(env && *env);
	if (opt)
		n = snprintf(out, cap, "%s", opt);
	else if (env && *env)
		n = snprintf(out, cap, "%s", env);
	else
		n = snprintf(out, cap, "%s/%s", RUN_PARENT, cluster);
	if (n < 0 || (size_t)n >= cap) {
		msg("run directory path too long");
		return -1;
	}
	return 0;
}

static void no_cluster(const char *dir, const char *why)
{
	msg("no cluster is up (run directory %s %s); start one with: tessera up "
	    "MANIFEST%s",
	    dir, why,
	    strcmp(dir, CURRENT_LINK) == 0 ? " (or name a run directory: --run-dir DIR)"
					   : "");
}

int cluster_open(const char *opt, struct cluster *c)
{
	char where[PATH_MAX], err[MF_ERR_MAX], path[PATH_MAX];

	memset(c, 0, sizeof(*c));
	if (rundir_locate(opt, where, sizeof(where)) < 0)
		return -1;
	if (!realpath(where, c->dir)) {
		no_cluster(where, errno == ENOENT ? "does not exist" : strerror(errno));
		return -1;
	}
	if (state_read(c->dir, &c->st) < 0) {
		struct victim v[MF_MAX_NODES + 1 + 64];
		unsigned n;

		if (errno != ENOENT)
			return -1;
		n = cluster_victims(c->dir, NULL, v, sizeof(v) / sizeof(v[0]));
		if (n)
			msg("run directory %s has no state, but %u process%s of a "
			    "cluster run there; stop them with: "
			    "tessera down --run-dir %s",
			    where, n, n == 1 ? "" : "es", where);
		else
			no_cluster(where, "has no state");
		return -1;
	}
	if (path_join(path, sizeof(path), c->dir, "manifest.yaml") < 0 ||
	    manifest_load(path, &c->mf, err, sizeof(err)) < 0) {
		msg("%s; the run directory is damaged: stop it with: tessera down "
		    "--run-dir %s",
		    err, c->dir);
		return -1;
	}
	return 0;
}

/* --- state file ----------------------------------------------------------- */

static int parse_proc(const char *line, struct run_state *st)
{
	char kind[16], name[MF_NAME_MAX];
	struct proc_rec *p;
	long long pid;
	unsigned long long start;

	if (st->nprocs == sizeof(st->procs) / sizeof(st->procs[0]))
		return -1;
	if (sscanf(line, "%15s %31s %lld %llu", kind, name, &pid, &start) != 4 ||
	    pid <= 0 || pid > INT32_MAX)
		return -1;
	p = &st->procs[st->nprocs];
	if (strcmp(kind, "fabricd") == 0)
		p->kind = PROC_FABRICD;
	else if (strcmp(kind, "node") == 0)
		p->kind = PROC_NODE;
	else
		return -1;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->pid = (pid_t)pid;
	p->start = start;
	st->nprocs++;
	return 0;
}

/* "key value": copies value (the rest of the line) if line starts with key. */
static bool key_value(const char *line, const char *key, char *out, size_t cap)
{
	size_t k = strlen(key);

	if (strncmp(line, key, k) != 0 || line[k] != ' ')
		return false;
	snprintf(out, cap, "%s", line + k + 1);
	return true;
}

static int parse_line(const char *line, struct run_state *st)
{
	char num[32];

	if (key_value(line, "cluster", st->cluster, sizeof(st->cluster)) ||
	    key_value(line, "manifest", st->manifest, sizeof(st->manifest)) ||
	    key_value(line, "build", st->build, sizeof(st->build)))
		return 0;
	if (key_value(line, "started", num, sizeof(num))) {
		st->started = atoll(num);
		return 0;
	}
	if (strncmp(line, "fabricd ", 8) == 0 || strncmp(line, "node ", 5) == 0)
		return parse_proc(line, st);
	return line[0] == '#' || line[0] == '\0' ? 0 : -1;
}

int state_read(const char *dir, struct run_state *st)
{
	char path[PATH_MAX], *text, *line, *save = NULL;
	size_t len;
	int lineno = 0;

	memset(st, 0, sizeof(*st));
	if (path_join(path, sizeof(path), dir, STATE_NAME) < 0 ||
	    read_file(path, &text, &len) < 0)
		return -1;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		if (lineno == 1 ? strcmp(line, STATE_MAGIC) != 0
				: parse_line(line, st) < 0) {
			msg("%s:%d: malformed state line '%s'; stop what is left with: "
			    "tessera down --run-dir %s",
			    path, lineno, line, dir);
			free(text);
			errno = EINVAL;
			return -1;
		}
	}
	free(text);
	return 0;
}

int state_write(const char *dir, const struct run_state *st)
{
	char path[PATH_MAX], text[8192];
	size_t o;

	o = (size_t)snprintf(text, sizeof(text),
			     "%s\ncluster %s\nmanifest %s\nbuild %s\nstarted %lld\n",
			     STATE_MAGIC, st->cluster, st->manifest, st->build,
			     st->started);
	for (unsigned i = 0; i < st->nprocs && o < sizeof(text); i++) {
		const struct proc_rec *p = &st->procs[i];

		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s %s %d %llu\n",
				      p->kind == PROC_FABRICD ? "fabricd" : "node",
				      p->name, (int)p->pid, (unsigned long long)p->start);
	}
	if (o >= sizeof(text) || path_join(path, sizeof(path), dir, STATE_NAME) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return write_file_atomic(path, text, o);
}

const struct proc_rec *state_find(const struct run_state *st, const char *name)
{
	for (unsigned i = 0; i < st->nprocs; i++)
		if (strcmp(st->procs[i].name, name) == 0)
			return &st->procs[i];
	return NULL;
}

/* --- preparing and cleaning a run directory ------------------------------ */

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* What a run leaves that the next one moves to previous/: logs, manifest. */
static bool is_run_output(const char *name)
{
	return has_suffix(name, ".log") || strcmp(name, "manifest.yaml") == 0;
}

/* The rendezvous files of a running cluster (never data). */
static bool is_socket_file(const char *name)
{
	return has_suffix(name, ".sock") || has_suffix(name, ".console") ||
	       has_suffix(name, ".hostlink") || strcmp(name, "fabricd.pid") == 0;
}

/* Calls fn(dir, name) for each entry of dir that pick() selects; a missing
 * dir has no entries. */
static int for_each_entry(const char *dir, bool (*pick)(const char *),
			  int (*fn)(const char *dir, const char *name))
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && pick(e->d_name) && fn(dir, e->d_name) < 0)
			r = -1;
	closedir(d);
	return r;
}

static int remove_entry(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (path_join(path, sizeof(path), dir, name) < 0)
		return -1;
	if (unlink(path) < 0 && errno != ENOENT) {
		msg_errno("cannot remove %s", path);
		return -1;
	}
	return 0;
}

static int move_to_previous(const char *dir, const char *name)
{
	char from[PATH_MAX], to[PATH_MAX];

	if (path_join(from, sizeof(from), dir, name) < 0 ||
	    snprintf(to, sizeof(to), "%s/previous/%s", dir, name) >= (int)sizeof(to))
		return -1;
	if (rename(from, to) < 0) {
		msg_errno("cannot move %s to %s", from, to);
		return -1;
	}
	return 0;
}

static bool any_entry(const char *name)
{
	(void)name;
	return true;
}

/* Fails (-1) at the first entry: makes for_each_entry an "is there any". */
static int stop_here(const char *dir, const char *name)
{
	(void)dir;
	(void)name;
	return -1;
}

int rundir_prepare(const char *dir)
{
	char prev[PATH_MAX];

	if (mkdir_p(dir) < 0) {
		msg_errno("cannot create the run directory %s", dir);
		return -1;
	}
	if (for_each_entry(dir, is_socket_file, remove_entry) < 0 ||
	    path_join(prev, sizeof(prev), dir, "previous") < 0)
		return -1;
	if (for_each_entry(dir, is_run_output, stop_here) == 0)
		return 0; /* nothing of an earlier run */
	if (for_each_entry(prev, any_entry, remove_entry) < 0)
		return -1;
	if (mkdir(prev, 0755) < 0 && errno != EEXIST) {
		msg_errno("cannot create %s", prev);
		return -1;
	}
	return for_each_entry(dir, is_run_output, move_to_previous);
}

int rundir_clean(const char *dir)
{
	char path[PATH_MAX];

	if (for_each_entry(dir, is_socket_file, remove_entry) < 0 ||
	    path_join(path, sizeof(path), dir, STATE_NAME) < 0)
		return -1;
	if (unlink(path) < 0 && errno != ENOENT) {
		msg_errno("cannot remove %s", path);
		return -1;
	}
	return 0;
}

int rundir_link_current(const char *cluster)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s.tmp", CURRENT_LINK);
	unlink(tmp);
	if (symlink(cluster, tmp) < 0 || rename(tmp, CURRENT_LINK) < 0) {
		msg_errno("cannot point %s at %s", CURRENT_LINK, cluster);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Removes link if it is a symlink that resolves to dir. */
static void unlink_if_points_to(const char *link, const char *dir)
{
	char real[PATH_MAX];
	struct stat st;

	if (lstat(link, &st) < 0 || !S_ISLNK(st.st_mode))
		return;
	if (realpath(link, real) && strcmp(real, dir) != 0)
		return;
	if (unlink(link) < 0)
		msg_errno("cannot remove %s", link);
}

void rundir_unlink_current(const char *dir)
{
	char parent[PATH_MAX], *slash;

	unlink_if_points_to(CURRENT_LINK, dir);
	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (!slash)
		return;
	snprintf(slash, sizeof(parent) - (size_t)(slash - parent), "/current");
	unlink_if_points_to(parent, dir);
}
