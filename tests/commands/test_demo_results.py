"""`suijian demo --results` through the real CLI: a simulated year of the demo plan's results, recorded and
published through the results engine, re-graded — deterministic per seed, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine.plan.calendar import WorkCalendar
from engine.results.codes import default_codes
from entities import store
from tests.helpers import run_cli

SUBJECTS = "2000"
SEED = "1"


def demo(url: str, out_dir: Path, *extra: str) -> tuple[int, str, str]:
    return run_cli(
        "demo", "--subjects", SUBJECTS, "--seed", SEED, "--results", "--out-dir", str(out_dir), "--db", url, *extra
    )


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any], Path]]:
    """One demo with its year of results on SQLite (--json): the store URL, the document, the output folder."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SUIJIAN_USER", "测试员 tester")
    mp.setenv("SUIJIAN_ROLE", "supervisor")
    mp.delenv("SUIJIAN_CONFIG", raising=False)
    base = tmp_path_factory.mktemp("year")
    url = f"sqlite:///{base / 'suijian.db'}"
    code, out, err = demo(url, base / "out", "--json")
    assert code == 0, err
    yield url, json.loads(out), base / "out"
    mp.undo()


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


# What the year wrote, without the wall-clock created_at (when the entries were made; it decides nothing).
CONTENT = {
    "result_batch": "SELECT id, source, file_name, file_sha256, recorded_on, recorded_by, role, visits, items "
    "FROM result_batch ORDER BY id",
    "result_item": "SELECT plan_id, visit_id, version, item_code, uscc, completed_on, result_codes, findings, measures, "
    "rectification_report_on, team, recorded_on, recorded_by, batch_id, fingerprint FROM result_item "
    "ORDER BY plan_id, visit_id, version, item_code",
    "publication": "SELECT id, published_on, published_by, plan_id, until, records, csv_sha256, xlsx_sha256 "
    "FROM publication ORDER BY id",
    "publication_item": "SELECT publication_id, plan_id, visit_id, version, uscc, completed_on, deadline, result_codes, "
    "on_time FROM publication_item ORDER BY publication_id, plan_id, visit_id",
    "followup_proposal": "SELECT id, kind, reason, basis, earliest, latest, needs_decision, proposed_on "
    "FROM followup_proposal ORDER BY id",
    "followup_decision": "SELECT proposal_id, decision, decided_by, decided_on, reason, run_id "
    "FROM followup_decision ORDER BY proposal_id",
    "check_result": "SELECT id, uscc, checked_on, item_code, kind, result_codes FROM check_result "
    "WHERE id LIKE 'R-%' ORDER BY id",
    "list_entry": "SELECT uscc, list_name, listed_on, reason FROM list_entry WHERE reason LIKE '%无法联系%' "
    "AND listed_on >= '2026-01-01' ORDER BY uscc",
    "ledger": "SELECT seq, run_id, kind FROM ledger ORDER BY seq",
}


def content(url: str) -> dict[str, list[tuple[str, ...]]]:
    # Values as text: the same date or JSON list reads back as a date on one backend and a string on the other.
    return {name: [tuple(_plain(v) for v in r) for r in rows(url, sql)] for name, sql in CONTENT.items()}


def _plain(value: Any) -> str:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        value = json.loads(value)  # a JSON column: text on SQLite, parsed on PostgreSQL
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, dt.date):
        return value.isoformat()[:10]
    if isinstance(value, bool):
        return str(int(value))
    return "" if value is None else str(value)


def stable(doc: dict[str, Any]) -> dict[str, Any]:
    """The results document without what names the place it was written to and how long it took."""
    return {k: v for k, v in doc.items() if k not in ("folder", "seconds")}


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_year_is_recorded_published_and_verified(year: tuple[str, dict[str, Any], Path]) -> None:
    url, doc, out_dir = year
    r = doc["results"]
    assert r["synthetic"] is True and r["plan_id"] == doc["job"]["plan_id"]
    v = r["visits"]
    assert v["done"] + v["not_done"] + v["beyond_calendar"] == v["planned"] > 100
    # Every done visit was recorded (one batch per half-month) and published; a few late, most on time.
    assert rows(url, "SELECT COUNT(DISTINCT visit_id) FROM result_item")[0][0] == v["done"]
    assert rows(url, "SELECT COUNT(*) FROM plan_visit WHERE status = 'done'")[0][0] == v["done"]
    assert len(r["batches"]) == rows(url, "SELECT COUNT(*) FROM result_batch")[0][0] > 10
    assert all(b["rejected"] == 0 and b["file"].endswith(".csv") for b in r["batches"])
    pub = r["published"]
    assert pub["records"] == v["done"] and 0 < pub["late"] < 0.1 * pub["records"]
    assert pub["median_working_days"] <= 20
    # The batch is marked synthetic in the store: its file name and every finding's text.
    assert all("模拟数据" in name for (name,) in rows(url, "SELECT file_name FROM result_batch"))
    findings = [f for (f,) in rows(url, "SELECT findings FROM result_item WHERE findings <> ''")]
    assert findings and all(f.startswith("【模拟数据】") for f in findings)
    # The ledger holds the year: a results entry per batch, a publication entry per run, a decision per listing.
    kinds = dict(rows(url, "SELECT kind, COUNT(*) FROM ledger GROUP BY kind"))
    assert kinds["results"] == len(r["batches"]) and kinds["publication"] == len(r["publications"])
    assert kinds["grade"] == 2 and kinds.get("decision", 0) == sum(r["decisions"].values())
    code, out, err = run_cli("audit", "verify", "--db", url)
    assert code == 0, err
    assert out.startswith("OK: ")
    # Follow-ups have work: re-checks after the ordered deadlines.
    assert r["followups"].get("recheck", 0) > 0
    # The files the office wrote: a results sheet per batch and the 公示 XLSX and CSV per run.
    folder = Path(r["folder"])
    assert folder.parent == out_dir
    assert len(list((folder / "检查结果").glob("*.csv"))) == len(r["batches"])
    assert len(list((folder / "公示").glob("*.xlsx"))) == len(r["publications"])


def test_completion_dates_are_inside_the_windows_on_working_days(year: tuple[str, dict[str, Any], Path]) -> None:
    url, _, _ = year
    found = rows(
        url,
        "SELECT DISTINCT r.visit_id, r.completed_on, r.recorded_on, v.scheduled_on, v.due_on FROM result_item r "
        "JOIN plan_visit v ON v.plan_id = r.plan_id AND v.visit_id = r.visit_id",
    )
    assert found
    calendar = WorkCalendar()
    for visit, completed, recorded, scheduled, due in found:
        c, rec, s, d = (dt.date.fromisoformat(str(x)[:10]) for x in (completed, recorded, scheduled, due))
        assert s <= c <= d and c <= rec, visit
        assert calendar.is_working_day(c), visit


def test_rates_in_the_store_are_plausible(year: tuple[str, dict[str, Any], Path]) -> None:
    url, doc, _ = year
    codes = default_codes()
    items = [json.loads(c) if isinstance(c, str) else c for (c,) in rows(url, "SELECT result_codes FROM result_item")]
    clean = sum(1 for c in items if c == ["1"])
    problem = sum(1 for c in items if set(c) & codes.problems)
    assert 0.7 < clean / len(items) < 0.92
    assert 0.05 < problem / len(items) < 0.25
    assert doc["results"]["items"]["total"] == len(items)


def test_the_regrade_shows_migrations_that_come_from_the_results(year: tuple[str, dict[str, Any], Path]) -> None:
    url, doc, _ = year
    r = doc["results"]
    assert r["regrade"]["as_of"] == "2026-12-31"
    # The same day graded without the results and with them: every subject that moved was found at fault.
    credit = r["migrations"]["credit_class"]
    assert credit and all(m["to"] > m["from"] for m in credit)
    assert all(m["found"] == m["subjects"] and m["clean"] == m["unchecked"] == 0 for m in credit)
    # Each such subject's new grade fired a rule that reads the recorded results (problem checks, the listing),
    # and its recorded check history (the R- rows derived from the results) holds a problem.
    after = r["regrade"]["run_id"]
    problem_subjects = {
        u
        for (u, c) in rows(url, "SELECT uscc, result_codes FROM check_result WHERE id LIKE 'R-%'")
        if set(json.loads(c) if isinstance(c, str) else c) - {"no_problem", "no_activity", "closed"}
    }
    fired_by = {
        u: json.loads(f) if isinstance(f, str) else f
        for u, f in rows(
            url,
            "SELECT g.uscc, o.fired FROM grade_result g JOIN grade_outcome o ON o.run_id = g.run_id "
            f"AND o.outcome = g.outcome WHERE g.run_id = '{after}'",
        )
    }
    before = {
        u: (json.loads(o) if isinstance(o, str) else o)["credit_class"]
        for u, o in rows(
            url,
            "SELECT g.uscc, o.outputs FROM grade_result g JOIN grade_outcome o ON o.run_id = g.run_id "
            f"AND o.outcome = g.outcome WHERE g.run_id = '{doc['job']['grade']['run_id']}'",
        )
    }
    reads_results = {"score_problem_one", "score_problem_many", "credit_abnormal"}
    found = [u for u in problem_subjects if reads_results & set(fired_by[u])]
    assert len(found) >= sum(m["subjects"] for m in credit)
    # Against the grade the plan was drawn from, some of them went from A toward C/D.
    worse = [u for u in found if before[u] == "A" and not {"credit_score_a"} & set(fired_by[u])]
    assert worse
    since = r["since_plan"]["migrations"]["credit_class"]
    assert sum(m["found"] for m in since if m["from"] == "A") == len(worse)


def test_same_seed_same_year_and_exact_table(year: tuple[str, dict[str, Any], Path], tmp_path: Path) -> None:
    url, doc, out_dir = year
    url2 = f"sqlite:///{tmp_path / 'again.db'}"
    code, out, err = demo(url2, tmp_path / "out")
    assert code == 0, err
    assert content(url2) == content(url)
    assert files(Path(doc["results"]["folder"])) == files(tmp_path / "out" / f"模拟数据-{doc['job']['plan_id']}")
    start = out.index("信用风险分类迁移")
    end = out.index("信用风险分类未变")
    assert out[start:end] == EXPECTED_CREDIT_TABLE
    assert "【模拟数据】A simulated year of results for plan " in out


@pytest.mark.postgres
def test_same_seed_same_year_on_postgres(year: tuple[str, dict[str, Any], Path], pg_url: str, tmp_path: Path) -> None:
    url, doc, _ = year
    code, out, err = demo(pg_url, tmp_path / "out", "--json")
    assert code == 0, err
    again = json.loads(out)
    assert stable(again["results"]) == stable(doc["results"])
    assert content(pg_url) == content(url)
    code, _, err = run_cli("audit", "verify", "--db", pg_url)
    assert code == 0, err


def test_results_need_the_plan(store_url: str, tmp_path: Path) -> None:
    code, _, err = run_cli("demo", "--subjects", "300", "--results", "--load-only", "--db", store_url)
    assert code == 2
    assert (
        err.strip().splitlines()[-1] == "Error: --results simulates the year of the demo's plan; leave out --load-only"
    )
    assert rows(store_url, "SELECT COUNT(*) FROM subject")[0][0] == 0
    code, _, err = run_cli(
        "demo", "--subjects", "300", "--results", "--calendar", str(tmp_path / "none.csv"), "--db", store_url
    )
    assert code != 0 and "none.csv" in err.strip().splitlines()[-1]
    assert rows(store_url, "SELECT COUNT(*) FROM subject")[0][0] == 0
    # A period the working-day calendar does not cover is refused before anything is loaded.
    code, _, err = run_cli("demo", "--subjects", "300", "--results", "--as-of", "2026-06-30", "--db", store_url)
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("Error: no working-day calendar for 2027: ")
    assert rows(store_url, "SELECT COUNT(*) FROM subject")[0][0] == 0


# The table the default seed gives on 2,000 subjects with packs 2026.3 (11 subjects found at fault move A → B;
# before 2026.3's 令49号第42条 no-repeat rule the plan, and so the year, differed: 15 A → B and 1 A → C).
def test_a_store_with_recorded_results_is_left_alone(year: tuple[str, dict[str, Any], Path], tmp_path: Path) -> None:
    url, _, _ = year
    held = content(url)
    code, _, err = demo(url, tmp_path / "out")
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("Error: the store already holds recorded results (")
    assert content(url) == held  # nothing written: the results and their derived check history are all there
    assert not (tmp_path / "out").exists()
    # A plain reload is refused the same way (regression: it emptied check_result, results' R- rows included).
    code, _, err = run_cli("demo", "--subjects", SUBJECTS, "--out-dir", str(tmp_path / "out"), "--db", url)
    assert code == 1 and "a demo reload would drop the check history they feed" in err.strip().splitlines()[-1]
    assert content(url) == held


EXPECTED_CREDIT_TABLE = """\
信用风险分类迁移（2026-12-31，无结果 → 有结果）
┏━━━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┓
┃ 变化          ┃ 主体数 ┃ 检查发现问题 ┃ 检查未发现问题 ┃ 本年未检查 ┃
┡━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━┩
│ A 低 → B 一般 │     12 │           12 │              0 │          0 │
└───────────────┴────────┴──────────────┴────────────────┴────────────┘
"""
