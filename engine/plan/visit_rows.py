"""A committed plan's visits as rows of `plan_visit`: what results, the schedule, "my list" and the web app refer to.

The plan's canonical document (and its hash in the ledger) stays the record; the rows are derived from it and can be
rebuilt from it at any time, so writing them never touches the ledger or the document. A plan committed by a release
before migration 0006 has no rows: `ensure_visit_rows` builds them from its stored document the first time they are
needed. Plans in the `suijian.plan/1` format have no schedule: their rows have no `scheduled_on`, and `due_on` is the
end of the visit's due window (`due_to`).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.ledger import runs
from engine.plan.model import Plan, Visit
from entities import store
from entities.errors import InputError

PLANNED = "planned"
TABLE = "plan_visit"
_PLAIN = re.compile(r"[A-Za-z0-9._/#-]+")


def visit_row(plan_id: str, visit: Visit) -> dict[str, Any]:
    """The `plan_visit` row of one visit (status planned)."""
    return {
        "plan_id": plan_id,
        "visit_id": visit.id,
        "uscc": visit.uscc,
        "region": visit.region,
        "items": list(visit.item_codes),
        "team": list(visit.team),  # lead first, as the plan has it
        "lead": visit.lead,
        "scheduled_on": visit.scheduled_on,
        "due_on": visit.due_on if visit.due_on is not None else visit.due_to,
        "status": PLANNED,
    }


def visit_rows(plan_id: str, plan: Plan) -> list[dict[str, Any]]:
    """One row per visit of the plan, in the plan's order."""
    return [visit_row(plan_id, v) for v in plan.visits]


def write_visit_rows(conn: Connection, plan_id: str, plan: Plan) -> int:
    """Insert the rows of a plan being committed (same transaction as its plan row); returns how many."""
    rows = visit_rows(plan_id, plan)
    store.bulk_insert(conn, TABLE, rows)
    return len(rows)


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
    return write_visit_rows(conn, plan_id, Plan.from_json(doc.text))


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
