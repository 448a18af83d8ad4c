"""Two `suijian plan` processes for one scope at the same time (PostgreSQL): the ledger lock serialises them.

Without a reason exactly one commits and the other is refused naming it, whichever wins. With a reason on one
of them the outcome depends on the order, so the test fixes the order without relying on timing: it holds the
ledger lock itself until both processes have computed their plans and queue for the lock (PostgreSQL grants
queued requests for the same mode in arrival order), then lets them go.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cli import suijian
from commands.common import run_main
from engine import audit
from entities import store
from tests.helpers import ledger_lock_waiters, read_store

pytestmark = pytest.mark.postgres

AS_OF = "2025-12-31"
SEEDS = ("51920374662810395527", "12121212123434343434")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def graded(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A small demo store (graded; its own plan is for 2026, so 2027 is free)."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    with runner.isolation() as (_, err, _):
        code = run_main(suijian, ["demo", "--subjects", "300", "--db", pg_url])
    assert code == 0, err.getvalue().decode()
    return pg_url


def start(url: str, seed: str, *extra: str) -> subprocess.Popen[str]:
    args = [
        sys.executable,
        "-m",
        "cli",
        "plan",
        "--as-of",
        AS_OF,
        "--period",
        "2027",
        "--calendar",
        str(ROOT / "tests" / "fixtures" / "calendar" / "test-2027.csv"),  # 2027: not in the library
        "--seed",
        seed,
        "--json",
        "--db",
        url,
        *extra,
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> tuple[int, Any, str]:
    """Exit code, the plan document, and the error line (with --json, the failure envelope's message on stdout)."""
    out, err = proc.communicate(timeout=300)
    if proc.returncode == 0:
        return 0, json.loads(out), err
    failure = json.loads(out)
    assert set(failure) == {"ok", "error"} and failure["ok"] is False  # nothing of a draw is shown
    return proc.returncode, None, f"Error: {failure['error']['message']}\n{err}"


def verified(url: str) -> audit.VerifyReport:
    return read_store(url, audit.verify)


def _queued(url: str, proc: subprocess.Popen[str], count: int) -> None:
    deadline = time.monotonic() + 120
    while ledger_lock_waiters(url) < count:
        if proc.poll() is not None:
            pytest.fail(f"plan exited {proc.returncode} before queueing for the ledger lock: {proc.stderr.read()}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            pytest.fail("plan never queued for the ledger lock")
        time.sleep(0.05)


@pytest.fixture
def held_lock(graded: str) -> Iterator[Any]:
    """Hold the ledger lock; `release()` lets the queued plans through in the order they queued."""
    engine = store.make_engine(graded)
    conn = engine.connect()
    tx = conn.begin()
    conn.execute(sa.text("LOCK TABLE ledger IN SHARE ROW EXCLUSIVE MODE"))
    try:
        yield tx.rollback
    finally:
        if tx.is_active:
            tx.rollback()
        conn.close()
        engine.dispose()


def test_two_concurrent_plans_for_one_scope_commit_once(graded: str) -> None:
    procs = [start(graded, seed) for seed in SEEDS]
    results = [finish(p) for p in procs]
    assert sorted(code for code, _, _ in results) == [0, 1]
    [(_, committed, _)] = [r for r in results if r[0] == 0]
    [(_, _, refusal)] = [r for r in results if r[0] == 1]
    assert committed["new"] and committed["plan_id"].startswith("P2027-")
    assert refusal.startswith(f"Error: plan {committed['plan_id']} is already committed for 2027 ")
    assert "a further draw is a re-draw" in refusal and "--redraw-reason" in refusal
    assert len(refusal.splitlines()) == 1
    report = verified(graded)
    assert report.ok and report.kinds == {"grade": 1, "plan": 2}


def test_concurrent_redraw_with_a_reason_commits_after_the_first(graded: str, held_lock: Any) -> None:
    first = start(graded, SEEDS[0])
    _queued(graded, first, 1)
    second = start(graded, SEEDS[1], "--redraw-reason", "同时抽取，以后者为准")
    _queued(graded, second, 2)
    held_lock()
    (code1, plan1, err1), (code2, plan2, err2) = finish(first), finish(second)
    assert (code1, code2) == (0, 0), err1 + err2
    engine = store.open_store(graded)
    try:
        with engine.connect() as conn:
            redraws = audit.redraws(conn)
    finally:
        engine.dispose()
    assert [(r.run_id, r.replaces, r.reason) for r in redraws] == [
        (plan2["plan_id"], [plan1["plan_id"]], "同时抽取，以后者为准")
    ]
    report = verified(graded)
    assert report.ok and report.kinds == {"grade": 1, "plan": 3}


def test_concurrent_redraw_that_comes_first_has_nothing_to_redraw(graded: str, held_lock: Any) -> None:
    first = start(graded, SEEDS[1], "--redraw-reason", "同时抽取，以后者为准")
    _queued(graded, first, 1)
    second = start(graded, SEEDS[0])
    _queued(graded, second, 2)
    held_lock()
    (code1, _, err1), (code2, plan2, err2) = finish(first), finish(second)
    assert (code1, code2) == (1, 0), err2
    assert err1.startswith("Error: nothing to re-draw: no plan is committed for 2027 (2027-01-01 – 2027-12-31)")
    assert len(err1.splitlines()) == 1
    assert plan2["new"]
    report = verified(graded)
    assert report.ok and report.kinds == {"grade": 1, "plan": 2}
