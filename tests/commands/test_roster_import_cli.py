"""`suijian import inspectors` with the issue-13 columns and `suijian import units`: exact output, and one line per
bad row (nothing written) for a person linked to two inspectors, contradicting capacities, a unit serving no township
or a township that is not one, and a roster whose unit is not in the unit table."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import sqlalchemy as sa

from entities import store
from tests.helpers import read_store, run_cli

FIXTURES = Path(__file__).parent.parent / "fixtures" / "import"
HEAD = [
    "人员编号",
    "姓名",
    "所属单位",
    "所在区域",
    "执法证号",
    "年度可承担检查户次",
    "每周可承担检查户次",
    "登录账号",
    "固定检查组",
]
QUXI = "揭东区市场监督管理局曲溪市场监督管理所"
SHAMIAN = "荔湾区市场监督管理局沙面市场监督管理所"
JINGTAI = "白云区市场监督管理局景泰市场监督管理所"
INSTITUTE = "广东省特种设备检测研究院揭阳检测院"
NOTHING = "nothing was written (fix them, or pass --skip-invalid to import the good rows)"


def write(path: Path, rows: list[list[str]]) -> str:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return str(path)


def roster(conn: sa.Connection) -> list[tuple[object, ...]]:
    t = store.table("inspector")
    return [
        tuple(r)
        for r in conn.execute(
            sa.select(t.c.id, t.c.capacity, t.c.weekly_capacity, t.c.user_name, t.c.standing_team).order_by(t.c.id)
        )
    ]


def units(conn: sa.Connection) -> list[tuple[object, ...]]:
    t = store.table("org_unit")
    return [tuple(r) for r in conn.execute(sa.select(t).order_by(t.c.name))]


@pytest.fixture
def db(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The old-format roster of the import fixtures (no weekly capacity, no account): still valid."""
    monkeypatch.chdir(tmp_path)
    path = str(FIXTURES / "inspectors.csv")
    assert run_cli("import", "inspectors", path, "--db", store_url) == (
        0,
        f"Imported inspectors from {path}: 4 row(s) read; 4 new, 0 updated, 0 unchanged.\n",
        "",
    )
    assert read_store(store_url, roster) == [
        ("BY0031", 60, None, None, None),
        ("JD0005", 70, None, None, None),
        ("LW0012", 80, None, None, None),
        ("ZJ0001", 20, None, None, None),
    ]
    return store_url


def test_new_columns_are_imported_and_kept_when_a_file_leaves_them_out(db: str, tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.csv",
        [HEAD, ["JD0005", "林少鹏", QUXI, "445203", "44520320150005", "70", "3", "linsp", "曲溪一组"]],
    )
    assert run_cli("import", "inspectors", path, "--db", db)[1] == (
        f"Imported inspectors from {path}: 1 row(s) read; 0 new, 1 updated, 0 unchanged.\n"
    )
    old = str(FIXTURES / "inspectors.csv")  # the old format again: the columns it lacks keep their values
    code, out, _ = run_cli("import", "inspectors", old, "--db", db)
    assert code == 0
    assert out.startswith(
        f"Imported inspectors from {old}: 4 row(s) read; 0 new, 0 updated, 4 unchanged; nothing changed"
    )
    assert ("JD0005", 70, 3, "linsp", "曲溪一组") in read_store(db, roster)


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        (
            [
                ["JD0005", "林少鹏", QUXI, "445203", "44520320150005", "70", "", "linsp", ""],
                ["JD0006", "陈大文", QUXI, "445203", "44520320150006", "60", "", "linsp", ""],
            ],
            "r.csv:3 [登录账号]: 登录账号 'linsp' is also on row 2 (inspector JD0005): a person is linked to one "
            "inspector; keep it on one row",
        ),
        (
            [["JD0005", "林少鹏", QUXI, "445203", "44520320150005", "70", "0", "", ""]],
            "r.csv:2 [每周可承担检查户次]: 每周可承担检查户次 0 contradicts 年度可承担检查户次 70: leave it blank to "
            "derive it from the yearly capacity, or set both to 0 for someone not available this year",
        ),
        (
            [["JD0005", "林少鹏", QUXI, "445203", "44520320150005", "0", "2", "", ""]],
            "r.csv:2 [每周可承担检查户次]: 每周可承担检查户次 2 contradicts 年度可承担检查户次 0: leave it blank to "
            "derive it from the yearly capacity, or set both to 0 for someone not available this year",
        ),
    ],
)
def test_bad_roster_rows_are_one_line_each(db: str, tmp_path: Path, rows: list[list[str]], problem: str) -> None:
    before = read_store(db, roster)
    path = write(tmp_path / "r.csv", [HEAD, *rows])
    code, out, err = run_cli("import", "inspectors", path, "--db", db)
    assert (code, out) == (1, "")
    assert err == f"{problem}\nError: 1 problem(s) in 1 row(s) of {path}; {NOTHING}\n".replace("r.csv", path, 1)
    assert read_store(db, roster) == before


def test_an_account_moves_only_when_its_holder_lets_go_first(db: str, tmp_path: Path) -> None:
    first = write(
        tmp_path / "a.csv", [HEAD, ["JD0005", "林少鹏", QUXI, "445203", "44520320150005", "70", "", "zhang", ""]]
    )
    assert run_cli("import", "inspectors", first, "--db", db)[0] == 0
    steal = write(
        tmp_path / "b.csv", [HEAD, ["LW0012", "陈志强", SHAMIAN, "440103", "44010320190012", "80", "", "zhang", ""]]
    )
    assert run_cli("import", "inspectors", steal, "--db", db) == (
        1,
        "",
        f"{steal}:2 [登录账号]: 登录账号 'zhang' already links inspector JD0005 (林少鹏) in the store: a person is "
        "linked to one inspector; give JD0005 another 登录账号 (on an earlier row) or use another one\n"
        f"Error: 1 problem(s) in 1 row(s) of {steal}; {NOTHING}\n",
    )
    move = write(
        tmp_path / "c.csv",
        [
            HEAD,
            ["JD0005", "林少鹏", QUXI, "445203", "44520320150005", "70", "", "linsp", ""],
            ["LW0012", "陈志强", SHAMIAN, "440103", "44010320190012", "80", "", "zhang", ""],
        ],
    )
    assert run_cli("import", "inspectors", move, "--db", db)[0] == 0
    linked = {r[0]: r[3] for r in read_store(db, roster)}
    assert (linked["JD0005"], linked["LW0012"]) == ("linsp", "zhang")


UNITS = ["单位名称", "负责街镇", "承担抽查事项"]


def test_units_import_and_then_bind_the_roster(db: str, tmp_path: Path) -> None:
    short = write(tmp_path / "u1.csv", [UNITS, [QUXI, "445203001;445203002", ""], [SHAMIAN, "440103001", ""]])
    assert run_cli("import", "units", short, "--db", db) == (
        1,
        "",
        f"{short}: inspector BY0031 (黄丽华): unit '{JINGTAI}' is not in the unit table, so it serves no township; add "
        "the unit to the units file (an empty 负责街镇 means no township restriction) or correct 所属单位 (the unit "
        "table must name every inspector's unit once it has rows)\n"
        f"Error: {short} cannot be imported as units; nothing was written\n",
    )
    assert read_store(db, units) == []
    path = write(
        tmp_path / "u2.csv",
        [
            UNITS,
            [QUXI, "445203001;445203002", ""],
            [SHAMIAN, "440103001", ""],
            [JINGTAI, "440111003", ""],
            [INSTITUTE, "", ""],
        ],
    )
    assert run_cli("import", "units", path, "--db", db) == (
        0,
        f"Imported units from {path}: 4 row(s) read; 4 new, 0 updated, 0 unchanged.\n",
        "",
    )
    assert read_store(db, units)[0] == (INSTITUTE, [], [])
    newcomer = write(
        tmp_path / "r.csv",
        [HEAD, ["JD0009", "王五", "揭东区市场监督管理局新亨市场监督管理所", "445203", "", "60", "", "", ""]],
    )
    assert run_cli("import", "inspectors", newcomer, "--db", db) == (
        1,
        "",
        f"{newcomer}:2 [所属单位]: unknown unit (执法单位) '揭东区市场监督管理局新亨市场监督管理所': not in the store; "
        "add it to the units file and import that first (`suijian import units FILE`)\n"
        f"Error: 1 problem(s) in 1 row(s) of {newcomer}; {NOTHING}\n",
    )


def test_bad_unit_rows(db: str, tmp_path: Path) -> None:
    assert run_cli("import", "items", str(FIXTURES / "items.csv"), "--db", db)[0] == 0
    path = write(
        tmp_path / "u.csv",
        [UNITS, [QUXI, "445203001;445203999", ""], [SHAMIAN, "440103", ""], [JINGTAI, "440111003", "GD-SC-001;XX-01"]],
    )
    code, out, err = run_cli("import", "units", path, "--db", db)
    assert (code, out) == (1, "")
    hint = "list 9-digit 街镇 codes separated by ';' (import your regions first if they are not the built-in ones)"
    assert err.splitlines() == [
        f"{path}:2 [负责街镇]: 445203999 is not a township (街镇) in the region table; {hint}",
        f"{path}:3 [负责街镇]: 440103 is not a township (街镇) in the region table; {hint}",
        f"{path}:4 [承担抽查事项]: XX-01 is not a check item in the catalogue (`suijian import items FILE`)",
        f"Error: 3 problem(s) in 3 row(s) of {path}; {NOTHING}",
    ]
    assert read_store(db, units) == []
