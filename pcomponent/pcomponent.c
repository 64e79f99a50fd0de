/*
 * The processor role: CPU cores, threads, the ExCache and the Linux syscall layer
 * (DESIGN.md section 1).
 *
 * This file defines this_role for the processor image (build/tessera-p.elf) and
 * the role's start-up, run in the boot thread once the kernel core is up:
 * report the ExCache geometry of the command line (used once the memory
 * path lands), come onto the fabric (kernel/status.c), serve the hostlink
 * on COM2 if the machine has one (kernel/hostlink.c, with the builtins of
 * pcomponent/builtins.c), then say ready.
 */
#include "builtins.h"

#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/hostlink.h>
#include <kernel/ktest.h>
#include <kernel/printk.h>
#include <kernel/status.h>
#include <lib/string.h>

static void pcomponent_start(void)
{
	char size[32];
	int err;

	if (kconfig.excache_set)
		pr_info("processor: ExCache %s, %u-way, %s (used once the memory path "
			"lands)",
			kconfig_format_size(kconfig.excache_bytes, size, sizeof(size)),
			kconfig.excache_ways,
			kconfig_policy_name(kconfig.excache_policy));
	else
		pr_info("processor: no ExCache configured (excache=SIZE,WAYS,POLICY; "
			"used once the memory path lands)");
	status_start();
	err = hostlink_start(builtins, builtins_count);
	if (err == -ENODEV)
		pr_info("hostlink: no UART at COM2: not serving the CLI");
	else if (err)
		pr_err("hostlink: cannot start (%s)", errno_name(err));
	else
		pr_info("hostlink: serving on COM2 (%u builtins)", builtins_count);
	status_ready("processor%s", err ? "" : ", hostlink on COM2");
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
