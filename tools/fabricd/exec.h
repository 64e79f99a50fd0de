/*
 * fabricd's execution engine (tools/fabricd/exec.c): one node's window and
 * fabricd's private ring state for it, taking work requests off its send
 * queue, carrying out a transfer between two windows, and writing
 * completions. No I/O, no clock, no faults or wire model (wire.c decides
 * when and whether a transfer runs): the fuzzer drives it against windows
 * in ordinary heap memory.
 *
 * Trust (include/proto/fabric.h): a window's bytes belong to its guest and
 * may change at any moment. Every index, descriptor and MR entry is copied
 * out once (fab_snapshot), checked with check.c, and only the copy is used.
 * fabricd's own indices live here; the window only gets copies of them.
 */
#ifndef FABRICD_EXEC_H
#define FABRICD_EXEC_H

#include <proto/fabric.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* No last bad value recorded (see fab_node.bad_*). */
#define FAB_NO_BAD UINT64_MAX

struct fab_node;

/* Called when a guest index is found corrupt (once per distinct value),
 * for logs: what is "sq_tail", "cq_head" or "rq_tail". */
typedef void fab_bad_index_fn(void *ctx, const struct fab_node *n, const char *what,
			      uint32_t value);

struct fab_node {
	uint16_t id;
	bool attached;	     /* a VM is connected: its SQ is served, it may be a target */
	uint32_t generation; /* bumped by each fab_node_attach */
	uint8_t *win;	     /* the window, size bytes, shared with the guest: hostile */
	uint64_t size;

	/* fabricd's ring state (authoritative; the header holds copies) */
	uint32_t sq_head;
	uint32_t cq_tail;
	uint32_t rq_head[FAB_MAX_QPS];
	uint32_t cq_reserved; /* CQ slots promised to taken, uncompleted WQEs */
	bool cq_dirty;	      /* CQEs written since the last fab_irq_wanted */
	bool cq_blocked;      /* the SQ holds WQEs but the CQ has no room for them */

	/* Corrupt guest indices: the last bad value counted (FAB_NO_BAD if the
	 * index is fine), so that a stuck bad index counts as one error. */
	uint64_t bad_sq_tail;
	uint64_t bad_cq_head;
	uint64_t bad_rq_tail[FAB_MAX_QPS];

	/* statistics */
	uint64_t errors; /* malformed requests; mirrored in hdr->errors */
	uint64_t ops;	 /* WQEs taken from the SQ */
	uint64_t bytes;	 /* bytes moved by its WQEs that completed OK */

	/* Why the last check failed ("remote key: bad range", ...), for logs. */
	const char *why;
	fab_bad_index_fn *bad_index; /* may be NULL */
	void *bad_index_ctx;
};

/* Copies n bytes out of a window; the compiler may not re-read the source
 * afterwards (no double fetch of guest-controlled memory). */
void fab_snapshot(void *dst, const volatile void *src, size_t n);

/*
 * Sets up n for the window win of size bytes (size >= FAB_DATA_OFFSET,
 * memory zeroed) and writes the window header with generation 0. The node
 * starts detached.
 */
void fab_node_init(struct fab_node *n, uint16_t id, void *win, uint64_t size);

/*
 * A VM attached to n: the caller has zeroed the window again. Bumps the
 * generation, resets fabricd's ring state and writes the header (magic
 * last). The SQ is served from now on.
 */
void fab_node_attach(struct fab_node *n);

/* The VM went away: its SQ is no longer served and it is no target. The
 * caller has dropped every transfer it had in flight. */
void fab_node_detach(struct fab_node *n);

enum fab_take {
	FAB_TAKE_OK,	  /* *w holds the next WQE; a CQ slot is reserved for it */
	FAB_TAKE_EMPTY,	  /* nothing posted (or a corrupt sq_tail) */
	FAB_TAKE_CQ_FULL, /* WQEs posted, but no CQ room for their completions */
};

/*
 * Takes the next WQE off n's send queue into *w and reserves one CQ slot
 * for its completion, which fab_complete releases. Never takes a WQE
 * whose completion might not fit: a full CQ stops the SQ (sets
 * cq_blocked) until the guest advances cq_head.
 */
enum fab_take fab_sq_take(struct fab_node *n, struct fab_wqe *w);

/* True if fab_sq_take would take a WQE now (for the check before fabricd
 * sleeps). */
bool fab_sq_ready(struct fab_node *n);

/*
 * The requester's side of w, posted by src: fab_wqe_check, then the local
 * key, rights and range in src's MR table. FAB_ST_OK or the error status.
 */
enum fab_status fab_exec_local_check(struct fab_node *src, const struct fab_wqe *w);

/*
 * Carries out w from src against dst (both with valid windows; src == dst
 * for loopback): checks everything again (MRs may have changed since the
 * WQE was taken), then copies the data and writes dst's completion (RECV,
 * RECV_IMM, or an error RECV for a bad receive buffer). Returns the status
 * for the requester's completion; does not complete it.
 */
enum fab_status fab_exec_transfer(struct fab_node *src, struct fab_node *dst,
				  const struct fab_wqe *w);

/*
 * Completes w, taken from src's SQ, with status st: releases its CQ
 * reservation, writes its CQE if it failed or is signaled, counts
 * malformed requests (LOCAL_ERR, REMOTE_ACCESS, LENGTH, BAD_QP) in
 * src->errors and hdr->errors.
 */
void fab_complete(struct fab_node *src, const struct fab_wqe *w, enum fab_status st);

/* Releases w's CQ reservation without a completion (its node detached). */
void fab_forget(struct fab_node *src);

/* Publishes fabricd's sleep flag in n's window (no barrier: the caller
 * issues one full barrier after setting every window's). */
void fab_set_fabricd_sleeping(struct fab_node *n, bool sleeping);

/*
 * True if n must be interrupted: CQEs were written since the last call and,
 * after a full barrier, the guest's guest_sleeping flag is set. Clears
 * cq_dirty.
 */
bool fab_irq_wanted(struct fab_node *n);

/* True if st counts as a malformed request of the requester. */
bool fab_status_is_malformed(enum fab_status st);

#endif
