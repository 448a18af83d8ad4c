"""The one place that opens the store: engines, sessions, schema migrations and the bulk write paths.

SQLite (a file, the embedded default) and PostgreSQL (production) run the same code; the URL decides.
Schema changes are alembic migrations under entities/migrations, applied by `suijian init`.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, SQLModel

from entities import access, models  # noqa: F401  (registers every table on SQLModel.metadata)
from entities.errors import StoreError

DEFAULT_URL = "sqlite:///suijian.db"
MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0012"


def resolve_url(url: str | None) -> str:
    """--db URL, else $SUIJIAN_DB, else the SQLite file suijian.db in the working directory."""
    url = url or os.environ.get("SUIJIAN_DB") or DEFAULT_URL
    if url.startswith("postgresql://"):
        # The psycopg 3 driver is the one we ship; plain postgresql:// would ask for psycopg2.
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


SUPPORTED_URLS = "sqlite:///FILE or postgresql://USER@HOST/DB"


def _unsupported(url: str) -> StoreError:
    shown = sa.engine.make_url(url).render_as_string(hide_password=True) if "://" in url else url
    return StoreError(f"cannot use --db {shown}: suijian stores data in SQLite or PostgreSQL; give {SUPPORTED_URLS}")


def make_engine(url: str | None = None) -> Engine:
    url = resolve_url(url)
    try:
        driver = sa.engine.make_url(url).drivername
    except sa.exc.ArgumentError:
        raise _unsupported(url) from None
    # Only the drivers suijian installs: any other (mysql://, postgresql+psycopg2://) would fail on a missing
    # module, or half-work on SQL this store never runs on.
    if driver not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        raise _unsupported(url)
    # psycopg prepares a statement after 5 runs and PostgreSQL may then pin a plan made while a table was
    # still empty inside a bulk transaction (seen: 100k-row imports 2-6x slower); never prepare.
    connect_args = {"prepare_threshold": None} if url.startswith("postgresql+psycopg") else {}
    try:
        engine = sa.create_engine(url, future=True, connect_args=connect_args)
    except (sa.exc.ArgumentError, ImportError):
        raise _unsupported(url) from None
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL + NORMAL: readers do not block the writer; one transaction still commits atomically.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _alembic_config(conn: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def schema_version(engine: Engine) -> str | None:
    """The alembic revision the store is at, or None for an empty database."""
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.OperationalError as exc:
        raise StoreError(f"cannot open the store {engine.url.render_as_string()}: {exc.orig}") from None


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Create or upgrade the schema; returns (before, after) revisions."""
    from alembic import command

    before = schema_version(engine)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), revision)
    return before, schema_version(engine) or ""


def open_store(url: str | None = None) -> Engine:
    """Open an initialised store at the current schema, or say exactly what to run."""
    engine = make_engine(url)
    try:
        _check_current(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _check_current(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        if path and path != ":memory:" and not Path(path).exists():
            raise StoreError(f"no store at {path}; create it with `suijian init` (or pass --db URL)")
    version = schema_version(engine)
    if version is None:
        raise StoreError(f"the store {engine.url.render_as_string()} is empty; run `suijian init` first")
    if version != HEAD:
        raise StoreError(
            f"the store is at schema {version}, this suijian needs {HEAD}; run `suijian init` to upgrade it"
        )


@contextmanager
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as s:
        yield s


def table(name: str) -> sa.Table:
    return SQLModel.metadata.tables[name]


def count_rows(conn: Connection, name: str) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table(name))).scalar_one())


def bulk_insert(conn: Connection, name: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows in one statement round (executemany / COPY), no ORM objects."""
    if not rows:
        return
    tbl = table(name)
    if conn.dialect.name == "postgresql":
        _copy_rows(conn, tbl, rows)
    else:
        conn.execute(tbl.insert(), list(rows))


def _copy_rows(conn: Connection, tbl: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    cols = [c.name for c in tbl.columns if c.name in rows[0]]
    json_cols = {c.name for c in tbl.columns if isinstance(c.type, sa.JSON)}
    _copy(
        conn,
        tbl,
        cols,
        ([json.dumps(row[c], ensure_ascii=False) if c in json_cols else row[c] for c in cols] for row in rows),
    )


def _copy(conn: Connection, tbl: sa.Table | str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """PostgreSQL COPY FROM STDIN on the connection's own transaction (so a failure rolls everything back)."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    count = 0
    name = f'"{tbl.name}"' if isinstance(tbl, sa.Table) else tbl
    with raw.cursor() as cur, cur.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


# Secondary indexes and primary keys of the given tables (in the connection's schema) that no foreign key needs:
# (drop statement, create statement), in the order they are dropped.
_BULK_INDEXES = sa.text(
    """
    SELECT format('DROP INDEX %I.%I', i.schemaname, i.indexname), i.indexdef
    FROM pg_indexes i
    WHERE i.schemaname = current_schema() AND i.tablename = ANY(:tables)
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                      WHERE c.conname = i.indexname AND c.connamespace = i.schemaname::regnamespace)
    UNION ALL
    SELECT format('ALTER TABLE %I DROP CONSTRAINT %I', t.relname, c.conname),
           format('ALTER TABLE %I ADD CONSTRAINT %I %s', t.relname, c.conname, pg_get_constraintdef(c.oid))
    FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
    WHERE c.contype = 'p' AND c.connamespace = current_schema()::regnamespace AND t.relname = ANY(:tables)
      AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.confrelid = c.conrelid)
    """
)


@contextmanager
def indexes_built_after(conn: Connection, tables: Sequence[str]) -> Iterator[None]:
    """Bulk-load empty tables without their indexes, then build each index once (PostgreSQL; a no-op on SQLite).

    Inserting millions of rows in random key order into a B-tree touches a random page per row: with the server's
    default 128 MB of shared buffers a 10-million-subject load spent most of its write time there. Building the
    index after the load sorts the keys once. Primary keys are rebuilt too, so duplicates still fail the load
    (at its end instead of at the row). All inside the caller's transaction: a failed load keeps every index.
    The tables are analysed at the end, so the first queries after the load are planned on real statistics.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    statements = conn.execute(_BULK_INDEXES, {"tables": list(tables)}).all()
    for drop, _ in statements:
        conn.exec_driver_sql(drop)
    yield
    # Sort in memory where the server can (a session setting, for this transaction only).
    conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
    for _, create in reversed(statements):
        conn.exec_driver_sql(create)
    conn.exec_driver_sql("ANALYZE " + ", ".join(f'"{name}"' for name in tables))


def copy_into_temporary(conn: Connection, name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY tuples into a temporary table of this PostgreSQL session (pg_temp.name), which the models do not know."""
    return _copy(conn, f'pg_temp."{name}"', columns, rows)


def upsert(conn: Connection, name: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, replacing any existing row with the same natural key."""
    if not rows:
        return
    tbl = table(name)
    keys = [c.name for c in tbl.primary_key.columns]
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    stmt = dialect_insert(tbl)
    updates = {c.name: stmt.excluded[c.name] for c in tbl.columns if c.name not in keys}
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_=updates) if updates else stmt.on_conflict_do_nothing()
    conn.execute(stmt, list(rows))


def fetch_by_keys(
    conn: Connection, name: str, keys: Iterable[tuple[Any, ...]], chunk: int = 500
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Existing rows whose natural key is among `keys`, batched so huge imports stay set-based."""
    tbl = table(name)
    pk = list(tbl.primary_key.columns)
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    key_list = list(keys)
    for start in range(0, len(key_list), chunk):
        part = key_list[start : start + chunk]
        cond = sa.tuple_(*pk).in_(part) if len(pk) > 1 else pk[0].in_([k[0] for k in part])
        for row in conn.execute(sa.select(tbl).where(cond)).mappings():
            found[tuple(row[c.name] for c in pk)] = dict(row)
    return found


def existing_values(conn: Connection, name: str, column: str, values: Iterable[Any], chunk: int = 900) -> set[Any]:
    """Which of `values` occur in table.column (for reference checks), batched."""
    col = table(name).c[column]
    vals = list(set(values))
    present: set[Any] = set()
    for start in range(0, len(vals), chunk):
        present.update(conn.execute(sa.select(col).where(col.in_(vals[start : start + chunk]))).scalars())
    return present


BUILTIN_REGIONS = Path(__file__).parent / "data" / "regions.csv"


def builtin_regions() -> list[dict[str, Any]]:
    """The region table shipped with suijian (Guangdong counties of the demo profiles and their 街镇)."""
    with BUILTIN_REGIONS.open(encoding="utf-8") as f:
        lines = [line for line in f if not line.startswith("#")]
    return [
        {"code": r["code"], "name": r["name"], "parent": r["parent"] or None, "level": r["level"]}
        for r in csv.DictReader(lines)
    ]


def initialise(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema and make sure the built-in regions are present (idempotent)."""
    before, after = upgrade(engine)
    with engine.begin() as conn:
        upsert(conn, "region", builtin_regions())
    return before, after


def bulk_insert_tuples(conn: Connection, name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert plain tuples (the fastest path for millions of narrow rows): executemany on SQLite, COPY on PostgreSQL."""
    tbl = table(name)
    count = 0
    if conn.dialect.name == "postgresql":
        return _copy(conn, tbl, columns, rows)
    marks = ", ".join("?" for _ in columns)
    sql = f'INSERT INTO "{tbl.name}" ({", ".join(columns)}) VALUES ({marks})'
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= 50_000:
            conn.exec_driver_sql(sql, batch)
            count += len(batch)
            batch = []
    if batch:
        conn.exec_driver_sql(sql, batch)
        count += len(batch)
    return count


def insert_frame(conn: Connection, name: str, frame: Any, constants: dict[str, Any] | None = None) -> int:
    """Insert the rows of a polars frame (string and integer columns), each with the same `constants`.

    SQLite: one INSERT … SELECT over json_each of the frame written as JSON by polars, so the rows never become
    Python objects; binding 3.3 M tuples one value at a time cost about half the insert's CPU. The statement runs
    in SQLite without Python's GIL, so a caller may run it in a thread beside other work (engine/grading.py).
    PostgreSQL: COPY of the rows as tuples (bulk_insert_tuples)."""
    import polars as pl

    constants = constants or {}
    names = list(frame.columns)
    if not frame.height:
        return 0
    for column, dtype in frame.schema.items():
        if not column.isidentifier():  # it goes into the statement's JSON paths
            raise ValueError(f"insert_frame: column name {column!r} is not an identifier")
        if not (dtype == pl.String or dtype.is_integer()):
            raise TypeError(f"insert_frame writes string and integer columns, not {column}: {dtype}")
    if conn.dialect.name == "postgresql":
        fixed = tuple(constants.values())
        return bulk_insert_tuples(conn, name, [*constants, *names], (fixed + row for row in frame.iter_rows()))
    tbl = table(name)
    marks = ", ".join("?" for _ in constants)
    # json_each yields one object per row; ->> gives a JSON string as TEXT and a JSON integer as INTEGER, the
    # values the tuples bound as parameters would store.
    picks = ", ".join(f"value ->> '$.{column}'" for column in names)
    sql = (
        f'INSERT INTO "{tbl.name}" ({", ".join([*constants, *names])}) '
        f"SELECT {marks}{', ' if marks else ''}{picks} FROM json_each(?)"
    )
    conn.exec_driver_sql(sql, (*constants.values(), frame.write_json()))
    return frame.height
