/*
 * The IDT and interrupt dispatch. One table serves every CPU. Exceptions in
 * kernel mode are kernel bugs: they print the registers and a symbolised
 * backtrace, then panic; the one exception is a page fault on a user
 * address inside a copy routine (user_copy_fault, arch/x86_64/user.c).
 * Exceptions in user mode go to the user hooks (user_exception), except
 * NMI, double fault and machine check, which are never the program's
 * doing. Device and IPI vectors go to registered handlers; the scheduler
 * gets a chance to preempt on the way out, and on the way back to user
 * mode the user_return hook runs when the thread was interrupted
 * (signals: user_interrupt_return).
 */
#include <arch/apic.h>
#include <arch/arch.h>
#include <arch/cpu.h>
#include <arch/percpu.h>
#include <arch/trap.h>
#include <arch/user.h>
#include <kernel/cpu.h>
#include <kernel/ksym.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>

struct idt_gate {
	uint16_t off0;
	uint16_t sel;
	uint8_t ist;
	uint8_t type; /* 0x8e: present, DPL 0, interrupt gate; 0xee: DPL 3 */
	uint16_t off1;
	uint32_t off2;
	uint32_t zero;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));
extern const uint64_t isr_stubs[256];

static struct {
	trap_handler fn;
	void *arg;
} handlers[256];
static struct spinlock handlers_lock = SPINLOCK_INIT("trap handlers");

static const char *const exception_names[32] = {
	"divide error", "debug", "NMI", "breakpoint", "overflow", "bound range",
	"invalid opcode", "device not available", "double fault",
	"coprocessor overrun", "invalid TSS", "segment not present",
	"stack fault", "general protection", "page fault", "reserved",
	"x87 FP error", "alignment check", "machine check", "SIMD FP error",
	"virtualization", "control protection",
};

static void idt_build(void)
{
	for (int v = 0; v < 256; v++) {
		uint64_t a = isr_stubs[v];

		idt[v] = (struct idt_gate){
			.off0 = (uint16_t)a,
			.sel = SEL_KCODE,
			.ist = (v == 2 || v == 8 || v == 18) ? IST_FAULT : 0,
			.type = v == 3 ? 0xee : 0x8e, /* int3 allowed in user mode */
			.off1 = (uint16_t)(a >> 16),
			.off2 = (uint32_t)(a >> 32),
		};
	}
}

void trap_init_cpu(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)idt };

	if (idt[0].type == 0)
		idt_build();
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

void trap_register(unsigned vector, trap_handler fn, void *arg)
{
	spin_lock(&handlers_lock);
	if (vector >= 256 || handlers[vector].fn)
		panic("trap_register: vector %u taken or invalid", vector);
	handlers[vector].arg = arg;
	handlers[vector].fn = fn;
	spin_unlock(&handlers_lock);
}

int trap_alloc_vector(trap_handler fn, void *arg)
{
	int found = -1;

	spin_lock(&handlers_lock);
	for (unsigned v = VEC_DYNAMIC_BASE; v < VEC_DYNAMIC_END; v++) {
		if (!handlers[v].fn) {
			handlers[v].arg = arg;
			handlers[v].fn = fn;
			found = (int)v;
			break;
		}
	}
	spin_unlock(&handlers_lock);
	return found;
}

void trap_free_vector(unsigned vector)
{
	spin_lock(&handlers_lock);
	if (vector >= VEC_DYNAMIC_BASE && vector < VEC_DYNAMIC_END)
		handlers[vector].fn = NULL;
	spin_unlock(&handlers_lock);
}

void trap_dump(const struct trap_frame *tf)
{
	uint64_t off = 0;
	const char *fn = ksym_lookup(tf->rip, &off);

	printk(LOG_EMERG, "RIP %04llx:%016llx %s+%#llx RFLAGS %016llx",
	       (unsigned long long)tf->cs, (unsigned long long)tf->rip,
	       fn ? fn : "?", (unsigned long long)off,
	       (unsigned long long)tf->rflags);
	printk(LOG_EMERG, "RSP %04llx:%016llx ERR %016llx CR2 %016llx",
	       (unsigned long long)tf->ss, (unsigned long long)tf->rsp,
	       (unsigned long long)tf->error, (unsigned long long)read_cr2());
	printk(LOG_EMERG, "RAX %016llx RBX %016llx RCX %016llx RDX %016llx",
	       (unsigned long long)tf->rax, (unsigned long long)tf->rbx,
	       (unsigned long long)tf->rcx, (unsigned long long)tf->rdx);
	printk(LOG_EMERG, "RSI %016llx RDI %016llx RBP %016llx R8  %016llx",
	       (unsigned long long)tf->rsi, (unsigned long long)tf->rdi,
	       (unsigned long long)tf->rbp, (unsigned long long)tf->r8);
	printk(LOG_EMERG, "R9  %016llx R10 %016llx R11 %016llx R12 %016llx",
	       (unsigned long long)tf->r9, (unsigned long long)tf->r10,
	       (unsigned long long)tf->r11, (unsigned long long)tf->r12);
	printk(LOG_EMERG, "R13 %016llx R14 %016llx R15 %016llx CR3 %016llx",
	       (unsigned long long)tf->r13, (unsigned long long)tf->r14,
	       (unsigned long long)tf->r15, (unsigned long long)read_cr3());
}

static void exception(struct trap_frame *tf)
{
	const char *name = tf->vector < 32 && exception_names[tf->vector]
				   ? exception_names[tf->vector]
				   : "exception";

	if (tf->vector == 2 && panic_in_progress()) /* stopped by panic() */
		arch_halt();
	printk(LOG_EMERG, "%s (vector %llu) in %s mode on cpu %u", name,
	       (unsigned long long)tf->vector, (tf->cs & 3) ? "user" : "kernel",
	       this_cpu()->id);
	if (tf->vector == 14)
		printk(LOG_EMERG, "page fault at %#llx: %s, %s, %s",
		       (unsigned long long)read_cr2(),
		       (tf->error & 1) ? "protection" : "not present",
		       (tf->error & 2) ? "write" : "read",
		       (tf->error & 16) ? "instruction fetch" : "data");
	trap_dump(tf);
	backtrace_from(tf->rbp);
	panic("unhandled %s", name);
}

void trap_dispatch(struct trap_frame *tf)
{
	unsigned v = (unsigned)tf->vector;
	trap_handler fn;

	if (v < 32) {
		bool user = (tf->cs & 3) && v != 2 && v != 8 && v != 18;

		if (user && user_exception(tf)) {
			sched_preempt_point();
			user_interrupt_return(tf);
			return;
		}
		if (!user && v == 14 && user_copy_fault(tf))
			return;
		exception(tf);
		return;
	}
	fn = handlers[v].fn;
	if (fn)
		fn(tf, handlers[v].arg);
	else if (v != VEC_SPURIOUS)
		pr_warn("trap: unexpected interrupt vector %u", v);
	if (v != VEC_SPURIOUS)
		lapic_eoi();
	sched_preempt_point();
	if (tf->cs & 3)
		user_interrupt_return(tf); /* signals for a thread in user code */
}
