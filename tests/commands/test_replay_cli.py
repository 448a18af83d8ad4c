"""`suijian replay RUN_ID` and `suijian explain SUBJECT --run RUN_ID` on a small demo store (SQLite and PostgreSQL):
exact output, exit codes, the --json shape, one line for a bad id, and tickets an auditor can check with the public
consistent-sampler package. Set SUIJIAN_UPDATE_GOLDEN=1 to rewrite tests/golden/explain_run_plan.txt."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from entities import store
from tests.helpers import load_demo_store
from tests.helpers import run_cli as run
from tests.store_template import StoreCopies

SEED = "38147205519264810375"
GOLDEN = Path(__file__).resolve().parents[1] / "golden"


@dataclass(frozen=True)
class Demo:
    url: str
    grade_run: str
    plan_id: str
    plan: dict[str, Any]


@pytest.fixture
def demo(store_url: str, store_copies: StoreCopies, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Demo:
    monkeypatch.chdir(tmp_path)
    grade_run, doc = store_copies.fill(store_url, "demo 400 graded, planned for two items", lambda: _build(store_url))
    return Demo(store_url, grade_run, doc["plan_id"], doc)


def _build(store_url: str) -> tuple[str, dict[str, Any]]:
    load_demo_store(store_url, 400)
    code, out, err = run("grade", "--as-of", "2025-12-31", "--json", "--db", store_url)
    assert code == 0, err
    grade_run = json.loads(out)["run_id"]
    # Two desk/on-site items with no mandatory or frequency work: the 400-subject roster's capacity then goes to the
    # random draws, so strata have drawn subjects and subjects left over (a fitted plan of every item spends this
    # small roster on mandatory work first and draws nothing).
    code, out, err = run(
        "plan",
        "--as-of",
        "2025-12-31",
        "--period",
        "2026Q1",
        "--seed",
        SEED,
        "--item",
        "DJ-GT-01",
        "--item",
        "JG-BQ-01",
        "--json",
        "--db",
        store_url,
    )
    assert code == 0, err
    doc = json.loads(out)
    return grade_run, doc


def _seconds(text: str) -> str:
    return re.sub(r"  in \d+\.\d s\n", "  in <S> s\n", text)


def test_replay_identical_prints_what_was_recomputed(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    # Read-only: an auditor, or nobody configured at all, may replay.
    monkeypatch.setenv("SUIJIAN_ROLE", "auditor")
    assert run("replay", demo.plan_id, "--db", demo.url)[0] == 0
    monkeypatch.delenv("SUIJIAN_USER")
    monkeypatch.delenv("SUIJIAN_ROLE")
    code, out, err = run("replay", demo.grade_run, "--json", "--db", demo.url)
    assert (code, err) == (0, "")
    g = json.loads(out)
    assert g["identical"] is True and g["kind"] == "grade" and g["recomputed"]["subjects"] == 400
    assert set(g) == {
        "ok",
        "run_id",
        "kind",
        "identical",
        "as_of",
        "seed",
        "pack",
        "snapshot_hash",
        "outputs_hash",
        "recomputed",
        "graded_mismatch",
        "differences",
        "notes",
        "versions",
        "seconds",
    }
    assert g["differences"] == {
        "count": 0,
        "shown": [],
        "only_recorded": {"count": 0, "shown": []},
        "only_replayed": {"count": 0, "shown": []},
    }
    p, h = g["pack"], g["outputs_hash"]
    assert h["ledger"] == h["replayed"] == h["stored"]
    code, out, err = run("replay", demo.grade_run, "--db", demo.url)
    assert (code, err) == (0, "")
    assert _seconds(out) == (
        f"Replay of grade run {demo.grade_run}: identical (一致)\n"
        f"  recomputed 400 subjects as of 2025-12-31: {g['recomputed']['outcomes']:,} distinct outcomes from "
        f"{g['recomputed']['evaluations']:,} durable-rules evaluations\n"
        f"  pack national {p['version']} (files {p['files_hash']}, rules {p['hash'][:12]})\n"
        f"  snapshot {g['snapshot_hash']}\n"
        f"  outputs {h['ledger']} — the ledger's, the store's and the replay's\n"
        "  in <S> s\n"
    )
    code, out, err = run("replay", demo.plan_id, "--db", demo.url)
    assert (code, err) == (0, "")
    drawn = sum(i["drawn_count"] for i in demo.plan["items"])
    lines = _seconds(out).splitlines()
    assert lines[0] == f"Replay of plan {demo.plan_id}: identical (一致)"
    assert lines[1] == (
        f"  recomputed the draw of {len(demo.plan['items'])} check items over 400 subjects as of "
        f"2025-12-31 with seed '{SEED}': {drawn:,} drawn, {demo.plan['visits']['planned']:,} visits"
    )
    assert lines[4] == f"  outputs {_plan_hash(demo)} — the ledger's, the store's and the replay's"


def _plan_hash(demo: Demo) -> str:
    code, out, _ = run("replay", demo.plan_id, "--json", "--db", demo.url)
    assert code == 0
    return str(json.loads(out)["outputs_hash"]["ledger"])


def test_replay_names_an_edited_output_and_exits_1(demo: Demo) -> None:
    engine = store.open_store(demo.url)
    o, r = store.table("grade_outcome"), store.table("grade_result")
    with engine.begin() as conn:
        uscc, outcome = conn.execute(
            sa.select(r.c.uscc, r.c.outcome).where(r.c.run_id == demo.grade_run).order_by(r.c.uscc).limit(1)
        ).one()
        outputs = conn.execute(
            sa.select(o.c.outputs).where(o.c.run_id == demo.grade_run, o.c.outcome == outcome)
        ).scalar_one()
        forged = "D" if outputs["credit_class"] != "D" else "A"
        store.bulk_insert(
            conn,
            "grade_outcome",
            [
                {
                    "run_id": demo.grade_run,
                    "outcome": 9999,
                    "fired": list(),
                    "outputs": {**outputs, "credit_class": forged},
                    "errors": [],
                }
            ],
        )
        conn.execute(r.update().where(r.c.run_id == demo.grade_run, r.c.uscc == uscc).values(outcome=9999))
    engine.dispose()
    code, out, err = run("replay", demo.grade_run, "--db", demo.url)
    assert code == 1
    assert err == (
        f"Error: replay of {demo.grade_run} is NOT identical: the stored outputs no longer match the "
        "ledger (1 subjects differ)\n"
    )
    assert out.startswith(f"Replay of grade run {demo.grade_run}: NOT identical (不一致)\n")
    assert "  1 subjects differ; the first 1 by USCC (recorded → replayed):\n" in out
    assert f"    {uscc}  credit_class: {forged} → {outputs['credit_class']}\n" in out
    assert "the store was edited after the run" in out
    code, out, err = run("replay", demo.grade_run, "--json", "--db", demo.url)
    assert (code, err) == (1, "")
    doc = json.loads(out)
    assert doc["identical"] is False and doc["differences"]["count"] == 1
    assert (doc["ok"], doc["error"]) == (
        False,
        {
            "code": "not_identical",
            "message": (
                f"replay of {demo.grade_run} is NOT identical: the stored outputs no longer match the ledger (1 subjects differ)"
            ),
        },
    )
    assert {"where": uscc, "what": "credit_class", "recorded": forged, "replayed": outputs["credit_class"]} in doc[
        "differences"
    ]["shown"]
    # The plan, made before the edit from the run's outcomes, still replays.
    assert run("replay", demo.plan_id, "--db", demo.url)[0] == 0


@pytest.mark.parametrize(
    "args", [["replay", "G20250101-nothing-0001"], ["explain", "91445203000000099X", "--run", "G20250101-nothing-0001"]]
)
def test_unknown_run_is_one_line(demo: Demo, args: list[str]) -> None:
    assert run(*args, "--db", demo.url) == (
        1,
        "",
        "Error: no run G20250101-nothing-0001 in the ledger; grade runs (G…) and plans (P…) are named by "
        "`suijian grade` and `suijian plan`\n",
    )


def test_explain_a_grade_run(demo: Demo) -> None:
    uscc = _drawn_and_not(demo)[2]
    code, out, err = run("explain", uscc, "--run", demo.grade_run, "--why-not", "--db", demo.url)
    assert (code, err) == (0, "")
    assert out.startswith(f"{uscc}  — as decided in grade run {demo.grade_run}: as of 2025-12-31, pack national ")
    assert "(national/credit.yaml:" in out and "/tmp" not in out and "suijian-pack-" not in out
    assert f"记录 recorded: grade run {demo.grade_run} stored exactly these outputs, fired rules and errors ✓" in out
    assert "抽查 draw" not in out and "不成立" in out
    code, out, _ = run("explain", uscc, "--run", demo.grade_run, "--json", "--db", demo.url)
    doc = json.loads(out)
    assert code == 0 and doc["kind"] == "grade" and doc["recorded"]["matches"] is True
    assert doc["recorded"]["outcome"]["outputs"] == {k: v for d in doc["decisions"] for k, v in d["outputs"].items()}
    assert all(f["at"].startswith("national/") for d in doc["decisions"] for f in d["fired"])


def _drawn_and_not(demo: Demo) -> tuple[str, str, str, str]:
    """An item, a stratum, a subject drawn in it and the next in line (in the stratum, not drawn)."""
    for item in demo.plan["items"]:
        for s in item["strata"]:
            if s["drawn"] and s["next_in_line"]:
                return item["code"], s["stratum"], s["drawn"][0]["id"], s["next_in_line"]["id"]
    raise AssertionError("no stratum with a drawn subject and one left over")


def test_explain_a_plan_run_drawn_and_not_drawn(demo: Demo) -> None:
    code_, stratum, drawn, left = _drawn_and_not(demo)
    try:
        import consistent_sampler as cs
    except ImportError:  # a development dependency; without it the ticket is still checked against the cut-off
        cs = None
    for uscc, status in ((drawn, "drawn"), (left, "not_drawn")):
        code, out, err = run("explain", uscc, "--run", demo.plan_id, "--json", "--db", demo.url)
        assert (code, err) == (0, "")
        doc = json.loads(out)
        fate = next(i for i in doc["plan"]["items"] if i["code"] == code_)
        assert (fate["status"], fate["stratum"], fate["drawn"], fate["consistent"]) == (
            status,
            stratum,
            status == "drawn",
            True,
        )
        number, cutoff = fate["ticket"]["ticket"], fate["cutoff"]
        assert ((number, uscc) <= (cutoff["ticket"], cutoff["id"])) == (status == "drawn")
        if cs is not None:
            assert cs.first_ticket(uscc, SEED).ticket_number == number
        code, text, _ = run("explain", uscc, "--run", demo.plan_id, "--db", demo.url)
        assert code == 0
        block = text[text.index(f"\n{code_} ") :]
        if status == "drawn":
            assert "已抽中 drawn" in block.splitlines()[1] and "ticket ≤ cut-off → 已抽中 drawn" in block
        else:
            assert "未抽中 not drawn" in block.splitlines()[1] and "ticket > cut-off → 未抽中 not drawn" in block
        assert f"  抽签号 ticket  {number}\n" in block
        recipe = next(line for line in block.splitlines() if line.startswith("  check: python -c "))[len("  check: ") :]
        done = subprocess.run(
            sys.executable + recipe[len("python") :], shell=True, capture_output=True, text=True, check=False
        )
        if cs is not None:
            assert done.stdout.strip() == number, done.stderr


def test_explain_run_errors(demo: Demo) -> None:
    assert run("explain", "91445203000000099X", "--run", demo.plan_id, "--db", demo.url) == (
        1,
        "",
        f"Error: subject 91445203000000099X is not in plan {demo.plan_id} (its snapshot holds 400 subjects)\n",
    )
    code, _, err = run("explain", "91445203000000099X", "--db", demo.url)
    assert code == 2 and "Error: Missing option '--as-of' (or give --run RUN_ID to explain a recorded run).\n" in err
    code, _, err = run(
        "explain", "91445203000000099X", "--run", demo.plan_id, "--pack", "rules/national", "--db", demo.url
    )
    assert code == 2 and "--run explains with the pack version the run recorded; drop --pack" in err
    uscc = _drawn_and_not(demo)[2]
    code, _, err = run("explain", uscc, "--run", demo.plan_id, "--as-of", "2025-06-30", "--db", demo.url)
    assert code == 2 and f"run {demo.plan_id} is as of 2025-12-31, not 2025-06-30; drop --as-of" in err
    assert run("explain", uscc, "--run", demo.plan_id, "--as-of", "2025-12-31", "--db", demo.url)[0] == 0


def test_explain_run_matches_golden(demo: Demo) -> None:
    _, _, drawn, _ = _drawn_and_not(demo)
    code, out, err = run("explain", drawn, "--run", demo.plan_id, "--db", demo.url)
    assert (code, err) == (0, "")
    files = json.loads(run("replay", demo.plan_id, "--json", "--db", demo.url)[1])["pack"]["files_hash"]
    # Ids and the files hash change with every edit of the national pack's files; the decisions are what is golden.
    text = out.replace(demo.plan_id, "<PLAN>").replace(demo.grade_run, "<GRADE_RUN>").replace(files[:12], "<FILES>")
    path = GOLDEN / "explain_run_plan.txt"
    if os.environ.get("SUIJIAN_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
