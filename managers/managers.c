/*
 * The global role: the global managers GPM, GMM and GSM: coarse placement and membership
 * (DESIGN.md section 1).
 *
 * This file defines this_role for the global image (build/tessera-g.elf) and
 * the role's start-up, run in the boot thread once the kernel core is up:
 * come onto the fabric (kernel/status.c: RPC service and status page),
 * start the role's services (none yet), then say ready.
 */
#include <kernel/config.h>
#include <kernel/ktest.h>
#include <kernel/printk.h>
#include <kernel/status.h>
#include <lib/string.h>

static void managers_start(void)
{
	status_start();
	pr_info("global: GPM, GMM and GSM arrive with the next issues (not built yet)");
	status_ready("global managers");
}

const struct role this_role = {
	.id = ROLE_GLOBAL,
	.name = "global",
	.letter = 'g',
	.start = managers_start,
};

KTEST(role_global_identity)
{
	KT_EXPECT_EQ(this_role.id, ROLE_GLOBAL);
	KT_EXPECT(strcmp(this_role.name, "global") == 0);
	KT_EXPECT_EQ(kconfig.name[0], 'g');
}
