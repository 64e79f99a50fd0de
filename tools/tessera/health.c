/*
 * A node's state, as `up`, `status` and `run` show it, from two sources:
 * whether its QEMU process still runs (RUN/state) and what fabricd says
 * about it (connected, failed by an injected fault, and the status page
 * its kernel publishes in its window: include/proto/fabric.h).
 *
 *   failed        QEMU gone (unless its last status was a panic), or fabricd
 *                 fails it (`tessera inject fail`)
 *   panic         the kernel reported a panic (note: the message)
 *   unknown       QEMU runs but fabricd is gone: nobody can see the guest
 *   starting      QEMU runs, not connected to the fabric yet
 *   booting       connected, no status yet or status "booting"
 *   ready         status "ready" with a fresh heartbeat
 *   unresponsive  status "ready" but the heartbeat is older than 5 s
 *   halted, torn, invalid: as fabricd reports them
 */
#define _GNU_SOURCE
#include "tessera.h"

#include <stdio.h>
#include <string.h>

static const char *const state_names[] = {
	[NS_STARTING] = "starting", [NS_BOOTING] = "booting",
	[NS_READY] = "ready",	    [NS_UNRESPONSIVE] = "unresponsive",
	[NS_PANIC] = "panic",	    [NS_HALTED] = "halted",
	[NS_FAILED] = "failed",	    [NS_UNKNOWN] = "unknown",
	[NS_OTHER] = "?",
};

const char *node_state_name(enum node_state s)
{
	return state_names[s];
}

static void set(struct node_health *h, enum node_state s, const char *note)
{
	h->state = s;
	snprintf(h->word, sizeof(h->word), "%s", state_names[s]);
	if (note)
		snprintf(h->note, sizeof(h->note), "%s", note);
}

/* The state from the guest's own status page (connected, not failed). */
static void from_status(const struct fab_node_stats *fs, struct node_health *h)
{
	char note[200];

	if (!fs->has_status || strcmp(fs->state, "booting") == 0) {
		set(h, NS_BOOTING, fs->note);
	} else if (strcmp(fs->state, "ready") == 0) {
		if (fs->heartbeat_age_ms > HEARTBEAT_STALE_MS) {
			snprintf(note, sizeof(note), "no heartbeat for %llu ms",
				 (unsigned long long)fs->heartbeat_age_ms);
			set(h, NS_UNRESPONSIVE, note);
		} else {
			set(h, NS_READY, fs->note);
		}
	} else if (strcmp(fs->state, "panic") == 0) {
		set(h, NS_PANIC, fs->note);
	} else if (strcmp(fs->state, "halted") == 0) {
		set(h, NS_HALTED, fs->note);
	} else {
		set(h, NS_OTHER, fs->note);
		snprintf(h->word, sizeof(h->word), "%s", fs->state[0] ? fs->state : "?");
	}
}

void node_health(const char *name, bool qemu_alive, const struct fab_stats *stats,
		 struct node_health *h)
{
	const struct fab_node_stats *fs = fabric_node(stats, name);

	memset(h, 0, sizeof(*h));
	h->fs = fs;
	if (!qemu_alive) {
		if (fs && fs->has_status && strcmp(fs->state, "panic") == 0)
			set(h, NS_PANIC, fs->note);
		else
			set(h, NS_FAILED, "QEMU process gone");
	} else if (!stats) {
		set(h, NS_UNKNOWN, "fabricd is gone: no view of the node");
	} else if (!fs) {
		set(h, NS_UNKNOWN, "fabricd does not know this node");
	} else if (fs->failed) {
		set(h, NS_FAILED, "injected: fabricd fails this node");
	} else if (!fs->connected) {
		set(h, NS_STARTING, NULL);
	} else {
		from_status(fs, h);
	}
}
