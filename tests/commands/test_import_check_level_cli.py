"""`suijian import results` with 检查层级 through the real CLI: an XLSX with the column imports; a bad level is one line
(file:row [column]: reason), a clean exit and nothing written; `--help` says what the column means."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from entities import store
from tests.commands.test_import_cli import FIXTURES, db, invoke  # noqa: F401 - db is a fixture

HEADER = ["检查编号", "统一社会信用代码", "检查日期", "抽查事项代码", "检查类型", "检查结果", "检查层级"]
A = "91440103MA59C8QK3L"


def workbook(path: Path, level: str) -> Path:
    book = Workbook()
    book.active.append(HEADER)
    book.active.append(["JC1", A, "2025-11-01", "SP-CY-01", "双随机抽查", "未发现问题", "市级"])
    book.active.append(["JC2", A, "2025-11-20", "SP-CY-01", "专项检查", "未发现问题", level])
    book.save(path)
    book.close()
    return path


def levels(url: str) -> list[tuple[str, str | None]]:
    engine = store.make_engine(url)
    try:
        with engine.connect() as conn:
            t = store.table("check_result")
            return [(r.id, r.level) for r in conn.execute(t.select().order_by(t.c.id))]
    finally:
        engine.dispose()


def test_results_with_levels_import_and_a_bad_level_is_one_line(db: str, tmp_path: Path) -> None:  # noqa: F811
    assert invoke("import", "subjects", str(FIXTURES / "subjects.csv"), "--db", db).exit_code == 0
    bad = workbook(tmp_path / "检查记录-坏.xlsx", "街道级")
    result = invoke("import", "results", str(bad), "--db", db)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stderr.splitlines() == [
        f"{bad}:3 [检查层级]: unknown 检查层级 '街道级'; allowed: national (国家级), provincial (省级), city (市级), "
        "county (县级)",
        f"Error: 1 problem(s) in 1 row(s) of {bad}; nothing was written "
        "(fix them, or pass --skip-invalid to import the good rows)",
    ]
    assert levels(db) == []
    good = workbook(tmp_path / "检查记录.xlsx", "省级")
    result = invoke("import", "results", str(good), "--db", db)
    assert (result.exit_code, result.stderr) == (0, "")
    assert levels(db) == [("JC1", "city"), ("JC2", "provincial")]


def test_help_names_the_level_column() -> None:
    out = invoke("import", "--help").output
    assert "检查层级" in out and "令49号 第42条" in out
    assert "suijian import results 检查记录（含检查层级）.xlsx" in out
