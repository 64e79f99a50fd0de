#!/usr/bin/env python3
"""The storage component end to end (docs/storage.md): the storage-test layer.

    storage_test.py [--build-dir build] [--out build/results/storage.tap] [--keep]

Boots tests/cluster/storage.yaml with the `tessera` CLI in a temporary
directory: two processors in two vNodes sharing one storage node, vn1 with
root "/" and vn2 with root "/vn2", whose disk `tessera up` makes from a
tree this script writes (/secret, mode 0600, and /vn2/readme.txt). Then,
through `tessera run` and the processors' file builtins:

  - a directory tree, files of sizes around the block, page and request
    boundaries up to 32 MiB written with `write` and read back with `sum`:
    both print CRC-32 (zlib's), and this script computes the expected one
    itself from the pattern's definition (pcomponent/fs_builtins.c);
  - rename, unlink, links, truncate, df, errors worded like coreutils;
  - both processors writing different files at the same time;
  - vn2: its "/" is /vn2, and /../secret is refused;
  - permissions: `as UID ...` cannot write in root's directories or read
    the 0600 secret.

Then `tessera down`, and on the host `e2fsck -fn` of the disk image (must
exit 0) and debugfs to check what is on it: sizes and CRC-32 of the big
files, renamed and removed names, vn2's files under /vn2.

Result: KTAP in --out, one line per check, and a "N passed, N failed"
line. Every process the test starts is gone when it ends (tessera down in
a finally block, then a scan of /proc for processes whose cwd is in the
temporary directory, SIGKILLed and reported).
"""
import os
import re
import shutil
import subprocess
import sys
import zlib

from clusterlib import Cluster, detail, run_layer

HERE = os.path.dirname(os.path.abspath(__file__))


MANIFEST = os.path.join(HERE, "storage.yaml")
UP_TIMEOUT = 180
RUN_TIMEOUT = 120
BIG = 32 << 20
SECRET = b"top secret: vn2 must never see this\n"
README = b"vn2's own files live here\n"

# ---------------------------------------------------------------- the pattern

_PERIOD = bytes(i % 251 for i in range(251)) * (4096 // 251 + 2)
_TABLES = {}


def _table(base):
    t = _TABLES.get(base)
    if t is None:
        t = _TABLES[base] = bytes((x + base) & 0xFF for x in range(256))
    return t


def pattern_blocks(size, seed):
    """The bytes `write PATH SIZE SEED` puts in a file, 4 KiB at a time:
    byte i = ((i mod 251) + 13 * (i div 4096) + 7 * SEED) mod 256."""
    for blk in range((size + 4095) // 4096):
        start = (blk * 4096) % 251
        n = min(4096, size - blk * 4096)
        yield _PERIOD[start:start + n].translate(_table((13 * blk + 7 * seed) & 0xFF))


def pattern_crc(size, seed):
    crc = 0
    for b in pattern_blocks(size, seed):
        crc = zlib.crc32(b, crc)
    return crc


# ---------------------------------------------------------------- helpers

def crc_of(out, word):
    """(size, crc) from `write`'s or `sum`'s line, or (None, None)."""
    m = re.search(r"(?:wrote (\d+) bytes|size=(\d+)) crc32=([0-9a-f]{8}) " + re.escape(word),
                  out)
    if not m:
        return None, None
    return int(m.group(1) or m.group(2)), int(m.group(3), 16)


def rate_of(out):
    m = re.search(r"\(([\d.]+) MiB/s\)", out)
    return m.group(1) if m else "?"


def debugfs(img, request):
    p = subprocess.run(["debugfs", "-R", request, img], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def tool(name):
    for d in ("", "/usr/sbin/", "/sbin/"):
        path = shutil.which(name) if not d else d + name
        if path and os.access(path, os.X_OK):
            return path
    return None


# ---------------------------------------------------------------- the tests

def make_tree(tmp):
    tree = os.path.join(tmp, "tree")
    os.makedirs(os.path.join(tree, "vn2"))
    with open(os.path.join(tree, "secret"), "wb") as f:
        f.write(SECRET)
    os.chmod(os.path.join(tree, "secret"), 0o600)
    with open(os.path.join(tree, "vn2", "readme.txt"), "wb") as f:
        f.write(README)
    os.chmod(os.path.join(tree, "vn2", "readme.txt"), 0o644)
    for d in (tree, os.path.join(tree, "vn2")):
        os.chmod(d, 0o755)
    shutil.copy(MANIFEST, os.path.join(tmp, "storage.yaml"))
    return os.path.join(tmp, "storage.yaml")


def test_up(t, cli, run_dir, manifest):
    p = cli("up", manifest, "--run-dir", run_dir, "--timeout", "150", timeout=UP_TIMEOUT)
    if not t.check(p.returncode == 0, "up tests/cluster/storage.yaml: exit 0", detail(p)):
        return False
    p = cli("logs", "s1", "--run-dir", run_dir)
    t.check(re.search(r"storage: vda \d+ MiB ext2 \(1 KiB blocks\), exports .*p1:/ .*"
                      r"p2:/vn2", p.stdout),
            "s1 logs its disk and exports: 'storage: vda 128 MiB ext2 (1 KiB blocks), "
            "exports p1:/ ... p2:/vn2'", p.stdout[-800:])
    return True


def test_tree(t, c):
    p = c.run("vn1", "ls", "/")
    names = p.stdout.split()
    t.check(p.returncode == 0 and "secret" in names and "vn2" in names,
            "vn1: ls / shows the disk's tree (secret, vn2)", detail(p))
    p = c.run("vn1", "cat", "/secret")
    t.check(p.returncode == 0 and p.stdout == SECRET.decode(), "vn1: cat /secret as root",
            detail(p))
    for d in ("/data", "/data/sub", "/data/sub/deeper"):
        p = c.run("vn1", "mkdir", d)
        t.check(p.returncode == 0, f"mkdir {d}", detail(p))
    p = c.run("vn1", "mkdir", "/data")
    t.check(p.returncode == 1 and
            p.stderr == "mkdir: cannot create directory '/data': File exists\n",
            "mkdir of an existing directory: exit 1, coreutils' message", detail(p))
    p = c.run("vn1", "ls", "-l", "/data")
    t.check(p.returncode == 0 and re.search(r"^drwxr-xr-x\s+\d+\s+0\s+0\s+\d+ sub$", p.stdout,
                                            re.M),
            "ls -l /data: 'drwxr-xr-x ... 0 0 ... sub'", detail(p))
    p = c.run("vn1", "cat", "/nonexistent")
    t.check(p.returncode == 1 and p.stderr == "cat: /nonexistent: No such file or directory\n",
            "cat of a missing file: exit 1, 'cat: /nonexistent: No such file or directory'",
            detail(p))
    p = c.run("vn1", "ls", "relative")
    t.check(p.returncode == 1 and
            p.stderr == "ls: cannot access 'relative': Invalid argument\n",
            "a relative path is refused: 'ls: cannot access 'relative': Invalid argument'",
            detail(p))


def write_and_sum(t, c, vnode, path, size, seed, label=None):
    """write, then sum; both CRCs must be this script's. Returns the crc."""
    want = pattern_crc(size, seed)
    label = label or f"{path} ({size} bytes)"
    p = c.run(vnode, "write", path, str(size), str(seed))
    got_size, got = crc_of(p.stdout, path)
    t.check(p.returncode == 0 and got_size == size and got == want,
            f"{vnode}: write {label}: CRC-32 {want:08x} as computed here", detail(p))
    wrate = rate_of(p.stdout)
    p = c.run(vnode, "sum", path)
    got_size, got = crc_of(p.stdout, path)
    t.check(p.returncode == 0 and got_size == size and got == want,
            f"{vnode}: sum {label}: size and CRC-32 read back", detail(p))
    if size >= 1 << 20:
        print(f"# {label}: write {wrate} MiB/s, sum {rate_of(p.stdout)} MiB/s", flush=True)
    return want


def test_files(t, c, expect):
    sizes = [0, 1, 1023, 1025, 4097, (1 << 20) - 1, (1 << 20) + 1, 3 * (1 << 20) + 12345]
    for i, size in enumerate(sizes):
        path = f"/data/f{i}.bin"
        expect[path] = (size, write_and_sum(t, c, "vn1", path, size, i))
    expect["/data/big.bin"] = (BIG, write_and_sum(t, c, "vn1", "/data/big.bin", BIG, 3,
                                                  "/data/big.bin (32 MiB)"))
    # overwrite in place with another seed: the new contents, same size
    expect["/data/f6.bin"] = (sizes[6], write_and_sum(t, c, "vn1", "/data/f6.bin", sizes[6],
                                                      200, "/data/f6.bin again, seed 200"))


def test_names(t, c, expect):
    p = c.run("vn1", "mv", "/data/f4.bin", "/data/sub/deeper/renamed.bin")
    t.check(p.returncode == 0, "mv /data/f4.bin /data/sub/deeper/renamed.bin", detail(p))
    expect["/data/sub/deeper/renamed.bin"] = expect.pop("/data/f4.bin")
    p = c.run("vn1", "sum", "/data/sub/deeper/renamed.bin")
    size, crc = crc_of(p.stdout, "/data/sub/deeper/renamed.bin")
    t.check(p.returncode == 0 and (size, crc) == expect["/data/sub/deeper/renamed.bin"],
            "the renamed file has the same contents", detail(p))
    p = c.run("vn1", "stat", "/data/f4.bin")
    t.check(p.returncode == 1 and
            "cannot stat '/data/f4.bin': No such file or directory" in p.stderr,
            "the old name is gone", detail(p))
    p = c.run("vn1", "rm", "/data/f2.bin", "/data/f3.bin")
    t.check(p.returncode == 0, "rm /data/f2.bin /data/f3.bin", detail(p))
    expect.pop("/data/f2.bin")
    expect.pop("/data/f3.bin")
    p = c.run("vn1", "ls", "/data")
    t.check(p.returncode == 0 and "f2.bin" not in p.stdout.split() and
            "f1.bin" in p.stdout.split(), "ls /data: removed names gone, others there",
            detail(p))
    p = c.run("vn1", "rm", "/data/f2.bin")
    t.check(p.returncode == 1 and
            p.stderr == "rm: cannot remove '/data/f2.bin': No such file or directory\n",
            "rm of a removed file: exit 1", detail(p))
    p = c.run("vn1", "rmdir", "/data/sub")
    t.check(p.returncode == 1 and "Directory not empty" in p.stderr,
            "rmdir of a non-empty directory: 'Directory not empty'", detail(p))
    p = c.run("vn1", "ln", "-s", "f1.bin", "/data/link")
    t.check(p.returncode == 0, "ln -s f1.bin /data/link", detail(p))
    p = c.run("vn1", "readlink", "/data/link")
    t.check(p.returncode == 0 and p.stdout == "f1.bin\n", "readlink /data/link", detail(p))
    p = c.run("vn1", "sum", "/data/link")
    size, crc = crc_of(p.stdout, "/data/link")
    t.check(p.returncode == 0 and (size, crc) == expect["/data/f1.bin"],
            "a read through the symlink reads its target", detail(p))
    p = c.run("vn1", "ln", "/data/f5.bin", "/data/hard")
    t.check(p.returncode == 0, "ln /data/f5.bin /data/hard", detail(p))
    p = c.run("vn1", "stat", "/data/hard")
    t.check(p.returncode == 0 and re.search(r"Links: 2\b", p.stdout), "stat: Links: 2",
            detail(p))
    p = c.run("vn1", "truncate", "/data/f7.bin", "5000")
    t.check(p.returncode == 0, "truncate /data/f7.bin 5000", detail(p))
    want = zlib.crc32(b"".join(pattern_blocks(5000, 7)))
    expect["/data/f7.bin"] = (5000, want)
    p = c.run("vn1", "sum", "/data/f7.bin")
    t.check(crc_of(p.stdout, "/data/f7.bin") == (5000, want),
            "the truncated file keeps its first 5000 bytes", detail(p))
    p = c.run("vn1", "df")
    t.check(p.returncode == 0 and re.search(r"^storage\s+\d+\s+\d+\s+\d+", p.stdout, re.M),
            "df: a line for the file system", detail(p))


def test_concurrent(t, c, expect):
    size = 8 << 20
    a = c.popen("vn1", "write", "/data/c1.bin", str(size), "11")
    b = c.popen("vn2", "write", "/c2.bin", str(size), "12")
    outs = []
    for proc in (a, b):
        try:
            out, err = proc.communicate(timeout=RUN_TIMEOUT + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        outs.append((proc.returncode, out, err))
    want1, want2 = pattern_crc(size, 11), pattern_crc(size, 12)
    t.check(outs[0][0] == 0 and crc_of(outs[0][1], "/data/c1.bin") == (size, want1),
            "p1 and p2 write at once: p1's 8 MiB file", str(outs[0]))
    t.check(outs[1][0] == 0 and crc_of(outs[1][1], "/c2.bin") == (size, want2),
            "p1 and p2 write at once: p2's 8 MiB file", str(outs[1]))
    expect["/data/c1.bin"] = (size, want1)
    expect["/vn2/c2.bin"] = (size, want2)
    p = c.run("vn1", "sum", "/vn2/c2.bin")
    t.check(crc_of(p.stdout, "/vn2/c2.bin") == (size, want2),
            "vn1 reads p2's file at /vn2/c2.bin", detail(p))
    p = c.run("vn2", "sum", "/c2.bin")
    t.check(crc_of(p.stdout, "/c2.bin") == (size, want2), "vn2 reads it back at /c2.bin",
            detail(p))


def test_vn2(t, c):
    p = c.run("vn2", "ls", "/")
    names = p.stdout.split()
    t.check(p.returncode == 0 and "readme.txt" in names and "secret" not in names,
            "vn2: ls / is /vn2 of the disk", detail(p))
    p = c.run("vn2", "cat", "/readme.txt")
    t.check(p.returncode == 0 and p.stdout == README.decode(), "vn2: cat /readme.txt",
            detail(p))
    p = c.run("vn2", "cat", "/../secret")
    t.check(p.returncode == 1 and p.stdout == "" and
            p.stderr == "cat: /../secret: Permission denied\n",
            "vn2: cat /../secret is refused (Permission denied)", detail(p))
    p = c.run("vn2", "cat", "/secret")
    t.check(p.returncode == 1 and "No such file or directory" in p.stderr,
            "vn2: /secret is not there", detail(p))
    p = c.run("vn2", "ln", "-s", "../../secret", "/escape")
    t.check(p.returncode == 0, "vn2: a symlink pointing above its root can be made", detail(p))
    p = c.run("vn2", "cat", "/escape")
    t.check(p.returncode == 1 and p.stdout == "" and "Permission denied" in p.stderr,
            "vn2: ... but not followed out of the root", detail(p))


def test_permissions(t, c, uid):
    p = c.run("vn1", "as", str(uid), "write", "/data/mine.bin", "10")
    t.check(p.returncode == 1 and p.stderr == "write: /data/mine.bin: Permission denied\n",
            f"as {uid}: write in root's 0755 directory: Permission denied", detail(p))
    p = c.run("vn1", "as", f"{uid}:{uid}", "cat", "/secret")
    t.check(p.returncode == 1 and p.stdout == "" and
            p.stderr == "cat: /secret: Permission denied\n",
            f"as {uid}: cat of the 0600 secret: Permission denied", detail(p))
    p = c.run("vn1", "as", str(uid), "sum", "/data/f1.bin")
    t.check(p.returncode == 0 and "crc32=" in p.stdout, f"as {uid}: may read a 0644 file",
            detail(p))
    p = c.run("vn1", "as", str(uid), "rm", "/data/f1.bin")
    t.check(p.returncode == 1 and "Permission denied" in p.stderr,
            f"as {uid}: rm in root's directory: Permission denied", detail(p))
    p = c.run("vn1", "as", "x", "ls")
    t.check(p.returncode == 2, "as with a bad uid: usage, exit 2", detail(p))


def test_disk(t, img, expect, removed):
    e2fsck = tool("e2fsck")
    if not t.check(e2fsck and os.path.exists(img), "e2fsck and the disk image are there",
                   f"{e2fsck} {img}"):
        return
    p = subprocess.run([e2fsck, "-fn", img], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=300)
    t.check(p.returncode == 0, "e2fsck -fn of the disk after down: exit 0 (clean)",
            p.stdout[-1500:])
    for path, (size, crc) in sorted(expect.items()):
        rc, out, err = debugfs(img, f"cat {path}")
        t.check(rc == 0 and len(out) == size and zlib.crc32(out) == crc,
                f"on disk: {path}: {size} bytes, CRC-32 {crc:08x}",
                f"rc {rc}, {len(out)} bytes, crc {zlib.crc32(out):08x}; {err[-300:]}")
    rc, out, err = debugfs(img, "cat /vn2/readme.txt")
    t.check(out == README, "on disk: /vn2/readme.txt untouched", err[-300:])
    rc, out, err = debugfs(img, "ls -l /data")
    listing = out.decode(errors="replace")
    for name in removed:
        t.check(re.search(rf"\s{re.escape(name)}\s*$", listing, re.M) is None,
                f"on disk: /data/{name} is gone", listing[-800:])
    rc, out, err = debugfs(img, "stat /data/link")
    t.check(b"Type: symlink" in out and b"f1.bin" in out,
            "on disk: /data/link is a symlink to f1.bin", out.decode(errors="replace")[-500:])
    rc, out, err = debugfs(img, "stat /vn2/escape")
    t.check(b"Type: symlink" in out, "on disk: vn2's /escape is /vn2/escape", err[-300:])


def run(lay):
    t, cli, run_dir, tmp = lay.t, lay.cli, lay.run_dir, lay.tmp
    expect = {}  # path on the disk -> (size, crc) that must be there
    uid = 1000 if os.getuid() != 1000 else 1001  # not the owner of the tree's files
    if t.check(os.access(lay.binary, os.X_OK), f"{lay.binary} exists"):
        manifest = make_tree(tmp)
        if test_up(t, cli, run_dir, manifest):
            c = Cluster(cli, run_dir, RUN_TIMEOUT)
            test_tree(t, c)
            test_files(t, c, expect)
            test_names(t, c, expect)
            test_concurrent(t, c, expect)
            test_vn2(t, c)
            test_permissions(t, c, uid)
            p = c.run("vn1", "sync")
            t.check(p.returncode == 0, "sync", detail(p))
            p = cli("down", "--run-dir", run_dir, timeout=60)
            t.check(p.returncode == 0, "down: exit 0", detail(p))
            test_disk(t, os.path.join(run_dir, "s1.img"), expect,
                      ["f2.bin", "f3.bin", "f4.bin"])


if __name__ == "__main__":
    sys.exit(run_layer("storage", __doc__.split("\n")[0], run))
