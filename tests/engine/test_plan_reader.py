"""A stored plan document read a piece at a time (engine.ledger.plan_reader): the same hash, keys and visits as
unzipping and parsing it whole, whatever the piece boundaries; bad bytes are Unreadable, bad text no header."""

from __future__ import annotations

import hashlib
import json
import zlib

import pytest

from engine.ledger import plan_reader
from tests.engine.plan import world


@pytest.fixture(scope="module")
def text() -> str:
    return world.plan(world.subjects(300), inspectors=world.roster()).to_json()


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 18])
def test_pieces_give_the_whole_documents_hash_keys_and_visits(
    text: str, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan_reader, "_IN_CHUNK", chunk)  # inflate a byte at a time, up to the default
    monkeypatch.setattr(plan_reader, "_KEEP", 64)  # and drop parsed text often
    whole = json.loads(text)
    batches: list[list[dict]] = []
    read = plan_reader.read(zlib.compress(text.encode("utf-8"), 6), batches.append, batch=5)
    assert read.digest == hashlib.sha256(text.encode("utf-8")).hexdigest()
    visits = whole.pop("visit_list")
    assert read.header == whole and read.visits == len(visits) > 10
    assert [v for b in batches for v in b] == visits and max(len(b) for b in batches) == 5


def test_hashing_only_does_not_parse(text: str) -> None:
    read = plan_reader.read(zlib.compress(text.encode("utf-8")), parse=False)
    assert read == plan_reader.Read(hashlib.sha256(text.encode("utf-8")).hexdigest(), None, None)


@pytest.mark.parametrize(
    "document, visits",
    [('{"a":1,"visit_list":[]}', 0), ('{"visit_list":{"x":1}}', None), ("{}", None), (' { "a" : [1, 2] } ', None)],
)
def test_small_documents(document: str, visits: int | None) -> None:
    read = plan_reader.read(zlib.compress(document.encode()))
    expected = json.loads(document)
    if isinstance(expected.get("visit_list"), list):
        expected.pop("visit_list")
    assert read.header == expected and read.visits == visits


@pytest.mark.parametrize("document", ["[1,2]", '{"a":1', '{"a":1}x', "not json", '{"a":12'])
def test_text_that_is_no_json_object_has_no_header_but_its_hash(document: str) -> None:
    read = plan_reader.read(zlib.compress(document.encode()))
    assert read.header is None and read.digest == hashlib.sha256(document.encode()).hexdigest()


def test_bad_bytes_are_unreadable(text: str) -> None:
    packed = zlib.compress(text.encode("utf-8"))
    with pytest.raises(plan_reader.Unreadable):
        plan_reader.read(packed[: len(packed) // 2])  # truncated
    with pytest.raises(plan_reader.Unreadable):
        plan_reader.read(b"not zlib at all")
    with pytest.raises(plan_reader.Unreadable):
        plan_reader.read(zlib.compress(b'{"a":"\xff"}'))  # not UTF-8
    # Bytes after the stream are ignored, as zlib.decompress ignores them.
    assert plan_reader.read(packed + b"tail").digest == hashlib.sha256(text.encode("utf-8")).hexdigest()
