"""Follow-up decisions: a pack's decisions on result facts are kept apart from grading, checked, hashed and tested."""

from __future__ import annotations

from pathlib import Path

from engine.features.result_facts import RESULT_REGISTRY
from engine.rules import check_pack, load_pack, run_cases
from engine.rules.load import read_pack
from tests.engine.rules.helpers import MANIFEST, rule, table, write_pack

NATIONAL = Path("rules/national")


def test_the_national_pack_keeps_followups_out_of_grading() -> None:
    pack = load_pack(NATIONAL)
    assert [d.id for d in pack.followups] == ["followup"]
    assert "followup" not in {d.id for d in pack.decisions}
    assert not set(pack.features) & set(RESULT_REGISTRY)  # grading never reads a result fact
    followups = pack.followup_pack()
    assert set(followups.features) <= set(RESULT_REGISTRY) and followups.features
    assert followups.hash != pack.hash  # compiled rulesets are cached by hash: the two never share one
    assert pack.followup_cases and all("followup" in c.expect for c in pack.followup_cases)


def test_the_child_pack_inherits_the_followup_table() -> None:
    assert [d.id for d in load_pack("rules/guangdong").followups] == ["followup"]


def test_cases_of_both_kinds_run_and_every_row_is_covered() -> None:
    report = run_cases(load_pack(NATIONAL))
    assert report.ok
    assert report.coverage.covered == report.coverage.total
    followup_rows = {r.id for r in load_pack(NATIONAL).followups[0].rules}
    assert followup_rows <= {rid for o in report.outcomes for rid in o.fired}


def test_a_changed_followup_rule_changes_the_pack_hash(tmp_path: Path) -> None:
    copy = tmp_path / "national"
    for f in NATIONAL.rglob("*.yaml"):
        target = copy / f.relative_to(NATIONAL)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    before = load_pack(copy).hash
    path = copy / "followups.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("listing_cause: true}", "listing_cause: false}"), "utf-8")
    pack, findings = read_pack(copy)
    assert pack is not None and pack.hash != before


def test_a_case_mixing_result_facts_and_grading_outputs_is_refused(tmp_path: Path) -> None:
    rules = table(rule("a", "{}"))
    case = "cases:\n- name: mixed\n  given: {rechecked: false}\n  expect: {grade: A}\n"
    d = write_pack(tmp_path / "p", {"r.yaml": rules, "tests/cases.yaml": case}, MANIFEST)
    (finding,) = [f for f in check_pack(d) if f.code == "mixed_vocabulary"]
    assert str(finding).endswith(
        "mixed_vocabulary: case 'mixed' gives result facts (rechecked) but expects grading outputs"
    )
