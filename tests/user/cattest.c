/*
 * cattest: copies its standard input to its standard output until end
 * of input, byte for byte (what `cat` does; tests/cli/test_cli.py uses
 * it for `tessera run`'s stdin forwarding and `run -t`'s terminal until
 * the disk has a cat). Exit 0; 1 with a message on stderr if a read or
 * write fails. Reads up to 64 KiB at a time, so a read returns whatever
 * the console has (a line, on a terminal).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char buf[65536];

static int write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(1, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(void)
{
	for (;;) {
		ssize_t n = read(0, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "cattest: read: %s\n", strerror(errno));
			return 1;
		}
		if (n == 0)
			return 0;
		if (write_all(buf, (size_t)n) < 0) {
			fprintf(stderr, "cattest: write: %s\n", strerror(errno));
			return 1;
		}
	}
}
