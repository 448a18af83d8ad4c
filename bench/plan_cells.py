"""The plan's cells step (`fitted.plan_cells`: eligibility, mandatory work, frequencies, `wide`, cells) alone, on
inputs dumped once from a real plan, with its CPU seconds and the process's peak RSS above the inputs.

    python bench/plan_cells.py dump --db sqlite:///COPY.db --to DIR   # plan_from_store up to the cells step
    python bench/plan_cells.py [--tree /work/main] run --from DIR [--check]

`dump` writes the subjects frame (Parquet) and the other arguments (pickle), and the cells the dumping tree made;
`run` (a fresh process: the peak is its own) loads them, calls plan_cells with the frame handed over, and prints CPU
s, wall s, the resident set before the call, the peak during it (both from /proc/self/status) and, with --check,
whether the cells, members and cell items equal the dumped ones.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import hashlib
import pickle
import sys
import time
from pathlib import Path
from typing import Any

# `--tree DIR` (before the command): run another checkout's code on the same inputs, e.g. main's for a baseline.
_TREE = sys.argv[sys.argv.index("--tree") + 1] if "--tree" in sys.argv else str(Path(__file__).resolve().parent.parent)
sys.path.insert(0, _TREE)

SEED = "31415926535897932384626433"


class _Stop(Exception):
    pass


def _status(field: str) -> float:
    """A field of /proc/self/status in GB (VmRSS now, VmHWM the peak since the last reset)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1e6
    return 0.0


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def dump(url: str, to: Path) -> None:
    from commands.common import chosen_pack
    from engine import planning
    from engine.plan import fitted
    from entities import store

    to.mkdir(parents=True, exist_ok=True)
    inner = fitted.plan_cells

    def wrapped(frame: Any, *args: Any, **kwargs: Any) -> Any:
        frame = fitted.taken(frame)
        frame.write_parquet(to / "frame.parquet")
        with (to / "args.pkl").open("wb") as f:
            pickle.dump((args, kwargs), f, protocol=pickle.HIGHEST_PROTOCOL)
        out = inner(frame, *args, **kwargs)
        with (to / "cells.pkl").open("wb") as f:
            pickle.dump((out.cells, out.cell_items, out.members), f, protocol=pickle.HIGHEST_PROTOCOL)
        raise _Stop

    fitted.plan_cells = wrapped  # type: ignore[assignment]
    with chosen_pack(url, None) as pack:
        engine = store.open_store(url)
        with engine.connect() as conn, contextlib.suppress(_Stop):
            planning.plan_from_store(
                conn,
                pack,
                seed=SEED,
                period=planning.parse_period("2026"),
                as_of=dt.date(2025, 12, 31),
                regions=None,
            )
        engine.dispose()
    print(f"dumped to {to}")


def run(src: Path, check: bool) -> None:
    import polars as pl

    from engine.plan import fitted

    frame = pl.read_parquet(src / "frame.parquet")
    with (src / "args.pkl").open("rb") as f:
        args, kwargs = pickle.load(f)
    gc.collect()
    before = _status("VmRSS")
    _reset_peak()
    gc.disable()
    c0, t0 = time.process_time(), time.perf_counter()
    got = fitted.plan_cells(fitted.Handover(frame), *args, **kwargs)
    c1, t1 = time.process_time(), time.perf_counter()
    gc.enable()
    peak = _status("VmHWM")
    del frame
    line = f"cells {c1 - c0:6.2f} CPU s  {t1 - t0:6.2f} s wall  RSS before {before:.2f} GB, peak {peak:.2f} GB"
    line += f" (+{peak - before:.2f}); wide {got.wide.estimated_size() / 1e6:.0f} MB"
    # What the plan publishes per item from the cells step, as one digest (compare it across trees).
    published = sorted(
        (
            code,
            e.population,
            sorted(e.exclusions.items()),
            e.strata_by,
            sorted((s, str(v)) for s, v in e.strata.items()),
        )
        for code, e in got.eligibilities.items()
    )
    digest = hashlib.sha256(repr((published, sorted(got.eligible.items()))).encode()).hexdigest()[:16]
    line += f"; eligibility digest {digest}"
    if check:
        with (src / "cells.pkl").open("rb") as f:
            cells, cell_items, members = pickle.load(f)
        # The members' cell is text in dumps made before it was an Enum (issue 15): compared as text.
        as_text = [m.with_columns(m.get_column("cell").cast(pl.String)) for m in (got.members, members)]
        same = got.cells.equals(cells) and got.cell_items.equals(cell_items) and as_text[0].equals(as_text[1])
        line += f"; same cells as dumped: {same}"
    print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", default=_TREE, help="the checkout whose engine runs (default: this one)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("--db", required=True)
    d.add_argument("--to", type=Path, required=True)
    r = sub.add_parser("run")
    r.add_argument("--from", dest="src", type=Path, required=True)
    r.add_argument("--check", action="store_true")
    a = ap.parse_args()
    if a.cmd == "dump":
        dump(a.db, a.to)
    else:
        run(a.src, a.check)


if __name__ == "__main__":
    main()
