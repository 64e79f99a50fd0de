/*
 * Spinlocks (kernel/spinlock.c). Holding one keeps interrupts off on this
 * CPU (irq_push), so a lock taken in an interrupt handler cannot deadlock
 * against the code it interrupted, and a lock holder is never preempted.
 * Hold them briefly; never sleep with one held.
 */
#ifndef KERNEL_SPINLOCK_H
#define KERNEL_SPINLOCK_H

#include <stdbool.h>
#include <stdint.h>

struct cpu;

struct spinlock {
	volatile uint32_t locked;
	struct cpu *owner; /* for spin_held() and deadlock reports */
	const char *name;
};

#define SPINLOCK_INIT(n) { .locked = 0, .owner = 0, .name = (n) }

void spin_init(struct spinlock *l, const char *name);
void spin_lock(struct spinlock *l);
void spin_unlock(struct spinlock *l);
/* Takes the lock if it is free; returns whether it did. */
bool spin_trylock(struct spinlock *l);
/* True if this CPU holds l. */
bool spin_held(const struct spinlock *l);

#endif
