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
 *   peers=A,B,...       fabric node ids of every member of the cluster
 *                       (this node included), at most KCONFIG_MAX_PEERS;
 *                       the RPC layer gives each a receive ring (net/rpc.c)
 *
 * Unknown words are reported and otherwise ignored.
 */
#ifndef KERNEL_CONFIG_H
#define KERNEL_CONFIG_H

#include <stdbool.h>

enum role_id { ROLE_PROCESSOR, ROLE_MEMORY, ROLE_STORAGE, ROLE_GLOBAL };

/* Each image links exactly one role folder, which defines this_role. */
struct role {
	enum role_id id;
	const char *name; /* "processor", ... as on the command line */
	char letter; /* 'p', 'm', 's', 'g' */
	/* Starts the role's services in a kernel thread once the core is up. */
	void (*start)(void);
};
extern const struct role this_role;

#define KCONFIG_MAX_PEERS 16

struct kconfig {
	unsigned node_id;
	char name[32];
	int loglevel;
	bool ktest;
	char ktest_filter[64];
	bool panic_exit;
	unsigned npeers;
	unsigned short peers[KCONFIG_MAX_PEERS]; /* in command-line order */
};
extern struct kconfig kconfig;

/* Fills kconfig from cmdline; returns the number of problems reported. */
int kconfig_parse(const char *cmdline);

#endif
