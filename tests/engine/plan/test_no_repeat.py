"""令49号 第42条 in the draw: after a higher level's check of an item, the lower level does not draw the subject for
that item for three months — unless a problem was found (涉嫌违法或者存在明显食品安全隐患). Same- and lower-level
checks, checks of other items, checks outside the window and results recorded for the store's own plans do not
exclude; a check whose level is not recorded does (the conservative reading, and the rule older plans used)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from engine.plan import PlanPolicy, history_frame, subjects_frame
from engine.plan.frames import check_history
from engine.plan.model import Plan
from engine.plan.select import EXCLUSION_REASONS
from entities.errors import InputError
from tests.engine.plan.world import AS_OF, item, plan, uscc

FOOD = item("FOOD-01", domain="food", target={"has_food_licence": True}, required_qualifications=["food"])
OTHER = item("FOOD-02", domain="food", target={"has_food_licence": True}, required_qualifications=["food"])
ALL = dict.fromkeys("ABCD", "100%")  # every eligible subject is drawn: the eligible set is the drawn set


def check(
    k: int, days: int, level: str | None, *, code: str = "FOOD-01", finding: bool = False, own: bool = False
) -> dict[str, Any]:
    return {
        "uscc": uscc(k),
        "checked_on": AS_OF - dt.timedelta(days=days),
        "item_code": code,
        "kind": "random",
        "level": level,
        "finding": finding,
        "own": own,
    }


def food_plan(checks: list[dict[str, Any]], n: int, **policy: Any) -> Plan:
    rows = [{"uscc": uscc(k), "region": "440111001", "has_food_licence": True} for k in range(n)]
    return plan(
        subjects_frame(rows),
        items=[FOOD, OTHER],
        policy=PlanPolicy(credit_ratios=ALL, **policy),
        past=history_frame(checks),
    )


def drawn(p: Plan, code: str = "FOOD-01") -> set[str]:
    return {i for s in p.item(code).strata for i in s.draw.drawn_ids}


# One subject per case; the plan is the county's (the default level). The window is 90 days before the first day
# a visit can happen (as-of 2025-01-02, inside the 2025 period).
CASES: list[tuple[str, list[dict[str, Any]], bool]] = [
    ("national, 60 days ago, nothing found", [check(0, 60, "national")], True),
    ("provincial, 60 days ago, nothing found", [check(0, 60, "provincial")], True),
    ("city, 60 days ago, nothing found", [check(0, 60, "city")], True),
    ("city, 89 days ago: inside the window", [check(0, 89, "city")], True),
    ("city, 90 days ago: outside the window", [check(0, 90, "city")], False),
    ("city, 100 days ago", [check(0, 100, "city")], False),
    ("county (the same level), 30 days ago", [check(0, 30, "county")], False),
    ("city, 60 days ago, found a problem", [check(0, 60, "city", finding=True)], False),
    (
        "city clean 60 days ago, a county check found a problem 30 days ago",
        [check(0, 60, "city"), check(0, 30, "county", finding=True)],
        False,
    ),
    (
        "a problem found 60 days ago, the city's clean re-check 30 days ago",
        [check(0, 60, "county", finding=True), check(0, 30, "city")],
        True,
    ),
    (
        "two city checks on one day, one found a problem",
        [check(0, 30, "city"), check(0, 30, "city", finding=True)],
        False,
    ),
    ("city, 30 days ago, on another item", [check(0, 30, "city", code="FOOD-02")], False),
    ("level not recorded, 30 days ago", [check(0, 30, None)], True),
    ("a result recorded for the store's own plan, 30 days ago", [check(0, 30, None, own=True)], False),
    ("no past check", [], False),
]


@pytest.mark.parametrize(("name", "checks", "excluded"), CASES, ids=[c[0] for c in CASES])
def test_the_no_repeat_rule_case_by_case(name: str, checks: list[dict[str, Any]], excluded: bool) -> None:
    p = food_plan(checks, 1)
    assert p.item("FOOD-01").exclusions["no_repeat"] == int(excluded)
    assert drawn(p) == (set() if excluded else {uscc(0)})


def test_the_cases_together_count_under_no_repeat_and_other_items_are_untouched() -> None:
    checks = [dict(c, uscc=uscc(k)) for k, (_, cs, _) in enumerate(CASES) for c in cs]
    p = food_plan(checks, len(CASES))
    expected = {uscc(k) for k, (_, _, excluded) in enumerate(CASES) if excluded}
    assert p.item("FOOD-01").exclusions["no_repeat"] == len(expected) == 6
    assert drawn(p) == {uscc(k) for k in range(len(CASES))} - expected
    # FOOD-02's only past check (case "another item") is the city's, 30 days ago: that one subject is out.
    assert p.item("FOOD-02").exclusions["no_repeat"] == 1
    assert "higher level" in EXCLUSION_REASONS["no_repeat"] and "令49号第42条" in EXCLUSION_REASONS["no_repeat"]


@pytest.mark.parametrize(
    ("plan_level", "excluded_by"),
    [
        ("county", {"city", "provincial", "national", None}),
        ("city", {"provincial", "national", None}),
        ("provincial", {"national", None}),
        ("national", {None}),
    ],
)
def test_only_levels_above_the_plans_own_exclude(plan_level: str, excluded_by: set[str | None]) -> None:
    levels: list[str | None] = ["county", "city", "provincial", "national", None]
    p = food_plan([check(k, 30, level) for k, level in enumerate(levels)], len(levels), plan_level=plan_level)
    assert drawn(p) == {uscc(k) for k, level in enumerate(levels) if level not in excluded_by}
    assert p.item("FOOD-01").exclusions["no_repeat"] == len(excluded_by)


@pytest.mark.parametrize("fitted", [False, True], ids=["plan/1", "plan/2"])
def test_a_history_without_level_columns_reads_as_before(fitted: bool) -> None:
    """A plan recorded before levels were recorded has a history frame of five columns: every check counts, and the
    document has no plan_level, as such plans' documents have none."""
    old = history_frame([check(0, 30, "county"), check(1, 100, "city")]).drop("level", "finding", "own")
    rows = [{"uscc": uscc(k), "region": "440111001", "has_food_licence": True} for k in range(3)]
    p = plan(subjects_frame(rows), items=[FOOD], policy=PlanPolicy(credit_ratios=ALL), past=old, fitted=fitted)
    assert p.fitted is fitted
    assert p.item("FOOD-01").exclusions["no_repeat"] == 1
    assert uscc(0) not in drawn(p)
    assert '"plan_level"' not in p.to_json()
    assert check_history(old, AS_OF).columns == list(history_frame().columns)


def test_an_unknown_level_in_the_history_is_one_line() -> None:
    past = history_frame([check(3, 30, "township")])
    with pytest.raises(InputError) as info:
        food_plan(list(past.to_dicts()), 4)
    assert str(info.value) == (
        f"history: the check of {uscc(3)} on 2024-12-03 has level 'township' "
        "(known: national, provincial, city, county; empty when not recorded)"
    )


def test_plan_level_is_checked_and_left_out_of_the_document_at_its_default() -> None:
    default = PlanPolicy()
    assert default.plan_level == "county"
    for fitted in (False, True):
        assert "plan_level" not in default.document(fitted)
        assert PlanPolicy(plan_level="city").document(fitted)["plan_level"] == "city"
    assert PlanPolicy.parse({"plan_level": "provincial"}).plan_level == "provincial"
    with pytest.raises(InputError) as info:
        PlanPolicy.parse({"plan_level": "township"})
    assert str(info.value).startswith("plan policy: plan_level: Input should be 'national', 'provincial'")


def test_a_city_plan_records_its_level_and_reads_back() -> None:
    p = food_plan([check(0, 30, "city")], 1, plan_level="city")
    again = Plan.from_json(p.to_json())
    assert again.policy.plan_level == "city" and again.to_json() == p.to_json()
    assert drawn(p) == {uscc(0)}


def test_the_policys_levels_are_the_check_levels() -> None:
    from typing import get_args

    from engine.plan.policy import PlanLevelName
    from entities.enums import CHECK_LEVELS

    assert get_args(PlanLevelName) == CHECK_LEVELS == ("national", "provincial", "city", "county")
