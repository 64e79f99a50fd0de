/*
 * Self tests of the console (pcomponent/tty.c) through a real hostlink
 * with a capture instead of COM2: a test program in the run's kernel
 * thread attaches to a small uspace (so the file ops' user copies work),
 * makes the family's console and reads and writes its fds as a process
 * would; the test feeds in/eof lines as the host would and checks what
 * the program read (reported on its err stream) and what went out (echo
 * and writes on the out stream). Steps are paced by a completion so
 * that what is checked does not depend on timing.
 * Covered: without a terminal, raw bytes, -EAGAIN with O_NONBLOCK,
 * FIONREAD, ENOTTY, end of input, no output processing; with a terminal,
 * the default termios and window size, canonical editing (VERASE,
 * VKILL, VEOF on a line and on an empty line), ICRNL, echo with ECHOE
 * and ECHOCTL, VINTR flushing the line, non-canonical reads (VMIN 1),
 * ONLCR, end of input.
 */
#include "file.h"
#include "tty.h"

#include <arch/memlayout.h>
#include <kernel/errno.h>
#include <kernel/hostlink.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/uspace.h>
#include <kernel/wait.h>
#include <lib/printf.h>
#include <lib/string.h>

#define UBUF	 0x400000ull /* the test program's one user page */
#define CAP_SIZE 16384

static struct completion step; /* the program reached its next step */

struct tcap {
	struct spinlock lock;
	char buf[CAP_SIZE];
	size_t len;
};

static struct tcap tcap;

static void tcap_emit(void *ctx, const char *line, size_t len)
{
	spin_lock(&tcap.lock);
	if (tcap.len + len + 1 <= CAP_SIZE) {
		memcpy(tcap.buf + tcap.len, line, len);
		tcap.len += len;
		tcap.buf[tcap.len] = '\0';
	}
	spin_unlock(&tcap.lock);
}

/* The decoded data of the "TYPE ID" lines, concatenated, into out. */
static size_t tcap_data(const char *type, unsigned id, char *out, size_t cap)
{
	static char word[HOSTLINK_LINE_MAX];
	char pfx[24];
	size_t got = 0, plen;

	snprintf(pfx, sizeof(pfx), "%s %u ", type, id);
	plen = strlen(pfx);
	for (const char *p = tcap.buf; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len > plen && len - plen < sizeof(word) && strncmp(p, pfx, plen) == 0) {
			long n;

			memcpy(word, p + plen, len - plen);
			word[len - plen] = '\0';
			n = hostlink_unescape(word);
			if (n > 0 && got + (size_t)n < cap) {
				memcpy(out + got, word, (size_t)n);
				got += (size_t)n;
			}
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	out[got] = '\0';
	return got;
}

static bool has(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (strncmp(hay, needle, n) == 0)
			return true;
	return false;
}

/* ---- the test program ------------------------------------------------------ */

/* Reads up to n bytes from f into UBUF; reports "rd RESULT TEXT" with
 * newlines shown as '.'. */
static void rd(struct hostlink_run *run, struct file *f, size_t n, char *page)
{
	uint64_t pos = 0;
	long got = f->ops->read(f, UBUF, n, &pos);
	char text[80];
	size_t len = got > 0 ? (size_t)got : 0;

	if (len >= sizeof(text))
		len = sizeof(text) - 1;
	for (size_t i = 0; i < len; i++)
		text[i] = page[i] == '\n' ? '.' : page[i];
	text[len] = '\0';
	hostlink_eprintf(run, "rd %ld %s\n", got, text);
}

static void wr(struct file *f, const char *s, char *page)
{
	uint64_t pos = 0;

	memcpy(page, s, strlen(s));
	f->ops->write(f, UBUF, strlen(s), &pos);
}

static void scenario_raw(struct hostlink_run *run, struct file **std, char *page)
{
	int *n = (int *)page;
	uint64_t pos = 0;

	std[0]->flags |= O_NONBLOCK;
	hostlink_eprintf(run, "nb %ld\n", std[0]->ops->read(std[0], UBUF, 8, &pos));
	std[0]->flags &= ~O_NONBLOCK;
	hostlink_eprintf(run, "tcgets %ld\n", std[0]->ops->ioctl(std[0], 0x5401, UBUF));
	complete(&step); /* 1: input may come */
	rd(run, std[0], 64, page);
	*n = -1;
	std[0]->ops->ioctl(std[0], 0x541B, UBUF);
	hostlink_eprintf(run, "fionread %d\n", *n);
	rd(run, std[0], 64, page);
	wr(std[1], "a\nb", page);
	rd(run, std[0], 64, page); /* after eof: 0 */
}

static void scenario_term(struct hostlink_run *run, struct file **std, char *page)
{
	uint32_t *tio = (uint32_t *)page;
	uint16_t *ws = (uint16_t *)page;

	hostlink_eprintf(run, "tcgets %ld ", std[0]->ops->ioctl(std[0], 0x5401, UBUF));
	hostlink_eprintf(run, "%x %x %x %x %u\n", tio[0], tio[1], tio[2], tio[3],
			 page[17 + 6]);
	hostlink_eprintf(run, "winsz %ld ", std[1]->ops->ioctl(std[1], 0x5413, UBUF));
	hostlink_eprintf(run, "%u %u\n", ws[0], ws[1]);
	complete(&step); /* 1 */
	rd(run, std[0], 64, page);
	rd(run, std[0], 64, page);
	rd(run, std[0], 64, page);
	complete(&step); /* 2 */
	rd(run, std[0], 64, page);
	std[0]->ops->ioctl(std[0], 0x5401, UBUF);
	tio[3] &= ~(0000002u | 0000010u); /* ICANON, ECHO */
	std[0]->ops->ioctl(std[0], 0x5402, UBUF);
	complete(&step); /* 3 */
	rd(run, std[0], 64, page);
	wr(std[1], "o\np", page);
	complete(&step); /* 4 */
	rd(run, std[0], 64, page);
}

static int t_tty(struct hostlink_run *run, int argc, char **argv)
{
	struct uspace *us = uspace_create();
	char *page = page_zalloc(0);
	struct file *std[3];
	struct tty *t = NULL;
	int err = 1;

	if (!us || !page ||
	    uspace_map(us, UBUF, virt_to_phys(page), USPACE_READ | USPACE_WRITE) ||
	    uthread_attach(us) < 0)
		goto free;
	t = tty_create(run, 1);
	if (t && tty_std_files(t, std) == 0) {
		if (strcmp(argv[1], "raw") == 0)
			scenario_raw(run, std, page);
		else
			scenario_term(run, std, page);
		for (int i = 0; i < 3; i++)
			file_put(std[i]);
		err = 0;
	}
	if (t)
		tty_destroy(t);
	uthread_detach();
free:
	if (us)
		uspace_destroy(us);
	if (page)
		page_free(page, 0);
	return err;
}

static const struct hostlink_program tty_programs[] = {
	{"t_tty", t_tty, "console scenarios"},
};

/* ---- the tests ----------------------------------------------------------------- */

static struct hostlink *tty_env(void)
{
	spin_init(&tcap.lock, "tty-test");
	tcap.len = 0;
	tcap.buf[0] = '\0';
	completion_init(&step);
	return hostlink_create(tty_programs, 1, tcap_emit, NULL);
}

static void feed(struct hostlink *hl, const char *line)
{
	hostlink_line(hl, line, strlen(line));
}

static bool next_step(struct ktest_ctx *kt)
{
	return KT_EXPECT(wait_for_completion_timeout(&step, 5 * NS_PER_S));
}

static bool data_is(struct ktest_ctx *kt, const char *type, unsigned id, const char *want)
{
	static char got[CAP_SIZE];

	tcap_data(type, id, got, sizeof(got));
	if (strcmp(got, want) == 0)
		return true;
	ktest_check(kt, false, "data as expected", __FILE__, __LINE__);
	printk_raw("# %s  got '%s'\n# want '%s'\n", type, got, want);
	return false;
}

KTEST(tty_without_terminal)
{
	struct hostlink *hl = tty_env();

	KT_ASSERT(hl);
	feed(hl, "run 70 t_tty raw");
	if (next_step(kt)) {
		feed(hl, "in 70 hello%0Awor");
		feed(hl, "in 70 ld");
		feed(hl, "eof 70");
	}
	KT_EXPECT(hostlink_idle(hl, 5 * NS_PER_S));
	/* the first read may see one in line or both; after one, FIONREAD
	 * may already count the second or not (the reader runs on another
	 * CPU than this feeder) */
	{
		static char err[CAP_SIZE];

		tcap_data("err", 70, err, sizeof(err));
		if (has(err, "rd 11 "))
			data_is(kt, "err", 70,
				"nb -11\ntcgets -25\nrd 11 hello.world\nfionread 0\nrd 0 \n"
				"rd 0 \n");
		else if (has(err, "fionread 0"))
			data_is(kt, "err", 70,
				"nb -11\ntcgets -25\nrd 9 hello.wor\nfionread 0\nrd 2 ld\n"
				"rd 0 \n");
		else
			data_is(kt, "err", 70,
				"nb -11\ntcgets -25\nrd 9 hello.wor\nfionread 2\nrd 2 ld\n"
				"rd 0 \n");
	}
	data_is(kt, "out", 70, "a\nb");
	KT_EXPECT(has(tcap.buf, "exit 70 0\n"));
	KT_EXPECT(!has(tcap.buf, "fail"));
	hostlink_destroy(hl);
}

KTEST(tty_terminal_line_discipline)
{
	struct hostlink *hl = tty_env();

	KT_ASSERT(hl);
	feed(hl, "runt 71 24 80 t_tty term");
	if (next_step(kt)) {
		feed(hl, "in 71 ab%7Fc%0D");   /* erase; CR becomes NL */
		feed(hl, "in 71 xy%15z%04%04"); /* kill; VEOF ends "z"; VEOF alone: 0 */
	}
	if (next_step(kt))
		feed(hl, "in 71 q%03r%0D"); /* VINTR flushes "q" */
	if (next_step(kt))
		feed(hl, "in 71 k"); /* non-canonical, no echo */
	if (next_step(kt))
		feed(hl, "eof 71");
	KT_EXPECT(hostlink_idle(hl, 5 * NS_PER_S));
	data_is(kt, "err", 71,
		"tcgets 0 500 5 4bf 8a3b 1\nwinsz 0 24 80\nrd 3 ac.\nrd 1 z\nrd 0 \n"
		"rd 2 r.\nrd 1 k\nrd 0 \n");
	data_is(kt, "out", 71, "ab\b \bc\r\nxy\b \b\b \bzq^Cr\r\no\r\np");
	KT_EXPECT(has(tcap.buf, "exit 71 0\n"));
	KT_EXPECT(!has(tcap.buf, "fail"));
	hostlink_destroy(hl);
}
