"""The auditor's read models: the ledger list (filters, paging, a tampered body), one entry, and a plan's trail
with a subject search that treats SQL metacharacters as characters — on SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import audit_trail, planning
from engine.ledger import browse, chain
from entities import store
from entities.errors import InputError
from tests.audit_store import META_NAME, SCRIPT_NAME, AuditStore, build
from tests.helpers import read_store, run_cli
from tests.results_store import execute


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, AuditStore]:
    directory = tmp_path_factory.mktemp("audit-store")
    url = f"sqlite:///{directory / 'store.db'}"
    return directory / "store.db", build(url, directory / "out")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def audited(request: pytest.FixtureRequest, template: tuple[Path, AuditStore], tmp_path: Path) -> AuditStore:
    if request.param == "sqlite":
        source, built = template
        shutil.copy(source, tmp_path / "store.db")
        return dataclasses.replace(built, url=f"sqlite:///{tmp_path / 'store.db'}")
    url = str(request.getfixturevalue("pg_url"))
    engine = store.make_engine(url)
    store.initialise(engine)
    engine.dispose()
    return build(url, tmp_path / "out")


def test_ledger_list_filters_and_pages(audited: AuditStore) -> None:
    everything = read_store(audited.url, browse.ledger_page, browse.LedgerFilter(), 1, 200)
    seqs = [line.seq for line in everything.lines]
    assert seqs == sorted(seqs, reverse=True) and everything.total == len(seqs)
    assert everything.head == (seqs[0], everything.lines[0].entry_hash)
    kinds = {line.kind for line in everything.lines}
    assert {"grade", "plan", "results", "publication"} <= kinds
    # Kind: only plans (the demo's and the re-draw), newest first.
    plans = read_store(audited.url, browse.ledger_page, browse.parse_filter(kind="plan"))
    assert [line.run_id for line in plans.lines] == [audited.redraw_id, audited.plan_id]
    # Paging: page 2 of 5 continues page 1 exactly; the last page holds the rest.
    first = read_store(audited.url, browse.ledger_page, browse.LedgerFilter(), 1, 5)
    second = read_store(audited.url, browse.ledger_page, browse.LedgerFilter(), 2, 5)
    assert [line.seq for line in first.lines + second.lines] == seqs[:10]
    assert first.pages == -(-len(seqs) // 5)
    beyond = read_store(audited.url, browse.ledger_page, browse.LedgerFilter(), first.pages + 1, 5)
    assert beyond.lines == () and beyond.total == len(seqs)
    # User: the demo records "测试员 tester" (SUIJIAN_USER), as did the re-draw; nobody else acted.
    mine = read_store(audited.url, browse.ledger_page, browse.parse_filter(user="测试员 tester"), 1, 200)
    assert mine.total == len(seqs)
    assert read_store(audited.url, browse.ledger_page, browse.parse_filter(user="测试员"), 1, 200).total == 0
    # Dates: everything was recorded today (UTC); yesterday holds nothing.
    day = everything.lines[0].created_at.date()
    assert read_store(
        audited.url, browse.ledger_page, browse.parse_filter(since=str(day), until=str(day))
    ).total == len(seqs)
    yesterday = str(day - dt.timedelta(days=1))
    assert read_store(audited.url, browse.ledger_page, browse.parse_filter(until=yesterday)).total == 0


def test_ledger_list_survives_a_tampered_body(audited: AuditStore) -> None:
    """A body edited into text that is not JSON is still listed (who: unknown), with or without a user filter."""
    execute(audited.url, "UPDATE ledger SET body = 'not json {' WHERE seq = 3")
    page = read_store(audited.url, browse.ledger_page, browse.LedgerFilter(), 1, 200)
    broken = next(line for line in page.lines if line.seq == 3)
    assert (broken.user, broken.role, broken.as_of) == (None, None, None)
    filtered = read_store(audited.url, browse.ledger_page, browse.parse_filter(user="测试员 tester"), 1, 200)
    assert filtered.total == page.total - 1 and 3 not in [line.seq for line in filtered.lines]
    detail = read_store(audited.url, browse.entry_detail, 3)
    assert detail is not None and detail.body is None and detail.body_text == "not json {" and detail.user is None


def test_entry_detail_by_seq_or_run_id(audited: AuditStore) -> None:
    by_run = read_store(audited.url, browse.entry_detail, audited.plan_id)
    assert by_run is not None and by_run.kind == "plan" and by_run.user == "测试员 tester"
    by_seq = read_store(audited.url, browse.entry_detail, str(by_run.seq))
    assert by_seq == by_run
    assert by_run.field("seed") and by_run.previous == by_run.seq - 1 and by_run.following == by_run.seq + 1
    first = read_store(audited.url, browse.entry_detail, 1)
    assert first is not None and first.previous is None and first.prev_hash == chain.GENESIS
    for missing in ("0", "99999", "9" * 40, "²", "P-nothing", "'; DROP TABLE ledger;--"):
        assert read_store(audited.url, browse.entry_detail, missing) is None
    assert read_store(audited.url, browse.ledger_page, browse.LedgerFilter()).total > 0  # still there


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "plans"}, "类型“plans”不是台账条目类型"),
        ({"since": "2026-13-01"}, "起始日期“2026-13-01”不是日期，请写成 YYYY-MM-DD"),
        ({"until": "yesterday"}, "截止日期“yesterday”不是日期"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "截止日期 2026-01-01 早于起始日期 2026-02-01"),
        ({"user": "x" * 201}, "操作人过长：最多 200 个字符"),
    ],
)
def test_bad_filters_name_the_field(fields: dict[str, str], message: str) -> None:
    with pytest.raises(InputError) as caught:
        browse.parse_filter(**fields)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("page", "per_page", "message"),
    [("0", None, "页码 0 无效"), ("x", None, "页码“x”不是整数"), ("1", "500", "每页条数 500 无效")],
)
def test_bad_paging_names_the_field(page: str, per_page: str | None, message: str) -> None:
    with pytest.raises(InputError) as caught:
        browse.parse_page(page, per_page)
    assert str(caught.value).startswith(message)


def test_blank_filter_is_no_filter() -> None:
    assert browse.parse_filter(" ", "", None, " ") == browse.LedgerFilter()
    assert browse.parse_page(None, "") == (1, browse.PER_PAGE)


def test_trail_is_the_audit_trace_with_a_subject_search(audited: AuditStore) -> None:
    calendar = planning.work_calendar(())
    whole = read_store(audited.url, audit_trail.plan_trail, audited.plan_id, calendar, None, 1, 1000)

    def traced(conn: sa.Connection) -> list[dict[str, object]]:
        from engine.results import publishing

        pid, plan = planning.load_plan(conn, audited.plan_id)
        return [r.to_dict() for r in publishing.trace_of(conn, pid, plan, calendar).rows]

    assert [r.row.to_dict() for r in whole.rows] == read_store(audited.url, traced)
    assert whole.summary["published"] > 0 and whole.total == whole.summary["visits_planned"]
    names = {r.row.uscc: r.name for r in whole.rows}
    assert names[audited.script_uscc] == SCRIPT_NAME and names[audited.meta_uscc] == META_NAME

    def search(query: str) -> set[str]:
        found = read_store(audited.url, audit_trail.plan_trail, audited.plan_id, calendar, query, 1, 1000)
        assert found.summary == whole.summary  # the summary is the plan's, whatever the search
        return {r.row.uscc for r in found.rows}

    # Each metacharacter finds the one subject whose name holds it — not every subject, and no error.
    for query in ("%", "_", ";--", "100%纯_天然", "'店;--"):
        assert search(query) == {audited.meta_uscc}, query
    assert search("'") == {audited.meta_uscc, audited.script_uscc}  # both names hold a quote
    assert search("100x纯") == set() and search("纯a天") == set()  # _ is not a wildcard
    assert search("<script>") == {audited.script_uscc}
    assert search(audited.meta_uscc) == {audited.meta_uscc}
    assert search(audited.meta_uscc[:12].lower()) >= {audited.meta_uscc}  # a USCC's beginning, any case
    assert audited.meta_uscc in search(audited.meta_uscc[:8])
    # Paging the matches.
    page = read_store(audited.url, audit_trail.plan_trail, audited.plan_id, calendar, None, 2, 10)
    assert [r.row.visit_id for r in page.rows] == [r.row.visit_id for r in whole.rows[10:20]]


def test_trail_search_without_visit_rows(audited: AuditStore) -> None:
    """A plan committed before visits were rows: the search runs over the plan's own subjects instead."""
    execute(audited.url, "DELETE FROM plan_visit WHERE plan_id = :p", p=audited.redraw_id)  # nothing refers to them
    among = [audited.meta_uscc, audited.script_uscc]
    found = read_store(audited.url, audit_trail.matching_subjects, audited.redraw_id, "%", among)
    assert found == {audited.meta_uscc}
    assert read_store(audited.url, audit_trail.matching_subjects, audited.redraw_id, "'", among) == set(among)
    assert read_store(audited.url, audit_trail.matching_subjects, audited.redraw_id, "%", []) == set()


def test_trail_refuses_an_unknown_plan_and_a_long_search(audited: AuditStore) -> None:
    with pytest.raises(InputError, match="no plan P2026-nothing"):
        read_store(audited.url, audit_trail.plan_trail, "P2026-nothing", planning.work_calendar(()))
    with pytest.raises(InputError, match="检索词过长"):
        audit_trail.check_query("x" * 101)
    assert audit_trail.check_query("  ") is None


def test_plan_lines_newest_first(audited: AuditStore) -> None:
    lines = read_store(audited.url, audit_trail.plan_lines)
    assert {line.id for line in lines} == {audited.plan_id, audited.redraw_id}
    assert lines[0].created_at >= lines[1].created_at
    assert all(line.visits > 0 for line in lines)


def test_trail_is_cached_until_the_ledger_moves(audited: AuditStore) -> None:
    """Paging reuses one trace; recording a result (a ledger entry) makes the next page read the plan afresh."""
    calendar = planning.work_calendar(())

    def trace_now(conn: sa.Connection) -> object:
        return audit_trail.cached_trace(conn, audited.plan_id, calendar)[1]

    first = read_store(audited.url, trace_now)
    assert read_store(audited.url, trace_now) is first
    before = read_store(audited.url, audit_trail.plan_trail, audited.plan_id, calendar, None, 1, 1000)
    waiting = next(t.row for t in before.rows if t.row.completed_on is None)
    code, _, err = run_cli(
        "results", "record", "--plan", audited.plan_id, "--visit", waiting.visit_id, "--code", "1",
        "--completed", "2026-12-01", "--recorded-on", "2026-12-02", "--db", audited.url,
    )  # fmt: skip
    assert code == 0, err
    after = read_store(audited.url, audit_trail.plan_trail, audited.plan_id, calendar, None, 1, 1000)
    assert after.summary["visits_with_result"] == before.summary["visits_with_result"] + 1
    assert read_store(audited.url, trace_now) is not first
