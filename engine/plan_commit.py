"""A supervisor's two acts on a plan, as `suijian plan` and the web app both take them: commit to a seed before the
population is frozen, and draw and commit the plan.

    commit_seed(conn, digest=…, scope=…, actor=…, created_at=…, reason=None) -> (entry, new)
    drawn = draw(conn, pack, seed=…, period=…, as_of=…, actor=…, created_at=…, …)   # Drawn

Both refuse (one line, nothing written) what would fail after minutes of work at city scale before any feature is
read: a role that may not act, an unknown region or item, no grade run as of the date, no inspectors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from engine import planning
from engine.ledger import chain, record, runs
from engine.plan import Plan
from engine.plan.calendar import CalendarFile
from engine.plan.policy import Period
from engine.progress import Progress, no_progress
from engine.rules import Pack
from engine.sampling import TicketKeys
from entities import identity, store
from entities.errors import InputError


def commit_seed(
    conn: Connection,
    *,
    digest: str,
    scope: Mapping[str, Any],
    actor: identity.Identity,
    created_at: dt.datetime,
    reason: str | None = None,
) -> tuple[chain.Entry, bool]:
    """Record a commitment to a seed (its SHA-256) for a scope whose regions and items exist; (entry, whether new)."""
    identity.require("commit-seed", actor)
    # A commitment for a misspelt region or item would bind nothing: the scope must name real ones.
    regions = [r for r in scope["regions"] if r != "*"]
    unknown = sorted(set(regions) - store.existing_values(conn, "region", "code", regions))
    if unknown:
        raise InputError(f"unknown region {unknown[0]} (not in the region table); check the GB/T 2260 code")
    if scope["items"] != ["*"]:
        planning.check_items(conn, scope["items"])
    return record.commit_seed(conn, digest=digest, scope=scope, actor=actor, created_at=created_at, reason=reason)


def check_preconditions(conn: Connection, day: dt.date, run_id: str | None, items: Sequence[str]) -> None:
    """Refuse at once what would fail after minutes of work at city scale: no grade run as of the date, no check
    items (or an unknown one), no inspectors."""
    planning.grade_run(conn, run_id, day)
    planning.check_items(conn, list(items) or None)
    if not store.count_rows(conn, "inspector"):
        raise InputError(
            "the store has no inspectors to staff the visits; import them first: suijian import inspectors FILE"
        )


def compute(
    conn: Connection,
    pack: Pack,
    *,
    seed: str,
    period: Period,
    as_of: dt.date,
    regions: Sequence[str] = (),
    items: Sequence[str] = (),
    run_id: str | None = None,
    calendar_files: Sequence[CalendarFile] = (),
    progress: Progress = no_progress,
    ticket_keys_of: TicketKeys | None = None,
) -> tuple[Plan, runs.GradeRunRow, dict[str, Any]]:
    """The plan, its grade run and its input snapshot, after the preconditions (nothing is written): what `draw`
    commits and `suijian plan --preview` shows."""
    check_preconditions(conn, as_of, run_id, items)
    return planning.plan_from_store(
        conn,
        pack,
        seed=seed,
        period=period,
        as_of=as_of,
        regions=list(regions) or None,
        item_codes=list(items) or None,
        run_id=run_id,
        progress=progress,
        calendar_files=calendar_files,
        ticket_keys_of=ticket_keys_of,
    )


@dataclass(frozen=True)
class Drawn:
    """A committed plan: its id, whether it is new, the later plans that re-drew it, its summary, the grade run it
    was drawn from and the ledger head after the commit."""

    plan_id: str
    created: bool
    superseded_by: list[str]
    summary: dict[str, Any]
    grade_run: str
    head: tuple[int, str]


def draw(
    conn: Connection,
    pack: Pack,
    *,
    seed: str,
    period: Period,
    as_of: dt.date,
    actor: identity.Identity,
    created_at: dt.datetime,
    regions: Sequence[str] = (),
    items: Sequence[str] = (),
    run_id: str | None = None,
    redraw_reason: str | None = None,
    calendar_files: Sequence[CalendarFile] = (),
    progress: Progress = no_progress,
    ticket_keys_of: TicketKeys | None = None,
) -> Drawn:
    """Draw the period's plan from the grade run and commit it to the ledger (a re-draw needs `redraw_reason`)."""
    identity.require("plan", actor)
    if redraw_reason is not None:
        identity.require("redraw", actor)
    scope = record.scope_of(list(regions) or None, list(items) or None, period)
    record.refuse_redraw_early(conn, scope=scope, seed=seed, reason=redraw_reason)
    result, run, tables = compute(
        conn,
        pack,
        seed=seed,
        period=period,
        as_of=as_of,
        regions=regions,
        items=items,
        run_id=run_id,
        calendar_files=calendar_files,
        progress=progress,
        ticket_keys_of=ticket_keys_of,
    )
    plan_id, created = planning.save_plan(
        conn,
        result,
        run,
        pack=pack,
        tables=tables,
        seed=seed,
        regions=list(regions) or None,
        items=list(items) or None,
        period=period,
        as_of=as_of,
        created_at=created_at,
        actor=actor,
        redraw_reason=redraw_reason,
        scope=scope,
        progress=progress,
    )
    superseded = [] if created else record.superseded_by(conn, plan_id)
    # The summary of the plan as stored (plan/3 for a fitted plan), so --json names the stored document's format.
    summary = planning.as_stored(result).summary()
    return Drawn(plan_id, created, superseded, summary, run["id"], chain.head(conn))
