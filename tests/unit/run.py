#!/usr/bin/env python3
"""Runs the host unit tests and a bounded smoke run of each fuzzer, and
writes one KTAP version 1 report (used by `make unittest`, mk/unittest.mk).

The unit binary prints KTAP itself; each fuzzer becomes one more result
line ('ok N fuzz_<name>', 'not ok' if it crashed, timed out or leaked), so
the plan line counts both. Fuzzers run in parallel with the unit binary.
Exit status: 0 if every result is ok, 1 otherwise.

usage: run.py --out FILE --unit BIN [--fuzz NAME=BIN[:DICT] ...]
              [--runs N] [--corpus-dir DIR] [--seeds-dir DIR]
              [--skip-fuzz REASON] [--names A,B,C]
"""
import argparse
import os
import re
import subprocess
import sys
import time

FUZZ_TIMEOUT = 120  # seconds, wall clock, per fuzzer
UNIT_TIMEOUT = 300


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--unit", required=True)
    p.add_argument("--fuzz", action="append", default=[])
    p.add_argument("--runs", type=int, default=20000)
    p.add_argument("--corpus-dir", default=None,
                   help="fuzzers keep what they find in DIR/<name>")
    p.add_argument("--seeds-dir", default=None,
                   help="fuzzers also start from DIR/<name>, if it exists")
    p.add_argument("--skip-fuzz", default=None,
                   help="report the fuzzers as skipped, with this reason")
    p.add_argument("--names", default="",
                   help="comma-separated fuzzer names, for --skip-fuzz")
    return p.parse_args()


def fuzz_command(name, spec, args):
    """Command line, log path and corpus directory of one smoke run."""
    binary, _, dictionary = spec.partition(":")
    cmd = [binary, "-runs=%d" % args.runs, "-seed=1", "-max_len=4096",
           "-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1"]
    base = os.path.dirname(binary)
    cmd.append("-artifact_prefix=%s/crash-%s-" % (base, name))
    if dictionary:
        cmd.append("-dict=" + dictionary)
    if args.corpus_dir:
        corpus = os.path.join(args.corpus_dir, name)
        os.makedirs(corpus, exist_ok=True)
        cmd.append(corpus)
    if args.seeds_dir and os.path.isdir(os.path.join(args.seeds_dir, name)):
        cmd.append(os.path.join(args.seeds_dir, name))
    return cmd, os.path.join(base, name + "-smoke.log")


def start_fuzzers(args):
    procs = []
    for item in args.fuzz:
        name, _, spec = item.partition("=")
        cmd, log = fuzz_command(name, spec, args)
        out = open(log, "w")
        procs.append((name, subprocess.Popen(cmd, stdout=out,
                                             stderr=subprocess.STDOUT),
                      log, out, time.monotonic()))
    return procs


def fuzz_result(name, proc, log, out, started):
    """(ok, diagnostics) of one fuzzer."""
    try:
        status = proc.wait(timeout=max(1, FUZZ_TIMEOUT -
                                       (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        status = None
    out.close()
    with open(log, errors="replace") as f:
        lines = f.read().splitlines()
    if status == 0:
        done = [l for l in lines if l.startswith("Done ")]
        return True, done[-1:]
    why = "timed out" if status is None else "exited with status %d" % status
    return False, ["fuzz_%s %s; log %s" % (name, why, log)] + lines[-40:]


def run_unit(binary):
    """(plan count, result lines after the plan, ok) of the unit binary."""
    try:
        p = subprocess.run([binary], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=UNIT_TIMEOUT,
                           errors="replace")
        text, status = p.stdout, p.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout or b""
        text = out.decode(errors="replace") if isinstance(out, bytes) else out
        text, status = text + "\n# timed out after %d s" % UNIT_TIMEOUT, None
    except OSError as e:
        text, status = "# cannot run: %s" % e, None
    lines = text.splitlines()
    plan = next((int(m.group(1)) for l in lines
                 for m in [re.match(r"^1\.\.(\d+)$", l)] if m), None)
    body = [l for l in lines if l != "KTAP version 1"
            and not re.match(r"^1\.\.\d+$", l)]
    results = sum(1 for l in body if re.match(r"^(not )?ok \d+ ", l))
    if plan is None or results != plan or status not in (0, 1):
        # The binary died before reporting everything: each missing
        # result becomes a failed line, so the counts match the plan.
        body = ["# " + l if not re.match(r"^(not )?ok \d+ ", l) and
                not l.startswith("#") else l for l in body]
        body.append("# unit binary %s (status %s) after %d of %s results" %
                    (binary, status, results, plan))
        missing = max(1, (plan or 0) - results)
        for k in range(results + 1, results + missing + 1):
            body.append("not ok %d unit_result_%d_missing" % (k, k))
        return results + missing, body, False
    return plan, body, status == 0


def main():
    args = parse_args()
    if args.skip_fuzz:
        args.fuzz = []
    procs = start_fuzzers(args)
    count, body, all_ok = run_unit(args.unit)
    skipped = [n for n in args.names.split(",") if n] if args.skip_fuzz \
        else []
    for name, proc, log, out, started in procs:
        ok, diags = fuzz_result(name, proc, log, out, started)
        count += 1
        body += ["# " + d for d in diags]
        body.append("%s %d fuzz_%s" % ("ok" if ok else "not ok", count, name))
        all_ok = all_ok and ok
    for name in skipped:
        count += 1
        body.append("ok %d fuzz_%s # SKIP %s" % (count, name, args.skip_fuzz))
    passed = sum(1 for l in body if re.match(r"^ok \d+ ", l))
    body = [l for l in body if not re.match(r"^# unit: \d+ passed", l)]
    body.append("# unittest: %d passed, %d failed" % (passed, count - passed))
    with open(args.out, "w") as f:
        f.write("KTAP version 1\n1..%d\n" % count)
        f.write("".join(l + "\n" for l in body))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
