"""Import a file of one kind (subjects, penalties, equipment, …) into the store, all or nothing.

Rows stream through in batches: each is validated with the kind's Create model, checked for a key already
seen earlier in the file and for references to rows that must exist, compared with the stored rows of the
same keys (new / updated / unchanged) and upserted. Everything happens in one transaction: by default any
bad row rolls the whole import back; with `skip_invalid` the good rows are kept and the bad ones go to a
rejects file beside the input. Every committed run is recorded in import_log.

Columns a file leaves out keep their stored values on existing rows (new rows get the model's defaults),
so a file that only carries some columns cannot silently reset the others.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import enum
import itertools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection, Engine

from engine import output_file, readers, roster_links
from engine.progress import Progress, no_progress
from engine.results import records
from entities import fields, kinds, store
from entities.errors import ImportRejected, InputError, RowProblem, StoreError
from entities.kinds import Kind

BATCH = 2000
MAX_PROBLEMS = 1000  # problem details kept; past this the default mode stops reading (the import fails anyway)
REJECT_ROW = "行号"
REJECT_REASON = "原因"
_INT32 = 2**31 - 1  # PostgreSQL INTEGER; SQLite would take more, but both stores must accept the same data
_EXACT_FLOAT = 1e15  # a spreadsheet keeps 15 significant digits; a longer code typed as a number has lost some
_SEEN = "suijian_import_seen"
_OMIT = object()


@dataclass
class ImportResult:
    """What an import did: counts, the problems of rejected rows, where the rejects went."""

    kind: str
    file: str
    sha256: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    problems_total: int = 0
    rejects_file: str | None = None
    previously_imported_at: dt.datetime | None = None

    @property
    def accepted(self) -> int:
        return self.inserted + self.updated + self.unchanged

    @property
    def written(self) -> bool:
        """True when the store now holds this file's good rows (the transaction committed)."""
        return self.accepted > 0 or self.rejected == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "sha256": self.sha256,
            "rows": self.rows,
            "new": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "written": self.written,
            "rejects_file": self.rejects_file,
            "previously_imported_at": self.previously_imported_at,
            "problems_total": self.problems_total,
            "problems": [problem_dict(p) for p in self.problems],
        }


def problem_dict(problem: RowProblem) -> dict[str, Any]:
    return {"file": problem.file, "row": problem.row, "column": problem.column, "reason": problem.reason}


def rejects_path(path: Path) -> Path:
    """Where `--skip-invalid` writes the rejected rows: <name>.rejects.csv beside the input."""
    return path.with_name(f"{path.stem}.rejects.csv")


def import_file(
    engine: Engine,
    kind_name: str,
    path: str | Path,
    *,
    imported_at: dt.datetime,
    encoding: str = "utf-8",
    sheet: str | None = None,
    skip_invalid: bool = False,
    progress: Progress = no_progress,
    batch_size: int = BATCH,
) -> ImportResult:
    """Import `path` as `kind_name`; raises ImportRejected (nothing written) if the file or any row is bad.

    With skip_invalid the good rows are written, the bad ones listed in the result and in the rejects file.
    `imported_at` is recorded in import_log, and its date bounds the dates of events: a subject registered, a
    penalty decided or a check done after the day of the import cannot have happened, so the row is refused.
    """
    kind = kinds.get(kind_name)
    path = Path(path)
    file = str(path)
    readers.check_file(path, file)
    if encoding not in readers.ENCODINGS:
        raise ImportRejected(
            [RowProblem(file, 0, "", f"unknown encoding {encoding!r}; use one of {', '.join(readers.ENCODINGS)}")], 0
        )
    rejects = rejects_path(path)
    if skip_invalid:
        _check_rejects(rejects, path)
    sha256, _ = readers.file_facts(path)
    result = ImportResult(kind.name, file, sha256)
    with readers.open_source(path, file, encoding=encoding, sheet=sheet) as source:
        header = _Header(kind, source)
        with _Run(engine, kind, source, header, result, skip_invalid, rejects, imported_at.date()) as run:
            run.read_all(progress, batch_size)
            run.finish(imported_at)
    return result


def _rejects_error(rejects: Path, path: Path, reason: str) -> InputError:
    return InputError(
        f"cannot write the rejects file {rejects}: {reason} (--skip-invalid writes it beside {path.name}); "
        "nothing was written"
    )


def _check_rejects(rejects: Path, path: Path) -> None:
    """Refuse at once a rejects file that could not be written: found after reading, it would waste the import."""
    reason = output_file.problem(rejects)
    if reason is not None:
        raise _rejects_error(rejects, path, reason)


# ── headers ─────────────────────────────────────────────────────────────────────────────────────────────
def _norm(header: str) -> str:
    # Templates often mark required columns with * and mix full- and half-width brackets and spaces.
    text = header.strip().strip("*＊").replace("（", "(").replace("）", ")")
    return re.sub(r"\s+", "", text).lower()


def _shown(header: str) -> str:
    """A header as a problem's column: line breaks and control characters escaped, so a report stays one line."""
    return header if header.isprintable() else repr(header)[1:-1]


def _describe(kind: Kind, name: str) -> str:
    title = kind.title(name)
    return f"{title} ({name})" if title != name else name


class _Header:
    """How the file's column headers map onto the kind's fields (names or Chinese titles)."""

    def __init__(self, kind: Kind, source: readers.Source) -> None:
        self.kind = kind
        self.file = source.file
        self.lookup: dict[str, str] = {}
        for name in kind.fields:
            self.lookup[_norm(name)] = name
            self.lookup[_norm(kind.title(name))] = name
        self._cache: dict[tuple[str, ...], tuple[dict[str, str], list[tuple[str, str]]]] = {}
        self.columns: dict[str, str] = {}  # field → the header the file uses for it
        if source.header is not None:
            names = [h for h in source.header if h is not None]
            mapping, problems = self.map(names)
            if problems and len(names) == 1 and source.format == "csv":
                separator = next((sep for sep in (";", "\t", "|") if sep in names[0]), None)
                if separator is not None:
                    shown = "tab" if separator == "\t" else repr(separator)
                    problems = [
                        (
                            "",
                            f"the columns are separated by {shown}, not commas; save the file as CSV (comma-separated)",
                        )
                    ]
            if problems:
                raise ImportRejected([RowProblem(self.file, source.header_row, c, r) for c, r in problems], 0)
            self.columns = {f: h for h, f in mapping.items()}
        self.mapping = {h: f for f, h in self.columns.items()}

    def map(self, names: Iterable[str]) -> tuple[dict[str, str], list[tuple[str, str]]]:
        """(header → field, problems as (column, reason)) for one set of headers; cached per distinct set."""
        names = tuple(names)
        if names in self._cache:
            return self._cache[names]
        mapping: dict[str, str] = {}
        problems: list[tuple[str, str]] = []
        first: dict[str, str] = {}
        for name in names:
            target = self.lookup.get(_norm(name))
            if target is None:
                problems.append((_shown(name), self._unknown(name)))
            elif target in first:
                problems.append(
                    (
                        _shown(name),
                        f"columns {first[target]!r} and {name!r} both mean {_describe(self.kind, target)}; keep one",
                    )
                )
            else:
                first[target] = name
                mapping[name] = target
        missing = [f for f in self.kind.required if f not in first]
        if missing:
            problems.append(("", f"missing required column(s): {', '.join(_describe(self.kind, f) for f in missing)}"))
        self._cache[names] = (mapping, problems)
        return mapping, problems

    def _unknown(self, name: str) -> str:
        candidates = {_norm(n): n for n in self.kind.fields} | {
            _norm(self.kind.title(n)): self.kind.title(n) for n in self.kind.fields
        }
        close = difflib.get_close_matches(_norm(name), list(candidates), n=1, cutoff=0.5)
        if close:
            return f"unknown column {name!r} for {self.kind.name}; did you mean {candidates[close[0]]!r}?"
        known = ", ".join(_describe(self.kind, f) for f in self.kind.fields)
        return f"unknown column {name!r} for {self.kind.name}; the columns are: {known}"


# ── one row ─────────────────────────────────────────────────────────────────────────────────────────────
@dataclass
class _Row:
    row: int
    record: readers.Record
    values: dict[str, Any] | None = None  # the stored form, once valid
    present: frozenset[str] = frozenset()
    columns: dict[str, str] = field(default_factory=dict)  # field → header, for messages
    problems: list[tuple[str, str]] = field(default_factory=list)
    key: tuple[Any, ...] = ()
    key_text: str = ""


def _clip(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…" + text[-1]


def _clean(kind: Kind, name: str, value: Any) -> Any:
    """A cell as the model should see it: blanks omitted (so defaults apply), numbers-as-codes made text."""
    if value is None or (isinstance(value, str) and not value.strip()):
        # A blank list cell is an empty list, so the model's own check (e.g. "at least one result code") runs.
        return "" if name in kind.list_fields else _OMIT
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        if name in kind.text_fields:
            if not value.is_integer():
                return repr(value)
            if abs(value) >= _EXACT_FLOAT:
                raise ValueError(
                    f"{value:.15g} was typed as a number and has lost digits; format the column as text and type it again"
                )
            return str(int(value))
    if isinstance(value, Decimal) and name in kind.text_fields:
        return str(value)
    if isinstance(value, str) and name in kind.object_fields:
        try:
            parsed = readers.loads(value)
        except ValueError:
            raise ValueError(f'{_clip(value)} is not JSON; write an object such as {{"industry": ["H62"]}}') from None
        if not isinstance(parsed, dict):
            raise ValueError(f"{_clip(value)} is not a JSON object {{...}}")
        return parsed
    return value


def _stored(value: Any) -> Any:
    if type(value) is str:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list):
        return [_stored(v) for v in value]
    return value


def _reason(kind: Kind, name: str, error: Any) -> str:
    kind_of = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    msg = str(error["msg"])
    if kind_of == "missing":
        return "required, but the cell is empty"
    if kind_of in {"enum", "literal_error"} and name in kind.enums:
        return f"unknown {kind.title(name)} {_clip(value)}; allowed: {kind.enums[name].choices()}"
    if kind_of in {"value_error", "assertion_error"}:
        return re.sub(r"^(Value|Assertion) error, ", "", msg)
    if kind_of in {"int_parsing", "int_from_float", "int_type"}:
        return f"{_clip(value)} is not a whole number"
    if kind_of in {"float_parsing", "float_type"}:
        return f"{_clip(value)} is not a number"
    if kind_of == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}, got {_clip(value)}"
    if kind_of == "less_than_equal":
        return f"must be at most {ctx.get('le')}, got {_clip(value)}"
    if kind_of == "string_too_short":
        return "must not be empty"
    if kind_of == "string_too_long":
        return f"at most {ctx.get('max_length')} characters, got {len(value) if isinstance(value, str) else '?'}"
    if kind_of == "string_type":
        return f"expected text, got {type(value).__name__} {_clip(value)}"
    if kind_of == "list_type":
        return f"expected a list (a;b;c), got {_clip(value)}"
    if kind_of == "dict_type":
        return f"expected a JSON object {{...}}, got {_clip(value)}"
    return f"{msg} (got {_clip(value)})"


def _limit_checks(kind: Kind) -> list[tuple[str, int | None]]:
    """(column, max length) for text columns, (column, None) for numeric ones: what the store can hold."""
    checks: list[tuple[str, int | None]] = []
    for column in store.table(kind.table).columns:
        length = getattr(column.type, "length", None)
        if length is not None:
            checks.append((column.name, length))
        elif isinstance(column.type, sa.Integer | sa.Float):
            checks.append((column.name, None))
    return checks


def _limits(checks: list[tuple[str, int | None]], values: dict[str, Any]) -> list[tuple[str, str]]:
    """What the store's columns cannot hold (text longer than the column, integers past 32 bits, inf/nan)."""
    problems = []
    for name, length in checks:
        value = values.get(name)
        if value is None or isinstance(value, bool):
            continue
        if length is not None:
            if isinstance(value, str) and len(value) > length:
                problems.append((name, f"too long: at most {length} characters, got {len(value)}"))
        elif isinstance(value, int) and abs(value) > _INT32:
            problems.append((name, f"{value} is out of range (at most {_INT32:,})"))
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append((name, f"{value!r} is not a finite number"))
    return problems


def row_column(kind: Kind, columns: Mapping[str, str], name: str) -> str:
    """How a problem names a field: the file's header for it, else its Chinese title."""
    return columns.get(name) or kind.title(name)


def _key_text(key: tuple[Any, ...]) -> str:
    return "\x1f".join(str(part) for part in key)


# ── the run ─────────────────────────────────────────────────────────────────────────────────────────────
class _Run:
    """One import in one transaction: batches in, counts and problems out."""

    def __init__(
        self,
        engine: Engine,
        kind: Kind,
        source: readers.Source,
        header: _Header,
        result: ImportResult,
        skip_invalid: bool,
        rejects: Path,
        imported_on: dt.date,
    ) -> None:
        self.engine = engine
        self.context = {fields.IMPORTED_ON: imported_on}
        self.kind = kind
        self.source = source
        self.header = header
        self.result = result
        self.skip_invalid = skip_invalid
        self.rejects = rejects
        self.conn: Connection | None = None
        self._prepare_threshold: Any = _KEEP
        self.reject_file: IO[str] | None = None
        self.reject_writer: Any = None
        self.stopped = False
        self.committed = False
        self.table_columns = [c.name for c in store.table(kind.table).columns]
        self.limit_checks = _limit_checks(kind)
        self.links = roster_links.LinkState()
        self.used_tables: dict[str, bool] = {}

    # The transaction, the temporary key table and the rejects file live exactly as long as the run.
    def __enter__(self) -> _Run:
        self.conn = self.engine.connect()
        self._prepare_threshold = _plan_every_query(self.conn, None)
        try:
            self._seen_table("create")
        except sa.exc.DBAPIError as exc:
            self.conn.close()
            raise _store_error(exc) from None
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self.conn is not None
        try:
            if not self.committed:
                self.conn.rollback()
            self._seen_table("drop")
            self.conn.commit()
        finally:
            _plan_every_query(self.conn, self._prepare_threshold)
            self.conn.close()
            if self.reject_file is not None:
                self.reject_file.close()
                if exc_type is not None:
                    # The import failed as a whole; a half-written rejects file would mislead.
                    self.rejects.unlink(missing_ok=True)
                    self.result.rejects_file = None
        if isinstance(exc, sa.exc.DBAPIError):
            raise _store_error(exc) from None

    def _seen_table(self, action: str) -> None:
        assert self.conn is not None
        prefix = "pg_temp." if self.conn.dialect.name == "postgresql" else "temp."
        if action == "create":
            # Keys seen so far live in a temporary table, not in memory, so a huge file's duplicates are
            # found with bounded memory.
            self.conn.execute(
                sa.text(
                    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_SEEN} (k VARCHAR PRIMARY KEY, rownum INTEGER NOT NULL)"
                )
            )
            self.conn.execute(sa.text(f"DELETE FROM {prefix}{_SEEN}"))
        else:
            self.conn.execute(sa.text(f"DROP TABLE IF EXISTS {prefix}{_SEEN}"))

    # ── reading ──
    def read_all(self, progress: Progress, batch_size: int) -> None:
        records = self.source.records
        extent = self.source.extent
        step = f"importing {self.kind.name}"
        progress(step, 0, extent.total)
        while not self.stopped:
            batch = list(itertools.islice(records, batch_size))
            if not batch:
                break
            self.result.rows += len(batch)
            self._batch(batch)
            progress(step, extent.done, extent.total)
        if not self.stopped:
            progress(step, extent.done, extent.total)  # the records ran out: done is the total

    def finish(self, imported_at: dt.datetime) -> None:
        assert self.conn is not None
        result = self.result
        if result.rows == 0:
            raise ImportRejected(
                [
                    RowProblem(
                        result.file, self.source.header_row, "", "no data rows below the header; nothing to import"
                    )
                ],
                0,
            )
        if result.problems and not self.skip_invalid:
            raise ImportRejected(result.problems, result.rows)
        if result.accepted == 0:
            return  # every row was rejected: nothing to commit or log
        broken = roster_links.check_store(self.conn, self.kind.name)
        if broken is not None:
            raise ImportRejected([RowProblem(result.file, 0, "", broken)], result.rows)
        log = store.table("import_log")
        previous = self.conn.execute(
            sa.select(sa.func.max(log.c.imported_at)).where(log.c.sha256 == result.sha256, log.c.kind == result.kind)
        ).scalar()
        result.previously_imported_at = previous
        store.bulk_insert(
            self.conn,
            "import_log",
            [
                {
                    "kind": result.kind,
                    "file_name": Path(result.file).name,
                    "sha256": result.sha256,
                    "rows": result.rows,
                    "inserted": result.inserted,
                    "updated": result.updated,
                    "unchanged": result.unchanged,
                    "imported_at": imported_at,
                }
            ],
        )
        self.conn.commit()
        self.committed = True

    # ── one batch ──
    def _batch(self, records: list[readers.Record]) -> None:
        rows = [self._validate(record) for record in records]
        valid = [r for r in rows if r.values is not None]
        self._duplicates(valid)
        self._references([r for r in valid if not r.problems])
        self._links([r for r in valid if not r.problems])
        if self.kind.table == "check_result":
            self._history_only([r for r in valid if not r.problems])
        good = [r for r in valid if not r.problems]
        self._write(good)
        for r in rows:
            if r.problems:
                self._reject(r)

    def _validate(self, record: readers.Record) -> _Row:
        row = _Row(record.row, record)
        if record.problem is not None:
            row.problems.append((record.problem_column, record.problem))
            return row
        if self.source.header is None:
            mapping, problems = self.header.map(record.cells)
            row.problems.extend(problems)
            if problems:
                return row
            row.columns = {f: h for h, f in mapping.items()}
        else:
            mapping = self.header.mapping
            row.columns = self.header.columns
        data: dict[str, Any] = {}
        failed: set[str] = set()
        for column, value in record.cells.items():
            name = mapping[column]
            try:
                cleaned = _clean(self.kind, name, value)
            except ValueError as exc:
                row.problems.append((column, str(exc)))
                failed.add(name)
                continue
            if cleaned is not _OMIT:
                data[name] = cleaned
        row.present = frozenset(mapping.values())
        # Validate even after a bad cell, so the report names every bad cell of the row at once.
        values = self._model_values(row, data, ignore=failed)
        if values is None or failed:
            return row
        row.values = values
        row.key = tuple(values[k] for k in self.kind.key)
        row.key_text = _key_text(row.key)
        return row

    def _model_values(self, row: _Row, data: dict[str, Any], ignore: set[str] | None = None) -> dict[str, Any] | None:
        try:
            model = self.kind.model.model_validate(data, context=self.context)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                name = str(error["loc"][0]) if error["loc"] else ""
                if ignore and name in ignore:
                    continue  # already reported by the cell check
                reason = _reason(self.kind, name, error)
                if not name:
                    reason = self._in_file_terms(reason, row.columns)
                row.problems.append((row.columns.get(name, name), reason))
            return None
        values = {name: _stored(value) for name, value in model.__dict__.items()}
        for name, reason in _limits(self.limit_checks, values):
            row.problems.append((row.columns.get(name, name), reason))
        if self.kind.row_check is not None:
            for name, reason in self.kind.row_check(values):
                row.problems.append((row.columns.get(name, self.kind.title(name)), reason))
        return None if row.problems else values

    def _in_file_terms(self, reason: str, columns: dict[str, str]) -> str:
        # Whole-row checks name fields in English; say them the way this file's header does.
        for name, header in columns.items():
            if header != name:
                reason = re.sub(rf"\b{re.escape(name)}\b", header, reason)
        return reason

    def _column(self, row: _Row, name: str) -> str:
        return row.columns.get(name, name)

    def _duplicates(self, rows: list[_Row]) -> None:
        assert self.conn is not None
        first: dict[str, int] = {}
        for r in rows:
            if r.key_text in first:
                self._duplicate(r, first[r.key_text])
            else:
                first[r.key_text] = r.row
        earlier: dict[str, int] = {}
        keys = list(first)
        stmt = sa.text(f"SELECT k, rownum FROM {_SEEN} WHERE k IN :keys").bindparams(
            sa.bindparam("keys", expanding=True)
        )
        for start in range(0, len(keys), 900):
            earlier.update((k, n) for k, n in self.conn.execute(stmt, {"keys": keys[start : start + 900]}))
        for r in rows:
            if r.key_text in earlier and not r.problems:
                self._duplicate(r, earlier[r.key_text])
        fresh = [(k, n) for k, n in first.items() if k not in earlier]
        if not fresh:
            return
        if self.conn.dialect.name == "postgresql":
            # COPY: an executemany here sent one INSERT per key, a round trip each.
            store.copy_into_temporary(self.conn, _SEEN, ("k", "rownum"), fresh)
        else:
            self.conn.execute(
                sa.text(f"INSERT INTO {_SEEN} (k, rownum) VALUES (:k, :n)"), [{"k": k, "n": n} for k, n in fresh]
            )

    def _duplicate(self, row: _Row, first_row: int) -> None:
        parts = ", ".join(f"{self._column(row, k)} {str(v)!r}" for k, v in zip(self.kind.key, row.key, strict=True))
        row.problems.append(
            (
                self._column(row, self.kind.key[0]),
                f"duplicate key ({parts}): rows {first_row} and {row.row} both have it; keep one",
            )
        )

    def _links(self, rows: list[_Row]) -> None:
        """The person ↔ inspector and unit ↔ township links (engine.roster_links)."""
        assert self.conn is not None
        if self.kind.name not in roster_links.KINDS or not rows:
            return
        given = [roster_links.RowValues(r.row, r.values or {}, r.present) for r in sorted(rows, key=lambda r: r.row)]
        found = roster_links.check_rows(self.conn, self.kind.name, given, self.links)
        for r in rows:
            for name, reason in found.get(r.row, ()):
                r.problems.append((row_column(self.kind, r.columns, name), reason))

    def _used(self, table: str) -> bool:
        """Whether `table` has rows (asked once per run: an optional table binds only when it is used)."""
        assert self.conn is not None
        if table not in self.used_tables:
            self.used_tables[table] = store.count_rows(self.conn, table) > 0
        return self.used_tables[table]

    def _references(self, rows: list[_Row]) -> None:
        assert self.conn is not None
        for ref in self.kind.references:
            wanted = {r.values[ref.column] for r in rows if r.values and r.values.get(ref.column) is not None}
            if not wanted or (ref.when_used and not self._used(ref.target_table)):
                continue
            present = store.existing_values(self.conn, ref.target_table, ref.target_column, wanted)
            own = ref.target_table == self.kind.table
            accepted: set[Any] = set()
            for r in sorted(rows, key=lambda r: r.row):
                assert r.values is not None
                value = r.values.get(ref.column)
                if value is not None and value not in present and value not in accepted:
                    where = "in the store or on an earlier row" if own else "in the store"
                    fix = (
                        f"add it to the {ref.provided_by} file and import that first"
                        if ref.when_used
                        else f"import {ref.provided_by} first"
                    )
                    r.problems.append(
                        (
                            self._column(r, ref.column),
                            f"unknown {ref.noun} {value!r}: not {where}; {fix} (`suijian import {ref.provided_by} FILE`)",
                        )
                    )
                if own and not r.problems:
                    accepted.add(r.key[0])

    def _history_only(self, rows: list[_Row]) -> None:
        # Issue 14: results of plan visits are recorded through `suijian results` (validated, versioned, in the
        # ledger); this bulk import loads only the history from before the store's plans.
        assert self.conn is not None
        cutoff = records.history_cutoff(self.conn)
        for r in rows:
            assert r.values is not None
            problem = records.history_problem(r.values, cutoff)
            if problem is not None:
                r.problems.append((self._column(r, problem[0]), problem[1]))

    def _write(self, rows: list[_Row]) -> None:
        assert self.conn is not None
        if not rows:
            return
        existing = store.fetch_by_keys(self.conn, self.kind.table, [r.key for r in rows])
        changed: list[dict[str, Any]] = []
        new: list[dict[str, Any]] = []
        # PostgreSQL: rows whose key is in neither the store (just looked up, in this transaction) nor earlier in
        # the file (a duplicate is a problem) are COPYed; an upsert there ran one INSERT … ON CONFLICT per row.
        fresh = new if self.conn.dialect.name == "postgresql" else changed
        for r in rows:
            assert r.values is not None
            before = existing.get(r.key)
            if before is None:
                self.result.inserted += 1
                fresh.append(r.values)
                continue
            values = self._merged(r, before)
            if values is None:
                continue
            if all(values[c] == before[c] for c in self.table_columns):
                self.result.unchanged += 1
            else:
                self.result.updated += 1
                changed.append(values)
        if new:
            store.bulk_insert(self.conn, self.kind.table, new)
        if changed:
            store.upsert(self.conn, self.kind.table, changed)

    def _merged(self, row: _Row, before: dict[str, Any]) -> dict[str, Any] | None:
        """The row to store: the file's values, and the stored ones for the columns the file leaves out."""
        assert row.values is not None
        omitted = [name for name in self.kind.fields if name not in row.present]
        if not omitted or all(row.values[n] == before[n] for n in omitted):
            return row.values
        merged = {**row.values, **{n: before[n] for n in omitted}}
        return self._model_values(row, merged)

    # ── problems ──
    def _reject(self, row: _Row) -> None:
        self.result.rejected += 1
        for column, reason in row.problems:
            self.result.problems_total += 1
            if len(self.result.problems) < MAX_PROBLEMS:
                self.result.problems.append(RowProblem(self.source.file, row.row, column, reason))
        if self.skip_invalid:
            self._write_reject(row)
        elif len(self.result.problems) >= MAX_PROBLEMS and not self.stopped:
            self.result.problems.append(
                RowProblem(
                    self.source.file, row.row, "", f"stopped reading after {MAX_PROBLEMS:,} problems; fix these first"
                )
            )
            self.stopped = True

    def _reject_header(self) -> list[str]:
        if self.source.header is not None:
            return [h for h in self.source.header if h is not None]
        return list(self.kind.fields)

    def _write_reject(self, row: _Row) -> None:
        try:
            if self.reject_writer is None:
                # UTF-8 with a byte-order mark, so Excel opens the Chinese text correctly.
                self.reject_file = self.rejects.open("w", encoding="utf-8-sig", newline="")
                self.reject_writer = csv.writer(self.reject_file)
                self.reject_writer.writerow([*self._reject_header(), REJECT_ROW, REJECT_REASON])
                self.result.rejects_file = str(self.rejects)
            cells = row.record.cells
            reason = "; ".join(f"[{c}] {r}" if c else r for c, r in row.problems)
            self.reject_writer.writerow(
                [*(readers.cell_text(cells.get(h)) for h in self._reject_header()), row.row, reason]
            )
        except OSError as exc:
            # Checked before reading, so only a change since or a full disk lands here; the import rolls back.
            raise _rejects_error(self.rejects, Path(self.source.file), exc.strerror or str(exc)) from None


_KEEP = object()


def _plan_every_query(conn: Connection, threshold: Any) -> Any:
    """Set psycopg's prepare threshold on this connection (None: never prepare); returns the old one.

    A prepared key lookup gets a generic plan chosen while the table is still small in this transaction
    (a sequential scan), and keeps it as the table grows: a 100k-row import then takes minutes instead of
    seconds. Planning each lookup with its own parameters keeps the index scan.
    """
    raw = conn.connection.dbapi_connection
    if conn.dialect.name != "postgresql" or raw is None or not hasattr(raw, "prepare_threshold"):
        return _KEEP
    if threshold is _KEEP:
        return _KEEP
    before = raw.prepare_threshold
    raw.prepare_threshold = threshold
    return before


def _store_error(exc: sa.exc.DBAPIError) -> StoreError:
    first = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    return StoreError(f"the store refused the import ({first}); nothing was written")
