"""令49号 第42条 on a small demo store: the demo's past checks carry item codes and levels, so the county plan keeps
out of the food draws exactly the subjects a higher level checked on the item within 90 days with no problem found
since (recomputed here from the check_result rows), the plan records it under `no_repeat`, and it replays."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from engine import grading, planning
from engine import replay as replaying
from engine.catalogue import install_catalogue, load_catalogue
from engine.features.compute import PROBLEM_CODES
from engine.ledger import canonical
from engine.plan.select import target_expr
from engine.rules import Pack, load_pack
from engine.synth import get_profile, load_demo
from entities import store
from tests.helpers import TESTER

AS_OF = dt.date(2025, 12, 31)
SEED = "38147205519264810375"
WINDOW_START = dt.date(2026, 1, 1) - dt.timedelta(days=90)  # the period's first day, 90 days (food) back
HIGHER = {"city", "provincial", "national", None}  # above the county plan, or not recorded


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack(str(Path(__file__).parent.parent.parent / "rules" / "national"))


@pytest.fixture
def graded(store_url: str, pack: Pack) -> Iterator[sa.Engine]:
    engine = store.open_store(store_url)
    try:
        load_demo(engine, get_profile("jiedong", 2000), 5, AS_OF, now=dt.datetime(2026, 1, 1, 8, 0))
        with engine.begin() as conn:
            install_catalogue(conn, load_catalogue())
            grading.grade_store(conn, pack, AS_OF, created_at=dt.datetime(2026, 1, 2, 9, 0), actor=TESTER)
        yield engine
    finally:
        engine.dispose()


def expected_no_repeat(conn: sa.Connection, subjects: pl.DataFrame, pack: Pack, code: str) -> set[str]:
    """The item's subjects the rule keeps out, from the stored rows, written out plainly."""
    item = next(i for i in planning.check_items(conn) if i.code == code)
    policy = planning.policy_for(pack, None)
    population = subjects.filter(target_expr(item, subjects.schema))
    # Earlier reasons count first: an ended registration (the national policy has no other earlier one).
    live = set(population.filter(~pl.col("status").is_in(list(policy.excluded_statuses)))["uscc"].to_list())
    t = store.table("check_result")
    higher: dict[str, dt.date] = {}
    found: dict[str, dt.date] = {}
    for r in conn.execute(sa.select(t).where(t.c.item_code == code, t.c.checked_on <= AS_OF)).mappings():
        day = r["checked_on"]
        if set(r["result_codes"]) & PROBLEM_CODES:
            found[r["uscc"]] = max(day, found.get(r["uscc"], day))
        if r["level"] in HIGHER and not r["id"].startswith("R-") and day > WINDOW_START:
            higher[r["uscc"]] = max(day, higher.get(r["uscc"], day))
    return {u for u, day in higher.items() if u in live and (u not in found or found[u] < day)}


def test_the_county_plan_leaves_out_what_a_higher_level_checked(graded: sa.Engine, pack: Pack) -> None:
    period = planning.parse_period("2026")
    with graded.begin() as conn:
        made, run, tables = planning.plan_from_store(conn, pack, seed=SEED, period=period, as_of=AS_OF, regions=None)
        kept = tables["subjects"]  # the snapshot's subjects, kept as Parquet bytes through the plan (issue 15)
        assert isinstance(kept, canonical.ParquetFrame)
        subjects = kept.whole()
        food = [i.code for i in made.items if i.domain == "food"]
        assert sorted(food) == ["SP-CY-01", "SP-SC-01", "SP-XS-01"]
        counts = {code: made.item(code).exclusions["no_repeat"] for code in food}
        for code in food:
            assert counts[code] == len(expected_no_repeat(conn, subjects, pack, code)), code
        assert sum(counts.values()) > 0  # the rule acts on the demo
        t = store.table("check_result")
        assert set(conn.execute(sa.select(t.c.level).distinct()).scalars()) == {
            "national",
            "provincial",
            "city",
            "county",
        }
        plan_id, _ = planning.save_plan(
            conn,
            made,
            run,
            pack=pack,
            tables=tables,
            seed=SEED,
            regions=None,
            items=None,
            period=period,
            as_of=AS_OF,
            created_at=dt.datetime(2026, 1, 3, 9, 0),
            actor=TESTER,
        )
    with graded.connect() as conn:
        report = replaying.replay(conn, plan_id)
    assert report.identical, report.notes
    # The same checks with their levels erased all count (not recorded = a higher level): more are left out.
    with graded.begin() as conn:
        conn.execute(sa.update(store.table("check_result")).values(level=None))
        unknown, _, _ = planning.plan_from_store(conn, pack, seed=SEED, period=period, as_of=AS_OF, regions=None)
    erased = {code: unknown.item(code).exclusions["no_repeat"] for code in food}
    assert all(erased[c] >= counts[c] for c in food) and sum(erased.values()) > sum(counts.values())
