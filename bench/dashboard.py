"""The supervisor's dashboard read model (engine/dashboard.py): a cold read, a cached read, and the baseline every
cached read pays (the store-state key: the ledger head and two row counts), measured in the same run on a store.

    python bench/dashboard.py --db sqlite:////tmp/jd.db --as-of 2026-04-20 [--repeat 20]

Prints seconds and the peak RSS after each step; read ratios, not seconds (the machine is shared).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import statistics
import time

from engine import dashboard
from engine.plan.calendar import WorkCalendar
from entities import store


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="the store (a demo store with a plan)")
    parser.add_argument("--as-of", default="2026-04-20")
    parser.add_argument("--repeat", type=int, default=20, help="cached reads and key reads timed")
    args = parser.parse_args()
    as_of = dt.date.fromisoformat(args.as_of)
    calendar = WorkCalendar()
    engine = store.open_store(args.db)
    try:
        with engine.connect() as conn:
            start = time.perf_counter()
            board = dashboard.cached_dashboard(conn, calendar, as_of)
            cold = time.perf_counter() - start
            print(f"cold read:   {cold:8.3f} s  peak RSS {rss_mb():7.0f} MB", flush=True)
            plan = board["plan"] or {}
            print(
                f"  plan {plan.get('id')}: {plan.get('coverage', {}).get('visits_planned')} visits; "
                f"{board['due']['pending']} due ({board['due']['overdue']} overdue); "
                f"{board['followups']['waiting']} follow-ups waiting"
            )
            keys, hits = [], []
            for _ in range(args.repeat):
                t = time.perf_counter()
                dashboard.state_key(conn)
                keys.append(time.perf_counter() - t)
                t = time.perf_counter()
                again = dashboard.cached_dashboard(conn, calendar, as_of)
                hits.append(time.perf_counter() - t)
                assert again is board
            key, hit = statistics.median(keys), statistics.median(hits)
            print(f"baseline (store-state key): {1000 * key:8.2f} ms median of {args.repeat}")
            print(f"cached read: {1000 * hit:8.2f} ms median of {args.repeat}; cold / cached = {cold / hit:,.0f}×")
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
