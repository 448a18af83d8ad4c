"""engine.whatif: what a changed rule pack would do, on a small synthetic 揭东 store (read-only).

The store is built once per module (the comparison never writes); each test edits one thing in a copy of
rules/national and checks that exactly that thing, and what follows from it, is reported."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine import whatif
from engine.catalogue import install_catalogue, load_catalogue
from engine.ledger import canonical
from engine.plan import Period
from engine.report_html import render
from entities import store
from entities.errors import InputError
from tests.helpers import run_cli as run

ROOT = Path(__file__).resolve().parents[2]
NATIONAL = ROOT / "rules" / "national"
PACKS = ROOT / "tests" / "packs"
SEED = "38147205519264810375"
AS_OF = dt.date(2025, 12, 31)
PLAN = whatif.PlanRequest(Period.year(2026), SEED)
SUBJECTS = 1000


def build_demo(url: str, subjects: int = SUBJECTS) -> None:
    """A synthetic 揭东 of `subjects` subjects (demo seed 1) with the national check-item catalogue."""
    with pytest.MonkeyPatch.context() as mp:  # loading is a state-changing command: it needs an identity
        mp.setenv("SUIJIAN_USER", "测试员 tester")
        mp.setenv("SUIJIAN_ROLE", "supervisor")
        mp.delenv("SUIJIAN_CONFIG", raising=False)
        code, _, err = run("demo", "--subjects", str(subjects), "--load-only", "--db", url)
    assert code == 0, err
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            install_catalogue(conn, load_catalogue())
    finally:
        engine.dispose()


def edited_copy(dst: Path, edits: dict[str, tuple[str, str]] | None = None) -> Path:
    """A copy of rules/national at `dst` with `edits` ({file: (text, replacement)}, each text found once)."""
    shutil.copytree(NATIONAL, dst, ignore=shutil.ignore_patterns("__pycache__"))
    for name, (old, new) in (edits or {}).items():
        text = (dst / name).read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{name}: {old!r} found {text.count(old)} times"
        (dst / name).write_text(text.replace(old, new), encoding="utf-8")
    return dst


THRESHOLD = {"credit.yaml": ('days_since_registration: "< 365"', 'days_since_registration: "< 730"')}
RATIO = {"policy.yaml": ("TS-SY-01:\n    ratios: {A: 5%,", "TS-SY-01:\n    ratios: {A: 100%,")}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('whatif') / 'suijian.db'}"
    build_demo(url)
    return url


def compare(db: str, old: Path | str, new: Path | str, **kw: Any) -> whatif.WhatIf:
    engine = store.open_store(db)
    try:
        with engine.connect() as conn:
            return whatif.compare(
                conn, whatif.load_side(str(old), "old"), whatif.load_side(str(new), "new"), AS_OF, **kw
            )
    finally:
        engine.dispose()


def off_diagonal(result: whatif.WhatIf, output: str) -> dict[tuple[str, str], int]:
    o = next(o for o in result.outputs if o.name == output)
    assert o.matrix is not None
    return {(a, b): n for a, b, n in o.matrix if a != b}


@pytest.mark.parametrize("copy", [False, True], ids=["same-directory", "copy"])
def test_a_pack_against_itself_changes_nothing(demo: str, tmp_path: Path, copy: bool) -> None:
    new = edited_copy(tmp_path / "national") if copy else NATIONAL
    result = compare(demo, NATIONAL, new, plan=PLAN)
    assert result.diff.empty
    assert result.subjects == SUBJECTS
    assert (result.changed_subjects, result.fired_changed, result.sample) == (0, 0, ())
    for o in result.outputs:
        assert o.changed == 0 and o.old == o.new, o.name
        if o.matrix is not None:
            assert all(a == b for a, b, _ in o.matrix), o.name
        assert all(i["gained"] == i["lost"] == 0 for i in o.items), o.name
    assert result.fired[0] == result.fired[1]
    plan = result.plan
    assert plan is not None and result.plans is not None
    assert all(m["old"] == m["new"] for m in plan["metrics"])
    assert not any(i["changed"] or i["strata"] for i in plan["items"])
    assert all(r["old_planned"] == r["new_planned"] for r in plan["regions"])
    assert all(u["old_visits"] == u["new_visits"] for u in plan["units"])
    assert plan["subjects"]["only_old"] == plan["subjects"]["only_new"] == 0
    assert result.plans[0].to_json() == result.plans[1].to_json()


def test_one_class_ratio_in_the_policy_changes_only_that_items_quotas(demo: str, tmp_path: Path) -> None:
    result = compare(demo, NATIONAL, edited_copy(tmp_path / "new", RATIO), plan=PLAN)
    d = result.diff
    assert (d.decisions, d.rules, d.parameters) == ((), (), ())
    assert [(c.kind, c.id, c.old, c.new) for c in d.policy] == [("modified", "items.TS-SY-01.ratios.A", "5%", "100%")]
    # The pack hash users see (suijian-pack-2) covers the policy; the decisions-and-parameters one (pack-1) does not.
    assert result.old.pack.hash != result.new.pack.hash and result.old.policy_hash != result.new.policy_hash
    assert result.old.pack.hash_under(canonical.PACK_1) == result.new.pack.hash_under(canonical.PACK_1)
    assert result.changed_subjects == 0
    assert result.plan is not None
    # A fitted plan shares one capacity: the change raises what TS-SY-01 asks and nothing else asks more or less
    # (what each item then gets may move for all of them, through λ).
    ratios = next(layer for layer in result.plan["fit"]["layers"] if layer["name"] == "ratios")

    def asked(item: dict[str, Any], side: str) -> int:
        return int(item[side]["quota"]) + int(ratios["left_out"].get(item["code"], {}).get(side, 0))

    for item in result.plan["items"]:
        if item["code"] == "TS-SY-01":
            assert asked(item, "new") > asked(item, "old")
        else:
            assert asked(item, "new") == asked(item, "old"), item["code"]


def test_one_rule_threshold_shows_that_rule_and_the_migration(demo: str, tmp_path: Path) -> None:
    result = compare(demo, NATIONAL, edited_copy(tmp_path / "new", THRESHOLD), sample=5)
    d = result.diff
    assert (d.decisions, d.parameters, d.policy) == ((), (), ())
    [rule] = d.rules
    assert (rule.kind, rule.id, rule.decision, rule.fields) == ("modified", "score_new", "credit_score", ("when",))
    assert rule.details == ("when days_since_registration: < 365 → < 730",)
    assert rule.where.endswith("credit.yaml:58")
    assert result.fired[1]["score_new"] > result.fired[0]["score_new"]
    # A longer "new subject" window adds points: classes only move up the risk scale (if at all: since issue 12
    # newness alone, 3 points, no longer crosses a class boundary, so the demo may show no class move).
    moved = off_diagonal(result, "credit_class")
    assert all(a < b for a, b in moved)
    assert result.changed_subjects > 0
    score = next(o for o in result.outputs if o.name == "credit_score")
    assert score.changed == score.up > 0 and score.down == 0
    assert len(result.sample) == 5
    assert [s.uscc for s in result.sample] == sorted(s.uscc for s in result.sample)
    for s in result.sample:
        [credit] = [x for x in s.decisions if x["decision"] == "credit_score"]
        assert "score_new" not in [f["id"] for f in credit["old"]["fired"]]
        assert "score_new" in [f["id"] for f in credit["new"]["fired"]]
        assert 365 <= s.features["days_since_registration"] < 730


def test_the_sample_is_the_smallest_changed_usccs(demo: str, tmp_path: Path) -> None:
    new = edited_copy(tmp_path / "new", THRESHOLD)
    small = compare(demo, NATIONAL, new, sample=2, partition_size=150)
    large = compare(demo, NATIONAL, new, sample=7)
    assert [s.uscc for s in small.sample] == [s.uscc for s in large.sample][:2]


def test_a_parameter_change_lists_the_parameter_and_the_rules_reading_it(demo: str, tmp_path: Path) -> None:
    edits = {
        "pack.yaml": (
            "  credit_c_min:\n    type: int\n    default: 25",
            "  credit_c_min:\n    type: int\n    default: 20",
        )
    }
    result = compare(demo, NATIONAL, edited_copy(tmp_path / "new", edits))
    assert [(c.kind, c.id, c.fields, c.old, c.new) for c in result.diff.parameters] == [
        ("modified", "credit_c_min", ("value",), 25, 20)
    ]
    assert [(c.id, c.parameters) for c in result.diff.rules] == [
        ("credit_score_b", ("credit_c_min",)),
        ("credit_score_c", ("credit_c_min",)),
    ]
    assert result.diff.rules[1].details == ("when credit_score: [25..45) → [20..45)",)
    assert result.diff.rules[1].new["when"] == {
        "credit_score": "[$param.credit_c_min..$param.credit_d_min) (= [20..45))"
    }
    assert set(off_diagonal(result, "credit_class")) <= {("B", "C")}


def test_rules_and_decisions_added_and_removed() -> None:
    base = whatif.load_side(str(PACKS / "base"), "old")
    child = whatif.load_side(str(PACKS / "child"), "new")
    forward, backward = whatif.diff_packs(base, child), whatif.diff_packs(child, base)
    assert forward.rules and forward.parameters
    there = {c.id: c.kind for c in forward.rules}
    back = {c.id: c.kind for c in backward.rules}
    assert set(there.values()) <= {"added", "modified"} and set(there) == set(back)
    assert all(back[r] == {"added": "removed", "modified": "modified"}[k] for r, k in there.items())
    assert [c.id for c in forward.parameters] == ["food_a_max", "a_class_no_onsite"]
    added = [c for c in forward.rules if c.kind == "added"]
    assert added and all(c.old is None and c.new["then"] for c in added)


def test_national_against_guangdong_names_every_layer_difference() -> None:
    national = whatif.load_side(str(NATIONAL), "old")
    guangdong = whatif.load_side(str(ROOT / "rules" / "guangdong"), "new")
    d = whatif.diff_packs(national, guangdong)
    assert [(c.id, c.fields, c.details) for c in d.decisions] == [
        ("mandatory", ("inputs",), ("inputs: +public_gathering_equipment_count, +equipment_due_90d_count",))
    ]
    rules = {c.id: c for c in d.rules}
    assert rules["gd_must_equipment_due"].kind == "added"
    assert rules["gd_must_equipment_due"].new["then"] == {"mandatory_items": ["TS-SY-01"]}
    # A parameter read in a condition, and one that only supplies an output value, both name the rule.
    assert rules["hazard_overdue_long"].parameters == ("overdue_serious_days",)
    assert rules["device_freq_low"].parameters == ("device_low_share",)
    assert rules["device_freq_low"].details == ("then device_checks_per_year: 0.3 → 0.25",)
    assert {(c.id, c.old, c.new) for c in d.parameters} == {
        ("overdue_serious_days", 30, 15),
        ("device_low_share", 0.3, 0.25),
        ("key_units_mandatory", False, True),
    }
    assert {c.id: (c.old, c.new) for c in d.policy} == {
        "annual_random_cap": (None, 2),
        "credit_ratios.A": ("2%", "3%"),
        # 令57号 第9条: guangdong raises special-equipment key units' ratio.
        "items.TS-SY-01.grade_columns.equipment_key_unit.false": (None, "0%"),
        "items.TS-SY-01.grade_columns.equipment_key_unit.none": (None, "0%"),
        "items.TS-SY-01.grade_columns.equipment_key_unit.true": (None, "30%"),
        "no_class_exempt": (False, True),
    }


def test_regions_restrict_the_population(demo: str) -> None:
    engine = store.open_store(demo)
    with engine.connect() as conn:
        region, n = conn.execute(
            sa.text("SELECT region, COUNT(*) FROM subject GROUP BY region ORDER BY region LIMIT 1")
        ).one()
    engine.dispose()
    result = compare(demo, NATIONAL, NATIONAL, regions=[region], plan=PLAN)
    assert result.subjects == n and result.regions == (region,)
    assert result.plan is not None
    assert {r["code"] for r in result.plan["regions"]} <= {region}
    with pytest.raises(InputError, match="^unknown region 445299 "):
        compare(demo, NATIONAL, NATIONAL, regions=["445299"])


def test_the_comparison_does_not_depend_on_batches_and_writes_nothing(demo: str, tmp_path: Path) -> None:
    new = edited_copy(tmp_path / "new", {**THRESHOLD, **RATIO})
    engine = store.open_store(demo)
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        before = {t: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{t}"')).scalar() for t in names}
    engine.dispose()
    one = compare(demo, NATIONAL, new, plan=PLAN).as_dict()
    other = compare(demo, NATIONAL, new, plan=PLAN, partition_size=137).as_dict()
    parallel = compare(demo, NATIONAL, new, plan=PLAN, partition_size=300, url=demo, workers=2).as_dict()
    for doc in (other, parallel):
        assert json.dumps(one, sort_keys=True, default=str) == json.dumps(doc, sort_keys=True, default=str)
        assert render(one) == render(doc)
    engine = store.open_store(demo)
    with engine.connect() as conn:
        after = {t: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{t}"')).scalar() for t in names}
    engine.dispose()
    assert after == before


@pytest.fixture
def graded_store(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'graded.db'}"
    build_demo(url, 600)
    yield url


def test_the_in_memory_plan_is_the_plan_suijian_plan_makes(
    graded_store: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    result = compare(graded_store, NATIONAL, NATIONAL, plan=PLAN)
    assert result.plans is not None
    code, _, err = run("grade", "--as-of", AS_OF.isoformat(), "--pack", str(NATIONAL), "--db", graded_store)
    assert code == 0, err
    code, out, err = run(
        "plan",
        "--as-of",
        AS_OF.isoformat(),
        "--period",
        "2026",
        "--seed",
        SEED,
        "--pack",
        str(NATIONAL),
        "--json",
        "--db",
        graded_store,
    )
    assert code == 0, err
    stored = json.loads(out)
    mine = json.loads(json.dumps(result.plans[0].summary(), default=str))
    for key in ("items", "visits", "team_load", "mandatory_coverage", "repeat_visits", "uncovered", "unstaffed"):
        assert stored[key] == mine[key], key


def test_packs_not_in_force_are_refused(demo: str) -> None:
    engine = store.open_store(demo)
    try:
        with (
            engine.connect() as conn,
            pytest.raises(
                InputError,
                match=(
                    r"^old pack .*national \(national 2026\.3\) is in force 2025-01-01 to open-ended, not on 2024-06-30; "
                    r"pass another --as-of$"
                ),
            ),
        ):
            side = whatif.load_side(str(NATIONAL), "old")
            whatif.compare(conn, side, side, dt.date(2024, 6, 30))
    finally:
        engine.dispose()


def test_an_empty_store_is_refused(store_url: str) -> None:
    engine = store.open_store(store_url)
    try:
        with engine.connect() as conn, pytest.raises(InputError, match="^no subjects to compare"):
            side = whatif.load_side(str(NATIONAL), "old")
            whatif.compare(conn, side, side, AS_OF)
    finally:
        engine.dispose()


def test_a_broken_pack_names_its_side_and_first_finding(tmp_path: Path) -> None:
    bad = edited_copy(tmp_path / "bad", {"credit.yaml": ("when: {penalties_3y: 1}", "when: {penalty_3y: 1}")})
    with pytest.raises(InputError, match=r"^new pack: .*bad/credit\.yaml:14: unknown_feature: "):
        whatif.load_side(str(bad), "new")
