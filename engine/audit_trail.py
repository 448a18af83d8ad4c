"""The auditor's trail of a plan as a read model: drawn → visited → result → published, searchable by subject.

    plan_lines(conn) -> [PlanLine]                              the committed plans, newest first
    plan_trail(conn, plan_id, calendar, query, page, per_page) -> TrailPage

The trail itself is `suijian audit trace`'s (engine.results.publishing.trace_of over engine.results.trace): this
module only finds the plan, narrows the rows to the subjects a search names, pages them and adds the subjects'
names. The search is a USCC (or its beginning) or part of a name; it reaches SQL only as a bound LIKE parameter
with its wildcards escaped, so `%`, `_`, quotes and `;--` are searched for as the characters they are.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine import planning
from engine.ledger import chain, runs
from engine.plan.calendar import WorkCalendar
from engine.plan_visits import count_visit_rows
from engine.results import publishing
from engine.results.trace import Trace, TraceRow
from entities import store
from entities.errors import InputError

_IN_CHUNK = 900  # bound parameters per IN list (SQLite's historical limit is 999)
MAX_QUERY = 100
CACHED = 2  # traces kept: each holds a row per visit of a plan (a city's: hundreds of thousands)


@dataclass(frozen=True)
class PlanLine:
    """A committed plan as the trail's index lists it."""

    id: str
    period: str
    as_of: dt.date
    regions: str
    visits: int
    created_at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan_id": self.id,
            "period": self.period,
            "as_of": self.as_of.isoformat(),
            "regions": self.regions,
            "visits": self.visits,
            "created_at": self.created_at.isoformat(),
        }


def plan_lines(conn: Connection) -> list[PlanLine]:
    """Every committed plan, newest first (without its document: a city's is hundreds of MB)."""
    t = store.table("plan")
    stmt = sa.select(t.c.id, t.c.period, t.c.as_of, t.c.regions, t.c.visits, t.c.created_at).order_by(
        t.c.created_at.desc(), t.c.id.desc()
    )
    return [
        PlanLine(str(r.id), str(r.period), r.as_of, str(r.regions), int(r.visits), r.created_at)
        for r in conn.execute(stmt)
    ]


@dataclass(frozen=True)
class TrailRow:
    """A trace row with the subject's name."""

    row: TraceRow
    name: str | None  # None: the subject is no longer in the store

    def as_dict(self) -> dict[str, Any]:
        return {**self.row.to_dict(), "name": self.name}


@dataclass(frozen=True)
class TrailPage:
    plan_id: str
    summary: dict[str, Any]  # the whole plan's, whatever the search
    query: str | None
    rows: tuple[TrailRow, ...]
    total: int  # visits matching the search
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "summary": self.summary,
            "query": self.query,
            "visits": [r.as_dict() for r in self.rows],
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
        }


def check_query(text: str | None) -> str | None:
    """A subject search as typed (blank: none); one Chinese line if it cannot be one."""
    query = (text or "").strip()
    if not query:
        return None
    if len(query) > MAX_QUERY:
        raise InputError(f"检索词过长：最多 {MAX_QUERY} 个字符（统一社会信用代码或名称的一部分）")
    return query


def _matches(query: str, s: sa.Table) -> sa.ColumnElement[bool]:
    # autoescape: the user's % and _ are literal characters, not LIKE wildcards.
    return sa.or_(s.c.uscc.startswith(query.upper(), autoescape=True), s.c.name.contains(query, autoescape=True))


def matching_subjects(conn: Connection, plan_id: str, query: str, usccs: Sequence[str]) -> set[str]:
    """The USCCs among the plan's subjects whose USCC starts with `query` or whose name contains it."""
    s = store.table("subject")
    if count_visit_rows(conn, plan_id):
        v = store.table("plan_visit")
        within = s.c.uscc.in_(sa.select(v.c.uscc).where(v.c.plan_id == plan_id))
        return {str(u) for u in conn.execute(sa.select(s.c.uscc).where(within, _matches(query, s))).scalars()}
    # A plan committed before visits were stored as rows: search within its subjects a chunk at a time.
    wanted = sorted(set(usccs))
    found: set[str] = set()
    for i in range(0, len(wanted), _IN_CHUNK):
        stmt = sa.select(s.c.uscc).where(s.c.uscc.in_(wanted[i : i + _IN_CHUNK]), _matches(query, s))
        found.update(str(u) for u in conn.execute(stmt).scalars())
    return found


# A trace is a function of the plan document (immutable, named by its hash), the results and the publications; every
# result batch, correction and publication appends a ledger entry, so the ledger head names their state. Paging
# and searching the same plan then reuse one trace instead of re-reading the whole plan per page (2.7 s a page at
# jiedong, minutes at city scale). Changes made behind suijian's back are not seen until the head moves: that is
# what `verify` is for.
_traces: OrderedDict[tuple[str, str, str], Trace] = OrderedDict()
_lock = threading.Lock()


def cached_trace(conn: Connection, plan_id: str, calendar: WorkCalendar) -> tuple[str, Trace]:
    """The plan's trace, from the cache when the store, the plan and the ledger head are the same."""
    sha = runs.plan_sha256(conn, plan_id)
    key = (conn.engine.url.render_as_string(hide_password=True), f"{plan_id}:{sha}", chain.head(conn)[1])
    cacheable = sha is not None and not calendar.files  # calendar files are the caller's: not part of the key
    if cacheable:
        with _lock:
            found = _traces.get(key)
            if found is not None:
                _traces.move_to_end(key)
                return plan_id, found
    pid, plan = planning.load_plan(conn, plan_id)
    trace = publishing.trace_of(conn, pid, plan, calendar)
    if cacheable:
        with _lock:
            _traces[key] = trace
            while len(_traces) > CACHED:
                _traces.popitem(last=False)
    return pid, trace


def plan_trail(
    conn: Connection,
    plan_id: str,
    calendar: WorkCalendar,
    query: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> TrailPage:
    """The trail of plan `plan_id`: the whole plan's summary, and page `page` of the visits the search matches."""
    pid, trace = cached_trace(conn, plan_id, calendar)
    rows: Sequence[TraceRow] = trace.rows
    if query is not None:
        wanted = matching_subjects(conn, pid, query, [r.uscc for r in rows])
        rows = [r for r in rows if r.uscc in wanted]
    shown = rows[(page - 1) * per_page : page * per_page]
    names = publishing.subject_names(conn, {r.uscc for r in shown})
    return TrailPage(
        pid,
        trace.summary(),
        query,
        tuple(TrailRow(r, names.get(r.uscc)) for r in shown),
        len(rows),
        page,
        per_page,
    )
