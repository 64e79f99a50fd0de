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
 * between stdout and stderr, at hostlink_flush, and before `exit`. The
 * processes of a family (and the console's echo, from the reader) write
 * to one run at once, so the buffer has a sleeping lock of its own
 * (out_busy: emitting may wait). The emit function keeps lines whole; on
 * COM2 it serialises writers with a sleeping lock, since a slow host can
 * make writing wait.
 *
 * Input. `in` bytes go into the run's ring (in_wq.lock), which is as big
 * as the host's credit window, so a host that keeps to the protocol can
 * never overrun it; the reader never waits for the program. Consumers
 * pull (hostlink_in_read) and the credit goes back as `ack` lines from
 * the consumer's thread. The notify function is called by the reader
 * with no lock held; cb_busy counts calls in progress so that
 * unregistering can wait them out.
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
#define MAX_WORDS	(4 + HOSTLINK_MAX_ARGS) /* runt ID ROWS COLS ARG... */

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
	/* output: whoever holds out_busy */
	struct waitq out_wq; /* its lock guards out_busy */
	bool out_busy;
	int out_fd;
	size_t out_len;
	char out[HOSTLINK_OUT_CHUNK];
	char line[HOSTLINK_LINE_MAX]; /* an out/err line being built */
	/* input: under in_wq.lock (set up by the reader before the thread) */
	struct waitq in_wq;	 /* woken when a notify call ends */
	char in[HOSTLINK_IN_WINDOW]; /* a ring */
	size_t in_head, in_len;
	size_t in_unacked;	 /* bytes taken and not yet acknowledged */
	bool in_eof;
	uint64_t in_sigs;	 /* signals not yet taken: bit N-1 */
	bool tty;		 /* started by runt; constant for the run */
	unsigned rows, cols;
	hostlink_notify_fn notify;
	void *notify_ctx;
	unsigned cb_busy;	 /* notify calls in progress */
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

/* The run's output lock (sleeping: emitting may wait). */
static void out_lock(struct hostlink_run *run)
{
	spin_lock(&run->out_wq.lock);
	while (run->out_busy)
		waitq_wait_locked(&run->out_wq, 0);
	run->out_busy = true;
	spin_unlock(&run->out_wq.lock);
}

static void out_unlock(struct hostlink_run *run)
{
	spin_lock(&run->out_wq.lock);
	run->out_busy = false;
	waitq_wake_one_locked(&run->out_wq);
	spin_unlock(&run->out_wq.lock);
}

void hostlink_flush(struct hostlink_run *run)
{
	out_lock(run);
	run_flush(run);
	out_unlock(run);
}

void hostlink_write(struct hostlink_run *run, int fd, const char *buf, size_t len)
{
	out_lock(run);
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
	out_unlock(run);
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

/* ---- input, the program's side ------------------------------------------------ */

void hostlink_run_set_input(struct hostlink_run *run, hostlink_notify_fn notify, void *ctx)
{
	bool waiting;

	spin_lock(&run->in_wq.lock);
	run->notify = notify;
	run->notify_ctx = ctx;
	while (!notify && run->cb_busy)
		waitq_wait_locked(&run->in_wq, 0);
	waiting = run->in_len || run->in_eof || run->in_sigs;
	spin_unlock(&run->in_wq.lock);
	if (notify && (waiting || run->tty))
		notify(ctx); /* what came before registration, and the size */
}

size_t hostlink_in_read(struct hostlink_run *run, char *buf, size_t n, bool *eof)
{
	size_t take, ack = 0;

	spin_lock(&run->in_wq.lock);
	take = n < run->in_len ? n : run->in_len;
	for (size_t i = 0; i < take; i++)
		buf[i] = run->in[(run->in_head + i) % HOSTLINK_IN_WINDOW];
	run->in_head = (run->in_head + take) % HOSTLINK_IN_WINDOW;
	run->in_len -= take;
	run->in_unacked += take;
	if (run->in_unacked &&
	    (run->in_unacked >= HOSTLINK_IN_WINDOW / 4 || run->in_len == 0)) {
		ack = run->in_unacked;
		run->in_unacked = 0;
	}
	*eof = run->in_eof && run->in_len == 0;
	spin_unlock(&run->in_wq.lock);
	if (ack) {
		char line[48];
		int len = snprintf(line, sizeof(line), "ack %u %zu\n", run->id, ack);

		run->hl->emit(run->hl->ctx, line, (size_t)len);
	}
	return take;
}

size_t hostlink_in_avail(struct hostlink_run *run, bool *eof)
{
	size_t n;

	spin_lock(&run->in_wq.lock);
	n = run->in_len;
	*eof = run->in_eof && n == 0;
	spin_unlock(&run->in_wq.lock);
	return n;
}

uint64_t hostlink_in_signals(struct hostlink_run *run)
{
	uint64_t sigs;

	spin_lock(&run->in_wq.lock);
	sigs = run->in_sigs;
	run->in_sigs = 0;
	spin_unlock(&run->in_wq.lock);
	return sigs;
}

bool hostlink_run_terminal(struct hostlink_run *run, unsigned *rows, unsigned *cols)
{
	spin_lock(&run->in_wq.lock);
	*rows = run->rows;
	*cols = run->cols;
	spin_unlock(&run->in_wq.lock);
	return run->tty;
}

/* The reader: calls the run's notify function, if it has one. */
static void in_notify(struct hostlink_run *run)
{
	hostlink_notify_fn fn;
	void *ctx;

	spin_lock(&run->in_wq.lock);
	fn = run->notify;
	ctx = run->notify_ctx;
	if (fn)
		run->cb_busy++;
	spin_unlock(&run->in_wq.lock);
	if (!fn)
		return;
	fn(ctx);
	spin_lock(&run->in_wq.lock);
	run->cb_busy--;
	waitq_wake_all_locked(&run->in_wq);
	spin_unlock(&run->in_wq.lock);
}

/* Sends "exit ID STATUS" after the program's last output. */
static void run_exit(struct hostlink_run *run, int status)
{
	int n;

	out_lock(run);
	run_flush(run);
	if (status < 0 || status > 255)
		status = 255;
	n = snprintf(run->line, sizeof(run->line), "exit %u %d\n", run->id, status);
	run->hl->emit(run->hl->ctx, run->line, (size_t)n);
	out_unlock(run);
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

/* A decimal number 0..max, no sign or leading zero. */
static bool parse_num(const char *w, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (!w[0] || (w[0] == '0' && w[1]))
		return false;
	for (size_t i = 0; w[i]; i++) {
		if (w[i] < '0' || w[i] > '9' || i >= 10)
			return false;
		v = v * 10 + (uint64_t)(w[i] - '0');
	}
	if (v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

/*
 * Checks the program words of `run ID ARG...` / `runt ID R C ARG...`
 * (words first..) and decodes them in place. Returns 0, or the errno to
 * refuse with (text in *why).
 */
static int decode_run(struct words *ws, unsigned first, const char **why)
{
	if (ws->n <= first) {
		*why = "run needs a program name";
		return EINVAL;
	}
	if (ws->n - first > HOSTLINK_MAX_ARGS) {
		*why = "too many arguments (at most 32 words after the id)";
		return E2BIG;
	}
	for (unsigned i = first; i < ws->n; i++) {
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

/* A new run's input: empty; a terminal of rows x cols if tty. The slot
 * is the reader's alone until its thread starts. */
static void run_input_reset(struct hostlink_run *run, bool tty, uint32_t rows,
			    uint32_t cols)
{
	run->in_head = run->in_len = run->in_unacked = 0;
	run->in_eof = false;
	run->in_sigs = 0;
	run->tty = tty;
	run->rows = tty ? rows : 0;
	run->cols = tty ? cols : 0;
	run->notify = NULL;
	run->notify_ctx = NULL;
	run->cb_busy = 0;
}

/* What a `run` or `runt` line asks for, decoded. */
struct run_req {
	uint32_t id;
	const struct hostlink_program *prog;
	unsigned first; /* index of ARG0 in the words */
	bool tty;
	uint32_t rows, cols;
};

/* Starts req's program with the decoded words first.. of ws in a slot
 * of its own. */
static void start_run(struct hostlink *hl, const struct run_req *req, const struct words *ws)
{
	struct hostlink_run *run;
	size_t used = 0;
	int err;

	reclaim(hl);
	err = claim_slot(hl, req->id, &run);
	if (err) {
		reply_fail(hl, req->id, err,
			   err == EEXIST ? "request id already running"
					 : "too many programs running (at most 4)");
		return;
	}
	run->prog = req->prog;
	run->argc = (int)(ws->n - req->first);
	for (unsigned i = req->first; i < ws->n; i++) {
		size_t len = strlen(ws->w[i]) + 1; /* fits: they came from one line */

		memcpy(run->args + used, ws->w[i], len);
		run->argv[i - req->first] = run->args + used;
		used += len;
	}
	run->argv[run->argc] = NULL;
	run->out_len = 0;
	run->out_fd = 1;
	run->out_busy = false;
	run_input_reset(run, req->tty, req->rows, req->cols);
	run->thread = thread_create(req->prog->name ? req->prog->name : "user-run",
				    run_main, run, false);
	if (!run->thread) {
		spin_lock(&hl->wq.lock);
		run->state = RUN_FREE;
		spin_unlock(&hl->wq.lock);
		reply_fail(hl, req->id, ENOMEM, "out of memory");
	}
}

/* Decodes `run ID ARG...` (tty false) or `runt ID ROWS COLS ARG...`,
 * then starts the program. */
static void line_run(struct hostlink *hl, uint32_t id, struct words *ws, bool tty)
{
	struct run_req req = {.id = id, .first = tty ? 4 : 2, .tty = tty};
	const char *why = "";
	int err;

	if (tty && (ws->n < 4 || !parse_num(ws->w[2], 65535, &req.rows) ||
		    !parse_num(ws->w[3], 65535, &req.cols))) {
		reply_fail(hl, id, EINVAL, "runt needs ROWS COLS (0..65535) first");
		return;
	}
	err = decode_run(ws, req.first, &why);
	if (err) {
		reply_fail(hl, id, err, why);
		return;
	}
	/* decoded and checked: act */
	req.prog = find_program(hl, ws->w[req.first]);
	if (!req.prog)
		not_found(hl, id, ws->w[req.first]);
	else
		start_run(hl, &req, ws);
}

/* What an input line (in, eof, sig, winsz) carries, decoded. */
struct in_req {
	enum { IN_DATA, IN_EOF, IN_SIG, IN_WINSZ } kind;
	const char *data; /* IN_DATA */
	size_t len;
	uint32_t a, b; /* IN_SIG: a the signal; IN_WINSZ: a rows, b cols */
};

/* Decodes the words after the id of an input line of type; 0 or the
 * errno to refuse with (text in *why). */
static int decode_input(const char *type, struct words *ws, struct in_req *req,
			const char **why)
{
	long len;

	*why = "wrong number of words";
	if (strcmp(type, "in") == 0) {
		if (ws->n != 3)
			return EINVAL;
		len = hostlink_unescape(ws->w[2]);
		*why = len < 0 ? "bad escape in the data" : "more than 1024 bytes of input";
		if (len < 0 || len > HOSTLINK_IN_CHUNK)
			return EINVAL;
		*req = (struct in_req){.kind = IN_DATA, .data = ws->w[2], .len = (size_t)len};
	} else if (strcmp(type, "eof") == 0) {
		if (ws->n != 2)
			return EINVAL;
		req->kind = IN_EOF;
	} else if (strcmp(type, "sig") == 0) {
		*why = "sig needs a signal number 1..64";
		if (ws->n != 3 || !parse_num(ws->w[2], HOSTLINK_SIG_MAX, &req->a) ||
		    req->a == 0)
			return EINVAL;
		req->kind = IN_SIG;
	} else {
		*why = "winsz needs ROWS COLS (0..65535)";
		if (ws->n != 4 || !parse_num(ws->w[2], 65535, &req->a) ||
		    !parse_num(ws->w[3], 65535, &req->b))
			return EINVAL;
		req->kind = IN_WINSZ;
	}
	return 0;
}

/* The running (not yet ended) run with id, or NULL. The slot stays
 * valid: only the reader (the caller) frees slots. */
static struct hostlink_run *find_active(struct hostlink *hl, uint32_t id)
{
	struct hostlink_run *found = NULL;

	spin_lock(&hl->wq.lock);
	for (unsigned i = 0; i < HOSTLINK_MAX_RUNS && !found; i++)
		if (hl->runs[i].state == RUN_ACTIVE && hl->runs[i].id == id)
			found = &hl->runs[i];
	spin_unlock(&hl->wq.lock);
	return found;
}

/* Applies req to run's input; 0, or the errno to refuse with. */
static int input_apply(struct hostlink_run *run, const struct in_req *req, const char **why)
{
	int err = 0;

	spin_lock(&run->in_wq.lock);
	if (req->kind == IN_DATA || req->kind == IN_EOF) {
		*why = "input after eof";
		if (run->in_eof)
			err = EINVAL;
	}
	if (!err && req->kind == IN_DATA) {
		*why = "input window exceeded (wait for ack)";
		if (run->in_len + req->len > HOSTLINK_IN_WINDOW)
			err = ENOBUFS;
		for (size_t i = 0; !err && i < req->len; i++)
			run->in[(run->in_head + run->in_len + i) % HOSTLINK_IN_WINDOW] =
				req->data[i];
		if (!err)
			run->in_len += req->len;
	} else if (!err && req->kind == IN_EOF) {
		run->in_eof = true;
	} else if (req->kind == IN_SIG) {
		run->in_sigs |= 1ull << (req->a - 1);
	} else if (req->kind == IN_WINSZ && run->tty) {
		run->rows = req->a;
		run->cols = req->b;
	}
	spin_unlock(&run->in_wq.lock);
	return err;
}

/* Decodes an input line for a run, then hands it to the run. */
static void line_input(struct hostlink *hl, uint32_t id, struct words *ws)
{
	struct hostlink_run *run;
	const char *why = "";
	struct in_req req;
	int err = decode_input(ws->w[0], ws, &req, &why);

	if (err) {
		reply_fail(hl, id, err, why);
		return;
	}
	/* decoded and checked: act */
	run = find_active(hl, id);
	if (!run) {
		reply_fail(hl, id, ESRCH, "no such run");
		return;
	}
	err = input_apply(run, &req, &why);
	if (err) {
		reply_fail(hl, id, err, why);
		return;
	}
	if (req.kind != IN_WINSZ || run->tty)
		in_notify(run);
}

static bool is_input_type(const char *type)
{
	return strcmp(type, "in") == 0 || strcmp(type, "eof") == 0 ||
	       strcmp(type, "sig") == 0 || strcmp(type, "winsz") == 0;
}

void hostlink_line(struct hostlink *hl, const char *line, size_t len)
{
	struct words ws;
	uint32_t id = 0;

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
	} else if (strcmp(ws.w[0], "run") == 0 || strcmp(ws.w[0], "runt") == 0) {
		line_run(hl, id, &ws, ws.w[0][3] == 't');
	} else if (is_input_type(ws.w[0])) {
		line_input(hl, id, &ws);
	} else {
		reply_fail(hl, id, EINVAL,
			   "unknown message type (run, runt, in, eof, sig, winsz, ping)");
	}
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
	for (unsigned i = 0; i < HOSTLINK_MAX_RUNS; i++) {
		hl->runs[i].hl = hl;
		waitq_init(&hl->runs[i].out_wq, "hostlink-out");
		waitq_init(&hl->runs[i].in_wq, "hostlink-in");
	}
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
