"""Input snapshots: the rule-relevant inputs a run actually used, kept so the run can be recomputed later."""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from engine.ledger import blobs, bucket_files
from engine.ledger.canonical import (
    SNAPSHOT,
    SNAPSHOT3,
    ParquetFrame,
    StreamedFrame,
    Table,
    content_hash,
    pack_tables,
    unpack_tables,
)
from entities.errors import InputError, SnapshotProblem


@dataclass(frozen=True)
class Packed:
    """A snapshot hashed under `scheme` and packed (engine.ledger.canonical.pack_tables), not yet stored."""

    scheme: str
    digest: str
    data: bytes


def pack(tables: Mapping[str, Table | StreamedFrame], scheme: str = SNAPSHOT) -> Packed:
    """The snapshot's hash and container bytes, without the store: a caller may make them on a thread while it
    does other work (a plan's commit hashes its inputs while its document is written)."""
    if scheme == SNAPSHOT3:
        raise ValueError("a snapshot-3 snapshot is stored as Parquet files: engine.ledger.bucket_files.save")
    return Packed(scheme, content_hash(tables, scheme), pack_tables(tables))


def save(
    conn: Connection,
    tables: Mapping[str, Table | StreamedFrame],
    scheme: str = SNAPSHOT,
    packed: Packed | None = None,
) -> str:
    """Store the snapshot (once per content) and return its content hash under `scheme` (the one the entry
    naming it records); `packed` is `pack(tables, scheme)` when the caller made it already."""
    if packed is None or packed.scheme != scheme:
        packed = pack(tables, scheme)
    blobs.put(conn, "snapshot", packed.digest, packed.data)
    return packed.digest


def load(conn: Connection, digest: str, scheme: str = SNAPSHOT) -> dict[str, Table]:
    """The snapshot stored under `digest`, checked against it (hashed by `scheme`)."""
    if scheme == SNAPSHOT3:  # Parquet files outside the store, the manifest in it
        return dict(bucket_files.load(conn, digest))
    data = blobs.get(conn, digest)
    if data is None:
        raise SnapshotProblem(f"snapshot {digest[:12]} is missing from the store")
    try:
        tables = unpack_tables(data)
    except ValueError as exc:
        raise SnapshotProblem(f"snapshot {digest[:12]} is unreadable ({exc})") from None
    try:
        found = content_hash(tables, scheme)
    except (InputError, TypeError, ValueError) as exc:  # a crafted container: readable, but not a snapshot
        raise SnapshotProblem(f"snapshot {digest[:12]} is unreadable ({exc})") from None
    if found != digest:
        raise SnapshotProblem(f"snapshot {digest[:12]} has been altered: its content hashes to {found[:12]}")
    return tables


class _Members(Mapping[str, Table | ParquetFrame]):
    """The tables of a stored snapshot, each read from the container when it is asked for and not kept: hashing
    them in name order (canonical.content_hash) then holds one table at a time, and of a frame one column at a
    time (canonical.ParquetFrame), not the whole snapshot (a city's plan snapshot is millions of rows). The same
    members as canonical.unpack_tables; a damaged one is unreadable as there."""

    def __init__(self, data: bytes) -> None:
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ValueError(str(exc)) from None
        self._members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            folder, _, file = info.filename.partition("/")
            if folder == "frames" and file.endswith(".parquet"):
                self._members[file[: -len(".parquet")]] = info
            elif folder == "records" and file.endswith(".json"):
                self._members[file[: -len(".json")]] = info
            else:
                raise ValueError(f"unexpected member {info.filename}")

    def __getitem__(self, name: str) -> Table | ParquetFrame:
        info = self._members[name]
        try:
            raw = self._zip.read(info)
            if info.filename.startswith("frames/"):
                return ParquetFrame(raw)  # read a column at a time as it is hashed
            return unpack_tables(_single(info.filename, raw))[name]
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise ValueError(str(exc)) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def is_frame(self, name: str) -> bool:
        return self._members[name].filename.startswith("frames/")

    def raw(self, name: str) -> bytes:
        """The member's bytes as stored (a frame's Parquet file)."""
        try:
            return self._zip.read(self._members[name])
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise ValueError(str(exc)) from None

    def __len__(self) -> int:
        return len(self._members)


def _single(filename: str, raw: bytes) -> bytes:
    """A container of one member, so canonical.unpack_tables reads (and checks) it as it reads a whole snapshot."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(filename, raw, compress_type=zipfile.ZIP_STORED)
    return buf.getvalue()


def check(conn: Connection, digest: str, scheme: str = SNAPSHOT) -> None:
    """`load`'s checks without keeping the tables: the snapshot stored under `digest` is there, readable, and
    hashes to it; raises SnapshotProblem as load does."""
    if scheme == SNAPSHOT3:
        bucket_files.check(conn, digest)
        return
    _checked(conn, digest, scheme)


def _checked(conn: Connection, digest: str, scheme: str) -> _Members:
    """The members of the snapshot stored under `digest`, after checking it is there, readable and hashes to it."""
    data = blobs.get(conn, digest)
    if data is None:
        raise SnapshotProblem(f"snapshot {digest[:12]} is missing from the store")
    return _check_bytes(data, digest, scheme)


def _check_bytes(data: bytes, digest: str, scheme: str) -> _Members:
    """The members of a stored snapshot's bytes, after checking they are readable and hash to `digest`."""
    try:
        tables = _Members(data)
        found = content_hash(tables, scheme)
    except (InputError, TypeError, ValueError) as exc:
        raise SnapshotProblem(f"snapshot {digest[:12]} is unreadable ({exc})") from None
    if found != digest:
        raise SnapshotProblem(f"snapshot {digest[:12]} has been altered: its content hashes to {found[:12]}")
    return tables


def frames(
    conn: Connection, digest: str, scheme: str = SNAPSHOT, later: list[Callable[[], None]] | None = None
) -> dict[str, bytes]:
    """The Parquet bytes of each frame of the snapshot stored under `digest`, after `check`'s checks (hashed a
    column at a time): for a reader that reads a city's frame a slice at a time instead of whole (a plan reading
    its grade run's features). Record tables are checked but not returned.

    With `later`, the hash is not checked here: a function that checks it (raising SnapshotProblem, using no
    connection) is appended to `later`, for a caller that checks it on a thread while it reads the frames and
    uses nothing it read until the check has passed."""
    if later is not None:
        data = blobs.get(conn, digest)
        if data is None:
            raise SnapshotProblem(f"snapshot {digest[:12]} is missing from the store")

        def check() -> None:
            _check_bytes(data, digest, scheme)

        later.append(check)
        try:
            tables = _Members(data)
            return {name: tables.raw(name) for name in tables if tables.is_frame(name)}
        except (InputError, TypeError, ValueError) as exc:
            raise SnapshotProblem(f"snapshot {digest[:12]} is unreadable ({exc})") from None
    tables = _checked(conn, digest, scheme)
    try:
        return {name: tables.raw(name) for name in tables if tables.is_frame(name)}
    except (InputError, TypeError, ValueError) as exc:
        raise SnapshotProblem(f"snapshot {digest[:12]} is unreadable ({exc})") from None
