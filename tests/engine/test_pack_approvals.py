"""Four-eyes rule-pack publication (engine.pack_approvals) on SQLite and PostgreSQL: proposed by one supervisor,
approved by another, then published; every refusal is one line and writes nothing; `audit verify` checks it all."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine import audit, pack_approvals, pack_proposals
from engine import publish as pub
from engine.ledger import chain
from engine.pack_approvals import Status
from entities import store
from entities.errors import Forbidden, InputError
from entities.identity import Identity, Role
from tests.helpers import APPROVER, TESTER

REPO = Path(__file__).resolve().parents[2]
NATIONAL = str(REPO / "rules" / "national")
WHEN = dt.datetime(2026, 3, 2, 10, 0)
ZHANG = TESTER
LI = APPROVER


@pytest.fixture
def conn(store_url: str) -> Iterator[sa.Connection]:
    """One connection; each step commits, as each CLI command does."""
    engine = store.open_store(store_url)
    with engine.connect() as c:
        yield c
    engine.dispose()


def step(conn: sa.Connection, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """fn(conn, …) in its own transaction: committed if it returns, rolled back if it raises."""
    with conn.begin():
        return fn(conn, *args, **kw)


def state(conn: sa.Connection) -> tuple[list[str], int, int, int]:
    """The ledger's run ids, stored blobs, proposal and review rows: what a refusal must leave alone."""
    with conn.begin():
        return (
            [e.run_id for e in chain.entries(conn)],
            store.count_rows(conn, "blob"),
            store.count_rows(conn, "pack_proposal"),
            store.count_rows(conn, "pack_review"),
        )


def refused(
    conn: sa.Connection, error: type[Exception], message: str, fn: Callable[..., Any], *args: Any, **kw: Any
) -> None:
    """fn is refused with exactly `message` (one line) and nothing is written."""
    before = state(conn)
    with pytest.raises(error) as caught:
        step(conn, fn, *args, **kw)
    assert str(caught.value) == message
    assert state(conn) == before


def copy_national(tmp_path: Path, version: str, default: str = "35") -> str:
    """rules/national copied, food_a_max set to `default` and labelled `version`."""
    target = tmp_path / f"national-{version}-{default}"
    shutil.copytree(REPO / "rules" / "national", target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    pack_yaml = target / "pack.yaml"
    text = pack_yaml.read_text(encoding="utf-8")
    text = text.replace(
        "  food_a_max:\n    type: float\n    default: 30\n", f"  food_a_max:\n    type: float\n    default: {default}\n"
    )
    pack_yaml.write_text(text.replace('version: "2026.3"', f'version: "{version}"'), encoding="utf-8")
    return str(target)


def propose(conn: sa.Connection, directory: str, who: Identity = ZHANG, minutes: int = 0) -> pack_proposals.Proposal:
    return step(
        conn,
        pack_approvals.propose,
        directory,
        reason="调整参数",
        actor=who,
        created_at=WHEN + dt.timedelta(minutes=minutes),
    )


def approve(conn: sa.Connection, pid: str, who: Identity = LI, minutes: int = 0) -> pack_proposals.Proposal:
    return step(
        conn, pack_approvals.approve, pid, reason="已核对", actor=who, created_at=WHEN + dt.timedelta(minutes=minutes)
    )


def publish(conn: sa.Connection, ref: str, who: Identity = ZHANG, minutes: int = 0) -> tuple[chain.Entry, bool]:
    return step(conn, pub.publish, ref, actor=who, created_at=WHEN + dt.timedelta(minutes=minutes))


def test_propose_approve_publish_records_each_step(conn: sa.Connection) -> None:
    p = propose(conn, NATIONAL)
    assert (p.id, p.kind, p.status, p.proposed_by, p.reason, p.previous) == (
        "PR0001",
        "publish",
        Status.PENDING,
        ZHANG.user,
        "调整参数",
        None,
    )
    assert step(conn, pub.active) is None  # a proposal changes nothing yet
    a = approve(conn, "pr0001", minutes=1)  # ids are case-insensitive
    assert a.status is Status.APPROVED and a.review is not None
    assert (a.review.by, a.review.decision, a.review.run_id) == (LI.user, "approve", "PR0001-approve")
    entry, new = publish(conn, "PR0001", minutes=2)
    assert new and entry.seq == 3 and entry.details["source"] == "proposal PR0001"
    assert (entry.details["approval"], entry.details["approved_by"]) == ("PR0001-approve", LI.user)
    assert step(conn, pack_approvals.find, "PR0001").status is Status.PUBLISHED
    assert [(e.kind, e.actor["user"]) for e in step(conn, chain.entries)] == [
        ("pack-proposal", ZHANG.user),
        ("pack-review", LI.user),
        ("publish", ZHANG.user),
    ]
    proposal_entry = step(conn, chain.find, "PR0001")
    assert proposal_entry.get("pack") == entry.get("pack")  # the very version proposed is published
    assert step(conn, audit.verify).ok
    # Publishing the same again (by id or directory): the active version, nothing recorded.
    before = state(conn)
    assert publish(conn, NATIONAL, minutes=3) == (entry, False)
    assert publish(conn, "PR0001", minutes=3) == (entry, False)
    assert state(conn) == before


def test_the_proposer_cannot_approve_and_nothing_is_published_without_approval(conn: sa.Connection) -> None:
    p = propose(conn, NATIONAL)
    refused(
        conn,
        Forbidden,
        f"{ZHANG} may not approve PR0001: they proposed it; a second supervisor must approve it (four eyes)",
        pack_approvals.approve,
        p.id,
        reason="我自己批准",
        actor=ZHANG,
        created_at=WHEN,
    )
    pending = (
        f"proposal PR0001 of national 2026.3 (files {p.files_hash[:12]}) by {ZHANG.user} is not approved yet; "
        f"a second supervisor (not {ZHANG.user}) approves it: suijian rules approve PR0001 --reason …"
    )
    refused(conn, InputError, f"cannot publish {NATIONAL}: {pending}", pub.publish, NATIONAL, actor=LI, created_at=WHEN)
    refused(
        conn,
        InputError,
        f"cannot publish PR0001: proposal PR0001 by {ZHANG.user} is not approved yet; a second supervisor "
        f"(not {ZHANG.user}) approves it: suijian rules approve PR0001 --reason …",
        pub.publish,
        "PR0001",
        actor=ZHANG,
        created_at=WHEN,
    )
    for role in (Role.INSPECTOR, Role.AUDITOR):
        who = Identity("王五", role)
        with pytest.raises(Forbidden, match="may not approve: needs supervisor"):
            approve(conn, p.id, who=who)
    refused(
        conn,
        InputError,
        "no rule-pack proposal 'PR0099'; `suijian rules proposals` lists them",
        pack_approvals.approve,
        "PR0099",
        reason="ok",
        actor=LI,
        created_at=WHEN,
    )
    refused(
        conn,
        InputError,
        "to approve a proposal needs a reason: give --reason TEXT (why, in a sentence; it is recorded)",
        pack_approvals.approve,
        p.id,
        reason="  ",
        actor=LI,
        created_at=WHEN,
    )


def test_a_pack_with_no_proposal_or_a_rejected_one_is_not_published(conn: sa.Connection, tmp_path: Path) -> None:
    refused(
        conn,
        InputError,
        f"cannot publish {NATIONAL}: national 2026.3 (files {_files(NATIONAL)[:12]}) has no approved proposal; "
        f"propose it (suijian rules propose {NATIONAL} --reason …) and have a second supervisor approve it (four eyes)",
        pub.publish,
        NATIONAL,
        actor=ZHANG,
        created_at=WHEN,
    )
    p = propose(conn, NATIONAL)
    rejected = step(conn, pack_approvals.reject, p.id, reason="缺少说明", actor=LI, created_at=WHEN)
    assert rejected.status is Status.REJECTED
    refused(
        conn,
        InputError,
        f"cannot publish PR0001: proposal PR0001 was rejected by {LI.user} (缺少说明); a rejected proposal is final: "
        "propose again",
        pub.publish,
        "PR0001",
        actor=ZHANG,
        created_at=WHEN,
    )
    refused(
        conn,
        InputError,
        f"cannot approve PR0001: it was rejected by {LI.user}",
        pack_approvals.approve,
        "PR0001",
        reason="x",
        actor=LI,
        created_at=WHEN,
    )
    # Rejected is final, but the same files may be proposed again.
    again = propose(conn, NATIONAL, minutes=1)
    assert again.id == "PR0003" and again.status is Status.PENDING
    refused(
        conn,
        InputError,
        f"cannot propose {NATIONAL}: it is already proposed as PR0003 by {ZHANG.user} (pending); "
        "`suijian rules proposals` shows it",
        pack_approvals.propose,
        NATIONAL,
        reason="再提一次",
        actor=ZHANG,
        created_at=WHEN,
    )
    assert step(conn, audit.verify).ok


def _files(directory: str) -> str:
    from engine.ledger import packs
    from engine.rules import load_pack

    return packs.version_of(load_pack(directory)).files_hash


def test_a_lower_version_label_is_refused_and_going_back_is_an_explicit_rollback(
    conn: sa.Connection, tmp_path: Path
) -> None:
    approve(conn, propose(conn, NATIONAL).id)
    first, _ = publish(conn, NATIONAL)
    lower = copy_national(tmp_path, "2026.2")
    refused(
        conn,
        InputError,
        f"cannot propose {lower}: version 2026.2 is lower than the active national 2026.3; raise `version` in "
        "pack.yaml, or go back explicitly: suijian rules rollback VERSION --reason …",
        pack_approvals.propose,
        lower,
        reason="降级",
        actor=ZHANG,
        created_at=WHEN,
    )
    newer = copy_national(tmp_path, "2026.10")  # 10 > 3: labels compare part by part, as numbers
    p = propose(conn, newer, minutes=1)
    assert p.status is Status.PENDING and step(conn, chain.find, p.id).details["diff"]["parameters"] == [
        {"name": "food_a_max", "change": "modified", "old": 30, "new": 35}
    ]
    approve(conn, p.id, minutes=2)
    second, _ = publish(conn, newer, who=LI, minutes=3)  # found by its files; any supervisor publishes
    assert second.details["proposal"] == p.id
    # Back to 2026.3: not as a new proposal, only as a rollback with a reason.
    refused(
        conn,
        InputError,
        f"cannot propose {NATIONAL}: these files were published before ({first.run_id}); going back to them is a "
        f"rollback: suijian rules rollback {_files(NATIONAL)[:12]} --reason …",
        pack_approvals.propose,
        NATIONAL,
        reason="回退",
        actor=ZHANG,
        created_at=WHEN,
    )
    refused(
        conn,
        InputError,
        "a rollback needs a reason: give --reason TEXT (why, in a sentence; it is recorded)",
        pack_approvals.propose_rollback,
        "2026.3",
        reason="",
        actor=ZHANG,
        created_at=WHEN,
    )
    refused(
        conn,
        InputError,
        "'2025.9' names no published rule-pack version: give a version label, a files hash (at least 8 hex digits) "
        "or a publication's run id; `suijian rules active` lists them",
        pack_approvals.propose_rollback,
        "2025.9",
        reason="回退",
        actor=ZHANG,
        created_at=WHEN,
    )
    refused(
        conn,
        InputError,
        f"cannot roll back to 2026.10: it is the active rule pack already ({second.run_id})",
        pack_approvals.propose_rollback,
        "2026.10",
        reason="回退",
        actor=ZHANG,
        created_at=WHEN,
    )
    back = step(conn, pack_approvals.propose_rollback, "2026.3", reason="新阈值误判", actor=ZHANG, created_at=WHEN)
    assert (back.kind, back.version, back.previous) == ("rollback", "2026.3", second.run_id)
    refused(
        conn,
        InputError,
        f"cannot publish {back.id}: proposal {back.id} by {ZHANG.user} is not approved yet; a second supervisor "
        f"(not {ZHANG.user}) approves it: suijian rules approve {back.id} --reason …",
        pub.publish,
        back.id,
        actor=ZHANG,
        created_at=WHEN,
    )
    approve(conn, back.id, minutes=5)
    third, new = publish(conn, back.id, minutes=6)
    assert new and third.details["earlier"] == [first.run_id] and third.details["proposal_kind"] == "rollback"
    assert third.get("pack")["files_hash"] == first.get("pack")["files_hash"]
    assert step(conn, audit.verify).ok


def test_an_approval_goes_stale_when_another_version_is_published(conn: sa.Connection, tmp_path: Path) -> None:
    a = propose(conn, copy_national(tmp_path, "2026.4", "31"))
    b_dir = copy_national(tmp_path, "2026.5", "32")
    b = propose(conn, b_dir, minutes=1)
    approve(conn, a.id)
    approve(conn, b.id)
    publish(conn, a.id)
    assert step(conn, pack_approvals.find, b.id).status is Status.STALE
    refused(
        conn,
        InputError,
        f"cannot publish {b.id}: the active rule pack changed since proposal {b.id} was made (then none, now "
        f"{step(conn, pub.active).run_id}); its diff and approval are out of date: propose it again",
        pub.publish,
        b.id,
        actor=ZHANG,
        created_at=WHEN,
    )
    assert [p.status.value for p in step(conn, pack_approvals.proposals)] == ["published", "stale"]
    assert propose(conn, b_dir, minutes=2).previous is not None  # proposed again, against the new active version


def test_audit_verify_finds_edited_rows_rows_without_entries_and_self_approval(conn: sa.Connection) -> None:
    p = propose(conn, NATIONAL)
    approve(conn, p.id)
    publish(conn, p.id)
    with conn.begin():
        conn.execute(sa.text("UPDATE pack_review SET reviewed_by = :who"), {"who": ZHANG.user})
        conn.execute(sa.text("UPDATE pack_proposal SET reason = '改过的理由'"))
        store.bulk_insert(
            conn,
            "pack_proposal",
            [
                {
                    "id": "PR0042",
                    "kind": "publish",
                    "name": "x",
                    "version": "1",
                    "files_hash": "ab" * 32,
                    "pack_hash": "cd" * 32,
                    "previous": None,
                    "proposed_by": "某人",
                    "reason": "插入",
                    "created_at": WHEN,
                }
            ],
        )
    report = step(conn, audit.verify)
    assert [(x.code, x.message) for x in report.problems] == [
        ("approval", "PR0001 (#1): proposal row changed: reason 改过的理由 (the ledger says 调整参数)"),
        ("approval", f"PR0001-approve (#2): review row changed: reviewed_by {ZHANG.user} (the ledger says {LI.user})"),
        ("unrecorded", "PR0042: rule-pack proposal without a ledger entry"),
    ]


def test_audit_verify_catches_a_self_approval_written_around_the_engine(conn: sa.Connection) -> None:
    """A review entry by the proposer (appended directly, as a forger would) breaks four eyes, and audit says so."""
    p = propose(conn, NATIONAL)
    with conn.begin():
        pack_proposals.record_review(conn, p, approve=True, reason="自批", actor=ZHANG, created_at=WHEN)
    with conn.begin():
        entry = pub.publish(conn, p.id, actor=ZHANG, created_at=WHEN)[0]
    messages = [x.message for x in step(conn, audit.verify).problems]
    assert messages == [
        f"PR0001-approve (#2): approved by its own proposer {ZHANG.user} (four eyes broken)",
        f"{entry.run_id} (#3): PR0001 was approved by its own proposer {ZHANG.user} (four eyes broken)",
    ]
