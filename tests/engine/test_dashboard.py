"""The supervisor's dashboard read model: every figure equals what the CLI prints for the same store (`audit trace`,
`plan --json`, `results due`, `followups list --open`), on SQLite and PostgreSQL; the cache follows the store."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from engine import dashboard, planning
from engine.plan.calendar import WorkCalendar
from entities import store
from tests.helpers import run_cli
from tests.results_store import build

AS_OF = dt.date(2026, 4, 20)


def _env(mp: pytest.MonkeyPatch) -> None:
    mp.setenv("SUIJIAN_USER", "测试员 tester")
    mp.setenv("SUIJIAN_ROLE", "supervisor")


def _fill(url: str, tmp: Path) -> str:
    """A planned store with results (one overdue, one published, one calling for a 经营异常名录 listing) and
    proposed follow-ups; returns the plan id."""
    plan_id, rows = build(url, subjects=400)

    def cli(*args: str) -> str:
        code, out, err = run_cli(*args, "--db", url)
        assert code == 0, err
        return out

    record = ("results", "record", "--plan", plan_id)
    cli(
        *record,
        "--visit",
        rows[0]["visit_id"],
        "--code",
        "1",
        "--completed",
        "2026-02-02",
        "--recorded-on",
        "2026-02-03",
    )
    cli("publish", "results", "--published-on", "2026-02-10", "--out", str(tmp / "pub.xlsx"))
    cli(
        *record,
        "--visit",
        rows[1]["visit_id"],
        "--code",
        "6",
        "--completed",
        "2026-03-02",
        "--recorded-on",
        "2026-03-03",
    )
    cli(
        *record,
        "--visit",
        rows[2]["visit_id"],
        "--code",
        "1",
        "--completed",
        "2026-04-15",
        "--recorded-on",
        "2026-04-16",
    )
    cli("followups", "propose", "--as-of", "2026-03-10")
    return plan_id


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("dashboard-store")
    url = f"sqlite:///{directory / 'store.db'}"
    engine = store.make_engine(url)
    store.initialise(engine)
    engine.dispose()
    mp = pytest.MonkeyPatch()
    _env(mp)
    try:
        plan_id = _fill(url, directory)
    finally:
        mp.undo()
    return directory / "store.db", plan_id


def _cli_json(url: str, *args: str) -> Any:
    code, out, err = run_cli(*args, "--json", "--db", url)
    assert code == 0, err
    return json.loads(out)


def _read(url: str, plan_id: str | None = None) -> dict[str, Any]:
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            return dashboard.dashboard(conn, WorkCalendar(), AS_OF, plan_id)
    finally:
        engine.dispose()


def _same_as_cli(url: str, plan_id: str) -> None:
    found = _read(url)
    plan = found["plan"]
    assert plan["id"] == plan_id
    trace = _cli_json(url, "audit", "trace", plan_id)
    coverage = {k: v for k, v in plan["coverage"].items() if not k.startswith("visits_scheduled_by_as_of")}
    assert coverage == trace["summary"]
    assert plan["coverage"]["visits_with_result"] == 3 and plan["coverage"]["published"] == 1
    scheduled = [v for v in trace["visits"] if v["scheduled_on"] and v["scheduled_on"] <= AS_OF.isoformat()]
    assert plan["coverage"]["visits_scheduled_by_as_of"] == len(scheduled)
    assert plan["coverage"]["visits_scheduled_by_as_of_without_result"] == sum(
        1 for v in scheduled if v["completed_on"] is None
    )

    due = _cli_json(url, "results", "due", "--as-of", AS_OF.isoformat())["due"]
    assert found["due"]["rows"] == due
    assert found["due"]["pending"] == len(due) == 2
    assert found["due"]["overdue"] == sum(d["overdue"] for d in due) == 1

    waiting = _cli_json(url, "followups", "list", "--open")["followups"]
    assert [r["id"] for r in found["followups"]["rows"]] == [f["id"] for f in waiting]
    assert found["followups"]["waiting"] == len(waiting) > 0
    assert found["followups"]["listing_proposals"] == sum(f["kind"] == "list_abnormal" for f in waiting) > 0


def test_dashboard_equals_the_cli_on_sqlite(template: tuple[Path, str], tmp_path: Path) -> None:
    source, plan_id = template
    shutil.copy(source, tmp_path / "store.db")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    _same_as_cli(url, plan_id)
    # Capacity and shortfalls are the plan summary's (`suijian plan --json` printed them when it was drawn).
    found = _read(url)["plan"]
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            _, stored = planning.load_plan(conn, plan_id)
    finally:
        engine.dispose()
    summary = stored.summary()
    assert found["capacity"] == summary["team_load"]
    assert found["shortfalls"]["uncovered"]["entries"] == summary["uncovered"]["entries"]
    assert [(x["name"], x["shortfall"]) for x in found["shortfalls"]["layers"]] == [
        (x["name"], x["shortfall"]) for x in summary.get("fit", {}).get("layers", [])
    ]


@pytest.mark.postgres
def test_dashboard_equals_the_cli_on_postgres(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch)
    engine = store.make_engine(pg_url)
    store.initialise(engine)
    engine.dispose()
    plan_id = _fill(pg_url, tmp_path)
    _same_as_cli(pg_url, plan_id)


def test_no_plan_yet(sqlite_url: str) -> None:
    engine = store.make_engine(sqlite_url)
    store.initialise(engine)
    engine.dispose()
    found = _read(sqlite_url)
    assert found["plan"] is None
    assert found["due"]["pending"] == 0 and found["followups"]["waiting"] == 0


def test_cache_follows_the_store(template: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, plan_id = template
    shutil.copy(source, tmp_path / "store.db")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            first = dashboard.cached_dashboard(conn, WorkCalendar(), AS_OF)
            assert dashboard.cached_dashboard(conn, WorkCalendar(), AS_OF) is first  # unchanged store: cached
    finally:
        engine.dispose()
    # A decision moves the ledger head: the next read is fresh and shows one proposal fewer waiting.
    _env(monkeypatch)
    target = first["followups"]["rows"][0]["id"]
    code, _, err = run_cli("followups", "decide", target, "--accept", "--on", "2026-03-12", "--db", url)
    assert code == 0, err
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            second = dashboard.cached_dashboard(conn, WorkCalendar(), AS_OF)
    finally:
        engine.dispose()
    assert second is not first
    assert second["followups"]["waiting"] == first["followups"]["waiting"] - 1
