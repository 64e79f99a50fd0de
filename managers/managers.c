/*
 * The global role: the global managers GPM, GMM and GSM (DESIGN.md
 * section 1): membership and coarse placement over the protocol of
 * include/proto/manager.h. The member table and the policies are portable
 * code (managers/members.c); this file serves them over RPC and ages the
 * table.
 *
 * This file also defines this_role for the global image
 * (build/tessera-g.elf) and the role's start-up, run in the boot thread
 * once the kernel core is up: come onto the fabric (kernel/status.c), start
 * the aging thread, then say ready.
 *
 * Locking: `lock` guards `table`; handlers and the aging thread hold it
 * only while they read or change the table (no RPC under it).
 */
#include "members.h"
#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/status.h>
#include <kernel/time.h>
#include <lib/string.h>
#include <net/rpc.h>

static struct spinlock lock = SPINLOCK_INIT("managers");
static struct members table; /* under lock */

static uint64_t now_ms(void)
{
	return clock_ns() / NS_PER_MS;
}

static const char *const state_names[] = {"unknown", "up", "suspect", "down"};

RPC_HANDLER(MGR_HEARTBEAT, struct mgr_heartbeat, struct mgr_heartbeat_reply)
{
	enum members_event ev;

	spin_lock(&lock);
	ev = members_heartbeat(&table, ctx->src_node, ctx->src_generation, rq, now_ms());
	rp->members = members_count(&table);
	spin_unlock(&lock);
	rp->period_ms = MGR_HEARTBEAT_MS;
	switch (ev) {
	case MEMBERS_BAD:
		return -EINVAL;
	case MEMBERS_FULL:
		pr_warn("global: no room for node %u in the member table", ctx->src_node);
		return -ENOSPC;
	case MEMBERS_JOINED:
		pr_info("global: node %u (%c) joined, generation %u", ctx->src_node,
			rq->role, ctx->src_generation);
		break;
	case MEMBERS_RESTARTED:
		pr_info("global: node %u restarted, generation %u", ctx->src_node,
			ctx->src_generation);
		break;
	case MEMBERS_BACK:
		pr_info("global: node %u is up again", ctx->src_node);
		break;
	case MEMBERS_SAME:
		break;
	}
	return 0;
}

/* Runs one placement decision under the lock and logs it. */
static int place(int (*policy)(struct members *, const struct mgr_place_req *),
		 const char *what, const struct mgr_place_req *rq, struct mgr_node_reply *rp)
{
	int node;

	spin_lock(&lock);
	node = policy(&table, rq);
	spin_unlock(&lock);
	if (node < 0)
		return node;
	pr_debug("global: %s pid %u vregion %llu -> node %d", what, rq->pid,
		 (unsigned long long)rq->vregion, node);
	rp->node = (uint32_t)node;
	return 0;
}

RPC_HANDLER(MGR_PLACE_PROCESS, struct mgr_place_req, struct mgr_node_reply)
{
	return place(members_place_process, "GPM", rq, rp);
}

RPC_HANDLER(MGR_PLACE_VREGION, struct mgr_place_req, struct mgr_node_reply)
{
	return place(members_place_vregion, "GMM", rq, rp);
}

RPC_HANDLER(MGR_STORAGE_OF, struct mgr_node_req, struct mgr_node_reply)
{
	int node;

	if (rq->reserved || rq->node == 0 || rq->node > 0xffff)
		return -EINVAL;
	spin_lock(&lock);
	node = members_storage_of(&table, (uint16_t)rq->node);
	spin_unlock(&lock);
	if (node < 0)
		return node;
	rp->node = (uint32_t)node;
	return 0;
}

RPC_HANDLER(MGR_MEMBERS, struct mgr_node_req, struct mgr_members)
{
	uint64_t now = now_ms();

	if (rq->reserved || rq->node)
		return -EINVAL;
	spin_lock(&lock);
	for (unsigned i = 0; i < MGR_MAX_MEMBERS; i++) {
		const struct member *m = &table.m[i];
		struct mgr_member *out = &rp->m[rp->n];

		if (!m->node)
			continue;
		out->node = m->node;
		out->role = m->role;
		out->state = m->state;
		out->generation = m->generation;
		out->ms_since_heard = (uint32_t)(now - m->heard_ms);
		out->user_threads = m->hb.user_threads;
		out->frames_free = m->hb.frames_free;
		rp->n++;
	}
	spin_unlock(&lock);
	return 0;
}

/* The changes one aging pass saw, logged once the lock is dropped. */
struct changes {
	unsigned n;
	struct {
		uint16_t node;
		uint8_t state;
	} c[MGR_MAX_MEMBERS];
};

static void note_change(void *ctx, uint16_t node, unsigned state)
{
	struct changes *ch = ctx;

	ch->c[ch->n].node = node;
	ch->c[ch->n++].state = (uint8_t)state;
}

/* Ages the table once a heartbeat period. */
static void aging_main(void *arg)
{
	for (;;) {
		struct changes ch = {0};

		thread_sleep_ns(MGR_HEARTBEAT_MS * NS_PER_MS);
		spin_lock(&lock);
		members_age(&table, now_ms(), note_change, &ch);
		spin_unlock(&lock);
		for (unsigned i = 0; i < ch.n; i++)
			pr_warn("global: node %u is %s (no heartbeat for %u ms)",
				ch.c[i].node, state_names[ch.c[i].state],
				ch.c[i].state == MGR_DOWN ? MGR_DOWN_MS : MGR_SUSPECT_MS);
	}
}

static void managers_start(void)
{
	members_init(&table, clock_ns() | 1);
	status_start();
	if (!thread_create("members", aging_main, NULL, true))
		pr_err("global: no memory for the member table's aging thread");
	pr_info("global: GPM, GMM and GSM serving (heartbeat every %u ms, suspect "
		"after %u ms, down after %u ms)",
		MGR_HEARTBEAT_MS, MGR_SUSPECT_MS, MGR_DOWN_MS);
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
