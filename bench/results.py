"""Recording and publishing the results of a city-size plan: `results import` of one file and `publish results`, next
to a one-visit-at-a-time baseline (`results record` per visit) measured in the same run.

Run: python bench/results.py [--visits 316171] [--items-per-visit 1.4] [--baseline-sample 500] [--db URL]

The store is built here, without the generator or the planner (they are benchmarked elsewhere): one plan row of the
guangzhou 2026 plan's size (316,171 visits, README), its plan_visit rows, the subjects they visit; then a results CSV
with one row per visit and item (completion dates spread over the year, 8 % with a finding and a 责令改正), as the
filled-in task list gives it. Times: reading + validating + writing the file (one batch, one ledger entry);
publishing every result (XLSX + CSV + rows + entry); `audit verify` of those entries. The baseline records
--baseline-sample visits one `record_one` call (one transaction, one ledger entry) each, the way an inspector's
form would, and is extrapolated linearly. Peak RSS from resource.getrusage.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import resource
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.audit import verify  # noqa: E402
from engine.plan.calendar import WorkCalendar  # noqa: E402
from engine.results import intake, publishing  # noqa: E402
from engine.results.validate import HEADERS  # noqa: E402
from entities import store  # noqa: E402
from entities.identity import Identity, Role  # noqa: E402

PLAN_ID = "P2026-bench000000"
ITEMS = ("DJ-GS-01", "SP-XS-01", "CP-CJ-01", "SP-CY-01", "TZ-DT-01")
SUPERVISOR = Identity("基准 bench", Role.SUPERVISOR)
STAMP = dt.datetime(2026, 12, 31, 12, 0)


def cpu(since: float) -> str:
    """CPU seconds of this process since `since` (wall times mislead on a shared machine)."""
    return f"{time.process_time() - since:.1f} s CPU"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _with_check(body: str) -> str:
    from stdnum.cn import uscc as stdnum_uscc

    return body + stdnum_uscc.calc_check_digit(body)


def build_store(url: str, visits: int, items_per_visit: float, rng: np.random.Generator) -> list[tuple[str, list[str]]]:
    engine = store.make_engine(url)
    store.initialise(engine)
    plan_visits = []
    with engine.begin() as conn:
        document = zlib.compress(b'{"format": "bench"}')
        store.bulk_insert(
            conn,
            "plan",
            [
                {
                    "id": PLAN_ID,
                    "regions": "440103",
                    "period": "2026",
                    "period_start": dt.date(2026, 1, 1),
                    "period_end": dt.date(2026, 12, 31),
                    "as_of": dt.date(2025, 12, 31),
                    "seed": "bench",
                    "grade_run_id": "G-bench",
                    "pack_hash": "0" * 64,
                    "visits": visits,
                    "sha256": "0" * 64,
                    "document": document,
                    "created_at": STAMP,
                }
            ],
        )
        counts = rng.poisson(items_per_visit - 1, visits) + 1
        subjects, rows = [], []
        for n in range(visits):
            u = _with_check(f"91440101MA{n:07d}")
            items = list(ITEMS[: min(int(counts[n]), len(ITEMS))])
            plan_visits.append((u, items))
            subjects.append(
                {
                    "uscc": u,
                    "name": f"广州市基准{n}号有限公司",
                    "kind": "enterprise",
                    "industry": "F",
                    "region": "440103001",
                    "address": "",
                    "registered_on": dt.date(2015, 1, 1),
                    "status": "active",
                    "whitelist": False,
                    "lenient": False,
                }
            )
            rows.append(
                {
                    "plan_id": PLAN_ID,
                    "visit_id": u,
                    "uscc": u,
                    "region": "440103001",
                    "items": items,
                    "team": ["ZF0001", "ZF0002"],
                    "lead": "ZF0001",
                    "scheduled_on": None,
                    "due_on": dt.date(2026, 12, 31),
                    "status": "planned",
                }
            )
        store.bulk_insert(conn, "subject", subjects)
        store.bulk_insert(conn, "plan_visit", rows)
    engine.dispose()
    return plan_visits


def write_results(path: Path, plan_visits: list[tuple[str, list[str]]], rng: np.random.Generator) -> int:
    days = rng.integers(0, 300, len(plan_visits))
    found = rng.random(len(plan_visits)) < 0.08
    rows = 0
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([HEADERS[k] for k in ("plan_id", "visit_id", "uscc", "item_code", "completed_on",
                                               "result_codes", "findings", "measures", "deadline", "team")])  # fmt: skip
        for n, (u, items) in enumerate(plan_visits):
            done = dt.date(2026, 1, 5) + dt.timedelta(days=int(days[n]))
            for i, item in enumerate(items):
                if found[n] and i == 0:
                    deadline = (done + dt.timedelta(days=20)).isoformat()
                    cells = ["3", "后厨未设防鼠设施", "责令改正", deadline]
                else:
                    cells = ["1", "", "", ""]
                writer.writerow([PLAN_ID, u, u, item, done.isoformat(), *cells, "ZF0001、ZF0002"])
                rows += 1
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, default=316_171)
    parser.add_argument("--items-per-visit", type=float, default=1.4)
    parser.add_argument("--baseline-sample", type=int, default=500)
    parser.add_argument("--db", default=None, help="store URL (default: a new SQLite file in a temporary folder)")
    args = parser.parse_args()
    rng = np.random.default_rng(20261231)
    folder = Path(tempfile.mkdtemp(prefix="suijian-results-bench-"))
    url = args.db or f"sqlite:///{folder / 'store.db'}"
    t, c = time.perf_counter(), time.process_time()
    plan_visits = build_store(url, args.visits, args.items_per_visit, rng)
    print(f"store: {args.visits:,} visits in {time.perf_counter() - t:.1f} s ({cpu(c)})", flush=True)
    sample = args.baseline_sample
    bulk_visits, base_visits = plan_visits[sample:], plan_visits[:sample]
    csv_path = folder / "results.csv"
    rows = write_results(csv_path, bulk_visits, rng)
    print(f"results file: {rows:,} rows ({csv_path.stat().st_size / 2**20:.1f} MB)", flush=True)

    engine = store.open_store(url)
    rss = peak_mb()
    t, c = time.perf_counter(), time.process_time()
    with engine.begin() as conn:
        done = intake.import_results(
            conn, csv_path, recorded_on=dt.date(2026, 12, 31), actor=SUPERVISOR, created_at=STAMP
        )
    bulk_s = time.perf_counter() - t
    print(
        f"results import: {done.recorded.visits:,} visits, {done.recorded.items:,} items in {bulk_s:.1f} s ({cpu(c)}) "
        f"({done.recorded.visits / bulk_s:,.0f} visits/s), peak RSS {peak_mb():,.0f} MB (before {rss:,.0f})",
        flush=True,
    )
    t, c = time.perf_counter(), time.process_time()
    with engine.begin() as conn:
        again = intake.import_results(
            conn, csv_path, recorded_on=dt.date(2026, 12, 31), actor=SUPERVISOR, created_at=STAMP
        )
    print(
        f"re-import of the same file: {again.unchanged:,} unchanged, nothing written, {time.perf_counter() - t:.1f} s ({cpu(c)})"
    )

    t, c = time.perf_counter(), time.process_time()
    for n, (u, items) in enumerate(base_visits):
        with engine.begin() as conn:
            intake.record_one(
                conn, plan_id=PLAN_ID, visit_id=u, items=items, codes=["1"],
                completed_on=dt.date(2026, 3, 2) + dt.timedelta(days=n % 200), recorded_on=dt.date(2026, 12, 31),
                actor=SUPERVISOR, created_at=STAMP,
            )  # fmt: skip
    base_s = time.perf_counter() - t
    rate = sample / base_s
    print(
        f"baseline, one `record_one` per visit: {sample:,} visits in {base_s:.1f} s ({cpu(c)}, {rate:,.1f} visits/s); "
        f"extrapolated to {len(bulk_visits):,} visits: {len(bulk_visits) / rate / 3600:.1f} h",
        flush=True,
    )

    calendar = WorkCalendar()
    t, c = time.perf_counter(), time.process_time()
    with engine.connect() as conn:
        pending = publishing.due(conn, calendar, dt.date(2026, 12, 31))
    print(f"results due: {len(pending):,} unpublished ({sum(d.overdue for d in pending):,} overdue) in "
          f"{time.perf_counter() - t:.1f} s ({cpu(c)})", flush=True)  # fmt: skip
    t, c = time.perf_counter(), time.process_time()
    with engine.begin() as conn:
        published = publishing.publish(conn, calendar, published_on=dt.date(2026, 12, 31), actor=SUPERVISOR,
                                       created_at=STAMP)  # fmt: skip
    pub_s = time.perf_counter() - t
    print(
        f"publish results: {len(published.records):,} records ({published.on_time:,} on time), XLSX "
        f"{len(published.xlsx) / 2**20:.1f} MB, CSV {len(published.csv) / 2**20:.1f} MB in {pub_s:.1f} s ({cpu(c)}), "
        f"peak RSS {peak_mb():,.0f} MB",
        flush=True,
    )
    t, c = time.perf_counter(), time.process_time()
    with engine.connect() as conn:
        report = verify(conn)
    print(f"audit verify: {report.entries} entries, {len(report.problems)} problem(s) (the bench plan row has no "
          f"entry) in {time.perf_counter() - t:.1f} s ({cpu(c)}), peak RSS {peak_mb():,.0f} MB")  # fmt: skip
    engine.dispose()


if __name__ == "__main__":
    main()
