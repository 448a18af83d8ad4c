"""Server-side sessions of the web app: a random id in a signed cookie, only the id's SHA-256 in the store.

Signing in always makes a new session (the one from before sign-in is deleted), so an id planted in a browser before
sign-in is worth nothing after it (no session fixation); signing out deletes the row, so a copied cookie dies with
it. The CSRF token of a session is an HMAC of its id under the store's secret: per session, never stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from entities import store

SIGNED_IN = dt.timedelta(hours=12)  # a working day in the field, then sign in again
ANONYMOUS = dt.timedelta(hours=1)  # the sign-in form's session: long enough to type a password


@dataclass(frozen=True)
class Session:
    raw_id: str
    account: str | None
    expires_at: dt.datetime


def secret(conn: Connection) -> bytes:
    """The store's signing secret (made by migration 0010 at `suijian init`; made here if a row was deleted)."""
    t = store.table("web_setting")
    value = conn.execute(sa.select(t.c.value).where(t.c.key == "secret")).scalar()
    if value is None:
        value = secrets.token_hex(32)
        conn.execute(t.insert().values(key="secret", value=value))
    return bytes.fromhex(str(value))


def _hash(raw_id: str) -> str:
    return hashlib.sha256(raw_id.encode()).hexdigest()


def _mac(key: bytes, purpose: str, raw_id: str) -> str:
    return hmac.new(key, f"{purpose}:{raw_id}".encode(), hashlib.sha256).hexdigest()


def cookie_value(key: bytes, raw_id: str) -> str:
    return f"{raw_id}.{_mac(key, 'cookie', raw_id)}"


def raw_id_of(key: bytes, cookie: str) -> str | None:
    """The session id in a cookie whose signature is right, else None (an edited or forged cookie)."""
    raw_id, _, mac = cookie.rpartition(".")
    if not raw_id or not hmac.compare_digest(mac, _mac(key, "cookie", raw_id)):
        return None
    return raw_id


def csrf_token(key: bytes, raw_id: str) -> str:
    return _mac(key, "csrf", raw_id)


def csrf_ok(key: bytes, raw_id: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(str(given), csrf_token(key, raw_id))


def start(conn: Connection, account: str | None, *, now: dt.datetime, replaces: str | None = None) -> Session:
    """A new session (signed in as `account`, or anonymous); the session it `replaces` is deleted. Expired
    sessions are swept here, so the table holds only live ones."""
    t = store.table("web_session")
    if replaces is not None:
        conn.execute(t.delete().where(t.c.id_hash == _hash(replaces)))
    conn.execute(t.delete().where(t.c.expires_at <= now))
    raw_id = secrets.token_urlsafe(32)
    expires = now + (SIGNED_IN if account is not None else ANONYMOUS)
    conn.execute(t.insert().values(id_hash=_hash(raw_id), account=account, created_at=now, expires_at=expires))
    return Session(raw_id, account, expires)


def find(conn: Connection, raw_id: str, *, now: dt.datetime) -> Session | None:
    """The live session with this id, or None (unknown, ended or expired)."""
    t = store.table("web_session")
    row = conn.execute(sa.select(t.c.account, t.c.expires_at).where(t.c.id_hash == _hash(raw_id))).first()
    if row is None or row.expires_at <= now:
        return None
    return Session(raw_id, row.account, row.expires_at)


def end(conn: Connection, raw_id: str) -> None:
    t = store.table("web_session")
    conn.execute(t.delete().where(t.c.id_hash == _hash(raw_id)))
