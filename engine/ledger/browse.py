"""The auditor's ledger pages as read models: entries newest first, filtered and paged; one entry in full.

    ledger_page(conn, LedgerFilter(...), page=1, per_page=50) -> LedgerPage
    entry_detail(conn, seq) -> EntryDetail | None

Read-only and pure functions of a Connection, so the web page and the JSON API show the same thing. Kind and
date filters are SQL parameters; who acted lives only inside the hashed body (there is no column to index), so
the user filter parses bodies in Python — PostgreSQL 15 has no guarded JSON cast, and an entry whose body was
tampered into invalid JSON must stay listable (that is when an auditor looks), not fail the whole query.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.ledger import chain
from entities import store
from entities.errors import InputError

PER_PAGE = 50
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class LedgerFilter:
    """Which entries to list; None means any."""

    kind: str | None = None
    user: str | None = None
    since: dt.date | None = None  # created on or after this day (UTC)
    until: dt.date | None = None  # created on or before this day (UTC)

    def as_dict(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "user": self.user,
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
        }


def _day(text: str, label: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{label}“{text}”不是日期，请写成 YYYY-MM-DD，例如 2026-01-31") from None


def parse_filter(
    kind: str | None = None, user: str | None = None, since: str | None = None, until: str | None = None
) -> LedgerFilter:
    """A filter from form or query text (blank means any); one Chinese line naming the field if one is wrong."""
    kind = (kind or "").strip() or None
    if kind is not None and kind not in chain.KINDS:
        raise InputError(f"类型“{kind}”不是台账条目类型，可选：{'、'.join(chain.KINDS)}")
    user = (user or "").strip() or None
    if user is not None and len(user) > 200:
        raise InputError("操作人过长：最多 200 个字符")
    start = _day(since.strip(), "起始日期") if since and since.strip() else None
    end = _day(until.strip(), "截止日期") if until and until.strip() else None
    if start is not None and end is not None and end < start:
        raise InputError(f"截止日期 {end} 早于起始日期 {start}")
    return LedgerFilter(kind, user, start, end)


def parse_page(page: int | str | None, per_page: int | str | None = None) -> tuple[int, int]:
    """(page, per_page) from query text: page ≥ 1, 1 ≤ per_page ≤ MAX_PER_PAGE."""

    def number(value: int | str | None, label: str, default: int) -> int:
        if value is None or (isinstance(value, str) and not value.strip()):
            return default
        try:
            return int(value)
        except ValueError:
            raise InputError(f"{label}“{value}”不是整数") from None

    p = number(page, "页码", 1)
    n = number(per_page, "每页条数", PER_PAGE)
    if p < 1:
        raise InputError(f"页码 {p} 无效：从 1 开始")
    if not 1 <= n <= MAX_PER_PAGE:
        raise InputError(f"每页条数 {n} 无效：1 到 {MAX_PER_PAGE}")
    return p, n


@dataclass(frozen=True)
class EntryLine:
    """One entry as the list shows it: what, which run, who, when."""

    seq: int
    run_id: str
    kind: str
    created_at: dt.datetime
    user: str | None  # None: the body is unreadable (tampered); verify names the problem
    role: str | None
    as_of: str | None
    entry_hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "run_id": self.run_id,
            "kind": self.kind,
            "created_at": self.created_at.isoformat(),
            "user": self.user,
            "role": self.role,
            "as_of": self.as_of,
            "entry_hash": self.entry_hash,
        }


@dataclass(frozen=True)
class LedgerPage:
    lines: tuple[EntryLine, ...]
    total: int  # entries matching the filter
    page: int
    per_page: int
    head: tuple[int, str]  # the whole ledger's head, whatever the filter

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def as_dict(self) -> dict[str, Any]:
        return {
            "entries": [line.as_dict() for line in self.lines],
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
            "head": {"seq": self.head[0], "hash": self.head[1]},
        }


def _body(text: Any) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _actor(body: dict[str, Any] | None) -> tuple[str | None, str | None]:
    actor = body.get("actor") if body is not None else None
    if not isinstance(actor, dict):
        return None, None
    user, role = actor.get("user"), actor.get("role")
    return (None if user is None else str(user)), (None if role is None else str(role))


def _where(t: sa.Table, flt: LedgerFilter) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = []
    if flt.kind is not None:
        clauses.append(t.c.kind == flt.kind)
    if flt.since is not None:
        clauses.append(t.c.created_at >= dt.datetime.combine(flt.since, dt.time()))
    if flt.until is not None:
        clauses.append(t.c.created_at < dt.datetime.combine(flt.until + dt.timedelta(days=1), dt.time()))
    return clauses


def _line(row: Any) -> EntryLine:
    body = _body(row.body)
    user, role = _actor(body)
    as_of = body.get("as_of") if body is not None else None
    return EntryLine(
        int(row.seq),
        str(row.run_id),
        str(row.kind),
        row.created_at,
        user,
        role,
        None if as_of is None else str(as_of),
        str(row.entry_hash),
    )


def ledger_page(conn: Connection, flt: LedgerFilter, page: int = 1, per_page: int = PER_PAGE) -> LedgerPage:
    """The entries matching `flt`, newest first, page `page` (1-based) of `per_page`."""
    t = store.table("ledger")
    where = _where(t, flt)
    cols = (t.c.seq, t.c.run_id, t.c.kind, t.c.created_at, t.c.body, t.c.entry_hash)
    offset = (page - 1) * per_page
    if flt.user is None:
        total = int(conn.execute(sa.select(sa.func.count()).select_from(t).where(*where)).scalar_one())
        stmt = sa.select(*cols).where(*where).order_by(t.c.seq.desc()).limit(per_page).offset(offset)
        lines = tuple(_line(r) for r in conn.execute(stmt))
    else:
        # Only the matching entries' seqs are kept while the bodies stream past; the page is read again by seq.
        seqs = [
            int(r.seq)
            for r in conn.execute(sa.select(t.c.seq, t.c.body).where(*where).order_by(t.c.seq.desc()))
            if _actor(_body(r.body))[0] == flt.user
        ]
        total = len(seqs)
        wanted = seqs[offset : offset + per_page]
        stmt = sa.select(*cols).where(t.c.seq.in_(wanted)).order_by(t.c.seq.desc())
        lines = tuple(_line(r) for r in conn.execute(stmt)) if wanted else ()
    return LedgerPage(lines, total, page, per_page, chain.head(conn))


@dataclass(frozen=True)
class EntryDetail:
    """One entry as stored: its columns, its body (None if not JSON: shown as text) and its neighbours' seqs."""

    seq: int
    run_id: str
    kind: str
    created_at: dt.datetime
    prev_hash: str
    entry_hash: str
    body_text: str
    body: dict[str, Any] | None
    previous: int | None
    following: int | None

    @property
    def user(self) -> str | None:
        return _actor(self.body)[0]

    @property
    def role(self) -> str | None:
        return _actor(self.body)[1]

    def field(self, key: str) -> Any:
        return None if self.body is None else self.body.get(key)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "run_id": self.run_id,
            "kind": self.kind,
            "created_at": self.created_at.isoformat(),
            "prev_hash": self.prev_hash,
            "entry_hash": self.entry_hash,
            "body": self.body if self.body is not None else self.body_text,
            "previous": self.previous,
            "following": self.following,
        }


def entry_detail(conn: Connection, key: int | str) -> EntryDetail | None:
    """The entry with seq `key` (an int, or digits) or run id `key`; None if the ledger has none."""
    t = store.table("ledger")
    if isinstance(key, int) or (key.isascii() and key.isdigit()):
        seq = int(key)
        if not 0 < seq < 2**31:  # the column's range: a longer number names no entry (and must not reach SQL)
            return None
        row = conn.execute(sa.select(t).where(t.c.seq == seq)).first()
    else:
        row = conn.execute(sa.select(t).where(t.c.run_id == key)).first()
    if row is None:
        return None
    seq = int(row.seq)
    before = conn.execute(sa.select(sa.func.max(t.c.seq)).where(t.c.seq < seq)).scalar_one()
    after = conn.execute(sa.select(sa.func.min(t.c.seq)).where(t.c.seq > seq)).scalar_one()
    return EntryDetail(
        seq,
        str(row.run_id),
        str(row.kind),
        row.created_at,
        str(row.prev_hash),
        str(row.entry_hash),
        str(row.body),
        _body(row.body),
        None if before is None else int(before),
        None if after is None else int(after),
    )
