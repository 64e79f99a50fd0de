/*
 * In-kernel self tests (kernel/ktest.c).
 *
 * A test is a function registered in the .ktest linker section:
 *
 *	KTEST(buddy_split_merge)
 *	{
 *		KT_EXPECT(pmm_alloc(0) != 0);
 *		KT_EXPECT_EQ(x, 3);
 *	}
 *
 * Booted with `ktest` on the command line, the kernel runs every test (or
 * those whose name starts with the ktest=FILTER prefix) in the boot
 * thread, prints KTAP on the serial console with the free-page count before
 * and after, and exits QEMU with success only if all passed and no page
 * leaked. scripts/ktest.py checks the same from the log.
 */
#ifndef KERNEL_KTEST_H
#define KERNEL_KTEST_H

#include <stdbool.h>
#include <stdint.h>

struct ktest_ctx {
	const char *name;
	unsigned failures;
};

struct ktest {
	const char *name;
	void (*fn)(struct ktest_ctx *kt);
};

#define KTEST_IN(sect, tname)                                               \
	static void ktest_fn_##tname(struct ktest_ctx *kt);                 \
	static const struct ktest ktest_##tname                             \
		__attribute__((used, section(sect), aligned(8))) = {        \
			#tname, ktest_fn_##tname                            \
		};                                                          \
	static void ktest_fn_##tname(struct ktest_ctx *kt)

#define KTEST(tname) KTEST_IN(".ktest", tname)

/*
 * Cluster tests need other nodes and the fabric (several VMs started by
 * tests/cluster/, see docs/fabric.md). They live in a second table,
 * .ktest_cluster, that a plain `ktest` boot never runs (so a standalone
 * boot neither fails nor falsely passes them): only `ktest=cluster` (all
 * of them) or `ktest=cluster:PREFIX` (those whose name starts with PREFIX)
 * selects this table, and then only it. Cluster tests run in name order
 * (number them to order them); .ktest tests in link order. The first
 * cluster test may bring up what stays up for good (the fabric stack), so
 * the free-page count is taken after it.
 */
#define KTEST_CLUSTER(tname) KTEST_IN(".ktest_cluster", tname)

/* Records a failed check (with its text and place); returns cond. */
bool ktest_check(struct ktest_ctx *kt, bool cond, const char *what,
		 const char *file, int line);
bool ktest_check_eq(struct ktest_ctx *kt, uint64_t a, uint64_t b,
		    const char *what, const char *file, int line);

#define KT_EXPECT(cond) ktest_check(kt, !!(cond), #cond, __FILE__, __LINE__)
#define KT_EXPECT_EQ(a, b) \
	ktest_check_eq(kt, (uint64_t)(a), (uint64_t)(b), #a " == " #b, __FILE__, __LINE__)
/* Like KT_EXPECT, but ends the test on failure. */
#define KT_ASSERT(cond)                \
	do {                           \
		if (!KT_EXPECT(cond))  \
			return;        \
	} while (0)

/*
 * Cluster tests meet the host harness at named barriers: prints
 * "# fabric-sync: NAME" and waits (sleeping between polls of the serial
 * port) until the host writes the line "NAME" to the serial input, which
 * it does once every node of the cluster has asked for NAME and it has
 * done what NAME stands for (tests/cluster/fabric_test.py). Returns false
 * after timeout_ns without it.
 */
bool ktest_cluster_sync(const char *name, uint64_t timeout_ns);

/* Runs the selected tests and exits QEMU; never returns. filter is a name
 * prefix for the .ktest table, or "cluster[:PREFIX]" for the cluster table. */
__attribute__((noreturn)) void ktest_run_all(const char *filter);

#endif
