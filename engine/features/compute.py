"""Compute the features of every subject from the store, as of an explicit date, in partitions.

Orchestration only: the store is cut into USCC key ranges, each range's rows are read into frames
(engine/features/read.py) and its features computed from them by the pure partition function
(engine/features/partition.py), in this process or in worker processes. Nothing here reads the wall clock;
`as_of` is the only notion of "now". A distributed runner calls the same partition function on its own partitions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.features import arrow_read, read
from engine.features.partition import (  # re-exported: the names callers have always imported from here
    PROBLEM_CODES,
    SCHEMA,
    due_dates,
    partition_features,
    report_year,
)
from engine.features.reference import sql_partition
from entities import store
from entities.errors import InputError

__all__ = [
    "PROBLEM_CODES",
    "SCHEMA",
    "due_dates",
    "feature_partitions",
    "features_of",
    "parquet_feature_partitions",
    "population_size",
    "registered_after",
    "report_year",
]

Path_ = Literal["frames", "sql"]


def _partition(conn: Connection, lo: str, hi: str, as_of: dt.date, holds: bool, path: Path_ = "frames") -> pl.DataFrame:
    if path == "sql":
        return sql_partition(conn, lo, hi, as_of)
    return partition_features(read.read_partition(conn, lo, hi, as_of=as_of), as_of, holds_reports=holds)


def _ranges(conn: Connection, partition_size: int, usccs: Sequence[str] | None) -> Iterator[tuple[str, str]]:
    """USCC key ranges of at most partition_size subjects each (keyset pagination, no OFFSET scans)."""
    t = store.table("subject")
    if usccs is not None:
        wanted = sorted(set(usccs))
        for i in range(0, len(wanted), partition_size):
            yield wanted[i], wanted[min(i + partition_size, len(wanted)) - 1]
        return
    # Only each range's first and last key cross into Python (the store steps over the keys between in its index):
    # reading every key as a Python string took seconds at city scale.
    last: str | None = None
    while True:
        after = sa.select(t.c.uscc).order_by(t.c.uscc)
        if last is not None:
            after = after.where(t.c.uscc > last)
        first = conn.execute(after.limit(1)).scalar()
        if first is None:
            return
        end = conn.execute(after.offset(partition_size - 1).limit(1)).scalar()
        if end is None:
            end = conn.execute(sa.select(sa.func.max(t.c.uscc))).scalar_one()
        yield first, end
        last = end


def feature_partitions(
    conn: Connection,
    as_of: dt.date,
    *,
    partition_size: int = 200_000,
    usccs: Sequence[str] | None = None,
    url: str | None = None,
    workers: int = 1,
    path: Path_ = "frames",
    regions: bool = False,
    finish: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> Iterator[pl.DataFrame]:
    """Features of every subject (or of `usccs`) as of `as_of`, one polars frame per partition, sorted by USCC.

    With `workers` > 1 and the store's `url`, partitions are computed in that many processes (each its own
    connection, reading the committed data); the frames still arrive in USCC order, identical to one process.
    `path="sql"` computes them with the reference GROUP BYs instead of frames (tests and bench/features.py).
    With `regions`, each frame also has the subjects' `region` (last), read where the partition is read: a grade
    run's snapshot keeps it, and its workers read it faster than the grading process would.
    `finish` (picklable) is applied to each partition's frame where it was computed, in a worker process if there
    is one: a grade run numbers the rule-relevant keys there (engine.grading.key_column), not in its own process.
    """
    wanted = set(usccs) if usccs is not None else None
    # Whether the store holds reports of the due year is a fact of the whole store, read once, not per partition.
    holds = read.holds_reports(conn, as_of)
    ranges = _ranges(conn, partition_size, usccs)
    if workers > 1 and url is not None:
        frames: Iterator[pl.DataFrame] = _parallel(url, as_of, holds, path, list(ranges), workers, regions, finish)
    else:
        frames = (
            _finished(
                _with_regions(_partition(conn, lo, hi, as_of, holds, path), read.regions(conn, lo, hi))
                if regions
                else _partition(conn, lo, hi, as_of, holds, path),
                finish,
            )
            for lo, hi in ranges
        )
    for frame in frames:
        if wanted is not None:
            frame = frame.filter(pl.col("uscc").is_in(sorted(wanted)))
        yield frame


def parquet_feature_partitions(
    folder: Path, as_of: dt.date, *, partition_size: int = 200_000
) -> Iterator[pl.DataFrame]:
    """Features of every subject in a folder of <table>.parquet files (read.write_parquet's layout), per partition."""
    read.check_parquet_folder(folder)
    holds = read.parquet_holds_reports(folder, as_of)
    for lo, hi in read.parquet_ranges(folder, partition_size):
        yield partition_features(read.read_parquet_partition(folder, lo, hi), as_of, holds_reports=holds)


def _finished(frame: pl.DataFrame, finish: Callable[[pl.DataFrame], pl.DataFrame] | None) -> pl.DataFrame:
    return frame if finish is None else finish(frame)


def _with_regions(frame: pl.DataFrame, found: pl.DataFrame) -> pl.DataFrame:
    """`frame` with each subject's region (from `found`: uscc, region) as its last column, rows as they were."""
    return frame.join(found, on="uscc", how="left", maintain_order="left")


def _parallel(
    url: str,
    as_of: dt.date,
    holds: bool,
    path: Path_,
    ranges: list[tuple[str, str]],
    workers: int,
    regions: bool = False,
    finish: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> Iterator[pl.DataFrame]:
    import multiprocessing
    import tempfile
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor

    # spawn, not fork: a forked child would share the parent's open database connections.
    with (
        ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool,
        tempfile.TemporaryDirectory(prefix="suijian-features-") as folder,
    ):
        # At most `workers` partitions ahead of the one the caller is on (pool.map would submit every one at once,
        # and finished frames would pile up in this process while the caller grades and stores the earlier ones).
        pending: deque[Future[str]] = deque()
        todo = enumerate(ranges)

        def submit(i: int, lo: str, hi: str) -> None:
            target = os.path.join(folder, f"{i:06d}.arrow")
            pending.append(pool.submit(_partition_to_file, (url, lo, hi, as_of, holds, path, regions), target, finish))

        with _worker_environment():  # the first submits start the workers (with the environment they get)
            for i, (lo, hi) in itertools.islice(todo, workers + 1):
                submit(i, lo, hi)
        while pending:
            frame = _received(pending.popleft().result())
            for i, (lo, hi) in itertools.islice(todo, 1):
                submit(i, lo, hi)
            yield frame
            del frame


# Polars sets its allocator (jemalloc) to hand freed pages back to the system within half a second (its
# __init__ writes _RJEM_MALLOC_CONF, a value given before it appended). A feature worker computes one partition
# after another, each allocating about as much as the last, so every partition faulted its pages in afresh; kept,
# they are reused: about a million fewer page faults at guangzhou, the workers' RSS staying at their largest
# partition's. One arena instead of one per thread (8 on 2 cores) keeps that high-water mark one, not several:
# 1.65 GB for the process tree instead of 1.83. Options appended last win, and a worker's polars appends what it
# inherits to its own defaults.
WORKER_JEMALLOC = "dirty_decay_ms:-1,muzzy_decay_ms:-1,narenas:1"
_JEMALLOC = "_RJEM_MALLOC_CONF"


@contextlib.contextmanager
def _worker_environment() -> Iterator[None]:
    """os.environ with WORKER_JEMALLOC while worker processes are started (they inherit it), then as it was."""
    before = os.environ.get(_JEMALLOC)
    os.environ[_JEMALLOC] = f"{before},{WORKER_JEMALLOC}" if before else WORKER_JEMALLOC
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(_JEMALLOC, None)
        else:
            os.environ[_JEMALLOC] = before


def _received(target: str) -> pl.DataFrame:
    """A worker's partition, read from the Arrow IPC file it wrote, which is then removed."""
    frame = pl.read_ipc(target)
    os.unlink(target)
    return frame


def _partition_to_file(
    args: tuple[str, str, str, dt.date, bool, Path_, bool],
    target: str,
    finish: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> str:
    """Compute a partition in a worker and write it to `target` as uncompressed Arrow IPC; returns `target`.

    A frame returned through the pool is pickled into bytes, sent down a pipe in chunks, gathered into a growing
    buffer in the parent and then copied into polars' columns: at guangzhou (17 partitions of 200,000 subjects)
    those copies touched about 2.3 million fresh pages (9 GB) across the processes, 45 % of the run's page faults.
    A file in the temporary folder is written once from the columns and read once into them."""
    _finished(_partition_in_worker(args), finish).write_ipc(target)
    return target


def _partition_in_worker(args: tuple[str, str, str, dt.date, bool, Path_, bool]) -> pl.DataFrame:
    url, lo, hi, as_of, holds, path, regions = args
    # A worker reads a SQLite store through ADBC straight into Arrow, its only connection to the file (see
    # arrow_read: two SQLite libraries must not share a file in one process); if a table cannot be read that way,
    # the source is closed for good and the worker opens its SQLAlchemy engine instead.
    source = arrow_read.process_source(url) if path == "frames" and url not in _ENGINES else None
    if source is not None:
        if regions:
            both = read.read_partition_regions_arrow(source, lo, hi, as_of=as_of)
            frames, found = both if both is not None else (None, None)
        else:
            frames, found = read.read_partition_arrow(source, lo, hi, as_of=as_of), None
        if frames is not None:
            features = partition_features(frames, as_of, holds_reports=holds)
            return _with_regions(features, found) if found is not None else features
        arrow_read.give_up(url)
    engine = _worker_engine(url)
    with engine.connect() as conn:
        features = _partition(conn, lo, hi, as_of, holds, path)
        return _with_regions(features, read.regions(conn, lo, hi)) if regions else features


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
