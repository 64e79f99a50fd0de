/*
 * abi.h: the assertions the Linux ABI test programs share (the .c files of tests/abi/,
 * built with musl-gcc -static by mk/cluster.mk into $(BUILD)/abi/, put on
 * the default disk under /abi by scripts/mkrootfs.sh).
 *
 * Each program tests one area of the system call interface a static
 * Linux program sees (files, pipes, processes, signals, time, misc). It
 * is an ordinary static binary: the host (Linux) is the oracle, so every
 * expectation written here must hold there first (tests/cluster/
 * abi_test.py runs each program on the host before the vNode and fails
 * the case if the host disagrees).
 *
 * Output, one line per check, TAP-like:
 *     ok 3 - open O_CREAT|O_EXCL on an existing file: EEXIST
 *     not ok 4 - lseek SEEK_END: got 0, want 11
 * then a plan line "1..N" and "# abi NAME: P passed, F failed". Exit
 * status 0 only if every check passed, 1 otherwise. stdout is
 * line-buffered so that a program that dies has printed every check
 * before it; children of fork never print (they report through their exit
 * status or a pipe), and the parent flushes before each fork.
 *
 * Error paths assert the return value AND errno: ABI_ERR(expr, ENOENT,
 * "...") wants expr to be -1 with errno ENOENT. Raw system calls
 * (syscall(2)) are used where libc would check a pointer itself.
 *
 * Header-only: each program is one .c file plus this.
 */
#ifndef TESTS_ABI_ABI_H
#define TESTS_ABI_ABI_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *abi_prog = "abi";
static int abi_n;      /* checks made */
static int abi_failed; /* checks that failed */

/* Call first: names the program and makes stdout line-buffered. */
static inline void abi_init(const char *prog)
{
	abi_prog = prog;
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Records one check: ok when cond; on failure the why (printf format)
 * follows the name after ": ". Returns cond. */
__attribute__((format(printf, 3, 4))) static inline int
abi_check(int cond, const char *what, const char *why, ...)
{
	va_list ap;

	abi_n++;
	if (cond) {
		printf("ok %d - %s\n", abi_n, what);
		return 1;
	}
	abi_failed++;
	printf("not ok %d - %s: ", abi_n, what);
	va_start(ap, why);
	vprintf(why, ap);
	va_end(ap);
	putchar('\n');
	return 0;
}

/* A plain condition with no value to show. */
#define ABI_OK(cond, what) abi_check(!!(cond), what, "condition false: %s", #cond)

/* got == want, both as long. Evaluates got once; errno shown on failure. */
#define ABI_EQ(got, want, what)                                               \
	({                                                                    \
		long abi_g_ = (long)(got), abi_w_ = (long)(want);             \
		int abi_e_ = errno;                                           \
		abi_check(abi_g_ == abi_w_, what, "got %ld, want %ld (errno %s)", \
			  abi_g_, abi_w_, abi_g_ == -1 ? strerror(abi_e_) : "-"); \
	})

/* expr fails: returns -1 with errno err. */
#define ABI_ERR(expr, err, what)                                              \
	({                                                                    \
		errno = 0;                                                    \
		long abi_g_ = (long)(expr);                                   \
		int abi_e_ = errno;                                           \
		abi_check(abi_g_ == -1 && abi_e_ == (err), what,              \
			  "got %ld errno %d (%s), want -1 errno %d (%s)", abi_g_, \
			  abi_e_, strerror(abi_e_), (err), strerror(err));      \
	})

/* Two strings equal (NULL is shown as "(null)"). */
#define ABI_STR(got, want, what)                                              \
	({                                                                    \
		const char *abi_gs_ = (got), *abi_ws_ = (want);               \
		int abi_ok_ = abi_gs_ && abi_ws_ && !strcmp(abi_gs_, abi_ws_);\
		abi_check(abi_ok_, what, "got \"%s\", want \"%s\"",            \
			  abi_gs_ ? abi_gs_ : "(null)", abi_ws_ ? abi_ws_ : "(null)"); \
	})

/* Ends the program: the plan, the count, exit status 0 iff all passed. */
static inline int abi_done(void)
{
	printf("1..%d\n", abi_n);
	printf("# abi %s: %d passed, %d failed\n", abi_prog, abi_n - abi_failed, abi_failed);
	fflush(stdout);
	return abi_failed ? 1 : 0;
}

/* waitpid(pid, &status, 0)'s status, or -1 if the wait failed. */
static inline int abi_wait_status(pid_t pid)
{
	int st;

	return waitpid(pid, &st, 0) == pid ? st : -1;
}

/* A fresh directory for the program's files: DIR/abi-PROG-PID (DIR is
 * argv[1] if given, else /tmp); made and entered (chdir). Exits 1 if it
 * cannot be made: nothing else could be tested. */
static inline const char *abi_workdir(int argc, char **argv)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/abi-%s-%d", argc > 1 ? argv[1] : "/tmp", abi_prog,
		 (int)getpid());
	if (mkdir(path, 0755) != 0 || chdir(path) != 0) {
		printf("Bail out! cannot make and enter %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return path;
}

#endif
