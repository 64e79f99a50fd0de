/*
 * The node's fabric presence and its status page (include/kernel/status.h,
 * struct fab_node_status in include/proto/fabric.h).
 *
 * Bring-up. status_start() opens the fabric device and the RPC service
 * (rpc_open: it posts receive buffers and starts its threads, and never
 * talks to other nodes, so it cannot wait for them), then publishes the
 * page in state BOOTING and starts the refresh thread. The role calls
 * status_ready() once its own services run: the page turns READY (only if
 * RPC runs, since READY promises that the node answers RPCs) and the log
 * says "ready: ROLE NAME", the line scripts wait for.
 *
 * Writing the page: one writer at a time under `lock` (the refresh
 * thread, status_ready, status_note), with the seqlock of fabric.h: seq
 * goes odd, the fields are written, seq goes even. Volatile stores keep
 * their order in the compiler and x86 keeps store order, so a reader that
 * sees the same even seq before and after its copy has a consistent copy.
 * The refresh thread sleeps STATUS_PERIOD_NS between refreshes (no
 * polling: two host cores run every VM).
 *
 * Heartbeats. With manager=ID, the refresh thread also sends the global
 * node an MGR_HEARTBEAT after each refresh (include/proto/manager.h): the
 * first one registers the node; the role adds its load figures through
 * status_set_load_fn().
 *
 * Live line. A role may add figures that change (the processor's ExCache
 * counters) with status_set_line_fn(): at each refresh the function
 * writes one line, and the page's note becomes "NOTE | LINE", the role's
 * note cut short if both do not fit (the line is kept whole: the CLI
 * parses it). The function runs under `lock`: it must not block.
 *
 * Panic. status_panic() must work on a dying kernel: another CPU may have
 * stopped (NMI) inside a write, holding `lock`. So it takes no lock: it
 * makes seq odd (or leaves it odd if a writer was cut off), writes state
 * and note, and makes seq even again, all with plain stores, and only if
 * the page pointer was published.
 */
#include <kernel/config.h>
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/status.h>
#include <kernel/time.h>
#include <lib/printf.h>
#include <lib/string.h>
#include <net/rpc.h>
#include <net/verbs.h>

#define STATUS_PERIOD_NS     NS_PER_S
#define NOTE_MAX	     sizeof(((struct fab_node_status *)0)->note)
#define HEARTBEAT_TIMEOUT_NS (500 * NS_PER_MS)

static struct spinlock lock = SPINLOCK_INIT("status");
/* Set once by status_start (release), read anywhere (panic too). */
static volatile struct fab_node_status *volatile page;
static struct rpc_node *node_rpc; /* set once by status_start */
static unsigned state;		  /* under lock: enum fab_node_state */
static uint32_t heartbeat;	  /* under lock */
static char note[NOTE_MAX];	  /* under lock */
/* The role's figures for heartbeats (status_set_load_fn), or NULL. */
static void (*load_fn)(struct mgr_heartbeat *hb);
/* The role's live line for the note (status_set_line_fn), or NULL. */
static void (*line_fn)(char *buf, size_t cap);

struct rpc_node *status_rpc(void)
{
	return node_rpc;
}

/* Copies s into the page's note: at most NOTE_MAX-1 bytes, NUL-padded. */
static void note_store(volatile char *dst, const char *s)
{
	size_t i = 0;

	for (; s && s[i] && i < NOTE_MAX - 1; i++)
		dst[i] = s[i];
	for (; i < NOTE_MAX; i++)
		dst[i] = '\0';
}

static void seq_fence(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void status_publish(volatile struct fab_node_status *st, unsigned new_state, uint32_t hb,
		    const char *text, struct rpc_node *rn)
{
	struct rpc_stats rs;
	uint32_t seq = st->seq;

	memset(&rs, 0, sizeof(rs));
	if (rn)
		rpc_get_stats(rn, &rs);
	seq |= 1; /* odd: being written */
	st->seq = seq;
	seq_fence();
	st->magic = FAB_STATUS_MAGIC;
	st->state = new_state;
	st->heartbeat = hb;
	st->role = this_role.letter;
	st->cpus = (uint8_t)(cpus_online() > 255 ? 255 : cpus_online());
	st->reserved0 = 0;
	st->reserved1 = 0;
	st->uptime_ms = clock_ns() / NS_PER_MS;
	st->mem_total_kib = (uint64_t)pmm_total_pages() * 4;
	st->mem_free_kib = (uint64_t)pmm_free_pages() * 4;
	st->rpc_calls = rs.calls;
	st->rpc_served = rs.served;
	st->rpc_timeouts = rs.timeouts;
	note_store(st->note, text);
	seq_fence();
	st->seq = seq + 1; /* even: consistent */
}

/* Marks st PANIC with msg: plain stores, whatever state st was left in. */
static void mark_panic(volatile struct fab_node_status *st, const char *msg)
{
	uint32_t seq = st->seq | 1;

	st->seq = seq;
	seq_fence();
	st->state = FAB_NODE_PANIC;
	note_store(st->note, msg);
	seq_fence();
	st->seq = seq + 1;
}

void status_panic(const char *msg)
{
	volatile struct fab_node_status *st = page;

	if (st)
		mark_panic(st, msg);
}

/* The note to publish: the role's note, then STATUS_LINE_SEP and the
 * live line if there is one (the note shortened to fit it). Caller holds
 * lock. */
static void compose_note(char *out)
{
	void (*fn)(char *, size_t) = __atomic_load_n(&line_fn, __ATOMIC_ACQUIRE);
	char line[NOTE_MAX];
	size_t sep = strlen(STATUS_LINE_SEP), ll, room;

	strlcpy(out, note, NOTE_MAX);
	if (!fn)
		return;
	line[0] = '\0';
	fn(line, sizeof(line));
	ll = strlen(line);
	if (!ll || ll + sep > NOTE_MAX - 1)
		return;
	room = NOTE_MAX - 1 - sep - ll;
	snprintf(out, NOTE_MAX, "%.*s%s%s",
		 (int)(strlen(note) < room ? strlen(note) : room), note, STATUS_LINE_SEP,
		 line);
}

/* Publishes the current state into the page (if any); caller holds lock. */
static void publish_locked(void)
{
	char full[NOTE_MAX];

	if (!page)
		return;
	compose_note(full);
	status_publish(page, state, heartbeat, full, node_rpc);
}

void status_set_load_fn(void (*fn)(struct mgr_heartbeat *hb))
{
	__atomic_store_n(&load_fn, fn, __ATOMIC_RELEASE);
}

void status_set_line_fn(void (*fn)(char *buf, size_t cap))
{
	__atomic_store_n(&line_fn, fn, __ATOMIC_RELEASE);
}

/* One MGR_HEARTBEAT to the manager= node. The first success and the first
 * failure after a success are logged; the rest of a streak is quiet. */
static void send_heartbeat(void)
{
	void (*fn)(struct mgr_heartbeat *) = __atomic_load_n(&load_fn, __ATOMIC_ACQUIRE);
	struct mgr_heartbeat hb = {0};
	struct mgr_heartbeat_reply rp;
	static int last_err = 1; /* 1: never sent */
	int err;

	hb.role = (uint8_t)this_role.letter;
	hb.storage = (uint16_t)kconfig.storage_id;
	hb.cpus = cpus_online();
	hb.mem_total_kib = (uint64_t)pmm_total_pages() * 4;
	hb.mem_free_kib = (uint64_t)pmm_free_pages() * 4;
	hb.uptime_ms = clock_ns() / NS_PER_MS;
	if (fn)
		fn(&hb);
	err = rpc_call(node_rpc, (uint16_t)kconfig.manager_id, MSG_MGR_HEARTBEAT, &hb,
		       sizeof(hb), &rp, sizeof(rp), HEARTBEAT_TIMEOUT_NS);
	if (err == 0 && last_err != 0)
		pr_info("status: registered with the global node %u (%u members)",
			kconfig.manager_id, rp.members);
	else if (err && last_err == 0)
		pr_warn("status: heartbeat to the global node %u failed (%s); still "
			"trying",
			kconfig.manager_id, errno_name(err));
	last_err = err;
}

static void refresh_main(void *arg)
{
	for (;;) {
		thread_sleep_ns(STATUS_PERIOD_NS);
		spin_lock(&lock);
		heartbeat++;
		publish_locked();
		spin_unlock(&lock);
		if (node_rpc && kconfig.manager_id)
			send_heartbeat();
	}
}

static void note_vset(const char *fmt, va_list ap)
{
	spin_lock(&lock);
	if (fmt)
		vsnprintf(note, sizeof(note), fmt, ap);
	else
		note[0] = '\0';
	spin_unlock(&lock);
}

void status_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note_vset(fmt, ap);
	va_end(ap);
	spin_lock(&lock);
	publish_locked();
	spin_unlock(&lock);
}

int status_start(void)
{
	volatile struct fab_node_status *st;
	struct verbs_dev *dev;
	struct rpc_node *rn;
	int err;

	err = verbs_open(&dev);
	if (err == -ENODEV) {
		pr_info("status: no fabric device: this node runs alone (no RPC, no "
			"status page)");
		return err;
	}
	if (err) {
		pr_err("status: fabric unusable (%s): this node runs alone",
		       errno_name(err));
		return err;
	}
	st = (volatile struct fab_node_status *)((volatile uint8_t *)verbs_window_hdr(
							 dev) +
						 FAB_STATUS_OFFSET);
	err = rpc_open(&rn);
	spin_lock(&lock);
	state = FAB_NODE_BOOTING;
	if (err)
		snprintf(note, sizeof(note),
			 "rpc unavailable (%s): is this node in peers=?",
			 errno_name(err));
	else
		snprintf(note, sizeof(note), "starting");
	node_rpc = err ? NULL : rn;
	status_publish(st, state, heartbeat, note, node_rpc);
	__atomic_store_n(&page, st, __ATOMIC_RELEASE);
	spin_unlock(&lock);
	if (!thread_create("status", refresh_main, NULL, true))
		pr_warn("status: no memory for the refresh thread: no heartbeat");
	pr_info("status: page at window offset %#x, refreshed every %llu ms",
		FAB_STATUS_OFFSET, (unsigned long long)(STATUS_PERIOD_NS / NS_PER_MS));
	if (err)
		pr_err("status: RPC service unavailable (%s): the node will not report "
		       "ready on the fabric",
		       errno_name(err));
	return err;
}

void status_ready(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note_vset(fmt, ap);
	va_end(ap);
	spin_lock(&lock);
	if (node_rpc)
		state = FAB_NODE_READY;
	publish_locked();
	spin_unlock(&lock);
	pr_info("ready: %s %s", this_role.name, kconfig.name);
}

/* ---- self tests ------------------------------------------------------------ */

KTEST(status_publish_seqlock_and_fields)
{
	struct fab_node_status *st = kzalloc(sizeof(*st));
	char longnote[200];

	KT_ASSERT(st);
	memset(longnote, 'x', sizeof(longnote) - 1);
	longnote[sizeof(longnote) - 1] = '\0';
	status_publish(st, FAB_NODE_READY, 7, "hello", NULL);
	KT_EXPECT_EQ(st->magic, FAB_STATUS_MAGIC);
	KT_EXPECT_EQ(st->seq, 2);
	KT_EXPECT_EQ(st->state, FAB_NODE_READY);
	KT_EXPECT_EQ(st->heartbeat, 7);
	KT_EXPECT_EQ(st->role, this_role.letter);
	KT_EXPECT_EQ(st->cpus, cpus_online());
	KT_EXPECT_EQ(st->mem_total_kib, pmm_total_pages() * 4);
	KT_EXPECT(st->mem_free_kib > 0 && st->mem_free_kib <= st->mem_total_kib);
	KT_EXPECT(st->uptime_ms > 0);
	KT_EXPECT_EQ(st->rpc_calls, 0);
	KT_EXPECT(strcmp(st->note, "hello") == 0);
	status_publish(st, FAB_NODE_BOOTING, 8, longnote, NULL);
	KT_EXPECT_EQ(st->seq, 4);
	KT_EXPECT_EQ(strlen(st->note), NOTE_MAX - 1);
	KT_EXPECT_EQ(st->note[NOTE_MAX - 1], '\0');
	status_publish(st, FAB_NODE_BOOTING, 9, NULL, NULL);
	KT_EXPECT_EQ(st->note[0], '\0');
	KT_EXPECT_EQ(st->seq, 6);
	kfree(st);
}

KTEST(status_panic_mark_survives_a_cut_off_writer)
{
	struct fab_node_status *st = kzalloc(sizeof(*st));

	KT_ASSERT(st);
	status_publish(st, FAB_NODE_READY, 1, "up", NULL);
	mark_panic(st, "BUG: x at y.c:1");
	KT_EXPECT_EQ(st->seq, 4);
	KT_EXPECT_EQ(st->state, FAB_NODE_PANIC);
	KT_EXPECT(strcmp(st->note, "BUG: x at y.c:1") == 0);
	st->seq = 5; /* a writer stopped mid-update */
	mark_panic(st, "second");
	KT_EXPECT_EQ(st->seq, 6);
	KT_EXPECT(strcmp(st->note, "second") == 0);
	kfree(st);
}

static void test_line(char *buf, size_t cap)
{
	snprintf(buf, cap, "ec 4096 8 lru 1 2 3");
}

static void test_long_line(char *buf, size_t cap)
{
	memset(buf, 'y', cap - 1);
	buf[cap - 1] = '\0';
}

KTEST(status_note_with_live_line)
{
	static const char tail[] = " | ec 4096 8 lru 1 2 3";
	void (*saved_fn)(char *, size_t);
	char out[4][NOTE_MAX], saved[NOTE_MAX];

	/* composed under the lock (the refresh thread waits meanwhile),
	 * checked after it */
	spin_lock(&lock);
	saved_fn = line_fn;
	strlcpy(saved, note, sizeof(saved));
	strlcpy(note, "processor, hostlink on COM2", sizeof(note));
	__atomic_store_n(&line_fn, test_line, __ATOMIC_RELEASE);
	compose_note(out[0]);
	memset(note, 'n', NOTE_MAX - 1); /* too long for both: cut */
	note[NOTE_MAX - 1] = '\0';
	compose_note(out[1]);
	__atomic_store_n(&line_fn, test_long_line, __ATOMIC_RELEASE);
	compose_note(out[2]); /* a line that cannot fit is left out */
	__atomic_store_n(&line_fn, NULL, __ATOMIC_RELEASE);
	compose_note(out[3]);
	strlcpy(note, saved, sizeof(note));
	__atomic_store_n(&line_fn, saved_fn, __ATOMIC_RELEASE);
	spin_unlock(&lock);
	KT_EXPECT(strcmp(out[0], "processor, hostlink on COM2 | ec 4096 8 lru 1 2 3") ==
		  0);
	KT_EXPECT_EQ(strlen(out[1]), NOTE_MAX - 1);
	KT_EXPECT(strcmp(out[1] + NOTE_MAX - 1 - strlen(tail), tail) == 0);
	KT_EXPECT_EQ(out[1][0], 'n');
	KT_EXPECT_EQ(strlen(out[2]), NOTE_MAX - 1);
	KT_EXPECT(strchr(out[2], 'y') == NULL);
	KT_EXPECT_EQ(strlen(out[3]), NOTE_MAX - 1);
}
