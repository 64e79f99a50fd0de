/*
 * tessera: drives a Tessera cluster described by a YAML manifest
 * (docs/cli.md). This file only knows the verbs: their names, synopses
 * and one-line summaries, and hands each its own argv. Each verb lives in
 * the file of its name and parses its own options.
 */
#define _GNU_SOURCE
#include "tessera.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis;
	const char *summary;
};

static const struct verb verbs[] = {
	{"check", verb_check, "check [-v] MANIFEST",
	 "validate a manifest and print the resolved cluster"},
	{"up", verb_up, "up [MANIFEST] [--timeout S] [--run-dir DIR]",
	 "build what is stale, start fabricd and every node, wait until all are ready"},
	{"restart", verb_restart,
	 "restart [--ktest F] [--timeout S] [--run-dir DIR] NODE",
	 "boot one node again (killing its QEMU first if it runs), wait until it is up"},
	{"status", verb_status, "status [--json] [--run-dir DIR]",
	 "show every node's state and counters, fabricd and the links"},
	{"inject", verb_inject, "inject [--run-dir DIR] VERB ARGS...",
	 "inject a fault: drop, delay, duplicate, partition, heal, fail, recover, reset, "
	 "kill"},
	{"console", verb_console, "console [--send TEXT] [--run-dir DIR] NODE",
	 "attach the terminal to a node's serial console (Ctrl-] detaches)"},
	{"logs", verb_logs, "logs [-f] [-n LINES] [--run-dir DIR] NODE|fabricd",
	 "print a node's serial log or fabricd's log"},
	{"run", verb_run,
	 "run [-t] [--vnode V] [--timeout S] [--run-dir DIR] -- PROGRAM ARGS...",
	 "run a program on a vNode's first processor; exits with its status"},
	{"shell", verb_shell, "shell [-n V] [--run-dir DIR]",
	 "an interactive shell (/bin/sh -i) on a vNode's processor, with a terminal"},
	{"down", verb_down, "down [--run-dir DIR]",
	 "stop everything the cluster started; logs and disks stay"},
};

#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

static const struct verb *find_verb(const char *name)
{
	for (size_t i = 0; i < NVERBS; i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

int usage_error(const char *verb, const char *fmt, ...)
{
	const struct verb *v = find_verb(verb);
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tessera: %s: %s\n", verb, what);
	if (v)
		fprintf(stderr, "usage: tessera %s\n(tessera %s --help tells more)\n",
			v->synopsis, verb);
	return TS_USAGE;
}

int bad_option(const char *verb, char **argv)
{
	return usage_error(verb, "unknown option or missing argument: '%s'",
			   argv[optind - 1]);
}

int verb_help(const char *verb, const char *details)
{
	const struct verb *v = find_verb(verb);

	if (v)
		printf("usage: tessera %s\n\n%c%s.\n\n", v->synopsis,
		       toupper((unsigned char)v->summary[0]), v->summary + 1);
	fputs(details, stdout);
	return TS_OK;
}

static void overview(FILE *f)
{
	fprintf(f, "usage: tessera VERB [OPTIONS] [ARGS]\n\n"
		   "Drives a Tessera cluster described by a YAML manifest "
		   "(docs/cli.md, docs/manifest.md).\n\nverbs:\n");
	for (size_t i = 0; i < NVERBS; i++)
		fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f,
		"\n`tessera VERB --help` describes a verb. Verbs other than up find the\n"
		"cluster by --run-dir DIR, else $TESSERA_RUN_DIR, else ./run/current.\n"
		"Exit status: 0 ok, 1 the operation failed, 2 usage error, 3 invalid\n"
		"manifest; `run` exits with the program's status (255: its own "
		"error).\n");
}

int main(int argc, char **argv)
{
	const struct verb *v;

	if (argc < 2) {
		overview(stderr);
		return TS_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		overview(stdout);
		return TS_OK;
	}
	v = find_verb(argv[1]);
	if (!v) {
		fprintf(stderr, "tessera: unknown verb '%s'\n\n", argv[1]);
		overview(stderr);
		return TS_USAGE;
	}
	return v->fn(argc - 1, argv + 1);
}
