/*
 * A tiny unit test framework for the host tests of portable kernel code
 * (tests/unit/, run by `make unittest`).
 *
 *	TEST(buddy_split) {
 *		EXPECT_EQ(buddy_alloc(&b, 0), base);
 *	}
 *
 * TEST() registers a test at program start. EXPECT*() record a failure with
 * file:line and carry on; ASSERT*() also end the test. unit.c runs every
 * test in a child process of its own (so a sanitizer abort or a hang fails
 * that test only) and prints KTAP version 1 on stdout.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct unit_test {
	const char *name;
	void (*fn)(void);
	struct unit_test *next;
};

/* Appends t to the list of tests; called by the constructors TEST() makes. */
void unit_register(struct unit_test *t);

#define TEST(name)                                                                       \
	static void unit_fn_##name(void);                                                \
	static struct unit_test unit_test_##name = {#name, unit_fn_##name, NULL};        \
	__attribute__((constructor)) static void unit_reg_##name(void)                   \
	{                                                                                \
		unit_register(&unit_test_##name);                                        \
	}                                                                                \
	static void unit_fn_##name(void)

/* Prints one KTAP diagnostic line ("# ..."). */
void unit_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Records a failure of the running test if !ok, with "file:line: msg".
 * Returns ok. */
bool unit_check(bool ok, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
bool unit_check_int(bool ok, const char *file, int line, const char *expr,
		    unsigned long long a, unsigned long long b);
bool unit_check_str(const char *file, int line, const char *expr, const char *a,
		    const char *b);
bool unit_check_mem(const char *file, int line, const char *expr, const void *a,
		    const void *b, size_t n);

/* True once the running test has recorded a failure. */
bool unit_failed(void);

#define EXPECT(cond)	   unit_check(!!(cond), __FILE__, __LINE__, "expected %s", #cond)
#define EXPECT_TRUE(cond)  EXPECT(cond)
#define EXPECT_FALSE(cond) EXPECT(!(cond))

/* Both sides are evaluated once; values are shown in decimal and hex. */
#define UNIT_CMP(a, op, b)                                                               \
	({                                                                               \
		__typeof__(a) unit_a_ = (a);                                             \
		__typeof__(b) unit_b_ = (b);                                             \
		unit_check_int(unit_a_ op unit_b_, __FILE__, __LINE__,                   \
			       #a " " #op " " #b, (unsigned long long)unit_a_,           \
			       (unsigned long long)unit_b_);                             \
	})

#define EXPECT_EQ(a, b)	   UNIT_CMP(a, ==, b)
#define EXPECT_NE(a, b)	   UNIT_CMP(a, !=, b)
#define EXPECT_LT(a, b)	   UNIT_CMP(a, <, b)
#define EXPECT_LE(a, b)	   UNIT_CMP(a, <=, b)
#define EXPECT_GT(a, b)	   UNIT_CMP(a, >, b)
#define EXPECT_GE(a, b)	   UNIT_CMP(a, >=, b)
#define EXPECT_STREQ(a, b) unit_check_str(__FILE__, __LINE__, #a " == " #b, (a), (b))
#define EXPECT_MEMEQ(a, b, n)                                                            \
	unit_check_mem(__FILE__, __LINE__, #a " == " #b, (a), (b), (n))

#define UNIT_OR_RETURN(check)                                                            \
	do {                                                                             \
		if (!(check))                                                            \
			return;                                                          \
	} while (0)

#define ASSERT(cond)	      UNIT_OR_RETURN(EXPECT(cond))
#define ASSERT_TRUE(cond)     UNIT_OR_RETURN(EXPECT(cond))
#define ASSERT_FALSE(cond)    UNIT_OR_RETURN(EXPECT(!(cond)))
#define ASSERT_EQ(a, b)	      UNIT_OR_RETURN(EXPECT_EQ(a, b))
#define ASSERT_NE(a, b)	      UNIT_OR_RETURN(EXPECT_NE(a, b))
#define ASSERT_LT(a, b)	      UNIT_OR_RETURN(EXPECT_LT(a, b))
#define ASSERT_LE(a, b)	      UNIT_OR_RETURN(EXPECT_LE(a, b))
#define ASSERT_GE(a, b)	      UNIT_OR_RETURN(EXPECT_GE(a, b))
#define ASSERT_STREQ(a, b)    UNIT_OR_RETURN(EXPECT_STREQ(a, b))
#define ASSERT_MEMEQ(a, b, n) UNIT_OR_RETURN(EXPECT_MEMEQ(a, b, n))

/* A small deterministic PRNG (xorshift64*) so randomized tests repeat. */
struct unit_rng {
	uint64_t s;
};

static inline uint64_t unit_rand(struct unit_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1Dull;
}

/* Uniform-ish in [0, n); n > 0. */
static inline uint64_t unit_rand_below(struct unit_rng *r, uint64_t n)
{
	return unit_rand(r) % n;
}

#endif
