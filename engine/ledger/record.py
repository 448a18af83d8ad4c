"""Recording runs in the ledger, and the rules of draw integrity.

- A committed plan for a scope (regions × check items × period) is final: a further draw for an overlapping
  scope is a re-draw, allowed only to a supervisor with a reason, and recorded as such.
- A seed commitment (`suijian plan --commit-seed SHA256`) fixes the seed's hash before the population is
  frozen: the plan that follows must reveal a matching seed, and must use a grade run made after the
  commitment, so no one can try seeds against a known population.
- A preview (supervisors) is recorded too, seed and all: looking at draws is never silent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from engine.ledger import chain, outputs, packs, snapshot
from engine.ledger.canonical import Table
from engine.rules import Pack
from entities.errors import InputError
from entities.identity import Identity, require


def pack_info(pack: Pack, version: packs.PackVersion) -> dict[str, str]:
    return {"name": pack.name, "version": pack.version, "hash": pack.hash, "files_hash": version.files_hash}


def save_pack(conn: Connection, pack: Pack) -> dict[str, str]:
    """Keep this pack version (every file) in the store; its ledger description."""
    version = packs.version_of(pack)
    packs.save(conn, version)
    return pack_info(pack, version)


def grade_run(
    conn: Connection, run: Any, pack: Pack, *, actor: Identity, created_at: dt.datetime,
    usccs: Sequence[str] | None, features: pl.DataFrame, results: pl.DataFrame, outcomes: Mapping[int, str],
) -> chain.Entry:
    """The ledger entry of a grade run (engine.grading.GradeRun) with its snapshot and pack version."""
    return chain.append(
        conn, run_id=run.id, kind="grade", actor=actor, created_at=created_at, as_of=run.as_of,
        pack=save_pack(conn, pack), snapshot_hash=snapshot.save(conn, {"features": features}),
        outputs_hash=outputs.grade_outputs_hash(results, outcomes),
        details={
            "subjects": run.subjects, "outcomes": run.outcomes, "evaluations": run.evaluations,
            "subjects_with_errors": run.errors, "selection": sorted(usccs) if usccs else None,
            "distributions": run.distributions,
        },
    )


# -- scopes ------------------------------------------------------------------------------------------------------


def scope_of(regions: Sequence[str] | None, items: Sequence[str] | None, period: Any) -> dict[str, Any]:
    return {
        "regions": sorted(regions) if regions else ["*"],
        "items": sorted(items) if items else ["*"],
        "period": {"label": period.label, "start": period.start.isoformat(), "end": period.end.isoformat()},
    }


def _prefix(code: str) -> str:
    from engine.plan.make import _region_prefix

    return _region_prefix(code)


def overlaps(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two scopes can draw the same subject for the same item in the same days."""
    pa, pb = a["period"], b["period"]
    if pa["start"] > pb["end"] or pb["start"] > pa["end"]:
        return False
    ra, rb = a["regions"], b["regions"]
    regions = "*" in ra or "*" in rb or any(
        _prefix(x).startswith(_prefix(y)) or _prefix(y).startswith(_prefix(x)) for x in ra for y in rb
    )
    ia, ib = a["items"], b["items"]
    return regions and ("*" in ia or "*" in ib or bool(set(ia) & set(ib)))


def describe(scope: Mapping[str, Any]) -> str:
    regions = "all regions" if scope["regions"] == ["*"] else "regions " + ",".join(scope["regions"])
    items = "all items" if scope["items"] == ["*"] else "items " + ",".join(scope["items"])
    p = scope["period"]
    return f"{p['label']} ({p['start']} – {p['end']}), {regions}, {items}"


def _overlapping(conn: Connection, kind: str, scope: Mapping[str, Any]) -> list[chain.Entry]:
    return [e for e in chain.entries(conn, kinds=(kind,)) if "scope" in e.details and overlaps(e.details["scope"], scope)]


def committed_for(conn: Connection, scope: Mapping[str, Any]) -> list[str]:
    """Ids of the committed plans whose scope overlaps `scope`, oldest first."""
    return [e.run_id for e in _overlapping(conn, "plan", scope)]


def seed_sha256(seed: str) -> str:
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


def check_seed_hash(text: str) -> str:
    value = text.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise InputError(f"--commit-seed {text!r} is not a SHA-256 (64 hex digits); e.g. `printf %s SEED | sha256sum`")
    return value


def _pending_commitment(conn: Connection, scope: Mapping[str, Any]) -> chain.Entry | None:
    """The newest commitment for an overlapping scope that no plan has revealed yet."""
    commits = _overlapping(conn, "commit", scope)
    if not commits:
        return None
    latest = commits[-1]
    plans = _overlapping(conn, "plan", scope)
    return latest if not plans or plans[-1].seq < latest.seq else None


# -- commitments, plans, previews ---------------------------------------------------------------------------------


def commit_seed(
    conn: Connection, *, digest: str, scope: Mapping[str, Any], actor: Identity, created_at: dt.datetime,
    reason: str | None = None,
) -> tuple[chain.Entry, bool]:
    """Record a seed commitment for the scope; (entry, whether new). A second pending one needs a reason."""
    require("commit-seed", actor)
    digest = check_seed_hash(digest)
    chain.lock(conn)
    pending = _pending_commitment(conn, scope)
    if pending is not None and pending.details.get("seed_sha256") == digest:
        return pending, False
    if pending is not None and not (reason and reason.strip()):
        raise InputError(
            f"seed commitment {pending.run_id} for {describe(pending.details['scope'])} is still unrevealed; "
            "replacing it is recorded as a re-draw: pass --redraw-reason \"…\""
        )
    run_id = f"C{scope['period']['label']}-{digest[:10]}-{chain.head(conn)[0] + 1:04d}"
    details = {"scope": dict(scope), "seed_sha256": digest}
    if pending is not None:
        details.update(replaces=pending.run_id, reason=reason.strip() if reason else None, redraw=True)
    return chain.append(conn, run_id=run_id, kind="commit", actor=actor, created_at=created_at, details=details), True


def check_draw(
    conn: Connection, *, scope: Mapping[str, Any], seed: str, grade_run_id: str, actor: Identity,
    reason: str | None,
) -> dict[str, Any]:
    """Whether this draw may be committed (taking the ledger lock first); the details to record with it."""
    chain.lock(conn)
    details: dict[str, Any] = {"scope": dict(scope), "seed_sha256": seed_sha256(seed)}
    committed = _overlapping(conn, "plan", scope)
    reason = reason.strip() if reason else None
    if committed:
        last = committed[-1]
        if not reason:
            raise InputError(
                f"plan {last.run_id} is already committed for {describe(last.details['scope'])} "
                f"({last.created_at:%Y-%m-%d %H:%M} by {last.actor.get('user')}); a further draw is a re-draw: "
                "pass --redraw-reason \"…\" (supervisors only); see `suijian audit redraws`"
            )
        require("redraw", actor)
        details.update(redraw=True, redraw_of=[e.run_id for e in committed], reason=reason)
    elif reason:
        raise InputError(f"nothing to re-draw: no plan is committed for {describe(scope)}; drop --redraw-reason")
    pending = _pending_commitment(conn, scope)
    if pending is not None:
        if pending.details.get("seed_sha256") != details["seed_sha256"]:
            raise InputError(
                f"the seed does not match commitment {pending.run_id} (sha256 {pending.details['seed_sha256'][:16]}…) "
                f"made {pending.created_at:%Y-%m-%d %H:%M} by {pending.actor.get('user')}; reveal the committed seed"
            )
        grade = chain.find(conn, grade_run_id)
        if grade is None or grade.seq < pending.seq:
            raise InputError(
                f"grade run {grade_run_id} was made before seed commitment {pending.run_id}: the population must be "
                "frozen after the seed is committed; run `suijian grade` again and plan from the new run"
            )
        details["seed_commitment"] = pending.run_id
    else:
        details["seed_commitment"] = None
    return details


def plan_tables(
    subjects: pl.DataFrame, items: Sequence[Any], inspectors: Sequence[Any], conflicts: Sequence[Any],
    history: pl.DataFrame,
) -> dict[str, Table]:
    """The plan's inputs as a snapshot: names and addresses are for the lists, not the draw, so they stay out."""
    def records(models: Sequence[Any]) -> list[dict[str, Any]]:
        return [m.model_dump(mode="json") for m in models]

    return {
        "subjects": subjects.drop([c for c in ("name", "address") if c in subjects.columns]),
        "items": records(items), "inspectors": records(inspectors), "conflicts": records(conflicts),
        "history": history,
    }


def plan(
    conn: Connection, *, plan_id: str, document_text: str, pack: Pack, tables: Mapping[str, Table], seed: str,
    as_of: dt.date, grade_run_id: str, details: Mapping[str, Any], summary: Mapping[str, Any], actor: Identity,
    created_at: dt.datetime,
) -> chain.Entry:
    return chain.append(
        conn, run_id=plan_id, kind="plan", actor=actor, created_at=created_at, as_of=as_of, seed=seed,
        pack=save_pack(conn, pack), snapshot_hash=snapshot.save(conn, tables),
        outputs_hash=outputs.plan_outputs_hash(document_text),
        details={**details, "grade_run": grade_run_id, **summary},
    )


def preview(
    conn: Connection, *, plan_digest: str, scope: Mapping[str, Any], seed: str, as_of: dt.date, pack: Pack,
    grade_run_id: str, actor: Identity, created_at: dt.datetime,
) -> tuple[chain.Entry, bool]:
    """Record that `actor` looked at this draw before committing it; (entry, whether new)."""
    require("preview", actor)
    run_id = f"V{scope['period']['label']}-{plan_digest[:10]}"
    found = chain.find(conn, run_id)
    if found is not None:
        return found, False
    entry = chain.append(
        conn, run_id=run_id, kind="preview", actor=actor, created_at=created_at, as_of=as_of, seed=seed,
        pack=save_pack(conn, pack), outputs_hash=plan_digest,
        details={"scope": dict(scope), "seed_sha256": seed_sha256(seed), "grade_run": grade_run_id},
    )
    return entry, True
