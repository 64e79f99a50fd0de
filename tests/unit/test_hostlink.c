/*
 * Tests of the hostlink word escaping (include/proto/hostlink.h), which
 * the kernel (kernel/hostlink.c) and the CLI (tools/tessera/) share:
 * exact encodings, capacity limits (exact-size heap buffers, so ASan sees
 * any write past them), round trips of every byte value, and hostile
 * words that unescaping must refuse.
 */
#include "unit.h"

#include <proto/hostlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Escapes in[0..n) into a heap buffer of exactly cap bytes. */
static long escape_into(const char *in, size_t n, size_t cap, char **out)
{
	*out = malloc(cap ? cap : 1);
	return *out ? hostlink_escape(in, n, *out, cap) : -2;
}

TEST(hostlink_escape_exact)
{
	char out[64];

	EXPECT_EQ(hostlink_escape("abc", 3, out, sizeof(out)), 3);
	EXPECT_STREQ(out, "abc");
	EXPECT_EQ(hostlink_escape("a b%\n", 5, out, sizeof(out)), 11);
	EXPECT_STREQ(out, "a%20b%25%0A");
	EXPECT_EQ(hostlink_escape("!~", 2, out, sizeof(out)), 2);
	EXPECT_STREQ(out, "!~");
	EXPECT_EQ(hostlink_escape("\0\x7f\x80\xff", 4, out, sizeof(out)), 12);
	EXPECT_STREQ(out, "%00%7F%80%FF");
	EXPECT_EQ(hostlink_escape("", 0, out, sizeof(out)), 2);
	EXPECT_STREQ(out, HOSTLINK_EMPTY);
}

TEST(hostlink_escape_respects_capacity)
{
	char *out;

	/* "a%20b" needs 6 bytes with its NUL */
	EXPECT_EQ(escape_into("a b", 3, 6, &out), 5);
	EXPECT_STREQ(out, "a%20b");
	free(out);
	EXPECT_EQ(escape_into("a b", 3, 5, &out), -1);
	free(out);
	EXPECT_EQ(escape_into("ab", 2, 2, &out), -1);
	free(out);
	EXPECT_EQ(escape_into("", 0, 3, &out), 2);
	free(out);
	EXPECT_EQ(escape_into("", 0, 2, &out), -1);
	free(out);
	EXPECT_EQ(escape_into("x", 1, 0, &out), -1);
	free(out);
}

TEST(hostlink_round_trip_every_byte)
{
	struct unit_rng rng = {42};
	char in[300], esc[3 * sizeof(in) + 1];

	for (unsigned round = 0; round < 2000; round++) {
		size_t n = 1 + unit_rand_below(&rng, sizeof(in));
		long elen, dlen;

		for (size_t i = 0; i < n; i++)
			in[i] = (char)(round < 256 ? round : unit_rand(&rng));
		elen = hostlink_escape(in, n, esc, sizeof(esc));
		ASSERT_GE(elen, (long)n);
		ASSERT_EQ((size_t)elen, strlen(esc));
		for (long i = 0; i < elen; i++)
			ASSERT(esc[i] >= '!' && esc[i] <= '~');
		dlen = hostlink_unescape(esc);
		ASSERT_EQ(dlen, (long)n);
		ASSERT_MEMEQ(esc, in, n);
	}
}

/* Unescapes a heap copy of exactly strlen(word) + 1 bytes. */
static long unescape_copy(const char *word, char *out, size_t size)
{
	size_t n = strlen(word) + 1;
	char *w = malloc(n);
	long r;

	if (!w)
		return -2;
	memcpy(w, word, n);
	r = hostlink_unescape(w);
	if (r >= 0 && (size_t)r < size) {
		memcpy(out, w, (size_t)r);
		out[r] = '\0';
	}
	free(w);
	return r;
}

TEST(hostlink_unescape_good_words)
{
	char out[64];

	EXPECT_EQ(unescape_copy("%-", out, sizeof(out)), 0);
	EXPECT_EQ(unescape_copy("a%20b%25", out, sizeof(out)), 4);
	EXPECT_STREQ(out, "a b%");
	EXPECT_EQ(unescape_copy("%2D", out, sizeof(out)), 1);
	EXPECT_STREQ(out, "-");
	EXPECT_EQ(unescape_copy("%00x", out, sizeof(out)), 2);
	EXPECT_EQ(out[0], '\0');
	EXPECT_EQ(out[1], 'x');
	EXPECT_EQ(unescape_copy("plain~!", out, sizeof(out)), 7);
}

TEST(hostlink_unescape_refuses_hostile_words)
{
	static const char *const bad[] = {
		"",	  /* empty is %- */
		"%",	  /* bare percent */
		"a%",	  /* at the end */
		"%4",	  /* one digit */
		"%4g",	  /* not hex */
		"%0a",	  /* lower case */
		"%-x",	  /* %- is a whole word only */
		"x%-",	  /* ... */
		"%-%-",	  /* ... */
		"a b",	  /* a separator inside */
		"a\tb",	  /* control byte */
		"\x7f",	  /* DEL */
		"\x80",	  /* high byte */
		"ok\xff", /* ... */
		"%%41",	  /* a percent escaping a percent */
	};
	char out[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!EXPECT_EQ(unescape_copy(bad[i], out, sizeof(out)), -1))
			unit_diag("word %zu accepted", i);
}

TEST(hostlink_limits_are_consistent)
{
	/* a line with the largest argv still fits: "run ID" + 32 words of
	 * at least one byte each */
	EXPECT_LT(sizeof("run 2147483647") + HOSTLINK_MAX_ARGS * 2,
		  (size_t)HOSTLINK_LINE_MAX);
	EXPECT_STREQ(HOSTLINK_EMPTY, "%-");
}
