#!/usr/bin/env python3
"""The memory path end to end (DESIGN.md section 5): the memory-test layer.

    memory_test.py [--build-dir build] [--out build/results/memory.tap] [--keep]

Boots tests/cluster/memory.yaml with the `tessera` CLI in a temporary
directory: four processors, one per ExCache policy (lru, fifo, random,
clock; 1 MiB, 4-way each), each in a vNode of its own whose memories are
m1 and m2 (twice m1's frames: the global memory manager makes it the home
of every new program, though m1 is the first memory= node). s1's disk is made from a tree this script
writes: /bin with the static test programs of tests/user/ (mode 0755,
built by `make user-programs` into BUILD/user/), /etc/motd and
/data/notelf (a text file with an x bit), an empty /tmp (mode 1777). Then, through `tessera run`:

  - memtest 8 MiB, 2 passes, on every policy's processor: 8 times the
    ExCache, so every page goes to its home and back between fill and check.
    Its `memtest:` line must be the one the same binary prints on this
    host (the checksum does not depend on addresses); its `excache:`
    line (the process's counters, Tessera system call 1024) must name the
    manifest's policy and show the misses and write-backs that 8 MiB
    through a 1 MiB cache cannot avoid;
  - mmaptest's and faulttest's cases: stdout and exit status equal to the
    host's (which must themselves be as specified: 139 for SIGSEGV, 132
    SIGILL, 136 SIGFPE, N for exit N); mmaptest first-touch's `excache:`
    line shows that its first touches of .bss and stack pages were zero-
    filled on the processor with no message (exec names those ranges);
  - the home: a new program's exec is served by m2, not m1 (the global
    memory manager's choice: the freer node, not the first memory= node);
    faulttest's image is demand loaded: m1's buffer cache (the vNode's
    file cache node, which m2 asks) is asked for its pages (exec maps them
    from the file), no more of them than the file has;
  - two pattern processes at once on p1 (sent on one hostlink connection,
    since `tessera run` runs one program at a time per processor): both
    print the host's lines, and each printed its first round before the
    other ended; then two `tessera run` of pattern at once on p1 and p2,
    which share m2;
  - spantest started by the `home m1` builtin (its home m1, not GMM's
    choice): four regions, each in a vRegion of its own, which the
    global memory manager places on m2 (twice m1's frames): the host's
    checksum, m1's placed_away and m2's served pages grow, and the
    process's first miss there was redirected by its home;
  - forktest on two policies (copy-on-write after fork, wait4, getppid,
    ECHILD, a child dying of SIGSEGV): the host's lines; every MEM_FORK
    went to m2 (the children's home is their parent's), none to m1;
  - threadtest on two policies (pthreads: create/join, a mutex, a
    condition variable, a barrier, __thread, gettid, memory written by
    every thread at once, mmap/munmap from every thread, signals to one
    thread, fork from a thread): the host's line and exit 0; and its
    cases exitgroup (7), fatal (139, the whole process), mainexit (0)
    and exec (the exec'd image is the only thread): output and status
    as on the host;
  - m1's and m2's free frames (and the buffer cache's, which file reads
    may fill meanwhile) back to their first figures after processes exit
    and after processes die of faults (MEM_STATS through a processor
    builtin: see free_frames);
  - every node still ready; `tessera down`; no node's console log says
    "panic".

Result: KTAP in --out, one line per check, and a "N passed, N failed"
line. Every process the test starts is gone when it ends (tessera down in
a finally block, then a scan of /proc for processes whose cwd is in the
temporary directory, SIGKILLed and reported).
"""
import fcntl
import os
import re
import shutil
import socket
import subprocess
import sys
import time

from clusterlib import Cluster, check_no_panic, check_ready, detail, run_layer, shell_status

HERE = os.path.dirname(os.path.abspath(__file__))

MANIFEST = os.path.join(HERE, "memory.yaml")
PROGRAMS = ("memtest", "mmaptest", "faulttest", "pattern", "membench", "spantest",
            "forktest", "threadtest")
# vNode -> (its processor, the ExCache policy memory.yaml gives it)
POLICY_VNODES = {"vn1": ("p1", "lru"), "vn2": ("p2", "fifo"), "vn3": ("p3", "random"),
                 "vn4": ("p4", "clock")}
EXCACHE_LINES = 256  # 1 MiB of 4 KiB lines, as in memory.yaml
MEMTEST_ARGS = ("8", "2")  # 8 MiB (8x the ExCache), 2 passes
PATTERN_ARGS = ("4", "4", "200")  # 4 MiB, 4 rounds, 200 ms sleeps
SPAN_ARGS = ("4", "2")  # 4 regions of 2 MiB, each in a vRegion of its own
MEMORY_NODES = ("m1", "m2")
UP_TIMEOUT = 240
RUN_TIMEOUT = 300
MMAP_CASES = {  # case -> exit status Linux gives (signals as the shell: 128+N)
    "anon": 0, "segv-after-munmap": 139, "mprotect-ro": 139, "mprotect-rw": 0,
    "brk": 0, "fixed": 0, "big-reserve": 0, "file": 0, "first-touch": 0}
FIRST_TOUCH_PAGES = 32  # tests/user/mmaptest.c: pages of .bss and of stack
THREAD_CASES = {("exitgroup",): 7, ("fatal",): 139, ("mainexit",): 0, ("exec",): 0}
FAULT_CASES = {("null",): 139, ("ud2",): 132, ("div0",): 136, ("exit", "0"): 0,
               ("exit", "3"): 3, ("exit", "255"): 255}
# The processor builtin `memstats NODE` prints a memory node's MEM_STATS
# (struct mem_stats) as "name value" lines, "frames_free N" among them.
MEMSTAT_RE = re.compile(r"^([a-z_]+) (\d+)$", re.M)


# ---------------------------------------------------------------- host side

def stable(text):
    """The lines of a program's output that do not vary between runs:
    all but "timing:" and "excache:" lines."""
    return [ln for ln in text.splitlines()
            if not ln.startswith("timing:") and not ln.startswith("excache:")]


def host_run(user_dir, prog, *args):
    """(status, stable stdout lines) of the program run on this host."""
    p = subprocess.run([os.path.join(user_dir, prog), *args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    return shell_status(p.returncode), stable(p.stdout)


def excache_line(text, what):
    """The counters of the `excache: WHAT ...` line as a dict, or None."""
    m = re.search(r"^excache: " + re.escape(what) + r" (.*)$", text, re.M)
    if not m:
        return None
    words = m.group(1).split()
    return {k: (int(v) if v.isdigit() else v) for k, v in zip(words[::2], words[1::2])}


def make_tree(tmp, user_dir):
    tree = os.path.join(tmp, "tree")
    for d in ("bin", "etc", "data", "tmp"):  # /tmp: mmaptest file's file
        os.makedirs(os.path.join(tree, d))
    for prog in PROGRAMS:
        dst = os.path.join(tree, "bin", prog)
        shutil.copy(os.path.join(user_dir, prog), dst)
        os.chmod(dst, 0o755)
    with open(os.path.join(tree, "etc", "motd"), "w") as f:
        f.write("Tessera memory test disk\n")
    with open(os.path.join(tree, "data", "notelf"), "w") as f:
        f.write("#!/bin/sh\necho this is not an ELF file\n")
    os.chmod(os.path.join(tree, "data", "notelf"), 0o755)
    for d in ("", "bin", "etc", "data"):
        os.chmod(os.path.join(tree, d), 0o755)
    os.chmod(os.path.join(tree, "tmp"), 0o1777)
    shutil.copy(MANIFEST, os.path.join(tmp, "memory.yaml"))
    return os.path.join(tmp, "memory.yaml")


# ---------------------------------------------------------------- the cluster

def hl_escape(word):
    """A hostlink word (include/proto/hostlink.h)."""
    if not word:
        return "%-"
    b = word.encode()
    return "".join(chr(c) if 0x21 <= c <= 0x7e and c != 0x25 else f"%{c:02X}" for c in b)


def hl_unescape(word):
    if word == "%-":
        return b""
    out, i = bytearray(), 0
    while i < len(word):
        if word[i] == "%" and i + 3 <= len(word):
            out.append(int(word[i + 1:i + 3], 16))
            i += 3
        else:
            out += word[i].encode()
            i += 1
    return bytes(out)


class Hostlink:
    """A second client of a processor's hostlink (include/proto/hostlink.h)
    that starts several programs at once on one connection. Holds the
    node's hostlink lock as `tessera run` does, so no run interleaves."""

    def __init__(self, run_dir, node, timeout):
        self.deadline = time.monotonic() + timeout
        self.lock = open(os.path.join(run_dir, f"{node}.hostlink.lock"), "a+")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(1.0)
        self.sock.connect(os.path.join(run_dir, f"{node}.hostlink"))
        self.buf = b""

    def close(self):
        self.sock.close()
        fcntl.flock(self.lock, fcntl.LOCK_UN)
        self.lock.close()

    def send(self, *words):
        self.sock.sendall((" ".join(hl_escape(w) for w in words) + "\n").encode())

    def lines(self):
        """Yields the received lines as word lists until the deadline."""
        while time.monotonic() < self.deadline:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                yield line.decode(errors="replace").split(" ")
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                return
            self.buf += data

    def run_many(self, cmds):
        """Starts every command (a list of words) at once; returns, per
        command, {"status", "out", "err", "first_out", "exit"} with the
        order numbers of its first output and its exit among all events."""
        self.send("ping", "1")
        for words in self.lines():
            if words[:2] == ["pong", "1"]:
                break
        else:
            raise RuntimeError("no pong on the hostlink")
        res = {}
        for i, cmd in enumerate(cmds):
            res[100 + i] = {"status": None, "out": b"", "err": b"", "first_out": None,
                            "exit": None, "fail": None}
            self.send("run", str(100 + i), *cmd)
        seq = 0
        for words in self.lines():
            if len(words) < 2 or not words[1].isdigit():
                continue
            r = res.get(int(words[1]))
            if r is None:
                continue
            seq += 1
            if words[0] in ("out", "err") and len(words) > 2:
                r[words[0]] += hl_unescape(words[2])
                if r["first_out"] is None:
                    r["first_out"] = seq
            elif words[0] == "exit" and len(words) > 2:
                r["status"], r["exit"] = int(words[2]), seq
            elif words[0] == "fail":
                r["fail"], r["exit"] = " ".join(words[2:]), seq
            if all(x["exit"] is not None for x in res.values()):
                break
        return [res[100 + i] for i in range(len(cmds))]


def memstats(t, c, node):
    """node's MEM_STATS as a dict (the `memstats NODE` builtin), or None
    after a failed check."""
    p = c.run("vn1", "memstats", node, timeout=60)
    st = {k: int(v) for k, v in MEMSTAT_RE.findall(p.stdout)}
    if not t.check(p.returncode == 0 and "frames_free" in st,
                   f"memstats {node} prints frames_free", detail(p)):
        return None
    return st


def free_frames(t, c):
    """Every memory node's frames not held by processes (free ones and
    the buffer cache's pages), or None after a failed check."""
    free = {}
    for node in MEMORY_NODES:
        st = memstats(t, c, node)
        if st is None:
            return None
        free[node] = st["frames_free"] + st.get("bcache_pages", 0)
    return free


def check_frames(t, c, baseline, after_what):
    if baseline is None:
        return
    now = free_frames(t, c)
    if now is not None:
        t.check(now == baseline, f"free frames of m1 and m2 back to {baseline} after "
                f"{after_what}", f"now {now}")


# ---------------------------------------------------------------- the tests

def test_up(t, cli, run_dir, manifest):
    p = cli("up", manifest, "--run-dir", run_dir, "--timeout", "200", timeout=UP_TIMEOUT)
    return t.check(p.returncode == 0, "up tests/cluster/memory.yaml: exit 0", detail(p))


def test_basics(t, c):
    p = c.run("vn1", "echo", "hi", timeout=60)
    t.check(p.returncode == 0 and p.stdout == "hi\n", "builtin echo still works", detail(p))
    p = c.run("vn1", "cat", "/etc/motd", timeout=60)
    t.check(p.returncode == 0 and "memory test disk" in p.stdout, "cat /etc/motd from s1",
            detail(p))
    p = c.run("vn1", "/bin/nosuch", timeout=60)
    t.check(p.returncode == 127, "/bin/nosuch: exit 127 (no such program)", detail(p))
    p = c.run("vn1", "/data/notelf", timeout=60)
    t.check(p.returncode not in (0, 255),
            "/data/notelf (not an ELF file) is refused, with an exit status", detail(p))
    p = c.run("vn1", "/bin/memtest", timeout=60)
    t.check(p.returncode == 2 and p.stderr.startswith("usage: memtest SIZE_MIB"),
            "/bin/memtest without arguments: exit 2, its usage line on stderr", detail(p))


def test_memtest(t, c, user_dir):
    want = host_run(user_dir, "memtest", *MEMTEST_ARGS)
    if not t.check(want[0] == 0 and len(want[1]) == 1 and want[1][0].startswith("memtest: "),
                   f"host: memtest {' '.join(MEMTEST_ARGS)} prints one line", str(want)):
        return
    pages = (int(MEMTEST_ARGS[0]) << 20) // 4096
    for vnode, (node, policy) in POLICY_VNODES.items():
        p = c.run(vnode, "/bin/memtest", *MEMTEST_ARGS)
        t.check(p.returncode == 0 and stable(p.stdout) == want[1],
                f"{node} ({policy}): memtest {' '.join(MEMTEST_ARGS)}: '{want[1][0]}' as on "
                "the host", detail(p))
        ex = excache_line(p.stdout, "memtest")
        if not t.check(ex is not None, f"{node} ({policy}): memtest prints its excache line",
                       detail(p)):
            continue
        t.check(ex.get("policy") == policy and ex.get("lines") == EXCACHE_LINES,
                f"{node}: the ExCache is the manifest's: {policy}, {EXCACHE_LINES} lines",
                str(ex))
        fetched = ex.get("misses", 0) + ex.get("prefetch_hits", 0)
        stored = ex.get("flushes", 0) + ex.get("piggybacks", 0)
        t.check(fetched >= pages and stored >= pages - EXCACHE_LINES,
                f"{node} ({policy}): at least {pages} pages fetched and "
                f"{pages - EXCACHE_LINES} written back", str(ex))
        timing = [ln for ln in p.stdout.splitlines() if ln.startswith("timing:")]
        print(f"# {node} ({policy}): {'; '.join(timing)}", flush=True)


def test_cases(t, c, user_dir, prog, cases, baseline):
    for args, status in cases.items():
        args = args if isinstance(args, tuple) else (args,)
        label = f"{prog} {' '.join(args)}"
        host = host_run(user_dir, prog, *args)
        if not t.check(host[0] == status, f"host: {label}: exit {status}", str(host)):
            continue
        p = c.run("vn1", f"/bin/{prog}", *args, timeout=120)
        t.check(p.returncode == status and stable(p.stdout) == host[1],
                f"p1: {label}: exit {status}, output {host[1]} as on the host", detail(p))
        if status >= 128 and args[0] != "exit":
            check_frames(t, c, baseline, f"{label} died of signal {status - 128}")


def test_first_touch(t, c):
    """The first touch of .bss and stack pages is a fresh fill on the
    processor (exec's reply names those ranges), not a round trip."""
    p = c.run("vn1", "/bin/mmaptest", "first-touch", timeout=120)
    ex = excache_line(p.stdout, "first-touch")
    if not t.check(p.returncode == 0 and ex is not None,
                   "p1: mmaptest first-touch prints its excache line", detail(p)):
        return
    t.check(ex.get("zero_fills") == 0 and ex.get("fresh_fills", 0) >= 2 * FIRST_TOUCH_PAGES - 2,
            f"p1: the first touch of {FIRST_TOUCH_PAGES} .bss and {FIRST_TOUCH_PAGES} stack "
            "pages sent no message (zero_fills 0, fresh_fills >= "
            f"{2 * FIRST_TOUCH_PAGES - 2})", str(ex))


def test_lazy_exec(t, c, user_dir):
    """A new program's home is GMM's choice, m2 (more free frames), though
    m1 is the vNode's first memory node: m2 serves its exec. Exec maps the
    image's file pages (private file VMAs, demand loaded): the pages a
    program touches are read at their misses through the buffer cache of
    the vNode's first memory node, m1 (the one its read() and write() use),
    at most one lookup per page of the file; an eager exec reads the file
    around the cache and makes none."""
    pages = (os.path.getsize(os.path.join(user_dir, "faulttest")) + 4095) // 4096
    before = {n: memstats(t, c, n) for n in MEMORY_NODES}
    p = c.run("vn1", "/bin/faulttest", "exit", "0", timeout=120)
    after = {n: memstats(t, c, n) for n in MEMORY_NODES}
    if not t.check(p.returncode == 0 and None not in before.values() and
                   None not in after.values(),
                   "p1: faulttest exit 0 between memstats of m1 and m2", detail(p)):
        return
    execs = {n: after[n]["execs"] - before[n]["execs"] for n in MEMORY_NODES}
    t.check(execs == {"m1": 0, "m2": 1},
            "p1: faulttest's home is m2, GMM's choice (more free frames), not m1, the "
            "first memory node: m2 served its exec", f"execs {execs}")
    looked = sum(after["m1"][k] - before["m1"][k] for k in ("bcache_hits", "bcache_misses"))
    t.check(0 < looked <= pages,
            f"p1: faulttest's image pages were read at their misses on m2 through m1's "
            f"buffer cache, the vNode's file cache node (1..{pages} page lookups, its "
            f"file's pages)", f"{looked} lookups")


def test_span(t, c, user_dir):
    """spantest with its home on m1 (the home builtin): its vRegions, some
    placed on m2 by the global memory manager, every page checked after a
    round trip through its owner."""
    want = host_run(user_dir, "spantest", *SPAN_ARGS)
    if not t.check(want[0] == 0 and len(want[1]) == 1,
                   f"host: spantest {' '.join(SPAN_ARGS)} prints one line", str(want)):
        return
    before = {n: memstats(t, c, n) for n in MEMORY_NODES}
    p = c.run("vn1", "home", "m1", "/bin/spantest", *SPAN_ARGS)
    t.check(p.returncode == 0 and stable(p.stdout) == want[1],
            f"p1: home m1 spantest {' '.join(SPAN_ARGS)}: '{want[1][0]}' as on the host",
            detail(p))
    after = {n: memstats(t, c, n) for n in MEMORY_NODES}
    if None in before.values() or None in after.values():
        return
    t.check(after["m1"]["execs"] - before["m1"]["execs"] == 1,
            "the home builtin made m1 spantest's home (m1 served its exec)",
            f"m1 execs +{after['m1']['execs'] - before['m1']['execs']}")
    away = after["m1"]["placed_away"] - before["m1"]["placed_away"]
    served = (after["m2"]["misses"] + after["m2"]["flushes"] -
              before["m2"]["misses"] - before["m2"]["flushes"])
    t.check(away >= 1, "m1 (the home) placed at least one of spantest's vRegions on "
            "another node (GMM)", f"placed_away +{away}")
    t.check(served > 0, "m2 served misses or write-backs of spantest's pages",
            f"m2 misses+flushes +{served}")
    ex = excache_line(p.stdout, "spantest")
    t.check(ex is not None and ex.get("redirects", 0) >= 1,
            "p1: the home redirected spantest's first miss in a remote vRegion "
            "(excache redirects >= 1)", str(ex))


def check_on_policies(t, c, prog, want, what):
    """/bin/PROG on vn1 (p1, LRU) and vn3 (p3, RANDOM): exit 0 and the
    host's lines want (what: how the result names them)."""
    for vnode in ("vn1", "vn3"):
        node, policy = POLICY_VNODES[vnode]
        p = c.run(vnode, f"/bin/{prog}", timeout=RUN_TIMEOUT)
        t.check(p.returncode == 0 and stable(p.stdout) == want,
                f"{node} ({policy}): {prog}: {what} as on the host", detail(p))


def test_fork(t, c, user_dir):
    """forktest's checks (copy-on-write, wait4, getppid, ECHILD, a child
    dying of SIGSEGV) pass as on the host, on two policies; its children
    live on their parent's home, m2: every MEM_FORK went there."""
    want = host_run(user_dir, "forktest")
    if not t.check(want[0] == 0 and want[1] and want[1][-1] == "forktest: all passed" and
                   all(ln.startswith("forktest: ok ") for ln in want[1][:-1]),
                   "host: forktest passes every check", str(want)):
        return
    before = {n: memstats(t, c, n) for n in MEMORY_NODES}
    check_on_policies(t, c, "forktest", want[1], f"{len(want[1])} checks ok")
    after = {n: memstats(t, c, n) for n in MEMORY_NODES}
    if None in before.values() or None in after.values():
        return
    forks = {n: after[n]["forks"] - before[n]["forks"] for n in MEMORY_NODES}
    t.check(forks["m1"] == 0 and forks["m2"] >= 2,
            "forktest's children share their parent's home, m2 (MEM_FORK: none on m1, "
            "at least one per run on m2)", f"forks {forks}")


def test_threads(t, c, user_dir, baseline):
    """threadtest's main case prints the host's one line on two policies
    (p1 with LRU, p3 with RANDOM), then its other cases as on the host."""
    want = host_run(user_dir, "threadtest")
    if not t.check(want[0] == 0 and len(want[1]) == 1 and
                   want[1][0].startswith("threadtest: ok "),
                   "host: threadtest prints one ok line", str(want)):
        return
    check_on_policies(t, c, "threadtest", want[1], f"'{want[1][0]}'")
    test_cases(t, c, user_dir, "threadtest", THREAD_CASES, baseline)


def test_two_at_once(t, c, run_dir, user_dir):
    tags = ("a", "b")
    want = {tag: host_run(user_dir, "pattern", tag, *PATTERN_ARGS) for tag in tags}
    if not t.check(all(w[0] == 0 for w in want.values()),
                   "host: pattern a and b: exit 0", str(want)):
        return
    hl = None
    try:
        hl = Hostlink(run_dir, "p1", RUN_TIMEOUT)
        got = hl.run_many([["/bin/pattern", tag, *PATTERN_ARGS] for tag in tags])
    except (OSError, RuntimeError) as e:
        t.check(False, "two pattern processes at once on p1's hostlink", repr(e))
        return
    finally:
        if hl:
            hl.close()
    for tag, r in zip(tags, got):
        out = r["out"].decode(errors="replace")
        t.check(r["status"] == 0 and stable(out) == want[tag][1],
                f"p1: pattern {tag} (two at once): '{want[tag][1][-1]}' as on the host",
                f"{r}")
    a, b = got
    t.check(a["first_out"] is not None and b["first_out"] is not None and
            a["first_out"] < b["exit"] and b["first_out"] < a["exit"],
            "p1: the two pattern processes ran at the same time (each printed before "
            "the other exited)", f"{a} {b}")
    # two `tessera run` at once, on p1 and p2: two processors sharing m1
    procs = {tag: c.popen(vn, "/bin/pattern", tag, *PATTERN_ARGS)
             for tag, vn in zip(tags, ("vn1", "vn2"))}
    for tag, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=RUN_TIMEOUT + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        t.check(proc.returncode == 0 and stable(out) == want[tag][1],
                f"pattern {tag} on {'p1' if tag == 'a' else 'p2'} while the other runs "
                "on the other processor", f"exit {proc.returncode}; {out[-300:]!r} "
                f"{err[-300:]!r}")


def test_logs(t, run_dir, nodes):
    t.check(len(nodes) == 8, "status --json listed the manifest's 8 nodes", str(nodes))
    check_no_panic(t, run_dir, nodes)


def run(lay):
    t, cli, run_dir, tmp = lay.t, lay.cli, lay.run_dir, lay.tmp
    user_dir = os.path.join(lay.build, "user")
    have = t.check(os.access(lay.binary, os.X_OK), f"{lay.binary} exists")
    missing = [p for p in PROGRAMS if not os.access(os.path.join(user_dir, p), os.X_OK)]
    have = t.check(not missing, f"the test programs are in {user_dir} "
                   "(make user-programs)", f"missing: {missing}") and have
    if have and test_up(t, cli, run_dir, make_tree(tmp, user_dir)):
        c = Cluster(cli, run_dir, RUN_TIMEOUT)
        test_basics(t, c)
        baseline = free_frames(t, c)
        test_memtest(t, c, user_dir)
        check_frames(t, c, baseline, "memtest on four processors")
        test_cases(t, c, user_dir, "mmaptest", MMAP_CASES, baseline)
        test_first_touch(t, c)
        test_lazy_exec(t, c, user_dir)
        test_cases(t, c, user_dir, "faulttest", FAULT_CASES, baseline)
        test_two_at_once(t, c, run_dir, user_dir)
        test_span(t, c, user_dir)
        check_frames(t, c, baseline, "spantest")
        test_fork(t, c, user_dir)
        test_threads(t, c, user_dir, baseline)
        check_frames(t, c, baseline, "every test program")
        nodes = check_ready(t, c)
        p = cli("down", "--run-dir", run_dir, timeout=60)
        t.check(p.returncode == 0, "down: exit 0", detail(p))
        test_logs(t, run_dir, nodes)


if __name__ == "__main__":
    sys.exit(run_layer("memory", __doc__.split("\n")[0], run))
