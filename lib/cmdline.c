/*
 * Kernel command line words. Portable; unit-tested on the host.
 * The command line comes from the boot loader, so every function here treats
 * it as untrusted text: bounded scans, no assumptions about length.
 */
#include <lib/cmdline.h>
#include <lib/string.h>

bool cmdline_each(const char *s, cmdline_fn fn, void *arg)
{
	while (s && *s) {
		const char *word, *eq = NULL, *val = NULL;
		size_t klen, vlen = 0;

		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		if (!*s)
			break;
		word = s;
		while (*s && *s != ' ' && *s != '\t' && *s != '\n') {
			if (*s == '=' && !eq)
				eq = s;
			s++;
		}
		if (eq) {
			klen = (size_t)(eq - word);
			val = eq + 1;
			vlen = (size_t)(s - val);
		} else {
			klen = (size_t)(s - word);
		}
		if (!fn(word, klen, val, vlen, arg))
			return false;
	}
	return true;
}

struct lookup {
	const char *key;
	size_t klen;
	bool found;
	const char *val;
	size_t vlen;
};

static bool lookup_word(const char *key, size_t klen, const char *val,
			size_t vlen, void *arg)
{
	struct lookup *l = arg;

	if (klen == l->klen && memcmp(key, l->key, klen) == 0) {
		l->found = true; /* keep going: the last one wins */
		l->val = val;
		l->vlen = vlen;
	}
	return true;
}

static struct lookup find(const char *cmdline, const char *key)
{
	struct lookup l = { .key = key, .klen = strlen(key) };

	cmdline_each(cmdline, lookup_word, &l);
	return l;
}

bool cmdline_has(const char *cmdline, const char *key)
{
	return find(cmdline, key).found;
}

bool cmdline_get(const char *cmdline, const char *key, char *val, size_t size)
{
	struct lookup l = find(cmdline, key);

	if (!l.found || !l.val || l.vlen + 1 > size)
		return false;
	memcpy(val, l.val, l.vlen);
	val[l.vlen] = '\0';
	return true;
}

bool cmdline_parse_u64(const char *s, size_t len, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;
	size_t i = 0;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == len)
		return false;
	for (; i < len; i++) {
		unsigned d;
		char c = s[i];

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return false;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}

bool cmdline_get_u64(const char *cmdline, const char *key, uint64_t *out)
{
	struct lookup l = find(cmdline, key);

	return l.found && l.val && cmdline_parse_u64(l.val, l.vlen, out);
}
