"""What the cluster test layers share (tests/cluster/*_test.py).

The layers that boot a manifest through `tessera` (memory, storage, abi)
were near-twins in their result format and their main(); this module
holds the common parts, on top of tests/cli/test_cli.py's Cli, Cluster,
Tap, detail and finish:

  LayerTap(layer)     KTAP whose result lines say "LAYER: name", with
                      SKIP lines (a check that could not apply, with why)
                      and groups of cases as indented KTAP subtests
  shell_status(rc)    a subprocess returncode as the shell reports it
  check_ready(t, c)   every node of the cluster still "ready"
  check_no_panic(t, run_dir, nodes)
                      no node's console log says "panic"
  run_layer(...)      the main() of a layer: options (--build-dir, --out,
                      --keep), a temporary directory with the run
                      directory in it, SIGTERM/SIGHUP turned into a
                      clean stop, the body, then test_cli.finish (tessera
                      down, nothing left running, the KTAP written) and
                      the "N passed, N failed" line; exit status 0 iff
                      every check passed.
"""
import argparse
import os
import re
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "cli"))
from test_cli import Cli, Cluster, Tap, detail, finish  # noqa: E402,F401

__all__ = ["Cli", "Cluster", "Tap", "detail", "finish", "LayerTap", "shell_status",
           "check_ready", "check_no_panic", "Layer", "run_layer", "PANIC_RE"]

PANIC_RE = re.compile(r"\bpanic\b", re.I)


class LayerTap(Tap):
    """test_cli's Tap with the layer's name on the result lines and SKIP."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer
        self.subtests = {}  # result number -> [(ok, name, why)]: its cases

    def check_cases(self, name, cases, why=""):
        """One result for a group of cases [(ok, name, why)]: ok iff the
        group is not empty and every case passed. The cases go into the
        KTAP as an indented subtest (summary.py counts only the parent)."""
        bad = [c for c in cases if not c[0]]
        ok = bool(cases) and not bad
        if not why:
            why = (f"{len(bad)} of {len(cases)} cases failed: " +
                   "; ".join(f"{n}: {w}" if w else n for _, n, w in bad[:5]) if cases
                   else "no cases")
        self.subtests[len(self.results) + 1] = list(cases)
        return self.check(ok, f"{name} ({len(cases) - len(bad)}/{len(cases)})", why)

    def skip(self, name, why):
        self.results.append((True, name, "# SKIP " + why))
        print(f"skip   {name}: {why}", flush=True)

    def text(self):
        out = ["KTAP version 1", f"1..{len(self.results)}"]
        for i, (ok, name, why) in enumerate(self.results, 1):
            cases = self.subtests.get(i)
            if cases:
                out += ["    KTAP version 1", f"    1..{len(cases)}"]
                for j, (c_ok, c_name, c_why) in enumerate(cases, 1):
                    sub = f"    {'ok' if c_ok else 'not ok'} {j} {c_name}"
                    if not c_ok and c_why:
                        sub += " # " + " ".join(c_why.split())[:300]
                    out.append(sub)
            line = f"{'ok' if ok else 'not ok'} {i} {self.layer}: {name}"
            if why.startswith("# SKIP"):
                line += " " + " ".join(why.split())[:300]
            elif not ok and why:
                line += " # " + " ".join(why.split())[:300]
            out.append(line)
        return "\n".join(out) + "\n"


def shell_status(rc):
    """subprocess's returncode as the shell (and tessera run) reports it."""
    return 128 - rc if rc < 0 else rc


def check_ready(t, c):
    """Checks every node is ready; returns the node names."""
    doc = c.status()
    states = {n["name"]: n["state"] for n in (doc or {}).get("nodes", [])}
    t.check(states and all(s == "ready" for s in states.values()),
            "every node still ready", str(states))
    return sorted(states)


def check_no_panic(t, run_dir, nodes):
    """One check per node: its console log is there and says no "panic"."""
    for node in nodes:
        path = os.path.join(run_dir, f"{node}.log")
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except OSError as e:
            t.check(False, f"{node}.log is there", str(e))
            continue
        m = PANIC_RE.search(text)
        t.check(m is None, f"{node}.log: no panic",
                text[max(0, m.start() - 200):m.start() + 300] if m else "")


class Layer:
    """What run_layer hands the body: the options and the test's places."""

    def __init__(self, name, opts):
        self.name = name
        self.opts = opts
        self.build = os.path.abspath(opts.build_dir)
        self.out = opts.out or os.path.join(self.build, "results", f"{name}.tap")
        self.binary = os.path.join(self.build, "tools", "tessera")
        self.tmp = tempfile.mkdtemp(prefix=f"tessera-{name}-")
        self.run_dir = os.path.join(self.tmp, "run")
        self.cli = Cli(self.binary, self.tmp)
        self.t = LayerTap(name)


def run_layer(name, description, body, argv=None, add_options=None):
    """The main() of the layer `name` (its KTAP: results/NAME.tap): parses
    the options (add_options(parser) may add more), runs body(layer) and,
    whatever happens in it (an exception, SIGTERM, Ctrl-C: each a failed
    check), cleans up. Returns the exit status."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--build-dir", default=os.environ.get("TESSERA_BUILD", "build"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    if add_options:
        add_options(ap)
    lay = Layer(name, ap.parse_args(argv))
    t = lay.t
    start = time.monotonic()
    print(f"{name}-test: {lay.binary}, directory {lay.tmp}", flush=True)

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        body(lay)
    except KeyboardInterrupt as e:
        t.check(False, "not interrupted", str(e) or "Ctrl-C")
    except Exception as e:  # a bug in the test script must still clean up and report
        t.check(False, "test script ran to the end", repr(e))
    finally:
        finish(t, lay.cli, lay.run_dir, lay.tmp, lay.out, lay.opts.keep, f"{name}-test")
    failed = sum(not ok for ok, _, _ in t.results)
    print(f"{len(t.results) - failed} passed, {failed} failed "
          f"({name}-test, {time.monotonic() - start:.1f} s; results {lay.out})")
    return 0 if not failed else 1
