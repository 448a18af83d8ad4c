"""`suijian rules diff` through the real CLI: the exact text, the JSON document, the HTML report (golden, on SQLite
and PostgreSQL, byte for byte), and one clear line — never a traceback — for each bad input.

The changed pack is a copy of rules/national with one rule threshold (score_new: < 365 → < 730 days), one
parameter (food_a_max 30 → 35) and one policy ratio (TS-SY-01 class A 5% → 100%) changed. Set
SUIJIAN_UPDATE_GOLDEN=1 to rewrite the golden files after an intended change, then read the diff."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.engine.test_whatif import RATIO, SEED, THRESHOLD, build_demo, edited_copy, run

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
FOOD = {
    "pack.yaml": ("  food_a_max:\n    type: float\n    default: 30", "  food_a_max:\n    type: float\n    default: 35")
}
PLAN_ARGS = ("--period", "2026", "--seed", SEED)


def regenerate_hint(name: str) -> str:
    return (
        f"output differs from tests/golden/{name}; if the change is intended, regenerate it with "
        f"`SUIJIAN_UPDATE_GOLDEN=1 pytest tests/commands/test_rules_diff.py` and review the diff"
    )


def check_golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("SUIJIAN_UPDATE_GOLDEN"):
        path.write_bytes(data)
    assert data == path.read_bytes(), regenerate_hint(name)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('rules-diff') / 'suijian.db'}"
    build_demo(url)
    return url


@pytest.fixture
def packs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`national` (a plain copy) and `changed` in the working directory, so reports name them relatively."""
    monkeypatch.chdir(tmp_path)
    edited_copy(tmp_path / "national")
    edited_copy(tmp_path / "changed", {**THRESHOLD, **RATIO, **FOOD})
    return tmp_path


def diff(*args: str) -> tuple[int, str, str]:
    return run("rules", "diff", *args)


def test_text_output_is_exact(demo: str, packs: Path) -> None:
    code, out, err = diff("national", "changed", "--as-of", "2025-12-31", *PLAN_ARGS, "--sample", "3", "--db", demo)
    assert (code, err) == (0, "")
    check_golden("rules_diff_cli.txt", out.encode("utf-8"))


def test_html_report_is_golden_on_every_store(store_url: str, packs: Path) -> None:
    build_demo(store_url)
    code, out, err = diff(
        "national",
        "changed",
        "--as-of",
        "2025-12-31",
        *PLAN_ARGS,
        "--sample",
        "3",
        "--out",
        "report.html",
        "--db",
        store_url,
    )
    assert (code, err) == (0, "")
    assert out.endswith("Wrote the report to report.html\n")
    html = (packs / "report.html").read_bytes()
    text = html.decode("utf-8")
    assert text.startswith('<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">')
    # Self-contained: no script, style sheet, image or font from anywhere (the SVG namespace is only a name).
    assert not re.search(r"<script|<link|<img|@import|url\(|src=", text)
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) == {"http://www.w3.org/2000/svg"}
    for heading in ("规则变更", "迁移矩阵", "计划影响", "样本", "各单位人员检查户次与能力"):
        assert heading in text
    check_golden("rules_diff_report.html", html)
    # Same inputs, same bytes.
    assert (
        diff(
            "national",
            "changed",
            "--as-of",
            "2025-12-31",
            *PLAN_ARGS,
            "--sample",
            "3",
            "--out",
            "again.html",
            "--db",
            store_url,
        )[0]
        == 0
    )
    assert (packs / "again.html").read_bytes() == html


def test_json_is_one_document(demo: str, packs: Path) -> None:
    code, out, err = diff(
        "national", "changed", "--as-of", "2025-12-31", *PLAN_ARGS, "--json", "--out", "r.html", "--db", demo
    )
    assert code == 0
    assert err == "Wrote the report to r.html\n"
    doc = json.loads(out)
    assert doc["format"] == "suijian.rules-diff/1" and doc["subjects"] == 1000
    assert [(c["kind"], c["id"]) for c in doc["changes"]["rules"]] == [
        ("modified", "score_new"),
        ("modified", "food_a"),
        ("modified", "food_b"),
    ]
    assert [c["id"] for c in doc["changes"]["parameters"]] == ["food_a_max"]
    assert [c["id"] for c in doc["changes"]["policy"]] == ["items.TS-SY-01.ratios.A"]
    assert doc["plan"]["period"] == {"label": "2026", "start": "2026-01-01", "end": "2026-12-31"}
    assert len(doc["sample"]) == 5 and doc["changed_subjects"] > 0


def test_a_pack_against_itself(demo: str, packs: Path) -> None:
    code, out, err = diff("national", "national", "--as-of", "2025-12-31", "--db", demo)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[1:] == [
        f"  old: national — national 2026.3, hash {lines[1].split('hash ')[1]}",
        f"  new: national — national 2026.3, hash {lines[1].split('hash ')[1]}",
        "No decision, rule, parameter or policy change (规则无变化).",
        "No subject changes: every output is the same for all 1,000 subjects.",
    ]
    assert lines[0] == "Rule diff as of 2025-12-31 on 1,000 subjects (all regions)"


def test_pack_text_is_printed_literally(demo: str, packs: Path) -> None:
    # rich would read "[cancelled, revoked, …]" as markup and print nothing.
    edited_copy(
        packs / "statuses",
        {
            "policy.yaml": (
                "excluded_statuses: [cancelled, revoked, moved_out, annulled]",
                "excluded_statuses: [cancelled, revoked, moved_out]",
            )
        },
    )
    code, out, err = diff("national", "statuses", "--as-of", "2025-12-31", "--db", demo)
    assert (code, err) == (0, "")
    assert "[cancelled, revoked, moved_out, annulled]" in out and "[cancelled, revoked, moved_out] " in out


def test_help_has_examples() -> None:
    code, out, _ = run("rules", "diff", "--help")
    assert code == 0
    assert "Examples:" in out and "suijian rules diff national /tmp/national-new --as-of 2025-12-31" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["national", "changed", "--period", "2026H1", "--seed", SEED],
            "Error: period '2026H1' is not 2026, 2026Q2 or LABEL:YYYY-MM-DD:YYYY-MM-DD (e.g. 第一批:2026-03-01:2026-05-31)",
        ),
        (
            ["national", "changed", "--period", "2026", "--seed", "123"],
            "Error: seed '123' is too short (3 characters): give at least 20 (e.g. 20 dice digits)",
        ),
        (
            ["national", "missing"],
            "Error: no rule pack 'missing': not a directory, nor a bundled pack (guangdong, national)",
        ),
        (
            ["bad", "national"],
            "Error: old pack: bad/credit.yaml:14: unknown_feature: unknown feature 'penalty_3y' (did you mean "
            "'penalties_3y'?) (and 85 more error(s)); the rule pack cannot be used",
        ),
        (
            ["national", "changed", "--as-of", "2024-06-30"],
            "Error: old pack national (national 2026.3) is in force 2025-01-01 to open-ended, not on 2024-06-30; "
            "pass another --as-of",
        ),
        (
            ["national", "changed", "--out", "nowhere/report.html"],
            "Error: cannot write nowhere/report.html: folder nowhere does not exist; choose another path",
        ),
        (
            ["national", "changed", "--region", "445299"],
            "Error: unknown region 445299 (not in the region table); check the GB/T 2260 code",
        ),
        (
            ["national", "changed", "--region", "12"],
            "Error: region '12' is not a 6-digit GB/T 2260 code or a 9-digit 街镇 code",
        ),
        (
            ["national", "changed", "--db", "sqlite:///no-such.db"],
            "Error: no store at no-such.db; create it with `suijian init` (or pass --db URL)",
        ),
    ],
    ids=["period", "seed", "no-pack", "broken-pack", "not-in-force", "out-dir", "region", "region-code", "no-store"],
)
def test_bad_input_is_one_line(demo: str, packs: Path, args: list[str], message: str) -> None:
    edited_copy(packs / "bad", {"credit.yaml": ("when: {penalties_3y: 1}", "when: {penalty_3y: 1}")})
    full = [*args]
    if "--as-of" not in full:
        full += ["--as-of", "2025-12-31"]
    if "--db" not in full:
        full += ["--db", demo]
    code, out, err = diff(*full)
    assert (code, out, err) == (1, "", message + "\n")
    assert not (packs / "report.html").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026"], "Error: --period and --seed go together: give both for the plan impact, or neither"),
        (["--seed", SEED], "Error: --period and --seed go together: give both for the plan impact, or neither"),
        (["--sample", "-1"], "Error: Invalid value for '--sample': -1 is not in the range 0<=x<=1000."),
        (
            ["--as-of", "2025/12/31"],
            "Error: Invalid value for '--as-of': '2025/12/31' does not match the format '%Y-%m-%d'.",
        ),
    ],
    ids=["period-without-seed", "seed-without-period", "sample", "date"],
)
def test_usage_errors_exit_2(demo: str, packs: Path, args: list[str], message: str) -> None:
    full = ["national", "changed", *args]
    if "--as-of" not in full:
        full += ["--as-of", "2025-12-31"]
    code, out, err = diff(*full, "--db", demo)
    assert (code, out) == (2, "")
    assert err.startswith("Usage: suijian rules diff [OPTIONS] OLD NEW\n")
    assert err.endswith("\n" + message + "\n") and "Traceback" not in err


def test_an_empty_store_and_a_store_without_check_items(store_url: str, packs: Path) -> None:
    code, out, err = diff("national", "national", "--as-of", "2025-12-31", "--db", store_url)
    assert (code, out, err) == (
        1,
        "",
        "Error: no subjects to compare: the store holds none; import them or run `suijian demo`\n",
    )
    code, out, err = diff("national", "national", "--as-of", "2025-12-31", *PLAN_ARGS, "--db", store_url)
    assert (code, out) == (1, "")
    assert err == (
        "Error: the store has no check items; load the catalogue with `suijian demo` or `suijian import items FILE`\n"
    )
