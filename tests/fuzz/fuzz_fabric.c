/*
 * libFuzzer target for fabricd's engine (tools/fabricd/check.c, exec.c,
 * wire.c, control.c): three nodes with windows in heap memory, driven by a
 * program decoded from the input, as hostile guests would drive it.
 *
 * Input: one byte of window sizes, then operations, each an opcode byte
 * and its arguments (missing bytes read as 0):
 *   0 raw MR entry      node slot [32 bytes]
 *   1 plausible MR      node slot off16 len16 access keyhi
 *   2 raw WQE           node [64 bytes]            (posted at sq_tail)
 *   3 plausible WQE     node op dst len16 loff16 roff16 lkey rkey flags qpns imm32
 *   4 RQE               node qpn wr off16 len16 key
 *   5 hostile index     node which value32         (sq_tail, cq_head, rq_tail[q])
 *   6 consume CQEs      node count
 *   7 step              delta16 (microseconds)
 *   8 fault command     kind a b value             (text through fab_control)
 *   9 raw command       len [len bytes]            (fab_control)
 *  10 attach/detach     node on
 *  11 raw header bytes  node off8 len8 [len bytes]  (the guest's own control page)
 *  12 burst             node count8                (the node's last WQE, 8*count
 *                                                  times, stepping when the SQ
 *                                                  is full: fills CQs)
 *  13 raw status bytes  node off8 len8 [len bytes]  (the guest's status page;
 *                                                  then fabricd samples it and
 *                                                  the stats JSON must be valid)
 *
 * After every step it checks what fabricd may never do: write a byte of a
 * window outside its data-area MRs with write rights, outside the CQ and
 * outside fabricd's line of the header; overwrite an unconsumed CQE; lose
 * track of a CQ reservation. AddressSanitizer catches any access outside
 * the windows. Whatever a status page holds, `stats` must stay valid JSON
 * (tests/fabric/json_check.h). At the end every transfer is flushed and the reservations
 * must all be released.
 */
#include <fabricd/check.h>
#include <fabricd/control.h>
#include <fabricd/exec.h>
#include <fabricd/wire.h>
#include <sanitizer/asan_interface.h>

#include "../fabric/json_check.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODES	      3
#define MAX_OPS	      256
#define MAX_STEPS     16
#define HDR_OWN_START 0xc0 /* fabricd's line of the header */
#define HDR_OWN_END   0x140

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint16_t u16(struct input *in)
{
	return (uint16_t)(u8(in) | u8(in) << 8);
}

static uint32_t u32(struct input *in)
{
	return (uint32_t)u16(in) | (uint32_t)u16(in) << 16;
}

static void bytes(struct input *in, void *dst, size_t n)
{
	uint8_t *d = dst;

	for (size_t i = 0; i < n; i++)
		d[i] = u8(in);
}

struct world {
	struct fab_fabric *f;
	uint8_t *win[NODES + 1];
	uint8_t *shadow[NODES + 1];
	uint64_t size[NODES + 1];
	uint32_t cq_tail[NODES + 1];	/* fabricd's own, before the step */
	struct fab_wqe last[NODES + 1]; /* each node's last WQE posted */
	uint64_t now;
	unsigned steps;
	unsigned bursts;
};

static struct fab_window_hdr *hdr(struct world *w, unsigned id)
{
	return (struct fab_window_hdr *)w->win[id];
}

static unsigned pick_node(struct input *in)
{
	return 1 + u8(in) % NODES;
}

/* --- guest-side operations ------------------------------------------------- */

static void op_mr_raw(struct world *w, struct input *in)
{
	unsigned id = pick_node(in), slot = u8(in);

	bytes(in, w->win[id] + FAB_MR_OFFSET + slot * sizeof(struct fab_mr),
	      sizeof(struct fab_mr));
}

static uint32_t key_of(uint8_t slot, uint8_t hi)
{
	return (uint32_t)(hi & 3) << 8 | slot % 8;
}

static void op_mr(struct world *w, struct input *in)
{
	unsigned id = pick_node(in);
	uint8_t slot = u8(in);
	struct fab_mr mr;

	memset(&mr, 0, sizeof(mr));
	mr.offset = FAB_DATA_OFFSET + u16(in) - 512;
	mr.length = u16(in);
	mr.access = u8(in) & 7;
	mr.key = key_of(slot, u8(in));
	memcpy(w->win[id] + FAB_MR_OFFSET + FAB_MR_SLOT(mr.key) * sizeof(mr), &mr,
	       sizeof(mr));
}

/* The guest's posting: entry at its sq_tail (read back from its window). */
static void post(struct world *w, unsigned id, const struct fab_wqe *q)
{
	uint32_t tail = hdr(w, id)->sq_tail;

	w->last[id] = *q;
	memcpy(w->win[id] + FAB_SQ_OFFSET + (tail % FAB_SQ_ENTRIES) * sizeof(*q), q,
	       sizeof(*q));
	hdr(w, id)->sq_tail = tail + 1;
}

static void op_wqe_raw(struct world *w, struct input *in)
{
	unsigned id = pick_node(in);
	struct fab_wqe q;

	bytes(in, &q, sizeof(q));
	post(w, id, &q);
}

static void op_wqe(struct world *w, struct input *in)
{
	unsigned id = pick_node(in);
	uint8_t op = u8(in), dst = u8(in), lk, rk, flags, qpns;
	struct fab_wqe q;

	memset(&q, 0, sizeof(q));
	q.opcode = op >= 0xf0 ? op : 1 + op % 4;
	q.dst_node = dst >= 0xf0 ? (uint16_t)(dst * 0x101) : 1 + dst % NODES;
	q.length = u16(in);
	q.local_offset = FAB_DATA_OFFSET + u16(in) - 256;
	q.remote_offset = FAB_DATA_OFFSET + u16(in) - 256;
	lk = u8(in);
	rk = u8(in);
	q.local_key = key_of(lk, lk >> 3);
	q.remote_key = key_of(rk, rk >> 3);
	flags = u8(in);
	q.flags = flags & 0x80 ? flags : flags & FAB_WQE_FLAGS;
	if (flags & 0x40)
		q.length = flags & 0x20 ? FAB_MAX_MSG + 1 : 0xffffffffu;
	qpns = u8(in);
	q.src_qpn = (qpns & 7) + (qpns & 0x08 ? FAB_MAX_QPS : 0); /* bit 3: invalid */
	q.dst_qpn =
		(qpns >> 4 & 7) + (qpns & 0x80 ? FAB_MAX_QPS : 0); /* bit 7: invalid */
	q.imm = u32(in);
	q.wr_id = w->steps;
	post(w, id, &q);
}

static void check_accounting(struct world *w);

static void op_burst(struct world *w, struct input *in)
{
	unsigned id = pick_node(in), count = 8u * u8(in);
	struct fab_window_hdr *h = hdr(w, id);

	if (w->bursts++ >= 2)
		return;
	for (unsigned i = 0, idle = 0; i < count && idle < 4;) {
		uint32_t used;

		if (fab_ring_used(h->sq_head, h->sq_tail, FAB_SQ_ENTRIES - 1, &used)) {
			struct fab_wqe q = w->last[id];

			q.wr_id = i++;
			post(w, id, &q);
			idle = 0;
		} else {
			/* no window comparison here: too slow for hundreds of steps */
			w->now += 1000;
			fab_step(w->f, w->now);
			check_accounting(w);
			idle++; /* the SQ does not drain (CQ full, or corrupt indices) */
		}
	}
}

static void op_rqe(struct world *w, struct input *in)
{
	unsigned id = pick_node(in), qpn = u8(in) % FAB_MAX_QPS;
	struct fab_rqe r;
	uint32_t tail = hdr(w, id)->rq_tail[qpn];
	uint8_t k;

	memset(&r, 0, sizeof(r));
	r.wr_id = u8(in);
	r.offset = FAB_DATA_OFFSET + u16(in) - 256;
	r.length = u16(in);
	k = u8(in);
	r.key = key_of(k, k >> 3);
	memcpy(w->win[id] + FAB_RQ_OFFSET +
		       (qpn * FAB_RQ_ENTRIES + tail % FAB_RQ_ENTRIES) * sizeof(r),
	       &r, sizeof(r));
	hdr(w, id)->rq_tail[qpn] = tail + 1;
}

static void op_index(struct world *w, struct input *in)
{
	unsigned id = pick_node(in), which = u8(in) % (2 + FAB_MAX_QPS);
	uint32_t v = u32(in);
	struct fab_window_hdr *h = hdr(w, id);

	if (which == 0)
		h->sq_tail = v;
	else if (which == 1)
		h->cq_head = v;
	else
		h->rq_tail[which - 2] = v;
}

/* A well-behaved consumer: advances cq_head over up to count CQEs. */
static void op_consume(struct world *w, struct input *in)
{
	unsigned id = pick_node(in), count = u8(in);
	struct fab_window_hdr *h = hdr(w, id);
	uint32_t used;

	if (fab_ring_used(h->cq_head, h->cq_tail, FAB_CQ_ENTRIES, &used))
		h->cq_head += used < count ? used : count;
}

static void op_header(struct world *w, struct input *in)
{
	unsigned id = pick_node(in), off = u8(in), len = u8(in);

	for (unsigned i = 0; i < len; i++)
		w->win[id][(off + i) % sizeof(struct fab_window_hdr)] = u8(in);
}

/* The guest's status page: any bytes, then fabricd reads it for stats. */
static void op_status(struct world *w, struct input *in)
{
	unsigned id = pick_node(in), off = u8(in), len = u8(in);
	struct fab_buf out = {0};

	for (unsigned i = 0; i < len; i++)
		w->win[id][FAB_STATUS_OFFSET +
			   (off + i) % sizeof(struct fab_node_status)] = u8(in);
	fab_status_sample(w->f, w->now);
	fab_stats_json(w->f, &out);
	if (!out.oom && !json_valid(out.p, out.len))
		abort(); /* a guest broke fabricd's JSON */
	fab_buf_free(&out);
}

/* --- control and attachment ------------------------------------------------ */

static void control(struct world *w, const char *line)
{
	struct fab_buf out = {0};

	fab_control(w->f, line, &out);
	if (!out.oom && (out.len == 0 || out.p[out.len - 1] != '\n' ||
			 memchr(out.p, '\n', out.len) != out.p + out.len - 1))
		abort(); /* exactly one reply line */
	fab_buf_free(&out);
}

static void op_fault(struct world *w, struct input *in)
{
	static const char *const fmt[] = {
		"drop %s %s %.3f",	"duplicate %s %s %.3f",
		"delay %s %s %.0f 0.5", "partition %s %s",
		"heal %s %s",		"fail %s",
		"recover %s",		"link %s %s latency_us=%.0f bandwidth_gbps=%.3f",
		"reset-faults",		"stats",
	};
	static const char *const nodes[] = {"1", "2", "3", "*", "a", "b", "c", "9"};
	uint8_t kind = u8(in) % 10, a = u8(in) % 8, b = u8(in) % 8, v = u8(in);
	char line[128];
	double x = v / 255.0;

	if (kind == 2 || kind == 7)
		x = v * 10.0;
	if (kind == 7)
		snprintf(line, sizeof(line), fmt[kind], nodes[a], nodes[b], x, v / 100.0);
	else if (kind == 5 || kind == 6)
		snprintf(line, sizeof(line), fmt[kind], nodes[a]);
	else if (kind >= 8)
		snprintf(line, sizeof(line), "%s", fmt[kind]);
	else if (kind == 3 || kind == 4)
		snprintf(line, sizeof(line), fmt[kind], nodes[a], nodes[b]);
	else
		snprintf(line, sizeof(line), fmt[kind], nodes[a], nodes[b], x);
	control(w, line);
}

static void op_command(struct world *w, struct input *in)
{
	unsigned len = u8(in);
	char line[256];

	for (unsigned i = 0; i < len; i++) {
		line[i] = (char)u8(in);
		if (!line[i] || line[i] == '\n')
			line[i] = ' ';
	}
	line[len] = '\0';
	control(w, line);
}

static void op_attach(struct world *w, struct input *in)
{
	unsigned id = pick_node(in);

	if (u8(in) & 1) {
		memset(w->win[id], 0, w->size[id]);
		fab_attach(w->f, (uint16_t)id);
	} else {
		fab_detach(w->f, (uint16_t)id);
	}
}

/* --- the step and its checks ------------------------------------------------ */

/* True if byte off of node id lies in a valid MR with write rights. */
static bool writable(struct world *w, unsigned id, uint64_t off)
{
	const struct fab_mr *t = (const struct fab_mr *)(w->shadow[id] + FAB_MR_OFFSET);

	for (unsigned s = 0; s < FAB_MR_ENTRIES; s++)
		if (fab_mr_valid(&t[s], w->size[id]) &&
		    (t[s].access & (FAB_ACCESS_LOCAL_WRITE | FAB_ACCESS_REMOTE_WRITE)) &&
		    fab_range_within(off, 1, t[s].offset, t[s].length))
			return true;
	return false;
}

/* True if CQ slot k held an unconsumed CQE before the step. */
static bool unconsumed(struct world *w, unsigned id, unsigned k)
{
	const struct fab_window_hdr *h = (const struct fab_window_hdr *)w->shadow[id];
	uint32_t used;

	if (!fab_ring_used(h->cq_head, w->cq_tail[id], FAB_CQ_ENTRIES, &used))
		return false; /* the guest's head was corrupt: no promise */
	return (k - h->cq_head % FAB_CQ_ENTRIES) % FAB_CQ_ENTRIES < used;
}

static void check_byte(struct world *w, unsigned id, uint64_t off)
{
	if (off >= FAB_DATA_OFFSET) {
		if (!writable(w, id, off))
			abort(); /* written outside every writable MR */
	} else if (off >= FAB_CQ_OFFSET) {
		if (unconsumed(
			    w, id,
			    (unsigned)((off - FAB_CQ_OFFSET) / sizeof(struct fab_cqe))))
			abort(); /* overwrote a CQE the guest had not consumed */
	} else if (off < HDR_OWN_START || off >= HDR_OWN_END) {
		abort(); /* wrote the guest's own fields, MRs, SQ or RQ */
	}
}

static void check_window(struct world *w, unsigned id)
{
	for (uint64_t off = 0; off < w->size[id]; off += 64) {
		if (!memcmp(w->win[id] + off, w->shadow[id] + off, 64))
			continue;
		for (uint64_t b = off; b < off + 64; b++)
			if (w->win[id][b] != w->shadow[id][b])
				check_byte(w, id, b);
	}
}

/* Reservations match the transfers in flight; pools add up. */
static void check_accounting(struct world *w)
{
	for (unsigned id = 1; id <= NODES; id++) {
		struct fab_port *p = &w->f->port[id];
		unsigned queued = 0, free_n = 0;

		for (unsigned d = 0; d < FAB_MAX_NODES; d++)
			queued += w->f->link[id][d].queued;
		for (struct fab_xfer *x = p->free_list; x; x = x->next)
			free_n++;
		if (queued != p->node.cq_reserved || queued + free_n != FAB_CQ_ENTRIES)
			abort();
	}
}

static void step(struct world *w, uint64_t delta_ns)
{
	for (unsigned id = 1; id <= NODES; id++) {
		memcpy(w->shadow[id], w->win[id], w->size[id]);
		w->cq_tail[id] = w->f->port[id].node.cq_tail;
	}
	w->now += delta_ns;
	fab_step(w->f, w->now);
	for (unsigned id = 1; id <= NODES; id++) {
		check_window(w, id);
		fab_irq_wanted(&w->f->port[id].node);
	}
	check_accounting(w);
	w->steps++;
}

/* --- setup and main ---------------------------------------------------------- */

#define WIN_MAX (FAB_DATA_OFFSET + (4096u << 3))

/*
 * One world for all inputs, reset for each: allocating a fabric and three
 * windows per input costs more than running it. The bytes of a window's
 * buffer past its size are poisoned, so ASan still catches any access
 * beyond the window.
 */
static bool world_init(struct world *w, uint8_t sizes, uint64_t seed)
{
	static const char *const names[] = {"", "a", "b", "c"};
	static struct fab_fabric *f;
	static uint8_t *win[NODES + 1], *shadow[NODES + 1];
	struct fab_wire wire = {0, 0};

	if (!f)
		f = fab_fabric_new(seed);
	if (!f)
		return false;
	fab_fabric_reset(f, seed);
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->now = 1000000000ull;
	for (unsigned id = 1; id <= NODES; id++) {
		if (!win[id])
			win[id] = malloc(WIN_MAX);
		if (!shadow[id])
			shadow[id] = malloc(WIN_MAX);
		if (!win[id] || !shadow[id])
			return false;
		/* data areas of 4 to 32 KiB: small, so the checks stay fast */
		w->size[id] = FAB_DATA_OFFSET + (4096u << ((sizes >> (2 * id)) & 3));
		w->win[id] = win[id];
		w->shadow[id] = shadow[id];
		ASAN_UNPOISON_MEMORY_REGION(win[id], WIN_MAX);
		memset(win[id], 0, w->size[id]);
		ASAN_POISON_MEMORY_REGION(win[id] + w->size[id], WIN_MAX - w->size[id]);
		if (fab_add_node(f, (uint16_t)id, names[id], win[id], w->size[id], wire))
			return false;
		if (!(sizes & (1u << (id - 1))) || id != 3)
			fab_attach(f, (uint16_t)id);
	}
	return true;
}

static void run_op(struct world *w, struct input *in)
{
	switch (u8(in) % 14) {
	case 0:
		op_mr_raw(w, in);
		break;
	case 1:
		op_mr(w, in);
		break;
	case 2:
		op_wqe_raw(w, in);
		break;
	case 3:
		op_wqe(w, in);
		break;
	case 4:
		op_rqe(w, in);
		break;
	case 5:
		op_index(w, in);
		break;
	case 6:
		op_consume(w, in);
		break;
	case 7:
		if (w->steps < MAX_STEPS)
			step(w, (uint64_t)u16(in) * 1000);
		break;
	case 8:
		op_fault(w, in);
		break;
	case 9:
		op_command(w, in);
		break;
	case 10:
		op_attach(w, in);
		break;
	case 11:
		op_header(w, in);
		break;
	case 12:
		op_burst(w, in);
		break;
	default:
		op_status(w, in);
		break;
	}
}

/* Runs everything in flight to completion; then nothing may stay reserved. */
static void flush(struct world *w)
{
	fab_reset_faults(w->f); /* a partition or failure must not matter here */
	for (unsigned i = 0; i < 64 && fab_next_due(w->f) != UINT64_MAX; i++)
		step(w, 1000000000000ull);
	if (fab_next_due(w->f) != UINT64_MAX)
		abort();
	for (unsigned id = 1; id <= NODES; id++)
		if (w->f->port[id].node.cq_reserved)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	struct world w;
	uint8_t sizes = u8(&in);

	if (world_init(&w, sizes, sizes)) {
		for (unsigned i = 0; i < MAX_OPS && in.n; i++)
			run_op(&w, &in);
		w.steps = 0;
		step(&w, 0);
		flush(&w);
	}
	return 0;
}
