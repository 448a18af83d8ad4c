"""suijian-snapshot-2 (typed binary columns) tells frames apart exactly as suijian-snapshot-1 (canonical text) does.

Grade runs are recorded with snapshot-2 since it hashes a city's features several times faster; entries made with
snapshot-1 keep it. Both are content hashes of the same canonical facts, so for any frame and any variant of it
(rows or columns reordered, text in NFD, floats respelled, a value changed, a row added or dropped, a column
renamed) the two schemes must agree on "same snapshot" or "different snapshot".
"""

from __future__ import annotations

import io
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ledger import canonical as c
from engine.ledger.canonical import ParquetFrame, content_hash
from tests.engine.test_canonical import DTYPES, decomposed, frames, one_value_changed, permuted


def same_under(scheme: str, a: Any, b: Any) -> bool:
    return content_hash({"t": a}, scheme) == content_hash({"t": b}, scheme)


def variant(frame: pl.DataFrame, data: st.DataObject) -> pl.DataFrame:
    """A frame that is the same snapshot as `frame` or differs from it by one fact."""
    how = data.draw(st.sampled_from(["permuted", "decomposed", "respelled", "changed", "added", "dropped", "renamed"]))
    if how == "permuted":
        return permuted(frame, data)
    if how == "decomposed":
        return decomposed(frame)
    if how == "respelled":  # -0.0 for 0.0, each float through its text: the same numbers
        floats = [n for n, t in frame.schema.items() if t == pl.Float64]
        return frame.with_columns(
            pl.col(n).map_elements(lambda x: -0.0 if x == 0 else float(repr(x)), return_dtype=pl.Float64)
            for n in floats
        )
    if not frame.height or how == "renamed":
        column = data.draw(st.sampled_from(frame.columns))
        return frame.rename({column: column + "改"}) if column + "改" not in frame.columns else frame.drop(column)
    row = data.draw(st.integers(0, frame.height - 1))
    if how == "added":
        return pl.concat([frame, frame[row]])
    if how == "dropped":
        return pl.concat([frame[:row], frame[row + 1 :]])
    column = data.draw(st.sampled_from(frame.columns))
    series = frame.get_column(column)
    kind = next(k for k, (dtype, _) in DTYPES.items() if dtype == series.dtype)
    new = data.draw(st.none() | DTYPES[kind][1])
    values = series.to_list()
    values[row] = new
    return frame.with_columns(pl.Series(column, values, dtype=series.dtype))


@settings(max_examples=300, deadline=None)
@given(frames(), st.data())
def test_snapshot_2_tells_frames_apart_exactly_as_snapshot_1(frame: pl.DataFrame, data: st.DataObject) -> None:
    other = variant(frame, data)
    assert same_under(c.SNAPSHOT2, frame, other) == same_under(c.SNAPSHOT, frame, other)


@settings(max_examples=100, deadline=None)
@given(frames(min_rows=1), st.data())
def test_a_changed_value_changes_the_snapshot_2_hash(frame: pl.DataFrame, data: st.DataObject) -> None:
    assert not same_under(c.SNAPSHOT2, one_value_changed(frame, data), frame)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.none() | st.integers(-(2**31), 2**31 - 1), max_size=6))
def test_integral_floats_hash_as_their_integers_under_snapshot_2(values: list[int | None]) -> None:
    """As under snapshot-1: 1.0 is the number 1, and an Int32 column holds the same numbers as an Int64 one."""
    floats = pl.DataFrame({"n": pl.Series([None if v is None else float(v) for v in values], dtype=pl.Float64)})
    for dtype in (pl.Int64, pl.Int32):
        assert same_under(c.SNAPSHOT2, floats, pl.DataFrame({"n": pl.Series(values, dtype=dtype)}))


@settings(max_examples=50, deadline=None)
@given(frames())
def test_a_frame_read_a_column_at_a_time_hashes_as_the_whole_frame_under_snapshot_2(frame: pl.DataFrame) -> None:
    keyed = frame.with_columns(pl.Series("uscc", [f"u{i:03d}" for i in range(frame.height)][::-1], dtype=pl.String))
    for table in (frame, keyed):
        part = io.BytesIO()
        table.write_parquet(part)
        assert content_hash({"t": ParquetFrame(part.getvalue())}, c.SNAPSHOT2) == content_hash(
            {"t": table}, c.SNAPSHOT2
        )


def test_snapshot_2_differs_from_snapshot_1_and_is_pinned() -> None:
    """The scheme's bytes are fixed forever: entries recorded with it must verify with every later release."""
    tables = {
        "features": pl.DataFrame(
            {"uscc": ["b", "a"], "x": [1.0, None], "s": ["é", None], "f": [True, False], "r": [0.5, -0.0]}
        ),
        "items": [{"code": "A1", "名": "é"}],
    }
    assert content_hash(tables, c.SNAPSHOT2) != content_hash(tables, c.SNAPSHOT)
    assert content_hash(tables, c.SNAPSHOT2) == "e25a0ba8542ce42bce24e5cfb117c6a7ab9e59959b80f4143a9f2a1b83623692"


def test_grade_and_plan_entries_are_written_with_snapshot_2() -> None:
    assert c.entry_schemes("grade")["snapshot"] == c.SNAPSHOT2
    assert c.entry_schemes("plan")["snapshot"] == c.SNAPSHOT2  # since plan/3; plan entries made before name snapshot-1
    assert c.schemes_of({"schemes": {"snapshot": c.SNAPSHOT2}}) == {"snapshot": c.SNAPSHOT2}


@settings(max_examples=100, deadline=None)
@given(frames(), st.data())
def test_a_column_hashed_a_partition_at_a_time_has_the_digest_of_the_whole(
    frame: pl.DataFrame, data: st.DataObject
) -> None:
    """The streams are concatenations over rows: a grade run may hash its features partition by partition."""
    cuts = sorted(data.draw(st.lists(st.integers(0, frame.height), max_size=3)))
    for series in frame.get_columns():
        whole = c.ColumnHasher(series.dtype)
        whole.update(series)
        parts = c.ColumnHasher(series.dtype)
        for lo, hi in zip([0, *cuts], [*cuts, frame.height], strict=True):
            parts.update(series.slice(lo, hi - lo))
        assert parts.hexdigest() == whole.hexdigest()
