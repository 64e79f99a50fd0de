#!/usr/bin/env python3
"""Boot-time benchmark (`make bench-boot`): for each role image, the wall
time from starting the QEMU process to the serial line containing 'ready:'
(the last line of the banner, print_banner() in kernel/main.c), under the
accelerator scripts/qemu.py picks (TCG here), with qboot and with SeaBIOS.
Several runs each; the table shows the median (and the fastest run) and the
qboot/SeaBIOS ratio. With --manifest it also times the whole cluster:
`tessera up MANIFEST` from its start until it returns with every node ready
(fabricd, one QEMU per node, each kernel's fabric and RPC service up), and
`tessera down`, in a temporary run directory.

    bench_boot.py [--build-dir DIR] [--runs N] [--roles pmsg] [--timeout S]
                  [--manifest FILE]

A benchmark, not a test: it never judges the numbers (the target is under
0.5 s to 'ready:' with qboot) and exits non-zero only when an image is
missing or no boot of some image reached 'ready:' at all. Every QEMU is
killed as soon as 'ready:' appears, and on every other path.
"""
import argparse
import os
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktest  # noqa: E402  (kill_group, signal handling)
import qemu  # noqa: E402

TARGET_S = 0.5
MARKER = b"ready:"


def boot_time(image: str, role: str, bios: str, timeout: float):
    """Seconds from QEMU's start to the 'ready:' line, or None on timeout or
    an early exit (then the second value says why)."""
    cmd = qemu.argv(image, cmdline=qemu.default_cmdline(role), bios=bios, serial="stdio")
    start = time.monotonic()
    proc = ktest.spawn(cmd, stderr=subprocess.DEVNULL)
    seen = b""
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while True:
                left = start + timeout - time.monotonic()
                if left <= 0:
                    return None, f"no 'ready:' within {timeout:g} s"
                if not sel.select(left):
                    continue
                data = os.read(proc.stdout.fileno(), 65536)
                if not data:
                    proc.wait(timeout=5)
                    return None, f"QEMU exited (status {proc.returncode}) before 'ready:'"
                seen = seen[-256:] + data
                if MARKER in seen:
                    # Count only whole lines: wait for the end of this one.
                    if b"\n" in seen[seen.index(MARKER):]:
                        return time.monotonic() - start, ""
    finally:
        ktest.kill_group(proc)
        proc.stdout.close()


def cluster_times(tessera: str, manifest: str, runs: int, timeout: float):
    """Wall times of `tessera up` and `tessera down` for manifest, runs
    times each, in a fresh temporary run directory (removed afterwards).
    Returns (up times, down times, problems)."""
    ups, downs, problems = [], [], []
    run_dir = tempfile.mkdtemp(prefix="tessera-bench-")
    env = dict(os.environ, TESSERA_RUN_DIR=run_dir)
    try:
        for _ in range(runs):
            start = time.monotonic()
            up = subprocess.run([tessera, "up", manifest, "--timeout", str(timeout)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if up.returncode == 0:
                ups.append(time.monotonic() - start)
            else:
                problems.append(f"tessera up {manifest}: exit {up.returncode}: "
                                f"{up.stderr.strip().splitlines()[-1:] or ''}")
            start = time.monotonic()
            down = subprocess.run([tessera, "down"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
            if down.returncode == 0:
                downs.append(time.monotonic() - start)
            else:
                problems.append(f"tessera down: exit {down.returncode}")
    finally:
        subprocess.run([tessera, "down"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(run_dir, ignore_errors=True)
    return ups, downs, problems


def fmt(times):
    if not times:
        return "failed"
    return f"{statistics.median(times):6.3f} ({min(times):.3f})"


def main() -> int:
    ap = argparse.ArgumentParser(description="Time QEMU start -> 'ready:' per role, qboot vs SeaBIOS.")
    ap.add_argument("--build-dir", default=os.environ.get("TESSERA_BUILD") or "build")
    ap.add_argument("--runs", type=int, default=5, help="boots per role and firmware (default 5)")
    ap.add_argument("--roles", default="pmsg", help="role letters (default pmsg)")
    ap.add_argument("--timeout", type=float, default=30, help="seconds per boot (default 30)")
    ap.add_argument("--manifest", help="also time `tessera up`/`tessera down` of this cluster")
    opts = ap.parse_args()
    if opts.runs < 1:
        ap.error("--runs must be >= 1")
    images = {}
    for r in opts.roles:
        if r not in qemu.ROLE_NAMES:
            ap.error(f"unknown role letter '{r}' (use p, m, s, g)")
        images[r] = os.path.join(opts.build_dir, f"tessera-{r}.elf")
        if not os.path.isfile(images[r]):
            print(f"bench-boot: {images[r]} not found (run `make` first)", file=sys.stderr)
            return 2

    ktest.install_signal_handlers()
    print(f"bench-boot: QEMU start -> 'ready:' on the serial console; accel {qemu.accel()}, "
          f"{opts.runs} run(s) each; seconds, median (fastest)")
    rows, problems = [], []
    try:
        # One untimed boot per firmware first, so the first timed run does
        # not also pay for loading QEMU and the firmware from disk.
        first = next(iter(images))
        for bios in ("qboot", "seabios"):
            boot_time(images[first], first, bios, opts.timeout)
        for r, image in images.items():
            times = {"qboot": [], "seabios": []}
            for _ in range(opts.runs):
                for bios in times:  # alternate, so drifting machine load hits both alike
                    t, why = boot_time(image, r, bios, opts.timeout)
                    if t is None:
                        problems.append(f"{qemu.ROLE_NAMES[r]} with {bios}: {why}")
                    else:
                        times[bios].append(t)
            rows.append((r, times))
    except (KeyboardInterrupt, ktest.Interrupted):
        print("bench-boot: interrupted", file=sys.stderr)
        return 130

    print(f"{'role':<10} {'qboot':>16} {'seabios':>16} {'qboot/seabios':>14}  target < {TARGET_S} s (qboot)")
    for r, times in rows:
        q, s = times["qboot"], times["seabios"]
        ratio = f"{statistics.median(q) / statistics.median(s):14.2f}" if q and s else f"{'-':>14}"
        met = ""
        if q:
            met = "  met" if statistics.median(q) < TARGET_S else "  NOT met"
        print(f"{qemu.ROLE_NAMES[r]:<10} {fmt(q):>16} {fmt(s):>16} {ratio}{met}")
    if opts.manifest:
        tessera = os.path.join(opts.build_dir, "tools", "tessera")
        ups, downs, more = cluster_times(tessera, opts.manifest, opts.runs, opts.timeout)
        problems += more
        print(f"{'cluster':<10} {'tessera up':>16} {'tessera down':>16}  {opts.manifest}, "
              f"all nodes ready")
        print(f"{'':<10} {fmt(ups):>16} {fmt(downs):>16}")
    for p in problems:
        print(f"bench-boot: {p}")
    dead = [qemu.ROLE_NAMES[r] for r, t in rows if not t["qboot"] and not t["seabios"]]
    if dead:
        print(f"bench-boot: no boot reached 'ready:' for {', '.join(dead)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
