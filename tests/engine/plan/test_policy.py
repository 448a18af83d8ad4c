"""The policy model: ratios read exactly, defaults with their sources, contradictions refused in one line."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest

from engine.plan import ItemPolicy, Period, PlanPolicy
from engine.plan.policy import ratio_value, show_ratio
from entities.errors import InputError


@pytest.mark.parametrize(
    "given, shown",
    [
        (0.05, "5%"),
        ("5%", "5%"),
        ("0.025", "2.5%"),
        (Fraction(1, 3), "1/3"),
        (Decimal("1"), "100%"),
        (0, "0%"),
        ("0.1234%", "0.1234%"),
    ],
)
def test_ratios_are_read_exactly(given: object, shown: str) -> None:
    p = PlanPolicy(credit_ratios={"A": given})  # type: ignore[dict-item]  # any ratio notation is accepted
    assert p.credit_ratios["A"] == shown
    assert show_ratio(ratio_value(shown)) == shown


def test_defaults() -> None:
    p = PlanPolicy()
    assert p.credit_ratios == {"A": "2%", "B": "5%", "C": "100%", "D": "100%"}
    assert p.general_cap == "5%"
    assert p.excluded_statuses == ("cancelled", "revoked", "moved_out", "annulled")
    assert p.no_repeat_days == {"food": 90}
    assert p.same_year_exclusions == {"special_equipment": ("post_licence",)}
    assert p.team_size == 2 and p.qualified_members == {"special_equipment": 2}
    assert p.item_seeds == "shared" and p.merge == "all" and p.whitelist == "none"
    assert not p.class_a_leads_only and not p.no_class_exempt and p.annual_random_cap is None


@pytest.mark.parametrize(
    "data, words",
    [
        ({"credit_ratios": {"A": "120%"}}, "credit_ratios.A: sampling ratio '120%' is outside 0..1"),
        ({"credit_ratios": {"A": "lots"}}, "is not a number"),
        ({"no_class_exempt": True, "class_a_leads_only": True}, "forbids class_a_leads_only"),
        (
            {"no_class_exempt": True, "credit_ratios": {"A": 0, "B": "5%"}},
            "forbids a 0 ratio (credit_ratios: class A)",
        ),
        ({"excluded_statuses": ["active"]}, "must not exclude active"),
        ({"excluded_statuses": ["gone"]}, "unknown status 'gone'"),
        ({"same_year_exclusions": {"food": ["audit"]}}, "unknown check kind 'audit'"),
        ({"items": {"X": {"minimum": 3, "maximum": 1}}}, "maximum 1 is below minimum 3"),
        ({"items": {"X": {"grade_column": "food_grade"}}}, "needs grade_ratios"),
        ({"items": {"X": {"grade_ratios": {"A": 1}}}}, "without a grade_column"),
        ({"team_size": 0}, "team_size"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_policies_are_one_line(data: dict[str, object], words: str) -> None:
    with pytest.raises(InputError) as e:
        PlanPolicy.parse(data)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_policy_round_trips_through_json() -> None:
    p = PlanPolicy(
        items={"SP-CY-01": ItemPolicy(grade_column="food_grade", grade_ratios={"D": "100%"})},
        whitelist="exempt",
    )
    assert PlanPolicy.model_validate(p.model_dump(mode="json")) == p


def test_periods() -> None:
    assert Period.year(2024).days == 366
    q1 = Period.quarter(2025, 1)
    assert (q1.start, q1.end, q1.label) == (dt.date(2025, 1, 1), dt.date(2025, 3, 31), "2025Q1")
    assert Period.quarter(2025, 4).end == dt.date(2025, 12, 31)
    b = Period.batch("2025 第二批", dt.date(2025, 5, 1), dt.date(2025, 6, 15))
    assert b.kind == "batch" and b.days == 46
    with pytest.raises(InputError, match="ends .* before it starts"):
        Period.batch("x", dt.date(2025, 2, 1), dt.date(2025, 1, 1))
    with pytest.raises(InputError, match="longer than a year"):
        Period.batch("x", dt.date(2025, 1, 1), dt.date(2026, 1, 1))
    with pytest.raises(InputError, match="quarter must be 1-4"):
        Period.quarter(2025, 5)
