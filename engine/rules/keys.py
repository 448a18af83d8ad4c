"""The rule-relevant key of a subject: which cell each feature the pack reads falls in.

Two subjects with the same key get the same Result from every decision (each test of the pack is constant on
a cell), so batch grading evaluates one representative per key. `relevant_key` keys one record;
`relevant_keys` keys a whole polars frame at once (same cells, vectorised) for partition-wise grading.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from engine.features.result_facts import VOCABULARY
from engine.rules.cells import KeySpec, key_of, key_spec
from engine.rules.model import Pack
from engine.rules.records import normalise
from entities.errors import RecordError

if TYPE_CHECKING:
    import polars as pl

__all__ = ["KeySpec", "key_spec", "relevant_key", "relevant_keys"]


def relevant_key(pack: Pack, record: Mapping[str, Any]) -> tuple[int, ...]:
    """The class of each feature of `record` (order of `pack.features`): records with equal keys get equal
    Results from every decision. RecordError if a value does not fit the catalogue."""
    return key_of(key_spec(pack), normalise(pack, record))


def relevant_keys(pack: Pack, frame: pl.DataFrame) -> pl.DataFrame:
    """One Int32 column per feature the pack reads (named after it): the same classes `relevant_key` gives,
    for every row of `frame`. Nulls are missing. RecordError when a column has the wrong type or an unknown label."""
    # Imported here: the CLI loads this module for every command, and most never key a frame.
    import numpy as np
    import polars as pl

    spec = key_spec(pack)
    columns = []
    for name, axis, classes in zip(spec.features, spec.axes, spec.classes, strict=True):
        feature = VOCABULARY[name]
        if name not in frame.columns:
            columns.append(pl.Series(name, np.full(frame.height, classes[0], dtype=np.int32)))
            continue
        series = frame.get_column(name)
        if series.dtype == pl.Null:
            columns.append(pl.Series(name, np.full(frame.height, classes[0], dtype=np.int32)))
            continue
        null = series.is_null().to_numpy()
        if feature.type in ("int", "float"):
            if not series.dtype.is_numeric() or (feature.type == "int" and not series.dtype.is_integer()):
                raise RecordError(
                    name,
                    str(series.dtype),
                    f"expected a column of {'whole numbers' if feature.type == 'int' else 'numbers'}",
                )
            if feature.type == "float":
                values = series.cast(pl.Float64).fill_null(0.0).to_numpy()
                if not np.isfinite(values).all():
                    raise RecordError(name, "NaN or inf", "expected finite numbers (null for missing)")
                points = np.asarray(axis.points, dtype=np.float64)
            else:
                values = series.cast(pl.Int64).fill_null(0).to_numpy()
                points = np.asarray(axis.points, dtype=np.int64)
            i = np.searchsorted(points, values, side="left")
            exact = np.zeros(len(values), dtype=bool)
            inside = i < len(points)
            exact[inside] = points[i[inside]] == values[inside]
            cells = np.where(exact, 2 * i + 2, 2 * i + 1)
        elif feature.type == "bool":
            if series.dtype != pl.Boolean:
                raise RecordError(name, str(series.dtype), "expected a column of true/false")
            flags = series.fill_null(False).to_numpy()
            cells = np.where(flags, axis.cell(True), axis.cell(False))
        else:
            if series.dtype not in (pl.String, pl.Categorical) and not isinstance(series.dtype, pl.Enum):
                raise RecordError(name, str(series.dtype), "expected a column of labels")
            labels = series.cast(pl.String)
            unknown = (
                labels.drop_nulls().filter(~labels.drop_nulls().is_in(list(feature.values))) if feature.values else None
            )
            if unknown is not None and unknown.len():
                raise RecordError(name, unknown[0], f"expected one of {', '.join(feature.values)}")
            mapping = {str(v): axis.cell(v) for v in (feature.values or axis.points)}
            cells = labels.replace_strict(mapping, default=axis.other, return_dtype=pl.Int64).fill_null(0).to_numpy()
        cells = np.where(null, 0, cells)
        columns.append(pl.Series(name, np.asarray(classes, dtype=np.int32)[cells]))
    return pl.DataFrame(columns)
