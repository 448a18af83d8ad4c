"""Edges users met through the CLI: each is one `Error:` line, exit 1, nothing written, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from entities import store
from tests.helpers import run_cli as run


@pytest.fixture
def db(sqlite_url: str) -> str:
    """A store as `suijian init` leaves it (no plan in it)."""
    engine = store.make_engine(sqlite_url)
    store.initialise(engine)
    engine.dispose()
    return sqlite_url


# ── tasks export --out ──────────────────────────────────────────────────────────────────────────────────
# The store holds no plan: the path's error (not "no plan in the store") shows it is checked before any work.
@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_export_into_a_missing_folder(db: str, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "missing" / "dir" / f"x.{fmt}"
    assert run("tasks", "export", "--format", fmt, "--out", str(out), "--db", db) == (
        1,
        "",
        f"Error: cannot write {out}: folder {out.parent} does not exist; choose another path\n",
    )
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_export_onto_a_folder(db: str, tmp_path: Path, fmt: str) -> None:
    assert run("tasks", "export", "--format", fmt, "--out", str(tmp_path), "--db", db) == (
        1,
        "",
        f"Error: cannot write {tmp_path}: it is a folder, not a file; choose another path\n",
    )


def test_export_below_a_file(db: str, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    out = tmp_path / "notes.txt" / "x.csv"
    assert run("tasks", "export", "--format", "csv", "--out", str(out), "--db", db) == (
        1,
        "",
        f"Error: cannot write {out}: {tmp_path / 'notes.txt'} is a file, not a folder; choose another path\n",
    )


def test_export_with_a_good_path_reaches_the_store(db: str, tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    assert run("tasks", "export", "--out", str(out), "--db", db) == (
        1,
        "",
        "Error: no plan in the store; run `suijian plan` first\n",
    )
    assert not out.exists()


# ── import --skip-invalid with a rejects path that cannot be written ────────────────────────────────────
def test_import_skip_invalid_with_a_folder_as_rejects_file(db: str, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "统一社会信用代码,名称,主体类型,行业代码,所在区域,成立日期\n"
        "91440103MA59C8QK3L,陶陶居,企业,H6210,440103001,2017-08-15\n"
        "91440103MA59C8QK3A,错码公司,企业,H6210,440103001,2017-08-15\n",
        encoding="utf-8",
    )
    (tmp_path / "s.rejects.csv").mkdir()
    assert run("import", "subjects", str(path), "--skip-invalid", "--db", db) == (
        1,
        "",
        f"Error: cannot write the rejects file {tmp_path / 's.rejects.csv'}: it is a folder, not a file "
        "(--skip-invalid writes it beside s.csv); nothing was written\n",
    )
    engine = store.open_store(db)
    with engine.connect() as conn:
        assert store.count_rows(conn, "subject") == 0
    engine.dispose()


# ── every kind × malformed files: exit 1, each problem one line naming the file, never a traceback ─────
def _workbook() -> bytes:
    import io

    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["统一社会信用代码", "名称"])
    book.active.append(["91440103MA59C8QK3L", "陶陶居"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _damaged_sheet() -> bytes:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_workbook())) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, data[: len(data) // 2] if item.filename == "xl/worksheets/sheet1.xml" else data)
    return out.getvalue()


HEADER = "统一社会信用代码,名称,主体类型,行业代码,所在区域,成立日期\n"
ROW = "91440103MA59C8QK3L,陶陶居,企业,H6210,440103001,2017-08-15\n"
MALFORMED: dict[str, bytes] = {
    "empty.csv": b"",
    "empty.xlsx": b"",
    "header-only.csv": HEADER.encode(),
    "bom-gbk.csv": b"\xef\xbb\xbf" + (HEADER + ROW).encode("gbk"),
    "nul.csv": (HEADER + ROW.replace("陶陶居", "陶\x00居")).encode(),
    "nul-header.csv": (HEADER.replace("名称", "名\x00称") + ROW).encode(),
    "truncated.xlsx": _workbook()[:1500],
    "damaged-sheet.xlsx": _damaged_sheet(),
    "wrong.txt": (HEADER + ROW).encode(),
    "garbage.csv": bytes(range(256)) * 8,
    "garbage.jsonl": bytes(range(255, -1, -1)) * 8,
    "garbage.parquet": b"PAR1" + bytes(range(256)) * 8,
    "workbook.csv": _workbook(),
    "utf16.jsonl": '{"uscc": "x"}\n'.encode("utf-16"),
}


def test_every_kind_refuses_malformed_files_in_lines_naming_them(db: str, tmp_path: Path) -> None:
    from entities import kinds

    for name, data in MALFORMED.items():
        (tmp_path / name).write_bytes(data)
    for kind in kinds.KINDS:
        for name in MALFORMED:
            path = str(tmp_path / name)
            code, out, err = run("import", kind, path, "--db", db)
            assert (code, out) == (1, ""), (kind, name, err)
            lines = err.splitlines()
            assert lines and all(line.startswith(path) for line in lines[:-1]), (kind, name, err)
            assert lines[-1].startswith("Error: ") and path in lines[-1], (kind, name, err)
            assert "Traceback" not in err
    engine = store.open_store(db)
    with engine.connect() as conn:
        tables = [k.table for k in kinds.KINDS.values() if k.table != "region"]  # regions: the built-in ones
        assert {t: store.count_rows(conn, t) for t in tables} == dict.fromkeys(tables, 0)
    engine.dispose()


def test_demo_out_dir_below_a_file_is_refused_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    out_dir = tmp_path / "notes.txt" / "lists"
    db = tmp_path / "demo.db"
    assert run("demo", "--subjects", "300", "--out-dir", str(out_dir), "--db", f"sqlite:///{db}") == (
        1,
        "",
        f"Error: cannot write in {out_dir}: {tmp_path / 'notes.txt'} is a file, not a folder; choose another folder\n",
    )
    assert not db.exists()
