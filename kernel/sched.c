/*
 * Kernel threads and the scheduler: per-CPU run queues, round-robin with a
 * time slice, no migration after creation (so a thread in the middle of
 * switching out can only be picked up again by its own CPU).
 *
 * Interrupt state: schedule() runs with interrupts off. Each thread keeps
 * its own copy of the CPU's irq_push() nesting across a switch, so a thread
 * that blocked inside a spinlock section resumes with the same nesting.
 *
 * Switch hook: arch_thread_switch(prev, next) runs just before the stack
 * switch (interrupts off) and loads what the next thread needs beyond its
 * registers: its kernel stack top for entries from user mode and, for a
 * user thread, its page tables, FPU/SSE state and FS base.
 *
 * Timed sleeps: a thread with a deadline files itself, on its own CPU, in
 * that CPU's sleepers list, kept sorted by deadline, and asks the local
 * timer to fire by then (lapic_timer_wake_by). Every timer interrupt,
 * tick or not, wakes the due sleepers and re-arms the timer for the
 * earlier of the next tick and the first remaining deadline. Sleepers are
 * only ever added by their own CPU, so no CPU programs another's timer; a
 * sleeper woken early by another CPU just leaves its CPU's timer armed
 * for a deadline that finds nothing to do.
 *
 * Exit: a dying thread cannot free the stack it runs on. It parks itself in
 * cpu->zombie; the next thread to run on that CPU frees it (detached) or
 * hands it to its joiner.
 */
#include <arch/apic.h>
#include <arch/arch.h>
#include <arch/cpu.h>
#include <arch/memlayout.h>
#include <arch/trap.h>
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/panic.h>
#include <kernel/sched.h>
#include <kernel/time.h>
#include <lib/string.h>

#define STACK_BYTES ((size_t)PAGE_SIZE << THREAD_STACK_ORDER)

void switch_stacks(uint64_t *save_rsp, uint64_t next_rsp);
void thread_start(void);
void thread_entry(struct thread *t);

static unsigned next_tid = 1;

struct thread *thread_current(void)
{
	return this_cpu()->current;
}

unsigned sched_runnable(struct cpu *cpu)
{
	return cpu->rq.nr;
}

bool sched_slice_spent(struct thread *t)
{
	struct cpu *c = t->cpu;
	bool spent;

	spin_lock(&c->rq.lock);
	spent = c->current == t && t->slice == 0;
	spin_unlock(&c->rq.lock);
	return spent;
}

static void thread_free(struct thread *t)
{
	if (t->stack)
		page_free(t->stack, THREAD_STACK_ORDER);
	kfree(t);
}

/* The next thread to run here after the current one switches out. */
static void reap_zombie(struct cpu *c)
{
	struct thread *z = c->zombie, *joiner;

	if (!z)
		return;
	c->zombie = NULL;
	if (z->detached) {
		thread_free(z);
		return;
	}
	spin_lock(&z->exit_lock);
	z->exited = true;
	joiner = z->joiner;
	spin_unlock(&z->exit_lock);
	if (joiner)
		sched_wake(joiner);
}

/* Puts t on c's run queue. Caller holds c->rq.lock. */
static void enqueue_locked(struct cpu *c, struct thread *t)
{
	t->state = THREAD_RUNNABLE;
	list_push_back(&c->rq.threads, &t->link);
	c->rq.nr++;
	if (c->current == c->idle || c->current->slice == 0)
		c->need_resched = true; /* nothing to wait for: switch at once */
}

/* A BLOCKED thread leaves its sleep (and deadline) for the run queue.
 * Caller holds c->rq.lock. */
static void unblock_locked(struct cpu *c, struct thread *t)
{
	list_remove(&t->sleep_link);
	t->wake_at = 0;
	enqueue_locked(c, t);
}

static void kick(struct cpu *c)
{
	if (c != this_cpu() && c->online)
		lapic_send_ipi(c->apic_id, VEC_RESCHED);
}

/*
 * Switches to the next runnable thread of this CPU, or its idle thread.
 * Interrupts must be off. A RUNNING current thread is requeued; a BLOCKED
 * or DEAD one is not.
 */
static void schedule(void)
{
	struct cpu *c = this_cpu();
	struct thread *prev = c->current, *next;
	struct list_node *n;

	spin_lock(&c->rq.lock);
	if (prev->state == THREAD_BLOCKED && prev->intr_sleep && prev->interrupted)
		unblock_locked(c, prev); /* interrupted before it slept */
	else if (prev->state == THREAD_RUNNING && prev != c->idle)
		enqueue_locked(c, prev);
	n = list_pop_front(&c->rq.threads);
	if (n) {
		next = list_entry(n, struct thread, link);
		c->rq.nr--;
	} else {
		next = c->idle;
	}
	next->state = THREAD_RUNNING;
	next->slice = SCHED_SLICE_TICKS;
	c->current = next;
	c->need_resched = false;
	spin_unlock(&c->rq.lock);

	if (next == prev)
		return;
	prev->saved_irq_depth = c->irq_depth;
	prev->saved_irq_was_on = c->irq_was_on;
	arch_thread_switch(prev, next);
	switch_stacks(&prev->rsp, next->rsp);

	/* prev runs again here, on the same CPU. */
	c = this_cpu();
	c->irq_depth = prev->saved_irq_depth;
	c->irq_was_on = prev->saved_irq_was_on;
	reap_zombie(c);
}

void thread_entry(struct thread *t)
{
	struct cpu *c = this_cpu();

	c->irq_depth = t->saved_irq_depth;
	c->irq_was_on = t->saved_irq_was_on;
	reap_zombie(c);
	irq_pop(); /* the scheduler's: interrupts on from here */
	t->fn(t->arg);
	thread_exit();
}

static struct thread *thread_alloc(const char *name, bool with_stack)
{
	struct thread *t = kzalloc(sizeof(*t));

	if (!t)
		return NULL;
	if (with_stack) {
		t->stack = page_alloc(THREAD_STACK_ORDER);
		if (!t->stack) {
			kfree(t);
			return NULL;
		}
	}
	t->tid = __atomic_fetch_add(&next_tid, 1, __ATOMIC_RELAXED);
	strlcpy(t->name, name, sizeof(t->name));
	list_init(&t->link);
	list_init(&t->sleep_link);
	spin_init(&t->exit_lock, "thread exit");
	return t;
}

/* Makes t's stack look like it switched out just before thread_start. */
static void thread_prepare_stack(struct thread *t)
{
	uint64_t *sp = (uint64_t *)((char *)t->stack + STACK_BYTES);

	*--sp = (uint64_t)thread_start; /* return address of switch_stacks */
	*--sp = 0; /* rbp */
	*--sp = (uint64_t)t; /* rbx: thread_start's argument */
	*--sp = 0; /* r12 */
	*--sp = 0; /* r13 */
	*--sp = 0; /* r14 */
	*--sp = 0; /* r15 */
	t->rsp = (uint64_t)sp;
	t->saved_irq_depth = 1; /* schedule()'s irq_push, undone by thread_entry */
	t->saved_irq_was_on = true;
}

static struct cpu *least_loaded_cpu(void)
{
	struct cpu *best = this_cpu();
	unsigned best_load = ~0u;

	for (unsigned i = 0; i < cpu_count; i++) {
		struct cpu *c = &cpus[i];
		unsigned load;

		if (!c->online)
			continue;
		load = c->rq.nr + (c->current != c->idle);
		if (load < best_load) {
			best = c;
			best_load = load;
		}
	}
	return best;
}

struct thread *thread_create_on(struct cpu *c, const char *name,
				void (*fn)(void *), void *arg, bool detached)
{
	struct thread *t = thread_alloc(name, true);

	if (!t)
		return NULL;
	t->fn = fn;
	t->arg = arg;
	t->detached = detached;
	t->cpu = c;
	thread_prepare_stack(t);
	spin_lock(&c->rq.lock);
	enqueue_locked(c, t);
	spin_unlock(&c->rq.lock);
	kick(c);
	return t;
}

struct thread *thread_create(const char *name, void (*fn)(void *), void *arg,
			     bool detached)
{
	return thread_create_on(least_loaded_cpu(), name, fn, arg, detached);
}

void thread_join(struct thread *t)
{
	BUG_ON(t->detached);
	spin_lock(&t->exit_lock);
	while (!t->exited) {
		t->joiner = thread_current();
		t->joiner->state = THREAD_BLOCKED;
		sched_block(&t->exit_lock, 0);
	}
	spin_unlock(&t->exit_lock);
	thread_free(t);
}

void thread_exit(void)
{
	struct cpu *c;

	irq_push();
	c = this_cpu();
	BUG_ON(c->current == c->idle);
	c->current->state = THREAD_DEAD;
	c->zombie = c->current;
	schedule();
	panic("thread_exit: a dead thread was scheduled");
}

void thread_yield(void)
{
	irq_push();
	schedule();
	irq_pop();
}

/* Files t (current on c) among c's sleepers, which stay sorted by
 * deadline (earliest first, equal ones in arrival order). */
static void add_sleeper(struct cpu *c, struct thread *t, uint64_t deadline_ns)
{
	struct list_node *n;

	spin_lock(&c->rq.lock);
	t->wake_at = deadline_ns;
	list_for_each(n, &c->rq.sleepers)
		if (list_entry(n, struct thread, sleep_link)->wake_at > deadline_ns)
			break;
	list_push_back(n, &t->sleep_link); /* before n, or last */
	spin_unlock(&c->rq.lock);
}

bool sched_block(struct spinlock *lock, uint64_t deadline_ns)
{
	struct thread *t;
	struct cpu *c;

	irq_push(); /* interrupts stay off from the unlock to the switch */
	c = this_cpu();
	t = c->current;
	t->timed_out = false;
	if (deadline_ns) {
		add_sleeper(c, t, deadline_ns);
		lapic_timer_wake_by(deadline_ns);
	}
	if (lock)
		spin_unlock(lock);
	schedule();
	if (lock)
		spin_lock(lock);
	irq_pop();
	return t->timed_out;
}

bool sched_wake(struct thread *t)
{
	struct cpu *c = t->cpu;
	bool woke = false;

	spin_lock(&c->rq.lock);
	if (t->state == THREAD_BLOCKED) {
		unblock_locked(c, t);
		woke = true;
	}
	spin_unlock(&c->rq.lock);
	if (woke)
		kick(c);
	return woke;
}

bool sched_block_intr(struct spinlock *lock, uint64_t deadline_ns)
{
	struct thread *t = thread_current();
	bool timed_out;

	t->intr_sleep = true;
	timed_out = sched_block(lock, deadline_ns);
	t->intr_sleep = false;
	return timed_out;
}

void thread_interrupt(struct thread *t)
{
	struct cpu *c = t->cpu;
	bool woke = false, running;

	spin_lock(&c->rq.lock);
	t->interrupted = true;
	if (t->state == THREAD_BLOCKED && t->intr_sleep) {
		unblock_locked(c, t);
		woke = true;
	}
	running = t->state == THREAD_RUNNING;
	spin_unlock(&c->rq.lock);
	/* Running elsewhere (maybe in user code): the IPI's way out of the
	 * interrupt runs the user_return hook without waiting for a tick. */
	if (woke || running)
		kick(c);
}

void thread_interrupt_clear(void)
{
	struct thread *t;

	irq_push();
	t = thread_current();
	spin_lock(&t->cpu->rq.lock);
	t->interrupted = false;
	spin_unlock(&t->cpu->rq.lock);
	irq_pop();
}

bool thread_interrupted(void)
{
	return __atomic_load_n(&thread_current()->interrupted, __ATOMIC_ACQUIRE);
}

int thread_sleep_intr_ns(uint64_t ns)
{
	irq_push();
	thread_current()->state = THREAD_BLOCKED;
	sched_block_intr(NULL, clock_ns() + (ns ? ns : 1));
	irq_pop();
	return thread_interrupted() ? -EINTR : 0;
}

void thread_sleep_ns(uint64_t ns)
{
	irq_push();
	thread_current()->state = THREAD_BLOCKED;
	sched_block(NULL, clock_ns() + (ns ? ns : 1));
	irq_pop();
}

uint64_t sched_wake_sleepers(void)
{
	struct cpu *c = this_cpu();
	uint64_t now = clock_ns(), next = 0;

	spin_lock(&c->rq.lock);
	while (!list_empty(&c->rq.sleepers)) {
		struct thread *t = list_entry(c->rq.sleepers.next, struct thread,
					      sleep_link);

		if (t->wake_at > now) {
			next = t->wake_at;
			break;
		}
		list_remove(&t->sleep_link);
		t->wake_at = 0;
		if (t->state == THREAD_BLOCKED) {
			t->timed_out = true;
			enqueue_locked(c, t);
		}
	}
	spin_unlock(&c->rq.lock);
	return next;
}

void sched_tick(void)
{
	struct cpu *c = this_cpu();

	c->ticks++;
	if (c->current != c->idle)
		c->busy_ticks++;
	spin_lock(&c->rq.lock);
	/* A spent slice stays at 0 until the next switch: a thread that ran
	 * it out alone gives way at the first tick that finds company. */
	if (c->current != c->idle) {
		if (c->current->slice)
			c->current->slice--;
		if (c->current->slice == 0 && c->rq.nr)
			c->need_resched = true;
	}
	spin_unlock(&c->rq.lock);
}

void sched_preempt_point(void)
{
	struct cpu *c = this_cpu();

	if (!c->need_resched || c->irq_depth != 0 || !c->current)
		return;
	irq_push();
	schedule();
	irq_pop();
}

static void resched_ipi(struct trap_frame *tf, void *arg)
{
	/* Nothing to do: sched_preempt_point() runs on the way out. */
}

/* The idle thread: halts until an interrupt brings work. */
static void idle_loop(void *arg)
{
	for (;;) {
		irq_disable();
		if (this_cpu()->rq.nr == 0) {
			irq_enable_and_halt(); /* preempted from the interrupt */
		} else {
			irq_enable();
			thread_yield();
		}
	}
}

void sched_init_cpu(void *boot_stack)
{
	struct cpu *c = this_cpu();
	struct thread *boot, *idle;

	spin_init(&c->rq.lock, "runqueue");
	list_init(&c->rq.threads);
	list_init(&c->rq.sleepers);
	boot = thread_alloc(c->id == 0 ? "boot" : "ap-boot", false);
	idle = thread_alloc("idle", true);
	if (!boot || !idle)
		panic("sched: out of memory starting cpu %u", c->id);
	boot->stack = boot_stack;
	boot->state = THREAD_RUNNING;
	boot->cpu = c;
	boot->detached = true;
	boot->slice = SCHED_SLICE_TICKS;
	idle->fn = idle_loop;
	idle->cpu = c;
	idle->detached = true;
	thread_prepare_stack(idle);
	c->idle = idle;
	c->current = boot;
	if (c->id == 0)
		trap_register(VEC_RESCHED, resched_ipi, NULL);
}
