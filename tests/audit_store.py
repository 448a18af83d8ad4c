"""A store an auditor has something to read in: a demo district graded, planned, a year of results recorded and
published, and a re-draw — built through the CLI as a user would, then given two awkward subject names.

`build(url, out_dir)` returns what the tests look for. The tests build it once per session on SQLite and copy it
per test; on PostgreSQL they build it per test. They tamper with it through tests.results_store.execute.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from entities import store
from tests.helpers import run_cli

SCRIPT_NAME = "<script>alert(1)</script>\"'"  # must appear escaped wherever a page shows it
META_NAME = "百分之100%纯_天然'店;--"  # SQL's LIKE wildcards, a quote and a comment in one name
REDRAW_REASON = "名录库更正后重抽 <b>加粗</b>"
REDRAW_SEED = "77777777778888888888"


@dataclass(frozen=True)
class AuditStore:
    url: str
    plan_id: str  # the demo's plan (with results and publications)
    redraw_id: str  # the plan re-drawn for the same scope
    grade_run: str
    script_uscc: str  # a subject of the plan, renamed SCRIPT_NAME
    meta_uscc: str  # another, renamed META_NAME


def build(url: str, out_dir: Path) -> AuditStore:
    """The demo with results (300 subjects) and a re-draw in the store at `url`; two subjects renamed."""
    saved = {k: os.environ.get(k) for k in ("SUIJIAN_USER", "SUIJIAN_ROLE")}
    os.environ.update(SUIJIAN_USER="测试员 tester", SUIJIAN_ROLE="supervisor")
    try:
        code, out, err = run_cli(
            "demo", "--subjects", "300", "--results", "--json", "--db", url, "--out-dir", str(out_dir)
        )
        assert code == 0, err
        engine = store.open_store(url)
        try:
            with engine.connect() as conn:
                ledger = store.table("ledger")
                plan_id = conn.execute(sa.select(ledger.c.run_id).where(ledger.c.kind == "plan")).scalar_one()
                grade_run = (
                    conn.execute(sa.select(ledger.c.run_id).where(ledger.c.kind == "grade").order_by(ledger.c.seq))
                    .scalars()
                    .first()
                )
        finally:
            engine.dispose()
        code, out, err = run_cli(
            "plan", "--as-of", "2025-12-31", "--period", "2026", "--seed", REDRAW_SEED,
            "--redraw-reason", REDRAW_REASON, "--json", "--db", url,
        )  # fmt: skip
        assert code == 0, err
        redraw_id = json.loads(out)["plan_id"]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            visits = store.table("plan_visit")
            usccs = sorted(set(conn.execute(sa.select(visits.c.uscc).where(visits.c.plan_id == plan_id)).scalars()))
            subject = store.table("subject")
            conn.execute(subject.update().where(subject.c.uscc == usccs[0]).values(name=SCRIPT_NAME))
            conn.execute(subject.update().where(subject.c.uscc == usccs[1]).values(name=META_NAME))
    finally:
        engine.dispose()
    assert grade_run is not None
    return AuditStore(url, plan_id, redraw_id, grade_run, usccs[0], usccs[1])
