#!/usr/bin/env python3
"""Checks that the Debian packages Tessera's build and tests need are
installed, and installs the missing ones (`make deps`; `make test`,
`make ktest` and `make iso` run it once through the stamp file
$BUILD/.deps-ok, see mk/test.mk).

    deps.py [--check]

All present: prints nothing and exits 0 (one dpkg-query call, fast).
Some missing and running as root (CI, the project's machines): runs
`apt-get update` and `apt-get install -y --no-install-recommends ...`
non-interactively, then checks again. Not root, or --check: prints the
exact command to run and exits 1.
"""
import os
import shutil
import subprocess
import sys

# Package -> what it is for. (qboot.rom is in qemu-system-data:
# `dpkg -S /usr/share/qemu/qboot.rom`.)
PACKAGES = {
    "gcc": "kernel and host unit tests",
    "make": "the build",
    "binutils": "ld, nm, objcopy",
    "python3": "scripts/",
    "qemu-system-x86": "qemu-system-x86_64 (tests, make run)",
    "qemu-system-data": "/usr/share/qemu/qboot.rom (fast firmware)",
    "grub-pc-bin": "GRUB BIOS modules for the ISO",
    "grub-common": "grub-mkrescue",
    "xorriso": "ISO writing for grub-mkrescue",
    "mtools": "FAT image for grub-mkrescue",
    "e2fsprogs": "mke2fs/e2fsck for ext2 disk images",
    "libyaml-dev": "manifest parsing in the host CLI",
    "libjansson-dev": "fabricd's stats JSON in the host CLI (tessera status)",
    "musl-tools": "static Linux test programs",
    "busybox-static": "static userland for vNodes",
    "bash-static": "GNU bash for vNodes (the ABI tests' bash script)",
    "clang": "libFuzzer targets",
}

# Files that must exist once the packages are in (a package can be
# half-installed or have had files removed).
FILES = {
    "/usr/share/qemu/qboot.rom": "qemu-system-data",
    "/usr/lib/grub/i386-pc/multiboot2.mod": "grub-pc-bin",
}


def missing_packages():
    """Names of PACKAGES that dpkg does not list as installed."""
    if not shutil.which("dpkg-query"):
        sys.exit("deps: dpkg-query not found: this script knows only Debian-based systems; "
                 "install these packages by hand: " + " ".join(PACKAGES))
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n"]
                          + list(PACKAGES), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True)
    installed = set()
    for line in proc.stdout.splitlines():
        parts = line.split()
        # Status-Abbrev 'ii' = wanted install, installed; the name may carry ':arch'.
        if len(parts) >= 2 and parts[1].startswith("ii"):
            installed.add(parts[0].split(":")[0])
    missing = [p for p in PACKAGES if p not in installed]
    for path, pkg in FILES.items():
        if not os.path.exists(path) and pkg not in missing:
            missing.append(pkg)
    return missing


def install_command(pkgs):
    return ["apt-get", "install", "-y", "--no-install-recommends"] + pkgs


def main(argv) -> int:
    check_only = "--check" in argv[1:]
    missing = missing_packages()
    if not missing:
        return 0
    print("deps: missing Debian packages:")
    for p in missing:
        print(f"  {p:18} {PACKAGES[p]}")
    if check_only or os.geteuid() != 0:
        why = "--check given" if check_only else "not root"
        print(f"deps: {why}; install them with:\n  sudo apt-get update && "
              f"sudo {' '.join(install_command(missing))}", file=sys.stderr)
        return 1
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"], install_command(missing)):
        print(f"deps: {' '.join(cmd)}", flush=True)
        rc = subprocess.call(cmd, env=env)
        if rc != 0:
            print(f"deps: `{' '.join(cmd)}` failed with exit status {rc}", file=sys.stderr)
            return 1
    still = missing_packages()
    if still:
        print(f"deps: still missing after apt-get install: {' '.join(still)}", file=sys.stderr)
        return 1
    print(f"deps: installed {' '.join(missing)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
