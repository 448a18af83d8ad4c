"""What `audit verify` checks of results, publications and follow-up decisions: each ledger entry against the rows it
vouches for (recomputed hashes), and each batch, publication and decision in the store against its entry.

Findings come back as (code, message, run id) triples; engine.audit turns them into its Problems.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.results import followup_store, publishing, recheck_store, rechecks, records
from entities import store

Finding = tuple[str, str, str]  # (problem code, message, run id)
KINDS = (records.LEDGER_KIND, publishing.LEDGER_KIND, followup_store.LEDGER_KIND, recheck_store.LEDGER_KIND)


def entry_findings(conn: Connection, kind: str, name: str, run_id: str, body: Mapping[str, Any]) -> list[Finding]:
    """Problems of one results / publication / decision entry (`name` is how audit names the entry)."""
    if kind == records.LEDGER_KIND:
        return _batch(conn, name, run_id, body)
    if kind == publishing.LEDGER_KIND:
        return _publication(conn, name, run_id, body)
    if kind == followup_store.LEDGER_KIND:
        return _decision(conn, name, run_id, body)
    if kind == recheck_store.LEDGER_KIND:
        return _recheck(conn, name, run_id, body)
    return []


def _recheck(conn: Connection, name: str, run_id: str, body: Mapping[str, Any]) -> list[Finding]:
    """A re-check scheduling run: its re-check rows (team, day, window, what they re-check) against the entry."""
    rows = recheck_store.run_rows(conn, run_id)
    if not rows:
        return [("recheck", f"{name}: re-checks missing: no recheck_visit row of run {run_id}", run_id)]
    out = []
    if len(rows) != (body.get("details") or {}).get("rechecks"):
        out.append(("recheck", f"{name}: re-checks changed: {len(rows)} rows, the ledger says otherwise", run_id))
    if rechecks.row_hash(rows) != body.get("outputs_hash"):
        out.append(
            ("outputs", f"{name}: re-checks changed: the run's re-check visits no longer hash to the entry", run_id)
        )
    return out


def _batch(conn: Connection, name: str, run_id: str, body: Mapping[str, Any]) -> list[Finding]:
    t = store.table("result_batch")
    row = conn.execute(sa.select(t).where(t.c.id == run_id)).first()
    if row is None:
        return [("results", f"{name}: result batch missing: no result_batch row {run_id}", run_id)]
    out = []
    versions = records.stored_results(conn, batch_id=run_id)
    if records.batch_hash(versions) != body.get("outputs_hash"):
        out.append(("outputs", f"{name}: results changed: the batch's result rows no longer hash to the entry", run_id))
    details = body.get("details") or {}
    pairs = (
        ("visits", row.visits, details.get("visits")),
        ("items", row.items, details.get("items")),
        ("recorded_on", row.recorded_on.isoformat(), body.get("as_of")),
        ("recorded_by", row.recorded_by, details.get("recorded_by")),
        ("file_sha256", row.file_sha256, details.get("file_sha256")),
    )
    changed = [f"{k} {a} (the ledger says {b})" for k, a, b in pairs if a != b]
    if changed:
        out.append(("results", f"{name}: result batch row changed: {'; '.join(changed)}", run_id))
    return out


def _publication(conn: Connection, name: str, run_id: str, body: Mapping[str, Any]) -> list[Finding]:
    t, i = store.table("publication"), store.table("publication_item")
    row = conn.execute(sa.select(t).where(t.c.id == run_id)).first()
    if row is None:
        return [("publication", f"{name}: publication missing: no publication row {run_id}", run_id)]
    out = []
    items = [dict(r) for r in conn.execute(sa.select(i).where(i.c.publication_id == run_id)).mappings()]
    if publishing.items_hash(items) != body.get("outputs_hash"):
        out.append(("outputs", f"{name}: publication records changed: they no longer hash to the entry", run_id))
    details = body.get("details") or {}
    pairs = (
        ("records", row.records, details.get("records")),
        ("published_on", row.published_on.isoformat(), body.get("as_of")),
        ("csv_sha256", row.csv_sha256, details.get("csv_sha256")),
        ("xlsx_sha256", row.xlsx_sha256, details.get("xlsx_sha256")),
    )
    changed = [f"{k} {a} (the ledger says {b})" for k, a, b in pairs if a != b]
    if changed:
        out.append(("publication", f"{name}: publication row changed: {'; '.join(changed)}", run_id))
    return out


def _decision(conn: Connection, name: str, run_id: str, body: Mapping[str, Any]) -> list[Finding]:
    t = store.table("followup_decision")
    row = conn.execute(sa.select(t).where(t.c.run_id == run_id)).mappings().first()
    if row is None:
        return [("decision", f"{name}: decision missing: no followup_decision row for {run_id}", run_id)]
    if followup_store.decision_hash(dict(row)) != body.get("outputs_hash"):
        return [("outputs", f"{name}: decision changed: the decision row no longer hashes to the entry", run_id)]
    return []


def unrecorded(conn: Connection, recorded: set[tuple[str, str]]) -> list[Finding]:
    """Batches, publications and decisions in the store without their ledger entry."""
    out = []
    for kind, table, column, what in (
        (records.LEDGER_KIND, "result_batch", "id", "result batch"),
        (publishing.LEDGER_KIND, "publication", "id", "publication"),
        (followup_store.LEDGER_KIND, "followup_decision", "run_id", "follow-up decision"),
        (recheck_store.LEDGER_KIND, "recheck_visit", "run_id", "re-check scheduling run"),
    ):
        t = store.table(table)
        for (run_id,) in conn.execute(sa.select(t.c[column]).distinct().order_by(t.c[column])):
            if (kind, run_id) not in recorded:
                out.append(
                    (
                        "unrecorded",
                        f"{run_id}: {what} without a ledger entry (inserted outside suijian, or its entry was deleted)",
                        run_id,
                    )
                )
    return out
