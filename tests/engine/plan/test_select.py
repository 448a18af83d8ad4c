"""Selection per item: targets, exclusions by reason, strata, exact quotas, and draws the public package reproduces."""

from __future__ import annotations

import datetime as dt
from typing import Any

import consistent_sampler as cs
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.plan import ItemPolicy, PlanPolicy, history_frame, subjects_frame
from engine.plan.policy import ratio_value
from engine.plan.select import with_strata
from engine.sampling import derive_seed, quota, ticket
from entities.errors import InputError
from tests.engine.plan import world
from tests.engine.plan.world import AS_OF, SEED, item, plan, uscc

FAST = settings(max_examples=30, deadline=None)


def stratum_members(frame: pl.DataFrame, code: str, stratum: str, p: object) -> list[str]:
    """The ids an auditor would put in one stratum, recomputed from the frame and the plan's own key."""
    plan_item = p.item(code)  # type: ignore[attr-defined]
    s = next(s for s in plan_item.strata if s.stratum == stratum)
    target = next(i for i in world.catalogue() if i.code == code).target
    rows = frame.to_dicts()
    out = []
    for r in rows:
        if r["status"] != "active":
            continue
        ok = True
        for feature, test in target.items():
            v = r[feature]
            if isinstance(test, dict):
                ok &= all((v in want) if op == "in" else (v is not None and v > want) for op, want in test.items())
            else:
                ok &= v == test
        if ok and r["region"][:6] == s.key["county"] and r["credit_class"] == s.key["credit_class"]:
            out.append(r["uscc"])
    return out


@FAST
@given(seed=st.text(min_size=20, max_size=40).filter(lambda s: s == s.strip()), n=st.integers(20, 200))
def test_drawn_ids_are_the_package_sample_per_stratum(seed: str, n: int) -> None:
    frame = world.subjects(n, seed=n)
    p = plan(frame, seed=seed)
    for code in ("SE-01", "REG-01"):
        for s in p.item(code).strata:
            members = stratum_members(frame, code, s.stratum, p)
            assert s.draw.population == len(members)
            assert list(s.draw.drawn_ids) == list(cs.sampler(members, seed, take=s.draw.quota, output="id"))
            assert list(s.draw.drawn) == [cs.first_ticket(i, seed) for i in s.draw.drawn_ids]


@FAST
@given(
    n=st.integers(1, 250),
    ratios=st.fixed_dictionaries({c: st.integers(0, 100) for c in "ABCD"}),
    minimum=st.integers(0, 3),
    extra=st.none() | st.integers(0, 20),
)
def test_quotas_exact_per_stratum(n: int, ratios: dict[str, int], minimum: int, extra: int | None) -> None:
    policy = PlanPolicy(
        items={
            "SE-01": ItemPolicy(
                ratios={c: f"{r}%" for c, r in ratios.items()},
                minimum=minimum,
                maximum=None if extra is None else minimum + extra,
            )
        }
    )
    p = plan(world.subjects(n, seed=n), policy=policy)
    se = p.item("SE-01")
    assert sum(s.draw.population for s in se.strata) == se.eligible
    for s in se.strata:
        expected = quota(ratio_value(s.ratio), s.draw.population, minimum, None if extra is None else minimum + extra)
        assert s.draw.quota == expected
        assert len(s.draw.drawn) == min(expected, s.draw.population)
        assert s.ratio == f"{ratios[s.key['credit_class']]}%"


def test_general_items_are_capped_and_key_items_are_not() -> None:
    p = plan()
    reg = p.item("REG-01")
    capped = [s for s in reg.strata if s.key["credit_class"] in "CD"]
    assert capped and all(s.ratio == "5%" and s.ratio_asked == "100%" for s in capped)
    assert all(ratio_value(s.ratio) <= ratio_value("5%") for s in reg.strata)
    se = p.item("SE-01")
    assert [s.ratio for s in se.strata if s.key["credit_class"] == "D"] == ["100%"]
    assert all(s.ratio_asked is None for s in se.strata)
    uncapped = plan(policy=PlanPolicy(general_cap=None)).item("REG-01")
    assert {s.ratio for s in uncapped.strata if s.key["credit_class"] in "CD"} == {"100%"}


def test_target_syntax_and_missing_values() -> None:
    items = [
        item("IN-01", target={"industry_section": {"in": ["F", "H"]}}),
        item("GT-01", target={"equipment_count": {">=": 2, "<": 5}}),
        item("NE-01", target={"subject_kind": {"!=": "individual"}}),
        item("EQ-01", target={"has_food_licence": False}),
    ]
    rows: list[dict[str, Any]] = [
        {
            "uscc": uscc(1),
            "region": "440111001",
            "industry_section": "F",
            "equipment_count": 2,
            "subject_kind": "enterprise",
            "has_food_licence": False,
        },
        {
            "uscc": uscc(2),
            "region": "440111001",
            "industry_section": None,
            "equipment_count": 5,
            "subject_kind": None,
            "has_food_licence": True,
        },
        {
            "uscc": uscc(3),
            "region": "440111001",
            "industry_section": "C",
            "equipment_count": None,
            "subject_kind": "individual",
            "has_food_licence": None,
        },
    ]
    p = plan(subjects_frame(rows), items=items, policy=PlanPolicy(credit_ratios=dict.fromkeys("ABCD", "100%")))
    drawn = {i.code: sorted(t.id for s in i.strata for t in s.draw.drawn) for i in p.items}
    # A missing (null) value never matches, not even `!=`.
    assert drawn == {"EQ-01": [uscc(1)], "GT-01": [uscc(1)], "IN-01": [uscc(1)], "NE-01": [uscc(1)]}


@pytest.mark.parametrize(
    "target, words",
    [
        ({"no_such_feature": 1}, "has no column for"),
        ({"equipment_count": "many"}, "cannot be"),
        ({"subject_kind": {">": 1}}, "cannot be"),
        ({"industry_section": {"in": "F"}}, "`in` needs a list"),
        ({"has_food_licence": 1}, "cannot be"),
    ],
)
def test_bad_targets_are_one_line(target: dict[str, object], words: str) -> None:
    with pytest.raises(InputError) as e:
        plan(items=[item("BAD-01", target=target)])
    assert words in str(e.value) and "BAD-01" in str(e.value) and "\n" not in str(e.value)


def test_exclusions_counted_under_their_first_reason() -> None:
    rows: list[dict[str, Any]] = [
        {
            "uscc": uscc(1),
            "region": "440111001",
            "credit_class": "A",
            "status": "cancelled",
            "whitelist": True,
        },
        {"uscc": uscc(2), "region": "440111001", "credit_class": "A", "status": "active", "whitelist": True},
        {"uscc": uscc(3), "region": "440111001", "credit_class": "B", "status": "active", "whitelist": True},
        {"uscc": uscc(4), "region": "440111001", "credit_class": "C", "status": "active"},
        {"uscc": uscc(5), "region": "440111001", "credit_class": "C", "status": "active"},
        {"uscc": uscc(6), "region": "440111001", "credit_class": "C", "status": "active"},
        {"uscc": uscc(7), "region": "440111001", "credit_class": "D", "status": "moved_out"},
        {"uscc": uscc(8), "region": "440111001", "credit_class": "D", "status": "active"},
    ]
    past = history_frame(
        [
            # uscc 4: checked on FOOD-01 60 days ago (within 90) → no_repeat; 5: 100 days ago → still drawn.
            {
                "uscc": uscc(4),
                "checked_on": AS_OF - dt.timedelta(days=60),
                "item_code": "FOOD-01",
                "kind": "key",
            },
            {
                "uscc": uscc(5),
                "checked_on": AS_OF - dt.timedelta(days=100),
                "item_code": "FOOD-01",
                "kind": "key",
            },
            # uscc 6: two random checks this year → annual cap 2.
            {"uscc": uscc(6), "checked_on": dt.date(2025, 1, 1), "item_code": "REG-01", "kind": "random"},
            {"uscc": uscc(6), "checked_on": dt.date(2025, 1, 2), "item_code": "REG-01", "kind": "random"},
        ]
    )
    food = item("FOOD-01", domain="food", required_qualifications=["food"])
    policy = PlanPolicy(
        class_a_leads_only=True,
        whitelist="exempt",
        annual_random_cap=2,
        credit_ratios=dict.fromkeys("ABCD", "100%"),
    )
    p = plan(subjects_frame(rows), items=[food], policy=policy, past=past, as_of=dt.date(2025, 1, 2))
    f = p.item("FOOD-01")
    assert f.population == 8
    assert f.exclusions == {
        "status_cancelled": 1,
        "status_revoked": 0,
        "status_moved_out": 1,
        "status_annulled": 0,
        "class_a_leads_only": 1,
        "whitelist": 1,
        "no_repeat": 1,
        "annual_cap": 1,
    }
    assert f.eligible == 2
    assert sorted(f.strata[0].draw.drawn_ids + f.strata[1].draw.drawn_ids) == [uscc(5), uscc(8)]


def test_class_a_leads_only_spares_documents_checks() -> None:
    rows = [{"uscc": uscc(k), "region": "440111001", "credit_class": "A"} for k in range(5)]
    docs = item("DOC-01", method="documents")
    onsite = item("ONS-01", method="onsite")
    p = plan(subjects_frame(rows), items=[docs, onsite], policy=PlanPolicy(class_a_leads_only=True))
    assert p.item("DOC-01").exclusions.get("class_a_leads_only") is None
    assert p.item("DOC-01").eligible == 5
    assert p.item("ONS-01").exclusions["class_a_leads_only"] == 5


def test_post_licence_check_this_year_excludes_special_equipment_draw() -> None:
    rows = [{"uscc": uscc(k), "region": "440111001", "credit_class": "D", "equipment_count": 1} for k in range(3)]
    past = history_frame(
        [
            {
                "uscc": uscc(0),
                "checked_on": dt.date(2025, 1, 1),
                "item_code": "SE-01",
                "kind": "post_licence",
            },
            {
                "uscc": uscc(1),
                "checked_on": dt.date(2024, 12, 1),
                "item_code": "SE-01",
                "kind": "post_licence",
            },
        ]
    )
    se = [i for i in world.catalogue() if i.code == "SE-01"]
    p = plan(subjects_frame(rows), items=se, past=past)
    assert p.item("SE-01").exclusions["same_year_check"] == 1
    assert sorted(p.item("SE-01").strata[0].draw.drawn_ids) == [uscc(1), uscc(2)]


def test_sector_grade_stratifies_and_the_higher_ratio_wins() -> None:
    rows = [
        {
            "uscc": uscc(k),
            "region": "440111001",
            "credit_class": cls,
            "food_grade": grade,
            "has_food_licence": True,
        }
        for k, (cls, grade) in enumerate([(c, g) for c in "AB" for g in "AD" for _ in range(10)])
    ]
    policy = PlanPolicy(
        items={"FOOD-01": ItemPolicy(grade_column="food_grade", grade_ratios={"A": "10%", "D": "100%"})}
    )
    p = plan(subjects_frame(rows), items=[i for i in world.catalogue() if i.code == "FOOD-01"], policy=policy)
    f = p.item("FOOD-01")
    assert f.strata_by == ("county", "credit_class", "food_grade")
    got = {s.stratum: (s.ratio, s.draw.quota) for s in f.strata}
    assert got == {
        "440111/A/A": ("10%", 1),
        "440111/A/D": ("100%", 10),
        "440111/B/A": ("10%", 1),
        "440111/B/D": ("100%", 10),
    }


def test_whitelist_lower_ratio_gets_its_own_strata() -> None:
    rows = [{"uscc": uscc(k), "region": "440111001", "credit_class": "C", "whitelist": k < 50} for k in range(100)]
    p = plan(
        subjects_frame(rows),
        items=[item("X-01")],
        policy=PlanPolicy(whitelist="lower_ratio", whitelist_ratio="4%"),
    )
    got = {s.stratum: (s.ratio, s.draw.quota) for s in p.item("X-01").strata}
    assert got == {"440111/C/-": ("100%", 50), "440111/C/W": ("4%", 2)}


def test_missing_ratio_for_a_class_is_named() -> None:
    rows = [{"uscc": uscc(1), "region": "440111001", "credit_class": "E"}]
    with pytest.raises(InputError, match=r"no ratio for credit class 'E'"):
        plan(subjects_frame(rows), items=[item("X-01")])
    rows = [{"uscc": uscc(1), "region": "440111001", "credit_class": "none-given"}]
    p = plan(subjects_frame(rows), items=[item("X-01")], policy=PlanPolicy(credit_ratios={"none-given": "100%"}))
    assert p.item("X-01").strata[0].stratum == "440111/none-given"
    unclassified = subjects_frame(rows).with_columns(pl.lit(None, dtype=pl.String).alias("credit_class"))
    p = plan(unclassified, items=[item("X-01")], policy=PlanPolicy(credit_ratios={"none": "100%"}))
    assert p.item("X-01").strata[0].stratum == "440111/none"


def test_per_item_seeds_are_derived_and_reproducible_with_the_package() -> None:
    frame = world.subjects(150)
    p = plan(frame, policy=PlanPolicy(item_seeds="per_item"))
    for code in ("SE-01", "REG-01"):
        plan_item = p.item(code)
        assert plan_item.seed == derive_seed(SEED, f"item/{code}")
        for s in plan_item.strata:
            members = stratum_members(frame, code, s.stratum, p)
            assert list(s.draw.drawn_ids) == list(cs.sampler(members, plan_item.seed, take=s.draw.quota, output="id"))
    shared = plan(frame)
    assert all(i.seed == SEED for i in shared.items)


def test_shared_seed_merges_more_than_per_item_seeds() -> None:
    """With one seed a subject's ticket is the same in every item, so the draws overlap and visits merge."""
    frame = world.subjects(400, seed=3, mandatory_share=0)
    ratios = {"A": "20%", "B": "20%", "C": "20%", "D": "20%"}
    shared = plan(frame, policy=PlanPolicy(credit_ratios=ratios, general_cap=None))
    spread = plan(frame, policy=PlanPolicy(credit_ratios=ratios, general_cap=None, item_seeds="per_item"))
    items_shared = sum(len(v.items) for v in shared.visits)
    items_spread = sum(len(v.items) for v in spread.visits)
    assert items_shared == items_spread  # same quotas …
    assert len(shared.visits) < len(spread.visits)  # … in fewer doors


def test_mandatory_subjects_are_added_never_drawn_instead() -> None:
    rows: list[dict[str, Any]] = [{"uscc": uscc(k), "region": "440111001", "credit_class": "A"} for k in range(100)]
    rows[7]["mandatory"] = [("X-01", "重点单位")]
    p = plan(subjects_frame(rows), items=[item("X-01")])
    x = p.item("X-01")
    assert x.strata[0].draw.quota == 2  # 2 % of 100: the draw ignores mandatory work
    visit = next(v for v in p.visits if v.uscc == uscc(7))
    assert visit.items[0].mandatory and visit.items[0].reason == "重点单位"
    assert len(p.visits) == 3 or uscc(7) in x.strata[0].draw.drawn_ids


def test_ticket_of_a_drawn_subject_is_the_public_one() -> None:
    p = plan()
    s = p.item("SE-01").strata[0]
    t = s.draw.drawn[0]
    assert t == ticket(SEED, t.id) == cs.first_ticket(t.id, SEED)


def test_eligibility_keeps_only_what_a_draw_reads() -> None:
    # Every item's Eligibility is held until the plan is made: a copy of the frame's ~60 columns per item cost
    # half a GB at district scale. The ids and strata are those of the full frame.
    from engine.plan.select import History, eligibility

    frame = world.subjects(200)
    policy = PlanPolicy()
    hist = History.of(history_frame([]), AS_OF.year)
    items = world.catalogue()
    domains = {i.code: i.domain for i in items}
    start = AS_OF + dt.timedelta(days=1)
    for it in items:
        e = eligibility(it, frame, policy, hist, domains, start=start)
        assert e.eligible.columns == ["uscc", "_stratum"]
        keyed = eligibility(
            it, frame.with_columns(pl.lit(7).alias("_k")), policy, hist, domains, start=start, keep=["_k"]
        )
        assert keyed.eligible.columns == ["uscc", "_stratum", "_k"]
        assert keyed.eligible.drop("_k").equals(e.eligible) and keyed.strata == e.strata
    assert any(e.eligible.height for e in [eligibility(i, frame, policy, hist, domains, start=start) for i in items])


_CHECK_ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "uscc": st.sampled_from(["U1", "U2", "U3", "U4", "U5"]),
            "checked_on": st.dates(dt.date(2024, 6, 1), dt.date(2026, 6, 30)),
            "item_code": st.none() | st.sampled_from(["SP-XS-01", "SP-CY-01", "TS-SY-01"]),
            "kind": st.sampled_from(["random", "complaint", "special"]),
            "lead_inspector": st.none() | st.just("ZF1"),
            "level": st.none() | st.sampled_from(["national", "provincial", "city", "county", "village"]),
            "finding": st.none() | st.booleans(),
            "own": st.none() | st.booleans(),
        }
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(rows=_CHECK_ROWS)
def test_the_past_checks_grouped_a_part_at_a_time_are_the_whole_grouped(rows: list[dict[str, Any]]) -> None:
    """History.of splits a province's past checks into parts by USCC; the groups are those of one group_by over the
    whole (the formula as it was before the split, written out here)."""
    from engine.plan import select

    past = history_frame(rows)
    known = pl.col("level").replace_strict(select._LEVEL_RANK, default=None, return_dtype=pl.Int64)
    rank = pl.when(pl.col("own").fill_null(False)).then(pl.lit(0)).otherwise(known.fill_null(select.UNKNOWN_RANK))
    whole = (
        past.filter(pl.col("item_code").is_not_null())
        .with_columns(rank.cast(pl.Int64).alias("_rank"), pl.col("finding").fill_null(False).alias("_finding"))
        .group_by("uscc", "item_code", "_rank", "_finding")
        .agg(pl.col("checked_on").max().alias("_last_checked"))
    )
    this_year = past.filter(pl.col("checked_on").dt.year() == 2026)
    randoms = this_year.filter(pl.col("kind") == "random").group_by("uscc").agg(pl.col("checked_on").n_unique())
    with pytest.MonkeyPatch.context() as m:
        m.setattr(select, "_HISTORY_PART_ROWS", 3)  # parts of three rows: up to 14 parts, some empty
        parted = select.History.of(past, 2026)

    def rows_of(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
        return sorted(frame.rows(), key=repr)

    assert parted.last_by_item.columns == whole.columns and rows_of(parted.last_by_item) == rows_of(whole)
    assert rows_of(parted.random_this_year) == rows_of(randoms)
    assert rows_of(parted.kinds_this_year) == rows_of(this_year.select("uscc", "item_code", "kind").unique())


_PART_TEXT = st.one_of(st.none(), st.sampled_from(["A", "B", "none", "a/b", "", "440103"]))


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.tuples(_PART_TEXT, _PART_TEXT, _PART_TEXT, st.one_of(st.none(), st.booleans())), max_size=40),
    county=st.booleans(),
)
def test_strata_made_once_each_are_the_strata_of_a_list_per_row(
    rows: list[tuple[str | None, str | None, str | None, bool | None]], county: bool
) -> None:
    """with_strata gives the strings and lists a list of parts per row, joined, gave (nulls, a "/" inside a part,
    Categorical grades, empty frames)."""
    frame = pl.DataFrame(
        rows,
        schema={"region": pl.String, "credit_class": pl.String, "g": pl.String, "whitelist": pl.Boolean},
        orient="row",
    ).with_columns(pl.col("g").cast(pl.Categorical))
    parts = [
        *([pl.col("region").str.slice(0, 6)] if county else []),
        pl.col("credit_class").fill_null("none"),
        pl.col("g").cast(pl.String),
        pl.col("g").cast(pl.String).fill_null("none"),
        pl.when(pl.col("whitelist").fill_null(False)).then(pl.lit("W")).otherwise(pl.lit("-")),
    ]
    reads = [*(["region"] if county else []), "credit_class", "g", "g", "whitelist"]
    listed = frame.with_columns(pl.concat_list(parts).alias("_key_parts")).with_columns(
        pl.col("_key_parts").list.join("/").alias("_stratum")
    )
    expected = listed.group_by("_stratum").agg(pl.len().alias("n"), pl.col("_key_parts").first()).sort("_stratum")
    strata, sizes = with_strata(frame, parts, reads)
    assert strata.get_column("_stratum").equals(listed.get_column("_stratum"))
    assert sizes.equals(expected)
