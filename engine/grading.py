"""Grade every subject with a rule pack as of a date: classes, frequencies and task lists, with fired rule ids.

Partition-wise and exact: each partition of subjects is keyed by the cells of the features the pack reads
(`engine.rules.relevant_keys`); one representative per distinct key is evaluated on durable-rules and its
result fanned out to every subject with that key. Results identical in content share one outcome id, so the
store keeps per run a small outcome table and one (subject, outcome) row per subject.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.features.compute import feature_partitions, registered_after
from engine.ledger import chain, record
from engine.ledger.canonical import StreamedFrame, canonical_result
from engine.ledger.record import GradeRun
from engine.rules import Pack, Result, durable, relevant_keys
from engine.rules.keys import key_spec
from engine.version import ENGINE_VERSION
from entities import store
from entities.errors import InputError, RecordError
from entities.identity import Identity

__all__ = [  # canonical_result, GradeRun and ENGINE_VERSION live below grading (the ledger records them)
    "ENGINE_VERSION",
    "GradeRun",
    "Grading",
    "Outcome",
    "canonical_result",
    "grade_partitions",
    "grade_store",
    "label_of",
    "label_order",
    "outcomes_frame",
]


@dataclass(frozen=True)
class Outcome:
    """One distinct result of a pack: every output, the rule ids that fired, and errors (UNIQUE violations)."""

    id: int
    outputs: dict[str, Any]
    fired: tuple[str, ...]
    errors: tuple[str, ...]

    def canonical(self) -> str:
        return canonical_result(self.outputs, self.fired, self.errors)


@dataclass
class Grading:
    """The state of one grading run across partitions: the distinct outcomes found so far and every subject's."""

    pack: Pack
    as_of: dt.date
    outcomes: list[Outcome] = field(default_factory=list)
    _by_content: dict[str, int] = field(default_factory=dict)
    _by_key: dict[tuple[int, ...], int] = field(default_factory=dict)
    evaluations: int = 0  # pack evaluations (one per distinct rule-relevant input)
    # Engine calls are shared between those evaluations per chunk of rules (durable.ChunkMemo): `engine_calls`
    # counts the durable-rules calls actually made.
    _memo: durable.ChunkMemo = field(default_factory=durable.ChunkMemo)
    subjects: int = 0
    counts: Counter[int] = field(default_factory=Counter)

    def _outcome_of(self, result: Result) -> int:
        outputs = {k: _plain(v) for k, v in result.outputs.items()}
        content = canonical_result(outputs, result.fired, result.errors)
        found = self._by_content.get(content)
        if found is None:
            found = len(self.outcomes)
            self.outcomes.append(Outcome(found, outputs, tuple(result.fired), tuple(result.errors)))
            self._by_content[content] = found
        return found

    def grade_frame(self, frame: pl.DataFrame) -> np.ndarray:
        """Outcome ids for the rows of one feature partition (same order).

        A frame with a KEY column (`key_column`, computed where the partition was read) is keyed by it: only
        its representatives' rule-relevant keys are computed here."""
        if frame.height == 0:
            return np.zeros(0, dtype=np.int32)
        features = list(self.pack.features)
        if features and KEY in frame.columns:
            row_key, reps = _given_keys(frame.get_column(KEY).to_numpy())
            key_tuples = relevant_keys(self.pack, frame[reps]).rows()
        elif features:
            row_key, reps = _key_index(self.pack, frame)
            key_tuples = relevant_keys(self.pack, frame[reps]).rows()
        else:  # a pack that reads no feature decides the same for everybody
            row_key = np.zeros(frame.height, dtype=np.int64)
            reps, key_tuples = [0], [()]
        ids = np.empty(len(reps), dtype=np.int32)
        # Keys not met in earlier partitions (the keys of one partition are distinct), their representatives'
        # records taken in one call: a row at a time cost more than evaluating it.
        new = [k for k, key in enumerate(key_tuples) if key not in self._by_key]
        if new:
            columns = [c for c in features if c in frame.columns]
            records = frame.select(columns)[[reps[k] for k in new]].to_dicts()
            self.evaluate_keys([key_tuples[k] for k in new], records)
        for k, key in enumerate(key_tuples):
            ids[k] = self._by_key[key]
        per_row = ids[row_key]
        found = np.bincount(per_row)  # per outcome id (a Counter of 200,000 Python ints cost more)
        self.count({int(o): int(found[o]) for o in np.flatnonzero(found)})
        return per_row

    def evaluate_keys(self, keys: Sequence[tuple[int, ...]], records: Sequence[dict[str, Any]]) -> list[int]:
        """Outcome ids of distinct rule-relevant keys, each with the record of one subject that has it, evaluating
        on durable-rules the keys not met before, in the order given: new outcomes are numbered in that order, so
        keys given in the order of their first subject by USCC number outcomes as grading the partitions in USCC
        order does (engine/spark/grade.py relies on it)."""
        for key, values in zip(keys, records, strict=True):
            if key not in self._by_key:
                result = durable.evaluate(self.pack, values, self._memo)
                self.evaluations += 1
                self._by_key[key] = self._outcome_of(result)
        return [self._by_key[key] for key in keys]

    def count(self, per_outcome: Mapping[int, int]) -> None:
        """Add subjects graded elsewhere (a partition, a cluster's tasks): how many got each outcome id."""
        for outcome, n in per_outcome.items():
            self.subjects += n
            self.counts[outcome] += n

    @property
    def engine_calls(self) -> int:
        """durable-rules calls made so far (each distinct input of each chunk of rules, once)."""
        return self._memo.calls

    def distributions(self) -> dict[str, dict[str, int]]:
        """Per output: how many subjects got each value (list outputs: each element; empty lists as "(none)")."""
        dist: dict[str, Counter[str]] = {}
        for outcome in self.outcomes:
            n = self.counts.get(outcome.id, 0)
            if not n:
                continue
            for name, value in outcome.outputs.items():
                bucket = dist.setdefault(name, Counter())
                if isinstance(value, list):
                    for item in value or ["(none)"]:
                        bucket[str(item)] += n
                else:
                    bucket["(missing)" if value is None else label_of(value)] += n
            if outcome.errors:
                dist.setdefault("(errors)", Counter())["; ".join(outcome.errors)] += n
        return {k: dict(sorted(v.items(), key=lambda kv: label_order(kv[0]))) for k, v in sorted(dist.items())}


KEY = "_key"  # a feature partition's column of rule-relevant key numbers (key_column)


def _key_index(pack: Pack, frame: pl.DataFrame) -> tuple[np.ndarray, list[int]]:
    """Per row, the number of its rule-relevant key (`relevant_keys`), keys numbered in the order of their first
    row; and each key's first row."""
    features = list(pack.features)
    keys = relevant_keys(pack, frame).with_row_index("_row")
    firsts = keys.group_by(features, maintain_order=True).agg(pl.col("_row").first())
    key_index = keys.join(firsts.with_row_index("_k").drop("_row"), on=features, how="left", maintain_order="left")
    return key_index.get_column("_k").to_numpy(), firsts.get_column("_row").to_list()


def _given_keys(numbers: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """`_key_index` from a KEY column: its numbers may be any non-negative int64s (key_column's mixed-radix
    numbers, with gaps, in no particular order; rows of the partition may have been left out after it was keyed,
    `--subject`), so keys are renumbered by their first row here."""
    _, first, inverse = np.unique(numbers, return_index=True, return_inverse=True)
    order = np.argsort(first)  # the distinct numbers by their first row
    renumber = np.empty(len(first), dtype=np.int64)
    renumber[order] = np.arange(len(first))
    return renumber[inverse.reshape(-1)], first[order].tolist()


def key_column(pack: Pack, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with a KEY column last: the feature workers compute it beside the features, so the grading process
    computes the keys of one representative row per key only. The frame as it was where its keys cannot be
    computed (a value the pack refuses): the grading process then computes them and raises the error itself
    (a RecordError would not cross the process boundary intact)."""
    if not pack.features or frame.height == 0:
        return frame
    try:
        keys = relevant_keys(pack, frame)
    except RecordError:
        return frame
    return frame.with_columns(pl.Series(KEY, key_numbers(pack, keys)))


def key_numbers(pack: Pack, keys: pl.DataFrame) -> np.ndarray:
    """One int64 per row of `keys` (relevant_keys' frame), equal exactly for equal keys: the classes read as the
    digits of a mixed-radix number (each feature's radix one more than its largest class) where every key fits
    in 62 bits, else the keys' dense rank. Any numbering will do (_given_keys renumbers by first row); the
    digits cost a multiply-add per feature and row where the rank sorted the rows (≈ 0.2 CPU s of a worker's
    200,000-subject partition at guangzhou, whose 38 features take 51 bits)."""
    spec = key_spec(pack)
    radices = [max(classes) + 1 for classes in spec.classes]
    if spec.features != tuple(keys.columns) or min(min(c) for c in spec.classes) < 0 or math.prod(radices) >= 1 << 62:
        # A dense rank of the keys took ≈ 40 MB less of a worker's memory than numbering them by first row.
        return keys.select(pl.struct(keys.columns).rank("dense").cast(pl.Int64)).to_series().to_numpy()
    number = np.zeros(keys.height, dtype=np.int64)
    for name, radix in zip(spec.features, radices, strict=True):
        number *= radix
        number += keys.get_column(name).to_numpy()
    return number


def label_order(label: str) -> tuple[int, float, str]:
    """Numbers in numeric order first, then labels alphabetically (A, B, C, D), then (missing)/(none)."""
    try:
        return (0, float(label), "")
    except ValueError:
        return (2 if label.startswith("(") else 1, 0.0, label)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def label_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_pack_date(pack: Pack, as_of: dt.date) -> None:
    if not pack.in_force(as_of):
        until = pack.effective_to.isoformat() if pack.effective_to else "open-ended"
        raise InputError(
            f"rule pack {pack.name} {pack.version} is in force {pack.effective_from} to {until}, not on {as_of}; "
            "pass another --as-of or --pack"
        )


def grade_partitions(
    conn: Connection,
    pack: Pack,
    as_of: dt.date,
    *,
    usccs: Sequence[str] | None = None,
    partition_size: int = 200_000,
    url: str | None = None,
    workers: int = 1,
    regions: bool = False,
    keyed: bool = False,
) -> Iterator[tuple[Grading, pl.DataFrame, np.ndarray]]:
    """Grade the store's subjects partition by partition; yields the running state, the partition's features and outcome ids.

    With `regions`, each frame also has the subjects' `region` as its last column (feature_partitions); with
    `keyed`, a KEY column after it (computed where the partition is read: key_column)."""
    check_pack_date(pack, as_of)
    grading = Grading(pack, as_of)
    for frame in feature_partitions(
        conn,
        as_of,
        partition_size=partition_size,
        usccs=usccs,
        url=url,
        workers=workers,
        regions=regions,
        finish=functools.partial(key_column, pack) if keyed else None,
    ):
        yield grading, frame, grading.grade_frame(frame)


def new_run_id(conn: Connection, as_of: dt.date, pack: Pack) -> str:
    """The next grade run's id (call under the ledger lock: it counts the runs)."""
    runs = store.count_rows(conn, "grade_run")
    return f"G{as_of:%Y%m%d}-{pack.hash[:8]}-{runs + 1:04d}"


def grade_store(
    conn: Connection,
    pack: Pack,
    as_of: dt.date,
    *,
    created_at: dt.datetime,
    usccs: Sequence[str] | None = None,
    partition_size: int = 200_000,
    actor: Identity,
    on_partition: Callable[[int], object] | None = None,
    url: str | None = None,
    workers: int = 1,
) -> GradeRun:
    """Grade (all or `usccs`) subjects and store the run, its outcomes and every subject's outcome, in one transaction.

    The run is a ledger entry: the features the pack read (the input snapshot), the pack version, the hash of
    every subject's outputs and who ran it, so `suijian replay` can recompute it after the data has changed.
    """
    grading: Grading | None = None
    # The ledger lock before the run id: the id counts the runs, so a concurrent grade must wait for this one
    # to commit (and then count it) rather than choose the same id.
    chain.lock(conn)
    run_id = new_run_id(conn, as_of, pack)
    # The snapshot's tables and the features kept for plans are hashed and compressed a partition at a time
    # (StreamedFrame): the run never holds a city's features whole. Partitions arrive in USCC order.
    features = StreamedFrame()
    regions = StreamedFrame()
    kept = StreamedFrame()  # the other features: a plan from this run reads them instead of computing them
    results: list[pl.DataFrame] = []
    # A partition's grade_result rows are inserted (SQLite: in a thread) while the next partition is graded and
    # hashed, where nothing else uses `conn` meanwhile: feature workers read the store through their own connections.
    with _ResultInserts(conn, run_id, background=workers > 1 and url is not None) as inserts:
        for state, frame, ids in grade_partitions(
            conn,
            pack,
            as_of,
            usccs=usccs,
            partition_size=partition_size,
            url=url,
            workers=workers,
            regions=True,
            keyed=True,
        ):
            grading = state
            # The regions come with the features, read by the process that read the partition.
            found = frame.select("uscc", "region")
            frame = frame.drop("region", KEY, strict=False)
            uscc = frame.get_column("uscc")
            frozen = record.frozen_features(frame, pack)
            features.add(frozen)
            kept.add(frame.select("uscc", *(c for c in frame.columns if c not in frozen.columns)))
            if frame.height:
                regions.add(found)
            part = pl.DataFrame({"uscc": uscc, "outcome": ids.astype(np.int64)})
            results.append(part)
            inserts.add(part)
            if on_partition is not None:
                on_partition(frame.height)
            del frame, frozen
    registered_later = registered_after(conn, as_of, usccs)
    return store_run(
        conn,
        run_id,
        pack,
        as_of,
        grading,
        registered_later=registered_later,
        created_at=created_at,
        actor=actor,
        usccs=usccs,
        frozen={"features": features, "regions": regions},  # record.frozen_tables, a partition at a time
        results=pl.concat(results, how="vertical") if results else pl.DataFrame(),
        plan_features=None if usccs else kept,  # plans draw from full runs only
    )


class _ResultInserts:
    """A grade run's grade_result rows, inserted a partition at a time (store.insert_frame).

    With `background`, each partition's insert runs in one thread while the caller goes on (on SQLite the
    statement runs without the GIL, beside the grading and hashing of the next partition): the caller must not
    use the connection until the block ends. At most one insert is under way; the block's end waits for it and
    raises its error."""

    def __init__(self, conn: Connection, run_id: str, *, background: bool) -> None:
        self._conn = conn
        self._run_id = run_id
        self._pool = ThreadPoolExecutor(max_workers=1) if background and conn.dialect.name == "sqlite" else None
        self._pending: Future[int] | None = None

    def __enter__(self) -> _ResultInserts:
        return self

    def add(self, part: pl.DataFrame) -> None:
        """Insert `part` (uscc, outcome) after the partition before it."""
        self._wait()
        if self._pool is None:
            store.insert_frame(self._conn, "grade_result", part, {"run_id": self._run_id})
        else:
            self._pending = self._pool.submit(
                store.insert_frame, self._conn, "grade_result", part, {"run_id": self._run_id}
            )

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        # The insert under way is waited for even when the block failed: the caller rolls the transaction back
        # next, which must not happen beside a statement of it. Its own error then gives way to the block's.
        try:
            if error is None:
                self._wait()
            elif self._pending is not None:
                wait([self._pending])
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)


def store_run(
    conn: Connection,
    run_id: str,
    pack: Pack,
    as_of: dt.date,
    grading: Grading | None,
    *,
    registered_later: int,
    created_at: dt.datetime,
    actor: Identity,
    usccs: Sequence[str] | None,
    frozen: Mapping[str, Any],
    results: pl.DataFrame,
    plan_features: Any,
    snapshot: record.SnapshotRef | None = None,
) -> GradeRun:
    """Store a graded run (its grade_result rows already written): the outcomes, the run row and its ledger entry.

    Shared by the single-machine path and the Spark path (engine/spark/grade.py), so both record a run alike;
    `snapshot` is a snapshot stored elsewhere (snapshot-3 Parquet files) instead of `frozen` kept as a blob."""
    if grading is None or grading.subjects == 0:
        if registered_later:
            raise InputError(
                f"no subjects to grade as of {as_of}: the {registered_later:,} in the store (or of --subject) were "
                "registered after it; choose a later --as-of"
            )
        raise InputError(
            "no subjects to grade: the store holds none (or none of --subject); import or run `suijian demo`"
        )
    store.bulk_insert(
        conn,
        "grade_outcome",
        [
            {"run_id": run_id, "outcome": o.id, "outputs": o.outputs, "fired": list(o.fired), "errors": list(o.errors)}
            for o in grading.outcomes
        ],
    )
    run = GradeRun(
        id=run_id,
        as_of=as_of,
        pack_name=pack.name,
        pack_version=pack.version,
        pack_hash=pack.hash,
        subjects=grading.subjects,
        outcomes=len(grading.outcomes),
        evaluations=grading.evaluations,
        distributions=grading.distributions(),
        errors=sum(grading.counts.get(o.id, 0) for o in grading.outcomes if o.errors),
        registered_later=registered_later,
    )
    store.bulk_insert(
        conn,
        "grade_run",
        [
            {
                "id": run_id,
                "as_of": as_of,
                "pack_name": pack.name,
                "pack_version": pack.version,
                "pack_hash": pack.hash,
                "engine_version": ENGINE_VERSION,
                "subjects": run.subjects,
                "outcomes": run.outcomes,
                "created_at": created_at,
            }
        ],
    )
    record.grade_run(
        conn,
        run,
        pack,
        actor=actor,
        created_at=created_at,
        usccs=usccs,
        frozen=frozen,
        results=results,
        outcomes={o.id: o.canonical() for o in grading.outcomes},
        plan_features=plan_features,
        snapshot=snapshot,
    )
    return run


def outcomes_frame(conn: Connection, run_id: str, usccs: Iterable[str] | None = None) -> pl.DataFrame:
    out_t, res_t = store.table("grade_outcome"), store.table("grade_result")
    outcomes = {
        o: outputs
        for o, outputs in conn.execute(sa.select(out_t.c.outcome, out_t.c.outputs).where(out_t.c.run_id == run_id))
    }
    stmt = sa.select(res_t.c.uscc, res_t.c.outcome).where(res_t.c.run_id == run_id).order_by(res_t.c.uscc)
    if usccs is not None:
        stmt = stmt.where(res_t.c.uscc.in_(list(usccs)))
    rows = conn.execute(stmt).all()
    names = sorted({k for o in outcomes.values() for k in o})
    return pl.DataFrame(
        {"uscc": [u for u, _ in rows], **{n: [outcomes[o].get(n) for _, o in rows] for n in names}},
        strict=False,
    )
