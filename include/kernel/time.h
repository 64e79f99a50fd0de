/*
 * Monotonic time (kernel/time.c). clock_ns() counts nanoseconds since the
 * clock source was set up; it is the same on every CPU and never goes back.
 * The source is the HPET main counter when the ACPI tables describe one,
 * else the boot CPU's timer ticks. The wall clock is the RTC's time at
 * boot plus clock_ns().
 */
#ifndef KERNEL_TIME_H
#define KERNEL_TIME_H

#include <stdbool.h>
#include <stdint.h>

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull
#define NS_PER_S  1000000000ull

/* Timer interrupt rate per CPU. */
#define HZ 100

void time_init(void);
uint64_t clock_ns(void);
/* Wall-clock time: nanoseconds / seconds since 1970-01-01 UTC, from the
 * real-time clock read at boot plus clock_ns() since (0 + clock_ns()
 * when the RTC made no sense). Not monotonic across boots. */
uint64_t wall_clock_ns(void);
int64_t wall_clock_s(void);
/* Name of the clock source in use ("hpet", "ticks"). */
const char *clock_source_name(void);
/* Whether clock_ns() is finer than the timer tick (the HPET): only then
 * can a timed wake-up be programmed for its own deadline rather than for
 * the tick after it. */
bool clock_is_hires(void);
/* Busy-waits at least ns; only for early boot and hardware delays. */
void delay_ns(uint64_t ns);

/* Called on the boot CPU's timer interrupt (drives the "ticks" source). */
void time_tick(void);

#endif
