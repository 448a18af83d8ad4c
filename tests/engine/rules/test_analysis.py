"""The checker's table analysis is sound: its examples are real, and what it calls complete, overlap-free or
unreachable holds for every subject the reference interpreter evaluates."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.features.registry import REGISTRY
from engine.rules import read_pack, reference
from engine.rules.analysis import analyse
from engine.rules.cells import Axis
from engine.rules.model import UnaryTest
from tests.engine.rules.packgen import FEATURES, FLOAT_POINTS, INT_POINTS, packs, write_pack

_TMP = Path(tempfile.mkdtemp(prefix="suijian-analysis-"))


def _within(feature: Any, values: list[Any]) -> list[Any]:
    """Only values inside the feature's catalogue bounds (e.g. 安全状况等级 1-5): the analysis may rely on them.
    Regression: with bounds added to the catalogue, a grade of 100 made a complete table look incomplete."""
    lo = getattr(feature, "min", None)
    hi = getattr(feature, "max", None)
    kept = [v for v in values if (lo is None or v >= lo) and (hi is None or v <= hi)]
    return kept or [lo if lo is not None else hi]


@st.composite
def in_domain_records(draw: st.DrawFn) -> dict[str, Any]:
    """Records the analysis assumes: non-nullable features present, counts and scores not negative."""
    record: dict[str, Any] = {}
    for name in FEATURES:
        f = REGISTRY[name]
        if f.nullable and draw(st.integers(0, 3)) == 0:
            record[name] = None
        elif f.type == "int":
            record[name] = draw(st.sampled_from(_within(f, [*INT_POINTS, 4, 6, 100])))
        elif f.type == "float":
            record[name] = draw(st.sampled_from(_within(f, [*FLOAT_POINTS, 1.0, 1.75, 2.5, 9.0])))
        elif f.type == "bool":
            record[name] = draw(st.booleans())
        else:
            record[name] = draw(st.sampled_from(list(f.values)))
    return record


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=packs(), batch=st.lists(in_domain_records(), min_size=1, max_size=15))
def test_analysis_is_sound(spec: dict[str, Any], batch: list[dict[str, Any]]) -> None:
    write_pack(_TMP, spec)
    pack, findings = read_pack(_TMP)
    assert pack is not None, "\n".join(map(str, findings))
    assert not [f for f in findings if f.code == "analysis_limit"]
    analyses = {d.id: analyse(d) for d in pack.decisions}
    for d in pack.decisions:
        a = analyses[d.id]
        for env in a.gaps:
            assert reference._decide(d, env).matched == (), (d.id, env)
        for first, second, env in a.overlaps:
            matched = reference._decide(d, env).matched
            assert first in matched and second in matched, (d.id, env)
    for record in batch:
        result = reference.evaluate(pack, record)
        for d in pack.decisions:
            a = analyses[d.id]
            got = result.decision(d.id)
            if got.error and got.error.startswith("skipped"):
                continue
            if not a.gaps:
                assert got.matched, (d.id, record)
            if d.hit_policy == "unique" and not a.overlaps:
                assert len(got.matched) <= 1, (d.id, record)
            assert not set(a.unreachable) & set(got.fired), (d.id, record)


def test_cells_of_an_axis() -> None:
    axis = Axis.build("x", True, [30, 45, 30])
    assert axis.points == (30, 45) and axis.size == 6
    assert [axis.cell(v) for v in (None, 10, 30, 31, 45, 99)] == [0, 1, 2, 3, 4, 5]
    assert axis.test_cells(UnaryTest("range", lo=30, hi=45, lo_closed=True, hi_closed=False)) == {2, 3}
    assert axis.test_cells(UnaryTest("ne", value=30)) == {1, 3, 4, 5}
    labels = Axis.build("s", False, ["B", "A"])
    assert labels.points == ("A", "B") and [labels.cell(v) for v in (None, "A", "B", "Z")] == [0, 1, 2, 3]
    assert labels.test_cells(UnaryTest("not_in", values=("A",))) == {2, 3}
    assert labels.test_cells(UnaryTest("in", values=("A", "Z"))) == {1}
    flags = Axis.build("b", False, [True, False])
    assert [flags.cell(v) for v in (False, True)] == [1, 2]
