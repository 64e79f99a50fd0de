/*
 * ext2: directory entries.
 *
 * A directory is a file of blocks, each a chain of records (inode,
 * rec_len, name_len, file_type, name) that covers the block exactly.
 * Every block is checked as a whole when read (dir_get), the way Linux's
 * ext2_check_page does: rec_len at least 12, a multiple of 4, inside the
 * block and large enough for the name; inode numbers in range. Only then
 * are its records used, so the walkers below need no bounds checks of
 * their own. A hole in a directory is corruption.
 *
 * Lookups are linear. Indexed (htree) directories read fine as linear
 * ones: their index blocks look like one empty record. Any change to
 * such a directory clears EXT2_INDEX_FL, since this driver does not keep
 * the index up to date; e2fsck then sees a plain directory.
 *
 * Adding an entry takes the first record with enough slack (splitting
 * it) or a free record, else appends a block. Removing one merges it
 * into the previous record of its block, or frees it in place when it is
 * the first. getdents cookies are byte positions in the directory; a
 * cookie that no longer starts a record (entries merged since) resumes
 * at the next record of its block, as Linux does.
 */
#include "ext2_impl.h"

struct dent {
	uint32_t ino;
	uint32_t rec_len;
	uint32_t name_len;
	uint8_t type;
	const char *name;
};

static bool has_filetype(const struct ext2_fs *fs)
{
	return fs->incompat & EXT2_INCOMPAT_FILETYPE;
}

static void dent_at(const struct ext2_fs *fs, const uint8_t *data, uint32_t off,
		    struct dent *d)
{
	const uint8_t *p = data + off;

	d->ino = ext2_get32(p + DE_INODE);
	d->rec_len = ext2_get16(p + DE_REC_LEN);
	d->name_len = p[DE_NAME_LEN];
	d->type = has_filetype(fs) ? p[DE_TYPE] : EXT2_FT_UNKNOWN;
	d->name = (const char *)p + DE_NAME;
}

static void dent_put(const struct ext2_fs *fs, uint8_t *data, uint32_t off, uint32_t ino,
		     uint32_t rec_len, const char *name, size_t len, unsigned type)
{
	uint8_t *p = data + off;

	ext2_put32(p + DE_INODE, ino);
	ext2_put16(p + DE_REC_LEN, (uint16_t)rec_len);
	p[DE_NAME_LEN] = (uint8_t)len;
	p[DE_TYPE] = has_filetype(fs) ? (uint8_t)type : 0;
	memcpy(p + DE_NAME, name, len);
}

static bool block_ok(const struct ext2_fs *fs, const uint8_t *data)
{
	uint32_t off = 0, bs = fs->block_size;

	while (off < bs) {
		const uint8_t *p = data + off;
		uint32_t rec, nl;

		if (bs - off < EXT2_DIR_REC_LEN(1))
			return false;
		rec = ext2_get16(p + DE_REC_LEN);
		nl = p[DE_NAME_LEN];
		if (!has_filetype(fs) && p[DE_TYPE])
			return false; /* name_len's high byte: names are < 256 */
		if (rec < EXT2_DIR_REC_LEN(1) || rec % 4 || rec > bs - off ||
		    EXT2_DIR_REC_LEN(nl) > rec)
			return false;
		if (ext2_get32(p + DE_INODE) > fs->inodes_count ||
		    (ext2_get32(p + DE_INODE) && nl == 0))
			return false;
		off += rec;
	}
	return true;
}

/* Pins logical block lblk of dir, checked. */
static int dir_get(struct ext2_fs *fs, struct ext2_inode *dir, uint32_t lblk,
		   struct bcache_buf **out)
{
	uint32_t p;
	int err = ext2_bmap(fs, dir, lblk, false, &p, NULL);

	if (!err && !p)
		err = ext2_corrupt(fs, "hole in a directory");
	if (!err)
		err = bcache_get(fs->bc, p, BCACHE_READ, out);
	if (err)
		return err;
	if (!block_ok(fs, (*out)->data)) {
		bcache_put(fs->bc, *out);
		*out = NULL;
		return ext2_corrupt(fs, "bad directory block");
	}
	return 0;
}

static uint32_t dir_blocks(const struct ext2_fs *fs, const struct ext2_inode *dir)
{
	return (uint32_t)(dir->size / fs->block_size);
}

/* The directory changed: bump its times, drop any htree index. */
static void dir_changed(struct ext2_fs *fs, struct ext2_inode *dir)
{
	dir->flags &= ~(uint32_t)EXT2_INDEX_FL;
	ext2_touch(fs, dir, true);
}

static bool names_equal(const struct dent *d, const char *name, size_t len)
{
	return d->ino && d->name_len == len && memcmp(d->name, name, len) == 0;
}

static int find_in_block(struct ext2_fs *fs, const uint8_t *data, const char *name,
			 size_t len, uint32_t *ino, struct ext2_dirloc *loc)
{
	uint32_t prev = UINT32_MAX;
	struct dent d;

	for (uint32_t off = 0; off < fs->block_size; prev = off, off += d.rec_len) {
		dent_at(fs, data, off, &d);
		if (!names_equal(&d, name, len))
			continue;
		if (d.ino < fs->first_ino && d.ino != EXT2_ROOT_INO)
			return ext2_corrupt(fs, "directory entry names a reserved inode");
		*ino = d.ino;
		if (loc) {
			loc->off = off;
			loc->prev_off = prev;
		}
		return 0;
	}
	return -ENOENT;
}

int ext2_dir_lookup(struct ext2_fs *fs, struct ext2_inode *dir, const char *name,
		    size_t len, uint32_t *ino, struct ext2_dirloc *loc)
{
	uint32_t n = dir_blocks(fs, dir);

	for (uint32_t lblk = 0; lblk < n; lblk++) {
		struct bcache_buf *b;
		int err = dir_get(fs, dir, lblk, &b);

		if (err)
			return err;
		err = find_in_block(fs, b->data, name, len, ino, loc);
		bcache_put(fs->bc, b);
		if (err != -ENOENT) {
			if (!err && loc)
				loc->lblk = lblk;
			return err;
		}
	}
	return -ENOENT;
}

/* Puts the entry into a record of the block with room; -ENOSPC if none. */
static int add_in_block(struct ext2_fs *fs, uint8_t *data, const char *name, size_t len,
			uint32_t ino, unsigned type)
{
	uint32_t need = EXT2_DIR_REC_LEN(len);
	struct dent d;

	for (uint32_t off = 0; off < fs->block_size; off += d.rec_len) {
		uint32_t used;

		dent_at(fs, data, off, &d);
		used = d.ino ? EXT2_DIR_REC_LEN(d.name_len) : 0;
		if (d.rec_len - used < need)
			continue;
		if (used) {
			ext2_put16(data + off + DE_REC_LEN, (uint16_t)used);
			dent_put(fs, data, off + used, ino, d.rec_len - used, name, len,
				 type);
		} else {
			dent_put(fs, data, off, ino, d.rec_len, name, len, type);
		}
		return 0;
	}
	return -ENOSPC;
}

static int append_block(struct ext2_fs *fs, struct ext2_inode *dir, const char *name,
			size_t len, uint32_t ino, unsigned type)
{
	uint32_t lblk = dir_blocks(fs, dir);
	struct bcache_buf *b;
	uint32_t p;
	int err;

	if (dir->size + fs->block_size > UINT32_MAX)
		return -EFBIG;
	err = ext2_bmap(fs, dir, lblk, true, &p, NULL);
	if (!err && !p)
		err = ext2_corrupt(fs, "no block for a directory");
	if (!err)
		err = bcache_get(fs->bc, p, BCACHE_ZERO, &b);
	if (err)
		return err;
	dent_put(fs, b->data, 0, ino, fs->block_size, name, len, type);
	bcache_dirty(fs->bc, b, BCACHE_DATA);
	bcache_put(fs->bc, b);
	dir->size += fs->block_size;
	return 0;
}

int ext2_dir_add(struct ext2_fs *fs, struct ext2_inode *dir, const char *name, size_t len,
		 uint32_t ino, unsigned type)
{
	uint32_t n = dir_blocks(fs, dir);
	int err;

	for (uint32_t lblk = 0; lblk < n; lblk++) {
		struct bcache_buf *b;

		err = dir_get(fs, dir, lblk, &b);
		if (err)
			return err;
		err = add_in_block(fs, b->data, name, len, ino, type);
		if (!err)
			bcache_dirty(fs->bc, b, BCACHE_DATA);
		bcache_put(fs->bc, b);
		if (err != -ENOSPC) {
			if (!err)
				dir_changed(fs, dir);
			return err;
		}
	}
	err = append_block(fs, dir, name, len, ino, type);
	if (!err)
		dir_changed(fs, dir);
	return err;
}

/* Pins the block of loc and checks that an entry starts at loc->off. */
static int loc_get(struct ext2_fs *fs, struct ext2_inode *dir,
		   const struct ext2_dirloc *loc, struct bcache_buf **out)
{
	uint32_t off = 0;
	struct dent d;
	int err = dir_get(fs, dir, loc->lblk, out);

	if (err)
		return err;
	for (; off < loc->off && off < fs->block_size; off += d.rec_len)
		dent_at(fs, (*out)->data, off, &d);
	if (off != loc->off || off >= fs->block_size) {
		bcache_put(fs->bc, *out);
		return ext2_corrupt(fs, "directory entry moved");
	}
	return 0;
}

int ext2_dir_remove(struct ext2_fs *fs, struct ext2_inode *dir,
		    const struct ext2_dirloc *loc)
{
	struct bcache_buf *b;
	struct dent cur, prev;
	int err = loc_get(fs, dir, loc, &b);

	if (err)
		return err;
	dent_at(fs, b->data, loc->off, &cur);
	if (loc->prev_off != UINT32_MAX) {
		dent_at(fs, b->data, loc->prev_off, &prev);
		ext2_put16(b->data + loc->prev_off + DE_REC_LEN,
			   (uint16_t)(prev.rec_len + cur.rec_len));
	} else {
		ext2_put32(b->data + loc->off + DE_INODE, 0);
	}
	bcache_dirty(fs->bc, b, BCACHE_DATA);
	bcache_put(fs->bc, b);
	dir_changed(fs, dir);
	return 0;
}

int ext2_dir_retarget(struct ext2_fs *fs, struct ext2_inode *dir,
		      const struct ext2_dirloc *loc, uint32_t ino, unsigned type)
{
	struct bcache_buf *b;
	int err = loc_get(fs, dir, loc, &b);

	if (err)
		return err;
	ext2_put32(b->data + loc->off + DE_INODE, ino);
	if (has_filetype(fs))
		b->data[loc->off + DE_TYPE] = (uint8_t)type;
	bcache_dirty(fs->bc, b, BCACHE_DATA);
	bcache_put(fs->bc, b);
	dir_changed(fs, dir);
	return 0;
}

static bool is_dot_or_dotdot(const struct dent *d)
{
	return (d->name_len == 1 && d->name[0] == '.') ||
	       (d->name_len == 2 && d->name[0] == '.' && d->name[1] == '.');
}

int ext2_dir_empty(struct ext2_fs *fs, struct ext2_inode *dir)
{
	uint32_t n = dir_blocks(fs, dir);

	for (uint32_t lblk = 0; lblk < n; lblk++) {
		struct bcache_buf *b;
		bool empty = true;
		struct dent d;
		int err = dir_get(fs, dir, lblk, &b);

		if (err)
			return err;
		for (uint32_t off = 0; off < fs->block_size && empty; off += d.rec_len) {
			dent_at(fs, b->data, off, &d);
			empty = !d.ino || is_dot_or_dotdot(&d);
		}
		bcache_put(fs->bc, b);
		if (!empty)
			return 0;
	}
	return 1;
}

int ext2_dir_init(struct ext2_fs *fs, struct ext2_inode *dir, uint32_t parent)
{
	struct bcache_buf *b;
	uint32_t p;
	int err = ext2_bmap(fs, dir, 0, true, &p, NULL);

	if (!err && !p)
		err = ext2_corrupt(fs, "no block for a directory");
	if (!err)
		err = bcache_get(fs->bc, p, BCACHE_ZERO, &b);
	if (err)
		return err;
	dent_put(fs, b->data, 0, dir->ino, EXT2_DIR_REC_LEN(1), ".", 1, EXT2_FT_DIR);
	dent_put(fs, b->data, EXT2_DIR_REC_LEN(1), parent,
		 fs->block_size - EXT2_DIR_REC_LEN(1), "..", 2, EXT2_FT_DIR);
	bcache_dirty(fs->bc, b, BCACHE_DATA);
	bcache_put(fs->bc, b);
	dir->size = fs->block_size;
	return 0;
}

int ext2_dir_set_parent(struct ext2_fs *fs, struct ext2_inode *dir, uint32_t parent)
{
	struct bcache_buf *b;
	struct dent d;
	uint32_t off;
	int err = dir_get(fs, dir, 0, &b);

	if (err)
		return err;
	dent_at(fs, b->data, 0, &d);
	off = d.rec_len;
	if (off < fs->block_size)
		dent_at(fs, b->data, off, &d);
	if (off >= fs->block_size || d.name_len != 2 || memcmp(d.name, "..", 2)) {
		bcache_put(fs->bc, b);
		return ext2_corrupt(fs, "directory without '..'");
	}
	ext2_put32(b->data + off + DE_INODE, parent);
	bcache_dirty(fs->bc, b, BCACHE_DATA);
	bcache_put(fs->bc, b);
	dir_changed(fs, dir);
	return 0;
}

/* --- getdents ----------------------------------------------------------- */

unsigned ext2_mode_to_ft(uint32_t mode)
{
	switch (mode & FS_S_IFMT) {
	case FS_S_IFREG:
		return EXT2_FT_REG;
	case FS_S_IFDIR:
		return EXT2_FT_DIR;
	case FS_S_IFCHR:
		return EXT2_FT_CHR;
	case FS_S_IFBLK:
		return EXT2_FT_BLK;
	case FS_S_IFIFO:
		return EXT2_FT_FIFO;
	case FS_S_IFSOCK:
		return EXT2_FT_SOCK;
	case FS_S_IFLNK:
		return EXT2_FT_LNK;
	default:
		return EXT2_FT_UNKNOWN;
	}
}

static uint8_t ft_to_dtype(unsigned ft)
{
	static const uint8_t map[EXT2_FT_MAX] = {
		FS_DT_UNKNOWN, FS_DT_REG,  FS_DT_DIR,  FS_DT_CHR,
		FS_DT_BLK,     FS_DT_FIFO, FS_DT_SOCK, FS_DT_LNK,
	};

	return ft < EXT2_FT_MAX ? map[ft] : FS_DT_UNKNOWN;
}

static uint8_t entry_dtype(struct ext2_fs *fs, const struct dent *d)
{
	struct ext2_inode ip;

	if (has_filetype(fs))
		return ft_to_dtype(d->type);
	if (ext2_iget(fs, d->ino, &ip))
		return FS_DT_UNKNOWN;
	return ft_to_dtype(ext2_mode_to_ft(ip.mode));
}

/* One linux_dirent64 record (d_ino u64, d_off s64, d_reclen u16, d_type
 * u8, the name with a NUL, padded to 8 bytes) at buf; returns its size. */
static size_t put_record(uint8_t *buf, const struct dent *d, uint64_t next, uint8_t type)
{
	size_t reclen = (19 + d->name_len + 1 + 7) & ~(size_t)7;
	uint64_t ino = d->ino;
	int64_t off = (int64_t)next;
	uint16_t rl = (uint16_t)reclen;

	memset(buf, 0, reclen);
	memcpy(buf, &ino, 8);
	memcpy(buf + 8, &off, 8);
	memcpy(buf + 16, &rl, 2);
	buf[18] = type;
	memcpy(buf + 19, d->name, d->name_len);
	return reclen;
}

/* Emits the records of one block from byte boff; advances *pos past the
 * records consumed. Returns 1 when buf is full. */
static int list_block(struct ext2_fs *fs, const uint8_t *data, uint64_t base,
		      uint32_t boff, uint64_t *pos, uint8_t *buf, size_t cap,
		      size_t *used)
{
	struct dent d;

	for (uint32_t off = 0; off < fs->block_size; off += d.rec_len) {
		size_t need;

		dent_at(fs, data, off, &d);
		if (off < boff)
			continue;
		need = (19 + d.name_len + 1 + 7) & ~(size_t)7;
		if (d.ino) {
			if (*used + need > cap)
				return 1;
			*used += put_record(buf + *used, &d, base + off + d.rec_len,
					    entry_dtype(fs, &d));
		}
		*pos = base + off + d.rec_len;
	}
	return 0;
}

int ext2_dir_list(struct ext2_fs *fs, struct ext2_inode *dir, uint64_t *cookie,
		  uint8_t *buf, size_t cap, bool *eof)
{
	uint64_t pos = *cookie;
	size_t used = 0;
	int full = 0;

	*eof = false;
	while (!full && pos < dir->size) {
		uint32_t lblk = (uint32_t)(pos / fs->block_size);
		uint64_t base = (uint64_t)lblk * fs->block_size;
		struct bcache_buf *b;
		int err = dir_get(fs, dir, lblk, &b);

		if (err)
			return err;
		full = list_block(fs, b->data, base, (uint32_t)(pos - base), &pos, buf,
				  cap, &used);
		bcache_put(fs->bc, b);
		if (!full)
			pos = base + fs->block_size;
	}
	*eof = !full;
	if (full && used == 0)
		return -EINVAL;
	*cookie = pos;
	return (int)used;
}
