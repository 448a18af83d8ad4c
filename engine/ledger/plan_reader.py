"""A stored plan document read in bounded memory: unzipped, hashed and parsed a piece at a time.

A city's plan document is hundreds of MB of JSON (a guangzhou plan: 312 MB, some 600,000 visits). Unzipping it
whole, decoding it to one string, hashing it and parsing it into Python objects held four copies at once, 2–3 GB.
Here the compressed bytes are inflated in chunks; each chunk goes to the SHA-256 and to an incremental UTF-8
decoder, and a small JSON scanner takes the top-level keys one by one: every key but `visit_list` is kept (they
are small), and the visits are handed to the caller in batches, so whoever reads them can keep them as columns
(engine.plan.export) or only count them (engine.audit).

The hash is over the same bytes as `hashlib.sha256(text.encode("utf-8"))` of the whole text, so verdicts are the
ones the whole-document readers gave.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.ledger import plan_columns
from entities.errors import DocumentUnreadable

VISITS = "visit_list"
_IN_CHUNK = 1 << 18  # compressed bytes inflated at a time (about 2–3 MB of text)
_KEEP = 1 << 20  # text already parsed that is dropped from the buffer once it is this long
_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"


# The stored bytes are not zlib-compressed UTF-8 text (a user-facing error of the tree in entities/errors.py).
Unreadable = DocumentUnreadable


class _NotJson(ValueError):
    """The text is not the JSON object a plan document is."""


@dataclass(frozen=True)
class Read:
    """What reading a document found: its SHA-256, its keys but `visit_list` (None if the text is not a JSON
    object, or was not parsed), and how many visits `visit_list` holds (None if it is not a list)."""

    digest: str
    header: dict[str, Any] | None
    visits: int | None


class _Text:
    """The document's text, inflated, hashed and decoded on demand; `buf[pos:]` is what is not parsed yet."""

    def __init__(self, blob: bytes) -> None:
        self._blob = memoryview(blob)
        self._at = 0
        self._zip = zlib.decompressobj()
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self.sha = hashlib.sha256()
        self.buf = ""
        self.pos = 0
        self.eof = False

    def more(self, chars: int = 1) -> bool:
        """Add at least `chars` characters to the buffer (fewer at the end); False if there was nothing left."""
        if self.eof:
            return False
        if self.pos > _KEEP:
            self.buf, self.pos = self.buf[self.pos :], 0
        added = 0
        try:
            while added < chars and not self.eof:
                piece = self._blob[self._at : self._at + _IN_CHUNK]
                self._at += len(piece)
                if piece:
                    data = self._zip.decompress(piece)
                else:
                    data = self._zip.flush()
                    if not self._zip.eof:
                        raise Unreadable("incomplete or truncated stream")
                    self.eof = True
                self.sha.update(data)
                text = self._utf8.decode(data, final=self.eof)
                self.buf += text
                added += len(text)
        except (zlib.error, UnicodeDecodeError) as exc:
            raise Unreadable(str(exc)) from None
        return True

    def drain(self) -> None:
        """Read to the end (the hash covers every byte), dropping the text."""
        while not self.eof:
            self.buf, self.pos = "", 0
            self.more(_KEEP)

    def peek(self) -> str:
        """The next character that is not white space ("" at the end)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _SPACE:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return ""

    def take(self, expected: str) -> str:
        found = self.peek()
        if found not in expected or not found:
            raise _NotJson(f"expected one of {expected!r} at character {self.pos}, found {found!r}")
        self.pos += 1
        return found

    def value(self) -> Any:
        """The next JSON value. A value that ends where the buffer ends may go on (a number cut in two): read on."""
        self.peek()
        want = _IN_CHUNK
        while True:
            try:
                found, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if not self.more(want):
                    raise _NotJson(str(exc)) from None
                want *= 2  # a large value: read on in growing steps, so it is parsed a few times, not many
                continue
            if end == len(self.buf) and self.more():
                continue
            self.pos = end
            return found


def read(
    blob: bytes,
    on_visits: Callable[[list[dict[str, Any]]], None] | None = None,
    *,
    parse: bool = True,
    batch: int = 2_000,
) -> Read:
    """Inflate, hash and (with `parse`) scan a stored plan document; `on_visits` gets the visits in batches of at
    most `batch`. A plan/3 document (engine.ledger.plan_columns) is read by that module: its head is the header. Raises Unreadable when the bytes are not compressed UTF-8; text that is not a JSON object gives
    header None (its hash is still the document's)."""
    if plan_columns.is_columnar(blob):  # plan/3: hashed a row group at a time, the visits as dicts if asked for
        found = plan_columns.read(
            blob, None if on_visits is None else lambda f: on_visits(plan_columns.visit_dicts(f)), batch=batch
        )
        return Read(found.digest, found.header, found.visits)
    text = _Text(blob)
    header: dict[str, Any] | None = None
    count: int | None = None
    if parse:
        try:
            header, count = _scan(text, on_visits, batch)
            if text.peek():
                raise _NotJson("text after the document")
        except _NotJson:
            header, count = None, None
    text.drain()
    return Read(text.sha.hexdigest(), header, count)


def _scan(
    text: _Text, on_visits: Callable[[list[dict[str, Any]]], None] | None, batch: int
) -> tuple[dict[str, Any], int | None]:
    header: dict[str, Any] = {}
    count: int | None = None
    text.take("{")
    if text.peek() == "}":
        text.pos += 1
        return header, count
    while True:
        key = text.value()
        if not isinstance(key, str):
            raise _NotJson("a key that is not a string")
        text.take(":")
        if key == VISITS and text.peek() == "[":
            count = _visits(text, on_visits, batch)
        else:
            header[key] = text.value()
            if key == VISITS:  # not a list: as json.loads would give it
                count = None
        if text.take(",}") == "}":
            return header, count


def _visits(text: _Text, on_visits: Callable[[list[dict[str, Any]]], None] | None, batch: int) -> int:
    text.take("[")
    count = 0
    pending: list[dict[str, Any]] = []
    if text.peek() == "]":
        text.pos += 1
        return 0
    while True:
        visit = text.value()
        count += 1
        if on_visits is not None:
            pending.append(visit)
            if len(pending) >= batch:
                on_visits(pending)
                pending = []
        if text.take(",]") == "]":
            break
    if pending and on_visits is not None:
        on_visits(pending)
    return count
