"""The plan step's previous path, for `bench/plan.py --from-store --variants before`: the steps this session
changed, as they were, swapped in by name where engine.planning looks them up, so the bench times the current
path against its predecessor in the same run (and checks both make the same plan; so does
tests/engine/test_plan_paths.py).

Replaced here:
  plan_document      the document built whole: `plan.to_json()` (every visit as a dict, then one 312 MB string at
                     guangzhou), hashed and compressed whole; the text stays referenced until the commit ends, as
                     save_plan held it while the ledger entry hashed the inputs.
  subjects_for_plan  every subject's name and address read too (the planner never uses them), joined and sorted
                     eagerly, one intermediate frame after another.
  subjects_split     that whole frame built first, then written to Parquet for the snapshot whole and narrowed to
                     the planner's columns (the split before session 27 read it so).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zlib
from collections.abc import Callable, Sequence
from types import ModuleType

import polars as pl
from sqlalchemy.engine import Connection

from engine import planning
from engine.ledger import canonical, plan_columns
from engine.plan.model import Plan, visit_frame
from engine.progress import Progress, no_progress
from engine.rules import Pack

_held: list[str | bytes] = []  # the whole text, alive through the commit as it was


def plan_document(plan: Plan) -> planning.PlanDocument:
    plan = planning.as_stored(plan)
    if plan.columnar:  # plan/3 since: every visit in one frame at once, the container built from it
        written = plan_columns.write(plan.head(), [visit_frame(plan.visits)])
        digest = written.sha256
        _held.append(written.data)
        return planning.PlanDocument(f"P{plan.period.label}-{digest[:10]}", digest, written.data, canonical.PLAN3)
    text = plan.to_json()
    data = text.encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    _held.append(text)
    return planning.PlanDocument(
        f"P{plan.period.label}-{digest[:10]}", digest, zlib.compress(data, 6), plan.document_scheme
    )


def subjects_for_plan(
    conn: Connection, run_id: str, as_of: dt.date, pack: Pack, progress: Progress = no_progress
) -> pl.DataFrame:
    live = planning.LIVE
    subjects = planning.runs.subject_info(conn, columns=("uscc", "region", "name", "address", *live))
    features = planning.plan_features(conn, run_id, as_of, progress, live=subjects.select("uscc", *live))
    info = subjects.select("uscc", "region", "name", "address")
    graded = planning.graded_columns(conn, run_id, pack)
    return features.join(info, on="uscc", how="inner").join(graded, on="uscc", how="inner").sort("uscc")


def subjects_split(
    conn: Connection,
    run_id: str,
    as_of: dt.date,
    pack: Pack,
    keep: Callable[[Sequence[str]], Sequence[str]],
    progress: Progress = no_progress,
) -> tuple[pl.DataFrame, canonical.ParquetFrame]:
    subjects = subjects_for_plan(conn, run_id, as_of, pack, progress)
    out = io.BytesIO()
    subjects.write_parquet(out, compression="zstd", statistics=False)
    return subjects.select(keep(subjects.columns)), canonical.ParquetFrame(out.getvalue())


def install(module: ModuleType) -> None:
    """Swap the previous steps into `module` (engine.planning, in a bench worker of its own)."""
    module.plan_document = plan_document
    module.subjects_for_plan = subjects_for_plan
    module.subjects_split = subjects_split
