/*
 * Fatal errors (kernel/panic.c). panic() prints the message, the CPU and a
 * backtrace, stops the other CPUs, and then either halts or, when the
 * kernel runs under a test harness (`ktest` or `panic=exit` on the command
 * line), makes QEMU exit with the failure code.
 *
 * Only kernel bugs may panic. Input from another node, a disk or a user
 * program must be answered with an error instead.
 */
#ifndef KERNEL_PANIC_H
#define KERNEL_PANIC_H

#include <stdbool.h>
#include <stdint.h>

__attribute__((noreturn, format(printf, 1, 2))) void panic(const char *fmt, ...);

/* True once some CPU has called panic(). */
bool panic_in_progress(void);

/* Prints the call chain starting at frame pointer rbp. */
void backtrace_from(uint64_t rbp);
void backtrace(void);

#define BUG_ON(cond)                                                      \
	do {                                                              \
		if (__builtin_expect(!!(cond), 0))                        \
			panic("BUG: %s at %s:%d", #cond, __FILE__, __LINE__); \
	} while (0)

#endif
