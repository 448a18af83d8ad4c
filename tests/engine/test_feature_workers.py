"""Feature partitions computed in worker processes come back in USCC order with at most `workers + 1` of them in
flight: finished frames do not pile up in the grading process while it grades and stores the earlier ones. They
come back through Arrow IPC files, not pickled down the pool's pipe, and the files are gone afterwards."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import os
from concurrent.futures import Future
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

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

    def submit(
        self, fn: Any, args: tuple[str, str, str, dt.date, bool, str, bool], target: str, *rest: Any
    ) -> Future[str]:
        type(self).submitted += 1
        type(self).targets.append(target)
        future: Future[str] = Future()
        future.set_result(fn(args, target, *rest))  # the worker's function, run here
        return future

    targets: list[str] = []


def _frame(args: tuple[str, str, str, dt.date, bool, str, bool]) -> pl.DataFrame:
    # Every kind of column a feature frame has, a null in each.
    lo, hi = args[1], args[2]
    return pl.DataFrame(
        {
            "uscc": [lo, hi],
            "days": [3, None],
            "late": [None, True],
            "score": [1.5, None],
            "since": [dt.date(2025, 1, 2), None],
            "region": ["440103", None],
        }
    )


def test_at_most_workers_plus_one_partitions_are_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", _InlinePool)
    monkeypatch.setattr(compute, "_partition_in_worker", _frame)
    _InlinePool.submitted, _InlinePool.targets = 0, []
    ranges = [(f"{i:04d}a", f"{i:04d}z") for i in range(20)]
    frames = compute._parallel("sqlite:///unused.db", dt.date(2025, 12, 31), True, "frames", ranges, workers=2)
    seen = []
    for frame in frames:
        seen.append(frame.get_column("uscc")[0])
        assert _InlinePool.submitted - len(seen) <= 3, "more than workers + 1 partitions were waiting to be consumed"
    assert seen == [lo for lo, _ in ranges]  # every partition, in order
    assert _InlinePool.submitted == len(ranges)


def test_partitions_come_back_whole_through_files_that_are_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", _InlinePool)
    monkeypatch.setattr(compute, "_partition_in_worker", _frame)
    _InlinePool.submitted, _InlinePool.targets = 0, []
    ranges = [(f"{i:04d}a", f"{i:04d}z") for i in range(5)]
    frames = compute._parallel("sqlite:///unused.db", dt.date(2025, 12, 31), True, "frames", ranges, workers=2)
    for (lo, hi), frame in zip(ranges, frames, strict=True):
        assert_frame_equal(frame, _frame(("", lo, hi, dt.date(2025, 12, 31), True, "frames", True)))
        assert not os.path.exists(_InlinePool.targets[ranges.index((lo, hi))]), "a read partition's file was kept"
    folder = os.path.dirname(_InlinePool.targets[0])
    assert all(os.path.dirname(t) == folder for t in _InlinePool.targets)
    assert not os.path.exists(folder), "the partitions' temporary folder outlived the run"


@pytest.mark.parametrize("before", [None, "dirty_decay_ms:500,muzzy_decay_ms:1000"])
def test_workers_are_started_keeping_their_freed_pages(monkeypatch: pytest.MonkeyPatch, before: str | None) -> None:
    # polars' own setting (given back within 0.5 s) comes first in what workers inherit, so the workers' must come
    # after it to win; the grading process's environment is as it was afterwards.
    if before is None:
        monkeypatch.delenv("_RJEM_MALLOC_CONF", raising=False)
    else:
        monkeypatch.setenv("_RJEM_MALLOC_CONF", before)
    with compute._worker_environment():
        inherited = os.environ["_RJEM_MALLOC_CONF"]
    assert inherited.endswith("," + compute.WORKER_JEMALLOC) or inherited == compute.WORKER_JEMALLOC
    assert inherited.startswith(before or compute.WORKER_JEMALLOC)
    assert os.environ.get("_RJEM_MALLOC_CONF") == before
