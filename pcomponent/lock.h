/*
 * Record locks and flock locks of the processor's files (pcomponent/
 * lock.c): fcntl's F_SETLK, F_SETLKW, F_GETLK, their open-file-
 * description twins F_OFD_*, and flock(2), with Linux's semantics among
 * the processes of this processor. The locks are processor-local: the
 * processes of another processor of the vNode do not see them.
 *
 * A lock belongs to an owner and lies on a file (its key: the storage
 * inode of a regular file or directory, else the open file itself):
 *   LOCK_POSIX  fcntl F_SETLK: the owner is the process's fd table
 *               (Linux's files_struct: the threads share it, a fork child
 *               has its own); every close of an fd of the file by that
 *               table drops all of the owner's locks on it (lock_fd_closed)
 *   LOCK_OFD    F_OFD_SETLK: the owner is the open file description;
 *               conflicts with POSIX locks as another owner's
 *   LOCK_FLOCK  flock(2): the owner is the open file description, the
 *               whole file; a name space of its own (no conflict with
 *               the other two)
 * OFD and flock locks go when their file's last reference does
 * (lock_file_gone).
 */
#ifndef PCOMPONENT_LOCK_H
#define PCOMPONENT_LOCK_H

#include <stdbool.h>
#include <stdint.h>

struct fd_table;
struct file;

/* Linux's lock types (struct flock's l_type). */
#define F_RDLCK 0
#define F_WRLCK 1
#define F_UNLCK 2

#define LOCK_EOF INT64_MAX /* a range's end "to the end of the file" (OFFSET_MAX) */

enum lock_kind { LOCK_POSIX, LOCK_OFD, LOCK_FLOCK };

/* A lock request or a lock found: type over [start, end] (inclusive,
 * end LOCK_EOF at most, start <= end), and who holds it (lock_test). */
struct lock_range {
	int type;
	int64_t start, end;
	int32_t pid; /* lock_test: the holder's pid (POSIX), -1 (OFD, flock) */
};

/*
 * Sets (F_RDLCK, F_WRLCK) or removes (F_UNLCK) owner's lock of kind on
 * r's range of f's file, as Linux's F_SETLK / flock: the owner's own
 * locks in the range are replaced (split, and merged with their
 * neighbours of the same type); flock converts by dropping the old lock
 * first. pid is the caller's process (what F_GETLK reports). Returns 0,
 * -EAGAIN if another owner's lock conflicts (without wait), -EINTR if a
 * signal ended the wait, -EDEADLK if waiting would close a cycle of
 * POSIX owners waiting for each other, -ENOMEM. With wait it sleeps
 * (interruptibly) until the lock can be had.
 */
int lock_set(struct file *f, enum lock_kind kind, const void *owner, int32_t pid,
	     const struct lock_range *r, bool wait);

/*
 * F_GETLK: the first lock of another owner that would conflict with r
 * (kind LOCK_POSIX or LOCK_OFD) into *r (its type, range and pid), or
 * r->type = F_UNLCK if none would. Returns 0.
 */
int lock_test(struct file *f, enum lock_kind kind, const void *owner, struct lock_range *r);

/* Table t closed an fd of f: t's POSIX locks on f's file go. Cheap when
 * no lock exists. May be called with any f. */
void lock_fd_closed(const struct fd_table *t, struct file *f);

/* f's last reference went: its OFD and flock locks go. */
void lock_file_gone(struct file *f);

#endif
