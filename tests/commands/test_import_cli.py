"""`suijian import` through click's runner: exact output, exit codes, --json, --skip-invalid, on both stores."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import Workbook

from cli import suijian
from entities import store

FIXTURES = Path(__file__).parent.parent / "fixtures" / "import"
HEADER = ["统一社会信用代码", "名称", "主体类型", "行业代码", "所在区域", "成立日期"]
GOOD = ["91440103MA59C8QK3L", "广州市荔湾区陶陶居餐饮管理有限公司", "企业", "H6210", "440103001", "2017-08-15"]


@pytest.fixture
def db(store_url: str) -> str:
    """A store as `suijian init` leaves it: the schema and the built-in regions."""
    engine = store.make_engine(store_url)
    store.initialise(engine)
    engine.dispose()
    return store_url


def invoke(*args: str) -> Result:
    return CliRunner().invoke(suijian, list(args))


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_help_has_an_example_per_format() -> None:
    result = invoke("import", "--help")
    assert result.exit_code == 0
    for line in (
        "suijian import subjects 经营主体.csv",
        "suijian import subjects 经营主体-gbk.csv --encoding gbk",
        "suijian import equipment 特种设备台账.xlsx --sheet 电梯",
        "suijian import penalties penalties.jsonl --json",
        "suijian import results results.parquet --skip-invalid",
    ):
        assert line in result.output
    assert "  subjects    经营主体" in result.output
    assert "--skip-invalid" in result.output and "--encoding [utf-8|gbk|gb18030]" in result.output


def test_import_then_reimport_says_nothing_changed(db: str) -> None:
    path = str(FIXTURES / "subjects.csv")
    first = invoke("import", "subjects", path, "--db", db)
    assert (first.exit_code, first.stderr) == (0, "")
    assert first.stdout == f"Imported subjects from {path}: 7 row(s) read; 7 new, 0 updated, 0 unchanged.\n"
    second = invoke("import", "subjects", path, "--db", db)
    assert second.exit_code == 0
    assert re.fullmatch(
        re.escape(f"Imported subjects from {path}: 7 row(s) read; 0 new, 0 updated, 7 unchanged; nothing changed")
        + r" \(the same file was imported on \d{4}-\d\d-\d\d \d\d:\d\d\)\.\n",
        second.stdout,
    )


def test_bad_rows_print_one_line_each_then_a_summary(db: str, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "s.csv",
        [HEADER, ["91440103MA59C8QK3A", *GOOD[1:]], [*GOOD[:2], "公司", *GOOD[3:]], [*GOOD[:5], "2017-02-30"]],
    )
    result = invoke("import", "subjects", str(path), "--db", db)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a clean exit, no traceback
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}:2 [统一社会信用代码]: USCC '91440103MA59C8QK3A' fails its check digit (the 18th character would be 'L')",
        f"{path}:3 [主体类型]: unknown 主体类型 '公司'; allowed: enterprise (企业), individual (个体工商户), "
        "cooperative (农民专业合作社), other (其他)",
        f"{path}:4 [成立日期]: '2017-02-30' is not a real date",
        f"Error: 3 problem(s) in 3 row(s) of {path}; nothing was written "
        "(fix them, or pass --skip-invalid to import the good rows)",
    ]
    # Nothing was written: the fixture's seven subjects (one of them GOOD) are all new afterwards.
    assert "7 new, 0 updated" in invoke("import", "subjects", str(FIXTURES / "subjects.csv"), "--db", db).stdout


def test_long_problem_lists_are_capped(db: str, tmp_path: Path) -> None:
    rows = [[*GOOD[:5], f"2017-02-{30 + i % 2}"] for i in range(30)]
    result = invoke("import", "subjects", str(write_csv(tmp_path / "s.csv", [HEADER, *rows])), "--db", db)
    lines = result.stderr.splitlines()
    assert result.exit_code == 1 and len(lines) == 22
    assert lines[20] == "… and 10 more"
    assert lines[21].startswith("Error: 30 problem(s) in 30 row(s) of ")


def test_file_problems(db: str, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.csv")
    result = invoke("import", "subjects", missing, "--db", db)
    assert result.exit_code == 1
    assert result.stderr == (
        f"{missing}: no such file; check the path\nError: {missing} cannot be imported as subjects; nothing was written\n"
    )
    gbk = write_csv(tmp_path / "gbk.csv", [HEADER, GOOD], encoding="gbk")
    result = invoke("import", "subjects", str(gbk), "--db", db)
    assert result.stderr.splitlines()[0] == (
        f"{gbk}:1: not UTF-8 (byte 0xc9 is not valid UTF-8); the file looks like GBK; re-run with --encoding gbk"
    )
    result = invoke("import", "subjects", str(gbk), "--db", db, "--encoding", "gbk")
    assert (result.exit_code, result.stdout) == (
        0,
        f"Imported subjects from {gbk}: 1 row(s) read; 1 new, 0 updated, 0 unchanged.\n",
    )


def test_json_document_on_success_and_on_rejection(db: str, tmp_path: Path) -> None:
    ok = invoke("import", "subjects", str(FIXTURES / "subjects.csv"), "--db", db, "--json")
    assert ok.exit_code == 0
    document = json.loads(ok.stdout)
    assert {k: document[k] for k in ("ok", "kind", "rows", "new", "updated", "unchanged", "rejected", "problems")} == {
        "ok": True,
        "kind": "subjects",
        "rows": 7,
        "new": 7,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "problems": [],
    }
    path = write_csv(tmp_path / "s.csv", [HEADER, [*GOOD[:5], "2017-02-30"]])
    bad = invoke("import", "subjects", str(path), "--db", db, "--json")
    assert bad.exit_code == 1
    document = json.loads(bad.stdout)
    assert (document["ok"], document["written"]) == (False, False)
    assert document["problems"] == [
        {"file": str(path), "row": 2, "column": "成立日期", "reason": "'2017-02-30' is not a real date"}
    ]
    assert document["error"]["code"] == "import_rejected"
    assert document["error"]["message"].startswith("1 problem(s) in 1 row(s)")
    assert bad.stderr == ""  # with --json, stdout's one document says it all


def test_skip_invalid_reports_and_writes_rejects(db: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "subjects.csv", [HEADER, GOOD, [*GOOD[:5], "2017-02-30"]])
    result = invoke("import", "subjects", str(path), "--db", db, "--skip-invalid")
    rejects = tmp_path / "subjects.rejects.csv"
    assert result.exit_code == 0
    assert result.stderr == f"{path}:3 [成立日期]: '2017-02-30' is not a real date\n"
    assert result.stdout == (
        f"Imported subjects from {path}: 2 row(s) read; 1 new, 0 updated, 0 unchanged; 1 rejected, written to {rejects}.\n"
    )
    with rejects.open(encoding="utf-8-sig", newline="") as f:
        assert list(csv.reader(f)) == [
            [*HEADER, "行号", "原因"],
            [*GOOD[:5], "2017-02-30", "3", "[成立日期] '2017-02-30' is not a real date"],
        ]
    everything_bad = write_csv(tmp_path / "bad.csv", [HEADER, [*GOOD[:5], "x"]])
    result = invoke("import", "subjects", str(everything_bad), "--db", db, "--skip-invalid")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"Error: every row of {everything_bad} was rejected; nothing was written (see {tmp_path / 'bad.rejects.csv'})"
    )


def test_xlsx_sheet_option(db: str, tmp_path: Path) -> None:
    path = tmp_path / "台账.xlsx"
    workbook = Workbook()
    workbook.active.title = "封面"
    sheet = workbook.create_sheet("主体")
    sheet.append(HEADER)
    sheet.append(GOOD)
    workbook.save(path)
    workbook.close()
    result = invoke("import", "subjects", str(path), "--db", db, "--sheet", "主体")
    assert result.stdout == f"Imported subjects from {path}: 1 row(s) read; 1 new, 0 updated, 0 unchanged.\n"
    result = invoke("import", "subjects", str(path), "--db", db)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"{path}: sheet '封面' is empty; expected a header row, then one row per record "
        "(the sheets are: 封面, 主体; choose one with --sheet)"
    )


def test_store_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    result = invoke("import", "subjects", str(FIXTURES / "subjects.csv"), "--db", f"sqlite:///{missing}")
    assert result.exit_code == 1
    assert result.stderr == f"Error: no store at {missing}; create it with `suijian init` (or pass --db URL)\n"


def test_unknown_kind_is_a_usage_error() -> None:
    result = invoke("import", "subjectz", "x.csv")
    assert result.exit_code == 2
    assert "Invalid value for 'KIND': 'subjectz' is not one of 'regions', 'subjects'," in result.stderr
