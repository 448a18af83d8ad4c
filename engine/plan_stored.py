"""A stored plan for the task lists, read in bounded memory: the plan without its visits, and the visits as columns.

`engine.planning.load_plan` gives the whole plan as objects, which for a city (some 600,000 visits) is gigabytes
held at once. The lists need the visits only as rows to write, so here the document is unzipped, hashed and parsed
a piece at a time (engine.ledger.plan_reader), every batch of visits becoming a frame (engine.plan.export's
VISIT_SCHEMA) as soon as it is read. The refusals are load_plan's: no such plan, or a document that no longer
matches its hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from engine.ledger import plan_columns, plan_reader, runs
from engine.plan.export import VISIT_SCHEMA, visit_frame
from engine.plan.model import Plan
from entities.errors import InputError


@dataclass(frozen=True)
class StoredPlan:
    """A stored plan: `plan` is everything but its visits (plan.visits is empty), `visits` holds them."""

    id: str
    plan: Plan
    visits: pl.DataFrame

    @property
    def scheduled(self) -> bool:
        """Whether any visit has a scheduled day (a suijian.plan/1 plan has none)."""
        return self.visits.get_column("scheduled_on").null_count() < self.visits.height

    def usccs(self) -> set[str]:
        """Every subject the plan names: visited, uncovered or unstaffed."""
        dropped = (*self.plan.uncovered, *self.plan.unstaffed)
        return set(self.visits.get_column("uscc").to_list()) | {d.uscc for d in dropped}


def load(conn: Connection, plan_id: str | None) -> StoredPlan:
    """The stored plan `plan_id`, or the newest one; one line if there is none or its document was altered."""
    found = runs.plan_blob(conn, plan_id)
    if found is None:
        raise InputError(
            f"no plan {plan_id}; make one with `suijian plan`"
            if plan_id
            else "no plan in the store; run `suijian plan` first"
        )
    pid, blob, sha256 = found
    altered = InputError(f"plan {pid}: its stored document does not match its hash; run `suijian audit verify`")
    parts: list[pl.DataFrame] = []
    if plan_columns.is_columnar(blob):
        return _columnar(pid, blob, sha256, altered)

    def keep(batch: list[dict[str, Any]]) -> None:
        parts.append(visit_frame(batch))

    try:
        read = plan_reader.read(blob, keep)
    except plan_reader.Unreadable:
        raise altered from None
    if read.digest != sha256 or read.header is None or read.visits is None:
        raise altered
    return _stored(pid, read.header, parts, altered)


def list_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """A plan/3 visits frame (engine.ledger.plan_columns.VISIT_COLUMNS) as the lists read it (VISIT_SCHEMA: dates
    as the ISO text a plan/2 document holds)."""
    dates = {"due_from", "due_to", "scheduled_on"}
    return frame.select(
        [pl.col(c).dt.to_string("%Y-%m-%d").alias(c) if c in dates else pl.col(c) for c in VISIT_SCHEMA]
    ).cast(VISIT_SCHEMA)  # type: ignore[arg-type]


def _columnar(pid: str, blob: bytes, sha256: str, altered: InputError) -> StoredPlan:
    """A plan/3 document: its visits' row groups kept as the lists' columns, the whole hashed as it is read."""
    parts: list[pl.DataFrame] = []
    try:
        read = plan_columns.read(blob, lambda f: parts.append(list_columns(f)))
    except plan_columns.DocumentUnreadable:
        raise altered from None
    if read.digest != sha256 or read.header is None:
        raise altered
    return _stored(pid, read.header, parts, altered)


def _stored(pid: str, header: dict[str, Any], parts: list[pl.DataFrame], altered: InputError) -> StoredPlan:
    """The plan from its document's head (without visits) and the visits' frames, as either document kind reads."""
    try:
        plan = Plan.from_dict({**header, plan_reader.VISITS: []})
    except (KeyError, TypeError, ValueError):
        raise altered from None
    visits = pl.concat(parts) if parts else pl.DataFrame(schema=VISIT_SCHEMA)
    return StoredPlan(pid, plan, visits)
