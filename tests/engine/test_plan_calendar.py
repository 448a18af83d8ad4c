"""The working-day calendar as a recorded input of a plan: `plan_from_store(calendar_files=...)` records the
days of the period's years in the snapshot, replay rebuilds them from there (the file may be gone, the library may change),
plans recorded without a calendar replay as before, and a period no calendar covers is one line, nothing written."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import grading, planning
from engine import replay as replaying
from engine.ledger import chain, snapshot
from engine.plan.calendar import CalendarFile, RecordedCalendar, WorkCalendar
from engine.plan.dates import date_visits
from engine.rules import load_pack
from entities import store
from entities.errors import InputError
from tests.helpers import TESTER, load_jiedong, run_cli
from tests.store_template import StoreCopies

AS_OF = dt.date(2025, 12, 31)
NOW = dt.datetime(2026, 1, 5, 9, 30)
SEED = "38147205519264810375"
RULES = Path(__file__).resolve().parents[2] / "rules"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "calendar" / "test-2027.csv"
LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "stores" / "ledger-0.1.0.db"
LEGACY_PLANS = ("P2026-09056c35e1", "P2027-aba5ed902c", "P2026Q3-fdba211818")


@pytest.fixture
def demo(store_url: str, store_copies: StoreCopies) -> Iterator[sa.Engine]:
    store_copies.fill(store_url, "jiedong 400 graded (plan calendar)", lambda: _grade(store_url))
    engine = store.open_store(store_url)
    yield engine
    engine.dispose()


def _grade(url: str) -> None:
    load_jiedong(url, 400, AS_OF, NOW)
    engine = store.open_store(url)
    try:
        pack = load_pack(RULES / "national")
        with engine.begin() as conn:
            grading.grade_store(conn, pack, AS_OF, created_at=NOW, actor=TESTER)
    finally:
        engine.dispose()


def commit(engine: sa.Engine, label: str, files: list[Path]) -> tuple[str, dict[str, object]]:
    pack = load_pack(RULES / "national")
    period = planning.parse_period(label)
    with engine.begin() as conn:
        made, run, tables = planning.plan_from_store(
            conn, pack, seed=SEED, period=period, as_of=AS_OF, regions=None, calendar_files=files
        )
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
            created_at=NOW,
            actor=TESTER,
        )
    return plan_id, tables


def test_a_plan_with_a_calendar_file_replays_identically_after_the_file_is_gone(
    demo: sa.Engine, tmp_path: Path
) -> None:
    given = tmp_path / "2027.csv"
    shutil.copy(FIXTURE, given)
    plan_id, tables = commit(demo, "2027Q4", [given])
    days = tables["calendar"]
    assert isinstance(days, list) and len(days) == 365  # one row per day of the period's year
    by_day = {r["date"]: r for r in days}
    assert by_day["2027-10-01"]["working"] is False and by_day["2027-10-01"]["holiday"] == "国庆"
    assert by_day["2027-10-09"]["working"] is True  # the fixture's make-up Saturday
    sha = CalendarFile.read(FIXTURE).sha256
    assert {r["source"] for r in days} == {f"{CalendarFile.read(FIXTURE).source} (file sha256:{sha})"}
    given.unlink()

    with demo.connect() as conn:
        report = replaying.replay(conn, plan_id)
        entry = chain.find(conn, plan_id)
        assert entry is not None
        inputs = replaying.plan_inputs(conn, entry)
    assert report.identical, report.summary()
    assert isinstance(inputs.calendar, RecordedCalendar)
    q4 = (dt.date(2027, 10, 1), dt.date(2027, 12, 31))
    original = WorkCalendar([CalendarFile.read(FIXTURE)])
    assert inputs.calendar.working_days(*q4) == original.working_days(*q4)
    assert inputs.calendar.sources_between(*q4) == original.sources_between(*q4)
    # The visits dated with the rebuilt calendar are dated exactly as with the file.
    with demo.connect() as conn:
        _, made = planning.load_plan(conn, plan_id)
    policy = made.policy
    again = date_visits(
        made.visits, start=q4[0], end=q4[1], calendar=inputs.calendar, inspectors=inputs.inspectors, policy=policy
    )
    first = date_visits(
        made.visits, start=q4[0], end=q4[1], calendar=original, inspectors=inputs.inspectors, policy=policy
    )
    assert again == first and len(first.visits) == len(made.visits) and not first.unscheduled
    assert first.report.non_working_day_visits == 0 and first.report.over_capacity == 0
    assert not {v.scheduled_on for v in first.visits} & {dt.date(2027, 10, d) for d in (1, 4, 5)}


def test_a_plan_of_a_library_year_records_the_library_calendar(demo: sa.Engine) -> None:
    plan_id, tables = commit(demo, "2026Q4", [])
    days = tables["calendar"]
    assert isinstance(days, list) and len(days) == 365
    assert {r["source"] for r in days} == {WorkCalendar().version}
    off = [r["date"] for r in days if r["working"] is False and r["holiday"] == "National Day"]
    assert off == [f"2026-10-0{d}" for d in range(1, 8)]
    q3_id, _ = commit(demo, "2026Q3", [])
    with demo.connect() as conn:
        entry, q3 = chain.find(conn, plan_id), chain.find(conn, q3_id)
        assert entry is not None and q3 is not None
        stored = snapshot.load(conn, entry.get("snapshot_hash"), entry.schemes["snapshot"])
        assert replaying.replay(conn, plan_id).identical
    assert stored["calendar"] == days
    # The whole year is recorded, so the plans of one year share one snapshot (at city scale, hundreds of MB).
    assert q3.get("snapshot_hash") == entry.get("snapshot_hash")


def test_plans_recorded_without_a_calendar_replay_as_before(tmp_path: Path) -> None:
    # The 0.1.0 store's plans (suijian.plan/1) have no calendar table: their snapshots are read and hashed as
    # recorded, replay gives make_plan no calendar, and they replay identically.
    copy = tmp_path / "legacy.db"
    shutil.copy(LEGACY, copy)
    url = f"sqlite:///{copy}"
    assert run_cli("init", "--db", url)[0] == 0
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            for plan_id in LEGACY_PLANS:
                entry = chain.find(conn, plan_id)
                assert entry is not None
                assert "calendar" not in snapshot.load(conn, entry.get("snapshot_hash"), entry.schemes["snapshot"])
                assert replaying.plan_inputs(conn, entry).calendar is None
                assert replaying.replay(conn, plan_id).identical
    finally:
        engine.dispose()


def test_a_period_without_a_calendar_is_one_line_and_nothing_is_written(demo: sa.Engine, tmp_path: Path) -> None:
    pack = load_pack(RULES / "national")
    with demo.connect() as conn:
        before = chain.head(conn)
    with demo.begin() as conn, pytest.raises(InputError) as refused:
        planning.plan_from_store(
            conn,
            pack,
            seed=SEED,
            period=planning.parse_period("2028"),
            as_of=AS_OF,
            regions=None,
            calendar_files=[FIXTURE],
        )
    assert str(refused.value) == (
        "no working-day calendar for 2028: chinesecalendar 1.11.0 covers 2004–2026; give the State Council's 2028 "
        "holiday notice as a calendar file with --calendar FILE (CSV date,kind with kind holiday|workday and a "
        "`# source:` line)"
    )
    with demo.begin() as conn, pytest.raises(InputError, match=r"calendar file .*none\.csv: cannot read it"):
        planning.plan_from_store(
            conn,
            pack,
            seed=SEED,
            period=planning.parse_period("2026"),
            as_of=AS_OF,
            regions=None,
            calendar_files=[tmp_path / "none.csv"],
        )
    with demo.connect() as conn:
        assert chain.head(conn) == before
