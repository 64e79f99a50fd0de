#!/usr/bin/env python3
"""The Linux ABI of a processor, against the host's (issue 7): the abi-test layer.

    abi_test.py [--build-dir build] [--out build/results/abi.tap] [--keep]
                [--only NAME,...] [--host-only]

The host (Linux) is the oracle. First, on this host:

  - every ABI test program (tests/abi/*.c, static musl binaries that
    `make abi-programs` builds into BUILD/abi/) runs with the environment
    a Tessera process gets (pcomponent/process.c's default_env) and a
    temporary directory for its files; each must pass all its checks
    there, or the expectation itself is wrong (a failed "host:" check);
  - every busybox script (tests/abi/*.sh) runs under the same busybox
    that goes on the disk ($BUSYBOX, default /bin/busybox: Debian's
    busybox-static), as `busybox sh SCRIPT DIR`, and every bash script
    (tests/abi/*.bash) under the same bash ($BASH_STATIC, default
    /bin/bash-static: Debian's bash-static), with PATH a directory of
    links to that busybox: its stdout, stderr and exit status are what
    the vNode must give.

Then the cluster: tests/cluster/abi.yaml (one processor, one memory node,
one storage node, the global node) boots through `tessera up` in a
temporary directory, with s1's disk made by scripts/mkrootfs.sh, the
default disk's maker: busybox and its applet links in /bin, the ABI
programs and scripts in /abi. Through `tessera run`:

  - busybox runs at all (`/bin/busybox echo`, `/bin/sh -c`);
  - file data goes through m1's buffer cache: a copy of /bin/busybox is
    the same (cmp) and m1's counters (`memstats m1`) grew by the bytes
    written and read and by a hit per page of cmp's second read;
  - each program as `/abi/NAME /tmp`: one result per program, with its
    checks as an indented KTAP subtest, one case per check the host
    made ("ok N - what" must be there and "ok" on the vNode too; a check
    the vNode never printed, because the program died or hung, fails
    as "not run"), and its exit status 0;
  - each script as `/bin/sh /abi/NAME.sh /tmp` (a .bash one under
    `/bin/bash`, Debian's bash-static): one result per script,
    its cases one per "== section" of its output, plus stderr and the
    exit status, each equal to the host's line for line (a mismatch
    shows a unified diff, here and in the KTAP);
  - the dynamic loaders (glibc's, musl's) run as commands print what
    they print on the host, and /bin/sh runs a dynamic program in a
    pipeline (the dynamic variants, NAME.glibc-dyn and NAME.musl-dyn,
    are among the programs above);
  - on p2, a second processor whose ExCache is only 256 KiB: the four
    programs of CHURN_PROGRAMS (one of them dynamic) again and again from one shell (exec churn), so that
    ExCache lines keep changing from one program's text to another's
    (QEMU must not run code translated from a line's previous page);
  - on vn3 (p1 and p2), the global process manager's choice: p1 when
    both are idle (ties go to the lower id), p2 while a busy loop runs
    on p1 (asked with the builtin `place`, and `tessera run -n vn3 --
    uname -n`); the loop ends by SIGTERM;
  - every node still ready, `tessera down`, no console log says "panic".

Progress goes to stdout as it happens (each run can take minutes under
TCG). If p1 stops being ready, the remaining runs fail at once instead of
each waiting for its timeout. --only runs only the named programs and
scripts (e.g. --only files,shell); --host-only runs only the host part
(no cluster), to check the expectations after editing a test.

Result: KTAP in --out and a "N passed, N failed" line (clusterlib.
run_layer). Every process the test starts is gone when it ends (tessera
down in a finally block, then a scan of /proc for processes whose cwd is
in the temporary directory, SIGKILLed and reported).
"""
import difflib
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from clusterlib import Cluster, check_no_panic, check_ready, detail, run_layer, shell_status

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ABI_SRC = os.path.join(ROOT, "tests", "abi")
MANIFEST = os.path.join(HERE, "abi.yaml")
MKROOTFS = os.path.join(ROOT, "scripts", "mkrootfs.sh")
BUSYBOX = os.environ.get("BUSYBOX", "/bin/busybox")
BASH = os.environ.get("BASH_STATIC", "/bin/bash-static")  # /bin/bash on the disk
# pcomponent/process.c's default_env: what every Tessera process starts with
DEFAULT_ENV = {"PATH": "/bin:/usr/bin:/sbin:/usr/sbin", "HOME": "/", "TERM": "vt100",
               "USER": "root", "LOGNAME": "root", "SHELL": "/bin/sh", "PWD": "/"}
GLIBC_PROGRAMS = ("time", "signals", "threads", "vfork", "spawn")  # also built with glibc (mk/cluster.mk's ABI_GLIBC)
DYNAMIC_PROGRAMS = ("time", "signals")  # also linked dynamically (ABI_DYNAMIC)
VNODE = "vn1"
CHURN_VNODE = "vn2"  # on p2, whose ExCache is small
CHURN_PROGRAMS = ("time", "misc", "signals", "time.glibc-dyn")  # the last: with ld.so, libc
CHURN_ROUNDS = 5
GPM_VNODE = "vn3"  # p1 and p2
GPM_WAIT_S = 20  # heartbeats come every second; the manager's view lags by one
NODES = ("p1", "p2", "m1", "s1", "g1")
UP_TIMEOUT = 240
RUN_TIMEOUT = 300   # one program or script on p1 (TCG, every page through m1)
HOST_TIMEOUT = 120
CASE_RE = re.compile(r"^(ok|not ok) (\d+) - (.*?)(?:: (got .*|condition false.*))?$")


# ---------------------------------------------------------------- what to run

def programs():
    """The ABI programs' names, sorted: one per tests/abi/*.c (musl),
    NAME.glibc, NAME.glibc-pie for those of GLIBC_PROGRAMS, and
    NAME.glibc-dyn, NAME.musl-dyn for those of DYNAMIC_PROGRAMS."""
    names = [os.path.basename(p)[:-2] for p in glob.glob(os.path.join(ABI_SRC, "*.c"))]
    return sorted(names + [f"{n}.{kind}" for n in GLIBC_PROGRAMS
                           for kind in ("glibc", "glibc-pie")]
                  + [f"{n}.{kind}" for n in DYNAMIC_PROGRAMS
                     for kind in ("glibc-dyn", "musl-dyn")])


# A script's suffix -> its shell on the host and on the vNode.
SCRIPT_SHELLS = {".sh": ((BUSYBOX, "sh"), ("/bin/sh",)),
                 ".bash": ((BASH,), ("/bin/bash",))}


def scripts():
    """The scripts' names (tests/abi/*.sh for busybox sh, *.bash for bash;
    without the suffix), sorted."""
    return sorted(os.path.splitext(os.path.basename(p))[0]
                  for ext in SCRIPT_SHELLS for p in glob.glob(os.path.join(ABI_SRC, "*" + ext)))


def script_file(name):
    """NAME's file name in tests/abi/ (and /abi on the disk)."""
    return next(name + ext for ext in SCRIPT_SHELLS
                if os.path.exists(os.path.join(ABI_SRC, name + ext)))


def script_shell(name, host):
    """The argv prefix that runs NAME: on the host or on the vNode."""
    return SCRIPT_SHELLS[os.path.splitext(script_file(name))[1]][0 if host else 1]


def selected(names, only):
    return [n for n in names if not only or n in only]


def parse_cases(text):
    """[(number, what, ok, why)] of a program's "ok N - what" lines."""
    cases = []
    for line in text.splitlines():
        m = CASE_RE.match(line)
        if m:
            cases.append((int(m.group(2)), m.group(3), m.group(1) == "ok", m.group(4) or ""))
    return cases


def sections(text):
    """A script's stdout as [(section, [lines])]: "== name" lines start
    sections; lines before the first are the section "start"."""
    out = [("start", [])]
    for line in text.splitlines():
        if line.startswith("== "):
            out.append((line[3:], []))
        else:
            out[-1][1].append(line)
    return [s for s in out if s[0] != "start" or s[1]]


def diff(want, got, label):
    """A unified diff of two lists of lines, host first ("" if equal)."""
    if want == got:
        return ""
    return "\n".join(difflib.unified_diff(want, got, f"host {label}", f"vnode {label}",
                                          lineterm="", n=1))


# ---------------------------------------------------------------- host side

def host_bin(tmp):
    """A directory of links to BUSYBOX, one per applet: the host's PATH for
    the scripts, as /bin is on the disk."""
    d = os.path.join(tmp, "hostbin")
    os.makedirs(d)
    os.symlink(BUSYBOX, os.path.join(d, "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], stdout=subprocess.PIPE, text=True,
                             timeout=30).stdout.split()
    for a in applets:
        if a != "busybox":
            os.symlink("busybox", os.path.join(d, a))
    return d


def host_run(argv, tmp, path=None):
    """(status, stdout, stderr) of argv on this host, with the Tessera
    default environment (PATH replaced by path if given), cwd /."""
    env = dict(DEFAULT_ENV)
    if path:
        env["PATH"] = path
    p = subprocess.Popen(argv, cwd="/", env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         errors="replace", start_new_session=True)
    try:
        out, err = p.communicate(timeout=HOST_TIMEOUT)
        status = shell_status(p.returncode)
    except subprocess.TimeoutExpired:
        out, err, status = "", f"(timed out after {HOST_TIMEOUT} s)", -1
    finally:  # the whole session: background jobs of a script too
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
    if status == -1:
        p.communicate()
    return status, out, err


def host_programs(t, build, tmp, names):
    """Runs every program on the host; {name: its cases} for those that
    passed there (the others fail a "host:" check)."""
    want = {}
    work = os.path.join(tmp, "hostwork")
    os.makedirs(work, exist_ok=True)
    for name in names:
        st, out, err = host_run([os.path.realpath(os.path.join(build, "abi", name)), work], tmp)
        cases = parse_cases(out)
        bad = [c for c in cases if not c[2]]
        if t.check(st == 0 and cases and not bad,
                   f"host: {name}: all {len(cases)} checks pass on Linux",
                   f"exit {st}; failed: {[f'{c[1]}: {c[3]}' for c in bad[:5]]}; "
                   f"stderr {err[-300:]!r}"):
            want[name] = cases
    return want


def host_scripts(t, tmp, names):
    """Runs every script on the host under its shell (busybox sh, or
    bash), with busybox's applets as the commands; {name: (status,
    stdout, stderr)} for those that ended in time and printed "done NAME"."""
    path = host_bin(tmp)
    want = {}
    for name in names:
        work = os.path.join(tmp, "hostwork", name)
        os.makedirs(work)
        shell = script_shell(name, host=True)
        st, out, err = host_run([*shell, os.path.join(ABI_SRC, script_file(name)), work],
                                tmp, path=path)
        if t.check(st == 0 and out.endswith(f"done {name}\n"),
                   f"host: {script_file(name)} runs to its end under {' '.join(shell)}",
                   f"exit {st}; stdout {out[-300:]!r}; stderr {err[-300:]!r}"):
            want[name] = (st, out, err)
    return want


# ---------------------------------------------------------------- the cluster

def make_tree(lay):
    """The disk's tree, made as the default disk is; returns the manifest."""
    tree = os.path.join(lay.tmp, "tree")
    files = [os.path.join(lay.build, "abi", n) for n in programs()]
    files += [os.path.join(ABI_SRC, script_file(n)) for n in scripts()]
    subprocess.run(["sh", MKROOTFS, tree, "--abi", *files], check=True, timeout=120,
                   env=dict(os.environ, BUSYBOX=BUSYBOX, BASH_STATIC=BASH))
    shutil.copy(MANIFEST, os.path.join(lay.tmp, "abi.yaml"))
    return os.path.join(lay.tmp, "abi.yaml")


class Runner:
    """`tessera run` on a vNode's processor with progress lines, which
    stops trying once that processor is no longer ready (each later run
    there fails at once, saying why)."""

    def __init__(self, c):
        self.c = c
        self.dead = {}  # processor: why it cannot run programs any more

    def run(self, *argv, vnode=VNODE, node="p1"):
        if node in self.dead:
            return subprocess.CompletedProcess(argv, -998, "", self.dead[node])
        start = time.monotonic()
        print(f"# run on {node}: {' '.join(argv)}", flush=True)
        p = self.c.run(vnode, *argv, timeout=RUN_TIMEOUT)
        print(f"#   exit {p.returncode} after {time.monotonic() - start:.1f} s", flush=True)
        if p.returncode in (255, -999):
            doc = self.c.status()
            states = {n["name"]: n["state"] for n in (doc or {}).get("nodes", [])}
            if states.get(node) != "ready":
                self.dead[node] = (f"{node} is no longer ready ({states}) after "
                                   f"{' '.join(argv)}")
                print(f"# {self.dead[node]}: the remaining runs there fail at once",
                      flush=True)
        return p


def test_busybox(t, r):
    p = r.run("/bin/busybox", "echo", "hello", "from", "busybox")
    t.check(p.returncode == 0 and p.stdout == "hello from busybox\n",
            "/bin/busybox echo: its words on stdout", detail(p))
    p = r.run("/bin/sh", "-c", "echo $((6 * 7)) $HOME")
    t.check(p.returncode == 0 and p.stdout == "42 /\n",
            "/bin/sh -c: arithmetic and the environment", detail(p))


MEMSTAT_RE = re.compile(r"^([a-z_]+) (\d+)$", re.M)


def bcache_stats(r):
    """m1's buffer cache counters (the processor builtin `memstats`)."""
    p = r.run("memstats", "m1")
    st = {k: int(v) for k, v in MEMSTAT_RE.findall(p.stdout)}
    return st if p.returncode == 0 and "bcache_hits" in st else None


def test_buffer_cache(t, r):
    """File data goes through m1's buffer cache: a copy of /bin/busybox
    and a comparison of both files grow m1's counters by what they moved
    (they would not move if the processor went to s1 directly)."""
    size = os.path.getsize(os.path.realpath(BUSYBOX))
    pages = size // 4096
    before = bcache_stats(r)
    p = r.run("/bin/sh", "-c", "cat /bin/busybox > /tmp/bc.copy && "
              "cmp /bin/busybox /tmp/bc.copy && echo same; rm -f /tmp/bc.copy")
    after = bcache_stats(r)
    t.check(p.returncode == 0 and p.stdout == "same\n",
            "a copy of /bin/busybox through the buffer cache is the same", detail(p))
    if not t.check(before is not None and after is not None,
                   "memstats m1 shows the buffer cache's counters"):
        return
    grew = {k: after[k] - before[k] for k in before if k.startswith("bcache_")}
    t.check(grew["bcache_written_bytes"] >= size and grew["bcache_read_bytes"] >= 3 * size,
            f"m1's buffer cache wrote {size} bytes through and gave readers three times "
            "as many (cat, cmp)", str(grew))
    t.check(grew["bcache_hits"] >= pages,
            f"cmp's second read of /bin/busybox hits: at least {pages} page hits",
            str(grew))


# The dynamic loaders as the disk has them (scripts/mkrootfs.sh copies
# this host's), each also run as a command: then it is a static-PIE that
# maps the program itself.
LOADERS = {"glibc": "/lib64/ld-linux-x86-64.so.2", "musl": "/lib/ld-musl-x86_64.so.1"}


def test_loaders(t, r, lay):
    """The loaders run as commands print what they print on the host:
    glibc's --version, and musl's running /abi/time.musl-dyn (its last
    line, the count); and a dynamic program started by the shell."""
    work = os.path.join(lay.tmp, "hostwork")
    os.makedirs(work, exist_ok=True)
    prog = os.path.realpath(os.path.join(lay.build, "abi", "time.musl-dyn"))
    runs = [("glibc's ld.so --version", [LOADERS["glibc"], "--version"],
             [LOADERS["glibc"], "--version"], lambda out: out),
            ("musl's loader running time.musl-dyn", [LOADERS["musl"], prog, work],
             [LOADERS["musl"], "/abi/time.musl-dyn", "/tmp"],
             lambda out: (out.splitlines() or [""])[-1])]
    for what, host_argv, vnode_argv, keep in runs:
        st, out, _ = host_run(host_argv, lay.tmp)
        p = r.run(*vnode_argv)
        t.check(st == 0 and p.returncode == 0 and keep(p.stdout) == keep(out),
                f"{what}: exit 0 and the host's output", f"host {keep(out)!r}; {detail(p)}")
    p = r.run("/bin/sh", "-c", "/abi/time.glibc-dyn /tmp | tail -n 1")
    t.check(p.returncode == 0 and p.stdout.startswith("# abi time: ") and
            p.stdout.endswith(" passed, 0 failed\n"),
            "/bin/sh runs a dynamic program in a pipeline", detail(p))


def test_exec_churn(t, r):
    """The ABI programs one after another on p2's small ExCache, from one
    shell: each exit status 0, every round."""
    loop = (f"for i in $(seq {CHURN_ROUNDS}); do for x in {' '.join(CHURN_PROGRAMS)}; do "
            "/abi/$x /tmp >/dev/null 2>&1 || echo \"round $i: $x exit $?\"; done; done; "
            "echo churned")
    p = r.run("/bin/sh", "-c", loop, vnode=CHURN_VNODE, node="p2")
    t.check(p.returncode == 0 and p.stdout == "churned\n",
            f"p2 (256 KiB ExCache): {CHURN_ROUNDS} rounds of "
            f"{', '.join(CHURN_PROGRAMS)} all exit 0", detail(p))


def await_place(c, want):
    """Asks GPM (`place p1 p2` on p2) until it answers want, for at most
    GPM_WAIT_S seconds; returns the last run."""
    deadline = time.monotonic() + GPM_WAIT_S
    while True:
        p = c.run("p2", "place", "p1", "p2", timeout=30)
        if p.stdout == want or time.monotonic() > deadline:
            return p
        time.sleep(0.5)


def test_gpm(t, c):
    """`tessera run` on vn3 (p1 and p2) asks the global process manager,
    which picks the processor with the fewest running user threads (ties:
    the lowest id)."""
    p = await_place(c, "1 p1\n")
    t.check(p.returncode == 0 and p.stdout == "1 p1\n",
            "GPM: of two idle processors, p1 (the lower id)", detail(p))
    p = c.run(GPM_VNODE, "uname", "-n")
    t.check(p.returncode == 0 and p.stdout == "p1\n" and "process manager" not in p.stderr,
            f"run -n {GPM_VNODE}: on p1, as GPM said", detail(p))
    hog = c.popen("p1", "/bin/sh", "-c", "while :; do :; done")
    try:
        p = await_place(c, "2 p2\n")
        t.check(p.returncode == 0 and p.stdout == "2 p2\n",
                "GPM: with a busy loop on p1, p2", detail(p))
        p = c.run(GPM_VNODE, "uname", "-n")
        t.check(p.returncode == 0 and p.stdout == "p2\n",
                f"run -n {GPM_VNODE} while p1 is busy: on p2", detail(p))
    finally:
        hog.terminate()  # forwarded to the loop as SIGTERM
        out, err = hog.communicate(timeout=60)
    t.check(hog.returncode == 128 + signal.SIGTERM, "the busy loop on p1 ended by SIGTERM",
            f"exit {hog.returncode}, stderr {err!r}")


def test_program(t, r, name, want):
    """One result for /abi/NAME: the host's checks, each ok on p1."""
    p = r.run(f"/abi/{name}", "/tmp")
    got = {(n, what): (ok, why) for n, what, ok, why in parse_cases(p.stdout)}
    cases = []
    for n, what, _, _ in want:
        ok, why = got.get((n, what), (False, "not run (no such line from p1)"))
        cases.append((ok, f"{n} - {what}", why))
    extra = [k for k in got if k not in {(n, w) for n, w, _, _ in want}]
    # first, so that the result's reason shows a program that did not run
    cases.insert(0, (p.returncode == 0, "exit status 0", detail(p)))
    if extra:
        cases.append((False, "no checks other than the host's",
                      f"{len(extra)} unexpected, e.g. {extra[:3]}"))
    return t.check_cases(f"{name}: the host's checks pass on p1", cases)


def test_script(t, r, name, want):
    """One result for /abi/NAME.sh (or .bash): each section, stderr and
    the exit status equal to the host's."""
    st, out, err = want
    label = script_file(name)
    p = r.run(*script_shell(name, host=False), f"/abi/{label}", "/tmp")
    got_secs = dict(sections(p.stdout))
    cases = []
    for sec, lines in sections(out):
        d = diff(lines, got_secs.get(sec, []), f"{label} [{sec}]")
        cases.append((not d, f"section '{sec}' as on the host", d))
        if d:
            print(f"# {label}, section '{sec}': host vs p1\n{d}", flush=True)
    extra = [s for s in got_secs if s not in dict(sections(out))]
    if extra:
        cases.append((False, "no sections other than the host's", str(extra)))
    d = diff(err.splitlines(), p.stderr.splitlines(), f"{label} stderr")
    if d:
        print(f"# {label} stderr: host vs p1\n{d}", flush=True)
    # first, so that the result's reason shows a script that did not run
    cases.insert(0, (not d, "stderr as on the host", d))
    cases.insert(0, (p.returncode == st, f"exit status {st} as on the host", detail(p)))
    return t.check_cases(f"{label}: output as on the host", cases)


def run(lay):
    t, cli, run_dir = lay.t, lay.cli, lay.run_dir
    only = set(filter(None, (lay.opts.only or "").split(",")))
    progs, scrs = selected(programs(), only), selected(scripts(), only)
    if only and set(progs + scrs) != only:
        t.check(False, "--only names programs or scripts of tests/abi",
                f"unknown: {sorted(only - set(progs + scrs))}")
        return
    have = lay.opts.host_only or t.check(os.access(lay.binary, os.X_OK),
                                         f"{lay.binary} exists")
    missing = [n for n in programs()
               if not os.access(os.path.join(lay.build, "abi", n), os.X_OK)]
    have = t.check(not missing, f"the ABI programs are in {lay.build}/abi "
                   "(make abi-programs)", f"missing: {missing}") and have
    have = t.check(os.access(BUSYBOX, os.X_OK), f"{BUSYBOX} exists (busybox-static)") and have
    if not have:
        return
    want_p = host_programs(t, lay.build, lay.tmp, progs)
    want_s = host_scripts(t, lay.tmp, scrs)
    if lay.opts.host_only:
        return
    p = cli("up", make_tree(lay), "--run-dir", run_dir, "--timeout", "200",
            timeout=UP_TIMEOUT)
    if not t.check(p.returncode == 0, "up tests/cluster/abi.yaml: exit 0", detail(p)):
        return
    c = Cluster(cli, run_dir, RUN_TIMEOUT)
    r = Runner(c)
    test_busybox(t, r)
    test_buffer_cache(t, r)
    for name in progs:
        if name in want_p:
            test_program(t, r, name, want_p[name])
    for name in scrs:
        if name in want_s:
            test_script(t, r, name, want_s[name])
    if not only or {"time.musl-dyn", "time.glibc-dyn"} <= only:
        test_loaders(t, r, lay)
    if not only or set(CHURN_PROGRAMS) <= only:
        test_exec_churn(t, r)
    if not only:
        test_gpm(t, c)
    nodes = check_ready(t, c)
    p = cli("down", "--run-dir", run_dir, timeout=60)
    t.check(p.returncode == 0, "down: exit 0", detail(p))
    t.check(sorted(nodes) == sorted(NODES), f"status --json listed the manifest's {len(NODES)} nodes",
            str(nodes))
    check_no_panic(t, run_dir, NODES)


def options(ap):
    ap.add_argument("--only", default="", help="comma-separated programs and scripts")
    ap.add_argument("--host-only", action="store_true", help="no cluster: the host part only")


if __name__ == "__main__":
    sys.exit(run_layer("abi", __doc__.split("\n")[0], run, add_options=options))
