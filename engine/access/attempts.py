"""The sign-in rate limit: failed attempts per account name and per client address within a window.

Per address the limit is higher than per account: an office's phones and PCs often reach the server through one
address (NAT), and one person's typos should not lock out the whole 所.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from entities import store

WINDOW = dt.timedelta(minutes=15)
PER_ACCOUNT = 5
PER_CLIENT = 10
KEPT = dt.timedelta(days=1)  # older attempts are swept when a new one is recorded


def record(conn: Connection, account: str, client: str, ok: bool, *, now: dt.datetime) -> None:
    t = store.table("login_attempt")
    conn.execute(t.delete().where(t.c.at < now - KEPT))
    conn.execute(t.insert().values(account=account[:64], client=client[:64], at=now, ok=ok))


def _failures(conn: Connection, column: sa.Column[str], value: str, now: dt.datetime) -> int:
    t = store.table("login_attempt")
    query = sa.select(sa.func.count()).where(column == value[:64], t.c.ok.is_(False), t.c.at > now - WINDOW)
    return int(conn.execute(query).scalar_one())


def blocked(conn: Connection, account: str, client: str, *, now: dt.datetime) -> bool:
    """True when the account name or the client address has had too many failures within the window."""
    t = store.table("login_attempt")
    return (
        _failures(conn, t.c.account, account, now) >= PER_ACCOUNT
        or _failures(conn, t.c.client, client, now) >= PER_CLIENT
    )
