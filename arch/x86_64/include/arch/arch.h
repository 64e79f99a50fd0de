/*
 * What the portable kernel core asks of the architecture (arch/x86_64/).
 */
#ifndef ARCH_ARCH_H
#define ARCH_ARCH_H

#include <stdint.h>

/* Debug-exit codes: QEMU exits with (code << 1) | 1. */
#define ARCH_EXIT_SUCCESS 0x10
#define ARCH_EXIT_FAILURE 0x11

/* Ends the QEMU process through isa-debug-exit; halts if there is none. */
__attribute__((noreturn)) void arch_debug_exit(uint32_t code);

/* Sends every other online CPU an NMI that halts it for good. */
void arch_halt_other_cpus(void);

/* Halts this CPU for good with interrupts off. */
__attribute__((noreturn)) void arch_halt(void);

/* Boot CPU: descriptor tables, %gs, exceptions. Called first in kmain. */
void arch_early_init(void);

/* Seconds since 1970-01-01 UTC read from the real-time clock (0 if it
 * reads as nonsense). Slow (port I/O, up to a second's wait in theory):
 * called once, by time_init. */
uint64_t arch_rtc_epoch_seconds(void);

struct thread;
/* Scheduler hook, interrupts off, just before switching from prev to next
 * on this CPU (arch/x86_64/user.c): the kernel stack top for entries from
 * user mode; a user thread's FPU/SSE state saved (prev) or loaded (next),
 * its page tables and FS base loaded. prev may not be a dead user thread. */
void arch_thread_switch(struct thread *prev, struct thread *next);

/* Frame pointer of the caller. */
static inline uint64_t arch_frame_pointer(void)
{
	return (uint64_t)__builtin_frame_address(0);
}

#endif
