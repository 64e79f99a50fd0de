/*
 * `tessera down`: stops everything a cluster started, whatever state it is
 * in (all running, fabricd or a QEMU killed, `up` killed half-way).
 *
 * The processes come from two places: RUN/state (each pid checked against
 * its recorded start time) and a scan of /proc for qemu-system-x86_64 or
 * fabricd processes whose cwd is the run directory (every part `up`
 * starts runs there), which catches a part started but not recorded yet.
 * All get SIGTERM, those still alive after STOP_GRACE_MS get SIGKILL.
 * Then the sockets and the state file go; logs and disk images stay, and
 * run/current is removed if it points here. `up` uses the same code to
 * clean up after itself when it fails or is interrupted.
 */
#define _GNU_SOURCE
#include "tessera.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
	"  --run-dir DIR  the cluster's run directory (default: $TESSERA_RUN_DIR,\n"
	"                 else run/current)\n"
	"\n"
	"Sends SIGTERM to fabricd and every QEMU of the cluster, SIGKILL after 5 s\n"
	"to those still running, removes sockets and RUN/state, keeps logs and\n"
	"disks. Exit status 0 also when nothing was running.\n";

static bool already_listed(const struct victim *v, unsigned n, pid_t pid)
{
	for (unsigned i = 0; i < n; i++)
		if (v[i].pid == pid)
			return true;
	return false;
}

unsigned cluster_victims(const char *dir, const struct run_state *st, struct victim *v,
			 unsigned cap)
{
	struct victim strays[64];
	unsigned n = 0, ns = 0;

	for (unsigned i = 0; st && i < st->nprocs && n < cap; i++) {
		const struct proc_rec *p = &st->procs[i];

		if (!proc_alive(p->pid, p->start))
			continue;
		v[n].pid = p->pid;
		v[n].start = p->start;
		snprintf(v[n].what, sizeof(v[n].what), "%s%s", p->name,
			 p->kind == PROC_NODE ? " (QEMU)" : "");
		n++;
	}
	if (proc_find_strays(dir, strays, &ns, 64) < 0)
		msg_errno("cannot scan /proc for processes in %s", dir);
	for (unsigned i = 0; i < ns && n < cap; i++) {
		if (already_listed(v, n, strays[i].pid))
			continue;
		v[n] = strays[i];
		snprintf(v[n].what, sizeof(v[n].what), "%s (pid %d, not recorded)",
			 strays[i].what, (int)strays[i].pid);
		n++;
	}
	return n;
}

int cluster_takedown(const char *dir, const struct run_state *st, bool verbose)
{
	struct victim v[2 * (MF_MAX_NODES + 1) + 64];
	int total = 0;

	/* Again while the scan finds something: a part that was still starting
	 * (forked, not yet exec'd) when we looked may have come up since. */
	for (int round = 0; round < 3; round++) {
		unsigned n = cluster_victims(dir, round ? NULL : st, v,
					     sizeof(v) / sizeof(v[0]));
		unsigned left;

		if (!n)
			break;
		left = proc_stop(v, n, STOP_GRACE_MS, verbose);
		if (left) {
			msg("%u process%s of %s would not stop; see: tessera status",
			    left, left == 1 ? "" : "es", dir);
			return -1;
		}
		total += (int)n;
	}
	if (rundir_clean(dir) < 0)
		return -1;
	return total;
}

int verb_down(int argc, char **argv)
{
	static const struct option opts[] = {
		{"run-dir", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *opt_dir = NULL;
	char where[PATH_MAX], dir[PATH_MAX];
	struct run_state st;
	bool have_state;
	int c, n;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h')
			return verb_help("down", help);
		if (c != 'r')
			return bad_option("down", argv);
		opt_dir = optarg;
	}
	if (optind != argc)
		return usage_error("down", "unexpected argument '%s'", argv[optind]);
	if (rundir_locate(opt_dir, where, sizeof(where)) < 0)
		return TS_FAILED;
	if (!realpath(where, dir)) {
		printf("tessera: nothing to stop: run directory %s does not exist\n",
		       where);
		rundir_unlink_current(where);
		return TS_OK;
	}
	have_state = state_read(dir, &st) == 0;
	if (!have_state && errno != ENOENT)
		msg("going on without the state file: stopping what runs in %s", dir);
	n = cluster_takedown(dir, have_state ? &st : NULL, true);
	rundir_unlink_current(dir);
	if (n < 0)
		return TS_FAILED;
	if (n == 0)
		printf("tessera: nothing was running in %s; cleaned up\n", dir);
	else if (have_state)
		printf("tessera: stopped %d process%s of cluster %s; logs stay in %s\n",
		       n, n == 1 ? "" : "es", st.cluster, dir);
	else
		printf("tessera: stopped %d process%s in %s; logs stay there\n", n,
		       n == 1 ? "" : "es", dir);
	return TS_OK;
}
