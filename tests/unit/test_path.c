/*
 * Tests of the processor's lexical path normalisation (pcomponent/path.c):
 * joins of a working directory and relative or absolute paths, "." and
 * empty components dropped, ".." never above "/", the length limits
 * (component and whole path, exactly at the edge), the empty path, and
 * the helpers path_wants_dir, path_within and path_last; path_follow with
 * a table of links (relative, absolute, chains, "..", loops).
 */
#include "unit.h"

#include "../../pcomponent/path.h"

#include <kernel/errno.h>
#include <string.h>

#define CAP 64

/* path_join into a guarded buffer; returns the errno, *out the text. */
static int join(const char *base, const char *rel, char out[CAP + 8])
{
	memset(out, 'Z', CAP + 8);
	return path_join(base, rel, out, CAP);
}

static bool guard_ok(const char out[CAP + 8])
{
	for (int i = CAP; i < CAP + 8; i++)
		if (out[i] != 'Z')
			return false;
	return true;
}

TEST(path_join_relative_and_absolute)
{
	char out[CAP + 8];

	EXPECT_EQ(join("/", "a", out), 0);
	EXPECT_STREQ(out, "/a");
	EXPECT_EQ(join("/usr", "bin/ls", out), 0);
	EXPECT_STREQ(out, "/usr/bin/ls");
	EXPECT_EQ(join("/usr", "/etc/passwd", out), 0); /* absolute: base ignored */
	EXPECT_STREQ(out, "/etc/passwd");
	EXPECT_EQ(join("/a/b", ".", out), 0);
	EXPECT_STREQ(out, "/a/b");
	EXPECT_EQ(join("/", "/", out), 0);
	EXPECT_STREQ(out, "/");
	EXPECT(guard_ok(out));
}

TEST(path_join_drops_dots_and_empty_components)
{
	char out[CAP + 8];

	EXPECT_EQ(join("/", "//a///./b/./", out), 0);
	EXPECT_STREQ(out, "/a/b");
	EXPECT_EQ(join("/x", "./y/.", out), 0);
	EXPECT_STREQ(out, "/x/y");
	EXPECT_EQ(join("/x", ".a/..b/...", out), 0); /* names that only start with dots */
	EXPECT_STREQ(out, "/x/.a/..b/...");
}

TEST(path_join_dotdot_never_above_root)
{
	char out[CAP + 8];

	EXPECT_EQ(join("/a/b/c", "..", out), 0);
	EXPECT_STREQ(out, "/a/b");
	EXPECT_EQ(join("/a/b/c", "../../x", out), 0);
	EXPECT_STREQ(out, "/a/x");
	EXPECT_EQ(join("/a", "../../../..", out), 0);
	EXPECT_STREQ(out, "/");
	EXPECT_EQ(join("/", "/../etc/../../bin", out), 0);
	EXPECT_STREQ(out, "/bin");
	EXPECT_EQ(join("/a", "b/../../c/..", out), 0);
	EXPECT_STREQ(out, "/");
}

TEST(path_join_empty_is_enoent)
{
	char out[CAP + 8];

	EXPECT_EQ(join("/a", "", out), -ENOENT);
	EXPECT_STREQ(out, "");
}

TEST(path_join_length_limits)
{
	char out[CAP + 8], rel[400];

	/* exactly CAP - 1 characters fit: "/" + 62 letters */
	memset(rel, 'a', 62);
	rel[62] = '\0';
	EXPECT_EQ(join("/", rel, out), 0);
	EXPECT_EQ(strlen(out), 63u);
	EXPECT(guard_ok(out));
	/* one more does not */
	memset(rel, 'a', 63);
	rel[63] = '\0';
	EXPECT_EQ(join("/", rel, out), -ENAMETOOLONG);
	EXPECT_STREQ(out, "");
	EXPECT(guard_ok(out));
	/* the base counts too */
	memset(rel, 'b', 60);
	rel[60] = '\0';
	EXPECT_EQ(join("/abc", rel, out), -ENAMETOOLONG);
	/* a long path that shrinks again still has to fit while built */
	EXPECT_EQ(join("/", "x/../y", out), 0);
	EXPECT_STREQ(out, "/y");
}

TEST(path_join_component_limit)
{
	char big[PATH_NAME_MAX + 3], out[PATH_NAME_MAX + 8];

	memset(big, 'n', PATH_NAME_MAX);
	big[PATH_NAME_MAX] = '\0';
	EXPECT_EQ(path_join("/", big, out, sizeof(out)), 0);
	EXPECT_EQ(strlen(out), (size_t)PATH_NAME_MAX + 1);
	big[PATH_NAME_MAX] = 'n';
	big[PATH_NAME_MAX + 1] = '\0';
	EXPECT_EQ(path_join("/", big, out, sizeof(out)), -ENAMETOOLONG);
}

TEST(path_wants_dir_by_spelling)
{
	EXPECT(path_wants_dir("a/"));
	EXPECT(path_wants_dir("/"));
	EXPECT(path_wants_dir("."));
	EXPECT(path_wants_dir(".."));
	EXPECT(path_wants_dir("a/.."));
	EXPECT(path_wants_dir("a/."));
	EXPECT_FALSE(path_wants_dir("a"));
	EXPECT_FALSE(path_wants_dir("a.."));
	EXPECT_FALSE(path_wants_dir(".a"));
	EXPECT_FALSE(path_wants_dir("a/..."));
	EXPECT_FALSE(path_wants_dir(""));
}

TEST(path_within_and_last)
{
	EXPECT(path_within("/dev/null", "/dev"));
	EXPECT(path_within("/dev", "/dev"));
	EXPECT_FALSE(path_within("/device", "/dev"));
	EXPECT_FALSE(path_within("/de", "/dev"));
	EXPECT(path_within("/anything", "/"));
	EXPECT_STREQ(path_last("/a/b/c"), "c");
	EXPECT_STREQ(path_last("/a"), "a");
	EXPECT_STREQ(path_last("/"), "");
}

/* The links of a made-up tree for path_follow. */
static const struct {
	const char *path, *target;
} links[] = {
	{"/bin/cat", "busybox"},	   /* relative, same directory */
	{"/usr/bin/env", "/bin/busybox"}, /* absolute */
	{"/lib", "usr/lib"},		   /* a directory in the middle */
	{"/usr/lib/up", "../bin/env"},	   /* "..", then another link */
	{"/loop/a", "b"},
	{"/loop/b", "a"},
	{"/empty", ""},
};

static int asked; /* calls of fake_readlink */

static long fake_readlink(void *ctx, const char *path, char *buf, size_t cap)
{
	(void)ctx;
	asked++;
	if (!strcmp(path, "/missing") || !strncmp(path, "/missing/", 9))
		return -ENOENT;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (strcmp(path, links[i].path))
			continue;
		if (strlen(links[i].target) >= cap)
			return -ENAMETOOLONG;
		strcpy(buf, links[i].target);
		return (long)strlen(buf);
	}
	return -EINVAL;
}

static int follow(const char *abs, char out[CAP + 8])
{
	static char scratch[2 * CAP];

	memset(out, 'Z', CAP + 8);
	asked = 0;
	return path_follow(abs, fake_readlink, NULL, out, CAP, scratch);
}

TEST(path_follow_links)
{
	char out[CAP + 8];

	EXPECT_EQ(follow("/bin/busybox", out), 0); /* no link: itself */
	EXPECT_STREQ(out, "/bin/busybox");
	EXPECT_EQ(asked, 2); /* /bin, /bin/busybox */
	EXPECT_EQ(follow("/bin/cat", out), 0);
	EXPECT_STREQ(out, "/bin/busybox");
	EXPECT_EQ(follow("/usr/bin/env", out), 0);
	EXPECT_STREQ(out, "/bin/busybox");
	EXPECT_EQ(follow("/lib/up", out), 0); /* /usr/lib/up -> /usr/bin/env -> ... */
	EXPECT_STREQ(out, "/bin/busybox");
	EXPECT_EQ(follow("/lib", out), 0);
	EXPECT_STREQ(out, "/usr/lib");
	EXPECT_EQ(follow("/", out), 0);
	EXPECT_STREQ(out, "/");
	EXPECT_EQ(asked, 0);
	EXPECT(guard_ok(out));
}

TEST(path_follow_errors)
{
	char out[CAP + 8];

	EXPECT_EQ(follow("/loop/a", out), -ELOOP);
	EXPECT_STREQ(out, "");
	EXPECT_EQ(asked, PATH_MAX_LINKS + 2); /* /loop, then 41 links */
	EXPECT_EQ(follow("/missing/x", out), -ENOENT);
	EXPECT_EQ(follow("/empty", out), -ENOENT);
	EXPECT(guard_ok(out));
}
