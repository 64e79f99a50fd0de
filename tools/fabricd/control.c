/*
 * fabricd's control protocol (see control.h and docs/fabric.md): parses a
 * command line into words, checks every word (node names, fractions,
 * times), and only then changes the fabric. Node arguments are an id, a
 * name, or '*' for every node; per-link commands act on the directed links
 * A -> B (partition and heal on both directions).
 *
 * `stats` also shows what each guest reports about itself in the status
 * page of its window (struct fab_node_status). That page is hostile input
 * like the rest of the window: it is copied out first (seqlock, a few
 * tries, else "torn"), and every field is checked or neutralised before it
 * reaches the JSON: unknown states become "invalid", unknown roles "?",
 * the note keeps only printable ASCII up to its first NUL within its size,
 * with '"' and '\\' escaped.
 */
#include "control.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 8
#define WORD_MAX  64
#define MAX_US	  1e9 /* 1000 s: larger delays and latencies are typos */

/* --- text buffer ---------------------------------------------------------- */

static bool buf_reserve(struct fab_buf *b, size_t extra)
{
	size_t cap = b->cap ? b->cap : 256;
	char *p;

	if (b->len + extra + 1 <= b->cap)
		return true;
	while (cap < b->len + extra + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void fab_buf_printf(struct fab_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void fab_buf_consume(struct fab_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

void fab_buf_free(struct fab_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* --- words -------------------------------------------------------------- */

struct words {
	unsigned n;
	char w[MAX_WORDS][WORD_MAX];
};

/* Splits line at blanks; false if it has too many or too long words. */
static bool split(const char *line, struct words *ws)
{
	ws->n = 0;
	for (;;) {
		size_t len;

		line += strspn(line, " \t\r");
		if (!*line)
			return true;
		len = strcspn(line, " \t\r");
		if (ws->n == MAX_WORDS || len >= WORD_MAX)
			return false;
		memcpy(ws->w[ws->n], line, len);
		ws->w[ws->n][len] = '\0';
		ws->n++;
		line += len;
	}
}

/* A node argument: an id, a name or '*'. */
struct node_arg {
	bool any;
	uint16_t id;
};

static bool parse_node(const struct fab_fabric *f, const char *s, struct node_arg *a)
{
	a->any = strcmp(s, "*") == 0;
	a->id = a->any ? 0 : fab_node_lookup(f, s);
	return a->any || a->id != 0;
}

static bool node_matches(const struct fab_fabric *f, const struct node_arg *a,
			 unsigned id)
{
	return f->port[id].present && (a->any || a->id == id);
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !isfinite(v) || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool parse_us(const char *s, uint64_t *ns)
{
	double us;

	if (!parse_double(s, 0, MAX_US, &us))
		return false;
	*ns = (uint64_t)(us * 1000.0 + 0.5);
	return true;
}

/* --- commands ----------------------------------------------------------- */

/* What a per-link command sets; filled by the parser, applied by apply(). */
struct link_change {
	enum { CH_DROP, CH_DELAY, CH_DUP, CH_PARTITION, CH_HEAL, CH_WIRE } kind;
	double frac;
	uint64_t ns;
	bool set_latency, set_bandwidth;
	struct fab_wire wire;
};

static void apply_one(struct fab_link *l, const struct link_change *c)
{
	switch (c->kind) {
	case CH_DROP:
		l->drop = c->frac;
		break;
	case CH_DELAY:
		l->delay_ns = c->ns;
		l->delay_frac = c->frac;
		break;
	case CH_DUP:
		l->dup = c->frac;
		break;
	case CH_PARTITION:
		l->partitioned = true;
		break;
	case CH_HEAL:
		l->partitioned = false;
		break;
	case CH_WIRE:
		if (c->set_latency)
			l->wire.latency_ns = c->wire.latency_ns;
		if (c->set_bandwidth)
			l->wire.bandwidth_gbps = c->wire.bandwidth_gbps;
		break;
	}
}

/* Applies c to every link a -> b (and b -> a if both_ways); returns how many. */
static unsigned apply(struct fab_fabric *f, const struct node_arg *a,
		      const struct node_arg *b, const struct link_change *c,
		      bool both_ways)
{
	unsigned n = 0;

	for (unsigned i = 1; i < FAB_MAX_NODES; i++) {
		for (unsigned j = 1; j < FAB_MAX_NODES; j++) {
			bool fwd = node_matches(f, a, i) && node_matches(f, b, j);
			bool rev = both_ways && node_matches(f, a, j) &&
				   node_matches(f, b, i);

			if (fwd || rev) {
				apply_one(&f->link[i][j], c);
				n++;
			}
		}
	}
	return n;
}

static enum fab_control_result error(struct fab_buf *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends "error: <fmt...>\n" to out. */
static enum fab_control_result error(struct fab_buf *out, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fab_buf_printf(out, "error: %s\n", msg);
	return FAB_CONTROL_ERROR;
}

/* Parses the key=value words of `link` from word 3 on. */
static bool parse_wire(const struct words *ws, struct link_change *c, const char **bad)
{
	for (unsigned i = 3; i < ws->n; i++) {
		const char *w = ws->w[i];
		double v;

		*bad = w;
		if (strncmp(w, "latency_us=", 11) == 0 &&
		    parse_double(w + 11, 0, MAX_US, &v)) {
			c->set_latency = true;
			c->wire.latency_ns = (uint64_t)(v * 1000.0 + 0.5);
		} else if (strncmp(w, "bandwidth_gbps=", 15) == 0 &&
			   parse_double(w + 15, 0, FAB_MAX_GBPS, &v) &&
			   (v == 0 || v >= FAB_MIN_GBPS)) {
			c->set_bandwidth = true;
			c->wire.bandwidth_gbps = v;
		} else {
			return false;
		}
	}
	return c->set_latency || c->set_bandwidth;
}

/* Parses the arguments after A B of a per-link command into c. */
static enum fab_control_result parse_link_args(const struct words *ws,
					       struct link_change *c, struct fab_buf *out)
{
	const char *cmd = ws->w[0], *bad = "";

	if (strcmp(cmd, "drop") == 0 || strcmp(cmd, "duplicate") == 0) {
		c->kind = cmd[0] == 'd' && cmd[1] == 'r' ? CH_DROP : CH_DUP;
		if (ws->n != 4)
			return error(out, "usage: %s A B FRACTION", cmd);
		if (!parse_double(ws->w[3], 0, 1, &c->frac))
			return error(out, "bad fraction '%s' (0 to 1)", ws->w[3]);
	} else if (strcmp(cmd, "delay") == 0) {
		c->kind = CH_DELAY;
		c->frac = 1;
		if (ws->n != 4 && ws->n != 5)
			return error(out, "usage: %s A B MICROSECONDS [FRACTION]", cmd);
		if (!parse_us(ws->w[3], &c->ns))
			return error(out, "bad microseconds '%s'", ws->w[3]);
		if (ws->n == 5 && !parse_double(ws->w[4], 0, 1, &c->frac))
			return error(out, "bad fraction '%s' (0 to 1)", ws->w[4]);
	} else if (strcmp(cmd, "partition") == 0 || strcmp(cmd, "heal") == 0) {
		c->kind = cmd[0] == 'p' ? CH_PARTITION : CH_HEAL;
		if (ws->n != 3)
			return error(out, "usage: %s A B", cmd);
	} else {
		c->kind = CH_WIRE;
		if (ws->n < 4 || !parse_wire(ws, c, &bad))
			return error(out,
				     "usage: link A B [latency_us=N] [bandwidth_gbps=N] "
				     "(bad word '%s')",
				     bad);
	}
	return FAB_CONTROL_OK;
}

static enum fab_control_result cmd_link(struct fab_fabric *f, const struct words *ws,
					struct fab_buf *out)
{
	struct link_change c;
	struct node_arg a, b;
	enum fab_control_result r;
	unsigned n;

	memset(&c, 0, sizeof(c));
	if (ws->n < 3)
		return error(out, "usage: %s A B ...", ws->w[0]);
	if (!parse_node(f, ws->w[1], &a))
		return error(out, "unknown node '%s'", ws->w[1]);
	if (!parse_node(f, ws->w[2], &b))
		return error(out, "unknown node '%s'", ws->w[2]);
	r = parse_link_args(ws, &c, out);
	if (r != FAB_CONTROL_OK)
		return r;
	n = apply(f, &a, &b, &c, c.kind == CH_PARTITION || c.kind == CH_HEAL);
	fab_buf_printf(out, "ok %u link%s\n", n, n == 1 ? "" : "s");
	return FAB_CONTROL_OK;
}

static enum fab_control_result cmd_fail(struct fab_fabric *f, const struct words *ws,
					struct fab_buf *out, bool failed)
{
	struct node_arg a;
	unsigned n = 0;

	if (ws->n != 2)
		return error(out, "usage: %s NODE", ws->w[0]);
	if (!parse_node(f, ws->w[1], &a))
		return error(out, "unknown node '%s'", ws->w[1]);
	for (unsigned i = 1; i < FAB_MAX_NODES; i++) {
		if (node_matches(f, &a, i)) {
			f->port[i].failed = failed;
			n++;
		}
	}
	fab_buf_printf(out, "ok %u node%s\n", n, n == 1 ? "" : "s");
	return FAB_CONTROL_OK;
}

static const char help_text[] =
	"ok commands: drop A B FRACTION | delay A B MICROSECONDS [FRACTION] | "
	"duplicate A B FRACTION | partition A B | heal A B | fail NODE | recover NODE | "
	"link A B [latency_us=N] [bandwidth_gbps=N] | stats | reset-faults | help | quit "
	"(A, B, NODE: id, name or *; links are directed A->B)\n";

static bool is_link_command(const char *cmd)
{
	static const char *const names[] = {"drop",	 "delay", "duplicate",
					    "partition", "heal",  "link"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(cmd, names[i]) == 0)
			return true;
	return false;
}

enum fab_control_result fab_control(struct fab_fabric *f, const char *line,
				    struct fab_buf *out)
{
	struct words ws;
	const char *cmd;

	if (!split(line, &ws))
		return error(out, "%s", "too many or too long words");
	if (ws.n == 0)
		return error(out, "%s", "empty command (try help)");
	cmd = ws.w[0];
	if (is_link_command(cmd))
		return cmd_link(f, &ws, out);
	if (strcmp(cmd, "fail") == 0 || strcmp(cmd, "recover") == 0)
		return cmd_fail(f, &ws, out, cmd[0] == 'f');
	if (ws.n != 1)
		return error(out, "'%s' takes no arguments", cmd);
	if (strcmp(cmd, "stats") == 0) {
		fab_buf_printf(out, "ok ");
		fab_stats_json(f, out);
		fab_buf_printf(out, "\n");
		return FAB_CONTROL_OK;
	}
	if (strcmp(cmd, "reset-faults") == 0) {
		fab_reset_faults(f);
		fab_buf_printf(out, "ok faults cleared\n");
		return FAB_CONTROL_OK;
	}
	if (strcmp(cmd, "help") == 0) {
		fab_buf_printf(out, "%s", help_text);
		return FAB_CONTROL_OK;
	}
	if (strcmp(cmd, "quit") == 0) {
		fab_buf_printf(out, "ok bye\n");
		return FAB_CONTROL_QUIT;
	}
	return error(out, "unknown command '%s' (try help)", cmd);
}

/* --- node status pages ------------------------------------------------------ */

enum fab_status_read fab_status_read(const struct fab_node *n,
				     struct fab_node_status *out)
{
	const volatile struct fab_node_status *st;

	memset(out, 0, sizeof(*out));
	if (!n->attached || !n->win || n->size < FAB_STATUS_OFFSET + sizeof(*out))
		return FAB_STATUS_NONE;
	st = (const volatile struct fab_node_status *)(n->win + FAB_STATUS_OFFSET);
	for (unsigned t = 0; t < FAB_STATUS_TRIES; t++) {
		uint32_t before = __atomic_load_n(&st->seq, __ATOMIC_ACQUIRE), after;

		fab_snapshot(out, st, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		after = __atomic_load_n(&st->seq, __ATOMIC_RELAXED);
		if (!(before & 1) && before == after && out->seq == before)
			return out->magic == FAB_STATUS_MAGIC ? FAB_STATUS_OK
							      : FAB_STATUS_NONE;
	}
	return out->magic == FAB_STATUS_MAGIC ? FAB_STATUS_TORN : FAB_STATUS_NONE;
}

void fab_status_sample(struct fab_fabric *f, uint64_t now_ns)
{
	f->status_now_ns = now_ns;
	for (unsigned i = 1; i < FAB_MAX_NODES; i++) {
		struct fab_port *p = &f->port[i];
		struct fab_node_status st;

		if (!p->present || !p->node.attached ||
		    fab_status_read(&p->node, &st) != FAB_STATUS_OK)
			continue;
		if (!p->hb_known || st.heartbeat != p->hb_last) {
			p->hb_known = true;
			p->hb_last = st.heartbeat;
			p->hb_changed_ns = now_ns;
		}
	}
}

/* The note as a JSON string body: printable ASCII up to the first NUL
 * within the field, '"' and '\\' escaped; everything else dropped. */
static void note_json(const char *note, size_t size, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < size && note[i]; i++) {
		unsigned char c = (unsigned char)note[i];

		if (c < 0x20 || c > 0x7e)
			continue;
		if (c == '"' || c == '\\')
			out[o++] = '\\';
		out[o++] = (char)c;
	}
	out[o] = '\0';
}

void fab_status_json(const struct fab_port *p, uint64_t now_ns, struct fab_buf *out)
{
	struct fab_node_status st;
	enum fab_status_read r = fab_status_read(&p->node, &st);
	char note[2 * sizeof(st.note) + 1];
	const char *state;
	uint64_t age_ms = 0;
	char role[2] = "?";

	if (r == FAB_STATUS_NONE) {
		fab_buf_printf(out, "null");
		return;
	}
	if (r == FAB_STATUS_TORN)
		state = "torn";
	else if (st.state > FAB_NODE_HALTED)
		state = "invalid";
	else
		state = fab_node_state_name(st.state);
	if (st.role == 'p' || st.role == 'm' || st.role == 's' || st.role == 'g')
		role[0] = st.role;
	if (p->hb_known && st.heartbeat == p->hb_last && now_ns >= p->hb_changed_ns)
		age_ms = (now_ns - p->hb_changed_ns) / 1000000u;
	note_json(st.note, sizeof(st.note), note);
	fab_buf_printf(
		out,
		"{\"state\":\"%s\",\"heartbeat\":%u,\"heartbeat_age_ms\":%llu,"
		"\"role\":\"%s\",\"cpus\":%u,\"uptime_ms\":%llu,\"mem_total_kib\":%llu,"
		"\"mem_free_kib\":%llu,\"rpc_calls\":%llu,\"rpc_served\":%llu,"
		"\"rpc_timeouts\":%llu,\"note\":\"%s\"}",
		state, st.heartbeat, (unsigned long long)age_ms, role, st.cpus,
		(unsigned long long)st.uptime_ms, (unsigned long long)st.mem_total_kib,
		(unsigned long long)st.mem_free_kib, (unsigned long long)st.rpc_calls,
		(unsigned long long)st.rpc_served, (unsigned long long)st.rpc_timeouts,
		note);
}

/* --- stats ---------------------------------------------------------------- */

static void node_json(const struct fab_port *p, uint64_t now_ns, struct fab_buf *out)
{
	const struct fab_node *n = &p->node;

	fab_buf_printf(out,
		       "{\"id\":%u,\"name\":\"%s\",\"connected\":%s,\"failed\":%s,"
		       "\"generation\":%u,\"window_size\":%llu,\"ops\":%llu,"
		       "\"bytes\":%llu,\"errors\":%llu,\"status\":",
		       n->id, p->name, n->attached ? "true" : "false",
		       p->failed ? "true" : "false", n->generation,
		       (unsigned long long)n->size, (unsigned long long)n->ops,
		       (unsigned long long)n->bytes, (unsigned long long)n->errors);
	fab_status_json(p, now_ns, out);
	fab_buf_printf(out, "}");
}

/* A link is listed once it carried something or has a fault or wire set. */
static bool link_listed(const struct fab_link *l)
{
	return l->ops || l->drop > 0 || l->dup > 0 || l->delay_ns || l->partitioned ||
	       l->wire.latency_ns || l->wire.bandwidth_gbps > 0;
}

static void link_json(unsigned a, unsigned b, const struct fab_link *l,
		      struct fab_buf *out)
{
	fab_buf_printf(
		out,
		"{\"src\":%u,\"dst\":%u,\"ops\":%llu,\"bytes\":%llu,\"drops\":%llu,"
		"\"dups\":%llu,\"delayed\":%llu,\"queued\":%u,\"latency_us\":%.3f,"
		"\"bandwidth_gbps\":%.6g,\"drop\":%.6g,\"duplicate\":%.6g,"
		"\"delay_us\":%.3f,\"delay_fraction\":%.6g,\"partitioned\":%s}",
		a, b, (unsigned long long)l->ops, (unsigned long long)l->bytes,
		(unsigned long long)l->drops, (unsigned long long)l->dups,
		(unsigned long long)l->delayed, l->queued,
		(double)l->wire.latency_ns / 1000.0, l->wire.bandwidth_gbps, l->drop,
		l->dup, (double)l->delay_ns / 1000.0, l->delay_frac,
		l->partitioned ? "true" : "false");
}

void fab_stats_json(const struct fab_fabric *f, struct fab_buf *out)
{
	bool first = true;

	fab_buf_printf(out, "{\"seed\":%llu,\"nodes\":[", (unsigned long long)f->seed);
	for (unsigned i = 1; i < FAB_MAX_NODES; i++) {
		if (!f->port[i].present)
			continue;
		fab_buf_printf(out, "%s", first ? "" : ",");
		node_json(&f->port[i], f->status_now_ns, out);
		first = false;
	}
	fab_buf_printf(out, "],\"links\":[");
	first = true;
	for (unsigned a = 1; a < FAB_MAX_NODES; a++) {
		for (unsigned b = 1; b < FAB_MAX_NODES; b++) {
			if (!f->port[a].present || !f->port[b].present ||
			    !link_listed(&f->link[a][b]))
				continue;
			fab_buf_printf(out, "%s", first ? "" : ",");
			link_json(a, b, &f->link[a][b], out);
			first = false;
		}
	}
	fab_buf_printf(out, "]}");
}
