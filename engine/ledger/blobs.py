"""Content-addressed blobs: a snapshot or a pack version is stored once under its content hash."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from entities import store


def put(conn: Connection, kind: str, digest: str, data: bytes) -> bool:
    """Store `data` under `digest` unless it is there already; True if it was new."""
    t = store.table("blob")
    if conn.execute(sa.select(t.c.hash).where(t.c.hash == digest)).first() is not None:
        return False
    store.bulk_insert(conn, "blob", [{"hash": digest, "kind": kind, "size": len(data), "data": data}])
    return True


def get(conn: Connection, digest: str) -> bytes | None:
    t = store.table("blob")
    row = conn.execute(sa.select(t.c.data).where(t.c.hash == digest)).first()
    return None if row is None else bytes(row.data)
