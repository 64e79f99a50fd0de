/*
 * The CMOS real-time clock: the wall-clock time at boot (kernel/time.c
 * adds the monotonic clock to it). QEMU's RTC runs in UTC unless told
 * otherwise, which is what this assumes.
 *
 * The RTC updates its registers once a second; a read that straddles an
 * update can mix two seconds, so the registers are read until two reads
 * in a row agree, each one after the update-in-progress flag is clear.
 */
#include <arch/arch.h>
#include <arch/cpu.h>
#include <stdbool.h>

#define CMOS_INDEX   0x70
#define CMOS_DATA    0x71
#define CMOS_NMI_OFF 0x80 /* keep NMIs enabled: bit 7 of the index clear */

enum rtc_reg {
	RTC_SEC = 0x00,
	RTC_MIN = 0x02,
	RTC_HOUR = 0x04,
	RTC_DAY = 0x07,
	RTC_MONTH = 0x08,
	RTC_YEAR = 0x09,
	RTC_STATUS_A = 0x0a,
	RTC_STATUS_B = 0x0b,
	RTC_CENTURY = 0x32, /* by convention (ACPI FADT names it; QEMU uses 0x32) */
};

#define RTC_A_UPDATING 0x80
#define RTC_B_24H      0x02
#define RTC_B_BINARY   0x04
#define RTC_HOUR_PM    0x80

struct rtc_time {
	unsigned sec, min, hour, day, month, year, century;
};

static unsigned cmos_read(enum rtc_reg reg)
{
	outb(CMOS_INDEX, (uint8_t)reg & ~CMOS_NMI_OFF);
	return inb(CMOS_DATA);
}

static void rtc_sample(struct rtc_time *t)
{
	for (unsigned spins = 0;
	     spins < 1000000 && (cmos_read(RTC_STATUS_A) & RTC_A_UPDATING); spins++)
		cpu_relax();
	t->sec = cmos_read(RTC_SEC);
	t->min = cmos_read(RTC_MIN);
	t->hour = cmos_read(RTC_HOUR);
	t->day = cmos_read(RTC_DAY);
	t->month = cmos_read(RTC_MONTH);
	t->year = cmos_read(RTC_YEAR);
	t->century = cmos_read(RTC_CENTURY);
}

static unsigned from_bcd(unsigned v)
{
	return (v >> 4) * 10 + (v & 0xf);
}

/* Days from 1970-01-01 to year-month-day (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

uint64_t arch_rtc_epoch_seconds(void)
{
	struct rtc_time a, b;
	unsigned status_b, year, tries = 0;
	bool pm;

	rtc_sample(&a);
	do {
		b = a;
		rtc_sample(&a);
	} while (++tries < 10 && __builtin_memcmp(&a, &b, sizeof(a)) != 0);

	status_b = cmos_read(RTC_STATUS_B);
	pm = a.hour & RTC_HOUR_PM;
	a.hour &= ~RTC_HOUR_PM;
	if (!(status_b & RTC_B_BINARY)) {
		a.sec = from_bcd(a.sec);
		a.min = from_bcd(a.min);
		a.hour = from_bcd(a.hour);
		a.day = from_bcd(a.day);
		a.month = from_bcd(a.month);
		a.year = from_bcd(a.year);
		a.century = from_bcd(a.century);
	}
	if (!(status_b & RTC_B_24H))
		a.hour = (a.hour % 12) + (pm ? 12 : 0);
	year = (a.century >= 19 && a.century <= 99 ? a.century : 20) * 100 + a.year;
	if (a.month < 1 || a.month > 12 || a.day < 1 || a.day > 31 || a.hour > 23 ||
	    a.min > 59 || a.sec > 60 || year < 1970)
		return 0; /* no sane RTC: the epoch */
	return (uint64_t)(days_from_civil(year, a.month, a.day) * 86400 + a.hour * 3600 +
			  a.min * 60 + a.sec);
}
