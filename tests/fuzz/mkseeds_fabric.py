#!/usr/bin/env python3
"""Writes seed inputs for tests/fuzz/fuzz_fabric.c (run by mk/unittest.mk
with tests/fuzz/mkseeds.py): small programs in that fuzzer's input format
that register memory regions, post every verb with valid keys, post receive
buffers, inject faults and step the fabric. Mutations of working programs
reach the execution paths (copies, completions, the wire queues) at once.

usage: mkseeds_fabric.py OUTDIR      (writes OUTDIR/fabric/seed-*)
"""
import os
import struct
import sys

# Operation codes of fuzz_fabric.c.
MR, WQE, RQE, CONSUME, STEP, FAULT, BURST = 1, 3, 4, 6, 7, 8, 12
SEND, WRITE, READ, WRITE_IMM = 0, 1, 2, 3  # opcode byte -> 1 + b % 4
SIGNALED = 1


def mr(node, slot=1, length=0x1000, access=7):
    # offset16 512 -> FAB_DATA_OFFSET; key = slot when keyhi is 0
    return bytes([MR, node - 1, slot]) + struct.pack("<HHBB", 512, length, access, 0)


def wqe(node, op, dst, length=64, loff=256, roff=256 + 0x800, qpns=0, imm=7):
    # offsets16 256 -> FAB_DATA_OFFSET; keys: slot 1
    return bytes([WQE, node - 1, op, dst - 1]) + struct.pack(
        "<HHHBBBBI", length, loff, roff, 1, 1, SIGNALED, qpns, imm)


def rqe(node, qpn=0, length=0x400):
    return bytes([RQE, node - 1, qpn, 9]) + struct.pack("<HHB", 256 + 0x400, length, 1)


def step(us=0):
    return bytes([STEP]) + struct.pack("<H", us)


def consume(node, n=255):
    return bytes([CONSUME, node - 1, n])


def fault(kind, a, b, v):
    return bytes([FAULT, kind, a, b, v])


def burst(node, count):
    return bytes([BURST, node - 1, count])


SETUP = bytes([0]) + mr(1) + mr(2) + mr(3)

SEEDS = [
    SETUP + wqe(1, WRITE, 2) + step() + consume(1),
    SETUP + rqe(2) + wqe(1, SEND, 2, qpns=0x30) + step() + consume(1) + consume(2),
    SETUP + wqe(1, READ, 2) + wqe(2, WRITE_IMM, 1, qpns=0x21) + step() + consume(1)
    + consume(2),
    SETUP + fault(0, 0, 1, 128) + fault(7, 0, 1, 20) + wqe(1, WRITE, 2)
    + wqe(1, READ, 2) + step(1) + step(500) + consume(1),
    SETUP + fault(1, 3, 3, 255) + rqe(2) + rqe(2) + wqe(1, SEND, 2) + wqe(3, WRITE, 3)
    + step() + consume(2) + consume(3),
    SETUP + fault(3, 0, 1, 0) + fault(5, 2, 0, 0) + wqe(1, WRITE, 2) + wqe(3, READ, 1)
    + step() + fault(8, 0, 0, 0) + wqe(1, WRITE, 2) + step(),
    # 1280 signaled WRITEs: a's CQ fills, its SQ stops, consuming resumes it
    SETUP + wqe(1, WRITE, 2) + burst(1, 160) + consume(1) + step() + consume(1)
    + step(),
    # 1280 WRITE_IMMs fill b's CQ with RECV_IMMs; then SENDs get RNR
    SETUP + rqe(2) + wqe(1, WRITE_IMM, 2) + burst(1, 160) + consume(1)
    + wqe(1, SEND, 2) + step() + consume(1),
    # a queue on a slow link
    SETUP + fault(7, 0, 1, 50) + wqe(1, WRITE, 2) + burst(1, 40) + step(1) + step(60000),
]


def main():
    out = os.path.join(sys.argv[1], "fabric")
    os.makedirs(out, exist_ok=True)
    for i, data in enumerate(SEEDS):
        with open(os.path.join(out, "seed-%d" % i), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
