"""The inspector's read models (engine.my_visits) on a small graded and planned demo district, SQLite and PostgreSQL:
my week and month by township, overdue visits, one visit's page, why the subject is listed, the form's choices."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import my_visits, plan_visits
from engine.replay import explain_run
from engine.results import intake
from engine.results.codes import default_codes
from engine.results.model import MeasureKind
from entities import store
from entities.errors import ImportRejected, InputError
from entities.identity import Identity, Role
from tests.helpers import load_demo_store, run_cli
from tests.store_template import StoreCopies

SEED = "38147205519264810375"
CREATED = dt.datetime(2026, 3, 1, 8, 0)


def planned_store(url: str) -> str:
    """A demo district of 600 subjects, graded and planned for 2026Q1 with a schedule; returns the plan id.

    A third roster inspector (zhangsan) is on no team: someone whose list is empty and who may not record."""
    load_demo_store(url, 600)
    assert run_cli("grade", "--as-of", "2025-12-31", "--db", url)[0] == 0
    code, out, err = run_cli(
        "plan", "--as-of", "2025-12-31", "--period", "2026Q1", "--seed", SEED, "--json", "--db", url
    )
    assert code == 0, err
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            store.bulk_insert(
                conn,
                "inspector",
                [
                    {
                        "id": "ZF4452039999",
                        "name": "张三",
                        "unit": "揭阳市揭东区市场监督管理局综合行政执法大队",
                        "region": "445203",
                        "qualifications": [],
                        "capacity": 60,
                        "user_name": "zhangsan",
                    }
                ],
            )
    finally:
        engine.dispose()
    return str(json.loads(out)["plan_id"])


@pytest.fixture
def planned(
    store_url: str, store_copies: StoreCopies, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[sa.Engine, str]]:
    monkeypatch.chdir(tmp_path)
    plan_id = store_copies.fill(store_url, "demo 600 planned 2026Q1, zhangsan", lambda: planned_store(store_url))
    engine = store.open_store(store_url)
    yield engine, plan_id
    engine.dispose()


def _all_rows(conn: sa.Connection, plan_id: str) -> list[dict]:
    return plan_visits.read_visit_rows(conn, plan_id)


def test_my_week_and_month_are_my_scheduled_visits_by_township(planned: tuple[sa.Engine, str]) -> None:
    engine, plan_id = planned
    with engine.connect() as conn:
        rows = _all_rows(conn, plan_id)
        lead = rows[0]["lead"]
        me = my_visits.inspector_of(conn, lead)  # the demo roster's 登录账号 is the roster id
        first = rows[0]["scheduled_on"]
        week = my_visits.week_of(first)
        mine = my_visits.my_list(conn, me, week=week)
        monday = dt.date.fromisocalendar(*first.isocalendar()[:2], 1)
        assert mine.window == (monday, monday + dt.timedelta(days=6)) and mine.plan_id == plan_id
        expected = [
            r["visit_id"] for r in rows if me.id in r["team"] and mine.window[0] <= r["scheduled_on"] <= mine.window[1]
        ]
        assert [v.visit_id for v in mine.visits] == expected and expected
        # Townships in order of their first visit, each visit in exactly one, named from the region table.
        assert len({t.code for t in mine.townships}) == len(mine.townships)
        for t in mine.townships:
            assert all(v.region == t.code and v.township == t.name for v in t.visits) and t.name != t.code
        v = mine.visits[0]
        assert v.items and all(i.contents and i.legal_basis for i in v.items)  # what to check, and on what basis
        assert me.id in [p for p, _ in v.team] and all(name for _, name in v.team) and v.status == "planned"
        later = [r["scheduled_on"] for r in rows if me.id in r["team"] and r["scheduled_on"] > mine.window[1]]
        assert mine.next_day == (min(later) if later else None)
        month = my_visits.my_list(conn, me, month=first.strftime("%Y-%m"))
        assert {v.visit_id for v in mine.visits} <= {v.visit_id for v in month.visits}
        assert [v.visit_id for v in my_visits.my_list(conn, me).visits] == [
            r["visit_id"] for r in rows if me.id in r["team"]
        ]
        index = my_visits.my_index(conn, plan_id, me.id)  # found once, then only the window's rows are read
        assert my_visits.my_list(conn, me, week=week, index=index) == mine
        other = my_visits.my_index(conn, plan_id, "ZF4452039999")  # someone else's index is not used for me
        assert my_visits.my_list(conn, me, week=week, index=other) == mine
        nobody = my_visits.my_list(conn, my_visits.inspector_of(conn, "zhangsan"), week=week)
        assert nobody.visits == [] and nobody.next_day is None


def test_bad_windows_and_unlinked_accounts_are_one_chinese_line(planned: tuple[sa.Engine, str]) -> None:
    engine, _ = planned
    with engine.connect() as conn:
        me = my_visits.inspector_of(conn, "zhangsan")
        with pytest.raises(InputError, match="周 '2026-W60' 不是 2026-W02 这样的 ISO 周"):
            my_visits.my_list(conn, me, week="2026-W60")
        with pytest.raises(InputError, match="月份 '2026-13' 不是 2026-01 这样的月份"):
            my_visits.my_list(conn, me, month="2026-13")
        with pytest.raises(InputError, match="账号 nobody 没有关联执法检查人员"):
            my_visits.inspector_of(conn, "nobody")
        with pytest.raises(InputError, match="计划 .* 中没有检查编号为 X 的检查"):
            my_visits.visit_page(conn, _all_rows(conn, _)[0]["plan_id"], "X", me.id)
    assert my_visits.shift_week("2026-W53", 1) == "2027-W01" and my_visits.shift_month("2026-01", -1) == "2025-12"


def test_a_recorded_result_leaves_the_overdue_list_and_shows_on_the_visit_page(planned: tuple[sa.Engine, str]) -> None:
    engine, plan_id = planned
    with engine.connect() as conn:
        rows = _all_rows(conn, plan_id)
        me = my_visits.inspector_of(conn, rows[0]["lead"])
        today = max(r["due_on"] for r in rows) + dt.timedelta(days=1)
        late = my_visits.overdue(conn, me, today)
        assert [v.visit_id for v in late] == [
            r["visit_id"]
            for r in sorted(rows, key=lambda r: (r["due_on"], r["scheduled_on"], r["visit_id"]))
            if me.id in r["team"]
        ]
        assert all(v.overdue(today) for v in late)
        assert my_visits.overdue(conn, me, min(r["due_on"] for r in rows)) == []  # nothing is late on the first due day
        target = late[0]
        page = my_visits.visit_page(conn, plan_id, target.visit_id, me.id)
        assert page.mine and page.result is None and page.versions == 0
        other = my_visits.inspector_of(conn, "zhangsan")
        assert not my_visits.visit_page(conn, plan_id, target.visit_id, other.id).mine
    with engine.begin() as conn:
        intake.record_one(
            conn,
            plan_id=plan_id,
            visit_id=target.visit_id,
            items=(),
            codes=("1",),
            completed_on=target.scheduled_on,
            recorded_on=target.scheduled_on,
            actor=Identity(me.user_name or "", Role.INSPECTOR),
            created_at=CREATED,
        )
    with engine.connect() as conn:
        assert target.visit_id not in [v.visit_id for v in my_visits.overdue(conn, me, today)]
        page = my_visits.visit_page(conn, plan_id, target.visit_id, me.id)
        assert page.visit.done and page.versions == 1
        assert page.result is not None and [i.result_codes for i in page.result.items] == [("1",)] * len(target.items)
    with engine.begin() as conn, pytest.raises(ImportRejected, match="not_your_visit"):
        intake.record_one(  # the engine's rule, which the web relies on: only the team records
            conn,
            plan_id=plan_id,
            visit_id=late[-1].visit_id,
            items=(),
            codes=("1",),
            completed_on=late[-1].scheduled_on,
            recorded_on=late[-1].scheduled_on,
            actor=Identity("zhangsan", Role.INSPECTOR),
            created_at=CREATED,
        )


def test_why_a_subject_is_listed_is_explain_run_cut_to_the_visit(planned: tuple[sa.Engine, str]) -> None:
    engine, plan_id = planned
    with engine.connect() as conn:
        row = _all_rows(conn, plan_id)[0]
        why = my_visits.why_listed(conn, plan_id, row["uscc"], row["items"])
        full = explain_run(conn, plan_id, row["uscc"])
    assert why.explanation.as_dict() == full.as_dict()
    codes = [i.fate.code for i in why.items]
    assert codes[: len(row["items"])] == row["items"]  # the visit's own items first, in its order
    for i in why.items:
        f = i.fate
        assert i.status == my_visits.STATUS_ZH[f.status]
        if f.code in row["items"]:
            assert f.status == "drawn" or f.mandatory  # on the list: drawn by ticket, or mandatory work
        if f.ticket is not None:
            assert f.recipe is not None and f.ticket.id == row["uscc"]
            assert i.below_cutoff == (None if f.cutoff is None else f.ticket <= f.cutoff)
            if f.status in ("drawn", "not_drawn") and f.cutoff is not None:
                assert i.below_cutoff == (f.status == "drawn")
    assert why.fired and all(r.fired and r.reason for _, r in why.fired)


def test_the_form_offers_every_result_code_and_measure() -> None:
    choices = my_visits.form_choices()
    table = default_codes()
    assert {c.code for c in choices.codes} == {c.code for c in table}
    assert [c.finding for c in choices.codes if c.code in table.no_finding] == [False] * len(table.no_finding)
    assert [m.value for m in choices.measures] == [k.value for k in MeasureKind]
    assert {m.value for m in choices.measures if m.needs_deadline} == {"rectify", "order_publish", "directive"}
