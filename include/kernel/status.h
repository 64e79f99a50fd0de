/*
 * The node's fabric presence and its status page (kernel/status.c).
 *
 * Every role's start function brings the node onto the fabric with
 * status_start() (the fabric device, the RPC service of peers=, the status
 * page in the window), starts its own services, and then calls
 * status_ready(), which prints "ready: ROLE NAME" and marks the page
 * READY. The status page is struct fab_node_status at FAB_STATUS_OFFSET of
 * the node's window (include/proto/fabric.h): fabricd shows it in its
 * `stats` JSON, the `tessera` CLI decides from it that a node is up. A
 * kernel thread refreshes it about once a second (heartbeat + 1); panic()
 * marks it PANIC with the message (status_panic).
 *
 * Without a fabric device (a standalone boot) the node still starts and
 * says ready in the log; the page simply does not exist.
 */
#ifndef KERNEL_STATUS_H
#define KERNEL_STATUS_H

#include <proto/fabric.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rpc_node;

/*
 * Opens the node's fabric (verbs) and RPC service and publishes the
 * status page (state BOOTING) with its refresh thread. Never waits for
 * other nodes: peers that are not up yet are simply not answering yet.
 * Returns 0, -ENODEV without a fabric device (logged: the node runs
 * alone), or another negative errno (logged; with a fabric but no RPC
 * the page is still published and its note says why). Call once, from
 * the role's start, in thread context.
 */
int status_start(void);

/*
 * The role's services are up: prints "ready: ROLE NAME" and, if the page
 * exists and the RPC service runs, sets state READY. note (printf format,
 * may be NULL) becomes the page's one-line note, e.g. "hostlink on COM2".
 */
void status_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Replaces the page's note (printf format); the next refresh shows it. */
void status_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sets the function that adds the role's figures (frames, processes, user
 * threads) to each heartbeat to the manager= node; it runs in the status
 * thread and must not block for long. */
struct mgr_heartbeat;
void status_set_load_fn(void (*fn)(struct mgr_heartbeat *hb));
/*
 * Sets the function that writes the role's live line (figures that change,
 * e.g. the processor's ExCache counters; printable ASCII, at most cap - 1
 * bytes) at each refresh: the page's note becomes the role's note,
 * STATUS_LINE_SEP, and the line (the note cut short if both do not fit;
 * a line that cannot fit whole is left out). It runs under the status
 * lock: it must not block or sleep.
 */
#define STATUS_LINE_SEP " | "
void status_set_line_fn(void (*fn)(char *buf, size_t cap));

/* The node's RPC service once status_start() brought it up, else NULL. */
struct rpc_node *status_rpc(void);

/*
 * panic() calls this: if the page is mapped, marks it PANIC with msg as
 * the note. Plain stores only: no lock, no allocation, no printk; safe in
 * any context, even with another writer cut off mid-update.
 */
void status_panic(const char *msg);

/*
 * Fills *st as the refresh does (role, CPUs, memory, uptime, RPC counters
 * of rn if not NULL, state, heartbeat, note) and completes one seqlock
 * write cycle on it: seq goes odd, the fields are written, seq goes even.
 * Exposed for the self tests, which publish into kernel memory.
 */
void status_publish(volatile struct fab_node_status *st, unsigned state,
		    uint32_t heartbeat, const char *note, struct rpc_node *rn);

#endif
