#!/usr/bin/env python3
"""A stock Linux guest for baselines: Debian's kernel, booted by QEMU
exactly as a Tessera storage node is (scripts/qemu.py: machine, firmware,
accelerator, CPU model and count, RAM; the disk by qemu.disk_args: `-drive
file=IMG,if=none,id=vd0,format=raw -device virtio-blk-pci,drive=vd0`),
with a tiny initramfs that runs one shell script and powers off. Used by the storage benchmark
(scripts/bench_storage.py) to run tests/bench/blkbench on the same disk
image that Tessera's storage node serves.

The initramfs is a newc cpio archive written here (no cpio tool needed):
  /init                 a busybox sh script (the caller's, after a prologue
                        that mounts proc/sys/devtmpfs and loads modules)
  /bin/busybox          Debian's busybox-static, plus applet links
  /dev/console          so the kernel can give init a console
  /lib/modules/*.ko     the modules asked for and everything they need
                        (modules.dep order), decompressed if .xz/.zst;
                        built-in ones (modules.builtin) are skipped
  any extra files       e.g. /blkbench
The serial console is ttyS0 (QEMU -serial stdio); the caller reads stdout.

The kernel is a bench-only dependency, not one of `make deps`' packages:
Debian's linux-image-amd64. Without it, `find_kernel` raises with the
install command.

    linux_guest.py [--smp N] [--mem M] [--disk IMG] [--timeout S] -- SCRIPT
runs SCRIPT (sh text) as the body of /init and prints the serial output.
"""
import argparse
import glob
import lzma
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu  # noqa: E402
import ktest  # noqa: E402  (process groups, signal handling)

KERNEL_PACKAGE = "linux-image-amd64"
BUSYBOX = "/bin/busybox"
DONE_MARK = "linux-guest: end"
# Applets the init prologue and typical scripts use.
APPLETS = ["sh", "mount", "umount", "insmod", "echo", "cat", "ls", "sleep", "poweroff",
           "sync", "mkdir", "dd", "uname", "grep"]


class GuestError(Exception):
    """The guest could not run or did not finish; lines: the serial output
    lines it printed before that (a caller may use the part that ended)."""

    def __init__(self, message: str, lines=None):
        super().__init__(message)
        self.lines = list(lines or [])


def disk_args(image: str) -> list:
    """The QEMU words that attach image as the storage node's disk (vda):
    qemu.disk_args, which tools/tessera/vm.c matches."""
    if hasattr(qemu, "disk_args"):
        return qemu.disk_args([image])
    path = image.replace(",", ",,")  # before qemu.py had it
    return ["-drive", f"file={path},if=none,id=vd0,format=raw",
            "-device", "virtio-blk-pci,drive=vd0"]


# ------------------------------------------------------------- kernel

def find_kernel():
    """(vmlinuz path, modules dir) of the newest installed Debian kernel
    whose modules are present."""
    found = []
    for vmlinuz in glob.glob("/boot/vmlinuz-*"):
        release = vmlinuz[len("/boot/vmlinuz-"):]
        mods = f"/lib/modules/{release}"
        if os.path.isfile(os.path.join(mods, "modules.dep")):
            found.append((os.path.getmtime(vmlinuz), vmlinuz, mods))
    if not found:
        raise GuestError(
            f"no Linux kernel in /boot (with /lib/modules): the Linux baseline needs "
            f"Debian's kernel, a bench-only dependency (not in `make deps`): "
            f"run as root `apt-get install -y --no-install-recommends {KERNEL_PACKAGE}`")
    found.sort()
    _, vmlinuz, mods = found[-1]
    if not os.access(vmlinuz, os.R_OK):
        raise GuestError(f"{vmlinuz} is not readable (Debian makes it root-only): run as root, "
                         f"or `chmod o+r {vmlinuz}`")
    return vmlinuz, mods


def module_order(mods_dir: str, wanted: list) -> list:
    """Paths (relative to mods_dir) of the loadable modules needed for
    wanted (module names), dependencies first; [] entries for built-ins."""
    deps = {}
    with open(os.path.join(mods_dir, "modules.dep")) as f:
        for line in f:
            if ":" in line:
                path, rest = line.split(":", 1)
                deps[path] = rest.split()
    by_name = {}
    for path in deps:
        name = re.sub(r"\.ko(\.(xz|zst|gz))?$", "", os.path.basename(path))
        by_name[name.replace("-", "_")] = path
    builtin = set()
    try:
        with open(os.path.join(mods_dir, "modules.builtin")) as f:
            for line in f:
                name = re.sub(r"\.ko$", "", os.path.basename(line.strip()))
                builtin.add(name.replace("-", "_"))
    except OSError:
        pass
    order = []

    def visit(path):
        if path in order:
            return
        for d in deps.get(path, []):
            visit(d)
        order.append(path)

    for name in wanted:
        key = name.replace("-", "_")
        if key in builtin:
            continue
        if key not in by_name:
            raise GuestError(f"module {name} neither in {mods_dir}/modules.dep nor built in")
        visit(by_name[key])
    return order


def read_module(path: str) -> bytes:
    if path.endswith(".xz"):
        with lzma.open(path) as f:
            return f.read()
    if path.endswith(".zst"):
        if not shutil.which("zstd"):
            raise GuestError(f"{path} is zstd-compressed: install the zstd tool")
        return subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
    if path.endswith(".gz"):
        import gzip
        with gzip.open(path) as f:
            return f.read()
    with open(path, "rb") as f:
        return f.read()


# ------------------------------------------------------------- initramfs

class Cpio:
    """A newc ("070701") cpio archive, as the kernel's initramfs unpacker
    reads it: a 110-byte ASCII header, the name with its NUL, padding to 4,
    the data, padding to 4; closed by TRAILER!!!."""

    def __init__(self):
        self.out = bytearray()
        self.ino = 1
        self.dirs = set()

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev=(0, 0), nlink=1):
        name_b = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1],
                  len(name_b), 0]
        self.ino += 1
        self.out += b"070701" + b"".join(b"%08X" % v for v in fields)
        self.out += name_b
        self.out += b"\0" * (-len(self.out) % 4)
        self.out += data
        self.out += b"\0" * (-len(self.out) % 4)

    def dir(self, name: str):
        parts = name.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d and d not in self.dirs:
                self.dirs.add(d)
                self._entry(d, stat.S_IFDIR | 0o755, nlink=2)

    def file(self, name: str, data: bytes, mode: int = 0o755):
        name = name.strip("/")
        if "/" in name:
            self.dir(name.rsplit("/", 1)[0])
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str):
        name = name.strip("/")
        if "/" in name:
            self.dir(name.rsplit("/", 1)[0])
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name: str, major: int, minor: int, mode: int = 0o600):
        name = name.strip("/")
        if "/" in name:
            self.dir(name.rsplit("/", 1)[0])
        self._entry(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        self.out += b"\0" * (-len(self.out) % 512)
        return bytes(self.out)


INIT_PROLOGUE = """#!/bin/busybox sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "linux-guest: $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPUs"
for m in {modules}; do
    insmod /lib/modules/$m.ko || echo "linux-guest: insmod $m failed"
done
"""

INIT_EPILOGUE = """
sync
echo "{done}"
poweroff -f
"""


def build_initramfs(script: str, modules: list, extra_files: dict, mods_dir: str) -> bytes:
    """The archive: busybox, /dev/console, the modules (names, with their
    dependencies), extra_files {guest path: host path} and /init running
    script between the prologue and the epilogue."""
    if not os.path.isfile(BUSYBOX):
        raise GuestError(f"{BUSYBOX} missing: run `make deps` or apt-get install busybox-static")
    c = Cpio()
    for d in ("bin", "dev", "proc", "sys", "mnt", "tmp", "lib/modules"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)
    with open(BUSYBOX, "rb") as f:
        c.file("bin/busybox", f.read())
    for a in APPLETS:
        c.symlink(f"bin/{a}", "busybox")
    names = []
    for rel in module_order(mods_dir, modules):
        name = re.sub(r"\.ko(\.(xz|zst|gz))?$", "", os.path.basename(rel))
        c.file(f"lib/modules/{name}.ko", read_module(os.path.join(mods_dir, rel)), 0o644)
        names.append(name)
    for guest, host in extra_files.items():
        with open(host, "rb") as f:
            c.file(guest, f.read())
    init = (INIT_PROLOGUE.format(modules=" ".join(names)) + script +
            INIT_EPILOGUE.format(done=DONE_MARK))
    c.file("init", init.encode())
    return c.finish()


# ------------------------------------------------------------- booting

def run(script: str, *, modules=("virtio_pci", "virtio_blk"), extra_files=None,
        disk=None, smp=2, mem="256M", timeout=600.0, idle_timeout=None, log_path=None,
        echo=False) -> list:
    """Boots the Linux guest, runs script (sh) in its /init, and returns the
    serial output lines once the guest printed DONE_MARK (or raises
    GuestError on timeout, after idle_timeout seconds without output if
    given, or on an early exit). QEMU runs in its own process group and is
    killed on every way out."""
    vmlinuz, mods_dir = find_kernel()
    image = build_initramfs(script, list(modules), extra_files or {}, mods_dir)
    with tempfile.TemporaryDirectory(prefix="linux-guest-") as tmp:
        initrd = os.path.join(tmp, "initramfs.cpio")
        with open(initrd, "wb") as f:
            f.write(image)
        extra = ["-initrd", initrd] + (disk_args(disk) if disk else [])
        cmdline = "console=ttyS0 panic=-1 loglevel=4 quiet"
        cmd = qemu.argv(vmlinuz, cmdline=cmdline, smp=smp, mem=mem, serial="stdio",
                        extra=extra)
        return _boot(cmd, timeout, idle_timeout, log_path, echo)


def _boot(cmd: list, timeout: float, idle_timeout, log_path, echo: bool) -> list:
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=ktest._die_with_parent)
    lines, partial = [], b""
    log = open(log_path, "wb") if log_path else None
    deadline = time.monotonic() + timeout
    last_output = time.monotonic()
    see = f" (see {log_path})" if log_path else ""
    try:
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)
        while True:
            now = time.monotonic()
            if now > deadline:
                raise GuestError(f"Linux guest did not finish in {timeout:.0f} s{see}", lines)
            if idle_timeout and now - last_output > idle_timeout:
                raise GuestError(f"Linux guest printed nothing for {idle_timeout:.0f} s "
                                 f"(stuck?){see}", lines)
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                if proc.poll() is not None:
                    data = b""
                else:
                    time.sleep(0.05)
                    continue
            if not data:
                break
            last_output = time.monotonic()
            if log:
                log.write(data)
                log.flush()
            partial += data
            *done, partial = partial.split(b"\n")
            for raw in done:
                line = ktest.clean_lines(raw.decode("utf-8", "replace") + "\n")
                lines.extend(line)
                if echo:
                    for li in line:
                        print(li, flush=True)
            if any(DONE_MARK in li for li in lines):
                return lines
        raise GuestError(f"Linux guest ended (status {proc.wait()}) without '{DONE_MARK}'"
                         + (f"; see {log_path}" if log_path else ""), lines)
    finally:
        ktest.kill_group(proc)
        try:
            proc.stdout.close()
        except OSError:
            pass
        if log:
            log.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Boot Debian's kernel with a busybox initramfs "
                                 "in Tessera's QEMU setup and run a script.")
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--mem", default="256M")
    ap.add_argument("--disk", help="raw image attached as virtio-blk (/dev/vda)")
    ap.add_argument("--module", action="append", default=[],
                    help="more modules to load (virtio_pci and virtio_blk always are)")
    ap.add_argument("--file", action="append", default=[], metavar="GUEST=HOST",
                    help="put HOST into the initramfs at GUEST")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("script", nargs="?", default="echo hello from $(uname -r)\n")
    opts = ap.parse_args(argv)
    files = dict(f.split("=", 1) for f in opts.file)
    ktest.install_signal_handlers()
    try:
        run(opts.script + "\n", modules=["virtio_pci", "virtio_blk"] + opts.module,
            extra_files=files, disk=opts.disk, smp=opts.smp, mem=opts.mem,
            timeout=opts.timeout, echo=True)
    except GuestError as e:
        print(f"linux_guest: {e}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, ktest.Interrupted):
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
