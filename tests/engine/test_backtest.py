"""Backtesting packs on a hand-built store: exact per-class figures, worked out by hand, on SQLite and PostgreSQL.

The store: six subjects graded as of 2024-12-31 and the checks of 2025 (first half to 2025-07-01).

    subject  penalties≤as_of  before as_of              window checks (as_of < checked_on <= 2025-12-31)
    S1       0                2024-06-01 problem         03-01 no_problem, 09-01 no_problem
    S2       0                —                          02-01 unpublished_info, 10-01 no_activity (not a finding)
    S3       1                —                          07-01 fixed+other (first half: the midpoint counts), 07-02 ok
    S4       2                —                          01-01 false_info, 12-31 unreachable (a lead check)
    S5       3                2024-12-31 obstructed      04-01 no_problem; 2026-01-01 unreachable is after the window
    S6       0 (one in 2025)  on the abnormal list       —
    S7       registered 2025-03-01 (left out)            06-01 unreachable (left out)
    X        not in the store                            05-05 no_problem (left out)

Pack "penalties" grades credit_class by penalties_3y (0 A, 1 B, 2 C, 3+ D) and hazard_level 2 for the abnormal
list, else 1. Pack "checks" grades D when problem_checks_3y >= 1, else A: S1 and S5 (their earlier problems)
are D, and S2 stays A because its 2025 finding is after as_of.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine.backtest import Backtest, backtest, class_outputs, midpoint, one_year_after, rank
from engine.features.compute import features_of
from engine.rules import load_pack
from entities import codes, store
from entities.errors import InputError, UsageError
from entities.models import CheckResultCreate, ListEntryCreate, PenaltyCreate, SubjectCreate

AS_OF = dt.date(2024, 12, 31)
UNTIL = dt.date(2025, 12, 31)


def uscc(n: int) -> str:
    body = f"91445203{n:09d}"
    return body + codes.uscc_check_digit(body)


S1, S2, S3, S4, S5, S6, S7, X = (uscc(n) for n in range(1, 9))

_RULE = "reason: 测试\n        basis: 本规则包配置：测试用"

PENALTIES_PACK = f"""\
name: penalties
version: "1"
jurisdiction: 测试辖区
effective_from: 2020-01-01
decisions:
  - id: credit_class
    description: 测试
    hit_policy: unique
    outputs:
      credit_class: {{type: str, values: [A, B, C, D]}}
    rules:
      - id: a
        when: {{penalties_3y: 0}}
        then: {{credit_class: A}}
        {_RULE}
      - id: b
        when: {{penalties_3y: 1}}
        then: {{credit_class: B}}
        {_RULE}
      - id: c
        when: {{penalties_3y: 2}}
        then: {{credit_class: C}}
        {_RULE}
      - id: d
        when: {{penalties_3y: ">= 3"}}
        then: {{credit_class: D}}
        {_RULE}
  - id: hazard_level
    description: 测试
    hit_policy: first
    outputs:
      hazard_level: int
    rules:
      - id: listed
        when: {{on_abnormal_list: true}}
        then: {{hazard_level: 2}}
        {_RULE}
      - id: others
        else: true
        then: {{hazard_level: 1}}
        {_RULE}
  - id: risk_score
    description: 测试
    hit_policy: collect
    aggregate: sum
    outputs:
      risk_score: int
    rules:
      - id: score
        when: {{penalties_3y: "> 0"}}
        then: {{risk_score: 5}}
        {_RULE}
  - id: tasks
    description: 测试
    hit_policy: collect
    outputs:
      tasks: {{type: list, values: [DJ-GS-01]}}
    rules:
      - id: task
        when: {{penalties_3y: ">= 0"}}
        then: {{tasks: [DJ-GS-01]}}
        {_RULE}
"""

CHECKS_PACK = f"""\
name: checks
version: "2"
jurisdiction: 测试辖区
effective_from: 2024-01-01
effective_to: 2025-12-31
decisions:
  - id: credit_class
    description: 测试
    hit_policy: first
    outputs:
      credit_class: {{type: str, values: [A, D]}}
    rules:
      - id: found_before
        when: {{problem_checks_3y: ">= 1"}}
        then: {{credit_class: D}}
        {_RULE}
      - id: clean
        else: true
        then: {{credit_class: A}}
        {_RULE}
"""

SCORE_ONLY_PACK = (
    PENALTIES_PACK.split("  - id: credit_class")[0].replace("name: penalties", "name: scores")
    + (PENALTIES_PACK[PENALTIES_PACK.index("  - id: risk_score") :])
)


def write_pack(root: Path, name: str, text: str) -> Path:
    """The manifest (everything before `decisions:`) in pack.yaml, the decision tables in rules.yaml."""
    directory = root / name
    directory.mkdir()
    manifest, decisions = text.split("decisions:\n")
    (directory / "pack.yaml").write_text(manifest, encoding="utf-8")
    (directory / "rules.yaml").write_text("decisions:\n" + decisions, encoding="utf-8")
    return directory


@pytest.fixture
def packs(tmp_path: Path) -> dict[str, Path]:
    return {
        "penalties": write_pack(tmp_path, "penalties", PENALTIES_PACK),
        "checks": write_pack(tmp_path, "checks", CHECKS_PACK),
        "scores": write_pack(tmp_path, "scores", SCORE_ONLY_PACK),
    }


def _subject(u: str, registered_on: str = "2020-01-01") -> dict[str, Any]:
    return SubjectCreate(
        uscc=u,
        name="主体" + u[-4:],
        kind="enterprise",
        industry="C3389",
        region="445203001",
        registered_on=dt.date.fromisoformat(registered_on),
    ).model_dump()


def _penalty(n: int, u: str, day: str) -> dict[str, Any]:
    return PenaltyCreate(
        decision_no=f"P{n}", uscc=u, decided_on=dt.date.fromisoformat(day), severity="fine", legal_basis="x"
    ).model_dump()


def _check(n: int, u: str, day: str, codes_: str | list[str], kind: str = "random") -> dict[str, Any]:
    return CheckResultCreate(
        id=f"R{n}", uscc=u, checked_on=dt.date.fromisoformat(day), kind=kind, result_codes=codes_
    ).model_dump()


def load_world(engine: sa.Engine) -> None:
    rows: dict[str, list[dict[str, Any]]] = {
        "subject": [*(_subject(u) for u in (S1, S2, S3, S4, S5, S6)), _subject(S7, "2025-03-01")],
        "penalty": [
            _penalty(1, S3, "2024-03-01"),
            _penalty(2, S4, "2023-05-01"),
            _penalty(3, S4, "2024-05-01"),
            _penalty(4, S5, "2022-05-01"),
            _penalty(5, S5, "2023-05-01"),
            _penalty(6, S5, "2024-05-01"),
            _penalty(7, S6, "2025-05-01"),  # after as_of: not seen
        ],
        "list_entry": [ListEntryCreate(uscc=S6, list_name="abnormal", listed_on=dt.date(2023, 1, 1)).model_dump()],
        "check_result": [
            _check(1, S1, "2024-06-01", "unpublished_info"),
            _check(2, S1, "2025-03-01", "no_problem"),
            _check(3, S1, "2025-09-01", "no_problem"),
            _check(4, S2, "2025-02-01", "unpublished_info"),
            _check(5, S2, "2025-10-01", "no_activity"),
            _check(6, S3, "2025-07-01", ["fixed_after_order", "other_violation"]),
            _check(7, S3, "2025-07-02", "no_problem"),
            _check(8, S4, "2025-01-01", "false_info"),
            _check(9, S4, "2025-12-31", "unreachable", kind="lead"),
            _check(10, S5, "2024-12-31", "obstructed"),
            _check(11, S5, "2025-04-01", "no_problem"),
            _check(12, S5, "2026-01-01", "unreachable"),
            _check(13, S7, "2025-06-01", "unreachable"),
            _check(14, X, "2025-05-05", "no_problem"),
        ],
    }
    with engine.begin() as conn:
        for name, items in rows.items():
            store.bulk_insert(conn, name, items)


@pytest.fixture
def world(engine: sa.Engine) -> sa.Engine:
    load_world(engine)
    return engine


def run(
    engine: sa.Engine, dirs: list[Path], as_of: dt.date = AS_OF, until: dt.date | None = UNTIL, **kw: Any
) -> Backtest:
    with engine.connect() as conn:
        return backtest(conn, [load_pack(d) for d in dirs], as_of, until, **kw)


def figures(result: Backtest, pack: int, output: str) -> dict[str, tuple[Any, ...]]:
    found = result.packs[pack].output(output)
    assert found is not None
    return {
        c.label: (c.subjects, c.checked_subjects, c.checks, c.findings, c.checks_first_half, c.findings_first_half)
        for c in found.classes
    }


def test_exact_figures_per_class_and_pack(world: sa.Engine, packs: dict[str, Path]) -> None:
    result = run(world, [packs["penalties"], packs["checks"]], min_checks=1)
    assert (result.as_of, result.until, result.midpoint) == (AS_OF, UNTIL, dt.date(2025, 7, 1))
    assert (result.subjects, result.registered_later) == (6, 1)
    assert (result.checks_in_window, result.checks, result.checks_left_out) == (11, 9, 2)
    assert (result.checked_subjects, result.findings, result.findings_first_half) == (5, 4, 3)
    assert result.hit_rate == 4 / 9 and result.first_half_share_of_findings == 3 / 4
    assert result.last_check_on == dt.date(2026, 1, 1)
    # (subjects, checked subjects, checks, checks with a finding, checks in the first half, findings there)
    assert figures(result, 0, "credit_class") == {
        "A": (3, 2, 4, 1, 2, 1),
        "B": (1, 1, 2, 1, 1, 1),
        "C": (1, 1, 2, 2, 1, 1),
        "D": (1, 1, 1, 0, 1, 0),
    }
    assert figures(result, 0, "hazard_level") == {"1": (5, 5, 9, 4, 5, 3), "2": (1, 0, 0, 0, 0, 0)}
    assert figures(result, 1, "credit_class") == {"A": (4, 3, 6, 4, 3, 3), "D": (2, 2, 3, 0, 2, 0)}
    credit = result.packs[0].output("credit_class")
    assert credit is not None
    by_label = {c.label: c for c in credit.classes}
    assert [by_label[k].hit_rate for k in "ABCD"] == [0.25, 0.5, 1.0, 0.0]
    assert [by_label[k].share_of_findings for k in "ABCD"] == [0.25, 0.25, 0.5, 0.0]
    assert by_label["A"].first_half_share == 0.5
    # the riskiest checked class over the least risky: D (0 of 1) over A (1 of 4)
    lift = credit.lift
    assert lift is not None and (lift.highest.label, lift.lowest.label, lift.value) == ("D", "A", 0.0)
    assert result.packs[0].output("hazard_level").lift is None  # type: ignore[union-attr]  # only class 1 checked
    other = result.packs[1].output("credit_class")
    assert other is not None and other.lift is not None and other.lift.value == 0.0
    assert [p.name for p in result.packs] == ["penalties", "checks"]
    assert [o.name for o in result.packs[0].outputs] == ["credit_class", "hazard_level"]  # not scores or lists
    assert result.output_names() == ["credit_class", "hazard_level"]


def test_min_checks_leaves_thin_classes_out_of_the_lift(world: sa.Engine, packs: dict[str, Path]) -> None:
    credit = run(world, [packs["penalties"]], min_checks=2).packs[0].output("credit_class")
    assert credit is not None and credit.lift is not None
    # D has one check: C (2 of 2) over A (1 of 4)
    assert (credit.lift.highest.label, credit.lift.lowest.label, credit.lift.value) == ("C", "A", 4.0)
    default = run(world, [packs["penalties"]]).packs[0].output("credit_class")
    assert default is not None and default.lift is None  # no class has 30 checks


def test_features_as_of_never_see_the_later_checks(world: sa.Engine) -> None:
    with world.connect() as conn:
        s2, s5 = features_of(conn, S2, AS_OF), features_of(conn, S5, AS_OF)
    assert s2 is not None and s5 is not None
    assert (s2["checks_3y"], s2["problem_checks_3y"], s2["days_since_last_check"]) == (0, 0, None)
    # the check on as_of itself is history, the 2025 and 2026 ones are not
    assert (s5["checks_3y"], s5["problem_checks_3y"], s5["days_since_last_check"]) == (1, 1, 0)


def test_kind_filter_and_default_until(world: sa.Engine, packs: dict[str, Path]) -> None:
    only_random = run(world, [packs["penalties"]], kinds=["random"], min_checks=1)
    assert (only_random.checks_in_window, only_random.checks, only_random.findings) == (10, 8, 3)
    assert figures(only_random, 0, "credit_class")["C"] == (1, 1, 1, 1, 1, 1)
    assert only_random.last_check_on == dt.date(2026, 1, 1)
    assert one_year_after(AS_OF) == UNTIL and one_year_after(dt.date(2024, 2, 29)) == dt.date(2025, 2, 28)
    assert run(world, [packs["penalties"]], until=None).until == UNTIL
    assert midpoint(AS_OF, UNTIL) == dt.date(2025, 7, 1)


def test_explicit_outputs(world: sa.Engine, packs: dict[str, Path]) -> None:
    result = run(world, [packs["penalties"], packs["checks"]], outputs=["risk_score", "hazard_level"])
    assert [o.name for o in result.packs[0].outputs] == ["risk_score", "hazard_level"]
    assert result.packs[1].outputs == ()  # the checks pack has neither
    assert figures(result, 0, "risk_score") == {"0": (3, 2, 4, 1, 2, 1), "5": (3, 3, 5, 3, 3, 2)}


def test_ranks_and_as_dict(world: sa.Engine, packs: dict[str, Path]) -> None:
    assert [rank(x) is not None for x in ("A", "4", "2.5", "none", "true", "(missing)", "AB")] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    doc = run(world, [packs["penalties"]], min_checks=1).as_dict()
    assert doc["checks"] == {
        "in_window": 11,
        "of_population": 9,
        "left_out": 2,
        "checked_subjects": 5,
        "with_finding": 4,
        "hit_rate": 4 / 9,
        "findings_first_half": 3,
        "first_half_share_of_findings": 0.75,
    }
    assert doc["population"] == {"subjects": 6, "registered_later": 1}
    credit = doc["packs"][0]["outputs"][0]
    assert credit["output"] == "credit_class" and credit["lift"]["value"] == 0.0
    assert credit["classes"][2] == {
        "class": "C",
        "ranked": True,
        "subjects": 1,
        "checked_subjects": 1,
        "checks": 2,
        "checks_with_finding": 2,
        "hit_rate": 1.0,
        "share_of_findings": 0.5,
        "checks_first_half": 1,
        "findings_first_half": 1,
        "first_half_share_of_checks": 0.5,
    }


def test_bad_inputs_are_refused(world: sa.Engine, packs: dict[str, Path]) -> None:
    with pytest.raises(UsageError, match=r"--until 2024-12-31 is not after --as-of 2024-12-31"):
        run(world, [packs["penalties"]], until=AS_OF)
    with pytest.raises(
        InputError,
        match=r"rule pack checks 2 \(.*checks\) is in force 2024-01-01 to 2025-12-31, "
        r"not on 2026-01-01; pass an --as-of when it was in force",
    ):
        run(world, [packs["penalties"], packs["checks"]], as_of=dt.date(2026, 1, 1), until=None)
    with pytest.raises(
        InputError,
        match=r"no check results with 2021-12-31 < checked_on <= 2022-12-31 "
        r"\(the store's latest check: 2026-01-01\); pick an --as-of",
    ):
        run(world, [packs["penalties"]], as_of=dt.date(2021, 12, 31), until=None)
    with pytest.raises(InputError, match=r"no check results of kind targeted with"):
        run(world, [packs["penalties"]], kinds=["targeted"])
    with pytest.raises(
        InputError,
        match=r"no pack has an output 'credit'; outputs: credit_class, hazard_level, risk_score, "
        r"tasks",
    ):
        run(world, [packs["penalties"]], outputs=["credit"])
    with pytest.raises(UsageError, match=r"output 'tasks' of pack penalties is a list"):
        run(world, [packs["penalties"]], outputs=["tasks"])
    with pytest.raises(InputError, match=r"rule pack scores \(.*scores\) has no class output"):
        run(world, [packs["scores"]])
    # the only check in the window is of a subject not in the store
    with pytest.raises(
        InputError,
        match=r"none of the 1 check results with 2025-05-04 < checked_on <= "
        r"2025-05-05 is of a subject registered on or before 2025-05-04",
    ):
        run(world, [packs["penalties"]], as_of=dt.date(2025, 5, 4), until=dt.date(2025, 5, 5))


def test_empty_population(engine: sa.Engine, packs: dict[str, Path]) -> None:
    with engine.begin() as conn:
        store.bulk_insert(conn, "check_result", [_check(1, X, "2025-05-05", "no_problem")])
    with pytest.raises(InputError, match=r"no subject in the store was registered on or before 2024-12-31"):
        run(engine, [packs["penalties"]])


def test_class_outputs_by_name(packs: dict[str, Path]) -> None:
    pack = load_pack(packs["penalties"])
    assert class_outputs(pack) == ["credit_class", "hazard_level"]
    assert class_outputs(pack, ["risk_score", "missing"]) == ["risk_score"]
