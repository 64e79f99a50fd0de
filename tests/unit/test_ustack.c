/*
 * Tests of the initial user stack (mcomponent/ustack.c): a stack is built
 * into a buffer standing for the top of user space and parsed back the
 * way a C runtime does (argc, argv, envp, auxv, the strings and the
 * AT_RANDOM bytes through the pointers), plus the string checks and
 * -E2BIG at every size below what is needed.
 */
#include "../../mcomponent/ustack.h"
#include "unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TOP  0x7ffffffff000ull
#define SIZE 16384u

struct stack {
	uint8_t buf[SIZE];
};

static uint64_t rd(const struct stack *s, uint64_t addr)
{
	uint64_t v;

	memcpy(&v, s->buf + (addr - (TOP - SIZE)), 8);
	return v;
}

static const char *str_at(const struct stack *s, uint64_t addr)
{
	return (const char *)s->buf + (addr - (TOP - SIZE));
}

static bool in_buf(uint64_t addr)
{
	return addr >= TOP - SIZE && addr < TOP;
}

static void info_init(struct ustack_info *in, const char *strings, size_t len,
		      uint32_t argc, uint32_t envc)
{
	memset(in, 0, sizeof(*in));
	in->strings = strings;
	in->strings_len = len;
	in->argc = argc;
	in->envc = envc;
	in->execfn = "/bin/prog";
	in->phdr = 0x400040;
	in->phent = 56;
	in->phnum = 7;
	in->entry = 0x401000;
	in->uid = 1000;
	in->euid = 1001;
	in->gid = 100;
	in->egid = 101;
	for (int i = 0; i < 16; i++)
		in->random[i] = (uint8_t)(0xa0 + i);
}

/* The auxv value of type, or ~0 if absent; checks AT_NULL ends it. */
static uint64_t aux(const struct stack *s, uint64_t auxv, uint64_t type)
{
	for (uint64_t a = auxv;; a += 16) {
		if (rd(s, a) == AT_NULL)
			return ~0ull;
		if (rd(s, a) == type)
			return rd(s, a + 8);
	}
}

TEST(ustack_layout_parses_back)
{
	static const char strings[] = "prog\0-x\0\0HOME=/\0PATH=/bin";
	struct stack *s = calloc(1, sizeof(*s));
	struct ustack_info in;
	uint64_t sp = 0, p, auxv, rnd;

	info_init(&in, strings, sizeof(strings), 3, 2);
	ASSERT_EQ(ustack_build(s->buf, SIZE, TOP, &in, &sp), 0);
	EXPECT_EQ(sp % 16, 0u);
	ASSERT(in_buf(sp));
	EXPECT_EQ(rd(s, sp), 3u);
	p = sp + 8;
	EXPECT_STREQ(str_at(s, rd(s, p)), "prog");
	EXPECT_STREQ(str_at(s, rd(s, p + 8)), "-x");
	EXPECT_STREQ(str_at(s, rd(s, p + 16)), "");
	EXPECT_EQ(rd(s, p + 24), 0u);
	EXPECT_STREQ(str_at(s, rd(s, p + 32)), "HOME=/");
	EXPECT_STREQ(str_at(s, rd(s, p + 40)), "PATH=/bin");
	EXPECT_EQ(rd(s, p + 48), 0u);
	auxv = p + 56;
	EXPECT_EQ(aux(s, auxv, AT_PHDR), 0x400040u);
	EXPECT_EQ(aux(s, auxv, AT_PHENT), 56u);
	EXPECT_EQ(aux(s, auxv, AT_PHNUM), 7u);
	EXPECT_EQ(aux(s, auxv, AT_PAGESZ), 4096u);
	EXPECT_EQ(aux(s, auxv, AT_ENTRY), 0x401000u);
	EXPECT_EQ(aux(s, auxv, AT_UID), 1000u);
	EXPECT_EQ(aux(s, auxv, AT_EUID), 1001u);
	EXPECT_EQ(aux(s, auxv, AT_GID), 100u);
	EXPECT_EQ(aux(s, auxv, AT_EGID), 101u);
	EXPECT_EQ(aux(s, auxv, AT_SECURE), 0u);
	EXPECT_EQ(aux(s, auxv, AT_CLKTCK), 100u);
	EXPECT_STREQ(str_at(s, aux(s, auxv, AT_EXECFN)), "/bin/prog");
	rnd = aux(s, auxv, AT_RANDOM);
	ASSERT(in_buf(rnd) && in_buf(rnd + 15));
	EXPECT_MEMEQ(s->buf + (rnd - (TOP - SIZE)), in.random, 16);
	/* everything lies above sp and below the top's 8 zero bytes */
	EXPECT_GT(rnd, sp);
	EXPECT_EQ(rd(s, TOP - 8), 0u);
	EXPECT_LT(aux(s, auxv, AT_EXECFN) + strlen("/bin/prog") + 1, TOP - 7);
	free(s);
}

TEST(ustack_no_args_no_env)
{
	struct stack *s = calloc(1, sizeof(*s));
	struct ustack_info in;
	uint64_t sp = 0;

	info_init(&in, "", 0, 0, 0);
	ASSERT_EQ(ustack_build(s->buf, SIZE, TOP, &in, &sp), 0);
	EXPECT_EQ(sp % 16, 0u);
	EXPECT_EQ(rd(s, sp), 0u);
	EXPECT_EQ(rd(s, sp + 8), 0u);  /* argv NULL */
	EXPECT_EQ(rd(s, sp + 16), 0u); /* envp NULL */
	EXPECT_EQ(rd(s, sp + 24), (uint64_t)AT_PHDR);
	free(s);
}

TEST(ustack_strings_checked)
{
	EXPECT_EQ(ustack_check_strings("a\0b", 4, 2, 0), 0);
	EXPECT_EQ(ustack_check_strings("a\0b", 4, 1, 1), 0);
	EXPECT_EQ(ustack_check_strings("a\0b", 4, 1, 0), -EINVAL);
	EXPECT_EQ(ustack_check_strings("a\0b", 4, 3, 0), -EINVAL);
	EXPECT_EQ(ustack_check_strings("a\0b", 3, 2, 0), -EINVAL); /* no final NUL */
	EXPECT_EQ(ustack_check_strings("", 0, 0, 0), 0);
	EXPECT_EQ(ustack_check_strings("", 0, 1, 0), -EINVAL);
	EXPECT_EQ(ustack_check_strings("\0\0", 2, 1, 1), 0);
}

/* Each size below the need: -E2BIG, never a write outside the buffer
 * (the buffer is exactly size bytes of heap: ASan watches). */
TEST(ustack_too_small)
{
	static const char strings[] = "prog\0arg\0X=1";
	struct stack *s = calloc(1, sizeof(*s));
	struct ustack_info in;
	uint64_t sp = 0, need;

	info_init(&in, strings, sizeof(strings), 2, 1);
	ASSERT_EQ(ustack_build(s->buf, SIZE, TOP, &in, &sp), 0);
	need = TOP - sp;
	for (uint64_t size = 0; size <= need; size++) {
		uint8_t *b = malloc(size ? size : 1);
		int err = ustack_build(b, size, TOP, &in, &sp);

		if (!EXPECT_EQ(err, size == need ? 0 : -E2BIG))
			unit_diag("size %llu", (unsigned long long)size);
		free(b);
	}
	EXPECT_EQ(ustack_build(s->buf, SIZE, TOP + 8, &in, &sp), -EINVAL);
	in.argc = 3;
	EXPECT_EQ(ustack_build(s->buf, SIZE, TOP, &in, &sp), -EINVAL);
	free(s);
}
