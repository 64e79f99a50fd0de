/*
 * The host side of the hostlink (include/proto/hostlink.h): the byte
 * stream on a processor's second serial port, reached through QEMU's
 * socket RUN/NAME.hostlink. Lines of escaped words; this file frames them
 * (a '\r' before the '\n' is dropped, a serial line may add one) and
 * escapes/unescapes words. What the messages mean is run.c's business.
 */
#define _GNU_SOURCE
#include "tessera.h"

#include "proto/hostlink.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int hostlink_open(struct hostlink *h, const char *dir, const char *name)
{
	char sock[MF_NAME_MAX + 16];

	memset(h, 0, sizeof(*h));
	snprintf(sock, sizeof(sock), "%s.hostlink", name);
	h->fd = unix_connect(dir, sock);
	return h->fd < 0 ? -1 : 0;
}

void hostlink_close(struct hostlink *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR && !ts_signal)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int hostlink_send(struct hostlink *h, const char *type, unsigned id, char *const words[],
		  unsigned nwords)
{
	char line[HOSTLINK_LINE_MAX + 1];
	int o = snprintf(line, sizeof(line), "%s %u", type, id);

	if (nwords > HOSTLINK_MAX_ARGS) {
		errno = E2BIG;
		return -1;
	}
	for (unsigned i = 0; i < nwords; i++) {
		long n;

		if ((size_t)o + 2 >= sizeof(line)) {
			errno = E2BIG;
			return -1;
		}
		line[o++] = ' ';
		n = hostlink_escape(words[i], strlen(words[i]), line + o,
				    sizeof(line) - (size_t)o);
		if (n < 0) {
			errno = E2BIG;
			return -1;
		}
		o += (int)n;
	}
	if ((size_t)o + 1 > HOSTLINK_LINE_MAX) { /* the '\n' counts */
		errno = E2BIG;
		return -1;
	}
	line[o++] = '\n';
	return send_all(h->fd, line, (size_t)o);
}

/* Splits the NUL-terminated line into words; unescapes from the third
 * on. Returns the count, or -2 if a word is malformed. */
static int split_line(char *line, char **words, size_t *lens, unsigned max)
{
	unsigned n = 0;
	char *save = NULL;

	for (char *w = strtok_r(line, " ", &save); w && n < max;
	     w = strtok_r(NULL, " ", &save)) {
		long len = (long)strlen(w);

		if (n >= 2)
			len = hostlink_unescape(w);
		if (len < 0)
			return -2;
		words[n] = w;
		lens[n++] = (size_t)len;
	}
	return (int)n;
}

/* Takes one complete line out of the buffer into out; false if none. */
static bool take_line(struct hostlink *h, char *out, size_t cap)
{
	char *nl = memchr(h->buf, '\n', h->len);
	size_t len;

	if (!nl)
		return false;
	len = (size_t)(nl - h->buf);
	if (len && h->buf[len - 1] == '\r')
		len--;
	if (len >= cap)
		len = cap - 1;
	memcpy(out, h->buf, len);
	out[len] = '\0';
	h->len -= (size_t)(nl + 1 - h->buf);
	memmove(h->buf, nl + 1, h->len);
	return true;
}

/* Reads more bytes into the buffer. 1 read, 0 timeout, -1 error/EOF. */
static int fill(struct hostlink *h, int timeout_ms)
{
	struct pollfd p = {.fd = h->fd, .events = POLLIN};
	int r = poll(&p, 1, timeout_ms);
	ssize_t n;

	if (r <= 0)
		return r < 0 && errno != EINTR ? -1 : 0;
	if (h->len == sizeof(h->buf)) /* a line longer than any valid one */
		h->len = 0;
	n = recv(h->fd, h->buf + h->len, sizeof(h->buf) - h->len, 0);
	if (n < 0 && errno == EINTR)
		return 0;
	if (n <= 0) {
		if (n == 0)
			errno = 0;
		return -1;
	}
	h->len += (size_t)n;
	return 1;
}

int hostlink_recv(struct hostlink *h, int timeout_ms, char **words, size_t *lens,
		  unsigned max)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	while (!take_line(h, h->line, sizeof(h->line))) {
		int left = -1;

		if (deadline >= 0) {
			left = (int)(deadline - now_ms());
			if (left <= 0)
				return 0;
		}
		if (ts_signal)
			return 0;
		if (fill(h, left) < 0)
			return -1;
	}
	return split_line(h->line, words, lens, max);
}

int hostlink_send_bytes(struct hostlink *h, const char *type, unsigned id, const void *data,
			size_t len)
{
	char line[HOSTLINK_LINE_MAX + 1];
	int o = snprintf(line, sizeof(line), "%s %u ", type, id);
	long n = hostlink_escape(data, len, line + o, sizeof(line) - (size_t)o);

	if (n < 0 || (size_t)o + (size_t)n + 1 > HOSTLINK_LINE_MAX) {
		errno = E2BIG;
		return -1;
	}
	o += (int)n;
	line[o++] = '\n';
	return send_all(h->fd, line, (size_t)o);
}

int hostlink_fill_now(struct hostlink *h)
{
	return fill(h, 0);
}

int hostlink_take(struct hostlink *h, char **words, size_t *lens, unsigned max)
{
	int n;

	if (!take_line(h, h->line, sizeof(h->line)))
		return 0;
	n = split_line(h->line, words, lens, max);
	return n == 0 ? -2 : n; /* an empty line is malformed, not "none" */
}
