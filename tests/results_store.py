"""A store with a committed plan and its visit rows (written by the plan commit), for the results tests.

Built once per session on SQLite (demo subjects → grade → plan) and copied per test; on PostgreSQL built per test.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from engine import plan_visits, planning
from entities import store
from tests.helpers import load_demo_store, run_cli

SEED = "38147205519264810375"
AS_OF = "2025-12-31"
PERIOD = "2026Q1"


def visit_rows(url: str) -> tuple[str, list[dict[str, Any]]]:
    """The plan_visit rows of the store's newest plan (the commit wrote them; ensure_visit_rows builds any missing)."""
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            plan_id, plan = planning.load_plan(conn, None)
            rows = [
                {
                    "plan_id": plan_id,
                    "visit_id": v.id,
                    "uscc": v.uscc,
                    "region": v.region,
                    "items": list(v.item_codes),
                    "team": list(v.team),
                    "lead": v.lead,
                    "scheduled_on": v.scheduled_on,
                    "due_on": v.due_on or v.due_to,
                    "status": "planned",
                }
                for v in plan.visits
            ]
            plan_visits.ensure_visit_rows(conn, plan_id)
    finally:
        engine.dispose()
    return plan_id, rows


def build(url: str, subjects: int = 400) -> tuple[str, list[dict[str, Any]]]:
    """Demo subjects, a grade and a 2026Q1 plan in the store at `url`, with its visit rows."""
    load_demo_store(url, subjects)
    # A roster with room for the random draws as well as the mandatory and frequency work (a fitted plan fills
    # those first), so the plan has visits joining several drawn items, as the results tests need.
    execute(url, "UPDATE inspector SET capacity = 400")
    code, _, err = run_cli("grade", "--as-of", AS_OF, "--db", url)
    assert code == 0, err
    code, out, err = run_cli("plan", "--as-of", AS_OF, "--period", PERIOD, "--seed", SEED, "--json", "--db", url)
    assert code == 0, err
    assert json.loads(out)["new"]
    return visit_rows(url)


def link_inspector(url: str, inspector_id: str, user: str) -> None:
    """Give an inspector an account name (inspector.user_name), as the roster import will."""
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            t = store.table("inspector")
            conn.execute(t.update().where(t.c.id == inspector_id).values(user_name=user))
    finally:
        engine.dispose()


def count(url: str, name: str) -> int:
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            return store.count_rows(conn, name)
    finally:
        engine.dispose()


def query(url: str, sql: str, **params: Any) -> list[Any]:
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))
    finally:
        engine.dispose()


def execute(url: str, sql: str, **params: Any) -> None:
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(sql), params)
    finally:
        engine.dispose()


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)
