/*
 * Self tests of the hostlink server (kernel/hostlink.c), without a UART:
 * lines go straight into hostlink_line, replies into a capture buffer.
 * Test programs stand in for the processor's builtins (those live in the
 * processor image only; these tests run in every image). Covered: ping,
 * run with output chunking and escaping, exit statuses, unknown programs,
 * the path program (a table entry without a name: names with a '/'),
 * the limit of concurrent runs and request ids in use, and hostile lines
 * (too long, bad bytes, bad escapes, NUL bytes, too many arguments, bad
 * ids, empty words).
 */
#include <kernel/errno.h>
#include <kernel/hostlink.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
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
