"""Each stage of the pack checker alone: read (layers from disk), merge (parents and children), typecheck (types,
order) and cases, each taking the previous stage's output and one Findings log."""

from __future__ import annotations

from pathlib import Path

from engine.rules.cases import read_cases
from engine.rules.codes import Code
from engine.rules.findings import Findings
from engine.rules.merge import merge_decisions, merge_parameters
from engine.rules.model import Parameter, UnaryTest
from engine.rules.read import Layer, read_layers
from engine.rules.typecheck import type_decisions
from engine.rules.yamlio import parse_yaml
from tests.engine.rules.helpers import MANIFEST, rule, table, write_pack

BASE_PARAMS = MANIFEST + "parameters:\n  limit: {type: int, default: 1, comment: 下限}\n"
KID = MANIFEST.replace("name: t", "name: kid") + "parent: ../base\nparameters:\n  limit: 3\n"
ELSE = "- id: z\n  else: true\n  then: {grade: B}\n  reason: 其他\n  basis: 本规则包配置：测试\n"


def _indent(text: str) -> str:
    return "".join("      " + line + "\n" for line in text.splitlines())


def _packs(tmp_path: Path, kid_rules: str) -> Path:
    write_pack(tmp_path / "base", {"r.yaml": table(rule("a", '{penalties_3y: ">= 1"}') + ELSE)}, BASE_PARAMS)
    return write_pack(tmp_path / "kid", {"r.yaml": "decisions:\n  - id: d\n    rules:\n" + _indent(kid_rules)}, KID)


def _layers(tmp_path: Path, kid_rules: str, log: Findings) -> list[Layer]:
    return read_layers(_packs(tmp_path, kid_rules), "kid", log)


def test_read_gives_the_layers_root_first_with_their_lines(tmp_path: Path) -> None:
    log = Findings()
    layers = _layers(tmp_path, rule("b", "{}"), log)
    assert list(log) == []
    assert [(layer.name, layer.display) for layer in layers] == [("t", "base"), ("kid", "kid")]
    file, data = layers[1].files[0]
    assert file == "kid/r.yaml"
    assert data["decisions"][0]["rules"].item_line(0) == 4


def test_read_reports_a_missing_parent_and_keeps_reading(tmp_path: Path) -> None:
    d = write_pack(tmp_path / "p", {"r.yaml": "decisions: []\n"}, MANIFEST + "parent: ../gone\n")
    log = Findings()
    layers = read_layers(d, "p", log)
    assert [f.code for f in log] == [Code.PARENT_MISSING]
    assert [layer.name for layer in layers] == ["t"]


def test_merge_overrides_a_parameter_and_places_a_childs_rules(tmp_path: Path) -> None:
    log = Findings()
    layers = _layers(tmp_path, rule("a", '{penalties_3y: ">= 2"}') + rule("b", "{}"), log)
    params = merge_parameters(layers, log)
    decisions, tainted = merge_decisions(layers, log)
    assert list(log) == [] and tainted == set()
    assert (params["limit"].type, params["limit"].value, params["limit"].location.file) == ("int", 3, "kid/pack.yaml")
    [d] = decisions
    # The child's `a` replaces the parent's in place; its new `b` goes before the parent's else rule.
    assert [(r.id, r.pack) for r in d.rules] == [("a", "kid"), ("b", "kid"), ("z", "t")]


def test_merge_refuses_a_parameter_of_another_type(tmp_path: Path) -> None:
    _packs(tmp_path, rule("b", "{}"))
    (tmp_path / "kid" / "pack.yaml").write_text(KID.replace("limit: 3", "limit: [1, 2]"), encoding="utf-8")
    log = Findings()
    merge_parameters(read_layers(tmp_path / "kid", "kid", log), log)
    assert [(f.code, f.location.line) for f in log] == [(Code.TYPE_ERROR, 7)]


def test_typecheck_binds_conditions_to_feature_types_and_parameters(tmp_path: Path) -> None:
    log = Findings()
    layers = _layers(tmp_path, rule("b", '{penalties_3y: "< $param.limit"}'), log)
    raw_params = merge_parameters(layers, log)
    params = {p.name: Parameter(p.name, p.type, p.value, p.comment, p.location) for p in raw_params.values()}
    decisions, _ = merge_decisions(layers, log)
    built, order = type_decisions(decisions, params, log, analyse_tables=False)
    assert list(log) == [] and order == ["d"]
    b = next(r for r in built["d"].rules if r.id == "b")
    assert b.conditions[0].input == "penalties_3y"
    assert b.conditions[0].tests == (UnaryTest("lt", 3),)
    assert built["d"].inputs[0].type == "int"


def test_typecheck_leaves_out_a_decision_with_a_bad_condition(tmp_path: Path) -> None:
    log = Findings()
    layers = _layers(tmp_path, rule("b", "{penalties_3y: lots}"), log)
    decisions, _ = merge_decisions(layers, log)
    built, _ = type_decisions(decisions, {}, log)
    assert built == {}
    assert [(f.code, f.location.file) for f in log] == [(Code.TYPE_ERROR, "kid/r.yaml")]


def test_cases_are_typed_against_the_catalogue_and_the_decisions(tmp_path: Path) -> None:
    log = Findings()
    layers = _layers(tmp_path, rule("b", "{}"), log)
    decisions, _ = merge_decisions(layers, log)
    built, _ = type_decisions(decisions, {}, log, analyse_tables=False)
    text = "cases:\n  - name: 一\n    given: {penalties_3y: 2}\n    expect: {grade: A}\n  - name: 二\n    given: {}\n    expect: {grad: A}\n"
    data, found = parse_yaml(text, "c.yaml")
    assert found == []
    cases = read_cases([("c.yaml", data)], built, log)
    assert [(c.name, c.given, c.expect) for c in cases] == [("一", {"penalties_3y": 2}, {"grade": "A"})]
    assert [(f.code, f.location.line) for f in log] == [(Code.UNKNOWN_OUTPUT, 7)]
