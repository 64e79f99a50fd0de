/*
 * Small helpers every verb uses: messages with the "tessera: " prefix, the
 * monotonic clock, signal flags, whole-file reads and atomic writes, size
 * and duration formatting, number parsing, argv vectors and unix socket
 * connects. Nothing here knows about clusters.
 */
#define _GNU_SOURCE
#include "tessera.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t ts_signal;

static void vmsg(const char *fmt, va_list ap, int err)
{
	char text[2048];

	vsnprintf(text, sizeof(text), fmt, ap);
	if (err)
		fprintf(stderr, "tessera: %s: %s\n", text, strerror(err));
	else
		fprintf(stderr, "tessera: %s\n", text);
}

void msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap, 0);
	va_end(ap);
}

void msg_errno(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap, err ? err : EIO);
	va_end(ap);
}

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL); /* EINTR: the caller looks at ts_signal */
}

static void on_signal(int sig)
{
	ts_signal = sig;
}

int signals_catch(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: blocking calls see EINTR */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int read_fd(int fd, char **buf, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *p = malloc(cap);

	while (p) {
		ssize_t r;

		if (n + 1 >= cap) {
			char *q = realloc(p, cap * 2);

			if (!q)
				break;
			p = q;
			cap *= 2;
		}
		r = read(fd, p + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (r == 0) {
			p[n] = '\0';
			*buf = p;
			*len = n;
			return 0;
		}
		n += (size_t)r;
	}
	free(p);
	return -1;
}

int read_file(const char *path, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r, e;

	if (fd < 0)
		return -1;
	r = read_fd(fd, buf, len);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t w = write(fd, data, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

int write_file_atomic(const char *path, const char *data, size_t len)
{
	char tmp[PATH_MAX];
	int fd, e;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write_all(fd, data, len) < 0)
		goto remove_tmp;
	if (close(fd) < 0) {
		fd = -1;
		goto remove_tmp;
	}
	if (rename(tmp, path) < 0) {
		fd = -1;
		goto remove_tmp;
	}
	return 0;
remove_tmp:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = e;
	return -1;
}

int copy_file(const char *src, const char *dst)
{
	char *data;
	size_t len;
	int r;

	if (read_file(src, &data, &len) < 0)
		return -1;
	r = write_file_atomic(dst, data, len);
	free(data);
	return r;
}

const char *tail_start(const char *text, size_t len, unsigned lines)
{
	const char *start = text + len;

	if (lines && start > text && start[-1] == '\n')
		start--; /* the last line's own newline */
	while (start > text && lines) {
		start--;
		if (*start == '\n' && --lines == 0)
			return start + 1;
	}
	return lines ? text : text + len;
}

char *file_tail(const char *path, unsigned lines)
{
	char *text, *tail;
	size_t len;

	if (read_file(path, &text, &len) < 0)
		return NULL;
	tail = strdup(tail_start(text, len, lines));
	free(text);
	return tail;
}

int path_join(char *out, size_t cap, const char *a, const char *b)
{
	int n = snprintf(out, cap, "%s/%s", a, b);

	if (n < 0 || (size_t)n >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

const char *fmt_size(uint64_t bytes, char *buf, size_t cap)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (bytes && bytes % 1024 == 0 && u < 3) {
		bytes /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, cap, "%llu", (unsigned long long)bytes);
	else
		snprintf(buf, cap, "%llu%c", (unsigned long long)bytes, units[u]);
	return buf;
}

const char *fmt_human(uint64_t bytes, char *buf, size_t cap)
{
	static const char units[] = "KMGTP";
	double v = (double)bytes;
	int u = -1;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, cap, "%llu", (unsigned long long)bytes);
	else
		snprintf(buf, cap, "%.1f%c", v, units[u]);
	return buf;
}

const char *fmt_duration(uint64_t ms, char *buf, size_t cap)
{
	uint64_t s = ms / 1000;

	if (s < 60)
		snprintf(buf, cap, "%llu.%llus", (unsigned long long)s,
			 (unsigned long long)(ms % 1000 / 100));
	else if (s < 3600)
		snprintf(buf, cap, "%llum%02llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else
		snprintf(buf, cap, "%lluh%02llum", (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60));
	return buf;
}

int parse_double_range(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int parse_seconds(const char *s, double *out)
{
	return parse_double_range(s, 0, 1e7, out);
}

void strv_add(struct strv *s, const char *fmt, ...)
{
	va_list ap;
	char *str;

	if (s->oom)
		return;
	if (s->n + 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (!v) {
			s->oom = true;
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&str, fmt, ap) < 0) {
		s->oom = true;
		va_end(ap);
		return;
	}
	va_end(ap);
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

const char *strv_join(const struct strv *s, char *buf, size_t cap)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->n && o < cap; i++) {
		int w = snprintf(buf + o, cap - o, "%s%s", i ? " " : "", s->v[i]);

		if (w < 0)
			break;
		o += (size_t)w;
	}
	return buf;
}

int unix_connect(const char *dir, const char *name)
{
	struct sockaddr_un a;
	int fd, here, r, e;

	if (strlen(name) >= sizeof(a.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	strcpy(a.sun_path, name);
	here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (here < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto close_here;
	if (chdir(dir) < 0)
		goto close_fd;
	r = connect(fd, (struct sockaddr *)&a, sizeof(a));
	e = errno;
	if (fchdir(here) < 0 || r < 0) {
		errno = r < 0 ? e : errno;
		goto close_fd;
	}
	close(here);
	return fd;
close_fd:
	e = errno;
	close(fd);
	errno = e;
close_here:
	e = errno;
	close(here);
	errno = e;
	return -1;
}
