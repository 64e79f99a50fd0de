/*
 * The client side of the buffer cache protocol (net/bc_client.c; the
 * protocol and its coherence rule are in include/proto/bcache.h): a
 * processor's reads and writes of regular files through the memory node
 * that caches its vNode's files.
 *
 * Every call names the cache node and the file (struct bc_target), sleeps
 * until the reply(s) and returns a byte count or 0, or a negative errno:
 * the cache node's (which passes on the storage node's), or the RPC
 * layer's (-ETIMEDOUT, -ECONNRESET, -EHOSTUNREACH). Any number of threads
 * may call at once. Thread context.
 */
#ifndef NET_BC_CLIENT_H
#define NET_BC_CLIENT_H

#include <proto/bcache.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The file: where it lives and who asks. */
struct bc_target {
	uint16_t storage;	    /* the storage node that serves path */
	const struct fs_cred *cred; /* NULL: uid 0 */
	const char *path;
	uint64_t ino;		    /* from the open's attributes (fs_attr.ino) */
	uint32_t gen;		    /* with exact: fs_attr.gen */
	bool exact;		    /* only that (ino, gen): else -ESTALE (BC_EXACT) */
};

/* Reads up to len bytes of t at offset into buf (kernel memory, any
 * length): the bytes read, fewer only at the end of the file. */
long bcc_read(uint16_t node, const struct bc_target *t, uint64_t offset, void *buf,
	      size_t len);
/*
 * Writes len bytes of buf to t at offset, or, with append, at the end of
 * the file as the cache node finds it (each BC_IO_MAX piece is one atomic
 * append). Returns the bytes written (fewer than len only when a later
 * piece failed) or a negative errno; *at (if not NULL) where the first
 * byte went.
 */
long bcc_write(uint16_t node, const struct bc_target *t, uint64_t offset, const void *buf,
	       size_t len, bool append, uint64_t *at);
/* Truncates t to size; *attr (if not NULL) its attributes after. */
int bcc_truncate(uint16_t node, const struct bc_target *t, uint64_t size,
		 struct fs_attr *attr);
/* Makes the cache node forget every page of inode ino of storage. */
int bcc_forget(uint16_t node, uint16_t storage, uint64_t ino);

#endif
