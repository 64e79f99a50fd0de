#!/usr/bin/env python3
"""Writes seed inputs for the libFuzzer targets in tests/fuzz/ (run by
mk/unittest.mk before fuzzing): well-formed Multiboot v1/v2 blocks, ACPI
table sets and command lines in the input layout each fuzz_<name>.c
expects, and cluster manifests (every configs/*.yaml plus a few written
here). Starting from valid structures, mutations reach the deep parser
paths (MADT entries, Multiboot2 tags, vNode checks) at once instead of
after minutes of guessing signatures, pointers and keys.

usage: mkseeds.py OUTDIR      (writes OUTDIR/<name>/seed-*)
"""
import glob
import os
import struct
import sys

CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                       "configs")

BOOT_INFO_PA = 0x1000  # fuzz_bootinfo.c: INFO_PA
ACPI_MEM_PA = 0xE0000  # fuzz_acpi.c: MEM_PA


def checksum_fix(buf, at, length):
    buf[at] = 0
    buf[at] = (-sum(buf[:length])) & 0xFF


# --- Multiboot -----------------------------------------------------------

def mb1_block():
    """Multiboot v1 info at offset 0, everything it points to after it."""
    mem = bytearray(0x300)
    pa = lambda off: BOOT_INFO_PA + off
    flags = (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9)
    struct.pack_into("<I", mem, 0, flags)
    mem[0x60:0x60 + 14] = b"role=p ktest\0\0"
    struct.pack_into("<I", mem, 16, pa(0x60))
    mem[0x80:0x85] = b"qemu\0"
    struct.pack_into("<I", mem, 64, pa(0x80))
    ranges = [(0, 0x9FC00, 1), (0x100000, 0x7EE0000, 1), (0xFFFC0000, 0x40000, 2)]
    for i, (base, length, kind) in enumerate(ranges):
        struct.pack_into("<IQQI", mem, 0x100 + 24 * i, 20, base, length, kind)
    struct.pack_into("<II", mem, 44, 24 * len(ranges), pa(0x100))
    struct.pack_into("<IIII", mem, 0x200, 0x200000, 0x201000, pa(0x240), 0)
    struct.pack_into("<IIII", mem, 0x210, 0x300000, 0x300800, 0, 0)
    mem[0x240:0x247] = b"initrd\0"
    struct.pack_into("<II", mem, 20, 2, pa(0x200))
    return bytes([0]) + bytes(mem)


def mb2_tag(kind, payload):
    data = struct.pack("<II", kind, 8 + len(payload)) + payload
    return data + b"\0" * (-len(data) % 8)


def mb2_block(extra=b""):
    rsdp = bytearray(b"RSD PTR \0TESSER\x02" + bytes(20))
    tags = [
        mb2_tag(1, b"role=m node=2\0"),
        mb2_tag(2, b"GRUB 2.06\0"),
        mb2_tag(3, struct.pack("<II", 0x400000, 0x480000) + b"initrd\0"),
        mb2_tag(6, struct.pack("<II", 24, 0) + b"".join(
            struct.pack("<QQII", b, l, t, 0) for b, l, t in
            [(0, 0x9FC00, 1), (0x100000, 0x7EE0000, 1), (0x7FE0000, 0x20000, 3)])),
        mb2_tag(15, bytes(rsdp)),
        extra,
        mb2_tag(0, b""),
    ]
    body = b"".join(tags)
    return bytes([1]) + struct.pack("<II", 8 + len(body), 0) + body


# --- ACPI ----------------------------------------------------------------

def sdt(sig, body):
    t = bytearray(sig + struct.pack("<I", 36 + len(body)) + b"\x01\0TESSERUNITTEST" +
                  bytes(12) + body)
    checksum_fix(t, 9, len(t))
    return t


def madt():
    entries = b"".join([
        struct.pack("<BBBBI", 0, 8, 0, 0, 1),
        struct.pack("<BBBBI", 0, 8, 1, 1, 1),
        struct.pack("<BBBBII", 1, 12, 2, 0, 0xFEC00000, 0),
        struct.pack("<BBBBIH", 2, 10, 0, 0, 2, 0),
        struct.pack("<BBBBIH", 2, 10, 0, 9, 9, 0xD),
        struct.pack("<BBHIII", 9, 16, 0, 300, 1, 300),
        struct.pack("<BBHQ", 5, 12, 0, 0xFEE00000),
    ])
    return sdt(b"APIC", struct.pack("<II", 0xFEE00000, 1) + entries)


def hpet():
    return sdt(b"HPET", struct.pack("<IBBBBQBHB", 0x8086A201, 0, 64, 0, 0,
                                    0xFED00000, 0, 0x80, 0))


def acpi_memory(revision):
    """RSDP at 0, root table at 0x40, MADT at 0x100, HPET at 0x300."""
    mem = bytearray(0x380)
    madt_pa, hpet_pa = ACPI_MEM_PA + 0x100, ACPI_MEM_PA + 0x300
    mem[0x100:0x100 + len(madt())] = madt()
    mem[0x300:0x300 + len(hpet())] = hpet()
    if revision >= 2:
        root = sdt(b"XSDT", struct.pack("<QQ", madt_pa, hpet_pa))
    else:
        root = sdt(b"RSDT", struct.pack("<II", madt_pa, hpet_pa))
    mem[0x40:0x40 + len(root)] = root
    rsdp = bytearray(b"RSD PTR \0TESSER" + bytes([revision]) + bytes(20))
    root_pa = ACPI_MEM_PA + 0x40
    struct.pack_into("<I", rsdp, 16, root_pa if revision < 2 else 0)
    if revision >= 2:
        struct.pack_into("<IQ", rsdp, 20, 36, root_pa)
    checksum_fix(rsdp, 8, 20)
    if revision >= 2:
        checksum_fix(rsdp, 32, 36)
    mem[0:36] = rsdp
    return bytes(mem)


# --- manifests (fuzz_manifest.c: the input is the YAML text) --------------

def manifests():
    """configs/*.yaml, then forms they do not use: flow style, every
    optional key, disk images and directories, KiB units, quoting."""
    seeds = []
    for path in sorted(glob.glob(os.path.join(CONFIGS, "*.yaml"))):
        with open(path, "rb") as f:
            seeds.append(f.read())
    seeds.append(b"""cluster: flow
fabric: {window: 2MiB, link: none, latency_us: 0.25, bandwidth_gbps: 100,
         poll_us: 0, cq_retry_us: 50}
nodes:
  - {name: p1, role: processor, cpus: 8, ram: 16G, window: 1G,
     excache: {size: 512MiB, ways: 64, policy: random}}
  - {name: p2, role: processor, excache: {ways: 1, policy: fifo}}
  - {name: m1, role: memory, backup: m2}
  - {name: m2, role: memory, backup: m1, ram: 32768K}
  - {name: s1, role: storage, disk: {image: "disks/root.img"}}
  - {name: s2, role: storage, disk: {dir: 'rootfs/', size: 64G}}
  - {name: g1, role: global}
vnodes:
  - {name: a, processors: [p1, p2], memories: [m1], storages: [s1, s2]}
  - name: b-2_x
    processors:
      - p2
    memories: [m2, m1]
    storages: [s2]
""")
    seeds.append(b"""nodes:
  - name: p1
    role: processor
    excache: {size: 16M}
  - name: m1
    role: memory
    backup: m9
""")
    return seeds


SEEDS = {
    "bootinfo": [mb1_block(), mb2_block(),
                 mb2_block(mb2_tag(21, b"abc") + mb2_tag(14, bytes(20)))],
    "acpi": [bytes([0]) + acpi_memory(0), bytes([1]) + acpi_memory(2),
             bytes([3]) + acpi_memory(0)],
    "cmdline": [b"role=p node=3 ktest console=ttyS0,115200 mem=0x4000000",
                b"a=1 a=2 b= c\t0x=18446744073709551615\nz=0xffffffffffffffff"],
    "manifest": manifests(),
}


def main():
    out = sys.argv[1]
    for name, seeds in SEEDS.items():
        os.makedirs(os.path.join(out, name), exist_ok=True)
        for i, data in enumerate(seeds):
            with open(os.path.join(out, name, "seed-%d" % i), "wb") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
