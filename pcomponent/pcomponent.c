/*
 * The processor role: CPU cores, threads, the ExCache, processes and the
 * Linux syscall layer (DESIGN.md section 1; docs/processor.md).
 *
 * This file defines this_role for the processor image (build/tessera-p.elf) and
 * the role's start-up, run in the boot thread once the kernel core is up:
 * come onto the fabric (kernel/status.c), bring up the ExCache in the
 * fabric window (pcomponent/excache.c) and log its geometry, install the
 * user-mode hooks (pcomponent/process.c), serve the hostlink on COM2 if
 * the machine has one (kernel/hostlink.c, with the builtins of
 * pcomponent/builtins.c and user programs by path), then say ready. A
 * processor without excache= or memory= still comes up (builtins work);
 * running a user program then fails with a message naming what is
 * missing.
 */
#include "builtins.h"
#include "excache.h"
#include "process.h"

#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/hostlink.h>
#include <kernel/ktest.h>
#include <kernel/printk.h>
#include <kernel/status.h>
#include <lib/string.h>
#include <proto/manager.h>

/* Brings the ExCache up and logs what there is; true if it runs. */
static bool start_excache(void)
{
	struct tessera_excache_stats st;
	char size[32];
	int err;

	if (!kconfig.excache_set) {
		pr_info("processor: no ExCache configured (excache=SIZE,WAYS,POLICY): "
			"user programs cannot run");
		return false;
	}
	err = excache_init();
	if (err) {
		pr_err("processor: ExCache not available (%s): user programs cannot run",
		       errno_name(err));
		return false;
	}
	excache_get_stats(NULL, &st);
	pr_info("processor: ExCache %s, %u sets x %u ways, %s, prefetch %s",
		kconfig_format_size(st.bytes, size, sizeof(size)), st.sets, st.ways,
		kconfig_policy_name(st.policy), st.prefetch ? "on" : "off");
	if (!process_first_memory_node())
		pr_info("processor: no memory= word: user programs cannot run");
	else if (kconfig.nmemories == 1)
		pr_info("processor: home memory node %u", process_first_memory_node());
	else
		pr_info("processor: %u memory nodes, the first %u: a new program's home is "
			"the global memory manager's choice among them",
			kconfig.nmemories, process_first_memory_node());
	return true;
}

/* The processor figures of this node's heartbeats (kernel/status.c): one
 * thread per process for now. */
static void processor_load(struct mgr_heartbeat *hb)
{
	unsigned running;
	uint64_t started;

	process_counts(&running, &started);
	hb->user_threads = running;
	hb->processes = running;
}

static void pcomponent_start(void)
{
	bool lines;
	int err;

	status_start();
	lines = start_excache();
	process_init();
	status_set_load_fn(processor_load);
	err = hostlink_start(builtins, builtins_count);
	if (err == -ENODEV)
		pr_info("hostlink: no UART at COM2: not serving the CLI");
	else if (err)
		pr_err("hostlink: cannot start (%s)", errno_name(err));
	else
		pr_info("hostlink: serving on COM2 (%u builtins and user programs)",
			builtins_count - 1);
	status_ready("processor%s%s", err ? "" : ", hostlink on COM2",
		     lines ? ", ExCache lines" : "");
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
