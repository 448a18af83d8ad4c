"""`suijian plan --engine spark`: the subjects' tickets computed on Spark, everything sequential on the driver.

A plan's per-subject work that does not depend on the other subjects is each subject's ticket (one SHA-256 per
subject of any cell). `SparkTicketKeys` is an `engine.sampling.TicketKeys`: the planner hands it the ids in its own
order and gets back exactly what `ticket_keys` returns, computed per partition by that same function
(`engine.spark.draw.with_ticket_keys`). The fit, the draw per cell (which hashes only each cell's few candidates in
full), the teams and the schedule run on the driver with the single-machine code, so the plan, its id and its
document hash are the single-machine plan's for any number of partitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from engine.spark.draw import KEY_COLUMN, with_ticket_keys
from entities.errors import InputError


class SparkTicketKeys:
    """`ticket_keys(seed, ids)` computed on a Spark session, the ids split into `partitions` partitions."""

    def __init__(self, spark: Any, partitions: int | None = None) -> None:
        if partitions is not None and partitions < 1:
            raise InputError(f"Spark partitions must be 1 or more, not {partitions}")
        self.spark = spark
        self.partitions = partitions

    def __call__(self, seed: str, ids: Sequence[str]) -> np.ndarray:
        order = pl.DataFrame({"id": list(ids)}, schema={"id": pl.String})
        if order.height == 0:
            return np.zeros(0, dtype=np.uint64)
        if order["id"].null_count():
            raise InputError("subject ids must be text, not empty (null)")
        if order["id"].n_unique() != order.height:
            raise InputError("subject ids given for tickets must be unique")
        frame = self.spark.createDataFrame(order.to_arrow(), schema="id string")
        count = self.partitions or self.spark.sparkContext.defaultParallelism
        keyed = pl.from_arrow(with_ticket_keys(frame.repartition(count), seed).toArrow())
        assert isinstance(keyed, pl.DataFrame)
        joined = order.join(keyed, on="id", how="left", maintain_order="left")
        if joined.height != order.height or joined[KEY_COLUMN].null_count():
            raise InputError("Spark returned tickets for other subjects than it was given; run the plan again")
        return joined[KEY_COLUMN].cast(pl.UInt64).to_numpy()


def spark_ticket_keys(master: str | None = None, partitions: int | None = None) -> SparkTicketKeys:
    """Ticket keys on the Spark session suijian runs on (engine.spark.session); one line if Spark is missing."""
    from engine.spark.session import spark_session

    return SparkTicketKeys(spark_session(master), partitions)
