"""公示 of results: the 20-working-day clock, and the records a 国家企业信用信息公示系统 upload takes, as XLSX or CSV.

The clock: results are published within 20 working days of the check's end — 令49号 第39条 (food: 于检查结果信息形成后
20个工作日内), 企业信息公示暂行条例 第6条 (information the regulator produces: 自产生之日起20个工作日内), 企业公示信息抽查办法
第12条 (自检查结束之日起20个工作日内). Day 1 is the first working day after completion (民法典 第201条), counted on the
WorkCalendar (statutory holidays and 调休 make-up days from the chinesecalendar library, or the user's calendar file).

The records: one per visit result — plan number and name, inspecting authority, subject name, USCC, completion date,
result codes and their text, publication date. The writers return bytes and touch no file, store or clock: the same
records give the same bytes (the workbook's timestamps are the publication date, the zip entries' a fixed date).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from engine.output_file import xlsx_bytes
from engine.plan.calendar import WorkCalendar
from engine.results.codes import ResultCodes, default_codes, sort_codes
from engine.results.model import VisitResult
from entities.errors import InputError

PUBLICATION_DAYS = 20
ENCODINGS = ("utf-8", "gbk")


def deadline(calendar: WorkCalendar, completed_on: dt.date, days: int = PUBLICATION_DAYS) -> dt.date:
    """The last day to publish a result completed on `completed_on`: the 20th working day after it."""
    return calendar.add_working_days(completed_on, days)


def working_days_left(calendar: WorkCalendar, due: dt.date, as_of: dt.date) -> int:
    """Working days from `as_of` to `due`: 0 on the deadline itself, negative once past it (working days over).

    A result whose deadline passed only on a weekend is overdue by 0 working days: check `as_of > due` for that."""
    if as_of <= due:
        return calendar.count_working_days(as_of + dt.timedelta(days=1), due)
    return -calendar.count_working_days(due + dt.timedelta(days=1), as_of)


@dataclass(frozen=True)
class Due:
    """An unpublished result and its clock as of a date."""

    plan_id: str
    visit_id: str
    uscc: str
    completed_on: dt.date
    deadline: dt.date
    days_left: int  # working days; negative when overdue
    overdue: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.plan_id, self.visit_id)

    def as_dict(self) -> dict[str, Any]:
        """As `suijian results due --json` lists it (and the supervisor's dashboard)."""
        return {
            "plan": self.plan_id,
            "visit": self.visit_id,
            "uscc": self.uscc,
            "completed_on": self.completed_on.isoformat(),
            "deadline": self.deadline.isoformat(),
            "working_days_left": self.days_left,
            "overdue": self.overdue,
        }


def due(
    results: Iterable[VisitResult],
    published: Container[tuple[str, str]],
    calendar: WorkCalendar,
    as_of: dt.date,
    *,
    days: int = PUBLICATION_DAYS,
) -> list[Due]:
    """The results not yet published (by (plan id, visit id)), overdue first (most overdue first), then by deadline.

    `results` are the versions in force (`model.current_by_visit`); the clock runs from their completion date."""
    out = []
    # Many results share a completion day: count each day's clock once.
    deadlines: dict[dt.date, dt.date] = {}
    left: dict[dt.date, int] = {}
    for r in results:
        if r.key in published:
            continue
        if r.completed_on not in deadlines:
            deadlines[r.completed_on] = deadline(calendar, r.completed_on, days)
        d = deadlines[r.completed_on]
        if d not in left:
            left[d] = working_days_left(calendar, d, as_of)
        out.append(
            Due(
                plan_id=r.plan_id,
                visit_id=r.visit_id,
                uscc=r.uscc,
                completed_on=r.completed_on,
                deadline=d,
                days_left=left[d],
                overdue=as_of > d,
            )
        )
    out.sort(key=lambda x: (not x.overdue, x.deadline, x.plan_id, x.visit_id))
    return out


# ── publication records ─────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class PlanInfo:
    """What the upload names of a plan: its number (抽查计划编号), name and the inspecting authority."""

    number: str
    name: str
    authority: str


@dataclass(frozen=True)
class PublicationRecord:
    """One result as the 国家企业信用信息公示系统 upload takes it."""

    plan_number: str
    plan_name: str
    authority: str
    subject_name: str
    uscc: str
    completed_on: dt.date
    result_codes: tuple[str, ...]
    result_text: str
    published_on: dt.date
    # Not uploaded; what the store records of the publication (which visit and version was published).
    plan_id: str = ""
    visit_id: str = ""
    version: int = 0


# Field → Chinese header, in the upload's order.
COLUMNS: Mapping[str, str] = {
    "plan_number": "抽查计划编号",
    "plan_name": "抽查计划名称",
    "authority": "检查实施机关",
    "subject_name": "主体名称",
    "uscc": "统一社会信用代码",
    "completed_on": "检查完成日期",
    "result_codes": "检查结果代码",
    "result_text": "检查结果",
    "published_on": "公示日期",
}
DATE_FIELDS = frozenset({"completed_on", "published_on"})


def published_codes(result: VisitResult, codes: ResultCodes) -> tuple[str, ...]:
    """A visit's codes as published: every item's codes, 未发现问题 dropped when another code is there.

    The national form makes 未发现问题 exclusive; a visit that found a problem on one item did find a problem."""
    found = set(result.result_codes)
    if found - codes.no_finding:
        found -= codes.no_finding
    return tuple(sort_codes(found))


def publication_records(
    results: Iterable[VisitResult],
    plans: Mapping[str, PlanInfo],
    subject_names: Mapping[str, str],
    published_on: dt.date,
    *,
    codes: ResultCodes | None = None,
) -> list[PublicationRecord]:
    """The upload records of these results, by plan number, completion date and USCC; one InputError names a
    result whose plan is not described or whose subject has no name (nothing is published half)."""
    table = codes if codes is not None else default_codes()
    out = []
    for r in results:
        plan = plans.get(r.plan_id)
        if plan is None:
            raise InputError(f"plan {r.plan_id}: no plan number, name and authority to publish visit {r.visit_id}")
        name = subject_names.get(r.uscc, "").strip()
        if not name:
            raise InputError(f"subject {r.uscc} (visit {r.visit_id}): no name to publish; import its registration")
        if published_on < r.completed_on:
            raise InputError(
                f"visit {r.visit_id}: publication date {published_on} is before its completion {r.completed_on}"
            )
        shown = published_codes(r, table)
        out.append(
            PublicationRecord(
                plan_number=plan.number,
                plan_name=plan.name,
                authority=plan.authority,
                subject_name=name,
                uscc=r.uscc,
                completed_on=r.completed_on,
                result_codes=shown,
                result_text=table.label(shown),
                published_on=published_on,
                plan_id=r.plan_id,
                visit_id=r.visit_id,
                version=r.version,
            )
        )
    out.sort(key=lambda p: (p.plan_number, p.completed_on, p.uscc, p.visit_id))
    return out


def _cells(record: PublicationRecord) -> list[object]:
    out: list[object] = []
    for fld in COLUMNS:
        value = getattr(record, fld)
        out.append("；".join(value) if fld == "result_codes" else value)
    return out


def to_csv(records: Sequence[PublicationRecord], *, encoding: str = "utf-8") -> bytes:
    """The records as CSV: UTF-8 with a BOM (Excel opens it as UTF-8), or GBK for older tools; dates YYYY-MM-DD."""
    if encoding not in ENCODINGS:
        raise InputError(f"unknown encoding {encoding!r} (use {' or '.join(ENCODINGS)})")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS.values())
    for n, record in enumerate(records, start=2):
        row = [v.isoformat() if isinstance(v, dt.date) else v for v in _cells(record)]
        if encoding == "gbk":
            for header, value in zip(COLUMNS.values(), row, strict=True):
                try:
                    str(value).encode("gbk")
                except UnicodeEncodeError as exc:
                    bad = str(value)[exc.start : exc.end]
                    raise InputError(f"row {n} [{header}]: {bad!r} has no GBK code; write the file as UTF-8") from None
        writer.writerow(row)
    text = buffer.getvalue()
    return text.encode("gbk") if encoding == "gbk" else text.encode("utf-8-sig")


WIDTHS = {"plan_number": 20, "plan_name": 30, "authority": 24, "subject_name": 30, "uscc": 22, "completed_on": 13,
          "result_codes": 12, "result_text": 40, "published_on": 12}  # fmt: skip


def to_xlsx(records: Sequence[PublicationRecord], *, published_on: dt.date, title: str = "抽查检查结果公示") -> bytes:
    """The records as an Excel workbook: Chinese headers, real date cells, an autofilter, the header row frozen.

    The same records and date give the same bytes: the document's created/modified times are `published_on`, and
    every zip entry carries a fixed date."""
    # Write-only: rows stream to the archive as they are appended (a city's results are hundreds of thousands).
    workbook = Workbook(write_only=True)
    stamp = dt.datetime.combine(published_on, dt.time())
    workbook.properties.created = stamp
    workbook.properties.modified = stamp
    workbook.properties.creator = "suijian"
    sheet = workbook.create_sheet(title=title[:31])
    for n, fld in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(n)].width = WIDTHS[fld]
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(records) + 1}"
    bold = Font(bold=True)
    header = []
    for text in COLUMNS.values():
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    dated = [fld in DATE_FIELDS for fld in COLUMNS]
    for record in records:
        row: list[object] = []
        for value, is_date in zip(_cells(record), dated, strict=True):
            if is_date and isinstance(value, dt.date):
                cell = WriteOnlyCell(sheet, value=dt.datetime.combine(value, dt.time()))
                cell.number_format = "yyyy-mm-dd"
                row.append(cell)
            else:
                row.append(value)
        sheet.append(row)
    return xlsx_bytes(workbook)
