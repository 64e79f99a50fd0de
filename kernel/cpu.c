/* The CPU table (see include/kernel/cpu.h). */
#include <kernel/cpu.h>

struct cpu cpus[MAX_CPUS];
unsigned cpu_count = 1;

unsigned cpus_online(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < cpu_count; i++)
		n += cpus[i].online;
	return n;
}
