/*
 * `tessera inject VERB ARGS...`: faults. The fabric faults are fabricd
 * control commands (docs/fabric.md, "Fault injection"); this file checks
 * the arguments first (node names against the manifest, numbers in
 * range) so mistakes get a clear message and exit 2, then passes the
 * command on and checks fabricd's reply. `kill NODE` is the one fault
 * fabricd cannot make: it SIGKILLs the node's QEMU, like a crash.
 */
#define _GNU_SOURCE
#include "tessera.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
	"  --run-dir DIR  the cluster's run directory (default: $TESSERA_RUN_DIR,\n"
	"                 else run/current)\n"
	"\n"
	"verbs (A, B, NODE: node names from the manifest, or * for every node;\n"
	"links are directed A->B except for partition and heal):\n"
	"  drop A B FRACTION                  lose that fraction of transfers on A->B\n"
	"  delay A B MICROSECONDS [FRACTION]  delay them (0 clears)\n"
	"  duplicate A B FRACTION             deliver them twice\n"
	"  partition A B                      cut both directions\n"
	"  heal A B                           undo partition\n"
	"  fail NODE                          every transfer to or from NODE fails\n"
	"  recover NODE                       undo fail\n"
	"  reset                              clear every fabric fault\n"
	"  kill NODE                          SIGKILL NODE's QEMU (a crash)\n";

enum arg { NODE, FRACTION, MICROS };

struct fault {
	const char *verb;
	const char *command; /* fabricd's word */
	unsigned nreq;	     /* required arguments */
	unsigned nopt;	     /* optional ones after those */
	enum arg args[4];
};

static const struct fault faults[] = {
	{"drop", "drop", 3, 0, {NODE, NODE, FRACTION}},
	{"delay", "delay", 3, 1, {NODE, NODE, MICROS, FRACTION}},
	{"duplicate", "duplicate", 3, 0, {NODE, NODE, FRACTION}},
	{"partition", "partition", 2, 0, {NODE, NODE}},
	{"heal", "heal", 2, 0, {NODE, NODE}},
	{"fail", "fail", 1, 0, {NODE}},
	{"recover", "recover", 1, 0, {NODE}},
	{"reset", "reset-faults", 0, 0, {NODE}},
	{"kill", NULL, 1, 0, {NODE}},
};

static const struct fault *find_fault(const char *verb)
{
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		if (strcmp(faults[i].verb, verb) == 0)
			return &faults[i];
	return NULL;
}

static void node_names(const struct manifest *m, char *buf, size_t cap)
{
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < m->nnodes && o < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "",
				      m->nodes[i].name);
}

/* Checks one argument; returns 0 or a usage error. */
static int check_arg(const struct cluster *c, const struct fault *f, enum arg kind,
		     const char *word)
{
	char names[MF_MAX_NODES * MF_NAME_MAX];
	double v;

	switch (kind) {
	case NODE:
		if (manifest_node(&c->mf, word) || (strcmp(word, "*") == 0 && f->command))
			return 0;
		node_names(&c->mf, names, sizeof(names));
		return usage_error("inject", "%s: no node '%s' in cluster %s (nodes: %s)",
				   f->verb, word, c->mf.name, names);
	case FRACTION:
		if (parse_double_range(word, 0, 1, &v) == 0)
			return 0;
		return usage_error("inject", "%s: '%s' is not a fraction from 0 to 1",
				   f->verb, word);
	case MICROS:
		if (parse_double_range(word, 0, 1e9, &v) == 0)
			return 0;
		return usage_error("inject", "%s: '%s' is not a number of microseconds",
				   f->verb, word);
	}
	return 0;
}

static int kill_node(const struct cluster *c, const char *name)
{
	const struct proc_rec *p = state_find(&c->st, name);

	if (!p || !proc_alive(p->pid, p->start)) {
		msg("%s's QEMU is not running; see: tessera status", name);
		return TS_FAILED;
	}
	if (kill(p->pid, SIGKILL) < 0) {
		msg_errno("kill %s's QEMU (pid %d)", name, (int)p->pid);
		return TS_FAILED;
	}
	printf("tessera: killed %s's QEMU (pid %d)\n", name, (int)p->pid);
	return TS_OK;
}

/* Sends the command to fabricd and checks the reply. */
static int send_fault(const struct cluster *c, const struct fault *f, char **args,
		      unsigned n)
{
	char line[1024], *reply;
	size_t o;
	int r;

	o = (size_t)snprintf(line, sizeof(line), "%s", f->command);
	for (unsigned i = 0; i < n && o < sizeof(line); i++)
		o += (size_t)snprintf(line + o, sizeof(line) - o, " %s", args[i]);
	r = fabric_call(c->dir, line, &reply);
	if (r < 0) {
		msg_errno(
			"cannot reach fabricd at %s/%s (is the cluster up? see: tessera "
			"status)",
			c->dir, FABRIC_CONTROL);
		return TS_FAILED;
	}
	if (r > 0)
		msg("fabricd refused '%s': %s", line, reply);
	else
		printf("tessera: %s: fabricd: %s\n", line, reply);
	free(reply);
	return r ? TS_FAILED : TS_OK;
}

int verb_inject(int argc, char **argv)
{
	static const struct option opts[] = {
		{"run-dir", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *opt_dir = NULL;
	const struct fault *f;
	struct cluster *c;
	unsigned nargs;
	int opt, r;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (opt == 'h')
			return verb_help("inject", help);
		if (opt != 'r')
			return bad_option("inject", argv);
		opt_dir = optarg;
	}
	if (optind == argc)
		return usage_error("inject",
				   "which fault? (drop, delay, duplicate, "
				   "partition, heal, fail, recover, reset, kill)");
	f = find_fault(argv[optind]);
	if (!f)
		return usage_error("inject", "unknown fault '%s'", argv[optind]);
	nargs = (unsigned)(argc - optind - 1);
	if (nargs < f->nreq || nargs > f->nreq + f->nopt)
		return usage_error("inject", "%s takes %u argument%s%s", f->verb, f->nreq,
				   f->nreq == 1 ? "" : "s",
				   f->nopt ? " and an optional FRACTION" : "");
	c = malloc(sizeof(*c));
	if (!c) {
		msg("out of memory");
		return TS_FAILED;
	}
	r = cluster_open(opt_dir, c) < 0 ? TS_FAILED : TS_OK;
	for (unsigned i = 0; r == TS_OK && i < nargs; i++)
		r = check_arg(c, f, f->args[i], argv[optind + 1 + i]);
	if (r == TS_OK)
		r = f->command ? send_fault(c, f, argv + optind + 1, nargs)
			       : kill_node(c, argv[optind + 1]);
	free(c);
	return r;
}
