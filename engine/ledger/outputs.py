"""The hash of a run's outputs, computed the same way when the run is recorded, verified and replayed.

A grade run's outputs are every subject's outputs, fired rule ids and errors: per subject the digest of its
outcome's canonical JSON, in USCC order. A plan's outputs are its canonical JSON document (tickets, selections,
cut-offs, visits, teams), so its hash is the document's SHA-256. The schemes are engine.ledger.canonical's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    canon, parts = stored_outcomes(conn, run_id, outcome_scheme)
    read = results_in_child(conn, run_id, subjects)
    results = read() if read is not None else None
    if results is None:
        results = stored_results(conn, run_id)
    return results, canon, parts


def stored_outcomes(
    conn: Connection, run_id: str, outcome_scheme: str = canonical.OUTCOME
) -> tuple[dict[int, str], dict[int, dict[str, Any]]]:
    """A grade run's outcomes as stored: each one's canonical JSON, and its parts (outputs, fired, errors)."""
    o = store.table("grade_outcome")
    parts = {
        int(row.outcome): {"outputs": row.outputs, "fired": list(row.fired), "errors": list(row.errors)}
        for row in conn.execute(sa.select(o.c.outcome, o.c.outputs, o.c.fired, o.c.errors).where(o.c.run_id == run_id))
    }
    canon = {
        k: canonical.canonical_result(v["outputs"], v["fired"], v["errors"], outcome_scheme) for k, v in parts.items()
    }
    return canon, parts


def _results_query(run_id: str) -> sa.Select[Any]:
    r = store.table("grade_result")
    return sa.select(r.c.uscc, r.c.outcome).where(r.c.run_id == run_id)


_RESULTS = {"uscc": pl.String, "outcome": pl.Int64}


def stored_results(conn: Connection, run_id: str) -> pl.DataFrame:
    """A grade run's per-subject outcome ids (uscc, outcome) read through `conn`, in chunks straight into columns:
    a city's 3.3 M rows as row objects cost many times the frame."""
    return runs.read_frame(conn, _results_query(run_id), _RESULTS)


def results_in_child(conn: Connection, run_id: str, subjects: int) -> Callable[[], pl.DataFrame | None] | None:
    """A function that reads a grade run's results (as stored_results) in a child process through ADBC, or None
    where they are read through `conn` (fewer than _CHILD_ROWS subjects, or not a SQLite store). The function does
    not use `conn`, so it may run in another thread while `conn` is used (`audit verify` hashes the snapshots
    meanwhile); it returns None when the child could not read them (then read them with stored_results)."""
    if subjects < _CHILD_ROWS or conn.dialect.name != "sqlite":
        return None
    compiled = _results_query(run_id).compile(dialect=conn.dialect)
    params = tuple(compiled.params[p] for p in compiled.positiontup or ())
    url = conn.engine.url.render_as_string(hide_password=False)
    return lambda: arrow_read.read_in_child(url, compiled.string, params, _RESULTS)


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
