"""The plan's three late stages (visit list, staffing, schedule) alone, on inputs dumped once from a real plan.

    python bench/plan_stages.py dump --db sqlite:///COPY.db --to DIR   # plan_from_store once, pickling each
                                                                        # stage's inputs and outputs to DIR
    python bench/plan_stages.py [--tree /work/main] run --from DIR [--stage visit|staff|schedule] [--repeat 3] [--cprofile 30]

`run` times each stage (CPU s, wall s) on the dumped inputs and checks its output equals the dumped one, so a
faster stage is shown to make the same decisions without a whole plan (≈ 2 min at guangzhou) each time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import pickle
import sys
import time
from pathlib import Path
from typing import Any

# `--tree DIR` (before the command): run another checkout's code on the same inputs, e.g. main's for a baseline.
_TREE = sys.argv[sys.argv.index("--tree") + 1] if "--tree" in sys.argv else str(Path(__file__).resolve().parent.parent)
sys.path.insert(0, _TREE)

SEED = "31415926535897932384626433"
STAGES = {"visit": "_visit_plan", "staff": "_staff", "schedule": "date_visits"}


def dump(url: str, to: Path) -> None:
    from commands.common import chosen_pack
    from engine import planning
    from engine.plan import fitted
    from entities import store

    to.mkdir(parents=True, exist_ok=True)
    for short, attr in STAGES.items():
        inner = getattr(fitted, attr)

        def wrapped(*args: Any, _inner: Any = inner, _short: str = short, **kwargs: Any) -> Any:
            out = _inner(*args, **kwargs)
            path = to / f"{_short}.pkl"
            if not path.exists():  # the first call (a re-fit with a margin would call again)
                with path.open("wb") as f:
                    pickle.dump((args, kwargs, out), f, protocol=pickle.HIGHEST_PROTOCOL)
            return out

        setattr(fitted, attr, wrapped)
    with chosen_pack(url, None) as pack:
        engine = store.open_store(url)
        with engine.connect() as conn:
            plan, _run, _tables = planning.plan_from_store(
                conn, pack, seed=SEED, period=planning.parse_period("2026"), as_of=dt.date(2025, 12, 31), regions=None
            )
        engine.dispose()
    print(f"visits {len(plan.visits):,}; dumped to {to}")


def same(a: Any, b: Any) -> bool:
    if hasattr(a, "__dataclass_fields__") and hasattr(b, "__dataclass_fields__"):
        return type(a).__name__ == type(b).__name__ and all(
            same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__
        )
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def run(src: Path, stages: list[str], cprofile: int, repeat: int = 1) -> None:
    from engine.plan import dates, fitted

    for short in stages:
        with (src / f"{short}.pkl").open("rb") as f:
            args, kwargs, expected = pickle.load(f)
        fn = dates.date_visits if short == "schedule" else getattr(fitted, STAGES[short])
        best = None
        for _ in range(repeat):  # the least CPU of `repeat` runs: a busy machine only ever adds to it
            gc.collect()
            gc.disable()
            prof = None
            if cprofile:
                import cProfile

                prof = cProfile.Profile()
                prof.enable()
            c0, t0 = time.process_time(), time.perf_counter()
            got = fn(*args, **kwargs)
            c1, t1 = time.process_time(), time.perf_counter()
            if prof:
                prof.disable()
            gc.enable()
            best = (c1 - c0, t1 - t0) if best is None or c1 - c0 < best[0] else best
        assert best is not None
        ok = same(got, expected)
        print(f"{short:9s} {best[0]:6.2f} CPU s  {best[1]:6.2f} s wall  same as dumped: {ok}", flush=True)
        if prof:
            import pstats

            pstats.Stats(prof).sort_stats("tottime").print_stats(cprofile)
        del got, expected, args, kwargs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", default=_TREE, help="the checkout whose engine runs (default: this one)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("--db", required=True)
    d.add_argument("--to", type=Path, required=True)
    r = sub.add_parser("run")
    r.add_argument("--from", dest="src", type=Path, required=True)
    r.add_argument("--stage", choices=list(STAGES), action="append")
    r.add_argument("--cprofile", type=int, default=0)
    r.add_argument("--repeat", type=int, default=1, help="runs per stage; the least CPU is shown")
    a = ap.parse_args()
    if a.cmd == "dump":
        dump(a.db, a.to)
    else:
        run(a.src, a.stage or list(STAGES), a.cprofile, a.repeat)


if __name__ == "__main__":
    main()
