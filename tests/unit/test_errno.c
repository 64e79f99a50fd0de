/*
 * Tests of lib/errno.c: every error number has a distinct name and message,
 * negative numbers name the same error, unknown ones (even INT_MIN, which
 * cannot be negated) get the fallback strings.
 */
#include "unit.h"

#include <kernel/errno.h>
#include <limits.h>
#include <string.h>

struct errno_case {
	int value;
	const char *name;
	const char *message;
};

static const struct errno_case cases[] = {
#define ERRNO_CASE(n, v, m) {v, #n, m},
	ERRNO_LIST(ERRNO_CASE)
#undef ERRNO_CASE
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

TEST(errno_names_and_messages)
{
	for (size_t i = 0; i < NCASES; i++) {
		EXPECT_STREQ(errno_name(cases[i].value), cases[i].name);
		EXPECT_STREQ(errno_name(-cases[i].value), cases[i].name);
		EXPECT_STREQ(errno_message(cases[i].value), cases[i].message);
		EXPECT_STREQ(errno_message(-cases[i].value), cases[i].message);
	}
}

TEST(errno_linux_values)
{
	/* The numbers are an ABI shared with Linux and the wire protocol. */
	EXPECT_EQ(EPERM, 1);
	EXPECT_EQ(ENOENT, 2);
	EXPECT_EQ(EIO, 5);
	EXPECT_EQ(EAGAIN, 11);
	EXPECT_EQ(ENOMEM, 12);
	EXPECT_EQ(EINVAL, 22);
	EXPECT_EQ(ENOSYS, 38);
	EXPECT_EQ(ENOTSUP, 95);
	EXPECT_EQ(ETIMEDOUT, 110);
	EXPECT_STREQ(errno_name(-ENOMEM), "ENOMEM");
	EXPECT_STREQ(errno_message(12), "Cannot allocate memory");
}

TEST(errno_unique)
{
	for (size_t i = 0; i < NCASES; i++) {
		EXPECT_GT(cases[i].value, 0);
		EXPECT_GT(strlen(cases[i].message), 0u);
		for (size_t j = i + 1; j < NCASES; j++) {
			EXPECT_NE(cases[i].value, cases[j].value);
			EXPECT(strcmp(cases[i].name, cases[j].name) != 0);
		}
	}
}

TEST(errno_unknown)
{
	static const int unknown[] = {0,    41,	  45,	   58,	     200,
				      -200, 4096, INT_MAX, -INT_MAX, INT_MIN};

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		EXPECT_STREQ(errno_name(unknown[i]), "E?");
		EXPECT_STREQ(errno_message(unknown[i]), "unknown error");
	}
}
