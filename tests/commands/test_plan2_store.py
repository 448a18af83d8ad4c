"""A store whose plan was recorded as `suijian.plan/2` (before the columnar plan/3 document) must still verify,
replay and export byte-for-byte as it did.

`tests/fixtures/stores/plan2-main.db` was made on main at 534b5ed (`suijian demo --subjects 800`, plan
P2026-bc9017f108, a fitted plan/2 document and a snapshot-1 plan entry); `plan2-main.csv` and `plan2-main.json` are
`suijian tasks export` of that plan made by the same code. The test works on a copy and checks that the copy's
ledger rows and plan row are byte-identical afterwards: recorded entries are legal records.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.helpers import run_cli

STORES = Path(__file__).parent.parent / "fixtures" / "stores"
FIXTURE = STORES / "plan2-main.db"
PLAN = "P2026-bc9017f108"
GRADE = "G20251231-e524d3d0-0001"
HEAD = "16897c261960fa2f0ad18faadb1097c3311c5a9aea028b67288b398d652253a0"


def _rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return [
            *conn.execute("SELECT * FROM ledger ORDER BY seq").fetchall(),
            *conn.execute("SELECT id, sha256, document FROM plan ORDER BY id").fetchall(),
        ]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    copy = tmp_path / "plan2.db"
    shutil.copy(FIXTURE, copy)
    return copy


def test_a_plan2_store_verifies_replays_and_exports_as_before(store: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{store}"
    before = _rows(store)
    assert run_cli("init", "--db", url)[0] == 0
    code, out, err = run_cli("audit", "verify", "--head", HEAD, "--db", url)
    assert code == 0 and out.startswith("OK: 2 ledger entries"), out + err
    for run_id in (GRADE, PLAN):
        code, out, err = run_cli("replay", run_id, "--db", url)
        assert code == 0 and "identical" in out.splitlines()[0], f"{run_id}: {out}{err}"
    for fmt in ("csv", "json"):
        target = tmp_path / f"tasks.{fmt}"
        code, out, err = run_cli("tasks", "export", "--plan", PLAN, "--format", fmt, "--out", str(target), "--db", url)
        assert code == 0, out + err
        assert target.read_bytes() == (STORES / f"plan2-main.{fmt}").read_bytes()
    assert _rows(store) == before
