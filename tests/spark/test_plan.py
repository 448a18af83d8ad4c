"""`suijian plan --engine spark`: the tickets computed on Spark give the single-machine plan byte for byte (same plan
id, document hash, draws and teams) for 1, 3 and 7 partitions; Spark missing is refused in one line."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pyspark")

from commands.common import chosen_pack, store_connection  # noqa: E402
from engine import plan_commit, planning  # noqa: E402
from engine.plan.policy import parse_period  # noqa: E402
from engine.spark.plan import SparkTicketKeys  # noqa: E402
from entities.errors import InputError  # noqa: E402
from tests.helpers import load_demo_store  # noqa: E402
from tests.helpers import run_cli as run  # noqa: E402

SEED = "38147205519264810375"
AS_OF = "2025-12-31"


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    # Until tests/spark/conftest.py provides the shared session: the executors run this interpreter.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from engine.spark.session import spark_session

    yield spark_session()


@pytest.fixture
def graded(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    load_demo_store(sqlite_url, 1500)
    code, _, err = run("grade", "--as-of", AS_OF, "--db", sqlite_url)
    assert code == 0, err
    return sqlite_url


def document(url: str, **kwargs: Any) -> tuple[str, str, bytes]:
    with chosen_pack(url, None) as pack, store_connection(url) as conn:
        plan, _, _ = plan_commit.compute(
            conn, pack, seed=SEED, period=parse_period("2026"), as_of=dt.date(2025, 12, 31), **kwargs
        )
    doc = planning.plan_document(plan)
    return doc.id, doc.sha256, plan.to_json().encode()


class Counted(SparkTicketKeys):
    """Spark's ticket keys, remembering how many ids each call was given."""

    def __init__(self, spark: Any, partitions: int) -> None:
        super().__init__(spark, partitions)
        self.calls: list[int] = []

    def __call__(self, seed: str, ids: Sequence[str]) -> np.ndarray:
        self.calls.append(len(ids))
        return super().__call__(seed, ids)


def test_the_plan_is_the_single_machine_plan_for_any_partitioning(graded: str, spark: Any) -> None:
    expected = document(graded)
    for partitions in (1, 3, 7):
        counted = Counted(spark, partitions)
        assert document(graded, ticket_keys_of=counted) == expected, partitions
        assert len(counted.calls) == 1 and counted.calls[0] > 1000  # every subject of any cell, hashed on Spark


def test_plan_engine_spark_commits_the_same_plan(graded: str, spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    on_spark = SparkTicketKeys.__call__

    def counted(self: SparkTicketKeys, seed: str, ids: Sequence[str]) -> np.ndarray:
        calls.append(len(ids))
        return on_spark(self, seed, ids)

    monkeypatch.setattr(SparkTicketKeys, "__call__", counted)
    base = ["plan", "--as-of", AS_OF, "--period", "2026Q1", "--seed", SEED, "--json", "--db", graded]
    code, out, err = run(*base, "--engine", "spark", "--spark-partitions", "3")
    assert code == 0, err
    on_spark = json.loads(out)
    assert on_spark["new"] and len(calls) == 1
    code, out, err = run(*base)
    assert code == 0, err
    local = json.loads(out)
    assert len(calls) == 1  # the local plan did not use Spark
    # The same plan id, and not stored again: the single-machine document has the same SHA-256.
    assert local["plan_id"] == on_spark["plan_id"] and not local["new"]
    assert local["items"] == on_spark["items"] and local["visits"] == on_spark["visits"]


def test_spark_missing_is_one_line_and_nothing_read(graded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    code, out, err = run(
        "plan", "--as-of", AS_OF, "--period", "2026", "--seed", SEED, "--engine", "spark", "--db", graded
    )
    assert (code, out, err) == (
        1,
        "",
        "Error: Spark is not installed: pip install 'suijian[spark]' (needs Java 17 or newer)\n",
    )
    code, _, err = run(
        "plan", "--as-of", AS_OF, "--period", "2026", "--seed", SEED, "--spark-partitions", "3", "--db", graded
    )
    assert (code, err.splitlines()[-1]) == (2, "Error: --spark-master and --spark-partitions need --engine spark")


def test_bad_partition_count(spark: Any) -> None:
    with pytest.raises(InputError, match="Spark partitions must be 1 or more, not 0"):
        SparkTicketKeys(spark, 0)


def test_the_planner_reads_the_keys_it_is_given(graded: str) -> None:
    """The injection point is used: keys computed for another seed are caught by the draw's check of its keys."""
    from engine.sampling import ticket_keys

    with pytest.raises(InputError, match="was not computed with this seed"):
        document(graded, ticket_keys_of=lambda seed, ids: ticket_keys(seed + "-other", ids))
