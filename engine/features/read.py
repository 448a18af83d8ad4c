"""Read what the features need from the store, or from Parquet files, as polars frames, one USCC range at a time.

The reading half of the feature stage (engine/features/partition.py computes): for a range of subjects, the rows of
every table in `partition.INPUTS`, only the columns named there, typed as named there. Read without an as-of, the
frames serve any as-of; with one, the store leaves out the rows no feature reads then (partition.read_windows).

Dates travel as their ISO text and flags as integers and are parsed by polars: SQLAlchemy's per-value date
processing was most of the feature time at city scale. Rows are fetched in chunks (on PostgreSQL through a
server-side cursor), so a partition's rows are never all held as Python tuples at once. A process whose only
connection to a SQLite store is ADBC's (a grade run's feature worker) reads the same frames straight into Arrow
instead (`read_partition_arrow`, engine/features/arrow_read.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from engine.features.arrow_read import ArrowSource
from engine.features.partition import INPUTS, OWNER, frame_holds_reports, read_windows, report_year
from entities import store
from entities.errors import InputError

_CHUNK = 50_000  # rows per fetch
_WIRE = {pl.Date: pl.Utf8, pl.Boolean: pl.Int64}  # how a column travels from the store


def _wire_column(col: sa.ColumnElement[Any], dtype: Any) -> sa.ColumnElement[Any]:
    if dtype == pl.Date:
        return sa.cast(col, sa.String)
    if dtype == pl.Boolean:
        return sa.cast(col, sa.Integer)
    if dtype == pl.Utf8 and isinstance(col.type, sa.JSON):
        return sa.cast(col, sa.Text)  # the codes' JSON text, as stored
    return col


def _from_wire(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    exprs = []
    for column, dtype in INPUTS[name].items():
        if dtype == pl.Date:
            exprs.append(pl.col(column).str.slice(0, 10).str.to_date("%Y-%m-%d"))
        elif dtype == pl.Boolean:
            exprs.append(pl.col(column) != 0)
        else:
            exprs.append(pl.col(column))
    return frame.select(exprs)


def _statement(name: str, lo: str | None, hi: str | None, as_of: dt.date | None = None) -> sa.Select[Any]:
    columns = INPUTS[name]
    if name == "accident":
        # Accidents are the user unit's through their equipment: those of units used by the range's subjects.
        a, e = store.table("accident"), store.table("equipment")
        t = a
        stmt = sa.select(*(_wire_column(a.c[c], d) for c, d in columns.items())).select_from(
            a.join(e, a.c.reg_code == e.c.reg_code)
        )
        owner = e.c.user_uscc
    else:
        t = store.table(name)
        stmt = sa.select(*(_wire_column(t.c[c], d) for c, d in columns.items()))
        owner = t.c[OWNER[name] or "uscc"]
    if lo is not None and hi is not None:
        stmt = stmt.where(owner >= lo, owner <= hi)
    if as_of is not None:
        # Rows no feature reads as of as_of stay in the store (the partition function would drop them anyway).
        window = read_windows(as_of).get(name)
        if window is not None:
            column, after, until = window
            stmt = stmt.where(t.c[column] <= until)
            if after is not None:
                stmt = stmt.where(t.c[column] > after)
        if name == "annual_report":
            stmt = stmt.where(t.c.year == report_year(as_of))
    return stmt


def _frame(conn: Connection, stmt: sa.Select[Any], schema: dict[str, Any], name: str) -> pl.DataFrame:
    """The rows of `stmt` as a frame of `schema`, straight through the driver's cursor: SQLAlchemy's result rows
    doubled the read time, and these columns need none of its type processing."""
    compiled = stmt.compile(dialect=conn.dialect)
    params: Any = compiled.params
    if compiled.positiontup is not None:
        params = tuple(compiled.params[p] for p in compiled.positiontup)
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    server_side = conn.dialect.name == "postgresql"
    # PostgreSQL: a named (server-side) cursor, so the server sends the rows in chunks too.
    cursor: Any = dbapi.cursor(name=f"features_{name}") if server_side else dbapi.cursor()
    chunks = []
    try:
        cursor.execute(compiled.string, params)
        # In chunks, so a partition's rows are never all held as Python tuples at once.
        while rows := cursor.fetchmany(_CHUNK):
            chunks.append(pl.DataFrame(rows, schema=schema, orient="row"))
    finally:
        cursor.close()
    return pl.concat(chunks, how="vertical") if chunks else pl.DataFrame(schema=schema)


def _fetch(conn: Connection, stmt: sa.Select[Any], name: str) -> pl.DataFrame:
    wire = {c: _WIRE.get(d, d) for c, d in INPUTS[name].items()}
    return _from_wire(_frame(conn, stmt, wire, name), name)  # dates and flags are parsed there


def _regions_statement(lo: str, hi: str) -> sa.Select[Any]:
    t = store.table("subject")
    return sa.select(t.c.uscc, t.c.region).where(t.c.uscc >= lo, t.c.uscc <= hi).order_by(t.c.uscc)


_REGIONS = {"uscc": pl.String, "region": pl.String}


def regions(conn: Connection, lo: str, hi: str) -> pl.DataFrame:
    """uscc and region of the subjects with lo <= USCC <= hi, in USCC order (a grade run's snapshot keeps them)."""
    return _frame(conn, _regions_statement(lo, hi), dict(_REGIONS), "regions")


def read_partition(
    conn: Connection, lo: str | None = None, hi: str | None = None, *, as_of: dt.date | None = None
) -> dict[str, pl.DataFrame]:
    """Every table the features read, for the subjects with lo <= USCC <= hi (all subjects without a range).

    With `as_of`, rows that no feature reads as of that date are left out (partition.read_windows): the same
    features, less to read. Without it, every row (a read that serves any as-of).
    """
    return {name: _fetch(conn, _statement(name, lo, hi, as_of), name) for name in INPUTS}


def read_partition_arrow(
    source: ArrowSource, lo: str | None = None, hi: str | None = None, *, as_of: dt.date | None = None
) -> dict[str, pl.DataFrame] | None:
    """`read_partition`'s frames read through ADBC (a SQLite store), or None if a table could not be read that way
    (then close the source and read them with `read_partition`)."""
    read = _read_arrow(source, lo, hi, as_of, regions=False)
    return None if read is None else read[0]


def read_partition_regions_arrow(
    source: ArrowSource, lo: str, hi: str, *, as_of: dt.date | None = None
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame] | None:
    """`read_partition_arrow`'s frames and the uscc and region of their subjects (as `regions` reads them, less
    the subjects registered after `as_of`, who have no features), or None (as read_partition_arrow).

    The regions are read with the subject rows, in one statement: a subject table stored in load order holds a
    USCC range's rows on most of its pages, and a second statement over the range read those pages again (at
    guangzhou about a third of a partition's subject reading, once per partition)."""
    return _read_arrow(source, lo, hi, as_of, regions=True)


def _read_arrow(
    source: ArrowSource, lo: str | None, hi: str | None, as_of: dt.date | None, *, regions: bool
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame] | None:
    frames = {}
    found = pl.DataFrame(schema=_REGIONS)
    for name in INPUTS:
        with_regions = regions and name == "subject"
        sql, params, wire = arrow_query(name, lo, hi, as_of, regions=with_regions)
        frame = source.frame(sql, params, wire)
        if frame is None:
            return None
        if with_regions:
            found = frame.select(list(_REGIONS))
        frames[name] = _from_wire(frame, name)
    return frames, found


def arrow_query(
    name: str, lo: str | None, hi: str | None, as_of: dt.date | None, *, regions: bool = False
) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """The SQLite statement a worker reads table `name` with (and the subjects' regions, with `regions`): its SQL,
    its parameters and the columns it returns as they travel. The store's indexes hold every column these read for
    the big tables (migration 0012), so a USCC range is read from one run of index pages (tests check the plan)."""
    stmt = _statement(name, lo, hi, as_of)
    wire = {c: _WIRE.get(d, d) for c, d in INPUTS[name].items()}
    if regions:
        stmt = stmt.add_columns(store.table("subject").c.region)
        wire["region"] = _REGIONS["region"]
    compiled = stmt.compile(dialect=_SQLITE)
    return compiled.string, tuple(compiled.params[p] for p in compiled.positiontup or ()), wire


_SQLITE = sqlite.dialect()


def holds_reports(conn: Connection, as_of: dt.date) -> bool:
    """Whether the store holds any annual report of the year due by as_of (no data is not the same as not filed)."""
    t = store.table("annual_report")
    return conn.execute(sa.select(t.c.uscc).where(t.c.year == report_year(as_of)).limit(1)).first() is not None


# ── Parquet: one file per table, as a data platform exports them ──────────────────────────────────────────
def write_parquet(conn: Connection, folder: Path) -> dict[str, Path]:
    """Write every table the features read to folder/<table>.parquet (the columns the features need, typed)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in INPUTS:
        stmt = _statement(name, None, None) if name != "accident" else _all_accidents()
        paths[name] = folder / f"{name}.parquet"
        _fetch(conn, stmt, name).write_parquet(paths[name])
    return paths


def _all_accidents() -> sa.Select[Any]:
    t = store.table("accident")
    return sa.select(*(_wire_column(t.c[c], d) for c, d in INPUTS["accident"].items()))


def check_parquet_folder(folder: Path) -> None:
    """Raise InputError naming the table files a folder of Parquet tables lacks."""
    missing = [f"{name}.parquet" for name in INPUTS if not (folder / f"{name}.parquet").is_file()]
    if missing:
        raise InputError(
            f"{folder}: no {', '.join(missing)}; the folder must hold one Parquet file per table "
            f"({', '.join(INPUTS)}), as write_parquet writes them"
        )


def _scan(folder: Path, name: str) -> pl.LazyFrame:
    return pl.scan_parquet(folder / f"{name}.parquet").select(list(INPUTS[name]))


def read_parquet_partition(folder: Path, lo: str, hi: str) -> dict[str, pl.DataFrame]:
    """The tables for lo <= USCC <= hi from a folder of <table>.parquet files (row groups outside are skipped)."""
    frames = {}
    for name in INPUTS:
        if name == "accident":
            continue
        owner = pl.col(OWNER[name] or "uscc")
        frames[name] = _scan(folder, name).filter((owner >= lo) & (owner <= hi)).collect()
    units = frames["equipment"].select("reg_code")
    frames["accident"] = _scan(folder, "accident").join(units.lazy(), on="reg_code", how="semi").collect()
    return frames


def parquet_ranges(folder: Path, partition_size: int) -> Iterator[tuple[str, str]]:
    """USCC ranges of at most partition_size subjects each, from folder/subject.parquet."""
    keys = _scan(folder, "subject").select("uscc").sort("uscc").collect().get_column("uscc")
    for i in range(0, keys.len(), partition_size):
        yield keys[i], keys[min(i + partition_size, keys.len()) - 1]


def parquet_holds_reports(folder: Path, as_of: dt.date) -> bool:
    return frame_holds_reports(_scan(folder, "annual_report").select("year").collect(), as_of)
