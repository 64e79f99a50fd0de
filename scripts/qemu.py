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
    # The self tests expect the test devices (see TEST_DEVICES).
    wants_tests = any(w.split("=")[0] == "ktest" for w in opts.cmdline.split())
    extra = TEST_DEVICES if wants_tests else []
    cmd = argv(opts.image, cmdline=default_cmdline(opts.role, extra=opts.cmdline),
               smp=opts.smp, mem=opts.mem, bios=opts.bios, gdb=opts.gdb, extra=extra)
    if opts.gdb:
        print(f"waiting for gdb: gdb {opts.image} -ex 'target remote :1234'", file=sys.stderr)
    print("QEMU: Ctrl-A X quits", file=sys.stderr)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    sys.exit(main())
