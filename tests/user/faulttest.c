/*
 * faulttest CASE: how a process ends, as the shell reports it (tessera run
 * returns the same statuses, docs/cli.md): the processor must turn each
 * CPU exception of user mode into the right signal, end the process, and
 * have the memory node free its address space (the cluster test checks
 * the free-frame count after each).
 *   null     a write to address 0: SIGSEGV, status 139
 *   ud2      an invalid opcode: SIGILL, status 132
 *   div0     an integer division by zero: SIGFPE, status 136
 *   exit N   exit(N), N 0..255: status N
 * Before the fault each case prints "faulttest: CASE" so that a test can
 * see the process really ran; nothing after it. A fault that does not
 * happen is a failure: exit 1 with a message.
 */
#include "tu.h"

#define USAGE "CASE   (null, ud2, div0, exit N)"

static void case_null(void)
{
	volatile int *p = (volatile int *)(uintptr_t)0;

	*p = 1;
	tu_fail("a write to address 0 did not fault");
}

static void case_ud2(void)
{
	__asm__ volatile("ud2");
	tu_fail("ud2 did not fault");
}

static void case_div0(void)
{
	volatile int num = 42, den = 0, q;

	q = num / den;
	tu_fail("42 / 0 gave %d instead of SIGFPE", q);
}

static const struct {
	const char *name;
	void (*run)(void);
} cases[] = {
	{"null", case_null},
	{"ud2", case_ud2},
	{"div0", case_div0},
};

int main(int argc, char **argv)
{
	tu_init("faulttest");
	if (argc == 3 && strcmp(argv[1], "exit") == 0) {
		int n = (int)tu_number(argv[2], 0, 255, "N", USAGE);

		printf("faulttest: exit %d\n", n);
		return n;
	}
	if (argc != 2)
		tu_usage(USAGE);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (strcmp(argv[1], cases[i].name) == 0) {
			printf("faulttest: %s\n", cases[i].name);
			cases[i].run(); /* does not return */
		}
	}
	fprintf(stderr, "faulttest: no case '%s'\n", argv[1]);
	tu_usage(USAGE);
}
