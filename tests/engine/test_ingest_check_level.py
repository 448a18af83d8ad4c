"""Importing past checks with the level that made them (检查层级, check_result.level; 令49号 第42条): Chinese and
English headers, labels, codes and short forms, CSV in UTF-8 and GBK and XLSX; an empty cell is "not recorded";
a bad value is one line naming the file, row and column, and nothing is written. The plan's history reads the level,
whether the check found a problem, and whether it is a result recorded for one of the store's own plans."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from engine import planning
from engine.results.records import history_id
from entities import store
from tests.engine.test_ingest import fixture, only, rejected, rows_of, run, write_csv

A, B = "91440103MA59C8QK3L", "92440103L12345678T"  # two of the fixture's subjects
HEADER = ["检查编号", "统一社会信用代码", "检查日期", "抽查事项代码", "检查类型", "检查结果", "检查层级"]
LEVELS = "national (国家级), provincial (省级), city (市级), county (县级)"


@pytest.fixture(autouse=True)
def builtin_regions(engine: sa.Engine) -> None:
    store.initialise(engine)


@pytest.fixture
def subjects(engine: sa.Engine) -> sa.Engine:
    run(engine, "subjects", fixture("subjects"))
    return engine


def levels(engine: sa.Engine) -> dict[str, str | None]:
    return {r["id"]: r["level"] for r in rows_of(engine, "check_result")}


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_chinese_header_labels_codes_and_short_forms(subjects: sa.Engine, tmp_path: Path, encoding: str) -> None:
    path = write_csv(
        tmp_path / "检查记录.csv",
        [
            HEADER,
            ["JC1", A, "2025-11-01", "SP-CY-01", "双随机抽查", "未发现问题", "省级"],
            ["JC2", A, "2025-11-02", "SP-CY-01", "双随机抽查", "未发现问题", "市"],
            ["JC3", B, "2025-11-03", "SP-CY-01", "专项检查", "未发现问题", "区级"],  # a district bureau: county level
            ["JC4", B, "2025-11-04", "SP-CY-01", "专项检查", "未发现问题", "NATIONAL"],
            ["JC5", B, "2025-11-05", "SP-CY-01", "专项检查", "未发现问题", ""],  # not recorded
        ],
        encoding=encoding,
    )
    result = run(subjects, "results", path, encoding=encoding)
    assert (result.inserted, result.rejected) == (5, 0)
    assert levels(subjects) == {"JC1": "provincial", "JC2": "city", "JC3": "county", "JC4": "national", "JC5": None}


def test_english_header_in_xlsx(subjects: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "checks.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["id", "uscc", "checked_on", "item_code", "kind", "result_codes", "level"])
    sheet.append(["JC1", A, dt.date(2025, 11, 1), "SP-CY-01", "random", "no_problem", "county"])
    sheet.append(["JC2", B, dt.date(2025, 11, 2), "SP-CY-01", "random", "other_violation", "县级"])
    sheet.append(["JC3", B, dt.date(2025, 11, 3), "SP-CY-01", "random", "no_problem", None])
    workbook.save(path)
    workbook.close()
    assert run(subjects, "results", path).inserted == 3
    assert levels(subjects) == {"JC1": "county", "JC2": "county", "JC3": None}


def test_a_file_without_the_column_keeps_the_stored_levels(subjects: sa.Engine, tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv", [HEADER, ["JC1", A, "2025-11-01", "SP-CY-01", "双随机抽查", "未发现问题", "市级"]])
    run(subjects, "results", tmp_path / "a.csv")
    write_csv(tmp_path / "b.csv", [HEADER[:-1], ["JC1", A, "2025-11-01", "SP-CY-01", "双随机抽查", "未发现问题"]])
    run(subjects, "results", tmp_path / "b.csv")
    assert levels(subjects) == {"JC1": "city"}


@pytest.mark.parametrize(
    ("header", "value"),
    [("检查层级", "乡级"), ("level", "state")],
)
def test_an_unknown_level_is_one_line_and_nothing_is_written(
    subjects: sa.Engine, tmp_path: Path, header: str, value: str
) -> None:
    path = write_csv(
        tmp_path / "bad.csv",
        [
            [*HEADER[:-1], header],
            ["JC1", A, "2025-11-01", "SP-CY-01", "双随机抽查", "未发现问题", "县级"],
            ["JC2", B, "2025-11-02", "SP-CY-01", "双随机抽查", "未发现问题", value],
        ],
    )
    problem = only(rejected(subjects, "results", path))
    assert (problem.file, problem.row, problem.column) == (str(path), 3, header)
    assert problem.reason == f"unknown 检查层级 {value!r}; allowed: {LEVELS}"
    assert "\n" not in str(problem.reason)


def test_the_plans_history_reads_level_finding_and_own_results(subjects: sa.Engine, tmp_path: Path) -> None:
    write_csv(
        tmp_path / "checks.csv",
        [
            HEADER,
            ["JC1", A, "2025-11-01", "SP-CY-01", "双随机抽查", "未发现问题", "市级"],
            ["JC2", B, "2025-11-02", "SP-CY-01", "双随机抽查", "other_violation", "省级"],
            ["JC3", B, "2025-11-03", "SP-CY-01", "双随机抽查", "未发现问题", ""],
        ],
    )
    run(subjects, "results", tmp_path / "checks.csv")
    # A result recorded for one of the store's plans (`results record` derives this row; no level is written).
    recorded = {
        "id": history_id("P2026-0000000000", "V1", "SP-CY-01"),
        "uscc": A,
        "checked_on": dt.date(2025, 12, 1),
        "item_code": "SP-CY-01",
        "kind": "random",
        "result_codes": ["no_problem"],
        "lead_inspector": None,
    }
    with subjects.begin() as conn:
        store.bulk_insert(conn, "check_result", [recorded])
    with subjects.connect() as conn:
        past = planning.history(conn, dt.date(2025, 12, 31)).sort("checked_on")
    assert past.select("uscc", "level", "finding", "own").rows() == [
        (A, "city", False, False),
        (B, "provincial", True, False),
        (B, None, False, False),
        (A, None, False, True),
    ]
    assert past.schema["checked_on"] == pl.Date
