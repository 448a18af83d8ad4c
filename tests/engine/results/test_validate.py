"""Validation of results: every problem with its field (one record) or row and column (a file); never a raise."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.results.model import History, ItemResult, Measure, MeasureKind, correct
from engine.results.validate import (
    HEADERS,
    ProblemCode,
    Recorder,
    VisitRef,
    check_result,
    read_results,
)
from tests.engine.results.helpers import LEAD, PLAN, SUPERVISOR, USCC, VISIT, VISITS, result


def items(*given: ItemResult) -> tuple[ItemResult, ...]:
    """The given item results, and 未发现问题 for the visit's other items (a result covers each item)."""
    codes = {i.item_code for i in given}
    rest = tuple(ItemResult(c, ("1",)) for c in VISIT.items if c not in codes)
    return (*given, *rest)


def codes_of(problems) -> set[ProblemCode]:  # type: ignore[no-untyped-def]
    return {p.code for p in problems}


def test_a_good_result_has_no_problem() -> None:
    assert check_result(result(), VISITS, LEAD) == []
    assert check_result(result(), VISITS, SUPERVISOR) == []


def test_unknown_code_is_named_with_its_field() -> None:
    r = result(items=items(ItemResult("DJ-GS-01", ("2", "Z"))))
    problems = check_result(r, VISITS, LEAD)
    assert [(p.field, p.code) for p in problems] == [
        ("result_codes", ProblemCode.UNKNOWN_CODE),
        ("result_codes", ProblemCode.UNKNOWN_CODE),
    ]
    assert "'2' is not a result code" in str(problems[0])


def test_no_problem_combined_with_a_finding() -> None:
    r = result(items=items(ItemResult("DJ-GS-01", ("1", "3"))))
    (p,) = check_result(r, VISITS, LEAD)
    assert p.code is ProblemCode.NO_PROBLEM_COMBINED and "违反食品药品管理相关规定" in p.message


def test_completion_before_the_window_or_after_recording() -> None:
    early = check_result(result(completed_on=dt.date(2026, 2, 27)), VISITS, LEAD)
    assert codes_of(early) == {ProblemCode.BEFORE_WINDOW}
    late = check_result(result(completed_on=dt.date(2026, 4, 13)), VISITS, LEAD)
    assert codes_of(late) == {ProblemCode.AFTER_RECORDING}
    # After the window's end is late, not wrong: still recorded.
    after = result(
        completed_on=dt.date(2026, 7, 3),
        recorded_on=dt.date(2026, 7, 3),
        items=items(),
    )
    assert check_result(after, VISITS, LEAD) == []


def test_visit_not_in_the_plan_and_item_not_in_the_visit() -> None:
    assert codes_of(check_result(result(visit_id="X"), VISITS, LEAD)) == {ProblemCode.VISIT_NOT_IN_PLAN}
    (p,) = check_result(result(plan_id="P-none"), VISITS, SUPERVISOR)
    assert "not a committed plan" in p.message
    r = result(items=items(ItemResult("TS-01", ("1",))))
    assert codes_of(check_result(r, VISITS, LEAD)) == {ProblemCode.ITEM_NOT_IN_VISIT}
    r = result(items=(*items(), ItemResult("DJ-GS-01", ("1",))))
    assert codes_of(check_result(r, VISITS, LEAD)) == {ProblemCode.DUPLICATE_ITEM}
    # A visit's result covers each of its items: one left out (or cut off a file) is named.
    (p,) = check_result(result(items=(ItemResult("DJ-GS-01", ("1",)),)), VISITS, LEAD)
    assert p.code is ProblemCode.ITEM_MISSING and "SC-SP-02" in p.message
    assert codes_of(check_result(result(uscc="914401010000000000"), VISITS, LEAD)) == {ProblemCode.USCC_MISMATCH}


def test_a_second_result_needs_a_reason_and_the_same_result_again_is_no_problem() -> None:
    history = History().add(result())
    changed = result(items=items(ItemResult("DJ-GS-01", ("E",))), version=2)
    assert codes_of(check_result(changed, VISITS, LEAD, history=history)) == {ProblemCode.CORRECTION_WITHOUT_REASON}
    fixed = correct(result(), changed, "漏填整改情况")
    assert check_result(fixed, VISITS, LEAD, history=history) == []
    # Re-recording what is recorded: no problem (the caller records nothing).
    assert check_result(result(recorded_on=dt.date(2026, 4, 20)), VISITS, LEAD, history=history) == []
    first_with_reason = result(correction_reason="x")
    assert codes_of(check_result(first_with_reason, VISITS, LEAD)) == {ProblemCode.NOTHING_TO_CORRECT}
    stale = correct(result(), changed, "x")
    two = history.add(stale)
    assert codes_of(check_result(stale, VISITS, LEAD, history=two)) == set()  # unchanged from v2
    assert ProblemCode.VERSION_CONFLICT in codes_of(
        check_result(correct(result(), result(completed_on=dt.date(2026, 4, 1)), "y"), VISITS, LEAD, history=two)
    )


def test_an_inspector_records_only_their_own_visits() -> None:
    (p,) = check_result(result(recorded_by="I777"), VISITS, Recorder("I777", "inspector"))
    assert p.code is ProblemCode.NOT_YOUR_VISIT and "supervisor" in p.message
    assert check_result(result(recorded_by="S9"), VISITS, SUPERVISOR) == []
    assert ProblemCode.NOT_ALLOWED in codes_of(check_result(result(), VISITS, Recorder("A1", "auditor")))


def test_measures_deadlines_and_reports() -> None:
    def one(*measures: Measure, codes: tuple[str, ...] = ("3",), report: dt.date | None = None) -> set[ProblemCode]:
        r = result(items=items(ItemResult("SC-SP-02", codes, measures=measures, rectification_report_on=report)))
        return codes_of(check_result(r, VISITS, LEAD))

    assert one(Measure(MeasureKind.RECTIFY)) == {ProblemCode.DEADLINE_MISSING}
    assert one(Measure(MeasureKind.DIRECTIVE, dt.date(2026, 4, 9))) == {ProblemCode.DEADLINE_BEFORE_COMPLETION}
    assert one(Measure(MeasureKind.RECTIFY, dt.date(2026, 4, 10))) == set()  # same day is not before
    assert one(Measure(MeasureKind.CASE)) == set()
    assert one(Measure(MeasureKind.RECTIFY, dt.date(2026, 5, 1)), codes=("1",)) == {ProblemCode.MEASURE_WITHOUT_FINDING}
    ok = Measure(MeasureKind.RECTIFY, dt.date(2026, 4, 20))
    assert one(ok, report=dt.date(2026, 4, 11)) == set()
    assert one(ok, report=dt.date(2026, 4, 9)) == {ProblemCode.REPORT_BEFORE_COMPLETION}
    assert one(ok, report=dt.date(2026, 4, 13)) == {ProblemCode.REPORT_AFTER_RECORDING}
    assert one(Measure(MeasureKind.CASE), report=dt.date(2026, 4, 11)) == {ProblemCode.REPORT_WITHOUT_ORDER}


def test_team_of_one_and_no_items_and_no_code() -> None:
    assert codes_of(check_result(result(team=("I001",)), VISITS, LEAD)) == {ProblemCode.TEAM_TOO_SMALL}
    assert codes_of(check_result(result(items=()), VISITS, LEAD)) == {ProblemCode.NO_ITEMS}
    assert codes_of(check_result(result(items=items(ItemResult("DJ-GS-01", ()))), VISITS, LEAD)) == {
        ProblemCode.NO_CODE
    }


def test_every_problem_is_returned_at_once_sorted() -> None:
    r = result(
        plan_id=PLAN,
        completed_on=dt.date(2026, 1, 5),
        team=("I001",),
        items=items(ItemResult("DJ-GS-01", ("1", "Q"))),
        recorded_by="I9",
    )
    problems = check_result(r, VISITS, Recorder("I9", "inspector"))
    assert codes_of(problems) == {
        ProblemCode.BEFORE_WINDOW,
        ProblemCode.TEAM_TOO_SMALL,
        ProblemCode.UNKNOWN_CODE,
        ProblemCode.NO_PROBLEM_COMBINED,
        ProblemCode.NOT_YOUR_VISIT,
    }
    assert problems == sorted(problems)


def test_visit_ref_from_a_plan_visit() -> None:
    from engine.plan.model import Visit, VisitItem

    v = Visit(
        id=USCC, uscc=USCC, region="445203", items=(VisitItem("DJ-GS-01", True, False),), team=("I1", "I2"),
        lead="I1", experts=(), due_from=dt.date(2026, 1, 1), due_to=dt.date(2026, 12, 31), priority=1, risk=None,
    )  # fmt: skip
    ref = VisitRef.from_visit(PLAN, v)
    assert ref == VisitRef(PLAN, USCC, USCC, ("DJ-GS-01",), ("I1", "I2"), dt.date(2026, 1, 1), dt.date(2026, 12, 31))


# ── files ───────────────────────────────────────────────────────────────────────────────────────────────────

COLS = list(HEADERS.values())
RECORDED = dt.date(2026, 4, 12)


def row(**cells: object) -> list[object]:
    base: dict[str, object] = {
        "plan_id": PLAN,
        "visit_id": USCC,
        "uscc": USCC,
        "item_code": "DJ-GS-01",
        "completed_on": dt.datetime(2026, 4, 10),
        "result_codes": "未发现问题",
        "team": "I001、I002",
    }
    base.update(cells)
    return [base.get(f) for f in HEADERS]


ONE_ITEM = {VISIT.key: replace(VISIT, items=("DJ-GS-01",))}


def read(rows: list[list[object]], headers: list[object] | None = None, visits=ONE_ITEM, **kw: object):  # type: ignore[no-untyped-def]
    return read_results(headers or COLS, rows, visits, LEAD, RECORDED, **kw)  # type: ignore[arg-type]


def test_a_file_of_two_item_rows_makes_one_visit_result() -> None:
    got = read(
        [
            row(),
            row(
                item_code="SC-SP-02",
                result_codes="3；A",
                measures="责令改正",
                deadline="2026/4/30",
                findings="后厨未设防鼠设施",
                completed_on="",
                team="",
            ),
        ],
        visits=VISITS,
    )
    assert got.problems == []
    (r,) = got.results
    assert r.fingerprint() == result().fingerprint()
    assert r.recorded_on == RECORDED and r.recorded_by == "I001" and r.version == 1


def test_file_problems_name_row_and_column() -> None:
    got = read([row(result_codes="Q"), row(item_code="SC-SP-02", completed_on="明天")], visits=VISITS)
    assert [(p.row, p.field, p.code) for p in got.problems] == [
        (2, "检查结果", ProblemCode.UNKNOWN_CODE),
        (3, "完成日期", ProblemCode.BAD_DATE),
    ]
    assert got.results == []
    assert str(got.problems[1]).startswith("row 3 [完成日期]: bad_date:")
    assert got.problems[0].to_row_problem("r.xlsx").file == "r.xlsx"


def test_an_edited_header_is_refused_before_any_row() -> None:
    headers = [h if h != "完成日期" else "完成时间" for h in COLS]
    got = read([row()], headers=headers)  # type: ignore[arg-type]
    assert [(p.row, p.field, p.code) for p in got.problems] == [(1, "完成日期", ProblemCode.MISSING_HEADER)]
    got = read([row()], headers=[*COLS, "检查结果"])
    assert [p.code for p in got.problems] == [ProblemCode.DUPLICATE_HEADER]


def test_rows_of_one_visit_that_disagree_are_refused() -> None:
    got = read([row(), row(item_code="SC-SP-02", result_codes="E", completed_on="2026-04-11")], visits=VISITS)
    assert [(p.row, p.code) for p in got.problems] == [(3, ProblemCode.INCONSISTENT_VISIT)]


def test_unfilled_and_blank_rows_are_skipped_and_reimport_changes_nothing() -> None:
    got = read([row(), row(completed_on="", result_codes=""), [None] * len(COLS)])
    assert got.blank == 1 and len(got.results) == 1
    history = History().add(got.results[0])
    again = read([row()], histories={VISIT.key: history})
    assert again.results == [] and again.problems == [] and again.unchanged == [VISIT.key]
    changed = read([row(result_codes="E")], histories={VISIT.key: history})
    assert [p.code for p in changed.problems] == [ProblemCode.CORRECTION_WITHOUT_REASON]
    assert changed.problems[0].field == "更正原因"
    fixed = read([row(result_codes="E", correction_reason="复核更正")], histories={VISIT.key: history})
    assert fixed.problems == [] and fixed.results[0].version == 2


def test_an_unknown_measure_and_an_excel_float_code() -> None:
    got = read([row(result_codes=6.0, measures="罚款")])
    assert [(p.field, p.code) for p in got.problems] == [("处置措施", ProblemCode.UNKNOWN_MEASURE)]
    got = read([row(result_codes=6.0)])
    assert got.problems == [] and got.results[0].items[0].result_codes == ("6",)
    # A file cut after the first row of a two-item visit: the missing item is named on the visit's row.
    cut = read([row()], visits=VISITS)
    assert [(p.row, p.field, p.code) for p in cut.problems] == [(2, "抽查事项代码", ProblemCode.ITEM_MISSING)]


cell = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(),
    st.floats(allow_nan=True),
    st.dates().map(lambda d: d),
    st.sampled_from(["1", "3；A", "责令改正", PLAN, USCC, "DJ-GS-01", "2026-04-10", "I001,I002"]),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(st.sampled_from(COLS), st.text(max_size=6)), max_size=14),
    st.lists(st.lists(cell, max_size=14), max_size=6),
)
def test_any_cells_give_problems_never_an_exception(headers: list[str], rows: list[list[object]]) -> None:
    got = read_results(headers, rows, VISITS, LEAD, RECORDED)
    assert all(p.row >= 1 for p in got.problems)
    # A visit is either accepted whole or rejected: no accepted visit has a row with a problem.
    accepted_rows = {r for x in got.results for r in got.rows_of[x.key]}
    assert not accepted_rows & got.rejected_rows()


@settings(max_examples=100, deadline=None)
@given(st.lists(cell, min_size=len(COLS), max_size=len(COLS)))
def test_any_row_under_the_right_headers_gives_problems_never_an_exception(cells: list[object]) -> None:
    got = read_results(COLS, [cells], VISITS, LEAD, RECORDED)
    assert len(got.results) + len(got.unchanged) <= 1
    assert got.problems == sorted(got.problems)
