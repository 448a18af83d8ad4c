"""`suijian plan --calendar FILE`: a year the holiday library does not cover is planned with the State Council's
notice as a file, the plan replays after the file is gone, and a missing or bad calendar is one line with
nothing written. `schedule_lines` prints a fitted plan's schedule block."""

from __future__ import annotations

import shutil
from pathlib import Path

import chinese_calendar
import pytest
import sqlalchemy as sa

from commands.views import schedule_lines
from engine.ledger import chain
from entities import store
from tests.helpers import load_demo_store, run_cli
from tests.store_template import StoreCopies

SEED = "38147205519264810375"
FIXTURE = Path(__file__).parent.parent / "fixtures" / "calendar" / "test-2027.csv"
LIBRARY = f"chinesecalendar {chinese_calendar.__version__}"


def head(url: str) -> tuple[int, str]:
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            return chain.head(conn)
    finally:
        engine.dispose()


@pytest.fixture
def graded(store_url: str, store_copies: StoreCopies, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    store_copies.fill(store_url, "demo 300 graded (plan calendar)", lambda: _grade(store_url))
    return store_url


def _grade(store_url: str) -> None:
    load_demo_store(store_url, 300)
    code, _, err = run_cli("grade", "--as-of", "2025-12-31", "--db", store_url)
    assert code == 0, err


def plan(url: str, period: str, *extra: str) -> tuple[int, str, str]:
    return run_cli("plan", "--as-of", "2025-12-31", "--period", period, "--seed", SEED, "--db", url, *extra)


def test_a_2027_plan_with_the_notice_as_a_file_replays_after_the_file_is_gone(graded: str, tmp_path: Path) -> None:
    notice = tmp_path / "2027.csv"
    shutil.copy(FIXTURE, notice)
    code, out, err = plan(graded, "2027", "--calendar", str(notice))
    assert (code, err) == (0, ""), out + err
    plan_id = out.split("Committed plan ", 1)[1].split(":", 1)[0]
    notice.unlink()
    code, out, err = run_cli("replay", plan_id, "--db", graded)
    assert code == 0 and "identical" in out.splitlines()[0], out + err


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            [],
            f"Error: no working-day calendar for 2028: {LIBRARY} covers 2004–2026; give the State Council's 2028 holiday "
            "notice as a calendar file with --calendar FILE (CSV date,kind with kind holiday|workday and a `# source:` "
            "line)\n",
        ),
        (
            ["missing.csv"],
            "Error: calendar file missing.csv: cannot read it (No such file or directory)\n",
        ),
        (
            ["bad.csv"],
            "Error: bad.csv:3: kind 'off' must be holiday or workday\n",
        ),
        (
            ["2027.csv", "2027-again.csv"],
            "Error: calendar files 2027.csv and 2027-again.csv both give 2027; give one\n",
        ),
    ],
)
def test_a_missing_or_bad_calendar_is_one_line_and_nothing_is_written(
    graded: str, files: list[str], message: str
) -> None:
    Path("bad.csv").write_text("# source: 国办发明电〔2027〕1号\ndate,kind\n2028-01-01,off\n", encoding="utf-8")
    shutil.copy(FIXTURE, "2027.csv")
    shutil.copy(FIXTURE, "2027-again.csv")
    before = head(graded)
    code, out, err = plan(graded, "2028", *[a for f in files for a in ("--calendar", f)])
    assert (code, out, err) == (1, "", message)
    assert head(graded) == before
    engine = sa.create_engine(graded)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM plan")).scalar() == 0
    finally:
        engine.dispose()


def test_the_schedule_line_of_a_plan_summary() -> None:
    block = {
        "scheduled": 5078,
        "unscheduled": 0,
        "non_working_day_visits": 0,
        "max_weekly_load": 3,
        "max_weekly_load_capacity": 3,
        "max_weekly_share": 1.0,
        "over_capacity": 0,
        "team_days": 5012,
        "township_switches": 28,
        "township_switches_per_team_day": 0.005587,
        "max_township_switches": 1,
        "calendar": ["chinesecalendar==1.11.0"],
    }
    assert schedule_lines({"schedule": block}) == [
        "排期 Schedule: 5,078 visits on working days (0 on days off); busiest inspector-week 3 of capacity 3 "
        "(0 inspector-weeks over); township switches 0.01 per team-day (most 1); calendar chinesecalendar==1.11.0."
    ]
    assert schedule_lines({"schedule": {**block, "unscheduled": 2}})[0].startswith(
        "排期 Schedule: 5,078 visits on working days (0 on days off, 2 found no day (listed in --json)); "
    )
    assert schedule_lines({}) == []  # a suijian.plan/1 summary has no schedule
