"""A store written by release 0.1.0 (the ledger as first landed) must still verify and replay after every change.

`tests/fixtures/stores/ledger-0.1.0.db` was made with that release: `suijian demo --subjects 1500`, `rules publish
rules/national`, a seed commitment for 2027, a grade as of 2026-06-30, the committed 2027 plan and a recorded
re-draw of 2026Q3 for 445203. Its entries use the hash schemes of that release; they are legal records, so they
are never rewritten: the test works on a copy and checks the copy's ledger rows are byte-identical afterwards.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.helpers import run_cli

FIXTURE = Path(__file__).parent.parent / "fixtures" / "stores" / "ledger-0.1.0.db"
GRADE_RUNS = ("G20251231-cee06f88-0001", "G20260630-cee06f88-0002")
PLANS = ("P2026-09056c35e1", "P2027-aba5ed902c", "P2026Q3-fdba211818")
HEAD = "6293b07e82f62c3b0f2f60a7a73f6cb27c579e84c14e627d4500911f30417182"


def _ledger_rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT * FROM ledger ORDER BY seq").fetchall()


@pytest.fixture
def legacy(tmp_path: Path) -> str:
    copy = tmp_path / "legacy.db"
    shutil.copy(FIXTURE, copy)
    return str(copy)


def test_legacy_store_upgrades_verifies_and_replays(legacy: str) -> None:
    url = f"sqlite:///{legacy}"
    before = _ledger_rows(Path(legacy))
    code, out, err = run_cli("init", "--db", url)  # upgrading the schema must not touch recorded entries
    assert code == 0, err
    code, out, err = run_cli("audit", "verify", "--head", HEAD, "--db", url)
    assert code == 0, out + err
    assert out.startswith("OK: 7 ledger entries"), out
    for run_id in (*GRADE_RUNS, *PLANS):
        code, out, err = run_cli("replay", run_id, "--db", url)
        assert code == 0, f"{run_id}: {out}{err}"
        assert "identical" in out.splitlines()[0], out
    code, out, err = run_cli("explain", "91445203029896568F", "--run", PLANS[0], "--db", url)
    assert code == 0, out + err
    assert _ledger_rows(Path(legacy)) == before


def test_replay_hashes_with_the_schemes_an_entry_recorded(legacy: str) -> None:
    """Replay dispatches by the entry's recorded schemes: a scheme this release does not know is one line (a newer
    suijian's entry, or an edited one), never a wrong "different" verdict or a traceback."""
    url = f"sqlite:///{legacy}"
    assert run_cli("init", "--db", url)[0] == 0
    with sqlite3.connect(legacy) as conn:
        (body,) = conn.execute("SELECT body FROM ledger WHERE run_id = ?", (GRADE_RUNS[0],)).fetchone()
        edited = json.loads(body)
        edited["schemes"] = {"outcome": "suijian-outcome-9"}
        conn.execute("UPDATE ledger SET body = ? WHERE run_id = ?", (json.dumps(edited), GRADE_RUNS[0]))
    code, out, err = run_cli("replay", GRADE_RUNS[0], "--db", url)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "unknown hashing scheme 'suijian-outcome-9' for outcome" in err, err
