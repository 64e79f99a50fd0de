/*
 * Symbol lookup for backtraces. The table is generated at link time by
 * scripts/gensyms.py (see the Makefile's two-pass link); in the first pass
 * it does not exist yet and the weak reference is NULL.
 */
#include <kernel/ksym.h>
#include <stddef.h>

struct ksym_entry {
	uint64_t addr;
	uint64_t name_offset;
};

struct ksym_table {
	uint64_t count;
	struct ksym_entry entries[];
};

extern const struct ksym_table ksym_table __attribute__((weak));

const char *ksym_lookup(uint64_t addr, uint64_t *offset)
{
	const struct ksym_table *t = &ksym_table;
	uint64_t lo = 0, hi;
	const char *names;

	if (!t || t->count == 0 || addr < t->entries[0].addr)
		return NULL;
	/* Last entry whose address is <= addr. */
	hi = t->count;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (t->entries[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	names = (const char *)&t->entries[t->count];
	*offset = addr - t->entries[lo].addr;
	return names + t->entries[lo].name_offset;
}
