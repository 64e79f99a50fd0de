#!/usr/bin/env python3
"""The last step of `make test`: adds up the TAP/KTAP result files that the
test layers wrote into the results directory ($BUILD/results/*.tap; files
in subdirectories, such as the harness self test's deliberately failing
runs, are not counted).

    summary.py [RESULTS_DIR]

Counts top-level 'ok N ...' and 'not ok N ...' lines per file (indented
subtest lines are not counted; their parent line carries the verdict). A
'# SKIP' result is counted apart: neither passed nor failed (shown per
file and in a line before the verdict when there are any). A file whose plan '1..N' promises more
results than it has, e.g. because the program writing it crashed, counts
the missing ones as failed; so does a file without any result line. Prints
one line per file and, as the very last line of its output, exactly

    N passed, M failed

A results directory without any .tap file counts as one failure (nothing
ran). The verdict line is also written to RESULTS_DIR/summary.txt. Exit
status 0 only if nothing failed.
"""
import glob
import os
import re
import sys

RESULT_RE = re.compile(r"^(ok|not ok)\s+\d+\b")
SKIP_RE = re.compile(r"#\s*SKIP\b", re.I)
PLAN_RE = re.compile(r"^1\.\.(\d+)\b")


def count_tap(text: str):
    """-> (passed, failed, skipped, note) for one result file's text."""
    passed = failed = skipped = results = 0
    plan = None
    for line in text.splitlines():
        line = line.rstrip("\r")
        m = RESULT_RE.match(line)
        if m:
            results += 1
            if m.group(1) == "ok" and SKIP_RE.search(line):
                skipped += 1
            elif m.group(1) == "ok":
                passed += 1
            else:
                failed += 1
            continue
        m = PLAN_RE.match(line)
        if m and plan is None:
            plan = int(m.group(1))
    note = ""
    if results == 0 and not plan == 0:
        failed += 1
        note = "no result lines (counted as 1 failure)"
    elif plan is not None and results < plan:
        failed += plan - results
        note = f"plan 1..{plan} but only {results} results (missing ones counted as failures)"
    return passed, failed, skipped, note


def main(argv) -> int:
    results_dir = argv[1] if len(argv) > 1 else os.path.join(
        os.environ.get("TESSERA_BUILD") or "build", "results")
    files = sorted(glob.glob(os.path.join(results_dir, "*.tap")))
    total_p = total_f = total_s = 0
    print(f"==== test summary ({results_dir}) ====")
    if not files:
        print(f"no result files (*.tap) in {results_dir}")
    for path in files:
        try:
            with open(path, errors="replace") as f:
                p, fl, sk, note = count_tap(f.read())
        except OSError as e:
            p, fl, sk, note = 0, 1, 0, f"unreadable: {e}"
        total_p += p
        total_f += fl
        total_s += sk
        mark = "FAIL" if fl else "ok  "
        print(f"  {mark} {os.path.basename(path):<32} {p:5d} passed {fl:5d} failed"
              f"{f' {sk:5d} skipped' if sk else ''}{'  (' + note + ')' if note else ''}")
    if not files:
        total_f += 1  # nothing ran: that is a failure, not a success
    verdict = f"{total_p} passed, {total_f} failed"
    try:  # for .ci/run, which repeats the verdict after make's own error line
        with open(os.path.join(results_dir, "summary.txt"), "w") as f:
            f.write(verdict + "\n")
    except OSError:
        pass
    if total_s:
        print(f"{total_s} skipped (not counted as passed)")
    sys.stdout.flush()
    print(verdict)
    return 0 if total_f == 0 and total_p > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
