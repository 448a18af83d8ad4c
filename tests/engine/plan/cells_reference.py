"""plan_cells as it was before session 25 (a chain of left joins on uscc, one per item and frequency domain): the
reference the row-position `wide` of engine.plan.fitted.plan_cells is compared with (tests/engine/plan/test_cells.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

import polars as pl

from engine.plan.fit import FrequencyRule, cells_of
from engine.plan.fitted import (
    ALL_POOL,
    UNSERVED,
    Cells,
    Handover,
    _enum,
    _period_years,
    _risk_rank,
    item_needs,
    taken,
)
from engine.plan.policy import Period, PlanPolicy, show_ratio
from engine.plan.select import Eligibility, History, eligibility, item_mandatory, target_expr
from engine.plan.units import Units
from entities.models import CheckItemCreate


def plan_cells_by_joins(
    frame: pl.DataFrame | Handover,
    by_code: Mapping[str, CheckItemCreate],
    policy: PlanPolicy,
    past: pl.DataFrame,
    mandatory: pl.DataFrame,
    *,
    start: dt.date,
    period: Period,
    units: Units | None = None,
) -> Cells:
    """Steps 1 and 2: eligibility and mandatory work per item, frequencies, and the cells. A subject's cell depends
    only on its own row, its past checks and the policy, so `explain --run` finds it from the one row.
    `frame` handed over (Handover) is dropped before the cells are made: they read `wide` alone."""
    frame = taken(frame)
    hist = History.of(past, start.year)
    domains = {code: item.domain for code, item in by_code.items()}
    codes_ = list(by_code)

    # ── 1. eligibility and mandatory work per item ──────────────────────────────────────────────────────────
    wide = frame.select("uscc", "region", "risk", _risk_rank(policy))
    eligibilities: dict[str, Eligibility] = {}
    eligible: dict[str, int] = {}
    mandatory_of: dict[str, pl.DataFrame] = {}
    gone: dict[str, pl.DataFrame] = {}
    for code, item in by_code.items():
        e = eligibility(item, frame, policy, hist, domains, start=start)
        eligibilities[code] = dataclasses.replace(e, eligible=e.eligible.clear())
        eligible[code] = e.eligible.height
        ratios = {s: show_ratio(r) for s, (_, r, _) in e.strata.items()}
        # Enums, not strings: a string costs 16 bytes a subject even when short or null, an Enum 4, and `wide`
        # has two such columns per item for every subject (cells_of reads them as text per distinct row only).
        part = e.eligible.select(
            "uscc",
            pl.col("_stratum").cast(_enum(ratios)).alias(f"stratum:{code}"),
            pl.col("_stratum")
            .replace_strict(ratios, return_dtype=pl.String)
            .cast(_enum(ratios.values()))
            .alias(f"ratio:{code}"),
        )
        mine, ended = item_mandatory(item, frame, policy, mandatory)
        mandatory_of[code], gone[code] = mine, ended
        wide = wide.join(part, on="uscc", how="left").join(
            mine.select("uscc", pl.lit(True).alias(f"mandatory:{code}")), on="uscc", how="left"
        )
        wide = wide.with_columns(pl.col(f"mandatory:{code}").fill_null(False))
    if units is not None and units.active:
        # A unit table: a visit is staffed from the units serving its township (engine.plan.units).
        pools = {r: units.pool_of_township(r) or UNSERVED for r in frame.get_column("region").unique().to_list()}
        pool_expr = pl.col("region").replace_strict(pools, return_dtype=pl.String)
    else:
        pool_expr = pl.col("region").str.slice(0, 6) if policy.team_pool == "county" else pl.lit(ALL_POOL)
    wide = wide.with_columns(pool_expr.alias("pool"))

    # Frequencies: visits a subject is due in the period, per domain the pack sets a frequency for.
    freq_cols: dict[str, str] = {}
    rules: list[FrequencyRule] = []
    for domain, column in sorted(policy.frequencies.items()):
        covering = sorted(
            c for c, it in by_code.items() if it.domain == domain and str(it.method) in policy.onsite_methods
        )
        if column not in frame.columns or not covering:
            continue
        needs: dict[str, int] = {}
        for c in covering:
            for q, k in item_needs(by_code[c], policy).items():
                needs[q] = max(needs.get(q, 0), k)
        rules.append(FrequencyRule(domain, tuple(covering), needs))
        name = f"freq:{domain}"
        freq_cols[domain] = name
        # The items a frequency visit checks: the domain's on-site items whose target the subject matches (drawn,
        # excluded from the draw or not: frequency work is not a random draw); none, no frequency visit.
        matched = pl.concat_str(
            [pl.when(target_expr(by_code[c], frame.schema)).then(pl.lit(c)) for c in covering],
            separator=",",
            ignore_nulls=True,
        )
        per_period = pl.col(column).cast(pl.Float64).fill_null(0.0) * float(_period_years(period))
        wide = wide.join(
            frame.select(
                "uscc",
                pl.when(matched != "").then(per_period).otherwise(0.0).alias(name),
                matched.cast(pl.Categorical).alias(f"freqitems:{domain}"),  # a few distinct lists: 4 bytes a row
            ),
            on="uscc",
            how="left",
        )

    # ── 2. cells ────────────────────────────────────────────────────────────────────────────────────────────
    del frame  # a city's subjects (~600 MB) freed before cells_of's copy of `wide`, when the caller let go of them
    cell_input = wide.drop("risk").rename({"risk_rank": "risk"})
    split = [c for d in freq_cols for c in (freq_cols[d], f"freqitems:{d}")]
    cells, cell_items, members = cells_of(cell_input, codes_, split_by=split)
    return Cells(wide, cells, cell_items, members, eligibilities, eligible, mandatory_of, gone, rules, freq_cols)
