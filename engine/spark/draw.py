"""The draw on Spark: each subject's ticket by the same function, strata quotas from global counts, the exact
smallest tickets per stratum — the same `Draw` as `engine.sampling.draw_frame` gives on one machine.

    draw_spark(frame, quotas, seed)                      frame: a Spark DataFrame with text columns id, stratum
    draw_spark(frame, ratio_quotas({"A": "3%"}), seed)   quotas from each stratum's global count (sampling.quota)

Three steps, none of which depends on how the rows are partitioned:
1. the global count per stratum (a group-by); the quotas follow from them before any ticket is read;
2. per partition, `mapInArrow` computes every row's ticket key with `engine.sampling.ticket_keys` and keeps, per
   stratum, the rows whose key is at or below the partition's (quota + 1)-th smallest key — ties included, since
   equal keys are ordered by the full ticket, which is computed only on the driver;
3. on the driver, `draw_frame` over the union of those candidates. The whole population's quota + 1 smallest
   tickets of a stratum are among them (each is among its own partition's quota + 1 smallest), so `draw_frame`
   picks the same drawn tickets and next in line; the stratum's population is the global count of step 1.

Only the candidates cross to the driver: per stratum at most (quota + 1) × partitions rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import polars as pl
import pyarrow as pa

from engine.sampling import Draw, draw_frame, quota, ticket_keys, valid_quotas, valid_seed
from entities.errors import InputError

Quotas = Mapping[str, int] | Callable[[str, int], int]
"""Either a quota per stratum, or a function of (stratum, global count) giving it."""

KEY_COLUMN = "_ticket_key"
_CANDIDATES = pa.schema([("id", pa.string()), ("stratum", pa.string()), (KEY_COLUMN, pa.int64())])
_SPARK_CANDIDATES = f"id string, stratum string, {KEY_COLUMN} long"


def _show(value: object) -> str:
    """A value as an error message quotes it: its repr, cut at 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def ratio_quotas(
    ratios: Mapping[str, object], minimum: int = 0, maximum: int | None = None
) -> Callable[[str, int], int]:
    """Quotas from a ratio per stratum and its global count, by the one rounding rule (`engine.sampling.quota`)."""

    def of(stratum: str, size: int) -> int:
        if stratum not in ratios:
            raise InputError(f"stratum {_show(stratum)} has subjects but no ratio")
        return quota(ratios[stratum], size, minimum, maximum)

    return of


def stratum_counts(frame: Any, stratum_column: str = "stratum") -> dict[str, int]:
    """The number of rows per stratum over the whole DataFrame (every partition)."""
    return {row[0]: int(row[1]) for row in frame.groupBy(stratum_column).count().collect()}


def with_ticket_keys(frame: Any, seed: str, *, id_column: str = "id", keep: tuple[str, ...] = ()) -> Any:
    """The DataFrame's ids (and the `keep` columns) with each id's ticket key, computed per partition by
    `engine.sampling.ticket_keys` (the single-machine function). Keys are below 10^18, so a signed long holds them."""
    valid_seed(seed)
    columns = (id_column, *keep)
    schema = ", ".join([f"`{c}` string" for c in columns] + [f"`{KEY_COLUMN}` long"])

    def keyed(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            ids = batch.column(id_column).to_pylist()
            keys = pa.array(ticket_keys(seed, ids).astype("int64"), type=pa.int64())
            yield pa.RecordBatch.from_arrays([batch.column(c) for c in columns] + [keys], names=[*columns, KEY_COLUMN])

    return frame.select(*columns).mapInArrow(keyed, schema)


def _smallest(rows: pl.DataFrame, keep: pl.DataFrame) -> pl.DataFrame:
    """Per stratum, the rows whose key is at or below the stratum's `keep`-th smallest key (ties kept)."""
    bounds = (
        rows.join(keep, on="stratum")
        .group_by("stratum")
        .agg(pl.col(KEY_COLUMN).bottom_k(pl.col("keep").first()).max().alias("_bound"))
    )
    return rows.join(bounds, on="stratum").filter(pl.col(KEY_COLUMN) <= pl.col("_bound")).drop("_bound")


def _partition_candidates(seed: str, keep_by_stratum: dict[str, int]) -> Callable[..., Iterator[pa.RecordBatch]]:
    keep = pl.DataFrame(
        {"stratum": list(keep_by_stratum), "keep": list(keep_by_stratum.values())},
        schema={"stratum": pl.String, "keep": pl.UInt64},
    )

    def candidates(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        # The running candidates are folded with each batch, so a partition's memory is its candidates plus one batch.
        best: pl.DataFrame | None = None
        for batch in batches:
            ids = batch.column("id").to_pylist()
            rows = pl.DataFrame(
                {
                    "id": ids,
                    "stratum": batch.column("stratum").to_pylist(),
                    KEY_COLUMN: pl.Series(ticket_keys(seed, ids), dtype=pl.UInt64),
                },
                schema={"id": pl.String, "stratum": pl.String, KEY_COLUMN: pl.UInt64},
            )
            best = _smallest(rows if best is None else pl.concat([best, rows]), keep)
        if best is not None and best.height:
            out = best.with_columns(pl.col(KEY_COLUMN).cast(pl.Int64)).to_arrow().cast(_CANDIDATES)
            yield from out.to_batches()

    return candidates


def _check_population(frame: Any, id_column: str, stratum_column: str, check_unique: bool) -> Any:
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    types = dict((f.name, f.dataType) for f in frame.schema.fields)
    for column in (id_column, stratum_column):
        if column not in types:
            raise InputError(f"the population has no column {column!r} (columns: {', '.join(types)})")
        if not isinstance(types[column], StringType):
            raise InputError(f"population column {column!r} must be text, not {types[column].simpleString()}")
    rows = frame.select(F.col(id_column).alias("id"), F.col(stratum_column).alias("stratum"))
    for column in ("id", "stratum"):
        if rows.filter(F.col(column).isNull()).limit(1).count():
            name = id_column if column == "id" else stratum_column
            raise InputError(f"population column {name!r} has empty (null) values")
    if check_unique:
        repeated = rows.groupBy("id").count().filter(F.col("count") > 1).limit(1).collect()
        if repeated:
            raise InputError(f"subject {_show(repeated[0][0])} occurs more than once in the population")
    return rows


def draw_spark(
    frame: Any,
    quotas: Quotas,
    seed: str,
    *,
    id_column: str = "id",
    stratum_column: str = "stratum",
    check_unique: bool = True,
) -> Draw:
    """The draw of `engine.sampling.draw_frame` over a Spark DataFrame of (id, stratum): the same `Draw`, equal
    to the single-machine one whatever the partitioning. `quotas` is a quota per stratum, or a function of
    (stratum, global count) such as `ratio_quotas(...)`; every stratum with rows must get one. A caller whose ids
    are store keys may pass check_unique=False to save the group-by over every id."""
    valid_seed(seed)
    rows = _check_population(frame, id_column, stratum_column, check_unique)
    counts = stratum_counts(rows)
    if callable(quotas):
        fixed = {s: quotas(s, n) for s, n in sorted(counts.items())}
    else:
        fixed = valid_quotas(quotas)
        missing = sorted(set(counts) - set(fixed))
        if missing:
            raise InputError(f"stratum {_show(missing[0])} has subjects but no quota")
    fixed = valid_quotas(fixed)
    keep = {s: q + 1 for s, q in fixed.items() if counts.get(s, 0)}
    if keep:
        table = rows.mapInArrow(_partition_candidates(seed, keep), _SPARK_CANDIDATES).toArrow()
        candidates = pl.from_arrow(table)
        assert isinstance(candidates, pl.DataFrame)
        candidates = candidates.with_columns(pl.col(KEY_COLUMN).cast(pl.UInt64))
    else:
        candidates = pl.DataFrame(schema={"id": pl.String, "stratum": pl.String, KEY_COLUMN: pl.UInt64})
    # Candidates from different partitions are different rows; with check_unique the ids were checked above.
    merged = draw_frame(candidates, fixed, seed, key_column=KEY_COLUMN, check_unique=False)
    strata = tuple(replace(s, population=counts.get(s.stratum, 0)) for s in merged.strata)
    return Draw(seed=seed, strata=strata, scheme=merged.scheme)
