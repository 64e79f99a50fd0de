/*
 * Kernel command line words (lib/cmdline.c).
 *
 * A command line is a sequence of words separated by spaces; each word is
 * `key` or `key=value`. Values cannot contain spaces. Lookups return the last
 * occurrence of a key, so later words override earlier ones.
 */
#ifndef LIB_CMDLINE_H
#define LIB_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Calls fn(key, keylen, value, valuelen, arg) per word; value is NULL for
 * a bare `key`. Stops early and returns false when fn returns false. */
typedef bool (*cmdline_fn)(const char *key, size_t klen, const char *val,
			   size_t vlen, void *arg);
bool cmdline_each(const char *cmdline, cmdline_fn fn, void *arg);

/* True if the word `key` or `key=...` is present. */
bool cmdline_has(const char *cmdline, const char *key);

/* Copies the value of `key=value` into val (size bytes, NUL-terminated).
 * Returns false if the key is absent, has no value, or the value does not
 * fit. */
bool cmdline_get(const char *cmdline, const char *key, char *val, size_t size);

/* Parses the value of `key` as a decimal or 0x-prefixed hexadecimal number.
 * Returns false if absent or malformed (including overflow). */
bool cmdline_get_u64(const char *cmdline, const char *key, uint64_t *out);

/* Parses a whole string as a number as above. */
bool cmdline_parse_u64(const char *s, size_t len, uint64_t *out);

#endif
