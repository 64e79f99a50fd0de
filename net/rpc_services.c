/*
 * The RPC layer's own services, served by every node (include/proto/msg.h
 * has their payloads, messages.def their opcodes): PING and RPC_ECHO
 * (latency), RPC_BULK (a 4 KiB page each way), RPC_COUNTER_ADD/GET (a
 * non-idempotent operation whose effect can be counted: the proof that
 * duplicates are not executed), RPC_SLEEP (a slow server).
 *
 * rpc_ping is the client side of PING and RPC_BULK, for measurements.
 *
 * RPC_SLEEP also keeps count of how many of its handlers run at once on
 * this node (the most since the last reset), and a test can hold them
 * past their time until it lets them go: the ktests of the worker pool
 * (rpc_serve_pool) see concurrency that way, not by measuring time.
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

#define SLEEP_HOLD_MAX_NS (10 * NS_PER_S) /* a hold ends by itself after */

static struct spinlock sleep_lock = SPINLOCK_INIT("rpc-sleep");
static unsigned sleep_running;	   /* under sleep_lock: RPC_SLEEP handlers */
static unsigned sleep_max_running; /* under sleep_lock: most at once */
static bool sleep_held;		   /* atomic: rpc_sleep_hold */

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

int rpc_ping(struct rpc_node *rn, uint16_t node, struct rpc_ping_bulk *bulk,
	     uint64_t cookie, uint64_t timeout_ns, uint64_t *ns)
{
	struct msg_ping q = {.cookie = cookie}, r;
	uint64_t t0;
	int err;

	if (bulk) {
		bulk->q.cookie = cookie;
		memset(bulk->q.data, (int)(cookie & 0xff), sizeof(bulk->q.data));
	}
	t0 = clock_ns();
	q.send_time_ns = t0;
	if (bulk)
		err = rpc_call(rn, node, MSG_RPC_BULK, &bulk->q, sizeof(bulk->q), &bulk->r,
			       sizeof(bulk->r), timeout_ns);
	else
		err = rpc_call(rn, node, MSG_PING, &q, sizeof(q), &r, sizeof(r), timeout_ns);
	*ns = clock_ns() - t0;
	if (err)
		return err;
	if (bulk ? bulk->r.cookie != cookie + 1 ||
			   memcmp(bulk->r.data, bulk->q.data, sizeof(bulk->r.data))
		 : r.cookie != q.cookie || r.send_time_ns != q.send_time_ns)
		return -EPROTO; /* an echo that does not echo */
	return 0;
}

void rpc_sleep_hold(bool hold)
{
	__atomic_store_n(&sleep_held, hold, __ATOMIC_RELEASE);
}

unsigned rpc_sleep_running(unsigned *max_running, bool reset)
{
	unsigned now;

	spin_lock(&sleep_lock);
	now = sleep_running;
	if (max_running)
		*max_running = sleep_max_running;
	if (reset)
		sleep_max_running = now;
	spin_unlock(&sleep_lock);
	return now;
}

static void sleep_count(int delta)
{
	spin_lock(&sleep_lock);
	sleep_running += delta;
	if (sleep_running > sleep_max_running)
		sleep_max_running = sleep_running;
	spin_unlock(&sleep_lock);
}

RPC_HANDLER(RPC_SLEEP, struct msg_sleep, struct msg_sleep)
{
	uint64_t hold_end;

	if (rq->ms > MSG_SLEEP_MAX_MS || rq->reserved)
		return -EINVAL;
	sleep_count(1);
	thread_sleep_ns(rq->ms * NS_PER_MS);
	hold_end = clock_ns() + SLEEP_HOLD_MAX_NS;
	while (__atomic_load_n(&sleep_held, __ATOMIC_ACQUIRE) && clock_ns() < hold_end)
		thread_sleep_ns(NS_PER_MS); /* tests only: a poll is good enough */
	sleep_count(-1);
	*rp = *rq;
	return 0;
}
