"""Smoke test of `bench/growth.py`: every step of a small district runs as its own process on a real SQLite store
and gets a row; a step that outgrows its memory cap is reported as failed and stops the run; `--fit` prints the
exponent of a power law and refuses malformed pairs in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GROWTH = str(ROOT / "bench" / "growth.py")
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, GROWTH, *args], capture_output=True, text=True, env=ENV, timeout=900)


def test_every_step_gets_a_row(tmp_path: Path) -> None:
    done = _run("jiedong", "--subjects", "800", "--db", f"sqlite:///{tmp_path / 'g.db'}")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[2:] if line.strip()}
    assert list(rows) == ["load", "grade", "plan", "export", "verify"]
    for step, cells in rows.items():
        seconds, cpu, peak = float(cells[1]), float(cells[2]), float(cells[3])
        assert seconds > 0 and cpu > 0 and peak > 50, step  # a Python process with the engine loaded
        assert cells[5] == "ok", step
    assert (tmp_path / "g.db").exists()


def test_a_step_over_its_cap_fails_and_stops_the_run(tmp_path: Path) -> None:
    # 0.3 GiB of address space is too little to import the engine at all: the load fails, nothing runs after it.
    done = _run("jiedong", "--subjects", "200", "--db", f"sqlite:///{tmp_path / 'g.db'}", "--cap-gb", "0.3")
    assert done.returncode == 0, done.stderr
    assert "load" in done.stdout and "FAILED" in done.stdout
    assert "later steps skipped" in done.stdout
    assert "grade " not in done.stdout


def test_fit_prints_the_exponent_and_refuses_bad_pairs() -> None:
    done = _run("--fit", "1000:2", "10000:20", "100000:200")
    assert done.returncode == 0, done.stderr
    assert "over 3 sizes: 1.00" in done.stdout
    bad = _run("--fit", "1000:2", "ten:20")
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines() == [
        "--fit takes NAME:SUBJECTS:SECONDS or SUBJECTS:SECONDS pairs, not 'ten:20'"
    ]
    one = _run("--fit", "1000:2")
    assert one.stderr.strip() == "--fit needs at least two different sizes"
