/*
 * Cluster manifests (manifest.h; the format and every message are in
 * docs/manifest.md): YAML text -> struct manifest, every value checked.
 *
 * Two steps, so that YAML and the schema stay apart:
 *
 * 1. libyaml's event parser feeds a small tree of our own (struct yn:
 *    scalars, mappings, lists, each with its 1-based line). The builder is
 *    a loop with an explicit stack, never recursion, and refuses what a
 *    manifest never needs: anchors and aliases, tags, a second document,
 *    nesting deeper than MF_DEPTH_MAX, more than MF_YN_MAX values, NUL
 *    bytes. YAML syntax errors come from libyaml's problem and mark.
 *
 * 2. The schema walk reads the tree section by section. Each section has a
 *    table of its keys (struct mf_key: name, parser, which roles may have
 *    it); walk_map() refuses unknown and duplicate keys and calls the
 *    parsers in file order. Checks that need more than one key (ExCache
 *    size against the window, image vs dir) follow each section; checks
 *    that need the whole cluster (roles present, backups, vNode members)
 *    come last.
 *
 * Only the first error is reported: "path:line: what", where the message
 * names the node or vNode, the key and the value, and says what is allowed.
 * Values are shown at most MF_SHOW_MAX bytes long, non-printable bytes as
 * '?', so a hostile file cannot put escape sequences on a terminal.
 */
#include "manifest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)

#define MF_FILE_MAX  (1 << 20) /* manifest_load refuses larger files */
#define MF_DEPTH_MAX 8	       /* nesting of mappings and lists; the schema needs 4 */
#define MF_YN_MAX    10000     /* YAML values in one manifest (15 nodes need ~300) */
#define MF_SHOW_MAX  40	       /* bytes of a value quoted in a message */
#define MF_KEYS_MAX  9	       /* keys in one section's table */
#define MF_LINE_SIZE 4096      /* ExCache line: one page */

#define ROLE_BIT(r)  (1u << (r))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the YAML tree ------------------------------------------------------ */

enum yn_kind {
	YN_SCALAR,
	YN_MAP,
	YN_LIST,
};

struct yn {
	enum yn_kind kind;
	int line;   /* 1-based, where the value starts */
	char *text; /* scalar: NUL-terminated, no NUL inside */
	size_t len;
	struct yn *first, *last; /* children: list items, or mapping keys */
	struct yn *value;	 /* a mapping key: its value */
	struct yn *next;	 /* next item or key of the same parent */
	struct yn *all;		 /* every node of the tree, for freeing */
};

/* What the parsers keep about a node beyond struct mf_node. */
struct mf_node_aux {
	bool window_set;
	int excache_size_line, excache_ways_line; /* 0: not in the file */
	int backup_line;
};

struct mf_ctx {
	const char *path;
	const char *text;
	size_t len;
	char *err;
	size_t errlen;
	struct manifest *m;
	char scope[64];		     /* "node 'p1': ", put before every message */
	char shown[MF_SHOW_MAX + 8]; /* the value show() quoted last */

	struct yn *all; /* every tree node */
	unsigned nyn;
	struct yn *root;

	int nodes_line;			 /* the "nodes:" key */
	int root_line[MF_MAX_VNODES];	 /* each vnode's root: value (0: default) */
	bool latency_set, bandwidth_set; /* fabric: overrides of the link preset */
	struct mf_node_aux aux[MF_MAX_NODES];
};

/* A parser of one key's value into obj (the section's struct). */
typedef int (*mf_parse_fn)(struct mf_ctx *c, const struct yn *val, void *obj);

struct mf_key {
	const char *name;
	mf_parse_fn parse;	/* NULL: the caller reads this key itself */
	unsigned roles;		/* node keys: ROLE_BITs that may have it; 0 = all */
	const char *wrong_role; /* message for a node of another role */
};

/* ---- messages ----------------------------------------------------------- */

static int fail(struct mf_ctx *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes "path:line: scope + message" into the caller's buffer; returns -1. */
static int fail(struct mf_ctx *c, int line, const char *fmt, ...)
{
	char msg[MF_ERR_MAX];
	va_list ap;

	if (!c->err || c->errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s:%d: %s%s", c->path, line, c->scope, msg);
	return -1;
}

static void set_scope(struct mf_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_scope(struct mf_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->scope, sizeof(c->scope), fmt, ap);
	va_end(ap);
}

/* The text of scalar v, shortened and made printable, for a message. */
static const char *show(struct mf_ctx *c, const struct yn *v)
{
	size_t n = v->len < MF_SHOW_MAX ? v->len : MF_SHOW_MAX;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v->text[i];

		c->shown[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	strcpy(c->shown + n, v->len > n ? "..." : "");
	return c->shown;
}

/* "16M", "64K", "1536 bytes": the largest unit that divides exactly. */
struct size_str {
	char s[32];
};

static const char *fmt_size(struct size_str *b, uint64_t bytes)
{
	static const struct {
		uint64_t unit;
		const char *name;
	} units[] = {{GiB, "G"}, {MiB, "M"}, {KiB, "K"}};

	for (size_t i = 0; i < ARRAY_LEN(units); i++) {
		if (bytes && bytes % units[i].unit == 0) {
			snprintf(b->s, sizeof(b->s), "%llu%s",
				 (unsigned long long)(bytes / units[i].unit),
				 units[i].name);
			return b->s;
		}
	}
	snprintf(b->s, sizeof(b->s), "%llu bytes", (unsigned long long)bytes);
	return b->s;
}

static const char *kind_desc(const struct yn *v)
{
	if (v->kind == YN_MAP)
		return "a mapping";
	if (v->kind == YN_LIST)
		return "a list";
	return v->len ? "a single value" : "an empty value";
}

/* ---- step 1: libyaml events -> tree ------------------------------------- */

struct builder {
	struct yn *open[MF_DEPTH_MAX]; /* mappings and lists not yet closed */
	unsigned depth;
	unsigned documents;
};

static int line_of(const yaml_mark_t *mark)
{
	return mark->line < 1000000000 ? (int)mark->line + 1 : 1000000000;
}

/* Line of byte offset off of the text (for reader errors, which have no mark). */
static int line_at_offset(const struct mf_ctx *c, size_t off)
{
	int line = 1;

	for (size_t i = 0; i < off && i < c->len && line < 1000000000; i++)
		line += c->text[i] == '\n';
	return line;
}

static int syntax_error(struct mf_ctx *c, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "unknown error";
	int line = line_of(&p->problem_mark), cline = line_of(&p->context_mark);

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return fail(c, line_at_offset(c, p->offset), "out of memory");
	case YAML_READER_ERROR:
		return fail(c, line_at_offset(c, p->problem_offset),
			    "unreadable text: %s (at byte offset %zu)", problem,
			    p->problem_offset);
	default:
		if (p->context && cline != line)
			return fail(c, line, "YAML syntax error: %s (%s on line %d)",
				    problem, p->context, cline);
		if (p->context)
			return fail(c, line, "YAML syntax error: %s (%s)", problem,
				    p->context);
		return fail(c, line, "YAML syntax error: %s", problem);
	}
}

static struct yn *yn_new(struct mf_ctx *c, enum yn_kind kind, int line)
{
	struct yn *n;

	if (c->nyn >= MF_YN_MAX) {
		fail(c, line, "more than %d values: too large for a manifest", MF_YN_MAX);
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		fail(c, line, "out of memory");
		return NULL;
	}
	n->kind = kind;
	n->line = line;
	n->all = c->all;
	c->all = n;
	c->nyn++;
	return n;
}

/* Hangs n under the innermost open mapping or list (or makes it the root). */
static int attach(struct mf_ctx *c, struct builder *b, struct yn *n)
{
	struct yn *parent;

	if (b->depth == 0) {
		c->root = n;
		return 0;
	}
	parent = b->open[b->depth - 1];
	if (parent->kind == YN_MAP && parent->last && !parent->last->value) {
		parent->last->value = n;
		return 0;
	}
	if (parent->kind == YN_MAP && n->kind != YN_SCALAR)
		return fail(c, n->line, "a mapping key must be a single value, not %s",
			    kind_desc(n));
	if (parent->last)
		parent->last->next = n;
	else
		parent->first = n;
	parent->last = n;
	return 0;
}

/* Anchors and tags may sit on scalars, mappings and lists alike. */
static int refuse_anchor_tag(struct mf_ctx *c, int line, const yaml_char_t *anchor,
			     const yaml_char_t *tag)
{
	if (anchor)
		return fail(c, line, "anchors and aliases are not supported");
	if (tag)
		return fail(c, line, "tags (!...) are not supported");
	return 0;
}

static int on_scalar(struct mf_ctx *c, struct builder *b, const yaml_event_t *ev)
{
	int line = line_of(&ev->start_mark);
	const char *value = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	struct yn *n;

	if (refuse_anchor_tag(c, line, ev->data.scalar.anchor, ev->data.scalar.tag))
		return -1;
	if (memchr(value, '\0', len))
		return fail(c, line, "NUL characters are not allowed");
	n = yn_new(c, YN_SCALAR, line);
	if (!n)
		return -1;
	n->text = malloc(len + 1);
	if (!n->text)
		return fail(c, line, "out of memory");
	memcpy(n->text, value, len);
	n->text[len] = '\0';
	n->len = len;
	return attach(c, b, n);
}

static int on_open(struct mf_ctx *c, struct builder *b, const yaml_event_t *ev)
{
	int line = line_of(&ev->start_mark);
	bool map = ev->type == YAML_MAPPING_START_EVENT;
	struct yn *n;

	if (map && refuse_anchor_tag(c, line, ev->data.mapping_start.anchor,
				     ev->data.mapping_start.tag))
		return -1;
	if (!map && refuse_anchor_tag(c, line, ev->data.sequence_start.anchor,
				      ev->data.sequence_start.tag))
		return -1;
	if (b->depth == MF_DEPTH_MAX)
		return fail(c, line, "nested more than %d levels deep", MF_DEPTH_MAX);
	n = yn_new(c, map ? YN_MAP : YN_LIST, line);
	if (!n || attach(c, b, n))
		return -1;
	b->open[b->depth++] = n;
	return 0;
}

static int on_event(struct mf_ctx *c, struct builder *b, const yaml_event_t *ev,
		    bool *done)
{
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		*done = true;
		return 0;
	case YAML_DOCUMENT_START_EVENT:
		if (b->documents++)
			return fail(c, line_of(&ev->start_mark),
				    "a second YAML document: a manifest is one document");
		return 0;
	case YAML_ALIAS_EVENT:
		return fail(c, line_of(&ev->start_mark),
			    "anchors and aliases are not supported");
	case YAML_SCALAR_EVENT:
		return on_scalar(c, b, ev);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		return on_open(c, b, ev);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (b->depth)
			b->depth--;
		return 0;
	default: /* stream start, document end */
		return 0;
	}
}

/* Reads the whole text into c->root (NULL for an empty stream). */
static int build_tree(struct mf_ctx *c)
{
	struct builder b = {0};
	yaml_parser_t parser;
	yaml_event_t ev;
	bool done = false;
	int err = 0;

	if (!yaml_parser_initialize(&parser))
		return fail(c, 1, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)c->text, c->len);
	while (!done && !err) {
		if (!yaml_parser_parse(&parser, &ev)) {
			err = syntax_error(c, &parser);
			break;
		}
		err = on_event(c, &b, &ev, &done);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return err;
}

static void free_tree(struct mf_ctx *c)
{
	while (c->all) {
		struct yn *n = c->all;

		c->all = n->all;
		free(n->text);
		free(n);
	}
}

/* ---- step 2: typed values ----------------------------------------------- */

/* The value of key in map (the first one if repeated), or NULL. */
static const struct yn *map_get(const struct yn *map, const char *key)
{
	for (const struct yn *k = map->first; k; k = k->next)
		if (!strcmp(k->text, key))
			return k->value;
	return NULL;
}

static const struct yn *map_key(const struct yn *map, const char *key)
{
	for (const struct yn *k = map->first; k; k = k->next)
		if (!strcmp(k->text, key))
			return k;
	return NULL;
}

static int expect_map(struct mf_ctx *c, const char *key, const struct yn *v)
{
	if (v->kind == YN_MAP)
		return 0;
	return fail(c, v->line, "%s: expected a mapping (key: value lines), found %s",
		    key, kind_desc(v));
}

static int expect_list(struct mf_ctx *c, const char *key, const struct yn *v)
{
	if (v->kind == YN_LIST)
		return 0;
	return fail(c, v->line, "%s: expected a list (- item lines or [a, b]), found %s",
		    key, kind_desc(v));
}

/* The text of scalar v, or NULL after an error ("key: ..."). */
static const char *scalar(struct mf_ctx *c, const char *key, const struct yn *v)
{
	if (v->kind != YN_SCALAR) {
		fail(c, v->line, "%s: expected a single value (a scalar), found %s", key,
		     kind_desc(v));
		return NULL;
	}
	if (v->len == 0) {
		fail(c, v->line, "%s: no value", key);
		return NULL;
	}
	return v->text;
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool name_ok(const char *s)
{
	if (!(*s >= 'a' && *s <= 'z'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || is_digit(*s) || *s == '_' || *s == '-'))
			return false;
	return true;
}

#define NAME_RULE "1 to 31 characters of a-z, 0-9, _ and -, starting with a letter"

/* A node, vNode or cluster name. */
static int parse_name(struct mf_ctx *c, const char *key, const struct yn *v,
		      char out[MF_NAME_MAX])
{
	const char *s = scalar(c, key, v);

	if (!s)
		return -1;
	if (v->len >= MF_NAME_MAX)
		return fail(c, v->line, "%s: '%s' is too long (at most %d characters)",
			    key, show(c, v), MF_NAME_MAX - 1);
	if (!name_ok(s))
		return fail(c, v->line, "%s: '%s' is not a valid name (" NAME_RULE ")",
			    key, show(c, v));
	memcpy(out, s, v->len + 1);
	return 0;
}

/* A path as written (resolved later against the manifest's directory). */
static int parse_path(struct mf_ctx *c, const char *key, const struct yn *v,
		      char out[MF_PATH_MAX])
{
	const char *s = scalar(c, key, v);

	if (!s)
		return -1;
	if (v->len >= MF_PATH_MAX)
		return fail(c, v->line, "%s: path too long (at most %d bytes)", key,
			    MF_PATH_MAX - 1);
	for (size_t i = 0; i < v->len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return fail(c, v->line, "%s: '%s' contains a control character",
				    key, show(c, v));
	memcpy(out, s, v->len + 1);
	return 0;
}

/* One of names[0..n) (the error lists them); *out is its index. */
static int parse_choice(struct mf_ctx *c, const char *key, const struct yn *v,
			const char *const *names, size_t n, unsigned *out)
{
	const char *s = scalar(c, key, v);
	char list[128] = "";

	if (!s)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(s, names[i])) {
			*out = (unsigned)i;
			return 0;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 i ? ", " : "", names[i]);
	}
	return fail(c, v->line, "%s: '%s' is not one of: %s", key, show(c, v), list);
}

/* A whole decimal number in min..max. */
static int parse_uint(struct mf_ctx *c, const char *key, const struct yn *v, unsigned min,
		      unsigned max, unsigned *out)
{
	const char *s = scalar(c, key, v);
	uint64_t n = 0;

	if (!s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (!is_digit(*p))
			return fail(c, v->line, "%s: '%s' is not a whole number", key,
				    show(c, v));
		if (n <= max)
			n = n * 10 + (uint64_t)(*p - '0');
	}
	if (n < min || n > max)
		return fail(c, v->line, "%s: %s is out of range (%u to %u)", key,
			    show(c, v), min, max);
	*out = (unsigned)n;
	return 0;
}

#define DECIMAL_DIGITS_MAX 15 /* below 2^53: exact in a double */

/*
 * A non-negative decimal "12", "1.5", ".25" (no sign, no exponent, not
 * inf or nan), at most max. Computed as digits / 10^fraction, both exact
 * doubles, so the result is correctly rounded whatever the C locale.
 */
static int parse_decimal(struct mf_ctx *c, const char *key, const struct yn *v,
			 double max, double *out)
{
	static const double pow10[DECIMAL_DIGITS_MAX + 1] = {
		1e0, 1e1, 1e2,	1e3,  1e4,  1e5,  1e6,	1e7,
		1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
	const char *s = scalar(c, key, v);
	uint64_t digits = 0;
	unsigned ndigits = 0, nfrac = 0;
	bool dot = false;

	if (!s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p == '.' && !dot) {
			dot = true;
			continue;
		}
		if (!is_digit(*p))
			return fail(c, v->line,
				    "%s: '%s' is not a number (a decimal such as 1.5, "
				    "not negative)",
				    key, show(c, v));
		if (++ndigits > DECIMAL_DIGITS_MAX)
			return fail(c, v->line, "%s: '%s' has more than %d digits", key,
				    show(c, v), DECIMAL_DIGITS_MAX);
		digits = digits * 10 + (uint64_t)(*p - '0');
		nfrac += dot;
	}
	if (ndigits == 0)
		return fail(c, v->line, "%s: '%s' is not a number", key, show(c, v));
	*out = (double)digits / pow10[nfrac];
	if (*out > max)
		return fail(c, v->line, "%s: %s is more than %.10g", key, show(c, v),
			    max);
	return 0;
}

/* Limits of one size key. */
struct mf_size_rule {
	uint64_t min, max;
	bool pow2;
	uint64_t multiple; /* 0, or the granule it must be a multiple of */
};

/* "K", "MiB", ... -> bytes; 0 if not a unit. */
static uint64_t size_unit(const char *s)
{
	static const struct {
		const char *name;
		uint64_t bytes;
	} units[] = {{"K", KiB},   {"M", MiB},	 {"G", GiB},
		     {"KiB", KiB}, {"MiB", MiB}, {"GiB", GiB}};

	for (size_t i = 0; i < ARRAY_LEN(units); i++)
		if (!strcmp(s, units[i].name))
			return units[i].bytes;
	return 0;
}

static int check_size(struct mf_ctx *c, const char *key, const struct yn *v,
		      const struct mf_size_rule *r, uint64_t bytes)
{
	struct size_str a, b;

	if (bytes < r->min)
		return fail(c, v->line, "%s: %s is less than the minimum, %s", key,
			    fmt_size(&a, bytes), fmt_size(&b, r->min));
	if (bytes > r->max)
		return fail(c, v->line, "%s: %s is more than the maximum, %s", key,
			    fmt_size(&a, bytes), fmt_size(&b, r->max));
	if (r->pow2 && (bytes & (bytes - 1)))
		return fail(c, v->line, "%s: %s is not a power of two", key,
			    fmt_size(&a, bytes));
	if (r->multiple && bytes % r->multiple)
		return fail(c, v->line, "%s: %s is not a multiple of %s", key,
			    fmt_size(&a, bytes), fmt_size(&b, r->multiple));
	return 0;
}

/* A size "<whole number><unit>", unit K, M, G, KiB, MiB or GiB; spaces
 * between number and unit are allowed. */
static int parse_size(struct mf_ctx *c, const char *key, const struct yn *v,
		      const struct mf_size_rule *r, uint64_t *out)
{
	const char *s = scalar(c, key, v);
	uint64_t n = 0, unit;
	size_t i = 0;

	if (!s)
		return -1;
	for (; is_digit(s[i]); i++)
		if (__builtin_mul_overflow(n, 10, &n) ||
		    __builtin_add_overflow(n, (uint64_t)(s[i] - '0'), &n))
			return fail(c, v->line, "%s: '%s' is too large", key, show(c, v));
	if (i == 0)
		return fail(
			c, v->line,
			"%s: '%s' is not a size (a whole number and a unit K, M or G, "
			"such as 64M)",
			key, show(c, v));
	while (s[i] == ' ')
		i++;
	if (s[i] == '\0')
		return fail(c, v->line, "%s: '%s' has no unit (use K, M or G)", key,
			    show(c, v));
	unit = size_unit(s + i);
	if (!unit)
		return fail(
			c, v->line,
			"%s: '%s' has an unknown unit (use K, M or G, or KiB, MiB, GiB)",
			key, show(c, v));
	if (__builtin_mul_overflow(n, unit, &n))
		return fail(c, v->line, "%s: '%s' is too large", key, show(c, v));
	if (check_size(c, key, v, r, n))
		return -1;
	*out = n;
	return 0;
}

/* ---- sections: a table of keys each ------------------------------------- */

static const struct mf_key *find_key(const struct mf_key *keys, size_t n,
				     const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

static int unknown_key(struct mf_ctx *c, const char *section, const struct yn *key,
		       const struct mf_key *keys, size_t n)
{
	char list[160] = "";

	for (size_t i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 i ? ", " : "", keys[i].name);
	return fail(c, key->line, "%sunknown key '%s' (allowed: %s)", section,
		    show(c, key), list);
}

/*
 * Checks every key of map against keys[0..n) (unknown, duplicate, not for
 * role_bit) and calls the parsers in file order. section ("excache: ")
 * goes before key names in messages.
 */
static int walk_map(struct mf_ctx *c, const struct yn *map, const char *section,
		    const struct mf_key *keys, size_t n, unsigned role_bit, void *obj)
{
	bool seen[MF_KEYS_MAX] = {false};

	for (const struct yn *k = map->first; k; k = k->next) {
		const struct mf_key *d = find_key(keys, n, k->text);

		if (!d)
			return unknown_key(c, section, k, keys, n);
		if (seen[d - keys])
			return fail(c, k->line, "%s%s: duplicate key (first on line %d)",
				    section, d->name, map_key(map, d->name)->line);
		seen[d - keys] = true;
		if (d->roles && !(d->roles & role_bit))
			return fail(c, k->line, "%s: %s", d->name, d->wrong_role);
		if (d->parse && d->parse(c, k->value, obj))
			return -1;
	}
	return 0;
}

#define WALK(c, map, section, keys, role_bit, obj)                                       \
	walk_map(c, map, section, keys, ARRAY_LEN(keys), role_bit, obj)

static const struct mf_size_rule window_rule = {.min = MiB, .max = GiB, .pow2 = true};
static const struct mf_size_rule ram_rule = {
	.min = 32 * MiB, .max = 16 * GiB, .multiple = MiB};
static const struct mf_size_rule excache_rule = {
	.min = 64 * KiB, .max = GiB, .pow2 = true};
static const struct mf_size_rule disk_rule = {.min = MiB, .max = 64 * GiB};

#define DEFAULT_WINDOW	  (16 * MiB)
#define DEFAULT_CPUS	  1
#define DEFAULT_RAM	  (128 * MiB)
#define DEFAULT_WAYS	  8
#define DEFAULT_DISK_SIZE (64 * MiB)
#define MAX_CPUS	  8
#define MAX_WAYS	  64
#define MAX_LATENCY_US	  1e6
#define MAX_BANDWIDTH	  1e4
#define MIN_BANDWIDTH	  0.001 /* fabricd's smallest non-zero bandwidth */
#define DEFAULT_POLL	  10	/* fabricd's defaults: docs/fabric.md */
#define DEFAULT_CQ_RETRY  1000

static const char *const role_names[] = {"processor", "memory", "storage", "global"};
static const char *const policy_names[] = {"lru", "fifo", "random", "clock"};

/* ---- fabric: ------------------------------------------------------------- */

static const struct {
	const char *name;
	double latency_us, bandwidth_gbps;
} link_presets[] = {
	{"none", 0, 0},
	{"ib56", 1.5, 56}, /* FDR InfiniBand, as fabricd's --link-preset ib56 */
};

static int fabric_window(struct mf_ctx *c, const struct yn *v, void *obj)
{
	return parse_size(c, "window", v, &window_rule,
			  &((struct mf_fabric *)obj)->window);
}

/* A preset fills latency and bandwidth unless the file sets them itself
 * (before or after link:). */
static int fabric_link(struct mf_ctx *c, const struct yn *v, void *obj)
{
	const char *names[ARRAY_LEN(link_presets)];
	struct mf_fabric *f = obj;
	unsigned i;

	for (i = 0; i < ARRAY_LEN(names); i++)
		names[i] = link_presets[i].name;
	if (parse_choice(c, "link", v, names, ARRAY_LEN(names), &i))
		return -1;
	if (!c->latency_set)
		f->latency_us = link_presets[i].latency_us;
	if (!c->bandwidth_set)
		f->bandwidth_gbps = link_presets[i].bandwidth_gbps;
	return 0;
}

static int fabric_latency(struct mf_ctx *c, const struct yn *v, void *obj)
{
	c->latency_set = true;
	return parse_decimal(c, "latency_us", v, MAX_LATENCY_US,
			     &((struct mf_fabric *)obj)->latency_us);
}

static int fabric_bandwidth(struct mf_ctx *c, const struct yn *v, void *obj)
{
	struct mf_fabric *f = obj;

	c->bandwidth_set = true;
	if (parse_decimal(c, "bandwidth_gbps", v, MAX_BANDWIDTH, &f->bandwidth_gbps))
		return -1;
	if (f->bandwidth_gbps > 0 && f->bandwidth_gbps < MIN_BANDWIDTH)
		return fail(c, v->line,
			    "bandwidth_gbps: %s is too small (0 for unlimited, or at "
			    "least %g)",
			    show(c, v), MIN_BANDWIDTH);
	return 0;
}

static int fabric_poll(struct mf_ctx *c, const struct yn *v, void *obj)
{
	return parse_uint(c, "poll_us", v, 0, MF_MAX_FABRIC_US,
			  &((struct mf_fabric *)obj)->poll_us);
}

static int fabric_cq_retry(struct mf_ctx *c, const struct yn *v, void *obj)
{
	return parse_uint(c, "cq_retry_us", v, MF_MIN_CQ_RETRY_US, MF_MAX_FABRIC_US,
			  &((struct mf_fabric *)obj)->cq_retry_us);
}

static const struct mf_key fabric_keys[] = {
	{"window", fabric_window, 0, NULL},
	{"link", fabric_link, 0, NULL},
	{"latency_us", fabric_latency, 0, NULL},
	{"bandwidth_gbps", fabric_bandwidth, 0, NULL},
	{"poll_us", fabric_poll, 0, NULL},
	{"cq_retry_us", fabric_cq_retry, 0, NULL},
};

static int read_fabric(struct mf_ctx *c)
{
	const struct yn *v = map_get(c->root, "fabric");
	int err;

	c->m->fabric.window = DEFAULT_WINDOW;
	c->m->fabric.poll_us = DEFAULT_POLL;
	c->m->fabric.cq_retry_us = DEFAULT_CQ_RETRY;
	if (!v)
		return 0;
	if (expect_map(c, "fabric", v))
		return -1;
	set_scope(c, "fabric: ");
	err = WALK(c, v, "", fabric_keys, 0, &c->m->fabric);
	set_scope(c, "%s", "");
	return err;
}

/* ---- nodes: excache: and disk: ------------------------------------------ */

static struct mf_node_aux *aux_of(struct mf_ctx *c, const struct mf_node *n)
{
	return &c->aux[n - c->m->nodes];
}

static int excache_size(struct mf_ctx *c, const struct yn *v, void *obj)
{
	aux_of(c, obj)->excache_size_line = v->line;
	return parse_size(c, "excache: size", v, &excache_rule,
			  &((struct mf_node *)obj)->excache_size);
}

static int excache_ways(struct mf_ctx *c, const struct yn *v, void *obj)
{
	struct mf_node *n = obj;

	aux_of(c, n)->excache_ways_line = v->line;
	if (parse_uint(c, "excache: ways", v, 1, MAX_WAYS, &n->excache_ways))
		return -1;
	if (n->excache_ways & (n->excache_ways - 1))
		return fail(c, v->line, "excache: ways: %u is not a power of two",
			    n->excache_ways);
	return 0;
}

static int excache_policy(struct mf_ctx *c, const struct yn *v, void *obj)
{
	struct mf_node *n = obj;
	unsigned p;

	if (parse_choice(c, "excache: policy", v, policy_names, ARRAY_LEN(policy_names),
			 &p))
		return -1;
	n->excache_policy = (enum mf_policy)p;
	return 0;
}

static const struct mf_key excache_keys[] = {
	{"size", excache_size, 0, NULL},
	{"ways", excache_ways, 0, NULL},
	{"policy", excache_policy, 0, NULL},
};

static int node_excache(struct mf_ctx *c, const struct yn *v, void *obj)
{
	if (expect_map(c, "excache", v))
		return -1;
	return WALK(c, v, "excache: ", excache_keys, 0, obj);
}

static int disk_image(struct mf_ctx *c, const struct yn *v, void *obj)
{
	return parse_path(c, "disk: image", v, ((struct mf_node *)obj)->disk_image);
}

static int disk_dir(struct mf_ctx *c, const struct yn *v, void *obj)
{
	return parse_path(c, "disk: dir", v, ((struct mf_node *)obj)->disk_dir);
}

static int disk_size(struct mf_ctx *c, const struct yn *v, void *obj)
{
	return parse_size(c, "disk: size", v, &disk_rule,
			  &((struct mf_node *)obj)->disk_size);
}

static const struct mf_key disk_keys[] = {
	{"image", disk_image, 0, NULL},
	{"dir", disk_dir, 0, NULL},
	{"size", disk_size, 0, NULL},
};

/* An image file, a directory to make one from, or neither (an empty file
 * system); size only for the last two, since an image has its own. */
static int node_disk(struct mf_ctx *c, const struct yn *v, void *obj)
{
	struct mf_node *n = obj;
	const struct yn *image, *dir, *size;

	if (expect_map(c, "disk", v) || WALK(c, v, "disk: ", disk_keys, 0, n))
		return -1;
	image = map_key(v, "image");
	dir = map_key(v, "dir");
	size = map_key(v, "size");
	if (image && dir)
		return fail(c, image->line > dir->line ? image->line : dir->line,
			    "disk: image and dir exclude each other (an image file, a "
			    "directory to build one from, or neither)");
	if (image && size)
		return fail(
			c, size->line,
			"disk: size: not allowed with image (the image file has its own "
			"size)");
	return 0;
}

/* ---- nodes: ------------------------------------------------------------- */

static int node_cpus(struct mf_ctx *c, const struct yn *v, void *obj)
{
	return parse_uint(c, "cpus", v, 1, MAX_CPUS, &((struct mf_node *)obj)->cpus);
}

static int node_ram(struct mf_ctx *c, const struct yn *v, void *obj)
{
	return parse_size(c, "ram", v, &ram_rule, &((struct mf_node *)obj)->ram);
}

static int node_window(struct mf_ctx *c, const struct yn *v, void *obj)
{
	aux_of(c, obj)->window_set = true;
	return parse_size(c, "window", v, &window_rule, &((struct mf_node *)obj)->window);
}

static int node_backup(struct mf_ctx *c, const struct yn *v, void *obj)
{
	struct mf_node *n = obj;

	aux_of(c, n)->backup_line = v->line;
	return parse_name(c, "backup", v, n->backup);
}

bool mf_ktest_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len >= MF_KTEST_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || is_digit(*s) ||
		      *s == '_' || *s == ':'))
			return false;
	return true;
}

/* The node's self tests: the kernel word ktest=FILTER instead of its role's
 * services. */
static int node_ktest(struct mf_ctx *c, const struct yn *v, void *obj)
{
	const char *s = scalar(c, "ktest", v);

	if (!s)
		return -1;
	if (v->len >= MF_KTEST_MAX)
		return fail(c, v->line, "ktest: '%s' is too long (at most %d characters)",
			    show(c, v), MF_KTEST_MAX - 1);
	if (!mf_ktest_ok(s))
		return fail(c, v->line, "ktest: '%s' is not a test filter (" MF_KTEST_RULE ")",
			    show(c, v));
	memcpy(((struct mf_node *)obj)->ktest, s, v->len + 1);
	return 0;
}

/* name and role are read first, by read_node, for the messages. */
static const struct mf_key node_keys[] = {
	{"name", NULL, 0, NULL},
	{"role", NULL, 0, NULL},
	{"cpus", node_cpus, 0, NULL},
	{"ram", node_ram, 0, NULL},
	{"window", node_window, 0, NULL},
	{"excache", node_excache, ROLE_BIT(MF_PROCESSOR),
	 "only processor nodes have an ExCache"},
	{"backup", node_backup, ROLE_BIT(MF_MEMORY), "only memory nodes have a backup"},
	{"disk", node_disk, ROLE_BIT(MF_STORAGE), "only storage nodes have a disk"},
	{"ktest", node_ktest, 0, NULL},
};
_Static_assert(ARRAY_LEN(node_keys) <= MF_KEYS_MAX, "the largest table fits seen[]");

/* The node's name (unique, not fabricd's "control") and role. */
static int node_identity(struct mf_ctx *c, const struct yn *map, struct mf_node *n)
{
	const struct yn *name = map_get(map, "name"), *role = map_get(map, "role");
	const struct mf_node *other;
	unsigned r;

	if (!name)
		return fail(c, map->line, "no name (every node needs a name and a role)");
	if (parse_name(c, "name", name, n->name))
		return -1;
	other = manifest_node(c->m, n->name);
	if (other)
		return fail(c, name->line,
			    "name: node %u (line %d) already has the name '%s'",
			    other->id, other->line, n->name);
	if (!strcmp(n->name, "control"))
		return fail(c, name->line,
			    "name: 'control' is reserved (fabricd's control "
			    "socket has that name)");
	set_scope(c, "node '%s': ", n->name);
	if (!role)
		return fail(c, map->line, "no role (%s, %s, %s or %s)", role_names[0],
			    role_names[1], role_names[2], role_names[3]);
	if (parse_choice(c, "role", role, role_names, ARRAY_LEN(role_names), &r))
		return -1;
	n->role = (enum mf_role)r;
	return 0;
}

/* Defaults that depend on other keys, and the ExCache's fit in the window. */
static int node_finish(struct mf_ctx *c, struct mf_node *n)
{
	struct mf_node_aux *a = aux_of(c, n);
	struct size_str s1, s2, s3;

	if (!a->window_set)
		n->window = c->m->fabric.window;
	if (n->role == MF_STORAGE && !n->disk_image[0] && !n->disk_size)
		n->disk_size = DEFAULT_DISK_SIZE;
	if (n->role != MF_PROCESSOR)
		return 0;
	if (!n->excache_size)
		n->excache_size = n->window / 4;
	if (!n->excache_ways)
		n->excache_ways = DEFAULT_WAYS;
	if (n->excache_size > n->window / 2)
		return fail(
			c, a->excache_size_line,
			"excache: size: %s is more than half the %s window (at most %s)",
			fmt_size(&s1, n->excache_size), fmt_size(&s2, n->window),
			fmt_size(&s3, n->window / 2));
	if (n->excache_ways > n->excache_size / MF_LINE_SIZE)
		return fail(c, a->excache_ways_line,
			    "excache: ways: %u is more than the %llu 4K lines of a %s "
			    "ExCache",
			    n->excache_ways,
			    (unsigned long long)(n->excache_size / MF_LINE_SIZE),
			    fmt_size(&s1, n->excache_size));
	return 0;
}

static unsigned count_role(const struct manifest *m, enum mf_role role)
{
	unsigned k = 0;

	for (unsigned i = 0; i < m->nnodes; i++)
		k += m->nodes[i].role == role;
	return k;
}

static int read_node(struct mf_ctx *c, const struct yn *map)
{
	struct mf_node *n = &c->m->nodes[c->m->nnodes];

	set_scope(c, "%s", "");
	if (c->m->nnodes == MF_MAX_NODES)
		return fail(c, map->line,
			    "too many nodes: at most %d (each node has only 16 fabric "
			    "queue pairs, one per peer)",
			    MF_MAX_NODES);
	set_scope(c, "node #%u: ", c->m->nnodes + 1);
	if (map->kind != YN_MAP)
		return fail(c, map->line,
			    "expected a mapping (name:, role:, ...), found %s",
			    kind_desc(map));
	n->id = c->m->nnodes + 1;
	n->line = map->line;
	n->cpus = DEFAULT_CPUS;
	n->ram = DEFAULT_RAM;
	if (node_identity(c, map, n))
		return -1;
	if (n->role == MF_GLOBAL && count_role(c->m, MF_GLOBAL))
		return fail(c, map_get(map, "role")->line,
			    "only one global node is supported for now");
	if (WALK(c, map, "", node_keys, ROLE_BIT(n->role), n) || node_finish(c, n))
		return -1;
	c->m->nnodes++;
	return 0;
}

/* A memory node's backup: another memory node. */
static int check_backup(struct mf_ctx *c, const struct mf_node *n)
{
	const struct mf_node *b = manifest_node(c->m, n->backup);
	int line = c->aux[n - c->m->nodes].backup_line;

	set_scope(c, "node '%s': ", n->name);
	if (!b)
		return fail(c, line, "backup: no node named '%s'", n->backup);
	if (b == n)
		return fail(c, line, "backup: a node cannot be its own backup");
	if (b->role != MF_MEMORY)
		return fail(c, line, "backup: '%s' is a %s node, not a memory node",
			    b->name, mf_role_name(b->role));
	return 0;
}

/* Every role there (unless it is a self-test cluster), globals counted in
 * read_node; backups exist. */
static int check_cluster(struct mf_ctx *c)
{
	static const enum mf_role needed[] = {MF_PROCESSOR, MF_MEMORY, MF_STORAGE,
					      MF_GLOBAL};
	unsigned tests = 0;

	set_scope(c, "%s", "");
	for (unsigned i = 0; i < c->m->nnodes; i++)
		tests += c->m->nodes[i].ktest[0] != '\0';
	c->m->selftest = c->m->nnodes && tests == c->m->nnodes;
	for (size_t i = 0; i < ARRAY_LEN(needed) && !c->m->selftest; i++)
		if (!count_role(c->m, needed[i]))
			return fail(c, c->nodes_line,
				    "no node with role %s (a cluster needs a processor, "
				    "a memory, a storage and a global node)",
				    mf_role_name(needed[i]));
	for (unsigned i = 0; i < c->m->nnodes; i++)
		if (c->m->nodes[i].backup[0] && check_backup(c, &c->m->nodes[i]))
			return -1;
	return 0;
}

static int read_nodes(struct mf_ctx *c)
{
	const struct yn *key = map_key(c->root, "nodes");

	if (!key)
		return fail(c, c->root->line, "no 'nodes' key (a cluster needs nodes)");
	c->nodes_line = key->line;
	if (expect_list(c, "nodes", key->value))
		return -1;
	for (const struct yn *item = key->value->first; item; item = item->next)
		if (read_node(c, item))
			return -1;
	return check_cluster(c);
}

/* ---- vnodes: ------------------------------------------------------------ */

/* A list of distinct nodes of the given role, as indices into m->nodes. */
static int parse_members(struct mf_ctx *c, const char *key, const struct yn *v,
			 enum mf_role role, unsigned *list, unsigned *count)
{
	if (expect_list(c, key, v))
		return -1;
	if (!v->first)
		return fail(c, v->line, "%s: empty list (name at least one %s node)", key,
			    mf_role_name(role));
	for (const struct yn *item = v->first; item; item = item->next) {
		const char *s = scalar(c, key, item);
		const struct mf_node *n = s ? manifest_node(c->m, s) : NULL;
		unsigned idx;

		if (!s)
			return -1;
		if (!n)
			return fail(c, item->line, "no node named '%s'", show(c, item));
		if (n->role != role)
			return fail(c, item->line, "%s: '%s' is a %s node", key, n->name,
				    mf_role_name(n->role));
		idx = (unsigned)(n - c->m->nodes);
		for (unsigned i = 0; i < *count; i++)
			if (list[i] == idx)
				return fail(c, item->line, "%s: '%s' is listed twice",
					    key, n->name);
		list[(*count)++] = idx; /* distinct nodes: at most MF_MAX_NODES */
	}
	return 0;
}

static int vnode_processors(struct mf_ctx *c, const struct yn *v, void *obj)
{
	struct mf_vnode *vn = obj;

	return parse_members(c, "processors", v, MF_PROCESSOR, vn->processors,
			     &vn->nprocessors);
}

static int vnode_memories(struct mf_ctx *c, const struct yn *v, void *obj)
{
	struct mf_vnode *vn = obj;

	return parse_members(c, "memories", v, MF_MEMORY, vn->memories, &vn->nmemories);
}

static int vnode_storages(struct mf_ctx *c, const struct yn *v, void *obj)
{
	struct mf_vnode *vn = obj;

	return parse_members(c, "storages", v, MF_STORAGE, vn->storages, &vn->nstorages);
}

#define ROOT_RULE                                                                        \
	"an absolute path such as / or /data/vn2: characters A-Z, a-z, 0-9, '.', '_', "  \
	"'-' and '/', no empty, '.' or '..' component, no '/' at the end"

/* The vNode's root directory on its storage nodes (the kernel's
 * kconfig_path_ok() takes the same paths: exports= carries them). */
static int vnode_root(struct mf_ctx *c, const struct yn *v, void *obj)
{
	struct mf_vnode *vn = obj;
	const char *s = scalar(c, "root", v);
	size_t start = 1;

	if (!s)
		return -1;
	c->root_line[vn - c->m->vnodes] = v->line;
	if (v->len >= MF_ROOT_MAX)
		return fail(c, v->line, "root: '%s' is too long (at most %d bytes)",
			    show(c, v), MF_ROOT_MAX - 1);
	if (s[0] != '/')
		return fail(c, v->line, "root: '%s' is not " ROOT_RULE, show(c, v));
	for (size_t i = 1; v->len > 1 && i <= v->len; i++) {
		char ch = i < v->len ? s[i] : '/';
		size_t clen = i - start;

		if (ch != '/' && !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				   is_digit(ch) || ch == '.' || ch == '_' || ch == '-'))
			return fail(c, v->line, "root: '%s' is not " ROOT_RULE,
				    show(c, v));
		if (ch != '/')
			continue;
		if (clen == 0 || (clen == 1 && s[start] == '.') ||
		    (clen == 2 && s[start] == '.' && s[start + 1] == '.'))
			return fail(c, v->line, "root: '%s' is not " ROOT_RULE,
				    show(c, v));
		start = i + 1;
	}
	memcpy(vn->root, s, v->len + 1);
	return 0;
}

static const struct mf_key vnode_keys[] = {
	{"name", NULL, 0, NULL},
	{"processors", vnode_processors, 0, NULL},
	{"memories", vnode_memories, 0, NULL},
	{"storages", vnode_storages, 0, NULL},
	{"root", vnode_root, 0, NULL},
};

static const char *missing_members(const struct mf_vnode *vn)
{
	if (!vn->nprocessors)
		return "processors";
	return !vn->nmemories ? "memories" : "storages";
}

/* One vNode. A vNode of a self-test cluster runs nothing: it only says
 * which nodes are wired together (the storage=, memory= and exports= words
 * of vm.c), so any of its lists may be left out. */
static int read_vnode(struct mf_ctx *c, const struct yn *map)
{
	struct mf_vnode *vn = &c->m->vnodes[c->m->nvnodes];
	const struct yn *name;
	const struct mf_vnode *other;

	set_scope(c, "%s", "");
	if (c->m->nvnodes == MF_MAX_VNODES)
		return fail(c, map->line, "too many vnodes: at most %d", MF_MAX_VNODES);
	set_scope(c, "vnode #%u: ", c->m->nvnodes + 1);
	if (map->kind != YN_MAP)
		return fail(c, map->line,
			    "expected a mapping (name:, processors:, ...), found %s",
			    kind_desc(map));
	name = map_get(map, "name");
	if (!name)
		return fail(c, map->line, "no name (every vnode needs a name)");
	if (parse_name(c, "name", name, vn->name))
		return -1;
	other = manifest_vnode(c->m, vn->name);
	if (other)
		return fail(c, name->line,
			    "name: the vnode on line %d already has the name '%s'",
			    other->line, vn->name);
	set_scope(c, "vnode '%s': ", vn->name);
	vn->line = map->line;
	strcpy(vn->root, "/");
	if (WALK(c, map, "", vnode_keys, 0, vn))
		return -1;
	if (c->m->selftest && !vn->nprocessors && !vn->nmemories && !vn->nstorages)
		return fail(c, map->line,
			    "no nodes (a vnode of a self-test cluster names at least one "
			    "of processors, memories and storages)");
	if (!c->m->selftest && (!vn->nprocessors || !vn->nmemories || !vn->nstorages))
		return fail(c, map->line,
			    "no %s (a vnode needs processors, memories and storages)",
			    missing_members(vn));
	c->m->nvnodes++;
	return 0;
}

/* Without vnodes: one vNode "vn1" of every processor, memory and storage. */
static void default_vnode(struct mf_ctx *c)
{
	struct manifest *m = c->m;
	struct mf_vnode *vn = &m->vnodes[0];

	strcpy(vn->name, "vn1");
	strcpy(vn->root, "/");
	vn->line = c->nodes_line;
	for (unsigned i = 0; i < m->nnodes; i++) {
		if (m->nodes[i].role == MF_PROCESSOR)
			vn->processors[vn->nprocessors++] = i;
		else if (m->nodes[i].role == MF_MEMORY)
			vn->memories[vn->nmemories++] = i;
		else if (m->nodes[i].role == MF_STORAGE)
			vn->storages[vn->nstorages++] = i;
	}
	m->nvnodes = 1;
}

static bool has_member(const unsigned *list, unsigned n, unsigned idx)
{
	for (unsigned i = 0; i < n; i++)
		if (list[i] == idx)
			return true;
	return false;
}

static bool vnode_has(const struct mf_vnode *vn, unsigned idx)
{
	return has_member(vn->processors, vn->nprocessors, idx) ||
	       has_member(vn->memories, vn->nmemories, idx) ||
	       has_member(vn->storages, vn->nstorages, idx);
}

/*
 * A storage node gives each processor and memory one root (its exports=
 * word has one path per node): two vNodes that share a storage node and
 * a node must agree on the root. Reported at the later vNode's root.
 */
static int check_roots(struct mf_ctx *c)
{
	const struct manifest *m = c->m;

	for (unsigned b = 1; b < m->nvnodes; b++) {
		const struct mf_vnode *vb = &m->vnodes[b];

		for (unsigned a = 0; a < b; a++) {
			const struct mf_vnode *va = &m->vnodes[a];

			if (!strcmp(va->root, vb->root))
				continue;
			for (unsigned s = 0; s < vb->nstorages; s++) {
				unsigned st = vb->storages[s];

				if (!vnode_has(va, st))
					continue;
				for (unsigned n = 0; n < m->nnodes; n++) {
					if (m->nodes[n].role == MF_STORAGE ||
					    !vnode_has(va, n) || !vnode_has(vb, n))
						continue;
					set_scope(c, "vnode '%s': ", vb->name);
					return fail(
						c,
						c->root_line[b] ? c->root_line[b]
								: vb->line,
						"root: '%s' differs from '%s' of vnode "
						"'%s' "
						"(line %d) for node '%s' on storage '%s' "
						"(a node sees one directory of each "
						"storage "
						"node)",
						vb->root, va->root, va->name, va->line,
						m->nodes[n].name, m->nodes[st].name);
				}
			}
		}
	}
	return 0;
}

static int read_vnodes(struct mf_ctx *c)
{
	const struct yn *v = map_get(c->root, "vnodes");

	set_scope(c, "%s", "");
	if (!v) {
		if (!c->m->selftest) /* a self-test cluster has none by default */
			default_vnode(c);
		return 0;
	}
	if (expect_list(c, "vnodes", v))
		return -1;
	if (!v->first)
		return fail(c, v->line,
			    "vnodes: empty list (leave the key out for the default vnode "
			    "vn1)");
	for (const struct yn *item = v->first; item; item = item->next)
		if (read_vnode(c, item))
			return -1;
	return check_roots(c);
}

/* ---- the file ----------------------------------------------------------- */

/* Without cluster: the file name without .yaml: "configs/default.yaml" ->
 * "default". */
static int default_cluster_name(struct mf_ctx *c)
{
	const char *slash = strrchr(c->path, '/');
	const char *base = slash ? slash + 1 : c->path;
	size_t len = strlen(base);

	if (len > 5 && !strcmp(base + len - 5, ".yaml"))
		len -= 5;
	else if (len > 4 && !strcmp(base + len - 4, ".yml"))
		len -= 4;
	if (len > 0 && len < MF_NAME_MAX) {
		memcpy(c->m->name, base, len);
		c->m->name[len] = '\0';
		if (name_ok(c->m->name))
			return 0;
	}
	return fail(c, 1,
		    "the file name does not make a valid cluster name; add "
		    "'cluster: NAME' (" NAME_RULE ")");
}

static const struct mf_key top_keys[] = {
	{"cluster", NULL, 0, NULL},
	{"fabric", NULL, 0, NULL},
	{"nodes", NULL, 0, NULL},
	{"vnodes", NULL, 0, NULL},
};

/* The tree -> c->m, section by section (fabric before nodes before vnodes). */
static int read_manifest(struct mf_ctx *c)
{
	const struct yn *name;

	if (!c->root)
		return fail(c, 1,
			    "empty manifest (expected a mapping with a 'nodes' key)");
	if (c->root->kind != YN_MAP)
		return fail(
			c, c->root->line,
			"a manifest is a mapping (cluster:, fabric:, nodes:, vnodes:), "
			"not %s",
			kind_desc(c->root));
	if (WALK(c, c->root, "", top_keys, 0, NULL))
		return -1;
	name = map_get(c->root, "cluster");
	if (name ? parse_name(c, "cluster", name, c->m->name) : default_cluster_name(c))
		return -1;
	if (read_fabric(c) || read_nodes(c) || read_vnodes(c))
		return -1;
	return 0;
}

int manifest_parse(const char *path, const char *text, size_t len, struct manifest *m,
		   char *err, size_t errlen)
{
	struct mf_ctx c = {
		.path = path ? path : "(manifest)",
		.text = text ? text : "",
		.len = text ? len : 0,
		.err = err,
		.errlen = errlen,
		.m = m,
	};
	int rc;

	memset(m, 0, sizeof(*m));
	if (err && errlen)
		err[0] = '\0';
	snprintf(m->path, sizeof(m->path), "%s", c.path);
	rc = build_tree(&c);
	if (!rc)
		rc = read_manifest(&c);
	free_tree(&c);
	return rc;
}

int manifest_load(const char *path, struct manifest *m, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;
	int rc;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(MF_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	errno = 0;
	n = fread(buf, 1, MF_FILE_MAX + 1, f);
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno ? errno : EIO));
		rc = -1;
	} else if (n > MF_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than 1 MiB: not a manifest", path);
		rc = -1;
	} else {
		rc = manifest_parse(path, buf, n, m, err, errlen);
	}
	free(buf);
	fclose(f);
	return rc;
}

const struct mf_node *manifest_node(const struct manifest *m, const char *name)
{
	for (unsigned i = 0; name && i < m->nnodes; i++)
		if (!strcmp(m->nodes[i].name, name))
			return &m->nodes[i];
	return NULL;
}

const struct mf_vnode *manifest_vnode(const struct manifest *m, const char *name)
{
	for (unsigned i = 0; name && i < m->nvnodes; i++)
		if (!strcmp(m->vnodes[i].name, name))
			return &m->vnodes[i];
	return NULL;
}

const char *mf_role_name(enum mf_role role)
{
	return (unsigned)role < ARRAY_LEN(role_names) ? role_names[role] : "?";
}

const char *mf_policy_name(enum mf_policy policy)
{
	return (unsigned)policy < ARRAY_LEN(policy_names) ? policy_names[policy] : "?";
}
