/*
 * Signals of the processor's processes (pcomponent/signal.h).
 *
 * For now: the state exists and is copied at fork; signals are recorded
 * as pending and never delivered; fatal exceptions kill the process.
 */
#include "signal.h"

#include "process.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/spinlock.h>

struct signal_state {
	struct spinlock lock;
	uint64_t pending; /* bit signo - 1; lock */
	uint64_t blocked; /* lock */
};

struct signal_state *signal_state_create(void)
{
	struct signal_state *s = kzalloc(sizeof(*s));

	if (s)
		spin_init(&s->lock, "signal");
	return s;
}

struct signal_state *signal_state_fork(const struct signal_state *parent)
{
	struct signal_state *s = signal_state_create();

	if (s)
		s->blocked = parent->blocked;
	return s;
}

void signal_state_free(struct signal_state *s)
{
	kfree(s);
}

void signal_exec(struct process *p)
{
}

int signal_send(struct process *p, const struct signal_info *info)
{
	if (info->signo < 0 || info->signo > NSIG_LINUX)
		return -EINVAL;
	if (info->signo == 0)
		return 0;
	spin_lock(&p->sig->lock);
	p->sig->pending |= 1ull << (info->signo - 1);
	spin_unlock(&p->sig->lock);
	return 0;
}

bool signal_pending(struct process *p)
{
	return false;
}

void signal_deliver(struct process *p, struct trap_frame *tf)
{
}

void signal_fatal(struct process *p, struct trap_frame *tf, const struct signal_info *info)
{
	process_exit(p, PROCESS_KILLED(info->signo));
}

void signal_child_exited(struct process *p, struct process *child, int wait_status)
{
}

int signal_send_pgrp(uint32_t pgrp, const struct signal_info *info)
{
	return -ESRCH;
}
