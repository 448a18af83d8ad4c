"""Read the rows of a CSV, XLSX, JSONL or Parquet file one at a time, numbered the way the user sees them.

Rows are numbered as a spreadsheet shows them (the header is row 1, the first record row 2) for CSV and
XLSX, by line for JSONL and by record (from 1) for Parquet. A file that cannot be read at all raises
ImportRejected with one problem for the whole file; a single unreadable JSONL line becomes a Record that
carries its problem, so `--skip-invalid` can skip just that line.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from entities.errors import ImportRejected, RowProblem

FORMATS = {
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}
ENCODINGS = ("utf-8", "gbk", "gb18030")
_EXPECTED = {
    "csv": "a header row, then one row per record",
    "xlsx": "a workbook with a header row, then one row per record",
    "jsonl": "one JSON object per line",
    "parquet": "a Parquet file of records",
}
_SAVE_AS = {"csv": "save it as 'CSV UTF-8'", "jsonl": "save it as UTF-8"}
_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20
_PARQUET_BATCH = 4096
# csv's default field limit (128 KiB) is smaller than some legal-basis texts; 16 MiB still bounds memory.
csv.field_size_limit(16 << 20)


@dataclass
class Record:
    """One record: its row number, its cells by header, and why it is unreadable (if it is)."""

    row: int
    cells: dict[str, Any]
    problem: str | None = None
    problem_column: str = ""


@dataclass
class Extent:
    """How far reading has got, for a progress bar: `done` and `total` count the same unit.

    The unit is what the file can be measured in before it is parsed: lines below the header of a CSV or JSONL file
    (a record with a line break in a cell spans several; blank lines count too), rows below the header of a sheet
    (as its stored dimension counts them), records of a Parquet file. When the records run out, total is done.
    """

    done: int = 0
    total: int | None = None  # None: unknown (a sheet whose stored dimension turned out wrong)

    def advance_to(self, done: int) -> None:
        self.done = done
        if self.total is not None and done > self.total:
            self.total = None  # the estimate was wrong; better no total than a bar past 100 %

    def end(self) -> None:
        self.total = self.done


@dataclass
class Source:
    """An open file: its header (None when each record names its own keys, as in JSONL) and its records."""

    file: str
    format: str
    header: list[str | None] | None
    records: Iterator[Record]
    extent: Extent = field(default_factory=Extent)
    header_row: int = 0  # where the header is (0: the file has none, as in JSONL and Parquet)


def file_facts(path: Path) -> tuple[str, int]:
    """The file's sha256 and its number of lines (a last line without a line break counts), in one streaming pass."""
    digest = hashlib.sha256()
    lines = 0
    last = b""
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last not in (b"", b"\n"):
        lines += 1
    return digest.hexdigest(), lines


def _reject(file: str, reason: str, row: int = 0, column: str = "", rows_read: int = 0) -> ImportRejected:
    return ImportRejected([RowProblem(file, row, column, reason)], rows_read)


def check_file(path: Path, file: str) -> str:
    """The file's format from its extension, or the one-line reason it cannot be imported."""
    if not path.exists():
        raise _reject(file, "no such file; check the path")
    if path.is_dir():
        raise _reject(file, "is a folder, not a file; name the file to import")
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        hint = " (old Excel format; save it as .xlsx or CSV UTF-8)" if suffix in {".xls", ".et"} else ""
        shown = f"'{suffix}'" if suffix else "no extension"
        raise _reject(file, f"unsupported file type {shown}{hint}; use .csv, .xlsx, .jsonl or .parquet")
    if path.stat().st_size == 0:
        raise _reject(file, f"the file is empty; expected {_EXPECTED[FORMATS[suffix]]}")
    return FORMATS[suffix]


@contextmanager
def open_source(path: Path, file: str, *, encoding: str = "utf-8", sheet: str | None = None) -> Iterator[Source]:
    """Open `path` for reading by its extension; the file (or workbook) is closed when the block ends."""
    fmt = check_file(path, file)
    if fmt == "csv":
        with path.open("rb") as f:
            yield _csv_source(f, file, encoding, lines=file_facts(path)[1])
    elif fmt == "jsonl":
        with path.open("rb") as f:
            yield _jsonl_source(f, file, encoding, lines=file_facts(path)[1])
    elif fmt == "xlsx":
        with _xlsx_source(path, file, sheet) as source:
            yield source
    else:
        yield _parquet_source(path, file)


# ── CSV ─────────────────────────────────────────────────────────────────────────────────────────────────
def _encoding_problem(raw: bytes, exc: UnicodeDecodeError, encoding: str, marked: bool = False) -> str:
    bad = raw[exc.start : exc.start + 1].hex()
    if encoding == "utf-8":
        if marked and _decodes(raw, "gb18030"):
            return (
                f"not UTF-8 (byte 0x{bad} is not valid UTF-8) although the file starts with a UTF-8 byte-order mark; "
                "the text looks like GBK; re-run with --encoding gbk"
            )
        if _decodes(raw, "gb18030"):
            return f"not UTF-8 (byte 0x{bad} is not valid UTF-8); the file looks like GBK; re-run with --encoding gbk"
        return (
            f"not UTF-8 (byte 0x{bad} is not valid UTF-8); save it as 'CSV UTF-8' or name its encoding with --encoding"
        )
    if _decodes(raw, "utf-8"):
        return f"not {encoding.upper()} (byte 0x{bad}); the file looks like UTF-8; re-run with --encoding utf-8"
    if encoding == "gbk" and _decodes(raw, "gb18030"):
        return f"not GBK (byte 0x{bad}); re-run with --encoding gb18030 (GBK's superset)"
    return f"not {encoding.upper()} text (byte 0x{bad} cannot be decoded); name the file's encoding with --encoding"


def _decodes(raw: bytes, codec: str) -> bool:
    try:
        raw.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _sniff_binary(head: bytes, file: str, fmt: str) -> None:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _reject(file, f"the file is UTF-16 (Excel's 'Unicode Text'); {_SAVE_AS[fmt]} instead")
    if head.startswith(b"PK\x03\x04"):
        raise _reject(
            file, f"this is an Excel workbook, not {'CSV' if fmt == 'csv' else 'JSON lines'}; rename it to .xlsx"
        )
    if head.startswith(b"PAR1"):
        raise _reject(
            file, f"this is a Parquet file, not {'CSV' if fmt == 'csv' else 'JSON lines'}; rename it to .parquet"
        )


class _Position:
    records = 0
    lines = 0  # physical lines handed to the CSV parser so far


def _decoded_lines(f: BinaryIO, file: str, encoding: str, at: _Position) -> Iterator[str]:
    first = True
    for raw in f:
        at.lines += 1
        if first:
            # Excel's "CSV UTF-8" starts with a byte-order mark; it is not part of the first header. Some tools put
            # one before GBK text too: the mark goes whatever the encoding, and the text is judged without it.
            raw, marked = _without_bom(raw)
            first = False
        else:
            marked = False
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise _reject(
                file, _encoding_problem(raw, exc, encoding, marked), row=at.records + 1, rows_read=at.records
            ) from None
        yield text


def _without_bom(raw: bytes) -> tuple[bytes, bool]:
    return (raw[len(_BOM) :], True) if raw.startswith(_BOM) else (raw, False)


def _csv_source(f: BinaryIO, file: str, encoding: str, lines: int) -> Source:
    _sniff_binary(f.read(4), file, "csv")
    f.seek(0)
    at = _Position()
    reader = csv.reader(_decoded_lines(f, file, encoding, at), strict=False)

    def next_row() -> list[str] | None:
        try:
            row = next(reader, None)
        except csv.Error as exc:
            raise _reject(file, f"not readable as CSV ({exc})", row=at.records + 1, rows_read=at.records) from None
        at.records += 1
        return row

    header_row = next_row()
    while header_row is not None and not any(cell.strip() for cell in header_row):
        header_row = next_row()
    if header_row is None:
        raise _reject(file, "the file is empty; expected a header row, then one row per record")
    header_at = at.records
    header = _clean_header(header_row, file, header_at)
    header_lines = at.lines
    extent = Extent(total=max(lines - header_lines, 0))

    def records() -> Iterator[Record]:
        # The parser pulls exactly the lines of each record, so lines consumed count the same lines as the total.
        while (values := next_row()) is not None:
            extent.advance_to(at.lines - header_lines)
            if any(cell.strip() for cell in values):
                yield _tabular_record(at.records, header, values)
        extent.end()

    return Source(file, "csv", header, records(), extent, header_row=header_at)


def _clean_header(cells: Any, file: str, row: int) -> list[str | None]:
    header = [None if cell is None or not str(cell).strip() else str(cell).strip() for cell in cells]
    while header and header[-1] is None:
        header.pop()
    for i, name in enumerate(header):
        if name is not None and any(ch < " " and not ch.isspace() or ch == "\x7f" for ch in name):
            # A NUL or another control character in a header: the file is not the text it claims to be, or was
            # damaged; a column name that cannot be shown cannot be matched either.
            raise _reject(
                file,
                f"the header of column {_column_letter(i)} ({name!r}) contains a control character; "
                "the file may be damaged or not text: open it and save it again",
                row=row,
            )
    return header


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _tabular_record(row: int, header: list[str | None], values: Any) -> Record:
    cells: dict[str, Any] = {}
    for i, value in enumerate(values):
        name = header[i] if i < len(header) else None
        if name is not None:
            cells[name] = value
        elif not _is_blank(value):
            return Record(row, cells, f"a value ({value!r}) in column {_column_letter(i)}, which has no header")
    return Record(row, cells)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


# ── XLSX ────────────────────────────────────────────────────────────────────────────────────────────────
@contextmanager
def _xlsx_source(path: Path, file: str, sheet: str | None) -> Iterator[Source]:
    import zipfile
    import zlib
    from xml.etree import ElementTree

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    # A damaged workbook fails in the zip layer, in decompression, in the XML parser or in openpyxl itself, at
    # opening or only at the damaged row (a read-only workbook is read as it goes).
    broken = (
        InvalidFileException,
        zipfile.BadZipFile,
        zlib.error,
        ElementTree.ParseError,
        EOFError,
        KeyError,
        IndexError,
        TypeError,
        OSError,
        ValueError,
    )
    # Opened here, not by openpyxl, so a workbook that fails to load does not leave its file open.
    with path.open("rb") as handle:
        try:
            with _quiet_openpyxl():
                workbook = load_workbook(handle, read_only=True, data_only=True)
        except broken as exc:
            raise _reject(
                file, f"not a readable .xlsx workbook ({_first_line(exc)}); open it in Excel and save it again"
            ) from None
        try:
            yield _sheet_source(workbook, file, sheet, broken)
        finally:
            workbook.close()


def _sheet_source(workbook: Any, file: str, sheet: str | None, broken: tuple[type[BaseException], ...]) -> Source:
    names = workbook.sheetnames
    if sheet is not None and sheet not in names:
        raise _reject(file, f"no sheet named {sheet!r}; the sheets are: {', '.join(names)}")
    worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
    expected = worksheet.max_row
    # A workbook's stored dimension can be wrong (some exporters write A1); read every row regardless.
    worksheet.reset_dimensions()
    rows = enumerate(worksheet.iter_rows(values_only=True), start=1)
    last = 0

    def next_row() -> tuple[int, Any] | None:
        nonlocal last
        try:
            with _quiet_openpyxl():
                item = next(rows, None)
        except broken as exc:
            where = f" after row {last}" if last else ""
            raise _reject(
                file,
                f"the workbook is damaged{where} ({_first_line(exc)}); open it in Excel and save it again",
                row=last + 1,
                rows_read=last,
            ) from None
        if item is not None:
            last = item[0]
        return item

    first = next_row()
    while first is not None and all(_is_blank(v) for v in first[1]):
        first = next_row()
    if first is None:
        if sheet is None and len(names) > 1:
            raise _reject(
                file,
                f"sheet {worksheet.title!r} is empty; expected a header row, then one row per record "
                f"(the sheets are: {', '.join(names)}; choose one with --sheet)",
            )
        where = f"sheet {worksheet.title!r}" if sheet else "the workbook"
        raise _reject(file, f"{where} is empty; expected a header row, then one row per record")
    header = _clean_header(first[1], file, first[0])
    header_at = first[0]

    # The stored dimension counts rows as the sheet numbers them, so progress counts row numbers too.
    extent = Extent(total=expected - header_at if expected and expected > header_at else None)

    def records() -> Iterator[Record]:
        while (item := next_row()) is not None:
            extent.advance_to(item[0] - header_at)
            # Spreadsheets keep formatted but empty rows; they are not records.
            if not all(_is_blank(v) for v in item[1]):
                yield _tabular_record(item[0], header, item[1])
        extent.end()

    return Source(file, "xlsx", header, records(), extent, header_row=header_at)


@contextmanager
def _quiet_openpyxl() -> Iterator[None]:
    # openpyxl warns about workbook features it ignores (styles, data validation); they do not affect values.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        yield


# ── JSONL ───────────────────────────────────────────────────────────────────────────────────────────────
def _jsonl_source(f: BinaryIO, file: str, encoding: str, lines: int) -> Source:
    _sniff_binary(f.read(4), file, "jsonl")
    f.seek(0)

    extent = Extent(total=lines)

    def records() -> Iterator[Record]:
        any_line = False
        for number, raw in enumerate(f, start=1):
            extent.advance_to(number)
            raw, marked = _without_bom(raw) if number == 1 else (raw, False)
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise _reject(
                    file, _encoding_problem(raw, exc, encoding, marked), row=number, rows_read=number - 1
                ) from None
            if not text.strip():
                continue
            any_line = True
            try:
                value = loads(text)
            except ValueError as exc:
                yield Record(number, {}, f"not valid JSON ({exc})")
                continue
            if not isinstance(value, dict):
                yield Record(number, {}, f"expected a JSON object {{...}} on each line, got {type(value).__name__}")
                continue
            yield Record(number, value)
        if not any_line:
            raise _reject(file, "the file is empty; expected one JSON object per line")
        extent.end()

    return Source(file, "jsonl", None, records(), extent)


def loads(text: str) -> Any:
    """Parse strict JSON: ValueError (with a short reason) for bad syntax, NaN/Infinity or absurd nesting."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        # Some of json's messages end in " at" themselves ("Invalid control character at").
        raise ValueError(f"{exc.msg.removesuffix(' at')} at character {exc.pos + 1}") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _no_constant(name: str) -> Any:
    # NaN and Infinity are Python's extension, not JSON; PostgreSQL would refuse them later.
    raise ValueError(f"{name} is not a JSON value")


# ── Parquet ─────────────────────────────────────────────────────────────────────────────────────────────
def _parquet_source(path: Path, file: str) -> Source:
    import polars as pl

    # A damaged file fails on opening or only at the damaged page; the Rust reader may even panic.
    broken = (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError)
    try:
        schema = pl.read_parquet_schema(path)
        total = int(pl.scan_parquet(path).select(pl.len()).collect().item())
    except broken as exc:
        raise _reject(file, f"not a readable Parquet file ({_first_line(exc)})") from None
    if total == 0:
        raise _reject(file, "the file has no records")

    extent = Extent(total=total)

    def records() -> Iterator[Record]:
        number = 0
        batches = pl.scan_parquet(path).collect_batches(chunk_size=_PARQUET_BATCH)
        while True:
            try:
                batch = next(batches, None)
            except broken as exc:
                where = f" after record {number}" if number else ""
                raise _reject(
                    file,
                    f"the Parquet file is damaged{where} ({_first_line(exc)}); export it again",
                    row=number + 1,
                    rows_read=number,
                ) from None
            if batch is None:
                break
            for values in batch.iter_rows(named=True):
                number += 1
                extent.advance_to(number)
                yield Record(number, values)
        extent.end()

    return Source(file, "parquet", list(schema), records(), extent)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def cell_text(value: Any) -> str:
    """A cell as text for the rejects file (dates ISO, lists and objects as JSON)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
