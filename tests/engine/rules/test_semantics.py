"""What a pack decides, hit policy by hit policy; every case runs on both engines and they must agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.rules import Pack, RecordError, Result, durable, load_pack, read_pack, reference
from tests.engine.rules.helpers import PACKS, rule, table, write_pack

ELSE = "- id: e\n  else: true\n  then: {grade: B}\n  reason: 其余\n  basis: 本规则包配置：测试\n"


def both(pack: Pack, record: dict[str, Any]) -> Result:
    want = reference.evaluate(pack, record)
    assert durable.evaluate(pack, record) == want
    assert durable.evaluate_many(pack, [record, record]) == [want, want]
    return want


def _unchecked(tmp_path: Path, text: str) -> Pack:
    """A pack whose tables may overlap (read without refusing), to see run-time behaviour."""
    pack, findings = read_pack(write_pack(tmp_path / "p", {"r.yaml": text}))
    assert pack is not None, findings
    return pack


def test_unique_violation_is_an_error_at_run_time_and_skips_readers(tmp_path: Path) -> None:
    reader = (
        "  - id: r\n    description: 读取 d\n    hit_policy: first\n    outputs: {z: int}\n    rules:\n"
        "      - id: z1\n        when: {grade: A}\n        then: {z: 1}\n        reason: 测试\n        basis: 本规则包配置：测试\n"
        "      - id: z2\n        else: true\n        then: {z: 0}\n        reason: 测试\n        basis: 本规则包配置：测试\n"
    )
    text = (
        table(
            rule("a", '{penalties_3y: "< 3"}') + rule("b", '{penalties_3y: "< 5"}', "{grade: C}") + ELSE,
            hit_policy="unique",
        )
        + reader
    )
    pack = _unchecked(tmp_path, text)
    result = both(pack, {"penalties_3y": 1})
    assert result.decision("d").error == "unique violation: rules a, b all match"
    assert result.decision("d").matched == ("a", "b") and result.decision("d").fired == ()
    assert result.decision("r").error == "skipped: it reads decision 'd', which failed"
    assert result.outputs == {"grade": None, "z": None}
    assert not result.ok and len(result.errors) == 2
    fine = both(pack, {"penalties_3y": 4})
    assert fine.ok and fine.outputs == {"grade": "C", "z": 0} and fine.fired == ("b", "z2")


def test_first_takes_the_first_match_and_else_only_when_nothing_matches(tmp_path: Path) -> None:
    pack = load_pack(
        write_pack(
            tmp_path / "p",
            {
                "r.yaml": table(
                    rule("a", '{penalties_3y: "< 3"}') + rule("b", '{penalties_3y: "< 5"}', "{grade: C}") + ELSE
                )
            },
        )
    )
    assert both(pack, {"penalties_3y": 1}).decision("d").fired == ("a",)
    assert both(pack, {"penalties_3y": 1}).decision("d").matched == ("a", "b")
    assert both(pack, {"penalties_3y": 4}).outputs == {"grade": "C"}
    nothing = both(pack, {"penalties_3y": 9})
    assert (
        nothing.decision("d").matched == ()
        and nothing.decision("d").fired == ("e",)
        and nothing.outputs == {"grade": "B"}
    )


def test_priority_picks_the_first_listed_value_then_the_earlier_row(tmp_path: Path) -> None:
    rules = (
        rule("score_a", "{}", "{grade: A}")
        + rule("forced_c", "{on_abnormal_list: true}", "{grade: C}")
        + rule("forced_d", "{whitelist: false}", "{grade: D}")
    )
    rules += rule("also_d", "{lenient: false}", "{grade: D}")
    pack = load_pack(
        write_pack(
            tmp_path / "p",
            {"r.yaml": table(rules, hit_policy="priority", outputs="{grade: {type: str, values: [D, C, B, A]}}")},
        )
    )
    assert both(pack, {"on_abnormal_list": True, "whitelist": True, "lenient": True}).fired == ("forced_c",)
    assert both(pack, {"on_abnormal_list": True, "whitelist": False, "lenient": False}).fired == ("forced_d",)
    assert both(pack, {"on_abnormal_list": True, "whitelist": True, "lenient": False}).fired == ("also_d",)
    assert both(pack, {}).outputs == {"grade": "A"}


def test_collect_gathers_each_value_once_in_table_order(tmp_path: Path) -> None:
    rules = (
        rule("t1", "{whitelist: false}", "{tasks: [X1, X2]}")
        + rule("t2", "{lenient: false}", "{tasks: [X2, X3]}")
        + rule("t3", "{on_abnormal_list: true}", "{tasks: []}")
    )
    pack = load_pack(
        write_pack(tmp_path / "p", {"r.yaml": table(rules, hit_policy="collect", outputs="{tasks: list}")})
    )
    assert both(pack, {"whitelist": False, "lenient": False}).outputs == {"tasks": ("X1", "X2", "X3")}
    assert both(pack, {"lenient": False, "whitelist": False, "on_abnormal_list": True}).fired == (
        "t1",
        "t2",
        "t3",
    )
    assert both(pack, {}).outputs == {"tasks": ()}


@pytest.mark.parametrize(
    ("aggregate", "record", "expected"),
    [
        ("sum", {"whitelist": False, "lenient": False}, 5),
        ("sum", {}, 0),
        ("count", {"whitelist": False, "lenient": False}, 2),
        ("count", {}, 0),
        ("min", {"whitelist": False, "lenient": False}, 2),
        ("max", {"whitelist": False, "lenient": False}, 3),
        ("min", {}, None),
        ("max", {"lenient": False}, 3),
    ],
)
def test_collect_aggregates(tmp_path: Path, aggregate: str, record: dict[str, Any], expected: Any) -> None:
    rules = rule("p1", "{whitelist: false}", "{n: 2}") + rule("p2", "{lenient: false}", "{n: 3}")
    pack, _ = read_pack(
        write_pack(
            tmp_path / "p",
            {"r.yaml": table(rules, hit_policy="collect", outputs="{n: int}", extra=f"    aggregate: {aggregate}\n")},
        )
    )
    assert pack is not None
    assert both(pack, record).outputs == {"n": expected}


def test_float_sums_are_bit_identical(tmp_path: Path) -> None:
    rules = "".join(rule(f"p{k}", "{whitelist: false}" if k % 2 else "{}", f"{{n: 0.{k}1}}") for k in range(1, 9))
    pack = load_pack(
        write_pack(
            tmp_path / "p",
            {"r.yaml": table(rules, hit_policy="collect", outputs="{n: float}", extra="    aggregate: sum\n")},
        )
    )
    assert both(pack, {"whitelist": False}).outputs["n"] == sum([0.11, 0.21, 0.31, 0.41, 0.51, 0.61, 0.71, 0.81], 0.0)


@pytest.mark.parametrize(
    ("when", "value", "matches"),
    [
        ('"!= 5"', None, False),
        ('"!= 5"', 4, True),
        ('"not in [1, 2]"', None, False),
        ('"not in [1, 2]"', 3, True),
        ('"missing"', None, True),
        ('"present"', None, False),
        ('"any"', None, True),
        ('"< 3 or missing"', None, True),
        ('"[1..3)"', 3, False),
        ('"(1..3]"', 1, False),
        ('"(1..3]"', 3, True),
        ("2", 2, True),
        ('"in [0, 2]"', 2, True),
    ],
)
def test_missing_values_and_boundaries(tmp_path: Path, when: str, value: Any, matches: bool) -> None:
    pack = load_pack(
        write_pack(
            tmp_path / "p",
            {"r.yaml": table(rule("a", f"{{days_since_last_check: {when}}}"), hit_policy="collect")},
        )
    )
    assert both(pack, {"days_since_last_check": value}).fired == (("a",) if matches else ())


def test_loose_typing_cannot_reach_either_engine() -> None:
    pack = load_pack(PACKS / "base")
    for record, message in [
        ({"penalties_3y": "9"}, "feature 'penalties_3y': expected a whole number, got '9'"),
        ({"penalties_3y": True}, "feature 'penalties_3y': expected a whole number, got True"),
        ({"on_abnormal_list": 1}, "feature 'on_abnormal_list': expected true or false, got 1"),
        (
            {"status": "closed"},
            "feature 'status': expected one of active, revoked, cancelled, moved_out, annulled, got 'closed'",
        ),
        (
            {"food_risk_score": float("nan")},
            "feature 'food_risk_score': expected a finite number (use None for missing), got nan",
        ),
    ]:
        for engine in (reference, durable):
            with pytest.raises(RecordError) as caught:
                engine.evaluate(pack, record)
            assert str(caught.value) == message
    # Ints are fine for float features and are compared as numbers.
    assert both(pack, {"food_risk_score": 30}).outputs["food_grade"] == "A"


def test_the_test_pack_on_both_engines() -> None:
    pack = load_pack(PACKS / "base")
    for case in pack.cases:
        both(pack, dict(case.given))
