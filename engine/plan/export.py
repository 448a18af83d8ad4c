"""Inspectors' task lists from a plan: one row per visit, as CSV (Excel-ready), XLSX or JSON bytes.

Each row names the subject (name, USCC, address), the items to check with their check contents and legal basis,
why each item is there (drawn or mandatory), the team with its lead, and the due window. The writers return
bytes and touch no file, store or clock; the CLI decides where they go.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import polars as pl

from engine.output_file import xlsx_bytes
from engine.plan.model import Plan
from engine.results import task_sheet as result_sheets
from engine.results.task_sheet import ResultSheets
from entities.errors import InputError
from entities.models import CheckItemCreate, InspectorCreate

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


VISIT_SCHEMA: dict[str, Any] = {
    "id": pl.String,
    "uscc": pl.String,
    "region": pl.String,
    "items": pl.List(
        pl.Struct(
            {"code": pl.String, "drawn": pl.Boolean, "mandatory": pl.Boolean, "stratum": pl.String, "reason": pl.String}
        )
    ),
    "team": pl.List(pl.String),
    "lead": pl.String,
    "experts": pl.List(pl.String),
    "due_from": pl.String,  # ISO dates as the document writes them: they sort as the dates do
    "due_to": pl.String,
    "priority": pl.Int64,
    "scheduled_on": pl.String,
}
"""What the lists read of a visit, one column each: a city's visits as columns are a tenth of them as objects."""

_ROWS_AT_ONCE = 10_000  # visits turned into records (and written) at a time


def visit_frame(visits: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Visits as the plan document writes them (Visit.to_dict) as a frame of VISIT_SCHEMA (other keys ignored)."""
    return pl.DataFrame(list(visits), schema=VISIT_SCHEMA)


def plan_visit_frame(plan: Plan) -> pl.DataFrame:
    """The visits of a plan held in memory, as a frame of VISIT_SCHEMA."""
    return visit_frame(v.to_dict() for v in plan.visits)


def selected_visits(
    plan: Plan,
    items: Sequence[CheckItemCreate],
    visits: pl.DataFrame,
    *,
    inspector: str | None = None,
    window: tuple[dt.date, dt.date] | None = None,
) -> pl.DataFrame:
    """The visits a list holds (all, or those of one inspector; those scheduled inside `window` when given), by
    due date then priority then id; one line for an item the catalogue lacks, an inspector not on the plan's roster
    or a window on a plan without a schedule."""
    codes = visits.get_column("items").explode().struct.field("code").drop_nulls().unique()
    missing = sorted(set(codes.to_list()) - {i.code for i in items})
    if missing:
        raise InputError(f"check item {missing[0]} of the plan is not among the items given to the export")
    if inspector is not None and inspector not in {t.id for t in plan.team_load}:
        raise InputError(f"unknown inspector {inspector}: not on this plan's roster")
    chosen = visits
    if inspector is not None:
        chosen = chosen.filter(pl.col("team").list.contains(inspector))
    if window is not None:
        if visits.height and visits.get_column("scheduled_on").null_count() == visits.height:
            raise InputError("this plan has no schedule (a suijian.plan/1 plan: no visit has a scheduled date)")
        first, last = window[0].isoformat(), window[1].isoformat()
        chosen = chosen.filter(
            pl.col("scheduled_on").is_not_null(), pl.col("scheduled_on").is_between(pl.lit(first), pl.lit(last))
        )
    return chosen.sort(["due_from", "priority", "id"], maintain_order=True)


def iter_task_rows(
    plan: Plan,
    items: Sequence[CheckItemCreate],
    subjects: pl.DataFrame | None = None,
    inspectors: Sequence[InspectorCreate] = (),
    *,
    inspector: str | None = None,
    window: tuple[dt.date, dt.date] | None = None,
    visits: pl.DataFrame | None = None,
) -> Iterator[dict[str, Any]]:
    """The records of `task_rows`, made a few thousand at a time (a city's list is never held whole). `visits`:
    the plan's visits as a frame (engine.plan.stored reads them so); by default those of `plan`."""
    frame = selected_visits(
        plan, items, plan_visit_frame(plan) if visits is None else visits, inspector=inspector, window=window
    )
    return _records(frame, items, subjects, inspectors)


def _records(
    frame: pl.DataFrame,
    items: Sequence[CheckItemCreate],
    subjects: pl.DataFrame | None,
    inspectors: Sequence[InspectorCreate],
) -> Iterator[dict[str, Any]]:
    by_code = {i.code: i for i in items}
    names = {i.id: i.name for i in inspectors}
    cols = [c for c in ("name", "address") if subjects is not None and c in subjects.columns]
    if subjects is not None and "uscc" in subjects.columns and cols:
        # A left join keeps the visits' order; the last row of a subject given twice wins, as a dict would have it.
        info = subjects.select("uscc", *cols).unique("uscc", keep="last", maintain_order=True)
        frame = frame.join(info, on="uscc", how="left", maintain_order="left")
    n = 0
    for start in range(0, frame.height, _ROWS_AT_ONCE):
        for v in frame.slice(start, _ROWS_AT_ONCE).iter_rows(named=True):
            n += 1
            experts = set(v["experts"])
            entries = []
            for vi in v["items"]:
                item = by_code[vi["code"]]
                entries.append(
                    {
                        "code": vi["code"],
                        "name": item.name,
                        "kind": str(item.kind),
                        "method": str(item.method),
                        "drawn": vi["drawn"],
                        "mandatory": vi["mandatory"],
                        "stratum": vi["stratum"],
                        "reason": vi["reason"],
                        "contents": list(item.contents),
                        "legal_basis": item.legal_basis,
                    }
                )
            yield {
                "no": n,
                "visit": v["id"],
                "uscc": v["uscc"],
                "name": v.get("name") or "",
                "address": v.get("address") or "",
                "region": v["region"],
                "items": entries,
                "team": [
                    {"id": m, "name": names.get(m, ""), "lead": m == v["lead"], "expert": m in experts}
                    for m in v["team"]
                ],
                "lead": v["lead"],
                "due_from": v["due_from"],
                "due_to": v["due_to"],
                "priority": v["priority"],
            }


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
    return list(iter_task_rows(plan, items, subjects, inspectors, inspector=inspector, window=window))


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


def flat_rows(rows: Iterable[Mapping[str, Any]], inspectors: Sequence[InspectorCreate] = ()) -> list[dict[str, str]]:
    """The structured records as text cells, one per column of COLUMNS (items one per line within a cell)."""
    names = {i.id: i.name for i in inspectors}
    return [flat_row(r, names) for r in rows]


def flat_row(r: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, str]:
    """One structured record as text cells (`names`: inspector id -> name, for members the record names not)."""
    entries = r["items"]
    members = [m for m in r["team"] if not m["expert"]]
    experts = [m for m in r["team"] if m["expert"]]

    def person(m: Mapping[str, Any]) -> str:
        return _who(m["id"], {m["id"]: m["name"] or names.get(m["id"], "")})

    return {
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


def csv_chunks(rows: Iterable[Mapping[str, Any]], inspectors: Sequence[InspectorCreate] = ()) -> Iterator[bytes]:
    """The CSV of `to_csv` in pieces of a few thousand rows, for writing as the rows are made."""
    names = {i.id: i.name for i in inspectors}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([header for header, _ in COLUMNS.values()])
    yield codecs.BOM_UTF8  # what "utf-8-sig" puts before the text
    for n, r in enumerate(rows, 1):
        flat = flat_row(r, names)
        writer.writerow([flat[c] for c in COLUMNS])
        if n % _ROWS_AT_ONCE == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def to_csv(rows: Iterable[Mapping[str, Any]], inspectors: Sequence[InspectorCreate] = ()) -> bytes:
    """CSV with Chinese headers, UTF-8 with a byte-order mark so Excel opens it as UTF-8, CRLF line ends."""
    return b"".join(csv_chunks(rows, inspectors))


def to_xlsx(
    rows: Iterable[Mapping[str, Any]] | Callable[[], Iterable[Mapping[str, Any]]],
    inspectors: Sequence[InspectorCreate] = (),
    *,
    title: str = "检查任务",
    as_of: dt.date | None = None,
    results: ResultSheets | None = None,
) -> bytes:
    """An Excel workbook: Chinese headers in bold, readable column widths, the header row frozen, text wrapped.

    `as_of` sets the document's created/modified dates (otherwise a fixed date), never the wall clock. With
    `results`, the workbook also has the 检查结果 sheet inspectors fill in (read back by `suijian results import`)
    and a sheet of what the plan could not cover (engine.results.task_sheet). `rows` may be a function giving the
    records afresh: the task sheet and the results sheets then each read them once, and a city's list is never
    held whole (openpyxl's write-only sheets keep the written rows on disk).
    """
    from openpyxl import Workbook
    from openpyxl.cell import Cell, WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    if callable(rows):
        again = rows
    else:
        held = list(rows)

        def again() -> Iterable[Mapping[str, Any]]:
            return held

    names = {i.id: i.name for i in inspectors}
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
    # Every cell gets the wrapped style: set once on a template, and its style array handed to each cell (setting
    # the alignment cell by cell looks the style up each time, a third of the time of a city's workbook).
    template = WriteOnlyCell(sheet)
    template.alignment = wrap
    wrapped = template._style  # type: ignore[attr-defined]  # openpyxl keeps a cell's style array there
    for r in again():
        flat = flat_row(r, names)
        sheet.append(
            [
                Cell(sheet, row=1, column=1, value=int(flat[c]) if c == "no" else flat[c], style_array=wrapped)
                for c in COLUMNS
            ]
        )
    if results is not None:
        result_sheets.add_sheets(workbook, again(), results)
    return xlsx_bytes(workbook)  # no wall clock in the bytes: same plan, same file


def json_chunks(rows: Iterable[Mapping[str, Any]]) -> Iterator[bytes]:
    """The JSON of `to_json` a record at a time: each record dumped as the whole list's dump indents it."""
    opened = False
    for r in rows:
        text = json.dumps(r, ensure_ascii=False, sort_keys=True, indent=2).replace("\n", "\n  ")
        yield (("[\n  " if not opened else ",\n  ") + text).encode("utf-8")
        opened = True
    yield b"\n]\n" if opened else b"[]\n"


def to_json(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """The structured records as one JSON document (UTF-8, sorted keys)."""
    return b"".join(json_chunks(rows))


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
    visits: pl.DataFrame | None = None,
) -> bytes:
    """The task list of a plan (or of one inspector) in csv, xlsx or json, as bytes ready to write to a file.

    XLSX with `plan_id`: with the 检查结果 sheet to fill in — or, with `sheets` "inspector" or "unit", one such sheet
    per 组长 or per 执法单位 — and the sheet of what the plan could not cover (township names from `townships`,
    region code → name). `rechecks`: re-check visits to list after the plan's (recheck_store.to_do rows).
    `visits`: the plan's visits as a frame (VISIT_SCHEMA), when `plan` was read without them."""
    return b"".join(
        export_chunks(
            plan,
            items,
            subjects,
            inspectors,
            format=format,
            inspector=inspector,
            window=window,
            plan_id=plan_id,
            townships=townships,
            sheets=sheets,
            rechecks=rechecks,
            visits=visits,
        )
    )


def export_chunks(
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
    visits: pl.DataFrame | None = None,
) -> Iterator[bytes]:
    """`export_tasks` in pieces, to write as they come: CSV and JSON a few thousand records at a time, XLSX as
    one piece (openpyxl keeps its rows on disk until the workbook is saved). Every check is made before the
    first piece."""
    if format not in FORMATS:
        raise InputError(f"unknown export format {format!r} (use {', '.join(FORMATS)})")
    if sheets is not None and (format != "xlsx" or not plan_id):
        raise InputError("one sheet per inspector or unit is an XLSX task list with result sheets (--format xlsx)")
    if sheets is not None and sheets not in result_sheets.SPLITS:
        raise InputError(f"unknown sheet split {sheets!r} (use {', '.join(result_sheets.SPLITS)})")
    # An inspector who joined after the plan may have re-checks only: their list is those (no plan visits).
    newcomer = inspector is not None and bool(rechecks) and inspector not in {t.id for t in plan.team_load}
    frame = plan_visit_frame(plan) if visits is None else visits
    chosen = frame.clear() if newcomer else selected_visits(plan, items, frame, inspector=inspector, window=window)
    # Re-checks due in the same days follow the plan's visits, marked 复查 (the caller picks them by window).
    extra = recheck_rows(rechecks, items, first_no=chosen.height + 1)

    def rows() -> Iterator[dict[str, Any]]:
        yield from _records(chosen, items, subjects, inspectors)
        yield from extra

    return _pieces(format, rows, plan, items, subjects, inspectors, plan_id, townships, sheets)


def _pieces(
    format: str,
    rows: Callable[[], Iterator[dict[str, Any]]],
    plan: Plan,
    items: Sequence[CheckItemCreate],
    subjects: pl.DataFrame | None,
    inspectors: Sequence[InspectorCreate],
    plan_id: str,
    townships: Mapping[str, str] | None,
    sheets: str | None,
) -> Iterator[bytes]:
    if format == "csv":
        yield from csv_chunks(rows(), inspectors)
    elif format == "json":
        yield from json_chunks(rows())
    else:
        results = (
            result_sheets.ResultSheets(
                plan_id, plan, items, townships or {}, subjects, split=sheets, inspectors=tuple(inspectors)
            )
            if plan_id
            else None
        )
        yield to_xlsx(rows, inspectors, as_of=plan.as_of, results=results)
