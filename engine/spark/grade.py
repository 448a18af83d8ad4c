"""`suijian grade --engine spark`: the grade of a folder of Parquet tables on Apache Spark, recorded in the store.

The same code as the single-machine path, applied by Spark per partition; nothing of the logic is written twice:
1. features — a DataFrame of USCC ranges (one per partition, cut by Spark's range partitioner over the subjects) is
   mapped with `mapInArrow`: each task reads its range of every table from the folder with the single-machine reader
   (read.read_parquet_partition) and computes the features with the pure partition function (partition_features).
   Range reads, not a co-group of eleven tables: the partition function wants all of a range's tables at once, and
   a folder sorted by owner USCC (engine/spark/inputs.py) lets each task read only its row groups, with no shuffle.
   Each row also gets its snapshot-3 bucket. The features are cached for the passes below.
2. keys — each task keys its rows by the cells of the features the pack reads (rules.relevant_keys, as
   Grading.grade_frame does); Spark reduces them to the distinct keys, each with its first subject by USCC and that
   subject's record. Only those reach the driver.
3. evaluation — on the driver, Grading.evaluate_keys evaluates every distinct key once on durable-rules, in the
   order of its first subject's USCC. The single-machine path meets keys in that order (partitions in USCC order,
   rows sorted), so outcome ids, evaluation counts and outcomes are the same for any partitioning.
4. outcomes — the table key → outcome id is broadcast; each task gives its subjects their outcome ids. The driver
   collects (uscc, outcome), writes grade_result and records the run (grading.store_run, as the single machine does).
5. snapshot — the frozen tables (the features the pack read with status and whitelist; regions) and the features
   kept for plans are shuffled by bucket; each bucket is hashed and written as a content-addressed Parquet file by
   an executor (engine/ledger/bucket_files.py), the driver combines the bucket digests (suijian-snapshot-3).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from engine import grading as grading_mod
from engine.features import read
from engine.features.partition import SCHEMA, partition_features
from engine.grading import Grading
from engine.ledger import bucket_files, chain, record, runs
from engine.ledger.canonical import SNAPSHOT3, BucketTable, bucket_of
from engine.ledger.record import GradeRun
from engine.rules import Pack, relevant_keys
from engine.spark import inputs
from entities import store
from entities.errors import InputError
from entities.identity import Identity

BUCKET = "_bucket"
FIRST = "_first"  # a key's first subject by USCC
KEY_PREFIX = "k_"  # key columns, beside the feature columns of the same names
_SPARK_TYPES = {pl.Utf8: "string", pl.Int64: "bigint", pl.Float64: "double", pl.Boolean: "boolean", pl.Int32: "int"}


def require_spark() -> None:
    """One line when Spark cannot run here: pyspark not installed, or no Java."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise InputError("Spark is not installed: pip install 'suijian[spark]' (needs Java 17 or newer)") from None
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home) / "bin" / "java" if java_home else None
    if not (java is not None and java.is_file()) and shutil.which("java") is None:
        raise InputError(
            "Spark needs Java 17 or newer: no `java` on PATH"
            + (f" and none in JAVA_HOME ({java_home})" if java_home else "")
            + "; install a JDK (apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
        )


def default_blobs(url: str) -> Path:
    """Where a Spark run's snapshot files go without --blobs: $SUIJIAN_BLOBS, or beside a SQLite store's file."""
    given = os.environ.get(bucket_files.ENV)
    if given:
        return Path(given)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///").split("?")[0] + "-blobs")
    raise InputError(
        f"where should the snapshot's Parquet files go? pass --blobs DIR or set {bucket_files.ENV} "
        "(a folder every Spark executor and every later `audit verify` can reach)"
    )


def _struct(ddl: str) -> Any:
    """A Spark schema from its DDL text (a StructType; typed Any as pyspark's fromDDL says DataType)."""
    from pyspark.sql.types import StructType

    return StructType.fromDDL(ddl)


def _ddl(schema: dict[str, Any]) -> str:
    return ", ".join(f"`{name}` {_SPARK_TYPES[dtype]}" for name, dtype in schema.items())


def _arrow_batches(frame: pl.DataFrame, schema: Any) -> Iterator[Any]:
    """A polars frame as Arrow record batches of exactly `schema` (Spark wants string, not large_string)."""
    table = frame.to_arrow().cast(schema)
    yield from table.to_batches()


@dataclass(frozen=True)
class SparkGrade:
    """What a Spark grade computed, before it is stored: the grading state and the per-subject results."""

    grading: Grading
    results: pl.DataFrame  # uscc, outcome (sorted by uscc)
    snapshot: dict[str, BucketTable]  # the frozen tables by their snapshot-3 buckets (files written to the blobs)
    plan_features: dict[str, BucketTable] | None  # the features kept for plans, likewise
    registered_later: int
    partitions: int
    seconds: dict[str, float]  # wall seconds per step (ranges; features and keys; evaluation; outcomes; snapshot)


def grade_folder(
    spark: Any,
    folder: Path,
    pack: Pack,
    as_of: dt.date,
    *,
    blobs: Path,
    partitions: int,
    keep_plan_features: bool = True,
    task_log: Path | None = None,
) -> SparkGrade:
    """Grade every subject of a Parquet folder on Spark; results and the snapshot-3 snapshot (written to `blobs`).

    `task_log`: a file each feature task appends one line to (lo, hi, subjects, CPU seconds reading, computing) —
    the per-partition cost bench/spark_grade.py reports; the executors must be able to write it (local mode)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import to_arrow_schema

    inputs.check_folder(folder)
    grading_mod.check_pack_date(pack, as_of)
    folder = folder.resolve()
    blobs = blobs.resolve()
    holds = read.parquet_holds_reports(folder, as_of)
    partitions = max(1, partitions)

    clock = _Clock()
    # 1. USCC ranges by Spark's range partitioner, then the features of each range in its own task.
    subjects = spark.read.parquet(str(folder / "subject.parquet")).select("uscc")
    ranges = (
        subjects.repartitionByRange(partitions, "uscc")
        .groupBy(F.spark_partition_id().alias("part"))
        .agg(F.min("uscc").alias("lo"), F.max("uscc").alias("hi"))
        .orderBy("lo")
        .collect()
    )
    bounds = [(r["lo"], r["hi"]) for r in ranges]
    clock.lap("ranges")
    feature_schema = _struct(_ddl({**SCHEMA, BUCKET: pl.Int32}))
    feature_arrow = to_arrow_schema(feature_schema)
    where, day, log = str(folder), as_of, str(task_log) if task_log else None

    def features_of_ranges(batches: Iterator[Any]) -> Iterator[Any]:
        import time

        for batch in batches:
            for lo, hi in zip(batch.column("lo").to_pylist(), batch.column("hi").to_pylist(), strict=True):
                start = time.process_time()
                tables = read.read_parquet_partition(Path(where), lo, hi)
                mid = time.process_time()
                frame = partition_features(tables, day, holds_reports=holds)
                frame = frame.with_columns(bucket_of(frame.get_column("uscc")).cast(pl.Int32).alias(BUCKET))
                if log is not None:
                    with open(log, "a", encoding="utf-8") as out:
                        out.write(f"{lo} {hi} {frame.height} {mid - start:.3f} {time.process_time() - mid:.3f}\n")
                yield from _arrow_batches(frame, feature_arrow)

    range_frame = spark.createDataFrame(bounds, "lo string, hi string").repartition(len(bounds) or 1)
    features = range_frame.mapInArrow(features_of_ranges, feature_schema).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        return _grade(spark, features, folder, pack, as_of, blobs, len(bounds), keep_plan_features, clock)
    finally:
        features.unpersist()


def _grade(
    spark: Any,
    features: Any,
    folder: Path,
    pack: Pack,
    as_of: dt.date,
    blobs: Path,
    partitions: int,
    keep_plan_features: bool,
    clock: _Clock,
) -> SparkGrade:
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import to_arrow_schema

    names = list(pack.features)
    recorded = [c for c in names if c in SCHEMA]
    grading = Grading(pack, as_of)

    # 2. The distinct rule-relevant keys, each with its first subject by USCC and that subject's record.
    key_schema = _struct(
        _ddl({**{KEY_PREFIX + n: pl.Int32 for n in names}, FIRST: pl.Utf8, **{c: SCHEMA[c] for c in recorded}})
    )
    key_arrow = to_arrow_schema(key_schema)

    def keys_of(batches: Iterator[Any]) -> Iterator[Any]:
        for batch in batches:
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            keys = relevant_keys(pack, frame).rename({n: KEY_PREFIX + n for n in names})
            out = pl.concat([keys, frame.select(pl.col("uscc").alias(FIRST), *recorded)], how="horizontal")
            # One row per key and batch (the first by USCC: the batch is in USCC order); Spark reduces the rest.
            out = out.sort(FIRST).unique(subset=[KEY_PREFIX + n for n in names] or None, keep="first")
            yield from _arrow_batches(out, key_arrow)

    key_columns = [KEY_PREFIX + n for n in names]
    distinct = features.mapInArrow(keys_of, key_schema)
    if key_columns:
        record_struct = F.struct(*[F.col(c) for c in recorded]) if recorded else F.struct(F.lit(0).alias("_"))
        distinct = distinct.groupBy(*key_columns).agg(
            F.min(FIRST).alias(FIRST), F.min_by(record_struct, F.col(FIRST)).alias("_record")
        )
    else:
        distinct = distinct.agg(F.min(FIRST).alias(FIRST)).where(F.col(FIRST).isNotNull())
    rows = sorted(distinct.collect(), key=lambda r: r[FIRST])
    clock.lap("features and keys")

    # 3. Each distinct key evaluated once on durable-rules, in the order of its first subject.
    keys = [tuple(int(r[c]) for c in key_columns) for r in rows]
    records = [
        {c: r["_record"][c] for c in recorded} if key_columns else {} for r in rows
    ]  # a pack that reads no feature: one key, the empty tuple
    ids = grading.evaluate_keys(keys, records)
    outcome_of = pl.DataFrame(
        {**{c: [k[i] for k in keys] for i, c in enumerate(key_columns)}, "outcome": ids},
        schema={**{c: pl.Int32 for c in key_columns}, "outcome": pl.Int32},
    )

    clock.lap("evaluation")
    # 4. Every subject's outcome id, by the broadcast table.
    table = spark.sparkContext.broadcast(outcome_of)
    result_schema = _struct("uscc string, outcome int")
    result_arrow = to_arrow_schema(result_schema)

    def outcomes_of(batches: Iterator[Any]) -> Iterator[Any]:
        lookup = table.value
        for batch in batches:
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            if key_columns:
                keys = relevant_keys(pack, frame).rename({n: KEY_PREFIX + n for n in names})
                found = keys.join(lookup, on=key_columns, how="left", maintain_order="left").get_column("outcome")
            else:
                found = pl.Series("outcome", [lookup.get_column("outcome")[0]] * frame.height, dtype=pl.Int32)
            if found.null_count():  # a key the driver never saw: the features changed between passes
                raise RuntimeError("a subject's rule-relevant key was not among the distinct keys evaluated")
            out = pl.DataFrame({"uscc": frame.get_column("uscc"), "outcome": found})
            yield from _arrow_batches(out, result_arrow)

    results = pl.from_arrow(features.mapInArrow(outcomes_of, result_schema).toArrow())
    assert isinstance(results, pl.DataFrame)
    results = results.with_columns(pl.col("outcome").cast(pl.Int64)).sort("uscc")
    grading.count(dict(results.get_column("outcome").value_counts().iter_rows()))

    clock.lap("outcomes")
    # 5. The snapshot, bucket by bucket on the executors: one shuffle by bucket, each bucket's rows cut into the
    # snapshot's tables (and the features kept for plans) there, each table's part hashed and written as a file.
    frozen = ["uscc", *sorted(set(names) | {c for c in record.FROZEN_EXTRA if c in SCHEMA})]
    layout = {"features": frozen, "regions": ["uscc", "region"]}
    if keep_plan_features:
        layout[runs.PLAN_FEATURES] = ["uscc", *(c for c in SCHEMA if c not in frozen)]
    regions = spark.read.parquet(str(folder / f"{inputs.REGIONS}.parquet")).select("uscc", "region")
    rows_by_bucket = features.join(regions, on="uscc", how="left")
    found = _snapshot_3(rows_by_bucket, layout, blobs)
    snapshot = {name: found[name] for name in ("features", "regions")}
    plan_tables = {runs.PLAN_FEATURES: found[runs.PLAN_FEATURES]} if keep_plan_features else None
    # Who registered after as_of: a count over the subjects file, streamed by polars on the driver.
    later = (
        pl.scan_parquet(folder / "subject.parquet")
        .filter(pl.col("registered_on") > as_of)
        .select(pl.len())
        .collect()
        .item()
    )
    clock.lap("snapshot")
    return SparkGrade(grading, results, snapshot, plan_tables, int(later), partitions, clock.seconds)


class _Clock:
    """Wall seconds per step of a Spark grade (bench/spark_grade.py prints them)."""

    def __init__(self) -> None:
        import time

        self._now = time.perf_counter
        self._last = self._now()
        self.seconds: dict[str, float] = {}

    def lap(self, step: str) -> None:
        now = self._now()
        self.seconds[step] = round(now - self._last, 2)
        self._last = now


def _bucket_writer(where: str, layout: dict[str, list[str]]) -> Any:
    """The task that hashes one bucket's rows, table by table, and writes them (one argument: Spark passes the
    group's rows alone)."""

    def write(group: Any) -> Any:
        import pyarrow as pa

        part = pl.from_arrow(group)
        assert isinstance(part, pl.DataFrame)
        bucket = int(part.get_column(BUCKET)[0])
        done = [
            (name, *bucket_files.write_bucket(where, bucket, part.select(columns))) for name, columns in layout.items()
        ]
        return pa.table(
            {k: [d[i] for d in done] for i, k in enumerate(("table", "bucket", "rows", "digest"))},
            schema=pa.schema(
                [("table", pa.string()), ("bucket", pa.int32()), ("rows", pa.int64()), ("digest", pa.string())]
            ),
        )

    return write


def _snapshot_3(frame: Any, layout: dict[str, list[str]], blobs: Path) -> dict[str, BucketTable]:
    """Every table's buckets hashed and written as Parquet files by the executors; the bucket digests come back."""

    out_schema = _struct("table string, bucket int, rows bigint, digest string")
    done = frame.groupBy(BUCKET).applyInArrow(_bucket_writer(str(blobs), layout), out_schema).collect()
    return {
        name: BucketTable(
            tuple(columns),
            tuple(sorted((int(r["bucket"]), int(r["rows"]), str(r["digest"])) for r in done if r["table"] == name)),
        )
        for name, columns in layout.items()
    }


def grade_and_store(
    conn: Connection,
    spark: Any,
    folder: Path,
    pack: Pack,
    as_of: dt.date,
    *,
    blobs: Path,
    partitions: int,
    created_at: dt.datetime,
    actor: Identity,
    task_log: Path | None = None,
) -> GradeRun:
    """Grade the folder on Spark and store the run exactly as `grading.grade_store` does (one transaction)."""
    graded = grade_folder(spark, folder, pack, as_of, blobs=blobs, partitions=partitions, task_log=task_log)
    if task_log is not None:  # the bench's per-step figures next to its per-task ones
        with open(task_log.with_suffix(".steps"), "w", encoding="utf-8") as out:
            out.write(" ".join(f"{k.replace(' ', '_')}={v}" for k, v in graded.seconds.items()) + "\n")
    clock = _Clock()
    chain.lock(conn)
    run_id = grading_mod.new_run_id(conn, as_of, pack)
    results = graded.results
    for start in range(0, results.height, 200_000):
        part = results.slice(start, 200_000)
        store.bulk_insert_tuples(
            conn,
            "grade_result",
            ("run_id", "uscc", "outcome"),
            (
                (run_id, u, o)
                for u, o in zip(part.get_column("uscc").to_list(), part.get_column("outcome").to_list(), strict=True)
            ),
        )
    ref = record.SnapshotRef(
        SNAPSHOT3,
        bucket_files.save(conn, blobs, graded.snapshot),
        bucket_files.save(conn, blobs, graded.plan_features) if graded.plan_features is not None else None,
    )
    run = grading_mod.store_run(
        conn,
        run_id,
        pack,
        as_of,
        graded.grading,
        registered_later=graded.registered_later,
        created_at=created_at,
        actor=actor,
        usccs=None,
        frozen={},
        results=results,
        plan_features=None,
        snapshot=ref,
    )
    if task_log is not None:
        clock.lap("store")
        with open(task_log.with_suffix(".steps"), "a", encoding="utf-8") as out:
            out.write(f"store={clock.seconds['store']}\n")
    return run
