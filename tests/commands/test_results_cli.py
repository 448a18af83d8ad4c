"""`suijian results record|import|list|due`, `publish results`, `followups …` through the CLI, on a store with a
committed plan and its visit rows: exact lines for each refusal (nothing written), corrections as versions, the
task-list round trip, the 20-working-day clock, tamper detection, and the next grade reading what was recorded."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from engine.features.compute import features_of
from engine.plan.calendar import WorkCalendar
from engine.results import publication
from entities import store
from tests.helpers import run_cli
from tests.results_store import build, count, execute, link_inspector, query

_TEMPLATE: dict[str, Any] = {}


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[dict[str, Any]]]:
    """A SQLite store with demo subjects, a grade, a 2026Q1 plan and its visit rows (built once, copied per test)."""
    directory = tmp_path_factory.mktemp("results-store")
    url = f"sqlite:///{directory / 'store.db'}"
    engine = store.make_engine(url)
    store.initialise(engine)
    engine.dispose()
    mp = pytest.MonkeyPatch()
    mp.setenv("SUIJIAN_USER", "测试员 tester")
    mp.setenv("SUIJIAN_ROLE", "supervisor")
    try:
        plan_id, rows = build(url, subjects=5000)
    finally:
        mp.undo()
    return directory / "store.db", plan_id, rows


@pytest.fixture
def planned(template: tuple[Path, str, list[dict[str, Any]]], tmp_path: Path) -> tuple[str, str, list[dict[str, Any]]]:
    source, plan_id, rows = template
    target = tmp_path / "store.db"
    shutil.copy(source, target)
    return f"sqlite:///{target}", plan_id, rows


def cli(*args: str) -> tuple[int, str, str]:
    return run_cli(*args)


def record(url: str, plan_id: str, visit: str, *extra: str) -> tuple[int, str, str]:
    return cli("results", "record", "--plan", plan_id, "--visit", visit, *extra, "--db", url)


def test_record_correct_and_keep_every_version(planned: tuple[str, str, list[dict[str, Any]]]) -> None:
    url, plan_id, rows = planned
    v = rows[0]
    found = ",".join(["3", "A"])
    items = [f"--item={v['items'][0]}={found}", *(f"--item={i}=1" for i in v["items"][1:])]
    args = [*items, "--measure", "责令改正", "--deadline", "2026-03-20", "--findings", "后厨未设防鼠设施"]
    code, out, err = record(
        url, plan_id, v["visit_id"], *args, "--completed", "2026-03-02", "--recorded-on", "2026-03-03"
    )
    assert code == 0, err
    assert out.startswith(f"Recorded the result of visit {v['visit_id']} of plan {plan_id} as of 2026-03-03")
    # The same result again changes nothing.
    code, out, _ = record(
        url, plan_id, v["visit_id"], *args, "--completed", "2026-03-02", "--recorded-on", "2026-03-04"
    )
    assert (code, out) == (
        0,
        f"Visit {v['visit_id']} of plan {plan_id}: this result is already recorded; nothing changed.\n",
    )
    # A different result without --correct is refused, in one line, nothing written.
    entries = count(url, "ledger")
    code, out, err = record(
        url, plan_id, v["visit_id"], "--code", "1", "--completed", "2026-03-02", "--recorded-on", "2026-03-04"
    )
    assert code == 1 and out == ""
    assert err == (
        f"Error: visit {v['visit_id']} [--correct]: correction_without_reason: visit {v['visit_id']} already has a "
        "result (version 1, recorded 2026-03-03); give a correction reason (--correct REASON); nothing was written\n"
    )
    assert count(url, "ledger") == entries
    # With a reason it is the next version; the first stays readable.
    code, out, err = record(
        url, plan_id, v["visit_id"], "--code", "1", "--completed", "2026-03-02", "--recorded-on", "2026-03-05",
        "--correct", "复核：问题记错了主体",
    )  # fmt: skip
    assert code == 0, err
    code, out, _ = cli("results", "list", "--versions", "--json", "--db", url)
    versions = json.loads(out)["results"]
    assert [(r["version"], r["correction_reason"]) for r in versions] == [(1, None), (2, "复核：问题记错了主体")]
    assert versions[0]["items"][0]["result_codes"] == ["3", "A"] or any(
        i["result_codes"] == ["3", "A"] for i in versions[0]["items"]
    )
    # The check history grading reads follows the version in force.
    history = query(url, "SELECT result_codes FROM check_result WHERE id LIKE 'R-%'")
    assert sorted(json.loads(h[0]) if isinstance(h[0], str) else h[0] for h in history) == [["no_problem"]] * len(
        v["items"]
    )
    assert count(url, "result_item") == 2 * len(v["items"])
    assert query(url, "SELECT status FROM plan_visit WHERE visit_id = :v", v=v["visit_id"])[0][0] == "done"


REFUSALS = [
    (["--code", "Z"], "unknown_code"),
    (["--code", "1", "--completed", "2025-12-01"], "before_window"),
    (["--code", "1", "--completed", "2026-03-09"], "after_recording"),
    (["--code", "1", "--correct", "typo"], "nothing_to_correct"),
    (["--code", "1", "--measure", "罚站"], "unknown_measure"),
]


@pytest.mark.parametrize(("args", "problem"), REFUSALS)
def test_bad_record_is_one_line_and_writes_nothing(
    planned: tuple[str, str, list[dict[str, Any]]], args: list[str], problem: str
) -> None:
    url, plan_id, rows = planned
    extra = [] if "--completed" in args else ["--completed", "2026-03-02"]
    code, out, err = record(url, plan_id, rows[0]["visit_id"], *args, *extra, "--recorded-on", "2026-03-08")
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines[-1].startswith("Error: ") and lines[-1].endswith("nothing was written")
    assert problem in err and "Traceback" not in err
    assert count(url, "result_item") == count(url, "result_batch") == 0


def test_visit_not_in_plan(planned: tuple[str, str, list[dict[str, Any]]]) -> None:
    url, plan_id, _ = planned
    code, _, err = record(url, plan_id, "NO-SUCH-VISIT", "--code", "1", "--completed", "2026-03-02")
    assert (code, err) == (
        1,
        f"Error: visit NO-SUCH-VISIT [--visit]: visit_not_in_plan: plan {plan_id} has no visit NO-SUCH-VISIT; "
        "nothing was written\n",
    )


def test_inspectors_record_only_their_own_visits(
    planned: tuple[str, str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, plan_id, rows = planned
    v = rows[0]
    outsider = next(i for (i,) in query(url, "SELECT id FROM inspector ORDER BY id") if i not in v["team"])
    link_inspector(url, outsider, "李四")
    link_inspector(url, v["team"][0], "张三")
    monkeypatch.setenv("SUIJIAN_ROLE", "inspector")
    monkeypatch.setenv("SUIJIAN_USER", "李四")
    code, _, err = record(
        url, plan_id, v["visit_id"], "--code", "1", "--completed", "2026-03-02", "--recorded-on", "2026-03-03"
    )
    assert code == 1 and f"not_your_visit: inspector {outsider} is not on the team of visit" in err
    assert count(url, "result_item") == 0
    monkeypatch.setenv("SUIJIAN_USER", "王五")  # no inspector has this account
    code, _, err = record(url, plan_id, v["visit_id"], "--code", "1", "--completed", "2026-03-02")
    assert code == 1 and "user '王五' is not linked to an inspector" in err
    monkeypatch.setenv("SUIJIAN_USER", "张三")
    code, _, err = record(
        url, plan_id, v["visit_id"], "--code", "1", "--completed", "2026-03-02", "--recorded-on", "2026-03-03"
    )
    assert code == 0, err
    monkeypatch.setenv("SUIJIAN_ROLE", "auditor")
    code, _, err = record(url, plan_id, v["visit_id"], "--code", "1", "--completed", "2026-03-02")
    assert code == 1 and "may not record results" in err
    # Inspectors may not publish or decide.
    monkeypatch.setenv("SUIJIAN_ROLE", "inspector")
    code, _, err = cli("publish", "results", "--out", "x.xlsx", "--db", url)
    assert code == 1 and "may not publish results: needs supervisor" in err


# ── the task list round trip ────────────────────────────────────────────────────────────────────────────────


def export(url: str, tmp_path: Path) -> Path:
    target = tmp_path / "tasks.xlsx"
    code, _, err = cli("tasks", "export", "--format", "xlsx", "--out", str(target), "--db", url)
    assert code == 0, err
    return target


def fill(path: Path, out: Path, limit: int | None = None, codes: str = "1") -> int:
    """Fill the 检查结果 sheet as an inspector would in Excel: real date cells, labels from the dropdown."""
    workbook = load_workbook(path)
    sheet = workbook["检查结果"]
    headers = [c.value for c in sheet[1]]
    col = {h: headers.index(h) + 1 for h in headers}
    filled = 0
    visits: set[str] = set()
    for row in range(2, sheet.max_row + 1):
        visit = sheet.cell(row, col["检查编号"]).value
        if limit is not None and visit not in visits and len(visits) >= limit:
            continue
        visits.add(visit)
        sheet.cell(row, col["完成日期"]).value = dt.datetime(2026, 3, 2)
        sheet.cell(row, col["检查结果"]).value = "未发现问题" if codes == "1" else codes
        filled += 1
    workbook.save(out)
    return len(visits)


def test_export_has_dropdowns_dates_townships_and_what_was_not_covered(
    planned: tuple[str, str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    url, plan_id, rows = planned
    workbook = load_workbook(export(url, tmp_path))
    assert workbook.sheetnames == ["检查任务", "检查结果", "结果代码", "未能覆盖"]
    sheet = workbook["检查结果"]
    headers = [c.value for c in sheet[1]]
    assert headers[:3] == ["计划编号", "检查编号", "统一社会信用代码"] and "所在街镇" in headers
    assert sheet.max_row == 1 + sum(len(r["items"]) for r in rows)
    lists = {str(dv.sqref).split(":")[0].rstrip("0123456789"): dv for dv in sheet.data_validations.dataValidation}
    result_col = chr(ord("A") + headers.index("检查结果"))
    assert lists[result_col].type == "list" and lists[result_col].formula1 == "'结果代码'!$A$2:$A$19"
    labels = [workbook["结果代码"].cell(r, 1).value for r in range(2, 20)]
    assert labels[0] == "未发现问题" and "发现问题待后续处理" in labels
    date_col = headers.index("开始日期") + 1
    assert isinstance(sheet.cell(2, date_col).value, dt.datetime)
    assert sheet.cell(2, date_col).number_format == "yyyy-mm-dd"
    township = sheet.cell(2, headers.index("所在街镇") + 1).value
    assert township.endswith(("街道", "镇")), township
    assert sheet.auto_filter.ref == f"A1:R{sheet.max_row}"  # up to 检查类型
    assert workbook["未能覆盖"].max_row > 1


def test_round_trip_publish_and_tamper(planned: tuple[str, str, list[dict[str, Any]]], tmp_path: Path) -> None:
    url, plan_id, rows = planned
    filled = tmp_path / "filled.xlsx"
    visits = fill(export(url, tmp_path), filled)
    assert visits >= 100  # the bar: 100 results filled in the workbook
    code, out, err = cli("results", "import", str(filled), "--recorded-on", "2026-03-04", "--db", url)
    assert code == 0, err
    assert out.startswith(f"Read {sum(len(r['items']) for r in rows):,} row(s) of {filled}: {visits:,} visit result(s)")
    entries = count(url, "ledger")
    # Re-importing the same file changes nothing: no batch, no ledger entry.
    code, out, _ = cli("results", "import", str(filled), "--recorded-on", "2026-03-05", "--db", url)
    assert code == 0 and f"0 visit result(s) recorded (0 correction(s)), {visits:,} already recorded" in out
    assert out.rstrip().endswith("nothing changed.") and count(url, "ledger") == entries
    code, out, _ = cli("results", "due", "--as-of", "2026-03-20", "--json", "--db", url)
    due = json.loads(out)["due"]
    assert len(due) == visits and {d["deadline"] for d in due} == {"2026-03-30"} and due[0]["working_days_left"] == 6
    # Past the clock: `results list --overdue` shows them (as of 2026-04-10 the 2026-03-30 deadline has passed).
    code, out, _ = cli("results", "list", "--overdue", "--as-of", "2026-04-10", "--json", "--db", url)
    assert len(json.loads(out)["results"]) == visits
    code, out, _ = cli("results", "list", "--overdue", "--as-of", "2026-03-30", "--json", "--db", url)
    assert json.loads(out)["results"] == []
    code, out, err = cli(
        "publish", "results", "--published-on", "2026-03-20", "--out", str(tmp_path / "pub.xlsx"), "--db", url
    )
    assert code == 0, err and f"Published {visits:,} result(s) on 2026-03-20 ({visits:,} on time, 0 late)" in out
    csv_text = (tmp_path / "pub.csv").read_bytes().decode("utf-8-sig")
    assert (
        csv_text.splitlines()[0]
        == "抽查计划编号,抽查计划名称,检查实施机关,主体名称,统一社会信用代码,检查完成日期,检查结果代码,检查结果,公示日期"
    )
    assert len(csv_text.splitlines()) == visits + 1 and "揭东区市场监督管理局" in csv_text
    assert load_workbook(tmp_path / "pub.xlsx").active.max_row == visits + 1
    assert cli("results", "due", "--as-of", "2026-03-20", "--json", "--db", url)[1].count('"visit"') == 0
    code, out, _ = cli("audit", "verify", "--db", url)
    assert code == 0 and "publication 1, results 1" in out
    # The auditor's trace: drawn → visited → result → published, and the plan's figures.
    code, out, err = cli("audit", "trace", plan_id, "--json", "--db", url)
    assert code == 0, err
    traced = json.loads(out)
    s = traced["summary"]
    assert s["visits_with_result"] == visits and s["published"] == visits and s["published_on_time"] == visits
    assert s["visits_planned"] == len(traced["visits"]) and s["visited_share"] == round(
        visits / len(traced["visits"]), 4
    )
    published = [v for v in traced["visits"] if v["published_on"]]
    assert len(published) == visits and all(v["published_on"] == "2026-03-20" for v in published)
    assert all(0 < v["working_days_to_publish"] <= 20 and v["on_time"] for v in published)
    assert (
        s["median_working_days_to_publish"] == sorted(v["working_days_to_publish"] for v in published)[visits // 2]
        or visits % 2 == 0
    )
    code, out, _ = cli("audit", "trace", plan_id, "--subject", published[0]["uscc"], "--db", url)
    assert code == 0 and published[0]["visit"] in out and "drawn → visited → result → published" in out
    code, _, err = cli("audit", "trace", plan_id, "--subject", "91440101MA5CXXXX1B", "--db", url)
    assert code == 1 and err.startswith("Error: subject 91440101MA5CXXXX1B has no visit in plan")
    # Tamper: an edited result, then an edited publication record.
    execute(url, "UPDATE result_item SET findings = '改过' WHERE rowid = (SELECT min(rowid) FROM result_item)")
    code, out, _ = cli("audit", "verify", "--db", url)
    assert code == 1 and "results changed: the batch's result rows no longer hash to the entry" in out
    execute(url, "UPDATE publication_item SET on_time = 0")
    code, out, _ = cli("audit", "verify", "--db", url)
    assert "publication records changed: they no longer hash to the entry" in out


def test_bad_files_are_refused_and_write_nothing(
    planned: tuple[str, str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    url, _, _ = planned
    good = tmp_path / "filled.xlsx"
    fill(export(url, tmp_path), good)
    # Edited header.
    workbook = load_workbook(good)
    workbook["检查结果"].cell(1, 12).value = "结果"
    edited = tmp_path / "edited.xlsx"
    workbook.save(edited)
    code, _, err = cli("results", "import", str(edited), "--db", url)
    assert code == 1 and err.startswith(f"Error: {edited}:1 [检查结果]: missing_header: no column 检查结果")
    # Truncated workbook.
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    code, _, err = cli("results", "import", str(cut), "--db", url)
    assert code == 1 and len(err.splitlines()) == 1 and "not a readable .xlsx workbook" in err
    # A CSV cut in the middle of a visit: its remaining items have no result.
    sheet = load_workbook(good)["检查结果"]
    lines = [
        [("" if v is None else (v.date().isoformat() if isinstance(v, dt.datetime) else str(v))) for v in r]
        for r in sheet.iter_rows(values_only=True)
    ]
    multi = next(n for n in range(1, len(lines) - 1) if lines[n][1] == lines[n + 1][1])
    csv_file = tmp_path / "cut.csv"
    csv_file.write_text("\n".join(",".join(x) for x in lines[: multi + 1]) + "\n", encoding="gbk")
    code, _, err = cli("results", "import", str(csv_file), "--encoding", "gbk", "--db", url)
    assert code == 1 and "item_missing" in err
    assert count(url, "result_item") == count(url, "result_batch") == 0
    # --skip-invalid records the good visits and writes the rest to the rejects file.
    rejects = tmp_path / "rejects.csv"
    code, out, err = cli(
        "results",
        "import",
        str(csv_file),
        "--encoding",
        "gbk",
        "--skip-invalid",
        "--rejects",
        str(rejects),
        "--db",
        url,
    )
    assert code == 0, err
    assert "row(s) rejected, written to" in out and "item_missing" in rejects.read_text(encoding="utf-8-sig")
    assert count(url, "result_batch") == 1


def test_deadline_runs_over_mid_autumn_and_national_day(planned: tuple[str, str, list[dict[str, Any]]]) -> None:
    import chinese_calendar

    url, plan_id, rows = planned
    v = rows[0]
    code, _, err = record(
        url, plan_id, v["visit_id"], "--code", "1", "--completed", "2026-09-24", "--recorded-on", "2026-09-25"
    )
    assert code == 0, err
    due = json.loads(cli("results", "due", "--as-of", "2026-09-25", "--json", "--db", url)[1])["due"][0]
    # Checked against the library directly: the 20th working day after completion.
    day, n = dt.date(2026, 9, 24), 0
    while n < 20:
        day += dt.timedelta(days=1)
        n += chinese_calendar.is_workday(day)
    assert due["deadline"] == day.isoformat() == publication.deadline(WorkCalendar(), dt.date(2026, 9, 24)).isoformat()
    assert day > dt.date(2026, 10, 8)  # past 中秋 and the National Day week


def test_a_problem_result_changes_the_next_grade_input(planned: tuple[str, str, list[dict[str, Any]]]) -> None:
    url, plan_id, rows = planned
    v = rows[0]
    engine = store.open_store(url)
    with engine.connect() as conn:
        before = features_of(conn, v["uscc"], dt.date(2026, 4, 1))
    code, _, err = record(
        url, plan_id, v["visit_id"], "--code", "3", "--completed", "2026-03-02", "--recorded-on", "2026-03-03"
    )
    assert code == 0, err
    with engine.connect() as conn:
        after = features_of(conn, v["uscc"], dt.date(2026, 4, 1))
    engine.dispose()
    assert before is not None and after is not None
    assert after["problem_checks_3y"] == (before["problem_checks_3y"] or 0) + len(v["items"])
    assert after["last_check_found_problem"] is True and after["days_since_last_check"] == 30


def test_followups_proposed_and_decided_by_a_supervisor(
    planned: tuple[str, str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, plan_id, rows = planned
    v = rows[0]
    code, _, err = record(
        url, plan_id, v["visit_id"], "--code", "6", "--completed", "2026-03-02", "--recorded-on", "2026-03-03"
    )
    assert code == 0, err
    code, out, _ = cli("followups", "propose", "--as-of", "2026-03-10", "--db", url)
    proposed = json.loads(cli("followups", "list", "--json", "--db", url)[1])["followups"]
    assert (
        code == 0 and out == f"{len(proposed)} new follow-up(s) proposed as of 2026-03-10 (rules: national 2026.3).\n"
    )
    # Code 6 (无法联系) is a 经营异常名录 cause by itself: one listing proposal per item recorded with it.
    assert sorted(f["item_code"] for f in proposed if f["kind"] == "list_abnormal") == sorted(v["items"])
    assert cli("followups", "propose", "--as-of", "2026-03-11", "--db", url)[1].startswith("0 new")
    listed = json.loads(cli("followups", "list", "--open", "--json", "--db", url)[1])["followups"]
    target = next(f for f in listed if f["kind"] == "list_abnormal")
    monkeypatch.setenv("SUIJIAN_ROLE", "inspector")
    code, _, err = cli("followups", "decide", target["id"], "--accept", "--db", url)
    assert code == 1 and "may not decide follow-ups: needs supervisor" in err
    monkeypatch.setenv("SUIJIAN_ROLE", "supervisor")
    code, _, err = cli("followups", "decide", target["id"], "--reject", "--on", "2026-03-12", "--db", url)
    assert code == 1 and "needs a reason" in err
    code, out, err = cli("followups", "decide", target["id"], "--accept", "--on", "2026-03-12", "--db", url)
    assert code == 0 and out.endswith("listed on 经营异常名录.\n"), err
    code, _, err = cli("followups", "decide", target["id"], "--accept", "--on", "2026-03-13", "--db", url)
    assert code == 1 and "was already decided (confirm by 测试员 tester on 2026-03-12)" in err
    listed_now = query(
        url, "SELECT list_name, reason FROM list_entry WHERE uscc = :u AND listed_on = '2026-03-12'", u=v["uscc"]
    )
    assert len(listed_now) == 1 and listed_now[0][0] == "abnormal" and "无法联系" in listed_now[0][1]
    code, out, _ = cli("audit", "verify", "--db", url)
    assert code == 0 and "decision 1" in out
    execute(url, "UPDATE followup_decision SET reason = 'x'")
    assert "decision changed" in cli("audit", "verify", "--db", url)[1]


@pytest.mark.postgres
def test_record_import_publish_on_postgres(pg_url: str, tmp_path: Path) -> None:
    engine = store.make_engine(pg_url)
    store.initialise(engine)
    engine.dispose()
    plan_id, rows = build(pg_url, subjects=400)
    filled = tmp_path / "filled.xlsx"
    visits = fill(export(pg_url, tmp_path), filled)
    code, _, err = cli("results", "import", str(filled), "--recorded-on", "2026-03-04", "--db", pg_url)
    assert code == 0, err
    v = rows[0]
    code, _, err = record(
        pg_url, plan_id, v["visit_id"], "--code", "3", "--completed", "2026-03-02", "--recorded-on", "2026-03-05",
        "--correct", "复核",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = cli(
        "publish", "results", "--published-on", "2026-03-20", "--out", str(tmp_path / "p.xlsx"), "--db", pg_url
    )
    assert code == 0 and f"Published {visits:,} result(s)" in out, err
    code, out, _ = cli("audit", "verify", "--db", pg_url)
    assert code == 0 and "publication 1, results 2" in out


def test_bulk_import_of_results_is_history_before_the_plans_only(
    planned: tuple[str, str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    url, _, rows = planned
    uscc = rows[0]["uscc"]
    before = count(url, "check_result")
    late = tmp_path / "late.csv"
    late.write_text(f"id,uscc,checked_on,result_codes\nX-1,{uscc},2026-02-01,no_problem\n", encoding="utf-8")
    code, _, err = run_cli("import", "results", str(late), "--db", url)
    assert code == 1 and "checked_on" in err and "is in the period of a plan in the store (from 2026-01-01)" in err
    forged = tmp_path / "forged.csv"
    forged.write_text(f"id,uscc,checked_on,result_codes\nR-0001,{uscc},2025-02-01,no_problem\n", encoding="utf-8")
    code, _, err = run_cli("import", "results", str(forged), "--db", url)
    assert code == 1 and "ids starting with 'R-' are the check history of recorded results" in err
    assert count(url, "check_result") == before
    history = tmp_path / "history.csv"
    history.write_text(f"id,uscc,checked_on,result_codes\nX-2,{uscc},2025-02-01,no_problem\n", encoding="utf-8")
    code, _, err = run_cli("import", "results", str(history), "--db", url)
    assert code == 0, err
    assert count(url, "check_result") == before + 1
