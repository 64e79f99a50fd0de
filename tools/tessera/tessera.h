/*
 * The `tessera` command (docs/cli.md): the declarations its files share.
 * One file per concern, each with its own section below:
 *
 *   main.c     verb table, usage, dispatch
 *   util.c     messages, clock, files, argv vectors, signals
 *   rundir.c   where a cluster's run directory is, the state file
 *   proc.c     spawning, liveness (pid + start time), stopping, strays
 *   build.c    the source tree and build directory, `make` of what is stale
 *   vm.c       QEMU command lines (the twin of scripts/qemu.py)
 *   fabric.c   fabricd's command line, its control socket and `stats` JSON
 *   health.c   a node's state from its process and fabricd's view
 *   hostlink.c the hostlink client (include/proto/hostlink.h)
 *   check.c, up.c (and restart), down.c, status.c, inject.c, console.c, logs.c, run.c:
 *              one verb each
 *
 * Exit codes of every verb but `run`: TS_OK, TS_FAILED, TS_USAGE,
 * TS_MANIFEST.
 */
#ifndef TESSERA_H
#define TESSERA_H

#include "manifest.h"

#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum ts_exit {
	TS_OK = 0,
	TS_FAILED = 1,	 /* the operation failed */
	TS_USAGE = 2,	 /* bad command line */
	TS_MANIFEST = 3, /* invalid manifest */
};

/* ---- main.c: verbs --------------------------------------------------- */

/* Each verb gets its own argv (argv[0] is the verb) and returns an exit
 * code. */
int verb_check(int argc, char **argv);
int verb_up(int argc, char **argv);
int verb_restart(int argc, char **argv); /* up.c */
int verb_down(int argc, char **argv);
int verb_status(int argc, char **argv);
int verb_inject(int argc, char **argv);
int verb_console(int argc, char **argv);
int verb_logs(int argc, char **argv);
int verb_run(int argc, char **argv);
int verb_shell(int argc, char **argv);

/* Prints "tessera: VERB: WHAT", the verb's synopsis and a hint at --help
 * on stderr; returns TS_USAGE. */
int usage_error(const char *verb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* For getopt_long's '?' and ':' (with opterr = 0): a usage error naming
 * the offending word argv[optind - 1]. */
int bad_option(const char *verb, char **argv);

/* Prints the verb's synopsis, summary and then details on stdout (--help);
 * returns TS_OK. */
int verb_help(const char *verb, const char *details);

/* ---- util.c ---------------------------------------------------------- */

/* "tessera: " + message + newline on stderr. */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, with ": strerror(errno)" appended. */
void msg_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t now_ms(void);
/* Sleeps ms milliseconds; returns early (EINTR) when a signal arrives. */
void sleep_ms(unsigned ms);

/* Set by the handlers signals_catch() installs (SIGINT, SIGTERM, SIGHUP):
 * the signal number. Without SA_RESTART: blocking calls return EINTR. */
extern volatile sig_atomic_t ts_signal;
/* Installs those handlers and ignores SIGPIPE. 0 or -1 (errno). */
int signals_catch(void);

/* Reads fd to its end into a malloc'd NUL-terminated buffer (*len
 * without the NUL). 0, or -1 with errno. */
int read_fd(int fd, char **buf, size_t *len);
/* Reads a whole file into a malloc'd NUL-terminated buffer (*len without
 * the NUL). Returns 0, or -1 with errno. */
int read_file(const char *path, char **buf, size_t *len);
/* Writes all of data[0..len) to fd (retrying short writes and EINTR).
 * 0 or -1 (errno). */
int write_all(int fd, const char *data, size_t len);
/* Writes data to path through path.tmp + rename. Returns 0 or -1 (errno). */
int write_file_atomic(const char *path, const char *data, size_t len);
/* Copies the file src to dst (atomically). 0 or -1 (errno). */
int copy_file(const char *src, const char *dst);
/* snprintf into out[cap] of "a/b"; -1 (ENAMETOOLONG) if it does not fit. */
int path_join(char *out, size_t cap, const char *a, const char *b);
/* bytes as "256M", "4G", "64K" or plain bytes: the largest exact unit. */
const char *fmt_size(uint64_t bytes, char *buf, size_t cap);
/* bytes for people: "512", "48.0K", "1.2M", "3.4G". */
const char *fmt_human(uint64_t bytes, char *buf, size_t cap);
/* "12.3s" / "1h02m" style duration of ms milliseconds. */
const char *fmt_duration(uint64_t ms, char *buf, size_t cap);
/* Where the last `lines` lines of text[0..len) begin (text itself if it
 * has fewer; text + len for 0 lines). */
const char *tail_start(const char *text, size_t len, unsigned lines);
/* The last `lines` lines of the file at path (all if it has fewer), in a
 * malloc'd string; NULL with errno if it cannot be read. */
char *file_tail(const char *path, unsigned lines);
/* Parses a non-negative decimal number of seconds ("120", "0.5"). */
int parse_seconds(const char *s, double *out);
/* Parses a double in [lo, hi]; 0 or -1. */
int parse_double_range(const char *s, double lo, double hi, double *out);

/* A growable, NULL-terminated vector of malloc'd strings (argv). */
struct strv {
	char **v;
	size_t n, cap;
	bool oom;
};
/* Appends a printf-formatted string; on allocation failure sets oom. */
void strv_add(struct strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strv_free(struct strv *s);
/* The vector joined by spaces into buf (for messages). */
const char *strv_join(const struct strv *s, char *buf, size_t cap);

/* Connects a unix stream socket to dir/name (short relative path through
 * a temporary chdir, so long run directories work). Returns the fd
 * (close-on-exec) or -1 with errno. */
int unix_connect(const char *dir, const char *name);

/* ---- rundir.c: run directory and state file ------------------------- */

#define STATE_NAME   "state"
#define STATE_MAGIC  "tessera-state 1"
#define CURRENT_LINK "run/current"
#define RUN_PARENT   "run"

enum proc_kind {
	PROC_FABRICD,
	PROC_NODE,
};

/* One process `up` started; start = field 22 of /proc/PID/stat. */
struct proc_rec {
	enum proc_kind kind;
	char name[MF_NAME_MAX]; /* node name; "fabricd" for fabricd */
	pid_t pid;
	uint64_t start;
};

/* RUN/state (format: docs/cli.md). */
struct run_state {
	char cluster[MF_NAME_MAX];
	char manifest[PATH_MAX]; /* the manifest `up` was given, absolute */
	char build[PATH_MAX];	 /* the build directory the images came from */
	long long started;	 /* time(NULL) of `up` */
	unsigned nprocs;
	struct proc_rec procs[MF_MAX_NODES + 1];
};

/* A cluster as the verbs other than `up` see it. */
struct cluster {
	char dir[PATH_MAX]; /* run directory, canonical */
	struct run_state st;
	struct manifest mf; /* RUN/manifest.yaml */
};

/*
 * Where the run directory of the verbs other than `up` is: opt (--run-dir),
 * else $TESSERA_RUN_DIR, else run/current. Writes the path (as given, not
 * canonical) into out. Returns 0, or -1 if out is too small.
 */
int rundir_locate(const char *opt, char *out, size_t cap);

/* The run directory `up` uses for cluster: opt, $TESSERA_RUN_DIR, else
 * run/CLUSTER (then *is_default). 0 or -1. */
int rundir_for_up(const char *opt, const char *cluster, char *out, size_t cap,
		  bool *is_default);

/* Creates dir (and its parents), removes stale sockets, and moves the
 * logs and manifest of an earlier run into dir/previous/ (replacing what
 * was there). 0 or -1 (message printed). */
int rundir_prepare(const char *dir);

/* Removes the sockets and the state file of dir; logs and disks stay.
 * 0 or -1 (message printed). */
int rundir_clean(const char *dir);

/* Points run/current at run/CLUSTER. 0 or -1 (message printed). */
int rundir_link_current(const char *cluster);

/* Removes run/current (and DIR/../current) if it points at dir. */
void rundir_unlink_current(const char *dir);

/*
 * Opens the cluster whose run directory rundir_locate() names: canonical
 * path, state, manifest copy. On failure prints what is wrong and what to
 * do ("no cluster is up (...); start one with: tessera up MANIFEST") and
 * returns -1.
 */
int cluster_open(const char *opt, struct cluster *c);

/* Reads dir/state. 0; -1 with errno ENOENT if there is none; -1 with
 * EINVAL (and a message printed) if it is malformed. */
int state_read(const char *dir, struct run_state *st);
/* Writes dir/state atomically. 0 or -1 (errno). */
int state_write(const char *dir, const struct run_state *st);
/* The record of node name or "fabricd"; NULL if none. */
const struct proc_rec *state_find(const struct run_state *st, const char *name);

/* ---- proc.c: processes ----------------------------------------------- */

/*
 * Starts argv[0] (a path) in a new session with cwd dir, stdin /dev/null,
 * stdout and stderr appended to out_path (relative to dir; created),
 * signal mask and dispositions reset. If keep_group, the child stays in
 * our session and process group (for make: Ctrl-C reaches it). Returns the
 * pid once exec succeeded, or -1 with errno (exec failures included).
 */
pid_t proc_spawn(char *const argv[], const char *dir, const char *out_path,
		 bool keep_group);

/* Field 22 of /proc/PID/stat (start time in clock ticks since boot) into
 * *start. 0, or -1 if there is no such process (or it is a zombie). */
int proc_start_time(pid_t pid, uint64_t *start);

/* True if pid runs and is the process that started at start (so a
 * recycled pid is never mistaken for it). Reaps it if it is our zombie
 * child. */
bool proc_alive(pid_t pid, uint64_t start);

/* One process to stop. */
struct victim {
	pid_t pid;
	uint64_t start;
	char what[48]; /* for messages: "fabricd", "p1 (QEMU)" */
};

/*
 * Stops every victim still alive: SIGTERM, then SIGKILL for those still
 * alive after grace_ms; each pid checked against its start time before
 * every signal. Waits until all are gone (at most a few seconds after the
 * SIGKILL). Returns the number that would not die (normally 0).
 */
unsigned proc_stop(struct victim *v, unsigned n, unsigned grace_ms, bool verbose);

/*
 * Finds processes whose cwd is dir (canonical) and whose executable is
 * qemu-system-x86_64 or fabricd: parts of a cluster that may never have
 * been recorded. Appends them to v[*n..cap). Returns 0 or -1 (errno).
 */
int proc_find_strays(const char *dir, struct victim *v, unsigned *n, unsigned cap);

/* Reaps our child pid if it has ended, without blocking: returns -1 if it
 * still runs, else its status as a shell shows it (exit code, 128 + signal)
 * with a description ("exited with status 1", "killed by signal 9 ...")
 * in buf. */
int proc_reap(pid_t pid, char *buf, size_t cap);

/* ---- build.c: images and binaries ------------------------------------ */

struct build_paths {
	char build[PATH_MAX]; /* BUILDDIR: the tessera binary is BUILDDIR/tools/tessera */
	char src[PATH_MAX];   /* SRCROOT (holds the Makefile); "" if not found */
	char make_build[PATH_MAX]; /* BUILD= for make: relative to src if inside */
};

/* Finds BUILDDIR and SRCROOT from /proc/self/exe. 0 or -1 (message printed). */
int build_locate(struct build_paths *b);
/* BUILDDIR/tessera-R.elf of role into out. */
int build_image(const struct build_paths *b, enum mf_role role, char *out, size_t cap);
/* BUILDDIR/tools/fabricd into out. */
int build_fabricd(const struct build_paths *b, char *out, size_t cap);
/*
 * Manifest paths starting with MF_BUILD_PREFIX name a product of the
 * build the tessera binary belongs to: "@build/rootfs" is BUILDDIR/rootfs,
 * the root file system tree `make rootfs` assembles (docs/manifest.md).
 * `up` makes such products first, with the images. build_product: the
 * part after the prefix if p has it, else NULL.
 */
#define MF_BUILD_PREFIX "@build/"
const char *build_product(const char *p);
/*
 * Runs `make -C SRCROOT BUILD=... TARGETS` for the images of the roles m
 * uses and fabricd, quietly: its output is shown only if it fails. Without
 * a source tree, only checks that the files exist. 0 or -1 (message
 * printed).
 */
int build_make(const struct build_paths *b, const struct manifest *m);

/* ---- vm.c: QEMU command lines ----------------------------------------- */

/* "tcg" or "kvm" (TESSERA_ACCEL overrides; kvm only if /dev/kvm opens and
 * the CPU shows vmx or svm). */
const char *vm_accel(void);
/* The kernel command line of node n into buf. 0 or -1 (too long). */
int vm_cmdline(const struct manifest *m, const struct mf_node *n, char *buf, size_t cap);
/*
 * QEMU's argv for node n (image: its kernel; disk: absolute path of a
 * storage node's image, else NULL), to be started with cwd = the run
 * directory. 0, or -1 (a message printed: qemu-system-x86_64 or qboot
 * missing, out of memory).
 */
int vm_argv(const struct manifest *m, const struct mf_node *n, const char *image,
	    const char *disk, struct strv *out);

/* ---- fabric.c: fabricd's command line and control socket -------------- */

#define FABRIC_CONTROL "control.sock"

/* fabricd's argv for manifest m (bin: its executable), to be started with
 * cwd = the run directory: every node, and every fabric: setting. */
void fabric_argv(const struct manifest *m, const char *bin, struct strv *a);

/* Connects to dir/control.sock. fd or -1 (errno). */
int fabric_connect(const char *dir);
/*
 * Sends one command line, reads fabricd's one-line reply into a malloc'd
 * *reply (without the newline). Returns 0 if it begins with "ok", 1 if it
 * is an error reply, -1 on I/O failure or timeout (errno; *reply NULL).
 */
int fabric_command(int fd, const char *cmd, char **reply);
/* fabric_connect + fabric_command + close. */
int fabric_call(const char *dir, const char *cmd, char **reply);

/* A node in fabricd's `stats`. */
struct fab_node_stats {
	unsigned id;
	char name[MF_NAME_MAX];
	bool connected, failed;
	unsigned generation;
	uint64_t ops, bytes, errors, window;
	bool has_status; /* "status" is an object (not null / absent) */
	char state[16];	 /* booting, ready, panic, halted, torn, invalid */
	uint64_t heartbeat, heartbeat_age_ms, uptime_ms;
	uint64_t mem_total_kib, mem_free_kib, rpc_calls, rpc_served, rpc_timeouts;
	unsigned cpus;
	char note[160];
};

struct fab_stats {
	json_t *root; /* the whole reply, owned */
	unsigned nnodes;
	struct fab_node_stats nodes[64];
};

/* Asks fd's fabricd for `stats` and parses it. 0, or -1 (errno EPROTO for
 * a reply that does not parse). */
int fabric_stats(int fd, struct fab_stats *s);
void fabric_stats_free(struct fab_stats *s);
/* The node named name in s, or NULL. */
const struct fab_node_stats *fabric_node(const struct fab_stats *s, const char *name);

/* ---- health.c: node state ---------------------------------------------- */

enum node_state {
	NS_STARTING, /* QEMU runs, not connected to the fabric */
	NS_BOOTING,
	NS_READY,
	NS_UNRESPONSIVE, /* ready, but its heartbeat is older than 5 s */
	NS_PANIC,
	NS_HALTED,
	NS_FAILED,  /* QEMU gone, or failed by an injected fault */
	NS_UNKNOWN, /* fabricd gone: no view of the guest */
	NS_OTHER,   /* fabricd's word (torn, invalid) */
};

#define HEARTBEAT_STALE_MS 5000

struct node_health {
	enum node_state state;
	char word[16]; /* the state as shown */
	char note[200];
	const struct fab_node_stats *fs; /* NULL if fabricd did not report it */
};

/* n's state from whether its QEMU lives and from stats (NULL: fabricd
 * unreachable). */
void node_health(const char *name, bool qemu_alive, const struct fab_stats *stats,
		 struct node_health *h);
const char *node_state_name(enum node_state s);

/* ---- hostlink.c: hostlink client --------------------------------------- */

struct hostlink {
	int fd;
	char buf[8192]; /* received, not yet consumed */
	size_t len;
	char line[8193]; /* the line hostlink_recv returned last (words point here) */
};

/* Connects to dir/NAME.hostlink. 0 or -1 (errno). */
int hostlink_open(struct hostlink *h, const char *dir, const char *name);
void hostlink_close(struct hostlink *h);
/* Sends the words (escaped) as one line. 0, -1 (errno; E2BIG: too long). */
int hostlink_send(struct hostlink *h, const char *type, unsigned id, char *const words[],
		  unsigned nwords);
/*
 * Waits up to timeout_ms (-1: forever) for one line; splits it into at most
 * max words in place (unescaped from the third word on, lengths in lens).
 * Returns the number of words, 0 on timeout or when a signal arrived
 * (ts_signal), -1 on error or end of file (errno 0 for EOF), -2 if the
 * line was malformed. The words stay valid until the next call.
 */
int hostlink_recv(struct hostlink *h, int timeout_ms, char **words, size_t *lens,
		  unsigned max);
/* Sends "TYPE ID DATA" with len raw bytes of data (NULs allowed) as the
 * one escaped word. 0, -1 (errno; E2BIG: too long for a line). */
int hostlink_send_bytes(struct hostlink *h, const char *type, unsigned id, const void *data,
			size_t len);
/* Without waiting: reads what the socket holds now (1 read, 0 nothing,
 * -1 error or end of file), and takes one complete line out of what was
 * read, split as hostlink_recv does (0: no complete line yet). For a
 * caller that polls h->fd along with other fds. */
int hostlink_fill_now(struct hostlink *h);
int hostlink_take(struct hostlink *h, char **words, size_t *lens, unsigned max);

/* ---- check.c ----------------------------------------------------------- */

/* manifest_load(); on failure prints the parser's "file:line: what" alone
 * on a line of stderr and returns -1. */
int manifest_load_or_report(const char *path, struct manifest *m);

/* A path p from manifest m (disk image or dir) resolved against the
 * manifest's directory, absolute, into out; a path starting with
 * MF_BUILD_PREFIX names BUILDDIR/rest (build_product). 0 or -1 (message
 * printed). */
int manifest_resolve(const struct manifest *m, const char *p, char *out, size_t cap);

/* ---- down.c ------------------------------------------------------------ */

/* Grace period between SIGTERM and SIGKILL. */
#define STOP_GRACE_MS 5000

/*
 * Collects into v[0..cap) the processes of the cluster in dir that still
 * run: the recorded ones (st, may be NULL) whose start time matches, and
 * strays (qemu-system-x86_64 or fabricd with cwd dir). Returns how many.
 */
unsigned cluster_victims(const char *dir, const struct run_state *st, struct victim *v,
			 unsigned cap);

/* Stops every process of the cluster in dir (cluster_victims), then
 * removes its sockets and state (logs and disks stay). Returns the number
 * of processes it stopped, or -1 if some would not die. */
int cluster_takedown(const char *dir, const struct run_state *st, bool verbose);

#endif
