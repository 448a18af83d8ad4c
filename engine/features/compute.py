"""Compute the features of every subject from the store, as of an explicit date, in partitions.

Set-based: each source table is aggregated with one GROUP BY per partition of subjects (a USCC key range), and
the pieces are joined in polars. Nothing here reads the wall clock; `as_of` is the only notion of "now".
Adding a feature: one registry entry (registry.py) and its expression in one of the `_…` functions here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.features import intervals
from engine.features.registry import FEATURES, REGISTRY
from entities import store
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
_DEVICE_CLASS = {"I": 1, "II": 2, "III": 3}


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _frame(conn: Connection, stmt: sa.Select[Any], columns: Sequence[str], schema: dict[str, Any]) -> pl.DataFrame:
    rows = conn.execute(stmt).all()
    return pl.DataFrame(rows, schema={c: schema[c] for c in columns}, orient="row")


def _in_partition(col: sa.ColumnElement[Any], lo: str, hi: str) -> sa.ColumnElement[bool]:
    return sa.and_(col >= lo, col <= hi)


def _count_if(cond: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return sa.func.sum(sa.case((cond, 1), else_=0))


def _subjects(conn: Connection, lo: str, hi: str, as_of: dt.date) -> pl.DataFrame:
    t = store.table("subject")
    # A subject registered after as_of did not exist then: it is not in that date's population (counted apart by
    # registered_after, so a grade run says how many it left out).
    # Dates and flags come over as text and integers and are parsed by polars: SQLAlchemy's per-value date
    # processing was most of the feature time at city scale.
    stmt = sa.select(
        t.c.uscc,
        t.c.kind,
        t.c.status,
        t.c.industry,
        sa.cast(t.c.registered_on, sa.String),
        sa.cast(t.c.whitelist, sa.Integer),
        sa.cast(t.c.lenient, sa.Integer),
    ).where(_in_partition(t.c.uscc, lo, hi), t.c.registered_on <= as_of)
    df = _frame(
        conn,
        stmt,
        ["uscc", "kind", "status", "industry", "registered_on", "whitelist", "lenient"],
        {
            "uscc": pl.Utf8,
            "kind": pl.Utf8,
            "status": pl.Utf8,
            "industry": pl.Utf8,
            "registered_on": pl.Utf8,
            "whitelist": pl.Int64,
            "lenient": pl.Int64,
        },
    )
    return df.select(
        "uscc",
        pl.col("kind").alias("subject_kind"),
        "status",
        pl.col("industry").str.slice(0, 1).alias("industry_section"),
        (pl.lit(as_of) - pl.col("registered_on").str.slice(0, 10).str.to_date("%Y-%m-%d"))
        .dt.total_days()
        .cast(pl.Int64)
        .alias("days_since_registration"),
        (pl.col("whitelist") != 0).alias("whitelist"),
        (pl.col("lenient") != 0).alias("lenient"),
    )


def _lists(conn: Connection, lo: str, hi: str, as_of: dt.date) -> pl.DataFrame:
    t = store.table("list_entry")
    current = sa.and_(t.c.listed_on <= as_of, sa.or_(t.c.removed_on.is_(None), t.c.removed_on > as_of))
    stmt = (
        sa.select(
            t.c.uscc,
            _count_if(sa.and_(current, t.c.list_name == "abnormal")),
            _count_if(sa.and_(current, t.c.list_name == "serious_violation")),
            _count_if(
                sa.and_(t.c.list_name == "abnormal", t.c.listed_on > _years_before(as_of, 3), t.c.listed_on <= as_of)
            ),
            # 企业经营异常名录管理办法 第4条(四): listed because the registered address cannot be reached.
            _count_if(sa.and_(current, t.c.list_name == "abnormal", t.c.reason.like("%无法联系%"))),
        )
        .where(_in_partition(t.c.uscc, lo, hi))
        .group_by(t.c.uscc)
    )
    cols = ["uscc", "abn", "ser", "abnormal_listings_3y", "unreach"]
    df = _frame(
        conn,
        stmt,
        cols,
        {"uscc": pl.Utf8, "abn": pl.Int64, "ser": pl.Int64, "abnormal_listings_3y": pl.Int64, "unreach": pl.Int64},
    )
    return df.select(
        "uscc",
        (pl.col("abn") > 0).alias("on_abnormal_list"),
        (pl.col("ser") > 0).alias("on_serious_violation_list"),
        "abnormal_listings_3y",
        (pl.col("unreach") > 0).alias("abnormal_unreachable"),
    )


def _penalties(conn: Connection, lo: str, hi: str, as_of: dt.date) -> pl.DataFrame:
    t = store.table("penalty")
    past = t.c.decided_on <= as_of
    y1, y3 = as_of - dt.timedelta(days=365), _years_before(as_of, 3)
    stmt = (
        sa.select(
            t.c.uscc,
            _count_if(sa.and_(past, t.c.decided_on > y1)),
            _count_if(sa.and_(past, t.c.decided_on > y3)),
            _count_if(sa.and_(past, t.c.decided_on > y3, t.c.severity.in_(["suspension", "revocation"]))),
            # A penalty under the medical-device rules: its legal basis names them (令54号 第52条(二)).
            _count_if(sa.and_(past, t.c.decided_on > y1, t.c.legal_basis.like("%医疗器械%"))),
        )
        .where(_in_partition(t.c.uscc, lo, hi))
        .group_by(t.c.uscc)
    )
    cols = ["uscc", "penalties_1y", "penalties_3y", "severe_penalties_3y", "device_penalties_1y"]
    return _frame(conn, stmt, cols, SCHEMA)


def _complaints(conn: Connection, lo: str, hi: str, as_of: dt.date) -> pl.DataFrame:
    t = store.table("complaint")
    window = sa.and_(t.c.received_on > as_of - dt.timedelta(days=365), t.c.received_on <= as_of)
    stmt = (
        sa.select(
            t.c.uscc,
            _count_if(window),
            _count_if(sa.and_(window, t.c.verified)),
            # 令57号 第9条(三): only complaints concerning special-equipment safety make a key unit.
            _count_if(sa.and_(window, t.c.verified, t.c.domain == "special_equipment")),
        )
        .where(_in_partition(t.c.uscc, lo, hi))
        .group_by(t.c.uscc)
    )
    cols = ["uscc", "complaints_12m", "verified_complaints_12m", "equipment_verified_complaints_12m"]
    return _frame(conn, stmt, cols, SCHEMA)


def _checks(conn: Connection, lo: str, hi: str, as_of: dt.date) -> pl.DataFrame:
    t = store.table("check_result")
    # The codes come over as their JSON text: a quoted code is a whole token, so a regex finds problem codes
    # exactly, without decoding JSON row by row.
    stmt = sa.select(
        t.c.uscc, sa.cast(t.c.checked_on, sa.String), sa.cast(t.c.result_codes, sa.Text), t.c.item_code, t.c.kind
    ).where(_in_partition(t.c.uscc, lo, hi), t.c.checked_on <= as_of)
    problem = "|".join(sorted(PROBLEM_CODES))
    df = _frame(
        conn,
        stmt,
        ["uscc", "checked_on", "codes", "item_code", "kind"],
        {"uscc": pl.Utf8, "checked_on": pl.Utf8, "codes": pl.Utf8, "item_code": pl.Utf8, "kind": pl.Utf8},
    )
    df = df.select(
        "uscc",
        pl.col("checked_on").str.slice(0, 10).str.to_date("%Y-%m-%d"),
        pl.col("codes").str.contains(f'"({problem})"').fill_null(False).alias("problem"),
        # 令49号 第22条 counts checks covering all check points: a routine (双随机 or 重点) check of a food item
        # covers them; a 专项 campaign or a complaint follow-up covers some points only.
        (
            pl.col("item_code").str.starts_with(FOOD_ITEM_PREFIX).fill_null(False)
            & pl.col("kind").is_in(sorted(FULL_CHECK_KINDS))
        ).alias("full_food"),
    )
    y3 = _years_before(as_of, 3)
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


def _food(conn: Connection, lo: str, hi: str) -> pl.DataFrame:
    t = store.table("food_business")
    stmt = sa.select(
        t.c.uscc, t.c.licence_kind, t.c.format, t.c.scale, t.c.static_score, t.c.dynamic_score, t.c.licence_no
    ).where(_in_partition(t.c.uscc, lo, hi))
    df = _frame(
        conn,
        stmt,
        [
            "uscc",
            "food_licence_kind",
            "food_format",
            "food_scale",
            "food_static_score",
            "food_dynamic_score",
            "licence_no",
        ],
        {**SCHEMA, "licence_no": pl.Utf8},
    )
    # A subject with several food licences is graded on its riskiest one (ties: the smallest licence number).
    return (
        df.with_columns((pl.col("food_static_score") + pl.col("food_dynamic_score")).alias("food_risk_score"))
        .sort(["uscc", "food_risk_score", "licence_no"], descending=[False, True, False])
        .unique("uscc", keep="first", maintain_order=True)
        .drop("licence_no")
        .with_columns(pl.lit(True).alias("has_food_licence"))
    )


def _devices(conn: Connection, lo: str, hi: str) -> pl.DataFrame:
    t = store.table("device_business")
    stmt = sa.select(t.c.uscc, t.c.activity, t.c.product_class, t.c.key_catalogue).where(
        _in_partition(t.c.uscc, lo, hi)
    )
    df = _frame(
        conn,
        stmt,
        ["uscc", "activity", "product_class", "key"],
        {"uscc": pl.Utf8, "activity": pl.Utf8, "product_class": pl.Utf8, "key": pl.Boolean},
    )
    producer = pl.col("activity") == "production"
    return df.group_by("uscc").agg(
        pl.lit(True).alias("has_device_business"),
        producer.any().alias("device_producer"),
        pl.col("product_class").replace_strict(_DEVICE_CLASS, return_dtype=pl.Int64).max().alias("device_max_class"),
        (producer & pl.col("key")).any().alias("device_key_catalogue"),
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


def _equipment(conn: Connection, lo: str, hi: str, as_of: dt.date) -> pl.DataFrame:
    t = store.table("equipment")
    stmt = sa.select(
        t.c.user_uscc,
        t.c.category,
        t.c.sub_type,
        t.c.location_type,
        t.c.installed_on,
        t.c.design_life_years,
        t.c.last_inspected_on,
        t.c.last_conclusion,
        t.c.next_due_on,
        t.c.safety_grade,
        t.c.open_hidden_dangers,
        t.c.serious_hidden_dangers,
        t.c.status,
    ).where(_in_partition(t.c.user_uscc, lo, hi), t.c.installed_on <= as_of)
    cols = [
        "uscc",
        "category",
        "sub_type",
        "location_type",
        "installed_on",
        "design_life",
        "last_inspected_on",
        "conclusion",
        "next_due_on",
        "grade",
        "dangers",
        "serious",
        "status",
    ]
    df = _frame(
        conn,
        stmt,
        cols,
        {
            "uscc": pl.Utf8,
            "category": pl.Utf8,
            "sub_type": pl.Utf8,
            "location_type": pl.Utf8,
            "installed_on": pl.Date,
            "design_life": pl.Int64,
            "last_inspected_on": pl.Date,
            "conclusion": pl.Utf8,
            "next_due_on": pl.Date,
            "grade": pl.Int64,
            "dangers": pl.Int64,
            "serious": pl.Int64,
            "status": pl.Utf8,
        },
    )
    # An inspection recorded after as_of has not happened yet as of as_of.
    df = df.with_columns(
        pl.when(pl.col("last_inspected_on") <= as_of).then(pl.col("last_inspected_on")).alias("last_inspected_on")
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


def _licences(conn: Connection, lo: str, hi: str, as_of: dt.date) -> pl.DataFrame:
    t = store.table("licence")
    valid = sa.and_(t.c.valid_from <= as_of, sa.or_(t.c.valid_to.is_(None), t.c.valid_to >= as_of))
    stmt = (
        sa.select(t.c.uscc, _count_if(sa.and_(valid, t.c.kind == "industrial_product")))
        .where(_in_partition(t.c.uscc, lo, hi))
        .group_by(t.c.uscc)
    )
    df = _frame(conn, stmt, ["uscc", "n"], {"uscc": pl.Utf8, "n": pl.Int64})
    return df.select("uscc", (pl.col("n") > 0).alias("has_industrial_product_licence"))


def _accidents(conn: Connection, lo: str, hi: str, as_of: dt.date) -> pl.DataFrame:
    a, e = store.table("accident"), store.table("equipment")
    stmt = (
        sa.select(e.c.user_uscc, sa.func.count())
        .select_from(a.join(e, a.c.reg_code == e.c.reg_code))
        .where(
            _in_partition(e.c.user_uscc, lo, hi),
            a.c.responsible,
            a.c.occurred_on > _years_before(as_of, 2),
            a.c.occurred_on <= as_of,
        )
        .group_by(e.c.user_uscc)
    )
    return _frame(conn, stmt, ["uscc", "responsible_accidents_2y"], SCHEMA)


def report_year(as_of: dt.date) -> int:
    """The latest report year whose filing period (1 January – 30 June of the next year) has ended by as_of."""
    return as_of.year - 1 if as_of > dt.date(as_of.year, 6, 30) else as_of.year - 2


def _annual_reports(conn: Connection, lo: str, hi: str, as_of: dt.date) -> pl.DataFrame:
    t = store.table("annual_report")
    year = report_year(as_of)
    deadline = dt.date(year + 1, 6, 30)
    stmt = (
        sa.select(t.c.uscc, _count_if(sa.and_(t.c.filed_on.is_not(None), t.c.filed_on <= min(deadline, as_of))))
        .where(_in_partition(t.c.uscc, lo, hi), t.c.year == year)
        .group_by(t.c.uscc)
    )
    return _frame(conn, stmt, ["uscc", "_report_on_time"], {"uscc": pl.Utf8, "_report_on_time": pl.Int64})


def _holds_reports(conn: Connection, as_of: dt.date) -> bool:
    """Whether the store holds any annual report of the year due by as_of (no data is not the same as not filed)."""
    t = store.table("annual_report")
    return conn.execute(sa.select(t.c.uscc).where(t.c.year == report_year(as_of)).limit(1)).first() is not None


_ZERO_WHEN_ABSENT = [
    f.name
    for f in FEATURES
    if not f.nullable
    and f.type in ("int", "bool")
    and f.name not in ("days_since_registration", "whitelist", "lenient")
]


def _partition(conn: Connection, lo: str, hi: str, as_of: dt.date) -> pl.DataFrame:
    df = _subjects(conn, lo, hi, as_of)
    for part in (
        _lists(conn, lo, hi, as_of),
        _penalties(conn, lo, hi, as_of),
        _complaints(conn, lo, hi, as_of),
        _checks(conn, lo, hi, as_of),
        _food(conn, lo, hi),
        _devices(conn, lo, hi),
        _equipment(conn, lo, hi, as_of),
        _accidents(conn, lo, hi, as_of),
        _annual_reports(conn, lo, hi, as_of),
        _licences(conn, lo, hi, as_of),
    ):
        df = df.join(part, on="uscc", how="left")
    # 企业信息公示暂行条例 第8条: last year's report is due by 30 June; a subject set up in the report year
    # reports from the next year on. Missing when the store holds no reports of that year at all.
    year_end = dt.date(report_year(as_of), 12, 31)
    must_report = pl.col("days_since_registration") > (as_of - year_end).days
    late = must_report & (pl.col("_report_on_time").fill_null(0) == 0)
    df = df.with_columns(
        (late if _holds_reports(conn, as_of) else pl.lit(None, dtype=pl.Boolean)).alias("annual_report_late")
    ).drop("_report_on_time")
    fills = [pl.col(n).fill_null(False if REGISTRY[n].type == "bool" else 0) for n in _ZERO_WHEN_ABSENT]
    return df.with_columns(fills).select([pl.col(c).cast(t) for c, t in SCHEMA.items()]).sort("uscc")


def _ranges(conn: Connection, partition_size: int, usccs: Sequence[str] | None) -> Iterator[tuple[str, str]]:
    """USCC key ranges of at most partition_size subjects each (keyset pagination, no OFFSET scans)."""
    t = store.table("subject")
    if usccs is not None:
        wanted = sorted(set(usccs))
        for i in range(0, len(wanted), partition_size):
            yield wanted[i], wanted[min(i + partition_size, len(wanted)) - 1]
        return
    last: str | None = None
    while True:
        stmt = sa.select(t.c.uscc).order_by(t.c.uscc).limit(partition_size)
        if last is not None:
            stmt = stmt.where(t.c.uscc > last)
        keys = conn.execute(stmt).scalars().all()
        if not keys:
            return
        yield keys[0], keys[-1]
        last = keys[-1]


def feature_partitions(
    conn: Connection,
    as_of: dt.date,
    *,
    partition_size: int = 200_000,
    usccs: Sequence[str] | None = None,
    url: str | None = None,
    workers: int = 1,
) -> Iterator[pl.DataFrame]:
    """Features of every subject (or of `usccs`) as of `as_of`, one polars frame per partition, sorted by USCC.

    With `workers` > 1 and the store's `url`, partitions are computed in that many processes (each its own
    connection, reading the committed data); the frames still arrive in USCC order, identical to one process.
    """
    wanted = set(usccs) if usccs is not None else None
    ranges = _ranges(conn, partition_size, usccs)
    if workers > 1 and url is not None:
        frames: Iterator[pl.DataFrame] = _parallel(url, as_of, list(ranges), workers)
    else:
        frames = (_partition(conn, lo, hi, as_of) for lo, hi in ranges)
    for frame in frames:
        if wanted is not None:
            frame = frame.filter(pl.col("uscc").is_in(sorted(wanted)))
        yield frame


def _parallel(url: str, as_of: dt.date, ranges: list[tuple[str, str]], workers: int) -> Iterator[pl.DataFrame]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: a forked child would share the parent's open database connections.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(_partition_in_worker, [(url, lo, hi, as_of) for lo, hi in ranges])


def _partition_in_worker(args: tuple[str, str, str, dt.date]) -> pl.DataFrame:
    url, lo, hi, as_of = args
    engine = _worker_engine(url)
    with engine.connect() as conn:
        return _partition(conn, lo, hi, as_of)


_ENGINES: dict[str, Any] = {}


def _worker_engine(url: str) -> Any:
    """One engine per worker process and URL (a worker computes many partitions)."""
    if url not in _ENGINES:
        _ENGINES[url] = store.make_engine(url)
    return _ENGINES[url]


def population_size(conn: Connection, as_of: dt.date) -> int:
    """How many subjects the features of `as_of` cover: those registered on or before it (a progress bar's total)."""
    t = store.table("subject")
    return int(conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.registered_on <= as_of)).scalar_one())


def registered_after(conn: Connection, as_of: dt.date, usccs: Sequence[str] | None = None) -> int:
    """How many subjects in the store (or of `usccs`) were registered after `as_of`: left out of its population."""
    t = store.table("subject")
    stmt = sa.select(sa.func.count()).select_from(t).where(t.c.registered_on > as_of)
    if usccs is None:
        return int(conn.execute(stmt).scalar_one())
    wanted = sorted(set(usccs))
    return sum(
        int(conn.execute(stmt.where(t.c.uscc.in_(wanted[i : i + 900]))).scalar_one())
        for i in range(0, len(wanted), 900)
    )


def features_of(conn: Connection, uscc: str, as_of: dt.date) -> dict[str, Any] | None:
    """One subject's features as a plain dict (None if the store has no such subject).

    A subject registered after `as_of` was not in that date's population: InputError says so.
    """
    for frame in feature_partitions(conn, as_of, usccs=[uscc]):
        if frame.height:
            return frame.row(0, named=True)
    t = store.table("subject")
    registered = conn.execute(sa.select(t.c.registered_on).where(t.c.uscc == uscc)).scalar()
    if registered is not None and registered > as_of:
        raise InputError(
            f"subject {uscc} was registered on {registered}, after the as-of {as_of}: it is not in the population "
            f"as of that date; choose an as-of on or after {registered}"
        )
    return None
