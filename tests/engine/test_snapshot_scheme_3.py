"""suijian-snapshot-3: fixed USCC buckets, so the hash does not depend on how a cluster partitioned the rows.

A Spark grade hashes each bucket where its rows are (after a shuffle by bucket) and combines bucket digests on the
driver. The property: any partitioning of the rows, each part cut into buckets, the pieces of a bucket put together
in any order, gives the hash of the whole frame; and any changed fact changes it.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ledger import bucket_files, snapshot
from engine.ledger.canonical import (
    SCHEMES,
    SNAPSHOT2,
    SNAPSHOT3,
    BucketTable,
    bucket_digest,
    combine_buckets,
    content_hash,
    entry_schemes,
    split_buckets,
)
from entities.errors import InputError, SnapshotProblem


@st.composite
def keyed_frames(draw: st.DrawFn) -> pl.DataFrame:
    usccs = draw(
        st.lists(st.text("0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=1, max_size=18), unique=True, max_size=60)
    )
    n = len(usccs)
    return pl.DataFrame(
        {
            "uscc": usccs,
            "count": draw(st.lists(st.none() | st.integers(-(2**40), 2**40), min_size=n, max_size=n)),
            "score": draw(st.lists(st.none() | st.floats(allow_nan=False), min_size=n, max_size=n)),
            "class": draw(st.lists(st.none() | st.sampled_from(["A", "B", "丙", ""]), min_size=n, max_size=n)),
            "flag": draw(st.lists(st.none() | st.booleans(), min_size=n, max_size=n)),
        },
        schema={"uscc": pl.String, "count": pl.Int64, "score": pl.Float64, "class": pl.String, "flag": pl.Boolean},
    )


@settings(max_examples=150, deadline=None)
@given(keyed_frames(), st.data())
def test_any_partitioning_gives_the_hash_of_the_whole(frame: pl.DataFrame, data: st.DataObject) -> None:
    order = data.draw(st.permutations(range(frame.height)))
    shuffled = frame[list(order)] if frame.height else frame
    cuts = sorted(data.draw(st.lists(st.integers(0, frame.height), max_size=6)))
    parts = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, frame.height], strict=True)]
    pieces: dict[int, list[pl.DataFrame]] = {}
    for part in data.draw(st.permutations(parts)):
        for bucket, piece in split_buckets(part):
            pieces.setdefault(bucket, []).append(piece)
    buckets = tuple((b, sum(p.height for p in ps), bucket_digest(b, pl.concat(ps))) for b, ps in sorted(pieces.items()))
    combined = combine_buckets({"features": BucketTable(tuple(frame.columns), buckets)})
    assert combined == content_hash({"features": frame}, SNAPSHOT3)


@settings(max_examples=100, deadline=None)
@given(keyed_frames().filter(lambda f: f.height > 0), st.data())
def test_a_changed_fact_changes_the_hash(frame: pl.DataFrame, data: st.DataObject) -> None:
    row = data.draw(st.integers(0, frame.height - 1))
    counts = frame.get_column("count").to_list()
    counts[row] = (counts[row] or 0) + 1
    changed = frame.with_columns(pl.Series("count", counts, dtype=pl.Int64))
    assert content_hash({"features": changed}, SNAPSHOT3) != content_hash({"features": frame}, SNAPSHOT3)
    assert content_hash({"features": frame.drop("flag")}, SNAPSHOT3) != content_hash({"features": frame}, SNAPSHOT3)
    assert content_hash({"other": frame}, SNAPSHOT3) != content_hash({"features": frame}, SNAPSHOT3)


def test_snapshot_3_is_registered_and_grade_runs_on_one_machine_keep_snapshot_2() -> None:
    assert SCHEMES[SNAPSHOT3].role == "snapshot"
    assert entry_schemes("grade")["snapshot"] == SNAPSHOT2


def test_only_tables_keyed_by_uscc() -> None:
    with pytest.raises(InputError, match="must have a uscc column"):
        content_hash({"t": pl.DataFrame({"a": [1]})}, SNAPSHOT3)
    with pytest.raises(InputError, match="is not a key"):
        content_hash({"t": pl.DataFrame({"uscc": ["X", "X"]})}, SNAPSHOT3)
    with pytest.raises(InputError, match="frames keyed by uscc only"):
        content_hash({"t": [{"uscc": "X"}]}, SNAPSHOT3)


def test_bucket_files_round_trip_and_a_missing_file_is_named(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = pl.DataFrame({"uscc": [f"91440{i:013d}" for i in range(500)], "n": list(range(500))})
    with engine.begin() as conn:
        digest = bucket_files.save_frames(conn, tmp_path / "blobs", {"features": frame})
        assert digest == content_hash({"features": frame}, SNAPSHOT3)
        loaded = snapshot.load(conn, digest, SNAPSHOT3)
        assert loaded["features"].equals(frame)
        # Files moved elsewhere: SUIJIAN_BLOBS says where.
        (tmp_path / "blobs").rename(tmp_path / "moved")
        with pytest.raises(
            SnapshotProblem, match=r"is missing \(table features, bucket \d+\); restore it, or set SUIJIAN_BLOBS"
        ):
            snapshot.check(conn, digest, SNAPSHOT3)
        monkeypatch.setenv("SUIJIAN_BLOBS", str(tmp_path / "moved"))
        snapshot.check(conn, digest, SNAPSHOT3)
        # The manifest edited in the store: its digests no longer combine to the hash.
        conn.execute(sa.text("UPDATE blob SET data = :d WHERE hash = :h"), {"d": b"{}", "h": digest})
        with pytest.raises(SnapshotProblem, match="manifest is unreadable"):
            snapshot.check(conn, digest, SNAPSHOT3)
