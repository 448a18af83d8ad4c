"""A command's cost as a process tree: wall and CPU seconds (every descendant's), minor page faults and the peak RSS
of the whole tree (the feature workers, a JVM and its Python workers), for the benchmarks that run `suijian`
commands in their own processes (bench/grade.py --versus, bench/spark_grade.py)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE")


def children() -> dict[int, list[int]]:
    """Every process's children, by parent pid, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


TICK = os.sysconf("SC_CLK_TCK")


def tree_rss(pid: int, cpu: dict[int, float]) -> int:
    """The RSS of the process tree under `pid`; records each process's CPU seconds so far in `cpu`."""
    tree, total, todo = children(), 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm", encoding="utf-8") as f:
                total += int(f.read().split()[1]) * PAGE
            with open(f"/proc/{p}/stat", encoding="utf-8") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu[p] = (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
        except (OSError, IndexError, ValueError):
            pass
        todo.extend(tree.get(p, []))
    return total


def measured(
    args: list[str], env: dict[str, str] | None = None, quiet: bool = False, cwd: Path | None = None
) -> dict[str, float]:
    """Run a command (in `cwd`, default the project's folder); its wall and CPU seconds (with reaped descendants;
    also as user and system seconds of those), their minor page faults and its process tree's peak RSS. A command
    that fails ends the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(args, cwd=cwd or ROOT, env={**os.environ, **(env or {})}, stdout=out)
    peak = [0]
    seen: dict[int, float] = {}  # last CPU seconds sampled per process of the tree (a JVM may outlive its reaper)

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss(proc.pid, seen))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = proc.wait()
    sampler.join()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code:
        sys.exit(f"{' '.join(args)} failed with exit code {code}")
    reaped = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # Reaped descendants are counted exactly; processes nobody waited for only as last sampled (at most 0.2 s short).
    cpu = max(reaped, sum(seen.values()))
    return {
        "wall": wall,
        "cpu": cpu,
        "user": after.ru_utime - before.ru_utime,
        "sys": after.ru_stime - before.ru_stime,
        "faults": after.ru_minflt - before.ru_minflt,
        "peak_mb": peak[0] / 2**20,
        "load": os.getloadavg()[0],
    }
