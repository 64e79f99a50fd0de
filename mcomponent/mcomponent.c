/*
 * The memory role: virtual address spaces, page frames, ELF loading and fork copy
 * (DESIGN.md section 1).
 *
 * This file defines this_role for the memory image (build/tessera-m.elf) and
 * the role's start-up, run in the boot thread once the kernel core is up:
 * come onto the fabric (kernel/status.c: RPC service and status page),
 * start the role's services (none yet), then say ready.
 */
#include <kernel/config.h>
#include <kernel/ktest.h>
#include <kernel/printk.h>
#include <kernel/status.h>
#include <lib/string.h>

static void mcomponent_start(void)
{
	if (kconfig.backup_id)
		pr_info("memory: backup node %u (replication arrives with the memory "
			"path)",
			kconfig.backup_id);
	else
		pr_info("memory: no backup node (backup=ID; replication arrives with the "
			"memory path)");
	status_start();
	pr_info("memory: address spaces and frames arrive with the memory path "
		"(not built yet)");
	if (kconfig.backup_id)
		status_ready("memory, backup %u", kconfig.backup_id);
	else
		status_ready("memory");
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
