"""The plan's read of its subjects a USCC range at a time, in narrow types (issue 15 items 4–5): the same values,
the same snapshot hashes and the same plan as the whole read, on SQLite and PostgreSQL; a recorded frame out of
USCC order is read whole; narrowing keeps every value and every hash."""

from __future__ import annotations

import datetime as dt
import io
import threading
import time
from collections.abc import Iterator, Sequence

import polars as pl
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import grading, planning
from engine.catalogue import install_catalogue, load_catalogue
from engine.ledger import canonical, chain, record, runs
from engine.plan.frames import check_subjects
from engine.plan.select import target_expr
from engine.rules import Pack, load_pack
from engine.synth import get_profile, load_demo
from entities import store
from entities.models import CheckItemCreate
from tests.engine.test_replay import RULES
from tests.helpers import TESTER
from tests.store_template import StoreCopies

AS_OF = dt.date(2025, 12, 31)
NOW = dt.datetime(2026, 1, 5, 9, 30)
SEED = "55120392671438815500"


def _grade(url: str) -> None:
    engine = store.open_store(url)
    try:
        load_demo(engine, get_profile("jiedong").scaled(3000), 5, AS_OF, now=NOW)
        with engine.begin() as conn:
            install_catalogue(conn, load_catalogue())
            grading.grade_store(conn, load_pack(RULES / "national"), AS_OF, created_at=NOW, actor=TESTER)
    finally:
        engine.dispose()


def _graded(url: str) -> Iterator[sa.Engine]:
    _grade(url)
    engine = store.open_store(url)
    yield engine
    engine.dispose()


@pytest.fixture
def graded(store_url: str, store_copies: StoreCopies) -> Iterator[sa.Engine]:
    store_copies.fill(store_url, "jiedong 3000 graded", lambda: _grade(store_url))
    engine = store.open_store(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def graded_file(sqlite_url: str) -> Iterator[sa.Engine]:
    """A graded SQLite store: the plan's read child reads SQLite files only (PostgreSQL has no such child)."""
    engine = store.make_engine(sqlite_url)
    store.initialise(engine)
    engine.dispose()
    yield from _graded(sqlite_url)


def _run_id(conn: sa.Connection) -> str:
    return planning.grade_run(conn, None, AS_OF)["id"]


def _wide(frame: pl.DataFrame, like: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns([pl.col(c).cast(t) for c, t in like.schema.items()])


def test_read_by_range_gives_the_whole_reads_rows(graded: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    pack = load_pack(RULES / "national")
    monkeypatch.setattr(runs, "FEATURE_PART_ROWS", 701)  # several slices, the last one short
    with graded.connect() as conn:
        run_id = _run_id(conn)
        by_range = planning.subjects_for_plan(conn, run_id, AS_OF, pack)
        with monkeypatch.context() as m:  # the whole read as it was: recorded types, no narrowing
            m.setattr(planning, "narrow", lambda frame: frame)
            whole = planning._subjects_whole(conn, run_id, AS_OF, pack)
        entry = chain.find(conn, run_id)
        assert entry is not None
        parts = runs.grade_feature_parts(conn, entry)
        assert parts is not None and len(list(parts)) == -(-by_range.height // 701) > 2
    assert by_range.height > 2000 and by_range.columns == whole.columns
    assert by_range.get_column("uscc").is_sorted()
    assert whole.schema["penalties_3y"] == pl.Int64 and whole.schema["subject_kind"] == pl.String
    assert by_range.schema["penalties_3y"] == pl.Int8 and by_range.schema["subject_kind"] == pl.Categorical
    assert _wide(by_range, whole).equals(whole)
    for scheme in (canonical.SNAPSHOT, canonical.SNAPSHOT2):
        assert canonical.content_hash({"s": by_range}, scheme) == canonical.content_hash({"s": whole}, scheme)


def test_the_split_read_holds_the_planners_columns_and_keeps_the_whole_frame_as_parquet(
    graded: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = load_pack(RULES / "national")
    monkeypatch.setattr(runs, "FEATURE_PART_ROWS", 97)  # many slices, some narrower than others
    slice_types: list[dict[str, pl.DataType]] = []
    real_narrow = planning.narrow

    def narrow(frame: pl.DataFrame) -> pl.DataFrame:
        narrowed = real_narrow(frame)
        slice_types.append(dict(narrowed.schema))
        return narrowed

    def keep(columns: Sequence[str]) -> list[str]:
        return [c for c in columns if c in {"uscc", "region", "credit_class", "penalties_3y", "subject_kind"}]

    with graded.connect() as conn:
        run_id = _run_id(conn)
        whole = planning.subjects_for_plan(conn, run_id, AS_OF, pack)
        monkeypatch.setattr(planning, "narrow", narrow)
        planner, kept = planning.subjects_split(conn, run_id, AS_OF, pack, keep)
    # The slices were narrowed to different integer types, so the file had to widen them as the concat does.
    assert len(slice_types) == -(-whole.height // 97) > 20
    assert any(len({types[c] for types in slice_types}) > 1 for c in whole.columns if whole.schema[c].is_integer())
    assert planner.columns == keep(whole.columns) and len(planner.columns) == 5
    assert planner.equals(whole.select(keep(whole.columns)))
    read = kept.whole()
    assert read.schema == whole.schema and read.equals(whole)
    assert pq.ParquetFile(io.BytesIO(kept.parquet())).metadata.num_row_groups == len(slice_types)
    for scheme in (canonical.SNAPSHOT, canonical.SNAPSHOT2):
        assert canonical.content_hash({"subjects": kept}, scheme) == canonical.content_hash({"subjects": whole}, scheme)


def test_the_plan_is_the_same_read_by_range_or_whole(graded: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    pack = load_pack(RULES / "national")

    def draw() -> tuple[str, str, str]:
        with graded.connect() as conn:
            plan, _, tables = planning.plan_from_store(
                conn, pack, seed=SEED, period=planning.parse_period("2026"), as_of=AS_OF, regions=None
            )
        frozen = record.frozen_tables(tables["subjects"], pack)
        return (
            planning.plan_document(plan).id,
            canonical.content_hash(tables, canonical.SNAPSHOT),
            canonical.content_hash(frozen, canonical.SNAPSHOT2),
        )

    monkeypatch.setattr(runs, "FEATURE_PART_ROWS", 997)
    by_range = draw()
    with monkeypatch.context() as m:  # the previous path: the features read whole, no narrowing
        m.setattr(planning, "narrow", lambda frame: frame)
        m.setattr(runs, "grade_feature_parts", lambda conn, entry, rows=None, later=None: None)
        whole = draw()
    assert by_range == whole


def test_recorded_features_out_of_uscc_order_are_read_whole() -> None:
    def parquet(frame: pl.DataFrame) -> bytes:
        import io

        buf = io.BytesIO()
        frame.write_parquet(buf)
        return buf.getvalue()

    ordered = pl.DataFrame({"uscc": ["A1", "A2", "A3", "A4"], "x": [1, 2, 3, 4]})
    kept = pl.DataFrame({"uscc": ["A1", "A2", "A3", "A4"], "y": [5, 6, 7, 8]})
    parts = list(runs._feature_slices(parquet(ordered), parquet(kept), 3))
    assert [p.height for p in parts] == [3, 1] and pl.concat(parts).columns == ["uscc", "x", "y"]
    shuffled = pl.DataFrame({"uscc": ["A1", "A3", "A2", "A4"], "x": [1, 3, 2, 4]})
    with pytest.raises(runs.NotInOrder):
        list(runs._feature_slices(parquet(shuffled), None, 2))  # each slice ascends; the second starts too low
    # the kept frame in another order than the features: joined by USCC range, same rows
    other = list(runs._feature_slices(parquet(ordered), parquet(kept.reverse()), 3))
    assert pl.concat(other).equals(pl.concat(parts))


@settings(max_examples=60, deadline=None)
@given(
    ints=st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40)), min_size=1, max_size=30),
    small=st.lists(st.one_of(st.none(), st.integers(-130, 130)), min_size=1, max_size=30),
    text=st.lists(st.one_of(st.none(), st.sampled_from(["企业", "个体工商户", "a", ""])), min_size=1, max_size=30),
)
def test_narrowing_keeps_every_value_and_hash(
    ints: list[int | None], small: list[int | None], text: list[str | None]
) -> None:
    n = min(len(ints), len(small), len(text))
    frame = pl.DataFrame(
        {
            "uscc": [f"9144{i:014d}" for i in range(n)],
            "region": ["440111001"] * n,
            "big": pl.Series(ints[:n], dtype=pl.Int64),
            "small": pl.Series(small[:n], dtype=pl.Int64),
            "subject_kind": pl.Series(text[:n], dtype=pl.String),
        }
    )
    narrow = planning.narrow(frame)
    assert narrow.schema["uscc"] == pl.String and narrow.schema["region"] == pl.String
    assert narrow.schema["subject_kind"] == pl.Categorical
    values = [v for v in small[:n] if v is not None]
    if values and min(values) >= -128 and max(values) <= 127:
        assert narrow.schema["small"] == pl.Int8
    assert _wide(narrow, frame).equals(frame)
    for scheme in (canonical.SNAPSHOT, canonical.SNAPSHOT2):
        assert canonical.content_hash({"subjects": narrow}, scheme) == canonical.content_hash(
            {"subjects": frame}, scheme
        )


def test_the_planner_compares_categorical_features_and_reads_plain_text_columns() -> None:
    frame = planning.narrow(
        pl.DataFrame(
            {
                "uscc": ["91440000000000001X", "91440000000000002X"],
                "region": ["440111001", "440111002"],
                "credit_class": ["A", "B"],
                "status": ["active", "active"],
                "whitelist": [False, False],
                "subject_kind": ["enterprise", "individual"],
                "equipment_count": [0, 3],
            }
        )
    ).with_columns(pl.col("region", "credit_class").cast(pl.Categorical))
    checked = check_subjects(frame, need_status=True, need_whitelist=True)
    assert checked.schema["region"] == pl.String and checked.schema["credit_class"] == pl.String
    assert checked.schema["subject_kind"] == pl.Categorical  # kept narrow
    item = CheckItemCreate.model_validate(
        {
            "code": "T-01",
            "name": "测试事项",
            "domain": "registration",
            "kind": "general",
            "initiating_department": "市场监管局",
            "legal_basis": "测试",
            "target": {"subject_kind": "enterprise", "equipment_count": {"<": 1000}},
        }
    )
    chosen = checked.filter(target_expr(item, checked.schema))
    assert chosen.get_column("uscc").to_list() == ["91440000000000001X"]


def test_the_commit_hashes_the_inputs_on_a_thread_as_before(graded: sa.Engine) -> None:
    """save_plan hashes and packs the input snapshot on a thread while the document is written: the ledger records
    the hash the snapshot's tables have (snapshot-2), and committing the same plan again stores nothing new."""
    from engine.ledger import snapshot
    from entities.identity import Identity, Role

    pack = load_pack(RULES / "national")
    period = planning.parse_period("2026")
    with graded.begin() as conn:
        plan, run, tables = planning.plan_from_store(conn, pack, seed=SEED, period=period, as_of=AS_OF, regions=None)

        def save() -> tuple[str, bool]:
            return planning.save_plan(
                conn,
                plan,
                run,
                pack=pack,
                tables=tables,
                seed=SEED,
                regions=None,
                items=None,
                period=period,
                as_of=AS_OF,
                created_at=NOW,
                actor=Identity("lead", Role.SUPERVISOR),
            )

        plan_id, new = save()
        entry = chain.find(conn, plan_id)
        assert new and entry is not None
        assert entry.get("snapshot_hash") == canonical.content_hash(tables, canonical.SNAPSHOT2)
        assert snapshot.load(conn, entry.get("snapshot_hash"), canonical.SNAPSHOT2).keys() == tables.keys()
        assert save() == (plan_id, False)


def test_a_snapshot_packed_under_another_scheme_is_hashed_again(engine: sa.Engine) -> None:
    from engine.ledger import snapshot

    tables = {"t": pl.DataFrame({"uscc": ["B", "A"], "n": [1, 2]})}
    one = snapshot.pack(tables, canonical.SNAPSHOT)
    with engine.begin() as conn:
        assert snapshot.save(conn, tables, canonical.SNAPSHOT2, one) == canonical.content_hash(
            tables, canonical.SNAPSHOT2
        )
        assert snapshot.save(conn, tables, canonical.SNAPSHOT, one) == one.digest


# ── the grade results and live columns streamed by a child process (engine.plan_read) ─────────────────────────


def _streams(engine: sa.Engine) -> bool:
    from engine.features import arrow_read

    url = engine.url.render_as_string(hide_password=False)
    return arrow_read.database_file(url) is not None and arrow_read.available()


def _read_without_child(conn: sa.Connection, run_id: str, pack: Pack, monkeypatch: pytest.MonkeyPatch) -> pl.DataFrame:
    """subjects_for_plan read through the connection only (no ADBC child)."""
    with monkeypatch.context() as m:
        m.setenv("SUIJIAN_ARROW_READ", "0")
        return planning.subjects_for_plan(conn, run_id, AS_OF, pack)


def _read_through_the_connection(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> tuple[Pack, str, pl.DataFrame]:
    """The pack, the run and its subjects read through the connection, with the read child then used for any
    population and the features read in several slices."""
    from engine import plan_read

    pack = load_pack(RULES / "national")
    monkeypatch.setattr(runs, "FEATURE_PART_ROWS", 701)
    monkeypatch.setattr(plan_read, "CHILD_ROWS", 0)
    with engine.connect() as conn:
        run_id = _run_id(conn)
        return pack, run_id, _read_without_child(conn, run_id, pack, monkeypatch)


def test_the_child_streams_the_frames_the_connection_reads(
    graded_file: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine import plan_read

    assert _streams(graded_file)  # ADBC's SQLite driver is a dependency
    pack = load_pack(RULES / "national")
    monkeypatch.setattr(runs, "FEATURE_PART_ROWS", 701)
    monkeypatch.setattr(plan_read, "CHILD_ROWS", 0)
    monkeypatch.setattr(plan_read, "BATCH_ROWS", 500)  # batches that do not line up with the slices
    opened: list[object] = []
    real = plan_read.Stream.__init__

    def spy(self: plan_read.Stream, path: str, run_id: str) -> None:
        opened.append(path)
        real(self, path, run_id)

    monkeypatch.setattr(plan_read.Stream, "__init__", spy)
    with graded_file.connect() as conn:
        run_id = _run_id(conn)
        streamed = planning.subjects_for_plan(conn, run_id, AS_OF, pack)
        assert len(opened) == 1
        monkeypatch.setenv("SUIJIAN_ARROW_READ", "0")
        read = planning.subjects_for_plan(conn, run_id, AS_OF, pack)
        assert len(opened) == 1
    assert streamed.height > 2000 and streamed.equals(read)


def test_a_child_that_fails_leaves_the_read_to_the_connection(
    graded_file: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine import plan_read

    assert _streams(graded_file)  # ADBC's SQLite driver is a dependency
    pack, run_id, expected = _read_through_the_connection(graded_file, monkeypatch)
    with graded_file.connect() as conn:
        # The child cannot open its file: it fails at once.
        real = plan_read.Stream.__init__
        with monkeypatch.context() as m:
            m.setattr(plan_read.Stream, "__init__", lambda self, path, run_id: real(self, path + ".none", run_id))
            assert planning.subjects_for_plan(conn, run_id, AS_OF, pack).equals(expected)
        # The stream breaks after its first batch: that range and the rest are read through the connection.
        real_next = plan_read.Stream._next
        calls = []

        def breaking(self: plan_read.Stream) -> pl.DataFrame | None:
            calls.append(1)
            if len(calls) > 1:
                raise plan_read.ChildFailed("broken")
            return real_next(self)

        with monkeypatch.context() as m:
            m.setattr(plan_read, "BATCH_ROWS", 300)
            m.setattr(plan_read.Stream, "_next", breaking)
            assert planning.subjects_for_plan(conn, run_id, AS_OF, pack).equals(expected)
        assert len(calls) == 2


def test_a_store_without_the_covering_index_is_read_through_the_connection(
    graded_file: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child names ix_subject_features (migration 0012); where it is missing its query fails and the
    connection reads the same frame."""
    pack, run_id, expected = _read_through_the_connection(graded_file, monkeypatch)
    with graded_file.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_subject_features")
    failed: list[int] = []
    real_stop = planning._RangeReader._stop

    def stop(self: planning._RangeReader) -> None:
        if self.stream is not None and self.stream._failed is not None:
            failed.append(1)
        real_stop(self)

    monkeypatch.setattr(planning._RangeReader, "_stop", stop)
    with graded_file.connect() as conn:
        assert planning.subjects_for_plan(conn, run_id, AS_OF, pack).equals(expected)
    assert failed == [1]


_USCCS = st.lists(st.sampled_from([f"91440000MA{n:08d}" for n in range(12)]), unique=True, max_size=8).map(sorted)


@settings(max_examples=60, deadline=None)
@given(features=_USCCS, live=_USCCS, results=_USCCS, data=st.data())
def test_subjects_set_side_by_side_are_the_joined_subjects(
    features: list[str], live: list[str], results: list[str], data: st.DataObject
) -> None:
    """`side_by_side` gives `joined`'s frame whenever it gives one, and gives one when the three frames name the
    same subjects (the usual case); any other subjects are left to the joins."""
    from engine.features.compute import SCHEMA

    if data.draw(st.booleans()):  # the usual case: the same subjects everywhere
        live = results = features
    n = len(features)
    part = pl.DataFrame(
        {
            c: features if c == "uscc" else pl.Series(c, [None] * n, dtype=t)  # the joins never read them
            for c, t in SCHEMA.items()
        },
        schema=SCHEMA,
    ).with_columns(pl.Series("penalties_3y", data.draw(st.lists(st.integers(0, 9), min_size=n, max_size=n)), pl.Int64))
    live_frame = pl.DataFrame(
        {
            "uscc": live,
            "region": [f"4401{i:02d}" for i in range(len(live))],
            "status": ["在业"] * len(live),
            "whitelist": [i % 2 == 0 for i in range(len(live))],
        },
        schema={"uscc": pl.String, "region": pl.String, "status": pl.String, "whitelist": pl.Boolean},
    )
    graded = pl.DataFrame(
        {"uscc": results, "credit_class": [["A", "B", "C"][i % 3] for i in range(len(results))]},
        schema={"uscc": pl.String, "credit_class": pl.String},
    )
    joined = planning.joined(part, live_frame, graded)
    beside = planning.side_by_side(part, live_frame, graded)
    if features == live == results:
        assert beside is not None
    if beside is not None:
        assert beside.schema == joined.schema and beside.equals(joined)


def test_a_stream_closed_before_its_end_stops_its_pump(graded_file: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pump takes batches ahead of the plan; a plan that stops early (an error, a refused snapshot) closes the
    stream while the pump waits for room: both the child and the pump end, and the frames taken ahead go."""
    from engine import plan_read
    from engine.features import arrow_read

    assert _streams(graded_file)  # ADBC's SQLite driver is a dependency
    monkeypatch.setattr(plan_read, "BATCH_ROWS", 100)
    monkeypatch.setattr(plan_read, "READ_AHEAD", 2)
    with graded_file.connect() as conn:
        run_id = _run_id(conn)
        usccs = sorted(
            conn.execute(sa.text("SELECT uscc FROM grade_result WHERE run_id = :r"), {"r": run_id}).scalars()
        )
        url = graded_file.url.render_as_string(hide_password=False)
    path = arrow_read.database_file(url)
    assert path is not None
    stream = plan_read.Stream(path, run_id)
    results, live = stream.between(None, usccs[149])
    assert results.get_column("uscc").to_list() == usccs[:150]
    deadline = time.monotonic() + 30
    while not stream._ahead.full() and time.monotonic() < deadline:  # the pump is now waiting for room
        time.sleep(0.01)
    assert stream._ahead.full()
    pump = stream._pump
    stream.close()
    assert not pump.is_alive() and stream._ahead.empty()
    with pytest.raises(plan_read.ChildFailed):
        stream.between(usccs[149], usccs[-1])


def test_the_pump_reports_a_child_that_fails(graded_file: sa.Engine) -> None:
    from engine import plan_read

    with graded_file.connect() as conn:
        run_id = _run_id(conn)
    stream = plan_read.Stream("/nonexistent/store.db", run_id)  # the child cannot open it: it fails at once
    try:
        with pytest.raises(plan_read.ChildFailed):
            stream.between(None, "9" * 18)
        assert not stream._pump.is_alive()  # it put the failure and ended
        # Asked again, the stream says so again (it once waited for ever on the pump that had ended).
        with pytest.raises(plan_read.ChildFailed):
            stream.between(None, "9" * 18)
    finally:
        stream.close()


def test_a_pump_that_breaks_leaves_the_read_to_the_connection(
    graded_file: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error the pump does not expect (here in turning a batch into a frame) ends the stream as a failed child
    does: the plan reads the rest through the connection, the same frame, and does not wait for ever."""
    from engine import plan_read

    assert _streams(graded_file)  # ADBC's SQLite driver is a dependency
    pack = load_pack(RULES / "national")
    monkeypatch.setattr(runs, "FEATURE_PART_ROWS", 701)
    monkeypatch.setattr(plan_read, "CHILD_ROWS", 0)
    monkeypatch.setattr(plan_read, "BATCH_ROWS", 300)
    with graded_file.connect() as conn:
        run_id = _run_id(conn)
        expected = _read_without_child(conn, run_id, pack, monkeypatch)
        real = pl.from_arrow
        batches: list[int] = []

        def from_arrow(data: object, *args: object, **kwargs: object) -> object:
            if threading.current_thread().name == "plan-read":
                batches.append(1)
                if len(batches) > 2:
                    raise RuntimeError("no memory for the batch")
            return real(data, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(pl, "from_arrow", from_arrow)
        assert planning.subjects_for_plan(conn, run_id, AS_OF, pack).equals(expected)
    assert len(batches) == 3


def test_no_child_reads_for_a_connection_with_uncommitted_writes(graded_file: sa.Engine) -> None:
    from engine import plan_read

    assert _streams(graded_file)  # ADBC's SQLite driver is a dependency
    with graded_file.connect() as conn:
        run_id = _run_id(conn)
        assert not planning._wrote_uncommitted(conn)
        conn.execute(sa.text("UPDATE subject SET whitelist = whitelist WHERE uscc = (SELECT min(uscc) FROM subject)"))
        assert planning._wrote_uncommitted(conn)
        old = plan_read.CHILD_ROWS
        plan_read.CHILD_ROWS = 0
        try:
            with planning._RangeReader(conn, run_id) as reader:
                assert reader.stream is None
        finally:
            plan_read.CHILD_ROWS = old
        conn.rollback()


def test_past_checks_read_by_a_process_of_their_own_are_the_connections(
    graded_file: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """history_meanwhile's spawned process gives the frame history() reads through the connection (values, types,
    order); a connection with uncommitted writes, or a store below the population, reads through the connection;
    a child that fails leaves the read to the connection."""
    from concurrent.futures import Future, ProcessPoolExecutor

    spawned: list[object] = []
    real_submit = ProcessPoolExecutor.submit

    def submit(self: ProcessPoolExecutor, fn: object, /, *args: object) -> Future[object]:
        spawned.append(fn)
        return real_submit(self, fn, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(ProcessPoolExecutor, "submit", submit)
    monkeypatch.setattr(planning, "HISTORY_CHILD_ROWS", 0)
    with graded_file.begin() as conn:  # some checks with no level and no lead recorded: nulls travel too
        conn.execute(sa.text("UPDATE check_result SET level = NULL, lead_inspector = NULL WHERE rowid % 7 = 0"))
    with graded_file.connect() as conn:
        expected = planning.history(conn, AS_OF)
        assert expected.height > 1000 and expected.get_column("level").null_count() > 100
        with planning.history_meanwhile(conn, AS_OF) as past:
            read = past()
        assert spawned == [planning._history_to_file]
        assert read.schema == expected.schema and read.equals(expected)
        conn.execute(sa.text("UPDATE subject SET whitelist = whitelist WHERE uscc = (SELECT min(uscc) FROM subject)"))
        with planning.history_meanwhile(conn, AS_OF) as past:
            assert past().equals(expected)
        assert len(spawned) == 1
        conn.rollback()
        monkeypatch.setattr(planning, "HISTORY_CHILD_ROWS", 10**9)
        with planning.history_meanwhile(conn, AS_OF) as past:
            assert past().equals(expected)
        assert len(spawned) == 1
        monkeypatch.setattr(planning, "HISTORY_CHILD_ROWS", 0)

        def failing(self: ProcessPoolExecutor, fn: object, /, *args: object) -> Future[object]:
            spawned.append(fn)
            failed: Future[object] = Future()
            failed.set_exception(OSError("the child could not write its file"))
            return failed

        monkeypatch.setattr(ProcessPoolExecutor, "submit", failing)
        with planning.history_meanwhile(conn, AS_OF) as past:
            assert past().equals(expected)
        assert len(spawned) == 2

        def cannot_start(self: ProcessPoolExecutor, fn: object, /, *args: object) -> Future[object]:
            spawned.append(fn)
            raise OSError("no process can be started here")

        monkeypatch.setattr(ProcessPoolExecutor, "submit", cannot_start)
        with planning.history_meanwhile(conn, AS_OF) as past:
            assert past().equals(expected)
        assert len(spawned) == 3

        def no_semaphores(self: ProcessPoolExecutor, *args: object, **kwargs: object) -> None:
            raise OSError(38, "Function not implemented")

        monkeypatch.setattr(ProcessPoolExecutor, "__init__", no_semaphores)
        with planning.history_meanwhile(conn, AS_OF) as past:
            assert past().equals(expected)
        assert len(spawned) == 3


def test_an_altered_features_snapshot_is_refused_while_read(graded: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.ledger import snapshot
    from entities.errors import SnapshotProblem

    def altered(data: bytes, digest: str, scheme: str) -> None:
        raise SnapshotProblem(f"snapshot {digest[:12]} has been altered")

    monkeypatch.setattr(snapshot, "_check_bytes", altered)
    with graded.connect() as conn, pytest.raises(SnapshotProblem, match="altered"):
        planning.subjects_for_plan(conn, _run_id(conn), AS_OF, load_pack(RULES / "national"))
