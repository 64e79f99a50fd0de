/*
 * The console of a process family (pcomponent/tty.h): fds 0-2 of what
 * `tessera run` started, and /dev/tty.
 *
 * Output. A write is copied from user memory in chunks, goes through
 * output processing when the console is a terminal (OPOST|ONLCR: "\n"
 * becomes "\r\n") and leaves as out (fds 0, 1) or err (fd 2) lines of the
 * hostlink run; every write is flushed at its end, so a prompt without a
 * newline shows at once.
 *
 * Input comes from the host through the run (kernel/hostlink.h): the
 * hostlink keeps what the host sent, and calls tty_notify when input,
 * end of input, a signal or a window size arrives. Without a terminal
 * the console is a plain byte stream, like a pipe: reads take the bytes
 * straight from the hostlink (which returns the host's credit), and
 * terminal ioctls answer ENOTTY. With a terminal (`runt`), a line
 * discipline sits in between: tty_ldisc_pull moves bytes from the
 * hostlink into the tty's own buffer, processing each one (ICRNL,
 * ISIG: VINTR/VQUIT/VSUSP signal the foreground process group and flush,
 * canonical editing with VERASE/VWERASE/VKILL/VEOF, echo with ECHOE/
 * ECHOCTL/ECHOKE) and echoing after the tty lock is dropped. It pulls
 * only what its buffer can take, so a program that does not read slows
 * the host down instead of losing bytes; reads that free room pull again.
 *
 * The buffer is a ring of bytes with a mark per byte: MARK_DELIM ends a
 * line (it is read), MARK_EOF is VEOF on an empty line (it is not read:
 * at the start of a read it gives 0, end of file; VEOF after some text
 * marks the text's last byte MARK_DELIM instead). A canonical read
 * returns at most one line; a non-canonical one honours VMIN and VTIME
 * (VMIN bytes, or VTIME tenths of a second after the last byte came in,
 * or overall when VMIN is 0).
 *
 * Locking: t->wq.lock guards the buffer, the line being edited, termios,
 * the window size and the foreground process group; readers sleep on
 * t->wq (interruptibly: -EINTR when a signal comes). The line discipline
 * itself runs under a sleeping lock (ldisc_busy, under t->wq.lock: it
 * echoes, and echoing may sleep) in the reader's notify or in a read.
 * Lock order: t->wq.lock, then the hostlink's input lock.
 *
 * Not done: job control checks (SIGTTIN/SIGTTOU for background groups),
 * flow control (IXON), VLNEXT, VREPRINT, VDISCARD; termios is kept and
 * returned whole, though.
 */
#include "tty.h"

#include "file.h"
#include "process.h"
#include "signal.h"

#include <kernel/errno.h>
#include <kernel/hostlink.h>
#include <kernel/mm.h>
#include <kernel/time.h>
#include <kernel/uspace.h>
#include <kernel/wait.h>
#include <lib/string.h>

#define COPY_CHUNK 512	/* bytes on the kernel stack per copy */
#define TTY_BUF	   4096 /* the input ring */
#define TTY_LINE   1024 /* the line being edited, its delimiter included */
#define PULL_CHUNK 64	/* bytes the line discipline takes per round */
#define ECHO_CAP   (3 * TTY_LINE + 3 * PULL_CHUNK + 16)

/* Linux's ioctls (x86-64). */
#define TCGETS	   0x5401
#define TCSETS	   0x5402
#define TCSETSW	   0x5403
#define TCSETSF	   0x5404
#define TCSBRK	   0x5409
#define TCXONC	   0x540A
#define TCFLSH	   0x540B
#define TIOCSCTTY  0x540E
#define TIOCGPGRP  0x540F
#define TIOCSPGRP  0x5410
#define TIOCOUTQ   0x5411
#define TIOCGWINSZ 0x5413
#define TIOCSWINSZ 0x5414
#define FIONREAD   0x541B
#define TIOCNOTTY  0x5422
#define TIOCGSID   0x5429

/* termios flags and c_cc indices (Linux's values). */
#define ICRNL	0000400
#define INLCR	0000100
#define IGNCR	0000200
#define ISTRIP	0000040
#define IXON	0002000
#define OPOST	0000001
#define ONLCR	0000004
#define B38400	0000017
#define CS8	0000060
#define CREAD	0000200
#define HUPCL	0002000
#define ISIG	0000001
#define ICANON	0000002
#define ECHO	0000010
#define ECHOE	0000020
#define ECHOK	0000040
#define ECHONL	0000100
#define NOFLSH	0000200
#define ECHOCTL 0001000
#define ECHOKE	0004000
#define IEXTEN	0100000

enum { VINTR, VQUIT, VERASE, VKILL, VEOF, VTIME, VMIN, VSWTC, VSTART, VSTOP,
       VSUSP, VEOL, VREPRINT, VDISCARD, VWERASE, VLNEXT, VEOL2, NCCS = 19 };

/* The kernel's struct termios of x86-64 (36 bytes: TCGETS/TCSETS*). */
struct k_termios {
	uint32_t c_iflag, c_oflag, c_cflag, c_lflag;
	uint8_t c_line;
	uint8_t c_cc[NCCS];
};
_Static_assert(sizeof(struct k_termios) == 36, "Linux's struct termios");

struct k_winsize {
	uint16_t ws_row, ws_col, ws_xpixel, ws_ypixel;
};

enum { MARK_NONE, MARK_DELIM, MARK_EOF };

struct tty {
	struct hostlink_run *run; /* constant */
	bool terminal;		  /* constant: the run has one */
	struct waitq wq;	  /* its lock guards what follows; readers sleep here */
	uint32_t fg_pgrp;
	struct k_termios tio;
	struct k_winsize ws;
	unsigned host_rows, host_cols; /* the size the host gave last */
	char buf[TTY_BUF];	       /* input ready for read: a ring */
	uint8_t mark[TTY_BUF];
	size_t head, len;
	unsigned lines;		/* MARK_DELIM and MARK_EOF bytes in the ring */
	char line[TTY_LINE];	/* canonical mode: the line being edited */
	size_t line_len;
	bool eof;		/* the host's input ended and was all pulled */
	uint64_t last_in_ns;	/* when the last byte came in (VTIME) */
	bool ldisc_busy;	/* the sleeping lock of the line discipline */
	/* the line discipline's own (ldisc_busy) */
	char echo[ECHO_CAP];
	size_t echo_len;
};

/* What a console file is: the tty and which stream its writes go to. */
struct tty_end {
	struct tty *tty;
	int stream; /* 1: out, 2: err */
};

static const uint8_t default_cc[NCCS] = {
	[VINTR] = 003,	  [VQUIT] = 034,   [VERASE] = 0177, [VKILL] = 025,
	[VEOF] = 004,	  [VTIME] = 0,	   [VMIN] = 1,	    [VSTART] = 021,
	[VSTOP] = 023,	  [VSUSP] = 032,   [VEOL] = 0,	    [VREPRINT] = 022,
	[VDISCARD] = 017, [VWERASE] = 027, [VLNEXT] = 026,  [VEOL2] = 0,
};

/* ---- output --------------------------------------------------------------- */

/* Writes n bytes (kernel memory) to the run's stream, through output
 * processing if the console is a terminal in OPOST|ONLCR. May sleep. */
static void tty_output(struct tty *t, int stream, const char *s, size_t n)
{
	char out[2 * PULL_CHUNK];
	bool onlcr;
	size_t o = 0;

	spin_lock(&t->wq.lock);
	onlcr = t->terminal && (t->tio.c_oflag & (OPOST | ONLCR)) == (OPOST | ONLCR);
	spin_unlock(&t->wq.lock);
	if (!onlcr) {
		hostlink_write(t->run, stream, s, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (o + 2 > sizeof(out)) {
			hostlink_write(t->run, stream, out, o);
			o = 0;
		}
		if (s[i] == '\n')
			out[o++] = '\r';
		out[o++] = s[i];
	}
	hostlink_write(t->run, stream, out, o);
}

static long tty_write(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos)
{
	struct tty_end *e = f->priv;
	char chunk[COPY_CHUNK];
	size_t done = 0;

	while (done < len) {
		size_t n = len - done < sizeof(chunk) ? len - done : sizeof(chunk);

		if (copy_from_user(chunk, ubuf + done, n))
			break;
		tty_output(e->tty, e->stream, chunk, n);
		done += n;
	}
	hostlink_flush(e->tty->run);
	return done || !len ? (long)done : -EFAULT;
}

/* ---- signals ---------------------------------------------------------------- */

/* Sends sig to the foreground process group (nobody there: dropped). */
static void tty_signal_fg(struct tty *t, int sig)
{
	struct signal_info info = {.signo = sig, .code = SI_KERNEL};
	uint32_t pgrp;

	spin_lock(&t->wq.lock);
	pgrp = t->fg_pgrp;
	spin_unlock(&t->wq.lock);
	signal_send_pgrp(pgrp, &info);
}

static void tty_signal_set(struct tty *t, uint64_t sigs)
{
	for (int sig = 1; sig <= NSIG_LINUX; sig++)
		if (sigs & (1ull << (sig - 1)))
			tty_signal_fg(t, sig);
}

/* ---- the line discipline --------------------------------------------------- */

static void ring_put(struct tty *t, char c, uint8_t mark)
{
	size_t at = (t->head + t->len) % TTY_BUF;

	t->buf[at] = c;
	t->mark[at] = mark;
	t->len++;
	if (mark != MARK_NONE)
		t->lines++;
}

static void ring_flush(struct tty *t)
{
	t->head = t->len = t->lines = 0;
	t->line_len = 0;
}

static void echo_add(struct tty *t, const char *s, size_t n)
{
	if (t->echo_len + n <= sizeof(t->echo)) {
		memcpy(t->echo + t->echo_len, s, n);
		t->echo_len += n;
	}
}

static bool is_ctl(char c)
{
	return ((unsigned char)c < 0x20 && c != '\t' && c != '\n') || c == 0x7f;
}

/* Echoes c as typed: control characters as ^X with ECHOCTL. */
static void echo_char(struct tty *t, char c)
{
	char ctl[2] = {'^', c == 0x7f ? '?' : (char)(c + 0x40)};

	if (!(t->tio.c_lflag & ECHO))
		return;
	if (is_ctl(c) && (t->tio.c_lflag & ECHOCTL))
		echo_add(t, ctl, 2);
	else
		echo_add(t, &c, 1);
}

/* Takes the last character of the line back, visibly with ECHOE. */
static void erase_one(struct tty *t)
{
	char c = t->line[--t->line_len];
	unsigned cols = is_ctl(c) && (t->tio.c_lflag & ECHOCTL) ? 2 : 1;

	if ((t->tio.c_lflag & (ECHO | ECHOE)) != (ECHO | ECHOE))
		return;
	while (cols--)
		echo_add(t, "\b \b", 3);
}

/* The line goes to the ring, ended by delimiter c (MARK_DELIM), or by
 * VEOF (MARK_EOF): then its last byte ends it, or, for an empty line, an
 * EOF mark that makes a read return 0. */
static void line_push(struct tty *t, char c, uint8_t mark)
{
	size_t n = t->line_len;

	t->line_len = 0;
	if (mark == MARK_EOF && n) {
		for (size_t i = 0; i + 1 < n; i++)
			ring_put(t, t->line[i], MARK_NONE);
		ring_put(t, t->line[n - 1], MARK_DELIM);
		return;
	}
	for (size_t i = 0; i < n; i++)
		ring_put(t, t->line[i], MARK_NONE);
	ring_put(t, mark == MARK_EOF ? 0 : c, mark);
}

/* Signal character: the signal, the input flushed (unless NOFLSH). */
static int ldisc_signal(struct tty *t, char c, int sig)
{
	if (!(t->tio.c_lflag & NOFLSH))
		ring_flush(t);
	echo_char(t, c);
	return sig;
}

/* Canonical editing of c; false if c is an ordinary character. */
static bool ldisc_edit(struct tty *t, char c)
{
	const uint8_t *cc = t->tio.c_cc;
	uint32_t l = t->tio.c_lflag;

	if (c == (char)cc[VERASE] && cc[VERASE]) {
		if (t->line_len)
			erase_one(t);
	} else if (c == (char)cc[VWERASE] && cc[VWERASE] && (l & IEXTEN)) {
		while (t->line_len && t->line[t->line_len - 1] == ' ')
			erase_one(t);
		while (t->line_len && t->line[t->line_len - 1] != ' ')
			erase_one(t);
	} else if (c == (char)cc[VKILL] && cc[VKILL]) {
		if ((l & ECHOKE) && (l & ECHOE)) {
			while (t->line_len)
				erase_one(t);
		} else {
			t->line_len = 0;
			echo_char(t, c);
			if (l & ECHOK)
				echo_add(t, "\n", 1);
		}
	} else if (c == (char)cc[VEOF] && cc[VEOF]) {
		line_push(t, c, MARK_EOF);
	} else if (c == '\n' || (c == (char)cc[VEOL] && cc[VEOL]) ||
		   (c == (char)cc[VEOL2] && cc[VEOL2])) {
		if ((l & ECHO) || (c == '\n' && (l & ECHONL)))
			echo_add(t, &c, 1);
		line_push(t, c, MARK_DELIM);
	} else {
		return false;
	}
	return true;
}

/* One input byte; returns a signal to send, or 0. Under t->wq.lock. */
static int ldisc_char(struct tty *t, char c)
{
	const uint8_t *cc = t->tio.c_cc;
	uint32_t i = t->tio.c_iflag;

	if (i & ISTRIP)
		c &= 0x7f;
	if (c == '\r' && (i & IGNCR))
		return 0;
	if (c == '\r' && (i & ICRNL))
		c = '\n';
	else if (c == '\n' && (i & INLCR))
		c = '\r';
	if (t->tio.c_lflag & ISIG) {
		if (c == (char)cc[VINTR] && cc[VINTR])
			return ldisc_signal(t, c, SIGINT);
		if (c == (char)cc[VQUIT] && cc[VQUIT])
			return ldisc_signal(t, c, SIGQUIT);
		if (c == (char)cc[VSUSP] && cc[VSUSP])
			return ldisc_signal(t, c, SIGTSTP);
	}
	if (!(t->tio.c_lflag & ICANON)) {
		ring_put(t, c, MARK_NONE);
		echo_char(t, c);
		return 0;
	}
	if (ldisc_edit(t, c))
		return 0;
	if (t->line_len < TTY_LINE - 1) { /* room for the delimiter stays */
		t->line[t->line_len++] = c;
		echo_char(t, c);
	}
	return 0;
}

/* How many bytes the line discipline may take now so that whatever
 * they are, they fit the ring. Under t->wq.lock. */
static size_t ldisc_room(struct tty *t)
{
	size_t room = TTY_BUF - t->len;

	if (t->tio.c_lflag & ICANON)
		room = room > t->line_len + 1 ? room - t->line_len - 1 : 0;
	return room < PULL_CHUNK ? room : PULL_CHUNK;
}

static void ldisc_lock(struct tty *t)
{
	spin_lock(&t->wq.lock);
	while (t->ldisc_busy)
		waitq_wait_locked(&t->wq, 0);
	t->ldisc_busy = true;
	spin_unlock(&t->wq.lock);
}

static void ldisc_unlock(struct tty *t)
{
	spin_lock(&t->wq.lock);
	t->ldisc_busy = false;
	waitq_wake_all_locked(&t->wq);
	spin_unlock(&t->wq.lock);
}

/* One round: up to ldisc_room bytes through the line discipline.
 * Returns whether anything changed; adds signals to *sigs. */
static bool ldisc_round(struct tty *t, uint64_t *sigs)
{
	char chunk[PULL_CHUNK];
	bool eof = false;
	size_t room, n;

	spin_lock(&t->wq.lock);
	room = ldisc_room(t);
	spin_unlock(&t->wq.lock);
	n = room ? hostlink_in_read(t->run, chunk, room, &eof) : 0;
	spin_lock(&t->wq.lock);
	for (size_t i = 0; i < n; i++) {
		int sig = ldisc_char(t, chunk[i]);

		if (sig)
			*sigs |= 1ull << (sig - 1);
	}
	if (n)
		t->last_in_ns = clock_ns();
	if (room && !n && eof && !t->eof) {
		t->eof = true; /* the host's end: a partial line is readable */
		if (t->line_len)
			line_push(t, 0, MARK_EOF);
		n = 1;
	}
	spin_unlock(&t->wq.lock);
	if (t->echo_len) { /* the echo goes out before a reader can answer */
		tty_output(t, 1, t->echo, t->echo_len);
		hostlink_flush(t->run);
		t->echo_len = 0;
	}
	if (n) {
		spin_lock(&t->wq.lock);
		waitq_wake_all_locked(&t->wq);
		spin_unlock(&t->wq.lock);
	}
	return n != 0;
}

/*
 * Moves what fits from the hostlink through the line discipline into
 * the ring; echoes, signals, wakes readers. Thread context, no lock held.
 */
static void tty_ldisc_pull(struct tty *t)
{
	uint64_t sigs = 0;
	bool moved = false;

	ldisc_lock(t);
	while (ldisc_round(t, &sigs))
		moved = true;
	ldisc_unlock(t);
	tty_signal_set(t, sigs);
	if (moved || sigs)
		file_poll_event();
}

/* ---- input --------------------------------------------------------------------- */

/* The hostlink's notify: input, end of input, signals, a window size. */
static void tty_notify(void *ctx)
{
	struct tty *t = ctx;
	unsigned rows, cols;
	bool winch = false;

	tty_signal_set(t, hostlink_in_signals(t->run));
	if (t->terminal) {
		hostlink_run_terminal(t->run, &rows, &cols);
		spin_lock(&t->wq.lock);
		if (rows != t->host_rows || cols != t->host_cols) {
			t->host_rows = rows;
			t->host_cols = cols;
			winch = rows != t->ws.ws_row || cols != t->ws.ws_col;
			t->ws.ws_row = (uint16_t)rows;
			t->ws.ws_col = (uint16_t)cols;
		}
		spin_unlock(&t->wq.lock);
		if (winch)
			tty_signal_fg(t, SIGWINCH);
		tty_ldisc_pull(t);
		return;
	}
	spin_lock(&t->wq.lock);
	waitq_wake_all_locked(&t->wq);
	spin_unlock(&t->wq.lock);
	file_poll_event();
}

/* Terminal: whether a read can return now (want: bytes a non-canonical
 * read waits for). Under t->wq.lock. */
static bool term_ready(struct tty *t, size_t want)
{
	if (t->eof || (t->tio.c_lflag & ICANON))
		return t->eof || t->lines;
	return t->len >= want;
}

/* Terminal: takes up to n bytes from the ring into kbuf: in canonical
 * mode up to the end of the first line. Under t->wq.lock. */
static size_t term_take(struct tty *t, char *kbuf, size_t n)
{
	bool canon = t->tio.c_lflag & ICANON;
	size_t got = 0;

	while (got < n && t->len) {
		char c = t->buf[t->head];
		uint8_t mark = t->mark[t->head];

		if (mark == MARK_EOF && got)
			break; /* the next read gets the 0 */
		t->head = (t->head + 1) % TTY_BUF;
		t->len--;
		if (mark != MARK_NONE)
			t->lines--;
		if (mark == MARK_EOF)
			break;
		kbuf[got++] = c;
		if (canon && mark == MARK_DELIM)
			break;
	}
	return got;
}

/* Terminal: the deadline of a non-canonical read by VMIN/VTIME, and how
 * many bytes it waits for (0: none, return at once). Under t->wq.lock. */
static size_t term_want(struct tty *t, size_t len, uint64_t start, uint64_t *deadline)
{
	uint8_t vmin = t->tio.c_cc[VMIN], vtime = t->tio.c_cc[VTIME];
	uint64_t tenth = NS_PER_S / 10;

	*deadline = 0;
	if (t->tio.c_lflag & ICANON)
		return 1;
	if (vtime && !vmin)
		*deadline = start + vtime * tenth;
	else if (vtime && t->len)
		*deadline = t->last_in_ns + vtime * tenth; /* the inter-byte timer */
	if (!vmin)
		return vtime ? 1 : 0;
	return vmin < len ? vmin : len;
}

static long term_read(struct file *f, struct tty *t, uint64_t ubuf, size_t len)
{
	bool nonblock = f->flags & O_NONBLOCK;
	uint64_t start = clock_ns(), deadline;
	char kbuf[COPY_CHUNK];
	size_t got;
	int err = 0;

	if (len > sizeof(kbuf))
		len = sizeof(kbuf);
	spin_lock(&t->wq.lock);
	for (;;) {
		size_t want = term_want(t, len, start, &deadline);

		if (term_ready(t, want) || (deadline && clock_ns() >= deadline) ||
		    (!want && !(t->tio.c_lflag & ICANON)))
			break;
		if (nonblock) {
			err = -EAGAIN;
			break;
		}
		err = waitq_wait_intr_locked(&t->wq, deadline);
		if (err == -EINTR)
			break;
		err = 0;
	}
	got = err ? 0 : term_take(t, kbuf, len);
	spin_unlock(&t->wq.lock);
	if (err)
		return err;
	tty_ldisc_pull(t); /* room again: more may come from the hostlink */
	if (got && copy_to_user(ubuf, kbuf, got))
		return -EFAULT;
	return (long)got;
}

/* No terminal: the host's bytes as they are, like a pipe. */
static long raw_read(struct file *f, struct tty *t, uint64_t ubuf, size_t len)
{
	bool nonblock = f->flags & O_NONBLOCK;
	char kbuf[COPY_CHUNK];

	for (;;) {
		bool eof;
		size_t n = hostlink_in_read(t->run, kbuf, len < sizeof(kbuf) ? len : sizeof(kbuf),
					    &eof);
		int err = 0;

		if (n)
			return copy_to_user(ubuf, kbuf, n) ? -EFAULT : (long)n;
		if (eof || !len)
			return 0;
		if (nonblock)
			return -EAGAIN;
		spin_lock(&t->wq.lock);
		if (!hostlink_in_avail(t->run, &eof) && !eof)
			err = waitq_wait_intr_locked(&t->wq, 0);
		spin_unlock(&t->wq.lock);
		if (err == -EINTR)
			return -EINTR;
	}
}

static long tty_read(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos)
{
	struct tty_end *e = f->priv;

	return e->tty->terminal ? term_read(f, e->tty, ubuf, len)
				: raw_read(f, e->tty, ubuf, len);
}

static unsigned tty_poll(struct file *f)
{
	struct tty *t = ((struct tty_end *)f->priv)->tty;
	bool eof, ready;

	if (!t->terminal) {
		ready = hostlink_in_avail(t->run, &eof) || eof;
	} else {
		uint64_t deadline;

		spin_lock(&t->wq.lock);
		ready = term_ready(t, term_want(t, 1, 0, &deadline) ? 1 : 0);
		spin_unlock(&t->wq.lock);
	}
	return ready ? POLLOUT | POLLIN : POLLOUT;
}

/* ---- ioctl -------------------------------------------------------------------- */

static long ioctl_fionread(struct tty *t, uint64_t arg)
{
	bool eof;
	int n;

	if (t->terminal) {
		spin_lock(&t->wq.lock);
		n = (int)t->len; /* less the EOF marks, which are not read */
		for (size_t i = 0; i < t->len; i++)
			n -= t->mark[(t->head + i) % TTY_BUF] == MARK_EOF;
		spin_unlock(&t->wq.lock);
	} else {
		n = (int)hostlink_in_avail(t->run, &eof);
	}
	return copy_to_user(arg, &n, sizeof(n)) ? -EFAULT : 0;
}

/* TCSETS*: new termios; leaving canonical mode makes the line being
 * edited readable, entering it makes what is buffered one line. */
static long ioctl_set_termios(struct tty *t, unsigned cmd, uint64_t arg)
{
	struct k_termios tio;
	bool was_canon;

	if (copy_from_user(&tio, arg, sizeof(tio)))
		return -EFAULT;
	spin_lock(&t->wq.lock);
	was_canon = t->tio.c_lflag & ICANON;
	t->tio = tio;
	if (cmd == TCSETSF)
		ring_flush(t);
	if (was_canon && !(tio.c_lflag & ICANON)) {
		for (size_t i = 0; i < t->line_len; i++)
			ring_put(t, t->line[i], MARK_NONE);
		t->line_len = 0;
	} else if (!was_canon && (tio.c_lflag & ICANON) && t->len && !t->lines) {
		t->mark[(t->head + t->len - 1) % TTY_BUF] = MARK_DELIM;
		t->lines = 1;
	}
	waitq_wake_all_locked(&t->wq);
	spin_unlock(&t->wq.lock);
	file_poll_event();
	tty_ldisc_pull(t); /* bytes waiting are processed by the new rules */
	return 0;
}

static long ioctl_winsize(struct tty *t, unsigned cmd, uint64_t arg)
{
	struct k_winsize ws;
	bool winch;

	if (cmd == TIOCGWINSZ) {
		spin_lock(&t->wq.lock);
		ws = t->ws;
		spin_unlock(&t->wq.lock);
		return copy_to_user(arg, &ws, sizeof(ws)) ? -EFAULT : 0;
	}
	if (copy_from_user(&ws, arg, sizeof(ws)))
		return -EFAULT;
	spin_lock(&t->wq.lock);
	winch = memcmp(&ws, &t->ws, sizeof(ws)) != 0;
	t->ws = ws;
	spin_unlock(&t->wq.lock);
	if (winch)
		tty_signal_fg(t, SIGWINCH);
	return 0;
}

static long ioctl_pgrp(struct tty *t, unsigned cmd, uint64_t arg)
{
	int32_t pgrp;

	if (cmd == TIOCGPGRP || cmd == TIOCGSID) {
		struct process *p = process_current();

		spin_lock(&t->wq.lock);
		pgrp = (int32_t)t->fg_pgrp;
		spin_unlock(&t->wq.lock);
		if (cmd == TIOCGSID)
			pgrp = p ? (int32_t)p->sid : pgrp;
		return copy_to_user(arg, &pgrp, sizeof(pgrp)) ? -EFAULT : 0;
	}
	if (copy_from_user(&pgrp, arg, sizeof(pgrp)))
		return -EFAULT;
	if (pgrp <= 0)
		return -EINVAL;
	spin_lock(&t->wq.lock);
	t->fg_pgrp = (uint32_t)pgrp;
	spin_unlock(&t->wq.lock);
	return 0;
}

static long tty_ioctl(struct file *f, unsigned cmd, uint64_t arg)
{
	struct tty *t = ((struct tty_end *)f->priv)->tty;
	struct k_termios tio;
	int zero = 0;

	if (cmd == FIONREAD)
		return ioctl_fionread(t, arg);
	if (!t->terminal)
		return -ENOTTY;
	switch (cmd) {
	case TCGETS:
		spin_lock(&t->wq.lock);
		tio = t->tio;
		spin_unlock(&t->wq.lock);
		return copy_to_user(arg, &tio, sizeof(tio)) ? -EFAULT : 0;
	case TCSETS:
	case TCSETSW:
	case TCSETSF:
		return ioctl_set_termios(t, cmd, arg);
	case TIOCGWINSZ:
	case TIOCSWINSZ:
		return ioctl_winsize(t, cmd, arg);
	case TIOCGPGRP:
	case TIOCSPGRP:
	case TIOCGSID:
		return ioctl_pgrp(t, cmd, arg);
	case TCFLSH:
		if (arg > 2)
			return -EINVAL;
		if (arg != 1) { /* not TCOFLUSH alone: output is never held */
			spin_lock(&t->wq.lock);
			ring_flush(t);
			spin_unlock(&t->wq.lock);
		}
		return 0;
	case TIOCOUTQ:
		return copy_to_user(arg, &zero, sizeof(zero)) ? -EFAULT : 0;
	case TIOCSCTTY:
	case TIOCNOTTY:
	case TCSBRK:
	case TCXONC:
		return 0;
	}
	return -ENOTTY;
}

/* ---- files and life cycle ---------------------------------------------------- */

static void tty_release(struct file *f)
{
	kfree(f->priv);
}

static const struct file_ops tty_ops = {
	.read = tty_read,
	.write = tty_write,
	.poll = tty_poll,
	.ioctl = tty_ioctl,
	.seek = file_no_seek,
	.release = tty_release,
};

struct tty *tty_create(struct hostlink_run *run, uint32_t fg_pgrp)
{
	struct tty *t = kzalloc(sizeof(*t));
	unsigned rows, cols;

	if (!t)
		return NULL;
	t->run = run;
	t->fg_pgrp = fg_pgrp;
	waitq_init(&t->wq, "tty");
	t->terminal = run && hostlink_run_terminal(run, &rows, &cols);
	if (t->terminal) {
		t->host_rows = rows;
		t->host_cols = cols;
		t->ws.ws_row = (uint16_t)rows;
		t->ws.ws_col = (uint16_t)cols;
	}
	t->tio.c_iflag = ICRNL | IXON;
	t->tio.c_oflag = OPOST | ONLCR;
	t->tio.c_cflag = B38400 | CS8 | CREAD | HUPCL;
	t->tio.c_lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN;
	memcpy(t->tio.c_cc, default_cc, sizeof(default_cc));
	if (run)
		hostlink_run_set_input(run, tty_notify, t);
	return t;
}

void tty_destroy(struct tty *t)
{
	if (t->run)
		hostlink_run_set_input(t->run, NULL, NULL);
	kfree(t);
}

static struct file *tty_file(struct tty *t, unsigned flags, int stream)
{
	struct tty_end *e = kzalloc(sizeof(*e));
	struct file *f;

	if (!e)
		return NULL;
	e->tty = t;
	e->stream = stream;
	f = file_alloc(&tty_ops, flags, NULL, e);
	if (!f)
		kfree(e);
	return f;
}

int tty_std_files(struct tty *t, struct file *std[3])
{
	/* a terminal is read and written through every fd, as on Linux */
	std[0] = tty_file(t, t->terminal ? O_RDWR : O_RDONLY, 1);
	std[1] = tty_file(t, t->terminal ? O_RDWR : O_WRONLY, 1);
	std[2] = tty_file(t, t->terminal ? O_RDWR : O_WRONLY, 2);
	if (std[0] && std[1] && std[2])
		return 0;
	for (int i = 0; i < 3; i++)
		if (std[i])
			file_put(std[i]);
	return -ENOMEM;
}

int tty_open_dev(struct process *p, unsigned flags, struct file **out)
{
	struct tty *t = p->family ? p->family->tty : NULL;

	if (!t || !t->terminal)
		return -ENXIO;
	*out = tty_file(t, flags & (O_ACCMODE | O_NONBLOCK), 1);
	return *out ? 0 : -ENOMEM;
}
