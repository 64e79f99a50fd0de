/*
 * Cluster manifests: the YAML file that describes a Tessera cluster
 * (docs/manifest.md gives the format and every error), read with libyaml
 * into a struct manifest that the rest of the CLI uses. Pure: reads the
 * text it is given, no processes, no other files; so it is unit-tested
 * and fuzzed on the host like kernel code.
 *
 * Every value is checked here, once: the rest of the CLI may trust a
 * struct manifest that manifest_parse() accepted. Errors name the file,
 * the line and what is wrong:
 *
 *   configs/bad.yaml:12: node 'm1': ram: '512' has no unit (use K, M or G)
 */
#ifndef TESSERA_MANIFEST_H
#define TESSERA_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MF_NAME_MAX   32 /* node, vNode and cluster names: [a-z0-9_-], 1..31 chars */
#define MF_PATH_MAX   512
#define MF_MAX_NODES  15 /* one RPC queue pair per peer, 16 per node (net/rpc.c) */
#define MF_MAX_VNODES 16
#define MF_ERR_MAX    512 /* enough for any message manifest_parse writes */
#define MF_ROOT_MAX   128 /* a vNode's root, with the NUL (the kernel's KCONFIG_PATH_MAX) \
			   */
#define MF_MAX_FABRIC_US   10000000 /* fabricd's limit for --poll-us, --cq-retry-us */
#define MF_MIN_CQ_RETRY_US 10	    /* fabricd's: less would make it a busy loop */
#define MF_KTEST_MAX  64 /* a ktest filter, with the NUL (the kernel's kconfig.ktest_filter) */

enum mf_role {
	MF_PROCESSOR,
	MF_MEMORY,
	MF_STORAGE,
	MF_GLOBAL,
};

enum mf_policy {
	MF_POLICY_LRU,
	MF_POLICY_FIFO,
	MF_POLICY_RANDOM,
	MF_POLICY_CLOCK,
};

struct mf_node {
	char name[MF_NAME_MAX];
	unsigned id; /* fabric node id: 1, 2, ... in file order */
	enum mf_role role;
	int line;	 /* where the node's entry starts, for later messages */
	unsigned cpus;	 /* 1..8 */
	uint64_t ram;	 /* bytes, 32 MiB .. 16 GiB, a multiple of 1 MiB */
	uint64_t window; /* fabric window, bytes: power of two, 1 MiB .. 1 GiB */
	/* "" for a node that runs its role; else the node boots with
	 * ktest=FILTER and runs the kernel's self tests instead (docs/kernel.md:
	 * "cluster:PREFIX" selects the cluster table). mf_ktest_ok() holds. */
	char ktest[MF_KTEST_MAX];

	/* role processor: the ExCache (DESIGN.md section 5), in the window */
	uint64_t excache_size; /* bytes: power of two >= 64 KiB, <= window / 2 */
	unsigned excache_ways; /* power of two, 1 .. 64, <= lines */
	enum mf_policy excache_policy;

	/* role memory */
	char backup[MF_NAME_MAX]; /* another memory node's name, or "" */

	/* role storage: a disk image file, or a directory that `tessera up`
	 * turns into one with mke2fs -d (exactly one of the two, or neither:
	 * an empty file system of disk_size). Paths are as written in the
	 * manifest, resolved against the manifest's directory (manifest_path). */
	char disk_image[MF_PATH_MAX];
	char disk_dir[MF_PATH_MAX];
	uint64_t disk_size; /* bytes; image made from disk_dir or empty */
};

struct mf_vnode {
	char name[MF_NAME_MAX];
	int line;
	/* The directory of its storage nodes' disks that the vNode's
	 * processors and memories see as "/" (the file service's export root,
	 * include/proto/file.h): "/" or "/a/b", characters [A-Za-z0-9._/-],
	 * no empty, "." or ".." component, no trailing '/'. A node in two
	 * vNodes that share a storage node has the same root in both. */
	char root[MF_ROOT_MAX];
	/* Indices into manifest.nodes, roles checked; each list non-empty
	 * (in a self-test cluster: at least one of them). */
	unsigned nprocessors, nmemories, nstorages;
	unsigned processors[MF_MAX_NODES];
	unsigned memories[MF_MAX_NODES];
	unsigned storages[MF_MAX_NODES];
};

struct mf_fabric {
	uint64_t window;       /* default window of nodes that do not set one */
	double latency_us;     /* added one-way latency per link, 0 = none */
	double bandwidth_gbps; /* link bandwidth limit, 0 = unlimited */
	/* fabricd's waiting (docs/fabric.md, "Why 10 us"): how long it polls
	 * the send queues after activity before sleeping, 0..MF_MAX_FABRIC_US
	 * (--poll-us), and its retry period for a full completion queue,
	 * MF_MIN_CQ_RETRY_US..MF_MAX_FABRIC_US (--cq-retry-us). Defaults are
	 * fabricd's: 10 and 1000. */
	unsigned poll_us;
	unsigned cq_retry_us;
};

struct manifest {
	char path[MF_PATH_MAX]; /* as given to manifest_parse */
	char name[MF_NAME_MAX]; /* "cluster:" key; default: file name sans .yaml */
	struct mf_fabric fabric;
	unsigned nnodes;
	struct mf_node nodes[MF_MAX_NODES];
	/* Every node has a ktest filter: a self-test cluster. It runs no
	 * services, so it need not have every role, and it has no vNodes
	 * unless the manifest lists some (nvnodes may be 0); its vNodes only
	 * wire nodes together (kernel words storage=, memory=, exports=), so
	 * any of their lists may be empty, not all three. Every other cluster
	 * has at least one vNode, each with every list non-empty. */
	bool selftest;
	unsigned nvnodes;
	struct mf_vnode vnodes[MF_MAX_VNODES];
};

/*
 * Parses and checks the manifest text[0..len) read from path (used in
 * messages and for the default cluster name). Returns 0 and fills *m, or
 * -1 and writes one message "path:line: what" (no trailing newline) into
 * err[0..errlen). Never reads outside text; text need not end in NUL.
 */
int manifest_parse(const char *path, const char *text, size_t len, struct manifest *m,
		   char *err, size_t errlen);

/* Reads the file at path and parses it; file errors are reported in err
 * too ("path: No such file or directory"). */
int manifest_load(const char *path, struct manifest *m, char *err, size_t errlen);

/* Finds a node or vNode by name; NULL if none. */
const struct mf_node *manifest_node(const struct manifest *m, const char *name);
const struct mf_vnode *manifest_vnode(const struct manifest *m, const char *name);

/* True if s is a valid ktest filter: 1 to MF_KTEST_MAX - 1 characters
 * of A-Z, a-z, 0-9, '_' and ':' (test names and the "cluster:" prefix). */
bool mf_ktest_ok(const char *s);
#define MF_KTEST_RULE "1 to 63 characters of A-Z, a-z, 0-9, _ and :, such as cluster:fabric_"

/* "processor", "memory", ...; "lru", "fifo", ... */
const char *mf_role_name(enum mf_role role);
const char *mf_policy_name(enum mf_policy policy);

#endif
