"""`suijian rules backtest` through the CLI: exact text on the hand-built store of tests/engine/test_backtest.py,
the --json document, and one clear line (exit 1, or 2 for usage) for every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from cli import suijian
from commands import backtest as backtest_module
from engine.rules import load_pack
from tests.engine.test_backtest import CHECKS_PACK, PENALTIES_PACK, load_world, write_pack
from tests.helpers import run_cli as run

AS_OF = "2024-12-31"


@pytest.fixture
def url(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The hand-built store, and the packs `penalties` and `checks` in the working directory."""
    engine = sa.create_engine(store_url)
    load_world(engine)
    engine.dispose()
    monkeypatch.chdir(tmp_path)
    write_pack(tmp_path, "penalties", PENALTIES_PACK)
    write_pack(tmp_path, "checks", CHECKS_PACK)
    write_pack(tmp_path, "broken", PENALTIES_PACK.replace("penalties_3y: 0}", "penalty_3y: 0}"))
    return store_url


def _hash(directory: str) -> str:
    return load_pack(directory).hash[:12]


FOOTNOTE = """\
checked: subjects with a check in the window; findings: checks with a finding; share: the class's share of all
findings; 1st half: the share of the class's checks done by 2025-07-01. A finding is a result code other than
未发现问题 and the status codes (未发现开展经营活动, 已关闭停业, 注销, 吊销, 撤销, 迁出). Lift: the hit rate
of the riskiest class over the least risky (A < D, 1 < 4), among the classes with 1 check or more.
Selection bias: these checks were chosen by the plan then in force, not at random across the classes. Where it
was risk-weighted or checks followed leads, the classes it favoured were checked more and for cause, so their
hit rates are not what a random check would find. Compare packs on the same checks; --kind random keeps to the
双随机 draws. Subject status, food scores and equipment records are the store's current values, not as of
--as-of.
"""


def test_command_is_attached_under_rules() -> None:
    assert (
        "backtest" not in suijian.commands
        and suijian.commands["rules"].commands["backtest"] is backtest_module.backtest
    )
    code, out, _ = run("rules", "--help")
    assert code == 0 and "backtest" in out


def test_help_explains_the_measure_and_its_limit() -> None:
    code, out, _ = run("rules", "backtest", "--help")
    assert code == 0
    for words in (
        "hit rate",
        "lift",
        "selection bias",
        "Examples:",
        "suijian rules backtest national --as-of 2025-01-01",
        "--until",
        "--kind",
        "--json",
    ):
        assert words in " ".join(out.split()), words


def test_exact_text_for_one_pack(url: str) -> None:
    code, out, err = run("rules", "backtest", "penalties", "--as-of", AS_OF, "--min-checks", "1", "--db", url)
    assert (code, err) == (0, "")
    assert (
        out
        == f"""\
Backtest as of 2024-12-31: checks with 2024-12-31 < checked_on <= 2025-12-31 (first half to 2025-07-01; the store's latest check: 2026-01-01)
Population: 6 subjects registered by 2024-12-31 (1 registered later left out)
Checks of these subjects: 9 (5 subjects checked), 4 with a finding (44.4%); 2 checks of other subjects (registered later or not in the store) left out
Findings in the first half: 3 of 4 (75.0%)
Pack penalties: penalties 1 (hash {_hash("penalties")})

credit_class
┏━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━┳━━━━━━━━━━┓
┃ class ┃ subjects ┃ checked ┃ checks ┃ findings ┃ hit rate ┃ share ┃ 1st half ┃
┡━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━┩
│ A     │        3 │       2 │      4 │        1 │    25.0% │ 25.0% │    50.0% │
│ B     │        1 │       1 │      2 │        1 │    50.0% │ 25.0% │    50.0% │
│ C     │        1 │       1 │      2 │        2 │   100.0% │ 50.0% │    50.0% │
│ D     │        1 │       1 │      1 │        0 │     0.0% │  0.0% │   100.0% │
└───────┴──────────┴─────────┴────────┴──────────┴──────────┴───────┴──────────┘
lift: D over A = 0.00× (hit rate 0.0% of 1 check vs 25.0% of 4; checks in 1st half 100.0% vs 50.0%)

hazard_level
┏━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━┓
┃ class ┃ subjects ┃ checked ┃ checks ┃ findings ┃ hit rate ┃  share ┃ 1st half ┃
┡━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━┩
│ 1     │        5 │       5 │      9 │        4 │    44.4% │ 100.0% │    55.6% │
│ 2     │        1 │       0 │      0 │        0 │        — │   0.0% │        — │
└───────┴──────────┴─────────┴────────┴──────────┴──────────┴────────┴──────────┘
lift: — (fewer than two ranked classes with 1 check or more)

{FOOTNOTE}"""
    )


def test_packs_side_by_side(url: str) -> None:
    code, out, err = run(
        "rules",
        "backtest",
        "penalties",
        "checks",
        "--as-of",
        AS_OF,
        "--until",
        "2025-12-31",
        "--min-checks",
        "1",
        "--output",
        "credit_class",
        "--db",
        url,
    )
    assert (code, err) == (0, "")
    assert out.split("\n\n")[1:] == [
        """\
credit_class
┏━━━━━━━━━━━┳━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━┓
┃ pack      ┃ class ┃ subjects ┃ checked ┃ checks ┃ findings ┃ hit rate ┃  share ┃ 1st half ┃
┡━━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━┩
│ penalties │     A │        3 │       2 │      4 │        1 │    25.0% │  25.0% │    50.0% │
│           │     B │        1 │       1 │      2 │        1 │    50.0% │  25.0% │    50.0% │
│           │     C │        1 │       1 │      2 │        2 │   100.0% │  50.0% │    50.0% │
│           │     D │        1 │       1 │      1 │        0 │     0.0% │   0.0% │   100.0% │
├───────────┼───────┼──────────┼─────────┼────────┼──────────┼──────────┼────────┼──────────┤
│ checks    │     A │        4 │       3 │      6 │        4 │    66.7% │ 100.0% │    50.0% │
│           │     D │        2 │       2 │      3 │        0 │     0.0% │   0.0% │    66.7% │
└───────────┴───────┴──────────┴─────────┴────────┴──────────┴──────────┴────────┴──────────┘
lift penalties: D over A = 0.00× (hit rate 0.0% of 1 check vs 25.0% of 4; checks in 1st half 100.0% vs 50.0%)
lift checks: D over A = 0.00× (hit rate 0.0% of 3 checks vs 66.7% of 6; checks in 1st half 66.7% vs 50.0%)""",
        FOOTNOTE,
    ]
    assert f"Pack checks: checks 2 (hash {_hash('checks')})\n" in out


def test_only_random_checks(url: str) -> None:
    code, out, err = run("rules", "backtest", "penalties", "--as-of", AS_OF, "--kind", "random", "--db", url)
    assert (code, err) == (0, "")
    assert out.splitlines()[:3] == [
        "Backtest as of 2024-12-31: checks of kind random with 2024-12-31 < checked_on <= 2025-12-31 (first half "
        "to 2025-07-01; the store's latest check of kind random: 2026-01-01)",
        "Population: 6 subjects registered by 2024-12-31 (1 registered later left out)",
        "Checks of these subjects: 8 (5 subjects checked), 3 with a finding (37.5%); 2 checks of other subjects "
        "(registered later or not in the store) left out",
    ]
    assert "lift: — (fewer than two ranked classes with 30 checks or more)" in out


def test_json_document(url: str) -> None:
    code, out, err = run(
        "rules", "backtest", "penalties", "checks", "--as-of", AS_OF, "--min-checks", "2", "--json", "--db", url
    )
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert set(doc) == {
        "ok",
        "as_of",
        "until",
        "first_half_until",
        "kinds",
        "min_checks_for_lift",
        "finding_codes",
        "last_check_on",
        "population",
        "checks",
        "packs",
    }
    assert (doc["as_of"], doc["until"], doc["first_half_until"], doc["kinds"]) == (
        "2024-12-31",
        "2025-12-31",
        "2025-07-01",
        None,
    )
    assert doc["population"] == {"subjects": 6, "registered_later": 1}
    assert doc["checks"]["of_population"] == 9 and doc["checks"]["first_half_share_of_findings"] == 0.75
    assert [(p["directory"], p["name"], p["version"], p["hash"][:12]) for p in doc["packs"]] == [
        ("penalties", "penalties", "1", _hash("penalties")),
        ("checks", "checks", "2", _hash("checks")),
    ]
    credit = doc["packs"][0]["outputs"][0]
    assert [(c["class"], c["checks"], c["checks_with_finding"], c["hit_rate"]) for c in credit["classes"]] == [
        ("A", 4, 1, 0.25),
        ("B", 2, 1, 0.5),
        ("C", 2, 2, 1.0),
        ("D", 1, 0, 0.0),
    ]
    assert credit["lift"] == {
        "highest": "C",
        "lowest": "A",
        "value": 4.0,
        "highest_hit_rate": 1.0,
        "lowest_hit_rate": 0.25,
        "highest_first_half_share_of_checks": 0.5,
        "lowest_first_half_share_of_checks": 0.5,
    }
    assert [o["output"] for o in doc["packs"][1]["outputs"]] == ["credit_class"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["penalties", "--as-of", AS_OF, "--until", "2024-06-30"],
            2,
            "Error: --until 2024-06-30 is not after --as-of 2024-12-31; the window is as_of < checked_on <= until",
        ),
        (
            ["penalties", "--as-of", "2021-12-31"],
            1,
            "Error: no check results with 2021-12-31 < checked_on <= 2022-12-31 (the store's latest check: "
            "2026-01-01); pick an --as-of inside the recorded history, or import results",
        ),
        (
            ["penalties", "--as-of", AS_OF, "--kind", "targeted"],
            1,
            "Error: no check results of kind targeted with 2024-12-31 < checked_on <= 2025-12-31 (the store holds "
            "none); pick an --as-of inside the recorded history, or import results",
        ),
        (
            ["broken", "--as-of", AS_OF],
            1,
            "Error: broken/rules.yaml:9: unknown_feature: unknown feature 'penalty_3y' (did you mean "
            "'penalties_3y'?); the rule pack cannot be used",
        ),
        (
            ["missing-pack", "--as-of", AS_OF],
            1,
            "Error: no rule pack 'missing-pack': not a directory, nor a bundled pack (guangdong, national)",
        ),
        (
            ["penalties", "checks", "--as-of", "2026-01-01"],
            1,
            "Error: rule pack checks 2 (checks) is in force 2024-01-01 to 2025-12-31, not on 2026-01-01; pass an "
            "--as-of when it was in force",
        ),
        (
            ["penalties", "--as-of", AS_OF, "--output", "food_grade"],
            1,
            "Error: no pack has an output 'food_grade'; outputs: credit_class, hazard_level, risk_score, tasks",
        ),
        (
            ["penalties", "--as-of", AS_OF, "--output", "tasks"],
            2,
            "Error: output 'tasks' of pack penalties is a list (a task list), not a class; pass an output with one "
            "value per subject",
        ),
        (
            ["penalties", "--as-of", "31.12.2024"],
            2,
            "Error: Invalid value for '--as-of': '31.12.2024' does not match the format '%Y-%m-%d'.",
        ),
        (["--as-of", AS_OF], 2, "Error: Missing argument 'PACK [PACK…]'."),
        (["penalties"], 2, "Error: Missing option '--as-of'."),
    ],
)
def test_bad_input_is_one_line(url: str, args: list[str], code: int, message: str) -> None:
    got, out, err = run("rules", "backtest", *args, "--db", url)
    assert (got, out) == (code, "")
    assert err.splitlines()[-1] == message
    assert "Traceback" not in err


def test_store_that_does_not_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_pack(tmp_path, "penalties", PENALTIES_PACK)
    got, out, err = run("rules", "backtest", "penalties", "--as-of", AS_OF, "--db", f"sqlite:///{tmp_path}/no.db")
    assert (got, out) == (1, "")
    assert err == f"Error: no store at {tmp_path}/no.db; create it with `suijian init` (or pass --db URL)\n"


def test_store_without_checks(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_pack(tmp_path, "penalties", PENALTIES_PACK)
    got, out, err = run("rules", "backtest", "penalties", "--as-of", AS_OF, "--db", store_url)
    assert (got, out) == (1, "")
    assert err == (
        "Error: no check results with 2024-12-31 < checked_on <= 2025-12-31 (the store holds none); "
        "pick an --as-of inside the recorded history, or import results\n"
    )
