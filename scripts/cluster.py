#!/usr/bin/env python3
"""A small library for booting a Tessera cluster on this host: fabricd plus
N QEMU VMs linked by it (DESIGN.md section 3), each VM with its own serial
log in a run directory. Used only by the storage benchmark
(scripts/bench_storage.py) now: the fabric cluster test and the fabric
benchmark boot through `tessera` (scripts/selftest_cluster.py).

    with Cluster(build_dir, run_dir, [Node(1, "n1", "p"), ...]) as c:
        c.start()                      # fabricd, then every VM
        c.wait_line(1, r"ready:")      # a serial line matching a regex
        c.control("drop * * 0.01")     # a fabricd control command -> reply
        c.send_line(1, "go")           # a line on the VM's serial input
        c.wait_exit(timeout)

Every process is started in a process group of its own and killed with its
group on every way out (the with block, an exception, SIGTERM/SIGHUP via
install_signal_handlers, and PR_SET_PDEATHSIG if this process is killed
outright). QEMU's serial console is its stdin/stdout (-serial stdio): one
reader thread per VM copies it to RUN_DIR/NAME.log and keeps the lines for
wait_line. fabricd's output goes to RUN_DIR/fabricd.log.

Guest command line: role=..., node=ID, name=NAME, peers=all ids, plus the
Node's extra words. Kernel side: docs/fabric.md.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu  # noqa: E402
import ktest  # noqa: E402  (process-group spawning and KTAP parsing)

WINDOW = "16M"



def _close_pipes(proc):
    """Closes a killed VM's stdin and stdout pipes, ignoring errors."""
    for f in (proc.stdin, proc.stdout):
        try:
            if f:
                f.close()
        except OSError:
            pass

class ClusterError(Exception):
    pass


@dataclass
class Node:
    id: int
    name: str
    role: str = "p"  # image letter: p, m, s, g
    extra: str = ""  # more kernel command-line words
    smp: int = 2
    mem: str = "256M"


@dataclass
class _Vm:
    node: Node
    proc: subprocess.Popen
    log_path: str
    lines: List[str] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    reader: Optional[threading.Thread] = None
    eof: bool = False


class Cluster:
    def __init__(self, build_dir: str, run_dir: str, nodes: List[Node],
                 window: str = WINDOW, fabricd_args: Optional[List[str]] = None):
        self.build_dir = build_dir
        self.run_dir = os.path.abspath(run_dir)
        self.nodes = nodes
        self.window = window
        self.fabricd_args = fabricd_args or []
        self.fabricd: Optional[subprocess.Popen] = None
        self.vms: Dict[int, _Vm] = {}
        self.fabricd_bin = os.path.join(build_dir, "tools", "fabricd")

    # ------------------------------------------------------------ lifetime

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self, ready_timeout: float = 20):
        os.makedirs(self.run_dir, exist_ok=True)
        for f in os.listdir(self.run_dir):
            if f.endswith(".sock"):
                os.unlink(os.path.join(self.run_dir, f))
        self.start_fabricd(ready_timeout)
        for n in self.nodes:
            self.start_vm(n)
        # Threads only now: fork with preexec_fn is not safe while other
        # threads run.
        threading.Thread(target=self._drain_fabricd, daemon=True).start()
        for vm in self.vms.values():
            vm.reader = threading.Thread(target=self._read_vm, args=(vm,), daemon=True)
            vm.reader.start()

    def start_fabricd(self, ready_timeout: float):
        if not os.access(self.fabricd_bin, os.X_OK):
            raise ClusterError(f"{self.fabricd_bin} missing: make BUILD={self.build_dir} "
                               f"{self.fabricd_bin}")
        cmd = [self.fabricd_bin, "--dir", self.run_dir]
        for n in self.nodes:
            cmd += ["--node", f"{n.id}:{n.name}:{self.window}"]
        cmd += self.fabricd_args
        log = open(os.path.join(self.run_dir, "fabricd.log"), "wb")
        self.fabricd = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=log, start_new_session=True,
                                        preexec_fn=ktest._die_with_parent)
        log.close()
        deadline = time.monotonic() + ready_timeout
        out = b""
        os.set_blocking(self.fabricd.stdout.fileno(), False)
        while time.monotonic() < deadline:
            if self.fabricd.poll() is not None:
                raise ClusterError(f"fabricd exited with {self.fabricd.returncode}; "
                                   f"see {self.run_dir}/fabricd.log")
            try:
                chunk = os.read(self.fabricd.stdout.fileno(), 4096)
            except BlockingIOError:
                chunk = None
            if chunk:
                out += chunk
                if b"fabricd: ready" in out:
                    return
            else:
                time.sleep(0.02)
        raise ClusterError("fabricd did not print 'fabricd: ready' in time")

    def _drain_fabricd(self):
        fd = self.fabricd.stdout.fileno()
        os.set_blocking(fd, True)
        with open(os.path.join(self.run_dir, "fabricd.log"), "ab") as log:
            while True:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    return
                if not data:
                    return
                log.write(data)
                log.flush()

    def cmdline(self, n: Node) -> str:
        peers = ",".join(str(m.id) for m in self.nodes)
        return qemu.default_cmdline(n.role, n.id, f"name={n.name} peers={peers} {n.extra}")

    def restart_vm(self, node_id: int, extra: Optional[str] = None) -> str:
        """Kills node_id's VM (as a crash would) and boots it again, with
        extra as its new extra command-line words if given. The old serial
        log is kept as NAME.lifeK.log; returns its path."""
        vm = self.vms[node_id]
        ktest.kill_group(vm.proc)
        if vm.reader:
            vm.reader.join(timeout=5)
        _close_pipes(vm.proc)
        life = 1
        while os.path.exists(f"{os.path.splitext(vm.log_path)[0]}.life{life}.log"):
            life += 1
        old = f"{os.path.splitext(vm.log_path)[0]}.life{life}.log"
        os.rename(vm.log_path, old)
        n = vm.node
        if extra is not None:
            n = Node(n.id, n.name, n.role, extra, n.smp, n.mem)
        self.start_vm(n, safe_fork=True)
        new = self.vms[node_id]
        new.reader = threading.Thread(target=self._read_vm, args=(new,), daemon=True)
        new.reader.start()
        return old

    def start_vm(self, n: Node, safe_fork: bool = False):
        image = os.path.join(self.build_dir, f"tessera-{n.role}.elf")
        sock = os.path.join(self.run_dir, f"{n.name}.sock")
        extra = ["-chardev", f"socket,path={sock},id=fab",
                 "-device", "ivshmem-doorbell,chardev=fab,vectors=1"]
        cmd = qemu.argv(image, cmdline=self.cmdline(n), smp=n.smp, mem=n.mem,
                        serial="stdio", extra=extra)
        log_path = os.path.join(self.run_dir, f"{n.name}.log")
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=open(os.path.join(self.run_dir, f"{n.name}.stderr"), "wb"),
                                start_new_session=True,
                                # no preexec_fn once threads run (fork safety)
                                preexec_fn=None if safe_fork else ktest._die_with_parent)
        self.vms[n.id] = _Vm(n, proc, log_path)

    def _read_vm(self, vm: _Vm):
        partial = b""
        with open(vm.log_path, "wb") as log:
            while True:
                try:
                    data = os.read(vm.proc.stdout.fileno(), 65536)
                except OSError:
                    data = b""
                if not data:
                    break
                log.write(data)
                log.flush()
                partial += data
                *done, partial = partial.split(b"\n")
                if done:
                    new = ktest.clean_lines(b"\n".join(done).decode("utf-8", "replace") + "\n")
                    with vm.cond:
                        vm.lines.extend(new)
                        vm.cond.notify_all()
        with vm.cond:
            if partial:
                vm.lines.extend(ktest.clean_lines(partial.decode("utf-8", "replace")))
            vm.eof = True
            vm.cond.notify_all()

    def stop(self):
        """Kills every VM and fabricd (their process groups) and reaps them.
        Safe to call more than once."""
        for vm in self.vms.values():
            ktest.kill_group(vm.proc)
            _close_pipes(vm.proc)
        if self.fabricd is not None:
            ktest.kill_group(self.fabricd)
            try:
                self.fabricd.stdout.close()
            except OSError:
                pass
        for vm in self.vms.values():
            if vm.reader:
                vm.reader.join(timeout=5)

    # ------------------------------------------------------------ talking

    def control(self, command: str, timeout: float = 10) -> str:
        """Sends one command line to fabricd's control socket; returns its
        reply line. Raises ClusterError unless the reply starts with 'ok'."""
        path = os.path.join(self.run_dir, "control.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            s.sendall(command.encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
        line = reply.decode("utf-8", "replace").strip()
        if not line.startswith("ok"):
            raise ClusterError(f"fabricd control '{command}': {line or 'no reply'}")
        return line

    def send_line(self, node_id: int, text: str):
        vm = self.vms[node_id]
        try:
            vm.proc.stdin.write(text.encode() + b"\n")
            vm.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass  # the VM is gone; its log will say why

    def lines(self, node_id: int) -> List[str]:
        vm = self.vms[node_id]
        with vm.cond:
            return list(vm.lines)

    def wait_line(self, node_id: int, pattern: str, timeout: float, start: int = 0):
        """Waits for a serial line matching the regex (searched from line
        index start on). Returns (index, match), or (None, None) on timeout
        or when the VM's output ended."""
        rx = re.compile(pattern)
        vm = self.vms[node_id]
        deadline = time.monotonic() + timeout
        i = start
        with vm.cond:
            while True:
                while i < len(vm.lines):
                    m = rx.search(vm.lines[i])
                    if m:
                        return i, m
                    i += 1
                left = deadline - time.monotonic()
                if vm.eof or left <= 0:
                    return None, None
                vm.cond.wait(min(left, 0.5))

    def running(self, node_id: int) -> bool:
        return self.vms[node_id].proc.poll() is None

    def wait_exit(self, timeout: float) -> Dict[int, Optional[int]]:
        """Waits for every VM to exit; returns {id: exit status or None if
        still running at the timeout}."""
        deadline = time.monotonic() + timeout
        out = {}
        for nid, vm in self.vms.items():
            try:
                out[nid] = vm.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                out[nid] = None
        return out
