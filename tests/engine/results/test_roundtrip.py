"""A results sheet filled in Excel (here: openpyxl) reads back into checked results; re-reading changes nothing."""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import Workbook, load_workbook

from engine.plan.calendar import WorkCalendar
from engine.results.model import History, current_by_visit
from engine.results.publication import PlanInfo, due, publication_records, to_xlsx
from engine.results.validate import HEADERS, Recorder, VisitRef, read_results

CAL = WorkCalendar()
PLAN = "P2026-0280b38463"


def usccs(n: int) -> list[str]:
    return [f"91445203MA{k:07d}X" for k in range(n)]


def test_100_results_filled_in_a_workbook_round_trip() -> None:
    ids = usccs(100)
    visits = {
        (PLAN, u): VisitRef(PLAN, u, u, ("SP-CY-01",), ("I001", "I002"), dt.date(2026, 3, 1), dt.date(2026, 9, 30))
        for u in ids
    }
    book = Workbook()
    sheet = book.worksheets[0]
    sheet.append(["序号", "主体名称", *HEADERS.values()])  # the export's own columns are ignored
    for n, u in enumerate(ids):
        found = n % 5 == 0
        sheet.append(
            [
                n + 1, f"揭东某店{n}", PLAN, u, u, "SP-CY-01",
                dt.datetime(2026, 4, 1) + dt.timedelta(days=n % 30),
                "违反食品药品管理相关规定；A" if found else "未发现问题",
                "未在规定位置公示许可证" if found else None,
                "责令改正" if found else None,
                dt.datetime(2026, 5, 29) if found else None,
                None, "I001、I002", None,
            ]
        )  # fmt: skip
    raw = io.BytesIO()
    book.save(raw)
    read_back = load_workbook(io.BytesIO(raw.getvalue()), read_only=True).worksheets[0]
    header, *rows = list(read_back.iter_rows(values_only=True))
    lead = Recorder("I001", "inspector")
    got = read_results(header, rows, visits, lead, dt.date(2026, 5, 6))
    assert got.problems == [] and len(got.results) == 100
    assert sum(1 for r in got.results if "A" in r.result_codes) == 20
    assert all(r.items[0].measures[0].deadline == dt.date(2026, 5, 29) for r in got.results if "A" in r.result_codes)

    histories = {r.key: History().add(r) for r in got.results}
    again = read_results(header, rows, visits, lead, dt.date(2026, 5, 7), histories=histories)
    assert again.results == [] and again.problems == [] and len(again.unchanged) == 100

    in_force = current_by_visit(got.results).values()
    rows_due = due(in_force, set(), CAL, dt.date(2026, 5, 6))
    assert len(rows_due) == 100 and rows_due == sorted(
        rows_due, key=lambda d: (not d.overdue, d.deadline, d.plan_id, d.visit_id)
    )
    records = publication_records(
        in_force, {PLAN: PlanInfo("445203-2026-01", "揭东区2026年度双随机抽查", "揭阳市揭东区市场监督管理局")},
        {u: f"揭东某店{n}" for n, u in enumerate(ids)}, dt.date(2026, 5, 8),
    )  # fmt: skip
    data = to_xlsx(records, published_on=dt.date(2026, 5, 8))
    published = list(load_workbook(io.BytesIO(data)).worksheets[0].values)
    assert len(published) == 101
    assert due(in_force, {r.key for r in in_force}, CAL, dt.date(2026, 5, 8)) == []
