"""A plan drawn from the store by the current path and by the previous one (bench/plan_before.py: names and addresses
read, frames joined eagerly, the document built whole) selects the same subjects for the same items, with the same
teams on the same days — on a demo-size jiedong (53,453 subjects) on SQLite, and a smaller one on PostgreSQL — and
commits the same document under the same id."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from bench import plan_before
from engine import grading, planning
from engine.catalogue import install_catalogue, load_catalogue
from engine.ledger import canonical, chain, runs
from engine.plan.model import Plan
from engine.rules import load_pack
from engine.synth import get_profile, load_demo
from entities import store
from tests.engine.test_replay import RULES
from tests.engine.test_replay import plan as commit_plan
from tests.helpers import TESTER

AS_OF = dt.date(2025, 12, 31)
NOW = dt.datetime(2026, 1, 5, 9, 30)
SEED = "55120392671438815500"


@pytest.fixture
def graded(store_url: str) -> Iterator[sa.Engine]:
    engine = store.open_store(store_url)
    profile = get_profile("jiedong")
    if not store_url.startswith("sqlite"):
        profile = profile.scaled(4000)  # the full district once is enough; PostgreSQL checks the same path smaller
    load_demo(engine, profile, 3, AS_OF, now=NOW)
    with engine.begin() as conn:
        install_catalogue(conn, load_catalogue())
        grading.grade_store(conn, load_pack(RULES / "national"), AS_OF, created_at=NOW, actor=TESTER)
    yield engine
    engine.dispose()


def _draw(engine: sa.Engine) -> tuple[Plan, planning.PlanDocument]:
    pack = load_pack(RULES / "national")
    with engine.connect() as conn:
        plan, _, _ = planning.plan_from_store(
            conn, pack, seed=SEED, period=planning.parse_period("2026"), as_of=AS_OF, regions=None
        )
    return plan, planning.plan_document(plan)


def _selection(plan: Plan) -> dict[str, Any]:
    return {
        "drawn": {(item.code, t.id) for item in plan.items for s in item.strata for t in s.draw.drawn},
        "visit_items": {(v.id, i.code) for v in plan.visits for i in v.items},
        "teams": {v.id + f"#{v.index}": (v.lead, v.team, v.experts) for v in plan.visits},
        "dates": {v.id + f"#{v.index}": (v.scheduled_on, v.due_on, v.due_from, v.due_to) for v in plan.visits},
        "left_out": {(d.uscc, d.code, tuple(d.items)) for d in (*plan.uncovered, *plan.unstaffed)},
    }


def test_the_current_and_previous_paths_make_the_same_plan(graded: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    now, document = _draw(graded)
    with monkeypatch.context() as m:
        m.setattr(planning, "subjects_for_plan", plan_before.subjects_for_plan)
        m.setattr(planning, "subjects_split", plan_before.subjects_split)
        m.setattr(planning, "plan_document", plan_before.plan_document)
        before, previous = _draw(graded)
    assert now.fitted and len(now.visits) > 100 and any(i.drawn_count for i in now.items)
    assert all(v.scheduled_on is not None for v in now.visits)
    got, want = _selection(now), _selection(before)
    for key in want:
        assert got[key] == want[key], key
    assert document == previous  # same id, same hash, same stored bytes (plan/3, built whole by the previous path)
    assert document.scheme == canonical.PLAN3


def test_a_committed_plan_stores_its_streamed_document(graded: sa.Engine) -> None:
    made, document = _draw(graded)
    plan_id = commit_plan(graded, RULES / "national", "2026", SEED)
    with graded.connect() as conn:
        stored = runs.plan_document(conn, plan_id)
        entry = chain.find(conn, plan_id)
    assert plan_id == document.id
    assert stored is not None and stored.intact and stored.text is not None
    assert stored.text == planning.as_stored(made).to_json()
    assert entry is not None and entry.get("outputs_hash") == document.sha256 == stored.sha256
