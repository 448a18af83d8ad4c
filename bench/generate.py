"""Benchmark: generate a synthetic district and load it, next to a naive one-ORM-object-per-row baseline.

    python bench/generate.py jiedong
    python bench/generate.py guangzhou --db sqlite:////tmp/gz.db
    python bench/generate.py baiyun --db postgresql://postgres@127.0.0.1/test

Prints rows per second for generation, for writing and in total, the peak resident memory of the process
(resource.getrusage), and the rate of a naive baseline measured in the same run on a small sample of the same
district (each row a SQLModel table object, added and flushed one at a time, one transaction; the first 200 rows
warm up untimed), extrapolated to the full row count. The baseline runs first; peak RSS covers both. Writes only to the store it is given (default: a SQLite file in the temp directory) and to
a scratch store for the baseline, which it deletes; nothing goes into the repository.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from engine.synth import TABLES, Generator, get_profile, load_demo
from entities import models, store

# Every table the generator writes, as its SQLModel class (the naive baseline's one ORM object per row).
TABLE_CLASSES = {
    cls.__tablename__: cls
    for cls in vars(models).values()
    if isinstance(cls, type) and issubclass(cls, SQLModel) and getattr(cls, "__table__", None) is not None
}


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def naive_baseline(url: str, profile_name: str, subjects: int, seed: int, as_of: dt.date) -> tuple[int, float]:
    """Rows and seconds for inserting a small district one ORM object at a time into a scratch store."""
    scratch_url, cleanup = _scratch_store(url)
    engine = store.make_engine(scratch_url)
    try:
        store.initialise(engine)
        rows = [
            (table, row)
            for batch in Generator(get_profile(profile_name, subjects), seed, as_of).batches()
            for table in TABLES
            for row in batch.get(table, [])
        ]
        # The first rows pay for mapper configuration and statement compilation; they are not timed.
        warm, timed = rows[:200], rows[200:]
        with Session(engine) as session:
            for table, row in warm:
                session.add(TABLE_CLASSES[table](**row))
                session.flush()
            started = time.perf_counter()
            for table, row in timed:
                session.add(TABLE_CLASSES[table](**row))
                session.flush()
            session.commit()
            seconds = time.perf_counter() - started
        return len(timed), seconds
    finally:
        engine.dispose()
        cleanup()


def _scratch_store(url: str) -> tuple[str, Callable[[], None]]:
    resolved = store.resolve_url(url)
    if resolved.startswith("sqlite"):
        path = Path(tempfile.gettempdir()) / f"suijian-bench-baseline-{os.getpid()}.db"

        def remove() -> None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        remove()
        return f"sqlite:///{path}", remove
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(resolved)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    separator = "&" if "?" in resolved else "?"

    def drop() -> None:
        eng = sa.create_engine(resolved)
        with eng.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        eng.dispose()

    return f"{resolved}{separator}options=-csearch_path%3D{schema}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", choices=["jiedong", "baiyun", "guangzhou"])
    parser.add_argument("--subjects", type=int, default=None, help="scale the profile to N subjects")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", default="2025-12-31")
    parser.add_argument("--db", default=None, help="store URL (default: a SQLite file in the temp directory)")
    parser.add_argument(
        "--no-index-baseline", action="store_true", help="PostgreSQL: skip the load with the indexes kept during it"
    )
    parser.add_argument("--baseline-subjects", type=int, default=3000, help="size of the naive baseline's sample")
    args = parser.parse_args()

    as_of = dt.date.fromisoformat(args.as_of)
    profile = get_profile(args.profile, args.subjects)
    url = args.db or f"sqlite:///{Path(tempfile.gettempdir()) / f'suijian-bench-{args.profile}.db'}"
    # The baseline runs first, so that writing back a big store does not slow it down.
    base_rows, base_seconds = naive_baseline(url, args.profile, args.baseline_subjects, args.seed, as_of)
    engine = store.make_engine(url)
    try:
        started = time.perf_counter()
        store.initialise(engine)
        init_seconds = time.perf_counter() - started
        kept = None
        if engine.dialect.name == "postgresql" and not args.no_index_baseline:
            # The path before: every index kept up to date row by row during the load (same store, replaced next).
            started = time.perf_counter()
            kept = load_demo(
                engine, profile, args.seed, as_of, now=dt.datetime.now(), replace=True, build_indexes_after=False
            )
            kept_seconds = time.perf_counter() - started
        started = time.perf_counter()
        result = load_demo(engine, profile, args.seed, as_of, now=dt.datetime.now(), replace=True)
        total_seconds = time.perf_counter() - started
        shown_url = engine.url.render_as_string(hide_password=True)
        dialect = engine.dialect.name
    finally:
        engine.dispose()
    rss = peak_rss_mb()
    rows = result.total_rows
    tables = sum(1 for n in result.rows.values() if n)
    base_rate = base_rows / base_seconds
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    print(
        f"suijian bench: generate + load, profile {args.profile} ({profile.total_subjects:,} subjects), "
        f"seed {args.seed}, as-of {as_of}, {cpus} CPU(s)"
    )
    print(f"store        {shown_url} ({dialect})")
    print(
        f"rows         {rows:,} in {tables} tables (subjects {result.rows['subject']:,}, equipment {result.rows['equipment']:,})"
    )
    print(f"initialise   {init_seconds:8.2f} s")
    print(f"generate     {result.generate_seconds:8.2f} s  {rows / result.generate_seconds:>10,.0f} rows/s")
    print(f"write        {result.write_seconds:8.2f} s  {rows / result.write_seconds:>10,.0f} rows/s")
    if dialect == "postgresql":
        print(f"indexes      {result.index_seconds:8.2f} s  (built after the rows, and the tables analysed)")
    print(f"total        {total_seconds:8.2f} s  {rows / total_seconds:>10,.0f} rows/s  (one transaction)")
    if kept is not None:
        print(
            f"indexes kept {kept_seconds:8.2f} s  {rows / kept_seconds:>10,.0f} rows/s  in total, of which write "
            f"{kept.write_seconds:.2f} s (the path before: every index updated row by row during the load)"
        )
    print(f"peak RSS     {rss:8.0f} MB")
    print(
        f"naive ORM    {base_seconds:8.2f} s  {base_rate:>10,.0f} rows/s  on a {base_rows:,}-row sample "
        f"({args.baseline_subjects:,} subjects; one SQLModel object per row, flushed one by one)"
    )
    print(
        f"             → about {rows / base_rate:,.0f} s extrapolated for {rows:,} rows, "
        f"{(rows / base_rate) / total_seconds:.0f}× the batch path"
    )


if __name__ == "__main__":
    main()
