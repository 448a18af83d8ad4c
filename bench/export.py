"""Benchmark: `suijian tasks export` and `suijian audit verify` on a store with a plan, streaming vs before.

    python bench/export.py --db sqlite:////tmp/h6/baiyun.db                  # csv, json, xlsx and verify
    python bench/export.py --db sqlite:////tmp/h6/baiyun.db --formats csv    # one format

Each variant runs in its own process (os.wait4 gives the child's own peak RSS), in the same run:
  streaming  what `suijian tasks export` runs now: engine.plan_stored.load (the document inflated, hashed and
             parsed a piece at a time, visits as columns), rows made and written to the file in pieces;
  before     the export it replaced (tests/engine/plan/legacy_export, the code at 0c63270) on the whole plan as
             engine.planning.load_plan reads it, the bytes built in memory, then written;
  floor      what any export must do: inflate and hash the plan document once, and read the subjects' names and
             addresses once (every subject's: the planned ones are known only once the document is parsed; no rows
             made, nothing written).
For `audit verify`: the command as it is now (no older variant is kept in the tree to run). The outputs of the
two export variants are compared (CSV and JSON byte for byte; XLSX sizes are printed, its cells are compared in
tests/engine/plan/test_export_streams.py, as openpyxl stamps the file with its clock).

Measured on this project's 2-core machine while other work ran (read the ratios), guangzhou profile (3.3 M subjects,
plan P2026-ce715f4037, 2026-12-05):

    step                         variant     seconds  peak MB        bytes
    tasks export --format csv    streaming     20.01      686  224,523,611
    tasks export --format csv    before        26.01     2037  224,523,611   same bytes
    floor (doc hash, all names)  floor         15.10      773
    tasks export --format json   streaming     50.72      655  446,127,595
    tasks export --format json   before        44.37     4026  446,127,595   same bytes
    audit verify                 now           46.19     1292
    audit verify at 0c63270 (the code before, same store, same verdict): 54.23 s, 4265 MB
    `suijian tasks export --format xlsx` (321,084 visits, 71 MB workbook with the 检查结果 sheet): 174.5 s, 714 MB
    (openpyxl's write-only writer, about 40,000 cells a second here, is the limit; not run in the "before" variant)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("streaming", "before", "floor")


def _worker(variant: str, db: str, fmt: str, out: str) -> None:
    """One variant in this process; prints `seconds bytes`."""
    sys.path.insert(0, str(ROOT))
    from engine import plan_stored, planning
    from engine.ledger import plan_reader, runs
    from engine.plan.export import export_chunks
    from engine.results import recheck_store, records
    from entities import store

    started = time.perf_counter()
    engine = store.open_store(db)
    with engine.connect() as conn:
        if variant == "floor":
            found = runs.plan_blob(conn, None)
            assert found is not None, "no plan in the store"
            read = plan_reader.read(found[1], parse=False)
            assert read.digest == found[2]
            names = runs.subject_info(conn, columns=("uscc", "name", "address", "region"))
            size = names.height
        elif variant == "streaming":
            stored = plan_stored.load(conn, None)
            items = planning.check_items(conn)
            inspectors, _ = planning.roster(conn)
            subjects = runs.subject_info(conn, stored.usccs(), columns=("uscc", "name", "address", "region"))
            period = stored.plan.period
            chunks = export_chunks(
                stored.plan,
                items,
                subjects,
                inspectors,
                format=fmt,
                plan_id=stored.id,
                townships=records.township_names(conn),
                rechecks=recheck_store.to_do(conn, (period.start, period.end)),
                visits=stored.visits,
            )
            size = 0
            with open(out, "wb") as f:
                for chunk in chunks:
                    f.write(chunk)
                    size += len(chunk)
        else:
            from tests.engine.plan import legacy_export

            pid, plan = planning.load_plan(conn, None)
            inspectors, _ = planning.roster(conn)
            data = legacy_export.export_tasks(
                plan,
                planning.check_items(conn),
                planning.plan_subject_details(conn, plan),
                inspectors,
                format=fmt,
                plan_id=pid,
                townships=records.township_names(conn),
                rechecks=recheck_store.to_do(conn, (plan.period.start, plan.period.end)),
            )
            Path(out).write_bytes(data)
            size = len(data)
    engine.dispose()
    print(f"{time.perf_counter() - started:.2f} {size}")


def _child(argv: list[str]) -> tuple[float, float, str]:
    """Run a child; (seconds, peak RSS in MB, its stdout)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as sink:
        p = subprocess.Popen(argv, cwd=ROOT, stdout=sink, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(p.pid, 0)
        sink.seek(0)
        text = sink.read().decode()
    if status != 0:
        raise SystemExit(f"{' '.join(argv)} failed (status {status})")
    return time.perf_counter() - started, usage.ru_maxrss / 1024, text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="store URL with a committed plan (the newest is exported)")
    ap.add_argument("--formats", default="csv,json,xlsx", help="comma-separated formats (default: all three)")
    ap.add_argument("--no-verify", action="store_true", help="skip `suijian audit verify`")
    ap.add_argument("--worker", nargs=4, metavar=("VARIANT", "DB", "FORMAT", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        _worker(*args.worker)
        return 0
    if not args.db:
        ap.error("--db is required")
    print(f"{'step':<28} {'variant':<10} {'seconds':>8} {'peak MB':>8} {'bytes':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.formats.split(","):
            outputs = {}
            for variant in VARIANTS:
                if variant == "floor" and fmt != args.formats.split(",")[0]:
                    continue  # the same for every format
                out = str(Path(tmp) / f"{variant}.{fmt}")
                _, peak, text = _child([sys.executable, __file__, "--worker", variant, args.db, fmt, out])
                seconds, size = text.split()[-2:]
                label = "floor (doc hash, all names)" if variant == "floor" else f"tasks export --format {fmt}"
                print(f"{label:<28} {variant:<10} {float(seconds):8.2f} {peak:8.0f} {int(size):>12,}")
                outputs[variant] = Path(out)
            new, old = outputs["streaming"].read_bytes(), outputs["before"].read_bytes()
            if fmt == "xlsx":  # the core properties' modified time is openpyxl's clock: cells are compared in the tests
                print(
                    f"{'':<28} {'':<10} sizes {len(new):,} and {len(old):,} (cells: tests/engine/plan/test_export_streams.py)"
                )
            else:
                print(f"{'':<28} {'':<10} same bytes: {new == old}")
        if not args.no_verify:
            cli = str(Path(sys.executable).with_name("suijian"))
            took, peak, _ = _child([cli, "audit", "verify", "--db", args.db])
            print(f"{'audit verify':<28} {'now':<10} {took:8.2f} {peak:8.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
