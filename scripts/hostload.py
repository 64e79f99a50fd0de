"""What the build host did while a benchmark ran: its load average and
the shares of its CPU time that were busy and stolen by its own host.
On the 2-core TCG build machine the host's scheduling comes in stretches
of fast and slow, and runs with much steal are not comparable; the
benchmarks (scripts/bench_memory.py, scripts/bench_storage.py) print
this next to their figures so a reader can tell. Used as a module only.

    a = host_sample(); ...measure...; print(host_line("the run", a, host_sample()))
"""
import os


def host_sample():
    """(load average over 1 min, /proc/stat's cpu line: user nice system
    idle iowait irq softirq steal, in ticks), or None off Linux."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
        return os.getloadavg()[0], ticks
    except (OSError, ValueError):
        return None


def host_line(what: str, a, b) -> str:
    """What the host did between samples a and b (host_sample's), as one
    indented line: its load average, the share of its CPU time that was
    busy, and the share stolen from it by its own host."""
    if not a or not b:
        return f"  host during {what}: (not known)"
    d = [y - x for x, y in zip(a[1], b[1])]
    total = sum(d) or 1
    busy = total - d[3] - d[4] - d[7]
    return (f"  host during {what}: load average {a[0]:.2f} -> {b[0]:.2f}, CPU busy "
            f"{100 * busy / total:.0f}%, stolen {100 * d[7] / total:.0f}% "
            f"({os.cpu_count()} CPUs)")
