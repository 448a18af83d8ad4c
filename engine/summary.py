"""What the store holds, at a glance: counts per entity, subjects, special equipment, lists and inspectors.

Plain data (dicts of str/int), computed with set-based SQL, so `suijian demo` and later commands can render it
as tables or JSON. Values are the English codes; the CLI maps them to Chinese labels.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from entities import store
from entities.enums import PUBLIC_GATHERING

ENTITY_TABLES = (
    "subject",
    "licence",
    "list_entry",
    "penalty",
    "complaint",
    "check_result",
    "equipment",
    "accident",
    "food_business",
    "device_business",
    "inspector",
    "conflict",
    "check_item",
    "region",
)


def summarise(engine: Engine, as_of: dt.date) -> dict[str, Any]:
    """The store's contents as of a date (overdue equipment and current list memberships depend on it)."""
    with engine.connect() as conn:
        return {
            "as_of": as_of.isoformat(),
            "counts": {name: store.count_rows(conn, name) for name in ENTITY_TABLES},
            "subjects": _subjects(conn),
            "equipment": _equipment(conn, as_of),
            "lists": _lists(conn, as_of),
            "inspectors": _inspectors(conn),
        }


def _subjects(conn: Connection) -> dict[str, Any]:
    t = store.table("subject")
    by_kind_status: dict[str, dict[str, int]] = {}
    for kind, status, n in conn.execute(
        sa.select(t.c.kind, t.c.status, sa.func.count()).group_by(t.c.kind, t.c.status)
    ):
        by_kind_status.setdefault(kind, {})[status] = int(n)
    flags = conn.execute(
        sa.select(
            sa.func.count().filter(t.c.whitelist.is_(True)),
            sa.func.count().filter(t.c.lenient.is_(True)),
        )
    ).one()
    return {
        "by_kind_status": {k: dict(sorted(v.items())) for k, v in sorted(by_kind_status.items())},
        "whitelist": int(flags[0]),
        "lenient": int(flags[1]),
    }


def _equipment(conn: Connection, as_of: dt.date) -> dict[str, Any]:
    t = store.table("equipment")
    overdue = sa.and_(t.c.next_due_on.is_not(None), t.c.next_due_on < as_of)
    public = t.c.location_type.in_(sorted(PUBLIC_GATHERING))
    by_category: dict[str, dict[str, int]] = {}
    query = sa.select(
        t.c.category,
        sa.func.count(),
        sa.func.count().filter(overdue),
        sa.func.count().filter(public),
        sa.func.count().filter(t.c.open_hidden_dangers > 0),
    ).group_by(t.c.category)
    for category, total, late, pub, danger in conn.execute(query):
        by_category[category] = {
            "total": int(total),
            "overdue": int(late),
            "public": int(pub),
            "hidden_dangers": int(danger),
        }
    units = conn.execute(sa.select(sa.func.count(sa.distinct(t.c.user_uscc)))).scalar_one()
    return {
        "by_category": dict(sorted(by_category.items(), key=lambda kv: -kv[1]["total"])),
        "total": sum(v["total"] for v in by_category.values()),
        "overdue": sum(v["overdue"] for v in by_category.values()),
        "user_units": int(units),
    }


def _lists(conn: Connection, as_of: dt.date) -> dict[str, Any]:
    t = store.table("list_entry")
    current = sa.and_(t.c.listed_on <= as_of, sa.or_(t.c.removed_on.is_(None), t.c.removed_on > as_of))
    result: dict[str, Any] = {}
    query = sa.select(
        t.c.list_name,
        sa.func.count(),
        sa.func.count().filter(current),
        sa.func.count(sa.distinct(sa.case((current, t.c.uscc)))),
    ).group_by(t.c.list_name)
    for name, entries, now, subjects in conn.execute(query):
        result[name] = {"entries": int(entries), "current": int(now), "subjects_current": int(subjects)}
    return dict(sorted(result.items()))


def _inspectors(conn: Connection) -> dict[str, Any]:
    t = store.table("inspector")
    total = certified = 0
    qualifications: Counter[str] = Counter()
    # The roster is small (one inspector per few hundred subjects), so reading it is cheap; qualifications
    # are a JSON list, which SQLite and PostgreSQL cannot group alike.
    for certificate, quals in conn.execute(sa.select(t.c.certificate_no, t.c.qualifications)):
        total += 1
        certified += certificate is not None
        qualifications.update(quals or [])
    conflicts = store.count_rows(conn, "conflict")
    return {
        "total": total,
        "certified": certified,
        "experts": total - certified,
        "by_qualification": dict(sorted(qualifications.items(), key=lambda kv: (-kv[1], kv[0]))),
        "conflicts": conflicts,
    }
