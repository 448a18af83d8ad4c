"""The frames a plan reads — subjects with their grades, and past checks — built from plain rows and checked.

`subjects_frame` and `history_frame` turn rows (dicts) into frames with the types `make_plan` expects, filling
the planning columns a test or demo leaves out with neutral values. `check_subjects` and `check_history` are what
make_plan itself runs: they name the first problem in one line and never guess.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import polars as pl

from engine.features.registry import REGISTRY
from entities.enums import CHECK_LEVELS
from entities.errors import InputError

ColumnType = pl.DataType | type[pl.DataType]
"""A polars column type, as a class (`pl.Int64`) or an instance (`pl.List(pl.String)`), as polars accepts both."""

_FEATURE_TYPES: dict[str, ColumnType] = {"int": pl.Int64, "float": pl.Float64, "bool": pl.Boolean, "str": pl.String}

SECTOR_GRADES = ("food_grade", "hazard_level", "equipment_key_unit", "device_level")
"""Pack outputs carried into the plan as sector-grade columns (text: a number or true/false as written, e.g.
hazard_level "4", equipment_key_unit "true") that a policy item may stratify by — e.g. 令57号 第9条's higher
sampling ratio for special-equipment key units, `grade_column: equipment_key_unit` in a provincial pack."""

FREQUENCY_OUTPUTS = ("food_checks_per_year", "equipment_checks_per_year", "device_checks_per_year")
"""Pack outputs carried into the plan as checks per year (numbers) that a fitted plan's frequency layer reads
(PlanPolicy.frequencies names which domain each one is for)."""

PLANNING_COLUMNS: dict[str, ColumnType] = {
    "uscc": pl.String,
    "region": pl.String,
    "credit_class": pl.String,
    "mandatory": pl.List(pl.String),
    "mandatory_reason": pl.List(pl.String),
    "risk": pl.Float64,
    "status": pl.String,
    "whitelist": pl.Boolean,
    "name": pl.String,
    "address": pl.String,
    **{f: pl.Float64 for f in FREQUENCY_OUTPUTS},
}
"""The columns make_plan reads besides the features its items' targets use (and sector grades, which are text)."""

PLAIN_TEXT = ("uscc", "region", "credit_class", "status")
"""Subjects' text columns the planner reads as plain text (matched, sliced, joined)."""

HISTORY_SCHEMA: dict[str, ColumnType] = {
    "uscc": pl.String,
    "checked_on": pl.Date,
    "item_code": pl.String,
    "kind": pl.String,
    "lead_inspector": pl.String,
}

HISTORY_CODES = ("item_code", "kind", "level", "lead_inspector")
"""History columns that may be Categoricals instead of text (planning.history reads them so): a few values each."""

HISTORY_OPTIONAL: dict[str, ColumnType] = {
    "level": pl.String,
    "finding": pl.Boolean,
    "own": pl.Boolean,
}
"""History columns a plan reads when present (令49号 第42条, engine.plan.select): `level` the level that made the
check (entities.enums.CheckLevel; null: not recorded), `finding` whether it found a problem (null: not known, read
as none), `own` whether it is a result recorded with `results record|import` for one of the store's own plans (it
counts as the plan's own level). Plans recorded before these columns existed have none: left out, they read as
null, which gives the rule those plans were made with."""

# What a test or demo row gets when it leaves a planning column out: class B (信用风险一般, the middle), no
# mandatory work, no risk score, active, not whitelisted.
_DEFAULTS: dict[str, Any] = {
    "credit_class": "B",
    "mandatory": [],
    "mandatory_reason": [],
    "risk": 0.0,
    "status": "active",
    "whitelist": False,
}


def _dtype(column: str) -> ColumnType | None:
    if column in PLANNING_COLUMNS:
        return PLANNING_COLUMNS[column]
    feature = REGISTRY.get(column)
    return _FEATURE_TYPES[feature.type] if feature is not None else None


def subjects_frame(rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """A subjects frame from plain rows: uscc, region, grades, mandatory items and features, typed for make_plan.

    Each row needs `uscc` and `region`; the other planning columns default to class B, no mandatory work, risk 0,
    active and not whitelisted. A mandatory item may be given as a code, or as (code, reason) pairs. Features take
    the catalogue's types; any other column (a sector grade such as food_grade, name, address) is text.
    """
    records = [dict(r) for r in rows]
    columns: list[str] = ["uscc", "region"]
    for r in records:
        for key in r:
            if key not in columns:
                columns.append(key)
    for key in _DEFAULTS:
        if key not in columns:
            columns.append(key)
    for r in records:
        for key in ("uscc", "region"):
            if key not in r:
                raise InputError(f"subject row {r!r} has no {key}")
        mandatory = r.get("mandatory") or []
        codes: list[str] = []
        reasons: list[str] = list(r.get("mandatory_reason") or [])
        for entry in mandatory:
            if isinstance(entry, tuple | list):
                codes.append(str(entry[0]))
                reasons.append(str(entry[1]))
            else:
                codes.append(str(entry))
        if len(reasons) < len(codes):
            reasons += [""] * (len(codes) - len(reasons))
        r["mandatory"], r["mandatory_reason"] = codes, reasons
        for key, value in _DEFAULTS.items():
            r.setdefault(key, value)
    schema = {c: (_dtype(c) or pl.String) for c in columns}
    return pl.DataFrame([[r.get(c) for c in columns] for r in records], schema=schema, orient="row")


def history_frame(rows: Iterable[Mapping[str, Any]] = ()) -> pl.DataFrame:
    """Past checks (uscc, checked_on, item_code, kind, lead_inspector, level, finding, own) as a frame; no rows
    gives an empty one. A row without a kind is a random check; without level or finding, they are not known."""
    records = [dict(r) for r in rows]
    for r in records:
        r.setdefault("kind", "random")
    schema = HISTORY_SCHEMA | HISTORY_OPTIONAL
    return pl.DataFrame([[r.get(c) for c in schema] for r in records], schema=schema, orient="row")


def _need(frame: pl.DataFrame, what: str, column: str, dtype: ColumnType | Literal["numeric"], hint: str = "") -> None:
    if column not in frame.columns:
        raise InputError(f"{what} have no column {column!r}{hint}")
    actual = frame.schema[column]
    if dtype == "numeric":
        if not actual.is_numeric():
            raise InputError(f"{what} column {column!r} must be numeric, not {actual}")
    elif actual != dtype:
        raise InputError(f"{what} column {column!r} must be {dtype}, not {actual}")


def check_subjects(frame: object, *, need_status: bool, need_whitelist: bool) -> pl.DataFrame:
    """The subjects frame with its planning columns checked and completed; the first problem as one line."""
    if not isinstance(frame, pl.DataFrame):
        raise InputError(f"subjects must be a polars DataFrame, not {type(frame).__name__}")
    what = "subjects"
    # The text columns the planner matches and slices as text are plain text, even when given as Categorical or
    # Enum (common after a parquet round trip). Other text columns — features an item's target compares, sector
    # grades a stratum reads as text — may stay Categorical: at province scale each costs 4 bytes a subject
    # instead of 16 or more (engine.planning.narrow).
    text_like = [c for c, t in frame.schema.items() if isinstance(t, pl.Categorical | pl.Enum) and c in PLAIN_TEXT]
    if text_like:
        frame = frame.with_columns(pl.col(text_like).cast(pl.String))
    _need(frame, what, "uscc", pl.String)
    _need(frame, what, "region", pl.String)
    _need(frame, what, "credit_class", pl.String, " (the credit class A-D from grading)")
    for column in ("uscc", "region"):
        if frame[column].null_count():
            raise InputError(f"subjects column {column!r} has empty (null) values")
    if frame["uscc"].n_unique() != frame.height:
        repeated = frame.filter(pl.col("uscc").is_duplicated())["uscc"].sort()[0]
        raise InputError(f"subject {repeated} occurs more than once in the subjects")
    bad_region = frame.filter(~pl.col("region").str.contains(r"^\d{6}(\d{3})?$"))
    if bad_region.height:
        row = bad_region.sort("uscc").row(0, named=True)
        raise InputError(
            f"subject {row['uscc']}: region {row['region']!r} is not a 6-digit county or 9-digit 街镇 code"
        )
    extra: list[pl.Expr] = []
    if "mandatory" in frame.columns:
        _need(frame, what, "mandatory", pl.List(pl.String), " (a list of item codes)")
        if frame["mandatory"].null_count():  # a copy of a list column only when it has gaps (10 M rows: 0.2 GB)
            extra.append(pl.col("mandatory").fill_null([]))
    else:
        extra.append(pl.lit([], dtype=pl.List(pl.String)).alias("mandatory"))
    if "mandatory_reason" in frame.columns:
        _need(frame, what, "mandatory_reason", pl.List(pl.String), " (one reason per mandatory item)")
        if frame["mandatory_reason"].null_count():
            extra.append(pl.col("mandatory_reason").fill_null([]))
    else:
        extra.append(pl.lit([], dtype=pl.List(pl.String)).alias("mandatory_reason"))
    if "risk" in frame.columns:
        _need(frame, what, "risk", "numeric")
        if frame.schema["risk"] != pl.Float64:
            extra.append(pl.col("risk").cast(pl.Float64))
    else:
        extra.append(pl.lit(None, dtype=pl.Float64).alias("risk"))
    if need_status:
        _need(frame, what, "status", pl.String, " (registration status; or set excluded_statuses to [])")
    if need_whitelist:
        _need(frame, what, "whitelist", pl.Boolean, " (the policy's whitelist handling reads it)")
    out = frame.with_columns(extra) if extra else frame
    lengths = out.select(
        "uscc",
        pl.col("mandatory").list.len().alias("n"),
        pl.col("mandatory_reason").list.len().alias("r"),
    ).filter((pl.col("r") != 0) & (pl.col("r") != pl.col("n")))
    if lengths.height:
        uscc = lengths.sort("uscc")["uscc"][0]
        raise InputError(f"subject {uscc}: mandatory_reason must give one reason per mandatory item")
    bad_risk = out.filter(pl.col("risk").is_nan() | pl.col("risk").is_infinite())
    if bad_risk.height:
        row = bad_risk.sort("uscc").row(0, named=True)
        raise InputError(f"subject {row['uscc']}: risk is {row['risk']} (give a finite number, or leave it empty)")
    if "days_since_registration" in out.columns and out.schema["days_since_registration"].is_numeric():
        early = out.filter(pl.col("days_since_registration") < 0)
        if early.height:
            row = early.sort("uscc").row(0, named=True)
            raise InputError(
                f"as-of is before the data: subject {row['uscc']} was registered "
                f"{-row['days_since_registration']} days after it; compute the features as of the plan's as-of"
            )
    return out


def _as_read(frame: pl.DataFrame, column: str, dtype: ColumnType) -> ColumnType:
    """The type `column` must have: a HISTORY_CODES column may be a Categorical where text is asked for."""
    if column in HISTORY_CODES and column in frame.columns and frame.schema[column] == pl.Categorical:
        return pl.Categorical
    return dtype


def check_history(frame: object, as_of: dt.date) -> pl.DataFrame:
    """Past checks, checked; a check after `as_of` means the plan would be made as of a date before its data."""
    if not isinstance(frame, pl.DataFrame):
        raise InputError(f"history must be a polars DataFrame, not {type(frame).__name__}")
    what = "history (past checks)"
    for column, dtype in HISTORY_SCHEMA.items():
        _need(frame, what, column, _as_read(frame, column, dtype))
    for column in ("uscc", "checked_on", "kind"):
        if frame[column].null_count():
            raise InputError(f"history column {column!r} has empty (null) values")
    if frame.height:
        last = frame["checked_on"].max()
        assert isinstance(last, dt.date)
        if last > as_of:
            raise InputError(
                f"as-of {as_of} is before the data: the history has checks up to {last}; plan as of {last} or later"
            )
    missing: list[pl.Expr] = []
    for column, dtype in HISTORY_OPTIONAL.items():
        if column in frame.columns:
            _need(frame, what, column, _as_read(frame, column, dtype))
        else:
            missing.append(pl.lit(None, dtype=dtype).alias(column))
    frame = frame.with_columns(missing)
    bad = frame.filter(pl.col("level").is_not_null() & ~pl.col("level").is_in(list(CHECK_LEVELS)))
    if bad.height:
        row = bad.sort("uscc", "checked_on").row(0, named=True)
        raise InputError(
            f"history: the check of {row['uscc']} on {row['checked_on']} has level {row['level']!r} "
            f"(known: {', '.join(CHECK_LEVELS)}; empty when not recorded)"
        )
    return frame.select(list(HISTORY_SCHEMA | HISTORY_OPTIONAL))
