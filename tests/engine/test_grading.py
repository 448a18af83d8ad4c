"""Grading a synthetic district: the stored outcome of every subject equals the reference interpreter's result
on that subject's features, whatever the batch size, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from engine import audit, grading
from engine.features.compute import feature_partitions
from engine.ledger import canonical, chain, runs, snapshot
from engine.ledger.record import frozen_tables
from engine.rules import load_pack, reference
from engine.synth import get_profile, load_demo
from entities import store
from entities.errors import InputError
from tests.helpers import TESTER

AS_OF = dt.date(2025, 12, 31)
PACK = Path(__file__).resolve().parents[1] / "packs" / "base"
NOW = dt.datetime(2026, 1, 1, 8, 0)


@pytest.fixture
def district(engine: sa.Engine) -> sa.Engine:
    load_demo(engine, get_profile("jiedong").scaled(1200), seed=7, as_of=AS_OF, now=NOW)
    return engine


def test_every_stored_outcome_equals_the_reference(district: sa.Engine) -> None:
    pack = load_pack(PACK)
    with district.begin() as conn:
        run = grading.grade_store(conn, pack, AS_OF, created_at=NOW, actor=TESTER, partition_size=500)
    assert run.subjects == 1200 and run.evaluations >= run.outcomes
    with district.connect() as conn:
        stored = grading.outcomes_frame(conn, run.id)
        features = pl.concat(list(feature_partitions(conn, AS_OF)))
    assert stored.get_column("uscc").to_list() == features.get_column("uscc").to_list()
    for got, record in zip(stored.iter_rows(named=True), features.iter_rows(named=True), strict=True):
        want = reference.evaluate(pack, record).outputs
        assert {k: got[k] for k in want} == {k: list(v) if isinstance(v, tuple) else v for k, v in want.items()}, (
            record["uscc"]
        )
    # the distributions printed are the stored outcomes counted
    assert run.distributions["credit_class"] == stored.get_column("credit_class").value_counts().sort(
        "credit_class"
    ).pipe(lambda f: dict(zip(f["credit_class"], f["count"], strict=True)))


def test_batch_size_and_rerun_give_the_same_outcomes(district: sa.Engine) -> None:
    pack = load_pack(PACK)
    with district.begin() as conn:
        one = grading.grade_store(conn, pack, AS_OF, created_at=NOW, actor=TESTER, partition_size=10_000)
        many = grading.grade_store(conn, pack, AS_OF, created_at=NOW, actor=TESTER, partition_size=97)
    assert one.id != many.id
    assert one.distributions == many.distributions
    with district.connect() as conn:
        a, b = grading.outcomes_frame(conn, one.id), grading.outcomes_frame(conn, many.id)
    assert a.equals(b)


def test_the_recorded_snapshot_is_the_whole_frames_whatever_the_partitions(district: sa.Engine) -> None:
    """grade_store hashes and stores its snapshot a partition at a time (canonical.StreamedFrame): the entry
    records the snapshot-2 hash of the whole frames, the stored blobs hold them, and the partition size changes
    no hash."""
    pack = load_pack(PACK)
    with district.begin() as conn:
        one = grading.grade_store(conn, pack, AS_OF, created_at=NOW, actor=TESTER, partition_size=10_000)
        many = grading.grade_store(conn, pack, AS_OF, created_at=NOW, actor=TESTER, partition_size=97)
    with district.connect() as conn:
        a, b = chain.find(conn, one.id), chain.find(conn, many.id)
        assert a is not None and b is not None
        for key in ("snapshot_hash", "outputs_hash"):
            assert a.get(key) == b.get(key)
        assert a.details[runs.PLAN_FEATURES] == b.details[runs.PLAN_FEATURES]
        assert a.schemes["snapshot"] == canonical.SNAPSHOT2
        features = pl.concat(list(feature_partitions(conn, AS_OF)))
        s = store.table("subject")
        regions = pl.DataFrame(
            conn.execute(sa.select(s.c.uscc, s.c.region)).all(), schema=["uscc", "region"], orient="row"
        )
        whole = frozen_tables(features, pack, features.select("uscc").join(regions, on="uscc", how="left"))
        assert canonical.content_hash(whole, canonical.SNAPSHOT2) == a.get("snapshot_hash")
        stored = snapshot.load(conn, a.get("snapshot_hash"), canonical.SNAPSHOT2)
        assert isinstance(stored["features"], pl.DataFrame)
        assert stored["features"].equals(whole["features"])
        assert runs.grade_features(conn, a) is not None
        assert audit.verify(conn).ok


def test_pack_out_of_force_is_refused(district: sa.Engine) -> None:
    pack = load_pack(PACK)
    with (
        district.begin() as conn,
        pytest.raises(
            InputError,
            match=r"rule pack test-base 1.0 is in force 2025-01-01 to 2025-12-31, not on 2026-03-01; pass another --as-of or --pack",
        ),
    ):
        grading.grade_store(conn, pack, dt.date(2026, 3, 1), created_at=NOW, actor=TESTER)


def test_empty_store_is_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn, pytest.raises(InputError, match="no subjects to grade"):
        grading.grade_store(conn, load_pack(PACK), AS_OF, created_at=NOW, actor=TESTER)
    with engine.connect() as conn:
        assert store.count_rows(conn, "grade_run") == 0
