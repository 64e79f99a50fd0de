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

/* Appends the one-line JSON object of `stats` (no newline) to out. */
void fab_stats_json(const struct fab_fabric *f, struct fab_buf *out);

#endif
