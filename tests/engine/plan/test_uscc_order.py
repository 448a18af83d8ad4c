"""The preamble's USCC order: a frame given in that order is kept as it is (not copied by a sort), and the plan is
the one of the frame sorted, however the order was known (a sorted flag, or none after a Parquet read)."""

from __future__ import annotations

import io

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.plan.make import _by_uscc
from tests.engine.plan import world
from tests.engine.plan.world import plan

FAST = settings(max_examples=40, deadline=None)


def _unflagged(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame read back from Parquet, as a snapshot's is: the same rows, no sorted flag."""
    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd", statistics=False)
    return pl.read_parquet(io.BytesIO(buf.getvalue()))


@FAST
@given(
    usccs=st.lists(st.text("0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=0, max_size=18), unique=True, max_size=60),
    order=st.sampled_from(["given", "sorted", "sorted, read back", "reversed"]),
)
def test_by_uscc_is_the_sort(usccs: list[str], order: str) -> None:
    frame = pl.DataFrame({"uscc": usccs, "row": list(range(len(usccs)))}, schema={"uscc": pl.String, "row": pl.Int64})
    if order == "sorted":
        frame = frame.sort("uscc")
    elif order == "sorted, read back":
        frame = _unflagged(frame.sort("uscc"))
    elif order == "reversed":
        frame = frame.sort("uscc", descending=True)
    assert _by_uscc(frame).equals(frame.sort("uscc"))


def test_a_sorted_frame_is_not_copied() -> None:
    frame = _unflagged(world.subjects(50).sort("uscc"))
    assert not frame.get_column("uscc").flags["SORTED_ASC"]
    assert _by_uscc(frame) is frame


@settings(max_examples=10, deadline=None)
@given(n=st.integers(30, 150), seed=st.integers(0, 30))
def test_same_plan_whether_sorted_flagged_or_read_back(n: int, seed: int) -> None:
    frame = world.subjects(n, seed=seed)
    expected = plan(frame).to_json()
    assert plan(frame.sort("uscc")).to_json() == expected
    assert plan(_unflagged(frame.sort("uscc"))).to_json() == expected
    assert plan(_unflagged(frame.sort("uscc")), fitted=True).to_json() == plan(frame, fitted=True).to_json()
