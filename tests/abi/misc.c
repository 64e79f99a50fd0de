/*
 * misc: the rest of what libc asks at start-up and small programs use.
 * uname, getrandom, getrlimit and prlimit64, sched_getaffinity, the ids,
 * umask, the devices /dev/null, /dev/zero and /dev/urandom, ioctl
 * TCGETS on what is not a terminal (ENOTTY), /proc/self/exe,
 * /proc/self/maps (a fresh mapping's exact line, the program's text, the
 * stack), mbind on a machine of one NUMA node (as the host and a vNode
 * both are), and the errors of each; LegoOS's pcache_stat (667) and
 * drop_page_cache (668), which Tessera serves at LegoOS's numbers, and
 * Tessera's tessera_fabric_ping (1025); Linux answers those ENOSYS.
 *
 * Run with argv[0] an absolute path: /proc/self/exe must name it.
 *
 * Checks print as "ok N - ..." lines (tests/abi/abi.h); exit 0 iff all
 * passed. Expectations are Linux's: the program passes on the host.
 */
#include "abi.h"

#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <termios.h>

static void test_uname(void)
{
	struct utsname u;

	ABI_EQ(uname(&u), 0, "uname");
	ABI_OK(u.sysname[0] != 0, "uname: a system name");
	ABI_STR(u.machine, "x86_64", "uname: machine x86_64");
	ABI_OK(u.release[0] >= '3' && u.release[0] <= '9' && u.release[1] == '.',
	       "uname: a release like 6.x that libc accepts");
	ABI_OK(u.nodename[0] != 0, "uname: a node name");
	ABI_ERR(syscall(SYS_uname, (void *)8), EFAULT, "uname into a bad pointer: EFAULT");
}

static void test_random(void)
{
	unsigned char a[64], b[64];

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	ABI_EQ(getrandom(a, sizeof(a), 0), 64, "getrandom 64 bytes");
	ABI_EQ(getrandom(b, sizeof(b), GRND_NONBLOCK), 64, "getrandom GRND_NONBLOCK");
	ABI_OK(memcmp(a, b, sizeof(a)) != 0, "two getrandom calls differ");
	ABI_EQ(getrandom(a, 0, 0), 0, "getrandom 0 bytes: 0");
	ABI_ERR(getrandom(a, 8, 0x1000), EINVAL, "getrandom with bad flags: EINVAL");
	ABI_ERR(getrandom((void *)8, 8, 0), EFAULT, "getrandom into a bad pointer: EFAULT");
}

static void test_limits(void)
{
	struct rlimit rl, rl2;
	cpu_set_t set;

	ABI_EQ(getrlimit(RLIMIT_STACK, &rl), 0, "getrlimit RLIMIT_STACK");
	ABI_OK(rl.rlim_cur >= 1 << 20 && rl.rlim_cur <= rl.rlim_max,
	       "the stack limit is at least 1 MiB and cur <= max");
	ABI_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0, "getrlimit RLIMIT_NOFILE");
	ABI_OK(rl.rlim_cur >= 64 && rl.rlim_cur <= rl.rlim_max, "at least 64 open files");
	ABI_EQ(prlimit(0, RLIMIT_NOFILE, NULL, &rl2), 0, "prlimit64 reads RLIMIT_NOFILE");
	ABI_OK(rl2.rlim_cur == rl.rlim_cur && rl2.rlim_max == rl.rlim_max,
	       "prlimit64 and getrlimit agree");
	rl2.rlim_cur = 64;
	ABI_EQ(setrlimit(RLIMIT_NOFILE, &rl2), 0, "setrlimit lowers RLIMIT_NOFILE to 64");
	getrlimit(RLIMIT_NOFILE, &rl);
	ABI_EQ(rl.rlim_cur, 64, "getrlimit sees the new limit");
	ABI_ERR(getrlimit(99, &rl), EINVAL, "getrlimit a bad resource: EINVAL");
	ABI_ERR(syscall(SYS_getrlimit, RLIMIT_STACK, (void *)8), EFAULT,
		"getrlimit into a bad pointer: EFAULT");

	CPU_ZERO(&set);
	ABI_EQ(sched_getaffinity(0, sizeof(set), &set), 0, "sched_getaffinity");
	ABI_OK(CPU_COUNT(&set) >= 1, "at least one CPU in the affinity mask");
	ABI_ERR(syscall(SYS_sched_getaffinity, 0, 3, &set), EINVAL,
		"sched_getaffinity with 3 bytes: EINVAL");
	ABI_OK(sysconf(_SC_NPROCESSORS_ONLN) >= 1, "sysconf(_SC_NPROCESSORS_ONLN) >= 1");
}

static void test_ids(void)
{
	ABI_EQ(getuid(), geteuid(), "getuid == geteuid");
	ABI_EQ(getgid(), getegid(), "getgid == getegid");
	ABI_OK(getpgrp() > 0, "getpgrp > 0");
	ABI_OK(getsid(0) > 0, "getsid(0) > 0");
	ABI_EQ(getpgid(0), getpgrp(), "getpgid(0) is getpgrp()");
	ABI_EQ(umask(027), 022, "umask returns the old mask 022");
	ABI_EQ(umask(022), 027, "umask returns the mask set before: 027");
}

static void test_devices(void)
{
	char buf[256];
	int fd;

	fd = open("/dev/null", O_RDWR);
	ABI_OK(fd >= 0, "open /dev/null");
	ABI_EQ(read(fd, buf, sizeof(buf)), 0, "read /dev/null: end of file");
	ABI_EQ(write(fd, buf, sizeof(buf)), 256, "write /dev/null: all taken");
	{
		struct stat st;
		ABI_EQ(fstat(fd, &st), 0, "fstat /dev/null");
		ABI_OK(S_ISCHR(st.st_mode), "/dev/null is a character device");
	}
	close(fd);
	fd = open("/dev/zero", O_RDONLY);
	ABI_OK(fd >= 0, "open /dev/zero");
	memset(buf, 'x', sizeof(buf));
	ABI_EQ(read(fd, buf, sizeof(buf)), 256, "read /dev/zero: 256 bytes");
	{
		int nz = 0;
		for (size_t i = 0; i < sizeof(buf); i++)
			nz += buf[i] != 0;
		ABI_EQ(nz, 0, "/dev/zero's bytes are zero");
	}
	close(fd);
	fd = open("/dev/urandom", O_RDONLY);
	ABI_OK(fd >= 0, "open /dev/urandom");
	memset(buf, 0, sizeof(buf));
	ABI_EQ(read(fd, buf, 64), 64, "read /dev/urandom: 64 bytes");
	{
		int nz = 0;
		for (int i = 0; i < 64; i++)
			nz += buf[i] != 0;
		ABI_OK(nz > 32, "/dev/urandom's bytes are not mostly zero");
	}
	close(fd);
	ABI_ERR(open("/dev/nosuch", O_RDONLY), ENOENT, "open /dev/nosuch: ENOENT");
}

static void test_tty_proc(const char *self)
{
	int p[2];
	struct termios t;
	char buf[256] = {0};

	pipe(p);
	ABI_ERR(ioctl(p[0], TCGETS, &t), ENOTTY, "ioctl TCGETS on a pipe: ENOTTY");
	ABI_OK(!isatty(p[0]), "isatty(pipe) is false");
	ABI_ERR(ioctl(99, TCGETS, &t), EBADF, "ioctl on a closed fd: EBADF");
	close(p[0]);
	close(p[1]);
	ABI_OK(readlink("/proc/self/exe", buf, sizeof(buf) - 1) > 0, "readlink /proc/self/exe");
	ABI_STR(buf, self, "/proc/self/exe names this program");
	{
		struct stat st;
		ABI_EQ(stat("/proc/self", &st), 0, "stat /proc/self");
		ABI_OK(S_ISDIR(st.st_mode), "/proc/self is a directory");
	}
}

/* Whether /proc/self/maps has a line that starts with start and holds
 * every one of the words (a NULL-ended list). */
static int maps_has(const char *start, ...)
{
	char line[512];
	int found = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		va_list ap;
		const char *w;

		if (strncmp(line, start, strlen(start)) != 0)
			continue;
		found = 1;
		va_start(ap, start);
		while ((w = va_arg(ap, const char *)))
			found &= strstr(line, w) != NULL;
		va_end(ap);
	}
	fclose(f);
	return found;
}

static void test_maps(const char *self)
{
	long page = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 3 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char want[64];

	ABI_OK(m != MAP_FAILED, "mmap 3 read-only pages");
	snprintf(want, sizeof(want), "%08lx-%08lx r--p ", (unsigned long)m,
		 (unsigned long)(m + 3 * page));
	ABI_OK(maps_has(want, (char *)NULL), "/proc/self/maps: the mapping's exact line");
	mprotect(m + page, page, PROT_READ | PROT_WRITE);
	snprintf(want, sizeof(want), "%08lx-%08lx rw-p ", (unsigned long)(m + page),
		 (unsigned long)(m + 2 * page));
	ABI_OK(maps_has(want, (char *)NULL), "/proc/self/maps: an mprotect splits it");
	munmap(m, 3 * page);
	ABI_OK(!maps_has(want, (char *)NULL), "/proc/self/maps: gone after munmap");
	ABI_OK(maps_has("", " r-xp ", self, (char *)NULL),
	       "/proc/self/maps: the program's text, r-xp, with its path");
	ABI_OK(maps_has("", " rw-p ", "[stack]", (char *)NULL), "/proc/self/maps: [stack], rw-p");
}

#define MPOL_DEFAULT	  0
#define MPOL_PREFERRED	  1
#define MPOL_BIND	  2
#define MPOL_MF_STRICT	  1
#define LEGOOS_PCACHE_STAT     667
#define LEGOOS_DROP_PAGE_CACHE 668
#define TESSERA_FABRIC_PING    1025 /* include/proto/tessera_sys.h */

static void test_mbind(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long node0 = 1, node5 = 1ul << 5, none = 0;

	ABI_OK(m != MAP_FAILED, "mmap 4 pages for mbind");
	ABI_EQ(syscall(SYS_mbind, m, 4 * page, MPOL_BIND, &node0, 64, MPOL_MF_STRICT), 0,
	       "mbind MPOL_BIND to node 0");
	ABI_EQ(syscall(SYS_mbind, m, 4 * page, MPOL_PREFERRED, &none, 64, 0), 0,
	       "mbind MPOL_PREFERRED with no node (local)");
	ABI_EQ(syscall(SYS_mbind, m, 4 * page, MPOL_DEFAULT, NULL, 0, 0), 0, "mbind MPOL_DEFAULT");
	ABI_ERR(syscall(SYS_mbind, m, 4 * page, MPOL_BIND, &node5, 64, 0), EINVAL,
		"mbind to node 5 (no such node)");
	ABI_ERR(syscall(SYS_mbind, m, 4 * page, MPOL_BIND, &none, 64, 0), EINVAL,
		"mbind MPOL_BIND to no node");
	ABI_ERR(syscall(SYS_mbind, m + 1, page, MPOL_DEFAULT, NULL, 0, 0), EINVAL,
		"mbind of an unaligned address");
	ABI_ERR(syscall(SYS_mbind, m, page, 77, NULL, 0, 0), EINVAL, "mbind with mode 77");
	ABI_ERR(syscall(SYS_mbind, m, page, MPOL_DEFAULT, NULL, 0, 0x100), EINVAL,
		"mbind with unknown flags");
	ABI_ERR(syscall(SYS_mbind, m, 4 * page, MPOL_BIND, (void *)8, 64, 0), EFAULT,
		"mbind with a bad nodemask pointer");
	munmap(m, 4 * page);
}

/* LegoOS's struct pcache_stat (its uapi/processor/pcache.h). */
struct pcache_stat {
	unsigned long nr_cachelines, nr_cachesets, associativity, cacheline_size, way_stride;
	unsigned long nr_pgfault, nr_pgfault_code, nr_flush, nr_eviction;
};

/* Returns whether this is Tessera (pcache_stat works). */
static int test_legoos(void)
{
	struct pcache_stat st;
	int tessera;
	long r;

	errno = 0;
	r = syscall(LEGOOS_PCACHE_STAT, &st);
	tessera = r == 0; /* Linux: ENOSYS */
	ABI_OK(tessera ? st.nr_cachelines == st.nr_cachesets * st.associativity &&
				 st.cacheline_size == 4096 &&
				 st.way_stride == st.nr_cachesets * 4096 && st.nr_pgfault > 0 &&
				 st.nr_pgfault_code > 0 && st.nr_pgfault_code <= st.nr_pgfault
		       : r == -1 && errno == ENOSYS,
	       "pcache_stat (667): the ExCache in LegoOS's struct (Linux: ENOSYS)");
	errno = 0;
	r = syscall(LEGOOS_PCACHE_STAT, (void *)8);
	ABI_OK(r == -1 && errno == (tessera ? EFAULT : ENOSYS),
	       "pcache_stat with a bad pointer: EFAULT (Linux: ENOSYS)");
	errno = 0;
	r = syscall(LEGOOS_DROP_PAGE_CACHE);
	ABI_OK(tessera ? r == 0 : r == -1 && errno == ENOSYS,
	       "drop_page_cache (668): 0 (Linux: ENOSYS)");
	return tessera;
}

/* Tessera's tessera_fabric_ping (1025): r's errno, or 0 if r == 0. */
static int fabric_ping(unsigned long bytes, unsigned long count, void *ns)
{
	errno = 0;
	return syscall(TESSERA_FABRIC_PING, bytes, count, ns) == 0 ? 0 : errno;
}

/* Each check is Tessera's answer there and ENOSYS on Linux, so the
 * program prints the same checks on both. */
static void test_fabric_ping(int tessera)
{
	uint64_t ns[8] = {0};
	int sane = 1;

#define ON_TESSERA(e) (tessera ? (e) : ENOSYS)
	ABI_EQ(fabric_ping(16, 8, ns), ON_TESSERA(0),
	       "tessera_fabric_ping (1025): 8 PINGs to the home node (Linux: ENOSYS)");
	ABI_EQ(fabric_ping(4096, 4, ns + 4), ON_TESSERA(0),
	       "tessera_fabric_ping: 4 pages each way (Linux: ENOSYS)");
	for (int i = 0; i < 8 && tessera; i++)
		sane &= ns[i] > 0 && ns[i] < 10000000000ull;
	ABI_OK(sane, "tessera_fabric_ping: every round trip timed, 0 < ns < 10 s");
	ABI_EQ(fabric_ping(100, 1, ns), ON_TESSERA(EINVAL),
	       "tessera_fabric_ping of 100 bytes: EINVAL (Linux: ENOSYS)");
	ABI_EQ(fabric_ping(16, 0, ns), ON_TESSERA(EINVAL),
	       "tessera_fabric_ping of 0 round trips: EINVAL (Linux: ENOSYS)");
	ABI_EQ(fabric_ping(16, 4097, ns), ON_TESSERA(EINVAL),
	       "tessera_fabric_ping of 4097 round trips: EINVAL (Linux: ENOSYS)");
	ABI_EQ(fabric_ping(16, 1, (void *)8), ON_TESSERA(EFAULT),
	       "tessera_fabric_ping with a bad pointer: EFAULT (Linux: ENOSYS)");
#undef ON_TESSERA
}

int main(int argc, char **argv)
{
	(void)argc;
	abi_init("misc");
	umask(022);
	test_uname();
	test_random();
	test_limits();
	test_ids();
	test_devices();
	test_tty_proc(argv[0]);
	test_maps(argv[0]);
	test_mbind();
	test_fabric_ping(test_legoos());
	return abi_done();
}
