"""Importing files: every format, every kind, the bad-input matrix (exact message, nothing written), re-imports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from engine import ingest
from entities import codes, kinds, store
from entities.errors import ImportRejected, RowProblem, SuijianError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "import"
WHEN = dt.datetime(2026, 3, 1, 9, 30)
# Importing in this order satisfies every reference (subjects before penalties, equipment before accidents…).
ORDER = [
    "regions",
    "subjects",
    "licences",
    "lists",
    "penalties",
    "complaints",
    "inspectors",
    "items",
    "units",  # after the inspectors (every unit of theirs is listed) and the items (its items are checked)
    "results",
    "conflicts",
    "equipment",
    "accidents",
    "food",
    "devices",
    "annual_reports",
]
SUBJECT_HEADER = ["统一社会信用代码", "名称", "主体类型", "行业代码", "所在区域", "成立日期"]
GOOD_SUBJECT = ["91440103MA59C8QK3L", "广州市荔湾区陶陶居餐饮管理有限公司", "企业", "H6210", "440103001", "2017-08-15"]
OTHER_SUBJECT = ["92440103L12345678T", "广州市荔湾区陈记烧腊店", "个体工商户", "H6210", "440103002", "2012-03-01"]


def fixture(kind: str) -> Path:
    (path,) = FIXTURES.glob(f"{kind}.*")
    return path


def write_csv(path: Path, rows: list[list[Any]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def run(engine: sa.Engine, kind: str, path: Path, **kw: Any) -> ingest.ImportResult:
    return ingest.import_file(engine, kind, path, imported_at=WHEN, **kw)


def counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        tables = [k.table for k in kinds.KINDS.values()] + ["import_log"]
        return {t: store.count_rows(conn, t) for t in tables}


def rows_of(engine: sa.Engine, table: str) -> list[dict[str, Any]]:
    tbl = store.table(table)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(tbl).order_by(*tbl.primary_key.columns)).mappings()]


def rejected(engine: sa.Engine, kind: str, path: Path, **kw: Any) -> list[RowProblem]:
    """Import a bad file: it must be refused as a whole and leave every table as it was."""
    before = counts(engine)
    with pytest.raises(ImportRejected) as info:
        run(engine, kind, path, **kw)
    assert counts(engine) == before
    assert str(info.value).endswith("nothing was written")
    return info.value.problems


def only(problems: list[RowProblem]) -> RowProblem:
    assert len(problems) == 1, problems
    return problems[0]


@pytest.fixture(autouse=True)
def builtin_regions(engine: sa.Engine) -> None:
    """The region table `suijian init` ships (the fixture store is only migrated)."""
    store.initialise(engine)


@pytest.fixture
def subjects(engine: sa.Engine) -> sa.Engine:
    """A store holding the fixture's seven subjects."""
    run(engine, "subjects", fixture("subjects"))
    return engine


# ── the bad-input matrix: one test per case, its exact message, nothing written ─────────────────────────
def test_wrong_uscc_check_digit(engine: sa.Engine, tmp_path: Path) -> None:
    bad = ["91440103MA59C8QK3A", *GOOD_SUBJECT[1:]]
    path = write_csv(tmp_path / "subjects.csv", [SUBJECT_HEADER, OTHER_SUBJECT, bad])
    assert only(rejected(engine, "subjects", path)) == RowProblem(
        str(path),
        3,
        "统一社会信用代码",
        "USCC '91440103MA59C8QK3A' fails its check digit (the 18th character would be 'L')",
    )


def test_unknown_enum_value_lists_the_allowed_ones(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, [*GOOD_SUBJECT[:2], "公司", *GOOD_SUBJECT[3:]]])
    assert only(rejected(engine, "subjects", path)) == RowProblem(
        str(path),
        2,
        "主体类型",
        "unknown 主体类型 '公司'; allowed: enterprise (企业), individual (个体工商户), cooperative (农民专业合作社), other (其他)",
    )


def test_unknown_value_in_a_list_of_codes(subjects: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "r.csv",
        [["id", "uscc", "checked_on", "result_codes"], ["JC-1", GOOD_SUBJECT[0], "2024-05-06", "未发现问题;查无此码"]],
    )
    problem = only(rejected(subjects, "results", path))
    assert (problem.row, problem.column) == (2, "result_codes")
    assert problem.reason.startswith(
        "unknown 检查结果 '查无此码'; allowed: no_problem (未发现问题), unpublished_info ("
    )


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("2021-02-30", "'2021-02-30' is not a real date"),
        ("15/08/2017", "'15/08/2017' is not a date (write YYYY-MM-DD)"),
    ],
)
def test_bad_date(engine: sa.Engine, tmp_path: Path, cell: str, reason: str) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, [*GOOD_SUBJECT[:5], cell]])
    assert only(rejected(engine, "subjects", path)) == RowProblem(str(path), 2, "成立日期", reason)


def test_duplicate_key_names_both_rows(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, GOOD_SUBJECT, OTHER_SUBJECT, GOOD_SUBJECT])
    assert only(rejected(engine, "subjects", path)) == RowProblem(
        str(path),
        4,
        "统一社会信用代码",
        "duplicate key (统一社会信用代码 '91440103MA59C8QK3L'): rows 2 and 4 both have it; keep one",
    )


def test_duplicate_key_across_batches_and_composite_keys(subjects: sa.Engine, tmp_path: Path) -> None:
    header = ["uscc", "list_name", "listed_on"]
    entry = [GOOD_SUBJECT[0], "经营异常名录", "2021-06-30"]
    same = [GOOD_SUBJECT[0], "abnormal", "2021/6/30"]  # other notation, same key
    path = write_csv(tmp_path / "l.csv", [header, entry, [OTHER_SUBJECT[0], "abnormal", "2021-06-30"], same])
    assert only(rejected(subjects, "lists", path, batch_size=1)) == RowProblem(
        str(path),
        4,
        "uscc",
        "duplicate key (uscc '91440103MA59C8QK3L', list_name 'abnormal', listed_on '2021-06-30'): rows 2 and 4 both have it; keep one",
    )


def test_missing_columns_are_one_problem(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER[:4], GOOD_SUBJECT[:4]])
    assert only(rejected(engine, "subjects", path)) == RowProblem(
        str(path), 1, "", "missing required column(s): 所在区域 (region), 成立日期 (registered_on)"
    )


def test_unknown_column_suggests_the_nearest(engine: sa.Engine, tmp_path: Path) -> None:
    header = ["uscc", "name", "kind", "industry", "regoin", "registered_on"]
    path = write_csv(tmp_path / "s.csv", [header, GOOD_SUBJECT])
    assert rejected(engine, "subjects", path) == [
        RowProblem(str(path), 1, "", "missing required column(s): 所在区域 (region)"),
        RowProblem(str(path), 1, "regoin", "unknown column 'regoin' for subjects; did you mean 'region'?"),
    ]


def test_unknown_chinese_column_suggests_the_title(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [[*SUBJECT_HEADER, "统一信用代码"], [*GOOD_SUBJECT, "x"]])
    assert only(rejected(engine, "subjects", path)).reason == (
        "unknown column '统一信用代码' for subjects; did you mean '统一社会信用代码'?"
    )


def test_semicolon_separated_file_says_so(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(";".join(SUBJECT_HEADER) + "\n" + ";".join(GOOD_SUBJECT) + "\n", encoding="utf-8")
    assert only(rejected(engine, "subjects", path)) == RowProblem(
        str(path), 1, "", "the columns are separated by ';', not commas; save the file as CSV (comma-separated)"
    )


def test_natural_keys_are_the_tables_primary_keys() -> None:
    for kind in kinds.KINDS.values():
        assert kind.key == tuple(c.name for c in store.table(kind.table).primary_key.columns), kind.name
        assert set(kind.fields) == {c.name for c in store.table(kind.table).columns}, kind.name


def test_unknown_region_code(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, [*GOOD_SUBJECT[:4], "440999001", GOOD_SUBJECT[5]]])
    assert only(rejected(engine, "subjects", path)) == RowProblem(
        str(path),
        2,
        "所在区域",
        "unknown region code (区划代码) '440999001': not in the store; import regions first (`suijian import regions FILE`)",
    )


def test_penalty_of_an_unknown_subject_says_import_subjects_first(engine: sa.Engine) -> None:
    problems = rejected(engine, "penalties", fixture("penalties"))
    assert [p.row for p in problems] == [1, 2, 3]  # JSONL rows are line numbers
    assert problems[0] == RowProblem(
        str(fixture("penalties")),
        1,
        "uscc",
        "unknown subject (经营主体) '91440103MA59C8QK3L': not in the store; import subjects first (`suijian import subjects FILE`)",
    )
    assert problems[1].column == "统一社会信用代码"  # that line uses the Chinese keys


def test_accident_of_unknown_equipment(subjects: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "a.csv", [["事故编号", "设备注册代码", "发生日期"], ["SG-1", "31104401112015070001", "2023-06-14"]]
    )
    assert only(rejected(subjects, "accidents", path)).reason == (
        "unknown special equipment (特种设备) '31104401112015070001': not in the store; "
        "import equipment first (`suijian import equipment FILE`)"
    )


def test_conflict_of_unknown_inspector_and_subject(subjects: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "c.csv", [["人员编号", "统一社会信用代码", "回避事由"], ["LW0099", "91445203MA4WK7RT05", "亲属关系"]]
    )
    assert [(p.column, p.reason) for p in rejected(subjects, "conflicts", path)] == [
        (
            "人员编号",
            "unknown inspector (执法检查人员) 'LW0099': not in the store; import inspectors first (`suijian import inspectors FILE`)",
        ),
        (
            "统一社会信用代码",
            "unknown subject (经营主体) '91445203MA4WK7RT05': not in the store; import subjects first (`suijian import subjects FILE`)",
        ),
    ]


def test_gbk_file_read_as_utf8(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, GOOD_SUBJECT], encoding="gbk")
    assert only(rejected(engine, "subjects", path)) == RowProblem(
        str(path),
        1,
        "",
        "not UTF-8 (byte 0xc9 is not valid UTF-8); the file looks like GBK; re-run with --encoding gbk",
    )


def test_gbk_deep_in_the_file_names_its_row(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, GOOD_SUBJECT])
    with path.open("ab") as f:
        f.write(",".join(OTHER_SUBJECT).encode("gbk") + b"\r\n")
    problem = only(rejected(engine, "subjects", path))
    assert (problem.row, problem.reason.split(";")[-1]) == (3, " re-run with --encoding gbk")


def test_utf8_file_read_as_gbk(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, ["91440103MA59C8QK3L", "荔湾区陶陶居", *GOOD_SUBJECT[2:]]])
    assert (
        "the file looks like UTF-8; re-run with --encoding utf-8"
        in only(rejected(engine, "subjects", path, encoding="gbk")).reason
    )


def test_empty_file(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(b"")
    assert only(rejected(engine, "subjects", path)) == RowProblem(
        str(path), 0, "", "the file is empty; expected a header row, then one row per record"
    )


def test_header_without_rows(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, [""] * 6])
    assert only(rejected(engine, "subjects", path)) == RowProblem(
        str(path), 1, "", "no data rows below the header; nothing to import"
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("s.txt", "unsupported file type '.txt'; use .csv, .xlsx, .jsonl or .parquet"),
        (
            "s.xls",
            "unsupported file type '.xls' (old Excel format; save it as .xlsx or CSV UTF-8); use .csv, .xlsx, .jsonl or .parquet",
        ),
    ],
)
def test_unsupported_extension(engine: sa.Engine, tmp_path: Path, name: str, reason: str) -> None:
    path = tmp_path / name
    path.write_text("uscc\n", encoding="utf-8")
    assert only(rejected(engine, "subjects", path)) == RowProblem(str(path), 0, "", reason)


def test_file_not_found(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "missing.csv"
    assert only(rejected(engine, "subjects", path)) == RowProblem(str(path), 0, "", "no such file; check the path")


def test_required_cell_empty(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, [GOOD_SUBJECT[0], " ", *GOOD_SUBJECT[2:]]])
    assert only(rejected(engine, "subjects", path)) == RowProblem(
        str(path), 2, "名称", "required, but the cell is empty"
    )


def test_text_longer_than_the_store_column(subjects: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "i.csv", [["id", "name", "unit", "region"], ["X" * 33, "陈志强", "荔湾区市场监督管理局", "440103"]]
    )
    assert only(rejected(subjects, "inspectors", path)).reason == "too long: at most 32 characters, got 33"


def test_bad_rows_after_good_batches_still_write_nothing(engine: sa.Engine, tmp_path: Path) -> None:
    with fixture("subjects").open(encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    rows.append([*rows[1][:2], "公司", *rows[1][3:]])  # bad, and also a duplicate of row 2
    path = write_csv(tmp_path / "s.csv", rows)
    problems = rejected(engine, "subjects", path, batch_size=2)
    assert [(p.row, p.column) for p in problems] == [(9, "主体类型")]


def test_problems_report_every_bad_row(engine: sa.Engine, tmp_path: Path) -> None:
    heads = [f"914401030000000{i:02d}" for i in range(30)]
    wrong = [h + ("0" if codes.uscc_check_digit(h) != "0" else "1") for h in heads]
    bad = [[uscc, "某店", "企业", "H6210", "440103001", "2020-01-01"] for uscc in wrong]
    problems = rejected(engine, "subjects", write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, *bad]))
    assert len(problems) == 30
    assert [p.row for p in problems] == list(range(2, 32))


# ── each kind round-trips: file → store → file → store changes nothing ──────────────────────────────────
def test_every_kind_imports_and_round_trips(engine: sa.Engine, tmp_path: Path) -> None:
    assert set(ORDER) == set(kinds.KINDS)
    for name in ORDER:
        kind = kinds.get(name)
        result = run(engine, name, fixture(name))
        assert (result.rows, result.inserted, result.rejected) == (result.rows, result.rows, 0), name
        stored = rows_of(engine, kind.table)
        if name == "regions":
            stored = [r for r in stored if r["code"].startswith("445224")]
        assert len(stored) == result.rows
        # Write what the store holds back out as CSV with English headers, then import it again.
        out = tmp_path / f"{name}.csv"
        with out.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(kind.fields)
            for row in stored:
                writer.writerow([_as_cell(row[field]) for field in kind.fields])
        before = rows_of(engine, kind.table)
        again = run(engine, name, out)
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, result.rows), name
        assert rows_of(engine, kind.table) == before, name


def _as_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return ";".join(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def test_stored_values_are_typed_and_canonical(engine: sa.Engine) -> None:
    for name in ORDER:
        run(engine, name, fixture(name))
    subject = next(r for r in rows_of(engine, "subject") if r["uscc"] == "91440111MA5AHUJ702")
    assert (subject["kind"], subject["registered_on"], subject["whitelist"]) == (
        "enterprise",
        dt.date(2016, 5, 20),
        True,
    )
    item = next(r for r in rows_of(engine, "check_item") if r["code"] == "GD-TZ-003")
    assert item["target"] == {"equipment": ["elevator"]}
    assert item["cooperating_departments"] == ["消防救援大队"]
    assert item["required_qualifications"] == ["special_equipment"]
    result = next(r for r in rows_of(engine, "check_result") if r["id"] == "JC-445203-2023-0019")
    assert result["result_codes"] == ["fixed_after_order", "unpublished_info"]
    vessel = next(r for r in rows_of(engine, "equipment") if r["reg_code"] == "21304452032018110007")
    assert (vessel["safety_grade"], vessel["last_conclusion"]) == (3, "conditional")
    penalty = next(r for r in rows_of(engine, "penalty") if r["decision_no"] == "揭东市监罚字〔2022〕36号")
    assert (penalty["decided_on"], penalty["severity"], penalty["amount"]) == (dt.date(2022, 11, 2), "warning", None)


# ── re-imports ──────────────────────────────────────────────────────────────────────────────────────────
def test_reimport_changes_nothing_and_logs_both_runs(engine: sa.Engine) -> None:
    first = run(engine, "subjects", fixture("subjects"))
    assert (first.inserted, first.updated, first.unchanged, first.previously_imported_at) == (7, 0, 0, None)
    before = rows_of(engine, "subject")
    second = run(engine, "subjects", fixture("subjects"))
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 7)
    assert second.previously_imported_at == WHEN
    assert rows_of(engine, "subject") == before
    log = rows_of(engine, "import_log")
    assert [(r["kind"], r["file_name"], r["rows"], r["inserted"], r["unchanged"]) for r in log] == [
        ("subjects", "subjects.csv", 7, 7, 0),
        ("subjects", "subjects.csv", 7, 0, 7),
    ]
    assert log[0]["sha256"] == log[1]["sha256"] == first.sha256 and len(first.sha256) == 64


def test_changed_row_counts_as_updated(subjects: sa.Engine, tmp_path: Path) -> None:
    renamed = [GOOD_SUBJECT[0], "广州市荔湾区陶陶居酒家有限公司", *GOOD_SUBJECT[2:]]
    result = run(subjects, "subjects", write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, renamed, OTHER_SUBJECT]))
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    row = next(r for r in rows_of(subjects, "subject") if r["uscc"] == GOOD_SUBJECT[0])
    assert row["name"] == "广州市荔湾区陶陶居酒家有限公司"


def test_columns_left_out_keep_their_stored_values(subjects: sa.Engine, tmp_path: Path) -> None:
    # The fixture marks 91440111MA5AHUJ702 as 白名单 and 92440103L12345678T as 包容审慎; this file has neither column.
    header = ["uscc", "name", "kind", "industry", "region", "registered_on"]
    row = ["91440111MA5AHUJ702", "广州市白云区恒达电梯工程有限公司", "企业", "E4910", "440111003", "2016-05-20"]
    result = run(subjects, "subjects", write_csv(tmp_path / "s.csv", [header, row]))
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 1)
    stored = next(r for r in rows_of(subjects, "subject") if r["uscc"] == row[0])
    assert (stored["whitelist"], stored["address"]) == (True, "广州市白云区景泰街广园中路101号")


# ── --skip-invalid ──────────────────────────────────────────────────────────────────────────────────────
def test_skip_invalid_writes_good_rows_and_a_rejects_file(engine: sa.Engine, tmp_path: Path) -> None:
    rows = [
        SUBJECT_HEADER,
        GOOD_SUBJECT,
        ["91440103MA59C8QK3A", "错码公司", "企业", "H6210", "440103001", "2017-08-15"],
        OTHER_SUBJECT,
        [*OTHER_SUBJECT[:5], "2012-02-30"],
        GOOD_SUBJECT,
    ]
    path = write_csv(tmp_path / "subjects.csv", rows)
    result = run(engine, "subjects", path, skip_invalid=True)
    assert (result.rows, result.inserted, result.rejected) == (5, 2, 3)
    assert result.rejects_file == str(tmp_path / "subjects.rejects.csv")
    assert [r["uscc"] for r in rows_of(engine, "subject")] == sorted([GOOD_SUBJECT[0], OTHER_SUBJECT[0]])
    raw = Path(result.rejects_file).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, so Excel reads the Chinese
    with open(result.rejects_file, encoding="utf-8-sig", newline="") as f:
        back = list(csv.reader(f))
    assert back[0] == [*SUBJECT_HEADER, "行号", "原因"]
    assert back[1] == [
        *rows[2],
        "3",
        "[统一社会信用代码] USCC '91440103MA59C8QK3A' fails its check digit (the 18th character would be 'L')",
    ]
    assert back[2] == [*rows[4], "5", "[成立日期] '2012-02-30' is not a real date"]
    assert back[3][-2:] == [
        "6",
        "[统一社会信用代码] duplicate key (统一社会信用代码 '91440103MA59C8QK3L'): rows 2 and 6 both have it; keep one",
    ]
    assert len(back) == 4
    assert counts(engine)["import_log"] == 1


def test_skip_invalid_with_every_row_bad_writes_nothing(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, [*GOOD_SUBJECT[:5], "x"]])
    before = counts(engine)
    result = run(engine, "subjects", path, skip_invalid=True)
    assert (result.accepted, result.rejected, result.written) == (0, 1, False)
    assert counts(engine) == before
    assert Path(str(result.rejects_file)).exists()


def test_skip_invalid_cannot_skip_a_bad_header(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER[:-1], GOOD_SUBJECT[:-1]])
    assert only(rejected(engine, "subjects", path, skip_invalid=True)).reason.startswith("missing required column(s)")
    assert not (tmp_path / "s.rejects.csv").exists()


# ── formats ─────────────────────────────────────────────────────────────────────────────────────────────
def test_gbk_with_encoding_option(engine: sa.Engine, tmp_path: Path) -> None:
    text = fixture("subjects").read_text(encoding="utf-8-sig")
    path = tmp_path / "subjects-gbk.csv"
    path.write_bytes(text.encode("gbk"))
    result = run(engine, "subjects", path, encoding="gbk")
    assert (result.inserted, result.rejected) == (7, 0)
    names = {r["name"] for r in rows_of(engine, "subject")}
    assert "揭东区玉滘镇青梅种植专业合作社" in names


def test_utf8_with_and_without_bom_import_alike(engine: sa.Engine, tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_bytes(fixture("subjects").read_bytes().removeprefix(b"\xef\xbb\xbf"))
    assert run(engine, "subjects", plain).inserted == 7
    assert run(engine, "subjects", fixture("subjects")).unchanged == 7


def test_xlsx_with_chinese_headers_date_cells_and_numbers(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "主体.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "说明"
    data = workbook.create_sheet("经营主体")
    data.append(["*统一社会信用代码", "名称", "主体类型", "行业代码", "所在区域", "成立日期", "白名单"])
    data.append(
        [
            "91440103MA59C8QK3L",
            "广州市荔湾区陶陶居餐饮管理有限公司",
            "企业",
            "H6210",
            440103001,
            dt.datetime(2017, 8, 15),
            False,
        ]
    )
    data.append([])  # a blank row in the middle is skipped, and row numbers still match the sheet
    data.append(
        ["91440111231234567N", "广州市白云区数码科技有限公司", "企业", "I6510", 440111003, dt.date(2019, 4, 1), "是"]
    )
    data.append(
        [914401112312345670, "数字格式的代码", "企业", "I6510", 440111003, dt.datetime(2019, 4, 1, 10, 30), "否"]
    )
    workbook.save(path)
    workbook.close()

    problems = rejected(engine, "subjects", path, sheet="经营主体")
    assert [(p.row, p.column, p.reason) for p in problems] == [
        (
            5,
            "*统一社会信用代码",
            "9.14401112312346e+17 was typed as a number and has lost digits; format the column as text and type it again",
        ),
        (5, "成立日期", "expected a date, got a date-time 2019-04-01T10:30:00"),
    ]
    result = run(engine, "subjects", path, sheet="经营主体", skip_invalid=True)
    assert (result.inserted, result.rejected) == (2, 1)
    stored = {r["uscc"]: r for r in rows_of(engine, "subject")}
    assert stored["91440111231234567N"]["registered_on"] == dt.date(2019, 4, 1)
    assert stored["91440111231234567N"]["region"] == "440111003"
    assert stored["91440111231234567N"]["whitelist"] is True


def test_xlsx_first_sheet_by_default_and_unknown_sheet(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "s.xlsx"
    workbook = Workbook()
    workbook.active.append(SUBJECT_HEADER)
    workbook.active.append(GOOD_SUBJECT)
    workbook.save(path)
    workbook.close()
    assert run(engine, "subjects", path).inserted == 1
    assert (
        only(rejected(engine, "subjects", path, sheet="Sheet9")).reason
        == "no sheet named 'Sheet9'; the sheets are: Sheet"
    )


def test_not_really_an_xlsx(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "s.xlsx"
    path.write_text("uscc,name\n", encoding="utf-8")
    assert only(rejected(engine, "subjects", path)).reason.startswith("not a readable .xlsx workbook (")


def test_jsonl_reports_line_numbers(subjects: sa.Engine, tmp_path: Path) -> None:
    lines = [
        json.dumps({"ticket_no": "12315-1", "uscc": GOOD_SUBJECT[0], "received_on": "2024-01-02"}),
        "",
        json.dumps({"ticket_no": "12315-2", "uscc": GOOD_SUBJECT[0], "received_on": "2024-13-02"}),
        '{"ticket_no": "12315-3", ',
        json.dumps(["not", "an", "object"]),
        json.dumps({"ticket_no": "12315-4", "uscc": GOOD_SUBJECT[0], "received_on": "2024-01-05", "verifed": "是"}),
    ]
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert [(p.row, p.column, p.reason) for p in rejected(subjects, "complaints", path)] == [
        (3, "received_on", "'2024-13-02' is not a real date"),
        (4, "", "not valid JSON (Expecting property name enclosed in double quotes at character 27)"),
        (5, "", "expected a JSON object {...} on each line, got list"),
        (6, "verifed", "unknown column 'verifed' for complaints; did you mean 'verified'?"),
    ]
    result = run(subjects, "complaints", path, skip_invalid=True)
    assert (result.rows, result.inserted, result.rejected) == (5, 1, 4)
    with open(str(result.rejects_file), encoding="utf-8-sig", newline="") as f:
        back = list(csv.reader(f))
    assert back[0] == [*kinds.get("complaints").fields, "行号", "原因"]
    assert [r[-2] for r in back[1:]] == ["3", "4", "5", "6"]


def test_parquet_round_trip(subjects: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "food.parquet"
    pl.DataFrame(
        {
            "licence_no": ["JY24401030123456", "JY14452030034567"],
            "uscc": [GOOD_SUBJECT[0], "92445203MA4X3K5P1X"],
            "licence_kind": ["餐饮服务", "trade"],
            "format": ["餐馆", "grocery"],
            "static_score": [22.0, 8.0],
            "dynamic_score": [18.5, 31.0],
        }
    ).write_parquet(path)
    result = run(subjects, "food", path)
    assert (result.inserted, result.rejected) == (2, 0)
    assert run(subjects, "food", path).unchanged == 2
    assert {r["format"] for r in rows_of(subjects, "food_business")} == {"restaurant", "grocery"}


def test_region_parent_may_be_an_earlier_row_not_a_later_one(engine: sa.Engine, tmp_path: Path) -> None:
    assert run(engine, "regions", fixture("regions"), batch_size=1).inserted == 3
    path = write_csv(
        tmp_path / "r.csv",
        [
            ["code", "name", "parent", "level"],
            ["445281001", "东山街道", "445281", "township"],
            ["445281", "普宁市", "445200", "county"],
        ],
    )
    assert only(rejected(engine, "regions", path)).reason == (
        "unknown region code (区划代码) '445281': not in the store or on an earlier row; "
        "import regions first (`suijian import regions FILE`)"
    )


def test_items_target_must_be_a_json_object(engine: sa.Engine, tmp_path: Path) -> None:
    with fixture("items").open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    rows[1][6] = "industry=H62"
    rows[2][6] = "[1, 2]"
    problems = rejected(engine, "items", write_csv(tmp_path / "i.csv", rows))
    assert [(p.row, p.column, p.reason) for p in problems] == [
        (2, "检查对象", '\'industry=H62\' is not JSON; write an object such as {"industry": ["H62"]}'),
        (3, "检查对象", "'[1, 2]' is not a JSON object {...}"),
    ]


def test_store_unchanged_by_rejected_update(subjects: sa.Engine, tmp_path: Path) -> None:
    before = rows_of(subjects, "subject")
    renamed = [GOOD_SUBJECT[0], "新名称", *GOOD_SUBJECT[2:]]
    rejected(subjects, "subjects", write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, renamed, [*OTHER_SUBJECT[:5], "x"]]))
    assert rows_of(subjects, "subject") == before


# ── property: any text as a CSV file of any kind is imported or refused with our error, nothing else ────
_cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            " ",
            "是",
            "否",
            "2024-02-30",
            "2020/1/5",
            "企业",
            "440103001",
            GOOD_SUBJECT[0],
            "1e309",
            "-1",
            "nan",
            "{}",
            "9" * 25,
        ]
    ),
)
_CSV_FIXTURES = sorted(p.stem for p in FIXTURES.glob("*.csv"))


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[str, str]:
    """(kind, text): arbitrary text, a real header over random cells, or a real file with some cells spoiled."""
    shape = draw(st.sampled_from(["text", "header", "spoiled"]))
    if shape == "spoiled":
        name = draw(st.sampled_from(_CSV_FIXTURES))
        with fixture(name).open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
        for _ in range(draw(st.integers(1, 3))):
            r = draw(st.integers(0, len(rows) - 1))
            c = draw(st.integers(0, len(rows[r]) - 1))
            rows[r][c] = draw(_cells)
        if draw(st.booleans()):
            rows.append(rows[draw(st.integers(1, len(rows) - 1))])
        return name, _csv_text(rows)
    kind = kinds.get(draw(st.sampled_from(sorted(kinds.KINDS))))
    if shape == "text":
        return kind.name, draw(st.text(max_size=200))
    names = [*kind.fields, *(kind.title(f) for f in kind.fields)]
    header = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(kind.fields) + 1))
    rows = draw(st.lists(st.lists(_cells, min_size=len(header), max_size=len(header) + 1), max_size=4))
    return kind.name, _csv_text([header, *rows])


@pytest.fixture
def loaded(engine: sa.Engine) -> sa.Engine:
    """A store holding every fixture file, so spoiled copies of them meet real keys and references."""
    for name in ORDER:
        run(engine, name, fixture(name))
    return engine


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=csv_files(), skip=st.booleans())
def test_any_text_as_csv_imports_or_raises_our_error(
    loaded: sa.Engine, tmp_path: Path, case: tuple[str, str], skip: bool
) -> None:
    kind, text = case
    path = tmp_path / "any.csv"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    before = counts(loaded)
    try:
        result = run(loaded, kind, path, skip_invalid=skip)
    except SuijianError:
        assert counts(loaded) == before
    else:
        assert result.rows == result.accepted + result.rejected
        assert skip or result.rejected == 0
    finally:
        path.unlink()
        (tmp_path / "any.rejects.csv").unlink(missing_ok=True)
