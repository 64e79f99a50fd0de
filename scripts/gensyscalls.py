#!/usr/bin/env python3
"""Generates docs/syscalls.md from the processor's system call table.

    gensyscalls.py [--out docs/syscalls.md]        write the document
    gensyscalls.py --check [--tap FILE]            exit 1 if it is stale

The table is pcomponent/syscall.c's `syscall_table`: one entry per
implemented number, written

    SC(NR, "name", handler),                 /* optional note */
    SC(NR, "name", handler), /* partial: what is missing */

An entry whose comment starts with "partial:" is listed as partial with
the rest of the comment as its note. Every number without an entry
answers -ENOSYS.

The document puts Tessera's entries next to LegoOS's system call table
(the 111 entries of arch/x86/entry/syscalls/syscall_64.tbl in
WukLab/LegoOS at commit 1f4da86, listed below as data), so that coverage
can be compared line by line. `make docs-test` (in `make test`) runs
--check, so the document cannot drift from the code.
"""
import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE = os.path.join(ROOT, "pcomponent", "syscall.c")
DOC = os.path.join(ROOT, "docs", "syscalls.md")

# LegoOS's entries: (number, name). Numbers are Linux x86-64's except
# LegoOS's own three at the end.
LEGOOS = [
    (0, "read"), (1, "write"), (2, "open"), (3, "close"), (4, "stat"), (5, "fstat"),
    (6, "lstat"), (7, "poll"), (8, "lseek"), (9, "mmap"), (10, "mprotect"),
    (11, "munmap"), (12, "brk"), (13, "rt_sigaction"), (14, "rt_sigprocmask"),
    (15, "rt_sigreturn"), (16, "ioctl"), (17, "pread64"), (18, "pwrite64"),
    (19, "readv"), (20, "writev"), (21, "access"), (22, "pipe"), (24, "sched_yield"),
    (25, "mremap"), (26, "msync"), (28, "madvise"), (32, "dup"), (33, "dup2"),
    (34, "pause"), (35, "nanosleep"), (38, "setitimer"), (39, "getpid"),
    (41, "socket"), (42, "connect"), (43, "accept"), (44, "sendto"), (45, "recvfrom"),
    (46, "sendmsg"), (47, "recvmsg"), (49, "bind"), (50, "listen"), (56, "clone"),
    (57, "fork"), (58, "vfork"), (59, "execve"), (60, "exit"), (61, "wait4"),
    (62, "kill"), (63, "uname"), (72, "fcntl"), (74, "fsync"), (76, "truncate"),
    (77, "ftruncate"), (78, "getdents"), (79, "getcwd"), (82, "rename"), (83, "mkdir"),
    (84, "rmdir"), (85, "creat"), (87, "unlink"), (89, "readlink"),
    (96, "gettimeofday"), (97, "getrlimit"), (98, "getrusage"), (99, "sysinfo"),
    (102, "getuid"), (104, "getgid"), (105, "setuid"), (106, "setgid"),
    (107, "geteuid"), (108, "getegid"), (110, "getppid"), (111, "getpgrp"),
    (127, "rt_sigpending"), (128, "rt_sigtimedwait"), (129, "rt_sigqueueinfo"),
    (130, "rt_sigsuspend"), (131, "sigaltstack"), (137, "statfs"), (157, "prctl"),
    (158, "arch_prctl"), (160, "setrlimit"), (162, "sync"), (186, "gettid"),
    (200, "tkill"), (201, "time"), (202, "futex"), (203, "sched_setaffinity"),
    (204, "sched_getaffinity"), (213, "epoll_create"), (218, "set_tid_address"),
    (219, "restart_syscall"), (228, "clock_gettime"), (231, "exit_group"),
    (232, "epoll_wait"), (233, "epoll_ctl"), (234, "tgkill"), (237, "mbind"),
    (257, "openat"), (262, "newfstatat"), (263, "unlinkat"), (247, "waitid"),
    (273, "set_robust_list"), (274, "get_robust_list"), (293, "pipe2"),
    (291, "epoll_create1"), (309, "getcpu"), (666, "checkpoint_process"),
    (667, "pcache_stat"), (668, "drop_page_cache"),
]
assert len(LEGOOS) == 111

ENTRY_RE = re.compile(
    r'^\s*SC\(\s*([A-Za-z0-9_]+)\s*,\s*"([a-z0-9_]+)"\s*,\s*[A-Za-z0-9_]+\s*\)\s*,?'
    r'\s*(?:/\*\s*(.*?)\s*\*/)?\s*$')
TESSERA_SYS = os.path.join(ROOT, "include", "proto", "tessera_sys.h")


def tessera_numbers(path=TESSERA_SYS):
    """Tessera's own numbers, {TESSERA_SYS_NAME: number}, from its header."""
    with open(path) as f:
        return {m.group(1): int(m.group(2)) for m in
                re.finditer(r"^#define\s+(TESSERA_SYS_\w+)\s+(\d+)\s*$", f.read(), re.M)}


def read_table(path):
    """[(number, name, partial, note)] from the SC() lines of the table."""
    with open(path) as f:
        text = f.read()
    start = text.find("syscall_table[")
    if start < 0:
        raise SystemExit(f"{path}: no syscall_table")
    end = text.find("};", start)
    entries, constants = [], tessera_numbers()
    for line in text[start:end].splitlines()[1:]:
        m = ENTRY_RE.match(line)
        if not m:
            continue
        nr = constants.get(m.group(1))
        if nr is None:
            if not m.group(1).isdigit():
                raise SystemExit(f"{path}: unknown syscall number {m.group(1)}")
            nr = int(m.group(1))
        note = m.group(3) or ""
        partial = note.startswith("partial:")
        if partial:
            note = note[len("partial:"):].strip()
        entries.append((nr, m.group(2), partial, note))
    if not entries:
        raise SystemExit(f"{path}: no SC() entries in syscall_table")
    return entries


def render(entries):
    ours = {nr: (name, partial, note) for nr, name, partial, note in entries}
    lego = dict(LEGOOS)
    both = sorted(set(ours) & set(lego))
    partial = sum(1 for _, p, _ in ours.values() if p)
    out = [
        "# System calls of a Tessera processor",
        "",
        "Generated by `scripts/gensyscalls.py` from the system call table in",
        "`pcomponent/syscall.c`; do not edit (`make docs-test` checks it is",
        "current). Numbers are Linux x86-64's; Tessera's own calls start at",
        "1024 (`include/proto/tessera_sys.h`). A number without an entry",
        "answers `-ENOSYS`, logged once per number on the processor's console.",
        "",
        f"- Tessera: **{len(ours)}** entries, {partial} of them partial.",
        f"- LegoOS (its `syscall_64.tbl`): {len(lego)} entries.",
        f"- In both: {len(both)}. LegoOS's entries Tessera lacks: "
        f"{len(set(lego) - set(ours))}.",
        "",
        "| nr | name | Tessera | LegoOS | notes |",
        "|---:|---|---|---|---|",
    ]
    for nr in sorted(set(ours) | set(lego)):
        name = ours[nr][0] if nr in ours else lego[nr]
        if nr in ours:
            state = "partial" if ours[nr][1] else "yes"
            note = ours[nr][2]
        else:
            state, note = "", ""
        out.append(f"| {nr} | {name} | {state} | {'yes' if nr in lego else ''} | "
                   f"{note} |")
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DOC)
    ap.add_argument("--check", action="store_true", help="exit 1 if --out is stale")
    ap.add_argument("--tap", help="with --check: write the result as KTAP here")
    opts = ap.parse_args(argv)
    text = render(read_table(TABLE))
    if not opts.check:
        with open(opts.out, "w") as f:
            f.write(text)
        return 0
    try:
        with open(opts.out) as f:
            current = f.read()
    except OSError:
        current = None
    ok = current == text
    what = f"{os.path.relpath(opts.out, ROOT)} matches pcomponent/syscall.c's table"
    if opts.tap:
        with open(opts.tap, "w") as f:
            f.write(f"KTAP version 1\n1..1\n{'ok' if ok else 'not ok'} 1 {what}\n")
    print(f"{'ok' if ok else 'not ok'}: {what}" +
          ("" if ok else " (run `make syscalls-doc`)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
