/*
 * The emulated RDMA fabric: the contract between a guest's fabric driver
 * (drivers/ivshmem.c, net/verbs.c) and the fabric daemon (tools/fabricd/).
 * Portable: included by kernels and host programs alike.
 *
 * Each node (one VM) owns one window: a memfd that QEMU exposes as BAR2 of
 * its ivshmem-doorbell device and that fabricd maps too. The window is the
 * node's NIC memory: its control page, rings and all memory it lets other
 * nodes reach. Layout (offsets from the window start, all fixed):
 *
 *   FAB_HDR_OFFSET   struct fab_window_hdr        control indices and flags
 *   FAB_STATUS_OFFSET struct fab_node_status       what the node reports about
 *                                                  itself (for `tessera status`)
 *   FAB_MR_OFFSET    struct fab_mr[FAB_MR_ENTRIES] memory regions (guest-owned)
 *   FAB_SQ_OFFSET    struct fab_wqe[FAB_SQ_ENTRIES] send queue (guest -> fabricd)
 *   FAB_RQ_OFFSET    struct fab_rqe[FAB_MAX_QPS][FAB_RQ_ENTRIES]
 *                                                  receive queue per QP
 *   FAB_CQ_OFFSET    struct fab_cqe[FAB_CQ_ENTRIES] completion queue (fabricd -> guest)
 *   FAB_DATA_OFFSET  ... window_size               the guest's own use
 *
 * Rings use free-running 32-bit indices; entry i lives in slot
 * i % ENTRIES. The producer writes the entry, then (release) the tail; the
 * consumer reads the tail (acquire), the entry, then advances its head.
 *
 * Trust: a guest controls every byte of its own window, so fabricd treats
 * all of it as hostile input. It keeps its own copies of the indices it
 * owns (the window's copies are only for the guest to read), checks every
 * index the guest publishes (tail - head <= ENTRIES), every key and every
 * range against the registering node's MR table and window size, and
 * answers anything wrong with an error completion. A guest can reach
 * another node's memory only through an MR that node registered with the
 * matching key and REMOTE rights.
 *
 * Queue pairs: WQEs carry their destination (node, QP number), like
 * datagram QPs; the verbs layer builds connected QPs on top. Each node has
 * FAB_MAX_QPS receive queues; a SEND to (node, qpn) consumes one receive
 * buffer posted on that QP, or fails with FAB_ST_RNR (receiver not ready)
 * if none is posted: a fast sender can never overwrite unconsumed data.
 *
 * Waiting (DESIGN.md section 3): fabricd polls briefly after activity, then
 * sets fabricd_sleeping and blocks; a guest that posts a WQE rings the
 * doorbell (BAR0 + FAB_DOORBELL_REG, value FAB_DOORBELL_VALUE) only if that
 * flag is set. A guest about to sleep sets guest_sleeping and re-checks the
 * CQ; fabricd raises the guest's MSI-X vector 0 after writing a CQE only if
 * that flag is set. Each side stores its flag, issues a full barrier, then
 * reads the other side's index, so no wakeup is lost.
 */
#ifndef PROTO_FABRIC_H
#define PROTO_FABRIC_H

#include <stdint.h>

#define FAB_MAGIC   0x57424146u /* "FABW" */
#define FAB_VERSION 2 /* 2: FAB_WQE_FENCE and FAB_ST_FLUSHED */

#define FAB_MAX_NODES  64 /* node ids 1..FAB_MAX_NODES-1; 0 is fabricd */
#define FAB_MAX_QPS    16
#define FAB_MR_ENTRIES 256
#define FAB_SQ_ENTRIES 256
#define FAB_RQ_ENTRIES 64
#define FAB_CQ_ENTRIES 1024
#define FAB_MAX_MSG    (1u << 20) /* largest single transfer, bytes */

#define FAB_HDR_OFFSET	0x00000
#define FAB_STATUS_OFFSET 0x00800
#define FAB_MR_OFFSET	0x01000
#define FAB_SQ_OFFSET	0x03000
#define FAB_RQ_OFFSET	0x07000
#define FAB_CQ_OFFSET	0x0f000
#define FAB_DATA_OFFSET 0x20000
#define FAB_MIN_WINDOW	0x100000 /* 1 MiB */

/* ivshmem BAR0 doorbell: peer 0 (fabricd), vector 0. */
#define FAB_DOORBELL_REG   12
#define FAB_DOORBELL_VALUE 0u

/*
 * Control page. "fabricd" fields are written only by fabricd (the guest
 * reads them); "guest" fields only by the guest (fabricd validates them).
 * The two sides' fields sit in different 64-byte cache lines.
 */
struct fab_window_hdr {
	/* 0x00: identity, fabricd */
	uint32_t magic; /* FAB_MAGIC once the window is set up */
	uint32_t version; /* FAB_VERSION */
	uint16_t node_id; /* this node's id */
	uint16_t reserved0;
	uint32_t generation; /* bumped each time this node connects */
	uint64_t window_size; /* bytes */
	uint64_t reserved1[5];

	/* 0x40: guest: producer/consumer indices and the sleep flag */
	uint32_t sq_tail;
	uint32_t cq_head;
	uint32_t guest_sleeping;
	uint32_t reserved2;
	uint32_t rq_tail[FAB_MAX_QPS];
	uint64_t reserved3[6];

	/* 0xc0: fabricd: its indices (copies of its private state), flag, errors */
	uint32_t sq_head;
	uint32_t cq_tail;
	uint32_t fabricd_sleeping;
	uint32_t reserved4;
	uint32_t rq_head[FAB_MAX_QPS];
	uint64_t errors; /* malformed requests seen from this guest */
	uint64_t reserved5[5];
};
_Static_assert(sizeof(struct fab_window_hdr) == 320, "fab_window_hdr size");
_Static_assert(__builtin_offsetof(struct fab_window_hdr, sq_tail) == 0x40, "guest line");
_Static_assert(__builtin_offsetof(struct fab_window_hdr, sq_head) == 0xc0, "fabricd line");

/*
 * The node's report about itself, written only by the guest (its kernel
 * publishes it at boot, refreshes it about once a second and marks a
 * panic), read by fabricd for its `stats` command and so by `tessera
 * status`. Like everything in a window it is hostile input to fabricd:
 * numbers are shown as they are, state is checked against enum
 * fab_node_state, note is read up to its size and only printable ASCII is
 * kept. All zero (magic != FAB_STATUS_MAGIC) until the kernel writes it.
 *
 * Update protocol (a seqlock): the guest increments seq to odd, writes the
 * fields, increments seq to even. fabricd copies the struct, retries a few
 * times while seq is odd or changed, and reports "torn" otherwise.
 * heartbeat grows by one at each refresh; fabricd notes when it last
 * changed, so a node whose kernel hangs shows a growing heartbeat age.
 */
#define FAB_STATUS_MAGIC 0x54415453u /* "STAT" */

enum fab_node_state {
	FAB_NODE_BOOTING = 0, /* status not written yet, or core still coming up */
	FAB_NODE_READY = 1, /* the role's services run: it answers RPCs */
	FAB_NODE_PANIC = 2, /* the kernel panicked; note holds the message */
	FAB_NODE_HALTED = 3, /* the kernel stopped on purpose (shutdown) */
};

struct fab_node_status {
	uint32_t magic; /* FAB_STATUS_MAGIC */
	uint32_t seq; /* odd while being written */
	uint32_t state; /* enum fab_node_state */
	uint32_t heartbeat; /* +1 per refresh (about 1 Hz) */
	char role; /* 'p', 'm', 's', 'g' */
	uint8_t cpus; /* online CPUs */
	uint16_t reserved0;
	uint32_t reserved1;
	uint64_t uptime_ms;
	uint64_t mem_total_kib; /* RAM the kernel manages */
	uint64_t mem_free_kib;
	uint64_t rpc_calls; /* RPCs this node made */
	uint64_t rpc_served; /* RPCs this node answered */
	uint64_t rpc_timeouts;
	uint64_t reserved2[4];
	char note[128]; /* NUL-terminated: the panic message, or a role's one-liner */
};
_Static_assert(sizeof(struct fab_node_status) == 232, "fab_node_status size");
_Static_assert(FAB_HDR_OFFSET + sizeof(struct fab_window_hdr) <= FAB_STATUS_OFFSET,
	       "control page overlaps the node status");
_Static_assert(FAB_STATUS_OFFSET + sizeof(struct fab_node_status) <= FAB_MR_OFFSET,
	       "node status overlaps the MR table");

static inline const char *fab_node_state_name(unsigned state)
{
	switch (state) {
	case FAB_NODE_BOOTING:
		return "booting";
	case FAB_NODE_READY:
		return "ready";
	case FAB_NODE_PANIC:
		return "panic";
	case FAB_NODE_HALTED:
		return "halted";
	default:
		return "?";
	}
}

/* Access rights of a memory region. Local read is implied by a valid key. */
#define FAB_ACCESS_LOCAL_WRITE	0x1
#define FAB_ACCESS_REMOTE_READ	0x2
#define FAB_ACCESS_REMOTE_WRITE 0x4

/*
 * A memory region of the owning node's window. Slot i is used by keys with
 * (key & 0xff) == i; the upper 24 bits are the owner's choice, so a stale
 * key of a reused slot no longer matches. length 0 marks a free slot. An
 * MR must lie within [FAB_DATA_OFFSET, window_size): fabricd treats one
 * that reaches the control page, rings or beyond the window as no MR.
 */
struct fab_mr {
	uint64_t offset; /* from the window start */
	uint64_t length;
	uint32_t key;
	uint32_t access; /* FAB_ACCESS_* */
	uint64_t reserved;
};
_Static_assert(sizeof(struct fab_mr) == 32, "fab_mr size");

#define FAB_MR_SLOT(key) ((key) & 0xffu)

enum fab_opcode {
	FAB_OP_SEND = 1, /* local buffer -> a receive buffer of (dst_node, dst_qpn) */
	FAB_OP_WRITE = 2, /* local buffer -> remote (remote_key, remote_offset) */
	FAB_OP_READ = 3, /* remote (remote_key, remote_offset) -> local buffer */
	FAB_OP_WRITE_IMM = 4, /* WRITE, then a FAB_OP_RECV_IMM completion at the target */
	/* Completion-only opcodes, seen by the target: */
	FAB_OP_RECV = 16, /* a SEND arrived in a posted receive buffer */
	FAB_OP_RECV_IMM = 17, /* a WRITE_IMM landed; no receive buffer consumed */
};

#define FAB_WQE_SIGNALED 0x1 /* completion even on success (errors always) */
/*
 * Fence: deliver this WQE only if every WQE its node posted to the same
 * dst_node since the previous fenced one there (that one excluded)
 * completed OK; otherwise complete it with FAB_ST_FLUSHED and deliver
 * nothing. Its ordering unit is the link (all QPs alike), the unit in
 * which fabricd keeps posting order. A dropped transfer counts as OK.
 */
#define FAB_WQE_FENCE 0x2
#define FAB_WQE_FLAGS (FAB_WQE_SIGNALED | FAB_WQE_FENCE) /* all defined */

/* Work request, posted by the guest on its send queue. */
struct fab_wqe {
	uint64_t wr_id; /* echoed in the completion */
	uint8_t opcode; /* enum fab_opcode: SEND, WRITE, READ, WRITE_IMM */
	uint8_t flags; /* FAB_WQE_* */
	uint16_t dst_node;
	uint16_t src_qpn; /* reported to the target in its completion */
	uint16_t dst_qpn; /* SEND: the target's receive queue */
	uint32_t imm; /* SEND, WRITE_IMM: delivered to the target */
	uint32_t length; /* bytes, at most FAB_MAX_MSG */
	uint64_t local_offset; /* own window: source, or destination for READ */
	uint32_t local_key; /* own MR covering the local range */
	uint32_t remote_key; /* WRITE, READ, WRITE_IMM: target's MR */
	uint64_t remote_offset; /* WRITE, READ, WRITE_IMM: in the target's window */
	uint64_t reserved[2];
};
_Static_assert(sizeof(struct fab_wqe) == 64, "fab_wqe size");

/* Receive buffer, posted by the guest on one of its receive queues. */
struct fab_rqe {
	uint64_t wr_id;
	uint64_t offset; /* own window */
	uint32_t length;
	uint32_t key; /* own MR with FAB_ACCESS_LOCAL_WRITE covering the buffer */
	uint64_t reserved;
};
_Static_assert(sizeof(struct fab_rqe) == 32, "fab_rqe size");

enum fab_status {
	FAB_ST_OK = 0,
	FAB_ST_LOCAL_ERR = 1, /* bad local key, range, rights or opcode */
	FAB_ST_REMOTE_ACCESS = 2, /* bad remote key, range or rights */
	FAB_ST_RNR = 3, /* SEND: no receive buffer posted, or the target's CQ is full;
			   WRITE_IMM: the target's CQ is full (nothing written) */
	FAB_ST_LENGTH = 4, /* SEND larger than the receive buffer, or > FAB_MAX_MSG */
	FAB_ST_UNREACHABLE = 5, /* no such node, node failed, or link partitioned
				   (also: target not connected or restarted meanwhile,
				   a READ lost by an injected drop) */
	FAB_ST_BAD_QP = 6, /* dst_qpn (SEND) or src_qpn out of range */
	FAB_ST_FLUSHED = 7, /* fenced, and an earlier WQE on its link failed:
			       not delivered */
};

/* Completion, written by fabricd on the guest's completion queue. */
struct fab_cqe {
	uint64_t wr_id; /* of the WQE, or of the RQE for FAB_OP_RECV; 0 for RECV_IMM */
	uint8_t opcode; /* enum fab_opcode */
	uint8_t status; /* enum fab_status */
	uint16_t src_node; /* RECV, RECV_IMM: the sender */
	uint16_t src_qpn; /* RECV, RECV_IMM: the sender's QP */
	uint16_t qpn; /* RECV: the QP whose buffer was used; else the WQE's src_qpn
			 (RECV_IMM too: no receive queue is involved) */
	uint32_t byte_len; /* bytes transferred */
	uint32_t imm; /* RECV, RECV_IMM */
	uint64_t remote_offset; /* RECV_IMM: where the data landed in this window */
};
_Static_assert(sizeof(struct fab_cqe) == 32, "fab_cqe size");

_Static_assert(FAB_MR_OFFSET + FAB_MR_ENTRIES * sizeof(struct fab_mr) <= FAB_SQ_OFFSET,
	       "MR table overlaps the send queue");
_Static_assert(FAB_SQ_OFFSET + FAB_SQ_ENTRIES * sizeof(struct fab_wqe) <= FAB_RQ_OFFSET,
	       "send queue overlaps the receive queues");
_Static_assert(FAB_RQ_OFFSET + FAB_MAX_QPS * FAB_RQ_ENTRIES * sizeof(struct fab_rqe) <=
		       FAB_CQ_OFFSET,
	       "receive queues overlap the completion queue");
_Static_assert(FAB_CQ_OFFSET + FAB_CQ_ENTRIES * sizeof(struct fab_cqe) <= FAB_DATA_OFFSET,
	       "completion queue overlaps the data area");

/* Names for logs and tests: "RNR", "WRITE_IMM"; "?" if unknown. */
static inline const char *fab_status_name(unsigned status)
{
	static const char *const names[] = {
		[FAB_ST_OK] = "OK",
		[FAB_ST_LOCAL_ERR] = "LOCAL_ERR",
		[FAB_ST_REMOTE_ACCESS] = "REMOTE_ACCESS",
		[FAB_ST_RNR] = "RNR",
		[FAB_ST_LENGTH] = "LENGTH",
		[FAB_ST_UNREACHABLE] = "UNREACHABLE",
		[FAB_ST_BAD_QP] = "BAD_QP",
		[FAB_ST_FLUSHED] = "FLUSHED",
	};

	if (status >= sizeof(names) / sizeof(names[0]) || !names[status])
		return "?";
	return names[status];
}

static inline const char *fab_opcode_name(unsigned opcode)
{
	switch (opcode) {
	case FAB_OP_SEND:
		return "SEND";
	case FAB_OP_WRITE:
		return "WRITE";
	case FAB_OP_READ:
		return "READ";
	case FAB_OP_WRITE_IMM:
		return "WRITE_IMM";
	case FAB_OP_RECV:
		return "RECV";
	case FAB_OP_RECV_IMM:
		return "RECV_IMM";
	default:
		return "?";
	}
}

#endif
