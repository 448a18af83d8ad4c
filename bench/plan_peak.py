"""Where the plan's memory peaks, and what is alive there: `plan_from_store` run once in this process while a
thread samples the resident set and the main thread's stack.

    python bench/plan_peak.py --db sqlite:///COPY.db [--tree DIR] [--every 0.02] [--top 25]

Prints the peak (from /proc/self/status, VmHWM) with the line of the planner's code running when the sampler saw
it, then per sampled line (engine/ code only, the innermost engine frame) the highest resident set seen there, in
the order the lines were first reached, so the rises show which step holds what. At each new high (50 MB above
the last one kept) the sampler records the frames and Series the planner's frames hold (locals of every engine
frame on the stack, also inside lists, dicts and dataclasses one level down), by `estimated_size()`: a column
shared by two frames is counted under each, so read the list as "who holds what", not as a sum. The plan is not
committed. A measurement tool: the sampler reads another thread's frame locals, which is fine for a look, not for
production code.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

# `--tree DIR`: run another checkout's code (e.g. main's) on the same store.
_TREE = sys.argv[sys.argv.index("--tree") + 1] if "--tree" in sys.argv else str(Path(__file__).resolve().parent.parent)
sys.path.insert(0, _TREE)

_ENGINE = str(Path(_TREE).resolve() / "engine") + "/"
SEED = "31415926535897932384626"  # the seed of P2026-08226d7c85 (the lead's guangzhou plan)
STEP_MB = 50.0


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _rss_mb() -> float:
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _where(frame: FrameType | None) -> tuple[str, list[FrameType]]:
    """The innermost frame in engine/ code as 'file:line function', and the engine frames outermost first."""
    chain: list[FrameType] = []
    while frame is not None:
        if frame.f_code.co_filename.startswith(_ENGINE):
            chain.append(frame)
        frame = frame.f_back
    if not chain:
        return "(outside engine)", []
    top = chain[0]
    name = top.f_code.co_filename[len(_ENGINE) :]
    return f"engine/{name}:{top.f_lineno} {top.f_code.co_name}", chain[::-1]


def _sizes(value: Any, label: str, out: list[tuple[float, str]], depth: int = 0) -> None:
    import polars as pl

    if isinstance(value, pl.DataFrame | pl.Series):
        shape = f"{value.height:,}×{value.width}" if isinstance(value, pl.DataFrame) else f"{len(value):,}"
        out.append((value.estimated_size() / 2**20, f"{label} [{type(value).__name__} {shape}]"))
    elif depth < 2 and isinstance(value, dict):
        for k, v in list(value.items())[:400]:
            _sizes(v, f"{label}[{k!r}]", out, depth + 1)
    elif depth < 2 and isinstance(value, list | tuple):
        for i, v in enumerate(value[:400]):
            _sizes(v, f"{label}[{i}]", out, depth + 1)
    elif depth < 2 and dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _sizes(getattr(value, f.name, None), f"{label}.{f.name}", out, depth + 1)


class Sampler:
    def __init__(self, thread: threading.Thread, every: float, holders: bool = True) -> None:
        self.target, self.every, self.holders = thread, every, holders
        self.lines: dict[str, float] = {}
        self.peak, self.peak_at, self.kept_at = 0.0, "", 0.0
        self.alive: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            frame = sys._current_frames().get(self.target.ident or -1)
            line, chain = _where(frame)
            rss = _rss_mb()
            self.lines[line] = max(self.lines.get(line, 0.0), rss)
            if rss > self.peak:
                self.peak, self.peak_at = rss, line
                if self.holders and rss > self.kept_at + STEP_MB:
                    alive: list[tuple[float, str]] = []
                    for f in chain:
                        for name, value in list(f.f_locals.items()):
                            _sizes(value, f"{f.f_code.co_name}.{name}", alive)
                    self.kept_at, self.alive = rss, alive
                    self.alive_at = line


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True)
    ap.add_argument("--tree", default=_TREE)
    ap.add_argument("--every", type=float, default=0.02, help="seconds between samples")
    ap.add_argument("--top", type=int, default=25, help="objects listed at the peak")
    ap.add_argument(
        "--no-holders",
        action="store_true",
        help="do not list what the frames hold: reading another thread's frame locals keeps them alive until the "
        "frame syncs again, which can raise the peak it measures",
    )
    a = ap.parse_args()

    from commands.common import chosen_pack
    from engine import planning
    from entities import store

    sampler = Sampler(threading.current_thread(), a.every, holders=not a.no_holders)
    engine = store.open_store(a.db)
    with chosen_pack(a.db, None) as pack, engine.connect() as conn:
        sampler.start()
        c0, t0 = time.process_time(), time.perf_counter()
        plan, _run, _tables = planning.plan_from_store(
            conn, pack, seed=SEED, period=planning.parse_period("2026"), as_of=dt.date(2025, 12, 31), regions=None
        )
        c1, t1 = time.process_time(), time.perf_counter()
        sampler.stop()
    print(f"plan_from_store: {len(plan.visits):,} visits, CPU {c1 - c0:.1f} s, wall {t1 - t0:.1f} s")
    print(f"peak (VmHWM) {_status_mb('VmHWM'):,.0f} MB; highest sample {sampler.peak:,.0f} MB at {sampler.peak_at}")
    print("\nhighest resident set per line, in the order first reached (within 30 MB of the line before: left out):")
    last = -1e9
    for line, mb in sampler.lines.items():
        if abs(mb - last) >= 30:
            print(f"  {mb:8,.0f} MB  {line}")
            last = mb
    print(f"\nheld by the planner's frames at {sampler.kept_at:,.0f} MB ({getattr(sampler, 'alive_at', '')}):")
    for mb, label in sorted(sampler.alive, reverse=True)[: a.top]:
        print(f"  {mb:8,.1f} MB  {label}")


if __name__ == "__main__":
    main()
