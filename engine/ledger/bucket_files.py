"""snapshot-3 snapshots stored as content-addressed Parquet files in a folder, for data too big for a database value.

A snapshot-3 table is cut into fixed USCC buckets (canonical.bucket_of); each bucket is one Parquet file named by its
canonical digest, `FOLDER/objects/<digest>.parquet`, written by whoever hashed it (a Spark executor or this
process). The store keeps only the manifest — per table its columns and (bucket, rows, digest) in bucket order, and
the folder — as the blob of the snapshot hash, so the ledger entry references the files by hash. The folder is a
location hint: `$SUIJIAN_BLOBS` overrides it when the files have moved (another mount, another machine).

Reading checks everything: each file must hold only rows of its bucket and hash to its digest, and the manifest's
digests must combine to the snapshot hash, so a file or a manifest altered after the run is found.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from engine.ledger import blobs
from engine.ledger.canonical import (
    SNAPSHOT3,
    BucketTable,
    bucket_digest,
    bucket_of,
    bucket_table,
    combine_buckets,
    split_buckets,
)
from entities.errors import InputError, SnapshotProblem

ENV = "SUIJIAN_BLOBS"


def object_path(folder: Path | str, digest: str) -> Path:
    return Path(folder) / "objects" / f"{digest}.parquet"


def write_bucket(folder: Path | str, bucket: int, frame: pl.DataFrame) -> tuple[int, int, str]:
    """Hash one bucket's rows and store them as objects/<digest>.parquet (once); (bucket, rows, digest)."""
    digest = bucket_digest(bucket, frame)
    path = object_path(folder, digest)
    if not path.is_file():  # content-addressed: the same rows are already there
        path.parent.mkdir(parents=True, exist_ok=True)
        # A unique temporary name, then rename: two executors writing the same bucket never see half a file.
        tmp = path.with_name(f".{digest}.{uuid.uuid4().hex}.tmp")
        frame.sort("uscc").write_parquet(tmp, compression="zstd")
        os.replace(tmp, path)
    return bucket, frame.height, digest


def write_frame(folder: Path | str, frame: pl.DataFrame) -> BucketTable:
    """A whole frame's buckets written to the folder (the single-machine way)."""
    return BucketTable(tuple(frame.columns), tuple(write_bucket(folder, b, part) for b, part in split_buckets(frame)))


def save(conn: Connection, folder: Path | str, tables: Mapping[str, BucketTable]) -> str:
    """Record a snapshot whose buckets are in `folder`: its manifest kept in the store (and in the folder) under its
    snapshot-3 hash, which is returned."""
    digest = combine_buckets(tables)
    manifest = {
        "scheme": SNAPSHOT3,
        "folder": str(Path(folder).resolve()),
        "tables": {
            name: {"columns": list(t.columns), "buckets": [list(b) for b in t.buckets]}
            for name, t in sorted(tables.items())
        },
    }
    data = json.dumps(manifest, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    target = Path(folder) / "snapshots" / f"{digest}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    blobs.put(conn, "snapshot", digest, data)
    return digest


def save_frames(conn: Connection, folder: Path | str, frames: Mapping[str, pl.DataFrame]) -> str:
    """Write whole frames as a snapshot-3 snapshot in `folder`; its hash."""
    return save(conn, folder, {name: write_frame(folder, frame) for name, frame in frames.items()})


def _manifest(conn: Connection, digest: str) -> tuple[Path, dict[str, BucketTable]]:
    data = blobs.get(conn, digest)
    if data is None:
        raise SnapshotProblem(f"snapshot {digest[:12]} is missing from the store")
    try:
        manifest: Any = json.loads(data.decode("utf-8"))
        tables = {
            str(name): BucketTable(
                tuple(str(c) for c in t["columns"]),
                tuple((int(b), int(rows), str(d)) for b, rows, d in t["buckets"]),
            )
            for name, t in manifest["tables"].items()
        }
        folder = Path(os.environ.get(ENV) or manifest["folder"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SnapshotProblem(f"snapshot {digest[:12]}'s manifest is unreadable ({exc})") from None
    try:
        found = combine_buckets(tables)
    except InputError as exc:
        raise SnapshotProblem(f"snapshot {digest[:12]}'s manifest is unreadable ({exc})") from None
    if found != digest:
        raise SnapshotProblem(f"snapshot {digest[:12]} has been altered: its manifest hashes to {found[:12]}")
    return folder, tables


def _buckets(conn: Connection, digest: str) -> Iterator[tuple[str, BucketTable, pl.DataFrame]]:
    """Every bucket file of the snapshot, checked: (table, its manifest entry, the bucket's rows)."""
    folder, tables = _manifest(conn, digest)
    for name, table in sorted(tables.items()):
        for bucket, rows, expected in table.buckets:
            path = object_path(folder, expected)
            if not path.is_file():
                raise SnapshotProblem(
                    f"snapshot {digest[:12]}: {path} is missing (table {name}, bucket {bucket}); "
                    f"restore it, or set {ENV} to the folder that holds objects/"
                )
            try:
                frame = pl.read_parquet(path)
            except (pl.exceptions.PolarsError, OSError) as exc:
                raise SnapshotProblem(f"snapshot {digest[:12]}: {path} is unreadable ({exc})") from None
            if tuple(frame.columns) != table.columns or frame.height != rows:
                raise SnapshotProblem(f"snapshot {digest[:12]}: {path} has been altered (columns or rows)")
            try:
                wrong = frame.height and bool((bucket_of(frame.get_column("uscc")) != bucket).any())
                found = bucket_digest(bucket, frame)
            except (InputError, pl.exceptions.PolarsError) as exc:
                raise SnapshotProblem(f"snapshot {digest[:12]}: {path} is unreadable ({exc})") from None
            if wrong or found != expected:
                raise SnapshotProblem(f"snapshot {digest[:12]}: {path} has been altered: it hashes to {found[:12]}")
            yield name, table, frame


def load(conn: Connection, digest: str) -> dict[str, pl.DataFrame]:
    """The snapshot's tables, every bucket checked, rows in USCC order."""
    parts: dict[str, list[pl.DataFrame]] = {}
    empty: dict[str, tuple[str, ...]] = {}
    for name, _table, frame in _buckets(conn, digest):
        parts.setdefault(name, []).append(frame)
    _, tables = _manifest(conn, digest)
    for name, table in tables.items():
        if not table.buckets:
            empty[name] = table.columns
    out = {name: pl.concat(frames, how="vertical").sort("uscc") for name, frames in parts.items()}
    out.update({name: pl.DataFrame({c: [] for c in columns}) for name, columns in empty.items()})
    return out


def check(conn: Connection, digest: str) -> None:
    """`load`'s checks, a bucket at a time (a national snapshot is never held whole)."""
    for _ in _buckets(conn, digest):
        pass


__all__ = ["ENV", "bucket_table", "check", "load", "object_path", "save", "save_frames", "write_bucket"]
