/*
 * Spinlocks and interrupt-disable nesting.
 *
 * A lock is an xchg'd word; waiters spin with pause. Holding a lock keeps
 * interrupts off through irq_push()/irq_pop(), whose nesting depth lives
 * in struct cpu (the scheduler saves it per thread across switches).
 */
#include <arch/cpu.h>
#include <kernel/cpu.h>
#include <kernel/panic.h>
#include <kernel/spinlock.h>

void irq_push(void)
{
	bool on = irqs_enabled();
	struct cpu *c;

	irq_disable();
	c = this_cpu();
	if (c->irq_depth++ == 0)
		c->irq_was_on = on;
}

void irq_pop(void)
{
	struct cpu *c = this_cpu();

	if (irqs_enabled())
		panic("irq_pop with interrupts on");
	if (c->irq_depth <= 0)
		panic("irq_pop without irq_push");
	if (--c->irq_depth == 0 && c->irq_was_on)
		irq_enable();
}

void spin_init(struct spinlock *l, const char *name)
{
	l->locked = 0;
	l->owner = NULL;
	l->name = name;
}

bool spin_held(const struct spinlock *l)
{
	return l->locked && l->owner == this_cpu();
}

void spin_lock(struct spinlock *l)
{
	irq_push();
	if (spin_held(l))
		panic("spinlock %s: recursive acquire", l->name);
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (l->locked)
			cpu_relax();
	l->owner = this_cpu();
}

bool spin_trylock(struct spinlock *l)
{
	irq_push();
	if (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
		irq_pop();
		return false;
	}
	l->owner = this_cpu();
	return true;
}

void spin_unlock(struct spinlock *l)
{
	if (!spin_held(l))
		panic("spinlock %s: release by non-owner", l->name);
	l->owner = NULL;
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
	irq_pop();
}
