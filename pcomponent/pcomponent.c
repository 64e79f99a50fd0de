/*
 * The processor role: CPU cores, threads, the ExCache and the Linux syscall layer (DESIGN.md section 1).
 *
 * This file defines this_role for the processor image (build/tessera-p.elf) and
 * the role's start-up, run in the boot thread once the kernel core is up.
 */
#include <kernel/config.h>
#include <kernel/ktest.h>
#include <kernel/printk.h>
#include <lib/string.h>

static void pcomponent_start(void)
{
	pr_info("processor: core up; processes arrive with the memory path (not built yet)");
}

const struct role this_role = {
	.id = ROLE_PROCESSOR,
	.name = "processor",
	.letter = 'p',
	.start = pcomponent_start,
};

KTEST(role_processor_identity)
{
	KT_EXPECT_EQ(this_role.id, ROLE_PROCESSOR);
	KT_EXPECT(strcmp(this_role.name, "processor") == 0);
	KT_EXPECT_EQ(kconfig.name[0], 'p');
}
