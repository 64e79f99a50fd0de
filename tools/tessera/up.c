/*
 * `tessera up MANIFEST`: from a manifest to a cluster whose every node
 * reports ready; and `tessera restart NODE`, which boots one node of a
 * running cluster again the same way (steps 5 and 6 for that node).
 *
 *   1. validate the manifest; refuse if the cluster in the run directory
 *      is up already
 *   2. make what is stale (build.c), quietly
 *   3. prepare the run directory (rundir.c): earlier logs to previous/,
 *      manifest copied to RUN/manifest.yaml, storage disks made once
 *      (afresh with --new-disks), from @build/ products too (build.c)
 *   4. start fabricd, wait for its "fabricd: ready" line
 *   5. start one QEMU per node (vm.c), all in their own sessions with
 *      cwd = the run directory; every start is recorded in RUN/state
 *   6. poll fabricd's `stats` every 100 ms, print a line whenever a node's
 *      state changes, until all are ready (exit 0), one fails, or the
 *      timeout passes
 *
 * A node with a ktest filter in the manifest runs the kernel's self tests
 * and never says ready: it counts as up once it has connected to the
 * fabric (or already ended). Its results are in its serial log; judging
 * them is the test script's business, not up's.
 *
 * Failing or interrupted (SIGINT, SIGTERM, SIGHUP) after step 3, `up`
 * takes down whatever it started (down.c) before it exits 1: the logs
 * stay, with the last lines of the culprit's serial log printed.
 * `restart` never takes the cluster down: it reports and exits 1.
 */
#define _GNU_SOURCE
#include "tessera.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_S  120
#define FABRICD_TIMEOUT_MS 10000
#define POLL_MS		   100
#define TAIL_LINES	   15
#define TOOL_TIMEOUT_MS	   600000 /* mke2fs */

static const char help[] =
	"  MANIFEST       the cluster (default: configs/default.yaml of the source\n"
	"                 tree the tessera binary was built in)\n"
	"  --timeout S    seconds the nodes may take to become ready, counted from\n"
	"                 fabricd's start (building is not counted; default 120)\n"
	"  --run-dir DIR  run directory (default: $TESSERA_RUN_DIR, else\n"
	"                 run/CLUSTER, which run/current then points at)\n"
	"  --new-disks    make the storage nodes' disks afresh from the manifest\n"
	"                 (what earlier runs wrote on them is lost); without it a\n"
	"                 disk the run directory has already is kept as it is\n"
	"\n"
	"Builds what is missing or stale, starts fabricd and one QEMU per node in\n"
	"the run directory and waits until every node reports ready (a node with\n"
	"ktest: in the manifest runs self tests: until it is connected). On a timeout,\n"
	"a failed node or an interrupt it stops everything it started (the logs\n"
	"stay) and exits 1. Exit 3: invalid manifest.\n";

struct node_track {
	enum node_state shown; /* last state printed */
	bool printed;
	bool exited;
	char how[96]; /* how its QEMU ended */
};

struct up {
	struct manifest mf;
	struct build_paths b;
	char where[PATH_MAX]; /* run directory as named */
	char dir[PATH_MAX];   /* canonical */
	bool is_default;
	bool new_disks; /* --new-disks */
	double timeout_s;
	struct run_state st;
	int64_t t0;
	struct node_track track[MF_MAX_NODES];
	char disk[MF_MAX_NODES][PATH_MAX]; /* storage nodes: absolute image path */
	pid_t fabricd;			   /* our child (up); 0 for restart */
	int only;			   /* restart: the one node to wait for; -1: all */
};

/* --- before anything starts ------------------------------------------------ */

/* Refuses (-1) if processes of a cluster run in the run directory. */
static int refuse_if_up(struct up *u)
{
	struct victim v[MF_MAX_NODES + 1 + 64];
	struct run_state st;
	char dir[PATH_MAX];
	unsigned n;

	if (!realpath(u->where, dir))
		return 0; /* no run directory yet: nothing runs there */
	n = cluster_victims(dir, state_read(dir, &st) == 0 ? &st : NULL, v,
			    sizeof(v) / sizeof(v[0]));
	if (!n)
		return 0;
	msg("cluster %s is already up in %s (%u process%s running); stop it first with: "
	    "tessera down --run-dir %s",
	    u->mf.name, u->where, n, n == 1 ? "" : "es", u->where);
	return -1;
}

/* --- run directory ---------------------------------------------------------- */

static int prepare_dir(struct up *u)
{
	char copy[PATH_MAX];

	if (rundir_prepare(u->where) < 0)
		return -1;
	if (!realpath(u->where, u->dir)) {
		msg_errno("%s", u->where);
		return -1;
	}
	if (path_join(copy, sizeof(copy), u->dir, "manifest.yaml") < 0 ||
	    copy_file(u->st.manifest, copy) < 0) {
		msg_errno("cannot copy the manifest to %s/manifest.yaml", u->dir);
		return -1;
	}
	snprintf(u->st.cluster, sizeof(u->st.cluster), "%s", u->mf.name);
	snprintf(u->st.build, sizeof(u->st.build), "%s", u->b.build);
	u->st.started = (long long)time(NULL);
	if (state_write(u->dir, &u->st) < 0) {
		msg_errno("cannot write %s/%s", u->dir, STATE_NAME);
		return -1;
	}
	return 0;
}

/* Runs argv (tool what) in the run directory, output to log; shows the
 * output if it fails. */
static int run_tool(struct up *u, const char *what, struct strv *argv, const char *log)
{
	char line[4096], path[PATH_MAX], how[96];
	pid_t pid = proc_spawn(argv->v, u->dir, log, false);
	int64_t deadline = now_ms() + TOOL_TIMEOUT_MS;
	int status;

	if (pid < 0) {
		msg_errno("cannot run %s", what);
		return -1;
	}
	while ((status = proc_reap(pid, how, sizeof(how))) < 0 && !ts_signal &&
	       now_ms() < deadline)
		sleep_ms(POLL_MS);
	if (status == 0)
		return 0;
	if (status < 0) { /* interrupted or stuck: stop it */
		struct victim v = {.pid = pid};

		snprintf(v.what, sizeof(v.what), "%s", what);
		if (proc_start_time(pid, &v.start) == 0)
			proc_stop(&v, 1, 1000, false);
		proc_reap(pid, how, sizeof(how));
		msg("%s %s", what, ts_signal ? "interrupted" : "took too long: stopped");
		return -1;
	}
	if (path_join(path, sizeof(path), u->dir, log) == 0) {
		char *out = file_tail(path, 20);

		fputs(out ? out : "", stderr);
		free(out);
	}
	msg("%s: %s", strv_join(argv, line, sizeof(line)), how);
	return -1;
}

/* RUN/NAME.img of a storage node without an image of its own, made once. */
static int make_disk(struct up *u, const struct mf_node *n)
{
	char img[MF_NAME_MAX + 8], path[PATH_MAX], src[PATH_MAX];
	struct strv argv = {0};
	struct stat sb;
	int r;

	snprintf(img, sizeof(img), "%s.img", n->name);
	if (path_join(path, sizeof(path), u->dir, img) < 0)
		return -1;
	if (stat(path, &sb) == 0 && !u->new_disks)
		return 0; /* made by an earlier up: its data stays */
	if (n->disk_dir[0] && manifest_resolve(&u->mf, n->disk_dir, src, sizeof(src)) < 0)
		return -1;
	strv_add(&argv, "/usr/bin/env"); /* mke2fs may be in sbin, not in $PATH */
	strv_add(&argv, "PATH=%s:/usr/sbin:/sbin",
		 getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	strv_add(&argv, "mke2fs");
	strv_add(&argv, "-q");
	strv_add(&argv, "-t");
	strv_add(&argv, "ext2");
	if (n->disk_dir[0]) {
		strv_add(&argv, "-d");
		strv_add(&argv, "%s", src);
	}
	strv_add(&argv, "-F");
	strv_add(&argv, "%s", img);
	strv_add(&argv, "%lluk", (unsigned long long)(n->disk_size >> 10));
	r = argv.oom ? -1 : run_tool(u, "mke2fs", &argv, "mke2fs.log");
	if (r < 0) {
		unlink(path); /* half made: the next up must not take it for data */
		msg("cannot make the disk of %s", n->name);
	}
	strv_free(&argv);
	return r;
}

/* The disk of storage node n into out (absolute), made if need be. */
static int node_disk(struct up *u, const struct mf_node *n, char *out, size_t cap)
{
	char img[MF_NAME_MAX + 8];

	if (n->disk_image[0]) {
		if (manifest_resolve(&u->mf, n->disk_image, out, cap) < 0)
			return -1;
		if (access(out, R_OK | W_OK) < 0) {
			msg_errno("node %s: disk image %s", n->name, out);
			return -1;
		}
		return 0;
	}
	snprintf(img, sizeof(img), "%s.img", n->name);
	if (make_disk(u, n) < 0)
		return -1;
	return path_join(out, cap, u->dir, img);
}

static int prepare_disks(struct up *u)
{
	for (unsigned i = 0; i < u->mf.nnodes && !ts_signal; i++) {
		const struct mf_node *n = &u->mf.nodes[i];

		if (n->role == MF_STORAGE &&
		    node_disk(u, n, u->disk[i], sizeof(u->disk[i])) < 0)
			return -1;
	}
	return ts_signal ? -1 : 0;
}

/* --- starting processes ----------------------------------------------------- */

/* Records a started process in RUN/state (in place of an earlier record
 * of the same name: a restarted node). */
static int record(struct up *u, enum proc_kind kind, const char *name, pid_t pid)
{
	struct proc_rec *p = &u->st.procs[u->st.nprocs];

	for (unsigned i = 0; i < u->st.nprocs; i++)
		if (strcmp(u->st.procs[i].name, name) == 0)
			p = &u->st.procs[i];
	if (p == &u->st.procs[u->st.nprocs])
		u->st.nprocs++;

	p->kind = kind;
	p->pid = pid;
	snprintf(p->name, sizeof(p->name), "%s", name);
	if (proc_start_time(pid, &p->start) < 0)
		p->start = 0; /* already gone: the monitor will say so */
	if (state_write(u->dir, &u->st) < 0) {
		msg_errno("cannot write %s/%s", u->dir, STATE_NAME);
		return -1;
	}
	return 0;
}

/* Prints the last lines of RUN/name, indented, if there are any. */
static void show_tail(const struct up *u, const char *name, unsigned lines)
{
	char path[PATH_MAX], *tail, *line, *save = NULL;

	if (path_join(path, sizeof(path), u->dir, name) < 0)
		return;
	tail = file_tail(path, lines);
	if (!tail || !tail[0]) {
		free(tail);
		return;
	}
	msg("last lines of %s:", path);
	for (line = strtok_r(tail, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, "\r")] = '\0';
		fprintf(stderr, "    %s\n", line);
	}
	free(tail);
}

/* Waits until fabricd.log has "fabricd: ready" (0), fabricd ends or the
 * time is up (-1, with the reason printed). */
static int wait_fabricd(struct up *u)
{
	int64_t deadline = now_ms() + FABRICD_TIMEOUT_MS;
	char path[PATH_MAX], how[96];

	if (path_join(path, sizeof(path), u->dir, "fabricd.log") < 0)
		return -1;
	while (!ts_signal) {
		char *text;
		size_t len;
		bool ready;

		if (read_file(path, &text, &len) == 0) {
			ready = strstr(text, "fabricd: ready") != NULL;
			free(text);
			if (ready)
				return 0;
		}
		if (proc_reap(u->fabricd, how, sizeof(how)) >= 0) {
			msg("fabricd %s before it was ready", how);
			show_tail(u, "fabricd.log", TAIL_LINES);
			return -1;
		}
		if (now_ms() >= deadline) {
			msg("fabricd did not print 'fabricd: ready' within %d s",
			    FABRICD_TIMEOUT_MS / 1000);
			show_tail(u, "fabricd.log", TAIL_LINES);
			return -1;
		}
		sleep_ms(50);
	}
	return -1;
}

static int start_fabricd(struct up *u)
{
	struct strv argv = {0};
	char bin[PATH_MAX];
	int r = -1;

	if (build_fabricd(&u->b, bin, sizeof(bin)) < 0)
		return -1;
	fabric_argv(&u->mf, bin, &argv);
	if (argv.oom)
		goto free_argv;
	u->fabricd = proc_spawn(argv.v, u->dir, "fabricd.log", false);
	if (u->fabricd < 0) {
		msg_errno("cannot start %s", bin);
		goto free_argv;
	}
	if (record(u, PROC_FABRICD, "fabricd", u->fabricd) == 0)
		r = wait_fabricd(u);
free_argv:
	strv_free(&argv);
	return r;
}

static void progress(struct up *u, unsigned i, enum node_state s, const char *note)
{
	char t[32];

	fmt_duration((uint64_t)(now_ms() - u->t0), t, sizeof(t));
	printf("  %-10s %-12s %7s%s%s\n", u->mf.nodes[i].name, node_state_name(s), t,
	       note && note[0] ? "  " : "", note ? note : "");
	fflush(stdout);
	u->track[i].shown = s;
	u->track[i].printed = true;
}

static int start_node(struct up *u, unsigned i)
{
	const struct mf_node *n = &u->mf.nodes[i];
	char image[PATH_MAX], log[MF_NAME_MAX + 16];
	struct strv argv = {0};
	pid_t pid;
	int r = -1;

	if (build_image(&u->b, n->role, image, sizeof(image)) < 0)
		return -1;
	if (vm_argv(&u->mf, n, image, u->disk[i][0] ? u->disk[i] : NULL, &argv) < 0)
		goto free_argv;
	snprintf(log, sizeof(log), "%s.qemu.log", n->name);
	pid = proc_spawn(argv.v, u->dir, log, false);
	if (pid < 0) {
		msg_errno("node %s: cannot start %s", n->name, argv.v[0]);
		goto free_argv;
	}
	r = record(u, PROC_NODE, n->name, pid);
	progress(u, i, NS_STARTING, NULL);
free_argv:
	strv_free(&argv);
	return r;
}

/* --- waiting for ready ----------------------------------------------------- */

/* True if node n in state s cannot become ready any more. A self-test
 * node may end by itself: only its panic is a loss. */
static bool node_lost(const struct mf_node *n, enum node_state s)
{
	if (n->ktest[0])
		return s == NS_PANIC;
	return s == NS_FAILED || s == NS_PANIC || s == NS_HALTED;
}

/* True if node n in state s is up: ready, or for a self-test node,
 * connected to the fabric or already ended. */
static bool node_up(const struct mf_node *n, enum node_state s)
{
	return n->ktest[0] ? s != NS_STARTING : s == NS_READY;
}

static void report_node(const struct up *u, unsigned i, const struct node_health *h)
{
	const struct mf_node *n = &u->mf.nodes[i];
	char log[MF_NAME_MAX + 16];

	msg("node %s: state %s%s%s%s%s%s", n->name, h->word, h->note[0] ? " (" : "",
	    h->note, h->note[0] ? ")" : "", u->track[i].exited ? "; QEMU " : "",
	    u->track[i].exited ? u->track[i].how : "");
	snprintf(log, sizeof(log), "%s.log", n->name);
	show_tail(u, log, TAIL_LINES);
	snprintf(log, sizeof(log), "%s.qemu.log", n->name);
	show_tail(u, log, 5);
}

/* True if up waits for node i (all of them; restart: the one). */
static bool waits_for(const struct up *u, unsigned i)
{
	return u->only < 0 || (unsigned)u->only == i;
}

/* One look at every node waited for. Returns 1 when all are up, 0 to keep
 * waiting, -1 when one of them is lost (reported). */
static int poll_nodes(struct up *u, const struct fab_stats *stats)
{
	unsigned ready = 0, want = 0;

	for (unsigned i = 0; i < u->mf.nnodes; i++) {
		const struct proc_rec *p = state_find(&u->st, u->mf.nodes[i].name);
		struct node_track *t = &u->track[i];
		struct node_health h;

		if (!waits_for(u, i))
			continue;
		want++;

		if (!t->exited)
			t->exited = proc_reap(p->pid, t->how, sizeof(t->how)) >= 0;
		node_health(p->name, !t->exited && proc_alive(p->pid, p->start), stats,
			    &h);
		if (!t->printed || t->shown != h.state)
			progress(u, i, h.state, h.state == NS_READY ? NULL : h.note);
		if (node_lost(&u->mf.nodes[i], h.state)) {
			report_node(u, i, &h);
			return -1;
		}
		ready += node_up(&u->mf.nodes[i], h.state);
	}
	return ready == want;
}

static void report_timeout(const struct up *u, const struct fab_stats *stats)
{
	msg("timeout: not every node was ready within %g s", u->timeout_s);
	for (unsigned i = 0; i < u->mf.nnodes; i++) {
		const struct proc_rec *p = state_find(&u->st, u->mf.nodes[i].name);
		struct node_health h;

		if (!waits_for(u, i))
			continue;
		node_health(p->name, proc_alive(p->pid, p->start), stats, &h);
		if (!node_up(&u->mf.nodes[i], h.state))
			report_node(u, i, &h);
	}
}

/* True (said) if fabricd has ended: our child reaped (up), or its record
 * no longer alive (restart). */
static bool fabricd_ended(struct up *u)
{
	const struct proc_rec *p = state_find(&u->st, "fabricd");
	char how[96];

	if (u->fabricd > 0 && proc_reap(u->fabricd, how, sizeof(how)) >= 0) {
		msg("fabricd %s; see %s/fabricd.log", how, u->dir);
		return true;
	}
	if (!p || !proc_alive(p->pid, p->start)) {
		msg("fabricd is gone, and with it the fabric; see %s/fabricd.log", u->dir);
		return true;
	}
	return false;
}

/* Polls until every node waited for is up (0) or not (-1, reported). */
static int wait_ready(struct up *u)
{
	int64_t deadline = u->t0 + (int64_t)(u->timeout_s * 1000);
	int fd = -1, r = 0;

	while (r == 0 && !ts_signal) {
		struct fab_stats stats;
		bool have;

		if (fabricd_ended(u))
			return -1;
		if (fd < 0)
			fd = fabric_connect(u->dir);
		have = fd >= 0 && fabric_stats(fd, &stats) == 0;
		if (!have && fd >= 0) {
			close(fd); /* reconnect next time */
			fd = -1;
		}
		r = poll_nodes(u, have ? &stats : NULL);
		if (r == 0 && now_ms() >= deadline) {
			report_timeout(u, have ? &stats : NULL);
			r = -1;
		}
		if (have)
			fabric_stats_free(&stats);
		if (r == 0)
			sleep_ms(POLL_MS);
	}
	if (fd >= 0)
		close(fd);
	return r > 0 ? 0 : -1;
}

/* --- the verb ---------------------------------------------------------------- */

/* Options into u and *opt_dir. Returns -1 to go on, else the exit code
 * (--help, usage errors). */
static int parse_args(int argc, char **argv, struct up *u, const char **opt_dir)
{
	static const struct option opts[] = {
		{"timeout", required_argument, NULL, 't'},
		{"run-dir", required_argument, NULL, 'r'},
		{"new-disks", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	u->timeout_s = DEFAULT_TIMEOUT_S;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h')
			return verb_help("up", help);
		if (c == 'n') {
			u->new_disks = true;
			continue;
		}
		if (c == 't' && parse_seconds(optarg, &u->timeout_s) == 0 &&
		    u->timeout_s > 0)
			continue;
		if (c == 't')
			return usage_error("up",
					   "--timeout: '%s' is not a positive number of "
					   "seconds",
					   optarg);
		if (c != 'r')
			return bad_option("up", argv);
		*opt_dir = optarg;
	}
	if (argc - optind > 1)
		return usage_error("up", "expected one MANIFEST");
	return -1;
}

/* The manifest named, or the source tree's configs/default.yaml. */
static int manifest_path(const struct up *u, char **argv, char *out, size_t cap)
{
	if (argv[optind]) {
		snprintf(out, cap, "%s", argv[optind]);
		return 0;
	}
	if (!u->b.src[0] ||
	    snprintf(out, cap, "%s/configs/default.yaml", u->b.src) >= (int)cap) {
		usage_error("up", "no MANIFEST named, and no source tree with "
				  "configs/default.yaml to use instead");
		return -1;
	}
	msg("no manifest named: using %s", out);
	return 0;
}

/* The number of nodes with a ktest filter. */
static unsigned count_selftest(const struct manifest *m)
{
	unsigned k = 0;

	for (unsigned i = 0; i < m->nnodes; i++)
		k += m->nodes[i].ktest[0] != '\0';
	return k;
}

static void print_success(const struct up *u)
{
	unsigned tests = count_selftest(&u->mf), ready = u->mf.nnodes - tests;
	char t[32];

	fmt_duration((uint64_t)(now_ms() - u->t0), t, sizeof(t));
	printf("tessera: cluster %s is up: ", u->mf.name);
	if (ready)
		printf("%u node%s ready%s", ready, ready == 1 ? "" : "s", tests ? ", " : "");
	if (tests)
		printf("%u node%s running self tests", tests, tests == 1 ? "" : "s");
	printf(" in %s (run directory %s)\n", t, u->where);
	if (u->mf.selftest)
		return; /* no programs to run */
	if (u->is_default)
		printf("tessera: next: tessera status | tessera run -- PROGRAM ARGS | "
		       "tessera down\n");
	else
		printf("tessera: next (with --run-dir %s or TESSERA_RUN_DIR=%s): tessera "
		       "status | tessera run -- PROGRAM ARGS | tessera down\n",
		       u->where, u->where);
}

/* Steps 3 to 6; on failure the caller takes the cluster down. */
static int bring_up(struct up *u)
{
	if (prepare_dir(u) < 0 || prepare_disks(u) < 0)
		return -1;
	u->t0 = now_ms();
	if (start_fabricd(u) < 0)
		return -1;
	for (unsigned i = 0; i < u->mf.nnodes && !ts_signal; i++)
		if (start_node(u, i) < 0)
			return -1;
	return wait_ready(u);
}

int verb_up(int argc, char **argv)
{
	const char *opt_dir = NULL;
	char path[PATH_MAX];
	struct up *u = calloc(1, sizeof(*u));
	int r;

	if (!u) {
		msg("out of memory");
		return TS_FAILED;
	}
	u->only = -1;
	r = parse_args(argc, argv, u, &opt_dir);
	if (r >= 0)
		goto free_up;
	r = TS_FAILED;
	if (build_locate(&u->b) < 0)
		goto free_up;
	r = TS_USAGE;
	if (manifest_path(u, argv, path, sizeof(path)) < 0)
		goto free_up;
	r = TS_MANIFEST;
	if (manifest_load_or_report(path, &u->mf) < 0)
		goto free_up;
	r = TS_FAILED;
	if (!realpath(path, u->st.manifest)) {
		msg_errno("%s", path);
		goto free_up;
	}
	if (rundir_for_up(opt_dir, u->mf.name, u->where, sizeof(u->where),
			  &u->is_default) < 0 ||
	    refuse_if_up(u) < 0 || signals_catch() < 0 || build_make(&u->b, &u->mf) < 0 ||
	    ts_signal)
		goto free_up;
	if (bring_up(u) < 0) {
		if (ts_signal)
			msg("interrupted by signal %d", (int)ts_signal);
		msg("stopping what was started; logs stay in %s", u->where);
		if (u->dir[0])
			cluster_takedown(u->dir, &u->st, false);
		goto free_up;
	}
	if (u->is_default)
		rundir_link_current(u->mf.name);
	print_success(u);
	r = TS_OK;
free_up:
	free(u);
	return r;
}

/* --- tessera restart NODE ----------------------------------------------------- */

static const char restart_help[] =
	"  NODE           the node to boot again\n"
	"  --ktest F      boot it with the self-test filter F instead of the\n"
	"                 manifest's (ktest: of the node, if any)\n"
	"  --timeout S    seconds the node may take to be up again (default 120)\n"
	"  --run-dir DIR  the cluster's run directory (default: $TESSERA_RUN_DIR,\n"
	"                 else run/current)\n"
	"\n"
	"SIGKILLs NODE's QEMU if it still runs (as a crash would), keeps its serial\n"
	"log as RUN/NODE.lifeN.log, starts it again as up did (same fabricd, same\n"
	"disk) and waits until it is ready (a self-test node: connected). Exit 1 if\n"
	"it does not come up; the rest of the cluster is left as it is.\n";

/* Options of restart: *node, *opt_dir, u->timeout_s, *ktest. Returns -1 to
 * go on, else the exit code (--help, usage errors). */
static int restart_args(int argc, char **argv, struct up *u, const char **node,
			const char **opt_dir, const char **ktest)
{
	static const struct option opts[] = {
		{"ktest", required_argument, NULL, 'k'},
		{"timeout", required_argument, NULL, 't'},
		{"run-dir", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	u->timeout_s = DEFAULT_TIMEOUT_S;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h')
			return verb_help("restart", restart_help);
		if (c == 'k' && !mf_ktest_ok(optarg))
			return usage_error("restart", "--ktest: '%s' is not a test filter (%s)",
					   optarg, MF_KTEST_RULE);
		if (c == 't' && (parse_seconds(optarg, &u->timeout_s) < 0 ||
				 u->timeout_s <= 0))
			return usage_error("restart",
					   "--timeout: '%s' is not a positive number of "
					   "seconds",
					   optarg);
		if (c != 'k' && c != 't' && c != 'r')
			return bad_option("restart", argv);
		if (c == 'k')
			*ktest = optarg;
		else if (c == 'r')
			*opt_dir = optarg;
	}
	if (argc - optind != 1)
		return usage_error("restart", "expected one NODE");
	*node = argv[optind];
	return -1;
}

/* SIGKILLs node i's QEMU if it still runs and waits until it is gone. */
static int restart_kill(struct up *u, unsigned i)
{
	const struct proc_rec *p = state_find(&u->st, u->mf.nodes[i].name);
	struct victim v = {0};

	if (!p || !proc_alive(p->pid, p->start))
		return 0;
	v.pid = p->pid;
	v.start = p->start;
	snprintf(v.what, sizeof(v.what), "%s (QEMU)", p->name);
	if (kill(p->pid, SIGKILL) < 0 || proc_stop(&v, 1, 1000, false) > 0) {
		msg_errno("cannot stop %s's QEMU (pid %d)", p->name, (int)p->pid);
		return -1;
	}
	printf("tessera: killed %s's QEMU (pid %d)\n", p->name, (int)p->pid);
	return 0;
}

/* RUN/NAME.log -> RUN/NAME.lifeN.log, N the first free number from 1. */
static int restart_keep_log(struct up *u, const char *name)
{
	char from[PATH_MAX], to[PATH_MAX];
	struct stat sb;

	if (snprintf(from, sizeof(from), "%s/%s.log", u->dir, name) >= (int)sizeof(from))
		return -1;
	if (stat(from, &sb) < 0)
		return 0; /* it never printed */
	for (unsigned life = 1; life < 1000; life++) {
		if (snprintf(to, sizeof(to), "%s/%s.life%u.log", u->dir, name, life) >=
		    (int)sizeof(to))
			return -1;
		if (stat(to, &sb) < 0 && errno == ENOENT) {
			if (rename(from, to) < 0) {
				msg_errno("cannot keep %s as %s", from, to);
				return -1;
			}
			printf("tessera: %s's serial log so far kept as %s\n", name, to);
			return 0;
		}
	}
	msg("%s: too many earlier lives of %s's log", u->dir, name);
	return -1;
}

/* The cluster of opt_dir into u, with node name's index in *idx. */
static int restart_open(struct up *u, const char *opt_dir, const char *name, unsigned *idx)
{
	struct cluster *c = calloc(1, sizeof(*c));
	const struct mf_node *n;
	int r = TS_FAILED;

	if (!c) {
		msg("out of memory");
		return TS_FAILED;
	}
	if (cluster_open(opt_dir, c) < 0)
		goto free_c;
	u->mf = c->mf;
	u->st = c->st;
	snprintf(u->dir, sizeof(u->dir), "%s", c->dir);
	snprintf(u->where, sizeof(u->where), "%s", c->dir);
	snprintf(u->b.build, sizeof(u->b.build), "%s", c->st.build); /* its images */
	n = manifest_node(&u->mf, name);
	if (!n) {
		r = usage_error("restart", "no node '%s' in cluster %s", name, u->mf.name);
		goto free_c;
	}
	*idx = (unsigned)(n - u->mf.nodes);
	r = TS_OK;
free_c:
	free(c);
	return r;
}

int verb_restart(int argc, char **argv)
{
	const char *opt_dir = NULL, *name = NULL, *ktest = NULL;
	struct up *u = calloc(1, sizeof(*u));
	struct mf_node *n;
	unsigned i = 0;
	char t[32];
	int r;

	if (!u) {
		msg("out of memory");
		return TS_FAILED;
	}
	r = restart_args(argc, argv, u, &name, &opt_dir, &ktest);
	if (r >= 0 || (r = restart_open(u, opt_dir, name, &i)) != TS_OK)
		goto free_up;
	r = TS_FAILED;
	n = &u->mf.nodes[i];
	if (ktest)
		snprintf(n->ktest, sizeof(n->ktest), "%s", ktest);
	u->only = (int)i;
	if (signals_catch() < 0 || fabricd_ended(u) || restart_kill(u, i) < 0 ||
	    restart_keep_log(u, n->name) < 0)
		goto free_up;
	if (n->role == MF_STORAGE && node_disk(u, n, u->disk[i], sizeof(u->disk[i])) < 0)
		goto free_up;
	u->t0 = now_ms();
	if (start_node(u, i) < 0 || wait_ready(u) < 0) {
		msg("node %s did not come up again; logs in %s", n->name, u->where);
		goto free_up;
	}
	fmt_duration((uint64_t)(now_ms() - u->t0), t, sizeof(t));
	printf("tessera: node %s restarted: %s in %s\n", n->name,
	       n->ktest[0] ? "running self tests" : "ready", t);
	r = TS_OK;
free_up:
	free(u);
	return r;
}
