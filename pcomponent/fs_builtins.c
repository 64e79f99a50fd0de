/*
 * File builtins of the processor: the files of this node's storage node
 * (kconfig.storage_id, from storage= that `tessera up` writes), through
 * the file client (net/fs_client.c), for `tessera run` until user
 * programs arrive. docs/storage.md lists them.
 *
 * They behave like their coreutils namesakes where they share a name:
 * arguments checked first (a bad one: usage on stderr, exit 2), errors as
 * "cat: /x: No such file or directory" on stderr with exit status 1, and
 * the other arguments still processed. Paths are as the vNode sees them
 * (from its root, see docs/manifest.md). New files get mode 0644 and
 * directories 0755 (umask 022).
 *
 * Credentials: uid 0, gid 0, unless run through `as UID[:GID] CMD ...`,
 * which runs file builtin CMD with those (GID defaults to UID; no
 * supplementary groups). Each file builtin is a function of (run, cred,
 * argc, argv) in the table `fs_cmds`; the hostlink entry points fsb_*
 * call it with root's credentials.
 *
 * write and sum move file data in window buffers (fsc_write_win,
 * fsc_read_win: the storage node reads or writes them by RDMA, no copy)
 * of CHUNK bytes. The pattern `write` puts in a file, byte i of it:
 *
 *     ((i mod 251) + 13 * (i div 4096) + 7 * SEED) mod 256
 *
 * (a different value for every 4 KiB block within 251 MiB, so a block
 * written or read at the wrong place shows), and the checksum both print
 * is CRC-32 (IEEE 802.3, as zlib's crc32(), e.g. Python's zlib.crc32), so
 * a test can compute both independently on the host.
 */
#include "fs_builtins.h"

#include <kernel/config.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/time.h>
#include <lib/cmdline.h>
#include <lib/string.h>
#include <net/fs_client.h>
#include <net/verbs.h>

#define CHUNK	      (1u << 20) /* write/sum window buffer */
#define CAT_CHUNK     (64u << 10)
#define LS_MAX	      4096 /* entries ls sorts; more are listed unsorted */
#define FILE_MODE     0644u
#define DIR_MODE      0755u
#define PATTERN_BLOCK 4096u
#define PATTERN_MOD   251u

typedef int (*fs_cmd_fn)(struct hostlink_run *run, const struct fs_cred *cred, int argc,
			 char **argv);

/* ---- helpers ------------------------------------------------------------------- */

/* "PROG: WHAT: Message" on stderr; returns 1 (the exit status). */
static int fail(struct hostlink_run *run, const char *prog, const char *what, int err)
{
	hostlink_eprintf(run, "%s: %s: %s\n", prog, what, errno_message(err));
	return 1;
}

static int usage(struct hostlink_run *run, const char *text)
{
	hostlink_eprintf(run, "usage: %s\n", text);
	return 2;
}

/* The storage node, or 0 after saying why there is none. */
static uint16_t server(struct hostlink_run *run, const char *prog)
{
	if (!kconfig.storage_id)
		hostlink_eprintf(run,
				 "%s: no storage node (storage= is not on this node's "
				 "command line: is it in a vNode?)\n",
				 prog);
	return (uint16_t)kconfig.storage_id;
}

/* SIZE: decimal or 0x, with an optional K, M or G (binary) suffix. */
static bool parse_size(const char *s, uint64_t *out)
{
	size_t len = strlen(s);
	unsigned shift = 0;
	uint64_t v;

	if (len > 1) {
		const char *units = "KkMmGg", *u = strchr(units, s[len - 1]);

		if (u && *u) {
			shift = 10 * (1 + (unsigned)(u - units) / 2);
			len--;
		}
	}
	if (!cmdline_parse_u64(s, len, &v) || v > (UINT64_MAX >> shift))
		return false;
	*out = v << shift;
	return true;
}

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

/* CRC-32 of buf continued from crc (start with 0), as zlib's crc32(). */
static uint32_t crc32_update(uint32_t crc, const uint8_t *buf, size_t len)
{
	if (!crc_table[1])
		crc_init(); /* idempotent: racing callers write the same values */
	crc = ~crc;
	for (size_t i = 0; i < len; i++)
		crc = crc_table[(crc ^ buf[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* Bytes [pos, pos + len) of the pattern for seed into buf. */
static void pattern_fill(uint8_t *buf, uint64_t pos, size_t len, unsigned seed)
{
	size_t i = 0;

	while (i < len) {
		uint64_t at = pos + i;
		uint64_t block = at / PATTERN_BLOCK;
		size_t n = PATTERN_BLOCK - (size_t)(at % PATTERN_BLOCK);
		uint8_t base = (uint8_t)(13 * block + 7 * seed);
		unsigned r = (unsigned)(at % PATTERN_MOD);

		if (n > len - i)
			n = len - i;
		for (size_t k = 0; k < n; k++) {
			buf[i + k] = (uint8_t)(r + base);
			if (++r == PATTERN_MOD)
				r = 0;
		}
		i += n;
	}
}

/* "rwxr-xr-x" with the type letter before it. */
static void mode_string(uint32_t mode, char out[11])
{
	static const char *const rwx = "rwxrwxrwx";
	uint32_t type = mode & FS_S_IFMT;

	out[0] = type == FS_S_IFDIR    ? 'd'
		 : type == FS_S_IFLNK  ? 'l'
		 : type == FS_S_IFCHR  ? 'c'
		 : type == FS_S_IFBLK  ? 'b'
		 : type == FS_S_IFIFO  ? 'p'
		 : type == FS_S_IFSOCK ? 's'
				       : '-';
	for (int i = 0; i < 9; i++)
		out[1 + i] = mode & (0400u >> i) ? rwx[i] : '-';
	if (mode & 04000)
		out[3] = mode & 0100 ? 's' : 'S';
	if (mode & 02000)
		out[6] = mode & 0010 ? 's' : 'S';
	if (mode & 01000)
		out[9] = mode & 0001 ? 't' : 'T';
	out[10] = '\0';
}

static const char *type_name(uint32_t mode)
{
	switch (mode & FS_S_IFMT) {
	case FS_S_IFREG:
		return "regular file";
	case FS_S_IFDIR:
		return "directory";
	case FS_S_IFLNK:
		return "symbolic link";
	case FS_S_IFCHR:
		return "character special file";
	case FS_S_IFBLK:
		return "block special file";
	case FS_S_IFIFO:
		return "fifo";
	case FS_S_IFSOCK:
		return "socket";
	default:
		return "unknown";
	}
}

/* dir + "/" + name into out (cap bytes); false if it does not fit. */
static bool join(char *out, size_t cap, const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	bool slash = dl && dir[dl - 1] == '/';

	if (dl + !slash + nl + 1 > cap)
		return false;
	memcpy(out, dir, dl);
	if (!slash)
		out[dl++] = '/';
	memcpy(out + dl, name, nl + 1);
	return true;
}

/* ---- ls ------------------------------------------------------------------------ */

struct ls_entry {
	char *name;
	uint8_t type;
};

/* One line of ls: name, and with lng its attributes. dir: the directory
 * name is in, or NULL when name is a path of its own. */
static void ls_print(struct hostlink_run *run, const struct fs_cred *cred, uint16_t srv,
		     const char *dir, const char *name, bool lng)
{
	char mode[11], target[256];
	char *path = NULL;
	struct fs_attr a;
	int err = 0;

	if (!lng) {
		hostlink_printf(run, "%s\n", name);
		return;
	}
	if (dir) {
		path = kmalloc(FS_PATH_MAX);
		if (!path)
			err = -ENOMEM;
		else if (!join(path, FS_PATH_MAX, dir, name))
			err = -ENAMETOOLONG;
	}
	if (!err)
		err = fsc_stat(srv, cred, dir ? path : name, FS_NOFOLLOW, 0, &a);
	if (err) {
		hostlink_printf(run, "?????????? ? ? ? ? %s (%s)\n", name,
				errno_message(err));
		kfree(path);
		return;
	}
	mode_string(a.mode, mode);
	hostlink_printf(run, "%s %3u %5u %5u %10llu %s", mode, a.nlink, a.uid, a.gid,
			(unsigned long long)a.size, name);
	if ((a.mode & FS_S_IFMT) == FS_S_IFLNK &&
	    fsc_readlink(srv, cred, dir ? path : name, target, sizeof(target)) >= 0)
		hostlink_printf(run, " -> %s", target);
	hostlink_printf(run, "\n");
	kfree(path);
}

static void ls_sort(struct ls_entry *e, unsigned n)
{
	for (unsigned gap = n / 2; gap; gap /= 2)
		for (unsigned i = gap; i < n; i++)
			for (unsigned j = i;
			     j >= gap && strcmp(e[j - gap].name, e[j].name) > 0;
			     j -= gap) {
				struct ls_entry t = e[j];

				e[j] = e[j - gap];
				e[j - gap] = t;
			}
}

/* Lists directory dir (names not starting with '.'), sorted. */
static int ls_dir(struct hostlink_run *run, const struct fs_cred *cred, uint16_t srv,
		  const char *dir, bool lng)
{
	struct fs_dirents *d = kmalloc(sizeof(*d));
	struct ls_entry *list = kmalloc(LS_MAX * sizeof(*list));
	uint64_t cookie = 0;
	unsigned n = 0;
	int err = d && list ? 0 : -ENOMEM;

	while (!err) {
		err = fsc_getdents(srv, cred, dir, &cookie, d);
		for (uint32_t off = 0; !err && off + 19 < d->bytes;) {
			uint16_t reclen;
			uint8_t type = d->data[off + 18];
			const char *name = (const char *)d->data + off + 19;

			memcpy(&reclen, d->data + off + 16, 2);
			if (reclen < 20 || off + reclen > d->bytes ||
			    !memchr(name, '\0', reclen - 19)) {
				err = -EPROTO;
				break;
			}
			off += reclen;
			if (name[0] == '.')
				continue;
			if (n < LS_MAX) {
				list[n].name = kmalloc(strlen(name) + 1);
				if (!list[n].name) {
					err = -ENOMEM;
					break;
				}
				memcpy(list[n].name, name, strlen(name) + 1);
				list[n++].type = type;
			} else {
				ls_print(run, cred, srv, dir, name,
					 lng); /* beyond LS_MAX */
			}
		}
		if (err || d->eof)
			break;
	}
	if (err)
		fail(run, "ls", dir, err);
	ls_sort(list, n);
	for (unsigned i = 0; i < n; i++) {
		if (!err)
			ls_print(run, cred, srv, dir, list[i].name, lng);
		kfree(list[i].name);
	}
	kfree(list);
	kfree(d);
	return err ? 1 : 0;
}

static int cmd_ls(struct hostlink_run *run, const struct fs_cred *cred, int argc,
		  char **argv)
{
	bool lng = false;
	int i = 1, status = 0;
	uint16_t srv;

	if (argc > 1 && !strcmp(argv[1], "-l")) {
		lng = true;
		i = 2;
	}
	for (int k = i; k < argc; k++)
		if (argv[k][0] == '-')
			return usage(run, "ls [-l] [PATH...]");
	srv = server(run, "ls");
	if (!srv)
		return 1;
	for (int k = i; k < argc || k == i; k++) {
		const char *path = k < argc ? argv[k] : "/";
		struct fs_attr a;
		int err = fsc_stat(srv, cred, path, 0, 0, &a);

		if (err) {
			hostlink_eprintf(run, "ls: cannot access '%s': %s\n", path,
					 errno_message(err));
			status = 1;
			continue;
		}
		if (argc - i > 1)
			hostlink_printf(run, "%s:\n", path);
		if ((a.mode & FS_S_IFMT) == FS_S_IFDIR)
			status |= ls_dir(run, cred, srv, path, lng);
		else
			ls_print(run, cred, srv, NULL, path, lng);
		if (k < argc - 1)
			hostlink_printf(run, "\n");
	}
	return status;
}

/* ---- cat, stat, df ---------------------------------------------------------------- */

static int cmd_cat(struct hostlink_run *run, const struct fs_cred *cred, int argc,
		   char **argv)
{
	uint8_t *buf;
	int status = 0;
	uint16_t srv;

	if (argc < 2)
		return usage(run, "cat PATH...");
	srv = server(run, "cat");
	if (!srv)
		return 1;
	buf = kmalloc(CAT_CHUNK);
	if (!buf)
		return fail(run, "cat", argv[1], -ENOMEM);
	for (int i = 1; i < argc; i++) {
		uint64_t off = 0;
		long n;

		do {
			n = fsc_read(srv, cred, argv[i], off, buf, CAT_CHUNK);
			if (n > 0)
				hostlink_write(run, 1, (const char *)buf, (size_t)n);
			off += n > 0 ? (uint64_t)n : 0;
		} while (n == CAT_CHUNK);
		if (n < 0)
			status = fail(run, "cat", argv[i], (int)n);
	}
	kfree(buf);
	return status;
}

static int cmd_stat(struct hostlink_run *run, const struct fs_cred *cred, int argc,
		    char **argv)
{
	int status = 0;
	uint16_t srv;

	if (argc < 2)
		return usage(run, "stat PATH...");
	srv = server(run, "stat");
	if (!srv)
		return 1;
	for (int i = 1; i < argc; i++) {
		struct fs_attr a;
		char mode[11];
		int err = fsc_stat(srv, cred, argv[i], FS_NOFOLLOW, 0, &a);

		if (err) {
			hostlink_eprintf(run, "stat: cannot stat '%s': %s\n", argv[i],
					 errno_message(err));
			status = 1;
			continue;
		}
		mode_string(a.mode, mode);
		hostlink_printf(run, "  File: %s\n", argv[i]);
		hostlink_printf(run,
				"  Size: %-15llu Blocks: %-10llu IO Block: %-6u %s\n",
				(unsigned long long)a.size, (unsigned long long)a.blocks,
				a.blksize, type_name(a.mode));
		hostlink_printf(run, "Inode: %-15llu Links: %u\n",
				(unsigned long long)a.ino, a.nlink);
		hostlink_printf(run, "Access: (%04o/%s)  Uid: (%5u)   Gid: (%5u)\n",
				a.mode & 07777, mode, a.uid, a.gid);
		hostlink_printf(run, "Access: %lld\nModify: %lld\nChange: %lld\n",
				(long long)a.atime, (long long)a.mtime,
				(long long)a.ctime);
	}
	return status;
}

static int cmd_df(struct hostlink_run *run, const struct fs_cred *cred, int argc,
		  char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/";
	struct fs_statfs st;
	uint64_t total, used, avail;
	uint16_t srv;
	int err;

	if (argc > 2)
		return usage(run, "df [PATH]");
	srv = server(run, "df");
	if (!srv)
		return 1;
	err = fsc_statfs(srv, cred, path, &st);
	if (err)
		return fail(run, "df", path, err);
	total = st.blocks * st.bsize / 1024;
	used = (st.blocks - st.bfree) * st.bsize / 1024;
	avail = st.bavail * st.bsize / 1024;
	hostlink_printf(run, "%-12s %10s %10s %10s %4s %s\n", "Filesystem", "1K-blocks",
			"Used", "Available", "Use%", "Mounted on");
	hostlink_printf(run, "%-12s %10llu %10llu %10llu %3llu%% %s\n", "storage",
			(unsigned long long)total, (unsigned long long)used,
			(unsigned long long)avail,
			(unsigned long long)(used + avail ? (used * 100 + used + avail -
							     1) / (used + avail)
							  : 0),
			"/");
	hostlink_printf(run,
			"inodes: %llu, free %llu; block size %u; names up to %u bytes\n",
			(unsigned long long)st.files, (unsigned long long)st.ffree,
			st.bsize, st.namelen);
	return 0;
}

/* ---- changes -------------------------------------------------------------------- */

/* mkdir -p: each missing ancestor of path, then path; existing
 * directories are fine. Returns 0 or the first error. */
static int mkdir_parents(uint16_t srv, const struct fs_cred *cred, const char *path)
{
	char prefix[FS_PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(prefix))
		return -ENAMETOOLONG;
	for (size_t i = 1; i <= len; i++) {
		struct fs_attr attr;
		int err;

		if (i < len && path[i] != '/')
			continue;
		memcpy(prefix, path, i);
		prefix[i] = '\0';
		err = fsc_mkdir(srv, cred, prefix, DIR_MODE, NULL);
		if (err == -EEXIST)
			err = fsc_stat(srv, cred, prefix, 0, 0, &attr)
				      ?: ((attr.mode & FS_S_IFMT) == FS_S_IFDIR
						  ? 0
						  : -ENOTDIR);
		if (err)
			return err;
	}
	return 0;
}

static int cmd_mkdir(struct hostlink_run *run, const struct fs_cred *cred, int argc,
		     char **argv)
{
	bool parents = argc > 1 && strcmp(argv[1], "-p") == 0;
	int status = 0;
	uint16_t srv;

	if (argc < 2 + parents)
		return usage(run, "mkdir [-p] PATH...");
	srv = server(run, "mkdir");
	if (!srv)
		return 1;
	for (int i = 1 + parents; i < argc; i++) {
		int err = parents ? mkdir_parents(srv, cred, argv[i])
				  : fsc_mkdir(srv, cred, argv[i], DIR_MODE, NULL);

		if (err) {
			hostlink_eprintf(run, "mkdir: cannot create directory '%s': %s\n",
					 argv[i], errno_message(err));
			status = 1;
		}
	}
	return status;
}

/* rm and rmdir: one call per path. */
static int remove_each(struct hostlink_run *run, const struct fs_cred *cred, int argc,
		       char **argv, bool dir)
{
	const char *prog = dir ? "rmdir" : "rm";
	int status = 0;
	uint16_t srv;

	if (argc < 2)
		return usage(run, dir ? "rmdir DIR..." : "rm PATH...");
	srv = server(run, prog);
	if (!srv)
		return 1;
	for (int i = 1; i < argc; i++) {
		int err = dir ? fsc_rmdir(srv, cred, argv[i])
			      : fsc_unlink(srv, cred, argv[i]);

		if (err) {
			hostlink_eprintf(run, "%s: %s '%s': %s\n", prog,
					 dir ? "failed to remove" : "cannot remove",
					 argv[i], errno_message(err));
			status = 1;
		}
	}
	return status;
}

static int cmd_rmdir(struct hostlink_run *run, const struct fs_cred *cred, int argc,
		     char **argv)
{
	return remove_each(run, cred, argc, argv, true);
}

static int cmd_rm(struct hostlink_run *run, const struct fs_cred *cred, int argc,
		  char **argv)
{
	return remove_each(run, cred, argc, argv, false);
}

static int cmd_mv(struct hostlink_run *run, const struct fs_cred *cred, int argc,
		  char **argv)
{
	uint16_t srv;
	int err;

	if (argc != 3)
		return usage(run, "mv FROM TO");
	srv = server(run, "mv");
	if (!srv)
		return 1;
	err = fsc_rename(srv, cred, argv[1], argv[2]);
	if (err) {
		hostlink_eprintf(run, "mv: cannot move '%s' to '%s': %s\n", argv[1],
				 argv[2], errno_message(err));
		return 1;
	}
	return 0;
}

static int cmd_ln(struct hostlink_run *run, const struct fs_cred *cred, int argc,
		  char **argv)
{
	bool sym = argc == 4 && !strcmp(argv[1], "-s");
	uint16_t srv;
	int err;

	if (argc != 3 && !sym)
		return usage(run, "ln [-s] TARGET LINK");
	srv = server(run, "ln");
	if (!srv)
		return 1;
	err = sym ? fsc_symlink(srv, cred, argv[2], argv[3], NULL)
		  : fsc_link(srv, cred, argv[1], argv[2], NULL);
	if (err) {
		hostlink_eprintf(run, "ln: failed to create %slink '%s': %s\n",
				 sym ? "symbolic " : "hard ", argv[argc - 1],
				 errno_message(err));
		return 1;
	}
	return 0;
}

static int cmd_readlink(struct hostlink_run *run, const struct fs_cred *cred, int argc,
			char **argv)
{
	char *target;
	uint16_t srv;
	int n;

	if (argc != 2)
		return usage(run, "readlink PATH");
	srv = server(run, "readlink");
	if (!srv)
		return 1;
	target = kmalloc(FS_PATH_MAX);
	if (!target)
		return fail(run, "readlink", argv[1], -ENOMEM);
	n = fsc_readlink(srv, cred, argv[1], target, FS_PATH_MAX);
	if (n >= 0)
		hostlink_printf(run, "%s\n", target);
	kfree(target);
	return n < 0 ? fail(run, "readlink", argv[1], n) : 0;
}

static int cmd_truncate(struct hostlink_run *run, const struct fs_cred *cred, int argc,
			char **argv)
{
	uint64_t size;
	uint16_t srv;
	int err;

	if (argc != 3 || !parse_size(argv[2], &size))
		return usage(run, "truncate PATH SIZE  (SIZE in bytes, or with K, M, G)");
	srv = server(run, "truncate");
	if (!srv)
		return 1;
	err = fsc_truncate(srv, cred, argv[1], size, NULL);
	if (err)
		return fail(run, "truncate", argv[1], err);
	return 0;
}

static int cmd_sync(struct hostlink_run *run, const struct fs_cred *cred, int argc,
		    char **argv)
{
	uint16_t srv;
	int err;

	if (argc != 1)
		return usage(run, "sync");
	srv = server(run, "sync");
	if (!srv)
		return 1;
	err = fsc_fsync(srv, cred, "/");
	return err ? fail(run, "sync", "/", err) : 0;
}

/* ---- write and sum ------------------------------------------------------------- */

/* A window buffer of up to CHUNK bytes (less if the window is short). */
static int chunk_get(struct verbs_dev **dev, struct verbs_buf *buf)
{
	size_t size = CHUNK;
	int err = verbs_open(dev);

	while (!err) {
		err = verbs_buf_alloc(*dev, size, buf);
		if (!err || size <= 64 * 1024)
			break;
		size /= 2;
		err = 0;
	}
	return err;
}

static void rate(struct hostlink_run *run, uint64_t bytes, uint64_t ns)
{
	uint64_t kib_s = ns ? bytes * 1000000000ull / 1024 / ns : 0;

	hostlink_printf(run, " in %llu.%03llu s (%llu.%02llu MiB/s)",
			(unsigned long long)(ns / NS_PER_S),
			(unsigned long long)(ns % NS_PER_S / NS_PER_MS),
			(unsigned long long)(kib_s / 1024),
			(unsigned long long)(kib_s % 1024 * 100 / 1024));
}

static int cmd_write(struct hostlink_run *run, const struct fs_cred *cred, int argc,
		     char **argv)
{
	uint64_t size, seed = 1, done = 0, t0;
	struct verbs_dev *dev;
	struct verbs_buf buf;
	uint32_t crc = 0;
	uint16_t srv;
	long err;

	if (argc < 3 || argc > 4 || !parse_size(argv[2], &size) ||
	    (argc == 4 &&
	     (!cmdline_parse_u64(argv[3], strlen(argv[3]), &seed) || seed > 255)))
		return usage(run,
			     "write PATH SIZE [SEED]  (SIZE with K, M, G; SEED 0..255, "
			     "default 1)");
	srv = server(run, "write");
	if (!srv)
		return 1;
	err = chunk_get(&dev, &buf);
	if (err)
		return fail(run, "write", argv[1], (int)err);
	t0 = clock_ns();
	err = fsc_create(srv, cred, argv[1], FILE_MODE, FS_TRUNC, NULL);
	while (!err && done < size) {
		size_t n = size - done < buf.size ? (size_t)(size - done) : buf.size;

		pattern_fill(buf.va, done, n, (unsigned)seed);
		crc = crc32_update(crc, buf.va, n);
		err = fsc_write_win(srv, cred, argv[1], done, buf.offset, n, 0);
		if (err >= 0)
			done += n;
		err = err < 0 ? err : 0;
	}
	verbs_buf_free(dev, &buf);
	if (err)
		return fail(run, "write", argv[1], (int)err);
	hostlink_printf(run, "wrote %llu bytes crc32=%08x %s", (unsigned long long)size,
			crc, argv[1]);
	rate(run, size, clock_ns() - t0);
	hostlink_printf(run, "\n");
	return 0;
}

static int cmd_sum(struct hostlink_run *run, const struct fs_cred *cred, int argc,
		   char **argv)
{
	struct verbs_dev *dev;
	struct verbs_buf buf;
	uint64_t done = 0, t0;
	uint32_t crc = 0;
	uint16_t srv;
	long n;

	if (argc != 2)
		return usage(run, "sum PATH");
	srv = server(run, "sum");
	if (!srv)
		return 1;
	n = chunk_get(&dev, &buf);
	if (n)
		return fail(run, "sum", argv[1], (int)n);
	t0 = clock_ns();
	do {
		n = fsc_read_win(srv, cred, argv[1], done, buf.offset, buf.size);
		if (n > 0) {
			crc = crc32_update(crc, buf.va, (size_t)n);
			done += (uint64_t)n;
		}
	} while (n == (long)buf.size);
	verbs_buf_free(dev, &buf);
	if (n < 0)
		return fail(run, "sum", argv[1], (int)n);
	hostlink_printf(run, "size=%llu crc32=%08x %s", (unsigned long long)done, crc,
			argv[1]);
	rate(run, done, clock_ns() - t0);
	hostlink_printf(run, "\n");
	return 0;
}

/* ---- as, and the entry points ----------------------------------------------------- */

static const struct {
	const char *name;
	fs_cmd_fn fn;
} fs_cmds[] = {
	{"ls", cmd_ls},
	{"cat", cmd_cat},
	{"stat", cmd_stat},
	{"mkdir", cmd_mkdir},
	{"rmdir", cmd_rmdir},
	{"rm", cmd_rm},
	{"mv", cmd_mv},
	{"ln", cmd_ln},
	{"readlink", cmd_readlink},
	{"truncate", cmd_truncate},
	{"df", cmd_df},
	{"sync", cmd_sync},
	{"write", cmd_write},
	{"sum", cmd_sum},
};

static int run_as_root(struct hostlink_run *run, fs_cmd_fn fn, int argc, char **argv)
{
	return fn(run, &fsc_root, argc, argv);
}

int fsb_as(struct hostlink_run *run, int argc, char **argv)
{
	struct fs_cred cred = {0};
	const char *colon;
	uint64_t uid, gid;

	if (argc < 3)
		goto usage;
	colon = strchr(argv[1], ':');
	if (!cmdline_parse_u64(
		    argv[1], colon ? (size_t)(colon - argv[1]) : strlen(argv[1]), &uid) ||
	    uid > UINT32_MAX - 1)
		goto usage;
	gid = uid;
	if (colon && (!cmdline_parse_u64(colon + 1, strlen(colon + 1), &gid) ||
		      gid > UINT32_MAX - 1))
		goto usage;
	cred.uid = (uint32_t)uid;
	cred.gid = (uint32_t)gid;
	for (size_t i = 0; i < sizeof(fs_cmds) / sizeof(fs_cmds[0]); i++)
		if (!strcmp(fs_cmds[i].name, argv[2]))
			return fs_cmds[i].fn(run, &cred, argc - 2, argv + 2);
	hostlink_eprintf(run, "as: %s: not a file builtin\n", argv[2]);
	return 2;
usage:
	return usage(run,
		     "as UID[:GID] CMD ARGS...  (CMD: a file builtin such as ls, cat, "
		     "write)");
}

int fsb_ls(struct hostlink_run *run, int argc, char **argv)
{
	return run_as_root(run, cmd_ls, argc, argv);
}

int fsb_cat(struct hostlink_run *run, int argc, char **argv)
{
	return run_as_root(run, cmd_cat, argc, argv);
}

int fsb_stat(struct hostlink_run *run, int argc, char **argv)
{
	return run_as_root(run, cmd_stat, argc, argv);
}

int fsb_mkdir(struct hostlink_run *run, int argc, char **argv)
{
	return run_as_root(run, cmd_mkdir, argc, argv);
}

int fsb_rmdir(struct hostlink_run *run, int argc, char **argv)
{
	return run_as_root(run, cmd_rmdir, argc, argv);
}

int fsb_rm(struct hostlink_run *run, int argc, char **argv)
{
	return run_as_root(run, cmd_rm, argc, argv);
}

int fsb_mv(struct hostlink_run *run, int argc, char **argv)
{
	return run_as_root(run, cmd_mv, argc, argv);
}

int fsb_ln(struct hostlink_run *run, int argc, char **argv)
{
	return run_as_root(run, cmd_ln, argc, argv);
}

int fsb_readlink(struct hostlink_run *run, int argc, char **argv)
{
	return run_as_root(run, cmd_readlink, argc, argv);
}

int fsb_truncate(struct hostlink_run *run, int argc, char **argv)
{
	return run_as_root(run, cmd_truncate, argc, argv);
}

int fsb_df(struct hostlink_run *run, int argc, char **argv)
{
	return run_as_root(run, cmd_df, argc, argv);
}

int fsb_sync(struct hostlink_run *run, int argc, char **argv)
{
	return run_as_root(run, cmd_sync, argc, argv);
}

int fsb_write(struct hostlink_run *run, int argc, char **argv)
{
	return run_as_root(run, cmd_write, argc, argv);
}

int fsb_sum(struct hostlink_run *run, int argc, char **argv)
{
	return run_as_root(run, cmd_sum, argc, argv);
}
