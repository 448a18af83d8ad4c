"""The draw on Spark equals the single-machine draw (`draw_frame`) for any partitioning, seed and stratum sizes."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("pyspark")

import engine.spark.draw as spark_draw  # noqa: E402
from engine.sampling import draw_frame, quota, ticket_numbers  # noqa: E402
from engine.spark.draw import KEY_COLUMN, draw_spark, ratio_quotas  # noqa: E402
from entities.errors import InputError  # noqa: E402

SEED = "01382438112797316654"
PARTITIONS = (1, 3, 7)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    # Until tests/spark/conftest.py provides the shared session: the executors run this interpreter.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from engine.spark.session import spark_session

    yield spark_session()


def frame_of(spark: Any, rows: pl.DataFrame, partitions: int) -> Any:
    return spark.createDataFrame(rows.to_arrow(), schema="id string, stratum string").repartition(partitions)


uscc = st.from_regex(r"91[0-9]{6}[0-9A-Z]{10}", fullmatch=True)


@st.composite
def populations(draw: st.DrawFn) -> tuple[pl.DataFrame, dict[str, int]]:
    """Strata of size 0, 1, k and k + 1 around each quota k, plus one of any size, with any ids (some non-ASCII)."""
    quotas = {name: draw(st.integers(0, 6)) for name in ("empty", "one", "k", "k+1", "any")}
    sizes = {"empty": 0, "one": 1, "k": quotas["k"], "k+1": quotas["k+1"] + 1, "any": draw(st.integers(0, 40))}
    total = sum(sizes.values())
    ids = draw(st.lists(st.one_of(uscc, st.text(min_size=1, max_size=12)), min_size=total, max_size=total, unique=True))
    strata = [name for name, n in sizes.items() for _ in range(n)]
    return pl.DataFrame({"id": ids, "stratum": strata}, schema={"id": pl.String, "stratum": pl.String}), quotas


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(population=populations(), seed=st.text(min_size=1, max_size=30))
def test_equal_to_the_single_machine_draw(
    spark: Any, population: tuple[pl.DataFrame, dict[str, int]], seed: str
) -> None:
    rows, quotas = population
    expected = draw_frame(rows, quotas, seed)
    for partitions in PARTITIONS:
        assert draw_spark(frame_of(spark, rows, partitions), quotas, seed) == expected, partitions


def test_quotas_from_global_counts(spark: Any) -> None:
    """A ratio's quota is taken from the stratum's count over every partition, not per partition."""
    ids = [f"9144{i:014d}" for i in range(3000)]
    rows = pl.DataFrame({"id": ids, "stratum": ["A" if i % 3 else "B" for i in range(3000)]})
    ratios = {"A": "3%", "B": "0.5%"}
    expected = draw_frame(rows, {"A": quota("3%", 2000), "B": quota("0.5%", 1000)}, SEED)
    got = draw_spark(frame_of(spark, rows, 7), ratio_quotas(ratios), SEED)
    assert got == expected
    assert [(s.population, s.quota) for s in got.strata] == [(2000, 60), (1000, 5)]


def test_a_partition_keeps_every_tied_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """With coarse keys (many ties), a partition's candidates still hold the quota + 1 smallest full tickets."""
    real = spark_draw.ticket_keys
    monkeypatch.setattr(spark_draw, "ticket_keys", lambda seed, ids: real(seed, ids) // 10**16)
    ids = [f"id{i}" for i in range(500)]
    batches = [pa.RecordBatch.from_pydict({"id": ids[i : i + 100], "stratum": ["S"] * 100}) for i in range(0, 500, 100)]
    out = pa.Table.from_batches(list(spark_draw._partition_candidates(SEED, {"S": 4})(iter(batches))))
    kept = set(out.column("id").to_pylist())
    assert len(kept) > 4  # the ties were kept, not cut at four
    smallest = sorted(zip(ticket_numbers(SEED, ids), ids, strict=True))[:4]
    assert {i for _, i in smallest} <= kept
    assert out.schema.field(KEY_COLUMN).type == pa.int64()


def test_bad_population_is_one_line(spark: Any) -> None:
    rows = pl.DataFrame({"id": ["a", "a", "b"], "stratum": ["S", "S", "T"]})
    with pytest.raises(InputError, match="subject 'a' occurs more than once"):
        draw_spark(frame_of(spark, rows, 3), {"S": 1, "T": 1}, SEED)
    with pytest.raises(InputError, match="stratum 'T' has subjects but no quota"):
        draw_spark(frame_of(spark, rows.unique("id"), 3), {"S": 1}, SEED)
    with pytest.raises(InputError, match="stratum 'T' has subjects but no ratio"):
        draw_spark(frame_of(spark, rows.unique("id"), 3), ratio_quotas({"S": "3%"}), SEED)
    nulls = spark.createDataFrame([("a", None)], schema="id string, stratum string")
    with pytest.raises(InputError, match="population column 'stratum' has empty"):
        draw_spark(nulls, {"S": 1}, SEED)
    with pytest.raises(InputError, match="has no column 'uscc'"):
        draw_spark(nulls, {"S": 1}, SEED, id_column="uscc")
    with pytest.raises(InputError, match="seed is empty"):
        draw_spark(nulls, {"S": 1}, "")
