/*
 * futextest: futex(2) as a single-threaded process sees it (threads come
 * later): FUTEX_WAIT on a word that holds another value fails with
 * EAGAIN, a relative timeout and an absolute (FUTEX_WAIT_BITSET) one
 * that has passed end with ETIMEDOUT, FUTEX_WAKE with nobody waiting
 * wakes 0, and the error paths (misaligned word EINVAL, bad address
 * EFAULT, zero bitset EINVAL, unknown op ENOSYS).
 *
 * One line per check, "futextest: ok NAME" or "futextest: FAIL NAME
 * (why)", the same on Linux and on Tessera; exit 0 only if all passed.
 */
#include "tu.h"

/* Linux's values (musl ships no <linux/futex.h>). */
#define FUTEX_WAIT		  0
#define FUTEX_WAKE		  1
#define FUTEX_WAIT_BITSET	  9
#define FUTEX_PRIVATE_FLAG	  128
#define FUTEX_WAIT_PRIVATE	  (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE	  (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAIT_BITSET_PRIVATE (FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG)
#define FUTEX_BITSET_MATCH_ANY	  0xffffffffu

static unsigned failures;

static void check(const char *name, int ok)
{
	if (ok)
		printf("futextest: ok %s\n", name);
	else
		printf("futextest: FAIL %s (errno %d: %s)\n", name, errno, strerror(errno));
	failures += !ok;
}

static long futex(void *uaddr, int op, uint32_t val, const struct timespec *ts,
		  uint32_t val3)
{
	errno = 0;
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, val3);
}

int main(void)
{
	static uint32_t word = 7;
	struct timespec rel = {0, 10 * 1000 * 1000}, abs;

	tu_init("futextest");
	check("wait_other_value_eagain",
	      futex(&word, FUTEX_WAIT_PRIVATE, 8, NULL, 0) == -1 && errno == EAGAIN);
	check("wait_relative_timeout",
	      futex(&word, FUTEX_WAIT_PRIVATE, 7, &rel, 0) == -1 && errno == ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &abs);
	check("wait_bitset_absolute_past",
	      futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 7, &abs, FUTEX_BITSET_MATCH_ANY) ==
			      -1 &&
		      errno == ETIMEDOUT);
	check("wake_nobody", futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, 0) == 0);
	check("wake_shared_nobody", futex(&word, FUTEX_WAKE, 10, NULL, 0) == 0);
	check("misaligned_einval",
	      futex((char *)&word + 1, FUTEX_WAIT, 7, NULL, 0) == -1 && errno == EINVAL);
	check("bad_address_efault",
	      futex((void *)8, FUTEX_WAIT, 7, NULL, 0) == -1 && errno == EFAULT);
	check("zero_bitset_einval",
	      futex(&word, FUTEX_WAIT_BITSET, 7, &rel, 0) == -1 && errno == EINVAL);
	check("unknown_op_enosys", futex(&word, 99, 0, NULL, 0) == -1 && errno == ENOSYS);
	if (failures)
		return 1;
	printf("futextest: all passed\n");
	return 0;
}
