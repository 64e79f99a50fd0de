/*
 * The in-kernel test runner: KTAP version 1 on the console, then an exit
 * code through isa-debug-exit. Lines starting with "# " are diagnostics;
 * a failed check prints where and what before the test's result line.
 */
#include <arch/arch.h>
#include <drivers/serial.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/time.h>
#include <lib/string.h>

extern const struct ktest __ktest_start[], __ktest_end[];
extern const struct ktest __ktest_cluster_start[], __ktest_cluster_end[];

#define KTEST_CLUSTER_WORD "cluster"

bool ktest_check(struct ktest_ctx *kt, bool cond, const char *what,
		 const char *file, int line)
{
	if (!cond) {
		kt->failures++;
		printk_raw("# %s: FAILED %s:%d: %s\n", kt->name, file, line, what);
	}
	return cond;
}

bool ktest_check_eq(struct ktest_ctx *kt, uint64_t a, uint64_t b,
		    const char *what, const char *file, int line)
{
	if (a != b) {
		kt->failures++;
		printk_raw("# %s: FAILED %s:%d: %s (%#llx != %#llx)\n", kt->name, file,
			   line, what, (unsigned long long)a, (unsigned long long)b);
	}
	return a == b;
}

bool ktest_cluster_sync(const char *name, uint64_t timeout_ns)
{
	uint64_t deadline = clock_ns() + timeout_ns;
	size_t want = strlen(name), got = 0;
	char line[64];

	printk_raw("# fabric-sync: %s\n", name);
	while (clock_ns() < deadline) {
		int c = serial_getc();

		if (c < 0) {
			thread_sleep_ns(NS_PER_MS); /* polled, but asleep between */
		} else if (c == '\n') {
			if (got == want && memcmp(line, name, want) == 0)
				return true;
			got = 0; /* another line: not ours */
		} else if (c != '\r' && got < sizeof(line)) {
			line[got++] = (char)c;
		}
	}
	printk_raw("# fabric-sync: %s timed out\n", name);
	return false;
}

static bool selected(const struct ktest *t, const char *filter)
{
	return strncmp(t->name, filter, strlen(filter)) == 0;
}

/*
 * The next test to run after prev (NULL: the first). The .ktest table runs
 * in link order; the cluster table in name order, because its tests build
 * on each other and the compiler may emit a file's tests in any order.
 */
static const struct ktest *next_test(const struct ktest *start, const struct ktest *end,
				     const struct ktest *prev, bool by_name)
{
	const struct ktest *best = NULL;

	if (!by_name)
		return prev ? (prev + 1 < end ? prev + 1 : NULL) : (start < end ? start : NULL);
	for (const struct ktest *t = start; t < end; t++)
		if ((!prev || strcmp(t->name, prev->name) > 0) &&
		    (!best || strcmp(t->name, best->name) < 0))
			best = t;
	return best;
}

void ktest_run_all(const char *filter)
{
	const struct ktest *start = __ktest_start, *end = __ktest_end;
	size_t cw = strlen(KTEST_CLUSTER_WORD);
	unsigned planned = 0, n = 0, failed = 0;
	bool cluster = false;
	size_t before, after;

	/* "cluster" or "cluster:PREFIX": the cluster table instead. */
	if (strncmp(filter, KTEST_CLUSTER_WORD, cw) == 0 &&
	    (filter[cw] == '\0' || filter[cw] == ':')) {
		start = __ktest_cluster_start;
		end = __ktest_cluster_end;
		filter += cw + (filter[cw] == ':');
		cluster = true;
	}
	for (const struct ktest *t = start; t < end; t++)
		planned += selected(t, filter);
	printk_raw("KTAP version 1\n1..%u\n", planned);
	before = pmm_free_pages();
	for (const struct ktest *t = next_test(start, end, NULL, cluster); t;
	     t = next_test(start, end, t, cluster)) {
		struct ktest_ctx kt = { .name = t->name };

		if (!selected(t, filter))
			continue;
		t->fn(&kt);
		n++;
		failed += kt.failures != 0;
		printk_raw("%sok %u %s\n", kt.failures ? "not " : "", n, t->name);
		/* The first cluster test brings up the fabric stack, which
		 * stays up: count pages from after it. */
		if (cluster && n == 1)
			before = pmm_free_pages();
	}
	after = pmm_free_pages();
	printk_raw("# free pages before=%zu after=%zu\n", before, after);
	if (after < before)
		printk_raw("# LEAK: %zu pages not returned\n", before - after);
	printk_raw("# ktest done: %u passed, %u failed\n", n - failed, failed);
	arch_debug_exit(failed || after < before ? ARCH_EXIT_FAILURE : ARCH_EXIT_SUCCESS);
}
