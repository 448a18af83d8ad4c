"""The sheets of the task-list workbook that carry results: 检查结果 (one row per visit and item, filled in by the
inspectors in Excel or WPS and read back by `suijian results import`), the code lists its dropdowns use, and a
sheet of what the plan could not cover.

The 检查结果 headers are `validate.HEADERS` — the export's headers are the import's headers — with a few columns
to read by (subject name, township name, item name, the window) that the import ignores. Dates are real date
cells; 检查结果 and 处置措施 have in-cell dropdowns (data validation) of the code table's labels, typed codes and
several codes separated by ；still allowed; 完成日期 and the deadlines accept dates only.

On request the results are split over one sheet per inspector or per 执法单位 (`SPLITS`), each sheet a complete
检查结果 sheet (same columns, dropdowns, date cells, autofilter). A visit goes on the sheet of its 组长 (or of the
组长's unit): the lead answers for the record, and a visit on one sheet only cannot be filled in twice with two
different answers. Sheet names follow Excel's rules (`sheet_titles`). `suijian results import` reads every sheet
of the workbook except the task, code and uncovered sheets (`NOT_RESULTS`).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from engine.plan.model import Plan
from engine.results.codes import ResultCodes, default_codes, sort_by_form
from engine.results.model import MeasureKind
from engine.results.validate import HEADERS
from entities.errors import InputError
from entities.models import CheckItemCreate, InspectorCreate

RESULTS_SHEET = "检查结果"
CODES_SHEET = "结果代码"
UNCOVERED_SHEET = "未能覆盖"
TASKS_SHEET = "检查任务"  # the task list's own sheet (engine.plan.export), to read, not to fill in
NOT_RESULTS = (TASKS_SHEET, CODES_SHEET, UNCOVERED_SHEET)  # every other sheet of an exported workbook is results
SPLITS = ("inspector", "unit")
RESERVED_TITLES = (*NOT_RESULTS, RESULTS_SHEET, "History")  # Excel keeps "History" for itself
DATE_FORMAT = "yyyy-mm-dd"
SHEET_TITLE_MAX = 31  # Excel's limit on a sheet name
_ILLEGAL_IN_TITLE = str.maketrans({c: "_" for c in "\\/?*[]:"})

# The 检查结果 sheet's columns, in order: (field, header, width). Fields in HEADERS are read back by the import.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("plan_id", HEADERS["plan_id"], 20),
    ("visit_id", HEADERS["visit_id"], 22),
    ("uscc", HEADERS["uscc"], 22),
    ("name", "主体名称", 28),
    ("township", "所在街镇", 14),
    ("item_code", HEADERS["item_code"], 14),
    ("item_name", "抽查事项", 28),
    ("due_from", "开始日期", 12),
    ("due_to", "截止日期", 12),
    ("team", HEADERS["team"], 30),
    ("completed_on", HEADERS["completed_on"], 13),
    ("result_codes", HEADERS["result_codes"], 30),
    ("findings", HEADERS["findings"], 30),
    ("measures", HEADERS["measures"], 14),
    ("deadline", HEADERS["deadline"], 13),
    ("rectification_report_on", HEADERS["rectification_report_on"], 16),
    ("correction_reason", HEADERS["correction_reason"], 20),
    ("kind", "检查类型", 10),  # 双随机抽查, or 复查 for a re-check visit (read only; the import ignores it)
)
KIND_PLANNED = "双随机抽查"
KIND_RECHECK = "复查"
DATE_FIELDS = ("due_from", "due_to", "completed_on", "deadline", "rectification_report_on")
FILLED_IN = ("completed_on", "result_codes", "findings", "measures", "deadline", "rectification_report_on")


@dataclass(frozen=True)
class ResultSheets:
    """What the results sheets need beyond the task rows: the plan id, the plan (for what it could not cover),
    the items (names), township names by region code, and the subjects' names."""

    plan_id: str
    plan: Plan
    items: Sequence[CheckItemCreate]
    townships: Mapping[str, str]
    subjects: Any = None  # polars frame with uscc and name, when known
    codes: ResultCodes = field(default_factory=default_codes)
    split: str | None = None  # None: one 检查结果 sheet; "inspector" / "unit": one sheet per lead / lead's unit
    inspectors: Sequence[InspectorCreate] = ()  # names and units for the split sheets


def result_rows(rows: Iterable[Mapping[str, Any]], sheets: ResultSheets) -> list[dict[str, Any]]:
    """One record per visit and item of the task rows, with the columns of COLUMNS (empty result cells)."""
    return list(iter_result_rows(rows, sheets))


def iter_result_rows(rows: Iterable[Mapping[str, Any]], sheets: ResultSheets) -> Iterator[dict[str, Any]]:
    """The records of `result_rows` one at a time, as the task rows come."""
    for r in rows:
        team = "、".join(m["id"] for m in r["team"] if not m["expert"])
        recheck = r.get("recheck")
        for e in r["items"]:
            yield (
                {
                    # A re-check belongs to the plan of the visit it follows up (engine.results.rechecks).
                    "plan_id": recheck["plan_id"] if recheck else sheets.plan_id,
                    "visit_id": r["visit"],
                    "kind": KIND_RECHECK if recheck else KIND_PLANNED,
                    "lead": r["lead"],
                    "uscc": r["uscc"],
                    "name": r["name"],
                    "township": sheets.townships.get(r["region"], r["region"]),
                    "item_code": e["code"],
                    "item_name": e["name"],
                    "due_from": dt.date.fromisoformat(r["due_from"]),
                    "due_to": dt.date.fromisoformat(r["due_to"]),
                    "team": team,
                    **{f: None for f in FILLED_IN},
                    "correction_reason": None,
                }
            )


def uncovered_rows(sheets: ResultSheets) -> list[dict[str, Any]]:
    names = {i.code: i.name for i in sheets.items}
    subject_names: dict[str, str] = {}
    frame = sheets.subjects
    if frame is not None and "uscc" in frame.columns and "name" in frame.columns:
        subject_names = dict(zip(frame["uscc"].to_list(), frame["name"].to_list(), strict=True))
    out = []
    for kind, dropped in (("未覆盖", sheets.plan.uncovered), ("未能配备检查组", sheets.plan.unstaffed)):
        for d in dropped:
            out.append(
                {
                    "what": kind,
                    "uscc": d.uscc,
                    "name": subject_names.get(d.uscc, ""),
                    "items": "、".join(f"{c} {names.get(c, '')}".strip() for c in d.items),
                    "mandatory": "、".join(d.mandatory),
                    "code": d.code,
                    "reason": d.reason,
                }
            )
    return out


UNCOVERED_COLUMNS = (
    ("what", "类别", 14),
    ("uscc", "统一社会信用代码", 22),
    ("name", "主体名称", 28),
    ("items", "检查事项", 40),
    ("mandatory", "其中必查", 20),
    ("code", "原因代码", 12),
    ("reason", "原因", 60),
)


def _results_sheet(workbook: Any, title: str, records: Iterable[Mapping[str, Any]], labels: int, measures: int) -> None:
    """One 检查结果 sheet: the records, with dropdowns of the `labels` result labels and `measures` measures listed on
    the 结果代码 sheet, date cells and an autofilter. The records are written as they come; the dropdowns and the
    filter, which name the last row, are added after (a write-only sheet writes them when it is closed)."""
    bold = Font(bold=True)
    sheet = workbook.create_sheet(title=title)
    sheet.freeze_panes = "A2"
    letter = {f: get_column_letter(n) for n, (f, _, _) in enumerate(COLUMNS, 1)}
    for f, _, width in COLUMNS:
        sheet.column_dimensions[letter[f]].width = width

    header = []
    for _, text, _ in COLUMNS:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    # Date columns get the date format: set once on a template, its style array handed to each such cell (setting
    # the format cell by cell looks the style up each time); the other cells keep the default style.
    template = WriteOnlyCell(sheet)
    template.number_format = DATE_FORMAT
    dated = template._style  # type: ignore[attr-defined]  # openpyxl keeps a cell's style array there
    styles = [dated if f in DATE_FIELDS else StyleArray() for f, _, _ in COLUMNS]
    fields = [f for f, _, _ in COLUMNS]
    written = 0
    for rec in records:
        written += 1
        sheet.append(
            [
                Cell(sheet, row=1, column=1, value=rec[f], style_array=style)
                for f, style in zip(fields, styles, strict=True)
            ]
        )
    last = max(written + 1, 2)

    # Dropdowns: lists on the 结果代码 sheet (an inline list is limited to 255 characters).

    def validation(f: str, **kw: Any) -> None:
        dv = DataValidation(allow_blank=True, **kw)
        dv.add(f"{letter[f]}2:{letter[f]}{last}")
        sheet.data_validations.append(dv)

    validation(
        "result_codes",
        type="list",
        formula1=f"'{CODES_SHEET}'!$A$2:$A${labels + 1}",
        showErrorMessage=False,  # several codes are typed as "3；A"; the import checks every one
        promptTitle="检查结果",
        prompt="选择一项；多项结果用；分隔（可填代码，如 3；A）",
        showInputMessage=True,
    )
    validation(
        "measures",
        type="list",
        formula1=f"'{CODES_SHEET}'!$C$2:$C${measures + 1}",
        showErrorMessage=False,
        promptTitle="处置措施",
        prompt="选择一项；多项用、分隔",
        showInputMessage=True,
    )
    for f in ("completed_on", "deadline", "rectification_report_on"):
        validation(
            f,
            type="date",
            operator="greaterThan",
            formula1="DATE(2000,1,1)",
            showErrorMessage=True,
            errorTitle="日期",
            error="请填写日期，如 2026-04-10",
        )

    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{written + 1}"


def sheet_titles(wanted: Sequence[tuple[str, str]], reserved: Sequence[str] = RESERVED_TITLES) -> dict[str, str]:
    """A legal, unique Excel sheet name for each (key, name): the name with \\ / ? * [ ] : replaced by _, no
    leading or trailing apostrophe, at most 31 characters, unique regardless of case (as Excel compares them) and
    none of `reserved`. A clash keeps the name and adds "~2", "~3", … (cut so the whole stays within 31)."""
    taken = {r.casefold() for r in reserved}
    out: dict[str, str] = {}
    for key, name in wanted:
        base = name.translate(_ILLEGAL_IN_TITLE).strip().strip("'").strip() or key.translate(_ILLEGAL_IN_TITLE)
        base = base[:SHEET_TITLE_MAX] or "_"
        title, n = base, 1
        while title.casefold() in taken:
            n += 1
            suffix = f"~{n}"
            title = base[: SHEET_TITLE_MAX - len(suffix)] + suffix
        taken.add(title.casefold())
        out[key] = title
    return out


def unit_tab_names(units: Sequence[str]) -> dict[str, str]:
    """Each unit's sheet name without the office name every unit shares: 揭阳市揭东区市场监督管理局云路镇市场监督管理所
    and …产品质量安全监督管理股 become 云路镇市场监督管理所 and 产品质量安全监督管理股 — a tab shows the part that tells
    them apart. The shared part is cut only after a 局 (the bureau's name), and only when every unit keeps a name."""
    if len(units) < 2:
        return {u: u for u in units}
    common = os.path.commonprefix(list(units))
    cut = common.rfind("局") + 1
    if cut == 0 or any(not u[cut:].strip() for u in units):
        return {u: u for u in units}
    return {u: u[cut:] for u in units}


def split_records(records: Sequence[dict[str, Any]], sheets: ResultSheets) -> list[tuple[str, list[dict[str, Any]]]]:
    """The result records grouped into sheets: [(title, records)], in a stable order.

    No split: one 检查结果 sheet. By inspector: one sheet per 组长, named by the inspector's name, or "name（id）"
    when two leads share a name, in roster-id order. By unit: one sheet per the leads' 执法单位, by unit name. A lead
    missing from the roster given gets a sheet named by their id."""
    if sheets.split is None:
        return [(RESULTS_SHEET, list(records))]
    if sheets.split not in SPLITS:
        raise InputError(f"unknown sheet split {sheets.split!r} (use {', '.join(SPLITS)})")
    people = {i.id: i for i in sheets.inspectors}
    groups: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        lead = people.get(rec["lead"])
        key = rec["lead"] if sheets.split == "inspector" else (lead.unit if lead is not None else rec["lead"])
        groups.setdefault(key, []).append(rec)
    if sheets.split == "inspector":
        names = {k: people[k].name if k in people else k for k in groups}
        shared = {n for n in names.values() if list(names.values()).count(n) > 1}
        wanted = [(k, f"{names[k]}（{k}）" if names[k] in shared else names[k]) for k in sorted(groups)]
    else:
        short = unit_tab_names(sorted(groups))
        wanted = [(k, short[k]) for k in sorted(groups)]
    titles = sheet_titles(wanted)
    return [(titles[k], groups[k]) for k, _ in wanted]


def add_sheets(workbook: Any, rows: Iterable[Mapping[str, Any]], sheets: ResultSheets) -> None:
    """Add the 检查结果 sheet (or one per inspector or unit), 结果代码 and 未能覆盖 sheets to a write-only openpyxl
    workbook. One 检查结果 sheet is written as the rows come; a split one groups the records first."""
    bold = Font(bold=True)
    table = sheets.codes
    labels = [c.label_zh for c in sort_by_form(table)]
    measures = [k.label for k in MeasureKind]
    records = iter_result_rows(rows, sheets)
    groups: Iterable[tuple[str, Iterable[dict[str, Any]]]] = (
        [(RESULTS_SHEET, records)] if sheets.split is None else split_records(list(records), sheets)
    )
    for title, members in groups:
        _results_sheet(workbook, title, members, len(labels), len(measures))

    codes_sheet = workbook.create_sheet(title=CODES_SHEET)
    codes_sheet.append(["检查结果", "代码", "处置措施"])
    for n in range(max(len(labels), len(measures))):
        code = sort_by_form(table)[n].code if n < len(labels) else None
        codes_sheet.append([labels[n] if n < len(labels) else None, code, measures[n] if n < len(measures) else None])

    uncovered = workbook.create_sheet(title=UNCOVERED_SHEET)
    for n, (_, _, width) in enumerate(UNCOVERED_COLUMNS, 1):
        uncovered.column_dimensions[get_column_letter(n)].width = width
    head = []
    for _, text, _ in UNCOVERED_COLUMNS:
        cell = WriteOnlyCell(uncovered, value=text)
        cell.font = bold
        head.append(cell)
    uncovered.append(head)
    dropped = uncovered_rows(sheets)
    for rec in dropped:
        uncovered.append([rec[f] for f, _, _ in UNCOVERED_COLUMNS])
    uncovered.auto_filter.ref = f"A1:{get_column_letter(len(UNCOVERED_COLUMNS))}{len(dropped) + 1}"
