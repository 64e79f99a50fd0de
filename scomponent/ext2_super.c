/*
 * ext2: mounting (superblock, features, group descriptors), sync,
 * statfs, and the block and inode allocators.
 *
 * The primary superblock and the group descriptor table are read once
 * at mount into fs->sb and fs->gd, checked completely (geometry, every
 * group's bitmaps and inode table inside its group and clear of the
 * superblock copy and descriptor table there), and afterwards only
 * changed in memory: the allocators keep the free counts of the
 * descriptors and of the superblock in step, and ext2_sync writes both
 * back after the data (see bcache.h on classes). Backup superblocks and
 * descriptor copies (sparse_super) are never written: e2fsck only checks
 * the primary ones, and Linux's ext2 does the same.
 *
 * Bitmaps are read through the block cache as needed. The allocators
 * trust the bitmaps over the counts: a count that claims free space the
 * bitmap lacks is skipped, a bitmap bit that would hand out a metadata
 * block or free a free block is corruption (-EIO).
 *
 * Features (see ext2.h): INCOMPAT other than filetype, and has_journal,
 * refuse the mount; RO_COMPAT other than sparse_super and large_file
 * make it read-only. Both name the features in the mount's message.
 */
#include "ext2_impl.h"

#include <kernel/mm.h>
#include <lib/printf.h>

#define EXT2_DEFAULT_CACHE (4u << 20)
#define EXT2_MIN_BUFS	   16

struct feature_name {
	uint32_t bit;
	const char *name;
};

static const struct feature_name incompat_names[] = {
	{0x0001, "compression"}, {0x0002, "filetype"},	  {0x0004, "needs_recovery"},
	{0x0008, "journal_dev"}, {0x0010, "meta_bg"},	  {0x0040, "extent"},
	{0x0080, "64bit"},	 {0x0100, "mmp"},	  {0x0200, "flex_bg"},
	{0x0400, "ea_inode"},	 {0x1000, "dirdata"},	  {0x2000, "metadata_csum_seed"},
	{0x4000, "large_dir"},	 {0x8000, "inline_data"}, {0x10000, "encrypt"},
	{0x20000, "casefold"},
};

static const struct feature_name ro_compat_names[] = {
	{0x0001, "sparse_super"},    {0x0002, "large_file"},	{0x0008, "huge_file"},
	{0x0010, "uninit_bg"},	     {0x0020, "dir_nlink"},	{0x0040, "extra_isize"},
	{0x0080, "snapshot"},	     {0x0100, "quota"},		{0x0200, "bigalloc"},
	{0x0400, "metadata_csum"},   {0x0800, "replica"},	{0x1000, "read-only"},
	{0x2000, "project"},	     {0x4000, "shared_blocks"}, {0x8000, "verity"},
	{0x10000, "orphan_present"},
};

static int say(char *why, size_t len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int say(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* Appends the names of the bits of mask to buf ("extent 64bit 0x800000"). */
static void feature_list(char *buf, size_t len, uint32_t mask,
			 const struct feature_name *t, size_t n)
{
	size_t used = strlen(buf);

	for (uint32_t bit = 1; bit && used + 1 < len; bit <<= 1) {
		const char *name = NULL;

		if (!(mask & bit))
			continue;
		for (size_t i = 0; i < n; i++)
			if (t[i].bit == bit)
				name = t[i].name;
		if (name)
			snprintf(buf + used, len - used, "%s%s", used ? " " : "", name);
		else
			snprintf(buf + used, len - used, "%s0x%x", used ? " " : "", bit);
		used = strlen(buf);
	}
}

/* --- Geometry helpers ---------------------------------------------------- */

uint32_t ext2_gd_get32(const struct ext2_fs *fs, uint32_t g, unsigned off)
{
	return ext2_get32(fs->gd + (size_t)g * EXT2_GD_SIZE + off);
}

uint16_t ext2_gd_get16(const struct ext2_fs *fs, uint32_t g, unsigned off)
{
	return ext2_get16(fs->gd + (size_t)g * EXT2_GD_SIZE + off);
}

static void gd_put16(struct ext2_fs *fs, uint32_t g, unsigned off, uint16_t v)
{
	ext2_put16(fs->gd + (size_t)g * EXT2_GD_SIZE + off, v);
	fs->gd_dirty = true;
}

static uint32_t group_first(const struct ext2_fs *fs, uint32_t g)
{
	return fs->first_data_block + g * fs->blocks_per_group;
}

static uint32_t group_nblocks(const struct ext2_fs *fs, uint32_t g)
{
	uint32_t left = fs->blocks_count - group_first(fs, g);

	return left < fs->blocks_per_group ? left : fs->blocks_per_group;
}

static bool power_of(uint32_t n, uint32_t base)
{
	while (n > 1 && n % base == 0)
		n /= base;
	return n == 1;
}

static bool group_has_super(const struct ext2_fs *fs, uint32_t g)
{
	if (g <= 1 || !(fs->ro_compat & EXT2_RO_COMPAT_SPARSE))
		return true;
	return power_of(g, 3) || power_of(g, 5) || power_of(g, 7);
}

/* Blocks at the start of group g taken by a superblock and descriptor
 * table copy (and the reserved descriptor blocks of resize_inode). */
static uint32_t group_super_blocks(const struct ext2_fs *fs, uint32_t g)
{
	return group_has_super(fs, g) ? 1 + fs->gdt_blocks + fs->reserved_gdt : 0;
}

bool ext2_block_ok(const struct ext2_fs *fs, uint32_t blk)
{
	return blk > fs->first_data_block && blk < fs->blocks_count;
}

/* True if blk holds group metadata (superblock copy, descriptors,
 * bitmaps, inode table), which no file may own. */
static bool block_is_meta(const struct ext2_fs *fs, uint32_t blk)
{
	uint32_t g = (blk - fs->first_data_block) / fs->blocks_per_group;
	uint32_t first = group_first(fs, g);
	uint32_t itab = ext2_gd_get32(fs, g, GD_INODE_TABLE);

	if (blk - first < group_super_blocks(fs, g))
		return true;
	if (blk == ext2_gd_get32(fs, g, GD_BLOCK_BITMAP) ||
	    blk == ext2_gd_get32(fs, g, GD_INODE_BITMAP))
		return true;
	return blk >= itab && blk - itab < fs->itb_per_group;
}

/* --- Mount ---------------------------------------------------------------- */

static int read_super(struct ext2_fs *fs)
{
	struct blk_req req = {
		.sector = EXT2_SB_OFFSET / BLK_SECTOR_SIZE,
		.count = EXT2_SB_SIZE / BLK_SECTOR_SIZE,
		.write = false,
	};
	uint8_t *buf = kmalloc(EXT2_SB_SIZE);
	int err;

	if (!buf)
		return -ENOMEM;
	req.buf = buf;
	err = blkdev_submit(fs->bd, &req, 1);
	if (!err)
		memcpy(fs->sb, buf, EXT2_SB_SIZE);
	kfree(buf);
	return err ? -EIO : 0;
}

static uint32_t div_up(uint32_t a, uint32_t b)
{
	return a / b + (a % b != 0);
}

/* Block size, groups, inodes: everything the rest relies on. */
static int parse_geometry(struct ext2_fs *fs, char *why, size_t wl)
{
	const uint8_t *sb = fs->sb;
	uint32_t log = ext2_get32(sb + SB_LOG_BLOCK_SIZE);
	uint64_t dev_blocks;

	if (ext2_get16(sb + SB_MAGIC) != EXT2_SUPER_MAGIC)
		return say(why, wl, -EINVAL, "not an ext2 file system (bad magic)");
	fs->rev = ext2_get32(sb + SB_REV_LEVEL);
	if (fs->rev > EXT2_DYNAMIC_REV)
		return say(why, wl, -EINVAL, "unknown revision %u", fs->rev);
	if (log > 2)
		return say(why, wl, log > 6 ? -EINVAL : -ENOTSUP,
			   "block size 1024 << %u unsupported (1, 2 or 4 KiB)", log);
	fs->block_size = 1024u << log;
	fs->apb = fs->block_size / 4;
	fs->blocks_count = ext2_get32(sb + SB_BLOCKS_COUNT);
	fs->first_data_block = ext2_get32(sb + SB_FIRST_DATA_BLOCK);
	fs->blocks_per_group = ext2_get32(sb + SB_BLOCKS_PER_GROUP);
	fs->inodes_count = ext2_get32(sb + SB_INODES_COUNT);
	fs->inodes_per_group = ext2_get32(sb + SB_INODES_PER_GROUP);
	if (fs->first_data_block != (fs->block_size == 1024 ? 1u : 0u))
		return say(why, wl, -EINVAL, "bad first data block %u",
			   fs->first_data_block);
	if (fs->blocks_per_group < 8 || fs->blocks_per_group > 8 * fs->block_size ||
	    fs->blocks_per_group % 8)
		return say(why, wl, -EINVAL, "bad blocks per group %u",
			   fs->blocks_per_group);
	if (fs->inodes_per_group == 0 || fs->inodes_per_group > 8 * fs->block_size)
		return say(why, wl, -EINVAL, "bad inodes per group %u",
			   fs->inodes_per_group);
	dev_blocks = fs->bd->nsectors / (fs->block_size / BLK_SECTOR_SIZE);
	if (fs->blocks_count <= fs->first_data_block + 2 || fs->blocks_count > dev_blocks)
		return say(
			why, wl, -EINVAL,
			"file system of %u blocks does not fit the device (%llu blocks)",
			fs->blocks_count, (unsigned long long)dev_blocks);
	fs->ngroups =
		div_up(fs->blocks_count - fs->first_data_block, fs->blocks_per_group);
	if (fs->ngroups > EXT2_MAX_GROUPS)
		return say(why, wl, -ENOTSUP, "too many block groups (%u)",
			   fs->ngroups);
	if ((uint64_t)fs->ngroups * fs->inodes_per_group != fs->inodes_count)
		return say(why, wl, -EINVAL, "inode count %u does not match the groups",
			   fs->inodes_count);
	return 0;
}

static int parse_inodes(struct ext2_fs *fs, char *why, size_t wl)
{
	const uint8_t *sb = fs->sb;

	fs->inode_size = EXT2_OLD_INODE;
	fs->first_ino = EXT2_OLD_FIRST_INO;
	if (fs->rev >= EXT2_DYNAMIC_REV) {
		fs->inode_size = ext2_get16(sb + SB_INODE_SIZE);
		fs->first_ino = ext2_get32(sb + SB_FIRST_INO);
	}
	if (fs->inode_size < EXT2_OLD_INODE || fs->inode_size > fs->block_size ||
	    (fs->inode_size & (fs->inode_size - 1)))
		return say(why, wl, -EINVAL, "bad inode size %u", fs->inode_size);
	if (fs->first_ino < EXT2_OLD_FIRST_INO || fs->first_ino > fs->inodes_count)
		return say(why, wl, -EINVAL, "bad first inode %u", fs->first_ino);
	fs->itb_per_group = div_up(fs->inodes_per_group, fs->block_size / fs->inode_size);
	fs->want_extra_isize = 0;
	if (fs->inode_size >= I_KEEP) {
		uint16_t want = ext2_get16(sb + SB_WANT_EXTRA_ISIZE);

		fs->want_extra_isize =
			want >= 4 && want % 4 == 0 &&
					want <= fs->inode_size - EXT2_OLD_INODE
				? want
				: I_KEEP - EXT2_OLD_INODE;
	}
	return 0;
}

static int check_features(struct ext2_fs *fs, const struct ext2_mount_opts *opts,
			  char *why, size_t wl)
{
	uint32_t bad_in, bad_ro;
	char names[160] = "";

	if (fs->rev >= EXT2_DYNAMIC_REV) {
		fs->compat = ext2_get32(fs->sb + SB_FEATURE_COMPAT);
		fs->incompat = ext2_get32(fs->sb + SB_FEATURE_INCOMPAT);
		fs->ro_compat = ext2_get32(fs->sb + SB_FEATURE_RO_COMPAT);
	}
	bad_in = fs->incompat & ~(uint32_t)EXT2_INCOMPAT_SUPPORTED;
	bad_ro = fs->ro_compat & ~(uint32_t)EXT2_RO_COMPAT_SUPPORTED;
	if ((fs->compat & EXT2_COMPAT_HAS_JOURNAL) || bad_in) {
		if (fs->compat & EXT2_COMPAT_HAS_JOURNAL)
			strlcpy(names, "has_journal", sizeof(names));
		feature_list(names, sizeof(names), bad_in, incompat_names,
			     sizeof(incompat_names) / sizeof(incompat_names[0]));
		return say(why, wl, -ENOTSUP,
			   "unsupported feature%s: %s (an ext3/ext4 image? make it with "
			   "mke2fs -t ext2)",
			   strchr(names, ' ') ? "s" : "", names);
	}
	fs->read_only = opts->read_only || fs->bd->read_only;
	if (bad_ro) {
		feature_list(names, sizeof(names), bad_ro, ro_compat_names,
			     sizeof(ro_compat_names) / sizeof(ro_compat_names[0]));
		fs->read_only = true;
		say(why, wl, 0, "mounted read-only: unsupported ro_compat feature%s: %s",
		    strchr(names, ' ') ? "s" : "", names);
	} else if (fs->read_only && !opts->read_only) {
		say(why, wl, 0, "mounted read-only: the device is read-only");
	}
	return 0;
}

/* Reserved descriptor blocks, the reserve for root, free counts. */
static void parse_rest(struct ext2_fs *fs)
{
	const uint8_t *sb = fs->sb;

	fs->gdt_blocks = div_up(fs->ngroups * EXT2_GD_SIZE, fs->block_size);
	fs->reserved_gdt = 0;
	if (fs->compat & EXT2_COMPAT_RESIZE_INODE)
		fs->reserved_gdt = ext2_get16(sb + SB_RESERVED_GDT);
	fs->r_blocks = ext2_get32(sb + SB_R_BLOCKS_COUNT);
	if (fs->r_blocks > fs->blocks_count)
		fs->r_blocks = 0;
	fs->resuid = fs->rev >= EXT2_DYNAMIC_REV ? ext2_get16(sb + SB_DEF_RESUID) : 0;
	fs->resgid = fs->rev >= EXT2_DYNAMIC_REV ? ext2_get16(sb + SB_DEF_RESGID) : 0;
}

static int load_descriptors(struct ext2_fs *fs, char *why, size_t wl)
{
	size_t bytes = (size_t)fs->ngroups * EXT2_GD_SIZE;
	uint32_t first = fs->first_data_block + 1;

	if (fs->reserved_gdt > fs->apb ||
	    (uint64_t)first + fs->gdt_blocks + fs->reserved_gdt >= fs->blocks_count)
		return say(why, wl, -EINVAL, "descriptor table does not fit");
	fs->gd = kmalloc(bytes);
	if (!fs->gd)
		return -ENOMEM;
	for (uint32_t i = 0; i < fs->gdt_blocks; i++) {
		struct bcache_buf *b;
		size_t at = (size_t)i * fs->block_size;
		size_t n = bytes - at < fs->block_size ? bytes - at : fs->block_size;

		if (bcache_get(fs->bc, first + i, BCACHE_READ, &b))
			return say(why, wl, -EIO, "cannot read the group descriptors");
		memcpy(fs->gd + at, b->data, n);
		bcache_put(fs->bc, b);
	}
	return 0;
}

/* One group's descriptor: metadata inside the group, past its superblock
 * copy; counts within the group's size. */
static bool descriptor_ok(const struct ext2_fs *fs, uint32_t g)
{
	uint32_t first = group_first(fs, g) + group_super_blocks(fs, g);
	uint32_t end = group_first(fs, g) + group_nblocks(fs, g);
	uint32_t bb = ext2_gd_get32(fs, g, GD_BLOCK_BITMAP);
	uint32_t ib = ext2_gd_get32(fs, g, GD_INODE_BITMAP);
	uint32_t it = ext2_gd_get32(fs, g, GD_INODE_TABLE);

	if (first >= end || bb < first || bb >= end || ib < first || ib >= end)
		return false;
	if (it < first || it >= end || end - it < fs->itb_per_group)
		return false;
	if (bb == ib || (bb >= it && bb - it < fs->itb_per_group) ||
	    (ib >= it && ib - it < fs->itb_per_group))
		return false;
	return ext2_gd_get16(fs, g, GD_FREE_BLOCKS) <= group_nblocks(fs, g) &&
	       ext2_gd_get16(fs, g, GD_FREE_INODES) <= fs->inodes_per_group &&
	       ext2_gd_get16(fs, g, GD_USED_DIRS) <= fs->inodes_per_group;
}

static int check_descriptors(struct ext2_fs *fs, char *why, size_t wl)
{
	uint64_t fb = 0, fi = 0;

	for (uint32_t g = 0; g < fs->ngroups; g++) {
		if (!descriptor_ok(fs, g))
			return say(why, wl, -EINVAL, "bad group descriptor %u", g);
		fb += ext2_gd_get16(fs, g, GD_FREE_BLOCKS);
		fi += ext2_gd_get16(fs, g, GD_FREE_INODES);
	}
	/* Like Linux: the superblock's totals are the descriptors' sums. */
	fs->free_blocks = (uint32_t)fb;
	fs->free_inodes = (uint32_t)fi;
	if (fb > fs->blocks_count || fi > fs->inodes_count)
		return say(why, wl, -EINVAL, "free counts exceed the file system");
	if (ext2_get32(fs->sb + SB_FREE_BLOCKS) != fs->free_blocks ||
	    ext2_get32(fs->sb + SB_FREE_INODES) != fs->free_inodes)
		fs->sb_dirty = true;
	return 0;
}

static size_t cache_buffers(const struct ext2_fs *fs, const struct ext2_mount_opts *opts)
{
	size_t bytes = opts->cache_bytes ? opts->cache_bytes : EXT2_DEFAULT_CACHE;
	size_t n = bytes / fs->block_size;

	return n < EXT2_MIN_BUFS ? EXT2_MIN_BUFS : n;
}

static int mount_checked(struct ext2_fs *fs, const struct ext2_mount_opts *opts,
			 char *why, size_t wl)
{
	int err;

	if (fs->bd->max_sectors < EXT2_SB_SIZE / BLK_SECTOR_SIZE ||
	    fs->bd->nsectors < (EXT2_SB_OFFSET + EXT2_SB_SIZE) / BLK_SECTOR_SIZE)
		return say(why, wl, -EINVAL, "device too small");
	if (read_super(fs))
		return say(why, wl, -EIO, "cannot read the superblock");
	err = parse_geometry(fs, why, wl);
	if (!err)
		err = parse_inodes(fs, why, wl);
	if (!err)
		err = check_features(fs, opts, why, wl);
	if (err)
		return err;
	parse_rest(fs);
	if (fs->block_size / BLK_SECTOR_SIZE > fs->bd->max_sectors)
		return say(why, wl, -EINVAL, "device requests too small for the blocks");
	fs->bc = bcache_create(fs->bd, fs->block_size, cache_buffers(fs, opts));
	fs->direct_blks =
		kmalloc((FS_IO_MAX / fs->block_size + 1) * sizeof(*fs->direct_blks));
	if (!fs->bc || !fs->direct_blks)
		return -ENOMEM;
	err = load_descriptors(fs, why, wl);
	if (!err)
		err = check_descriptors(fs, why, wl);
	return err;
}

int ext2_mount(struct blkdev *bd, const struct ext2_mount_opts *opts,
	       struct ext2_fs **out, char *why, size_t why_len)
{
	static const struct ext2_mount_opts defaults;
	struct ext2_fs *fs;
	int err;

	*out = NULL;
	if (why && why_len)
		why[0] = '\0';
	if (!opts)
		opts = &defaults;
	fs = kzalloc(sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->bd = bd;
	fs->now = opts->now;
	err = mount_checked(fs, opts, why, why_len);
	if (err)
		goto free_fs;
	*out = fs;
	return 0;

free_fs:
	bcache_destroy(fs->bc);
	kfree(fs->direct_blks);
	kfree(fs->gd);
	kfree(fs);
	return err;
}

/* --- Sync, unmount, statfs ------------------------------------------------ */

static int write_descriptors(struct ext2_fs *fs)
{
	size_t bytes = (size_t)fs->ngroups * EXT2_GD_SIZE;

	for (uint32_t i = 0; i < fs->gdt_blocks; i++) {
		struct bcache_buf *b;
		size_t at = (size_t)i * fs->block_size;
		size_t n = bytes - at < fs->block_size ? bytes - at : fs->block_size;
		int err =
			bcache_get(fs->bc, fs->first_data_block + 1 + i, BCACHE_READ, &b);

		if (err)
			return err;
		memcpy(b->data, fs->gd + at, n);
		bcache_dirty(fs->bc, b, BCACHE_META);
		bcache_put(fs->bc, b);
	}
	return 0;
}

static int write_super(struct ext2_fs *fs)
{
	uint32_t blk = EXT2_SB_OFFSET / fs->block_size;
	uint32_t off = EXT2_SB_OFFSET % fs->block_size;
	struct bcache_buf *b;
	int err;

	ext2_put32(fs->sb + SB_FREE_BLOCKS, fs->free_blocks);
	ext2_put32(fs->sb + SB_FREE_INODES, fs->free_inodes);
	ext2_put32(fs->sb + SB_WTIME, (uint32_t)ext2_now(fs));
	err = bcache_get(fs->bc, blk, BCACHE_READ, &b);
	if (err)
		return err;
	memcpy(b->data + off, fs->sb, EXT2_SB_SIZE);
	bcache_dirty(fs->bc, b, BCACHE_META);
	bcache_put(fs->bc, b);
	return 0;
}

int ext2_sync(struct ext2_fs *fs)
{
	int err = 0;

	if (fs->read_only)
		return 0;
	if (fs->gd_dirty)
		err = write_descriptors(fs);
	if (!err && (fs->sb_dirty || fs->gd_dirty))
		err = write_super(fs);
	if (!err)
		err = bcache_sync(fs->bc);
	if (!err)
		fs->sb_dirty = fs->gd_dirty = false;
	return err;
}

int ext2_unmount(struct ext2_fs *fs)
{
	int err;

	if (!fs)
		return 0;
	err = ext2_sync(fs);
	bcache_destroy(fs->bc);
	kfree(fs->direct_blks);
	kfree(fs->gd);
	kfree(fs);
	return err;
}

int ext2_statfs(struct ext2_fs *fs, struct fs_statfs *st)
{
	uint64_t overhead = fs->first_data_block;

	for (uint32_t g = 0; g < fs->ngroups; g++)
		overhead += group_super_blocks(fs, g) + 2 + fs->itb_per_group;
	memset(st, 0, sizeof(*st));
	st->blocks = fs->blocks_count > overhead ? fs->blocks_count - overhead : 0;
	st->bfree = fs->free_blocks;
	st->bavail = fs->free_blocks > fs->r_blocks ? fs->free_blocks - fs->r_blocks : 0;
	st->files = fs->inodes_count;
	st->ffree = fs->free_inodes;
	st->bsize = fs->block_size;
	st->namelen = FS_NAME_MAX;
	return 0;
}

void ext2_note_large_file(struct ext2_fs *fs)
{
	uint32_t ro = ext2_get32(fs->sb + SB_FEATURE_RO_COMPAT);

	if (ro & EXT2_RO_COMPAT_LARGE_FILE)
		return;
	fs->ro_compat |= EXT2_RO_COMPAT_LARGE_FILE;
	ext2_put32(fs->sb + SB_FEATURE_RO_COMPAT, ro | EXT2_RO_COMPAT_LARGE_FILE);
	fs->sb_dirty = true;
}

/* --- Bitmaps --------------------------------------------------------------- */

/* First clear bit of map in [from, to), or UINT32_MAX. */
static uint32_t find_zero(const uint8_t *map, uint32_t from, uint32_t to)
{
	uint32_t i = from;

	while (i < to) {
		if (i % 8 == 0 && map[i / 8] == 0xff) {
			i += 8;
			continue;
		}
		if (!(map[i / 8] & (1u << (i % 8))))
			return i;
		i++;
	}
	return UINT32_MAX;
}

static bool bit_test(const uint8_t *map, uint32_t i)
{
	return map[i / 8] & (1u << (i % 8));
}

static void bit_flip(uint8_t *map, uint32_t i)
{
	map[i / 8] ^= (uint8_t)(1u << (i % 8));
}

static bool may_use_reserve(const struct ext2_fs *fs)
{
	const struct fs_cred *c = fs->cred;

	return !c || c->uid == 0 || c->uid == fs->resuid || ext2_in_group(c, fs->resgid);
}

static void count_blocks(struct ext2_fs *fs, uint32_t g, int delta)
{
	uint16_t gfree = ext2_gd_get16(fs, g, GD_FREE_BLOCKS);

	if (delta < 0) {
		gd_put16(fs, g, GD_FREE_BLOCKS, gfree ? gfree - 1 : 0);
		fs->free_blocks -= fs->free_blocks ? 1 : 0;
	} else {
		gd_put16(fs, g, GD_FREE_BLOCKS, gfree + 1);
		fs->free_blocks++;
	}
	fs->sb_dirty = true;
}

/* Takes a free block of group g at or after bit start (then before it). */
static int alloc_in_group(struct ext2_fs *fs, uint32_t g, uint32_t start, uint32_t *blk)
{
	uint32_t n = group_nblocks(fs, g);
	struct bcache_buf *b;
	uint32_t bit;
	int err;

	err = bcache_get(fs->bc, ext2_gd_get32(fs, g, GD_BLOCK_BITMAP), BCACHE_READ, &b);
	if (err)
		return err;
	bit = find_zero(b->data, start < n ? start : 0, n);
	if (bit == UINT32_MAX)
		bit = find_zero(b->data, 0, n);
	if (bit == UINT32_MAX) {
		err = -ENOSPC; /* the count lied; try another group */
		goto put_bitmap;
	}
	*blk = group_first(fs, g) + bit;
	if (*blk <= fs->first_data_block || block_is_meta(fs, *blk)) {
		err = ext2_corrupt(fs, "block bitmap frees a metadata block");
		goto put_bitmap;
	}
	bit_flip(b->data, bit);
	bcache_dirty(fs->bc, b, BCACHE_META);
	count_blocks(fs, g, -1);
put_bitmap:
	bcache_put(fs->bc, b);
	return err;
}

int ext2_block_alloc(struct ext2_fs *fs, uint32_t goal, uint32_t *blk)
{
	uint32_t g0 = 0, start = 0;

	if (fs->free_blocks == 0 ||
	    (fs->free_blocks <= fs->r_blocks && !may_use_reserve(fs)))
		return -ENOSPC;
	if (ext2_block_ok(fs, goal)) {
		g0 = (goal - fs->first_data_block) / fs->blocks_per_group;
		start = (goal - fs->first_data_block) % fs->blocks_per_group;
	}
	for (uint32_t i = 0; i < fs->ngroups; i++) {
		uint32_t g = (g0 + i) % fs->ngroups;
		int err;

		if (ext2_gd_get16(fs, g, GD_FREE_BLOCKS) == 0)
			continue;
		err = alloc_in_group(fs, g, i == 0 ? start : 0, blk);
		if (err != -ENOSPC)
			return err;
	}
	return -ENOSPC;
}

int ext2_block_free(struct ext2_fs *fs, uint32_t blk)
{
	uint32_t g, bit;
	struct bcache_buf *b;
	int err;

	if (!ext2_block_ok(fs, blk) || block_is_meta(fs, blk))
		return ext2_corrupt(fs, "freeing a block outside the data area");
	g = (blk - fs->first_data_block) / fs->blocks_per_group;
	bit = (blk - fs->first_data_block) % fs->blocks_per_group;
	err = bcache_get(fs->bc, ext2_gd_get32(fs, g, GD_BLOCK_BITMAP), BCACHE_READ, &b);
	if (err)
		return err;
	if (!bit_test(b->data, bit)) {
		err = ext2_corrupt(fs, "freeing a free block");
	} else {
		bit_flip(b->data, bit);
		bcache_dirty(fs->bc, b, BCACHE_META);
		count_blocks(fs, g, +1);
		bcache_forget(fs->bc, blk);
	}
	bcache_put(fs->bc, b);
	return err;
}

/* --- Inode numbers ---------------------------------------------------------- */

static void count_inodes(struct ext2_fs *fs, uint32_t g, int delta, bool dir)
{
	uint16_t gfree = ext2_gd_get16(fs, g, GD_FREE_INODES);
	uint16_t dirs = ext2_gd_get16(fs, g, GD_USED_DIRS);

	if (delta < 0) {
		gd_put16(fs, g, GD_FREE_INODES, gfree ? gfree - 1 : 0);
		fs->free_inodes -= fs->free_inodes ? 1 : 0;
		if (dir)
			gd_put16(fs, g, GD_USED_DIRS, dirs + 1);
	} else {
		gd_put16(fs, g, GD_FREE_INODES, gfree + 1);
		fs->free_inodes++;
		if (dir)
			gd_put16(fs, g, GD_USED_DIRS, dirs ? dirs - 1 : 0);
	}
	fs->sb_dirty = true;
}

static int ialloc_in_group(struct ext2_fs *fs, uint32_t g, bool dir, uint32_t *ino)
{
	uint32_t base = g * fs->inodes_per_group; /* inode base + 1 is bit 0 */
	uint32_t start = base + 1 >= fs->first_ino ? 0 : fs->first_ino - 1 - base;
	struct bcache_buf *b;
	uint32_t bit;
	int err;

	if (start >= fs->inodes_per_group)
		return -ENOSPC;
	err = bcache_get(fs->bc, ext2_gd_get32(fs, g, GD_INODE_BITMAP), BCACHE_READ, &b);
	if (err)
		return err;
	bit = find_zero(b->data, start, fs->inodes_per_group);
	if (bit == UINT32_MAX) {
		err = -ENOSPC;
	} else {
		bit_flip(b->data, bit);
		bcache_dirty(fs->bc, b, BCACHE_META);
		count_inodes(fs, g, -1, dir);
		*ino = base + bit + 1;
	}
	bcache_put(fs->bc, b);
	return err;
}

/* Directories spread out: a group with at least the average of free
 * inodes, and the most free blocks among those. Files stay with their
 * parent. */
static uint32_t pick_group(const struct ext2_fs *fs, uint32_t parent_group, bool dir)
{
	uint32_t best = parent_group, best_blocks = 0;
	uint32_t avg = fs->free_inodes / fs->ngroups;

	if (!dir)
		return parent_group;
	for (uint32_t g = 0; g < fs->ngroups; g++) {
		uint32_t fi = ext2_gd_get16(fs, g, GD_FREE_INODES);
		uint32_t fb = ext2_gd_get16(fs, g, GD_FREE_BLOCKS);

		if (fi && fi >= avg && fb > best_blocks) {
			best = g;
			best_blocks = fb;
		}
	}
	return best;
}

int ext2_ialloc(struct ext2_fs *fs, uint32_t parent, bool dir, uint32_t *ino)
{
	uint32_t pg = parent >= 1 && parent <= fs->inodes_count
			      ? (parent - 1) / fs->inodes_per_group
			      : 0;
	uint32_t g0;

	if (fs->free_inodes == 0)
		return -ENOSPC;
	g0 = pick_group(fs, pg, dir);
	for (uint32_t i = 0; i < fs->ngroups; i++) {
		uint32_t g = (g0 + i) % fs->ngroups;
		int err;

		if (ext2_gd_get16(fs, g, GD_FREE_INODES) == 0)
			continue;
		err = ialloc_in_group(fs, g, dir, ino);
		if (err != -ENOSPC)
			return err;
	}
	return -ENOSPC;
}

int ext2_ifree(struct ext2_fs *fs, uint32_t ino, bool dir)
{
	uint32_t g, bit;
	struct bcache_buf *b;
	int err;

	if (ino < fs->first_ino || ino > fs->inodes_count)
		return ext2_corrupt(fs, "freeing a reserved inode");
	g = (ino - 1) / fs->inodes_per_group;
	bit = (ino - 1) % fs->inodes_per_group;
	err = bcache_get(fs->bc, ext2_gd_get32(fs, g, GD_INODE_BITMAP), BCACHE_READ, &b);
	if (err)
		return err;
	if (!bit_test(b->data, bit)) {
		err = ext2_corrupt(fs, "freeing a free inode");
	} else {
		bit_flip(b->data, bit);
		bcache_dirty(fs->bc, b, BCACHE_META);
		count_inodes(fs, g, +1, dir);
	}
	bcache_put(fs->bc, b);
	return err;
}
