/*
 * Processes and their threads on the processor (pcomponent/process.c).
 * A process's address space lives on its home memory node (include/
 * proto/mem.h); here it has a pid, a uspace whose only mappings are
 * ExCache lines (pcomponent/excache.h), its threads, the hostlink run its
 * standard output and error go to, and its ExCache counters.
 */
#ifndef PCOMPONENT_PROCESS_H
#define PCOMPONENT_PROCESS_H

#include "excache.h"

#include <kernel/hostlink.h>
#include <proto/tessera_sys.h>
#include <stdbool.h>
#include <stdint.h>

#define PROCESS_MAX	    64 /* processes at once on this processor */
#define PROCESS_MAX_THREADS 1  /* one thread per process for now */

struct thread;
struct uspace;

/* A user thread of a process. */
struct pthread_info {
	unsigned tid;		  /* Linux's: the main thread's is the pid */
	uint64_t clear_child_tid; /* set_tid_address; the thread's own */
	struct thread *kthread;	  /* its kernel thread; the creator's (join) */
};

struct process {
	uint32_t pid;		  /* constant */
	uint16_t home;		  /* home memory node; constant */
	struct uspace *us;	  /* constant from creation until the exit */
	struct hostlink_run *run; /* fds 1 and 2 (NULL: output dropped); constant */
	uint64_t entry, sp;	  /* from MEM_EXEC; constant */
	uint64_t brk_start;	  /* lowest break; constant */
	uint64_t brk;		  /* current break; the process's thread only */
	unsigned nthreads;	  /* constant (1) */
	struct pthread_info threads[PROCESS_MAX_THREADS];
	int exit_status;		     /* written once, by the exiting thread */
	struct excache_proc ec;		     /* pcomponent/excache.c's */
	char path[64];			     /* for messages, truncated */
};

/* The memory node that holds the address spaces of new processes: the
 * vNode's first memory= node, 0 if there is none. The one place that
 * chooses (a global manager will, later). */
uint16_t process_home_node(void);

/* Installs the user-mode hooks (system calls, ExCache misses, fatal
 * exceptions). Call once at start, before any process runs. */
void process_init(void);

/*
 * Runs the program at path (absolute) with argv[0..argc) as a new process
 * whose output goes to run, and waits for it to end. Returns its exit
 * status (0..255; 128 + signal after a fatal exception), or 127 / 126
 * when it could not start (the reason written to run's stderr as a shell
 * would: "path: No such file or directory").
 */
int process_run(struct hostlink_run *run, const char *path, int argc, char **argv);

/* The hostlink program for names with a '/' (a hostlink_fn): runs
 * argv[0] as a user program. */
int process_hostlink_run(struct hostlink_run *run, int argc, char **argv);

/* The process of the calling user thread, NULL in a kernel thread. */
struct process *process_current(void);

/*
 * Ends the calling thread's process with status (0..255, or 128 + signal):
 * its ExCache lines dropped without write-back, MEM_EXIT on its home,
 * detach, its uspace destroyed; the waiter in process_run wakes. Called by
 * its own (only) thread, never returns.
 */
__attribute__((noreturn)) void process_exit(struct process *p, int status);

/* A call of opcode on p's home (timeouts chosen per opcode). */
int process_mem_call(struct process *p, unsigned opcode, const void *req, size_t req_len,
		     void *reply, size_t reply_len);

/* Processes now, and started since boot. */
void process_counts(unsigned *running, uint64_t *started);

#endif
