/*
 * The processor's system call layer (pcomponent/syscall.c): one table,
 * indexed by Linux x86-64 numbers (and Tessera's own, include/proto/
 * tessera_sys.h), DESIGN.md section 7.
 */
#ifndef PCOMPONENT_SYSCALL_H
#define PCOMPONENT_SYSCALL_H

#include <stdint.h>

struct trap_frame;

#define SYSCALL_TABLE_SIZE 1026 /* Linux's numbers, then Tessera's from 1024 */

struct process;

/* Linux's struct timespec (x86-64). */
struct k_timespec {
	int64_t sec;
	int64_t nsec;
};

/* A duration that means "forever": long enough (146 years), and small
 * enough that clock_ns() plus it never wraps. */
#define SYSCALL_NS_FOREVER (UINT64_MAX / 4)

/* A valid timespec (sec >= 0, 0 <= nsec < 1 s) as nanoseconds,
 * saturating at SYSCALL_NS_FOREVER. */
uint64_t syscall_timespec_ns(const struct k_timespec *ts);
/* Reads the user timespec at uts as nanoseconds (as above): 0, -EFAULT,
 * or -EINVAL unless sec >= 0 and 0 <= nsec < 1 s. */
int syscall_get_timespec(uint64_t uts, uint64_t *ns);

/* A handler: the calling process and the six arguments (rdi, rsi, rdx,
 * r10, r8, r9); returns the result or a negative errno. */
typedef long (*syscall_fn)(struct process *p, const uint64_t *a);

struct syscall_entry {
	const char *name; /* NULL: not implemented (ENOSYS) */
	syscall_fn fn;
};

/* The user_hooks syscall hook: runs tf->rax's handler, result in tf->rax. */
void syscall_dispatch(struct trap_frame *tf);

/*
 * Runs the handler for number nr for process p: -ENOSYS for numbers
 * without one (logged once per number, or once for all numbers beyond
 * the table), -ESRCH if p is NULL (a kernel thread). Exposed for the self
 * tests.
 */
long syscall_invoke(struct process *p, uint64_t nr, const uint64_t *args);
/* The table's entry for nr, NULL if nr has none. */
const struct syscall_entry *syscall_entry_of(uint64_t nr);
/* Numbers with a handler. */
unsigned syscall_count(void);

#endif
