"""Compute the features of one partition of subjects from its frames: pure, as of an explicit date.

The partition function of the feature stage. It takes the rows of the source tables for one USCC range as polars
frames (`INPUTS` names the tables, their columns and types), and `as_of`, and returns one row per subject registered
on or before `as_of`, typed as `SCHEMA`, sorted by USCC. It reads no store, no file and no clock, so the same code runs
on frames read from SQLite or PostgreSQL (engine/features/read.py), from Parquet, or from a Spark partition's Arrow
batches (`pl.from_arrow`). Every as-of filter is here, none in the reader: one read serves any as-of.

One fact is not the partition's: whether the store holds any annual report of the year due by `as_of` (no data is
not the same as not filed). The caller passes it as `holds_reports`, read once for the whole store.
Adding a feature: one registry entry (registry.py), its expression in one of the `_…` functions here, and the same
in SQL in reference.py (the property test in tests/engine/test_feature_frames.py compares the two).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import polars as pl

from engine.features import intervals
from engine.features.registry import FEATURES, REGISTRY
from entities.enums import PUBLIC_GATHERING
from entities.errors import InputError

# Result codes that mean the check found something wrong (the rest: nothing found, not operating, gone).
PROBLEM_CODES = frozenset(
    {"unpublished_info", "false_info", "unreachable", "obstructed", "fixed_after_order", "other_violation"}
)
# Food check items in the catalogue (SP-SC-01, SP-XS-01, SP-CY-01) and the check kinds that cover every point.
FOOD_ITEM_PREFIX = "SP-"
FULL_CHECK_KINDS = frozenset({"random", "key"})
_DTYPES = {"int": pl.Int64, "float": pl.Float64, "bool": pl.Boolean, "str": pl.Utf8}
SCHEMA: dict[str, Any] = {"uscc": pl.Utf8, **{f.name: _DTYPES[f.type] for f in FEATURES}}
DEVICE_CLASS = {"I": 1, "II": 2, "III": 3}

_S, _D, _B, _I, _F = pl.Utf8, pl.Date, pl.Boolean, pl.Int64, pl.Float64
# The source tables the features read, with the columns and types a partition's frames must have. Store column
# names, so a table exported as is (Parquet, Hive) is already a valid frame. `result_codes` is the stored JSON text
# of the codes. `accident` has no USCC: its rows count for the user unit of their equipment, so a partition's
# accident frame may hold rows of other subjects' units (only those joined to the partition's equipment count).
INPUTS: dict[str, dict[str, Any]] = {
    "subject": {
        "uscc": _S,
        "kind": _S,
        "status": _S,
        "industry": _S,
        "registered_on": _D,
        "whitelist": _B,
        "lenient": _B,
    },
    "list_entry": {"uscc": _S, "list_name": _S, "listed_on": _D, "removed_on": _D, "reason": _S},
    "penalty": {"uscc": _S, "decided_on": _D, "severity": _S, "legal_basis": _S},
    "complaint": {"uscc": _S, "received_on": _D, "verified": _B, "domain": _S},
    "check_result": {"uscc": _S, "checked_on": _D, "result_codes": _S, "item_code": _S, "kind": _S},
    "food_business": {
        "uscc": _S,
        "licence_no": _S,
        "licence_kind": _S,
        "format": _S,
        "scale": _S,
        "static_score": _F,
        "dynamic_score": _F,
    },
    "device_business": {"uscc": _S, "activity": _S, "product_class": _S, "key_catalogue": _B},
    "equipment": {
        "reg_code": _S,
        "user_uscc": _S,
        "category": _S,
        "sub_type": _S,
        "location_type": _S,
        "installed_on": _D,
        "design_life_years": _I,
        "last_inspected_on": _D,
        "last_conclusion": _S,
        "next_due_on": _D,
        "safety_grade": _I,
        "open_hidden_dangers": _I,
        "serious_hidden_dangers": _I,
        "status": _S,
    },
    "accident": {"reg_code": _S, "occurred_on": _D, "responsible": _B},
    "annual_report": {"uscc": _S, "year": _I, "filed_on": _D},
    "licence": {"uscc": _S, "kind": _S, "valid_from": _D, "valid_to": _D},
}
# The column that says whose a table's rows are (accidents: through their equipment).
OWNER: dict[str, str | None] = {t: ("user_uscc" if t == "equipment" else "uscc") for t in INPUTS} | {"accident": None}


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def report_year(as_of: dt.date) -> int:
    """The latest report year whose filing period (1 January – 30 June of the next year) has ended by as_of."""
    return as_of.year - 1 if as_of > dt.date(as_of.year, 6, 30) else as_of.year - 2


def read_windows(as_of: dt.date) -> dict[str, tuple[str, dt.date | None, dt.date]]:
    """Per table whose rows count only within dates: (date column, after it (exclusive) or None, until (inclusive)).

    The widest window any feature of that table reads as of `as_of`, so a reader may skip the rows outside it (and
    annual reports of other years than report_year(as_of)); the features apply their own windows in any case, so a
    reader that skips nothing gets the same features. A feature that reads further back must widen its table's window
    here (tests/engine/test_feature_frames.py compares windowed and whole reads).
    """
    return {
        "subject": ("registered_on", None, as_of),
        "list_entry": ("listed_on", None, as_of),
        "penalty": ("decided_on", years_before(as_of, 3), as_of),
        "complaint": ("received_on", as_of - dt.timedelta(days=365), as_of),
        "check_result": ("checked_on", None, as_of),
        "accident": ("occurred_on", years_before(as_of, 2), as_of),
        "licence": ("valid_from", None, as_of),
    }


def _n(cond: pl.Expr) -> pl.Expr:
    """How many rows of the group meet cond (a null condition does not count, as in SQL's CASE WHEN)."""
    return cond.fill_null(False).sum().cast(pl.Int64)


def _subjects(t: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    # A subject registered after as_of did not exist then: it is not in that date's population (counted apart by
    # registered_after, so a grade run says how many it left out).
    return t.filter(pl.col("registered_on") <= as_of).select(
        "uscc",
        pl.col("kind").alias("subject_kind"),
        "status",
        pl.col("industry").str.slice(0, 1).alias("industry_section"),
        (pl.lit(as_of) - pl.col("registered_on")).dt.total_days().cast(pl.Int64).alias("days_since_registration"),
        "whitelist",
        "lenient",
    )


def _lists(t: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    listed, removed = pl.col("listed_on"), pl.col("removed_on")
    current = (listed <= as_of) & (removed.is_null() | (removed > as_of))
    abnormal = pl.col("list_name") == "abnormal"
    return t.group_by("uscc").agg(
        (_n(current & abnormal) > 0).alias("on_abnormal_list"),
        (_n(current & (pl.col("list_name") == "serious_violation")) > 0).alias("on_serious_violation_list"),
        _n(abnormal & (listed > years_before(as_of, 3)) & (listed <= as_of)).alias("abnormal_listings_3y"),
        # 企业经营异常名录管理办法 第4条(四): listed because the registered address cannot be reached.
        (_n(current & abnormal & pl.col("reason").str.contains("无法联系", literal=True)) > 0).alias(
            "abnormal_unreachable"
        ),
    )


def _penalties(t: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    day = pl.col("decided_on")
    y1 = (day <= as_of) & (day > as_of - dt.timedelta(days=365))
    y3 = (day <= as_of) & (day > years_before(as_of, 3))
    return t.group_by("uscc").agg(
        _n(y1).alias("penalties_1y"),
        _n(y3).alias("penalties_3y"),
        _n(y3 & pl.col("severity").is_in(["suspension", "revocation"])).alias("severe_penalties_3y"),
        # A penalty under the medical-device rules: its legal basis names them (令54号 第52条(二)).
        _n(y1 & pl.col("legal_basis").str.contains("医疗器械", literal=True)).alias("device_penalties_1y"),
    )


def _complaints(t: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    day = pl.col("received_on")
    window = (day > as_of - dt.timedelta(days=365)) & (day <= as_of)
    verified = window & pl.col("verified")
    return t.group_by("uscc").agg(
        _n(window).alias("complaints_12m"),
        _n(verified).alias("verified_complaints_12m"),
        # 令57号 第9条(三): only complaints concerning special-equipment safety make a key unit.
        _n(verified & (pl.col("domain") == "special_equipment")).alias("equipment_verified_complaints_12m"),
    )


def _checks(t: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    problem = "|".join(sorted(PROBLEM_CODES))
    df = t.filter(pl.col("checked_on") <= as_of).select(
        "uscc",
        "checked_on",
        # The codes are their JSON text: a quoted code is a whole token, so a regex finds problem codes exactly,
        # without decoding JSON row by row.
        pl.col("result_codes").str.contains(f'"({problem})"').fill_null(False).alias("problem"),
        # 令49号 第22条 counts checks covering all check points: a routine (双随机 or 重点) check of a food item
        # covers them; a 专项 campaign or a complaint follow-up covers some points only.
        (
            pl.col("item_code").str.starts_with(FOOD_ITEM_PREFIX).fill_null(False)
            & pl.col("kind").is_in(sorted(FULL_CHECK_KINDS))
        ).alias("full_food"),
    )
    y3 = years_before(as_of, 3)
    return (
        df.sort(["uscc", "checked_on", "problem"])
        .group_by("uscc", maintain_order=True)
        .agg(
            (pl.col("checked_on") > y3).sum().cast(pl.Int64).alias("checks_3y"),
            ((pl.col("checked_on") > y3) & pl.col("problem")).sum().cast(pl.Int64).alias("problem_checks_3y"),
            (pl.lit(as_of) - pl.col("checked_on").last()).dt.total_days().cast(pl.Int64).alias("days_since_last_check"),
            # Several checks on the last day: any problem counts (sorted so the problem one is last).
            pl.col("problem").last().alias("last_check_found_problem"),
            (pl.lit(as_of) - pl.col("checked_on").filter(pl.col("full_food")).max())
            .dt.total_days()
            .cast(pl.Int64)
            .alias("days_since_full_food_check"),
        )
    )


def _food(t: pl.DataFrame) -> pl.DataFrame:
    df = t.select(
        "uscc",
        pl.col("licence_kind").alias("food_licence_kind"),
        pl.col("format").alias("food_format"),
        pl.col("scale").alias("food_scale"),
        pl.col("static_score").alias("food_static_score"),
        pl.col("dynamic_score").alias("food_dynamic_score"),
        "licence_no",
    )
    # A subject with several food licences is graded on its riskiest one (ties: the smallest licence number).
    return (
        df.with_columns((pl.col("food_static_score") + pl.col("food_dynamic_score")).alias("food_risk_score"))
        .sort(["uscc", "food_risk_score", "licence_no"], descending=[False, True, False])
        .unique("uscc", keep="first", maintain_order=True)
        .drop("licence_no")
        .with_columns(pl.lit(True).alias("has_food_licence"))
    )


def _devices(t: pl.DataFrame) -> pl.DataFrame:
    producer = pl.col("activity") == "production"
    return t.group_by("uscc").agg(
        pl.lit(True).alias("has_device_business"),
        producer.any().alias("device_producer"),
        pl.col("product_class").replace_strict(DEVICE_CLASS, return_dtype=pl.Int64).max().alias("device_max_class"),
        (producer & pl.col("key_catalogue")).any().alias("device_key_catalogue"),
    )


def _interval_lookup() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The interval table as three small frames: by (category, grade), by sub-type, by category."""

    def rows(items: Any, keys: list[str]) -> pl.DataFrame:
        data = [(*k, iv.years, iv.first_years) for k, iv in items]
        schema = {**{k: (pl.Int64 if k == "grade" else pl.Utf8) for k in keys}, "years": pl.Int64, "first": pl.Int64}
        return pl.DataFrame(data, schema=schema, orient="row")

    by_grade = rows(intervals.BY_GRADE.items(), ["category", "grade"]).with_columns(
        pl.lit(True).alias("graded"),
        pl.struct("category", "grade")
        .is_in([{"category": c, "grade": g} for c, g in intervals.BODY_SET_GRADES])
        .alias("body_set"),
    )
    by_sub = rows([((k,), v) for k, v in intervals.BY_SUB_TYPE.items()], ["sub_type"])
    by_cat = rows([((k,), v) for k, v in intervals.BY_CATEGORY.items()], ["category"])
    return by_grade, by_sub, by_cat


_BY_GRADE, _BY_SUB, _BY_CAT = _interval_lookup()
# For an elevator whose last inspection counted for anniversary year y (y < 15): the next inspection year.
_ELEVATOR_NEXT = {y: min(s for s in intervals.ELEVATOR_YEARS if s > y) for y in range(intervals.ELEVATOR_YEARS[-1])}


def _full_years(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    """Whole years from start to end (end before an anniversary's month-day has not completed the year)."""
    md = lambda d: d.dt.month().cast(pl.Int64) * 100 + d.dt.day().cast(pl.Int64)  # noqa: E731
    return end.dt.year().cast(pl.Int64) - start.dt.year().cast(pl.Int64) - (md(end) < md(start)).cast(pl.Int64)


def due_dates(units: pl.DataFrame) -> pl.Series:
    """Each unit's next periodic-inspection date from its last inspection and its category's interval.

    `units` has category, sub_type, grade, installed_on, last_inspected_on, next_due_on. Elevators follow the
    TSG T7001-2023 anniversaries of installed_on; other categories add their interval to the last inspection
    (or the first-inspection years to installed_on). The recorded next_due_on is used only where the rule leaves
    the date to the inspection body (pressure vessels in 监控使用) or the table has no interval for the category.
    A null date: no periodic inspection is due (a unit that must not be used at all).
    """
    df = (
        units.with_row_index("_i")
        .join(_BY_GRADE.rename({"years": "g_years", "first": "g_first"}), on=["category", "grade"], how="left")
        .join(_BY_SUB.rename({"years": "s_years", "first": "s_first"}), on="sub_type", how="left")
        .join(_BY_CAT.rename({"years": "c_years", "first": "c_first"}), on="category", how="left")
        .sort("_i")
    )
    graded = pl.col("graded").fill_null(False)
    years = pl.when(graded).then(pl.col("g_years")).otherwise(pl.coalesce("s_years", "c_years"))
    first = pl.when(graded).then(pl.col("g_first")).otherwise(pl.coalesce("s_first", "c_first"))
    known = graded | pl.col("s_first").is_not_null() | pl.col("c_first").is_not_null()
    last, installed = pl.col("last_inspected_on"), pl.col("installed_on")
    generic = (
        pl.when(years.is_null())
        .then(pl.lit(None, dtype=pl.Date))
        .when(last.is_not_null())
        .then(last.dt.offset_by(pl.format("{}y", years)))
        .otherwise(installed.dt.offset_by(pl.format("{}y", first)))
    )
    ref = pl.when(last.is_null()).then(installed).otherwise(last + pl.duration(days=intervals.ELEVATOR_EARLY_DAYS))
    done = _full_years(installed, ref).clip(lower_bound=0)
    nxt = (
        pl.when(done >= intervals.ELEVATOR_YEARS[-1])
        .then(done + 1)
        .otherwise(done.replace_strict(_ELEVATOR_NEXT, default=1, return_dtype=pl.Int64))
    )
    elevator = installed.dt.offset_by(pl.format("{}y", nxt))
    body_set = pl.col("body_set").fill_null(False) & pl.col("next_due_on").is_not_null()
    due = (
        pl.when(~known | body_set)
        .then(pl.col("next_due_on"))
        .when((pl.col("category") == "elevator") & ~graded)
        .then(elevator)
        .otherwise(generic)
    )
    return df.select(due.alias("due_on"))["due_on"]


def _equipment(t: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    df = t.filter(pl.col("installed_on") <= as_of).select(
        pl.col("user_uscc").alias("uscc"),
        "category",
        "sub_type",
        "location_type",
        "installed_on",
        pl.col("design_life_years").alias("design_life"),
        # An inspection recorded after as_of has not happened yet as of as_of.
        pl.when(pl.col("last_inspected_on") <= as_of).then(pl.col("last_inspected_on")).alias("last_inspected_on"),
        pl.col("last_conclusion").alias("conclusion"),
        "next_due_on",
        pl.col("safety_grade").alias("grade"),
        pl.col("open_hidden_dangers").alias("dangers"),
        pl.col("serious_hidden_dangers").alias("serious"),
        "status",
    )
    # Construction-site cranes and 场车 are the construction authority's (特种设备安全法 第100条): out of scope.
    site = pl.col("category").is_in(sorted(intervals.CONSTRUCTION_CATEGORIES)) & (
        (pl.col("location_type") == "building_site")
        | pl.col("sub_type").is_in(sorted(intervals.CONSTRUCTION_SUB_TYPES))
    )
    # Only units in use (在用) are due, overdue or hazardous; 停用 and 报废 units are not used.
    df = df.filter(~site & (pl.col("status").fill_null("in_use") == "in_use"))
    df = df.with_columns(due_dates(df).alias("due_on"))
    overdue_days = (pl.lit(as_of) - pl.col("due_on")).dt.total_days()
    overdue = pl.col("due_on").is_not_null() & (pl.col("due_on") < as_of)
    due_soon = pl.col("due_on").is_between(as_of, as_of + dt.timedelta(days=90))
    age_years = (pl.lit(as_of) - pl.col("installed_on")).dt.total_days() / 365.25
    # 达到报废条件 or not to be used at all: a vessel at 安全状况等级 5, piping at 4 (判废).
    unusable = ((pl.col("category") == "pressure_vessel") & (pl.col("grade") == 5)) | (
        (pl.col("category") == "pressure_piping") & (pl.col("grade") >= 4)
    )
    return df.group_by("uscc").agg(
        pl.len().cast(pl.Int64).alias("equipment_count"),
        (pl.col("category") == "elevator").sum().cast(pl.Int64).alias("elevator_count"),
        pl.col("location_type")
        .is_in(sorted(PUBLIC_GATHERING))
        .sum()
        .cast(pl.Int64)
        .alias("public_gathering_equipment_count"),
        overdue.sum().cast(pl.Int64).alias("equipment_overdue_count"),
        pl.when(overdue).then(overdue_days).otherwise(0).max().cast(pl.Int64).alias("equipment_max_days_overdue"),
        due_soon.sum().cast(pl.Int64).alias("equipment_due_90d_count"),
        (pl.col("conclusion") == "fail").sum().cast(pl.Int64).alias("equipment_failed_count"),
        (pl.col("design_life").is_not_null() & (age_years > pl.col("design_life")))
        .sum()
        .cast(pl.Int64)
        .alias("equipment_over_design_life_count"),
        pl.col("dangers").sum().cast(pl.Int64).alias("equipment_hidden_dangers"),
        pl.col("serious").sum().cast(pl.Int64).alias("equipment_serious_hidden_dangers"),
        # 安全状况等级: 1 best … 5 worst, so the worst is the largest number.
        pl.col("grade").filter(pl.col("category") == "pressure_vessel").max().alias("pressure_vessel_worst_grade"),
        unusable.sum().cast(pl.Int64).alias("equipment_unusable_in_use_count"),
    )


def _licences(t: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    valid = (pl.col("valid_from") <= as_of) & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= as_of))
    return t.group_by("uscc").agg(
        (_n(valid & (pl.col("kind") == "industrial_product")) > 0).alias("has_industrial_product_licence")
    )


def _accidents(t: pl.DataFrame, equipment: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    # Every accident of a unit the subject uses counts, whatever the unit's state now (installed after as_of, stopped).
    day = pl.col("occurred_on")
    recent = t.filter(pl.col("responsible") & (day > years_before(as_of, 2)) & (day <= as_of))
    owners = equipment.select("reg_code", pl.col("user_uscc").alias("uscc"))
    return (
        recent.join(owners, on="reg_code", how="inner")
        .group_by("uscc")
        .agg(pl.len().cast(pl.Int64).alias("responsible_accidents_2y"))
    )


def _annual_reports(t: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    year = report_year(as_of)
    deadline = min(dt.date(year + 1, 6, 30), as_of)
    filed = pl.col("filed_on")
    return (
        t.filter(pl.col("year") == year)
        .group_by("uscc")
        .agg(_n(filed.is_not_null() & (filed <= deadline)).alias("_report_on_time"))
    )


ZERO_WHEN_ABSENT = [
    f.name
    for f in FEATURES
    if not f.nullable
    and f.type in ("int", "bool")
    and f.name not in ("days_since_registration", "whitelist", "lenient")
]


def check_frames(tables: Mapping[str, pl.DataFrame], where: str = "the partition") -> None:
    """Raise InputError naming the first table or column a partition's frames lack, or a column of the wrong type."""
    for name, columns in INPUTS.items():
        frame = tables.get(name)
        if frame is None:
            raise InputError(f"{where} has no {name} table; give one (it may have no rows)")
        for column, dtype in columns.items():
            if column not in frame.schema:
                raise InputError(f"{where}: table {name} has no column {column}; add it ({dtype})")
            if frame.schema[column] != dtype and frame.schema[column] != pl.Null:
                raise InputError(
                    f"{where}: column {name}.{column} is {frame.schema[column]}, expected {dtype}; convert it"
                )


def _typed(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    # A column of nulls only (a Null dtype from a source with no values) becomes the expected type.
    return frame.select([pl.col(c).cast(t) for c, t in INPUTS[name].items()])


def partition_features(tables: Mapping[str, pl.DataFrame], as_of: dt.date, *, holds_reports: bool) -> pl.DataFrame:
    """The features of the subjects in `tables` as of `as_of`: one row per subject registered by then, sorted by USCC.

    `tables` maps every name in INPUTS to a frame of that table's rows for one USCC range (extra columns are ignored;
    rows of other subjects do no harm but cost time). `holds_reports`: whether the store holds any annual report of
    report_year(as_of) at all; without any, annual_report_late is missing rather than true.
    """
    check_frames(tables)
    t = {name: _typed(tables[name], name) for name in INPUTS}
    df = _subjects(t["subject"], as_of)
    for part in (
        _lists(t["list_entry"], as_of),
        _penalties(t["penalty"], as_of),
        _complaints(t["complaint"], as_of),
        _checks(t["check_result"], as_of),
        _food(t["food_business"]),
        _devices(t["device_business"]),
        _equipment(t["equipment"], as_of),
        _accidents(t["accident"], t["equipment"], as_of),
        _annual_reports(t["annual_report"], as_of),
        _licences(t["licence"], as_of),
    ):
        df = df.join(part, on="uscc", how="left")
    # 企业信息公示暂行条例 第8条: last year's report is due by 30 June; a subject set up in the report year
    # reports from the next year on. Missing when the store holds no reports of that year at all.
    year_end = dt.date(report_year(as_of), 12, 31)
    must_report = pl.col("days_since_registration") > (as_of - year_end).days
    late = must_report & (pl.col("_report_on_time").fill_null(0) == 0)
    df = df.with_columns((late if holds_reports else pl.lit(None, dtype=pl.Boolean)).alias("annual_report_late")).drop(
        "_report_on_time"
    )
    fills = [pl.col(n).fill_null(False if REGISTRY[n].type == "bool" else 0) for n in ZERO_WHEN_ABSENT]
    return df.with_columns(fills).select([pl.col(c).cast(t) for c, t in SCHEMA.items()]).sort("uscc")


def frame_holds_reports(annual_reports: pl.DataFrame, as_of: dt.date) -> bool:
    """Whether a frame of the whole annual_report table (year column) holds a report of the year due by as_of."""
    return annual_reports.filter(pl.col("year") == report_year(as_of)).height > 0
