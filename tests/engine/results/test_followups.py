"""Follow-ups from results: re-checks, the special-equipment ladder, listing and penalty-case proposals."""

from __future__ import annotations

import dataclasses
import datetime as dt

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.features.result_facts import RESULT_REGISTRY
from engine.plan.calendar import WorkCalendar
from engine.results.codes import default_codes
from engine.results.followups import (
    Decision,
    ItemFacts,
    ProposalKind,
    decide,
    facts,
    list_entry,
    propose,
)
from engine.results.model import ItemResult, Measure, MeasureKind, VisitResult
from engine.rules import load_pack
from entities.errors import Forbidden, InputError
from tests.engine.results.helpers import result
from tests.engine.results.reference_followups import reference_proposals

CAL = WorkCalendar()
PACK = load_pack("rules/national")
DOMAINS = {"TS-SY-01": "special_equipment", "SP-CY-01": "food", "DJ-GS-01": "registration"}


def one(
    item: str,
    codes: tuple[str, ...],
    *measures: Measure,
    report: dt.date | None = None,
    as_of: dt.date = dt.date(2026, 4, 20),
    rechecks: tuple[VisitResult, ...] = (),
    made: bool | None = None,
) -> list:  # type: ignore[type-arg]
    r = result(items=(ItemResult(item, codes, measures=measures, rectification_report_on=report),))
    fs = facts(r, DOMAINS, CAL, as_of, rechecks=rechecks, publications_made={(r.plan_id, r.visit_id, item): made} if made is not None else None)  # fmt: skip
    return propose(fs, CAL, PACK)


def kinds(proposals) -> list[ProposalKind]:  # type: ignore[no-untyped-def]
    return [p.kind for p in proposals]


def test_an_order_with_a_deadline_gets_a_recheck_after_it() -> None:
    deadline = dt.date(2026, 4, 30)
    (p,) = one("SP-CY-01", ("3",), Measure(MeasureKind.RECTIFY, deadline))
    assert p.kind is ProposalKind.RECHECK and not p.needs_decision
    assert p.earliest == CAL.add_working_days(deadline, 1) > deadline
    assert not chinese_calendar.is_holiday(p.earliest)
    assert p.latest == CAL.add_working_days(deadline, 10)


def test_no_recheck_once_rechecked_and_none_for_no_problem() -> None:
    later = result(visit_id="V-re", completed_on=dt.date(2026, 5, 8), items=(ItemResult("SP-CY-01", ("E",)),))
    assert one("SP-CY-01", ("3",), Measure(MeasureKind.RECTIFY, dt.date(2026, 4, 30)), rechecks=(later,)) == []
    assert one("SP-CY-01", ("1",)) == []


def test_special_equipment_is_rechecked_within_10_working_days_of_the_report() -> None:
    report = dt.date(2026, 9, 24)
    (p,) = one(
        "TS-SY-01",
        ("4",),
        Measure(MeasureKind.DIRECTIVE, dt.date(2026, 9, 30)),
        report=report,
        as_of=dt.date(2026, 9, 25),
    )
    assert p.kind is ProposalKind.RECHECK and "第29条" in p.basis
    day, left = report, 10
    while left:
        day += dt.timedelta(days=1)
        left -= chinese_calendar.is_workday(day)
    assert p.latest == day and p.latest > dt.date(2026, 10, 7)  # after the National Day holidays
    assert p.earliest == dt.date(2026, 9, 28)  # 中秋 25–27 September are not working days


def test_a_finding_on_special_equipment_without_a_directive_proposes_one() -> None:
    assert kinds(one("TS-SY-01", ("4",))) == [ProposalKind.DIRECTIVE]
    assert kinds(one("TS-SY-01", ("E",))) == []  # corrected on the spot


def test_the_ladder_stop_use_after_a_directive_not_complied_with() -> None:
    directive = Measure(MeasureKind.DIRECTIVE, dt.date(2026, 4, 30))
    not_fixed = result(visit_id="V-re", completed_on=dt.date(2026, 5, 8), items=(ItemResult("TS-SY-01", ("4",)),))
    fixed = result(visit_id="V-re", completed_on=dt.date(2026, 5, 8), items=(ItemResult("TS-SY-01", ("E",)),))
    got = one("TS-SY-01", ("4",), directive, as_of=dt.date(2026, 5, 11), rechecks=(not_fixed,))
    assert kinds(got) == [ProposalKind.STOP_USE, ProposalKind.PENALTY_CASE]
    assert all("第83条" in p.basis for p in got) and all(p.needs_decision for p in got)
    assert one("TS-SY-01", ("4",), directive, as_of=dt.date(2026, 5, 11), rechecks=(fixed,)) == []
    # Before the deadline nothing escalates, and without a re-check nobody knows: a re-check is proposed.
    assert kinds(one("TS-SY-01", ("4",), directive, as_of=dt.date(2026, 4, 29))) == [ProposalKind.RECHECK]


def test_stop_use_at_the_visit_proposes_a_case_under_article_84() -> None:
    (p,) = one("TS-SY-01", ("4",), Measure(MeasureKind.STOP_USE))
    assert p.kind is ProposalKind.PENALTY_CASE and "第84条" in p.basis
    assert one("TS-SY-01", ("4",), Measure(MeasureKind.STOP_USE), Measure(MeasureKind.CASE)) == []


def test_unreachable_is_a_listing_proposal_a_supervisor_decides() -> None:
    (p,) = one("DJ-GS-01", ("6",))
    assert p.kind is ProposalKind.LIST_ABNORMAL and p.needs_decision
    assert "第4条第（四）项" in p.basis
    confirmed = decide(p, Decision.CONFIRM, "S9", "supervisor", dt.date(2026, 4, 22))
    assert list_entry(confirmed) == {
        "uscc": p.uscc, "list_name": "abnormal", "listed_on": dt.date(2026, 4, 22), "removed_on": None,
        "reason": f"{p.reason}（{p.basis}）",
    }  # fmt: skip
    assert list_entry(decide(p, Decision.REJECT, "S9", "supervisor", dt.date(2026, 4, 22), "已联系上")) is None
    with pytest.raises(Forbidden, match="supervisor"):
        decide(p, Decision.CONFIRM, "I001", "inspector", dt.date(2026, 4, 22))
    with pytest.raises(InputError, match="needs a reason"):
        decide(p, Decision.REJECT, "S9", "supervisor", dt.date(2026, 4, 22))


def test_not_publishing_is_a_listing_cause_only_after_a_missed_ordered_deadline() -> None:
    assert kinds(one("DJ-GS-01", ("B",))) == [ProposalKind.ORDER_PUBLICATION]
    order = Measure(MeasureKind.ORDER_PUBLISH, dt.date(2026, 5, 15))
    assert one("DJ-GS-01", ("B",), order, as_of=dt.date(2026, 5, 14), made=False) == []
    assert one("DJ-GS-01", ("B",), order, as_of=dt.date(2026, 5, 20), made=True) == []
    assert one("DJ-GS-01", ("B",), order, as_of=dt.date(2026, 5, 20)) == []  # not known: no proposal
    (p,) = one("DJ-GS-01", ("B",), order, as_of=dt.date(2026, 5, 20), made=False)
    assert p.kind is ProposalKind.LIST_ABNORMAL and "第4条第（二）项" in p.basis


def test_false_information_is_a_penalty_case_not_a_listing() -> None:
    (p,) = one("DJ-GS-01", ("C",))
    assert p.kind is ProposalKind.PENALTY_CASE and "2024" in p.basis
    assert one("DJ-GS-01", ("C",), Measure(MeasureKind.CASE)) == []


def test_codes_that_end_checks_propose_nothing() -> None:
    for code in ("9", "10", "11", "12"):
        assert one("DJ-GS-01", (code, "6")) == []


def test_rule_input_is_the_result_fact_vocabulary() -> None:
    r = result()
    (f1, f2) = facts(r, {**DOMAINS, "SC-SP-02": "food"}, CAL, dt.date(2026, 5, 6))
    feats = f2.rule_input()
    # A domain the vocabulary does not know reads as "other".
    assert facts(r, DOMAINS, CAL, dt.date(2026, 5, 6))[1].rule_input()["item_domain"] == "other"
    assert set(feats) == set(RESULT_REGISTRY)
    for name, value in feats.items():
        kind = RESULT_REGISTRY[name].type
        assert value is None and RESULT_REGISTRY[name].nullable or type(value).__name__ == kind, name
    assert feats["item_domain"] == "food" and feats["rectify_ordered"] and not feats["directive_issued"]
    assert feats["found_problem"] and feats["problem_open"]
    # 1–5 May 2026 are the Labour Day holidays: the 6th is one working day past the deadline of 30 April.
    assert feats["working_days_past_deadline"] == 1


def test_a_pack_without_followup_rules_is_refused_in_one_line() -> None:
    """An active pack published before 2026.3 has no follow-up table: say so, do not propose nothing quietly."""
    older = dataclasses.replace(PACK, followups=(), version="2026.2")
    fs = facts(result(), DOMAINS, CAL, dt.date(2026, 5, 6))
    with pytest.raises(InputError, match=r"rule pack national 2026.2 has no follow-up decisions \(followups.yaml\)"):
        propose(fs, CAL, older)


code_sets = st.sets(st.sampled_from([c.code for c in default_codes()]), min_size=1, max_size=4)
measure_sets = st.lists(
    st.builds(Measure, st.sampled_from(list(MeasureKind)), st.one_of(st.none(), st.dates(dt.date(2026, 4, 10), dt.date(2026, 8, 31)))),
    max_size=3,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(sorted(DOMAINS)),
    code_sets,
    measure_sets,
    st.one_of(st.none(), st.dates(dt.date(2026, 4, 10), dt.date(2026, 6, 30))),
    st.dates(dt.date(2026, 4, 10), dt.date(2026, 11, 30)),
    st.one_of(st.none(), st.booleans()),
    st.sets(st.sampled_from(["1", "E", "3", "4"]), max_size=2),
)
def test_nothing_ever_proposes_the_serious_violation_list(
    item: str,
    codes: set[str],
    measures: list[Measure],
    report: dt.date | None,
    as_of: dt.date,
    made: bool | None,
    recheck_codes: set[str],
) -> None:
    """The deleted 2014 rule (3 years on the 经营异常名录 → 严重违法企业名单) is not encoded, in any form."""
    rechecks = (
        (
            result(
                visit_id="V-re",
                completed_on=dt.date(2026, 4, 11),
                items=(ItemResult(item, tuple(recheck_codes)),),
            ),
        )
        if recheck_codes
        else ()
    )
    got = one(item, tuple(sorted(codes)), *measures, report=report, as_of=as_of, rechecks=rechecks, made=made)
    assert got == one(item, tuple(sorted(codes)), *measures, report=report, as_of=as_of, rechecks=rechecks, made=made)
    for p in got:
        # The basis of C may cite 第18条's penalty route to that list; no proposal's own reason leads there.
        assert "严重违法" not in p.reason
        entry = list_entry(decide(p, Decision.CONFIRM, "S", "supervisor", as_of)) if p.needs_decision else None
        assert entry is None or entry["list_name"] == "abnormal"
        if p.kind is ProposalKind.LIST_ABNORMAL:
            assert codes & {"6", "B"}
        if p.kind is ProposalKind.PENALTY_CASE:
            assert "C" in codes or item == "TS-SY-01"
    assert {k.value for k in ProposalKind}.isdisjoint({"serious_violation", "list_serious"})


def test_years_on_the_abnormal_list_lead_nowhere() -> None:
    """Even a result 6 checked three and more years ago proposes only the abnormal list, never more."""
    r = result(completed_on=dt.date(2022, 3, 1), items=(ItemResult("DJ-GS-01", ("6",)),))
    fs = facts(r, DOMAINS, CAL, dt.date(2026, 3, 2))
    assert kinds(propose(fs, CAL, PACK)) == [ProposalKind.LIST_ABNORMAL]
    assert isinstance(fs[0], ItemFacts)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(DOMAINS)),
    code_sets,
    measure_sets,
    st.one_of(st.none(), st.dates(dt.date(2026, 4, 10), dt.date(2026, 6, 30))),
    st.dates(dt.date(2026, 4, 10), dt.date(2026, 11, 30)),
    st.one_of(st.none(), st.booleans()),
    st.sets(st.sampled_from(["1", "E", "3", "4"]), max_size=2),
)
def test_the_pack_rules_propose_what_the_reference_reading_of_the_law_does(
    item: str,
    codes: set[str],
    measures: list[Measure],
    report: dt.date | None,
    as_of: dt.date,
    made: bool | None,
    recheck_codes: set[str],
) -> None:
    """Reference vs engine: the national pack's follow-up table on durable-rules gives the same kinds and re-check
    windows as the hand-written reading of the articles (the code this table replaced, kept as the oracle)."""
    rechecks = (
        (result(visit_id="V-re", completed_on=dt.date(2026, 4, 11), items=(ItemResult(item, tuple(recheck_codes)),)),)
        if recheck_codes
        else ()
    )
    r = result(
        items=(ItemResult(item, tuple(sorted(codes)), measures=tuple(measures), rectification_report_on=report),)
    )
    made_map = {(r.plan_id, r.visit_id, item): made} if made is not None else None
    fs = facts(r, DOMAINS, CAL, as_of, rechecks=rechecks, publications_made=made_map)
    got = {(p.kind, p.earliest, p.latest) for p in propose(fs, CAL, PACK)}
    assert got == reference_proposals(fs, CAL)
