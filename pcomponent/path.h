/*
 * Path names of the processor's processes (pcomponent/path.c): the
 * lexical part of path resolution, portable (host-tested by
 * tests/unit/test_path.c).
 *
 * The storage node resolves symbolic links itself (include/proto/file.h),
 * so the processor mostly has to turn "what the process said" into one
 * absolute, normalised path: the working directory (or an open
 * directory) joined with a relative path, "." and empty components
 * dropped, ".." taking the previous component away, never going above
 * "/". This is lexical, as the brief of the file layer decided: "a/l/.."
 * is "a" even if l is a symbolic link to some other directory (Linux
 * would go to the parent of the link's target). Where the processor
 * needs the name links lead to (/proc/self/exe), path_follow walks them
 * with a readlink it is given (the storage node's, component by
 * component).
 */
#ifndef PCOMPONENT_PATH_H
#define PCOMPONENT_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define PATH_NAME_MAX 255 /* bytes of one component (FS_NAME_MAX) */

/*
 * Joins base (absolute and normalised: "/" or "/a/b") and rel (absolute
 * or relative; NUL-terminated) into out (cap bytes): the normalised
 * absolute path, "/" for the root, never a trailing '/'. An absolute rel
 * ignores base. Returns 0; -ENOENT for an empty rel (Linux's answer to
 * ""); -ENAMETOOLONG if a component of rel is longer than PATH_NAME_MAX
 * or the result (or any prefix of it while it is built) needs more than
 * cap bytes with its NUL. out is "" on an error. out must not overlap
 * base or rel.
 */
int path_join(const char *base, const char *rel, char *out, size_t cap);

/* True if rel names a directory by its spelling: it ends with '/', or
 * its last component is "." or "..". ("dir/" must be a directory.) */
bool path_wants_dir(const char *rel);

/* True if path (absolute, normalised) is dir or lies under it:
 * path_within("/dev/null", "/dev") and path_within("/dev", "/dev"),
 * not path_within("/device", "/dev"). */
bool path_within(const char *path, const char *dir);

/* The last component of path (absolute, normalised): "c" of "/a/b/c",
 * "" of "/". */
const char *path_last(const char *path);

#define PATH_MAX_LINKS 40 /* symbolic links one resolution follows (MAXSYMLINKS) */

/* How path_follow reads a link: the target of the link at path (absolute,
 * normalised) into buf (cap bytes, NUL-ended); its length, -EINVAL if
 * path is no link, or another negative errno (-ENOENT, ...). */
typedef long (*path_readlink_fn)(void *ctx, const char *path, char *buf, size_t cap);

/*
 * The path abs (absolute, normalised) names with every symbolic link in
 * it followed, as Linux's path walk follows them (realpath(3)): each
 * component's prefix is asked (rl), a link's target replaces it (a
 * relative target read from the link's directory, an absolute one from
 * "/"), ".." in a target takes the resolved prefix's last component
 * away. The result, absolute and normalised, into out (cap bytes);
 * scratch is 2 * cap bytes to work in. Returns 0, -ELOOP after
 * PATH_MAX_LINKS links, -ENAMETOOLONG, or rl's error (out is then "").
 */
int path_follow(const char *abs, path_readlink_fn rl, void *ctx, char *out, size_t cap,
		char *scratch);

#endif
