#!/usr/bin/env python3
"""Cluster test of the fabric stack (DESIGN.md section 8, layer 3): fabricd
and three VMs (processor, memory and storage images) running the in-kernel
cluster tests (net/fabric_cluster.c), booted through `tessera` from
tests/cluster/fabric.yaml, a self-test cluster whose nodes have
`ktest: "cluster:fabric_"` (scripts/selftest_cluster.py drives it).

The guests meet at named barriers: each prints '# fabric-sync: NAME' and
waits for the line 'NAME' on its serial input (written with `tessera
console --send`). When every running guest has asked for the
same NAME, this script does what NAME stands for (a fault through
`tessera inject`, see ACTIONS; at 'restart', `tessera restart --ktest
cluster:reborn_` of the third node), then answers all of them. Fault
phases are also checked from fabricd's side (the link counters of
`tessera status --json`: the drops, duplicates and delays really
happened).

Result: KTAP in BUILD/results/cluster-fabric.tap, one line per guest test
('n1: fabric_rpc_drop'), the harness checks of scripts/ktest.py per guest
(boot, results, no panic, no timeout, page count; instead of QEMU's exit
status, which the CLI cannot report, 'ended': the node's QEMU ended by
itself) and the cluster checks; the run directory (serial logs, fabricd's
log) is BUILD/results/cluster-fabric/. Exit status 0 only if everything
passed. `tessera down` stops everything on every path.

    fabric_test.py [--build-dir build] [--timeout 170] [--filter fabric_]
                   [--manifest tests/cluster/fabric.yaml]
"""
import argparse
import os
import re
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import ktest  # noqa: E402
import selftest_cluster as stc  # noqa: E402

MANIFEST = os.path.join(HERE, "fabric.yaml")
FILTER_KEY_RE = re.compile(r'ktest: "cluster:fabric_"')
SYNC_RE = r"^# fabric-sync: (\S+)$"
DONE_RE = r"^# ktest done:"

# What each barrier stands for: `tessera inject` commands (fabricd's
# drop, duplicate, delay, reset-faults, partition, heal), and the link
# counter that must have grown over the fault phase it opens.
ACTIONS = {
    "drop": ([["drop", "*", "*", "0.01"]], "drops"),
    "drop-done": ([["reset"]], None),
    "duplicate": ([["duplicate", "*", "*", "0.2"]], "dups"),
    "duplicate-done": ([["reset"]], None),
    "delay": ([["delay", "*", "*", "60000", "0.05"]], "delayed"),
    "delay-done": ([["reset"]], None),
    "partition": ([["partition", "n1", "n2"]], None),
    "partition-done": ([["heal", "n1", "n2"]], None),
}
# At this barrier the third member's VM is killed and booted again with
# this filter (net/fabric_cluster.c: fabric_30_peer_restart, reborn_serve).
RESTART_BARRIER = "restart"
REBORN_FILTER = "cluster:reborn_"


class Driver:
    def __init__(self, c: stc.SelfTestCluster, deadline: float):
        self.c = c
        self.deadline = deadline
        self.checks = []  # (ok, name, detail)
        ids = [n.id for n in c.nodes]
        self.pos = {nid: 0 for nid in ids}
        self.pending = {nid: None for nid in ids}
        self.finished = {nid: False for nid in ids}
        self.phase_stats = {}
        self.old_lives = []  # (node, log path) of VMs killed by a restart

    def check(self, ok: bool, name: str, detail: str = ""):
        self.checks.append((ok, name, detail))
        if not ok:
            print(f"  FAILED {name}: {detail}")

    def scan(self, nid: int):
        lines = self.c.lines(nid)
        while self.pos[nid] < len(lines):
            line = lines[self.pos[nid]]
            self.pos[nid] += 1
            m = re.match(SYNC_RE, line)
            if m and self.pending[nid] is None:
                self.pending[nid] = m.group(1)
            elif re.match(DONE_RE, line):
                self.finished[nid] = True
        if not self.c.running(nid):
            self.finished[nid] = True

    def restart(self) -> int:
        """Kills and reboots the third member; returns its id (0 if none)."""
        nodes = self.c.nodes
        if len(nodes) < 3:
            return 0
        victim = nodes[2]
        try:
            old = self.c.restart(victim.id, REBORN_FILTER)
        except (stc.ClusterError, OSError) as e:
            self.check(False, "restart a VM", str(e))
            return 0
        print(f"  barrier {RESTART_BARRIER}: {victim.name} killed and booted again")
        self.old_lives.append((victim, old))
        self.pos[victim.id] = 0
        self.pending[victim.id] = None
        self.finished[victim.id] = False
        return victim.id

    def act(self, name: str):
        commands, counter = ACTIONS.get(name, ([], None))
        try:
            if counter:
                self.phase_stats[name] = (counter, self.c.link_totals())
            if name.endswith("-done") and name[:-5] in self.phase_stats:
                counter0, before = self.phase_stats.pop(name[:-5])
                after = self.c.link_totals()
                grew = after[counter0] - before[counter0]
                self.check(grew > 0, f"fabricd: {name[:-5]} phase injected {counter0}",
                           f"{counter0} grew by {grew}")
            for cmd in commands:
                reply = self.c.inject(*cmd)
                print(f"  barrier {name}: tessera inject {' '.join(cmd)} -> {reply[:60]}")
        except (stc.ClusterError, OSError, ValueError) as e:
            self.check(False, f"fabricd: control at barrier {name}", str(e))

    def answer(self, nodes):
        """Lets the nodes past their barriers (each gets its barrier's name)."""
        sent = self.c.send_lines({n: self.pending[n] for n in nodes})
        for n in nodes:
            if not sent[n] and self.c.running(n):
                self.check(False, f"n{n} took the line '{self.pending[n]}'",
                           "tessera console --send failed")
            self.pending[n] = None

    def run(self):
        while time.monotonic() < self.deadline:
            for nid in self.pos:
                self.scan(nid)
            live = [n for n in self.pos if not self.finished[n]]
            if not live:
                return True
            waiting = [n for n in live if self.pending[n] is not None]
            if waiting and len(waiting) == len(live):
                names = {self.pending[n] for n in waiting}
                reborn = 0
                if len(names) == 1:
                    name = names.pop()
                    self.act(name)
                    if name == RESTART_BARRIER:
                        reborn = self.restart()
                else:
                    self.check(False, "barriers agree",
                               ", ".join(f"n{n}: {self.pending[n]}" for n in waiting))
                self.answer([n for n in waiting if n != reborn])
                continue
            if waiting and len(waiting) < len(live) and any(self.finished.values()):
                # someone died or finished early: do not leave the rest waiting
                self.answer(waiting)
            time.sleep(0.05)
        return False


def write_manifest(path: str, out: str, test_filter: str):
    """The manifest with the guests' filter set to cluster:FILTER."""
    with open(path) as f:
        text = f.read()
    if test_filter != "fabric_":
        text, n = FILTER_KEY_RE.subn(f'ktest: "cluster:{test_filter}"', text)
        if not n:
            raise SystemExit(f"--filter: no 'ktest: \"cluster:fabric_\"' in {path}")
    with open(out, "w") as f:
        f.write(text)


def guest_stats(c: stc.SelfTestCluster, nodes) -> dict:
    """The guests' own account of the fault phases (their '# rpc stats
    PHASE: k=v ...' lines), summed per phase."""
    sums = {}
    for n in nodes:
        for line in c.lines(n.id):
            m = re.match(r"^# rpc stats (\S+): (.*)$", line)
            if m:
                vals = dict(kv.split("=") for kv in m.group(2).split())
                for k, v in vals.items():
                    sums.setdefault(m.group(1), {}).setdefault(k, 0)
                    sums[m.group(1)][k] += int(v)
    return sums


def judge_log(tap: list, label: str, path: str, ended, print_verdict: bool):
    """The harness checks of one guest's serial log (scripts/ktest.py's,
    QEMU's exit status replaced by 'ended': the CLI cannot see it) into
    tap. ended: True, False, or None for a life killed at the restart
    barrier (judged only on its results and that it did not panic)."""
    with open(path, "rb") as f:
        lines = ktest.clean_lines(f.read().decode("utf-8", "replace"))
    run = ktest.parse_ktap(lines)
    if ended is None:
        for r in run.results:
            tap.append((r.ok, f"{label}: {r.name}"))
        tap.append((run.panic is None and bool(run.results),
                    f"{label}: ran until killed at the restart barrier"))
        return
    checks, missing, reasons = ktest.evaluate(run, None, not ended)
    checks = [c for c in checks if c.label != "exit status"]
    checks.append(ktest.Check("ended", ended, None if ended else "timeout",
                              "its QEMU ended by itself" if ended
                              else "its QEMU still ran at the deadline"))
    reasons = [r for r in reasons if r != "exit-code"]
    for line in ktest.tap_text(label, run, checks, missing).splitlines()[2:]:
        ok = line.startswith("ok ")
        tap.append((ok, line.split(" ", 2 if ok else 3)[-1]))
    if not print_verdict:
        return
    verdict = "PASS" if not reasons else "FAIL (" + ", ".join(reasons) + ")"
    print(f"  {label}: {verdict}, {sum(r.ok for r in run.results)}/"
          f"{run.plan if run.plan is not None else '?'} tests ok")
    for r in run.results:
        if not r.ok:
            print(f"    not ok {r.name}")
            for line in lines:
                if line.startswith(f"# {r.name}: FAILED"):
                    print(f"      {line}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=ktest.default_build_dir())
    ap.add_argument("--timeout", type=float, default=170,
                    help="seconds for the tests, from the end of `tessera up`")
    ap.add_argument("--filter", default="fabric_", help="cluster test name prefix")
    ap.add_argument("--manifest", default=MANIFEST)
    opts = ap.parse_args(argv)

    results = os.path.join(opts.build_dir, "results")
    run_dir = os.path.join(results, "cluster-fabric")
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(results, exist_ok=True)
    tap_path = os.path.join(results, "cluster-fabric.tap")
    manifest = os.path.join(results, "cluster-fabric.yaml")
    write_manifest(opts.manifest, manifest, opts.filter)
    ktest.install_signal_handlers()
    start = time.monotonic()
    drv = None
    ended = {}
    fabricd_alive = False
    tap = []
    nodes = []
    print(f"cluster-test: tessera up {opts.manifest} ({stc.qemu.accel()}), "
          f"run directory {run_dir}")
    try:
        with stc.SelfTestCluster(opts.build_dir, run_dir, manifest) as c:
            try:
                c.start()
            except (stc.ClusterError, OSError) as e:
                tap.append((False, f"cluster: start # {' '.join(str(e).split())[:600]}"))
            else:
                nodes = c.nodes
                tap.append((True, "cluster: tessera up: fabricd ready, VMs started"))
                deadline = time.monotonic() + opts.timeout
                drv = Driver(c, deadline)
                drv.run()
                ended = c.wait_exit(max(1.0, deadline - time.monotonic()))
                fabricd_alive = c.fabricd_running()
                sums = guest_stats(c, nodes)
    except (KeyboardInterrupt, ktest.Interrupted) as e:
        print(f"cluster-test: interrupted ({e or 'Ctrl-C'}); everything stopped",
              file=sys.stderr)
        return 130

    if drv is not None:
        tap.append((fabricd_alive, "cluster: fabricd alive and answering at the end"))
        # Lost idempotent requests were sent again, duplicated
        # non-idempotent ones answered from the cache.
        for phase, key in (("drop", "resends"), ("duplicate", "duplicates")):
            got = sums.get(phase, {}).get(key, 0)
            tap.append((got > 0, f"cluster: guests saw {key} in the {phase} phase"
                        + ("" if got > 0 else f" # {key}={got}")))
        for ok, name, detail in drv.checks:
            tap.append((ok, f"cluster: {name}" + (f" # {detail}" if not ok else "")))
        for n, path in drv.old_lives:
            judge_log(tap, f"{n.name} (before restart)", path, None, False)
        for n in nodes:
            judge_log(tap, n.name, os.path.join(run_dir, f"{n.name}.log"),
                      ended.get(n.id, False), True)
    out = ["KTAP version 1", f"1..{len(tap)}"]
    out += [f"{'ok' if ok else 'not ok'} {i} {text}" for i, (ok, text) in enumerate(tap, 1)]
    with open(tap_path, "w") as f:
        f.write("\n".join(out) + "\n")
    failed = sum(not ok for ok, _ in tap)
    print(f"cluster-test: {'PASS' if not failed else 'FAIL'}, {len(tap) - failed}/{len(tap)} ok, "
          f"{time.monotonic() - start:.1f} s; results {tap_path}")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
