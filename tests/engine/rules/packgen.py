"""Hypothesis strategies for random rule packs (written as YAML, loaded by the real loader) and feature records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from engine.features.registry import REGISTRY

# A spread of catalogue features: int (nullable or not), float, bool, closed labels (nullable or not).
FEATURES = [
    "penalties_3y",
    "days_since_last_check",
    "pressure_vessel_worst_grade",
    "food_risk_score",
    "food_static_score",
    "on_abnormal_list",
    "whitelist",
    "status",
    "food_scale",
    "food_licence_kind",
]
INT_POINTS = [0, 1, 2, 3, 5]
FLOAT_POINTS = [0.0, 1.5, 2.0, 3.0, 4.25]
LABELS = ["H", "M", "L"]
CODES = ["X1", "X2", "X3"]

MANIFEST = {"name": "random", "version": "1", "jurisdiction": "测试", "effective_from": "2025-01-01"}


def _num_text(value: float | int, kind: str) -> str:
    return str(int(value)) if kind == "int" else repr(float(value))


@st.composite
def _numeric_test(draw: st.DrawFn, kind: str, params: dict[str, dict[str, Any]]) -> str:
    points = INT_POINTS if kind == "int" else FLOAT_POINTS

    def value() -> str:
        v = draw(st.sampled_from(points))
        if draw(st.integers(0, 4)) == 0:
            name = f"t_{kind}_{len(params)}"
            params[name] = {"type": kind, "default": v}
            return f"$param.{name}"
        return _num_text(v, kind)

    shape = draw(st.integers(0, 9))
    if shape <= 5:
        op = ["<", "<=", ">", ">=", "==", "!="][shape]
        return f"{op} {value()}"
    if shape == 6:
        a, b = sorted(draw(st.lists(st.sampled_from(points), min_size=2, max_size=2)))
        lo = draw(st.booleans()) or a == b
        hi = draw(st.booleans()) or a == b
        return f"{'[' if lo else '('}{_num_text(a, kind)}..{_num_text(b, kind)}{']' if hi else ')'}"
    if shape == 7:
        items = draw(st.lists(st.sampled_from(points), min_size=1, max_size=3, unique=True))
        return f"{draw(st.sampled_from(['in', 'not in']))} [{', '.join(_num_text(x, kind) for x in items)}]"
    return draw(st.sampled_from(["missing", "present", "any"]))


@st.composite
def _label_test(draw: st.DrawFn, values: list[str]) -> Any:
    shape = draw(st.integers(0, 5))
    if shape == 0:
        return draw(st.sampled_from(values))
    if shape == 1:
        return draw(st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True))
    if shape == 2:
        return f"!= {draw(st.sampled_from(values))}"
    if shape == 3:
        return f"not in [{', '.join(draw(st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True)))}]"
    if shape == 4:
        return f"== {draw(st.sampled_from(values))}"
    return draw(st.sampled_from(["missing", "present"]))


@st.composite
def _bool_test(draw: st.DrawFn) -> Any:
    return draw(st.sampled_from([True, False, "== true", "!= false", "missing", "present"]))


@st.composite
def _condition(draw: st.DrawFn, kind: str, values: list[str] | None, params: dict[str, dict[str, Any]]) -> Any:
    if kind in ("int", "float"):
        first = draw(_numeric_test(kind, params))
        if draw(st.integers(0, 4)) == 0:
            first = f"{first} or {draw(_numeric_test(kind, params))}"
        return first
    if kind == "bool":
        return draw(_bool_test())
    return draw(_label_test(values or LABELS))


@st.composite
def _output_value(draw: st.DrawFn, kind: str) -> Any:
    if kind == "label":
        return draw(st.sampled_from(LABELS))
    if kind == "int":
        return draw(st.integers(0, 5))
    if kind == "float":
        return draw(st.sampled_from([0.5, 1.25, 2.0, 0.1]))
    return draw(st.lists(st.sampled_from(CODES), max_size=2, unique=True))


@st.composite
def packs(draw: st.DrawFn) -> dict[str, Any]:
    """A random valid pack as {'manifest': …, 'decisions': […]} (YAML-ready)."""
    params: dict[str, dict[str, Any]] = {}
    if draw(st.booleans()):
        params["switch"] = {"type": "bool", "default": draw(st.booleans())}
    decisions = []
    # name -> (kind, closed values) of each usable earlier output
    usable: dict[str, tuple[str, list[str] | None]] = {}
    for k in range(draw(st.integers(1, 4))):
        policy = draw(st.sampled_from(["unique", "first", "priority", "collect"]))
        aggregate = draw(st.sampled_from([None, "sum", "min", "max", "count"])) if policy == "collect" else None
        if policy == "priority":
            main = "label"
        elif aggregate in ("sum", "min", "max"):
            main = draw(st.sampled_from(["int", "float"]))
        else:
            main = draw(st.sampled_from(["label", "int", "list"]))
        second = draw(st.booleans()) and aggregate not in ("sum", "min", "max")
        out_name = f"o{k}"
        outputs: dict[str, Any] = {out_name: {"type": "str", "values": LABELS} if main == "label" else main}
        kinds = {out_name: main}
        if second:
            outputs[f"p{k}"] = "int"
            kinds[f"p{k}"] = "int"
        candidates = list(FEATURES) + list(usable)
        inputs = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=3, unique=True))
        if len(usable) > 0 and draw(st.booleans()) and not set(inputs) & set(usable):
            # Read an earlier decision more often than chance would: the DAG is where engines could part ways.
            inputs = [draw(st.sampled_from(sorted(usable))), *inputs][:3]
        rules: list[dict[str, Any]] = []
        for n in range(draw(st.integers(1, 6))):
            when: dict[str, Any] = {}
            for name in inputs:
                if not draw(st.integers(0, 9)) < 6:
                    continue
                if name in REGISTRY:
                    f = REGISTRY[name]
                    when[name] = draw(_condition(f.type, list(f.values) or None, params))
                else:
                    kind, values = usable[name]
                    when[name] = draw(_condition(kind, values, params))
            if "switch" in params and draw(st.integers(0, 5)) == 0:
                when["$param.switch"] = draw(st.booleans())
            then = {o: draw(_output_value(kinds[o])) for o in outputs}
            rules.append(
                {
                    "id": f"d{k}_r{n}",
                    "when": when,
                    "then": then,
                    "reason": "随机规则",
                    "basis": "本规则包配置：测试",
                }
            )
        if draw(st.integers(0, 2)) == 0:
            then = {o: draw(_output_value(kinds[o])) for o in outputs}
            rules.append(
                {
                    "id": f"d{k}_else",
                    "else": True,
                    "then": then,
                    "reason": "其余",
                    "basis": "本规则包配置：测试",
                }
            )
        decision: dict[str, Any] = {
            "id": f"d{k}",
            "description": "随机决策",
            "hit_policy": policy,
            "inputs": inputs,
            "outputs": outputs,
            "rules": rules,
        }
        if aggregate:
            decision["aggregate"] = aggregate
        decisions.append(decision)
        # Later decisions may read this one's outputs, typed as the hit policy leaves them.
        for o, kind in kinds.items():
            if policy == "collect" and aggregate is None:
                continue
            if policy == "collect" and aggregate == "count":
                usable[o] = ("int", None)
            elif kind == "label":
                usable[o] = ("str", LABELS)
            elif kind in ("int", "float"):
                usable[o] = (kind, None)
    manifest: dict[str, Any] = dict(MANIFEST)
    if params:
        manifest["parameters"] = params
    return {"manifest": manifest, "decisions": decisions}


class _NoAliases(yaml.SafeDumper):
    """Rule files refuse anchors and aliases, so the dumper must write shared lists out each time."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_NoAliases, allow_unicode=True, sort_keys=False)


def write_pack(directory: Path, spec: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    (directory / "pack.yaml").write_text(dump(spec["manifest"]), encoding="utf-8")
    (directory / "decisions.yaml").write_text(dump({"decisions": spec["decisions"]}), encoding="utf-8")


def _feature_value(draw: st.DrawFn, name: str) -> Any:
    f = REGISTRY[name]
    if draw(st.integers(0, 4)) == 0:
        return None
    if f.type == "int":
        return draw(st.sampled_from([*INT_POINTS, -1, 4, 6, 100]))
    if f.type == "float":
        return draw(st.sampled_from([*FLOAT_POINTS, -0.5, 1.0, 1.75, 2.5, 9.0, 3]))
    if f.type == "bool":
        return draw(st.booleans())
    return draw(st.sampled_from(list(f.values)))


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    return {name: _feature_value(draw, name) for name in FEATURES}
