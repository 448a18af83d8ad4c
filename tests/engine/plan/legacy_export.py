"""The task-list export as it was before it streamed (engine.plan.export and engine.results.task_sheet at 0c63270),
kept verbatim as the oracle the streaming export is compared with: same CSV and JSON bytes, same XLSX cells."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from engine.plan.model import Plan
from entities.errors import InputError
from entities.models import CheckItemCreate, InspectorCreate
from tests.engine.plan import legacy_task_sheet as result_sheets
from tests.engine.plan.legacy_task_sheet import ResultSheets

FORMATS = ("csv", "xlsx", "json")

# Column: (Chinese header, width in Excel characters). Order is the sheet's.
COLUMNS: dict[str, tuple[str, int]] = {
    "no": ("序号", 6),
    "uscc": ("统一社会信用代码", 22),
    "name": ("主体名称", 30),
    "address": ("住所（经营场所）", 36),
    "region": ("所在区域", 11),
    "items": ("检查事项", 40),
    "basis": ("抽取方式", 24),
    "contents": ("检查内容", 60),
    "legal_basis": ("法律依据", 50),
    "team": ("检查组", 30),
    "lead": ("组长", 16),
    "experts": ("专家", 16),
    "due_from": ("开始日期", 12),
    "due_to": ("截止日期", 12),
    "visit": ("检查编号", 24),
}


def _who(inspector_id: str, names: Mapping[str, str]) -> str:
    name = names.get(inspector_id)
    return f"{name}（{inspector_id}）" if name else inspector_id


def task_rows(
    plan: Plan,
    items: Sequence[CheckItemCreate],
    subjects: pl.DataFrame | None = None,
    inspectors: Sequence[InspectorCreate] = (),
    *,
    inspector: str | None = None,
    window: tuple[dt.date, dt.date] | None = None,
) -> list[dict[str, Any]]:
    """One structured record per visit (all visits, or those of one inspector; those scheduled inside `window`, a
    week or month, when given), by due date then priority.

    Names and addresses come from the `subjects` frame's `name` and `address` columns when present; item names,
    check contents and legal basis from `items`; inspector names from `inspectors`.
    """
    by_code = {i.code: i for i in items}
    missing = sorted({i.code for v in plan.visits for i in v.items} - set(by_code))
    if missing:
        raise InputError(f"check item {missing[0]} of the plan is not among the items given to the export")
    names = {i.id: i.name for i in inspectors}
    if inspector is not None and inspector not in {t.id for t in plan.team_load}:
        raise InputError(f"unknown inspector {inspector}: not on this plan's roster")
    visits = [v for v in plan.visits if inspector is None or inspector in v.team]
    if window is not None:
        if plan.visits and all(v.scheduled_on is None for v in plan.visits):
            raise InputError("this plan has no schedule (a suijian.plan/1 plan: no visit has a scheduled date)")
        visits = [v for v in visits if v.scheduled_on is not None and window[0] <= v.scheduled_on <= window[1]]
    visits.sort(key=lambda v: (v.due_from, v.priority, v.id))
    info: dict[str, dict[str, Any]] = {}
    if subjects is not None:
        wanted = sorted({v.uscc for v in visits})
        cols = [c for c in ("name", "address") if c in subjects.columns]
        if "uscc" in subjects.columns and cols:
            for row in subjects.filter(pl.col("uscc").is_in(wanted)).select("uscc", *cols).iter_rows(named=True):
                info[row["uscc"]] = row
    rows = []
    for n, v in enumerate(visits, 1):
        subject = info.get(v.uscc, {})
        entries = []
        for vi in v.items:
            item = by_code[vi.code]
            entries.append(
                {
                    "code": vi.code,
                    "name": item.name,
                    "kind": str(item.kind),
                    "method": str(item.method),
                    "drawn": vi.drawn,
                    "mandatory": vi.mandatory,
                    "stratum": vi.stratum,
                    "reason": vi.reason,
                    "contents": list(item.contents),
                    "legal_basis": item.legal_basis,
                }
            )
        rows.append(
            {
                "no": n,
                "visit": v.id,
                "uscc": v.uscc,
                "name": subject.get("name") or "",
                "address": subject.get("address") or "",
                "region": v.region,
                "items": entries,
                "team": [
                    {"id": m, "name": names.get(m, ""), "lead": m == v.lead, "expert": m in v.experts} for m in v.team
                ],
                "lead": v.lead,
                "due_from": v.due_from.isoformat(),
                "due_to": v.due_to.isoformat(),
                "priority": v.priority,
            }
        )
    return rows


def recheck_rows(
    rechecks: Sequence[Mapping[str, Any]], items: Sequence[CheckItemCreate], *, first_no: int = 1
) -> list[dict[str, Any]]:
    """Task records for re-check visits (复查, engine.results.recheck_store.to_do rows), shaped as `task_rows` shapes a
    planned visit, with a `recheck` part: the plan and visit it follows up, why, under which article, and its day.

    Their due window is the proposal's (earliest, latest); the item is checked again for what was ordered, so it is
    neither drawn nor mandatory in the plan's sense."""
    by_code = {i.code: i for i in items}
    out = []
    for n, r in enumerate(rechecks, first_no):
        entries = []
        for code in r["items"]:
            item = by_code.get(code)
            entries.append(
                {
                    "code": code,
                    "name": item.name if item else code,
                    "kind": str(item.kind) if item else "",
                    "method": str(item.method) if item else "",
                    "drawn": False,
                    "mandatory": False,
                    "stratum": None,
                    "reason": r["reason"],
                    "contents": list(item.contents) if item else [],
                    "legal_basis": item.legal_basis if item else "",
                }
            )
        out.append(
            {
                "no": n,
                "visit": r["visit_id"],
                "uscc": r["uscc"],
                "name": r.get("subject") or "",
                "address": r.get("address") or "",
                "region": r["region"],
                "items": entries,
                "team": [
                    {"id": m, "name": name, "lead": m == r["lead"], "expert": False}
                    for m, name in zip(r["team"], r.get("team_names") or [""] * len(r["team"]), strict=True)
                ],
                "lead": r["lead"],
                "due_from": r["earliest"].isoformat(),
                "due_to": r["latest"].isoformat(),
                "priority": 0,
                "recheck": {
                    "plan_id": r["plan_id"],
                    "of_visit": r["of_visit_id"],
                    "proposal": r["proposal_id"],
                    "reason": r["reason"],
                    "basis": r["basis"],
                    "scheduled_on": r["scheduled_on"].isoformat() if r["scheduled_on"] else None,
                    "team_rule": r["team_rule"],
                },
            }
        )
    return out


def _recheck_basis(recheck: Mapping[str, Any]) -> str:
    day = f"；安排于 {recheck['scheduled_on']}" if recheck.get("scheduled_on") else ""
    return (
        f"复查：原检查 {recheck['of_visit']}（计划 {recheck['plan_id']}）；{recheck['reason']}；"
        f"依据 {recheck['basis']}{day}"
    )


def _basis(entry: Mapping[str, Any]) -> str:
    parts = []
    if entry["mandatory"]:
        parts.append(f"必查：{entry['reason']}" if entry["reason"] else "必查")
    if entry["drawn"]:
        parts.append(f"随机抽取（{entry['stratum']}）")
    return "；".join(parts)


def flat_rows(rows: Sequence[Mapping[str, Any]], inspectors: Sequence[InspectorCreate] = ()) -> list[dict[str, str]]:
    """The structured records as text cells, one per column of COLUMNS (items one per line within a cell)."""
    names = {i.id: i.name for i in inspectors}
    out = []
    for r in rows:
        entries = r["items"]
        members = [m for m in r["team"] if not m["expert"]]
        experts = [m for m in r["team"] if m["expert"]]

        def person(m: Mapping[str, Any]) -> str:
            return _who(m["id"], {m["id"]: m["name"] or names.get(m["id"], "")})

        out.append(
            {
                "no": str(r["no"]),
                "uscc": r["uscc"],
                "name": r["name"],
                "address": r["address"],
                "region": r["region"],
                "items": "\n".join(f"{e['code']} {e['name']}" for e in entries),
                "basis": _recheck_basis(r["recheck"])
                if r.get("recheck")
                else "\n".join(f"{e['code']}：{_basis(e)}" for e in entries),
                "contents": "\n".join(f"{e['code']}：{'；'.join(e['contents'])}" for e in entries),
                "legal_basis": "\n".join(f"{e['code']}：{e['legal_basis']}" for e in entries),
                "team": "、".join(person(m) for m in members),
                "lead": next((person(m) for m in members if m["lead"]), ""),
                "experts": "、".join(person(m) for m in experts),
                "due_from": r["due_from"],
                "due_to": r["due_to"],
                "visit": r["visit"],
            }
        )
    return out


def to_csv(rows: Sequence[Mapping[str, Any]], inspectors: Sequence[InspectorCreate] = ()) -> bytes:
    """CSV with Chinese headers, UTF-8 with a byte-order mark so Excel opens it as UTF-8, CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([header for header, _ in COLUMNS.values()])
    for r in flat_rows(rows, inspectors):
        writer.writerow([r[c] for c in COLUMNS])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(
    rows: Sequence[Mapping[str, Any]],
    inspectors: Sequence[InspectorCreate] = (),
    *,
    title: str = "检查任务",
    as_of: dt.date | None = None,
    results: ResultSheets | None = None,
) -> bytes:
    """An Excel workbook: Chinese headers in bold, readable column widths, the header row frozen, text wrapped.

    `as_of` sets the document's created/modified dates (otherwise a fixed date), never the wall clock. With
    `results`, the workbook also has the 检查结果 sheet inspectors fill in (read back by `suijian results import`)
    and a sheet of what the plan could not cover (engine.results.task_sheet).
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    stamp = dt.datetime.combine(as_of or dt.date(2000, 1, 1), dt.time())
    workbook.properties.created = stamp
    workbook.properties.modified = stamp
    workbook.properties.creator = "suijian"
    sheet = workbook.create_sheet(title=title[:31])  # the task sheet (task_sheet.TASKS_SHEET by default)
    sheet.freeze_panes = "A2"
    for n, (_, width) in enumerate(COLUMNS.values(), 1):
        sheet.column_dimensions[get_column_letter(n)].width = width
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    header = []
    for text, _ in COLUMNS.values():
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for r in flat_rows(rows, inspectors):
        cells = []
        for c in COLUMNS:
            cell = WriteOnlyCell(sheet, value=int(r[c]) if c == "no" else r[c])
            cell.alignment = wrap
            cells.append(cell)
        sheet.append(cells)
    if results is not None:
        result_sheets.add_sheets(workbook, rows, results)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def to_json(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """The structured records as one JSON document (UTF-8, sorted keys)."""
    return (json.dumps(list(rows), ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode("utf-8")


def export_tasks(
    plan: Plan,
    items: Sequence[CheckItemCreate],
    subjects: pl.DataFrame | None = None,
    inspectors: Sequence[InspectorCreate] = (),
    *,
    format: str,
    inspector: str | None = None,
    window: tuple[dt.date, dt.date] | None = None,
    plan_id: str = "",
    townships: Mapping[str, str] | None = None,
    sheets: str | None = None,
    rechecks: Sequence[Mapping[str, Any]] = (),
) -> bytes:
    """The task list of a plan (or of one inspector) in csv, xlsx or json, as bytes ready to write to a file.

    XLSX with `plan_id`: with the 检查结果 sheet to fill in — or, with `sheets` "inspector" or "unit", one such sheet
    per 组长 or per 执法单位 — and the sheet of what the plan could not cover (township names from `townships`,
    region code → name). `rechecks`: re-check visits to list after the plan's (recheck_store.to_do rows)."""
    if format not in FORMATS:
        raise InputError(f"unknown export format {format!r} (use {', '.join(FORMATS)})")
    if sheets is not None and (format != "xlsx" or not plan_id):
        raise InputError("one sheet per inspector or unit is an XLSX task list with result sheets (--format xlsx)")
    if sheets is not None and sheets not in result_sheets.SPLITS:
        raise InputError(f"unknown sheet split {sheets!r} (use {', '.join(result_sheets.SPLITS)})")
    # An inspector who joined after the plan may have re-checks only: their list is those (no plan visits).
    newcomer = inspector is not None and bool(rechecks) and inspector not in {t.id for t in plan.team_load}
    rows = [] if newcomer else task_rows(plan, items, subjects, inspectors, inspector=inspector, window=window)
    # Re-checks due in the same days follow the plan's visits, marked 复查 (the caller picks them by window).
    rows += recheck_rows(rechecks, items, first_no=len(rows) + 1)
    if format == "csv":
        return to_csv(rows, inspectors)
    if format == "xlsx":
        results = (
            result_sheets.ResultSheets(
                plan_id, plan, items, townships or {}, subjects, split=sheets, inspectors=tuple(inspectors)
            )
            if plan_id
            else None
        )
        return to_xlsx(rows, inspectors, as_of=plan.as_of, results=results)
    return to_json(rows)
