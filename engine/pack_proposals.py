"""Rule-pack proposals and their reviews as recorded (四眼原则: one supervisor proposes, another approves).

    proposals(conn)                     # every proposal, oldest first, each with its review and publication
    find(conn, "PR0007")                # one proposal by id (InputError naming `rules proposals` if unknown)
    for_files(conn, files_hash)         # the proposals of one stored pack version, newest first

A proposal is a `pack-proposal` ledger entry and a pack_proposal row with the same id; its review (approve or
reject, one per proposal, never changed) a `pack-review` entry and a pack_review row. A proposal is published when
a `publish` entry names it (details.proposal). The workflow that checks and records them is engine.pack_approvals;
this module only reads and writes the records, so engine.publish can look an approval up without a cycle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.ledger import chain
from entities import store
from entities.errors import InputError
from entities.identity import Identity

PROPOSAL_KIND = "pack-proposal"
REVIEW_KIND = "pack-review"
KINDS = (PROPOSAL_KIND, REVIEW_KIND)
PUBLISH_KIND = "publish"  # engine.publish.KIND (that module imports this one)


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    PUBLISHED = "published"
    STALE = "stale"  # pending or approved, but another version became active since: propose again

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self.value]


_STATUS_LABELS = {
    "pending": "待审核",
    "approved": "已批准",
    "rejected": "已驳回",
    "published": "已发布",
    "stale": "已过期",
}


@dataclass(frozen=True)
class Review:
    decision: str  # approve | reject
    by: str
    reason: str
    created_at: dt.datetime
    run_id: str


@dataclass(frozen=True)
class Proposal:
    id: str
    kind: str  # publish (a new version) | rollback (an earlier published version)
    name: str
    version: str
    files_hash: str
    pack_hash: str
    previous: str | None  # the active publication's run id when proposed (None before the first)
    proposed_by: str
    reason: str
    created_at: dt.datetime
    review: Review | None
    published_as: str | None  # the publish entry that made it active
    stale: bool  # the active publication is no longer `previous`: its diff and approval are out of date

    @property
    def status(self) -> Status:
        if self.published_as is not None:
            return Status.PUBLISHED
        if self.review is not None and self.review.decision == "reject":
            return Status.REJECTED
        if self.stale:
            return Status.STALE
        return Status.PENDING if self.review is None else Status.APPROVED

    def as_dict(self) -> dict[str, Any]:
        r = self.review
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status.value,
            "pack": {"name": self.name, "version": self.version, "files_hash": self.files_hash, "hash": self.pack_hash},
            "previous": self.previous,
            "proposed_by": self.proposed_by,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(sep=" "),
            "review": None
            if r is None
            else {
                "decision": r.decision,
                "by": r.by,
                "reason": r.reason,
                "created_at": r.created_at.isoformat(sep=" "),
                "run_id": r.run_id,
            },
            "published_as": self.published_as,
        }


# ── reading ──────────────────────────────────────────────────────────────────────────────────────────────────


def _published(conn: Connection) -> tuple[dict[str, str], str | None]:
    """Proposal id → the publish entry that names it; and the active publication's run id."""
    out: dict[str, str] = {}
    newest = None
    for e in chain.entries(conn, kinds=(PUBLISH_KIND,)):
        pid = e.details.get("proposal")
        if isinstance(pid, str):
            out.setdefault(pid, e.run_id)
        newest = e.run_id
    return out, newest


def _select(conn: Connection, where: Any = None) -> list[Proposal]:
    p, r = store.table("pack_proposal"), store.table("pack_review")
    stmt = sa.select(p, r.c.decision, r.c.reviewed_by, r.c.reason.label("review_reason"), r.c.created_at.label("at"))
    stmt = stmt.add_columns(r.c.run_id).select_from(p.outerjoin(r, r.c.proposal_id == p.c.id))
    if where is not None:
        stmt = stmt.where(where)
    published, active = _published(conn)
    out = []
    for row in conn.execute(stmt.order_by(p.c.created_at, p.c.id)):
        review = (
            None
            if row.decision is None
            else Review(str(row.decision), str(row.reviewed_by), str(row.review_reason), row.at, str(row.run_id))
        )
        out.append(
            Proposal(
                str(row.id),
                str(row.kind),
                str(row.name),
                str(row.version),
                str(row.files_hash),
                str(row.pack_hash),
                None if row.previous is None else str(row.previous),
                str(row.proposed_by),
                str(row.reason),
                row.created_at,
                review,
                published.get(str(row.id)),
                (None if row.previous is None else str(row.previous)) != active,
            )
        )
    return out


def proposals(conn: Connection, status: Status | None = None) -> list[Proposal]:
    """Every proposal, oldest first (or only those with `status`)."""
    found = _select(conn)
    return found if status is None else [p for p in found if p.status is status]


def find(conn: Connection, ref: str) -> Proposal:
    """The proposal `ref` names (its id, e.g. PR0007; case-insensitive); unknown is one line saying where to look."""
    text = ref.strip().upper()
    found = _select(conn, store.table("pack_proposal").c.id == text) if text else []
    if not found:
        raise InputError(f"no rule-pack proposal {ref!r}; `suijian rules proposals` lists them")
    return found[0]


def for_files(conn: Connection, files_hash: str) -> list[Proposal]:
    """The proposals of one stored pack version, newest first."""
    return list(reversed(_select(conn, store.table("pack_proposal").c.files_hash == files_hash)))


def document(conn: Connection, proposal: Proposal) -> dict[str, Any]:
    """One proposal with what its ledger entry adds (the diff against the then active version, cases passed, where
    it came from, the entry's seq and hash), as `suijian rules propose|proposals --json` print it and the web shows."""
    entry = chain.find(conn, proposal.id)
    d = entry.details if entry is not None else {}
    return {
        **proposal.as_dict(),
        "source": d.get("source"),
        "target": d.get("target"),
        "cases": d.get("cases"),
        "decisions": d.get("decisions"),
        "rows": d.get("rows"),
        "diff": d.get("diff"),
        "seq": None if entry is None else entry.seq,
        "entry_hash": None if entry is None else entry.entry_hash,
    }


# ── writing (engine.pack_approvals checks first) ─────────────────────────────────────────────────────────────


def record_proposal(
    conn: Connection,
    *,
    kind: str,
    pack: Mapping[str, Any],
    previous: str | None,
    reason: str,
    details: Mapping[str, Any],
    actor: Identity,
    created_at: dt.datetime,
) -> Proposal:
    """Append the proposal's ledger entry and insert its row, in the caller's transaction (which holds the ledger
    lock). `pack` is the version as a publish entry names it (engine.ledger.record.pack_info)."""
    pid = f"PR{chain.head(conn)[0] + 1:04d}"
    body = {"proposal_kind": kind, "previous": previous, "reason": reason, **details}
    entry = chain.append(
        conn, run_id=pid, kind=PROPOSAL_KIND, actor=actor, created_at=created_at, pack=dict(pack), details=body
    )
    store.bulk_insert(
        conn,
        "pack_proposal",
        [
            {
                "id": pid,
                "kind": kind,
                "name": str(pack["name"]),
                "version": str(pack["version"]),
                "files_hash": str(pack["files_hash"]),
                "pack_hash": str(pack["hash"]),
                "previous": previous,
                "proposed_by": actor.user,
                "reason": reason,
                "created_at": entry.created_at,
            }
        ],
    )
    return find(conn, pid)


def record_review(
    conn: Connection, proposal: Proposal, *, approve: bool, reason: str, actor: Identity, created_at: dt.datetime
) -> Proposal:
    """Append the review's ledger entry and insert its row, in the caller's transaction."""
    decision = "approve" if approve else "reject"
    run_id = f"{proposal.id}-{decision}"
    details = {
        "proposal": proposal.id,
        "decision": decision,
        "reason": reason,
        "files_hash": proposal.files_hash,
        "proposed_by": proposal.proposed_by,
    }
    entry = chain.append(conn, run_id=run_id, kind=REVIEW_KIND, actor=actor, created_at=created_at, details=details)
    store.bulk_insert(
        conn,
        "pack_review",
        [
            {
                "proposal_id": proposal.id,
                "decision": decision,
                "reviewed_by": actor.user,
                "reason": reason,
                "created_at": entry.created_at,
                "run_id": run_id,
            }
        ],
    )
    return find(conn, proposal.id)


__all__ = [
    "KINDS",
    "PROPOSAL_KIND",
    "REVIEW_KIND",
    "Proposal",
    "Review",
    "Status",
    "document",
    "find",
    "for_files",
    "proposals",
    "record_proposal",
    "record_review",
]
