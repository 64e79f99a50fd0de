/*
 * The memory role: virtual address spaces, page frames, ELF loading and fork copy (DESIGN.md section 1).
 *
 * This file defines this_role for the memory image (build/tessera-m.elf) and
 * the role's start-up, run in the boot thread once the kernel core is up.
 */
#include <kernel/config.h>
#include <kernel/ktest.h>
#include <kernel/printk.h>
#include <lib/string.h>

static void mcomponent_start(void)
{
	pr_info("memory: core up; address spaces and frames arrive with the memory path (not built yet)");
}

const struct role this_role = {
	.id = ROLE_MEMORY,
	.name = "memory",
	.letter = 'm',
	.start = mcomponent_start,
};

KTEST(role_memory_identity)
{
	KT_EXPECT_EQ(this_role.id, ROLE_MEMORY);
	KT_EXPECT(strcmp(this_role.name, "memory") == 0);
	KT_EXPECT_EQ(kconfig.name[0], 'm');
}
