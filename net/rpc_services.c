/*
 * The RPC layer's own services, served by every node (include/proto/msg.h
 * has their payloads, messages.def their opcodes): PING and RPC_ECHO
 * (latency), RPC_BULK (a 4 KiB page each way), RPC_COUNTER_ADD/GET (a
 * non-idempotent operation whose effect can be counted: the proof that
 * duplicates are not executed), RPC_SLEEP (a slow server).
 *
 * Each handler decodes (ranges, reserved fields) before it acts.
 */
#include <kernel/errno.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <lib/string.h>
#include <net/rpc.h>

static struct spinlock counter_lock = SPINLOCK_INIT("rpc-counters");
static int64_t counters[MSG_COUNTER_SLOTS]; /* under counter_lock */

RPC_HANDLER(PING, struct msg_ping, struct msg_ping)
{
	*rp = *rq;
	return 0;
}

RPC_HANDLER(RPC_ECHO, struct msg_echo, struct msg_echo)
{
	rp->value = rq->value;
	return 0;
}

RPC_HANDLER(RPC_BULK, struct msg_bulk, struct msg_bulk)
{
	rp->cookie = rq->cookie + 1;
	memcpy(rp->data, rq->data, sizeof(rp->data));
	return 0;
}

static int counter_check(const struct msg_counter *rq)
{
	if (rq->slot >= MSG_COUNTER_SLOTS || rq->reserved)
		return -EINVAL;
	return 0;
}

RPC_HANDLER(RPC_COUNTER_ADD, struct msg_counter, struct msg_counter_value)
{
	int err = counter_check(rq);

	if (err)
		return err;
	spin_lock(&counter_lock);
	counters[rq->slot] += rq->delta;
	rp->value = counters[rq->slot];
	spin_unlock(&counter_lock);
	return 0;
}

RPC_HANDLER(RPC_COUNTER_GET, struct msg_counter, struct msg_counter_value)
{
	int err = counter_check(rq);

	if (err)
		return err;
	if (rq->delta)
		return -EINVAL;
	spin_lock(&counter_lock);
	rp->value = counters[rq->slot];
	spin_unlock(&counter_lock);
	return 0;
}

RPC_HANDLER(RPC_SLEEP, struct msg_sleep, struct msg_sleep)
{
	if (rq->ms > MSG_SLEEP_MAX_MS || rq->reserved)
		return -EINVAL;
	thread_sleep_ns(rq->ms * NS_PER_MS);
	*rp = *rq;
	return 0;
}
