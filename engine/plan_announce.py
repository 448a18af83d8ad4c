"""A stored plan's 公示 document, read from the store as `suijian publish plan` and the web app's export give it.

    found = announcement_of(conn, None)        # the newest plan; announcement.to_xlsx(found.sheets, stamp=day)

The draw's public facts (items, strata, cut-off tickets, drawn subjects, seed and its commitment) with the ledger
entry and head that let anyone check it with the public consistent-sampler package. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from engine import planning
from engine.ledger import chain
from engine.plan import Plan, announcement


@dataclass(frozen=True)
class Announcement:
    plan_id: str
    plan: Plan
    commitment: dict[str, Any] | None  # the seed commitment the draw revealed: run id and seed SHA-256
    sheets: announcement.Sheets


def announcement_of(conn: Connection, plan_id: str | None) -> Announcement:
    """The 公示 of the plan `plan_id`, or of the newest plan."""
    pid, plan = planning.load_plan(conn, plan_id)
    entry = chain.find(conn, pid)
    head = chain.head(conn)
    commitment = None
    committed = entry.details.get("seed_commitment") if entry is not None else None
    if committed:
        c = chain.find(conn, str(committed))
        if c is not None:
            commitment = {"run_id": c.run_id, "seed_sha256": c.details.get("seed_sha256")}
    names = dict(planning.plan_subject_details(conn, plan).select("uscc", "name").iter_rows())
    ledger = {
        "seq": entry.seq if entry is not None else None,
        "entry_hash": entry.entry_hash if entry is not None else None,
        "pack": entry.get("pack") if entry is not None else None,
        "head_seq": head[0],
        "head_hash": head[1],
    }
    sheets = announcement.announcement(plan, plan_id=pid, ledger=ledger, commitment=commitment, names=names)
    return Announcement(pid, plan, commitment, sheets)
