"""Two `suijian grade` processes for the same as-of at once: the ledger lock serialises them, like plans.

Regression: the run id counts the stored runs, and was chosen before any lock, so both processes chose the same
id; PostgreSQL ended the second in a UniqueViolation traceback (grade_result_pkey) and SQLite in a misleading
"the store failed … run `suijian init`". Now the lock is taken before the id is chosen: the second waits and
both commit, with distinct ids. The test holds the lock itself until both processes queue for it, so they
certainly overlap.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
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

AS_OF = "2025-12-31"
ROOT = Path(__file__).resolve().parents[2]


def _demo(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A small graded demo store (one grade run, one plan)."""
    monkeypatch.chdir(tmp_path)
    with CliRunner().isolation() as (_, err, _):
        code = run_main(suijian, ["demo", "--subjects", "300", "--db", url])
    assert code == 0, err.getvalue().decode()
    return url


def start(url: str) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "cli", "grade", "--as-of", AS_OF, "--json", "--db", url]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> tuple[int, Any, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, json.loads(out) if proc.returncode == 0 else None, err


def _check_both_committed(url: str, procs: list[subprocess.Popen[str]]) -> None:
    results = [finish(p) for p in procs]
    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    ids = sorted(doc["run_id"] for _, doc, _ in results)
    assert ids == [f"G20251231-{ids[0][10:18]}-0002", f"G20251231-{ids[0][10:18]}-0003"]
    report = read_store(url, audit.verify)
    assert report.ok, [p.message for p in report.problems]
    assert report.kinds == {"grade": 3, "plan": 1}


@pytest.mark.postgres
def test_two_concurrent_grades_on_postgresql_both_commit(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _demo(pg_url, tmp_path, monkeypatch)
    engine = store.make_engine(url)
    conn = engine.connect()
    tx = conn.begin()
    conn.execute(sa.text("LOCK TABLE ledger IN SHARE ROW EXCLUSIVE MODE"))
    try:
        procs = [start(url), start(url)]
        deadline = time.monotonic() + 120
        while ledger_lock_waiters(url) < 2:
            assert all(p.poll() is None for p in procs), "a grade ended before queueing for the ledger lock"
            assert time.monotonic() < deadline, "the grades never queued for the ledger lock"
            time.sleep(0.05)
    finally:
        tx.rollback()
        conn.close()
        engine.dispose()
    _check_both_committed(url, procs)


def test_two_concurrent_grades_on_sqlite_both_commit(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _demo(sqlite_url, tmp_path, monkeypatch)
    holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the store's write lock, as a grade in progress holds it
    try:
        procs = [start(url), start(url)]
        time.sleep(8)  # both start and reach the lock (longer than SQLite's default 5 s wait, which used to end them)
        assert all(p.poll() is None for p in procs), [finish(p) for p in procs if p.poll() is not None]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    _check_both_committed(url, procs)
