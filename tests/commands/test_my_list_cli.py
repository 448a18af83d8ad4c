""" "My list" through the CLI: `tasks mine`, `tasks export --week/--inspector ACCOUNT`, `tasks ics`, on a small store.

The store holds the fixture subjects and check items, a roster in the new format (weekly capacity, 登录账号) and two
plans written as a release before migration 0006 left them (a plan row, no visit rows): one with a schedule (the
visits carry scheduled_on and due_on, as fitted plans do) and one in the suijian.plan/1 format. The first command
that needs the visit rows builds them from the stored document.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from engine import planning
from engine.plan import InspectorLoad, Period, Plan, PlanPolicy, Visit, VisitItem
from entities import store
from tests.helpers import run_cli

FIXTURES = Path(__file__).parent.parent / "fixtures" / "import"
CREATED = dt.datetime(2026, 1, 5, 1, 0)
QUXI = "揭东区市场监督管理局曲溪市场监督管理所"
ROSTER = [
    [
        "人员编号",
        "姓名",
        "所属单位",
        "所在区域",
        "执法证号",
        "资质专长",
        "年度可承担检查户次",
        "每周可承担检查户次",
        "登录账号",
    ],
    ["JD0005", "林少鹏", QUXI, "445203", "44520320150005", "登记注册;食品", "70", "3", "linsp"],
    ["JD0006", "陈大文", QUXI, "445203", "44520320150006", "食品", "60", "", "chendw"],
    [
        "LW0012",
        "陈志强",
        "荔湾区市场监督管理局沙面市场监督管理所",
        "440103",
        "44010320190012",
        "食品",
        "80",
        "4",
        "chenzq",
    ],
    ["ZJ0001", "吴卫东", "广东省特种设备检测研究院揭阳检测院", "445203", "", "特种设备", "20", "", ""],
]


def _visit(
    vid: str, uscc: str, region: str, item: str, team: tuple[str, ...], day: str | None, due: str | None
) -> Visit:
    return Visit(
        id=vid,
        uscc=uscc,
        region=region,
        items=(VisitItem(item, drawn=True, mandatory=False, stratum=f"{region[:6]}/A"),),
        team=team,
        lead=team[0],
        experts=(),
        due_from=dt.date(2026, 1, 1),
        due_to=dt.date(2026, 12, 31),
        priority=1,
        risk=None,
        scheduled_on=None if day is None else dt.date.fromisoformat(day),
        due_on=None if due is None else dt.date.fromisoformat(due),
    )


def _plan(scheduled: bool) -> Plan:
    def when(day: str, due: str) -> tuple[str | None, str | None]:
        return (day, due) if scheduled else (None, None)

    visits = (
        _visit(
            "91445203MA51Q0TR87",
            "91445203MA51Q0TR87",
            "445203001",
            "GD-DJ-010",
            ("JD0005", "JD0006"),
            *when("2026-03-04", "2026-03-31"),
        ),
        _visit(
            "93445203MA52XQ0H16",
            "93445203MA52XQ0H16",
            "445203003",
            "GD-DJ-010",
            ("JD0006", "JD0005"),
            *when("2026-03-02", "2026-03-31"),
        ),
        _visit(
            "91445203MA51Q0TR87#2",
            "91445203MA51Q0TR87",
            "445203001",
            "GD-SC-001",
            ("JD0005", "JD0006"),
            *when("2026-04-08", "2026-04-30"),
        ),
        _visit(
            "91440103MA59C8QK3L",
            "91440103MA59C8QK3L",
            "440103001",
            "GD-SC-001",
            ("LW0012", "JD0006"),
            *when("2026-03-05", "2026-03-31"),
        ),
    )
    loads = tuple(
        InspectorLoad(i, expert=i.startswith("ZJ"), capacity=60, visits=sum(i in v.team for v in visits), leads=0)
        for i in ("JD0005", "JD0006", "LW0012", "ZJ0001")
    )
    return Plan(
        seed="38147205519264810375",
        teams_seed="38147205519264810375",
        period=Period.year(2026),
        as_of=dt.date(2025, 12, 31),
        regions=(),
        policy=PlanPolicy(),
        items=(),
        visits=visits,
        team_load=loads,
        uncovered=(),
        unstaffed=(),
    )


def _store_plan(url: str, plan: Plan, created: dt.datetime) -> str:
    """A plan row as an earlier release committed it: the document and its hash, no visit rows."""
    plan_id, text, digest = planning.plan_id_of(plan)
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            store.bulk_insert(
                conn,
                "plan",
                [
                    {
                        "id": plan_id,
                        "regions": "*",
                        "period": "2026",
                        "period_start": dt.date(2026, 1, 1),
                        "period_end": dt.date(2026, 12, 31),
                        "as_of": dt.date(2025, 12, 31),
                        "seed": plan.seed,
                        "grade_run_id": "G20251231-test-0001",
                        "pack_hash": "0" * 64,
                        "visits": len(plan.visits),
                        "sha256": digest,
                        "document": zlib.compress(text.encode("utf-8")),
                        "created_at": created,
                    }
                ],
            )
    finally:
        engine.dispose()
    return plan_id


@pytest.fixture
def world(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, str]:
    """(store URL, id of the plan without a schedule, id of the newest plan: the scheduled one)."""
    monkeypatch.chdir(tmp_path)
    roster = tmp_path / "roster.csv"
    with roster.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(ROSTER)
    for kind, path in (
        ("subjects", FIXTURES / "subjects.csv"),
        ("items", FIXTURES / "items.csv"),
        ("inspectors", roster),
    ):
        code, _, err = run_cli("import", kind, str(path), "--db", store_url)
        assert code == 0, err
    old = _store_plan(store_url, _plan(scheduled=False), CREATED - dt.timedelta(days=1))
    new = _store_plan(store_url, _plan(scheduled=True), CREATED)
    return store_url, old, new


def visit_rows(url: str) -> int:
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            return store.count_rows(conn, "plan_visit")
    finally:
        engine.dispose()


def test_my_week_in_date_order(world: tuple[str, str, str]) -> None:
    url, _, plan = world
    assert visit_rows(url) == 0
    code, out, err = run_cli("tasks", "mine", "--user", "linsp", "--week", "2026-W10", "--db", url)
    assert (code, err) == (0, ""), err
    assert out == "\n".join(
        [
            f"林少鹏（JD0005） · 计划 {plan} · 2026-W10（2026-03-02 至 2026-03-08）：2 次检查",
            "┏━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┓",
            "┃ 日期       ┃ 街镇     ┃ 主体                      ┃ 检查事项         ┃ 检查组                 ┃ 截止       ┃",
            "┡━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━┩",
            "│ 2026-03-02 │ 玉滘镇   │ 揭东区玉滘镇青梅种植专业  │ 企业公示信息抽查 │ 陈大文（组长）、林少鹏 │ 2026-03-31 │",
            "│            │          │ 合作社                    │                  │                        │            │",
            "│ 2026-03-04 │ 曲溪街道 │ 揭阳市揭东区粤东五金制品  │ 企业公示信息抽查 │ 林少鹏（组长）、陈大文 │ 2026-03-31 │",
            "│            │          │ 有限公司                  │                  │                        │            │",
            "└────────────┴──────────┴───────────────────────────┴──────────────────┴────────────────────────┴────────────┘",
            "",
        ]
    )
    assert visit_rows(url) == 4  # built from the stored document on first use


def test_my_month_as_json_and_the_user_from_the_environment(
    world: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _, plan = world
    monkeypatch.setenv("SUIJIAN_USER", "linsp")
    monkeypatch.setenv("SUIJIAN_ROLE", "inspector")
    code, out, err = run_cli("tasks", "mine", "--month", "2026-04", "--json", "--db", url)
    assert code == 0, err
    doc = json.loads(out)
    assert (
        doc["plan_id"] == plan
        and doc["user"] == "linsp"
        and doc["window"]
        == {
            "month": "2026-04",
            "from": "2026-04-01",
            "to": "2026-04-30",
        }
    )
    assert doc["visits"] == [
        {
            "visit": "91445203MA51Q0TR87#2",
            "scheduled_on": "2026-04-08",
            "due_on": "2026-04-30",
            "township": "曲溪街道",
            "region": "445203001",
            "uscc": "91445203MA51Q0TR87",
            "subject": "揭阳市揭东区粤东五金制品有限公司",
            "items": [{"code": "GD-SC-001", "name": "餐饮服务食品安全监督检查"}],
            "team": [{"id": "JD0005", "name": "林少鹏"}, {"id": "JD0006", "name": "陈大文"}],
            "lead": "JD0005",
            "status": "planned",
        }
    ]
    code, out, _ = run_cli("tasks", "mine", "--json", "--db", url)
    assert [v["scheduled_on"] for v in json.loads(out)["visits"]] == ["2026-03-02", "2026-03-04", "2026-04-08"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["--user", "nobody"],
            1,
            "Error: user 'nobody' is linked to no inspector: add 登录账号 to the roster (a 登录账号 column with "
            "'nobody' on your row, `suijian import inspectors FILE`)\n",
        ),
        (
            ["--user", "linsp", "--week", "2026-10"],
            1,
            "Error: week '2026-10' is not an ISO week such as 2026-W10 (weeks 01–52, or 53 in a long year)\n",
        ),
        (
            ["--user", "linsp", "--week", "2025-W53"],  # 2025 has 52 ISO weeks (2026 has 53)
            1,
            "Error: week '2025-W53' is not an ISO week such as 2026-W10 (weeks 01–52, or 53 in a long year)\n",
        ),
        (["--user", "linsp", "--month", "2026-13"], 1, "Error: month '2026-13' is not a month such as 2026-03\n"),
        (
            ["--user", "linsp", "--week", "2026-W10", "--month", "2026-03"],
            2,
            "Error: give --week or --month, not both\n",
        ),
        (
            ["--user", "linsp", "--plan", "P2026-0000000000"],
            1,
            "Error: no plan P2026-0000000000; make one with `suijian plan`\n",
        ),
    ],
)
def test_bad_my_list_requests_are_one_line(
    world: tuple[str, str, str], args: list[str], code: int, message: str
) -> None:
    url, _, _ = world
    got, out, err = run_cli("tasks", "mine", *args, "--db", url)
    assert (got, out) == (code, "")
    # Exit 1: the one line. Exit 2 (a usage error) comes after click's usage lines, as for every command.
    assert err == message if code == 1 else err.endswith("\n\n" + message)


def test_a_plan_without_a_schedule_lists_by_due_date_but_not_by_week(world: tuple[str, str, str]) -> None:
    url, old, _ = world
    code, out, err = run_cli("tasks", "mine", "--user", "chenzq", "--plan", old, "--db", url)
    assert code == 0, err
    assert out.splitlines()[0] == f"陈志强（LW0012） · 计划 {old}：1 次检查"
    assert "│ 未排期 │ 沙面街道 │ 广州市荔湾区陶陶居餐饮 │" in out and "│ 2026-12-31 │" in out
    assert run_cli("tasks", "mine", "--user", "chenzq", "--plan", old, "--week", "2026-W10", "--db", url) == (
        1,
        "",
        f"Error: plan {old} has no schedule (a suijian.plan/1 plan: its visits have no scheduled date), so it cannot "
        "be listed by week; drop --week, or use a scheduled plan\n",
    )
    code, _, err = run_cli("tasks", "export", "--plan", old, "--month", "2026-03", "--format", "csv", "--db", url)
    assert (code, err) == (
        1,
        f"Error: plan {old} has no schedule (a suijian.plan/1 plan: its visits have no scheduled date), so it cannot "
        "be listed by month; drop --month, or use a scheduled plan\n",
    )


def test_export_by_week_and_by_account(world: tuple[str, str, str], tmp_path: Path) -> None:
    url, _, plan = world
    code, out, err = run_cli(
        "tasks", "export", "--inspector", "linsp", "--week", "2026-W10", "--format", "csv", "--out", "-", "--db", url
    )
    assert code == 0, err
    assert err == f"Wrote 2 visits of plan {plan} to stdout (" + err.split("(", 1)[1]
    rows = list(csv.DictReader(io.StringIO(out.lstrip("\ufeff"))))
    assert [(r["检查编号"], r["组长"]) for r in rows] == [
        ("91445203MA51Q0TR87", "林少鹏（JD0005）"),
        ("93445203MA52XQ0H16", "陈大文（JD0006）"),
    ]
    by_id = run_cli(
        "tasks", "export", "--inspector", "JD0005", "--week", "2026-W10", "--format", "csv", "--out", "-", "--db", url
    )
    assert by_id[1] == out  # the account and the roster id name the same inspector
    code, out, err = run_cli("tasks", "export", "--week", "2026-W10", "--format", "json", "--json", "--db", url)
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["visits"], doc["window"], doc["out"]) == (
        3,
        {"week": "2026-W10", "from": "2026-03-02", "to": "2026-03-08"},
        f"tasks-{plan}-2026-W10.json",
    )
    assert len(json.loads((tmp_path / doc["out"]).read_text(encoding="utf-8"))) == 3
    assert run_cli("tasks", "export", "--inspector", "nobody", "--format", "csv", "--db", url) == (
        1,
        "",
        "Error: unknown inspector nobody: not on this plan's roster\n",
    )


def test_calendar_file_parses_back(
    world: tuple[str, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _, plan = world
    target = tmp_path / "林少鹏.ics"
    code, out, err = run_cli("tasks", "ics", "--user", "linsp", "--out", str(target), "--db", url)
    assert code == 0, err
    data = target.read_bytes()
    assert out == f"Wrote 3 visits of 林少鹏（JD0005） in plan {plan} to {target} ({len(data):,} bytes).\n"
    cal = Calendar.from_ical(data)
    assert str(cal["x-wr-calname"]) == f"随检 林少鹏 · {plan}"
    events = list(cal.walk("VEVENT"))
    assert [(e.decoded("dtstart"), e.decoded("dtend")) for e in events] == [
        (dt.date(2026, 3, 2), dt.date(2026, 3, 3)),
        (dt.date(2026, 3, 4), dt.date(2026, 3, 5)),
        (dt.date(2026, 4, 8), dt.date(2026, 4, 9)),
    ]
    first = events[0]
    assert str(first["uid"]) == f"93445203MA52XQ0H16@{plan}.suijian"
    assert str(first["summary"]) == "检查 揭东区玉滘镇青梅种植专业合作社：企业公示信息抽查"
    assert str(first["location"]) == "玉滘镇"
    assert str(first["description"]).splitlines() == [
        "统一社会信用代码 93445203MA52XQ0H16",
        "截止 2026-03-31",
        "检查事项 GD-DJ-010 企业公示信息抽查",
        "检查组 JD0006（组长）、JD0005",
    ]
    assert first.decoded("dtstamp") == CREATED.replace(tzinfo=dt.UTC)  # when the plan was committed, not the clock
    # --mine is the user suijian runs as; the same plan gives the same bytes.
    monkeypatch.setenv("SUIJIAN_USER", "linsp")
    again = tmp_path / "mine.ics"
    assert run_cli("tasks", "ics", "--mine", "--out", str(again), "--db", url)[0] == 0
    assert again.read_bytes() == data
    code, out, err = run_cli("tasks", "ics", "--inspector", "LW0012", "--json", "--db", url)
    assert code == 0, err
    assert json.loads(out) | {"bytes": 0} == {
        "ok": True,
        "plan_id": plan,
        "inspector": "LW0012",
        "visits": 1,
        "out": f"calendar-{plan}-LW0012.ics",
        "bytes": 0,
    }


def test_bad_calendar_requests(world: tuple[str, str, str]) -> None:
    url, old, _ = world
    code, out, err = run_cli("tasks", "ics", "--db", url)
    assert (code, out) == (2, "")
    assert err.endswith("\n\nError: say whose calendar: give exactly one of --inspector ID, --user NAME or --mine\n")
    assert run_cli("tasks", "ics", "--user", "linsp", "--mine", "--db", url)[0] == 2
    assert run_cli("tasks", "ics", "--inspector", "XX99", "--db", url) == (
        1,
        "",
        "Error: unknown inspector XX99: neither a roster id nor a 登录账号\n",
    )
    assert run_cli("tasks", "ics", "--user", "linsp", "--plan", old, "--db", url) == (
        1,
        "",
        f"Error: plan {old} has no schedule (a suijian.plan/1 plan: its visits have no scheduled date), so there is "
        "nothing to put in a calendar; use a scheduled plan\n",
    )


def test_inspectors_list(world: tuple[str, str, str]) -> None:
    url, _, _ = world
    code, out, err = run_cli("inspectors", "list", "--unit", QUXI, "--db", url)
    assert (code, err) == (0, "")
    assert out == "\n".join(
        [
            f"{QUXI}（2 人）",
            "┏━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━┓",
            "┃ 编号   ┃ 姓名   ┃ 资质           ┃ 年/周容量 ┃ 账号   ┃ 固定检查组 ┃",
            "┡━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━┩",
            "│ JD0005 │ 林少鹏 │ 食品、登记注册 │    70 / 3 │ linsp  │ —          │",
            "│ JD0006 │ 陈大文 │ 食品           │    60 / — │ chendw │ —          │",
            "└────────┴────────┴────────────────┴───────────┴────────┴────────────┘",
            "2 inspector(s) in 1 unit(s); 2 linked to an account (登录账号). Weekly capacity —: derived from the yearly one.",
            "",
        ]
    )
    code, out, _ = run_cli("inspectors", "list", "--json", "--db", url)
    people = json.loads(out)["inspectors"]
    assert [(p["id"], p["user_name"], p["weekly_capacity"], p["certified"]) for p in people] == [
        ("ZJ0001", None, None, False),
        ("JD0005", "linsp", 3, True),
        ("JD0006", "chendw", None, True),
        ("LW0012", "chenzq", 4, True),
    ]
    assert run_cli("inspectors", "list", "--unit", "某所", "--db", url) == (
        1,
        "",
        "Error: no inspector of unit '某所' on the roster; `suijian inspectors list` shows the units\n",
    )


def test_the_demo_roster_gives_every_inspector_a_list(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's roster links each inspector id as its account, and a committed plan has its visit rows at once."""
    from tests.helpers import load_demo_store

    monkeypatch.chdir(tmp_path)
    load_demo_store(store_url, 1500)
    assert run_cli("grade", "--as-of", "2025-12-31", "--db", store_url)[0] == 0
    code, out, err = run_cli(
        "plan",
        "--as-of",
        "2025-12-31",
        "--period",
        "2026",
        "--seed",
        "38147205519264810375",
        "--json",
        "--db",
        store_url,
    )
    assert code == 0, err
    plan_id = json.loads(out)["plan_id"]
    assert visit_rows(store_url) == json.loads(out)["visits"]["planned"]  # written with the plan
    code, out, _ = run_cli("inspectors", "list", "--json", "--db", store_url)
    people = json.loads(out)["inspectors"]
    assert people and all(p["user_name"] == p["id"] and p["weekly_capacity"] >= 1 for p in people)
    engine = store.open_store(store_url)
    try:
        with engine.connect() as conn:
            _, plan = planning.load_plan(conn, plan_id)
            unit_names = set(conn.execute(sa.select(store.table("org_unit").c.name)).scalars())
    finally:
        engine.dispose()
    assert {p["unit"] for p in people} <= unit_names
    busiest = max(people, key=lambda p: sum(p["id"] in v.team for v in plan.visits))
    mine = [v.id for v in plan.visits if busiest["id"] in v.team]
    code, out, err = run_cli("tasks", "mine", "--user", busiest["id"], "--json", "--db", store_url)
    assert code == 0, err
    assert sorted(v["visit"] for v in json.loads(out)["visits"]) == sorted(mine) and mine
