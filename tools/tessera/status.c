/*
 * `tessera status [--json]`: what every part of a cluster is doing, from
 * RUN/state (does each QEMU still run?) and fabricd's `stats` (connection,
 * injected failure, the status page each kernel publishes, traffic
 * counters, links). Node states: health.c. Links are shown as fabricd
 * lists them: those that carried traffic or have a fault or wire model.
 *
 * --json prints one object (docs/cli.md):
 *   {"cluster", "run_dir", "manifest", "started",
 *    "fabricd": {"state": "running|unresponsive|gone", "pid"},
 *    "nodes": [{"name", "id", "role", "state", "note", "cpus", "ram",
 *               "window", "pid", "qemu": "running|gone", "connected",
 *               "failed", "generation", "ops", "bytes", "errors",
 *               "status": fabricd's status object or null,
 *               "excache": null, or for a processor with an ExCache
 *               {"bytes", "ways", "policy", "lines_valid", "misses",
 *                "fresh_fills", "zero_fills", "evictions", "flushes",
 *                "piggybacks", "prefetches", "prefetch_hits", "redirects",
 *                "drops"}}],
 *    "links": [fabricd's link objects, plus "src_name", "dst_name"]}
 *
 * ExCache figures: a processor's status page note ends in its live line
 * (kernel/status.h, status_set_line_fn): " | ec KIB WAYS POLICY" and the
 * node's counters (pcomponent/excache.h, excache_status_line; a figure
 * of 100000 or more is rounded down to k, M, G, T or P). status shows
 * the note without that line, and the figures in a table of their own
 * (and as "excache" in --json). A line that does not parse is left in
 * the note as it is.
 */
#define _GNU_SOURCE
#include "tessera.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
	"  --json         one JSON object instead of the table (docs/cli.md)\n"
	"  --run-dir DIR  the cluster's run directory (default: $TESSERA_RUN_DIR,\n"
	"                 else run/current)\n"
	"\n"
	"States: starting (QEMU up, fabric not connected), booting, ready,\n"
	"unresponsive (no heartbeat for 5 s), panic, halted, failed (QEMU gone, or\n"
	"failed by `tessera inject fail`), unknown (fabricd gone).\n"
	"Exit status 0 if the state could be read (even with failed nodes), 1 if\n"
	"no cluster is up.\n";

/* What status knows about one cluster. */
struct view {
	struct cluster c;
	bool fabricd_alive, have_stats;
	struct fab_stats stats;
	struct node_health health[MF_MAX_NODES];
	bool qemu_alive[MF_MAX_NODES];
};

static bool rec_alive(const struct run_state *st, const char *name)
{
	const struct proc_rec *p = state_find(st, name);

	return p && proc_alive(p->pid, p->start);
}

static void gather(struct view *v)
{
	int fd;

	v->fabricd_alive = rec_alive(&v->c.st, "fabricd");
	fd = v->fabricd_alive ? fabric_connect(v->c.dir) : -1;
	v->have_stats = fd >= 0 && fabric_stats(fd, &v->stats) == 0;
	if (fd >= 0)
		close(fd);
	for (unsigned i = 0; i < v->c.mf.nnodes; i++) {
		const char *name = v->c.mf.nodes[i].name;

		v->qemu_alive[i] = rec_alive(&v->c.st, name);
		node_health(name, v->qemu_alive[i], v->have_stats ? &v->stats : NULL,
			    &v->health[i]);
	}
}

static const char *fabricd_word(const struct view *v)
{
	return !v->fabricd_alive ? "gone" : v->have_stats ? "running" : "unresponsive";
}

/* The name of fabric node id (from stats), or its number. */
static const char *node_name(const struct view *v, unsigned id, char *buf, size_t cap)
{
	for (unsigned i = 0; i < v->stats.nnodes; i++)
		if (v->stats.nodes[i].id == id)
			return v->stats.nodes[i].name;
	snprintf(buf, cap, "%u", id);
	return buf;
}

/* --- ExCache figures in a processor's note ------------------------------------ */

#define EC_SEP	  " | ec "
#define EC_FIELDS 11 /* pcomponent/excache.h: EXCACHE_STATUS_FIELDS */

static const char *const ec_names[EC_FIELDS] = {
	"lines_valid",	 "misses",    "fresh_fills", "zero_fills",
	"evictions",	 "flushes",   "piggybacks",  "prefetches",
	"prefetch_hits", "redirects", "drops",
};

struct ec_view {
	bool ok;
	uint64_t bytes;
	unsigned ways;
	char policy[16];
	uint64_t v[EC_FIELDS];
};

/* One figure of the line at *s: digits, then k, M, G, T or P (x1000 each). */
static bool ec_number(const char **s, uint64_t *out)
{
	static const char units[] = "kMGTP";
	const char *u;
	char *end;
	unsigned long long n;

	if (**s != ' ')
		return false;
	(*s)++;
	if (**s < '0' || **s > '9')
		return false;
	n = strtoull(*s, &end, 10);
	*s = end;
	u = **s ? strchr(units, **s) : NULL;
	if (u) {
		for (const char *k = units; k <= u; k++)
			n *= 1000;
		(*s)++;
	}
	*out = n;
	return true;
}

/* The figures of note's live line into *e (e->ok); *keep is how much of
 * note comes before it (all of it without a valid line). */
static void ec_parse(const char *note, struct ec_view *e, size_t *keep)
{
	const char *at = strstr(note, EC_SEP), *s;
	uint64_t kib;
	int n = 0;

	memset(e, 0, sizeof(*e));
	*keep = strlen(note);
	if (!at)
		return;
	s = at + strlen(EC_SEP);
	if (sscanf(s, "%llu %u %15[a-z]%n", (unsigned long long *)&kib, &e->ways,
		   e->policy, &n) != 3)
		return;
	s += n;
	for (unsigned i = 0; i < EC_FIELDS; i++)
		if (!ec_number(&s, &e->v[i]))
			return;
	if (*s)
		return;
	e->bytes = kib << 10;
	e->ok = true;
	*keep = (size_t)(at - note);
}

/* The note of node i as shown (without a parsed ExCache line). */
static void shown_note(const struct view *v, unsigned i, char *buf, size_t cap,
		       struct ec_view *e)
{
	size_t keep;

	ec_parse(v->health[i].note, e, &keep);
	snprintf(buf, cap, "%.*s", (int)keep, v->health[i].note);
}

/* The ExCache table's counter columns: heading, width, index in ec_view.v. */
static const struct {
	const char *head;
	int width;
	unsigned field;
} ec_columns[] = {
	{"VALID", 6, 0},    {"MISSES", 8, 1},  {"REDIR", 6, 9},	  {"FRESH", 6, 2},
	{"ZERO", 6, 3},	    {"EVICTED", 8, 4}, {"FLUSHED", 8, 5}, {"PIGGY", 6, 6},
	{"PREFETCH", 8, 7}, {"HITS", 6, 8},    {"DROPS", 6, 10},
};
#define EC_COLUMNS (sizeof(ec_columns) / sizeof(ec_columns[0]))

/* The ExCache table: one row per processor that publishes the line. */
static void print_excache(const struct view *v)
{
	bool header = false;

	for (unsigned i = 0; i < v->c.mf.nnodes; i++) {
		char note[200], size[32];
		struct ec_view e;

		shown_note(v, i, note, sizeof(note), &e);
		if (!e.ok)
			continue;
		if (!header) {
			printf("\n%-10s %6s %4s %-6s", "EXCACHE", "SIZE", "WAYS",
			       "POLICY");
			for (unsigned k = 0; k < EC_COLUMNS; k++)
				printf(" %*s", ec_columns[k].width, ec_columns[k].head);
			printf("\n");
		}
		header = true;
		printf("%-10s %6s %4u %-6s", v->c.mf.nodes[i].name,
		       fmt_size(e.bytes, size, sizeof(size)), e.ways, e.policy);
		for (unsigned k = 0; k < EC_COLUMNS; k++)
			printf(" %*llu", ec_columns[k].width,
			       (unsigned long long)e.v[ec_columns[k].field]);
		printf("\n");
	}
}

static json_t *excache_json(const struct ec_view *e)
{
	json_t *o;

	if (!e->ok)
		return json_null();
	o = json_pack("{s:I, s:I, s:s}", "bytes", (json_int_t)e->bytes, "ways",
		      (json_int_t)e->ways, "policy", e->policy);
	for (unsigned i = 0; o && i < EC_FIELDS; i++)
		json_object_set_new(o, ec_names[i], json_integer((json_int_t)e->v[i]));
	return o ? o : json_null();
}

/* --- table ------------------------------------------------------------------- */

static void print_node(const struct view *v, unsigned i)
{
	const struct mf_node *n = &v->c.mf.nodes[i];
	const struct node_health *h = &v->health[i];
	const struct fab_node_stats *fs = h->fs;
	bool st = fs && fs->has_status && h->state != NS_FAILED;
	char ram[32], fr[32], up[32], by[32], note[200];
	struct ec_view e;

	printf("%-10s %3u %-9s %-12s %4u %6s %7s %7s %8llu %8s %6llu", n->name, n->id,
	       mf_role_name(n->role), h->word, st && fs->cpus ? fs->cpus : n->cpus,
	       fmt_size(n->ram, ram, sizeof(ram)),
	       st ? fmt_human(fs->mem_free_kib << 10, fr, sizeof(fr)) : "-",
	       st ? fmt_duration(fs->uptime_ms, up, sizeof(up)) : "-",
	       fs ? (unsigned long long)fs->ops : 0ULL,
	       fmt_human(fs ? fs->bytes : 0, by, sizeof(by)),
	       fs ? (unsigned long long)fs->errors : 0ULL);
	shown_note(v, i, note, sizeof(note), &e);
	if (note[0])
		printf("  %s", note);
	printf("\n");
}

static double num(json_t *l, const char *key)
{
	return json_number_value(json_object_get(l, key));
}

static bool about(double a, double b)
{
	return fabs(a - b) <= 1e-3 * (fabs(a) + fabs(b) + 1e-3);
}

/* True if link l has its own wire model (not the manifest's). */
static bool own_wire(const struct view *v, json_t *l)
{
	return !about(num(l, "latency_us"), v->c.mf.fabric.latency_us) ||
	       !about(num(l, "bandwidth_gbps"), v->c.mf.fabric.bandwidth_gbps);
}

/* "partitioned, drop 0.1, delay 100us x0.5, ..." of one link into buf;
 * returns true if it has a fault. */
static bool link_faults(const struct view *v, json_t *l, char *buf, size_t cap)
{
	size_t o = 0;
	bool fault;

	buf[0] = '\0';
#define ADD(...)                                                                         \
	do {                                                                             \
		if (o < cap)                                                             \
			o += (size_t)snprintf(buf + o, cap - o, "%s", o ? ", " : "");    \
		if (o < cap)                                                             \
			o += (size_t)snprintf(buf + o, cap - o, __VA_ARGS__);            \
	} while (0)
	if (json_is_true(json_object_get(l, "partitioned")))
		ADD("partitioned");
	if (num(l, "drop") > 0)
		ADD("drop %g", num(l, "drop"));
	if (num(l, "duplicate") > 0)
		ADD("duplicate %g", num(l, "duplicate"));
	if (num(l, "delay_us") > 0)
		ADD("delay %gus x%g", num(l, "delay_us"), num(l, "delay_fraction"));
	fault = o > 0;
	if (own_wire(v, l))
		ADD("wire %gus %g Gb/s", num(l, "latency_us"), num(l, "bandwidth_gbps"));
#undef ADD
	return fault;
}

/* The wire model every link has unless changed, as the manifest says. */
static void print_wire(const struct view *v)
{
	const struct mf_fabric *f = &v->c.mf.fabric;

	printf("\nlinks: ");
	if (f->latency_us > 0)
		printf("latency %g us, ", f->latency_us);
	else
		printf("no added latency, ");
	if (f->bandwidth_gbps > 0)
		printf("%g Gb/s each", f->bandwidth_gbps);
	else
		printf("unlimited bandwidth");
	printf("; below: links with traffic, faults or a wire model of their own\n");
}

static void print_links(const struct view *v)
{
	json_t *links = json_object_get(v->stats.root, "links");
	bool header = false;
	size_t i;
	json_t *l;

	print_wire(v);
	json_array_foreach(links, i, l)
	{
		char a[16], b[16], name[40], by[32], faults[200];
		bool fault = link_faults(v, l, faults, sizeof(faults));

		if (!fault && !faults[0] && num(l, "ops") == 0)
			continue;
		if (!header)
			printf("%-16s %8s %8s %6s %6s %7s %6s  %s\n", "LINK", "OPS",
			       "BYTES", "DROPS", "DUPS", "DELAYED", "QUEUED", "FAULTS");
		header = true;
		snprintf(
			name, sizeof(name), "%s->%s",
			node_name(v,
				  (unsigned)json_integer_value(json_object_get(l, "src")),
				  a, sizeof(a)),
			node_name(v,
				  (unsigned)json_integer_value(json_object_get(l, "dst")),
				  b, sizeof(b)));
		printf("%-16s %8lld %8s %6lld %6lld %7lld %6lld%s%s\n", name,
		       json_integer_value(json_object_get(l, "ops")),
		       fmt_human(
			       (uint64_t)json_integer_value(json_object_get(l, "bytes")),
			       by, sizeof(by)),
		       json_integer_value(json_object_get(l, "drops")),
		       json_integer_value(json_object_get(l, "dups")),
		       json_integer_value(json_object_get(l, "delayed")),
		       json_integer_value(json_object_get(l, "queued")),
		       faults[0] ? "  " : "", faults);
	}
}

static void print_table(const struct view *v)
{
	const struct proc_rec *f = state_find(&v->c.st, "fabricd");

	printf("cluster %s, run directory %s\n\n", v->c.st.cluster, v->c.dir);
	printf("%-10s %3s %-9s %-12s %4s %6s %7s %7s %8s %8s %6s\n", "NODE", "ID", "ROLE",
	       "STATE", "CPUS", "RAM", "FREE", "UPTIME", "OPS", "BYTES", "ERRORS");
	for (unsigned i = 0; i < v->c.mf.nnodes; i++)
		print_node(v, i);
	printf("%-10s %3s %-9s %-12s", "fabricd", "-", "fabric", fabricd_word(v));
	if (f)
		printf(" pid %d", (int)f->pid);
	printf("\n");
	print_excache(v);
	if (v->have_stats)
		print_links(v);
	if (!v->fabricd_alive)
		printf("\nfabricd is gone, and with it the fabric, for good "
		       "(docs/fabric.md);\n"
		       "restart the cluster: tessera down, then tessera up MANIFEST\n");
}

/* --- JSON -------------------------------------------------------------------- */

static json_t *node_json(const struct view *v, unsigned i)
{
	const struct mf_node *n = &v->c.mf.nodes[i];
	const struct node_health *h = &v->health[i];
	const struct fab_node_stats *fs = h->fs;
	const struct proc_rec *p = state_find(&v->c.st, n->name);
	json_t *status = NULL, *o;
	char note[200];
	struct ec_view e;
	size_t k;

	shown_note(v, i, note, sizeof(note), &e);
	json_array_foreach(json_object_get(v->stats.root, "nodes"), k, o)
	{
		if (fs && json_integer_value(json_object_get(o, "id")) == fs->id)
			status = json_object_get(o, "status");
	}
	return json_pack("{s:s, s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:b, s:b, "
			 "s:I, s:I, s:I, s:I, s:O, s:o}",
			 "name", n->name, "id", (json_int_t)n->id, "role",
			 mf_role_name(n->role), "state", h->word, "note", note, "cpus",
			 (json_int_t)n->cpus, "ram", (json_int_t)n->ram, "window",
			 (json_int_t)n->window, "pid", (json_int_t)(p ? p->pid : 0),
			 "qemu", v->qemu_alive[i] ? "running" : "gone", "connected",
			 fs && fs->connected, "failed", fs && fs->failed, "generation",
			 (json_int_t)(fs ? fs->generation : 0), "ops",
			 (json_int_t)(fs ? fs->ops : 0), "bytes",
			 (json_int_t)(fs ? fs->bytes : 0), "errors",
			 (json_int_t)(fs ? fs->errors : 0), "status",
			 status ? status : json_null(), "excache", excache_json(&e));
}

static json_t *links_json(const struct view *v)
{
	json_t *out = json_array(), *l;
	size_t i;

	json_array_foreach(json_object_get(v->stats.root, "links"), i, l)
	{
		json_t *copy = json_deep_copy(l);
		char a[16], b[16];

		json_object_set_new(
			copy, "src_name",
			json_string(node_name(
				v,
				(unsigned)json_integer_value(json_object_get(l, "src")),
				a, sizeof(a))));
		json_object_set_new(
			copy, "dst_name",
			json_string(node_name(
				v,
				(unsigned)json_integer_value(json_object_get(l, "dst")),
				b, sizeof(b))));
		json_array_append_new(out, copy);
	}
	return out;
}

static int print_json(const struct view *v)
{
	const struct proc_rec *f = state_find(&v->c.st, "fabricd");
	json_t *nodes = json_array(), *root;
	int r;

	for (unsigned i = 0; i < v->c.mf.nnodes; i++)
		json_array_append_new(nodes, node_json(v, i));
	root = json_pack("{s:s, s:s, s:s, s:I, s:{s:s, s:I}, s:o, s:o}", "cluster",
			 v->c.st.cluster, "run_dir", v->c.dir, "manifest",
			 v->c.st.manifest, "started", (json_int_t)v->c.st.started,
			 "fabricd", "state", fabricd_word(v), "pid",
			 (json_int_t)(f ? f->pid : 0), "nodes", nodes, "links",
			 links_json(v));
	if (!root) {
		msg("cannot build the JSON output");
		return TS_FAILED;
	}
	r = json_dumpf(root, stdout, JSON_COMPACT) < 0 ? TS_FAILED : TS_OK;
	printf("\n");
	json_decref(root);
	return r;
}

int verb_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"run-dir", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *opt_dir = NULL;
	bool json = false;
	struct view *v;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h')
			return verb_help("status", help);
		if (c == 'j')
			json = true;
		else if (c == 'r')
			opt_dir = optarg;
		else
			return bad_option("status", argv);
	}
	if (optind != argc)
		return usage_error("status", "unexpected argument '%s'", argv[optind]);
	v = calloc(1, sizeof(*v));
	if (!v) {
		msg("out of memory");
		return TS_FAILED;
	}
	r = TS_FAILED;
	if (cluster_open(opt_dir, &v->c) == 0) {
		gather(v);
		r = json ? print_json(v) : (print_table(v), TS_OK);
	}
	fabric_stats_free(&v->stats);
	free(v);
	return r;
}
