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

enum { SHORT_SLEEPS = 16 };

/* SHORT_SLEEPS sleeps of 200 us on this thread's CPU; *arg becomes the
 * number of them during which the CPU's tick count did not move. */
static void count_tickless_sleeps(void *arg)
{
	struct cpu *c = this_cpu(); /* threads do not migrate */
	int same = 0;

	for (int i = 0; i < SHORT_SLEEPS; i++) {
		uint64_t before = c->ticks;

		thread_sleep_ns(200 * NS_PER_US);
		same += c->ticks == before;
	}
	*(int *)arg = same;
}

/* SHORT_SLEEPS sleeps on cpu: most end with its tick count still, if the
 * clock can say so (clock_is_hires), none otherwise. */
static void expect_short_sleeps(struct ktest_ctx *kt, struct cpu *cpu)
{
	int same = -1;
	struct thread *t = thread_create_on(cpu, "kt-short", count_tickless_sleeps, &same, false);

	KT_ASSERT(t != NULL);
	thread_join(t);
	if (clock_is_hires())
		KT_EXPECT(same >= SHORT_SLEEPS / 2);
	else
		KT_EXPECT_EQ(same, 0);
}

/*
 * A short sleep ends at its deadline, not at the next tick, on every CPU.
 * The measure is a tick count, not a time, so a slow or loaded host moves
 * both sides alike: waking at a tick needs the tick count to move (with a
 * tick-resolution clock, clock_ns() + 200 us is only reached at the next
 * tick, so no sleep may keep it still), while a deadline wake-up leaves it
 * still unless a tick falls due within the 200 us plus the interrupt
 * latency (a few percent of sleeps under TCG). A virtual CPU that the host
 * does not run for a long while delays the deadline and the tick together,
 * and one timer interrupt does at most one tick's work, so such a stall
 * spoils only the sleep it hits. Hence a majority, not all.
 */
KTEST(sched_short_sleep_wakes_before_the_tick)
{
	for (unsigned i = 0; i < cpu_count; i++) {
		if (!cpus[i].online)
			continue;
		expect_short_sleeps(kt, &cpus[i]);
	}
}

enum { ORDERED = 4 };

struct ordered_sleeps {
	uint64_t base; /* the sleeps' deadlines are base + gaps */
	volatile unsigned next_rank;
	unsigned rank[ORDERED]; /* wake-up order of sleeper i */
	uint64_t slept_at[ORDERED]; /* clock_ns() as it went to sleep */
	unsigned started;
};

/* Sleeper i (created in order) sleeps until base + (ORDERED - i) * 300 us:
 * the later created, the earlier its deadline. */
static void sleep_ordered(void *arg)
{
	struct ordered_sleeps *o = arg;
	unsigned i = __atomic_fetch_add(&o->started, 1, __ATOMIC_RELAXED);

	irq_push();
	o->slept_at[i] = clock_ns();
	thread_current()->state = THREAD_BLOCKED;
	sched_block(NULL, o->base + (ORDERED - i) * 300 * NS_PER_US);
	irq_pop();
	o->rank[i] = __atomic_fetch_add(&o->next_rank, 1, __ATOMIC_RELAXED);
}

/* Runs one round; returns false if it proves nothing (a sleeper only went
 * to sleep after the first deadline had passed: a very slow host). */
static bool ordered_round(struct ktest_ctx *kt, struct cpu *on)
{
	struct ordered_sleeps o = {.base = clock_ns() + 50 * NS_PER_MS};
	struct thread *t[ORDERED];
	bool valid = true;
	int n = 0;

	while (n < ORDERED &&
	       (t[n] = thread_create_on(on, "kt-order", sleep_ordered, &o, false)))
		n++;
	for (int i = 0; i < n; i++)
		thread_join(t[i]);
	if (!KT_EXPECT_EQ(n, ORDERED))
		return true; /* failed: no use trying again */
	for (int i = 0; i < ORDERED; i++)
		valid &= o.slept_at[i] < o.base + 300 * NS_PER_US;
	if (!valid)
		return false;
	/* Sleeper i has the (ORDERED - i)-th deadline: it wakes that late. */
	for (int i = 0; i < ORDERED; i++)
		KT_EXPECT_EQ(o.rank[i], (unsigned)(ORDERED - 1 - i));
	return true;
}

/* Sleepers on one CPU wake in deadline order, whatever order they went to
 * sleep in: here the reverse one. With wake-ups only at ticks, sleepers
 * due within one tick woke together in the order they went to sleep.
 * The order is decided by the deadlines alone: several due by the time an
 * interrupt comes are woken (and queued to run) earliest first. */
KTEST(sched_sleepers_wake_in_deadline_order)
{
	struct cpu *on = &cpus[cpus_online() > 1 ? 1 : 0];
	int tries = 0;

	while (tries < 5 && !ordered_round(kt, on))
		tries++;
	KT_EXPECT(tries < 5);
}

struct long_wait {
	struct completion c;
	bool completed; /* wait_for_completion_timeout's result */
};

static void wait_long(void *arg)
{
	struct long_wait *w = arg;

	w->completed = wait_for_completion_timeout(&w->c, 100 * NS_PER_S);
}

static bool cpu_has_sleepers(struct cpu *c)
{
	bool any;

	spin_lock(&c->rq.lock);
	any = !list_empty(&c->rq.sleepers);
	spin_unlock(&c->rq.lock);
	return any;
}

/* A sleeper woken before its deadline (and one whose deadline has already
 * passed) leaves no trace among its CPU's sleepers, and the CPU's short
 * sleeps still end before the next tick after the cancelled deadline (the
 * timer interrupts that find nothing due just re-arm). */
KTEST(sched_cancelled_and_past_deadlines)
{
	struct cpu *on = &cpus[cpus_online() > 1 ? 1 : 0];
	struct long_wait w = {.completed = false};
	struct thread *t;
	bool timed_out;

	completion_init(&w.c);
	t = thread_create_on(on, "kt-cancel", wait_long, &w, false);
	KT_ASSERT(t != NULL);
	/* Until it sleeps with its deadline filed (our own 1 ms sleeps are
	 * over, so off the list, whenever we look). */
	for (int tries = 0; tries < 5000 && !cpu_has_sleepers(on); tries++)
		thread_sleep_ns(NS_PER_MS);
	KT_EXPECT(cpu_has_sleepers(on));
	complete(&w.c);
	thread_join(t);
	KT_EXPECT(w.completed);
	KT_EXPECT(!cpu_has_sleepers(on));

	irq_push();
	thread_current()->state = THREAD_BLOCKED;
	timed_out = sched_block(NULL, 1); /* long past */
	irq_pop();
	KT_EXPECT(timed_out);

	expect_short_sleeps(kt, on);
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
