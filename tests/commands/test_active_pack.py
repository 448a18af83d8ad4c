"""Without --pack, `suijian grade`, `explain` and `plan` use the store's active pack (`suijian rules publish`),
restored from the store exactly as published — not whatever is on disk now."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.ledger import chain
from engine.rules import load_pack
from entities import store
from tests.commands.test_plan_cli import SEED, demo_url, run  # noqa: F401  (demo_url is a fixture)
from tests.commands.test_publish_cli import raise_food_a_max
from tests.helpers import read_store

RULES = Path(__file__).resolve().parents[2] / "rules"


def _changed_national(tmp_path: Path) -> Path:
    copy = tmp_path / "published" / "national"
    shutil.copytree(RULES / "national", copy)
    raise_food_a_max(copy / "pack.yaml")
    return copy


def _entries(url: str) -> list[chain.Entry]:
    return read_store(url, chain.entries)


def test_grade_explain_and_plan_use_the_published_pack(
    demo_url: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    published = _changed_national(tmp_path)
    code, _, err = run("rules", "propose", str(published), "--reason", "测试", "--db", demo_url)
    assert code == 0, err
    monkeypatch.setenv("SUIJIAN_USER", "审核员 approver")  # the second supervisor
    code, _, err = run("rules", "approve", "PR0001", "--reason", "已核对", "--db", demo_url)
    assert code == 0, err
    code, _, err = run("rules", "publish", str(published), "--db", demo_url)
    assert code == 0, err
    shutil.rmtree(published)  # what is on disk no longer matters: the store holds the version

    code, out, err = run("grade", "--as-of", "2025-12-31", "--json", "--db", demo_url)
    assert code == 0, err
    _, _, publish, grade = _entries(demo_url)
    assert grade.kind == "grade" and grade.get("pack") == publish.get("pack")
    assert json.loads(out)["pack"]["hash"] == publish.get("pack")["hash"]

    code, out, err = run("plan", "--as-of", "2025-12-31", "--period", "2026", "--seed", SEED, "--db", demo_url)
    assert code == 0, err
    assert _entries(demo_url)[-1].get("pack") == publish.get("pack")

    uscc = _first_subject(demo_url)
    code, out, err = run("explain", uscc, "--as-of", "2025-12-31", "--db", demo_url)
    assert code == 0, err
    assert "national/credit.yaml:" in out and "suijian-pack-" not in out


def test_an_explicit_pack_still_wins(demo_url: str) -> None:  # noqa: F811
    code, out, err = run(
        "grade", "--as-of", "2025-12-31", "--pack", str(RULES / "guangdong"), "--json", "--db", demo_url
    )
    assert code == 0, err
    assert json.loads(out)["pack"]["name"] == "guangdong"


def test_without_a_publication_the_shipped_national_pack_is_used(demo_url: str) -> None:  # noqa: F811
    code, out, err = run("grade", "--as-of", "2025-12-31", "--json", "--db", demo_url)
    assert code == 0, err
    assert json.loads(out)["pack"]["hash"] == load_pack(RULES / "national").hash


def _first_subject(url: str) -> str:
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(store.table("subject").select().order_by("uscc").limit(1)).first().uscc)
    finally:
        engine.dispose()
