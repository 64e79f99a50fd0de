#!/usr/bin/env python3
"""Turns `nm -n kernel.elf` output into the kernel's symbol table.

Reads nm lines on stdin, keeps function symbols (t/T) in the kernel's text,
and writes an assembly file whose .ksyms section holds, in address order:

    uint64_t count;
    struct { uint64_t addr; uint64_t name_offset; } entries[count];
    char names[];   /* NUL-terminated, name_offset counts from here */

kernel/ksym.c reads it to print symbolised backtraces.
"""
import sys

KERNEL_VBASE = 0xFFFFFFFF80000000


def main() -> int:
    syms = []
    for line in sys.stdin:
        parts = line.split()
        if len(parts) != 3 or parts[1] not in ("t", "T"):
            continue
        addr = int(parts[0], 16)
        if addr < KERNEL_VBASE:
            continue
        syms.append((addr, parts[2]))

    out = ['\t.section .ksyms, "a"', "\t.balign 8", "\t.globl ksym_table", "ksym_table:"]
    out.append(f"\t.quad {len(syms)}")
    offset = 0
    for addr, name in syms:
        out.append(f"\t.quad {addr:#x}, {offset}")
        offset += len(name) + 1
    for _, name in syms:
        out.append(f'\t.asciz "{name}"')
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
