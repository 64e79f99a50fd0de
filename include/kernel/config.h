/*
 * This kernel's identity and boot options, from the command line
 * (kernel/config.c). Words understood:
 *
 *   role=processor|memory|storage|global   must match the image's role
 *   node=N              node id (default 0)
 *   name=STR            node name for logs (default: role letter + node id)
 *   loglevel=N          0..7 (default 6, info)
 *   ktest[=FILTER]      run in-kernel tests (those whose name starts with
 *                       FILTER), report KTAP, exit QEMU
 *   panic=exit|halt     exit QEMU with a failure code on panic (implied by
 *                       ktest), or halt (default)
 *   peers=P,P,...       every member of the cluster (this node included),
 *                       at most KCONFIG_MAX_PEERS; each P is ID or ID:NAME
 *                       (fabric node id 1..65535; NAME as in fabricd:
 *                       [A-Za-z_][A-Za-z0-9_-]*, shorter than 32). The RPC
 *                       layer gives each a receive ring (net/rpc.c); the
 *                       names let programs name nodes (hostlink builtins)
 *   excache=SIZE,WAYS,POLICY   processor: the ExCache geometry. SIZE in
 *                       bytes with an optional K, M or G suffix (binary),
 *                       a multiple of WAYS * 4 KiB; WAYS 1..64; POLICY
 *                       lru|fifo|random|clock
 *   backup=ID           memory: the node that keeps this one's replica log
 *   exports=ID:PATH,... storage: which directory of the disk each node sees
 *                       (the file service's export roots, include/proto/
 *                       file.h): at most KCONFIG_MAX_EXPORTS entries, each
 *                       node id once (1..65535); PATH absolute, at most
 *                       KCONFIG_PATH_MAX - 1 bytes of [A-Za-z0-9._/-], no
 *                       empty, "." or ".." component, no trailing '/'
 *                       except "/" itself. All or nothing
 *   storage=ID          processor, memory: the storage node of this node's
 *                       vNode (the file service's server)
 *   manager=ID          processor, memory, storage: the global node (GPM,
 *                       GMM, GSM) that gets this node's heartbeats
 *   memory=ID,ID,...    processor: the memory nodes of this node's vNode,
 *                       at most KCONFIG_MAX_MEMORIES, each once; the first
 *                       is the home of the processes it runs
 *
 * A bad value or an unknown word is reported and otherwise ignored (the
 * word keeps its default), never fatal; only a role that does not match
 * the image stops the kernel. excache= on another role than processor,
 * backup= on another role than memory, exports= on another role than
 * storage, storage= on another role than processor or memory, memory= on
 * another role than processor and manager= on the global node are
 * reported and ignored.
 *
 * The parser (kconfig_parse_into) is portable code: no printk, no panic,
 * so the host unit tests run it (tests/unit/test_config.c); the kernel
 * wraps it in kernel/main.c, which logs the problems and panics on a role
 * mismatch.
 */
#ifndef KERNEL_CONFIG_H
#define KERNEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TESSERA_VERSION "0.1"

enum role_id { ROLE_PROCESSOR, ROLE_MEMORY, ROLE_STORAGE, ROLE_GLOBAL };

/* Each image links exactly one role folder, which defines this_role. */
struct role {
	enum role_id id;
	const char *name; /* "processor", ... as on the command line */
	char letter;	  /* 'p', 'm', 's', 'g' */
	/* Starts the role's services in a kernel thread once the core is up. */
	void (*start)(void);
};
extern const struct role this_role;

#define KCONFIG_MAX_PEERS 16
#define KCONFIG_NAME_MAX  32 /* node names, with the NUL */

enum excache_policy {
	EXCACHE_LRU,
	EXCACHE_FIFO,
	EXCACHE_RANDOM,
	EXCACHE_CLOCK,
};

#define KCONFIG_MAX_EXPORTS 16
#define KCONFIG_PATH_MAX    128 /* export paths, with the NUL */

/* One exports= entry: node sees the directory path of this storage node. */
struct kconfig_export {
	unsigned short node;
	char path[KCONFIG_PATH_MAX];
};

#define KCONFIG_MAX_MEMORIES 8

#define EXCACHE_LINE	 4096u
#define EXCACHE_MAX_WAYS 64u

struct kconfig {
	unsigned node_id;
	char name[KCONFIG_NAME_MAX];
	int loglevel;
	bool ktest;
	char ktest_filter[64];
	bool panic_exit;
	unsigned npeers;
	unsigned short peers[KCONFIG_MAX_PEERS]; /* ids, in command-line order */
	char peer_names[KCONFIG_MAX_PEERS][KCONFIG_NAME_MAX]; /* "" if not named */

	bool excache_set; /* excache= given (and valid) */
	uint64_t excache_bytes;
	unsigned excache_ways;
	enum excache_policy excache_policy;

	unsigned backup_id; /* backup=; 0: none */

	unsigned nexports; /* exports= (storage) */
	struct kconfig_export exports[KCONFIG_MAX_EXPORTS];
	unsigned storage_id; /* storage= (processor, memory); 0: none */
	unsigned manager_id; /* manager= (all but global); 0: none */
	unsigned nmemories; /* memory= (processor) */
	unsigned short memory_ids[KCONFIG_MAX_MEMORIES];

	/* Set by the parser for its caller: a role= word names another role
	 * (role_asked holds it, truncated). */
	bool role_mismatch;
	char role_asked[16];
};
extern struct kconfig kconfig;

/*
 * Called with one line of text for each problem found (without the
 * "cmdline: " prefix, e.g. "bad value in 'node=x' ignored").
 */
typedef void (*kconfig_report_fn)(void *ctx, const char *problem);

/*
 * Parses cmdline into *kc, which must hold the defaults (zeroes and
 * loglevel). role is the image's role: role= must name it, and the role
 * words (excache=, backup=, exports=, storage=, memory=) apply to their roles only.
 * Reports each problem through report (may be NULL) and returns their
 * number. Also fills the default name (role letter + node id) if none was
 * given, and drops a backup= or storage= that names this node or a node
 * missing from peers= (reported).
 * Portable: no allocation, no locks.
 */
int kconfig_parse_into(struct kconfig *kc, const char *cmdline, const struct role *role,
		       kconfig_report_fn report, void *ctx);

/*
 * The index in kc->peers of the node that word names: a peer name, or a
 * decimal node id among the peers. -1 if none.
 */
int kconfig_peer_find(const struct kconfig *kc, const char *word);

/* The export path of node in kc->exports, or NULL if it has none. */
const char *kconfig_export_of(const struct kconfig *kc, unsigned node);

/*
 * True if path[0..len) is an export path as exports= takes it (and the
 * manifest's vnode root: the same rule): "/" or "/a/b", characters
 * [A-Za-z0-9._/-], no empty, "." or ".." component, no trailing '/',
 * shorter than KCONFIG_PATH_MAX.
 */
bool kconfig_path_ok(const char *path, size_t len);

/* "lru", "fifo", "random", "clock"; "?" for anything else. */
const char *kconfig_policy_name(unsigned policy);

/*
 * Writes a byte count the way the command line takes it: "4 MiB",
 * "512 KiB", "3 GiB", or "12345 B" when it is no whole multiple. Returns
 * buf.
 */
const char *kconfig_format_size(uint64_t bytes, char *buf, unsigned size);

#endif
