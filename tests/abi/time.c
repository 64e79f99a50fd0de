/*
 * time: the clocks and sleeps. clock_gettime on the monotonic, boot and
 * realtime clocks (monotonic never goes back over many reads; nanoseconds
 * in range), clock_getres, gettimeofday and time agree with realtime to
 * within a minute, nanosleep and clock_nanosleep return 0 and the
 * monotonic clock has not gone back after them, and the errors (EINVAL,
 * EFAULT). Never asserts a duration: under TCG a sleep may last long.
 *
 * Checks print as "ok N - ..." lines (tests/abi/abi.h); exit 0 iff all
 * passed. Expectations are Linux's: the program passes on the host.
 */
#include "abi.h"

#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

static long long ns_of(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000ll + ts->tv_nsec;
}

static void test_clocks(void)
{
	struct timespec a, b, res;
	int back = 0, range = 0;

	ABI_EQ(clock_gettime(CLOCK_MONOTONIC, &a), 0, "clock_gettime CLOCK_MONOTONIC");
	for (int i = 0; i < 10000; i++) {
		clock_gettime(CLOCK_MONOTONIC, &b);
		back += ns_of(&b) < ns_of(&a);
		range += b.tv_nsec < 0 || b.tv_nsec >= 1000000000;
		a = b;
	}
	ABI_EQ(back, 0, "10000 monotonic reads never go back");
	ABI_EQ(range, 0, "tv_nsec always in 0..999999999");
	ABI_EQ(clock_gettime(CLOCK_BOOTTIME, &b), 0, "clock_gettime CLOCK_BOOTTIME");
	ABI_EQ(clock_gettime(CLOCK_MONOTONIC_COARSE, &b), 0, "clock_gettime CLOCK_MONOTONIC_COARSE");
	ABI_EQ(clock_gettime(CLOCK_REALTIME, &b), 0, "clock_gettime CLOCK_REALTIME");
	ABI_OK(b.tv_sec > 1500000000, "realtime is after 2017");
	{
		struct timeval tv;
		time_t t;
		ABI_EQ(gettimeofday(&tv, NULL), 0, "gettimeofday");
		ABI_OK(tv.tv_usec >= 0 && tv.tv_usec < 1000000, "gettimeofday: tv_usec in range");
		ABI_OK(tv.tv_sec >= b.tv_sec && tv.tv_sec - b.tv_sec < 60,
		       "gettimeofday agrees with CLOCK_REALTIME");
		t = time(NULL);
		ABI_OK(t >= tv.tv_sec && t - tv.tv_sec < 60, "time() agrees with gettimeofday");
		t = 0;
		ABI_OK(syscall(SYS_time, &t) >= tv.tv_sec && t >= tv.tv_sec,
		       "the time system call returns and stores the seconds");
		ABI_ERR(syscall(SYS_time, (void *)8), EFAULT, "time into a bad pointer: EFAULT");
	}
	ABI_EQ(clock_getres(CLOCK_MONOTONIC, &res), 0, "clock_getres CLOCK_MONOTONIC");
	ABI_OK(res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 10000000,
	       "the monotonic resolution is between 1 ns and 10 ms");
	ABI_ERR(clock_gettime((clockid_t)12345, &b), EINVAL, "clock_gettime a bad clock: EINVAL");
	ABI_ERR(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void *)8), EFAULT,
		"clock_gettime into a bad pointer: EFAULT");
}

static void test_sleeps(void)
{
	struct timespec before, after, req = {0, 20 * 1000 * 1000}, rem = {9, 9};

	clock_gettime(CLOCK_MONOTONIC, &before);
	ABI_EQ(nanosleep(&req, &rem), 0, "nanosleep 20 ms returns 0");
	clock_gettime(CLOCK_MONOTONIC, &after);
	ABI_OK(ns_of(&after) >= ns_of(&before), "the monotonic clock did not go back over it");
	ABI_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL), 0,
	       "clock_nanosleep relative returns 0");
	clock_gettime(CLOCK_MONOTONIC, &before);
	before.tv_nsec += 10 * 1000 * 1000;
	if (before.tv_nsec >= 1000000000) {
		before.tv_sec++;
		before.tv_nsec -= 1000000000;
	}
	ABI_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &before, NULL), 0,
	       "clock_nanosleep TIMER_ABSTIME returns 0");
	clock_gettime(CLOCK_MONOTONIC, &after);
	ABI_OK(ns_of(&after) >= ns_of(&before), "TIMER_ABSTIME: woke at or after the deadline");
	req = (struct timespec){0, 0};
	ABI_EQ(nanosleep(&req, NULL), 0, "nanosleep 0 returns 0");
	req = (struct timespec){0, 1000000000};
	ABI_ERR(nanosleep(&req, NULL), EINVAL, "nanosleep with tv_nsec 1e9: EINVAL");
	req = (struct timespec){-1, 0};
	ABI_ERR(nanosleep(&req, NULL), EINVAL, "nanosleep with a negative time: EINVAL");
	ABI_ERR(syscall(SYS_nanosleep, (void *)8, NULL), EFAULT, "nanosleep a bad pointer: EFAULT");
	ABI_EQ(usleep(1000), 0, "usleep 1 ms returns 0");
}

int main(void)
{
	abi_init("time");
	test_clocks();
	test_sleeps();
	return abi_done();
}
