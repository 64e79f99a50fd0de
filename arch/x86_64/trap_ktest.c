/* Self tests of interrupts, the local APIC, SMP bring-up and symbols. */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/trap.h>
#include <kernel/acpi.h>
#include <kernel/cpu.h>
#include <kernel/ksym.h>
#include <kernel/ktest.h>
#include <kernel/sched.h>
#include <kernel/time.h>
#include <lib/string.h>

static volatile int ipi_count;

static void count_ipi(struct trap_frame *tf, void *arg)
{
	ipi_count++;
	*(volatile unsigned *)arg = (unsigned)tf->vector;
}

KTEST(trap_self_ipi_reaches_its_handler)
{
	volatile unsigned seen = 0;
	int vec = trap_alloc_vector(count_ipi, (void *)&seen);
	uint64_t deadline;

	KT_ASSERT(vec >= VEC_DYNAMIC_BASE);
	ipi_count = 0;
	irq_push(); /* stay on this CPU while sending to ourselves */
	lapic_send_ipi(lapic_id(), (uint8_t)vec);
	irq_pop();
	deadline = clock_ns() + NS_PER_S;
	while (!ipi_count && clock_ns() < deadline)
		thread_yield();
	trap_free_vector((unsigned)vec);
	KT_EXPECT_EQ(ipi_count, 1);
	KT_EXPECT_EQ(seen, vec);
}

KTEST(trap_timer_ticks_on_every_cpu)
{
	uint64_t before[MAX_CPUS];

	for (unsigned i = 0; i < cpu_count; i++)
		before[i] = cpus[i].ticks;
	thread_sleep_ns(50 * NS_PER_MS);
	for (unsigned i = 0; i < cpu_count; i++)
		KT_EXPECT(cpus[i].ticks > before[i]);
}

KTEST(smp_every_acpi_cpu_is_online)
{
	unsigned expected = acpi.ncpus < MAX_CPUS ? acpi.ncpus : MAX_CPUS;

	KT_EXPECT(acpi.ncpus >= 1);
	KT_EXPECT_EQ(cpus_online(), expected);
	for (unsigned i = 0; i < cpu_count; i++)
		for (unsigned j = i + 1; j < cpu_count; j++)
			KT_EXPECT(cpus[i].apic_id != cpus[j].apic_id);
}

KTEST(ksym_names_kernel_functions)
{
	uint64_t off = 1;
	const char *name = ksym_lookup((uint64_t)trap_register + 3, &off);

	KT_ASSERT(name != NULL);
	KT_EXPECT(strcmp(name, "trap_register") == 0);
	KT_EXPECT_EQ(off, 3);
}
