"""Four-eyes rule-pack publication (四眼原则): one supervisor proposes a pack version, a second approves, then it is
published — on the CLI and the web alike, through these functions.

    p = propose(conn, "rules/national", reason="食品 A 级阈值 30→35", actor=zhang, created_at=now)   # PR0007
    p = propose_rollback(conn, "2026.3", reason="新版误判", actor=zhang, created_at=now)  # label, hash or run id
    approve(conn, p.id, reason="已核对差异", actor=li, created_at=now)     # li ≠ zhang, or Forbidden
    reject(conn, p.id, reason="缺少测试用例", actor=li, created_at=now)
    engine.publish.publish(conn, p.id, actor=…, created_at=now)          # only an approved proposal
    proposals(conn), find(conn, "PR0007"), document(conn, p)              # engine.pack_proposals, re-exported

A proposal stores the pack version (its files, as publication stores them) and records the diff against the active
version, the proposer and the reason. It is refused, with one line and nothing written, if the pack fails
`rules check` or a case, is already active, was published before (that is a rollback), reuses a published version
label for other files, or has a version label lower than the active pack's of the same name. Every step is a ledger
entry; `audit verify` checks them against their rows (engine.pack_verify).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy.engine import Connection

from engine import publish
from engine.ledger import chain, packs, record
from engine.pack_proposals import (
    Proposal,
    Status,
    document,
    find,
    for_files,
    proposals,
    record_proposal,
    record_review,
)
from entities.errors import Forbidden, InputError
from entities.identity import Identity, require

_HEX = re.compile(r"[0-9a-f]{8,64}")


def _reason(text: str, what: str) -> str:
    """The reason as recorded: one stripped line, required."""
    reason = " ".join(text.split()) if text else ""
    if not reason:
        raise InputError(f"{what} needs a reason: give --reason TEXT (why, in a sentence; it is recorded)")
    return reason


def label_key(label: str) -> tuple[tuple[int, int, str], ...]:
    """A version label as a sortable key: 2026.10 > 2026.3 (numbers compare as numbers, other parts as text)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"[.\-_]", label))


def _open_proposal(conn: Connection, files_hash: str, shown: str, verb: str) -> None:
    """One open proposal per version: a second would only split the reviewers' attention."""
    for p in for_files(conn, files_hash):
        if p.status in (Status.PENDING, Status.APPROVED):
            raise InputError(
                f"cannot {verb} {shown}: it is already proposed as {p.id} by {p.proposed_by} ({p.status.value}); "
                f"`suijian rules proposals` shows it"
            )


def _facts(pack: Any, cases: int) -> dict[str, int]:
    return {"cases": cases, "decisions": len(pack.decisions), "rows": sum(len(d.rules) for d in pack.decisions)}


def propose(conn: Connection, directory: str, *, reason: str, actor: Identity, created_at: dt.datetime) -> Proposal:
    """Propose the pack in `directory` for publication: checked, tested, stored; a `pack-proposal` entry."""
    require("propose", actor)
    why = _reason(reason, "a proposal")
    pack = publish.read_checked(directory, "propose")
    version = packs.version_of(pack)
    cases = publish.tested(pack, directory, "propose")
    chain.lock(conn)
    current = publish.active(conn)
    before = dict(current.get("pack") or {}) if current is not None else None
    if current is not None and before is not None and before.get("files_hash") == version.files_hash:
        raise InputError(f"cannot propose {directory}: it is the active rule pack already ({current.run_id})")
    earlier = publish.published_as(conn, version.files_hash)
    if earlier:
        raise InputError(
            f"cannot propose {directory}: these files were published before ({earlier[-1]}); going back to them is "
            f"a rollback: suijian rules rollback {version.files_hash[:12]} --reason …"
        )
    publish.check_label_unused(conn, pack, version.files_hash, directory, "propose")
    if before is not None and before.get("name") == pack.name:
        active_label = str(before.get("version"))
        if label_key(pack.version) < label_key(active_label):
            raise InputError(
                f"cannot propose {directory}: version {pack.version} is lower than the active {pack.name} "
                f"{active_label}; raise `version` in pack.yaml, or go back explicitly: suijian rules rollback "
                f"VERSION --reason …"
            )
    _open_proposal(conn, version.files_hash, directory, "propose")
    packs.save(conn, version)
    diff = publish.diff_against(conn, before, pack, version) if before is not None else None
    return record_proposal(
        conn,
        kind="publish",
        pack=record.pack_info(pack, version),
        previous=None if current is None else current.run_id,
        reason=why,
        details={"source": directory, **_facts(pack, cases), "diff": diff},
        actor=actor,
        created_at=created_at,
    )


def _published_target(conn: Connection, ref: str) -> chain.Entry:
    """The publication `ref` names: its run id, its version label, or a files-hash prefix (8+ hex digits)."""
    text = ref.strip()
    entries = publish.history(conn)
    by_run = [e for e in entries if e.run_id == text]
    if by_run:
        return by_run[0]
    label = [e for e in entries if str((e.get("pack") or {}).get("version")) == text]
    prefix = text.lower()
    by_hash = (
        [e for e in entries if str((e.get("pack") or {}).get("files_hash", "")).startswith(prefix)]
        if _HEX.fullmatch(prefix)
        else []
    )
    found = label or by_hash
    if not found:
        raise InputError(
            f"{ref!r} names no published rule-pack version: give a version label, a files hash (at least 8 hex "
            "digits) or a publication's run id; `suijian rules active` lists them"
        )
    versions = {str((e.get("pack") or {}).get("files_hash")) for e in found}
    if len(versions) > 1:
        shown = ", ".join(sorted(v[:12] for v in versions))
        raise InputError(f"{ref!r} names {len(versions)} published versions ({shown}); give the files hash")
    return found[-1]


def propose_rollback(conn: Connection, ref: str, *, reason: str, actor: Identity, created_at: dt.datetime) -> Proposal:
    """Propose going back to an earlier published version (its label, files hash or run id): a rollback proposal,
    approved and published like any other. The stored version is restored and its cases run again."""
    require("propose", actor)
    why = _reason(reason, "a rollback")
    chain.lock(conn)
    current = publish.active(conn)
    if current is None:
        raise InputError("nothing is published yet, so there is nothing to roll back to")
    target = _published_target(conn, ref)
    info = dict(target.get("pack") or {})
    digest = str(info.get("files_hash"))
    if digest == (current.get("pack") or {}).get("files_hash"):
        raise InputError(f"cannot roll back to {ref}: it is the active rule pack already ({current.run_id})")
    _open_proposal(conn, digest, ref, "roll back to")
    version = packs.fetch(conn, digest)
    with packs.restored(conn, digest) as pack:
        cases = publish.tested(pack, f"{info.get('name')} {info.get('version')}", "roll back to")
        diff = publish.diff_against(conn, dict(current.get("pack") or {}), pack, version)
        return record_proposal(
            conn,
            kind="rollback",
            pack=record.pack_info(pack, version),
            previous=current.run_id,
            reason=why,
            details={
                "source": f"rollback to {target.run_id}",
                "target": target.run_id,
                **_facts(pack, cases),
                "diff": diff,
            },
            actor=actor,
            created_at=created_at,
        )


def _review(
    conn: Connection, ref: str, *, approve: bool, reason: str, actor: Identity, created_at: dt.datetime
) -> Proposal:
    verb = "approve" if approve else "reject"
    require("approve", actor)
    why = _reason(reason, f"to {verb} a proposal")
    chain.lock(conn)
    p = find(conn, ref)
    if approve and actor.user == p.proposed_by:
        raise Forbidden(
            f"{actor} may not approve {p.id}: they proposed it; a second supervisor must approve it (four eyes)"
        )
    if p.status is not Status.PENDING:
        done = {
            Status.APPROVED: lambda: f"it was approved by {p.review.by if p.review else '?'}",
            Status.REJECTED: lambda: f"it was rejected by {p.review.by if p.review else '?'}",
            Status.PUBLISHED: lambda: f"it was published as {p.published_as}",
            Status.STALE: lambda: "the active rule pack changed since it was proposed; propose it again",
        }[p.status]()
        raise InputError(f"cannot {verb} {p.id}: {done}")
    return record_review(conn, p, approve=approve, reason=why, actor=actor, created_at=created_at)


def approve(conn: Connection, ref: str, *, reason: str, actor: Identity, created_at: dt.datetime) -> Proposal:
    """Approve a pending proposal: a supervisor other than its proposer; a `pack-review` entry."""
    return _review(conn, ref, approve=True, reason=reason, actor=actor, created_at=created_at)


def reject(conn: Connection, ref: str, *, reason: str, actor: Identity, created_at: dt.datetime) -> Proposal:
    """Reject a pending proposal (its proposer may withdraw it so too); final; a `pack-review` entry."""
    return _review(conn, ref, approve=False, reason=reason, actor=actor, created_at=created_at)


__all__ = [
    "Proposal",
    "Status",
    "approve",
    "document",
    "find",
    "label_key",
    "proposals",
    "propose",
    "propose_rollback",
    "reject",
]
