"""What `audit verify` checks of four-eyes publication: each proposal and review entry against its row, each review
and each publication that names a proposal against the proposal's entries (approved before, by someone other than
the proposer, for the same files), and rows that no entry records.

Publish entries recorded before four-eyes publication name no proposal; they are left as they were recorded.
Findings come back as (code, message, run id) triples; engine.audit turns them into its Problems.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.pack_proposals import PROPOSAL_KIND, PUBLISH_KIND, REVIEW_KIND
from entities import store

Finding = tuple[str, str, str]  # (problem code, message, run id)
Recorded = Mapping[str, tuple[str, int, Mapping[str, Any]]]  # run id -> (kind, seq, body) of every readable entry
KINDS = (PROPOSAL_KIND, REVIEW_KIND)


def _when(value: Any) -> str | None:
    return value.replace(microsecond=0).isoformat() if isinstance(value, dt.datetime) else None


def _changed(name: str, what: str, pairs: list[tuple[str, Any, Any]], run_id: str) -> list[Finding]:
    wrong = [f"{k} {a!s} (the ledger says {b!s})" for k, a, b in pairs if a != b]
    return [("approval", f"{name}: {what} row changed: {'; '.join(wrong)}", run_id)] if wrong else []


def entry_findings(
    conn: Connection, kind: str, name: str, run_id: str, seq: int, body: Mapping[str, Any], recorded: Recorded
) -> list[Finding]:
    """Problems of one pack-proposal, pack-review or publish entry (`name` is how audit names the entry)."""
    if kind == PROPOSAL_KIND:
        return _proposal(conn, name, run_id, body)
    if kind == REVIEW_KIND:
        return _review(conn, name, run_id, seq, body, recorded)
    if kind == PUBLISH_KIND and "proposal" in (body.get("details") or {}):
        return _publication(name, run_id, seq, body, recorded)
    return []


def _proposal(conn: Connection, name: str, run_id: str, body: Mapping[str, Any]) -> list[Finding]:
    t = store.table("pack_proposal")
    row = conn.execute(sa.select(t).where(t.c.id == run_id)).first()
    if row is None:
        return [("approval", f"{name}: proposal missing: no pack_proposal row {run_id}", run_id)]
    pack: Mapping[str, Any] = body.get("pack") or {}
    details: Mapping[str, Any] = body.get("details") or {}
    pairs = [
        ("kind", row.kind, details.get("proposal_kind")),
        ("name", row.name, pack.get("name")),
        ("version", row.version, pack.get("version")),
        ("files_hash", row.files_hash, pack.get("files_hash")),
        ("pack_hash", row.pack_hash, pack.get("hash")),
        ("previous", row.previous, details.get("previous")),
        ("proposed_by", row.proposed_by, (body.get("actor") or {}).get("user")),
        ("reason", row.reason, details.get("reason")),
        ("created_at", _when(row.created_at), body.get("created_at")),
    ]
    return _changed(name, "proposal", pairs, run_id)


def _earlier(recorded: Recorded, run_id: Any, kind: str, before: int) -> Mapping[str, Any] | None:
    found = recorded.get(str(run_id))
    return found[2] if found is not None and found[0] == kind and found[1] < before else None


def _review(
    conn: Connection, name: str, run_id: str, seq: int, body: Mapping[str, Any], recorded: Recorded
) -> list[Finding]:
    details: Mapping[str, Any] = body.get("details") or {}
    reviewer = (body.get("actor") or {}).get("user")
    out: list[Finding] = []
    proposal = _earlier(recorded, details.get("proposal"), PROPOSAL_KIND, seq)
    if proposal is None:
        out.append(("approval", f"{name}: reviews {details.get('proposal')}, no proposal entry before it", run_id))
    elif details.get("decision") == "approve" and (proposal.get("actor") or {}).get("user") == reviewer:
        out.append(("approval", f"{name}: approved by its own proposer {reviewer} (four eyes broken)", run_id))
    t = store.table("pack_review")
    row = conn.execute(sa.select(t).where(t.c.proposal_id == details.get("proposal"))).first()
    if row is None:
        return [*out, ("approval", f"{name}: review missing: no pack_review row for {details.get('proposal')}", run_id)]
    pairs = [
        ("run_id", row.run_id, run_id),
        ("decision", row.decision, details.get("decision")),
        ("reviewed_by", row.reviewed_by, reviewer),
        ("reason", row.reason, details.get("reason")),
        ("created_at", _when(row.created_at), body.get("created_at")),
    ]
    return out + _changed(name, "review", pairs, run_id)


def _publication(name: str, run_id: str, seq: int, body: Mapping[str, Any], recorded: Recorded) -> list[Finding]:
    details: Mapping[str, Any] = body.get("details") or {}
    pid = details.get("proposal")
    proposal = _earlier(recorded, pid, PROPOSAL_KIND, seq)
    approval = _earlier(recorded, details.get("approval"), REVIEW_KIND, seq)
    if proposal is None or approval is None:
        return [("approval", f"{name}: publishes {pid} without its proposal and approval entries before it", run_id)]
    said: Mapping[str, Any] = approval.get("details") or {}
    proposer = (proposal.get("actor") or {}).get("user")
    approver = (approval.get("actor") or {}).get("user")
    if said.get("proposal") != pid or said.get("decision") != "approve":
        return [("approval", f"{name}: {details.get('approval')} is not an approval of {pid}", run_id)]
    if approver == proposer:
        return [("approval", f"{name}: {pid} was approved by its own proposer {approver} (four eyes broken)", run_id)]
    published = (body.get("pack") or {}).get("files_hash")
    if published != (proposal.get("pack") or {}).get("files_hash"):
        return [("approval", f"{name}: publishes other files than proposal {pid} names", run_id)]
    return []


def stored(conn: Connection) -> list[tuple[str, str]]:
    """Every proposal and review row as (ledger kind, run id): read before the entries, as audit reads runs (a row
    and its entry are committed together, so a row committed meanwhile has its entry visible afterwards)."""
    p, r = store.table("pack_proposal"), store.table("pack_review")
    rows = [(PROPOSAL_KIND, str(pid)) for (pid,) in conn.execute(sa.select(p.c.id).order_by(p.c.id))]
    return rows + [(REVIEW_KIND, str(rid)) for (rid,) in conn.execute(sa.select(r.c.run_id).order_by(r.c.run_id))]


def unrecorded(rows: list[tuple[str, str]], recorded: Recorded) -> list[Finding]:
    """Proposal and review rows that no ledger entry records (inserted outside suijian, or the entry deleted)."""
    what = {PROPOSAL_KIND: "rule-pack proposal", REVIEW_KIND: "rule-pack review"}
    return [
        ("unrecorded", f"{run_id}: {what[kind]} without a ledger entry", run_id)
        for kind, run_id in rows
        if (recorded.get(run_id) or ("",))[0] != kind
    ]
