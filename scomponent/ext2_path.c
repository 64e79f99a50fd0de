/*
 * ext2: path walk and permission checks, with the rules of
 * include/proto/file.h.
 *
 * A walk starts at the export root, takes one component at a time and
 * needs search (x) permission on every directory it looks a name up in.
 * "." and empty components are skipped; ".." at the root is refused with
 * -EACCES (so nothing above the export root is reachable: every other
 * directory's ".." leads towards the root). A symlink met before the last
 * component, or as the last one when following, is replaced by its
 * target: the text of the link, then "/" and the rest of the path, built
 * in one of two scratch buffers (allocated at the first link); an
 * absolute target starts again at the root, a relative one at the link's
 * directory. More than FS_SYMLINK_DEPTH links give -ELOOP, an expansion
 * longer than FS_PATH_MAX -ENAMETOOLONG. Every step consumes a
 * component or a link, so a walk is bounded by the path's length and
 * the link budget, whatever the image holds.
 *
 * ext2_walk_parent stops before the last component and reports what the
 * name is (and where its entry sits) for the calls that change a
 * directory; the last component is never followed there.
 */
#include "ext2_impl.h"

#include <kernel/mm.h>

struct walker {
	struct ext2_fs *fs;
	const struct fs_cred *cred;
	uint32_t root;
	uint32_t dir;  /* directory the next component is looked up in */
	const char *p; /* the rest of the path */
	unsigned links;
	char *buf[2]; /* link expansions, FS_PATH_MAX each */
	unsigned cur;
};

bool ext2_in_group(const struct fs_cred *cred, uint32_t gid)
{
	uint32_t n = cred->ngroups < FS_NGROUPS ? cred->ngroups : FS_NGROUPS;

	if (cred->gid == gid)
		return true;
	for (uint32_t i = 0; i < n; i++)
		if (cred->groups[i] == gid)
			return true;
	return false;
}

int ext2_permission(const struct fs_cred *cred, const struct ext2_inode *ip, unsigned may)
{
	uint32_t bits;

	may &= FS_MAY_READ | FS_MAY_WRITE | FS_MAY_EXEC;
	if (cred->uid == 0) {
		/* Root needs some x bit to execute a file, never to search. */
		if ((may & FS_MAY_EXEC) && !ext2_is_dir(ip) && !(ip->mode & 0111))
			return -EACCES;
		return 0;
	}
	if (cred->uid == ip->uid)
		bits = ip->mode >> 6;
	else if (ext2_in_group(cred, ip->gid))
		bits = ip->mode >> 3;
	else
		bits = ip->mode;
	return (bits & may & 7) == may ? 0 : -EACCES;
}

bool ext2_sticky_ok(const struct fs_cred *cred, const struct ext2_inode *dir,
		    const struct ext2_inode *ip)
{
	return !(dir->mode & EXT2_S_ISVTX) || cred->uid == 0 || cred->uid == ip->uid ||
	       cred->uid == dir->uid;
}

int ext2_check_path(const char *path)
{
	if (!path || strnlen(path, FS_PATH_MAX) == FS_PATH_MAX || path[0] != '/')
		return -EINVAL;
	return 0;
}

/* The next component of w->p: its start and length; advances w->p past
 * it. Returns false at the end of the path. */
static bool next_component(struct walker *w, const char **name, size_t *len)
{
	const char *p = w->p;
	size_t n = 0;

	while (*p == '/')
		p++;
	if (!*p) {
		w->p = p;
		return false;
	}
	while (p[n] && p[n] != '/')
		n++;
	*name = p;
	*len = n;
	w->p = p + n;
	return true;
}

static bool only_slashes(const char *p)
{
	while (*p == '/')
		p++;
	return *p == '\0';
}

/* Loads w->dir, which must be a searchable directory. */
static int enter_dir(struct walker *w, struct ext2_inode *dir)
{
	int err = ext2_iget(w->fs, w->dir, dir);

	if (err)
		return err;
	if (!ext2_is_dir(dir))
		return -ENOTDIR;
	return ext2_permission(w->cred, dir, FS_MAY_EXEC);
}

/* Replaces the link ip (met in w->dir) by its target + "/" + rest. */
static int expand_link(struct walker *w, struct ext2_inode *ip)
{
	size_t rest = strlen(w->p);
	char *nb;
	int n;

	if (++w->links > FS_SYMLINK_DEPTH)
		return -ELOOP;
	if (!w->buf[0]) {
		w->buf[0] = kmalloc(2 * FS_PATH_MAX);
		if (!w->buf[0])
			return -ENOMEM;
		w->buf[1] = w->buf[0] + FS_PATH_MAX;
	}
	nb = w->buf[w->cur ^ 1];
	if (ip->size + 1 + rest + 1 > FS_PATH_MAX)
		return -ENAMETOOLONG;
	n = ext2_link_target(w->fs, ip, nb, FS_PATH_MAX);
	if (n < 0)
		return n;
	n = (int)strlen(nb); /* a NUL inside the target ends it */
	if (n == 0)
		return -ENOENT;
	if (rest) {
		nb[n] = '/';
		memcpy(nb + n + 1, w->p, rest + 1);
	}
	w->cur ^= 1;
	w->p = nb;
	if (nb[0] == '/')
		w->dir = w->root;
	return 0;
}

static int go_up(struct walker *w, struct ext2_inode *dir)
{
	uint32_t up;
	int err;

	if (w->dir == w->root)
		return -EACCES;
	err = ext2_dir_lookup(w->fs, dir, "..", 2, &up, NULL);
	if (err == -ENOENT)
		err = ext2_corrupt(w->fs, "directory without '..'");
	if (!err)
		w->dir = up;
	return err;
}

static enum ext2_last classify(const char *name, size_t len)
{
	if (len == 1 && name[0] == '.')
		return EXT2_LAST_DOT;
	if (len == 2 && name[0] == '.' && name[1] == '.')
		return EXT2_LAST_DOTDOT;
	return EXT2_LAST_NAME;
}

/* Fills out for the last component name, looked up in dir (w->dir). */
static int stop_at_parent(struct walker *w, struct ext2_inode *dir, const char *name,
			  size_t len, struct ext2_parent *out)
{
	int err = 0;

	out->dir = w->dir;
	out->kind = classify(name, len);
	memcpy(out->name, name, len);
	out->name[len] = '\0';
	out->len = len;
	out->ino = 0;
	if (out->kind == EXT2_LAST_NAME) {
		err = ext2_dir_lookup(w->fs, dir, name, len, &out->ino, &out->loc);
		if (err == -ENOENT) {
			out->ino = 0;
			err = 0;
		}
	}
	return err;
}

/*
 * The walk. With parent, stops before the last component (filling
 * parent); otherwise resolves everything and sets *ino.
 */
static int walk(struct walker *w, bool follow, struct ext2_parent *parent, uint32_t *ino)
{
	struct ext2_inode dir, child;
	const char *name;
	size_t len;

	for (;;) {
		uint32_t next;
		bool last;
		int err;

		if (!next_component(w, &name, &len))
			break;
		if (len > FS_NAME_MAX)
			return -ENAMETOOLONG;
		last = only_slashes(w->p);
		err = enter_dir(w, &dir);
		if (err)
			return err;
		if (last && parent)
			return stop_at_parent(w, &dir, name, len, parent);
		switch (classify(name, len)) {
		case EXT2_LAST_DOT:
			continue;
		case EXT2_LAST_DOTDOT:
			err = go_up(w, &dir);
			if (err)
				return err;
			continue;
		default:
			break;
		}
		err = ext2_dir_lookup(w->fs, &dir, name, len, &next, NULL);
		if (!err)
			err = ext2_iget(w->fs, next, &child);
		if (err)
			return err;
		if (ext2_is_lnk(&child) && (!last || follow)) {
			err = expand_link(w, &child);
			if (err)
				return err;
			continue;
		}
		if (last && *w->p == '/' && !ext2_is_dir(&child))
			return -ENOTDIR;
		w->dir = next;
	}
	/* No component left: the path names w->dir itself. */
	if (parent) {
		parent->dir = w->dir;
		parent->kind = EXT2_LAST_NONE;
		parent->name[0] = '\0';
		parent->len = 0;
		parent->ino = w->dir;
		return enter_dir(w, &dir);
	}
	*ino = w->dir;
	return 0;
}

static int walk_start(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		      const char *path, struct walker *w)
{
	struct ext2_inode ip;
	int err = ext2_check_path(path);

	if (err)
		return err;
	if (root == 0 || root > fs->inodes_count)
		return -EINVAL;
	err = ext2_iget(fs, root, &ip);
	if (err)
		return err;
	if (!ext2_is_dir(&ip))
		return -ENOTDIR;
	memset(w, 0, sizeof(*w));
	w->fs = fs;
	w->cred = cred;
	w->root = root;
	w->dir = root;
	w->p = path;
	return 0;
}

int ext2_walk(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
	      const char *path, bool follow, uint32_t *ino)
{
	struct walker w;
	int err = walk_start(fs, cred, root, path, &w);

	if (err)
		return err;
	err = walk(&w, follow, NULL, ino);
	kfree(w.buf[0]);
	return err;
}

int ext2_walk_parent(struct ext2_fs *fs, const struct fs_cred *cred, uint32_t root,
		     const char *path, struct ext2_parent *out)
{
	struct walker w;
	int err = walk_start(fs, cred, root, path, &w);

	if (err)
		return err;
	err = walk(&w, false, out, NULL);
	kfree(w.buf[0]);
	return err;
}
