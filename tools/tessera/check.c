/*
 * `tessera check [-v] MANIFEST`: parses and validates a manifest
 * (manifest.c) and prints the cluster it resolves to: every node with its
 * id, role, CPUs, RAM, fabric window and role extras, then the vNodes.
 * With -v also fabricd's command and each node's kernel command line and
 * QEMU command, exactly as `up` would start them. An invalid manifest
 * prints the parser's one line "file:line: what" (nothing before it, so
 * editors can jump there) and exits 3.
 */
#define _GNU_SOURCE
#include "tessera.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
	"  -v, --verbose  also print fabricd's command, each node's kernel command\n"
	"                 line and QEMU command\n"
	"\n"
	"Exit status: 0 valid, 2 usage error, 3 invalid manifest (the message is\n"
	"'FILE:LINE: what is wrong').\n";

/* Loads path into m; prints the parser's message on failure. */
int manifest_load_or_report(const char *path, struct manifest *m)
{
	char err[MF_ERR_MAX];

	if (manifest_load(path, m, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "%s\n", err);
	return -1;
}

int manifest_resolve(const struct manifest *m, const char *p, char *out, size_t cap)
{
	char dir[PATH_MAX], real[PATH_MAX], *slash;
	const char *product = build_product(p);

	if (product) {
		struct build_paths b;

		if (build_locate(&b) < 0)
			return -1;
		if (path_join(out, cap, b.build, product) < 0) {
			msg("path too long: %s", p);
			return -1;
		}
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s", m->path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	if (p[0] != '/' && !realpath(dir, real)) {
		msg_errno("%s", dir);
		return -1;
	}
	if (p[0] == '/' ? snprintf(out, cap, "%s", p) >= (int)cap
			: path_join(out, cap, real, p) < 0) {
		msg("path too long: %s", p);
		return -1;
	}
	return 0;
}

static void role_extras(const struct mf_node *n, char *buf, size_t cap)
{
	char a[32];

	switch (n->role) {
	case MF_PROCESSOR:
		snprintf(buf, cap, "excache %s %u-way %s",
			 fmt_size(n->excache_size, a, sizeof(a)), n->excache_ways,
			 mf_policy_name(n->excache_policy));
		break;
	case MF_MEMORY:
		snprintf(buf, cap, "%s%s", n->backup[0] ? "backup " : "-",
			 n->backup[0] ? n->backup : "");
		break;
	case MF_STORAGE:
		if (n->disk_image[0])
			snprintf(buf, cap, "disk image %s (used in place)",
				 n->disk_image);
		else if (n->disk_dir[0])
			snprintf(buf, cap, "disk %s from %s (made by up)",
				 fmt_size(n->disk_size, a, sizeof(a)), n->disk_dir);
		else
			snprintf(buf, cap, "empty disk %s (made by up)",
				 fmt_size(n->disk_size, a, sizeof(a)));
		break;
	default:
		snprintf(buf, cap, "-");
	}
}

static void print_nodes(const struct manifest *m)
{
	printf("%-10s %3s  %-9s %4s %6s %7s  %s\n", "NODE", "ID", "ROLE", "CPUS", "RAM",
	       "WINDOW", "EXTRAS");
	for (unsigned i = 0; i < m->nnodes; i++) {
		const struct mf_node *n = &m->nodes[i];
		char ram[32], win[32], extras[MF_PATH_MAX + 64];

		role_extras(n, extras, sizeof(extras));
		if (n->ktest[0] && strcmp(extras, "-") == 0)
			snprintf(extras, sizeof(extras), "self tests ktest=%s", n->ktest);
		else if (n->ktest[0])
			snprintf(extras + strlen(extras), sizeof(extras) - strlen(extras),
				 "; self tests ktest=%s", n->ktest);
		printf("%-10s %3u  %-9s %4u %6s %7s  %s\n", n->name, n->id,
		       mf_role_name(n->role), n->cpus, fmt_size(n->ram, ram, sizeof(ram)),
		       fmt_size(n->window, win, sizeof(win)), extras);
	}
}

/* The names of nodes idx[0..n), comma-separated, into buf. */
static const char *name_list(const struct manifest *m, const unsigned *idx, unsigned n,
			     char *buf, size_t cap)
{
	size_t o = 0;

	snprintf(buf, cap, "%s", n ? "" : "-"); /* none: a self-test cluster's vNode */
	for (unsigned i = 0; i < n && o < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? "," : "",
				      m->nodes[idx[i]].name);
	return buf;
}

static void print_vnodes(const struct manifest *m)
{
	char p[MF_MAX_NODES * MF_NAME_MAX], mem[sizeof(p)], s[sizeof(p)];

	if (m->selftest)
		printf("\nself-test cluster (every node has ktest:): %s\n",
		       m->nvnodes ? "its vnodes only wire nodes together" : "no vnodes");
	if (!m->nvnodes)
		return;
	printf("\n%-10s %-16s %-16s %s\n", "VNODE", "PROCESSORS", "MEMORIES", "STORAGES");
	for (unsigned i = 0; i < m->nvnodes; i++) {
		const struct mf_vnode *v = &m->vnodes[i];

		printf("%-10s %-16s %-16s %s\n", v->name,
		       name_list(m, v->processors, v->nprocessors, p, sizeof(p)),
		       name_list(m, v->memories, v->nmemories, mem, sizeof(mem)),
		       name_list(m, v->storages, v->nstorages, s, sizeof(s)));
	}
}

/* -v: what `up` would run: fabricd, then each node. */
static int print_commands(const struct manifest *m)
{
	struct build_paths b;
	struct strv fargv = {0};
	char bin[PATH_MAX], line[8192];

	if (build_locate(&b) < 0 || build_fabricd(&b, bin, sizeof(bin)) < 0)
		return -1;
	printf("\naccelerator %s, images from %s\n", vm_accel(), b.build);
	fabric_argv(m, bin, &fargv);
	printf("fabricd: %s\n", strv_join(&fargv, line, sizeof(line)));
	strv_free(&fargv);
	for (unsigned i = 0; i < m->nnodes; i++) {
		const struct mf_node *n = &m->nodes[i];
		char image[PATH_MAX], disk[PATH_MAX];
		struct strv argv = {0};

		snprintf(disk, sizeof(disk), "%s.img", n->name);
		if ((n->disk_image[0] &&
		     manifest_resolve(m, n->disk_image, disk, sizeof(disk)) < 0) ||
		    build_image(&b, n->role, image, sizeof(image)) < 0 ||
		    vm_argv(m, n, image, disk, &argv) < 0) {
			strv_free(&argv);
			return -1;
		}
		vm_cmdline(m, n, line, sizeof(line));
		printf("%s: kernel command line: %s\n", n->name, line);
		printf("%s: %s\n", n->name, strv_join(&argv, line, sizeof(line)));
		strv_free(&argv);
	}
	return 0;
}

int verb_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool verbose = false;
	struct manifest m;
	char fabric[160], win[32];
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
		if (c == 'h')
			return verb_help("check", help);
		if (c != 'v')
			return bad_option("check", argv);
		verbose = true;
	}
	if (argc - optind != 1)
		return usage_error("check", "expected one MANIFEST");
	if (manifest_load_or_report(argv[optind], &m) < 0)
		return TS_MANIFEST;
	snprintf(fabric, sizeof(fabric), "default window %s, latency %g us%s, bandwidth ",
		 fmt_size(m.fabric.window, win, sizeof(win)), m.fabric.latency_us,
		 m.fabric.latency_us > 0 ? "" : " (none)");
	printf("cluster %s (%s): %u node%s, %u vnode%s\nfabric: %s", m.name, m.path,
	       m.nnodes, m.nnodes == 1 ? "" : "s", m.nvnodes, m.nvnodes == 1 ? "" : "s",
	       fabric);
	if (m.fabric.bandwidth_gbps > 0)
		printf("%g Gb/s", m.fabric.bandwidth_gbps);
	else
		printf("unlimited");
	printf(", poll %u us, cq retry %u us\n\n", m.fabric.poll_us,
	       m.fabric.cq_retry_us);
	print_nodes(&m);
	print_vnodes(&m);
	if (verbose && print_commands(&m) < 0)
		return TS_FAILED;
	return TS_OK;
}
