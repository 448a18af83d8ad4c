"""The supervisor's dashboard as plain data: how far the plan has got, how its capacity is used, what it could not
cover, which results are due or overdue for 公示, and which follow-ups wait for a decision.

    dashboard(conn, calendar, as_of, plan_id=None) -> dict
    cached_dashboard(conn, calendar, as_of, plan_id=None) -> dict   (the same, computed once per store state)

Every figure comes from the engine function behind the CLI command that shows it — `suijian audit trace` (coverage),
`suijian plan --json` (capacity, shortfalls), `suijian results due` (the 20-working-day clock) and
`suijian followups list --open` — so the web page and the terminal never disagree. Reading a city's plan takes
seconds, so `cached_dashboard` keeps the result for as long as the store is unchanged: every result batch,
publication, plan and decision moves the ledger head, and follow-up proposals (stored without a ledger entry) are
counted into the key too.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter, OrderedDict
from collections.abc import Hashable
from typing import Any

from sqlalchemy.engine import Connection

from engine import planning
from engine.ledger import chain
from engine.plan.calendar import WorkCalendar
from engine.results import followup_store, followups, publishing
from entities import store

SHOWN_DUE = 50  # rows of the due list on the page (the API gives them all)
SOON_DAYS = 5  # working days left that count as "due soon"
CACHE_SIZE = 16


def dashboard(conn: Connection, calendar: WorkCalendar, as_of: dt.date, plan_id: str | None = None) -> dict[str, Any]:
    """Everything the supervisor's dashboard shows, as of a date, for one plan (default: the newest)."""
    return {
        "as_of": as_of.isoformat(),
        "plan": _plan(conn, calendar, as_of, plan_id),
        "due": _due(conn, calendar, as_of),
        "followups": _followups(conn),
    }


def _plan(conn: Connection, calendar: WorkCalendar, as_of: dt.date, plan_id: str | None) -> dict[str, Any] | None:
    if plan_id is None and not store.count_rows(conn, "plan"):
        return None  # no plan yet: the page says so and offers to draw one
    pid, plan = planning.load_plan(conn, plan_id)
    summary = plan.summary()
    trace = publishing.trace_of(conn, pid, plan, calendar)
    coverage = trace.summary()
    # Visits whose scheduled day has come: those the inspectors should have a result for by now.
    coverage["visits_scheduled_by_as_of"] = sum(
        1 for r in trace.rows if r.scheduled_on is not None and r.scheduled_on <= as_of
    )
    coverage["visits_scheduled_by_as_of_without_result"] = sum(
        1 for r in trace.rows if r.scheduled_on is not None and r.scheduled_on <= as_of and r.completed_on is None
    )
    return {
        "id": pid,
        "period": summary["period"],
        "as_of": summary["as_of"],
        "seed": summary["seed"],
        "regions": summary["regions"],
        "fitted": plan.fitted,
        "coverage": coverage,
        "items": [
            {"code": i["code"], "name": i["name"], "quota": i["quota"], "drawn": i["drawn_count"]}
            for i in summary["items"]
        ],
        "visits": summary["visits"],
        "capacity": summary["team_load"],
        "schedule": summary.get("schedule"),
        "shortfalls": _shortfalls(summary),
    }


def _shortfalls(summary: dict[str, Any]) -> dict[str, Any]:
    """What the plan could not cover: per layer of a fitted plan (riskiest first, as the plan lists them), and the
    visits left uncovered or unstaffed by reason."""
    layers = [
        {
            "name": layer["name"],
            "demand": layer["demand"],
            "covered": layer["covered"],
            "shortfall": layer["shortfall"],
            "left_out": layer["left_out"][:5],
        }
        for layer in (summary.get("fit") or {}).get("layers", [])
    ]
    dropped = {
        key: {k: summary[key][k] for k in ("entries", "subject_items", "mandatory_subject_items", "by_reason")}
        for key in ("uncovered", "unstaffed")
    }
    return {"layers": layers, **dropped}


def _due(conn: Connection, calendar: WorkCalendar, as_of: dt.date) -> dict[str, Any]:
    pending = publishing.due(conn, calendar, as_of)
    return {
        "pending": len(pending),
        "overdue": sum(d.overdue for d in pending),
        "soon": sum(1 for d in pending if not d.overdue and d.days_left <= SOON_DAYS),
        "soon_days": SOON_DAYS,
        "rows": [d.as_dict() for d in pending],
    }


def _followups(conn: Connection) -> dict[str, Any]:
    waiting = followup_store.listing(conn, open_only=True)
    kinds = Counter(r.proposal["kind"] for r in waiting)
    return {
        "waiting": len(waiting),
        "listing_proposals": kinds.get(followups.ProposalKind.LIST_ABNORMAL.value, 0),
        "by_kind": {k: {"label": followups.ProposalKind(k).label, "count": n} for k, n in sorted(kinds.items())},
        "rows": [
            {
                "id": r.proposal["id"],
                "kind": r.proposal["kind"],
                "label": followups.ProposalKind(r.proposal["kind"]).label,
                "uscc": r.proposal["uscc"],
                "basis": r.proposal["basis"],
            }
            for r in waiting
        ],
    }


# ── the cache ────────────────────────────────────────────────────────────────────────────────────────────────

_cache: OrderedDict[Hashable, dict[str, Any]] = OrderedDict()
_lock = threading.Lock()


def state_key(conn: Connection) -> tuple[Hashable, ...]:
    """What identifies the store's state for the dashboard: its URL, the ledger head, and the counts of the rows
    written without a ledger entry of their own (follow-up proposals)."""
    seq, digest = chain.head(conn)
    url = conn.engine.url.render_as_string(hide_password=True)
    return (url, seq, digest, store.count_rows(conn, "followup_proposal"), store.count_rows(conn, "followup_decision"))


def cached_dashboard(
    conn: Connection, calendar: WorkCalendar, as_of: dt.date, plan_id: str | None = None
) -> dict[str, Any]:
    """`dashboard`, computed once per store state, date and plan (the newest CACHE_SIZE kept)."""
    key = (*state_key(conn), as_of, plan_id, calendar.version)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    found = dashboard(conn, calendar, as_of, plan_id)
    with _lock:
        _cache[key] = found
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return found
