#!/usr/bin/env python3
"""A self-test cluster driven through `tessera` (docs/cli.md): the nodes of
a manifest whose every node has `ktest:` (docs/manifest.md) boot with
ktest=FILTER and run the kernel's cluster tests; a script talks to them
over their serial lines and injects faults. Used by the fabric cluster
test (tests/cluster/fabric_test.py), the fabric benchmark
(scripts/bench_fabric.py) and the storage benchmark
(scripts/bench_storage.py, whose manifest has a vNode and a disk image).

    with SelfTestCluster(build_dir, run_dir, manifest_path) as c:
        c.start()                      # tessera up; one console per node
        c.wait_line(1, r"ready:", 30)  # a serial line matching a regex
        c.inject("drop", "*", "*", "0.01")  # tessera inject
        c.send_lines({1: "go"})        # a line on each node's serial input
        c.restart(3, "cluster:reborn_")     # tessera restart --ktest
        c.wait_exit(timeout)           # until every node's QEMU ended

Everything goes through the CLI and its run directory (docs/cli.md):
`tessera up` starts fabricd and the VMs; `tessera console --send LINE
NODE` writes a line to a node's serial input and returns once QEMU has
taken it (no console stays attached: that would risk doubled characters
in the log, see tools/tessera/console.c); the node's serial output is
read from RUN/NODE.log, which QEMU writes all along; whether its QEMU
still runs, from RUN/state (pid and start time, as the CLI itself
decides); `tessera inject` and `tessera status --json` reach fabricd;
`tessera restart` boots a node again; and `tessera down` stops
everything on every way out (the with block, an exception, SIGTERM or
SIGHUP through ktest.install_signal_handlers).

What the CLI cannot give: QEMU's exit status (tessera up is not the VMs'
parent once it returns), so a node's end is seen as its QEMU being gone.
"""
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktest  # noqa: E402  (clean_lines, the serial log's text as lines)
import qemu  # noqa: E402,F401  (qemu.accel(): the CLI's rule, tools/tessera/vm.c)

UP_TIMEOUT = 120  # seconds `tessera up` may take for the nodes to connect
CALL_TIMEOUT = 60  # any other tessera call


class ClusterError(Exception):
    pass


def add_fabricd_options(ap) -> None:
    """The benchmarks' --poll-us N and --cq-retry-us N: fabricd's waiting
    (docs/fabric.md, "Why 10 us"), written into the manifest's fabric:
    mapping by fabric_yaml(); unset, fabricd's defaults. The manifest
    parser checks the ranges (an error names the written manifest)."""
    ap.add_argument("--poll-us", type=int, metavar="N",
                    help="fabricd polls N us after activity before it sleeps "
                    "(manifest fabric: poll_us; default 10)")
    ap.add_argument("--cq-retry-us", type=int, metavar="N",
                    help="fabricd's full-CQ retry period (fabric: cq_retry_us; "
                    "default 1000)")


def fabric_yaml(link: str, opts=None) -> str:
    """A benchmark manifest's fabric: mapping (window 16M, link preset
    link), with poll_us and cq_retry_us from opts (add_fabricd_options;
    None or unset: not written, so fabricd's defaults)."""
    text = f"fabric:\n  window: 16M\n  link: {link}\n"
    for key in ("poll_us", "cq_retry_us"):
        value = getattr(opts, key, None)
        if value is not None:
            text += f"  {key}: {value}\n"
    return text


@dataclass
class Node:
    id: int
    name: str
    role: str  # "processor", "memory", ...


@dataclass
class _Serial:
    """One node's serial line: its log read so far."""
    node: Node
    log_path: str
    offset: int = 0  # bytes of the log consumed
    partial: bytes = b""  # an unfinished last line
    lines: List[str] = field(default_factory=list)


class SelfTestCluster:
    def __init__(self, build_dir: str, run_dir: str, manifest: str):
        self.binary = os.path.join(os.path.abspath(build_dir), "tools", "tessera")
        self.run_dir = os.path.abspath(run_dir)
        self.manifest = os.path.abspath(manifest)
        self.serial: Dict[int, _Serial] = {}
        self.started = False

    # ------------------------------------------------------------ the CLI

    def tessera(self, verb: str, *args: str, timeout: float = CALL_TIMEOUT):
        """`tessera VERB --run-dir RUN ARGS...`; a CompletedProcess (a
        timeout gives returncode -999)."""
        env = dict(os.environ)
        env.pop("TESSERA_RUN_DIR", None)
        cmd = [self.binary, verb, "--run-dir", self.run_dir, *args]
        try:
            return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired as e:
            return subprocess.CompletedProcess(cmd, -999, e.stdout or "",
                                               f"(timed out after {timeout} s)")

    def _must(self, verb: str, *args: str, timeout: float = CALL_TIMEOUT) -> str:
        p = self.tessera(verb, *args, timeout=timeout)
        if p.returncode != 0:
            raise ClusterError(f"tessera {verb} {' '.join(args)}: exit {p.returncode}: "
                               f"{(p.stderr or p.stdout).strip()[-1500:]}")
        return p.stdout

    # ------------------------------------------------------------ lifetime

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self, up_timeout: float = UP_TIMEOUT):
        """tessera up (its disks afresh); learns the nodes."""
        if not os.access(self.binary, os.X_OK):
            raise ClusterError(f"{self.binary} missing: make tessera")
        self.started = True
        self._must("up", self.manifest, "--new-disks", "--timeout", str(up_timeout),
                   timeout=up_timeout + 600)  # + building what is stale
        doc = self.status()
        if not doc:
            raise ClusterError("tessera status --json gave nothing readable")
        for n in doc["nodes"]:
            node = Node(int(n["id"]), n["name"], n["role"])
            self.serial[node.id] = _Serial(node, os.path.join(self.run_dir, f"{node.name}.log"))

    def stop(self):
        """Takes the cluster down. Safe to call more than once."""
        if self.started:
            self.tessera("down", timeout=90)
            self.started = False

    # ------------------------------------------------------------ nodes

    @property
    def nodes(self) -> List[Node]:
        return [s.node for s in self.serial.values()]

    def lines(self, nid: int) -> List[str]:
        """Every line the node has printed so far (this life of it)."""
        s = self.serial[nid]
        try:
            with open(s.log_path, "rb") as f:
                f.seek(s.offset)
                data = f.read()
        except OSError:
            data = b""
        if data:
            s.offset += len(data)
            s.partial += data
            *done, s.partial = s.partial.split(b"\n")
            if done:
                s.lines.extend(ktest.clean_lines(
                    b"\n".join(done).decode("utf-8", "replace") + "\n"))
        return list(s.lines)

    def wait_line(self, nid: int, pattern: str, timeout: float, start: int = 0):
        """Waits for a serial line matching the regex (from line index
        start on). (index, match), or (None, None) on timeout or when the
        node ended."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        i = start
        while True:
            lines = self.lines(nid)
            for i in range(i, len(lines)):
                m = rx.search(lines[i])
                if m:
                    return i, m
            i = len(lines)
            if not self.running(nid):
                lines = self.lines(nid)  # the last words
                for j in range(i, len(lines)):
                    m = rx.search(lines[j])
                    if m:
                        return j, m
                return None, None
            if time.monotonic() >= deadline:
                return None, None
            time.sleep(0.05)

    def _recorded(self) -> Dict[str, tuple]:
        """RUN/state's node records: {name: (pid, start)}."""
        out = {}
        try:
            with open(os.path.join(self.run_dir, "state")) as f:
                for line in f:
                    w = line.split()
                    if len(w) == 4 and w[0] == "node":
                        out[w[1]] = (int(w[2]), int(w[3]))
        except (OSError, ValueError):
            pass
        return out

    def running(self, nid: int) -> bool:
        """True while the node's QEMU runs: its recorded pid is alive, not
        a zombie, and started at the recorded time (docs/cli.md, the
        state file)."""
        rec = self._recorded().get(self.serial[nid].node.name)
        if not rec:
            return False
        try:
            with open(f"/proc/{rec[0]}/stat") as f:
                stat = f.read()
        except OSError:
            return False
        fields = stat[stat.rfind(")") + 2:].split()
        return fields[0] not in "ZX" and int(fields[19]) == rec[1]

    def send_lines(self, lines: Dict[int, str]) -> Dict[int, bool]:
        """Writes lines[id] to each node's serial input, all at once
        (tessera console --send); {id: delivered}. A node that is gone
        does not take its line; its log says why."""
        env = dict(os.environ)
        env.pop("TESSERA_RUN_DIR", None)
        procs = {nid: subprocess.Popen(
            [self.binary, "console", "--run-dir", self.run_dir, "--send", text,
             self.serial[nid].node.name], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
            for nid, text in lines.items()}
        done = {}
        for nid, p in procs.items():
            try:
                p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
            done[nid] = p.returncode == 0
        return done

    def restart(self, nid: int, ktest_filter: Optional[str] = None) -> str:
        """tessera restart [--ktest F] NODE: kills and boots the node again.
        Returns the path its earlier serial log was kept under."""
        s = self.serial[nid]
        args = (["--ktest", ktest_filter] if ktest_filter else []) + [s.node.name]
        out = self._must("restart", *args, timeout=UP_TIMEOUT + 30)
        m = re.search(r"kept as (\S+)$", out, re.M)
        self.serial[nid] = _Serial(s.node, s.log_path)
        if not m:
            raise ClusterError(f"tessera restart {s.node.name} kept no serial log: {out!r}")
        return m.group(1)

    def wait_exit(self, timeout: float) -> Dict[int, bool]:
        """Waits until every node's QEMU has ended; returns {id: ended}."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(self.running(n) for n in self.serial):
            time.sleep(0.1)
        return {nid: not self.running(nid) for nid in self.serial}

    # ------------------------------------------------------------ fabric

    def status(self) -> Optional[dict]:
        """tessera status --json, parsed (None if it gave nothing)."""
        p = self.tessera("status", "--json")
        try:
            return json.loads(p.stdout)
        except ValueError:
            return None

    def inject(self, *args: str) -> str:
        """tessera inject ARGS; its output. ClusterError if it failed."""
        return self._must("inject", *args).strip()

    def link_totals(self) -> dict:
        """fabricd's per-link counters summed over every link (status --json
        'links': drops, dups, delayed, ops)."""
        doc = self.status()
        if doc is None:
            raise ClusterError("tessera status --json gave nothing readable")
        totals = {"drops": 0, "dups": 0, "delayed": 0, "ops": 0}
        for link in doc.get("links", []):
            for k in totals:
                totals[k] += int(link.get(k, 0))
        return totals

    def fabricd_running(self) -> bool:
        doc = self.status() or {}
        return doc.get("fabricd", {}).get("state") == "running"

