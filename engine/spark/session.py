"""The Spark session suijian runs on: local mode by default, a cluster when `spark.master` is given."""

from __future__ import annotations

import os
from typing import Any

from entities.errors import InputError


def spark_session(master: str | None = None, *, partitions: int | None = None, app: str = "suijian") -> Any:
    """A SparkSession for suijian: `master` (else $SUIJIAN_SPARK_MASTER, else spark-submit's, else local[2]).

    Arrow is enabled (partitions cross to Python as Arrow batches), the UI is off, and the session time zone is UTC
    so dates never shift. `partitions` sets the shuffle partition count (the tests vary it).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("Spark is not installed: pip install 'suijian[spark]' (needs Java 17 or newer)") from None
    builder = SparkSession.builder.appName(app)
    chosen = master or os.environ.get("SUIJIAN_SPARK_MASTER")
    if chosen:
        builder = builder.master(chosen)
    elif "SPARK_HOME" not in os.environ or not os.environ.get("PYSPARK_SUBMIT_ARGS"):
        builder = builder.master("local[2]")
    builder = (
        builder.config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "100000")
    )
    if partitions is not None:
        builder = builder.config("spark.sql.shuffle.partitions", str(partitions))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
