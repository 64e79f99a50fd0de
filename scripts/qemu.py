#!/usr/bin/env python3
"""One place that knows how to start QEMU for a Tessera image.

Used by `make qemu`/`make run`/`make debug`, by the test harness
(scripts/ktest.py) and by the boot benchmark, so they all boot the same way.

Accelerator: TCG unless /dev/kvm opens AND the CPU advertises vmx or svm
(DESIGN.md section 2: the project's machines have a paravirtual KVM on
which our guests misbehave). TESSERA_ACCEL=tcg|kvm overrides.

Run as a program it boots one image on this terminal:
    qemu.py IMAGE [--cmdline "..."] [--smp N] [--mem M] [--bios seabios|qboot] [--gdb]
"""
import argparse
import os
import shutil
import subprocess
import sys

QBOOT = "/usr/share/qemu/qboot.rom"
DEBUG_EXIT_PORT = 0xF4
# The kernel writes these to isa-debug-exit; QEMU exits with (value << 1) | 1.
EXIT_SUCCESS = (0x10 << 1) | 1
EXIT_FAILURE = (0x11 << 1) | 1

# PCI devices added to every test boot, for the PCI/MSI self tests:
# edu (QEMU's teaching device: MSI, raises interrupts on request),
# pci-testdev (memory and I/O BARs), virtio-rng-pci (MSI-X table).
TEST_DEVICES = ["-device", "edu", "-device", "pci-testdev", "-device", "virtio-rng-pci"]

# The storage image's test boots also get two disks (make_test_disks), in
# this order, which the kernel sees as vda and vdb (drivers/virtio_blk.c
# numbers virtio-blk devices in PCI slot order; QEMU gives slots in
# command-line order):
#   vda  scratch.img  16 MiB of zeros, overwritten by the driver's self tests
#   vdb  ext2.img     `mke2fs -q -t ext2 -d tree -F ext2.img 8M` of this tree
#                     (files 0644, directories 0755, every mtime
#                     TEST_TREE_MTIME, owned by whoever runs the tests):
#          /hello.txt         "hello from ext2\n" (16 bytes)
#          /sub/              a directory
#          /sub/pattern.bin   100000 bytes, byte i = i % 251
#          /link              symlink to "hello.txt"
# The images are made afresh for every boot (tests may write to both).
TEST_TREE_MTIME = 1704067200  # 2024-01-01 00:00:00 UTC
TEST_DISK_SCRATCH_BYTES = 16 << 20
TEST_DISK_EXT2_SIZE = "8M"

ROLE_NAMES = {"p": "processor", "m": "memory", "s": "storage", "g": "global"}


def kvm_usable() -> bool:
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return " vmx" in flags or " svm" in flags


def accel() -> str:
    forced = os.environ.get("TESSERA_ACCEL")
    if forced in ("tcg", "kvm"):
        return forced
    return "kvm" if kvm_usable() else "tcg"


def qemu_binary() -> str:
    path = shutil.which("qemu-system-x86_64")
    if not path:
        sys.exit("qemu-system-x86_64 not found: run `make deps` (Debian package qemu-system-x86)")
    return path


def argv(image=None, iso=None, cmdline="", smp=2, mem="256M", bios="qboot",
         gdb=False, serial="mon:stdio", extra=()):
    """The QEMU command line for booting a kernel image (-kernel) or an ISO."""
    a = accel()
    args = [qemu_binary(), "-M", "pc", "-accel", a,
            "-cpu", "max" if a == "tcg" else "host",
            "-smp", str(smp), "-m", mem,
            "-display", "none", "-vga", "none", "-nic", "none", "-no-reboot",
            "-serial", serial,
            "-device", f"isa-debug-exit,iobase={DEBUG_EXIT_PORT:#x},iosize=0x04"]
    if serial != "mon:stdio":  # the monitor shares stdio only interactively
        args += ["-monitor", "none"]
    if bios == "qboot":
        if not os.path.exists(QBOOT):
            sys.exit(f"{QBOOT} missing: run `make deps` (Debian package qemu-system-data)")
        args += ["-bios", QBOOT]
    if iso:
        args += ["-cdrom", iso, "-boot", "d"]
    else:
        args += ["-kernel", image, "-append", cmdline]
    if gdb:
        args += ["-s", "-S"]
    args += list(extra)
    return args


def _mke2fs() -> str:
    for path in (shutil.which("mke2fs"), "/usr/sbin/mke2fs", "/sbin/mke2fs"):
        if path and os.access(path, os.X_OK):
            return path
    sys.exit("mke2fs not found: run `make deps` (Debian package e2fsprogs)")


def make_test_disks(directory: str) -> list:
    """Creates the storage test disks (see above) in directory, replacing
    what an earlier boot left there; returns their paths, vda first.
    Exits with a message if mke2fs is missing or fails."""
    tree = os.path.join(directory, "ext2-tree")
    scratch = os.path.join(directory, "scratch.img")
    ext2 = os.path.join(directory, "ext2.img")
    if os.path.isdir(tree):
        shutil.rmtree(tree)
    os.makedirs(os.path.join(tree, "sub"))
    with open(os.path.join(tree, "hello.txt"), "w") as f:
        f.write("hello from ext2\n")
    with open(os.path.join(tree, "sub", "pattern.bin"), "wb") as f:
        f.write(bytes(i % 251 for i in range(100000)))
    os.symlink("hello.txt", os.path.join(tree, "link"))
    for path in ("hello.txt", "sub/pattern.bin"):
        os.chmod(os.path.join(tree, path), 0o644)
    for path in ("link", "hello.txt", "sub/pattern.bin", "sub", "."):
        os.utime(os.path.join(tree, path), (TEST_TREE_MTIME,) * 2, follow_symlinks=False)
    os.chmod(os.path.join(tree, "sub"), 0o755)
    os.chmod(tree, 0o755)
    with open(scratch, "wb") as f:  # sparse: reads as zeros
        f.truncate(TEST_DISK_SCRATCH_BYTES)
    if os.path.exists(ext2):
        os.unlink(ext2)
    r = subprocess.run([_mke2fs(), "-q", "-t", "ext2", "-d", tree, "-F", ext2,
                        TEST_DISK_EXT2_SIZE], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        sys.exit(f"mke2fs failed for {ext2}: {r.stdout.decode(errors='replace').strip()}")
    return [scratch, ext2]


def disk_args(images) -> list:
    """-drive/-device pairs attaching raw images as virtio-blk disks, in
    order (the kernel's vda, vdb, ...)."""
    args = []
    for i, path in enumerate(images):
        path = path.replace(",", ",,")  # QEMU's option syntax
        args += ["-drive", f"file={path},if=none,id=vd{i},format=raw",
                 "-device", f"virtio-blk-pci,drive=vd{i}"]
    return args


def test_devices(role: str, disk_dir: str) -> list:
    """What a test boot of this role adds to the command line: the PCI test
    devices, and for the storage role the test disks, made in disk_dir."""
    if role != "s":
        return list(TEST_DEVICES)
    return TEST_DEVICES + disk_args(make_test_disks(disk_dir))


def default_cmdline(role: str, node: int = 0, extra: str = "") -> str:
    return f"role={ROLE_NAMES[role]} node={node} {extra}".strip()


def main() -> int:
    ap = argparse.ArgumentParser(description="Boot one Tessera image on this terminal.")
    ap.add_argument("image")
    ap.add_argument("--role", default="p", choices=sorted(ROLE_NAMES))
    ap.add_argument("--cmdline", default="")
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--mem", default="256M")
    ap.add_argument("--bios", default="qboot", choices=["qboot", "seabios"])
    ap.add_argument("--gdb", action="store_true", help="stop at the first instruction, gdb on :1234")
    opts = ap.parse_args()
    # The self tests expect the test devices (see TEST_DEVICES), and on the
    # storage role the test disks, made next to the image.
    wants_tests = any(w.split("=")[0] == "ktest" for w in opts.cmdline.split())
    disk_dir = os.path.join(os.path.dirname(os.path.abspath(opts.image)), "results", "disks",
                            f"qemu-{opts.role}")
    extra = test_devices(opts.role, disk_dir) if wants_tests else []
    cmd = argv(opts.image, cmdline=default_cmdline(opts.role, extra=opts.cmdline),
               smp=opts.smp, mem=opts.mem, bios=opts.bios, gdb=opts.gdb, extra=extra)
    if opts.gdb:
        print(f"waiting for gdb: gdb {opts.image} -ex 'target remote :1234'", file=sys.stderr)
    print("QEMU: Ctrl-A X quits", file=sys.stderr)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    sys.exit(main())
