"""The columnar plan document (`suijian.plan/3`): the small head as canonical JSON, the visits as a Parquet table.

A city's plan/2 document is 312 MB of JSON text, and hashing, exporting, verifying or replaying it meant turning
600,000 visits into text and back. Here the visits are typed columns, written and read a row group at a time.

What is stored (the plan row's `document`): a zip (stored, fixed times) of `head.json` — the plan's canonical
JSON without its visit list, as plan/2 writes it — and the visits, one row per visit in the plan's order, as Parquet
files `visits/00000.parquet`, `visits/00001.parquet`, … of ROW_GROUP visits each (written and read by polars, one
at a time, so a city's visits are never one frame).

What is hashed is the content, not those bytes, so a different Parquet writer, version, compression or row-group
size gives the same hash. The hash is the SHA-256 of the text

    suijian.plan/3
    #head <SHA-256 of head.json's canonical text>
    #table visits <rows>
    <the hashed column names, sorted, as a JSON list>
    #column <name> <snapshot-2 ColumnHasher digest>     (one line per name, in that order)

over the visits in the plan's order (the order is part of the plan: it is the order the lists are made in). Each
column of VISIT_COLUMNS is hashed as snapshot-2 hashes a column, except `items`, a list of structs per visit,
which is hashed as `items.n` (how many items each visit has) and `items.code`, `items.drawn`, `items.mandatory`,
`items.stratum`, `items.reason` (every visit's items one after another). Every stream is a concatenation over
rows, so the hash is made a row group at a time with the digest of the whole table.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa

from engine.ledger.canonical import PLAN3, ColumnHasher, plan_text
from entities.errors import DocumentUnreadable, InputError

HEAD = "head.json"
VISITS = "visits/"  # the folder of the visits' Parquet files, read in name order
_PART = re.compile(r"visits/\d{5}\.parquet")
_MAGIC = b"PK\x03\x04"  # a zip; a plan/1 or /2 document is a zlib stream (it starts with 0x78)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
ROW_GROUP = 50_000  # visits written, hashed and read at a time

ITEM = pl.Struct(
    {"code": pl.String, "drawn": pl.Boolean, "mandatory": pl.Boolean, "stratum": pl.String, "reason": pl.String}
)
VISIT_COLUMNS: dict[str, Any] = {
    "id": pl.String,
    "uscc": pl.String,
    "region": pl.String,
    "items": pl.List(ITEM),
    "team": pl.List(pl.String),
    "lead": pl.String,
    "experts": pl.List(pl.String),
    "due_from": pl.Date,
    "due_to": pl.Date,
    "priority": pl.Int64,
    "risk": pl.Float64,
    "previous_leads": pl.List(pl.String),
    "lead_repeats": pl.Boolean,
    "scheduled_on": pl.Date,  # null: not scheduled (a plan/2 visit then has no schedule keys at all)
    "due_on": pl.Date,
    "index": pl.Int64,
    "count": pl.Int64,
}
ITEM_FIELDS = ("code", "drawn", "mandatory", "stratum", "reason")
HASHED = sorted([*(c for c in VISIT_COLUMNS if c != "items"), "items.n", *(f"items.{f}" for f in ITEM_FIELDS)])


def is_columnar(blob: bytes) -> bool:
    """Whether stored plan bytes are a plan/3 container (else a zlib-compressed plan/1 or /2 text)."""
    return bytes(blob[:4]) == _MAGIC


def typed(frame: pl.DataFrame) -> pl.DataFrame:
    """A visits frame in VISIT_COLUMNS' order and types (what any Parquet writer's file reads back as)."""
    missing = [c for c in VISIT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"the visits table has no column {missing[0]}")
    return frame.select([pl.col(c).cast(t, strict=True) for c, t in VISIT_COLUMNS.items()])


def _lists(values: list[Any], offsets: list[int], dtype: pa.DataType) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(values, dtype))


def visits_frame(visits: Sequence[Any]) -> pl.DataFrame:
    """Visits as a frame of VISIT_COLUMNS (engine.plan.model.visit_frame), built from flat columns
    and offsets (Arrow lists) instead of a Python list or dict per visit and item, which polars converted one by
    one: 22 CPU s for a city's 321,084 visits, most of the plan/3 document's cost. `visits` are
    engine.plan.model.Visit (not imported: that module imports this one)."""
    flat: dict[str, list[Any]] = {c: [] for c in VISIT_COLUMNS}
    items: dict[str, list[Any]] = {f: [] for f in ITEM_FIELDS}
    listed: dict[str, list[str]] = {"team": [], "experts": [], "previous_leads": []}
    offsets: dict[str, list[int]] = {c: [0] for c in ("items", *listed)}
    scalars = [c for c in VISIT_COLUMNS if c not in offsets]
    for v in visits:
        for c in scalars:
            flat[c].append(getattr(v, c))
        for i in v.items:
            for f in ITEM_FIELDS:
                items[f].append(getattr(i, f))
        offsets["items"].append(len(items["code"]))
        for c, values in listed.items():
            values.extend(getattr(v, c))
            offsets[c].append(len(values))
    # Unscheduled visits have no schedule keys in plan/2's document: null here, and index/count as read back.
    unscheduled = [s is None for s in flat["scheduled_on"]]
    for c in ("due_on", "index", "count"):
        flat[c] = [None if u else x for u, x in zip(unscheduled, flat[c], strict=True)]
    struct = pa.StructArray.from_arrays(
        [pa.array(items[f], pa.bool_() if f in ("drawn", "mandatory") else pa.string()) for f in ITEM_FIELDS],
        names=list(ITEM_FIELDS),
    )
    arrow = {
        "items": pa.ListArray.from_arrays(pa.array(offsets["items"], pa.int32()), struct),
        **{c: _lists(values, offsets[c], pa.string()) for c, values in listed.items()},
    }
    columns = [
        pl.Series(c, arrow[c]) if c in arrow else pl.Series(c, flat[c], dtype=t) for c, t in VISIT_COLUMNS.items()
    ]
    return typed(pl.DataFrame(columns))


class VisitsHasher:
    """The visits table's part of the plan/3 hash, fed its rows in the plan's order a row group at a time."""

    def __init__(self) -> None:
        self.rows = 0
        self._hashers: dict[str, ColumnHasher] = {}
        for name in HASHED:
            if name == "items.n":
                dtype: Any = pl.Int64
            elif name.startswith("items."):
                dtype = ITEM.to_schema()[name.removeprefix("items.")]
            else:
                dtype = VISIT_COLUMNS[name]
            self._hashers[name] = ColumnHasher(dtype)

    def update(self, frame: pl.DataFrame) -> None:
        frame = typed(frame)
        items = frame.get_column("items")
        self._hashers["items.n"].update(items.list.len().cast(pl.Int64).alias("items.n"))
        flat = items.explode(empty_as_null=False, keep_nulls=False).struct.unnest()
        for field in ITEM_FIELDS:
            self._hashers[f"items.{field}"].update(flat.get_column(field))
        del flat
        for name in VISIT_COLUMNS:
            if name != "items":
                self._hashers[name].update(frame.get_column(name))
        self.rows += frame.height

    def lines(self) -> str:
        body = "".join(f"#column {n} {self._hashers[n].hexdigest()}\n" for n in HASHED)
        return f"#table visits {self.rows}\n{json.dumps(HASHED)}\n{body}"


def document_hash(head_text: str, visits: VisitsHasher) -> str:
    """The plan/3 hash of a head (its canonical text) and the visits hashed so far."""
    head = hashlib.sha256(head_text.encode("utf-8")).hexdigest()
    return hashlib.sha256(f"{PLAN3}\n#head {head}\n{visits.lines()}".encode()).hexdigest()


def head_text(head: Mapping[str, Any]) -> str:
    """The head's canonical text (plan/2's text rules)."""
    return plan_text(head, PLAN3)


@dataclass(frozen=True)
class Written:
    """A plan/3 document as written: its hash and the container's bytes."""

    sha256: str
    data: bytes


def write(head: Mapping[str, Any], batches: Iterable[pl.DataFrame]) -> Written:
    """Hash and store a head and the visits given a batch at a time (frames of VISIT_COLUMNS, in the plan's
    order): each batch is one Parquet row group, so a city's plan is never held as one frame."""
    if "visit_list" in head:
        raise ValueError("the head of a columnar plan document has no visit_list")
    text = head_text(head)
    hasher = VisitsHasher()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo(HEAD, _ZIP_TIME), text.encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED)
        n = 0
        for batch in batches:
            for start in range(0, batch.height, ROW_GROUP):
                frame = typed(batch.slice(start, ROW_GROUP))
                hasher.update(frame)
                part = io.BytesIO()
                frame.write_parquet(part, compression="zstd", statistics=False)
                info = zipfile.ZipInfo(f"{VISITS}{n:05d}.parquet", _ZIP_TIME)
                zf.writestr(info, part.getvalue(), compress_type=zipfile.ZIP_STORED)
                n += 1
    return Written(document_hash(text, hasher), buf.getvalue())


@dataclass(frozen=True)
class Read:
    """What reading a plan/3 document found: its hash, its head (None if head.json is not a JSON object) and how
    many visits it holds."""

    digest: str
    header: dict[str, Any] | None
    visits: int


class _Container:
    """A stored plan/3 container: its head's text, and its visits' Parquet files read one at a time."""

    def __init__(self, blob: bytes) -> None:
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(blob))
            names = self._zip.namelist()
            if HEAD not in names:
                raise DocumentUnreadable(f"a columnar plan document without {HEAD}")
            self.parts = sorted(n for n in names if n != HEAD)
            odd = [n for n in self.parts if not _PART.fullmatch(n)]
            if odd or len(set(names)) != len(names):
                raise DocumentUnreadable(f"a columnar plan document holds {(odd or names)[0]!r}, not a visits file")
            self.head = self._zip.read(HEAD).decode("utf-8")
        except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError, ValueError, zlib.error) as exc:
            raise DocumentUnreadable(str(exc)) from None

    def visit_batches(self, batch: int) -> Iterator[pl.DataFrame]:
        """The visits, a batch of at most `batch` rows at a time, in VISIT_COLUMNS' types."""
        for name in self.parts:
            try:
                frame = typed(pl.read_parquet(io.BytesIO(self._zip.read(name))))
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error, pl.exceptions.PolarsError, ValueError) as exc:
                raise DocumentUnreadable(f"its visits table is unreadable ({exc})") from None
            for start in range(0, frame.height, batch):
                yield frame.slice(start, batch)


def read(blob: bytes, on_visits: Callable[[pl.DataFrame], None] | None = None, *, batch: int = ROW_GROUP) -> Read:
    """Hash a stored plan/3 document a row group at a time; `on_visits` gets the visits in frames of at most
    `batch` rows. Raises DocumentUnreadable when the container or its table cannot be read."""
    container = _Container(blob)
    text = container.head
    try:
        head = json.loads(text)
    except json.JSONDecodeError:
        head = None
    hasher = VisitsHasher()
    for frame in container.visit_batches(batch):
        try:
            hasher.update(frame)
        except InputError as exc:
            raise DocumentUnreadable(str(exc)) from None
        if on_visits is not None:
            on_visits(frame)
    return Read(document_hash(text, hasher), head if isinstance(head, dict) else None, hasher.rows)


def visit_dicts(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The visits of a frame as plan/2's document writes them (Visit.to_dict): ISO dates, the schedule's keys only
    for a scheduled visit."""
    out = []
    for row in frame.iter_rows(named=True):
        scheduled = row["scheduled_on"]
        visit = {
            "id": row["id"],
            "uscc": row["uscc"],
            "region": row["region"],
            "items": [dict(i) for i in row["items"]],
            "team": list(row["team"]),
            "lead": row["lead"],
            "experts": list(row["experts"]),
            "due_from": row["due_from"].isoformat(),
            "due_to": row["due_to"].isoformat(),
            "priority": row["priority"],
            "risk": row["risk"],
            "previous_leads": list(row["previous_leads"]),
            "lead_repeats": row["lead_repeats"],
        }
        if scheduled is not None:
            visit.update(
                scheduled_on=scheduled.isoformat(),
                due_on=None if row["due_on"] is None else row["due_on"].isoformat(),
                index=row["index"],
                count=row["count"],
            )
        out.append(visit)
    return out


def document_text(blob: bytes) -> tuple[str, str]:
    """(the plan's whole canonical JSON text, the document's plan/3 hash): for readers of small plans that want the
    document as plan/2 gives it (explain, re-checks). Raises DocumentUnreadable as `read` does."""
    parts: list[dict[str, Any]] = []
    found = read(blob, lambda f: parts.extend(visit_dicts(f)))
    if found.header is None:
        raise DocumentUnreadable("its head is not a JSON object")
    return plan_text({**found.header, "visit_list": parts}, PLAN3), found.digest
