/*
 * Tests of the kernel command-line parser (kernel/config.c): the words of
 * include/kernel/config.h, peers= with and without names (and name
 * lookups), excache=, backup=, exports= (and its path rule), storage=,
 * role checks, and that every malformed value
 * is reported and leaves the option at its default.
 */
#include "unit.h"

#include <kernel/config.h>
#include <stdio.h>
#include <string.h>

static const struct role processor = {ROLE_PROCESSOR, "processor", 'p', NULL};
static const struct role memory = {ROLE_MEMORY, "memory", 'm', NULL};

struct reports {
	unsigned n;
	char last[256];
};

static void collect(void *ctx, const char *problem)
{
	struct reports *r = ctx;

	r->n++;
	snprintf(r->last, sizeof(r->last), "%s", problem);
}

/* Parses line for role into a fresh kconfig; returns the problem count. */
static int parse(const char *line, const struct role *role, struct kconfig *kc,
		 struct reports *r)
{
	int n;

	memset(kc, 0, sizeof(*kc));
	memset(r, 0, sizeof(*r));
	kc->loglevel = 6;
	n = kconfig_parse_into(kc, line, role, collect, r);
	EXPECT_EQ((unsigned)n, r->n);
	return n;
}

TEST(config_basic_words)
{
	struct kconfig kc;
	struct reports r;

	EXPECT_EQ(parse("/boot/tessera-p.elf role=processor node=3 loglevel=7",
			&processor, &kc, &r),
		  0);
	EXPECT_EQ(kc.node_id, 3u);
	EXPECT_STREQ(kc.name, "p3");
	EXPECT_EQ(kc.loglevel, 7);
	EXPECT_FALSE(kc.role_mismatch);
	EXPECT_FALSE(kc.excache_set);
	EXPECT_EQ(kc.backup_id, 0u);

	EXPECT_EQ(parse("name=alpha ktest=sched panic=halt", &memory, &kc, &r), 0);
	EXPECT_STREQ(kc.name, "alpha");
	EXPECT(kc.ktest);
	EXPECT_STREQ(kc.ktest_filter, "sched");
	EXPECT_FALSE(kc.panic_exit); /* the later word wins */

	EXPECT_EQ(parse("node=x loglevel=8 frob panic=maybe name=", &memory, &kc, &r), 5);
	EXPECT_EQ(kc.node_id, 0u);
	EXPECT_EQ(kc.loglevel, 6);
	EXPECT_STREQ(kc.name, "m0");
}

TEST(config_role_mismatch_is_flagged)
{
	struct kconfig kc;
	struct reports r;

	parse("role=memory", &processor, &kc, &r);
	EXPECT(kc.role_mismatch);
	EXPECT_STREQ(kc.role_asked, "memory");
	parse("role=averyveryverylongrolename", &processor, &kc, &r);
	EXPECT(kc.role_mismatch);
	EXPECT_EQ(strlen(kc.role_asked), sizeof(kc.role_asked) - 1);
	parse("role", &processor, &kc, &r);
	EXPECT(kc.role_mismatch);
	parse("role=processor", &processor, &kc, &r);
	EXPECT_FALSE(kc.role_mismatch);
}

TEST(config_peers_with_and_without_names)
{
	struct kconfig kc;
	struct reports r;

	EXPECT_EQ(parse("peers=1:p1,2:m1,3:s1,4:g1", &processor, &kc, &r), 0);
	ASSERT_EQ(kc.npeers, 4u);
	EXPECT_EQ(kc.peers[0], 1);
	EXPECT_EQ(kc.peers[3], 4);
	EXPECT_STREQ(kc.peer_names[1], "m1");
	EXPECT_STREQ(kc.peer_names[3], "g1");
	EXPECT_EQ(kconfig_peer_find(&kc, "m1"), 1);
	EXPECT_EQ(kconfig_peer_find(&kc, "3"), 2);
	EXPECT_EQ(kconfig_peer_find(&kc, "0x4"), 3);
	EXPECT_EQ(kconfig_peer_find(&kc, "9"), -1);
	EXPECT_EQ(kconfig_peer_find(&kc, "x1"), -1);
	EXPECT_EQ(kconfig_peer_find(&kc, ""), -1);

	EXPECT_EQ(parse("peers=1,2,3", &processor, &kc, &r), 0); /* the old form */
	ASSERT_EQ(kc.npeers, 3u);
	EXPECT_STREQ(kc.peer_names[0], "");
	EXPECT_EQ(kconfig_peer_find(&kc, "2"), 1);

	EXPECT_EQ(parse("peers=1,7:_x-9", &processor, &kc, &r), 0); /* mixed */
	ASSERT_EQ(kc.npeers, 2u);
	EXPECT_STREQ(kc.peer_names[1], "_x-9");
	EXPECT_EQ(kconfig_peer_find(&kc, "_x-9"), 1);
}

TEST(config_bad_peers_are_refused_whole)
{
	static const char *const bad[] = {
		"peers=",
		"peers",
		"peers=1,1",
		"peers=1:a,2:a",
		"peers=1:",
		"peers=:a",
		"peers=1:9a",
		"peers=1:-a",
		"peers=1:a.b",
		"peers=0",
		"peers=65536",
		"peers=1,",
		"peers=,1",
		"peers=1,,2",
		"peers=1::a",
		"peers=1:a:b",
		"peers=x",
		"peers=1:abcdefghijabcdefghijabcdefghij12", /* 32 characters */
		"peers=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17",
	};
	struct kconfig kc;
	struct reports r;
	char line[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* a good list first: a bad one must not change it */
		snprintf(line, sizeof(line), "peers=5:e,6 %s", bad[i]);
		if (!EXPECT_EQ(parse(line, &processor, &kc, &r), 1))
			unit_diag("'%s' accepted", bad[i]);
		EXPECT_EQ(kc.npeers, 2u);
		EXPECT_STREQ(kc.peer_names[0], "e");
		EXPECT(strstr(r.last, "bad value") != NULL);
	}
	EXPECT_EQ(parse("peers=1:abcdefghijabcdefghijabcdefghij1", &processor, &kc, &r),
		  0);
	EXPECT_EQ(parse("peers=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", &processor, &kc,
			&r),
		  0);
	EXPECT_EQ(kc.npeers, 16u);
}

TEST(config_excache)
{
	static const char *const bad[] = {
		"excache",
		"excache=",
		"excache=4M",
		"excache=4M,8",
		"excache=4M,8,",
		"excache=4M,8,lru,x",
		"excache=4X,8,lru",
		"excache=M,8,lru",
		"excache=0,8,lru",
		"excache=4M,0,lru",
		"excache=4M,65,lru",
		"excache=12K,8,lru",
		"excache=4M,8,LRU",
		"excache=,8,lru",
		"excache=4M,,lru",
		"excache=99999999999999G,1,lru",
		"excache=2048G,1,lru",
		"excache=4M,8,lru,",
	};
	struct kconfig kc;
	struct reports r;
	char buf[32];

	EXPECT_EQ(parse("excache=4M,8,lru", &processor, &kc, &r), 0);
	EXPECT(kc.excache_set);
	EXPECT_EQ(kc.excache_bytes, 4u << 20);
	EXPECT_EQ(kc.excache_ways, 8u);
	EXPECT_EQ((int)kc.excache_policy, (int)EXCACHE_LRU);
	EXPECT_EQ(parse("excache=512K,1,fifo", &processor, &kc, &r), 0);
	EXPECT_EQ(kc.excache_bytes, 512u << 10);
	EXPECT_EQ((int)kc.excache_policy, (int)EXCACHE_FIFO);
	EXPECT_EQ(parse("excache=1G,64,clock", &processor, &kc, &r), 0);
	EXPECT_EQ(kc.excache_bytes, 1ull << 30);
	EXPECT_EQ(kc.excache_ways, 64u);
	EXPECT_EQ((int)kc.excache_policy, (int)EXCACHE_CLOCK);
	EXPECT_EQ(parse("excache=8192,2,random", &processor, &kc, &r), 0);
	EXPECT_EQ(kc.excache_bytes, 8192u);
	EXPECT_EQ((int)kc.excache_policy, (int)EXCACHE_RANDOM);
	EXPECT_STREQ(kconfig_policy_name(EXCACHE_RANDOM), "random");
	EXPECT_STREQ(kconfig_policy_name(9), "?");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!EXPECT_EQ(parse(bad[i], &processor, &kc, &r), 1))
			unit_diag("'%s' accepted", bad[i]);
		EXPECT_FALSE(kc.excache_set);
	}
	/* another role: reported, ignored */
	EXPECT_EQ(parse("excache=4M,8,lru", &memory, &kc, &r), 1);
	EXPECT_FALSE(kc.excache_set);
	EXPECT(strstr(r.last, "processor") != NULL);

	EXPECT_STREQ(kconfig_format_size(4u << 20, buf, sizeof(buf)), "4 MiB");
	EXPECT_STREQ(kconfig_format_size(512u << 10, buf, sizeof(buf)), "512 KiB");
	EXPECT_STREQ(kconfig_format_size(3ull << 30, buf, sizeof(buf)), "3 GiB");
	EXPECT_STREQ(kconfig_format_size(1536u << 10, buf, sizeof(buf)), "1536 KiB");
	EXPECT_STREQ(kconfig_format_size(12345, buf, sizeof(buf)), "12345 B");
	EXPECT_STREQ(kconfig_format_size(0, buf, sizeof(buf)), "0 B");
}

TEST(config_backup)
{
	static const char *const bad[] = {"backup",   "backup=",      "backup=0",
					  "backup=x", "backup=65536", "backup=-1"};
	struct kconfig kc;
	struct reports r;

	EXPECT_EQ(parse("node=1 peers=1,2 backup=2", &memory, &kc, &r), 0);
	EXPECT_EQ(kc.backup_id, 2u);
	EXPECT_EQ(parse("backup=2 node=1 peers=1:m1,2:m2", &memory, &kc, &r),
		  0); /* any order */
	EXPECT_EQ(kc.backup_id, 2u);
	EXPECT_EQ(parse("backup=7", &memory, &kc, &r),
		  0); /* no peers= to check against */
	EXPECT_EQ(kc.backup_id, 7u);

	EXPECT_EQ(parse("node=1 peers=1,2 backup=1", &memory, &kc, &r), 1);
	EXPECT_EQ(kc.backup_id, 0u);
	EXPECT(strstr(r.last, "this node") != NULL);
	EXPECT_EQ(parse("node=1 peers=1,2 backup=3", &memory, &kc, &r), 1);
	EXPECT_EQ(kc.backup_id, 0u);
	EXPECT(strstr(r.last, "not in peers") != NULL);
	EXPECT_EQ(parse("backup=2", &processor, &kc, &r), 1);
	EXPECT_EQ(kc.backup_id, 0u);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!EXPECT_EQ(parse(bad[i], &memory, &kc, &r), 1))
			unit_diag("'%s' accepted", bad[i]);
		EXPECT_EQ(kc.backup_id, 0u);
	}
}

static const struct role storage = {ROLE_STORAGE, "storage", 's', NULL};

TEST(config_export_paths)
{
	static const char *const good[] = {"/",	  "/vn2", "/a/b/c", "/A-Z_0.9",
					   "/.x", "/..x", "/x..",   "/a.b/c-d"};
	static const char *const bad[] = {
		"",	"a",	"vn2/",	  "/vn2/", "//",    "/a//b",
		"/.",	"/..",	"/a/./b", "/a/..", "/../x", "/a b",
		"/a,b", "/a:b", "/a\\b",  "/\x7f", "/é",
	};
	char longp[KCONFIG_PATH_MAX + 1];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!EXPECT(kconfig_path_ok(good[i], strlen(good[i]))))
			unit_diag("'%s' refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!EXPECT_FALSE(kconfig_path_ok(bad[i], strlen(bad[i]))))
			unit_diag("'%s' accepted", bad[i]);
	/* the length limit: KCONFIG_PATH_MAX - 1 bytes fit, one more not */
	memset(longp, 'a', sizeof(longp));
	longp[0] = '/';
	EXPECT(kconfig_path_ok(longp, KCONFIG_PATH_MAX - 1));
	EXPECT_FALSE(kconfig_path_ok(longp, KCONFIG_PATH_MAX));
	/* only len bytes count: a prefix of a longer string */
	EXPECT(kconfig_path_ok("/vn2,3:/x", 4));
}

TEST(config_exports)
{
	static const char *const bad[] = {
		"exports",
		"exports=",
		"exports=1",
		"exports=1:",
		"exports=:/",
		"exports=0:/",
		"exports=65536:/",
		"exports=x:/",
		"exports=1:vn2",
		"exports=1:/vn2/",
		"exports=1:/../x",
		"exports=1:/a,1:/b",
		"exports=1:/,",
		"exports=,1:/",
		"exports=1:/,,2:/",
		"exports=1:/:2",
		"exports=1:/a=b",
		"exports=1:/,2:/,3:/,4:/,5:/,6:/,7:/,8:/,9:/,10:/,11:/,12:/,13:/,14:/,"
		"15:/,16:/,17:/",
	};
	struct kconfig kc;
	struct reports r;
	char line[256];

	EXPECT_EQ(parse("exports=1:/,2:/,3:/vn2", &storage, &kc, &r), 0);
	ASSERT_EQ(kc.nexports, 3u);
	EXPECT_EQ(kc.exports[0].node, 1);
	EXPECT_STREQ(kc.exports[0].path, "/");
	EXPECT_EQ(kc.exports[2].node, 3);
	EXPECT_STREQ(kc.exports[2].path, "/vn2");
	EXPECT_STREQ(kconfig_export_of(&kc, 3), "/vn2");
	EXPECT_STREQ(kconfig_export_of(&kc, 1), "/");
	EXPECT(kconfig_export_of(&kc, 4) == NULL);
	EXPECT(kconfig_export_of(&kc, 0) == NULL);
	EXPECT_EQ(parse("exports=0x10:/a/b-c.d", &storage, &kc, &r), 0);
	ASSERT_EQ(kc.nexports, 1u);
	EXPECT_EQ(kc.exports[0].node, 16);
	EXPECT_EQ(parse("exports=1:/,2:/,3:/,4:/,5:/,6:/,7:/,8:/,9:/,10:/,11:/,12:/,"
			"13:/,14:/,15:/,16:/x",
			&storage, &kc, &r),
		  0);
	EXPECT_EQ(kc.nexports, 16u);
	EXPECT_STREQ(kconfig_export_of(&kc, 16), "/x");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* a good list first: a bad one must not change it */
		snprintf(line, sizeof(line), "exports=5:/e,6:/ %s", bad[i]);
		if (!EXPECT_EQ(parse(line, &storage, &kc, &r), 1))
			unit_diag("'%s' accepted", bad[i]);
		if (!EXPECT_EQ(kc.nexports, 2u))
			unit_diag("after '%s'", bad[i]);
		EXPECT_STREQ(kc.exports[0].path, "/e");
		EXPECT_STREQ(kc.exports[1].path, "/");
		EXPECT(strstr(r.last, "bad value") != NULL);
	}
	/* another role: reported, ignored */
	EXPECT_EQ(parse("exports=1:/", &processor, &kc, &r), 1);
	EXPECT_EQ(kc.nexports, 0u);
	EXPECT(strstr(r.last, "storage") != NULL);
}

TEST(config_storage)
{
	static const char *const bad[] = {"storage",   "storage=",	"storage=0",
					  "storage=x", "storage=65536", "storage=3,4"};
	struct kconfig kc;
	struct reports r;

	EXPECT_EQ(parse("node=1 peers=1,2,3 storage=3", &processor, &kc, &r), 0);
	EXPECT_EQ(kc.storage_id, 3u);
	EXPECT_EQ(parse("storage=3 node=2 peers=1:p1,2:m1,3:s1", &memory, &kc, &r), 0);
	EXPECT_EQ(kc.storage_id, 3u);
	EXPECT_EQ(parse("storage=9", &processor, &kc, &r), 0); /* no peers= */
	EXPECT_EQ(kc.storage_id, 9u);

	EXPECT_EQ(parse("node=1 peers=1,2 storage=1", &processor, &kc, &r), 1);
	EXPECT_EQ(kc.storage_id, 0u);
	EXPECT(strstr(r.last, "this node") != NULL);
	EXPECT_EQ(parse("node=1 peers=1,2 storage=3", &processor, &kc, &r), 1);
	EXPECT_EQ(kc.storage_id, 0u);
	EXPECT(strstr(r.last, "not in peers") != NULL);
	EXPECT_EQ(parse("storage=2", &storage, &kc, &r), 1);
	EXPECT_EQ(kc.storage_id, 0u);
	EXPECT(strstr(r.last, "processor and memory") != NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!EXPECT_EQ(parse(bad[i], &processor, &kc, &r), 1))
			unit_diag("'%s' accepted", bad[i]);
		EXPECT_EQ(kc.storage_id, 0u);
	}
}

TEST(config_memory)
{
	static const char *const bad[] = {"memory",	 "memory=",	 "memory=0",
					  "memory=x",	 "memory=2,",	 "memory=2,2",
					  "memory=1,2,3,4,5,6,7,8,9", "memory=65536"};
	struct kconfig kc;
	struct reports r;

	EXPECT_EQ(parse("node=1 peers=1,2,3,4 memory=3,2", &processor, &kc, &r), 0);
	EXPECT_EQ(kc.nmemories, 2u);
	EXPECT_EQ(kc.memory_ids[0], 3u);
	EXPECT_EQ(kc.memory_ids[1], 2u);
	EXPECT_EQ(parse("memory=9", &processor, &kc, &r), 0); /* no peers= */
	EXPECT_EQ(kc.nmemories, 1u);
	EXPECT_EQ(kc.memory_ids[0], 9u);

	/* a member that is this node or not a member is dropped */
	EXPECT_EQ(parse("node=1 peers=1,2,3 memory=1,2,5", &processor, &kc, &r), 2);
	EXPECT_EQ(kc.nmemories, 1u);
	EXPECT_EQ(kc.memory_ids[0], 2u);
	EXPECT_EQ(parse("memory=2", &memory, &kc, &r), 1);
	EXPECT_EQ(kc.nmemories, 0u);
	EXPECT(strstr(r.last, "processor") != NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!EXPECT_EQ(parse(bad[i], &processor, &kc, &r), 1))
			unit_diag("'%s' accepted", bad[i]);
		EXPECT_EQ(kc.nmemories, 0u);
	}
}

TEST(config_manager)
{
	static const struct role global = {ROLE_GLOBAL, "global", 'g', NULL};
	struct kconfig kc;
	struct reports r;

	EXPECT_EQ(parse("node=1 peers=1,4 manager=4", &processor, &kc, &r), 0);
	EXPECT_EQ(kc.manager_id, 4u);
	EXPECT_EQ(parse("node=3 peers=3,4 manager=4", &storage, &kc, &r), 0);
	EXPECT_EQ(kc.manager_id, 4u);
	EXPECT_EQ(parse("node=1 peers=1,4 manager=5", &memory, &kc, &r), 1);
	EXPECT_EQ(kc.manager_id, 0u);
	EXPECT_EQ(parse("manager=4", &global, &kc, &r), 1);
	EXPECT_EQ(kc.manager_id, 0u);
	EXPECT(strstr(r.last, "global") != NULL);
	EXPECT_EQ(parse("manager=x", &processor, &kc, &r), 1);
	EXPECT_EQ(kc.manager_id, 0u);
}
