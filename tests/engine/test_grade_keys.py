"""A grade run's rule-relevant keys numbered where the partition is read (grading.key_column, in the feature
workers) grade every subject as keying the whole frame in the grading process does: same outcome ids, outcomes
numbered alike, also when rows were left out after keying (`--subject`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import grading
from engine.features.compute import feature_partitions
from engine.rules import load_pack, relevant_keys
from engine.rules.keys import key_spec
from engine.synth import get_profile, load_demo
from entities import store

AS_OF = dt.date(2025, 12, 31)
PACK = load_pack(Path(__file__).resolve().parents[1] / "packs" / "base")


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    engine = store.make_engine(f"sqlite:///{tmp_path_factory.mktemp('keys') / 'k.db'}")
    store.initialise(engine)
    load_demo(engine, get_profile("jiedong").scaled(600), seed=11, as_of=AS_OF, now=dt.datetime(2026, 1, 1))
    with engine.connect() as conn:
        frame = pl.concat(list(feature_partitions(conn, AS_OF)))
    engine.dispose()
    return frame


def _first_seen(numbers: list[int]) -> list[int]:
    order: dict[int, int] = {}
    return [order.setdefault(n, len(order)) for n in numbers]


@given(st.lists(st.integers(0, 30) | st.integers(0, 2**63 - 1), min_size=1, max_size=200))
def test_given_keys_renumber_by_first_row(numbers: list[int]) -> None:
    row_key, reps = grading._given_keys(np.asarray(numbers, dtype=np.int64))
    assert row_key.tolist() == _first_seen(numbers)
    assert reps == [numbers.index(n) for n in dict.fromkeys(numbers)]


def _dense_rank(keys: pl.DataFrame) -> np.ndarray:  # key_numbers before the mixed-radix numbers
    return keys.select(pl.struct(keys.columns).rank("dense").cast(pl.Int64)).to_series().to_numpy()


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_key_numbers_are_equal_exactly_for_equal_keys(features: pl.DataFrame, data: st.DataObject) -> None:
    rows = data.draw(st.lists(st.integers(0, features.height - 1), min_size=1, max_size=300), label="rows")
    keys = relevant_keys(PACK, features[rows])
    numbers = grading.key_numbers(PACK, keys)
    assert numbers.dtype == np.int64 and (numbers >= 0).all()
    # Numbered as the dense rank numbered them, once renumbered by first row (all grade_frame reads of them).
    assert grading._given_keys(numbers)[0].tolist() == grading._given_keys(_dense_rank(keys))[0].tolist()
    assert _first_seen(numbers.tolist()) == _first_seen(keys.rows())


def test_key_numbers_too_wide_for_62_bits_are_ranked(features: pl.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = relevant_keys(PACK, features)
    spec = key_spec(PACK)
    wide = dataclasses.replace(spec, classes=tuple((*c, 2**20) for c in spec.classes))  # 38+ features x 21 bits
    monkeypatch.setattr(grading, "key_spec", lambda pack: wide)
    assert grading.key_numbers(PACK, keys).tolist() == _dense_rank(keys).tolist()


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_keyed_partitions_grade_as_unkeyed(features: pl.DataFrame, data: st.DataObject) -> None:
    size = data.draw(st.integers(1, features.height), label="partition size")
    keep = np.asarray(data.draw(st.lists(st.booleans(), min_size=features.height, max_size=features.height)))
    plain, keyed = grading.Grading(PACK, AS_OF), grading.Grading(PACK, AS_OF)
    for lo in range(0, features.height, size):
        part = features.slice(lo, size)
        marked = grading.key_column(PACK, part)
        assert marked.columns == [*part.columns, grading.KEY]
        mask = pl.Series(keep[lo : lo + size])
        part, marked = part.filter(mask), marked.filter(mask)  # rows left out after keying
        assert plain.grade_frame(part).tolist() == keyed.grade_frame(marked).tolist()
    assert [o.canonical() for o in plain.outcomes] == [o.canonical() for o in keyed.outcomes]
    assert plain.counts == keyed.counts and plain.evaluations == keyed.evaluations


def test_a_refused_value_is_left_to_the_grading_process(features: pl.DataFrame) -> None:
    bad = features.with_columns(pl.lit("not a number").alias(next(iter(PACK.features))))
    assert grading.key_column(PACK, bad).equals(bad)  # no KEY: grade_frame keys it and raises the RecordError
