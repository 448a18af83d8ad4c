"""suijian-snapshot-2 (typed binary columns) tells frames apart exactly as suijian-snapshot-1 (canonical text) does.

Grade runs are recorded with snapshot-2 since it hashes a city's features several times faster; entries made with
snapshot-1 keep it. Both are content hashes of the same canonical facts, so for any frame and any variant of it
(rows or columns reordered, text in NFD, floats respelled, a value changed, a row added or dropped, a column
renamed) the two schemes must agree on "same snapshot" or "different snapshot".
"""

from __future__ import annotations

import datetime as dt
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


# -- the row order of a frame not keyed by uscc, by keys with the canonical text's order --------------------------

_FEW_TEXT = st.sampled_from(["", "a", "B", "ab", "é", "e\u0301", "Z", "广州", "广", "10", "9", "a\n"])
_ORDER_TYPES: dict[str, Any] = {
    "int": (pl.Int64, st.sampled_from([-100, -11, -10, -9, -2, -1, 0, 1, 2, 9, 10, 11, 100, 1000, 2**40])),
    "int8": (pl.Int8, st.integers(-12, 12)),
    "float": (pl.Float64, st.sampled_from([-1.5, -0.0, 0.0, 0.1, 1.0, 2.5, 10.0, 9.5, float("nan"), float("inf")])),
    "str": (pl.String, _FEW_TEXT),
    "cat": (pl.Categorical, _FEW_TEXT),
    "bool": (pl.Boolean, st.booleans()),
    "date": (pl.Date, st.sampled_from([dt.date(2024, 1, 2), dt.date(2024, 1, 10), dt.date(2023, 12, 31)])),
    "any date": (pl.Date, st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31))),
    "old date": (pl.Date, st.sampled_from([dt.date(999, 12, 31), dt.date(1000, 1, 1), dt.date(5, 6, 7)])),
}


@st.composite
def unkeyed_frames(draw: st.DrawFn) -> pl.DataFrame:
    """Frames with few distinct values per column (ties, repeated rows), not keyed by uscc: a `uscc` column, if
    any, repeats."""
    names = draw(
        st.lists(
            st.sampled_from(["uscc", "checked_on", "kind", "n", "x", "É", "e\u0301x"]),
            min_size=1,
            max_size=5,
            unique=True,
        )
    )
    rows = draw(st.integers(0, 12))
    columns = []
    for name in names:
        dtype, values = _ORDER_TYPES[draw(st.sampled_from(sorted(_ORDER_TYPES)))]
        data = draw(st.lists(st.none() | values, min_size=rows, max_size=rows))
        columns.append(pl.Series(name, data, dtype=pl.String if dtype == pl.Categorical else dtype).cast(dtype))
    frame = pl.DataFrame(columns)
    if "uscc" in frame.columns and frame.height:
        frame = pl.concat([frame, frame.head(1)])  # not a key
    return frame


@settings(max_examples=400, deadline=None)
@given(unkeyed_frames())
def test_rows_ordered_by_typed_keys_are_in_the_canonical_texts_order(frame: pl.DataFrame) -> None:
    """snapshot-2 orders a frame not keyed by uscc as snapshot-1 does, by every column's canonical text in name
    order, but sorts by keys of the same order (booleans, dates of 4-digit years, NFC text as they are): the rows
    it gives, as canonical text, are exactly those of the text sort (non-ASCII text, NFD spellings, integers of
    different digit counts and negative ones, floats, dates before the year 1000, nulls first)."""
    if frame.columns.count("uscc") and frame.height and frame.get_column("uscc").n_unique() == frame.height:
        return
    _, columns = c._columns(frame)
    order = c._order_2(frame)
    text = pl.DataFrame(columns) if columns else pl.DataFrame()
    got = text if order is None else text[order]
    assert got.equals(c.canonical_frame(frame))


@settings(max_examples=200, deadline=None)
@given(unkeyed_frames(), st.data())
def test_an_unkeyed_frame_hashes_the_same_in_any_row_order(frame: pl.DataFrame, data: st.DataObject) -> None:
    shuffled = permuted(frame, data)
    assert content_hash({"t": frame}, c.SNAPSHOT2) == content_hash({"t": shuffled}, c.SNAPSHOT2)
