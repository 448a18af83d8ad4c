"""Replay (回放) a recorded run: recompute it from the ledger, never the live data, and compare exactly.

A grade run is recomputed from its input snapshot (the features the pack read) and the stored pack version; a
plan from its snapshot (subjects with their grades, check items, roster, conflicts, past checks), the pack's
plan policy, and the seed, period, regions and as-of date its ledger entry records. The recomputed outputs are
hashed as they were at recording time and compared with the entry's outputs_hash and with the outputs the store
holds now; any difference is named (the subject and output, or the place in the plan document).

Only the ledger, its blobs (snapshots and pack versions) and the recorded outputs are read: the subjects,
results and rule files of today do not enter, so a replay still holds after the data changed or another pack
became active. Explaining one subject as a run decided it is engine.replay.explain_run.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy.engine import Connection

from engine.grading import Grading, canonical_result
from engine.ledger import canonical, chain, outputs, packs, plan_columns, plan_reader, runs, snapshot
from engine.ledger.canonical import Table
from engine.plan import Period, Plan, PlanPolicy, make_plan
from engine.plan.calendar import RecordedCalendar, WorkCalendar
from engine.plan.fitted import Handover
from engine.plan.model import PLAN_FORMAT_COLUMNAR
from engine.planning import join_graded, parse_period, plan_document, planning_columns, policy_for
from engine.progress import Progress, no_progress
from engine.rules import Pack
from entities.errors import InputError
from entities.models import CheckItemCreate, ConflictCreate, InspectorCreate, OrgUnitCreate

REPLAYABLE = ("grade", "plan")
SHOW = 20  # differences listed in full; the rest are counted
_BATCH = 200_000  # subjects graded at a time, as `suijian grade` does


@dataclass(frozen=True)
class Difference:
    """One value the replay computed differently from what is recorded: where (a subject or a place in the plan),
    what (an output name, or a field), and both values."""

    where: str
    what: str
    recorded: Any
    replayed: Any

    def as_dict(self) -> dict[str, Any]:
        return {"where": self.where, "what": self.what, "recorded": self.recorded, "replayed": self.replayed}


@dataclass(frozen=True)
class ReplayReport:
    """What a replay recomputed, and whether it matches the ledger and the stored outputs exactly."""

    run_id: str
    kind: str
    as_of: str | None
    seed: str | None
    pack: Mapping[str, str]
    snapshot_hash: str
    ledger_hash: str  # the outputs_hash the ledger entry records
    replayed_hash: str
    stored_hash: str | None  # the hash of the outputs the store holds now (None: they are gone)
    counts: Mapping[str, int]  # what was recomputed: subjects, outcomes / subjects, items, visits
    differing: int = 0  # grade: subjects whose outcome differs; plan: values that differ
    differences: tuple[Difference, ...] = ()  # the first SHOW subjects' (grade) or SHOW values (plan)
    only_recorded: tuple[str, ...] = ()  # subjects (grade) or visits (plan) recorded but not replayed (first SHOW)
    only_replayed: tuple[str, ...] = ()
    only_recorded_count: int = 0
    only_replayed_count: int = 0
    notes: tuple[str, ...] = ()
    versions: tuple[tuple[str, str | None, str], ...] = ()  # (name, recorded, now) where they differ
    graded_mismatch: int = 0  # plan: subjects whose grade columns in the snapshot differ from the grade run's

    @property
    def identical(self) -> bool:
        return (
            self.replayed_hash == self.ledger_hash and self.stored_hash == self.ledger_hash and not self.graded_mismatch
        )

    def summary(self) -> str:
        """One line: what differs, for an error message."""
        if self.identical:
            return f"replay of {self.run_id} is identical"
        parts = []
        if self.replayed_hash != self.ledger_hash:
            parts.append("the recomputed outputs differ from the ledger")
        if self.stored_hash != self.ledger_hash:
            parts.append(
                "the stored outputs no longer match the ledger"
                if self.stored_hash
                else "the stored outputs are missing"
            )
        if self.graded_mismatch:
            parts.append(
                f"the plan drew with other grade outputs than its grade run's for {self.graded_mismatch:,} subjects"
            )
        unit = "subjects" if self.kind == "grade" else "values"
        return f"replay of {self.run_id} is NOT identical: {'; '.join(parts)} ({self.differing:,} {unit} differ)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "identical": self.identical,
            "as_of": self.as_of,
            "seed": self.seed,
            "pack": dict(self.pack),
            "snapshot_hash": self.snapshot_hash,
            "outputs_hash": {"ledger": self.ledger_hash, "replayed": self.replayed_hash, "stored": self.stored_hash},
            "recomputed": dict(self.counts),
            "graded_mismatch": self.graded_mismatch,
            "differences": {
                "count": self.differing,
                "shown": [d.as_dict() for d in self.differences],
                "only_recorded": {"count": self.only_recorded_count, "shown": list(self.only_recorded)},
                "only_replayed": {"count": self.only_replayed_count, "shown": list(self.only_replayed)},
            },
            "notes": list(self.notes),
            "versions": [{"name": n, "recorded": r, "now": c} for n, r, c in self.versions],
        }


# -- the entry and its inputs ------------------------------------------------------------------------------------


def entry_of(conn: Connection, run_id: str) -> chain.Entry:
    """The ledger entry of a grade run or plan, or one line saying what can be replayed."""
    entry = chain.find(conn, run_id.strip())
    if entry is None:
        raise InputError(
            f"no run {run_id} in the ledger; grade runs (G…) and plans (P…) are named by `suijian grade` and "
            "`suijian plan`"
        )
    if entry.kind not in REPLAYABLE:
        raise InputError(
            f"{run_id} is a {entry.kind} entry of the ledger; only grade runs (G…) and plans (P…) can be replayed"
        )
    for key in ("snapshot_hash", "outputs_hash", "pack", "as_of"):
        if not entry.get(key):
            raise InputError(f"ledger entry {run_id} records no {key}; it cannot be replayed")
    return entry


@contextmanager
def recorded_pack(conn: Connection, entry: chain.Entry) -> Iterator[Pack]:
    """The pack version the run used, restored from the store (never today's rule files)."""
    info = entry.get("pack") or {}
    if not info.get("files_hash"):
        raise InputError(f"ledger entry {entry.run_id} records no pack version (files hash); it cannot be replayed")
    scheme = entry.schemes.get("pack", canonical.PACK_1)  # a 0.1.0 entry's legacy set names pack-1
    with packs.restored(conn, info["files_hash"], info.get("hash"), scheme) as pack:
        yield pack


def entry_as_of(entry: chain.Entry) -> dt.date:
    """The as-of date the entry records."""
    return dt.date.fromisoformat(entry.get("as_of"))


def pack_of(entry: chain.Entry) -> dict[str, str]:
    """Name, version, hash and files hash of the pack version the entry records."""
    info = entry.get("pack") or {}
    return {k: str(info.get(k, "")) for k in ("name", "version", "hash", "files_hash")}


def _version_changes(entry: chain.Entry) -> tuple[tuple[str, str | None, str], ...]:
    recorded = entry.get("versions") or {}
    now = chain.versions()
    return tuple((name, recorded.get(name), now[name]) for name in sorted(now) if recorded.get(name) != now[name])


def _short(value: Any, width: int = 80) -> Any:
    """A value as recorded, or its compact JSON cut to `width` when it is a long structure (for listings)."""
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return value if len(text) <= width else text[: width - 1] + "…"
    return value


# -- grade runs --------------------------------------------------------------------------------------------------


def regrade(
    pack: Pack, as_of: dt.date, features: pl.DataFrame, progress: Progress = no_progress
) -> tuple[pl.DataFrame, Grading]:
    """Every subject's outcome id for the snapshot's features (uscc, outcome), and the grading state."""
    grading = Grading(pack, as_of)
    parts = []
    for start in range(0, features.height, _BATCH):
        frame = features.slice(start, _BATCH)
        ids = grading.grade_frame(frame)
        parts.append(pl.DataFrame({"uscc": frame.get_column("uscc"), "outcome": ids.astype(np.int64)}))
        progress("grading", start + frame.height, features.height)
    results = (
        pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema={"uscc": pl.String, "outcome": pl.Int64})
    )
    return results, grading


def _schemes(entry: chain.Entry) -> dict[str, str]:
    """The hashing schemes the entry was written with (its `schemes`, or the legacy set): a replay hashes with
    those, so an entry of an older scheme replays as it was recorded; an unknown one is one line (UnknownScheme)."""
    return entry.schemes


def recorded_features(conn: Connection, entry: chain.Entry) -> pl.DataFrame:
    """The features frame of a grade run's input snapshot (what the pack read), as recorded."""
    tables = snapshot.load(conn, entry.get("snapshot_hash"), _schemes(entry).get("snapshot", canonical.SNAPSHOT))
    frame = tables.get("features")
    if not isinstance(frame, pl.DataFrame) or "uscc" not in frame.columns:
        raise InputError(f"snapshot {entry.get('snapshot_hash')[:12]} of {entry.run_id} holds no features frame")
    return frame


def _replay_grade(conn: Connection, entry: chain.Entry, limit: int, progress: Progress) -> ReplayReport:
    schemes = _schemes(entry)
    outcome_scheme = schemes.get("outcome", canonical.OUTCOME)
    outputs_scheme = schemes.get("outputs", canonical.GRADE_OUTPUTS)
    features = recorded_features(conn, entry)
    with recorded_pack(conn, entry) as pack:
        results, grading = regrade(pack, entry_as_of(entry), features, progress)
    canon = {o.id: canonical.canonical_result(o.outputs, o.fired, o.errors, outcome_scheme) for o in grading.outcomes}
    replayed_hash = outputs.grade_outputs_hash(results, canon, outputs_scheme)
    stored_results, stored_canon, stored_parts = outputs.stored_grade_outputs(
        conn, entry.run_id, outcome_scheme, subjects=results.height
    )
    stored_hash = (
        outputs.grade_outputs_hash(stored_results, stored_canon, outputs_scheme) if stored_results.height else None
    )
    ledger_hash = entry.get("outputs_hash")
    notes: list[str] = []
    if replayed_hash != ledger_hash:
        notes.append("the recomputed outputs do not hash to the ledger's outputs_hash")
    if stored_hash is None:
        notes.append(f"the store holds no outputs for {entry.run_id} any more (grade_result rows deleted)")
    elif stored_hash != ledger_hash:
        notes.append(
            f"the outputs stored for {entry.run_id} hash to {stored_hash[:12]}, not the ledger's "
            f"{ledger_hash[:12]}: the store was edited after the run"
        )
    report = ReplayReport(
        run_id=entry.run_id,
        kind="grade",
        as_of=entry.get("as_of"),
        seed=None,
        pack=pack_of(entry),
        snapshot_hash=entry.get("snapshot_hash"),
        ledger_hash=ledger_hash,
        replayed_hash=replayed_hash,
        stored_hash=stored_hash,
        counts={"subjects": results.height, "outcomes": len(grading.outcomes), "evaluations": grading.evaluations},
        notes=tuple(notes),
        versions=_version_changes(entry),
    )
    if report.identical:
        return report
    outcomes = {
        o.id: {"outputs": o.outputs, "fired": list(o.fired), "errors": list(o.errors)} for o in grading.outcomes
    }
    return replace(
        report, **_grade_differences(results, canon, outcomes, stored_results, stored_canon, stored_parts, limit)
    )


def _grade_differences(
    results: pl.DataFrame,
    canon: Mapping[int, str],
    parts: Mapping[int, dict[str, Any]],
    stored: pl.DataFrame,
    stored_canon: Mapping[int, str],
    stored_parts: Mapping[int, dict[str, Any]],
    limit: int,
) -> dict[str, Any]:
    """Per subject, the replayed outcome against the stored one: which subjects and outputs differ."""

    def digested(frame: pl.DataFrame, texts: Mapping[int, str]) -> pl.DataFrame:
        return frame.with_columns(
            pl.col("outcome").replace_strict(dict(texts), default=None, return_dtype=pl.String).alias("text")
        )

    mine = digested(results, canon)
    theirs = digested(stored, stored_canon)
    joined = mine.join(theirs, on="uscc", how="full", coalesce=True, suffix="_stored")
    only_replayed = joined.filter(pl.col("outcome_stored").is_null()).get_column("uscc").sort()
    only_recorded = joined.filter(pl.col("outcome").is_null()).get_column("uscc").sort()
    both = joined.filter(pl.col("outcome").is_not_null() & pl.col("outcome_stored").is_not_null())
    differ = both.filter(pl.col("text").ne_missing(pl.col("text_stored"))).sort("uscc")
    shown: list[Difference] = []
    for uscc, mine_id, theirs_id in differ.head(limit).select("uscc", "outcome", "outcome_stored").iter_rows():
        now = parts[mine_id]
        then = stored_parts.get(theirs_id, {"outputs": {}, "fired": [], "errors": []})
        if theirs_id not in stored_parts:
            shown.append(Difference(uscc, "(outcome)", f"outcome {theirs_id} is missing", _short(now)))
            continue
        for name in sorted(set(now["outputs"]) | set(then["outputs"])):
            a, b = then["outputs"].get(name, "(absent)"), now["outputs"].get(name, "(absent)")
            if canonical_result({"v": a}, [], []) != canonical_result({"v": b}, [], []):
                shown.append(Difference(uscc, name, a, b))
        for what in ("fired", "errors"):
            if list(then[what]) != list(now[what]):
                shown.append(Difference(uscc, what, list(then[what]), list(now[what])))
    return {
        "differing": differ.height + only_recorded.len() + only_replayed.len(),
        "differences": tuple(shown),
        "only_recorded": tuple(only_recorded.head(limit).to_list()),
        "only_replayed": tuple(only_replayed.head(limit).to_list()),
        "only_recorded_count": only_recorded.len(),
        "only_replayed_count": only_replayed.len(),
    }


# -- plans -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanInputs:
    """A plan's inputs as recorded: the snapshot's tables turned back into what make_plan takes."""

    subjects: pl.DataFrame
    items: list[CheckItemCreate]
    inspectors: list[InspectorCreate]
    conflicts: list[ConflictCreate]
    history: pl.DataFrame
    seed: str
    period: Period
    as_of: dt.date
    regions: list[str] | None
    # The working days the plan was scheduled with, rebuilt from the snapshot's calendar table; None for plans
    # recorded without one (suijian.plan/1: no schedule).
    calendar: WorkCalendar | None = None
    units: list[OrgUnitCreate] = field(default_factory=list)  # the unit table, when the plan had one


def _records(tables: Mapping[str, Table], name: str, model: Any, key: Any) -> list[Any]:
    rows = tables.get(name)
    if not isinstance(rows, list):
        raise InputError(f"the plan snapshot holds no {name} records")
    return sorted((model.model_validate(r) for r in rows), key=key)


def _period(scope: Mapping[str, Any], kind: str | None = None) -> Period:
    """The plan's period from its ledger scope (label, first and last day).

    The scope does not say whether "2026Q1" was a quarter or a batch of the same days, so the kind comes from the
    stored plan document when its period has the same label and days; a forged kind only makes the replay differ.
    """
    p = scope["period"]
    start, end = dt.date.fromisoformat(p["start"]), dt.date.fromisoformat(p["end"])
    if kind in ("year", "quarter", "batch"):
        return Period.model_validate({"kind": kind, "label": p["label"], "start": start, "end": end})
    try:
        parsed = parse_period(p["label"])
        if parsed.start == start and parsed.end == end:
            return parsed
    except InputError:
        pass
    return Period.batch(p["label"], start, end)


def _recorded_kind(text: str | None, scope: Mapping[str, Any], header: Mapping[str, Any] | None = None) -> str | None:
    """The period kind of the stored document (its text, or its keys as plan_reader read them) if it is this
    scope's period."""
    try:
        period = header.get("period") if header is not None else json.loads(text)["period"] if text else None
    except (json.JSONDecodeError, KeyError, TypeError):
        return None
    p = scope["period"]
    if isinstance(period, dict) and all(period.get(k) == p[k] for k in ("label", "start", "end")):
        return str(period.get("kind"))
    return None


def plan_snapshot(conn: Connection, entry: chain.Entry) -> dict[str, Table]:
    """The plan's input snapshot, checked against the hash its entry records (engine.ledger.snapshot.load)."""
    return snapshot.load(conn, entry.get("snapshot_hash"), _schemes(entry).get("snapshot", canonical.SNAPSHOT))


def plan_inputs(
    conn: Connection,
    entry: chain.Entry,
    document: runs.PlanDocument | None = None,
    *,
    header: Mapping[str, Any] | None = None,
    tables: Mapping[str, Table] | None = None,
) -> PlanInputs:
    """A plan's recorded inputs; `document` is the stored plan (runs.plan_document), or `header` its keys but the
    visits (engine.ledger.plan_reader), read here when neither is given. `tables`: the plan's input snapshot as
    `plan_snapshot` loaded it (read here when not given)."""
    if document is None and header is None:
        document = runs.plan_document(conn, entry.run_id)
    if tables is None:
        tables = plan_snapshot(conn, entry)
    scope = entry.details.get("scope")
    if not isinstance(scope, dict) or "period" not in scope:
        raise InputError(f"ledger entry {entry.run_id} records no scope (period, regions); it cannot be replayed")
    subjects, history = tables.get("subjects"), tables.get("history")
    if not isinstance(subjects, pl.DataFrame) or not isinstance(history, pl.DataFrame):
        raise InputError(f"the snapshot of {entry.run_id} holds no subjects or history frame")
    if not entry.get("seed"):
        raise InputError(f"ledger entry {entry.run_id} records no seed; it cannot be replayed")
    regions = scope.get("regions") or ["*"]
    days = tables.get("calendar")
    if days is not None and not isinstance(days, list):
        raise InputError(f"the snapshot of {entry.run_id} holds a calendar that is not a table of days")
    calendar = None if days is None else RecordedCalendar.from_table(days, f"the calendar recorded with {entry.run_id}")
    return PlanInputs(
        subjects=subjects,
        items=_records(tables, "items", CheckItemCreate, lambda i: i.code),
        inspectors=_records(tables, "inspectors", InspectorCreate, lambda i: i.id),
        conflicts=_records(tables, "conflicts", ConflictCreate, lambda c: (c.inspector_id, c.uscc)),
        history=history,
        seed=entry.get("seed"),
        period=_period(scope, _recorded_kind(document.text if document is not None else None, scope, header)),
        as_of=entry_as_of(entry),
        regions=None if regions == ["*"] else list(regions),
        calendar=calendar,
        units=_records(tables, "units", OrgUnitCreate, lambda u: u.name) if "units" in tables else [],
    )


GradeReference = Callable[[], tuple[pl.DataFrame, dict[int, dict[str, Any]]] | None]
"""A grade run's stored results (uscc, outcome) and its outcomes' parts, when they still hash to its entry's
outputs_hash (None: no grade run, or outputs edited since), as a function to call for them (grade_reference)."""


def grade_reference(conn: Connection, entry: chain.Entry, pool: Executor | None = None) -> GradeReference:
    """The plan's grade run's outputs as a reference for graded_mismatch. Its outcomes are read now (with `conn`);
    a city's 3.3 M results are read in a child process through Arrow and hashed in `pool`, while the caller loads
    the plan's snapshot (a replay's wall time: the two no longer wait for each other); without `pool`, or when the
    child cannot read them, they are read when the function is called, in the caller's thread."""
    run_id = entry.details.get("grade_run")
    grade = chain.find(conn, str(run_id)) if run_id else None
    if grade is None:
        return lambda: None
    # Only outputs that still match their own ledger entry are a reference; edited ones are the grade run's
    # replay to report (`suijian replay GRADE_RUN`), not this plan's.
    grade_schemes = _schemes(grade)
    outputs_scheme = grade_schemes.get("outputs", canonical.GRADE_OUTPUTS)
    canon, parts = outputs.stored_outcomes(conn, str(run_id), grade_schemes.get("outcome", canonical.OUTCOME))
    # The entry says how many subjects the run graded: a city's are read in a child process, not as tuples.
    count = grade.details.get("subjects")
    read = outputs.results_in_child(conn, str(run_id), count if isinstance(count, int) else 0)

    def matching(results: pl.DataFrame) -> bool:
        return outputs.grade_outputs_hash(results, canon, outputs_scheme) == grade.get("outputs_hash")

    def in_child() -> tuple[pl.DataFrame, bool] | None:
        assert read is not None
        results = read()
        return None if results is None else (results, matching(results))

    future = pool.submit(in_child) if read is not None and pool is not None else None

    def reference() -> tuple[pl.DataFrame, dict[int, dict[str, Any]]] | None:
        found = future.result() if future is not None else in_child() if read is not None else None
        if found is None:
            results = outputs.stored_results(conn, str(run_id))
            found = results, matching(results)
        results, same = found
        return (results, parts) if same else None

    return reference


def graded_mismatch(
    conn: Connection,
    entry: chain.Entry,
    pack: Pack,
    subjects: pl.DataFrame,
    reference: GradeReference | None = None,
) -> tuple[int, list[str]]:
    """Subjects whose grade columns in a plan's snapshot (credit class, mandatory items, risk, grades) are not
    what its grade run recorded: the snapshot is a copy, so it is tied back to the run `audit verify` checks.
    `reference`: grade_reference(conn, entry) made beforehand (made here when not given)."""
    found = (reference or grade_reference(conn, entry))()
    if found is None:
        return 0, []
    results, parts = found
    del found
    columns = planning_columns(pack, ((k, v["outputs"], v["fired"]) for k, v in parts.items()))
    return mismatched(subjects, results, columns)


def mismatched(
    subjects: pl.DataFrame, results: pl.DataFrame, columns: pl.DataFrame, *, rows: int | None = None
) -> tuple[int, list[str]]:
    """How many subjects' planning columns differ from their outcome's (`results`: uscc, outcome; `columns`:
    planning_columns, by _outcome) — a subject the run did not grade differs where it has a value — and the first
    three such USCCs.

    A slice of `rows` subjects at a time: joined whole, every subject's columns twice, its mandatory lists included,
    held ~1.5 GB at city scale while the plan was drawn again. The results sorted by USCC give each slice its
    range of them (a snapshot lists its subjects by USCC)."""
    cols = [c for c in columns.columns if c != "_outcome" and c in subjects.columns]
    if not cols:
        return 0, []
    columns = columns.select("_outcome", *cols)
    results = results.rename({"outcome": "_outcome"}).sort("uscc")
    usccs = results.get_column("uscc")
    step = rows or _MISMATCH_SLICE
    differing = 0
    examples: list[pl.Series] = []
    for start in range(0, subjects.height, step):
        part = subjects.slice(start, step).select("uscc", *cols)
        keys = part.get_column("uscc").drop_nulls()
        ran = results.head(0)
        if keys.len():
            low = int(usccs.search_sorted(pl.Series([keys.min()]), "left")[0])
            high = int(usccs.search_sorted(pl.Series([keys.max()]), "right")[0])
            ran = results.slice(low, high - low)
        joined = part.join(join_graded(ran, columns), on="uscc", how="left", suffix="_run")
        differs = joined.filter(pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"{c}_run")) for c in cols))
        differing += differs.height
        examples.append(differs.get_column("uscc").sort().head(3))
    return differing, pl.concat(examples).sort().head(3).to_list() if examples else []


_MISMATCH_SLICE = 250_000


def remake_plan(
    inputs: PlanInputs, policy: PlanPolicy, scheme: str = canonical.PLAN, *, subjects: Handover | None = None
) -> Plan:
    """The plan again from its inputs, by the planner its document format names (plan/1 unfitted, plan/2 and /3
    fitted), in that format. `subjects`: the inputs' subjects handed over (the caller no longer holds them), so
    the planner frees them once it has made its cells."""
    plan = make_plan(
        subjects if subjects is not None else inputs.subjects,
        inputs.items,
        policy,
        inputs.inspectors,
        inputs.conflicts,
        inputs.history,
        seed=inputs.seed,
        period=inputs.period,
        as_of=inputs.as_of,
        regions=inputs.regions,
        fitted=scheme in (canonical.PLAN2, canonical.PLAN3),
        units=inputs.units,
        calendar=inputs.calendar,
    )
    return replace(plan, format=PLAN_FORMAT_COLUMNAR) if scheme == canonical.PLAN3 else plan


def scope_items(entry: chain.Entry) -> list[str] | None:
    """The check items a plan was drawn for (None: all), so replay applies the same policy (planning.policy_for)."""
    items = (entry.details.get("scope") or {}).get("items") or ["*"]
    return None if "*" in items else [str(i) for i in items]


def _stored_document(blob: bytes | None) -> plan_reader.Read | None:
    """The stored plan document (its bytes as runs.plan_blob reads them) read a piece at a time: its SHA-256 and
    keys (None: no plan row, or bytes that do not unzip to UTF-8 text, as runs.plan_document reads them)."""
    if blob is None:
        return None
    try:
        return plan_reader.read(blob)
    except plan_reader.Unreadable:
        return None


def _document_hash(plan: Plan, scheme: str) -> str:
    """The SHA-256 of the plan's document under `scheme`: a plan/3 document's content hash is made from its head
    and visits as planning.plan_document makes it, without writing the container it would store (its Parquet
    files and zip are not needed to compare); plan/1 and /2 through planning.plan_document."""
    if scheme != canonical.PLAN3:
        return plan_document(plan, scheme).sha256
    hasher = plan_columns.VisitsHasher()
    for frame in plan.visit_frames():
        hasher.update(frame)
    return plan_columns.document_hash(plan_columns.head_text(plan.head()), hasher)


REPLAYING = "回放 replaying"  # a plan replay's one progress step: inputs, grade outputs, draw, compare


def _replay_plan(conn: Connection, entry: chain.Entry, limit: int, progress: Progress) -> ReplayReport:
    # The stored document is unzipped, hashed and scanned a piece at a time (its keys but the visits kept, for the
    # period's kind), and the replayed one hashed as it is written: a city's documents are hundreds of MB of text.
    # Both are read whole only when they differ, to name the differences.
    # The grade run's results are read (in a child process) and hashed on a thread while this one reads the stored
    # document and then loads and hashes the snapshot; only this thread uses `conn`. The stored document is read
    # before the snapshot, not beside it: at a city the two at once peaked at 2.55 GB, over make_plan's 2.3 GB.
    progress(REPLAYING, 0, 3)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay-read") as pool:
        reference = grade_reference(conn, entry, pool)
        found = runs.plan_blob(conn, entry.run_id)
        stored = _stored_document(found[1] if found is not None else None)
        del found
        tables = plan_snapshot(conn, entry)
        stored_digest = stored.digest if stored is not None else None
        # Of the stored head only its period is read (for the period's kind); a city's head holds ~20 MB of
        # tickets, not kept while the plan is drawn again.
        header = (
            {"period": stored.header["period"]}
            if stored is not None and stored.header and "period" in stored.header
            else {}
        )
        del stored
        inputs = plan_inputs(conn, entry, header=header, tables=tables)
        del tables
        with recorded_pack(conn, entry) as pack:
            policy = policy_for(pack, scope_items(entry))
            progress(REPLAYING, 1, 3)
            mismatch, examples = graded_mismatch(conn, entry, pack, inputs.subjects, reference)
        del reference
    progress(REPLAYING, 2, 3)
    plan_scheme = _schemes(entry).get("outputs", canonical.PLAN)
    # The snapshot's subjects (~600 MB at a city) are handed over to the planner, which drops them after its cells
    # step: held here as well, they would stay alive through staffing and schedule, where the plan peaks.
    counted = inputs.subjects.height
    handed = Handover(inputs.subjects)
    inputs = replace(inputs, subjects=inputs.subjects.clear())
    plan = remake_plan(inputs, policy, plan_scheme, subjects=handed)
    progress(REPLAYING, 3, 3)
    replayed_hash = outputs.plan_outputs_digest(_document_hash(plan, plan_scheme), plan_scheme)
    stored_hash = outputs.plan_outputs_digest(stored_digest, plan_scheme) if stored_digest is not None else None
    ledger_hash = entry.get("outputs_hash")
    notes: list[str] = []
    if replayed_hash != ledger_hash:
        notes.append("the recomputed plan does not hash to the ledger's outputs_hash")
    if mismatch:
        notes.append(
            f"the plan drew with grade outputs that differ from grade run {entry.details.get('grade_run')}'s "
            f"recorded outputs for {mismatch:,} subjects (e.g. {', '.join(examples)}): the outcomes were edited "
            "while the plan was made"
        )
    if stored_hash is None:
        notes.append(f"the store holds no readable plan document {entry.run_id} any more")
    elif stored_hash != ledger_hash:
        notes.append(
            f"the plan document stored as {entry.run_id} hashes to {stored_hash[:12]}, not the ledger's "
            f"{ledger_hash[:12]}: the store was edited after the run"
        )
    report = ReplayReport(
        run_id=entry.run_id,
        kind="plan",
        as_of=entry.get("as_of"),
        seed=inputs.seed,
        pack=pack_of(entry),
        snapshot_hash=entry.get("snapshot_hash"),
        ledger_hash=ledger_hash,
        replayed_hash=replayed_hash,
        stored_hash=stored_hash,
        counts={
            "subjects": counted,
            "items": len(plan.items),
            "visits": len(plan.visits),
            "drawn": sum(i.drawn_count for i in plan.items),
        },
        notes=tuple(notes),
        versions=_version_changes(entry),
        graded_mismatch=mismatch,
    )
    if report.identical:
        return report
    document = runs.plan_document(conn, entry.run_id)
    stored_text = document.text if document is not None else None
    text = plan.to_json()
    recorded: dict[str, Any] = {}
    if stored_text is not None:
        try:
            recorded = json.loads(stored_text)
        except json.JSONDecodeError:
            notes.append(f"the plan document stored as {entry.run_id} is not JSON")
    return replace(report, notes=tuple(notes), **plan_differences(recorded, json.loads(text), limit))


def _key(value: Any) -> str | None:
    """How a list element is known across two documents: an item by code, a stratum by name, a visit by id…"""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("visit"), str) and isinstance(value.get("items"), list):  # a dropped visit's items
        return f"{value['visit']}:{','.join(map(str, value['items']))}"
    for name in ("code", "stratum", "id"):
        if isinstance(value.get(name), str):
            return value[name]
    return None


def _diff(path: str, a: Any, b: Any, out: list[Difference]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            _diff(f"{path}.{k}" if path else k, a.get(k, "(absent)"), b.get(k, "(absent)"), out)
        return
    if isinstance(a, list) and isinstance(b, list) and (a or b) and all(isinstance(x, dict) for x in (*a, *b)):
        ka, kb = [_key(x) for x in a], [_key(x) for x in b]
        if None not in ka and None not in kb and len(set(ka)) == len(ka) and len(set(kb)) == len(kb):
            ma = {str(k): x for k, x in zip(ka, a, strict=True)}
            mb = {str(k): x for k, x in zip(kb, b, strict=True)}
            for k in sorted(set(ma) | set(mb)):
                if k not in ma or k not in mb:
                    out.append(
                        Difference(
                            f"{path}[{k}]",
                            "",
                            "(absent)" if k not in ma else _short(ma[k]),
                            "(absent)" if k not in mb else _short(mb[k]),
                        )
                    )
                else:
                    _diff(f"{path}[{k}]", ma[k], mb[k], out)
            return
        if len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                _diff(f"{path}[{i}]", x, y, out)
            return
    if a != b or type(a) is not type(b):
        where, _, what = path.rpartition(".")
        out.append(Difference(where, what, _short(a), _short(b)))


def plan_differences(recorded: Mapping[str, Any], replayed: Mapping[str, Any], limit: int = SHOW) -> dict[str, Any]:
    """Every value where two plan documents differ (items, strata, drawn tickets, visits, teams, load, …)."""
    found: list[Difference] = []
    _diff("", dict(recorded), dict(replayed), found)
    visits_a = {v["id"] for v in recorded.get("visit_list") or [] if isinstance(v, dict) and "id" in v}
    visits_b = {v["id"] for v in replayed.get("visit_list") or [] if isinstance(v, dict) and "id" in v}
    only_a, only_b = sorted(visits_a - visits_b), sorted(visits_b - visits_a)
    # Whole visits present on one side only are listed as visits, not as values.
    rest = [d for d in found if not (d.where.startswith("visit_list[") and d.what == "")]
    return {
        "differing": len(rest),
        "differences": tuple(rest[:limit]),
        "only_recorded": tuple(only_a[:limit]),
        "only_replayed": tuple(only_b[:limit]),
        "only_recorded_count": len(only_a),
        "only_replayed_count": len(only_b),
    }


def replay(conn: Connection, run_id: str, *, limit: int = SHOW, progress: Progress = no_progress) -> ReplayReport:
    """Recompute a grade run or a plan from its ledger entry, snapshot and pack version; compare exactly."""
    entry = entry_of(conn, run_id)
    if entry.kind == "grade":
        return _replay_grade(conn, entry, limit, progress)
    return _replay_plan(conn, entry, limit, progress)
