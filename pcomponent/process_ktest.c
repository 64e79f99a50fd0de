/*
 * Self tests of the processor's process and syscall layer that need no
 * memory node (a `ktest` boot starts no role: no fabric, no ExCache):
 * the syscall table (names, unknown numbers -> ENOSYS, no process ->
 * ESRCH), the home-node choice (its fallbacks: no manager, no answer,
 * one memory node), the builtins table's path program, and
 * the refusals of process_run when memory= or the ExCache is missing
 * (through a real hostlink with a capture, as the CLI would see them),
 * and the process tree's bookkeeping (wait, zombies, orphans, the
 * family count, stop and continue reports, credentials and kill's
 * permission) with processes that have no address space, whose
 * "threads" are kernel threads calling process_exit.
 * The whole memory path is the cluster test's (tests/cluster/memory_test.py).
 */
#include "builtins.h"
#include "excache.h"
#include "process.h"
#include "signal_impl.h"
#include "syscall.h"

#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/hostlink.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <lib/string.h>
#include <net/mgr_client.h>
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
	KT_EXPECT(syscall_entry_of(180) == NULL); /* nfsservctl: ENOSYS on Linux too */
	KT_EXPECT(syscall_entry_of(1023) == NULL);
	KT_EXPECT(syscall_entry_of(SYSCALL_TABLE_SIZE) == NULL);
	KT_EXPECT(syscall_entry_of(~0ull) == NULL);
	KT_EXPECT(syscall_count() >= 34);
	e = syscall_entry_of(57);
	KT_EXPECT(e && strcmp(e->name, "fork") == 0);
	e = syscall_entry_of(61);
	KT_EXPECT(e && strcmp(e->name, "wait4") == 0);
	e = syscall_entry_of(247);
	KT_EXPECT(e && strcmp(e->name, "waitid") == 0);
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
	KT_EXPECT_EQ(syscall_invoke(NULL, 180, args), -ENOSYS);
	KT_EXPECT_EQ(syscall_invoke(NULL, 180, args), -ENOSYS);
	KT_EXPECT_EQ(syscall_invoke(NULL, 1023, args), -ENOSYS);
	KT_EXPECT_EQ(syscall_invoke(NULL, 5000, args), -ENOSYS);
	KT_EXPECT_EQ(syscall_invoke(NULL, ~0ull, args), -ENOSYS);
	/* a known number from a kernel thread: no process */
	KT_EXPECT_EQ(syscall_invoke(NULL, 39, args), -ESRCH);
	KT_EXPECT_EQ(syscall_invoke(NULL, 60, args), -ESRCH);
	KT_EXPECT(process_current() == NULL);
}

KTEST(proc_home_choice_and_builtins_path_entry)
{
	unsigned nulls = 0, saved_n = kconfig.nmemories, saved_mgr = kconfig.manager_id;
	unsigned short saved_ids[2] = {kconfig.memory_ids[0], kconfig.memory_ids[1]};
	bool by_gmm = true;

	kconfig.nmemories = 0;
	KT_EXPECT_EQ(process_first_memory_node(), 0);
	KT_EXPECT(!process_is_memory_node(0));
	kconfig.nmemories = 2;
	kconfig.memory_ids[0] = 7;
	kconfig.memory_ids[1] = 8;
	KT_EXPECT_EQ(process_first_memory_node(), 7);
	KT_EXPECT(process_is_memory_node(7) && process_is_memory_node(8));
	KT_EXPECT(!process_is_memory_node(9) && !process_is_memory_node(0));
	/* no manager (0), or one that cannot be asked (3: a ktest boot has no
	 * RPC): the first memory node, never a failure */
	for (unsigned mgr = 0; mgr <= 3; mgr += 3) {
		kconfig.manager_id = mgr;
		by_gmm = true;
		KT_EXPECT_EQ(process_choose_home(&by_gmm), 7);
		KT_EXPECT(!by_gmm);
		KT_EXPECT_EQ(mgr_place(NULL, MSG_MGR_PLACE_VREGION, kconfig.memory_ids, 2, 0,
				       0, NS_PER_S),
			     -ENODEV);
	}
	/* one memory node: nothing to ask */
	kconfig.nmemories = 1;
	by_gmm = true;
	KT_EXPECT_EQ(process_choose_home(&by_gmm), 7);
	KT_EXPECT(!by_gmm);
	KT_EXPECT(!process_is_memory_node(8));
	kconfig.nmemories = saved_n;
	kconfig.manager_id = saved_mgr;
	kconfig.memory_ids[0] = saved_ids[0];
	kconfig.memory_ids[1] = saved_ids[1];
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
	/* home NODE: only one of memory= */
	run_line(kt, c, "run 5 home 12 /bin/true",
		 "err 5 home:%2012:%20not%20one%20of%20this%20vNode's%20memory%20nodes",
		 "exit 5 2\n");
	run_line(kt, c, "run 6 home", "err 6 usage:%20home%20NODE", "exit 6 2\n");
	kconfig.nmemories = saved_n;
	kconfig.memory_ids[0] = saved_id;
	/* builtins still come first */
	run_line(kt, c, "run 3 true", "exit 3 0\n", "exit 3 0\n");
	run_line(kt, c, "run 4 nosuch",
		 "err 4 nosuch:%20not%20found%20(builtins:", "exit 4 127\n");
	kfree(c);
}

/* ---- the process tree ------------------------------------------------------ */

struct exiter {
	struct process *p;
	int wait_status;
	uint64_t delay_ns;
};

static void exiter_main(void *arg)
{
	struct exiter *e = arg;

	if (e->delay_ns)
		thread_sleep_ns(e->delay_ns);
	process_exit(e->p, e->wait_status);
}

/* A joinable kernel thread that ends p with ws after delay_ns. */
static struct thread *exit_later(struct exiter *e, struct process *p, int ws,
				 uint64_t delay_ns)
{
	e->p = p;
	e->wait_status = ws;
	e->delay_ns = delay_ns;
	return thread_create("proc-ktest-exit", exiter_main, e, false);
}

/* A new family (fam cleared) with its root process: the root, or NULL. */
static struct process *family_start(struct process_family *fam)
{
	struct process *root;

	memset(fam, 0, sizeof(*fam));
	root = process_ktest_add(fam, NULL);
	if (root)
		fam->root_pid = root->pid;
	return root;
}

/* Ends a test family: its root exits 0, and the test waits until the
 * family's last member has gone. False if the exiting thread could not
 * be made. */
static bool family_end(struct process_family *fam, struct process *root)
{
	struct exiter e;
	struct thread *t = exit_later(&e, root, PROCESS_EXITED(0), 0);

	if (!t)
		return false;
	process_family_wait(fam);
	thread_join(t);
	return true;
}

KTEST(proc_tree_wait_zombies_and_reaping)
{
	static struct process_family fam;
	struct exiter e1, e2;
	struct process *root, *c1, *c2;
	struct thread *t1, *t2;
	unsigned n0, n;
	uint64_t s0, s, t0;
	uint32_t pid1, pid2;
	int ws = -1;

	process_counts(&n0, &s0);
	root = family_start(&fam);
	KT_ASSERT(root != NULL);
	c1 = process_ktest_add(&fam, root);
	c2 = process_ktest_add(&fam, root);
	KT_ASSERT(c1 && c2);
	pid1 = c1->pid;
	pid2 = c2->pid;
	process_counts(&n, &s);
	KT_EXPECT_EQ(n, n0 + 3);
	KT_EXPECT_EQ(s, s0 + 3);
	KT_EXPECT(pid1 > root->pid && pid2 > pid1); /* never reused */
	KT_EXPECT_EQ(fam.members, 3);
	KT_EXPECT_EQ(process_ppid(c1), root->pid);
	KT_EXPECT_EQ(process_ppid(root), 0);
	/* nothing to reap yet; no such child; a childless process */
	KT_EXPECT_EQ(process_wait(root, -1, PROCESS_WEXITED | PROCESS_WNOHANG, &ws), 0);
	KT_EXPECT_EQ(process_wait(root, 0, PROCESS_WEXITED | PROCESS_WNOHANG, &ws), 0);
	KT_EXPECT_EQ(process_wait(root, pid2 + 100, PROCESS_WEXITED | PROCESS_WNOHANG, &ws), -ECHILD);
	KT_EXPECT_EQ(process_wait(c1, -1, PROCESS_WEXITED | PROCESS_WNOHANG, &ws), -ECHILD);
	KT_EXPECT_EQ(ws, -1);

	/* a blocking wait for one child sleeps until that child exits */
	t1 = exit_later(&e1, c1, PROCESS_EXITED(3), 50 * NS_PER_MS);
	KT_ASSERT(t1 != NULL);
	t0 = clock_ns();
	KT_EXPECT_EQ(process_wait(root, pid1, PROCESS_WEXITED, &ws), pid1);
	KT_EXPECT(clock_ns() - t0 >= 40 * NS_PER_MS);
	KT_EXPECT_EQ(ws, 3 << 8);
	KT_EXPECT(PROCESS_WIFEXITED(ws));
	KT_EXPECT_EQ(process_shell_status(ws), 3);
	ws = -1;
	KT_EXPECT_EQ(process_wait(root, pid1, PROCESS_WEXITED | PROCESS_WNOHANG, &ws), pid1); /* a zombie until reaped */
	KT_EXPECT_EQ(fam.members, 2);
	process_reap(root, pid1);
	KT_EXPECT_EQ(process_wait(root, pid1, PROCESS_WEXITED | PROCESS_WNOHANG, &ws), -ECHILD);
	thread_join(t1);
	process_counts(&n, &s);
	KT_EXPECT_EQ(n, n0 + 2);

	/* killed by a signal, found by a wait for any child */
	t2 = exit_later(&e2, c2, PROCESS_KILLED(11), 0);
	KT_ASSERT(t2 != NULL);
	KT_EXPECT_EQ(process_wait(root, -1, PROCESS_WEXITED, &ws), pid2);
	KT_EXPECT_EQ(ws, 11);
	KT_EXPECT(!PROCESS_WIFEXITED(ws));
	KT_EXPECT_EQ(process_shell_status(ws), 128 + 11);
	process_reap(root, pid2);
	thread_join(t2);
	KT_EXPECT_EQ(process_wait(root, -1, PROCESS_WEXITED, &ws), -ECHILD); /* does not block */

	/* the root ends the family */
	t1 = exit_later(&e1, root, PROCESS_EXITED(0), 0);
	KT_ASSERT(t1 != NULL);
	process_family_wait(&fam);
	thread_join(t1);
	KT_EXPECT_EQ(fam.members, 0);
	process_counts(&n, &s);
	KT_EXPECT_EQ(n, n0);
}

KTEST(proc_tree_orphans_and_the_family_count)
{
	static struct process_family fam;
	struct exiter e3, e4, er;
	struct process *root, *c3, *c4;
	struct thread *t;
	unsigned n0, n;
	uint64_t s0, s, t0;

	process_counts(&n0, &s0);
	root = family_start(&fam);
	KT_ASSERT(root != NULL);
	c3 = process_ktest_add(&fam, root);
	c4 = process_ktest_add(&fam, root);
	KT_ASSERT(c3 && c4);
	/* c4 a zombie, then its parent exits: c4 is freed with it, c3 is
	 * orphaned and keeps the family (and so the run) alive */
	t = exit_later(&e4, c4, PROCESS_EXITED(4), 0);
	KT_ASSERT(t != NULL);
	thread_join(t);
	KT_EXPECT_EQ(fam.members, 2);
	t = exit_later(&er, root, PROCESS_KILLED(9), 0);
	KT_ASSERT(t != NULL);
	thread_join(t);
	KT_EXPECT_EQ(fam.members, 1);
	KT_EXPECT_EQ(fam.root_status, 9);
	KT_EXPECT_EQ(process_ppid(c3), 0);
	process_counts(&n, &s);
	KT_EXPECT_EQ(n, n0 + 1); /* root and its zombie gone, c3 left */
	/* the family waiter sleeps until the orphan exits; it frees itself */
	t = exit_later(&e3, c3, PROCESS_EXITED(5), 50 * NS_PER_MS);
	KT_ASSERT(t != NULL);
	t0 = clock_ns();
	process_family_wait(&fam);
	KT_EXPECT(clock_ns() - t0 >= 40 * NS_PER_MS);
	thread_join(t);
	KT_EXPECT_EQ(fam.members, 0);
	KT_EXPECT_EQ(process_shell_status(fam.root_status), 128 + 9);
	process_counts(&n, &s);
	KT_EXPECT_EQ(n, n0);
}

KTEST(proc_fork_refused_outside_a_syscall)
{
	static struct process_family fam;
	struct process_fork_args fa = {0};
	struct exiter e;
	struct process *p;
	struct thread *t;

	memset(&fam, 0, sizeof(fam));
	p = process_ktest_add(&fam, NULL);
	KT_ASSERT(p != NULL);
	fam.root_pid = p->pid;
	KT_EXPECT_EQ(process_fork(p, &fa), -EINVAL); /* no syscall frame */
	KT_EXPECT_EQ(fam.members, 1);
	t = exit_later(&e, p, PROCESS_EXITED(0), 0);
	KT_ASSERT(t != NULL);
	process_family_wait(&fam);
	thread_join(t);
}

/* ---- signals (pcomponent/signal.c, sys_signal.c) without user mode ---- */

struct intr_waiter {
	struct process *p;
	long result;
};

/* Plays p's thread: registers itself as it, then waits for any child. */
static void intr_waiter_main(void *arg)
{
	struct intr_waiter *w = arg;
	int ws = 0;

	__atomic_store_n(&w->p->threads[0].kthread, thread_current(), __ATOMIC_RELEASE);
	w->result = process_wait(w->p, -1, PROCESS_WEXITED, &ws);
}

static void send_locked(struct process *p, int sig)
{
	struct signal_info info = {.signo = sig, .code = SI_USER};

	process_table_lock();
	signal_send(p, &info);
	process_table_unlock();
}

KTEST(proc_signal_wait_interrupted_and_masks)
{
	static struct process_family fam;
	struct intr_waiter w;
	struct exiter e;
	struct process *root, *c;
	struct thread *t;
	uint64_t args[6] = {0};

	root = family_start(&fam);
	KT_ASSERT(root != NULL);
	c = process_ktest_add(&fam, root);
	KT_ASSERT(c != NULL);
	KT_EXPECT_EQ(c->pgid, root->pgid);

	/* a blocked signal stays pending and interrupts nothing */
	root->threads[0].sig->blocked = SIG_BIT(SIGUSR1);
	send_locked(root, SIGUSR1);
	KT_EXPECT(!signal_pending(root));
	KT_EXPECT_EQ(root->sig->pending, SIG_BIT(SIGUSR1));
	root->threads[0].sig->blocked = 0;
	KT_EXPECT(signal_pending(root));
	root->sig->pending = 0;

	/* a default-ignored signal is dropped at once */
	send_locked(root, SIGCHLD);
	send_locked(root, SIGWINCH);
	KT_EXPECT_EQ(root->sig->pending, 0);

	/* wait4 sleeping for a running child ends with -EINTR on a signal */
	w.p = root;
	w.result = 1;
	t = thread_create("proc-ktest-waiter", intr_waiter_main, &w, false);
	KT_ASSERT(t != NULL);
	thread_sleep_ns(50 * NS_PER_MS);
	KT_EXPECT_EQ(w.result, 1); /* still asleep: c runs */
	send_locked(root, SIGUSR2);
	thread_join(t);
	root->threads[0].kthread = NULL;
	KT_EXPECT_EQ(w.result, -EINTR);
	KT_EXPECT(signal_pending(root));
	root->sig->pending = 0;

	/* kill, process groups, sessions through the syscall table */
	args[0] = c->pid;
	args[1] = 0;
	KT_EXPECT_EQ(syscall_invoke(root, 62, args), 0); /* kill(c, 0) */
	args[0] = 999999;
	KT_EXPECT_EQ(syscall_invoke(root, 62, args), -ESRCH);
	args[0] = c->pid;
	args[1] = 65;
	KT_EXPECT_EQ(syscall_invoke(root, 62, args), -EINVAL);
	args[0] = 0;
	args[1] = SIGUSR1;
	KT_EXPECT_EQ(syscall_invoke(c, 62, args), 0); /* kill(0): root and c */
	KT_EXPECT_EQ(root->sig->pending, SIG_BIT(SIGUSR1));
	KT_EXPECT_EQ(c->sig->pending, SIG_BIT(SIGUSR1));
	root->sig->pending = c->sig->pending = 0;
	KT_EXPECT_EQ(syscall_invoke(root, 112, args), -EPERM); /* setsid: a leader */
	args[0] = c->pid;
	args[1] = c->pid;
	KT_EXPECT_EQ(syscall_invoke(root, 109, args), 0); /* setpgid(c, c) */
	KT_EXPECT_EQ(c->pgid, c->pid);
	args[1] = 999999;
	KT_EXPECT_EQ(syscall_invoke(root, 109, args), -EPERM); /* no such group */
	args[0] = root->pid;
	args[1] = c->pid;
	KT_EXPECT_EQ(syscall_invoke(c, 109, args), -ESRCH); /* not its child */
	args[0] = c->pid;
	KT_EXPECT_EQ(syscall_invoke(root, 121, args), c->pid); /* getpgid */
	KT_EXPECT_EQ(syscall_invoke(root, 124, args), root->pid); /* getsid */
	args[0] = -(int64_t)c->pid;
	args[1] = SIGUSR2;
	KT_EXPECT_EQ(syscall_invoke(root, 62, args), 0); /* kill(-pgrp) */
	KT_EXPECT_EQ(c->sig->pending, SIG_BIT(SIGUSR2));
	KT_EXPECT_EQ(root->sig->pending, 0);
	c->sig->pending = 0;
	KT_EXPECT_EQ(syscall_invoke(c, 112, args), -EPERM); /* c leads a group */

	/* SIGCHLD ignored: the child is reaped at once, wait4 says ECHILD */
	root->sig->act[SIGCHLD - 1].handler = SIG_IGN;
	t = exit_later(&e, c, PROCESS_EXITED(1), 30 * NS_PER_MS);
	KT_ASSERT(t != NULL);
	{
		int ws = -1;

		KT_EXPECT_EQ(process_wait(root, -1, PROCESS_WEXITED, &ws), -ECHILD);
		KT_EXPECT_EQ(ws, -1);
	}
	thread_join(t);
	KT_EXPECT_EQ(fam.members, 1);
	KT_EXPECT_EQ(root->sig->pending, 0); /* SIG_IGN: no SIGCHLD either */

	KT_ASSERT(family_end(&fam, root));
}

KTEST(proc_signal_sigchld_handler_gets_info)
{
	static struct process_family fam;
	struct exiter e;
	struct process *root, *c;
	struct thread *t;
	int ws = 0;

	root = family_start(&fam);
	KT_ASSERT(root != NULL);
	c = process_ktest_add(&fam, root);
	KT_ASSERT(c != NULL);
	root->sig->act[SIGCHLD - 1].handler = 0x401000; /* a "handler" */
	t = exit_later(&e, c, PROCESS_KILLED(SIGTERM), 0);
	KT_ASSERT(t != NULL);
	KT_EXPECT_EQ(process_wait(root, -1, PROCESS_WEXITED, &ws), (long)c->pid);
	KT_EXPECT_EQ(ws, SIGTERM);
	KT_EXPECT_EQ(root->sig->pending, SIG_BIT(SIGCHLD));
	KT_EXPECT_EQ(root->sig->info[SIGCHLD - 1].code, CLD_KILLED);
	KT_EXPECT_EQ(root->sig->info[SIGCHLD - 1].pid, c->pid);
	KT_EXPECT_EQ(root->sig->info[SIGCHLD - 1].status, SIGTERM);
	process_reap(root, c->pid);
	thread_join(t);
	KT_ASSERT(family_end(&fam, root));
}

/* ---- stops, continues and credentials without user mode ---- */

/* syscall nr as p with up to three arguments. */
static long call3(struct process *p, unsigned nr, int64_t a0, int64_t a1, int64_t a2)
{
	uint64_t args[6] = {(uint64_t)a0, (uint64_t)a1, (uint64_t)a2};

	return syscall_invoke(p, nr, args);
}

KTEST(proc_stop_continue_reports_and_sigchld)
{
	static struct process_family fam;
	struct exiter e;
	struct process *root, *c;
	struct thread *t;
	int ws = 0;

	root = family_start(&fam);
	KT_ASSERT(root != NULL);
	c = process_ktest_add(&fam, root);
	KT_ASSERT(c != NULL);
	root->sig->act[SIGCHLD - 1].handler = 0x401000; /* a "handler" */

	/* a stop signal at its default is kept pending (not ignored); SIGCONT
	 * drops it, and a stop signal drops a pending SIGCONT's */
	c->sig->act[SIGCONT - 1].handler = 0x401000;
	send_locked(c, SIGSTOP);
	send_locked(c, SIGTSTP);
	KT_EXPECT_EQ(c->sig->pending, SIG_BIT(SIGSTOP) | SIG_BIT(SIGTSTP));
	send_locked(c, SIGCONT);
	KT_EXPECT_EQ(c->sig->pending, SIG_BIT(SIGCONT));
	send_locked(c, SIGTTIN);
	KT_EXPECT_EQ(c->sig->pending, SIG_BIT(SIGTTIN));
	c->sig->pending = 0;

	/* SIGCONT resumes a stopped process at once, even at SIG_DFL */
	c->sig->act[SIGCONT - 1].handler = SIG_DFL;
	c->sig->stopped = true;
	KT_EXPECT(signal_pending(c)); /* its sleeps end: it must go stop */
	send_locked(c, SIGCONT);
	KT_EXPECT(!c->sig->stopped);
	KT_EXPECT_EQ(c->sig->notify, SIG_NOTIFY_CONT);
	KT_EXPECT_EQ(c->sig->pending, 0); /* SIGCONT itself: ignored */
	c->sig->notify = SIG_NOTIFY_NONE;

	/* what the stopping thread tells: wait4 sees it once, SIGCHLD */
	KT_EXPECT_EQ(process_wait(root, c->pid, PROCESS_WSTOPPED | PROCESS_WNOHANG, &ws), 0);
	process_stop_notify(c, true, SIGTSTP);
	KT_EXPECT_EQ(process_wait(root, c->pid, PROCESS_WEXITED | PROCESS_WNOHANG, &ws), 0);
	KT_EXPECT_EQ(process_wait(root, c->pid,
				  PROCESS_WSTOPPED | PROCESS_WNOHANG | PROCESS_WNOWAIT, &ws),
		     (long)c->pid);
	KT_EXPECT_EQ(ws, PROCESS_STOPPED(SIGTSTP));
	KT_EXPECT_EQ(process_wait(root, -1, PROCESS_WSTOPPED, &ws), (long)c->pid);
	KT_EXPECT_EQ(ws, 0x147f);
	KT_EXPECT_EQ(process_wait(root, -1, PROCESS_WSTOPPED | PROCESS_WNOHANG, &ws), 0);
	KT_EXPECT_EQ(root->sig->pending, SIG_BIT(SIGCHLD));
	KT_EXPECT_EQ(root->sig->info[SIGCHLD - 1].code, CLD_STOPPED);
	KT_EXPECT_EQ(root->sig->info[SIGCHLD - 1].status, SIGTSTP);
	root->sig->pending = 0;
	process_stop_notify(c, false, SIGCONT);
	KT_EXPECT_EQ(process_wait(root, -1, PROCESS_WCONTINUED | PROCESS_WNOHANG, &ws),
		     (long)c->pid);
	KT_EXPECT_EQ(ws, 0xffff);
	KT_EXPECT_EQ(process_wait(root, -1, PROCESS_WCONTINUED | PROCESS_WNOHANG, &ws), 0);
	KT_EXPECT_EQ(root->sig->info[SIGCHLD - 1].code, CLD_CONTINUED);
	root->sig->pending = 0;
	root->sig->act[SIGCHLD - 1].flags = SA_NOCLDSTOP; /* no SIGCHLD, still reported */
	process_stop_notify(c, true, SIGSTOP);
	KT_EXPECT_EQ(root->sig->pending, 0);
	KT_EXPECT_EQ(process_wait(root, -1, PROCESS_WSTOPPED | PROCESS_WNOHANG, &ws),
		     (long)c->pid);

	t = exit_later(&e, c, PROCESS_KILLED(SIGKILL), 0);
	KT_ASSERT(t != NULL);
	KT_EXPECT_EQ(process_wait(root, -1, PROCESS_WEXITED, &ws), (long)c->pid);
	process_reap(root, c->pid);
	thread_join(t);
	KT_ASSERT(family_end(&fam, root));
}

KTEST(proc_credentials_calls_and_kill_permission)
{
	static struct process_family fam;
	struct exiter e;
	struct process *root, *c;
	struct thread *t;
	int ws = 0;

	root = family_start(&fam);
	KT_ASSERT(root != NULL);
	c = process_ktest_add(&fam, root);
	KT_ASSERT(c != NULL);

	KT_EXPECT_EQ(call3(c, 102, 0, 0, 0), 0);		     /* getuid: root */
	KT_EXPECT_EQ(call3(c, 117, 1000, 1000, -1), 0);	     /* setresuid(1000, 1000, -1) */
	KT_EXPECT_EQ(call3(c, 102, 0, 0, 0), 1000);	     /* getuid */
	KT_EXPECT_EQ(call3(c, 107, 0, 0, 0), 1000);	     /* geteuid */
	KT_EXPECT_EQ(c->cred.suid, 0u);			     /* the saved uid kept */
	KT_EXPECT_EQ(call3(c, 105, 5, 0, 0), -EPERM);	     /* setuid(5) */
	KT_EXPECT_EQ(call3(c, 116, 0, 0, 0), -EPERM);	     /* setgroups: unprivileged */
	KT_EXPECT_EQ(call3(c, 62, root->pid, SIGUSR1, 0), -EPERM); /* kill root */
	KT_EXPECT_EQ(call3(c, 62, root->pid, 0, 0), -EPERM);	   /* even signal 0 */
	KT_EXPECT_EQ(root->sig->pending, 0);
	KT_EXPECT_EQ(call3(c, 62, root->pid, SIGCONT, 0), 0);	   /* same session */
	KT_EXPECT_EQ(call3(c, 62, 0, SIGUSR2, 0), 0); /* its group: itself only */
	KT_EXPECT_EQ(root->sig->pending, 0);
	KT_EXPECT_EQ(c->sig->pending, SIG_BIT(SIGUSR2));
	c->sig->pending = 0;
	KT_EXPECT_EQ(call3(root, 62, c->pid, SIGUSR1, 0), 0); /* root may */
	KT_EXPECT_EQ(c->sig->pending, SIG_BIT(SIGUSR1));
	c->sig->pending = 0;
	/* the saved uid 0 lets it back, as Linux */
	KT_EXPECT_EQ(call3(c, 105, 0, 0, 0), 0);
	KT_EXPECT_EQ(c->cred.euid, 0u);
	KT_EXPECT_EQ(c->cred.uid, 1000u);
	/* getresuid writes to user memory: a kernel thread has none here */
	KT_EXPECT_EQ(call3(c, 118, 0, 0, 0), -EFAULT);

	t = exit_later(&e, c, PROCESS_EXITED(0), 0);
	KT_ASSERT(t != NULL);
	KT_EXPECT_EQ(process_wait(root, -1, PROCESS_WEXITED, &ws), (long)c->pid);
	process_reap(root, c->pid);
	thread_join(t);
	KT_ASSERT(family_end(&fam, root));
}

/* ---- threads (clone's decoding, thread-directed and process-directed
 * signals) without user mode ---- */

struct intr_sleeper {
	struct pthread_info *slot; /* the slot it plays */
	int result;
};

/* Plays a thread of a process: registers as slot's kernel thread, then
 * sleeps interruptibly (up to 5 s). */
static void intr_sleeper_main(void *arg)
{
	struct intr_sleeper *s = arg;
	struct process *p = s->slot->proc;

	spin_lock(&p->tlock);
	s->slot->kthread = thread_current();
	spin_unlock(&p->tlock);
	s->result = thread_sleep_intr_ns(5 * NS_PER_S);
	spin_lock(&p->tlock);
	s->slot->kthread = NULL;
	spin_unlock(&p->tlock);
}

KTEST(proc_thread_clone_refusals_and_signal_targets)
{
	static struct process_family fam;
	struct intr_sleeper sl = {0};
	struct pthread_info *t1;
	struct process *p;
	struct exiter e;
	struct thread *t;
	uint64_t args[6] = {0};
	const uint64_t thread_flags = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000;

	memset(&fam, 0, sizeof(fam));
	p = process_ktest_add(&fam, NULL);
	KT_ASSERT(p != NULL);
	fam.root_pid = p->pid;

	/* clone (56): Linux's refusals, then ours, then no syscall frame */
	args[0] = 0x10000 | 0x100; /* CLONE_THREAD without CLONE_SIGHAND */
	KT_EXPECT_EQ(syscall_invoke(p, 56, args), -EINVAL);
	args[0] = 0x800 | SIGCHLD; /* CLONE_SIGHAND without CLONE_VM */
	KT_EXPECT_EQ(syscall_invoke(p, 56, args), -EINVAL);
	args[0] = 0x100 | 0x800 | 0x10000; /* a thread with its own fds */
	KT_EXPECT_EQ(syscall_invoke(p, 56, args), -EINVAL);
	args[0] = thread_flags | 0x80000; /* CLONE_SETTLS, a kernel address */
	args[4] = 0xffff800000000000ull;
	KT_EXPECT_EQ(syscall_invoke(p, 56, args), -EPERM);
	args[0] = thread_flags;
	args[4] = 0;
	KT_EXPECT_EQ(syscall_invoke(p, 56, args), -EINVAL); /* no frame to copy */
	KT_EXPECT_EQ(p->nthreads, 1);
	memset(args, 0, sizeof(args));
	KT_EXPECT_EQ(syscall_invoke(p, 186, args), p->pid); /* gettid */

	/* a second thread, played by a kernel thread */
	t1 = &p->threads[1];
	t1->sig = signal_thread_create(p->threads[0].sig, true);
	KT_ASSERT(t1->sig != NULL);
	spin_lock(&p->tlock);
	t1->tid = p->pid + 1000;
	p->nthreads = 2;
	spin_unlock(&p->tlock);
	sl.slot = t1;
	t = thread_create("proc-ktest-thread", intr_sleeper_main, &sl, false);
	KT_ASSERT(t != NULL);
	while (!__atomic_load_n(&t1->kthread, __ATOMIC_ACQUIRE))
		thread_sleep_ns(NS_PER_MS);

	/* tgkill (234): a thread that does not exist, then thread 1 */
	args[0] = p->pid;
	args[1] = p->pid + 999;
	args[2] = SIGUSR1;
	KT_EXPECT_EQ(syscall_invoke(p, 234, args), -ESRCH);
	args[1] = p->pid + 1000;
	args[2] = 0;
	KT_EXPECT_EQ(syscall_invoke(p, 234, args), 0); /* signal 0: it exists */
	p->threads[0].sig->blocked = SIG_BIT(SIGUSR1);
	t1->sig->blocked = SIG_BIT(SIGUSR1);
	args[2] = SIGUSR1;
	KT_EXPECT_EQ(syscall_invoke(p, 234, args), 0);
	KT_EXPECT_EQ(t1->sig->pending, SIG_BIT(SIGUSR1)); /* its own, blocked */
	KT_EXPECT_EQ(p->sig->pending, 0);
	KT_EXPECT_EQ(p->threads[0].sig->pending, 0);
	thread_sleep_ns(20 * NS_PER_MS);
	KT_EXPECT_EQ(sl.result, 0); /* blocked: not interrupted */
	t1->sig->pending = 0;

	/* process-directed SIGUSR2 blocked by thread 0 only: thread 1 wakes */
	p->threads[0].sig->blocked = SIG_BIT(SIGUSR2);
	t1->sig->blocked = 0;
	send_locked(p, SIGUSR2);
	KT_EXPECT_EQ(p->sig->pending, SIG_BIT(SIGUSR2));
	thread_join(t);
	KT_EXPECT_EQ(sl.result, -EINTR);
	KT_EXPECT(!signal_pending(p)); /* this test plays thread 0: blocked */
	p->sig->pending = 0;

	/* thread 1 goes; p exits from thread 0 */
	spin_lock(&p->tlock);
	t1->tid = 0;
	p->nthreads = 1;
	spin_unlock(&p->tlock);
	signal_thread_free(t1->sig);
	t1->sig = NULL;
	p->threads[0].sig->blocked = 0;
	t = exit_later(&e, p, PROCESS_EXITED(0), 0);
	KT_ASSERT(t != NULL);
	process_family_wait(&fam);
	thread_join(t);
}
