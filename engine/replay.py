"""Replay (回放) a recorded run and explain a decision as it was made: recompute from the ledger, never the live data.

A grade run is recomputed from its input snapshot (the features the pack read) and the stored pack version; a
plan from its snapshot (subjects with their grades, check items, roster, conflicts, past checks), the pack's
plan policy, and the seed, period, regions and as-of date its ledger entry records. The recomputed outputs are
hashed as they were at recording time and compared with the entry's outputs_hash and with the outputs the store
holds now; any difference is named (the subject and output, or the place in the plan document).

Only the ledger, its blobs (snapshots and pack versions) and the recorded outputs are read: the subjects,
results and rule files of today do not enter, so a replay still holds after the data changed or another pack
became active.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.explain import DecisionTrace, RuleTrace
from engine.explain import explain as explain_features
from engine.grading import Grading, canonical_result
from engine.ledger import chain, outputs, packs, snapshot
from engine.ledger.canonical import Table
from engine.plan import Period, Plan, PlanPolicy, make_plan
from engine.plan.frames import check_history, check_subjects
from engine.plan.select import History, mandatory_rows, select_item
from engine.planning import graded_columns, parse_period, policy_for
from engine.rules import Pack
from engine.sampling import Ticket, derive_seed, ticket
from entities import codes, store
from entities.errors import InputError
from entities.models import CheckItemCreate, ConflictCreate, InspectorCreate

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
        return (self.replayed_hash == self.ledger_hash and self.stored_hash == self.ledger_hash
                and not self.graded_mismatch)

    def summary(self) -> str:
        """One line: what differs, for an error message."""
        if self.identical:
            return f"replay of {self.run_id} is identical"
        parts = []
        if self.replayed_hash != self.ledger_hash:
            parts.append("the recomputed outputs differ from the ledger")
        if self.stored_hash != self.ledger_hash:
            parts.append("the stored outputs no longer match the ledger" if self.stored_hash else
                         "the stored outputs are missing")
        if self.graded_mismatch:
            parts.append(f"the plan drew with other grade outputs than its grade run's for {self.graded_mismatch:,} "
                         "subjects")
        unit = "subjects" if self.kind == "grade" else "values"
        return f"replay of {self.run_id} is NOT identical: {'; '.join(parts)} ({self.differing:,} {unit} differ)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "kind": self.kind, "identical": self.identical, "as_of": self.as_of,
            "seed": self.seed, "pack": dict(self.pack), "snapshot_hash": self.snapshot_hash,
            "outputs_hash": {"ledger": self.ledger_hash, "replayed": self.replayed_hash, "stored": self.stored_hash},
            "recomputed": dict(self.counts), "graded_mismatch": self.graded_mismatch,
            "differences": {
                "count": self.differing, "shown": [d.as_dict() for d in self.differences],
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
    with packs.restored(conn, info["files_hash"], info.get("hash")) as pack:
        yield pack


def _as_of(entry: chain.Entry) -> dt.date:
    return dt.date.fromisoformat(entry.get("as_of"))


def _pack_info(entry: chain.Entry) -> dict[str, str]:
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


def regrade(pack: Pack, as_of: dt.date, features: pl.DataFrame) -> tuple[pl.DataFrame, Grading]:
    """Every subject's outcome id for the snapshot's features (uscc, outcome), and the grading state."""
    grading = Grading(pack, as_of)
    parts = []
    for start in range(0, features.height, _BATCH):
        frame = features.slice(start, _BATCH)
        ids = grading.grade_frame(frame)
        parts.append(pl.DataFrame({"uscc": frame.get_column("uscc"), "outcome": ids.astype(np.int64)}))
    results = pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema={"uscc": pl.String, "outcome": pl.Int64})
    return results, grading


def _features(conn: Connection, entry: chain.Entry) -> pl.DataFrame:
    tables = snapshot.load(conn, entry.get("snapshot_hash"))
    frame = tables.get("features")
    if not isinstance(frame, pl.DataFrame) or "uscc" not in frame.columns:
        raise InputError(f"snapshot {entry.get('snapshot_hash')[:12]} of {entry.run_id} holds no features frame")
    return frame


def _replay_grade(conn: Connection, entry: chain.Entry, limit: int) -> ReplayReport:
    features = _features(conn, entry)
    with recorded_pack(conn, entry) as pack:
        results, grading = regrade(pack, _as_of(entry), features)
    canon = {o.id: o.canonical() for o in grading.outcomes}
    replayed_hash = outputs.grade_outputs_hash(results, canon)
    stored_results, stored_canon, stored_parts = outputs.stored_grade_outputs(conn, entry.run_id)
    stored_hash = outputs.grade_outputs_hash(stored_results, stored_canon) if stored_results.height else None
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
        run_id=entry.run_id, kind="grade", as_of=entry.get("as_of"), seed=None, pack=_pack_info(entry),
        snapshot_hash=entry.get("snapshot_hash"), ledger_hash=ledger_hash, replayed_hash=replayed_hash,
        stored_hash=stored_hash, counts={"subjects": results.height, "outcomes": len(grading.outcomes),
                                          "evaluations": grading.evaluations},
        notes=tuple(notes), versions=_version_changes(entry),
    )
    if report.identical:
        return report
    outcomes = {o.id: {"outputs": o.outputs, "fired": list(o.fired), "errors": list(o.errors)} for o in grading.outcomes}
    return replace(report, **_grade_differences(results, canon, outcomes, stored_results, stored_canon, stored_parts, limit))


def _grade_differences(
    results: pl.DataFrame, canon: Mapping[int, str], parts: Mapping[int, dict[str, Any]],
    stored: pl.DataFrame, stored_canon: Mapping[int, str], stored_parts: Mapping[int, dict[str, Any]], limit: int,
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


def _recorded_kind(text: str | None, scope: Mapping[str, Any]) -> str | None:
    try:
        period = json.loads(text)["period"] if text else None
    except (json.JSONDecodeError, KeyError, TypeError):
        return None
    p = scope["period"]
    if isinstance(period, dict) and all(period.get(k) == p[k] for k in ("label", "start", "end")):
        return str(period.get("kind"))
    return None


def plan_inputs(conn: Connection, entry: chain.Entry) -> PlanInputs:
    tables = snapshot.load(conn, entry.get("snapshot_hash"))
    scope = entry.details.get("scope")
    if not isinstance(scope, dict) or "period" not in scope:
        raise InputError(f"ledger entry {entry.run_id} records no scope (period, regions); it cannot be replayed")
    subjects, history = tables.get("subjects"), tables.get("history")
    if not isinstance(subjects, pl.DataFrame) or not isinstance(history, pl.DataFrame):
        raise InputError(f"the snapshot of {entry.run_id} holds no subjects or history frame")
    if not entry.get("seed"):
        raise InputError(f"ledger entry {entry.run_id} records no seed; it cannot be replayed")
    regions = scope.get("regions") or ["*"]
    return PlanInputs(
        subjects=subjects,
        items=_records(tables, "items", CheckItemCreate, lambda i: i.code),
        inspectors=_records(tables, "inspectors", InspectorCreate, lambda i: i.id),
        conflicts=_records(tables, "conflicts", ConflictCreate, lambda c: (c.inspector_id, c.uscc)),
        history=history, seed=entry.get("seed"),
        period=_period(scope, _recorded_kind(stored_plan_text(conn, entry.run_id), scope)), as_of=_as_of(entry),
        regions=None if regions == ["*"] else list(regions),
    )


def graded_mismatch(conn: Connection, entry: chain.Entry, pack: Pack, subjects: pl.DataFrame) -> tuple[int, list[str]]:
    """Subjects whose grade columns in a plan's snapshot (credit class, mandatory items, risk, grades) are not
    what its grade run recorded: the snapshot is a copy, so it is tied back to the run `audit verify` checks."""
    run_id = entry.details.get("grade_run")
    grade = chain.find(conn, str(run_id)) if run_id else None
    if grade is None:
        return 0, []
    # Only outputs that still match their own ledger entry are a reference; edited ones are the grade run's
    # replay to report (`suijian replay GRADE_RUN`), not this plan's.
    results_, canon, _ = outputs.stored_grade_outputs(conn, str(run_id))
    if outputs.grade_outputs_hash(results_, canon) != grade.get("outputs_hash"):
        return 0, []
    graded = graded_columns(conn, str(run_id), pack)
    cols = [c for c in graded.columns if c != "uscc" and c in subjects.columns]
    joined = subjects.select("uscc", *cols).join(graded.select("uscc", *cols), on="uscc", how="left", suffix="_run")
    differs = joined.filter(pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"{c}_run")) for c in cols)) if cols \
        else joined.head(0)
    return differs.height, differs.get_column("uscc").sort().head(3).to_list()


def remake_plan(inputs: PlanInputs, policy: PlanPolicy) -> Plan:
    return make_plan(
        inputs.subjects, inputs.items, policy, inputs.inspectors, inputs.conflicts, inputs.history,
        seed=inputs.seed, period=inputs.period, as_of=inputs.as_of, regions=inputs.regions,
    )


def stored_plan_text(conn: Connection, plan_id: str) -> str | None:
    """The plan document the store holds now (None if the plan row is gone or unreadable)."""
    t = store.table("plan")
    row = conn.execute(sa.select(t.c.document).where(t.c.id == plan_id)).first()
    if row is None:
        return None
    try:
        return zlib.decompress(row.document).decode("utf-8")
    except (zlib.error, UnicodeDecodeError, TypeError):
        return None


def scope_items(entry: chain.Entry) -> list[str] | None:
    """The check items a plan was drawn for (None: all), so replay applies the same policy (planning.policy_for)."""
    items = (entry.details.get("scope") or {}).get("items") or ["*"]
    return None if "*" in items else [str(i) for i in items]


def _replay_plan(conn: Connection, entry: chain.Entry, limit: int) -> ReplayReport:
    inputs = plan_inputs(conn, entry)
    with recorded_pack(conn, entry) as pack:
        policy = policy_for(pack, scope_items(entry))
        mismatch, examples = graded_mismatch(conn, entry, pack, inputs.subjects)
    plan = remake_plan(inputs, policy)
    text = plan.to_json()
    replayed_hash = outputs.plan_outputs_hash(text)
    stored_text = stored_plan_text(conn, entry.run_id)
    stored_hash = outputs.plan_outputs_hash(stored_text) if stored_text is not None else None
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
        run_id=entry.run_id, kind="plan", as_of=entry.get("as_of"), seed=inputs.seed, pack=_pack_info(entry),
        snapshot_hash=entry.get("snapshot_hash"), ledger_hash=ledger_hash, replayed_hash=replayed_hash,
        stored_hash=stored_hash,
        counts={"subjects": inputs.subjects.height, "items": len(plan.items), "visits": len(plan.visits),
                "drawn": sum(i.drawn_count for i in plan.items)},
        notes=tuple(notes), versions=_version_changes(entry), graded_mismatch=mismatch,
    )
    if report.identical:
        return report
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
                    out.append(Difference(f"{path}[{k}]", "", "(absent)" if k not in ma else _short(ma[k]),
                                          "(absent)" if k not in mb else _short(mb[k])))
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
        "differing": len(rest), "differences": tuple(rest[:limit]),
        "only_recorded": tuple(only_a[:limit]), "only_replayed": tuple(only_b[:limit]),
        "only_recorded_count": len(only_a), "only_replayed_count": len(only_b),
    }


def replay(conn: Connection, run_id: str, *, limit: int = SHOW) -> ReplayReport:
    """Recompute a grade run or a plan from its ledger entry, snapshot and pack version; compare exactly."""
    entry = entry_of(conn, run_id)
    if entry.kind == "grade":
        return _replay_grade(conn, entry, limit)
    return _replay_plan(conn, entry, limit)


# -- explain a subject as decided in a run -----------------------------------------------------------------------


@dataclass(frozen=True)
class ItemFate:
    """What one check item of a plan did with the subject, and the numbers that let anyone check it."""

    code: str
    name: str
    status: str  # outside_jurisdiction | not_in_population | excluded | drawn | not_drawn
    exclusion: str | None = None  # the reason code (EXCLUSION_REASONS) when excluded
    stratum: str | None = None
    ticket: Ticket | None = None
    cutoff: Ticket | None = None  # the stratum's largest drawn ticket (None: nobody drawn)
    quota: int | None = None
    population: int | None = None  # the stratum's
    drawn_in_plan: bool = False  # listed among the stratum's drawn tickets in the plan document
    mandatory: bool = False
    mandatory_reason: str | None = None
    mandatory_gone: str | None = None  # the registration status that keeps mandatory work from being done
    seed: str | None = None  # the seed the item's tickets come from
    visit: Mapping[str, Any] | None = None  # id, team, lead, due_from, due_to
    dropped: Mapping[str, Any] | None = None  # code, reason (capacity, no team…)
    recipe: str | None = None

    @property
    def consistent(self) -> bool:
        """The recorded draw agrees with the ticket: drawn exactly when the ticket is at or below the cut-off."""
        if self.ticket is None:
            return not self.drawn_in_plan
        below = self.cutoff is not None and self.ticket <= self.cutoff
        return below == self.drawn_in_plan

    def as_dict(self) -> dict[str, Any]:
        def t(x: Ticket | None) -> dict[str, str] | None:
            return None if x is None else {"id": x.id, "ticket": x.ticket_number}

        return {
            "code": self.code, "name": self.name, "status": self.status, "exclusion": self.exclusion,
            "stratum": self.stratum, "ticket": t(self.ticket), "cutoff": t(self.cutoff), "quota": self.quota,
            "stratum_population": self.population, "drawn": self.drawn_in_plan, "consistent": self.consistent,
            "mandatory": self.mandatory, "mandatory_reason": self.mandatory_reason,
            "mandatory_gone": self.mandatory_gone, "seed": self.seed, "visit": self.visit, "dropped": self.dropped,
            "check": self.recipe,
        }


@dataclass(frozen=True)
class RunExplanation:
    """A subject's decision as made in a recorded run: the features, each decision's trace, what was recorded."""

    run_id: str
    kind: str
    uscc: str
    as_of: str
    pack: Mapping[str, str]
    values: Mapping[str, Any]
    traces: tuple[DecisionTrace, ...]
    grade_run: str  # the grade run whose outputs are recorded (the run itself, or the plan's)
    recorded: Mapping[str, Any] | None  # outputs, fired, errors as stored for the subject
    recorded_matches: bool | None  # recomputed == recorded (None when nothing is recorded)
    seed: str | None = None
    item_seeds: str | None = None
    items: tuple[ItemFate, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def as_dict(self, *, why_not: bool = False) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "kind": self.kind, "subject": self.uscc, "as_of": self.as_of,
            "pack": dict(self.pack), "features": dict(self.values),
            "decisions": [trace_dict(t, why_not=why_not) for t in self.traces],
            "recorded": {"grade_run": self.grade_run, "outcome": self.recorded, "matches": self.recorded_matches},
            **({"plan": {"seed": self.seed, "item_seeds": self.item_seeds, "items": [i.as_dict() for i in self.items]}}
               if self.kind == "plan" else {}),
            "notes": list(self.notes),
        }


def trace_dict(t: DecisionTrace, *, why_not: bool) -> dict[str, Any]:
    return {
        "id": t.id, "description": t.description, "hit_policy": t.hit_policy, "outputs": dict(t.outputs),
        "error": t.error,
        "fired": [{"id": r.id, "reason": r.reason, "basis": r.basis, "at": r.location} for r in t.fired],
        **({"not_fired": [
            {"id": r.id, "at": r.location, "matched": r.matched,
             "failed": [{"input": c.input, "condition": c.text, "value": c.value} for c in r.failed]}
            for r in t.rules if not r.fired]} if why_not else {}),
    }


def _pack_root(pack: Pack) -> tuple[Path, str]:
    """The temporary directory a restored pack version was written to, and what to show in its place.

    Pack versions are stored with each layer under its directory name (guangdong/…, national/…); a version
    stored with its files at the top (no directory) is shown under the pack's name, so both read national/….
    """
    here = Path(pack.directory)
    for p in (here, *here.parents):
        if p.name.startswith("suijian-pack-"):
            return p, (pack.name if p == here else "")
    return here, pack.name


def _relative(traces: Sequence[DecisionTrace], root: Path, prefix: str) -> tuple[DecisionTrace, ...]:
    """Rule locations relative to the pack version (national/credit.yaml:12), not a temporary path."""
    def rel(location: str) -> str:
        file, sep, line = location.rpartition(":")
        if not sep or not line.isdigit():
            file, line = location, ""
        try:
            shown = Path(file).relative_to(root).as_posix()
            shown = f"{prefix}/{shown}" if prefix else shown
        except ValueError:
            shown = file
        return f"{shown}:{line}" if line else shown

    def rule(r: RuleTrace) -> RuleTrace:
        return replace(r, location=rel(r.location))

    return tuple(replace(t, rules=tuple(rule(r) for r in t.rules)) for t in traces)


def shown_locations(pack: Pack, traces: Sequence[DecisionTrace]) -> tuple[DecisionTrace, ...]:
    """Traces of a pack restored from the store, with rule locations as national/credit.yaml:12."""
    return _relative(traces, *_pack_root(pack))


def _stored_outcome(conn: Connection, run_id: str, uscc: str) -> dict[str, Any] | None:
    o, r = store.table("grade_outcome"), store.table("grade_result")
    row = conn.execute(
        sa.select(o.c.outputs, o.c.fired, o.c.errors)
        .select_from(r.join(o, (o.c.run_id == r.c.run_id) & (o.c.outcome == r.c.outcome)))
        .where(r.c.run_id == run_id, r.c.uscc == uscc)
    ).first()
    return None if row is None else {"outputs": row.outputs, "fired": list(row.fired), "errors": list(row.errors)}


def _decide(pack: Pack, as_of: dt.date, row: pl.DataFrame) -> tuple[dict[str, Any], tuple[DecisionTrace, ...], dict[str, Any]]:
    """The features, traces (locations relative to the pack) and the outcome grading gives the one-row frame."""
    values, traces = explain_features(pack, row.row(0, named=True))
    grading = Grading(pack, as_of)
    outcome = grading.outcomes[int(grading.grade_frame(row)[0])]
    result = {"outputs": outcome.outputs, "fired": list(outcome.fired), "errors": list(outcome.errors)}
    return values, _relative(traces, *_pack_root(pack)), result


def _compare(recomputed: Mapping[str, Any], recorded: Mapping[str, Any] | None) -> bool | None:
    if recorded is None:
        return None

    def canon(x: Mapping[str, Any]) -> str:
        return canonical_result(dict(x["outputs"]), list(x["fired"]), list(x["errors"]))

    return canon(recomputed) == canon(recorded)


def ticket_recipe(uscc: str, plan_seed: str, code: str, per_item: bool) -> str:
    """A shell line that prints the subject's ticket for the item with the public consistent-sampler package."""
    if per_item:
        derived = json.dumps(f"suijian:item/{code}:{plan_seed}", ensure_ascii=False)
        code_text = (
            "import hashlib; from consistent_sampler import first_ticket; "
            f"s = hashlib.sha256({derived}.encode()).hexdigest(); "
            f"print(first_ticket({json.dumps(uscc)}, s).ticket_number)"
        )
    else:
        code_text = (
            "from consistent_sampler import first_ticket; "
            f"print(first_ticket({json.dumps(uscc)}, {json.dumps(plan_seed, ensure_ascii=False)}).ticket_number)"
        )
    return f"python -c {shlex.quote(code_text)}"


def item_fates(inputs: PlanInputs, policy: PlanPolicy, plan: Plan, uscc: str) -> tuple[list[ItemFate], list[str]]:
    """Each item's treatment of the subject, recomputed row-wise exactly as make_plan does, checked against the plan.

    Population, exclusions and strata are properties of the subject's own row, its past checks and the policy,
    so select_item on the one-row frame finds the same ones; the draw itself (cut-off) is the plan's.
    """
    notes: list[str] = []
    checked = check_subjects(
        inputs.subjects.filter(pl.col("uscc") == uscc),
        need_status=bool(policy.excluded_statuses), need_whitelist=policy.whitelist != "none",
    )
    regions = plan.regions
    region = checked.get_column("region")[0]
    inside = not regions or any(region.startswith(codes.region_prefix(r)) for r in regions)
    past = check_history(inputs.history, inputs.as_of).filter(pl.col("uscc") == uscc)
    start = max(inputs.period.start, inputs.as_of)
    history = History.of(past, start.year)
    by_code = {i.code: i for i in inputs.items}
    domains = {code: item.domain for code, item in by_code.items()}
    mandatory = mandatory_rows(checked).filter(pl.col("item_code").is_in(list(by_code)))
    per_item = policy.item_seeds == "per_item"
    fates: list[ItemFate] = []
    for code, item in sorted(by_code.items()):
        try:
            recorded_item = plan.item(code)
        except KeyError:
            notes.append(f"check item {code} is in the snapshot but not in the plan document")
            continue
        seed = derive_seed(inputs.seed, f"item/{code}") if per_item else inputs.seed
        if recorded_item.seed != seed:
            notes.append(f"check item {code}: the plan document records seed {recorded_item.seed[:16]}…, "
                         f"not the one the policy derives ({seed[:16]}…)")
        visit, dropped = _visit_of(plan, uscc, code)
        if not inside:
            fates.append(ItemFate(code, item.name, "outside_jurisdiction", seed=seed))
            continue
        sel = select_item(item, checked, policy, history, domains, seed=seed, key_column=None, start=start,
                          mandatory=mandatory)
        must = sel.mandatory.height > 0
        reason = sel.mandatory.get_column("reason")[0] if must else None
        gone = sel.mandatory_excluded.get_column("status")[0] if sel.mandatory_excluded.height else None
        fate = ItemFate(code, item.name, "not_in_population", mandatory=must, mandatory_reason=reason,
                        mandatory_gone=gone, seed=seed, visit=visit, dropped=dropped)
        if sel.plan.population == 0:
            fates.append(fate)
            continue
        if sel.plan.eligible == 0:
            why = next((k for k, n in sel.plan.exclusions.items() if n), None)
            fates.append(replace(fate, status="excluded", exclusion=why))
            continue
        stratum_name = sel.plan.strata[0].stratum
        fate = replace(fate, status="not_drawn", stratum=stratum_name, ticket=ticket(seed, uscc),
                       recipe=ticket_recipe(uscc, inputs.seed, code, per_item))
        stratum = next((s for s in recorded_item.strata if s.stratum == stratum_name), None)
        if stratum is None:
            notes.append(f"check item {code}: stratum {stratum_name} is not in the plan document")
            fates.append(fate)
            continue
        drawn = any(t.id == uscc for t in stratum.draw.drawn)
        fate = replace(fate, status="drawn" if drawn else "not_drawn", cutoff=stratum.draw.cutoff,
                       quota=stratum.draw.quota, population=stratum.draw.population, drawn_in_plan=drawn)
        if not fate.consistent:
            notes.append(f"check item {code}: the plan document says {'drawn' if drawn else 'not drawn'}, but the "
                         f"ticket is {'at or below' if not drawn else 'above'} the cut-off")
        fates.append(fate)
    return fates, notes


def _visit_of(plan: Plan, uscc: str, code: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    for v in plan.visits:
        if v.uscc == uscc and code in v.item_codes:
            return {"id": v.id, "team": list(v.team), "lead": v.lead, "experts": list(v.experts),
                    "due_from": v.due_from.isoformat(), "due_to": v.due_to.isoformat(), "priority": v.priority}, None
    for d in (*plan.uncovered, *plan.unstaffed):
        if d.uscc == uscc and code in d.items:
            return None, {"code": d.code, "reason": d.reason}
    return None, None


def explain_run(conn: Connection, run_id: str, uscc: str) -> RunExplanation:
    """How the run decided for one subject, from the recorded inputs and pack version (not today's data)."""
    entry = entry_of(conn, run_id)
    uscc = uscc.strip().upper()
    if entry.kind == "grade":
        features = _features(conn, entry)
        rows = features.filter(pl.col("uscc") == uscc)
        if rows.height == 0:
            raise InputError(f"subject {uscc} is not in grade run {entry.run_id} ({features.height:,} subjects graded)")
        with recorded_pack(conn, entry) as pack:
            values, traces, result = _decide(pack, _as_of(entry), rows)
        recorded = _stored_outcome(conn, entry.run_id, uscc)
        matches = _compare(result, recorded)
        return RunExplanation(
            run_id=entry.run_id, kind="grade", uscc=uscc, as_of=entry.get("as_of"), pack=_pack_info(entry),
            values=values, traces=traces, grade_run=entry.run_id, recorded=recorded, recorded_matches=matches,
            notes=() if matches else (_mismatch(entry.run_id, recorded),),
        )
    inputs = plan_inputs(conn, entry)
    rows = inputs.subjects.filter(pl.col("uscc") == uscc)
    if rows.height == 0:
        raise InputError(f"subject {uscc} is not in plan {entry.run_id} (its snapshot holds {inputs.subjects.height:,} subjects)")
    text = stored_plan_text(conn, entry.run_id)
    notes: list[str] = []
    if text is None:
        raise InputError(f"plan {entry.run_id}: the store holds no readable plan document; run `suijian replay {entry.run_id}`")
    if outputs.plan_outputs_hash(text) != entry.get("outputs_hash"):
        notes.append(f"the plan document stored as {entry.run_id} does not hash to the ledger's outputs_hash: it was "
                     f"edited after the run (see `suijian replay {entry.run_id}`)")
    plan = Plan.from_json(text)
    with recorded_pack(conn, entry) as pack:
        values, traces, result = _decide(pack, _as_of(entry), rows)
        policy = policy_for(pack, scope_items(entry))
    grade_run = str(entry.details.get("grade_run") or "")
    recorded = _stored_outcome(conn, grade_run, uscc) if grade_run else None
    matches = _compare(result, recorded)
    if matches is False or (matches is None and grade_run):
        notes.append(_mismatch(grade_run, recorded))
    fates, more = item_fates(inputs, policy, plan, uscc)
    return RunExplanation(
        run_id=entry.run_id, kind="plan", uscc=uscc, as_of=entry.get("as_of"), pack=_pack_info(entry),
        values=values, traces=traces, grade_run=grade_run, recorded=recorded, recorded_matches=matches,
        seed=inputs.seed, item_seeds=policy.item_seeds, items=tuple(fates), notes=tuple(notes + more),
    )


def _mismatch(run_id: str, recorded: Mapping[str, Any] | None) -> str:
    if recorded is None:
        return f"the store holds no outcome of this subject for grade run {run_id} any more"
    return (f"the outcome stored for this subject in grade run {run_id} differs from the recomputed one "
            f"(see `suijian replay {run_id}`)")
