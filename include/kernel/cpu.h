/*
 * Per-CPU state (kernel/cpu.c) and the CPU table filled in by SMP bring-up.
 *
 * Fields are touched only by their own CPU with interrupts off, unless a
 * comment says otherwise.
 */
#ifndef KERNEL_CPU_H
#define KERNEL_CPU_H

#include <arch/percpu.h>
#include <kernel/sched.h>
#include <stdbool.h>
#include <stdint.h>

#define MAX_CPUS 16

struct thread;

struct cpu {
	struct cpu *self; /* must be first: %gs:0 */
	unsigned id; /* index into cpus[] */
	uint32_t apic_id;
	volatile bool online; /* set once by the CPU itself, read by all */

	int irq_depth; /* nesting of irq_push() */
	bool irq_was_on; /* interrupt flag before the outermost irq_push() */

	struct thread *current; /* written under rq.lock by its CPU; others
				 * read it under rq.lock (placement: racy) */
	struct thread *idle;
	struct runqueue rq; /* has its own lock: other CPUs add to it */
	volatile bool need_resched; /* set under rq.lock by any CPU */
	struct thread *zombie; /* exited thread to reap after the switch */
	uint64_t ticks; /* timer interrupts taken */
	uint64_t busy_ticks; /* of which not in the idle thread */

	struct arch_cpu arch;
};

extern struct cpu cpus[MAX_CPUS];
/* CPUs found in the ACPI tables (online or not). Written before APs start. */
extern unsigned cpu_count;

static inline struct cpu *this_cpu(void)
{
	return arch_this_cpu();
}

/* Number of CPUs that finished bring-up. */
unsigned cpus_online(void);

/*
 * Interrupt-disable nesting. irq_push() disables interrupts and remembers
 * whether they were on; the matching outermost irq_pop() restores that.
 * Spinlocks use these, so holding any lock keeps interrupts off.
 */
void irq_push(void);
void irq_pop(void);

#endif
