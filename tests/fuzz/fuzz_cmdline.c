/*
 * libFuzzer target for the kernel command line parser (lib/cmdline.c),
 * whose input comes from the boot loader.
 *
 * The input, NUL-terminated, is the command line. Every word the parser
 * reports is checked against the text (inside it, in order, no separator
 * in a key or value, no '=' in a key); lookups of the words' keys are
 * checked against the last occurrence; values are copied into heap
 * buffers of every small size (ASan catches an overrun); and the number
 * parser is compared with an independent reference on the raw bytes.
 */
#include <lib/cmdline.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 16 /* lookups are checked on lines of at most this many words */

struct walk {
	const char *line, *end, *prev_end;
	size_t nwords;
	const char *key[MAX_KEYS], *val[MAX_KEYS];
	size_t klen[MAX_KEYS], vlen[MAX_KEYS];
};

static bool is_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

static void check_span(const struct walk *w, const char *p, size_t n)
{
	if (p < w->line || p > w->end || n > (size_t)(w->end - p))
		abort();
	for (size_t i = 0; i < n; i++)
		if (is_sep(p[i]) || p[i] == '\0')
			abort();
}

static bool on_word(const char *key, size_t klen, const char *val, size_t vlen, void *arg)
{
	struct walk *w = arg;

	check_span(w, key, klen);
	if (memchr(key, '=', klen) || key < w->prev_end)
		abort();
	if (val) {
		if (val != key + klen + 1 || key[klen] != '=')
			abort();
		check_span(w, val, vlen);
	} else if (vlen || klen == 0) {
		abort();
	}
	w->prev_end = val ? val + vlen : key + klen;
	if (w->nwords < MAX_KEYS) {
		w->key[w->nwords] = key;
		w->klen[w->nwords] = klen;
		w->val[w->nwords] = val;
		w->vlen[w->nwords] = vlen;
	}
	w->nwords++;
	return true;
}

static int digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

/* Independent reference for cmdline_parse_u64. */
static bool ref_parse_u64(const char *s, size_t len, uint64_t *out)
{
	unsigned base = 10;
	size_t i = 0;
	uint64_t v = 0;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == len)
		return false;
	for (; i < len; i++) {
		int d = digit(s[i]);

		if (d >= (int)base || __builtin_mul_overflow(v, base, &v) ||
		    __builtin_add_overflow(v, (uint64_t)d, &v))
			return false;
	}
	*out = v;
	return true;
}

static void check_number(const char *s, size_t len)
{
	uint64_t a = 1, b = 2;
	bool ok = cmdline_parse_u64(s, len, &a);

	if (ok != ref_parse_u64(s, len, &b) || (ok && a != b))
		abort();
}

/* The word whose key matches word k's and comes last. */
static size_t last_of(const struct walk *w, size_t k)
{
	size_t last = k;

	for (size_t i = k + 1; i < w->nwords; i++)
		if (w->klen[i] == w->klen[k] && !memcmp(w->key[i], w->key[k], w->klen[k]))
			last = i;
	return last;
}

/* Looks word k's key up every way and checks against the walk. */
static void check_lookups(const struct walk *w, size_t k)
{
	size_t last = last_of(w, k);
	char *key = strndup(w->key[k], w->klen[k]);
	uint64_t v;

	if (!key)
		abort();
	if (!cmdline_has(w->line, key))
		abort();
	for (size_t size = 0; size <= w->vlen[last] + 1 && size < 64; size++) {
		char *buf = size ? malloc(size) : NULL;
		bool want = w->val[last] && w->vlen[last] + 1 <= size;

		if (cmdline_get(w->line, key, buf, size) != want)
			abort();
		if (want && (strlen(buf) != w->vlen[last] ||
			     memcmp(buf, w->val[last], w->vlen[last])))
			abort();
		free(buf);
	}
	if (w->val[last]) {
		bool ok = cmdline_get_u64(w->line, key, &v);
		uint64_t r;

		if (ok != ref_parse_u64(w->val[last], w->vlen[last], &r) ||
		    (ok && v != r))
			abort();
	}
	free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	struct walk w = {0};

	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	w.line = w.prev_end = line;
	w.end = line + strlen(line);
	if (!cmdline_each(line, on_word, &w))
		abort(); /* on_word never stops the walk */
	for (size_t k = 0; w.nwords <= MAX_KEYS && k < w.nwords; k++)
		if (w.klen[k])
			check_lookups(&w, k);
	check_number((const char *)data, size);
	free(line);
	return 0;
}
