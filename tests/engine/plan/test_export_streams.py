"""The streaming task-list export against the one it replaced (tests/engine/plan/legacy_export, the code at
0c63270): the same CSV and JSON bytes and the same XLSX cells, validations and filters, for every list the
export makes — all visits, one inspector's, a window, re-checks, results sheets split or not."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from engine.plan import export
from engine.plan.model import Plan
from entities.errors import InputError
from tests.engine.plan import legacy_export, world
from tests.engine.plan.world import plan
from tests.engine.plan.xlsx_cells import workbook_cells

ITEMS = world.catalogue()


@pytest.fixture(scope="module")
def setup() -> tuple[Plan, Any, list[Any]]:
    frame = world.subjects(300)
    inspectors = world.roster()
    return plan(frame, inspectors=inspectors), frame, inspectors


def both(setup: tuple[Plan, Any, list[Any]], **kw: Any) -> tuple[bytes, bytes]:
    p, frame, inspectors = setup
    new = export.export_tasks(p, ITEMS, frame, inspectors, **kw)
    old = legacy_export.export_tasks(p, ITEMS, frame, inspectors, **kw)
    return new, old


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_csv_and_json_bytes_are_the_old_ones(setup: tuple[Plan, Any, list[Any]], fmt: str) -> None:
    p = setup[0]
    new, old = both(setup, format=fmt)
    assert new == old and len(new) > 10_000
    lead = p.visits[0].lead
    new, old = both(setup, format=fmt, inspector=lead)
    assert new == old and lead.encode() in new


def test_many_chunks_give_the_same_bytes(setup: tuple[Plan, Any, list[Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "_ROWS_AT_ONCE", 7)  # pieces of 7 rows: every joint between pieces is exercised
    for fmt in ("csv", "json"):
        p, frame, inspectors = setup
        pieces = list(export.export_chunks(p, ITEMS, frame, inspectors, format=fmt))
        assert len(pieces) > 10
        assert b"".join(pieces) == legacy_export.export_tasks(p, ITEMS, frame, inspectors, format=fmt)


def test_an_empty_list_is_the_old_one(setup: tuple[Plan, Any, list[Any]]) -> None:
    p, frame, inspectors = setup
    empty = dataclasses.replace(p, visits=())
    for fmt in ("csv", "json"):
        new = export.export_tasks(empty, ITEMS, frame, inspectors, format=fmt)
        assert new == legacy_export.export_tasks(empty, ITEMS, frame, inspectors, format=fmt)
    assert export.export_tasks(empty, ITEMS, frame, inspectors, format="json") == b"[]\n"


def test_a_window_on_a_plan_without_schedule_is_refused_as_before(setup: tuple[Plan, Any, list[Any]]) -> None:
    p, frame, inspectors = setup
    unscheduled = dataclasses.replace(p, visits=tuple(dataclasses.replace(v, scheduled_on=None) for v in p.visits))
    window = (p.period.start, p.period.end)
    with pytest.raises(InputError) as new:
        export.export_tasks(unscheduled, ITEMS, frame, inspectors, format="csv", window=window)
    with pytest.raises(InputError) as old:
        legacy_export.export_tasks(unscheduled, ITEMS, frame, inspectors, format="csv", window=window)
    assert str(new.value) == str(old.value)


def test_a_window_keeps_the_old_rows(setup: tuple[Plan, Any, list[Any]]) -> None:
    p = setup[0]
    days = sorted({v.scheduled_on for v in p.visits if v.scheduled_on is not None})
    if not days:  # an unfitted world plan: give its visits days, as a schedule would
        days = [p.period.start + dt.timedelta(days=n) for n in range(30)]
        visits = tuple(dataclasses.replace(v, scheduled_on=days[n % 30]) for n, v in enumerate(p.visits))
        setup = (dataclasses.replace(p, visits=visits), setup[1], setup[2])
    window = (days[3], days[10])
    for fmt in ("csv", "json"):
        new, old = both(setup, format=fmt, window=window)
        assert new == old and new.count(b"\n") > 10


def test_rechecks_follow_as_before(setup: tuple[Plan, Any, list[Any]]) -> None:
    p, _, inspectors = setup
    v = p.visits[0]
    recheck = {
        "visit_id": f"{v.id}/R1",
        "uscc": v.uscc,
        "subject": "复查主体",
        "address": "某路1号",
        "region": v.region,
        "items": [v.items[0].code, "NOT-IN-CATALOGUE"],
        "team": [inspectors[0].id, inspectors[1].id],
        "team_names": [inspectors[0].name, inspectors[1].name],
        "lead": inspectors[0].id,
        "earliest": dt.date(2026, 3, 1),
        "latest": dt.date(2026, 3, 31),
        "plan_id": "P2026-0123456789",
        "of_visit_id": v.id,
        "proposal_id": "F1",
        "reason": "责令改正",
        "basis": "第二十条",
        "scheduled_on": dt.date(2026, 3, 9),
        "team_rule": "same",
    }
    for fmt in ("csv", "json"):
        new, old = both(setup, format=fmt, rechecks=[recheck])
        assert new == old and "复查".encode() in new
    new, old = both(setup, format="xlsx", plan_id="P2026-0123456789", rechecks=[recheck])
    assert workbook_cells(new) == workbook_cells(old)


@pytest.mark.parametrize("sheets", [None, "inspector", "unit"])
def test_xlsx_cells_validations_and_filters_are_the_old_ones(
    setup: tuple[Plan, Any, list[Any]], sheets: str | None
) -> None:
    new, old = both(setup, format="xlsx", plan_id="P2026-0123456789", townships={}, sheets=sheets)
    found, wanted = workbook_cells(new), workbook_cells(old)
    assert [s["title"] for s in found] == [s["title"] for s in wanted]
    for a, b in zip(found, wanted, strict=True):
        assert a == b, a["title"]
    results = next(s for s in found if s["validations"])
    assert {v[0] for v in results["validations"]} == {"list", "date"}  # the dropdowns and date checks are there
    assert results["filter"] == f"A1:R{len(results['cells'])}"


def test_xlsx_without_results_is_the_old_one(setup: tuple[Plan, Any, list[Any]]) -> None:
    new, old = both(setup, format="xlsx")
    assert workbook_cells(new) == workbook_cells(old)


def test_bad_requests_are_refused_before_any_piece(setup: tuple[Plan, Any, list[Any]]) -> None:
    p, frame, inspectors = setup
    with pytest.raises(InputError, match="unknown inspector NOBODY"):
        export.export_chunks(p, ITEMS, frame, inspectors, format="csv", inspector="NOBODY")
    with pytest.raises(InputError, match="is not among the items given"):
        export.export_chunks(p, ITEMS[:1], frame, inspectors, format="json")
