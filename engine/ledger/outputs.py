"""The hash of a run's outputs, computed the same way when the run is recorded, verified and replayed.

A grade run's outputs are every subject's outputs, fired rule ids and errors: per subject the digest of its
outcome's canonical JSON, in USCC order. A plan's outputs are its canonical JSON document (tickets, selections,
cut-offs, visits, teams), so its hash is the document's SHA-256. The schemes are engine.ledger.canonical's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.features import arrow_read
from engine.ledger import canonical, runs
from entities import store


def grade_outputs_hash(
    results: pl.DataFrame, outcomes: Mapping[int, str], scheme: str = canonical.GRADE_OUTPUTS
) -> str:
    """`results` has columns uscc and outcome; `outcomes` maps outcome id -> canonical result JSON."""
    return canonical.grade_outputs_hash(results, outcomes, scheme)


def stored_grade_outputs(
    conn: Connection, run_id: str, outcome_scheme: str = canonical.OUTCOME, *, subjects: int = 0
) -> tuple[pl.DataFrame, dict[int, str], dict[int, dict[str, Any]]]:
    """A grade run's per-subject outcome ids, each outcome's canonical JSON and its parts, as stored.

    `subjects`: how many the run graded, if known; a city's (≥ _CHILD_ROWS) are read from a SQLite store through
    ADBC in a child process (engine/features/arrow_read.py), the same frame for a fraction of the CPU."""
    o, r = store.table("grade_outcome"), store.table("grade_result")
    parts = {
        int(row.outcome): {"outputs": row.outputs, "fired": list(row.fired), "errors": list(row.errors)}
        for row in conn.execute(sa.select(o.c.outcome, o.c.outputs, o.c.fired, o.c.errors).where(o.c.run_id == run_id))
    }
    canon = {
        k: canonical.canonical_result(v["outputs"], v["fired"], v["errors"], outcome_scheme) for k, v in parts.items()
    }
    stmt = sa.select(r.c.uscc, r.c.outcome).where(r.c.run_id == run_id)
    schema = {"uscc": pl.String, "outcome": pl.Int64}
    results = None
    if subjects >= _CHILD_ROWS and conn.dialect.name == "sqlite":
        compiled = stmt.compile(dialect=conn.dialect)
        params = tuple(compiled.params[p] for p in compiled.positiontup or ())
        url = conn.engine.url.render_as_string(hide_password=False)
        results = arrow_read.read_in_child(url, compiled.string, params, schema)
    if results is None:
        # In chunks straight into columns: a city's 3.3 M rows as row objects cost many times the frame.
        results = runs.read_frame(conn, stmt, schema)
    return results, canon, parts


_CHILD_ROWS = 500_000  # below it, starting the child process costs more than the tuples


def plan_outputs_hash(document_text: str, scheme: str = canonical.PLAN) -> str:
    return canonical.plan_hash(document_text, scheme)


def plan_outputs_digest(text_sha256: str, scheme: str = canonical.PLAN) -> str:
    """A plan's outputs hash from the SHA-256 of its document's UTF-8 bytes, for a document hashed a piece at a
    time (engine.ledger.plan_reader): under plan/1 and /2 the outputs hash is that very digest, and under plan/3
    the document's hash is its content's (engine.ledger.plan_columns), which is the outputs hash too."""
    if scheme not in canonical.PLAN_SCHEMES:
        canonical.plan_hash("", scheme)  # refuses a scheme that is no plan scheme, as plan_outputs_hash does
    return text_sha256
