#!/usr/bin/env python3
"""Writes seed inputs for tests/fuzz/fuzz_ext2.c (run by mk/unittest.mk
before fuzzing): small ext2 images made by mke2fs -d from little source
trees (files small and with indirect blocks, a sparse file, fast and slow
symlinks, a hard link, nested directories), at block sizes 1, 2 and
4 KiB, revision 0, without filetype, with several groups, and with an
htree directory (e2fsck -D), each encoded the way the fuzzer reads its
input:

  byte 0    flags: bits 0-1 image size 64 KiB << n; bit 2 mount read-only
  then      records: c < 0x80: c + 1 literal bytes follow;
            c >= 0x80: a run of ((c & 0x7f) << 8 | next) + 1 copies of
            the byte after that
  (a short input leaves the rest of the image zero)

The encoding keeps the seeds under the fuzzers' -max_len of 4096 bytes.
Without mke2fs (e2fsprogs) the script writes nothing and says so; the
fuzzer then starts from its empty corpus.

usage: mkseeds_ext2.py OUTDIR      (writes OUTDIR/ext2/seed-*)
"""
import os
import shutil
import subprocess
import sys
import tempfile

MAX_LEN = 4096
TOOLS_PATH = "/usr/sbin:/sbin:" + os.environ.get("PATH", "/usr/bin:/bin")


def encode(image, flags):
    """RLE of image as fuzz_ext2.c decodes it."""
    out = bytearray([flags])
    image = image.rstrip(b"\0")  # the decoder leaves the rest zero
    i, n = 0, len(image)
    lit = bytearray()

    def flush_lit():
        for k in range(0, len(lit), 128):
            part = lit[k:k + 128]
            out.append(len(part) - 1)
            out.extend(part)
        lit.clear()

    while i < n:
        j = i
        while j < n and image[j] == image[i] and j - i < 32768:
            j += 1
        if j - i >= 4:
            flush_lit()
            count = j - i - 1
            out.extend([0x80 | (count >> 8), count & 0xFF, image[i]])
            i = j
        else:
            lit.append(image[i])
            i += 1
    flush_lit()
    return bytes(out)


def populate(root, kind):
    os.makedirs(os.path.join(root, "dir", "sub"))
    with open(os.path.join(root, "hello"), "w") as f:
        f.write("hello, fuzzer\n")
    with open(os.path.join(root, "dir", "sub", "deep"), "w") as f:
        f.write("deep\n")
    os.symlink("hello", os.path.join(root, "fast"))
    os.symlink("dir/" + "s" * 70, os.path.join(root, "slow"))
    os.link(os.path.join(root, "hello"), os.path.join(root, "dir", "hard"))
    if kind != "tiny":
        with open(os.path.join(root, "indirect"), "wb") as f:
            for blk in range(14):  # past the 12 direct blocks of 1 KiB
                f.write(b"block %02d " % blk + b"." * 1015)
        with open(os.path.join(root, "sparse"), "wb") as f:
            f.truncate(300 * 1024)
            f.seek(290 * 1024)
            f.write(b"end")
    if kind == "htree":
        for i in range(60):
            open(os.path.join(root, "dir", "entry-%02d" % i), "w").close()


def mkfs(tmp, opts, size_kib, kind):
    src = os.path.join(tmp, "src")
    img = os.path.join(tmp, "img")
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(src)
    populate(src, kind)
    env = dict(os.environ, PATH=TOOLS_PATH)
    subprocess.run(["mke2fs", "-q", "-t", "ext2", "-F"] + opts +
                   ["-d", src, img, "%dK" % size_kib], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if kind == "htree":
        subprocess.run(["e2fsck", "-fyD", img], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(img, "rb") as f:
        return f.read()


# (mke2fs options, KiB, tree kind, size code for the flags byte)
IMAGES = [
    (["-b", "1024", "-N", "32"], 128, "full", 1),
    (["-b", "1024", "-N", "24", "-I", "128", "-O", "^resize_inode"], 64,
     "tiny", 0),
    (["-b", "2048", "-N", "32"], 256, "tiny", 2),
    (["-b", "4096", "-N", "32"], 256, "tiny", 2),
    (["-b", "1024", "-N", "32", "-r", "0"], 128, "full", 1),
    (["-b", "1024", "-N", "32", "-O", "^filetype"], 128, "full", 1),
    (["-b", "1024", "-N", "48", "-g", "256", "-O", "^resize_inode"], 256,
     "tiny", 2),
    (["-b", "1024", "-N", "96", "-I", "128"], 128, "htree", 1),
]


def main():
    out = os.path.join(sys.argv[1], "ext2")
    os.makedirs(out, exist_ok=True)
    if not shutil.which("mke2fs", path=TOOLS_PATH):
        print("mkseeds_ext2: no mke2fs; no ext2 seeds")
        return 0
    tmp = tempfile.mkdtemp(prefix="tessera-seeds-")
    try:
        n = 0
        for opts, kib, kind, code in IMAGES:
            try:
                image = mkfs(tmp, opts, kib, kind)
            except subprocess.CalledProcessError:
                print("mkseeds_ext2: mke2fs %s failed; seed skipped" % opts)
                continue
            for flags in (code, code | 4):
                data = encode(image, flags)
                if len(data) > MAX_LEN:
                    print("mkseeds_ext2: %s gives %d bytes (> %d); skipped" %
                          (" ".join(opts), len(data), MAX_LEN))
                    break
                with open(os.path.join(out, "seed-%d" % n), "wb") as f:
                    f.write(data)
                n += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
