"""Read stored runs: grade runs and their outcomes, plans and their documents, and the subject facts they are
shown with. The one place that queries the run tables; callers get frames, typed rows or documents, never SQL.

    run = runs.newest_full_grade_run(conn, as_of)       # a grade run of every subject, newest first
    results = runs.grade_results(conn, run["id"])       # uscc, outcome
    parts = runs.grade_outcomes(conn, run["id"])        # outcome id -> outputs, fired, errors
    doc = runs.plan_document(conn, "P2026-…")           # the plan's JSON, unzipped once and checked

Writers stay with the code that records a run (engine.grading, engine.planning, engine.ledger.record).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, cast

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.ledger import canonical, chain, plan_columns, snapshot
from entities import codes, store

_IN_CHUNK = 900  # values per IN (…): SQLite's old limit on bound parameters is 999

SUBJECT_INFO = ("uscc", "region", "name", "address")
"""What a plan or report shows of a subject besides its features."""


class GradeRunRow(TypedDict):
    """A grade run as the grade_run table holds it."""

    id: str
    as_of: dt.date
    pack_name: str
    pack_version: str
    pack_hash: str
    engine_version: str
    subjects: int
    outcomes: int
    created_at: dt.datetime


class OutcomeParts(TypedDict):
    """One distinct outcome of a grade run: every decision's outputs, the rules that fired, and errors."""

    outputs: dict[str, Any]
    fired: list[str]
    errors: list[str]


# ── grade runs ───────────────────────────────────────────────────────────────────────────────────────────────


def grade_run(conn: Connection, run_id: str) -> GradeRunRow | None:
    """The grade run `run_id`, or None if the store has no such run."""
    t = store.table("grade_run")
    row = conn.execute(sa.select(t).where(t.c.id == run_id)).mappings().first()
    return None if row is None else cast(GradeRunRow, dict(row))


def grade_runs_as_of(conn: Connection, as_of: dt.date) -> list[GradeRunRow]:
    """Every grade run as of `as_of`, newest first."""
    t = store.table("grade_run")
    stmt = sa.select(t).where(t.c.as_of == as_of).order_by(t.c.created_at.desc(), t.c.id.desc())
    return [cast(GradeRunRow, dict(m)) for m in conn.execute(stmt).mappings()]


def selection(conn: Connection, run_id: str) -> list[str] | None:
    """The subjects a grade run was limited to (`suijian grade --subject`, from its ledger entry); None for a run
    of every subject."""
    entry = chain.find(conn, run_id)
    chosen = entry.details.get("selection") if entry is not None and entry.kind == "grade" else None
    return list(chosen) if chosen else None


def newest_full_grade_run(conn: Connection, as_of: dt.date) -> GradeRunRow | None:
    """The newest grade run of every subject as of `as_of` (runs limited to some subjects are skipped)."""
    return next((run for run in grade_runs_as_of(conn, as_of) if selection(conn, run["id"]) is None), None)


READ_CHUNK = 100_000  # rows per chunk when a query is read into a frame


def read_frame(conn: Connection, stmt: sa.Select[Any], schema: Mapping[str, Any]) -> pl.DataFrame:
    """The rows of `stmt` as a frame of `schema` (column order = the select's), read in chunks straight into
    columns: at city scale a list of row objects costs many times the frame (a server-side cursor on PostgreSQL)."""
    if conn.dialect.name == "sqlite":
        raw = _raw_sqlite(conn, stmt, schema)
        if raw is not None:
            return _read_raw(conn, stmt, schema, raw)
    # On the statement, not the connection: Connection.execution_options changes the connection for good.
    result = conn.execute(stmt.execution_options(yield_per=READ_CHUNK))
    parts = [pl.DataFrame(chunk, schema=dict(schema), orient="row") for chunk in result.partitions()]
    return pl.concat(parts) if parts else pl.DataFrame(schema=dict(schema))


def _raw_sqlite(conn: Connection, stmt: sa.Select[Any], schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """The types to read `stmt`'s raw SQLite values as (dates as their text, booleans as 0/1), when every column is
    one whose value SQLAlchemy returns as stored or turns into a date or boolean; None otherwise."""
    columns = list(stmt.selected_columns)
    if len(columns) != len(schema):
        return None
    raw: dict[str, Any] = {}
    for column, (name, dtype) in zip(columns, schema.items(), strict=True):
        kind = column.type
        if isinstance(kind, sa.Date) and not isinstance(kind, sa.DateTime) and dtype == pl.Date:
            raw[name] = pl.String
        elif isinstance(kind, sa.Boolean) and dtype == pl.Boolean:
            raw[name] = pl.Int64
        elif _as_stored(conn, kind) and dtype != pl.Date and dtype != pl.Boolean:
            raw[name] = dtype
        else:
            return None
    return raw


def _as_stored(conn: Connection, kind: Any) -> bool:
    """Whether SQLAlchemy returns this column type's values on this dialect as the driver gives them."""
    return kind.dialect_impl(conn.dialect).result_processor(conn.dialect, None) is None


def _read_raw(
    conn: Connection, stmt: sa.Select[Any], schema: Mapping[str, Any], raw: Mapping[str, Any]
) -> pl.DataFrame:
    """read_frame on SQLite from the driver's tuples (result.cursor), not a SQLAlchemy Row per row with its values
    converted one by one in Python (a city's plan read 3.3 M subjects and 2.2 M past checks so: 40 CPU s); dates
    and booleans converted by polars as SQLAlchemy converts them (ISO text, 0/1)."""
    result = conn.execute(stmt)  # no yield_per: SQLite's result fetches from the cursor as asked, nothing buffered
    try:
        cursor = result.cursor
        parts = []
        while chunk := cursor.fetchmany(READ_CHUNK):
            parts.append(pl.DataFrame(chunk, schema=dict(raw), orient="row"))
    finally:
        result.close()
    frame = pl.concat(parts) if parts else pl.DataFrame(schema=dict(raw))
    casts = [
        pl.col(n).str.to_date("%Y-%m-%d", strict=True) if t == pl.Date else pl.col(n).cast(t)
        for n, t in schema.items()
        if raw[n] != t
    ]
    return frame.with_columns(casts) if casts else frame


def grade_results(conn: Connection, run_id: str, usccs: Iterable[str] | None = None) -> pl.DataFrame:
    """Which outcome each subject got in the run: uscc, outcome (all subjects, or those in `usccs`)."""
    r = store.table("grade_result")
    stmt = sa.select(r.c.uscc, r.c.outcome).where(r.c.run_id == run_id)
    schema = {"uscc": pl.String, "outcome": pl.Int64}
    if usccs is None:
        return read_frame(conn, stmt, schema)
    wanted = sorted(set(usccs))
    parts = [
        read_frame(conn, stmt.where(r.c.uscc.in_(wanted[i : i + _IN_CHUNK])), schema)
        for i in range(0, len(wanted), _IN_CHUNK)
    ]
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)


def grade_results_between(conn: Connection, run_id: str, after: str | None, upto: str) -> pl.DataFrame:
    """`grade_results` of the subjects whose USCC is after `after` (None: from the first) and up to `upto`."""
    r = store.table("grade_result")
    stmt = sa.select(r.c.uscc, r.c.outcome).where(r.c.run_id == run_id, _in_range(r.c.uscc, after, upto))
    return read_frame(conn, stmt.order_by(r.c.uscc), {"uscc": pl.String, "outcome": pl.Int64})


def grade_outcomes(conn: Connection, run_id: str) -> dict[int, OutcomeParts]:
    """Every distinct outcome of the run: outcome id -> outputs, fired rule ids, errors."""
    o = store.table("grade_outcome")
    return {
        int(row.outcome): OutcomeParts(outputs=row.outputs, fired=list(row.fired), errors=list(row.errors or []))
        for row in conn.execute(sa.select(o.c.outcome, o.c.outputs, o.c.fired, o.c.errors).where(o.c.run_id == run_id))
    }


def outcome_rows(parts: Mapping[int, OutcomeParts]) -> Iterable[tuple[int, Mapping[str, Any], Sequence[str]]]:
    """(outcome id, outputs, fired) per outcome, the shape engine.planning.planning_columns reads."""
    return ((k, v["outputs"], v["fired"]) for k, v in parts.items())


def subject_outcome(conn: Connection, run_id: str, uscc: str) -> OutcomeParts | None:
    """One subject's outcome in the run as stored, or None if the run holds none for it."""
    o, r = store.table("grade_outcome"), store.table("grade_result")
    row = conn.execute(
        sa.select(o.c.outputs, o.c.fired, o.c.errors)
        .select_from(r.join(o, (o.c.run_id == r.c.run_id) & (o.c.outcome == r.c.outcome)))
        .where(r.c.run_id == run_id, r.c.uscc == uscc)
    ).first()
    if row is None:
        return None
    return OutcomeParts(outputs=row.outputs, fired=list(row.fired), errors=list(row.errors or []))


PLAN_FEATURES = "plan_features"
"""The key of a grade run's ledger details naming the features it recorded for plans (a snapshot blob)."""


def grade_features(conn: Connection, entry: chain.Entry) -> pl.DataFrame | None:
    """The features a grade run computed, as it recorded them: its input snapshot's features (what the pack
    reads, status, whitelist) joined with the further features it kept for plans (what the check items' targets
    read). None when the run is not a grade run or its snapshot holds no features frame."""
    if entry.kind != "grade" or not entry.get("snapshot_hash"):
        return None
    scheme = entry.schemes.get("snapshot", canonical.SNAPSHOT)
    frame = snapshot.load(conn, str(entry.get("snapshot_hash")), scheme).get("features")
    if not isinstance(frame, pl.DataFrame) or "uscc" not in frame.columns:
        return None
    more = entry.details.get(PLAN_FEATURES)
    if more:
        extra = snapshot.load(conn, str(more), scheme).get(PLAN_FEATURES)
        if isinstance(extra, pl.DataFrame) and "uscc" in extra.columns:
            frame = frame.join(
                extra.select("uscc", *(c for c in extra.columns if c not in frame.columns)), on="uscc", how="left"
            )
    return frame


FEATURE_PART_ROWS = 250_000
"""Subjects per slice when a plan reads its grade run's features a slice at a time (grade_feature_parts)."""


class NotInOrder(ValueError):
    """A recorded features frame whose rows are not in strictly ascending USCC order (it cannot be read a USCC
    range at a time; the reader falls back to reading it whole)."""


def grade_feature_parts(
    conn: Connection, entry: chain.Entry, rows: int | None = None, later: list[Callable[[], None]] | None = None
) -> Iterator[pl.DataFrame] | None:
    """`grade_features` a slice of `rows` subjects at a time, in USCC order, never the whole frame: each slice is
    the snapshot's features with the further features kept for plans, joined. The snapshots are checked against
    their hashes first (a column at a time), or, with `later`, by the functions appended to it (snapshot.frames).
    None as for grade_features; the iterator raises NotInOrder if the recorded rows are not in strictly ascending
    USCC order (a run recorded so has to be read whole)."""
    if entry.kind != "grade" or not entry.get("snapshot_hash"):
        return None
    scheme = entry.schemes.get("snapshot", canonical.SNAPSHOT)
    main = snapshot.frames(conn, str(entry.get("snapshot_hash")), scheme, later).get("features")
    if main is None or "uscc" not in pl.read_parquet_schema(io.BytesIO(main)):
        return None
    more = entry.details.get(PLAN_FEATURES)
    extra = snapshot.frames(conn, str(more), scheme, later).get(PLAN_FEATURES) if more else None
    if extra is not None and "uscc" not in pl.read_parquet_schema(io.BytesIO(extra)):
        extra = None
    return _feature_slices(main, extra, rows or FEATURE_PART_ROWS)


def _feature_slices(main: bytes, extra: bytes | None, rows: int) -> Iterator[pl.DataFrame]:
    features = pl.scan_parquet(io.BytesIO(main))
    kept = pl.scan_parquet(io.BytesIO(extra)) if extra is not None else None
    height = features.select(pl.len()).collect().item()
    last: str | None = None
    for start in range(0, height, rows):
        part = features.slice(start, rows).collect()
        usccs = part.get_column("uscc")
        if usccs.null_count() or not bool((usccs.slice(1) > usccs.slice(0, part.height - 1)).all()):
            raise NotInOrder("the recorded features are not in USCC order")
        if last is not None and usccs[0] <= last:
            raise NotInOrder("the recorded features are not in USCC order")
        if kept is not None:
            more = kept.slice(start, rows).collect()
            if not more.get_column("uscc").equals(usccs):
                # Written by the grade from the same partitions, the two frames have the same rows in the same
                # order; a run recorded otherwise is read by USCC range (a scan of the kept frame per slice).
                more = kept.filter(pl.col("uscc").is_between(pl.lit(usccs[0]), pl.lit(usccs[-1]))).collect()
            add = [c for c in more.columns if c not in part.columns]
            part = part.join(more.select("uscc", *add), on="uscc", how="left", maintain_order="left")
        last = usccs[-1]
        yield part


# ── subjects ─────────────────────────────────────────────────────────────────────────────────────────────────


def subject_info(
    conn: Connection, usccs: Iterable[str] | None = None, columns: Sequence[str] = SUBJECT_INFO
) -> pl.DataFrame:
    """Subjects' uscc, region, name and address (or other text `columns` of the subject table), in USCC order:
    every subject, or those in `usccs`."""
    s = store.table("subject")
    names = ["uscc", *(c for c in columns if c != "uscc")]
    schema = {c: (pl.Boolean if c in ("whitelist", "lenient") else pl.String) for c in names}
    stmt = sa.select(*(s.c[c] for c in names)).order_by(s.c.uscc)
    if usccs is None:
        return read_frame(conn, stmt, schema)
    wanted = sorted(set(usccs))
    parts = [
        read_frame(conn, stmt.where(s.c.uscc.in_(wanted[i : i + _IN_CHUNK])), schema)
        for i in range(0, len(wanted), _IN_CHUNK)
    ]
    return (pl.concat(parts) if parts else pl.DataFrame(schema=schema)).sort("uscc")


def subjects_between(conn: Connection, after: str | None, upto: str, columns: Sequence[str]) -> pl.DataFrame:
    """`subject_info` of the subjects whose USCC is after `after` (None: from the first) and up to `upto`."""
    s = store.table("subject")
    names = ["uscc", *(c for c in columns if c != "uscc")]
    schema = {c: (pl.Boolean if c in ("whitelist", "lenient") else pl.String) for c in names}
    stmt = sa.select(*(s.c[c] for c in names)).where(_in_range(s.c.uscc, after, upto)).order_by(s.c.uscc)
    return read_frame(conn, stmt, schema)


def _in_range(column: Any, after: str | None, upto: str) -> Any:
    return column <= upto if after is None else sa.and_(column > after, column <= upto)


def subjects_in_regions(conn: Connection, regions: Sequence[str]) -> list[str]:
    """USCCs of the subjects in any of `regions` (a county and its 街镇 by code prefix), in USCC order."""
    s = store.table("subject")
    cond = sa.or_(*(s.c.region.startswith(codes.region_prefix(c)) for c in regions))
    return [u for (u,) in conn.execute(sa.select(s.c.uscc).where(cond).order_by(s.c.uscc))]


def region_names(conn: Connection) -> dict[str, str]:
    """Region code -> name, for reports."""
    r = store.table("region")
    return {c: n for c, n in conn.execute(sa.select(r.c.code, r.c.name))}


# ── plans ────────────────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class PlanDocument:
    """A stored plan's document: the text unzipped once (None if unreadable) and whether it still hashes to the
    plan row's sha256."""

    id: str
    text: str | None
    sha256: str  # as the plan row records it
    content_hash: str | None = None  # a plan/3 document's hash (of its content, not of `text`), as it reads now

    @property
    def digest(self) -> str | None:
        """The document's hash as it reads now (None if unreadable): the SHA-256 of the text, or for a plan/3
        document (engine.ledger.plan_columns; `text` is then the plan as plan/2's text rules write it) its own."""
        if self.text is None or self.content_hash is not None:
            return None if self.text is None else self.content_hash
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def intact(self) -> bool:
        return self.text is not None and self.digest == self.sha256


def plan_document(conn: Connection, plan_id: str | None = None) -> PlanDocument | None:
    """The plan `plan_id` (or the newest plan) with its document, or None if the store holds no such plan."""
    t = store.table("plan")
    stmt = sa.select(t.c.id, t.c.document, t.c.sha256)
    stmt = stmt.where(t.c.id == plan_id) if plan_id else stmt.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(1)
    row = conn.execute(stmt).first()
    if row is None:
        return None
    if row.document is not None and plan_columns.is_columnar(row.document):
        try:
            whole, digest = plan_columns.document_text(bytes(row.document))
        except plan_columns.DocumentUnreadable:
            return PlanDocument(str(row.id), None, str(row.sha256))
        return PlanDocument(str(row.id), whole, str(row.sha256), digest)
    try:
        text: str | None = zlib.decompress(row.document).decode("utf-8")
    except (zlib.error, UnicodeDecodeError, TypeError):
        text = None
    return PlanDocument(str(row.id), text, str(row.sha256))


def plan_blob(conn: Connection, plan_id: str | None = None) -> tuple[str, bytes, str] | None:
    """The plan `plan_id` (or the newest plan) as stored: id, compressed document, recorded SHA-256; None if the
    store holds no such plan. For readers that unzip it a piece at a time (engine.ledger.plan_reader)."""
    t = store.table("plan")
    stmt = sa.select(t.c.id, t.c.document, t.c.sha256)
    stmt = stmt.where(t.c.id == plan_id) if plan_id else stmt.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(1)
    row = conn.execute(stmt).first()
    if row is None:
        return None
    return str(row.id), bytes(row.document) if row.document is not None else b"", str(row.sha256)


def plan_sha256(conn: Connection, plan_id: str) -> str | None:
    """The SHA-256 the plan row `plan_id` records, or None if there is no such plan."""
    t = store.table("plan")
    return conn.execute(sa.select(t.c.sha256).where(t.c.id == plan_id)).scalar_one_or_none()


# ── ledger look-ups by kind ──────────────────────────────────────────────────────────────────────────────────


def newest_entry(conn: Connection, kind: str) -> chain.Entry | None:
    """The newest ledger entry of `kind`, or None."""
    t = store.table("ledger")
    row = conn.execute(sa.select(t.c.run_id).where(t.c.kind == kind).order_by(t.c.seq.desc()).limit(1)).first()
    return None if row is None else chain.find(conn, str(row.run_id))


def stored_pack_hashes(conn: Connection, prefix: str, limit: int = 2) -> list[str]:
    """Files hashes of stored rule-pack versions starting with `prefix` (at most `limit`, in order)."""
    t = store.table("blob")
    stmt = sa.select(t.c.hash).where(t.c.kind == "pack", t.c.hash.startswith(prefix)).order_by(t.c.hash).limit(limit)
    return [str(h) for (h,) in conn.execute(stmt)]
