"""engine.plan.model.visit_frame (engine.ledger.plan_columns.visits_frame) builds its list columns from flat values
and offsets: the frame must be the one polars builds from the visits' Python lists (empty lists, null fields and a
visit without items included)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from engine.ledger.plan_columns import VISIT_COLUMNS
from engine.plan.model import Visit, VisitItem, visit_frame
from tests.plan_documents import naive_visit_frame


def _visit(k: int, items: tuple[VisitItem, ...], team: tuple[str, ...], scheduled: bool) -> Visit:
    return Visit(
        id=f"V{k}",
        uscc=f"91440000MA{k:08d}",
        region="天河区",
        items=items,
        team=team,
        lead=team[0] if team else "",
        experts=("专家",) if k % 2 else (),
        due_from=dt.date(2026, 1, 1),
        due_to=dt.date(2026, 3, 31),
        priority=k,
        risk=k / 3,
        previous_leads=("甲",) * (k % 3),
        lead_repeats=bool(k % 2),
        scheduled_on=dt.date(2026, 2, 2) if scheduled else None,
        due_on=dt.date(2026, 2, 9) if scheduled else None,
        index=k % 2 + 1,
        count=2,
    )


def test_visit_frame_is_the_frame_of_the_visits_python_lists() -> None:
    drawn = VisitItem("SP-XS-01", drawn=True, mandatory=False, stratum="食品销售/A", reason=None)
    mandatory = VisitItem("TS-SY-01", drawn=False, mandatory=True, stratum=None, reason="高风险")
    visits = [
        _visit(0, (), ("甲", "乙"), scheduled=True),  # no items at all
        _visit(1, (drawn,), (), scheduled=False),  # no team
        _visit(2, (drawn, mandatory), ("丙",), scheduled=True),
        _visit(3, (mandatory,), ("甲", "乙", "丙"), scheduled=False),
    ]
    frame = visit_frame(visits)
    assert frame.schema == pl.Schema(VISIT_COLUMNS)
    assert frame.equals(naive_visit_frame(visits))
    assert frame.get_column("items").to_list()[2] == [drawn.to_dict(), mandatory.to_dict()]
    assert frame.get_column("items").to_list()[0] == []


def test_visit_frame_of_no_visits() -> None:
    frame = visit_frame([])
    assert frame.height == 0
    assert frame.schema == pl.Schema(VISIT_COLUMNS)
