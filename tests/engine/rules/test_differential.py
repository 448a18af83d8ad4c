"""The reference interpreter and the durable-rules adapter agree exactly on random packs and random records:
outputs, matched and fired rule ids, and errors (UNIQUE violations, skipped decisions) — one record at a time
and through the bucketed batch path."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.rules import durable, read_pack, reference, relevant_key
from tests.engine.rules.packgen import packs, records, write_pack

_TMP = Path(tempfile.mkdtemp(prefix="suijian-diff-"))


def doubled_first(items: list[Any]) -> list[Any]:
    """Each item, then the first half again: the second time round a memo answers without the engine."""
    return items + items[: len(items) // 2]


def _agree(spec: dict[str, Any], batch: list[dict[str, Any]]) -> None:
    write_pack(_TMP, spec)
    pack, findings = read_pack(_TMP, analyse_tables=False)
    assert pack is not None, "\n".join(map(str, findings))
    expected = [reference.evaluate(pack, r) for r in batch]
    one_by_one = [durable.evaluate(pack, r) for r in batch]
    for record, want, got in zip(batch, expected, one_by_one, strict=True):
        assert got == want, f"record {record}"
    # Through a memo of each ruleset's answers (what grading uses): the same results with at most as many calls.
    memo = durable.ChunkMemo()
    assert [durable.evaluate(pack, r, memo) for r in doubled_first(batch)] == doubled_first(expected)
    assert memo.calls <= len(batch) * durable.compile_pack(pack).calls
    # Duplicate some records so buckets really fan out.
    doubled = batch + batch[::2]
    assert durable.evaluate_many(pack, doubled) == [*expected, *expected[::2]]
    assert reference.evaluate_many(pack, batch) == expected
    # Same key, same result: the bucketing is exact.
    by_key: dict[tuple[int, ...], Any] = {}
    for record, want in zip(batch, expected, strict=True):
        assert by_key.setdefault(relevant_key(pack, record), want) == want


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=packs(), batch=st.lists(records(), min_size=1, max_size=12))
def test_engines_agree_on_random_packs(spec: dict[str, Any], batch: list[dict[str, Any]]) -> None:
    _agree(spec, batch)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SUIJIAN_SLOW"), reason="long run: set SUIJIAN_SLOW=1")
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=packs(), batch=st.lists(records(), min_size=1, max_size=30))
def test_engines_agree_on_many_random_packs(spec: dict[str, Any], batch: list[dict[str, Any]]) -> None:
    _agree(spec, batch)
