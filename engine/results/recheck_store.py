"""Re-check visits in the store: schedule the open `recheck` proposals (engine.results.rechecks), list the re-checks
still to do for the task-list export, and give their windows to result validation.

A re-check is written as a new plan_visit row under the plan of the visit it follows up (result_item refers to
plan_visit rows, so `results record|import` and `publish results` treat it as any visit) plus a recheck_visit row
saying what it re-checks and how it was staffed. The plan's document and its own rows are never touched. Each
scheduling run is one `recheck` ledger entry whose outputs_hash covers its rows (`rechecks.row_hash`), so
`audit verify` catches an edited team, day or window (engine.results.verify).

Done: a re-check whose visit has a result (plan_visit.status 'done'), or whose item a later result of the same
subject covers (what engine.results.followups counts as rechecked) — then it is neither scheduled nor exported.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine import planning
from engine.ledger import chain, runs
from engine.plan.calendar import WorkCalendar
from engine.plan.fitted import item_needs
from engine.plan.policy import PlanPolicy
from engine.plan.units import Units, build_units, county_of
from engine.plan_visits import with_names
from engine.results import rechecks, records
from engine.results.followups import ProposalKind
from engine.results.model import VisitResult, current_by_visit
from engine.results.validate import VisitRef
from engine.roster_links import org_units
from entities import store
from entities.errors import InputError
from entities.identity import Identity
from entities.models import InspectorCreate, OrgUnitCreate

LEDGER_KIND = "recheck"


# ── what is open ────────────────────────────────────────────────────────────────────────────────────────────


def _rechecked(conn: Connection, proposals: Sequence[Mapping[str, Any]]) -> set[str]:
    """The proposals whose item a later result of the same subject already covers (followups' `rechecked`)."""
    if not proposals:
        return set()
    usccs = sorted({p["uscc"] for p in proposals})
    t = store.table("result_item")
    keys: set[tuple[str, str]] = set()
    for start in range(0, len(usccs), 900):
        chunk = usccs[start : start + 900]
        keys |= {
            (str(a), str(b)) for a, b in conn.execute(sa.select(t.c.plan_id, t.c.visit_id).where(t.c.uscc.in_(chunk)))
        }
    in_force = current_by_visit(records.stored_results(conn, keys=keys))
    by_subject: dict[str, list[VisitResult]] = {}
    for r in in_force.values():
        by_subject.setdefault(r.uscc, []).append(r)
    done = set()
    for p in proposals:
        original = in_force.get((p["plan_id"], p["visit_id"]))
        if original is None:
            continue
        for r in by_subject.get(p["uscc"], []):
            if r.key != original.key and r.completed_on > original.completed_on and r.item(p["item_code"]) is not None:
                done.add(p["id"])
                break
    return done


def open_dues(conn: Connection) -> list[rechecks.Due]:
    """The `recheck` proposals with no re-check visit yet and not already rechecked, with their original visits."""
    p, rv, v = store.table("followup_proposal"), store.table("recheck_visit"), store.table("plan_visit")
    stmt = (
        sa.select(p, v.c.region, v.c.team, v.c.lead)
        .join(v, sa.and_(v.c.plan_id == p.c.plan_id, v.c.visit_id == p.c.visit_id))
        .outerjoin(rv, rv.c.proposal_id == p.c.id)
        .where(p.c.kind == ProposalKind.RECHECK.value, rv.c.proposal_id.is_(None))
        .order_by(p.c.id)
    )
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
    done = _rechecked(conn, rows)
    out = []
    for r in rows:
        if r["id"] in done or r["earliest"] is None or r["latest"] is None:
            continue
        out.append(
            rechecks.Due(
                proposal_id=r["id"],
                plan_id=r["plan_id"],
                of_visit_id=r["visit_id"],
                uscc=r["uscc"],
                region=r["region"],
                item_code=r["item_code"],
                reason=r["reason"],
                basis=r["basis"],
                earliest=r["earliest"],
                latest=r["latest"],
                team=tuple(r["team"]),
                lead=r["lead"],
            )
        )
    return out


# ── scheduling ──────────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Run:
    """What a scheduling run wrote."""

    run_id: str | None
    scheduled: list[rechecks.Recheck]
    unstaffed: list[rechecks.Unstaffed]
    ledger_seq: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "scheduled": [
                {
                    "visit": r.visit_id,
                    "plan_id": r.due.plan_id,
                    "of_visit": r.due.of_visit_id,
                    "item": r.due.item_code,
                    "scheduled_on": r.scheduled_on.isoformat(),
                    "team": list(r.team),
                    "team_rule": r.team_rule,
                    "note": r.note,
                }
                for r in self.scheduled
            ],
            "unstaffed": [{"proposal": u.due.proposal_id, "reason": u.reason} for u in self.unstaffed],
            "ledger_seq": self.ledger_seq,
        }


def _policy(conn: Connection, plan_id: str) -> PlanPolicy:
    """The staffing policy the original plan was made with (its document's `policy`)."""
    doc = runs.plan_document(conn, plan_id)
    if doc is None or doc.text is None or not doc.intact:
        raise InputError(
            f"plan {plan_id}: its stored document cannot be read or does not match its hash; run `suijian audit verify`"
        )
    return PlanPolicy.model_validate(json.loads(doc.text)["policy"])


def _busy(
    conn: Connection, first: dt.date, last: dt.date
) -> tuple[Counter[tuple[str, dt.date]], set[tuple[str, str, dt.date]]]:
    """Visits already on people's days between `first` and `last` (every plan's, and re-checks already scheduled)."""
    v = store.table("plan_visit")
    busy: Counter[tuple[str, dt.date]] = Counter()
    trips: set[tuple[str, str, dt.date]] = set()
    stmt = sa.select(v.c.team, v.c.region, v.c.scheduled_on).where(v.c.scheduled_on >= first, v.c.scheduled_on <= last)
    for team, region, day in conn.execute(stmt):
        for m in team:
            busy[(m, day)] += 1
            trips.add((m, region, day))
    return busy, trips


def _pooling(units: list[OrgUnitCreate], people: list[InspectorCreate], policy: PlanPolicy) -> Any:
    """may_staff(inspector, due): the staffing pool rule of engine.plan (unit table, else county or jurisdiction)."""
    by_county = policy.team_pool == "county"
    table: Units | None = build_units(units, people, pool_by_county=by_county) if units else None
    if table is not None and table.active:
        unit_table = table

        def with_units(p: InspectorCreate, due: rechecks.Due) -> bool:
            pool = unit_table.pool_of_township(due.region)
            return (
                pool is not None
                and unit_table.pool_of_inspector(p.id) == pool
                and unit_table.serves_item(p.unit, due.item_code)
            )

        return with_units
    if by_county:
        return lambda p, due: county_of(p.region) == county_of(due.region)
    return lambda p, due: True


def schedule(
    conn: Connection,
    calendar: WorkCalendar,
    as_of: dt.date,
    *,
    actor: Identity,
    created_at: dt.datetime,
) -> Run:
    """Schedule every open re-check (team and day), write the rows and one `recheck` ledger entry; or nothing."""
    chain.lock(conn)
    dues = open_dues(conn)
    if not dues:
        return Run(None, [], [], None)
    # The roster, conflicts and unit table as they are now (who is still active), read as the planner reads them.
    people_list, conflict_rows = planning.roster(conn)
    people = {p.id: p for p in people_list}
    conflicts: dict[str, set[str]] = {}
    for c in conflict_rows:
        conflicts.setdefault(c.uscc, set()).add(c.inspector_id)
    items = {i.code: i for i in planning.check_items(conn)}
    units = org_units(conn)
    first = min(min(d.earliest for d in dues), as_of)
    last = max(max(d.latest for d in dues), calendar.add_working_days(as_of, 10))
    calendar.require(first, last)
    busy, trips = _busy(conn, first, last)
    done = rechecks.Scheduled()
    for plan_id in sorted({d.plan_id for d in dues}):
        policy = _policy(conn, plan_id)
        mine = [d for d in dues if d.plan_id == plan_id]
        needs = {d.item_code: item_needs(items[d.item_code], policy) for d in mine if d.item_code in items}
        part = rechecks.schedule(
            mine,
            people,
            conflicts,
            needs,
            calendar,
            as_of,
            team_size=policy.team_size,
            daily_capacity=policy.daily_capacity,
            may_staff=_pooling(units, people_list, policy),
            busy=busy,
            trips=trips,
        )
        for r in part.rechecks:  # the next plan's re-checks see these days taken
            for m in r.team:
                busy[(m, r.scheduled_on)] += 1
                trips.add((m, r.due.region, r.scheduled_on))
        done.rechecks += part.rechecks
        done.unstaffed += part.unstaffed
    if not done.rechecks:
        return Run(None, [], done.unstaffed, None)
    rows = [{**r.visit_row(), **r.recheck_row("")} for r in done.rechecks]
    digest = rechecks.row_hash(rows)
    run_id = "RS-" + hashlib.sha256(f"{digest}|{as_of.isoformat()}".encode()).hexdigest()[:20]
    store.bulk_insert(conn, "plan_visit", [r.visit_row() for r in done.rechecks])
    store.bulk_insert(conn, "recheck_visit", [r.recheck_row(run_id) for r in done.rechecks])
    entry = chain.append(
        conn,
        run_id=run_id,
        kind=LEDGER_KIND,
        actor=actor,
        created_at=created_at,
        as_of=as_of,
        outputs_hash=digest,
        details={
            "scheme": rechecks.SCHEME,
            "rechecks": len(done.rechecks),
            "restaffed": sum(1 for r in done.rechecks if r.team_rule == rechecks.RESTAFFED),
            "unstaffed": len(done.unstaffed),
            "calendar": calendar.version,
        },
    )
    return Run(run_id, done.rechecks, done.unstaffed, entry.seq)


# ── reading ─────────────────────────────────────────────────────────────────────────────────────────────────


def run_rows(conn: Connection, run_id: str) -> list[dict[str, Any]]:
    """A scheduling run's re-checks as hashed: recheck_visit joined with its plan_visit row."""
    rv, v = store.table("recheck_visit"), store.table("plan_visit")
    stmt = (
        sa.select(rv, *(v.c[c] for c in ("uscc", "region", "items", "team", "lead", "scheduled_on", "due_on")))
        .join(v, sa.and_(v.c.plan_id == rv.c.plan_id, v.c.visit_id == rv.c.visit_id))
        .where(rv.c.run_id == run_id)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def to_do(conn: Connection, window: tuple[dt.date, dt.date], *, inspector: str | None = None) -> list[dict[str, Any]]:
    """The re-checks not yet done whose window (or, if late, scheduled day) overlaps `window`, with the names people
    read (engine.plan_visits.with_names) and what they re-check, by scheduled day then id."""
    rv, v, p = store.table("recheck_visit"), store.table("plan_visit"), store.table("followup_proposal")
    stmt = (
        sa.select(
            v,
            rv.c.proposal_id,
            rv.c.of_visit_id,
            rv.c.earliest,
            rv.c.latest,
            rv.c.team_rule,
            rv.c.note,
            p.c.reason,
            p.c.basis,
        )
        .join(rv, sa.and_(v.c.plan_id == rv.c.plan_id, v.c.visit_id == rv.c.visit_id))
        .join(p, p.c.id == rv.c.proposal_id)
        .where(v.c.status != "done", rv.c.earliest <= window[1])
    )
    rows = []
    for r in conn.execute(stmt).mappings():
        row = dict(r)
        if max(row["latest"], row["scheduled_on"] or row["latest"]) < window[0]:
            continue
        if inspector is not None and inspector not in row["team"]:
            continue
        rows.append(row)
    proposals = [
        {
            "id": r["proposal_id"],
            "plan_id": r["plan_id"],
            "visit_id": r["of_visit_id"],
            "uscc": r["uscc"],
            "item_code": r["items"][0],
        }
        for r in rows
    ]
    done = _rechecked(conn, proposals)
    rows = [r for r in rows if r["proposal_id"] not in done]
    rows.sort(key=lambda r: (r["scheduled_on"], r["plan_id"], r["visit_id"]))
    return with_names(conn, rows)


def status(conn: Connection, proposal_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """For `followups list`: each scheduled re-check proposal's visit, day and whether it is done."""
    rv, v = store.table("recheck_visit"), store.table("plan_visit")
    wanted = set(proposal_ids)
    stmt = sa.select(rv.c.proposal_id, rv.c.plan_id, rv.c.visit_id, v.c.scheduled_on, v.c.status, v.c.team).join(
        v, sa.and_(v.c.plan_id == rv.c.plan_id, v.c.visit_id == rv.c.visit_id)
    )
    return {
        str(r.proposal_id): {
            "visit": r.visit_id,
            "scheduled_on": r.scheduled_on.isoformat() if r.scheduled_on else None,
            "team": list(r.team),
            "done": r.status == "done",
        }
        for r in conn.execute(stmt)
        if r.proposal_id in wanted
    }


def covered(conn: Connection, proposals: Sequence[Mapping[str, Any]]) -> set[str]:
    """Of these `recheck` proposals (followup_proposal rows), those a later result of the subject already covers."""
    return _rechecked(conn, proposals)


def with_windows(conn: Connection, visits: dict[tuple[str, str], VisitRef]) -> dict[tuple[str, str], VisitRef]:
    """The visits with a re-check's window starting at its proposal's earliest day (not its plan's period start):
    a re-check cannot be done before the deadline it checks has come."""
    if not visits:
        return visits
    rv = store.table("recheck_visit")
    plans = sorted({k[0] for k in visits})
    found = {
        (str(a), str(b)): e
        for a, b, e in conn.execute(
            sa.select(rv.c.plan_id, rv.c.visit_id, rv.c.earliest).where(rv.c.plan_id.in_(plans))
        )
        if (str(a), str(b)) in visits
    }
    if not found:
        return visits
    return {k: dataclasses.replace(ref, window_start=found[k]) if k in found else ref for k, ref in visits.items()}
