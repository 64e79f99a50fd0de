/*
 * Self tests of the processor's process and syscall layer that need no
 * memory node (a `ktest` boot starts no role: no fabric, no ExCache):
 * the syscall table (names, unknown numbers -> ENOSYS, no process ->
 * ESRCH), the home-node choice, the builtins table's path program, and
 * the refusals of process_run when memory= or the ExCache is missing
 * (through a real hostlink with a capture, as the CLI would see them).
 * The whole memory path is the cluster test's (tests/cluster/memory_test.py).
 */
#include "builtins.h"
#include "excache.h"
#include "process.h"
#include "syscall.h"

#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/hostlink.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <lib/string.h>
#include <proto/tessera_sys.h>

KTEST(proc_syscall_table)
{
	const struct syscall_entry *e;

	e = syscall_entry_of(1);
	KT_ASSERT(e != NULL);
	KT_EXPECT(strcmp(e->name, "write") == 0);
	e = syscall_entry_of(231);
	KT_EXPECT(e && strcmp(e->name, "exit_group") == 0);
	e = syscall_entry_of(TESSERA_SYS_EXCACHE_STATS);
	KT_EXPECT(e && strcmp(e->name, "tessera_excache_stats") == 0);
	KT_EXPECT(syscall_entry_of(2) == NULL); /* open: not yet */
	KT_EXPECT(syscall_entry_of(1023) == NULL);
	KT_EXPECT(syscall_entry_of(SYSCALL_TABLE_SIZE) == NULL);
	KT_EXPECT(syscall_entry_of(~0ull) == NULL);
	KT_EXPECT(syscall_count() >= 29);
	/* names are unique */
	for (unsigned i = 0; i < SYSCALL_TABLE_SIZE; i++)
		for (unsigned j = i + 1; j < SYSCALL_TABLE_SIZE; j++)
			if (syscall_entry_of(i) && syscall_entry_of(j))
				KT_EXPECT(strcmp(syscall_entry_of(i)->name,
						 syscall_entry_of(j)->name) != 0);
}

KTEST(proc_syscall_unknown_and_no_process)
{
	uint64_t args[6] = {0};

	/* unknown: ENOSYS, twice (logged once), in and beyond the table */
	KT_EXPECT_EQ(syscall_invoke(NULL, 2, args), -ENOSYS);
	KT_EXPECT_EQ(syscall_invoke(NULL, 2, args), -ENOSYS);
	KT_EXPECT_EQ(syscall_invoke(NULL, 1023, args), -ENOSYS);
	KT_EXPECT_EQ(syscall_invoke(NULL, 5000, args), -ENOSYS);
	KT_EXPECT_EQ(syscall_invoke(NULL, ~0ull, args), -ENOSYS);
	/* a known number from a kernel thread: no process */
	KT_EXPECT_EQ(syscall_invoke(NULL, 39, args), -ESRCH);
	KT_EXPECT_EQ(syscall_invoke(NULL, 60, args), -ESRCH);
	KT_EXPECT(process_current() == NULL);
}

KTEST(proc_home_node_and_builtins_path_entry)
{
	unsigned nulls = 0;
	unsigned saved_n = kconfig.nmemories;
	unsigned short saved_id = kconfig.memory_ids[0];

	kconfig.nmemories = 0;
	KT_EXPECT_EQ(process_home_node(), 0);
	kconfig.nmemories = 2;
	kconfig.memory_ids[0] = 7;
	KT_EXPECT_EQ(process_home_node(), 7);
	kconfig.nmemories = saved_n;
	kconfig.memory_ids[0] = saved_id;
	for (unsigned i = 0; i < builtins_count; i++)
		nulls += builtins[i].name == NULL;
	KT_EXPECT_EQ(nulls, 1);
	KT_EXPECT(builtins[builtins_count - 1].name == NULL);
	KT_EXPECT(builtins[builtins_count - 1].fn == process_hostlink_run);
}

KTEST(proc_excache_not_ready)
{
	struct tessera_excache_stats st;

	KT_EXPECT(!excache_ready()); /* a ktest boot starts no role */
	KT_EXPECT_EQ(excache_fault(NULL, 0x400000, 1), -ENODEV);
	KT_EXPECT_EQ(excache_drop_range(NULL, 0, 1ull << 40, true), 0);
	excache_get_stats(NULL, &st);
	KT_EXPECT_EQ(st.version, TESSERA_EXCACHE_STATS_VERSION);
	KT_EXPECT_EQ(st.lines, 0);
}

/* ---- process_run's refusals through a hostlink -------------------------- */

struct cap {
	struct spinlock lock;
	char buf[2048];
	size_t len;
};

static void cap_emit(void *ctx, const char *line, size_t len)
{
	struct cap *c = ctx;

	spin_lock(&c->lock);
	if (c->len + len < sizeof(c->buf)) {
		memcpy(c->buf + c->len, line, len);
		c->len += len;
		c->buf[c->len] = '\0';
	}
	spin_unlock(&c->lock);
}

/* Runs line on a hostlink with the processor's builtins; true if the
 * capture then starts with want_err and ends with want_exit. */
static bool run_line(struct ktest_ctx *kt, struct cap *c, const char *line,
		     const char *want_err, const char *want_exit)
{
	struct hostlink *hl = hostlink_create(builtins, builtins_count, cap_emit, c);
	size_t le;
	bool ok;

	if (!KT_EXPECT(hl != NULL))
		return false;
	c->len = 0;
	c->buf[0] = '\0';
	hostlink_line(hl, line, strlen(line));
	KT_EXPECT(hostlink_idle(hl, 5 * NS_PER_S));
	hostlink_destroy(hl);
	le = strlen(want_exit);
	ok = strncmp(c->buf, want_err, strlen(want_err)) == 0 && c->len >= le &&
	     strcmp(c->buf + c->len - le, want_exit) == 0;
	if (!ok)
		printk_raw("# line '%s'\n#  got '%s'\n", line, c->buf);
	return KT_EXPECT(ok);
}

KTEST(proc_run_refusals)
{
	struct cap *c = kzalloc(sizeof(*c));
	unsigned saved_n = kconfig.nmemories;
	unsigned short saved_id = kconfig.memory_ids[0];

	KT_ASSERT(c != NULL);
	spin_init(&c->lock, "proc-ktest");
	kconfig.nmemories = 0;
	run_line(kt, c, "run 1 /bin/true",
		 "err 1 "
		 "/bin/true:%20cannot%20run%20user%20programs:%20no%20memory=%20word",
		 "exit 1 127\n");
	kconfig.nmemories = 1;
	kconfig.memory_ids[0] = 9;
	run_line(kt, c, "run 2 /bin/true a b",
		 "err 2 /bin/true:%20cannot%20run%20user%20programs:%20no%20ExCache",
		 "exit 2 127\n");
	kconfig.nmemories = saved_n;
	kconfig.memory_ids[0] = saved_id;
	/* builtins still come first */
	run_line(kt, c, "run 3 true", "exit 3 0\n", "exit 3 0\n");
	run_line(kt, c, "run 4 nosuch",
		 "err 4 nosuch:%20not%20found%20(builtins:", "exit 4 127\n");
	kfree(c);
}
