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

#define KTEST(tname)                                                        \
	static void ktest_fn_##tname(struct ktest_ctx *kt);                 \
	static const struct ktest ktest_##tname                             \
		__attribute__((used, section(".ktest"), aligned(8))) = {    \
			#tname, ktest_fn_##tname                            \
		};                                                          \
	static void ktest_fn_##tname(struct ktest_ctx *kt)

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

/* Runs the selected tests and exits QEMU; never returns. */
__attribute__((noreturn)) void ktest_run_all(const char *filter);

#endif
