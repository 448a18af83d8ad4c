"""Fitted plans (suijian.plan/2): capacity shared out before the draw, every drawn visit staffed, risk order kept."""

from __future__ import annotations

import gc
import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

import consistent_sampler as cs
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from engine.plan import ItemPolicy, PlanPolicy, subjects_frame
from engine.plan.fitted import Parked, collector_paused
from engine.plan.model import PLAN_FORMAT_FITTED, Plan
from entities.errors import InputError
from tests.engine.plan import world
from tests.engine.plan.world import SEED

FAST = settings(max_examples=6, deadline=None)
FREQ = {"A": 1.0, "B": 1.0, "C": 3.0, "D": 4.0}


def food_world(n: int = 400, seed: int = 3) -> Any:
    """The test world with food subjects due 1–4 checks a year by their food grade (D 4, C 3, A and B 1)."""
    rows = world.subject_rows(n, random.Random(seed))
    for r in rows:
        r["food_checks_per_year"] = FREQ[r["food_grade"]] if r["has_food_licence"] else None
    return subjects_frame(rows)


def fitted(frame: Any = None, **kwargs: Any) -> Plan:
    return world.plan(frame, fitted=True, **kwargs)


def drawn_pairs(p: Plan) -> set[tuple[str, str]]:
    return {(t.id, i.code) for i in p.items for s in i.strata for t in s.draw.drawn}


def visit_pairs(p: Plan) -> set[tuple[str, str]]:
    return {(v.uscc, i.code) for v in p.visits for i in v.items if i.drawn}


@FAST
@given(capacity=st.integers(1, 120), n=st.integers(60, 400), seed=st.integers(0, 50))
def test_every_drawn_visit_is_staffed(capacity: int, n: int, seed: int) -> None:
    frame = world.subjects(n, seed=seed)
    inspectors = world.roster(capacity=capacity, seed=seed)
    p = fitted(frame, inspectors=inspectors)
    assert p.format == PLAN_FORMAT_FITTED
    assert drawn_pairs(p) == visit_pairs(p)
    for d in (*p.uncovered, *p.unstaffed):
        assert not any((d.uscc, code) in drawn_pairs(p) for code in d.items)
    for load in p.team_load:
        assert load.visits <= load.capacity


@FAST
@given(n=st.integers(60, 300), seed=st.integers(0, 50))
def test_same_plan_whatever_the_order_of_rows_and_roster(n: int, seed: int) -> None:
    frame = food_world(n, seed)
    inspectors = world.roster(capacity=20, seed=seed)
    first = fitted(frame, inspectors=inspectors).to_json()
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
    again = fitted(shuffled, inspectors=list(reversed(inspectors))).to_json()
    assert first == again


def test_lambda_rises_with_capacity_to_the_asked_ratios() -> None:
    frame = world.subjects(300, seed=2)
    last = -1.0
    for capacity in (1, 5, 10, 20, 40, 80, 200):
        p = fitted(frame, inspectors=world.roster(capacity=capacity))
        assert p.fit is not None
        lam = float(p.fit["lambda"]["*"].rstrip("%")) / 100
        assert lam >= last
        last = lam
    assert last == 1.0  # with ample capacity the asked ratios are met in full


def test_drawn_tickets_are_the_public_packages() -> None:
    p = fitted(world.subjects(300, seed=5), inspectors=world.roster(capacity=30))
    checked = 0
    for item in p.items:
        for s in item.strata:
            assert s.key["cell"] == s.stratum
            assert len(s.draw.drawn) == min(s.draw.quota, s.draw.population)
            assert list(s.draw.drawn) == sorted(s.draw.drawn)
            for t in s.draw.drawn:
                assert t == cs.first_ticket(t.id, SEED)
                checked += 1
            if s.draw.next_in_line is not None and s.draw.drawn:
                assert s.draw.next_in_line > s.draw.drawn[-1]
    assert checked > 0


def test_frequency_work_goes_to_the_riskier_grade_first_and_is_spread() -> None:
    frame = food_world(600, seed=7)
    p = fitted(frame, inspectors=world.roster(capacity=25, seed=7))
    assert p.fit is not None
    freq = p.fit["frequency"]
    food = [r for r in freq if r["domain"] == "food" and r["needed"]]
    assert food, "the world has food subjects with frequencies"
    # Rows by risk (−visits a year × 1000): no less-risky row is covered while a riskier one is short.
    short_risk = min((r["risk"] for r in food if r["covered"] < r["needed"]), default=None)
    assert short_risk is not None, "capacity is scarce on purpose"
    for r in food:
        if r["risk"] > short_risk:
            assert r["covered"] == 0
    # Food visits per subject follow the grade: a D-grade subject covered in full has 4, a C-grade at most 3;
    # a subject's visits are numbered 1..count without gaps.
    grade = dict(frame.select("uscc", "food_grade").iter_rows())
    food = Counter(v.uscc for v in p.visits if "FOOD-01" in v.item_codes)
    assert any(n == 4 for u, n in food.items() if grade[u] == "D")
    assert all(n <= 3 for u, n in food.items() if grade[u] in ("A", "B", "C"))
    for u in {v.uscc for v in p.visits}:
        mine = [v for v in p.visits if v.uscc == u]
        assert sorted(v.index for v in mine) == list(range(1, len(mine) + 1))
        assert {v.count for v in mine} == {len(mine)}


def test_mandatory_work_comes_first_and_a_shortfall_is_named() -> None:
    frame = world.subjects(400, seed=9, mandatory_share=0.4)
    # Everyone holds every qualification: capacity mandatory work cannot use is capacity nobody can use.
    inspectors = [i.model_copy(update={"qualifications": world.QUALS}) for i in world.roster(n=4, capacity=10)]
    p = fitted(frame, inspectors=inspectors)
    assert p.fit is not None
    layer = next(x for x in p.fit["layers"] if x["name"] == "mandatory")
    assert layer["shortfall"] > 0
    named = sum(len(d.mandatory) > 0 for d in p.uncovered if d.code == "capacity")
    assert named > 0
    # Nothing drawn while mandatory work that the same inspectors could do is short.
    assert sum(i.drawn_count for i in p.items) == 0


def test_the_general_cap_is_on_the_items_total() -> None:
    # Class C and D ask 100 %: capped per stratum they would get 5 %; capped on the total they keep their weight.
    policy = PlanPolicy(general_cap="5%")
    p = fitted(world.subjects(400, seed=11), policy=policy, inspectors=world.roster(capacity=500))
    reg = p.item("REG-01")
    assert reg.quota <= (5 * reg.population) // 100
    ratios = {s.key["credit_class"]: s.ratio for s in reg.strata}
    assert len(set(ratios.values())) > 1, "strata keep their relative ratios inside the cap"


def test_legal_floor_is_kept_before_frequency_work() -> None:
    frame = food_world(500, seed=13)
    policy = PlanPolicy(items={"REG-01": ItemPolicy(floor="3%")})
    p = fitted(frame, policy=policy, inspectors=world.roster(capacity=12, seed=13))
    assert p.fit is not None
    floors = next(x for x in p.fit["layers"] if x["name"] == "floors")
    reg = next(i for i in p.fit["items"] if i["item"] == "REG-01")
    assert reg["floor_required"] == -(-3 * reg["population"] // 100)
    if floors["shortfall"] == 0:
        assert p.item("REG-01").quota >= reg["floor_required"] or reg["eligible"] < reg["floor_required"]


def test_per_item_seeds_are_refused_for_a_fitted_plan() -> None:
    with pytest.raises(InputError, match="item_seeds: per_item cannot make a fitted plan"):
        fitted(policy=PlanPolicy(item_seeds="per_item"))


def test_unfitted_documents_keep_their_bytes() -> None:
    # A plan/1 document names no field that came with fitted plans, so earlier plans replay to the same text.
    text = world.plan().to_json()
    for word in ('"risk_order"', '"frequencies"', '"fit_grid"', '"floor"', '"scheduled_on"', '"fit"'):
        assert word not in text
    assert '"format":"suijian.plan/1"' in text


def test_units_staff_the_townships_they_serve() -> None:
    from entities.models import OrgUnitCreate

    county = world.COUNTY
    inspectors = [
        i.model_copy(update={"unit": "一所" if n % 2 else "二所", "qualifications": world.QUALS})
        for n, i in enumerate(world.roster(n=12, capacity=30, experts=0))
    ]
    units = [
        OrgUnitCreate(name="一所", townships=[f"{county}001"]),
        OrgUnitCreate(name="二所", townships=[f"{county}002"]),  # nobody serves 003
    ]
    frame = world.subjects(300, seed=17)
    p = fitted(frame, inspectors=inspectors, units=units)
    unit_of = {i.id: i.unit for i in inspectors}
    serving = {f"{county}001": "一所", f"{county}002": "二所"}
    assert p.visits
    for v in p.visits:
        assert v.region != f"{county}003"
        assert {unit_of[m] for m in v.team} == {serving[v.region]}
    assert p.fit is not None
    unserved = [row for layer in p.fit["layers"] for row in layer["left_out"] if row["pool"] == "(no unit)"]
    assert unserved, "work in the township no unit serves is named as left out"


def test_key_units_get_their_higher_ratio() -> None:
    # 令57号 第9条: a provincial pack raises special-equipment key units' ratio (grade_column: equipment_key_unit).
    rows = world.subject_rows(400, random.Random(19))
    for n, r in enumerate(rows):
        r["equipment_key_unit"] = "true" if r["equipment_count"] and n % 3 == 0 else "false"
        r["hazard_level"] = "1"
    frame = subjects_frame(rows)
    policy = PlanPolicy(
        items={
            "SE-01": ItemPolicy(
                ratios={"A": "5%", "B": "5%", "C": "5%", "D": "5%"},
                # Several sector grades stratify one item; the highest ratio wins.
                grade_columns={
                    "equipment_key_unit": {"true": "100%", "false": "0%", "none": "0%"},
                    "hazard_level": {"1": "2%", "none": "0%"},
                },
            )
        }
    )
    p = fitted(frame, policy=policy, inspectors=world.roster(capacity=500))
    drawn = {t.id for s in p.item("SE-01").strata for t in s.draw.drawn}
    key_units = {r["uscc"] for r in rows if r["equipment_key_unit"] == "true" and r["status"] == "active"}
    others = {r["uscc"] for r in rows if r["equipment_count"] and r["equipment_key_unit"] == "false"}
    assert key_units and key_units <= drawn  # 100 % of key units
    assert len(drawn & others) <= -(-5 * len(others) // 100) + 3  # about 5 % of the rest (rounding per stratum)
    for s in p.item("SE-01").strata:
        assert s.key["equipment_key_unit"] in ("true", "false") and s.key["hazard_level"] == "1"


def test_collector_paused_while_planning_and_restored_after() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("a planning error")
    assert gc.isenabled()  # also after an error
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # a caller's own choice is kept
    finally:
        gc.enable()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.booleans()), min_size=1, max_size=30, unique_by=lambda t: t[0]))
def test_members_take_their_subject_columns_by_position_as_the_join_did(rows: list[tuple[int, bool]]) -> None:
    """fitted._with_subject_columns gathers region, risk and risk_rank at each member's row of `wide` (found by
    binary search on the USCC) when `wide` is in USCC order: the same frame as the left join on uscc it replaces;
    a `wide` not in that order is joined."""
    import polars as pl
    from polars.testing import assert_frame_equal

    from engine.plan.fitted import _with_subject_columns

    wide = pl.DataFrame(
        {
            "uscc": [f"91{n:016d}" for n, _ in rows],
            "region": [f"4401{n % 7:02d}" for n, _ in rows],
            "risk": [None if n % 5 == 0 else n / 3 for n, _ in rows],
            "risk_rank": pl.Series([n % 4 for n, _ in rows], dtype=pl.UInt16),
        }
    )
    members = wide.filter(pl.Series([m for _, m in rows])).select("uscc", pl.col("region").alias("cell"))
    for frame in (wide.sort("uscc"), wide.sort("uscc", descending=True), wide):
        got = _with_subject_columns(members.sort("uscc"), frame)
        joined = members.sort("uscc").join(frame.select("uscc", "region", "risk", "risk_rank"), on="uscc", how="left")
        assert_frame_equal(got, joined)


def test_the_tie_column_orders_equal_tickets_as_their_text() -> None:
    """_tie_order breaks equal 64-bit keys by the full ticket number, kept as a Categorical (4 bytes a subject, not a
    string): the order is the text's, whatever order the categories were made in."""
    import polars as pl

    from engine.plan.fitted import KEY, _tie_order

    members = pl.DataFrame(
        {
            "uscc": [f"91440101MA{n:08d}" for n in range(6)],
            "cell": ["*/b", "*/a", "*/a", "*/a", "*/b", "*/a"],
            KEY: pl.Series([7, 3, 3, 1, 2, 3], dtype=pl.UInt64),
        }
    )
    got = _tie_order(members, SEED)
    assert got.schema["_tie"] == pl.Categorical
    as_text = members.join(got.select("uscc", pl.col("_tie").cast(pl.String)), on="uscc").sort("cell", KEY, "_tie")
    assert got.get_column("uscc").to_list() == as_text.get_column("uscc").to_list()
    tied = got.filter(pl.col(KEY) == 3).get_column("_tie").to_list()
    assert all(tied) and tied == sorted(tied) and got.filter(pl.col(KEY) != 3).get_column("_tie").to_list() == [""] * 3


def test_ticket_keys_made_a_slice_at_a_time_are_the_whole_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """fitted._ticket_keys hashes the members a slice at a time here, and hands them to another machine whole."""
    from engine.plan import fitted
    from engine.sampling import ticket_keys

    usccs = pl.Series("uscc", [f"9144010{n:011d}" for n in range(53)])
    monkeypatch.setattr(fitted, "_KEY_ROWS", 7)  # eight slices, the last one short
    got = fitted._ticket_keys("20260101", usccs, None)
    assert got.dtype == pl.UInt64 and got.to_list() == ticket_keys("20260101", usccs.to_list()).tolist()
    calls: list[int] = []

    def elsewhere(seed: str, ids: Sequence[str]) -> Any:
        calls.append(len(ids))
        return ticket_keys(seed, ids)

    assert fitted._ticket_keys("20260101", usccs, elsewhere).equals(got) and calls == [53]
    assert fitted._ticket_keys("20260101", usccs.clear(), None).dtype == pl.UInt64


class _InMemory:
    """fitted.Parked without the file: the members kept as they are."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def take(self) -> pl.DataFrame:
        return self.frame

    def close(self) -> None:
        pass


def test_a_fit_made_again_reads_the_parked_members_back_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    # Capacity 2, 150 subjects, seed 0: the team builder leaves a drawn visit without a team at first, so the fit
    # is made again with 1% less capacity, from the members read back from their temporary file.
    frame, inspectors = world.subjects(150, seed=0), world.roster(capacity=2, seed=0)
    parked = fitted(frame, inspectors=inspectors)
    assert parked.fit["margin"] == "1%"
    assert drawn_pairs(parked) == visit_pairs(parked)
    monkeypatch.setattr("engine.plan.fitted.Parked", _InMemory)
    assert fitted(frame, inspectors=inspectors).to_json() == parked.to_json()


def test_a_parked_frame_reads_back_with_its_types() -> None:
    frame = pl.DataFrame(
        {
            "uscc": ["a", "b", None],
            "cell": pl.Series(["x", "y", "x"]).cast(pl.Enum(["x", "y"])),
            "_tie": pl.Series(["", "q", ""]).cast(pl.Categorical),
            "key": pl.Series([1, 2**64 - 1, 3], dtype=pl.UInt64),
        }
    )
    parked = Parked(frame)
    assert_frame_equal(parked.take(), frame)
    with pytest.raises(RuntimeError, match="taken already"):
        parked.take()


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 50), is_fitted=st.booleans())
def test_past_checks_with_categorical_codes_make_the_same_plan(seed: int, is_fitted: bool) -> None:
    # planning.history reads the item code, kind, level and lead as Categoricals (issue 15: 4 bytes a check): the
    # plan must be the one the same checks as text make, exclusions and previous leads included.
    frame = world.subjects(200, seed=seed)
    inspectors = world.roster(capacity=40, seed=seed)
    past = world.history(frame, inspectors, n=400, seed=seed).with_columns(
        pl.when(pl.int_range(pl.len()) % 3 == 0).then(pl.lit("county")).alias("level")
    )
    codes = past.with_columns(pl.col("item_code", "kind", "level", "lead_inspector").cast(pl.Categorical))
    policy = PlanPolicy(annual_random_cap=1)
    as_text = world.plan(frame, policy=policy, inspectors=inspectors, past=past, fitted=is_fitted)
    assert world.plan(frame, policy=policy, inspectors=inspectors, past=codes, fitted=is_fitted).to_json() == (
        as_text.to_json()
    )
