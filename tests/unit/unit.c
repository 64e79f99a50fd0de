/*
 * The runner of the host unit tests (see unit.h): main() runs every
 * registered test in a forked child and prints KTAP version 1.
 *
 * A child exits 0 if its test passed and UNIT_EXIT_FAILED if an EXPECT
 * failed; anything else (a sanitizer report, which exits 1, or a signal, or
 * the UNIT_TIMEOUT alarm) also fails the test, and the child's stderr is
 * copied into the output as '# ' diagnostics so the report lands in the
 * results file. Leak checks (LeakSanitizer) run when each child exits.
 *
 * Usage: unit-tests [-l] [substring]   (-l lists; substring filters)
 */
#include "unit.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define UNIT_EXIT_FAILED 3
#define UNIT_TIMEOUT	 30 /* seconds per test */

static struct unit_test *tests_head, **tests_tail = &tests_head;
static bool current_failed;

void unit_register(struct unit_test *t)
{
	t->next = NULL;
	*tests_tail = t;
	tests_tail = &t->next;
}

void unit_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

bool unit_failed(void)
{
	return current_failed;
}

bool unit_check(bool ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return true;
	current_failed = true;
	printf("# %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	return false;
}

bool unit_check_int(bool ok, const char *file, int line, const char *expr,
		    unsigned long long a, unsigned long long b)
{
	return unit_check(ok, file, line,
			  "expected %s, got %lld (0x%llx) vs %lld (0x%llx)", expr,
			  (long long)a, a, (long long)b, b);
}

bool unit_check_str(const char *file, int line, const char *expr, const char *a,
		    const char *b)
{
	bool ok = a == b || (a && b && strcmp(a, b) == 0);

	return unit_check(ok, file, line, "expected %s, got \"%s\" vs \"%s\"", expr,
			  a ? a : "(null)", b ? b : "(null)");
}

bool unit_check_mem(const char *file, int line, const char *expr, const void *a,
		    const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	size_t i = 0;

	while (i < n && x[i] == y[i])
		i++;
	if (i == n)
		return true;
	return unit_check(false, file, line,
			  "expected %s (%zu bytes), first difference at %zu: "
			  "0x%02x vs 0x%02x",
			  expr, n, i, x[i], y[i]);
}

/* Copies the child's stderr into stdout as diagnostics. */
static void relay_stderr(int fd)
{
	FILE *f = fdopen(fd, "r");
	char line[512];
	bool bol = true;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		printf("%s%s", bol ? "# " : "", line);
		bol = strchr(line, '\n') != NULL;
	}
	if (!bol)
		putchar('\n');
	fclose(f);
}

static void run_child(const struct unit_test *t, int err_fd)
{
	dup2(err_fd, STDERR_FILENO);
	close(err_fd);
	alarm(UNIT_TIMEOUT);
	current_failed = false;
	t->fn();
	fflush(stdout);
	exit(current_failed ? UNIT_EXIT_FAILED : 0);
}

/* Runs t in a child; returns true if it passed. */
static bool run_one(const struct unit_test *t)
{
	int pipefd[2], status;
	pid_t pid;

	fflush(stdout);
	if (pipe(pipefd) < 0) {
		unit_diag("pipe failed");
		return false;
	}
	pid = fork();
	if (pid < 0) {
		unit_diag("fork failed");
		return false;
	}
	if (pid == 0) {
		close(pipefd[0]);
		run_child(t, pipefd[1]);
	}
	close(pipefd[1]);
	relay_stderr(pipefd[0]);
	if (waitpid(pid, &status, 0) < 0) {
		unit_diag("waitpid failed");
		return false;
	}
	if (WIFSIGNALED(status)) {
		unit_diag("killed by signal %d%s", WTERMSIG(status),
			  WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
		return false;
	}
	if (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != UNIT_EXIT_FAILED)
		unit_diag("exited with status %d (sanitizer report above?)",
			  WEXITSTATUS(status));
	return WEXITSTATUS(status) == 0;
}

static bool selected(const struct unit_test *t, const char *filter)
{
	return !filter || strstr(t->name, filter);
}

int main(int argc, char **argv)
{
	const char *filter = NULL;
	bool list = false;
	unsigned n = 0, k = 0, failed = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-l") == 0)
			list = true;
		else
			filter = argv[i];
	}
	for (struct unit_test *t = tests_head; t; t = t->next)
		if (selected(t, filter))
			n++;
	if (!list)
		printf("KTAP version 1\n1..%u\n", n);
	for (struct unit_test *t = tests_head; t; t = t->next) {
		if (!selected(t, filter))
			continue;
		if (list) {
			puts(t->name);
			continue;
		}
		k++;
		if (run_one(t)) {
			printf("ok %u %s\n", k, t->name);
		} else {
			printf("not ok %u %s\n", k, t->name);
			failed++;
		}
	}
	if (!list)
		printf("# unit: %u passed, %u failed\n", n - failed, failed);
	return failed ? 1 : 0;
}
