/*
 * Self tests of the hostlink server (kernel/hostlink.c), without a UART:
 * lines go straight into hostlink_line, replies into a capture buffer.
 * Test programs stand in for the processor's builtins (those live in the
 * processor image only; these tests run in every image). Covered: ping,
 * run with output chunking and escaping, exit statuses, unknown programs,
 * the path program (a table entry without a name: names with a '/'),
 * the limit of concurrent runs and request ids in use, and hostile lines
 * (too long, bad bytes, bad escapes, NUL bytes, too many arguments, bad
 * ids, empty words). Input: in/eof reach the program in order, kept
 * from the run's start until the program registers; the credit window
 * (a full window kept, one byte more refused, ack lines returning every
 * byte taken); sig and winsz reaching the run, runt's terminal; hostile
 * input lines.
 */
#include <kernel/errno.h>
#include <kernel/hostlink.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/wait.h>
#include <lib/cmdline.h>
#include <lib/printf.h>
#include <lib/string.h>

#define CAP_SIZE 65536

struct capture {
	struct spinlock lock;
	char *buf; /* NUL-terminated */
	size_t len;
	bool overflow;
};

static void cap_emit(void *ctx, const char *line, size_t len)
{
	struct capture *c = ctx;

	spin_lock(&c->lock);
	if (c->len + len + 1 > CAP_SIZE) {
		c->overflow = true;
	} else {
		memcpy(c->buf + c->len, line, len);
		c->len += len;
		c->buf[c->len] = '\0';
	}
	spin_unlock(&c->lock);
}

static void cap_reset(struct capture *c)
{
	spin_lock(&c->lock);
	c->len = 0;
	c->buf[0] = '\0';
	c->overflow = false;
	spin_unlock(&c->lock);
}

/* Offset of the line that starts with prefix, or -1. */
static long cap_find(struct capture *c, const char *prefix)
{
	size_t plen = strlen(prefix);

	for (size_t i = 0; i < c->len; i++) {
		if ((i == 0 || c->buf[i - 1] == '\n') && i + plen <= c->len &&
		    memcmp(c->buf + i, prefix, plen) == 0)
			return (long)i;
	}
	return -1;
}

static unsigned cap_lines(struct capture *c)
{
	unsigned n = 0;

	for (size_t i = 0; i < c->len; i++)
		n += c->buf[i] == '\n';
	return n;
}

/* ---- test programs ---------------------------------------------------- */

static struct completion gate;

static int t_echo(struct hostlink_run *run, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (i > 1)
			hostlink_write(run, 1, " ", 1);
		hostlink_write(run, 1, argv[i], strlen(argv[i]));
	}
	hostlink_write(run, 1, "\n", 1);
	return 0;
}

static int t_exit(struct hostlink_run *run, int argc, char **argv)
{
	uint64_t v = 0;

	if (argc > 1)
		cmdline_parse_u64(argv[1], strlen(argv[1]), &v);
	return (int)v;
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + (i >> 8));
}

static int t_big(struct hostlink_run *run, int argc, char **argv)
{
	static uint8_t data[5000];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = pattern(i);
	hostlink_write(run, 1, (const char *)data, sizeof(data));
	hostlink_eprintf(run, "done %d\n", 42);
	return 0;
}

static int t_block(struct hostlink_run *run, int argc, char **argv)
{
	wait_for_completion(&gate);
	return 0;
}

static const struct hostlink_program programs[] = {
	{"t_echo", t_echo, "echo"},
	{"t_exit", t_exit, "exit with argv[1]"},
	{"t_big", t_big, "5000 bytes out, a line on err"},
	{"t_block", t_block, "wait for the test's gate"},
};

struct env {
	struct capture cap;
	struct hostlink *hl;
};

static bool env_init(struct ktest_ctx *kt, struct env *e)
{
	memset(e, 0, sizeof(*e));
	spin_init(&e->cap.lock, "hostlink-test");
	e->cap.buf = kzalloc(CAP_SIZE);
	if (e->cap.buf)
		e->hl = hostlink_create(programs, sizeof(programs) / sizeof(programs[0]),
					cap_emit, &e->cap);
	completion_init(&gate);
	if (!KT_EXPECT(e->hl != NULL)) {
		kfree(e->cap.buf);
		return false;
	}
	return true;
}

static void env_fini(struct env *e)
{
	complete_all(&gate);
	hostlink_destroy(e->hl);
	kfree(e->cap.buf);
}

static void feed(struct env *e, const char *line)
{
	hostlink_line(e->hl, line, strlen(line));
}

/* Feeds line, waits for every run to end; true if the capture is then
 * exactly want. */
static bool exchange(struct ktest_ctx *kt, struct env *e, const char *line,
		     const char *want)
{
	cap_reset(&e->cap);
	feed(e, line);
	KT_EXPECT(hostlink_idle(e->hl, 5 * NS_PER_S));
	if (strcmp(e->cap.buf, want) == 0)
		return true;
	ktest_check(kt, false, "reply as expected", __FILE__, __LINE__);
	printk_raw("# line '%s'\n#  got '%s'\n# want '%s'\n", line, e->cap.buf, want);
	return false;
}

KTEST(hostlink_ping_run_and_exit)
{
	struct env e;

	if (!env_init(kt, &e))
		return;
	exchange(kt, &e, "ping 5", "pong 5\n");
	exchange(kt, &e, "ping 6\r", "pong 6\n");
	exchange(kt, &e, "ping 2147483647", "pong 2147483647\n");
	exchange(kt, &e, "run 1 t_echo a%20b %- c", "out 1 a%20b%20%20c%0A\nexit 1 0\n");
	exchange(kt, &e, "run 1 t_echo %25%21~", "out 1 %25!~%0A\nexit 1 0\n");
	exchange(kt, &e, "run 2 t_exit 3", "exit 2 3\n");
	exchange(kt, &e, "run 3 t_exit 300", "exit 3 255\n");
	exchange(
		kt, &e, "run 4 nosuch",
		"err 4 nosuch:%20not%20found%20(builtins%20only%20here;%20try%20help)%0A\n"
		"exit 4 127\n");
	/* no path program in this table: a path is just an unknown name */
	exchange(kt, &e, "run 5 /bin/x",
		 "err 5 /bin/x:%20not%20found%20(builtins%20only%20here;%20try%20help)%0A\n"
		 "exit 5 127\n");
	KT_EXPECT(!e.cap.overflow);
	env_fini(&e);
}

/* The path program: argv[0] and the arguments, exit 7. */
static int t_path(struct hostlink_run *run, int argc, char **argv)
{
	hostlink_printf(run, "path %s argc %d\n", argv[0], argc);
	return 7;
}

static const struct hostlink_program path_programs[] = {
	{NULL, t_path, "names with a '/'"},
	{"t_echo", t_echo, "echo"},
	{"a/b", t_exit, "a named entry with a '/' wins over the path program"},
};

KTEST(hostlink_path_program)
{
	struct env e;

	if (!env_init(kt, &e))
		return;
	hostlink_destroy(e.hl); /* the same capture, the path table */
	e.hl = hostlink_create(path_programs, 3, cap_emit, &e.cap);
	KT_ASSERT(e.hl != NULL);
	exchange(kt, &e, "run 1 /bin/prog x y", "out 1 path%20/bin/prog%20argc%203%0A\n"
						 "exit 1 7\n");
	exchange(kt, &e, "run 2 t_echo hi", "out 2 hi%0A\nexit 2 0\n");
	exchange(kt, &e, "run 3 a/b 9", "exit 3 9\n");
	exchange(kt, &e, "run 4 rel/prog", "out 4 path%20rel/prog%20argc%201%0A\nexit 4 7\n");
	exchange(kt, &e, "run 5 nosuch",
		 "err 5 nosuch:%20not%20found%20(builtins:%20try%20help;%20user%20programs:%20"
		 "give%20a%20path,%20e.g.%20/bin/prog)%0A\nexit 5 127\n");
	env_fini(&e);
}

KTEST(hostlink_output_chunks_and_escapes)
{
	static char data[6000], word[HOSTLINK_LINE_MAX];
	size_t got = 0;
	unsigned lines = 0, total;
	long at, err_at, exit_at;
	struct env e;

	if (!env_init(kt, &e))
		return;
	feed(&e, "run 7 t_big");
	KT_ASSERT(hostlink_idle(e.hl, 5 * NS_PER_S));
	KT_EXPECT(!e.cap.overflow);
	total = cap_lines(&e.cap);
	/* Every out line: whole, short enough, its data decodes. */
	for (const char *p = e.cap.buf; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len;
		long n;

		KT_ASSERT(nl != NULL);
		len = (size_t)(nl - p);
		KT_EXPECT(len + 1 <= HOSTLINK_LINE_MAX);
		if (len > 6 && len < sizeof(word) && strncmp(p, "out 7 ", 6) == 0) {
			memcpy(word, p + 6, len - 6);
			word[len - 6] = '\0';
			n = hostlink_unescape(word);
			KT_ASSERT(n > 0 && got + (size_t)n <= sizeof(data));
			memcpy(data + got, word, (size_t)n);
			got += (size_t)n;
			lines++;
		}
		p = nl + 1;
	}
	KT_EXPECT_EQ(got, 5000);
	KT_EXPECT(lines >= 5); /* 1 KiB chunks, and each newline flushes */
	for (size_t i = 0; i < got && i < 5000; i++)
		if (!KT_EXPECT_EQ((uint8_t)data[i], pattern(i)))
			break;
	err_at = cap_find(&e.cap, "err 7 done%2042%0A");
	exit_at = cap_find(&e.cap, "exit 7 0");
	at = cap_find(&e.cap, "out 7 ");
	KT_EXPECT(at == 0 && err_at > at && exit_at > err_at);
	KT_EXPECT_EQ(total, lines + 2);
	env_fini(&e);
}

/* A hostile line and the start of the one reply it must get. */
struct hostile {
	const char *line;
	const char *reply; /* prefix of the only line expected */
};

static const struct hostile hostile[] = {
	{"", "fail 0 22 empty%20line"},
	{"ping", "fail 0 22 "},
	{"ping 0", "fail 0 22 "},
	{"ping 01", "fail 0 22 "},
	{"ping -1", "fail 0 22 "},
	{"ping +1", "fail 0 22 "},
	{"ping 1x", "fail 0 22 "},
	{"ping 2147483648", "fail 0 22 "},
	{"ping 99999999999", "fail 0 22 "},
	{"ping 18446744073709551617", "fail 0 22 "},
	{"ping  5", "fail 0 22 "},
	{" ping 5", "fail 0 22 "},
	{"ping 5 ", "fail 5 22 empty%20word"},
	{"ping 5 x", "fail 5 22 ping%20takes"},
	{"run 5", "fail 5 22 run%20needs"},
	{"run 5 t_echo a%zz", "fail 5 22 bad%20escape"},
	{"run 5 t_echo a%0a", "fail 5 22 bad%20escape"},
	{"run 5 t_echo a%", "fail 5 22 bad%20escape"},
	{"run 5 t_echo a%4", "fail 5 22 bad%20escape"},
	{"run 5 t_echo %-%-", "fail 5 22 bad%20escape"},
	{"run 5 t_echo %00", "fail 5 22 NUL"},
	{"run 5 t_echo a\tb", "fail 5 22 byte%20outside"},
	{"run 5 t_echo \x80", "fail 5 22 byte%20outside"},
	{"run 5 t_echo a\x7f", "fail 5 22 byte%20outside"},
	{"run 5 t_echo a\rb", "fail 5 22 byte%20outside"},
	{"jump 5", "fail 5 22 unknown"},
	{"RUN 5 t_echo", "fail 5 22 unknown"},
	{"pong 5", "fail 5 22 unknown"},
};

KTEST(hostlink_hostile_lines)
{
	char *line = kmalloc(HOSTLINK_LINE_MAX + 64);
	struct env e;
	size_t n;

	KT_ASSERT(line);
	if (!env_init(kt, &e)) {
		kfree(line);
		return;
	}
	for (unsigned i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		cap_reset(&e.cap);
		feed(&e, hostile[i].line);
		KT_EXPECT(hostlink_idle(e.hl, 5 * NS_PER_S));
		if (!KT_EXPECT(cap_find(&e.cap, hostile[i].reply) == 0 &&
			       cap_lines(&e.cap) == 1))
			printk_raw("# line %u -> '%s'\n", i, e.cap.buf);
	}

	/* a NUL byte inside the line */
	cap_reset(&e.cap);
	hostlink_line(e.hl, "ping 5\0x", 8);
	KT_EXPECT(cap_find(&e.cap, "fail 0 22 NUL") == 0);

	/* 32 words after the id run; 33 are too many */
	n = (size_t)snprintf(line, HOSTLINK_LINE_MAX, "run 6 t_echo");
	for (unsigned i = 0; i < 31; i++)
		n += (size_t)snprintf(line + n, HOSTLINK_LINE_MAX - n, " %u", i % 10);
	exchange(kt, &e, line,
		 "out 6 0%201%202%203%204%205%206%207%208%209%200%201%202%203%204%205%20"
		 "6%207%208%209%200%201%202%203%204%205%206%207%208%209%200%0A\nexit 6 "
		 "0\n");
	snprintf(line + n, HOSTLINK_LINE_MAX - n, " x");
	exchange(kt, &e, line,
		 "fail 6 7 too%20many%20arguments%20(at%20most%2032%20"
		 "words%20after%20the%20id)\n");

	/* the longest line that fits runs; one byte more is refused */
	n = (size_t)snprintf(line, HOSTLINK_LINE_MAX, "run 8 t_exit 0 ");
	memset(line + n, 'a', HOSTLINK_LINE_MAX - 1 - n);
	line[HOSTLINK_LINE_MAX - 1] = '\0';
	exchange(kt, &e, line, "exit 8 0\n");
	line[HOSTLINK_LINE_MAX - 1] = 'a';
	line[HOSTLINK_LINE_MAX] = '\0';
	exchange(kt, &e, line, "fail 8 22 line%20too%20long\n");
	memcpy(line, "run x", 5);
	exchange(kt, &e, line, "fail 0 22 line%20too%20long\n");
	KT_EXPECT(!e.cap.overflow);
	kfree(line);
	env_fini(&e);
}

KTEST(hostlink_busy_and_ids_in_use)
{
	struct env e;

	if (!env_init(kt, &e))
		return;
	for (unsigned i = 0; i < HOSTLINK_MAX_RUNS; i++) {
		char line[32];

		snprintf(line, sizeof(line), "run %u t_block", 11 + i);
		feed(&e, line);
	}
	KT_EXPECT(!hostlink_idle(e.hl, 10 * NS_PER_MS)); /* all four wait */
	KT_EXPECT_EQ(e.cap.len, 0);
	feed(&e, "run 20 t_echo x");
	KT_EXPECT(cap_find(&e.cap, "fail 20 16 too%20many%20programs") == 0);
	cap_reset(&e.cap);
	feed(&e, "run 12 t_echo x");
	KT_EXPECT(cap_find(&e.cap, "fail 12 17 request%20id%20already%20running") == 0);
	cap_reset(&e.cap);
	feed(&e, "ping 21"); /* the link answers while programs run */
	KT_EXPECT(strcmp(e.cap.buf, "pong 21\n") == 0);
	cap_reset(&e.cap);
	complete_all(&gate);
	KT_EXPECT(hostlink_idle(e.hl, 5 * NS_PER_S));
	for (unsigned i = 0; i < HOSTLINK_MAX_RUNS; i++) {
		char want[32];

		snprintf(want, sizeof(want), "exit %u 0\n", 11 + i);
		KT_EXPECT(cap_find(&e.cap, want) >= 0);
	}
	exchange(kt, &e, "run 12 t_exit 1", "exit 12 1\n"); /* ids free again */
	env_fini(&e);
}

/* ---- input: in, eof, sig, winsz, runt, ack --------------------------------- */

struct in_wait {
	struct waitq wq;
	unsigned events; /* notify calls; wq.lock */
};

static void in_wait_notify(void *ctx)
{
	struct in_wait *w = ctx;

	spin_lock(&w->wq.lock);
	w->events++;
	waitq_wake_all_locked(&w->wq);
	spin_unlock(&w->wq.lock);
}

static unsigned in_wait_seen(struct in_wait *w)
{
	unsigned n;

	spin_lock(&w->wq.lock);
	n = w->events;
	spin_unlock(&w->wq.lock);
	return n;
}

/* Sleeps until a notify after seen (at most 5 s). */
static void in_wait_for(struct in_wait *w, unsigned seen)
{
	uint64_t deadline = clock_ns() + 5 * NS_PER_S;

	spin_lock(&w->wq.lock);
	while (w->events == seen && clock_ns() < deadline)
		waitq_wait_locked(&w->wq, deadline);
	spin_unlock(&w->wq.lock);
}

/* Copies its input to its output until end of input; with an argument,
 * waits for the gate before it registers (input must be kept). */
static int t_cat(struct hostlink_run *run, int argc, char **argv)
{
	struct in_wait w = {.events = 0};
	char buf[300];

	if (argc > 1)
		wait_for_completion(&gate);
	waitq_init(&w.wq, "t_cat");
	hostlink_run_set_input(run, in_wait_notify, &w);
	for (;;) {
		unsigned seen = in_wait_seen(&w);
		bool eof;
		size_t n = hostlink_in_read(run, buf, sizeof(buf), &eof);

		if (n) {
			hostlink_write(run, 1, buf, n);
			continue;
		}
		if (eof)
			break;
		in_wait_for(&w, seen);
	}
	hostlink_run_set_input(run, NULL, NULL);
	return 0;
}

/* Waits for the gate, then prints the signals and the terminal. */
static int t_term(struct hostlink_run *run, int argc, char **argv)
{
	unsigned rows, cols;
	bool tty;

	wait_for_completion(&gate);
	tty = hostlink_run_terminal(run, &rows, &cols);
	hostlink_printf(run, "tty %d %ux%u sigs %llx\n", tty, rows, cols,
			(unsigned long long)hostlink_in_signals(run));
	hostlink_printf(run, "again %llx\n", (unsigned long long)hostlink_in_signals(run));
	return 0;
}

static const struct hostlink_program in_programs[] = {
	{"t_cat", t_cat, "copy input to output"},
	{"t_term", t_term, "print signals and terminal"},
};

/* Sums the data of the "out ID" lines into data (cap bytes) and the
 * counts of the "ack ID" lines; returns the data length. */
static size_t in_collect(struct env *e, unsigned id, char *data, size_t cap, size_t *acked)
{
	static char word[HOSTLINK_LINE_MAX];
	char out_pfx[24], ack_pfx[24];
	size_t got = 0;

	snprintf(out_pfx, sizeof(out_pfx), "out %u ", id);
	snprintf(ack_pfx, sizeof(ack_pfx), "ack %u ", id);
	*acked = 0;
	for (const char *p = e->cap.buf; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		size_t plen = strlen(out_pfx);

		if (len > plen && len - plen < sizeof(word) && strncmp(p, out_pfx, plen) == 0) {
			long n;

			memcpy(word, p + plen, len - plen);
			word[len - plen] = '\0';
			n = hostlink_unescape(word);
			if (n > 0 && got + (size_t)n <= cap) {
				memcpy(data + got, word, (size_t)n);
				got += (size_t)n;
			}
		} else if (len > plen && strncmp(p, ack_pfx, plen) == 0) {
			uint64_t v = 0;

			cmdline_parse_u64(p + plen, len - plen, &v);
			*acked += (size_t)v;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return got;
}

static bool in_env_init(struct ktest_ctx *kt, struct env *e)
{
	if (!env_init(kt, e))
		return false;
	hostlink_destroy(e->hl);
	e->hl = hostlink_create(in_programs, 2, cap_emit, &e->cap);
	return KT_EXPECT(e->hl != NULL);
}

KTEST(hostlink_input_in_order_and_kept)
{
	char data[64];
	size_t got, acked;
	struct env e;

	if (!in_env_init(kt, &e))
		return;
	/* registered at once: lines go through as they come */
	feed(&e, "run 30 t_cat");
	feed(&e, "in 30 hello%0A");
	feed(&e, "in 30 %00w%25rld");
	feed(&e, "eof 30");
	KT_EXPECT(hostlink_idle(e.hl, 5 * NS_PER_S));
	got = in_collect(&e, 30, data, sizeof(data), &acked);
	KT_EXPECT_EQ(got, 12);
	KT_EXPECT(got == 12 && memcmp(data, "hello\n\0w%rld", 12) == 0);
	KT_EXPECT_EQ(acked, 12);
	KT_EXPECT(cap_find(&e.cap, "exit 30 0") >= 0);
	KT_EXPECT(cap_find(&e.cap, "fail") < 0);

	/* input before the program registers is kept, end of input too */
	cap_reset(&e.cap);
	completion_init(&gate);
	feed(&e, "run 31 t_cat gated");
	feed(&e, "in 31 abc");
	feed(&e, "in 31 def");
	feed(&e, "eof 31");
	KT_EXPECT(!hostlink_idle(e.hl, 10 * NS_PER_MS));
	KT_EXPECT_EQ(e.cap.len, 0); /* nothing taken yet: no ack */
	feed(&e, "in 31 x");	    /* after eof */
	KT_EXPECT(cap_find(&e.cap, "fail 31 22 input%20after%20eof") == 0);
	cap_reset(&e.cap);
	complete_all(&gate);
	KT_EXPECT(hostlink_idle(e.hl, 5 * NS_PER_S));
	got = in_collect(&e, 31, data, sizeof(data), &acked);
	KT_EXPECT(got == 6 && memcmp(data, "abcdef", 6) == 0);
	KT_EXPECT_EQ(acked, 6);
	KT_EXPECT(cap_find(&e.cap, "exit 31 0") >= 0);
	/* the run is gone: its input is refused */
	cap_reset(&e.cap);
	feed(&e, "in 31 x");
	KT_EXPECT(cap_find(&e.cap, "fail 31 3 no%20such%20run") == 0);
	env_fini(&e);
}

KTEST(hostlink_input_window)
{
	static char line[HOSTLINK_LINE_MAX], data[HOSTLINK_IN_WINDOW + 16];
	char chunk[HOSTLINK_IN_CHUNK];
	size_t got, acked;
	struct env e;
	int n;

	if (!in_env_init(kt, &e))
		return;
	completion_init(&gate);
	feed(&e, "run 40 t_cat gated");
	/* a full window before the program reads: every byte kept */
	for (unsigned c = 0; c < HOSTLINK_IN_WINDOW / HOSTLINK_IN_CHUNK; c++) {
		for (size_t i = 0; i < sizeof(chunk); i++)
			chunk[i] = (char)pattern(c * sizeof(chunk) + i);
		n = snprintf(line, sizeof(line), "in 40 ");
		KT_ASSERT(hostlink_escape(chunk, sizeof(chunk), line + n,
					  sizeof(line) - (size_t)n) > 0);
		feed(&e, line);
	}
	KT_EXPECT_EQ(e.cap.len, 0);
	/* one byte more overruns it: refused, dropped */
	feed(&e, "in 40 z");
	KT_EXPECT(cap_find(&e.cap, "fail 40 105 input%20window%20exceeded") == 0);
	/* a chunk larger than HOSTLINK_IN_CHUNK is malformed */
	cap_reset(&e.cap);
	n = snprintf(line, sizeof(line), "in 40 ");
	memset(line + n, 'q', HOSTLINK_IN_CHUNK + 1);
	line[n + HOSTLINK_IN_CHUNK + 1] = '\0';
	feed(&e, line);
	KT_EXPECT(cap_find(&e.cap, "fail 40 22 more%20than%201024") == 0);
	cap_reset(&e.cap);
	complete_all(&gate);
	/* the program reads; the credit comes back as ack lines, then more fits */
	for (int tries = 0; tries < 500; tries++) {
		in_collect(&e, 40, data, sizeof(data), &acked);
		if (acked == HOSTLINK_IN_WINDOW)
			break;
		thread_sleep_ns(10 * NS_PER_MS);
	}
	KT_EXPECT_EQ(acked, HOSTLINK_IN_WINDOW);
	feed(&e, "in 40 END");
	feed(&e, "eof 40");
	KT_EXPECT(hostlink_idle(e.hl, 5 * NS_PER_S));
	got = in_collect(&e, 40, data, sizeof(data), &acked);
	KT_EXPECT_EQ(got, HOSTLINK_IN_WINDOW + 3);
	KT_EXPECT_EQ(acked, HOSTLINK_IN_WINDOW + 3);
	for (size_t i = 0; i < HOSTLINK_IN_WINDOW && i < got; i++)
		if (!KT_EXPECT_EQ((uint8_t)data[i], pattern(i)))
			break;
	KT_EXPECT(got >= 3 && memcmp(data + got - 3, "END", 3) == 0);
	KT_EXPECT(cap_find(&e.cap, "fail") < 0);
	env_fini(&e);
}

KTEST(hostlink_input_signals_and_terminal)
{
	struct env e;

	if (!in_env_init(kt, &e))
		return;
	completion_init(&gate);
	feed(&e, "runt 50 24 80 t_term");
	feed(&e, "sig 50 2");
	feed(&e, "sig 50 64");
	feed(&e, "winsz 50 50 132");
	feed(&e, "run 51 t_term");
	feed(&e, "winsz 51 10 10"); /* no terminal: ignored */
	feed(&e, "sig 51 15");
	KT_EXPECT_EQ(e.cap.len, 0);
	complete_all(&gate);
	KT_EXPECT(hostlink_idle(e.hl, 5 * NS_PER_S));
	KT_EXPECT(cap_find(&e.cap, "out 50 tty%201%2050x132%20sigs%208000000000000002%0A") >= 0);
	KT_EXPECT(cap_find(&e.cap, "out 51 tty%200%200x0%20sigs%204000%0A") >= 0);
	KT_EXPECT(cap_find(&e.cap, "out 50 again%200%0A") >= 0);
	KT_EXPECT(cap_find(&e.cap, "exit 50 0") >= 0 && cap_find(&e.cap, "exit 51 0") >= 0);
	KT_EXPECT(cap_find(&e.cap, "fail") < 0);
	env_fini(&e);
}

static const struct hostile input_hostile[] = {
	{"in 60", "fail 60 22 wrong%20number"},
	{"in 60 a b", "fail 60 22 wrong%20number"},
	{"in 60 %zz", "fail 60 22 bad%20escape"},
	{"in 61 a", "fail 61 3 no%20such%20run"},
	{"eof 60 x", "fail 60 22 wrong%20number"},
	{"eof 61", "fail 61 3 no%20such%20run"},
	{"sig 60", "fail 60 22 sig%20needs"},
	{"sig 60 0", "fail 60 22 sig%20needs"},
	{"sig 60 65", "fail 60 22 sig%20needs"},
	{"sig 60 02", "fail 60 22 sig%20needs"},
	{"sig 60 -1", "fail 60 22 sig%20needs"},
	{"sig 60 2 3", "fail 60 22 sig%20needs"},
	{"winsz 60 1", "fail 60 22 winsz%20needs"},
	{"winsz 60 1 65536", "fail 60 22 winsz%20needs"},
	{"winsz 60 x 1", "fail 60 22 winsz%20needs"},
	{"runt 62 24 80", "fail 62 22 run%20needs"},
	{"runt 62 24 t_cat", "fail 62 22 runt%20needs"},
	{"runt 62 24", "fail 62 22 runt%20needs"},
	{"runt 62 a 80 t_cat", "fail 62 22 runt%20needs"},
	{"runt 62 24 99999 t_cat", "fail 62 22 runt%20needs"},
	{"ack 60 1", "fail 60 22 unknown"},
};

KTEST(hostlink_input_hostile_lines)
{
	struct env e;

	if (!in_env_init(kt, &e))
		return;
	completion_init(&gate);
	feed(&e, "run 60 t_cat gated");
	for (unsigned i = 0; i < sizeof(input_hostile) / sizeof(input_hostile[0]); i++) {
		cap_reset(&e.cap);
		feed(&e, input_hostile[i].line);
		if (!KT_EXPECT(cap_find(&e.cap, input_hostile[i].reply) == 0 &&
			       cap_lines(&e.cap) == 1))
			printk_raw("# line %u -> '%s'\n", i, e.cap.buf);
	}
	/* none of that reached the program */
	cap_reset(&e.cap);
	feed(&e, "eof 60");
	complete_all(&gate);
	KT_EXPECT(hostlink_idle(e.hl, 5 * NS_PER_S));
	KT_EXPECT(strcmp(e.cap.buf, "exit 60 0\n") == 0);
	env_fini(&e);
}
