"""Smoke test of `bench/plan.py --from-store` on a small jiedong: it builds its store the way its default does,
runs the variants in their own processes, and its timing hooks leave the plan as `suijian plan` makes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]


def test_plan_bench_from_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = tmp_path / "figures.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SUIJIAN_USER": "bench", "SUIJIAN_ROLE": "supervisor"}
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "plan.py"),
            "--from-store",
            "--profile",
            "jiedong",
            "--subjects",
            "1500",
            "--store-dir",
            str(tmp_path / "store"),
            "--json-out",
            str(figures),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(figures.read_text(encoding="utf-8"))
    assert [b["step"] for b in out["build"]] == ["suijian demo --load-only", "suijian grade"]
    fitted, before, unfitted = out["variants"]
    assert (fitted["variant"], fitted["format"]) == ("fitted", "suijian.plan/2")
    # The previous path makes the same plan, to the byte.
    assert (before["variant"], before["plan_id"], before["sha256"]) == ("before", fitted["plan_id"], fitted["sha256"])
    assert "same plan: yes" in done.stdout
    assert (unfitted["variant"], unfitted["format"]) == ("unfitted", "suijian.plan/1")
    assert fitted["drawn_visits_unstaffed"] == 0
    assert [x["name"] for x in fitted["layers"]] == ["mandatory", "floors", "frequency", "ratios"]
    steps = {s["step"]: s for s in fitted["stages"]}
    for step in ("plan (make_plan)", "plan: fit (four layers, λ)", "plan: staffing (teams)", "commit (rolled back)"):
        assert steps[step]["calls"] >= 1 and steps[step]["peak_mb"] > 0, step
    assert steps["plan: fit (four layers, λ)"]["parent"] == "plan (make_plan)"
    for variant in (fitted, unfitted):
        assert variant["peak_mb"] > 50 and variant["visits_planned"] > 0
    assert "plan, fitted (suijian plan)" in done.stdout and "plan, unfitted plan/1 (baseline)" in done.stdout

    # The bench rolled its commit back, and its hooks change nothing: `suijian plan` on the same store makes the
    # plan the fitted worker timed, byte for byte (the id is the document's SHA-256).
    url = out["store"]
    seed = "31415926535897932384626433"
    monkeypatch.setenv("SUIJIAN_USER", "bench")
    monkeypatch.setenv("SUIJIAN_ROLE", "supervisor")
    code, text, err = run_cli(
        "plan", "--as-of", "2025-12-31", "--period", "2026", "--seed", seed, "--db", url, "--json"
    )
    assert code == 0, err
    made = json.loads(text)
    assert made["new"] is True
    assert made["plan_id"] == fitted["plan_id"]
