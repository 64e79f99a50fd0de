/*
 * `tessera run [--vnode V] -- PROGRAM ARGS...`: runs a program on the
 * first processor of a vNode through its hostlink (hostlink.c,
 * include/proto/hostlink.h) and behaves like the program: its output on
 * our stdout and stderr, its status as ours.
 *
 * One run at a time per processor: an flock on RUN/NAME.hostlink.lock
 * serialises concurrent runs (the later one says it waits). A `ping`
 * first checks that the kernel answers (within PING_MS) before the `run`
 * goes out. While waiting for the program, once a second the node's QEMU
 * and fabricd's view of it are checked, so a crash or panic ends the wait.
 *
 * Exit status: the program's (0..255, 127 no such program, 128+N killed
 * by signal N); 255 for our own errors (usage, no cluster, node gone,
 * request refused, --timeout); 130 when interrupted (the program may go
 * on).
 */
#define _GNU_SOURCE
#include "tessera.h"

#include "proto/hostlink.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define RUN_ERROR	255
#define RUN_INTERRUPTED 130
#define PING_MS		10000
#define CHECK_MS	1000
#define MAX_WORDS	8

static const char help[] =
	"  --vnode V      the vNode (default: the manifest's first); the program runs\n"
	"                 on its first processor\n"
	"  --timeout S    give up after S seconds (exit 255; the program may go on)\n"
	"  --run-dir DIR  the cluster's run directory (default: $TESSERA_RUN_DIR,\n"
	"                 else run/current)\n"
	"\n"
	"Exit status: the program's (127: no such program, 128+N: killed by signal\n"
	"N); 255: tessera's own error (usage errors included); 130: interrupted.\n";

struct run {
	struct cluster c;
	const struct mf_node *node; /* the processor */
	double timeout_s;
	struct hostlink h;
	unsigned id;
	char *words[MAX_WORDS];
	size_t lens[MAX_WORDS];
};

/* The processor of --vnode V (or the first vNode, or the first processor
 * if the manifest has no vNodes). */
static int pick_node(struct run *r, const char *vname)
{
	const struct manifest *m = &r->c.mf;
	const struct mf_vnode *v = vname	? manifest_vnode(m, vname)
				   : m->nvnodes ? &m->vnodes[0]
						: NULL;

	if (vname && !v) {
		usage_error("run", "no vNode '%s' in cluster %s", vname, m->name);
		return -1;
	}
	if (v) {
		r->node = &m->nodes[v->processors[0]];
		return 0;
	}
	for (unsigned i = 0; i < m->nnodes; i++) {
		if (m->nodes[i].role == MF_PROCESSOR) {
			r->node = &m->nodes[i];
			return 0;
		}
	}
	msg("cluster %s has no processor to run programs on", m->name);
	return -1;
}

/* Takes the node's hostlink lock, waiting (and saying so) if it is held. */
static int lock_hostlink(const struct run *r)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s.hostlink.lock", r->c.dir,
		     r->node->name) >= (int)sizeof(path))
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		msg_errno("%s", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	if (errno != EWOULDBLOCK)
		goto close_fd;
	msg("%s's hostlink is busy with another `tessera run`; waiting for it",
	    r->node->name);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR || ts_signal)
			goto close_fd;
	}
	return fd;
close_fd:
	if (!ts_signal)
		msg_errno("flock %s", path);
	close(fd);
	return -1;
}

/* Is the node still there? Prints why not. */
static bool node_alive(const struct run *r)
{
	const struct proc_rec *p = state_find(&r->c.st, r->node->name);
	struct fab_stats stats;
	struct node_health h;
	bool have;
	int fd;

	if (!p || !proc_alive(p->pid, p->start)) {
		msg("%s's QEMU is gone; see: tessera status, tessera logs %s",
		    r->node->name, r->node->name);
		return false;
	}
	fd = fabric_connect(r->c.dir);
	have = fd >= 0 && fabric_stats(fd, &stats) == 0;
	if (fd >= 0)
		close(fd);
	if (!have)
		return true; /* fabricd's view is a bonus */
	node_health(r->node->name, true, &stats, &h);
	fabric_stats_free(&stats);
	if (h.state == NS_PANIC || h.state == NS_HALTED) {
		msg("%s is %s: %s; see: tessera logs %s", r->node->name, h.word, h.note,
		    r->node->name);
		return false;
	}
	return true;
}

/* "fail ID ERRNO TEXT...": the request was refused. */
static int refused(const struct run *r, int n)
{
	char text[HOSTLINK_LINE_MAX] = "";
	int err = n > 2 ? atoi(r->words[2]) : 0;
	size_t o = 0;

	for (int i = 3; i < n && o < sizeof(text); i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%s",
				      i > 3 ? " " : "", r->words[i]);
	msg("%s refused the request: %s (errno %d: %s)", r->node->name,
	    text[0] ? text : "no reason given", err, err > 0 ? strerror(err) : "?");
	return RUN_ERROR;
}

/*
 * Handles one line for request id. Returns -1 to keep going, else the
 * exit status to return.
 */
static int handle(struct run *r, int n)
{
	unsigned id;

	if (n < 2)
		return -1;
	id = (unsigned)strtoul(r->words[1], NULL, 10);
	if (strcmp(r->words[0], "fail") == 0 && (id == r->id || id == 0))
		return refused(r, n);
	if (id != r->id)
		return -1; /* an earlier run's leftovers */
	if (strcmp(r->words[0], "out") == 0 || strcmp(r->words[0], "err") == 0) {
		int fd = r->words[0][0] == 'o' ? 1 : 2;

		if (n > 2 && write_all(fd, r->words[2], r->lens[2]) < 0 && errno != EPIPE)
			msg_errno("writing the program's output");
		return -1;
	}
	if (strcmp(r->words[0], "exit") == 0 && n > 2)
		return atoi(r->words[2]) & 0xff;
	if (strcmp(r->words[0], "pong") == 0)
		return 0;
	return -1;
}

/*
 * Receives until the answer to r->id: returns its exit status (pong: 0),
 * or RUN_ERROR / RUN_INTERRUPTED. timeout_ms < 0: none.
 */
static int await(struct run *r, int64_t timeout_ms, const char *what)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	for (;;) {
		int n = hostlink_recv(&r->h, CHECK_MS, r->words, r->lens, MAX_WORDS), st;

		if (ts_signal) {
			msg("interrupted; %s may still run on %s", what, r->node->name);
			return RUN_INTERRUPTED;
		}
		if (n < 0 && n != -2) {
			msg("%s's hostlink closed (%s); see: tessera status",
			    r->node->name, errno ? strerror(errno) : "its QEMU ended?");
			return RUN_ERROR;
		}
		st = n > 0 ? handle(r, n) : -1;
		if (st >= 0)
			return st;
		if (deadline >= 0 && now_ms() >= deadline) {
			msg("%s: no answer from %s within %.1f s", what, r->node->name,
			    (double)timeout_ms / 1000);
			return RUN_ERROR;
		}
		if (n == 0 && !node_alive(r))
			return RUN_ERROR;
	}
}

static int run_program(struct run *r, char **prog, unsigned nprog)
{
	int st;

	if (hostlink_send(&r->h, "ping", r->id, NULL, 0) < 0) {
		msg_errno("%s: hostlink", r->node->name);
		return RUN_ERROR;
	}
	st = await(r, PING_MS, "ping (is the node ready? see: tessera status)");
	if (st != 0)
		return st;
	r->id++;
	if (hostlink_send(&r->h, "run", r->id, prog, nprog) < 0) {
		if (errno == E2BIG)
			msg("the command is too long for the hostlink (at most %d words, "
			    "%d bytes escaped)",
			    HOSTLINK_MAX_ARGS, HOSTLINK_LINE_MAX);
		else
			msg_errno("%s: hostlink", r->node->name);
		return RUN_ERROR;
	}
	return await(r, r->timeout_s > 0 ? (int64_t)(r->timeout_s * 1000) : -1, prog[0]);
}

static int parse_args(int argc, char **argv, struct run *r, const char **opt_dir,
		      const char **vnode)
{
	static const struct option opts[] = {
		{"vnode", required_argument, NULL, 'v'},
		{"timeout", required_argument, NULL, 't'},
		{"run-dir", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		if (c == 'h') {
			verb_help("run", help);
			return TS_OK;
		}
		if (c == 'v')
			*vnode = optarg;
		else if (c == 'r')
			*opt_dir = optarg;
		else if (c == 't' && parse_seconds(optarg, &r->timeout_s) == 0)
			continue;
		else if (c == 't')
			return usage_error("run",
					   "--timeout: '%s' is not a number of seconds",
					   optarg);
		else
			return bad_option("run", argv);
	}
	if (optind == argc)
		return usage_error("run", "expected -- PROGRAM ARGS...");
	return -1;
}

int verb_run(int argc, char **argv)
{
	const char *opt_dir = NULL, *vnode = NULL;
	struct run *r = calloc(1, sizeof(*r));
	int st = RUN_ERROR, lock;

	if (!r) {
		msg("out of memory");
		return RUN_ERROR;
	}
	st = parse_args(argc, argv, r, &opt_dir, &vnode);
	if (st >= 0) {
		/* 0 after --help; a usage error is ours: 255, never the program's 2 */
		st = st == TS_OK ? TS_OK : RUN_ERROR;
		goto free_r;
	}
	st = RUN_ERROR;
	if (signals_catch() < 0 || cluster_open(opt_dir, &r->c) < 0 ||
	    pick_node(r, vnode) < 0)
		goto free_r;
	lock = lock_hostlink(r);
	if (lock < 0) {
		st = ts_signal ? RUN_INTERRUPTED : RUN_ERROR;
		goto free_r;
	}
	if (hostlink_open(&r->h, r->c.dir, r->node->name) < 0) {
		msg_errno("cannot connect to %s/%s.hostlink (is %s up? see: tessera "
			  "status)",
			  r->c.dir, r->node->name, r->node->name);
		goto unlock;
	}
	r->id = ((unsigned)getpid() & 0x3fffffff) + 1; /* ping; run: id + 1 */
	st = run_program(r, argv + optind, (unsigned)(argc - optind));
	hostlink_close(&r->h);
unlock:
	close(lock);
free_r:
	free(r);
	return st;
}
