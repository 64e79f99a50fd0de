/*
 * The initial user stack (layout and contract: mcomponent/ustack.h).
 *
 * Built top-down in two steps: first the byte areas (end marker, execfn,
 * strings, random bytes) whose addresses the pointers need, then the
 * pointer block, whose size is known beforehand (argc + envc + the auxv),
 * placed so that the stack pointer comes out 16-byte aligned. Every
 * address is checked against the bottom of the buffer before anything is
 * written there, so a request that does not fit answers -E2BIG.
 */
#include "ustack.h"

#include <kernel/errno.h>
#include <lib/string.h>

#define USTACK_PAGE 4096u

struct cursor {
	uint8_t *buf;
	uint64_t base; /* user address of buf[0] */
	uint64_t at;   /* lowest user address used so far */
};

/* Moves the cursor down by len bytes (and to align); false if below base. */
static bool take(struct cursor *c, uint64_t len, uint64_t align)
{
	if (c->at - c->base < len)
		return false;
	c->at = (c->at - len) & ~(align - 1);
	return c->at >= c->base;
}

static void put(struct cursor *c, uint64_t addr, const void *src, size_t len)
{
	memcpy(c->buf + (addr - c->base), src, len);
}

static void put64(struct cursor *c, uint64_t addr, uint64_t v)
{
	put(c, addr, &v, sizeof(v));
}

int ustack_check_strings(const char *strings, size_t len, uint32_t argc, uint32_t envc)
{
	uint64_t want = (uint64_t)argc + envc, found = 0;

	if (len && strings[len - 1] != '\0')
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (strings[i] == '\0')
			found++;
	return found == want ? 0 : -EINVAL;
}

/* Writes argv/envp pointers from the strings at addr; returns the slot
 * after the NULL that ends envp. */
static uint64_t put_vectors(struct cursor *c, uint64_t slot, uint64_t addr,
			    const struct ustack_info *in)
{
	size_t off = 0;

	for (uint32_t i = 0; i < in->argc + in->envc; i++) {
		if (i == in->argc) {
			put64(c, slot, 0); /* argv's NULL */
			slot += 8;
		}
		put64(c, slot, addr + off);
		slot += 8;
		off += strlen(in->strings + off) + 1;
	}
	if (in->envc == 0) {
		put64(c, slot, 0); /* argv's NULL */
		slot += 8;
	}
	put64(c, slot, 0); /* envp's NULL */
	return slot + 8;
}

static uint64_t put_aux(struct cursor *c, uint64_t slot, uint64_t type, uint64_t value)
{
	put64(c, slot, type);
	put64(c, slot + 8, value);
	return slot + 16;
}

int ustack_build(void *buf, size_t size, uint64_t top, const struct ustack_info *in,
		 uint64_t *sp)
{
	struct cursor c = {.buf = buf, .base = top - size, .at = top};
	size_t fn_len = strlen(in->execfn) + 1;
	uint64_t fn, strings, random, words, slot;

	if (top % 16 || size > top ||
	    ustack_check_strings(in->strings, in->strings_len, in->argc, in->envc))
		return -EINVAL;
	if (!take(&c, 8, 8))
		return -E2BIG;
	put64(&c, c.at, 0);
	if (!take(&c, fn_len, 1))
		return -E2BIG;
	fn = c.at;
	put(&c, fn, in->execfn, fn_len);
	if (!take(&c, in->strings_len, 1))
		return -E2BIG;
	strings = c.at;
	put(&c, strings, in->strings, in->strings_len);
	if (!take(&c, 16, 16))
		return -E2BIG;
	random = c.at;
	put(&c, random, in->random, 16);
	words = 1 + (uint64_t)in->argc + 1 + in->envc + 1 + 2 * USTACK_NAUX;
	if (!take(&c, words * 8, 16))
		return -E2BIG;
	*sp = c.at;
	put64(&c, c.at, in->argc);
	slot = put_vectors(&c, c.at + 8, strings, in);
	slot = put_aux(&c, slot, AT_PHDR, in->phdr);
	slot = put_aux(&c, slot, AT_PHENT, in->phent);
	slot = put_aux(&c, slot, AT_PHNUM, in->phnum);
	slot = put_aux(&c, slot, AT_PAGESZ, USTACK_PAGE);
	slot = put_aux(&c, slot, AT_BASE, in->base);
	slot = put_aux(&c, slot, AT_FLAGS, 0);
	slot = put_aux(&c, slot, AT_ENTRY, in->entry);
	slot = put_aux(&c, slot, AT_UID, in->uid);
	slot = put_aux(&c, slot, AT_EUID, in->euid);
	slot = put_aux(&c, slot, AT_GID, in->gid);
	slot = put_aux(&c, slot, AT_EGID, in->egid);
	slot = put_aux(&c, slot, AT_SECURE, in->secure);
	slot = put_aux(&c, slot, AT_RANDOM, random);
	slot = put_aux(&c, slot, AT_EXECFN, fn);
	slot = put_aux(&c, slot, AT_CLKTCK, 100);
	put_aux(&c, slot, AT_NULL, 0);
	return 0;
}
