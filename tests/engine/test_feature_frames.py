"""Features computed from frames equal the reference GROUP BYs, whatever the frames come from.

The frame path (engine/features/read.py reads, engine/features/partition.py computes) replaced the SQL GROUP BYs
(engine/features/reference.py); grade runs hash the features, so the two must agree exactly: on generated stores
whose dates sit on every window's edges, on SQLite and PostgreSQL, read whole or windowed, and from Parquet files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pydantic
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from engine.features import compute, read
from engine.features.compute import SCHEMA, feature_partitions, parquet_feature_partitions
from engine.features.partition import INPUTS, partition_features, report_year, years_before
from engine.synth import get_profile, load_demo
from entities import codes, store
from entities.errors import InputError
from entities.models import (
    AccidentCreate,
    AnnualReportCreate,
    CheckResultCreate,
    ComplaintCreate,
    DeviceBusinessCreate,
    EquipmentCreate,
    FoodBusinessCreate,
    LicenceCreate,
    ListEntryCreate,
    PenaltyCreate,
    SubjectCreate,
)

AS_OFS = [dt.date(2025, 12, 31), dt.date(2024, 2, 29), dt.date(2025, 6, 30), dt.date(2025, 7, 1)]


def uscc(n: int) -> str:
    body = f"91445203{n:09d}"
    return body + codes.uscc_check_digit(body)


USCCS = [uscc(n) for n in range(1, 7)]


def _edges(as_of: dt.date) -> list[dt.date]:
    """Dates on and next to every window edge a feature has, and some far ones."""
    edges = [
        as_of,
        as_of - dt.timedelta(days=365),
        years_before(as_of, 1),
        years_before(as_of, 2),
        years_before(as_of, 3),
        dt.date(report_year(as_of), 12, 31),
        dt.date(report_year(as_of) + 1, 6, 30),
        as_of + dt.timedelta(days=90),
        years_before(as_of, 15),
    ]
    return sorted({d + dt.timedelta(days=k) for d in edges for k in (-1, 0, 1)})


def _rows(model: type[pydantic.BaseModel], raw: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any]) -> list:
    """The raw rows the model accepts, one per key (the generator does not know every cross-field rule)."""
    kept: dict[Any, dict[str, Any]] = {}
    for r in raw:
        with contextlib.suppress(pydantic.ValidationError):
            kept.setdefault(key(r), model(**r).model_dump())
    return list(kept.values())


@st.composite
def districts(draw: st.DrawFn) -> tuple[dt.date, dict[str, list[dict[str, Any]]]]:
    as_of = draw(st.sampled_from(AS_OFS))
    day = st.sampled_from(_edges(as_of)) | st.dates(as_of - dt.timedelta(days=6000), as_of + dt.timedelta(days=60))
    maybe_day = st.none() | day
    who = st.sampled_from(USCCS)

    def many(row: st.SearchStrategy[dict[str, Any]], n: int = 6) -> list[dict[str, Any]]:
        return draw(st.lists(row, max_size=n))

    subjects = many(
        st.fixed_dictionaries(
            {
                "uscc": who,
                "name": st.just("主体"),
                "kind": st.sampled_from(["enterprise", "individual", "cooperative"]),
                "industry": st.sampled_from(["C3389", "H6210", "F5211"]),
                "region": st.just("445203001"),
                "registered_on": day,
                "status": st.sampled_from(["active", "revoked"]),
                "whitelist": st.booleans(),
                "lenient": st.booleans(),
            }
        )
    )
    units = many(
        st.fixed_dictionaries(
            {
                "reg_code": st.sampled_from([f"E{n:09d}" for n in range(1, 9)]),
                "category": st.sampled_from(
                    ["elevator", "crane", "pressure_vessel", "pressure_piping", "boiler", "vehicle", "ride"]
                ),
                "sub_type": st.sampled_from(["", "塔式起重机", "流动式起重机", "曳引驱动乘客电梯"]),
                "user_uscc": who,
                "location_type": st.sampled_from(["school", "factory", "building_site", "mall"]),
                "installed_on": day,
                "design_life_years": st.none() | st.integers(1, 20),
                "last_inspected_on": maybe_day,
                "last_conclusion": st.sampled_from([None, "pass", "fail"]),
                "next_due_on": maybe_day,
                "safety_grade": st.none() | st.integers(1, 5),
                "open_hidden_dangers": st.integers(0, 3),
                "serious_hidden_dangers": st.integers(0, 1),
                "status": st.sampled_from(["in_use", "in_use", "stopped"]),
            }
        ),
        8,
    )
    tables: dict[str, list[dict[str, Any]]] = {
        "subject": _rows(SubjectCreate, subjects, lambda r: r["uscc"]),
        "list_entry": _rows(
            ListEntryCreate,
            many(
                st.fixed_dictionaries(
                    {
                        "uscc": who,
                        "list_name": st.sampled_from(["abnormal", "serious_violation"]),
                        "listed_on": day,
                        "removed_on": maybe_day,
                        "reason": st.sampled_from([None, "通过登记的住所或者经营场所无法联系", "未报送年度报告"]),
                    }
                )
            ),
            lambda r: (r["uscc"], r["list_name"], r["listed_on"]),
        ),
        "penalty": _rows(
            PenaltyCreate,
            many(
                st.fixed_dictionaries(
                    {
                        "decision_no": st.text("0123456789", min_size=1, max_size=4),
                        "uscc": who,
                        "decided_on": day,
                        "severity": st.sampled_from(["warning", "fine", "suspension", "revocation"]),
                        "legal_basis": st.sampled_from(["食品安全法第124条", "《医疗器械监督管理条例》第八十九条"]),
                    }
                )
            ),
            lambda r: r["decision_no"],
        ),
        "complaint": _rows(
            ComplaintCreate,
            many(
                st.fixed_dictionaries(
                    {
                        "ticket_no": st.text("0123456789", min_size=1, max_size=4),
                        "uscc": who,
                        "received_on": day,
                        "verified": st.booleans(),
                        "domain": st.sampled_from([None, "special_equipment", "food"]),
                    }
                )
            ),
            lambda r: r["ticket_no"],
        ),
        "check_result": _rows(
            CheckResultCreate,
            many(
                st.fixed_dictionaries(
                    {
                        "id": st.text("0123456789", min_size=1, max_size=4),
                        "uscc": who,
                        "checked_on": day,
                        "item_code": st.sampled_from([None, "SP-CY-01", "TZ-SY-01"]),
                        "kind": st.sampled_from(["random", "key", "lead", "targeted"]),
                        "result_codes": st.sampled_from(
                            [["no_problem"], ["unreachable"], ["fixed_after_order", "false_info"], ["no_activity"]]
                        ),
                    }
                ),
                10,
            ),
            lambda r: r["id"],
        ),
        "food_business": _rows(
            FoodBusinessCreate,
            many(
                st.fixed_dictionaries(
                    {
                        "licence_no": st.sampled_from([f"JY{n}" for n in range(6)]),
                        "uscc": who,
                        "licence_kind": st.sampled_from(["catering", "trade"]),
                        "format": st.sampled_from(["restaurant", "grocery"]),
                        "scale": st.sampled_from(["small", "large"]),
                        "static_score": st.sampled_from([10.0, 20.0, 12.5]),
                        "dynamic_score": st.sampled_from([10.0, 30.0, 17.5]),
                    }
                )
            ),
            lambda r: r["licence_no"],
        ),
        "device_business": _rows(
            DeviceBusinessCreate,
            many(
                st.fixed_dictionaries(
                    {
                        "licence_no": st.sampled_from([f"YX{n}" for n in range(6)]),
                        "uscc": who,
                        "activity": st.sampled_from(["production", "trade"]),
                        "product_class": st.sampled_from(["I", "II", "III"]),
                        "key_catalogue": st.booleans(),
                    }
                )
            ),
            lambda r: r["licence_no"],
        ),
        "equipment": _rows(EquipmentCreate, units, lambda r: r["reg_code"]),
        "accident": _rows(
            AccidentCreate,
            many(
                st.fixed_dictionaries(
                    {
                        "id": st.text("0123456789", min_size=1, max_size=3),
                        # E000000009 is no unit of the store: its accidents count for nobody.
                        "reg_code": st.sampled_from([f"E{n:09d}" for n in range(1, 10)]),
                        "occurred_on": day,
                        "responsible": st.booleans(),
                    }
                )
            ),
            lambda r: r["id"],
        ),
        "annual_report": _rows(
            AnnualReportCreate,
            many(
                st.fixed_dictionaries(
                    {
                        "uscc": who,
                        "year": st.sampled_from([report_year(as_of) - 1, report_year(as_of), report_year(as_of) + 1]),
                        "filed_on": maybe_day,
                    }
                )
            ),
            lambda r: (r["uscc"], r["year"]),
        ),
        "licence": _rows(
            LicenceCreate,
            many(
                st.fixed_dictionaries(
                    {
                        "number": st.sampled_from([f"XK{n}" for n in range(6)]),
                        "uscc": who,
                        "kind": st.sampled_from(["industrial_product", "food_trade"]),
                        "valid_from": day,
                        "valid_to": maybe_day,
                    }
                )
            ),
            lambda r: r["number"],
        ),
    }
    return as_of, tables


def _fill(engine: sa.Engine, tables: dict[str, list[dict[str, Any]]]) -> None:
    with engine.begin() as conn:
        for name in reversed(list(tables)):
            conn.execute(store.table(name).delete())
        for name, rows in tables.items():
            if rows:
                store.bulk_insert(conn, name, rows)


def _all(conn: sa.Connection, as_of: dt.date, **kw: Any) -> pl.DataFrame:
    frames = list(feature_partitions(conn, as_of, **kw))
    return pl.concat(frames) if frames else pl.DataFrame(schema=SCHEMA)


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Any:
    engine = store.make_engine(sqlite_url)
    store.initialise(engine)
    yield engine
    engine.dispose()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(district=districts(), size=st.integers(1, 4))
def test_frames_give_the_reference_features_on_generated_stores(
    sqlite_engine: sa.Engine, district: tuple[dt.date, dict[str, list[dict[str, Any]]]], size: int
) -> None:
    as_of, tables = district
    _fill(sqlite_engine, tables)
    with sqlite_engine.connect() as conn:
        reference = _all(conn, as_of, path="sql", partition_size=size)
        frames = _all(conn, as_of, partition_size=size)
        # Read whole (no as-of windows): the partition function alone applies every window.
        whole = partition_features(read.read_partition(conn), as_of, holds_reports=read.holds_reports(conn, as_of))
    assert reference.height == sum(1 for s in tables["subject"] if s["registered_on"] <= as_of)
    assert_frame_equal(frames, reference)
    assert_frame_equal(whole, reference)


def _demo(engine: sa.Engine, subjects: int) -> None:
    load_demo(engine, get_profile("jiedong", subjects), 3, dt.date(2025, 12, 31), now=dt.datetime(2026, 1, 1))


AS_OF = dt.date(2025, 12, 31)


def test_sqlite_and_postgresql_frames_give_the_same_features(sqlite_url: str, pg_url: str) -> None:
    results = {}
    for url in (sqlite_url, pg_url):
        engine = store.make_engine(url)
        store.initialise(engine)
        _demo(engine, 3000)
        with engine.connect() as conn:
            tables = read.read_partition(conn, as_of=AS_OF)
            results[url] = (_all(conn, AS_OF, partition_size=700), tables, _all(conn, AS_OF, path="sql"))
        engine.dispose()
    (lite, lite_tables, lite_sql), (pg, pg_tables, pg_sql) = results[sqlite_url], results[pg_url]
    assert lite.height > 2500
    # Same rows in, same types, whatever the store (the order of rows in a frame is the store's own).
    for name in INPUTS:
        assert_frame_equal(lite_tables[name].sort(pl.all()), pg_tables[name].sort(pl.all()), check_column_order=True)
    assert_frame_equal(lite, pg)
    assert_frame_equal(lite, lite_sql)
    assert_frame_equal(pg, pg_sql)


def test_parquet_files_give_the_store_features(sqlite_engine: sa.Engine, tmp_path: Path) -> None:
    _demo(sqlite_engine, 2000)
    with sqlite_engine.connect() as conn:
        paths = read.write_parquet(conn, tmp_path / "tables")
        expected = _all(conn, AS_OF)
    assert sorted(paths) == sorted(INPUTS) and all(p.stat().st_size for p in paths.values())
    from_files = pl.concat(list(parquet_feature_partitions(tmp_path / "tables", AS_OF, partition_size=300)))
    assert expected.height > 1500
    assert_frame_equal(from_files, expected)


def test_the_partition_function_reads_only_its_frames() -> None:
    """Frames built by hand (as a Spark partition would hand them over) give features without any store."""
    a, b = USCCS[0], USCCS[1]
    empty = {name: pl.DataFrame(schema=cols) for name, cols in INPUTS.items()}
    tables = {
        **empty,
        "subject": pl.DataFrame(
            {
                "uscc": [b, a],
                "kind": ["enterprise", "individual"],
                "status": ["active", "active"],
                "industry": ["C3389", "H6210"],
                "registered_on": [dt.date(2020, 1, 1), dt.date(2026, 1, 1)],  # a: after the as-of
                "whitelist": [False, True],
                "lenient": [False, False],
            },
            schema=INPUTS["subject"],
        ),
        "penalty": pl.DataFrame(
            {
                "uscc": [b, b, a],
                "decided_on": [dt.date(2025, 6, 1), dt.date(2026, 1, 2), dt.date(2025, 6, 1)],
                "severity": ["fine", "fine", "suspension"],
                "legal_basis": ["x", "x", "x"],
            },
            schema=INPUTS["penalty"],
        ),
    }
    out = partition_features(tables, AS_OF, holds_reports=False)
    assert out.schema == pl.Schema(SCHEMA)
    assert out.get_column("uscc").to_list() == [b]
    row = out.row(0, named=True)
    assert (row["penalties_1y"], row["days_since_registration"], row["annual_report_late"]) == (1, 2191, None)


def test_frames_missing_a_table_or_column_are_named() -> None:
    empty = {name: pl.DataFrame(schema=cols) for name, cols in INPUTS.items()}
    without = {k: v for k, v in empty.items() if k != "licence"}
    with pytest.raises(InputError, match="^the partition has no licence table; give one"):
        partition_features(without, AS_OF, holds_reports=True)
    no_column = {**empty, "penalty": empty["penalty"].drop("severity")}
    with pytest.raises(InputError, match=r"^the partition: table penalty has no column severity; add it \(String\)$"):
        partition_features(no_column, AS_OF, holds_reports=True)
    text_dates = {**empty, "complaint": empty["complaint"].with_columns(pl.col("received_on").cast(pl.Utf8))}
    with pytest.raises(InputError, match=r"column complaint.received_on is String, expected Date; convert it$"):
        partition_features(text_dates, AS_OF, holds_reports=True)


def test_a_parquet_folder_without_a_table_is_named(tmp_path: Path) -> None:
    pl.DataFrame(schema=INPUTS["subject"]).write_parquet(tmp_path / "subject.parquet")
    pl.DataFrame(schema=INPUTS["penalty"]).write_parquet(tmp_path / "penalty.parquet")
    with pytest.raises(InputError) as caught:
        list(parquet_feature_partitions(tmp_path, AS_OF))
    assert str(caught.value) == (
        f"{tmp_path}: no list_entry.parquet, complaint.parquet, check_result.parquet, food_business.parquet, "
        "device_business.parquet, equipment.parquet, accident.parquet, annual_report.parquet, licence.parquet; the "
        "folder must hold one Parquet file per table (subject, list_entry, penalty, complaint, check_result, "
        "food_business, device_business, equipment, accident, annual_report, licence), as write_parquet writes them"
    )


@pytest.mark.parametrize("size", [1, 7, 500, 3000])
def test_ranges_hold_partition_size_subjects_each(engine: sa.Engine, size: int) -> None:
    _demo(engine, 1200)
    t = store.table("subject")
    with engine.connect() as conn:
        keys = conn.execute(sa.select(t.c.uscc).order_by(t.c.uscc)).scalars().all()
        ranges = list(compute._ranges(conn, size, None))
    expected = [(keys[i], keys[min(i + size, len(keys)) - 1]) for i in range(0, len(keys), size)]
    assert len(keys) > 1000 and ranges == expected
