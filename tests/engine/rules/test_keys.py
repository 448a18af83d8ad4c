"""The rule-relevant key: equal keys mean equal Results, and the polars version equals the per-record one."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.features.registry import REGISTRY
from engine.rules import RecordError, load_pack, reference, relevant_key, relevant_keys
from tests.engine.rules.helpers import PACKS

PACK = load_pack(PACKS / "base")


def _value(draw: st.DrawFn, name: str) -> Any:
    f = REGISTRY[name]
    if draw(st.integers(0, 5)) == 0:
        return None
    if f.type == "int":
        return draw(st.sampled_from([0, 1, 2, 3, 4, 5, 364, 365, 366, 1000, -1]))
    if f.type == "float":
        return draw(st.sampled_from([0.0, 25.0, 29.5, 30.0, 30.5, 45.0, 45.5, 60.0, 60.5, 80.0]))
    if f.type == "bool":
        return draw(st.booleans())
    return draw(st.sampled_from(list(f.values)))


@st.composite
def _record(draw: st.DrawFn) -> dict[str, Any]:
    return {name: _value(draw, name) for name in PACK.features}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(_record(), min_size=1, max_size=40))
def test_equal_keys_give_equal_results_and_the_frame_path_agrees(records: list[dict[str, Any]]) -> None:
    keys = [relevant_key(PACK, r) for r in records]
    seen: dict[tuple[int, ...], Any] = {}
    for key, record in zip(keys, records, strict=True):
        result = reference.evaluate(PACK, record)
        assert seen.setdefault(key, result) == result
    schema = {
        name: {"int": pl.Int64, "float": pl.Float64, "bool": pl.Boolean, "str": pl.String}[REGISTRY[name].type]
        for name in PACK.features
    }
    frame = pl.DataFrame(records, schema=schema)
    assert [tuple(row) for row in relevant_keys(PACK, frame).iter_rows()] == keys


def test_keys_merge_values_no_rule_tells_apart() -> None:
    base = {"days_since_last_check": 5}
    # penalties 1 and 2 are both "[1..2]"; 3 and 70 are both ">= 3".
    assert relevant_key(PACK, {**base, "penalties_3y": 1}) == relevant_key(PACK, {**base, "penalties_3y": 2})
    assert relevant_key(PACK, {**base, "penalties_3y": 3}) == relevant_key(PACK, {**base, "penalties_3y": 70})
    assert relevant_key(PACK, {**base, "penalties_3y": 0}) != relevant_key(PACK, {**base, "penalties_3y": 1})


def test_frame_keys_reject_wrong_columns() -> None:
    with pytest.raises(RecordError, match="feature 'penalties_3y': expected a column of whole numbers"):
        relevant_keys(PACK, pl.DataFrame({"penalties_3y": ["3"]}))
    with pytest.raises(RecordError, match="feature 'status': expected one of active"):
        relevant_keys(PACK, pl.DataFrame({"status": ["closed"]}))
    keys = relevant_keys(PACK, pl.DataFrame({"penalties_3y": [1, None]}))
    assert keys.columns == list(PACK.features) and keys.height == 2
