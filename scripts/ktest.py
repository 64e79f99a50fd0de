#!/usr/bin/env python3
"""The in-kernel test harness: boots one Tessera image (or a GRUB ISO) under
QEMU with `ktest` on its command line and decides from the serial log and
QEMU's exit status whether the run passed (DESIGN.md section 8, layer 2).

    ktest.py build/tessera-p.elf                 # every test of the image
    ktest.py build/tessera-selftest.elf --cmdline ktest=harness_pass
    ktest.py --iso build/tessera-ktest.iso --timeout 180
    ktest.py IMAGE --cmdline ktest=harness_panic --expect-reason panic

A run passes only if all of these hold (each failure has a reason code):

    timeout          QEMU had not exited when --timeout ran out (it is killed)
    panic            the log has 'KERNEL PANIC' (the crash report is printed)
    fault            ... after a CPU exception report ('(vector N) in kernel mode')
    no-ktap          no 'KTAP version 1' line
    no-plan          no '1..N' plan after it
    empty-plan       the plan is '1..0' (see ZERO-TEST PLAN below)
    bad-results      a result numbered outside 1..N, twice, or out of order,
                     or a second KTAP header
    missing-results  a planned test has no 'ok'/'not ok' line
    test-failed      some test reported 'not ok'
    no-page-count    no '# free pages before=X after=Y' line
    leak             after < before in that line
    exit-code        QEMU exited by itself with a status other than 33
                     (isa-debug-exit success; 35 is the kernel's failure code)
    qemu-error       QEMU could not be started

ZERO-TEST PLAN: '1..0' fails (empty-plan) unless --allow-empty is given. A
ktest boot exists to run tests; selecting none almost always means a
mistyped ktest=FILTER or tests that were not linked in, which must not pass
silently.

KTAP lines are recognised only at the start of a serial line (after removing
terminal escapes and carriage returns, which GRUB and the serial driver add);
kernel log lines start with '[seconds]' and are never mistaken for results.
Results keep their '# SKIP' directive in the result file, where
scripts/summary.py counts them apart (neither passed nor failed).

Outputs, in the results directory (default $BUILD/results, BUILD from
--build-dir, else $TESSERA_BUILD, else 'build'):
    logs/NAME.log   the raw serial output (NAME.stderr: QEMU's stderr, if any)
    NAME.tap        KTAP: one line per kernel test ('NAME: test'), a 'not ok'
                    line for each planned test that never reported, and one
                    synthetic line per harness check ('NAME: boot', 'NAME:
                    results', 'NAME: no panic', 'NAME: no timeout', 'NAME:
                    page count', 'NAME: exit status'), so a boot that never
                    printed a plan still counts as failed tests.
    disks/NAME/     storage role only: its test disks, vda and vdb, made
                    afresh for each boot (scripts/qemu.py, make_test_disks)
With --expect-fail, NAME.tap has a single line: whether the failure was
detected (and with --expect-reason R, repeatable, for at least reasons R).

Exit status: 0 if the run passed (with --expect-fail: if it failed as
expected), 1 otherwise, 2 for usage errors. QEMU runs in its own process
group, which is killed on every path out (timeout, exception, Ctrl-C,
SIGTERM). The parsing functions (clean_lines, parse_ktap, evaluate,
tap_text, crash_report) have no side effects; tests/harness/test_harness.py
unit-tests them on canned logs.
"""
import argparse
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu  # noqa: E402  (scripts/qemu.py: the one place that builds QEMU command lines)

EXIT_SUCCESS = qemu.EXIT_SUCCESS  # 33
EXIT_FAILURE = qemu.EXIT_FAILURE  # 35

# Reason codes, most fundamental first: the first one found is the run's
# primary reason.
REASONS = ["qemu-error", "timeout", "panic", "fault", "no-ktap", "no-plan",
           "empty-plan", "bad-results", "missing-results", "test-failed",
           "leak", "no-page-count", "exit-code"]

ANSI_RE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
CTRL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
HEADER_RE = re.compile(r"^KTAP version 1\s*$")
PLAN_RE = re.compile(r"^1\.\.(\d+)\s*(#.*)?$")
RESULT_RE = re.compile(r"^(ok|not ok)\s+(\d+)\b\s*(?:-\s*)?([^#]*?)\s*(?:#\s*(.*))?$")
PAGES_RE = re.compile(r"^# free pages before=(\d+) after=(\d+)\s*$")
PANIC_RE = re.compile(r"KERNEL PANIC")
FAULT_RE = re.compile(r"\(vector \d+\) in (kernel|user) mode")


# ---------------------------------------------------------------- parsing

def clean_lines(text: str) -> List[str]:
    """Serial output -> lines without terminal escapes, CRs or other control
    characters (GRUB draws its menu with escapes; the serial driver sends
    CRLF)."""
    text = ANSI_RE.sub("", text)
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        # A lone CR returns to column 0: what follows it overwrote the line.
        line = line.rstrip("\r")
        if "\r" in line:
            line = line.rsplit("\r", 1)[1]
        lines.append(CTRL_RE.sub("", line).rstrip())
    if lines and lines[-1] == "":
        lines.pop()
    return lines


@dataclass
class Result:
    number: int
    ok: bool
    name: str
    directive: str  # text after '#', e.g. 'SKIP no device'; '' if none
    line: int  # index in the cleaned lines


@dataclass
class KtapRun:
    """What the serial log says; facts only, no judgement (see evaluate)."""
    header: Optional[int] = None  # index of the 'KTAP version 1' line
    plan: Optional[int] = None
    results: List[Result] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)  # malformed results etc.
    pages: Optional[Tuple[int, int]] = None  # (before, after)
    panic: Optional[int] = None  # index of the first KERNEL PANIC line
    fault: Optional[int] = None  # index of the first CPU exception report


def parse_ktap(lines: List[str]) -> KtapRun:
    """Extracts the KTAP run from cleaned serial lines."""
    run = KtapRun()
    for i, line in enumerate(lines):
        if run.panic is None and PANIC_RE.search(line):
            run.panic = i
        if run.fault is None and FAULT_RE.search(line):
            run.fault = i
        if HEADER_RE.match(line):
            if run.header is None:
                run.header = i
            else:
                run.problems.append(f"second 'KTAP version 1' at log line {i + 1} (kernel restarted?)")
            continue
        if run.header is None:
            continue
        m = PLAN_RE.match(line)
        if m:
            if run.plan is None:  # normally first; KTAP also allows it last
                run.plan = int(m.group(1))
            else:
                run.problems.append(f"unexpected plan '{line}' at log line {i + 1}")
            continue
        m = RESULT_RE.match(line)
        if m:
            run.results.append(Result(int(m.group(2)), m.group(1) == "ok",
                                      m.group(3).strip(), (m.group(4) or "").strip(), i))
            continue
        m = PAGES_RE.match(line)
        if m and run.pages is None:
            run.pages = (int(m.group(1)), int(m.group(2)))
    return run


@dataclass
class Check:
    label: str  # synthetic test name, e.g. 'boot'
    ok: bool
    reason: Optional[str]  # reason code when not ok
    detail: str


def evaluate(run: KtapRun, exit_status: Optional[int], timed_out: bool,
             allow_empty: bool = False, qemu_error: Optional[str] = None):
    """Judges a parsed run. exit_status is QEMU's exit status, or None when
    it was killed. Returns (checks, missing, reasons): the harness checks in
    a fixed order, the planned test numbers that never reported, and the
    failure reason codes in REASONS order (empty = passed)."""
    checks: List[Check] = []
    reasons = set()

    # boot: QEMU started and the kernel printed the KTAP header and plan.
    if qemu_error:
        checks.append(Check("boot", False, "qemu-error", qemu_error))
    elif run.header is None:
        checks.append(Check("boot", False, "no-ktap", "no 'KTAP version 1' line in the serial log"))
    elif run.plan is None:
        checks.append(Check("boot", False, "no-plan", "'KTAP version 1' but no plan line '1..N'"))
    elif run.plan == 0 and not allow_empty:
        checks.append(Check("boot", False, "empty-plan",
                            "plan '1..0': no test selected (mistyped ktest=FILTER?); "
                            "--allow-empty accepts this"))
    else:
        checks.append(Check("boot", True, None, f"plan 1..{run.plan}"))

    # results: exactly one result per planned test, in order.
    missing: List[int] = []
    bad = list(run.problems)
    seen = set()
    last = 0
    for r in run.results:
        if run.plan is not None and not 1 <= r.number <= run.plan:
            bad.append(f"result {r.number} ('{r.name}') outside the plan 1..{run.plan}")
        elif r.number in seen:
            bad.append(f"result {r.number} ('{r.name}') reported twice")
        elif r.number < last:
            bad.append(f"result {r.number} ('{r.name}') out of order")
        seen.add(r.number)
        last = max(last, r.number)
    if run.plan is not None:
        missing = [n for n in range(1, run.plan + 1) if n not in seen]
    if run.plan is None:
        checks.append(Check("results", False, checks[0].reason if not checks[0].ok else "no-plan",
                            f"no plan; {len(run.results)} result line(s) cannot be checked"))
    elif bad:
        checks.append(Check("results", False, "bad-results", "; ".join(bad)))
        if missing:
            reasons.add("missing-results")
    elif missing:
        checks.append(Check("results", False, "missing-results",
                            f"{len(missing)} of {run.plan} planned test(s) never reported: "
                            f"{_ranges(missing)}"))
    else:
        checks.append(Check("results", True, None, f"{run.plan} result(s)"))
    failed = [r for r in run.results if not r.ok and not _is_todo(r)]
    if failed:
        reasons.add("test-failed")

    # no panic (and no CPU exception).
    if run.panic is not None or run.fault is not None:
        where = run.panic if run.panic is not None else run.fault
        checks.append(Check("no panic", False, "panic", f"log line {where + 1}"))
        if run.fault is not None:
            reasons.add("fault")
    else:
        checks.append(Check("no panic", True, None, ""))

    # no timeout.
    if timed_out:
        checks.append(Check("no timeout", False, "timeout", "QEMU killed after the timeout"))
    else:
        checks.append(Check("no timeout", True, None, ""))

    # page count: present and no page lost.
    if run.pages is None:
        checks.append(Check("page count", False, "no-page-count",
                            "no '# free pages before=X after=Y' line"))
    elif run.pages[1] < run.pages[0]:
        checks.append(Check("page count", False, "leak",
                            f"{run.pages[0] - run.pages[1]} page(s) leaked "
                            f"(free before={run.pages[0]} after={run.pages[1]})"))
    else:
        checks.append(Check("page count", True, None,
                            f"free before={run.pages[0]} after={run.pages[1]}"))

    # exit status: isa-debug-exit success.
    if exit_status == EXIT_SUCCESS:
        checks.append(Check("exit status", True, None, f"{exit_status}"))
    elif qemu_error:
        checks.append(Check("exit status", False, "qemu-error", "QEMU did not run"))
    elif exit_status is None:
        checks.append(Check("exit status", False, "timeout" if timed_out else "exit-code",
                            "QEMU was killed" + (" after the timeout" if timed_out else "")))
    else:
        what = {EXIT_FAILURE: "the kernel's failure code"}.get(exit_status, "not from isa-debug-exit")
        if exit_status < 0:
            what = f"killed by signal {-exit_status}"
        checks.append(Check("exit status", False, "exit-code",
                            f"{exit_status} ({what}), expected {EXIT_SUCCESS}"))

    reasons |= {c.reason for c in checks if not c.ok and c.reason}
    ordered = [r for r in REASONS if r in reasons]
    return checks, missing, ordered


def _is_todo(r: Result) -> bool:
    return r.directive.upper().startswith("TODO")


def _ranges(nums: List[int]) -> str:
    out, i = [], 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    return ", ".join(out)


def _tap_name(name: str) -> str:
    # '#' would start a directive in the result file.
    return name.replace("#", "_").strip()


def tap_text(name: str, run: KtapRun, checks: List[Check], missing: List[int]) -> str:
    """The KTAP result file of one run: kernel tests, then harness checks."""
    lines = []
    seen = set()
    for r in run.results:
        if r.number in seen:
            continue  # a duplicate is reported by the 'results' check
        seen.add(r.number)
        directive = f" # {r.directive}" if r.directive else ""
        lines.append((r.ok, f"{name}: {_tap_name(r.name) or '#' + str(r.number)}{directive}"))
    for n in missing:
        lines.append((False, f"{name}: test {n} of {run.plan} # no result line (run ended early)"))
    for c in checks:
        detail = f" # {c.reason}: {c.detail}" if not c.ok else ""
        lines.append((c.ok, f"{name}: {c.label}{detail}"))
    out = ["KTAP version 1", f"1..{len(lines)}"]
    for i, (ok, text) in enumerate(lines, 1):
        out.append(f"{'ok' if ok else 'not ok'} {i} {text}")
    return "\n".join(out) + "\n"


def crash_report(lines: List[str], run: KtapRun, max_lines: int = 60) -> List[str]:
    """The panic message, register dump and backtrace from the log: from the
    CPU exception report (if any) or the KERNEL PANIC line, to the end."""
    starts = [i for i in (run.fault, run.panic) if i is not None]
    if not starts:
        return []
    start = min(starts)
    tail = lines[start:]
    if len(tail) > max_lines:
        tail = tail[:max_lines] + [f"... ({len(lines) - start - max_lines} more lines in the log)"]
    return tail


# ---------------------------------------------------------------- running QEMU

class Interrupted(Exception):
    """SIGTERM/SIGHUP: unwind so the finally blocks kill QEMU."""


def _on_signal(signum, frame):
    raise Interrupted(f"signal {signum}")


def install_signal_handlers():
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)


def _die_with_parent():
    """In the child before exec: SIGKILL it if ktest.py itself dies (even by
    SIGKILL, when no finally block can run). Linux only; best effort."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def spawn(cmd: List[str], stderr=subprocess.PIPE) -> subprocess.Popen:
    """Starts QEMU in a process group of its own (so kill_group gets all of
    it), with stdin closed and stdout (the serial console) piped."""
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=stderr, start_new_session=True,
                            preexec_fn=_die_with_parent)


def kill_group(proc: subprocess.Popen):
    """Kills QEMU's whole process group and reaps it. Safe to call twice."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


MAX_LOG_BYTES = 32 << 20  # a kernel printing in a loop must not fill the disk


def run_qemu(cmd: List[str], log_path: str, timeout: float):
    """Runs cmd with its serial console (stdout) saved to log_path (up to
    MAX_LOG_BYTES; the rest is read and dropped); QEMU's stderr goes to
    log_path's .stderr sibling if it says anything. Returns (exit_status or
    None if killed, timed_out, qemu_error or None, seconds)."""
    err_path = os.path.splitext(log_path)[0] + ".stderr"
    if os.path.exists(err_path):
        os.unlink(err_path)
    start = time.monotonic()
    deadline = start + timeout
    proc = None
    timed_out = False
    stderr = b""
    logged = 0
    try:
        try:
            proc = spawn(cmd)
        except (OSError, subprocess.SubprocessError) as e:
            return None, False, f"cannot start {cmd[0]}: {e}", 0.0
        with open(log_path, "wb") as log, selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ, "out")
            sel.register(proc.stderr, selectors.EVENT_READ, "err")
            while sel.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                for key, _ in sel.select(left):
                    data = os.read(key.fileobj.fileno(), 65536)
                    if not data:
                        sel.unregister(key.fileobj)
                    elif key.data == "out":
                        if logged < MAX_LOG_BYTES:
                            log.write(data[:MAX_LOG_BYTES - logged])
                            logged += len(data)
                            if logged >= MAX_LOG_BYTES:
                                log.write(b"\n# ktest.py: log truncated here, the kernel printed too much\n")
                            log.flush()
                    elif len(stderr) < 1 << 20:
                        stderr += data
        if not timed_out:
            try:
                proc.wait(timeout=max(0.5, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        kill_group(proc)
        if proc is not None:
            for f in (proc.stdout, proc.stderr):
                if f:
                    f.close()
        if stderr.strip():
            with open(err_path, "wb") as f:
                f.write(stderr)
    status = None if timed_out else proc.returncode
    return status, timed_out, None, time.monotonic() - start


# ---------------------------------------------------------------- command line

def role_of(image: str) -> Optional[str]:
    base = os.path.basename(image)
    m = re.fullmatch(r"tessera-([pmsg])\.elf", base)
    if m:
        return m.group(1)
    if base == "tessera-selftest.elf":
        return "p"
    return None


def kernel_cmdline(role: str, extra: str) -> str:
    """role=... node=0 plus 'ktest' (unless extra already has a ktest word)
    plus extra."""
    words = extra.split()
    if not any(w == "ktest" or w.startswith("ktest=") for w in words):
        words.insert(0, "ktest")
    return qemu.default_cmdline(role, extra=" ".join(words))


def default_build_dir() -> str:
    return os.environ.get("TESSERA_BUILD") or "build"


def report(name: str, lines: List[str], run: KtapRun, checks: List[Check],
           missing: List[int], reasons: List[str], log_path: str, out=sys.stdout):
    """Prints the per-test results and every failure reason."""
    for r in run.results:
        d = f" # {r.directive}" if r.directive else ""
        print(f"  {'ok' if r.ok else 'not ok'} {r.number} {r.name}{d}", file=out)
        if not r.ok:
            for line in lines[max(run.header or 0, 0):r.line]:
                if line.startswith(f"# {r.name}: FAILED"):
                    print(f"      {line}", file=out)
    for c in checks:
        if not c.ok:
            print(f"  FAILED {c.label}: {c.reason}: {c.detail}", file=out)
    if "panic" in reasons:
        print("  crash report from the log:", file=out)
        for line in crash_report(lines, run):
            print(f"    | {line}", file=out)
    elif run.header is None or "timeout" in reasons:
        tail = lines[-15:]
        if tail:
            print(f"  last {len(tail)} line(s) of the serial log:", file=out)
            for line in tail:
                print(f"    | {line}", file=out)
        else:
            print("  the serial log is empty", file=out)
    err_path = os.path.splitext(log_path)[0] + ".stderr"
    if os.path.exists(err_path):
        with open(err_path, errors="replace") as f:
            err = f.read().strip().splitlines()[-10:]
        print(f"  QEMU stderr ({err_path}):", file=out)
        for line in err:
            print(f"    | {line}", file=out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="Boot a Tessera image with `ktest` under QEMU and check its KTAP output.",
        epilog="Reasons: " + ", ".join(REASONS))
    ap.add_argument("image", nargs="?", help="kernel image (booted with -kernel and qboot)")
    ap.add_argument("--iso", help="boot this GRUB ISO with SeaBIOS instead of an image "
                    "(the ISO's default entry must run ktest: scripts/mkiso.py --cmdline-extra ktest)")
    ap.add_argument("--cmdline", default="", help="extra kernel command-line words, e.g. ktest=buddy_")
    ap.add_argument("--role", choices=sorted(qemu.ROLE_NAMES),
                    help="role of the image (default: from its file name)")
    ap.add_argument("--name", help="run name for the log and result files (default: file name)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds before QEMU is killed (default 60)")
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--mem", default="256M")
    ap.add_argument("--build-dir", default=default_build_dir(),
                    help="build directory (default $TESSERA_BUILD or 'build')")
    ap.add_argument("--results-dir", help="where NAME.tap and logs/ go (default BUILD/results)")
    ap.add_argument("--allow-empty", action="store_true", help="accept a '1..0' plan")
    ap.add_argument("--expect-fail", action="store_true",
                    help="succeed only if the run is detected as failing (harness self test)")
    ap.add_argument("--expect-reason", choices=REASONS, action="append", default=[],
                    help="the detected failure must include this reason (implies --expect-fail; "
                    "may be repeated)")
    ap.add_argument("-q", "--quiet", action="store_true", help="print only the verdict line")
    opts = ap.parse_args(argv)
    if opts.expect_reason:
        opts.expect_fail = True
    if bool(opts.image) == bool(opts.iso):
        ap.error("give exactly one of IMAGE or --iso ISO")
    target = opts.image or opts.iso
    if not os.path.isfile(target):
        print(f"ktest: {target} not found (run `make` / `make iso` first)", file=sys.stderr)
        return 2
    if opts.timeout <= 0:
        ap.error("--timeout must be positive")

    name = opts.name or os.path.splitext(os.path.basename(target))[0]
    if not re.fullmatch(r"[A-Za-z0-9_.+-]+", name):
        ap.error(f"--name '{name}': use letters, digits and _ . + - only")
    results = opts.results_dir or os.path.join(opts.build_dir, "results")
    os.makedirs(os.path.join(results, "logs"), exist_ok=True)
    log_path = os.path.join(results, "logs", name + ".log")
    tap_path = os.path.join(results, name + ".tap")

    cmd, qerr = None, None
    try:  # qemu.argv exits with a message when QEMU or qboot is missing
        if opts.iso:
            if opts.cmdline:
                print("ktest: --cmdline is ignored with --iso (the command line is in the ISO's "
                      "grub.cfg)", file=sys.stderr)
            what = f"ISO {opts.iso} (GRUB, SeaBIOS)"
            cmd = qemu.argv(iso=opts.iso, bios="seabios", smp=opts.smp, mem=opts.mem,
                            serial="stdio", extra=qemu.TEST_DEVICES)
        else:
            role = opts.role or role_of(opts.image)
            if role is None:
                ap.error(f"cannot tell the role of {opts.image} from its name: give --role p|m|s|g")
            cmdline = kernel_cmdline(role, opts.cmdline)
            what = f"{opts.image} \"{cmdline}\""
            # The storage role also gets its test disks (qemu.make_test_disks),
            # made afresh in RESULTS/disks/NAME/.
            extra = qemu.test_devices(role, os.path.join(results, "disks", name))
            cmd = qemu.argv(opts.image, cmdline=cmdline, smp=opts.smp, mem=opts.mem,
                            serial="stdio", extra=extra)
    except SystemExit as e:
        if not isinstance(e.code, str):
            raise
        qerr = e.code

    install_signal_handlers()
    if not opts.quiet:
        print(f"ktest: {name}: booting {what}, timeout {opts.timeout:g} s, accel {qemu.accel()}")
    try:
        if qerr:
            with open(log_path, "wb"):
                pass
            status, timed_out, secs = None, False, 0.0
        else:
            status, timed_out, qerr, secs = run_qemu(cmd, log_path, opts.timeout)
    except (KeyboardInterrupt, Interrupted) as e:
        print(f"ktest: {name}: interrupted ({str(e) or 'Ctrl-C'}); QEMU killed", file=sys.stderr)
        return 130
    with open(log_path, "rb") as f:
        lines = clean_lines(f.read().decode("utf-8", errors="replace"))
    run = parse_ktap(lines)
    checks, missing, reasons = evaluate(run, status, timed_out, opts.allow_empty, qerr)
    passed = not reasons

    out = sys.stdout
    if not opts.quiet:
        report(name, lines, run, checks, missing, reasons, log_path, out)
    counts = f"{sum(r.ok for r in run.results)}/{run.plan if run.plan is not None else '?'} tests ok"
    verdict = "PASS" if passed else "FAIL (" + ", ".join(reasons) + ")"

    if not opts.expect_fail:
        with open(tap_path, "w") as f:
            f.write(tap_text(name, run, checks, missing))
        print(f"ktest: {name}: {verdict}, {counts}, {secs:.1f} s; log {log_path}, results {tap_path}")
        return 0 if passed else 1

    # Harness self test: the run must have been detected as failing.
    if passed:
        ok, why = False, "the run passed but was expected to fail"
    elif any(r not in reasons for r in opts.expect_reason):
        ok, why = False, (f"expected reason(s) {', '.join(opts.expect_reason)}, "
                          f"detected: {', '.join(reasons)}")
    else:
        ok, why = True, f"failure detected: {', '.join(reasons)}"
    with open(tap_path, "w") as f:
        f.write("KTAP version 1\n1..1\n")
        f.write(f"{'ok' if ok else 'not ok'} 1 {name}: expected failure"
                f"{' (' + ', '.join(opts.expect_reason) + ')' if opts.expect_reason else ''} # {why}\n")
    print(f"ktest: {name}: {'EXPECTED' if ok else 'UNEXPECTED'}: {why} (run verdict {verdict}); log {log_path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
