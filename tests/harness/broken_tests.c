/*
 * Deliberately broken in-kernel tests for the harness self test
 * (tests/harness/test_harness.py). They are linked only into
 * tessera-selftest.elf, never into a real image, and each is booted on its
 * own with ktest=NAME to show that scripts/ktest.py catches the failure:
 *
 *   harness_pass        passes (the control run)
 *   harness_fail        a failing KT_EXPECT              -> test-failed
 *   harness_panic       calls panic()                    -> panic
 *   harness_fault       reads an unmapped address        -> fault, panic
 *   harness_hang        sleeps forever                   -> timeout
 *   harness_leak        allocates a page, never frees it -> leak
 *   harness_exit_early  exits QEMU with the success code
 *                       before its result line           -> missing-results
 *
 * ktest=FILTER selects the tests whose name starts with FILTER, so no name
 * here may be a prefix of another. Never boot this image with a bare
 * `ktest`: it would stop at the first broken test.
 */
#include <arch/arch.h>
#include <arch/memlayout.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/panic.h>
#include <kernel/sched.h>
#include <kernel/time.h>

/* Unmapped by construction: the hole between the direct map
 * (DIRECT_MAP_BASE + DIRECT_MAP_SIZE) and the MMIO window (MMIO_BASE) in
 * arch/memlayout.h. Reading it raises a page fault, not present. */
#define HARNESS_UNMAPPED_VA (DIRECT_MAP_BASE + DIRECT_MAP_SIZE + 0x1000)

/* volatile so the compiler cannot fold the checks or drop the accesses. */
static volatile int harness_one = 1;

KTEST(harness_pass)
{
	KT_EXPECT(harness_one == 1);
	KT_EXPECT_EQ(harness_one + 1, 2);
}

KTEST(harness_fail)
{
	KT_EXPECT_EQ(harness_one, 2); /* fails: 1 != 2 */
}

KTEST(harness_panic)
{
	if (harness_one)
		panic("harness_panic: deliberate panic for the harness self test");
}

KTEST(harness_fault)
{
	volatile uint64_t *p = (volatile uint64_t *)HARNESS_UNMAPPED_VA;

	KT_EXPECT(*p == 0); /* page fault: the kernel dumps registers and panics */
}

KTEST(harness_hang)
{
	/* Never returns; the harness must time out and kill QEMU. */
	while (harness_one)
		thread_sleep_ns(NS_PER_S);
}

KTEST(harness_leak)
{
	uint64_t pa = pmm_alloc(0); /* never freed: the page count must drop */

	KT_EXPECT(pa != 0);
}

KTEST(harness_exit_early)
{
	/* Exit code 33 ("success") but no result line, no page count. */
	if (harness_one)
		arch_debug_exit(ARCH_EXIT_SUCCESS);
}
