/*
 * Command-line options (see include/kernel/config.h for the words).
 *
 * The command line comes from the CLI or the boot menu, so it is input to
 * check, not to trust: every value is decoded completely (all of a peers=
 * list, all three fields of excache=) before anything in kconfig changes,
 * and a bad word is reported and leaves the option at its default. Only a
 * role that does not match the image is fatal, and that decision belongs
 * to the caller (kernel/main.c): this file is portable code without
 * printk or panic, so the host unit tests run it as it is
 * (tests/unit/test_config.c).
 */
#include <kernel/config.h>
#include <lib/cmdline.h>
#include <lib/printf.h>
#include <lib/string.h>

struct kconfig kconfig = {.loglevel = 6 /* LOG_INFO */};

#define MAX_NODE_ID 65535

struct parse {
	struct kconfig *kc;
	const struct role *role;
	kconfig_report_fn report;
	void *ctx;
	int problems;
};

static void problem(struct parse *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void problem(struct parse *p, const char *fmt, ...)
{
	char msg[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->problems++;
	if (p->report)
		p->report(p->ctx, msg);
}

static bool word_is(const char *key, size_t klen, const char *name)
{
	return strlen(name) == klen && memcmp(key, name, klen) == 0;
}

static bool span_is(const char *s, size_t len, const char *name)
{
	return word_is(s, len, name);
}

/* A node name as fabricd takes it: [A-Za-z_][A-Za-z0-9_-]*, < 32 chars. */
static bool name_ok(const char *s, size_t len)
{
	if (len == 0 || len >= KCONFIG_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
		bool more = (c >= '0' && c <= '9') || c == '-';

		if (!alpha && (i == 0 || !more))
			return false;
	}
	return true;
}

/* A decimal or 0x number in 1..MAX_NODE_ID. */
static bool node_id_ok(const char *s, size_t len, unsigned *id)
{
	uint64_t v;

	if (!cmdline_parse_u64(s, len, &v) || v == 0 || v > MAX_NODE_ID)
		return false;
	*id = (unsigned)v;
	return true;
}

/*
 * peers=P,P,...: P is ID or ID:NAME; ids and names unique. All or nothing:
 * decoded into locals, copied into kc only when the whole list is good.
 */
static bool parse_peers(struct kconfig *kc, const char *val, size_t vlen)
{
	unsigned short ids[KCONFIG_MAX_PEERS];
	char names[KCONFIG_MAX_PEERS][KCONFIG_NAME_MAX];
	unsigned n = 0;

	if (vlen == 0)
		return false;
	while (vlen) {
		const char *comma = memchr(val, ',', vlen);
		size_t len = comma ? (size_t)(comma - val) : vlen;
		const char *colon = memchr(val, ':', len);
		size_t idlen = colon ? (size_t)(colon - val) : len;
		size_t nlen = colon ? len - idlen - 1 : 0;
		unsigned id;

		if (n == KCONFIG_MAX_PEERS || !node_id_ok(val, idlen, &id))
			return false;
		if (colon && !name_ok(colon + 1, nlen))
			return false;
		names[n][0] = '\0';
		if (colon) {
			memcpy(names[n], colon + 1, nlen);
			names[n][nlen] = '\0';
		}
		for (unsigned i = 0; i < n; i++)
			if (ids[i] == id ||
			    (names[n][0] && strcmp(names[i], names[n]) == 0))
				return false;
		ids[n++] = (unsigned short)id;
		val += len + (comma != NULL);
		vlen -= len + (comma != NULL);
		if (comma && !vlen)
			return false; /* trailing comma */
	}
	memcpy(kc->peers, ids, sizeof(ids[0]) * n);
	memcpy(kc->peer_names, names, sizeof(names[0]) * n);
	kc->npeers = n;
	return true;
}

/* SIZE with an optional binary suffix K, M, G; no overflow. */
static bool parse_size(const char *s, size_t len, uint64_t *out)
{
	unsigned shift = 0;
	uint64_t v;

	if (len > 1) {
		switch (s[len - 1]) {
		case 'K':
		case 'k':
			shift = 10;
			break;
		case 'M':
		case 'm':
			shift = 20;
			break;
		case 'G':
		case 'g':
			shift = 30;
			break;
		default:
			break;
		}
	}
	if (shift)
		len--;
	if (!cmdline_parse_u64(s, len, &v) || v > (UINT64_MAX >> shift))
		return false;
	*out = v << shift;
	return true;
}

static const char *const policy_names[] = {
	[EXCACHE_LRU] = "lru",
	[EXCACHE_FIFO] = "fifo",
	[EXCACHE_RANDOM] = "random",
	[EXCACHE_CLOCK] = "clock",
};

const char *kconfig_policy_name(unsigned policy)
{
	if (policy >= sizeof(policy_names) / sizeof(policy_names[0]))
		return "?";
	return policy_names[policy];
}

/* excache=SIZE,WAYS,POLICY: exactly three fields, checked together. */
static bool parse_excache(struct kconfig *kc, const char *val, size_t vlen)
{
	const char *c1 = memchr(val, ',', vlen), *c2, *pol;
	size_t slen, wlen, plen;
	uint64_t bytes, ways;
	int policy = -1;

	if (!c1)
		return false;
	slen = (size_t)(c1 - val);
	c2 = memchr(c1 + 1, ',', vlen - slen - 1);
	if (!c2)
		return false;
	wlen = (size_t)(c2 - c1 - 1);
	pol = c2 + 1;
	plen = vlen - (size_t)(pol - val);
	if (!parse_size(val, slen, &bytes) || !cmdline_parse_u64(c1 + 1, wlen, &ways))
		return false;
	if (ways == 0 || ways > EXCACHE_MAX_WAYS || bytes == 0 ||
	    bytes % (ways * EXCACHE_LINE) != 0 || bytes > (1ull << 40))
		return false;
	for (unsigned i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++)
		if (span_is(pol, plen, policy_names[i]))
			policy = (int)i;
	if (policy < 0)
		return false;
	kc->excache_set = true;
	kc->excache_bytes = bytes;
	kc->excache_ways = (unsigned)ways;
	kc->excache_policy = (enum excache_policy)policy;
	return true;
}

bool kconfig_path_ok(const char *path, size_t len)
{
	if (len == 0 || len >= KCONFIG_PATH_MAX || path[0] != '/')
		return false;
	if (len == 1)
		return true; /* "/" */
	for (size_t i = 1, start = 1; i <= len; i++) {
		char c = i < len ? path[i] : '/';
		size_t clen = i - start;

		if (c == '/') {
			/* a component path[start..i): not empty, ".", ".." */
			if (clen == 0 || (clen == 1 && path[start] == '.') ||
			    (clen == 2 && path[start] == '.' && path[start + 1] == '.'))
				return false;
			start = i + 1;
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '.' || c == '_' ||
			     c == '-')) {
			return false;
		}
	}
	return true;
}

/* memory=ID,ID,...: the vNode's memory nodes, each once. All or nothing. */
static bool parse_memories(struct kconfig *kc, const char *val, size_t vlen)
{
	unsigned short ids[KCONFIG_MAX_MEMORIES];
	unsigned n = 0;

	if (vlen == 0 || val[vlen - 1] == ',')
		return false;
	while (vlen) {
		const char *comma = memchr(val, ',', vlen);
		size_t len = comma ? (size_t)(comma - val) : vlen;
		unsigned id;

		if (n == KCONFIG_MAX_MEMORIES || !node_id_ok(val, len, &id))
			return false;
		for (unsigned i = 0; i < n; i++)
			if (ids[i] == id)
				return false;
		ids[n++] = (unsigned short)id;
		val += len + (comma != NULL);
		vlen -= len + (comma != NULL);
	}
	memcpy(kc->memory_ids, ids, n * sizeof(ids[0]));
	kc->nmemories = n;
	return true;
}

/*
 * exports=ID:PATH,ID:PATH,...: each node once, PATH by kconfig_path_ok.
 * All or nothing, like peers=: a first pass checks the whole list, a
 * second copies it. Paths cannot hold ',' or ':', so the separators are
 * unambiguous.
 */
static bool parse_exports(struct kconfig *kc, const char *val, size_t vlen)
{
	unsigned short ids[KCONFIG_MAX_EXPORTS];
	unsigned n = 0;

	if (vlen == 0 || val[vlen - 1] == ',')
		return false; /* empty, or a trailing comma */
	for (int pass = 0; pass < 2; pass++) {
		const char *v = val;
		size_t left = vlen;

		for (n = 0; left; n++) {
			const char *comma = memchr(v, ',', left);
			size_t len = comma ? (size_t)(comma - v) : left;
			const char *colon = memchr(v, ':', len);
			size_t idlen = colon ? (size_t)(colon - v) : len;
			size_t plen = colon ? len - idlen - 1 : 0;
			unsigned id;

			if (n == KCONFIG_MAX_EXPORTS || !colon ||
			    !node_id_ok(v, idlen, &id) ||
			    !kconfig_path_ok(colon + 1, plen))
				return false;
			for (unsigned i = 0; i < n && pass == 0; i++)
				if (ids[i] == id)
					return false;
			ids[n] = (unsigned short)id;
			if (pass == 1) {
				kc->exports[n].node = (unsigned short)id;
				memcpy(kc->exports[n].path, colon + 1, plen);
				kc->exports[n].path[plen] = '\0';
			}
			v += len + (comma != NULL);
			left -= len + (comma != NULL);
		}
	}
	kc->nexports = n;
	return true;
}

const char *kconfig_export_of(const struct kconfig *kc, unsigned node)
{
	for (unsigned i = 0; i < kc->nexports && i < KCONFIG_MAX_EXPORTS; i++)
		if (kc->exports[i].node == node)
			return kc->exports[i].path;
	return NULL;
}

static bool role_is(const struct parse *p, enum role_id id)
{
	return p->role && p->role->id == id;
}

/* A word for another role than ours: reported, then ignored. */
static bool for_role(struct parse *p, const char *key, size_t klen, bool ours,
		     const char *want_name)
{
	if (ours)
		return true;
	problem(p, "'%.*s=' applies to %s nodes only: ignored on %s", (int)klen, key,
		want_name, p->role ? p->role->name : "?");
	return false;
}

static bool parse_word(const char *key, size_t klen, const char *val, size_t vlen,
		       void *arg)
{
	struct parse *p = arg;
	struct kconfig *kc = p->kc;
	uint64_t n;
	unsigned id;

	if (word_is(key, klen, "role")) {
		const char *want = p->role ? p->role->name : "";

		if (!val || vlen != strlen(want) || memcmp(val, want, vlen) != 0) {
			size_t keep = vlen < sizeof(kc->role_asked)
					      ? vlen
					      : sizeof(kc->role_asked) - 1;

			kc->role_mismatch = true;
			memcpy(kc->role_asked, val ? val : "", val ? keep : 0);
			kc->role_asked[val ? keep : 0] = '\0';
		}
	} else if (word_is(key, klen, "node")) {
		if (val && cmdline_parse_u64(val, vlen, &n) && n <= MAX_NODE_ID)
			kc->node_id = (unsigned)n;
		else
			goto bad;
	} else if (word_is(key, klen, "name")) {
		if (!val || vlen == 0 || vlen >= sizeof(kc->name))
			goto bad;
		memcpy(kc->name, val, vlen);
		kc->name[vlen] = '\0';
	} else if (word_is(key, klen, "loglevel")) {
		if (val && cmdline_parse_u64(val, vlen, &n) && n <= 7)
			kc->loglevel = (int)n;
		else
			goto bad;
	} else if (word_is(key, klen, "ktest")) {
		if (val && vlen >= sizeof(kc->ktest_filter))
			goto bad;
		kc->ktest = true;
		kc->panic_exit = true;
		if (val) {
			memcpy(kc->ktest_filter, val, vlen);
			kc->ktest_filter[vlen] = '\0';
		}
	} else if (word_is(key, klen, "panic")) {
		if (val && span_is(val, vlen, "exit"))
			kc->panic_exit = true;
		else if (val && span_is(val, vlen, "halt"))
			kc->panic_exit = false;
		else
			goto bad;
	} else if (word_is(key, klen, "peers")) {
		if (!val || !parse_peers(kc, val, vlen))
			goto bad;
	} else if (word_is(key, klen, "excache")) {
		if (!val || vlen == 0)
			goto bad;
		if (for_role(p, key, klen, role_is(p, ROLE_PROCESSOR), "processor") &&
		    !parse_excache(kc, val, vlen))
			goto bad;
	} else if (word_is(key, klen, "backup")) {
		if (!val || !node_id_ok(val, vlen, &id))
			goto bad;
		if (for_role(p, key, klen, role_is(p, ROLE_MEMORY), "memory"))
			kc->backup_id = id;
	} else if (word_is(key, klen, "exports")) {
		if (!val || vlen == 0)
			goto bad;
		if (for_role(p, key, klen, role_is(p, ROLE_STORAGE), "storage") &&
		    !parse_exports(kc, val, vlen))
			goto bad;
	} else if (word_is(key, klen, "storage")) {
		if (!val || !node_id_ok(val, vlen, &id))
			goto bad;
		if (for_role(p, key, klen,
			     role_is(p, ROLE_PROCESSOR) || role_is(p, ROLE_MEMORY),
			     "processor and memory"))
			kc->storage_id = id;
	} else if (word_is(key, klen, "manager")) {
		if (!val || !node_id_ok(val, vlen, &id))
			goto bad;
		if (for_role(p, key, klen, !role_is(p, ROLE_GLOBAL),
			     "processor, memory and storage"))
			kc->manager_id = id;
	} else if (word_is(key, klen, "memory")) {
		if (!val)
			goto bad;
		if (for_role(p, key, klen, role_is(p, ROLE_PROCESSOR), "processor") &&
		    !parse_memories(kc, val, vlen))
			goto bad;
	} else if (!val && memchr(key, '/', klen)) {
		/* the image path that loaders put first: not an option */
	} else {
		problem(p, "unknown word '%.*s' ignored", (int)klen, key);
	}
	return true;
bad:
	problem(p, "bad value in '%.*s%s%.*s' ignored", (int)klen, key, val ? "=" : "",
		(int)vlen, val ? val : "");
	return true;
}

/* A node another word names must be another member (when peers= is
 * there to check against); else it is reported and *id cleared. */
static void check_other_member(struct parse *p, const char *word, unsigned *id)
{
	struct kconfig *kc = p->kc;
	bool member = kc->npeers == 0;

	if (!*id)
		return;
	for (unsigned i = 0; i < kc->npeers; i++)
		if (kc->peers[i] == *id)
			member = true;
	if (*id == kc->node_id) {
		problem(p, "%s=%u is this node: ignored", word, *id);
		*id = 0;
	} else if (!member) {
		problem(p, "%s=%u is not in peers=: ignored", word, *id);
		*id = 0;
	}
}

/* Checks that need every word: backup=, storage=, manager= and every memory= node
 * must name another member (a memory= node that does not is dropped from
 * the list). */
static void cross_check(struct parse *p)
{
	struct kconfig *kc = p->kc;
	unsigned n = 0;

	check_other_member(p, "backup", &kc->backup_id);
	check_other_member(p, "storage", &kc->storage_id);
	check_other_member(p, "manager", &kc->manager_id);
	for (unsigned i = 0; i < kc->nmemories; i++) {
		unsigned id = kc->memory_ids[i];

		check_other_member(p, "memory", &id);
		if (id)
			kc->memory_ids[n++] = (unsigned short)id;
	}
	kc->nmemories = n;
}

int kconfig_parse_into(struct kconfig *kc, const char *cmdline, const struct role *role,
		       kconfig_report_fn report, void *ctx)
{
	struct parse p = {kc, role, report, ctx, 0};

	cmdline_each(cmdline, parse_word, &p);
	cross_check(&p);
	if (!kc->name[0])
		snprintf(kc->name, sizeof(kc->name), "%c%u", role ? role->letter : '?',
			 kc->node_id);
	return p.problems;
}

int kconfig_peer_find(const struct kconfig *kc, const char *word)
{
	uint64_t id;

	for (unsigned i = 0; i < kc->npeers && i < KCONFIG_MAX_PEERS; i++)
		if (kc->peer_names[i][0] && strcmp(kc->peer_names[i], word) == 0)
			return (int)i;
	if (!cmdline_parse_u64(word, strlen(word), &id))
		return -1;
	for (unsigned i = 0; i < kc->npeers && i < KCONFIG_MAX_PEERS; i++)
		if (kc->peers[i] == id)
			return (int)i;
	return -1;
}

const char *kconfig_format_size(uint64_t bytes, char *buf, unsigned size)
{
	static const char *const units[] = {"GiB", "MiB", "KiB"};

	for (unsigned i = 0; i < 3; i++) {
		unsigned shift = 30 - 10 * i;

		if (bytes && bytes % (1ull << shift) == 0) {
			snprintf(buf, size, "%llu %s",
				 (unsigned long long)(bytes >> shift), units[i]);
			return buf;
		}
	}
	snprintf(buf, size, "%llu B", (unsigned long long)bytes);
	return buf;
}
