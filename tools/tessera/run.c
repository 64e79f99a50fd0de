/*
 * `tessera run [-t] [--vnode V] -- PROGRAM ARGS...`: runs a program on a
 * processor of a vNode through its hostlink (hostlink.c,
 * include/proto/hostlink.h) and behaves like the program: its output on
 * our stdout and stderr, our stdin as its stdin, its status as ours.
 * Which processor: the only one; of several, the one the global process
 * manager (GPM) picks among those whose hostlink is free, asked through
 * the processor builtin `place` (pick_processor); --vnode may also name
 * a processor.
 * `tessera shell` is `run -t -- /bin/sh -i`.
 *
 * While the program runs, one poll loop (converse) serves the hostlink
 * and our stdin: stdin is read only while the kernel's credit window
 * (HOSTLINK_IN_WINDOW bytes not yet acknowledged by `ack`) has room, in
 * pieces of at most HOSTLINK_IN_CHUNK bytes sent as `in` lines; its end
 * is sent as `eof`. So `run ... < bigfile` delivers every byte, however
 * slowly the program reads. SIGINT and SIGTERM are forwarded as `sig`
 * (the program's foreground process group gets them); a second one, or
 * SIGHUP, makes us stop waiting (exit 130; the program may go on, but it
 * gets end of input and SIGHUP, as at a terminal's hangup; --timeout
 * does the same).
 * Signals are blocked outside ppoll, so none is missed between checks.
 *
 * -t: the run gets a terminal (`runt`, with our window size; `winsz` on
 * SIGWINCH). If our stdin is a terminal it goes into raw mode, so every
 * key (Ctrl-C, Ctrl-D, arrows) goes to the program's line discipline as
 * typed; the saved mode is restored on every way out (return, error,
 * signal: the handlers only set flags, and an atexit backstop).
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
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define RUN_ERROR	255
#define RUN_INTERRUPTED 130
#define PING_MS		10000
#define CHECK_MS	1000
#define SYNC_MS		2000 /* link_sync's wait for its pong */
#define MAX_WORDS	8

static const char help[] =
	"  -t, --tty      give the program a terminal (our terminal goes raw while it\n"
	"                 runs): for interactive programs such as a shell\n"
	"  --vnode V, -n V\n"
	"                 the vNode (default: the manifest's first); the program runs\n"
	"                 on the processor the global process manager picks among\n"
	"                 the vNode's free ones. V may also name a processor node\n"
	"  --timeout S    give up after S seconds (exit 255; the program may go on)\n"
	"  --run-dir DIR  the cluster's run directory (default: $TESSERA_RUN_DIR,\n"
	"                 else run/current)\n"
	"\n"
	"Standard input goes to the program (end of file when ours ends). Ctrl-C\n"
	"(SIGINT) and SIGTERM are passed to the program; a second one stops waiting.\n"
	"\n"
	"Exit status: the program's (127: no such program, 128+N: killed by signal\n"
	"N); 255: tessera's own error (usage errors included); 130: interrupted.\n";

static const char shell_help[] =
	"  -n V, --vnode V  the vNode (or processor node) to run the shell on\n"
	"  --run-dir DIR    the cluster's run directory\n"
	"\n"
	"Runs `/bin/sh -i` with a terminal: `tessera run -t -- /bin/sh -i`.\n";

struct run {
	struct cluster c;
	const struct mf_node *node; /* the processor */
	double timeout_s;
	struct hostlink h;
	unsigned id;
	char *words[MAX_WORDS];
	size_t lens[MAX_WORDS];
	bool tty;	   /* -t */
	bool in_open;	   /* stdin is still forwarded */
	size_t credit;	   /* input bytes we may send before the next ack */
	unsigned signals;  /* SIGINT/SIGTERM forwarded so far */
	/* A query (ask_gpm): the program's stdout is kept in out (at most
	 * out_cap - 1 bytes, NUL-ended), and our stdin is not read. */
	char *out;
	size_t out_len, out_cap;
};

/* Our terminal's mode while raw (-t), to put back. */
static struct termios saved_tio;
static bool raw_on;
static volatile sig_atomic_t winch; /* SIGWINCH came */

static void raw_restore(void)
{
	if (raw_on)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_tio);
	raw_on = false;
}

/* Our stdin raw if it is a terminal; the restore is registered first. */
static void raw_enter(void)
{
	static bool registered;
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return;
	if (!registered && atexit(raw_restore) == 0)
		registered = true;
	t = saved_tio;
	cfmakeraw(&t);
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &t) == 0)
		raw_on = true;
}

static void on_winch(int sig)
{
	(void)sig;
	winch = 1;
}

/* Our terminal's size (stdin's, else stdout's); 0 0 if none. */
static void term_size(unsigned *rows, unsigned *cols)
{
	struct winsize ws;

	*rows = *cols = 0;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 ||
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

/* The vNode --vnode V names (or the first vNode) in *vout, and its first
 * processor in r->node; with V a processor's name, that processor and
 * *vout NULL (so with a manifest without vNodes). */
static int pick_node(struct run *r, const char *vname, const struct mf_vnode **vout)
{
	const struct manifest *m = &r->c.mf;
	const struct mf_vnode *v = vname	? manifest_vnode(m, vname)
				   : m->nvnodes ? &m->vnodes[0]
						: NULL;

	if (m->selftest) {
		msg("cluster %s runs self tests on every node (ktest: in its manifest): "
		    "it runs no programs",
		    m->name);
		return -1;
	}
	if (vname && !v) {
		for (unsigned i = 0; i < m->nnodes; i++) {
			if (m->nodes[i].role == MF_PROCESSOR &&
			    strcmp(m->nodes[i].name, vname) == 0) {
				r->node = &m->nodes[i];
				return 0;
			}
		}
		usage_error("run", "no vNode or processor '%s' in cluster %s", vname, m->name);
		return -1;
	}
	*vout = v;
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

/* Opens node's hostlink lock file and tries to take it: its fd, with
 * *busy set if another `tessera run` holds it; -1 on an error (said). */
static int try_lock(const struct run *r, const struct mf_node *node, bool *busy)
{
	char path[PATH_MAX];
	int fd;

	*busy = false;
	if (snprintf(path, sizeof(path), "%s/%s.hostlink.lock", r->c.dir, node->name) >=
	    (int)sizeof(path)) {
		msg("%s: run directory path too long", r->c.dir);
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		msg_errno("%s", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	if (errno == EWOULDBLOCK) {
		*busy = true;
		return fd;
	}
	msg_errno("flock %s", path);
	close(fd);
	return -1;
}

/* Takes r->node's hostlink lock, waiting (and saying so) if it is held. */
static int lock_hostlink(const struct run *r)
{
	bool busy;
	int fd = try_lock(r, r->node, &busy);

	if (fd < 0 || !busy)
		return fd;
	msg("%s's hostlink is busy with another `tessera run`; waiting for it",
	    r->node->name);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR || ts_signal) {
			if (!ts_signal)
				msg_errno("flock %s's hostlink lock", r->node->name);
			close(fd);
			return -1;
		}
	}
	return fd;
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

/* A query's output: appended to r->out, what does not fit dropped. */
static void keep_output(struct run *r, const char *data, size_t len)
{
	size_t room = r->out_cap - 1 - r->out_len;

	len = len < room ? len : room;
	memcpy(r->out + r->out_len, data, len);
	r->out_len += len;
	r->out[r->out_len] = '\0';
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

		if (n > 2 && fd == 1 && r->out)
			keep_output(r, r->words[2], r->lens[2]);
		else if (n > 2 && write_all(fd, r->words[2], r->lens[2]) < 0 && errno != EPIPE)
			msg_errno("writing the program's output");
		return -1;
	}
	if (strcmp(r->words[0], "exit") == 0 && n > 2)
		return atoi(r->words[2]) & 0xff;
	if (strcmp(r->words[0], "ack") == 0 && n > 2) {
		r->credit += strtoul(r->words[2], NULL, 10);
		if (r->credit > HOSTLINK_IN_WINDOW)
			r->credit = HOSTLINK_IN_WINDOW; /* never trust more than the window */
		return -1;
	}
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

/* Sends one piece of stdin, or `eof` when it ended. -1: the link failed. */
static int forward_stdin(struct run *r)
{
	char buf[HOSTLINK_IN_CHUNK];
	size_t want = r->credit < sizeof(buf) ? r->credit : sizeof(buf);
	ssize_t n = read(STDIN_FILENO, buf, want);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n > 0) {
		r->credit -= (size_t)n;
		return hostlink_send_bytes(&r->h, "in", r->id, buf, (size_t)n);
	}
	r->in_open = false; /* end of file, or an error: the program sees the end */
	return hostlink_send(&r->h, "eof", r->id, NULL, 0);
}

/* We stop waiting (interrupted, --timeout): the program gets what a
 * terminal's hangup gives, end of input and SIGHUP, so that a program
 * reading its input does not wait for us forever. */
static void hangup(struct run *r)
{
	char *w[1] = {"1"};

	raw_restore();
	if (r->in_open)
		hostlink_send(&r->h, "eof", r->id, NULL, 0);
	r->in_open = false;
	hostlink_send(&r->h, "sig", r->id, w, 1);
}

/* A signal came: forward it, or stop waiting. Returns -1 to go on. */
static int forward_signal(struct run *r, const char *what)
{
	int sig = ts_signal;
	char num[8], *w[1] = {num};

	ts_signal = 0;
	if (sig == SIGHUP || ++r->signals > 1) {
		hangup(r);
		msg("interrupted; %s may still run on %s", what, r->node->name);
		return RUN_INTERRUPTED;
	}
	snprintf(num, sizeof(num), "%d", sig);
	if (hostlink_send(&r->h, "sig", r->id, w, 1) < 0)
		return RUN_ERROR;
	return -1;
}

static int send_winsz(struct run *r)
{
	unsigned rows, cols;
	char a[8], b[8], *w[2] = {a, b};

	winch = 0;
	term_size(&rows, &cols);
	snprintf(a, sizeof(a), "%u", rows);
	snprintf(b, sizeof(b), "%u", cols);
	return hostlink_send(&r->h, "winsz", r->id, w, 2);
}

/* Handles every line already received; -1 to go on, else the status. */
static int drain(struct run *r)
{
	int n, st;

	while ((n = hostlink_take(&r->h, r->words, r->lens, MAX_WORDS)) != 0) {
		st = n > 0 ? handle(r, n) : -1;
		if (st >= 0)
			return st;
	}
	return -1;
}

/* Waits in ppoll for the hostlink or stdin (signals let in only there).
 * Returns -1 to go on, else the status to return. */
static int converse_wait(struct run *r, const sigset_t *open_mask)
{
	struct pollfd p[2] = {{.fd = r->h.fd, .events = POLLIN},
			      {.fd = STDIN_FILENO, .events = POLLIN}};
	struct timespec ts = {.tv_sec = CHECK_MS / 1000, .tv_nsec = CHECK_MS % 1000 * 1000000L};
	nfds_t nfds = r->in_open && r->credit ? 2 : 1;
	int rc = ppoll(p, nfds, &ts, open_mask);

	if (rc < 0 && errno != EINTR) {
		msg_errno("poll");
		return RUN_ERROR;
	}
	if (rc > 0 && p[0].revents && hostlink_fill_now(&r->h) < 0) {
		raw_restore();
		msg("%s's hostlink closed (%s); see: tessera status", r->node->name,
		    errno ? strerror(errno) : "its QEMU ended?");
		return RUN_ERROR;
	}
	if (rc > 0 && nfds == 2 && p[1].revents && forward_stdin(r) < 0) {
		msg_errno("%s: hostlink", r->node->name);
		return RUN_ERROR;
	}
	return -1;
}

/* The program runs: serves output, input and signals until its exit. */
static int converse(struct run *r, const char *what)
{
	int64_t deadline = r->timeout_s > 0 ? now_ms() + (int64_t)(r->timeout_s * 1000) : -1;
	int64_t next_check = now_ms() + CHECK_MS;
	sigset_t block, open_mask;
	int st = -1;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGWINCH);
	sigprocmask(SIG_BLOCK, &block, &open_mask);
	sigdelset(&open_mask, SIGINT);
	sigdelset(&open_mask, SIGTERM);
	sigdelset(&open_mask, SIGHUP);
	sigdelset(&open_mask, SIGWINCH);
	while (st < 0) {
		st = drain(r);
		if (st < 0 && ts_signal)
			st = forward_signal(r, what);
		if (st < 0 && winch && r->tty && send_winsz(r) < 0)
			st = RUN_ERROR;
		if (st < 0)
			st = converse_wait(r, &open_mask);
		if (st < 0 && now_ms() >= next_check) {
			next_check = now_ms() + CHECK_MS;
			if (deadline >= 0 && now_ms() >= deadline) {
				hangup(r);
				msg("%s: no answer from %s within %.1f s", what, r->node->name,
				    r->timeout_s);
				st = RUN_ERROR;
			} else if (!node_alive(r)) {
				st = RUN_ERROR;
			}
		}
	}
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	return st;
}

/*
 * Before we close the link: a ping, and its pong awaited (briefly,
 * quietly). The kernel takes lines in order, so the pong says it has
 * taken every line we sent; QEMU may drop what a closed socket still
 * held, and a line cut in half would spoil the next `tessera run`'s first
 * line.
 */
static void link_sync(struct run *r)
{
	int64_t deadline = now_ms() + SYNC_MS;
	unsigned id = r->id + 1;

	ts_signal = 0;
	if (hostlink_send(&r->h, "ping", id, NULL, 0) < 0)
		return;
	while (now_ms() < deadline) {
		int n = hostlink_recv(&r->h, (int)(deadline - now_ms()), r->words, r->lens,
				      MAX_WORDS);

		if (n < 0 && n != -2)
			return;
		if (n >= 2 && strcmp(r->words[0], "pong") == 0 &&
		    strtoul(r->words[1], NULL, 10) == id)
			return;
		if (ts_signal)
			return;
	}
}

/* Sends `run ID PROG...`, or with -t `runt ID ROWS COLS PROG...`. */
static int send_run(struct run *r, char **prog, unsigned nprog)
{
	char *words[HOSTLINK_MAX_ARGS + 3], a[8], b[8];
	unsigned rows, cols;

	if (!r->tty)
		return hostlink_send(&r->h, "run", r->id, prog, nprog);
	if (nprog > HOSTLINK_MAX_ARGS) {
		errno = E2BIG;
		return -1;
	}
	term_size(&rows, &cols);
	snprintf(a, sizeof(a), "%u", rows);
	snprintf(b, sizeof(b), "%u", cols);
	words[0] = a;
	words[1] = b;
	memcpy(words + 2, prog, nprog * sizeof(*prog));
	return hostlink_send(&r->h, "runt", r->id, words, nprog + 2);
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
	r->in_open = !r->out;
	r->credit = HOSTLINK_IN_WINDOW;
	if (r->tty) {
		struct sigaction sa = {.sa_handler = on_winch};

		sigemptyset(&sa.sa_mask);
		sigaction(SIGWINCH, &sa, NULL);
	}
	if (send_run(r, prog, nprog) < 0) {
		if (errno == E2BIG)
			msg("the command is too long for the hostlink (at most %d words, "
			    "%d bytes escaped)",
			    HOSTLINK_MAX_ARGS, HOSTLINK_LINE_MAX);
		else
			msg_errno("%s: hostlink", r->node->name);
		return RUN_ERROR;
	}
	if (r->tty)
		raw_enter();
	st = converse(r, prog[0]);
	raw_restore();
	link_sync(r);
	return st;
}

static int parse_args(int argc, char **argv, struct run *r, const char **opt_dir,
		      const char **vnode)
{
	static const struct option opts[] = {
		{"vnode", required_argument, NULL, 'v'},
		{"tty", no_argument, NULL, 't'},
		{"timeout", required_argument, NULL, 'S'},
		{"run-dir", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:htn:", opts, NULL)) != -1) {
		if (c == 'h') {
			verb_help("run", help);
			return TS_OK;
		}
		if (c == 't')
			r->tty = true;
		else if (c == 'v' || c == 'n')
			*vnode = optarg;
		else if (c == 'r')
			*opt_dir = optarg;
		else if (c == 'S' && parse_seconds(optarg, &r->timeout_s) == 0)
			continue;
		else if (c == 'S')
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

/*
 * GPM's choice among nodes[0..n) (n >= 2), asked by the builtin `place` on
 * nodes[0], whose hostlink lock we hold: its index, or 0 (said) if the
 * answer does not come or names none of them.
 */
static unsigned ask_gpm(struct run *r, const struct mf_node *const *nodes, unsigned n)
{
	char ids[MF_MAX_NODES][12], *prog[MF_MAX_NODES + 1], out[64] = "";
	bool tty = r->tty;
	int st;

	r->node = nodes[0];
	prog[0] = "place";
	for (unsigned i = 0; i < n; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%u", nodes[i]->id);
		prog[i + 1] = ids[i];
	}
	if (hostlink_open(&r->h, r->c.dir, r->node->name) < 0) {
		msg_errno("cannot connect to %s's hostlink to ask GPM; running on it",
			  r->node->name);
		return 0;
	}
	r->out = out;
	r->out_cap = sizeof(out);
	r->tty = false;
	r->id = ((unsigned)getpid() & 0x3fffffff) + 0x40000000; /* not the run's ids */
	st = run_program(r, prog, n + 1);
	r->out = NULL;
	r->tty = tty;
	hostlink_close(&r->h);
	for (unsigned i = 0; st == 0 && i < n; i++)
		if (strtoul(out, NULL, 10) == nodes[i]->id)
			return i;
	msg("the global process manager gave no choice (%s); running on %s",
	    st == 0 ? "an answer naming no candidate" : "`place` failed", r->node->name);
	return 0;
}

/*
 * The processor for a program on vNode v when it has several: of those
 * whose hostlink is free (a busy one would make us wait for another
 * `tessera run` to end), the one the global process manager picks
 * (fewest running user threads: ask_gpm); if none is free, the first,
 * waited for. Sets r->node; returns its hostlink lock, held, or -1.
 */
static int pick_processor(struct run *r, const struct mf_vnode *v)
{
	const struct mf_node *free_nodes[MF_MAX_NODES];
	int fds[MF_MAX_NODES], fd;
	unsigned nfree = 0, pick = 0;
	bool busy;

	for (unsigned i = 0; i < v->nprocessors; i++) {
		const struct mf_node *node = &r->c.mf.nodes[v->processors[i]];

		fd = try_lock(r, node, &busy);
		if (fd >= 0 && busy)
			close(fd);
		if (fd >= 0 && !busy) {
			free_nodes[nfree] = node;
			fds[nfree++] = fd;
		}
	}
	if (nfree == 0)
		return lock_hostlink(r); /* r->node: the first processor */
	if (nfree > 1)
		pick = ask_gpm(r, free_nodes, nfree);
	for (unsigned i = 0; i < nfree; i++)
		if (i != pick)
			close(fds[i]);
	r->node = free_nodes[pick];
	return fds[pick];
}

int verb_run(int argc, char **argv)
{
	const char *opt_dir = NULL, *vnode = NULL;
	const struct mf_vnode *v = NULL;
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
	    pick_node(r, vnode, &v) < 0)
		goto free_r;
	lock = v && v->nprocessors > 1 ? pick_processor(r, v) : lock_hostlink(r);
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

/* `tessera shell [-n V] [--run-dir DIR]`: `run -t [--vnode V] [--run-dir
 * DIR] -- /bin/sh -i`. */
int verb_shell(int argc, char **argv)
{
	static const struct option opts[] = {
		{"vnode", required_argument, NULL, 'n'},
		{"run-dir", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char *args[12];
	int c, n = 0;

	args[n++] = "run";
	args[n++] = "-t";
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hn:", opts, NULL)) != -1) {
		if (c == 'h') {
			verb_help("shell", shell_help);
			return TS_OK;
		}
		if (c == 'n')
			args[n++] = "--vnode";
		else if (c == 'r')
			args[n++] = "--run-dir";
		else
			return bad_option("shell", argv), RUN_ERROR;
		args[n++] = optarg;
	}
	if (optind != argc)
		return usage_error("shell", "unexpected argument '%s'", argv[optind]), RUN_ERROR;
	args[n++] = "--";
	args[n++] = "/bin/sh";
	args[n++] = "-i";
	args[n] = NULL;
	optind = 0; /* getopt starts over for run's options */
	return verb_run(n, args);
}
