/*
 * libFuzzer target for the cluster manifest parser
 * (tools/tessera/manifest.c), whose input is a file a user wrote.
 *
 * The input is the YAML text, as it is: not NUL-terminated (libFuzzer's
 * buffer is exactly that long, so ASan catches a read past it). The parser
 * must return 0 or -1 and never crash, leak or hang. On -1 the message
 * must be one NUL-terminated line "fuzz.yaml:LINE: ..." with a plausible
 * LINE, and it is cut cleanly into a tiny buffer too. On 0 the
 * manifest must keep every promise of manifest.h: ids in order, names
 * valid and unique, roles present, sizes and fabricd's settings within
 * their limits, the ExCache inside the window, backups and vNode members
 * of the right role.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <tessera/manifest.h>

#define PATH "fuzz.yaml"

static void check(bool ok)
{
	if (!ok)
		abort();
}

static bool pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static bool name_valid(const char *s)
{
	size_t n = strnlen(s, MF_NAME_MAX);

	if (n == 0 || n >= MF_NAME_MAX || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static void check_error(const char *err, size_t size)
{
	size_t n = strnlen(err, MF_ERR_MAX);
	char *end;
	long line;

	check(n > 0 && n < MF_ERR_MAX && !strchr(err, '\n'));
	if (!strncmp(err, PATH ": ", strlen(PATH) + 2))
		return; /* no line: only manifest_load's file errors */
	check(!strncmp(err, PATH ":", strlen(PATH) + 1));
	line = strtol(err + strlen(PATH) + 1, &end, 10);
	check(*end == ':');
	/* YAML also breaks lines at \r, NEL and U+2028 (in UTF-16 too): bound
	 * the line by the size only. */
	check(line >= 1 && (size_t)line <= size + 1);
}

static void check_node(const struct manifest *m, unsigned i)
{
	const struct mf_node *n = &m->nodes[i];

	check(n->id == i + 1 && name_valid(n->name) && manifest_node(m, n->name) == n);
	check(n->cpus >= 1 && n->cpus <= 8);
	check(n->ram >= (32ull << 20) && n->ram <= (16ull << 30) &&
	      !(n->ram % (1 << 20)));
	check(pow2(n->window) && n->window >= (1 << 20) && n->window <= (1ull << 30));
	check(n->line >= 1);
	check(strlen(mf_role_name(n->role)) > 1);
	if (n->role == MF_PROCESSOR) {
		check(pow2(n->excache_size) && n->excache_size >= (64 << 10));
		check(n->excache_size <= n->window / 2);
		check(pow2(n->excache_ways) && n->excache_ways <= 64);
		check(n->excache_ways <= n->excache_size / 4096);
		check(strlen(mf_policy_name(n->excache_policy)) > 1);
	}
	if (n->backup[0]) {
		const struct mf_node *b = manifest_node(m, n->backup);

		check(n->role == MF_MEMORY && b && b != n && b->role == MF_MEMORY);
	}
	if (n->role == MF_STORAGE) {
		check(!(n->disk_image[0] && n->disk_dir[0]));
		check(n->disk_image[0] ? n->disk_size == 0
				       : n->disk_size >= (1 << 20) &&
						 n->disk_size <= (64ull << 30));
	} else {
		check(!n->disk_image[0] && !n->disk_dir[0] && !n->disk_size);
	}
}

/* n may be 0 only in a self-test cluster's vNode (check_manifest checks
 * that such a vNode has some member). */
static void check_members(const struct manifest *m, const unsigned *list, unsigned n,
			  enum mf_role role)
{
	check((m->selftest || n >= 1) && n <= MF_MAX_NODES);
	for (unsigned i = 0; i < n; i++) {
		check(list[i] < m->nnodes && m->nodes[list[i]].role == role);
		for (unsigned j = 0; j < i; j++)
			check(list[j] != list[i]);
	}
}

static void check_manifest(const struct manifest *m)
{
	unsigned roles[4] = {0}, tests = 0;

	check(name_valid(m->name) && !strcmp(m->path, PATH));
	check(pow2(m->fabric.window));
	check(m->fabric.latency_us >= 0 && m->fabric.latency_us <= 1e6);
	check(m->fabric.bandwidth_gbps >= 0 && m->fabric.bandwidth_gbps <= 1e4);
	check(m->fabric.poll_us <= MF_MAX_FABRIC_US);
	check(m->fabric.cq_retry_us >= MF_MIN_CQ_RETRY_US &&
	      m->fabric.cq_retry_us <= MF_MAX_FABRIC_US);
	check(m->nnodes >= (m->selftest ? 1 : 4) && m->nnodes <= MF_MAX_NODES);
	for (unsigned i = 0; i < m->nnodes; i++) {
		check_node(m, i);
		roles[m->nodes[i].role]++;
		tests += m->nodes[i].ktest[0] != '\0';
		check(!m->nodes[i].ktest[0] || mf_ktest_ok(m->nodes[i].ktest));
	}
	check(roles[MF_GLOBAL] <= 1);
	check(m->selftest == (tests == m->nnodes));
	if (!m->selftest) { /* a self-test cluster: any roles, vNodes optional */
		check(roles[MF_PROCESSOR] && roles[MF_MEMORY] && roles[MF_STORAGE]);
		check(roles[MF_GLOBAL] == 1);
	}
	check(m->nvnodes >= (m->selftest ? 0 : 1) && m->nvnodes <= MF_MAX_VNODES);
	for (unsigned i = 0; i < m->nvnodes; i++) {
		const struct mf_vnode *v = &m->vnodes[i];

		check(name_valid(v->name) && manifest_vnode(m, v->name) == v);
		check(v->nprocessors + v->nmemories + v->nstorages >= 1);
		check_members(m, v->processors, v->nprocessors, MF_PROCESSOR);
		check_members(m, v->memories, v->nmemories, MF_MEMORY);
		check_members(m, v->storages, v->nstorages, MF_STORAGE);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct manifest m;
	char err[MF_ERR_MAX], tiny[8];
	int rc;

	memset(err, 'x', sizeof(err));
	rc = manifest_parse(PATH, (const char *)data, size, &m, err, sizeof(err));
	check(rc == 0 || rc == -1);
	if (rc == 0) {
		check_manifest(&m);
		return 0;
	}
	check_error(err, size);
	/* The same text into a small buffer: the message cut, NUL-terminated. */
	memset(tiny, 'x', sizeof(tiny));
	check(manifest_parse(PATH, (const char *)data, size, &m, tiny, sizeof(tiny)) ==
	      -1);
	check(tiny[sizeof(tiny) - 1] == '\0' && !strncmp(tiny, err, sizeof(tiny) - 1));
	return 0;
}
