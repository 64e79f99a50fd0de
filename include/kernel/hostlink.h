/*
 * The hostlink server (kernel/hostlink.c): the kernel side of the line
 * protocol of include/proto/hostlink.h, through which the `tessera` CLI
 * runs programs on a processor component and gets their output back.
 *
 * A hostlink is a line decoder plus up to HOSTLINK_MAX_RUNS programs
 * running at once, each in a kernel thread of its own, so the link keeps
 * reading (and answering ping) while programs run. Programs are kernel
 * functions from a table the role supplies (pcomponent/builtins.c); a
 * table entry without a name takes the names with a '/' in them (user
 * programs, pcomponent/process.c). Lines go out through an emit
 * function: the COM2 UART (hostlink_start), or a test's buffer.
 *
 * Input. Each run keeps the input the host sends for it (in, eof, sig,
 * winsz: include/proto/hostlink.h) from its start, in a buffer of
 * HOSTLINK_IN_WINDOW bytes that the host's credit window can never
 * overrun. The program side (pcomponent/tty.c) registers a notify
 * function with hostlink_run_set_input and pulls: bytes with
 * hostlink_in_read (which returns credit to the host), signals with
 * hostlink_in_signals, the terminal size with hostlink_run_terminal.
 */
#ifndef KERNEL_HOSTLINK_H
#define KERNEL_HOSTLINK_H

#include <proto/hostlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOSTLINK_MAX_RUNS  4	/* programs running at once; more: fail EBUSY */
#define HOSTLINK_OUT_CHUNK 1024 /* raw output bytes per out/err line at most */

struct hostlink;
struct hostlink_run;

/*
 * A program: argv[0] is its name, argv[argc] NULL; every argument is a
 * NUL-free string. Returns the exit status, 0..255 (anything else is
 * reported as 255). Runs in a kernel thread; may sleep.
 */
typedef int (*hostlink_fn)(struct hostlink_run *run, int argc, char **argv);

/*
 * A table entry. name NULL makes the entry the table's path program: a
 * `run` whose name matches no entry and contains a '/' runs it, with the
 * name as argv[0] (the processor runs such names as user programs).
 * Named entries always come first, whatever their place in the table.
 */
struct hostlink_program {
	const char *name; /* NULL: the path program (at most one) */
	hostlink_fn fn;
	const char *help; /* one line, for `help` */
};

/* Sends one complete line (its '\n' included) to the host. Called from
 * several threads at once; must keep lines whole. May sleep. */
typedef void (*hostlink_emit_fn)(void *ctx, const char *line, size_t len);

/*
 * A hostlink serving the n programs of table, answering through emit.
 * Returns NULL if out of memory. Thread context.
 */
struct hostlink *hostlink_create(const struct hostlink_program *table, unsigned n,
				 hostlink_emit_fn emit, void *ctx);

/*
 * Decodes one received line (len bytes, without its '\n'; a final '\r' is
 * ignored) and acts on it: answers ping, starts a program, or answers
 * fail. Every word is checked before anything happens; a line of
 * HOSTLINK_LINE_MAX bytes or more is refused as too long. Only one thread
 * may call hostlink_line, hostlink_idle and hostlink_destroy of a given
 * hostlink (the reader). May sleep.
 */
void hostlink_line(struct hostlink *hl, const char *line, size_t len);

/* Waits until no program runs (reclaiming finished ones); false if
 * timeout_ns passed first. */
bool hostlink_idle(struct hostlink *hl, uint64_t timeout_ns);

/* Waits for every program to end, then frees hl. */
void hostlink_destroy(struct hostlink *hl);

/*
 * The processor's hostlink on COM2: if a UART answers there, creates a
 * hostlink for table and a reader thread that sleeps until the UART's
 * receive interrupt brings bytes. Returns 0, -ENODEV (no COM2: nothing
 * started), -ENOMEM. Call once, in thread context.
 */
int hostlink_start(const struct hostlink_program *table, unsigned n);

/* ---- for programs ---- */

/* Appends len bytes to the program's standard output (fd 1) or error
 * (fd 2); sent as out/err lines, at each newline and when a chunk fills.
 * Any thread of the program (a family shares its run); may sleep. */
void hostlink_write(struct hostlink_run *run, int fd, const char *buf, size_t len);
/* Sends what hostlink_write buffered now (a prompt without a newline). */
void hostlink_flush(struct hostlink_run *run);
/* printf to standard output / error (at most 1 KiB per call). */
void hostlink_printf(struct hostlink_run *run, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void hostlink_eprintf(struct hostlink_run *run, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The program table the run came from (for `help`). */
const struct hostlink_program *hostlink_run_table(const struct hostlink_run *run,
						  unsigned *n);

/*
 * Input. notify(ctx) is called, in the hostlink's reader thread with no
 * lock held, whenever the run's input changed: bytes or end of input
 * arrived, a signal, a new terminal size; and once by the registration
 * itself (in the caller's thread) if anything is waiting or the run has
 * a terminal, so two calls may overlap. It may sleep briefly (write
 * output: echo) but must not wait for the program. hostlink_run_set_input(run, NULL, NULL)
 * unregisters, and returns only when no notify is running any more.
 */
typedef void (*hostlink_notify_fn)(void *ctx);
void hostlink_run_set_input(struct hostlink_run *run, hostlink_notify_fn notify, void *ctx);
/*
 * Takes up to n input bytes into buf (kernel memory); returns the count,
 * 0 if none wait (*eof then says whether the input has ended). Never
 * waits for input; may sleep to send the host its credit (`ack`), so
 * call it without spinlocks held. Any thread of the family.
 */
size_t hostlink_in_read(struct hostlink_run *run, char *buf, size_t n, bool *eof);
/* Bytes waiting, and whether the input ended (any context; no sleep). */
size_t hostlink_in_avail(struct hostlink_run *run, bool *eof);
/* The signals the host sent since the last call (bit N-1: signal N). */
uint64_t hostlink_in_signals(struct hostlink_run *run);
/* Whether the run has a terminal (`runt`), and its size as the host last
 * gave it (0 0: unknown). */
bool hostlink_run_terminal(struct hostlink_run *run, unsigned *rows, unsigned *cols);

#endif
