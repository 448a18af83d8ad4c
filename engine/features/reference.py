"""The features computed by SQL GROUP BYs: the set-based implementation suijian used before the frame path.

Kept as the reference the frame path (engine/features/read.py + partition.py) is checked against — a hypothesis
property requires both to give equal features on generated stores — and as the baseline bench/features.py measures
the frame path against. The engine runs it only when asked for (`feature_partitions(..., path="sql")`). Change it
only to add a feature: it is what the grade runs recorded before the frame path existed were computed with.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.features import intervals
from engine.features.partition import (  # the pure pieces both paths share
    DEVICE_CLASS,
    FOOD_ITEM_PREFIX,
    FULL_CHECK_KINDS,
    PROBLEM_CODES,
    SCHEMA,
    ZERO_WHEN_ABSENT,
    due_dates,
    report_year,
    years_before,
)
from engine.features.registry import REGISTRY
from entities import store
from entities.enums import PUBLIC_GATHERING


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
                sa.and_(t.c.list_name == "abnormal", t.c.listed_on > years_before(as_of, 3), t.c.listed_on <= as_of)
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
    y1, y3 = as_of - dt.timedelta(days=365), years_before(as_of, 3)
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
        pl.col("product_class").replace_strict(DEVICE_CLASS, return_dtype=pl.Int64).max().alias("device_max_class"),
        (producer & pl.col("key")).any().alias("device_key_catalogue"),
    )


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
            a.c.occurred_on > years_before(as_of, 2),
            a.c.occurred_on <= as_of,
        )
        .group_by(e.c.user_uscc)
    )
    return _frame(conn, stmt, ["uscc", "responsible_accidents_2y"], SCHEMA)


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


def sql_partition(conn: Connection, lo: str, hi: str, as_of: dt.date) -> pl.DataFrame:
    """The features of the subjects with lo <= USCC <= hi as of as_of, by GROUP BYs in the store."""
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
    fills = [pl.col(n).fill_null(False if REGISTRY[n].type == "bool" else 0) for n in ZERO_WHEN_ABSENT]
    return df.with_columns(fills).select([pl.col(c).cast(t) for c, t in SCHEMA.items()]).sort("uscc")
