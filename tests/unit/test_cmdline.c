/*
 * Tests of lib/cmdline.c: word splitting, key/value lookups (the last
 * occurrence wins), bounded value copies and number parsing with overflow.
 */
#include "unit.h"

#include <lib/cmdline.h>
#include <stdio.h>
#include <string.h>

struct words {
	char text[16][64]; /* "key" or "key=value" as seen by the callback */
	size_t n;
	size_t stop_after; /* 0: never stop */
};

static bool collect(const char *key, size_t klen, const char *val, size_t vlen, void *arg)
{
	struct words *w = arg;

	if (w->n < 16) {
		if (val)
			snprintf(w->text[w->n], 64, "%.*s=%.*s", (int)klen, key,
				 (int)vlen, val);
		else
			snprintf(w->text[w->n], 64, "%.*s", (int)klen, key);
	}
	w->n++;
	return !w->stop_after || w->n < w->stop_after;
}

TEST(cmdline_each_splits_words)
{
	struct words w = {0};

	EXPECT(cmdline_each("  role=p\tnode=3\nquiet  console=ttyS0,115200 a=b=c = x= ",
			    collect, &w));
	ASSERT_EQ(w.n, 7u);
	EXPECT_STREQ(w.text[0], "role=p");
	EXPECT_STREQ(w.text[1], "node=3");
	EXPECT_STREQ(w.text[2], "quiet");
	EXPECT_STREQ(w.text[3], "console=ttyS0,115200");
	EXPECT_STREQ(w.text[4], "a=b=c"); /* the first '=' splits */
	EXPECT_STREQ(w.text[5], "=");	  /* empty key, empty value */
	EXPECT_STREQ(w.text[6], "x=");
}

struct spans {
	const char *key[4], *val[4];
	size_t klen[4], vlen[4], n;
};

static bool record(const char *key, size_t klen, const char *val, size_t vlen, void *arg)
{
	struct spans *sp = arg;

	if (sp->n < 4) {
		sp->key[sp->n] = key;
		sp->klen[sp->n] = klen;
		sp->val[sp->n] = val;
		sp->vlen[sp->n] = vlen;
	}
	sp->n++;
	return true;
}

TEST(cmdline_each_points_into_the_line)
{
	const char *s = " k=v bare x=";
	struct spans sp = {0};

	EXPECT(cmdline_each(s, record, &sp));
	ASSERT_EQ(sp.n, 3u);
	EXPECT(sp.key[0] == s + 1 && sp.klen[0] == 1);
	EXPECT(sp.val[0] == s + 3 && sp.vlen[0] == 1);
	EXPECT(sp.key[1] == s + 5 && sp.klen[1] == 4);
	EXPECT(sp.val[1] == NULL && sp.vlen[1] == 0); /* bare key */
	EXPECT(sp.key[2] == s + 10 && sp.klen[2] == 1);
	EXPECT(sp.val[2] == s + 12 && sp.vlen[2] == 0); /* empty value */
}

TEST(cmdline_each_empty_and_null)
{
	struct words w = {0};

	EXPECT(cmdline_each("", collect, &w));
	EXPECT(cmdline_each("   \t\n ", collect, &w));
	EXPECT(cmdline_each(NULL, collect, &w));
	EXPECT_EQ(w.n, 0u);
}

TEST(cmdline_each_stops_early)
{
	struct words w = {.stop_after = 2};

	EXPECT_FALSE(cmdline_each("a b c d", collect, &w));
	EXPECT_EQ(w.n, 2u);
}

TEST(cmdline_has)
{
	const char *s = "ktest role=s debug= abc";

	EXPECT(cmdline_has(s, "ktest"));
	EXPECT(cmdline_has(s, "role"));
	EXPECT(cmdline_has(s, "debug"));
	EXPECT(cmdline_has(s, "abc"));
	EXPECT_FALSE(cmdline_has(s, "ab"));   /* prefix of a word */
	EXPECT_FALSE(cmdline_has(s, "abcd")); /* longer than a word */
	EXPECT_FALSE(cmdline_has(s, "s"));    /* a value, not a key */
	EXPECT_FALSE(cmdline_has(s, "kTest"));
	EXPECT_FALSE(cmdline_has(NULL, "ktest"));
	EXPECT_FALSE(cmdline_has("", "ktest"));
}

TEST(cmdline_get)
{
	const char *s = "role=p name=alpha role=m flag empty= long=0123456789";
	char v[11];

	EXPECT(cmdline_get(s, "role", v, sizeof(v)));
	EXPECT_STREQ(v, "m"); /* the last one wins */
	EXPECT(cmdline_get(s, "name", v, sizeof(v)));
	EXPECT_STREQ(v, "alpha");
	EXPECT(cmdline_get(s, "empty", v, sizeof(v)));
	EXPECT_STREQ(v, "");
	EXPECT_FALSE(cmdline_get(s, "flag", v, sizeof(v))); /* no value */
	EXPECT_FALSE(cmdline_get(s, "missing", v, sizeof(v)));
	EXPECT(cmdline_get(s, "long", v, 11)); /* exactly fits */
	EXPECT_STREQ(v, "0123456789");
}

TEST(cmdline_get_too_small_leaves_buffer)
{
	char v[8];

	memset(v, 'X', sizeof(v));
	EXPECT_FALSE(cmdline_get("long=0123456789", "long", v, 10));
	EXPECT_FALSE(cmdline_get("k=ab", "k", v, 2));
	EXPECT_FALSE(cmdline_get("k=", "k", v, 0));
	for (size_t i = 0; i < sizeof(v); i++)
		EXPECT_EQ(v[i], 'X');
}

TEST(cmdline_get_last_bare_still_found)
{
	char v[8] = "unset";

	/* The last occurrence is a bare key, so there is no value. */
	EXPECT_FALSE(cmdline_get("k=1 k", "k", v, sizeof(v)));
	EXPECT(cmdline_get("k k=2", "k", v, sizeof(v)));
	EXPECT_STREQ(v, "2");
}

struct num_case {
	const char *text;
	bool ok;
	uint64_t value;
};

static const struct num_case num_cases[] = {
	{"0", true, 0},
	{"7", true, 7},
	{"0042", true, 42},
	{"4096", true, 4096},
	{"0x0", true, 0},
	{"0x1f", true, 31},
	{"0X1F", true, 31},
	{"0xDeadBeef", true, 0xdeadbeef},
	{"18446744073709551615", true, UINT64_MAX},
	{"18446744073709551616", false, 0},
	{"99999999999999999999", false, 0},
	{"0xffffffffffffffff", true, UINT64_MAX},
	{"0x10000000000000000", false, 0},
	{"0x000000000000000000001", true, 1},
	{"", false, 0},
	{"0x", false, 0},
	{"x10", false, 0},
	{"12a", false, 0},
	{"1f", false, 0}, /* hex digits need 0x */
	{"-1", false, 0},
	{"+1", false, 0},
	{" 1", false, 0},
	{"0x-1", false, 0},
	{"0xg", false, 0},
};

TEST(cmdline_parse_u64)
{
	for (size_t i = 0; i < sizeof(num_cases) / sizeof(num_cases[0]); i++) {
		const struct num_case *c = &num_cases[i];
		uint64_t v = 12345;
		bool ok = cmdline_parse_u64(c->text, strlen(c->text), &v);

		if (!EXPECT_EQ(ok, c->ok))
			unit_diag("parsing \"%s\"", c->text);
		if (c->ok)
			EXPECT_EQ(v, c->value);
		else
			EXPECT_EQ(v, 12345u); /* untouched on failure */
	}
}

TEST(cmdline_parse_u64_uses_len)
{
	uint64_t v;

	EXPECT(cmdline_parse_u64("1234xyz", 4, &v));
	EXPECT_EQ(v, 1234u);
	EXPECT(cmdline_parse_u64("0x10zz", 4, &v));
	EXPECT_EQ(v, 16u);
	EXPECT_FALSE(cmdline_parse_u64("0x10", 2, &v)); /* just "0x" */
	EXPECT(cmdline_parse_u64("0x10", 1, &v));
	EXPECT_EQ(v, 0u);
	EXPECT_FALSE(cmdline_parse_u64("5", 0, &v));
}

TEST(cmdline_get_u64)
{
	const char *s = "mem=0x4000000 node=3 node=12 bad=12k none= flag "
			"big=99999999999999999999";
	uint64_t v = 777;

	EXPECT(cmdline_get_u64(s, "mem", &v));
	EXPECT_EQ(v, 0x4000000u);
	EXPECT(cmdline_get_u64(s, "node", &v));
	EXPECT_EQ(v, 12u);
	v = 777;
	EXPECT_FALSE(cmdline_get_u64(s, "bad", &v));
	EXPECT_FALSE(cmdline_get_u64(s, "none", &v));
	EXPECT_FALSE(cmdline_get_u64(s, "flag", &v));
	EXPECT_FALSE(cmdline_get_u64(s, "big", &v));
	EXPECT_FALSE(cmdline_get_u64(s, "absent", &v));
	EXPECT_EQ(v, 777u);
}
