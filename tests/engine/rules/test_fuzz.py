"""Any text as a rule file, manifest or test file gives findings, never a traceback: check_pack returns, and
load_pack raises nothing but PackError (a SuijianError)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.rules import Finding, PackError, check_pack, load_pack
from entities.errors import SuijianError
from tests.engine.rules.helpers import MANIFEST, rule, table
from tests.engine.rules.packgen import dump

_DIR = Path(tempfile.mkdtemp(prefix="suijian-fuzz-"))
(_DIR / "tests").mkdir()
_VALID_RULES = table(rule("a", '{penalties_3y: "< 3"}') + rule("b", "{}"))

_FAST = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def _only_our_errors(files: dict[str, str]) -> None:
    for name in ("pack.yaml", "r.yaml", "tests/cases.yaml"):
        (_DIR / name).write_text(files.get(name, ""), encoding="utf-8")
    findings = check_pack(_DIR)
    assert all(isinstance(f, Finding) for f in findings)
    try:
        load_pack(_DIR)
    except PackError as exc:
        assert isinstance(exc, SuijianError) and exc.findings == findings


@_FAST
@given(text=st.text())
def test_any_text_as_a_rule_file(text: str) -> None:
    _only_our_errors({"pack.yaml": MANIFEST, "r.yaml": text})


@_FAST
@given(text=st.text())
def test_any_text_as_a_manifest(text: str) -> None:
    _only_our_errors({"pack.yaml": text, "r.yaml": _VALID_RULES})


@_FAST
@given(text=st.text())
def test_any_text_as_a_test_file(text: str) -> None:
    _only_our_errors({"pack.yaml": MANIFEST, "r.yaml": _VALID_RULES, "tests/cases.yaml": text})


# Structured fuzz: YAML that parses, shaped like a pack, with every field possibly of the wrong kind.

_WORDS = [
    "decisions", "id", "description", "hit_policy", "aggregate", "inputs", "outputs", "rules", "when", "then", "else",
    "reason", "basis", "before", "after", "type", "values", "default", "comment", "cases", "given", "expect", "fired",
    "name", "version", "jurisdiction", "effective_from", "effective_to", "parent", "parameters", "data",
    "penalties_3y", "status", "whitelist", "food_risk_score", "days_since_last_check", "grade", "d", "a", "$param.x",
    "unique", "first", "priority", "collect", "sum", "min", "max", "count", "int", "float", "bool", "str", "list",
]  # fmt: skip
_CONDITIONS = [
    "< 3",
    "[1..2)",
    "in [A, B]",
    "not in [active]",
    "missing",
    "present",
    "any",
    "$param.x",
    ">= $param.x",
    "active",
    "(0..5] or > 5",
]
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 100),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(_WORDS + _CONDITIONS),
    st.text(max_size=8),
    st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2040, 1, 1)),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(_WORDS), st.text(max_size=5), st.integers(0, 3)), inner, max_size=5),
    ),
    max_leaves=20,
)


def _field(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(value, value, value, _values)


_rule = st.fixed_dictionaries(
    {
        "id": _field(st.sampled_from(["a", "b", "c", "a b"])),
        "when": _field(
            st.dictionaries(
                st.sampled_from(["penalties_3y", "status", "whitelist", "grade", "$param.x", "nope"]),
                st.sampled_from(_CONDITIONS + [True, 3, [1, 2]]),
                max_size=3,
            )
        ),
        "then": _field(
            st.dictionaries(
                st.sampled_from(["grade", "n"]), st.sampled_from(["A", "B", 1, [1], "$param.x"]), max_size=2
            )
        ),
        "reason": _field(st.sampled_from(["原因", ""])),
        "basis": _field(st.sampled_from(["依据", ""])),
    },
    optional={"else": _field(st.booleans()), "before": _field(st.sampled_from(["a", "z"]))},
)
_decision = st.fixed_dictionaries(
    {
        "id": _field(st.sampled_from(["d", "e", "grade", "status"])),
        "description": _field(st.just("决策")),
        "hit_policy": _field(st.sampled_from(["unique", "first", "priority", "collect", "uniq"])),
        "outputs": _field(
            st.sampled_from(
                [
                    {"grade": {"type": "str", "values": ["A", "B"]}},
                    {"n": "int"},
                    {"grade": "str", "n": "float"},
                    {"grade": {"type": "list"}},
                ]
            )
        ),
        "rules": _field(st.lists(_rule, max_size=4)),
    },
    optional={
        "aggregate": _field(st.sampled_from(["sum", "count", "avg"])),
        "inputs": _field(st.lists(st.sampled_from(["penalties_3y", "d", "d.grade", "x"]), max_size=3)),
    },
)
_file = st.fixed_dictionaries({"decisions": _field(st.lists(_decision, max_size=3))}, optional={"description": _values})
_manifest = st.fixed_dictionaries(
    {
        "name": _field(st.just("t")),
        "version": _field(st.just("1")),
        "jurisdiction": _field(st.just("测试")),
        "effective_from": _field(st.just(dt.date(2025, 1, 1))),
    },
    optional={
        "parameters": _field(
            st.dictionaries(
                st.sampled_from(["x", "y", "X Y"]),
                _field(
                    st.sampled_from(
                        [
                            3,
                            2.5,
                            True,
                            "A",
                            ["A"],
                            {"type": "int", "default": 3},
                            {"type": "list", "default": [1]},
                        ]
                    )
                ),
                max_size=2,
            )
        ),
        "parent": _field(st.sampled_from([".", "../nowhere", "no_such_pack", "tests"])),
        "data": _values,
    },
)
_cases = st.fixed_dictionaries(
    {
        "cases": _field(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "name": _field(st.just("c")),
                        "given": _field(st.just({"penalties_3y": 1})),
                        "expect": _field(st.just({"grade": "A"})),
                    },
                    optional={"fired": _values},
                ),
                max_size=2,
            )
        )
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(manifest=_manifest, rules=_file, cases=_cases)
def test_pack_shaped_yaml_with_wrong_kinds_everywhere(
    manifest: dict[str, Any], rules: dict[str, Any], cases: dict[str, Any]
) -> None:
    _only_our_errors({"pack.yaml": dump(manifest), "r.yaml": dump(rules), "tests/cases.yaml": dump(cases)})
