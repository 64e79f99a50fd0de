/* Self tests of threads, the scheduler, wait queues and completions. */
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/wait.h>
#include <lib/bitmap.h>

static void set_flag(void *arg)
{
	*(volatile int *)arg = 1;
}

KTEST(sched_thread_runs_and_joins)
{
	volatile int flag = 0;
	struct thread *t = thread_create("kt-flag", set_flag, (void *)&flag, false);

	KT_ASSERT(t != NULL);
	thread_join(t);
	KT_EXPECT_EQ(flag, 1);
}

struct counter {
	struct spinlock lock;
	unsigned long value;
	volatile uint64_t cpus_seen; /* bit per CPU id */
};

static void count_up(void *arg)
{
	struct counter *c = arg;

	for (int i = 0; i < 2000; i++) {
		spin_lock(&c->lock);
		c->value++;
		c->cpus_seen |= 1ull << this_cpu()->id;
		spin_unlock(&c->lock);
		if (i % 256 == 0)
			thread_yield();
	}
}

KTEST(sched_threads_share_a_lock_on_all_cpus)
{
	enum { N = 8 };
	struct counter c = { .lock = SPINLOCK_INIT("kt-counter") };
	struct thread *t[N];

	/* Spread over the CPUs explicitly: threads never migrate. */
	for (int i = 0; i < N; i++) {
		t[i] = thread_create_on(&cpus[i % cpus_online()], "kt-count", count_up,
					&c, false);
		KT_ASSERT(t[i] != NULL);
	}
	for (int i = 0; i < N; i++)
		thread_join(t[i]);
	KT_EXPECT_EQ(c.value, N * 2000);
	KT_EXPECT_EQ(bit_count64(c.cpus_seen), cpus_online() < N ? cpus_online() : N);
}

static volatile int spin_go;

static void spin_until_go(void *arg)
{
	while (!spin_go)
		; /* never yields: only preemption lets the setter run */
}

KTEST(sched_timer_preempts_a_spinning_thread)
{
	struct cpu *here = this_cpu();
	struct thread *spinner, *setter;

	spin_go = 0;
	spinner = thread_create_on(here, "kt-spin", spin_until_go, NULL, false);
	setter = thread_create_on(here, "kt-set", set_flag, (void *)&spin_go, false);
	KT_ASSERT(spinner && setter);
	thread_join(spinner);
	thread_join(setter);
	KT_EXPECT_EQ(spin_go, 1);
}

/* Polls (sleeping 1 ms) until *flag is set or 5 s pass. */
static bool wait_flag(volatile int *flag)
{
	uint64_t deadline = clock_ns() + 5 * NS_PER_S;

	while (!*flag && clock_ns() < deadline)
		thread_sleep_ns(NS_PER_MS);
	return *flag;
}

/* Polls until t runs with its slice used up, or 5 s pass. */
static bool wait_slice_spent(struct thread *t)
{
	uint64_t deadline = clock_ns() + 5 * NS_PER_S;

	while (!sched_slice_spent(t) && clock_ns() < deadline)
		thread_sleep_ns(NS_PER_MS);
	return sched_slice_spent(t);
}

/* A thread that used up its slice with nobody else to run keeps the CPU
 * only until someone else is runnable there: a thread created later on
 * that CPU runs while the spinner still spins (it once never did: the
 * spent slice was never looked at again). */
KTEST(sched_thread_past_its_slice_gives_way_to_a_new_one)
{
	struct cpu *on = &cpus[this_cpu()->id == 0 && cpus_online() > 1 ? 1 : 0];
	struct thread *spinner, *setter = NULL;
	volatile int ran = 0;

	spin_go = 0;
	spinner = thread_create_on(on, "kt-spin", spin_until_go, NULL, false);
	KT_ASSERT(spinner != NULL);
	if (!KT_EXPECT(wait_slice_spent(spinner)))
		goto out;
	setter = thread_create_on(on, "kt-set", set_flag, (void *)&ran, false);
	if (KT_EXPECT(setter != NULL))
		KT_EXPECT(wait_flag(&ran));
out:
	spin_go = 1;
	thread_join(spinner);
	if (setter)
		thread_join(setter);
}

KTEST(sched_sleep_lasts_at_least_its_time)
{
	uint64_t start = clock_ns();

	thread_sleep_ns(20 * NS_PER_MS);
	KT_EXPECT(clock_ns() - start >= 20 * NS_PER_MS);
}

KTEST(time_clock_is_monotonic)
{
	uint64_t prev = clock_ns(), bad = 0;

	for (int i = 0; i < 10000; i++) {
		uint64_t now = clock_ns();

		bad += now < prev;
		prev = now;
	}
	KT_EXPECT_EQ(bad, 0);
}

struct pingpong {
	struct completion ping, pong;
	int rounds;
};

static void ponger(void *arg)
{
	struct pingpong *pp = arg;

	for (int i = 0; i < pp->rounds; i++) {
		wait_for_completion(&pp->ping);
		complete(&pp->pong);
	}
}

KTEST(wait_completion_ping_pong_across_cpus)
{
	struct pingpong pp = { .rounds = 300 };
	struct cpu *other = &cpus[cpus_online() > 1 ? 1 : 0];
	struct thread *t;
	int done = 0;

	completion_init(&pp.ping);
	completion_init(&pp.pong);
	t = thread_create_on(other, "kt-pong", ponger, &pp, false);
	KT_ASSERT(t != NULL);
	for (int i = 0; i < pp.rounds; i++) {
		complete(&pp.ping);
		done += wait_for_completion_timeout(&pp.pong, 5 * NS_PER_S);
	}
	thread_join(t);
	KT_EXPECT_EQ(done, pp.rounds);
}

KTEST(wait_completion_timeout_expires)
{
	struct completion c;
	uint64_t start = clock_ns();

	completion_init(&c);
	KT_EXPECT(!wait_for_completion_timeout(&c, 15 * NS_PER_MS));
	KT_EXPECT(clock_ns() - start >= 15 * NS_PER_MS);
	complete(&c);
	KT_EXPECT(wait_for_completion_timeout(&c, 15 * NS_PER_MS));
}

static void wait_on_queue(void *arg)
{
	struct waitq *wq = arg;

	spin_lock(&wq->lock);
	waitq_wait_locked(wq, 0);
	spin_unlock(&wq->lock);
}

KTEST(wait_queue_wakes_every_waiter)
{
	enum { N = 4 };
	struct waitq wq;
	struct thread *t[N];
	int queued = 0;

	waitq_init(&wq, "kt-wq");
	for (int i = 0; i < N; i++) {
		t[i] = thread_create("kt-waiter", wait_on_queue, &wq, false);
		KT_ASSERT(t[i] != NULL);
	}
	/* Wait (bounded) until all four are asleep on the queue. */
	for (int tries = 0; tries < 500 && queued < N; tries++) {
		thread_sleep_ns(NS_PER_MS);
		spin_lock(&wq.lock);
		queued = (int)list_length(&wq.waiters);
		spin_unlock(&wq.lock);
	}
	KT_EXPECT_EQ(queued, N);
	spin_lock(&wq.lock);
	waitq_wake_all_locked(&wq);
	spin_unlock(&wq.lock);
	for (int i = 0; i < N; i++)
		thread_join(t[i]);
}

struct intr_sleeper {
	struct waitq wq;
	struct thread *self;
	volatile int asleep; /* 1 once it holds wq.lock to sleep */
	int ret;
};

static void sleep_intr(void *arg)
{
	struct intr_sleeper *s = arg;

	spin_lock(&s->wq.lock);
	s->self = thread_current();
	s->asleep = 1;
	s->ret = waitq_wait_intr_locked(&s->wq, 0); /* no deadline: only a wake */
	spin_unlock(&s->wq.lock);
	thread_interrupt_clear();
}

/* An interruptible sleep with no deadline and no waker ends only through
 * thread_interrupt, with -EINTR; a plain sleep would hang the test. */
KTEST(sched_interrupt_ends_an_interruptible_sleep)
{
	struct intr_sleeper s = {.ret = 1};
	struct thread *t;

	waitq_init(&s.wq, "kt-intr");
	t = thread_create("kt-intr", sleep_intr, &s, false);
	KT_ASSERT(t != NULL);
	while (!s.asleep)
		thread_yield();
	spin_lock(&s.wq.lock); /* released only once it sleeps */
	spin_unlock(&s.wq.lock);
	thread_interrupt(s.self);
	thread_join(t);
	KT_EXPECT_EQ(s.ret, -EINTR);
}

/* Interrupted before it sleeps: the sleep does not start; a wake-up
 * still wins over the mark (0). */
KTEST(sched_interrupt_before_the_sleep)
{
	struct waitq wq;

	waitq_init(&wq, "kt-intr2");
	thread_interrupt(thread_current());
	KT_EXPECT(thread_interrupted());
	spin_lock(&wq.lock);
	KT_EXPECT_EQ(waitq_wait_intr_locked(&wq, 0), -EINTR);
	spin_unlock(&wq.lock);
	KT_EXPECT_EQ(thread_sleep_intr_ns(NS_PER_S * 100), -EINTR);
	thread_interrupt_clear();
	KT_EXPECT(!thread_interrupted());
	KT_EXPECT_EQ(thread_sleep_intr_ns(1000), 0);
}
