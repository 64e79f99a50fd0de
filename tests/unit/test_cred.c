/*
 * Tests of the processor's credential rules (pcomponent/cred.c), against
 * what Linux's setuid(2), setreuid(2), setresuid(2), setfsuid(2),
 * setgroups(2) and kill(2) pages say: root may set anything and loses
 * the privilege with its effective uid; an unprivileged process moves
 * only among its real, effective and saved ids; a refused call changes
 * nothing; the saved id follows setreuid's rule; the file system id
 * follows the effective one; groups come back sorted; kill's check on
 * real and saved uids; what the storage node is sent.
 */
#include "unit.h"

#include "../../pcomponent/cred.h"

#include <kernel/errno.h>
#include <string.h>

/* A process with real, effective, saved uid r, e, s (gids alike). */
static struct cred cred_of(uint32_t r, uint32_t e, uint32_t s)
{
	struct cred c;

	cred_root(&c);
	c.uid = c.gid = r;
	c.euid = c.fsuid = c.egid = c.fsgid = e;
	c.suid = c.sgid = s;
	return c;
}

#define EXPECT_UIDS(c, r, e, s, fs)                                                      \
	do {                                                                             \
		EXPECT_EQ((c).uid, (uint32_t)(r));                                      \
		EXPECT_EQ((c).euid, (uint32_t)(e));                                     \
		EXPECT_EQ((c).suid, (uint32_t)(s));                                     \
		EXPECT_EQ((c).fsuid, (uint32_t)(fs));                                   \
	} while (0)

TEST(cred_setuid_root_sets_all_then_cannot_return)
{
	struct cred c = cred_of(0, 0, 0);

	EXPECT_EQ(cred_setuid(&c, 65534), 0);
	EXPECT_UIDS(c, 65534, 65534, 65534, 65534);
	EXPECT_EQ(cred_setuid(&c, 0), -EPERM);
	EXPECT_UIDS(c, 65534, 65534, 65534, 65534);
	EXPECT_EQ(cred_setuid(&c, 65534), 0); /* its own: allowed */
	EXPECT_EQ(cred_setuid(&c, CRED_KEEP), -EINVAL);
}

TEST(cred_setuid_unprivileged_real_or_saved)
{
	struct cred c = cred_of(1000, 2000, 0);

	/* euid 2000: not privileged, but 0 is the saved uid */
	EXPECT_EQ(cred_setuid(&c, 3000), -EPERM);
	EXPECT_EQ(cred_setuid(&c, 0), 0);
	EXPECT_UIDS(c, 1000, 0, 0, 0);
	c = cred_of(1000, 2000, 3000);
	EXPECT_EQ(cred_setuid(&c, 2000), -EPERM); /* the effective one is not enough */
	EXPECT_EQ(cred_setuid(&c, 3000), 0);
	EXPECT_UIDS(c, 1000, 3000, 3000, 3000);
}

TEST(cred_setresuid_rules)
{
	struct cred c = cred_of(0, 0, 0);

	EXPECT_EQ(cred_setresuid(&c, 1000, 1001, 0), 0);
	EXPECT_UIDS(c, 1000, 1001, 0, 1001);
	/* unprivileged now: each new id one of 1000, 1001, 0 */
	EXPECT_EQ(cred_setresuid(&c, 5, CRED_KEEP, CRED_KEEP), -EPERM);
	EXPECT_UIDS(c, 1000, 1001, 0, 1001);
	EXPECT_EQ(cred_setresuid(&c, 1001, 1000, 1000), 0);
	EXPECT_UIDS(c, 1001, 1000, 1000, 1000);
	EXPECT_EQ(cred_setresuid(&c, CRED_KEEP, 0, CRED_KEEP), -EPERM); /* 0 is gone */
	EXPECT_EQ(cred_setresuid(&c, CRED_KEEP, CRED_KEEP, CRED_KEEP), 0);
	EXPECT_UIDS(c, 1001, 1000, 1000, 1000);
}

TEST(cred_setreuid_saved_rule)
{
	struct cred c = cred_of(1000, 2000, 3000);

	/* effective becomes other than the old real: saved follows it */
	EXPECT_EQ(cred_setreuid(&c, CRED_KEEP, 3000), 0);
	EXPECT_UIDS(c, 1000, 3000, 3000, 3000);
	/* effective set to the real one, real kept: saved stays */
	c = cred_of(1000, 2000, 3000);
	EXPECT_EQ(cred_setreuid(&c, CRED_KEEP, 1000), 0);
	EXPECT_UIDS(c, 1000, 1000, 3000, 1000);
	/* the real may become only the real or the effective */
	c = cred_of(1000, 2000, 3000);
	EXPECT_EQ(cred_setreuid(&c, 3000, CRED_KEEP), -EPERM);
	EXPECT_EQ(cred_setreuid(&c, 2000, 1000), 0); /* a swap */
	EXPECT_UIDS(c, 2000, 1000, 1000, 1000);
}

TEST(cred_gid_family_follows_euid_privilege)
{
	struct cred c = cred_of(0, 0, 0);

	EXPECT_EQ(cred_setgid(&c, 100), 0);
	EXPECT_EQ(c.gid, 100u);
	EXPECT_EQ(c.egid, 100u);
	EXPECT_EQ(c.sgid, 100u);
	EXPECT_EQ(c.fsgid, 100u);
	EXPECT_EQ(cred_setuid(&c, 1000), 0);
	EXPECT_EQ(cred_setgid(&c, 0), -EPERM); /* no longer privileged */
	EXPECT_EQ(cred_setresgid(&c, 100, 100, 100), 0);
	EXPECT_EQ(cred_setregid(&c, 7, CRED_KEEP), -EPERM);
	EXPECT_EQ(c.gid, 100u);
}

TEST(cred_setfsuid_returns_old_and_checks)
{
	struct cred c = cred_of(1000, 1000, 1000);

	EXPECT_EQ(cred_setfsuid(&c, 0), 1000u); /* refused silently */
	EXPECT_EQ(c.fsuid, 1000u);
	c = cred_of(0, 0, 0);
	EXPECT_EQ(cred_setfsuid(&c, 5), 0u);
	EXPECT_EQ(c.fsuid, 5u);
	EXPECT_EQ(cred_setfsuid(&c, CRED_KEEP), 5u); /* a query */
	EXPECT_EQ(c.fsuid, 5u);
	EXPECT_EQ(c.euid, 0u);
}

TEST(cred_setgroups_sorted_privileged_bounded)
{
	struct cred c = cred_of(0, 0, 0);
	uint32_t g[CRED_NGROUPS + 1] = {30, 10, 20, 10};

	EXPECT_EQ(cred_setgroups(&c, g, 4), 0);
	EXPECT_EQ(c.ngroups, 4u);
	EXPECT_EQ(c.groups[0], 10u);
	EXPECT_EQ(c.groups[1], 10u);
	EXPECT_EQ(c.groups[2], 20u);
	EXPECT_EQ(c.groups[3], 30u);
	EXPECT_EQ(cred_setgroups(&c, g, CRED_NGROUPS + 1), -EINVAL);
	EXPECT_EQ(c.ngroups, 4u);
	EXPECT_EQ(cred_setgroups(&c, g, 0), 0);
	EXPECT_EQ(c.ngroups, 0u);
	c = cred_of(1000, 1000, 1000);
	EXPECT_EQ(cred_setgroups(&c, g, 1), -EPERM);
}

TEST(cred_may_signal_real_and_saved)
{
	struct cred root = cred_of(0, 0, 0), a = cred_of(1000, 1000, 1000);
	struct cred b = cred_of(2000, 2000, 2000), mixed = cred_of(3000, 2000, 1000);

	EXPECT_TRUE(cred_may_signal(&root, &a));
	EXPECT_FALSE(cred_may_signal(&a, &b));
	EXPECT_FALSE(cred_may_signal(&a, &root));
	EXPECT_TRUE(cred_may_signal(&a, &a));
	EXPECT_TRUE(cred_may_signal(&a, &mixed));  /* a's uid is mixed's saved uid */
	EXPECT_FALSE(cred_may_signal(&b, &mixed)); /* mixed's effective uid does not count */
	EXPECT_TRUE(cred_may_signal(&mixed, &b));  /* mixed's effective is b's real */
}

TEST(cred_to_fs_sends_fs_ids_and_first_groups)
{
	struct cred c = cred_of(0, 0, 0);
	uint32_t g[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	struct fs_cred fc;

	EXPECT_EQ(cred_setgroups(&c, g, 12), 0);
	EXPECT_EQ(cred_setresuid(&c, 1, 2, 3), 0);
	EXPECT_EQ(cred_setfsuid(&c, 3), 2u);
	cred_to_fs(&c, &fc);
	EXPECT_EQ(fc.uid, 3u);
	EXPECT_EQ(fc.gid, 0u);
	EXPECT_EQ(fc.ngroups, (uint32_t)FS_NGROUPS);
	EXPECT_EQ(fc.groups[FS_NGROUPS - 1], (uint32_t)FS_NGROUPS);
	EXPECT_EQ(fc.reserved, 0u);
}
