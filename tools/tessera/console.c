/*
 * `tessera console NODE`: the terminal on a node's first serial port
 * (QEMU's socket RUN/NODE.console). On a TTY, stdin goes to raw mode
 * (restored on every way out) so every key, Ctrl-C included, reaches the
 * guest; Ctrl-] detaches. With stdin not a TTY the bytes are copied as
 * they come, and at end of input the console detaches after a second
 * without output (so `echo cmd | tessera console p1` shows the answer).
 * QEMU serves one client at a time: a second console waits until the
 * first detaches. The serial log RUN/NODE.log is written either way.
 *
 * `tessera console --send TEXT NODE` is for scripts: it writes TEXT and a
 * newline to the node's serial input and waits until QEMU has passed all
 * of it to the guest. It shuts down only its writing side (a full close
 * would make QEMU drop the connection, and with it what it had not read
 * yet), so QEMU reads to the end of the input, then closes: that end is
 * the proof of delivery. What the node prints meanwhile is discarded
 * (it is in the log). A script that keeps a console attached instead
 * risks doubled characters in RUN/NODE.log: when QEMU cannot write to a
 * slow client at once, it logs the character and writes it again later
 * (QEMU's qemu_chr_write_buffer logs a failed write in full), so sending
 * line by line is also what keeps the log exact.
 */
#define _GNU_SOURCE
#include "tessera.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define DETACH_KEY 0x1d /* Ctrl-] */
#define LINGER_MS  1000 /* after end of input, quiet time before detaching */
#define SEND_MS	   10000 /* --send: how long QEMU may take to read the line */
#define SEND_MAX   1024	 /* --send: bytes of TEXT */

static const char help[] =
	"  --run-dir DIR  the cluster's run directory (default: $TESSERA_RUN_DIR,\n"
	"                 else run/current)\n"
	"  --send TEXT    do not attach: write TEXT and a newline to the node's\n"
	"                 serial input, wait until QEMU has taken all of it (10 s\n"
	"                 at most), exit 0 if it has, else 1\n"
	"\n"
	"Ctrl-] detaches. Exit status 0 when detached, 1 if the console closed\n"
	"(the node's QEMU ended) or could not be opened.\n";

enum outcome { DETACHED, CLOSED, BROKEN };

/* Copies stdin to the socket; 1 when the user detaches, -1 on EOF/error. */
static int from_user(int sock, bool tty)
{
	char buf[4096], *key;
	ssize_t n = read(0, buf, sizeof(buf));

	if (n < 0 && errno == EINTR)
		return 0;
	if (n <= 0)
		return -1;
	key = tty ? memchr(buf, DETACH_KEY, (size_t)n) : NULL;
	if (write_all(sock, buf, key ? (size_t)(key - buf) : (size_t)n) < 0)
		return -1;
	return key ? 1 : 0;
}

/* Copies the socket to stdout; -1 when it closes. */
static int to_user(int sock)
{
	char buf[4096];
	ssize_t n = read(sock, buf, sizeof(buf));

	if (n < 0 && errno == EINTR)
		return 0;
	if (n <= 0 || write_all(1, buf, (size_t)n) < 0)
		return -1;
	return 0;
}

static enum outcome relay(int sock, bool tty)
{
	struct pollfd p[2] = {{.fd = 0, .events = POLLIN},
			      {.fd = sock, .events = POLLIN}};
	bool input_open = true;

	while (!ts_signal) {
		int r = poll(p, 2, input_open ? -1 : LINGER_MS);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return BROKEN;
		if (r == 0)
			return DETACHED; /* input ended and the node went quiet */
		if (p[1].revents && to_user(sock) < 0)
			return CLOSED;
		if (input_open && p[0].revents) {
			int u = from_user(sock, tty);

			if (u > 0)
				return DETACHED;
			if (u < 0) {
				input_open = false;
				p[0].fd = -1; /* poll ignores it now */
			}
		}
	}
	return DETACHED;
}

/* Runs the relay with the terminal in raw mode if stdin is one. */
static enum outcome attach(int sock, const char *name)
{
	struct termios saved, raw;
	bool tty = isatty(0) && tcgetattr(0, &saved) == 0;
	enum outcome o;

	fprintf(stderr, "tessera: connected to %s's console%s\n", name,
		tty ? "; Ctrl-] detaches" : "");
	if (tty) {
		raw = saved;
		cfmakeraw(&raw);
		if (tcsetattr(0, TCSAFLUSH, &raw) < 0) {
			msg_errno("cannot put the terminal in raw mode");
			return BROKEN;
		}
	}
	o = relay(sock, tty);
	if (tty && tcsetattr(0, TCSAFLUSH, &saved) < 0)
		msg_errno("cannot restore the terminal (try: stty sane)");
	return o;
}

/* --send: TEXT + newline into sock, then waits for QEMU to close it. */
static int send_line(int sock, const char *name, const char *text)
{
	int64_t deadline = now_ms() + SEND_MS;
	char buf[4096];

	if (write_all(sock, text, strlen(text)) < 0 || write_all(sock, "\n", 1) < 0 ||
	    shutdown(sock, SHUT_WR) < 0) {
		msg_errno("cannot write to %s's console", name);
		return TS_FAILED;
	}
	while (!ts_signal && now_ms() < deadline) {
		struct pollfd p = {.fd = sock, .events = POLLIN};
		int r = poll(&p, 1, (int)(deadline - now_ms()));
		ssize_t n;

		if (r <= 0)
			continue; /* EINTR or the deadline: the loop decides */
		n = read(sock, buf, sizeof(buf)); /* the node's output: in its log */
		if (n == 0)
			return TS_OK; /* QEMU read our end of input and closed */
		if (n < 0 && errno != EINTR && errno != EAGAIN) {
			msg_errno("%s's console", name);
			return TS_FAILED;
		}
	}
	msg("%s did not take the whole line within %d s (is it reading its serial input?)",
	    name, SEND_MS / 1000);
	return TS_FAILED;
}

int verb_console(int argc, char **argv)
{
	static const struct option opts[] = {
		{"run-dir", required_argument, NULL, 'r'},
		{"send", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *opt_dir = NULL, *name, *text = NULL;
	char sockname[MF_NAME_MAX + 16];
	struct cluster *c;
	int opt, sock, r = TS_FAILED;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (opt == 'h')
			return verb_help("console", help);
		if (opt == 's' && (strlen(optarg) > SEND_MAX || strchr(optarg, '\n')))
			return usage_error("console",
					   "--send: TEXT is one line of at most %d bytes",
					   SEND_MAX);
		if (opt == 's')
			text = optarg;
		else if (opt == 'r')
			opt_dir = optarg;
		else
			return bad_option("console", argv);
	}
	if (argc - optind != 1)
		return usage_error("console", "expected one NODE");
	name = argv[optind];
	c = malloc(sizeof(*c));
	if (!c) {
		msg("out of memory");
		return TS_FAILED;
	}
	if (cluster_open(opt_dir, c) < 0)
		goto free_c;
	if (!manifest_node(&c->mf, name)) {
		r = usage_error("console", "no node '%s' in cluster %s", name,
				c->mf.name);
		goto free_c;
	}
	snprintf(sockname, sizeof(sockname), "%s.console", name);
	sock = unix_connect(c->dir, sockname);
	if (sock < 0) {
		msg_errno("cannot connect to %s/%s (is %s running? see: tessera status)",
			  c->dir, sockname, name);
		goto free_c;
	}
	if (text) {
		r = signals_catch() == 0 ? send_line(sock, name, text) : TS_FAILED;
	} else if (signals_catch() == 0) {
		enum outcome o = attach(sock, name);

		if (o == CLOSED)
			msg("%s's console closed (its QEMU ended?); see: tessera status",
			    name);
		else
			fprintf(stderr, "\ntessera: detached from %s\n", name);
		r = o == DETACHED ? TS_OK : TS_FAILED;
	}
	close(sock);
free_c:
	free(c);
	return r;
}
