"""Accounts (`suijian users add|list|disable|token`) and checking who signs in: passwords as Argon2 hashes
(argon2-cffi), API tokens as SHA-256 of 256-bit random values.

An inspector's account name is the roster's 登录账号 (inspector.user_name; engine/roster_links.py keeps it one person,
one inspector), which is how the web app finds the inspector behind an account.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from contextlib import suppress
from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Connection

from entities import store
from entities.errors import InputError
from entities.identity import ROLE_NAMES, Role

# argon2-cffi's defaults (RFC 9106's second recommendation); a change here makes check_password rehash on sign-in.
HASHER = PasswordHasher()
MIN_PASSWORD = 10
TOKEN_PREFIX = "sj_"


@dataclass(frozen=True)
class AccountRow:
    name: str
    role: Role
    display: str
    enabled: bool
    created_at: dt.datetime
    inspector_id: str | None = None  # the roster inspector whose 登录账号 this is


def check_name(name: str) -> str:
    text = name.strip()
    if not text or len(text) > 64 or any(c.isspace() or not c.isprintable() for c in text):
        raise InputError(f"account name {name!r} must be 1 to 64 characters without spaces, e.g. ZF4452030001")
    return text


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InputError(f"the password must have at least {MIN_PASSWORD} characters")
    if password != password.strip() or "\n" in password:
        raise InputError("the password must not start or end with spaces, nor hold a line break")


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def roster_inspector(conn: Connection, name: str) -> str | None:
    """The id of the roster inspector whose 登录账号 is `name`, or None."""
    t = store.table("inspector")
    found = conn.execute(sa.select(t.c.id).where(t.c.user_name == name)).scalar()
    return str(found) if found is not None else None


def add(
    conn: Connection,
    name: str,
    role: Role,
    password: str,
    *,
    display: str | None,
    now: dt.datetime,
    unlinked: bool = False,
) -> AccountRow:
    """Create an account; an inspector's name must be a 登录账号 on the roster unless `unlinked`."""
    name = check_name(name)
    check_password(password)
    shown = (display or name).strip()
    if not shown or len(shown) > 100 or any(not c.isprintable() for c in shown):
        raise InputError(f"--display {display!r} must be a name on one line of at most 100 characters")
    t = store.table("account")
    if conn.execute(sa.select(t.c.name).where(t.c.name == name)).first() is not None:
        raise InputError(f"an account named {name!r} exists already; `suijian users list` shows the accounts")
    inspector = roster_inspector(conn, name)
    if role is Role.INSPECTOR and inspector is None and not unlinked:
        raise InputError(
            f"no inspector on the roster has the 登录账号 {name!r}: import the roster with it "
            "(`suijian import inspectors FILE`), or add --unlinked for an account that sees no list"
        )
    conn.execute(
        t.insert().values(
            name=name,
            role=role.value,
            display=shown,
            password_hash=hash_password(password),
            enabled=True,
            created_at=now,
            disabled_at=None,
        )
    )
    return AccountRow(name, role, shown, True, now, inspector if role is Role.INSPECTOR else None)


def _row(conn: Connection, m: sa.RowMapping) -> AccountRow:
    role = Role(m["role"])
    return AccountRow(
        m["name"],
        role,
        m["display"],
        bool(m["enabled"]),
        m["created_at"],
        roster_inspector(conn, m["name"]) if role is Role.INSPECTOR else None,
    )


def listing(conn: Connection) -> list[AccountRow]:
    """Every account, by name."""
    t = store.table("account")
    return [_row(conn, m) for m in conn.execute(sa.select(t).order_by(t.c.name)).mappings().all()]


def find(conn: Connection, name: str) -> AccountRow | None:
    t = store.table("account")
    m = conn.execute(sa.select(t).where(t.c.name == name)).mappings().first()
    return _row(conn, m) if m is not None else None


def enabled_count(conn: Connection) -> int:
    t = store.table("account")
    return int(conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.enabled.is_(True))).scalar_one())


def disable(conn: Connection, name: str, *, now: dt.datetime) -> bool:
    """Disable an account and end its sessions; False if it was disabled already. Its tokens stop working too
    (authentication checks `enabled`)."""
    found = find(conn, name)
    if found is None:
        raise InputError(f"no account named {name!r}; `suijian users list` shows the accounts")
    if not found.enabled:
        return False
    t = store.table("account")
    conn.execute(t.update().where(t.c.name == name).values(enabled=False, disabled_at=now))
    s = store.table("web_session")
    conn.execute(s.delete().where(s.c.account == name))
    return True


def authenticate(conn: Connection, name: str, password: str) -> AccountRow | None:
    """The account `name` if `password` is its password, else None; the caller refuses a disabled one (its
    `enabled` is False: the password was right, so saying so tells nothing to someone guessing). Rehashes a hash
    made with other Argon2 parameters (stored in the same transaction)."""
    t = store.table("account")
    m = conn.execute(sa.select(t).where(t.c.name == name)).mappings().first()
    if m is None:
        # Spend the same time as a real check, so response times do not tell which names exist.
        _burn(password)
        return None
    try:
        HASHER.verify(m["password_hash"], password)
    except (VerificationError, InvalidHashError):
        return None
    if m["enabled"] and HASHER.check_needs_rehash(m["password_hash"]):
        conn.execute(t.update().where(t.c.name == name).values(password_hash=hash_password(password)))
    return _row(conn, m)


@cache
def _dummy_hash() -> str:
    return HASHER.hash("suijian-dummy-password")


def _burn(password: str) -> None:
    with suppress(VerificationError):
        HASHER.verify(_dummy_hash(), password + "\0")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(conn: Connection, name: str, label: str, *, now: dt.datetime) -> str:
    """A new API token for the account (returned once; only its SHA-256 is stored)."""
    found = find(conn, name)
    if found is None:
        raise InputError(f"no account named {name!r}; `suijian users list` shows the accounts")
    if not found.enabled:
        raise InputError(f"the account {name!r} is disabled; a disabled account gets no token")
    label = label.strip()
    if not label or len(label) > 100 or any(not c.isprintable() for c in label):
        raise InputError(f"--label {label!r} must say on one line what the token is for, e.g. 省级平台")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        store.table("api_token")
        .insert()
        .values(account=name, label=label, token_hash=token_hash(token), created_at=now)
    )
    return token


def by_token(conn: Connection, token: str) -> AccountRow | None:
    """The enabled account holding the API token, or None."""
    tok = store.table("api_token")
    name = conn.execute(sa.select(tok.c.account).where(tok.c.token_hash == token_hash(token))).scalar()
    if name is None:
        return None
    found = find(conn, str(name))
    return found if found is not None and found.enabled else None


def role_of(text: str) -> Role:
    role = Role.parse(text)
    if role is None:
        raise InputError(f"--role {text!r} is not {ROLE_NAMES}")
    return role
