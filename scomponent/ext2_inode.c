/*
 * ext2: inodes, block maps, file data and truncation.
 *
 * Inodes live in their group's inode table; ext2_iget decodes the fields
 * of struct ext2_inode from the cached table block and checks them
 * (known type, in use, a size that fits the file system), ext2_iput
 * encodes them back and leaves every other byte of the slot as it was.
 * Times are seconds; in large inodes the two epoch bits of the *_extra
 * fields extend them past 2038 (nanoseconds are written as 0). A new
 * inode's i_generation is its slot's old one plus one (ext2_inew;
 * deleting keeps the slot's value), so two lives of one inode number
 * never share a generation (until 2^32 of them): clients name a file by
 * the pair (struct fs_attr), as NFS file handles do.
 *
 * Block maps are the classic twelve direct pointers and single, double
 * and triple indirect blocks. ext2_bmap walks (and with alloc, grows)
 * one path; every pointer read from disk is range-checked first. New
 * blocks, data or indirect, are zeroed in the cache, so a hole filled
 * partially and an indirect block never read back garbage, and i_blocks
 * counts every block in 512-byte units.
 *
 * File data moves through the block cache, except for the whole blocks
 * of ext2_file_read_direct and ext2_file_write_direct (the file server's
 * big requests): those are mapped first (bmap_run reads each indirect
 * block once for the run of pointers it holds, not once per block), then
 * moved between the disk and the caller's buffer in one batch
 * (bcache_read_direct/bcache_write_direct), without a copy and without
 * evicting the metadata the cache holds. A partial block at either end
 * still goes through the cache.
 *
 * Truncation frees from a logical block on, subtree by subtree: an
 * indirect block goes once nothing below it is left. Freeing a block
 * twice is corruption and stops the walk, so even a hostile map (loops,
 * shared blocks) costs at most one visit per block.
 */
#include "ext2_impl.h"

#define EXT2_READ_CHUNK 64 /* blocks mapped and prefetched at once */

/* --- Inode slots -------------------------------------------------------- */

static int inode_slot(struct ext2_fs *fs, uint32_t ino, uint32_t *blk, uint32_t *off)
{
	uint32_t g, idx;
	uint64_t byte;

	if (ino == 0 || ino > fs->inodes_count)
		return ext2_corrupt(fs, "inode number out of range");
	g = (ino - 1) / fs->inodes_per_group;
	idx = (ino - 1) % fs->inodes_per_group;
	byte = (uint64_t)idx * fs->inode_size;
	*blk = ext2_gd_get32(fs, g, GD_INODE_TABLE) + (uint32_t)(byte / fs->block_size);
	*off = (uint32_t)(byte % fs->block_size);
	return 0;
}

static int64_t time_get(const struct ext2_inode *ip, const uint8_t *raw, unsigned off,
			unsigned extra_off)
{
	int64_t t = (int32_t)ext2_get32(raw + off);

	if ((unsigned)ip->extra_isize + EXT2_OLD_INODE >= extra_off + 4)
		t += (int64_t)(ext2_get32(raw + extra_off) & 3) << 32;
	return t;
}

static void time_put(const struct ext2_inode *ip, uint8_t *raw, unsigned off,
		     unsigned extra_off, int64_t t)
{
	uint32_t lo = (uint32_t)t;

	ext2_put32(raw + off, lo);
	if ((unsigned)ip->extra_isize + EXT2_OLD_INODE >= extra_off + 4)
		ext2_put32(raw + extra_off, (uint32_t)(((t - (int32_t)lo) >> 32) & 3));
}

static void decode(const struct ext2_fs *fs, const uint8_t *raw, struct ext2_inode *ip)
{
	ip->mode = ext2_get16(raw + I_MODE);
	ip->uid = ext2_get16(raw + I_UID) | (uint32_t)ext2_get16(raw + I_UID_HIGH) << 16;
	ip->gid = ext2_get16(raw + I_GID) | (uint32_t)ext2_get16(raw + I_GID_HIGH) << 16;
	ip->links = ext2_get16(raw + I_LINKS);
	ip->size = ext2_get32(raw + I_SIZE);
	if (ext2_is_reg(ip))
		ip->size |= (uint64_t)ext2_get32(raw + I_SIZE_HIGH) << 32;
	ip->blocks = ext2_get32(raw + I_BLOCKS);
	ip->gen = ext2_get32(raw + I_GENERATION);
	ip->dtime = ext2_get32(raw + I_DTIME);
	ip->flags = ext2_get32(raw + I_FLAGS);
	ip->file_acl = ext2_get32(raw + I_FILE_ACL);
	for (unsigned i = 0; i < EXT2_NBLOCKS; i++)
		ip->block[i] = ext2_get32(raw + I_BLOCK + 4 * i);
	ip->extra_isize = 0;
	if (fs->inode_size > EXT2_OLD_INODE) {
		uint16_t x = ext2_get16(raw + I_EXTRA_ISIZE);

		if (x <= fs->inode_size - EXT2_OLD_INODE && x % 4 == 0)
			ip->extra_isize = x;
	}
	ip->atime = time_get(ip, raw, I_ATIME, I_ATIME_EXTRA);
	ip->mtime = time_get(ip, raw, I_MTIME, I_MTIME_EXTRA);
	ip->ctime = time_get(ip, raw, I_CTIME, I_CTIME_EXTRA);
}

static void encode(const struct ext2_inode *ip, uint8_t *raw)
{
	ext2_put16(raw + I_MODE, (uint16_t)ip->mode);
	ext2_put16(raw + I_UID, (uint16_t)ip->uid);
	ext2_put16(raw + I_UID_HIGH, (uint16_t)(ip->uid >> 16));
	ext2_put16(raw + I_GID, (uint16_t)ip->gid);
	ext2_put16(raw + I_GID_HIGH, (uint16_t)(ip->gid >> 16));
	ext2_put16(raw + I_LINKS, (uint16_t)ip->links);
	ext2_put32(raw + I_SIZE, (uint32_t)ip->size);
	if (ext2_is_reg(ip))
		ext2_put32(raw + I_SIZE_HIGH, (uint32_t)(ip->size >> 32));
	ext2_put32(raw + I_BLOCKS, (uint32_t)ip->blocks);
	ext2_put32(raw + I_DTIME, ip->dtime);
	ext2_put32(raw + I_FLAGS, ip->flags);
	ext2_put32(raw + I_FILE_ACL, ip->file_acl);
	for (unsigned i = 0; i < EXT2_NBLOCKS; i++)
		ext2_put32(raw + I_BLOCK + 4 * i, ip->block[i]);
	time_put(ip, raw, I_ATIME, I_ATIME_EXTRA, ip->atime);
	time_put(ip, raw, I_MTIME, I_MTIME_EXTRA, ip->mtime);
	time_put(ip, raw, I_CTIME, I_CTIME_EXTRA, ip->ctime);
}

uint64_t ext2_max_size(const struct ext2_fs *fs)
{
	uint64_t a = fs->apb;
	uint64_t blocks = EXT2_NDIR + a + a * a + a * a * a;
	uint64_t by_blocks = blocks * fs->block_size;
	/* i_blocks is 32 bits of 512-byte units, indirect blocks included. */
	uint64_t by_count = ((1ull << 32) - 1) * 512 / (a + 1) * a;

	if (fs->rev < EXT2_DYNAMIC_REV)
		return 0x7fffffffull;
	return by_blocks < by_count ? by_blocks : by_count;
}

bool ext2_fast_symlink(const struct ext2_fs *fs, const struct ext2_inode *ip)
{
	uint64_t acl = ip->file_acl ? fs->block_size / 512 : 0;

	return ext2_is_lnk(ip) && ip->blocks == acl;
}

static bool type_known(uint32_t mode)
{
	switch (mode & FS_S_IFMT) {
	case FS_S_IFREG:
	case FS_S_IFDIR:
	case FS_S_IFLNK:
	case FS_S_IFCHR:
	case FS_S_IFBLK:
	case FS_S_IFIFO:
	case FS_S_IFSOCK:
		return true;
	default:
		return false;
	}
}

/* Checks an inode reached through a directory. */
static int check_inode(struct ext2_fs *fs, const struct ext2_inode *ip)
{
	if (ip->links == 0)
		return ext2_corrupt(fs, "directory entry names a free inode");
	if (!type_known(ip->mode))
		return ext2_corrupt(fs, "inode of unknown type");
	if (ip->flags & (EXT2_EXTENTS_FL | EXT2_INLINE_DATA_FL))
		return ext2_corrupt(fs, "inode uses ext4 extents or inline data");
	if (ext2_is_dir(ip) && (ip->size == 0 || ip->size % fs->block_size ||
				ip->size / fs->block_size > fs->blocks_count))
		return ext2_corrupt(fs, "directory size");
	if (ext2_is_reg(ip) && ip->size > ext2_max_size(fs) &&
	    fs->rev >= EXT2_DYNAMIC_REV)
		return ext2_corrupt(fs, "file size beyond the maximum");
	if (ext2_is_lnk(ip) &&
	    (ip->size == 0 || ip->size >= fs->block_size ||
	     (ext2_fast_symlink(fs, ip) && ip->size > EXT2_FAST_LINK_MAX)))
		return ext2_corrupt(fs, "symlink size");
	return 0;
}

int ext2_iget(struct ext2_fs *fs, uint32_t ino, struct ext2_inode *ip)
{
	struct bcache_buf *b;
	uint32_t blk, off;
	int err = inode_slot(fs, ino, &blk, &off);

	if (err)
		return err;
	err = bcache_get(fs->bc, blk, BCACHE_READ, &b);
	if (err)
		return err;
	memset(ip, 0, sizeof(*ip));
	ip->ino = ino;
	decode(fs, b->data + off, ip);
	bcache_put(fs->bc, b);
	return check_inode(fs, ip);
}

int ext2_iput(struct ext2_fs *fs, const struct ext2_inode *ip)
{
	struct bcache_buf *b;
	uint32_t blk, off;
	int err = inode_slot(fs, ip->ino, &blk, &off);

	if (err)
		return err;
	err = bcache_get(fs->bc, blk, BCACHE_READ, &b);
	if (err)
		return err;
	encode(ip, b->data + off);
	bcache_dirty(fs->bc, b, BCACHE_DATA);
	bcache_put(fs->bc, b);
	return 0;
}

int ext2_inew(struct ext2_fs *fs, uint32_t ino, uint32_t mode, struct ext2_inode *ip)
{
	struct bcache_buf *b;
	uint32_t blk, off, gen;
	int64_t now = ext2_now(fs);
	int err = inode_slot(fs, ino, &blk, &off);

	if (err)
		return err;
	err = bcache_get(fs->bc, blk, BCACHE_READ, &b);
	if (err)
		return err;
	gen = ext2_get32(b->data + off + I_GENERATION);
	memset(b->data + off, 0, fs->inode_size);
	ext2_put32(b->data + off + I_GENERATION, gen + 1);
	if (fs->inode_size > EXT2_OLD_INODE)
		ext2_put16(b->data + off + I_EXTRA_ISIZE, fs->want_extra_isize);
	bcache_dirty(fs->bc, b, BCACHE_DATA);
	bcache_put(fs->bc, b);
	memset(ip, 0, sizeof(*ip));
	ip->ino = ino;
	ip->gen = gen + 1;
	ip->mode = mode;
	ip->extra_isize = fs->inode_size > EXT2_OLD_INODE ? fs->want_extra_isize : 0;
	ip->atime = ip->mtime = ip->ctime = now;
	return 0;
}

void ext2_touch(struct ext2_fs *fs, struct ext2_inode *ip, bool mtime)
{
	ip->ctime = ext2_now(fs);
	if (mtime)
		ip->mtime = ip->ctime;
}

/* --- Block maps ---------------------------------------------------------- */

/* Splits lblk into the indexes of its path: idx[0] into i_block, then one
 * per indirect level. Returns the number of indirect levels, or -EFBIG. */
static int block_path(const struct ext2_fs *fs, uint64_t lblk, uint32_t idx[4])
{
	uint64_t a = fs->apb;

	if (lblk < EXT2_NDIR) {
		idx[0] = (uint32_t)lblk;
		return 0;
	}
	lblk -= EXT2_NDIR;
	if (lblk < a) {
		idx[0] = EXT2_IND;
		idx[1] = (uint32_t)lblk;
		return 1;
	}
	lblk -= a;
	if (lblk < a * a) {
		idx[0] = EXT2_DIND;
		idx[1] = (uint32_t)(lblk / a);
		idx[2] = (uint32_t)(lblk % a);
		return 2;
	}
	lblk -= a * a;
	if (lblk < a * a * a) {
		idx[0] = EXT2_TIND;
		idx[1] = (uint32_t)(lblk / (a * a));
		idx[2] = (uint32_t)(lblk / a % a);
		idx[3] = (uint32_t)(lblk % a);
		return 3;
	}
	return -EFBIG;
}

/* A new zeroed block for ip (data or indirect), counted in i_blocks. */
static int alloc_block(struct ext2_fs *fs, struct ext2_inode *ip, uint32_t *blk)
{
	uint32_t per = fs->block_size / 512;
	uint32_t goal = ip->goal;
	struct bcache_buf *b;
	int err;

	if (ip->blocks + per > UINT32_MAX)
		return -EFBIG;
	if (!goal)
		goal = fs->first_data_block +
		       (ip->ino - 1) / fs->inodes_per_group * fs->blocks_per_group;
	err = ext2_block_alloc(fs, goal, blk);
	if (err)
		return err;
	err = bcache_get(fs->bc, *blk, BCACHE_ZERO, &b);
	if (err) {
		ext2_block_free(fs, *blk);
		return err;
	}
	bcache_dirty(fs->bc, b, BCACHE_DATA);
	bcache_put(fs->bc, b);
	ip->blocks += per;
	ip->goal = *blk + 1;
	return 0;
}

/* One step down an indirect block: entry i of block blk, allocated if
 * missing and alloc (then *made is set). */
static int map_step(struct ext2_fs *fs, struct ext2_inode *ip, uint32_t blk, uint32_t i,
		    bool alloc, uint32_t *next, bool *made)
{
	struct bcache_buf *b;
	int err = bcache_get(fs->bc, blk, BCACHE_READ, &b);

	*made = false;
	if (err)
		return err;
	*next = ext2_get32(b->data + 4 * i);
	if (*next == 0 && alloc) {
		err = alloc_block(fs, ip, next);
		if (!err) {
			ext2_put32(b->data + 4 * i, *next);
			bcache_dirty(fs->bc, b, BCACHE_DATA);
			*made = true;
		}
	} else if (*next && !ext2_block_ok(fs, *next)) {
		err = ext2_corrupt(fs, "block pointer out of range");
	}
	bcache_put(fs->bc, b);
	return err;
}

int ext2_bmap(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t lblk, bool alloc,
	      uint32_t *pblk, bool *fresh)
{
	uint32_t idx[4], blk;
	int depth = block_path(fs, lblk, idx);
	bool made = false;

	*pblk = 0;
	if (depth < 0)
		return depth;
	blk = ip->block[idx[0]];
	if (blk == 0 && alloc) {
		int err = alloc_block(fs, ip, &blk);

		if (err)
			return err;
		ip->block[idx[0]] = blk;
		made = true;
	} else if (blk && !ext2_block_ok(fs, blk)) {
		return ext2_corrupt(fs, "block pointer out of range");
	}
	for (int level = 1; level <= depth && blk; level++) {
		int err = map_step(fs, ip, blk, idx[level], alloc, &blk, &made);

		if (err)
			return err;
	}
	if (fresh)
		*fresh = made;
	*pblk = blk;
	return 0;
}

/* --- File data ------------------------------------------------------------ */

static int read_chunk(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t off,
		      uint8_t *buf, uint32_t len)
{
	uint32_t bs = fs->block_size;
	uint64_t first = off / bs;
	uint32_t n = (uint32_t)((off + len - 1) / bs - first + 1);
	uint32_t map[EXT2_READ_CHUNK];
	uint64_t fetch[EXT2_READ_CHUNK];
	uint32_t done = 0;
	unsigned nf = 0;

	for (uint32_t i = 0; i < n; i++) {
		int err = ext2_bmap(fs, ip, first + i, false, &map[i], NULL);

		if (err)
			return err;
		if (map[i])
			fetch[nf++] = map[i];
	}
	if (nf > 1)
		bcache_prefetch(fs->bc, fetch, nf);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t boff = (uint32_t)((off + done) % bs);
		uint32_t m = bs - boff < len - done ? bs - boff : len - done;
		struct bcache_buf *b;

		if (map[i]) {
			int err = bcache_get(fs->bc, map[i], BCACHE_READ, &b);

			if (err)
				return err;
			memcpy(buf + done, b->data + boff, m);
			bcache_put(fs->bc, b);
		} else {
			memset(buf + done, 0, m);
		}
		done += m;
	}
	return 0;
}

int ext2_file_read(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t off, void *buf,
		   uint32_t len)
{
	uint32_t chunk = EXT2_READ_CHUNK * fs->block_size;
	uint32_t done = 0;

	if (off >= ip->size)
		return 0;
	if (len > ip->size - off)
		len = (uint32_t)(ip->size - off);
	while (done < len) {
		/* Chunks end on block boundaries so each maps <= READ_CHUNK. */
		uint64_t pos = off + done;
		uint32_t m = chunk - (uint32_t)(pos % fs->block_size);
		int err;

		if (m > len - done)
			m = len - done;
		err = read_chunk(fs, ip, pos, (uint8_t *)buf + done, m);
		if (err)
			return err;
		done += m;
	}
	return (int)done;
}

int ext2_file_read_begin(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t off,
			 void *buf, uint32_t len, struct ext2_split_read *sr)
{
	uint32_t bs = fs->block_size, done = 0;
	uint64_t first = off / bs;

	memset(sr, 0, sizeof(*sr));
	bcache_ticket(fs->bc, &sr->ticket);
	if (len > EXT2_SPLIT_MAX)
		return -EINVAL;
	if (off >= ip->size || !len)
		return 0;
	if (len > ip->size - off)
		len = (uint32_t)(ip->size - off);
	for (uint64_t lblk = first; done < len; lblk++) {
		uint32_t boff = (uint32_t)((off + done) % bs), blk;
		uint32_t m = bs - boff < len - done ? bs - boff : len - done;
		struct bcache_buf *b;
		int err = ext2_bmap(fs, ip, lblk, false, &blk, NULL);

		if (!err && blk && bcache_holds(fs->bc, blk) &&
		    !(err = bcache_get(fs->bc, blk, BCACHE_READ, &b))) {
			memcpy((uint8_t *)buf + done, b->data + boff, m);
			bcache_put(fs->bc, b);
		} else if (!err && blk) {
			sr->blk[sr->n] = blk; /* fits: len <= EXT2_SPLIT_MAX */
			sr->part[sr->n].dst = done;
			sr->part[sr->n].boff = boff;
			sr->part[sr->n++].len = m;
		} else if (!err) {
			memset((uint8_t *)buf + done, 0, m); /* a hole */
		}
		if (err)
			return err;
		done += m;
	}
	return (int)done;
}

/* A block pointer read from disk: 0 (a hole) or in range. */
static int check_ptr(struct ext2_fs *fs, uint32_t p)
{
	return p && !ext2_block_ok(fs, p) ? ext2_corrupt(fs, "block pointer out of range")
					  : 0;
}

/*
 * Maps logical blocks lblk, lblk + 1, ... of ip (no allocation) into
 * out[], at most n of them and only as many as share lblk's last
 * indirect block (or the inode's direct pointers), so that a long read
 * looks at each indirect block once, not once per block. Returns how
 * many (>= 1), or a negative errno.
 */
static int bmap_run(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t lblk, uint32_t n,
		    uint64_t *out)
{
	uint32_t idx[4], blk, m;
	int depth = block_path(fs, lblk, idx), err = 0;
	struct bcache_buf *b;
	bool made;

	if (depth < 0)
		return depth;
	m = (depth ? fs->apb : EXT2_NDIR) - idx[depth];
	m = m < n ? m : n;
	blk = ip->block[idx[0]];
	for (uint32_t i = 0; depth == 0 && i < m && !err; i++) {
		out[i] = ip->block[idx[0] + i];
		err = check_ptr(fs, (uint32_t)out[i]);
	}
	if (depth == 0 || err)
		return err ? err : (int)m;
	err = check_ptr(fs, blk);
	for (int level = 1; level < depth && blk && !err; level++)
		err = map_step(fs, ip, blk, idx[level], false, &blk, &made);
	if (!err && blk)
		err = bcache_get(fs->bc, blk, BCACHE_READ, &b);
	if (err)
		return err;
	for (uint32_t i = 0; i < m && !err; i++) {
		out[i] = blk ? ext2_get32(b->data + 4 * (idx[depth] + i)) : 0;
		err = check_ptr(fs, (uint32_t)out[i]);
	}
	if (blk)
		bcache_put(fs->bc, b);
	return err ? err : (int)m;
}

/* Reads the whole blocks [first, first + n) of ip (n <= FS_IO_MAX /
 * block size) into buf, past the cache. */
static int read_blocks_direct(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t first,
			      uint32_t n, uint8_t *buf, uint64_t buf_phys)
{
	for (uint32_t i = 0; i < n;) {
		int m = bmap_run(fs, ip, first + i, n - i, fs->direct_blks + i);

		if (m < 0)
			return m;
		i += (uint32_t)m;
	}
	return bcache_read_direct(fs->bc, fs->direct_blks, n, buf, buf_phys);
}

int ext2_file_read_direct(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t off,
			  void *buf, uint64_t buf_phys, uint32_t len)
{
	uint32_t bs = fs->block_size, head, whole, tail;
	uint8_t *p = buf;
	int n = 0;

	if (len > FS_IO_MAX)
		return -EINVAL;
	if (off >= ip->size)
		return 0;
	if (len > ip->size - off)
		len = (uint32_t)(ip->size - off);
	/* a partial block at either end goes through the cache */
	head = (uint32_t)((bs - off % bs) % bs);
	if (head > len)
		head = len;
	whole = (len - head) / bs;
	tail = len - head - whole * bs;
	if (head)
		n = ext2_file_read(fs, ip, off, p, head);
	if (n >= 0 && whole)
		n = read_blocks_direct(fs, ip, (off + head) / bs, whole, p + head,
				       buf_phys ? buf_phys + head : 0);
	if (n >= 0 && tail)
		n = ext2_file_read(fs, ip, off + len - tail, p + len - tail, tail);
	return n < 0 ? n : (int)len;
}

/* Zeroes the bytes of the last block past i_size, so that growing the
 * file shows zeroes there. */
static int zero_tail(struct ext2_fs *fs, struct ext2_inode *ip)
{
	uint32_t boff = (uint32_t)(ip->size % fs->block_size);
	struct bcache_buf *b;
	uint32_t p;
	int err;

	if (boff == 0)
		return 0;
	err = ext2_bmap(fs, ip, ip->size / fs->block_size, false, &p, NULL);
	if (err || !p)
		return err;
	err = bcache_get(fs->bc, p, BCACHE_READ, &b);
	if (err)
		return err;
	memset(b->data + boff, 0, fs->block_size - boff);
	bcache_dirty(fs->bc, b, BCACHE_DATA);
	bcache_put(fs->bc, b);
	return 0;
}

/* Size limits of a file growing to end. */
static int check_growth(struct ext2_fs *fs, uint64_t end)
{
	if (end > ext2_max_size(fs))
		return -EFBIG;
	if (end > 0x7fffffffull)
		ext2_note_large_file(fs);
	return 0;
}

static int free_from(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t first);

static int write_block(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t pos,
		       const uint8_t *src, uint32_t m)
{
	uint32_t boff = (uint32_t)(pos % fs->block_size);
	struct bcache_buf *b;
	bool fresh;
	uint32_t p;
	int err = ext2_bmap(fs, ip, pos / fs->block_size, true, &p, &fresh);

	if (err)
		return err;
	if (!p)
		return ext2_corrupt(fs, "no block for a write");
	err = bcache_get(fs->bc, p,
			 m == fs->block_size && !fresh ? BCACHE_NOREAD : BCACHE_READ, &b);
	if (err)
		return err;
	memcpy(b->data + boff, src, m);
	bcache_dirty(fs->bc, b, BCACHE_DATA);
	bcache_put(fs->bc, b);
	return 0;
}

/* Writes [off, off + len) of the file from buf block by block through
 * the cache; returns the bytes written before an error (*err). */
static uint32_t write_cached(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t off,
			     const uint8_t *buf, uint32_t len, int *err)
{
	uint32_t done = 0;

	while (!*err && done < len) {
		uint64_t pos = off + done;
		uint32_t boff = (uint32_t)(pos % fs->block_size);
		uint32_t m = fs->block_size - boff;

		if (m > len - done)
			m = len - done;
		*err = write_block(fs, ip, pos, buf + done, m);
		if (!*err)
			done += m;
	}
	return done;
}

/* Block lblk of ip for a write that covers all of it, allocated if it is
 * a hole. A new block's zeroed copy in the cache (alloc_block) is
 * dropped: the write replaces it. */
static int map_for_write(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t lblk,
			 uint64_t *out)
{
	bool fresh;
	uint32_t p;
	int err = ext2_bmap(fs, ip, lblk, true, &p, &fresh);

	if (!err && !p)
		err = ext2_corrupt(fs, "no block for a write");
	if (err)
		return err;
	if (fresh)
		bcache_forget(fs->bc, p);
	*out = p;
	return 0;
}

/*
 * Writes the whole blocks [first, first + n) of the file (n <= FS_IO_MAX
 * / block size) from buf, past the cache (bcache_write_direct); returns
 * the blocks written before an error (*err). Blocks that exist are mapped
 * a run at a time (bmap_run), holes one by one as they are allocated.
 */
static uint32_t write_blocks_direct(struct ext2_fs *fs, struct ext2_inode *ip,
				    uint64_t first, uint32_t n, const uint8_t *buf,
				    uint64_t buf_phys, int *err)
{
	uint64_t *blks = fs->direct_blks;
	uint32_t k = 0;

	while (k < n && !*err) {
		int m = bmap_run(fs, ip, first + k, n - k, blks + k);

		if (m < 0) {
			*err = m;
			break;
		}
		for (uint32_t end = k + (uint32_t)m; k < end; k++) {
			if (!blks[k] &&
			    (*err = map_for_write(fs, ip, first + k, &blks[k])))
				break;
		}
	}
	if (k) {
		int e = bcache_write_direct(fs->bc, blks, k, buf, buf_phys);

		if (e) {
			*err = e;
			return 0;
		}
	}
	return k;
}

/* ext2_file_write and ext2_file_write_direct (direct: whole blocks past
 * the cache, buf_phys as for ext2_file_read_direct). */
static int file_write(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t off,
		      const uint8_t *buf, uint64_t buf_phys, bool direct, uint32_t len)
{
	uint32_t bs = fs->block_size, head = len, whole = 0, done;
	int err;

	if (off + len < off)
		return -EFBIG;
	err = check_growth(fs, off + len);
	if (!err && off > ip->size)
		err = zero_tail(fs, ip);
	if (direct) {
		head = (uint32_t)((bs - off % bs) % bs);
		head = head < len ? head : len;
		whole = (len - head) / bs;
	}
	done = err ? 0 : write_cached(fs, ip, off, buf, head, &err);
	if (!err && whole)
		done += bs * write_blocks_direct(fs, ip, (off + done) / bs, whole,
						 buf + done,
						 buf_phys ? buf_phys + done : 0, &err);
	if (!err)
		done += write_cached(fs, ip, off + done, buf + done, len - done, &err);
	if (done && off + done > ip->size)
		ip->size = off + done;
	if (err) {
		/* Blocks allocated past the end for the part not written. */
		free_from(fs, ip, (ip->size + fs->block_size - 1) / fs->block_size);
		return err;
	}
	return (int)len;
}

int ext2_file_write(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t off,
		    const void *buf, uint32_t len)
{
	return file_write(fs, ip, off, buf, 0, false, len);
}

int ext2_file_write_direct(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t off,
			   const void *buf, uint64_t buf_phys, uint32_t len)
{
	if (len > FS_IO_MAX)
		return -EINVAL;
	return file_write(fs, ip, off, buf, buf_phys, true, len);
}

/* --- Freeing ---------------------------------------------------------------- */

static int free_data(struct ext2_fs *fs, struct ext2_inode *ip, uint32_t blk)
{
	uint32_t per = fs->block_size / 512;
	int err = ext2_block_free(fs, blk);

	if (!err)
		ip->blocks = ip->blocks > per ? ip->blocks - per : 0;
	return err;
}

static uint64_t span_of(const struct ext2_fs *fs, unsigned depth)
{
	uint64_t s = 1;

	while (depth--)
		s *= fs->apb;
	return s;
}

/* Frees the blocks of the subtree under *slot (depth indirect levels)
 * from its logical block start on; the subtree's own block too when
 * start is 0 (then *slot becomes 0). */
static int free_tree(struct ext2_fs *fs, struct ext2_inode *ip, uint32_t *slot,
		     unsigned depth, uint64_t start)
{
	struct bcache_buf *b;
	uint64_t span;
	int err = 0;

	if (*slot == 0)
		return 0;
	if (!ext2_block_ok(fs, *slot))
		return ext2_corrupt(fs, "block pointer out of range");
	if (depth == 0) {
		err = free_data(fs, ip, *slot);
		if (!err)
			*slot = 0;
		return err;
	}
	span = span_of(fs, depth - 1);
	err = bcache_get(fs->bc, *slot, BCACHE_READ, &b);
	if (err)
		return err;
	for (uint32_t i = (uint32_t)(start / span); i < fs->apb && !err; i++) {
		uint32_t child = ext2_get32(b->data + 4 * i);
		uint32_t now = child;

		if (!child)
			continue;
		err = free_tree(fs, ip, &now, depth - 1,
				i == start / span ? start % span : 0);
		if (now != child) {
			ext2_put32(b->data + 4 * i, now);
			bcache_dirty(fs->bc, b, BCACHE_DATA);
		}
	}
	bcache_put(fs->bc, b);
	if (!err && start == 0) {
		err = free_data(fs, ip, *slot);
		if (!err)
			*slot = 0;
	}
	return err;
}

/* Frees every block of ip from logical block first on. */
static int free_from(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t first)
{
	uint64_t base = EXT2_NDIR;
	int err = 0;

	for (uint64_t i = first; i < EXT2_NDIR && !err; i++)
		err = free_tree(fs, ip, &ip->block[i], 0, 0);
	for (unsigned depth = 1; depth <= 3 && !err; depth++) {
		uint64_t span = span_of(fs, depth);

		if (first < base + span)
			err = free_tree(fs, ip, &ip->block[EXT2_IND + depth - 1], depth,
					first > base ? first - base : 0);
		base += span;
	}
	return err;
}

int ext2_file_truncate(struct ext2_fs *fs, struct ext2_inode *ip, uint64_t size)
{
	int err;

	if (size > ip->size) {
		err = check_growth(fs, size);
		if (!err)
			err = zero_tail(fs, ip);
		if (!err)
			ip->size = size;
		return err;
	}
	err = free_from(fs, ip, (size + fs->block_size - 1) / fs->block_size);
	if (err)
		return err;
	ip->size = size;
	return zero_tail(fs, ip);
}

/* Drops ip's reference to its extended attribute block. */
static int release_xattr(struct ext2_fs *fs, struct ext2_inode *ip)
{
	struct bcache_buf *b;
	uint32_t refs;
	int err;

	if (!ext2_block_ok(fs, ip->file_acl))
		return ext2_corrupt(fs, "xattr block out of range");
	err = bcache_get(fs->bc, ip->file_acl, BCACHE_READ, &b);
	if (err)
		return err;
	refs = ext2_get32(b->data + XATTR_REFCOUNT_OFF);
	if (ext2_get32(b->data + XATTR_MAGIC_OFF) != EXT2_XATTR_MAGIC || refs == 0) {
		err = ext2_corrupt(fs, "bad xattr block");
	} else if (refs > 1) {
		ext2_put32(b->data + XATTR_REFCOUNT_OFF, refs - 1);
		bcache_dirty(fs->bc, b, BCACHE_DATA);
	}
	bcache_put(fs->bc, b);
	if (!err && refs == 1)
		err = free_data(fs, ip, ip->file_acl);
	else if (!err)
		ip->blocks -=
			ip->blocks >= fs->block_size / 512 ? fs->block_size / 512 : 0;
	if (!err)
		ip->file_acl = 0;
	return err;
}

static bool has_block_map(const struct ext2_fs *fs, const struct ext2_inode *ip)
{
	return ext2_is_reg(ip) || ext2_is_dir(ip) ||
	       (ext2_is_lnk(ip) && !ext2_fast_symlink(fs, ip));
}

int ext2_idelete(struct ext2_fs *fs, struct ext2_inode *ip)
{
	int64_t now = ext2_now(fs);
	bool dir = ext2_is_dir(ip);
	int err = 0;

	if (has_block_map(fs, ip))
		err = free_from(fs, ip, 0);
	if (!err && ip->file_acl)
		err = release_xattr(fs, ip);
	if (err)
		return err;
	memset(ip->block, 0, sizeof(ip->block));
	ip->links = 0;
	ip->size = 0;
	ip->blocks = 0;
	/* e2fsck wants a deleted inode's dtime set. */
	ip->dtime = now > 0 ? (uint32_t)now : 1;
	err = ext2_iput(fs, ip);
	if (!err)
		err = ext2_ifree(fs, ip->ino, dir);
	return err;
}

/* i_block as the bytes on disk (fast symlinks keep their text there). */
static void block_bytes(const struct ext2_inode *ip, uint8_t out[4 * EXT2_NBLOCKS])
{
	for (unsigned i = 0; i < EXT2_NBLOCKS; i++)
		ext2_put32(out + 4 * i, ip->block[i]);
}

int ext2_link_target(struct ext2_fs *fs, struct ext2_inode *ip, char *buf, size_t cap)
{
	size_t len = (size_t)ip->size;

	if (len >= cap)
		return -ENAMETOOLONG;
	if (ext2_fast_symlink(fs, ip)) {
		uint8_t raw[4 * EXT2_NBLOCKS];

		block_bytes(ip, raw);
		memcpy(buf, raw, len);
	} else {
		struct bcache_buf *b;
		uint32_t p;
		int err = ext2_bmap(fs, ip, 0, false, &p, NULL);

		if (!err && !p)
			err = ext2_corrupt(fs, "symlink without its block");
		if (!err)
			err = bcache_get(fs->bc, p, BCACHE_READ, &b);
		if (err)
			return err;
		memcpy(buf, b->data, len);
		bcache_put(fs->bc, b);
	}
	buf[len] = '\0';
	return (int)len;
}

int ext2_link_store(struct ext2_fs *fs, struct ext2_inode *ip, const char *target,
		    size_t len)
{
	int n;

	if (len <= EXT2_FAST_LINK_MAX) {
		uint8_t raw[4 * EXT2_NBLOCKS] = {0};

		memcpy(raw, target, len);
		for (unsigned i = 0; i < EXT2_NBLOCKS; i++)
			ip->block[i] = ext2_get32(raw + 4 * i);
		ip->size = len;
		return 0;
	}
	n = ext2_file_write(fs, ip, 0, target, (uint32_t)len);
	return n < 0 ? n : 0;
}
