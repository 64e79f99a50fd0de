/*
 * The hostlink server (include/kernel/hostlink.h; the protocol is
 * include/proto/hostlink.h).
 *
 * Decode, then act. hostlink_line copies the line, splits it at single
 * spaces and checks the whole of it (length, bytes, word count, the
 * request id, the message type, every escape) before it does anything;
 * only a line that passed every check starts a program or gets a pong.
 * Anything else is answered with `fail ID ERRNO TEXT`, with ID 0 when the
 * line has no usable id. The host's bytes can never make the kernel do
 * more than refuse.
 *
 * Runs. A slot per running program (HOSTLINK_MAX_RUNS) holds its decoded
 * arguments, its output buffer and its thread. States, under hl->lock:
 * FREE -> ACTIVE (the reader filled it and started the thread) -> DONE
 * (the thread sent `exit` and touches the slot no more) -> FREE again once
 * the reader joined the thread (hostlink_line and hostlink_idle reclaim).
 * Only the reader (one thread) creates, reclaims and joins, so a slot is
 * never raced for.
 *
 * Output. A program's bytes collect in its slot (one fd at a time) and go
 * out as `out ID DATA` / `err ID DATA` lines, DATA escaped, at each
 * newline, when HOSTLINK_OUT_CHUNK bytes wait, when the program switches
 * between stdout and stderr, and before `exit`. The emit function keeps
 * lines whole; on COM2 it serialises writers with a sleeping lock, since
 * a slow host can make writing wait.
 *
 * COM2. The UART's receive interrupt moves bytes into the driver's ring
 * and wakes the reader thread (rx_wq), which assembles lines: bytes past
 * HOSTLINK_LINE_MAX are counted, not kept, and such a line is refused as
 * too long; a ring overflow spoils the line in progress, which is dropped
 * and answered with fail 0 EIO.
 */
#include <drivers/serial.h>
#include <kernel/errno.h>
#include <kernel/hostlink.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/wait.h>
#include <lib/printf.h>
#include <lib/string.h>

#define HOSTLINK_ID_MAX 2147483647u
#define MAX_WORDS	(2 + HOSTLINK_MAX_ARGS)

enum run_state { RUN_FREE, RUN_ACTIVE, RUN_DONE };

struct hostlink_run {
	struct hostlink *hl;
	enum run_state state; /* under hl->lock */
	uint32_t id;	      /* the request id while not FREE */
	const struct hostlink_program *prog;
	struct thread *thread;
	int argc;
	char *argv[HOSTLINK_MAX_ARGS + 1];
	char args[HOSTLINK_LINE_MAX]; /* the decoded words, NUL-separated */
	/* output: the run's thread only */
	int out_fd;
	size_t out_len;
	char out[HOSTLINK_OUT_CHUNK];
	char line[HOSTLINK_LINE_MAX]; /* an out/err line being built */
};

struct hostlink {
	const struct hostlink_program *table;
	unsigned ntable;
	hostlink_emit_fn emit;
	void *ctx;
	struct waitq wq; /* its lock guards run states; woken when a run ends */
	struct hostlink_run runs[HOSTLINK_MAX_RUNS];
	/* the reader's own */
	char buf[HOSTLINK_LINE_MAX];
	char reply[HOSTLINK_LINE_MAX];
};

_Static_assert(sizeof("out 2147483647 \n") + 3 * HOSTLINK_OUT_CHUNK <= HOSTLINK_LINE_MAX,
	       "an escaped output chunk fits one line");

/* ---- replies ------------------------------------------------------------ */

/* Sends "fail ID ERRNO TEXT" (TEXT escaped into one word). */
static void reply_fail(struct hostlink *hl, uint32_t id, int err, const char *text)
{
	char esc[256];
	int n;

	if (hostlink_escape(text, strlen(text), esc, sizeof(esc)) < 0)
		strlcpy(esc, "refused", sizeof(esc));
	n = snprintf(hl->reply, sizeof(hl->reply), "fail %u %d %s\n", id, err, esc);
	hl->emit(hl->ctx, hl->reply, (size_t)n);
}

/* ---- runs ------------------------------------------------------------------- */

/* Sends the buffered output of run as one out/err line. */
static void run_flush(struct hostlink_run *run)
{
	int head, n;
	long esc;

	if (!run->out_len)
		return;
	head = snprintf(run->line, sizeof(run->line), "%s %u ",
			run->out_fd == 2 ? "err" : "out", run->id);
	esc = hostlink_escape(run->out, run->out_len, run->line + head,
			      sizeof(run->line) - (size_t)head - 1);
	run->out_len = 0;
	if (esc < 0)
		return; /* cannot happen: the chunk size is chosen to fit */
	n = head + (int)esc;
	run->line[n++] = '\n';
	run->hl->emit(run->hl->ctx, run->line, (size_t)n);
}

void hostlink_write(struct hostlink_run *run, int fd, const char *buf, size_t len)
{
	fd = fd == 2 ? 2 : 1;
	if (run->out_len && run->out_fd != fd)
		run_flush(run);
	run->out_fd = fd;
	while (len) {
		size_t room = sizeof(run->out) - run->out_len;
		size_t take = len < room ? len : room;
		const char *nl = memchr(buf, '\n', take);

		if (nl)
			take = (size_t)(nl - buf) + 1;
		memcpy(run->out + run->out_len, buf, take);
		run->out_len += take;
		buf += take;
		len -= take;
		if (nl || run->out_len == sizeof(run->out))
			run_flush(run);
	}
}

static void run_vprintf(struct hostlink_run *run, int fd, const char *fmt, va_list ap)
{
	char tmp[1024];
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);

	if (n < 0)
		return;
	hostlink_write(run, fd, tmp,
		       (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void hostlink_printf(struct hostlink_run *run, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	run_vprintf(run, 1, fmt, ap);
	va_end(ap);
}

void hostlink_eprintf(struct hostlink_run *run, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	run_vprintf(run, 2, fmt, ap);
	va_end(ap);
}

const struct hostlink_program *hostlink_run_table(const struct hostlink_run *run,
						  unsigned *n)
{
	*n = run->hl->ntable;
	return run->hl->table;
}

/* Sends "exit ID STATUS" after the program's last output. */
static void run_exit(struct hostlink_run *run, int status)
{
	int n;

	run_flush(run);
	if (status < 0 || status > 255)
		status = 255;
	n = snprintf(run->line, sizeof(run->line), "exit %u %d\n", run->id, status);
	run->hl->emit(run->hl->ctx, run->line, (size_t)n);
}

static void run_main(void *arg)
{
	struct hostlink_run *run = arg;
	struct hostlink *hl = run->hl;

	run_exit(run, run->prog->fn(run, run->argc, run->argv));
	spin_lock(&hl->wq.lock);
	run->state = RUN_DONE; /* the slot's last touch by this thread */
	waitq_wake_all_locked(&hl->wq);
	spin_unlock(&hl->wq.lock);
}

/* Joins finished runs and frees their slots (the reader only). */
static void reclaim(struct hostlink *hl)
{
	for (unsigned i = 0; i < HOSTLINK_MAX_RUNS; i++) {
		struct hostlink_run *run = &hl->runs[i];
		bool done;

		spin_lock(&hl->wq.lock);
		done = run->state == RUN_DONE;
		spin_unlock(&hl->wq.lock);
		if (!done)
			continue;
		thread_join(run->thread);
		spin_lock(&hl->wq.lock);
		run->thread = NULL;
		run->state = RUN_FREE;
		spin_unlock(&hl->wq.lock);
	}
}

/* ---- decoding --------------------------------------------------------------- */

/* A request id: decimal digits, no sign or leading zero, 1..2^31-1. */
static bool parse_id(const char *w, uint32_t *id)
{
	uint64_t v = 0;

	if (w[0] < '1' || w[0] > '9')
		return false;
	for (size_t i = 0; w[i]; i++) {
		if (w[i] < '0' || w[i] > '9' || i >= 10)
			return false;
		v = v * 10 + (uint64_t)(w[i] - '0');
	}
	if (v > HOSTLINK_ID_MAX)
		return false;
	*id = (uint32_t)v;
	return true;
}

/* The id of a line too long to take: its second word, if that is one. */
static uint32_t guess_id(const char *line, size_t len)
{
	char w[12];
	size_t i = 0, n = 0;
	uint32_t id;

	while (i < len && line[i] != ' ')
		i++;
	for (i++; i < len && line[i] != ' ' && n < sizeof(w) - 1; i++)
		w[n++] = line[i];
	w[n] = '\0';
	if ((i < len && line[i] != ' ') || !parse_id(w, &id))
		return 0;
	return id;
}

struct words {
	unsigned n; /* words seen (may exceed MAX_WORDS) */
	char *w[MAX_WORDS];
	bool empty_word; /* two spaces in a row, or a space at either end */
	bool bad_byte;	 /* a byte outside '!'..'~' (other than the separators) */
};

/* Splits s (NUL-terminated, modified) at single spaces. */
static void split(char *s, struct words *ws)
{
	char *start = s;

	memset(ws, 0, sizeof(*ws));
	if (!*s)
		return;
	for (;; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == ' ' || c == '\0') {
			if (s == start)
				ws->empty_word = true;
			if (ws->n < MAX_WORDS)
				ws->w[ws->n] = start;
			ws->n++;
			if (c == '\0')
				return;
			*s = '\0';
			start = s + 1;
		} else if (c < '!' || c > '~') {
			ws->bad_byte = true;
		}
	}
}

/* The table entry named name; else, for a name with a '/', the table's
 * path entry (name NULL) if it has one; else NULL. */
static const struct hostlink_program *find_program(struct hostlink *hl, const char *name)
{
	const struct hostlink_program *path_prog = NULL;

	for (unsigned i = 0; i < hl->ntable; i++) {
		if (!hl->table[i].name)
			path_prog = &hl->table[i];
		else if (strcmp(hl->table[i].name, name) == 0)
			return &hl->table[i];
	}
	return strchr(name, '/') ? path_prog : NULL;
}

/* True if the table runs user programs by path (an entry named NULL). */
static bool hl_has_paths(const struct hostlink *hl)
{
	for (unsigned i = 0; i < hl->ntable; i++)
		if (!hl->table[i].name)
			return true;
	return false;
}

/* Answers `run` of a program that does not exist: err line, exit 127. */
static void not_found(struct hostlink *hl, uint32_t id, const char *name)
{
	char msg[160], esc[3 * sizeof(msg)];
	int n;

	n = snprintf(msg, sizeof(msg),
		     hl_has_paths(hl) ? "%s: not found (builtins: try help; user programs: "
					"give a path, e.g. /bin/prog)\n"
				      : "%s: not found (builtins only here; try help)\n",
		     name);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = (int)sizeof(msg) - 1;
	if (hostlink_escape(msg, (size_t)n, esc, sizeof(esc)) < 0)
		strlcpy(esc, "not%20found%0A", sizeof(esc));
	n = snprintf(hl->reply, sizeof(hl->reply), "err %u %s\n", id, esc);
	hl->emit(hl->ctx, hl->reply, (size_t)n);
	n = snprintf(hl->reply, sizeof(hl->reply), "exit %u 127\n", id);
	hl->emit(hl->ctx, hl->reply, (size_t)n);
}

/*
 * Checks the arguments of `run ID ARG...` (words 2..) and decodes them in
 * place. Returns 0, or the errno to refuse with (text in *why).
 */
static int decode_run(struct words *ws, const char **why)
{
	if (ws->n < 3) {
		*why = "run needs a program name";
		return EINVAL;
	}
	if (ws->n - 2 > HOSTLINK_MAX_ARGS) {
		*why = "too many arguments (at most 32 words after the id)";
		return E2BIG;
	}
	for (unsigned i = 2; i < ws->n; i++) {
		long len = hostlink_unescape(ws->w[i]);

		if (len < 0) {
			*why = "bad escape in an argument";
			return EINVAL;
		}
		if ((size_t)len != strlen(ws->w[i])) {
			*why = "NUL byte in an argument";
			return EINVAL;
		}
	}
	return 0;
}

/* Takes a free slot for id; 0, or EEXIST (id running), EBUSY (all taken). */
static int claim_slot(struct hostlink *hl, uint32_t id, struct hostlink_run **out)
{
	struct hostlink_run *free_run = NULL;
	int err = 0;

	spin_lock(&hl->wq.lock);
	for (unsigned i = 0; i < HOSTLINK_MAX_RUNS; i++) {
		struct hostlink_run *run = &hl->runs[i];

		if (run->state == RUN_ACTIVE && run->id == id)
			err = EEXIST;
		else if (run->state == RUN_FREE && !free_run)
			free_run = run;
	}
	if (!err && !free_run)
		err = EBUSY;
	if (!err) {
		free_run->state = RUN_ACTIVE;
		free_run->id = id;
		*out = free_run;
	}
	spin_unlock(&hl->wq.lock);
	return err;
}

/* Starts prog with the decoded words 2.. of ws in a slot of its own. */
static void start_run(struct hostlink *hl, uint32_t id,
		      const struct hostlink_program *prog, const struct words *ws)
{
	struct hostlink_run *run;
	size_t used = 0;
	int err;

	reclaim(hl);
	err = claim_slot(hl, id, &run);
	if (err) {
		reply_fail(hl, id, err,
			   err == EEXIST ? "request id already running"
					 : "too many programs running (at most 4)");
		return;
	}
	run->prog = prog;
	run->argc = (int)(ws->n - 2);
	for (unsigned i = 2; i < ws->n; i++) {
		size_t len = strlen(ws->w[i]) + 1; /* fits: they came from one line */

		memcpy(run->args + used, ws->w[i], len);
		run->argv[i - 2] = run->args + used;
		used += len;
	}
	run->argv[run->argc] = NULL;
	run->out_len = 0;
	run->out_fd = 1;
	run->thread = thread_create(prog->name ? prog->name : "user-run", run_main, run,
				    false);
	if (!run->thread) {
		spin_lock(&hl->wq.lock);
		run->state = RUN_FREE;
		spin_unlock(&hl->wq.lock);
		reply_fail(hl, id, ENOMEM, "out of memory");
	}
}

void hostlink_line(struct hostlink *hl, const char *line, size_t len)
{
	const struct hostlink_program *prog;
	const char *why = "";
	struct words ws;
	uint32_t id = 0;
	int err;

	if (len >= HOSTLINK_LINE_MAX) { /* with its '\n' it exceeds the limit */
		reply_fail(hl, guess_id(line, len), EINVAL, "line too long");
		return;
	}
	if (len && line[len - 1] == '\r')
		len--;
	memcpy(hl->buf, line, len);
	hl->buf[len] = '\0';
	if (memchr(hl->buf, '\0', len)) {
		reply_fail(hl, 0, EINVAL, "NUL byte in the line");
		return;
	}
	split(hl->buf, &ws);
	if (ws.n == 0) {
		reply_fail(hl, 0, EINVAL, "empty line");
		return;
	}
	if (ws.n < 2 || !parse_id(ws.w[1], &id)) {
		reply_fail(hl, 0, EINVAL, "bad or missing request id (1..2147483647)");
		return;
	}
	if (ws.empty_word || ws.bad_byte) {
		reply_fail(hl, id, EINVAL,
			   ws.empty_word
				   ? "empty word (words are separated by one space)"
				   : "byte outside ! to ~ in a word (escape it as %XX)");
		return;
	}
	if (strcmp(ws.w[0], "ping") == 0) {
		if (ws.n != 2) {
			reply_fail(hl, id, EINVAL, "ping takes no arguments");
			return;
		}
		len = (size_t)snprintf(hl->reply, sizeof(hl->reply), "pong %u\n", id);
		hl->emit(hl->ctx, hl->reply, len);
		return;
	}
	if (strcmp(ws.w[0], "run") != 0) {
		reply_fail(hl, id, EINVAL, "unknown message type (run, ping)");
		return;
	}
	err = decode_run(&ws, &why);
	if (err) {
		reply_fail(hl, id, err, why);
		return;
	}
	/* decoded and checked: act */
	prog = find_program(hl, ws.w[2]);
	if (!prog)
		not_found(hl, id, ws.w[2]);
	else
		start_run(hl, id, prog, &ws);
}

/* ---- life cycle --------------------------------------------------------------- */

struct hostlink *hostlink_create(const struct hostlink_program *table, unsigned n,
				 hostlink_emit_fn emit, void *ctx)
{
	struct hostlink *hl = kzalloc(sizeof(*hl));

	if (!hl)
		return NULL;
	hl->table = table;
	hl->ntable = n;
	hl->emit = emit;
	hl->ctx = ctx;
	waitq_init(&hl->wq, "hostlink");
	for (unsigned i = 0; i < HOSTLINK_MAX_RUNS; i++)
		hl->runs[i].hl = hl;
	return hl;
}

static bool any_active(struct hostlink *hl)
{
	for (unsigned i = 0; i < HOSTLINK_MAX_RUNS; i++)
		if (hl->runs[i].state == RUN_ACTIVE)
			return true;
	return false;
}

bool hostlink_idle(struct hostlink *hl, uint64_t timeout_ns)
{
	uint64_t deadline = clock_ns() + timeout_ns;
	bool busy;

	spin_lock(&hl->wq.lock);
	while ((busy = any_active(hl)) && clock_ns() < deadline)
		waitq_wait_locked(&hl->wq, deadline);
	spin_unlock(&hl->wq.lock);
	reclaim(hl);
	return !busy;
}

void hostlink_destroy(struct hostlink *hl)
{
	while (!hostlink_idle(hl, NS_PER_S))
		;
	kfree(hl);
}

/* ---- COM2 ------------------------------------------------------------------- */

static struct waitq rx_wq;		  /* the reader sleeps here for bytes */
static struct waitq tx_wq;		  /* its lock guards tx_busy */
static bool tx_busy;			  /* a thread is writing a line */
static char uart_line[HOSTLINK_LINE_MAX]; /* the reader's line being assembled */

/* Interrupt context: bytes arrived. */
static void uart_rx_wake(void *arg)
{
	spin_lock(&rx_wq.lock);
	waitq_wake_all_locked(&rx_wq);
	spin_unlock(&rx_wq.lock);
}

/* One line to COM2, whole: a sleeping lock, as writing may wait. */
static void uart_emit(void *ctx, const char *line, size_t len)
{
	spin_lock(&tx_wq.lock);
	while (tx_busy)
		waitq_wait_locked(&tx_wq, 0);
	tx_busy = true;
	spin_unlock(&tx_wq.lock);
	serial2_write(line, len);
	spin_lock(&tx_wq.lock);
	tx_busy = false;
	waitq_wake_one_locked(&tx_wq);
	spin_unlock(&tx_wq.lock);
}

static void uart_reader(void *arg)
{
	struct hostlink *hl = arg;
	size_t len = 0;	      /* bytes of the current line (saturates) */
	bool spoiled = false; /* the current line lost bytes */
	char chunk[256];

	for (;;) {
		size_t n;
		bool lost;

		spin_lock(&rx_wq.lock);
		while (!serial2_rx_pending())
			waitq_wait_locked(&rx_wq, 0);
		spin_unlock(&rx_wq.lock);
		n = serial2_read(chunk, sizeof(chunk), &lost);
		if (lost)
			spoiled = true;
		for (size_t i = 0; i < n; i++) {
			if (chunk[i] != '\n') {
				if (len < sizeof(uart_line))
					uart_line[len++] = chunk[i];
				continue;
			}
			if (spoiled)
				reply_fail(hl, 0, EIO, "input lost (receive overrun)");
			else
				hostlink_line(hl, uart_line, len);
			len = 0;
			spoiled = false;
		}
	}
}

int hostlink_start(const struct hostlink_program *table, unsigned n)
{
	struct hostlink *hl;
	int err;

	if (!serial2_probe())
		return -ENODEV;
	waitq_init(&rx_wq, "hostlink-rx");
	waitq_init(&tx_wq, "hostlink-tx");
	hl = hostlink_create(table, n, uart_emit, NULL);
	if (!hl)
		return -ENOMEM;
	if (!thread_create("hostlink", uart_reader, hl, true)) {
		hostlink_destroy(hl);
		return -ENOMEM;
	}
	err = serial2_enable_rx(uart_rx_wake, NULL);
	if (err)
		pr_err("hostlink: receive interrupt unavailable (%s)", errno_name(err));
	return err;
}
