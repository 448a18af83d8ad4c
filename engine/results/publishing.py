"""公示 of recorded results in the store: what is due (the 20-working-day clock), and a publication run — the upload
files (XLSX, CSV), what they carried (publication_item) and a `publication` ledger entry hashing both.

A visit's result is published when its version in force is; a correction after publication makes it due again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.ledger import canonical, chain, runs
from engine.plan.calendar import WorkCalendar
from engine.plan.model import Plan
from engine.results import publication, records
from engine.results.codes import ResultCodes, default_codes
from engine.results.model import VisitResult, current_by_visit
from engine.results.trace import PublishedOn, Trace, plan_trace
from entities import store
from entities.errors import InputError
from entities.identity import Identity

LEDGER_KIND = "publication"
SCHEME = "suijian.publication/1"
AUTHORITY_SUFFIX = "市场监督管理局"


def current_results(conn: Connection, plan_id: str | None = None) -> list[VisitResult]:
    """The version in force of every recorded visit result (of one plan), by plan and visit."""
    held = current_by_visit(records.stored_results(conn, plan_id=plan_id))
    return [held[k] for k in sorted(held)]


def published_versions(conn: Connection, plan_id: str | None = None) -> dict[tuple[str, str], tuple[int, dt.date]]:
    """(plan, visit) → (the newest published version, the day it was first published)."""
    t, p = store.table("publication_item"), store.table("publication")
    stmt = sa.select(t.c.plan_id, t.c.visit_id, t.c.version, p.c.published_on).join(p, p.c.id == t.c.publication_id)
    if plan_id is not None:
        stmt = stmt.where(t.c.plan_id == plan_id)
    out: dict[tuple[str, str], tuple[int, dt.date]] = {}
    for r in conn.execute(stmt.order_by(p.c.published_on, t.c.version)):
        key = (r.plan_id, r.visit_id)
        held = out.get(key)
        out[key] = (max(int(r.version), held[0]) if held else int(r.version), held[1] if held else r.published_on)
    return out


def due(
    conn: Connection, calendar: WorkCalendar, as_of: dt.date, *, plan_id: str | None = None
) -> list[publication.Due]:
    """Results whose version in force is unpublished, overdue first, with deadline and working days left."""
    results = current_results(conn, plan_id)
    done = published_versions(conn, plan_id)
    published = {r.key for r in results if r.key in done and done[r.key][0] >= r.version}
    return publication.due(results, published, calendar, as_of)


@dataclass(frozen=True)
class Published:
    id: str | None
    records: list[publication.PublicationRecord]
    csv: bytes
    xlsx: bytes
    on_time: int
    late: int
    ledger_seq: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "publication": self.id,
            "records": len(self.records),
            "on_time": self.on_time,
            "late": self.late,
            "ledger_seq": self.ledger_seq,
        }


def plan_infos(conn: Connection, plan_ids: Iterable[str], authority: str | None) -> dict[str, publication.PlanInfo]:
    """Number, name and inspecting authority of each plan: the authority given, or the region's 市场监督管理局."""
    p, r = store.table("plan"), store.table("region")
    out = {}
    for pid in sorted(set(plan_ids)):
        row = conn.execute(sa.select(p.c.id, p.c.period, p.c.regions).where(p.c.id == pid)).first()
        if row is None:
            raise InputError(f"plan {pid} is not in the store")
        region_codes = [c for c in str(row.regions).split(",") if c and c != "*"]
        if not region_codes:  # a plan of the whole store: the counties its visits are in
            v = store.table("plan_visit")
            visited = conn.execute(sa.select(v.c.region).where(v.c.plan_id == pid).distinct())
            region_codes = sorted({str(code)[:6] for (code,) in visited})
        names = (
            [n for (n,) in conn.execute(sa.select(r.c.name).where(r.c.code.in_(region_codes)))] if region_codes else []
        )
        who = authority or ("、".join(sorted(names)) + AUTHORITY_SUFFIX if names else "")
        if not who:
            raise InputError(f"plan {pid} names no region; give the inspecting authority with --authority")
        out[pid] = publication.PlanInfo(number=pid, name=f"{row.period} 双随机抽查计划", authority=who)
    return out


def subject_names(conn: Connection, usccs: Iterable[str]) -> dict[str, str]:
    frame = runs.subject_info(conn, usccs, columns=("uscc", "name"))
    return dict(zip(frame["uscc"].to_list(), frame["name"].to_list(), strict=True))


def items_hash(rows: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 of a publication's items (scheme SCHEME): what audit verify recomputes from publication_item."""
    ordered = sorted(
        (
            {
                "plan_id": r["plan_id"],
                "visit_id": r["visit_id"],
                "version": int(r["version"]),
                "uscc": r["uscc"],
                "completed_on": _iso(r["completed_on"]),
                "deadline": _iso(r["deadline"]),
                "result_codes": list(r["result_codes"]),
                "on_time": bool(r["on_time"]),
            }
            for r in rows
        ),
        key=lambda d: (d["plan_id"], d["visit_id"]),
    )
    return hashlib.sha256(canonical.canon_json(ordered).encode("utf-8")).hexdigest()


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]


def publish(
    conn: Connection,
    calendar: WorkCalendar,
    *,
    published_on: dt.date,
    actor: Identity,
    created_at: dt.datetime,
    plan_id: str | None = None,
    until: dt.date | None = None,
    authority: str | None = None,
    codes: ResultCodes | None = None,
) -> Published:
    """Publish every unpublished result (of one plan, completed by `until`): files, rows and a ledger entry.

    Nothing is written when there is nothing to publish."""
    table = codes if codes is not None else default_codes()
    chain.lock(conn)
    pending = {d.key: d for d in due(conn, calendar, published_on, plan_id=plan_id)}
    chosen = [r for r in current_results(conn, plan_id) if r.key in pending]
    if until is not None:
        chosen = [r for r in chosen if r.completed_on <= until]
    early = [r for r in chosen if r.completed_on > published_on]
    if early:
        raise InputError(
            f"visit {early[0].visit_id}: completed {early[0].completed_on}, after the publication date {published_on}; "
            "pass --until or a later --published-on"
        )
    plans = plan_infos(conn, {r.plan_id for r in chosen}, authority)
    names = subject_names(conn, {r.uscc for r in chosen})
    recs = publication.publication_records(chosen, plans, names, published_on, codes=table)
    csv_bytes = publication.to_csv(recs)
    xlsx_bytes = publication.to_xlsx(recs, published_on=published_on)
    if not recs:
        return Published(None, [], csv_bytes, xlsx_bytes, 0, 0, None)
    by_key = {r.key: r for r in chosen}
    rows = []
    for rec in recs:
        d = pending[(rec.plan_id, rec.visit_id)]
        rows.append(
            {
                "plan_id": rec.plan_id,
                "visit_id": rec.visit_id,
                "version": by_key[(rec.plan_id, rec.visit_id)].version,
                "uscc": rec.uscc,
                "completed_on": rec.completed_on,
                "deadline": d.deadline,
                "result_codes": list(rec.result_codes),
                "on_time": published_on <= d.deadline,
            }
        )
    digest = items_hash(rows)
    csv_sha, xlsx_sha = hashlib.sha256(csv_bytes).hexdigest(), hashlib.sha256(xlsx_bytes).hexdigest()
    pid = "PUB-" + hashlib.sha256(f"{digest}|{published_on.isoformat()}".encode()).hexdigest()[:20]
    store.bulk_insert(
        conn,
        "publication",
        [
            {
                "id": pid,
                "published_on": published_on,
                "published_by": actor.user,
                "plan_id": plan_id,
                "until": until,
                "records": len(rows),
                "csv_sha256": csv_sha,
                "xlsx_sha256": xlsx_sha,
                "created_at": created_at.replace(microsecond=0),
            }
        ],
    )
    store.bulk_insert(conn, "publication_item", [{**r, "publication_id": pid} for r in rows])
    on_time = sum(1 for r in rows if r["on_time"])
    entry = chain.append(
        conn,
        run_id=pid,
        kind=LEDGER_KIND,
        actor=actor,
        created_at=created_at,
        as_of=published_on,
        outputs_hash=digest,
        details={
            "scheme": SCHEME,
            "plan_id": plan_id,
            "until": until.isoformat() if until else None,
            "records": len(rows),
            "on_time": on_time,
            "csv_sha256": csv_sha,
            "xlsx_sha256": xlsx_sha,
        },
    )
    return Published(pid, recs, csv_bytes, xlsx_bytes, on_time, len(rows) - on_time, entry.seq)


def latest_publications(conn: Connection, plan_id: str) -> dict[str, PublishedOn]:
    """The latest publication of each visit of a plan (its day, deadline and whether it was on time), by visit id."""
    p, i = store.table("publication"), store.table("publication_item")
    stmt = (
        sa.select(i.c.visit_id, p.c.published_on, i.c.deadline, i.c.on_time)
        .join(p, p.c.id == i.c.publication_id)
        .where(i.c.plan_id == plan_id)
        .order_by(i.c.visit_id, p.c.published_on)
    )
    out: dict[str, PublishedOn] = {}
    for visit_id, published_on, deadline, on_time in conn.execute(stmt):
        out[str(visit_id)] = PublishedOn(
            published_on=_day(published_on), deadline=_day(deadline), on_time=bool(on_time)
        )
    return out


def trace_of(conn: Connection, plan_id: str, plan: Plan, calendar: WorkCalendar) -> Trace:
    """The auditor's trace of a stored plan: its visits, their results in force and their latest publication."""
    results = {r.visit_id: r for r in current_results(conn, plan_id)}
    return plan_trace(plan, results, latest_publications(conn, plan_id), calendar)


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
