"""Recording results: one visit from the command line (`results record`) or a filled-in task list (`results import`),
each checked against the store's plan visits and recorded versions, then written as one batch — or nothing.

Every problem comes back with its row and column (ImportRejected), and nothing is written when there is one,
unless `skip_invalid`: then the good visits are recorded and every row of a rejected visit goes to a rejects file.
A file whose results are all recorded already changes nothing (no batch, no ledger entry).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy.engine import Connection

from engine import readers
from engine.results import recheck_store, records, task_sheet
from engine.results.codes import ResultCodes, default_codes
from engine.results.model import (
    NEEDS_DEADLINE,
    History,
    ItemResult,
    Measure,
    MeasureKind,
    VisitResult,
    parse_measure_kind,
)
from engine.results.validate import (
    HEADERS,
    Problem,
    ProblemCode,
    check_result,
    read_results,
)
from entities.errors import ImportRejected, InputError, RowProblem
from entities.identity import Identity

# Where `results record` reports a problem: the option that gave the field.
OPTIONS = {
    "result_codes": "--code",
    "completed_on": "--completed",
    "measures": "--measure",
    "measure": "--measure",
    "deadline": "--deadline",
    "team": "--team",
    "correction_reason": "--correct",
    "visit_id": "--visit",
    "item_code": "--item",
    "rectification_report_on": "--report-received",
    "recorded_by": "SUIJIAN_USER",
    "uscc": "--visit",
}
RESULTS_SHEET = task_sheet.RESULTS_SHEET  # the task list's sheet that `results import` reads (its first otherwise)


@dataclass
class _Sheet:
    """One sheet (or CSV) being read: how problems name it, its header and rows, and what was wrong with it."""

    label: str
    name: str | None
    headers: list[str]
    header_row: int
    raw: list[tuple[int, dict[str, Any], str | None]]
    bad: set[int] = field(default_factory=set)
    problems: list[RowProblem] = field(default_factory=list)


@dataclass
class Intake:
    """What a recording run did."""

    file: str | None
    rows: int = 0
    recorded: records.Recorded = field(default_factory=lambda: records.Recorded(None, 0, 0, 0, None))
    unchanged: int = 0  # visits whose result says what is already recorded
    blank: int = 0  # exported visits with nothing filled in
    rejected: list[RowProblem] = field(default_factory=list)
    rejects_file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "rows": self.rows,
            **self.recorded.as_dict(),
            "unchanged": self.unchanged,
            "blank": self.blank,
            "rejected": len(self.rejected),
            "rejects_file": self.rejects_file,
        }


# ── one visit ───────────────────────────────────────────────────────────────────────────────────────────────


def parse_items(given: Sequence[str], codes: Sequence[str], visit_items: Sequence[str]) -> list[tuple[str, list[str]]]:
    """The items of `--item` (each `CODE` or `CODE=R1,R2`), or every item of the visit; `--code` fills the rest."""
    out = []
    for text in given or visit_items:
        item, _, own = text.partition("=")
        chosen = [c.strip() for c in own.replace("，", ",").split(",") if c.strip()] if own else list(codes)
        out.append((item.strip(), chosen))
    return out


def record_one(
    conn: Connection,
    *,
    plan_id: str,
    visit_id: str,
    items: Sequence[str],
    codes: Sequence[str],
    completed_on: dt.date,
    recorded_on: dt.date,
    actor: Identity,
    created_at: dt.datetime,
    findings: str = "",
    measures: Sequence[str] = (),
    deadline: dt.date | None = None,
    report_on: dt.date | None = None,
    team: Sequence[str] = (),
    correct: str | None = None,
    table: ResultCodes | None = None,
) -> tuple[records.Recorded, bool]:
    """Check and record one visit's result; (what was written, whether it was already recorded as given)."""
    table = table if table is not None else default_codes()
    who = records.recorder(conn, actor)
    key = (plan_id, visit_id)
    visits = records.visit_refs(conn, keys=[key])
    if not visits:
        # One visit of the plan tells validation the plan exists ("no such visit" rather than "no such plan").
        visits = records.visit_refs(conn, plan_id=plan_id, limit=1)
    visits = recheck_store.with_windows(conn, visits)
    ref = visits.get(key)
    history = records.histories(conn, [key]).get(key, History())
    kinds = []
    problems: list[Problem] = []
    for text in measures:
        kind = _measure(text)
        if kind is None:
            labels = "、".join(k.label for k in MeasureKind)
            problems.append(Problem(0, "measure", ProblemCode.UNKNOWN_MEASURE, f"{text!r} is not a measure ({labels})"))
        else:
            kinds.append(kind)
    item_results = []
    for item, chosen in parse_items(items, codes, ref.items if ref else ()):
        resolved = []
        for c in chosen:
            hit = table.lookup(c)
            resolved.append(hit.code if hit is not None else c)
        # Findings and measures belong to the items that found something (a 未发现问题 item has none).
        found = bool(set(resolved) - table.no_finding)
        item_results.append(
            ItemResult(
                item_code=item,
                result_codes=tuple(resolved),
                findings=findings if found else "",
                measures=tuple(Measure(k, deadline if k in NEEDS_DEADLINE else None) for k in kinds) if found else (),
                rectification_report_on=report_on if found else None,
            )
        )
    result = VisitResult(
        plan_id=plan_id,
        visit_id=visit_id,
        uscc=ref.uscc if ref else "",
        completed_on=completed_on,
        items=tuple(item_results),
        team=tuple(team) if team else (ref.team if ref else ()),
        recorded_on=recorded_on,
        recorded_by=who.id,
        version=history.next_version(),
        correction_reason=correct,
    )
    if correct is not None and history.current is None:
        problems.append(
            Problem(
                0, "correction_reason", ProblemCode.NOTHING_TO_CORRECT, f"visit {visit_id} has no result to correct"
            )
        )
    checked = check_result(result, visits, who, codes=table, history=history)
    if ref is None:  # the rest would only repeat that there is no such visit
        checked = [p for p in checked if p.field in ("visit_id", "recorded_by")]
    problems += checked
    if problems:
        where = f"visit {visit_id}"
        raise ImportRejected(
            [RowProblem(where, 0, OPTIONS.get(p.field, p.field), f"{p.code.value}: {p.message}") for p in problems], 0
        )
    if history.unchanged(result):
        return records.Recorded(None, 0, 0, 0, None), True
    written = records.record(
        conn,
        [result],
        who=who,
        actor=actor,
        recorded_on=recorded_on,
        created_at=created_at,
        source="record",
        codes=table,
    )
    return written, False


def _measure(text: str) -> MeasureKind | None:
    return parse_measure_kind(text)


# ── a file ──────────────────────────────────────────────────────────────────────────────────────────────────


def import_results(
    conn: Connection,
    path: str | Path,
    *,
    recorded_on: dt.date,
    actor: Identity,
    created_at: dt.datetime,
    encoding: str = "utf-8",
    sheet: str | None = None,
    skip_invalid: bool = False,
    rejects: str | Path | None = None,
    table: ResultCodes | None = None,
) -> Intake:
    """Read a results file (the task list's 检查结果 sheet — or each of its per-inspector or per-unit sheets — or a
    CSV with its headers) and record what is new. A visit filled in on two sheets is a problem of the second."""
    table = table if table is not None else default_codes()
    path = Path(path)
    file = str(path)
    if encoding not in readers.ENCODINGS:
        raise InputError(f"unknown encoding {encoding!r}; use one of {', '.join(readers.ENCODINGS)}")
    fmt = readers.check_file(path, file)
    if fmt not in ("csv", "xlsx"):
        raise ImportRejected(
            [RowProblem(file, 0, "", "results are read from .xlsx or .csv (the exported task list)")], 0
        )
    if skip_invalid and rejects is None:
        raise InputError("--skip-invalid needs --rejects FILE for the rows it leaves out")
    if rejects is not None and Path(rejects).resolve() == path.resolve():
        raise InputError(f"--rejects {rejects} is the file being imported; name another file")
    sha256, _ = readers.file_facts(path)
    chosen = [sheet] if sheet is not None or fmt != "xlsx" else _results_sheets(path)
    sources: list[_Sheet] = []
    for name in chosen:
        with readers.open_source(path, file, encoding=encoding, sheet=name) as source:
            # A workbook split per inspector or unit names each sheet in its problems; one sheet keeps the file name.
            label = f"{file}[{name}]" if len(chosen) > 1 else file
            raw = [(r.row, r.cells, r.problem) for r in source.records]
            sources.append(_Sheet(label, name, [h or "" for h in (source.header or [])], source.header_row or 1, raw))
    intake = Intake(file, rows=sum(len(s.raw) for s in sources))
    unreadable = [RowProblem(s.label, row, "", problem) for s in sources for row, _, problem in s.raw if problem]
    if unreadable:
        raise ImportRejected(unreadable, intake.rows)
    who = records.recorder(conn, actor)
    keys: set[tuple[str, str]] = set()
    for s in sources:
        keys |= _keys(s.headers, [[cells.get(h) for h in s.headers] for _, cells, _ in s.raw])
    visits = records.visit_refs(conn, keys=keys)
    if len(visits) < len(keys):
        # Name what exists in the plans the file refers to, so "not in the plan" is told apart from "no such plan".
        for plan_id in sorted({k[0] for k in keys}):
            visits.update(records.visit_refs(conn, plan_id=plan_id, limit=1) if not _has_plan(visits, plan_id) else {})
    visits = recheck_store.with_windows(conn, visits)
    held = records.histories(conn, keys)
    problems: list[RowProblem] = []
    results: list[VisitResult] = []
    first_sheet: dict[tuple[str, str], str] = {}  # visit → the sheet that has it first
    for s in sources:
        read = read_results(
            s.headers,
            _dense(s.raw, s.headers, s.header_row),
            visits,
            who,
            recorded_on,
            codes=table,
            histories=held,
            first_row=s.header_row + 1,
        )
        intake.unchanged += len(read.unchanged)
        intake.blank += read.blank
        sheet_problems = [p.to_row_problem(s.label) for p in read.problems]
        twice = sorted(k for k in read.rows_of if k in first_sheet)
        for key in twice:
            sheet_problems.append(
                RowProblem(
                    s.label,
                    read.rows_of[key][0],
                    HEADERS["visit_id"],
                    f"{ProblemCode.INCONSISTENT_VISIT.value}: visit {key[1]} is also filled in on sheet "
                    f"{first_sheet[key]}; fill each visit in on one sheet",
                )
            )
        for key in read.rows_of:
            first_sheet.setdefault(key, s.name or "")
        bad = {p.row for p in sheet_problems}
        s.bad = bad
        s.problems = sheet_problems
        problems += sheet_problems
        good = {k for k, at in read.rows_of.items() if not (set(at) & bad) and k not in twice}
        results += [r for r in read.results if r.key in good]
    if problems and not skip_invalid:
        raise ImportRejected(problems, intake.rows)
    if problems:
        intake.rejected = sorted(problems)
        intake.rejects_file = str(rejects)
        _write_rejects(Path(str(rejects)), sources)
    intake.recorded = records.record(
        conn,
        results,
        who=who,
        actor=actor,
        recorded_on=recorded_on,
        created_at=created_at,
        source="import",
        file_name=path.name,
        file_sha256=sha256,
        codes=table,
    )
    return intake


def _results_sheets(path: Path) -> list[str | None]:
    """The sheets `results import` reads from a workbook: every sheet of an exported task list but its task, code
    and uncovered sheets (one 检查结果 sheet, or one per inspector or unit); the first sheet of any other workbook."""
    try:
        workbook = load_workbook(path, read_only=True)
    except Exception:  # a damaged workbook: open_source names the problem in its one line
        return [None]
    try:
        names = list(workbook.sheetnames)
    finally:
        workbook.close()
    exported = RESULTS_SHEET in names or task_sheet.CODES_SHEET in names
    chosen = [n for n in names if n not in task_sheet.NOT_RESULTS]
    return list(chosen) if exported and chosen else [None]


def _has_plan(visits: dict[tuple[str, str], Any], plan_id: str) -> bool:
    return any(k[0] == plan_id for k in visits)


def _keys(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> set[tuple[str, str]]:
    try:
        p, v = headers.index(HEADERS["plan_id"]), headers.index(HEADERS["visit_id"])
    except ValueError:
        return set()
    return {(_text(r[p]), _text(r[v])) for r in rows if _text(r[p]) and _text(r[v])}


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _dense(
    raw: Sequence[tuple[int, dict[str, Any], str | None]], headers: Sequence[str], header_row: int
) -> list[list[Any]]:
    """Rows from the one below the header, blank ones put back, so a row's place is the number the sheet shows."""
    by_row = {row: cells for row, cells, _ in raw}
    last = max(by_row, default=header_row)
    return [[by_row.get(n, {}).get(h) for h in headers] for n in range(header_row + 1, last + 1)]


def _write_rejects(path: Path, sources: Sequence[_Sheet]) -> None:
    """The rejected rows with their problems, as CSV (UTF-8 with BOM); a 工作表 column when several sheets were read."""
    several = len(sources) > 1
    headers = sources[0].headers if sources else []
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*(["工作表"] if several else []), "行号", *headers, "问题"])
    for s in sources:
        reasons: dict[int, list[str]] = {}
        for p in s.problems:
            reasons.setdefault(p.row, []).append(f"[{p.column}] {p.reason}" if p.column else p.reason)
        lead = [s.name or ""] if several else []
        for row, cells, _ in s.raw:
            if row in s.bad:
                writer.writerow([*lead, row, *(_cell(cells.get(h)) for h in headers), "；".join(reasons.get(row, []))])
        for p in (p for p in s.problems if p.row not in {r for r, _, _ in s.raw}):
            writer.writerow([*lead, p.row, *([""] * len(headers)), f"[{p.column}] {p.reason}"])
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))


def _cell(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return _text(value)
