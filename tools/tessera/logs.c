/*
 * `tessera logs NODE|fabricd [-f] [-n LINES]`: prints RUN/NODE.log (the
 * serial console as QEMU logged it) or RUN/fabricd.log. Works while the
 * cluster is up and after `down` (the logs stay; name the directory with
 * --run-dir then, as down removes run/current). -f follows the file until
 * Ctrl-C, looking for new bytes every 200 ms, and starts over if the file
 * is replaced (a new `up` moves the old one to previous/) or truncated.
 */
#define _GNU_SOURCE
#include "tessera.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FOLLOW_MS 200

static const char help[] =
	"  -f, --follow    keep printing what is appended, until Ctrl-C\n"
	"  -n, --lines N   only the last N lines\n"
	"  --run-dir DIR   the run directory (default: $TESSERA_RUN_DIR, else\n"
	"                  run/current)\n";

/* Prints from fd's offset to its end; -1 on error. */
static int copy_new(int fd)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			return 0;
		if (n < 0)
			return -1;
		if (n == 0)
			return fflush(stdout) == 0 ? 0 : -1;
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			return -1;
	}
}

/* True if path no longer names the file open as fd, or it shrank. */
static bool replaced(int fd, const char *path)
{
	struct stat a, b;
	off_t pos = lseek(fd, 0, SEEK_CUR);

	if (fstat(fd, &a) < 0 || stat(path, &b) < 0)
		return false; /* gone for now: keep the old one */
	return a.st_ino != b.st_ino || a.st_dev != b.st_dev || b.st_size < pos;
}

static int follow(int fd, const char *path)
{
	while (!ts_signal) {
		sleep_ms(FOLLOW_MS);
		if (replaced(fd, path)) {
			int nfd = open(path, O_RDONLY | O_CLOEXEC);

			if (nfd < 0)
				continue;
			close(fd);
			fd = nfd;
			fprintf(stderr, "tessera: %s was replaced; from its start:\n",
				path);
		}
		if (copy_new(fd) < 0) {
			msg_errno("%s", path);
			close(fd);
			return TS_FAILED;
		}
	}
	close(fd);
	return TS_OK;
}

/* Prints the file (or its last lines) and follows it if asked. */
static int show(const char *path, long lines, bool follow_it)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *text;
	size_t len;

	if (fd < 0) {
		msg_errno("%s", path);
		return TS_FAILED;
	}
	if (read_fd(fd, &text, &len) < 0) {
		msg_errno("%s", path);
		close(fd);
		return TS_FAILED;
	}
	fputs(lines >= 0 ? tail_start(text, len, (unsigned)lines) : text, stdout);
	fflush(stdout);
	free(text);
	if (!follow_it) {
		close(fd);
		return TS_OK;
	}
	if (signals_catch() < 0) {
		msg_errno("signals");
		close(fd);
		return TS_FAILED;
	}
	return follow(fd, path);
}

/* RUN/WHO.log after checking WHO against the manifest copy (if any). */
static int log_path(const char *dir, const char *who, char *out, size_t cap)
{
	char mpath[PATH_MAX], err[MF_ERR_MAX];
	struct manifest *m = malloc(sizeof(*m));
	int r = 0;

	if (!m)
		return -1;
	if (strcmp(who, "fabricd") != 0 &&
	    path_join(mpath, sizeof(mpath), dir, "manifest.yaml") == 0 &&
	    manifest_load(mpath, m, err, sizeof(err)) == 0 && !manifest_node(m, who)) {
		usage_error("logs", "no node '%s' in cluster %s", who, m->name);
		r = -1;
	}
	free(m);
	if (r == 0 && snprintf(out, cap, "%s/%s.log", dir, who) >= (int)cap)
		r = -1;
	return r;
}

int verb_logs(int argc, char **argv)
{
	static const struct option opts[] = {
		{"follow", no_argument, NULL, 'f'},
		{"lines", required_argument, NULL, 'n'},
		{"run-dir", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *opt_dir = NULL;
	char where[PATH_MAX], dir[PATH_MAX], path[PATH_MAX];
	bool follow_it = false;
	long lines = -1;
	double v;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":fn:h", opts, NULL)) != -1) {
		if (c == 'h')
			return verb_help("logs", help);
		if (c == 'f')
			follow_it = true;
		else if (c == 'n' && parse_double_range(optarg, 0, 1e9, &v) == 0 &&
			 v == (double)(long)v)
			lines = (long)v;
		else if (c == 'n')
			return usage_error("logs", "-n: '%s' is not a number of lines",
					   optarg);
		else if (c == 'r')
			opt_dir = optarg;
		else
			return bad_option("logs", argv);
	}
	if (argc - optind != 1)
		return usage_error("logs", "expected one NODE (or fabricd)");
	if (rundir_locate(opt_dir, where, sizeof(where)) < 0)
		return TS_FAILED;
	if (!realpath(where, dir)) {
		msg("no run directory %s (%s); name one with --run-dir DIR", where,
		    strerror(errno));
		return TS_FAILED;
	}
	if (log_path(dir, argv[optind], path, sizeof(path)) < 0)
		return TS_USAGE;
	return show(path, lines, follow_it);
}
