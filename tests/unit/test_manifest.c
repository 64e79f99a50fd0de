/*
 * Tests of the cluster manifest parser (tools/tessera/manifest.c): the
 * example configs under configs/ (read from the files; the unit binary runs
 * from the repository root), every default, units and numbers, the limits
 * of the arrays, and a table of bad manifests, each with the exact line of
 * its message and a piece of the text (docs/manifest.md lists them all).
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tessera/manifest.h>
#include <unistd.h>

#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* The four roles, one line each: lines 1 to 5. */
#define NODES4                                                                           \
	"nodes:\n"                                                                       \
	"  - {name: p1, role: processor}\n"                                              \
	"  - {name: m1, role: memory}\n"                                                 \
	"  - {name: s1, role: storage}\n"                                                \
	"  - {name: g1, role: global}\n"

/* A processor in block style (lines 1 to 3; its next key is on line 4),
 * then REST: the other three roles. */
#define P1 "nodes:\n  - name: p1\n    role: processor\n"
#define REST                                                                             \
	"  - {name: m1, role: memory}\n"                                                 \
	"  - {name: s1, role: storage}\n"                                                \
	"  - {name: g1, role: global}\n"

/* NODES4 and the start of a vNode: its next key is on line 8. */
#define VN NODES4 "vnodes:\n  - name: vn1\n"

static struct manifest m; /* large: not on the stack */

static int parse(const char *path, const char *text, char *err)
{
	return manifest_parse(path, text, strlen(text), &m, err, MF_ERR_MAX);
}

static const struct mf_node *node(const char *name)
{
	const struct mf_node *n = manifest_node(&m, name);

	EXPECT(n != NULL);
	return n;
}

/* ---- the example configs ------------------------------------------------- */

TEST(manifest_config_default)
{
	char err[MF_ERR_MAX];
	const struct mf_node *n;
	uint64_t ram = 0;

	ASSERT_EQ(manifest_load("configs/default.yaml", &m, err, sizeof(err)), 0);
	EXPECT_STREQ(m.path, "configs/default.yaml");
	EXPECT_STREQ(m.name, "default");
	EXPECT_EQ(m.fabric.window, 16 * MiB);
	EXPECT(m.fabric.latency_us == 1.5 && m.fabric.bandwidth_gbps == 56);
	ASSERT_EQ(m.nnodes, 4u);
	ASSERT((n = node("p1")) != NULL);
	EXPECT(n->id == 1 && n->role == MF_PROCESSOR && n->cpus == 2);
	EXPECT(n->ram == 256 * MiB && n->window == 16 * MiB);
	EXPECT(n->excache_size == 4 * MiB && n->excache_ways == 8);
	EXPECT(n->excache_policy == MF_POLICY_LRU);
	ASSERT((n = node("m1")) != NULL);
	EXPECT(n->id == 2 && n->role == MF_MEMORY && n->cpus == 1);
	EXPECT(n->ram == 256 * MiB && n->window == 64 * MiB && !n->backup[0]);
	ASSERT((n = node("s1")) != NULL);
	EXPECT(n->id == 3 && n->role == MF_STORAGE && n->cpus == 1);
	EXPECT(n->ram == 128 * MiB && n->window == 16 * MiB && n->disk_size == 64 * MiB);
	EXPECT(!n->disk_image[0]);
	EXPECT_STREQ(n->disk_dir, "@build/rootfs");
	ASSERT((n = node("g1")) != NULL);
	EXPECT(n->id == 4 && n->role == MF_GLOBAL && n->ram == 64 * MiB);
	for (unsigned i = 0; i < m.nnodes; i++)
		ram += m.nodes[i].ram;
	EXPECT_LE(ram, 1 * GiB); /* it runs on a 2-core laptop */
	ASSERT_EQ(m.nvnodes, 1u);
	EXPECT_STREQ(m.vnodes[0].name, "vn1");
	EXPECT(m.vnodes[0].nprocessors == 1 && m.vnodes[0].processors[0] == 0);
	EXPECT(m.vnodes[0].nmemories == 1 && m.vnodes[0].memories[0] == 1);
	EXPECT(m.vnodes[0].nstorages == 1 && m.vnodes[0].storages[0] == 2);
}

TEST(manifest_config_large)
{
	char err[MF_ERR_MAX];
	const struct mf_vnode *v;

	ASSERT_EQ(manifest_load("configs/large.yaml", &m, err, sizeof(err)), 0);
	EXPECT_STREQ(m.name, "large");
	ASSERT_EQ(m.nnodes, 6u);
	for (unsigned i = 0; i < m.nnodes; i++)
		EXPECT_EQ(m.nodes[i].id, i + 1);
	EXPECT(node("p1")->role == MF_PROCESSOR && node("p2")->role == MF_PROCESSOR);
	EXPECT(node("p2")->window == 32 * MiB && node("p2")->excache_size == 8 * MiB);
	EXPECT(node("p2")->excache_ways == 16 &&
	       node("p2")->excache_policy == MF_POLICY_CLOCK);
	EXPECT_STREQ(node("m1")->backup, "m2");
	EXPECT_STREQ(node("m2")->backup, "m1");
	EXPECT(node("g1")->role == MF_GLOBAL);
	ASSERT_EQ(m.nvnodes, 2u);
	ASSERT((v = manifest_vnode(&m, "vn2")) != NULL);
	EXPECT(v->nprocessors == 1 && m.nodes[v->processors[0]].id == 2);
	EXPECT(v->nmemories == 2 && v->memories[0] == 3 && v->memories[1] == 2);
	EXPECT(v->nstorages == 1 && m.nodes[v->storages[0]].role == MF_STORAGE);
	EXPECT(manifest_vnode(&m, "vn1") == &m.vnodes[0]);
}

/* root: default "/", as written otherwise. A node may have different
 * roots on different storage nodes, and one storage node may give
 * different nodes different roots; only one node with two roots on one
 * storage node is refused. */
TEST(manifest_vnode_roots)
{
	char err[MF_ERR_MAX] = "";
	char text[] =
		"nodes:\n"
		"  - {name: p1, role: processor}\n"
		"  - {name: p2, role: processor}\n"
		"  - {name: m1, role: memory}\n"
		"  - {name: m2, role: memory}\n"
		"  - {name: s1, role: storage}\n"
		"  - {name: s2, role: storage}\n"
		"  - {name: g1, role: global}\n"
		"vnodes:\n"
		"  - {name: vn1, processors: [p1], memories: [m1], storages: [s1]}\n"
		"  - {name: vn2, processors: [p2], memories: [m2], storages: [s1], "
		"root: /vn2}\n"
		"  - {name: vn3, processors: [p1], memories: [m1], storages: [s2], "
		"root: /.a/b-c_d.e/F9}\n"
		"  - {name: vn4, processors: [p2], memories: [m2], storages: [s1], "
		"root: /vn2}\n";
	char *at;

	if (!EXPECT_EQ(parse("t.yaml", text, err), 0))
		unit_diag("%s", err);
	ASSERT_EQ(m.nvnodes, 4u);
	EXPECT_STREQ(m.vnodes[0].root, "/");
	EXPECT_STREQ(m.vnodes[1].root, "/vn2");
	EXPECT_STREQ(m.vnodes[2].root, "/.a/b-c_d.e/F9");
	EXPECT_STREQ(m.vnodes[3].root, "/vn2");

	/* vn3 on s1 too: p1 would see '/' (vn1) and '/.a/...' there */
	at = strstr(text, "storages: [s2]");
	ASSERT(at != NULL);
	at[12] = '1';
	EXPECT_EQ(parse("t.yaml", text, err), -1);
	EXPECT_STREQ(err, "t.yaml:12: vnode 'vn3': root: '/.a/b-c_d.e/F9' differs from "
			  "'/' of vnode 'vn1' (line 10) for node 'p1' on storage 's1' (a "
			  "node sees one directory of each storage node)");

	ASSERT_EQ(parse("t.yaml", NODES4, err), 0); /* the default vNode */
	EXPECT_STREQ(m.vnodes[0].root, "/");
}

TEST(manifest_config_minimal)
{
	char err[MF_ERR_MAX];

	ASSERT_EQ(manifest_load("configs/minimal.yaml", &m, err, sizeof(err)), 0);
	EXPECT_STREQ(m.name, "minimal");
	EXPECT(m.fabric.latency_us == 0 && m.fabric.bandwidth_gbps == 0);
	EXPECT_EQ(m.fabric.poll_us, 10u); /* fabricd's own defaults */
	EXPECT_EQ(m.fabric.cq_retry_us, 1000u);
	ASSERT_EQ(m.nnodes, 4u);
	for (unsigned i = 0; i < m.nnodes; i++)
		EXPECT_EQ(m.nodes[i].cpus, 1u);
	EXPECT_EQ(node("p1")->window, 4 * MiB);	      /* fabric.window */
	EXPECT_EQ(node("p1")->excache_size, 1 * MiB); /* window / 4 */
	EXPECT_EQ(node("m1")->window, 16 * MiB);
	/* No vnodes section: vn1 of every processor, memory and storage. */
	ASSERT_EQ(m.nvnodes, 1u);
	EXPECT_STREQ(m.vnodes[0].name, "vn1");
	EXPECT(m.vnodes[0].nprocessors == 1 && m.vnodes[0].nmemories == 1 &&
	       m.vnodes[0].nstorages == 1);
}

/* ---- defaults and value forms -------------------------------------------- */

TEST(manifest_defaults)
{
	char err[MF_ERR_MAX] = "";

	ASSERT_EQ(parse("some/dir/lab-2.yaml", NODES4, err), 0);
	EXPECT_STREQ(m.path, "some/dir/lab-2.yaml");
	EXPECT_STREQ(m.name, "lab-2"); /* from the file name */
	EXPECT_STREQ(err, "");
	EXPECT_EQ(m.fabric.window, 16 * MiB);
	EXPECT(m.fabric.latency_us == 0 && m.fabric.bandwidth_gbps == 0);
	ASSERT_EQ(m.nnodes, 4u);
	for (unsigned i = 0; i < 4; i++) {
		const struct mf_node *n = &m.nodes[i];

		EXPECT_EQ(n->id, i + 1);
		EXPECT_EQ(n->line, (int)i + 2);
		EXPECT_EQ(n->cpus, 1u);
		EXPECT_EQ(n->ram, 128 * MiB);
		EXPECT_EQ(n->window, 16 * MiB);
		EXPECT(n->role == (enum mf_role)i);
	}
	EXPECT(m.nodes[0].excache_size == 4 * MiB && m.nodes[0].excache_ways == 8);
	EXPECT(m.nodes[0].excache_policy == MF_POLICY_LRU);
	EXPECT(m.nodes[1].excache_size == 0 && m.nodes[1].excache_ways == 0);
	EXPECT_EQ(m.nodes[2].disk_size, 64 * MiB);
	EXPECT_EQ(m.nodes[1].disk_size, 0u);
	ASSERT_EQ(m.nvnodes, 1u);
	EXPECT_STREQ(m.vnodes[0].name, "vn1");
	EXPECT_EQ(m.vnodes[0].line, 1);
	EXPECT(m.vnodes[0].processors[0] == 0 && m.vnodes[0].memories[0] == 1 &&
	       m.vnodes[0].storages[0] == 2);
}

TEST(manifest_cluster_name_from_file)
{
	char err[MF_ERR_MAX];

	ASSERT_EQ(parse("x.yml", NODES4, err), 0);
	EXPECT_STREQ(m.name, "x");
	ASSERT_EQ(parse("plain", NODES4, err), 0);
	EXPECT_STREQ(m.name, "plain");
	ASSERT_EQ(parse("Big Lab.yaml", "cluster: big-lab\n" NODES4, err), 0);
	EXPECT_STREQ(m.name, "big-lab"); /* cluster: wins */
	EXPECT_EQ(parse("dir/Big Lab.yaml", NODES4, err), -1);
	EXPECT(strstr(err, "dir/Big Lab.yaml:1: the file name does not make a valid "
			   "cluster name; add 'cluster: NAME'") == err);
	EXPECT_EQ(parse(".yaml", NODES4, err), -1);
	EXPECT_EQ(parse("a-very-long-file-name-of-32-chars.yaml", NODES4, err), -1);
	EXPECT(strstr(err, ":1: the file name") != NULL);
}

/* fabricd's waiting: fabricd's own limits, both ends. */
TEST(manifest_fabric_polling)
{
	char err[MF_ERR_MAX];

	ASSERT_EQ(parse("t.yaml", "fabric:\n  poll_us: 0\n  cq_retry_us: 10\n" NODES4, err),
		  0);
	EXPECT_EQ(m.fabric.poll_us, 0u);
	EXPECT_EQ(m.fabric.cq_retry_us, 10u);
	ASSERT_EQ(parse("t.yaml",
			"fabric: {poll_us: 10000000, cq_retry_us: 10000000, link: ib56}\n"
			NODES4, err),
		  0);
	EXPECT_EQ(m.fabric.poll_us, 10000000u);
	EXPECT_EQ(m.fabric.cq_retry_us, 10000000u);
	EXPECT(m.fabric.latency_us == 1.5); /* the preset is untouched */
}

TEST(manifest_sizes_and_numbers)
{
	char err[MF_ERR_MAX];
	const char *text =
		"fabric: {window: 2MiB, latency_us: .25, bandwidth_gbps: 7.}\n" P1
		"    ram: 32768K\n"
		"    window: 1 G\n"
		"    excache: {size: 512MiB, ways: 64, policy: clock}\n"
		"  - {name: m1, role: memory, ram: 16GiB, cpus: 8}\n"
		"  - {name: s1, role: storage, disk: {size: 64G}}\n"
		"  - {name: g1, role: global, window: 1M}\n";

	ASSERT_EQ(parse("t.yaml", text, err), 0);
	EXPECT_EQ(m.fabric.window, 2 * MiB);
	EXPECT(m.fabric.latency_us == 0.25 && m.fabric.bandwidth_gbps == 7);
	EXPECT_EQ(m.fabric.poll_us, 10u);
	EXPECT_EQ(node("p1")->ram, 32 * MiB);
	EXPECT_EQ(node("p1")->window, 1 * GiB);
	EXPECT(node("p1")->excache_size == 512 * MiB && node("p1")->excache_ways == 64);
	EXPECT(node("p1")->excache_policy == MF_POLICY_CLOCK);
	EXPECT(node("m1")->ram == 16 * GiB && node("m1")->cpus == 8);
	EXPECT_EQ(node("s1")->disk_size, 64 * GiB);
	EXPECT_EQ(node("g1")->window, 1 * MiB);
}

TEST(manifest_link_preset_and_overrides)
{
	char err[MF_ERR_MAX];

	ASSERT_EQ(parse("t.yaml", "fabric: {link: ib56}\n" NODES4, err), 0);
	EXPECT(m.fabric.latency_us == 1.5 && m.fabric.bandwidth_gbps == 56);
	/* An override wins whether it comes before or after link. */
	ASSERT_EQ(parse("t.yaml", "fabric: {latency_us: 3, link: ib56}\n" NODES4, err),
		  0);
	EXPECT(m.fabric.latency_us == 3 && m.fabric.bandwidth_gbps == 56);
	ASSERT_EQ(
		parse("t.yaml", "fabric: {link: ib56, bandwidth_gbps: 0}\n" NODES4, err),
		0);
	EXPECT(m.fabric.latency_us == 1.5 && m.fabric.bandwidth_gbps == 0);
	ASSERT_EQ(parse("t.yaml", "fabric: {link: none, latency_us: 1000000}\n" NODES4,
			err),
		  0);
	EXPECT(m.fabric.latency_us == 1e6 && m.fabric.bandwidth_gbps == 0);
}

TEST(manifest_node_window_inherits)
{
	char err[MF_ERR_MAX];

	ASSERT_EQ(parse("t.yaml", "fabric: {window: 64M}\n" NODES4, err), 0);
	EXPECT(node("p1")->window == 64 * MiB && node("g1")->window == 64 * MiB);
	EXPECT_EQ(node("p1")->excache_size, 16 * MiB); /* a quarter of it */
}

/* Every node with ktest: a self-test cluster, without every role and without
 * vNodes unless it lists some; with one node that has none, an ordinary
 * cluster. */
TEST(manifest_selftest_clusters)
{
	char err[MF_ERR_MAX];

	ASSERT_EQ(manifest_load("tests/cluster/fabric.yaml", &m, err, sizeof(err)), 0);
	EXPECT(m.selftest);
	ASSERT_EQ(m.nnodes, 3u);
	EXPECT_EQ(m.nvnodes, 0u);
	for (unsigned i = 0; i < m.nnodes; i++)
		EXPECT_STREQ(m.nodes[i].ktest, "cluster:fabric_");
	ASSERT_EQ(parse("t.yaml", P1 "    ktest: Cluster:bench_1\n", err), 0);
	EXPECT(m.selftest && m.nnodes == 1 && m.nvnodes == 0);
	EXPECT_STREQ(node("p1")->ktest, "Cluster:bench_1");
	ASSERT_EQ(parse("t.yaml",
			"nodes:\n  - {name: p1, role: processor, ktest: \"cluster:x\"}\n"
			"  - {name: m1, role: memory}\n  - {name: s1, role: storage}\n"
			"  - {name: g1, role: global}\n",
			err),
		  0);
	EXPECT(!m.selftest && m.nvnodes == 1);
	EXPECT_STREQ(node("p1")->ktest, "cluster:x");
	EXPECT_STREQ(node("m1")->ktest, "");
	/* a self-test cluster's vNode wires nodes: lists may be left out */
	ASSERT_EQ(parse("t.yaml",
			"nodes:\n  - {name: p1, role: processor, ktest: b}\n"
			"  - {name: s2, role: storage, ktest: b, disk: {image: d.img}}\n"
			"vnodes:\n  - {name: wire, processors: [p1], storages: [s2], root: /bench}\n",
			err),
		  0);
	EXPECT(m.selftest && m.nvnodes == 1);
	EXPECT(m.vnodes[0].nprocessors == 1 && m.vnodes[0].nmemories == 0 &&
	       m.vnodes[0].nstorages == 1);
	EXPECT_STREQ(m.vnodes[0].root, "/bench");
	EXPECT_STREQ(node("s2")->disk_image, "d.img");
	EXPECT(mf_ktest_ok("cluster:fabric_") && mf_ktest_ok("a") && !mf_ktest_ok("") &&
	       !mf_ktest_ok("a b") && !mf_ktest_ok("a=b"));
}

TEST(manifest_disk_forms)
{
	char err[MF_ERR_MAX];
	const char *text =
		"nodes:\n"
		"  - {name: p1, role: processor}\n"
		"  - {name: m1, role: memory, backup: m2}\n"
		"  - {name: m2, role: memory}\n"
		"  - {name: s1, role: storage, disk: {image: disks/root.img}}\n"
		"  - {name: s2, role: storage, disk: {dir: rootfs/, size: 2G}}\n"
		"  - {name: s3, role: storage, disk: {dir: \"my files/\"}}\n"
		"  - {name: g1, role: global}\n";

	ASSERT_EQ(parse("t.yaml", text, err), 0);
	EXPECT_STREQ(node("s1")->disk_image, "disks/root.img");
	EXPECT(!node("s1")->disk_dir[0] && node("s1")->disk_size == 0);
	EXPECT_STREQ(node("s2")->disk_dir, "rootfs/");
	EXPECT_EQ(node("s2")->disk_size, 2 * GiB);
	EXPECT_STREQ(node("s3")->disk_dir, "my files/");
	EXPECT_EQ(node("s3")->disk_size, 64 * MiB);
	EXPECT_STREQ(node("m1")->backup, "m2");
	EXPECT_STREQ(node("m2")->backup, "");
	/* The default vNode takes every memory and storage node, in order. */
	EXPECT(m.vnodes[0].nmemories == 2 && m.vnodes[0].nstorages == 3);
	EXPECT(m.vnodes[0].storages[2] == 5);
}

TEST(manifest_lookups_and_names)
{
	char err[MF_ERR_MAX];

	ASSERT_EQ(parse("t.yaml", NODES4, err), 0);
	EXPECT(manifest_node(&m, "s1") == &m.nodes[2]);
	EXPECT(manifest_node(&m, "s2") == NULL);
	EXPECT(manifest_node(&m, "") == NULL);
	EXPECT(manifest_node(&m, NULL) == NULL);
	EXPECT(manifest_vnode(&m, "vn1") == &m.vnodes[0]);
	EXPECT(manifest_vnode(&m, "p1") == NULL);
	EXPECT_STREQ(mf_role_name(MF_PROCESSOR), "processor");
	EXPECT_STREQ(mf_role_name(MF_MEMORY), "memory");
	EXPECT_STREQ(mf_role_name(MF_STORAGE), "storage");
	EXPECT_STREQ(mf_role_name(MF_GLOBAL), "global");
	EXPECT_STREQ(mf_role_name((enum mf_role)9), "?");
	EXPECT_STREQ(mf_policy_name(MF_POLICY_LRU), "lru");
	EXPECT_STREQ(mf_policy_name(MF_POLICY_FIFO), "fifo");
	EXPECT_STREQ(mf_policy_name(MF_POLICY_RANDOM), "random");
	EXPECT_STREQ(mf_policy_name(MF_POLICY_CLOCK), "clock");
	EXPECT_STREQ(mf_policy_name((enum mf_policy) - 1), "?");
}

/* ---- limits of the arrays ------------------------------------------------ */

/* NODES4 plus extra memory nodes x1, x2, ... (total nodes), then nvn vNodes. */
static char *big_manifest(unsigned total, unsigned nvn)
{
	size_t cap = 64 * 1024, len;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	len = (size_t)snprintf(s, cap, "%s", NODES4);
	for (unsigned i = 5; i <= total; i++)
		len += (size_t)snprintf(s + len, cap - len,
					"  - {name: x%u, role: memory}\n", i);
	if (nvn)
		len += (size_t)snprintf(s + len, cap - len, "vnodes:\n");
	for (unsigned i = 1; i <= nvn; i++)
		len += (size_t)snprintf(
			s + len, cap - len,
			"  - {name: v%u, processors: [p1], memories: [m1], "
			"storages: [s1]}\n",
			i);
	return s;
}

TEST(manifest_node_and_vnode_limits)
{
	char err[MF_ERR_MAX];
	char *s;

	ASSERT((s = big_manifest(MF_MAX_NODES, MF_MAX_VNODES)) != NULL);
	EXPECT_EQ(parse("t.yaml", s, err), 0);
	EXPECT_EQ(m.nnodes, (unsigned)MF_MAX_NODES);
	EXPECT_EQ(m.nvnodes, (unsigned)MF_MAX_VNODES);
	EXPECT_EQ(m.nodes[MF_MAX_NODES - 1].id, (unsigned)MF_MAX_NODES);
	free(s);

	ASSERT((s = big_manifest(MF_MAX_NODES + 1, 0)) != NULL);
	EXPECT_EQ(parse("t.yaml", s, err), -1);
	EXPECT_STREQ(err, "t.yaml:17: too many nodes: at most 15 (each node has only 16 "
			  "fabric queue pairs, one per peer)");
	free(s);

	ASSERT((s = big_manifest(4, MF_MAX_VNODES + 1)) != NULL);
	EXPECT_EQ(parse("t.yaml", s, err), -1);
	EXPECT_STREQ(err, "t.yaml:23: too many vnodes: at most 16");
	free(s);
}

/* ---- the text and the error buffer ---------------------------------------- */

TEST(manifest_reads_only_len_bytes)
{
	const char *full = NODES4 "cluster: abc\n";
	size_t len = strlen(full) - 3; /* ends in "cluster: a" */
	char *text = malloc(len);      /* no NUL: ASan catches a read past it */
	char err[MF_ERR_MAX];

	ASSERT(text != NULL);
	memcpy(text, full, len);
	EXPECT_EQ(manifest_parse("t.yaml", text, len, &m, err, sizeof(err)), 0);
	EXPECT_STREQ(m.name, "a");
	EXPECT_EQ(manifest_parse("t.yaml", text, 0, &m, err, sizeof(err)), -1);
	EXPECT_STREQ(err,
		     "t.yaml:1: empty manifest (expected a mapping with a 'nodes' key)");
	free(text);
}

TEST(manifest_error_buffer)
{
	char small[12];

	memset(small, 'x', sizeof(small));
	EXPECT_EQ(manifest_parse("t.yaml", "nodes: 1\n", 9, &m, small, sizeof(small)),
		  -1);
	EXPECT_STREQ(small, "t.yaml:1: n"); /* cut, NUL-terminated */
	EXPECT_EQ(manifest_parse("t.yaml", "nodes: 1\n", 9, &m, NULL, 0), -1);
	EXPECT_EQ(manifest_parse(NULL, NULL, 0, &m, small, sizeof(small)), -1);
}

TEST(manifest_load_file_errors)
{
	char err[MF_ERR_MAX], path[] = "/tmp/tessera-manifest-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	EXPECT_EQ(manifest_load("configs/no-such.yaml", &m, err, sizeof(err)), -1);
	EXPECT_STREQ(err, "configs/no-such.yaml: No such file or directory");
	EXPECT_EQ(manifest_load("configs", &m, err, sizeof(err)), -1);
	EXPECT_STREQ(err, "configs: Is a directory");

	ASSERT(fd >= 0);
	ASSERT((f = fdopen(fd, "w")) != NULL);
	fputs("cluster: big\n", f); /* a comment makes it 1 MiB + 1 */
	for (long n = 13; n < (1 << 20) + 1; n++)
		fputc(n == 13 ? '#' : 'x', f);
	fclose(f);
	EXPECT_EQ(manifest_load(path, &m, err, sizeof(err)), -1);
	EXPECT(strstr(err, ": larger than 1 MiB: not a manifest") != NULL);
	EXPECT(strncmp(err, path, strlen(path)) == 0);
	unlink(path);
}

/* ---- bad manifests -------------------------------------------------------- */

struct bad {
	const char *text;
	int line;	 /* expected line of the message */
	const char *msg; /* a piece of it */
};

static const struct bad bad[] = {
	/* YAML itself, and the top level */
	{"", 1, "empty manifest (expected a mapping with a 'nodes' key)"},
	{"# only a comment\n\n", 1, "empty manifest"},
	{"- p1\n", 1,
	 "a manifest is a mapping (cluster:, fabric:, nodes:, vnodes:), not a list"},
	{"cluster: x\nfabric: a: b\n", 2,
	 "YAML syntax error: mapping values are not allowed in this context"},
	{"cluster: x\nnodes: [a, b\n", 3,
	 "YAML syntax error: did not find expected ',' or ']'"},
	{"cluster: x\n\nfabric:\n\t- a\n", 4,
	 "found character that cannot start any token"},
	{"cluster: x\nfabric: \xff\n", 2, "unreadable text: invalid leading UTF-8 octet"},
	{"cluster: x\nnode: []\n", 2,
	 "unknown key 'node' (allowed: cluster, fabric, nodes, vnodes)"},
	{NODES4 "nodes: []\n", 6, "nodes: duplicate key (first on line 1)"},
	{NODES4 "vnodes: *v\n", 6, "anchors and aliases are not supported"},
	{"cluster: &c big\n" NODES4, 1, "aliases are not supported"},
	{NODES4 "cluster: !!str big\n", 6, "tags (!...) are not supported"},
	{NODES4 "---\ncluster: b\n", 6, "a second YAML document"},
	{"cluster: [[[[[[[[[x]]]]]]]]]\n", 1, "nested more than 8 levels deep"},
	{"cluster: x\n? [a]\n: b\n", 2,
	 "a mapping key must be a single value, not a list"},
	{"cluster: \"a\\0b\"\n", 1, "NUL characters are not allowed"},
	{"cluster: x\n", 1, "no 'nodes' key (a cluster needs nodes)"},
	/* wrong types */
	{"fabric: [1]\n" NODES4, 1,
	 "fabric: expected a mapping (key: value lines), found a list"},
	{"fabric:\n" NODES4, 1,
	 "fabric: expected a mapping (key: value lines), found an empty value"},
	{"nodes: p1\n", 1,
	 "nodes: expected a list (- item lines or [a, b]), found a single value"},
	{"nodes:\n  - p1\n", 2,
	 "node #1: expected a mapping (name:, role:, ...), found a single value"},
	{P1 "    ram: [1]\n" REST, 4,
	 "node 'p1': ram: expected a single value (a scalar), found a list"},
	{P1 "    ram:\n" REST, 4, "node 'p1': ram: no value"},
	{P1 "    excache: 4M\n" REST, 4, "excache: expected a mapping"},
	/* keys */
	{P1 "    cpu: 2\n" REST, 4,
	 "node 'p1': unknown key 'cpu' (allowed: name, role, cpus, ram, window, excache, "
	 "backup, disk, ktest)"},
	{P1 "    cpus: 1\n    cpus: 2\n" REST, 5,
	 "node 'p1': cpus: duplicate key (first on line 4)"},
	{"fabric: {window: 4M, speed: 1}\n" NODES4, 1,
	 "fabric: unknown key 'speed' (allowed: window, link, latency_us, "
	 "bandwidth_gbps, poll_us, cq_retry_us)"},
	{"fabric:\n  poll_us: 5\n  window: 4M\n  poll_us: 6\n" NODES4, 4,
	 "fabric: poll_us: duplicate key (first on line 2)"},
	/* names */
	{"nodes:\n  - {name: P1, role: processor}\n", 2,
	 "node #1: name: 'P1' is not a valid name (1 to 31 characters of a-z, 0-9, _ and "
	 "-, starting with a letter)"},
	{"nodes:\n  - {name: 1p, role: processor}\n", 2, "'1p' is not a valid name"},
	{"nodes:\n  - {name: p.1, role: processor}\n", 2, "'p.1' is not a valid name"},
	{"nodes:\n  - {name: abcdefghijabcdefghijabcdefghij12, role: processor}\n", 2,
	 "name: 'abcdefghijabcdefghijabcdefghij12' is too long (at most 31 characters)"},
	{"nodes:\n  - {name: control, role: processor}\n", 2,
	 "name: 'control' is reserved"},
	{P1 REST "  - {name: m1, role: memory}\n", 7,
	 "node #5: name: node 2 (line 4) already has the name 'm1'"},
	{"cluster: Big\n" NODES4, 1, "cluster: 'Big' is not a valid name"},
	/* sizes */
	{P1 "    ram: 512\n" REST, 4,
	 "node 'p1': ram: '512' has no unit (use K, M or G)"},
	{P1 "    ram: 64MB\n" REST, 4,
	 "ram: '64MB' has an unknown unit (use K, M or G, or KiB, MiB, GiB)"},
	{P1 "    ram: lots\n" REST, 4,
	 "ram: 'lots' is not a size (a whole number and a unit"},
	{P1 "    ram: -64M\n" REST, 4, "ram: '-64M' is not a size"},
	{P1 "    ram: 99999999999999999999M\n" REST, 4,
	 "ram: '99999999999999999999M' is too large"},
	{P1 "    ram: 20000000000G\n" REST, 4, "ram: '20000000000G' is too large"},
	{P1 "    ram: 16M\n" REST, 4, "ram: 16M is less than the minimum, 32M"},
	{P1 "    ram: 32G\n" REST, 4, "ram: 32G is more than the maximum, 16G"},
	{P1 "    ram: 33000K\n" REST, 4, "ram: 33000K is not a multiple of 1M"},
	{"fabric:\n  link: ib56\n  window: 24M\n" NODES4, 3,
	 "fabric: window: 24M is not a power of two"},
	{"fabric: {window: 512K}\n" NODES4, 1,
	 "window: 512K is less than the minimum, 1M"},
	{P1 "    window: 2G\n" REST, 4,
	 "node 'p1': window: 2G is more than the maximum, 1G"},
	/* numbers */
	{P1 "    cpus: 9\n" REST, 4, "node 'p1': cpus: 9 is out of range (1 to 8)"},
	{P1 "    cpus: 0\n" REST, 4, "cpus: 0 is out of range (1 to 8)"},
	{P1 "    cpus: 1.5\n" REST, 4, "cpus: '1.5' is not a whole number"},
	{"fabric: {latency_us: -1}\n" NODES4, 1,
	 "fabric: latency_us: '-1' is not a number (a decimal such as 1.5, not "
	 "negative)"},
	{"fabric: {latency_us: 1e3}\n" NODES4, 1, "latency_us: '1e3' is not a number"},
	{"fabric: {latency_us: .nan}\n" NODES4, 1, "latency_us: '.nan' is not a number"},
	{"fabric: {latency_us: 1000000.5}\n" NODES4, 1,
	 "latency_us: 1000000.5 is more than 1000000"},
	{"fabric: {bandwidth_gbps: 10001}\n" NODES4, 1,
	 "bandwidth_gbps: 10001 is more than 10000"},
	{"fabric: {bandwidth_gbps: 0.0005}\n" NODES4, 1,
	 "bandwidth_gbps: 0.0005 is too small (0 for unlimited, or at least 0.001)"},
	{"fabric: {latency_us: 1.1234567890123456}\n" NODES4, 1,
	 "has more than 15 digits"},
	{"fabric:\n  window: 4M\n  poll_us: 2.5\n" NODES4, 3,
	 "fabric: poll_us: '2.5' is not a whole number"},
	{"fabric: {poll_us: -1}\n" NODES4, 1, "fabric: poll_us: '-1' is not a whole number"},
	{"fabric: {poll_us: 10000001}\n" NODES4, 1,
	 "fabric: poll_us: 10000001 is out of range (0 to 10000000)"},
	{"fabric: {poll_us: 99999999999999999999999}\n" NODES4, 1,
	 "poll_us: 99999999999999999999999 is out of range (0 to 10000000)"},
	{"fabric:\n\n  cq_retry_us: 9\n" NODES4, 3,
	 "fabric: cq_retry_us: 9 is out of range (10 to 10000000)"},
	{"fabric: {cq_retry_us: 0}\n" NODES4, 1,
	 "fabric: cq_retry_us: 0 is out of range (10 to 10000000)"},
	{"fabric: {cq_retry_us: 10000001}\n" NODES4, 1,
	 "cq_retry_us: 10000001 is out of range (10 to 10000000)"},
	{"fabric: {cq_retry_us: }\n" NODES4, 1, "fabric: cq_retry_us: no value"},
	{"fabric: {link: ib100}\n" NODES4, 1,
	 "fabric: link: 'ib100' is not one of: none, ib56"},
	/* roles */
	{"nodes:\n  - {name: p1, role: cpu}\n", 2,
	 "node 'p1': role: 'cpu' is not one of: processor, memory, storage, global"},
	{"nodes:\n  - name: p1\n", 2,
	 "node 'p1': no role (processor, memory, storage or global)"},
	{"nodes:\n  - role: processor\n", 2,
	 "node #1: no name (every node needs a name and a role)"},
	{"nodes:\n  - name: m1\n    role: memory\n    excache: {size: 1M}\n", 4,
	 "node 'm1': excache: only processor nodes have an ExCache"},
	{P1 "    backup: m1\n" REST, 4,
	 "node 'p1': backup: only memory nodes have a backup"},
	{"nodes:\n  - name: m1\n    role: memory\n    disk: {size: 1G}\n", 4,
	 "node 'm1': disk: only storage nodes have a disk"},
	{"nodes:\n  - {name: p1, role: processor}\n  - {name: s1, role: storage}\n"
	 "  - {name: g1, role: global}\n",
	 1, "no node with role memory"},
	{"cluster: c\nnodes:\n  - {name: m1, role: memory}\n  - {name: s1, role: "
	 "storage}\n"
	 "  - {name: g1, role: global}\n",
	 2, "no node with role processor"},
	{"nodes:\n  - {name: p1, role: processor}\n  - {name: m1, role: memory}\n"
	 "  - {name: g1, role: global}\n",
	 1, "no node with role storage"},
	{"nodes:\n  - {name: p1, role: processor}\n  - {name: m1, role: memory}\n"
	 "  - {name: s1, role: storage}\n",
	 1, "no node with role global"},
	{NODES4 "  - name: g2\n    role: global\n", 7,
	 "node 'g2': only one global node is supported for now"},
	/* the ExCache */
	{P1 "    excache:\n      size: 16M\n" REST, 5,
	 "node 'p1': excache: size: 16M is more than half the 16M window (at most 8M)"},
	{P1 "    excache:\n      size: 8M\n    window: 8M\n" REST, 5,
	 "excache: size: 8M is more than half the 8M window (at most 4M)"},
	{P1 "    excache: {size: 96K}\n" REST, 4,
	 "excache: size: 96K is not a power of two"},
	{P1 "    excache: {size: 32K}\n" REST, 4,
	 "excache: size: 32K is less than the minimum, 64K"},
	{P1 "    excache: {ways: 3}\n" REST, 4, "excache: ways: 3 is not a power of two"},
	{P1 "    excache: {ways: 128}\n" REST, 4,
	 "excache: ways: 128 is out of range (1 to 64)"},
	{P1 "    excache:\n      ways: 32\n      size: 64K\n" REST, 5,
	 "excache: ways: 32 is more than the 16 4K lines of a 64K ExCache"},
	{P1 "    excache: {policy: lfu}\n" REST, 4,
	 "excache: policy: 'lfu' is not one of: lru, fifo, random, clock"},
	{P1 "    excache: {sets: 4}\n" REST, 4,
	 "node 'p1': excache: unknown key 'sets' (allowed: size, ways, policy)"},
	/* backups */
	{P1 "  - {name: m1, role: memory, backup: m9}\n  - {name: s1, role: storage}\n"
	    "  - {name: g1, role: global}\n",
	 4, "node 'm1': backup: no node named 'm9'"},
	{P1 "  - {name: m1, role: memory, backup: m1}\n  - {name: s1, role: storage}\n"
	    "  - {name: g1, role: global}\n",
	 4, "node 'm1': backup: a node cannot be its own backup"},
	{P1 "  - {name: m1, role: memory, backup: p1}\n  - {name: s1, role: storage}\n"
	    "  - {name: g1, role: global}\n",
	 4, "node 'm1': backup: 'p1' is a processor node, not a memory node"},
	/* disks */
	{"nodes:\n  - name: s1\n    role: storage\n    disk:\n      image: a.img\n"
	 "      dir: rootfs/\n",
	 6, "node 's1': disk: image and dir exclude each other"},
	{"nodes:\n  - name: s1\n    role: storage\n    disk:\n      image: a.img\n"
	 "      size: 1G\n",
	 6, "disk: size: not allowed with image (the image file has its own size)"},
	{"nodes:\n  - name: s1\n    role: storage\n    disk: {size: 512K}\n", 4,
	 "node 's1': disk: size: 512K is less than the minimum, 1M"},
	{"nodes:\n  - name: s1\n    role: storage\n    disk: {size: 65G}\n", 4,
	 "disk: size: 65G is more than the maximum, 64G"},
	{"nodes:\n  - name: s1\n    role: storage\n    disk: {image: \"a\\nb\"}\n", 4,
	 "disk: image: 'a?b' contains a control character"},
	{"nodes:\n  - name: s1\n    role: storage\n    disk: {file: a.img}\n", 4,
	 "disk: unknown key 'file' (allowed: image, dir, size)"},
	/* vNodes */
	{VN "    processors: [p1]\n    memories: [p1]\n    storages: [s1]\n", 9,
	 "vnode 'vn1': memories: 'p1' is a processor node"},
	{VN "    processors: [p1]\n    memories: [m1, m9]\n    storages: [s1]\n", 9,
	 "vnode 'vn1': no node named 'm9'"},
	{VN "    processors: [p1]\n    memories: []\n    storages: [s1]\n", 9,
	 "vnode 'vn1': memories: empty list (name at least one memory node)"},
	{VN "    processors: [p1]\n    memories: [m1]\n", 7,
	 "vnode 'vn1': no storages (a vnode needs processors, memories and storages)"},
	{VN "    processors: [p1, p1]\n    memories: [m1]\n    storages: [s1]\n", 8,
	 "vnode 'vn1': processors: 'p1' is listed twice"},
	{VN "    processors: p1\n", 8, "vnode 'vn1': processors: expected a list"},
	{VN "    processors: [p1]\n    memories: [m1]\n    storages: [s1]\n    globals: "
	    "[g1]\n",
	 11,
	 "vnode 'vn1': unknown key 'globals' (allowed: name, processors, memories, "
	 "storages, root)"},
	{VN "    processors: [p1]\n    memories: [m1]\n    storages: [s1]\n"
	    "  - {name: vn1, processors: [p1], memories: [m1], storages: [s1]}\n",
	 11, "vnode #2: name: the vnode on line 7 already has the name 'vn1'"},
	{NODES4 "vnodes: []\n", 6,
	 "vnodes: empty list (leave the key out for the default vnode vn1)"},
	{NODES4 "vnodes:\n  - {processors: [p1]}\n", 7,
	 "vnode #1: no name (every vnode needs a name)"},
	{NODES4 "vnodes:\n  - {name: VN}\n", 7,
	 "vnode #1: name: 'VN' is not a valid name"},
	{NODES4 "vnodes: {vn1: x}\n", 6, "vnodes: expected a list"},
	/* vNode roots */
	{VN "    root: vn2\n", 8,
	 "vnode 'vn1': root: 'vn2' is not an absolute path such as / or /data/vn2"},
	{VN "    root: /vn2/\n", 8, "vnode 'vn1': root: '/vn2/' is not an absolute path"},
	{VN "    root: //\n", 8, "vnode 'vn1': root: '//' is not an absolute path"},
	{VN "    root: /a//b\n", 8, "vnode 'vn1': root: '/a//b' is not"},
	{VN "    root: /a/../b\n", 8, "vnode 'vn1': root: '/a/../b' is not"},
	{VN "    root: /..\n", 8, "vnode 'vn1': root: '/..' is not"},
	{VN "    root: /.\n", 8, "vnode 'vn1': root: '/.' is not"},
	{VN "    root: /a b\n", 8, "vnode 'vn1': root: '/a b' is not"},
	{VN "    root: /a:b\n", 8, "vnode 'vn1': root: '/a:b' is not"},
	{VN "    root: '/a,b'\n", 8, "vnode 'vn1': root: '/a,b' is not"},
	{VN "    root:\n", 8, "vnode 'vn1': root: no value"},
	{VN "    root: [/]\n", 8, "vnode 'vn1': root: expected a single value"},
	{VN "    root: "
	    "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	 8,
	 "vnode 'vn1': root: '/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is too long "
	 "(at most 127 bytes)"},
	{VN
	 "    processors: [p1]\n    memories: [m1]\n    storages: [s1]\n"
	 "  - {name: vn2, processors: [p1], memories: [m1], storages: [s1], root: /x}\n",
	 11,
	 "vnode 'vn2': root: '/x' differs from '/' of vnode 'vn1' (line 7) for node 'p1' "
	 "on storage 's1' (a node sees one directory of each storage node)"},
	{VN
	 "    processors: [p1]\n    memories: [m1]\n    storages: [s1]\n    root: /a\n"
	 "  - name: vn2\n    processors: [p1]\n    memories: [m1]\n    storages: [s1]\n",
	 12, "vnode 'vn2': root: '/' differs from '/a' of vnode 'vn1' (line 7)"},
	/* ktest: self-test nodes and clusters */
	{P1 "    ktest: fabric tests\n", 4,
	 "node 'p1': ktest: 'fabric tests' is not a test filter (1 to 63 characters of "
	 "A-Z, a-z, 0-9, _ and :, such as cluster:fabric_)"},
	{P1 "    ktest: cluster:fabric-\n", 4, "ktest: 'cluster:fabric-' is not a test filter"},
	{P1 "    ktest:\n", 4, "node 'p1': ktest: no value"},
	{P1 "    ktest: [a]\n", 4, "node 'p1': ktest: expected a single value"},
	{P1 "    ktest: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 4,
	 "node 'p1': ktest: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is too long (at most "
	 "63 characters)"},
	{P1 "    ktest: x\n  - {name: m1, role: memory}\n", 1,
	 "no node with role storage (a cluster needs"},
	{P1 "    ktest: x\nvnodes:\n  - {name: v1}\n", 6,
	 "vnode 'v1': no nodes (a vnode of a self-test cluster names at least one of "
	 "processors, memories and storages)"},
	{P1 "    ktest: x\nvnodes:\n  - {name: v1, processors: []}\n", 6,
	 "vnode 'v1': processors: empty list (name at least one processor node)"},
	{P1 "    ktest: x\nvnodes:\n  - {name: v1, memories: [p1]}\n", 6,
	 "vnode 'v1': memories: 'p1' is a processor node"},
	{P1 "    ktest: x\nvnodes: []\n", 5, "vnodes: empty list"},
};

TEST(manifest_bad_manifests)
{
	char err[MF_ERR_MAX], want[32];

	EXPECT_GE(sizeof(bad) / sizeof(bad[0]), 25u);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct bad *b = &bad[i];
		int rc = parse("bad.yaml", b->text, err);

		snprintf(want, sizeof(want), "bad.yaml:%d: ", b->line);
		if (rc != -1 || strncmp(err, want, strlen(want)) || !strstr(err, b->msg))
			unit_check(false, __FILE__, __LINE__,
				   "case %zu: rc %d, got \"%s\", want \"%s...%s\"", i, rc,
				   rc ? err : "", want, b->msg);
	}
}
