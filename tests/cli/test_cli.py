#!/usr/bin/env python3
"""The `tessera` command, end to end (docs/cli.md): the cli-test layer.

    test_cli.py [--build-dir build] [--out build/results/cli.tap] [--keep]

Runs BUILD/tools/tessera the way a researcher would, in a temporary
directory: `check` on every configs/*.yaml and on broken manifests; then
one boot of configs/default.yaml in which status, status --json, logs,
run (echo, false, a missing program, ping across a partition and after
healing it, two runs at once, --timeout), run's standard input (a pipe,
/dev/null, 200 KB of every byte value, Ctrl-C forwarded then a second
one giving up), run -t through a pseudo terminal (raw mode, echo and
line editing by the node's line discipline, VEOF, terminal restored),
console (through a pseudo terminal: raw mode, Ctrl-] detaches, terminal
restored), inject (bad names, kill) and down are exercised; then a second boot in the same run
directory (logs of the first move to previous/, the disk image stays)
that loses fabricd to SIGKILL, after which `down` must still clean up.

Result: KTAP in --out, one line per check. Every QEMU and fabricd the
test causes is gone when it ends, on every path: `tessera down` in a
finally block, then a scan of /proc for processes whose cwd is in the
temporary directory, which are SIGKILLed (and reported as a failure).
--keep leaves the temporary directory (logs) in place.
"""
import argparse
import glob
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
UP_TIMEOUT = 180  # seconds for `tessera up` itself (boot budget: --timeout 120)

BAD_MANIFESTS = {
    # name: (text, line, message substring)
    "unknown-key": ("cluster: bad\nnodes:\n  - name: p1\n    role: processor\n"
                    "    colour: blue\n", 5, "unknown key 'colour'"),
    "no-unit": ("nodes:\n  - name: p1\n    role: processor\n  - name: m1\n"
                "    role: memory\n    ram: 512\n", 6, "has no unit"),
    "no-role": ("nodes:\n  - name: p1\n    role: processor\n  - name: m1\n", 4,
                "no role"),
    "vnode-missing-node": ("nodes:\n  - name: p1\n    role: processor\n  - name: m1\n"
                           "    role: memory\n  - name: s1\n    role: storage\n"
                           "    disk:\n      size: 16M\n  - name: g1\n    role: global\n"
                           "vnodes:\n  - name: v1\n    processors: [p9]\n"
                           "    memories: [m1]\n    storages: [s1]\n", 14,
                           "no node named 'p9'"),
    "ktest-bad-filter": ("nodes:\n  - name: p1\n    role: processor\n"
                         "    ktest: fabric tests\n", 4,
                         "ktest: 'fabric tests' is not a test filter"),
    "ktest-too-long": ("nodes:\n  - {name: p1, role: processor,\n     ktest: " + "a" * 64 +
                       "}\n", 3, "ktest: '" + "a" * 39),
    "ktest-vnode-empty": ("nodes:\n  - {name: p1, role: processor, ktest: x}\n"
                          "  - {name: m1, role: memory, ktest: x}\nvnodes:\n"
                          "  - {name: v1}\n", 5,
                          "vnode 'v1': no nodes (a vnode of a self-test cluster"),
    "ktest-vnode-role": ("nodes:\n  - {name: p1, role: processor, ktest: x}\n"
                         "  - {name: m1, role: memory, ktest: x}\nvnodes:\n"
                         "  - {name: v1, processors: [p1], storages: [m1]}\n", 5,
                         "storages: 'm1' is a memory node"),
    "fabric-poll-range": ("cluster: x\nfabric:\n  link: ib56\n  cq_retry_us: 5\nnodes:\n"
                          "  - {name: p1, role: processor, ktest: x}\n", 4,
                          "fabric: cq_retry_us: 5 is out of range (10 to 10000000)"),
    "ktest-mixed-roles": ("nodes:\n  - {name: p1, role: processor, ktest: x}\n"
                          "  - {name: m1, role: memory}\n", 1,
                          "no node with role storage"),
}

# A self-test cluster (every node has ktest:): two nodes that run the first
# fabric cluster test (net/fabric_cluster.c: fabric_00_up, which waits at
# the barrier "up" for its serial input) and end.
# Its fabric: sets fabricd's waiting (poll_us 0: never polls), which
# check -v must show and up must pass to fabricd.
SELFTEST_MANIFEST = ("cluster: selftest\nfabric: {poll_us: 0, cq_retry_us: 250}\nnodes:\n"
                     "  - {name: t1, role: processor, ktest: \"cluster:fabric_00\"}\n"
                     "  - {name: t2, role: memory, ktest: \"cluster:fabric_00\"}\n")


# A self-test cluster whose vNode wires a processor to a storage node's
# export /bench (as scripts/bench_storage.py's): no memory or global node.
WIRED_MANIFEST = ("cluster: wired\nnodes:\n"
                  "  - {name: p1, role: processor, ktest: \"cluster:bench_storage\"}\n"
                  "  - {name: s2, role: storage, ktest: \"cluster:bench_storage\",\n"
                  "     disk: {image: wired.img}}\n"
                  "vnodes:\n  - {name: bench, processors: [p1], storages: [s2], root: /bench}\n")


class Tap:
    def __init__(self):
        self.results = []  # (ok, name, detail)

    def check(self, ok, name, detail=""):
        ok = bool(ok)
        self.results.append((ok, name, detail))
        print(f"{'ok    ' if ok else 'FAILED'} {name}" + (f": {detail}" if detail and not ok else ""),
              flush=True)
        return ok

    def text(self):
        out = ["KTAP version 1", f"1..{len(self.results)}"]
        for i, (ok, name, detail) in enumerate(self.results, 1):
            line = f"{'ok' if ok else 'not ok'} {i} cli: {name}"
            if not ok and detail:
                line += " # " + " ".join(detail.split())[:300]
            out.append(line)
        return "\n".join(out) + "\n"


class Cli:
    """Runs the tessera binary with cwd = the test's directory."""

    def __init__(self, binary, cwd):
        self.binary = binary
        self.cwd = cwd

    def __call__(self, *args, timeout=60, env=None, stdin=subprocess.DEVNULL):
        e = dict(os.environ)
        e.pop("TESSERA_RUN_DIR", None)
        e.update(env or {})
        try:
            return subprocess.run([self.binary, *args], cwd=self.cwd, env=e, stdin=stdin,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as ex:
            return subprocess.CompletedProcess(ex.cmd, -999, ex.stdout or "",
                                               f"(timed out after {timeout} s)")

    def popen(self, *args, **kw):
        e = dict(os.environ)
        e.pop("TESSERA_RUN_DIR", None)
        return subprocess.Popen([self.binary, *args], cwd=self.cwd, env=e, **kw)


def detail(p):
    return f"exit {p.returncode}; stdout: {p.stdout[-400:]!r}; stderr: {p.stderr[-400:]!r}"


# ---------------------------------------------------------------- processes

def procs_under(top):
    """{pid: comm} of live processes whose cwd is top or below it."""
    top = os.path.realpath(top)
    found = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{d}/cwd")
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        state = stat[stat.rfind(")") + 2:].split()[0]
        if state in "ZX":
            continue
        if cwd == top or cwd.startswith(top + "/"):
            found[int(d)] = stat[stat.find("(") + 1:stat.rfind(")")]
    return found


def wait_none_under(top, seconds=3.0):
    deadline = time.monotonic() + seconds
    while True:
        left = procs_under(top)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def finish(t, cli, run_dir, tmp, out, keep, name):
    """The end of a test script, whatever happened before: takes the
    cluster of run_dir down, kills what still runs under tmp (one check:
    nothing was left), writes the KTAP to out, keeps or removes tmp."""
    if os.path.isdir(run_dir):
        cli("down", "--run-dir", run_dir, timeout=60)
    left = wait_none_under(tmp)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    t.check(not left, "no process left behind in the test directory", str(left))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(t.text())
    if keep:
        print(f"{name}: kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


class Cluster:
    """`tessera run` and `status` on the cluster of run_dir."""

    def __init__(self, cli, run_dir, run_timeout):
        self.cli = cli
        self.run_dir = run_dir
        self.rd = ["--run-dir", run_dir]
        self.run_timeout = run_timeout

    def run(self, vnode, *args, timeout=None):
        timeout = timeout or self.run_timeout
        return self.cli("run", *self.rd, "--vnode", vnode, "--timeout", str(timeout), "--",
                        *args, timeout=timeout + 30)

    def popen(self, vnode, *args):
        return self.cli.popen("run", *self.rd, "--vnode", vnode, "--timeout",
                              str(self.run_timeout), "--", *args, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)

    def status(self):
        p = self.cli("status", "--json", *self.rd, timeout=30)
        try:
            return json.loads(p.stdout)
        except ValueError:
            return None


# ---------------------------------------------------------------- manifests

def expected_nodes(cli, path):
    """[(name, role, cpus)] of a manifest: from PyYAML if it is there (an
    independent reading), else from `tessera check`'s table."""
    try:
        import yaml  # noqa: F401
        with open(path) as f:
            doc = yaml.safe_load(f)
        return [(n["name"], n["role"], int(n.get("cpus", 1))) for n in doc["nodes"]]
    except ImportError:
        pass
    p = cli("check", path)
    rows = []
    for line in p.stdout.splitlines():
        w = line.split()
        if len(w) >= 4 and w[1].isdigit() and w[2] in ("processor", "memory", "storage",
                                                       "global"):
            rows.append((w[0], w[2], int(w[3])))
    return rows


def test_check(t, cli, tmp):
    configs = sorted(glob.glob(os.path.join(ROOT, "configs", "*.yaml")))
    t.check(configs, "configs/*.yaml exist", "no manifests in configs/")
    for path in configs:
        p = cli("check", path)
        names = [n for n, _, _ in expected_nodes(cli, path)]
        t.check(p.returncode == 0 and names and all(n in p.stdout for n in names),
                f"check {os.path.relpath(path, ROOT)}: exit 0, every node listed", detail(p))
    bad_dir = os.path.join(tmp, "bad")
    os.makedirs(bad_dir)
    for name, (text, line, what) in BAD_MANIFESTS.items():
        path = os.path.join(bad_dir, f"{name}.yaml")
        with open(path, "w") as f:
            f.write(text)
        p = cli("check", path)
        first = p.stderr.splitlines()[0] if p.stderr else ""
        t.check(p.returncode == 3 and first.startswith(f"{path}:{line}: ") and what in first,
                f"check {name}.yaml: exit 3, '{path}:{line}: ...{what}...'", detail(p))


def wait_log(path, text, seconds):
    """True once the file at path contains text (polled)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(path, errors="replace") as f:
                if text in f.read():
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def test_fabricd_argv(t, cli, run_dir):
    """The self-test cluster's fabric: poll_us and cq_retry_us reached
    fabricd: on its command line (/proc) and in its own startup line."""
    p, doc = status_json(cli, run_dir)
    pid = (doc or {}).get("fabricd", {}).get("pid", 0)
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
    except OSError as e:
        argv = [str(e)]
    pairs = list(zip(argv, argv[1:]))
    t.check(pid > 0 and ("--poll-us", "0") in pairs and ("--cq-retry-us", "250") in pairs,
            "up: fabricd runs with --poll-us 0 --cq-retry-us 250", f"pid {pid}: {argv}")
    t.check(wait_log(os.path.join(run_dir, "fabricd.log"), "poll 0.0 us, cq retry 250.0 us", 1),
            "fabricd.log: 'poll 0.0 us, cq retry 250.0 us'", detail(p))


def test_selftest(t, cli, tmp):
    """The ktest: key end to end: check -v, up of a self-test cluster, run
    refused, console --send past a barrier, restart --ktest."""
    path = os.path.join(tmp, "selftest.yaml")
    run_dir = os.path.join(tmp, "run-selftest")
    rd = ["--run-dir", run_dir]
    with open(path, "w") as f:
        f.write(SELFTEST_MANIFEST)
    p = cli("check", "-v", path)
    t.check(p.returncode == 0 and "self-test cluster" in p.stdout and
            re.search(r"^t1: kernel command line: .*ktest=cluster:fabric_00$", p.stdout, re.M)
            and "manager=" not in p.stdout,
            "check -v of a self-test cluster: exit 0, ktest=FILTER on the command lines",
            detail(p))
    t.check(re.search(r"^fabric: .*, poll 0 us, cq retry 250 us$", p.stdout, re.M) and
            re.search(r"^fabricd: \S*fabricd --dir \. .* --poll-us 0 --cq-retry-us 250$",
                      p.stdout, re.M),
            "check -v: fabric: poll_us and cq_retry_us on the fabric line and fabricd's "
            "command", detail(p))
    wired = os.path.join(tmp, "wired.yaml")
    with open(wired, "w") as f:
        f.write(WIRED_MANIFEST)
    p = cli("check", "-v", wired)
    lines = dict(re.findall(r"^(\w+): kernel command line: (.*)$", p.stdout, re.M))
    words = {n: set(v.split()) for n, v in lines.items()}
    t.check(p.returncode == 0 and "vnodes only wire" in p.stdout and
            re.search(r"^bench\s+p1\s+-\s+s2$", p.stdout, re.M) and
            {"storage=2", "ktest=cluster:bench_storage"} <= words.get("p1", set()) and
            {"exports=1:/bench", "ktest=cluster:bench_storage"} <= words.get("s2", set()) and
            not any(w.startswith(("memory=", "manager=")) for w in words.get("p1", ())) and
            os.path.join(tmp, "wired.img") in p.stdout,
            "check -v of a self-test cluster with a vnode: storage=2 on p1, exports=1:/bench "
            "on s2, no memory= or manager=, the disk image", detail(p))
    try:
        p = cli("up", path, *rd, "--timeout", "120", timeout=UP_TIMEOUT)
        if not t.check(p.returncode == 0 and "2 nodes running self tests" in p.stdout,
                       "up of a self-test cluster: exit 0, '2 nodes running self tests'",
                       detail(p)):
            return
        test_fabricd_argv(t, cli, run_dir)
        p = cli("run", *rd, "--", "echo", "hi")
        t.check(p.returncode == 255 and "runs no programs" in p.stderr,
                "run on a self-test cluster: exit 255, 'runs no programs'", detail(p))
        logs = {n: os.path.join(run_dir, f"{n}.log") for n in ("t1", "t2")}
        at = all(wait_log(logs[n], "# fabric-sync: up", 90) for n in logs)
        t.check(at, "self-test nodes reach their barrier 'up'", str(logs))
        sent = [cli("console", *rd, "--send", "up", n) for n in logs]
        t.check(all(q.returncode == 0 for q in sent), "console --send up: exit 0 for each node",
                "; ".join(detail(q) for q in sent))
        done = all(wait_log(logs[n], "# ktest done: 1 passed, 0 failed", 60) for n in logs)
        t.check(done, "console --send: both nodes passed their barrier and test",
                str(logs))
        p = cli("console", *rd, "--send", "a\nb", "t1")
        t.check(p.returncode == 2, "console --send with a newline: exit 2", detail(p))
        p = cli("restart", *rd, "--ktest", "no such!", "t2")
        t.check(p.returncode == 2 and "--ktest" in p.stderr, "restart --ktest 'no such!': exit 2",
                detail(p))
        p = cli("restart", *rd, "t9")
        t.check(p.returncode == 2 and "no node 't9'" in p.stderr, "restart t9: exit 2",
                detail(p))
        p = cli("restart", *rd, "--ktest", "cluster:nothing_", "t2", timeout=UP_TIMEOUT)
        old = os.path.join(run_dir, "t2.life1.log")
        t.check(p.returncode == 0 and "kept as" in p.stdout and
                wait_log(old, "# ktest done: 1 passed", 1) and
                wait_log(logs["t2"], "ktest=cluster:nothing_", 60),
                "restart --ktest: exit 0, old log kept as t2.life1.log, booted with the new "
                "filter", detail(p))
        t.check(wait_log(logs["t2"], "# ktest done: 0 passed, 0 failed", 60),
                "restarted node ran its new (empty) selection", logs["t2"])
    finally:
        cli("down", *rd, timeout=60)


def test_usage(t, cli):
    p = cli("--help")
    t.check(p.returncode == 0 and all(v in p.stdout for v in
                                      ("check", "up", "restart", "status", "inject",
                                       "console", "logs", "run", "shell", "down")),
            "tessera --help lists every verb", detail(p))
    p = cli("frobnicate")
    t.check(p.returncode == 2 and "unknown verb" in p.stderr, "unknown verb: exit 2", detail(p))
    p = cli("up", "a.yaml", "b.yaml")
    t.check(p.returncode == 2, "up with two manifests: exit 2", detail(p))
    p = cli("up", "--timeout", "soon", "x.yaml")
    t.check(p.returncode == 2 and "--timeout" in p.stderr, "up --timeout soon: exit 2",
            detail(p))
    p = cli("shell", "--help")
    t.check(p.returncode == 0 and "/bin/sh -i" in p.stdout, "shell --help: exit 0", detail(p))
    p = cli("shell", "extra")
    t.check(p.returncode == 255, "shell with an argument: usage error, exit 255", detail(p))
    p = cli("status", "--run-dir", "/nonexistent/tessera")
    t.check(p.returncode == 1 and "no cluster is up" in p.stderr,
            "status without a cluster: exit 1, 'no cluster is up'", detail(p))


# ---------------------------------------------------------------- the cluster

def status_json(cli, run_dir):
    p = cli("status", "--json", "--run-dir", run_dir)
    try:
        return p, json.loads(p.stdout)
    except ValueError:
        return p, None


def node_states(doc):
    return {n["name"]: n["state"] for n in (doc or {}).get("nodes", [])}


def test_up(t, cli, run_dir, manifest):
    p = cli("up", manifest, "--run-dir", run_dir, "--timeout", "120", timeout=UP_TIMEOUT)
    names = [n for n, _, _ in expected_nodes(cli, manifest)]
    progress = all(re.search(rf"^\s+{n}\s+starting\b", p.stdout, re.M) and
                   re.search(rf"^\s+{n}\s+ready\b", p.stdout, re.M) for n in names)
    ok = t.check(p.returncode == 0, "up configs/default.yaml: exit 0", detail(p))
    t.check(progress, "up: progress lines 'NODE starting' ... 'NODE ready' for every node",
            p.stdout)
    return ok


def test_up_failures(t, cli, tmp):
    """up must clean up after itself: a node that dies while booting, and
    an interrupt."""
    manifest = os.path.join(ROOT, "configs", "minimal.yaml")
    run_dir = os.path.join(tmp, "run-fail")
    state = os.path.join(run_dir, "state")
    up = cli.popen("up", manifest, "--run-dir", run_dir, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, text=True)
    victim = None
    deadline = time.monotonic() + 60
    while victim is None and up.poll() is None and time.monotonic() < deadline:
        try:
            with open(state) as f:
                for line in f:
                    w = line.split()
                    if w[:2] == ["node", "m1"]:
                        victim = int(w[2])
        except OSError:
            pass
        time.sleep(0.02)
    if victim:
        os.kill(victim, signal.SIGKILL)
    try:
        out, err = up.communicate(timeout=UP_TIMEOUT)
    except subprocess.TimeoutExpired:
        up.kill()
        out, err = up.communicate()
    t.check(victim and up.returncode == 1 and "node m1: state failed" in err,
            "up whose node dies while booting: exit 1, names the node and its state",
            f"exit {up.returncode}; {err[-500:]!r}")
    left = wait_none_under(run_dir)
    t.check(not left and not os.path.exists(state),
            "up whose node died: nothing left running, state removed", str(left))
    up = cli.popen("up", manifest, "--run-dir", run_dir, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while up.poll() is None and time.monotonic() < deadline:
        try:
            with open(state) as f:
                if "node g1" in f.read():
                    break
        except OSError:
            pass
        time.sleep(0.02)
    up.send_signal(signal.SIGINT)
    try:
        out, err = up.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        up.kill()
        out, err = up.communicate()
    left = wait_none_under(run_dir)
    t.check(up.returncode == 1 and "interrupted" in err and not left,
            "up interrupted by SIGINT while booting: exit 1, nothing left running",
            f"exit {up.returncode}; left {left}; {err[-300:]!r}")


def test_status(t, cli, run_dir, manifest):
    p = cli("status", "--run-dir", run_dir)
    want = expected_nodes(cli, manifest)
    ready = all(re.search(rf"^{n}\s+\d+\s+\S+\s+ready\b", p.stdout, re.M) for n, _, _ in want)
    t.check(p.returncode == 0 and ready, "status: every node ready", detail(p))
    p, doc = status_json(cli, run_dir)
    t.check(doc is not None, "status --json parses", detail(p))
    got = [(n["name"], n["role"], n["cpus"]) for n in (doc or {}).get("nodes", [])]
    t.check(got == want, "status --json: names, roles, cpus as in the manifest",
            f"got {got}, manifest {want}")
    t.check(doc and doc["fabricd"]["state"] == "running" and
            all(s == "ready" for s in node_states(doc).values()),
            "status --json: fabricd running, nodes ready", p.stdout[:400])
    p = cli("status", env={"TESSERA_RUN_DIR": run_dir})
    t.check(p.returncode == 0, "status finds the cluster through $TESSERA_RUN_DIR", detail(p))
    test_status_excache(t, cli, run_dir, doc)


def test_status_excache(t, cli, run_dir, doc):
    """Processors publish their ExCache on the status page: geometry as
    configured, and (no program has run yet) every counter 0."""
    procs = [n for n in (doc or {}).get("nodes", []) if n["role"] == "processor"]
    counters = ("lines_valid", "misses", "fresh_fills", "zero_fills", "evictions",
                "flushes", "piggybacks", "prefetches", "prefetch_hits", "redirects", "drops")
    ec = [n.get("excache") for n in procs]
    t.check(procs and all(e and e["bytes"] > 0 and e["ways"] > 0 and
                          e["policy"] in ("lru", "fifo", "random", "clock") and
                          all(e[c] == 0 for c in counters) for e in ec) and
            all(" | ec " not in n["note"] for n in procs),
            "status --json: each processor's excache (geometry, counters 0 before any "
            "program)", str(ec))
    others = [n.get("excache") for n in (doc or {}).get("nodes", []) if n["role"] != "processor"]
    t.check(all(e is None for e in others), "status --json: excache null on other roles",
            str(others))
    p = cli("status", "--run-dir", run_dir)
    rows = {m.group(1): m for m in re.finditer(r"^(\S+)\s+(\S+)\s+(\d+)\s+(\w+)"
                                               r"((?:\s+\d+){11})\s*$", p.stdout, re.M)}
    t.check(re.search(r"^EXCACHE\s+SIZE\s+WAYS\s+POLICY\s+VALID\s+MISSES", p.stdout, re.M)
            and all(n["name"] in rows and
                    int(rows[n["name"]].group(3)) == n["excache"]["ways"] and
                    rows[n["name"]].group(4) == n["excache"]["policy"]
                    for n in procs if n.get("excache")),
            "status: an EXCACHE row per processor", detail(p))


def test_up_again(t, cli, run_dir, manifest):
    p = cli("up", manifest, "--run-dir", run_dir, timeout=UP_TIMEOUT)
    t.check(p.returncode == 1 and "already up" in p.stderr, "up while up: refused, exit 1",
            detail(p))


def test_logs(t, cli, run_dir):
    p = cli("logs", "p1", "--run-dir", run_dir)
    t.check(p.returncode == 0 and "Tessera" in p.stdout and "ready:" in p.stdout,
            "logs p1: the boot banner and 'ready:'", detail(p))
    p = cli("logs", "-n", "1", "p1", "--run-dir", run_dir)
    t.check(p.returncode == 0 and len(p.stdout.strip().splitlines()) == 1,
            "logs -n 1: one line", detail(p))
    p = cli("logs", "fabricd", "--run-dir", run_dir)
    t.check(p.returncode == 0 and "fabricd: ready" in p.stdout, "logs fabricd", detail(p))
    p = cli("logs", "p9", "--run-dir", run_dir)
    t.check(p.returncode == 2 and "no node 'p9'" in p.stderr, "logs of an unknown node: exit 2",
            detail(p))


def test_run(t, cli, run_dir):
    rd = ["--run-dir", run_dir]
    p = cli("run", *rd, "--", "echo", "hello", "world", timeout=60)
    t.check(p.returncode == 0 and p.stdout == "hello world\n",
            "run -- echo hello world: prints it, exit 0", detail(p))
    p = cli("run", *rd, "--", "false", timeout=60)
    t.check(p.returncode == 1, "run -- false: exit 1", detail(p))
    p = cli("run", *rd, "--", "nosuchprog", timeout=60)
    t.check(p.returncode == 127, "run -- nosuchprog: exit 127", detail(p))
    p = cli("run", *rd, "--vnode", "nosuch", "--", "true")
    t.check(p.returncode == 255 and "no vNode or processor 'nosuch'" in p.stderr,
            "run --vnode nosuch: exit 255 (run's own errors are never 0..254)", detail(p))
    # two at once: the second waits for the first's lock and says so
    a = cli.popen("run", *rd, "--", "sleep", "1", stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    b = cli("run", *rd, "--", "echo", "second", timeout=60)
    try:
        a_out, a_err = a.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        a.kill()
        a_out, a_err = a.communicate()
    t.check(a.returncode == 0 and b.returncode == 0 and b.stdout == "second\n" and
            "waiting" in b.stderr,
            "two runs at once: the second waits ('busy ... waiting'), both succeed",
            f"first: exit {a.returncode} {a_err!r}; second: {detail(b)}")
    p = cli("run", *rd, "--timeout", "0.5", "--", "sleep", "2", timeout=60)
    t.check(p.returncode == 255 and "no answer" in p.stderr, "run --timeout 0.5 -- sleep 2: exit 255",
            detail(p))
    time.sleep(2)  # let that sleep end on the node


def test_stdin(t, cli, run_dir):
    """run forwards its standard input (tests/user/cattest copies it back)."""
    rd = ["--run-dir", run_dir]
    cat = "/bin/cattest"
    p = subprocess.run([cli.binary, "run", *rd, "--", cat], cwd=cli.cwd, input=b"hello\n",
                       capture_output=True, timeout=60)
    t.check(p.returncode == 0 and p.stdout == b"hello\n",
            "echo hello | run -- cattest: hello, exit 0", f"{p.returncode} {p.stdout[:200]!r} "
            f"{p.stderr[-300:]!r}")
    start = time.monotonic()
    p = cli("run", *rd, "--", cat, timeout=60)  # stdin /dev/null
    t.check(p.returncode == 0 and p.stdout == "" and time.monotonic() - start < 20,
            "run -- cattest </dev/null: end of input at once, exit 0", detail(p))
    data = bytes(range(256)) * 800  # 200 KB, every byte value (NUL, '%', newlines)
    p = subprocess.run([cli.binary, "run", *rd, "--timeout", "240", "--", cat], cwd=cli.cwd,
                       input=data, capture_output=True, timeout=300)
    t.check(p.returncode == 0 and p.stdout == data,
            "run -- cattest < 200 KB: every byte back, in order (credit window)",
            f"exit {p.returncode}, {len(p.stdout)} of {len(data)} bytes; {p.stderr[-300:]!r}")
    # Ctrl-C is forwarded; a second one gives up, and the program gets
    # end of input (the hangup), so the next run finds the node free
    proc = cli.popen("run", *rd, "--", cat, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE)
    proc.stdin.write(b"x\n")
    proc.stdin.flush()
    first = proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    time.sleep(1)
    survived = proc.poll() is None  # the program ignores it today: signals are not delivered
    killed_by_it = proc.poll() == 130
    if survived:
        proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    t.check(first == b"x\n" and (killed_by_it or (survived and proc.returncode == 130 and
                                                 b"interrupted" in err)),
            "run: Ctrl-C forwarded to the program (the CLI lives on); a second one: exit 130",
            f"first {first!r}, survived {survived}, exit {proc.returncode}, {err[-300:]!r}")
    p = cli("run", *rd, "--", "echo", "after", timeout=60)
    t.check(p.returncode == 0 and p.stdout == "after\n",
            "the run after an interrupted one works", detail(p))
    test_run_tty(t, cli, rd, cat)


def pty_read(master, out, seconds):
    """Reads master into out (a bytearray) for seconds."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if select.select([master], [], [], 0.1)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                return
            if not chunk:
                return
            out += chunk


def test_run_tty(t, cli, rd, cat):
    """run -t through a pseudo terminal: raw host terminal, the node's
    line discipline edits and echoes, VEOF ends a line and the input."""
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    proc = cli.popen("run", "-t", *rd, "--", cat, stdin=slave, stdout=slave, stderr=slave)
    raw = False
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        if not termios.tcgetattr(slave)[3] & termios.ICANON:
            raw = True
            break
        time.sleep(0.05)
    out = bytearray()
    os.write(master, b"hi\x7fo there\r")  # DEL erases 'i'; CR becomes NL
    pty_read(master, out, 3)
    os.write(master, b"ab\x15cd\x04")  # Ctrl-U kills "ab"; Ctrl-D sends "cd"
    pty_read(master, out, 3)
    os.write(master, b"\x04")  # Ctrl-D on an empty line: end of file
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    pty_read(master, out, 0.5)
    after = termios.tcgetattr(slave)
    os.close(master)
    os.close(slave)
    out = bytes(out)
    t.check(raw, "run -t: the terminal is in raw mode while the program runs")
    t.check(rc == 0 and b"hi\x08 \x08o there\r\n" in out and b"\nho there\r\n" in out and
            b"ab\x08 \x08\x08 \x08cdcd" in out,
            "run -t: echo, erase, kill, ICRNL/ONLCR by the node; the line read back; "
            "Ctrl-D ends it", f"exit {rc}, output {out[-300:]!r}")
    t.check(after == before, "run -t: terminal modes restored")


def test_partition(t, cli, run_dir):
    rd = ["--run-dir", run_dir]
    p = cli("run", *rd, "--", "ping", "m1", "1", timeout=60)
    t.check(p.returncode == 0, "run -- ping m1 1 works", detail(p))
    p = cli("run", *rd, "--", "ping", "-q", "-i", "0", "-s", "4096", "m1", "20", timeout=60)
    t.check(p.returncode == 0 and "20 sent, 20 answered" in p.stdout
            and "RPC_BULK, 4096-byte" in p.stdout and "seq=" not in p.stdout
            and re.search(r"^rtt min/median/avg/p99/max = [\d.]+(/[\d.]+){4} us$", p.stdout, re.M),
            "ping -q -i 0 -s 4096 m1 20: 20 pages each way, the summary only", detail(p))
    p = cli("run", *rd, "--", "ping", "-s", "100", "m1", timeout=60)
    t.check(p.returncode == 2 and "usage: ping" in p.stderr, "ping -s 100: exit 2, usage",
            detail(p))
    p = cli("inject", *rd, "partition", "p1", "m1")
    t.check(p.returncode == 0, "inject partition p1 m1", detail(p))
    p = cli("status", *rd)
    t.check(re.search(r"^p1->m1\s.*partitioned", p.stdout, re.M), "status shows the partition",
            p.stdout)
    p = cli("run", *rd, "--", "ping", "m1", "1", timeout=60)
    t.check(p.returncode not in (0, 255, -999), "ping m1 across the partition fails", detail(p))
    p = cli("inject", *rd, "heal", "p1", "m1")
    t.check(p.returncode == 0, "inject heal p1 m1", detail(p))
    p = cli("run", *rd, "--", "ping", "m1", "1", timeout=60)
    t.check(p.returncode == 0, "ping m1 after heal works", detail(p))
    p = cli("inject", *rd, "partition", "p1", "nosuch")
    t.check(p.returncode == 2 and "no node 'nosuch'" in p.stderr,
            "inject with an unknown node: exit 2, names the node", detail(p))
    p = cli("inject", *rd, "drop", "p1", "m1", "1.5")
    t.check(p.returncode == 2, "inject drop with a fraction > 1: exit 2", detail(p))


def test_console(t, cli, run_dir):
    """Through a pseudo terminal: raw mode while attached, Ctrl-] detaches,
    the terminal's modes are back afterwards."""
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    proc = cli.popen("console", "--run-dir", run_dir, "p1", stdin=slave, stdout=slave,
                     stderr=slave)
    raw = False
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        if not termios.tcgetattr(slave)[3] & termios.ICANON:
            raw = True
            break
        time.sleep(0.05)
    os.write(master, b"\x1d")
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    out = b""
    while select.select([master], [], [], 0.2)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    after = termios.tcgetattr(slave)
    os.close(master)
    os.close(slave)
    t.check(raw, "console: the terminal is in raw mode while attached")
    t.check(rc == 0 and b"Ctrl-]" in out and b"detached" in out,
            "console: Ctrl-] detaches, exit 0", f"exit {rc}, output {out[-300:]!r}")
    t.check(after == before, "console: terminal modes restored")
    p = cli("console", "--run-dir", run_dir, "p1", timeout=30)
    t.check(p.returncode == 0 and "detached" in p.stderr,
            "console with stdin not a TTY: detaches at end of input", detail(p))


def test_kill(t, cli, run_dir):
    rd = ["--run-dir", run_dir]
    p = cli("inject", *rd, "kill", "m1")
    t.check(p.returncode == 0, "inject kill m1", detail(p))
    time.sleep(0.5)
    p, doc = status_json(cli, run_dir)
    states = node_states(doc)
    t.check(p.returncode == 0 and states.get("m1") == "failed" and
            all(s == "ready" for n, s in states.items() if n != "m1"),
            "status after kill m1: m1 failed, the others ready", f"{states}; {detail(p)}")
    # the node running a program dies: run must notice and exit 255
    r = cli.popen("run", *rd, "--", "sleep", "60", stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    p = cli("inject", *rd, "kill", "p1")
    try:
        _, err = r.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        r.kill()
        _, err = r.communicate()
    t.check(r.returncode == 255 and "p1" in err,
            "run while its node is killed: exit 255 with a message", f"exit {r.returncode} {err!r}")


def test_down(t, cli, run_dir):
    p = cli("down", "--run-dir", run_dir, timeout=60)
    t.check(p.returncode == 0, "down: exit 0", detail(p))
    left = wait_none_under(run_dir)
    t.check(not left, "down: no process left with cwd in the run directory", str(left))
    p = cli("status", "--run-dir", run_dir)
    t.check(p.returncode == 1 and "no cluster is up" in p.stderr,
            "status after down: exit 1, 'no cluster is up'", detail(p))
    p = cli("logs", "p1", "--run-dir", run_dir)
    t.check(p.returncode == 0 and "Tessera" in p.stdout, "logs stay after down", detail(p))
    p = cli("down", "--run-dir", run_dir)
    t.check(p.returncode == 0 and "nothing was running" in p.stdout,
            "down again: exit 0, says nothing was running", detail(p))


def test_crash(t, cli, run_dir, manifest):
    """A second life in the same run directory, then fabricd dies."""
    img = os.path.join(run_dir, "s1.img")
    before = os.stat(img).st_ino if os.path.exists(img) else None
    p = cli("up", manifest, "--run-dir", run_dir, timeout=UP_TIMEOUT)
    if not t.check(p.returncode == 0, "up again in the same run directory", detail(p)):
        return
    t.check(os.path.exists(os.path.join(run_dir, "previous", "p1.log")),
            "the first run's logs moved to previous/")
    t.check(before is not None and os.path.exists(img) and os.stat(img).st_ino == before,
            "the storage disk image survives down/up")
    _, doc = status_json(cli, run_dir)
    pid = (doc or {}).get("fabricd", {}).get("pid", 0)
    if not t.check(pid > 0, "status --json names fabricd's pid", str(doc)[:300]):
        return
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    p, doc = status_json(cli, run_dir)
    t.check(p.returncode == 0 and doc and doc["fabricd"]["state"] == "gone",
            "status after SIGKILL of fabricd: fabricd gone", detail(p))
    p = cli("down", "--run-dir", run_dir, timeout=60)
    t.check(p.returncode == 0, "down after fabricd was killed: exit 0", detail(p))
    left = wait_none_under(run_dir)
    t.check(not left, "after the crash, down leaves no process in the run directory", str(left))


# ---------------------------------------------------------------- main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=os.environ.get("TESSERA_BUILD", "build"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    opts = ap.parse_args(argv)
    build = os.path.abspath(opts.build_dir)
    out = opts.out or os.path.join(build, "results", "cli.tap")
    binary = os.path.join(build, "tools", "tessera")
    manifest = os.path.join(ROOT, "configs", "default.yaml")
    tmp = tempfile.mkdtemp(prefix="tessera-cli-")
    run_dir = os.path.join(tmp, "run")
    cli = Cli(binary, tmp)
    t = Tap()
    start = time.monotonic()
    print(f"cli-test: {binary}, directory {tmp}", flush=True)

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        if t.check(os.access(binary, os.X_OK), f"{binary} exists"):
            test_usage(t, cli)
            test_check(t, cli, tmp)
            test_selftest(t, cli, tmp)
            test_up_failures(t, cli, tmp)
            if test_up(t, cli, run_dir, manifest):
                test_status(t, cli, run_dir, manifest)
                test_up_again(t, cli, run_dir, manifest)
                test_logs(t, cli, run_dir)
                test_run(t, cli, run_dir)
                test_stdin(t, cli, run_dir)
                test_partition(t, cli, run_dir)
                test_console(t, cli, run_dir)
                test_kill(t, cli, run_dir)
            test_down(t, cli, run_dir)
            test_crash(t, cli, run_dir, manifest)
    except KeyboardInterrupt as e:
        t.check(False, "not interrupted", str(e) or "Ctrl-C")
    except Exception as e:  # a bug in this script must still clean up and report
        t.check(False, "test script ran to the end", repr(e))
    finally:
        finish(t, cli, run_dir, tmp, out, opts.keep, "cli-test")
    failed = sum(not ok for ok, _, _ in t.results)
    print(f"cli-test: {'PASS' if not failed else 'FAIL'}, {len(t.results) - failed}/"
          f"{len(t.results)} ok, {time.monotonic() - start:.1f} s; results {out}")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
