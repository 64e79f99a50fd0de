/*
 * Bringing up the application processors, one at a time: copy the
 * trampoline below 1 MiB, leave a stack in ap_boot_stack, send
 * INIT-SIPI-SIPI, and wait (bounded) for the AP to mark itself online.
 * An AP that does not answer is reported and skipped.
 */
#include <arch/apic.h>
#include <arch/arch.h>
#include <arch/cpu.h>
#include <arch/memlayout.h>
#include <arch/trap.h>
#include <kernel/acpi.h>
#include <kernel/cpu.h>
#include <kernel/mm.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/smp.h>
#include <kernel/time.h>
#include <lib/string.h>

#define AP_START_TIMEOUT_NS (2 * NS_PER_S)

extern char trampoline_start[], trampoline_end[];
extern volatile uint64_t ap_boot_stack, ap_boot_cr3;
void arch_cpu_init_ap(struct cpu *c);
int arch_cpu_prepare(struct cpu *c);

static void *volatile ap_stack_base; /* handed to the AP's boot thread */

/* First C code on an AP (from boot.S, on the stack in ap_boot_stack). */
void smp_ap_main(void)
{
	uint32_t id;
	struct cpu *c = NULL;

	lapic_init_cpu(); /* interrupts stay off until the idle thread runs */
	id = lapic_id();
	for (unsigned i = 1; i < cpu_count; i++)
		if (cpus[i].apic_id == id)
			c = &cpus[i];
	if (!c)
		arch_halt(); /* not a CPU we started: stay out of the way */
	arch_cpu_init_ap(c);
	sched_init_cpu(ap_stack_base);
	__atomic_store_n(&c->online, true, __ATOMIC_RELEASE);
	thread_exit(); /* this CPU now runs its idle thread */
}

static bool start_ap(struct cpu *c)
{
	void *stack = page_alloc(THREAD_STACK_ORDER);
	uint64_t deadline;

	if (!stack || arch_cpu_prepare(c) < 0) {
		page_free(stack, THREAD_STACK_ORDER);
		return false;
	}
	ap_stack_base = stack;
	ap_boot_cr3 = vmm_kernel_root();
	ap_boot_stack = (uint64_t)stack + ((uint64_t)PAGE_SIZE << THREAD_STACK_ORDER);
	lapic_start_ap(c->apic_id, AP_TRAMPOLINE_PHYS >> 12);
	deadline = clock_ns() + AP_START_TIMEOUT_NS;
	while (!__atomic_load_n(&c->online, __ATOMIC_ACQUIRE) && clock_ns() < deadline)
		cpu_relax();
	ap_boot_stack = 0;
	return c->online;
}

void smp_init(void)
{
	uint32_t self = lapic_id();
	unsigned n = 1;

	cpus[0].apic_id = self;
	for (unsigned i = 0; i < acpi.ncpus && n < MAX_CPUS; i++) {
		if (acpi.cpu_apic_ids[i] == self)
			continue;
		cpus[n].id = n;
		cpus[n].apic_id = acpi.cpu_apic_ids[i];
		n++;
	}
	if (acpi.ncpus > MAX_CPUS)
		pr_warn("smp: %u CPUs present, using the first %u", acpi.ncpus, MAX_CPUS);
	cpu_count = n;
	if (n == 1)
		return;

	memcpy(phys_to_virt(AP_TRAMPOLINE_PHYS), trampoline_start,
	       (size_t)(trampoline_end - trampoline_start));
	for (unsigned i = 1; i < n; i++)
		if (!start_ap(&cpus[i]))
			pr_err("smp: cpu %u (APIC id %u) did not start", i,
			       cpus[i].apic_id);
}
