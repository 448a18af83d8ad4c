"""Imports at the edges: a rejects file that cannot be written, future-dated facts, malformed files, the progress count.

Each case is one clear line naming the file (and row and column where there is one), and nothing written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from entities import store
from entities.errors import ImportRejected, InputError, RowProblem
from tests.engine.test_ingest import (
    GOOD_SUBJECT,
    OTHER_SUBJECT,
    SUBJECT_HEADER,
    counts,
    fixture,
    only,
    rejected,
    run,
    write_csv,
)

BAD_SUBJECT = ["91440103MA59C8QK3A", "错码公司", "企业", "H6210", "440103001", "2017-08-15"]


@pytest.fixture(autouse=True)
def builtin_regions(engine: sa.Engine) -> None:
    store.initialise(engine)


@pytest.fixture
def subjects(engine: sa.Engine) -> sa.Engine:
    """A store holding the import fixture's seven subjects."""
    run(engine, "subjects", fixture("subjects"))
    return engine


def refused(engine: sa.Engine, kind: str, path: Path, **kw: Any) -> str:
    """Import a file that must be refused with one line (not a row report) and leave every table as it was."""
    before = counts(engine)
    with pytest.raises(InputError) as info:
        run(engine, kind, path, **kw)
    assert not isinstance(info.value, ImportRejected)
    assert counts(engine) == before
    assert "\n" not in str(info.value)
    return str(info.value)


# ── the rejects file of --skip-invalid ──────────────────────────────────────────────────────────────────
def test_rejects_path_is_a_folder(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, GOOD_SUBJECT, BAD_SUBJECT])
    (tmp_path / "s.rejects.csv").mkdir()
    assert refused(engine, "subjects", path, skip_invalid=True) == (
        f"cannot write the rejects file {tmp_path / 's.rejects.csv'}: it is a folder, not a file "
        "(--skip-invalid writes it beside s.csv); nothing was written"
    )
    assert (tmp_path / "s.rejects.csv").is_dir()


def test_rejects_folder_not_writable(engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, GOOD_SUBJECT, BAD_SUBJECT])
    # As root every folder is writable; deny this one the way access(2) would for another user.
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real(p, mode))
    assert refused(engine, "subjects", path, skip_invalid=True) == (
        f"cannot write the rejects file {tmp_path / 's.rejects.csv'}: no permission to write in folder {tmp_path} "
        "(--skip-invalid writes it beside s.csv); nothing was written"
    )
    assert not (tmp_path / "s.rejects.csv").exists()


def test_rejects_file_read_only(engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, GOOD_SUBJECT, BAD_SUBJECT])
    old = tmp_path / "s.rejects.csv"
    old.write_text("an earlier run's rejects\n")
    old.chmod(0o444)
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == old else real(p, mode))
    assert refused(engine, "subjects", path, skip_invalid=True) == (
        f"cannot write the rejects file {old}: it is read-only (--skip-invalid writes it beside s.csv); nothing was written"
    )
    assert old.read_text() == "an earlier run's rejects\n"


def test_rejects_file_failing_while_written_rolls_the_import_back(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The check passed, then the file could not be opened (a folder created meanwhile, a full disk): the good
    # rows already upserted in the transaction must not be committed.
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, GOOD_SUBJECT, BAD_SUBJECT])

    real = Path.open

    def full_disk(self: Path, *args: Any, **kw: Any) -> Any:
        if self.name == "s.rejects.csv":
            raise OSError(28, "No space left on device")
        return real(self, *args, **kw)

    monkeypatch.setattr(Path, "open", full_disk)
    assert refused(engine, "subjects", path, skip_invalid=True) == (
        f"cannot write the rejects file {tmp_path / 's.rejects.csv'}: No space left on device "
        "(--skip-invalid writes it beside s.csv); nothing was written"
    )


def test_rejects_path_is_not_checked_without_skip_invalid(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, GOOD_SUBJECT])
    (tmp_path / "s.rejects.csv").mkdir()
    assert run(engine, "subjects", path).inserted == 1


# ── future-dated facts: refused on import ───────────────────────────────────────────────────────────────
LATER = "it records something that has happened, so it cannot be in the future; check the year"


def test_a_registration_after_the_import_date_is_refused(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, GOOD_SUBJECT, [*OTHER_SUBJECT[:5], "2099-01-01"]])
    assert only(rejected(engine, "subjects", path)) == RowProblem(
        str(path), 3, "成立日期", f"2099-01-01 is after the import date 2026-03-01: {LATER}"
    )


def test_an_event_on_the_import_date_is_accepted(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, [*GOOD_SUBJECT[:5], "2026-03-01"]])
    assert run(engine, "subjects", path).inserted == 1


def test_skip_invalid_keeps_the_rows_dated_before_the_import(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, GOOD_SUBJECT, [*OTHER_SUBJECT[:5], "2099-01-01"]])
    result = run(engine, "subjects", path, skip_invalid=True)
    assert (result.inserted, result.rejected) == (1, 1)
    assert result.problems == [
        RowProblem(str(path), 3, "成立日期", f"2099-01-01 is after the import date 2026-03-01: {LATER}")
    ]


@pytest.mark.parametrize(
    ("kind", "header", "row", "column", "value"),
    [
        (
            "penalties",
            ["uscc", "decision_no", "decided_on", "severity", "legal_basis"],
            ["91440103MA59C8QK3L", "穗荔市监罚〔2027〕1号", "2027-01-05", "fine", "《食品安全法》第一百二十六条"],
            "decided_on",
            "2027-01-05",
        ),
        (
            "lists",
            ["uscc", "list_name", "listed_on", "removed_on"],
            ["91440103MA59C8QK3L", "abnormal", "2025-04-01", "2026-03-02"],
            "removed_on",
            "2026-03-02",
        ),
        (
            "complaints",
            ["ticket_no", "uscc", "received_on"],
            ["TS-2026-1", "91440103MA59C8QK3L", "2030-01-01"],
            "received_on",
            "2030-01-01",
        ),
    ],
    ids=["penalty decided", "list removal", "complaint received"],
)
def test_other_events_after_the_import_date_are_refused(
    subjects: sa.Engine, tmp_path: Path, kind: str, header: list[str], row: list[str], column: str, value: str
) -> None:
    path = write_csv(tmp_path / f"{kind}.csv", [header, row])
    assert only(rejected(subjects, kind, path)) == RowProblem(
        str(path), 2, column, f"{value} is after the import date 2026-03-01: {LATER}"
    )


def test_dates_that_lie_ahead_by_nature_are_accepted(subjects: sa.Engine, tmp_path: Path) -> None:
    # A licence's end and the next periodic inspection are meant to be in the future.
    licences = write_csv(
        tmp_path / "licences.csv",
        [
            ["number", "uscc", "kind", "valid_from", "valid_to"],
            ["JY14401030000001", "91440103MA59C8QK3L", "food_trade", "2024-05-01", "2029-04-30"],
        ],
    )
    assert run(subjects, "licences", licences).inserted == 1


# ── progress: done and total count the same thing, and done never passes total ────────────────────────
def progress_calls(engine: sa.Engine, kind: str, path: Path, **kw: Any) -> list[tuple[int, int | None]]:
    calls: list[tuple[str, int, int | None]] = []
    run(engine, kind, path, progress=lambda step, done, total: calls.append((step, done, total)), **kw)
    assert {step for step, _, _ in calls} == {f"importing {kind}"}
    counted = [(done, total) for _, done, total in calls]
    assert all(total is None or done <= total for done, total in counted), counted
    assert [d for d, _ in counted] == sorted(d for d, _ in counted)
    assert counted[-1][0] == counted[-1][1]  # the end is 100 %, never more
    return counted


def test_progress_of_a_csv_without_a_final_line_break(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("\n".join(",".join(r) for r in [SUBJECT_HEADER, GOOD_SUBJECT, OTHER_SUBJECT]), encoding="utf-8")
    assert progress_calls(engine, "subjects", path) == [(0, 2), (2, 2), (2, 2)]


def test_progress_of_a_csv_with_multiline_cells_and_blank_lines(engine: sa.Engine, tmp_path: Path) -> None:
    # 3 records on 7 lines below the header: a name with a line break, an address of two lines, a blank line.
    text = (
        "\n"
        + ",".join([*SUBJECT_HEADER, "住所"])
        + "\n"
        + ",".join(GOOD_SUBJECT)
        + ',"广州市\n荔湾区"\n'
        + "\n"
        + ",".join(OTHER_SUBJECT)
        + ',"一\n二\n三"\n'
        + "91440101MA5CXTNJ3Q,越秀公司,企业,H6210,440103001,2018-01-01,\n"
    )
    path = tmp_path / "s.csv"
    path.write_text(text, encoding="utf-8")
    assert progress_calls(engine, "subjects", path, batch_size=1) == [(0, 7), (2, 7), (6, 7), (7, 7), (7, 7)]


def test_progress_of_jsonl_with_blank_lines(subjects: sa.Engine, tmp_path: Path) -> None:
    line = '{"ticket_no": "T%d", "uscc": "91440103MA59C8QK3L", "received_on": "2024-01-0%d"}'
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join([line % (1, 1), "", line % (2, 2), "   ", line % (3, 3)]), encoding="utf-8")
    assert progress_calls(subjects, "complaints", path, batch_size=2) == [(0, 5), (3, 5), (5, 5), (5, 5)]


def xlsx_with_dimension(path: Path, rows: list[list[Any]], dimension: str) -> Path:
    """A workbook whose stored dimension is `dimension`, whatever its rows (some exporters write a wrong one)."""
    import re
    import zipfile

    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    plain = path.with_suffix(".plain.xlsx")
    book.save(plain)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, n = re.subn(rb'<dimension ref="[^"]*" ?/>', f'<dimension ref="{dimension}"/>'.encode(), data)
                assert n == 1
            dst.writestr(item, data)
    plain.unlink()
    return path


def test_progress_of_a_sheet_whose_dimension_is_too_small(engine: sa.Engine, tmp_path: Path) -> None:
    third = ["91440101MA5CXTNJ3Q", "越秀公司", "企业", "H6210", "440103001", "2018-01-01"]
    path = xlsx_with_dimension(tmp_path / "s.xlsx", [SUBJECT_HEADER, GOOD_SUBJECT, OTHER_SUBJECT, third], "A1:F2")
    # The dimension says one row; the sheet has three: the total becomes unknown rather than 3/1.
    assert progress_calls(engine, "subjects", path, batch_size=2) == [(0, 1), (2, None), (3, 3), (3, 3)]


def test_progress_of_a_sheet_with_a_right_dimension(engine: sa.Engine, tmp_path: Path) -> None:
    path = xlsx_with_dimension(tmp_path / "s.xlsx", [SUBJECT_HEADER, GOOD_SUBJECT, OTHER_SUBJECT], "A1:F3")
    assert progress_calls(engine, "subjects", path) == [(0, 2), (2, 2), (2, 2)]


def test_progress_of_parquet(subjects: sa.Engine, tmp_path: Path) -> None:
    import polars as pl

    path = tmp_path / "c.parquet"
    pl.DataFrame(
        {"ticket_no": ["T1", "T2", "T3"], "uscc": ["91440103MA59C8QK3L"] * 3, "received_on": ["2024-01-01"] * 3}
    ).write_parquet(path)
    assert progress_calls(subjects, "complaints", path, batch_size=2) == [(0, 3), (2, 3), (3, 3), (3, 3)]


# ── malformed files: one line naming the file, never a traceback ───────────────────────────────────────
def workbook_bytes(rows: list[list[Any]]) -> bytes:
    import io

    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def damaged_sheet(data: bytes, damage: Any) -> bytes:
    """The workbook with its first sheet's stored bytes passed through `damage` (the zip directory kept intact)."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = damage(content)
            dst.writestr(item, content)
    return out.getvalue()


def whole_file_problem(engine: sa.Engine, kind: str, path: Path, **kw: Any) -> str:
    problem = only(rejected(engine, kind, path, **kw))
    assert problem.file == str(path) and problem.column == ""
    assert "\n" not in str(problem)
    return f"{problem.row}: {problem.reason}"


def test_workbook_with_a_damaged_sheet_xml(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "s.xlsx"
    path.write_bytes(damaged_sheet(workbook_bytes([SUBJECT_HEADER, GOOD_SUBJECT]), lambda xml: xml[: len(xml) // 2]))
    reason = whole_file_problem(engine, "subjects", path)
    assert reason.startswith("1: the workbook is damaged (")
    assert reason.endswith("); open it in Excel and save it again")


def test_workbook_with_damaged_compressed_data(engine: sa.Engine, tmp_path: Path) -> None:
    import io
    import zipfile

    data = bytearray(workbook_bytes([SUBJECT_HEADER] + [GOOD_SUBJECT] * 300))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as book:
        info = book.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + 100
    for i in range(start, start + 30):
        data[i] ^= 0xFF
    path = tmp_path / "s.xlsx"
    path.write_bytes(bytes(data))
    reason = whole_file_problem(engine, "subjects", path)
    assert reason.startswith(("0: not a readable .xlsx workbook (", "1: the workbook is damaged ("))
    assert reason.endswith("open it in Excel and save it again")


def test_parquet_damaged_inside(subjects: sa.Engine, tmp_path: Path) -> None:
    import io

    import polars as pl

    frame = pl.DataFrame(
        {
            "ticket_no": [f"T{i}" for i in range(2000)],
            "uscc": [GOOD_SUBJECT[0]] * 2000,
            "received_on": ["2024-01-01"] * 2000,
        }
    )
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="uncompressed")
    data = bytearray(buffer.getvalue())
    for i in range(1000, 1050):  # inside the first data page; the footer (read on opening) stays intact
        data[i] ^= 0xFF
    path = tmp_path / "c.parquet"
    path.write_bytes(bytes(data))
    reason = whole_file_problem(subjects, "complaints", path)
    assert reason.startswith("1: the Parquet file is damaged (") and reason.endswith("); export it again")


def test_nul_byte_in_a_csv_header(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(
        (",".join(SUBJECT_HEADER).replace("名称", "名\x00称") + "\n" + ",".join(GOOD_SUBJECT) + "\n").encode()
    )
    assert whole_file_problem(engine, "subjects", path) == (
        "1: the header of column B ('名\\x00称') contains a control character; the file may be damaged or not text: "
        "open it and save it again"
    )


def test_nul_byte_in_a_csv_cell(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(
        (",".join(SUBJECT_HEADER) + "\n" + ",".join(GOOD_SUBJECT).replace("陶陶居", "陶\x00居") + "\n").encode()
    )
    assert only(rejected(engine, "subjects", path)) == RowProblem(
        str(path), 2, "名称", "contains a NUL character (\\x00); remove it"
    )


def test_jsonl_key_with_control_characters_is_shown_escaped(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"uscc": "91440103MA59C8QK3L", "na\\u0000me\\u001b[31m": "x"}\n', encoding="utf-8")
    problems = rejected(engine, "subjects", path)
    unknown = next(p for p in problems if p.reason.startswith("unknown column"))
    assert unknown.column == "na\\x00me\\x1b[31m"
    assert unknown.reason == "unknown column 'na\\x00me\\x1b[31m' for subjects; did you mean 'name'?"


def test_byte_order_mark_before_gbk_text(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (",".join(SUBJECT_HEADER) + "\n" + ",".join(GOOD_SUBJECT) + "\n").encode("gbk"))
    assert whole_file_problem(engine, "subjects", path) == (
        "1: not UTF-8 (byte 0xc9 is not valid UTF-8) although the file starts with a UTF-8 byte-order mark; "
        "the text looks like GBK; re-run with --encoding gbk"
    )
    # As the message says: the mark is dropped whatever the encoding, and the GBK text imports.
    assert run(engine, "subjects", path, encoding="gbk").inserted == 1


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("s.jsonl", b"", "0: the file is empty; expected one JSON object per line"),
        ("s.xlsx", b"", "0: the file is empty; expected a workbook with a header row, then one row per record"),
        ("s.parquet", b"", "0: the file is empty; expected a Parquet file of records"),
        ("s.jsonl", "{}".encode("utf-16"), "0: the file is UTF-16 (Excel's 'Unicode Text'); save it as UTF-8 instead"),
        ("s.jsonl", b"PK\x03\x04rest", "0: this is an Excel workbook, not JSON lines; rename it to .xlsx"),
        ("s.csv", b"PAR1rest", "0: this is a Parquet file, not CSV; rename it to .parquet"),
        ("s.jsonl", b'{"uscc": "a\x01b"}\n', "1: not valid JSON (Invalid control character at character 12)"),
    ],
    ids=[
        "empty jsonl",
        "empty xlsx",
        "empty parquet",
        "utf-16 jsonl",
        "workbook as jsonl",
        "parquet as csv",
        "raw control character in jsonl",
    ],
)
def test_malformed_file_messages(engine: sa.Engine, tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    assert whole_file_problem(engine, "subjects", path) == reason
