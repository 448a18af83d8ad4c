"""Every hashing scheme in engine.ledger.canonical, pinned: a fixed input gives a fixed digest, forever.

The digests were taken from the code of release 0.1.0 (grading.canonical_result, the chain's compact JSON,
packs.files_hash, outputs.grade_outputs_hash, the loader's pack hash, Plan.to_json), so entries written by it
still verify. A change that moves any of them breaks recorded entries: make a new scheme with a new name.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import polars as pl
import pytest

from engine.ledger import canonical as c

OUTCOME_OUTPUTS = {"credit_class": "A", "x": [1, 2], "s": "é"}


def test_scheme_names() -> None:
    assert sorted(c.SCHEMES) == [
        "suijian-chain-1",
        "suijian-grade-outputs-1",
        "suijian-outcome-1",
        "suijian-pack-1",
        "suijian-pack-2",
        "suijian-pack-files-1",
        "suijian-snapshot-1",
        "suijian-snapshot-2",
        "suijian-snapshot-3",
        "suijian.plan/1",
        "suijian.plan/2",
        "suijian.plan/3",
    ]
    assert {s.role for s in c.SCHEMES.values()} == set(c.ROLES)


def test_chain_scheme() -> None:
    body = {"seq": 1, "kind": "grade", "x": "随", "f": 1.5}
    text = c.body_text(body, c.CHAIN)
    assert text == '{"f":1.5,"kind":"grade","seq":1,"x":"随"}'
    assert c.entry_hash("0" * 64, text, c.CHAIN) == "71b65b39f87576c4d66661a84d9b49370a158778a393868cfad15ee92d5093a0"


def test_outcome_scheme() -> None:
    assert c.canonical_result(OUTCOME_OUTPUTS, ["r1"], ["e"], c.OUTCOME) == (
        '{"errors": ["e"], "fired": ["r1"], "outputs": {"credit_class": "A", "s": "é", "x": [1, 2]}}'
    )


def test_grade_outputs_scheme() -> None:
    results = pl.DataFrame({"uscc": ["b", "a", "c"], "outcome": [0, 1, 0]})
    outcomes = {0: c.canonical_result(OUTCOME_OUTPUTS, ["r1"], []), 1: c.canonical_result({}, [], [])}
    assert c.grade_outputs_hash(results, outcomes, c.GRADE_OUTPUTS) == (
        "33896653f5c6f2253b0b5b0476344e7aff372fdc7caf6732860c8a0113bc1aa7"
    )


def test_snapshot_scheme() -> None:
    tables = {"features": pl.DataFrame({"uscc": ["b", "a"], "x": [1.0, None]}), "items": [{"code": "A1", "名": "é"}]}
    assert c.content_hash(tables, c.SNAPSHOT) == "08c80aa1e3145c6f8b2f8fb9a5968edf850e03e9b6698e117a551b6c220b92b3"


def test_snapshot_scheme_3() -> None:
    """The bytes of snapshot-3 are fixed forever: a Spark grade run's snapshot hash is checked against this."""
    frame = pl.DataFrame(
        {"uscc": ["91440300MA5F0001X1", "91445203MA4W8XYP08"], "n": [1, None], "s": ["é", "x"], "b": [True, False]}
    )
    assert c.content_hash({"features": frame}, c.SNAPSHOT3) == (
        "0d1a6567d27e437f9716b5e87b6a2152f022b0f6a2e2f3445c8d99becb9b5b8b"
    )


def test_pack_scheme() -> None:
    document = {"name": "p", "v": 1.0, "n": 2, "d": dt.date(2026, 1, 2), "t": (1, 2.5, "随检"), "m": {3: None}}
    assert c.pack_hash(document, c.PACK_1) == "f4ee76bdbbce697d07a46c8ba2e8b15f970518934952ba55dbc6d7ac2e637490"
    for scheme in (c.PACK_1, c.PACK_2):  # a float parameter is not an integer one
        assert c.pack_hash({"v": 1.0}, scheme) != c.pack_hash({"v": 1}, scheme)


def test_pack_scheme_2() -> None:
    """pack-2: the document (which the loader builds with the policy and catalogue) under its own tag, NFC text."""
    document = {"name": "p", "v": 1.0, "data": {"policy.yaml": {"general_cap": "5%"}, "catalogue.yaml": None}}
    assert c.PACK == c.PACK_2  # what new entries record
    assert c.pack_hash(document, c.PACK_2) == "fb624762a5fb28e2c1ca1e23335a99fee620211d55ae190097e4fd5b8cced75f"
    assert c.pack_hash(document, c.PACK_2) != c.pack_hash(document, c.PACK_1)
    composed, decomposed = {"name": "Café"}, {"name": "Cafe\u0301"}
    assert c.pack_hash(composed, c.PACK_2) == c.pack_hash(decomposed, c.PACK_2)
    assert c.pack_hash(composed, c.PACK_1) != c.pack_hash(decomposed, c.PACK_1)  # pack-1's bytes stay as they were


def test_pack_files_scheme() -> None:
    files = {"p/pack.yaml": b"name: p\n", "p/a.yaml": "规则".encode()}
    assert c.pack_files_hash(files, c.PACK_FILES) == (
        "cf9563248ebec90c185e3bf8bb519edc09d25657273c8fad37b8eaa1f400fc7d"
    )


def test_plan_scheme() -> None:
    text = c.plan_text({"b": [1, 2], "a": "随检", "z": {"y": 0.5}}, c.PLAN)
    assert text == '{"a":"随检","b":[1,2],"z":{"y":0.5}}'
    assert (
        c.plan_hash(text, c.PLAN)
        == hashlib.sha256(text.encode()).hexdigest()
        == ("3c544e9f42c90ca6b1df7adc83d56f6e878b5dd9c17f833663b372ae2205c739")
    )
    with pytest.raises(ValueError):
        c.plan_text({"x": float("nan")})


def test_plan_scheme_3() -> None:
    """plan/3 (engine.ledger.plan_columns): the head's canonical text and the visits' typed columns, pinned; the
    same digest whatever the row groups (here one, then one per visit)."""
    from engine.ledger import plan_columns as pc

    head = {"format": "suijian.plan/3", "seed": "随检", "risk": 0.5}
    day = dt.date(2026, 1, 1)
    visits = pl.DataFrame(
        {
            "id": ["A", "A/2"],
            "uscc": ["A", "A"],
            "region": ["440111", None],
            "items": [
                [{"code": "X", "drawn": True, "mandatory": False, "stratum": "s", "reason": None}],
                [
                    {"code": "Y", "drawn": False, "mandatory": True, "stratum": None, "reason": "规则"},
                    {"code": "Z", "drawn": True, "mandatory": True, "stratum": "t", "reason": "é"},
                ],
            ],
            "team": [["i1", "i2"], ["i2"]],
            "lead": ["i1", "i2"],
            "experts": [[], ["e"]],
            "due_from": [day, day],
            "due_to": [dt.date(2026, 12, 31)] * 2,
            "priority": [1, 2],
            "risk": [1.0, None],
            "previous_leads": [[], ["i1"]],
            "lead_repeats": [False, True],
            "scheduled_on": [dt.date(2026, 3, 2), None],
            "due_on": [dt.date(2026, 3, 6), None],
            "index": [1, None],
            "count": [2, None],
        },
        schema=pc.VISIT_COLUMNS,
    )
    pinned = "b515d9644052f737e4c3ef0e2d79ad6d0675f9c706db6999ca094cbdfa20e1eb"
    assert pc.write(head, [visits]).sha256 == pinned
    assert pc.write(head, [visits.slice(0, 1), visits.slice(1)]).sha256 == pinned
    assert c.entry_schemes("plan")["outputs"] == c.PLAN3  # what new plans record
    with pytest.raises(c.UnknownScheme):
        c.plan_hash("{}", c.PLAN3)  # not the SHA-256 of a text


def test_an_entry_without_schemes_reads_as_the_legacy_ones() -> None:
    assert c.schemes_of({"kind": "grade"}) == {**c.LEGACY_SCHEMES, "outputs": c.GRADE_OUTPUTS}
    assert c.schemes_of({"kind": "plan"})["outputs"] == c.PLAN
    assert "outputs" not in c.schemes_of({"kind": "commit"})


def test_new_entries_record_what_they_use() -> None:
    for kind in ("grade", "plan", "commit", "preview", "publish"):
        schemes = c.entry_schemes(kind)
        assert c.schemes_of({"kind": kind, "schemes": schemes}) == schemes
        assert all(c.SCHEMES[name].role == role for role, name in schemes.items())


@pytest.mark.parametrize(
    ("schemes", "message"),
    [
        ({"chain": "suijian-chain-2"}, "unknown hashing scheme 'suijian-chain-2' for chain"),
        (
            {"outputs": "suijian-outcome-1"},
            "names scheme 'suijian-outcome-1' for outputs, but that scheme makes the outcome hash",
        ),
        ("suijian-chain-1", "not a mapping"),
    ],
)
def test_an_unknown_scheme_is_refused_by_name(schemes: object, message: str) -> None:
    with pytest.raises(c.UnknownScheme, match=message):
        c.schemes_of({"kind": "grade", "schemes": schemes})


def test_a_scheme_of_the_wrong_role_is_refused() -> None:
    with pytest.raises(c.UnknownScheme, match="is not a chain hashing scheme"):
        c.entry_hash("0" * 64, "{}", c.PLAN)
