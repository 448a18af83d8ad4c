"""`suijian rules publish|active|export`: make a checked, tested rule pack the active version, see which one is
active and the publication history, and get any stored version's files back."""

from __future__ import annotations

import click

from commands.common import db_option, emit, json_option, now, out, pack_directory, store_connection, table
from commands.views import pack_line, print_pack_diff, when
from engine import publish as engine_publish
from engine.ledger import chain
from entities import identity


@click.command("publish")
@click.argument("ref", metavar="PROPOSAL|PACK")
@db_option
@json_option
def publish(ref: str, db: str | None, as_json: bool) -> None:
    """Make an approved rule pack the active version (发布规则包), recorded in the ledger with who published it.

    Four eyes (四眼原则): a supervisor proposes the pack (`suijian rules propose`), a second supervisor approves
    it (`suijian rules approve`), then any supervisor publishes it. PROPOSAL is the approved proposal's id
    (PR0007); PACK is a bundled pack's name (national, guangdong) or a directory whose files an approved proposal
    names. The stored, approved files are published, tested again; nothing is written, and the active version
    stays, if the proposal is not approved, was rejected, or another version became active since it was made.
    Publishing the active version again records nothing; going back to an earlier version is `suijian rules
    rollback`. Supervisors only.

    \b
    Examples:
      suijian rules propose national --reason "2026 年度规则" && suijian rules approve PR0001 --reason "已核对"
      suijian rules publish PR0001
      suijian rules publish national --json
    """
    actor = identity.require("publish")
    shown_dir = ref.strip().upper() if engine_publish.is_proposal_id(ref) else pack_directory(ref)
    with store_connection(db, write=True) as conn:
        entry, created = engine_publish.publish(conn, shown_dir, actor=actor, created_at=now())
        head = chain.head(conn)
    doc = engine_publish.publication(entry)
    if as_json:
        emit(
            {
                "new": created,
                "directory": shown_dir,
                "ledger_head": {"seq": head[0], "hash": head[1]},
                "publication": doc,
            }
        )
        return
    info = doc["pack"] or {}
    if not created:
        out.print(
            f"{pack_line(info)} is already the active rule pack: {entry.run_id}, published "
            f"{when(entry.created_at)} by {entry.actor.get('user')}; nothing recorded."
        )
        return
    out.print(f"Published {info.get('name')} {info.get('version')} as the active rule pack: {entry.run_id}")
    out.print(
        f"  from {doc['source']}: {doc['cases']:,} cases passed; {doc['decisions']:,} decisions, {doc['rows']:,} rules"
    )
    out.print(f"  files hash {info.get('files_hash')}")
    out.print(f"  pack hash  {info.get('hash')}")
    if doc["proposal"]:
        out.print(
            f"  {doc['proposal_kind']} proposal {doc['proposal']} by {doc['proposed_by']}, approved by "
            f"{doc['approved_by']} ({doc['approval']})",
            markup=False,
        )
    if doc["earlier"]:
        out.print(f"This version was published before as {', '.join(doc['earlier'])}: a rollback.")
    previous = doc["previous"]
    if previous is None:
        out.print("Previous: none (the first publication)")
    else:
        out.print(
            f"Previous: {pack_line(previous['pack'])}, {previous['run_id']} "
            f"(still retrievable: suijian rules export {previous['run_id']} DIR)"
        )
        print_pack_diff(doc["diff"])
    out.print(
        f"Ledger entry #{entry.seq} {entry.run_id} by {actor} at {when(entry.created_at)}, "
        f"entry hash {entry.entry_hash}"
    )


@click.command("active")
@db_option
@json_option
def active(db: str | None, as_json: bool) -> None:
    """Show the active rule pack and every publication (发布记录), oldest first.

    \b
    Examples:
      suijian rules active
      suijian rules active --json
    """
    with store_connection(db) as conn:
        entries = engine_publish.history(conn)
    docs = [engine_publish.publication(e) for e in entries]
    if as_json:
        emit({"active": docs[-1] if docs else None, "history": docs})
        return
    if not docs:
        out.print("No rule pack is published yet; publish one: suijian rules publish national")
        return
    now = docs[-1]
    info = now["pack"] or {}
    out.print(
        f"Active rule pack: {info.get('name')} {info.get('version')} — {now['run_id']}, published "
        f"{when(entries[-1].created_at)} by {now['actor'].get('user')} ({now['actor'].get('role')})"
    )
    out.print(f"  files hash {info.get('files_hash')}")
    out.print(f"  pack hash  {info.get('hash')}")
    rows = [
        (
            e.seq,
            when(e.created_at),
            e.actor.get("user", ""),
            (e.get("pack") or {}).get("name", ""),
            (e.get("pack") or {}).get("version", ""),
            str((e.get("pack") or {}).get("files_hash", ""))[:12],
        )
        for e in entries
    ]
    out.print(table("发布记录 publications", ["序号", "时间", "发布人", "规则包", "版本", "文件哈希"], rows))
    out.print("Get a version's files: suijian rules export FILES_HASH DIR")


@click.command("export")
@click.argument("ref", metavar="HASH_OR_RUN_ID")
@click.argument("out_dir", metavar="OUT_DIR")
@db_option
@json_option
def export(ref: str, out_dir: str, db: str | None, as_json: bool) -> None:
    """Write the files of a stored rule-pack version to OUT_DIR (new or empty), checked against their hash.

    HASH_OR_RUN_ID is a files hash or a unique prefix of at least 8 hex digits (`suijian rules active` lists
    them), or the run id of a publication (or of any grade or plan, for the pack it used). A pack with parents is
    written with them, as laid out when it was stored; the command prints where the pack itself is.

    \b
    Examples:
      suijian rules export 3f9a0c1d /tmp/national-old
      suijian rules export Rnational-2025.1-3f9a0c1d2e-0004 /tmp/national-old
      suijian rules diff /tmp/national-old national --as-of 2025-12-31
    """
    with store_connection(db) as conn:
        result = engine_publish.export_version(conn, ref, out_dir)
    if as_json:
        emit(
            {
                "files_hash": result.files_hash,
                "out_dir": str(result.out_dir),
                "pack_dir": str(result.pack_dir),
                "files": list(result.files),
                "pack": result.pack,
            }
        )
        return
    what = f" ({result.pack.get('name')} {result.pack.get('version')})" if result.pack else ""
    out.print(
        f"Wrote {len(result.files):,} files of rule-pack version {result.files_hash}{what} to {result.out_dir}; "
        "they match their hash."
    )
    out.print(f"The pack is {result.pack_dir}: suijian rules check {result.pack_dir}")


def register(cli: click.Group) -> None:
    """`suijian rules publish|active|export`: subcommands of the rules group (registered before this)."""
    rules = cli.commands["rules"]
    assert isinstance(rules, click.Group)
    for command in (publish, active, export):
        rules.add_command(command)
