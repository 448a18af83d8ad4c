"""Rows read straight into Arrow (engine/features/arrow_read.py) give the frames the tuple path gives; a column
the driver cannot type as the frame needs falls back to the tuple path; a grade whose workers read through Arrow
records the same run as one that reads tuples.

ADBC's SQLite must be a process's only connection to a file (arrow_read's docstring): each test reads through it
while no SQLAlchemy connection to that file is open in the test process.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from engine import audit, grading
from engine.features import arrow_read, compute, read
from engine.features.partition import INPUTS
from engine.ledger import outputs
from engine.rules import load_pack
from engine.synth import get_profile, load_demo
from entities import store
from tests.helpers import TESTER

AS_OF = dt.date(2025, 12, 31)
PACK = Path(__file__).resolve().parents[1] / "packs" / "base"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('arrow') / 'demo.db'}"
    engine = store.make_engine(url)
    store.initialise(engine)
    load_demo(engine, get_profile("jiedong", 1500), 3, AS_OF, now=dt.datetime(2026, 1, 1))
    with engine.connect() as conn:
        keys = sorted(conn.execute(sa.text("SELECT uscc FROM subject")).scalars())
    engine.dispose()
    return url, keys


def _tuples(url: str, lo: str | None, hi: str | None, as_of: dt.date | None) -> dict[str, pl.DataFrame]:
    engine = store.make_engine(url)
    with engine.connect() as conn:
        frames = read.read_partition(conn, lo, hi, as_of=as_of)
    engine.dispose()
    return frames


def _arrow(url: str, lo: str | None, hi: str | None, as_of: dt.date | None) -> dict[str, pl.DataFrame] | None:
    path = arrow_read.database_file(url)
    assert path is not None and arrow_read.available(), "the Arrow path must be the one tested"
    source = arrow_read.ArrowSource(path)
    try:
        return read.read_partition_arrow(source, lo, hi, as_of=as_of)
    finally:
        source.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    as_of=st.sampled_from([None, AS_OF, dt.date(2024, 2, 29), dt.date(2025, 7, 1)]),
)
def test_arrow_and_tuples_read_the_same_frames(
    demo: tuple[str, list[str]], cut: tuple[float, float], as_of: dt.date | None
) -> None:
    url, keys = demo
    lo, hi = sorted(keys[int(c * (len(keys) - 1))] for c in cut)
    arrow = _arrow(url, lo, hi, as_of)
    tuples = _tuples(url, lo, hi, as_of)
    assert arrow is not None
    assert list(arrow) == list(tuples) == list(INPUTS)
    for name in INPUTS:
        assert arrow[name].schema == tuples[name].schema, name
        assert_frame_equal(arrow[name], tuples[name])
    if as_of is None:  # (with an as-of, subjects registered after it are left in the store)
        assert arrow["subject"].height == sum(lo <= k <= hi for k in keys)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    as_of=st.sampled_from([None, AS_OF, dt.date(2024, 2, 29)]),
)
def test_regions_read_with_the_subjects_are_those_of_their_own_statement(
    demo: tuple[str, list[str]], cut: tuple[float, float], as_of: dt.date | None
) -> None:
    # A grade run's workers read each subject's region in the subject statement (read_partition_regions_arrow);
    # every subject with features has the region `regions` reads, and the frames are read_partition_arrow's.
    url, keys = demo
    lo, hi = sorted(keys[int(c * (len(keys) - 1))] for c in cut)
    source = arrow_read.ArrowSource(str(arrow_read.database_file(url)))
    try:
        both = read.read_partition_regions_arrow(source, lo, hi, as_of=as_of)
        alone = read.read_partition_arrow(source, lo, hi, as_of=as_of)
    finally:
        source.close()
    engine = store.make_engine(url)
    with engine.connect() as conn:
        regions = read.regions(conn, lo, hi)
    engine.dispose()
    assert both is not None and alone is not None
    frames, found = both
    for name in INPUTS:
        assert_frame_equal(frames[name], alone[name])
    subjects = frames["subject"].select("uscc")
    assert_frame_equal(found, subjects.join(regions, on="uscc", how="left", maintain_order="left"))
    assert found.get_column("region").null_count() == 0


def test_the_whole_store_reads_the_same_either_way(demo: tuple[str, list[str]]) -> None:
    url, _ = demo
    arrow, tuples = _arrow(url, None, None, AS_OF), _tuples(url, None, None, AS_OF)
    assert arrow is not None and arrow["subject"].height > 0
    for name in INPUTS:
        assert_frame_equal(arrow[name], tuples[name])


@pytest.mark.parametrize(
    ("name", "index"),
    [
        ("subject", "ix_subject_features"),
        ("annual_report", "ix_annual_report_features"),
        ("complaint", "ix_complaint_features"),
    ],
)
def test_a_workers_range_of_the_big_tables_is_read_from_one_index(
    demo: tuple[str, list[str]], name: str, index: str
) -> None:
    # Stored in load order, these tables' rows sat on most of their pages for any USCC range: a read through the
    # USCC index fetched a random page per row, every partition (migration 0012). SQLite must answer a worker's
    # statement from the index alone, the subjects' regions included.
    url, keys = demo
    sql, params, _ = read.arrow_query(name, keys[10], keys[-10], AS_OF, regions=name == "subject")
    with sqlite3.connect(str(arrow_read.database_file(url))) as conn:
        plan = conn.execute(
            f"EXPLAIN QUERY PLAN {sql}", [p.isoformat() if isinstance(p, dt.date) else p for p in params]
        )
        steps = [row[3] for row in plan]
    conn.close()
    year = "year=? AND " if name == "annual_report" else ""  # (by year first: one report year is read)
    assert steps == [f"SEARCH {name} USING COVERING INDEX {index} ({year}uscc>? AND uscc<?)"]


def test_a_column_null_in_its_first_rows_is_typed_by_all_of_them(tmp_path: Path) -> None:
    # The driver types a column by its first batch of rows; a partition whose first few thousand rows have no
    # removal date must still read the dates after them (one batch for the whole result).
    path = tmp_path / "nulls.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (a TEXT, b INTEGER, f REAL)")
        db.executemany("INSERT INTO t VALUES (?, ?, ?)", [(None, None, None)] * 5000 + [("2024-01-02", 2**40, 1.5)])
    db.close()
    schema = {"a": pl.String, "b": pl.Int64, "f": pl.Float64}
    source = arrow_read.ArrowSource(str(path))
    got = source.frame("SELECT a, b, f FROM t WHERE b IS NULL OR b > ?", (0,), schema)
    empty = source.frame("SELECT a, b, f FROM t WHERE 0", (), schema)
    wrong = source.frame("SELECT a FROM t WHERE a IS NOT NULL", (), {"a": pl.Int64})
    missing = source.frame("SELECT nothing FROM nowhere", (), {"a": pl.Int64})
    when = source.frame("SELECT a FROM t WHERE a = ?", (dt.date(2024, 1, 2),), {"a": pl.String})
    source.close()
    assert got is not None and got.schema == pl.Schema(schema)
    assert got.height == 5001 and got.row(-1) == ("2024-01-02", 2**40, 1.5)
    assert got.get_column("a").null_count() == 5000
    assert empty is not None and empty.schema == pl.Schema(schema) and empty.height == 0
    assert wrong is None and missing is None  # the tuple path reads them (and names a real problem)
    assert when is not None and when.height == 1  # dates bound as SQLAlchemy stores them


def test_only_sqlite_files_are_read_through_arrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "s.db").touch()
    assert arrow_read.database_file(f"sqlite:///{tmp_path / 's.db'}") == str(tmp_path / "s.db")
    assert arrow_read.database_file("sqlite://") is None
    assert arrow_read.database_file(f"sqlite:///{tmp_path / 'absent.db'}") is None
    assert arrow_read.database_file("postgresql://postgres@127.0.0.1/x") is None
    monkeypatch.setenv("SUIJIAN_ARROW_READ", "0")
    assert arrow_read.database_file(f"sqlite:///{tmp_path / 's.db'}") is None


def test_a_worker_that_cannot_read_through_arrow_reads_tuples(
    demo: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A table the driver cannot type as the frame needs: the worker closes its source for good and reads tuples.
    url, keys = demo
    monkeypatch.setattr(arrow_read, "_SOURCES", {})
    monkeypatch.setattr(compute, "_ENGINES", {})
    monkeypatch.setattr(arrow_read.ArrowSource, "frame", lambda self, sql, params, schema: None)
    args = (url, keys[0], keys[-1], AS_OF, True, "frames", True)
    got = compute._partition_in_worker(args)
    assert arrow_read._SOURCES[url] is None and url in compute._ENGINES
    compute._ENGINES.pop(url).dispose()
    engine = store.make_engine(url)
    with engine.connect() as conn:
        want = compute._partition(conn, keys[0], keys[-1], AS_OF, True)
        want = compute._with_regions(want, read.regions(conn, keys[0], keys[-1]))
    engine.dispose()
    assert got.height > 0 and got.columns[-1] == "region" and got.get_column("region").null_count() == 0
    assert_frame_equal(got, want)


def test_a_grade_read_by_arrow_workers_records_the_same_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Workers reading through Arrow, workers reading tuples, and one process reading tuples (the regions read by
    # the grading process itself): the same entry, snapshot (features and regions) and outputs.
    runs = {}
    for way, workers in (("1", 2), ("0", 2), ("0", 1)):
        monkeypatch.setenv("SUIJIAN_ARROW_READ", way)  # the spawned workers inherit it
        url = f"sqlite:///{tmp_path / f'g{way}{workers}.db'}"
        engine = store.make_engine(url)
        store.initialise(engine)
        load_demo(engine, get_profile("jiedong", 900), 5, AS_OF, now=dt.datetime(2026, 1, 1))
        with engine.begin() as conn:
            run = grading.grade_store(
                conn,
                load_pack(PACK),
                AS_OF,
                created_at=dt.datetime(2026, 1, 1),
                actor=TESTER,
                partition_size=250,
                url=url,
                workers=workers,
            )
        with engine.connect() as conn:
            body = conn.execute(sa.text("SELECT body FROM ledger WHERE run_id = :r"), {"r": run.id}).scalar_one()
            results, canon, _ = outputs.stored_grade_outputs(conn, run.id)
        engine.dispose()
        runs[way, workers] = (body, outputs.grade_outputs_hash(results, canon))
    assert runs["1", 2] == runs["0", 2] == runs["0", 1]


def test_a_citys_grade_results_read_in_a_child_are_the_stored_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `audit verify` reads a city's grade_result rows through ADBC in a child process (it holds a SQLAlchemy
    # connection itself); the frame must be the one the tuple path reads.
    url = f"sqlite:///{tmp_path / 'v.db'}"
    engine = store.make_engine(url)
    store.initialise(engine)
    load_demo(engine, get_profile("jiedong", 600), 9, AS_OF, now=dt.datetime(2026, 1, 1))
    with engine.begin() as conn:
        run = grading.grade_store(conn, load_pack(PACK), AS_OF, created_at=dt.datetime(2026, 1, 1), actor=TESTER)
    calls = []
    child = arrow_read.read_in_child
    monkeypatch.setattr(arrow_read, "read_in_child", lambda *a: calls.append(a) or child(*a))
    monkeypatch.setattr(outputs, "_CHILD_ROWS", 1)
    with engine.connect() as conn:
        small = outputs.stored_grade_outputs(conn, run.id)
        assert not calls
        city = outputs.stored_grade_outputs(conn, run.id, subjects=run.subjects)
        assert len(calls) == 1
        direct = child(*calls[0])
    engine.dispose()
    assert direct is not None and direct.height == run.subjects
    assert_frame_equal(city[0], small[0])
    assert city[1:] == small[1:]


def test_a_process_holding_a_store_connection_never_opens_adbc_on_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: the grading process once read the regions through ADBC while its SQLAlchemy connection held the
    # ledger's write lock; closing the ADBC connection dropped that lock and it died of SIGBUS. Grading in one
    # process and verifying must never open an ArrowSource in the process that holds the store's connection.
    opened = []

    class Refused(arrow_read.ArrowSource):
        def __init__(self, path: str) -> None:
            opened.append(path)
            raise AssertionError("ADBC opened in a process holding a SQLAlchemy connection to the store")

    monkeypatch.setattr(arrow_read, "ArrowSource", Refused)
    monkeypatch.setattr(outputs, "_CHILD_ROWS", 1)  # verify's child read: another process, allowed
    url = f"sqlite:///{tmp_path / 'one.db'}"
    engine = store.make_engine(url)
    store.initialise(engine)
    load_demo(engine, get_profile("jiedong", 400), 4, AS_OF, now=dt.datetime(2026, 1, 1))
    with engine.begin() as conn:  # with worker processes (they may open ADBC: they hold no other connection)
        grading.grade_store(
            conn,
            load_pack(PACK),
            AS_OF,
            created_at=dt.datetime(2026, 1, 1),
            actor=TESTER,
            partition_size=150,
            url=url,
            workers=2,
        )
    with engine.connect() as conn:
        report = audit.verify(conn)
    engine.dispose()
    assert report.ok, report.problems
    assert opened == []
