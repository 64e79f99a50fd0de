/*
 * Kernel builtins of the processor: what `tessera run` can start over the
 * hostlink (kernel/hostlink.c) besides user programs (the table's last
 * entry, without a name, takes every name with a '/': pcomponent/
 * process.c runs it as a user program). Each is a function main-like in
 * shape (argc, argv, exit status) that writes through hostlink_printf/eprintf and runs in a kernel thread
 * of its own, so it may sleep (sleep, ping) while the hostlink serves
 * other requests.
 *
 * Arguments come from the host: every builtin checks all of them before
 * it acts and answers a bad one on stderr with exit status 2 (usage) as
 * shells do; status 1 means "ran, but failed" (false, ping with no answer).
 *
 * The table `builtins` is the single list: name, function, one-line help
 * (printed by `help`, in table order). The file builtins (ls, cat, write,
 * ...) live in pcomponent/fs_builtins.c.
 */
#include "builtins.h"

#include "excache.h"
#include "fs_builtins.h"
#include "process.h"

#include <kernel/config.h>
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/sched.h>
#include <kernel/status.h>
#include <kernel/time.h>
#include <lib/cmdline.h>
#include <lib/sort.h>
#include <lib/string.h>
#include <net/mgr_client.h>
#include <net/rpc.h>
#include <net/verbs.h>
#include <proto/manager.h>

#define SLEEP_MAX_S	 86400
#define PING_MAX_COUNT	     10000
#define PING_DEFAULT	     3
#define PING_TIMEOUT_NS	     NS_PER_S
#define PING_INTERVAL_MS     200
#define PING_MAX_INTERVAL_MS 10000
#define NODES_TIMEOUT_NS (500 * NS_PER_MS)

static int b_echo(struct hostlink_run *run, int argc, char **argv)
{
	bool newline = true;
	int i = 1;

	if (argc > 1 && strcmp(argv[1], "-n") == 0) {
		newline = false;
		i = 2;
	}
	for (int first = i; i < argc; i++) {
		if (i > first)
			hostlink_write(run, 1, " ", 1);
		hostlink_write(run, 1, argv[i], strlen(argv[i]));
	}
	if (newline)
		hostlink_write(run, 1, "\n", 1);
	return 0;
}

enum { UNAME_S = 1, UNAME_N = 2, UNAME_R = 4, UNAME_M = 8, UNAME_ALL = 15 };

static int b_uname(struct hostlink_run *run, int argc, char **argv)
{
	const char *field[4] = {"Tessera", kconfig.name, TESSERA_VERSION, "x86_64"};
	const char *a = "";
	unsigned want = 0;
	bool first = true;

	for (int i = 1; i < argc; i++) {
		a = argv[i];
		if (a[0] != '-' || !a[1])
			goto usage;
		for (size_t j = 1; a[j]; j++) {
			const char *opts = "snrma", *p = strchr(opts, a[j]);

			if (!p)
				goto usage;
			want |= *p == 'a' ? UNAME_ALL : 1u << (p - opts);
		}
	}
	if (!want)
		want = UNAME_S;
	for (unsigned f = 0; f < 4; f++) {
		if (!(want & (1u << f)))
			continue;
		hostlink_printf(run, "%s%s", first ? "" : " ", field[f]);
		first = false;
	}
	hostlink_printf(run, "\n");
	return 0;
usage:
	hostlink_eprintf(
		run, "uname: invalid argument '%s'\nusage: uname [-a|-s|-n|-r|-m]\n", a);
	return 2;
}

static int b_help(struct hostlink_run *run, int argc, char **argv)
{
	unsigned n;
	const struct hostlink_program *t = hostlink_run_table(run, &n);

	hostlink_printf(run, "Kernel builtins of %s:\n", kconfig.name);
	for (unsigned i = 0; i < n; i++)
		if (t[i].name)
			hostlink_printf(run, "  %-8s %s\n", t[i].name, t[i].help);
	for (unsigned i = 0; i < n; i++)
		if (!t[i].name)
			hostlink_printf(run, "User programs:\n  %s\n", t[i].help);
	return 0;
}

static int b_true(struct hostlink_run *run, int argc, char **argv)
{
	return 0;
}

static int b_false(struct hostlink_run *run, int argc, char **argv)
{
	return 1;
}

/* "N" or "N.FFF...": seconds to nanoseconds, at most SLEEP_MAX_S. */
static bool parse_seconds(const char *s, uint64_t *ns)
{
	const char *dot = strchr(s, '.');
	size_t ilen = dot ? (size_t)(dot - s) : strlen(s);
	uint64_t sec, frac = 0, scale = NS_PER_S;

	if (ilen == 0 || !cmdline_parse_u64(s, ilen, &sec) || sec > SLEEP_MAX_S ||
	    (s[0] == '0' && ilen > 1 && (s[1] == 'x' || s[1] == 'X')))
		return false;
	if (dot) {
		const char *f = dot + 1;

		if (!*f || strlen(f) > 9)
			return false;
		for (; *f; f++) {
			if (*f < '0' || *f > '9')
				return false;
			scale /= 10;
			frac += (uint64_t)(*f - '0') * scale;
		}
	}
	*ns = sec * NS_PER_S + frac;
	return *ns <= SLEEP_MAX_S * NS_PER_S;
}

static int b_sleep(struct hostlink_run *run, int argc, char **argv)
{
	uint64_t ns;

	if (argc != 2 || !parse_seconds(argv[1], &ns)) {
		hostlink_eprintf(run, "usage: sleep SECONDS (0 to %u, e.g. 1 or 0.25)\n",
				 SLEEP_MAX_S);
		return 2;
	}
	if (ns)
		thread_sleep_ns(ns);
	return 0;
}

static int b_meminfo(struct hostlink_run *run, int argc, char **argv)
{
	uint64_t total = (uint64_t)pmm_total_pages() * 4,
		 free = (uint64_t)pmm_free_pages() * 4;

	if (argc != 1) {
		hostlink_eprintf(run, "usage: meminfo\n");
		return 2;
	}
	hostlink_printf(run, "MemTotal: %10llu kB\n", (unsigned long long)total);
	hostlink_printf(run, "MemFree:  %10llu kB\n", (unsigned long long)free);
	hostlink_printf(run, "MemUsed:  %10llu kB\n", (unsigned long long)(total - free));
	return 0;
}

/* The node's RPC service, or NULL after telling the user why not. */
static struct rpc_node *need_rpc(struct hostlink_run *run, const char *prog)
{
	struct rpc_node *rn = status_rpc();

	if (!rn)
		hostlink_eprintf(run,
				 "%s: no fabric RPC on this node (booted without "
				 "fabricd, or not in peers=)\n",
				 prog);
	return rn;
}

/* The RPC node for a call to the peer that word names (its index in
 * *idx); NULL after a message on stderr if there is none. */
static struct rpc_node *need_peer(struct hostlink_run *run, const char *prog,
				  const char *word, int *idx)
{
	*idx = kconfig_peer_find(&kconfig, word);
	if (*idx < 0) {
		hostlink_eprintf(run, "%s: %s: no such node in peers=\n", prog, word);
		return NULL;
	}
	return need_rpc(run, prog);
}

static const char *peer_label(unsigned i)
{
	return kconfig.peer_names[i][0] ? kconfig.peer_names[i] : "-";
}

static int b_nodes(struct hostlink_run *run, int argc, char **argv)
{
	struct rpc_node *rn;

	if (argc != 1) {
		hostlink_eprintf(run, "usage: nodes\n");
		return 2;
	}
	if (!kconfig.npeers) {
		hostlink_eprintf(run, "nodes: no peers= on the command line\n");
		return 1;
	}
	rn = need_rpc(run, "nodes");
	hostlink_printf(run, "%-5s %-16s %-12s %-10s %s\n", "ID", "NAME", "STATE",
			"GENERATION", "RTT");
	for (unsigned i = 0; i < kconfig.npeers; i++) {
		uint16_t id = kconfig.peers[i];
		uint64_t ns = 0;
		int err;

		if (!rn) {
			hostlink_printf(run, "%-5u %-16s %-12s %-10s %s\n", id,
					peer_label(i), "?", "-", "-");
			continue;
		}
		if (id == rpc_node_id(rn)) {
			struct verbs_dev *dev;
			uint32_t gen = verbs_open(&dev) ? 0 : verbs_generation(dev);

			hostlink_printf(run, "%-5u %-16s %-12s %-10u %s\n", id,
					peer_label(i), "self", gen, "-");
			continue;
		}
		err = rpc_ping(rn, id, NULL, i, NODES_TIMEOUT_NS, &ns);
		if (err)
			hostlink_printf(run, "%-5u %-16s %-12s %-10s %s\n", id,
					peer_label(i), errno_name(err), "-", "-");
		else
			hostlink_printf(run, "%-5u %-16s %-12s %-10u %llu us\n", id,
					peer_label(i), "up", rpc_peer_generation(rn, id),
					(unsigned long long)(ns / NS_PER_US));
	}
	return rn ? 0 : 1;
}

/* ping's command line: [-q] [-i MS] [-s 16|4096] NODE [COUNT]. */
struct ping_args {
	bool quiet;	      /* -q: the summary only */
	bool bulk;	      /* -s 4096: RPC_BULK, a page each way */
	uint64_t interval_ms; /* -i: between round trips; 0: back to back */
	uint64_t count;
	const char *node;
};

static bool ping_number(const char *word, uint64_t max, uint64_t *v)
{
	return word && cmdline_parse_u64(word, strlen(word), v) && *v <= max;
}

/* Parses argv into a; false on anything it does not know. */
static bool ping_parse(int argc, char **argv, struct ping_args *a)
{
	int i = 1;
	uint64_t size;

	*a = (struct ping_args){.interval_ms = PING_INTERVAL_MS, .count = PING_DEFAULT};
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *value = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(argv[i], "-q") == 0) {
			a->quiet = true;
			continue;
		}
		if (strcmp(argv[i], "-i") == 0 &&
		    ping_number(value, PING_MAX_INTERVAL_MS, &a->interval_ms)) {
			i++;
			continue;
		}
		if (strcmp(argv[i], "-s") == 0 && ping_number(value, MSG_BULK_BYTES, &size) &&
		    (size == sizeof(struct msg_ping) || size == MSG_BULK_BYTES)) {
			a->bulk = size == MSG_BULK_BYTES;
			i++;
			continue;
		}
		return false;
	}
	if (i == argc || argc - i > 2)
		return false;
	a->node = argv[i];
	return i + 1 == argc ||
	       (ping_number(argv[i + 1], PING_MAX_COUNT, &a->count) && a->count);
}

/* The summary's round trips, from the sorted samples (ns), in us with one
 * decimal. */
static void ping_summary(struct hostlink_run *run, uint64_t *ns, unsigned n)
{
	uint64_t sum = 0, v[5];

	for (unsigned i = 0; i < n; i++)
		sum += ns[i];
	sort_u64(ns, n);
	v[0] = ns[0];
	v[1] = ns[n / 2];
	v[2] = sum / n;
	v[3] = ns[(uint64_t)n * 99 / 100];
	v[4] = ns[n - 1];
	hostlink_printf(run, "rtt min/median/avg/p99/max =");
	for (unsigned i = 0; i < 5; i++)
		hostlink_printf(run, "%s%llu.%llu", i ? "/" : " ",
				(unsigned long long)(v[i] / NS_PER_US),
				(unsigned long long)(v[i] % NS_PER_US / 100));
	hostlink_printf(run, " us\n");
}

static int b_ping(struct hostlink_run *run, int argc, char **argv)
{
	struct rpc_ping_bulk *bulk = NULL;
	struct ping_args a;
	uint64_t *ns = NULL;
	unsigned answered = 0;
	struct rpc_node *rn;
	uint16_t node;
	int idx, status = 1;

	if (!ping_parse(argc, argv, &a)) {
		hostlink_eprintf(run,
				 "usage: ping [-q] [-i MS] [-s 16|4096] NODE [COUNT]  (NODE: "
				 "a name or id of peers=; COUNT 1..%u, default %u; -i: ms "
				 "between round trips, default %u, 0..%u; -s 4096: a page "
				 "each way (RPC_BULK); -q: the summary only)\n",
				 PING_MAX_COUNT, PING_DEFAULT, PING_INTERVAL_MS,
				 PING_MAX_INTERVAL_MS);
		return 2;
	}
	rn = need_peer(run, "ping", a.node, &idx);
	if (!rn)
		return 2;
	node = kconfig.peers[idx];
	ns = kmalloc(a.count * sizeof(*ns));
	bulk = a.bulk ? kmalloc(sizeof(*bulk)) : NULL;
	if (!ns || (a.bulk && !bulk)) {
		hostlink_eprintf(run, "ping: out of memory\n");
		goto out_free;
	}
	hostlink_printf(run, "PING %s (node %u): %s, %zu-byte payload\n", peer_label(idx), node,
			a.bulk ? "RPC_BULK" : "RPC PING",
			a.bulk ? sizeof(bulk->q.data) : sizeof(struct msg_ping));
	for (uint64_t seq = 1; seq <= a.count; seq++) {
		uint64_t t;
		int err = rpc_ping(rn, node, bulk, seq, PING_TIMEOUT_NS, &t);

		if (err) {
			hostlink_printf(run, "seq=%llu: no answer (%s)\n",
					(unsigned long long)seq, errno_name(err));
		} else {
			if (!a.quiet)
				hostlink_printf(run, "seq=%llu from %u: time=%llu us\n",
						(unsigned long long)seq, node,
						(unsigned long long)(t / NS_PER_US));
			ns[answered++] = t;
		}
		if (seq < a.count && a.interval_ms)
			thread_sleep_ns(a.interval_ms * NS_PER_MS);
	}
	hostlink_printf(run, "--- %s ping: %llu sent, %u answered, %llu%% lost\n",
			peer_label(idx), (unsigned long long)a.count, answered,
			(unsigned long long)((a.count - answered) * 100 / a.count));
	if (answered)
		ping_summary(run, ns, answered);
	status = answered ? 0 : 1;
out_free:
	kfree(bulk);
	kfree(ns);
	return status;
}

/* memstats NODE: a memory node's MEM_STATS (include/proto/mem.h), one
 * "name value" line each, so scripts can read them. */
static int b_memstats(struct hostlink_run *run, int argc, char **argv)
{
	struct mem_pid_req rq = {0};
	struct mem_stats st;
	struct rpc_node *rn;
	int idx, err;

	if (argc != 2) {
		hostlink_eprintf(run, "usage: memstats NODE  (a memory node of peers=)\n");
		return 2;
	}
	rn = need_peer(run, "memstats", argv[1], &idx);
	if (!rn)
		return 2;
	err = rpc_call(rn, kconfig.peers[idx], MSG_MEM_STATS, &rq, sizeof(rq), &st,
		       sizeof(st), PING_TIMEOUT_NS);
	if (err) {
		hostlink_eprintf(run, "memstats: %s: %s\n", peer_label(idx),
				 errno_message(err));
		return 1;
	}
	hostlink_printf(run,
			"frames_total %llu\nframes_free %llu\nprocesses %llu\nvmas %llu\n"
			"misses %llu\nzero_misses %llu\nflushes %llu\nexecs %llu\n"
			"forks %llu\ncow_copies %llu\nremote_vregions %llu\n"
			"placed_away %llu\nshm_objects %llu\nshm_pages %llu\n",
			(unsigned long long)st.frames_total,
			(unsigned long long)st.frames_free,
			(unsigned long long)st.processes, (unsigned long long)st.vmas,
			(unsigned long long)st.misses, (unsigned long long)st.zero_misses,
			(unsigned long long)st.flushes, (unsigned long long)st.execs,
			(unsigned long long)st.forks, (unsigned long long)st.cow_copies,
			(unsigned long long)st.remote_vregions,
			(unsigned long long)st.placed_away, (unsigned long long)st.shm_objects,
			(unsigned long long)st.shm_pages);
	hostlink_printf(run,
			"bcache_pages %llu\nbcache_max_pages %llu\nbcache_hits %llu\n"
			"bcache_misses %llu\nbcache_readahead %llu\nbcache_evictions %llu\n"
			"bcache_read_bytes %llu\nbcache_written_bytes %llu\n",
			(unsigned long long)st.bcache.pages,
			(unsigned long long)st.bcache.max_pages,
			(unsigned long long)st.bcache.hits,
			(unsigned long long)st.bcache.misses,
			(unsigned long long)st.bcache.readahead,
			(unsigned long long)st.bcache.evictions,
			(unsigned long long)st.bcache.read_bytes,
			(unsigned long long)st.bcache.written_bytes);
	return 0;
}

static int b_fabric(struct hostlink_run *run, int argc, char **argv)
{
	char size[32];
	struct verbs_stats vs;
	struct rpc_stats rs;
	struct verbs_dev *dev;
	struct rpc_node *rn;

	if (argc != 1) {
		hostlink_eprintf(run, "usage: fabric\n");
		return 2;
	}
	if (verbs_open(&dev)) {
		hostlink_eprintf(run, "fabric: no fabric device on this node\n");
		return 1;
	}
	verbs_get_stats(dev, &vs);
	hostlink_printf(run, "node %u (%s), generation %u, window %s\n",
			verbs_node_id(dev), kconfig.name, verbs_generation(dev),
			kconfig_format_size(verbs_window_hdr(dev)->window_size, size,
					    sizeof(size)));
	hostlink_printf(
		run,
		"verbs: posted %llu doorbells %llu sq_full %llu completions %llu "
		"interrupts %llu sleeps %llu unexpected %llu swcq_overflows %llu\n",
		(unsigned long long)vs.posted, (unsigned long long)vs.doorbells,
		(unsigned long long)vs.sq_full, (unsigned long long)vs.completions,
		(unsigned long long)vs.interrupts, (unsigned long long)vs.sleeps,
		(unsigned long long)vs.unexpected, (unsigned long long)vs.swcq_overflows);
	rn = status_rpc();
	if (!rn) {
		hostlink_printf(run, "rpc: not running\n");
		return 0;
	}
	rpc_get_stats(rn, &rs);
	hostlink_printf(run,
			"rpc: calls %llu ok %llu timeouts %llu errors %llu resends %llu "
			"rnr_retries %llu unreachable_retries %llu late_replies %llu\n",
			(unsigned long long)rs.calls, (unsigned long long)rs.ok,
			(unsigned long long)rs.timeouts, (unsigned long long)rs.errors,
			(unsigned long long)rs.resends,
			(unsigned long long)rs.rnr_retries,
			(unsigned long long)rs.unreachable_retries,
			(unsigned long long)rs.late_replies);
	hostlink_printf(run,
			"rpc server: served %llu duplicates %llu bad_requests %llu "
			"reply_errors %llu\n",
			(unsigned long long)rs.served, (unsigned long long)rs.duplicates,
			(unsigned long long)rs.bad_requests,
			(unsigned long long)rs.reply_errors);
	return 0;
}

static void print_counters(struct hostlink_run *run, const char *who,
			   const struct tessera_excache_counters *c)
{
	hostlink_printf(run,
			"%s: misses %llu, redirects %llu, zero-fills %llu, fresh-fills %llu, "
			"evictions %llu, flushes %llu, piggybacked %llu, dropped %llu, "
			"prefetches %llu (hits %llu), shared maps %llu\n",
			who, (unsigned long long)c->misses, (unsigned long long)c->redirects,
			(unsigned long long)c->zero_fills, (unsigned long long)c->fresh_fills,
			(unsigned long long)c->evictions, (unsigned long long)c->flushes,
			(unsigned long long)c->piggybacks, (unsigned long long)c->drops,
			(unsigned long long)c->prefetches,
			(unsigned long long)c->prefetch_hits,
			(unsigned long long)c->shared_maps);
}

static int b_excache(struct hostlink_run *run, int argc, char **argv)
{
	struct tessera_excache_stats st;
	unsigned running;
	uint64_t started;
	char size[32];

	if (argc > 1) {
		hostlink_eprintf(run, "usage: excache\n");
		return 2;
	}
	if (!excache_ready()) {
		hostlink_printf(run, "no ExCache (excache=SIZE,WAYS,POLICY not given, or no "
				     "fabric)\n");
		return 1;
	}
	excache_get_stats(NULL, &st);
	process_counts(&running, &started);
	hostlink_printf(run,
			"ExCache %s: %u sets x %u ways (%u lines of 4 KiB), %s, prefetch "
			"%s; %u lines valid\n",
			kconfig_format_size(st.bytes, size, sizeof(size)), st.sets, st.ways,
			st.lines, kconfig_policy_name(st.policy), st.prefetch ? "on" : "off",
			st.lines_valid);
	if (kconfig.nmemories > 1) {
		hostlink_printf(run, "memory nodes %u", kconfig.memory_ids[0]);
		for (unsigned i = 1; i < kconfig.nmemories; i++)
			hostlink_printf(run, ",%u", kconfig.memory_ids[i]);
		hostlink_printf(run, " (a new program's home: GMM's choice)");
	} else {
		hostlink_printf(run, "home memory node %u", process_first_memory_node());
	}
	hostlink_printf(run, "; processes %u running, %llu started\n", running,
			(unsigned long long)started);
	print_counters(run, "node", &st.node);
	return 0;
}

/* place NODE...: the processor (of these, by name or id) the global
 * process manager (GPM: MGR_PLACE_PROCESS) gives the next program, printed
 * as "ID NAME". `tessera run` asks it when a vNode has several processors. */
static int b_place(struct hostlink_run *run, int argc, char **argv)
{
	uint16_t nodes[MGR_MAX_CANDIDATES];
	int idx[MGR_MAX_CANDIDATES], node;
	unsigned n = 0;
	struct rpc_node *rn = NULL;

	if (argc < 2 || argc - 1 > MGR_MAX_CANDIDATES) {
		hostlink_eprintf(run, "usage: place NODE...  (1 to %u processors of peers=)\n",
				 MGR_MAX_CANDIDATES);
		return 2;
	}
	for (int i = 1; i < argc; i++, n++) {
		rn = need_peer(run, "place", argv[i], &idx[n]);
		if (!rn)
			return 2;
		nodes[n] = kconfig.peers[idx[n]];
	}
	if (!kconfig.manager_id) {
		hostlink_eprintf(run, "place: no manager= on the command line\n");
		return 1;
	}
	node = mgr_place(rn, MSG_MGR_PLACE_PROCESS, nodes, n, 0, 0, PING_TIMEOUT_NS);
	if (node < 0) {
		hostlink_eprintf(run, "place: the global manager: %s\n", errno_message(node));
		return 1;
	}
	for (unsigned i = 0; i < n; i++)
		if (nodes[i] == node) {
			hostlink_printf(run, "%d %s\n", node, peer_label((unsigned)idx[i]));
			break;
		}
	return 0;
}

/* home NODE /PATH/PROG ARGS...: a user program started as `run` starts
 * one, but with NODE (one of memory=, by name or id) as its home instead
 * of the global memory manager's choice: for tests and experiments that
 * need an address space on a given memory node. */
static int b_home(struct hostlink_run *run, int argc, char **argv)
{
	int idx;

	if (argc < 3) {
		hostlink_eprintf(run, "usage: home NODE /PATH/PROG ARGS...\n");
		return 2;
	}
	idx = kconfig_peer_find(&kconfig, argv[1]);
	if (idx < 0 || !process_is_memory_node(kconfig.peers[idx])) {
		hostlink_eprintf(run, "home: %s: not one of this vNode's memory nodes\n",
				 argv[1]);
		return 2;
	}
	return process_run(run, kconfig.peers[idx], argv[2], argc - 2, argv + 2);
}

const struct hostlink_program builtins[] = {
	{"echo", b_echo, "echo [-n] ARGS...: print the arguments"},
	{"uname", b_uname, "uname [-a|-s|-n|-r|-m]: system, node name, release, machine"},
	{"help", b_help, "help: this list"},
	{"true", b_true, "true: exit 0"},
	{"false", b_false, "false: exit 1"},
	{"sleep", b_sleep, "sleep SECONDS: wait (fractions allowed)"},
	{"meminfo", b_meminfo, "meminfo: total and free memory of this node"},
	{"nodes", b_nodes, "nodes: the peers, their ids, generations and reachability"},
	{"ping", b_ping,
	 "ping [-q] [-i MS] [-s 16|4096] NODE [COUNT]: RPC round trips to a node "
	 "(name or id)"},
	{"fabric", b_fabric, "fabric: this node's verbs and RPC counters"},
	{"excache", b_excache, "excache: ExCache geometry and the node's counters"},
	{"memstats", b_memstats, "memstats NODE: a memory node's frames, processes and counters"},
	{"place", b_place, "place NODE...: which of these processors the GPM gives a new program"},
	{"home", b_home,
	 "home NODE /PATH/PROG ARGS...: run a user program whose home is memory node NODE"},
	/* files of the vNode's storage node (fs_builtins.c) */
	{"ls", fsb_ls, "ls [-l] [PATH...]: list a directory"},
	{"cat", fsb_cat, "cat PATH...: print files"},
	{"stat", fsb_stat, "stat PATH...: attributes of files"},
	{"mkdir", fsb_mkdir, "mkdir [-p] PATH...: make directories (mode 0755; -p: and parents)"},
	{"rmdir", fsb_rmdir, "rmdir DIR...: remove empty directories"},
	{"rm", fsb_rm, "rm PATH...: remove files"},
	{"mv", fsb_mv, "mv FROM TO: rename"},
	{"ln", fsb_ln, "ln [-s] TARGET LINK: hard or symbolic link"},
	{"readlink", fsb_readlink, "readlink PATH: a symbolic link's target"},
	{"truncate", fsb_truncate, "truncate PATH SIZE: set a file's size"},
	{"df", fsb_df, "df [PATH]: space and inodes of the file system"},
	{"sync", fsb_sync, "sync: write the storage node's changes to its disk"},
	{"write", fsb_write,
	 "write PATH SIZE [SEED]: a file of SIZE pattern bytes; prints CRC-32"},
	{"sum", fsb_sum, "sum PATH: size and CRC-32 of a file"},
	{"as", fsb_as, "as UID[:GID] CMD ARGS...: a file builtin with other credentials"},
	{NULL, process_hostlink_run,
	 "/PATH/PROG ARGS...: run a user program (exec through the home memory node)"},
};
const unsigned builtins_count = sizeof(builtins) / sizeof(builtins[0]);
