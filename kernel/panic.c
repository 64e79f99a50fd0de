/*
 * panic() and backtraces. The first CPU to panic stops the others with an
 * NMI, marks the node's status page PANIC with the message (so fabricd and
 * the CLI see it even if nobody reads the console), prints, and either
 * halts or (under a test harness) exits QEMU with the failure code, so
 * tests never hang on a dead kernel.
 */
#include <arch/arch.h>
#include <arch/cpu.h>
#include <arch/memlayout.h>
#include <kernel/config.h>
#include <kernel/cpu.h>
#include <kernel/ksym.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/status.h>
#include <lib/printf.h>

#define BACKTRACE_MAX 32

static volatile int panicking;

static bool frame_pointer_ok(uint64_t rbp)
{
	return rbp >= DIRECT_MAP_BASE && (rbp & 7) == 0;
}

void backtrace_from(uint64_t rbp)
{
	printk(LOG_EMERG, "backtrace:");
	for (int depth = 0; depth < BACKTRACE_MAX && frame_pointer_ok(rbp); depth++) {
		uint64_t *frame = (uint64_t *)rbp, ret = frame[1], off = 0;
		const char *name = ksym_lookup(ret, &off);

		if (ret < KERNEL_VBASE)
			break;
		if (name)
			printk(LOG_EMERG, "  [<%016llx>] %s+%#llx",
			       (unsigned long long)ret, name, (unsigned long long)off);
		else
			printk(LOG_EMERG, "  [<%016llx>] ?", (unsigned long long)ret);
		if (frame[0] <= rbp) /* frames must go up the stack */
			break;
		rbp = frame[0];
	}
}

bool panic_in_progress(void)
{
	return panicking;
}

void backtrace(void)
{
	backtrace_from(arch_frame_pointer());
}

void panic(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	irq_disable();
	if (__atomic_exchange_n(&panicking, 1, __ATOMIC_SEQ_CST)) {
		arch_halt(); /* another CPU is already reporting */
	}
	arch_halt_other_cpus();
	printk_panic_mode();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	status_panic(msg); /* plain stores, only if the page is mapped */
	printk(LOG_EMERG, "KERNEL PANIC on cpu %u: %s", this_cpu()->id, msg);
	backtrace();
	if (kconfig.panic_exit) {
		printk(LOG_EMERG, "exiting QEMU (panic=exit)");
		arch_debug_exit(ARCH_EXIT_FAILURE);
	}
	printk(LOG_EMERG, "system halted");
	arch_halt();
}
