"""Choose the subjects of each check item: population → exclusions → strata → quotas → draw, plus mandatory work.

The population is every subject in the jurisdiction that matches the item's `target` (the catalogue's syntax).
Exclusions remove subjects from the random draw only, each counted under the first reason that applies, in the
order of `EXCLUSION_REASONS`; mandatory work is never drawn and never subject to quotas or to the repeat limits,
but a subject whose registration has ended (注销, 吊销, 迁出, 撤销) cannot be visited at all and is reported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import polars as pl

from engine.plan.frames import ColumnType
from engine.plan.model import ItemPlan, StratumPlan
from engine.plan.policy import PlanPolicy, ratio_value, show_ratio
from engine.sampling import draw_frame, quota
from entities.enums import CHECK_LEVELS, CheckLevel
from entities.errors import InputError
from entities.models import CheckItemCreate

# The first applicable reason counts; the order runs from "cannot be visited" to "need not be visited again".
EXCLUSION_REASONS = {
    "status_cancelled": "已注销 (cancelled)",
    "status_revoked": "被吊销 (revoked)",
    "status_moved_out": "已迁出 (moved out)",
    "status_annulled": "被撤销 (annulled)",
    "class_a_leads_only": "A 类无事不扰: no on-site check without leads",
    "whitelist": "白名单 exempt from draws",
    "no_repeat": "令49号第42条 上级已查: checked on this item by a higher level (or one not recorded) within the "
    "no-repeat window, and no problem found since",
    "same_year_check": "a check of an excluding kind this calendar year (e.g. 证后 before 常规)",
    "annual_cap": "reached the annual cap on random checks",
}

_OPS = ("in", "==", "!=", "<", "<=", ">", ">=")


def _literal_fits(dtype: ColumnType, value: object) -> bool:
    if dtype == pl.Boolean:
        return isinstance(value, bool)
    if dtype.is_numeric():
        return isinstance(value, int | float) and not isinstance(value, bool)
    if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):  # text, or text kept as categories
        return isinstance(value, str)
    return False


def target_expr(item: CheckItemCreate, schema: Mapping[str, ColumnType]) -> pl.Expr:
    """The item's `target` as a filter: every condition must hold; a missing (null) value never matches."""
    expr = pl.lit(True)
    for feature in sorted(item.target):
        test = item.target[feature]
        if feature not in schema:
            raise InputError(
                f"check item {item.code}: its target reads {feature!r}, which the subjects frame has no column for"
            )
        dtype = schema[feature]
        tests = test if isinstance(test, dict) else {"==": test}
        for op in sorted(tests):
            value = tests[op]
            if op not in _OPS:
                raise InputError(f"check item {item.code}: target test {op!r} on {feature} (use in, <, <=, >, >=)")
            values = value if op == "in" else [value]
            if op == "in" and not isinstance(value, list):
                raise InputError(f"check item {item.code}: target {feature}: `in` needs a list, got {value!r}")
            for v in values:
                if not _literal_fits(dtype, v):
                    raise InputError(
                        f"check item {item.code}: target compares {feature} ({dtype}) with {v!r}, which it cannot be"
                    )
            if op in ("<", "<=", ">", ">=") and not dtype.is_numeric():
                raise InputError(f"check item {item.code}: target {feature} {op} needs a numeric feature")
            col = pl.col(feature)
            cond = {
                "in": lambda c, v: c.is_in(v),
                "==": lambda c, v: c == v,
                "!=": lambda c, v: c != v,
                "<": lambda c, v: c < v,
                "<=": lambda c, v: c <= v,
                ">": lambda c, v: c > v,
                ">=": lambda c, v: c >= v,
            }[op](col, value)
            expr = expr & cond.fill_null(False)
    return expr


# Ranks of past checks for the no-repeat rule (令49号 第42条), against the plan's own level (CheckLevel.rank, 1-4):
# a result recorded for the store's own plans is the plan's own level (never higher); a check whose level is not
# recorded counts as higher than any plan (the conservative reading: it excludes, as every check did before levels
# were recorded, so plans made then replay unchanged).
OWN_RANK = 0
UNKNOWN_RANK = len(CHECK_LEVELS) + 1
_LEVEL_RANK = {level.value: level.rank for level in CheckLevel}


@dataclass(frozen=True)
class History:
    """What the past checks say for exclusions: per item the last check by rank and outcome, per subject this
    year's random checks."""

    last_by_item: pl.DataFrame  # uscc, item_code, _rank, _finding, _last_checked (the latest of each rank/outcome)
    random_this_year: pl.DataFrame  # uscc, _random_checks
    kinds_this_year: pl.DataFrame  # uscc, item_code, kind (checks this calendar year)

    @classmethod
    def of(cls, history: pl.DataFrame, year: int) -> History:
        known = pl.col("level").replace_strict(_LEVEL_RANK, default=None, return_dtype=pl.Int64)
        rank = pl.when(pl.col("own").fill_null(False)).then(pl.lit(OWN_RANK)).otherwise(known.fill_null(UNKNOWN_RANK))

        def last_by_item(checks: pl.DataFrame) -> pl.DataFrame:
            return (
                checks.lazy()
                .filter(pl.col("item_code").is_not_null())
                .select(
                    "uscc",
                    "item_code",
                    rank.cast(pl.Int64).alias("_rank"),
                    pl.col("finding").fill_null(False).alias("_finding"),
                    "checked_on",
                )
                .group_by("uscc", "item_code", "_rank", "_finding")
                .agg(pl.col("checked_on").max().alias("_last_checked"))
                .collect()
            )

        # A subject's groups are all in one part (the parts split the subjects by a hash of the USCC), so the parts'
        # groups together are the whole's. Grouped whole, a province's past checks (6.7 M rows at 10 M subjects)
        # took ~2.2 GB above the frame, the plan's peak (issue 15 item 4); a part at a time, ~0.6 GB. The rows'
        # order differs, as a group_by's may anyway: every reader groups or joins them.
        parts = -(-history.height // _HISTORY_PART_ROWS)
        if parts <= 1:
            last = last_by_item(history)
        else:
            part = history.get_column("uscc").hash() % parts
            last = pl.concat([last_by_item(history.filter(part == k)) for k in range(parts)], rechunk=False)
        this_year = history.lazy().filter(pl.col("checked_on").dt.year() == year)
        return cls(
            last_by_item=last,
            # Several item rows on one day are one joint visit: count days.
            random_this_year=this_year.filter(pl.col("kind") == "random")
            .group_by("uscc")
            .agg(pl.col("checked_on").n_unique().cast(pl.Int64).alias("_random_checks"))
            .collect(),
            kinds_this_year=this_year.select("uscc", "item_code", "kind").unique().collect(),
        )


# Past checks grouped at a time for History.last_by_item (a part's group_by holds a part's keys, not a province's).
_HISTORY_PART_ROWS = 1_000_000


def _no_repeat(history: History, code: str, plan_level: str, start: dt.date, days: int) -> pl.DataFrame:
    """(uscc, _no_repeat) for the subjects the no-repeat rule keeps out of the item's draw (令49号 第42条).

    Excluded: the item was checked by a level above the plan's (or one not recorded) within `days` before `start`,
    and no check of the item since, on the same day or later, found a problem — 涉嫌违法或者存在明显食品安全隐患 is the
    article's exception, whoever found it (a problem found after the higher check makes a new check due)."""
    mine = history.last_by_item.filter(pl.col("item_code") == code)
    rank = CheckLevel(plan_level).rank
    higher = (
        mine.filter((pl.col("_rank") > rank) & (pl.col("_last_checked") > start - dt.timedelta(days=days)))
        .group_by("uscc")
        .agg(pl.col("_last_checked").max().alias("_higher"))
    )
    found = mine.filter(pl.col("_finding")).group_by("uscc").agg(pl.col("_last_checked").max().alias("_found"))
    return higher.join(found, on="uscc", how="left").select(
        "uscc", (pl.col("_found").is_null() | (pl.col("_found") < pl.col("_higher"))).alias("_no_repeat")
    )


@dataclass(frozen=True)
class ItemSelection:
    plan: ItemPlan
    drawn: pl.DataFrame  # uscc, stratum
    mandatory: pl.DataFrame  # uscc, reason (subjects that can be visited)
    mandatory_excluded: pl.DataFrame  # uscc, reason, status (registration ended)


def _ratio_for(item: CheckItemCreate, table: Mapping[str, str], value: str, what: str, where: str) -> Fraction:
    if value not in table:
        known = ", ".join(sorted(table)) or "none"
        raise InputError(f"check item {item.code}: no ratio for {what} {value!r} ({where} has {known}); add one")
    return ratio_value(table[value])


@dataclass(frozen=True)
class Eligibility:
    """One item before any draw: population, exclusions, the eligible subjects by stratum, the asked ratios."""

    population: int
    exclusions: dict[str, int]
    eligible: pl.DataFrame  # uscc, _stratum (+ the key column when given)
    strata_by: tuple[str, ...]
    strata: dict[str, tuple[dict[str, str], Fraction, int]]  # stratum → (key, asked ratio before any cap, size)


def eligibility(
    item: CheckItemCreate,
    subjects: pl.DataFrame,
    policy: PlanPolicy,
    history: History,
    domains: Mapping[str, str],
    *,
    start: dt.date,
    keep: Sequence[str] = (),
    rows_at_once: int | None = None,
) -> Eligibility:
    """The item's population, exclusions and strata with their asked ratios (the pack's, before the 一般 cap).

    With `rows_at_once`, the subjects are read that many rows at a time (a subject's eligibility and stratum depend
    on its own row and its past checks alone) and the counts summed: the same Eligibility, with the filtered copies,
    the joins with the past checks and the stratum keys of one slice alive at a time instead of the city's."""
    ip = policy.item(item.code)
    target = target_expr(item, subjects.schema)  # checks the target against the whole frame's schema
    for column in [*([ip.grade_column] if ip.grade_column is not None else []), *sorted(ip.grade_columns)]:
        if column not in subjects.columns:
            raise InputError(
                f"check item {item.code}: stratified by {column!r}, which the subjects frame has no column for"
            )
    # Only the columns this function reads are filtered (a city's frame has ~60 feature columns and 12 items each
    # filter it): selecting them first is free (columns are shared), the filter then copies these few alone.
    reads = {"uscc", "status", "credit_class", "whitelist", "region", *item.target, *ip.grade_columns, *keep}
    if ip.grade_column is not None:
        reads.add(ip.grade_column)
    read = subjects.select(c for c in subjects.columns if c in reads)
    step = max(1, rows_at_once or read.height)
    slices = [read.slice(at, step) for at in range(0, read.height, step)] or [read]
    del read
    lookups = _lookups(item, policy, history, domains, start=start)  # once, not once a slice
    population = 0
    counts: dict[str, int] = {}
    eligible_parts: list[pl.DataFrame] = []
    size_parts: list[pl.DataFrame] = []
    reasons: list[str] = []
    strata_by: tuple[str, ...] = ()
    for part in slices:
        got = _eligible_slice(item, part.filter(target), policy, lookups, keep=keep)
        population += got[0]
        for code, n in got[1].items():
            counts[code] = counts.get(code, 0) + n
        eligible_parts.append(got[2])
        size_parts.append(got[3])
        reasons, strata_by = got[4], got[5]
        del got
    del slices
    exclusions = {code: int(counts.get(code, 0)) for code in reasons}
    eligible = eligible_parts[0] if len(eligible_parts) == 1 else pl.concat(eligible_parts)
    del eligible_parts
    if len(size_parts) == 1:
        sizes = size_parts[0]
    else:
        sizes = (
            pl.concat(size_parts)
            .group_by("_stratum")
            .agg(pl.col("n").sum(), pl.col("_key_parts").first())
            .sort("_stratum")
        )
    credit = ip.ratios if ip.ratios is not None else policy.credit_ratios
    credit_where = f"policy.items[{item.code}].ratios" if ip.ratios is not None else "policy.credit_ratios"
    lower_white = policy.whitelist == "lower_ratio"
    strata: dict[str, tuple[dict[str, str], Fraction, int]] = {}
    for stratum, n, key_parts in sizes.iter_rows():
        key = dict(zip(strata_by, key_parts, strict=True))
        ratio = _ratio_for(item, credit, key["credit_class"], "credit class", credit_where)
        if ip.grade_column is not None:
            grade = _ratio_for(
                item,
                ip.grade_ratios,
                key[ip.grade_column],
                ip.grade_column,
                f"policy.items[{item.code}].grade_ratios",
            )
            ratio = max(ratio, grade)
        for column, table in sorted(ip.grade_columns.items()):
            where = f"policy.items[{item.code}].grade_columns[{column}]"
            ratio = max(ratio, _ratio_for(item, table, key[column], column, where))
        if lower_white and key["whitelist"] == "W":
            ratio = min(ratio, ratio_value(policy.whitelist_ratio))
        strata[stratum] = (key, ratio, n)
    return Eligibility(
        population=population,
        exclusions=exclusions,
        eligible=eligible,
        strata_by=strata_by,
        strata=strata,
    )


def _lookups(
    item: CheckItemCreate, policy: PlanPolicy, history: History, domains: Mapping[str, str], *, start: dt.date
) -> list[tuple[str, pl.DataFrame | None, pl.Expr]]:
    """The item's exclusion reasons in order: (code, the past checks' frame joined on uscc for it or None, the test)."""
    ip = policy.item(item.code)
    reasons: list[tuple[str, pl.DataFrame | None, pl.Expr]] = []
    if policy.excluded_statuses:
        for status in ("cancelled", "revoked", "moved_out", "annulled"):
            if status in policy.excluded_statuses:
                reasons.append((f"status_{status}", None, pl.col("status") == status))
    if policy.class_a_leads_only and str(item.method) in policy.onsite_methods:
        reasons.append(("class_a_leads_only", None, pl.col("credit_class") == "A"))
    if policy.whitelist == "exempt":
        reasons.append(("whitelist", None, pl.col("whitelist")))
    days = ip.no_repeat_days if ip.no_repeat_days is not None else policy.no_repeat_days.get(item.domain, 0)
    if days:
        no_repeat = _no_repeat(history, item.code, policy.plan_level, start, days)
        reasons.append(("no_repeat", no_repeat, pl.col("_no_repeat")))
    kinds = policy.same_year_exclusions.get(item.domain, ())
    if kinds:
        same_domain = [code for code, d in domains.items() if d == item.domain]
        hit = (
            history.kinds_this_year.filter(pl.col("kind").is_in(list(kinds)) & pl.col("item_code").is_in(same_domain))
            .select("uscc")
            .unique()
            .with_columns(pl.lit(True).alias("_same_year"))
        )
        reasons.append(("same_year_check", hit, pl.col("_same_year")))
    if policy.annual_random_cap is not None:
        reasons.append(("annual_cap", history.random_this_year, pl.col("_random_checks") >= policy.annual_random_cap))
    return reasons


def _eligible_slice(
    item: CheckItemCreate,
    population: pl.DataFrame,
    policy: PlanPolicy,
    lookups: list[tuple[str, pl.DataFrame | None, pl.Expr]],
    *,
    keep: Sequence[str],
) -> tuple[int, dict[str, int], pl.DataFrame, pl.DataFrame, list[str], tuple[str, ...]]:
    """For the rows of the item's population in one slice of the subjects: its height, the subjects each exclusion
    takes (by the first reason that applies), the eligible (uscc, _stratum, *keep), the stratum sizes (_stratum, n,
    _key_parts), the reasons in force and the strata's key columns."""
    ip = policy.item(item.code)
    reasons: list[tuple[str, pl.Expr]] = []
    for code, frame, cond in lookups:
        if frame is not None:
            population = population.join(frame, on="uscc", how="left")
        reasons.append((code, cond))
    reason = pl.lit(None, dtype=pl.String)
    for code, cond in reversed(reasons):
        reason = pl.when(cond.fill_null(False)).then(pl.lit(code)).otherwise(reason)
    population = population.with_columns(reason.alias("_excluded"))
    counts = dict(population.group_by("_excluded").len().drop_nulls("_excluded").iter_rows())
    eligible = population.filter(pl.col("_excluded").is_null())
    height = population.height
    del population

    # Strata: county (when the policy splits by county), credit class, sector grade, whitelist.
    strata_by: list[str] = []
    parts: list[pl.Expr] = []
    reads: list[str] = []  # the columns the parts are made of
    if policy.stratify_by_county:
        strata_by.append("county")
        parts.append(pl.col("region").str.slice(0, 6))
        reads.append("region")
    strata_by.append("credit_class")
    parts.append(pl.col("credit_class").fill_null("none"))
    reads.append("credit_class")
    for column in ([ip.grade_column] if ip.grade_column is not None else []) + sorted(ip.grade_columns):
        strata_by.append(column)
        parts.append(pl.col(column).cast(pl.String).fill_null("none"))
        reads.append(column)
    if policy.whitelist == "lower_ratio":
        strata_by.append("whitelist")
        parts.append(pl.when(pl.col("whitelist").fill_null(False)).then(pl.lit("W")).otherwise(pl.lit("-")))
        reads.append("whitelist")
    eligible, sizes = with_strata(eligible, parts, reads)
    return (
        height,
        counts,
        # Only what a draw reads: the plan keeps every item's Eligibility until it is made.
        eligible.select("uscc", "_stratum", *keep),
        sizes,
        [code for code, _ in reasons],
        tuple(strata_by),
    )


def with_strata(
    frame: pl.DataFrame, parts: Sequence[pl.Expr], reads: Sequence[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`frame` with each row's stratum (`_stratum`: its `parts` joined by "/", a null part left out), and the strata
    (`_stratum`, `n` rows, `_key_parts`: the parts as a list, nulls kept), sorted. `reads`: the columns the parts
    are made of.

    The list of parts is made once per stratum, of its first row's columns: a list per row, joined, was 3.9 s of
    a city's plan (12 items over 3.3 M subjects). The same strings and lists as the list per row (a property test
    holds the two to each other)."""
    frame = frame.with_columns(pl.concat_str(list(parts), separator="/", ignore_nulls=True).alias("_stratum"))
    sizes = (
        frame.group_by("_stratum")
        .agg(pl.len().alias("n"), *(pl.col(c).first() for c in dict.fromkeys(reads)))
        .select("_stratum", "n", pl.concat_list(list(parts)).alias("_key_parts"))
        .sort("_stratum")
    )
    return frame, sizes


def select_item(
    item: CheckItemCreate,
    subjects: pl.DataFrame,
    policy: PlanPolicy,
    history: History,
    domains: Mapping[str, str],
    *,
    seed: str,
    key_column: str | None,
    start: dt.date,
    mandatory: pl.DataFrame,
) -> ItemSelection:
    """One item's population, exclusions, strata, quotas and draw, and its mandatory subjects (suijian.plan/1).

    `subjects` is the jurisdiction's frame (with `key_column` of ticket keys for `seed` when shared); `start` is
    the first day a visit can happen (no-repeat windows are measured back from it); `mandatory` holds (uscc,
    item_code, reason) rows for every item. The 一般-item cap applies per stratum here, as plan/1 recorded it;
    fitted plans (engine.plan.fitted) apply it to the item's total.
    """
    ip = policy.item(item.code)
    e = eligibility(item, subjects, policy, history, domains, start=start, keep=[key_column] if key_column else [])
    eligible = e.eligible
    cap = ratio_value(policy.general_cap) if policy.general_cap is not None and str(item.kind) == "general" else None
    quotas: dict[str, int] = {}
    infos: dict[str, tuple[dict[str, str], str, str | None]] = {}
    for stratum, (key, ratio, n) in e.strata.items():
        asked = None
        if cap is not None and ratio > cap:
            asked, ratio = show_ratio(ratio), cap
        quotas[stratum] = quota(ratio, n, ip.minimum, ip.maximum)
        infos[stratum] = (key, show_ratio(ratio), asked)
    frame = eligible.select(
        pl.col("uscc").alias("id"),
        pl.col("_stratum").alias("stratum"),
        *([pl.col(key_column)] if key_column else []),
    )
    result = draw_frame(frame, quotas, seed, key_column=key_column, check_unique=False)
    strata = tuple(
        StratumPlan(draw=s, key=infos[s.stratum][0], ratio=infos[s.stratum][1], ratio_asked=infos[s.stratum][2])
        for s in result.strata
    )
    drawn = pl.DataFrame(
        [(t.id, s.stratum) for s in result.strata for t in s.drawn],
        schema={"uscc": pl.String, "stratum": pl.String},
        orient="row",
    )

    mine, mandatory_excluded = item_mandatory(item, subjects, policy, mandatory)
    plan = ItemPlan(
        code=item.code,
        name=item.name,
        kind=str(item.kind),
        domain=item.domain,
        method=str(item.method),
        joint_group=item.joint_group,
        seed=seed,
        strata_by=e.strata_by,
        population=e.population,
        exclusions=e.exclusions,
        eligible=eligible.height,
        strata=strata,
        mandatory_required=mine.height + mandatory_excluded.height,
        mandatory_excluded=mandatory_excluded.height,
    )
    return ItemSelection(
        plan=plan,
        drawn=drawn,
        mandatory=mine.select("uscc", "reason"),
        mandatory_excluded=mandatory_excluded,
    )


def item_mandatory(
    item: CheckItemCreate,
    subjects: pl.DataFrame,
    policy: PlanPolicy,
    mandatory: pl.DataFrame,
    *,
    keep: Sequence[str] = (),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The item's mandatory subjects that can be visited (uscc, reason, then the `keep` columns of `subjects`), and
    those whose registration ended (uscc, reason, status): never dropped silently."""
    mine = mandatory.filter(pl.col("item_code") == item.code).join(
        subjects.select("uscc", *(["status"] if "status" in subjects.columns else []), *keep), on="uscc", how="inner"
    )
    if policy.excluded_statuses and "status" in mine.columns:
        gone = pl.col("status").is_in(list(policy.excluded_statuses)).fill_null(False)
        return mine.filter(~gone).select("uscc", "reason", *keep), mine.filter(gone).select("uscc", "reason", "status")
    empty = pl.DataFrame(schema={"uscc": pl.String, "reason": pl.String, "status": pl.String})
    return mine.select("uscc", "reason", *keep), empty


def mandatory_rows(subjects: pl.DataFrame) -> pl.DataFrame:
    """(uscc, item_code, reason) for every mandatory item of every subject; a missing reason reads "rule pack"."""
    rows = (
        subjects.select("uscc", "mandatory", "mandatory_reason")
        .filter(pl.col("mandatory").list.len() > 0)
        .with_columns(
            pl.when(pl.col("mandatory_reason").list.len() == 0)
            .then(pl.col("mandatory").list.eval(pl.lit("")))
            .otherwise(pl.col("mandatory_reason"))
            .alias("mandatory_reason")
        )
        .explode("mandatory", "mandatory_reason")
        .rename({"mandatory": "item_code", "mandatory_reason": "reason"})
        .with_columns(
            pl.when(pl.col("reason").is_null() | (pl.col("reason") == ""))
            .then(pl.lit("rule pack: mandatory this period"))
            .otherwise(pl.col("reason"))
            .alias("reason")
        )
        .filter(pl.col("item_code").is_not_null())
    )
    # The same item listed twice for one subject is one obligation; keep the first reason in text order.
    return (
        rows.sort("uscc", "item_code", "reason").unique(["uscc", "item_code"], keep="first").sort("uscc", "item_code")
    )


def check_item_codes(items: Sequence[CheckItemCreate]) -> dict[str, CheckItemCreate]:
    """Items by code; duplicates refused."""
    by_code: dict[str, CheckItemCreate] = {}
    for item in items:
        if not isinstance(item, CheckItemCreate):
            raise InputError(f"check items must be CheckItemCreate, not {type(item).__name__}")
        if item.code in by_code:
            raise InputError(f"check item {item.code} is given twice")
        by_code[item.code] = item
    return dict(sorted(by_code.items()))
