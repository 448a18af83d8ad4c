"""Load a synthetic district into the store in one transaction, replacing an earlier demo but never real data.

A store "holds imported data" when the demo's tables hold rows and import_log has a run of another kind than
'demo' after the last demo load (or no demo load at all, so the rows came from elsewhere). Such a store is only
overwritten when the caller says so (`replace=True`); tables the demo does not write (regions, check items) are
never touched. Either way the write is one transaction: if anything
fails, the store keeps what it had.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from engine.synth.generator import BATCH_SIZE, TABLES, Generator
from engine.synth.profiles import Profile
from entities import store
from entities.errors import DemoRefused

GENERATOR_VERSION = "1"
DEMO_KIND = "demo"

# on_progress(table, rows_written_now, expected_total_for_table); the total is an estimate that never falls below
# the rows written so far, and a last call per table gives the exact total
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DemoParameters:
    """What identifies a demo district: the same parameters always give the same rows."""

    profile: str
    subjects: int
    seed: int
    as_of: dt.date

    @property
    def file_name(self) -> str:
        return f"demo:{self.profile}:subjects={self.subjects}:seed={self.seed}:as_of={self.as_of.isoformat()}"

    @property
    def sha256(self) -> str:
        doc = {
            "profile": self.profile,
            "subjects": self.subjects,
            "seed": self.seed,
            "as_of": self.as_of.isoformat(),
            "generator": GENERATOR_VERSION,
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


@dataclass
class LoadResult:
    parameters: DemoParameters
    rows: dict[str, int] = field(default_factory=dict)
    replaced: int = 0  # rows of an earlier demo (or, with replace, of imported data) that were removed
    generate_seconds: float = 0.0
    write_seconds: float = 0.0
    index_seconds: float = 0.0  # PostgreSQL: building the indexes after the rows were written, and analysing

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def parameters(profile: Profile, seed: int, as_of: dt.date) -> DemoParameters:
    return DemoParameters(profile.scaled_from or profile.name, profile.total_subjects, int(seed), as_of)


def load_demo(
    engine: Engine,
    profile: Profile,
    seed: int,
    as_of: dt.date,
    *,
    now: dt.datetime,
    replace: bool = False,
    on_progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
    build_indexes_after: bool = True,
) -> LoadResult:
    """Generate the district and write it to an initialised store in one transaction; record it in import_log.

    `now` is only the import_log timestamp (when the load ran); nothing generated depends on it. On PostgreSQL
    the tables' indexes are built after the rows are written (`build_indexes_after`; False keeps them during the
    load, the path before, which bench/generate.py measures next to it).
    """
    params = parameters(profile, seed, as_of)
    result = LoadResult(params, rows=dict.fromkeys(TABLES, 0))
    generator = Generator(profile, seed, as_of, batch_size=batch_size)
    expected = generator.expected_rows()
    with engine.begin() as conn:
        result.replaced = _clear(conn, engine, replace)
        indexes = store.indexes_built_after(conn, TABLES) if build_indexes_after else contextlib.nullcontext()
        with indexes:
            _write_batches(conn, generator.batches(), result, expected, on_progress)
            finished = time.perf_counter()
        result.index_seconds = time.perf_counter() - finished
        if on_progress:
            for table, written in result.rows.items():
                if written:
                    on_progress(table, 0, written)  # now exact: each table's bar ends at 100 %
        store.bulk_insert(
            conn,
            "import_log",
            [
                {
                    "kind": DEMO_KIND,
                    "file_name": params.file_name,
                    "sha256": params.sha256,
                    "rows": result.total_rows,
                    "inserted": result.total_rows,
                    "updated": 0,
                    "unchanged": 0,
                    "imported_at": now,
                }
            ],
        )
    return result


def _write_batches(
    conn: Connection,
    batches: Iterator[dict[str, list[dict[str, Any]]]],
    result: LoadResult,
    expected: dict[str, int],
    on_progress: Progress | None,
) -> None:
    """Write every generated batch, timing generation and writing apart."""
    while True:
        started = time.perf_counter()
        batch = next(batches, None)
        result.generate_seconds += time.perf_counter() - started
        if batch is None:
            return
        started = time.perf_counter()
        for table in TABLES:
            rows = batch.get(table)
            if not rows:
                continue
            store.bulk_insert(conn, table, rows)
            result.rows[table] += len(rows)
            if on_progress:
                # The expected counts are estimates: never report a total below the rows already written.
                on_progress(table, len(rows), max(expected.get(table, 0), result.rows[table]))
        result.write_seconds += time.perf_counter() - started


def _clear(conn: Connection, engine: Engine, replace: bool) -> int:
    """Empty the demo's tables, after checking that they hold nothing but an earlier demo (unless `replace`)."""
    log = store.table("import_log")
    last_demo = conn.execute(sa.select(sa.func.max(log.c.id)).where(log.c.kind == DEMO_KIND)).scalar()
    later = sa.select(log.c.kind, log.c.file_name).where(log.c.kind != DEMO_KIND).order_by(log.c.id)
    if last_demo is not None:
        later = later.where(log.c.id > last_demo)
    imports = conn.execute(later).all()
    counts = {name: store.count_rows(conn, name) for name in TABLES}
    held = sum(counts.values())
    if not held:
        return 0  # nothing to lose (e.g. only check items were imported: the demo leaves them alone)
    if not replace and (imports or last_demo is None):
        url = engine.url.render_as_string(hide_password=True)
        last = f"{imports[-1].kind} {imports[-1].file_name}" if imports else None
        raise DemoRefused(url, len(imports), last)
    # Grades and plans stay: they are ledger entries with their own input snapshots, replayable after the
    # subjects they describe are gone (the ledger is append-only, a demo reload included).
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{name}"' for name in TABLES)))
    else:
        for name in TABLES:
            conn.execute(store.table(name).delete())
    return held
