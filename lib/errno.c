/* Names and messages for the error numbers of include/kernel/errno.h. */
#include <kernel/errno.h>

struct errno_entry {
	int value;
	const char *name;
	const char *message;
};

static const struct errno_entry errno_table[] = {
#define ERRNO_ENTRY(name, value, msg) { value, #name, msg },
	ERRNO_LIST(ERRNO_ENTRY)
#undef ERRNO_ENTRY
};

static const struct errno_entry *errno_lookup(int err)
{
	/* Compare both signs rather than negate err: -INT_MIN overflows. */
	for (unsigned i = 0; i < sizeof(errno_table) / sizeof(errno_table[0]); i++)
		if (errno_table[i].value == err || -errno_table[i].value == err)
			return &errno_table[i];
	return 0;
}

const char *errno_name(int err)
{
	const struct errno_entry *e = errno_lookup(err);

	return e ? e->name : "E?";
}

const char *errno_message(int err)
{
	const struct errno_entry *e = errno_lookup(err);

	return e ? e->message : "unknown error";
}
