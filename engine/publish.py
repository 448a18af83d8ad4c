"""Publishing a rule pack (发布规则包): an approved, checked, tested pack version becomes the active one, recorded in
the ledger.

    entry, new = publish(conn, "PR0007", actor=who, created_at=now)   # refused unless a second supervisor approved
    entry, new = publish(conn, "rules/national", …)   # the same, finding the approved proposal of these files
    active(conn)                       # the newest publish entry (None before the first publication)
    history(conn)                      # every publication, oldest first (a rollback is a publication too)
    export_version(conn, "3f9a0c1d", "/tmp/old")    # a stored version's files, to diff or re-publish
    with active_pack(conn) as pack: …  # the active pack, restored byte for byte from the store

A version is the content hash over every file of the pack and its parents (engine.ledger.packs); it is stored
once and never changes. Four eyes: a version is proposed and approved first (engine.pack_approvals), and the
publish entry names the proposal and the approval. Publishing the active version again records nothing; going
back to an older one (a rollback, proposed and approved the same way) is a new entry. Each entry carries who
published, the previous active version and what changed against it: decisions, rules, parameters, plan-policy
entries and files.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from engine import pack_proposals
from engine.ledger import canonical, chain, packs, record, runs
from engine.planning import load_policy
from engine.rules import Pack, read_pack, run_cases
from engine.whatif.packdiff import PackSide, diff_packs
from entities.errors import InputError
from entities.identity import Identity, require

KIND = "publish"
MIN_PREFIX = 8
_HEX = re.compile(r"[0-9a-f]+")
_PROPOSAL_ID = re.compile(r"(?i)PR[0-9]+")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ── reading the ledger ───────────────────────────────────────────────────────────────────────────────────────


def history(conn: Connection) -> list[chain.Entry]:
    """Every publication, oldest first."""
    return chain.entries(conn, kinds=(KIND,))


def active(conn: Connection) -> chain.Entry | None:
    """The active publication: the newest publish entry, or None before the first one."""
    return runs.newest_entry(conn, KIND)


@contextmanager
def active_pack(conn: Connection) -> Iterator[Pack | None]:
    """The active pack restored from the store (exactly the published files), or None if none is published."""
    entry = active(conn)
    if entry is None:
        yield None
        return
    info = entry.get("pack") or {}
    with packs.restored(conn, str(info.get("files_hash")), info.get("hash"), _pack_scheme(entry)) as pack:
        yield pack


def _pack_scheme(entry: chain.Entry) -> str:
    """The pack scheme the entry's pack hash was made with (its recorded one; pack-1 for a 0.1.0 entry)."""
    return entry.schemes.get("pack", canonical.PACK_1)


# ── publishing ───────────────────────────────────────────────────────────────────────────────────────────────


def read_checked(directory: str, verb: str = "publish") -> Pack:
    """The pack in `directory` if `rules check` finds no error; one line naming the first one otherwise."""
    if not Path(directory).is_dir():
        raise InputError(f"cannot {verb} {directory}: no rule pack there (not a directory)")
    pack, findings = read_pack(directory)
    errors = [f for f in findings if f.severity == "error"]
    if errors or pack is None:
        first = str(errors[0]) if errors else "the pack cannot be read"
        raise InputError(
            f"cannot {verb} {directory}: {first} ({_plural(len(errors), 'error')}; "
            f"`suijian rules check {directory}` lists them)"
        )
    return pack


def tested(pack: Pack, directory: str, verb: str = "publish") -> int:
    """How many cases the pack passes, if it has some and passes them all."""
    report = run_cases(pack)
    if not report.outcomes:
        raise InputError(
            f"cannot {verb} {directory}: it has no given/expect cases; add them under {directory}/tests/*.yaml "
            "(only a tested pack is published)"
        )
    if report.failed:
        bad = report.failed[0]
        why = f": {bad.differences[0]}" if bad.differences else ""
        raise InputError(
            f"cannot {verb} {directory}: case {bad.case.name!r} ({bad.case.location}) fails{why} "
            f"({len(report.failed)} of {_plural(len(report.outcomes), 'case')} failed; "
            f"`suijian rules test {directory}` shows them)"
        )
    return len(report.outcomes)


def published_as(conn: Connection, files_hash: str) -> list[str]:
    """The publish entries that made this stored version active, oldest first."""
    return [e.run_id for e in history(conn) if (e.get("pack") or {}).get("files_hash") == files_hash]


def check_label_unused(conn: Connection, pack: Pack, files_hash: str, shown: str, verb: str = "publish") -> None:
    """A version label is immutable: refused if this name and version were published with other files."""
    for e in history(conn):
        other = e.get("pack") or {}
        if (other.get("name"), other.get("version")) == (pack.name, pack.version) and other.get(
            "files_hash"
        ) != files_hash:
            raise InputError(
                f"cannot {verb} {shown}: {pack.name} {pack.version} was published with other content "
                f"({e.run_id}, files {str(other.get('files_hash'))[:12]}); a published version never changes: "
                "raise `version` in pack.yaml"
            )


def is_proposal_id(ref: str) -> bool:
    """Whether `ref` names a proposal (PR0007) rather than a pack directory."""
    return _PROPOSAL_ID.fullmatch(ref.strip()) is not None and not Path(ref).exists()


def publish(conn: Connection, ref: str, *, actor: Identity, created_at: dt.datetime) -> tuple[chain.Entry, bool]:
    """Make an approved proposal's pack version active; (its publish entry, whether it is new).

    `ref` is a proposal id (PR0007) or a pack directory whose files an approved proposal names. Four eyes: the
    proposal must be approved by a supervisor other than its proposer (engine.pack_approvals), and the active
    version must still be the one it was proposed against. The stored, approved files are published (restored from
    the store and tested again), never the directory's. Refused with one line (nothing written) otherwise; the
    version that is already active records nothing and returns the active entry.
    """
    require("publish", actor)
    if is_proposal_id(ref):
        proposal = pack_proposals.find(conn, ref)
        shown = proposal.id
    else:
        pack = read_checked(ref)
        files_hash = packs.version_of(pack).files_hash
        current = active(conn)
        if current is not None and (current.get("pack") or {}).get("files_hash") == files_hash:
            return current, False
        proposal = _approved_for(conn, pack, files_hash, ref)
        shown = ref
    chain.lock(conn)
    proposal = pack_proposals.find(conn, proposal.id)  # as it stands now that no one else can review or publish
    current = active(conn)
    if current is not None and (current.get("pack") or {}).get("files_hash") == proposal.files_hash:
        return current, False
    _check_publishable(proposal, current, shown)
    version = packs.fetch(conn, proposal.files_hash)
    with packs.restored(conn, proposal.files_hash) as pack:
        passed = tested(pack, shown)
        check_label_unused(conn, pack, version.files_hash, shown)
        info = record.pack_info(pack, version)
        previous = None
        diff = None
        if current is not None:
            before = dict(current.get("pack") or {})
            previous = {"run_id": current.run_id, "pack": before}
            diff = diff_against(conn, before, pack, version)
        review = proposal.review
        assert review is not None  # _check_publishable: approved
        seq = chain.head(conn)[0] + 1
        run_id = f"R{pack.name}-{pack.version}-{version.files_hash[:10]}-{seq:04d}"
        details = {
            "source": f"proposal {proposal.id}" if shown == proposal.id else ref,
            "previous": previous,
            "earlier": published_as(conn, version.files_hash),
            "cases": passed,
            "decisions": len(pack.decisions),
            "rows": sum(len(d.rules) for d in pack.decisions),
            "diff": diff,
            "proposal": proposal.id,
            "proposal_kind": proposal.kind,
            "proposed_by": proposal.proposed_by,
            "approval": review.run_id,
            "approved_by": review.by,
        }
        entry = chain.append(
            conn, run_id=run_id, kind=KIND, actor=actor, created_at=created_at, pack=info, details=details
        )
    return entry, True


def _approved_for(conn: Connection, pack: Pack, files_hash: str, shown: str) -> pack_proposals.Proposal:
    """The approved, publishable proposal of these files; else one line saying what is missing and who acts."""
    found = pack_proposals.for_files(conn, files_hash)
    usable = [p for p in found if p.status is pack_proposals.Status.APPROVED]
    if usable:
        return usable[0]
    what = f"{pack.name} {pack.version} (files {files_hash[:12]})"
    pending = [p for p in found if p.status is pack_proposals.Status.PENDING]
    if pending:
        p = pending[0]
        raise InputError(
            f"cannot publish {shown}: proposal {p.id} of {what} by {p.proposed_by} is not approved yet; a second "
            f"supervisor (not {p.proposed_by}) approves it: suijian rules approve {p.id} --reason …"
        )
    earlier = published_as(conn, files_hash)
    if earlier:
        raise InputError(
            f"cannot publish {shown}: {what} was published before ({earlier[-1]}); going back to it is a rollback, "
            f"approved by a second supervisor: suijian rules rollback {files_hash[:12]} --reason …"
        )
    raise InputError(
        f"cannot publish {shown}: {what} has no approved proposal; propose it (suijian rules propose {shown} "
        "--reason …) and have a second supervisor approve it (four eyes)"
    )


def _check_publishable(proposal: pack_proposals.Proposal, current: chain.Entry | None, shown: str) -> None:
    p, status = proposal, proposal.status
    if status is pack_proposals.Status.PENDING:
        raise InputError(
            f"cannot publish {shown}: proposal {p.id} by {p.proposed_by} is not approved yet; a second supervisor "
            f"(not {p.proposed_by}) approves it: suijian rules approve {p.id} --reason …"
        )
    if status is pack_proposals.Status.REJECTED and p.review is not None:
        raise InputError(
            f"cannot publish {shown}: proposal {p.id} was rejected by {p.review.by} ({p.review.reason}); "
            "a rejected proposal is final: propose again"
        )
    if status is pack_proposals.Status.PUBLISHED:
        raise InputError(
            f"cannot publish {shown}: proposal {p.id} was published as {p.published_as}; going back to that version "
            f"is a rollback: suijian rules rollback {p.files_hash[:12]} --reason …"
        )
    now = None if current is None else current.run_id
    if status is pack_proposals.Status.STALE or p.previous != now:
        raise InputError(
            f"cannot publish {shown}: the active rule pack changed since proposal {p.id} was made (then "
            f"{p.previous or 'none'}, now {now or 'none'}); its diff and approval are out of date: propose it again"
        )


# ── what changed against the previous version ────────────────────────────────────────────────────────────────


def _by_pack_root(version: packs.PackVersion) -> dict[str, bytes]:
    """The version's files named from the pack's own directory (a parent's as ../national/pack.yaml)."""
    return {posixpath.relpath(rel, version.root): data for rel, data in version.files.items()}


def file_changes(old: packs.PackVersion, new: packs.PackVersion) -> dict[str, list[str]]:
    a, b = _by_pack_root(old), _by_pack_root(new)
    return {
        "added": sorted(set(b) - set(a)),
        "removed": sorted(set(a) - set(b)),
        "modified": sorted(n for n in set(a) & set(b) if a[n] != b[n]),
    }


def _ids(changes: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"added": [], "removed": [], "modified": []}
    for c in changes:
        out[c.kind].append(c.id)
    return {k: sorted(v) for k, v in out.items()}


def diff_against(conn: Connection, before: Mapping[str, Any], pack: Pack, version: packs.PackVersion) -> dict[str, Any]:
    """Decisions, rules, parameters, policy entries and files that differ from the previous active version."""
    # No semantic-hash check: the previous version is compared as it reads now, even if an older suijian read it
    # differently. A previous version that cannot be read (`suijian audit verify` says why) must not block every
    # later publication: the entry says the comparison is unavailable, and why.
    try:
        old_version = packs.fetch(conn, str(before.get("files_hash")))
        with packs.restored(conn, old_version.files_hash) as old_pack:
            d = diff_packs(
                PackSide("previous", old_pack, load_policy(old_pack)), PackSide("new", pack, load_policy(pack))
            )
    except InputError as exc:
        return {"unavailable": str(exc)}
    return {
        "decisions": _ids(d.decisions),
        "rules": _ids(d.rules),
        "parameters": [{"name": c.id, "change": c.kind, "old": c.old, "new": c.new} for c in d.parameters],
        "policy": [{"entry": c.id, "change": c.kind, "old": c.old, "new": c.new} for c in d.policy],
        "files": file_changes(old_version, version),
    }


def diff_is_empty(diff: Mapping[str, Any] | None) -> bool:
    if not diff or "unavailable" in diff:
        return True
    return not (
        any(any(diff[k].values()) for k in ("decisions", "rules", "files")) or diff["parameters"] or diff["policy"]
    )


# ── retrieving a version ─────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Export:
    files_hash: str
    out_dir: Path
    pack_dir: Path  # where the pack itself is (out_dir, or a subdirectory when it has parents)
    files: tuple[str, ...]
    pack: Mapping[str, Any] | None  # name, version, hash as the ledger records it (None if no entry names it)


def _resolve(conn: Connection, ref: str) -> str:
    """The files hash a publish (or any ledger) run id names, or the one stored version a hash prefix names."""
    text = ref.strip()
    entry = chain.find(conn, text)
    if entry is not None:
        digest = (entry.get("pack") or {}).get("files_hash")
        if not digest:
            raise InputError(f"ledger entry {text} ({entry.kind}) names no rule-pack version")
        return str(digest)
    prefix = text.lower()
    if len(prefix) < MIN_PREFIX or not _HEX.fullmatch(prefix):
        raise InputError(
            f"{ref!r} is neither a ledger run id nor a files hash (at least {MIN_PREFIX} hex digits); "
            "`suijian rules active` lists the published versions"
        )
    found = runs.stored_pack_hashes(conn, prefix, limit=2)
    if not found:
        raise InputError(
            f"no rule-pack version with files hash {prefix}… in the store; `suijian rules active` lists the "
            "published versions"
        )
    if len(found) > 1:
        raise InputError(f"files hash {prefix}… names more than one stored rule-pack version; give more digits")
    return found[0]


def _pack_named(conn: Connection, digest: str) -> dict[str, Any] | None:
    for e in reversed(chain.entries(conn)):
        info = e.get("pack") or {}
        if info.get("files_hash") == digest:
            return dict(info)
    return None


def export_version(conn: Connection, ref: str, out_dir: str | Path) -> Export:
    """Write the stored files of a pack version (a files-hash prefix or a run id) to `out_dir`, new or empty.

    The files are checked against their hash as they are read; a pack with parents is written with them, laid
    out as when it was published, so `suijian rules check OUT/<pack>` and a re-publication work."""
    digest = _resolve(conn, ref)
    version = packs.fetch(conn, digest)
    target = Path(out_dir)
    if target.exists() and not target.is_dir():
        raise InputError(f"{out_dir} is a file; give a new or empty directory")
    if target.is_dir() and any(target.iterdir()):
        raise InputError(f"{out_dir} is not empty; give a new or empty directory (nothing is overwritten)")
    for rel in version.files:
        parts = rel.split("/")
        if rel.startswith("/") or ".." in parts or "" in parts:
            raise InputError(f"rule-pack version {digest[:12]} holds an unsafe path {rel!r}; nothing was written")
    try:
        target.mkdir(parents=True, exist_ok=True)
        for rel, data in sorted(version.files.items()):
            path = target.joinpath(*rel.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    except OSError as exc:
        raise InputError(f"cannot write to {out_dir}: {exc.strerror or exc}") from None
    pack_dir = target if version.root == "." else target.joinpath(*version.root.split("/"))
    return Export(digest, target, pack_dir, tuple(sorted(version.files)), _pack_named(conn, digest))


# ── a publication as a document ──────────────────────────────────────────────────────────────────────────────


def publication(entry: chain.Entry) -> dict[str, Any]:
    """One publish entry as `suijian rules publish|active --json` print it."""
    d = entry.details
    return {
        "seq": entry.seq,
        "run_id": entry.run_id,
        "created_at": entry.created_at.isoformat(sep=" "),
        "actor": entry.actor,
        "pack": entry.get("pack"),
        "source": d.get("source"),
        "previous": d.get("previous"),
        "earlier": d.get("earlier", []),
        "cases": d.get("cases"),
        "decisions": d.get("decisions"),
        "rows": d.get("rows"),
        "diff": d.get("diff"),
        "proposal": d.get("proposal"),
        "proposal_kind": d.get("proposal_kind"),
        "proposed_by": d.get("proposed_by"),
        "approval": d.get("approval"),
        "approved_by": d.get("approved_by"),
        "entry_hash": entry.entry_hash,
    }


__all__ = [
    "KIND",
    "Export",
    "active",
    "active_pack",
    "check_label_unused",
    "diff_against",
    "diff_is_empty",
    "export_version",
    "file_changes",
    "history",
    "is_proposal_id",
    "publication",
    "publish",
    "published_as",
    "read_checked",
    "tested",
]
