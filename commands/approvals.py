"""`suijian rules propose|rollback|approve|reject|proposals`: four-eyes rule-pack publication (四眼原则) — one
supervisor proposes a pack version (or going back to an earlier one), a second approves or rejects it; then
`suijian rules publish PROPOSAL` makes it active. Every step is a ledger entry."""

from __future__ import annotations

from typing import Any

import click

from commands.common import db_option, emit, json_option, now, out, pack_directory, store_connection, table
from commands.views import pack_line, print_pack_diff, when
from engine import pack_approvals
from engine.ledger import chain
from engine.pack_approvals import Proposal, Status
from entities import identity

reason_option = click.option("--reason", default="", help="Why, in a sentence (recorded in the ledger). Required.")


def _emit(conn: Any, p: Proposal) -> None:
    head = chain.head(conn)
    emit({"proposal": pack_approvals.document(conn, p), "ledger_head": {"seq": head[0], "hash": head[1]}})


def _entry_line(conn: Any, run_id: str) -> None:
    entry = chain.find(conn, run_id)
    assert entry is not None  # just recorded, in this transaction
    out.print(
        f"Ledger entry #{entry.seq} {entry.run_id} by {entry.actor.get('user')} ({entry.actor.get('role')}) at "
        f"{when(entry.created_at)}, entry hash {entry.entry_hash}",
        markup=False,
    )


def _print_proposal(conn: Any, p: Proposal, headline: str) -> None:
    doc = pack_approvals.document(conn, p)
    line = lambda text: out.print(text, markup=False)  # noqa: E731  (reasons and paths are the user's text)
    line(headline)
    line(
        f"  from {doc['source']}: {doc['cases']:,} cases passed; {doc['decisions']:,} decisions, {doc['rows']:,} rules"
    )
    line(f"  files hash {p.files_hash}")
    line(f"  pack hash  {p.pack_hash}")
    line(f"  reason: {p.reason}")
    if p.previous is None:
        line("Active now: none (this would be the first publication)")
    else:
        before = chain.find(conn, p.previous)
        line(f"Active now: {pack_line((before.get('pack') if before else None) or {})}, {p.previous}")
        print_pack_diff(doc["diff"] or {}, "the active version")
    line(
        f"Next: a second supervisor (not {p.proposed_by}) approves it: suijian rules approve {p.id} --reason …; "
        f"then: suijian rules publish {p.id}"
    )
    _entry_line(conn, p.id)


@click.command("propose")
@click.argument("directory", metavar="PACK")
@reason_option
@db_option
@json_option
def propose(directory: str, reason: str, db: str | None, as_json: bool) -> None:
    """Propose a rule pack for publication (提请发布规则包); a second supervisor approves it before it is published.

    PACK is a bundled pack's name (national, guangdong) or a directory. It must pass `suijian rules check` and
    every case; its files are stored and the proposal records the diff against the active version, who proposed it
    and why. Refused if it is active already, was published before (go back with `suijian rules rollback`), reuses
    a published version label for other files, has a version label lower than the active one, or is proposed
    already. Supervisors only.

    \b
    Examples:
      suijian rules propose national --reason "2026 年度规则：食品 A 级阈值调整"
      suijian rules propose ./my-pack --reason "新增特种设备规则" --json
    """
    actor = identity.require("propose")
    shown_dir = pack_directory(directory)
    with store_connection(db, write=True) as conn:
        p = pack_approvals.propose(conn, shown_dir, reason=reason, actor=actor, created_at=now())
        if as_json:
            _emit(conn, p)
            return
        _print_proposal(conn, p, f"Proposed {p.name} {p.version} for publication as {p.id} (pending approval)")


@click.command("rollback")
@click.argument("ref", metavar="VERSION|HASH")
@reason_option
@db_option
@json_option
def rollback(ref: str, reason: str, db: str | None, as_json: bool) -> None:
    """Propose going back to an earlier published rule-pack version (回退), approved and published like any other.

    VERSION|HASH is a published version label, a files hash (at least 8 hex digits) or a publication's run id,
    as `suijian rules active` lists them. The stored version is restored and its cases run again. A reason is
    required. Supervisors only.

    \b
    Examples:
      suijian rules rollback 2026.3 --reason "2026.4 的食品分级阈值误判，回退"
      suijian rules rollback 3f9a0c1d --reason "回退到上一版" && suijian rules approve PR0009 --reason "同意"
    """
    actor = identity.require("propose")
    with store_connection(db, write=True) as conn:
        p = pack_approvals.propose_rollback(conn, ref, reason=reason, actor=actor, created_at=now())
        if as_json:
            _emit(conn, p)
            return
        _print_proposal(conn, p, f"Proposed going back to {p.name} {p.version} as {p.id} (rollback, pending approval)")


def _review(ref: str, reason: str, db: str | None, as_json: bool, *, approve: bool) -> None:
    actor = identity.require("approve")
    decide = pack_approvals.approve if approve else pack_approvals.reject
    with store_connection(db, write=True) as conn:
        p = decide(conn, ref, reason=reason, actor=actor, created_at=now())
        if as_json:
            _emit(conn, p)
            return
        assert p.review is not None
        what = f"{p.id} ({p.kind} {p.name} {p.version}, proposed by {p.proposed_by})"
        if approve:
            out.print(f"Approved {what}; publish it: suijian rules publish {p.id}", markup=False)
        else:
            out.print(f"Rejected {what}: {p.review.reason}", markup=False)
        _entry_line(conn, p.review.run_id)


@click.command("approve")
@click.argument("ref", metavar="PROPOSAL")
@reason_option
@db_option
@json_option
def approve(ref: str, reason: str, db: str | None, as_json: bool) -> None:
    """Approve a pending rule-pack proposal (审核通过): the second pair of eyes. The proposer may not approve it.

    Read the proposal's diff first (`suijian rules proposals --json`, or `suijian rules diff`). Supervisors only.

    \b
    Examples:
      suijian rules approve PR0007 --reason "已核对差异与测试结果"
    """
    _review(ref, reason, db, as_json, approve=True)


@click.command("reject")
@click.argument("ref", metavar="PROPOSAL")
@reason_option
@db_option
@json_option
def reject(ref: str, reason: str, db: str | None, as_json: bool) -> None:
    """Reject a pending rule-pack proposal (驳回); final (the pack can be proposed again). Supervisors only.

    \b
    Examples:
      suijian rules reject PR0007 --reason "缺少新规则的测试用例"
    """
    _review(ref, reason, db, as_json, approve=False)


@click.command("proposals")
@click.option(
    "--status",
    "status",
    type=click.Choice([s.value for s in Status]),
    default=None,
    help="Only proposals in this state.",
)
@db_option
@json_option
def proposals(status: str | None, db: str | None, as_json: bool) -> None:
    """List rule-pack proposals (发布提案): pending, approved, rejected, published or stale; who and when.

    A proposal is stale when another version became active after it was made: it must be proposed again.

    \b
    Examples:
      suijian rules proposals
      suijian rules proposals --status pending --json
    """
    wanted = Status(status) if status else None
    with store_connection(db) as conn:
        found = pack_approvals.proposals(conn, wanted)
        if as_json:
            emit({"proposals": [pack_approvals.document(conn, p) for p in found]})
            return
    if not found:
        if wanted is None:
            out.print("No rule-pack proposals yet; propose one: suijian rules propose PACK --reason …")
        else:
            out.print(f"No {wanted.value} rule-pack proposals.")
        return
    rows = [
        (
            p.id,
            p.kind,
            f"{p.name} {p.version}",
            p.status.value,
            f"{p.proposed_by}\n{when(p.created_at)}",
            "" if p.review is None else f"{p.review.by}\n{when(p.review.created_at)}",
            p.published_as or "",
        )
        for p in found
    ]
    columns = ["提案", "类型", "规则包", "状态", "提出人", "审核人", "发布"]
    out.print(table("发布提案 rule-pack proposals", columns, rows))
    out.print("Reasons and diffs: suijian rules proposals --json")


def register(cli: click.Group) -> None:
    """`suijian rules propose|rollback|approve|reject|proposals`: subcommands of the rules group."""
    rules = cli.commands["rules"]
    assert isinstance(rules, click.Group)
    for command in (propose, rollback, approve, reject, proposals):
        rules.add_command(command)
