"""One Spark session (local mode) for every test in this folder: starting a JVM costs seconds, a session per test
would cost minutes. Without pyspark or Java the tests are skipped on a developer's machine and fail in CI (CI=true),
where the `spark` extra is installed and Java 17 is there.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest


def _missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install -e '.[spark]')"
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and os.path.isfile(os.path.join(java_home, "bin", "java"))):
        return "no Java (Spark needs Java 17 or newer)"
    return None


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local[2] SparkSession shared by the whole folder (engine.spark.session, 4 shuffle partitions)."""
    missing = _missing()
    if missing:
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(f"Spark tests must run in CI: {missing}")
        pytest.skip(missing)
    from engine.spark.session import spark_session

    session = spark_session("local[2]", partitions=4, app="suijian-tests")
    try:
        yield session
    finally:
        session.stop()
