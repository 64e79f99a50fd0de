/*
 * Unix domain sockets (AF_UNIX) between the processes of this processor
 * (pcomponent/socket.h): socket, socketpair, bind, listen, connect,
 * accept, send and receive in their forms, shutdown, names and options.
 * Every socket is a struct file (pcomponent/file.h) whose priv is a
 * struct sock, so read, write, poll, epoll, dup, fork and close work on
 * it as on any file.
 *
 * There is no network stack: every other family (AF_INET, AF_INET6...)
 * answers EAFNOSUPPORT, and so do sockets between processors.
 *
 * One lock for every socket of the node, sock_wq's, and one wait queue
 * for every sleeper (a receiver waiting for data, a sender for room, a
 * connect for room in a listener's queue, an accept for a connection):
 * a processor runs few processes, an operation touches two sockets at
 * once (its own and its peer's) and a lock per socket would need an
 * order between them. The lock is never held while user memory is
 * touched (a copy may take an ExCache miss and sleep): a sender copies
 * its bytes into a message first (struct sock_msg, kmalloc'd) and then
 * queues it under the lock; a receiver holds its socket's read token
 * (one receiver at a time), copies out of the oldest message without the
 * lock and consumes it after, so a bad buffer (-EFAULT) loses nothing.
 * Every change of readiness wakes the queue and calls file_poll_event()
 * for poll, select and epoll (and moves the socket's generation, which
 * epoll's edge-triggered mode reads).
 *
 * Kinds: SOCK_STREAM (bytes, sent in chunks of at most SOCK_CHUNK),
 * SOCK_DGRAM (messages, connected or addressed; SOCK_RAW is a datagram
 * socket, as on Linux) and SOCK_SEQPACKET (messages over a connection).
 * A receive queue holds at most SOCK_QUEUE_MAX bytes (Linux's default
 * buffer); a longer message is EMSGSIZE. A stream connect does what
 * Linux's does: it makes the server's end at once (an "embryo" on the
 * listener's queue, which accept takes), so the client is connected
 * before the accept and may send; a listener's queue is full when it
 * holds more than the backlog (blocking connect waits, non-blocking
 * gets EAGAIN).
 *
 * Closing, as Linux: the peer of a stream or seqpacket socket that
 * closes may neither send nor receive more (reads drain the queue, then
 * end of file; writes get EPIPE and SIGPIPE unless MSG_NOSIGNAL), and
 * gets ECONNRESET once if the closer left unread data or was never
 * accepted. A datagram sender whose peer closed gets ECONNREFUSED once,
 * then ENOTCONN.
 *
 * Names. Abstract names (sun_path[0] == 0) live in this processor's
 * name table while their socket is open; as on Linux, sockets of
 * different types may hold the same one (a lookup finds its own type's). A path name is checked against
 * the storage node (an existing file: EADDRINUSE; a missing or
 * non-directory parent: ENOENT, ENOTDIR) and then kept in the same
 * table, NOT created on the disk: the storage node's file protocol makes
 * regular files, directories and links only, so the name is not seen by
 * ls or stat. As on Linux, it outlives its socket (a connect then gets
 * ECONNREFUSED, a bind EADDRINUSE) until unlink(2), which sys_file.c
 * sends here first (socket_unlink_name). All processes of a processor
 * share the table; another processor's are not seen (a connect there
 * gets ENOENT). rename of a socket's name is not followed.
 *
 * Options: SO_TYPE, SO_ERROR, SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN,
 * SO_PEERCRED (the pid and effective uid and gid of the process that
 * connected, listened or made the pair), SO_SNDBUF
 * and SO_RCVBUF (kept, doubled as Linux reports them, not applied:
 * queues hold SOCK_QUEUE_MAX), SO_RCVTIMEO and SO_SNDTIMEO (applied to
 * blocking receives, sends and connects: EAGAIN when they pass),
 * SO_PASSCRED, SO_REUSEADDR, SO_KEEPALIVE, SO_LINGER and others accepted
 * and ignored (they mean nothing here). Control messages: SCM_RIGHTS
 * passes open files (the receiver gets new fds of the same open file
 * descriptions; MSG_CMSG_CLOEXEC honoured; MSG_CTRUNC and the extra
 * files closed when the control buffer is short); other control
 * messages are ignored. Files in flight that hold their own socket (a
 * socket sent over itself and never received) are not collected.
 */
#include "socket.h"

#include "file.h"
#include "path.h"
#include "pipe.h"
#include "process.h"

#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/time.h>
#include <kernel/uspace.h>
#include <kernel/wait.h>
#include <lib/list.h>
#include <lib/string.h>

/* Linux's numbers. */
#define AF_UNIX		 1
#define AF_INET		 2
#define AF_INET6	 10
#define SOCK_STREAM	 1
#define SOCK_DGRAM	 2
#define SOCK_RAW	 3
#define SOCK_SEQPACKET	 5
#define SOCK_TYPE_MASK	 0xf
#define SHUT_RD		 0
#define SHUT_WR		 1
#define SHUT_RDWR	 2
#define MSG_OOB		 0x1
#define MSG_PEEK	 0x2
#define MSG_CTRUNC	 0x8
#define MSG_TRUNC	 0x20
#define MSG_DONTWAIT	 0x40
#define MSG_EOR		 0x80
#define MSG_WAITALL	 0x100
#define MSG_NOSIGNAL	 0x4000
#define MSG_CMSG_CLOEXEC 0x40000000
#define SOL_SOCKET	 1
#define SO_TYPE		 3
#define SO_ERROR	 4
#define SO_SNDBUF	 7
#define SO_RCVBUF	 8
#define SO_PEERCRED	 17
#define SO_RCVTIMEO	 20
#define SO_SNDTIMEO	 21
#define SO_ACCEPTCONN	 30
#define SO_SNDBUFFORCE	 32
#define SO_RCVBUFFORCE	 33
#define SO_PROTOCOL	 38
#define SO_DOMAIN	 39
#define SCM_RIGHTS	 1
#define SCM_MAX_FD	 253 /* files per SCM_RIGHTS message, as Linux */
#define SOMAXCONN	 4096
#define UIO_MAXIOV	 1024
#define MAX_RW_COUNT	 0x7ffff000ull
#define FIONREAD	 0x541b
#define POLLRDHUP	 0x2000

#define SOCK_QUEUE_MAX	212992u /* bytes of a receive queue */
#define SOCK_MSG_MAX	(SOCK_QUEUE_MAX - 32) /* bytes of one message */
#define SOCK_CHUNK	16384u /* bytes per message of a stream */
#define SOCK_DGRAM_QLEN 10u /* messages queued to an unconnected receiver, beyond: full */
#define SOCK_SHUT_RCV	1u
#define SOCK_SHUT_SEND	2u
#define SUN_PATH_MAX	108

struct k_sockaddr_un {
	uint16_t family;
	char path[SUN_PATH_MAX];
};
#define SUN_PATH_OFF offsetof(struct k_sockaddr_un, path)

struct k_ucred {
	uint32_t pid, uid, gid;
};

struct k_iovec {
	uint64_t base, len;
};

/* Linux x86-64's struct msghdr and struct cmsghdr. */
struct k_msghdr {
	uint64_t name;
	uint32_t namelen, pad;
	uint64_t iov, iovlen, control, controllen;
	int32_t flags, pad2;
};
_Static_assert(sizeof(struct k_msghdr) == 56, "struct msghdr");

struct k_cmsghdr {
	uint64_t len;
	int32_t level, type;
};
#define CMSG_ALIGN8(n) (((n) + 7) & ~(uint64_t)7)

struct k_timeval {
	int64_t sec, usec;
};

enum sock_state { SOCK_UNCONNECTED, SOCK_LISTENING, SOCK_CONNECTED };

struct sock_name;

/* One socket. Every field but the constants is sock_wq.lock's. */
struct sock {
	unsigned refs;		   /* its file (or a listener's queue), peers' pointers */
	int type;		   /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET; constant */
	uint64_t ino;		   /* for fstat; constant */
	enum sock_state state;
	bool dead;		   /* its file closed */
	bool reading;		   /* the read token */
	bool embryo;		   /* made by connect, not yet accepted */
	unsigned shut;		   /* SOCK_SHUT_*: what this end may no longer do */
	int err;		   /* pending error (positive errno), SO_ERROR */
	struct sock *peer;	   /* connected to (counted), or NULL */
	struct list_node queue;	   /* struct sock_msg, oldest first */
	uint32_t qbytes, qcount;   /* in queue */
	struct list_node pending;  /* a listener's embryos, oldest first */
	struct list_node link;	   /* an embryo's place in pending */
	unsigned backlog, npending;
	struct sock_name *name;	   /* bound to, or NULL */
	struct k_sockaddr_un addr; /* the name as getsockname gives it */
	uint32_t addrlen;	   /* of addr: SUN_PATH_OFF when unnamed */
	struct k_ucred peercred;   /* SO_PEERCRED */
	uint32_t sndbuf, rcvbuf;   /* SO_SNDBUF, SO_RCVBUF as reported */
	uint64_t rcvtimeo, sndtimeo; /* ns; 0: none */
	uint64_t gen;		   /* moves with every change of readiness */
	uint64_t opt_flags;	   /* bit n: flag option n set (flag_option) */
};

/* One message in a receive queue (a chunk of a stream). */
struct sock_msg {
	struct list_node node; /* in the receiver's queue */
	uint32_t len, off;     /* bytes of data; consumed (streams) */
	struct k_sockaddr_un from; /* the sender's name */
	uint32_t fromlen;      /* 0: the sender had none */
	struct file **files;   /* SCM_RIGHTS, kmalloc'd, or NULL */
	unsigned nfiles;
	uint8_t data[];
};

/* A bound name (top comment). */
struct sock_name {
	struct list_node node; /* in sock_names */
	struct sock *sk;       /* bound to it; NULL once it closed (path names) */
	bool abstract;
	int type;	       /* the socket's: abstract names are per type, as Linux */
	uint32_t keylen;       /* abstract: bytes of key; path: strlen + 1 */
	char key[];	       /* abstract: sun_path's bytes; path: the absolute path */
};

static struct waitq sock_wq = {
	.lock = SPINLOCK_INIT("sock"),
	.waiters = LIST_HEAD_INIT(sock_wq.waiters),
};
static struct list_node sock_names = LIST_HEAD_INIT(sock_names); /* sock_wq.lock */
static uint64_t sock_next_ino = 1;	  /* atomic */
static uint32_t sock_autobind_next = 1; /* sock_wq.lock */

static const struct file_ops sock_ops;

/* Where a send takes its bytes and a receive puts them: user iovecs. */
struct sock_iter {
	struct k_iovec *iov; /* a kernel copy */
	unsigned n, i;	     /* entries; the current one */
	uint64_t off;	     /* bytes of entry i done */
	uint64_t left;	     /* bytes left in all */
};

/* ---- small helpers ------------------------------------------------------------ */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Something about sk changed: its generation moves and sleepers wake.
 * Lock held; the caller calls file_poll_event() after unlocking. */
static void sock_changed_locked(struct sock *sk)
{
	sk->gen++;
	waitq_wake_all_locked(&sock_wq);
}

/* Sleeps on the sockets' queue until woken: 0; -EAGAIN when deadline
 * (0: none) passed (SO_RCVTIMEO, SO_SNDTIMEO), -EINTR. Lock held. */
static int sock_sleep(uint64_t deadline)
{
	int err = waitq_wait_intr_locked(&sock_wq, deadline);

	return err == -ETIMEDOUT ? -EAGAIN : err;
}

static uint64_t deadline_of(uint64_t timeo)
{
	return timeo ? clock_ns() + timeo : 0;
}

/* SO_PEERCRED's view of p: its pid and effective ids, as Linux. */
static struct k_ucred cred_of(struct process *p)
{
	struct cred c;

	process_cred(p, &c);
	return (struct k_ucred){.pid = p->pid, .uid = c.euid, .gid = c.egid};
}

static void sock_get_locked(struct sock *sk)
{
	sk->refs++;
}

/* Drops a reference; the last frees sk, whose file closed before (its
 * queue empty, its name gone). Lock held. */
static void sock_put_locked(struct sock *sk)
{
	if (--sk->refs == 0)
		kfree(sk);
}

static struct sock *sock_alloc(int type)
{
	struct sock *sk = kzalloc(sizeof(*sk));

	if (!sk)
		return NULL;
	sk->refs = 1;
	sk->type = type;
	sk->ino = __atomic_fetch_add(&sock_next_ino, 1, __ATOMIC_RELAXED);
	list_init(&sk->queue);
	list_init(&sk->pending);
	sk->addr.family = AF_UNIX;
	sk->addrlen = SUN_PATH_OFF;
	sk->sndbuf = sk->rcvbuf = SOCK_QUEUE_MAX;
	return sk;
}

static bool connection_type(const struct sock *sk)
{
	return sk->type != SOCK_DGRAM;
}

/* Frees a message that left every queue, putting its files. May sleep. */
static void msg_free(struct sock_msg *m)
{
	for (unsigned i = 0; i < m->nfiles; i++)
		file_put(m->files[i]);
	kfree(m->files);
	kfree(m);
}

/* Frees every message of a list taken out of a queue. May sleep. */
static void msgs_free(struct list_node *list)
{
	struct list_node *n;

	while ((n = list_pop_front(list)))
		msg_free(list_entry(n, struct sock_msg, node));
}

static void queue_msg_locked(struct sock *to, struct sock_msg *m)
{
	list_push_back(&to->queue, &m->node);
	to->qbytes += m->len;
	to->qcount++;
	sock_changed_locked(to);
}

/* Takes the oldest message out of sk's queue. Lock held. */
static void unqueue_msg_locked(struct sock *sk, struct sock_msg *m)
{
	list_remove(&m->node);
	sk->qbytes -= m->len;
	sk->qcount--;
	sock_changed_locked(sk);
	if (sk->peer)
		sock_changed_locked(sk->peer); /* room to send */
}

/* ---- iovecs ------------------------------------------------------------------- */

/* Reads n iovecs at uiov into a new iterator; -EMSGSIZE (too many),
 * -EINVAL (too long in all), -EFAULT, -ENOMEM. */
static long iter_init(struct sock_iter *it, uint64_t uiov, uint64_t n)
{
	memset(it, 0, sizeof(*it));
	if (n > UIO_MAXIOV)
		return -EMSGSIZE;
	it->n = (unsigned)n;
	it->iov = kmalloc(n ? n * sizeof(*it->iov) : 1);
	if (!it->iov)
		return -ENOMEM;
	if (copy_from_user(it->iov, uiov, n * sizeof(*it->iov)))
		return -EFAULT;
	for (unsigned i = 0; i < it->n; i++) {
		if (it->iov[i].len > INT64_MAX || it->left + it->iov[i].len > INT64_MAX)
			return -EINVAL;
		it->left += it->iov[i].len;
	}
	it->left = min_u64(it->left, MAX_RW_COUNT);
	return 0;
}

/* One buffer as an iterator (read, write, sendto, recvfrom). */
static void iter_one(struct sock_iter *it, struct k_iovec *one, uint64_t ubuf, uint64_t len)
{
	one->base = ubuf;
	one->len = min_u64(len, MAX_RW_COUNT);
	*it = (struct sock_iter){.iov = one, .n = 1, .left = one->len};
}

/* Moves n bytes (<= it->left) between kbuf and the user buffers: 0 or
 * -EFAULT (then how many moved is unknown: the caller fails). */
static int iter_copy(struct sock_iter *it, void *kbuf, uint64_t n, bool to_user)
{
	uint8_t *k = kbuf;

	while (n) {
		struct k_iovec *v = &it->iov[it->i];
		uint64_t k_n = min_u64(n, v->len - it->off);
		int err = to_user ? copy_to_user(v->base + it->off, k, k_n)
				  : copy_from_user(k, v->base + it->off, k_n);

		if (err)
			return -EFAULT;
		k += k_n;
		n -= k_n;
		it->left -= k_n;
		it->off += k_n;
		if (it->off == v->len) {
			it->i++;
			it->off = 0;
		}
	}
	return 0;
}

/* ---- names -------------------------------------------------------------------- */

/* A decoded user address: the key of the name table and the address as
 * getsockname would give it. */
struct sock_key {
	bool abstract;
	uint32_t keylen;
	char key[FS_PATH_MAX];
	struct k_sockaddr_un addr;
	uint32_t addrlen;
};

/*
 * Copies and checks the address at uaddr (len bytes): AF_UNIX, at least
 * the family (*autobind set when only the family is there), at most
 * sizeof(struct k_sockaddr_un); a path made absolute for p. Returns 0,
 * -EINVAL, -EFAULT, or file_resolve's error.
 */
static long key_from_user(struct process *p, uint64_t uaddr, uint64_t len, struct sock_key *k,
			  bool *autobind)
{
	size_t plen;

	memset(&k->addr, 0, sizeof(k->addr));
	*autobind = false;
	if (len < sizeof(uint16_t) || len > sizeof(struct k_sockaddr_un))
		return -EINVAL;
	if (copy_from_user(&k->addr, uaddr, len))
		return -EFAULT;
	if (k->addr.family != AF_UNIX)
		return -EINVAL;
	if (len == SUN_PATH_OFF) {
		*autobind = true;
		return 0;
	}
	k->abstract = k->addr.path[0] == 0;
	if (k->abstract) {
		k->keylen = (uint32_t)(len - SUN_PATH_OFF);
		memcpy(k->key, k->addr.path, k->keylen);
		k->addrlen = (uint32_t)len;
		return 0;
	}
	plen = strnlen(k->addr.path, len - SUN_PATH_OFF);
	memset(k->addr.path + plen, 0, sizeof(k->addr.path) - plen);
	k->addrlen = (uint32_t)(SUN_PATH_OFF + plen + 1);
	if (plen == SUN_PATH_MAX)
		k->addrlen--; /* no room for the NUL: as Linux reports it */
	{
		char path[SUN_PATH_MAX + 1];

		memcpy(path, k->addr.path, plen);
		path[plen] = 0;
		long err = file_resolve(p, AT_FDCWD, path, k->key);

		if (err)
			return err;
	}
	k->keylen = (uint32_t)strlen(k->key) + 1;
	return 0;
}

/* The table's entry for a key (an abstract one of sockets of type), or
 * NULL. Lock held. */
static struct sock_name *name_find_locked(bool abstract, const char *key, uint32_t keylen,
					  int type)
{
	struct list_node *n;

	list_for_each(n, &sock_names) {
		struct sock_name *e = list_entry(n, struct sock_name, node);

		if (e->abstract == abstract && e->keylen == keylen &&
		    !memcmp(e->key, key, keylen) && (!abstract || e->type == type))
			return e;
	}
	return NULL;
}

/* The socket bound to k (an abstract name: of type) with a reference,
 * or NULL with *err: -ENOENT (a path nobody bound) or -ECONNREFUSED (an
 * abstract name nobody holds, a path whose socket closed). Lock held. */
static struct sock *name_lookup_locked(const struct sock_key *k, int type, long *err)
{
	struct sock_name *e = name_find_locked(k->abstract, k->key, k->keylen, type);

	*err = e || k->abstract ? -ECONNREFUSED : -ENOENT;
	if (!e || !e->sk)
		return NULL;
	sock_get_locked(e->sk);
	*err = 0;
	return e->sk;
}

/* The socket bound to k, or NULL with *err as name_lookup_locked says;
 * a path that is a file of the storage node but no socket's name is
 * -ECONNREFUSED, as connecting to a file that is not a socket on Linux.
 * Takes the lock. May sleep (a stat on the storage node). */
static struct sock *name_lookup(struct process *p, const struct sock_key *k, int type,
				long *err)
{
	struct fs_attr attr;
	struct sock *sk;

	spin_lock(&sock_wq.lock);
	sk = name_lookup_locked(k, type, err);
	spin_unlock(&sock_wq.lock);
	if (!sk && *err == -ENOENT && file_stat_path(p, k->key, false, 0, &attr) == 0)
		*err = -ECONNREFUSED;
	return sk;
}

/* A path may become a name: nothing there on the storage node, and its
 * parent a directory. 0, -EADDRINUSE, -ENOENT, -ENOTDIR. May sleep. */
static long path_free_on_disk(struct process *p, const char *abs)
{
	const char *last = path_last(abs);
	char *parent;
	struct fs_attr attr;
	long err;

	if (file_stat_path(p, abs, true, 0, &attr) == 0)
		return -EADDRINUSE;
	parent = kmalloc(FS_PATH_MAX);
	if (!parent)
		return -ENOMEM;
	if (last == abs + 1) {
		strlcpy(parent, "/", FS_PATH_MAX);
	} else {
		memcpy(parent, abs, (size_t)(last - abs - 1));
		parent[last - abs - 1] = 0;
	}
	err = file_stat_path(p, parent, false, 0, &attr);
	if (!err && (attr.mode & FS_S_IFMT) != FS_S_IFDIR)
		err = -ENOTDIR;
	kfree(parent);
	return err;
}

/* Binds sk to k's name (made by the caller). Lock held. */
static void name_attach_locked(struct sock *sk, struct sock_name *e, const struct sock_key *k)
{
	e->sk = sk;
	list_push_back(&sock_names, &e->node);
	sk->name = e;
	sk->addr = k->addr;
	sk->addrlen = k->addrlen;
}

/* An abstract name of five hex digits not in use (bind with only the
 * family, as Linux's autobind), into k. Lock held. */
static void autobind_key_locked(struct sock_key *k, int type)
{
	static const char hex[] = "0123456789abcdef";

	k->abstract = true;
	k->keylen = 6;
	do {
		uint32_t v = sock_autobind_next++ & 0xfffff;

		k->key[0] = 0;
		for (int i = 0; i < 5; i++)
			k->key[1 + i] = hex[(v >> (16 - 4 * i)) & 0xf];
	} while (name_find_locked(true, k->key, k->keylen, type));
	memset(&k->addr, 0, sizeof(k->addr));
	k->addr.family = AF_UNIX;
	memcpy(k->addr.path, k->key, k->keylen);
	k->addrlen = SUN_PATH_OFF + k->keylen;
}

/* The socket's name goes (its file closed): an abstract one at once, a
 * path's stays until unlink. Lock held. */
static void name_detach_locked(struct sock *sk)
{
	struct sock_name *e = sk->name;

	if (!e)
		return;
	sk->name = NULL;
	e->sk = NULL;
	if (e->abstract) {
		list_remove(&e->node);
		kfree(e);
	}
}

bool socket_unlink_name(const char *abs)
{
	uint32_t len = (uint32_t)strlen(abs) + 1;
	struct sock_name *e;

	spin_lock(&sock_wq.lock);
	e = name_find_locked(false, abs, len, 0);
	if (e) {
		list_remove(&e->node);
		if (e->sk)
			e->sk->name = NULL; /* still bound: getsockname keeps the address */
	}
	spin_unlock(&sock_wq.lock);
	kfree(e);
	return e != NULL;
}

/* ---- closing ------------------------------------------------------------------- */

static void sock_close(struct sock *sk);

/*
 * sk's file closed (or a listener's queue let an embryo go): its name
 * goes, its peer learns (top comment), its queue and its embryos are
 * freed. Drops the file's reference.
 */
static void sock_close(struct sock *sk)
{
	struct list_node msgs = LIST_HEAD_INIT(msgs), embryos = LIST_HEAD_INIT(embryos), *n;
	struct sock *peer;

	spin_lock(&sock_wq.lock);
	sk->dead = true;
	sk->shut = SOCK_SHUT_RCV | SOCK_SHUT_SEND;
	name_detach_locked(sk);
	peer = sk->peer;
	sk->peer = NULL;
	if (peer && connection_type(sk) && peer->peer == sk) {
		peer->shut = SOCK_SHUT_RCV | SOCK_SHUT_SEND;
		if (sk->qcount || sk->embryo)
			peer->err = ECONNRESET;
		sock_changed_locked(peer);
	}
	while ((n = list_pop_front(&sk->queue)))
		list_push_back(&msgs, n);
	sk->qbytes = sk->qcount = 0;
	while ((n = list_pop_front(&sk->pending)))
		list_push_back(&embryos, n);
	sk->npending = 0;
	sock_changed_locked(sk);
	if (peer)
		sock_put_locked(peer);
	spin_unlock(&sock_wq.lock);
	file_poll_event();
	msgs_free(&msgs);
	while ((n = list_pop_front(&embryos)))
		sock_close(list_entry(n, struct sock, link));
	spin_lock(&sock_wq.lock);
	sock_put_locked(sk);
	spin_unlock(&sock_wq.lock);
}

/* ---- sending ------------------------------------------------------------------- */

struct send_args {
	unsigned flags;		       /* MSG_* */
	bool nonblock;		       /* O_NONBLOCK or MSG_DONTWAIT */
	const struct sock_key *to;     /* sendto's address, or NULL */
	struct file **files;	       /* SCM_RIGHTS, taken over by the first message */
	unsigned nfiles;
};

/* A message of n bytes from the iterator, with the sender's name. */
static struct sock_msg *msg_from_iter(struct sock *sk, struct sock_iter *it, uint32_t n,
				      long *err)
{
	struct sock_msg *m = kzalloc(sizeof(*m) + n);

	*err = -ENOMEM;
	if (!m)
		return NULL;
	m->len = n;
	*err = iter_copy(it, m->data, n, false);
	if (*err) {
		kfree(m);
		return NULL;
	}
	spin_lock(&sock_wq.lock);
	if (sk->addrlen > SUN_PATH_OFF) {
		m->from = sk->addr;
		m->fromlen = sk->addrlen;
	}
	spin_unlock(&sock_wq.lock);
	return m;
}

/* Whether to's queue takes n more bytes now: a queue holds
 * SOCK_QUEUE_MAX bytes (an empty one any message); a datagram receiver
 * that is not connected back to the sender at most SOCK_DGRAM_QLEN + 1
 * messages, as Linux. Lock held. */
static bool has_room(const struct sock *to, const struct sock *from, uint32_t n)
{
	if (to->qbytes && to->qbytes + n > SOCK_QUEUE_MAX)
		return false;
	return connection_type(to) || to->peer == from || to->qcount <= SOCK_DGRAM_QLEN;
}

/*
 * The socket a message of sk goes to, with a reference: its connected
 * peer, or (datagrams) the one bound to the address. Errors as Linux:
 * -EPIPE (shut down for sending), -ENOTCONN, -EISCONN and -EOPNOTSUPP
 * (a stream given an address), -ENOENT (a path nobody bound), -ECONNREFUSED (a
 * closed datagram peer: sk is disconnected), -EPROTOTYPE, -EPERM (the
 * receiver is connected to another). Lock held; a lookup by path does
 * not go to the storage node here (the caller did: sa->to is only used
 * when the name is in the table).
 */
static struct sock *send_target_locked(struct sock *sk, const struct send_args *sa, long *err)
{
	struct sock *to;

	if (connection_type(sk)) {
		if (sa->to && sk->type == SOCK_STREAM)
			*err = sk->state == SOCK_CONNECTED ? -EISCONN : -EOPNOTSUPP;
		else if (sk->state != SOCK_CONNECTED)
			*err = -ENOTCONN;
		else
			*err = sk->shut & SOCK_SHUT_SEND ? -EPIPE : 0;
		if (*err)
			return NULL;
		sock_get_locked(sk->peer);
		return sk->peer;
	}
	if (sk->shut & SOCK_SHUT_SEND) {
		*err = -EPIPE;
		return NULL;
	}
	if (sa->to) {
		to = name_lookup_locked(sa->to, sk->type, err);
		if (!to)
			return NULL;
	} else if (sk->peer) {
		to = sk->peer;
		sock_get_locked(to);
	} else {
		*err = -ENOTCONN;
		return NULL;
	}
	*err = 0;
	if (to->dead) {
		*err = -ECONNREFUSED;
		if (to == sk->peer) {
			sk->peer = NULL;
			sock_put_locked(to);
		}
	} else if (to->type != sk->type) {
		*err = -EPROTOTYPE;
	} else if (to->peer && to->peer != sk) {
		*err = -EPERM;
	}
	if (*err) {
		sock_put_locked(to);
		return NULL;
	}
	return to;
}

/* Queues m for its receiver, waiting for room: 0 or an error (m not
 * queued). Takes the lock. */
static long queue_for_send(struct sock *sk, struct sock_msg *m, const struct send_args *sa)
{
	uint64_t deadline = deadline_of(sk->sndtimeo);
	struct sock *to;
	long err;

	spin_lock(&sock_wq.lock);
	for (;;) {
		to = send_target_locked(sk, sa, &err);
		if (!to)
			break;
		if (to->dead || (to->shut & SOCK_SHUT_RCV && connection_type(to))) {
			err = -EPIPE;
		} else if (has_room(to, sk, m->len)) {
			queue_msg_locked(to, m);
			err = 0;
		} else {
			err = sa->nonblock ? -EAGAIN : sock_sleep(deadline) ?: 1;
		}
		sock_put_locked(to);
		if (err <= 0)
			break;
	}
	spin_unlock(&sock_wq.lock);
	if (err == 0)
		file_poll_event();
	return err;
}

/* Sends what the iterator holds: streams in chunks (the count sent, as
 * far as it went), messages whole (-EMSGSIZE beyond SOCK_MSG_MAX). */
static long sock_send(struct sock *sk, struct sock_iter *it, struct send_args *sa)
{
	bool stream = sk->type == SOCK_STREAM;
	uint64_t done = 0;
	long err = 0;

	if (!stream && it->left > SOCK_MSG_MAX)
		return -EMSGSIZE;
	if (stream && !it->left)
		return 0; /* nothing to queue: an empty message would read as data */
	do {
		uint32_t n = (uint32_t)(stream ? min_u64(it->left, SOCK_CHUNK) : it->left);
		struct sock_msg *m = msg_from_iter(sk, it, n, &err);

		if (!m)
			break;
		m->files = sa->files;
		m->nfiles = sa->nfiles;
		err = queue_for_send(sk, m, sa);
		if (err) {
			m->files = NULL; /* the caller's still */
			m->nfiles = 0;
			msg_free(m);
			break;
		}
		sa->files = NULL;
		sa->nfiles = 0;
		done += n;
	} while (it->left);
	if (err == -EPIPE && !(sa->flags & MSG_NOSIGNAL))
		pipe_epipe();
	return done ? (long)done : err;
}

/* ---- receiving ----------------------------------------------------------------- */

struct recv_args {
	unsigned flags;		   /* MSG_* asked */
	bool nonblock;
	unsigned out_flags;	   /* MSG_TRUNC, MSG_CTRUNC reported */
	struct k_sockaddr_un from; /* the sender's name */
	uint32_t fromlen;	   /* 0: none */
	struct file **files;	   /* SCM_RIGHTS received, kmalloc'd */
	unsigned nfiles;
};

/* Takes the read token, sleeping while another receiver has it. Lock held. */
static long take_read_token(struct sock *sk)
{
	long err = 0;

	while (sk->reading && !err)
		err = sock_sleep(0);
	if (!err)
		sk->reading = true;
	return err;
}

static void put_read_token(struct sock *sk)
{
	sk->reading = false;
	waitq_wake_all_locked(&sock_wq);
}

/*
 * Waits for a message in sk's queue: 1 when there is one; 0 at the end
 * of the stream (nothing will come); a pending error (once), -EINVAL (a
 * stream socket not connected, as Linux), -ENOTCONN (a seqpacket one),
 * -EAGAIN, -EINTR. Lock held.
 */
static long wait_for_msg(struct sock *sk, bool nonblock, uint64_t deadline)
{
	while (!sk->qcount) {
		if (connection_type(sk) && sk->state != SOCK_CONNECTED)
			return sk->type == SOCK_STREAM ? -EINVAL : -ENOTCONN;
		if (sk->err) {
			long err = -sk->err;

			sk->err = 0;
			return err;
		}
		if (sk->shut & SOCK_SHUT_RCV)
			return 0;
		if (nonblock)
			return -EAGAIN;
		long err = sock_sleep(deadline);

		if (err)
			return err;
	}
	return 1;
}

/* The message's name and files go to the receiver (the files once). */
static void take_msg_extras(struct recv_args *ra, struct sock_msg *m)
{
	ra->from = m->from;
	ra->fromlen = m->fromlen;
	if (m->nfiles && !(ra->flags & MSG_PEEK)) {
		ra->files = m->files;
		ra->nfiles = m->nfiles;
		m->files = NULL;
		m->nfiles = 0;
	}
}

/* A whole message (datagram, seqpacket): the bytes that fit, MSG_TRUNC
 * for the rest; the count (the message's length with MSG_TRUNC asked). */
static long recv_message(struct sock *sk, struct sock_iter *it, struct recv_args *ra)
{
	struct sock_msg *m, *gone = NULL;
	long ret;
	uint64_t n;

	spin_lock(&sock_wq.lock);
	ret = take_read_token(sk);
	if (ret)
		goto unlock;
	ret = wait_for_msg(sk, ra->nonblock, deadline_of(sk->rcvtimeo));
	if (ret <= 0)
		goto put_token;
	m = list_entry(sk->queue.next, struct sock_msg, node);
	spin_unlock(&sock_wq.lock);
	n = min_u64(m->len, it->left);
	ret = iter_copy(it, m->data, n, true);
	spin_lock(&sock_wq.lock);
	if (ret)
		goto put_token;
	take_msg_extras(ra, m);
	if (m->len > n)
		ra->out_flags |= MSG_TRUNC;
	ret = ra->flags & MSG_TRUNC ? (long)m->len : (long)n;
	if (!(ra->flags & MSG_PEEK)) {
		unqueue_msg_locked(sk, m);
		gone = m;
	}
put_token:
	put_read_token(sk);
unlock:
	spin_unlock(&sock_wq.lock);
	if (gone) {
		file_poll_event();
		msg_free(gone);
	}
	return ret;
}

/* Moves the peek cursor past message m at *cur (offset *off). */
static void peek_next(struct list_node **cur, uint32_t *off)
{
	*cur = (*cur)->next;
	*off = 0;
}

/*
 * Stream bytes: waits for some (all with MSG_WAITALL), then takes what is
 * there up to the iterator's length, message after message; stops before
 * a message with files once it has bytes (their fds go with their own
 * bytes, as Linux). With MSG_PEEK nothing is consumed. The count, or an
 * error (0 at the end of the stream).
 */
static long recv_stream(struct sock *sk, struct sock_iter *it, struct recv_args *ra)
{
	bool peek = ra->flags & MSG_PEEK, waitall = (ra->flags & MSG_WAITALL) && !peek;
	uint64_t deadline = deadline_of(sk->rcvtimeo), done = 0;
	struct list_node freed = LIST_HEAD_INIT(freed), *cur;
	uint32_t off;
	long ret = 0;

	spin_lock(&sock_wq.lock);
	ret = take_read_token(sk);
	if (ret)
		goto unlock;
	cur = sk->queue.next;
	off = cur != &sk->queue ? list_entry(cur, struct sock_msg, node)->off : 0;
	while (it->left) {
		struct sock_msg *m;
		uint64_t n;

		if (cur == &sk->queue) {
			if (done && (!waitall || peek))
				break;
			ret = wait_for_msg(sk, ra->nonblock, deadline);
			if (ret <= 0)
				break;
			cur = sk->queue.next;
			off = list_entry(cur, struct sock_msg, node)->off;
			continue;
		}
		m = list_entry(cur, struct sock_msg, node);
		if (done && m->nfiles && !peek)
			break;
		n = min_u64(m->len - off, it->left);
		spin_unlock(&sock_wq.lock);
		ret = iter_copy(it, m->data + off, n, true);
		spin_lock(&sock_wq.lock);
		if (ret)
			break;
		if (!done)
			take_msg_extras(ra, m);
		done += n;
		off += (uint32_t)n;
		if (peek) {
			if (off == m->len)
				peek_next(&cur, &off);
			continue;
		}
		m->off = off;
		if (m->off == m->len) {
			unqueue_msg_locked(sk, m);
			list_push_back(&freed, &m->node);
			cur = sk->queue.next;
			off = cur != &sk->queue ? list_entry(cur, struct sock_msg, node)->off : 0;
		}
	}
	put_read_token(sk);
unlock:
	spin_unlock(&sock_wq.lock);
	if (!list_empty(&freed)) {
		file_poll_event();
		msgs_free(&freed);
	}
	return done ? (long)done : ret;
}

static long sock_recv(struct sock *sk, struct sock_iter *it, struct recv_args *ra)
{
	if (it->left == 0 && sk->type == SOCK_STREAM)
		return 0;
	return sk->type == SOCK_STREAM ? recv_stream(sk, it, ra) : recv_message(sk, it, ra);
}

/* Puts the files a receive got and did not install (read, recvfrom:
 * nowhere to go; installed ones are NULL). */
static void drop_files(struct recv_args *ra)
{
	for (unsigned i = 0; i < ra->nfiles; i++)
		if (ra->files[i])
			file_put(ra->files[i]);
	kfree(ra->files);
	ra->files = NULL;
	ra->nfiles = 0;
}

/* ---- the file ------------------------------------------------------------------ */

static long sock_read(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos)
{
	struct recv_args ra = {.nonblock = f->flags & O_NONBLOCK};
	struct sock_iter it;
	struct k_iovec one;
	long ret;

	iter_one(&it, &one, ubuf, len);
	ret = sock_recv(f->priv, &it, &ra);
	drop_files(&ra);
	return ret;
}

static long sock_write(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos)
{
	struct send_args sa = {.nonblock = f->flags & O_NONBLOCK};
	struct sock_iter it;
	struct k_iovec one;

	iter_one(&it, &one, ubuf, len);
	return sock_send(f->priv, &it, &sa);
}

/* Whether a send would find room now. Lock held. */
static bool sock_writable_locked(struct sock *sk)
{
	struct sock *peer = sk->peer;

	if (sk->state == SOCK_LISTENING)
		return false;
	if (!peer || peer->dead)
		return true; /* the send fails at once: not a wait */
	return has_room(peer, sk, sk->type == SOCK_STREAM ? SOCK_CHUNK : 1);
}

static unsigned sock_poll(struct file *f)
{
	struct sock *sk = f->priv;
	unsigned mask = 0;

	spin_lock(&sock_wq.lock);
	if (sk->err)
		mask |= POLLERR;
	if (sk->shut == (SOCK_SHUT_RCV | SOCK_SHUT_SEND))
		mask |= POLLHUP;
	if (sk->shut & SOCK_SHUT_RCV)
		mask |= POLLRDHUP | POLLIN;
	if (sk->qcount || sk->npending)
		mask |= POLLIN;
	if (connection_type(sk) && sk->state == SOCK_UNCONNECTED)
		mask |= POLLHUP;
	if (sock_writable_locked(sk))
		mask |= POLLOUT;
	spin_unlock(&sock_wq.lock);
	return mask;
}

static uint64_t sock_poll_gen(struct file *f)
{
	struct sock *sk = f->priv;
	uint64_t gen;

	spin_lock(&sock_wq.lock);
	gen = sk->gen;
	spin_unlock(&sock_wq.lock);
	return gen;
}

static int sock_stat(struct file *f, struct fs_attr *attr)
{
	struct sock *sk = f->priv;

	memset(attr, 0, sizeof(*attr));
	attr->ino = sk->ino;
	attr->mode = FS_S_IFSOCK | 0777;
	attr->nlink = 1;
	attr->blksize = 4096;
	return 0;
}

/* FIONREAD (SIOCINQ): bytes to read (streams), the next message's
 * length (others). */
static long sock_ioctl(struct file *f, unsigned cmd, uint64_t arg)
{
	struct sock *sk = f->priv;
	struct list_node *n;
	int v = 0;

	if (cmd != FIONREAD)
		return -ENOTTY;
	spin_lock(&sock_wq.lock);
	if (sk->state == SOCK_LISTENING) {
		spin_unlock(&sock_wq.lock);
		return -EINVAL;
	}
	list_for_each(n, &sk->queue) {
		struct sock_msg *m = list_entry(n, struct sock_msg, node);

		v += (int)(m->len - m->off);
		if (sk->type != SOCK_STREAM)
			break;
	}
	spin_unlock(&sock_wq.lock);
	return copy_to_user(arg, &v, sizeof(v)) ? -EFAULT : 0;
}

static void sock_release(struct file *f)
{
	sock_close(f->priv);
}

static const struct file_ops sock_ops = {
	.read = sock_read,
	.write = sock_write,
	.poll = sock_poll,
	.poll_gen = sock_poll_gen,
	.stat = sock_stat,
	.ioctl = sock_ioctl,
	.seek = file_no_seek,
	.release = sock_release,
};

/* ---- system calls: making sockets ------------------------------------------------ */

/* sk (the caller's reference) as a new fd of p with SOCK_NONBLOCK,
 * SOCK_CLOEXEC from flags: the fd, or an error (sk closed). */
static long sock_install(struct process *p, struct sock *sk, unsigned flags)
{
	struct file *f = file_alloc(&sock_ops, O_RDWR | (flags & O_NONBLOCK), NULL, sk);

	if (!f) {
		sock_close(sk);
		return -ENOMEM;
	}
	return fd_install(p->files, f, 0, flags & O_CLOEXEC);
}

/* The socket at fd with its file's reference in *fp: -EBADF, -ENOTSOCK. */
static struct sock *sock_of(struct process *p, uint64_t fd, struct file **fp, long *err)
{
	struct file *f = fd <= INT32_MAX ? fd_get(p->files, (int)fd) : NULL;

	*err = -EBADF;
	if (!f)
		return NULL;
	if (f->ops != &sock_ops) {
		file_put(f);
		*err = -ENOTSOCK;
		return NULL;
	}
	*fp = f;
	*err = 0;
	return f->priv;
}

/* socket(2) and socketpair(2)'s checks: the type (without its flags, in
 * *flags), or an error. */
static long decode_type(uint64_t family, uint64_t type, uint64_t protocol, bool pair,
			unsigned *flags)
{
	int t = (int)(type & SOCK_TYPE_MASK);

	*flags = (unsigned)(type & ~(uint64_t)SOCK_TYPE_MASK);
	if (*flags & ~(unsigned)(O_NONBLOCK | O_CLOEXEC) || type >> 32)
		return -EINVAL;
	if (t >= 11) /* Linux's SOCK_MAX */
		return -EINVAL;
	if (family != AF_UNIX)
		return pair && (family == AF_INET || family == AF_INET6) ? -EOPNOTSUPP
									  : -EAFNOSUPPORT;
	if (protocol != 0 && protocol != AF_UNIX)
		return -EPROTONOSUPPORT;
	if (t == SOCK_RAW)
		return SOCK_DGRAM;
	if (t != SOCK_STREAM && t != SOCK_DGRAM && t != SOCK_SEQPACKET)
		return -ESOCKTNOSUPPORT;
	return t;
}

long sys_socket(struct process *p, const uint64_t *a)
{
	unsigned flags;
	long type = decode_type(a[0], a[1], a[2], false, &flags);
	struct sock *sk;

	if (type < 0)
		return type;
	sk = sock_alloc((int)type);
	if (!sk)
		return -ENOMEM;
	return sock_install(p, sk, flags);
}

/* socketpair(family, type, protocol, sv) */
long sys_socketpair(struct process *p, const uint64_t *a)
{
	unsigned flags;
	long type = decode_type(a[0], a[1], a[2], true, &flags), fd[2];
	struct sock *sk[2];
	int ufd[2];

	if (type < 0)
		return type;
	sk[0] = sock_alloc((int)type);
	sk[1] = sock_alloc((int)type);
	if (!sk[0] || !sk[1]) {
		kfree(sk[0]);
		kfree(sk[1]);
		return -ENOMEM;
	}
	for (int i = 0; i < 2; i++) {
		sk[i]->peer = sk[1 - i];
		sk[i]->refs++; /* the other's pointer */
		sk[i]->state = SOCK_CONNECTED;
		sk[i]->peercred = cred_of(p);
	}
	fd[0] = sock_install(p, sk[0], flags);
	if (fd[0] < 0) {
		sock_close(sk[1]);
		return fd[0];
	}
	fd[1] = sock_install(p, sk[1], flags);
	if (fd[1] < 0)
		goto close_first;
	ufd[0] = (int)fd[0];
	ufd[1] = (int)fd[1];
	if (!copy_to_user(a[3], ufd, sizeof(ufd)))
		return 0;
	file_put(fd_close(p->files, ufd[1]));
	fd[1] = -EFAULT;
close_first:
	file_put(fd_close(p->files, (int)fd[0]));
	return fd[1];
}

/* ---- system calls: names ---------------------------------------------------------- */

/* Writes the address (len bytes) to uaddr with its length to *ulen, as
 * Linux: at most the user's length copied, the full length reported. */
static long put_name(uint64_t uaddr, uint64_t ulen, const struct k_sockaddr_un *addr,
		     uint32_t len)
{
	int32_t have;

	if (!uaddr)
		return 0;
	if (copy_from_user(&have, ulen, sizeof(have)))
		return -EFAULT;
	if (have < 0)
		return -EINVAL;
	if (copy_to_user(uaddr, addr, min_u64((uint32_t)have, len)))
		return -EFAULT;
	return copy_to_user(ulen, &len, sizeof(len)) ? -EFAULT : 0;
}

/* Binds sk to k (autobind: a free abstract name). Lock taken. */
static long bind_key(struct sock *sk, struct sock_key *k, bool autobind)
{
	struct sock_name *e = kzalloc(sizeof(*e) + (autobind ? 6 : k->keylen));
	long err = 0;

	if (!e)
		return -ENOMEM;
	spin_lock(&sock_wq.lock);
	if (autobind)
		autobind_key_locked(k, sk->type);
	if (sk->addrlen > SUN_PATH_OFF || sk->dead)
		err = -EINVAL;
	else if (name_find_locked(k->abstract, k->key, k->keylen, sk->type))
		err = -EADDRINUSE;
	if (!err) {
		e->type = sk->type;
		e->abstract = k->abstract;
		e->keylen = k->keylen;
		memcpy(e->key, k->key, k->keylen);
		name_attach_locked(sk, e, k);
	}
	spin_unlock(&sock_wq.lock);
	if (err)
		kfree(e);
	return err;
}

/* bind(fd, addr, addrlen) */
long sys_bind(struct process *p, const uint64_t *a)
{
	struct sock_key *k = kmalloc(sizeof(*k));
	struct file *f;
	bool autobind;
	long err = -ENOMEM;
	struct sock *sk;

	if (!k)
		return -ENOMEM;
	sk = sock_of(p, a[0], &f, &err);
	if (!sk)
		goto free_key;
	err = key_from_user(p, a[1], a[2], k, &autobind);
	if (!err && !autobind && !k->abstract)
		err = path_free_on_disk(p, k->key);
	if (!err)
		err = bind_key(sk, k, autobind);
	file_put(f);
free_key:
	kfree(k);
	return err;
}

static long get_name(struct process *p, const uint64_t *a, bool peer)
{
	struct k_sockaddr_un addr;
	uint32_t len = 0;
	struct file *f;
	long err;
	struct sock *sk = sock_of(p, a[0], &f, &err), *from;

	if (!sk)
		return err;
	err = -ENOTCONN;
	spin_lock(&sock_wq.lock);
	from = peer ? sk->peer : sk;
	if (from && (!peer || !connection_type(sk) || sk->state == SOCK_CONNECTED)) {
		addr = from->addr;
		len = from->addrlen;
		err = 0;
	}
	spin_unlock(&sock_wq.lock);
	file_put(f);
	return err ? err : put_name(a[1], a[2], &addr, len);
}

long sys_getsockname(struct process *p, const uint64_t *a)
{
	return get_name(p, a, false);
}

long sys_getpeername(struct process *p, const uint64_t *a)
{
	return get_name(p, a, true);
}

/* ---- system calls: connections ---------------------------------------------------- */

/* listen(fd, backlog) */
long sys_listen(struct process *p, const uint64_t *a)
{
	struct file *f;
	long err;
	struct sock *sk = sock_of(p, a[0], &f, &err);
	unsigned backlog = (unsigned)a[1];

	if (!sk)
		return err;
	spin_lock(&sock_wq.lock);
	if (!connection_type(sk))
		err = -EOPNOTSUPP;
	else if (sk->addrlen == SUN_PATH_OFF || sk->state == SOCK_CONNECTED)
		err = -EINVAL;
	if (!err) {
		sk->state = SOCK_LISTENING;
		sk->backlog = backlog > SOMAXCONN ? SOMAXCONN : backlog;
		sk->peercred = cred_of(p);
		sock_changed_locked(sk);
	}
	spin_unlock(&sock_wq.lock);
	file_put(f);
	return err;
}

/* Connects sk to the listener other by queueing newsk (which the caller
 * made) on it. Lock held. */
static void link_embryo_locked(struct process *p, struct sock *sk, struct sock *other,
			       struct sock *newsk)
{
	newsk->state = SOCK_CONNECTED;
	newsk->embryo = true;
	newsk->peer = sk;
	sk->refs++;
	sk->peer = newsk;
	newsk->refs++;
	newsk->addr = other->addr;
	newsk->addrlen = other->addrlen;
	newsk->peercred = cred_of(p);
	sk->peercred = other->peercred;
	sk->state = SOCK_CONNECTED;
	list_push_back(&other->pending, &newsk->link);
	other->npending++;
	sock_changed_locked(other);
	sock_changed_locked(sk);
}

/*
 * One try of a stream or seqpacket connect to other (a reference the
 * caller drops): 0 when connected, 1 to look the name up again after a
 * wait for room, or an error, checked in Linux's order (the listener
 * first, then the caller's state). Lock held.
 */
static long connect_try_locked(struct process *p, struct sock *sk, struct sock *other,
			       struct sock *newsk, bool nonblock, uint64_t deadline)
{
	long err;

	if (other->type != sk->type)
		return -EPROTOTYPE;
	if (other->dead || other->state != SOCK_LISTENING)
		return -ECONNREFUSED;
	if (other->npending > other->backlog) {
		if (nonblock)
			return -EAGAIN;
		err = sock_sleep(deadline);
		return err ? err : 1;
	}
	if (sk->state != SOCK_UNCONNECTED)
		return sk->state == SOCK_CONNECTED ? -EISCONN : -EINVAL;
	link_embryo_locked(p, sk, other, newsk);
	return 0;
}

static long connect_stream(struct process *p, struct sock *sk, const struct sock_key *k,
			   bool nonblock)
{
	struct sock *newsk = sock_alloc(sk->type), *other;
	uint64_t deadline = deadline_of(sk->sndtimeo);
	long err;

	if (!newsk)
		return -ENOMEM;
	do {
		other = name_lookup(p, k, sk->type, &err);
		if (!other)
			break;
		spin_lock(&sock_wq.lock);
		err = connect_try_locked(p, sk, other, newsk, nonblock, deadline);
		sock_put_locked(other);
		spin_unlock(&sock_wq.lock);
	} while (err == 1);
	if (err) {
		kfree(newsk);
		return err;
	}
	file_poll_event();
	return 0;
}

/* A datagram socket's default peer: other, or none (AF_UNSPEC: k NULL). */
static long connect_dgram(struct process *p, struct sock *sk, const struct sock_key *k)
{
	struct sock *other = NULL, *old;
	long err = 0;

	if (k) {
		other = name_lookup(p, k, sk->type, &err);
		if (!other)
			return err;
	}
	spin_lock(&sock_wq.lock);
	if (other && (other->type != sk->type || other->dead))
		err = other->dead ? -ECONNREFUSED : -EPROTOTYPE;
	if (!err) {
		old = sk->peer;
		sk->peer = other;
		other = old; /* the reference to drop */
		sock_changed_locked(sk);
	}
	if (other)
		sock_put_locked(other);
	spin_unlock(&sock_wq.lock);
	file_poll_event();
	return err;
}

/* connect(fd, addr, addrlen) */
long sys_connect(struct process *p, const uint64_t *a)
{
	struct sock_key *k = kmalloc(sizeof(*k));
	struct file *f;
	uint16_t family = 0;
	bool autobind;
	struct sock *sk;
	long err = -ENOMEM;

	if (!k)
		return -ENOMEM;
	sk = sock_of(p, a[0], &f, &err);
	if (!sk)
		goto free_key;
	if (a[2] >= sizeof(family) && copy_from_user(&family, a[1], sizeof(family)))
		err = -EFAULT;
	else if (family == 0 && a[2] >= sizeof(family) && !connection_type(sk))
		err = connect_dgram(p, sk, NULL); /* AF_UNSPEC: disconnect */
	else if (!(err = key_from_user(p, a[1], a[2], k, &autobind)) && autobind)
		err = -EINVAL;
	else if (!err)
		err = connection_type(sk) ? connect_stream(p, sk, k, f->flags & O_NONBLOCK)
					  : connect_dgram(p, sk, k);
	file_put(f);
free_key:
	kfree(k);
	return err;
}

/* accept4(fd, addr, addrlen, flags) */
long sys_accept4(struct process *p, const uint64_t *a)
{
	struct k_sockaddr_un addr;
	struct sock *sk, *newsk = NULL;
	unsigned flags = (unsigned)a[3];
	uint32_t len = 0;
	struct file *f;
	long err, fd;

	if (a[3] & ~(uint64_t)(O_NONBLOCK | O_CLOEXEC))
		return -EINVAL;
	sk = sock_of(p, a[0], &f, &err);
	if (!sk)
		return err;
	spin_lock(&sock_wq.lock);
	uint64_t deadline = deadline_of(sk->rcvtimeo);

	while (!err && !newsk) {
		if (!connection_type(sk))
			err = -EOPNOTSUPP;
		else if (sk->state != SOCK_LISTENING)
			err = -EINVAL;
		else if (sk->npending)
			newsk = list_entry(list_pop_front(&sk->pending), struct sock, link);
		else
			err = f->flags & O_NONBLOCK ? -EAGAIN : sock_sleep(deadline);
	}
	if (newsk) {
		sk->npending--;
		newsk->embryo = false;
		sock_changed_locked(sk);
		if (newsk->peer) {
			addr = newsk->peer->addr;
			len = newsk->peer->addrlen;
		}
	}
	spin_unlock(&sock_wq.lock);
	file_put(f);
	if (err)
		return err;
	file_poll_event();
	fd = sock_install(p, newsk, flags);
	if (fd < 0 || !a[1])
		return fd;
	err = put_name(a[1], a[2], &addr, len);
	if (err) {
		file_put(fd_close(p->files, (int)fd));
		return err;
	}
	return fd;
}

long sys_accept(struct process *p, const uint64_t *a)
{
	const uint64_t b[6] = {a[0], a[1], a[2], 0};

	return sys_accept4(p, b);
}

/* shutdown(fd, how): this end, and the other end of a connection. */
long sys_shutdown(struct process *p, const uint64_t *a)
{
	struct file *f;
	long err;
	struct sock *sk;
	unsigned mode;

	if (a[1] > SHUT_RDWR)
		return -EINVAL;
	sk = sock_of(p, a[0], &f, &err);
	if (!sk)
		return err;
	mode = (unsigned)a[1] + 1; /* SHUT_RD: SOCK_SHUT_RCV ... */
	spin_lock(&sock_wq.lock);
	sk->shut |= mode;
	sock_changed_locked(sk);
	if (sk->peer && connection_type(sk)) {
		sk->peer->shut |= (mode & SOCK_SHUT_RCV ? SOCK_SHUT_SEND : 0) |
				  (mode & SOCK_SHUT_SEND ? SOCK_SHUT_RCV : 0);
		sock_changed_locked(sk->peer);
	}
	spin_unlock(&sock_wq.lock);
	file_poll_event();
	file_put(f);
	return 0;
}

/* ---- system calls: data ----------------------------------------------------------- */

/* The files of SCM_RIGHTS messages in the control buffer (ulen bytes at
 * uctl) into sa (kmalloc'd array, references taken); other control
 * messages ignored. 0, -EINVAL (malformed, too many), -EBADF, -ENOBUFS,
 * -EFAULT, -ENOMEM. */
static long scm_from_user(struct process *p, uint64_t uctl, uint64_t ulen,
			  struct send_args *sa)
{
	uint8_t *buf;
	uint64_t at = 0;
	long err = 0;

	if (ulen > 20480) /* Linux's optmem_max */
		return -ENOBUFS;
	if (ulen < sizeof(struct k_cmsghdr))
		return 0;
	buf = kmalloc(ulen);
	if (!buf)
		return -ENOMEM;
	if (copy_from_user(buf, uctl, ulen))
		err = -EFAULT;
	while (!err && ulen - at >= sizeof(struct k_cmsghdr)) {
		struct k_cmsghdr h;
		unsigned n;

		memcpy(&h, buf + at, sizeof(h));
		if (h.len < sizeof(h) || h.len > ulen - at) {
			err = -EINVAL;
			break;
		}
		n = (unsigned)((h.len - sizeof(h)) / sizeof(int));
		if (h.level == SOL_SOCKET && h.type == SCM_RIGHTS) {
			if (!sa->files)
				sa->files = kmalloc(SCM_MAX_FD * sizeof(*sa->files));
			if (!sa->files)
				err = -ENOMEM;
			else if (n == 0 || sa->nfiles + n > SCM_MAX_FD)
				err = -EINVAL;
			for (unsigned i = 0; !err && i < n; i++) {
				int fd;

				memcpy(&fd, buf + at + sizeof(h) + i * sizeof(int), sizeof(fd));
				sa->files[sa->nfiles] = fd >= 0 ? fd_get(p->files, fd) : NULL;
				if (!sa->files[sa->nfiles])
					err = -EBADF;
				else
					sa->nfiles++;
			}
		}
		at += CMSG_ALIGN8(h.len);
	}
	kfree(buf);
	return err;
}

/* Puts the files of a send that did not take them. */
static void scm_drop(struct send_args *sa)
{
	for (unsigned i = 0; i < sa->nfiles; i++)
		file_put(sa->files[i]);
	kfree(sa->files);
	sa->files = NULL;
	sa->nfiles = 0;
}

/*
 * The send every call shares: flags checked (MSG_OOB: -EOPNOTSUPP), the
 * address (uaddr, ulen bytes; none if 0) decoded, the bytes of the
 * iterator sent; files (SCM_RIGHTS) put if they did not go. A datagram
 * to a path nobody bound is -ENOENT, or -ECONNREFUSED if a file is
 * there.
 */
static long send_common(struct process *p, struct file *f, struct sock_iter *it,
			uint64_t uaddr, uint64_t ulen, struct send_args *sa)
{
	struct sock_key *k = NULL;
	bool autobind;
	long ret = 0;

	sa->nonblock = (f->flags & O_NONBLOCK) || (sa->flags & MSG_DONTWAIT);
	if (sa->flags & MSG_OOB)
		ret = -EOPNOTSUPP;
	if (!ret && uaddr && ulen) {
		k = kmalloc(sizeof(*k));
		ret = k ? key_from_user(p, uaddr, ulen, k, &autobind) : -ENOMEM;
		if (!ret && autobind)
			ret = -EINVAL;
		sa->to = k;
	}
	if (!ret)
		ret = sock_send(f->priv, it, sa);
	if (ret == -ENOENT && k) {
		struct fs_attr attr;

		if (file_stat_path(p, k->key, false, 0, &attr) == 0)
			ret = -ECONNREFUSED;
	}
	scm_drop(sa);
	kfree(k);
	return ret;
}

/* sendto(fd, buf, len, flags, addr, addrlen) */
long sys_sendto(struct process *p, const uint64_t *a)
{
	struct send_args sa = {.flags = (unsigned)a[3]};
	struct sock_iter it;
	struct k_iovec one;
	struct file *f;
	long err;

	if (!sock_of(p, a[0], &f, &err))
		return err;
	iter_one(&it, &one, a[1], a[2]);
	err = send_common(p, f, &it, a[4], (uint32_t)a[5], &sa);
	file_put(f);
	return err;
}

/* sendmsg(fd, msg, flags) */
long sys_sendmsg(struct process *p, const uint64_t *a)
{
	struct send_args sa = {.flags = (unsigned)a[2]};
	struct k_msghdr mh;
	struct sock_iter it = {0};
	struct file *f;
	long err;

	if (!sock_of(p, a[0], &f, &err))
		return err;
	if (copy_from_user(&mh, a[1], sizeof(mh)))
		err = -EFAULT;
	if (!err)
		err = iter_init(&it, mh.iov, mh.iovlen);
	if (!err)
		err = scm_from_user(p, mh.control, mh.controllen, &sa);
	if (!err)
		err = send_common(p, f, &it, mh.name, mh.namelen, &sa); /* puts the files */
	scm_drop(&sa);
	kfree(it.iov);
	file_put(f);
	return err;
}

/* The receive every call shares: flags checked, then sock_recv. */
static long recv_common(struct file *f, struct sock_iter *it, struct recv_args *ra)
{
	ra->nonblock = (f->flags & O_NONBLOCK) || (ra->flags & MSG_DONTWAIT);
	if (ra->flags & MSG_OOB)
		return -EOPNOTSUPP;
	return sock_recv(f->priv, it, ra);
}

/* recvfrom(fd, buf, len, flags, addr, addrlen) */
long sys_recvfrom(struct process *p, const uint64_t *a)
{
	struct recv_args ra = {.flags = (unsigned)a[3]};
	struct sock_iter it;
	struct k_iovec one;
	struct file *f;
	long ret, err;

	if (!sock_of(p, a[0], &f, &ret))
		return ret;
	iter_one(&it, &one, a[1], a[2]);
	ret = recv_common(f, &it, &ra);
	drop_files(&ra);
	file_put(f);
	if (ret >= 0 && a[4]) {
		err = put_name(a[4], a[5], &ra.from, ra.fromlen);
		if (err)
			return err;
	}
	return ret;
}

/* Installs the received files as fds and writes their SCM_RIGHTS message
 * into the control buffer (room bytes at uctl): the bytes used; the
 * files that do not fit are put and MSG_CTRUNC reported. */
static uint64_t scm_to_user(struct process *p, uint64_t uctl, uint64_t room,
			    struct recv_args *ra)
{
	uint64_t max = room >= sizeof(struct k_cmsghdr)
			       ? (room - sizeof(struct k_cmsghdr)) / sizeof(int)
			       : 0;
	struct k_cmsghdr h = {.level = SOL_SOCKET, .type = SCM_RIGHTS};
	unsigned done = 0;
	uint64_t used;

	for (unsigned i = 0; i < ra->nfiles; i++) {
		int fd = -1;

		if (i < max) {
			fd = fd_install(p->files, ra->files[i], 0, ra->flags & MSG_CMSG_CLOEXEC);
			ra->files[i] = NULL; /* taken over (put on failure) */
		}
		if (fd < 0 || copy_to_user(uctl + sizeof(h) + done * sizeof(int), &fd,
					   sizeof(fd))) {
			if (fd >= 0)
				file_put(fd_close(p->files, fd));
			ra->out_flags |= MSG_CTRUNC;
			continue;
		}
		done++;
	}
	drop_files(ra);
	if (!done)
		return 0;
	h.len = sizeof(h) + done * sizeof(int);
	(void)copy_to_user(uctl, &h, sizeof(h));
	used = CMSG_ALIGN8(h.len);
	return used < room ? used : room;
}

/* recvmsg(fd, msg, flags) */
long sys_recvmsg(struct process *p, const uint64_t *a)
{
	struct recv_args ra = {.flags = (unsigned)a[2]};
	struct k_msghdr mh;
	struct sock_iter it = {0};
	uint64_t ctl_used = 0;
	struct file *f;
	long ret;

	if (!sock_of(p, a[0], &f, &ret))
		return ret;
	if (copy_from_user(&mh, a[1], sizeof(mh)))
		ret = -EFAULT;
	if (!ret)
		ret = iter_init(&it, mh.iov, mh.iovlen);
	if (!ret)
		ret = recv_common(f, &it, &ra);
	file_put(f);
	if (ret >= 0 && ra.nfiles)
		ctl_used = scm_to_user(p, mh.control, mh.controllen, &ra);
	drop_files(&ra);
	if (ret >= 0) {
		uint32_t namelen = mh.name ? ra.fromlen : 0;

		if ((mh.name && ra.fromlen &&
		     copy_to_user(mh.name, &ra.from, min_u64(mh.namelen, ra.fromlen))) ||
		    copy_to_user(a[1] + offsetof(struct k_msghdr, namelen), &namelen,
				 sizeof(namelen)) ||
		    copy_to_user(a[1] + offsetof(struct k_msghdr, controllen), &ctl_used,
				 sizeof(ctl_used)) ||
		    copy_to_user(a[1] + offsetof(struct k_msghdr, flags), &ra.out_flags,
				 sizeof(ra.out_flags)))
			ret = -EFAULT;
	}
	kfree(it.iov);
	return ret;
}

/* ---- system calls: options -------------------------------------------------------- */

/* Options kept as a flag and otherwise ignored (top comment). */
static bool flag_option(uint64_t name)
{
	switch (name) {
	case 1:	 /* SO_DEBUG */
	case 2:	 /* SO_REUSEADDR */
	case 5:	 /* SO_DONTROUTE */
	case 6:	 /* SO_BROADCAST */
	case 9:	 /* SO_KEEPALIVE */
	case 10: /* SO_OOBINLINE */
	case 15: /* SO_REUSEPORT */
	case 16: /* SO_PASSCRED */
	case 29: /* SO_TIMESTAMP */
	case 34: /* SO_PASSSEC */
		return true;
	}
	return false;
}

/* An option's value as getsockopt gives it, into buf: its length, or
 * -ENOPROTOOPT. Lock held. */
static long option_value(struct sock *sk, uint64_t name, void *buf)
{
	int v;

	switch (name) {
	case SO_PEERCRED:
		memcpy(buf, &sk->peercred, sizeof(sk->peercred));
		return sizeof(sk->peercred);
	case SO_RCVTIMEO:
	case SO_SNDTIMEO: {
		uint64_t ns = name == SO_RCVTIMEO ? sk->rcvtimeo : sk->sndtimeo;
		struct k_timeval tv = {(int64_t)(ns / NS_PER_S),
				       (int64_t)(ns % NS_PER_S / 1000)};

		memcpy(buf, &tv, sizeof(tv));
		return sizeof(tv);
	}
	case SO_TYPE:	   v = sk->type; break;
	case SO_ERROR:	   v = sk->err; sk->err = 0; break;
	case SO_SNDBUF:	   v = (int)sk->sndbuf; break;
	case SO_RCVBUF:	   v = (int)sk->rcvbuf; break;
	case SO_ACCEPTCONN: v = sk->state == SOCK_LISTENING; break;
	case SO_DOMAIN:	   v = AF_UNIX; break;
	case SO_PROTOCOL:  v = 0; break;
	default:
		if (!flag_option(name))
			return -ENOPROTOOPT;
		v = (sk->opt_flags >> name) & 1;
	}
	memcpy(buf, &v, sizeof(v));
	return sizeof(v);
}

/* getsockopt(fd, level, name, value, len) */
long sys_getsockopt(struct process *p, const uint64_t *a)
{
	uint8_t buf[sizeof(struct k_timeval)];
	struct file *f;
	struct sock *sk;
	int32_t have;
	long len;

	sk = sock_of(p, a[0], &f, &len);
	if (!sk)
		return len;
	if (a[1] != SOL_SOCKET) {
		file_put(f);
		return -EOPNOTSUPP;
	}
	spin_lock(&sock_wq.lock);
	len = option_value(sk, a[2], buf);
	spin_unlock(&sock_wq.lock);
	file_put(f);
	if (len < 0)
		return len;
	if (copy_from_user(&have, a[4], sizeof(have)))
		return -EFAULT;
	if (have < 0)
		return -EINVAL;
	len = (long)min_u64((uint32_t)have, (uint64_t)len);
	if (copy_to_user(a[3], buf, (size_t)len) || copy_to_user(a[4], &len, sizeof(int32_t)))
		return -EFAULT;
	return 0;
}

/* A buffer size as Linux keeps it: doubled, within limits. */
static uint32_t buf_size(int v, uint32_t min)
{
	uint64_t n = v < 0 ? 0 : (uint64_t)v;

	n = min_u64(n, SOCK_QUEUE_MAX) * 2;
	return (uint32_t)(n < min ? min : n);
}

/* Sets one option from the value decoded into v (int) or tv (timeval).
 * Lock held. */
static long option_set(struct sock *sk, uint64_t name, int v, const struct k_timeval *tv,
		       long have_tv)
{
	switch (name) {
	case SO_SNDBUF:
	case SO_SNDBUFFORCE:
		sk->sndbuf = buf_size(v, 4608);
		return 0;
	case SO_RCVBUF:
	case SO_RCVBUFFORCE:
		sk->rcvbuf = buf_size(v, 2304);
		return 0;
	case SO_RCVTIMEO:
	case SO_SNDTIMEO: {
		uint64_t ns = 0;

		if (!have_tv)
			return -EINVAL;
		if (tv->usec < 0 || tv->usec >= 1000000)
			return -EDOM;
		if (tv->sec > 0 || tv->usec > 0)
			ns = (uint64_t)(tv->sec < 0 ? 0 : tv->sec) * NS_PER_S +
			     (uint64_t)tv->usec * 1000;
		*(name == SO_RCVTIMEO ? &sk->rcvtimeo : &sk->sndtimeo) = ns;
		return 0;
	}
	case SO_TYPE:
	case SO_ERROR:
	case SO_PEERCRED:
	case SO_ACCEPTCONN:
	case SO_DOMAIN:
	case SO_PROTOCOL:
		return -ENOPROTOOPT;
	}
	if (!flag_option(name))
		return -ENOPROTOOPT;
	sk->opt_flags = v ? sk->opt_flags | 1ull << name : sk->opt_flags & ~(1ull << name);
	return 0;
}

/* setsockopt(fd, level, name, value, len) */
long sys_setsockopt(struct process *p, const uint64_t *a)
{
	struct k_timeval tv = {0};
	struct file *f;
	struct sock *sk;
	long err, have_tv = a[4] >= sizeof(tv);
	int v = 0;

	sk = sock_of(p, a[0], &f, &err);
	if (!sk)
		return err;
	if (a[1] != SOL_SOCKET)
		err = -EOPNOTSUPP;
	else if ((int32_t)a[4] < (int32_t)sizeof(int))
		err = -EINVAL;
	else if (copy_from_user(&v, a[3], sizeof(v)) ||
		 (have_tv && copy_from_user(&tv, a[3], sizeof(tv))))
		err = -EFAULT;
	if (!err) {
		spin_lock(&sock_wq.lock);
		err = option_set(sk, a[2], v, &tv, have_tv);
		spin_unlock(&sock_wq.lock);
	}
	file_put(f);
	return err;
}
