"""The hash of a run's outputs, computed the same way when the run is recorded, verified and replayed.

A grade run's outputs are every subject's outputs, fired rule ids and errors: per subject the digest of its
outcome's canonical JSON, in USCC order. A plan's outputs are its canonical JSON document (tickets, selections,
cut-offs, visits, teams), so its hash is the document's SHA-256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.grading import canonical_result
from entities import store

_CHUNK = 500_000


def grade_outputs_hash(results: pl.DataFrame, outcomes: Mapping[int, str]) -> str:
    """`results` has columns uscc and outcome; `outcomes` maps outcome id -> canonical result JSON."""
    digests = {k: hashlib.sha256(v.encode("utf-8")).hexdigest()[:32] for k, v in outcomes.items()}
    lines = results.select(
        pl.col("uscc"), pl.col("outcome").replace_strict(digests, default="(missing outcome)", return_dtype=pl.String).alias("digest")
    ).sort("uscc")
    h = hashlib.sha256(f"suijian-grade-outputs-1 {lines.height}\n".encode())
    for start in range(0, lines.height, _CHUNK):
        h.update(lines.slice(start, _CHUNK).write_csv(include_header=False).encode("utf-8"))
    return h.hexdigest()


def stored_grade_outputs(conn: Connection, run_id: str) -> tuple[pl.DataFrame, dict[int, str], dict[int, dict]]:
    """A grade run's per-subject outcome ids, each outcome's canonical JSON and its parts, as stored."""
    o, r = store.table("grade_outcome"), store.table("grade_result")
    parts = {
        int(row.outcome): {"outputs": row.outputs, "fired": list(row.fired), "errors": list(row.errors)}
        for row in conn.execute(sa.select(o.c.outcome, o.c.outputs, o.c.fired, o.c.errors).where(o.c.run_id == run_id))
    }
    canon = {k: canonical_result(v["outputs"], v["fired"], v["errors"]) for k, v in parts.items()}
    results = pl.DataFrame(
        conn.execute(sa.select(r.c.uscc, r.c.outcome).where(r.c.run_id == run_id)).all(),
        schema={"uscc": pl.String, "outcome": pl.Int64}, orient="row",
    )
    return results, canon, parts


def plan_outputs_hash(document_text: str) -> str:
    return hashlib.sha256(document_text.encode("utf-8")).hexdigest()
