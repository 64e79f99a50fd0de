/*
 * forktest [MIB]: processes on a processor: fork with copy-on-write
 * memory, wait4/waitid and the statuses they report, getppid, clone with
 * fork's flags, vfork (the child in the parent's memory until its exec
 * or exit; an exec of this program as "forktest vfork-exit", which
 * exits 23 at once, gives it its own, VFORK_CYCLES times: the memory
 * test checks that the memory nodes' frames come back). MIB (default 4, 2..64) is the size of the memory the
 * parent writes before the first fork: more than a 1 MiB ExCache, so the
 * child's view comes from the memory node, not from lines the fork left
 * in the cache.
 *
 * Children never print: they report through their exit status, and the
 * parent prints one line per check, "forktest: ok NAME" or "forktest:
 * FAIL NAME (why)", in a fixed order, so the output is the same on Linux
 * and on Tessera. Exit 0 only if every check passed, 1 otherwise.
 */
#define _GNU_SOURCE /* CLONE_* */
#include "tu.h"

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define USAGE "[MIB]   (2..64, default 4)"

#define SEED_PARENT 0x1111
#define SEED_CHILD  0x2222
#define SEED_FRESH  0x3333
#define FRESH_BYTES (1ul << 20)

/* The first child's findings, as bits of its exit status 100 + bits. */
#define CHILD_OK	100
#define BAD_VIEW	0x1 /* the parent's pre-fork memory looked wrong */
#define BAD_OWN		0x2 /* its own writes did not read back */
#define BAD_FRESH	0x4 /* a fresh mmap was not zero or not writable */
#define BAD_PPID	0x8 /* getppid was not the parent's pid */

#define VFORK_EXIT   23 /* "forktest vfork-exit"'s status */
#define VFORK_CYCLES 8	/* vfork + exec + exit rounds */

static unsigned failures;

static void check(const char *name, int ok, const char *why)
{
	if (ok)
		printf("forktest: ok %s\n", name);
	else
		printf("forktest: FAIL %s (%s)\n", name, why);
	failures += !ok;
}

static void fill(uint64_t *w, size_t words, uint64_t seed)
{
	for (size_t i = 0; i < words; i++)
		w[i] = tu_pattern(i, seed);
}

/* True if every word is the pattern of seed. */
static int holds(const uint64_t *w, size_t words, uint64_t seed)
{
	for (size_t i = 0; i < words; i++)
		if (w[i] != tu_pattern(i, seed))
			return 0;
	return 1;
}

/* fork(), with stdout flushed first so no buffered line is printed twice. */
static pid_t fork_flushed(void)
{
	fflush(stdout);
	fflush(stderr);
	return fork();
}

/* The first child: looks at the parent's memory, overwrites it, maps a
 * fresh region, checks getppid. Never returns. */
static void first_child(uint64_t *mem, size_t words, pid_t parent)
{
	int bad = 0;
	uint64_t *fresh;

	if (!holds(mem, words, SEED_PARENT))
		bad |= BAD_VIEW;
	fill(mem, words, SEED_CHILD);
	if (!holds(mem, words, SEED_CHILD))
		bad |= BAD_OWN;
	fresh = mmap(NULL, FRESH_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	if (fresh == MAP_FAILED) {
		bad |= BAD_FRESH;
	} else {
		if (fresh[0] != 0 || fresh[FRESH_BYTES / 8 - 1] != 0)
			bad |= BAD_FRESH;
		fill(fresh, FRESH_BYTES / 8, SEED_FRESH);
		if (!holds(fresh, FRESH_BYTES / 8, SEED_FRESH))
			bad |= BAD_FRESH;
	}
	if (getppid() != parent)
		bad |= BAD_PPID;
	_exit(CHILD_OK + bad);
}

static void test_cow(uint64_t *mem, size_t words)
{
	pid_t pid, w, self = getpid();
	int st = 0, bits = -1;

	fill(mem, words, SEED_PARENT);
	pid = fork_flushed();
	if (pid == 0)
		first_child(mem, words, self);
	check("fork", pid > 0, "fork failed");
	if (pid < 0)
		return;
	w = wait4(pid, &st, 0, NULL);
	check("wait4-pid", w == pid, "wait4 did not return the child");
	if (w == pid && WIFEXITED(st) && WEXITSTATUS(st) >= CHILD_OK &&
	    WEXITSTATUS(st) < CHILD_OK + 16)
		bits = WEXITSTATUS(st) - CHILD_OK;
	check("wait4-exited", bits >= 0, "not WIFEXITED with the child's code");
	check("child-sees-parent-memory", bits >= 0 && !(bits & BAD_VIEW),
	      "the child saw other data");
	check("child-writes-its-copy", bits >= 0 && !(bits & BAD_OWN),
	      "the child's writes did not read back");
	check("child-fresh-mmap", bits >= 0 && !(bits & BAD_FRESH),
	      "the child's fresh mmap was wrong");
	check("child-getppid", bits >= 0 && !(bits & BAD_PPID), "getppid != parent's pid");
	check("parent-memory-unchanged", holds(mem, words, SEED_PARENT),
	      "the child's writes reached the parent (no copy-on-write)");
}

/* Three children at once, each writing its own seed over part of mem and
 * exiting with 10 + its index after a different delay. */
static void test_three(uint64_t *mem, size_t words)
{
	pid_t pids[3];
	int seen[3] = {0, 0, 0}, good = 1, st;
	size_t part = words < 32768 ? words : 32768; /* 256 KiB each */

	for (int i = 0; i < 3; i++) {
		pids[i] = fork_flushed();
		if (pids[i] == 0) {
			fill(mem, part, 0x5000 + (uint64_t)i);
			tu_sleep_ms(30 * (unsigned)(3 - i));
			_exit(holds(mem, part, 0x5000 + (uint64_t)i) ? 10 + i : 1);
		}
		if (pids[i] < 0)
			good = 0;
	}
	check("fork-three", good, "a fork failed");
	if (!good)
		return;
	/* the middle one by pid first, then any two */
	if (wait4(pids[1], &st, 0, NULL) != pids[1] || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 11)
		good = 0;
	seen[1] = 1;
	for (int n = 0; n < 2; n++) {
		pid_t w = wait4(-1, &st, 0, NULL);

		for (int i = 0; i < 3; i++)
			if (w == pids[i] && !seen[i] && WIFEXITED(st) &&
			    WEXITSTATUS(st) == 10 + i)
				seen[i] = 1;
	}
	check("wait-three", good && seen[0] && seen[1] && seen[2],
	      "wrong pids or statuses from wait4");
	check("parent-memory-unchanged-after-three", holds(mem, words, SEED_PARENT),
	      "a child's writes reached the parent");
}

static void test_segv(void)
{
	int st = 0;
	pid_t pid = fork_flushed(), w;

	if (pid == 0) {
		*(volatile int *)(uintptr_t)0 = 1;
		_exit(1);
	}
	w = pid > 0 ? waitpid(pid, &st, 0) : -1;
	check("child-segv-signaled", w == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
	      "not WIFSIGNALED with WTERMSIG 11");
}

static void test_wnohang_and_waitid(void)
{
	siginfo_t si;
	int st = 0, r;
	pid_t pid = fork_flushed(), w;

	if (pid == 0) {
		tu_sleep_ms(200);
		_exit(7);
	}
	if (pid < 0) {
		check("wnohang", 0, "fork failed");
		return;
	}
	w = waitpid(pid, &st, WNOHANG);
	check("wnohang", w == 0, "WNOHANG did not return 0 for a running child");
	memset(&si, 0xff, sizeof(si));
	r = waitid(P_PID, (id_t)pid, &si, WEXITED);
	check("waitid", r == 0 && si.si_pid == pid && si.si_signo == SIGCHLD &&
				si.si_code == CLD_EXITED && si.si_status == 7,
	      "waitid's siginfo is wrong");
}

static void test_clone(void)
{
	pid_t ptid = 0, ctid = 0;
	int st = 0;
	long r = syscall(SYS_clone, SIGCHLD | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID, 0,
			 &ptid, &ctid, 0);

	if (r == 0) /* raw clone: only raw system calls from here */
		syscall(SYS_exit_group, ctid == (pid_t)syscall(SYS_getpid) ? 21 : 22);
	check("clone-fork-flags",
	      r > 0 && ptid == (pid_t)r && waitpid((pid_t)r, &st, 0) == (pid_t)r &&
		      WIFEXITED(st) && WEXITSTATUS(st) == 21,
	      "clone(SIGCHLD|CLONE_*_SETTID) misbehaved");
}

/* vfork; the child stores into mem[0] and *mapped (a fresh mapping of
 * FRESH_BYTES it fills with SEED_FRESH), tries an exec of a missing
 * path (its errno into *err), then with exec execs /proc/self/exe
 * vfork-exit, else _exits 0. Its pid. */
static __attribute__((noinline)) pid_t vfork_child(uint64_t *mem, uint64_t *volatile *mapped,
						   volatile int *err, int exec)
{
	volatile int do_exec = exec; /* the child's stores may change registers */
	pid_t pid;

	fflush(stdout);
	pid = vfork();
	if (pid != 0)
		return pid;
	mem[0] = SEED_CHILD;
	if (mapped) {
		uint64_t *m = mmap(NULL, FRESH_BYTES, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m != MAP_FAILED)
			fill(m, FRESH_BYTES / 8, SEED_FRESH);
		*mapped = m == MAP_FAILED ? NULL : m;
	}
	execl("/nonexistent/forktest", "forktest", (char *)NULL);
	*err = errno;
	if (do_exec)
		execl("/proc/self/exe", "forktest", "vfork-exit", (char *)NULL);
	_exit(do_exec ? 99 : 0);
}

static void test_vfork(uint64_t *mem, size_t words)
{
	uint64_t *volatile mapped = NULL;
	volatile int err = 0;
	int st = -1, ok, stored;
	pid_t pid;

	fill(mem, words, SEED_PARENT);
	pid = vfork_child(mem, &mapped, &err, 0);
	ok = pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st);
	stored = mem[0] == SEED_CHILD;
	mem[0] = tu_pattern(0, SEED_PARENT);
	check("vfork-shared",
	      ok && stored && holds(mem, words, SEED_PARENT) && err == ENOENT && mapped &&
		      holds(mapped, FRESH_BYTES / 8, SEED_FRESH),
	      "the child's stores, errno or mapping are not the parent's");
	if (mapped)
		munmap(mapped, FRESH_BYTES);
	for (unsigned i = 0; i < VFORK_CYCLES && ok; i++) {
		mem[0] = 0;
		err = 0;
		pid = vfork_child(mem, NULL, &err, 1);
		ok = pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		     WEXITSTATUS(st) == VFORK_EXIT && mem[0] == SEED_CHILD && err == ENOENT;
	}
	mem[0] = tu_pattern(0, SEED_PARENT);
	check("vfork-exec", ok && holds(mem, words, SEED_PARENT),
	      "vfork + exec + exit misbehaved, or the exec touched the parent's memory");
}

static void test_echild(void)
{
	int st;
	pid_t w;

	errno = 0;
	w = wait4(-1, &st, 0, NULL);
	check("wait4-echild", w == -1 && errno == ECHILD, "no ECHILD without children");
}

int main(int argc, char **argv)
{
	uint64_t mib = 4, *mem;
	size_t bytes, words;

	if (argc == 2 && !strcmp(argv[1], "vfork-exit"))
		return VFORK_EXIT; /* test_vfork's exec */
	tu_init("forktest");
	if (argc > 2)
		tu_usage(USAGE);
	if (argc == 2)
		mib = tu_number(argv[1], 2, 64, "MIB", USAGE);
	bytes = (size_t)mib << 20;
	words = bytes / 8;
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		tu_fail("mmap of %llu MiB failed", (unsigned long long)mib);
	test_echild();
	test_cow(mem, words);
	test_three(mem, words);
	test_segv();
	test_wnohang_and_waitid();
	test_clone();
	test_vfork(mem, words);
	printf("forktest: %s\n", failures ? "FAILED" : "all passed");
	return failures ? 1 : 0;
}
