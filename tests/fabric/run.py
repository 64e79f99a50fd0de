#!/usr/bin/env python3
"""Runs the end-to-end test of fabricd (tests/fabric/fabric_host_test.c,
`make fabric-test`, mk/tools.mk) and writes one KTAP version 1 report.

The test binary prints KTAP itself (tests/unit/unit.c: every test in a
forked child). This runner gives it a private directory for the fabricd
run directories (FABRIC_TEST_DIR) and the daemon to test (FABRICD), bounds
its run time, turns results a crash left missing into failures, and adds
one result of its own: no process whose command line names that directory
(a fabricd some test failed to stop) may be left running. Any such process
is killed and reported. Exit status: 0 if every result is ok.

usage: run.py --test BIN --fabricd BIN --out FILE [--timeout S] [FILTER]
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

RESULT_RE = re.compile(r"^(not )?ok \d+ ")


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--test", required=True)
    p.add_argument("--fabricd", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--timeout", type=int, default=600)
    p.add_argument("filter", nargs="?", help="run only tests whose name has this")
    return p.parse_args()


def run_test(args, base):
    """(output lines, exit status or None on timeout) of the test binary."""
    env = dict(os.environ, FABRICD=os.path.abspath(args.fabricd),
               FABRIC_TEST_DIR=base)
    cmd = [args.test] + ([args.filter] if args.filter else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env, start_new_session=True, errors="replace")
    try:
        out, _ = proc.communicate(timeout=args.timeout)
        return out.splitlines(), proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return out.splitlines() + ["# timed out after %d s" % args.timeout], None


def leftovers(base):
    """Pids of live processes whose command line mentions base."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open("/proc/%s/stat" % entry) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if base in cmdline and state != "Z":
            pids.append((int(entry), cmdline.strip()))
    return pids


def kill_leftovers(base):
    """Kills what is left; returns diagnostic lines (empty if nothing was)."""
    found = leftovers(base)
    for pid, _ in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if found:
        time.sleep(0.2)
    return ["# left running, killed: pid %d: %s" % (pid, cmd) for pid, cmd in found]


def report(lines, status, stray):
    """The KTAP text: the binary's results, missing ones failed, plus ours."""
    plan = next((int(m.group(1)) for l in lines
                 for m in [re.match(r"^1\.\.(\d+)$", l)] if m), None)
    body = [l if RESULT_RE.match(l) or l.startswith("#") else "# " + l
            for l in lines if l != "KTAP version 1" and not re.match(r"^1\.\.\d+$", l)]
    results = sum(1 for l in body if RESULT_RE.match(l))
    if plan is None or results < plan or status not in (0, 1):
        body.append("# test binary ended with status %s after %d of %s results"
                    % (status, results, plan))
        for k in range(results + 1, max(plan or 0, results + 1) + 1):
            body.append("not ok %d result_%d_missing" % (k, k))
        results = max(plan or 0, results + 1)
    body += stray
    results += 1
    body.append("%s %d no_fabricd_left_running" % ("not ok" if stray else "ok", results))
    passed = sum(1 for l in body if l.startswith("ok "))
    body.append("# fabric-test: %d passed, %d failed" % (passed, results - passed))
    return "KTAP version 1\n1..%d\n%s\n" % (results, "\n".join(body)), passed == results


def main():
    args = parse_args()
    base = tempfile.mkdtemp(prefix="tessera-fabric-test-")
    try:
        lines, status = run_test(args, base)
        stray = kill_leftovers(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    text, ok = report(lines, status, stray)
    with open(args.out, "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
