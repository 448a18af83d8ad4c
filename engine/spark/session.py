"""The Spark session suijian runs on: local mode by default, a cluster when `spark.master` is given."""

from __future__ import annotations

import os
import sys
from pathlib import Path
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
    if not chosen and ("SPARK_HOME" not in os.environ or not os.environ.get("PYSPARK_SUBMIT_ARGS")):
        chosen = "local[2]"
    if chosen:
        builder = builder.master(chosen)
    if chosen and chosen.startswith("local"):
        # Local mode: the Python workers are this interpreter (else whichever `python3` is first on PATH, which
        # need not have suijian installed), the JVM binds the loopback address and logs errors only.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        quiet = Path(__file__).with_name("log4j2.properties")
        builder = builder.config("spark.driver.extraJavaOptions", f"-Dlog4j.configurationFile={quiet.as_uri()}")
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
