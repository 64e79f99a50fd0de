/*
 * fabricd: the emulated RDMA fabric linking Tessera's VMs (DESIGN.md
 * section 3, include/proto/fabric.h, docs/fabric.md).
 *
 *   fabricd --dir RUNDIR --node ID:NAME:WINDOW_SIZE [--node ...]
 *           [--link-preset ib56] [--latency-us N] [--bandwidth-gbps N]
 *           [--seed N] [--poll-us N] [--cq-retry-us N] [--verbose]
 *
 * For each node it creates a memfd window and listens on RUNDIR/NAME.sock,
 * where it speaks the ivshmem-server protocol to that node's QEMU
 * (ivshmem.c); it listens for commands on RUNDIR/control.sock
 * (control.c). Once every socket listens it writes RUNDIR/fabricd.pid and
 * prints "fabricd: ready" on stdout. Logs go to stderr with timestamps.
 *
 * One thread, one epoll loop, hybrid waiting: after activity fabricd polls
 * the send queues for --poll-us (default 10 us: see docs/fabric.md), then sets
 * fabricd_sleeping in every window, issues a full barrier, checks every
 * queue once more, and blocks in epoll_wait on the doorbell eventfds, the
 * sockets, signals and a timerfd (armed for the next transfer the wire
 * model delays, or, while a full CQ stops a send queue, for a retry after
 * --cq-retry-us, backing off to 16 times that while nothing changes).
 * A second timerfd ticks once a second: at each tick (and before every
 * control command) fabricd samples the guests' status pages, to know how
 * long ago each heartbeat last changed (control.c fab_status_sample). So
 * an idle fabricd wakes once a second, and otherwise sleeps.
 *
 * fabricd is the cluster's backplane: QEMU receives a window only while it
 * creates the device, so VMs cannot reattach to a restarted fabricd. Its
 * death ends the cluster. A VM that restarts (reconnects) gets a zeroed
 * window and the next generation number.
 */
#define _GNU_SOURCE
#include "check.h"
#include "control.h"
#include "ivshmem.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CTL		16	  /* control clients at once */
#define CTL_LINE_MAX	1024	  /* longest command line */
#define CTL_OUT_MAX	(1 << 20) /* unsent replies above which a client is not read */
#define PEEK_NS		200000	  /* while busy, look at the sockets this often */
#define ERROR_LOG_LIMIT 100	  /* malformed-request log lines per node generation */
#define RETRY_BACKOFF	16 /* CQ-full retries back off to this times --cq-retry-us */
#define STATUS_TICK_S	1  /* status pages sampled this often */
#define SUN_PATH_MAX	sizeof(((struct sockaddr_un *)0)->sun_path)

enum tag_kind {
	TAG_NODE_LISTEN = 1,
	TAG_NODE_CONN,
	TAG_DOORBELL,
	TAG_CTL_LISTEN,
	TAG_CTL_CLIENT,
	TAG_TIMER,
	TAG_SIGNAL,
	TAG_STATUS,
};
#define TAG(kind, index) (((uint64_t)(kind) << 32) | (uint32_t)(index))

struct node_conf {
	uint16_t id;
	char name[FAB_NAME_MAX];
	uint64_t size;
};

struct config {
	const char *dir;
	struct node_conf node[FAB_MAX_NODES];
	unsigned nnodes;
	struct fab_wire wire;
	uint64_t seed;
	uint64_t poll_ns;
	uint64_t cq_retry_ns;
	bool verbose;
};

/* One node's host side; fds are -1 when closed. */
struct node_io {
	int memfd, listen, conn, doorbell, irq;
	void *win;
	uint64_t size;
	bool bound; /* path is ours to unlink */
	char path[SUN_PATH_MAX];
	unsigned errors_logged; /* this generation */
};

struct ctl_client {
	int fd; /* -1: free slot */
	char in[CTL_LINE_MAX];
	size_t inlen;
	bool overflow; /* discarding the rest of a too-long line */
	bool closing;  /* close once out is flushed */
	struct fab_buf out;
};

struct daemon {
	struct config cfg;
	struct fab_fabric *f;
	struct node_io io[FAB_MAX_NODES];
	struct ctl_client ctl[MAX_CTL];
	int epfd, timerfd, sigfd, ctl_listen;
	int statusfd; /* periodic: sample the status pages */
	bool ctl_bound, pid_written;
	char ctl_path[SUN_PATH_MAX];
	char pid_path[PATH_MAX];
	bool quit;
	bool woken;	   /* an event other than the timers arrived (activity) */
	bool timer_fired;  /* the wire/retry timer expired (not the status tick) */
	uint64_t retry_ns; /* current CQ-full retry interval (backs off) */
};

/* Logs of error completions and corrupt indices (further down). */
static void trace_error(void *ctx, const struct fab_node *src, const struct fab_wqe *w,
			enum fab_status st);
static void trace_bad_index(void *ctx, const struct fab_node *n, const char *what,
			    uint32_t value);

/* --- logging and time -------------------------------------------------------- */

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logmsg(const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char msg[1024];
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "[%02d:%02d:%02d.%06ld] fabricd: %s\n", tm.tm_hour, tm.tm_min,
		tm.tm_sec, ts.tv_nsec / 1000, msg);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ volatile("pause");
#endif
}

/* --- command line ---------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: fabricd --dir RUNDIR --node ID:NAME:WINDOW_SIZE [--node ...]\n"
		"               [--link-preset ib56|none] [--latency-us N] "
		"[--bandwidth-gbps N]\n"
		"               [--seed N] [--poll-us N] [--cq-retry-us N] [--verbose]\n"
		"  ID 1..%d, NAME [A-Za-z_][A-Za-z0-9_-]*, WINDOW_SIZE a power of two\n"
		"  >= 1M (suffixes K, M, G: binary). See docs/fabric.md.\n",
		FAB_MAX_NODES - 1);
}

/* "64M", "1G", "0x100000", "1048576" -> bytes. */
static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno)
		return false;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift)
		end++;
	if (*end || v > (UINT64_MAX >> shift))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static bool parse_number(const char *s, double max, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !isfinite(v) || v < 0 || v > max)
		return false;
	*out = v;
	return true;
}

/* ID:NAME:WINDOW_SIZE; checks the id and size here, the name when added. */
static bool parse_node(const char *arg, struct node_conf *n)
{
	const char *c1 = strchr(arg, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	char idbuf[16];
	uint64_t id;

	if (!c1 || !c2 || (size_t)(c1 - arg) >= sizeof(idbuf) ||
	    (size_t)(c2 - c1 - 1) >= sizeof(n->name))
		return false;
	memcpy(idbuf, arg, (size_t)(c1 - arg));
	idbuf[c1 - arg] = '\0';
	memcpy(n->name, c1 + 1, (size_t)(c2 - c1 - 1));
	n->name[c2 - c1 - 1] = '\0';
	if (!parse_u64(idbuf, &id) || id == 0 || id >= FAB_MAX_NODES)
		return false;
	n->id = (uint16_t)id;
	return parse_size(c2 + 1, &n->size) && fab_window_size_ok(n->size);
}

enum {
	OPT_DIR = 1,
	OPT_NODE,
	OPT_PRESET,
	OPT_LATENCY,
	OPT_BANDWIDTH,
	OPT_SEED,
	OPT_POLL,
	OPT_CQ_RETRY,
	OPT_VERBOSE,
	OPT_HELP,
};

static const struct option options[] = {
	{"dir", required_argument, NULL, OPT_DIR},
	{"node", required_argument, NULL, OPT_NODE},
	{"link-preset", required_argument, NULL, OPT_PRESET},
	{"latency-us", required_argument, NULL, OPT_LATENCY},
	{"bandwidth-gbps", required_argument, NULL, OPT_BANDWIDTH},
	{"seed", required_argument, NULL, OPT_SEED},
	{"poll-us", required_argument, NULL, OPT_POLL},
	{"cq-retry-us", required_argument, NULL, OPT_CQ_RETRY},
	{"verbose", no_argument, NULL, OPT_VERBOSE},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

/* Wire settings: the preset first, then explicit values override it. */
struct wire_args {
	const char *preset;
	double latency_us, bandwidth_gbps; /* < 0: not given */
};

static int bad_arg(const char *what, const char *arg)
{
	fprintf(stderr, "fabricd: bad %s '%s'\n", what, arg);
	usage(stderr);
	return -1;
}

static int parse_one(struct config *c, struct wire_args *wa, int opt, const char *arg)
{
	double v;
	uint64_t u;

	switch (opt) {
	case OPT_DIR:
		c->dir = arg;
		return 0;
	case OPT_NODE:
		if (c->nnodes == FAB_MAX_NODES - 1 ||
		    !parse_node(arg, &c->node[c->nnodes]))
			return bad_arg("--node (ID:NAME:WINDOW_SIZE)", arg);
		c->nnodes++;
		return 0;
	case OPT_PRESET:
		wa->preset = arg;
		return 0;
	case OPT_LATENCY:
		if (!parse_number(arg, 1e9, &wa->latency_us))
			return bad_arg("--latency-us", arg);
		return 0;
	case OPT_BANDWIDTH:
		if (!parse_number(arg, FAB_MAX_GBPS, &wa->bandwidth_gbps) ||
		    (wa->bandwidth_gbps > 0 && wa->bandwidth_gbps < FAB_MIN_GBPS))
			return bad_arg("--bandwidth-gbps (0, or 0.001 to 1e6)", arg);
		return 0;
	case OPT_SEED:
		if (!parse_u64(arg, &c->seed))
			return bad_arg("--seed", arg);
		return 0;
	case OPT_POLL:
	case OPT_CQ_RETRY:
		if (!parse_number(arg, 1e7, &v))
			return bad_arg(opt == OPT_POLL ? "--poll-us" : "--cq-retry-us",
				       arg);
		u = (uint64_t)(v * 1000.0 + 0.5);
		if (opt == OPT_CQ_RETRY && u < 10000) /* 0 would make it a busy loop */
			return bad_arg("--cq-retry-us (at least 10)", arg);
		*(opt == OPT_POLL ? &c->poll_ns : &c->cq_retry_ns) = u;
		return 0;
	case OPT_VERBOSE:
		c->verbose = true;
		return 0;
	default:
		usage(stderr);
		return -1;
	}
}

static int finish_wire(struct config *c, const struct wire_args *wa)
{
	if (wa->preset && !fab_wire_preset(wa->preset, &c->wire))
		return bad_arg("--link-preset (ib56 or none)", wa->preset);
	if (wa->latency_us >= 0)
		c->wire.latency_ns = (uint64_t)(wa->latency_us * 1000.0 + 0.5);
	if (wa->bandwidth_gbps >= 0)
		c->wire.bandwidth_gbps = wa->bandwidth_gbps;
	return 0;
}

/* Returns 0, 1 for --help, -1 on errors (reported). */
static int parse_args(int argc, char **argv, struct config *c)
{
	struct wire_args wa = {NULL, -1, -1};
	int opt;

	c->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	c->poll_ns = 10000;
	c->cq_retry_ns = 1000000;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt == OPT_HELP) {
			usage(stdout);
			return 1;
		}
		if (parse_one(c, &wa, opt, optarg) < 0)
			return -1;
	}
	if (optind != argc || !c->dir || c->nnodes == 0) {
		fprintf(stderr, "fabricd: --dir and at least one --node are required\n");
		usage(stderr);
		return -1;
	}
	return finish_wire(c, &wa);
}

/* --- setup ----------------------------------------------------------------- */

static int path_in_dir(char *buf, size_t size, const char *dir, const char *name,
		       const char *suffix)
{
	int n = snprintf(buf, size, "%s/%s%s", dir, name, suffix);

	if (n < 0 || (size_t)n >= size) {
		logmsg("path %s/%s%s too long (at most %zu bytes)", dir, name, suffix,
		       size - 1);
		return -1;
	}
	return 0;
}

static int epoll_add(struct daemon *d, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = {.events = events, .data.u64 = tag};

	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		logmsg("epoll_ctl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* A listening unix socket at path (a stale socket file is replaced). */
static int listen_unix(const char *path)
{
	struct sockaddr_un a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	strcpy(a.sun_path, path); /* length checked by path_in_dir */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* True if a fabricd already answers on path. */
static bool socket_alive(const char *path)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	strcpy(a.sun_path, path);
	alive = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return alive;
}

static int make_window(struct daemon *d, const struct node_conf *n)
{
	struct node_io *io = &d->io[n->id];
	char name[64];

	snprintf(name, sizeof(name), "tessera-%s", n->name);
	io->memfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (io->memfd < 0 || ftruncate(io->memfd, (off_t)n->size) < 0 ||
	    fcntl(io->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) <
		    0) {
		logmsg("node %u: window of %llu bytes: %s", n->id,
		       (unsigned long long)n->size, strerror(errno));
		return -1;
	}
	io->win = mmap(NULL, n->size, PROT_READ | PROT_WRITE, MAP_SHARED, io->memfd, 0);
	if (io->win == MAP_FAILED) {
		io->win = NULL;
		logmsg("node %u: mmap: %s", n->id, strerror(errno));
		return -1;
	}
	io->size = n->size;
	d->f->port[n->id].node.bad_index = trace_bad_index;
	d->f->port[n->id].node.bad_index_ctx = d;
	if (fab_add_node(d->f, n->id, n->name, io->win, n->size, d->cfg.wire) < 0) {
		logmsg("node %u:%s: id or name invalid or used twice (names: "
		       "[A-Za-z_][A-Za-z0-9_-]*, not 'control')",
		       n->id, n->name);
		return -1;
	}
	return 0;
}

static int listen_node(struct daemon *d, const struct node_conf *n)
{
	struct node_io *io = &d->io[n->id];

	if (path_in_dir(io->path, sizeof(io->path), d->cfg.dir, n->name, ".sock") < 0)
		return -1;
	io->listen = listen_unix(io->path);
	if (io->listen < 0) {
		logmsg("listen on %s: %s", io->path, strerror(errno));
		return -1;
	}
	io->bound = true;
	return epoll_add(d, io->listen, EPOLLIN, TAG(TAG_NODE_LISTEN, n->id));
}

static int setup_signals(struct daemon *d)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sigfd < 0)
		return -1;
	return epoll_add(d, d->sigfd, EPOLLIN, TAG(TAG_SIGNAL, 0));
}

static int setup_loop(struct daemon *d)
{
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0)
		return -1;
	d->statusfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->statusfd < 0 ||
	    epoll_add(d, d->statusfd, EPOLLIN, TAG(TAG_STATUS, 0)) < 0 ||
	    timerfd_settime(d->statusfd, 0,
			    &(struct itimerspec){.it_interval = {.tv_sec = STATUS_TICK_S},
						 .it_value = {.tv_sec = STATUS_TICK_S}},
			    NULL) < 0) {
		logmsg("status timer: %s", strerror(errno));
		return -1;
	}
	d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->timerfd < 0 || epoll_add(d, d->timerfd, EPOLLIN, TAG(TAG_TIMER, 0)) < 0)
		return -1;
	return setup_signals(d);
}

static int write_pid_file(struct daemon *d)
{
	char tmp[PATH_MAX + 8];
	FILE *f;

	if (path_in_dir(d->pid_path, sizeof(d->pid_path), d->cfg.dir, "fabricd", ".pid") <
	    0)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->pid_path);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0 ||
	    rename(tmp, d->pid_path) < 0) {
		logmsg("pid file %s: %s", d->pid_path, strerror(errno));
		return -1;
	}
	d->pid_written = true;
	return 0;
}

static int prepare_dir(struct daemon *d)
{
	struct stat st;

	if (mkdir(d->cfg.dir, 0755) < 0 && errno != EEXIST) {
		logmsg("mkdir %s: %s", d->cfg.dir, strerror(errno));
		return -1;
	}
	if (stat(d->cfg.dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		logmsg("%s is not a directory", d->cfg.dir);
		return -1;
	}
	if (path_in_dir(d->ctl_path, sizeof(d->ctl_path), d->cfg.dir, "control",
			".sock") < 0)
		return -1;
	if (socket_alive(d->ctl_path)) {
		logmsg("another fabricd already serves %s", d->cfg.dir);
		return -1;
	}
	return 0;
}

static int setup(struct daemon *d)
{
	const struct config *c = &d->cfg;

	if (prepare_dir(d) < 0 || setup_loop(d) < 0)
		return -1;
	d->f = fab_fabric_new(c->seed);
	if (!d->f)
		return -1;
	d->f->trace = trace_error;
	d->f->trace_ctx = d;
	for (unsigned i = 0; i < c->nnodes; i++)
		if (make_window(d, &c->node[i]) < 0)
			return -1;
	for (unsigned i = 0; i < c->nnodes; i++)
		if (listen_node(d, &c->node[i]) < 0)
			return -1;
	d->ctl_listen = listen_unix(d->ctl_path);
	if (d->ctl_listen < 0) {
		logmsg("listen on %s: %s", d->ctl_path, strerror(errno));
		return -1;
	}
	d->ctl_bound = true;
	if (epoll_add(d, d->ctl_listen, EPOLLIN, TAG(TAG_CTL_LISTEN, 0)) < 0)
		return -1;
	return write_pid_file(d);
}

static void log_config(const struct daemon *d)
{
	const struct config *c = &d->cfg;

	logmsg("seed %llu", (unsigned long long)c->seed);
	logmsg("wire: latency %.3f us, bandwidth %.6g Gb/s (0: unlimited); poll %.1f us, "
	       "cq retry %.1f us",
	       (double)c->wire.latency_ns / 1000.0, c->wire.bandwidth_gbps,
	       (double)c->poll_ns / 1000.0, (double)c->cq_retry_ns / 1000.0);
	for (unsigned i = 0; i < c->nnodes; i++)
		logmsg("node %u (%s): window %llu KiB, socket %s", c->node[i].id,
		       c->node[i].name, (unsigned long long)(c->node[i].size >> 10),
		       d->io[c->node[i].id].path);
}

/* --- node connections -------------------------------------------------------- */

static const char *node_name(const struct daemon *d, unsigned id)
{
	return d->f->port[id].name;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* A zero window for the next VM: fresh memfd pages, or memset. */
static void zero_window(struct node_io *io)
{
	if (fallocate(io->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		      (off_t)io->size) < 0)
		memset(io->win, 0, io->size);
}

static void node_down(struct daemon *d, unsigned id, const char *why)
{
	struct node_io *io = &d->io[id];

	if (io->conn < 0)
		return;
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, io->conn, NULL);
	if (io->doorbell >= 0)
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, io->doorbell, NULL);
	close_fd(&io->conn);
	close_fd(&io->doorbell);
	close_fd(&io->irq);
	fab_detach(d->f, (uint16_t)id);
	logmsg("node %u (%s) down: %s (generation %u ended)", id, node_name(d, id), why,
	       d->f->port[id].node.generation);
}

/* Sets up a freshly accepted connection; -1 leaves the node down. */
static int node_up(struct daemon *d, unsigned id, int fd)
{
	struct node_io *io = &d->io[id];

	zero_window(io);
	fab_attach(d->f, (uint16_t)id);
	io->conn = fd;
	io->errors_logged = 0;
	io->doorbell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	io->irq = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (io->doorbell < 0 || io->irq < 0 ||
	    ivshmem_send_setup(fd, (uint16_t)id, io->memfd, io->doorbell, io->irq) < 0 ||
	    epoll_add(d, fd, EPOLLIN | EPOLLRDHUP, TAG(TAG_NODE_CONN, id)) < 0) {
		logmsg("node %u (%s): setup of the connection failed: %s", id,
		       node_name(d, id), strerror(errno));
		close_fd(&io->conn);
		close_fd(&io->doorbell);
		close_fd(&io->irq);
		fab_detach(d->f, (uint16_t)id);
		return -1;
	}
	if (epoll_add(d, io->doorbell, EPOLLIN, TAG(TAG_DOORBELL, id)) < 0) {
		node_down(d, id, "epoll failed");
		return -1;
	}
	logmsg("node %u (%s) connected: generation %u", id, node_name(d, id),
	       d->f->port[id].node.generation);
	return 0;
}

static void node_accept(struct daemon *d, unsigned id)
{
	int fd = accept4(d->io[id].listen, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (d->io[id].conn >= 0) {
		logmsg("node %u (%s): refused a second connection (one VM per node)", id,
		       node_name(d, id));
		close(fd);
		return;
	}
	node_up(d, id, fd);
}

/* QEMU never writes on the socket; EOF or an error means the VM is gone. */
static void node_conn_event(struct daemon *d, unsigned id, uint32_t events)
{
	char buf[64];
	ssize_t n;

	if (d->io[id].conn < 0)
		return;
	n = read(d->io[id].conn, buf, sizeof(buf));
	if (n > 0)
		return; /* unexpected bytes: ignored */
	if (n < 0 && (errno == EAGAIN || errno == EINTR) &&
	    !(events & (EPOLLHUP | EPOLLERR)))
		return;
	node_down(d, id, "connection closed");
}

static void doorbell_event(struct daemon *d, unsigned id)
{
	uint64_t v;

	if (d->io[id].doorbell >= 0 && read(d->io[id].doorbell, &v, sizeof(v)) < 0 &&
	    errno != EAGAIN)
		logmsg("node %u: doorbell read: %s", id, strerror(errno));
}

static void raise_irqs(struct daemon *d)
{
	const uint64_t one = 1;

	for (unsigned id = 1; id < FAB_MAX_NODES; id++) {
		struct fab_port *p = &d->f->port[id];

		if (!p->present || !p->node.attached || !fab_irq_wanted(&p->node))
			continue;
		if (write(d->io[id].irq, &one, sizeof(one)) < 0 && errno != EAGAIN)
			logmsg("node %u: interrupt: %s", id, strerror(errno));
	}
}

/*
 * Logs an error completion. Malformed requests are logged up to
 * ERROR_LOG_LIMIT per node generation; RNR, UNREACHABLE and FLUSHED (flow
 * control, faults and their consequences, often many) only with --verbose.
 */
static void trace_error(void *ctx, const struct fab_node *src, const struct fab_wqe *w,
			enum fab_status st)
{
	struct daemon *d = ctx;
	struct node_io *io = &d->io[src->id];

	if (!fab_status_is_malformed(st) && !d->cfg.verbose)
		return;
	if (!d->cfg.verbose && io->errors_logged++ >= ERROR_LOG_LIMIT) {
		if (io->errors_logged == ERROR_LOG_LIMIT + 1)
			logmsg("node %u: further malformed requests not logged (see "
			       "stats)",
			       src->id);
		return;
	}
	logmsg("node %u: wr_id %#llx %s to node %u: %s (%s)", src->id,
	       (unsigned long long)w->wr_id, fab_opcode_name(w->opcode), w->dst_node,
	       fab_status_name(st), src->why ? src->why : "-");
}

static void trace_bad_index(void *ctx, const struct fab_node *n, const char *what,
			    uint32_t value)
{
	struct daemon *d = ctx;
	struct node_io *io = &d->io[n->id];

	if (!d->cfg.verbose && io->errors_logged++ >= ERROR_LOG_LIMIT)
		return;
	logmsg("node %u: corrupt %s %u (tail - head out of range): ignored "
	       "until it is sane",
	       n->id, what, value);
}

/* --- control clients ----------------------------------------------------- */

static void ctl_close(struct daemon *d, struct ctl_client *c)
{
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close_fd(&c->fd);
	fab_buf_free(&c->out);
	c->inlen = 0;
	c->overflow = c->closing = false;
}

static void ctl_command(struct daemon *d, struct ctl_client *c, char *line)
{
	size_t before = c->out.len;
	enum fab_control_result r;

	line[strcspn(line, "\r")] = '\0';
	fab_status_sample(d->f, now_ns()); /* heartbeat ages as of now */
	r = fab_control(d->f, line, &c->out);
	if (strcmp(line, "stats") != 0 && strcmp(line, "help") != 0)
		logmsg("control: %s -> %.*s", line,
		       (int)(c->out.len > before ? c->out.len - before - 1 : 0),
		       c->out.p ? c->out.p + before : "");
	if (r == FAB_CONTROL_QUIT)
		d->quit = true;
}

/*
 * Runs the complete lines in c's input buffer, while c's unsent output
 * stays below CTL_OUT_MAX (a client that does not read its replies gets no
 * more until it does).
 */
static void ctl_lines(struct daemon *d, struct ctl_client *c)
{
	char *nl;

	while (c->out.len <= CTL_OUT_MAX && (nl = memchr(c->in, '\n', c->inlen))) {
		size_t len = (size_t)(nl - c->in) + 1;

		*nl = '\0';
		if (!c->overflow)
			ctl_command(d, c, c->in);
		c->overflow = false;
		memmove(c->in, c->in + len, c->inlen - len);
		c->inlen -= len;
	}
	if (c->inlen == sizeof(c->in) && !memchr(c->in, '\n', c->inlen)) {
		if (!c->overflow)
			fab_buf_printf(&c->out, "error: line too long (max %d bytes)\n",
				       CTL_LINE_MAX - 1);
		c->overflow = true;
		c->inlen = 0;
	}
}

/* Sends what it can of c's output; false if the client is gone. */
static bool ctl_send(struct daemon *d, struct ctl_client *c)
{
	while (c->out.len) {
		ssize_t n = send(c->fd, c->out.p, c->out.len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0) {
			ctl_close(d, c);
			return false;
		}
		fab_buf_consume(&c->out, (size_t)n);
	}
	return true;
}

/*
 * Sends c's output and runs the commands that waited for it to drain;
 * then watches for input only while there is room for it and the output
 * is not backed up, and for EPOLLOUT while output is left.
 */
static void ctl_flush(struct daemon *d, struct ctl_client *c)
{
	struct epoll_event ev = {.events = 0,
				 .data.u64 = TAG(TAG_CTL_CLIENT, c - d->ctl)};

	for (;;) {
		if (!ctl_send(d, c))
			return;
		if (c->out.len || !memchr(c->in, '\n', c->inlen))
			break;
		ctl_lines(d, c);
	}
	if (!c->out.len && c->closing) {
		ctl_close(d, c);
		return;
	}
	if (!c->closing && c->out.len <= CTL_OUT_MAX && c->inlen < sizeof(c->in))
		ev.events |= EPOLLIN;
	if (c->out.len)
		ev.events |= EPOLLOUT;
	epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void ctl_event(struct daemon *d, unsigned slot, uint32_t events)
{
	struct ctl_client *c = &d->ctl[slot];

	if (c->fd < 0)
		return;
	while (!c->closing && c->out.len <= CTL_OUT_MAX && c->inlen < sizeof(c->in) &&
	       (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		ssize_t n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			c->closing = true; /* EOF: answer what came, then close */
			break;
		}
		c->inlen += (size_t)n;
		ctl_lines(d, c);
	}
	ctl_flush(d, c);
}

static void ctl_accept(struct daemon *d)
{
	int fd = accept4(d->ctl_listen, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct ctl_client *c = NULL;

	if (fd < 0)
		return;
	for (unsigned i = 0; i < MAX_CTL && !c; i++)
		if (d->ctl[i].fd < 0)
			c = &d->ctl[i];
	if (!c) {
		static const char busy[] = "error: too many control clients\n";

		if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL) < 0)
			logmsg("control: %s", strerror(errno));
		close(fd);
		return;
	}
	c->fd = fd;
	if (epoll_add(d, fd, EPOLLIN, TAG(TAG_CTL_CLIENT, c - d->ctl)) < 0)
		close_fd(&c->fd);
}

/* --- the loop -------------------------------------------------------------- */

static void signal_event(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		logmsg("signal %u: shutting down", si.ssi_signo);
		d->quit = true;
	}
}

static void dispatch(struct daemon *d, const struct epoll_event *ev)
{
	unsigned kind = (unsigned)(ev->data.u64 >> 32), index = (uint32_t)ev->data.u64;
	uint64_t v;

	if (kind != TAG_TIMER && kind != TAG_STATUS)
		d->woken = true;
	switch (kind) {
	case TAG_NODE_LISTEN:
		node_accept(d, index);
		break;
	case TAG_NODE_CONN:
		node_conn_event(d, index, ev->events);
		break;
	case TAG_DOORBELL:
		doorbell_event(d, index);
		break;
	case TAG_CTL_LISTEN:
		ctl_accept(d);
		break;
	case TAG_CTL_CLIENT:
		ctl_event(d, index, ev->events);
		break;
	case TAG_TIMER:
		d->timer_fired = true;
		if (read(d->timerfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			logmsg("timerfd: %s", strerror(errno));
		break;
	case TAG_STATUS:
		if (read(d->statusfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			logmsg("status timer: %s", strerror(errno));
		fab_status_sample(d->f, now_ns());
		break;
	case TAG_SIGNAL:
		signal_event(d);
		break;
	}
}

/* Handles the events ready within timeout_ms (-1: wait for one). */
static void wait_events(struct daemon *d, int timeout_ms)
{
	struct epoll_event evs[32];
	int n = epoll_wait(d->epfd, evs, 32, timeout_ms);

	for (int i = 0; i < n; i++)
		dispatch(d, &evs[i]);
}

/* Arms the timer for CLOCK_MONOTONIC time at (UINT64_MAX: disarms). */
static void arm_timer(struct daemon *d, uint64_t at)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	if (at != UINT64_MAX) {
		at = at ? at : 1; /* 0 would disarm */
		its.it_value.tv_sec = (time_t)(at / 1000000000ull);
		its.it_value.tv_nsec = (long)(at % 1000000000ull);
	}
	timerfd_settime(d->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/*
 * The sleeping half of hybrid waiting: publish fabricd_sleeping, barrier,
 * look once more; block only if there is still nothing to do. Returns true
 * if there is (or may be) work: something other than the timer woke us.
 */
static bool sleep_until_event(struct daemon *d)
{
	uint64_t next, now;

	fab_set_sleeping(d->f, true);
	next = fab_next_due(d->f);
	now = now_ns();
	if (fab_has_work(d->f) || next <= now) {
		fab_set_sleeping(d->f, false);
		return true;
	}
	if (fab_any_blocked(d->f) && now + d->retry_ns < next)
		next = now + d->retry_ns;
	arm_timer(d, next);
	/* The status tick only samples the status pages: it leaves fabricd
	 * asleep (sleeping flag set, send queues untouched until a doorbell
	 * or the wire/retry timer). */
	do {
		d->woken = false;
		d->timer_fired = false;
		wait_events(d, -1);
	} while (!d->woken && !d->timer_fired && !d->quit);
	fab_set_sleeping(d->f, false);
	return d->woken;
}

static void run(struct daemon *d)
{
	uint64_t last_activity = now_ns(), last_peek = 0;

	d->retry_ns = d->cfg.cq_retry_ns;
	while (!d->quit) {
		unsigned done = fab_step(d->f, now_ns());
		uint64_t t;
		bool woke;

		raise_irqs(d);
		t = now_ns();
		if (done) {
			last_activity = t;
			d->retry_ns = d->cfg.cq_retry_ns;
		}
		if (t - last_activity < d->cfg.poll_ns) {
			if (t - last_peek >= PEEK_NS) {
				wait_events(d, 0);
				last_peek = t;
			} else {
				cpu_relax();
			}
			continue;
		}
		woke = sleep_until_event(d);
		last_activity = last_peek = now_ns();
		/*
		 * After a timer-only wakeup one step decides: no work, back to
		 * sleep at once, and the next CQ-full retry comes later (a
		 * guest that never drains its CQ costs almost nothing). The
		 * status tick alone changes nothing of that.
		 */
		if (woke) {
			d->retry_ns = d->cfg.cq_retry_ns;
		} else {
			last_activity -= d->cfg.poll_ns;
			if (d->timer_fired &&
			    d->retry_ns < RETRY_BACKOFF * d->cfg.cq_retry_ns)
				d->retry_ns *= 2;
		}
	}
}

/* --- shutdown -------------------------------------------------------------- */

static void cleanup(struct daemon *d)
{
	for (unsigned i = 0; i < MAX_CTL; i++) {
		if (d->ctl[i].fd >= 0) {
			if (d->ctl[i].out.len &&
			    send(d->ctl[i].fd, d->ctl[i].out.p, d->ctl[i].out.len,
				 MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				logmsg("control: last reply lost: %s", strerror(errno));
			close_fd(&d->ctl[i].fd);
		}
		fab_buf_free(&d->ctl[i].out);
	}
	for (unsigned id = 0; id < FAB_MAX_NODES; id++) {
		struct node_io *io = &d->io[id];

		close_fd(&io->conn);
		close_fd(&io->doorbell);
		close_fd(&io->irq);
		close_fd(&io->listen);
		if (io->bound)
			unlink(io->path);
		if (io->win)
			munmap(io->win, io->size);
		close_fd(&io->memfd);
	}
	close_fd(&d->ctl_listen);
	if (d->ctl_bound)
		unlink(d->ctl_path);
	if (d->pid_written)
		unlink(d->pid_path);
	close_fd(&d->epfd);
	close_fd(&d->timerfd);
	close_fd(&d->statusfd);
	close_fd(&d->sigfd);
	fab_fabric_free(d->f);
	free(d);
}

static struct daemon *daemon_new(void)
{
	struct daemon *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->epfd = d->timerfd = d->statusfd = d->sigfd = d->ctl_listen = -1;
	for (unsigned id = 0; id < FAB_MAX_NODES; id++) {
		struct node_io *io = &d->io[id];

		io->memfd = io->listen = io->conn = io->doorbell = io->irq = -1;
	}
	for (unsigned i = 0; i < MAX_CTL; i++)
		d->ctl[i].fd = -1;
	return d;
}

int main(int argc, char **argv)
{
	struct daemon *d = daemon_new();
	int r;

	if (!d)
		return 1;
	r = parse_args(argc, argv, &d->cfg);
	if (r != 0) {
		cleanup(d);
		return r > 0 ? 0 : 2;
	}
	if (setup(d) < 0) {
		logmsg("startup failed");
		cleanup(d);
		return 1;
	}
	log_config(d);
	logmsg("ready");
	printf("fabricd: ready\n");
	fflush(stdout);
	run(d);
	logmsg("exiting");
	cleanup(d);
	return 0;
}
