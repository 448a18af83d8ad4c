"""Plan from the store: gather a grade run's outcomes, the features, the catalogue, the roster and the history,
call the pure planning core (engine.plan), and keep the committed plan.

The contract with a rule pack (what the plan reads from grading): `credit_class` (A-D), optionally
`mandatory_items` (list of check-item codes this subject must get this period; the fired rules' reasons are
carried as the reasons), `risk_score` (capacity priority, higher first) and sector grades such as `food_grade`.
The pack's `policy.yaml` (if present) holds the PlanPolicy: ratios per class and item, caps, switches; a draw
of some check items (`--item`) uses its settings for those items only (`policy_for`).

A plan draws from a grade run of every subject: a run limited with `suijian grade --subject` is no population,
so the newest full run is used by default and a partial one given by id is refused. `save_plan` applies the
draw-integrity rules of engine.ledger.record (re-draws, seed commitments, previews) before anything is written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import io
import os
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import pyarrow.parquet as pq
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Connection

from engine import plan_read
from engine.features import arrow_read
from engine.features.compute import PROBLEM_CODES, SCHEMA, feature_partitions
from engine.ledger import canonical, chain, plan_columns, record, runs, snapshot
from engine.plan import Period, Plan, PlanPolicy, make_plan
from engine.plan.calendar import CalendarFile, WorkCalendar
from engine.plan.fitted import Handover
from engine.plan.frames import (
    FREQUENCY_OUTPUTS,
    HISTORY_CODES,
    HISTORY_SCHEMA,
    PLAIN_TEXT,
    PLANNING_COLUMNS,
    SECTOR_GRADES,
)
from engine.plan.model import PLAN_FORMAT_COLUMNAR, PLAN_FORMAT_FITTED
from engine.plan.policy import parse_period  # noqa: F401 - commands and replay read it from here
from engine.plan_visits import write_visit_rows
from engine.progress import Progress, no_progress
from engine.results.records import HISTORY_PREFIX
from engine.roster_links import org_units
from engine.rules import Pack
from engine.rules.authority import require_same_catalogue
from engine.sampling import TicketKeys
from entities import store
from entities.errors import InputError
from entities.identity import Identity, require
from entities.models import CheckItemCreate, ConflictCreate, InspectorCreate

MANDATORY_OUTPUT = "mandatory_items"
RISK_OUTPUT = "risk_score"
SEED_MAX = 200  # the plan table's seed column


def load_policy(pack: Pack) -> PlanPolicy:
    """The pack's plan policy (policy.yaml in the pack directory), or the documented defaults."""
    path = Path(pack.directory) / "policy.yaml"
    if not path.exists():
        return PlanPolicy()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    return PlanPolicy.parse(data)


def planning_columns(pack: Pack, outcomes: Iterable[tuple[int, Mapping[str, Any], Sequence[str]]]) -> pl.DataFrame:
    """Per outcome (id, outputs, fired rule ids) the columns a plan reads: credit class, mandatory items with
    the reason of the rule that made each mandatory, risk, sector grades."""
    rows = []
    for outcome, outputs, fired in outcomes:
        mandatory = [str(c) for c in outputs.get(MANDATORY_OUTPUT) or []]
        reasons = []
        for code in mandatory:
            why = [pack.rule(r).reason for r in fired if code in _as_list(pack.rule(r).outputs.get(MANDATORY_OUTPUT))]
            reasons.append("；".join(why) or "规则包要求")
        risk = outputs.get(RISK_OUTPUT)
        rows.append(
            {
                "_outcome": outcome,
                "credit_class": outputs.get("credit_class"),
                "mandatory": mandatory,
                "mandatory_reason": reasons,
                "risk": float(risk) if isinstance(risk, int | float) and not isinstance(risk, bool) else 0.0,
                **{g: grade_text(outputs.get(g)) for g in SECTOR_GRADES},
                **{f: _number(outputs.get(f)) for f in FREQUENCY_OUTPUTS},
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "_outcome": pl.Int64,
            "credit_class": pl.String,
            "mandatory": pl.List(pl.String),
            "mandatory_reason": pl.List(pl.String),
            "risk": pl.Float64,
            **{g: pl.String for g in SECTOR_GRADES},
            **{f: pl.Float64 for f in FREQUENCY_OUTPUTS},
        },
    )


def graded_columns(conn: Connection, run_id: str, pack: Pack) -> pl.DataFrame:
    """Per subject of a stored grade run the columns a plan reads (uscc, credit class, mandatory items and their
    reasons, risk, sector grades)."""
    results = runs.grade_results(conn, run_id).rename({"outcome": "_outcome"})
    columns = planning_columns(pack, runs.outcome_rows(runs.grade_outcomes(conn, run_id)))
    return join_graded(results, columns)


def join_graded(results: pl.DataFrame, columns: pl.DataFrame) -> pl.DataFrame:
    """Each subject's outcome id (uscc, _outcome) replaced by that outcome's planning columns."""
    return results.join(columns, on="_outcome", how="left", maintain_order="left").drop("_outcome")


def grade_text(value: Any) -> str | None:
    """A sector-grade output as the plan's text column: booleans as true/false, numbers as written, text as is."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


LIVE = ("status", "whitelist")
"""Read from the subject table when a plan is made, not taken from the grade run: a subject cancelled or
whitelisted since grading is planned as it is now (and a seed commitment's freeze sees the change)."""


def plan_features(
    conn: Connection, run_id: str, as_of: dt.date, progress: Progress = no_progress, live: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Every feature of the graded subjects as of `as_of`: as the grade run recorded them, or computed again for a
    run that did not record them all (one recorded by an earlier suijian). `live` is uscc, status and whitelist
    of the subjects as they are now, when the caller has read them."""
    if live is None:
        live = runs.subject_info(conn, columns=("uscc", *LIVE))
    return _features(conn, run_id, as_of, progress, live).sort("uscc").collect()


def _features(conn: Connection, run_id: str, as_of: dt.date, progress: Progress, live: pl.DataFrame) -> pl.LazyFrame:
    """plan_features as a query not yet run (and not sorted), so the caller's joins and sort run with it: at city
    scale each intermediate frame held at once was another copy of the widest frame of the plan."""
    entry = chain.find(conn, run_id)
    recorded = runs.grade_features(conn, entry) if entry is not None else None
    if recorded is not None and set(SCHEMA) <= set(recorded.columns):
        progress("features (as graded)", 1, 1)
        return (
            recorded.lazy()
            .drop(list(LIVE))
            .join(live.lazy(), on="uscc", how="inner")
            .select([pl.col(c).cast(t) for c, t in SCHEMA.items()])
        )
    # A city's features are computed in two processes (independent USCC ranges), as `suijian grade` does.
    population = store.count_rows(conn, "subject")
    workers = min(2, os.cpu_count() or 1) if population > 400_000 else 1
    url = conn.engine.url.render_as_string(hide_password=False)
    parts = []
    for frame in feature_partitions(conn, as_of, url=url, workers=workers):
        parts.append(frame)
        progress("features", sum(p.height for p in parts), population)
    done = sum(p.height for p in parts)
    progress("features", done, done)  # subjects registered after the as-of are not in it: end at 100 %
    return pl.concat(parts, how="vertical").lazy()


def subjects_for_plan(
    conn: Connection, run_id: str, as_of: dt.date, pack: Pack, progress: Progress = no_progress
) -> pl.DataFrame:
    """One row per graded subject: features, region, and the grade run's planning outputs, in USCC order.

    Names and addresses are not read: the planner never looks at them and the snapshot leaves them out; the lists
    read them for the visited subjects only (plan_subject_details). A run that recorded its features is read a
    USCC range at a time (its features, the subjects' live columns and its outcomes for that range, joined) and
    each slice narrowed as it comes (`narrow`): no frame of the whole district is built but the result, which at
    city scale was a third of the plan's peak read whole. A run recorded without them is read as before."""
    whole = _by_range(conn, run_id, pack, progress, lambda slices: _concat(list(slices)))
    return whole if whole is not None else _subjects_whole(conn, run_id, as_of, pack, progress)


def subjects_split(
    conn: Connection,
    run_id: str,
    as_of: dt.date,
    pack: Pack,
    keep: Callable[[Sequence[str]], Sequence[str]],
    progress: Progress = no_progress,
) -> tuple[pl.DataFrame, canonical.ParquetFrame]:
    """subjects_for_plan as a plan needs it: the columns `keep(columns)` names, as a frame (the planner's), and
    the whole frame as its snapshot keeps it, a Parquet file (zstd) that is hashed a column at a time.

    Read a USCC range at a time, each slice is written to Parquet as it comes and only its kept columns are held,
    so the whole frame is never built: at 10 M subjects its 61 columns were ~4.3 GB, the start of the plan's
    peak (issue 15 item 4). The file has the whole frame's rows and types (each integer column in the widest type
    a slice needed, as subjects_for_plan concatenates them), a row group per slice. A run recorded without its
    features is read whole, as subjects_for_plan reads it."""

    def split(slices: Iterable[pl.DataFrame]) -> tuple[pl.DataFrame, bytes]:
        kept: list[pl.DataFrame] = []
        written: list[bytes] = []
        for part in slices:
            written.append(_parquet(part))
            kept.append(part.select(keep(part.columns)))
            del part  # the slice's other columns go here, not at the end
        return _concat(kept), _one_parquet(written)

    found = _by_range(conn, run_id, pack, progress, split)
    if found is not None:
        planner, data = found
        return planner, canonical.ParquetFrame(data)
    subjects = _subjects_whole(conn, run_id, as_of, pack, progress)
    frozen = canonical.ParquetFrame(_parquet(subjects))
    return subjects.select(keep(subjects.columns)), frozen


_T = TypeVar("_T")


def _by_range(
    conn: Connection,
    run_id: str,
    pack: Pack,
    progress: Progress,
    consume: Callable[[Iterator[pl.DataFrame]], _T],
) -> _T | None:
    """`consume` of the run's subjects a USCC range at a time (_range_slices: at least one slice, maybe empty);
    None when the run recorded no features the plan can read by range (then the caller reads them whole)."""
    columns = planning_columns(pack, runs.outcome_rows(runs.grade_outcomes(conn, run_id)))
    entry = chain.find(conn, run_id)
    # The recorded features' hashes are checked on a thread while they are read (the check is seconds of hashing
    # at city scale, mostly in polars and hashlib, which release the GIL); nothing read is returned before it passes.
    later: list[Callable[[], None]] = []
    parts = runs.grade_feature_parts(conn, entry, later=later) if entry is not None else None
    if parts is None:
        return None
    with _checked_meanwhile(later) as checked:
        try:
            found = consume(_range_slices(conn, run_id, parts, columns, progress))
        except (runs.NotInOrder, _NotRecorded):
            checked.result()
            return None
        except BaseException:
            checked.result()  # a snapshot altered or unreadable is what to report
            raise
        checked.result()
        return found


@contextlib.contextmanager
def _checked_meanwhile(checks: Sequence[Callable[[], None]]) -> Iterator[Future[None]]:
    """`checks` run one after another on a thread while the caller goes on."""

    def run() -> None:
        for check in checks:
            check()

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="features-check")
    try:
        yield pool.submit(run)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _NotRecorded(Exception):
    """The run's recorded features lack some the plan reads (a run recorded by an earlier suijian)."""


def _range_slices(
    conn: Connection, run_id: str, parts: Iterable[pl.DataFrame], columns: pl.DataFrame, progress: Progress
) -> Iterator[pl.DataFrame]:
    """The run's subjects a USCC range at a time, each slice narrowed on its own; one empty slice for none."""
    after: str | None = None
    done = 0
    with _RangeReader(conn, run_id) as reader:
        for part in parts:
            if not set(SCHEMA) <= set(part.columns):
                raise _NotRecorded
            upto = part.get_column("uscc")[-1]
            results, live = reader.between(after, upto)
            done += part.height
            after = upto
            piece = _slice(part, live, results, columns, run_id)
            del part, live, results
            progress("features (as graded)", done, None)
            yield piece
            del piece
    progress("features (as graded)", done, done)
    if not done:
        yield narrow(pl.DataFrame(schema={**SCHEMA, "region": pl.String, **columns.drop("_outcome").schema}))


def _concat(slices: list[pl.DataFrame]) -> pl.DataFrame:
    return slices[0] if len(slices) == 1 else pl.concat(_same_types(slices), how="vertical", rechunk=False)


def _parquet(frame: pl.DataFrame) -> bytes:
    """The frame as the snapshot container writes one (zstd, no statistics)."""
    out = io.BytesIO()
    frame.write_parquet(out, compression="zstd", statistics=False)
    return out.getvalue()


def _one_parquet(parts: Sequence[bytes]) -> bytes:
    """The Parquet files of a frame's slices (each narrowed on its own) as one file, read and written a slice at a
    time: every integer column in the widest type a slice has (_same_types), a row group per slice. One slice's
    file is returned as it is."""
    if len(parts) == 1:
        return parts[0]
    widest = _widest([pl.read_parquet_schema(io.BytesIO(p)) for p in parts])
    out = io.BytesIO()
    writer: pq.ParquetWriter | None = None
    try:
        for data in parts:
            part = pl.read_parquet(io.BytesIO(data))
            table = part.with_columns([pl.col(n).cast(t) for n, t in widest.items() if part.schema[n] != t]).to_arrow()
            del part
            if writer is None:
                writer = pq.ParquetWriter(out, table.schema, compression="zstd", write_statistics=False)
            writer.write_table(table, row_group_size=max(table.num_rows, 1))
            del table
    finally:
        if writer is not None:
            writer.close()
    return out.getvalue()


class _RangeReader:
    """The grade results and live columns of a USCC range at a time: streamed by a child process through ADBC
    (engine.plan_read) where it can, else read through `conn` (runs.subjects_between, grade_results_between)."""

    def __init__(self, conn: Connection, run_id: str) -> None:
        self.conn, self.run_id = conn, run_id
        self.stream: plan_read.Stream | None = None
        path = arrow_read.database_file(conn.engine.url.render_as_string(hide_password=False))
        if (
            path is not None
            and conn.dialect.name == "sqlite"
            and arrow_read.available()
            and not _wrote_uncommitted(conn)  # the child sees only what is committed
            and store.count_rows(conn, "subject") >= plan_read.CHILD_ROWS
        ):
            self.stream = plan_read.Stream(path, run_id)

    def __enter__(self) -> _RangeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None

    def between(self, after: str | None, upto: str) -> tuple[pl.DataFrame, pl.DataFrame]:
        if self.stream is not None:
            try:
                return self.stream.between(after, upto)
            except plan_read.ChildFailed:
                self._stop()  # this range and the rest through the connection
        live = runs.subjects_between(self.conn, after, upto, columns=(*PLACE, *LIVE))
        return runs.grade_results_between(self.conn, self.run_id, after, upto), live


def _wrote_uncommitted(conn: Connection) -> bool:
    """Whether this SQLite connection holds changes not yet committed (which another process cannot see)."""
    dbapi = conn.connection.dbapi_connection
    return bool(getattr(dbapi, "in_transaction", True))


def _slice(
    part: pl.DataFrame, live: pl.DataFrame, results: pl.DataFrame, columns: pl.DataFrame, run_id: str
) -> pl.DataFrame:
    """One USCC range of subjects_for_plan: its recorded features, live columns and planning columns, joined."""
    graded = join_graded(results.rename({"outcome": "_outcome"}), columns)
    if graded.get_column("credit_class").null_count():
        raise InputError(f"grade run {run_id} has subjects without a credit_class; the pack must decide credit_class")
    frame = side_by_side(part, live, graded)
    return narrow(frame if frame is not None else joined(part, live, graded))


def joined(part: pl.DataFrame, live: pl.DataFrame, graded: pl.DataFrame) -> pl.DataFrame:
    """The recorded features of a USCC range with the subjects' live columns and the graded planning columns: the
    subjects in all three, in USCC order."""
    return (
        part.lazy()
        .drop(list(LIVE))
        .join(live.lazy().select("uscc", *LIVE), on="uscc", how="inner")
        .select([pl.col(c).cast(t) for c, t in SCHEMA.items()])
        .join(live.lazy().select(PLACE), on="uscc", how="inner")
        .join(graded.lazy(), on="uscc", how="inner")
        .sort("uscc")
        .collect()
    )


def side_by_side(part: pl.DataFrame, live: pl.DataFrame, graded: pl.DataFrame) -> pl.DataFrame | None:
    """`joined` without a join, when the three frames name the same subjects in the same order (the usual case: a
    subject is neither added nor removed between its grade and its plan): row i of each is one subject, and the
    columns are set side by side. At guangzhou the joins and the sort gathered every column of every range again,
    8 s of the plan's read. None when they differ (then `joined`)."""
    usccs = part.get_column("uscc")
    ascending = usccs.null_count() == 0 and bool((usccs.slice(1) > usccs.slice(0, max(usccs.len() - 1, 0))).all())
    if not (ascending and live.get_column("uscc").equals(usccs) and graded.get_column("uscc").equals(usccs)):
        return None
    features = pl.concat([part.drop(list(LIVE)), live.select(LIVE)], how="horizontal")
    return pl.concat(
        [features.select([pl.col(c).cast(t) for c, t in SCHEMA.items()]), live.select(PLACE[1:]), graded.drop("uscc")],
        how="horizontal",
    )


def _subjects_whole(
    conn: Connection, run_id: str, as_of: dt.date, pack: Pack, progress: Progress = no_progress
) -> pl.DataFrame:
    """subjects_for_plan from features read whole or computed again: the features, the joins and the sort as one
    lazy query, so no intermediate frame is kept."""
    subjects = runs.subject_info(conn, columns=(*PLACE, *LIVE))
    graded = graded_columns(conn, run_id, pack)
    if graded.get_column("credit_class").null_count():
        raise InputError(f"grade run {run_id} has subjects without a credit_class; the pack must decide credit_class")
    features = _features(conn, run_id, as_of, progress, subjects.select("uscc", *LIVE))
    place = subjects.select(PLACE)
    del subjects
    return narrow(
        features.join(place.lazy(), on="uscc", how="inner")
        .join(graded.lazy(), on="uscc", how="inner")
        .sort("uscc")
        .collect()
    )


_INTS = (pl.Int8, pl.Int16, pl.Int32, pl.Int64)


def narrow(frame: pl.DataFrame) -> pl.DataFrame:
    """The subjects frame in narrower types holding the same values: every other text column (a feature such as
    subject_kind, a sector grade: a few distinct values each) as a Categorical, 4 bytes a subject instead of 16 or
    more; every integer column in the smallest signed integer type its values fit. Snapshot hashes read the values,
    not the types (canonical: text and categorical alike, integers as integers), so a plan's snapshot and id are
    those of the wide frame; the planner only compares features (targets), never computes with them."""
    casts: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String and name not in PLAIN_TEXT:
            casts.append(pl.col(name).cast(pl.Categorical))
        elif dtype in _INTS and frame.height:
            low, high = frame.get_column(name).min(), frame.get_column(name).max()
            fits = next((t for t in _INTS if _fits(t, low, high)), dtype)
            if fits != dtype:
                casts.append(pl.col(name).cast(fits))
    return frame.with_columns(casts) if casts else frame


def _fits(dtype: Any, low: Any, high: Any) -> bool:
    if low is None or high is None:  # every value null
        return dtype == pl.Int8
    bits = 8 << _INTS.index(dtype)
    return -(2 ** (bits - 1)) <= int(low) and int(high) < 2 ** (bits - 1)


def _widest(schemas: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Each integer column's widest type across the schemas."""
    widest: dict[str, Any] = {}
    for schema in schemas:
        for name, dtype in schema.items():
            if dtype in _INTS and (name not in widest or _INTS.index(dtype) > _INTS.index(widest[name])):
                widest[name] = dtype
    return widest


def _same_types(parts: list[pl.DataFrame]) -> list[pl.DataFrame]:
    """The slices with each integer column in the widest type any slice needed, so they concatenate."""
    widest = _widest(part.schema for part in parts)
    return [part.with_columns([pl.col(n).cast(t) for n, t in widest.items() if part.schema[n] != t]) for part in parts]


PLACE = ("uscc", "region")
"""What a plan reads of where a subject is (engine.plan strata and team pools)."""


def roster(conn: Connection) -> tuple[list[InspectorCreate], list[ConflictCreate]]:
    i, c = store.table("inspector"), store.table("conflict")
    inspectors = [
        InspectorCreate.model_validate(dict(m)) for m in conn.execute(sa.select(i).order_by(i.c.id)).mappings()
    ]
    conflicts = [ConflictCreate.model_validate(dict(m)) for m in conn.execute(sa.select(c)).mappings()]
    return inspectors, conflicts


def check_items(conn: Connection, codes: Sequence[str] | None = None) -> list[CheckItemCreate]:
    t = store.table("check_item")
    items = [CheckItemCreate.model_validate(dict(m)) for m in conn.execute(sa.select(t).order_by(t.c.code)).mappings()]
    if codes:
        known = {i.code for i in items}
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise InputError(f"unknown check item {unknown[0]}; known: {', '.join(sorted(known))}")
        items = [i for i in items if i.code in set(codes)]
    if not items:
        raise InputError(
            "the store has no check items; load the catalogue with `suijian demo` or `suijian import items FILE`"
        )
    return items


def history(conn: Connection, as_of: dt.date) -> pl.DataFrame:
    """Past checks up to `as_of`, read in chunks straight into columns (a Python dict per row cost about 20 times
    the frame's size: 286 MB of RSS for a 15 MB frame at baiyun).

    With what 令49号 第42条 reads: the level that made each check (null: not recorded), whether it found a problem
    (one of the grading features' problem codes in its codes' JSON text, as features.compute matches them), and
    whether it is a result recorded for one of the store's own plans (`results record|import`: it counts as the
    plan's own level). Both flags are worked out by the database, so only two small numbers per row come over."""
    t = store.table("check_result")
    codes = sa.cast(t.c.result_codes, sa.Text)
    finding = sa.or_(*(codes.contains(f'"{code}"', autoescape=True) for code in sorted(PROBLEM_CODES)))
    stmt = sa.select(
        *(t.c[c] for c in HISTORY_SCHEMA),
        t.c.level,
        sa.case((finding, 1), else_=0).label("finding"),
        sa.case((t.c.id.startswith(HISTORY_PREFIX, autoescape=True), 1), else_=0).label("own"),
    ).where(t.c.checked_on <= as_of)
    read = {**HISTORY_SCHEMA, "level": pl.String, "finding": pl.Int8, "own": pl.Int8}
    # The item code, kind, level and lead are a few hundred distinct values each: Categoricals (4 bytes a check, not
    # 16), which the planner and the snapshot's hash read as their text. A province's 6.7 M past checks live to the
    # plan's end (its snapshot), ~0.3 GB less.
    return runs.read_frame(conn, stmt, read).with_columns(
        pl.col("finding", "own").cast(pl.Boolean), pl.col(*HISTORY_CODES).cast(pl.Categorical)
    )


HISTORY_CHILD_ROWS = 500_000  # subjects; below it, starting a process costs more than the read


@contextlib.contextmanager
def history_meanwhile(conn: Connection, as_of: dt.date) -> Iterator[Callable[[], pl.DataFrame]]:
    """`history(conn, as_of)`, read by a process of its own while the caller reads the subjects; the frame is
    asked for with the callable this yields.

    At guangzhou the 2.2 M past checks are 6 CPU s of Python rows made into columns, which came after the subjects'
    read and held up the plan. On a thread they only took turns with the plan's read for the GIL (measured: no
    gain), so a spawned process reads them with its own connection and hands them over as an Arrow file. It sees
    what is committed: used only for a SQLite file store whose connection has written nothing uncommitted (the
    plan's read child has the same rule) and a population large enough to pay for starting it; otherwise, or if
    the process fails, they are read through `conn` when asked for, the same frame."""
    path = conn.engine.url.database
    on_file = conn.dialect.name == "sqlite" and bool(path) and not conn.engine.url.query and os.path.isfile(str(path))
    if not on_file or _wrote_uncommitted(conn) or store.count_rows(conn, "subject") < HISTORY_CHILD_ROWS:
        yield lambda: history(conn, as_of)
        return
    import multiprocessing
    import tempfile
    from concurrent.futures import ProcessPoolExecutor

    url = conn.engine.url.render_as_string(hide_password=False)
    with tempfile.TemporaryDirectory(prefix="suijian-history-") as folder:
        target = os.path.join(folder, "history.arrow")
        try:
            pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        except OSError:  # no process can be started here (no semaphores in a sandbox): read through `conn`
            yield lambda: history(conn, as_of)
            return
        with pool:
            try:
                future: Future[None] | None = pool.submit(_history_to_file, url, as_of, target)
            except OSError:  # the process could not be started
                future = None

            def read() -> pl.DataFrame:
                try:
                    if future is None:
                        raise OSError
                    future.result()
                except Exception:  # noqa: BLE001 - whatever stopped the child, this process reads (and reports) it
                    return history(conn, as_of)
                return pl.read_ipc(target)

            yield read  # left early (the subjects' read failed): the pool waits for the child, seconds at most


def _history_to_file(url: str, as_of: dt.date, target: str) -> None:
    """history() in a spawned process, written to `target` as Arrow IPC (its Categoricals as dictionaries)."""
    engine = store.make_engine(url)
    try:
        with engine.connect() as conn:
            history(conn, as_of).write_ipc(target)
    finally:
        engine.dispose()


def grade_run(conn: Connection, run_id: str | None, as_of: dt.date) -> runs.GradeRunRow:
    """The grade run `run_id`, or the newest as of `as_of`; one line saying what to do when there is none."""
    row = runs.grade_run(conn, run_id) if run_id else next(iter(runs.grade_runs_as_of(conn, as_of)), None)
    if row is None:
        if run_id:
            raise InputError(f"no grade run {run_id} in the store; check the id, or grade with `suijian grade` first")
        raise InputError(f"no grade run as of {as_of}; run `suijian grade --as-of {as_of}` first")
    if row["as_of"] != as_of:
        raise InputError(f"grade run {row['id']} is as of {row['as_of']}, not {as_of}; pass --as-of {row['as_of']}")
    return row


def policy_for(pack: Pack, item_codes: Sequence[str] | None) -> PlanPolicy:
    """The pack's plan policy for a draw of these check items (None: all): settings for other items do not apply."""
    policy = load_policy(pack)
    if not item_codes:
        return policy
    chosen = set(item_codes)
    return policy.model_copy(update={"items": {k: v for k, v in policy.items.items() if k in chosen}})


def _full_grade_run(conn: Connection, run_id: str | None, as_of: dt.date) -> runs.GradeRunRow:
    run = grade_run(conn, run_id, as_of)
    chosen = runs.selection(conn, run["id"])
    if chosen is None:
        return run
    if run_id is None:
        full = runs.newest_full_grade_run(conn, as_of)
        if full is not None:
            return full
    raise InputError(
        f"grade run {run['id']} graded only {len(chosen)} selected subject(s), not the population; grade every "
        f"subject (`suijian grade --as-of {as_of}`) and plan from that run"
    )


def plan_from_store(
    conn: Connection,
    pack: Pack,
    *,
    seed: str,
    period: Period,
    as_of: dt.date,
    regions: Sequence[str] | None,
    item_codes: Sequence[str] | None = None,
    run_id: str | None = None,
    progress: Progress = no_progress,
    calendar_files: Sequence[CalendarFile | Path | str] = (),
    ticket_keys_of: TicketKeys | None = None,
) -> tuple[Plan, runs.GradeRunRow, dict[str, Any]]:
    """Make the plan for the scope from a grade run of `pack` (the newest as of `as_of` unless `run_id`).

    Returns the plan, the grade run and the plan's input snapshot (what replay recomputes it from). A run that
    graded only some subjects (`suijian grade --subject`) is no population to draw from: by default the newest
    run of every subject is used, and such a run given as `run_id` is refused. The features are the grade run's
    own (computed again only for a run recorded without them).

    The working days come from the chinesecalendar library and the `calendar_files` (`suijian plan --calendar`,
    format in engine.plan.calendar); a period neither covers is refused before any feature is read. The days of
    the period's years are recorded in the snapshot (`calendar` table), so the plan replays without the files.
    `ticket_keys_of` is where the subjects' tickets are computed (`suijian plan --engine spark`: on Spark)."""
    calendar = work_calendar(calendar_files)
    run = _full_grade_run(conn, run_id, as_of)
    # A run graded before the pack hash covered the policy (suijian-pack-1) graded with the same rules.
    if run["pack_hash"] not in {pack.hash, *pack.hashes.values()}:
        raise InputError(
            f"grade run {run['id']} used pack {run['pack_name']} {run['pack_version']} ({run['pack_hash'][:12]}), "
            f"not {pack.name} {pack.version} ({pack.hash[:12]}); grade with this pack first or pass --pack"
        )
    if regions:
        known = store.existing_values(conn, "region", "code", regions)
        bad = [code for code in regions if code not in known]
        if bad:
            raise InputError(f"unknown region {bad[0]} (not in the region table); check the GB/T 2260 code")
    items = check_items(conn, item_codes)  # refused before any feature is read
    require_same_catalogue(pack, check_items(conn))  # the pack's catalogue is the authority (issue 12)
    calendar.require(period.start, period.end)  # so is a period without a working-day calendar
    policy = policy_for(pack, item_codes)
    # The planner gets only the columns it reads, the snapshot all of them (subjects_split): a city's frame has ~60
    # feature columns and the items' targets read about ten. The snapshot's are kept as Parquet bytes (zstd, ~60 MB
    # at guangzhou), hashed and stored from those bytes a column at a time, never read back whole (issue 15: the
    # plan's peak). The planner's frame is handed over, so the planner frees it after its first step instead of
    # holding it through the fit, staffing and schedule.
    with history_meanwhile(conn, as_of) as past_checks:
        planner, subjects_kept = subjects_split(
            conn, run["id"], as_of, pack, lambda columns: planner_columns(columns, items, policy), progress
        )
        handed = Handover(planner)
        del planner
        progress("roster and past checks", 0, 1)
        inspectors, conflicts = roster(conn)
        units = org_units(conn)
        past = past_checks()
    progress("roster and past checks", 1, 1)
    progress("draw and teams", 0, 1)
    plan = make_plan(
        handed,
        items,
        policy,
        inspectors,
        conflicts,
        past,
        seed=seed,
        period=period,
        as_of=as_of,
        regions=list(regions) if regions else None,
        fitted=True,
        units=units,
        calendar=calendar,
        ticket_keys_of=ticket_keys_of,
    )
    progress("draw and teams", 1, 1)
    # Whole calendar years, not just the period: the plans of one year (quarters, batches) then share one snapshot
    # blob, which at city scale is hundreds of MB; a calendar covers whole years anyway (library or file).
    days = calendar.table(dt.date(period.start.year, 1, 1), dt.date(period.end.year, 12, 31))
    return plan, run, record.plan_tables(subjects_kept, items, inspectors, conflicts, past, calendar=days, units=units)


def planner_columns(columns: Sequence[str], items: Sequence[CheckItemCreate], policy: PlanPolicy) -> list[str]:
    """Of a subjects frame's `columns`, those make_plan reads for these items under this policy, in their order:
    the planning columns, each item's target features, the sector grades its strata read, the frequencies, and
    days_since_registration (make_plan's check that the features are not from before the data)."""
    reads = {*PLANNING_COLUMNS, *policy.frequencies.values(), "days_since_registration"}
    for item in items:
        reads.update(item.target)
        ip = policy.item(item.code)
        reads.update(ip.grade_columns)
        if ip.grade_column is not None:
            reads.add(ip.grade_column)
    return [c for c in columns if c in reads]


def work_calendar(files: Sequence[CalendarFile | Path | str] = ()) -> WorkCalendar:
    """The working-day calendar: the library, plus the calendar files given (paths are read here; one line each
    for an unreadable or malformed file, or two files giving one year)."""
    return WorkCalendar(f if isinstance(f, CalendarFile) else CalendarFile.read(f) for f in files)


def plan_id_of(plan: Plan) -> tuple[str, str, str]:
    """(plan id, document, its hash): the id is derived from the content, so identical plans share it. The whole
    text: for small plans (tests, a preview's id); a commit uses `plan_document`. A fitted plan's id and hash are
    its plan/3 document's (as `suijian plan` commits it)."""
    document = plan_document(plan)
    return document.id, as_stored(plan).to_json(), document.sha256


def _plan_id(plan: Plan, digest: str) -> str:
    return f"P{plan.period.label}-{digest[:10]}"


@dataclass(frozen=True)
class PlanDocument:
    """A plan's document as the store keeps it: the id, its hash under `scheme` (plan/1, /2: the SHA-256 of its
    canonical text; plan/3: of its content), the stored bytes (zlib text, or engine.ledger.plan_columns' zip)."""

    id: str
    sha256: str
    compressed: bytes
    scheme: str = canonical.PLAN


def as_stored(plan: Plan) -> Plan:
    """The plan as new plans are stored: a fitted plan (plan/2 from the planner) as plan/3, columnar."""
    if plan.fitted and not plan.columnar:
        return plan.as_columnar()
    return plan


def plan_document(plan: Plan, scheme: str | None = None) -> PlanDocument:
    """The plan's document under `scheme` (None: as new plans are stored, `as_stored`), hashed as it is written.

    plan/3: the head as canonical JSON and the visits as Parquet row groups (engine.ledger.plan_columns). plan/1
    and /2 (replaying a plan recorded so): the canonical text compressed a batch of visits at a time, the same
    bytes as compressing `plan.to_json()` whole (zlib level 6), without the 312 MB text of a city's plan in memory
    at once."""
    if scheme is None:
        plan = as_stored(plan)
    elif scheme == canonical.PLAN3:
        plan = dataclasses.replace(plan, format=PLAN_FORMAT_COLUMNAR)
    elif scheme == canonical.PLAN2 and plan.columnar:
        plan = dataclasses.replace(plan, format=PLAN_FORMAT_FITTED)
    if plan.columnar:
        written = plan_columns.write(plan.head(), plan.visit_frames())
        return PlanDocument(_plan_id(plan, written.sha256), written.sha256, written.data, canonical.PLAN3)
    sha = hashlib.sha256()
    packer = zlib.compressobj(6)
    parts = []
    for piece in plan.json_pieces():
        data = piece.encode("utf-8")
        sha.update(data)
        parts.append(packer.compress(data))
    parts.append(packer.flush())
    digest = sha.hexdigest()
    return PlanDocument(_plan_id(plan, digest), digest, b"".join(parts), plan.document_scheme)


def save_plan(
    conn: Connection,
    plan: Plan,
    run: Mapping[str, Any],
    *,
    pack: Pack,
    tables: Mapping[str, Any],
    seed: str,
    regions: Sequence[str] | None,
    items: Sequence[str] | None,
    period: Period,
    as_of: dt.date,
    created_at: dt.datetime,
    actor: Identity,
    redraw_reason: str | None = None,
    scope: Mapping[str, Any] | None = None,
    progress: Progress = no_progress,
) -> tuple[str, bool]:
    """Commit the plan: draw-integrity checks, then the plan (compressed canonical JSON) and its ledger entry.

    Returns (plan id, whether it was new); an identical plan already committed (the same full SHA-256, not only
    the id's 10 digits) is not stored again and needs no check: nothing new is drawn. `scope` is
    engine.ledger.record.scope_of(regions, items, period) when the caller has it already.
    """
    require("plan", actor)
    # The inputs' snapshot is hashed and packed on a thread while the document is written (both mostly in polars,
    # zstd and hashlib, which release the GIL): at city scale each is seconds. Not waited for when nothing is
    # committed (the same plan again, or a refused draw).
    with _packed_meanwhile(tables) as packing:
        document = plan_document(plan)
        plan_id, digest = document.id, document.sha256
        if scope is None:
            scope = record.scope_of(regions, items, period)  # refuses a label too long for the plan id
        if len(seed) > SEED_MAX:
            raise InputError(f"seed is {len(seed)} characters long; the store keeps at most {SEED_MAX}")
        progress("commit", 0, 3)
        chain.lock(conn)  # before reading the plan row: a concurrent commit of the same plan is seen, not repeated
        stored = runs.plan_sha256(conn, plan_id)
        if stored == digest:
            return plan_id, False
        if stored is not None:
            raise InputError(
                f"plan id {plan_id} is taken by a different plan (hash {stored[:16]}…); change the period label"
            )
        subjects = tables.get("subjects")
        frozen = (
            record.frozen_tables(subjects, pack)
            if isinstance(subjects, pl.DataFrame | canonical.ParquetFrame)
            else None
        )
        pack_info = record.save_pack(conn, pack)
        details = record.check_draw(
            conn,
            scope=scope,
            seed=seed,
            grade_run_id=run["id"],
            actor=actor,
            reason=redraw_reason,
            frozen=frozen,
            pack_files_hash=pack_info["files_hash"],
        )
        progress("commit", 1, 3)
        store.bulk_insert(
            conn,
            "plan",
            [
                {
                    "id": plan_id,
                    "regions": ",".join(regions or ["*"]),
                    "period": period.label,
                    "period_start": period.start,
                    "period_end": period.end,
                    "as_of": as_of,
                    "seed": seed,
                    "grade_run_id": run["id"],
                    "pack_hash": run["pack_hash"],
                    "visits": len(plan.visits),
                    "sha256": digest,
                    "document": document.compressed,
                    "created_at": created_at,
                }
            ],
        )
        write_visit_rows(conn, plan_id, plan)  # the visits as rows, derived from the document in the same transaction
        progress("commit", 2, 3)
        record.plan(
            conn,
            plan_id=plan_id,
            document_sha256=digest,
            pack=pack,
            tables=tables,
            seed=seed,
            as_of=as_of,
            grade_run_id=run["id"],
            details=details,
            actor=actor,
            created_at=created_at,
            # The two figures the entry keeps, read off the plan: its whole summary is a second of a city's time.
            summary={"visits": len(plan.visits), "drawn": {i.code: i.drawn_count for i in plan.items}},
            pack_info=pack_info,
            outputs_scheme=document.scheme,
            packed=packing.result(),
        )
        progress("commit", 3, 3)
        return plan_id, True


@contextlib.contextmanager
def _packed_meanwhile(tables: Mapping[str, Any]) -> Iterator[Future[snapshot.Packed]]:
    """The plan snapshot's hash and container made on a thread while the caller goes on; dropped unwaited when
    the caller leaves without needing it."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plan-snapshot")
    try:
        yield pool.submit(snapshot.pack, tables, record.PLAN_SNAPSHOT)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def load_plan(conn: Connection, plan_id: str | None) -> tuple[str, Plan]:
    """A stored plan by id, or the newest one (a plan/3 document read a row group at a time)."""
    found = runs.plan_blob(conn, plan_id)
    if found is None:
        raise InputError(
            f"no plan {plan_id}; make one with `suijian plan`"
            if plan_id
            else "no plan in the store; run `suijian plan` first"
        )
    pid, blob, sha256 = found
    altered = InputError(f"plan {pid}: its stored document does not match its hash; run `suijian audit verify`")
    if plan_columns.is_columnar(blob):
        frames: list[pl.DataFrame] = []
        try:
            read = plan_columns.read(blob, frames.append)
        except plan_columns.DocumentUnreadable:
            raise altered from None
        if read.digest != sha256 or read.header is None:
            raise altered
        try:
            return pid, Plan.from_columns(read.header, frames)
        except (KeyError, TypeError, ValueError):
            raise altered from None
    doc = runs.plan_document(conn, pid)
    if doc is None or doc.text is None or not doc.intact:
        raise altered
    return doc.id, Plan.from_json(doc.text)


def plan_subject_details(conn: Connection, plan: Plan) -> pl.DataFrame:
    """Name, address and region of the subjects a plan visits (for the exported lists)."""
    usccs = {v.uscc for v in plan.visits} | {d.uscc for d in (*plan.uncovered, *plan.unstaffed)}
    return runs.subject_info(conn, usccs, columns=("uscc", "name", "address", "region"))
