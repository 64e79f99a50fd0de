/*
 * Lexical path normalisation (pcomponent/path.h).
 *
 * path_join builds the result in place: out always holds a normalised
 * absolute path without its leading '/' ambiguity ("" while at the root,
 * "/a/b" below it), so ".." is a cut at the last '/' and a component is
 * an append of "/name". path_follow builds its result the same way,
 * asking at each component whether the prefix so far is a link; a link
 * turns what is left to walk into its target followed by the rest. Portable: no kernel headers beyond errno and
 * string (host unit test tests/unit/test_path.c).
 */
#include "path.h"

#include <kernel/errno.h>
#include <lib/string.h>

/* Appends one component c[0..n) to out (length *len, cap bytes). */
static int path_push(char *out, size_t *len, size_t cap, const char *c, size_t n)
{
	if (n == 0 || (n == 1 && c[0] == '.'))
		return 0;
	if (n == 2 && c[0] == '.' && c[1] == '.') {
		while (*len > 0 && out[*len - 1] != '/')
			(*len)--;
		if (*len > 0)
			(*len)--; /* the '/' before the component */
		out[*len] = '\0';
		return 0;
	}
	if (n > PATH_NAME_MAX)
		return -ENAMETOOLONG;
	if (*len + 1 + n + 1 > cap)
		return -ENAMETOOLONG;
	out[(*len)++] = '/';
	memcpy(out + *len, c, n);
	*len += n;
	out[*len] = '\0';
	return 0;
}

/* Appends every component of s to out. */
static int path_push_all(char *out, size_t *len, size_t cap, const char *s)
{
	while (*s) {
		const char *end = s;
		int err;

		while (*end && *end != '/')
			end++;
		err = path_push(out, len, cap, s, (size_t)(end - s));
		if (err)
			return err;
		s = *end ? end + 1 : end;
	}
	return 0;
}

int path_join(const char *base, const char *rel, char *out, size_t cap)
{
	size_t len = 0;
	int err;

	if (cap < 2)
		return -ENAMETOOLONG;
	out[0] = '\0';
	if (!rel[0])
		return -ENOENT;
	err = rel[0] == '/' ? 0 : path_push_all(out, &len, cap, base);
	if (!err)
		err = path_push_all(out, &len, cap, rel);
	if (err) {
		out[0] = '\0';
		return err;
	}
	if (len == 0) {
		out[0] = '/';
		out[1] = '\0';
	}
	return 0;
}

bool path_wants_dir(const char *rel)
{
	size_t n = strlen(rel);

	if (n == 0)
		return false;
	if (rel[n - 1] == '/')
		return true;
	if (rel[n - 1] != '.')
		return false;
	if (n == 1 || rel[n - 2] == '/')
		return true; /* "." */
	return rel[n - 2] == '.' && (n == 2 || rel[n - 3] == '/'); /* ".." */
}

bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

const char *path_last(const char *path)
{
	const char *slash = path;

	for (const char *s = path; *s; s++)
		if (*s == '/')
			slash = s;
	return *slash == '/' ? slash + 1 : slash;
}

/* The component at *s (its length into *n, *s past any '/' before it);
 * false at the end. */
static bool next_component(const char **s, size_t *n)
{
	while (**s == '/')
		(*s)++;
	*n = 0;
	while ((*s)[*n] && (*s)[*n] != '/')
		(*n)++;
	return *n > 0;
}

/* todo becomes target + "/" + rest (rest may lie in todo; link holds
 * target, n bytes; both cap bytes). */
static int splice_target(char *todo, char *link, size_t n, const char *rest, size_t cap)
{
	size_t rn = strlen(rest);

	if (n + 1 + rn + 1 > cap)
		return -ENAMETOOLONG;
	link[n] = '/';
	memcpy(link + n + 1, rest, rn + 1);
	memcpy(todo, link, n + 1 + rn + 1);
	return 0;
}

int path_follow(const char *abs, path_readlink_fn rl, void *ctx, char *out, size_t cap,
		char *scratch)
{
	char *todo = scratch, *link = scratch + cap;
	const char *s = todo;
	unsigned links = 0;
	size_t len = 0, n;
	int err = 0;

	if (cap < 2 || strlcpy(todo, abs, cap) >= cap)
		return -ENAMETOOLONG;
	out[0] = '\0';
	while (!err && next_component(&s, &n)) {
		long t;

		err = path_push(out, &len, cap, s, n);
		s += n;
		if (err || (n <= 2 && s[-1] == '.' && (n == 1 || s[-2] == '.')))
			continue; /* an error, or "." and "..": nothing to ask */
		t = rl(ctx, out, link, cap);
		if (t == -EINVAL)
			continue; /* no link: keep the component */
		if (t == 0)
			err = -ENOENT; /* an empty target, as Linux */
		else if (t < 0 || (size_t)t >= cap)
			err = t < 0 ? (int)t : -ENAMETOOLONG;
		else if (++links > PATH_MAX_LINKS)
			err = -ELOOP;
		else
			err = splice_target(todo, link, (size_t)t, s, cap);
		if (err)
			continue;
		path_push(out, &len, cap, "..", 2); /* the link's own name goes */
		if (link[0] == '/') {
			len = 0;
			out[0] = '\0';
		}
		s = todo;
	}
	if (err) {
		out[0] = '\0';
	} else if (len == 0) {
		out[0] = '/';
		out[1] = '\0';
	}
	return err;
}
