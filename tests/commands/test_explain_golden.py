"""Golden `suijian explain` output with the national pack for hand-built subjects (tests/engine/test_features.py's
district): a class-A-looking enterprise on the abnormal list with an overdue elevator at a school, a restaurant,
and a revoked subject on the serious-violation list. Set SUIJIAN_UPDATE_GOLDEN=1 to rewrite the files after an
intended change, then read the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cli import suijian
from commands.common import run_main
from tests.engine.test_features import A, B, C, load

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
ROOT = Path(__file__).resolve().parents[2]


def explain(url: str, uscc: str, *extra: str) -> tuple[int, str, str]:
    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        code = run_main(suijian, ["explain", uscc, "--as-of", "2025-12-31", "--db", url, *extra])
    return code, out.getvalue().decode(), err.getvalue().decode()


@pytest.mark.parametrize(
    ("name", "uscc"), [("enterprise_abnormal_school_elevator", A), ("restaurant", B), ("revoked", C)]
)
def test_explain_matches_golden(
    engine: sa.Engine, store_url: str, name: str, uscc: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # rule locations read rules/national/…:line
    load(engine)
    code, out, err = explain(store_url, uscc, "--why-not")
    assert code == 0, err
    path = GOLDEN / f"explain_{name}.txt"
    if os.environ.get("SUIJIAN_UPDATE_GOLDEN"):
        path.write_text(out, encoding="utf-8")
    assert out == path.read_text(encoding="utf-8")


def test_explain_unknown_subject_is_one_line(store_url: str) -> None:
    code, out, err = explain(store_url, "91445203000000099X")
    assert (code, out) == (1, "")
    assert err == "Error: no subject with USCC 91445203000000099X in the store; check the code or import it first\n"
