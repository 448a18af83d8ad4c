"""Feature partitions computed in worker processes come back in USCC order with at most `workers + 1` of them in
flight: finished frames do not pile up in the grading process while it grades and stores the earlier ones."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
from concurrent.futures import Future
from typing import Any

import polars as pl
import pytest

from engine.features import compute


class _InlinePool:
    """A pool that runs each task when it is submitted and counts the frames handed out but not yet consumed."""

    submitted = 0

    def __init__(self, max_workers: int, mp_context: Any = None) -> None:
        self.max_workers = max_workers

    def __enter__(self) -> _InlinePool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Any, args: tuple[str, str, str, dt.date, bool, str]) -> Future[pl.DataFrame]:
        type(self).submitted += 1
        future: Future[pl.DataFrame] = Future()
        future.set_result(pl.DataFrame({"uscc": [args[1], args[2]]}))
        return future


def test_at_most_workers_plus_one_partitions_are_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", _InlinePool)
    _InlinePool.submitted = 0
    ranges = [(f"{i:04d}a", f"{i:04d}z") for i in range(20)]
    frames = compute._parallel("sqlite:///unused.db", dt.date(2025, 12, 31), True, "frames", ranges, workers=2)
    seen = []
    for frame in frames:
        seen.append(frame.get_column("uscc")[0])
        assert _InlinePool.submitted - len(seen) <= 3, "more than workers + 1 partitions were waiting to be consumed"
    assert seen == [lo for lo, _ in ranges]  # every partition, in order
    assert _InlinePool.submitted == len(ranges)
