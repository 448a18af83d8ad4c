"""Issue 14 items 1 and 3 through the CLI, on a store with a committed 2026Q1 plan and its visit rows:

- `tasks export --sheets inspector|unit`: one complete 检查结果 sheet per 组长 or 执法单位, filled in with openpyxl
  and read back by `results import` (every sheet), re-import changing nothing, bad workbooks refused in one line;
- re-checks (复查): a 责令改正 result → `followups propose` schedules a re-check visit (team, working day in the
  window, `recheck` ledger entry) → `tasks export` lists it marked 复查 → its result is recorded → it is gone from
  the export and `followups propose` sees the item as rechecked; a team rebuilt when a member has a new conflict;
  `audit verify` catches an edited re-check.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from engine.plan.calendar import WorkCalendar
from engine.results import task_sheet
from entities import store
from tests.helpers import run_cli
from tests.results_store import build, count, execute, link_inspector, query

Planned = tuple[str, str, list[dict[str, Any]]]


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[dict[str, Any]]]:
    directory = tmp_path_factory.mktemp("rechecks-store")
    url = f"sqlite:///{directory / 'store.db'}"
    engine = store.make_engine(url)
    store.initialise(engine)
    engine.dispose()
    mp = pytest.MonkeyPatch()
    mp.setenv("SUIJIAN_USER", "测试员 tester")
    mp.setenv("SUIJIAN_ROLE", "supervisor")
    try:
        plan_id, rows = build(url, subjects=2000)
    finally:
        mp.undo()
    return directory / "store.db", plan_id, rows


@pytest.fixture
def planned(template: tuple[Path, str, list[dict[str, Any]]], tmp_path: Path) -> Planned:
    source, plan_id, rows = template
    target = tmp_path / "store.db"
    shutil.copy(source, target)
    return f"sqlite:///{target}", plan_id, rows


def cli(*args: str) -> tuple[int, str, str]:
    return run_cli(*args)


def result_sheets(workbook: Any) -> list[str]:
    return [n for n in workbook.sheetnames if n not in task_sheet.NOT_RESULTS]


def fill_all(path: Path, out: Path, completed: dt.datetime = dt.datetime(2026, 3, 2)) -> int:
    """Fill every result sheet as inspectors would in Excel: a date cell and 未发现问题 from the dropdown."""
    workbook = load_workbook(path)
    visits = set()
    for name in result_sheets(workbook):
        sheet = workbook[name]
        headers = [c.value for c in sheet[1]]
        col = {h: headers.index(h) + 1 for h in headers}
        for row in range(2, sheet.max_row + 1):
            visits.add(sheet.cell(row, col["检查编号"]).value)
            sheet.cell(row, col["完成日期"]).value = completed
            sheet.cell(row, col["检查结果"]).value = "未发现问题"
    workbook.save(out)
    return len(visits)


# ── one sheet per inspector or unit ──────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("split", ["inspector", "unit"])
def test_split_workbook_round_trip(planned: Planned, tmp_path: Path, split: str) -> None:
    url, plan_id, rows = planned
    target = tmp_path / "tasks.xlsx"
    code, out, err = cli("tasks", "export", "--sheets", split, "--out", str(target), "--json", "--db", url)
    assert code == 0, err and json.loads(out)["sheets"] == split
    workbook = load_workbook(target)
    names = result_sheets(workbook)
    inspectors = {i: (n, u) for i, n, u in query(url, "SELECT id, name, unit FROM inspector")}
    leads = {r["lead"] for r in rows}
    if split == "inspector":
        assert sorted(names) == sorted(inspectors[lead][0] for lead in leads)  # demo names are unique
    else:
        units = sorted({inspectors[lead][1] for lead in leads})
        # The bureau's name every unit shares is left off the tabs (揭阳市揭东区市场监督管理局云路镇… → 云路镇…).
        assert sorted(names) == sorted(task_sheet.unit_tab_names(units).values())
        assert all(not n.startswith("揭阳市揭东区市场监督管理局") for n in names)
    assert workbook.sheetnames[0] == "检查任务" and workbook.sheetnames[-2:] == ["结果代码", "未能覆盖"]
    for name in names:
        sheet = workbook[name]
        assert sheet.auto_filter.ref == f"A1:R{sheet.max_row}"
        assert {dv.type for dv in sheet.data_validations.dataValidation} == {"list", "date"}
    filled = tmp_path / "filled.xlsx"
    visits = fill_all(target, filled)
    assert visits == len(rows)
    code, out, err = cli("results", "import", str(filled), "--recorded-on", "2026-03-04", "--db", url)
    assert code == 0, err
    items = sum(len(r["items"]) for r in rows)
    assert out.startswith(f"Read {items:,} row(s) of {filled}: {visits:,} visit result(s) recorded")
    assert count(url, "result_item") == items
    entries = count(url, "ledger")
    code, out, _ = cli("results", "import", str(filled), "--recorded-on", "2026-03-05", "--db", url)
    assert code == 0 and f"0 visit result(s) recorded (0 correction(s)), {visits:,} already recorded" in out
    assert count(url, "ledger") == entries


def test_split_workbook_bad_cases_are_one_line_and_write_nothing(planned: Planned, tmp_path: Path) -> None:
    url, _, _ = planned
    target = tmp_path / "tasks.xlsx"
    assert cli("tasks", "export", "--sheets", "inspector", "--out", str(target), "--db", url)[0] == 0
    filled = tmp_path / "filled.xlsx"
    fill_all(target, filled)
    names = result_sheets(load_workbook(filled))
    # A header edited on one inspector's sheet: the line names the sheet.
    workbook = load_workbook(filled)
    workbook[names[1]].cell(1, 12).value = "结果"
    edited = tmp_path / "edited.xlsx"
    workbook.save(edited)
    code, _, err = cli("results", "import", str(edited), "--db", url)
    assert code == 1 and err.startswith(f"Error: {edited}[{names[1]}]:1 [检查结果]: missing_header: no column 检查结果")
    assert len(err.splitlines()) == 1
    # The same visit filled in on two sheets.
    workbook = load_workbook(filled)
    first, second = workbook[names[0]], workbook[names[1]]
    second.append([c.value for c in first[2]])
    twice = tmp_path / "twice.xlsx"
    workbook.save(twice)
    code, _, err = cli("results", "import", str(twice), "--db", url)
    visit = first.cell(2, 2).value
    assert code == 1 and f"visit {visit} is also filled in on sheet {names[0]}; fill each visit in on one sheet" in err
    assert err.startswith(f"Error: {twice}[{names[1]}]:{second.max_row} [检查编号]: inconsistent_visit")
    # A truncated workbook.
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(filled.read_bytes()[: filled.stat().st_size // 2])
    code, _, err = cli("results", "import", str(cut), "--db", url)
    assert code == 1 and len(err.splitlines()) == 1 and "not a readable .xlsx workbook" in err
    assert count(url, "result_item") == count(url, "result_batch") == 0
    # --skip-invalid: the other sheets' visits are recorded, the twice-filled row goes to the rejects file.
    rejects = tmp_path / "rejects.csv"
    code, out, err = cli("results", "import", str(twice), "--skip-invalid", "--rejects", str(rejects), "--db", url)
    assert code == 0, err and "1 row(s) rejected" in out
    lines = list(csv.reader(io.StringIO(rejects.read_text(encoding="utf-8-sig"))))
    assert lines[0][:2] == ["工作表", "行号"] and lines[1][0] == names[1] and "inconsistent_visit" in lines[1][-1]
    # --sheets is an XLSX option.
    code, _, err = cli("tasks", "export", "--sheets", "unit", "--format", "csv", "--db", url)
    assert code == 2 and err.endswith(
        "\nError: --sheets unit splits an XLSX workbook; use --format xlsx (or drop --sheets)\n"
    )


# ── re-checks ────────────────────────────────────────────────────────────────────────────────────────────────


def _order(url: str, plan_id: str, visit: dict[str, Any]) -> None:
    """A finding with 责令改正 by 2026-03-13 on every item of the visit, completed 2026-03-02."""
    code, _, err = cli(
        "results", "record", "--plan", plan_id, "--visit", visit["visit_id"], "--code", "3",
        "--findings", "未按规定查验进货票据", "--measure", "责令改正", "--deadline", "2026-03-13",
        "--completed", "2026-03-02", "--recorded-on", "2026-03-03", "--db", url,
    )  # fmt: skip
    assert code == 0, err


def _propose(url: str, as_of: str) -> dict[str, Any]:
    code, out, err = cli("followups", "propose", "--as-of", as_of, "--json", "--db", url)
    assert code == 0, err
    return json.loads(out)


def test_recheck_is_scheduled_exported_recorded_and_then_gone(planned: Planned, tmp_path: Path) -> None:
    url, plan_id, rows = planned
    visit = next(r for r in rows if len(r["items"]) == 1 and r["scheduled_on"] is not None)
    item = visit["items"][0]
    _order(url, plan_id, visit)
    doc = _propose(url, "2026-03-16")
    (scheduled,) = doc["rechecks"]["scheduled"]
    calendar = WorkCalendar()
    earliest, latest = (
        calendar.add_working_days(dt.date(2026, 3, 13), 1),
        calendar.add_working_days(dt.date(2026, 3, 13), 10),
    )
    day = dt.date.fromisoformat(scheduled["scheduled_on"])
    assert earliest <= day <= latest and calendar.is_working_day(day) and day >= dt.date(2026, 3, 16)
    assert scheduled["team"] == visit["team"] and scheduled["team_rule"] == "original"
    assert scheduled["visit"] == f"{visit['visit_id']}/RC-{item}" and scheduled["of_visit"] == visit["visit_id"]
    # The plan's document and own rows are untouched: one new plan_visit row, under the same plan.
    assert count(url, "plan_visit") == len(rows) + 1 and count(url, "recheck_visit") == 1
    stored = query(
        url,
        "SELECT visit_id, uscc, region, team, lead, scheduled_on, due_on FROM plan_visit "
        "WHERE visit_id NOT IN (SELECT visit_id FROM recheck_visit) ORDER BY visit_id",
    )
    assert [(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6]) for r in stored] == sorted(
        (r["visit_id"], r["uscc"], r["region"], r["team"], r["lead"], str(r["scheduled_on"]), str(r["due_on"]))
        for r in rows
    )
    code, out, _ = cli("audit", "verify", "--db", url)
    assert code == 0 and "recheck 1" in out, out
    # Scheduling again changes nothing.
    assert _propose(url, "2026-03-17")["rechecks"] == {
        "run": None,
        "scheduled": [],
        "unstaffed": [],
        "ledger_seq": None,
    }

    # The export lists it, marked 复查, with the original visit, reason and basis.
    code, out, err = cli("tasks", "export", "--format", "csv", "--out", "-", "--db", url)
    assert code == 0, err and "and 1 re-check(s) (复查)" in err
    table = list(csv.DictReader(io.StringIO(out.lstrip("\ufeff"))))
    (row,) = [r for r in table if r["检查编号"] == scheduled["visit"]]
    ((reason, basis),) = query(url, "SELECT reason, basis FROM followup_proposal WHERE kind = 'recheck'")
    assert "2026-03-13" in reason and basis  # the rule pack's words: the order's deadline, the article
    assert (
        row["抽取方式"] == f"复查：原检查 {visit['visit_id']}（计划 {plan_id}）；{reason}；依据 {basis}；安排于 {day}"
    )
    assert (row["开始日期"], row["截止日期"]) == (earliest.isoformat(), latest.isoformat())
    week = f"{day.isocalendar()[0]}-W{day.isocalendar()[1]:02d}"
    code, out, err = cli("tasks", "export", "--week", week, "--format", "json", "--out", "-", "--db", url)
    assert code == 0, err
    listed = [r for r in json.loads(out) if r.get("recheck")]
    assert [r["visit"] for r in listed] == [scheduled["visit"]] and listed[0]["recheck"]["of_visit"] == visit[
        "visit_id"
    ]
    again = cli("tasks", "export", "--week", week, "--format", "json", "--out", "-", "--db", url)[1]
    assert again == out  # same store, same export, byte for byte
    code, out, _ = cli("tasks", "export", "--week", "2026-W02", "--format", "json", "--out", "-", "--db", url)
    assert not [r for r in json.loads(out) if r.get("recheck")]  # January: outside its window
    member, outsider = (
        visit["team"][1],
        next(i for (i,) in query(url, "SELECT id FROM inspector") if i not in visit["team"]),
    )
    for who, expected in ((member, 1), (outsider, 0)):
        code, out, _ = cli("tasks", "export", "--inspector", who, "--format", "json", "--out", "-", "--db", url)
        assert len([r for r in json.loads(out) if r.get("recheck")]) == expected, who

    # "My list" of a team member shows it on its day, under the plan of the visit it follows up.
    link_inspector(url, member, "member_user")
    code, out, err = cli("tasks", "mine", "--plan", plan_id, "--user", "member_user", "--json", "--db", url)
    mine = [v for v in json.loads(out)["visits"] if v["visit"] == scheduled["visit"]]
    assert code == 0 and [v["scheduled_on"] for v in mine] == [day.isoformat()], err
    # A result before the window is refused; the inspectors fill the re-check in the workbook and import it.
    code, _, err = cli(
        "results", "record", "--plan", plan_id, "--visit", scheduled["visit"], "--code", "E",
        "--completed", "2026-03-10", "--recorded-on", "2026-03-20", "--db", url,
    )  # fmt: skip
    assert code == 1 and "before_window" in err and len(err.splitlines()) == 1
    target = tmp_path / "tasks.xlsx"
    assert cli("tasks", "export", "--out", str(target), "--db", url)[0] == 0
    workbook = load_workbook(target)
    sheet = workbook["检查结果"]
    headers = [c.value for c in sheet[1]]
    col = {h: headers.index(h) + 1 for h in headers}
    (at,) = [n for n in range(2, sheet.max_row + 1) if sheet.cell(n, col["检查编号"]).value == scheduled["visit"]]
    assert sheet.cell(at, col["检查类型"]).value == "复查" and sheet.cell(at, col["计划编号"]).value == plan_id
    sheet.cell(at, col["完成日期"]).value = dt.datetime.combine(day, dt.time())
    sheet.cell(at, col["检查结果"]).value = "发现问题经责令已改正"
    filled = tmp_path / "filled.xlsx"
    workbook.save(filled)
    code, out, err = cli("results", "import", str(filled), "--recorded-on", latest.isoformat(), "--db", url)
    assert code == 0 and "1 visit result(s) recorded" in out, err

    # Done: gone from the export, shown as done, and `followups propose` sees the item as rechecked.
    code, out, err = cli(
        "tasks", "export", "--format", "json", "--json", "--out", str(tmp_path / "t.json"), "--db", url
    )
    assert code == 0 and "rechecks" not in json.loads(out), err
    followups = json.loads(cli("followups", "list", "--json", "--db", url)[1])["followups"]
    (recheck,) = [f for f in followups if f["kind"] == "recheck"]
    assert recheck["recheck_visit"] == {
        "visit": scheduled["visit"],
        "scheduled_on": day.isoformat(),
        "team": visit["team"],
        "done": True,
    }
    code, out, _ = cli("followups", "list", "--db", url)
    assert "已复查（" in out and "已安排" not in out  # the table folds the long visit id; --json above has it
    doc = _propose(url, latest.isoformat())
    assert doc["new"] == 0 and doc["rechecks"]["scheduled"] == []
    assert (
        len(
            [
                f
                for f in json.loads(cli("followups", "list", "--json", "--db", url)[1])["followups"]
                if f["kind"] == "recheck"
            ]
        )
        == 1
    )
    code, out, _ = cli("audit", "verify", "--db", url)
    assert code == 0 and "recheck 1" in out and "results 2" in out, out


def test_recheck_team_rebuilt_after_a_new_conflict_and_tamper_caught(
    planned: Planned, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, plan_id, rows = planned
    visit = next(r for r in rows if len(r["items"]) == 1 and r["scheduled_on"] is not None)
    _order(url, plan_id, visit)
    gone = visit["team"][1]
    execute(
        url,
        "INSERT INTO conflict (inspector_id, uscc, reason) VALUES (:i, :u, '近亲属在该企业任职')",
        i=gone,
        u=visit["uscc"],
    )
    (scheduled,) = _propose(url, "2026-03-16")["rechecks"]["scheduled"]
    team = scheduled["team"]
    assert scheduled["team_rule"] == "restaffed" and gone not in team and visit["lead"] == team[0]
    assert f"{gone} 需回避" in scheduled["note"] and len(team) >= 2
    certified = {i for (i,) in query(url, "SELECT id FROM inspector WHERE certificate_no IS NOT NULL")}
    conflicted = {i for (i,) in query(url, "SELECT inspector_id FROM conflict WHERE uscc = :u", u=visit["uscc"])}
    assert len(set(team) & certified) >= 2 and not set(team) & conflicted
    code, out, _ = cli("audit", "verify", "--db", url)
    assert code == 0, out
    # Inspectors record their own re-checks: the replaced member may not, a member of the new team may.
    link_inspector(url, gone, "gone_user")
    link_inspector(url, team[-1], "new_user")
    monkeypatch.setenv("SUIJIAN_ROLE", "inspector")
    record = ("results", "record", "--plan", plan_id, "--visit", scheduled["visit"], "--code", "E")
    when = ("--completed", scheduled["scheduled_on"], "--recorded-on", scheduled["scheduled_on"], "--db", url)
    monkeypatch.setenv("SUIJIAN_USER", "gone_user")
    code, _, err = cli(*record, *when)
    assert code == 1 and "not_your_visit" in err and len(err.splitlines()) == 1
    monkeypatch.setenv("SUIJIAN_USER", "new_user")
    code, out, err = cli(*record, *when)
    assert code == 0 and f"Recorded the result of visit {scheduled['visit']} of plan {plan_id}" in out, err
    monkeypatch.setenv("SUIJIAN_ROLE", "supervisor")
    # Tamper: the re-check's team or day edited after scheduling.
    execute(url, "UPDATE plan_visit SET scheduled_on = '2026-03-31' WHERE visit_id = :v", v=scheduled["visit"])
    code, out, _ = cli("audit", "verify", "--db", url)
    assert code == 1 and "re-checks changed: the run's re-check visits no longer hash to the entry" in out
    execute(url, "DELETE FROM ledger WHERE kind = 'recheck'")
    code, out, _ = cli("audit", "verify", "--db", url)
    assert code == 1 and "re-check scheduling run without a ledger entry" in out


@pytest.mark.postgres
def test_split_export_and_recheck_on_postgres(pg_url: str, tmp_path: Path) -> None:
    engine = store.make_engine(pg_url)
    store.initialise(engine)
    engine.dispose()
    plan_id, rows = build(pg_url, subjects=400)
    visit = next(r for r in rows if len(r["items"]) == 1 and r["scheduled_on"] is not None)
    _order(pg_url, plan_id, visit)
    (scheduled,) = _propose(pg_url, "2026-03-16")["rechecks"]["scheduled"]
    assert scheduled["team"] == visit["team"]
    target = tmp_path / "tasks.xlsx"
    code, out, err = cli("tasks", "export", "--sheets", "inspector", "--out", str(target), "--json", "--db", pg_url)
    assert code == 0 and json.loads(out)["rechecks"] == 1, err
    workbook = load_workbook(target)
    hits = 0
    for name in result_sheets(workbook):
        sheet = workbook[name]
        headers = [c.value for c in sheet[1]]
        col = {h: headers.index(h) + 1 for h in headers}
        for n in range(2, sheet.max_row + 1):
            if sheet.cell(n, col["检查编号"]).value == scheduled["visit"]:
                sheet.cell(n, col["完成日期"]).value = dt.datetime.fromisoformat(scheduled["scheduled_on"])
                sheet.cell(n, col["检查结果"]).value = "E"
                hits += 1
    assert hits == 1  # on its lead's sheet only
    workbook.save(tmp_path / "filled.xlsx")
    code, out, err = cli(
        "results", "import", str(tmp_path / "filled.xlsx"), "--recorded-on", "2026-03-31", "--db", pg_url
    )
    assert code == 0 and "1 visit result(s) recorded" in out, err
    code, out, _ = cli("audit", "verify", "--db", pg_url)
    assert code == 0 and "recheck 1" in out and "results 2" in out, out
    assert _propose(pg_url, "2026-04-01")["rechecks"]["scheduled"] == []


def test_recheck_no_team_can_do_is_not_scheduled_and_says_why(planned: Planned) -> None:
    url, plan_id, rows = planned
    visit = next(r for r in rows if len(r["items"]) == 1 and r["scheduled_on"] is not None)
    _order(url, plan_id, visit)
    execute(
        url,
        "INSERT INTO conflict (inspector_id, uscc, reason) SELECT id, :u, '回避' FROM inspector "
        "WHERE id NOT IN (SELECT inspector_id FROM conflict WHERE uscc = :u)",
        u=visit["uscc"],
    )
    entries = count(url, "ledger")
    code, out, err = cli("followups", "propose", "--as-of", "2026-03-16", "--db", url)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].startswith(f"Not scheduled: re-check recheck:{plan_id}:{visit['visit_id']}:{visit['items'][0]}")
    ((quals,),) = query(url, "SELECT required_qualifications FROM check_item WHERE code = :c", c=visit["items"][0])
    missing = ", ".join(sorted(json.loads(quals)))
    assert lines[1].endswith(f"需回避) and no certified holder of {missing} is free of conflict in the subject's pool.")
    assert count(url, "recheck_visit") == 0 and count(url, "ledger") == entries
    (recheck,) = [
        f for f in json.loads(cli("followups", "list", "--json", "--db", url)[1])["followups"] if f["kind"] == "recheck"
    ]
    assert recheck["recheck_visit"] is None
    assert "待安排" in cli("followups", "list", "--db", url)[1]
