/*
 * End-to-end test of fabricd (tools/fabricd/) on the host: each test
 * starts its own fabricd with three nodes (a: 1, b: 2, c: 3) in a fresh
 * directory and connects fake guests to the node sockets exactly like
 * QEMU's ivshmem-doorbell device does (receive the five setup messages and
 * their fds, map the memfd, ring the doorbell eventfd, wait on the
 * interrupt eventfd). The fake guests then post work requests by the rules
 * of include/proto/fabric.h and check completions, data and counters;
 * faults are injected through the control socket. Fake guests also write
 * the status page of their window (valid, then hostile) and the tests read
 * it back from `stats`.
 *
 * Built with tests/unit/unit.c (each TEST in a forked child, KTAP output)
 * and run by tests/fabric/run.py (`make fabric-test`). Environment:
 *   FABRICD          the fabricd binary to test (required)
 *   FABRIC_TEST_DIR  where run directories go (default /tmp)
 *   FABRIC_TEST_KEEP if set, run directories (with fabricd.log) are kept
 *
 * Timing: tests never rely on something happening quickly, only within a
 * generous timeout; the only timing checks are lower bounds (a delay of
 * 30 ms cannot complete in less) and "nothing happens within 100 ms" for
 * a request fabricd must not see. Every fabricd a test starts is killed on
 * every path: explicitly at the end, and by PR_SET_PDEATHSIG if the test
 * process dies first.
 */
#include "json_check.h"
#include "unit.h"

#include <fabricd/check.h>
#include <proto/fabric.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 5000 /* generous: anything expected should come long before */
#define NODE_A	   1
#define NODE_B	   2
#define NODE_C	   3
#define KEY	   0x101u /* slot 1: the data MR every guest registers */
#define DATA	   FAB_DATA_OFFSET
#define DATA_LEN   0x40000u /* 256 KiB of each window in the data MR */

/* --- time ------------------------------------------------------------------ */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* --- fabricd processes ------------------------------------------------------ */

struct fabricd {
	pid_t pid;
	char dir[256];
	int exit_status; /* after fabricd_stop: the wait status */
};

static const char *fabricd_path(void)
{
	const char *p = getenv("FABRICD");

	if (!p)
		unit_diag("FABRICD is not set");
	return p;
}

static void make_run_dir(struct fabricd *fd)
{
	const char *base = getenv("FABRIC_TEST_DIR");

	snprintf(fd->dir, sizeof(fd->dir), "%s/fabric-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(fd->dir))
		fd->dir[0] = '\0';
}

static void child_exec(const struct fabricd *fd, const char *const *args, int out_fd,
		       pid_t parent)
{
	char log[300], *argv[40];
	unsigned n = 0;
	int err;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	snprintf(log, sizeof(log), "%s/fabricd.log", fd->dir);
	err = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	dup2(out_fd, STDOUT_FILENO);
	if (err >= 0)
		dup2(err, STDERR_FILENO);
	argv[n++] = (char *)fabricd_path();
	for (; args[n - 1] && n < 39; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	execv(argv[0], argv);
	_exit(127);
}

/* Reads the child's stdout until "fabricd: ready"; false on EOF or timeout. */
static bool wait_ready(int fd)
{
	char buf[512];
	size_t len = 0;
	uint64_t end = now_ms() + TIMEOUT_MS;

	while (now_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return false;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "fabricd: ready\n"))
			return true;
		if (len == sizeof(buf) - 1)
			len = 0;
	}
	return false;
}

/*
 * Starts fabricd with args (NULL-terminated, "--dir DIR" is added first)
 * and waits for its ready line. With expect_ready false, only starts it.
 */
static bool fabricd_spawn(struct fabricd *fd, const char *const *args, bool expect_ready)
{
	const char *full[40] = {"--dir", fd->dir};
	unsigned n = 2;
	pid_t parent = getpid();
	int pipefd[2];
	bool ok = true;

	for (unsigned i = 0; args[i] && n < 39; i++)
		full[n++] = args[i];
	full[n] = NULL;
	fd->pid = -1;
	if (!fd->dir[0] || !fabricd_path() || pipe(pipefd) < 0)
		return false;
	fd->pid = fork();
	if (fd->pid == 0) {
		close(pipefd[0]);
		child_exec(fd, full, pipefd[1], parent);
	}
	close(pipefd[1]);
	if (fd->pid > 0 && expect_ready)
		ok = wait_ready(pipefd[0]);
	close(pipefd[0]);
	return fd->pid > 0 && ok;
}

static const char *const three_nodes[] = {
	"--node", "1:a:1M", "--node", "2:b:1M", "--node", "3:c:2M", "--seed", "1", NULL,
};

static bool fabricd_start(struct fabricd *fd, const char *const *args)
{
	memset(fd, 0, sizeof(*fd));
	make_run_dir(fd);
	return fabricd_spawn(fd, args ? args : three_nodes, true);
}

/* Waits up to ms for the process to exit; true if it did. */
static bool reap(struct fabricd *fd, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	do {
		pid_t r = waitpid(fd->pid, &fd->exit_status, WNOHANG);

		if (r == fd->pid || (r < 0 && errno == ECHILD)) {
			fd->pid = -1;
			return true;
		}
		sleep_ms(5);
	} while (now_ms() < end);
	return false;
}

/* Shows the tail of fabricd's log as diagnostics (for failing tests). */
static void show_log(const struct fabricd *fd)
{
	char path[300], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/fabricd.log", fd->dir);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		unit_diag("fabricd: %s", line);
	}
	fclose(f);
}

/*
 * Stops fabricd: SIGTERM, then SIGKILL if it lingers. Returns true if it
 * exited by itself with status 0 (or had already been reaped so).
 */
static bool fabricd_stop(struct fabricd *fd)
{
	bool clean = true;

	if (fd->pid > 0) {
		kill(fd->pid, SIGTERM);
		if (!reap(fd, TIMEOUT_MS)) {
			kill(fd->pid, SIGKILL);
			reap(fd, TIMEOUT_MS);
			clean = false;
		}
		clean = clean && WIFEXITED(fd->exit_status) &&
			WEXITSTATUS(fd->exit_status) == 0;
	}
	if (unit_failed() || !clean)
		show_log(fd);
	return clean;
}

/* Removes the run directory, unless FABRIC_TEST_KEEP is set (debugging). */
static void remove_dir(const struct fabricd *fd)
{
	char cmd[400];

	if (!fd->dir[0] || strstr(fd->dir, "'") || getenv("FABRIC_TEST_KEEP"))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fd->dir);
	if (system(cmd) != 0)
		unit_diag("could not remove %s", fd->dir);
}

/* --- control socket -------------------------------------------------------- */

static int connect_unix(const char *path)
{
	struct sockaddr_un a;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

/* Reads one line (without '\n') into buf; false on EOF or timeout. */
static bool read_line(int s, char *buf, size_t size)
{
	size_t len = 0;
	uint64_t end = now_ms() + TIMEOUT_MS;

	while (len + 1 < size && now_ms() < end) {
		struct pollfd p = {.fd = s, .events = POLLIN};
		char c;

		if (poll(&p, 1, 100) <= 0)
			continue;
		if (read(s, &c, 1) != 1)
			break;
		if (c == '\n') {
			buf[len] = '\0';
			return true;
		}
		buf[len++] = c;
	}
	buf[len] = '\0';
	return false;
}

/* Sends one command; its reply line goes to reply (size bytes). */
static bool ctl(const struct fabricd *fd, const char *cmd, char *reply, size_t size)
{
	char path[300];
	int s;
	bool ok;

	snprintf(path, sizeof(path), "%s/control.sock", fd->dir);
	s = connect_unix(path);
	if (s < 0)
		return false;
	ok = write(s, cmd, strlen(cmd)) == (ssize_t)strlen(cmd) &&
	     write(s, "\n", 1) == 1 && read_line(s, reply, size);
	close(s);
	return ok;
}

/* Sends cmd and expects an "ok" reply. */
static bool ctl_ok(const struct fabricd *fd, const char *cmd)
{
	char reply[4096];

	if (!ctl(fd, cmd, reply, sizeof(reply)))
		return EXPECT(!"control command got no reply"), false;
	if (strncmp(reply, "ok", 2) != 0) {
		unit_diag("'%s' -> '%s'", cmd, reply);
		return EXPECT(!"control command failed"), false;
	}
	return true;
}

/*
 * A numeric field of the stats JSON: within the object that starts with
 * obj_prefix (e.g. {"id":2, or {"src":1,"dst":2,), the value after
 * "field":. Returns UINT64_MAX if not found.
 */
static uint64_t stats_field(const struct fabricd *fd, const char *obj_prefix,
			    const char *field)
{
	static char reply[1 << 16];
	char key[64];
	const char *o, *v, *close_brace;

	if (!ctl(fd, "stats", reply, sizeof(reply)))
		return UINT64_MAX;
	o = strstr(reply, obj_prefix);
	snprintf(key, sizeof(key), "\"%s\":", field);
	if (!o)
		return UINT64_MAX;
	close_brace = strchr(o, '}');
	v = strstr(o, key);
	if (!v || (close_brace && v > close_brace))
		return UINT64_MAX;
	v += strlen(key);
	if (strncmp(v, "true", 4) == 0)
		return 1;
	if (strncmp(v, "false", 5) == 0)
		return 0;
	return strtoull(v, NULL, 10);
}

static uint64_t node_stat(const struct fabricd *fd, unsigned id, const char *field)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "{\"id\":%u,", id);
	return stats_field(fd, prefix, field);
}

static uint64_t link_stat(const struct fabricd *fd, unsigned a, unsigned b,
			  const char *field)
{
	char prefix[48];

	snprintf(prefix, sizeof(prefix), "{\"src\":%u,\"dst\":%u,", a, b);
	return stats_field(fd, prefix, field);
}

/* Polls node id's stats field until it equals want (or the timeout). */
static bool wait_node_stat(const struct fabricd *fd, unsigned id, const char *field,
			   uint64_t want)
{
	uint64_t end = now_ms() + TIMEOUT_MS;

	while (now_ms() < end) {
		if (node_stat(fd, id, field) == want)
			return true;
		sleep_ms(5);
	}
	return false;
}

/* --- fake guests ------------------------------------------------------------- */

struct guest {
	uint16_t id;
	int sock, doorbell, irq; /* -1 when closed */
	int64_t msg[5];
	bool had_fd[5];
	uint8_t *win;
	uint64_t size;
	struct fab_window_hdr *hdr;
	uint32_t sq_tail, cq_head, rq_tail[FAB_MAX_QPS];
};

/* Receives one 8-byte message and the fd that may come with it. */
static bool recv_msg(int s, int64_t *v, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctlbuf;
	struct iovec iov = {.iov_base = v, .iov_len = sizeof(*v)};
	struct msghdr m;
	struct cmsghdr *c;
	struct pollfd p = {.fd = s, .events = POLLIN};

	*fd = -1;
	if (poll(&p, 1, TIMEOUT_MS) != 1)
		return false;
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctlbuf.buf;
	m.msg_controllen = sizeof(ctlbuf.buf);
	if (recvmsg(s, &m, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(*v))
		return false;
	c = CMSG_FIRSTHDR(&m);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	return true;
}

static void guest_close(struct guest *g)
{
	if (g->win)
		munmap(g->win, g->size);
	if (g->sock >= 0)
		close(g->sock);
	if (g->doorbell >= 0)
		close(g->doorbell);
	if (g->irq >= 0)
		close(g->irq);
	memset(g, 0, sizeof(*g));
	g->sock = g->doorbell = g->irq = -1;
}

/* Receives the five setup messages and maps the window; as QEMU does. */
static bool guest_handshake(struct guest *g)
{
	int fds[5], memfd;
	struct stat st;

	for (unsigned i = 0; i < 5; i++) {
		if (!recv_msg(g->sock, &g->msg[i], &fds[i]))
			return false;
		g->had_fd[i] = fds[i] >= 0;
	}
	memfd = fds[2];
	g->doorbell = fds[3]; /* peer 0's vector 0: writing it rings fabricd */
	g->irq = fds[4];      /* own vector 0: fabricd writes it to interrupt us */
	for (unsigned i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (memfd < 0 || fstat(memfd, &st) < 0) {
		if (memfd >= 0)
			close(memfd);
		return false;
	}
	g->size = (uint64_t)st.st_size;
	g->win = mmap(NULL, g->size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	close(memfd);
	if (g->win == MAP_FAILED) {
		g->win = NULL;
		return false;
	}
	g->hdr = (struct fab_window_hdr *)g->win;
	return true;
}

static bool guest_connect(struct guest *g, const struct fabricd *fd, const char *name,
			  uint16_t id)
{
	char path[300];

	memset(g, 0, sizeof(*g));
	g->sock = g->doorbell = g->irq = -1;
	g->id = id;
	snprintf(path, sizeof(path), "%s/%s.sock", fd->dir, name);
	g->sock = connect_unix(path);
	if (g->sock < 0 || !guest_handshake(g)) {
		guest_close(g);
		g->id = id;
		return false;
	}
	return true;
}

static void ring(struct guest *g)
{
	uint64_t one = 1;

	if (write(g->doorbell, &one, sizeof(one)) != sizeof(one))
		unit_diag("doorbell write failed: %s", strerror(errno));
}

static void reg_mr(struct guest *g, uint32_t key, uint64_t off, uint64_t len,
		   uint32_t access)
{
	struct fab_mr *mr = (struct fab_mr *)(g->win + FAB_MR_OFFSET) + FAB_MR_SLOT(key);

	mr->offset = off;
	mr->length = len;
	mr->key = key;
	mr->access = access;
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

#define ALL_ACCESS                                                                       \
	(FAB_ACCESS_LOCAL_WRITE | FAB_ACCESS_REMOTE_READ | FAB_ACCESS_REMOTE_WRITE)

/* Writes w at sq_tail and publishes it, without ringing. */
static void put_wqe(struct guest *g, const struct fab_wqe *w)
{
	struct fab_wqe *slot =
		(struct fab_wqe *)(g->win + FAB_SQ_OFFSET) + g->sq_tail % FAB_SQ_ENTRIES;

	*slot = *w;
	g->sq_tail++;
	__atomic_store_n(&g->hdr->sq_tail, g->sq_tail, __ATOMIC_RELEASE);
}

/* The guest's posting rule: publish, full barrier, ring only if fabricd sleeps. */
static void post(struct guest *g, const struct fab_wqe *w)
{
	put_wqe(g, w);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&g->hdr->fabricd_sleeping, __ATOMIC_RELAXED))
		ring(g);
}

/* Waits (bounded) until the SQ has room, then posts w. */
static void post_when_room(struct guest *g, const struct fab_wqe *w)
{
	uint64_t end = now_ms() + TIMEOUT_MS;

	while (g->sq_tail - __atomic_load_n(&g->hdr->sq_head, __ATOMIC_ACQUIRE) >=
		       FAB_SQ_ENTRIES &&
	       now_ms() < end)
		sleep_ms(1);
	post(g, w);
}

static void post_rqe(struct guest *g, unsigned qpn, uint64_t wr_id, uint64_t off,
		     uint32_t len, uint32_t key)
{
	struct fab_rqe *slot = (struct fab_rqe *)(g->win + FAB_RQ_OFFSET) +
			       qpn * FAB_RQ_ENTRIES + g->rq_tail[qpn] % FAB_RQ_ENTRIES;

	slot->wr_id = wr_id;
	slot->offset = off;
	slot->length = len;
	slot->key = key;
	g->rq_tail[qpn]++;
	__atomic_store_n(&g->hdr->rq_tail[qpn], g->rq_tail[qpn], __ATOMIC_RELEASE);
}

/* Takes a CQE if one is there. */
static bool cq_take(struct guest *g, struct fab_cqe *c)
{
	uint32_t tail = __atomic_load_n(&g->hdr->cq_tail, __ATOMIC_ACQUIRE);

	if (tail == g->cq_head)
		return false;
	*c = ((struct fab_cqe *)(g->win + FAB_CQ_OFFSET))[g->cq_head % FAB_CQ_ENTRIES];
	g->cq_head++;
	__atomic_store_n(&g->hdr->cq_head, g->cq_head, __ATOMIC_RELEASE);
	return true;
}

/*
 * Waits for the next CQE like a guest that sleeps: set guest_sleeping,
 * full barrier, check the CQ, block on the interrupt eventfd.
 */
static bool wait_cqe(struct guest *g, struct fab_cqe *c)
{
	uint64_t end = now_ms() + TIMEOUT_MS;

	for (;;) {
		struct pollfd p = {.fd = g->irq, .events = POLLIN};
		uint64_t v, t;
		int left;

		if (cq_take(g, c))
			return true;
		__atomic_store_n(&g->hdr->guest_sleeping, 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (cq_take(g, c)) {
			__atomic_store_n(&g->hdr->guest_sleeping, 0, __ATOMIC_RELAXED);
			return true;
		}
		t = now_ms();
		if (t >= end)
			break;
		left = (int)(end - t);
		if (poll(&p, 1, left) == 1 && read(g->irq, &v, sizeof(v)) < 0)
			unit_diag("irq read: %s", strerror(errno));
		__atomic_store_n(&g->hdr->guest_sleeping, 0, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&g->hdr->guest_sleeping, 0, __ATOMIC_RELAXED);
	return false;
}

/* True if no CQE arrives within ms (for "nothing must happen" checks). */
static bool no_cqe_within(struct guest *g, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end) {
		if (__atomic_load_n(&g->hdr->cq_tail, __ATOMIC_ACQUIRE) != g->cq_head)
			return false;
		sleep_ms(2);
	}
	return true;
}

static struct fab_wqe wqe(uint8_t op, uint16_t dst, uint32_t len, uint64_t loff,
			  uint64_t roff)
{
	struct fab_wqe w;

	memset(&w, 0, sizeof(w));
	w.wr_id = 0x1000 + op;
	w.opcode = op;
	w.flags = FAB_WQE_SIGNALED;
	w.dst_node = dst;
	w.length = len;
	w.local_offset = loff;
	w.local_key = KEY;
	w.remote_key = KEY;
	w.remote_offset = roff;
	return w;
}

/* Posts w, waits for its CQE (which must carry its wr_id); returns the status,
 * or 0xff if none came. */
static int run_wqe(struct guest *g, const struct fab_wqe *w, struct fab_cqe *out)
{
	struct fab_cqe c;

	post(g, w);
	if (!wait_cqe(g, &c)) {
		unit_diag("no completion for wr_id %#llx", (unsigned long long)w->wr_id);
		return 0xff;
	}
	if (c.wr_id != w->wr_id)
		unit_diag("completion of wr_id %#llx, expected %#llx",
			  (unsigned long long)c.wr_id, (unsigned long long)w->wr_id);
	if (out)
		*out = c;
	return c.status;
}

static void fill(struct guest *g, uint64_t off, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		g->win[off + i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

static bool all_bytes(const struct guest *g, uint64_t off, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (g->win[off + i] != v)
			return false;
	return true;
}

/* --- the environment of most tests ------------------------------------------ */

struct env {
	struct fabricd fd;
	struct guest a, b, c;
};

static bool env_connect(struct env *e, struct guest *g, const char *name, uint16_t id)
{
	if (!guest_connect(g, &e->fd, name, id))
		return false;
	reg_mr(g, KEY, DATA, DATA_LEN, ALL_ACCESS);
	return true;
}

/* fabricd with nodes a, b, c; guests a and b connected (c if with_c). */
static bool env_start(struct env *e, const char *const *args, bool with_c)
{
	memset(e, 0, sizeof(*e));
	e->a.sock = e->b.sock = e->c.sock = -1;
	e->a.doorbell = e->b.doorbell = e->c.doorbell = -1;
	e->a.irq = e->b.irq = e->c.irq = -1;
	if (!fabricd_start(&e->fd, args)) {
		unit_diag("fabricd did not start");
		return false;
	}
	return env_connect(e, &e->a, "a", NODE_A) && env_connect(e, &e->b, "b", NODE_B) &&
	       (!with_c || env_connect(e, &e->c, "c", NODE_C));
}

static void env_stop(struct env *e)
{
	guest_close(&e->a);
	guest_close(&e->b);
	guest_close(&e->c);
	EXPECT(fabricd_stop(&e->fd));
	remove_dir(&e->fd);
}

/* Runs body in a fresh environment and always tears it down. */
static void with_env(void (*body)(struct env *), const char *const *args, bool with_c)
{
	struct env e;

	if (env_start(&e, args, with_c))
		body(&e);
	else
		EXPECT(!"environment set up");
	env_stop(&e);
}

/* --- tests: setup protocol ----------------------------------------------------- */

static void t_handshake(struct env *e)
{
	const int64_t want[5] = {0, NODE_A, -1, 0, NODE_A};
	const bool want_fd[5] = {false, false, true, true, true};

	for (unsigned i = 0; i < 5; i++) {
		EXPECT_EQ(e->a.msg[i], want[i]);
		EXPECT_EQ(e->a.had_fd[i], want_fd[i]);
	}
	EXPECT_EQ(e->a.size, 1u << 20);
	EXPECT_EQ(e->a.hdr->magic, FAB_MAGIC);
	EXPECT_EQ(e->a.hdr->version, (uint32_t)FAB_VERSION);
	EXPECT_EQ(e->a.hdr->node_id, NODE_A);
	EXPECT_EQ(e->a.hdr->generation, 1u);
	EXPECT_EQ(e->a.hdr->window_size, 1u << 20);
	EXPECT_EQ(e->b.hdr->node_id, NODE_B);
	EXPECT_EQ(node_stat(&e->fd, NODE_A, "connected"), 1u);
	EXPECT_EQ(node_stat(&e->fd, NODE_C, "connected"), 0u);
	EXPECT_EQ(node_stat(&e->fd, NODE_C, "window_size"), 2u << 20);
}

TEST(fabric_setup_messages_and_header)
{
	with_env(t_handshake, NULL, false);
}

static void t_second_connection(struct env *e)
{
	char path[300], buf[8];
	struct pollfd p;
	int s;

	snprintf(path, sizeof(path), "%s/a.sock", e->fd.dir);
	s = connect_unix(path);
	ASSERT(s >= 0);
	p.fd = s;
	p.events = POLLIN;
	EXPECT_EQ(poll(&p, 1, TIMEOUT_MS), 1);
	EXPECT_EQ(read(s, buf, sizeof(buf)), 0); /* closed without a message */
	close(s);
	/* the first connection still works */
	fill(&e->a, DATA, 64, 3);
	struct fab_wqe w = wqe(FAB_OP_WRITE, NODE_B, 64, DATA, DATA + 0x100);
	EXPECT_EQ(run_wqe(&e->a, &w, NULL), FAB_ST_OK);
	EXPECT_MEMEQ(e->b.win + DATA + 0x100, e->a.win + DATA, 64);
}

TEST(fabric_second_connection_refused)
{
	with_env(t_second_connection, NULL, false);
}

static void t_reconnect(struct env *e)
{
	e->a.win[DATA + 5] = 0xee;
	guest_close(&e->a);
	EXPECT(wait_node_stat(&e->fd, NODE_A, "connected", 0));
	ASSERT(env_connect(e, &e->a, "a", NODE_A));
	EXPECT_EQ(e->a.hdr->generation, 2u);
	EXPECT_EQ(e->a.hdr->magic, FAB_MAGIC);
	EXPECT_EQ(e->a.win[DATA + 5], 0); /* a restarted VM gets a zeroed window */
	EXPECT_EQ(node_stat(&e->fd, NODE_A, "generation"), 2u);
	/* and works */
	struct fab_wqe w = wqe(FAB_OP_WRITE, NODE_B, 16, DATA, DATA);
	EXPECT_EQ(run_wqe(&e->a, &w, NULL), FAB_ST_OK);
}

TEST(fabric_reconnect_bumps_generation)
{
	with_env(t_reconnect, NULL, false);
}

/* --- tests: verbs -------------------------------------------------------------- */

static void t_write(struct env *e)
{
	struct fab_cqe c;
	struct fab_wqe w = wqe(FAB_OP_WRITE, NODE_B, 4096, DATA + 0x1000, DATA + 0x8000);

	fill(&e->a, DATA + 0x1000, 4096, 11);
	w.src_qpn = 4;
	ASSERT_EQ(run_wqe(&e->a, &w, &c), FAB_ST_OK);
	EXPECT_MEMEQ(e->b.win + DATA + 0x8000, e->a.win + DATA + 0x1000, 4096);
	EXPECT_EQ(c.opcode, FAB_OP_WRITE);
	EXPECT_EQ(c.byte_len, 4096u);
	EXPECT_EQ(c.qpn, 4);
	EXPECT_EQ(c.src_node, NODE_B); /* the peer */
	/* unsignaled: no completion, but done (the next signaled one comes alone) */
	fill(&e->a, DATA + 0x3000, 100, 99);
	w = wqe(FAB_OP_WRITE, NODE_B, 100, DATA + 0x3000, DATA + 0x9000);
	w.flags = 0;
	w.wr_id = 1;
	post(&e->a, &w);
	w = wqe(FAB_OP_WRITE, NODE_B, 8, DATA, DATA + 0xa000);
	w.wr_id = 2;
	ASSERT_EQ(run_wqe(&e->a, &w, &c), FAB_ST_OK);
	EXPECT_EQ(c.wr_id, 2u);
	EXPECT_MEMEQ(e->b.win + DATA + 0x9000, e->a.win + DATA + 0x3000, 100);
	EXPECT_EQ(e->a.hdr->sq_head, 3u);
	EXPECT_EQ(e->a.hdr->errors, 0u);
	EXPECT_EQ(node_stat(&e->fd, NODE_A, "bytes"), 4096u + 100 + 8);
	EXPECT_EQ(link_stat(&e->fd, NODE_A, NODE_B, "ops"), 3u);
}

TEST(fabric_write)
{
	with_env(t_write, NULL, false);
}

static void t_read(struct env *e)
{
	struct fab_cqe c;
	struct fab_wqe w = wqe(FAB_OP_READ, NODE_B, 10000, DATA + 0x20000, DATA + 0x100);

	fill(&e->b, DATA + 0x100, 10000, 5);
	ASSERT_EQ(run_wqe(&e->a, &w, &c), FAB_ST_OK);
	EXPECT_MEMEQ(e->a.win + DATA + 0x20000, e->b.win + DATA + 0x100, 10000);
	EXPECT_EQ(c.opcode, FAB_OP_READ);
	EXPECT_EQ(c.byte_len, 10000u);
}

TEST(fabric_read)
{
	with_env(t_read, NULL, false);
}

static void t_send_recv(struct env *e)
{
	struct fab_cqe c;
	struct fab_wqe w = wqe(FAB_OP_SEND, NODE_B, 1000, DATA + 0x400, 0);

	fill(&e->a, DATA + 0x400, 1000, 77);
	post_rqe(&e->b, 3, 0x77, DATA + 0x10000, 8192, KEY);
	w.dst_qpn = 3;
	w.src_qpn = 5;
	w.imm = 0xabcd;
	ASSERT_EQ(run_wqe(&e->a, &w, &c), FAB_ST_OK);
	EXPECT_EQ(c.opcode, FAB_OP_SEND);
	EXPECT_EQ(c.byte_len, 1000u);
	ASSERT(wait_cqe(&e->b, &c));
	EXPECT_EQ(c.opcode, FAB_OP_RECV);
	EXPECT_EQ(c.status, FAB_ST_OK);
	EXPECT_EQ(c.wr_id, 0x77u);
	EXPECT_EQ(c.byte_len, 1000u);
	EXPECT_EQ(c.imm, 0xabcdu);
	EXPECT_EQ(c.src_node, NODE_A);
	EXPECT_EQ(c.src_qpn, 5);
	EXPECT_EQ(c.qpn, 3);
	EXPECT_EQ(c.remote_offset, (uint64_t)DATA + 0x10000);
	EXPECT_MEMEQ(e->b.win + DATA + 0x10000, e->a.win + DATA + 0x400, 1000);
	EXPECT_EQ(e->b.hdr->rq_head[3], 1u);
}

TEST(fabric_send_recv)
{
	with_env(t_send_recv, NULL, false);
}

static void t_write_imm(struct env *e)
{
	struct fab_cqe c;
	struct fab_wqe w = wqe(FAB_OP_WRITE_IMM, NODE_B, 300, DATA, DATA + 0x5000);

	fill(&e->a, DATA, 300, 1);
	post_rqe(&e->b, 2, 0x55, DATA, 64, KEY); /* must stay unused */
	w.dst_qpn = 2;
	w.src_qpn = 7;
	w.imm = 42;
	ASSERT_EQ(run_wqe(&e->a, &w, &c), FAB_ST_OK);
	ASSERT(wait_cqe(&e->b, &c));
	EXPECT_EQ(c.opcode, FAB_OP_RECV_IMM);
	EXPECT_EQ(c.status, FAB_ST_OK);
	EXPECT_EQ(c.wr_id, 0u);
	EXPECT_EQ(c.imm, 42u);
	EXPECT_EQ(c.byte_len, 300u);
	EXPECT_EQ(c.remote_offset, (uint64_t)DATA + 0x5000);
	EXPECT_EQ(c.src_node, NODE_A);
	EXPECT_EQ(c.src_qpn, 7);
	EXPECT_EQ(c.qpn, 7); /* no receive queue involved: the sender's QP */
	EXPECT_MEMEQ(e->b.win + DATA + 0x5000, e->a.win + DATA, 300);
	EXPECT_EQ(e->b.hdr->rq_head[2], 0u);
}

TEST(fabric_write_imm)
{
	with_env(t_write_imm, NULL, false);
}

static void t_loopback(struct env *e)
{
	struct fab_cqe c;
	struct fab_wqe w = wqe(FAB_OP_WRITE, NODE_A, 512, DATA, DATA + 0x1000);

	fill(&e->a, DATA, 512, 9);
	ASSERT_EQ(run_wqe(&e->a, &w, NULL), FAB_ST_OK);
	EXPECT_MEMEQ(e->a.win + DATA + 0x1000, e->a.win + DATA, 512);
	post_rqe(&e->a, 0, 0x99, DATA + 0x2000, 512, KEY);
	w = wqe(FAB_OP_SEND, NODE_A, 512, DATA, 0);
	post(&e->a, &w);
	/* two completions on the same CQ: the RECV and the SEND */
	bool seen_recv = false, seen_send = false;
	for (unsigned i = 0; i < 2; i++) {
		ASSERT(wait_cqe(&e->a, &c));
		EXPECT_EQ(c.status, FAB_ST_OK);
		seen_recv |= c.opcode == FAB_OP_RECV && c.wr_id == 0x99;
		seen_send |= c.opcode == FAB_OP_SEND;
	}
	EXPECT(seen_recv && seen_send);
	EXPECT_MEMEQ(e->a.win + DATA + 0x2000, e->a.win + DATA, 512);
}

TEST(fabric_loopback)
{
	with_env(t_loopback, NULL, false);
}

/* --- tests: flow control --------------------------------------------------------- */

static void t_rnr(struct env *e)
{
	struct fab_wqe w = wqe(FAB_OP_SEND, NODE_B, 64, DATA, 0);

	w.dst_qpn = 1;
	EXPECT_EQ(run_wqe(&e->a, &w, NULL), FAB_ST_RNR); /* nothing posted */
	post_rqe(&e->b, 1, 1, DATA, 32, KEY);
	EXPECT_EQ(run_wqe(&e->a, &w, NULL), FAB_ST_LENGTH); /* buffer too small */
	EXPECT_EQ(e->b.hdr->rq_head[1], 0u);		    /* and not consumed */
	w.length = 32;
	EXPECT_EQ(run_wqe(&e->a, &w, NULL), FAB_ST_OK);
	EXPECT_EQ(e->b.hdr->rq_head[1], 1u);
	EXPECT_EQ(node_stat(&e->fd, NODE_A, "errors"), 1u); /* the LENGTH one */
}

TEST(fabric_send_rnr_and_length)
{
	with_env(t_rnr, NULL, false);
}

/* Fills b's CQ with RECV_IMMs that b does not consume. */
static bool fill_cq_of_b(struct env *e)
{
	struct fab_wqe w = wqe(FAB_OP_WRITE_IMM, NODE_B, 4, DATA, DATA);

	w.flags = 0;
	for (unsigned i = 0; i < FAB_CQ_ENTRIES; i++)
		post_when_room(&e->a, &w);
	w.flags = FAB_WQE_SIGNALED;
	w.wr_id = 0xfeed;
	while (e->a.sq_tail != __atomic_load_n(&e->a.hdr->sq_head, __ATOMIC_ACQUIRE))
		sleep_ms(1); /* bounded by the test's alarm */
	if (run_wqe(&e->a, &w, NULL) == FAB_ST_RNR)
		return true;
	unit_diag("a: sq_tail %u sq_head %u cq_tail %u; b: cq_tail %u cq_head %u",
		  e->a.sq_tail, e->a.hdr->sq_head, e->a.hdr->cq_tail, e->b.hdr->cq_tail,
		  e->b.hdr->cq_head);
	return false;
}

static void t_target_cq_full(struct env *e)
{
	struct fab_wqe w = wqe(FAB_OP_SEND, NODE_B, 8, DATA, 0);
	struct fab_cqe c;

	ASSERT(fill_cq_of_b(e));
	EXPECT_EQ(e->b.hdr->cq_tail, (uint32_t)FAB_CQ_ENTRIES);
	post_rqe(&e->b, 0, 5, DATA, 64, KEY);
	EXPECT_EQ(run_wqe(&e->a, &w, NULL), FAB_ST_RNR); /* buffer posted, CQ full */
	ASSERT(cq_take(&e->b, &c));
	EXPECT_EQ(c.opcode, FAB_OP_RECV_IMM);
	EXPECT_EQ(run_wqe(&e->a, &w, NULL), FAB_ST_OK);
	EXPECT_EQ(e->b.hdr->cq_tail, (uint32_t)FAB_CQ_ENTRIES + 1);
}

TEST(fabric_target_cq_full_rnr)
{
	with_env(t_target_cq_full, NULL, false);
}

/*
 * a never consumes its CQ: fabricd fills it to exactly FAB_CQ_ENTRIES, then
 * stops taking a's WQEs; once a drains the CQ (without ringing), the rest
 * complete. No completion may be overwritten: the wr_ids come in order.
 */
static void t_cq_backpressure(struct env *e)
{
	const unsigned total = FAB_CQ_ENTRIES + 100;
	unsigned posted = 0;
	uint64_t end = now_ms() + TIMEOUT_MS;
	struct fab_cqe c;

	while (posted < total && now_ms() < end) {
		struct fab_wqe w =
			wqe(FAB_OP_WRITE, NODE_B, 8, DATA, DATA + 8 * (posted % 64));

		if (e->a.sq_tail -
			    __atomic_load_n(&e->a.hdr->sq_head, __ATOMIC_ACQUIRE) >=
		    FAB_SQ_ENTRIES) {
			sleep_ms(1);
			continue;
		}
		w.wr_id = posted++;
		post(&e->a, &w);
	}
	ASSERT_EQ(posted, total);
	/* fabricd takes exactly as many as fit in the CQ, then stops */
	while (now_ms() < end &&
	       __atomic_load_n(&e->a.hdr->cq_tail, __ATOMIC_ACQUIRE) < FAB_CQ_ENTRIES)
		sleep_ms(1);
	sleep_ms(100);
	EXPECT_EQ(e->a.hdr->cq_tail, (uint32_t)FAB_CQ_ENTRIES);
	EXPECT_EQ(e->a.hdr->sq_head, (uint32_t)FAB_CQ_ENTRIES);
	for (unsigned i = 0; i < total; i++) {
		if (!EXPECT(wait_cqe(&e->a, &c)))
			break;
		if (!EXPECT_EQ(c.wr_id, (uint64_t)i))
			break;
		EXPECT_EQ(c.status, FAB_ST_OK);
	}
	EXPECT_EQ(e->a.hdr->errors, 0u);
}

TEST(fabric_cq_full_backpressure)
{
	with_env(t_cq_backpressure, NULL, false);
}

/* --- tests: hostile requests --------------------------------------------------- */

/* Runs w and expects status st; returns whether it came. */
static bool expect_status(struct guest *g, struct fab_wqe w, int st, unsigned line)
{
	int got = run_wqe(g, &w, NULL);

	if (got != st)
		unit_diag("line %u: status %s, expected %s", line, fab_status_name(got),
			  fab_status_name(st));
	return EXPECT_EQ(got, st);
}
#define EXPECT_STATUS(g, w, st) expect_status(g, w, st, __LINE__)

static void t_bad_keys(struct env *e)
{
	struct fab_wqe w;
	const uint32_t RO = 0x202, WO = 0x303, LOCAL_RO = 0x404;

	memset(e->b.win + DATA, 0x5a, DATA_LEN);
	reg_mr(&e->b, RO, DATA, 4096, FAB_ACCESS_REMOTE_READ);
	reg_mr(&e->b, WO, DATA, 4096, FAB_ACCESS_REMOTE_WRITE);
	reg_mr(&e->a, LOCAL_RO, DATA, 4096, FAB_ACCESS_REMOTE_READ);

	w = wqe(FAB_OP_WRITE, NODE_B, 64, DATA, DATA);
	w.local_key = 0x201; /* slot 1, wrong upper bits */
	EXPECT_STATUS(&e->a, w, FAB_ST_LOCAL_ERR);
	w.local_key = 0x77; /* free slot */
	EXPECT_STATUS(&e->a, w, FAB_ST_LOCAL_ERR);
	w = wqe(FAB_OP_WRITE, NODE_B, 64, DATA, DATA);
	w.remote_key = 0x901; /* wrong remote key */
	EXPECT_STATUS(&e->a, w, FAB_ST_REMOTE_ACCESS);
	w.remote_key = RO; /* no REMOTE_WRITE */
	EXPECT_STATUS(&e->a, w, FAB_ST_REMOTE_ACCESS);
	w.opcode = FAB_OP_WRITE_IMM;
	EXPECT_STATUS(&e->a, w, FAB_ST_REMOTE_ACCESS);
	w = wqe(FAB_OP_READ, NODE_B, 64, DATA, DATA);
	w.remote_key = WO; /* no REMOTE_READ */
	EXPECT_STATUS(&e->a, w, FAB_ST_REMOTE_ACCESS);
	w.remote_key = RO;
	w.local_key = LOCAL_RO; /* READ lands in an MR without LOCAL_WRITE */
	EXPECT_STATUS(&e->a, w, FAB_ST_LOCAL_ERR);
	w.local_key = KEY; /* the read-only remote MR is fine for a READ */
	EXPECT_STATUS(&e->a, w, FAB_ST_OK);
	EXPECT(all_bytes(&e->b, DATA, DATA_LEN, 0x5a));
	EXPECT_EQ(e->a.hdr->errors, 7u);
	EXPECT_EQ(node_stat(&e->fd, NODE_A, "errors"), 7u);
	EXPECT_EQ(e->b.hdr->errors, 0u);
}

TEST(fabric_wrong_keys_and_rights)
{
	with_env(t_bad_keys, NULL, false);
}

static void t_bounds(struct env *e)
{
	const uint32_t BEYOND = 0x505, CONTROL = 0x606;
	struct fab_window_hdr saved;
	struct fab_wqe w;

	memset(e->b.win + DATA, 0x5a, DATA_LEN);
	/* an MR reaching past the end of the window is no MR at all */
	reg_mr(&e->b, BEYOND, DATA, e->b.size, ALL_ACCESS);
	/* nor is one covering the control page and the rings */
	reg_mr(&e->b, CONTROL, 0, DATA + 4096, ALL_ACCESS);
	saved = *e->b.hdr;

	w = wqe(FAB_OP_WRITE, NODE_B, 64, DATA, e->b.size + 4096); /* beyond the window */
	EXPECT_STATUS(&e->a, w, FAB_ST_REMOTE_ACCESS);
	w = wqe(FAB_OP_WRITE, NODE_B, 65, DATA, DATA + DATA_LEN - 64); /* 1 byte past */
	EXPECT_STATUS(&e->a, w, FAB_ST_REMOTE_ACCESS);
	w = wqe(FAB_OP_WRITE, NODE_B, 0x2000, DATA, 0xfffffffffffff000ull); /* wraps */
	EXPECT_STATUS(&e->a, w, FAB_ST_REMOTE_ACCESS);
	w = wqe(FAB_OP_READ, NODE_B, 0x2000, DATA, 0xfffffffffffff000ull);
	EXPECT_STATUS(&e->a, w, FAB_ST_REMOTE_ACCESS);
	w = wqe(FAB_OP_WRITE, NODE_B, 0x2000, 0xfffffffffffff000ull,
		DATA); /* local wraps */
	EXPECT_STATUS(&e->a, w, FAB_ST_LOCAL_ERR);
	w = wqe(FAB_OP_WRITE, NODE_B, 64, DATA - 64, DATA); /* local below the MR */
	EXPECT_STATUS(&e->a, w, FAB_ST_LOCAL_ERR);
	w = wqe(FAB_OP_WRITE, NODE_B, 64, DATA, DATA + 4096);
	w.remote_key = BEYOND;
	EXPECT_STATUS(&e->a, w, FAB_ST_REMOTE_ACCESS);
	w = wqe(FAB_OP_WRITE, NODE_B, 64, DATA, FAB_SQ_OFFSET);
	w.remote_key = CONTROL;
	EXPECT_STATUS(&e->a, w, FAB_ST_REMOTE_ACCESS);
	w = wqe(FAB_OP_WRITE, NODE_B, FAB_MAX_MSG + 1, DATA, DATA);
	EXPECT_STATUS(&e->a, w, FAB_ST_LENGTH);
	w = wqe(FAB_OP_WRITE, NODE_B, 0xffffffffu, DATA, DATA);
	EXPECT_STATUS(&e->a, w, FAB_ST_LENGTH);
	EXPECT(all_bytes(&e->b, DATA, DATA_LEN, 0x5a));
	EXPECT_EQ(e->b.hdr->magic, saved.magic);
	EXPECT_EQ(e->b.hdr->cq_tail, saved.cq_tail);
	EXPECT_EQ(e->a.hdr->errors, 10u);
}

TEST(fabric_out_of_bounds)
{
	with_env(t_bounds, NULL, false);
}

static void t_malformed(struct env *e)
{
	struct fab_wqe w = wqe(FAB_OP_WRITE, NODE_B, 8, DATA, DATA);
	const uint8_t bad_ops[] = {0, FAB_OP_RECV, FAB_OP_RECV_IMM, 99, 255};

	for (unsigned i = 0; i < sizeof(bad_ops); i++) {
		w.opcode = bad_ops[i];
		EXPECT_STATUS(&e->a, w, FAB_ST_LOCAL_ERR);
	}
	w = wqe(FAB_OP_WRITE, NODE_B, 8, DATA, DATA);
	w.flags = FAB_WQE_SIGNALED | 0x80;
	EXPECT_STATUS(&e->a, w, FAB_ST_LOCAL_ERR);
	w = wqe(FAB_OP_SEND, NODE_B, 8, DATA, 0);
	w.dst_qpn = FAB_MAX_QPS;
	EXPECT_STATUS(&e->a, w, FAB_ST_BAD_QP);
	w.opcode = FAB_OP_WRITE_IMM; /* dst_qpn means nothing to a WRITE_IMM */
	w.remote_offset = DATA;
	EXPECT_STATUS(&e->a, w, FAB_ST_OK);
	w.opcode = FAB_OP_SEND;
	w.dst_qpn = 0;
	w.src_qpn = 999;
	EXPECT_STATUS(&e->a, w, FAB_ST_BAD_QP);
	w = wqe(FAB_OP_WRITE, 0, 8, DATA, DATA);
	EXPECT_STATUS(&e->a, w, FAB_ST_UNREACHABLE);
	w.dst_node = FAB_MAX_NODES;
	EXPECT_STATUS(&e->a, w, FAB_ST_UNREACHABLE);
	w.dst_node = 0xffff;
	EXPECT_STATUS(&e->a, w, FAB_ST_UNREACHABLE);
	w.dst_node = 40; /* in range, not configured */
	EXPECT_STATUS(&e->a, w, FAB_ST_UNREACHABLE);
	w.dst_node = NODE_C; /* configured, not connected */
	EXPECT_STATUS(&e->a, w, FAB_ST_UNREACHABLE);
	EXPECT_EQ(e->a.hdr->errors, 8u); /* UNREACHABLE is no malformation */
}

TEST(fabric_malformed_requests)
{
	with_env(t_malformed, NULL, false);
}

static void t_bad_rqe(struct env *e)
{
	struct fab_wqe w = wqe(FAB_OP_SEND, NODE_B, 8, DATA, 0);
	struct fab_cqe c;

	post_rqe(&e->b, 0, 0x31, DATA, 64, 0x7777); /* no such key */
	post_rqe(&e->b, 0, 0x32, DATA + 64, 64, KEY);
	EXPECT_STATUS(&e->a, w, FAB_ST_REMOTE_ACCESS);
	ASSERT(wait_cqe(&e->b, &c));
	EXPECT_EQ(c.opcode, FAB_OP_RECV);
	EXPECT_EQ(c.status, FAB_ST_LOCAL_ERR);
	EXPECT_EQ(c.wr_id, 0x31u);
	EXPECT_EQ(e->b.hdr->errors, 1u);
	EXPECT_STATUS(&e->a, w, FAB_ST_OK); /* the next buffer is fine */
	ASSERT(wait_cqe(&e->b, &c));
	EXPECT_EQ(c.wr_id, 0x32u);
	EXPECT_EQ(c.status, FAB_ST_OK);
}

TEST(fabric_bad_receive_buffer)
{
	with_env(t_bad_rqe, NULL, false);
}

static void t_bad_indices(struct env *e)
{
	struct fab_wqe w = wqe(FAB_OP_WRITE, NODE_B, 8, DATA, DATA);
	uint64_t end;

	/* an SQ tail far ahead: nothing taken, one error */
	__atomic_store_n(&e->a.hdr->sq_tail, e->a.sq_tail + 1000, __ATOMIC_RELEASE);
	ring(&e->a);
	end = now_ms() + TIMEOUT_MS;
	while (e->a.hdr->errors == 0 && now_ms() < end)
		sleep_ms(1);
	EXPECT_EQ(e->a.hdr->errors, 1u);
	EXPECT_EQ(e->a.hdr->sq_head, 0u);
	__atomic_store_n(&e->a.hdr->sq_tail, e->a.sq_tail, __ATOMIC_RELEASE);
	EXPECT_STATUS(&e->a, w, FAB_ST_OK);
	/* a CQ head ahead of the tail: the CQ counts as full until it is sane */
	__atomic_store_n(&e->a.hdr->cq_head, e->a.cq_head + 5, __ATOMIC_RELEASE);
	post(&e->a, &w);
	ring(&e->a);
	end = now_ms() + TIMEOUT_MS;
	while (e->a.hdr->errors == 1 && now_ms() < end)
		sleep_ms(1);
	EXPECT_EQ(e->a.hdr->errors, 2u);
	EXPECT(no_cqe_within(&e->a, 50));
	__atomic_store_n(&e->a.hdr->cq_head, e->a.cq_head, __ATOMIC_RELEASE);
	ring(&e->a);
	struct fab_cqe c;
	EXPECT(wait_cqe(&e->a, &c));
	EXPECT_EQ(c.status, FAB_ST_OK);
	/* a corrupt RQ tail at the target: RNR, the target's error */
	__atomic_store_n(&e->b.hdr->rq_tail[0], 5000, __ATOMIC_RELEASE);
	w = wqe(FAB_OP_SEND, NODE_B, 8, DATA, 0);
	EXPECT_STATUS(&e->a, w, FAB_ST_RNR);
	EXPECT_EQ(e->b.hdr->errors, 1u);
	EXPECT_EQ(e->a.hdr->errors, 2u);
}

TEST(fabric_corrupt_indices)
{
	with_env(t_bad_indices, NULL, false);
}

/*
 * Random requests from a, most of them nonsense, some using real keys with
 * random offsets and lengths: fabricd survives, b's memory outside the one
 * MR it exposes for remote writes never changes.
 */
static void t_random_requests(struct env *e)
{
	struct unit_rng r = {0x12345678};
	const uint32_t WIN = 0x808;
	struct fab_cqe c;
	unsigned done = 0;

	memset(e->b.win + DATA, 0x5a, DATA_LEN);
	reg_mr(&e->b, KEY, DATA, DATA_LEN,
	       FAB_ACCESS_LOCAL_WRITE | FAB_ACCESS_REMOTE_READ);
	reg_mr(&e->b, WIN, DATA + 0x10000, 0x1000, FAB_ACCESS_REMOTE_WRITE);
	for (unsigned i = 0; i < 2000; i++) {
		struct fab_wqe w;

		for (unsigned k = 0; k < sizeof(w); k++)
			((uint8_t *)&w)[k] = (uint8_t)unit_rand(&r);
		if (i % 2) {
			w.opcode = (uint8_t)(1 + unit_rand_below(&r, 4));
			w.dst_node = (uint16_t)(1 + unit_rand_below(&r, 3));
			w.dst_qpn = (uint16_t)unit_rand_below(&r, 17);
			w.src_qpn = 0;
			w.flags = FAB_WQE_SIGNALED;
			w.local_key = KEY;
			w.remote_key = unit_rand_below(&r, 2) ? WIN : KEY;
			w.local_offset = DATA + unit_rand_below(&r, 0x11000);
			w.remote_offset =
				DATA + 0x10000 - 64 + unit_rand_below(&r, 0x1100);
			w.length = (uint32_t)unit_rand_below(&r, 0x1100);
		}
		w.flags |= FAB_WQE_SIGNALED;
		w.wr_id = i;
		post(&e->a, &w);
		if (!wait_cqe(&e->a, &c))
			break;
		done++;
	}
	EXPECT_EQ(done, 2000u);
	EXPECT(all_bytes(&e->b, DATA, 0x10000, 0x5a));
	EXPECT(all_bytes(&e->b, DATA + 0x11000, DATA_LEN - 0x11000, 0x5a));
	EXPECT_EQ(e->b.hdr->magic, FAB_MAGIC);
	EXPECT_EQ(node_stat(&e->fd, NODE_A, "connected"), 1u);
}

TEST(fabric_random_requests_stay_in_bounds)
{
	with_env(t_random_requests, NULL, true);
}

/* --- tests: waiting protocol ---------------------------------------------------- */

static bool wait_fabricd_sleeping(struct guest *g)
{
	uint64_t end = now_ms() + TIMEOUT_MS;

	while (now_ms() < end) {
		if (__atomic_load_n(&g->hdr->fabricd_sleeping, __ATOMIC_ACQUIRE))
			return true;
		sleep_ms(1);
	}
	return false;
}

static bool irq_pending(struct guest *g, int timeout_ms)
{
	struct pollfd p = {.fd = g->irq, .events = POLLIN};

	return poll(&p, 1, timeout_ms) == 1;
}

static void drain_irq(struct guest *g)
{
	uint64_t v;

	while (irq_pending(g, 0))
		if (read(g->irq, &v, sizeof(v)) < 0)
			break;
}

static void t_sleep_flags(struct env *e)
{
	struct fab_wqe w = wqe(FAB_OP_WRITE, NODE_B, 8, DATA, DATA);
	struct fab_cqe c;

	/* fabricd goes to sleep when idle and then needs the doorbell */
	ASSERT(wait_fabricd_sleeping(&e->a));
	EXPECT(wait_fabricd_sleeping(&e->b));
	put_wqe(&e->a, &w); /* published, not rung */
	EXPECT(no_cqe_within(&e->a, 100));
	EXPECT_EQ(e->a.hdr->sq_head, 0u);
	ring(&e->a);
	ASSERT(wait_cqe(&e->a, &c));
	EXPECT_EQ(c.status, FAB_ST_OK);

	/* a sleeping guest is interrupted after its CQE is written */
	drain_irq(&e->a);
	ASSERT(wait_fabricd_sleeping(&e->a));
	__atomic_store_n(&e->a.hdr->guest_sleeping, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	post(&e->a, &w);
	EXPECT(irq_pending(&e->a, TIMEOUT_MS));
	EXPECT(cq_take(&e->a, &c));
	__atomic_store_n(&e->a.hdr->guest_sleeping, 0, __ATOMIC_RELAXED);

	/* a guest that does not sleep is not interrupted */
	drain_irq(&e->a);
	post(&e->a, &w);
	while (!cq_take(&e->a, &c))
		sleep_ms(1);
	EXPECT(!irq_pending(&e->a, 100));
}

TEST(fabric_doorbell_and_sleep_flags)
{
	with_env(t_sleep_flags, NULL, false);
}

/* --- tests: control socket and faults ----------------------------------------- */

static void t_control(struct env *e)
{
	char reply[4096], path[300], big[3000];
	int s;

	EXPECT(ctl_ok(&e->fd, "help"));
	ASSERT(ctl(&e->fd, "bogus", reply, sizeof(reply)));
	EXPECT_EQ(strncmp(reply, "error: ", 7), 0);
	const char *bad[] = {
		"drop a b",
		"drop a zz 0.5",
		"drop a b 1.5",
		"drop a b -1",
		"drop a b nan",
		"delay a b",
		"delay a b x",
		"delay a b 10 2",
		"duplicate a",
		"partition a",
		"fail",
		"fail nobody",
		"recover a b",
		"link a b",
		"link a b x=1",
		"link a b latency_us=-1",
		"link a b bandwidth_gbps=1e-300",
		"stats now",
		"quit now",
		"",
		"drop 0 1 0.5",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT(ctl(&e->fd, bad[i], reply, sizeof(reply)));
		if (!EXPECT_EQ(strncmp(reply, "error: ", 7), 0))
			unit_diag("'%s' -> '%s'", bad[i], reply);
	}
	EXPECT(ctl_ok(&e->fd, "drop 1 b 0.25"));
	EXPECT(ctl_ok(&e->fd, "delay * * 10 0.5"));
	EXPECT(ctl_ok(&e->fd, "link a b latency_us=2.5 bandwidth_gbps=56"));
	EXPECT(ctl_ok(&e->fd, "  partition   a\tc  "));
	ASSERT(ctl(&e->fd, "fail *", reply, sizeof(reply)));
	EXPECT_STREQ(reply, "ok 3 nodes");
	EXPECT_EQ(node_stat(&e->fd, NODE_B, "failed"), 1u);
	EXPECT_EQ(link_stat(&e->fd, NODE_A, NODE_C, "partitioned"), 1u);
	EXPECT_EQ(link_stat(&e->fd, NODE_C, NODE_A, "partitioned"), 1u);
	EXPECT(ctl_ok(&e->fd, "reset-faults"));
	EXPECT_EQ(node_stat(&e->fd, NODE_B, "failed"), 0u);
	EXPECT_EQ(link_stat(&e->fd, NODE_A, NODE_C, "partitioned"),
		  UINT64_MAX); /* unlisted */
	ASSERT(ctl(&e->fd, "stats", reply, sizeof(reply)));
	EXPECT(strstr(reply, "\"latency_us\":2.500,\"bandwidth_gbps\":56") != NULL);
	EXPECT(strstr(reply, "\"seed\":1,") != NULL);

	/* several commands in one write, a too-long line, then a good one */
	snprintf(path, sizeof(path), "%s/control.sock", e->fd.dir);
	s = connect_unix(path);
	ASSERT(s >= 0);
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	EXPECT_EQ(write(s, "help\nbogus\n", 11), 11);
	EXPECT_EQ(write(s, big, sizeof(big)), (ssize_t)sizeof(big));
	EXPECT_EQ(write(s, "stats\n", 6), 6);
	EXPECT(read_line(s, reply, sizeof(reply)) && strncmp(reply, "ok ", 3) == 0);
	EXPECT(read_line(s, reply, sizeof(reply)) && strncmp(reply, "error: ", 7) == 0);
	EXPECT(read_line(s, reply, sizeof(reply)) && strstr(reply, "too long"));
	EXPECT(read_line(s, reply, sizeof(reply)) && strncmp(reply, "ok {", 4) == 0);
	close(s);
}

TEST(fabric_control_protocol)
{
	with_env(t_control, NULL, false);
}

/*
 * A client that sends commands and does not read the replies: fabricd
 * stops reading it (its unsent output is bounded), keeps serving others,
 * and answers every command once the client reads.
 */
static void t_control_backpressure(struct env *e)
{
	char path[300], buf[65536];
	unsigned sent = 0, replies = 0;
	uint64_t end, idle_since;
	int s;

	snprintf(path, sizeof(path), "%s/control.sock", e->fd.dir);
	s = connect_unix(path);
	ASSERT(s >= 0);
	ASSERT(fcntl(s, F_SETFL, O_NONBLOCK) == 0);
	end = now_ms() + TIMEOUT_MS;
	idle_since = now_ms();
	while (now_ms() < end && now_ms() - idle_since < 300) {
		if (write(s, "stats\n", 6) == 6) {
			sent++;
			idle_since = now_ms();
		} else {
			sleep_ms(1);
		}
	}
	unit_diag("%u commands sent before fabricd stopped reading", sent);
	EXPECT_GT(sent, 1000u); /* it did fill up, and then stopped taking commands */
	EXPECT_LT(now_ms(), end);
	EXPECT(ctl_ok(&e->fd, "help")); /* others are still served */
	end = now_ms() + 4 * TIMEOUT_MS;
	while (replies < sent && now_ms() < end) {
		struct pollfd p = {.fd = s, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(s, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			replies += buf[i] == '\n';
	}
	EXPECT_EQ(replies, sent);
	close(s);
}

TEST(fabric_control_backpressure)
{
	with_env(t_control_backpressure, NULL, false);
}

static void t_drop(struct env *e)
{
	struct fab_wqe w;

	memset(e->b.win + DATA, 0, 4096);
	fill(&e->a, DATA, 256, 3);
	ASSERT(ctl_ok(&e->fd, "drop a b 1"));
	w = wqe(FAB_OP_WRITE, NODE_B, 256, DATA, DATA);
	EXPECT_STATUS(&e->a, w, FAB_ST_OK); /* like a lost packet: sender sees OK */
	EXPECT(all_bytes(&e->b, DATA, 256, 0));
	w = wqe(FAB_OP_READ, NODE_B, 256, DATA + 0x1000, DATA);
	EXPECT_STATUS(&e->a, w, FAB_ST_UNREACHABLE); /* a lost READ cannot succeed */
	post_rqe(&e->b, 0, 1, DATA + 0x2000, 256, KEY);
	w = wqe(FAB_OP_SEND, NODE_B, 256, DATA, 0);
	EXPECT_STATUS(&e->a, w, FAB_ST_OK);
	w = wqe(FAB_OP_WRITE_IMM, NODE_B, 256, DATA, DATA);
	EXPECT_STATUS(&e->a, w, FAB_ST_OK);
	EXPECT(no_cqe_within(&e->b, 50));
	EXPECT_EQ(e->b.hdr->rq_head[0], 0u);
	EXPECT_EQ(link_stat(&e->fd, NODE_A, NODE_B, "drops"), 4u);
	/* links are directed: b -> a still works */
	w = wqe(FAB_OP_WRITE, NODE_A, 16, DATA, DATA + 0x3000);
	EXPECT_STATUS(&e->b, w, FAB_ST_OK);
	ASSERT(ctl_ok(&e->fd, "reset-faults"));
	w = wqe(FAB_OP_WRITE, NODE_B, 256, DATA, DATA);
	EXPECT_STATUS(&e->a, w, FAB_ST_OK);
	EXPECT_MEMEQ(e->b.win + DATA, e->a.win + DATA, 256);
}

TEST(fabric_fault_drop)
{
	with_env(t_drop, NULL, false);
}

static void t_duplicate(struct env *e)
{
	struct fab_wqe w;
	struct fab_cqe c;

	ASSERT(ctl_ok(&e->fd, "duplicate 1 2 1"));
	fill(&e->a, DATA, 100, 8);
	post_rqe(&e->b, 0, 1, DATA + 0x1000, 100, KEY);
	post_rqe(&e->b, 0, 2, DATA + 0x2000, 100, KEY);
	w = wqe(FAB_OP_SEND, NODE_B, 100, DATA, 0);
	EXPECT_STATUS(&e->a, w, FAB_ST_OK);
	ASSERT(wait_cqe(&e->b, &c));
	EXPECT_EQ(c.wr_id, 1u);
	ASSERT(wait_cqe(&e->b, &c));
	EXPECT_EQ(c.wr_id, 2u);
	EXPECT_MEMEQ(e->b.win + DATA + 0x1000, e->a.win + DATA, 100);
	EXPECT_MEMEQ(e->b.win + DATA + 0x2000, e->a.win + DATA, 100);
	w = wqe(FAB_OP_WRITE_IMM, NODE_B, 100, DATA, DATA + 0x3000);
	w.imm = 5;
	EXPECT_STATUS(&e->a, w, FAB_ST_OK);
	for (unsigned i = 0; i < 2; i++) {
		ASSERT(wait_cqe(&e->b, &c));
		EXPECT_EQ(c.opcode, FAB_OP_RECV_IMM);
		EXPECT_EQ(c.imm, 5u);
	}
	EXPECT(no_cqe_within(&e->b, 50));
	EXPECT_EQ(link_stat(&e->fd, NODE_A, NODE_B, "dups"), 2u);
}

TEST(fabric_fault_duplicate)
{
	with_env(t_duplicate, NULL, false);
}

static void t_partition_fail(struct env *e)
{
	struct fab_wqe ab = wqe(FAB_OP_WRITE, NODE_B, 8, DATA, DATA);
	struct fab_wqe ba = wqe(FAB_OP_WRITE, NODE_A, 8, DATA, DATA);
	struct fab_wqe ac = wqe(FAB_OP_WRITE, NODE_C, 8, DATA, DATA);

	ASSERT(ctl_ok(&e->fd, "partition a b"));
	EXPECT_STATUS(&e->a, ab, FAB_ST_UNREACHABLE);
	EXPECT_STATUS(&e->b, ba, FAB_ST_UNREACHABLE);
	EXPECT_STATUS(&e->a, ac, FAB_ST_OK);
	ASSERT(ctl_ok(&e->fd, "heal b a"));
	EXPECT_STATUS(&e->a, ab, FAB_ST_OK);
	EXPECT_STATUS(&e->b, ba, FAB_ST_OK);

	ASSERT(ctl_ok(&e->fd, "fail b"));
	EXPECT_STATUS(&e->a, ab, FAB_ST_UNREACHABLE); /* to it */
	EXPECT_STATUS(&e->b, ba, FAB_ST_UNREACHABLE); /* from it */
	EXPECT_STATUS(&e->a, ac, FAB_ST_OK);
	EXPECT_EQ(node_stat(&e->fd, NODE_B, "failed"), 1u);
	ASSERT(ctl_ok(&e->fd, "recover 2"));
	EXPECT_STATUS(&e->a, ab, FAB_ST_OK);
	EXPECT_STATUS(&e->b, ba, FAB_ST_OK);
	EXPECT_EQ(e->a.hdr->errors, 0u);
}

TEST(fabric_fault_partition_and_fail)
{
	with_env(t_partition_fail, NULL, true);
}

static void t_disconnected_target(struct env *e)
{
	struct fab_wqe w = wqe(FAB_OP_WRITE, NODE_B, 8, DATA, DATA);

	guest_close(&e->b);
	EXPECT(wait_node_stat(&e->fd, NODE_B, "connected", 0));
	EXPECT_STATUS(&e->a, w, FAB_ST_UNREACHABLE);
}

TEST(fabric_disconnected_target_unreachable)
{
	with_env(t_disconnected_target, NULL, false);
}

/* Milliseconds a signaled w takes from post to completion, with status st. */
static uint64_t timed(struct guest *g, struct fab_wqe w, int *st)
{
	uint64_t t0 = now_ms();

	*st = run_wqe(g, &w, NULL);
	return now_ms() - t0;
}

static void t_wire_delay(struct env *e)
{
	struct fab_wqe w = wqe(FAB_OP_WRITE, NODE_B, 1000, DATA, DATA);
	struct fab_cqe c;
	int st;

	ASSERT(ctl_ok(&e->fd, "delay a b 30000"));
	EXPECT_GE(timed(&e->a, w, &st), 30u);
	EXPECT_EQ(st, FAB_ST_OK);
	EXPECT_EQ(link_stat(&e->fd, NODE_A, NODE_B, "delayed"), 1u);
	ASSERT(ctl_ok(&e->fd, "reset-faults"));
	ASSERT(ctl_ok(&e->fd, "link a b latency_us=30000"));
	EXPECT_GE(timed(&e->a, w, &st), 30u);
	EXPECT_EQ(st, FAB_ST_OK);
	/* 1000 bytes at 1 Mb/s: 8 ms on the wire */
	ASSERT(ctl_ok(&e->fd, "link a b latency_us=0 bandwidth_gbps=0.001"));
	EXPECT_GE(timed(&e->a, w, &st), 8u);
	EXPECT_EQ(st, FAB_ST_OK);

	/* per-link order: a slow WRITE, then a WRITE_IMM; the data of the first
	 * is there when the second's RECV_IMM arrives, completions in order */
	ASSERT(ctl_ok(&e->fd, "link a b latency_us=20000 bandwidth_gbps=0"));
	fill(&e->a, DATA + 0x1000, 4096, 21);
	w = wqe(FAB_OP_WRITE, NODE_B, 4096, DATA + 0x1000, DATA + 0x8000);
	w.wr_id = 1;
	post(&e->a, &w);
	w = wqe(FAB_OP_WRITE_IMM, NODE_B, 4, DATA, DATA + 0x10000);
	w.wr_id = 2;
	post(&e->a, &w);
	ASSERT(wait_cqe(&e->b, &c));
	EXPECT_EQ(c.opcode, FAB_OP_RECV_IMM);
	EXPECT_MEMEQ(e->b.win + DATA + 0x8000, e->a.win + DATA + 0x1000, 4096);
	ASSERT(wait_cqe(&e->a, &c));
	EXPECT_EQ(c.wr_id, 1u);
	ASSERT(wait_cqe(&e->a, &c));
	EXPECT_EQ(c.wr_id, 2u);
	/* other links are not slowed down */
	w = wqe(FAB_OP_WRITE, NODE_A, 8, DATA, DATA);
	EXPECT_STATUS(&e->b, w, FAB_ST_OK);
}

TEST(fabric_wire_delay_latency_bandwidth_order)
{
	with_env(t_wire_delay, NULL, false);
}

/* Waits for the next CQE of g, which must be wr_id's; returns its status
 * (0xff if none came or another one did). */
static int next_status(struct guest *g, uint64_t wr_id)
{
	struct fab_cqe c;

	if (!wait_cqe(g, &c))
		return 0xff;
	if (c.wr_id != wr_id) {
		unit_diag("completion of wr_id %#llx, expected %#llx",
			  (unsigned long long)c.wr_id, (unsigned long long)wr_id);
		return 0xff;
	}
	return c.status;
}

/* A fenced SEND from a to b's queue 0, wr_id id, 64 bytes at DATA. */
static struct fab_wqe fenced_send(uint64_t id)
{
	struct fab_wqe w = wqe(FAB_OP_SEND, NODE_B, 64, DATA, 0);

	w.wr_id = id;
	w.flags |= FAB_WQE_FENCE;
	return w;
}

/*
 * FAB_WQE_FENCE at once (no wire delay): behind a WRITE refused at
 * delivery (bad remote key) a fenced SEND is flushed, consumes no receive
 * buffer and tells the target nothing; the next fenced SEND has a new
 * window and goes; a failure on another link does not count.
 */
static void t_fence_now(struct env *e)
{
	struct fab_wqe bad = wqe(FAB_OP_WRITE, NODE_B, 64, DATA, DATA + 0x1000);
	struct fab_wqe f;
	struct fab_cqe c;

	bad.remote_key = 0x909; /* no such MR */
	post_rqe(&e->b, 0, 7, DATA + 0x2000, 4096, KEY);
	memset(e->b.win + DATA + 0x2000, 0, 64);
	fill(&e->a, DATA, 64, 3);
	EXPECT_STATUS(&e->a, bad, FAB_ST_REMOTE_ACCESS);
	f = fenced_send(0x51);
	EXPECT_STATUS(&e->a, f, FAB_ST_FLUSHED);
	EXPECT(no_cqe_within(&e->b, 50));
	EXPECT(all_bytes(&e->b, DATA + 0x2000, 64, 0));
	EXPECT_EQ(e->b.hdr->rq_head[0], 0u);
	/* the window starts again behind a fenced WQE */
	f = fenced_send(0x52);
	EXPECT_STATUS(&e->a, f, FAB_ST_OK);
	ASSERT(wait_cqe(&e->b, &c));
	EXPECT_EQ(c.wr_id, 7u);
	EXPECT_MEMEQ(e->b.win + DATA + 0x2000, e->a.win + DATA, 64);
	/* a failure to c is not in a -> b's window */
	bad.dst_node = NODE_C;
	EXPECT_STATUS(&e->a, bad, FAB_ST_REMOTE_ACCESS);
	post_rqe(&e->b, 0, 8, DATA + 0x3000, 4096, KEY);
	f = fenced_send(0x53);
	EXPECT_STATUS(&e->a, f, FAB_ST_OK);
	ASSERT(wait_cqe(&e->b, &c));
	EXPECT_EQ(c.wr_id, 8u);
	/* flushes are no malformed requests: the two bad WRITEs only */
	EXPECT_EQ(e->a.hdr->errors, 2u);
}

TEST(fabric_fence_behind_a_failed_write_flushed)
{
	with_env(t_fence_now, NULL, true);
}

/*
 * FAB_WQE_FENCE on a slow link (20 ms): a fenced SEND behind a good
 * WRITE arrives after the WRITE's data, without waiting for the poster;
 * behind a WRITE that fails at delivery it is flushed; a WQE that fails
 * as it is posted (bad local key) counts for the fenced WQEs posted after
 * it, not for one posted before it that is still on the wire.
 */
static void t_fence_wire(struct env *e)
{
	struct fab_wqe good = wqe(FAB_OP_WRITE, NODE_B, 4096, DATA + 0x1000, DATA + 0x8000);
	struct fab_wqe bad_remote = good, bad_local = good, f;
	struct fab_cqe c;

	ASSERT(ctl_ok(&e->fd, "link a b latency_us=20000"));
	fill(&e->a, DATA + 0x1000, 4096, 9);
	memset(e->b.win + DATA + 0x8000, 0, 4096);
	post_rqe(&e->b, 0, 1, DATA + 0x10000, 4096, KEY);
	good.wr_id = 1;
	post(&e->a, &good);
	f = fenced_send(2);
	post(&e->a, &f);
	ASSERT(wait_cqe(&e->b, &c));
	EXPECT_EQ(c.wr_id, 1u);
	EXPECT_EQ(c.status, FAB_ST_OK);
	EXPECT_MEMEQ(e->b.win + DATA + 0x8000, e->a.win + DATA + 0x1000, 4096);
	EXPECT_EQ(next_status(&e->a, 1), FAB_ST_OK);
	EXPECT_EQ(next_status(&e->a, 2), FAB_ST_OK);

	/* refused at delivery: the SEND behind it is flushed */
	bad_remote.wr_id = 3;
	bad_remote.remote_key = 0x909;
	post(&e->a, &bad_remote);
	f = fenced_send(4);
	post(&e->a, &f);
	EXPECT_EQ(next_status(&e->a, 3), FAB_ST_REMOTE_ACCESS);
	EXPECT_EQ(next_status(&e->a, 4), FAB_ST_FLUSHED);
	EXPECT(no_cqe_within(&e->b, 50));

	/* good WRITE, fenced SEND 6, then a WRITE refused at once, fenced
	 * SEND 8: 6 goes, 8 is flushed */
	post_rqe(&e->b, 0, 2, DATA + 0x11000, 4096, KEY);
	good.wr_id = 5;
	post(&e->a, &good);
	f = fenced_send(6);
	post(&e->a, &f);
	bad_local.wr_id = 7;
	bad_local.local_key = 0x909;
	post(&e->a, &bad_local);
	f = fenced_send(8);
	post(&e->a, &f);
	EXPECT_EQ(next_status(&e->a, 7), FAB_ST_LOCAL_ERR); /* failed at once */
	EXPECT_EQ(next_status(&e->a, 5), FAB_ST_OK);
	EXPECT_EQ(next_status(&e->a, 6), FAB_ST_OK);
	EXPECT_EQ(next_status(&e->a, 8), FAB_ST_FLUSHED);
	ASSERT(wait_cqe(&e->b, &c));
	EXPECT_EQ(c.wr_id, 2u);
	EXPECT(no_cqe_within(&e->b, 50));
}

TEST(fabric_fence_on_a_slow_link)
{
	with_env(t_fence_wire, NULL, false);
}

/* Writes 64 one-byte markers a -> b through a 50% drop; returns the bitmap. */
static uint64_t drop_pattern(void)
{
	struct env e;
	uint64_t bits = 0;

	if (env_start(&e, NULL, false) && ctl_ok(&e.fd, "drop a b 0.5")) {
		memset(e.b.win + DATA, 0, 64);
		e.a.win[DATA] = 1;
		for (unsigned i = 0; i < 64; i++) {
			struct fab_wqe w = wqe(FAB_OP_WRITE, NODE_B, 1, DATA, DATA + i);

			if (run_wqe(&e.a, &w, NULL) != FAB_ST_OK)
				break;
		}
		for (unsigned i = 0; i < 64; i++)
			if (e.b.win[DATA + i])
				bits |= 1ull << i;
	} else {
		EXPECT(!"environment set up");
	}
	env_stop(&e);
	return bits;
}

TEST(fabric_faults_repeat_with_the_seed)
{
	uint64_t first = drop_pattern(), second = drop_pattern();

	EXPECT_EQ(first, second);
	EXPECT_NE(first, 0u);
	EXPECT_NE(first, ~0ull);
}

/* --- tests: status pages ---------------------------------------------------------- */

static struct fab_node_status *status_page(struct guest *g)
{
	return (struct fab_node_status *)(g->win + FAB_STATUS_OFFSET);
}

/* Writes *st into g's status page by the seqlock protocol of fabric.h. */
static void status_write(struct guest *g, const struct fab_node_status *st)
{
	struct fab_node_status *p = status_page(g), tmp = *st;
	uint32_t seq = p->seq | 1;

	__atomic_store_n(&p->seq, seq, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	tmp.seq = seq;
	memcpy(p, &tmp, sizeof(tmp));
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&p->seq, seq + 1, __ATOMIC_RELEASE);
}

/*
 * Fetches stats, checks that the whole reply is valid JSON, and copies
 * node id's "status" value (null or an object) into out. False if any of
 * that fails.
 */
static bool stats_status(const struct fabricd *fd, unsigned id, char *out, size_t size)
{
	static char reply[1 << 16];
	char prefix[32];
	const char *o, *v;
	size_t n = 0;
	unsigned depth = 0;
	bool in_str = false;

	if (!ctl(fd, "stats", reply, sizeof(reply)) || strncmp(reply, "ok ", 3) != 0)
		return false;
	if (!json_valid(reply + 3, strlen(reply + 3))) {
		unit_diag("stats is not valid JSON: %s", reply);
		return false;
	}
	snprintf(prefix, sizeof(prefix), "{\"id\":%u,", id);
	o = strstr(reply, prefix);
	v = o ? strstr(o, "\"status\":") : NULL;
	if (!v)
		return false;
	v += strlen("\"status\":");
	/* the value: "null", or an object up to its matching brace */
	do {
		char c = v[n];

		if (!c || n + 1 >= size)
			return false;
		if (in_str && c == '\\')
			n++;
		else if (c == '"')
			in_str = !in_str;
		else if (!in_str && c == '{')
			depth++;
		else if (!in_str && c == '}')
			depth--;
		n++;
	} while (depth || (v[0] == 'n' && n < 4));
	memcpy(out, v, n);
	out[n] = '\0';
	return true;
}

/* Removes "heartbeat_age_ms":N, from a status object; returns N. */
static uint64_t take_age(char *json)
{
	char *a = strstr(json, "\"heartbeat_age_ms\":"), *end;
	uint64_t age;

	if (!a)
		return UINT64_MAX;
	age = strtoull(a + 19, &end, 10);
	if (*end == ',')
		end++;
	memmove(a, end, strlen(end) + 1);
	return age;
}

static struct fab_node_status valid_status(void)
{
	struct fab_node_status st;

	memset(&st, 0, sizeof(st));
	st.magic = FAB_STATUS_MAGIC;
	st.state = FAB_NODE_READY;
	st.heartbeat = 5;
	st.role = 'p';
	st.cpus = 2;
	st.uptime_ms = 1234;
	st.mem_total_kib = 1000;
	st.mem_free_kib = 500;
	st.rpc_calls = 7;
	st.rpc_served = 8;
	st.rpc_timeouts = 9;
	snprintf(st.note, sizeof(st.note), "hello \"x\" \\ y");
	return st;
}

static void t_status(struct env *e)
{
	struct fab_node_status st = valid_status();
	struct fab_wqe w = wqe(FAB_OP_WRITE, NODE_A, 8, DATA, DATA);
	struct fab_cqe c;
	char js[1024];
	uint64_t age, age2;

	/* fabricd's once-a-second status tick leaves it asleep: a WQE
	 * published without the doorbell stays untouched across ticks. (First
	 * thing, while no control client's coming or going can wake it.) */
	ASSERT(wait_fabricd_sleeping(&e->b));
	put_wqe(&e->b, &w);
	sleep_ms(1500);
	EXPECT_EQ(e->b.hdr->sq_head, 0u);
	ring(&e->b);
	ASSERT(wait_cqe(&e->b, &c));
	EXPECT_EQ(c.status, FAB_ST_OK);

	ASSERT(stats_status(&e->fd, NODE_A, js, sizeof(js)));
	EXPECT_STREQ(js, "null"); /* connected, nothing written yet */
	ASSERT(stats_status(&e->fd, NODE_C, js, sizeof(js)));
	EXPECT_STREQ(js, "null"); /* not connected */

	status_write(&e->a, &st);
	ASSERT(stats_status(&e->fd, NODE_A, js, sizeof(js)));
	age = take_age(js);
	EXPECT_LT(age, 60000u);
	EXPECT_STREQ(js, "{\"state\":\"ready\",\"heartbeat\":5,\"role\":\"p\",\"cpus\":2,"
			 "\"uptime_ms\":1234,\"mem_total_kib\":1000,\"mem_free_kib\":500,"
			 "\"rpc_calls\":7,\"rpc_served\":8,\"rpc_timeouts\":9,"
			 "\"note\":\"hello \\\"x\\\" \\\\ y\"}");
	ASSERT(stats_status(&e->fd, NODE_B, js, sizeof(js)));
	EXPECT_STREQ(js, "null");

	/* the same heartbeat for 1.5 s: its age grows at least that much */
	sleep_ms(1500);
	ASSERT(stats_status(&e->fd, NODE_A, js, sizeof(js)));
	age2 = take_age(js);
	EXPECT_GE(age2, age + 1500);
	/* a new heartbeat: the age starts again */
	st.heartbeat++;
	st.state = FAB_NODE_PANIC;
	snprintf(st.note, sizeof(st.note), "BUG: x at y.c:1");
	status_write(&e->a, &st);
	ASSERT(stats_status(&e->fd, NODE_A, js, sizeof(js)));
	EXPECT_LT(take_age(js), age2);
	EXPECT(strstr(js, "\"state\":\"panic\",\"heartbeat\":6,") == js + 1);
	EXPECT(strstr(js, "\"note\":\"BUG: x at y.c:1\"}") != NULL);
	for (unsigned s = FAB_NODE_BOOTING; s <= FAB_NODE_HALTED; s++) {
		char want[64];

		st.state = s;
		status_write(&e->a, &st);
		snprintf(want, sizeof(want), "{\"state\":\"%s\",",
			 fab_node_state_name(s));
		ASSERT(stats_status(&e->fd, NODE_A, js, sizeof(js)));
		EXPECT_EQ(strncmp(js, want, strlen(want)), 0);
	}

	/* the VM goes away: no status, even though the window still has one */
	guest_close(&e->a);
	EXPECT(wait_node_stat(&e->fd, NODE_A, "connected", 0));
	ASSERT(stats_status(&e->fd, NODE_A, js, sizeof(js)));
	EXPECT_STREQ(js, "null");
	/* and a new VM starts with a zeroed window */
	ASSERT(env_connect(e, &e->a, "a", NODE_A));
	ASSERT(stats_status(&e->fd, NODE_A, js, sizeof(js)));
	EXPECT_STREQ(js, "null");
}

TEST(fabric_status_page_in_stats)
{
	with_env(t_status, NULL, false);
}

/* What fabricd must make of a hostile note: printable ASCII up to the
 * first NUL within 128 bytes, '"' and '\' escaped. */
static void expected_note(const char *note, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < 128 && note[i]; i++) {
		unsigned char c = (unsigned char)note[i];

		if (c < 0x20 || c > 0x7e)
			continue;
		if (c == '"' || c == '\\')
			out[o++] = '\\';
		out[o++] = (char)c;
	}
	out[o] = '\0';
}

static void t_status_hostile(struct env *e)
{
	struct fab_node_status st = valid_status();
	struct fab_node_status *page = status_page(&e->a);
	char js[2048], want[1024], note[300];
	struct unit_rng rng = {0x5eed};

	/* bad state and role, extreme numbers, a note without NUL full of
	 * control bytes, quotes, backslashes and bytes above 0x7e */
	st.state = 77;
	st.role = 'x';
	st.cpus = 255;
	st.heartbeat = UINT32_MAX;
	st.uptime_ms = UINT64_MAX;
	st.mem_free_kib = UINT64_MAX;
	for (size_t i = 0; i < sizeof(st.note); i++)
		st.note[i] = (char)("\"\\\n\x01\x7f\xff"
				    "ab}{"[i % 10]);
	status_write(&e->a, &st);
	ASSERT(stats_status(&e->fd, NODE_A, js, sizeof(js)));
	take_age(js);
	expected_note(st.note, note);
	snprintf(want, sizeof(want),
		 "{\"state\":\"invalid\",\"heartbeat\":4294967295,\"role\":\"?\","
		 "\"cpus\":255,"
		 "\"uptime_ms\":18446744073709551615,\"mem_total_kib\":1000,"
		 "\"mem_free_kib\":18446744073709551615,\"rpc_calls\":7,\"rpc_served\":8,"
		 "\"rpc_timeouts\":9,\"note\":\"%s\"}",
		 note);
	EXPECT_STREQ(js, want);
	EXPECT(strstr(js, "\\\"\\\\ab}{") != NULL);

	/* a NUL ends the note even with bytes after it */
	memset(st.note, 0, sizeof(st.note));
	memcpy(st.note, "ok\0hidden", 9);
	st.state = FAB_NODE_BOOTING;
	st.role = 'g';
	status_write(&e->a, &st);
	ASSERT(stats_status(&e->fd, NODE_A, js, sizeof(js)));
	EXPECT(strstr(js, "\"role\":\"g\"") != NULL);
	EXPECT(strstr(js, "\"note\":\"ok\"}") != NULL);

	/* a seq that stays odd: a torn page */
	__atomic_store_n(&page->seq, 7u, __ATOMIC_RELEASE);
	ASSERT(stats_status(&e->fd, NODE_A, js, sizeof(js)));
	EXPECT_EQ(strncmp(js, "{\"state\":\"torn\",", 16), 0);

	/* no magic: nothing to show, whatever the rest says */
	page->seq = 8;
	page->magic = 0x12345678;
	ASSERT(stats_status(&e->fd, NODE_A, js, sizeof(js)));
	EXPECT_STREQ(js, "null");

	/* random pages (with the magic half of the time): always valid JSON
	 * (stats_status checks), always a known state or null */
	for (unsigned round = 0; round < 200; round++) {
		uint8_t *b = (uint8_t *)page;

		for (size_t i = 0; i < sizeof(*page); i++)
			b[i] = (uint8_t)unit_rand(&rng);
		if (round & 1)
			page->magic = FAB_STATUS_MAGIC;
		if (round & 2)
			page->seq &= ~1u;
		ASSERT(stats_status(&e->fd, NODE_A, js, sizeof(js)));
		EXPECT(strcmp(js, "null") == 0 ||
		       strncmp(js, "{\"state\":\"invalid\",", 19) == 0 ||
		       strncmp(js, "{\"state\":\"torn\",", 16) == 0 ||
		       strncmp(js, "{\"state\":\"ready\",", 17) == 0 ||
		       strncmp(js, "{\"state\":\"booting\",", 19) == 0 ||
		       strncmp(js, "{\"state\":\"panic\",", 17) == 0 ||
		       strncmp(js, "{\"state\":\"halted\",", 18) == 0);
	}
	EXPECT(ctl_ok(&e->fd, "help")); /* fabricd is fine */
}

TEST(fabric_status_page_hostile)
{
	with_env(t_status_hostile, NULL, false);
}

/* --- tests: process life ---------------------------------------------------------- */

static bool exists(const struct fabricd *fd, const char *name)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/%s", fd->dir, name);
	return access(path, F_OK) == 0;
}

static void check_cleaned_up(const struct fabricd *fd)
{
	EXPECT(!exists(fd, "a.sock"));
	EXPECT(!exists(fd, "c.sock"));
	EXPECT(!exists(fd, "control.sock"));
	EXPECT(!exists(fd, "fabricd.pid"));
}

TEST(fabric_quit_and_sigterm_clean_up)
{
	struct fabricd fd;
	char reply[400], pidbuf[32] = "";
	FILE *f;

	if (EXPECT(fabricd_start(&fd, NULL))) {
		EXPECT(exists(&fd, "a.sock") && exists(&fd, "control.sock"));
		snprintf(reply, sizeof(reply), "%s/fabricd.pid", fd.dir);
		f = fopen(reply, "r");
		if (EXPECT(f != NULL)) {
			EXPECT(fgets(pidbuf, sizeof(pidbuf), f) != NULL);
			fclose(f);
		}
		EXPECT_EQ(strtol(pidbuf, NULL, 10), (long)fd.pid);
		EXPECT(ctl(&fd, "quit", reply, sizeof(reply)));
		EXPECT_STREQ(reply, "ok bye");
		EXPECT(reap(&fd, TIMEOUT_MS));
		EXPECT(WIFEXITED(fd.exit_status) && WEXITSTATUS(fd.exit_status) == 0);
		check_cleaned_up(&fd);
	}
	EXPECT(fabricd_stop(&fd));
	remove_dir(&fd);

	if (EXPECT(fabricd_start(&fd, NULL))) {
		struct guest g;

		EXPECT(guest_connect(&g, &fd, "b", NODE_B));
		EXPECT(fabricd_stop(&fd)); /* SIGTERM: clean exit, status 0 */
		check_cleaned_up(&fd);
		guest_close(&g);
	}
	EXPECT(fabricd_stop(&fd));
	remove_dir(&fd);
}

/* fabricd with args must refuse to start: exit status 2 (usage) or 1. */
static void expect_refusal(const char *const *args, int status)
{
	struct fabricd fd;

	memset(&fd, 0, sizeof(fd));
	make_run_dir(&fd);
	if (EXPECT(fabricd_spawn(&fd, args, false))) {
		EXPECT(reap(&fd, TIMEOUT_MS));
		if (!EXPECT(WIFEXITED(fd.exit_status) &&
			    WEXITSTATUS(fd.exit_status) == status))
			unit_diag("args starting with %s %s", args[0],
				  args[1] ? args[1] : "");
	}
	fabricd_stop(&fd);
	remove_dir(&fd);
}

TEST(fabric_bad_command_lines_refused)
{
	const char *const not_pow2[] = {"--node", "1:a:3M", NULL};
	const char *const too_small[] = {"--node", "1:a:512K", NULL};
	const char *const bad_id[] = {"--node", "64:a:1M", NULL};
	const char *const zero_id[] = {"--node", "0:a:1M", NULL};
	const char *const no_node[] = {"--seed", "3", NULL};
	const char *const bad_preset[] = {"--node", "1:a:1M", "--link-preset", "x", NULL};
	const char *const bad_opt[] = {"--node", "1:a:1M", "--frobnicate", NULL};
	const char *const dup_id[] = {"--node", "1:a:1M", "--node", "1:b:1M", NULL};
	const char *const dup_name[] = {"--node", "1:a:1M", "--node", "2:a:1M", NULL};
	const char *const bad_name[] = {"--node", "1:a/b:1M", NULL};
	const char *const ctl_name[] = {"--node", "1:control:1M", NULL};

	expect_refusal(not_pow2, 2);
	expect_refusal(too_small, 2);
	expect_refusal(bad_id, 2);
	expect_refusal(zero_id, 2);
	expect_refusal(no_node, 2);
	expect_refusal(bad_preset, 2);
	expect_refusal(bad_opt, 2);
	expect_refusal(dup_id, 1);
	expect_refusal(dup_name, 1);
	expect_refusal(bad_name, 1);
	expect_refusal(ctl_name, 1);
}

TEST(fabric_second_daemon_on_a_dir_refused)
{
	struct fabricd first, second;

	if (EXPECT(fabricd_start(&first, NULL))) {
		memset(&second, 0, sizeof(second));
		strcpy(second.dir, first.dir);
		if (EXPECT(fabricd_spawn(&second, three_nodes, false))) {
			EXPECT(reap(&second, TIMEOUT_MS));
			EXPECT(WIFEXITED(second.exit_status) &&
			       WEXITSTATUS(second.exit_status) == 1);
		}
		fabricd_stop(&second);
		EXPECT(ctl_ok(&first, "help")); /* the first one is unharmed */
	}
	EXPECT(fabricd_stop(&first));
	remove_dir(&first);
}

static void t_preset(struct env *e)
{
	EXPECT_EQ(link_stat(&e->fd, NODE_A, NODE_B, "bandwidth_gbps"), 56u);
	struct fab_wqe w = wqe(FAB_OP_WRITE, NODE_B, 4096, DATA, DATA);
	EXPECT_STATUS(&e->a, w, FAB_ST_OK);
}

TEST(fabric_link_preset_ib56)
{
	const char *const args[] = {"--node",	     "1:a:1M", "--node", "2:b:1M",
				    "--node",	     "3:c:1M", "--seed", "1",
				    "--link-preset", "ib56",   NULL};

	with_env(t_preset, args, false);
}
