"""Loading and checking packs: every bad input named with file:line and a stable code, all at once, sorted."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.rules import PackError, check_pack, load_pack, read_pack
from tests.engine.rules.helpers import PACKS, lines, rule, table, write_pack

BROKEN = PACKS / "broken"


# -- the deliberately broken packs under tests/packs/broken ---------------------------------------------------


def test_malformed_yaml() -> None:
    d = BROKEN / "malformed_yaml"
    assert lines(d) == [f"{d}/rules.yaml:5: yaml_syntax: malformed YAML: expected ',' or ']', but got '}}'"]


def test_tab_in_indentation() -> None:
    d = BROKEN / "tab_indent"
    assert lines(d) == [f"{d}/rules.yaml:4: yaml_tab: tab character in the indentation; YAML indents with spaces only"]


def test_unknown_feature_with_did_you_mean() -> None:
    d = BROKEN / "unknown_feature"
    assert lines(d) == [
        f"{d}/rules.yaml:9: unknown_feature: unknown feature 'penalty_3y' (did you mean 'penalties_3y'?)"
    ]


def test_wrong_types_are_all_reported_in_line_order() -> None:
    d = BROKEN / "wrong_type"
    assert lines(d) == [
        f"{d}/rules.yaml:9: type_error: 'on_abnormal_list' is true or false; '>=' compares numbers only",
        f"{d}/rules.yaml:14: type_error: 'status' is one of active, revoked, cancelled, moved_out, annulled, got \"closed\"",
        f"{d}/rules.yaml:19: type_error: 'penalties_3y' is a whole number, got \"x\"",
        f"{d}/rules.yaml:20: type_error: 'credit_class' is one of A, B, C, D, got \"E\"",
    ]


def test_cycle_between_decisions() -> None:
    d = BROKEN / "cycle"
    assert lines(d) == [
        f"{d}/rules.yaml:2: cycle: decisions hazard_level → frequency → hazard_level read each other's outputs; "
        "a decision can only read decisions evaluated before it"
    ]


def test_missing_id_reason_basis() -> None:
    d = BROKEN / "missing_fields"
    assert lines(d) == [
        f"{d}/rules.yaml:8: missing_id: a rule has no id; give it a stable id such as credit_d_serious",
        f"{d}/rules.yaml:12: missing_reason: rule 'abnormal' has no reason; say in plain words (中文) why it applies",
        f"{d}/rules.yaml:16: missing_basis: rule 'others' has no basis; cite the regulation and article, or write \"本规则包配置：<why>\"",
    ]


def test_empty_table() -> None:
    d = BROKEN / "empty_table"
    assert lines(d) == [f"{d}/rules.yaml:7: empty_table: decision 'credit_class' has no rules; add at least one rule"]


def test_overlap_in_unique_table_with_example() -> None:
    d = BROKEN / "overlap"
    assert lines(d) == [
        f"{d}/rules.yaml:13: overlap: rules 'food_a' (line 8) and 'food_b' both match food_risk_score=30; "
        "a unique table needs exactly one match for every input"
    ]


def test_gap_with_region_and_example() -> None:
    d = BROKEN / "gap"
    assert lines(d) == [
        f"{d}/rules.yaml:2: gap: decision 'food_grade': no rule covers food_risk_score in (45..60] (e.g. food_risk_score=52.5); "
        "add a rule for it or an else rule"
    ]


def test_policy_checked_strictly_with_lines() -> None:
    d = BROKEN / "bad_policy"
    assert lines(d) == [
        f"{d}/policy.yaml:2: bad_policy: credit_ratios.A: sampling ratio '250%' is outside 0..1 (3 % is 0.03 or '3%')",
        f"{d}/policy.yaml:3: unknown_field: unknown field 'colour' in the plan policy",
        f"{d}/policy.yaml:6: unknown_grade_column: items.TS-SY-01.grade_column: 'hazard_grade' is neither a feature "
        "nor an output of the pack",
        f"{d}/policy.yaml:8: unknown_item: items: unknown item XX-99 (not in the catalogue)",
    ]


def test_catalogue_checked_strictly_with_lines() -> None:
    d = BROKEN / "bad_catalogue"
    assert lines(d) == [
        f"{d}/catalogue.yaml:2: unknown_field: unknown key 'version' (a catalogue has only `items`)",
        f"{d}/catalogue.yaml:9: bad_target: item TS-SY-01: target compares equipment_count (Int64) with 'abc', "
        "which it cannot be",
        f"{d}/catalogue.yaml:14: bad_catalogue: item 2 (SP-XS-01): kind: Input should be 'key' or 'general'",
        f"{d}/catalogue.yaml:18: unknown_field: item 2 (SP-XS-01): unknown field 'colour'",
        f"{d}/catalogue.yaml:24: bad_target: item YL-SC-01: target uses unknown feature 'device_maker'",
    ]


def test_a_child_pack_uses_the_parents_catalogue_for_its_policy(tmp_path: Path) -> None:
    """guangdong has no catalogue: its policy's items are checked against the national one; a policy-only
    mistake in the child is found by `rules check`, not first by a plan."""
    import shutil

    root = tmp_path / "rules"
    shutil.copytree(PACKS.parent.parent / "rules" / "national", root / "national")
    shutil.copytree(PACKS.parent.parent / "rules" / "guangdong", root / "guangdong")
    policy = root / "guangdong" / "policy.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("  DJ-LX-01:", "  DJ-LX-02:"), encoding="utf-8")
    d = root / "guangdong"
    found = lines(d)
    assert len(found) == 1
    assert found[0].startswith(f"{d}/policy.yaml:")
    assert found[0].endswith(
        "unknown_item: items: unknown item DJ-LX-02 (not in the catalogue) (did you mean 'DJ-LX-01'?)"
    )


def test_pack_directory_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert lines(missing) == [f"{missing}: pack_missing: no rule pack at {missing}: the directory does not exist"]
    with pytest.raises(PackError, match="pack_missing"):
        load_pack(missing)


def test_a_file_is_not_a_pack(tmp_path: Path) -> None:
    f = tmp_path / "pack.yaml"
    f.write_text("name: x\n", encoding="utf-8")
    assert lines(f) == [f"{f}: pack_missing: no rule pack at {f}: it is a file, not a directory"]


@pytest.mark.parametrize("name", sorted(p.name for p in BROKEN.iterdir()))
def test_load_pack_refuses_every_broken_pack(name: str) -> None:
    with pytest.raises(PackError) as caught:
        load_pack(BROKEN / name)
    assert caught.value.findings == check_pack(BROKEN / name)
    assert str(caught.value).endswith("the rule pack cannot be used")


# -- more bad inputs, written inline ------------------------------------------------------------------------


def _pack(tmp_path: Path, text: str, manifest: str | None = None) -> Path:
    if manifest is None:
        return write_pack(tmp_path / "p", {"r.yaml": text})
    return write_pack(tmp_path / "p", {"r.yaml": text}, manifest)


PARAMS = """\
name: t
version: "1"
jurisdiction: 测试辖区
effective_from: 2025-01-01
parameters:
  food_a_max: {type: float, default: 30, comment: A 级上限}
"""


def test_unknown_parameter(tmp_path: Path) -> None:
    d = _pack(tmp_path, table(rule("a", '{food_risk_score: "<= $param.food_a_mx"}') + rule("b", "{}")), PARAMS)
    assert lines(d) == [
        f"{d}/r.yaml:8: unknown_parameter: unknown parameter '$param.food_a_mx' (did you mean '$param.food_a_max'?); "
        "declare it under parameters in pack.yaml"
    ]


def test_duplicate_rule_id_and_no_analysis_of_a_broken_table(tmp_path: Path) -> None:
    d = _pack(tmp_path, table(rule("a", '{penalties_3y: "< 3"}') + rule("a", '{penalties_3y: ">= 3"}')))
    assert lines(d) == [f"{d}/r.yaml:12: duplicate_id: rule id 'a' is already used at {d}/r.yaml:7"]


def test_duplicate_decision_id(tmp_path: Path) -> None:
    text = table(rule("a", "{}"))
    d = write_pack(tmp_path / "p", {"a.yaml": text, "b.yaml": text.replace("id: a", "id: b")})
    assert lines(d) == [f"{d}/b.yaml:2: duplicate_id: decision id 'd' is already used at {d}/a.yaml:2"]


def test_rows_shadowed_under_first_are_unreachable(tmp_path: Path) -> None:
    d = _pack(
        tmp_path,
        table(
            rule("a", '{penalties_3y: "< 3"}')
            + rule("b", '{penalties_3y: ">= 3"}')
            + rule("c", '{penalties_3y: "== 5"}')
        ),
    )
    assert lines(d) == [
        f"{d}/r.yaml:17: unreachable: rule 'c' never fires: 'b' — rules above already match every input it matches (hit policy first)"
    ]
    pack, findings = read_pack(d)
    assert pack is not None and [f.severity for f in findings] == ["warning"]


def test_rows_shadowed_under_priority(tmp_path: Path) -> None:
    rules = rule("low", "{whitelist: true}", "{grade: A}") + rule("high", "{}", "{grade: D}")
    d = _pack(tmp_path, table(rules, hit_policy="priority", outputs="{grade: {type: str, values: [D, C, B, A]}}"))
    assert lines(d) == [
        f"{d}/r.yaml:7: unreachable: rule 'low' never fires: 'high' — rules with a higher priority (or equal and above it) "
        "already match every input it matches"
    ]


def test_a_row_that_can_never_match(tmp_path: Path) -> None:
    d = _pack(tmp_path, table(rule("a", "{status: missing}") + rule("b", "{}")))
    assert lines(d) == [
        f"{d}/r.yaml:7: unreachable: rule 'a' can never match: no possible value of 'status' satisfies \"missing\""
    ]


def test_an_else_row_that_never_fires(tmp_path: Path) -> None:
    rules = (
        rule("a", "{whitelist: true}")
        + rule("b", "{whitelist: false}")
        + "- id: e\n  else: true\n  then: {grade: B}\n  reason: 其余\n  basis: 本规则包配置：测试\n"
    )
    d = _pack(tmp_path, table(rules))
    assert lines(d) == [f"{d}/r.yaml:17: unreachable: else rule 'e' never fires: the rules above cover every input"]


def test_gap_over_two_inputs(tmp_path: Path) -> None:
    d = _pack(
        tmp_path,
        table(
            rule("a", '{penalties_3y: "< 3", whitelist: true}') + rule("b", '{penalties_3y: ">= 3"}'),
            hit_policy="unique",
        ),
    )
    assert lines(d) == [
        f"{d}/r.yaml:2: gap: decision 'd': no rule covers penalties_3y < 3 and whitelist = false "
        "(e.g. penalties_3y=0, whitelist=false); add a rule for it or an else rule"
    ]


def test_every_overlapping_pair_in_a_unique_table(tmp_path: Path) -> None:
    d = _pack(
        tmp_path,
        table(
            rule("a", '{penalties_3y: "< 3"}') + rule("b", '{penalties_3y: "< 4"}') + rule("c", "{}"),
            hit_policy="unique",
        ),
    )
    tail = "both match penalties_3y=0; a unique table needs exactly one match for every input"
    assert lines(d) == [
        f"{d}/r.yaml:12: overlap: rules 'a' (line 7) and 'b' {tail}",
        f"{d}/r.yaml:17: overlap: rules 'a' (line 7) and 'c' {tail}",
        f"{d}/r.yaml:17: overlap: rules 'b' (line 12) and 'c' {tail}",
    ]


@pytest.mark.parametrize(
    ("when", "finding"),
    [
        ('{penalties_3y: "< 2.5"}', "type_error: 'penalties_3y' is a whole number, got 2.5"),
        (
            "{status: activ}",
            "type_error: 'status' is one of active, revoked, cancelled, moved_out, annulled, got \"activ\" (did you mean 'active'?)",
        ),
        ('{penalties_3y: "[5..3]"}', "bad_condition: the range [5..3] on 'penalties_3y' is empty"),
        (
            '{penalties_3y: "between 1 and 3"}',
            "bad_condition: cannot read 'between 1 and 3': unexpected '1' (join tests with 'or')",
        ),
        (
            "{penalties_3y: [1..3]}",
            'bad_condition: [1..3] reads as a list in YAML; put a range in quotes, e.g. "[1..3]"',
        ),
        ('{whitelist: "> 1"}', "type_error: 'whitelist' is true or false; '>' compares numbers only"),
        ("{whitelist: 1}", "type_error: 'whitelist' is true or false, got 1"),
        (
            '{status: "< active"}',
            "type_error: 'status' is one of active, revoked, cancelled, moved_out, annulled; '<' compares numbers only",
        ),
        (
            '{food_risk_score: "3..4"}',
            'bad_condition: cannot read \'3..4\': write a range with brackets, e.g. "[3..4]" or "[3..4)"',
        ),
        (
            "{penalties_3y: }",
            'bad_condition: empty condition; write a test such as ">= 3", "missing" or "any"',
        ),
    ],
)
def test_bad_conditions(tmp_path: Path, when: str, finding: str) -> None:
    d = _pack(tmp_path, table(rule("a", when) + rule("b", "{}")))
    assert lines(d) == [f"{d}/r.yaml:8: {finding}"]


def test_schema_problems_with_did_you_mean(tmp_path: Path) -> None:
    text = table("- id: a\n  when: {}\n  then: {grade: A}\n  reasn: 测试\n  basis: 测试\n", hit_policy="uniqe")
    d = _pack(tmp_path, text)
    assert lines(d) == [
        f"{d}/r.yaml:4: unknown_hit_policy: hit_policy must be one of unique, first, priority, collect, got 'uniqe' (did you mean 'unique'?)",
        f"{d}/r.yaml:7: missing_reason: rule 'a' has no reason; say in plain words (中文) why it applies",
        f"{d}/r.yaml:10: unknown_field: unknown field 'reasn' in a rule (did you mean 'reason'?)",
    ]


def test_outputs_checked(tmp_path: Path) -> None:
    d = _pack(tmp_path, table(rule("a", "{}", "{grad: A}") + rule("b", "{}", "{grade: 3}")))
    assert lines(d) == [
        f"{d}/r.yaml:9: missing_output: rule 'a' gives no value for output 'grade'",
        f"{d}/r.yaml:9: unknown_output: 'grad' is not an output of decision 'd' (did you mean 'grade'?)",
        f"{d}/r.yaml:14: type_error: 'grade' is one of A, B, C, D, got 3",
    ]


def test_priority_needs_an_ordered_output(tmp_path: Path) -> None:
    d = _pack(tmp_path, table(rule("a", "{}"), hit_policy="priority", outputs="{grade: str}"))
    assert lines(d) == [
        f"{d}/r.yaml:4: unordered_priority: a priority table needs an output with an ordered 'values' list (first listed wins)"
    ]


def test_aggregate_needs_numbers(tmp_path: Path) -> None:
    d = _pack(tmp_path, table(rule("a", "{}"), hit_policy="collect", extra="    aggregate: sum\n"))
    assert lines(d) == [f"{d}/r.yaml:6: type_error: output 'grade' is str; aggregate sum needs int or float outputs"]


def test_else_must_be_last(tmp_path: Path) -> None:
    rules = "- id: e\n  else: true\n  then: {grade: A}\n  reason: 其余\n  basis: 本规则包配置：测试\n" + rule("a", "{}")
    d = _pack(tmp_path, table(rules))
    assert lines(d) == [
        f"{d}/r.yaml:12: else_not_last: rule 'a' comes after the else rule 'e'; the else rule must be last"
    ]


def test_declared_inputs_are_enforced(tmp_path: Path) -> None:
    d = _pack(
        tmp_path,
        table(
            rule("a", '{penalties_3y: "< 3", whitelist: true}') + rule("b", "{}"),
            extra="    inputs: [penalties_3y]\n",
        ),
    )
    assert lines(d) == [
        f"{d}/r.yaml:9: undeclared_input: rule 'a' tests 'whitelist', which is not among the decision's inputs"
    ]


def test_output_named_like_a_feature(tmp_path: Path) -> None:
    d = _pack(tmp_path, table(rule("a", "{}", "{status: A}"), outputs="{status: str}"))
    assert lines(d) == [
        f"{d}/r.yaml:5: name_clash: output 'status' has the name of a catalogue feature; choose another name"
    ]


def test_a_decision_reading_itself(tmp_path: Path) -> None:
    d = _pack(tmp_path, table(rule("a", "{grade: A}") + rule("b", "{}")))
    assert lines(d) == [f"{d}/r.yaml:2: cycle: decision 'd' reads its own output"]


def test_multi_output_decisions_are_read_by_output_name(tmp_path: Path) -> None:
    reader = (
        "  - id: e\n    description: 读取 d\n    hit_policy: first\n    outputs: {z: int}\n    rules:\n"
        "      - id: z1\n        when: {d: 1}\n        then: {z: 1}\n        reason: 测试\n        basis: 本规则包配置：测试\n"
    )
    d = _pack(tmp_path, table(rule("a", "{}", "{grade: A, n: 1}"), outputs="{grade: str, n: int}") + reader)
    assert lines(d) == [f"{d}/r.yaml:18: unknown_feature: decision 'd' has several outputs (grade, n); write d.grade"]
    fixed = _pack(
        tmp_path,
        (table(rule("a", "{}", "{grade: A, n: 1}"), outputs="{grade: str, n: int}") + reader).replace(
            "{d: 1}", '{d.n: "== 1"}'
        ),
    )
    pack = load_pack(fixed)
    assert pack.decision("e").depends_on == ("d",)


def test_manifest_missing(tmp_path: Path) -> None:
    d = write_pack(tmp_path / "p", {"r.yaml": table(rule("a", "{}"))}, manifest=None)
    assert lines(d) == [
        f"{d}/pack.yaml: manifest_missing: no pack.yaml in {d}; a pack starts with a manifest (name, version, jurisdiction, effective_from)"
    ]


def test_manifest_fields(tmp_path: Path) -> None:
    manifest = "name: t\nversion: '1'\njurisdictoin: x\neffective_from: 2025-01-01\neffective_to: 2024-01-01\n"
    d = _pack(tmp_path, table(rule("a", "{}")), manifest)
    assert lines(d) == [
        f"{d}/pack.yaml:1: missing_field: pack.yaml has no 'jurisdiction'",
        f"{d}/pack.yaml:3: unknown_field: unknown field 'jurisdictoin' in pack.yaml (did you mean 'jurisdiction'?)",
        f"{d}/pack.yaml:5: date_order: effective_to is before effective_from",
    ]


def test_duplicate_key_and_alias(tmp_path: Path) -> None:
    d = _pack(tmp_path, table("- id: a\n  when: {}\n  then: {grade: A}\n  reason: r\n  reason: b\n  basis: b\n"))
    assert lines(d) == [
        f"{d}/r.yaml:11: duplicate_key: key 'reason' appears twice in the same mapping (first on line 10)"
    ]
    d = _pack(tmp_path, table("- id: a\n  when: &w {}\n  then: {grade: A}\n  reason: r\n  basis: b\n"))
    assert lines(d) == [f"{d}/r.yaml:8: yaml_syntax: anchors and aliases (&, *) are not supported; write the value out"]


def test_unquoted_condition_gets_a_hint(tmp_path: Path) -> None:
    d = _pack(
        tmp_path,
        table("- id: a\n  when:\n    penalties_3y: >= 3\n  then: {grade: A}\n  reason: r\n  basis: b\n"),
    )
    assert lines(d) == [
        f"{d}/r.yaml:9: yaml_syntax: malformed YAML: expected chomping or indentation indicators, but found '='; "
        'put conditions that start with >, !, [ or ( in quotes, e.g. ">= 3" or "[30..45)"'
    ]


def test_not_utf8(tmp_path: Path) -> None:
    d = write_pack(tmp_path / "p", {})
    (d / "r.yaml").write_bytes("decisions:\n  - id: 检查".encode("gbk"))
    assert lines(d) == [f"{d}/r.yaml:2: encoding: not UTF-8 text; save the file as UTF-8"]


# -- parents, children and parameters --------------------------------------------------------------------------


def test_child_pack_overrides_a_rule_and_parameters() -> None:
    parent = load_pack(PACKS / "base")
    child = load_pack(PACKS / "child")
    assert child.layers == ("test-base", "test-child")
    assert parent.parameters["food_a_max"].value == 30.0 and child.parameters["food_a_max"].value == 25.0
    assert child.parameters["food_a_max"].location.file.endswith("child/pack.yaml")
    # The override keeps its parent's position and carries the child's file:line.
    parent_rules = [r.id for r in parent.decision("credit_class").rules]
    child_rules = [r.id for r in child.decision("credit_class").rules]
    assert parent_rules == child_rules
    abnormal = child.rule("credit_abnormal")
    assert abnormal.outputs == {"credit_class": "D"} and abnormal.location.file.endswith("child/credit.yaml")
    assert child.rule("score_complaints").decision == "credit_score"
    # The parameter reaches the parent's rules: food_a is now "<= 25".
    food_a = child.rule("food_a").conditions[0].tests[0]
    assert food_a.op == "le" and food_a.value == 25.0
    # The switch flips which rule is enabled.
    assert parent.rule("ratio_a").enabled is False and child.rule("ratio_a").enabled is True
    assert child.rule("ratio_a_exempt").disabled_by == "$param.a_class_no_onsite = false"
    assert parent.hash != child.hash
    assert child.effective_from == dt.date(2025, 3, 1) and child.effective_to is None


def test_child_inserts_new_rules_before_the_parents_else(tmp_path: Path) -> None:
    base = write_pack(
        tmp_path / "base",
        {
            "r.yaml": table(
                rule("a", "{whitelist: true}")
                + "- id: e\n  else: true\n  then: {grade: B}\n  reason: 其余\n  basis: 测试\n"
            )
        },
    )
    child_manifest = "name: c\nversion: '1'\njurisdiction: x\neffective_from: 2025-01-01\nparent: ../base\n"
    extra = (
        "decisions:\n  - id: d\n    rules:\n"
        + "\n".join("      " + line for line in rule("n", "{lenient: true}").splitlines())
        + "\n"
    )
    extra += (
        "\n".join("      " + line for line in (rule("m", "{lenient: false}") + "  before: a\n").splitlines()) + "\n"
    )
    child = write_pack(tmp_path / "child", {"r.yaml": extra}, child_manifest)
    pack = load_pack(child)
    assert [r.id for r in pack.decision("d").rules] == ["m", "a", "n", "e"]
    assert base.exists()


def test_child_can_only_replace_or_add_rules(tmp_path: Path) -> None:
    write_pack(tmp_path / "base", {"r.yaml": table(rule("a", "{whitelist: true}") + rule("b", "{}"))})
    child_manifest = "name: c\nversion: '1'\njurisdiction: x\neffective_from: 2025-01-01\nparent: ../base\n"
    other = (
        "  - id: other\n    description: x\n    hit_policy: first\n    outputs: {z: int}\n    rules:\n"
        + "\n".join("      " + line for line in rule("a", "{}", "{z: 1}").splitlines())
        + "\n"
    )
    text = "decisions:\n  - id: d\n    hit_policy: unique\n    rules: []\n" + other
    child = write_pack(tmp_path / "child", {"r.yaml": text}, child_manifest)
    assert lines(child) == [
        f"{child}/r.yaml:3: unknown_field: unknown field 'hit_policy' in decision 'd' (inherited: a child pack can only replace or add its rules)",
        f"{child}/r.yaml:10: override_conflict: rule 'a' belongs to decision 'd' in the parent pack, not 'other'",
    ]


def test_parent_by_name_and_missing_parent(tmp_path: Path) -> None:
    manifest = "name: c\nversion: '1'\njurisdiction: x\neffective_from: 2025-01-01\nparent: no_such_pack\n"
    d = _pack(tmp_path, table(rule("a", "{}")), manifest)
    assert lines(d) == [
        f"{d}/pack.yaml:5: parent_missing: parent pack 'no_such_pack' not found (as a directory next to this pack or under rules/)"
    ]


def test_parent_cycle(tmp_path: Path) -> None:
    m = "name: {n}\nversion: '1'\njurisdiction: x\neffective_from: 2025-01-01\nparent: ../{p}\n"
    write_pack(tmp_path / "a", {"r.yaml": table(rule("a", "{}"))}, m.format(n="a", p="b"))
    write_pack(tmp_path / "b", {}, m.format(n="b", p="a"))
    found = lines(tmp_path / "a")
    assert f"{tmp_path}/b/pack.yaml:5: parent_cycle: pack '../a' is its own ancestor; a parent chain must end" in found


def test_parameter_override_must_keep_its_type(tmp_path: Path) -> None:
    write_pack(
        tmp_path / "base",
        {"r.yaml": table(rule("a", '{food_risk_score: "<= $param.food_a_max"}') + rule("b", "{}"))},
        PARAMS,
    )
    manifest = "name: c\nversion: '1'\njurisdiction: x\neffective_from: 2025-01-01\nparent: ../base\nparameters:\n  food_a_max: high\n"
    child = write_pack(tmp_path / "child", {}, manifest)
    assert lines(child) == [f"{child}/pack.yaml:7: type_error: 'food_a_max' is a number, got \"high\""]


def test_data_files_are_not_decision_tables(tmp_path: Path) -> None:
    d = write_pack(
        tmp_path / "p",
        {"r.yaml": table(rule("a", "{}")), "catalogue.yaml": "items: []\n", "extra.yaml": "rows: 1\n"},
    )
    assert lines(d) == [
        f"{d}/extra.yaml:1: missing_field: a rule file has no 'decisions'",
        f"{d}/extra.yaml:1: unknown_field: unknown field 'rows' in a rule file",
    ]
    manifest = "name: t\nversion: '1'\njurisdiction: x\neffective_from: 2025-01-01\ndata: [extra.yaml]\n"
    (d / "pack.yaml").write_text(manifest, encoding="utf-8")
    assert lines(d) == []


def test_the_test_pack_is_clean_and_its_hash_is_stable() -> None:
    assert lines(PACKS / "base") == []
    assert lines(PACKS / "child") == []
    assert load_pack(PACKS / "base").hash == load_pack(PACKS / "base").hash


def test_hash_ignores_layout_but_not_content(tmp_path: Path) -> None:
    text = table(rule("a", '{penalties_3y: "< 3"}') + rule("b", "{}"))
    one = load_pack(write_pack(tmp_path / "one", {"r.yaml": text}))
    two = load_pack(write_pack(tmp_path / "two", {"r.yaml": "\n\n# 注释\n" + text}))
    three = load_pack(write_pack(tmp_path / "three", {"r.yaml": text.replace("< 3", "< 4")}))
    assert one.hash == two.hash != three.hash
    assert two.rule("a").location.line == one.rule("a").location.line + 3


def test_test_case_files_are_checked(tmp_path: Path) -> None:
    cases = "cases:\n  - name: x\n    given: {penalty_3y: 1, status: open}\n    expect: {grade: E, nope: 1}\n    fired: [zz]\n"
    d = write_pack(
        tmp_path / "p",
        {"r.yaml": table(rule("a", '{penalties_3y: "< 3"}') + rule("b", "{}")), "tests/cases.yaml": cases},
    )
    assert lines(d) == [
        f"{d}/tests/cases.yaml:3: type_error: 'status' is one of active, revoked, cancelled, moved_out, annulled, got \"open\"",
        f"{d}/tests/cases.yaml:3: unknown_feature: unknown feature 'penalty_3y' (did you mean 'penalties_3y'?)",
        f"{d}/tests/cases.yaml:4: type_error: 'grade' is one of A, B, C, D, got \"E\"",
        f"{d}/tests/cases.yaml:4: unknown_output: 'nope' is not an output of the pack",
        f"{d}/tests/cases.yaml:5: unknown_rule: no rule 'zz' in the pack",
    ]
