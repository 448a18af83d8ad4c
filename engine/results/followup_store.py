"""Follow-ups in the store: proposals computed from the recorded results (engine.results.followups), and the
supervisor's decisions on them — one per proposal, a `decision` ledger entry each; a confirmed 经营异常名录 listing
becomes a list_entry row, which the credit rules read at the next grade.

Proposals are derived (the same results propose the same follow-ups, by a stable id) and inserted once; a
decision is a recorded fact and is never changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.ledger import canonical, chain
from engine.plan.calendar import WorkCalendar
from engine.results import followups, records
from engine.results.codes import ResultCodes, default_codes
from engine.results.model import current_by_visit
from engine.rules.model import Pack
from entities import store
from entities.errors import InputError
from entities.identity import Identity

LEDGER_KIND = "decision"
SCHEME = "suijian.decision/1"


def _domains(conn: Connection) -> dict[str, str]:
    t = store.table("check_item")
    return {str(c): str(d) for c, d in conn.execute(sa.select(t.c.code, t.c.domain))}


def refresh(
    conn: Connection, calendar: WorkCalendar, as_of: dt.date, rules: Pack, *, codes: ResultCodes | None = None
) -> int:
    """Compute the follow-ups the recorded results call for as of `as_of` under the follow-up decisions of the
    pack `rules`; insert the new ones; how many were new."""
    table = codes if codes is not None else default_codes()
    versions = records.stored_results(conn)
    held = current_by_visit(versions)
    in_force = [held[k] for k in sorted(held)]
    domains = _domains(conn)
    by_subject: dict[str, list[Any]] = {}
    for r in in_force:
        by_subject.setdefault(r.uscc, []).append(r)
    facts = []
    for r in in_force:
        if r.completed_on > as_of:
            continue
        later = [x for x in by_subject[r.uscc] if x.key != r.key]
        facts.extend(followups.facts(r, domains, calendar, as_of, rechecks=later, codes=table))
    proposals = followups.propose(facts, calendar, rules, codes=table)
    t = store.table("followup_proposal")
    known = {str(k) for (k,) in conn.execute(sa.select(t.c.id))}
    new = [
        {
            "id": p.key,
            "kind": p.kind.value,
            "plan_id": p.plan_id,
            "visit_id": p.visit_id,
            "uscc": p.uscc,
            "item_code": p.item_code,
            "reason": p.reason,
            "basis": p.basis,
            "earliest": p.earliest,
            "latest": p.latest,
            "needs_decision": p.needs_decision,
            "proposed_on": as_of,
        }
        for p in proposals
        if p.key not in known
    ]
    store.bulk_insert(conn, "followup_proposal", new)
    return len(new)


@dataclass(frozen=True)
class Row:
    proposal: dict[str, Any]
    decision: dict[str, Any] | None


def listing(conn: Connection, *, open_only: bool = False, uscc: str | None = None) -> list[Row]:
    """Stored proposals with their decisions, by subject and id; `open_only`: decisions not yet taken."""
    p, d = store.table("followup_proposal"), store.table("followup_decision")
    stmt = sa.select(p).order_by(p.c.uscc, p.c.id)
    if uscc:
        stmt = stmt.where(p.c.uscc == uscc)
    decided = {str(r["proposal_id"]): dict(r) for r in conn.execute(sa.select(d)).mappings()}
    out = []
    for r in conn.execute(stmt).mappings():
        row = Row(dict(r), decided.get(str(r["id"])))
        if open_only and (row.decision is not None or not row.proposal["needs_decision"]):
            continue
        out.append(row)
    return out


def decision_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 of a decision row as canonical JSON (scheme SCHEME)."""
    data = {
        "proposal_id": row["proposal_id"],
        "decision": row["decision"],
        "decided_by": row["decided_by"],
        "decided_on": row["decided_on"].isoformat()
        if isinstance(row["decided_on"], dt.date)
        else str(row["decided_on"])[:10],
        "reason": row["reason"],
    }
    return hashlib.sha256(canonical.canon_json(data).encode("utf-8")).hexdigest()


def decide(
    conn: Connection,
    proposal_id: str,
    decision: followups.Decision,
    *,
    actor: Identity,
    decided_on: dt.date,
    reason: str,
    created_at: dt.datetime,
) -> dict[str, Any]:
    """Record a supervisor's decision on a stored proposal; a confirmed listing becomes a list_entry row."""
    p, d = store.table("followup_proposal"), store.table("followup_decision")
    chain.lock(conn)
    row = conn.execute(sa.select(p).where(p.c.id == proposal_id)).mappings().first()
    if row is None:
        raise InputError(f"no follow-up {proposal_id}; see `suijian followups list`")
    taken = conn.execute(sa.select(d).where(d.c.proposal_id == proposal_id)).mappings().first()
    if taken is not None:
        raise InputError(
            f"follow-up {proposal_id} was already decided ({taken['decision']} by {taken['decided_by']} on "
            f"{taken['decided_on']}); a decision is not changed"
        )
    if decided_on < row["proposed_on"]:
        raise InputError(f"--on {decided_on} is before the proposal was made ({row['proposed_on']})")
    proposal = followups.Proposal(
        kind=followups.ProposalKind(row["kind"]),
        plan_id=row["plan_id"],
        visit_id=row["visit_id"],
        uscc=row["uscc"],
        item_code=row["item_code"],
        reason=row["reason"],
        basis=row["basis"],
        earliest=row["earliest"],
        latest=row["latest"],
    )
    decided = followups.decide(proposal, decision, actor.user, actor.role.value, decided_on, reason)
    run_id = "FD-" + hashlib.sha256(f"{proposal_id}|{decision.value}|{decided_on}".encode()).hexdigest()[:20]
    record = {
        "proposal_id": proposal_id,
        "decision": decision.value,
        "decided_by": actor.user,
        "decided_on": decided_on,
        "reason": decided.reason,
        "run_id": run_id,
    }
    store.bulk_insert(conn, "followup_decision", [record])
    entry = followups.list_entry(decided)
    if entry is not None:
        store.upsert(conn, "list_entry", [entry])
    chain.append(
        conn,
        run_id=run_id,
        kind=LEDGER_KIND,
        actor=actor,
        created_at=created_at,
        as_of=decided_on,
        outputs_hash=decision_hash(record),
        details={
            "scheme": SCHEME,
            "proposal": proposal_id,
            "kind": proposal.kind.value,
            "uscc": proposal.uscc,
            "decision": decision.value,
            "listed": entry is not None,
        },
    )
    return {**record, "listed": entry is not None}
