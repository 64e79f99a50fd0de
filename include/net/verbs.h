/*
 * Verbs: an RDMA-like interface over a node's fabric window (net/verbs.c,
 * include/proto/fabric.h for the rings and formats underneath).
 *
 * Objects:
 *   device  one per node (the ivshmem window); owns the send queue, the
 *           completion queue, the MR table and a thread that drains the
 *           completion queue ("the CQ thread")
 *   buffer  a piece of the window's data area (FAB_DATA_OFFSET..size);
 *           only window memory can be sent, written or read
 *   MR      a registered range with rights and a key; keys carry a
 *           generation tag, so a key of a deregistered MR never works again
 *   QP      a local queue pair number with its receive queue, optionally
 *           connected to (remote node, remote QP); its completions go to a
 *           handler (called in the CQ thread) or to a software completion
 *           queue that verbs_poll/verbs_wait read
 *
 * Waiting is hybrid (DESIGN.md section 3): the CQ thread polls the
 * completion queue briefly after activity, then publishes guest_sleeping
 * and blocks until fabricd's MSI-X (or a 100 ms safety timeout); posters
 * ring the doorbell only when fabricd_sleeping says fabricd sleeps.
 *
 * Errors in completions are negative errnos (verbs_status_errno):
 *   FAB_ST_LOCAL_ERR -EFAULT, FAB_ST_REMOTE_ACCESS -EACCES,
 *   FAB_ST_RNR -ENOBUFS, FAB_ST_LENGTH -EMSGSIZE,
 *   FAB_ST_UNREACHABLE -EHOSTUNREACH, FAB_ST_BAD_QP -EINVAL,
 *   FAB_ST_FLUSHED -ECANCELED (a fenced request not delivered),
 *   anything else -EREMOTEIO.
 */
#ifndef NET_VERBS_H
#define NET_VERBS_H

#include <proto/fabric.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct verbs_dev;
struct verbs_qp;

/* A work completion, decoded from a struct fab_cqe. */
struct verbs_wc {
	uint64_t wr_id;
	int status;	    /* 0 or a negative errno (see above) */
	uint8_t fab_status; /* enum fab_status as received */
	uint8_t opcode;	    /* enum fab_opcode */
	uint16_t src_node;  /* RECV, RECV_IMM */
	uint16_t src_qpn;   /* RECV, RECV_IMM */
	uint16_t qpn;
	uint32_t byte_len;
	uint32_t imm;
	uint64_t remote_offset; /* RECV_IMM */
};

/* Called in the CQ thread, with no verbs lock held, for each completion
 * of a QP that has one. It may post work and receive buffers; it should
 * not block for long (every other completion of the node waits). */
typedef void (*verbs_handler)(struct verbs_qp *qp, const struct verbs_wc *wc, void *arg);

/* A piece of the window's data area. */
struct verbs_buf {
	uint64_t offset; /* from the window start */
	size_t size;
	void *va; /* where the kernel reads and writes it */
};

struct verbs_mr {
	uint32_t key;
	uint32_t access; /* FAB_ACCESS_* */
	uint64_t offset, length;
};

/*
 * The description of an MR that a raw-QP user sends another node as a
 * SEND's payload so that it can WRITE and READ there (the cluster tests,
 * the fabric benchmark). The receiver checks magic, and node against the
 * completion's src_node, before it uses offset and key.
 */
struct verbs_mr_card {
	uint64_t magic; /* VERBS_MR_CARD_MAGIC */
	uint64_t offset;
	uint32_t key;
	uint16_t node; /* the MR's owner */
	uint16_t reserved;
};

#define VERBS_MR_CARD_MAGIC 0x445241434d524246ull

/* A work request. Destination: the QP's connection, or verbs_post_to(). */
struct verbs_wr {
	uint64_t wr_id;
	uint8_t opcode;	 /* FAB_OP_SEND, WRITE, READ, WRITE_IMM */
	bool unsignaled; /* no completion on success */
	bool fenced;	 /* FAB_WQE_FENCE: delivered only if every request posted
			    to the same node since the last fenced one succeeded,
			    else completed with -ECANCELED (see fabric.h) */
	uint32_t length;
	uint64_t local_offset;
	uint32_t local_key;
	uint32_t remote_key;	/* WRITE, READ, WRITE_IMM */
	uint64_t remote_offset; /* WRITE, READ, WRITE_IMM */
	uint32_t imm;		/* SEND, WRITE_IMM */
};

/* Counters (read without locks: approximate while traffic runs). */
struct verbs_stats {
	uint64_t posted;	 /* work requests */
	uint64_t doorbells;	 /* of which rang the doorbell */
	uint64_t sq_full;	 /* posts that found the send queue full */
	uint64_t completions;	 /* CQEs consumed */
	uint64_t interrupts;	 /* MSI-X (or simulated) */
	uint64_t sleeps;	 /* times the CQ thread blocked */
	uint64_t unexpected;	 /* CQEs for no QP, or malformed */
	uint64_t swcq_overflows; /* completions lost: a software CQ was full */
};

/* ---- devices ---------------------------------------------------------- */

/*
 * The node's fabric device, brought up on the first call (ivshmem probe,
 * window checks, CQ thread; all of it stays up for good). Returns 0 and
 * sets *out, or -ENODEV without a fabric device, -EPROTO if the window
 * was not set up by a fabricd speaking FAB_VERSION, or another negative
 * errno. Thread context.
 */
int verbs_open(struct verbs_dev **out);

/*
 * A device on any window (self tests run one on kernel memory with an
 * in-kernel stand-in for fabricd). The window must be set up as fabricd
 * would: header with magic, version, node id, generation and size.
 * doorbell(ctx) is called instead of ringing fabricd. The creator calls
 * verbs_interrupt() where fabricd would raise MSI-X, and destroys the
 * device with verbs_dev_destroy() once every QP is gone.
 */
struct verbs_hw {
	void *window;
	uint64_t window_size;
	uint64_t window_phys; /* physical address of window[0] */
	void (*doorbell)(void *ctx);
	void *ctx;
};
int verbs_dev_create(const struct verbs_hw *hw, struct verbs_dev **out);
void verbs_dev_destroy(struct verbs_dev *dev);

/* What fabricd's MSI-X vector 0 means: new completions may be there.
 * Interrupt-safe. */
void verbs_interrupt(struct verbs_dev *dev);

uint16_t verbs_node_id(const struct verbs_dev *dev);
/* Physical address of the window byte at offset (user page tables map
 * window pages, e.g. the processor's ExCache lines). */
uint64_t verbs_window_phys(const struct verbs_dev *dev, uint64_t offset);
/* This node's generation (fabricd bumps it at each connect). */
uint32_t verbs_generation(const struct verbs_dev *dev);
/* The window's header, for code that must look at fabricd's fields. */
volatile struct fab_window_hdr *verbs_window_hdr(struct verbs_dev *dev);
void verbs_get_stats(const struct verbs_dev *dev, struct verbs_stats *st);
/* Adds to *sum what each counter grew by from *before to *after (two
 * verbs_get_stats of one device): the counts of a stretch of work. */
void verbs_stats_add_since(struct verbs_stats *sum, const struct verbs_stats *before,
			   const struct verbs_stats *after);

/* ---- window buffers and memory regions -------------------------------- */

/*
 * Allocates size bytes of the data area (64-byte aligned; 4 KiB aligned
 * when size >= 4 KiB), zeroed. Returns 0 or -ENOMEM.
 */
int verbs_buf_alloc(struct verbs_dev *dev, size_t size, struct verbs_buf *buf);
/* Returns a buffer; size must be the allocated one. Safe on a zeroed buf. */
void verbs_buf_free(struct verbs_dev *dev, struct verbs_buf *buf);

/* Key of the MR covering the whole data area with local rights only: the
 * local_key of sends and the key of receive buffers. */
uint32_t verbs_local_key(const struct verbs_dev *dev);

/*
 * Registers [offset, offset + length) of the window with access rights
 * (FAB_ACCESS_*). The range must lie in the data area. Returns 0 and
 * fills *mr, or -EINVAL (bad range or rights), -ENOSPC (table full).
 */
int verbs_reg_mr(struct verbs_dev *dev, uint64_t offset, uint64_t length, uint32_t access,
		 struct verbs_mr *mr);
/* Frees the MR's slot; from now on fabricd refuses its key. Requests
 * already executing may still complete. Safe on a zeroed mr. */
void verbs_dereg_mr(struct verbs_dev *dev, struct verbs_mr *mr);

/* ---- queue pairs ------------------------------------------------------- */

/*
 * Creates QP number qpn (0 .. FAB_MAX_QPS-1), or any free one if qpn < 0.
 * Completions go to handler(qp, wc, arg) if handler is set, else to the
 * QP's software completion queue. Returns 0 and sets *out, or -EINVAL,
 * -EBUSY (number taken), -ENOSPC (none free), -ENOMEM.
 */
int verbs_qp_create(struct verbs_dev *dev, int qpn, verbs_handler handler, void *arg,
		    struct verbs_qp **out);
/*
 * Destroys a QP. The contract has no way to withdraw posted receive
 * buffers: deregister the MR they name before reusing their memory.
 * Completions arriving later for this number are counted as unexpected.
 */
void verbs_qp_destroy(struct verbs_qp *qp);
/* Sets (or with node 0 clears) the QP's remote end. RECV_IMM completions
 * are dispatched to the QP connected to (src_node, src_qpn). */
void verbs_qp_connect(struct verbs_qp *qp, uint16_t node, uint16_t qpn);
uint16_t verbs_qp_num(const struct verbs_qp *qp);
struct verbs_dev *verbs_qp_dev(const struct verbs_qp *qp);

/*
 * Posts a work request to the QP's connected peer (verbs_post) or to
 * (node, qpn). Waits (sleeping) up to 10 ms while the send queue is full.
 * Returns 0, -EINVAL (bad opcode, length, or not connected), -EAGAIN (the
 * send queue stayed full). Success means queued: the outcome comes as a
 * completion.
 */
int verbs_post(struct verbs_qp *qp, const struct verbs_wr *wr);
int verbs_post_to(struct verbs_qp *qp, uint16_t node, uint16_t qpn,
		  const struct verbs_wr *wr);

/* One request of a chain: wr on qp, to (node, qpn), or with node 0 to
 * the QP's connected peer. */
struct verbs_chain_link {
	struct verbs_qp *qp;
	uint16_t node, qpn;
	const struct verbs_wr *wr;
};
#define VERBS_CHAIN_MAX 4

/*
 * Posts n (1..VERBS_CHAIN_MAX) requests, of one device's QPs, next to each
 * other on the send queue in this order: no other post comes between
 * them: a fenced request right behind a transfer is always flushed if
 * that transfer fails (no other thread's fence comes in between). All
 * or nothing; waits like verbs_post while the queue lacks room for all.
 * Returns 0, -EINVAL (a bad request, QPs of two devices, a link without
 * destination), -EAGAIN.
 */
int verbs_post_chain(const struct verbs_chain_link *chain, unsigned n);

/* Posts a receive buffer ([offset, offset + length) under key). Returns 0
 * or -ENOBUFS (receive queue full). */
int verbs_post_recv(struct verbs_qp *qp, uint64_t offset, uint32_t length, uint32_t key,
		    uint64_t wr_id);
/* Receive buffers posted and not yet consumed by fabricd. */
unsigned verbs_recv_posted(struct verbs_qp *qp);

/* Up to n completions from the QP's software CQ; returns how many. */
int verbs_poll(struct verbs_qp *qp, struct verbs_wc *wc, int n);
/* Waits up to timeout_ns for one completion. Returns 0 (wc filled) or
 * -ETIMEDOUT. */
int verbs_wait(struct verbs_qp *qp, struct verbs_wc *wc, uint64_t timeout_ns);

/*
 * Consumes the completions waiting in the hardware CQ now, in the calling
 * thread, dispatching them like the CQ thread does (handlers run here);
 * does nothing if another thread is consuming it. Returns how many. For
 * a waiter that expects its completion within microseconds and would
 * rather poll briefly than pay for two thread switches; it must bound
 * such polling itself.
 */
int verbs_poll_cq(struct verbs_dev *dev);

/*
 * Brackets a stretch of verbs_poll_cq polling: while any thread is inside
 * one, fabricd is told the guest is awake and raises no interrupt for new
 * completions (the poller finds them). Pairs must match; they nest.
 */
void verbs_poll_begin(struct verbs_dev *dev);
void verbs_poll_end(struct verbs_dev *dev);

/* The errno for a fab_status (0 for FAB_ST_OK). */
int verbs_status_errno(unsigned fab_status);

#endif
