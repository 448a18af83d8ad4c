"""Read a query's rows from a SQLite file straight into Arrow (ADBC's SQLite driver), when that is safe.

The tuple path (engine/features/read.py) turns every value into a Python object and back: at city scale (11.4 M
rows for the features) that conversion was most of the read. ADBC's SQLite driver builds the Arrow columns in C.
It is a second connection to the same file, so it is used only where it sees what the caller's connection sees:
a SQLite database in a file, read by a connection that has written nothing it has not committed (a grade run's
worker processes, `audit verify`; the parent of a grade run, which holds the ledger's write lock, only where it
asks for the committed rows). Anything else — the driver not installed, an in-memory database, a column whose
values do not have the type the frame needs — returns None and the caller reads its tuples as before: both ways
give the same frame.

`SUIJIAN_ARROW_READ=0` turns it off (the benchmarks measure both ways in one run).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import polars as pl
from sqlalchemy.engine import Connection

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


def database_file(conn: Connection, *, unwritten: bool = False) -> str | None:
    """The SQLite file a second connection may read for `conn`, or None where it would not see the same rows.

    `unwritten`: the caller wants the committed rows even though its connection has written (a grade run whose
    features come from worker processes, reading the subjects' regions while it holds the ledger's write lock: no
    other writer can commit meanwhile, and it writes no subject)."""
    if conn.dialect.name != "sqlite" or not enabled():
        return None
    url = conn.engine.url
    path = url.database
    if not path or path == ":memory:" or path.startswith("file:") or url.query:
        return None
    dbapi = conn.connection.dbapi_connection
    # pysqlite opens a transaction at the first write only: none open means nothing uncommitted to miss.
    if dbapi is None or (getattr(dbapi, "in_transaction", True) and not unwritten):
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


def frame(
    conn: Connection, sql: str, params: Sequence[Any], schema: dict[str, Any], *, unwritten: bool = False
) -> pl.DataFrame | None:
    """The rows of `sql` (qmark parameters) as a frame of `schema` read through ADBC, or None: read them otherwise."""
    path = database_file(conn, unwritten=unwritten)
    driver = _driver() if path is not None else None
    if driver is None:
        return None
    try:
        with driver.connect(f"file:{quote(path)}?mode=ro", autocommit=True) as adbc, adbc.cursor() as cursor:
            cursor.adbc_statement.set_options(**_ONE_BATCH)
            cursor.execute(sql, tuple(_param(p) for p in params))
            table = cursor.fetch_arrow_table()
    except driver.Error:
        return None  # the tuple path reads it (and names the problem if there is one)
    if len(table.column_names) != len(schema):
        return None
    read = pl.from_arrow(table.rename_columns(list(schema)))  # the driver names them as the SQL spells them
    assert isinstance(read, pl.DataFrame)
    return _typed(read, schema)


def select(conn: Connection, stmt: Any, schema: dict[str, Any]) -> pl.DataFrame | None:
    """`frame` of a SQLAlchemy select (its columns in `schema`'s order), or None: read it otherwise."""
    if database_file(conn) is None:
        return None
    compiled = stmt.compile(dialect=conn.dialect)
    params = tuple(compiled.params[p] for p in compiled.positiontup or ())
    return frame(conn, compiled.string, params, schema)
