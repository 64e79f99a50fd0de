/*
 * fabricd's control protocol (tools/fabricd/control.c): one command line
 * in, one reply line out, applied to the fabric (wire.h). No I/O: fabricd.c
 * owns the sockets. The commands are listed in docs/fabric.md and by
 * `help`.
 */
#ifndef FABRICD_CONTROL_H
#define FABRICD_CONTROL_H

#include "wire.h"

#include <stdarg.h>
#include <stddef.h>

/* A growing text buffer. */
struct fab_buf {
	char *p;
	size_t len, cap;
	bool oom; /* an append failed: contents are truncated */
};

/* Appends printf-formatted text to b. */
void fab_buf_printf(struct fab_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Drops the first n bytes of b. */
void fab_buf_consume(struct fab_buf *b, size_t n);

void fab_buf_free(struct fab_buf *b);

enum fab_control_result {
	FAB_CONTROL_OK,	   /* reply written ("ok ...") */
	FAB_CONTROL_ERROR, /* reply written ("error: ...") */
	FAB_CONTROL_QUIT,  /* reply written; fabricd should exit */
};

/*
 * Executes the command line (no newline; surrounding blanks ignored) on f
 * and appends exactly one reply line, with its '\n', to out. Checks the
 * whole command before changing anything.
 */
enum fab_control_result fab_control(struct fab_fabric *f, const char *line,
				    struct fab_buf *out);

/*
 * Appends the one-line JSON object of `stats` (no newline) to out. Each
 * node's "status" member comes from its window's status page as read
 * now; heartbeat ages are relative to the last fab_status_sample.
 */
void fab_stats_json(const struct fab_fabric *f, struct fab_buf *out);

/* What reading a node's status page gave (fab_status_read). */
enum fab_status_read {
	FAB_STATUS_NONE, /* not attached, or no FAB_STATUS_MAGIC: nothing there */
	FAB_STATUS_OK,	 /* a consistent copy */
	FAB_STATUS_TORN, /* seq odd or changing on every try: the copy is torn */
};

/*
 * Copies node n's status page (struct fab_node_status at
 * FAB_STATUS_OFFSET of its window) into *out by the seqlock of fabric.h:
 * up to FAB_STATUS_TRIES copies until seq is even and unchanged. The page
 * is hostile: the caller must check every field of *out it uses.
 */
#define FAB_STATUS_TRIES 4
enum fab_status_read fab_status_read(const struct fab_node *n,
				     struct fab_node_status *out);

/*
 * Samples every attached node's heartbeat at now_ns (a monotonic clock in
 * nanoseconds): notes when it last changed, for "heartbeat_age_ms".
 * fabricd calls it about once a second and before every control command.
 */
void fab_status_sample(struct fab_fabric *f, uint64_t now_ns);

/*
 * Appends the "status" value of port p (the JSON null or an object, see
 * docs/fabric.md) to out, as read now, ages relative to now_ns.
 */
void fab_status_json(const struct fab_port *p, uint64_t now_ns, struct fab_buf *out);

#endif
