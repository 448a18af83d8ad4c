"""Tampering with a stored plan document in tests, whichever kind it is: a plan/1 or /2 zlib text, or a plan/3
container (engine.ledger.plan_columns), edited through the plan's canonical text."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable

import polars as pl

from engine.ledger import plan_columns
from engine.ledger.plan_columns import VISIT_COLUMNS
from engine.plan.model import Visit, visit_frame


def text_of(blob: bytes) -> str:
    """The stored plan's canonical JSON text (a plan/3 document as plan/2's rules write it)."""
    if plan_columns.is_columnar(blob):
        return plan_columns.document_text(bytes(blob))[0]
    return zlib.decompress(bytes(blob)).decode("utf-8")


def rewrite(blob: bytes, edit: Callable[[str], str]) -> tuple[bytes, str]:
    """The stored document with its text edited, stored as the same kind; (bytes, their hash as a reader gets it)."""
    text = edit(text_of(blob))
    if not plan_columns.is_columnar(blob):
        return zlib.compress(text.encode("utf-8")), hashlib.sha256(text.encode("utf-8")).hexdigest()
    doc = json.loads(text)
    visits = [Visit.from_dict(v) for v in doc.pop("visit_list")]
    written = plan_columns.write(doc, [visit_frame(visits)])
    return written.data, written.sha256


def naive_visit_frame(visits: list[Visit]) -> pl.DataFrame:
    """The reference for engine.plan.model.visit_frame: every column from the visits' Python values, as it was
    built before it was built from flat columns."""
    rows = {
        "id": [v.id for v in visits],
        "uscc": [v.uscc for v in visits],
        "region": [v.region for v in visits],
        "items": [[i.to_dict() for i in v.items] for v in visits],
        "team": [list(v.team) for v in visits],
        "lead": [v.lead for v in visits],
        "experts": [list(v.experts) for v in visits],
        "due_from": [v.due_from for v in visits],
        "due_to": [v.due_to for v in visits],
        "priority": [v.priority for v in visits],
        "risk": [v.risk for v in visits],
        "previous_leads": [list(v.previous_leads) for v in visits],
        "lead_repeats": [v.lead_repeats for v in visits],
        "scheduled_on": [v.scheduled_on for v in visits],
        "due_on": [v.due_on if v.scheduled_on is not None else None for v in visits],
        "index": [v.index if v.scheduled_on is not None else None for v in visits],
        "count": [v.count if v.scheduled_on is not None else None for v in visits],
    }
    return pl.DataFrame(rows, schema=VISIT_COLUMNS)
