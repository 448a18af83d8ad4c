"""Canonical content and its hash: the same facts give the same bytes, whatever their incidental form.

Every hash suijian records is made by a named, versioned scheme defined here (the "-- schemes --" section at the
end): ledger entries, grade outcomes, grade outputs, snapshots, rule packs, pack files and plan documents. An
entry records the names it used; a change to any of them needs a new name, with the old one kept so the
entries made under it still verify and replay.

A snapshot is a set of named tables: polars frames (large: features, subjects, history) or lists of JSON
records (small: check items, inspectors). Its hash is the SHA-256 of a canonical text in which
- column names and record keys are sorted, rows are sorted (row order is not a fact);
- strings are Unicode NFC (a name typed with a combining accent is the same name);
- numbers are numbers, not spellings: 1, 1.0 and 1.00 are "1"; -0.0 is "0"; other floats are their shortest
  round-trip text, so "0.10" and 0.1 agree;
- dates are ISO 8601, booleans true/false, and null is distinct from the empty string.
Any change of a value, a column, a row or a table name changes the hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import math
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from entities.errors import InputError, UnknownScheme

# The hashing schemes, by name (see "-- schemes --" at the end).
CHAIN = "suijian-chain-1"  # an entry body: sorted compact JSON; entry hash SHA-256("prev_hash\nbody")
OUTCOME = "suijian-outcome-1"  # one grade outcome: sorted JSON with the default separators
GRADE_OUTPUTS = "suijian-grade-outputs-1"  # a grade run: per subject (USCC order) its outcome's digest
SNAPSHOT = "suijian-snapshot-1"  # input tables: NFC strings, numbers as numbers, sorted rows (content_hash)
# The same facts as snapshot-1 (and the same row order), each column hashed as typed binary instead of text:
# a city's grade snapshot in seconds, not a quarter of a minute. Grade runs are written with it.
SNAPSHOT2 = "suijian-snapshot-2"
# Tables keyed by uscc cut into BUCKETS fixed buckets by a hash of the USCC, each bucket hashed as snapshot-2 hashes a
# frame (its rows in USCC order), the bucket digests combined in bucket order: the hash of a cluster's snapshot,
# computed bucket by bucket on the executors, whatever the partitioning. Spark grade runs are written with it.
SNAPSHOT3 = "suijian-snapshot-3"
PACK_1 = "suijian-pack-1"  # a rule pack's meaning: floats tagged, dates ISO, sorted JSON, default separators
PACK_2 = "suijian-pack-2"  # pack-1's document plus policy.yaml and catalogue.yaml; tagged, strings NFC
PACK = PACK_2  # the scheme new entries are written with
PACK_FILES = "suijian-pack-files-1"  # every file of a pack version: sorted paths with each file's SHA-256
PLAN = "suijian.plan/1"  # a plan document: sorted compact JSON, no NaN; its outputs hash is the text's SHA-256
# A fitted plan's document (engine.plan.fitted): the same canonical text and hash; the name says which planner
# made it, so replay remakes it with the fitted planner and a plan/1 entry with the unfitted one.
PLAN2 = "suijian.plan/2"
# A fitted plan's document made columnar (engine.ledger.plan_columns): the head as plan/2's canonical text, the
# visits as a typed table; the hash is over the content (the head's text and snapshot-2 digests of the visits'
# columns), not over the container's bytes. New plans are written with it; plan/1 and /2 documents keep theirs.
PLAN3 = "suijian.plan/3"
PLAN_TEXT_SCHEMES = (PLAN, PLAN2)  # whose outputs hash is the SHA-256 of the document's text
PLAN_SCHEMES = (PLAN, PLAN2, PLAN3)

Records = list[dict[str, Any]]
Table = pl.DataFrame | Records

_CHUNK = 250_000  # rows written to the hash at a time (bounded memory on a city's snapshot)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the container bytes are reproducible too


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def canon_float(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    if x.is_integer():  # exactly the integer it equals, so 2.0**60 and 2**60 agree
        return str(int(x))
    return repr(x)


def canon_value(value: Any) -> Any:
    """A JSON-able value in canonical form (floats as their canonical text, so 1 and 1.0 agree)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return canon_float(value)
    if isinstance(value, str):
        return nfc(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {nfc(str(k)): canon_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canon_value(v) for v in value]
    raise InputError(f"cannot put a {type(value).__name__} in a snapshot")


def canon_json(value: Any) -> str:
    return json.dumps(canon_value(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# -- frames ----------------------------------------------------------------------------------------------------------


def _mapped(series: pl.Series, fn: Any) -> pl.Series:
    """Apply a Python function once per distinct value (features have few; a USCC column skips this)."""
    uniques = series.drop_nulls().unique()
    mapping = {v: fn(v) for v in uniques.to_list()}
    return series.replace_strict(mapping, default=None, return_dtype=pl.String)


def _canon_strings(series: pl.Series) -> pl.Series:
    if not series.drop_nulls().str.contains(r"[^\x00-\x7F]").any():
        return series  # ASCII is already NFC
    return _mapped(series, nfc)


def _canon_column(series: pl.Series) -> pl.Series:
    if series.dtype in (pl.Categorical,) or isinstance(series.dtype, pl.Enum):
        series = series.cast(pl.String)
    dtype = series.dtype
    if dtype == pl.String:
        text = _canon_strings(series)
    elif dtype == pl.Boolean:
        text = _mapped(series, lambda b: "true" if b else "false")
    elif dtype.is_integer():
        text = series.cast(pl.String)
    elif dtype.is_float():
        text = _mapped(series.cast(pl.Float64), canon_float)
    elif dtype == pl.Date:
        text = series.dt.strftime("%Y-%m-%d")
    elif isinstance(dtype, pl.Datetime):
        text = series.dt.strftime("%Y-%m-%dT%H:%M:%S%.f")
    elif isinstance(dtype, pl.List):
        text = _canon_list(series)
    else:
        raise InputError(f"cannot put a column of type {dtype} ({series.name}) in a snapshot")
    # "=" before every value: null (empty field) can never equal a value, not even the empty string.
    return pl.Series(nfc(series.name), text).cast(pl.String)


def _canon_list(series: pl.Series) -> pl.Series:
    """A list as "[e1,e2]" of JSON-quoted canonical elements (null elements as null); a null list stays null."""
    if not len(series):
        return pl.Series(series.name, [], dtype=pl.String)
    inner_type = series.dtype.inner if isinstance(series.dtype, pl.List) else None
    if inner_type == pl.String:
        return _canon_string_list(series)
    lengths = series.list.len().fill_null(0)
    inner = _canon_column(
        series.explode(empty_as_null=True, keep_nulls=True).alias("_")
    )  # an empty or null list explodes to one null
    quoted = _mapped(inner, lambda s: json.dumps(s, ensure_ascii=False)).fill_null("null")
    rows = pl.DataFrame(
        {
            "row": pl.int_range(len(series), eager=True).repeat_by(lengths.clip(1)).explode(),
            "real": (lengths > 0).repeat_by(lengths.clip(1)).explode(),
            "v": quoted,
        }
    )
    joined = (
        rows.group_by("row", maintain_order=True).agg(pl.col("v").filter(pl.col("real")).str.join(",")).get_column("v")
    )
    text = "[" + joined + "]"
    return pl.Series(series.name, text).set(series.is_null(), None)


def _canon_string_list(series: pl.Series) -> pl.Series:
    """`_canon_list` of a list of strings, the same text made inside each list (no explode and regroup of the
    whole column: a city's mandatory-items column cost 1.5 GB that way): every distinct string NFC-normalised and
    JSON-quoted once, null elements "null", joined by commas within the brackets."""
    values = series.explode(empty_as_null=True, keep_nulls=True).drop_nulls().unique()
    quoted = {v: json.dumps(nfc(v), ensure_ascii=False) for v in values.to_list()}
    lists = series.list.eval(
        pl.element().replace_strict(quoted, default=None, return_dtype=pl.String).fill_null("null")
    ).list.join(",")
    return ("[" + lists + "]").alias(series.name)


def _columns(frame: pl.DataFrame) -> tuple[list[str], list[pl.Series]]:
    names = [nfc(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise InputError("a snapshot table has two columns with the same (NFC) name")
    cols = {nfc(c): _canon_column(frame.get_column(c)).alias(nfc(c)) for c in frame.columns}
    ordered = sorted(cols)
    return ordered, [cols[n] for n in ordered]


KEY = "uscc"  # a snapshot table keyed by subject is ordered by it alone (cheap); others by every column


def canonical_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as canonical text (null stays null), columns by name, rows in canonical order: by `uscc`
    when the table has that column and it is unique and never null, else by every column in name order."""
    ordered, cols = _columns(frame)
    if not ordered:
        return pl.DataFrame()
    out = pl.DataFrame(cols)
    if not out.height:
        return out
    key = out.get_column(KEY) if KEY in out.columns else None
    if key is not None and key.null_count() == 0 and key.n_unique() == out.height:
        return out.sort(KEY)
    return out.sort(ordered, nulls_last=False)


def _escaped(series: pl.Series) -> pl.Series:
    """Backslash and newline escaped, null as \\N: one value per line can never be mistaken for another."""
    if series.drop_nulls().str.contains("[\\\\\n\r]").any():
        series = (
            series.str.replace_all("\\", "\\\\", literal=True)
            .str.replace_all("\n", "\\n", literal=True)
            .str.replace_all("\r", "\\r", literal=True)
        )
    return series.fill_null("\\N")


def canonical_records(records: Iterable[Mapping[str, Any]]) -> list[str]:
    return sorted(canon_json(dict(r)) for r in records)


class ParquetFrame:
    """A snapshot frame kept as its Parquet bytes and read a column at a time: hashing it (content_hash) then holds
    one column as canonical text, not the whole frame (a city's plan snapshot: 3.3 M subjects, 61 columns). The
    hash is the one of the frame read whole; a frame not keyed by `uscc` is read whole for its row order.
    `columns` narrows it to some of the file's columns (`select`), still read from the same bytes."""

    def __init__(self, data: bytes, columns: Sequence[str] | None = None) -> None:
        self._data = data
        try:
            stored = list(pl.read_parquet_schema(io.BytesIO(data)))
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise ValueError(str(exc)) from None
        missing = [c for c in columns or () if c not in stored]
        if missing:
            raise ValueError(f"the Parquet frame has no column {missing[0]}")
        self._whole_file = columns is None or list(columns) == stored
        self.columns = stored if columns is None else list(columns)
        self.height = self.get_column(self.columns[0]).len() if self.columns else self.whole().height

    def get_column(self, name: str) -> pl.Series:
        try:
            return pl.read_parquet(io.BytesIO(self._data), columns=[name]).to_series()
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise ValueError(str(exc)) from None

    def whole(self) -> pl.DataFrame:
        try:
            return pl.read_parquet(io.BytesIO(self._data), columns=None if self._whole_file else self.columns)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise ValueError(str(exc)) from None

    def select(self, names: Sequence[str]) -> ParquetFrame:
        """These columns of the frame (as DataFrame.select names them), read from the same bytes when needed."""
        return ParquetFrame(self._data, list(names))

    def parquet(self) -> bytes:
        """The frame as a Parquet file (zstd, as pack_tables writes a frame): its bytes as given when it is the whole
        file, else its columns written out."""
        if self._whole_file:
            return self._data
        out = io.BytesIO()
        self.whole().write_parquet(out, compression="zstd", statistics=False)
        return out.getvalue()


Frame = pl.DataFrame | ParquetFrame


def _key_order(frame: Frame) -> pl.Series | None:
    """Row order by the canonical `uscc` when it is a key (unique, never null); None otherwise."""
    original = {nfc(c): c for c in frame.columns}.get(KEY)
    if original is None or not frame.height:
        return None
    key = _canon_column(frame.get_column(original))
    if key.null_count() or key.n_unique() != frame.height:
        return None
    return key.arg_sort()


def _frame_bytes(frame: Frame) -> Iterable[bytes]:
    """Column by column (name order), one escaped value per line, rows in canonical order. A table keyed by
    `uscc` is canonicalised one column at a time, so a city's snapshot never holds every column as text."""
    names = [nfc(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise InputError("a snapshot table has two columns with the same (NFC) name")
    order = _key_order(frame)
    yield (json.dumps(sorted(names), ensure_ascii=False) + "\n").encode("utf-8")
    if order is None:
        canon = canonical_frame(frame if isinstance(frame, pl.DataFrame) else frame.whole())
        columns: Iterable[tuple[str, pl.Series]] = ((n, canon.get_column(n)) for n in canon.columns)
    else:
        by_name = {nfc(c): c for c in frame.columns}
        columns = ((n, _canon_column(frame.get_column(by_name[n])).gather(order)) for n in sorted(names))
    for name, column in columns:
        yield f"#column {name}\n".encode()
        values = _escaped(column)
        for start in range(0, len(values), _CHUNK):
            yield (values.slice(start, _CHUNK).str.join("\n").item() + "\n").encode("utf-8")
        del values


# -- snapshot-2: typed binary columns ----------------------------------------------------------------------------
#
# The rows in snapshot-1's order and the same canonical facts, but no value is turned into text where its type has
# a fixed binary form. A column is its kind (from its type) and three byte streams, each hashed on its own:
# - flags, one byte per row: 0 null; 1 a value (for numbers: an integer, or a whole float an int64 holds);
#   2 any other float;
# - values, little-endian: numbers as int64 (flag 1) or as the bits of the float64 (flag 2; -0.0 is 0, every
#   NaN the one NaN); dates as int32 days; booleans as one byte; text as each value's UTF-8 length (uint64);
#   nulls as zero;
# - bytes: text only, the values' UTF-8 bytes one after the other (NFC).
# Every stream is a concatenation over rows, so a column hashed a partition at a time (ColumnHasher.update) has
# the digest of the whole column. Lists, datetimes and other types keep snapshot-1's text, under a kind of their
# own. Unlike snapshot-1, a number and its text (1 and "1") are different facts.

_WHOLE = 2.0**63
# A frame of at least this many rows has its columns hashed by _HASH_THREADS threads (a city's snapshot: 3.3 M rows,
# some 60 columns); below it, starting threads costs more than it saves.
_PARALLEL_ROWS = 100_000
_HASH_THREADS = 2


def _kind(dtype: Any) -> str:
    if dtype == pl.Categorical or isinstance(dtype, pl.Enum) or dtype == pl.String:
        return "text"
    if dtype.is_integer() or dtype.is_float():
        return "number"
    if dtype == pl.Boolean:
        return "bool"
    if dtype == pl.Date:
        return "date"
    return "text:list" if isinstance(dtype, pl.List) else f"text:{dtype}"


class ColumnHasher:
    """snapshot-2's digest of one column, fed its rows in canonical order, whole or a partition at a time."""

    def __init__(self, dtype: Any) -> None:
        self.kind = _kind(dtype)
        self._flags = hashlib.sha256()
        self._values = hashlib.sha256()
        self._bytes = hashlib.sha256()

    def update(self, series: pl.Series) -> None:
        if _kind(series.dtype) != self.kind:
            raise InputError(f"column {series.name} changes type between partitions ({series.dtype})")
        valid = series.is_not_null().to_numpy()
        flags = valid.astype(np.uint8)
        if self.kind == "number":
            values = self._numbers(series, flags)
        elif self.kind == "bool":
            values = series.fill_null(False).cast(pl.UInt8).to_numpy().tobytes()
        elif self.kind == "date":
            values = series.cast(pl.Int32).fill_null(0).to_numpy().astype("<i4").tobytes()
        else:
            text = _canon_strings(series.cast(pl.String)) if self.kind == "text" else _canon_column(series)
            values = text.str.len_bytes().fill_null(0).cast(pl.UInt64).to_numpy().astype("<u8").tobytes()
            joined = text.fill_null("")
            for start in range(0, len(joined), _CHUNK):
                self._bytes.update(joined.slice(start, _CHUNK).str.join("").item().encode("utf-8"))
        self._flags.update(flags.tobytes())
        self._values.update(values)

    @staticmethod
    def _numbers(series: pl.Series, flags: np.ndarray) -> bytes:
        dtype = series.dtype
        if dtype.is_integer() and dtype != pl.UInt64:
            return series.cast(pl.Int64).fill_null(0).to_numpy().astype("<i8").tobytes()
        floats = series.cast(pl.Float64).fill_null(0.0).to_numpy().astype("<f8")
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(floats) & (np.floor(floats) == floats) & (np.abs(floats) < _WHOLE)
        ints = np.zeros(len(floats), dtype="<i8")
        ints[whole] = floats[whole].astype("<i8")  # 1.0 is the number 1, and -0.0 is 0, as in snapshot-1
        other = ~whole
        if other.any():
            rest = floats[other]
            rest[np.isnan(rest)] = np.nan  # one NaN, whatever its payload
            ints[other] = rest.view("<i8")
            flags[other & (flags == 1)] = 2
        return ints.tobytes()

    def hexdigest(self) -> str:
        text = f"{self.kind}\n{self._flags.hexdigest()}\n{self._values.hexdigest()}\n{self._bytes.hexdigest()}\n"
        return hashlib.sha256(text.encode()).hexdigest()


def _order_2(frame: Frame) -> pl.Series | None:
    """snapshot-1's row order as positions to gather, or None when the rows are in it already. A frame whose
    canonical `uscc` strictly ascends (every grade snapshot: partitions arrive in USCC order) is not sorted."""
    original = {nfc(c): c for c in frame.columns}.get(KEY)
    if original is not None and frame.height:
        key = _canon_column(frame.get_column(original))
        if not key.null_count():
            if bool((key.slice(1) > key.slice(0, frame.height - 1)).all()):
                return None
            if key.n_unique() == frame.height:  # _key_order's order, from the key made once
                return key.arg_sort()
    if not frame.height:
        return None
    # Not keyed by uscc (a plan's past checks): by every column's canonical text in name order, as snapshot-1,
    # each column sorted by a key with the same order as its text (_text_order) rather than by the text.
    whole = frame if isinstance(frame, pl.DataFrame) else frame.whole()
    by_name = {nfc(c): c for c in whole.columns}
    keys = [_text_order(whole.get_column(by_name[n])).alias(f"k{i}") for i, n in enumerate(sorted(by_name))]
    return pl.DataFrame(keys).with_row_index("_row").sort([k.name for k in keys], nulls_last=False).get_column("_row")


def _text_order(series: pl.Series) -> pl.Series:
    """A column whose sort order (nulls first) is that of the column's canonical text (_canon_column), without
    making the text where the type's own order is the text's: text is its NFC text (polars and SQL both compare
    UTF-8 bytes); booleans are false < true as "false" < "true"; dates of years 1000-9999 are ISO text of one width,
    "YYYY-MM-DD", so earlier is smaller. Other columns (integers: "10" < "9"; floats; dates outside those years)
    by their text. Equal keys are equal texts, so rows that tie are the same facts and their order is not hashed.
    At guangzhou the plan's 2.2 M past checks took 4.4 CPU s to order by text, most of the snapshot's hash."""
    dtype = series.dtype
    if dtype == pl.Boolean:
        return series
    if dtype == pl.Date:
        years = series.dt.year()
        low, high = years.min(), years.max()
        if low is None or (int(low) >= 1000 and int(high) <= 9999):  # type: ignore[arg-type]
            return series
        return _canon_column(series)
    if dtype == pl.String or dtype == pl.Categorical or isinstance(dtype, pl.Enum):
        return _canon_strings(series.cast(pl.String))
    return _canon_column(series)


def _frame_bytes_2(frame: Frame) -> Iterable[bytes]:
    """snapshot-2's bytes of a frame: its column names, then per column (name order) its name and digest."""
    names = [nfc(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise InputError("a snapshot table has two columns with the same (NFC) name")
    yield (json.dumps(sorted(names), ensure_ascii=False) + "\n").encode("utf-8")
    by_name = {nfc(c): c for c in frame.columns}
    order = _order_2(frame)

    def digest(name: str) -> str:
        # _CHUNK rows at a time (ColumnHasher's digest is the same whole or in parts): a city's text column made
        # canonical whole was hundreds of MB on top of the frame, twice over with two threads, while a plan's
        # commit also writes its document (issue 15: the plan's peak).
        column = frame.get_column(by_name[name])
        hasher = ColumnHasher(column.dtype)
        for start in range(0, frame.height, _CHUNK):
            part = column.gather(order.slice(start, _CHUNK)) if order is not None else column.slice(start, _CHUNK)
            hasher.update(part)
        return hasher.hexdigest()

    ordered = sorted(names)
    if frame.height < _PARALLEL_ROWS or len(ordered) < 2:
        for name in ordered:
            yield f"#column {name} {digest(name)}\n".encode()
        return
    # Columns are hashed independently, and their work (Parquet decoding, polars, SHA-256 of large buffers)
    # releases the GIL: two threads use both cores. The digests are written in name order: the same bytes.
    with ThreadPoolExecutor(max_workers=_HASH_THREADS, thread_name_prefix="snapshot-hash") as pool:
        futures = [pool.submit(digest, name) for name in ordered]
        try:
            for name, future in zip(ordered, futures, strict=True):
                yield f"#column {name} {future.result()}\n".encode()
        finally:
            for future in futures:  # a failed column: the rest are not worth hashing
                future.cancel()


class StreamedFrame:
    """A snapshot frame given a partition at a time, its rows in canonical order (each part's `uscc` strictly
    after the last part's): hashed (snapshot-2) and written to Parquet as the parts come, so the whole frame is
    never held — a city's grade run keeps its features as compressed Parquet, not as 3 million rows of columns.
    content_hash and pack_tables take it where they take a frame: the same hash and rows as the whole frame."""

    def __init__(self) -> None:
        self.columns: list[str] = []
        self.height = 0
        self._hashers: dict[str, ColumnHasher] = {}
        # The parts go into one Parquet file as they come, a row group each. Merging a city's parts at the end
        # (each read back and the whole written out again) was 1.5 s of the grade's last seconds, when one core
        # works alone.
        self._out = io.BytesIO()
        self._writer: pq.ParquetWriter | None = None
        self._data: bytes | None = None
        self._last: str | None = None

    def add(self, part: pl.DataFrame) -> None:
        if self._data is not None:
            raise ValueError("the streamed snapshot frame was written out already: no part can follow")
        table = part.to_arrow()
        if self._writer is None:
            self.columns = list(part.columns)
            names = [nfc(c) for c in self.columns]
            if len(set(names)) != len(names):
                raise InputError("a snapshot table has two columns with the same (NFC) name")
            if KEY not in names:
                raise ValueError(f"a streamed snapshot frame is ordered by {KEY}; it has no such column")
            self._hashers = {nfc(c): ColumnHasher(part.schema[c]) for c in self.columns}
            self._writer = pq.ParquetWriter(self._out, table.schema, compression="zstd", write_statistics=False)
        elif list(part.columns) != self.columns:
            raise ValueError(f"a part has the columns {part.columns}, not {self.columns}")
        if part.height:
            key = _canon_column(part.get_column({nfc(c): c for c in self.columns}[KEY]))
            ascending = not key.null_count() and bool((key.slice(1) > key.slice(0, part.height - 1)).all())
            if not ascending or (self._last is not None and key[0] <= self._last):
                raise ValueError(f"the parts of a streamed snapshot frame must come in strictly ascending {KEY}")
            self._last = key[-1]
        for c in self.columns:
            self._hashers[nfc(c)].update(part.get_column(c))
        if not table.schema.equals(self._writer.schema):
            # One file has one schema (merged at the end, such parts failed as well: polars refuses mixed types).
            raise ValueError(f"a part has the column types {table.schema}, not {self._writer.schema}")
        self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
        self.height += part.height

    def frame_bytes(self) -> Iterable[bytes]:
        """What `_frame_bytes_2` yields for the whole frame."""
        names = sorted(self._hashers)
        yield (json.dumps(names, ensure_ascii=False) + "\n").encode("utf-8")
        for name in names:
            yield f"#column {name} {self._hashers[name].hexdigest()}\n".encode()

    def parquet(self) -> bytes:
        """The whole frame as one Parquet file, a row group per part (no part can be added after)."""
        if self._data is None:
            if self._writer is None:  # no part: an empty frame, as polars writes one
                out = io.BytesIO()
                pl.DataFrame().write_parquet(out, compression="zstd", statistics=False)
                self._data = out.getvalue()
            else:
                self._writer.close()
                self._data = self._out.getvalue()
                self._out = io.BytesIO()
        return self._data


def content_hash(tables: Mapping[str, Table | ParquetFrame | StreamedFrame], scheme: str = SNAPSHOT) -> str:
    """The canonical hash of a snapshot (a mapping of table name to frame or records)."""
    _check(scheme, "snapshot")
    # The scheme tag is part of every recorded hash: a change to the canonical form needs a new tag, with the
    # old scheme kept for verifying the entries made under it.
    h = hashlib.sha256(f"{scheme}\n".encode())
    if scheme == SNAPSHOT3:
        return _content_hash_3(tables)
    frame_bytes = _frame_bytes if scheme == SNAPSHOT else _frame_bytes_2
    for name in sorted(tables, key=nfc):
        table = tables[name]
        if isinstance(table, StreamedFrame):
            if scheme == SNAPSHOT:
                raise ValueError("a streamed frame is hashed with snapshot-2 only")
            h.update(f"#frame {nfc(name)} {table.height}\n".encode())
            for chunk in table.frame_bytes():
                h.update(chunk)
        elif isinstance(table, pl.DataFrame | ParquetFrame):
            h.update(f"#frame {nfc(name)} {table.height}\n".encode())
            for chunk in frame_bytes(table):
                h.update(chunk)
        else:
            rows = canonical_records(table)
            h.update(f"#records {nfc(name)} {len(rows)}\n".encode())
            for row in rows:
                h.update(row.encode("utf-8") + b"\n")
    return h.hexdigest()


# -- snapshot-3: fixed USCC buckets ---------------------------------------------------------------------------------
#
# Why buckets and not a commutative combination of per-row digests (a sum or XOR of row hashes): such "multiset
# hashes" are cheap to merge but XOR is broken by linear algebra and a sum modulo 2**256 by Wagner's generalised
# birthday attack, so a tampered snapshot could be made to hash like the recorded one. Buckets keep every step a
# plain SHA-256 over bytes in a fixed order, so a collision of the snapshot hash is a collision of SHA-256:
# - a row's bucket is the first byte of SHA-256(its NFC uscc) (BUCKETS = 256): fixed by the data, not by how a
#   cluster partitioned it, and balanced whatever the USCCs look like;
# - a bucket's digest is SHA-256 of "scheme bucket b rows", the sorted column names and snapshot-2's digest of each
#   column over the bucket's rows in USCC order (the uscc must be a key: unique, never null);
# - a table is "#frame name height", its column names, and "#bucket b rows digest" per non-empty bucket in order;
#   the snapshot hash is SHA-256 of the scheme name and its tables in name order.
# Every partition can hash the buckets it holds whole (Spark shuffles rows by bucket first); the driver combines
# bucket digests only. Only frames keyed by uscc can be put in such a snapshot.

BUCKETS = 256


def bucket_of(uscc: pl.Series) -> pl.Series:
    """Each USCC's snapshot-3 bucket (0..255): the first byte of the SHA-256 of its NFC text."""
    text = _canon_strings(uscc.cast(pl.String))
    if text.null_count():
        raise InputError("a snapshot-3 table has a row without uscc")
    if not len(text):
        return pl.Series("bucket", [], dtype=pl.UInt8)
    mapping = {u: hashlib.sha256(u.encode("utf-8")).digest()[0] for u in text.to_list()}
    return text.replace_strict(mapping, return_dtype=pl.UInt8).alias("bucket")


def _key_name(columns: Sequence[str]) -> str:
    names = {nfc(c): c for c in columns}
    if len(names) != len(columns):
        raise InputError("a snapshot table has two columns with the same (NFC) name")
    if KEY not in names:
        raise InputError(f"a snapshot-3 table must have a {KEY} column")
    return names[KEY]


def bucket_digest(bucket: int, frame: pl.DataFrame) -> str:
    """The digest of one bucket's rows (any order: sorted here by uscc, which must be unique and never null)."""
    key = _key_name(frame.columns)
    canon = _canon_strings(frame.get_column(key).cast(pl.String))
    if canon.null_count() or canon.n_unique() != frame.height:
        raise InputError(f"a snapshot-3 table's {KEY} is not a key (a USCC repeats or is missing)")
    frame = frame.with_columns(canon.alias(key)).sort(key)
    h = hashlib.sha256(f"{SNAPSHOT3} bucket {bucket} {frame.height}\n".encode())
    by_name = {nfc(c): c for c in frame.columns}
    h.update((json.dumps(sorted(by_name), ensure_ascii=False) + "\n").encode("utf-8"))
    for name in sorted(by_name):
        hasher = ColumnHasher(frame.schema[by_name[name]])
        hasher.update(frame.get_column(by_name[name]))
        h.update(f"#column {name} {hasher.hexdigest()}\n".encode())
    return h.hexdigest()


def split_buckets(frame: pl.DataFrame) -> Iterator[tuple[int, pl.DataFrame]]:
    """A frame's rows by snapshot-3 bucket, in bucket order (empty buckets left out)."""
    key = _key_name(frame.columns)
    if not frame.height:
        return
    tagged = frame.with_columns(bucket_of(frame.get_column(key)).alias("_bucket"))
    for (bucket,), part in sorted(tagged.partition_by("_bucket", as_dict=True).items()):
        yield int(bucket), part.drop("_bucket")


@dataclass(frozen=True)
class BucketTable:
    """A snapshot-3 table by its bucket digests: what the driver combines, and what a stored manifest holds."""

    columns: tuple[str, ...]
    buckets: tuple[tuple[int, int, str], ...]  # (bucket, rows, digest), in bucket order

    @property
    def height(self) -> int:
        return sum(rows for _, rows, _ in self.buckets)


def bucket_table(frame: pl.DataFrame) -> BucketTable:
    """A whole frame's snapshot-3 buckets (the single-machine way; a cluster computes the same per bucket)."""
    return BucketTable(
        tuple(frame.columns), tuple((b, part.height, bucket_digest(b, part)) for b, part in split_buckets(frame))
    )


def combine_buckets(tables: Mapping[str, BucketTable]) -> str:
    """The snapshot-3 hash of tables given by their bucket digests."""
    h = hashlib.sha256(f"{SNAPSHOT3}\n".encode())
    for name in sorted(tables, key=nfc):
        table = tables[name]
        buckets = list(table.buckets)
        if [b for b, _, _ in buckets] != sorted({b for b, _, _ in buckets}) or any(
            not 0 <= b < BUCKETS or rows <= 0 for b, rows, _ in buckets
        ):
            raise InputError(
                f"snapshot-3 table {name}: buckets must be distinct, in order, non-empty, 0..{BUCKETS - 1}"
            )
        names = sorted(nfc(c) for c in table.columns)
        h.update(f"#frame {nfc(name)} {table.height}\n".encode())
        h.update((json.dumps(names, ensure_ascii=False) + "\n").encode("utf-8"))
        for b, rows, digest in buckets:
            h.update(f"#bucket {b} {rows} {digest}\n".encode())
    return h.hexdigest()


def _content_hash_3(tables: Mapping[str, Any]) -> str:
    found: dict[str, BucketTable] = {}
    for name, table in tables.items():
        if isinstance(table, ParquetFrame):
            table = table.whole()
        if not isinstance(table, pl.DataFrame):
            raise InputError(f"snapshot-3 holds frames keyed by {KEY} only; {name} is not one")
        found[name] = bucket_table(table)
    return combine_buckets(found)


# -- storage ----------------------------------------------------------------------------------------------------------


def pack_tables(tables: Mapping[str, Table | ParquetFrame | StreamedFrame]) -> bytes:
    """A zip of the tables: frames as Parquet (zstd), records as JSON; reproducible bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(tables):
            table = tables[name]
            if isinstance(table, StreamedFrame | ParquetFrame):
                info = zipfile.ZipInfo(f"frames/{name}.parquet", _ZIP_TIME)
                zf.writestr(info, table.parquet(), compress_type=zipfile.ZIP_STORED)
            elif isinstance(table, pl.DataFrame):
                part = io.BytesIO()
                table.write_parquet(part, compression="zstd", statistics=False)
                info = zipfile.ZipInfo(f"frames/{name}.parquet", _ZIP_TIME)
                zf.writestr(info, part.getvalue(), compress_type=zipfile.ZIP_STORED)
            else:
                info = zipfile.ZipInfo(f"records/{name}.json", _ZIP_TIME)
                text = json.dumps(list(table), ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
                zf.writestr(info, text.encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def unpack_tables(data: bytes) -> dict[str, Table]:
    """The tables of `pack_tables`; raises ValueError on bytes that are not such a container."""
    tables: dict[str, Table] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                folder, _, file = info.filename.partition("/")
                raw = zf.read(info)
                if folder == "frames" and file.endswith(".parquet"):
                    tables[file[: -len(".parquet")]] = pl.read_parquet(io.BytesIO(raw))
                elif folder == "records" and file.endswith(".json"):
                    records = json.loads(raw.decode("utf-8"))
                    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                        raise ValueError(f"{info.filename} is not a list of records")
                    tables[file[: -len(".json")]] = records
                else:
                    raise ValueError(f"unexpected member {info.filename}")
    except (
        zipfile.BadZipFile,
        OSError,
        EOFError,
        zlib.error,
        UnicodeDecodeError,
        json.JSONDecodeError,
        pl.exceptions.PolarsError,
    ) as exc:
        raise ValueError(str(exc)) from None
    return tables


# -- schemes ----------------------------------------------------------------------------------------------------------
#
# Every hash suijian records, by name. The bytes of each scheme are fixed forever: entries written under a name
# are verified and replayed under it. A different canonical form is a new scheme with a new name, added here
# next to the old one; an entry records the names it used (`schemes` in its body), and one written before
# entries did so is read as LEGACY_SCHEMES.

ROLES = ("chain", "outcome", "outputs", "snapshot", "pack", "pack_files")


@dataclass(frozen=True)
class Scheme:
    """A named way of turning content into a hash, and which hash of an entry it makes."""

    name: str
    role: str  # one of ROLES
    what: str


SCHEMES: dict[str, Scheme] = {
    s.name: s
    for s in (
        Scheme(CHAIN, "chain", "ledger entry body and entry hash"),
        Scheme(OUTCOME, "outcome", "canonical JSON of one grade outcome"),
        Scheme(GRADE_OUTPUTS, "outputs", "outputs hash of a grade run"),
        Scheme(PLAN, "outputs", "plan document and its outputs hash"),
        Scheme(PLAN2, "outputs", "fitted plan document and its outputs hash"),
        Scheme(PLAN3, "outputs", "fitted plan document, visits as typed columns; hash over the content"),
        Scheme(SNAPSHOT, "snapshot", "input snapshot hash"),
        Scheme(SNAPSHOT2, "snapshot", "input snapshot hash, typed binary columns"),
        Scheme(SNAPSHOT3, "snapshot", "input snapshot hash, USCC buckets of typed binary columns (any partitioning)"),
        Scheme(PACK_1, "pack", "rule pack hash (decisions and parameters)"),
        Scheme(PACK_2, "pack", "rule pack hash (decisions, parameters, plan policy and check-item catalogue)"),
        Scheme(PACK_FILES, "pack_files", "rule-pack version hash (every file)"),
    )
}


def entry_schemes(kind: str) -> dict[str, str]:
    """The schemes a new ledger entry of `kind` is written with (recorded in its body as `schemes`)."""
    out = {"chain": CHAIN}
    if kind == "grade":  # snapshot-2 since 0.x: grade runs recorded before name snapshot-1 and keep it
        out.update(outcome=OUTCOME, outputs=GRADE_OUTPUTS, snapshot=SNAPSHOT2)
    elif kind == "plan":  # plan/3 and snapshot-2 since 0.x: plans recorded before name theirs and keep them
        out.update(outputs=PLAN3, snapshot=SNAPSHOT2)
    elif kind == "preview":
        out.update(outputs=PLAN)
    if kind in ("grade", "plan", "preview", "publish", "pack-proposal"):
        out.update(pack=PACK, pack_files=PACK_FILES)
    return out


# An entry written before entries named their schemes (suijian 0.1.0) used exactly these.
LEGACY_SCHEMES: dict[str, str] = {
    "chain": CHAIN,
    "outcome": OUTCOME,
    "snapshot": SNAPSHOT,
    "pack": PACK_1,
    "pack_files": PACK_FILES,
}
_LEGACY_OUTPUTS = {"grade": GRADE_OUTPUTS, "plan": PLAN, "preview": PLAN}


def schemes_of(body: Mapping[str, Any]) -> dict[str, str]:
    """The scheme per role an entry body was written with: its `schemes`, or the legacy ones if it has none."""
    recorded = body.get("schemes")
    if recorded is None:
        out = dict(LEGACY_SCHEMES)
        kind = body.get("kind")
        if isinstance(kind, str) and kind in _LEGACY_OUTPUTS:
            out["outputs"] = _LEGACY_OUTPUTS[kind]
        return out
    if not isinstance(recorded, Mapping):
        raise UnknownScheme(f"its schemes are {recorded!r}, not a mapping of role to scheme name")
    out = {}
    for role, name in recorded.items():
        scheme = SCHEMES.get(name) if isinstance(name, str) else None
        if scheme is None:
            raise UnknownScheme(
                f"it names the unknown hashing scheme {name!r} for {role}: made by a newer suijian, or edited "
                f"(known: {', '.join(sorted(SCHEMES))})"
            )
        if scheme.role != role:
            raise UnknownScheme(f"it names scheme {name!r} for {role}, but that scheme makes the {scheme.role} hash")
        out[role] = name
    return out


def _check(scheme: str, role: str) -> None:
    found = SCHEMES.get(scheme)
    if found is None or found.role != role:
        raise UnknownScheme(f"{scheme!r} is not a {role} hashing scheme (known: {', '.join(sorted(SCHEMES))})")


def body_text(body: Mapping[str, Any], scheme: str = CHAIN) -> str:
    """The text of a ledger entry body, as stored and hashed."""
    _check(scheme, "chain")
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def entry_hash(prev_hash: str, body_text: str, scheme: str = CHAIN) -> str:
    """An entry's hash: over the previous entry's hash and its own body text."""
    _check(scheme, "chain")
    return hashlib.sha256(f"{prev_hash}\n{body_text}".encode()).hexdigest()


def canonical_result(
    outputs: Mapping[str, Any], fired: Sequence[str], errors: Sequence[str], scheme: str = OUTCOME
) -> str:
    """One grade outcome (every output, the fired rule ids, errors) as canonical text."""
    _check(scheme, "outcome")
    return json.dumps(
        {"outputs": outputs, "fired": list(fired), "errors": list(errors)}, sort_keys=True, ensure_ascii=False
    )


_OUTPUTS_CHUNK = 500_000


def grade_outputs_hash(results: pl.DataFrame, outcomes: Mapping[int, str], scheme: str = GRADE_OUTPUTS) -> str:
    """`results` has columns uscc and outcome; `outcomes` maps outcome id -> canonical result text."""
    _check(scheme, "outputs")
    if scheme != GRADE_OUTPUTS:
        raise UnknownScheme(f"{scheme!r} is not a grade outputs scheme")
    digests = {k: hashlib.sha256(v.encode("utf-8")).hexdigest()[:32] for k, v in outcomes.items()}
    lines = results.select(
        pl.col("uscc"),
        pl.col("outcome").replace_strict(digests, default="(missing outcome)", return_dtype=pl.String).alias("digest"),
    ).sort("uscc")
    h = hashlib.sha256(f"{GRADE_OUTPUTS} {lines.height}\n".encode())
    for start in range(0, lines.height, _OUTPUTS_CHUNK):
        h.update(lines.slice(start, _OUTPUTS_CHUNK).write_csv(include_header=False).encode("utf-8"))
    return h.hexdigest()


def _pack_value(value: Any, text: Any = str) -> Any:
    if isinstance(value, tuple | list):
        return [_pack_value(v, text) for v in value]
    if isinstance(value, Mapping):
        return {text(str(k)): _pack_value(v, text) for k, v in value.items()}
    if isinstance(value, float):  # tagged, so 1.0 and 1 differ: a float parameter is not an integer one
        return {"float": repr(value)}
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return text(value)
    return value


def pack_hash(document: Mapping[str, Any], scheme: str = PACK) -> str:
    """A rule pack's hash over the document of what decides or explains a result (built by the loader: under
    PACK_1 decisions and parameters; under PACK_2 also the plan policy and the check-item catalogue)."""
    _check(scheme, "pack")
    if scheme == PACK_1:
        return hashlib.sha256(
            json.dumps(_pack_value(document), ensure_ascii=False, sort_keys=True).encode()
        ).hexdigest()
    # PACK_2: the scheme's name opens the hashed text (no PACK_1 document can collide with it), strings are NFC (a
    # catalogue name typed with a combining accent is the same name).
    text = json.dumps(_pack_value(document, nfc), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(f"{PACK_2}\n{text}".encode()).hexdigest()


def pack_files_hash(files: Mapping[str, bytes], scheme: str = PACK_FILES) -> str:
    """A rule-pack version's hash: every file's path and content."""
    _check(scheme, "pack_files")
    h = hashlib.sha256(f"{PACK_FILES}\n".encode())
    for rel in sorted(files):
        h.update(f"{rel}\0{hashlib.sha256(files[rel]).hexdigest()}\n".encode())
    return h.hexdigest()


def plan_text(document: Mapping[str, Any], scheme: str = PLAN) -> str:
    """A plan document as canonical text: byte-identical for identical plans (under plan/3: its head's text, or
    the whole plan as plan/2 would write it, for readers)."""
    _check(scheme, "outputs")
    if scheme not in PLAN_SCHEMES:
        raise UnknownScheme(f"{scheme!r} is not a plan document scheme")
    return _plan_dumps(document)


def plan_text_pieces(
    head: Mapping[str, Any], key: str, values: Iterable[Any], scheme: str = PLAN, batch: int = 2_000
) -> Iterator[str]:
    """`plan_text` of `head` with `key` set to the list `values`, as pieces whose concatenation is exactly that
    text: the large list is turned to text a batch at a time, so a city's document (hundreds of MB, some 600,000
    visits) is never held whole, as dicts or as text. Top-level keys in the order sort_keys gives them."""
    _check(scheme, "outputs")
    if scheme not in PLAN_SCHEMES:
        raise UnknownScheme(f"{scheme!r} is not a plan document scheme")
    if key in head:
        raise ValueError(f"{key!r} is both in the head and the streamed list")
    names = sorted([*head, key])
    yield "{"
    for n, name in enumerate(names):
        yield ("," if n else "") + _plan_dumps(name) + ":"
        if name != key:
            yield _plan_dumps(head[name])
            continue
        yield "["
        pending: list[str] = []
        first = True
        for value in values:
            pending.append(_plan_dumps(value))
            if len(pending) >= batch:
                yield ("" if first else ",") + ",".join(pending)
                first, pending = False, []
        if pending:
            yield ("" if first else ",") + ",".join(pending)
        yield "]"
    yield "}"


def _plan_dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def plan_hash(document_text: str, scheme: str = PLAN) -> str:
    """A plan's outputs hash: the SHA-256 of its document text (plan/1 and /2; plan/3 hashes its content,
    engine.ledger.plan_columns)."""
    _check(scheme, "outputs")
    if scheme not in PLAN_TEXT_SCHEMES:
        raise UnknownScheme(f"{scheme!r} is not a plan document scheme")
    return hashlib.sha256(document_text.encode("utf-8")).hexdigest()
