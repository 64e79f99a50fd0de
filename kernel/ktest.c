/*
 * The in-kernel test runner: KTAP version 1 on the console, then an exit
 * code through isa-debug-exit. Lines starting with "# " are diagnostics;
 * a failed check prints where and what before the test's result line.
 */
#include <arch/arch.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <lib/string.h>

extern const struct ktest __ktest_start[], __ktest_end[];

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

static bool selected(const struct ktest *t, const char *filter)
{
	return strncmp(t->name, filter, strlen(filter)) == 0;
}

void ktest_run_all(const char *filter)
{
	unsigned planned = 0, n = 0, failed = 0;
	size_t before, after;

	for (const struct ktest *t = __ktest_start; t < __ktest_end; t++)
		planned += selected(t, filter);
	printk_raw("KTAP version 1\n1..%u\n", planned);
	before = pmm_free_pages();
	for (const struct ktest *t = __ktest_start; t < __ktest_end; t++) {
		struct ktest_ctx kt = { .name = t->name };

		if (!selected(t, filter))
			continue;
		t->fn(&kt);
		n++;
		failed += kt.failures != 0;
		printk_raw("%sok %u %s\n", kt.failures ? "not " : "", n, t->name);
	}
	after = pmm_free_pages();
	printk_raw("# free pages before=%zu after=%zu\n", before, after);
	if (after < before)
		printk_raw("# LEAK: %zu pages not returned\n", before - after);
	printk_raw("# ktest done: %u passed, %u failed\n", n - failed, failed);
	arch_debug_exit(failed || after < before ? ARCH_EXIT_FAILURE : ARCH_EXIT_SUCCESS);
}
