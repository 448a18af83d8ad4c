"""The durable-rules adapter neutralises every pitfall of the notes (shared/domain/durable-rules-notes.md)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from engine.rules import EngineFault, durable, load_pack, read_pack, reference, relevant_key
from engine.rules import durable as adapter
from engine.rules.load import MAX_INPUTS
from tests.engine.rules.helpers import PACKS, rule, table, write_pack


def test_one_host_without_timer_threads() -> None:
    pack = load_pack(PACKS / "base")
    durable.evaluate(pack, {})
    host = adapter._host()
    assert host is adapter._host()
    assert not [t for t in threading.enumerate() if isinstance(t, threading.Timer)]
    assert not hasattr(host, "_d_timer") and not hasattr(host, "_t_timer")


def test_rulesets_are_named_by_content_and_registered_once(tmp_path: Path) -> None:
    text = table(rule("a", '{penalties_3y: "< 3"}') + rule("b", "{}"))
    one = adapter.compile_pack(load_pack(write_pack(tmp_path / "one", {"r.yaml": text})))
    two = adapter.compile_pack(
        load_pack(write_pack(tmp_path / "two", {"r.yaml": text.replace("测试决策", "另一个说明")}))
    )
    names = [c.name for level in one.levels for c in level.chunks]
    assert names == [c.name for level in two.levels for c in level.chunks]
    assert all(n.startswith("suijian_") and len(n) == 48 for n in names)
    assert set(names) <= adapter._REGISTERED


def test_sessions_are_deleted_after_every_call() -> None:
    # The engine allows 1,024 live sessions per ruleset; 3,000 evaluations pass only if each is deleted.
    pack = load_pack(PACKS / "base")
    record = {"penalties_3y": 1, "days_since_last_check": 5}
    want = reference.evaluate(pack, record)
    for _ in range(3000):
        assert durable.evaluate(pack, record) == want


def _pack_of(tmp_path: Path, rules: str, **kw: Any) -> Any:
    return load_pack(write_pack(tmp_path / "p", {"r.yaml": table(rules, **kw)}))


def test_a_hundred_rows_matching_one_fact_fit_the_engine_stack(tmp_path: Path) -> None:
    # A naive compilation of 65 overlapping ">=" rows fails with "error code: 303".
    rules = "".join(rule(f"r{k}", f'{{penalties_3y: ">= {k}"}}', "{n: 1}") for k in range(100))
    pack = _pack_of(tmp_path, rules, hit_policy="collect", outputs="{n: int}", extra="    aggregate: count\n")
    compiled = adapter.compile_pack(pack)
    assert compiled.calls >= 2
    for value in (0, 50, 99, 1000):
        result = durable.evaluate(pack, {"penalties_3y": value})
        assert result == reference.evaluate(pack, {"penalties_3y": value})
        assert result.outputs["n"] == min(value, 99) + 1


def test_wide_sets_and_many_inputs(tmp_path: Path) -> None:
    sections = "ABCDEFGHIJKLMNOPQRST"
    rules = "".join(
        rule(
            f"r{k}",
            "{industry_section: ["
            + ", ".join(sections[j] for j in range(0, 20, 1 + k % 3))
            + '], penalties_3y: "(0..3] or [5..7] or > 9", '
            'complaints_12m: "< 2 or == 4 or > 8", whitelist: false, status: "not in [revoked]"}',
            "{n: 1}",
        )
        for k in range(12)
    )
    pack = _pack_of(tmp_path, rules, hit_policy="collect", outputs="{n: int}", extra="    aggregate: count\n")
    for record in (
        {
            "industry_section": "A",
            "penalties_3y": 6,
            "complaints_12m": 4,
            "whitelist": False,
            "status": "active",
        },
        {
            "industry_section": "T",
            "penalties_3y": 10,
            "complaints_12m": 0,
            "whitelist": False,
            "status": "moved_out",
        },
        {
            "industry_section": "C",
            "penalties_3y": 4,
            "complaints_12m": 0,
            "whitelist": False,
            "status": "active",
        },
    ):
        assert durable.evaluate(pack, record) == reference.evaluate(pack, record)


def test_nothing_matched_is_a_recorded_outcome(tmp_path: Path) -> None:
    pack, _ = read_pack(
        write_pack(
            tmp_path / "p",
            {"r.yaml": table(rule("a", '{penalties_3y: "> 100"}') + rule("b", "{penalties_3y: missing}"))},
        )
    )
    assert pack is not None
    result = durable.evaluate(pack, {"penalties_3y": 3})
    assert result.outputs == {"grade": None} and result.fired == () and result.ok


def _raw_ruleset(name: str, rules: dict[str, Any]) -> None:
    with adapter._LOCK:
        adapter._host().set_rulesets({name: rules})


def test_a_failing_action_is_detected() -> None:
    def boom(c: Any) -> None:
        raise RuntimeError("boom")

    _raw_ruleset(
        "test_failing_action",
        {
            "d0_r0_0": {"all": [{"m": {"x0": 1}}], "run": boom},
            "catch_all": {"all": [{"m": {"k": 1}}], "run": adapter._recorder(adapter.CATCH_ALL)},
        },
    )
    with pytest.raises(
        EngineFault, match="a durable-rules action failed on test_failing_action: exception caught boom"
    ):
        adapter._call("test_failing_action", {"k": 1, "x0": 1})
    assert adapter._call("test_failing_action", {"k": 1, "x0": 2}) == set()


def test_a_missing_catch_all_is_detected() -> None:
    _raw_ruleset("test_no_catch_all", {"d0_r1_0": {"all": [{"m": {"x0": 1}}], "run": adapter._recorder((0, 1))}})
    with pytest.raises(EngineFault, match="the catch-all rule of test_no_catch_all fired 0 times instead of once"):
        adapter._call("test_no_catch_all", {"k": 1, "x0": 1})
    with pytest.raises(EngineFault, match="durable-rules call failed on test_no_catch_all: Could not handle message"):
        adapter._call("test_no_catch_all", {"k": 1, "x0": 2})


def test_fact_property_names_have_distinct_hashes() -> None:
    assert adapter.property_names_distinct(MAX_INPUTS)


def test_batches_evaluate_each_distinct_key_once(monkeypatch: pytest.MonkeyPatch) -> None:
    pack = load_pack(PACKS / "base")
    records = [
        {"penalties_3y": p, "days_since_last_check": 5, "food_risk_score": s}
        for p in (0, 0, 1, 2, 3, 7)
        for s in (10.0, 20.0, 31.0)
    ]
    keys = {relevant_key(pack, r) for r in records}
    assert len(keys) == 6  # penalties: 0 | 1, 2 ("[1..2]") | 3, 7 (">= 3"); scores: 10, 20 ("<= 30") | 31
    calls: list[str] = []
    real = adapter._call

    def counting(ruleset: str, fact: dict[str, Any]) -> set[tuple[int, int]]:
        calls.append(ruleset)
        return real(ruleset, fact)

    monkeypatch.setattr(adapter, "_call", counting)
    results = durable.evaluate_many(pack, records)
    assert len(calls) == len(keys) * adapter.compile_pack(pack).calls
    assert results == [reference.evaluate(pack, r) for r in records]
    assert results[0] is results[1]


def test_concurrent_callers_share_the_host_safely() -> None:
    pack = load_pack(PACKS / "base")
    records = [
        {"penalties_3y": k % 5, "days_since_last_check": k % 3 or None, "food_risk_score": float(k % 70)}
        for k in range(200)
    ]
    want = [reference.evaluate(pack, r) for r in records]
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            assert [durable.evaluate(pack, r) for r in records] == want
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_a_level_wider_than_one_fact_is_split(tmp_path: Path) -> None:
    features = [
        "penalties_1y",
        "penalties_3y",
        "complaints_12m",
        "verified_complaints_12m",
        "checks_3y",
        "problem_checks_3y",
        "elevator_count",
        "equipment_count",
    ]
    when = "{" + ", ".join(f'{f}: "> {k}"' for k, f in enumerate(features)) + "}"
    decisions = "".join(
        f"  - id: d{n}\n    description: 宽\n    hit_policy: collect\n    outputs: {{o{n}: int}}\n    rules:\n"
        f"      - id: r{n}\n        when: {when}\n        then: {{o{n}: {n}}}\n        reason: 测试\n        basis: 本规则包配置：测试\n"
        for n in range(30)
    )
    pack = load_pack(write_pack(tmp_path / "p", {"r.yaml": "decisions:\n" + decisions}))
    compiled = adapter.compile_pack(pack)
    assert len(compiled.levels) == 2
    assert all(sum(len(cd.fields) for cd in level.decisions) <= adapter.MAX_FIELDS for level in compiled.levels)
    for record in ({f: 9 for f in features}, {f: 3 for f in features}, {}):
        result = durable.evaluate(pack, record)
        assert result == reference.evaluate(pack, record)
    assert durable.evaluate(pack, {f: 9 for f in features}).outputs["o29"] == (29,)
