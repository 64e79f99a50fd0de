/*
 * Command-line options (see include/kernel/config.h for the words).
 * The command line comes from the CLI or the boot menu; a bad word is
 * reported, never fatal, except a role that does not match the image.
 */
#include <kernel/config.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <lib/cmdline.h>
#include <lib/printf.h>
#include <lib/string.h>

struct kconfig kconfig = { .loglevel = LOG_INFO };

static bool word_is(const char *key, size_t klen, const char *name)
{
	return strlen(name) == klen && memcmp(key, name, klen) == 0;
}

/* peers=A,B,...: node ids 1..65535, no repeats; all or nothing. */
static bool parse_peers(const char *val, size_t vlen)
{
	unsigned short ids[KCONFIG_MAX_PEERS];
	unsigned n = 0;
	uint64_t id;

	while (vlen) {
		const char *comma = memchr(val, ',', vlen);
		size_t len = comma ? (size_t)(comma - val) : vlen;

		if (n == KCONFIG_MAX_PEERS || !cmdline_parse_u64(val, len, &id) ||
		    id == 0 || id > 65535)
			return false;
		for (unsigned i = 0; i < n; i++)
			if (ids[i] == id)
				return false;
		ids[n++] = (unsigned short)id;
		val += len + (comma != NULL);
		vlen -= len + (comma != NULL);
		if (comma && !vlen)
			return false; /* trailing comma */
	}
	memcpy(kconfig.peers, ids, sizeof(ids[0]) * n);
	kconfig.npeers = n;
	return n > 0;
}

static bool parse_word(const char *key, size_t klen, const char *val,
		       size_t vlen, void *arg)
{
	int *problems = arg;
	uint64_t n;

	if (word_is(key, klen, "role")) {
		if (!val || vlen != strlen(this_role.name) ||
		    memcmp(val, this_role.name, vlen) != 0)
			panic("command line asks for role=%.*s but this is the %s image",
			      (int)vlen, val ? val : "", this_role.name);
	} else if (word_is(key, klen, "node")) {
		if (val && cmdline_parse_u64(val, vlen, &n) && n < 65536)
			kconfig.node_id = (unsigned)n;
		else
			goto bad;
	} else if (word_is(key, klen, "name")) {
		if (!val || vlen == 0 || vlen >= sizeof(kconfig.name))
			goto bad;
		memcpy(kconfig.name, val, vlen);
		kconfig.name[vlen] = '\0';
	} else if (word_is(key, klen, "loglevel")) {
		if (val && cmdline_parse_u64(val, vlen, &n) && n <= LOG_DEBUG)
			kconfig.loglevel = (int)n;
		else
			goto bad;
	} else if (word_is(key, klen, "ktest")) {
		kconfig.ktest = true;
		kconfig.panic_exit = true;
		if (val) {
			if (vlen >= sizeof(kconfig.ktest_filter))
				goto bad;
			memcpy(kconfig.ktest_filter, val, vlen);
			kconfig.ktest_filter[vlen] = '\0';
		}
	} else if (word_is(key, klen, "panic")) {
		if (val && vlen == 4 && memcmp(val, "exit", 4) == 0)
			kconfig.panic_exit = true;
		else if (val && vlen == 4 && memcmp(val, "halt", 4) == 0)
			kconfig.panic_exit = false;
		else
			goto bad;
	} else if (word_is(key, klen, "peers")) {
		if (!val || !parse_peers(val, vlen))
			goto bad;
	} else if (!val && memchr(key, '/', klen)) {
		/* the image path that loaders put first: not an option */
	} else {
		pr_warn("cmdline: unknown word '%.*s' ignored", (int)klen, key);
		(*problems)++;
	}
	return true;
bad:
	pr_warn("cmdline: bad value in '%.*s%s%.*s' ignored", (int)klen, key,
		val ? "=" : "", (int)vlen, val ? val : "");
	(*problems)++;
	return true;
}

int kconfig_parse(const char *cmdline)
{
	int problems = 0;

	cmdline_each(cmdline, parse_word, &problems);
	if (!kconfig.name[0])
		snprintf(kconfig.name, sizeof(kconfig.name), "%c%u",
			 this_role.letter, kconfig.node_id);
	return problems;
}
