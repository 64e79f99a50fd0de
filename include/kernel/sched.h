/*
 * Kernel threads and the preemptive scheduler (kernel/sched.c).
 *
 * Each CPU has a run queue and an idle thread. A new thread goes to the
 * CPU with the fewest runnable threads; a woken thread returns to the run
 * queue of the CPU it last ran on (an IPI wakes that CPU if it idles in
 * hlt). A thread's slice is SCHED_SLICE_TICKS timer ticks; once spent, it
 * keeps the CPU only while nothing else there is runnable: the first tick
 * (or wake-up IPI) that finds another thread switches, but only when the
 * running one holds no spinlock (interrupts were on). A timed sleep ends
 * at its deadline (plus interrupt latency), not at the next tick, when the
 * clock is finer than the tick (clock_is_hires()).
 */
#ifndef KERNEL_SCHED_H
#define KERNEL_SCHED_H

#include <kernel/spinlock.h>
#include <lib/list.h>
#include <stdbool.h>
#include <stdint.h>

#define SCHED_SLICE_TICKS 2
#define THREAD_STACK_ORDER 2 /* 16 KiB kernel stacks */

struct cpu;
struct uthread;

struct runqueue {
	struct spinlock lock;
	struct list_node threads; /* RUNNABLE threads, in order */
	unsigned nr; /* length of threads */
	/* Threads with a wake-up deadline, earliest first; added only by
	 * this CPU, removed by it (deadline) or by a waker on any CPU. */
	struct list_node sleepers;
};

enum thread_state {
	THREAD_RUNNABLE,
	THREAD_RUNNING,
	THREAD_BLOCKED,
	THREAD_DEAD,
};

struct thread {
	uint64_t rsp; /* saved stack pointer while switched out */
	void *stack;
	unsigned tid;
	char name[24];
	enum thread_state state; /* changed under the owning runqueue's lock */
	struct cpu *cpu; /* CPU whose run queue owns this thread */
	struct list_node link; /* in cpu->rq.threads while RUNNABLE */
	struct list_node sleep_link; /* rq->sleepers while a deadline is set */
	uint64_t wake_at; /* deadline in clock_ns(), 0 if none */
	bool timed_out; /* woken by the deadline rather than by a waker */
	/* thread_interrupt(): interrupted stays set until the thread clears
	 * it; intr_sleep marks an interruptible sleep. Under the owning
	 * runqueue's lock (intr_sleep: written by the thread itself before
	 * it blocks, read by others under that lock). */
	bool interrupted;
	bool intr_sleep;
	unsigned slice; /* ticks left, 0 once spent; under the runqueue's lock */

	int saved_irq_depth; /* struct cpu's irq nesting while switched out */
	bool saved_irq_was_on;

	/* User-mode state (arch: page tables, FPU/SSE, FS base), NULL for a
	 * kernel thread; set and cleared by the thread itself with interrupts
	 * off (uthread_attach/detach), read at its switches. */
	struct uthread *user;

	void (*fn)(void *);
	void *arg;
	bool detached; /* freed at exit instead of by thread_join() */
	struct spinlock exit_lock;
	bool exited;
	struct thread *joiner; /* blocked in thread_join() */
};

/* Makes the code running on this CPU a thread (boot_stack is its stack, to
 * be freed at its exit, or NULL for the static boot stack) and creates the
 * CPU's idle thread. The boot code then ends with thread_exit(). */
void sched_init_cpu(void *boot_stack);

/* Creates a runnable thread running fn(arg); returns NULL if out of
 * memory. Unless detached, someone must thread_join() it. */
struct thread *thread_create(const char *name, void (*fn)(void *), void *arg,
			     bool detached);
/* Same, on a given CPU. */
struct thread *thread_create_on(struct cpu *cpu, const char *name,
				void (*fn)(void *), void *arg, bool detached);
/* Waits for t to exit and frees it. */
void thread_join(struct thread *t);
__attribute__((noreturn)) void thread_exit(void);
void thread_yield(void);
void thread_sleep_ns(uint64_t ns);
struct thread *thread_current(void);

/*
 * Blocking primitive under the wait queues (kernel/wait.c). The caller
 * holds lock (or, if lock is NULL, has interrupts off), has made the
 * current thread findable by its waker, and set its state to BLOCKED. This
 * releases lock,
 * switches away until sched_wake() (or the deadline, if not 0, passes),
 * and takes lock again. Returns true if woken by the deadline.
 */
bool sched_block(struct spinlock *lock, uint64_t deadline_ns);
/* Makes a BLOCKED thread runnable. Returns false (doing nothing) if it
 * was not blocked. */
bool sched_wake(struct thread *t);

/*
 * Interruptible sleeps: a thread asleep in sched_block_intr() (or the
 * waits built on it: waitq_wait_intr_locked, thread_sleep_intr_ns)
 * returns early once thread_interrupt() is called for it, and does not
 * fall asleep at all if that happened before. The mark stays until the
 * thread calls thread_interrupt_clear() (the processor: once no signal
 * is pending). Other sleeps ignore it.
 */
bool sched_block_intr(struct spinlock *lock, uint64_t deadline_ns);
void thread_interrupt(struct thread *t);
void thread_interrupt_clear(void);
/* Whether the current thread has been interrupted (and not cleared). */
bool thread_interrupted(void);
/* Sleeps ns (0: just yields); returns -EINTR if interrupted first, 0. */
int thread_sleep_intr_ns(uint64_t ns);

/* Timer interrupt hooks, on the interrupted CPU. sched_wake_sleepers()
 * makes this CPU's sleepers whose deadline has passed runnable and returns
 * the earliest deadline still pending (0: none), for the timer to fire at;
 * it runs at every timer interrupt. sched_tick() is the 1/HZ bookkeeping
 * (tick counts, time slices), run only at ticks. */
uint64_t sched_wake_sleepers(void);
void sched_tick(void);
/* The preemption point on interrupt exit. */
void sched_preempt_point(void);

/* Threads on this CPU's run queue (for placement and tests). */
unsigned sched_runnable(struct cpu *cpu);
/* Whether t is running on its CPU with its time slice used up (it keeps
 * the CPU until another thread there is runnable; for tests). */
bool sched_slice_spent(struct thread *t);

#endif
