#!/usr/bin/env python3
"""Cluster test of the fabric stack (DESIGN.md section 8, layer 3): fabricd
and three VMs (processor, memory and storage images) running the in-kernel
cluster tests (net/fabric_cluster.c, booted with `ktest=cluster:fabric_`).

The guests meet at named barriers: each prints '# fabric-sync: NAME' and
waits for the line 'NAME' on its serial input. When every running guest
has asked for the same NAME, this script does what NAME stands for (a
fault through fabricd's control socket, see ACTIONS), then answers all of
them. Fault phases are also checked from fabricd's side ('stats': the
drops, duplicates and delays really happened).

Result: KTAP in BUILD/results/cluster-fabric.tap, one line per guest test
('n1: fabric_rpc_drop'), the harness checks of scripts/ktest.py per guest
(boot, results, no panic, no timeout, page count, exit status) and the
cluster checks; logs in BUILD/results/cluster-fabric/. Exit status 0 only
if everything passed. Every process started here is killed on every path.

    fabric_test.py [--build-dir build] [--timeout 170] [--nodes 3]
"""
import argparse
import re
import json
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import cluster  # noqa: E402
import ktest  # noqa: E402

ROLES = ["p", "m", "s", "g"]
SYNC_RE = r"^# fabric-sync: (\S+)$"
DONE_RE = r"^# ktest done:"

# What each barrier stands for: fabricd control commands, and the fabricd
# statistic that must have grown over the fault phase it opens.
ACTIONS = {
    "drop": (["drop * * 0.01"], "drops"),
    "drop-done": (["reset-faults"], None),
    "duplicate": (["duplicate * * 0.2"], "dups"),
    "duplicate-done": (["reset-faults"], None),
    "delay": (["delay * * 60000 0.05"], "delayed"),
    "delay-done": (["reset-faults"], None),
    "partition": (["partition n1 n2"], None),
    "partition-done": (["heal n1 n2"], None),
}
# At this barrier the third member's VM is killed and booted again with
# this filter (net/fabric_cluster.c: fabric_30_peer_restart, reborn_serve).
RESTART_BARRIER = "restart"
REBORN_FILTER = "ktest=cluster:reborn_"


def link_totals(stats_line: str) -> dict:
    """Sums the per-link counters of a 'stats' reply ('ok {json}')."""
    data = json.loads(stats_line[2:].strip())
    totals = {"drops": 0, "dups": 0, "delayed": 0, "ops": 0}
    for link in data.get("links", []):
        for k in totals:
            totals[k] += int(link.get(k, 0))
    return totals


class Driver:
    def __init__(self, c: cluster.Cluster, deadline: float):
        self.c = c
        self.deadline = deadline
        self.checks = []  # (ok, name, detail)
        self.pos = {nid: 0 for nid in c.vms}
        self.pending = {nid: None for nid in c.vms}
        self.finished = {nid: False for nid in c.vms}
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
        nodes = [vm.node for vm in self.c.vms.values()]
        if len(nodes) < 3:
            return 0
        victim = nodes[2]
        try:
            old = self.c.restart_vm(victim.id, extra=REBORN_FILTER)
        except OSError as e:
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
                self.phase_stats[name] = (counter, link_totals(self.c.control("stats")))
            if name.endswith("-done") and name[:-5] in self.phase_stats:
                counter0, before = self.phase_stats.pop(name[:-5])
                after = link_totals(self.c.control("stats"))
                grew = after[counter0] - before[counter0]
                self.check(grew > 0, f"fabricd: {name[:-5]} phase injected {counter0}",
                           f"{counter0} grew by {grew}")
            for cmd in commands:
                reply = self.c.control(cmd)
                print(f"  barrier {name}: fabricd '{cmd}' -> {reply[:60]}")
        except (cluster.ClusterError, OSError, ValueError) as e:
            self.check(False, f"fabricd: control at barrier {name}", str(e))

    def run(self):
        while time.monotonic() < self.deadline:
            for nid in self.c.vms:
                self.scan(nid)
            live = [n for n in self.c.vms if not self.finished[n]]
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
                for n in waiting:
                    if n != reborn:
                        self.c.send_line(n, self.pending[n])
                        self.pending[n] = None
                continue
            if waiting and len(waiting) < len(live) and any(self.finished.values()):
                # someone died or finished early: do not leave the rest waiting
                for n in waiting:
                    self.c.send_line(n, self.pending[n])
                    self.pending[n] = None
            time.sleep(0.05)
        return False


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=ktest.default_build_dir())
    ap.add_argument("--timeout", type=float, default=170)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--filter", default="fabric_", help="cluster test name prefix")
    opts = ap.parse_args(argv)
    if not 2 <= opts.nodes <= 8:
        ap.error("--nodes: 2..8")

    results = os.path.join(opts.build_dir, "results")
    run_dir = os.path.join(results, "cluster-fabric")
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    tap_path = os.path.join(results, "cluster-fabric.tap")
    nodes = [cluster.Node(i + 1, f"n{i + 1}", ROLES[i % 3], f"ktest=cluster:{opts.filter}",
                          smp=opts.smp) for i in range(opts.nodes)]
    ktest.install_signal_handlers()
    start = time.monotonic()
    deadline = start + opts.timeout
    drv = None
    statuses = {}
    fabricd_alive = False
    tap = []
    print(f"cluster-test: fabricd + {opts.nodes} VMs ({qemu_accel()}), logs in {run_dir}")
    try:
        with cluster.Cluster(opts.build_dir, run_dir, nodes) as c:
            try:
                c.start()
            except cluster.ClusterError as e:
                tap.append((False, f"cluster: start # {e}"))
            else:
                tap.append((True, "cluster: fabricd ready, VMs started"))
                drv = Driver(c, deadline)
                drv.run()
                statuses = c.wait_exit(max(1.0, deadline - time.monotonic()))
                try:
                    c.control("stats")
                    fabricd_alive = c.fabricd.poll() is None
                except (cluster.ClusterError, OSError):
                    fabricd_alive = False
                try:
                    c.control("quit", timeout=2)
                except (cluster.ClusterError, OSError):
                    pass
    except (KeyboardInterrupt, ktest.Interrupted) as e:
        print(f"cluster-test: interrupted ({e or 'Ctrl-C'}); everything killed", file=sys.stderr)
        return 130

    if drv is not None:
        tap.append((fabricd_alive, "cluster: fabricd alive and answering at the end"))
        # The guests' own account of the fault phases (their '# rpc stats'
        # lines): lost idempotent requests were sent again, duplicated
        # non-idempotent ones answered from the cache.
        sums = {}
        for n in nodes:
            for line in c.lines(n.id):
                m = re.match(r"^# rpc stats (\S+): (.*)$", line)
                if m:
                    vals = dict(kv.split("=") for kv in m.group(2).split())
                    for k, v in vals.items():
                        sums.setdefault(m.group(1), {}).setdefault(k, 0)
                        sums[m.group(1)][k] += int(v)
        for phase, key in (("drop", "resends"), ("duplicate", "duplicates")):
            got = sums.get(phase, {}).get(key, 0)
            tap.append((got > 0, f"cluster: guests saw {key} in the {phase} phase"
                        + ("" if got > 0 else f" # {key}={got}")))
        for ok, name, detail in drv.checks:
            tap.append((ok, f"cluster: {name}" + (f" # {detail}" if not ok else "")))
        for n, path in drv.old_lives:
            with open(path, "rb") as f:
                lines = ktest.clean_lines(f.read().decode("utf-8", "replace"))
            run = ktest.parse_ktap(lines)
            for r in run.results:
                tap.append((r.ok, f"{n.name} (before restart): {r.name}"))
            tap.append((run.panic is None and bool(run.results),
                        f"{n.name} (before restart): ran until killed at the restart barrier"))
        for n in nodes:
            with open(os.path.join(run_dir, f"{n.name}.log"), "rb") as f:
                lines = ktest.clean_lines(f.read().decode("utf-8", "replace"))
            run = ktest.parse_ktap(lines)
            status = statuses.get(n.id)
            checks, missing, reasons = ktest.evaluate(run, status, status is None)
            for line in ktest.tap_text(n.name, run, checks, missing).splitlines()[2:]:
                ok = line.startswith("ok ")
                tap.append((ok, line.split(" ", 2 if ok else 3)[-1]))
            verdict = "PASS" if not reasons else "FAIL (" + ", ".join(reasons) + ")"
            print(f"  {n.name} ({n.role}): {verdict}, "
                  f"{sum(r.ok for r in run.results)}/{run.plan if run.plan is not None else '?'} "
                  f"tests ok")
            for r in run.results:
                if not r.ok:
                    print(f"    not ok {r.name}")
                    for line in lines:
                        if line.startswith(f"# {r.name}: FAILED"):
                            print(f"      {line}")
    out = ["KTAP version 1", f"1..{len(tap)}"]
    out += [f"{'ok' if ok else 'not ok'} {i} {text}" for i, (ok, text) in enumerate(tap, 1)]
    with open(tap_path, "w") as f:
        f.write("\n".join(out) + "\n")
    failed = sum(not ok for ok, _ in tap)
    print(f"cluster-test: {'PASS' if not failed else 'FAIL'}, {len(tap) - failed}/{len(tap)} ok, "
          f"{time.monotonic() - start:.1f} s; results {tap_path}")
    return 0 if not failed else 1


def qemu_accel() -> str:
    return cluster.qemu.accel()


if __name__ == "__main__":
    sys.exit(main())
