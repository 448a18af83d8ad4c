"""The draw: tickets equal the public consistent-sampler package's, draws are order- and partition-independent."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction

import consistent_sampler as cs
import numpy as np
import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import engine.sampling as sampling
from engine.sampling import (
    KEY_DIGITS,
    TICKET_SCHEME,
    Draw,
    Ticket,
    derive_seed,
    draw,
    draw_frame,
    merge,
    quota,
    ticket,
    ticket_keys,
    ticket_numbers,
    tickets,
)
from entities.errors import InputError, SuijianError

SEED = "01382438112797316654"

seeds = st.text(min_size=1, max_size=40)  # any Unicode text but lone surrogates (not UTF-8 encodable)
subject_ids = st.text(max_size=30)
uscc_like = st.from_regex(r"91[0-9]{6}[0-9A-Z]{10}", fullmatch=True)
STRATA = ("A", "B", "C", "D")


@st.composite
def populations(draw_: st.DrawFn, max_size: int = 60) -> list[tuple[str, str]]:
    ids = draw_(st.lists(st.one_of(subject_ids, uscc_like), unique=True, max_size=max_size))
    return [(i, draw_(st.sampled_from(STRATA))) for i in ids]


quota_maps = st.fixed_dictionaries({s: st.integers(0, 12) for s in STRATA})


def by_stratum(population: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {s: [] for s in STRATA}
    for i, s in population:
        out[s].append(i)
    return out


# ── tickets ────────────────────────────────────────────────────────────────────────────────────────────────────


def test_published_example_ticket() -> None:
    # The example in the package's first_ticket docstring.
    t = ticket("01382438112797316654", "AB-130")
    assert t.ticket_number == ("0.26299714122838008416507544297546663599715395525154425586041245287750224561854")
    assert t == (
        "0.26299714122838008416507544297546663599715395525154425586041245287750224561854",
        "AB-130",
        1,
    )


@given(seed=seeds, subject_id=subject_ids)
def test_ticket_equals_package_first_ticket(seed: str, subject_id: str) -> None:
    ours = ticket(seed, subject_id)
    theirs = cs.first_ticket(subject_id, seed)
    assert ours == theirs
    assert ours.ticket_number == theirs.ticket_number
    assert repr(ours) == repr(theirs)
    assert str(ours) == str(theirs)


@given(seed=seeds, ids=st.lists(st.one_of(subject_ids, uscc_like), unique=True, max_size=40))
def test_batch_equals_package_and_sorts_as_its_sampler(seed: str, ids: list[str]) -> None:
    ours = tickets(seed, ids)
    assert ours == [cs.first_ticket(i, seed) for i in ids]
    assert [t.ticket_number for t in ours] == ticket_numbers(seed, ids)
    assert [t.ticket_number for t in ours] == ticket_numbers(seed, iter(ids))
    # The package's sampling order is the order of our sorted tickets; its printed numbers are our short form.
    assert [(t.short(), t.id, 1) for t in sorted(ours)] == list(cs.sampler(ids, seed))


@given(number=st.from_regex(r"0\.9{0,12}[0-9]{0,20}", fullmatch=True), digits=st.integers(1, 12))
def test_short_form_matches_package_display(number: str, digits: int) -> None:
    assert Ticket(number, "x").short(digits) == cs.trim(number, digits)


@given(
    a=st.from_regex(r"0\.[0-9]{1,6}", fullmatch=True),
    b=st.from_regex(r"0\.[0-9]{1,6}", fullmatch=True),
    ia=st.text(max_size=3),
    ib=st.text(max_size=3),
)
def test_tickets_compare_as_package_tickets(a: str, b: str, ia: str, ib: str) -> None:
    # Includes prefixes ("0.5" < "0.50") and equal numbers, where the id decides.
    ours = (Ticket(a, ia), Ticket(b, ib))
    theirs = (cs.Ticket(a, ia, 1), cs.Ticket(b, ib, 1))
    assert (ours[0] < ours[1]) == (theirs[0] < theirs[1])
    assert (ours[0] == ours[1]) == (theirs[0] == theirs[1])


def test_ticket_lengths_and_range() -> None:
    numbers = ticket_numbers(SEED, [f"s{i}" for i in range(2000)])
    assert all(n.startswith("0.") and 64 <= len(n) - 2 <= 78 and n[2:].isdigit() for n in numbers)
    assert len(set(numbers)) == len(numbers)


def test_engine_does_not_import_the_package() -> None:
    code = "import sys, engine.sampling; sys.exit('consistent_sampler' in sys.modules or 'click' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# ── draws ──────────────────────────────────────────────────────────────────────────────────────────────────────


@given(population=populations(), quotas=quota_maps, seed=seeds)
def test_draw_is_the_package_sample_per_stratum(
    population: list[tuple[str, str]], quotas: dict[str, int], seed: str
) -> None:
    result = draw(population, quotas, seed)
    members = by_stratum(population)
    assert [s.stratum for s in result.strata] == sorted(quotas)
    for s in result.strata:
        ids = members[s.stratum]
        assert s.population == len(ids)
        assert s.quota == quotas[s.stratum]
        assert len(s.drawn) == min(s.quota, len(ids))  # quotas exact
        assert list(s.drawn_ids) == list(cs.sampler(ids, seed, take=s.quota, output="id"))
        assert list(s.drawn) == [cs.first_ticket(i, seed) for i in s.drawn_ids]
        everyone = sorted(tickets(seed, ids))
        assert s.cutoff == (everyone[len(s.drawn) - 1] if s.drawn else None)
        assert s.next_in_line == (everyone[s.quota] if len(everyone) > s.quota else None)
        if s.cutoff is not None:
            assert all(t > s.cutoff for t in everyone[len(s.drawn) :])


@given(population=populations(), quotas=quota_maps, seed=seeds, shuffle_seed=st.integers())
def test_shuffled_input_same_draw(
    population: list[tuple[str, str]], quotas: dict[str, int], seed: str, shuffle_seed: int
) -> None:
    shuffled = population[:]
    random.Random(shuffle_seed).shuffle(shuffled)
    assert draw(shuffled, quotas, seed) == draw(population, quotas, seed)
    assert draw(iter(shuffled), quotas, seed) == draw(population, quotas, seed)


@given(population=populations(), quotas=quota_maps, seed=seeds, data=st.data())
def test_partitioned_and_merged_same_draw(
    population: list[tuple[str, str]], quotas: dict[str, int], seed: str, data: st.DataObject
) -> None:
    parts_count = data.draw(st.integers(1, 4))
    where = data.draw(st.lists(st.integers(0, parts_count - 1), min_size=len(population), max_size=len(population)))
    parts: list[list[tuple[str, str]]] = [[] for _ in range(parts_count)]
    for row, p in zip(population, where, strict=True):
        parts[p].append(row)
    whole = draw(population, quotas, seed)
    assert merge(draw(p, quotas, seed) for p in parts) == whole
    # Merging is associative: merge partial merges too.
    if parts_count > 1:
        first = merge(draw(p, quotas, seed) for p in parts[:1])
        rest = merge(draw(p, quotas, seed) for p in parts[1:])
        assert merge([rest, first]) == whole


@given(population=populations(), quotas=quota_maps, seed=seeds, newcomer=uscc_like, data=st.data())
def test_adding_or_removing_a_subject_moves_only_the_margin(
    population: list[tuple[str, str]], quotas: dict[str, int], seed: str, newcomer: str, data: st.DataObject
) -> None:
    assume(newcomer not in {i for i, _ in population})
    stratum = data.draw(st.sampled_from(STRATA))
    before = draw(population, quotas, seed)
    after = draw([*population, (newcomer, stratum)], quotas, seed)
    for b, a in zip(before.strata, after.strata, strict=True):
        gone, came = set(b.drawn_ids) - set(a.drawn_ids), set(a.drawn_ids) - set(b.drawn_ids)
        if b.stratum != stratum:
            assert a == b
        else:
            assert len(gone) <= 1 and len(came) <= 1
            assert came <= {newcomer}
    # Removing it again restores the draw exactly.
    assert draw([r for r in population if r[0] != newcomer], quotas, seed) == before


def test_large_strata_use_the_pruned_path_and_stay_exact() -> None:
    # Strata far larger than the buffer (quota + 1 + 1024) exercise trimming and the three-digit rejection.
    rng = random.Random(7)
    population = [(f"9144{i:014d}", rng.choice("ABCD")) for i in range(12_000)]
    quotas = {"A": 0, "B": 5, "C": 1500, "D": 100_000}
    result = draw(population, quotas, SEED)
    members = by_stratum(population)
    for s in result.strata:
        everyone = sorted(tickets(SEED, members[s.stratum]))
        assert list(s.drawn) == everyone[: s.quota]
        assert s.next_in_line == (everyone[s.quota] if len(everyone) > s.quota else None)
    assert list(result.stratum("B").drawn_ids) == list(cs.sampler(members["B"], SEED, take=5, output="id"))
    halves = [population[::2], population[1::2]]
    assert merge(draw(h, quotas, SEED, check_unique=False) for h in halves) == result


def test_empty_population_and_zero_quota() -> None:
    empty = draw([], {"A": 3, "B": 0}, SEED)
    assert [(s.stratum, s.population, s.quota, s.drawn, s.cutoff, s.next_in_line) for s in empty.strata] == [
        ("A", 0, 3, (), None, None),
        ("B", 0, 0, (), None, None),
    ]
    assert draw([], {}, SEED) == Draw(seed=SEED, strata=())
    zero = draw([("x", "A"), ("y", "A")], {"A": 0}, SEED).stratum("A")
    assert zero.drawn == () and zero.cutoff is None
    assert zero.next_in_line == min(ticket(SEED, "x"), ticket(SEED, "y"))
    everyone = draw([("x", "A"), ("y", "A")], {"A": 5}, SEED).stratum("A")
    assert set(everyone.drawn_ids) == {"x", "y"} and everyone.next_in_line is None


def test_report_and_explanations() -> None:
    ids = ["A-1", "A-2", "A-3", "B-1", "B-2", "B-3"]
    result = draw([(i, i[0]) for i in ids], {"A": 1, "B": 2}, "314159")
    assert result.drawn_ids == ("A-3", "B-2", "B-3")
    doc = result.to_dict()
    assert doc["scheme"] == TICKET_SCHEME and doc["seed"] == "314159"
    a = doc["strata"][0]
    assert (a["stratum"], a["population"], a["quota"], a["drawn_count"]) == ("A", 3, 1, 1)
    assert a["cutoff"] == {"id": "A-3", "ticket": ticket("314159", "A-3").ticket_number}
    assert a["next_in_line"]["id"] == "A-2"
    assert result.explain("A-3", "A").startswith("A-3 drawn in A: ticket 0.471438751 is no. 1 of 1")
    assert result.explain("A-1", "A") == (
        "A-1 not drawn in A: ticket 0.9828515724 is above the cut-off 0.471438751 of A-3 (quota 1 of 3)"
    )
    assert "was not in the population of A" in result.explain("Z-9", "A")
    assert "quota is 0" in draw([("x", "A")], {"A": 0}, SEED).explain("x", "A")


# ── the polars fast path ───────────────────────────────────────────────────────────────────────────────────────


def frame_of(population: list[tuple[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"id": [i for i, _ in population], "stratum": [s for _, s in population]},
        schema={"id": pl.String, "stratum": pl.String},
    )


@given(seed=seeds, ids=st.lists(st.one_of(subject_ids, uscc_like), unique=True, max_size=40))
def test_ticket_keys_are_the_leading_digits(seed: str, ids: list[str]) -> None:
    keys = ticket_keys(seed, ids)
    assert keys.dtype == np.uint64
    numbers = ticket_numbers(seed, ids)
    assert keys.tolist() == [int(n[2 : 2 + KEY_DIGITS]) for n in numbers]
    # A smaller key never means a larger ticket.
    by_key = sorted(zip(keys.tolist(), numbers, strict=True))
    assert all(x[1] < y[1] for x, y in zip(by_key, by_key[1:], strict=False) if x[0] < y[0])


@given(population=populations(), quotas=quota_maps, seed=seeds)
def test_frame_draw_equals_draw(population: list[tuple[str, str]], quotas: dict[str, int], seed: str) -> None:
    frame = frame_of(population)
    expected = draw(population, quotas, seed)
    assert draw_frame(frame, quotas, seed) == expected
    keyed = frame.with_columns(k=pl.Series(ticket_keys(seed, frame["id"].to_list()), dtype=pl.UInt64))
    assert draw_frame(keyed, quotas, seed, key_column="k", check_unique=False) == expected


def test_draw_takes_a_frame_by_its_rows() -> None:
    population = [(f"s{i}", "AB"[i % 2]) for i in range(30)]
    assert draw(frame_of(population), {"A": 3, "B": 4}, SEED) == draw(population, {"A": 3, "B": 4}, SEED)  # type: ignore[arg-type]


def test_frame_draw_resolves_equal_keys_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    # With 3-digit keys, thousands of rows share keys, including at every cut-off: the draw must not change.
    monkeypatch.setattr(sampling, "KEY_DIGITS", 3)
    monkeypatch.setattr(sampling, "_KEY_MODULUS", 1000)
    rng = random.Random(3)
    population = [(f"9144{i:014d}", rng.choice("AB")) for i in range(6000)]
    frame = frame_of(population).with_columns(
        k=pl.Series(sampling.ticket_keys(SEED, [i for i, _ in population]), dtype=pl.UInt64)
    )
    assert frame["k"].n_unique() < 1000
    for quotas in ({"A": 0, "B": 1}, {"A": 7, "B": 300}, {"A": 2999, "B": 3000}, {"A": 10_000, "B": 5}):
        assert draw_frame(frame, quotas, SEED, key_column="k") == draw(population, quotas, SEED)


def test_frame_draw_rejects_keys_from_another_seed() -> None:
    population = [(f"s{i}", "A") for i in range(50)]
    frame = frame_of(population).with_columns(
        k=pl.Series(ticket_keys(SEED + "0", [i for i, _ in population]), dtype=pl.UInt64)
    )
    with pytest.raises(InputError, match="not computed with this seed"):
        draw_frame(frame, {"A": 5}, SEED, key_column="k")
    shifted = frame.with_columns(pl.Series("k", ticket_keys(SEED, [i for i, _ in population[1:]] + ["x"])))
    with pytest.raises(InputError, match="not computed with this seed"):
        draw_frame(shifted, {"A": 5}, SEED, key_column="k")


# ── quotas ─────────────────────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("ratio", "size", "minimum", "maximum", "expected"),
    [
        ("0.03", 50, 0, None, 2),  # 1.5 rounds half up to 2
        (0.03, 50, 0, None, 2),  # a float means the decimal it prints as, not 0.029999…
        (Decimal("0.03"), 50, 0, None, 2),
        (Fraction(3, 100), 50, 0, None, 2),
        ("3%", 50, 0, None, 2),
        ("3 %", 49, 0, None, 1),  # 1.47
        ("0.03", 17, 0, None, 1),  # 0.51
        ("0.03", 10, 0, None, 1),  # 0.3, but a ratio above 0 draws at least one
        ("0.001", 1, 0, None, 1),
        ("0.5", 3, 0, None, 2),  # 1.5
        ("0.5", 5, 0, None, 3),  # 2.5
        ("0.1", 5, 0, None, 1),  # 0.5
        (0.15, 10, 0, None, 2),  # 1.5 (float 0.15 is 0.1499999… in binary)
        (0.35, 10, 0, None, 4),  # 3.5 (float 0.35 is 0.3499999… in binary)
        ("0", 100, 0, None, 0),
        ("0e-999999999", 100, 0, None, 0),
        ("3e-2", 50, 0, None, 2),
        (0, 100, 3, None, 3),  # the minimum applies even at ratio 0
        ("0.03", 0, 5, None, 0),  # an empty stratum draws nobody
        (1, 7, 0, None, 7),
        ("100%", 7, 0, None, 7),
        ("0.03", 1000, 0, 20, 20),
        ("0.03", 1000, 40, None, 40),
        ("0.03", 10, 20, None, 10),  # a minimum above the size draws everyone
        ("0.03", 1000, 5, 5, 5),
    ],
)
def test_quota_rounding_rule(ratio: object, size: int, minimum: int, maximum: int | None, expected: int) -> None:
    assert quota(ratio, size, minimum, maximum) == expected


@given(
    numerator=st.integers(0, 10_000),
    size=st.integers(0, 10**6),
    minimum=st.integers(0, 50),
    extra=st.none() | st.integers(0, 50),
)
def test_quota_properties(numerator: int, size: int, minimum: int, extra: int | None) -> None:
    text = f"{Decimal(numerator) / 10_000}"
    maximum = None if extra is None else minimum + extra
    q = quota(text, size, minimum, maximum)
    assert q == quota(Fraction(numerator, 10_000), size, minimum, maximum) == quota(float(text), size, minimum, maximum)
    assert 0 <= q <= size
    if maximum is not None:
        assert q <= maximum
    if size >= minimum:
        assert q >= minimum
    exact = Fraction(numerator, 10_000) * size
    if minimum == 0 and maximum is None:
        assert abs(q - exact) <= Fraction(1, 2) or (q == 1 and 0 < exact < 1)


# ── derived seeds ──────────────────────────────────────────────────────────────────────────────────────────────


def test_derive_seed_is_documented_sha256() -> None:
    child = derive_seed(SEED, "teams")
    assert child == hashlib.sha256(f"suijian:teams:{SEED}".encode()).hexdigest()
    assert len(child) == 64 and child == derive_seed(SEED, "teams")
    assert derive_seed(SEED, "teams/2025Q1") != child != derive_seed(SEED + "0", "teams")
    assert ticket(child, "inspector-1") == cs.first_ticket("inspector-1", child)


@given(
    seed=seeds,
    a=st.from_regex(r"[a-z0-9][a-z0-9._/-]{0,10}", fullmatch=True),
    b=st.from_regex(r"[a-z0-9][a-z0-9._/-]{0,10}", fullmatch=True),
)
def test_derived_seeds_differ_by_purpose(seed: str, a: str, b: str) -> None:
    assert (derive_seed(seed, a) == derive_seed(seed, b)) == (a == b)


# ── bad input ──────────────────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: ticket("", "x"), "seed is empty"),
        (lambda: ticket(20250101, "x"), "seed must be text"),  # type: ignore[arg-type]
        (lambda: ticket("\ud800", "x"), "not valid Unicode"),
        (lambda: ticket(SEED, 42), "must be text, not int"),  # type: ignore[arg-type]
        (lambda: tickets(SEED, ["ok", "\udcff"]), "not valid Unicode"),
        (lambda: draw([("x", "A")], {"A": 1}, ""), "seed is empty"),
        (lambda: draw([("x", "A")], {"A": -1}, SEED), "must not be negative"),
        (lambda: draw([("x", "A")], {"A": 1.5}, SEED), "whole number"),  # type: ignore[dict-item]
        (lambda: draw([("x", "A")], {"A": True}, SEED), "whole number"),
        (lambda: draw([("x", "Z")], {"A": 1}, SEED), "stratum 'Z' has subjects"),
        (lambda: draw([("x", "A"), ("x", "B")], {"A": 1, "B": 1}, SEED), "more than once"),
        (lambda: draw([("x", "A"), ("x", "A")], {"A": 1}, SEED, check_unique=False), "more than once"),
        (lambda: draw([(1, "A")], {"A": 1}, SEED), "must be text, not int"),  # type: ignore[list-item]
        (lambda: draw([("x",)], {"A": 1}, SEED), "(subject id, stratum) pairs"),  # type: ignore[list-item]
        (lambda: quota("1.5", 10), "outside 0..1"),
        (lambda: quota(-0.1, 10), "outside 0..1"),
        (lambda: quota("3", 10), "outside 0..1"),
        (lambda: quota("abc", 10), "is not a number"),
        (lambda: quota("1e999999999", 10), "outside 0..1"),
        (lambda: quota("1e-999999999", 10), "too small"),
        (lambda: tickets(SEED, "91440101MA5ABCDE1X"), "a list of subject ids"),
        (lambda: ticket_numbers(SEED, b"abc"), "a list of subject ids"),  # type: ignore[arg-type]
        (lambda: quota(float("nan"), 10), "finite"),
        (lambda: quota("NaN", 10), "finite"),
        (lambda: quota(True, 10), "must be a number"),
        (lambda: quota(None, 10), "must be a number"),
        (lambda: quota("0.03", -1), "must not be negative"),
        (lambda: quota("0.03", 10, -1), "must not be negative"),
        (lambda: quota("0.03", 10, 5, 4), "below minimum"),
        (lambda: derive_seed("", "teams"), "seed is empty"),
        (lambda: derive_seed(SEED, "a:b"), "seed purpose"),
        (lambda: derive_seed(SEED, ""), "seed purpose"),
        (lambda: merge([]), "nothing to merge"),
        (lambda: merge([draw([], {"A": 1}, SEED), draw([], {"A": 1}, SEED + "x")]), "different seeds"),
        (lambda: merge([draw([], {"A": 1}, SEED), draw([], {"A": 2}, SEED)]), "different quotas"),
        (lambda: merge([draw([("x", "A")], {"A": 1}, SEED)] * 2), "more than once"),
        (lambda: draw([], {"A": 1}, SEED).stratum("B"), "no stratum"),
        (lambda: ticket_keys(SEED, ["a", None]), "must be text, not NoneType"),  # type: ignore[list-item]
        (lambda: draw_frame(pl.DataFrame({"id": ["a"]}), {"A": 1}, SEED), "no column 'stratum'"),
        (lambda: draw_frame(pl.DataFrame({"id": [1], "stratum": ["A"]}), {"A": 1}, SEED), "must be text"),
        (
            lambda: draw_frame(pl.DataFrame({"id": [None, "b"], "stratum": ["A", "A"]}), {"A": 1}, SEED),
            "null",
        ),
        (
            lambda: draw_frame(pl.DataFrame({"id": ["a", "a"], "stratum": ["A", "B"]}), {"A": 1, "B": 1}, SEED),
            "more than once",
        ),
        (lambda: draw_frame(pl.DataFrame({"id": ["a"], "stratum": ["Z"]}), {"A": 1}, SEED), "no quota"),
        (lambda: draw_frame(pl.DataFrame({"id": ["a"], "stratum": ["A"]}), {"A": -2}, SEED), "negative"),
        (lambda: draw_frame(pl.DataFrame({"id": ["a"], "stratum": ["A"]}), {"A": 1}, ""), "seed is empty"),
        (
            lambda: draw_frame(pl.DataFrame({"id": ["a"], "stratum": ["A"], "k": [1]}), {"A": 1}, SEED, key_column="k"),
            "unsigned 64-bit",
        ),
    ],
)
def test_bad_input_is_one_clear_line(call: object, words: str) -> None:
    with pytest.raises(InputError) as info:
        call()  # type: ignore[operator]
    assert isinstance(info.value, SuijianError)
    assert words in str(info.value)
    assert "\n" not in str(info.value)


@settings(max_examples=50)
@given(population=populations(max_size=20), seed=seeds)
def test_draw_is_pure_and_repeatable(population: list[tuple[str, str]], seed: str) -> None:
    quotas = {s: 2 for s in STRATA}
    assert draw(population, quotas, seed).to_dict() == draw(list(population), dict(quotas), seed).to_dict()
