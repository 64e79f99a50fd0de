#!/usr/bin/env python3
"""The memory benchmark (`make bench-memory`): what remote memory costs a
process on a Tessera processor, next to the fabric's own round trip
measured in the same run. A benchmark: no pass/fail (exit status 1 only
if it could not run).

1. One cluster, booted with the `tessera` CLI from a manifest this script
   writes into BUILD/results/bench-memory/: three processors whose
   ExCaches are 100%, 50% and 25% of the working set (WS MiB, default 4),
   each in a vNode of its own, one memory node (the home), a storage
   node whose disk holds /bin/membench (tests/user/membench.c), the
   global node; the fabric models FDR InfiniBand (link: ib56).
2. On each processor `membench WS MISS STEPS`: the ExCache miss latency
   (pages of a MISS MiB region, larger than every ExCache, touched one by
   one: in order, with dirty then clean victims, then in a random order,
   where no sequential prefetch helps: the plain fetch from the memory
   node, the figure compared with the RPC), then ns per access of a
   sequential sweep and of a random pointer chase over WS MiB. Between
   the two, the miss paired with the raw 4 KiB RPC: blocks of 128
   RPC_BULK round trips (a page each way) from the same process to the
   same memory node (Tessera's system call 1025) and 128 random misses,
   in turn: the figure the target is judged on (same nodes, same fabric,
   same moments of the run).
3. In the same cluster, the `ping` builtin at its own pace from the 100%
   processor to the memory node: the idle round trip of a small message.
4. Unless --skip-fabric, after `tessera down`: the fabric benchmark's
   guests (scripts/bench_fabric.py's run_guests: net/fabric_bench.c),
   for their 4 KiB RPC round trip (two VMs alone, for comparison).

Prints: what the host did meanwhile (load average, CPU busy and stolen:
runs with much steal are not comparable), the miss latency against both
round trips (the target: at most 1.5x the 4 KiB RPC of the same
processor and memory node), and the slowdown of the sweep and the chase
at 50% and 25% against 100%, next to LegoOS's 1.34x and 1.68x (OSDI'18, its
ExCache at 50% and 25% of the working set).

    bench_memory.py [--build-dir build] [--ws-mib 4] [--miss-mib 16]
                    [--steps 100000] [--pings 50] [--skip-fabric]
                    [--timeout 240] [--poll-us N] [--cq-retry-us N]
--poll-us and --cq-retry-us set fabricd's waiting (manifest fabric:
poll_us, cq_retry_us; docs/fabric.md), for both clusters.
Logs (every node's console, fabricd's) in BUILD/results/bench-memory/run/,
each membench's and the ping's output in BUILD/results/bench-memory/*.txt.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_fabric  # noqa: E402
from hostload import host_line, host_sample  # noqa: E402
import ktest  # noqa: E402
import selftest_cluster as stc  # noqa: E402

SHARES = (100, 50, 25)  # ExCache size as a percentage of the working set
LEGOOS = {50: 1.34, 25: 1.68}  # LegoOS's slowdowns (OSDI'18) at those sizes
RUN_TIMEOUT = 900


def manifest(opts) -> str:
    """The benchmark cluster: processor pbN has an ExCache of N% of WS
    (opts.ws_mib); fabricd's waiting from opts (stc.fabric_yaml)."""
    ws_mib = opts.ws_mib
    procs, vnodes = [], []
    for share in SHARES:
        kib = ws_mib * 1024 * share // 100
        window = max(16, 4 * kib // 1024)  # the ExCache may take half a window
        procs.append(f"  - name: pb{share}\n    role: processor\n    cpus: 1\n"
                     f"    ram: 128M\n    window: {window}M\n"
                     f"    excache: {{size: {kib}K, ways: 8, policy: lru}}\n")
        vnodes.append(f"  - {{name: vb{share}, processors: [pb{share}], memories: [m1], "
                      "storages: [s1]}\n")
    mem_window = 1 << max(6, (4 * (ws_mib + 16)).bit_length())  # MiB, a power of two
    return ("# written by scripts/bench_memory.py\ncluster: bench-memory\n"
            + stc.fabric_yaml("ib56", opts) + "nodes:\n" + "".join(procs) +
            f"  - {{name: m1, role: memory, ram: 256M, window: {mem_window}M}}\n"
            "  - name: s1\n    role: storage\n    ram: 128M\n"
            "    disk: {dir: tree, size: 32M}\n"
            "  - {name: g1, role: global, ram: 64M, window: 4M}\n"
            "vnodes:\n" + "".join(vnodes))


class Tessera:
    """`tessera VERB --run-dir DIR ...` with a timeout on every call."""

    def __init__(self, binary: str, run_dir: str):
        self.binary = binary
        self.run_dir = run_dir

    def __call__(self, verb: str, *args: str, timeout: float = 60):
        env = dict(os.environ)
        env.pop("TESSERA_RUN_DIR", None)
        try:
            return subprocess.run([self.binary, verb, "--run-dir", self.run_dir, *args],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, timeout=timeout,
                                  env=env)
        except subprocess.TimeoutExpired as e:
            return subprocess.CompletedProcess(e.cmd, -999, e.stdout or "",
                                               f"timed out after {timeout} s")

    def run(self, vnode: str, *args: str, timeout: float = RUN_TIMEOUT):
        return self("run", "--vnode", vnode, "--timeout", str(timeout), "--", *args,
                    timeout=timeout + 30)


def parse_keys(text: str) -> dict:
    """membench's `key value` lines."""
    out = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2:
            try:
                out[words[0]] = float(words[1])
            except ValueError:
                out[words[0]] = words[1]
    return out


def parse_ping(text: str) -> list:
    """The round trips of the ping builtin's `seq=N from X: time=T us` lines."""
    return [int(us) for us in re.findall(r"^seq=\d+ from \d+: time=(\d+) us$", text, re.M)]


def save(base: str, name: str, p) -> None:
    """Keeps a run's output for later reading."""
    with open(os.path.join(base, name), "w") as f:
        f.write(f"exit {p.returncode}\n--- stdout\n{p.stdout}--- stderr\n{p.stderr}")


def run_cluster(opts, base: str, binary: str, user_dir: str):
    """Boots, measures, shuts down. Returns ({share: membench keys}, [ping us])."""
    tree = os.path.join(base, "tree")
    os.makedirs(os.path.join(tree, "bin"))
    shutil.copy(os.path.join(user_dir, "membench"), os.path.join(tree, "bin", "membench"))
    os.chmod(os.path.join(tree, "bin", "membench"), 0o755)
    path = os.path.join(base, "bench-memory.yaml")
    with open(path, "w") as f:
        f.write(manifest(opts))
    ts = Tessera(binary, os.path.join(base, "run"))
    results, pings = {}, []
    try:
        p = ts("up", path, "--timeout", str(opts.timeout), timeout=opts.timeout + 120)
        if p.returncode != 0:
            raise RuntimeError(f"tessera up failed (exit {p.returncode}): "
                               f"{(p.stdout + p.stderr)[-1500:]}")
        for share in SHARES:
            p = ts.run(f"vb{share}", "/bin/membench", str(opts.ws_mib), str(opts.miss_mib),
                       str(opts.steps))
            save(base, f"membench-pb{share}.txt", p)
            if p.returncode != 0:
                print(f"bench-memory: membench on pb{share} failed (exit {p.returncode}): "
                      f"{(p.stdout + p.stderr)[-800:]}", file=sys.stderr)
                continue
            results[share] = parse_keys(p.stdout)
        p = ts.run(f"vb{SHARES[0]}", "ping", "m1", str(opts.pings), timeout=120)
        save(base, "ping.txt", p)
        pings = parse_ping(p.stdout)
    finally:
        ts("down", timeout=90)
    return results, pings


def fabric_rtt_4k(opts, build: str, base: str):
    """The 4 KiB RPC round trip's median (ns) from bench-fabric's guests
    (fabricd set as for the cluster: opts), or None (said on stderr) if
    they could not run."""
    fab_dir = os.path.join(base, "fabric")
    try:
        fab = bench_fabric.run_guests(build, fab_dir, 150, 1, opts)
    except (RuntimeError, stc.ClusterError, OSError, subprocess.SubprocessError) as e:
        print(f"bench-memory: the bench-fabric guests could not run: {e}", file=sys.stderr)
        return None
    return fab.get("rtt_4KiB", {}).get("median_ns")


def ratio(a, b) -> str:
    return f"{a / b:6.2f}x" if a and b else "     -"


def report(opts, results: dict, pings: list, rtt4k, host: list) -> None:
    print(f"bench-memory: working set {opts.ws_mib} MiB, miss region {opts.miss_mib} MiB, "
          f"chase {opts.steps} steps; accel {stc.qemu.accel()}, "
          f"{os.cpu_count()} host CPUs")
    print(host_line("the cluster (membench, ping)", host[0], host[1]))
    if not opts.skip_fabric:
        print(host_line("the bench-fabric guests", host[1], host[2]))
    ping_us = statistics.median(pings) if pings else None
    rtt4k_us = rtt4k / 1000 if rtt4k else None
    print(f"  RPC round trip, ping builtin (small message, same cluster): "
          + (f"median {ping_us:.0f} us ({len(pings)} pings)" if pings else "(missing)"))
    print(f"  RPC round trip, 4 KiB (bench-fabric guests, same run):     "
          + (f"median {rtt4k_us:.1f} us" if rtt4k_us else "(missing or skipped)"))
    print("  ExCache miss latency, us per touch (median; mean = the pass's time / its "
          "touches; per miss = / its misses). random: pages in a random order, no "
          "prefetch: the figure compared with the RPC")
    print("    ExCache  pass           median      mean  per miss  misses prefetched")
    for share in SHARES:
        r = results.get(share)
        if not r:
            print(f"    {share:3d}%     (membench failed)")
            continue
        for name in ("zero_fill", "miss_dirty", "miss_clean", "miss_random"):
            med = r.get(f"{name}_ns_median", 0) / 1000
            mean = r.get(f"{name}_ns_mean", 0) / 1000
            misses = r.get(f"{name}_misses")
            per_miss = mean * r.get("miss_pages", 0) / misses if misses else None
            print(f"    {share:3d}%     {name:12} {med:9.1f} {mean:9.1f} "
                  + (f"{per_miss:9.1f} {int(misses):7d} "
                     f"{int(r.get(name + '_prefetches', 0)):10d}" if per_miss else ""))
    print("  random miss against the raw 4 KiB RPC (RPC_BULK, a page each way) from the "
          "same process to its memory node, paired: blocks of 128 RPCs and 128 misses in "
          "turn (membench's pair_*; us, medians over all blocks; miss/RPC: the median of "
          "the blocks' ratios, and their range)")
    print("    ExCache       miss       RPC   miss/RPC (target <= 1.50x)   blocks' range"
          "   vs bench-fabric  vs ping")
    for share in SHARES:
        r = results.get(share)
        if not r:
            continue
        if "pair_ratio_median" not in r:
            print(f"    {share:3d}%     (no pair_ lines: membench could not time RPCs)")
            continue
        miss, rpc = r["pair_miss_ns_median"] / 1000, r["pair_rpc_ns_median"] / 1000
        med = r["pair_ratio_median"]
        print(f"    {share:3d}%     {miss:8.1f}  {rpc:8.1f}   {med:6.2f}x "
              f"{'met' if med <= 1.5 else 'not met':>8}          "
              f"{r['pair_ratio_min']:5.2f}-{r['pair_ratio_max']:5.2f}x"
              f"          {ratio(miss, rtt4k_us)}  {ratio(miss, ping_us)}")
    base = results.get(100)
    print("  slowdown vs 100% ExCache       sweep     chase     LegoOS")
    for share in SHARES[1:]:
        r = results.get(share)
        if not r or not base:
            print(f"    {share:3d}% ExCache          (missing)")
            continue
        print(f"    {share:3d}% ExCache      "
              f"{ratio(r.get('seq_ns_per_access'), base.get('seq_ns_per_access'))}   "
              f"{ratio(r.get('chase_ns_per_access'), base.get('chase_ns_per_access'))}   "
              f"{LEGOOS[share]:5.2f}x")
    print("  ns per access                  sweep     chase")
    for share in SHARES:
        r = results.get(share) or {}
        print(f"    {share:3d}% ExCache    {r.get('seq_ns_per_access', 0):9.1f} "
              f"{r.get('chase_ns_per_access', 0):9.1f}"
              + (f"   (misses: sweep {int(r['seq_misses'])}, chase "
                 f"{int(r['chase_misses'])}; prefetched: sweep "
                 f"{int(r.get('seq_prefetches', 0))}, chase "
                 f"{int(r.get('chase_prefetches', 0))})" if "seq_misses" in r else ""))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=ktest.default_build_dir())
    ap.add_argument("--ws-mib", type=int, default=4, help="working set (MiB, a power of two)")
    ap.add_argument("--miss-mib", type=int, default=16,
                    help="miss-latency region (MiB; larger than the biggest ExCache)")
    ap.add_argument("--steps", type=int, default=100000, help="pointer-chase steps")
    ap.add_argument("--pings", type=int, default=50,
                    help="small pings at the builtin's pace (the idle round trip)")
    ap.add_argument("--skip-fabric", action="store_true",
                    help="no bench-fabric guests (no 4 KiB RPC figure)")
    ap.add_argument("--timeout", type=float, default=240, help="boot timeout (s)")
    stc.add_fabricd_options(ap)
    opts = ap.parse_args(argv)
    if opts.ws_mib < 1 or opts.ws_mib & (opts.ws_mib - 1):
        ap.error("--ws-mib must be a power of two (ExCache sizes are)")
    if opts.miss_mib <= opts.ws_mib:
        ap.error("--miss-mib must be larger than --ws-mib (the biggest ExCache)")
    build = os.path.abspath(opts.build_dir)
    binary = os.path.join(build, "tools", "tessera")
    user_dir = os.path.join(build, "user")
    base = os.path.join(build, "results", "bench-memory")
    if os.path.isdir(os.path.join(base, "run")):
        Tessera(binary, os.path.join(base, "run"))("down", timeout=90)
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    ktest.install_signal_handlers()
    errors = (RuntimeError, stc.ClusterError, OSError, subprocess.SubprocessError)
    try:
        host = [host_sample()]
        results, pings = run_cluster(opts, base, binary, user_dir)
        host.append(host_sample())
        rtt4k = None if opts.skip_fabric else fabric_rtt_4k(opts, build, base)
        host.append(host_sample())
    except errors as e:
        print(f"bench-memory: could not run: {e}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, ktest.Interrupted):
        print("bench-memory: interrupted; everything stopped", file=sys.stderr)
        return 130
    if not results:
        print("bench-memory: membench ran on no processor", file=sys.stderr)
        return 1
    report(opts, results, pings, rtt4k, host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
