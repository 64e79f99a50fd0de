/*
 * Tests of lib/string.c against the host C library: every alignment of
 * source and destination, lengths around the 8-byte word size, guard bytes
 * that must stay untouched, overlapping moves, and signedness of compares
 * (bytes above 0x7f compare as unsigned char).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klib.h"
#include "unit.h"

#define AREA  96
#define GUARD 0xA5

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 37 + (i >> 3));
}

TEST(string_memcpy_alignments)
{
	unsigned char src[AREA], dst[AREA], want[AREA];

	fill_pattern(src, AREA, 1);
	for (size_t so = 0; so < 16; so++)
		for (size_t d_o = 0; d_o < 16; d_o++)
			for (size_t n = 0; n <= 40; n++) {
				memset(dst, GUARD, AREA);
				memset(want, GUARD, AREA);
				memcpy(want + d_o, src + so, n);
				ASSERT(k_memcpy(dst + d_o, src + so, n) == dst + d_o);
				ASSERT_MEMEQ(dst, want, AREA);
			}
}

TEST(string_memmove_overlap)
{
	unsigned char buf[AREA], want[AREA];

	for (size_t from = 0; from < 24; from++)
		for (size_t to = 0; to < 24; to++)
			for (size_t n = 0; n <= 40; n++) {
				fill_pattern(buf, AREA, 7);
				fill_pattern(want, AREA, 7);
				memmove(want + to, want + from, n);
				ASSERT(k_memmove(buf + to, buf + from, n) == buf + to);
				ASSERT_MEMEQ(buf, want, AREA);
			}
}

TEST(string_memset)
{
	static const int values[] = {0, 1, 0x7f, 0x80, 0xff, 0x1ab, -1};
	unsigned char dst[AREA], want[AREA];

	for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++)
		for (size_t off = 0; off < 16; off++)
			for (size_t n = 0; n <= 40; n++) {
				memset(dst, GUARD, AREA);
				memset(want, GUARD, AREA);
				memset(want + off, values[v], n);
				ASSERT(k_memset(dst + off, values[v], n) == dst + off);
				ASSERT_MEMEQ(dst, want, AREA);
			}
}

TEST(string_memcmp)
{
	unsigned char a[40], b[40];

	for (size_t n = 0; n < 40; n++) {
		fill_pattern(a, sizeof(a), 3);
		fill_pattern(b, sizeof(b), 3);
		EXPECT_EQ(k_memcmp(a, b, n), 0);
		for (size_t at = 0; at < n; at++) {
			static const unsigned char vals[] = {0, 0x7f, 0x80, 0xff};

			for (size_t v = 0; v < 4; v++) {
				fill_pattern(b, sizeof(b), 3);
				b[at] = vals[v];
				ASSERT_EQ(sign(k_memcmp(a, b, n)), sign(memcmp(a, b, n)));
				ASSERT_EQ(sign(k_memcmp(b, a, n)), sign(memcmp(b, a, n)));
			}
		}
	}
	/* Only the first n bytes count. */
	EXPECT_EQ(k_memcmp("abcX", "abcY", 3), 0);
	EXPECT_LT(k_memcmp("\x01", "\xff", 1), 0);
}

TEST(string_memchr)
{
	const char *s = "hello\0world\xff";

	EXPECT(k_memchr(s, 'l', 12) == s + 2);
	EXPECT(k_memchr(s, 'w', 12) == s + 6);
	EXPECT(k_memchr(s, 0, 12) == s + 5);
	EXPECT(k_memchr(s, 0xff, 12) == s + 11);
	EXPECT(k_memchr(s, 0x1ff, 12) == s + 11); /* c is taken as a byte */
	EXPECT(k_memchr(s, 'w', 6) == NULL);
	EXPECT(k_memchr(s, 'h', 0) == NULL);
	EXPECT(k_memchr(s, 'z', 12) == NULL);
}

TEST(string_strlen_strnlen)
{
	static const char *const strs[] = {
		"", "a", "abcdefg", "abcdefgh", "abcdefghijklmnopq", "\xff\x80"};

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		size_t len = strlen(strs[i]);

		EXPECT_EQ(k_strlen(strs[i]), len);
		for (size_t max = 0; max < 20; max++)
			EXPECT_EQ(k_strnlen(strs[i], max), len < max ? len : max);
	}
}

TEST(string_strnlen_stops_at_max)
{
	/* No terminator at all: strnlen must not read past max bytes. */
	char *p = malloc(5);

	ASSERT(p);
	memcpy(p, "abcde", 5);
	EXPECT_EQ(k_strnlen(p, 5), 5u);
	EXPECT_EQ(k_strnlen(p, 3), 3u);
	free(p);
}

TEST(string_strcmp_strncmp)
{
	static const char *const strs[] = {"",	  "a",	     "b",	"ab",	"abc",
					   "abd", "abc\x80", "abc\x7f", "\xff", "A"};
	const size_t n = sizeof(strs) / sizeof(strs[0]);

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			EXPECT_EQ(sign(k_strcmp(strs[i], strs[j])),
				  sign(strcmp(strs[i], strs[j])));
			for (size_t m = 0; m < 6; m++)
				EXPECT_EQ(sign(k_strncmp(strs[i], strs[j], m)),
					  sign(strncmp(strs[i], strs[j], m)));
		}
}

TEST(string_strchr)
{
	const char *s = "path/to/file\xe9";

	EXPECT(k_strchr(s, '/') == s + 4);
	EXPECT(k_strchr(s, 'p') == s);
	EXPECT(k_strchr(s, 'z') == NULL);
	EXPECT(k_strchr(s, '\0') == s + strlen(s));
	EXPECT(k_strchr(s, 0xe9) == s + 12);
	EXPECT(k_strchr(s, 0x100 + '/') == s + 4); /* converted to char */
	EXPECT(k_strchr("", 'a') == NULL);
}

TEST(string_strlcpy)
{
	const char *src = "kernel";
	char dst[16];

	for (size_t size = 0; size < sizeof(dst); size++) {
		size_t want = size == 0 ? 0 : (size - 1 < 6 ? size - 1 : 6);

		memset(dst, GUARD, sizeof(dst));
		EXPECT_EQ(k_strlcpy(dst, src, size), 6u);
		if (size) {
			EXPECT_MEMEQ(dst, src, want);
			EXPECT_EQ(dst[want], '\0');
		}
		for (size_t i = size; i < sizeof(dst); i++)
			ASSERT_EQ((unsigned char)dst[i], GUARD);
	}
	/* size 0 may be given a NULL destination. */
	EXPECT_EQ(k_strlcpy(NULL, "abc", 0), 3u);
}
