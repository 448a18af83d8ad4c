"""`suijian import annual_reports FILE` (统一社会信用代码, 年度, 报送日期): each bad row is one problem naming the
file, row and column, nothing is written; good rows feed the annual_report_late feature (企业信息公示暂行条例 第8条)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli import suijian
from engine import ingest
from engine.features.compute import features_of
from entities import store
from entities.errors import ImportRejected, RowProblem
from tests.engine.test_ingest import fixture, only, rejected, rows_of, run, write_csv

HEADER = ["统一社会信用代码", "年度", "报送日期"]
FIRM = "91440103MA59C8QK3L"  # registered 2017-08-15 in the subjects fixture
SHOP = "92440103L12345678T"  # registered 2012-03-01


@pytest.fixture
def subjects(engine: sa.Engine) -> sa.Engine:
    store.initialise(engine)
    run(engine, "subjects", fixture("subjects"))
    return engine


def test_the_fixture_imports_with_chinese_headers_and_any_date_spelling(subjects: sa.Engine) -> None:
    result = run(subjects, "annual_reports", fixture("annual_reports"))
    assert (result.rows, result.inserted, result.rejected) == (5, 5, 0)
    stored = {(r["uscc"], r["year"]): r["filed_on"] for r in rows_of(subjects, "annual_report")}
    assert stored[(FIRM, 2023)] == dt.date(2024, 6, 30)
    assert stored[(SHOP, 2024)] is None  # due and not filed
    assert stored[("91440111MA5AHUJ702", 2024)] == dt.date(2025, 8, 3)  # filed late


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (
            [FIRM, "2024", "2024-12-31"],
            "",
            "报送日期 2024-12-31 is not after 年度 2024: the annual report for 2024 is filed from 1 January 2025 on "
            "(企业信息公示暂行条例 第8条); check both columns",
        ),
        (
            [FIRM, "2026", ""],
            "年度",
            "report year 2026 has not ended on the import date 2026-03-01; the latest year that can have a report "
            "is 2025",
        ),
        (
            [FIRM, "2024", "2026-03-02"],
            "报送日期",
            "2026-03-02 is after the import date 2026-03-01: it records something that has happened, so it cannot "
            "be in the future; check the year",
        ),
        ([FIRM, "二〇二四", "2025-05-01"], "年度", None),
        ([FIRM, "1989", ""], "年度", None),
        (
            ["91440103MA59C8QK3A", "2024", "2025-05-01"],
            "统一社会信用代码",
            None,
        ),
        (
            ["91440101MA5CYC3L6T", "2024", "2025-05-01"],
            "统一社会信用代码",
            "unknown subject (经营主体) '91440101MA5CYC3L6T': not in the store; import subjects first "
            "(`suijian import subjects FILE`)",
        ),
    ],
)
def test_each_bad_row_is_one_problem_and_nothing_is_written(
    subjects: sa.Engine, tmp_path: Path, row: list[str], column: str, reason: str | None
) -> None:
    path = write_csv(tmp_path / "r.csv", [HEADER, [SHOP, "2024", "2025-06-01"], row])
    [problem] = rejected(subjects, "annual_reports", path)
    assert (problem.file, problem.row, problem.column) == (str(path), 3, column)
    if reason is not None:
        assert problem.reason == reason
    assert rows_of(subjects, "annual_report") == []


def test_a_year_reported_twice_in_one_file_is_refused(subjects: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [HEADER, [FIRM, "2024", "2025-05-01"], [FIRM, "2024", "2025-06-01"]])
    assert only(rejected(subjects, "annual_reports", path)) == RowProblem(
        str(path),
        3,
        "统一社会信用代码",
        f"duplicate key (统一社会信用代码 '{FIRM}', 年度 '2024'): rows 2 and 3 both have it; keep one",
    )


def test_an_old_header_spelling_gets_a_suggestion(subjects: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [["统一社会信用代码", "报告年度", "报送日期"], [FIRM, "2024", "2025-05-01"]])
    with pytest.raises(ImportRejected) as caught:
        run(subjects, "annual_reports", path)
    assert caught.value.problems == [
        RowProblem(str(path), 1, "", "missing required column(s): 年度 (year)"),
        RowProblem(str(path), 1, "报告年度", "unknown column '报告年度' for annual_reports; did you mean '年度'?"),
    ]


def test_imported_reports_decide_the_late_filing_feature(subjects: sa.Engine, tmp_path: Path) -> None:
    """As of 2025-12-31 the 2024 report was due by 2025-06-30: filed on time → not late; filed after 30 June or
    never → late; no store row for a subject that had to report → late (the store holds that year's reports)."""
    path = write_csv(
        tmp_path / "r.csv",
        [HEADER, [FIRM, "2024", "2025-06-30"], [SHOP, "2024", "2025-07-01"]],
    )
    run(subjects, "annual_reports", path)
    with subjects.connect() as conn:
        late = {
            uscc: (features_of(conn, uscc, dt.date(2025, 12, 31)) or {})["annual_report_late"]
            for uscc in (FIRM, SHOP, "91440106MA9W2E7L4B")
        }
    assert late[FIRM] is False and late[SHOP] is True
    assert late["91440106MA9W2E7L4B"] is True  # registered 2020, no 2024 report in the store


def test_the_command_prints_one_line_per_problem_and_exits_1(subjects: sa.Engine, tmp_path: Path) -> None:
    url = subjects.url.render_as_string(hide_password=False)
    path = write_csv(tmp_path / "r.csv", [HEADER, [FIRM, "2024", "2024-12-31"]])
    result = CliRunner().invoke(suijian, ["import", "annual_reports", str(path), "--db", url])
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == (
        f"{path}:2: 报送日期 2024-12-31 is not after 年度 2024: the annual report for 2024 is filed from 1 January "
        "2025 on (企业信息公示暂行条例 第8条); check both columns"
    )
    assert lines[-1].startswith("Error: ") and "nothing was written" in lines[-1]
    good = write_csv(tmp_path / "g.csv", [HEADER, [FIRM, "2024", "2025-06-01"]])
    result = CliRunner().invoke(suijian, ["import", "annual_reports", str(good), "--db", url])
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == f"Imported annual_reports from {good}: 1 row(s) read; 1 new, 0 updated, 0 unchanged.\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    year=st.integers(1990, 2025),
    offset=st.one_of(st.none(), st.integers(-400, 800)),
)
def test_any_report_row_is_stored_as_given_or_refused_with_a_reason(
    subjects: sa.Engine, tmp_path_factory: pytest.TempPathFactory, year: int, offset: int | None
) -> None:
    """Round trip: a row is accepted exactly when its date is after the report year and not after the import."""
    filed = None if offset is None else dt.date(year + 1, 1, 1) + dt.timedelta(days=offset)
    path = write_csv(
        tmp_path_factory.mktemp("r") / "r.csv", [HEADER, [FIRM, str(year), filed.isoformat() if filed else ""]]
    )
    ok = filed is None or (filed.year > year and filed <= ingest_date())
    try:
        run(subjects, "annual_reports", path)
    except ImportRejected as exc:
        assert not ok, exc.problems
        assert len(exc.problems) == 1 and exc.problems[0].row == 2
        return
    assert ok
    stored = {(r["uscc"], r["year"]): r["filed_on"] for r in rows_of(subjects, "annual_report")}
    assert stored[(FIRM, year)] == filed


def ingest_date() -> dt.date:
    from tests.engine.test_ingest import WHEN

    return WHEN.date()


def test_the_kind_is_listed() -> None:
    assert "annual_reports" in ingest.kinds.KINDS
