"""The append-only decision ledger (决策台账): every grade, plan, seed commitment, preview and pack publication.

Entry n carries the hash of entry n-1 (the first carries GENESIS); its own hash is SHA-256 over that previous
hash and its canonical body, so editing, deleting, inserting or reordering any entry breaks the chain at a
place `suijian audit verify` names. The database enforces one successor per entry (prev_hash is unique) and
appends take a table lock on PostgreSQL, so two concurrent runs cannot both extend the same head.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.ledger import canonical
from engine.version import ENGINE_VERSION
from entities import store
from entities.errors import StoreError
from entities.identity import Identity

GENESIS = "0" * 64
KINDS = (
    "grade",
    "plan",
    "commit",
    "preview",
    "publish",
    "results",
    "publication",
    "decision",
    "recheck",
    "pack-proposal",  # four-eyes publication: a proposal and its review (engine.pack_proposals)
    "pack-review",
)
_DEPENDENCIES = ("durable_rules", "polars", "numpy", "pydantic", "sqlalchemy", "sqlmodel", "pyyaml")


def versions() -> dict[str, str]:
    """The engine and the dependency versions that can change a result."""
    out = {"suijian": ENGINE_VERSION, "python": platform.python_version()}
    for name in _DEPENDENCIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover - every one is a dependency
            out[name] = "absent"
    return out


@dataclass(frozen=True)
class Entry:
    seq: int
    run_id: str
    kind: str
    created_at: dt.datetime
    body: dict[str, Any]
    prev_hash: str
    entry_hash: str

    @property
    def actor(self) -> dict[str, str]:
        return dict(self.body.get("actor") or {})

    @property
    def details(self) -> dict[str, Any]:
        return dict(self.body.get("details") or {})

    def get(self, key: str) -> Any:
        return self.body.get(key)

    @property
    def schemes(self) -> dict[str, str]:
        """The hashing scheme per role this entry was written with (raises canonical.UnknownScheme)."""
        return canonical.schemes_of(self.body)


def entry_hash(prev_hash: str, body_text: str, scheme: str = canonical.CHAIN) -> str:
    """An entry's hash under its chain scheme."""
    return canonical.entry_hash(prev_hash, body_text, scheme)


SQLITE_WAIT_S = 600  # how long a second writer waits for the first on SQLite (a city's grade takes minutes)


_LOCKED = "suijian.ledger_lock"  # Connection.info key: the transaction that holds the ledger lock


def lock(conn: Connection) -> None:
    """Serialise appenders: a second plan or grade waits, then sees the first one committed.

    PostgreSQL: a self-conflicting table lock. SQLite: a write statement that changes nothing takes the
    database's write lock now, before the checks read the ledger (pysqlite would begin only at the first
    insert, after them); the other writer waits up to SQLITE_WAIT_S, then is refused in one line — never both
    commit.
    """
    # Held until the transaction ends, so once per transaction is enough: record and append call it again.
    held = conn.get_transaction()
    if held is not None and conn.info.get(_LOCKED) is held:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("LOCK TABLE ledger IN SHARE ROW EXCLUSIVE MODE"))
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_WAIT_S * 1000}")
        try:
            conn.execute(sa.text("UPDATE ledger SET seq = seq WHERE 1 = 0"))
        except sa.exc.OperationalError as exc:
            if "locked" not in str(exc.orig):
                raise
            raise StoreError(
                f"the store is busy: another suijian run has been writing it for over {SQLITE_WAIT_S // 60} "
                "minutes; try again when it has finished"
            ) from None
    conn.info[_LOCKED] = conn.get_transaction()


def head(conn: Connection) -> tuple[int, str]:
    """(seq, hash) of the newest entry, or (0, GENESIS) for an empty ledger."""
    t = store.table("ledger")
    row = conn.execute(sa.select(t.c.seq, t.c.entry_hash).order_by(t.c.seq.desc()).limit(1)).first()
    return (0, GENESIS) if row is None else (int(row.seq), str(row.entry_hash))


def append(
    conn: Connection,
    *,
    run_id: str,
    kind: str,
    actor: Identity,
    created_at: dt.datetime,
    as_of: dt.date | None = None,
    seed: str | None = None,
    pack: dict[str, Any] | None = None,
    snapshot_hash: str | None = None,
    outputs_hash: str | None = None,
    details: dict[str, Any] | None = None,
    schemes: Mapping[str, str] | None = None,
) -> Entry:
    """Add one entry at the head of the chain, in the caller's transaction; `schemes` names schemes other than
    the kind's defaults (a fitted plan's outputs: suijian.plan/2)."""
    if kind not in KINDS:
        raise ValueError(f"unknown ledger entry kind {kind!r}")
    lock(conn)
    seq, prev = head(conn)
    created_at = created_at.replace(microsecond=0)
    body = {
        "seq": seq + 1,
        "run_id": run_id,
        "kind": kind,
        "created_at": created_at.isoformat(),
        "actor": actor.as_dict(),
        "as_of": as_of.isoformat() if as_of else None,
        "seed": seed,
        "pack": pack,
        "snapshot_hash": snapshot_hash,
        "outputs_hash": outputs_hash,
        "versions": versions(),
        "details": details or {},
        "schemes": {**canonical.entry_schemes(kind), **(schemes or {})},
    }
    text = canonical.body_text(body, canonical.CHAIN)
    digest = entry_hash(prev, text, canonical.CHAIN)
    store.bulk_insert(
        conn,
        "ledger",
        [
            {
                "seq": seq + 1,
                "run_id": run_id,
                "kind": kind,
                "created_at": created_at,
                "body": text,
                "prev_hash": prev,
                "entry_hash": digest,
            }
        ],
    )
    return Entry(seq + 1, run_id, kind, created_at, json.loads(text), prev, digest)


def _entry(row: sa.Row[Any]) -> Entry:
    try:
        body = json.loads(row.body)
    except (TypeError, json.JSONDecodeError):
        body = {}
    return Entry(
        int(row.seq),
        str(row.run_id),
        str(row.kind),
        row.created_at,
        body if isinstance(body, dict) else {},
        str(row.prev_hash),
        str(row.entry_hash),
    )


def entries(conn: Connection, *, kinds: tuple[str, ...] | None = None) -> list[Entry]:
    """Every entry in chain order (or only `kinds`)."""
    t = store.table("ledger")
    stmt = sa.select(t).order_by(t.c.seq)
    if kinds:
        stmt = stmt.where(t.c.kind.in_(kinds))
    return [_entry(r) for r in conn.execute(stmt)]


def find(conn: Connection, run_id: str) -> Entry | None:
    t = store.table("ledger")
    row = conn.execute(sa.select(t).where(t.c.run_id == run_id)).first()
    return None if row is None else _entry(row)
