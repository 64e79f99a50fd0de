/*
 * The storage role: disks and the stateless ext2 file service (DESIGN.md section 1).
 *
 * This file defines this_role for the storage image (build/tessera-s.elf) and
 * the role's start-up, run in the boot thread once the kernel core is up:
 * come onto the fabric (kernel/status.c: RPC service and status page),
 * start the role's services (none yet), then say ready.
 */
#include <kernel/config.h>
#include <kernel/ktest.h>
#include <kernel/printk.h>
#include <kernel/status.h>
#include <lib/string.h>

static void scomponent_start(void)
{
	status_start();
	pr_info("storage: the ext2 file service arrives with the storage issue "
		"(not built yet)");
	status_ready("storage");
}

const struct role this_role = {
	.id = ROLE_STORAGE,
	.name = "storage",
	.letter = 's',
	.start = scomponent_start,
};

KTEST(role_storage_identity)
{
	KT_EXPECT_EQ(this_role.id, ROLE_STORAGE);
	KT_EXPECT(strcmp(this_role.name, "storage") == 0);
	KT_EXPECT_EQ(kconfig.name[0], 's');
}
