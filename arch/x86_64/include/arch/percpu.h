/*
 * x86-64 per-CPU state: each CPU's GDT and TSS, and the %gs-based pointer
 * to its struct cpu (the first field of struct cpu points to itself).
 * The selectors are usable from assembly.
 */
#ifndef ARCH_PERCPU_H
#define ARCH_PERCPU_H

/* GDT selectors; the user ones follow the layout sysret expects. */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x1b
#define SEL_UCODE 0x23
#define SEL_TSS	  0x28

#define IST_FAULT 1 /* double fault, NMI, machine check */

#ifndef __ASSEMBLER__ /* the selectors are used by syscall.S */
#include <stdint.h>

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104, "TSS layout");

struct arch_cpu {
	uint64_t gdt[7]; /* null, kcode, kdata, udata, ucode, tss (2 slots) */
	struct tss tss; /* rsp[0]: top of the running thread's kernel stack */
	void *fault_stack; /* IST stack for double faults */

	/* User mode (arch/x86_64/user.c, syscall.S, uspace.c). */
	uint64_t kstack_top; /* = tss.rsp[0]; set at every switch, read by syscall entry */
	uint64_t user_rsp; /* syscall entry scratch: the user's rsp until saved */
	uint64_t tlb_req; /* shootdowns asked of this CPU (any CPU adds, atomic) */
	uint64_t tlb_done; /* the request count this CPU's last flush covered
			    * (written by this CPU only, read by all) */
};

/* The current CPU's struct cpu, through %gs:0. */
static inline void *arch_this_cpu(void)
{
	void *p;

	__asm__ volatile("mov %%gs:0, %0" : "=r"(p));
	return p;
}

#endif /* __ASSEMBLER__ */
#endif
