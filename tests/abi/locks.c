/*
 * locks [DIR]: record locks (fcntl F_SETLK, F_SETLKW, F_GETLK and the
 * F_OFD_ twins) and flock(2) between a process and its fork children, on
 * a file in DIR/abi-locks-PID (DIR default /tmp), removed again.
 *
 * A child reports through its exit status: one bit per failed check
 * (abi.h: children never print); parent and child take turns through
 * two pipes (go: parent to child, back: child to parent), never by
 * sleeping. Checks print as "ok N - ..." lines (tests/abi/abi.h); exit 0
 * iff all passed. Expectations are Linux's: the program passes on the
 * host.
 */
#include "abi.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>

#define FILE_NAME "locked"

static int go[2], back[2]; /* parent -> child, child -> parent */

static void say(int fd)
{
	char c = 'x';

	if (write(fd, &c, 1) != 1)
		_exit(100);
}

static void hear(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1)
		_exit(101);
}

/* fcntl(fd, cmd) on [start, start + len) of type; its result. */
static int lk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};

	return fcntl(fd, cmd, &fl);
}

/* F_GETLK (or F_OFD_GETLK) for type over [start, start + len): what it
 * says into *out. */
static int getlk(int fd, int cmd, short type, off_t start, off_t len, struct flock *out)
{
	*out = (struct flock){.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	return fcntl(fd, cmd, out);
}

static pid_t start_child(int (*fn)(void))
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(fn());
	return pid;
}

/* The child's exit status (its failed-check bits), or -1. */
static int child_status(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* ---- POSIX locks between two processes ---- */

static pid_t parent_pid;

/* Bits of the conflict child. */
#define C_AGAIN	  0x01 /* F_SETLK on the parent's range: EAGAIN */
#define C_GETLK	  0x02 /* F_GETLK: F_WRLCK, [0, 10), the parent's pid */
#define C_BESIDE  0x04 /* F_SETLK next to it: 0 */
#define C_AFTER	  0x08 /* after the parent's unlock: F_SETLK gets it */
#define C_WAIT	  0x10 /* F_SETLKW waits for the parent's unlock, gets it */
#define C_READ	  0x20 /* two read locks share */
static const char *conflict_bits[] = {
	"child's F_SETLK on the parent's write-locked range: EAGAIN",
	"child's F_GETLK reports the parent's lock: F_WRLCK, start 0, len 10, its pid",
	"child's F_SETLK on the range next to it succeeds",
	"after the parent's F_UNLCK the child's F_SETLK gets the range",
	"child's F_SETLKW sleeps until the parent unlocks, then has the lock",
	"a read lock of the child shares the parent's read lock",
};

static int conflict_child(void)
{
	int fd = open(FILE_NAME, O_RDWR), bad = 0;
	struct flock fl;

	if (fd < 0)
		return 0x7f;
	if (lk(fd, F_SETLK, F_WRLCK, 0, 10) != -1 || errno != EAGAIN)
		bad |= C_AGAIN;
	if (getlk(fd, F_GETLK, F_WRLCK, 5, 1, &fl) || fl.l_type != F_WRLCK || fl.l_start != 0 ||
	    fl.l_len != 10 || fl.l_pid != parent_pid || fl.l_whence != SEEK_SET)
		bad |= C_GETLK;
	if (lk(fd, F_SETLK, F_WRLCK, 10, 10))
		bad |= C_BESIDE;
	say(back[1]);
	hear(go[0]); /* the parent unlocked */
	if (lk(fd, F_SETLK, F_WRLCK, 0, 10))
		bad |= C_AFTER;
	lk(fd, F_SETLK, F_UNLCK, 0, 0);
	say(back[1]);
	hear(go[0]); /* the parent holds [0, 10) again */
	say(back[1]);
	if (lk(fd, F_SETLKW, F_WRLCK, 0, 10)) /* until the parent's unlock */
		bad |= C_WAIT;
	lk(fd, F_SETLK, F_UNLCK, 0, 0);
	say(back[1]);
	hear(go[0]); /* the parent holds a read lock on [0, 10) */
	if (lk(fd, F_SETLK, F_RDLCK, 0, 10))
		bad |= C_READ;
	return bad;
}

static void report(int st, const char **what, int nbits)
{
	for (int i = 0; i < nbits; i++)
		abi_check(st >= 0 && !(st & (1 << i)), what[i], "child status %d", st);
}

static void test_conflict(int fd)
{
	pid_t pid;
	struct flock fl;

	ABI_EQ(lk(fd, F_SETLK, F_WRLCK, 0, 10), 0, "F_SETLK F_WRLCK on [0, 10)");
	ABI_EQ(getlk(fd, F_GETLK, F_WRLCK, 0, 10, &fl), 0, "F_GETLK on one's own lock");
	ABI_EQ(fl.l_type, F_UNLCK, "F_GETLK: one's own lock is no conflict (F_UNLCK)");
	pid = start_child(conflict_child);
	hear(back[0]);
	ABI_EQ(lk(fd, F_SETLK, F_UNLCK, 0, 10), 0, "F_SETLK F_UNLCK");
	say(go[1]);
	hear(back[0]); /* the child had it and let go */
	ABI_EQ(lk(fd, F_SETLK, F_WRLCK, 0, 10), 0, "F_SETLK again once the child let go");
	say(go[1]);
	hear(back[0]); /* the child is about to wait */
	ABI_EQ(lk(fd, F_SETLK, F_UNLCK, 0, 10), 0, "F_UNLCK wakes the child's F_SETLKW");
	hear(back[0]);
	ABI_EQ(lk(fd, F_SETLK, F_RDLCK, 0, 10), 0, "F_SETLK F_RDLCK");
	say(go[1]);
	report(child_status(pid), conflict_bits, 6);
	ABI_EQ(lk(fd, F_SETLK, F_UNLCK, 0, 0), 0, "F_UNLCK of the whole file (len 0)");
}

/* ---- release at close and at exit ---- */

static int holds_child(void)
{
	int fd = open(FILE_NAME, O_RDWR);

	if (fd < 0 || lk(fd, F_SETLK, F_WRLCK, 0, 1))
		return 1;
	say(back[1]);
	hear(go[0]);
	return 0; /* exits holding it */
}

#define P_AGAIN 0x01
#define P_FREE	0x02
static int probe_child(void)
{
	int fd = open(FILE_NAME, O_RDWR), bad = 0;

	if (lk(fd, F_SETLK, F_WRLCK, 0, 1) != -1 || errno != EAGAIN)
		bad |= P_AGAIN;
	say(back[1]);
	hear(go[0]); /* the parent closed another fd of the file */
	if (lk(fd, F_SETLK, F_WRLCK, 0, 1))
		bad |= P_FREE;
	return bad;
}

static void test_release(int fd)
{
	static const char *probe_bits[] = {
		"child's F_SETLK while the parent holds the lock: EAGAIN",
		"closing ANOTHER fd of the file drops the parent's lock (POSIX): the child gets it",
	};
	int fd2;
	pid_t pid;

	ABI_EQ(lk(fd, F_SETLK, F_WRLCK, 0, 1), 0, "F_SETLK before a close");
	pid = start_child(probe_child);
	hear(back[0]);
	fd2 = open(FILE_NAME, O_RDONLY);
	ABI_EQ(close(fd2), 0, "open and close a second fd of the locked file");
	say(go[1]);
	report(child_status(pid), probe_bits, 2);

	pid = start_child(holds_child);
	hear(back[0]);
	ABI_ERR(lk(fd, F_SETLK, F_WRLCK, 0, 1), EAGAIN, "F_SETLK on a child's lock: EAGAIN");
	say(go[1]);
	ABI_EQ(child_status(pid), 0, "the child exits holding its lock");
	ABI_EQ(lk(fd, F_SETLK, F_WRLCK, 0, 1), 0, "its exit released it: F_SETLK succeeds");
	ABI_EQ(lk(fd, F_SETLK, F_UNLCK, 0, 1), 0, "F_UNLCK");
}

/* ---- F_SETLKW interrupted ---- */

static void on_alarm(int sig)
{
	(void)sig;
}

static int intr_child(void)
{
	struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
	int fd = open(FILE_NAME, O_RDWR);

	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	if (lk(fd, F_SETLKW, F_WRLCK, 0, 1) != -1 || errno != EINTR)
		return 1;
	return 0;
}

static void test_intr(int fd)
{
	ABI_EQ(lk(fd, F_SETLK, F_WRLCK, 0, 1), 0, "F_SETLK (the child will wait for it)");
	ABI_EQ(child_status(start_child(intr_child)), 0,
	       "a signal (no SA_RESTART) ends the child's F_SETLKW with EINTR");
	ABI_EQ(lk(fd, F_SETLK, F_UNLCK, 0, 1), 0, "F_UNLCK");
}

/* ---- deadlock ---- */

/* Holds byte 1, then waits for byte 0 (the parent's): 2 if that wait
 * answered EDEADLK, 0 if it got the lock, 1 otherwise. */
static int deadlock_child(void)
{
	int fd = open(FILE_NAME, O_RDWR);

	if (fd < 0 || lk(fd, F_SETLK, F_WRLCK, 1, 1))
		return 1;
	say(back[1]);
	if (lk(fd, F_SETLKW, F_WRLCK, 0, 1) == 0)
		return 0;
	return errno == EDEADLK ? 2 : 1;
}

/* Parent holds byte 0 and waits for byte 1, the child the other way
 * round: whichever of the two waits second closes the cycle and gets
 * EDEADLK, the other then gets its lock. */
static void test_deadlock(int fd)
{
	int r, st, mine;
	pid_t pid;

	ABI_EQ(lk(fd, F_SETLK, F_WRLCK, 0, 1), 0, "F_SETLK byte 0");
	pid = start_child(deadlock_child);
	hear(back[0]); /* the child holds byte 1 */
	r = lk(fd, F_SETLKW, F_WRLCK, 1, 1);
	mine = r == -1 && errno == EDEADLK;
	if (mine)
		lk(fd, F_SETLK, F_UNLCK, 0, 1); /* let the child have byte 0 */
	st = child_status(pid);
	abi_check((mine && st == 0) || (r == 0 && st == 2),
		  "F_SETLKW closing a cycle of two waiting processes: one of them gets EDEADLK",
		  "parent F_SETLKW %d (%s), child status %d", r, r ? strerror(errno) : "-", st);
	lk(fd, F_SETLK, F_UNLCK, 0, 0);
}

/* ---- ranges and errors ---- */

static void test_ranges(int fd)
{
	struct flock fl;
	int rd = open(FILE_NAME, O_RDONLY);
	pid_t pid;

	/* a write lock cut in the middle by an unlock: two locks remain */
	ABI_EQ(lk(fd, F_SETLK, F_WRLCK, 100, 100), 0, "F_SETLK [100, 200)");
	ABI_EQ(lk(fd, F_SETLK, F_UNLCK, 140, 20), 0, "F_UNLCK [140, 160) splits it");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int f = open(FILE_NAME, O_RDWR), bad = 0;

		if (getlk(f, F_GETLK, F_WRLCK, 150, 100, &fl) || fl.l_start != 160 ||
		    fl.l_len != 40)
			bad |= 1;
		if (lk(f, F_SETLK, F_WRLCK, 140, 20))
			bad |= 2;
		if (getlk(f, F_GETLK, F_RDLCK, 0, 0, &fl) || fl.l_start != 100 || fl.l_len != 40)
			bad |= 4;
		_exit(bad);
	}
	report(child_status(pid),
	       (const char *[]){"F_GETLK from [150, 250): the second part, [160, 200)",
				"the hole [140, 160) can be locked by another process",
				"F_GETLK of the whole file: the first part, [100, 140)"},
	       3);
	ABI_EQ(lk(fd, F_SETLK, F_UNLCK, 0, 0), 0, "F_UNLCK all");

	ABI_ERR(lk(rd, F_SETLK, F_WRLCK, 0, 1), EBADF, "F_WRLCK on an O_RDONLY fd: EBADF");
	ABI_ERR(lk(fd, F_SETLK, 7, 0, 1), EINVAL, "l_type 7: EINVAL");
	ABI_ERR(getlk(fd, F_GETLK, F_UNLCK, 0, 1, &fl), EINVAL, "F_GETLK of F_UNLCK: EINVAL");
	ABI_ERR(lk(fd, F_SETLK, F_WRLCK, -5, 1), EINVAL, "a negative start: EINVAL");
	ABI_ERR(lk(fd, F_SETLK, F_WRLCK, 2, -5), EINVAL, "a negative length past 0: EINVAL");
	ABI_EQ(lk(fd, F_SETLK, F_WRLCK, 10, -5), 0, "a negative length: the bytes before");
	ABI_ERR(lk(99, F_SETLK, F_WRLCK, 0, 1), EBADF, "F_SETLK on a closed fd: EBADF");
	ABI_ERR(fcntl(fd, F_SETLK, (void *)8), EFAULT, "F_SETLK with a bad pointer: EFAULT");
	lk(fd, F_SETLK, F_UNLCK, 0, 0);
	close(rd);
}

/* ---- OFD locks ---- */

static void test_ofd(int fd)
{
	int fd2 = open(FILE_NAME, O_RDWR);
	struct flock fl;

	ABI_EQ(lk(fd, F_OFD_SETLK, F_WRLCK, 0, 10), 0, "F_OFD_SETLK on one open file");
	ABI_ERR(lk(fd2, F_OFD_SETLK, F_WRLCK, 5, 1), EAGAIN,
		"F_OFD_SETLK through another open of the file: EAGAIN (same process)");
	ABI_ERR(lk(fd2, F_SETLK, F_WRLCK, 5, 1), EAGAIN,
		"a POSIX lock conflicts with the OFD lock: EAGAIN");
	ABI_EQ(getlk(fd2, F_OFD_GETLK, F_RDLCK, 0, 0, &fl), 0, "F_OFD_GETLK");
	ABI_OK(fl.l_type == F_WRLCK && fl.l_pid == -1 && fl.l_len == 10,
	       "F_OFD_GETLK reports the OFD lock with l_pid -1");
	ABI_ERR(fcntl(fd2, F_OFD_SETLK, &(struct flock){.l_type = F_RDLCK, .l_pid = 1}), EINVAL,
		"F_OFD_SETLK with l_pid set: EINVAL");
	ABI_EQ(close(fd), 0, "close the open file that holds the OFD lock");
	ABI_EQ(lk(fd2, F_OFD_SETLK, F_WRLCK, 5, 1), 0, "its OFD lock went with it");
	close(fd2);
}

/* ---- flock ---- */

#define F_NB	0x01 /* LOCK_EX|LOCK_NB on another open file: EWOULDBLOCK */
#define F_SAME	0x02 /* LOCK_EX on the inherited fd: the same lock, 0 */
#define F_AFTER 0x04 /* after the parent's LOCK_UN: LOCK_EX|LOCK_NB gets it */
static int flock_child(void)
{
	int fd = open(FILE_NAME, O_RDONLY), bad = 0;

	if (flock(fd, LOCK_EX | LOCK_NB) != -1 || errno != EWOULDBLOCK)
		bad |= F_NB;
	say(back[1]);
	hear(go[0]);
	if (flock(fd, LOCK_EX | LOCK_NB))
		bad |= F_AFTER;
	return bad;
}

static void test_flock(int fd)
{
	static const char *bits[] = {
		"child's flock LOCK_EX|LOCK_NB on its own open of the file: EWOULDBLOCK",
		"(unused)",
		"after the parent's LOCK_UN the child's LOCK_EX|LOCK_NB succeeds",
	};
	int fd2 = open(FILE_NAME, O_RDONLY), fd3;
	pid_t pid;

	ABI_EQ(flock(fd, LOCK_EX), 0, "flock LOCK_EX");
	ABI_ERR(flock(fd2, LOCK_SH | LOCK_NB), EWOULDBLOCK,
		"flock through another open file of the same process: EWOULDBLOCK");
	ABI_EQ(lk(fd2, F_SETLK, F_RDLCK, 0, 0), 0, "fcntl locks do not meet flock locks");
	lk(fd2, F_SETLK, F_UNLCK, 0, 0);
	fd3 = dup(fd);
	ABI_EQ(flock(fd3, LOCK_SH), 0, "flock through a dup: the same lock, converted");
	ABI_EQ(flock(fd, LOCK_EX), 0, "and back to LOCK_EX");
	pid = start_child(flock_child);
	hear(back[0]);
	ABI_EQ(flock(fd, LOCK_UN), 0, "flock LOCK_UN");
	say(go[1]);
	{
		int st = child_status(pid);

		abi_check(st >= 0 && !(st & F_NB), bits[0], "child status %d", st);
		abi_check(st >= 0 && !(st & F_AFTER), bits[2], "child status %d", st);
	}
	/* the child's lock went with its exit (its open file closed) */
	ABI_EQ(flock(fd2, LOCK_EX | LOCK_NB), 0, "the child's flock went with its exit");
	ABI_EQ(close(fd2), 0, "close the holder");
	ABI_EQ(flock(fd, LOCK_EX | LOCK_NB), 0, "closing it released the flock lock");
	ABI_ERR(flock(fd, 3), EINVAL, "flock with LOCK_SH|LOCK_EX: EINVAL");
	ABI_ERR(flock(99, LOCK_EX), EBADF, "flock on a closed fd: EBADF");
	close(fd3);
}

int main(int argc, char **argv)
{
	int fd;

	abi_init("locks");
	abi_workdir(argc, argv);
	parent_pid = getpid();
	if (pipe(go) || pipe(back))
		return 1;
	fd = open(FILE_NAME, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (!ABI_OK(fd >= 0, "create the file") || !ABI_EQ(write(fd, "0123456789", 10), 10, "write"))
		return abi_done();
	test_conflict(fd);
	test_release(fd);
	test_intr(fd);
	test_deadlock(fd);
	test_ranges(fd);
	test_flock(fd);
	test_ofd(fd); /* closes fd */
	unlink(FILE_NAME);
	if (chdir("..") == 0) {
		char dir[64];

		snprintf(dir, sizeof(dir), "abi-locks-%d", (int)getpid());
		rmdir(dir);
	}
	return abi_done();
}
