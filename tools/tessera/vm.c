/*
 * QEMU command lines for the nodes of a cluster. This is the C twin of
 * scripts/qemu.py (argv(), accel(), default_cmdline()): the same machine,
 * accelerator rule, firmware and devices, so a node booted by `tessera up`
 * behaves like one booted by the test scripts. Change both together.
 *
 * Every QEMU runs with cwd = the run directory, so its sockets are short
 * relative names (NAME.console, NAME.hostlink, NAME.sock): COM1 is the
 * console (a socket server that also writes NAME.log, whether or not a
 * client is connected: checked with QEMU 7.2), COM2 of a processor is the
 * hostlink (include/proto/hostlink.h), storage nodes get their disk on
 * virtio-blk, and every node its fabric window (ivshmem-doorbell, served
 * by fabricd on NAME.sock).
 *
 * Kernel command line: role=ROLE node=ID name=NAME peers=ID:NAME,... plus
 * manager=ID (the global node) on every other node,
 * excache=SIZE,WAYS,POLICY and memory=ID,... (the memory nodes of its first
 * vNode) on processors, backup=ID on memory nodes with a backup,
 * storage=ID on processors and memory nodes (the first storage node of the
 * first vNode, in file order, that lists the node), exports=ID:ROOT,... on
 * storage nodes (every processor and memory node of every vNode that lists
 * the storage node, with that vNode's root; the manifest parser has
 * checked that a node gets one root per storage node), and ktest=FILTER on
 * nodes whose manifest entry has ktest: (they run the kernel's self tests
 * instead of their role). The kernel keeps BOOT_CMDLINE_MAX - 1 = 1023
 * bytes of it: longer lines are refused here rather than cut there.
 */
#define _GNU_SOURCE
#include "tessera.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QBOOT		   "/usr/share/qemu/qboot.rom"
#define DEBUG_EXIT_PORT	   0xf4
#define KERNEL_CMDLINE_MAX 1023 /* include/kernel/bootinfo.h: BOOT_CMDLINE_MAX - 1 */

static bool cpu_has_virt(void)
{
	char *text;
	size_t len;
	bool yes;

	if (read_file("/proc/cpuinfo", &text, &len) < 0)
		return false;
	yes = strstr(text, " vmx") || strstr(text, " svm");
	free(text);
	return yes;
}

static bool kvm_usable(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return cpu_has_virt();
}

const char *vm_accel(void)
{
	const char *forced = getenv("TESSERA_ACCEL");

	if (forced && (strcmp(forced, "tcg") == 0 || strcmp(forced, "kvm") == 0))
		return forced;
	return kvm_usable() ? "kvm" : "tcg";
}

/* Finds prog in $PATH (like shutil.which). 0 or -1. */
static int which(const char *prog, char *out, size_t cap)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;
	int r = -1;

	copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	if (!copy)
		return -1;
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		if (snprintf(out, cap, "%s/%s", dir, prog) < (int)cap &&
		    access(out, X_OK) == 0) {
			r = 0;
			break;
		}
	}
	free(copy);
	return r;
}

/* Appends printf output at buf[*o], tracking overflow in *o. */
static void append(char *buf, size_t cap, size_t *o, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t cap, size_t *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*o >= cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *o, cap - *o, fmt, ap);
	va_end(ap);
	*o = n < 0 ? cap : *o + (size_t)n;
}

static bool in_list(const unsigned *list, unsigned n, unsigned idx)
{
	for (unsigned i = 0; i < n; i++)
		if (list[i] == idx)
			return true;
	return false;
}

/* storage=ID: the first storage node of the first vNode with node idx. */
static void append_storage(const struct manifest *m, unsigned idx, char *buf, size_t cap,
			   size_t *o)
{
	for (unsigned v = 0; v < m->nvnodes; v++) {
		const struct mf_vnode *vn = &m->vnodes[v];

		if (in_list(vn->processors, vn->nprocessors, idx) ||
		    in_list(vn->memories, vn->nmemories, idx)) {
			append(buf, cap, o, " storage=%u", m->nodes[vn->storages[0]].id);
			return;
		}
	}
}

/* memory=ID,...: the memory nodes of the first vNode with processor idx
 * (the first one is the home of its processes). */
static void append_memories(const struct manifest *m, unsigned idx, char *buf, size_t cap,
			    size_t *o)
{
	for (unsigned v = 0; v < m->nvnodes; v++) {
		const struct mf_vnode *vn = &m->vnodes[v];

		if (!in_list(vn->processors, vn->nprocessors, idx))
			continue;
		for (unsigned k = 0; k < vn->nmemories; k++)
			append(buf, cap, o, "%s%u", k ? "," : " memory=",
			       m->nodes[vn->memories[k]].id);
		return;
	}
}

/* manager=ID: the global node (the manifest has exactly one). */
static void append_manager(const struct manifest *m, char *buf, size_t cap, size_t *o)
{
	for (unsigned i = 0; i < m->nnodes; i++)
		if (m->nodes[i].role == MF_GLOBAL) {
			append(buf, cap, o, " manager=%u", m->nodes[i].id);
			return;
		}
}

/* exports=ID:ROOT,...: each processor and memory node of the vNodes that
 * list storage node idx, once, with its vNode's root. */
static void append_exports(const struct manifest *m, unsigned idx, char *buf, size_t cap,
			   size_t *o)
{
	bool done[MF_MAX_NODES] = {false};
	unsigned n = 0;

	for (unsigned v = 0; v < m->nvnodes; v++) {
		const struct mf_vnode *vn = &m->vnodes[v];

		if (!in_list(vn->storages, vn->nstorages, idx))
			continue;
		for (unsigned k = 0; k < vn->nprocessors + vn->nmemories; k++) {
			unsigned member = k < vn->nprocessors
						  ? vn->processors[k]
						  : vn->memories[k - vn->nprocessors];

			if (done[member])
				continue;
			done[member] = true;
			append(buf, cap, o, "%s%u:%s",
			       n++ ? "," : " exports=", m->nodes[member].id, vn->root);
		}
	}
}

int vm_cmdline(const struct manifest *m, const struct mf_node *n, char *buf, size_t cap)
{
	unsigned idx = (unsigned)(n - m->nodes);
	char size[32];
	size_t o = 0;

	append(buf, cap, &o, "role=%s node=%u name=%s peers=", mf_role_name(n->role),
	       n->id, n->name);
	for (unsigned i = 0; i < m->nnodes; i++)
		append(buf, cap, &o, "%s%u:%s", i ? "," : "", m->nodes[i].id,
		       m->nodes[i].name);
	if (n->role == MF_PROCESSOR)
		append(buf, cap, &o, " excache=%s,%u,%s",
		       fmt_size(n->excache_size, size, sizeof(size)), n->excache_ways,
		       mf_policy_name(n->excache_policy));
	if (n->role == MF_MEMORY && n->backup[0]) {
		const struct mf_node *b = manifest_node(m, n->backup);

		if (b)
			append(buf, cap, &o, " backup=%u", b->id);
	}
	if (n->role == MF_PROCESSOR || n->role == MF_MEMORY)
		append_storage(m, idx, buf, cap, &o);
	if (n->role == MF_PROCESSOR)
		append_memories(m, idx, buf, cap, &o);
	if (n->role != MF_GLOBAL)
		append_manager(m, buf, cap, &o);
	if (n->role == MF_STORAGE)
		append_exports(m, idx, buf, cap, &o);
	if (n->ktest[0])
		append(buf, cap, &o, " ktest=%s", n->ktest);
	return o < cap && o <= KERNEL_CMDLINE_MAX ? 0 : -1;
}

/* path with every ',' doubled, as QEMU's option syntax wants. */
static const char *qemu_escape(const char *path, char *out, size_t cap)
{
	size_t o = 0;

	for (; *path && o + 3 < cap; path++) {
		out[o++] = *path;
		if (*path == ',')
			out[o++] = ',';
	}
	out[o] = '\0';
	return out;
}

/* The devices of node n: console, hostlink, disk, fabric. */
static void vm_devices(const struct mf_node *n, const char *disk, struct strv *a)
{
	char esc[2 * PATH_MAX];

	strv_add(a, "-chardev");
	strv_add(a, "socket,id=con,path=%s.console,server=on,wait=off,logfile=%s.log",
		 n->name, n->name);
	if (n->role == MF_PROCESSOR) {
		strv_add(a, "-chardev");
		strv_add(a, "socket,id=hl,path=%s.hostlink,server=on,wait=off", n->name);
		strv_add(a, "-serial");
		strv_add(a, "chardev:hl");
	}
	if (n->role == MF_STORAGE && disk) {
		strv_add(a, "-drive");
		strv_add(a, "file=%s,if=none,id=disk0,format=raw",
			 qemu_escape(disk, esc, sizeof(esc)));
		strv_add(a, "-device");
		strv_add(a, "virtio-blk-pci,drive=disk0");
	}
	strv_add(a, "-chardev");
	strv_add(a, "socket,path=%s.sock,id=fab", n->name);
	strv_add(a, "-device");
	strv_add(a, "ivshmem-doorbell,chardev=fab,vectors=1");
}

int vm_argv(const struct manifest *m, const struct mf_node *n, const char *image,
	    const char *disk, struct strv *a)
{
	const char *accel = vm_accel();
	char qemu[PATH_MAX], cmdline[4096], ram[32];

	if (which("qemu-system-x86_64", qemu, sizeof(qemu)) < 0) {
		msg("qemu-system-x86_64 not found: run `make deps` (Debian package "
		    "qemu-system-x86)");
		return -1;
	}
	if (access(QBOOT, R_OK) < 0) {
		msg("%s missing: run `make deps` (Debian package qemu-system-data)",
		    QBOOT);
		return -1;
	}
	if (vm_cmdline(m, n, cmdline, sizeof(cmdline)) < 0) {
		msg("node %s: kernel command line too long (the kernel takes at most %d "
		    "bytes)",
		    n->name, KERNEL_CMDLINE_MAX);
		return -1;
	}
	strv_add(a, "%s", qemu);
	strv_add(a, "-M");
	strv_add(a, "pc");
	strv_add(a, "-accel");
	strv_add(a, "%s", accel);
	strv_add(a, "-cpu");
	strv_add(a, "%s", strcmp(accel, "tcg") == 0 ? "max" : "host");
	strv_add(a, "-smp");
	strv_add(a, "%u", n->cpus);
	strv_add(a, "-m");
	strv_add(a, "%s", fmt_size(n->ram, ram, sizeof(ram)));
	strv_add(a, "-display");
	strv_add(a, "none");
	strv_add(a, "-vga");
	strv_add(a, "none");
	strv_add(a, "-nic");
	strv_add(a, "none");
	strv_add(a, "-no-reboot");
	strv_add(a, "-serial");
	strv_add(a, "chardev:con");
	strv_add(a, "-device");
	strv_add(a, "isa-debug-exit,iobase=%#x,iosize=0x04", DEBUG_EXIT_PORT);
	strv_add(a, "-monitor");
	strv_add(a, "none");
	strv_add(a, "-bios");
	strv_add(a, "%s", QBOOT);
	strv_add(a, "-kernel");
	strv_add(a, "%s", image);
	strv_add(a, "-append");
	strv_add(a, "%s", cmdline);
	vm_devices(n, disk, a);
	if (a->oom) {
		msg("out of memory");
		return -1;
	}
	return 0;
}
