"""Recording runs in the ledger, and the rules of draw integrity.

A draw's scope is its regions × check items × period. Two scopes overlap when they can draw the same subject
for the same item on the same day: a county and any of its 街镇 (codes compared as prefixes, so the spelling or
order of --region does not matter), item sets that share an item, periods that share a day; "*" (everything)
overlaps everything. Period labels are names only: a batch 2026-03-01..05-31 overlaps the year 2026.

- A committed plan is final for its scope: any further draw for an overlapping scope is a re-draw, allowed only
  to a supervisor with a reason, and recorded with the plans it re-draws (`redraw_of`) and the reason. The same
  plan again (same content hash) is not a new entry.
- A seed commitment (`suijian plan --commit-seed SHA256`) fixes the seed's hash before the population is
  frozen. While it is unrevealed it binds every overlapping draw: the plan must have exactly the committed
  scope, reveal a seed with that hash, and draw from the first full grade run made after the commitment
  (grading again until a favoured subject falls out is refused), with that run's exact pack files (policy.yaml
  included) and on the population it froze: the features the pack reads, status, whitelist and region are
  hashed again and must equal the run's snapshot, so data changed after grading is refused. A plan reveals one commitment (`seed_commitment`); a
  second commitment for an overlapping scope while one is unrevealed needs a reason and is recorded as
  replacing it (`replaces`). A re-draw of a plan that revealed a commitment must reveal a new one too, or the
  commitment could be sidestepped by a re-draw with a freely chosen seed.
- A preview (supervisors) shows a draw before it is committed and is recorded, seed, grade run and viewer, one
  entry per viewer and draw. It obeys the rules of the draw it shows (a pending commitment's seed and scope; a
  reason for a scope already committed), so previews cannot be used to try seeds against a commitment. The plan
  finally committed lists the previews of its scope since the last plan (`previews`) and how many other seeds
  they showed (`other_seeds_previewed`), so seed shopping by preview is visible on the plan itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import polars as pl
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from engine.ledger import canonical, chain, outputs, packs, runs
from engine.ledger import snapshot as _snapshot
from engine.ledger.canonical import Frame, ParquetFrame, StreamedFrame, Table, content_hash
from engine.plan.policy import Period, parse_period
from engine.rules import Pack
from engine.rules.authority import catalogue_hash, pack_items
from entities import codes
from entities.errors import InputError
from entities.identity import Identity, require


def pack_info(pack: Pack, version: packs.PackVersion) -> dict[str, str | None]:
    """A pack version as a ledger entry names it; `catalogue` is the hash of its check-item catalogue
    (engine.rules.authority.catalogue_hash, comparable with a plan snapshot's `items`), None if it has none."""
    items = pack_items(pack)
    return {
        "name": pack.name,
        "version": pack.version,
        "hash": pack.hash,
        "files_hash": version.files_hash,
        "catalogue": catalogue_hash(items) if items is not None else None,
    }


def save_pack(conn: Connection, pack: Pack) -> dict[str, str | None]:
    """Keep this pack version (every file) in the store; its ledger description."""
    version = packs.version_of(pack)
    packs.save(conn, version)
    return pack_info(pack, version)


@dataclass(frozen=True)
class GradeRun:
    """A finished grade run as stored and recorded: its id, as-of date, pack and counts."""

    id: str
    as_of: dt.date
    pack_name: str
    pack_version: str
    pack_hash: str
    subjects: int
    outcomes: int
    evaluations: int
    distributions: dict[str, dict[str, int]]
    errors: int
    registered_later: int = 0  # in the store, registered after as_of: not in that date's population, left out

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.id,
            "as_of": self.as_of.isoformat(),
            "pack": {"name": self.pack_name, "version": self.pack_version, "hash": self.pack_hash},
            "subjects": self.subjects,
            "registered_later": self.registered_later,
            "outcomes": self.outcomes,
            "evaluations": self.evaluations,
            "subjects_with_errors": self.errors,
            "distributions": self.distributions,
        }


def grade_run(
    conn: Connection,
    run: GradeRun,
    pack: Pack,
    *,
    actor: Identity,
    created_at: dt.datetime,
    usccs: Sequence[str] | None,
    frozen: Mapping[str, Table | StreamedFrame],
    results: pl.DataFrame,
    outcomes: Mapping[int, str],
    plan_features: pl.DataFrame | StreamedFrame | None = None,
    snapshot: SnapshotRef | None = None,
) -> chain.Entry:
    """The ledger entry of a grade run  with its snapshot and pack version.

    `plan_features` (uscc and the features the snapshot leaves out) is kept as a blob the entry names, so a plan
    from this run reads the features instead of computing them again (engine.ledger.runs.grade_features).
    `snapshot` names a snapshot already stored (a Spark run's snapshot-3 Parquet files): then `frozen` and
    `plan_features` are not stored again."""
    chain.lock(conn)  # before the blobs: two runs storing the same new blob must not race
    if snapshot is not None:
        return _grade_entry(conn, run, pack, actor, created_at, usccs, results, outcomes, snapshot)
    scheme = canonical.entry_schemes("grade")["snapshot"]  # both blobs, as audit verify checks them
    more = (
        {}
        if plan_features is None
        else {runs.PLAN_FEATURES: _snapshot.save(conn, {runs.PLAN_FEATURES: plan_features}, scheme)}
    )
    return chain.append(
        conn,
        run_id=run.id,
        kind="grade",
        actor=actor,
        created_at=created_at,
        as_of=run.as_of,
        pack=save_pack(conn, pack),
        snapshot_hash=_snapshot.save(conn, frozen, scheme),
        outputs_hash=outputs.grade_outputs_hash(results, outcomes),
        details=_grade_details(run, usccs, more),
    )


@dataclass(frozen=True)
class SnapshotRef:
    """A grade run's snapshot stored outside the blob table, by its hash and scheme (snapshot-3: Parquet files
    whose manifest is the blob), and the snapshot of the features kept for plans (None: not kept)."""

    scheme: str
    hash: str
    plan_features: str | None = None


def _grade_details(run: GradeRun, usccs: Sequence[str] | None, more: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "subjects": run.subjects,
        "outcomes": run.outcomes,
        "evaluations": run.evaluations,
        "subjects_with_errors": run.errors,
        "selection": sorted(usccs) if usccs else None,
        "distributions": run.distributions,
        **more,
    }


def _grade_entry(
    conn: Connection,
    run: GradeRun,
    pack: Pack,
    actor: Identity,
    created_at: dt.datetime,
    usccs: Sequence[str] | None,
    results: pl.DataFrame,
    outcomes: Mapping[int, str],
    ref: SnapshotRef,
) -> chain.Entry:
    more = {} if ref.plan_features is None else {runs.PLAN_FEATURES: ref.plan_features}
    return chain.append(
        conn,
        run_id=run.id,
        kind="grade",
        actor=actor,
        created_at=created_at,
        as_of=run.as_of,
        pack=save_pack(conn, pack),
        snapshot_hash=ref.hash,
        outputs_hash=outputs.grade_outputs_hash(results, outcomes),
        details=_grade_details(run, usccs, more),
        schemes={"snapshot": ref.scheme},
    )


# -- scopes ------------------------------------------------------------------------------------------------------

MAX_LABEL = 28  # "P" + label + "-" + 10 hex digits must fit a plan id (40 characters)


def scope_of(regions: Sequence[str] | None, items: Sequence[str] | None, period: Period) -> dict[str, Any]:
    """The scope of a draw; regions and items trimmed, de-duplicated and sorted, none given = "*" (all)."""
    if len(period.label) > MAX_LABEL:
        raise InputError(
            f"period label {period.label!r} is too long ({len(period.label)} characters): use at most {MAX_LABEL}"
        )

    def cleaned(values: Sequence[str] | None) -> list[str]:
        return sorted({v.strip() for v in values or () if v and v.strip()}) or ["*"]

    return {
        "regions": cleaned(regions),
        "items": cleaned(items),
        "period": {
            "kind": period.kind,
            "label": period.label,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
    }


def _prefix(code: str) -> str:
    return codes.region_prefix(code)


def overlaps(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two scopes can draw the same subject for the same item in the same days."""
    pa, pb = a["period"], b["period"]
    if pa["start"] > pb["end"] or pb["start"] > pa["end"]:  # ISO dates compare as text
        return False
    ra, rb = a["regions"], b["regions"]
    regions = (
        "*" in ra
        or "*" in rb
        or any(_prefix(x).startswith(_prefix(y)) or _prefix(y).startswith(_prefix(x)) for x in ra for y in rb)
    )
    ia, ib = a["items"], b["items"]
    return regions and ("*" in ia or "*" in ib or bool(set(ia) & set(ib)))


def same_scope(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """The same regions, items and days (the period's label is only a name)."""
    return (
        sorted(a["regions"]) == sorted(b["regions"])
        and sorted(a["items"]) == sorted(b["items"])
        and (a["period"]["start"], a["period"]["end"]) == (b["period"]["start"], b["period"]["end"])
    )


def describe(scope: Mapping[str, Any]) -> str:
    regions = "all regions" if scope["regions"] == ["*"] else "regions " + ",".join(scope["regions"])
    items = "all items" if scope["items"] == ["*"] else "items " + ",".join(scope["items"])
    p = scope["period"]
    return f"{p['label']} ({p['start']} – {p['end']}), {regions}, {items}"


def _options(scope: Mapping[str, Any]) -> str:
    """The `suijian plan` options that name this scope (for messages that say what to run)."""
    p = scope["period"]
    try:
        named = parse_period(p["label"])
        short = (named.start.isoformat(), named.end.isoformat()) == (p["start"], p["end"])
    except InputError:
        short = False
    parts = [f"--period {p['label']}" if short else f"--period {p['label']}:{p['start']}:{p['end']}"]
    parts += [f"--region {r}" for r in scope["regions"] if r != "*"]
    parts += [f"--item {i}" for i in scope["items"] if i != "*"]
    return " ".join(parts)


def _overlapping(conn: Connection, kind: str, scope: Mapping[str, Any]) -> list[chain.Entry]:
    return [
        e
        for e in chain.entries(conn, kinds=(kind,))
        if isinstance(e.details.get("scope"), dict) and overlaps(e.details["scope"], scope)
    ]


def committed_for(conn: Connection, scope: Mapping[str, Any]) -> list[str]:
    """Ids of the committed plans whose scope overlaps `scope`, oldest first."""
    return [e.run_id for e in _overlapping(conn, "plan", scope)]


def superseded_by(conn: Connection, plan_id: str) -> list[str]:
    """The later plans that re-drew `plan_id` (directly), oldest first."""
    return [e.run_id for e in chain.entries(conn, kinds=("plan",)) if plan_id in (e.details.get("redraw_of") or [])]


def seed_sha256(seed: str) -> str:
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


def check_seed_hash(text: str) -> str:
    value = text.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise InputError(
            f"--commit-seed {text!r} is not a SHA-256 (64 hex digits); compute it with `printf %s SEED | sha256sum`"
        )
    return value


def _pending_commitments(conn: Connection, scope: Mapping[str, Any]) -> list[chain.Entry]:
    """The seed commitments for scopes overlapping `scope` that no plan has revealed and none replaced."""
    found = chain.entries(conn, kinds=("commit", "plan"))
    settled = {e.details.get("seed_commitment") for e in found if e.kind == "plan"}
    settled |= {e.details.get("replaces") for e in found if e.kind == "commit"}
    return [
        e
        for e in found
        if e.kind == "commit"
        and e.run_id not in settled
        and isinstance(e.details.get("scope"), dict)
        and overlaps(e.details["scope"], scope)
    ]


def _clean(reason: str | None) -> str | None:
    return reason.strip() if reason and reason.strip() else None


# -- commitments, plans, previews ---------------------------------------------------------------------------------


def commit_seed(
    conn: Connection,
    *,
    digest: str,
    scope: Mapping[str, Any],
    actor: Identity,
    created_at: dt.datetime,
    reason: str | None = None,
) -> tuple[chain.Entry, bool]:
    """Record a seed commitment for the scope; (entry, whether new).

    The same commitment again is not a new entry; replacing an unrevealed one for an overlapping scope needs a
    reason and is recorded as a re-draw of the commitment."""
    require("commit-seed", actor)
    digest = check_seed_hash(digest)
    reason = _clean(reason)
    chain.lock(conn)
    pending = _pending_commitments(conn, scope)
    for p in pending:
        if p.details.get("seed_sha256") == digest and same_scope(p.details["scope"], scope):
            return p, False
    if len(pending) > 1:
        raise InputError(
            f"{describe(scope)} overlaps {len(pending)} unrevealed seed commitments "
            f"({', '.join(p.run_id for p in pending)}); replace each for its own scope, or reveal them by drawing"
        )
    details: dict[str, Any] = {"scope": dict(scope), "seed_sha256": digest}
    if pending:
        old = pending[0]
        if reason is None:
            raise InputError(
                f"seed commitment {old.run_id} for {describe(old.details['scope'])} is not revealed yet; replacing it "
                'is recorded as a re-draw: add --redraw-reason "…"'
            )
        details.update(replaces=old.run_id, reason=reason, redraw=True)
    elif reason is not None:
        raise InputError(
            f"no unrevealed seed commitment for {describe(scope)} to replace; drop --redraw-reason "
            "(a re-draw's reason is given when you draw)"
        )
    run_id = f"C{scope['period']['label']}-{digest[:10]}-{chain.head(conn)[0] + 1:04d}"
    return chain.append(conn, run_id=run_id, kind="commit", actor=actor, created_at=created_at, details=details), True


def _redraw_needed(last: chain.Entry, preview: bool) -> InputError:
    verb = "previewing a new draw prepares a re-draw" if preview else "a further draw is a re-draw"
    return InputError(
        f"plan {last.run_id} is already committed for {describe(last.details['scope'])} "
        f"({last.created_at:%Y-%m-%d %H:%M} by {last.actor.get('user')}); {verb}: add "
        '--redraw-reason "…" (supervisors only); see `suijian audit redraws`'
    )


def refuse_redraw_early(conn: Connection, *, scope: Mapping[str, Any], seed: str, reason: str | None) -> None:
    """Refuse, before anything is computed, a draw that check_draw would refuse at its commit as a re-draw without
    a reason: at city scale the plan takes minutes to compute first (10 M subjects: nine). A committed plan of the
    scope drawn with this very seed lets the draw go on: it may be the same plan again, which is not a re-draw."""
    if _clean(reason) is not None:
        return
    committed = _overlapping(conn, "plan", scope)
    if committed and all(e.details.get("seed_sha256") != seed_sha256(seed) for e in committed):
        raise _redraw_needed(committed[-1], preview=False)


def check_draw(
    conn: Connection,
    *,
    scope: Mapping[str, Any],
    seed: str,
    grade_run_id: str,
    actor: Identity,
    reason: str | None,
    frozen: Mapping[str, Table | ParquetFrame] | None = None,
    preview: bool = False,
    pack_files_hash: str | None = None,
) -> dict[str, Any]:
    """Whether this draw may be committed (or previewed), taking the ledger lock first; the details to record.

    `features` is the population the draw uses (uscc and the pack's features); with a pending seed commitment
    it must be the one the grade run froze."""
    chain.lock(conn)
    seed_hash = seed_sha256(seed)
    details: dict[str, Any] = {"scope": dict(scope), "seed_sha256": seed_hash}
    reason = _clean(reason)
    committed = _overlapping(conn, "plan", scope)
    if committed:
        if reason is None:
            raise _redraw_needed(committed[-1], preview)
        require("redraw", actor)
        details.update(redraw=True, redraw_of=[e.run_id for e in committed], reason=reason)
    elif reason is not None:
        raise InputError(f"nothing to re-draw: no plan is committed for {describe(scope)}; drop --redraw-reason")
    pending = _pending_commitments(conn, scope)
    if pending:
        c = pending[0]
        if len(pending) > 1 or not same_scope(c.details["scope"], scope):
            raise InputError(
                f"seed commitment {c.run_id} binds {describe(c.details['scope'])}: draw exactly that scope "
                f"({_options(c.details['scope'])}), or replace the commitment with --commit-seed"
            )
        if c.details.get("seed_sha256") != seed_hash:
            raise InputError(
                f"the seed does not match seed commitment {c.run_id} (sha256 {c.details['seed_sha256'][:16]}…, "
                f"made {c.created_at:%Y-%m-%d %H:%M} by {c.actor.get('user')}); give the committed seed"
            )
        grade = chain.find(conn, grade_run_id)
        # The first full grade run after the commitment froze the population: grading again until a favoured
        # subject falls out is the seed shopping the commitment exists to stop.
        first = next(
            (e for e in chain.entries(conn, kinds=("grade",)) if e.seq > c.seq and not e.details.get("selection")), None
        )
        replace = "or replace the commitment with --commit-seed and --redraw-reason (a recorded re-draw)"
        if first is None or grade is None or grade.kind != "grade" or grade.seq < c.seq:
            when = "is not in the ledger" if grade is None or grade.kind != "grade" else "was made before"
            raise InputError(
                f"grade run {grade_run_id} {when} seed commitment {c.run_id}: the population must be frozen after "
                f"the seed is committed; run `suijian grade` again and plan from the new run"
            )
        if grade.run_id != first.run_id:
            raise InputError(
                f"seed commitment {c.run_id} froze the population with grade run {first.run_id}, the first made "
                f"after it: draw from that run (--run {first.run_id} --as-of {first.get('as_of')}), {replace}"
            )
        if pack_files_hash is not None and pack_files_hash != (grade.get("pack") or {}).get("files_hash"):
            raise InputError(
                f"the rule pack's files are not those grade run {grade.run_id} used (a policy.yaml or another file "
                f"changed since the seed was committed): draw with that pack version "
                f"(`suijian rules export {grade.run_id} DIR`), {replace}"
            )
        frozen_scheme = grade.schemes.get("snapshot", canonical.SNAPSHOT)  # the grade run's, not today's
        if frozen is not None and content_hash(frozen, frozen_scheme) != grade.get("snapshot_hash"):
            raise InputError(
                f"the store changed after grade run {grade.run_id} froze the population for seed commitment "
                f"{c.run_id} (features, status, whitelist or regions): restore it, {replace}"
            )
        details["seed_commitment"] = c.run_id
    else:
        bound = [e.run_id for e in committed if e.details.get("seed_commitment")]
        if bound:
            raise InputError(
                f"plan {bound[-1]} was drawn from a committed seed, so a re-draw must be too: commit the new seed "
                f"first (suijian plan {_options(scope)} --commit-seed SHA256), grade again, then draw"
            )
        details["seed_commitment"] = None
    if not preview:
        since = committed[-1].seq if committed else 0
        shown = [e for e in _overlapping(conn, "preview", scope) if e.seq > since]
        details["previews"] = [e.run_id for e in shown]
        details["other_seeds_previewed"] = len({e.details.get("seed_sha256") for e in shown} - {seed_hash})
    return details


FROZEN_EXTRA = ("status", "whitelist")  # not rule features, but they decide who can be drawn


@overload
def frozen_features(frame: pl.DataFrame, pack: Pack) -> pl.DataFrame: ...
@overload
def frozen_features(frame: ParquetFrame, pack: Pack) -> ParquetFrame: ...
@overload
def frozen_features(frame: Frame, pack: Pack) -> Frame: ...


def frozen_features(frame: Frame, pack: Pack) -> Frame:
    """Per subject the features the pack reads, status and whitelist: the frozen population's main table (from a
    plan's subjects kept as Parquet, canonical.ParquetFrame: those columns, read only when hashed)."""
    return frame.select(["uscc", *sorted(set(pack.features) | {c for c in FROZEN_EXTRA if c in frame.columns})])


def frozen_tables(frame: Frame, pack: Pack, regions: pl.DataFrame | None = None) -> dict[str, Table | ParquetFrame]:
    """What a grade run freezes for a seed commitment, and what the draw must still find: per subject the
    features the pack reads, status and whitelist, and the region (from `frame` or `regions`)."""
    tables: dict[str, Table | ParquetFrame] = {"features": frozen_features(frame, pack)}
    if regions is not None:
        tables["regions"] = regions
    elif "region" in frame.columns:
        tables["regions"] = frame.select(["uscc", "region"])
    return tables


def plan_tables(
    subjects: Frame,
    items: Sequence[BaseModel],
    inspectors: Sequence[BaseModel],
    conflicts: Sequence[BaseModel],
    history: pl.DataFrame,
    calendar: Sequence[Mapping[str, Any]] | None = None,
    units: Sequence[BaseModel] = (),
) -> dict[str, Table | ParquetFrame]:
    """The plan's inputs as a snapshot: names and addresses are for the lists, not the draw, so they stay out.

    `calendar` is the working-day calendar of the period's years (engine.plan.calendar.WorkCalendar.table: one
    row per day, date, working, holiday, source), so a replay schedules with the same days whatever library
    release or calendar file is there later. `units` is the unit table (only when it has rows). Without one the snapshot has no calendar table, as plans made before
    it had none: their snapshots, and so their hashes, are what they were."""

    def records(models: Sequence[BaseModel]) -> list[dict[str, Any]]:
        return [m.model_dump(mode="json") for m in models]

    tables: dict[str, Table | ParquetFrame] = {
        "subjects": subjects.select([c for c in subjects.columns if c not in ("name", "address")]),
        "items": records(items),
        "inspectors": records(inspectors),
        "conflicts": records(conflicts),
        "history": history,
    }
    if calendar is not None:
        tables["calendar"] = [dict(row) for row in calendar]
    if units:  # the unit table decides staffing pools (engine.plan.units); none, no table, as before
        tables["units"] = records(units)
    return tables


PLAN_SNAPSHOT = canonical.entry_schemes("plan")["snapshot"]
"""The scheme a new plan's input snapshot is hashed with."""


def plan(
    conn: Connection,
    *,
    plan_id: str,
    document_sha256: str,
    pack: Pack,
    tables: Mapping[str, Table],
    seed: str,
    as_of: dt.date,
    grade_run_id: str,
    details: Mapping[str, Any],
    summary: Mapping[str, Any],
    actor: Identity,
    created_at: dt.datetime,
    pack_info: Mapping[str, str | None] | None = None,
    outputs_scheme: str = canonical.PLAN,
    packed: _snapshot.Packed | None = None,
) -> chain.Entry:
    """The ledger entry of a committed plan; `document_sha256` is the SHA-256 of its document's UTF-8 text
    (engine.planning.plan_document); `pack_info` is save_pack's answer when the caller saved the pack;
    `outputs_scheme` is the document's scheme (canonical.PLAN3 for a fitted plan, planning.PlanDocument.scheme);
    `packed` is the snapshot of `tables` hashed and packed already (engine.ledger.snapshot.pack, PLAN_SNAPSHOT)."""
    chain.lock(conn)
    return chain.append(
        conn,
        run_id=plan_id,
        kind="plan",
        actor=actor,
        created_at=created_at,
        as_of=as_of,
        seed=seed,
        pack=dict(pack_info) if pack_info is not None else save_pack(conn, pack),
        # snapshot-2 since plan/3: a city's plan snapshot hashed as typed columns (plans recorded before keep
        # snapshot-1, which their entries name).
        snapshot_hash=_snapshot.save(conn, tables, PLAN_SNAPSHOT, packed),
        outputs_hash=outputs.plan_outputs_digest(document_sha256, outputs_scheme),
        details={**details, "grade_run": grade_run_id, **summary},
        schemes={"outputs": outputs_scheme},
    )


def preview(
    conn: Connection,
    *,
    plan_digest: str,
    scope: Mapping[str, Any],
    seed: str,
    as_of: dt.date,
    pack: Pack,
    grade_run_id: str,
    actor: Identity,
    created_at: dt.datetime,
    reason: str | None = None,
    frozen: Mapping[str, Table | ParquetFrame] | None = None,
    pack_files_hash: str | None = None,
    outputs_scheme: str = canonical.PLAN,
) -> tuple[chain.Entry, bool]:
    """Record that `actor` looked at this draw before committing it; (entry, whether new).

    The draw must be one that could be committed (check_draw); the same viewer seeing the same draw again is
    not a new entry."""
    require("preview", actor)
    chain.lock(conn)
    for e in chain.entries(conn, kinds=("plan",)):
        if e.get("outputs_hash") == plan_digest:
            raise InputError(
                f"this draw is plan {e.run_id}, already committed: nothing to preview; "
                f"see it with `suijian tasks export --plan {e.run_id}`"
            )
    details = check_draw(
        conn,
        scope=scope,
        seed=seed,
        grade_run_id=grade_run_id,
        actor=actor,
        reason=reason,
        frozen=frozen,
        preview=True,
        pack_files_hash=pack_files_hash,
    )
    for e in chain.entries(conn, kinds=("preview",)):
        if (
            e.get("outputs_hash") == plan_digest
            and e.actor == actor.as_dict()
            and e.details.get("scope") == details["scope"]
        ):
            return e, False
    run_id = f"V{scope['period']['label']}-{plan_digest[:10]}-{chain.head(conn)[0] + 1:04d}"
    entry = chain.append(
        conn,
        run_id=run_id,
        kind="preview",
        actor=actor,
        created_at=created_at,
        as_of=as_of,
        seed=seed,
        pack=save_pack(conn, pack),
        outputs_hash=plan_digest,
        details={**details, "grade_run": grade_run_id},
        schemes={"outputs": outputs_scheme},
    )
    return entry, True
