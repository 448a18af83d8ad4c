"""Input snapshots: the rule-relevant inputs a run actually used, kept so the run can be recomputed later."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.engine import Connection

from engine.ledger import blobs
from engine.ledger.canonical import SNAPSHOT, Table, content_hash, pack_tables, unpack_tables
from entities.errors import InputError, SnapshotProblem


def save(conn: Connection, tables: Mapping[str, Table]) -> str:
    """Store the snapshot (once per content) and return its content hash."""
    digest = content_hash(tables)
    blobs.put(conn, "snapshot", digest, pack_tables(tables))
    return digest


def load(conn: Connection, digest: str, scheme: str = SNAPSHOT) -> dict[str, Table]:
    """The snapshot stored under `digest`, checked against it (hashed by `scheme`)."""
    data = blobs.get(conn, digest)
    if data is None:
        raise SnapshotProblem(f"snapshot {digest[:12]} is missing from the store")
    try:
        tables = unpack_tables(data)
    except ValueError as exc:
        raise SnapshotProblem(f"snapshot {digest[:12]} is unreadable ({exc})") from None
    try:
        found = content_hash(tables, scheme)
    except (InputError, TypeError, ValueError) as exc:  # a crafted container: readable, but not a snapshot
        raise SnapshotProblem(f"snapshot {digest[:12]} is unreadable ({exc})") from None
    if found != digest:
        raise SnapshotProblem(f"snapshot {digest[:12]} has been altered: its content hashes to {found[:12]}")
    return tables
