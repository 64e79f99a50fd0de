/*
 * fabricd from the CLI's side: its command line, built from the manifest
 * in one place so that `up` starts exactly what `check -v` shows; and the
 * client side of its control socket (docs/fabric.md, "Control socket";
 * tools/fabricd/control.c): one command line out, one reply line back
 * ("ok ..." or "error: ..."), and the parsing of the `stats` JSON with
 * libjansson. fabricd treats the guests' status pages as hostile and so
 * do we: every member is optional and type-checked here, once.
 */
#define _GNU_SOURCE
#include "tessera.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REPLY_TIMEOUT_MS 10000
#define REPLY_MAX	 (16 << 20)

void fabric_argv(const struct manifest *m, const char *bin, struct strv *a)
{
	char win[32];

	strv_add(a, "%s", bin);
	strv_add(a, "--dir");
	strv_add(a, ".");
	for (unsigned i = 0; i < m->nnodes; i++) {
		const struct mf_node *n = &m->nodes[i];

		strv_add(a, "--node");
		strv_add(a, "%u:%s:%s", n->id, n->name,
			 fmt_size(n->window, win, sizeof(win)));
	}
	if (m->fabric.latency_us > 0) {
		strv_add(a, "--latency-us");
		strv_add(a, "%.9g", m->fabric.latency_us);
	}
	if (m->fabric.bandwidth_gbps > 0) {
		strv_add(a, "--bandwidth-gbps");
		strv_add(a, "%.9g", m->fabric.bandwidth_gbps);
	}
	strv_add(a, "--poll-us");
	strv_add(a, "%u", m->fabric.poll_us);
	strv_add(a, "--cq-retry-us");
	strv_add(a, "%u", m->fabric.cq_retry_us);
}

int fabric_connect(const char *dir)
{
	return unix_connect(dir, FABRIC_CONTROL);
}

static int send_line(int fd, const char *cmd)
{
	size_t len = strlen(cmd);
	char *line = malloc(len + 2);
	size_t off = 0;

	if (!line)
		return -1;
	memcpy(line, cmd, len);
	line[len++] = '\n';
	while (off < len) {
		ssize_t w = send(fd, line + off, len - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR && !ts_signal)
			continue;
		if (w < 0) {
			free(line);
			return -1;
		}
		off += (size_t)w;
	}
	free(line);
	return 0;
}

/* Reads up to and without the first '\n' into a malloc'd string. */
static char *recv_line(int fd)
{
	int64_t deadline = now_ms() + REPLY_TIMEOUT_MS;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	while (buf) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)(deadline - now_ms());
		char *nl;
		ssize_t r;

		if (left <= 0 || poll(&p, 1, left) == 0) {
			errno = ETIMEDOUT;
			break;
		}
		if (len + 4096 > cap) {
			char *b = cap >= REPLY_MAX ? NULL : realloc(buf, cap * 2);

			if (!b) {
				errno = cap >= REPLY_MAX ? EMSGSIZE : ENOMEM;
				break;
			}
			buf = b;
			cap *= 2;
		}
		r = recv(fd, buf + len, cap - len - 1, 0);
		if (r < 0 && errno == EINTR && !ts_signal)
			continue;
		if (r <= 0) {
			errno = r == 0 ? ECONNRESET : errno;
			break;
		}
		buf[len + (size_t)r] = '\0';
		nl = memchr(buf + len, '\n', (size_t)r);
		len += (size_t)r;
		if (nl) {
			*nl = '\0';
			return buf;
		}
	}
	free(buf);
	return NULL;
}

int fabric_command(int fd, const char *cmd, char **reply)
{
	*reply = NULL;
	if (send_line(fd, cmd) < 0)
		return -1;
	*reply = recv_line(fd);
	if (!*reply)
		return -1;
	return strncmp(*reply, "ok", 2) == 0 ? 0 : 1;
}

int fabric_call(const char *dir, const char *cmd, char **reply)
{
	int fd = fabric_connect(dir), r, e;

	*reply = NULL;
	if (fd < 0)
		return -1;
	r = fabric_command(fd, cmd, reply);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

/* --- stats ------------------------------------------------------------------ */

static uint64_t get_u64(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) && json_integer_value(v) > 0
		       ? (uint64_t)json_integer_value(v)
		       : 0;
}

static bool get_bool(json_t *obj, const char *key)
{
	return json_is_true(json_object_get(obj, key));
}

static void get_str(json_t *obj, const char *key, char *out, size_t cap)
{
	json_t *v = json_object_get(obj, key);

	snprintf(out, cap, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static void parse_status(json_t *st, struct fab_node_stats *n)
{
	n->has_status = json_is_object(st);
	if (!n->has_status)
		return;
	get_str(st, "state", n->state, sizeof(n->state));
	get_str(st, "note", n->note, sizeof(n->note));
	n->heartbeat = get_u64(st, "heartbeat");
	n->heartbeat_age_ms = get_u64(st, "heartbeat_age_ms");
	n->uptime_ms = get_u64(st, "uptime_ms");
	n->cpus = (unsigned)get_u64(st, "cpus");
	n->mem_total_kib = get_u64(st, "mem_total_kib");
	n->mem_free_kib = get_u64(st, "mem_free_kib");
	n->rpc_calls = get_u64(st, "rpc_calls");
	n->rpc_served = get_u64(st, "rpc_served");
	n->rpc_timeouts = get_u64(st, "rpc_timeouts");
}

static void parse_node(json_t *obj, struct fab_node_stats *n)
{
	memset(n, 0, sizeof(*n));
	n->id = (unsigned)get_u64(obj, "id");
	get_str(obj, "name", n->name, sizeof(n->name));
	n->connected = get_bool(obj, "connected");
	n->failed = get_bool(obj, "failed");
	n->generation = (unsigned)get_u64(obj, "generation");
	n->window = get_u64(obj, "window_size");
	n->ops = get_u64(obj, "ops");
	n->bytes = get_u64(obj, "bytes");
	n->errors = get_u64(obj, "errors");
	parse_status(json_object_get(obj, "status"), n);
}

int fabric_stats(int fd, struct fab_stats *s)
{
	json_error_t jerr;
	json_t *nodes;
	char *reply;
	size_t i;

	memset(s, 0, sizeof(*s));
	if (fabric_command(fd, "stats", &reply) != 0) {
		free(reply);
		if (reply)
			errno = EPROTO;
		return -1;
	}
	s->root = json_loads(reply + 2, 0, &jerr);
	free(reply);
	nodes = json_object_get(s->root, "nodes");
	if (!json_is_object(s->root) || !json_is_array(nodes)) {
		fabric_stats_free(s);
		errno = EPROTO;
		return -1;
	}
	for (i = 0; i < json_array_size(nodes) && s->nnodes < 64; i++)
		parse_node(json_array_get(nodes, i), &s->nodes[s->nnodes++]);
	return 0;
}

void fabric_stats_free(struct fab_stats *s)
{
	json_decref(s->root);
	memset(s, 0, sizeof(*s));
}

const struct fab_node_stats *fabric_node(const struct fab_stats *s, const char *name)
{
	for (unsigned i = 0; s && i < s->nnodes; i++)
		if (strcmp(s->nodes[i].name, name) == 0)
			return &s->nodes[i];
	return NULL;
}
