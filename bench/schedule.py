"""How fast the working-day schedule dates a plan's visits, and whether every visit finds a day.

Run: python bench/schedule.py --db URL            # the newest plan in a store (e.g. a `suijian demo` store)
     python bench/schedule.py --synthetic 325000  # a city's worth of staffed visits, built here

--db dates the visits of the store's newest plan with its roster (engine.plan.dates.date_visits, 2026 calendar
of the chinesecalendar library). --synthetic builds 9,000 certified inspectors with yearly capacities 40–120 (as
the demo rosters) and staffs two-person teams at random until the visits asked for are made or capacity runs out
(fixed seed), 3,000 townships. Prints, per batch setting (month, quarter), the scheduler's time, peak RSS and the
schedule report (unscheduled visits, visits on days off, busiest inspector-week against its capacity, township
switches per team-day).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.plan.calendar import WorkCalendar  # noqa: E402
from engine.plan.dates import date_visits  # noqa: E402
from engine.plan.model import Visit, VisitItem  # noqa: E402
from engine.plan.policy import PlanPolicy  # noqa: E402
from entities.models import InspectorCreate  # noqa: E402

YEAR = (dt.date(2026, 1, 1), dt.date(2026, 12, 31))


def synthetic(visits: int, seed: int = 7) -> tuple[list[Visit], list[InspectorCreate], PlanPolicy]:
    rng = random.Random(seed)
    people = [
        InspectorCreate(
            id=f"ZF{k:06d}",
            name=f"p{k}",
            unit="u",
            region="440111",
            certificate_no=f"C{k}",
            capacity=rng.choice([40, 60, 80, 100, 120]),
        )
        for k in range(9000)
    ]
    left = {p.id: p.capacity for p in people}
    ids = [p.id for p in people]
    item = (VisitItem("SP-CY-01", drawn=True, mandatory=False, stratum="s"),)
    out: list[Visit] = []
    while len(out) < visits:
        a, b = rng.sample(ids, 2)
        if left[a] < 1 or left[b] < 1:
            ids = [i for i in ids if left[i] > 0]
            if len(ids) < 2:
                break
            continue
        left[a] -= 1
        left[b] -= 1
        n = len(out) + 1
        out.append(
            Visit(
                id=f"S{n:08d}",
                uscc=f"S{n:08d}",
                region=f"440111{rng.randrange(3000):03d}",
                items=item,
                team=(a, b),
                lead=a,
                experts=(),
                due_from=YEAR[0],
                due_to=YEAR[1],
                priority=n,
                risk=None,
            )
        )
    return out, people, PlanPolicy()


def from_store(url: str) -> tuple[list[Visit], list[InspectorCreate], PlanPolicy]:
    import sqlalchemy as sa

    from engine import planning

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        plan_id, plan = planning.load_plan(conn, None)
        inspectors, _ = planning.roster(conn)
    engine.dispose()
    print(f"plan {plan_id}: {len(plan.visits):,} visits, {len(inspectors):,} inspectors")
    return list(plan.visits), inspectors, plan.policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--db", help="a store URL: date its newest plan's visits")
    source.add_argument("--synthetic", type=int, metavar="VISITS", help="date this many synthetic visits")
    args = parser.parse_args()
    visits, people, policy = from_store(args.db) if args.db else synthetic(args.synthetic)
    print(f"{len(visits):,} visits, {sum(len(v.team) for v in visits):,} inspector-visits")
    start, end = min(v.due_from for v in visits), max(v.due_to for v in visits)
    for batches in ("month", "quarter"):
        t = time.perf_counter()
        dated = date_visits(
            visits,
            start=start,
            end=end,
            calendar=WorkCalendar(),
            inspectors=people,
            policy=policy.model_copy(update={"batches": batches}),
        )
        seconds = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"batches={batches}: date_visits {seconds:.1f} s, peak RSS {peak:,.0f} MB")
        print(f"  {dated.report.to_dict()}")


if __name__ == "__main__":
    main()
