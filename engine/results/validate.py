"""Check results before anything is recorded: every problem of one result, or of a whole results file, with its row
and column (file) or field (one record), sorted, never an exception for bad input.

What is checked, each with a stable `ProblemCode`: the visit is one of the plan's and the subject is its subject;
each item is one of the visit's and each of the visit's items has a result; every code is in the code table and 未发现问题 stands alone; the completion date is
not before the visit's window nor after the recording date; a measure that sets a period (责令改正, 责令限期公示,
监察指令) has a deadline, not before the completion; a rectification report is received between completion and
recording, for an order that asks for one; the team has at least two inspectors (令54号 第49条, 令53号 第50条); an
inspector records only visits whose team they are on (supervisors may record any, auditors none); a second result
for a visit carries a correction reason. A result that says what the version in force says is no problem and not
a new version either: re-importing a file changes nothing.

The visits come in as `VisitRef`s — the fields of the plans issue's visit rows this needs — so this module reads no
store and no plan document.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from engine.plan.model import Visit
from engine.results.codes import ResultCodes, default_codes
from engine.results.model import (
    NEEDS_DEADLINE,
    REPORTED,
    History,
    ItemResult,
    Measure,
    MeasureKind,
    VisitResult,
    parse_measure_kind,
)
from entities.errors import RowProblem

MIN_TEAM = 2  # 令54号 第49条, 令53号 第50条: at least two inspectors

RECORDING_ROLES = ("inspector", "supervisor")  # auditors read only
NO_HISTORY = History()


class ProblemCode(StrEnum):
    """Why a result cannot be recorded."""

    MISSING = "missing"  # a required field or column is empty
    BAD_DATE = "bad_date"
    MISSING_HEADER = "missing_header"  # a header the import needs is not in the file (edited or cut)
    DUPLICATE_HEADER = "duplicate_header"
    VISIT_NOT_IN_PLAN = "visit_not_in_plan"
    USCC_MISMATCH = "uscc_mismatch"
    ITEM_NOT_IN_VISIT = "item_not_in_visit"
    DUPLICATE_ITEM = "duplicate_item"
    ITEM_MISSING = "item_missing"  # an item of the visit has no result (a row left out or cut off)
    NO_ITEMS = "no_items"
    NO_CODE = "no_code"
    UNKNOWN_CODE = "unknown_code"
    NO_PROBLEM_COMBINED = "no_problem_combined"  # 未发现问题 with another code
    BEFORE_WINDOW = "before_window"
    AFTER_RECORDING = "after_recording"
    UNKNOWN_MEASURE = "unknown_measure"
    DEADLINE_MISSING = "deadline_missing"
    DEADLINE_BEFORE_COMPLETION = "deadline_before_completion"
    MEASURE_WITHOUT_FINDING = "measure_without_finding"
    REPORT_BEFORE_COMPLETION = "report_before_completion"
    REPORT_AFTER_RECORDING = "report_after_recording"
    REPORT_WITHOUT_ORDER = "report_without_order"
    TEAM_TOO_SMALL = "team_too_small"
    NOT_YOUR_VISIT = "not_your_visit"
    NOT_ALLOWED = "not_allowed"  # the role may not record results
    CORRECTION_WITHOUT_REASON = "correction_without_reason"
    NOTHING_TO_CORRECT = "nothing_to_correct"  # a correction reason on a visit with no result yet
    VERSION_CONFLICT = "version_conflict"
    INCONSISTENT_VISIT = "inconsistent_visit"  # rows of one visit disagree on a visit-level field


@dataclass(frozen=True, order=True)
class Problem:
    """One problem: where (file row as a spreadsheet shows it, 0 for a single record; field or column), what, why."""

    row: int
    field: str
    code: ProblemCode
    message: str

    def __str__(self) -> str:
        where = f"row {self.row} " if self.row else ""
        return f"{where}[{self.field}]: {self.code.value}: {self.message}"

    def to_row_problem(self, file: str) -> RowProblem:
        """The import's RowProblem (file, row, column, reason) for ImportRejected and rejects files."""
        return RowProblem(file, self.row, self.field, f"{self.code.value}: {self.message}")


@dataclass(frozen=True)
class VisitRef:
    """What validation needs of a planned visit: plan, visit, subject, items, team and its due window."""

    plan_id: str
    visit_id: str
    uscc: str
    items: tuple[str, ...]
    team: tuple[str, ...]
    window_start: dt.date
    window_end: dt.date

    @property
    def key(self) -> tuple[str, str]:
        return (self.plan_id, self.visit_id)

    @classmethod
    def from_visit(cls, plan_id: str, visit: Visit) -> VisitRef:
        """From a plan document's visit (until visits are rows: then from the row)."""
        return cls(
            plan_id=plan_id,
            visit_id=visit.id,
            uscc=visit.uscc,
            items=visit.item_codes,
            team=visit.team,
            window_start=visit.due_from,
            window_end=visit.due_to,
        )


@dataclass(frozen=True)
class Recorder:
    """Who records: an inspector id (or user) and a role (inspector | supervisor | auditor)."""

    id: str
    role: str


def index_visits(visits: Iterable[VisitRef]) -> dict[tuple[str, str], VisitRef]:
    return {v.key: v for v in visits}


# ── one result ──────────────────────────────────────────────────────────────────────────────────────────────


def check_result(
    result: VisitResult,
    visits: Mapping[tuple[str, str], VisitRef],
    recorder: Recorder,
    *,
    codes: ResultCodes | None = None,
    history: History = NO_HISTORY,
    rows: Mapping[str, int] | None = None,
) -> list[Problem]:
    """Every problem of one visit's result, sorted; [] when it can be recorded.

    `history` holds the visit's recorded versions; `rows` maps "" (the visit) and each item code to the file row
    the problem is reported on (0 for a single record)."""
    table = codes if codes is not None else default_codes()
    at = rows or {}
    visit_row = at.get("", 0)
    out: list[Problem] = []

    def add(item: str | None, fld: str, code: ProblemCode, message: str) -> None:
        row = at.get(item, visit_row) if item is not None else visit_row
        out.append(Problem(row, fld, code, message))

    # Who records.
    if recorder.role not in RECORDING_ROLES:
        add(None, "recorded_by", ProblemCode.NOT_ALLOWED, f"role {recorder.role!r} may not record results")
    if not result.recorded_by.strip():
        add(None, "recorded_by", ProblemCode.MISSING, "who records the result is not given")

    # Which visit.
    ref = visits.get(result.key)
    if ref is None:
        known = any(k[0] == result.plan_id for k in visits)
        add(
            None,
            "visit_id",
            ProblemCode.VISIT_NOT_IN_PLAN,
            f"plan {result.plan_id} has no visit {result.visit_id}"
            if known
            else f"visit {result.visit_id}: plan {result.plan_id} is not a committed plan here",
        )
    else:
        if result.uscc != ref.uscc:
            add(
                None,
                "uscc",
                ProblemCode.USCC_MISMATCH,
                f"visit {ref.visit_id} is of {ref.uscc}, not {result.uscc}",
            )
        if recorder.role == "inspector" and recorder.id not in ref.team:
            add(
                None,
                "recorded_by",
                ProblemCode.NOT_YOUR_VISIT,
                f"inspector {recorder.id} is not on the team of visit {ref.visit_id} ({', '.join(ref.team)}); "
                "a supervisor can record it",
            )
        if result.completed_on < ref.window_start:
            add(
                None,
                "completed_on",
                ProblemCode.BEFORE_WINDOW,
                f"{result.completed_on} is before the visit's window {ref.window_start} – {ref.window_end}",
            )
    if result.completed_on > result.recorded_on:
        add(
            None,
            "completed_on",
            ProblemCode.AFTER_RECORDING,
            f"{result.completed_on} is after the recording date {result.recorded_on}",
        )
    members = [m for m in dict.fromkeys(t.strip() for t in result.team) if m]
    if len(members) < MIN_TEAM:
        add(
            None,
            "team",
            ProblemCode.TEAM_TOO_SMALL,
            f"{len(members)} inspector(s) named; a check needs at least {MIN_TEAM}",
        )

    # Items.
    if not result.items:
        add(None, "item_code", ProblemCode.NO_ITEMS, "no check item has a result")
    seen: set[str] = set()
    for item in result.items:
        if item.item_code in seen:
            add(
                item.item_code,
                "item_code",
                ProblemCode.DUPLICATE_ITEM,
                f"item {item.item_code} has two results in one visit",
            )
        seen.add(item.item_code)
        if ref is not None and item.item_code not in ref.items:
            add(
                item.item_code,
                "item_code",
                ProblemCode.ITEM_NOT_IN_VISIT,
                f"item {item.item_code} is not checked on visit {ref.visit_id} ({', '.join(ref.items)})",
            )
        out.extend(_item_problems(item, result, table, at.get(item.item_code, visit_row)))
    if ref is not None and result.items:
        for code in ref.items:
            if code not in seen:
                add(
                    None,
                    "item_code",
                    ProblemCode.ITEM_MISSING,
                    f"item {code} of visit {ref.visit_id} has no result; a visit's result covers each of its items",
                )

    # Versions.
    held = history.current
    if held is None:
        if result.correction_reason:
            add(
                None,
                "correction_reason",
                ProblemCode.NOTHING_TO_CORRECT,
                f"visit {result.visit_id} has no result yet; a first result needs no correction reason",
            )
        if result.version != 1:
            add(None, "version", ProblemCode.VERSION_CONFLICT, f"version {result.version} of a first result")
    elif not history.unchanged(result):
        if not (result.correction_reason or "").strip():
            add(
                None,
                "correction_reason",
                ProblemCode.CORRECTION_WITHOUT_REASON,
                f"visit {result.visit_id} already has a result (version {held.version}, recorded "
                f"{held.recorded_on}); give a correction reason (--correct REASON)",
            )
        if result.version != history.next_version():
            add(
                None,
                "version",
                ProblemCode.VERSION_CONFLICT,
                f"version {result.version} given; the next version is {history.next_version()} "
                "(someone corrected it meanwhile?)",
            )
    return sorted(out)


def _item_problems(item: ItemResult, result: VisitResult, table: ResultCodes, row: int) -> list[Problem]:
    out: list[Problem] = []
    code = item.item_code
    if not item.result_codes:
        out.append(Problem(row, "result_codes", ProblemCode.NO_CODE, f"item {code}: no result code"))
    known = [c for c in item.result_codes if c in table]
    for c in item.result_codes:
        if c not in table:
            out.append(
                Problem(
                    row,
                    "result_codes",
                    ProblemCode.UNKNOWN_CODE,
                    f"item {code}: {c!r} is not a result code ({', '.join(c.code for c in table)})",
                )
            )
    alone = table.no_finding & set(known)
    if alone and len(set(item.result_codes)) > 1:
        others = table.label(c for c in set(known) - alone)
        out.append(
            Problem(
                row,
                "result_codes",
                ProblemCode.NO_PROBLEM_COMBINED,
                f"item {code}: 未发现问题 cannot be combined with {others or 'another code'}",
            )
        )
    for m in item.measures:
        if m.kind in NEEDS_DEADLINE and m.deadline is None:
            out.append(
                Problem(
                    row,
                    "deadline",
                    ProblemCode.DEADLINE_MISSING,
                    f"item {code}: {m.kind.label} needs a deadline (整改期限)",
                )
            )
        if m.deadline is not None and m.deadline < result.completed_on:
            out.append(
                Problem(
                    row,
                    "deadline",
                    ProblemCode.DEADLINE_BEFORE_COMPLETION,
                    f"item {code}: {m.kind.label} deadline {m.deadline} is before the completion {result.completed_on}",
                )
            )
        if alone and m.kind is not MeasureKind.REFER:
            out.append(
                Problem(
                    row,
                    "measures",
                    ProblemCode.MEASURE_WITHOUT_FINDING,
                    f"item {code}: {m.kind.label} with 未发现问题",
                )
            )
    report = item.rectification_report_on
    if report is not None:
        if report < result.completed_on:
            out.append(
                Problem(
                    row,
                    "rectification_report_on",
                    ProblemCode.REPORT_BEFORE_COMPLETION,
                    f"item {code}: report received {report}, before the completion {result.completed_on}",
                )
            )
        if report > result.recorded_on:
            out.append(
                Problem(
                    row,
                    "rectification_report_on",
                    ProblemCode.REPORT_AFTER_RECORDING,
                    f"item {code}: report received {report}, after the recording date {result.recorded_on}",
                )
            )
        if not any(m.kind in REPORTED for m in item.measures):
            out.append(
                Problem(
                    row,
                    "rectification_report_on",
                    ProblemCode.REPORT_WITHOUT_ORDER,
                    f"item {code}: a rectification report without 责令改正 or 监察指令",
                )
            )
    return out


# ── a results file ──────────────────────────────────────────────────────────────────────────────────────────

# Field → the Chinese header of the results columns (the task-list export writes the same headers; 检查编号 is
# already the export's visit column). Order is the sheet's.
HEADERS: Mapping[str, str] = {
    "plan_id": "计划编号",
    "visit_id": "检查编号",
    "uscc": "统一社会信用代码",
    "item_code": "抽查事项代码",
    "completed_on": "完成日期",
    "result_codes": "检查结果",
    "findings": "问题描述",
    "measures": "处置措施",
    "deadline": "整改期限",
    "rectification_report_on": "整改报告收到日期",
    "team": "检查人员",
    "correction_reason": "更正原因",
}
REQUIRED = ("plan_id", "visit_id", "uscc", "item_code", "completed_on", "result_codes", "team")
LIST_SEPARATORS = (",", "，", ";", "；", "、", "\n")


@dataclass
class ReadResults:
    """What a results file holds: the results to record, every problem, and what needs nothing."""

    results: list[VisitResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)  # visits whose result is already recorded
    blank: int = 0  # rows with no result filled in yet (an exported visit not done)
    rows_of: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # visit → its file rows

    def rejected_rows(self) -> set[int]:
        return {p.row for p in self.problems}


def check_headers(headers: Sequence[object]) -> list[Problem]:
    """Problems with a file's header row (row 1): each required header missing, any header given twice."""
    names = [_text(h) for h in headers]
    out = []
    for fld in REQUIRED:
        if HEADERS[fld] not in names:
            out.append(
                Problem(
                    1,
                    HEADERS[fld],
                    ProblemCode.MISSING_HEADER,
                    f"no column {HEADERS[fld]}; the headers must stay as exported",
                )
            )
    for name in sorted({n for n in names if n and names.count(n) > 1}):
        out.append(Problem(1, name, ProblemCode.DUPLICATE_HEADER, f"column {name} appears twice"))
    return out


def read_results(
    headers: Sequence[object],
    rows: Iterable[Sequence[object]],
    visits: Mapping[tuple[str, str], VisitRef],
    recorder: Recorder,
    recorded_on: dt.date,
    *,
    codes: ResultCodes | None = None,
    histories: Mapping[tuple[str, str], History] | None = None,
    first_row: int = 2,
) -> ReadResults:
    """Read a results sheet (one row per visit and item; cells as text, dates or numbers) into checked results.

    Never raises for what the cells hold: each problem names its row (as the spreadsheet numbers it) and column.
    Visits with a problem on any of their rows are not among `results`; the caller writes nothing if there are
    problems, or, with --skip-invalid, writes `results` and puts the rejected rows in a rejects file."""
    table = codes if codes is not None else default_codes()
    known_histories = histories or {}
    out = ReadResults()
    out.problems.extend(check_headers(headers))
    if out.problems:
        return out
    names = [_text(h) for h in headers]
    position = {fld: names.index(h) for fld, h in HEADERS.items() if h in names}
    grouped: dict[tuple[str, str], list[tuple[int, dict[str, object]]]] = {}
    for row_no, raw in enumerate(rows, start=first_row):
        cells = {fld: raw[i] if i < len(raw) else None for fld, i in position.items()}
        if all(_text(v) == "" for v in cells.values()):
            continue  # a blank line
        if _text(cells.get("completed_on")) == "" and _text(cells.get("result_codes")) == "":
            out.blank += 1  # exported, not yet done
            continue
        key = (_text(cells.get("plan_id")), _text(cells.get("visit_id")))
        grouped.setdefault(key, []).append((row_no, cells))
    for key, members in grouped.items():
        out.rows_of[key] = [r for r, _ in members]
        # Cells that cannot be read are problems; what could be read is still checked, so one pass shows all.
        result, problems, at = _visit_from_rows(key, members, recorder, recorded_on, table, known_histories)
        if result is not None:
            history = known_histories.get(key, NO_HISTORY)
            problems.extend(check_result(result, visits, recorder, codes=table, history=history, rows=at))
            if not problems and history.unchanged(result):
                out.unchanged.append(key)
                continue
        if problems:
            out.problems.extend(problems)
        elif result is not None:
            out.results.append(result)
    out.problems = file_problems(out.problems)
    return out


def _visit_from_rows(
    key: tuple[str, str],
    members: list[tuple[int, dict[str, object]]],
    recorder: Recorder,
    recorded_on: dt.date,
    table: ResultCodes,
    histories: Mapping[tuple[str, str], History],
) -> tuple[VisitResult | None, list[Problem], dict[str, int]]:
    problems: list[Problem] = []
    first_row = members[0][0]
    at: dict[str, int] = {"": first_row}

    def visit_field(fld: str, parse: Any, *, required: bool = True) -> Any:
        """The visit-level value: every row of the visit that fills it must agree (blank rows inherit it)."""
        values: dict[object, int] = {}
        bad = False
        for row, cells in members:
            if _text(cells.get(fld)) == "":
                continue
            value = parse(cells.get(fld), row, fld)
            if value is None:
                bad = True
            elif value not in values:
                values[value] = row
        if len(values) > 1:
            (a, ra), (b, rb) = list(values.items())[:2]
            problems.append(
                Problem(
                    rb,
                    fld,
                    ProblemCode.INCONSISTENT_VISIT,
                    f"visit {key[1]}: {str(a)!r} on row {ra} but {str(b)!r} here; one visit has one {HEADERS[fld]}",
                )
            )
        if not values and required and not bad:
            problems.append(Problem(first_row, fld, ProblemCode.MISSING, f"{HEADERS[fld]} is empty"))
        return next(iter(values), None)

    for fld in ("plan_id", "visit_id"):
        if not key[0 if fld == "plan_id" else 1]:
            problems.append(Problem(first_row, fld, ProblemCode.MISSING, f"{HEADERS[fld]} is empty"))
    uscc = visit_field("uscc", lambda v, r, f: _text(v))
    completed = visit_field("completed_on", lambda v, r, f: _date(v, r, f, problems, required=False))
    team_text = visit_field("team", lambda v, r, f: "、".join(_split(_text(v))))
    reason = visit_field("correction_reason", lambda v, r, f: _text(v), required=False)

    items: list[ItemResult] = []
    for row, cells in members:
        item_code = _text(cells.get("item_code"))
        if not item_code:
            problems.append(Problem(row, HEADERS["item_code"], ProblemCode.MISSING, "抽查事项代码 is empty"))
            continue
        at.setdefault(item_code, row)
        result_codes: list[str] = []
        for part in table.split(_text(cells.get("result_codes"))):
            hit = table.lookup(part)
            result_codes.append(hit.code if hit is not None else part)
        deadline = _date(cells.get("deadline"), row, "deadline", problems, required=False)
        report = _date(cells.get("rectification_report_on"), row, "rectification_report_on", problems, required=False)
        measures: list[Measure] = []
        for part in _split(_text(cells.get("measures"))):
            kind = parse_measure_kind(part)
            if kind is None:
                labels = "、".join(k.label for k in MeasureKind)
                problems.append(
                    Problem(
                        row,
                        HEADERS["measures"],
                        ProblemCode.UNKNOWN_MEASURE,
                        f"{part!r} is not a measure ({labels})",
                    )
                )
                continue
            measures.append(Measure(kind, deadline if kind in NEEDS_DEADLINE else None))
        items.append(
            ItemResult(
                item_code=item_code,
                result_codes=tuple(result_codes),
                findings=_text(cells.get("findings")),
                measures=tuple(measures),
                rectification_report_on=report,
            )
        )
    if completed is None or uscc is None or team_text is None or not key[0] or not key[1]:
        return None, problems, at
    history = histories.get(key, NO_HISTORY)
    result = VisitResult(
        plan_id=key[0],
        visit_id=key[1],
        uscc=uscc,
        completed_on=completed,
        items=tuple(items),
        team=tuple(_split(team_text)),
        recorded_on=recorded_on,
        recorded_by=recorder.id,
        version=history.next_version(),
        correction_reason=reason,
    )
    return result, problems, at


def _columns(problems: list[Problem]) -> list[Problem]:
    # Field names become the file's headers, so a file problem names the column the user sees.
    return [Problem(p.row, HEADERS.get(p.field, p.field), p.code, p.message) for p in problems]


def file_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Problems with their field names turned into the file's column headers (for messages about a file)."""
    return sorted(_columns(list(problems)))


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores a typed 6 as 6.0
    try:
        return str(value).strip()
    except Exception:  # an object whose str() fails is a bad cell, never a crash
        return "?"


def _cell_key(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return _text(value)


def _split(text: str) -> list[str]:
    parts = [text]
    for sep in LIST_SEPARATORS:
        parts = [p for part in parts for p in part.split(sep)]
    return [p.strip() for p in parts if p.strip()]


DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")


def _date(value: object, row: int, fld: str, problems: list[Problem], *, required: bool) -> dt.date | None:
    """A date cell: a real date cell, or text in one of DATE_FORMATS."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    if not text:
        if required:
            problems.append(Problem(row, fld, ProblemCode.MISSING, f"{HEADERS[fld]} is empty"))
        return None
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    problems.append(Problem(row, fld, ProblemCode.BAD_DATE, f"{text!r} is not a date (YYYY-MM-DD, or a date cell)"))
    return None
