"""Properties of the canonical content hash of a snapshot (engine.ledger.canonical).

The same facts hash the same whatever their incidental form — key, column and row order, float spelling,
Unicode normalisation — and any real change of a fact changes the hash; storing and reading back a snapshot
keeps its hash.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ledger.canonical import canonical_frame, content_hash, pack_tables, unpack_tables

# Letters with a decomposed (NFD) form, Chinese, ASCII and a combining accent of their own.
LETTERS = "abcxyzéüÅñệǖ名称企业经营"
TEXT = st.text(alphabet=LETTERS + " -_\u0301", max_size=6)
NAME = st.text(alphabet=LETTERS, min_size=1, max_size=5).map(lambda s: unicodedata.normalize("NFC", s))

DTYPES: dict[str, Any] = {
    "int": (pl.Int64, st.integers(-(2**63), 2**63 - 1)),
    "float": (pl.Float64, st.floats(allow_nan=True, allow_infinity=True)),
    "str": (pl.String, TEXT),
    "bool": (pl.Boolean, st.booleans()),
    "date": (pl.Date, st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))),
    "list": (pl.List(pl.String), st.lists(st.none() | TEXT, max_size=3)),
}


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


@st.composite
def frames(draw: st.DrawFn, min_rows: int = 0) -> pl.DataFrame:
    names = draw(st.lists(NAME, min_size=1, max_size=4, unique=True))
    kinds = [draw(st.sampled_from(sorted(DTYPES))) for _ in names]
    rows = draw(st.integers(min_rows, 6))
    columns = []
    for name, kind in zip(names, kinds, strict=True):
        dtype, values = DTYPES[kind]
        columns.append(pl.Series(name, draw(st.lists(st.none() | values, min_size=rows, max_size=rows)), dtype=dtype))
    return pl.DataFrame(columns)


SCALAR = st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=False) | TEXT
RECORD = st.dictionaries(NAME, SCALAR | st.lists(SCALAR, max_size=3), max_size=4)
RECORDS = st.lists(RECORD, max_size=5)


def h(table: Any, name: str = "t") -> str:
    return content_hash({name: table})


def permuted(frame: pl.DataFrame, data: st.DataObject) -> pl.DataFrame:
    columns = data.draw(st.permutations(frame.columns))
    order = data.draw(st.permutations(list(range(frame.height))))
    return frame.select(columns)[order] if frame.height else frame.select(columns)


def decomposed(frame: pl.DataFrame) -> pl.DataFrame:
    """Every string value, list element and column name in NFD."""
    out = []
    for series in frame.get_columns():
        if series.dtype == pl.String:
            series = series.map_elements(nfd, return_dtype=pl.String) if series.drop_nulls().len() else series
        elif series.dtype == pl.List(pl.String):
            series = pl.Series(
                series.name,
                [None if v is None else [None if e is None else nfd(e) for e in v] for v in series.to_list()],
                dtype=series.dtype,
            )
        out.append(series.alias(nfd(series.name)))
    return pl.DataFrame(out)


def cell(series: pl.Series, value: Any) -> str | None:
    """A value's canonical text in a column of the series' type."""
    return canonical_frame(pl.DataFrame([pl.Series("c", [value], dtype=series.dtype)]))["c"][0]


# -- the same facts ------------------------------------------------------------------------------------------------


@settings(deadline=None)  # polars' first call in a process can take longer than the default
@given(frames(), st.data())
def test_column_and_row_order_never_change_a_frame_hash(frame: pl.DataFrame, data: st.DataObject) -> None:
    assert h(permuted(frame, data)) == h(frame)


@settings(deadline=None)
@given(RECORDS, st.data())
def test_key_and_row_order_never_change_a_records_hash(records: list[dict[str, Any]], data: st.DataObject) -> None:
    shuffled = [dict(data.draw(st.permutations(list(r.items())))) for r in data.draw(st.permutations(records))]
    assert h(shuffled) == h(records)


@settings(deadline=None)
@given(frames(), frames(), st.data())
def test_table_order_never_changes_a_snapshot_hash(a: pl.DataFrame, b: pl.DataFrame, data: st.DataObject) -> None:
    tables: dict[str, Any] = {"features": a, "subjects": b, "items": [{"code": "SP-XS-01"}]}
    names = data.draw(st.permutations(sorted(tables)))
    assert content_hash({n: tables[n] for n in names}) == content_hash(tables)


@settings(deadline=None)
@given(frames())
def test_unicode_normalisation_never_changes_a_frame_hash(frame: pl.DataFrame) -> None:
    assert content_hash({nfd("企业é"): decomposed(frame)}) == content_hash({"企业é": frame})


@settings(deadline=None)
@given(RECORDS)
def test_unicode_normalisation_never_changes_a_records_hash(records: list[dict[str, Any]]) -> None:
    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return nfd(v)
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {nfd(k): walk(x) for k, x in v.items()}
        return v

    assert h(walk(records), nfd("名称é")) == h(records, "名称é")


@settings(deadline=None)
@given(st.lists(st.none() | st.floats(allow_nan=True, allow_infinity=True), max_size=6))
def test_float_spelling_never_changes_the_hash(values: list[float | None]) -> None:
    """1.50 and 1.5 are one number; so are -0.0 and 0.0; text round trips (repr, %.17g) change nothing."""
    base = h(pl.DataFrame({"x": pl.Series(values, dtype=pl.Float64)}))
    for spelling in (repr, lambda x: f"{x:.17g}", lambda x: f"{x:.20e}"):
        respelled = [None if v is None else float(spelling(v)) for v in values]
        assert h(pl.DataFrame({"x": pl.Series(respelled, dtype=pl.Float64)})) == base
    negated_zero = [(-0.0 if v == 0 else v) for v in values]
    assert h(pl.DataFrame({"x": pl.Series(negated_zero, dtype=pl.Float64)})) == base
    assert h([{"x": v} for v in negated_zero]) == h([{"x": v} for v in values])
    assert float("1.50") == 1.5 and h([{"x": float("1.50")}]) == h([{"x": 1.5}])


@settings(deadline=None)
@given(st.lists(st.none() | st.integers(-(2**53) + 1, 2**53 - 1), max_size=6))
def test_integral_floats_hash_as_their_integers(values: list[int | None]) -> None:
    """Within ±2**53, where every integer is a float (beyond it canonical floats keep their float spelling)."""
    as_floats = [None if v is None else float(v) for v in values]
    assert h(pl.DataFrame({"n": pl.Series(as_floats, dtype=pl.Float64)})) == h(
        pl.DataFrame({"n": pl.Series(values, dtype=pl.Int64)})
    )
    assert h([{"n": v} for v in as_floats]) == h([{"n": v} for v in values])


# -- a real change -------------------------------------------------------------------------------------------------


def one_value_changed(frame: pl.DataFrame, data: st.DataObject) -> pl.DataFrame:
    """`frame` with one value replaced by one of another canonical text (null for a value, a value for null)."""
    column = data.draw(st.sampled_from(frame.columns))
    row = data.draw(st.integers(0, frame.height - 1))
    series = frame.get_column(column)
    kind = next(k for k, (dtype, _) in DTYPES.items() if dtype == series.dtype)
    new = data.draw(st.none() | DTYPES[kind][1])
    if cell(series, new) == cell(series, series[row]):
        new = None if series[row] is not None else data.draw(DTYPES[kind][1])
    values = series.to_list()
    values[row] = new
    changed = frame.with_columns(pl.Series(column, values, dtype=series.dtype))
    return changed


@settings(deadline=None)
@given(frames(min_rows=1), st.data())
def test_one_changed_value_changes_the_hash(frame: pl.DataFrame, data: st.DataObject) -> None:
    assert h(one_value_changed(frame, data)) != h(frame)


@settings(deadline=None)
@given(frames(min_rows=1), st.data())
def test_a_row_added_or_removed_changes_the_hash(frame: pl.DataFrame, data: st.DataObject) -> None:
    row = data.draw(st.integers(0, frame.height - 1))
    assert h(pl.concat([frame, frame[row]])) != h(frame)
    assert h(pl.concat([frame[:row], frame[row + 1 :]])) != h(frame)


@settings(deadline=None)
@given(frames(), st.data())
def test_a_renamed_column_or_table_changes_the_hash(frame: pl.DataFrame, data: st.DataObject) -> None:
    column = data.draw(st.sampled_from(frame.columns))
    renamed = frame.rename({column: column + "改"}) if column + "改" not in frame.columns else frame.drop(column)
    assert h(renamed) != h(frame)
    assert h(frame, "subjects") != h(frame, "features")
    assert content_hash({"a": frame, "b": frame}) != content_hash({"a": frame, "c": frame})


@settings(deadline=None)
@given(frames(min_rows=1), st.data())
def test_null_is_not_the_empty_string(frame: pl.DataFrame, data: st.DataObject) -> None:
    row = data.draw(st.integers(0, frame.height - 1))
    with_null = frame.with_columns(
        pl.Series("s", [None if i == row else "" for i in range(frame.height)], dtype=pl.String)
    )
    with_empty = frame.with_columns(pl.Series("s", [""] * frame.height))
    assert h(with_null) != h(with_empty)
    assert h([{"s": None}]) != h([{"s": ""}])
    assert h([{"s": None}]) != h([{}])


@settings(deadline=None)
@given(RECORDS.filter(bool), st.data())
def test_a_changed_record_changes_the_hash(records: list[dict[str, Any]], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(records) - 1))
    changed = [dict(r) for r in records]
    changed[i]["_changed"] = data.draw(SCALAR)
    assert h(changed) != h(records)
    assert h(records + [records[i]]) != h(records)
    assert h(records[:i] + records[i + 1 :]) != h(records)


# -- storage -------------------------------------------------------------------------------------------------------


@settings(deadline=None)
@given(frames(), frames(), RECORDS)
def test_pack_and_unpack_keep_the_hash(a: pl.DataFrame, b: pl.DataFrame, records: list[dict[str, Any]]) -> None:
    tables: dict[str, Any] = {"features": a, "history": b, "items": records}
    back = unpack_tables(pack_tables(tables))
    assert sorted(back) == sorted(tables)
    assert content_hash(back) == content_hash(tables)
    assert pack_tables(back) == pack_tables(tables)  # reproducible bytes


def test_integral_floats_of_any_size_hash_as_their_integer() -> None:
    # Regression: 2.0**53 and above kept a ".0" and differed from the integer they equal.
    for n in (2**53, 2**60, -(2**70)):
        assert content_hash({"t": [{"x": float(n)}]}) == content_hash({"t": [{"x": n}]})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.none() | st.lists(st.none() | st.text(alphabet=LETTERS + ' \\"\n\u0301', max_size=5), max_size=4)))
def test_a_list_of_strings_is_canonical_as_json_of_its_nfc_elements(lists: list[list[str | None] | None]) -> None:
    """The text of a List(String) column, made inside each list (issue 15: no explode and regroup), is what the
    scheme says: "[" + the elements NFC-normalised and JSON-quoted (null as null), comma-separated + "]"."""
    from engine.ledger.canonical import _canon_column

    series = pl.Series("x", lists, dtype=pl.List(pl.String))
    wanted = [
        None
        if row is None
        else "["
        + ",".join(
            "null" if v is None else json.dumps(unicodedata.normalize("NFC", v), ensure_ascii=False) for v in row
        )
        + "]"
        for row in lists
    ]
    assert _canon_column(series).to_list() == wanted


@settings(max_examples=60, deadline=None)
@given(frames())
def test_a_frame_read_a_column_at_a_time_hashes_as_the_whole_frame(frame: pl.DataFrame) -> None:
    """audit verify hashes a stored frame from its Parquet bytes one column at a time (canonical.ParquetFrame):
    the same hash as the frame read whole, keyed by uscc or not."""
    import io

    from engine.ledger.canonical import ParquetFrame

    part = io.BytesIO()
    frame.write_parquet(part, compression="zstd", statistics=False)
    lazy = ParquetFrame(part.getvalue())
    assert lazy.height == frame.height and lazy.columns == frame.columns
    assert content_hash({"t": lazy, "r": [{"a": 1}]}) == content_hash({"t": frame, "r": [{"a": 1}]})
    keyed = frame.with_columns(pl.Series("uscc", [f"U{n:05d}" for n in range(frame.height)], dtype=pl.String))
    part = io.BytesIO()
    keyed.write_parquet(part)
    assert content_hash({"t": ParquetFrame(part.getvalue())}) == content_hash({"t": keyed})
