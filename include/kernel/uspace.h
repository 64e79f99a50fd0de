/*
 * User mode: user address spaces, user threads, system call and fault
 * entry, and access to user memory (arch/x86_64/uspace.c, user.c,
 * syscall.S). What the processor role builds on (DESIGN.md section 5):
 * its ExCache maps lines into a uspace, its syscall layer installs the
 * hooks below.
 *
 * Address spaces. A uspace is a set of user page tables: the lower half
 * (0 .. USPACE_TOP) is the process's, the upper half is the kernel's,
 * shared with every other uspace. Mappings are 4 KiB pages of any
 * physical memory (ExCache lines live in the fabric window, outside the
 * direct map); the caller owns the pages, the uspace only its tables.
 * A uspace is active on the CPUs running one of its threads; unmapping
 * shoots down the stale TLB entries of every such CPU before it returns.
 *
 * User threads. A kernel thread becomes a user thread with
 * uthread_attach(); from then on the scheduler loads its page tables,
 * its FPU/SSE state (fxsave, saved eagerly at each switch; AVX is not
 * enabled, so CPUID shows no OSXSAVE) and its FS base (TLS) whenever it
 * runs. user_enter() drops to ring 3 and never returns: the thread comes
 * back into the kernel only through the hooks.
 *
 * Hooks. The role installs one set of hooks (user_set_hooks); they run
 * on the thread's kernel stack with interrupts on and may sleep:
 *   syscall(tf)           a `syscall` instruction: number in tf->rax,
 *                         arguments in rdi, rsi, rdx, r10, r8, r9; the
 *                         result goes into tf->rax. The hook may change
 *                         any field of tf (e.g. rip, rsp for a signal or
 *                         execve); the arch returns through iretq then.
 *   page_fault(addr, access, from_user)
 *                         a fault on a user address, from user mode or
 *                         from copy_*_user (access: USPACE_READ, WRITE or
 *                         EXEC). Returns 0 once the page is mapped (the
 *                         access is retried) or a negative errno: in user
 *                         mode the arch then calls fatal(); in a copy the
 *                         copy returns -EFAULT.
 *   fatal(tf, vector, addr, err)
 *                         any other exception in user mode, or a refused
 *                         user page fault (vector 14, addr = CR2, err the
 *                         page_fault result; -EFAULT for a kernel
 *                         address, where the hook is not asked). For other
 *                         vectors addr is the faulting rip, err 0, and the
 *                         CPU's error code is in tf->error; a frame that
 *                         leaves a non-canonical rip or rsp gets vector 13,
 *                         -EFAULT. Either ends the thread (never returns)
 *                         or returns with tf rewritten (a signal handler's
 *                         frame): the arch then leaves for user mode with
 *                         tf, after the same checks (a hook that keeps
 *                         returning a bad frame is a kernel bug: panic).
 *   user_return(tf)       on the way back to user mode from an interrupt
 *                         or an exception (not a syscall: the syscall hook
 *                         does its own), only when the thread's interrupt
 *                         mark is set (kernel/sched.h thread_interrupt),
 *                         so the common path costs one test. May change
 *                         tf (checked as above), may end the thread.
 *                         Optional.
 * Without hooks, user-mode exceptions panic.
 */
#ifndef KERNEL_USPACE_H
#define KERNEL_USPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trap_frame; /* <arch/trap.h>: the user registers at entry */

#define USPACE_TOP 0x800000000000ull /* first address above user space */

/* Page rights (uspace_map) and accesses (page_fault hook). */
#define USPACE_READ  0x1
#define USPACE_WRITE 0x2
#define USPACE_EXEC  0x4

/* What a page table entry said (uspace_unmap, uspace_pte). */
#define USPACE_PRESENT	0x1
#define USPACE_ACCESSED 0x2
#define USPACE_DIRTY	0x4

struct uspace;

/* Empty user page tables sharing the kernel half. NULL if out of memory. */
struct uspace *uspace_create(void);
/* Frees the tables (not the pages they map). No thread may still use us. */
void uspace_destroy(struct uspace *us);
/*
 * Maps the 4 KiB page at va (page aligned, below USPACE_TOP) to physical
 * pa with rights (USPACE_READ always implied; USPACE_WRITE; USPACE_EXEC,
 * else no-execute), replacing any mapping va had (with a shootdown:
 * then, as for uspace_unmap, no spinlock may be held).
 * Returns 0, -EINVAL (bad va or pa), -ENOMEM (no page for a table).
 */
int uspace_map(struct uspace *us, uint64_t va, uint64_t pa, unsigned rights);
/* Removes va's mapping and shoots it down on every CPU where us is
 * active. Returns what the entry said (USPACE_PRESENT, ACCESSED, DIRTY;
 * 0 if nothing was mapped). Interrupts on, no spinlock held. */
unsigned uspace_unmap(struct uspace *us, uint64_t va);
/* What va's entry says now; with clear_accessed, also clears its accessed
 * bit (with a shootdown, so the next access sets it again). Interrupts
 * on, no spinlock held when clear_accessed. */
unsigned uspace_pte(struct uspace *us, uint64_t va, bool clear_accessed);

/* ---- user threads ---- */

/*
 * Makes the current kernel thread a user thread in us (an FPU area is
 * allocated; us becomes active on this CPU). Returns 0 or -ENOMEM.
 * uthread_detach() makes it a kernel thread again (kernel page tables, no
 * FPU area); a user thread must detach before thread_exit().
 */
int uthread_attach(struct uspace *us);
void uthread_detach(void);
/* The uspace of the current thread, or NULL for a kernel thread. */
struct uspace *uthread_uspace(void);
/* The current user thread moves to us (loaded at once; its registers,
 * FPU state, FS base and owner tag stay): a vfork child's execve leaves
 * its parent's uspace for its own. Cannot fail. */
void uthread_set_uspace(struct uspace *us);
/* Ring 3 at rip with stack rsp, every other register zero, a clean
 * FPU/SSE state (MXCSR 0x1f80, FCW 0x37f), FS base 0. */
__attribute__((noreturn)) void user_enter(uint64_t rip, uint64_t rsp);
/*
 * An owner tag the role hangs on a user thread (the processor: its struct
 * process), so it finds the thread's process without a search. Set by
 * the thread itself after uthread_attach; NULL in a kernel thread, and
 * again NULL after uthread_detach.
 */
void uthread_set_owner(void *owner);
void *uthread_owner(void);

/*
 * Fork support: a snapshot of a user thread that a new user thread can
 * start from. user_state_save() copies the calling user thread's
 * registers at a trap (tf: its frame at a syscall or exception, which the
 * caller may have copied and changed, e.g. rax = 0 for a fork child),
 * its FPU/SSE registers as they are now and its FS base; it returns NULL
 * if out of memory or called from a kernel thread. The snapshot belongs
 * to the caller until handed to user_resume() or user_state_free().
 *
 * user_resume(st), called by a user thread (after uthread_attach, with
 * interrupts on and no lock held), frees st and drops to ring 3 with
 * exactly st's general registers, FPU/SSE state and FS base: rflags keep
 * only the flags a user program may set (IF always on, IOPL 0), the
 * selectors are the user ones. A rip or rsp outside user space (at or
 * above USPACE_TOP, or not canonical) ends the thread through the fatal
 * hook as a general protection fault (vector 13, addr = rip, -EFAULT).
 * Never returns.
 */
struct user_state;
struct user_state *user_state_save(const struct trap_frame *tf);
void user_state_free(struct user_state *st);
/* A new thread's TLS (clone's CLONE_SETTLS): st resumes with FS base
 * base instead of the saver's (one at or above USPACE_TOP: 0). */
void user_state_set_fs_base(struct user_state *st, uint64_t base);
__attribute__((noreturn)) void user_resume(struct user_state *st);

/* execve: the current user thread's FPU/SSE state becomes the clean one
 * user_enter gives (MXCSR 0x1f80, FCW 0x37f) and its FS base 0, from
 * now on (its next return to user mode). */
void user_reset_fpu(void);

/* The current user thread's FS base (arch_prctl ARCH_SET_FS/GET_FS).
 * A base >= USPACE_TOP is not loaded (FS base 0): callers answer EPERM. */
void user_set_fs_base(uint64_t base);
uint64_t user_fs_base(void);

/*
 * The current user thread's FPU/SSE registers as a 512-byte fxsave image
 * (signal frames): user_fpu_get copies them out; user_fpu_set loads an
 * image that may come from user space (MXCSR bits the CPU does not
 * support are cleared first, so loading it cannot fault); user_fpu_reset
 * loads the clean state user_enter starts with. User threads only.
 */
#define USER_FPU_SIZE 512
void user_fpu_get(void *area);
void user_fpu_set(const void *area);
void user_fpu_reset(void);

struct user_hooks {
	void (*syscall)(struct trap_frame *tf);
	int (*page_fault)(uint64_t addr, unsigned access, bool from_user);
	void (*fatal)(struct trap_frame *tf, unsigned vector, uint64_t addr, int err);
	void (*user_return)(struct trap_frame *tf);
};
/* Installs the hooks (NULL: none). Self tests swap them for their own. */
void user_set_hooks(const struct user_hooks *hooks);

/* ---- user memory ---- */

/*
 * Copies between kernel memory and the current uspace. A range reaching
 * beyond USPACE_TOP (or wrapping) fails at once; a page that is not
 * mapped goes through the page_fault hook, so these may sleep. Return 0
 * or -EFAULT. Interrupts on, no spinlock held.
 */
int copy_from_user(void *dst, uint64_t usrc, size_t len);
int copy_to_user(uint64_t udst, const void *src, size_t len);
/* Copies a NUL-terminated string of at most cap - 1 bytes into dst;
 * returns its length, -EFAULT, or -ENAMETOOLONG if no NUL came in cap. */
long strncpy_from_user(char *dst, uint64_t usrc, size_t cap);

#endif
