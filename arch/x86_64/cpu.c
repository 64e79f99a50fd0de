/*
 * Per-CPU descriptor tables and the small machine-level services the
 * portable core needs (arch/arch.h): each CPU gets its own GDT and TSS
 * inside its struct cpu, %gs points at that struct cpu, and an IST stack
 * catches double faults and NMIs even on a broken kernel stack. The
 * user-mode machine state (syscall MSRs, FPU/SSE) is set up here too,
 * through user_init_cpu() (arch/x86_64/user.c).
 */
#include <arch/apic.h>
#include <arch/arch.h>
#include <arch/cpu.h>
#include <arch/percpu.h>
#include <arch/trap.h>
#include <arch/user.h>
#include <kernel/cpu.h>
#include <kernel/mm.h>
#include <kernel/panic.h>

#define FAULT_STACK_SIZE 8192

static uint8_t bsp_fault_stack[FAULT_STACK_SIZE] __attribute__((aligned(16)));

static void gdt_load(struct cpu *c)
{
	struct arch_cpu *a = &c->arch;
	uint64_t tss = (uint64_t)&a->tss;
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) gdtr = { sizeof(a->gdt) - 1, (uint64_t)a->gdt };

	a->gdt[0] = 0;
	a->gdt[1] = 0x00af9a000000ffff; /* kernel code, 64-bit */
	a->gdt[2] = 0x00cf92000000ffff; /* kernel data */
	a->gdt[3] = 0x00cff2000000ffff; /* user data */
	a->gdt[4] = 0x00affa000000ffff; /* user code, 64-bit */
	a->gdt[5] = (sizeof(struct tss) - 1) | ((tss & 0xffffff) << 16) |
		    (0x89ull << 40) | (((tss >> 24) & 0xff) << 56);
	a->gdt[6] = tss >> 32;
	a->tss.iomap_base = sizeof(struct tss);
	a->tss.ist[IST_FAULT - 1] = (uint64_t)a->fault_stack + FAULT_STACK_SIZE;

	__asm__ volatile("lgdt %0\n\t"
			 "pushq %1\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "movl %2, %%eax\n\t"
			 "movl %%eax, %%ds\n\t"
			 "movl %%eax, %%es\n\t"
			 "movl %%eax, %%ss\n\t"
			 "ltr %w3"
			 :
			 : "m"(gdtr), "i"(SEL_KCODE), "i"(SEL_KDATA), "r"(SEL_TSS)
			 : "rax", "memory");
}

/* Makes c this CPU's struct cpu and loads its descriptor tables. */
static void cpu_setup(struct cpu *c)
{
	c->self = c;
	wrmsr(MSR_GS_BASE, (uint64_t)c);
	wrmsr(MSR_KERNEL_GS_BASE, 0);
	gdt_load(c);
	trap_init_cpu();
	user_init_cpu(c); /* syscall MSRs, FPU/SSE control bits */
}

void arch_early_init(void)
{
	cpus[0].id = 0;
	cpus[0].arch.fault_stack = bsp_fault_stack;
	cpu_setup(&cpus[0]);
}

void arch_cpu_init_ap(struct cpu *c)
{
	cpu_setup(c);
}

int arch_cpu_prepare(struct cpu *c)
{
	c->arch.fault_stack = page_alloc(1); /* 8 KiB */
	return c->arch.fault_stack ? 0 : -1;
}

void arch_debug_exit(uint32_t code)
{
	outl(0xf4, code);
	arch_halt(); /* no isa-debug-exit device: just stop */
}

void arch_halt(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void arch_halt_other_cpus(void)
{
	if (cpus_online() > 1)
		lapic_send_nmi_all_but_self();
}
