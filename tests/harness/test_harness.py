#!/usr/bin/env python3
"""The harness self test (`make harness-test`): shows that scripts/ktest.py
catches failing, panicking, hanging and leaking kernel tests instead of
letting them pass.

Two parts, each check one KTAP line:
 (a) unit checks of ktest.py's parsing and judging functions (and of
     scripts/summary.py's counting) on canned serial logs;
 (b) boots of tessera-selftest.elf, once per deliberately broken test in
     tests/harness/broken_tests.c, through ktest.py --expect-fail
     --expect-reason R (each failure must be detected, for the right
     reason), plus harness_pass, which must pass, and harness_pass with
     --expect-fail, which must be reported as NOT failing.

    test_harness.py [--build-dir DIR] [--unit-only]

Prints KTAP on stdout and writes it to BUILD/results/harness.tap. The
boots' own logs and result files go to BUILD/results/selftest/ (a
subdirectory, so that their deliberate failures are not counted by
scripts/summary.py). Exit status 0 only if every check passed.
"""
import argparse
import os
import subprocess
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import ktest  # noqa: E402
import summary  # noqa: E402

# ------------------------------------------------------------ canned logs

BANNER = """\
[    0.000000] p0: pmm: 65229 pages (254 MiB) free, metadata 64 KiB
[    0.026249] p0: Tessera 0.1 processor component, node 0 (p0)
[    0.027124] p0: ready: processor p0
"""
GOOD = BANNER + """\
KTAP version 1
1..3
ok 1 buddy_split
[    0.030000] p0: a log line between results: ok 7 not_a_result
ok 2 sched_yield
ok 3 pci_msi # SKIP no MSI device
# free pages before=65215 after=65215
# ktest done: 3 passed, 0 failed
"""
NO_HEADER = BANNER + "[    0.03] p0: something went wrong\n"
NO_PLAN = BANNER + "KTAP version 1\n"
MISSING = BANNER + """\
KTAP version 1
1..3
ok 1 a
ok 3 c
# free pages before=10 after=10
"""
NOT_OK = BANNER + """\
KTAP version 1
1..2
ok 1 a
# b: FAILED kernel/x.c:12: x == 3 (0x2 != 0x3)
not ok 2 b
# free pages before=10 after=10
"""
PANIC = BANNER + """\
KTAP version 1
1..2
ok 1 a
[    0.040000] p0: KERNEL PANIC on cpu 1: BUG: n > 0 at kernel/x.c:40
[    0.040100] p0: backtrace:
[    0.040200] p0:   [<ffffffff8010e38d>] ktest_fn_b+0x1d
[    0.040300] p0:   [<ffffffff80109bc4>] ktest_run_all+0xc4
[    0.040400] p0: exiting QEMU (panic=exit)
"""
FAULT = BANNER + """\
KTAP version 1
1..1
[    0.015339] p0: page fault (vector 14) in kernel mode on cpu 0
[    0.015487] p0: page fault at 0xffff900000001000: not present, read, data
[    0.015755] p0: RIP 0008:ffffffff8010e228 ktest_fn_harness_fault+0x8 RFLAGS 0000000000000246
[    0.016744] p0: backtrace:
[    0.016866] p0:   [<ffffffff80109fda>] kmain+0x27a
[    0.017396] p0: KERNEL PANIC on cpu 0: unhandled page fault
[    0.017871] p0: exiting QEMU (panic=exit)
"""
LEAK = BANNER + """\
KTAP version 1
1..1
ok 1 a
# free pages before=100 after=99
# LEAK: 1 pages not returned
"""
NO_PAGES = BANNER + "KTAP version 1\n1..1\nok 1 a\n"
EMPTY = BANNER + "KTAP version 1\n1..0\n# free pages before=5 after=5\n"
DUPLICATE = BANNER + "KTAP version 1\n1..2\nok 1 a\nok 1 a\nok 2 b\n# free pages before=5 after=5\n"
BEYOND = BANNER + "KTAP version 1\n1..1\nok 1 a\nok 2 b\n# free pages before=5 after=5\n"
# What GRUB on a serial console looks like: escapes, CRs, CRLF line ends.
GRUB = ("\x1b[H\x1b[J\x1b[1;1H  Booting `Tessera processor'\r\n\r\n\r"
        + GOOD.replace("\n", "\r\n"))


def judge(text, status=ktest.EXIT_SUCCESS, timed_out=False, allow_empty=False):
    lines = ktest.clean_lines(text)
    run = ktest.parse_ktap(lines)
    checks, missing, reasons = ktest.evaluate(run, status, timed_out, allow_empty)
    return lines, run, checks, missing, reasons


# ------------------------------------------------------------ unit checks

def unit_good_run():
    _, run, checks, missing, reasons = judge(GOOD)
    assert reasons == [], reasons
    assert run.plan == 3 and [r.number for r in run.results] == [1, 2, 3], run
    assert run.results[2].directive == "SKIP no MSI device", run.results[2]
    assert run.pages == (65215, 65215) and not missing
    assert all(c.ok for c in checks)


def unit_log_lines_are_not_results():
    _, run, *_ = judge(GOOD)
    assert "not_a_result" not in [r.name for r in run.results]


def unit_missing_header():
    reasons = judge(NO_HEADER)[4]
    assert reasons[:1] == ["no-ktap"], reasons


def unit_missing_plan():
    reasons = judge(NO_PLAN)[4]
    assert "no-plan" in reasons and "no-ktap" not in reasons, reasons


def unit_missing_result():
    _, _, _, missing, reasons = judge(MISSING)
    assert reasons == ["missing-results"], reasons
    assert missing == [2], missing


def unit_not_ok():
    reasons = judge(NOT_OK, status=ktest.EXIT_FAILURE)[4]
    assert reasons == ["test-failed", "exit-code"], reasons


def unit_not_ok_even_with_exit_33():
    reasons = judge(NOT_OK)[4]
    assert reasons == ["test-failed"], reasons


def unit_panic():
    lines, run, _, missing, reasons = judge(PANIC, status=ktest.EXIT_FAILURE)
    assert reasons[0] == "panic" and "missing-results" in reasons, reasons
    assert missing == [2]
    report = ktest.crash_report(lines, run)
    assert "KERNEL PANIC on cpu 1" in report[0], report
    assert any("ktest_run_all" in line for line in report), report


def unit_fault_report_starts_at_exception():
    lines, run, _, _, reasons = judge(FAULT, status=ktest.EXIT_FAILURE)
    assert "panic" in reasons and "fault" in reasons, reasons
    report = ktest.crash_report(lines, run)
    assert "(vector 14)" in report[0] and any("KERNEL PANIC" in x for x in report), report


def unit_leak():
    reasons = judge(LEAK, status=ktest.EXIT_FAILURE)[4]
    assert reasons == ["leak", "exit-code"], reasons


def unit_no_page_count():
    reasons = judge(NO_PAGES)[4]
    assert reasons == ["no-page-count"], reasons


def unit_empty_plan_fails_unless_allowed():
    # Decision (scripts/ktest.py): '1..0' means no test was selected, which
    # is almost always a mistyped ktest=FILTER, so it fails by default.
    assert judge(EMPTY)[4] == ["empty-plan"]
    assert judge(EMPTY, allow_empty=True)[4] == []


def unit_duplicate_and_extra_results():
    assert "bad-results" in judge(DUPLICATE)[4]
    assert "bad-results" in judge(BEYOND)[4]


def unit_trailing_plan():
    text = BANNER + "KTAP version 1\nok 1 a\nok 2 b\n1..2\n# free pages before=5 after=5\n"
    assert judge(text)[4] == []


def unit_timeout():
    reasons = judge(NO_PLAN, status=None, timed_out=True)[4]
    assert reasons[0] == "timeout", reasons
    assert "exit-code" not in reasons, reasons


def unit_bad_exit_code():
    assert judge(GOOD, status=1)[4] == ["exit-code"]
    assert judge(GOOD, status=-9)[4] == ["exit-code"]


def unit_qemu_error():
    lines = ktest.clean_lines("")
    run = ktest.parse_ktap(lines)
    reasons = ktest.evaluate(run, None, False, qemu_error="cannot start qemu")[2]
    assert reasons[0] == "qemu-error", reasons


def unit_grub_serial_noise():
    _, run, _, _, reasons = judge(GRUB)
    assert reasons == [], reasons
    assert run.plan == 3 and run.results[0].name == "buddy_split", run


def unit_tap_file_of_good_run():
    _, run, checks, missing, _ = judge(GOOD)
    tap = ktest.tap_text("img", run, checks, missing).splitlines()
    assert tap[0] == "KTAP version 1" and tap[1] == "1..9", tap
    assert tap[2] == "ok 1 img: buddy_split" and "ok 9 img: exit status" in tap, tap
    assert summary.count_tap("\n".join(tap)) == (8, 0, 1, ""), tap  # pci_msi skipped


def unit_summary_counts_skips_apart():
    text = "KTAP version 1\n1..3\nok 1 a\nok 2 b # SKIP no device\nnot ok 3 c\n"
    assert summary.count_tap(text) == (1, 1, 1, ""), summary.count_tap(text)


def unit_tap_file_of_boot_without_plan():
    _, run, checks, missing, _ = judge(NO_HEADER, status=None, timed_out=True)
    tap = ktest.tap_text("img", run, checks, missing)
    passed, failed, _, _ = summary.count_tap(tap)
    assert failed >= 1 and "not ok 1 img: boot # no-ktap" in tap, tap


def unit_tap_file_lists_missing_tests():
    _, run, checks, missing, _ = judge(PANIC, status=ktest.EXIT_FAILURE)
    tap = ktest.tap_text("img", run, checks, missing)
    assert "not ok 2 img: test 2 of 2 # no result line" in tap, tap


def unit_summary_counts():
    assert summary.count_tap("KTAP version 1\n1..2\nok 1 a\nnot ok 2 b\n") == (1, 1, 0, "")
    assert summary.count_tap("1..3\nok 1 a\n")[:2] == (1, 2)  # truncated file
    assert summary.count_tap("")[:2] == (0, 1)  # empty file
    assert summary.count_tap("1..1\n    ok 1 sub\nok 1 a\n")[:2] == (1, 0)  # subtests ignored


def unit_kernel_cmdline():
    assert ktest.kernel_cmdline("p", "") == "role=processor node=0 ktest"
    assert ktest.kernel_cmdline("m", "ktest=buddy") == "role=memory node=0 ktest=buddy"
    assert ktest.role_of("build/tessera-s.elf") == "s"
    assert ktest.role_of("x/tessera-selftest.elf") == "p"


UNIT_CHECKS = [f for name, f in sorted(globals().items()) if name.startswith("unit_")]

# ------------------------------------------------------------ boots

# (broken test, reasons ktest.py must detect, text its report must show,
# timeout in seconds). The hang can only end by the timeout, so it gets a
# short one; all others end by themselves in about a second under TCG and
# get a generous one.
BOOTS = [
    ("harness_fail", ["test-failed"], "FAILED tests/harness/broken_tests.c", 60),
    ("harness_panic", ["panic"], "KERNEL PANIC on cpu", 60),
    ("harness_fault", ["fault", "panic"], "page fault (vector 14)", 60),
    ("harness_hang", ["timeout"], "QEMU killed after the timeout", 5),
    ("harness_leak", ["leak"], "1 page(s) leaked", 60),
    ("harness_exit_early", ["missing-results"], "never reported", 60),
]


def qemu_left_running(marker: str):
    """PIDs of processes whose command line contains marker (a QEMU that
    ktest.py should have killed)."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
        except OSError:
            continue
        if "qemu-system" in cmd and marker in cmd:
            pids.append(int(pid))
    return pids


def run_ktest(opts, test, extra):
    cmd = [sys.executable, os.path.join(ROOT, "scripts", "ktest.py"), opts.image,
           "--build-dir", opts.build_dir, "--results-dir", opts.selftest_dir,
           "--cmdline", f"ktest={test}", "--name", test] + extra
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace", timeout=300)
    return proc.returncode, proc.stdout


def boot_check(opts, test, reasons, shows, timeout):
    def check():
        extra = ["--timeout", str(timeout)]
        for r in reasons:
            extra += ["--expect-reason", r]
        rc, out = run_ktest(opts, test, extra)
        assert rc == 0, f"ktest.py exit status {rc}, expected 0:\n{out}"
        assert shows in out, f"ktest.py's report does not show '{shows}':\n{out}"
        left = qemu_left_running(f"ktest={test}")
        assert not left, f"QEMU still running after ktest.py returned: pids {left}"
        return out.strip().splitlines()[-1]
    check.__name__ = f"boot_{test}_detected_as_{'_'.join(r.replace('-', '_') for r in reasons)}"
    return check


def boot_pass(opts):
    def check():
        rc, out = run_ktest(opts, "harness_pass", [])
        assert rc == 0, f"harness_pass: ktest.py exit status {rc}, expected 0:\n{out}"
        with open(os.path.join(opts.selftest_dir, "harness_pass.tap")) as f:
            tap = f.read()
        passed, failed, _, _ = summary.count_tap(tap)
        assert failed == 0 and "ok 1 harness_pass: harness_pass\n" in tap, tap
        return out.strip().splitlines()[-1]
    check.__name__ = "boot_harness_pass_passes"
    return check


def boot_pass_not_expected_fail(opts):
    def check():
        rc, out = run_ktest(opts, "harness_pass", ["--expect-fail"])
        assert rc == 1, f"--expect-fail on a passing run: exit status {rc}, expected 1:\n{out}"
        return out.strip().splitlines()[-1]
    check.__name__ = "boot_harness_pass_with_expect_fail_is_reported"
    return check


# ------------------------------------------------------------ main

def main() -> int:
    ap = argparse.ArgumentParser(description="Self test of scripts/ktest.py.")
    ap.add_argument("--build-dir", default=os.environ.get("TESSERA_BUILD") or "build")
    ap.add_argument("--image", help="self-test image (default BUILD/tessera-selftest.elf)")
    ap.add_argument("--unit-only", action="store_true", help="skip the QEMU boots")
    opts = ap.parse_args()
    opts.image = opts.image or os.path.join(opts.build_dir, "tessera-selftest.elf")
    results = os.path.join(opts.build_dir, "results")
    opts.selftest_dir = os.path.join(results, "selftest")
    os.makedirs(opts.selftest_dir, exist_ok=True)

    checks = [(f.__name__, f) for f in UNIT_CHECKS]
    if not opts.unit_only:
        if not os.path.isfile(opts.image):
            print(f"test_harness: {opts.image} not found: `make {opts.image}` first", file=sys.stderr)
            return 2
        boots = [boot_pass(opts), boot_pass_not_expected_fail(opts)]
        boots += [boot_check(opts, *b) for b in BOOTS]
        checks += [(b.__name__, b) for b in boots]

    out = ["KTAP version 1", f"1..{len(checks)}"]
    print("\n".join(out), flush=True)
    failed = 0
    for n, (name, fn) in enumerate(checks, 1):
        start = time.monotonic()
        diag = []
        try:
            note = fn()
            ok = True
            if note:
                diag.append(f"# {note} ({time.monotonic() - start:.1f} s)")
        except Exception as e:  # an assertion or a broken check: both fail it
            ok = False
            text = str(e) if isinstance(e, AssertionError) and str(e) else traceback.format_exc()
            diag += ["# " + line for line in text.rstrip().splitlines()]
        failed += not ok
        line = f"{'ok' if ok else 'not ok'} {n} harness: {name}"
        for d in diag:
            print(d)
        print(line, flush=True)
        out += [line]
    with open(os.path.join(results, "harness.tap"), "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"# harness self test: {len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
