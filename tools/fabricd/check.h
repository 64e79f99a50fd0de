/*
 * fabricd's checks of hostile descriptors (tools/fabricd/check.c): ring
 * indices, byte ranges, memory regions, work requests, receive buffers and
 * window sizes. Pure functions on values the caller has already copied out
 * of a window: no I/O, no global state, so the host unit tests
 * (tests/unit/test_fabric_check.c) and the fuzzer call them directly.
 *
 * Everything here answers "may fabricd act on this?"; nothing here acts.
 */
#ifndef FABRICD_CHECK_H
#define FABRICD_CHECK_H

#include <proto/fabric.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest window fabricd accepts (a sanity bound, not a QEMU limit). */
#define FAB_MAX_WINDOW (1ull << 40)

/* Verdict of an MR lookup, before it becomes a fab_status. */
enum fab_mr_verdict {
	FAB_MR_OK = 0,
	FAB_MR_BAD_KEY,	   /* free slot, key mismatch, or an MR that is itself invalid */
	FAB_MR_BAD_RIGHTS, /* key fine, access bits missing */
	FAB_MR_BAD_RANGE,  /* key and rights fine, range not inside the MR */
};

/*
 * Entries published on a ring: tail - head (free-running 32-bit indices).
 * Returns false, and leaves *used alone, if that exceeds entries: the
 * guest's index is corrupt.
 */
bool fab_ring_used(uint32_t head, uint32_t tail, uint32_t entries, uint32_t *used);

/*
 * True if [off, off + len) lies inside [base, base + size), computed
 * without overflow (off + len may exceed 2^64). An empty range is inside
 * if off is in [base, base + size].
 */
bool fab_range_within(uint64_t off, uint64_t len, uint64_t base, uint64_t size);

/*
 * True if mr (a copy of one MR table slot of a window of window_size
 * bytes) describes a usable region: non-empty, inside the window and
 * entirely in the data area (at or above FAB_DATA_OFFSET: no MR may expose
 * the control page or the rings).
 */
bool fab_mr_valid(const struct fab_mr *mr, uint64_t window_size);

/*
 * Checks an access of len bytes at off with the rights need
 * (FAB_ACCESS_* bits; 0 for local read) through key, against mr: the copy
 * of MR slot FAB_MR_SLOT(key) of the owner's window. Checks in this order:
 * key (slot valid and key equal), rights, range.
 */
enum fab_mr_verdict fab_mr_check(const struct fab_mr *mr, uint32_t key, uint64_t off,
				 uint64_t len, uint32_t need, uint64_t window_size);

/*
 * The checks of a WQE that depend on nothing but its own bytes: opcode,
 * flags, length, queue pair numbers, destination id in range. Returns
 * FAB_ST_OK or the status to complete it with:
 *   LOCAL_ERR    opcode not SEND/WRITE/READ/WRITE_IMM, or unknown flag bits
 *   LENGTH       length > FAB_MAX_MSG
 *   BAD_QP       src_qpn >= FAB_MAX_QPS (it is reported to the target), or
 *                dst_qpn >= FAB_MAX_QPS for a SEND (dst_qpn is unused
 *                otherwise)
 *   UNREACHABLE  dst_node 0 or >= FAB_MAX_NODES
 * Reserved fields are ignored.
 */
enum fab_status fab_wqe_check(const struct fab_wqe *w);

/* Rights the requester's own MR (local_key) needs for w: LOCAL_WRITE for
 * READ (data lands there), none (local read) otherwise. */
uint32_t fab_wqe_local_access(const struct fab_wqe *w);

/* Rights the target's MR (remote_key) needs: REMOTE_WRITE for WRITE and
 * WRITE_IMM, REMOTE_READ for READ, 0 for SEND (which uses no remote key). */
uint32_t fab_wqe_remote_access(const struct fab_wqe *w);

/* True for opcodes that touch the target's memory through remote_key. */
bool fab_wqe_uses_remote_key(const struct fab_wqe *w);

/*
 * Checks a receive buffer (a copy of an RQE) of a window of window_size
 * bytes against mr, the copy of MR slot FAB_MR_SLOT(r->key): the buffer
 * must lie in an MR with FAB_ACCESS_LOCAL_WRITE. Returns FAB_MR_OK or why
 * not.
 */
enum fab_mr_verdict fab_rqe_check(const struct fab_rqe *r, const struct fab_mr *mr,
				  uint64_t window_size);

/*
 * True if size is a valid window size: a power of two (QEMU requires BAR2
 * to be one: pci_register_bar asserts it), at least FAB_MIN_WINDOW, at most
 * FAB_MAX_WINDOW.
 */
bool fab_window_size_ok(uint64_t size);

#endif
