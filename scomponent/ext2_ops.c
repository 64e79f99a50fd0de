/*
 * ext2: the calls of ext2.h, one per message of the file protocol.
 *
 * Each call decodes before it acts: it checks its arguments and the path,
 * walks (ext2_path.c), loads the inodes involved and checks every
 * permission and type rule of include/proto/file.h; only then does it
 * change anything. The changes of one call are ordered so that a failure
 * part way (-ENOSPC, -EIO) undoes what it can: a new inode is released
 * if its directory entry cannot be added; rename adds or retargets the
 * new name before it removes the old one.
 *
 * Policies: reads do not update atime (ext2 mounted noatime); writes and
 * truncates by non-root clear set-user-ID and set-group-ID (when group
 * executable), as Linux does; chown clears them on non-directories. New
 * files take the caller's uid, and the gid of a set-group-ID parent
 * directory (new directories then inherit the bit) or the caller's gid.
 */
#include "ext2_impl.h"

#include <kernel/mm.h>

static int begin(struct ext2_fs *fs, const struct fs_cred *cred, const char *path)
{
	fs->cred = cred;
	return cred ? ext2_check_path(path) : -EINVAL;
}

static int begin_change(struct ext2_fs *fs, const struct fs_cred *cred, const char *path)
{
	int err = begin(fs, cred, path);

	if (!err && fs->read_only)
		err = -EROFS;
	return err;
}

static void fill_attr(const struct ext2_fs *fs, const struct ext2_inode *ip,
		      struct fs_attr *attr)
{
	uint32_t type = ip->mode & FS_S_IFMT;

	if (!attr)
		return;
	memset(attr, 0, sizeof(*attr));
	attr->ino = ip->ino;
	attr->gen = ip->gen;
	attr->size = ip->size;
	attr->blocks = ip->blocks;
	attr->mode = ip->mode;
	attr->nlink = ip->links;
	attr->uid = ip->uid;
	attr->gid = ip->gid;
	attr->blksize = fs->block_size;
	if (type == FS_S_IFCHR || type == FS_S_IFBLK)
		attr->rdev = ip->block[0] ? ip->block[0] : ip->block[1];
	attr->atime = ip->atime;
	attr->mtime = ip->mtime;
	attr->ctime = ip->ctime;
}

/* Loads the file at path (following a final symlink if follow). */
static int load(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		const char *path, bool follow, struct ext2_inode *ip)
{
	uint32_t ino;
	int err = ext2_walk(fs, cred, root, path, follow, &ino);

	return err ? err : ext2_iget(fs, ino, ip);
}

/* Loads a regular file for I/O with access may. */
static int load_file(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		     const char *path, unsigned may, struct ext2_inode *ip)
{
	int err = load(fs, cred, root, path, true, ip);

	if (err)
		return err;
	if (ext2_is_dir(ip))
		return -EISDIR;
	if (!ext2_is_reg(ip))
		return -EINVAL;
	return ext2_permission(cred, ip, may);
}

/* Loads the parent directory of p, which the caller will change. */
static int load_parent(struct ext2_fs *fs, const struct fs_cred *cred,
		       const struct ext2_parent *p, struct ext2_inode *dir)
{
	int err = ext2_iget(fs, p->dir, dir);

	if (err)
		return err;
	if (!ext2_is_dir(dir))
		return -ENOTDIR;
	return ext2_permission(cred, dir, FS_MAY_WRITE | FS_MAY_EXEC);
}

/* A file changed by someone other than root loses set-ID bits. */
static void kill_suid(const struct fs_cred *cred, struct ext2_inode *ip)
{
	if (cred->uid == 0)
		return;
	ip->mode &= ~EXT2_S_ISUID;
	if (ip->mode & 0010)
		ip->mode &= ~EXT2_S_ISGID;
}

int ext2_resolve_dir(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		     const char *path, uint32_t *ino)
{
	struct ext2_inode ip;
	int err = begin(fs, cred, path);

	if (!err)
		err = load(fs, cred, root, path, true, &ip);
	if (err)
		return err;
	if (!ext2_is_dir(&ip))
		return -ENOTDIR;
	*ino = ip.ino;
	return 0;
}

int ext2_stat(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
	      const char *path, unsigned flags, unsigned may, struct fs_attr *attr)
{
	struct ext2_inode ip;
	int err = begin(fs, cred, path);

	if (!err)
		err = load(fs, cred, root, path, !(flags & FS_NOFOLLOW), &ip);
	if (err)
		return err;
	if ((may & FS_MAY_WRITE) && fs->read_only &&
	    (ext2_is_reg(&ip) || ext2_is_dir(&ip) || ext2_is_lnk(&ip)))
		return -EROFS;
	err = ext2_permission(cred, &ip, may);
	if (!err)
		fill_attr(fs, &ip, attr);
	return err;
}

/* ext2_read and ext2_read_direct; direct: buf_phys means something. */
static int read_file(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		     const char *path, uint64_t offset, void *buf, uint64_t buf_phys,
		     bool direct, uint32_t len, struct fs_attr *attr)
{
	struct ext2_inode ip;
	int n = begin(fs, cred, path);

	if (!n && len > FS_IO_MAX)
		n = -EINVAL;
	if (!n)
		n = load_file(fs, cred, root, path, FS_MAY_READ, &ip);
	if (n)
		return n;
	n = direct ? ext2_file_read_direct(fs, &ip, offset, buf, buf_phys, len)
		   : ext2_file_read(fs, &ip, offset, buf, len);
	if (n >= 0)
		fill_attr(fs, &ip, attr);
	return n;
}

int ext2_read(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
	      const char *path, uint64_t offset, void *buf, uint32_t len,
	      struct fs_attr *attr)
{
	return read_file(fs, cred, root, path, offset, buf, 0, false, len, attr);
}

int ext2_read_direct(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		     const char *path, uint64_t offset, void *buf, uint64_t buf_phys,
		     uint32_t len, struct fs_attr *attr)
{
	return read_file(fs, cred, root, path, offset, buf, buf_phys, true, len, attr);
}

int ext2_read_begin(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		    const char *path, uint64_t offset, void *buf, uint32_t len,
		    struct fs_attr *attr, struct ext2_split_read *sr)
{
	struct ext2_inode ip;
	int n = begin(fs, cred, path);

	if (!n)
		n = load_file(fs, cred, root, path, FS_MAY_READ, &ip);
	if (!n)
		n = ext2_file_read_begin(fs, &ip, offset, buf, len, sr); /* sets *sr */
	if (n >= 0)
		fill_attr(fs, &ip, attr);
	return n;
}

int ext2_read_fetch(struct ext2_fs *fs, struct ext2_split_read *sr, void *buf)
{
	uint32_t bs = fs->block_size;
	int err;

	if (!sr->n)
		return 0;
	sr->blocks = kmalloc((size_t)sr->n * bs);
	if (!sr->blocks)
		return -ENOMEM;
	err = bcache_fetch(fs->bc, sr->blk, sr->n, sr->blocks);
	if (err)
		return err;
	for (unsigned i = 0; i < sr->n; i++)
		memcpy((uint8_t *)buf + sr->part[i].dst,
		       sr->blocks + (size_t)i * bs + sr->part[i].boff, sr->part[i].len);
	sr->fetched = true;
	return 0;
}

int ext2_read_end(struct ext2_fs *fs, struct ext2_split_read *sr)
{
	int err = 0;

	if (sr->fetched)
		err = bcache_settle(fs->bc, &sr->ticket, sr->blk, sr->n, sr->blocks);
	kfree(sr->blocks);
	sr->blocks = NULL;
	sr->fetched = false;
	return err;
}

/* ext2_write and ext2_write_direct; direct: buf_phys means something. */
static int write_file(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		      const char *path, uint64_t offset, const void *buf,
		      uint64_t buf_phys, bool direct, uint32_t len, struct fs_attr *attr)
{
	struct ext2_inode ip;
	int n = begin_change(fs, cred, path);
	int err;

	if (!n && len > FS_IO_MAX)
		n = -EINVAL;
	if (!n)
		n = load_file(fs, cred, root, path, FS_MAY_WRITE, &ip);
	if (n)
		return n;
	if (len == 0) {
		fill_attr(fs, &ip, attr);
		return 0;
	}
	n = direct ? ext2_file_write_direct(fs, &ip, offset, buf, buf_phys, len)
		   : ext2_file_write(fs, &ip, offset, buf, len);
	ext2_touch(fs, &ip, true);
	kill_suid(cred, &ip);
	err = ext2_iput(fs, &ip);
	if (n >= 0 && err)
		n = err;
	if (n >= 0)
		fill_attr(fs, &ip, attr);
	return n;
}

int ext2_write(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
	       const char *path, uint64_t offset, const void *buf, uint32_t len,
	       struct fs_attr *attr)
{
	return write_file(fs, cred, root, path, offset, buf, 0, false, len, attr);
}

int ext2_write_direct(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		      const char *path, uint64_t offset, const void *buf,
		      uint64_t buf_phys, uint32_t len, struct fs_attr *attr)
{
	return write_file(fs, cred, root, path, offset, buf, buf_phys, true, len, attr);
}

/* Owner and mode bits of a new file in dir (see the top comment). */
static void new_owner(const struct fs_cred *cred, const struct ext2_inode *dir,
		      struct ext2_inode *ip)
{
	ip->uid = cred->uid;
	ip->gid = cred->gid;
	if (dir->mode & EXT2_S_ISGID) {
		ip->gid = dir->gid;
		if (ext2_is_dir(ip))
			ip->mode |= EXT2_S_ISGID;
	}
	if (!ext2_is_dir(ip) && (ip->mode & EXT2_S_ISGID) && cred->uid != 0 &&
	    !ext2_in_group(cred, ip->gid))
		ip->mode &= ~EXT2_S_ISGID;
}

/* Allocates and sets up the inode of a new file (mode with type) made in
 * dir; the caller sets the link count and stores it. */
static int new_inode(struct ext2_fs *fs, const struct fs_cred *cred,
		     const struct ext2_inode *dir, uint32_t mode, struct ext2_inode *ip)
{
	uint32_t ino;
	bool is_dir = (mode & FS_S_IFMT) == FS_S_IFDIR;
	int err = ext2_ialloc(fs, dir->ino, is_dir, &ino);

	if (err)
		return err;
	err = ext2_inew(fs, ino, mode, ip);
	if (err) {
		ext2_ifree(fs, ino, is_dir);
		return err;
	}
	new_owner(cred, dir, ip);
	return 0;
}

/* Gives the new inode ip its name in dir; on failure releases ip. */
static int link_new(struct ext2_fs *fs, struct ext2_inode *dir,
		    const struct ext2_parent *p, struct ext2_inode *ip)
{
	int err = ext2_iput(fs, ip);

	if (!err)
		err = ext2_dir_add(fs, dir, p->name, p->len, ip->ino,
				   ext2_mode_to_ft(ip->mode));
	if (err)
		goto release_inode;
	return 0;

release_inode:
	ip->links = 0;
	ext2_idelete(fs, ip);
	return err;
}

/* create of a name that exists: FS_TRUNC empties a regular file. */
static int open_existing(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
			 const char *path, const struct ext2_parent *p, unsigned flags,
			 struct fs_attr *attr)
{
	struct ext2_inode ip;
	int err;

	if (flags & FS_EXCL)
		return -EEXIST;
	err = ext2_iget(fs, p->ino, &ip);
	if (!err && ext2_is_lnk(&ip))
		err = load(fs, cred, root, path, true, &ip);
	if (err)
		return err;
	if (ext2_is_dir(&ip))
		return -EISDIR;
	if ((flags & FS_TRUNC) && ext2_is_reg(&ip)) {
		err = ext2_permission(cred, &ip, FS_MAY_WRITE);
		if (!err && ip.size)
			err = ext2_file_truncate(fs, &ip, 0);
		if (err)
			return err;
		ext2_touch(fs, &ip, true);
		kill_suid(cred, &ip);
		err = ext2_iput(fs, &ip);
	}
	if (!err)
		fill_attr(fs, &ip, attr);
	return err;
}

int ext2_create(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		const char *path, uint32_t mode, unsigned flags, struct fs_attr *attr)
{
	struct ext2_parent p;
	struct ext2_inode dir, ip;
	int err = begin_change(fs, cred, path);

	if (!err)
		err = ext2_walk_parent(fs, cred, root, path, &p);
	if (err)
		return err;
	if (p.kind != EXT2_LAST_NAME)
		return flags & FS_EXCL ? -EEXIST : -EISDIR;
	if (p.ino)
		return open_existing(fs, cred, root, path, &p, flags, attr);
	err = load_parent(fs, cred, &p, &dir);
	if (!err)
		err = new_inode(fs, cred, &dir, FS_S_IFREG | (mode & 07777), &ip);
	if (err)
		return err;
	ip.links = 1;
	err = link_new(fs, &dir, &p, &ip);
	if (!err)
		err = ext2_iput(fs, &dir);
	if (!err)
		fill_attr(fs, &ip, attr);
	return err;
}

int ext2_mkdir(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
	       const char *path, uint32_t mode, struct fs_attr *attr)
{
	struct ext2_parent p;
	struct ext2_inode dir, ip;
	int err = begin_change(fs, cred, path);

	if (!err)
		err = ext2_walk_parent(fs, cred, root, path, &p);
	if (err)
		return err;
	if (p.kind != EXT2_LAST_NAME || p.ino)
		return -EEXIST;
	err = load_parent(fs, cred, &p, &dir);
	if (!err && dir.links >= EXT2_LINK_MAX)
		err = -EMLINK;
	if (!err)
		err = new_inode(fs, cred, &dir, FS_S_IFDIR | (mode & 01777), &ip);
	if (err)
		return err;
	ip.links = 2;
	err = ext2_dir_init(fs, &ip, dir.ino);
	if (err)
		goto release_inode;
	err = link_new(fs, &dir, &p, &ip);
	if (!err) {
		dir.links++;
		err = ext2_iput(fs, &dir);
	}
	if (!err)
		fill_attr(fs, &ip, attr);
	return err;

release_inode:
	ip.links = 0;
	ext2_idelete(fs, &ip);
	return err;
}

/* One link of ip went away: frees it at the last. */
static int drop_link(struct ext2_fs *fs, struct ext2_inode *ip)
{
	if (ext2_is_dir(ip) || ip->links <= 1) {
		ip->links = 0;
		return ext2_idelete(fs, ip);
	}
	ip->links--;
	ext2_touch(fs, ip, false);
	return ext2_iput(fs, ip);
}

/* What unlink and rmdir share: the parent and the victim, checked. */
static int load_victim(struct ext2_fs *fs, const struct fs_cred *cred,
		       const struct ext2_parent *p, struct ext2_inode *dir,
		       struct ext2_inode *ip)
{
	int err = load_parent(fs, cred, p, dir);

	if (!err)
		err = ext2_iget(fs, p->ino, ip);
	if (!err && !ext2_sticky_ok(cred, dir, ip))
		err = -EPERM;
	return err;
}

int ext2_unlink(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		const char *path)
{
	struct ext2_parent p;
	struct ext2_inode dir, ip;
	int err = begin_change(fs, cred, path);

	if (!err)
		err = ext2_walk_parent(fs, cred, root, path, &p);
	if (err)
		return err;
	if (p.kind != EXT2_LAST_NAME)
		return -EISDIR;
	if (!p.ino)
		return -ENOENT;
	err = load_victim(fs, cred, &p, &dir, &ip);
	if (!err && ext2_is_dir(&ip))
		err = -EISDIR;
	if (!err)
		err = ext2_dir_remove(fs, &dir, &p.loc);
	if (err)
		return err;
	err = ext2_iput(fs, &dir);
	return err ? err : drop_link(fs, &ip);
}

static int rmdir_kind_error(enum ext2_last kind)
{
	switch (kind) {
	case EXT2_LAST_DOT:
		return -EINVAL;
	case EXT2_LAST_DOTDOT:
		return -ENOTEMPTY;
	default:
		return -EBUSY;
	}
}

int ext2_rmdir(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
	       const char *path)
{
	struct ext2_parent p;
	struct ext2_inode dir, ip;
	int err = begin_change(fs, cred, path);

	if (!err)
		err = ext2_walk_parent(fs, cred, root, path, &p);
	if (err)
		return err;
	if (p.kind != EXT2_LAST_NAME)
		return rmdir_kind_error(p.kind);
	if (!p.ino)
		return -ENOENT;
	err = load_victim(fs, cred, &p, &dir, &ip);
	if (!err && !ext2_is_dir(&ip))
		err = -ENOTDIR;
	if (!err && (ip.ino == root || ip.ino == EXT2_ROOT_INO))
		err = -EBUSY;
	if (!err) {
		err = ext2_dir_empty(fs, &ip);
		err = err == 0 ? -ENOTEMPTY : (err < 0 ? err : 0);
	}
	if (!err)
		err = ext2_dir_remove(fs, &dir, &p.loc);
	if (err)
		return err;
	if (dir.links > 2)
		dir.links--;
	err = ext2_iput(fs, &dir);
	return err ? err : drop_link(fs, &ip);
}

/* --- rename ---------------------------------------------------------------- */

struct rename_ctx {
	struct ext2_parent from, to;
	struct ext2_inode sdir, ddir_own, src, dst;
	struct ext2_inode *ddir; /* &sdir when both names share a directory */
	bool moving_dir;	 /* src is a directory changing parent */
};

/* -EINVAL if directory dir is anc or lies below it (walks ".." up). */
static int check_not_below(struct ext2_fs *fs, uint32_t dir, uint32_t anc)
{
	uint32_t cur = dir;

	for (uint32_t steps = 0; steps <= fs->inodes_count; steps++) {
		struct ext2_inode ip;
		uint32_t up;
		int err;

		if (cur == anc)
			return -EINVAL;
		if (cur == EXT2_ROOT_INO)
			return 0;
		err = ext2_iget(fs, cur, &ip);
		if (!err && !ext2_is_dir(&ip))
			err = ext2_corrupt(fs, "'..' is not a directory");
		if (!err)
			err = ext2_dir_lookup(fs, &ip, "..", 2, &up, NULL);
		if (err)
			return err == -ENOENT ? ext2_corrupt(fs, "directory without '..'")
					      : err;
		cur = up;
	}
	return ext2_corrupt(fs, "loop in the directory tree");
}

static int rename_kind_error(enum ext2_last kind)
{
	return kind == EXT2_LAST_NONE ? -EBUSY : -EINVAL;
}

/* The rules of rename(2) for an existing target. */
static int check_target(struct ext2_fs *fs, const struct fs_cred *cred,
			struct rename_ctx *c)
{
	int err = ext2_iget(fs, c->to.ino, &c->dst);

	if (err)
		return err;
	if (!ext2_sticky_ok(cred, c->ddir, &c->dst))
		return -EPERM;
	if (ext2_is_dir(&c->src)) {
		if (!ext2_is_dir(&c->dst))
			return -ENOTDIR;
		err = ext2_dir_empty(fs, &c->dst);
		return err == 0 ? -ENOTEMPTY : (err < 0 ? err : 0);
	}
	return ext2_is_dir(&c->dst) ? -EISDIR : 0;
}

static int check_rename(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
			struct rename_ctx *c)
{
	int err = load_parent(fs, cred, &c->from, &c->sdir);

	c->ddir = &c->sdir;
	if (!err && c->to.dir != c->from.dir) {
		c->ddir = &c->ddir_own;
		err = load_parent(fs, cred, &c->to, c->ddir);
	}
	if (!err)
		err = ext2_iget(fs, c->from.ino, &c->src);
	if (!err && !ext2_sticky_ok(cred, &c->sdir, &c->src))
		err = -EPERM;
	if (err || c->to.ino == c->from.ino)
		return err;
	if (ext2_is_dir(&c->src) && (c->src.ino == root || c->src.ino == EXT2_ROOT_INO))
		return -EBUSY;
	if (c->to.ino)
		err = check_target(fs, cred, c);
	c->moving_dir = ext2_is_dir(&c->src) && c->to.dir != c->from.dir;
	if (!err && c->moving_dir)
		err = ext2_permission(cred, &c->src, FS_MAY_WRITE);
	if (!err && c->moving_dir)
		err = check_not_below(fs, c->to.dir, c->src.ino);
	if (!err && c->moving_dir && !c->to.ino && c->ddir->links >= EXT2_LINK_MAX)
		err = -EMLINK;
	return err;
}

/* The new name points to src; then the old name goes. */
static int move_name(struct ext2_fs *fs, struct rename_ctx *c)
{
	unsigned ft = ext2_mode_to_ft(c->src.mode);
	struct ext2_dirloc loc;
	uint32_t ino;
	int err;

	if (c->to.ino)
		err = ext2_dir_retarget(fs, c->ddir, &c->to.loc, c->src.ino, ft);
	else
		err = ext2_dir_add(fs, c->ddir, c->to.name, c->to.len, c->src.ino, ft);
	if (err)
		return err;
	/* Adding may have split records of the same block: look again. */
	err = ext2_dir_lookup(fs, &c->sdir, c->from.name, c->from.len, &ino, &loc);
	if (!err && ino != c->src.ino)
		err = ext2_corrupt(fs, "rename source changed");
	if (!err)
		err = ext2_dir_remove(fs, &c->sdir, &loc);
	return err;
}

/* Link counts and ".." after the names moved. */
static int fix_links(struct ext2_fs *fs, struct rename_ctx *c)
{
	int err = 0;

	if (c->moving_dir) {
		err = ext2_dir_set_parent(fs, &c->src, c->ddir->ino);
		if (c->sdir.links > 2)
			c->sdir.links--;
		c->ddir->links++;
	}
	if (!err && c->to.ino && ext2_is_dir(&c->dst) && c->ddir->links > 2)
		c->ddir->links--;
	ext2_touch(fs, &c->src, false);
	if (!err)
		err = ext2_iput(fs, &c->src);
	if (!err)
		err = ext2_iput(fs, &c->sdir);
	if (!err && c->ddir != &c->sdir)
		err = ext2_iput(fs, c->ddir);
	if (!err && c->to.ino)
		err = drop_link(fs, &c->dst);
	return err;
}

int ext2_rename(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		const char *from, const char *to)
{
	struct rename_ctx c;
	int err = begin_change(fs, cred, from);

	if (!err)
		err = ext2_check_path(to);
	if (!err)
		err = ext2_walk_parent(fs, cred, root, from, &c.from);
	if (!err)
		err = ext2_walk_parent(fs, cred, root, to, &c.to);
	if (err)
		return err;
	if (c.from.kind != EXT2_LAST_NAME)
		return rename_kind_error(c.from.kind);
	if (c.to.kind != EXT2_LAST_NAME)
		return rename_kind_error(c.to.kind);
	if (!c.from.ino)
		return -ENOENT;
	err = check_rename(fs, cred, root, &c);
	if (err || c.to.ino == c.from.ino)
		return err;
	err = move_name(fs, &c);
	if (err) {
		/* The add failed (nothing moved) or the image is corrupt. */
		ext2_iput(fs, &c.sdir);
		if (c.ddir != &c.sdir)
			ext2_iput(fs, c.ddir);
		return err;
	}
	return fix_links(fs, &c);
}

/* --- link, symlink, readlink ---------------------------------------------- */

/* Parent of a name that must not exist yet, ready to change. */
static int load_new_parent(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
			   const char *path, struct ext2_parent *p,
			   struct ext2_inode *dir)
{
	int err = ext2_walk_parent(fs, cred, root, path, p);

	if (err)
		return err;
	if (p->kind != EXT2_LAST_NAME || p->ino)
		return -EEXIST;
	return load_parent(fs, cred, p, dir);
}

int ext2_link(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
	      const char *oldpath, const char *newpath, struct fs_attr *attr)
{
	struct ext2_parent p;
	struct ext2_inode dir, ip;
	int err = begin_change(fs, cred, oldpath);

	if (!err)
		err = ext2_check_path(newpath);
	if (!err)
		err = load(fs, cred, root, oldpath, false, &ip);
	if (!err && ext2_is_dir(&ip))
		err = -EPERM;
	if (!err && ip.links >= EXT2_LINK_MAX)
		err = -EMLINK;
	if (!err)
		err = load_new_parent(fs, cred, root, newpath, &p, &dir);
	if (!err)
		err = ext2_dir_add(fs, &dir, p.name, p.len, ip.ino,
				   ext2_mode_to_ft(ip.mode));
	if (err)
		return err;
	err = ext2_iput(fs, &dir);
	ip.links++;
	ext2_touch(fs, &ip, false);
	if (!err)
		err = ext2_iput(fs, &ip);
	if (!err)
		fill_attr(fs, &ip, attr);
	return err;
}

int ext2_symlink(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		 const char *target, const char *linkpath, struct fs_attr *attr)
{
	struct ext2_parent p;
	struct ext2_inode dir, ip;
	size_t len;
	int err = begin_change(fs, cred, linkpath);

	if (err)
		return err;
	if (!target || (len = strnlen(target, FS_PATH_MAX)) == FS_PATH_MAX)
		return -EINVAL;
	if (len == 0)
		return -ENOENT;
	if (len >= fs->block_size)
		return -ENAMETOOLONG;
	err = load_new_parent(fs, cred, root, linkpath, &p, &dir);
	if (!err)
		err = new_inode(fs, cred, &dir, FS_S_IFLNK | 0777, &ip);
	if (err)
		return err;
	ip.links = 1;
	err = ext2_link_store(fs, &ip, target, len);
	if (err)
		goto release_inode;
	err = link_new(fs, &dir, &p, &ip);
	if (!err)
		err = ext2_iput(fs, &dir);
	if (!err)
		fill_attr(fs, &ip, attr);
	return err;

release_inode:
	ip.links = 0;
	ext2_idelete(fs, &ip);
	return err;
}

int ext2_readlink(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		  const char *path, char *buf, size_t cap)
{
	struct ext2_inode ip;
	int err = begin(fs, cred, path);

	if (!err)
		err = load(fs, cred, root, path, false, &ip);
	if (err)
		return err;
	if (!ext2_is_lnk(&ip))
		return -EINVAL;
	return ext2_link_target(fs, &ip, buf, cap);
}

/* --- truncate, setattr, getdents ------------------------------------------ */

int ext2_truncate(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		  const char *path, uint64_t size, struct fs_attr *attr)
{
	struct ext2_inode ip;
	int err = begin_change(fs, cred, path);

	if (!err)
		err = load_file(fs, cred, root, path, FS_MAY_WRITE, &ip);
	if (err)
		return err;
	if (size != ip.size) {
		err = ext2_file_truncate(fs, &ip, size);
		ext2_touch(fs, &ip, true);
		kill_suid(cred, &ip);
		if (ext2_iput(fs, &ip) && !err)
			err = -EIO;
	}
	if (!err)
		fill_attr(fs, &ip, attr);
	return err;
}

/* Whether cred may make the changes of setattr to ip (chmod, chown and
 * utimes rules of Linux). */
static int may_setattr(const struct fs_cred *cred, const struct ext2_inode *ip,
		       unsigned valid, uint32_t uid, uint32_t gid)
{
	bool root = cred->uid == 0;
	bool owner = root || cred->uid == ip->uid;

	if ((valid & (FS_SET_MODE | FS_SET_ATIME | FS_SET_MTIME)) && !owner)
		return -EPERM;
	if ((valid & FS_SET_UID) && !root && uid != ip->uid)
		return -EPERM;
	if ((valid & FS_SET_GID) && !root &&
	    (!owner || (gid != ip->gid && !ext2_in_group(cred, gid))))
		return -EPERM;
	return 0;
}

static void apply_setattr(const struct fs_cred *cred, struct ext2_inode *ip,
			  unsigned valid, uint32_t mode, uint32_t uid, uint32_t gid,
			  int64_t atime, int64_t mtime)
{
	bool chown = ((valid & FS_SET_UID) && uid != ip->uid) ||
		     ((valid & FS_SET_GID) && gid != ip->gid);

	if (valid & FS_SET_UID)
		ip->uid = uid;
	if (valid & FS_SET_GID)
		ip->gid = gid;
	if (valid & FS_SET_MODE) {
		ip->mode = (ip->mode & FS_S_IFMT) | (mode & 07777);
		if (cred->uid != 0 && !ext2_in_group(cred, ip->gid))
			ip->mode &= ~EXT2_S_ISGID;
	} else if (chown && !ext2_is_dir(ip)) {
		ip->mode &= ~EXT2_S_ISUID;
		if (ip->mode & 0010)
			ip->mode &= ~EXT2_S_ISGID;
	}
	if (valid & FS_SET_ATIME)
		ip->atime = atime;
	if (valid & FS_SET_MTIME)
		ip->mtime = mtime;
}

int ext2_setattr(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		 const char *path, unsigned flags, unsigned valid, uint32_t mode,
		 uint32_t uid, uint32_t gid, int64_t atime, int64_t mtime,
		 struct fs_attr *attr)
{
	struct ext2_inode ip;
	int err = begin_change(fs, cred, path);

	if (!err)
		err = load(fs, cred, root, path, !(flags & FS_NOFOLLOW), &ip);
	if (!err)
		err = may_setattr(cred, &ip, valid, uid, gid);
	if (err)
		return err;
	apply_setattr(cred, &ip, valid, mode, uid, gid, atime, mtime);
	ext2_touch(fs, &ip, false);
	err = ext2_iput(fs, &ip);
	if (!err)
		fill_attr(fs, &ip, attr);
	return err;
}

int ext2_getdents(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		  const char *path, uint64_t *cookie, void *buf, size_t cap, bool *eof)
{
	struct ext2_inode ip;
	int err = begin(fs, cred, path);

	if (!err)
		err = load(fs, cred, root, path, true, &ip);
	if (err)
		return err;
	if (!ext2_is_dir(&ip))
		return -ENOTDIR;
	err = ext2_permission(cred, &ip, FS_MAY_READ);
	if (err)
		return err;
	return ext2_dir_list(fs, &ip, cookie, buf, cap, eof);
}
