/*
 * Monotonic clock. Preferred source: the HPET main counter (one counter for
 * all CPUs, fixed period given by the hardware, no calibration). Fallback:
 * the boot CPU's timer ticks, at 1/HZ resolution. rdtsc is not used: on
 * some hypervisors it traps and costs microseconds.
 */
#include <arch/apic.h>
#include <arch/arch.h>
#include <arch/cpu.h>
#include <kernel/acpi.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/time.h>

#define HPET_CAP     0x000
#define HPET_CONFIG  0x010
#define HPET_COUNTER 0x0f0
#define FS_PER_NS    1000000ull

static volatile uint64_t *hpet;
static uint64_t hpet_period_fs; /* femtoseconds per counter tick */
static uint64_t hpet_mult;	/* nanoseconds per tick, 32.32 fixed point */
static uint64_t hpet_start;
static volatile uint64_t ticks;
static uint64_t boot_epoch_ns; /* wall-clock time at clock_ns() == 0 */

void time_init(void)
{
	if (acpi.hpet_pa)
		hpet = vmm_map_mmio(acpi.hpet_pa, 1024);
	if (hpet) {
		hpet_period_fs = hpet[HPET_CAP / 8] >> 32;
		if (hpet_period_fs == 0 || hpet_period_fs > 100000000ull) {
			pr_warn("time: HPET period %llu fs is out of range, not used",
				(unsigned long long)hpet_period_fs);
			hpet = NULL;
		}
	}
	if (hpet) {
		hpet_mult = (hpet_period_fs << 32) / FS_PER_NS;
		hpet[HPET_CONFIG / 8] |= 1; /* start the main counter */
		hpet_start = hpet[HPET_COUNTER / 8];
	}
	boot_epoch_ns = arch_rtc_epoch_seconds() * NS_PER_S - clock_ns();
	pr_info("time: clock source %s, wall clock %llu s since the epoch",
		clock_source_name(), (unsigned long long)(wall_clock_ns() / NS_PER_S));
}

uint64_t wall_clock_ns(void)
{
	return boot_epoch_ns + clock_ns();
}

int64_t wall_clock_s(void)
{
	return (int64_t)(wall_clock_ns() / NS_PER_S);
}

const char *clock_source_name(void)
{
	return hpet ? "hpet" : "ticks";
}

bool clock_is_hires(void)
{
	return hpet != NULL;
}

uint64_t clock_ns(void)
{
	if (hpet)
		return (uint64_t)(((unsigned __int128)(hpet[HPET_COUNTER / 8] -
						       hpet_start) *
				   hpet_mult) >>
				  32);
	return ticks * (NS_PER_S / HZ);
}

void time_tick(void)
{
	ticks++;
}

void delay_ns(uint64_t ns)
{
	uint64_t end;

	if (!hpet) {
		for (; ns > 10 * NS_PER_MS; ns -= 10 * NS_PER_MS)
			pit_wait_us(10000);
		pit_wait_us((unsigned)(ns / NS_PER_US) + 1);
		return;
	}
	end = clock_ns() + ns;
	while (clock_ns() < end)
		cpu_relax();
}
