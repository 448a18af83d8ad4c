"""Results as data: content fingerprints, versions that never overwrite, the version in force."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.results.model import (
    History,
    ItemResult,
    Measure,
    MeasureKind,
    VisitResult,
    correct,
    current,
    current_by_visit,
    parse_measure_kind,
)
from entities.errors import InputError
from tests.engine.results.helpers import result


def test_round_trip_through_plain_data() -> None:
    r = result(version=2, correction_reason="日期录错")
    assert VisitResult.from_dict(r.to_dict()) == r


def test_fingerprint_ignores_who_when_and_which_version_but_not_what_was_found() -> None:
    r = result()
    same = result(recorded_on=dt.date(2026, 5, 1), recorded_by="S9", version=3, correction_reason="x")
    assert r.fingerprint() == same.fingerprint()
    reordered = replace(r, items=tuple(reversed(r.items)), team=("I002", "I001"))
    assert reordered.fingerprint() == r.fingerprint()
    other = replace(r, items=(ItemResult("DJ-GS-01", ("1",)), ItemResult("SC-SP-02", ("E",))))
    assert other.fingerprint() != r.fingerprint()


def test_rows_are_one_per_item_with_the_visit_fields_repeated() -> None:
    rows = result().rows()
    assert [r["item_code"] for r in rows] == ["DJ-GS-01", "SC-SP-02"]
    assert rows[1]["result_codes"] == ["3", "A"]
    assert rows[1]["measures"] == [{"kind": "rectify", "deadline": "2026-04-30", "note": ""}]
    assert {r["version"] for r in rows} == {1}
    assert result().result_codes == ("1", "3", "A")


def test_a_correction_is_a_new_version_and_the_first_stays_readable() -> None:
    first = result()
    fixed = correct(first, result(completed_on=dt.date(2026, 4, 9)), "完成日期录错")
    history = History().add(first).add(fixed)
    assert history.first == first and history.first.completed_on == dt.date(2026, 4, 10)
    assert history.current == fixed and fixed.version == 2 and fixed.correction_reason == "完成日期录错"
    assert current(history.versions) == fixed
    assert current([fixed, first]) == fixed


def test_a_second_result_without_a_reason_is_refused() -> None:
    history = History().add(result())
    with pytest.raises(InputError, match="needs a reason"):
        history.add(result(version=2))
    with pytest.raises(InputError, match="needs a reason"):
        correct(result(), result(), "  ")
    with pytest.raises(InputError, match="next version is 2"):
        history.add(result(version=5, correction_reason="x"))


def test_current_refuses_mixed_visits_and_current_by_visit_sorts_them_out() -> None:
    a = result()
    b = result(visit_id="other")
    with pytest.raises(InputError, match="two visits"):
        current([a, b])
    a2 = correct(a, a, "复核")
    assert current_by_visit([a2, b, a]) == {a.key: a2, b.key: b}
    assert current([]) is None


def test_measure_kinds_parse_from_their_labels() -> None:
    assert parse_measure_kind("责令改正") is MeasureKind.RECTIFY
    assert parse_measure_kind(" 监察指令 ") is MeasureKind.DIRECTIVE
    assert parse_measure_kind("CASE") is MeasureKind.CASE
    assert parse_measure_kind("罚款") is None


@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=8))
def test_corrections_keep_every_version(reasons: list[str]) -> None:
    r = result()
    history = History().add(r)
    for n, reason in enumerate(reasons):
        new = correct(history.current, result(items=(ItemResult("DJ-GS-01", (str(n % 3 + 3),)),)), reason + "x")
        history = history.add(new)
    assert [v.version for v in history.versions] == list(range(1, len(reasons) + 2))
    assert history.first == r
    assert history.current is not None and history.current.version == len(reasons) + 1
    assert current(reversed(history.versions)) == history.current
    assert all(v.correction_reason for v in history.versions[1:])
    assert Measure(MeasureKind.RECTIFY).deadline is None
