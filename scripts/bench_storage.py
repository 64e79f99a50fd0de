#!/usr/bin/env python3
"""The storage benchmark (`make bench-storage`): file I/O through the fabric
(a processor using its storage node's file service) next to the same disk
image used by a stock Linux guest in the same QEMU setup, measured in
rounds and printed as ratios. A benchmark: no pass/fail on timing (exit
status 1 only if no side ran in any round).

Rounds (--rounds N, default 3): each round runs both sides, the Linux
guest and the Tessera cluster, one after the other, close together:
Linux first in odd rounds, Tessera first in even ones (L T, T L, L T...),
so neither side always gets the host's first or later stretch. On the
2-core build host the scheduling comes in stretches, seconds long, of
fast and slow (and its own host steals CPU at times): one side measured
in a good stretch against the other in a bad one gave 1.5x in one run
and 4-12x in the next. A round's ratios compare two measurements taken
within a minute of each other; the table shows each column's median
over the rounds and, as the ratio, the median of the rounds' own ratios
(not the ratio of the medians), and the target is judged on those.
A side that fails in a round is noted there and that round's ratios are
left out; the other rounds still count. On the 2-core build machine a
round takes about a minute (the Linux guest's boot and benchmark 30-38 s,
the Tessera cluster's 17-21 s), the default three rounds 2.6-2.8 minutes
in all with the image (2026-11-21, busy host).

The disk image (made here with mke2fs, the same bytes for every side):
  [0, FS)        ext2, 4 KiB blocks, holding /bench/big: FILE_MIB MiB of
                 random bytes (the file every file-level figure uses)
  [FS, FS+64M)   a scratch area outside the file system, random bytes:
                 raw-disk figures read and write it without harming ext2
Each side of each round boots from its own fresh copy, so no side's
writes reach another.

Figures (tests/bench/blkbench.c defines them; pcomponent/storage_bench.c
and scomponent/blk_bench.c print the same names): sequential read and
write (1 MiB requests), 4 KiB random read and write at queue depth 1 and
8, 4 KiB read latency (median, p99, from the depth-1 random reads). Writes
end with a flush or fsync inside the timed part.

Columns:
  Linux file      Debian's kernel (scripts/linux_guest.py) mounts the image
                  (ext4 driver, ext2 on disk) and runs blkbench with O_DIRECT
                  on /bench/big: the same file's bytes through a file system,
                  no page cache. The baseline of the ratios.
  Linux raw       blkbench on /dev/vda's scratch area (O_DIRECT)
  Tessera raw     the storage kernel's virtio-blk driver on the scratch area
                  (scomponent/blk_bench.c): what is the driver, not the fabric
  Tessera remote  a processor's fs_client calls on /big under its export
                  (pcomponent/storage_bench.c): fabric + file service + ext2,
                  data by RDMA into the processor's window. The storage
                  node's ext2 keeps a 4 MiB block cache (Linux's O_DIRECT
                  keeps none); the 64 MiB file is 16x larger, so random
                  reads mostly miss it.
Under the table: the read rows' ratios round by round (with each round's
worst), then for each round how long each side took and what the host
did meanwhile (scripts/hostload.py: load average, CPU busy and stolen),
the remote diagnostics, the e2fsck verdict on that round's Tessera image
and any notes. Diagnostics: FS_STAT and cached 4 KiB read round trips
(processor), and where a 1 MiB FS_READ / FS_WRITE's time goes: the
storage node's counters (scomponent/blk_bench.c's "fileserv" line: ext2
with its disk I/O, and the RDMA transfer) against the processor's time
per call; the rest is RPC, fabric and client (and, for writes, the
closing fsync spread over the calls).
The ratio columns are remote cost / Linux-file cost (>1: remote slower):
local/remote for throughput, remote/local for latency; the issue's target is
within 1.5x on reads (sequential, random at both depths, p50 latency),
judged on the medians of the rounds' ratios; the last line also says in
how many rounds it was met on their own.

The Tessera side boots through `tessera` (scripts/selftest_cluster.py)
from a self-test manifest written to RUN/roundN/tessera.yaml: a
processor p1 and a storage node s2 with `ktest: "cluster:bench_storage"`,
s2's disk the image RUN/roundN/tessera.img, and one vNode (processors
[p1], storages [s2], root /bench) from which `tessera up` derives the
kernel words storage=2 and exports=1:/bench; the two nodes meet at the
barriers "serve", the diagnostics' ("diag", then one per stream and
round: pcomponent/storage_bench.c) and "done", which the script passes
with `tessera console --send` as the processor names them.

    bench_storage.py [--build-dir build] [--blkbench PATH] [--file-mib 64]
                     [--rounds 3] [--rand-ms 3000]
                     [--smp 1] [--mem 128M] [--proc-smp 1] [--timeout 600]
                     [--skip-linux] [--skip-tessera] [--keep]
                     [--poll-us N] [--cq-retry-us N]
The storage node and the Linux guest get the same vCPUs and RAM
(configs/default.yaml's storage node: 1 vCPU, 128M; STORAGE_SMP=n
overrides the vCPUs). --poll-us and --cq-retry-us set fabricd's waiting
(manifest fabric: poll_us, cq_retry_us; docs/fabric.md).
The pristine image is RUN/disk.img, RUN = BUILD/results/bench-storage/;
each round's logs and images in RUN/roundN/ (linux.log; tessera.yaml and
tessera.img; the cluster's run directory tessera/ with p1.log and
s2.log); images deleted after each round unless --keep.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktest  # noqa: E402
from hostload import host_line, host_sample  # noqa: E402
import linux_guest  # noqa: E402
import selftest_cluster as stc  # noqa: E402

SCRATCH_MIB = 64
DEPTH = 8
# A Linux guest silent this long is stuck (each of its phases prints a line
# within seconds; its boot takes 10-20 s): stop it rather than wait out
# --timeout.
LINUX_IDLE_S = 120
BENCH_RE = re.compile(r"^(?:# bench:|blkbench:) (\S+)(.*)$")
KV_RE = re.compile(r"(\w+)=(\S+)")
TESSERA_IMAGE = "tessera.img"  # the storage node's copy, next to its manifest


class BenchError(Exception):
    pass


def parse(lines) -> dict:
    """'NAME k=v ...' bench lines -> {NAME: {k: int or str}}; errors are
    collected under 'error'."""
    out = {}
    for line in lines:
        m = BENCH_RE.match(line.strip())
        if not m:
            continue
        name, rest = m.group(1), m.group(2)
        if name == "error":
            out.setdefault("error", []).append(rest.strip())
            continue
        out[name] = {k: int(v) if v.isdigit() else v for k, v in KV_RE.findall(rest)}
    return out


# ------------------------------------------------------------- the image

def e2tool(name: str) -> str:
    """mke2fs or e2fsck, also from /sbin when that is not on PATH."""
    for path in (shutil.which(name), f"/usr/sbin/{name}", f"/sbin/{name}"):
        if path and os.access(path, os.X_OK):
            return path
    raise BenchError(f"{name} missing: run `make deps` (Debian package e2fsprogs)")


def make_image(run_dir: str, file_mib: int) -> tuple:
    """The pristine image; returns (path, file system size in MiB)."""
    root = os.path.join(run_dir, "root")
    os.makedirs(os.path.join(root, "bench"), exist_ok=True)
    with open(os.path.join(root, "bench", "big"), "wb") as f:
        for _ in range(file_mib):
            f.write(os.urandom(1 << 20))
    fs_mib = file_mib + max(16, file_mib // 4)  # metadata and slack
    img = os.path.join(run_dir, "disk.img")
    with open(img, "wb") as f:
        f.truncate((fs_mib + SCRATCH_MIB) << 20)
    r = subprocess.run([e2tool("mke2fs"), "-q", "-F", "-t", "ext2", "-b", "4096", "-d", root, img,
                        f"{fs_mib}M"], capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError(f"mke2fs failed: {r.stderr.strip()}")
    with open(img, "r+b") as f:  # the scratch area: real, random bytes
        f.seek(fs_mib << 20)
        for _ in range(SCRATCH_MIB):
            f.write(os.urandom(1 << 20))
    shutil.rmtree(root)
    return img, fs_mib


def copy_image(img: str, rdir: str, name: str) -> str:
    """A fresh copy of the pristine image img as rdir/name."""
    dst = os.path.join(rdir, name)
    shutil.copyfile(img, dst)
    return dst


# ------------------------------------------------------------- Linux

def run_linux(img: str, fs_mib: int, blkbench: str, file_mib: int, opts, run_dir: str):
    """(file figures, raw figures) from the Linux guest; its console in
    run_dir/linux.log (run_dir: the round's directory)."""
    common = f"--rand-ms {opts.rand_ms} --depth {DEPTH}"
    script = f"""
if mount -t ext4 /dev/vda /mnt; then
    echo "== file"
    /blkbench {common} --mib {file_mib} /mnt/bench/big
    umount /mnt
else
    echo "blkbench: error cannot mount the image"
fi
echo "== raw"
/blkbench {common} --offset {fs_mib} --mib {SCRATCH_MIB} /dev/vda
"""
    lines = linux_guest.run(script, modules=["virtio_pci", "virtio_blk", "crc32c_generic",
                                              "ext4"],
                            extra_files={"blkbench": blkbench}, disk=img, smp=opts.smp,
                            mem=opts.mem, timeout=opts.timeout, idle_timeout=LINUX_IDLE_S,
                            log_path=os.path.join(run_dir, "linux.log"))
    return linux_parts(lines)


def linux_parts(lines) -> tuple:
    """The Linux guest's output -> the figures of its file and raw parts."""
    parts, cur = {"file": [], "raw": []}, None
    for line in lines:
        m = re.match(r"^== (file|raw)$", line.strip())
        if m:
            cur = m.group(1)
        elif cur:
            parts[cur].append(line)
    return parse(parts["file"]), parse(parts["raw"])


# ------------------------------------------------------------- Tessera

def manifest(opts) -> str:
    """The Tessera side's self-test cluster (docs/manifest.md): both nodes
    run ktest=cluster:bench_storage; the vNode only wires them, so `tessera
    up` derives the kernel words storage=2 (processor) and exports=1:/bench
    (storage node) as for any cluster. The disk is the image next to the
    manifest, used in place."""
    word = '"cluster:bench_storage"'
    return ("# written by scripts/bench_storage.py\ncluster: bench-storage\n"
            + stc.fabric_yaml("none", opts) + "nodes:\n"
            f"  - {{name: p1, role: processor, cpus: {opts.proc_smp}, ram: {opts.proc_mem},\n"
            f"     ktest: {word}}}\n"
            f"  - {{name: s2, role: storage, cpus: {opts.smp}, ram: {opts.mem},\n"
            f"     ktest: {word}, disk: {{image: {TESSERA_IMAGE}}}}}\n"
            "vnodes:\n  - {name: bench, processors: [p1], storages: [s2], root: /bench}\n")


def run_tessera(opts, run_dir: str):
    """(raw figures from the storage node, remote figures from the
    processor). run_dir is the round's directory: the manifest is
    run_dir/tessera.yaml next to the image, the cluster's run directory
    run_dir/tessera (node logs p1.log, s2.log)."""
    path = os.path.join(run_dir, "tessera.yaml")
    tdir = os.path.join(run_dir, "tessera")
    with open(path, "w") as f:
        f.write(manifest(opts))
    deadline = time.monotonic() + opts.timeout
    with stc.SelfTestCluster(opts.build_dir, tdir, path) as c:
        c.start()
        nodes = {n.name: n for n in c.nodes}
        if set(nodes) != {"p1", "s2"}:
            raise BenchError(f"tessera status lists nodes {sorted(nodes)}, not p1 and s2")
        # The barriers: "serve", the diagnostic streams' ("diag", then one
        # per stream and round), "done"; the processor names the next one.
        name, start = "", {n.id: 0 for n in nodes.values()}
        while name != "done":
            for n in (nodes["p1"], nodes["s2"]):
                want = r"(\S+)" if n.name == "p1" else re.escape(name)
                i, m = c.wait_line(n.id, rf"^# fabric-sync: {want}$",
                                   max(1.0, deadline - time.monotonic()), start[n.id])
                if i is None:
                    errs = parse(c.lines(n.id)).get("error", [])
                    raise BenchError(f"{n.name} never reached '{name or 'serve'}'"
                                     + (f" ({'; '.join(errs)})" if errs else "")
                                     + f" (see {tdir}/{n.name}.log)")
                start[n.id] = i + 1
                if n.name == "p1":
                    name = m.group(1)
            sent = c.send_lines({n.id: name for n in nodes.values()})
            if not all(sent.values()):
                raise BenchError(f"'{name}' not delivered to every node (see {tdir})")
        c.wait_exit(max(1.0, min(30.0, deadline - time.monotonic())))
        return parse(c.lines(nodes["s2"].id)), parse(c.lines(nodes["p1"].id))


def fsck(img: str) -> str:
    """e2fsck -fn of the storage node's copy after the run: the raw
    figures wrote only outside the file system, the remote ones only
    inside /bench/big, and the node unmounted cleanly."""
    r = subprocess.run([e2tool("e2fsck"), "-fn", img], capture_output=True, text=True)
    if r.returncode == 0:
        return "e2fsck -fn of the storage node's image afterwards: clean"
    tail = " / ".join(r.stdout.strip().splitlines()[-3:])
    return f"e2fsck -fn of the storage node's image afterwards: status {r.returncode}: {tail}"


# ------------------------------------------------------------- the table

def mibps(d: dict, name: str):
    b = d.get(name)
    if not b or not b.get("elapsed_ns"):
        return None
    return b["bytes"] / (1 << 20) / (b["elapsed_ns"] / 1e9)


def iops(d: dict, name: str):
    b = d.get(name)
    if not b or not b.get("elapsed_ns"):
        return None
    return b["ops"] / (b["elapsed_ns"] / 1e9)


def lat_us(d: dict, key: str):
    b = d.get("lat_read_4k")
    return b[key] / 1000 if b and key in b else None


ROWS = [  # label, unit, getter, higher is better, a read figure
    ("seq read 1 MiB", "MiB/s", lambda d: mibps(d, "seq_read"), True, True),
    ("rand read 4 KiB qd1", "IOPS", lambda d: iops(d, "rand_read_4k"), True, True),
    (f"rand read 4 KiB qd{DEPTH}", "IOPS", lambda d: iops(d, f"rand_read_4k_qd{DEPTH}"),
     True, True),
    ("read 4 KiB latency p50", "us", lambda d: lat_us(d, "median_ns"), False, True),
    ("read 4 KiB latency p99", "us", lambda d: lat_us(d, "p99_ns"), False, True),
    ("seq write 1 MiB", "MiB/s", lambda d: mibps(d, "seq_write"), True, False),
    ("rand write 4 KiB qd1", "IOPS", lambda d: iops(d, "rand_write_4k"), True, False),
    (f"rand write 4 KiB qd{DEPTH}", "IOPS", lambda d: iops(d, f"rand_write_4k_qd{DEPTH}"),
     True, False),
]


def cost_ratio(local, remote, higher_better):
    if local is None or remote is None or not local or not remote:
        return None
    return local / remote if higher_better else remote / local


def fmt(v, width=10):
    if v is None:
        return f"{'-':>{width}}"
    return f"{v:{width}.0f}" if v >= 100 else f"{v:{width}.1f}"


def fmt_ratio(r, width: int) -> str:
    return f"{('%.2fx' % r) if r else '-':>{width}}"


def median_of(values):
    """The median of the values that are there (None: not measured), or
    None if none is."""
    there = [v for v in values if v is not None]
    return statistics.median(there) if there else None


class Round:
    """One round: both sides in turn (order: 'linux', 'tessera' or the
    reverse), each on a fresh copy of the pristine image, in RUN/roundN/.
    Filled by run_round, read by the report."""

    def __init__(self, number: int, order: tuple, rdir: str):
        self.number, self.order, self.rdir = number, order, rdir
        self.cols = {}   # linux_file, linux_raw, tessera_raw, tessera_remote: parse()'s
        self.secs = {}   # side -> seconds it took (boot, benchmark, shutdown)
        self.host = {}   # side -> (host_sample before, after)
        self.notes = []  # what went wrong, the e2fsck verdict

    def tag(self) -> str:
        """'L T' or 'T L': the order the sides ran in."""
        return " ".join(side[0].upper() for side in self.order)

    def values(self, get) -> list:
        """A ROWS getter's four figures of this round (None: missing)."""
        return [get(self.cols.get(k, {})) for k in
                ("linux_file", "linux_raw", "tessera_raw", "tessera_remote")]

    def read_ratios(self) -> list:
        """[(label, remote/Linux file cost)] of the read rows the target
        looks at (not p99), where this round has both figures."""
        out = []
        for label, _, get, hb, is_read in ROWS:
            vals = self.values(get)
            r = cost_ratio(vals[0], vals[3], hb)
            if is_read and "p99" not in label and r is not None:
                out.append((label, r))
        return out


def run_linux_side(rnd: Round, img: str, fs_mib: int, blkbench: str, opts) -> bool:
    """The Linux guest's part of a round; False (noted) if it did not run."""
    try:
        if not os.access(blkbench, os.X_OK):
            raise linux_guest.GuestError(f"{blkbench} missing (make bench-storage "
                                         f"builds it with musl-gcc)")
        rnd.cols["linux_file"], rnd.cols["linux_raw"] = run_linux(
            copy_image(img, rnd.rdir, "linux.img"), fs_mib, blkbench, opts.file_mib, opts,
            rnd.rdir)
    except linux_guest.GuestError as e:
        # The guest has stopped in its depth-8 random writes (twice, once
        # in the file part, once in the raw one); the figures it printed
        # before that still count (the reads come first).
        file_part, raw_part = linux_parts(e.lines)
        got = [k for k in file_part if k not in ("info", "done", "error")]
        if not got:
            rnd.notes.append(f"Linux side did not run: {e}")
            return False
        rnd.cols["linux_file"], rnd.cols["linux_raw"] = file_part, raw_part
        rnd.notes.append(f"Linux side stopped early ({e}); its figures so far count: "
                         f"file {' '.join(got)}")
    for side in ("linux_file", "linux_raw"):
        for e in rnd.cols[side].get("error", []):
            rnd.notes.append(f"Linux {side[6:]}: {e}")
    return True


def run_tessera_side(rnd: Round, img: str, fs_mib: int, opts) -> bool:
    """The Tessera cluster's part of a round, then e2fsck of its image;
    False (noted) if it did not run."""
    try:
        timg = copy_image(img, rnd.rdir, TESSERA_IMAGE)
        rnd.cols["tessera_raw"], rnd.cols["tessera_remote"] = run_tessera(opts, rnd.rdir)
    except (BenchError, stc.ClusterError) as e:
        rnd.notes.append(f"Tessera side did not run: {e}")
        return False
    off = rnd.cols["tessera_raw"].get("info", {}).get("offset")
    if off is not None and off != fs_mib << 20:
        rnd.notes.append(f"Tessera raw used offset {off}, not {fs_mib << 20} as Linux")
    rnd.notes.append(fsck(timg))
    for side in ("tessera_raw", "tessera_remote"):
        for e in rnd.cols[side].get("error", []):
            rnd.notes.append(f"Tessera {side[8:]}: {e}")
    return True


def run_round(number: int, img: str, fs_mib: int, blkbench: str, opts, run_dir: str):
    """Round number (1, 2, ...): Linux then Tessera in odd rounds, Tessera
    then Linux in even ones (sides skipped by --skip-* left out). Returns
    (the Round, how many sides ran). The round's images are deleted
    afterwards unless --keep."""
    order = ("linux", "tessera") if number % 2 else ("tessera", "linux")
    order = tuple(side for side in order if not getattr(opts, f"skip_{side}"))
    rnd = Round(number, order, os.path.join(run_dir, f"round{number}"))
    os.makedirs(rnd.rdir)
    ran = 0
    try:
        for side in order:
            before, t0 = host_sample(), time.monotonic()
            if side == "linux":
                ran += run_linux_side(rnd, img, fs_mib, blkbench, opts)
            else:
                ran += run_tessera_side(rnd, img, fs_mib, opts)
            rnd.secs[side] = time.monotonic() - t0
            rnd.host[side] = (before, host_sample())
    finally:
        if not opts.keep:
            remove_images(rnd.rdir)
    return rnd, ran


def remove_images(rdir: str) -> None:
    for name in ("disk.img", "linux.img", TESSERA_IMAGE):
        try:
            os.unlink(os.path.join(rdir, name))
        except OSError:
            pass


def diagnostics(tr: dict, tm: dict) -> list:
    """The remote diagnostics of one round's Tessera side (raw: tr, remote:
    tm) as lines: the PING, RPC_BULK, FS_STAT and cached 4 KiB read round
    trips to the storage node (with both sides' doorbells and interrupts
    per call), and where
    a 1 MiB FS_READ / FS_WRITE's time went."""
    out = []
    for name, label in (("ping", "PING round trip (8 bytes)"),
                        ("bulk", "RPC_BULK round trip (4 KiB)"),
                        ("stat", "FS_STAT round trip (no data)"),
                        ("read_4k_hot", "4 KiB read of a cached block")):
        b, cp, cs = tm.get(f"lat_{name}"), tm.get(f"calls_{name}", {}), tr.get(f"srv_{name}", {})
        if not b:
            continue
        counts = "  per call: " + ", ".join(
            f"{side} {cnt.get('doorbells_x100', 0) / 100:.2f} doorbells "
            f"{cnt.get('interrupts_x100', 0) / 100:.2f} interrupts"
            for side, cnt in (("p1", cp), ("s2", cs)) if cnt) if cp or cs else ""
        out.append(f"remote diagnostics: {label:30} p50 {b['median_ns'] / 1000:8.1f} us   "
                   f"p99 {b['p99_ns'] / 1000:8.1f} us{counts}")
    fsv = tr.get("fileserv", {})
    for kind in ("read", "write"):
        n, seq = fsv.get(f"big_{kind}s"), tm.get(f"seq_{kind}")
        if not n or not seq or not seq.get("bytes"):
            continue
        call_us = seq["elapsed_ns"] / (seq["bytes"] / (1 << 20)) / 1000
        fs_us, rdma_us = fsv[f"{kind}_fs_ns"] / n / 1000, fsv[f"{kind}_rdma_ns"] / n / 1000
        out.append(f"remote diagnostics: 1 MiB FS_{kind.upper():5} {call_us:6.0f} us per call = "
                   f"storage node's ext2 + disk {fs_us:5.0f} + RDMA {rdma_us:4.0f} + the rest "
                   f"(RPC, fabric, client{'; the closing fsync' if kind == 'write' else ''}) "
                   f"{call_us - fs_us - rdma_us:5.0f}")
    polls = tm.get("rpc_polls", {})
    if polls.get("hits", 0) + polls.get("misses", 0):
        hits, misses = polls.get("hits", 0), polls.get("misses", 0)
        out.append(f"remote diagnostics: of the processor's RPC calls that polled (each its "
                   f"node's only call out), {hits} got their reply while polling, {misses} "
                   f"slept ({100 * hits / (hits + misses):.0f}% caught)")
    if fsv.get("unlocked_reads"):
        out.append(f"remote diagnostics: 4 KiB reads that waited for the disk unlocked "
                   f"{fsv['unlocked_reads']}, at most {fsv.get('most_unlocked', 0)} at once, "
                   f"{fsv.get('reads_again', 0)} read again (a block freed meanwhile)")
    return out


def print_table(rounds: list, opts, run_dir: str, fs_mib: int) -> None:
    """The figures' medians over the rounds, each ratio the median of the
    rounds' own ratios, the read ratios round by round, then each round's
    host load, diagnostics and notes, and the target judged on the
    medians."""
    print(f"bench-storage: accel {stc.qemu.accel()}, storage node and Linux guest "
          f"{opts.smp} vCPU / {opts.mem}, processor {opts.proc_smp} vCPU / {opts.proc_mem}, "
          f"{os.cpu_count()} host CPUs; /bench/big {opts.file_mib} MiB in a {fs_mib} MiB ext2 "
          f"(4 KiB blocks) + {SCRATCH_MIB} MiB raw scratch; logs in {run_dir}")
    print("  Linux: Debian kernel, ext4 driver + O_DIRECT on the file, and /dev/vda's scratch "
          "area; Tessera raw: storage kernel's virtio-blk on the scratch area; Tessera "
          "remote: processor -> fabric -> file service -> ext2 on the file")
    print(f"  {len(rounds)} round(s), each both sides in turn on fresh copies of the image "
          f"(L: Linux, T: Tessera; {', '.join(r.tag() for r in rounds)}); figures: each "
          "column's MEDIAN over the rounds; ratios: the MEDIAN of the rounds' own ratios")
    print(f"  {'metric':26} {'unit':6} {'Linux file':>10} {'Linux raw':>10} "
          f"{'Tess. raw':>10} {'Tess. rem.':>10}  {'remote/Linux file':>17}  "
          f"{'Tess./Linux raw':>15}")
    medians = {}
    for label, unit, get, hb, is_read in ROWS:
        per_round = [r.values(get) for r in rounds]
        vals = [median_of([v[i] for v in per_round]) for i in range(4)]
        r_remote = median_of([cost_ratio(v[0], v[3], hb) for v in per_round])
        r_raw = median_of([cost_ratio(v[1], v[2], hb) for v in per_round])
        medians[label] = r_remote
        print(f"  {label:26} {unit:6} " + " ".join(fmt(v) for v in vals) +
              f"  {fmt_ratio(r_remote, 17)}  {fmt_ratio(r_raw, 15)}")
    print("  (ratios are costs: >1 means the Tessera figure is that many times worse)")
    print_rounds(rounds)
    reads = [(label, medians[label]) for label, _, _, _, is_read in ROWS
             if is_read and "p99" not in label and medians[label] is not None]
    if not reads:
        print("  target: reads within 1.5x of Linux local: no pair of figures to compare")
        return
    worst = max(r for _, r in reads)
    alone = [max(r for _, r in rr) for rr in (r.read_ratios() for r in rounds) if rr]
    print(f"  target: reads within 1.5x of Linux local (seq, random, p50 latency), each the "
          f"median of the rounds' ratios: worst {worst:.2f}x "
          f"({', '.join(f'{n} {r:.2f}x' for n, r in reads)}) -> "
          f"{'met' if worst <= 1.5 else 'not met'}; rounds on their own: met in "
          f"{sum(w <= 1.5 for w in alone)} of {len(alone)}")


def print_rounds(rounds: list) -> None:
    """The read rows' ratios round by round (with each round's worst),
    then per round: how long each side took and what the host did
    meanwhile, the remote diagnostics and the notes."""
    print("  remote/Linux file per round  " + "".join(f"{'r%d %s' % (r.number, r.tag()):>10}"
                                                       for r in rounds))
    for label, _, get, hb, is_read in ROWS:
        if is_read:
            print(f"    {label:26}" + "".join(
                fmt_ratio(cost_ratio(v[0], v[3], hb), 10) for v in
                (r.values(get) for r in rounds)))
    print(f"    {'worst read (not p99)':26}" + "".join(
        fmt_ratio(max((x for _, x in rr), default=None), 10)
        for rr in (r.read_ratios() for r in rounds)))
    for r in rounds:
        took = ", then ".join(f"{'Linux' if side == 'linux' else 'Tessera'} "
                              f"{r.secs[side]:.0f} s" for side in r.order if side in r.secs)
        print(f"  round {r.number} ({took or 'nothing ran'}; {r.rdir}):")
        for side in r.order:
            if side in r.host:
                print("  " + host_line(f"the {'Linux' if side == 'linux' else 'Tessera'} side",
                                       *r.host[side]))
        for line in diagnostics(r.cols.get("tessera_raw", {}),
                                r.cols.get("tessera_remote", {})):
            print(f"    {line}")
        for n in r.notes:
            print(f"    note: {n}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=ktest.default_build_dir())
    ap.add_argument("--blkbench", help="static blkbench (default BUILD/bench/blkbench)")
    ap.add_argument("--file-mib", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of both sides in turn (default 3; 1: one of each)")
    ap.add_argument("--rand-ms", type=int, default=3000,
                    help="time bound of each random phase on the Linux side (the Tessera "
                    "side has it built in: 3000)")
    ap.add_argument("--smp", type=int, default=int(os.environ.get("STORAGE_SMP", "1")),
                    help="vCPUs of the storage node and of the Linux guest (default 1, as "
                    "configs/default.yaml's storage node, or $STORAGE_SMP)")
    ap.add_argument("--mem", default="128M",
                    help="RAM of the storage node and of the Linux guest (default 128M, as "
                    "configs/default.yaml's)")
    ap.add_argument("--proc-smp", type=int, default=1,
                    help="vCPUs of the processor (default 1: on a 2-core host, fewer busy "
                    "host threads; docs/fabric.md)")
    ap.add_argument("--proc-mem", default="256M")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per side")
    ap.add_argument("--skip-linux", action="store_true")
    ap.add_argument("--skip-tessera", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the disk images")
    stc.add_fabricd_options(ap)
    opts = ap.parse_args(argv)
    if opts.rounds < 1:
        ap.error("--rounds must be at least 1")
    blkbench = opts.blkbench or os.path.join(opts.build_dir, "bench", "blkbench")
    run_dir = os.path.abspath(os.path.join(opts.build_dir, "results", "bench-storage"))
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    ktest.install_signal_handlers()
    rounds, ran = [], 0
    try:
        img, fs_mib = make_image(run_dir, opts.file_mib)
        for number in range(1, opts.rounds + 1):
            rnd, n = run_round(number, img, fs_mib, blkbench, opts, run_dir)
            rounds.append(rnd)
            ran += n
    except (BenchError, OSError, subprocess.SubprocessError) as e:
        print(f"bench-storage: could not run: {e}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, ktest.Interrupted):
        print("bench-storage: interrupted; everything stopped", file=sys.stderr)
        return 130
    finally:
        if not opts.keep:
            remove_images(run_dir)
    print_table(rounds, opts, run_dir, fs_mib)
    if not ran:
        print("bench-storage: no side ran in any round (see the notes above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
