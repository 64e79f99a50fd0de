/*
 * The hostlink: a byte stream between the `tessera` CLI on the host and a
 * processor component's kernel, carried by the processor's second serial
 * port (COM2; the first one is the console). `tessera run` uses it to
 * start a program on the processor and to receive the program's output
 * and exit status. Portable: included by the kernel (kernel/hostlink.c)
 * and by the CLI (tools/tessera/).
 *
 * Lines of text, each at most HOSTLINK_LINE_MAX bytes with its '\n'. A
 * line is words separated by one space; the first word is the message
 * type, the second the request id (decimal, 1..2^31-1, chosen by the
 * host, unique among its open requests). Words are escaped: every byte
 * outside '!'..'~' and every '%' is written %XX (two upper-case hex
 * digits); an empty word is written HOSTLINK_EMPTY ("%-").
 *
 * host -> kernel
 *   run ID ARG0 ARG1 ...    start program ARG0 with argv ARG0..; at most
 *                           HOSTLINK_MAX_ARGS words after ID
 *   runt ID ROWS COLS ARG0 ...
 *                           the same with a terminal of ROWS x COLS (0 0:
 *                           size unknown): the program's console is a tty
 *                           (termios, line discipline, echo); at most
 *                           HOSTLINK_MAX_ARGS words after COLS
 *   in ID DATA              bytes of the program's standard input, at most
 *                           HOSTLINK_IN_CHUNK of them (see flow control)
 *   eof ID                  end of its standard input (no `in` after it)
 *   sig ID N                signal N (1..64) for the run's foreground
 *                           process group (the CLI's Ctrl-C without a
 *                           terminal: sig ID 2)
 *   winsz ID ROWS COLS      the terminal's size changed (0..65535 each;
 *                           runs without a terminal ignore it)
 *   ping ID                 answered by "pong ID" (the CLI's liveness check)
 *
 * kernel -> host
 *   out ID DATA             a piece of the program's standard output
 *   err ID DATA             a piece of its standard error
 *   ack ID N                the program took N more bytes of its input
 *   exit ID STATUS          it ended; STATUS as the shell reports it: 0..255,
 *                           127 "no such program", 128+N killed by signal N
 *   fail ID ERRNO TEXT      the request itself was refused (malformed, too
 *                           many args, busy); ERRNO a positive Linux errno
 *   pong ID
 *
 * Flow control of input: a credit window. The host may have at most
 * HOSTLINK_IN_WINDOW bytes of input (counted unescaped) sent in `in`
 * lines and not yet returned by `ack`; the kernel keeps that many per
 * run, from the `run` on (input sent before the program reads is kept),
 * and sends `ack` as the program reads (when a quarter of the window was
 * taken, or the program emptied the buffer). So every byte is delivered,
 * in order, whatever its amount; a host that overruns the window gets
 * "fail ID ENOBUFS" and those bytes are dropped. `in`, `eof`, `sig` and
 * `winsz` for an ID that is not running get "fail ID ESRCH" (harmless
 * after the program's `exit`: the host has stopped listening).
 *
 * Lines the kernel cannot parse are answered with "fail 0 EINVAL-number
 * TEXT" and otherwise ignored; the kernel never trusts the host's bytes.
 */
#ifndef PROTO_HOSTLINK_H
#define PROTO_HOSTLINK_H

#include <stddef.h>

#define HOSTLINK_LINE_MAX 4096
#define HOSTLINK_MAX_ARGS 32
#define HOSTLINK_EMPTY	  "%-" /* an empty word */
#define HOSTLINK_IN_CHUNK  1024 /* raw bytes per `in` line at most */
#define HOSTLINK_IN_WINDOW 4096 /* input bytes in flight per run at most */
#define HOSTLINK_SIG_MAX   64	/* `sig` numbers: 1..64 */

/*
 * Escapes in[0..n) into out (capacity cap, NUL-terminated). Returns the
 * length written, or -1 if it does not fit. An empty input gives
 * HOSTLINK_EMPTY.
 */
static inline long hostlink_escape(const char *in, size_t n, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (n == 0) {
		if (cap < 3)
			return -1;
		out[0] = '%';
		out[1] = '-';
		out[2] = '\0';
		return 2;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c > ' ' && c <= '~' && c != '%') {
			if (o + 2 > cap)
				return -1;
			out[o++] = (char)c;
		} else {
			if (o + 4 > cap)
				return -1;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return (long)o;
}

static inline int hostlink_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes one escaped word in place (it only shrinks). Returns the decoded
 * length (the result may contain NUL bytes), or -1 if the word is
 * malformed: a bare '%', bad hex digits, lower-case hex, or bytes that
 * escaping would not have produced.
 */
static inline long hostlink_unescape(char *word)
{
	size_t i = 0, o = 0;

	if (word[0] == '%' && word[1] == '-' && word[2] == '\0') {
		word[0] = '\0';
		return 0;
	}
	while (word[i]) {
		unsigned char c = (unsigned char)word[i];

		if (c == '%') {
			int hi = hostlink_hexval(word[i + 1]);
			int lo = hi < 0 ? -1 : hostlink_hexval(word[i + 2]);

			if (lo < 0)
				return -1;
			word[o++] = (char)(hi << 4 | lo);
			i += 3;
		} else if (c > ' ' && c <= '~') {
			word[o++] = (char)c;
			i++;
		} else {
			return -1;
		}
	}
	if (o == 0)
		return -1; /* "" is not a word: empty is HOSTLINK_EMPTY */
	word[o] = '\0';
	return (long)o;
}

#endif
