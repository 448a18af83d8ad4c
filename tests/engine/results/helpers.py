"""Small builders for results tests: one planned visit and a result of it."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from engine.results.model import ItemResult, Measure, MeasureKind, VisitResult
from engine.results.validate import Recorder, VisitRef

USCC = "91440101MA5CXXXX1X"
PLAN = "P2026-0280b38463"
VISIT = VisitRef(
    plan_id=PLAN,
    visit_id=USCC,
    uscc=USCC,
    items=("DJ-GS-01", "SC-SP-02"),
    team=("I001", "I002"),
    window_start=dt.date(2026, 3, 1),
    window_end=dt.date(2026, 6, 30),
)
VISITS = {VISIT.key: VISIT}
LEAD = Recorder("I001", "inspector")
SUPERVISOR = Recorder("S9", "supervisor")


def result(**changes: Any) -> VisitResult:
    base = VisitResult(
        plan_id=PLAN,
        visit_id=USCC,
        uscc=USCC,
        completed_on=dt.date(2026, 4, 10),
        items=(
            ItemResult("DJ-GS-01", ("1",)),
            ItemResult(
                "SC-SP-02",
                ("3", "A"),
                findings="后厨未设防鼠设施",
                measures=(Measure(MeasureKind.RECTIFY, dt.date(2026, 4, 30)),),
            ),
        ),
        team=("I001", "I002"),
        recorded_on=dt.date(2026, 4, 12),
        recorded_by="I001",
    )
    return replace(base, **changes)
