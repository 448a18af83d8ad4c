"""`suijian grade --engine spark` gives what the single-machine grade gives, for any partitioning.

One small synthetic district (a jiedong mix of SUBJECTS subjects) is graded on this machine and exported to Parquet
once for the folder; each test grades it on the session's local Spark. Identical means: the grade outputs hash,
every subject's outcome id, the outcomes (outputs, fired rules, errors) in id order, the distributions and the
evaluation count; and the Spark run's snapshot-3 hash is the hash of the single machine's frozen tables.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from engine import grading
from engine.audit import verify
from engine.grading import Grading
from engine.ledger import bucket_files, chain, outputs, snapshot
from engine.ledger.canonical import SNAPSHOT2, SNAPSHOT3, content_hash
from engine.replay.recompute import replay
from engine.rules import Pack, load_pack
from engine.spark import grade as spark_grade
from engine.spark import inputs
from entities import store
from entities.errors import SnapshotProblem
from entities.identity import Identity, Role
from tests.helpers import load_demo_store, run_cli

SUBJECTS = 600
AS_OF = dt.date(2025, 12, 31)
RULES = Path(__file__).resolve().parents[2] / "rules" / "national"
ACTOR = Identity("测试员 tester", Role.SUPERVISOR)
CREATED = dt.datetime(2026, 1, 2, 9, 0)


@dataclass(frozen=True)
class Graded:
    url: str
    folder: Path
    pack: Pack
    run: grading.GradeRun
    results: pl.DataFrame  # uscc, outcome of the single-machine run
    outcomes: dict[int, str]
    outputs_hash: str
    frozen: dict[str, Any]  # the single machine's snapshot-2 tables


@pytest.fixture(scope="session")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Graded]:
    root = tmp_path_factory.mktemp("spark-grade")
    url = f"sqlite:///{root / 'store.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SUIJIAN_USER", ACTOR.user)
        mp.setenv("SUIJIAN_ROLE", "supervisor")
        load_demo_store(url, SUBJECTS)
    pack = load_pack(RULES)
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            run = grading.grade_store(conn, pack, AS_OF, created_at=CREATED, actor=ACTOR)
            inputs.export(conn, root / "tables")
            results, outcomes, _ = outputs.stored_grade_outputs(conn, run.id)
            entry = chain.find(conn, run.id)
            assert entry is not None
            frozen = snapshot.load(conn, entry.get("snapshot_hash"), SNAPSHOT2)
        yield Graded(url, root / "tables", pack, run, results.sort("uscc"), outcomes, entry.get("outputs_hash"), frozen)
    finally:
        engine.dispose()


def _same_as_single_machine(graded: Graded, found: spark_grade.SparkGrade) -> None:
    g = found.grading
    assert g.evaluations == graded.run.evaluations
    assert [o.canonical() for o in g.outcomes] == [graded.outcomes[i] for i in range(len(graded.outcomes))]
    assert g.distributions() == graded.run.distributions
    assert g.subjects == graded.run.subjects == found.results.height
    assert found.registered_later == graded.run.registered_later
    assert_frame_equal(
        found.results.select("uscc", "outcome"), graded.results.select("uscc", "outcome"), check_dtypes=False
    )
    canon = {o.id: o.canonical() for o in g.outcomes}
    assert outputs.grade_outputs_hash(found.results, canon) == graded.outputs_hash


@pytest.mark.parametrize("partitions", [1, 7])
def test_spark_grade_is_the_single_machine_grade(spark: Any, graded: Graded, tmp_path: Path, partitions: int) -> None:
    found = spark_grade.grade_folder(
        spark, graded.folder, graded.pack, AS_OF, blobs=tmp_path / "blobs", partitions=partitions
    )
    assert found.partitions == partitions
    _same_as_single_machine(graded, found)
    # snapshot-3 of the frozen tables, computed bucket by bucket on the executors, is the hash of the tables whole.
    from engine.ledger.canonical import combine_buckets

    assert combine_buckets(found.snapshot) == content_hash(graded.frozen, SNAPSHOT3)


def test_spark_run_is_stored_verified_and_replayed(spark: Any, graded: Graded, tmp_path: Path) -> None:
    """Three partitions, stored as the CLI does: the same rows in the store; audit verify and replay accept it;
    a bucket file altered afterwards is found."""
    blobs = tmp_path / "blobs"
    engine = store.open_store(graded.url)
    try:
        with engine.begin() as conn:
            run = spark_grade.grade_and_store(
                conn,
                spark,
                graded.folder,
                graded.pack,
                AS_OF,
                blobs=blobs,
                partitions=3,
                created_at=CREATED,
                actor=ACTOR,
            )
        with engine.connect() as conn:
            entry = chain.find(conn, run.id)
            assert entry is not None and entry.schemes["snapshot"] == SNAPSHOT3
            assert entry.get("outputs_hash") == graded.outputs_hash
            assert run.distributions == graded.run.distributions and run.outcomes == graded.run.outcomes
            results, outcomes, _ = outputs.stored_grade_outputs(conn, run.id)
            assert_frame_equal(results.sort("uscc"), graded.results)
            assert outcomes == graded.outcomes
            tables = snapshot.load(conn, entry.get("snapshot_hash"), SNAPSHOT3)
            assert (
                content_hash(tables, SNAPSHOT3) == entry.get("snapshot_hash") == content_hash(graded.frozen, SNAPSHOT3)
            )
            assert_frame_equal(tables["features"], graded.frozen["features"].sort("uscc"), check_dtypes=False)
            report = verify(conn)
            assert report.ok, report.problems
            replayed = replay(conn, run.id)
            assert replayed.identical
            # A bucket file edited after the run: verify names the snapshot.
            manifest = json.loads((blobs / "snapshots" / f"{entry.get('snapshot_hash')}.json").read_text())
            digest = manifest["tables"]["features"]["buckets"][0][2]
            path = bucket_files.object_path(blobs, digest)
            frame = pl.read_parquet(path)
            number = next(c for c, t in frame.schema.items() if t == pl.Int64)
            frame.with_columns(pl.col(number).fill_null(0) + 1).write_parquet(path)
            with pytest.raises(SnapshotProblem, match="has been altered"):
                snapshot.check(conn, entry.get("snapshot_hash"), SNAPSHOT3)
            assert not verify(conn).ok
    finally:
        engine.dispose()


def test_a_folder_without_a_table_is_refused_in_one_line(graded: Graded, tmp_path: Path) -> None:
    folder = tmp_path / "tables"
    folder.mkdir()
    for file in graded.folder.glob("*.parquet"):
        if file.name != "penalty.parquet":
            (folder / file.name).write_bytes(file.read_bytes())
    code, out, err = run_cli(
        "grade", "--as-of", "2025-12-31", "--engine", "spark", "--input", str(folder), "--db", graded.url
    )
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        f"Error: {folder}: no penalty.parquet; the folder must hold one Parquet file per table (subject, list_entry, "
        "penalty, complaint, check_result, food_business, device_business, equipment, accident, annual_report, "
        "licence), as write_parquet writes them"
    ]


def test_spark_options_need_the_spark_engine(graded: Graded) -> None:
    code, _, err = run_cli("grade", "--as-of", "2025-12-31", "--input", "x", "--db", graded.url)
    assert code == 2 and "--input, --spark-master, --spark-partitions and --blobs are for --engine spark" in err
    code, _, err = run_cli("grade", "--as-of", "2025-12-31", "--engine", "spark", "--subject", "X", "--db", graded.url)
    assert code == 2 and "drop --engine spark" in err


def test_no_java_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nojdk"))
    with pytest.raises(Exception, match=r"^Spark needs Java 17 or newer: no `java` on PATH and none in JAVA_HOME"):
        spark_grade.require_spark()


def test_no_pyspark_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(Exception, match=r"^Spark is not installed: pip install 'suijian\[spark\]'"):
        spark_grade.require_spark()


@pytest.fixture(scope="module")
def features(graded: Graded) -> pl.DataFrame:
    from engine.features.compute import parquet_feature_partitions

    return pl.concat(list(parquet_feature_partitions(graded.folder, AS_OF, partition_size=10_000)))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_outcome_ids_do_not_depend_on_the_partition_boundaries(
    graded: Graded, features: pl.DataFrame, data: st.DataObject
) -> None:
    """The argument the Spark path rests on, without Spark: grading partitions in USCC order, wherever they are cut,
    numbers outcomes as evaluating the distinct keys in the order of their first subject does."""
    cuts = sorted(data.draw(st.lists(st.integers(0, features.height), max_size=8)))
    state = Grading(graded.pack, AS_OF)
    ids = [state.grade_frame(features[a:b]) for a, b in zip([0, *cuts], [*cuts, features.height], strict=True)]
    per_row = pl.Series("outcome", [int(i) for part in ids for i in part])
    assert per_row.to_list() == graded.results.get_column("outcome").to_list()
    assert [o.canonical() for o in state.outcomes] == [graded.outcomes[i] for i in range(len(graded.outcomes))]
