"""The visit rows of committed plans in the store (`plan_visit`): written with the plan, rebuilt for older plans,
read for "my list", the task exports and the calendar files.

A plan committed by a release before migration 0006 has no rows: `ensure_visit_rows` builds them from its stored
document the first time they are needed, never touching the ledger or the document. Which row a visit makes is
engine.plan.visit_rows' (pure) business.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.ledger import runs
from engine.plan.model import Plan
from engine.plan.visit_rows import COLUMNS, visit_tuples
from entities import store
from entities.errors import InputError
from entities.models import InspectorCreate

TABLE = "plan_visit"
_PLAIN = re.compile(r"[A-Za-z0-9._/#-]+")


def write_visit_rows(conn: Connection, plan_id: str, plan: Plan) -> int:
    """Insert the rows of a plan being committed (same transaction as its plan row); returns how many.

    Plain tuples (store.bulk_insert_tuples), each value as the table's column type writes it: a dict per row
    through SQLAlchemy's insert cost 10 CPU s for a city's 321,084 visits, a third of the plan's commit."""
    t = store.table(TABLE)
    types = [t.c[c].type for c in COLUMNS]
    if conn.dialect.name == "postgresql":  # COPY takes dates as they are and JSON as text (store._copy_rows')
        encode = [_json_text if isinstance(k, sa.JSON) else None for k in types]
    else:  # what the column types bind on this dialect (SQLite: JSON text and ISO dates), so the same rows
        encode = [k.bind_processor(conn.dialect) for k in types]
    rows = (
        tuple(v if f is None or v is None else f(v) for f, v in zip(encode, row, strict=True))
        for row in visit_tuples(plan_id, plan)
    )
    return store.bulk_insert_tuples(conn, TABLE, COLUMNS, rows)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def count_visit_rows(conn: Connection, plan_id: str) -> int:
    t = store.table(TABLE)
    return int(conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.plan_id == plan_id)).scalar_one())


def ensure_visit_rows(conn: Connection, plan_id: str) -> int:
    """Make sure the stored plan `plan_id` has its visit rows; build them from its document if it has none.

    Returns the number of rows written (0 when they were there already). A document that does not match its hash is
    refused (one line naming `audit verify`): rows are only ever derived from an intact record.
    """
    if count_visit_rows(conn, plan_id):
        return 0
    doc = runs.plan_document(conn, plan_id)
    if doc is None:
        raise InputError(f"no plan {plan_id}; make one with `suijian plan`")
    if doc.text is None or not doc.intact:
        raise InputError(f"plan {doc.id}: its stored document does not match its hash; run `suijian audit verify`")
    plan = Plan.from_json(doc.text)
    # Another command may build the same rows at the same moment (two inspectors opening their lists): the first
    # one's rows stand, and the unique key turns the second write into "already there".
    duplicate = (
        (sa.exc.IntegrityError, conn.dialect.dbapi.IntegrityError) if conn.dialect.dbapi else sa.exc.IntegrityError
    )
    try:
        with conn.begin_nested():
            return write_visit_rows(conn, plan_id, plan)
    except duplicate:
        return 0


def read_visit_rows(
    conn: Connection, plan_id: str, *, team_member: str | None = None, statuses: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    """The rows of a plan (those whose team includes `team_member`, if given), by scheduled day then visit id.

    JSON list containment is written differently in SQLite and PostgreSQL, so the store only narrows the rows down
    by the team's JSON text (a plain id — letters, digits, . _ - / # — appears in it as "<id>" on both; other
    characters may be escaped) and the exact membership test is made here.
    """
    t = store.table(TABLE)
    stmt = sa.select(t).where(t.c.plan_id == plan_id)
    if statuses:
        stmt = stmt.where(t.c.status.in_(statuses))
    if team_member is not None and _PLAIN.fullmatch(team_member):
        quoted = '"' + team_member.replace("_", "!_") + '"'
        stmt = stmt.where(sa.cast(t.c.team, sa.Text).like(f"%{quoted}%", escape="!"))
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
    if team_member is not None:
        rows = [r for r in rows if team_member in r["team"]]
    rows.sort(key=lambda r: (r["scheduled_on"] is None, r["scheduled_on"] or r["due_on"], r["due_on"], r["visit_id"]))
    return rows


# ── who and what, for "my list" ──────────────────────────────────────────────────────────────────────────────────
def inspector_by_user(conn: Connection, user: str) -> InspectorCreate | None:
    """The inspector whose 登录账号 is `user` (the one person ↔ inspector link), or None."""
    t = store.table("inspector")
    row = conn.execute(sa.select(t).where(t.c.user_name == user)).mappings().first()
    return None if row is None else InspectorCreate.model_validate(dict(row))


def find_inspector(conn: Connection, text: str) -> InspectorCreate | None:
    """The inspector with roster id `text`, else the one whose 登录账号 is `text`, else None."""
    t = store.table("inspector")
    row = conn.execute(sa.select(t).where(t.c.id == text)).mappings().first()
    if row is not None:
        return InspectorCreate.model_validate(dict(row))
    return inspector_by_user(conn, text)


def _names(conn: Connection, table: str, key: str, values: set[str], column: str = "name") -> dict[str, str]:
    t = store.table(table)
    found: dict[str, str] = {}
    wanted = sorted(values)
    for start in range(0, len(wanted), 900):
        chunk = wanted[start : start + 900]
        found.update((k, v) for k, v in conn.execute(sa.select(t.c[key], t.c[column]).where(t.c[key].in_(chunk))))
    return found


def with_names(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with what people read: township (街镇) name, subject name and address, item names, team names."""
    regions = _names(conn, "region", "code", {r["region"] for r in rows})
    subjects = _names(conn, "subject", "uscc", {r["uscc"] for r in rows})
    addresses = _names(conn, "subject", "uscc", {r["uscc"] for r in rows}, "address")
    items = _names(conn, "check_item", "code", {c for r in rows for c in r["items"]})
    people = _names(conn, "inspector", "id", {p for r in rows for p in r["team"]})
    return [
        {
            **r,
            "township": regions.get(r["region"], r["region"]),
            "subject": subjects.get(r["uscc"], r["uscc"]),
            "address": addresses.get(r["uscc"], ""),
            "item_names": [items.get(c, c) for c in r["items"]],
            "team_names": [people.get(p, p) for p in r["team"]],
        }
        for r in rows
    ]


def plan_row(conn: Connection, plan_id: str | None) -> tuple[str, dt.datetime]:
    """(id, created_at) of the plan `plan_id`, or of the newest plan; one line saying what to do when there is none."""
    t = store.table("plan")
    stmt = sa.select(t.c.id, t.c.created_at)
    stmt = stmt.where(t.c.id == plan_id) if plan_id else stmt.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(1)
    row = conn.execute(stmt).first()
    if row is None:
        raise InputError(
            f"no plan {plan_id}; make one with `suijian plan`"
            if plan_id
            else "no plan in the store; run `suijian plan` first"
        )
    return str(row.id), row.created_at
