"""Read a query's rows from a SQLite file straight into Arrow (ADBC's SQLite driver), in a process that reads the
file through that driver alone.

The tuple path (engine/features/read.py) turns every value into a Python object and back: at city scale (11.4 M
rows for the features) that conversion was most of the read. ADBC's SQLite driver builds the Arrow columns in C.

It carries its own copy of the SQLite library. Two copies in one process must never open the same file: POSIX
locks belong to the process, so closing one copy's descriptor drops the other copy's locks, and a copy that then
believes it holds the last connection checkpoints the WAL and truncates the shared-memory file under the other
(seen: a grade's parent killed by SIGBUS; SQLite's "How To Corrupt" §2.2.1). So an `ArrowSource` is opened only in
a process that has no other connection to the file — a grade run's worker processes, each keeping its one
connection for its lifetime — never in a process holding a SQLAlchemy connection to it. Where the driver is not
installed, the store is not a SQLite file, or a column's values do not have the type the frame needs, the caller
reads its tuples as before (after closing the source): both ways give the same frames.

`SUIJIAN_ARROW_READ=0` turns it off (the benchmarks measure both ways in one run).
"""

from __future__ import annotations

import atexit
import datetime as dt
import io
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl
import sqlalchemy as sa

# The driver infers a column's type from the first batch and refuses a later value of another type, so a column
# null in the first rows of a partition would fail: one batch for the whole result types every column on all of it.
_ONE_BATCH = {"adbc.sqlite.query.batch_rows": str(1_000_000_000)}  # (it refuses 2**31 - 1)


def enabled() -> bool:
    return os.environ.get("SUIJIAN_ARROW_READ", "1") != "0"


def _driver() -> Any:
    try:
        import adbc_driver_sqlite.dbapi as driver
    except ImportError:  # an optional speed-up: without it the tuple path reads the same frames
        return None
    return driver


def available() -> bool:
    """Whether ADBC's SQLite driver is installed."""
    return _driver() is not None


def database_file(url: str) -> str | None:
    """The SQLite file of a store URL that an ArrowSource can read, or None (not SQLite, in memory, turned off)."""
    if not enabled():
        return None
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return None
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:" or path.startswith("file:"):
        return None
    if parsed.query or not os.path.isfile(path):
        return None
    return path


def _param(value: Any) -> Any:
    # As SQLAlchemy stores them in SQLite (the tuple path's driver adapts dates the same way).
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _typed(frame: pl.DataFrame, schema: dict[str, Any]) -> pl.DataFrame | None:
    """`frame` as `schema`, or None when a column holds values of another type than the frame needs (an all-null
    column is typed by the driver as it pleases, and an integer column may feed a float one, as on the tuple path)."""
    exprs = []
    for name, want in schema.items():
        have = frame.schema[name]
        if have == want:
            exprs.append(pl.col(name))
        elif frame.get_column(name).null_count() == frame.height or (want == pl.Float64 and have.is_integer()):
            exprs.append(pl.col(name).cast(want))
        else:
            return None
    return frame.select(exprs)


class ArrowSource:
    """A read-only ADBC connection to a SQLite file: the only connection to it in its process (see above)."""

    def __init__(self, path: str) -> None:
        driver = _driver()
        if driver is None:
            raise RuntimeError("adbc-driver-sqlite is not installed")
        self._driver = driver
        self._conn: Any = driver.connect(f"file:{quote(path)}?mode=ro", autocommit=True)

    def frame(self, sql: str, params: Sequence[Any], schema: dict[str, Any]) -> pl.DataFrame | None:
        """The rows of `sql` (qmark parameters) as a frame of `schema`, or None: read them another way."""
        try:
            with self._conn.cursor() as cursor:
                cursor.adbc_statement.set_options(**_ONE_BATCH)
                cursor.execute(sql, tuple(_param(p) for p in params))
                table = cursor.fetch_arrow_table()
        except self._driver.Error:
            return None  # the tuple path reads it (and names the problem if there is one)
        if len(table.column_names) != len(schema):
            return None
        read = pl.from_arrow(table.rename_columns(list(schema)))  # the driver names them as the SQL spells them
        assert isinstance(read, pl.DataFrame)
        return _typed(read, schema)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


_SOURCES: dict[str, ArrowSource | None] = {}  # per store URL, in a worker process: its one connection, or None


def process_source(url: str) -> ArrowSource | None:
    """This process's ArrowSource for `url`, opened once and kept (closed at exit), or None where there is none.
    Only for processes that open no other connection to the store (feature workers)."""
    if url not in _SOURCES:
        path = database_file(url)
        source = None
        if path is not None and available():
            try:
                source = ArrowSource(path)
            except Exception:  # noqa: BLE001 - any failure to open: read tuples instead
                source = None
            else:
                atexit.register(source.close)
        _SOURCES[url] = source
    return _SOURCES[url]


def give_up(url: str) -> None:
    """Close this process's ArrowSource for `url` for good (before the process opens another connection to it)."""
    source = _SOURCES.get(url)
    if source is not None:
        source.close()
    _SOURCES[url] = None


# ── A read in a child process (a process that has its own SQLAlchemy connection to the store) ─────────────────
_DTYPES = {"String": pl.String, "Int64": pl.Int64, "Float64": pl.Float64}


def read_in_child(url: str, sql: str, params: Sequence[Any], schema: dict[str, Any]) -> pl.DataFrame | None:
    """The rows of `sql` read through ADBC in a child process (whose only connection to the file is ADBC's) and
    sent back as Arrow IPC, or None (then read them another way). For a caller that holds a SQLAlchemy connection
    to the store and reads millions of rows (`audit verify`'s grade results): starting the child costs about a
    second; the tuples of 3.3 M rows cost ten."""
    path = database_file(url)
    if path is None or not available() or any(str(d) not in _DTYPES for d in schema.values()):
        return None
    request = {
        "path": path,
        "sql": sql,
        "params": [_param(p) for p in params],
        "schema": {c: str(d) for c, d in schema.items()},
    }
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "engine.features.arrow_read"],
        input=json.dumps(request).encode(),
        capture_output=True,
        env=env,
        check=False,
    )
    if done.returncode != 0 or not done.stdout:
        return None
    try:
        frame = pl.read_ipc(io.BytesIO(done.stdout))
    except (pl.exceptions.PolarsError, OSError):
        return None
    return frame if frame.schema == pl.Schema(schema) else None


def _child() -> int:
    request = json.loads(sys.stdin.buffer.read())
    schema = {c: _DTYPES[d] for c, d in request["schema"].items()}
    source = ArrowSource(request["path"])
    try:
        frame = source.frame(request["sql"], request["params"], schema)
    finally:
        source.close()
    if frame is None:
        return 1
    frame.write_ipc(sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    raise SystemExit(_child())
