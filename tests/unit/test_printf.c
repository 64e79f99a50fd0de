/*
 * Tests of lib/printf.c against the host C library's vsnprintf.
 *
 * The comparison tests build format strings from every combination of the
 * flags C defines for a conversion, widths, precisions (also '*', negative
 * too) and length modifiers, and compare output and return value, whole
 * and truncated. Kernel output goes into heap buffers of exactly the size
 * passed, so ASan reports a write past it. Formats are built at run time,
 * so no combination is refused by -Wformat; only ones whose behaviour C
 * defines are compared. Kernel-specific behaviour (%p of NULL, unknown
 * conversions) has its own tests.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "klib.h"
#include "unit.h"

#define MAX_REPORTS 12

static unsigned long mismatches, compared;

/* Kernel output into a buffer of exactly size bytes (NULL when 0). */
static int kernel_format(char *out, size_t size, const char *fmt, va_list ap)
{
	char *buf = size ? malloc(size) : NULL;
	int n;

	if (size && !buf)
		abort();
	if (buf)
		memset(buf, 0x5a, size);
	n = k_vsnprintf(buf, size, fmt, ap);
	if (buf)
		memcpy(out, buf, size);
	free(buf);
	return n;
}

static void report(const char *fmt, size_t size, const char *want, int wn,
		   const char *got, int gn)
{
	if (++mismatches > MAX_REPORTS)
		return;
	unit_check(false, __FILE__, __LINE__,
		   "format \"%s\" size %zu: libc \"%s\" (%d), kernel \"%s\" (%d)", fmt,
		   size, want, wn, got, gn);
}

/* Compares one size; sizes past the buffers are clipped to them. */
static void compare_size(const char *fmt, size_t size, va_list ap)
{
	char want[512], got[512];
	va_list a1, a2;
	int wn, gn;

	va_copy(a1, ap);
	va_copy(a2, ap);
	wn = vsnprintf(size ? want : NULL, size, fmt, a1);
	gn = kernel_format(got, size, fmt, a2);
	va_end(a1);
	va_end(a2);
	compared++;
	if (wn != gn ||
	    (size && memcmp(want, got, size < (size_t)wn + 1 ? size : (size_t)wn + 1)))
		report(fmt, size, size ? want : "", wn, size ? got : "", gn);
}

/*
 * Compares fmt with its arguments at full size and at one truncated size
 * picked from `pick` (0, 1, half, all but the NUL), so every combination
 * also exercises truncation without running each one five times.
 */
static void check_fmt(unsigned pick, const char *fmt, ...)
{
	char probe[512];
	va_list ap, aq;
	int n;
	size_t sizes[4];

	va_start(ap, fmt);
	va_copy(aq, ap);
	n = vsnprintf(probe, sizeof(probe), fmt, aq);
	va_end(aq);
	if (n < 0 || n >= (int)sizeof(probe)) {
		unit_diag("format \"%s\" too long for the test", fmt);
		mismatches++;
		va_end(ap);
		return;
	}
	sizes[0] = 0;
	sizes[1] = 1;
	sizes[2] = (size_t)n / 2 + 1;
	sizes[3] = (size_t)n;
	compare_size(fmt, (size_t)n + 1, ap);
	compare_size(fmt, sizes[pick % 4], ap);
	va_end(ap);
}

/* Builds "%<flags><width><prec><len><conv>" into buf. */
static void build_fmt(char *buf, size_t size, const char *flags, const char *width,
		      const char *prec, const char *len, char conv)
{
	snprintf(buf, size, "%%%s%s%s%s%c", flags, width, prec, len, conv);
}

/* The subset of flag characters chosen by the bits of mask. */
static void flag_subset(char *out, const char *chars, unsigned mask)
{
	for (; *chars; chars++, mask >>= 1)
		if (mask & 1)
			*out++ = *chars;
	*out = '\0';
}

static const char *const widths[] = {"", "1", "3", "8", "24", "*"};
static const char *const precs[] = {"", ".", ".0", ".1", ".3", ".12", ".*"};
static const int star_values[] = {5, -7, 0, 13};

#define NWIDTHS (sizeof(widths) / sizeof(widths[0]))
#define NPRECS	(sizeof(precs) / sizeof(precs[0]))

/* Passes the '*' arguments the format needs, then v. */
#define CHECK_STARS(pick, fmt, nstars, s0, s1, v)                                        \
	do {                                                                             \
		if ((nstars) == 0)                                                       \
			check_fmt(pick, fmt, v);                                         \
		else if ((nstars) == 1)                                                  \
			check_fmt(pick, fmt, s0, v);                                     \
		else                                                                     \
			check_fmt(pick, fmt, s0, s1, v);                                 \
	} while (0)

static const long long int_values[] = {
	0,   1,	   -1,	  7,	  -42,	 127,	     128,     255,
	256, -129, 32767, -32768, 65535, 0x12345678, INT_MAX, INT_MIN,
};
static const long long long_values[] = {
	0,
	1,
	-1,
	1000000007LL,
	(long long)INT_MAX + 1,
	(long long)INT_MIN - 1,
	0x123456789abcdefLL,
	LLONG_MAX,
	LLONG_MIN,
};

/* Calls check_fmt with v converted to the type that len and conv imply. */
static void check_value(unsigned pick, const char *fmt, const char *len, bool is_signed,
			int nstars, int s0, int s1, long long v)
{
	if (!*len || !strcmp(len, "h") || !strcmp(len, "hh")) {
		if (is_signed)
			CHECK_STARS(pick, fmt, nstars, s0, s1, (int)v);
		else
			CHECK_STARS(pick, fmt, nstars, s0, s1, (unsigned int)v);
	} else if (!strcmp(len, "l")) {
		if (is_signed)
			CHECK_STARS(pick, fmt, nstars, s0, s1, (long)v);
		else
			CHECK_STARS(pick, fmt, nstars, s0, s1, (unsigned long)v);
	} else if (!strcmp(len, "ll")) {
		if (is_signed)
			CHECK_STARS(pick, fmt, nstars, s0, s1, v);
		else
			CHECK_STARS(pick, fmt, nstars, s0, s1, (unsigned long long)v);
	} else if (!strcmp(len, "z")) {
		if (is_signed)
			CHECK_STARS(pick, fmt, nstars, s0, s1, (ssize_t)v);
		else
			CHECK_STARS(pick, fmt, nstars, s0, s1, (size_t)v);
	} else { /* t */
		if (is_signed)
			CHECK_STARS(pick, fmt, nstars, s0, s1, (ptrdiff_t)v);
		else
			CHECK_STARS(pick, fmt, nstars, s0, s1, (size_t)v);
	}
}

static const char *const lens[] = {"", "hh", "h", "l", "ll", "z", "t"};

/* Every width x precision x value for one conversion, length and flags. */
static void check_int_widths(char conv, size_t len, const char *flags, unsigned *pick)
{
	bool wide = len >= 3; /* l, ll, z, t */
	const long long *vals = wide ? long_values : int_values;
	size_t nv = wide ? sizeof(long_values) / sizeof(long_values[0])
			 : sizeof(int_values) / sizeof(int_values[0]);

	for (size_t w = 0; w < NWIDTHS; w++) {
		for (size_t p = 0; p < NPRECS; p++) {
			int nstars =
				(widths[w][0] == '*') + (strchr(precs[p], '*') != NULL);
			char fmt[32];

			build_fmt(fmt, sizeof(fmt), flags, widths[w], precs[p], lens[len],
				  conv);
			for (size_t i = 0; i < nv; i++, (*pick)++)
				check_value(*pick, fmt, lens[len],
					    conv == 'd' || conv == 'i', nstars,
					    star_values[*pick % 4],
					    star_values[(*pick / 4) % 4], vals[i]);
		}
	}
}

/*
 * Every flag subset x width x precision x length modifier x value for the
 * conversions in convs, whose defined flags are flag_chars.
 */
static void check_integers(const char *convs, const char *flag_chars)
{
	unsigned nflags = (unsigned)strlen(flag_chars), pick = 0;
	char flags[8];

	mismatches = compared = 0;
	for (const char *c = convs; *c; c++) {
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			for (unsigned m = 0; m < 1u << nflags; m++) {
				flag_subset(flags, flag_chars, m);
				check_int_widths(*c, l, flags, &pick);
			}
		}
	}
	EXPECT_GT(compared, 1000ul);
	if (!EXPECT_EQ(mismatches, 0ul))
		unit_diag("%lu of %lu comparisons differ", mismatches, compared);
}

TEST(printf_signed_matches_libc)
{
	check_integers("di", "-+ 0");
}

TEST(printf_unsigned_decimal_matches_libc)
{
	/* '+' and ' ' only affect signed conversions: no effect here. */
	check_integers("u", "-0+ ");
}

TEST(printf_hex_octal_matches_libc)
{
	check_integers("xXo", "-0#+ ");
}

static void check_string_widths(const char *flags, const char *str, unsigned *pick)
{
	for (size_t w = 0; w < NWIDTHS; w++) {
		for (size_t p = 0; p < NPRECS; p++, (*pick)++) {
			int nstars =
				(widths[w][0] == '*') + (strchr(precs[p], '*') != NULL);
			char fmt[32];

			build_fmt(fmt, sizeof(fmt), flags, widths[w], precs[p], "", 's');
			CHECK_STARS(*pick, fmt, nstars, star_values[*pick % 4],
				    star_values[(*pick / 3) % 4], str);
		}
	}
}

TEST(printf_strings_match_libc)
{
	static const char *const strs[] = {"", "a", "hello", "tab\there",
					   "a longer string, 30 characters"};
	unsigned pick = 0;

	mismatches = compared = 0;
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		check_string_widths("", strs[i], &pick);
		check_string_widths("-", strs[i], &pick);
	}
	EXPECT_GT(compared, 500ul);
	EXPECT_EQ(mismatches, 0ul);
}

TEST(printf_chars_match_libc)
{
	static const int chars[] = {'a', ' ', '%', 0x7f, 0xe9, 0};
	unsigned pick = 0;

	mismatches = compared = 0;
	for (unsigned m = 0; m < 2; m++)
		for (size_t w = 0; w < NWIDTHS; w++)
			for (size_t i = 0; i < sizeof(chars) / sizeof(chars[0]);
			     i++, pick++) {
				char fmt[32];

				build_fmt(fmt, sizeof(fmt), m ? "-" : "", widths[w], "",
					  "", 'c');
				CHECK_STARS(pick, fmt, widths[w][0] == '*',
					    star_values[pick % 4], 0, chars[i]);
			}
	EXPECT_EQ(mismatches, 0ul);
}

TEST(printf_pointers_match_libc)
{
	static const char *const pwidths[] = {"", "3", "20", "*"};
	int local;
	void *const ptrs[] = {(void *)1, (void *)0xdeadbeef, &local,
			      (void *)~(uintptr_t)0};
	unsigned pick = 0;

	mismatches = compared = 0;
	for (unsigned m = 0; m < 2; m++)
		for (size_t w = 0; w < 4; w++)
			for (size_t i = 0; i < 4; i++, pick++) {
				char fmt[32];

				build_fmt(fmt, sizeof(fmt), m ? "-" : "", pwidths[w], "",
					  "", 'p');
				CHECK_STARS(pick, fmt, pwidths[w][0] == '*',
					    star_values[pick % 4], 0, ptrs[i]);
			}
	EXPECT_EQ(mismatches, 0ul);
}

TEST(printf_mixed_formats_match_libc)
{
	static const char *const fmts[] = {
		"plain text",	       "%%",
		"100%% sure",	       "%d%d%d",
		"[%5s|%-5s]",	       "%s=%#lx (%llu)",
		"cpu%u: apic %#x, %s", "%c%c%c",
		"%08.3d|%-+6d",
	};

	mismatches = compared = 0;
	for (unsigned pick = 0; pick < 4; pick++) {
		check_fmt(pick, fmts[0]);
		check_fmt(pick, fmts[1]);
		check_fmt(pick, fmts[2]);
		check_fmt(pick, fmts[3], 1, -22, 333);
		check_fmt(pick, fmts[4], "ab", "cd");
		check_fmt(pick, fmts[5], "cr3", 0x1000ul, 18446744073709551615ull);
		check_fmt(pick, fmts[6], 3u, 0xfeu, "online");
		check_fmt(pick, fmts[7], 'x', 'y', 'z');
		check_fmt(pick, fmts[8], 42, 42);
	}
	EXPECT_EQ(compared, 4 * 9 * 2ul);
	EXPECT_EQ(mismatches, 0ul);
}

/* Calls the kernel's snprintf with a format -Wformat does not see. */
static int kfmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = k_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

TEST(printf_truncation_every_size)
{
	const char *fmt = "id=%d name=%s hex=%#x";
	char want[64], got[64];
	int n = snprintf(want, sizeof(want), fmt, -12345, "tessera", 0xbeef);

	for (size_t size = 0; size <= (size_t)n + 2; size++) {
		char *buf = size ? malloc(size) : NULL;

		ASSERT(size == 0 || buf);
		EXPECT_EQ(kfmt(buf, size, fmt, -12345, "tessera", 0xbeef), n);
		if (size) {
			size_t keep = size - 1 < (size_t)n ? size - 1 : (size_t)n;

			memcpy(got, buf, size);
			EXPECT_MEMEQ(got, want, keep);
			EXPECT_EQ(got[keep], '\0');
		}
		free(buf);
	}
}

TEST(printf_kernel_specific)
{
	char buf[64];

	/* %p of NULL: glibc prints "(nil)"; the kernel prints a number. */
	EXPECT_EQ(kfmt(buf, sizeof(buf), "%p", (void *)0), (int)strlen(buf));
	EXPECT(buf[0] != '\0' && strspn(buf, "0x") == strlen(buf));
	EXPECT_EQ(kfmt(buf, sizeof(buf), "%s", (char *)NULL), 6);
	EXPECT_STREQ(buf, "(null)");
	/* Unknown conversions are printed as they were; a lone '%' at the
	 * end is dropped. */
	EXPECT_EQ(kfmt(buf, sizeof(buf), "a%yb"), 4);
	EXPECT_STREQ(buf, "a%yb");
	EXPECT_EQ(kfmt(buf, sizeof(buf), "abc%"), 3);
	EXPECT_STREQ(buf, "abc");
	/* A NUL character still takes its place and counts. */
	EXPECT_EQ(kfmt(buf, sizeof(buf), "a%cb", 0), 3);
	EXPECT_MEMEQ(buf, "a\0b", 4);
}

TEST(printf_return_without_buffer)
{
	/* size 0 never touches buf, so NULL is fine, and the length is the
	 * length the whole output would have had. */
	EXPECT_EQ(kfmt(NULL, 0, "%s-%d", "abc", 12345), 9);
	EXPECT_EQ(kfmt(NULL, 0, ""), 0);
	EXPECT_EQ(kfmt(NULL, 0, "%300d", 1), 300);
}
