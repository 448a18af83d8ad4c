"""plan_cells builds `wide` by row position (each item's columns set at its subjects' rows); the cells, the strata
and every count are those of the chain of joins it replaced (tests/engine/plan/cells_reference.py)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from engine.plan import PlanPolicy, fitted, subjects_frame
from engine.plan.fitted import Cells, Handover, plan_cells
from engine.plan.frames import check_history, check_subjects
from engine.plan.select import History, eligibility, mandatory_rows
from tests.engine.plan import world
from tests.engine.plan.cells_reference import plan_cells_by_joins

FREQ = {"A": 1.0, "B": 1.0, "C": 3.0, "D": 4.0}


def _world(n: int, seed: int, mandatory_share: float) -> pl.DataFrame:
    rnd = random.Random(seed)
    rows = world.subject_rows(n, rnd, mandatory_share=mandatory_share)
    for r in rows:
        r["food_checks_per_year"] = FREQ[r["food_grade"]] if r["has_food_licence"] else None
        r["whitelist"] = rnd.random() < 0.1
    return subjects_frame(rows)


def _as_text(frame: pl.DataFrame, enums: Sequence[str]) -> pl.DataFrame:
    """`frame` with its `enums` columns as text, after checking they are Enums (the compact columns of issue 15)."""
    # Text only where there is no value to make an Enum of (fitted._enum, fit.cells_of).
    assert all(isinstance(frame.schema[c], pl.Enum) or frame[c].drop_nulls().is_empty() for c in enums), frame.schema
    return frame.with_columns(pl.col(c).cast(pl.String) for c in enums)


def _same(new: Cells, old: Cells) -> None:
    # The new region, pool and frequency items are Enums, the reference's text: the same values.
    freq_items = [c for c in old.wide.columns if c.startswith("freqitems:")]  # the reference's are Categoricals
    assert_frame_equal(
        _as_text(new.wide, ["region", "pool", *freq_items]).sort("uscc"),
        old.wide.with_columns(pl.col(c).cast(pl.String) for c in freq_items).sort("uscc"),
    )
    assert_frame_equal(new.cells, old.cells)
    assert_frame_equal(new.cell_items, old.cell_items)
    assert_frame_equal(new.members, old.members)  # both from fit.cells_of
    assert new.eligible == old.eligible
    assert list(new.eligibilities) == list(old.eligibilities)
    for code, e in new.eligibilities.items():
        o = old.eligibilities[code]
        assert (e.population, e.exclusions, e.strata_by, e.strata) == (
            o.population,
            o.exclusions,
            o.strata_by,
            o.strata,
        )
        assert_frame_equal(e.eligible, o.eligible)
    for mine, theirs in ((new.mandatory_of, old.mandatory_of), (new.gone, old.gone)):
        assert list(mine) == list(theirs)
        for code, frame in mine.items():
            assert_frame_equal(frame.sort("uscc"), theirs[code].sort("uscc"))
    assert (new.rules, new.freq_cols) == (old.rules, old.freq_cols)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 300),
    seed=st.integers(0, 10_000),
    mandatory_share=st.sampled_from([0.0, 0.05, 0.4]),
    pool=st.sampled_from(["county", "jurisdiction"]),
    whitelist=st.sampled_from(["none", "exempt", "lower_ratio"]),
    cap=st.sampled_from([None, 1]),
    by_county=st.booleans(),
    shuffle=st.booleans(),
    rows_at_once=st.sampled_from([1, 7, 64, 250_000]),
)
def test_cells_by_row_position_are_those_of_the_joins(
    n: int,
    seed: int,
    mandatory_share: float,
    pool: Any,
    whitelist: Any,
    cap: int | None,
    by_county: bool,
    shuffle: bool,
    rows_at_once: int,
) -> None:
    policy = PlanPolicy(
        team_pool=pool, whitelist=whitelist, annual_random_cap=cap, stratify_by_county=by_county, item_seeds="shared"
    )
    raw = _world(n, seed, mandatory_share)
    if shuffle:
        raw = raw.sample(fraction=1.0, shuffle=True, seed=seed)
    frame = check_subjects(raw, need_status=bool(policy.excluded_statuses), need_whitelist=policy.whitelist != "none")
    past = check_history(world.history(frame, world.roster(seed=seed), n=max(1, n // 3), seed=seed), world.AS_OF)
    by_code = {i.code: i for i in world.catalogue()}
    mandatory = mandatory_rows(frame).filter(pl.col("item_code").is_in(list(by_code)))
    kwargs: dict[str, Any] = {"start": world.PERIOD.start, "period": world.PERIOD}
    old = plan_cells_by_joins(frame, by_code, policy, past, mandatory, **kwargs)
    was, fitted._ROWS_AT_ONCE = fitted._ROWS_AT_ONCE, rows_at_once  # eligibility a slice of the rows at a time
    try:
        new = plan_cells(Handover(frame.clone()), by_code, policy, past, mandatory, **kwargs)
    finally:
        fitted._ROWS_AT_ONCE = was
    _same(new, old)
    # The one-row frame `explain --run` gives it: the subject's cell is the one the whole frame gave it.
    for uscc, cell in new.members.head(3).iter_rows():
        one = plan_cells(frame.filter(pl.col("uscc") == uscc), by_code, policy, past, mandatory, **kwargs)
        assert one.members.rows() == [(uscc, cell)]


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 200),
    seed=st.integers(0, 10_000),
    rows_at_once=st.integers(1, 80),
    whitelist=st.sampled_from(["none", "exempt", "lower_ratio"]),
    cap=st.sampled_from([None, 1]),
)
def test_eligibility_by_slices_is_that_of_the_whole_frame(
    n: int, seed: int, rows_at_once: int, whitelist: Any, cap: int | None
) -> None:
    """Population, exclusions, strata (keys, ratios, sizes) and the eligible subjects are the same read a slice of
    rows at a time as read whole."""
    policy = PlanPolicy(whitelist=whitelist, annual_random_cap=cap)
    frame = check_subjects(_world(n, seed, 0.05), need_status=True, need_whitelist=policy.whitelist != "none")
    hist = History.of(
        check_history(world.history(frame, world.roster(seed=seed), n=max(1, n // 2), seed=seed), world.AS_OF),
        world.PERIOD.start.year,
    )
    items = world.catalogue()
    domains = {i.code: i.domain for i in items}
    for item in items:
        whole = eligibility(item, frame, policy, hist, domains, start=world.PERIOD.start, keep=["risk"])
        sliced = eligibility(
            item, frame, policy, hist, domains, start=world.PERIOD.start, keep=["risk"], rows_at_once=rows_at_once
        )
        assert (sliced.population, sliced.exclusions, sliced.strata_by, sliced.strata) == (
            whole.population,
            whole.exclusions,
            whole.strata_by,
            whole.strata,
        )
        assert list(sliced.exclusions) == list(whole.exclusions)
        assert list(sliced.strata) == list(whole.strata)
        assert_frame_equal(sliced.eligible.sort("uscc"), whole.eligible.sort("uscc"))


@settings(max_examples=50, deadline=None)
@given(rows=st.lists(st.lists(st.sampled_from([True, False, None]), min_size=3, max_size=3), max_size=40))
def test_matched_items_are_the_text_the_concatenation_made(rows: list[list[bool | None]]) -> None:
    # One bit per item, the text once per set (issue 15): the same lists as concatenating the codes per subject,
    # a null target unmatched, "" for none.
    frame = pl.DataFrame(
        {c: [r[k] for r in rows] for k, c in enumerate("abc")}, schema=dict.fromkeys("abc", pl.Boolean)
    )
    targets = [(f"IT-{c}", pl.col(c)) for c in "abc"]
    text = pl.concat_str([pl.when(t).then(pl.lit(c)) for c, t in targets], separator=",", ignore_nulls=True)
    expected = frame.select(text).to_series().to_list()
    got = fitted._matched_items(frame, targets)
    assert got.to_list() == expected
    assert isinstance(got.dtype, pl.Enum) or not rows


def test_matched_items_of_more_items_than_bits_are_the_concatenation() -> None:
    # 64 items do not fit a 64-bit word with room to spare: the text is made per subject, as before (a Categorical).
    frame = pl.DataFrame({"x": [0, 5, 63, None]})
    targets = [(f"IT-{k:02d}", pl.col("x") <= k) for k in range(64)]
    got = fitted._matched_items(frame, targets)
    assert got.dtype == pl.Categorical
    assert got.to_list() == [
        ",".join(f"IT-{k:02d}" for k in range(64)),
        ",".join(f"IT-{k:02d}" for k in range(5, 64)),
        "IT-63",
        "",
    ]
