"""Visit rows (`plan_visit`): written with the plan in one transaction, rebuilt from the document for older plans,
never touching the ledger or the document — on SQLite and PostgreSQL, and on the store written by release 0.1.0."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import planning
from engine.plan.visit_rows import COLUMNS, visit_rows, visit_tuples
from engine.plan_visits import count_visit_rows, ensure_visit_rows, read_visit_rows
from entities import store
from entities.errors import InputError
from tests.helpers import load_demo_store, run_cli

SEED = "38147205519264810375"
LEGACY = Path(__file__).parent.parent.parent / "fixtures" / "stores" / "ledger-0.1.0.db"
LEGACY_PLANS = ("P2026-09056c35e1", "P2027-aba5ed902c", "P2026Q3-fdba211818")
LEGACY_HEAD = "6293b07e82f62c3b0f2f60a7a73f6cb27c579e84c14e627d4500911f30417182"


@pytest.fixture
def planned(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    monkeypatch.chdir(tmp_path)
    load_demo_store(store_url, 600)
    assert run_cli("grade", "--as-of", "2025-12-31", "--db", store_url)[0] == 0
    code, out, err = run_cli(
        "plan", "--as-of", "2025-12-31", "--period", "2026Q1", "--seed", SEED, "--json", "--db", store_url
    )
    assert code == 0, err
    return store_url, json.loads(out)["plan_id"]


def _rows(conn: sa.Connection, plan_id: str) -> list[dict]:
    t = store.table("plan_visit")
    return [dict(r) for r in conn.execute(sa.select(t).where(t.c.plan_id == plan_id).order_by(t.c.visit_id)).mappings()]


def test_committed_plan_has_one_row_per_visit(planned: tuple[str, str]) -> None:
    url, plan_id = planned
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            pid, plan = planning.load_plan(conn, plan_id)
            rows = _rows(conn, plan_id)
            assert len(rows) == len(plan.visits) > 0
            by_id = {v.id: v for v in plan.visits}
            for r in rows:
                v = by_id[r["visit_id"]]
                assert (r["uscc"], r["region"], r["lead"], r["status"]) == (v.uscc, v.region, v.lead, "planned")
                assert r["items"] == list(v.item_codes) and r["team"] == list(v.team) and r["team"][0] == v.lead
                assert r["scheduled_on"] == v.scheduled_on is not None and r["due_on"] == v.due_on  # scheduled
            assert ensure_visit_rows(conn, plan_id) == 0  # already there: nothing written
            before = _rows(conn, plan_id)
            conn.execute(sa.delete(store.table("plan_visit")))  # as a plan committed before migration 0006
            assert ensure_visit_rows(conn, plan_id) == len(plan.visits)
            assert _rows(conn, plan_id) == before
            member = rows[0]["team"][1]
            mine = read_visit_rows(conn, plan_id, team_member=member)
            assert mine and all(member in r["team"] for r in mine)
            assert len(mine) == sum(1 for v in plan.visits if member in v.team)
            assert read_visit_rows(conn, plan_id, team_member="nobody") == []
            with pytest.raises(InputError, match="no plan P2026Q1-0000000000"):
                ensure_visit_rows(conn, "P2026Q1-0000000000")
    finally:
        engine.dispose()


def test_scheduled_visits_keep_their_dates() -> None:
    """A fitted plan's visits carry scheduled_on and due_on; the rows take them as they are."""
    from engine.plan.model import Visit, VisitItem

    v = Visit(
        id="91445203MA4W3TGX5Q#2",
        uscc="91445203MA4W3TGX5Q",
        region="445203101",
        items=(VisitItem("SP-CY-01", drawn=False, mandatory=True, reason="D级"),),
        team=("ZF2", "ZF1"),
        lead="ZF2",
        experts=(),
        due_from=dt.date(2026, 1, 1),
        due_to=dt.date(2026, 12, 31),
        priority=1,
        risk=None,
        scheduled_on=dt.date(2026, 4, 8),
        due_on=dt.date(2026, 4, 30),
        index=2,
        count=4,
    )
    unscheduled = dataclasses.replace(v, id="91445203MA4W3TGX5Q#3", scheduled_on=None, due_on=None)
    plan = dataclasses.make_dataclass("P", [("visits", tuple)])(visits=(v, unscheduled))
    row, other = visit_rows("P2026-x", plan)  # type: ignore[arg-type]
    assert other["scheduled_on"] is None and other["due_on"] == dt.date(2026, 12, 31)  # the due window's end
    # The tuples the commit writes are the same rows.
    assert [dict(zip(COLUMNS, t, strict=True)) for t in visit_tuples("P2026-x", plan)] == [row, other]  # type: ignore[arg-type]
    assert row == {
        "plan_id": "P2026-x",
        "visit_id": "91445203MA4W3TGX5Q#2",
        "uscc": "91445203MA4W3TGX5Q",
        "region": "445203101",
        "items": ["SP-CY-01"],
        "team": ["ZF2", "ZF1"],
        "lead": "ZF2",
        "scheduled_on": dt.date(2026, 4, 8),
        "due_on": dt.date(2026, 4, 30),
        "status": "planned",
    }


def test_legacy_plans_get_rows_and_the_ledger_still_verifies(tmp_path: Path) -> None:
    copy = tmp_path / "legacy.db"
    shutil.copy(LEGACY, copy)
    url = f"sqlite:///{copy}"
    assert run_cli("init", "--db", url)[0] == 0
    with sqlite3.connect(copy) as raw:
        ledger_before = raw.execute("SELECT * FROM ledger ORDER BY seq").fetchall()
        plans_before = raw.execute("SELECT * FROM plan ORDER BY id").fetchall()
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            for plan_id in LEGACY_PLANS:
                assert count_visit_rows(conn, plan_id) == 0
                _, plan = planning.load_plan(conn, plan_id)
                assert ensure_visit_rows(conn, plan_id) == len(plan.visits) > 0
                assert ensure_visit_rows(conn, plan_id) == 0
    finally:
        engine.dispose()
    with sqlite3.connect(copy) as raw:
        assert raw.execute("SELECT * FROM ledger ORDER BY seq").fetchall() == ledger_before
        assert raw.execute("SELECT * FROM plan ORDER BY id").fetchall() == plans_before
    code, out, err = run_cli("audit", "verify", "--head", LEGACY_HEAD, "--db", url)
    assert code == 0 and out.startswith("OK: 7 ledger entries"), out + err


def test_rows_built_meanwhile_by_another_command_are_kept(
    planned: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two commands building a legacy plan's rows at once: the second finds the key taken and writes nothing."""
    import engine.plan_visits as pv

    url, plan_id = planned
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            before = _rows(conn, plan_id)
            monkeypatch.setattr(pv, "count_visit_rows", lambda conn, plan_id: 0)  # as if read before the other wrote
            assert pv.ensure_visit_rows(conn, plan_id) == 0
            assert _rows(conn, plan_id) == before
    finally:
        engine.dispose()


def _raw_rows(conn: sa.Connection, plan_id: str) -> list[tuple]:
    """The rows as the database holds them (SQLite: the JSON and date text), not as SQLAlchemy reads them back."""
    order = "visit_id"
    return [
        tuple(r)
        for r in conn.exec_driver_sql(
            f"SELECT {', '.join(COLUMNS)} FROM plan_visit WHERE plan_id = '{plan_id}' ORDER BY {order}"
        )
    ]


def test_rows_written_as_tuples_are_the_rows_of_the_dicts(planned: tuple[str, str]) -> None:
    """The commit writes the rows as plain tuples (each value as its column type binds it): the database must hold
    what SQLAlchemy's insert of visit_rows' dicts held, byte for byte."""
    url, plan_id = planned
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            _, plan = planning.load_plan(conn, plan_id)
            written = _raw_rows(conn, plan_id)
            assert len(written) == len(plan.visits) > 0
            conn.execute(sa.delete(store.table("plan_visit")))
            store.bulk_insert(conn, "plan_visit", visit_rows(plan_id, plan))  # how the rows were written before
            assert _raw_rows(conn, plan_id) == written
    finally:
        engine.dispose()
