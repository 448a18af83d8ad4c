"""`suijian grade`, `plan` and `tasks export` through the CLI: the happy path, and one clear line (nothing
written) for each bad input — no seed, short seed, unknown region, unknown item, no grade run, empty population."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli import suijian
from entities import store
from tests.helpers import load_demo_store
from tests.helpers import run_cli as run
from tests.store_template import StoreCopies

SEED = "38147205519264810375"


def plans(url: str) -> int:
    engine = store.make_engine(url)
    try:
        with engine.connect() as conn:
            return store.count_rows(conn, "plan")
    finally:
        engine.dispose()


@pytest.fixture
def demo_url(store_url: str, store_copies: StoreCopies, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    store_copies.fill(store_url, "demo 800 loaded", lambda: load_demo_store(store_url, 800))
    return store_url


def test_grade_plan_export(demo_url: str, tmp_path: Path) -> None:
    code, out, err = run("grade", "--as-of", "2025-12-31", "--json", "--db", demo_url)
    assert code == 0, err
    graded = json.loads(out)
    assert graded["subjects"] == 800 and set(graded["distributions"]["credit_class"]) <= {"A", "B", "C", "D"}
    code, out, err = run(
        "plan", "--as-of", "2025-12-31", "--period", "2026Q1", "--seed", SEED, "--json", "--db", demo_url
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["new"] and doc["plan_id"].startswith("P2026Q1-") and doc["grade_run"] == graded["run_id"]
    assert doc["repeat_visits"]["random_rate"] == 0
    # No --region: not a province's plan, so device production (令53号 第49条, level: provincial) is not drawn.
    assert doc["not_drawn_at_this_level"] == {"YL-SC-01": "provincial item, not drawn at this level"}
    assert "YL-SC-01" not in [i["code"] for i in doc["items"]]
    # Same inputs → the same plan (same id, not stored twice).
    code, out2, _ = run(
        "plan", "--as-of", "2025-12-31", "--period", "2026Q1", "--seed", SEED, "--json", "--db", demo_url
    )
    assert code == 0 and json.loads(out2)["plan_id"] == doc["plan_id"] and not json.loads(out2)["new"]
    code, text, _ = run("plan", "--as-of", "2025-12-31", "--period", "2026Q1", "--seed", SEED, "--db", demo_url)
    assert code == 0 and "YL-SC-01: provincial item, not drawn at this level (level: provincial" in text
    assert plans(demo_url) == 1
    target = tmp_path / "t.csv"
    code, out, err = run("tasks", "export", "--format", "csv", "--out", str(target), "--db", demo_url)
    assert code == 0, err
    assert out.startswith(f"Wrote {doc['visits']['planned']:,} visits of plan {doc['plan_id']} to {target}")
    assert target.read_bytes().startswith("\ufeff序号,统一社会信用代码".encode())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "123"], "Error: seed '123' is too short (3 characters): give at least 20 (e.g. 20 dice digits)\n"),
        (["--seed", SEED, "--item", "XX-01"], "Error: unknown check item XX-01; known: "),
        (
            ["--seed", SEED, "--region", "445299"],
            "Error: unknown region 445299 (not in the region table); check the GB/T 2260 code\n",
        ),
        (
            ["--seed", SEED, "--period", "2026H1"],
            "Error: period '2026H1' is not 2026, 2026Q2 or LABEL:YYYY-MM-DD:YYYY-MM-DD (e.g. 第一批:2026-03-01:2026-05-31)\n",
        ),
    ],
)
def test_bad_plan_input_is_one_line_and_writes_nothing(demo_url: str, args: list[str], message: str) -> None:
    assert run("grade", "--as-of", "2025-12-31", "--db", demo_url)[0] == 0
    base = ["plan", "--as-of", "2025-12-31", "--db", demo_url]
    if "--period" not in args:
        base += ["--period", "2026"]
    code, out, err = run(*base, *args)
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("Error: ")
    assert message in err
    assert plans(demo_url) == 0


def test_plan_without_a_grade_run_names_the_command(demo_url: str) -> None:
    code, _, err = run("plan", "--as-of", "2025-12-31", "--period", "2026", "--seed", SEED, "--db", demo_url)
    assert (code, err) == (1, "Error: no grade run as of 2025-12-31; run `suijian grade --as-of 2025-12-31` first\n")


def test_plan_without_seed_is_a_usage_error(demo_url: str) -> None:
    code, _, err = run("plan", "--as-of", "2025-12-31", "--period", "2026", "--db", demo_url)
    assert code == 2 and "missing --seed (or --commit-seed SHA256 to commit to one first)" in err


def test_export_without_a_plan(demo_url: str) -> None:
    assert run("tasks", "export", "--db", demo_url) == (
        1,
        "",
        "Error: no plan in the store; run `suijian plan` first\n",
    )


def test_every_command_has_help_with_an_example() -> None:
    def walk(group: Any, prefix: list[str]) -> list[list[str]]:
        names = []
        for name, cmd in group.commands.items():
            names.append([*prefix, name])
            if hasattr(cmd, "commands"):
                names.extend(walk(cmd, [*prefix, name]))
        return names

    for path in walk(suijian, []):
        code, out, _ = run(*path, "--help")
        assert code == 0, path
        if not hasattr(suijian.get_command(None, path[0]), "commands") or len(path) > 1:  # type: ignore[arg-type]
            assert "Example" in out, f"suijian {' '.join(path)} --help has no example"


def test_plan_with_no_check_items_names_the_fix(demo_url: str) -> None:
    assert run("grade", "--as-of", "2025-12-31", "--db", demo_url)[0] == 0
    engine = store.open_store(demo_url)
    with engine.begin() as conn:
        conn.execute(store.table("check_item").delete())
    engine.dispose()
    code, _, err = run("plan", "--as-of", "2025-12-31", "--period", "2026", "--seed", SEED, "--db", demo_url)
    assert (code, err) == (
        1,
        "Error: the store has no check items; load the catalogue with `suijian demo` or `suijian import items FILE`\n",
    )
    assert plans(demo_url) == 0


def test_a_seed_or_label_that_looks_like_markup_is_printed_as_is(demo_url: str) -> None:
    # Regression: "[/]" in the seed crashed the console (rich markup) after the plan was committed.
    assert run("grade", "--as-of", "2025-12-31", "--db", demo_url)[0] == 0
    code, out, err = run(
        "plan",
        "--as-of",
        "2025-12-31",
        "--period",
        "[b]批:2026-03-01:2026-05-31",
        "--seed",
        "[/]2345678901234567890123",
        "--db",
        demo_url,
    )
    assert code == 0, err
    assert "period [b]批 (2026-03-01 – 2026-05-31)" in out and "seed '[/]2345678901234567890123'" in out


def test_a_fitted_plan_reports_its_layers(demo_url: str) -> None:
    code, _, err = run("grade", "--as-of", "2025-12-31", "--db", demo_url)
    assert code == 0, err
    code, out, err = run(
        "plan", "--as-of", "2025-12-31", "--period", "2026", "--seed", SEED, "--json", "--db", demo_url
    )
    assert code == 0, err
    doc = json.loads(out)
    # The format of the document as stored (a regression: --json named the in-memory plan/2).
    assert doc["format"] == "suijian.plan/3"
    assert [layer["name"] for layer in doc["fit"]["layers"]] == ["mandatory", "floors", "frequency", "ratios"]
    for layer in doc["fit"]["layers"]:
        assert layer["demand"] == layer["covered"] + layer["shortfall"]
        left = sum(row["visits"] for row in layer["left_out"])
        # Mandatory and frequency work is left out in visits; draws per item, nested in a cell's visits.
        assert left == layer["shortfall"] if layer["name"] in ("mandatory", "frequency") else left >= layer["shortfall"]
    # Every drawn subject-item is on a staffed visit.
    assert doc["unstaffed"]["entries"] == 0
    assert not any(
        d["code"] == "capacity" and set(d["items"]) - set(d["mandatory"])
        for d in doc["uncovered"]["list"]
        if not d["visit"].count("#")
    )
    code, text, _ = run("plan", "--as-of", "2025-12-31", "--period", "2026", "--seed", SEED, "--db", demo_url)
    assert code == 0
    assert "容量分配 capacity shared out, layer by layer" in text and "Fitted to capacity:" in text


def test_per_item_seeds_cannot_make_a_fitted_plan(demo_url: str, tmp_path: Path) -> None:
    import shutil

    pack = tmp_path / "per-item"
    shutil.copytree(Path(__file__).resolve().parents[2] / "rules" / "national", pack)
    with (pack / "policy.yaml").open("a", encoding="utf-8") as f:
        f.write("\nitem_seeds: per_item\n")
    code, _, err = run("grade", "--as-of", "2025-12-31", "--pack", str(pack), "--db", demo_url)
    assert code == 0, err
    code, out, err = run(
        "plan", "--as-of", "2025-12-31", "--period", "2026", "--seed", SEED, "--pack", str(pack), "--db", demo_url
    )
    assert code == 1
    assert err.strip().splitlines() == [
        "Error: item_seeds: per_item cannot make a fitted plan: with a seed per item the visits a cell needs are not "
        "known before the draw; set item_seeds: shared in the pack's policy.yaml"
    ]
    assert plans(demo_url) == 0


def test_publish_plan_lets_anyone_check_the_draw(demo_url: str, tmp_path: Path) -> None:
    import consistent_sampler as cs
    import openpyxl

    assert run("grade", "--as-of", "2025-12-31", "--db", demo_url)[0] == 0
    code, out, err = run(
        "plan", "--as-of", "2025-12-31", "--period", "2026", "--seed", SEED, "--json", "--db", demo_url
    )
    assert code == 0, err
    doc = json.loads(out)
    first, second = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    for target in (first, second):
        code, out, err = run(
            "publish", "plan", "--published-on", "2026-01-05", "--out", str(target), "--json", "--db", demo_url
        )
        assert code == 0, err
    assert first.read_bytes() == second.read_bytes()  # same plan, same day: same bytes
    published = json.loads(out)
    book = openpyxl.load_workbook(first, read_only=True)
    assert book.sheetnames == ["抽查计划", "抽查事项", "分层抽取", "抽中名单"]
    about = dict(book["抽查计划"].iter_rows(min_row=2, values_only=True))
    assert about["计划编号 plan"] == doc["plan_id"] and about["随机种子 seed"] == SEED
    drawn = list(book["抽中名单"].iter_rows(min_row=2, values_only=True))
    assert len(drawn) == published["drawn"] == sum(i["drawn_count"] for i in doc["items"])
    for _item, uscc, _name, _stratum, ticket in drawn:
        assert ticket == cs.first_ticket(uscc, SEED).ticket_number
    # Every stratum drew its smallest tickets: a drawn ticket never exceeds its stratum's cut-off.
    cutoff = {(r[0], r[1]): r[8] for r in book["分层抽取"].iter_rows(min_row=2, values_only=True)}
    for item, _uscc, _name, stratum, ticket in drawn:
        assert float(ticket) <= float(cutoff[(item, stratum)])
    code, _, err = run("publish", "plan", "--out", str(tmp_path / "x.csv"), "--db", demo_url)
    assert code == 2 and "--out names the .xlsx file to write" in err
