/*
 * Processes: starting the parts of a cluster, telling whether one still
 * runs, stopping them, and finding the ones nobody recorded.
 *
 * A process is named by pid AND start time (field 22 of /proc/PID/stat,
 * clock ticks since boot): after a reboot or a pid wrap-around, a recorded
 * pid may belong to someone else, and then it is left alone. Zombies count
 * as gone (ours are reaped on the way).
 *
 * Spawning reports exec failures synchronously through a close-on-exec
 * pipe: the parent reads either nothing (exec worked) or the child's
 * errno.
 */
#define _GNU_SOURCE
#include "tessera.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child: session, cwd, stdio, signals. 0, or -1 (errno). */
static int child_setup(const char *dir, const char *out_path, bool keep_group)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
	sigset_t none;
	int in, out;

	if ((!keep_group && setsid() < 0) || chdir(dir) < 0)
		return -1;
	in = open("/dev/null", O_RDONLY);
	if (in < 0)
		return -1;
	out = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		return -1;
	if (in > 2)
		close(in);
	if (out > 2)
		close(out);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (signal(sigs[i], SIG_DFL) == SIG_ERR)
			return -1;
	if (sigemptyset(&none) < 0 || sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		return -1;
	return 0;
}

pid_t proc_spawn(char *const argv[], const char *dir, const char *out_path,
		 bool keep_group)
{
	int pfd[2], err = 0;
	ssize_t r;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		goto close_pipe;
	if (pid == 0) {
		close(pfd[0]);
		if (child_setup(dir, out_path, keep_group) == 0)
			execv(argv[0], argv);
		err = errno;
		if (write(pfd[1], &err, sizeof(err)) < 0)
			_exit(126);
		_exit(127);
	}
	close(pfd[1]);
	do
		r = read(pfd[0], &err, sizeof(err));
	while (r < 0 && errno == EINTR);
	close(pfd[0]);
	if (r == (ssize_t)sizeof(err)) {
		waitpid(pid, NULL, 0);
		errno = err;
		return -1;
	}
	return pid;
close_pipe:
	err = errno;
	close(pfd[0]);
	close(pfd[1]);
	errno = err;
	return -1;
}

/* Reads /proc/PID/stat: state letter and start time. 0 or -1. */
static int read_stat(pid_t pid, char *state, uint64_t *start)
{
	char path[64], buf[1024], *p;
	unsigned long long st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may hold blanks and parentheses */
	if (!p || p[1] != ' ')
		return -1;
	p += 2; /* field 3: state */
	*state = *p;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	if (sscanf(p, "%llu", &st) != 1)
		return -1;
	*start = st;
	return 0;
}

int proc_start_time(pid_t pid, uint64_t *start)
{
	char state;

	if (read_stat(pid, &state, start) < 0 || state == 'Z' || state == 'X')
		return -1;
	return 0;
}

bool proc_alive(pid_t pid, uint64_t start)
{
	uint64_t now;

	if (pid <= 0)
		return false;
	waitpid(pid, NULL, WNOHANG); /* our zombie child: reap it (ECHILD otherwise) */
	return proc_start_time(pid, &now) == 0 && now == start;
}

int proc_reap(pid_t pid, char *buf, size_t cap)
{
	int status;
	pid_t r = waitpid(pid, &status, WNOHANG);

	if (r != pid)
		return -1;
	if (WIFEXITED(status)) {
		snprintf(buf, cap, "exited with status %d", WEXITSTATUS(status));
		return WEXITSTATUS(status);
	}
	if (WIFSIGNALED(status)) {
		snprintf(buf, cap, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
		return 128 + WTERMSIG(status);
	}
	snprintf(buf, cap, "ended (wait status 0x%x)", status);
	return 255;
}

/* Sends sig to every victim still alive; returns how many were alive. */
static unsigned signal_all(struct victim *v, unsigned n, int sig, bool verbose)
{
	unsigned alive = 0;

	for (unsigned i = 0; i < n; i++) {
		if (!proc_alive(v[i].pid, v[i].start))
			continue;
		alive++;
		if (kill(v[i].pid, sig) < 0 && errno != ESRCH)
			msg_errno("kill %s (pid %d)", v[i].what, (int)v[i].pid);
		else if (verbose && sig == SIGKILL)
			msg("%s (pid %d) did not stop on SIGTERM: killed", v[i].what,
			    (int)v[i].pid);
	}
	return alive;
}

/* Waits up to ms for every victim to be gone; returns how many remain. */
static unsigned wait_gone(struct victim *v, unsigned n, unsigned ms)
{
	int64_t deadline = now_ms() + ms;

	for (;;) {
		unsigned alive = 0;

		for (unsigned i = 0; i < n; i++)
			alive += proc_alive(v[i].pid, v[i].start);
		if (!alive || now_ms() >= deadline)
			return alive;
		sleep_ms(50);
	}
}

unsigned proc_stop(struct victim *v, unsigned n, unsigned grace_ms, bool verbose)
{
	unsigned left;

	if (!signal_all(v, n, SIGTERM, false))
		return 0;
	if (!wait_gone(v, n, grace_ms))
		return 0;
	signal_all(v, n, SIGKILL, verbose);
	left = wait_gone(v, n, 3000);
	for (unsigned i = 0; i < n && left; i++)
		if (proc_alive(v[i].pid, v[i].start))
			msg("%s (pid %d) survived SIGKILL", v[i].what, (int)v[i].pid);
	return left;
}

/* The last path component of /proc/PID/LINK's target, " (deleted)" cut. */
static int proc_link(pid_t pid, const char *link, char *out, size_t cap)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, link);
	n = readlink(path, out, cap - 1);
	if (n < 0)
		return -1;
	out[n] = '\0';
	if (n > 10 && strcmp(out + n - 10, " (deleted)") == 0)
		out[n - 10] = '\0';
	return 0;
}

static bool is_cluster_exe(const char *exe)
{
	const char *base = strrchr(exe, '/');

	base = base ? base + 1 : exe;
	return strcmp(base, "qemu-system-x86_64") == 0 || strcmp(base, "fabricd") == 0;
}

int proc_find_strays(const char *dir, struct victim *v, unsigned *n, unsigned cap)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d)
		return -1;
	while ((e = readdir(d)) && *n < cap) {
		char cwd[PATH_MAX], exe[PATH_MAX];
		pid_t pid;
		uint64_t start;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid = (pid_t)atoi(e->d_name);
		if (proc_link(pid, "cwd", cwd, sizeof(cwd)) < 0 ||
		    strcmp(cwd, dir) != 0 ||
		    proc_link(pid, "exe", exe, sizeof(exe)) < 0 || !is_cluster_exe(exe) ||
		    proc_start_time(pid, &start) < 0)
			continue;
		v[*n].pid = pid;
		v[*n].start = start;
		snprintf(v[*n].what, sizeof(v[*n].what), "%.40s",
			 strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe);
		(*n)++;
	}
	closedir(d);
	return 0;
}
