"""Small builders shared by several test modules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from entities import store
from entities.identity import Identity, Role


def import_one_subject(conn: Connection, file_name: str, imported_at: dt.datetime) -> None:
    """What an earlier `suijian import subjects FILE` leaves behind: one subject and its import-log row."""
    store.bulk_insert(
        conn,
        "subject",
        [
            {
                "uscc": "91445203MA4W3TGX5Q",
                "name": "揭阳市真实数据有限公司",
                "kind": "enterprise",
                "industry": "C3381",
                "region": "445203001",
                "address": "",
                "registered_on": dt.date(2019, 5, 6),
                "status": "active",
                "whitelist": False,
                "lenient": False,
            }
        ],
    )
    store.bulk_insert(
        conn,
        "import_log",
        [
            {
                "kind": "subjects",
                "file_name": file_name,
                "sha256": "0" * 64,
                "rows": 1,
                "inserted": 1,
                "updated": 0,
                "unchanged": 0,
                "imported_at": imported_at,
            }
        ],
    )


T = TypeVar("T")

TESTER = Identity("测试员 tester", Role.SUPERVISOR)  # the actor engine-level tests record in the ledger
APPROVER = Identity("审核员 approver", Role.SUPERVISOR)  # the second supervisor of four-eyes publication


def publish_approved(
    conn: Connection, directory: str, *, created_at: dt.datetime, proposer: Identity = TESTER
) -> tuple[Any, bool]:
    """What `rules propose` by `proposer`, `rules approve` by APPROVER and `rules publish` leave behind; the active
    version is published again directly (nothing recorded), as `rules publish` does."""
    from engine import pack_approvals, publish
    from engine.ledger import packs
    from engine.rules import load_pack
    from entities.errors import InputError

    current = publish.active(conn)
    try:
        files_hash = packs.version_of(load_pack(directory)).files_hash
    except InputError:
        files_hash = None  # a broken pack: the proposal refuses it, in its words
    if current is None or (current.get("pack") or {}).get("files_hash") != files_hash:
        p = pack_approvals.propose(conn, directory, reason="测试发布", actor=proposer, created_at=created_at)
        pack_approvals.approve(conn, p.id, reason="已核对", actor=APPROVER, created_at=created_at)
    return publish.publish(conn, directory, actor=proposer, created_at=created_at)


def read_store(url: str, fn: Callable[..., T], *args: Any) -> T:
    """fn(conn, *args) on a read connection to the store at `url` (opened and disposed around the call)."""
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            return fn(conn, *args)
    finally:
        engine.dispose()


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run the CLI as the console script does: exit code, stdout, stderr."""
    from click.testing import CliRunner

    from cli import suijian
    from commands.common import run_main

    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        code = run_main(suijian, list(args))
    return code, out.getvalue().decode(), err.getvalue().decode()


def load_demo_store(url: str, subjects: int) -> None:
    """A synthetic jiedong of `subjects` subjects loaded through `suijian demo --load-only`, with the catalogue."""
    from engine.catalogue import install_catalogue, load_catalogue

    code, _, err = run_cli("demo", "--subjects", str(subjects), "--load-only", "--db", url)
    assert code == 0, err
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            install_catalogue(conn, load_catalogue())
    finally:
        engine.dispose()


def load_jiedong(url: str, subjects: int, as_of: dt.date, now: dt.datetime) -> None:
    """A synthetic jiedong of `subjects` subjects loaded by the engine (`load_demo`, seed 1), with the catalogue."""
    from engine.catalogue import install_catalogue, load_catalogue
    from engine.synth import get_profile, load_demo

    engine = store.open_store(url)
    try:
        load_demo(engine, get_profile("jiedong", subjects), 1, as_of, now=now)
        with engine.begin() as conn:
            install_catalogue(conn, load_catalogue())
    finally:
        engine.dispose()


def ledger_lock_waiters(url: str) -> int:
    """How many PostgreSQL sessions are queued for the ledger lock in the schema of `url` (a pg_url fixture's)."""
    schema = url.rsplit("%3D", 1)[1]
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.relname = 'ledger' AND n.nspname = :s AND NOT l.granted"
                    ),
                    {"s": schema},
                ).scalar_one()
            )
    finally:
        engine.dispose()
